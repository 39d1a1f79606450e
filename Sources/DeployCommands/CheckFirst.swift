import ArgumentParser
import DOTFormat
import DeployChecker
import DeployModel
import Foundation

/// What `analyze`, `render` and `report` know about a DAG before they derive anything from it:
/// the checker's findings. Figures of a DAG with errors (a missing collective, a wrong shape)
/// describe some other computation, so these commands say so and exit 1.
struct CheckedGraph {
    var graph: OperatorGraph
    var report: CheckReport

    /// How many errors are printed before the count of the rest.
    static let printedErrors = 5

    /// The errors that make the figures untrustworthy. A GPU over its memory is not one of them:
    /// the DAG computes the model, it just does not fit, and `analyze` reports that itself.
    var errors: [Finding] { report.findings.filter { $0.severity == .error && $0.rule != .memory } }
    var errorCount: Int { report.errorCount - report.findings.count { $0.severity == .error && $0.rule == .memory } }

    /// A DAG file, read, checked, then bound. Read and schema errors leave no graph at all:
    /// they are printed and the command fails (`LoadedDAG.requireGraph`).
    static func load(file: String, bindings: [String: Int64], keepLabels: Bool = true) throws -> CheckedGraph {
        let progress = ProgressLine.standardError()
        defer { progress.finish() }
        let loaded = try LoadedDAG.load(file, keepLabels: keepLabels, progress: progress)
        return try checking(loaded, bindings: bindings, progress: progress)
    }

    /// A DAG already read, checked, then bound; fails as `load` does when it has no graph.
    static func checking(_ loaded: LoadedDAG, bindings: [String: Int64], progress: ProgressLine? = nil) throws -> CheckedGraph {
        _ = try loaded.requireGraph()
        let decoded = loaded.decoded!
        progress?.show("checking \(loaded.path): \(decoded.graph.nodes.count) nodes")
        let report = Checker().check(decoded, earlier: loaded.readFindings)
        do {
            return CheckedGraph(graph: try decoded.graph.binding(bindings), report: report)
        } catch {
            throw ValidationError("--bind: \(error)")
        }
    }

    /// A graph deploydag built, checked as `deploydag check` would check it written as DOT.
    static func built(_ graph: OperatorGraph) -> CheckedGraph {
        CheckedGraph(graph: graph, report: Checker().check(GraphDecoder.reading(graph)))
    }

    /// Prints, on standard error, the count of errors, the first few and what they mean for
    /// `what` (the figures, the drawing); returns whether there were any.
    @discardableResult
    func warnIfErrors(_ name: String, what: String) -> Bool {
        let errors = errors
        guard errorCount > 0 else { return false }
        printError(
            "deploydag: \(name): deploydag check finds \(count(errorCount, "error")) in this DAG\(errors.count > Self.printedErrors ? "; the first \(Self.printedErrors)" : ""):"
        )
        for finding in errors.prefix(Self.printedErrors) { printError("  " + finding.formatted.terminalEscaped) }
        if errorCount > Self.printedErrors {
            printError("  ... and \(errorCount - Self.printedErrors) more (deploydag check \(name) lists them)")
        }
        printError("deploydag: \(name): \(what) of a DAG with errors are not to be trusted; fix the errors first")
        return true
    }
}
