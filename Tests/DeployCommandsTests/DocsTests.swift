import DOTFormat
import DeployChecker
import DeployModel
import Foundation
import Testing

@testable import DeployCommands
@testable import DeploySpecs

/// The documents that describe the tool: README.md and docs/*.md.
func documentationFiles() throws -> [(name: String, text: String)] {
    let docs = repositoryRoot.appendingPathComponent("docs")
    let names = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }.sorted()
    return try [("README.md", String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8))]
        + names.map { ("docs/\($0)", try String(contentsOf: docs.appendingPathComponent($0), encoding: .utf8)) }
}

/// Each command's long and short options, from the argument parser's own description of the tool
/// (`--experimental-dump-help`); the root's under "".
func optionsByCommand() throws -> [String: Set<String>] {
    let r = try CLI.run(["--experimental-dump-help"])
    let tool = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let root = try #require(tool["command"] as? [String: Any])
    func options(_ command: [String: Any]) -> Set<String> {
        var found: Set<String> = ["--help", "-h"]
        for argument in command["arguments"] as? [[String: Any]] ?? [] {
            for name in argument["names"] as? [[String: Any]] ?? [] {
                guard let text = name["name"] as? String, let kind = name["kind"] as? String else { continue }
                found.insert(kind == "short" ? "-\(text)" : "--\(text)")
            }
        }
        return found
    }
    var result: [String: Set<String>] = ["": options(root).union(["--generate-completion-script", "--experimental-dump-help"])]
    for sub in root["subcommands"] as? [[String: Any]] ?? [] {
        if let name = sub["commandName"] as? String { result[name] = options(sub) }
    }
    return result
}

/// A `--flag` (or `-o`) written after `deploydag SUB` on one command line, or written bare.
struct DocumentedFlag: Hashable, CustomStringConvertible {
    var file: String
    var line: Int
    /// The commands the flag may belong to; empty for "any command".
    var commands: [String]
    var flag: String
    var description: String { "\(file):\(line): \(flag) (\(commands.isEmpty ? "any command" : commands.joined(separator: " or ")))" }
}

/// Every flag the documents write, with the command it is written under: a code block's or an
/// inline code span's `deploydag SUB ... --flag` (up to a pipe, `;`, `&&` or a comment), an
/// inline span `SUB --flag` naming a command, and in docs/cli.md a bare `--flag` under a `## SUB`
/// heading; elsewhere a bare `--flag` span must belong to some command.
func documentedFlags(commands: Set<String>) throws -> [DocumentedFlag] {
    let flagPattern = try NSRegularExpression(pattern: #"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])"#)
    func flags(in text: String) -> [String] {
        flagPattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range(at: 1), in: text)!]) }
    }
    /// `deploydag SUB args` pieces of a command line, each with the text after SUB.
    func invocations(_ line: String) -> [(String, String)] {
        var found: [(String, String)] = []
        for segment in line.components(separatedBy: "|").flatMap({ $0.components(separatedBy: "&&") }).flatMap({
            $0.components(separatedBy: ";")
        }) {
            let code = segment.components(separatedBy: " #").first ?? segment
            let words = code.split(separator: " ").map(String.init)
            guard let i = words.firstIndex(where: { $0 == "deploydag" || $0.hasSuffix("/deploydag") || $0 == "$(DEPLOYDAG)" }) else {
                continue
            }
            let rest = Array(words[(i + 1)...])
            if let sub = rest.first, commands.contains(sub) {
                found.append((sub, rest.dropFirst().joined(separator: " ")))
            } else {
                found.append(("", rest.joined(separator: " ")))
            }
        }
        return found
    }
    var result: [DocumentedFlag] = []
    for (file, text) in try documentationFiles() where file != "docs/cli-reference.md" {
        var inCode = false
        var section: [String] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).enumerated() {
            if line.hasPrefix("```") {
                inCode.toggle()
                continue
            }
            if inCode {
                for (sub, args) in invocations(line) {
                    result += flags(in: args).map { DocumentedFlag(file: file, line: n + 1, commands: [sub], flag: $0) }
                }
                continue
            }
            if line.hasPrefix("## ") {
                section = line.dropFirst(3).split(separator: " ").map(String.init).filter(commands.contains)
            }
            let spans = line.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            for span in spans {
                let words = span.split(separator: " ").map(String.init)
                if !invocations(span).isEmpty {
                    for (sub, args) in invocations(span) {
                        result += flags(in: args).map { DocumentedFlag(file: file, line: n + 1, commands: [sub], flag: $0) }
                    }
                } else if let first = words.first, commands.contains(first), words.count > 1, words[1].hasPrefix("-") {
                    result += flags(in: span).map { DocumentedFlag(file: file, line: n + 1, commands: [first], flag: $0) }
                } else if let first = words.first, first.hasPrefix("--") {
                    let under = file == "docs/cli.md" ? section : []
                    result.append(DocumentedFlag(file: file, line: n + 1, commands: under, flag: first))
                }
            }
        }
    }
    return result
}

/// Issue 18, item 6: documents that cannot drift from the tool.
@Suite struct DocsTests {
    @Test func everyDocumentedFlagExistsInItsCommand() throws {
        let options = try optionsByCommand()
        let commands = Set(options.keys.filter { !$0.isEmpty })
        #expect(commands.isSuperset(of: ["generate", "check", "analyze", "compare", "report"]))
        let documented = try documentedFlags(commands: commands)
        // The scan finds what it should: flags under their commands, and bare ones.
        #expect(documented.contains { $0.commands == ["check"] && $0.flag == "--max-findings" })
        #expect(documented.contains { $0.file == "docs/analysis.md" && $0.flag == "--nvlink-gbps" })
        #expect(documented.count > 60)
        let all = options.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        let missing = documented.filter { flag in
            flag.commands.isEmpty ? !all.contains(flag.flag) : !flag.commands.contains { options[$0]?.contains(flag.flag) == true }
        }
        #expect(missing.isEmpty, "flags the documents write that the tool lacks:\n\(missing.map(\.description).joined(separator: "\n"))")
    }

    @Test func theScanCatchesAFlagUnderTheWrongCommand() throws {
        // A doc that says `deploydag check --slack` must fail: --slack is analyze's.
        let options = try optionsByCommand()
        #expect(options["analyze"]?.contains("--slack") == true)
        #expect(options["check"]?.contains("--slack") == false)
        #expect(options["analyze"]?.contains("--nvlink-gbps") == true && options["analyze"]?.contains("--nvlink-g-bps") == true)
    }

    @Test func everyRuleIsInTheSchemaDocument() throws {
        let schema = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/dot-schema.md"), encoding: .utf8)
        let rules = schema.components(separatedBy: "## Rules").last ?? ""
        for (rule, _) in RuleID.catalogue {
            #expect(rules.contains("`\(rule.rawValue)`"), "docs/dot-schema.md's rules table lacks `\(rule.rawValue)`")
        }
    }

    @Test func checkHelpPrintsEveryRuleNameWhole() throws {
        let r = try CLI.run(["check", "--help"])
        for (rule, _) in RuleID.catalogue {
            #expect(r.stdout.contains("  \(rule.rawValue)  "), "check --help cuts or lacks \(rule.rawValue)")
        }
    }

    /// Every attribute deploydag's schema names (DOTSchema's constants, the builders' common
    /// attribute names) and every graph or node attribute the builders write into dags/.
    @Test func everyAttributeIsInTheSchemaDocument() throws {
        let schema = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/dot-schema.md"), encoding: .utf8)
        let source = try String(contentsOf: repositoryRoot.appendingPathComponent("Sources/DOTFormat/DOTSchema.swift"), encoding: .utf8)
        let constant = try NSRegularExpression(pattern: #"static let \w+ = "([a-z_]+)""#)
        var names = Set(
            constant.matches(in: source, range: NSRange(source.startIndex..., in: source)).map {
                String(source[Range($0.range(at: 1), in: source)!])
            })
        #expect(names.isSuperset(of: ["op", "gpu", "eq", "q_offset", "rotary_dim"]))
        names.formUnion(NodeAttributes.commonNames)
        let attribute = try NSRegularExpression(pattern: #"[\[,] ?([a-z_]+)="#)
        let dags = repositoryRoot.appendingPathComponent("dags")
        for directory in try FileManager.default.contentsOfDirectory(atPath: dags.path) {
            let folder = dags.appendingPathComponent(directory)
            for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".dot") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                for m in attribute.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    names.insert(String(text[Range(m.range(at: 1), in: text)!]))
                }
            }
        }
        let missing = names.filter { !schema.contains("`\($0)`") }.sorted()
        #expect(missing.isEmpty, "docs/dot-schema.md does not name: \(missing.joined(separator: ", "))")
    }

    @Test func everySpecKeyIsInTheSpecDocument() throws {
        let specs = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/specs.md"), encoding: .utf8)
        let keys = SpecParser.topKeys.union(SpecParser.modelKeys).union(SpecParser.strategyKeys.values.flatMap { $0 })
            .union(SpecParser.strategyKeys.keys)
        // A key is named in prose (`key`) or written in a YAML example, perhaps commented out (`# key: ...`).
        let lines = specs.split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces).drop { $0 == "#" || $0 == " " }
        }
        let missing = keys.filter { key in
            !specs.contains("`\(key)`") && !specs.contains("`\(key):") && !lines.contains { $0.hasPrefix("\(key):") }
        }.sorted()
        #expect(missing.isEmpty, "docs/specs.md does not name the spec keys: \(missing.joined(separator: ", "))")
    }

    /// Issue 18, item 8: the benchmark's floor is a checker that exits (no agclose, which a
    /// checker never needs), and docs/benchmarks.md reports wall, CPU and memory ratios against it.
    @Test func theBenchmarkFloorNeverFreesAndTheRatiosAreRecorded() throws {
        let floor = try String(contentsOf: repositoryRoot.appendingPathComponent("bench/floor.c"), encoding: .utf8)
        let code = floor.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("*") && !$0.hasPrefix("/*") }
        #expect(!code.contains { $0.contains("agclose(") }, "bench/floor.c frees the graph: the floor would be slower than a checker needs")
        #expect(code.contains { $0.contains("agread(") } && code.contains { $0.contains("agget(") })
        let measure = try String(contentsOf: repositoryRoot.appendingPathComponent("bench/measure.c"), encoding: .utf8)
        #expect(measure.contains("ru_utime") && measure.contains("ru_stime"), "bench/measure.c does not report CPU time")
        let report = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/benchmarks.md"), encoding: .utf8)
        for column in ["wall / floor", "CPU / floor", "memory / floor"] {
            #expect(report.contains("| \(column) |"), "docs/benchmarks.md has no '\(column)' column")
        }
        for target in [
            "check wall time within 1.15x the floor", "check CPU time within 1.3x the floor", "check memory within 1.3x the floor",
        ] {
            #expect(report.contains("| \(target) |"), "docs/benchmarks.md does not record '\(target)'")
        }
    }

    /// docs/cli-reference.md is what `make docs` generates now (scripts/check-docs.sh says the same in `make test`).
    @Test func theCLIReferenceIsCurrent() throws {
        let committed = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/cli-reference.md"), encoding: .utf8)
        #expect(committed == DeployDag.Docs.cliReference(), "docs/cli-reference.md is stale: run 'make docs'")
    }
}
