import DOTFormat
import DeployAnalysis
import DeployModel

/// Turns an operator DAG into DOT for people: a cluster per GPU, GPUs nested in their head
/// group (Helix) or pipeline stage (TP x PP) so the GPU grid reads as one, colours by operator
/// class, communication nodes between the clusters, a legend, and a tooltip per node.
public struct Diagram: Sendable {
    public var title: String
    public var showLegend: Bool
    /// Nodes to draw as the critical path (in path order).
    public var criticalPath: [Int]
    /// Draw GPUs that run the same operators on the same shapes once (`Folding`).
    public var fold: Bool
    /// The findings of `check`, drawn on the nodes they name and listed in a legend.
    public var findings: [Finding]

    /// The figures drawn: the whole view's in the title, each node's time and each folded GPU's
    /// in its cluster, from one analysis (`WorkFigures`, as `analyze` sums them).
    public var figures: Figures?

    public struct Figures: Sendable {
        public var costs: [NodeCost]
        public var total: WorkFigures
        public var pricedBy: String
        public var symbols: [String]
        let analysis: Analysis

        public init(_ analysis: Analysis, pricedBy: String) {
            self.analysis = analysis
            costs = analysis.costs
            total = analysis.totalFigures
            self.pricedBy = pricedBy
            symbols = analysis.unboundSymbols
        }

        /// The title's line: `all GPUs: 12.34 TFLOP · ... · 3.210 s of GPU time (priced by ...)`.
        public var titleLine: String {
            guard symbols.isEmpty else {
                return
                    "\(symbols.joined(separator: ", ")) \(symbols.count == 1 ? "is" : "are") symbolic: no figures until bound (--bind \(symbols[0])=N)"
            }
            guard !total.lines.isEmpty else { return "no work to price" }
            return "all GPUs: " + total.lines.joined(separator: " · ") + "; priced by \(pricedBy)"
        }
    }

    /// How `diff` marks a node or an edge of the union of two DAGs.
    public enum Mark: Sendable, Equatable {
        case added, removed
        /// Changed in place; the text says how (`moved GPU 0 -> GPU 5`).
        case changed(String)

        var colour: String {
            switch self {
            case .added: "#2f9e44"
            case .removed: "#e03131"
            case .changed: "#f08c00"
            }
        }
        var fill: String {
            switch self {
            case .added: "#d3f9d8"
            case .removed: "#ffe3e3"
            case .changed: "#fff3bf"
            }
        }
        var text: String {
            switch self {
            case .added: "+ added"
            case .removed: "- removed"
            case .changed(let how): "~ " + how
            }
        }
    }

    /// Nodes (by name) and edges (by their ends' names) to draw as added, removed or changed.
    public var marks: [String: Mark] = [:]
    public var edgeMarks: [[String]: Mark] = [:]

    /// The colour of the critical path in every diagram.
    public static let criticalColour = "#d63384"
    /// The colour of a node or edge that `check` finds fault with.
    public static let faultColour = "#e03131"
    /// Node attributes a user may set in a DAG file that the drawing keeps over its own style.
    public static let userStyleKeys = ["shape", "color", "fillcolor", "style", "penwidth", "fontcolor", "fontsize", "peripheries"]

    public init(title: String, showLegend: Bool = true, criticalPath: [Int] = [], fold: Bool = true, findings: [Finding] = []) {
        self.title = title
        self.showLegend = showLegend
        self.criticalPath = criticalPath
        self.fold = fold
        self.findings = findings
    }

    /// The styled DOT; `folding`, when the caller has it (`folding(for:)`), is not computed again.
    public func dot(for graph: OperatorGraph, folding given: Folding? = nil) throws(DOTWriteError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(graph.nodes.count * 400 + 4096)
        func line(_ text: String) { out.append(contentsOf: text.utf8); out.append(0x0A) }

        // The diagram's own nodes (anchors, legend, findings) under a prefix no node of the
        // graph starts with.
        let ns = Self.namespace(graph)
        line("digraph deploydag {")
        line("  graph [rankdir=TB, newrank=true, fontname=\"Helvetica\", fontsize=20, labelloc=t, nodesep=0.25, ranksep=0.45];")
        out.append(contentsOf: "  graph [label=".utf8)
        DOTQuoting.appendLabel(figures.map { title + "\n" + $0.titleLine } ?? title, to: &out)
        line("];")
        line("  node [fontname=\"Helvetica\", fontsize=10, style=\"filled,rounded\", penwidth=1];")
        line("  edge [color=\"#495057\", arrowsize=0.6];")

        var index: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { index[node.name] = i }
        var faults: [Int: [String]] = [:]
        for finding in findings {
            guard let name = finding.node, let v = index[name] else { continue }
            if !(faults[v]?.contains(finding.rule.rawValue) ?? false) { faults[v, default: []].append(finding.rule.rawValue) }
        }
        let folding = given ?? self.folding(for: graph)
        let critical = Set(criticalPath)
        let grouping = GPUGrouping(graph)
        var byGPU: [Int: [Int]] = [:]
        var communication: [Int] = []
        for (i, node) in graph.nodes.enumerated() where folding.isShown(i) {
            if let gpu = node.gpu { byGPU[gpu, default: []].append(i) } else { communication.append(i) }
        }
        // GPU clusters are not nested inside group clusters: dot reverses invisible same-rank
        // chains inside nested clusters, so the group is shown by label and tint instead.
        let gpus = byGPU.keys.sorted()
        for gpu in gpus {
            let members = folding.classOf[gpu] ?? [gpu]
            let groups = Set(members.map { grouping.group(of: $0).label ?? "" })
            let group = grouping.group(of: gpu)
            var title = folding.title(of: gpu)
            if let figures, figures.symbols.isEmpty {
                let each = figures.analysis.figures(of: graph.nodes.indices.filter { graph.nodes[$0].gpu == gpu })
                let compute = each.lines.last.map { " · \($0)" } ?? ""
                title += (folding.classOf[gpu]?.count ?? 1) > 1 ? "\(compute), each" : compute
            }
            line("  subgraph \"cluster_gpu\(gpu)\" {")
            out.append(
                contentsOf: "    graph [style=\"rounded,filled\", color=\"#adb5bd\", fontsize=14, fillcolor=\"\(group.tint)\", label=".utf8)
            DOTQuoting.appendLabel(groups.count == 1 && group.label != nil ? "\(title) · \(group.label!)" : title, to: &out)
            line("];")
            // The anchor: an invisible point above the cluster's nodes, chained to the next
            // cluster's on one rank, which keeps the clusters in GPU order.
            line("    \"\(Self.anchor(gpu, ns))\" [shape=point, style=invis, width=0, height=0, label=\"\"];")
            for i in byGPU[gpu] ?? [] {
                try appendNode(
                    graph.nodes[i], index: i, indent: "    ", critical: critical.contains(i), faults: faults[i], alike: folding.alike[i],
                    siblings: folding.siblings[i] ?? 1, to: &out)
            }
            line("  }")
        }
        for i in communication {
            try appendNode(
                graph.nodes[i], index: i, indent: "  ", critical: critical.contains(i), faults: faults[i], alike: folding.alike[i],
                siblings: folding.siblings[i] ?? 1, to: &out)
        }
        // The anchors of clusters that start in the same layer (a pipeline's stage) on one rank,
        // in GPU order; a later stage's clusters sit below and are chained among themselves.
        var rows: [Int: [Int]] = [:]
        for gpu in gpus { rows[(byGPU[gpu] ?? []).compactMap { graph.nodes[$0].layer }.min() ?? -1, default: []].append(gpu) }
        for row in rows.keys.sorted() where rows[row]!.count > 1 {
            line("  { rank=same; " + rows[row]!.map { "\"\(Self.anchor($0, ns))\"" }.joined(separator: " -> ") + " [style=invis]; }")
        }
        let pathEdges = Set(zip(criticalPath, criticalPath.dropFirst()).map { [$0, $1] })
        var anchored = Set<Int>()
        // Edges between the nodes drawn, once a pair however many siblings they stand for.
        var drawnEdges = Set<[Int]>()
        for edge in graph.normalized().edges where folding.drawn[edge.from] && folding.drawn[edge.to] {
            let (from, to) = (folding.canonical[edge.from], folding.canonical[edge.to])
            guard from != to, drawnEdges.insert([from, to]).inserted else { continue }
            let edge = (from: from, to: to)
            let (u, v) = (graph.nodes[edge.from], graph.nodes[edge.to])
            out.append(contentsOf: "  ".utf8)
            try DOTQuoting.appendQuoted(u.name, to: &out)
            out.append(contentsOf: " -> ".utf8)
            try DOTQuoting.appendQuoted(v.name, to: &out)
            if let mark = edgeMarks[[u.name, v.name]] {
                out.append(
                    contentsOf: " [color=\"\(mark.colour)\", penwidth=3\(mark == .removed ? ", style=dashed" : ""), class=\"diff\"]".utf8)
            } else if let a = u.gpu, let b = v.gpu, a != b {
                // Compute on one GPU feeding compute on another: data crossing GPUs with no
                // communication node, never legal, never drawn as the critical path.
                // Not a ranking constraint: such an edge would pull the GPUs' clusters together.
                out.append(
                    contentsOf: " [color=\"\(Diagram.faultColour)\", penwidth=3, style=dashed, class=\"fault\", constraint=false]".utf8)
            } else if pathEdges.contains([edge.from, edge.to]) {
                out.append(contentsOf: " [color=\"\(Diagram.criticalColour)\", penwidth=3, class=\"critical\"]".utf8)
            } else if u.op.isCommunication || v.op.isCommunication {
                out.append(contentsOf: " [color=\"#c0392b\", penwidth=1.4]".utf8)
            }
            line(";")
            anchored.insert(edge.to)
        }
        // Each cluster's anchor sits above the nodes no drawn edge enters.
        for gpu in gpus {
            for i in byGPU[gpu] ?? [] where !anchored.contains(i) {
                out.append(contentsOf: "  \"\(Self.anchor(gpu, ns))\" -> ".utf8)
                try DOTQuoting.appendQuoted(graph.nodes[i].name, to: &out)
                line(" [style=invis];")
            }
        }
        if showLegend { appendLegend(to: &out, kinds: Set(graph.nodes.map(\.op.kind)), folded: folding.folds, namespace: ns) }
        if !findings.isEmpty { appendFindings(to: &out, namespace: ns) }
        line("}")
        return String(decoding: out, as: UTF8.self)
    }

    /// How this diagram folds `graph`: the GPUs of nodes with findings or marks kept apart.
    public func folding(for graph: OperatorGraph) -> Folding {
        guard fold else { return Folding(unfolded: graph) }
        let named = Set(findings.compactMap(\.node)).union(marks.keys)
        return Folding(graph, keepingApart: Set(graph.nodes.indices.filter { named.contains(graph.nodes[$0].name) }))
    }

    static func anchor(_ gpu: Int, _ namespace: String = "deploydag:") -> String { "\(namespace)anchor:gpu\(gpu)" }

    /// `deploydag:`, lengthened with `_` until no node of `graph` starts with it.
    static func namespace(_ graph: OperatorGraph) -> String {
        var ns = "deploydag:"
        while graph.nodes.contains(where: { $0.name.hasPrefix(ns) }) { ns += "_" }
        return ns
    }

    /// The DOT id of drawn node `v`: the SVG's `<g id=...>`, by which the interactive page
    /// finds a node whatever its name.
    public static func svgID(_ v: Int) -> String { "dd\(v)" }

    private func appendNode(
        _ node: OperatorNode, index: Int? = nil, indent: String, critical: Bool = false, faults: [String]?, alike: [[Int]]?, siblings: Int,
        to out: inout [UInt8]
    ) throws(DOTWriteError) {
        out.append(contentsOf: indent.utf8)
        try DOTQuoting.appendQuoted(node.name, to: &out)
        // The house style, then the fault or critical-path marks, then the user's own: a later
        // value replaces an earlier one in place.
        var style: [(key: String, value: String)] = []
        func set(_ key: String, _ value: String) {
            if let i = style.firstIndex(where: { $0.key == key }) { style[i].value = value } else { style.append((key, value)) }
        }
        set("shape", DiagramStyle.shape(node.op))
        set("fillcolor", "\"\(DiagramStyle.fill(node.op.kind))\"")
        if faults != nil {
            set("color", "\"\(Diagram.faultColour)\"")
            set("penwidth", "3")
            set("fillcolor", "\"#ffe3e3\"")
            set("class", "\"fault\"")
        } else if critical {
            set("color", "\"\(Diagram.criticalColour)\"")
            set("penwidth", "3")
            set("class", "\"critical\"")
        } else if node.op.isCommunication {
            set("color", "\"#c0392b\"")
            set("penwidth", "1.6")
        }
        if let mark = marks[node.name] {
            set("color", "\"\(mark.colour)\"")
            set("fillcolor", "\"\(mark.fill)\"")
            set("penwidth", "3")
            if mark == .removed { set("style", "\"filled,rounded,dashed\"") }
            set("class", "\"diff\"")
        }
        for key in Self.userStyleKeys {
            if let value = node.attributes[key].flatMap({ Self.usableStyle(key, $0) }) {
                var quoted: [UInt8] = []
                DOTQuoting.appendLabel(value, to: &quoted)
                set(key, String(decoding: quoted, as: UTF8.self))
            }
        }
        if let index { set("id", "\"\(Self.svgID(index))\"") }
        out.append(contentsOf: " [".utf8)
        out.append(contentsOf: style.map { "\($0.key)=\($0.value)" }.joined(separator: ", ").utf8)
        var text = Diagram.label(node)
        if let mark = marks[node.name] { text += "\n" + mark.text }
        if let figures, figures.symbols.isEmpty, let cost = index.map({ figures.costs[$0] }), cost.seconds > 0 {
            text += "\n\(Format.seconds(cost.seconds))"
        }
        if let alike, alike.count > 1 {
            let groups = alike.prefix(6).map { node.op == .sendRecv ? "\($0.first ?? 0)→\($0.last ?? 0)" : GPUList.compact($0) }
            text += "\nthis and \(alike.count - 1) like it: GPUs \(groups.joined(separator: " · "))\(alike.count > 6 ? " · ..." : "")"
        } else if siblings > 1 {
            text += "\nthis and \(siblings - 1) like it on this GPU, drawn once"
        }
        out.append(contentsOf: ", label=<".utf8)
        out.append(contentsOf: Diagram.htmlLabel(text, name: node.name, faults: faults).utf8)
        out.append(contentsOf: ">".utf8)
        out.append(contentsOf: ", tooltip=".utf8)
        DOTQuoting.appendLabel(Diagram.tooltip(node), to: &out)
        out.append(contentsOf: "];\n".utf8)
    }

    /// A user's style value, or nil where it would break the drawing: a font size or pen width
    /// outside 0 < x <= 100 (cairo runs out of memory on a font of 100,000 points), more than
    /// 10 peripheries.
    static func usableStyle(_ key: String, _ value: String) -> String? {
        switch key {
        case "fontsize", "penwidth":
            guard let x = Double(value), x > 0, x <= 100 else { return nil }
            return value
        case "peripheries":
            guard let n = Int(value), n >= 0, n <= 10 else { return nil }
            return value
        default:
            return value
        }
    }

    /// At most `limit` characters, the middle elided.
    static func shortened(_ text: String, _ limit: Int) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit / 2 - 1)) + "…" + String(text.suffix(limit / 2 - 1))
    }

    /// The node's label: the file's own, unless it names a GPU the node is not on (a node moved
    /// by hand), which is then replaced by the derived label with a note of what it said.
    static func label(_ node: OperatorNode) -> String {
        guard let label = node.label else { return defaultLabel(node) }
        let firstLine = label.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? label
        if let gpu = node.gpu, let said = statedGPU(firstLine), said != gpu {
            return defaultLabel(node) + "\nthe label says: \(firstLine)"
        }
        return label
    }

    /// The GPU a label's first line names (`... GPU 3 ...`), if exactly one.
    static func statedGPU(_ text: String) -> Int? {
        let parts = text.components(separatedBy: "GPU ")
        guard parts.count == 2 else { return nil }
        return Int(parts[1].prefix { $0.isNumber })
    }

    private func appendFindings(to out: inout [UInt8], namespace ns: String) {
        var rows = ["<tr><td align=\"left\"><b>check: \(findings.count) finding\(findings.count == 1 ? "" : "s")</b></td></tr>"]
        for f in findings.prefix(12) {
            var message = f.message
            if message.count > 170 { message = String(message.prefix(167)) + "..." }
            let at = f.node.map { " · \(Self.shortened($0, 60))" } ?? ""
            rows.append(
                "<tr><td align=\"left\"><font color=\"\(Diagram.faultColour)\">\(f.severity.rawValue)[\(f.rule.rawValue)]\(at.xmlEscaped):</font> \(message.xmlEscaped)</td></tr>"
            )
        }
        if findings.count > 12 { rows.append("<tr><td align=\"left\">... \(findings.count - 12) more</td></tr>") }
        out.append(
            contentsOf:
                "  subgraph cluster_findings {\n    graph [label=\"findings\", style=\"rounded\", color=\"\(Diagram.faultColour)\", fontsize=14];\n"
                .utf8)
        out.append(
            contentsOf:
                "    \"\(ns)findings\" [shape=plain, style=\"\", label=<<table border=\"0\" cellspacing=\"2\">\(rows.joined())</table>>];\n  }\n"
                .utf8)
    }

    private func appendLegend(to out: inout [UInt8], kinds: Set<Operator.Kind>, folded: Bool, namespace ns: String) {
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
            let id = "\"\(ns)legend_\(kind.rawValue)\""
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
                    "    \"\(ns)legend_critical\" [shape=box, style=\"rounded\", color=\"\(Diagram.criticalColour)\", penwidth=3, label=\"critical path\"];\n"
                    .utf8)
            if let previous { out.append(contentsOf: "    \(previous) -> \"\(ns)legend_critical\" [style=invis];\n".utf8) }
        }
        if folded {
            out.append(
                contentsOf:
                    "    \"\(ns)legend_folded\" [shape=box, style=\"rounded,dashed\", color=\"#adb5bd\", label=\"GPU g (×n: GPUs ...): one GPU drawn for n\\nthat run the same operators on the same shapes;\\n'this and k like it': one node drawn for k + 1\\n(--unfold draws every GPU)\"];\n"
                    .utf8)
        }
        out.append(contentsOf: "  }\n".utf8)
    }

    /// An HTML-like label: the first line (operator, GPU) in bold, shapes smaller below it, the
    /// `Get_Time` arguments in blue.
    static func htmlLabel(_ text: String, name: String? = nil, faults: [String]? = nil) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var rows: [String] = []
        for (i, line) in lines.enumerated() {
            let escaped = line.xmlEscaped
            if i == 0 {
                rows.append("<tr><td><b>\(escaped)</b></td></tr>")
                // The node's name, small, under its operator: findings name nodes.
                if let name, name != line {
                    rows.append("<tr><td><font point-size=\"8\" color=\"#6c757d\">\(shortened(name, 80).xmlEscaped)</font></td></tr>")
                }
                if let faults {
                    rows.append(
                        "<tr><td><font point-size=\"9\" color=\"\(Diagram.faultColour)\"><b>\(faults.joined(separator: ", ").xmlEscaped)</b></font></td></tr>"
                    )
                }
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
