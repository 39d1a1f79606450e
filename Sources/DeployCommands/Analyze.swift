import ArgumentParser
import DeployAnalysis
import DeployModel
import Foundation

extension DeployDag {
    /// `deploydag analyze`: critical path, schedule, throughput, memory.
    struct Analyze: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Estimate a DAG's runtime: critical path as Get_Time terms, resource-aware schedule, TPS/TPOT, per-GPU use, memory.",
            discussion:
                "Give a DOT file, or a deployment with --preset/--spec. Every number is derived from the graph and priced by the cost model the report names."
        )

        @Argument(help: "The DOT file (or name a deployment with --preset/--spec).", completion: .dotFiles)
        var file: String?

        @OptionGroup var source: DeploymentOptions
        @OptionGroup var costs: CostOptions

        @Option(name: .long, help: "text or json.")
        var format: OutputFormat = .text

        @Option(name: .long, help: "Write the schedule as Chrome trace events (open in Perfetto).")
        var trace: String?

        @Option(name: .long, help: "Write the schedule as an SVG Gantt chart, a row per GPU.")
        var gantt: String?

        @Flag(name: .long, help: "List every node's slack (text) or include it in the JSON.")
        var slack = false

        @Flag(name: .long, help: "List the overview diagram's blocks and their figures (always in the JSON).")
        var blocks = false

        func validate() throws {
            try source.validate(file: file)
            for (flag, path) in [("--trace", trace), ("--gantt", gantt)] {
                if let path, OutputFile.isStandardOutput(path) {
                    throw ValidationError("\(flag) \(path): standard output already carries the analysis; name a file")
                }
            }
        }

        func run() throws {
            let inputs = [file].compactMap { $0 } + source.inputFiles + costs.inputFiles
            try OutputFile.preflight(trace, gantt, inputs: inputs)
            let checked =
                try file.map { try CheckedGraph.load(file: $0, bindings: source.bindings(), keepLabels: false) }
                ?? CheckedGraph.built(source.build().graph)
            let graph = checked.graph
            let analysis: Analysis
            do {
                analysis = try Analysis(graph: graph, options: costs.options())
            } catch let error as AnalysisError {
                printError("deploydag: \(error)")
                throw ExitCode.failure
            }
            let report = AnalysisReport(analysis, includeSlack: slack)
            switch format {
            case .text: print(report.text(listSlack: slack, listBlocks: blocks))
            case .json:
                var json = report.json
                json.check_errors = checked.errorCount
                print(try JSONOutput.encode(json))
            }
            let untrusted = checked.warnIfErrors(file.map(LoadedDAG.displayName) ?? graph.name, what: "the figures")
            if let trace { try OutputFile.write(ChromeTrace.json(analysis), to: trace, inputs: inputs) }
            if let gantt { try OutputFile.write(GanttChart.svg(analysis, title: "\(graph.name): schedule"), to: gantt, inputs: inputs) }
            if untrusted || report.findings.contains(where: { $0.severity == .error }) { throw ExitCode.failure }
        }
    }
}

/// The graph of a DOT file, which must check without errors, with `--bind` applied.
/// Labels are read only when `keepLabels` (diagrams draw them; numbers do not need them).
func loadGraph(file: String, bindings: [String: Int64], keepLabels: Bool = true) throws -> OperatorGraph {
    // An unreadable file is a CommandError: "deploydag: ..." and exit 2 (runAsMain).
    let progress = ProgressLine.standardError()
    defer { progress.finish() }
    let loaded = try LoadedDAG.load(file, keepLabels: keepLabels, progress: progress)
    let graph = try loaded.requireGraph()
    do {
        return try graph.binding(bindings)
    } catch {
        throw ValidationError("--bind: \(error)")
    }
}
