import ArgumentParser
import DOTFormat
import DeployChecker
import DeployModel
import DeployVerify
import Foundation

extension DeployDag {
    /// `deploydag check`: findings for DAG files, one per line.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check DAG files: syntax, schema, acyclicity, shapes, GPU placement and communication.",
            discussion: """
                Prints one finding a line as FILE:LINE: error[RULE]: message (node NAME), then a summary.
                Exit status: 0 when no file has an error, 1 when any has, 2 for bad usage or an unreadable file.

                Rules:
                \(Self.ruleList)
                """)

        /// The rules, a line each, their names padded to the longest (never cut).
        static var ruleList: String {
            let width = RuleID.catalogue.map(\.0.rawValue.count).max() ?? 0
            return RuleID.catalogue.map { "  \($0.0.rawValue.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.1)" }
                .joined(separator: "\n")
        }

        @Argument(help: "DOT files to check.", completion: .dotFiles)
        var files: [String]

        @Option(
            name: .long, parsing: .unconditional,
            help: "The number of GPUs the deployment must cover; overrides the graph's 'gpus' (default 16 when neither is given).")
        var gpus: Int?

        @Option(name: .long, help: "text or json.")
        var format: OutputFormat = .text

        @Flag(name: .long, help: "Print how long each phase took, on standard error.")
        var timings = false

        @Option(name: .long, parsing: .unconditional, help: "Refuse files larger than this many MB (default 4096).")
        var maxInputMb: Int = LoadedDAG.defaultLimitMB

        @Option(
            name: .long, parsing: .unconditional,
            help:
                "Print at most N findings of each rule per file, then one line with the count of the rest (default 20; 0 prints all). JSON carries every finding kept, at most \(Checker.maximumFindings) a file."
        )
        var maxFindings: Int = Self.defaultMaxFindings

        static let defaultMaxFindings = 20

        @Flag(
            name: .long,
            help:
                "Skip the semantic pass: by default a file whose graph states its model (graph attribute 'model') and that passes every rule is executed on small random data against that model, as verify does (a full-size file shrunk; up to 100,000 nodes)."
        )
        var noVerify = false

        /// The largest `--max-input-mb`: a terabyte, far past what libcgraph can hold, and small
        /// enough that the limit in bytes fits 64 bits.
        static let maximumInputMB = 1_000_000

        func validate() throws {
            if let gpus, gpus <= 0 || gpus > GPUList.maximum {
                throw ValidationError("--gpus must be a positive integer of at most \(GPUList.maximum), got \(gpus)")
            }
            if files.isEmpty { throw ValidationError("name at least one DOT file to check") }
            if maxFindings < 0 { throw ValidationError("--max-findings must be 0 (print all) or a positive integer, got \(maxFindings)") }
            if maxInputMb <= 0 || maxInputMb > Self.maximumInputMB {
                throw ValidationError(
                    "--max-input-mb must be a positive number of MB of at most \(Self.maximumInputMB) (1 TB), got \(maxInputMb)")
            }
        }

        func run() throws {
            var reports: [CheckReport] = []
            var unreadable: [String] = []
            let progress = ProgressLine.standardError()
            defer { progress.finish() }
            for file in files {
                do {
                    let loaded = try LoadedDAG.load(file, limitMB: maxInputMb, keepLabels: false, progress: progress)
                    if let decoded = loaded.decoded {
                        let clock = ContinuousClock()
                        let start = clock.now
                        progress.show("checking \(file): \(decoded.graph.nodes.count) nodes")
                        var report = Checker(gpus: gpus).check(decoded, earlier: loaded.readFindings)
                        if !noVerify && report.errorCount == 0 && decoded.graph.attributes["model"] != nil {
                            // The stated weights against the header first, at any size.
                            let mismatched = Verifier.weightsAgainstHeader(decoded.graph)
                            if mismatched.isEmpty {
                                progress.show("executing \(file): \(decoded.graph.nodes.count) nodes")
                                report.findings += Self.semanticPass(decoded, gpus: gpus)
                            } else {
                                report.findings += mismatched.map {
                                    Finding(
                                        .header, file: decoded.file, line: decoded.line(ofNode: $0.node),
                                        node: decoded.graph.nodes[$0.node].name,
                                        $0.message)
                                }
                            }
                        }
                        reports.append(report)
                        if timings {
                            for (phase, seconds) in loaded.timings + [("rules", (clock.now - start).seconds)] {
                                printError(
                                    "\(file): \(phase.padding(toLength: 24, withPad: " ", startingAt: 0)) \(String(format: "%8.3f", seconds)) s"
                                )
                            }
                        }
                    } else {
                        reports.append(CheckReport(file: loaded.path, findings: loaded.readFindings, nodeCount: 0, edgeCount: 0))
                    }
                } catch {
                    unreadable.append(file)
                    printError("deploydag: \(error)")
                }
            }
            progress.finish()
            switch format {
            case .text: printText(reports)
            case .json: try printJSON(reports, unreadable: unreadable)
            }
            if !unreadable.isEmpty { throw ExitCode(2) }
            if reports.contains(where: { $0.errorCount > 0 }) { throw ExitCode.failure }
        }

        /// verify's execution of a file check accepts: a `numeric` error when the outputs differ
        /// from the model's, a note when it cannot run (too big, or not a model verify knows).
        static func semanticPass(_ decoded: DecodedGraph, gpus: Int?) -> [Finding] {
            func note(_ message: String) -> Finding { Finding(.numeric, .note, file: decoded.file, message) }
            /// The line of the node named `name` (the executed graph keeps the file's names).
            func line(_ name: String?) -> Int? {
                name.flatMap { n in decoded.graph.nodes.firstIndex { $0.name == n } }.flatMap(decoded.line(ofNode:))
            }
            do {
                try Verifier.precheck(decoded.graph)
                let result = try Verifier.verify(Checker(gpus: gpus).annotated(decoded))
                if result.passes { return [] }
                if result.unplacedDrops > 0 {
                    return [
                        note(
                            "executed, inconclusive: \(result.unplacedDrops) token-expert assignments dropped for want of capacity could not be placed in the whole batch"
                        )
                    ]
                }
                return [
                    Finding(
                        .numeric, file: decoded.file, line: line(result.firstDifference?.node), node: result.firstDifference?.node,
                        String(
                            format:
                                "executed on random data, the DAG does not compute the model its graph attributes state: max relative error %.3e over %d outputs (tolerance %.0e); %@",
                            result.maxRelativeError, result.outputs, Verifier.tolerance,
                            result.firstDifference?.description
                                ?? "no node with a counterpart in the model differs before the outputs (a wrong slice, scale, wiring or collective that keeps every shape)"
                        ))
                ]
            } catch {
                if let node = error.headerMismatchNode {
                    return [
                        Finding(
                            .header, file: decoded.file, line: line(node), node: node,
                            "the node's weight and the graph attributes describe different models: \(error.description)")
                    ]
                }
                if error.overBudget {
                    return [note("semantic pass skipped: \(error.description); --no-verify skips it silently")]
                }
                return [note("semantic pass not run: \(error.description)")]
            }
        }

        private func printText(_ reports: [CheckReport]) {
            for report in reports {
                let file = report.file ?? "-"
                // The first N of each rule, in line order; then the count of the rest of each.
                var printed: [RuleID: Int] = [:]
                var hidden: [RuleID: Int] = [:]
                for finding in report.findings {
                    let n = printed[finding.rule, default: 0]
                    if maxFindings == 0 || n < maxFindings {
                        print(finding.formatted.terminalEscaped)
                        printed[finding.rule] = n + 1
                    } else {
                        hidden[finding.rule, default: 0] += 1
                    }
                }
                for (rule, n) in hidden.sorted(by: { $0.key < $1.key }) {
                    print(
                        "\(file): ... and \(n) more [\(rule.rawValue)] finding\(n == 1 ? "" : "s") not printed (--max-findings N prints more, 0 all)"
                            .terminalEscaped)
                }
                if report.errorCount == 0 && report.warningCount == 0 {
                    print("\(file): ok (\(report.nodeCount) nodes, \(report.edgeCount) edges)")
                } else {
                    print(
                        "\(file): \(count(report.errorCount, "error")), \(count(report.warningCount, "warning")) (\(report.nodeCount) nodes, \(report.edgeCount) edges)"
                    )
                }
            }
            if reports.count > 1 {
                let failed = reports.count { $0.errorCount > 0 }
                print("checked \(count(reports.count, "file")): \(failed) with errors, \(reports.count - failed) clean")
            }
        }

        private func printJSON(_ reports: [CheckReport], unreadable: [String]) throws {
            let document = CheckJSON(
                files: reports.map { report in
                    CheckJSON.File(
                        file: report.file ?? "-", nodes: report.nodeCount, edges: report.edgeCount,
                        errors: report.errorCount, warnings: report.warningCount,
                        findings: report.findings.map(CheckJSON.Item.init))
                },
                unreadable: unreadable,
                errors: reports.reduce(0) { $0 + $1.errorCount },
                warnings: reports.reduce(0) { $0 + $1.warningCount })
            print(try JSONOutput.encode(document))
        }
    }
}

func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

/// The `check --format json` document (keys documented in docs/cli.md).
struct CheckJSON: Encodable {
    struct Item: Encodable {
        var rule: String
        var severity: String
        var file: String?
        var line: Int?
        var node: String?
        var message: String

        init(_ finding: Finding) {
            rule = finding.rule.rawValue
            severity = finding.severity.rawValue
            file = finding.file
            line = finding.line
            node = finding.node
            message = finding.message
        }
    }

    struct File: Encodable {
        var file: String
        var nodes: Int
        var edges: Int
        var errors: Int
        var warnings: Int
        var findings: [Item]
    }

    var files: [File]
    var unreadable: [String]
    var errors: Int
    var warnings: Int
}

enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
