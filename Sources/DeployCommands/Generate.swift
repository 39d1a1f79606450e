import ArgumentParser
import DOTFormat
import DeployBuilders
import DeployModel

extension DeployDag {
    /// `deploydag generate`: a preset's operator DAG as DOT.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a deployment's operator DAG and write it as DOT.",
            discussion: "List the presets with 'deploydag presets'.")

        @Option(name: .long, help: "The preset to build (see 'deploydag presets').")
        var preset: String

        @Option(name: .shortAndLong, help: "Write the DOT here (atomically) instead of to standard output.")
        var output: String?

        @OptionGroup var overrides: ModelOverrides

        @Option(name: .long, help: "Which part to write: full, layer:N, or layer:N:BLOCK with BLOCK attention or mlp.")
        var view: GraphViewSelection = .full

        func run() throws {
            let graph = try overrides.build(preset: preset, view: view)
            let bytes = try DOTWriter().write(graph)
            if let output {
                try OutputFile.write(bytes, to: output)
            } else {
                writeStandardOutput(bytes)
            }
        }
    }
}

/// `--layers`, `--batch`, `--seq`: what a user changes about a preset's model.
struct ModelOverrides: ParsableArguments {
    @Option(name: .long, help: "Number of transformer layers.")
    var layers: Int?

    @Option(name: .long, help: "Batch size: an integer or a symbol such as B.")
    var batch: String?

    @Option(name: .long, help: "Sequence length: an integer or a symbol such as seq_len.")
    var seq: String?

    func validate() throws {
        if let layers, layers <= 0 { throw ValidationError("--layers must be a positive integer, got \(layers)") }
        for (flag, value) in [("--batch", batch), ("--seq", seq)] {
            guard let value else { continue }
            guard let dim = Dim(value), dim.isPositive else {
                throw ValidationError("\(flag) must be a positive integer or a symbol such as B, got '\(value)'")
            }
        }
    }

    func deployment(preset name: String) throws -> Deployment {
        guard let preset = Preset.named(name) else {
            throw ValidationError("unknown preset '\(name)'; known presets: \(Preset.all.map(\.name).joined(separator: ", "))")
        }
        return preset.deployment(layers: layers, batch: batch.flatMap(Dim.init), seq: seq.flatMap(Dim.init))
    }

    func build(preset name: String, view: GraphViewSelection) throws -> OperatorGraph {
        let deployment = try deployment(preset: name)
        let graph: OperatorGraph
        do {
            graph = try DeploymentBuilder().build(deployment)
        } catch {
            throw ValidationError("preset '\(name)' cannot be built with these options: \(error)")
        }
        return try view.apply(to: graph)
    }
}

/// `full`, `layer:N` or `layer:N:BLOCK`.
enum GraphViewSelection: ExpressibleByArgument, Equatable {
    case full
    case layer(Int, block: String?)

    init?(argument: String) {
        if argument == "full" {
            self = .full
            return
        }
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 3, parts[0] == "layer", let n = Int(parts[1]), n >= 0 else { return nil }
        self = .layer(n, block: parts.count == 3 ? String(parts[2]) : nil)
    }

    func apply(to graph: OperatorGraph) throws -> OperatorGraph {
        switch self {
        case .full:
            return graph
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
