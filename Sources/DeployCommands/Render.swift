import ArgumentParser
import DeployAnalysis
import DeployDiagrams
import DeployModel
import Foundation
import GraphvizBridge

extension DeployDag {
    /// `deploydag render`: an SVG diagram of a DAG file.
    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a DAG file as SVG: a cluster per GPU, colours by operator class, communication between.")

        @Argument(help: "The DOT file.", completion: .dotFiles)
        var file: String

        @Option(
            name: .shortAndLong,
            help: "Where to write the drawing (atomically; '-' for standard output, the default). Its extension picks the format.")
        var output: String = OutputFile.standardOutputName

        @Option(
            name: .long,
            help:
                "svg (default), png, pdf, json (graphviz's layout), dot (the styled diagram) or html (an interactive page: pan, zoom, search, node details); must agree with -o's extension."
        )
        var format: DrawingFormat?

        @Option(name: .long, help: "The diagram's title (default: the graph's name and its view).")
        var title: String?

        @Option(name: .long, help: "Also write the styled DOT that graphviz lays out, for tweaking by hand.")
        var diagramDot: String?

        @Flag(name: .long, help: "Lay out and write the SVG even when the existing one was drawn from the same diagram.")
        var force = false

        @Option(name: .long, help: "full (default), overview, layer:N, layer:N:BLOCK or gpu:G.", completion: .views)
        var view: GraphViewSelection = .full

        @Flag(
            name: .long,
            help:
                "Lay out every node even past \(LayoutSize.largeLayout) nodes and edge segments, where graphviz's dot takes minutes to hours."
        )
        var allowLarge = false

        @Flag(name: .long, help: "Draw every GPU, not one for each set of GPUs that run the same operators on the same shapes.")
        var unfold = false

        @Flag(name: .long, help: "Do not highlight the critical path (roofline cost model).")
        var noCriticalPath = false

        /// The cost model the drawing's figures and critical path come from.
        static let pricedBy =
            "the \(AnalysisOptions.standard.costModel.name) model on \(AnalysisOptions.standard.costModel.gpu!.name) (docs/calibration.md)"

        @Option(name: .long, parsing: .singleValue, help: "Give a symbol a value, as NAME=VALUE (repeatable), for the figures.")
        var bind: [String] = []

        func validate() throws {
            _ = try DrawingFormat.choose(output: output, format: format)
            if let diagramDot, diagramDot == output, output != OutputFile.standardOutputName {
                throw ValidationError("--diagram-dot \(diagramDot) is also -o: name two files")
            }
        }

        func run() throws {
            let drawing = try DrawingFormat.choose(output: output, format: format)
            try OutputFile.preflight(output, diagramDot, inputs: [file])
            // A stream is read once, kept for a plain drawing should it not be a deploydag DAG.
            var streamed: [UInt8]?
            let loaded: LoadedDAG
            if LoadedDAG.isStream(file) {
                let read = try LoadedDAG.readStream(file, limitBytes: LoadedDAG.defaultLimitMB * 1_000_000)
                streamed = read.complete ? read.bytes : nil
                loaded = LoadedDAG.decoding(read, name: LoadedDAG.displayName(file))
            } else {
                // An unreadable file is a CommandError: "deploydag: ..." and exit 2 (runAsMain).
                loaded = try LoadedDAG.load(file)
            }
            guard loaded.decoded != nil, !loaded.allFindings.contains(where: { $0.severity == .error }) else {
                return try drawPlain(loaded, streamed: streamed, drawing: drawing)
            }
            let checked = try CheckedGraph.checking(loaded, bindings: try parseBindings(bind))
            // A DAG with errors is still drawn (a drawing helps find them), with its findings on
            // the nodes they name, and the exit status says so.
            let untrusted = checked.warnIfErrors(LoadedDAG.displayName(file), what: "the drawing's critical path and figures")
            try draw(checked.graph, findings: untrusted ? checked.report.findings.filter { $0.severity == .error } : [], drawing: drawing)
            if untrusted { throw ExitCode.failure }
        }

        /// graphviz's JSON with the control characters it copies from names raw (which no JSON
        /// parser reads inside a string) written as `\u00XX`.
        static func jsonWithEscapedControls(_ bytes: [UInt8]) -> [UInt8] {
            guard bytes.contains(where: { $0 < 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { return bytes }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 64)
            for b in bytes {
                if b < 0x20 && b != 0x0A && b != 0x0D && b != 0x09 {
                    let hex = String(b, radix: 16)
                    out += Array("\\u00\(hex.count < 2 ? "0" : "")\(hex)".utf8)
                } else {
                    out.append(b)
                }
            }
            return out
        }

        /// graphviz's output written to `-o`: its JSON with control characters escaped, and
        /// nothing at all (exit 1) when graphviz wrote nothing (cairo out of memory, say).
        private func writeRendered(_ rendered: [UInt8], drawing: DrawingFormat) throws {
            guard !rendered.isEmpty else {
                printError(
                    "deploydag: \(LoadedDAG.displayName(file)): graphviz wrote an empty \(drawing.rawValue) (see its messages above); nothing written"
                )
                throw ExitCode.failure
            }
            try OutputFile.write(drawing == .json ? Self.jsonWithEscapedControls(rendered) : rendered, to: output, inputs: [file])
        }

        /// The interactive page, kept when one drawn from the same diagram and data is there.
        private func writePage(_ page: InteractivePage, dot: String) throws {
            if !force, case .regular(let path, existing: _?) = try OutputFile.Destination.resolve(output, inputs: [file]),
                DiagramFingerprint.isCurrent(path, closing: "</html>", fingerprint: page.fingerprint(diagram: dot))
            {
                return
            }
            let svg: [UInt8]
            do {
                svg = try SVGRenderer.render(dot: dot)
            } catch {
                printError("deploydag: \(file): \(error)")
                throw ExitCode.failure
            }
            try OutputFile.write(page.html(svg: svg, diagram: dot), to: output, inputs: [file])
        }

        /// A file libcgraph reads that is not a deploydag DAG (no node has an `op`), drawn as
        /// plain Graphviz with its own attributes; or one whose schema errors leave no graph,
        /// drawn the same way, its errors printed, exit 1.
        private func drawPlain(_ loaded: LoadedDAG, streamed: [UInt8]?, drawing: DrawingFormat) throws {
            let name = LoadedDAG.displayName(file)
            let bytes: [UInt8]
            if let streamed {
                bytes = streamed
            } else if !LoadedDAG.isStream(file), let data = FileManager.default.contents(atPath: file) {
                bytes = [UInt8](data)
            } else {
                _ = try loaded.requireGraph()
                return
            }
            let read = DOTReader.read(bytes: bytes, file: name)
            guard let document = read.document, loaded.readFindings.allSatisfy({ $0.severity != .error }) else {
                _ = try loaded.requireGraph()  // unparsable: its syntax errors, exit 1
                return
            }
            let schemaless = !(document.nodeColumns["op"]?.contains { !$0.isEmpty } ?? false)
            // The layout budget holds for any file: dot takes hours on a complete DAG of 60
            // nodes and overflows its stack on hundreds of thousands of edges between a pair.
            let size = LayoutSize(nodeCount: document.nodeNames.count, edges: document.edges.map { ($0.tail, $0.head) })
            if size.parallelEdges > LayoutSize.parallelLimit || (size.isLarge && !allowLarge) {
                let why =
                    size.parallelEdges > LayoutSize.parallelLimit
                    ? "\(size.parallelEdges) edges join one pair of nodes, more than the \(LayoutSize.parallelLimit) graphviz can lay out without overflowing its stack (--allow-large does not lift this)"
                    : "\(size.nodes) nodes and \(size.edges) edges (\(size.segments) nodes and edge segments, over \(LayoutSize.largeLayout)) are too many for graphviz's dot to lay out in reasonable time; --allow-large insists"
                printError("deploydag: \(name): \(why); nothing drawn")
                throw ExitCode.failure
            }
            let errors = loaded.allFindings.filter { $0.severity == .error }
            if schemaless {
                printError(
                    "deploydag: \(name): no node has an op attribute, so this is not a deploydag DAG (docs/dot-schema.md); drawn as plain Graphviz, its own attributes kept"
                )
            } else {
                for finding in errors.prefix(CheckedGraph.printedErrors) { printError(finding.formatted) }
                printError(
                    "deploydag: \(name): \(errors.count) schema error\(errors.count == 1 ? "" : "s") leave no deploydag graph to draw (deploydag check \(name)); drawn as plain Graphviz instead"
                )
            }
            guard drawing != .dot else {
                try OutputFile.write(bytes, to: output, inputs: [file])
                if !schemaless { throw ExitCode.failure }
                return
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let rendered = try SVGRenderer.render(dot: text, format: drawing == .html ? "svg" : drawing.rawValue)
                if drawing == .html {
                    var page = InteractivePage(title: "\(name) (plain Graphviz)", pricedBy: "nothing: not a deploydag DAG")
                    page.findings = errors.map { ($0.formatted, $0.node) }
                    try OutputFile.write(page.html(svg: rendered, diagram: text), to: output, inputs: [file])
                } else {
                    try writeRendered(rendered, drawing: drawing)
                }
            } catch let failure as SVGRenderer.Failure {
                printError("deploydag: \(name): \(failure)")
                throw ExitCode.failure
            }
            if !schemaless { throw ExitCode.failure }
        }

        private func draw(_ full: OperatorGraph, findings: [Finding], drawing: DrawingFormat) throws {
            var graph = try view.apply(to: full)
            var overview = view == .overview
            if !overview {
                // Measured before any layout: dot's time follows the nodes plus the ranks each
                // edge crosses, and thousands of edges between one pair overflow its stack.
                let size = LayoutSize(graph)
                var why: String?
                if size.parallelEdges > LayoutSize.parallelLimit, let (a, b) = size.parallelPair {
                    why =
                        "\(size.parallelEdges) edges join \(graph.nodes[a].name) to \(graph.nodes[b].name), more than the \(LayoutSize.parallelLimit) graphviz can lay out between one pair without overflowing its stack (deploydag check reports them as duplicate-edge); drawing the overview, which draws one edge a pair, instead. --allow-large does not lift this limit."
                } else if size.isLarge && !allowLarge {
                    why =
                        "\(size.nodes) nodes and \(size.edges) edges crossing \(size.segments - size.nodes) ranks in all (\(size.segments) nodes and edge segments, over \(LayoutSize.largeLayout)) are too many for graphviz's dot to lay out in reasonable time; drawing the overview instead. Use --view layer:N or gpu:G for detail, or --allow-large to insist."
                }
                if let why {
                    printError("deploydag: \(file): \(why)")
                    overview = true
                    graph = full
                }
            }
            let analysis = try? Analysis(
                graph: graph,
                options: .standard)
            let viewName = overview ? "overview" : graph.attributes["view"]
            let heading = title ?? ([graph.name, viewName.map { "(\($0))" }].compactMap { $0 }.joined(separator: " "))
            let dot: String
            var folding: Folding?
            if overview {
                dot = try Overview().dot(
                    for: graph,
                    title: heading + "\n\(noCriticalPath ? "" : "critical path in pink; ")FLOPs, bytes and times under \(Self.pricedBy)",
                    analysis: analysis, showCriticalPath: !noCriticalPath)
            } else {
                var diagram = Diagram(
                    title: heading, criticalPath: noCriticalPath ? [] : analysis?.criticalPath ?? [], fold: !unfold, findings: findings)
                if let analysis { diagram.figures = Diagram.Figures(analysis, pricedBy: Self.pricedBy) }
                folding = diagram.folding(for: graph)
                dot = try diagram.dot(for: graph, folding: folding)
            }
            if let diagramDot { try OutputFile.write(dot, to: diagramDot, inputs: [file]) }
            if drawing == .dot { return try OutputFile.write(dot, to: output, inputs: [file]) }
            if drawing == .html {
                var page = InteractivePage(title: heading, pricedBy: Self.pricedBy)
                if overview {
                    let breakdown = analysis.map { BlockBreakdown($0) } ?? BlockBreakdown(graph: graph, costs: nil)
                    for (i, block) in breakdown.blocks.enumerated() {
                        page.details["n\(i)"] =
                            [("block", block.title), ("GPUs", GPUList.compact(Array(block.figures.gpus)))]
                            + [("operators", String(block.figures.nodes))] + block.figures.lines.map { ("figures", $0) }
                            + block.collectives.map { ("communication", $0.text) }
                    }
                } else {
                    page.describe(graph, analysis: analysis, folding: folding)
                }
                page.findings = findings.map { ($0.formatted, $0.node) }
                return try writePage(page, dot: dot)
            }
            // Graphviz lays the same diagram out differently from run to run; an SVG already
            // drawn from this exact diagram is kept rather than replaced by an equivalent one.
            if drawing == .svg, !force, case .regular(let path, existing: _?) = try OutputFile.Destination.resolve(output, inputs: [file]),
                DiagramFingerprint.isCurrent(path, closing: "</svg>", fingerprint: DiagramFingerprint.hash(dot))
            {
                return
            }
            var rendered: [UInt8]
            do {
                rendered = try SVGRenderer.render(dot: dot, format: drawing.rawValue)
            } catch {
                printError("deploydag: \(file): \(error)")
                throw ExitCode.failure
            }
            if drawing == .svg { rendered = DiagramFingerprint.stamp(svg: rendered, diagram: dot) }
            try writeRendered(rendered, drawing: drawing)
        }
    }
}

/// What `render` writes: a libgvc output format, or the styled diagram's DOT.
enum DrawingFormat: String, ExpressibleByArgument, CaseIterable {
    case svg, png, pdf, json, dot
    /// A self-contained interactive page around the SVG (`InteractivePage`).
    case html

    /// The format `-o`'s extension names, or `--format`; refuses a disagreement and an extension
    /// that names no format. A path without an extension, and standard output, default to SVG.
    static func choose(output: String, format: DrawingFormat?) throws -> DrawingFormat {
        let name = output.split(separator: "/").last.map(String.init) ?? output
        let dot = name.lastIndex(of: ".").flatMap { $0 == name.startIndex ? nil : $0 }
        guard output != OutputFile.standardOutputName, let dot else { return format ?? .svg }
        let ext = name[name.index(after: dot)...].lowercased()
        guard let byExtension = ext == "gv" ? .dot : DrawingFormat(rawValue: ext) else {
            if let format { return format }
            throw ValidationError(
                "-o \(output): the extension .\(ext) names no format render writes; use one of \(allCases.map { ".\($0.rawValue)" }.joined(separator: ", ")) or give --format"
            )
        }
        if let format, format != byExtension {
            throw ValidationError("-o \(output) names \(byExtension.rawValue) but --format says \(format.rawValue); make them agree")
        }
        return byExtension
    }
}
