import ArgumentParser
import DeployAnalysis
import DeployDiagrams
import DeployModel
import Foundation
import GraphvizBridge

extension DeployDag {
    /// `deploydag diff`: what a hand edit changed, and what the change costs.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Compare two DAG files: nodes and edges added, removed, moved to another GPU, reshaped or re-attributed; the findings the change causes or clears; the change in critical path, makespan, memory per GPU and bytes per link.",
            discussion:
                "Nodes are matched by name, edges by the names of their ends and their operand. Exit status 0 when the files describe the same DAG, 1 when they differ (as diff(1)), 2 when one cannot be read."
        )

        @Argument(help: "The DAG before the change.", completion: .dotFiles)
        var before: String

        @Argument(help: "The DAG after the change ('-' for standard input).", completion: .dotFiles)
        var after: String

        @Option(name: .long, help: "text or json.")
        var format: OutputFormat = .text

        @Option(
            name: .long,
            help: "Also draw the union of the two DAGs: additions green, removals red (dashed), changes amber, folded as render folds.")
        var svg: String?

        @Option(name: .long, help: "With --svg: full (default), layer:N, layer:N:BLOCK or gpu:G.", completion: .views)
        var view: GraphViewSelection = .full

        @Flag(name: .long, help: "With --svg: draw every GPU, not one for each set that runs the same operators.")
        var unfold = false

        @OptionGroup var costs: CostOptions

        @Option(name: .long, parsing: .singleValue, help: "Give a symbol a value, as NAME=VALUE (repeatable), in both DAGs.")
        var bind: [String] = []

        func validate() throws {
            if before == LoadedDAG.standardInputName && after == LoadedDAG.standardInputName {
                throw ValidationError("only one of the two DAGs can come from standard input")
            }
            if let svg, OutputFile.isStandardOutput(svg) {
                throw ValidationError("--svg \(svg): standard output carries the comparison; name a file")
            }
            if let svg, let format = try? DrawingFormat.choose(output: svg, format: nil), format != .svg {
                throw ValidationError("--svg \(svg): the drawing is SVG; name a .svg file (render draws other formats)")
            }
            if view == .overview { throw ValidationError("--view overview: diff draws nodes; give full, layer:N or gpu:G") }
            if svg == nil, view != .full || unfold {
                throw ValidationError("\(unfold ? "--unfold" : "--view") shapes the drawing: give --svg FILE.svg as well")
            }
        }

        func run() throws {
            try OutputFile.preflight(svg, inputs: [before, after])
            let bindings = try parseBindings(bind)
            // A file that cannot be read as a DAG is trouble (exit 2), not a difference (exit 1).
            func load(_ path: String) throws -> CheckedGraph {
                do {
                    return try CheckedGraph.load(file: path, bindings: bindings)
                } catch let code as ExitCode where code == .failure {
                    printError(
                        "deploydag: cannot compare: \(LoadedDAG.displayName(path)) is not a DAG deploydag can read (its errors above)")
                    throw ExitCode(2)
                }
            }
            let a = try load(before)
            let b = try load(after)
            let diff = GraphDiff(a.graph, b.graph)
            // The drawing's view is checked before anything is printed.
            let union = svg == nil ? nil : try view.apply(to: Self.union(diff, a.graph, b.graph))
            let options = try costs.options()
            let figures = FigureChange(a.graph, b.graph, options: options)
            let findings = FindingChange(a.report.findings, b.report.findings)
            switch format {
            case .text: print(text(diff, findings: findings, figures: figures))
            case .json: print(try JSONOutput.encode(json(diff, findings: findings, figures: figures)))
            }
            if let svg, let union {
                try draw(diff, union, findings: b.report.findings, headline: headline(diff, findings: findings, figures: figures), to: svg)
            }
            if !diff.isEmpty || !findings.isEmpty { throw ExitCode.failure }
        }

        // MARK: - Text

        /// One line for the drawing's title: what changed, the findings, the makespan.
        func headline(_ diff: GraphDiff, findings: FindingChange, figures: FigureChange?) -> String {
            var parts = [
                "\(diff.moved.count) moved, \(diff.added.count) added, \(diff.removed.count) removed, \(Set(diff.reshaped.map(\.node)).count) reshaped, \(Set(diff.reattributed.map(\.node)).count) re-attributed",
                "\(findings.new.count) new finding\(findings.new.count == 1 ? "" : "s"), \(findings.gone.count) gone",
            ]
            if let line = figures?.lines.first(where: { $0.hasPrefix("makespan") }) { parts.append(line) }
            if let changed = figures?.changedMemory.count, changed > 0 {
                parts.append("memory changed on \(changed) GPU\(changed == 1 ? "" : "s")")
            }
            return parts.joined(separator: " · ")
        }

        func text(_ diff: GraphDiff, findings: FindingChange, figures: FigureChange?) -> String {
            var lines = ["deploydag diff \(LoadedDAG.displayName(before).terminalEscaped) \(LoadedDAG.displayName(after).terminalEscaped)"]
            if diff.isEmpty && findings.isEmpty {
                lines.append("the same DAG: no node, edge or attribute differs")
            } else {
                lines.append(
                    "nodes: \(diff.moved.count) moved, \(diff.added.count) added, \(diff.removed.count) removed, \(Set(diff.reshaped.map(\.node)).count) reshaped, \(Set(diff.reattributed.map(\.node)).count) re-attributed; edges: \(diff.addedEdges.count) added, \(diff.removedEdges.count) removed"
                )
            }
            func section(_ title: String, _ items: [String]) {
                guard !items.isEmpty else { return }
                lines.append("\(title):")
                lines += items.prefix(200).map { "  " + $0.terminalEscaped }
                if items.count > 200 { lines.append("  ... \(items.count - 200) more (--format json lists them all)") }
            }
            section("moved", diff.moved.map { "\($0.node): \($0.before) -> \($0.after)" })
            section("added", diff.added)
            section("removed", diff.removed)
            section("reshaped", diff.reshaped.map { "\($0.node): out \($0.before) -> \($0.after)" })
            section("re-attributed", diff.reattributed.map(\.text))
            section("edges added", diff.addedEdges.map(\.text))
            section("edges removed", diff.removedEdges.map(\.text))
            section("graph attributes", diff.graphAttributes.map { "\($0.what): \($0.before) -> \($0.after)" })
            lines.append("findings: \(findings.new.count) new, \(findings.gone.count) gone")
            lines += findings.new.prefix(50).map { "  new   \($0.formatted.terminalEscaped)" }
            lines += findings.gone.prefix(50).map { "  gone  \($0.formatted.terminalEscaped)" }
            if let figures {
                lines.append("figures (\(figures.pricedBy)):")
                lines += figures.lines.map { "  " + $0 }
            } else {
                lines.append("figures: not compared, one of the DAGs cannot be priced (a cycle, or nothing to schedule)")
            }
            return lines.joined(separator: "\n")
        }

        // MARK: - JSON

        struct JSON: Encodable {
            var before: String
            var after: String
            var same: Bool
            var added: [String]
            var removed: [String]
            var moved: [Change]
            var reshaped: [Change]
            var reattributed: [Change]
            var added_edges: [Edge]
            var removed_edges: [Edge]
            var graph_attributes: [Change]
            var new_findings: [CheckJSON.Item]
            var gone_findings: [CheckJSON.Item]
            /// `critical_path_seconds`, `makespan_seconds`, `tokens_per_second`, `tpot_seconds`,
            /// `bytes_sent_nvlink`, `bytes_sent_infiniband`: before and after.
            var figures: [String: Pair]?
            /// The GPUs whose memory need changed (weights plus peak activations, bytes).
            var memory_per_gpu: [String: Pair]?
            var cost_model: String?

            struct Change: Encodable {
                var node: String
                var what: String
                /// Absent where the node or attribute had no value.
                var before: String?
                var after: String?
                /// For a move: the GPUs before and after (one for compute, the group for communication).
                var before_gpus: [Int]?
                var after_gpus: [Int]?
            }
            struct Edge: Encodable {
                var from: String
                var to: String
                var operand: Int?
            }
            struct Pair: Encodable {
                var before: Double?
                var after: Double?
            }
        }

        func json(_ diff: GraphDiff, findings: FindingChange, figures: FigureChange?) -> JSON {
            func changes(_ list: [GraphDiff.Change]) -> [JSON.Change] {
                list.map {
                    JSON.Change(
                        node: $0.node, what: $0.what, before: $0.before == "-" ? nil : $0.before, after: $0.after == "-" ? nil : $0.after,
                        before_gpus: $0.beforeGPUs, after_gpus: $0.afterGPUs)
                }
            }
            func edges(_ list: [GraphDiff.EdgeKey]) -> [JSON.Edge] { list.map { JSON.Edge(from: $0.from, to: $0.to, operand: $0.operand) } }
            return JSON(
                before: LoadedDAG.displayName(before), after: LoadedDAG.displayName(after), same: diff.isEmpty && findings.isEmpty,
                added: diff.added, removed: diff.removed, moved: changes(diff.moved), reshaped: changes(diff.reshaped),
                reattributed: changes(diff.reattributed), added_edges: edges(diff.addedEdges), removed_edges: edges(diff.removedEdges),
                graph_attributes: changes(diff.graphAttributes), new_findings: findings.new.map(CheckJSON.Item.init),
                gone_findings: findings.gone.map(CheckJSON.Item.init),
                figures: figures.map { f in f.values.mapValues { JSON.Pair(before: $0.before, after: $0.after) } },
                memory_per_gpu: figures.map { f in
                    Dictionary(
                        uniqueKeysWithValues: f.changedMemory.map {
                            (String($0.key), JSON.Pair(before: $0.value.before, after: $0.value.after))
                        })
                }, cost_model: figures?.pricedBy)
        }

        // MARK: - Drawing

        /// The union of the two DAGs: the second, with the first's removed nodes and edges, and
        /// only the graph attributes both agree on (a GPU's stage or group is then not guessed
        /// from one side's strategy).
        static func union(_ diff: GraphDiff, _ a: OperatorGraph, _ b: OperatorGraph) -> OperatorGraph {
            var union = b
            union.attributes = b.attributes.filter { a.attributes[$0.key] == $0.value }
            var index: [String: Int] = [:]
            for (i, node) in b.nodes.enumerated() { index[node.name] = i }
            let removed = Set(diff.removed)
            for node in a.nodes where removed.contains(node.name) { index[node.name] = union.add(node) }
            for key in diff.removedEdges {
                if let u = index[key.from], let v = index[key.to] { union.connect(u, v, operand: key.operand) }
            }
            return union
        }

        func draw(_ diff: GraphDiff, _ graph: OperatorGraph, findings: [Finding], headline: String, to path: String) throws {
            var marks: [String: Diagram.Mark] = [:]
            for name in diff.added { marks[name] = .added }
            for name in diff.removed { marks[name] = .removed }
            var how: [String: [String]] = [:]
            for c in diff.moved { how[c.node, default: []].append("moved \(c.before) -> \(c.after)") }
            for c in diff.reshaped { how[c.node, default: []].append("out \(c.before) -> \(c.after)") }
            for c in diff.reattributed { how[c.node, default: []].append(c.what) }
            for (name, parts) in how where marks[name] == nil {
                var text = parts.joined(separator: ", ")
                if text.count > 80 { text = String(text.prefix(77)) + "..." }
                marks[name] = .changed(text)
            }
            let size = LayoutSize(graph)
            if size.isLarge {
                throw ValidationError(
                    "--svg: the union has \(size.nodes) nodes and \(size.edges) edges, too many to lay out in reasonable time; give --view layer:N or gpu:G"
                )
            }
            var diagram = Diagram(
                title:
                    "deploydag diff \(LoadedDAG.displayName(before)) \(LoadedDAG.displayName(after))\n\(headline)\n+ added (green) · - removed (red, dashed) · ~ changed (amber)",
                fold: !unfold, findings: findings.filter { $0.severity == .error && $0.rule != .memory })
            diagram.marks = marks
            for key in diff.addedEdges { diagram.edgeMarks[[key.from, key.to]] = .added }
            for key in diff.removedEdges { diagram.edgeMarks[[key.from, key.to]] = .removed }
            let dot = try diagram.dot(for: graph)
            do {
                try OutputFile.write(try SVGRenderer.render(dot: dot), to: path, inputs: [before, after])
            } catch let failure as SVGRenderer.Failure {
                printError("deploydag: --svg \(path): \(failure)")
                throw ExitCode.failure
            }
        }
    }
}

/// The findings the second DAG has that the first has not (`new`), and the reverse (`gone`),
/// matched by rule, node and message (not by line: an edit moves lines).
struct FindingChange {
    var new: [Finding]
    var gone: [Finding]

    var isEmpty: Bool { new.isEmpty && gone.isEmpty }

    init(_ a: [Finding], _ b: [Finding]) {
        struct Key: Hashable {
            var rule: RuleID
            var node: String?
            var message: String
        }
        func key(_ f: Finding) -> Key { Key(rule: f.rule, node: f.node, message: f.message) }
        var countA: [Key: Int] = [:]
        for f in a { countA[key(f), default: 0] += 1 }
        var countB: [Key: Int] = [:]
        for f in b { countB[key(f), default: 0] += 1 }
        var seenB: [Key: Int] = [:]
        new = b.filter { f in
            seenB[key(f), default: 0] += 1
            return seenB[key(f)]! > countA[key(f), default: 0]
        }
        var seenA: [Key: Int] = [:]
        gone = a.filter { f in
            seenA[key(f), default: 0] += 1
            return seenA[key(f)]! > countB[key(f), default: 0]
        }
    }
}

/// The whole-DAG figures of the two DAGs side by side, under one cost model.
struct FigureChange {
    var pricedBy: String
    var values: [String: (before: Double?, after: Double?)] = [:]
    var memory: [Int: (before: Double?, after: Double?)] = [:]
    /// The GPUs whose need changed.
    var changedMemory: [Int: (before: Double?, after: Double?)] { memory.filter { $0.value.before != $0.value.after } }
    var lines: [String] = []

    init?(_ a: OperatorGraph, _ b: OperatorGraph, options: AnalysisOptions) {
        guard let x = try? Analysis(graph: a, options: options), let y = try? Analysis(graph: b, options: options) else { return nil }
        pricedBy = options.costModel.description
        func row(_ name: String, _ key: String, _ p: Double?, _ q: Double?, _ format: (Double) -> String) {
            values[key] = (p, q)
            var text = "\(name): \(p.map(format) ?? "-") -> \(q.map(format) ?? "-")"
            if p == q {
                text = "\(name): \(p.map(format) ?? "-"), unchanged"
            } else if let p, let q, p != 0 {
                text += String(format: " (%+.1f%%)", (q - p) / p * 100)
            }
            lines.append(text)
        }
        row("critical path", "critical_path_seconds", x.criticalPathSeconds, y.criticalPathSeconds, Format.seconds)
        row("makespan", "makespan_seconds", x.makespanSeconds, y.makespanSeconds, Format.seconds)
        if x.tokensPerSecond != nil || y.tokensPerSecond != nil {
            row("tokens/s", "tokens_per_second", x.tokensPerSecond, y.tokensPerSecond, Format.rate)
        }
        if x.timePerOutputToken != nil || y.timePerOutputToken != nil {
            row("time per output token", "tpot_seconds", x.timePerOutputToken, y.timePerOutputToken, Format.seconds)
        }
        let (la, lb) = (x.bytesByLink, y.bytesByLink)
        for link in LinkClass.allCases where la[link] != nil || lb[link] != nil {
            row("bytes sent over \(link.rawValue)", "bytes_sent_\(link.rawValue)", la[link] ?? 0, lb[link] ?? 0, Format.bytes)
        }
        let (ma, mb) = (x.memory, y.memory)
        var changed: [String] = []
        for gpu in Set(ma.map(\.gpu)).union(mb.map(\.gpu)).sorted() {
            let p = ma.first { $0.gpu == gpu }
            let q = mb.first { $0.gpu == gpu }
            memory[gpu] = (p?.totalBytes, q?.totalBytes)
            guard p?.totalBytes != q?.totalBytes else { continue }
            let fits = { (m: GPUMemory?) in m.map { $0.overBytes == nil ? "fits" : "does not fit" } ?? "-" }
            changed.append(
                "GPU \(gpu) \(p.map { Format.bytes($0.totalBytes) } ?? "-") (\(fits(p))) -> \(q.map { Format.bytes($0.totalBytes) } ?? "-") (\(fits(q)))"
            )
        }
        lines.append(changed.isEmpty ? "memory per GPU: unchanged" : "memory per GPU: " + changed.joined(separator: "; "))
    }
}
