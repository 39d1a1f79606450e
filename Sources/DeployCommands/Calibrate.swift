import ArgumentParser
import DeployAnalysis
import DeployModel
import DeploySpecs
import Foundation

extension DeployDag {
    /// `deploydag calibrate`: deploydag's figures beside published measurements.
    struct Calibrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Price published measurements' configurations and write the ratios (docs/calibration.md).",
            discussion: """
                Reads a calibration set (bench/calibration/published.yaml: sources, and for each point the model's Hugging Face \
                config, the hardware, the parallelism, the sizes and the measured value), builds each point's DAGs, prices them \
                with the cost model given (the calibrated model by default, on the point's hardware) and writes a Markdown \
                report: every point's measured and derived figure and their ratio, whether the deployment fits in memory, \
                every pair the measurements order and whether deploydag orders it the same way, and a summary line with the \
                median and the worst ratio. Exit status 1 when a point cannot be priced.
                """)

        @Argument(help: "The calibration set (YAML).", completion: .file(extensions: ["yaml", "yml"]))
        var points: String = Self.defaultPoints

        static let defaultPoints = "bench/calibration/published.yaml"

        @Option(
            name: .long,
            help: "calibrated (default), roofline, table:FILE.csv or matmul-flops:T: the cost model every point is priced with.")
        var cost: String = "calibrated"

        @Option(name: [.short, .long], help: "Write the report here (atomically; '-' for standard output, the default).")
        var output: String = "-"

        func run() throws {
            if points == Self.defaultPoints, !FileManager.default.fileExists(atPath: points) {
                throw CommandError.io(
                    "cannot read \(points): no such file here (the default is the repository's; run from the repository or name the file)")
            }
            try LoadedDAG.checkReadable(points)
            let set: CalibrationSet
            do {
                set = try CalibrationSet.parse(file: points)
            } catch {
                throw CommandError.io("\(error)")
            }
            // The cost model is checked (and a table read) once, before anything is priced.
            let model = try CostOptions.parse(["--cost", cost])
            _ = try model.options()
            let configs = set.points.map { Self.resolve($0.config, from: points) }
            let hardware = Set(set.points.map(\.hardware)).filter { $0.contains("/") }.map { Self.resolve($0, from: points) }
            let inputs = [points] + model.inputFiles + configs.filter { !$0.isEmpty } + hardware
            try OutputFile.preflight(output, inputs: inputs)
            var rows: [CalibrationRow] = []
            var machines: [String: AnalysisOptions] = [:]
            let progress = ProgressLine.standardError()
            for (i, point) in set.points.enumerated() {
                progress.show("point \(i + 1) of \(set.points.count), \(point.model)")
                var resolved = point
                resolved.config = configs[i]
                if point.hardware.contains("/") { resolved.hardware = Self.resolve(point.hardware, from: points) }
                rows.append(Self.price(resolved, number: i + 1, cost: cost, machines: &machines))
                rows[i].point = point
            }
            progress.finish()
            let report = CalibrationReport(set: set, rows: rows, cost: cost)
            try OutputFile.write(report.markdown, to: output, inputs: inputs)
            if rows.contains(where: { $0.error != nil }) { throw ExitCode.failure }
        }

        /// A path of the points file: as given when it names a file from here; otherwise relative
        /// to the points file's directory or the nearest directory above it where it exists (the
        /// repository, for bench/calibration/published.yaml's `Sources/...` and `bench/...`).
        static func resolve(_ path: String, from points: String) -> String {
            guard !path.isEmpty, !path.hasPrefix("/"), !FileManager.default.fileExists(atPath: path) else { return path }
            var directory = URL(fileURLWithPath: points).standardizedFileURL.deletingLastPathComponent()
            while directory.path != "/" {
                let candidate = directory.appendingPathComponent(path).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            return path
        }

        /// One point priced: its DAGs built from the config and analysed on its hardware.
        static func price(_ point: CalibrationSet.Point, number: Int, cost: String, machines: inout [String: AnalysisOptions])
            -> CalibrationRow
        {
            var row = CalibrationRow(number: number, point: point)
            do {
                let options: AnalysisOptions
                if let known = machines[point.hardware] {
                    options = known
                } else {
                    options = try CostOptions.parse(["--hardware", point.hardware, "--cost", cost]).options()
                    machines[point.hardware] = options
                }
                row.costModel = options.costModel.description
                row.network = options.network.description
                let base = [
                    "--hf-config", point.config, "--tp", String(point.tp), "--pp", String(point.pp), "--batch", String(point.batch),
                ]
                func analyse(_ extra: [String]) throws -> Analysis {
                    let source = try DeploymentOptions.parse(base + extra)
                    let graph = try source.build().graph
                    let analysis = try Analysis(graph: graph, options: options)
                    row.memoryPerGPU = max(row.memoryPerGPU ?? 0, analysis.memory.map(\.totalBytes).max() ?? 0)
                    if analysis.memory.contains(where: { $0.overBytes != nil }) { row.fits = false }
                    return analysis
                }
                func decodeStep() throws -> Double {
                    try analyse(["--phase", "decode", "--context", String(point.stepContext!)]).makespanSeconds
                }
                switch point.measure {
                case .gemm:
                    let shape = point.gemm!
                    let (m, k, n) = (Int64(shape.m), Int64(shape.k), Int64(shape.n))
                    let node = OperatorNode(
                        name: "gemm", op: .matmul, gpu: 0, out: [Dim(m), Dim(n)],
                        attributes: ["m": String(m), "k": String(k), "n": String(n)])
                    let model = try options.costModel.running(dtype: "bf16")
                    let pricer = Pricer(costModel: model, network: options.network, elementBytes: 2)
                    row.seconds = pricer.price(node, inputs: [[Dim(m), Dim(k)]])?.seconds
                case .ttft:
                    row.seconds = try analyse(["--seq", String(point.prompt!)]).makespanSeconds
                case .tpot:
                    row.seconds = try decodeStep()
                case .e2e:
                    let prefill = try analyse(["--seq", String(point.prompt!)]).makespanSeconds
                    row.seconds = prefill + (point.output! > 1 ? Double(point.output! - 1) * (try decodeStep()) : 0)
                }
                if row.fits == nil && point.measure != .gemm { row.fits = true }
            } catch {
                row.error = DeployDag.message(for: error).replacingOccurrences(of: "\n", with: " ")
            }
            return row
        }
    }
}

/// One point's outcome.
struct CalibrationRow {
    var number: Int
    var point: CalibrationSet.Point
    var seconds: Double?
    var costModel: String?
    var network: String?
    var memoryPerGPU: Double?
    var fits: Bool?
    var error: String?

    /// deploydag's figure over the measured one.
    var ratio: Double? { seconds.map { $0 / point.seconds } }

    /// "TP 4, batch 1, prompt 128" and so on.
    var configuration: String {
        var parts = ["TP \(point.tp)"]
        if point.pp > 1 { parts.append("PP \(point.pp)") }
        parts.append("batch \(point.batch)")
        switch point.measure {
        case .ttft: parts.append("prompt \(point.prompt!)")
        case .tpot:
            if let p = point.prompt, let o = point.output { parts.append("\(p) in, \(o) out") }
            parts.append("context \(point.stepContext!)")
        case .e2e: parts.append("\(point.prompt!) in, \(point.output!) out")
        case .gemm:
            let g = point.gemm!
            return "\(g.m) x \(g.k) by \(g.k) x \(g.n), bf16"
        }
        return parts.joined(separator: ", ")
    }
}

/// docs/calibration.md: the points, the orderings and the summary.
struct CalibrationReport {
    var set: CalibrationSet
    var rows: [CalibrationRow]
    var cost: String

    static let band = (low: 0.8, high: 1.25)

    /// Pairs of points the same in all but TP or batch, whose measurements differ: whether
    /// deploydag orders them the same way.
    struct Ordering {
        var a: CalibrationRow
        var b: CalibrationRow
        var varies: String
        var agrees: Bool
    }

    var orderings: [Ordering] {
        var result: [Ordering] = []
        for (i, a) in rows.enumerated() {
            for b in rows[(i + 1)...] {
                let (p, q) = (a.point, b.point)
                guard let x = a.seconds, let y = b.seconds, p.measure != .gemm, p.source == q.source, p.hardware == q.hardware,
                    p.config == q.config,
                    p.measure == q.measure, p.prompt == q.prompt, p.output == q.output, p.stepContext == q.stepContext,
                    p.pp == q.pp, p.seconds != q.seconds
                else { continue }
                let varies: String
                if p.tp != q.tp && p.batch == q.batch {
                    varies = "TP \(p.tp) against TP \(q.tp)"
                } else if p.batch != q.batch && p.tp == q.tp {
                    varies = "batch \(p.batch) against batch \(q.batch)"
                } else {
                    continue
                }
                result.append(Ordering(a: a, b: b, varies: varies, agrees: (p.seconds < q.seconds) == (x < y)))
            }
        }
        return result
    }

    /// Pairs of points from two sources with the same configuration.
    var disagreements: [(CalibrationRow, CalibrationRow)] {
        var result: [(CalibrationRow, CalibrationRow)] = []
        for (i, a) in rows.enumerated() {
            for b in rows[(i + 1)...] {
                let (p, q) = (a.point, b.point)
                guard p.source != q.source, p.hardware == q.hardware, p.config == q.config, p.measure == q.measure, p.tp == q.tp,
                    p.pp == q.pp, p.batch == q.batch, p.prompt == q.prompt, p.stepContext == q.stepContext, p.measure != .gemm
                else { continue }
                result.append((a, b))
            }
        }
        return result
    }

    static func median(_ values: [Double]) -> Double? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// The points the summary counts: priced, and fitting in memory (a configuration that does
    /// not fit cannot have run as the source says: its runtime must have queued or swapped).
    var counted: [CalibrationRow] { rows.filter { $0.ratio != nil && $0.fits != false } }

    var summary: String {
        let priced = counted
        let ratios = priced.map { $0.ratio! }
        guard let median = Self.median(ratios) else { return "No point could be priced." }
        let worst = priced.max { abs(log($0.ratio!)) < abs(log($1.ratio!)) }!
        let inside = ratios.filter { $0 >= Self.band.low && $0 <= Self.band.high }.count
        let order = orderings
        let sources = Set(priced.map(\.point.source)).count
        var text =
            "**\(priced.count) points from \(sources) sources: median ratio \(Self.format(median)), worst \(Self.format(worst.ratio!)) (point \(worst.number), \(worst.point.model)); \(inside) of \(priced.count) within \(Self.format(Self.band.low))-\(Self.format(Self.band.high)); \(order.filter(\.agrees).count) of \(order.count) orderings the measurements make kept.**"
        let failed = rows.filter { $0.error != nil }.count
        if failed > 0 { text += " \(failed) points could not be priced (below)." }
        let unfit = rows.filter { $0.fits == false }.map { String($0.number) }
        if !unfit.isEmpty {
            text +=
                " Not counted: point\(unfit.count == 1 ? "" : "s") \(unfit.joined(separator: ", ")), which deploydag finds does not fit in the GPU's memory, so the run cannot have held the batch as stated."
        }
        return text
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    static func milliseconds(_ seconds: Double) -> String {
        if seconds < 1e-3 { return String(format: "%.1f us", seconds * 1e6) }
        return seconds >= 0.1 ? String(format: "%.0f ms", seconds * 1000) : String(format: "%.2f ms", seconds * 1000)
    }

    /// A table cell or a line of prose: one line, `|`, `<`, `>` and control characters made inert.
    static func cell(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "|": out += "\\|"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default:
                if scalar.properties.generalCategory == .control { out += " " } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out.count > 2000 ? String(out.prefix(2000)) + "..." : out
    }

    var markdown: String {
        var md: [String] = []
        md.append("# Calibration against published measurements")
        md.append("")
        md.append(
            "Generated by `make calibrate` (`deploydag calibrate \(set.file) --cost \(cost)`); do not edit. Each point is a configuration a public source measured; deploydag builds the same model from its Hugging Face config, with the same parallelism, batch and lengths, on the shipped hardware description of the GPU measured, and prices it. The ratio is deploydag's figure over the measured one."
        )
        md.append("")
        md.append(summary)
        md.append("")
        md.append(
            "- `ttft`: the makespan of the prefill DAG of `batch` x `prompt` tokens. `tpot`: the makespan of one decode step of `batch` sequences at the context shown (a source's median step of a run: the prompt and half the output). `e2e`: the prefill, then `output - 1` decode steps priced at the middle context."
        )
        md.append(
            "- `memory/GPU`: the most any GPU needs (weights, K/V cache and peak activations) in the DAGs priced, against the hardware's usable memory."
        )
        md.append("")
        md.append("| # | source | GPU | model | measure | configuration | published | deploydag | ratio | memory/GPU |")
        md.append("|---|---|---|---|---|---|---|---|---|---|")
        for row in rows {
            let p = row.point
            let figure = row.seconds.map(Self.milliseconds) ?? "-"
            let ratio = row.ratio.map(Self.format) ?? "-"
            var memory = row.memoryPerGPU.map { Format.bytes($0) } ?? "-"
            if let fits = row.fits { memory += fits ? " (fits)" : " (does NOT fit)" }
            let published = p.published + (p.published.hasSuffix("tokens/s") ? " (\(Self.milliseconds(p.seconds)))" : "")
            md.append(
                "| \(row.number) | \(Self.cell(p.source)) | \(Self.cell(p.hardware)) | \(Self.cell(p.model)) | \(p.measure.rawValue) | \(row.configuration) | \(published) | \(figure) | \(ratio) | \(memory) |"
            )
        }
        let failed = rows.filter { $0.error != nil }
        if !failed.isEmpty {
            md.append("")
            md.append("Points that could not be priced:")
            md.append("")
            for row in failed { md.append("- point \(row.number) (\(set.file):\(row.point.line)): \(Self.cell(row.error!))") }
        }
        md.append("")
        md.append("## Orderings")
        md.append("")
        md.append(
            "Every pair of points from one source that differ only in TP or only in batch, with different measured values: whether deploydag puts them in the same order."
        )
        md.append("")
        md.append("| pair | model | what differs | published | deploydag | same order |")
        md.append("|---|---|---|---|---|---|")
        for o in orderings {
            md.append(
                "| \(o.a.number), \(o.b.number) | \(Self.cell(o.a.point.model)) | \(o.varies) | \(Self.milliseconds(o.a.point.seconds)) / \(Self.milliseconds(o.b.point.seconds)) | \(Self.milliseconds(o.a.seconds!)) / \(Self.milliseconds(o.b.seconds!)) | \(o.agrees ? "yes" : "**no**") |"
            )
        }
        let outside = rows.filter { $0.ratio.map { $0 < Self.band.low || $0 > Self.band.high } ?? false }
        if !outside.isEmpty {
            md.append("")
            md.append("## Outside \(Self.format(Self.band.low))-\(Self.format(Self.band.high))")
            md.append("")
            for source in set.sources {
                let strays = outside.filter { $0.point.source == source.id }
                guard !strays.isEmpty else { continue }
                let list = strays.map { "\($0.number) (\(String(format: "%.3f", $0.ratio!)))" }.joined(separator: ", ")
                md.append("- **\(Self.cell(source.id))**: points \(list).\(source.note.map { " \(Self.cell($0))" } ?? "")")
            }
        }
        let twins = disagreements
        if !twins.isEmpty {
            md.append("")
            md.append("## Where sources disagree")
            md.append("")
            md.append(
                "Points of different sources that measured the same configuration (model, GPU, parallelism, batch and lengths): how far apart the runtimes are. No model of the hardware alone can be within a narrower band of both."
            )
            md.append("")
            md.append("| points | model | configuration | published | apart |")
            md.append("|---|---|---|---|---|")
            for (a, b) in twins {
                let apart = max(a.point.seconds, b.point.seconds) / min(a.point.seconds, b.point.seconds)
                md.append(
                    "| \(a.number) (\(Self.cell(a.point.source))), \(b.number) (\(Self.cell(b.point.source))) | \(Self.cell(a.point.model)) | \(a.configuration) | \(Self.milliseconds(a.point.seconds)) / \(Self.milliseconds(b.point.seconds)) | \(Self.format(apart))x |"
                )
            }
        }
        md.append("")
        md.append("## Cost models")
        md.append("")
        var seen: Set<String> = []
        for row in rows {
            guard let model = row.costModel, let network = row.network, seen.insert(row.point.hardware).inserted else { continue }
            md.append("- \(Self.cell(row.point.hardware)): \(model). Network: \(network).")
        }
        md.append("")
        md.append("## Sources")
        md.append("")
        for source in set.sources {
            md.append(
                "- **\(Self.cell(source.id))**: \(Self.cell(source.title)). \(Self.cell(source.location)). How measured: \(Self.cell(source.method))."
            )
        }
        md.append("")
        md.append("## The rows as published")
        md.append("")
        md.append("| # | row or sentence quoted |")
        md.append("|---|---|")
        for row in rows { md.append("| \(row.number) | `\(Self.cell(row.point.quote.replacingOccurrences(of: "`", with: "'")))` |") }
        md.append("")
        return md.joined(separator: "\n")
    }
}
