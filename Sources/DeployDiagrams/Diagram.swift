import DOTFormat
import DeployModel

/// Turns an operator DAG into DOT for people: a cluster per GPU, GPUs nested in their head
/// group (Helix) or pipeline stage (TP x PP) so the GPU grid reads as one, colours by operator
/// class, communication nodes between the clusters, a legend, and a tooltip per node.
public struct Diagram: Sendable {
    public var title: String
    public var showLegend: Bool
    /// Nodes to draw as the critical path (in path order).
    public var criticalPath: [Int]

    /// The colour of the critical path in every diagram.
    public static let criticalColour = "#d63384"

    public init(title: String, showLegend: Bool = true, criticalPath: [Int] = []) {
        self.title = title
        self.showLegend = showLegend
        self.criticalPath = criticalPath
    }

    public func dot(for graph: OperatorGraph) throws(DOTWriteError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(graph.nodes.count * 400 + 4096)
        func line(_ text: String) { out.append(contentsOf: text.utf8); out.append(0x0A) }

        line("digraph deploydag {")
        line("  graph [rankdir=TB, newrank=true, fontname=\"Helvetica\", fontsize=20, labelloc=t, nodesep=0.25, ranksep=0.45];")
        out.append(contentsOf: "  graph [label=".utf8)
        DOTQuoting.appendLabel(title, to: &out)
        line("];")
        line("  node [fontname=\"Helvetica\", fontsize=10, style=\"filled,rounded\", penwidth=1];")
        line("  edge [color=\"#495057\", arrowsize=0.6];")

        let critical = Set(criticalPath)
        let grouping = GPUGrouping(graph)
        var byGPU: [Int: [Int]] = [:]
        var communication: [Int] = []
        for (i, node) in graph.nodes.enumerated() {
            if let gpu = node.gpu { byGPU[gpu, default: []].append(i) } else { communication.append(i) }
        }
        // GPU clusters are not nested inside group clusters: dot reverses invisible same-rank
        // chains inside nested clusters, so the group is shown by label and tint instead.
        for gpu in byGPU.keys.sorted() {
            let group = grouping.group(of: gpu)
            line("  subgraph \"cluster_gpu\(gpu)\" {")
            out.append(
                contentsOf: "    graph [style=\"rounded,filled\", color=\"#adb5bd\", fontsize=14, fillcolor=\"\(group.tint)\", label=".utf8)
            DOTQuoting.appendLabel(group.label.map { "GPU \(gpu) · \($0)" } ?? "GPU \(gpu)", to: &out)
            line("];")
            for i in byGPU[gpu] ?? [] { try appendNode(graph.nodes[i], indent: "    ", critical: critical.contains(i), to: &out) }
            line("  }")
        }
        for i in communication { try appendNode(graph.nodes[i], indent: "  ", critical: critical.contains(i), to: &out) }
        try appendGPUOrder(graph, byGPU: byGPU, to: &out)
        let pathEdges = Set(zip(criticalPath, criticalPath.dropFirst()).map { [$0, $1] })
        for edge in graph.normalized().edges {
            let (u, v) = (graph.nodes[edge.from], graph.nodes[edge.to])
            out.append(contentsOf: "  ".utf8)
            try DOTQuoting.appendQuoted(u.name, to: &out)
            out.append(contentsOf: " -> ".utf8)
            try DOTQuoting.appendQuoted(v.name, to: &out)
            if pathEdges.contains([edge.from, edge.to]) {
                out.append(contentsOf: " [color=\"\(Diagram.criticalColour)\", penwidth=3, class=\"critical\"]".utf8)
            } else if u.op.isCommunication || v.op.isCommunication {
                out.append(contentsOf: " [color=\"#c0392b\", penwidth=1.4]".utf8)
            }
            line(";")
        }
        if showLegend { appendLegend(to: &out, kinds: Set(graph.nodes.map(\.op.kind))) }
        line("}")
        return String(decoding: out, as: UTF8.self)
    }

    private func appendNode(_ node: OperatorNode, indent: String, critical: Bool = false, to out: inout [UInt8]) throws(DOTWriteError) {
        out.append(contentsOf: indent.utf8)
        try DOTQuoting.appendQuoted(node.name, to: &out)
        out.append(contentsOf: " [shape=\(DiagramStyle.shape(node.op)), fillcolor=\"\(DiagramStyle.fill(node.op.kind))\"".utf8)
        if critical {
            out.append(contentsOf: ", color=\"\(Diagram.criticalColour)\", penwidth=3, class=\"critical\"".utf8)
        } else if node.op.isCommunication {
            out.append(contentsOf: ", color=\"#c0392b\", penwidth=1.6".utf8)
        }
        out.append(contentsOf: ", label=<".utf8)
        out.append(contentsOf: Diagram.htmlLabel(node.label ?? Diagram.defaultLabel(node)).utf8)
        out.append(contentsOf: ">".utf8)
        out.append(contentsOf: ", tooltip=".utf8)
        DOTQuoting.appendLabel(Diagram.tooltip(node), to: &out)
        out.append(contentsOf: "];\n".utf8)
    }

    /// Keeps GPU clusters left to right in GPU order: the first node of each GPU is chained to
    /// the next GPU's by an invisible same-rank edge when both start the same way (same
    /// operator, same layer), which pins dot's otherwise unstable cluster order.
    private func appendGPUOrder(_ graph: OperatorGraph, byGPU: [Int: [Int]], to out: inout [UInt8]) throws(DOTWriteError) {
        let heads = byGPU.keys.sorted().compactMap { gpu in byGPU[gpu]?.first.map { graph.nodes[$0] } }
        var run: [OperatorNode] = []
        func flush() throws(DOTWriteError) {
            defer { run = [] }
            guard run.count > 1 else { return }
            out.append(contentsOf: "  { rank=same; ".utf8)
            for (i, node) in run.enumerated() {
                if i > 0 { out.append(contentsOf: " -> ".utf8) }
                try DOTQuoting.appendQuoted(node.name, to: &out)
            }
            out.append(contentsOf: " [style=invis]; }\n".utf8)
        }
        for node in heads {
            if let last = run.last, last.op != node.op || last.layer != node.layer { try flush() }
            run.append(node)
        }
        try flush()
    }

    private func appendLegend(to out: inout [UInt8], kinds: Set<Operator.Kind>) {
        out.append(
            contentsOf: "  subgraph cluster_legend {\n    graph [label=\"legend\", style=\"rounded\", color=\"#adb5bd\", fontsize=14];\n"
                .utf8)
        var previous: String?
        for kind in Operator.Kind.allCases where kinds.contains(kind) {
            let sample: Operator =
                switch kind {
                case .boundary: .input
                case .matmul: .matmul
                case .normalization: .softmax
                case .elementwise: .add
                case .layout: .concat
                case .routing: .dispatch
                case .communication: .allReduce
                }
            let id = "legend_\(kind.rawValue)"
            out.append(
                contentsOf:
                    "    \(id) [shape=\(DiagramStyle.shape(sample)), fillcolor=\"\(DiagramStyle.fill(kind))\", label=\"\(DiagramStyle.title(kind))\"];\n"
                    .utf8)
            if let previous { out.append(contentsOf: "    \(previous) -> \(id) [style=invis];\n".utf8) }
            previous = id
        }
        if !criticalPath.isEmpty {
            out.append(
                contentsOf:
                    "    legend_critical [shape=box, style=\"rounded\", color=\"\(Diagram.criticalColour)\", penwidth=3, label=\"critical path\"];\n"
                    .utf8)
            if let previous { out.append(contentsOf: "    \(previous) -> legend_critical [style=invis];\n".utf8) }
        }
        out.append(contentsOf: "  }\n".utf8)
    }

    /// An HTML-like label: the first line (operator, GPU) in bold, shapes smaller below it, the
    /// `Get_Time` arguments in blue.
    static func htmlLabel(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var rows: [String] = []
        for (i, line) in lines.enumerated() {
            let escaped = line.xmlEscaped
            if i == 0 {
                rows.append("<tr><td><b>\(escaped)</b></td></tr>")
            } else if line.hasPrefix("Get_Time") {
                rows.append("<tr><td><font point-size=\"9\" color=\"#0b5394\">\(escaped)</font></td></tr>")
            } else {
                rows.append("<tr><td><font point-size=\"9\">\(escaped)</font></td></tr>")
            }
        }
        return "<table border=\"0\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"1\">" + rows.joined() + "</table>"
    }

    static func defaultLabel(_ node: OperatorNode) -> String {
        var text = node.op.rawValue
        if let gpu = node.gpu { text += " · GPU \(gpu)" } else { text += " · GPUs \(GPUList.compact(node.group))" }
        text += "\nout \(node.out)"
        if node.op == .matmul, let m = node.attributes["m"], let k = node.attributes["k"], let n = node.attributes["n"] {
            text += "\nGet_Time(\(m), \(k), \(n))"
        }
        return text
    }

    static func tooltip(_ node: OperatorNode) -> String {
        var lines = ["\(node.name): \(node.op.rawValue)"]
        if let gpu = node.gpu { lines.append("gpu=\(gpu)") }
        if !node.group.isEmpty { lines.append("group=\(GPUList.format(node.group))") }
        lines.append("out=\(node.out)")
        if let layer = node.layer { lines.append("layer=\(layer)") }
        for (key, value) in node.attributes.sorted(by: { $0.key < $1.key }) { lines.append("\(key)=\(value)") }
        return lines.joined(separator: "\n")
    }
}

/// How GPUs are drawn together: Helix head groups, or pipeline stages, from graph attributes;
/// with data, context or expert parallelism, or a rank order, each GPU's place in the grid of
/// degrees (replica, stage, shard or attention group).
struct GPUGrouping {
    let size: Int?
    let noun: String
    /// The degrees outside tp, innermost first as numbered, each with its name and its noun.
    private var grid: [(name: String, degree: Int, noun: String)] = []
    /// A disaggregated graph's prefill GPUs (the others decode).
    private var prefillGPUs: Set<Int>?

    init(_ graph: OperatorGraph) {
        let a = graph.attributes
        if a["strategy"] == "disaggregated", let prefill = a["prefill_gpus"].flatMap(GPUList.parse) {
            // The sides: one noun per GPU (see group(of:)).
            size = 1
            noun = ""
            prefillGPUs = Set(prefill)
        } else if a["strategy"] == "helix", let s = a["segments"].flatMap(Int.init), s > 0 {
            size = s
            noun = "head group"
        } else if a["strategy"] == "tp_pp", let tp = a["tp"].flatMap(Int.init), tp > 0 {
            size = tp
            noun = "stage"
            func degree(_ key: String) -> Int { a[key].flatMap(Int.init).map { max($0, 1) } ?? 1 }
            let (pp, dp, cp, ep) = (degree("pp"), degree("dp"), degree("cp"), degree("ep"))
            let rows = cp > 1 ? cp : ep > tp && ep % tp == 0 ? ep / tp : 1
            guard dp > 1 || rows > 1 || a["order"] != nil else { return }
            let canonical: [(name: String, degree: Int, noun: String)] = [
                ("tp", tp, "rank"), (cp > 1 ? "cp" : "ep", rows, cp > 1 ? "shard" : "attention group"), ("pp", pp, "stage"),
                ("dp", dp, "replica"),
            ]
            let named = (a["order"] ?? "").split(separator: ",").map(String.init)
            var order = named.compactMap { name in canonical.first { $0.name == name } }
            order += canonical.filter { degree in !order.contains { $0.name == degree.name } }
            grid = order.filter { $0.degree > 1 || $0.name == "tp" }
        } else {
            size = nil
            noun = ""
        }
    }

    /// The group a GPU belongs to: its label and a background tint alternating between groups.
    func group(of gpu: Int) -> (label: String?, tint: String) {
        guard let size else { return (nil, "#f8f9fa") }
        if let prefillGPUs {
            return prefillGPUs.contains(gpu) ? ("prefill", "#f1f3f5") : ("decode", "#e7f1fb")
        }
        guard !grid.isEmpty else {
            let index = gpu / size
            return ("\(noun) \(index)", index.isMultiple(of: 2) ? "#f1f3f5" : "#e7f1fb")
        }
        var rest = gpu
        var parts: [String] = []
        var index = 0
        for (name, degree, noun) in grid {
            let coordinate = rest % degree
            rest /= degree
            guard name != "tp" else { continue }
            parts.append("\(noun) \(coordinate)")
            index += coordinate
        }
        return (parts.reversed().joined(separator: " · "), index.isMultiple(of: 2) ? "#f1f3f5" : "#e7f1fb")
    }
}
