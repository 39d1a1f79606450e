import ArgumentParser

/// `deploydag`: operator-level DAGs of LLM deployments over GPU clusters.
public struct DeployDag: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "deploydag",
        abstract: "Build, check and draw operator-level DAGs of LLM deployments over GPU clusters.",
        discussion: """
            A deployment is a transformer model plus a parallel strategy (Helix two-level attention \
            partitioning, tensor x pipeline parallel). deploydag builds its finest-granularity operator \
            DAG (every matmul, norm, softmax, activation and residual add on its GPU, every collective \
            and transfer as a node), writes it as Graphviz DOT, reads DOT back through libcgraph and \
            checks it.
            """,
        version: "0.1.0",
        subcommands: [Generate.self, Presets.self, Check.self, Info.self, Render.self]
    )

    public init() {}
}

/// `--format text|json`, shared by the commands that report.
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}
