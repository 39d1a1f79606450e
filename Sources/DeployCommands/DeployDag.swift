import ArgumentParser
import DeploySpecs

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
        subcommands: [
            Generate.self, Presets.self, Check.self, Info.self, Render.self, Analyze.self, Compare.self, Verify.self, Report.self,
            Plan.self, Diff.self, Export.self, Import.self, Calibrate.self, Docs.self,
        ]
    )

    public init() {}
}

/// `--format text|json`, shared by the commands that report.
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

extension DeployDag {
    /// The process entry point. Exit statuses: 0 clean, 1 findings or a failed operation,
    /// 2 bad usage (argument-parser's 64 is mapped to 2) or unreadable input.
    public static func runAsMain(_ arguments: [String]? = nil) -> Never {
        ExitReclaimed.process.enable()
        var parsed: ParsableCommand.Type = DeployDag.self
        do {
            var command = try parseAsRoot(arguments)
            parsed = type(of: command)
            try command.run()
            Self.exit()
        } catch var error as SpecFileError {
            error.file = PresetLocation.displayPath(error.file)
            printError(error.description)
            Self.exit(withError: ExitCode(2))
        } catch let error as CommandError {
            printError("deploydag: \(error)")
            Self.exit(withError: ExitCode(2))
        } catch {
            if exitCode(for: error) == .validationFailure {
                // Found after parsing (in run()): the usage shown is the subcommand's, as for
                // errors argument-parser finds itself.
                printError(parsed == DeployDag.self ? fullMessage(for: error) : Self.usageMessage(for: error, command: parsed))
                Self.exit(withError: ExitCode(2))
            }
            Self.exit(withError: error)
        }
    }
}

extension DeployDag {
    /// `Error: MESSAGE`, then the usage of `command` and where its help is.
    static func usageMessage(for error: Error, command: ParsableCommand.Type) -> String {
        let name = command.configuration.commandName ?? String(describing: command).lowercased()
        return "Error: \(message(for: error))\nUsage: \(usageString(for: command))\n  See 'deploydag \(name) --help' for more information."
    }
}
