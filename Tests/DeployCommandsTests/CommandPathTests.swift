import Foundation
import Testing

/// Inputs from pipes and devices, outputs that must not land where a file's contents say, as the
/// built binary behaves.
@Suite struct CommandPathTests {
    static let smallPreset = ["generate", "--preset", "helix-dense-2l", "--view", "layer:0:attention"]

    @Test(arguments: ["-", "/dev/stdin"])
    func checkReadsAPipe(_ name: String) throws {
        let dot = try CLI.run(Self.smallPreset)
        #expect(dot.status == 0)
        let r = try CLI.run(["check", name], input: Data(dot.stdout.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ok ("), "\(r.stdout)")
    }

    @Test func findingsOfAPipeNameStandardInputWithTheirLine() throws {
        let r = try CLI.run(["check", "-"], input: Data("digraph g {\n  a -> b\n  b -> a\n}\n".utf8))
        #expect(r.status == 1)
        #expect(r.stdout.contains("<stdin>:"), "\(r.stdout)")
    }

    @Test func aDeviceThatNeverEndsIsStoppedAtOnce() throws {
        let r = try CLI.run(["check", "/dev/zero"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("NUL"), "\(r.stdout)")
        let big = try CLI.run(["check", "--max-input-mb", "1", "-"], input: Data(repeating: UInt8(ascii: " "), count: 3_000_000))
        #expect(big.status == 1)
        #expect(big.stdout.contains("input-size"), "\(big.stdout)")
    }

    @Test func renderAndAnalyzeWriteToStandardOutputAndNeverOverTheirInput() throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("a.dot").path
        #expect(try CLI.run(Self.smallPreset + ["-o", dot]).status == 0)
        let original = try Data(contentsOf: URL(fileURLWithPath: dot))
        let svg = try CLI.run(["render", dot])
        #expect(svg.status == 0)
        #expect(svg.stdout.hasPrefix("<?xml"))
        let overwriting = [
            ["render", dot, "-o", dot], ["analyze", dot, "--gantt", dot], ["render", dot, "-o", "x.svg", "--diagram-dot", dot],
        ]
        for arguments in overwriting {
            let r = try CLI.run(arguments, in: dir)
            #expect(r.status == 2, "\(arguments)")
            #expect(r.stderr.contains("it is the input"), "\(r.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dot)) == original)
        #expect(try CLI.run(["generate", "--preset", "helix-dense-2l", "-o", "-"]).stdout.hasPrefix("digraph"))
    }

    @Test func aGraphNameCannotLeadTheReportOutOfItsDirectory() throws {
        let dir = try scratchDirectory()
        let work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let dot = try CLI.run(Self.smallPreset).stdout
        let hostile = dot.replacingOccurrences(
            of: "digraph \"helix-dense-2l.layer0-attention\"", with: "digraph \"x/../../../escaped\"")
        #expect(hostile != dot)
        let file = work.appendingPathComponent("h.dot")
        try hostile.write(to: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["report", "h.dot"], in: work)
        #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["work"])
        let made = try FileManager.default.contentsOfDirectory(atPath: work.path).sorted()
        #expect(made == ["h.dot", "report-x_.._.._.._escaped"], "\(made)")
    }
}

/// A Hugging Face config.json through the command line, as a user would bring it.
@Suite struct HuggingFaceCLITests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hf")

    @Test func aConfigBuildsChecksAndCountsItsParameters() throws {
        let config = Self.fixtures.appendingPathComponent("gqa-8-kv.json").path
        let dot = try CLI.run(["generate", "--hf-config", config, "--tp", "8", "--batch", "2", "--seq", "128"])
        #expect(dot.status == 0, "\(dot.stderr)")
        let checked = try CLI.run(["check", "-"], input: Data(dot.stdout.utf8))
        #expect(checked.status == 0, "\(checked.stdout)")
        let info = try CLI.run(["info", "-"], input: Data(dot.stdout.utf8))
        // 2 layers of Llama-2-70B's shape plus its embedding and head: 2 x 855,654,400 + 524,288,000 + 8,192.
        #expect(info.stdout.contains("parameters: 2.24B (2,235,604,992)"), "\(info.stdout)")
    }

    @Test(arguments: [
        ("unknown-model-type.json", "'model_type' is 'gpt_neox'"), ("unknown-hidden-act.json", "'hidden_act' is 'quick_gelu'"),
    ])
    func anUnknownArchitectureOrActivationExitsTwoNamingIt(_ file: String, _ message: String) throws {
        let r = try CLI.run(["generate", "--hf-config", Self.fixtures.appendingPathComponent(file).path])
        #expect(r.status == 2)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stderr.contains("\(file):"), "\(r.stderr)")
    }
}

/// `deploydag plan`: the compositions of a model on a GPU count, ranked, and the DOT of the
/// best one priced by analyze to the same figures.
@Suite struct PlanTests {
    /// Llama-2-70B's shape, 16 of its 80 layers (the same pipeline divisors), 16 GPUs, decode,
    /// on GPUs of 10 GB, so that the compositions holding most of the weights on one GPU do not fit.
    @Test func llama70BOnSixteenGPUsListsItsCompositionsAndTheTopOneAnalysesAlike() throws {
        let dir = try scratchDirectory()
        let arguments = [
            "plan", "--preset", "llama2-70b-tp8-pp2", "--layers", "16", "--gpus", "16", "--phase", "decode", "--context", "4096", "--batch",
            "64", "--gpu", "h100-10gb:peak=989,bw=3.35,mem=10",
        ]
        let r = try CLI.run(arguments + ["--format", "json", "--emit-dot", dir.path, "--top", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let rows = try #require(document?["compositions"] as? [[String: Any]])
        #expect(rows.filter { $0["error"] == nil }.count >= 20)
        #expect(rows.contains { $0["fits"] as? Bool == false })
        #expect(rows.contains { $0["pareto"] as? Bool == true })
        let top = rows[0]
        #expect(top["fits"] as? Bool == true)
        let emitted = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(emitted.count == 1)
        let analyzed = try CLI.run([
            "analyze", dir.appendingPathComponent(emitted[0]).path, "--format", "json", "--gpu", "h100-10gb:peak=989,bw=3.35,mem=10",
        ])
        let figures = try JSONSerialization.jsonObject(with: Data(analyzed.stdout.utf8)) as? [String: Any]
        let makespan = try #require(figures?["makespan_seconds"] as? Double)
        #expect(abs(makespan - (top["makespan_seconds"] as? Double ?? 0)) <= 1e-12 * makespan)
    }

    /// A mixture of experts in prefill: context and expert parallelism among the compositions,
    /// each priced as analyze prices the DOT plan writes for it.
    @Test func contextAndExpertParallelCompositionsArePlannedAndAnalyseAlike() throws {
        let dir = try scratchDirectory()
        let r = try CLI.run([
            "plan", "--preset", "mixtral-8x7b-ep8", "--layers", "2", "--gpus", "8", "--batch", "8", "--seq", "256", "--format", "json",
            "--emit-dot", dir.path, "--top", "40",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(
            (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["compositions"] as? [[String: Any]])
        let names = rows.compactMap { $0["composition"] as? String }
        #expect(names.contains("tp1-pp1-ep8") && names.contains("tp2-pp1-cp4") && names.contains("tp2-pp1-ep4-dp2"), "\(names)")
        for name in ["tp1-pp1-ep8", "tp2-pp1-cp4"] {
            let row = try #require(rows.first { $0["composition"] as? String == name })
            let file = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasSuffix(".\(name).dot") })
            let analyzed = try CLI.run(["analyze", dir.appendingPathComponent(file).path, "--format", "json"])
            let figures = try JSONSerialization.jsonObject(with: Data(analyzed.stdout.utf8)) as? [String: Any]
            let makespan = try #require(figures?["makespan_seconds"] as? Double)
            #expect(abs(makespan - (row["makespan_seconds"] as? Double ?? 0)) <= 1e-12 * makespan, "\(name)")
        }
    }

    /// The seeds' classic block: Helix, the attention pool and attention/MoE separation are
    /// planned beside the tp_pp compositions.
    @Test func theSeedsLayoutsArePlannedForTheirBlock() throws {
        let r = try CLI.run([
            "plan", "--preset", "helix-moe-4l", "--layers", "1", "--gpus", "16", "--phase", "decode", "--context", "512", "--batch", "16",
            "--format", "json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(
            (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["compositions"] as? [[String: Any]])
        let strategies = Set(rows.compactMap { $0["strategy"] as? String })
        #expect(strategies == ["tp_pp", "helix", "attention_pool", "ma_separation"], "\(strategies)")
        #expect(rows.contains { $0["composition"] as? String == "helix-g4-s4" && $0["error"] == nil })
    }

    @Test func aGPUCountNothingDividesIsAUsageError() throws {
        let r = try CLI.run(["plan", "--preset", "llama3-8b-tp1", "--layers", "3", "--gpus", "7", "--batch", "5"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no composition"), "\(r.stderr)")
    }
}

/// The compositions of issue 14's acceptance, on the real models' configs: each builds, checks
/// clean and verifies (scaled down) from the command line.
@Suite struct ComposedDegreesCLITests {
    static let hf = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/DeploySpecs/Presets/hf")

    @Test(arguments: [
        ["llama-2-70b.json", "--tp", "4", "--pp", "2", "--dp", "2", "--batch", "4"],
        ["llama-3-8b.json", "--tp", "8", "--cp", "2", "--seq", "4096"],
        ["mixtral-8x7b.json", "--tp", "1", "--ep", "8", "--batch", "8"],
        ["llama-3-8b.json", "--tp", "8", "--sp"],
    ])
    func composedDegreesBuildCheckAndVerify(arguments: [String]) throws {
        let dir = try scratchDirectory()
        let config = Self.hf.appendingPathComponent(arguments[0]).path
        let flags = ["--hf-config", config, "--layers", "2"] + arguments.dropFirst()
        let dot = dir.appendingPathComponent("c.dot").path
        let generated = try CLI.run(["generate"] + flags + ["-o", dot])
        #expect(generated.status == 0, "\(generated.stderr)")
        let checked = try CLI.run(["check", dot])
        #expect(checked.status == 0 && checked.stdout.contains(": ok"), "\(checked.stdout)")
        let verified = try CLI.run(["verify"] + flags)
        #expect(verified.status == 0 && verified.stdout.contains("matches the unpartitioned model"), "\(verified.stdout)\(verified.stderr)")
    }

    @Test func disaggregatedEightAndEightBuildsChecksAndVerifies() throws {
        let dir = try scratchDirectory()
        let spec = dir.appendingPathComponent("disagg.yaml")
        try """
        name: llama3-8b-disagg
        model:
          hf_config: \(Self.hf.appendingPathComponent("llama-3-8b.json").path)
          batch: 8
          seq: 1024
          layers: 2
        strategy:
          kind: disaggregated
          prefill: {tp: 8}
          decode: {tp: 8}
        """.write(to: spec, atomically: true, encoding: .utf8)
        let dot = dir.appendingPathComponent("d.dot").path
        let generated = try CLI.run(["generate", "--spec", spec.path, "-o", dot])
        #expect(generated.status == 0, "\(generated.stderr)")
        let checked = try CLI.run(["check", dot, "--gpus", "16"])
        #expect(checked.status == 0 && checked.stdout.contains(": ok"), "\(checked.stdout)")
        let verified = try CLI.run(["verify", "--spec", spec.path])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let analyzed = try CLI.run(["analyze", dot])
        #expect(
            analyzed.stdout.contains("time to first token") && analyzed.stdout.contains("K/V caches moved: 67.11 MB"), "\(analyzed.stdout)")
    }
}
