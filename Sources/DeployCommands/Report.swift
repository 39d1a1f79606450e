import ArgumentParser
import DOTFormat
import DeployAnalysis
import DeployChecker
import DeployDiagrams
import DeployModel
import DeploySpecs
import Foundation
import GraphvizBridge

extension DeployDag {
    /// `deploydag report`: the design-review document the seeds were written by hand to be.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Write a Markdown design review of a deployment beside its diagrams: model, GPU map, compute, memory, communication, critical path, runtime, checks, baseline."
        )

        @Argument(help: "A preset, a spec file (.yaml), a Hugging Face config (.json) or a DOT file.", completion: .deployments)
        var deployment: String

        @Option(name: .shortAndLong, help: "The directory to write report.md and its SVGs into (default: report-NAME).")
        var output: String?

        @OptionGroup var costs: CostOptions

        @Option(name: .long, parsing: .singleValue, help: "Give a symbol a value, as NAME=VALUE (repeatable).")
        var bind: [String] = []

        @Flag(
            name: .long,
            help:
                "Also write report.html: the layer diagram as a self-contained interactive page (pan, zoom, search, node details, findings), the verdict above it."
        )
        var html = false

        func run() throws {
            let options = try costs.options()
            let bindings = try parseBindings(bind)
            var spec: DeploymentSpec?
            let checked: CheckedGraph
            if let s = try DeploymentInput(deployment).spec() {
                var d = s.deployment
                d.model.batch = try d.model.batch.binding(bindings)
                d.model.seq = try d.model.seq.binding(bindings)
                checked = CheckedGraph.built(try s.build(d))
                spec = s
            } else {
                checked = try CheckedGraph.load(file: deployment, bindings: bindings)
            }
            let graph = checked.graph
            let untrusted = checked.warnIfErrors(LoadedDAG.displayName(deployment), what: "the report's figures")
            let analysis = try Self.analyse(graph, options: options, name: LoadedDAG.displayName(deployment))
            let directory = try Self.directory(output ?? "report-\(OutputFile.safeComponent(graph.name))")
            var document = ReviewDocument(
                graph: graph, analysis: analysis, check: checked.report, spec: spec, options: options, bindings: bindings)
            document.untrustedErrors = untrusted ? checked.errorCount : 0
            switch DeploymentInput(deployment) {
            case .spec: document.specKind = "spec file"
            case .huggingFace: document.specKind = "Hugging Face config"
            default: break
            }
            document.inputs = [deployment] + costs.inputFiles
            document.writesPage = html
            try document.writeDiagrams(into: directory)
            try OutputFile.write(document.markdown(), to: directory + "/report.md", inputs: document.inputs)
            print(
                "wrote \(directory)/report.md with \(document.diagrams.count) diagrams\(document.wrotePage ? " and report.html" : html ? " (no report.html: the DAG has no layer to draw)" : "")"
            )
            if untrusted { throw ExitCode.failure }
        }

        /// The analysis, or (a cycle, no node to schedule) a message and exit 1 before any
        /// directory is made.
        static func analyse(_ graph: OperatorGraph, options: AnalysisOptions, name: String) throws -> Analysis {
            switch Result(catching: { try Analysis(graph: graph, options: options) }) {
            case .success(let analysis): return analysis
            case .failure(let error):
                printError("deploydag: \(name): \(error); no report written")
                throw ExitCode.failure
            }
        }

        /// The directory to write into, created when missing, without trailing slashes.
        static func directory(_ path: String) throws -> String {
            if path == OutputFile.standardOutputName {
                throw ValidationError("-o -: report writes a directory (report.md and its SVGs); name one")
            }
            var directory = path
            while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
            if let status = FileStatus(following: directory), !status.isDirectory {
                throw CommandError.io("cannot write the report into \(directory): it is not a directory")
            }
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw CommandError.io("cannot create the directory \(directory): \(error.localizedDescription)")
            }
            return directory
        }
    }
}

extension GraphDecoder {
    /// A built graph as the checker sees a file: written as DOT and decoded, so the report's check
    /// is the one `deploydag check` gives.
    /// When the written DOT cannot be read back, the graph itself is checked, without source
    /// lines, and libcgraph's complaint is kept as a finding.
    static func reading(_ graph: OperatorGraph) -> DecodedGraph {
        let file = "\(graph.name).dot"
        let text = (try? DOTWriter().write(graph)) ?? []
        let result = DOTReader.read(bytes: text, file: file)
        guard let document = result.document else {
            return DecodedGraph(
                graph: graph, invalidNodes: [Bool](repeating: false, count: graph.nodes.count), findings: result.findings, file: file,
                lines: nil)
        }
        return GraphDecoder().decode(document, lines: result.lines, file: file)
    }
}

/// The Markdown review and its diagrams.
struct ReviewDocument {
    let graph: OperatorGraph
    let analysis: Analysis
    let check: CheckReport
    let spec: DeploymentSpec?
    let options: AnalysisOptions
    let bindings: [String: Int64]
    var diagrams: [(file: String, caption: String)] = []
    /// The files the report was made from, which none of its outputs may replace.
    var inputs: [String] = []
    /// Whether to write report.html, the interactive page of the layer diagram.
    var writesPage = false
    /// Whether it was written (or kept): only a DAG with a layer has its page.
    var wrotePage = false
    /// The checker's errors (memory apart) when there are any: the figures are then not to be trusted.
    var untrustedErrors = 0
    /// What the spec came from: `preset spec`, `spec file` or `Hugging Face config`.
    var specKind = "preset spec"

    init(
        graph: OperatorGraph, analysis: Analysis, check: CheckReport, spec: DeploymentSpec?, options: AnalysisOptions,
        bindings: [String: Int64]
    ) {
        self.graph = graph
        self.analysis = analysis
        self.check = check
        self.spec = spec
        self.options = options
        self.bindings = bindings
    }

    /// The cost model in a few words, for the diagrams' titles.
    var pricedBy: String {
        "the \(options.costModel.name) model\(options.costModel.gpu.map { " on \($0.name)" } ?? "")"
    }

    mutating func writeDiagrams(into directory: String) throws {
        let overview = try Overview().dot(
            for: graph, title: "\(graph.name) (overview)\nFLOPs, bytes and times under \(pricedBy)", analysis: analysis)
        try write(
            overview, "overview.svg", "Overview: blocks of layers, their communication, FLOPs and bytes; the critical path in pink.",
            directory)
        if let layer = graph.nodes.compactMap(\.layer).min() {
            let view = try GraphViewSelection.layer(layer, block: nil).apply(to: graph)
            let viewAnalysis = try? Analysis(graph: view, options: options)
            var diagram = Diagram(
                title: "\(graph.name): layer \(layer)", criticalPath: viewAnalysis?.criticalPath ?? [],
                findings: check.findings.filter { $0.severity == .error && $0.rule != .memory })
            if let viewAnalysis { diagram.figures = Diagram.Figures(viewAnalysis, pricedBy: pricedBy) }
            let folding = diagram.folding(for: view)
            let dot = try diagram.dot(for: view, folding: folding)
            if writesPage {
                wrotePage = true
                var page = InteractivePage(title: "\(graph.name): layer \(layer)", pricedBy: pricedBy)
                page.describe(view, analysis: viewAnalysis, folding: folding)
                page.findings = diagram.findings.map { ($0.formatted, $0.node) }
                page.summary = verdict().replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "`", with: "")
                let path = directory + "/report.html"
                if !DiagramFingerprint.isCurrent(path, closing: "</html>", fingerprint: page.fingerprint(diagram: dot)) {
                    try OutputFile.write(page.html(svg: SVGRenderer.render(dot: dot), diagram: dot), to: path, inputs: inputs)
                }
            }
            try write(
                dot, "layer\(layer).svg",
                "Layer \(layer), every operator on its GPU; GPUs that run the same operators on the same shapes are drawn once (GPU g (×n: ...)).",
                directory)
        }
        let svg = GanttChart.svg(analysis, title: "\(graph.name): schedule")
        try OutputFile.write(svg, to: directory + "/timeline.svg", inputs: inputs)
        diagrams.append(("timeline.svg", "Schedule: each GPU's compute (upper lane) and communication (lower lane)."))
    }

    private mutating func write(_ dot: String, _ file: String, _ caption: String, _ directory: String) throws {
        let path = directory + "/" + file
        if DiagramFingerprint.isCurrent(path, closing: "</svg>", fingerprint: DiagramFingerprint.hash(dot)) {
            diagrams.append((file, caption))
            return
        }
        try OutputFile.write(DiagramFingerprint.stamp(svg: SVGRenderer.render(dot: dot), diagram: dot), to: path, inputs: inputs)
        diagrams.append((file, caption))
    }

    /// `B is` or `B and S are`.
    static func symbolList(_ symbols: [String]) -> String {
        symbols.count == 1 ? "\(symbols[0]) is" : "\(symbols.dropLast().joined(separator: ", ")) and \(symbols.last!) are"
    }

    /// The first paragraph: in plain words, whether the DAG is valid, whether it fits, and what
    /// binds its critical path.
    func verdict() -> String {
        var parts: [String] = []
        let errors = check.findings.filter { $0.severity == .error && $0.rule != .memory }
        if errors.isEmpty {
            parts.append("**Valid**: `deploydag check` finds no error in this DAG.")
        } else {
            let rules = Set(errors.map(\.rule.rawValue)).sorted().map { "`\($0)`" }.joined(separator: ", ")
            parts.append(
                "**Not valid**: `deploydag check` finds \(count(errors.count, "error")) (\(rules)); the figures describe the graph as written, not the model."
            )
        }
        let memory = analysis.memory
        let over = memory.filter { $0.overBytes != nil }
        let symbols = analysis.unboundSymbols
        if !symbols.isEmpty {
            let them = symbols.count == 1 ? "it" : "them"
            parts.append(
                "**Memory and time are not judged**: \(Self.symbolList(symbols)) symbolic, so activation sizes and times are unknown; the figures below set \(them) to 1 and count no activation whose shape holds \(them) (bind \(them) with `--bind \(symbols[0])=N`)."
            )
        } else if let gpu = options.costModel.gpu {
            if over.isEmpty {
                let most = memory.map(\.totalBytes).max() ?? 0
                parts.append(
                    "**It fits**: every GPU's weights and peak activations fit in \(Format.article(gpu.name)) \(gpu.name)'s \(gpu.memoryText) (the most any GPU needs is \(Format.bytes(most)))."
                )
            } else {
                parts.append(
                    "**It does not fit**: \(over.count) of \(memory.count) GPUs need more than \(Format.article(gpu.name)) \(gpu.name)'s \(gpu.memoryText) (the worst \(Format.bytes(over.map(\.totalBytes).max()!))), so it cannot run as drawn and its times are for comparison only."
                )
            }
        } else {
            parts.append("Memory is not judged: the \(options.costModel.name) cost model names no GPU.")
        }
        if symbols.isEmpty, let binding = analysis.binding {
            let b = analysis.criticalPathBinding
            let total = b.compute + b.memory + b.network
            let resource = binding.resource.prefix(1).uppercased() + binding.resource.dropFirst()
            parts.append(
                "**\(resource) \(binding.share > 0.5 ? "binds" : "binds most")**: of the critical path's \(Format.seconds(analysis.criticalPathSeconds)), \(Format.percent(b.compute / total)) is compute-bound work, \(Format.percent(b.memory / total)) memory-bandwidth-bound and \(Format.percent(b.network / total)) communication (\(options.costModel.name) model)."
            )
        }
        return parts.joined(separator: " ")
    }

    func markdown() throws -> String {
        let a = analysis
        var md: [String] = []
        md.append("# \(Markdown.text(graph.name)): design review")
        md.append("")
        md.append(
            "Generated by `deploydag report` from \(spec.map { "the \(specKind) \(Markdown.code(($0.file as NSString).lastPathComponent, inTable: false))" } ?? "a DOT file"). Every figure is derived from the operator DAG (\(graph.nodes.count) nodes, \(graph.edges.count) edges); times are priced by \(options.costModel.description); the network by \(options.network.description)."
        )
        md += ["", verdict()]
        if let summary = spec?.summary { md += ["", "> \(Markdown.text(summary))"] }
        if untrustedErrors > 0 {
            md += [
                "",
                "**`deploydag check` finds \(count(untrustedErrors, "error")) in this DAG (see [Checks](#checks)): the figures below describe the graph as written, not the model, and are not to be trusted until they are fixed.**",
            ]
        }
        md += ["", "## Model and strategy", "", "| parameter | value |", "|---|---|"]
        for key in graph.attributes.keys.sorted() { md.append("| \(Markdown.code(key)) | \(Markdown.text(graph.attributes[key]!)) |") }
        md.append("| `gpus` | \(graph.gpus.map(String.init) ?? "-") |")
        let parameters = graph.parameterCount
        if parameters.total > 0 {
            var line =
                "| parameters | \(DAGSummary.parameterText(parameters.total)), counted from the \(parameters.weights) logical weights the graph holds"
            if parameters.unnamed > 0 { line += "; \(parameters.unnamed) node weights without `weight_logical` not counted" }
            md.append(line + " |")
        }

        md += ["", "## GPU map", "", "| GPU | layers | blocks | operators | matmuls |", "|---:|---|---|---:|---:|"]
        var perGPU: [Int: (layers: Set<Int>, blocks: Set<String>, ops: Int, matmuls: Int)] = [:]
        for node in graph.nodes {
            guard let g = node.gpu else { continue }
            var e = perGPU[g] ?? ([], [], 0, 0)
            if let l = node.layer { e.layers.insert(l) }
            if let b = node.block { e.blocks.insert(b) }
            e.ops += 1
            if node.op == .matmul { e.matmuls += 1 }
            perGPU[g] = e
        }
        for g in perGPU.keys.sorted() {
            let e = perGPU[g]!
            md.append(
                "| \(g) | \(GPUList.compact(Array(e.layers)).isEmpty ? "-" : GPUList.compact(Array(e.layers))) | \(Markdown.text(e.blocks.sorted().joined(separator: ", "))) | \(e.ops) | \(e.matmuls) |"
            )
        }

        md += ["", "## Diagrams", ""]
        for d in diagrams { md += ["![\(d.caption)](\(d.file))", "", "*\(d.caption)*", ""] }
        if wrotePage {
            md += [
                "The layer diagram as an interactive page: [report.html](report.html) (pan, zoom, find a node by name, click a node for its attributes and time).",
                "",
            ]
        }

        let memory = a.memory
        md += [
            "## Compute and memory per GPU", "",
            "| GPU | compute | communication | matmul FLOPs | compute busy | weights | peak activations | total | fits |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for u in a.gpuUsage {
            let m = memory.first { $0.gpu == u.gpu }
            md.append(
                "| \(u.gpu) | \(Format.seconds(u.computeSeconds)) | \(Format.seconds(u.communicationSeconds)) | \(Format.flops(u.flops)) | \(Format.percent(u.utilisation)) | \(m.map { Format.bytes($0.weightBytes) } ?? "-") | \(m.map { Format.bytes($0.peakActivationBytes) } ?? "-") | \(m.map { Format.bytes($0.totalBytes) } ?? "-") | \(m?.overBytes.map { "**no**: over by \(Format.bytes($0))" } ?? "yes") |"
            )
        }

        md += [
            "", "## Communication", "", "| collective | count | groups | bytes sent per GPU, each | bytes sent in all | link |",
            "|---|---:|---|---:|---:|---|",
        ]
        var comm: [String: (count: Int, groups: Set<String>, each: Double, total: Double, links: Set<String>)] = [:]
        for (v, node) in graph.nodes.enumerated() where node.op.isCommunication {
            let c = a.costs[v]
            var e = comm[node.op.rawValue] ?? (0, [], 0, 0, [])
            e.count += 1
            e.groups.insert(GPUList.compact(node.group))
            e.each = max(e.each, c.sentBytesPerGPU)
            e.total += c.sentBytesPerGPU * (node.op == .sendRecv ? 1 : Double(node.group.count))
            if let l = c.link { e.links.insert(l.rawValue) }
            comm[node.op.rawValue] = e
        }
        for op in Operator.allCases where comm[op.rawValue] != nil {
            let e = comm[op.rawValue]!
            let groups = e.groups.count > 4 ? "\(e.groups.count) groups" : e.groups.sorted().joined(separator: "; ")
            md.append(
                "| \(op.rawValue) | \(e.count) | \(groups) | up to \(Format.bytes(e.each)) | \(Format.bytes(e.total)) | \(e.links.sorted().joined(separator: ", ")) |"
            )
        }
        let links = a.bytesByLink
        md += ["", "By link: " + LinkClass.allCases.map { "\($0.rawValue) \(Format.bytes(links[$0] ?? 0))" }.joined(separator: ", ") + "."]

        let parts = a.criticalPathBreakdown
        md += [
            "", "## Critical path", "",
            "The longest path through the DAG, every node at its priced duration and no resource limits: \(a.criticalPath.count) nodes, \(Format.seconds(a.criticalPathSeconds)).",
            "", "```", "total = \(a.getTimeExpression.isEmpty ? "(no matmuls)" : a.getTimeExpression)",
            "      = \(Format.seconds(parts.matmul)) of matmuls + \(Format.seconds(parts.communication)) of communication + \(Format.seconds(parts.other)) of other operators",
            "```", "", "| # | node | operator | where | Get_Time / traffic | time |", "|---:|---|---|---|---|---:|",
        ]
        let shown = a.criticalPath.prefix(80)
        for (i, v) in shown.enumerated() {
            let node = graph.nodes[v]
            let at = node.attributes
            let place = node.gpu.map { "GPU \($0)" } ?? "GPUs \(GPUList.compact(node.group))"
            let work =
                node.op == .matmul
                ? Markdown.code("Get_Time(\(at["m"] ?? "?"), \(at["k"] ?? "?"), \(at["n"] ?? "?"))")
                : (node.op.isCommunication
                    ? "\(Format.bytes(a.costs[v].sentBytesPerGPU)) per GPU"
                    : (a.costs[v].memoryBytes > 0 ? Format.bytes(a.costs[v].memoryBytes) : ""))
            md.append(
                "| \(i + 1) | \(Markdown.code(node.name)) | \(node.op.rawValue) | \(place) | \(work) | \(Format.seconds(a.costs[v].seconds)) |"
            )
        }
        if a.criticalPath.count > shown.count { md.append("| | ... \(a.criticalPath.count - shown.count) more | | | | |") }

        md += ["", "## Runtime", ""]
        md.append(
            "- Schedule (one kernel at a time per GPU, communication on its own stream): makespan **\(Format.seconds(a.makespanSeconds))**."
        )
        if let tps = a.tokensPerSecond {
            let micro = graph.attributes["micro_batches"].flatMap(Int.init) ?? 1
            md.append(
                "- Throughput of this DAG (\(count(micro, "micro-batch"))): **\(Format.rate(tps)) tokens/s**"
                    + (a.rooflineTPS.map {
                        "; the roofline bound is \(Format.rate($0)) tokens/s, \(Format.percent(tps / $0)) of it reached."
                    } ?? "."))
        }
        if let tpot = a.timePerOutputToken { md.append("- Time per output token: **\(Format.seconds(tpot))**.") }
        if let d = try? a.disaggregatedFigures() {
            md.append(
                "- Disaggregated: time to first token **\(Format.seconds(d.timeToFirstToken))** (the prefill's logits done); K/V caches moved to the decode GPUs \(Format.bytes(d.transferBytes)), the last in place at \(Format.seconds(d.transferDone)); time per output token **\(Format.seconds(d.timePerOutputToken))** (the decode step alone, its cache in place)."
            )
        }
        md.append("- Communication takes \(Format.percent(a.communicationShare)) of busy GPU time.")
        if !a.unboundSymbols.isEmpty {
            md.append(
                "- \(Self.symbolList(a.unboundSymbols)) symbolic: the times above set \(a.unboundSymbols.count == 1 ? "it" : "them") to 1, an illustration rather than a figure (`--bind \(a.unboundSymbols[0])=N`)."
            )
        }

        md += ["", "## Checks", ""]
        let structural = check.findings.count { $0.severity == .error && $0.rule != .memory }
        let overCount = a.memory.count { $0.overBytes != nil }
        md.append(
            "`deploydag check`: \(count(structural, "error")) in the DAG itself, \(count(check.warningCount, "warning"))\(overCount > 0 ? "; but the deployment does not fit in memory (below)" : "")."
        )
        for f in check.findings.prefix(20) { md.append("- `\(f.rule.rawValue)`: \(Markdown.text(f.message))") }
        let overMemory = memory.filter { $0.overBytes != nil }
        if let gpu = options.costModel.gpu, !overMemory.isEmpty {
            md.append(
                "- Memory: \(overMemory.count) of \(memory.count) GPUs do not fit in \(Format.article(gpu.name)) \(gpu.name) (\(gpu.memoryText)); the worst needs \(Format.bytes(overMemory.map(\.totalBytes).max()!))."
            )
        }

        if let spec {
            md += ["", "## Comparison", ""]
            var rows: [DeployDag.Compare.Row] = []
            rows.append(try DeployDag.Compare.row(for: spec, options: options, bindings: bindings))
            if let base = spec.baseline {
                rows.append(try DeployDag.Compare.row(for: loadPreset(base), options: options, bindings: bindings))
            }
            md += [
                "| deployment | prefill TPS | decode TPOT | micro-batches | claimed TPS | claimed TPOT | claims from |",
                "|---|---:|---:|---:|---:|---:|---|",
            ]
            for r in rows {
                md.append(
                    "| \(Markdown.text(r.deployment)) | \(r.prefill_tps.map(Format.rate) ?? "-") | \(r.decode_tpot_seconds.map(Format.seconds) ?? "-") | \(r.micro_batches.map(String.init) ?? "-") | \(r.claimed_tps.map(Format.rate) ?? "") | \(r.claimed_tpot_seconds.map(Format.seconds) ?? "") | \(r.claims_source ?? "") |"
                )
            }
            md += [""]
            md.append(
                "Each row is priced as `deploydag compare` prices it: prefill TPS from the prefill DAG, pipelined deployments with the micro-batches shown (2 per stage unless told otherwise, so that the stages overlap), which is why a pipelined row's TPS can differ from the Runtime section's figure for this DAG; decode TPOT from a one-token decode step."
            )
            let claimed = rows.filter { $0.claims_source != nil }
            if claimed.isEmpty {
                md.append("")
                md.append("No claimed figures: the spec names none.")
            } else {
                md.append("")
                md.append(
                    "Claimed figures are what the seed documents report for the same deployment, quoted beside deploydag's own estimates and never used by them: "
                        + claimed.map { r in
                            "\(Markdown.text(r.deployment)): \(r.claimed_tps.map { "\(Format.rate($0)) tokens/s in prefill" } ?? "")\(r.claimed_tps != nil && r.claimed_tpot_seconds != nil ? " and " : "")\(r.claimed_tpot_seconds.map { "\(Format.seconds($0)) per output token in decode" } ?? ""), from \(Markdown.text(r.claims_source!))"
                        }.joined(separator: "; ")
                        + ". The seeds' own arithmetic is wrong in places, so a gap between the two columns is not by itself a fault in the DAG."
                )
            }
        }
        md.append("")
        return md.joined(separator: "\n")
    }
}
