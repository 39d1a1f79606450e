import Foundation
import Yams

/// Published measurements to compare deploydag's figures with (bench/calibration/published.yaml,
/// docs/calibration.md): where each comes from, and for each point the configuration measured
/// and the value its source prints.
public struct CalibrationSet: Sendable, Hashable {
    public struct Source: Sendable, Hashable {
        public var id: String
        public var title: String
        /// Where the figures are: repository, path and commit, or address.
        public var location: String
        /// How the source measured them (what the time includes).
        public var method: String
        /// What the calibration's author says of the source's runtime, where its points stray.
        public var note: String?
    }

    /// What a point measured.
    public enum Measure: String, Sendable, Hashable, CaseIterable {
        /// Time to first token: a prefill of `batch` x `prompt` tokens.
        case ttft
        /// Time per output token: one decode step of `batch` sequences attending to `context` tokens.
        case tpot
        /// End to end: a prefill of `prompt` tokens and `output - 1` decode steps.
        case e2e
        /// One bf16 GEMM of `m` x `k` by `k` x `n`.
        case gemm
    }

    public struct GEMMShape: Sendable, Hashable {
        public var m: Int, k: Int, n: Int
    }

    public struct Point: Sendable, Hashable {
        public var source: String
        /// A hardware description's name (docs/hardware.md).
        public var hardware: String
        /// The model's Hugging Face config, relative to the repository.
        public var config: String
        public var model: String
        public var tp: Int
        public var pp: Int
        public var batch: Int
        public var measure: Measure
        public var prompt: Int?
        public var output: Int?
        public var context: Int?
        /// A gemm point's shape.
        public var gemm: GEMMShape?
        /// The published value in seconds (from `ms`, or 1 / `tokens_per_s` for a batch-1 rate).
        public var seconds: Double
        /// The value as the source prints it: "16 ms", "104.9 tokens/s".
        public var published: String
        /// The row or sentence it is printed in.
        public var quote: String
        /// The line of the file it is on.
        public var line: Int

        /// The decode context a tpot or e2e point's steps are priced at.
        public var stepContext: Int? {
            switch measure {
            case .ttft, .gemm: nil
            case .tpot: context ?? prompt.flatMap { p in output.map { p + $0 / 2 } }
            case .e2e: prompt.flatMap { p in output.map { p + $0 / 2 } }
            }
        }
    }

    public var sources: [Source]
    public var points: [Point]
    public var file: String

    static func teraflops(_ v: Double) -> String { String(format: "%.1f", v / 1e12) }

    public static func parse(file: String) throws(SpecFileError) -> CalibrationSet {
        try parse(text: YAMLKeys.text(of: file), file: file)
    }

    public static func parse(text: String, file: String) throws(SpecFileError) -> CalibrationSet {
        let root = try YAMLKeys.root(text, file: file, expected: "sources and points")
        var reader = Reader(file: file)
        let top = try reader.entries(root, path: "", allowed: ["sources", "points"])
        func fail(_ key: String, _ node: Node?, _ reason: String) -> SpecFileError { reader.fail(key, node, reason) }
        guard let sourceList = top["sources"]?.sequence, !sourceList.isEmpty else {
            throw fail("sources", top["sources"] ?? root, "must list the sources: id, title, where, method")
        }
        var sources: [Source] = []
        for node in sourceList {
            let m = try reader.entries(node, path: "sources", allowed: ["id", "title", "where", "method", "note"])
            func text(_ key: String) throws(SpecFileError) -> String {
                guard let value = m[key]?.string, !value.isEmpty else { throw fail(key, m[key] ?? node, "is missing or empty") }
                return value
            }
            let id = try text("id")
            guard !sources.contains(where: { $0.id == id }) else { throw fail("id", m["id"], "'\(id)' names two sources") }
            let note: String? = m["note"] == nil ? nil : try text("note")
            sources.append(Source(id: id, title: try text("title"), location: try text("where"), method: try text("method"), note: note))
        }
        guard let pointList = top["points"]?.sequence, !pointList.isEmpty else {
            throw fail("points", top["points"] ?? root, "must list the measured points")
        }
        var points: [Point] = []
        for node in pointList {
            let m = try reader.entries(
                node, path: "points",
                allowed: [
                    "source", "hardware", "config", "model", "tp", "pp", "batch", "measure", "prompt", "output", "context", "ms",
                    "tokens_per_s", "quote", "m", "k", "n", "flops_per_s",
                ])
            func text(_ key: String) throws(SpecFileError) -> String {
                guard let value = m[key]?.string, !value.isEmpty else { throw fail(key, m[key] ?? node, "is missing or empty") }
                return value
            }
            func count(_ key: String, required: Bool = false, limit: Int = 1_000_000) throws(SpecFileError) -> Int? {
                guard let value = m[key] else {
                    if required { throw fail(key, node, "is missing") }
                    return nil
                }
                guard let v = value.int, v > 0, v <= limit else {
                    throw fail(key, value, "must be a whole number from 1 to \(limit), got '\(value.string ?? "a list or mapping")'")
                }
                return v
            }
            /// A published value in its unit, within `range`.
            func measured(_ key: String, _ node: Node, _ range: ClosedRange<Double>) throws(SpecFileError) -> Double {
                guard let v = node.float ?? node.int.map(Double.init), range.contains(v) else {
                    throw fail(key, node, "must be a number from \(range.lowerBound) to \(range.upperBound), got '\(node.string ?? "?")'")
                }
                return v
            }
            let source = try text("source")
            guard sources.contains(where: { $0.id == source }) else {
                throw fail("source", m["source"], "'\(source)' is not one of the sources (\(sources.map(\.id).joined(separator: ", ")))")
            }
            let measureText = try text("measure")
            guard let measure = Measure(rawValue: measureText) else {
                throw fail("measure", m["measure"], "must be ttft, tpot, e2e or gemm, got '\(measureText)'")
            }
            let batch = try count("batch", required: measure != .gemm) ?? 1
            let seconds: Double
            let published: String
            let shape: GEMMShape?
            if measure == .gemm {
                guard let m = try count("m", required: true, limit: 1 << 30), let k = try count("k", required: true, limit: 1 << 30),
                    let n = try count("n", required: true, limit: 1 << 30)
                else { throw fail("m", node, "a gemm point needs m, k and n") }
                shape = GEMMShape(m: m, k: k, n: n)
            } else {
                shape = nil
            }
            switch (m["ms"], m["tokens_per_s"] ?? m["flops_per_s"]) {
            case (nil, let rate?) where m["flops_per_s"] != nil:
                let v = try measured("flops_per_s", rate, 1e6...1e18)
                guard let shape else { throw fail("flops_per_s", rate, "is a gemm point's achieved FLOP/s, with m, k and n") }
                (seconds, published) = (2 * Double(shape.m) * Double(shape.k) * Double(shape.n) / v, "\(Self.teraflops(v)) TFLOP/s")
            case (let ms?, nil):
                let v = try measured("ms", ms, 1e-6...1e9)
                (seconds, published) = (v / 1000, "\(ms.string ?? "\(v)") ms")
            case (nil, let rate?):
                let v = try measured("tokens_per_s", rate, 1e-3...1e9)
                let text = "\(rate.string ?? "\(v)") tokens/s"
                if measure == .tpot && batch == 1 {
                    (seconds, published) = (1 / v, text)
                } else if measure == .e2e, let output = m["output"]?.int, output > 0 {
                    // A static batch's output tokens over the run: batch x output / rate.
                    (seconds, published) = (Double(batch) * Double(output) / v, text)
                } else {
                    throw fail(
                        "tokens_per_s", rate,
                        "is a time per output token for a tpot point of batch 1, or a run's output tokens per second for an e2e point with its output; give ms"
                    )
                }
            default:
                throw fail("ms", node, "give the measured value once, as ms, tokens_per_s or (a gemm) flops_per_s")
            }
            var point = Point(
                source: source, hardware: try text("hardware"), config: measure == .gemm ? "" : try text("config"),
                model: try text("model"),
                tp: try count("tp", limit: 4096) ?? 1, pp: try count("pp", limit: 4096) ?? 1, batch: batch, measure: measure,
                prompt: try count("prompt"),
                output: try count("output"), context: try count("context"), seconds: seconds, published: published,
                quote: try text("quote"), line: node.mark?.line ?? 0)
            point.gemm = shape
            if let context = point.stepContext, context < 2, measure != .ttft {
                throw fail("context", m["context"] ?? node, "must be at least 2 (the cached tokens and the new one), got \(context)")
            }
            switch measure {
            case .ttft where point.prompt == nil: throw fail("prompt", node, "is missing: a ttft point needs its prompt length")
            case .tpot where point.stepContext == nil:
                throw fail("context", node, "is missing: a tpot point needs its context (or prompt and output)")
            case .e2e where point.prompt == nil || point.output == nil:
                throw fail("output", node, "an e2e point needs prompt and output")
            default: break
            }
            points.append(point)
        }
        return CalibrationSet(sources: sources, points: points, file: file)
    }
}
