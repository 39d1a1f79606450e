import DOTMutation
import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Attribute-level mutants of generated DAGs through every command that reads DOT (issue 20;
/// scripts/mutate.sh runs the same mutator as a campaign of thousands): no command dies by a
/// signal or exits other than 0, 1 or 2, every SVG is XML, and nothing is written where no
/// command was asked to write.
@Suite struct MutationTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mutate")

    /// The seeds: small views of four presets and two specs small enough for verify to execute
    /// (one of them a decode step with a K/V cache, RoPE and a sliding window).
    static let seeds: [(String, [String])] = [
        ("helix-attention", ["--preset", "helix-dense-2l", "--view", "layer:0:attention"]),
        ("tp8-pp2-moe", ["--preset", "tp8-pp2-moe-4l", "--view", "layer:0:moe"]),
        ("llama3-8b", ["--preset", "llama3-8b-tp1", "--layers", "1"]),
        ("mixtral-moe", ["--preset", "mixtral-8x7b-ep8", "--layers", "1", "--view", "layer:0:moe"]),
        ("tiny-decode", ["--spec", fixtures.appendingPathComponent("tiny-decode.yaml").path]),
        ("tiny-moe", ["--spec", fixtures.appendingPathComponent("tiny-moe.yaml").path]),
    ]

    static let mutantsPerSeed = 30

    @Test(arguments: seeds.indices)
    func mutantsNeverCrashAnyCommand(index: Int) async throws {
        let (name, arguments) = Self.seeds[index]
        let generated = try CLI.run(["generate"] + arguments)
        try #require(generated.status == 0, "\(generated.stderr)")
        let mutator = DOTMutator(seed: generated.stdout)
        try #require(mutator.nodeCount > 20)
        let root = try scratchDirectory()
        let runner = MutantRunner(binary: CLI.binary)
        let seed = UInt64(2026 + index)
        let outcomes = try await withThrowingTaskGroup(of: [(Int, [String], MutantRunner.Outcome)].self) { group in
            for worker in 0..<3 {
                group.addTask {
                    var done: [(Int, [String], MutantRunner.Outcome)] = []
                    for i in stride(from: worker, to: Self.mutantsPerSeed, by: 3) {
                        var random = MutationRandom(seed: seed &* 1000 &+ UInt64(i))
                        let mutant = mutator.mutant(&random)
                        let outcome = try runner.outcome(mutant.text, sandbox: root.appendingPathComponent("\(name)-\(i)"))
                        done.append((i, mutant.changes, outcome))
                    }
                    return done
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(outcomes.count == Self.mutantsPerSeed)
        for (i, changes, outcome) in outcomes {
            #expect(outcome.problems.isEmpty, "\(name) mutant \(i) (\(changes.joined(separator: "; "))): \(outcome.problems)")
        }
        // The mutations reach the checker: most mutants are refused by check.
        let refused = outcomes.filter { $0.2.statuses["check"] == 1 }.count
        #expect(refused * 2 > outcomes.count, "\(name): check refused only \(refused) of \(outcomes.count) mutants")
        // Nothing appears beside the sandboxes (a name like `../../x` must not become a path).
        let entries = try FileManager.default.contentsOfDirectory(atPath: root.path)
        #expect(Set(entries) == Set((0..<Self.mutantsPerSeed).map { "\(name)-\($0)" }), "\(entries.sorted())")
    }

    /// The same seed and index give the same mutant; a seed's mutants differ from it and from
    /// each other.
    @Test func mutantsAreReproducibleAndChangeTheSeed() throws {
        let text = try CLI.run(["generate", "--spec", Self.fixtures.appendingPathComponent("tiny-moe.yaml").path]).stdout
        let mutator = DOTMutator(seed: text)
        var a = MutationRandom(seed: 7)
        var b = MutationRandom(seed: 7)
        #expect(mutator.mutant(&a).text == mutator.mutant(&b).text)
        var random = MutationRandom(seed: 8)
        let texts = (0..<50).map { _ in mutator.mutant(&random).text }
        #expect(texts.filter { $0 != text }.count >= 45)
        #expect(Set(texts).count >= 45)
    }

    /// The runner itself reports what it is there to catch: a signal, an exit status past 2, an
    /// SVG that is not XML and a file written where none was asked for.
    @Test func theRunnerReportsEachKindOfFailure() throws {
        let dir = try scratchDirectory()
        let fake = dir.appendingPathComponent("fake-deploydag")
        try """
        #!/bin/sh
        case "$1" in
          check) kill -SEGV $$ ;;
          info) exit 3 ;;
          render) printf '<svg><g></svg>' > "$4" ;;
          report) mkdir -p "$4" && echo x > "$4/../stray.md" ;;
          import) exit 2 ;;
        esac
        exit 0

        """.write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let problems = try MutantRunner(binary: fake).run("digraph g { a }\n", sandbox: dir.appendingPathComponent("sandbox"))
        let kinds = problems.map { "\($0.kind.rawValue) \($0.command)" }
        #expect(kinds.contains("signal check"), "\(problems)")
        #expect(kinds.contains("status info"), "\(problems)")
        #expect(kinds.contains("xml render.svg"), "\(problems)")
        #expect(kinds.contains("stray sandbox") && problems.contains { $0.detail.contains("stray.md") }, "\(problems)")
        #expect(kinds.contains("round-trip import"), "\(problems)")
        #expect(problems.count == 5, "\(problems)")
    }
}

/// What the mutation campaign found, each a test of its own.
@Suite struct MutationFindingTests {
    static let twoNodes = """
        digraph g {
          graph [gpus="1"];
          "aNAME" [op="input", gpu="0", out="[4]"];
          "mNAME" [op="gelu", gpu="0", out="[4]"];
          "bNAME" [op="output", gpu="0", out="[4]"];
          "aNAME" -> "mNAME" -> "bNAME";
        }

        """

    /// A node name holding U+FFFE or U+FFFF (noncharacters XML 1.0 forbids) reached render's
    /// and report's SVGs through graphviz's titles and comments: no XML parser read them.
    @Test(arguments: ["\u{FFFE}", "\u{FFFF}", "\u{1b}\u{FFFE}"])
    func noncharactersInNamesLeaveTheSVGWellFormed(suffix: String) throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("in.dot")
        try Data(Self.twoNodes.replacingOccurrences(of: "NAME", with: suffix).utf8).write(to: file)
        let svg = dir.appendingPathComponent("out.svg")
        let rendered = try CLI.run(["render", file.path, "-o", svg.path])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        let report = dir.appendingPathComponent("report")
        let reported = try CLI.run(["report", file.path, "-o", report.path])
        #expect(reported.status == 0, "\(reported.stderr)")
        #expect(try String(contentsOf: svg, encoding: .utf8).contains("<title>a\u{FFFD}"))
        let svgs = try FileManager.default.contentsOfDirectory(atPath: report.path).filter { $0.hasSuffix(".svg") }
        #expect(svgs.count >= 2, "\(svgs)")
        for url in [svg] + svgs.map(report.appendingPathComponent) {
            #expect(throws: Never.self, "\(url.lastPathComponent)") { try XMLCheck.wellFormed(Data(contentsOf: url)) }
        }
    }
}

extension MutationFindingTests {
    static let campaignFixtures = fixturesDirectory.appendingPathComponent("mutate")
    static var fixturesDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// A weight of 128,256 x (2^63-1) elements counts more parameters than Int64 holds: info
    /// and report trapped converting the count (signal 4) instead of printing it.
    @Test(arguments: ["info", "report"])
    func aParameterCountPastInt64IsPrinted(command: String) throws {
        let file = Self.campaignFixtures.appendingPathComponent("crash-parameter-count-past-int64.dot").path
        let dir = try scratchDirectory()
        let r = try CLI.run(command == "info" ? ["info", file] : ["report", file, "-o", dir.appendingPathComponent("r").path])
        #expect(r.status == 0 || r.status == 1, "\(r.status): \(r.stderr.suffix(400))")
        let text = command == "info" ? r.stdout : try String(contentsOfFile: dir.path + "/r/report.md", encoding: .utf8)
        #expect(text.contains("1,182,"), "\(text.prefix(800))")
    }

    /// A header with heads = 2^63-1: the placement inference's whole sizes (heads x head_dim)
    /// trapped on the product (signal 4 in check and every command that checks first).
    @Test(arguments: ["check", "analyze", "verify"])
    func aHeaderPast64BitsIsNoTrap(command: String) throws {
        let file = Self.campaignFixtures.appendingPathComponent("crash-header-heads-past-int64.dot").path
        let r = try CLI.run([command, file])
        #expect(r.status == 0 || r.status == 1, "\(r.status): \(r.stderr.suffix(400))")
    }

    /// The same trap from the other side: a weight placed in 2^63-1 parts makes each part's
    /// count of the logical weight huge.
    @Test func aWeightInHugelyManyPartsIsCounted() throws {
        let file = Self.campaignFixtures.appendingPathComponent("crash-parameter-count-from-a-huge-part-count.dot").path
        let r = try CLI.run(["info", file])
        #expect(r.status == 0 || r.status == 1, "\(r.status): \(r.stderr.suffix(400))")
        #expect(r.stdout.contains("parameters: "), "\(r.stdout)")
    }

    /// A collective over 65,536 GPUs is 65,536 trace events: JSONSerialization took 88 s and
    /// 1 GB to write them (past the campaign's 30 s). The trace is written directly now, and is
    /// still JSON with every GPU's event.
    @Test func aTraceOfSixtyFiveThousandGPUsIsJSON() throws {
        let file = Self.campaignFixtures.appendingPathComponent("timeout-trace-of-65536-gpus.dot").path
        let dir = try scratchDirectory()
        let trace = dir.appendingPathComponent("t.json")
        let r = try CLI.run(["analyze", file, "--trace", trace.path])
        #expect(r.status == 0 || r.status == 1, "\(r.stderr.suffix(400))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: trace)) as? [String: Any])
        let events = try #require(json["traceEvents"] as? [[String: Any]])
        let reduce = events.filter { $0["name"] as? String == "embed_allreduce" }
        #expect(reduce.count == 65_536 && reduce.allSatisfy { $0["tid"] as? Int == 1 && $0["dur"] is Double })
        #expect(events.contains { ($0["args"] as? [String: Any])?["name"] as? String == "GPU 65535" })
    }
}

extension MutationFindingTests {
    /// A narrow starting at 2^63-1 (or -2^63) overflowed the checker's `start + length`: check
    /// died by a signal. Each is a `shape` finding now, and so is a start one past the end.
    @Test(arguments: ["9223372036854775807", "-9223372036854775808", "2048", "-2049", "-1", "2047", "-2048"])
    func aNarrowStartingAnywhereIsAFinding(start: String) throws {
        let fixture = Self.campaignFixtures.appendingPathComponent("crash-narrow-start-past-int64.dot")
        let text = try String(contentsOf: fixture, encoding: .utf8).replacingOccurrences(
            of: "start=\"9223372036854775807\"", with: "start=\"\(start)\"")
        let file = try scratchDirectory().appendingPathComponent("narrow.dot")
        try Data(text.utf8).write(to: file)
        let r = try CLI.run(["check", file.path])
        #expect(r.status == 1, "\(r.status): \(r.stderr.suffix(400))")
        let misfit = r.stdout.contains("error[shape]: narrow of 1 from \(start) along dim 1 does not fit")
        // The sequence is 2048 long: -1 (the last token, as generated), 2047 and -2048 fit.
        #expect(misfit == !["-1", "2047", "-2048"].contains(start), "\(r.stdout.prefix(1500))")
    }
}

extension MutationFindingTests {
    /// The seed-4 campaign (718326a): a narrow with `dim="-9223372036854775808"` was indexed by
    /// check, analyze and render (an index out of range, SIGILL). The decoder now reads narrow's
    /// `dim`, `start` and `length` like every operator's parameters, and the shape rules refuse a
    /// negative dimension anywhere.
    @Test(arguments: ["-9223372036854775808", "-1", "3", "9223372036854775807", "x"])
    func aNarrowAlongAnyDimIsAFinding(dim: String) throws {
        let fixture = Self.campaignFixtures.appendingPathComponent("crash-narrow-start-past-int64.dot")
        let text = try String(contentsOf: fixture, encoding: .utf8)
            .replacingOccurrences(of: "start=\"9223372036854775807\"", with: "start=\"-1\"")
            .replacingOccurrences(of: "dim=\"1\", length=\"1\"", with: "dim=\"\(dim)\", length=\"1\"")
        #expect(text.contains("dim=\"\(dim)\", length"))
        let file = try scratchDirectory().appendingPathComponent("narrow.dot")
        try Data(text.utf8).write(to: file)
        for command in ["check", "analyze", "render", "verify", "export"] {
            var arguments = [command, file.path]
            if command == "render" { arguments += ["-o", file.deletingLastPathComponent().appendingPathComponent("n.svg").path] }
            if command == "export" { arguments += ["-o", file.deletingLastPathComponent().appendingPathComponent("traces").path] }
            let r = try CLI.run(arguments)
            #expect(r.status == 1, "\(command) dim=\(dim): \(r.status): \(r.stderr.suffix(400))")
        }
        let r = try CLI.run(["check", file.path])
        #expect(
            r.stdout.contains("'dim' must be an integer of at least 0") || r.stdout.contains("dim \(dim) does not exist"),
            "\(r.stdout.prefix(800))")
    }
}
