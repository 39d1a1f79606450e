import ArgumentParser
import DOTFormat
import DeployAnalysis
import DeployBuilders
import DeployModel
import DeploySpecs

extension DeployDag {
    /// `deploydag generate`: a preset's operator DAG as DOT.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a deployment's operator DAG and write it as DOT.",
            discussion: "Name a preset (see 'deploydag presets') or a spec file (docs/specs.md).")

        @OptionGroup var source: DeploymentOptions

        @Option(
            name: .shortAndLong,
            help: "Write the DOT here (atomically; through a link to its target; '-' for standard output, the default).")
        var output: String?

        @Option(
            name: .long, help: "Which part to write: full, layer:N, layer:N:BLOCK (attention, mlp, moe, pipeline) or gpu:G.",
            completion: .views)
        var view: GraphViewSelection = .full

        @Flag(name: .long, help: "Print how long building and writing took, on standard error.")
        var timings = false

        func validate() throws {
            if !source.isGiven { throw ValidationError("name a deployment with --preset NAME or --spec FILE") }
        }

        func run() throws {
            try OutputFile.preflight(output, inputs: source.inputFiles)
            let clock = ContinuousClock()
            let start = clock.now
            let progress = ProgressLine.standardError()
            defer { progress.finish() }
            progress.show("building the DAG")
            let graph = try view.apply(to: source.build().graph)
            defer { ExitReclaimed.process.keep(graph) }
            let built = clock.now
            if let output, !OutputFile.isStandardOutput(output) {
                // Rendered on every core while the file is written: the text is never whole in memory.
                progress.show("writing \(graph.nodes.count) nodes as DOT to \(output)")
                var bytes = 0
                try OutputFile.write(to: output, inputs: source.inputFiles) { emit in
                    try DOTWriter().stream(graph) { piece in
                        try emit(piece)
                        bytes += piece.count
                    }
                }
                progress.finish()
                if timings {
                    printError("build \(graph.nodes.count) nodes: \(String(format: "%.3f", (built - start).seconds)) s")
                    printError(
                        "write \(Format.bytes(Double(bytes))) of DOT to \(output), rendering and saving: \(String(format: "%.3f", (clock.now - built).seconds)) s"
                    )
                }
            } else {
                // Rendered whole before any of it is written: an error leaves standard output empty.
                progress.show("writing \(graph.nodes.count) nodes as DOT")
                // Kept as the pieces it is rendered in: no one array of the whole text, no copy of it.
                var pieces: [[UInt8]] = []
                try DOTWriter().stream(graph) { pieces.append(Array($0)) }
                progress.finish()
                let written = clock.now
                for piece in pieces { writeStandardOutput(piece) }
                if timings {
                    let bytes = Format.bytes(Double(pieces.reduce(0) { $0 + $1.count }))
                    printError("build \(graph.nodes.count) nodes: \(String(format: "%.3f", (built - start).seconds)) s")
                    printError("write \(bytes) of DOT: \(String(format: "%.3f", (written - built).seconds)) s")
                    printError("save to standard output: \(String(format: "%.3f", (clock.now - written).seconds)) s")
                }
            }
        }
    }
}

/// `full`, `overview` (render only), `layer:N`, `layer:N:BLOCK` or `gpu:G`.
enum GraphViewSelection: ExpressibleByArgument, Equatable {
    case full
    case overview
    case layer(Int, block: String?)
    case gpu(Int)

    init?(argument: String) {
        if argument == "full" {
            self = .full
            return
        }
        if argument == "overview" {
            self = .overview
            return
        }
        if argument.hasPrefix("gpu:"), let g = Int(argument.dropFirst(4)), g >= 0 {
            self = .gpu(g)
            return
        }
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 3, parts[0] == "layer", let n = Int(parts[1]), n >= 0 else { return nil }
        self = .layer(n, block: parts.count == 3 ? String(parts[2]) : nil)
    }

    func apply(to graph: OperatorGraph) throws -> OperatorGraph {
        switch self {
        case .full, .overview:
            return graph
        case .gpu(let g):
            guard graph.nodes.contains(where: { $0.gpus.contains(g) }) else {
                throw ValidationError("no node of the graph runs on GPU \(g)")
            }
            return graph.view(named: "\(graph.name).gpu\(g)", description: "GPU \(g) of \(graph.name)", selecting: { $0.gpus.contains(g) })
        case .layer(let n, let block):
            let layers = Set(graph.nodes.compactMap(\.layer))
            guard layers.contains(n) else {
                throw ValidationError(
                    "the graph has no layer \(n); its layers are \(layers.sorted().map(String.init).joined(separator: ", "))")
            }
            if let block {
                let blocks = Set(graph.nodes.filter { $0.layer == n }.compactMap(\.block))
                guard blocks.contains(block) else {
                    throw ValidationError("layer \(n) has no block '\(block)'; its blocks are \(blocks.sorted().joined(separator: ", "))")
                }
            }
            let suffix = block.map { "-\($0)" } ?? ""
            return graph.view(
                named: "\(graph.name).layer\(n)\(suffix)",
                description: "layer \(n)\(block.map { " \($0)" } ?? "") of \(graph.name)",
                selecting: { $0.layer == n && (block == nil || $0.block == block) })
        }
    }
}
