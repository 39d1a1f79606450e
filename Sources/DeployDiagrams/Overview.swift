import DOTFormat
import DeployAnalysis
import DeployModel

/// The overview of a DAG of any size: one node per block of consecutive layers on one set of
/// GPUs (attention, MLP, MoE, pipeline transfers), one per kind of communication in it, and the
/// data flow between them, each labelled with its operator count, FLOPs and bytes.
public struct Overview: Sendable {
    /// At most this many groups of layers are drawn; deeper models bucket consecutive layers.
    public var maxLayerGroups: Int

    public init(maxLayerGroups: Int = 12) { self.maxLayerGroups = maxLayerGroups }

    struct Key: Hashable {
        var bucket: Int
        var block: String
        var op: String?  // a communication kind, or nil for the block's compute
    }

    struct Aggregate {
        var key: Key
        var nodes = 0
        var gpus = Set<Int>()
        var flops = 0.0
        var bytes = 0.0
        var seconds = 0.0
        var onCriticalPath = false
    }

    /// Layer buckets: runs of consecutive layers whose compute runs on the same GPUs, cut into
    /// at most `maxLayerGroups` pieces overall.
    func buckets(_ graph: OperatorGraph) -> (bucketOf: [Int: Int], labels: [Int: String]) {
        var gpusOfLayer: [Int: Set<Int>] = [:]
        for node in graph.nodes { if let l = node.layer, let g = node.gpu { gpusOfLayer[l, default: []].insert(g) } }
        let layers = gpusOfLayer.keys.sorted()
        var runs: [[Int]] = []
        for l in layers {
            if let last = runs.last?.last, gpusOfLayer[last] == gpusOfLayer[l], last + 1 == l {
                runs[runs.count - 1].append(l)
            } else {
                runs.append([l])
            }
        }
        let perRun = max(1, maxLayerGroups / max(runs.count, 1))
        var bucketOf: [Int: Int] = [:]
        var labels: [Int: String] = [:]
        var next = 0
        for run in runs {
            let size = (run.count + perRun - 1) / perRun
            for start in stride(from: 0, to: run.count, by: size) {
                let piece = run[start..<min(run.count, start + size)]
                for l in piece { bucketOf[l] = next }
                labels[next] = piece.count == 1 ? "layer \(piece.first!)" : "layers \(piece.first!)-\(piece.last!)"
                next += 1
            }
        }
        return (bucketOf, labels)
    }

    /// Styled DOT of the overview. `analysis` (optional) supplies FLOPs, bytes, times and the
    /// critical path.
    public func dot(for graph: OperatorGraph, title: String, analysis: Analysis?) throws(DOTWriteError) -> String {
        let (bucketOf, labels) = buckets(graph)
        let critical = Set(analysis?.criticalPath ?? [])
        var aggregates: [Key: Aggregate] = [:]
        var order: [Key] = []
        var keyOf = [Key?](repeating: nil, count: graph.nodes.count)
        for (v, node) in graph.nodes.enumerated() {
            let key: Key
            if node.layer == nil, !node.op.isSource, node.op != .output, let block = node.block, block == "embedding" || block == "head" {
                // The ends of a whole model: the embedding before the first layer, the head after the last.
                key = Key(
                    bucket: block == "embedding" ? -1 : Int.max - 1, block: block, op: node.op.isCommunication ? node.op.rawValue : nil)
            } else if node.op == .input || node.op == .output || node.layer == nil {
                key = Key(bucket: node.op == .output ? Int.max : -1, block: node.op == .output ? "output" : "input", op: nil)
            } else {
                key = Key(
                    bucket: bucketOf[node.layer!] ?? 0, block: node.block ?? "layer",
                    op: node.op.isCommunication ? node.op.rawValue : nil)
            }
            keyOf[v] = key
            if aggregates[key] == nil {
                aggregates[key] = Aggregate(key: key)
                order.append(key)
            }
            aggregates[key]!.nodes += 1
            aggregates[key]!.gpus.formUnion(node.gpus)
            if let c = analysis?.costs[v] {
                aggregates[key]!.flops += c.flops
                aggregates[key]!.bytes += node.op.isCommunication ? c.sentBytesPerGPU * Double(max(node.group.count, 1)) : c.memoryBytes
                aggregates[key]!.seconds += c.seconds
            }
            if critical.contains(v) { aggregates[key]!.onCriticalPath = true }
        }
        var edges = Set<[Int]>()
        let index = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        for e in graph.edges {
            guard let a = keyOf[e.from].flatMap({ index[$0] }), let b = keyOf[e.to].flatMap({ index[$0] }), a != b else { continue }
            edges.insert([a, b])
        }

        var out = "digraph overview {\n"
        out += "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=20, labelloc=t, nodesep=0.4, ranksep=0.5, label=\(quote(title))];\n"
        out += "  node [fontname=\"Helvetica\", fontsize=11, style=\"filled,rounded\"];\n  edge [color=\"#495057\"];\n"
        for (i, key) in order.enumerated() {
            let a = aggregates[key]!
            let isComm = key.op != nil
            let place = ["input", "output", "embedding", "head"].contains(key.block) ? "" : " · " + (labels[key.bucket] ?? "")
            var text =
                isComm
                ? "\(key.op!) × \(a.nodes)\(place)\nGPUs \(GPUList.compact(Array(a.gpus)))"
                : "\(key.block)\(place)\nGPUs \(GPUList.compact(Array(a.gpus))) · \(a.nodes) operators"
            if analysis != nil {
                if a.flops > 0 { text += "\n\(Format.number(a.flops / 1e12)) TFLOP" }
                if a.bytes > 0 { text += (a.flops > 0 ? " · " : "\n") + "\(Format.bytes(a.bytes)) \(isComm ? "sent" : "moved")" }
                if a.seconds > 0 { text += "\n\(Format.seconds(a.seconds)) of GPU time" }
            }
            let shape = isComm ? "hexagon" : (key.block == "input" || key.block == "output" ? "ellipse" : "box")
            let fill =
                isComm
                ? DiagramStyle.fill(.communication)
                : (key.block == "input" || key.block == "output" ? DiagramStyle.fill(.boundary) : DiagramStyle.fill(.matmul))
            var style = "shape=\(shape), fillcolor=\"\(fill)\""
            if a.onCriticalPath { style += ", color=\"\(Diagram.criticalColour)\", penwidth=3" }
            out += "  n\(i) [\(style), label=\(quote(text)), tooltip=\(quote(text))];\n"
        }
        for e in edges.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let both = aggregates[order[e[0]]]!.onCriticalPath && aggregates[order[e[1]]]!.onCriticalPath
            out += "  n\(e[0]) -> n\(e[1])\(both ? " [color=\"\(Diagram.criticalColour)\", penwidth=2.5]" : "");\n"
        }
        out += "}\n"
        return out
    }

    private func quote(_ text: String) -> String {
        var bytes: [UInt8] = []
        DOTQuoting.appendLabel(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
