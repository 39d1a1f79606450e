import DOTMutation
import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Runs the built `deploydag` binary, as a user would.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let binary: URL = {
        // The test bundle sits in the products directory next to the executable.
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("deploydag")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/deploydag")
    }()

    /// Runs the binary; `input`, when given, arrives on its standard input through a pipe.
    static func run(_ arguments: [String], in directory: URL? = nil, input: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = input.map { _ in Pipe() }
        if let inPipe { process.standardInput = inPipe }
        try process.run()
        if let inPipe, let input {
            // Fed from another thread, so that a large input cannot block on a full output pipe;
            // a command that stops reading early must not kill the tests with SIGPIPE.
            signal(SIGPIPE, SIG_IGN)
            let writer = inPipe.fileHandleForWriting
            Thread.detachNewThread {
                try? writer.write(contentsOf: input)
                try? writer.close()
            }
        }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

/// A fresh directory per test.
func scratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("deploydag-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct CLITests {
    @Test func presetsListsOnePerLine() throws {
        let r = try CLI.run(["presets"])
        #expect(r.status == 0)
        let names = r.stdout.split(separator: "\n").map { $0.split(separator: " ")[0] }
        #expect(names.contains("helix-dense-2l") && names.contains("helix-dense-4l") && names.contains("tp8-pp2-dense-4l"))
    }

    @Test func generateToStdoutEqualsGenerateToFile() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("h.dot").path
        let a = try CLI.run(["generate", "--preset", "helix-dense-2l", "--layers", "1", "-o", file])
        #expect(a.status == 0 && a.stdout.isEmpty)
        let b = try CLI.run(["generate", "--preset", "helix-dense-2l", "--layers", "1"])
        #expect(b.status == 0)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == b.stdout)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers == ["h.dot"])
    }

    @Test func checkCleanFileExitsZero() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("t.dot").path
        _ = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "-o", file])
        let r = try CLI.run(["check", file])
        #expect(r.status == 0)
        #expect(r.stdout.contains("\(file): ok ("))
    }

    @Test func checkReportsFindingsWithFileLineRuleAndNode() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("bad.dot").path
        let text = try CLI.run(["generate", "--preset", "helix-dense-2l"]).stdout
            .replacingOccurrences(of: "\"L0.gelu.gpu3\" [op=\"gelu\", gpu=\"3\"", with: "\"L0.gelu.gpu3\" [op=\"gelu\", gpu=\"16\"")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("\"L0.gelu.gpu3\" [") }! + 1
        let r = try CLI.run(["check", file])
        #expect(r.status == 1)
        #expect(r.stdout.contains("\(file):\(line): error[gpu-range]: GPU 16 is outside 0..15"))
        #expect(r.stdout.contains("(node L0.gelu.gpu3)"))
        #expect(r.stdout.contains("\(file): "))
    }

    @Test func checkJSON() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("cut.dot").path
        let full = try CLI.run(["generate", "--preset", "helix-dense-2l", "--layers", "1"]).stdout
        try String(full.prefix(full.count / 2)).write(toFile: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["check", "--format", "json", file])
        #expect(r.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["errors"] as? Int == 1)
        let files = try #require(json["files"] as? [[String: Any]])
        let finding = try #require((files.first?["findings"] as? [[String: Any]])?.first)
        #expect(finding["rule"] as? String == "syntax")
        #expect(finding["line"] as? Int != nil)
    }

    @Test func usageAndUnreadableFilesExitTwo() throws {
        #expect(try CLI.run(["check", "/nonexistent/x.dot"]).status == 2)
        #expect(try CLI.run(["check"]).status == 2)
        #expect(try CLI.run(["check", "--gpus", "0", "x.dot"]).status == 2)
        #expect(try CLI.run(["frobnicate"]).status == 2)
        #expect(try CLI.run(["--help"]).status == 0)
        let unknown = try CLI.run(["generate", "--preset", "nope"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown preset 'nope'"))
        let badSeq = try CLI.run(["generate", "--preset", "helix-dense-2l", "--seq", "0"])
        #expect(badSeq.status == 2 && badSeq.stderr.contains("--seq"))
    }

    @Test func gpusFlagOverridesTheGraph() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("h.dot").path
        _ = try CLI.run(["generate", "--preset", "helix-dense-2l", "--layers", "1", "-o", file])
        let r = try CLI.run(["check", "--gpus", "17", file])
        #expect(r.status == 1 && r.stdout.contains("error[gpu-coverage]: GPU 16 runs no compute node"))
    }

    @Test func infoCountsTheGraph() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("t.dot").path
        _ = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "-o", file])
        let r = try CLI.run(["info", "--format", "json", file])
        #expect(r.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["acyclic"] as? Bool == true)
        #expect((json["communication_by_op"] as? [String: Int])?["send_recv"] == 8)
        #expect((json["gpus_used"] as? [Int])?.count == 16)
        let text = try CLI.run(["info", file])
        #expect(text.stdout.contains("acyclic: yes; longest path:"))
    }

    @Test func renderWritesSVGWithClustersAndLegend() throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("a.dot").path
        let svg = dir.appendingPathComponent("a.svg").path
        _ = try CLI.run(["generate", "--preset", "helix-dense-2l", "--view", "layer:0:attention", "-o", dot])
        #expect(try CLI.run(["check", dot]).status == 0)
        let r = try CLI.run(["render", dot, "-o", svg])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        // Helix's 16 GPUs run the same operators: drawn once, folded.
        #expect(text.contains("<svg") && text.contains("GPU 0 (×16: GPUs 0&#45;15)") && !text.contains("cluster_gpu15"))
        #expect(text.contains("legend") && text.contains("Get_Time(40960000, 128, 10000)"))
        try XMLCheck.wellFormed(Data(text.utf8))
        let all = try CLI.run(["render", dot, "--unfold", "-o", svg])
        #expect(all.status == 0, "\(all.stderr)")
        let unfolded = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(unfolded.contains("cluster_gpu15") && unfolded.contains("head group 3"))
    }

    @Test func renderOfABrokenFileFailsWithoutWriting() throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("b.dot").path
        try "digraph g { a -> ".write(toFile: dot, atomically: true, encoding: .utf8)
        let r = try CLI.run(["render", dot, "-o", dir.appendingPathComponent("b.svg").path])
        #expect(r.status == 1 && r.stderr.contains("error[syntax]"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["b.dot"])
    }

    @Test func viewsOfEveryLayerBlockCheckClean() throws {
        let dir = try scratchDirectory()
        for (preset, view) in [
            ("tp8-pp2-dense-4l", "layer:2"), ("tp8-pp2-dense-4l", "layer:2:pipeline"), ("helix-dense-2l", "layer:1:mlp"),
        ] {
            let file = dir.appendingPathComponent("v.dot").path
            let g = try CLI.run(["generate", "--preset", preset, "--view", view, "-o", file])
            #expect(g.status == 0, "\(g.stderr)")
            let r = try CLI.run(["check", file])
            #expect(r.status == 0, "\(preset) \(view): \(r.stdout)")
        }
        let missing = try CLI.run(["generate", "--preset", "helix-dense-2l", "--view", "layer:9"])
        #expect(missing.status != 0 && missing.stderr.contains("no layer 9"))
    }
}

@Suite struct RenderFingerprintTests {
    @Test func anSVGDrawnFromTheSameDiagramIsKeptUnlessForced() throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("a.dot").path
        let svg = dir.appendingPathComponent("a.svg").path
        _ = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--view", "layer:0:mlp", "-o", dot])
        #expect(try CLI.run(["render", dot, "-o", svg]).status == 0)
        let stamped = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(stamped.contains("deploydag-diagram fnv1a64="))
        // Same diagram: the file is left alone (a marker added by hand inside it survives).
        let marked = stamped.replacingOccurrences(of: "</svg>", with: "<!-- kept --></svg>")
        try marked.write(toFile: svg, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["render", dot, "-o", svg]).status == 0)
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("<!-- kept -->"))
        // --force, or a different diagram (a new title), writes it anew.
        #expect(try CLI.run(["render", dot, "-o", svg, "--force"]).status == 0)
        #expect(try !String(contentsOfFile: svg, encoding: .utf8).contains("<!-- kept -->"))
        try marked.write(toFile: svg, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["render", dot, "-o", svg, "--title", "another"]).status == 0)
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("another"))
    }
}

@Suite struct SpecCLITests {
    @Test func specFileGeneratesLikeItsPreset() throws {
        let presetFile = try #require(
            CLI.run(["presets", "--paths"]).stdout.split(separator: "\n").first { $0.hasPrefix("helix-dense-2l ") }
                .flatMap { $0.split(separator: "[").last?.dropLast() }.map(String.init))
        let a = try CLI.run(["generate", "--spec", presetFile])
        let b = try CLI.run(["generate", "--preset", "helix-dense-2l"])
        #expect(a.status == 0 && a.stdout == b.stdout)
    }

    @Test func inconsistentSpecIsRefusedBeforeWriting() throws {
        let dir = try scratchDirectory()
        let spec = dir.appendingPathComponent("bad.yaml").path
        try """
        name: bad
        model:
          layers: 1
          batch: 4
          seq: 64
          hidden: 256
          heads: 16
          head_dim: 16
          ffn: 512
        strategy:
          kind: helix
          head_groups: 3
          segments: 4
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("bad.dot").path
        let r = try CLI.run(["generate", "--spec", spec, "-o", out])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(spec):7: error[spec]: 'heads' is 16, which does not split evenly: 16 heads into 3 head groups"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func bindAndDecodeOptions() throws {
        let bound = try CLI.run(["generate", "--preset", "ma-separation-moe-4l", "--bind", "B=8", "--layers", "1"])
        #expect(bound.status == 0 && bound.stdout.contains("out=\"[8,2048,4096]\""))
        let decode = try CLI.run(["generate", "--preset", "helix-dense-2l", "--phase", "decode", "--context", "10000", "--layers", "1"])
        #expect(decode.status == 0 && decode.stdout.contains("op=\"kv_cache\"") && decode.stdout.contains("m=\"4096\""))
        #expect(try CLI.run(["generate", "--preset", "helix-dense-2l", "--phase", "decode"]).status == 2)
        #expect(try CLI.run(["generate", "--preset", "helix-dense-2l", "--bind", "B"]).status == 2)
        #expect(try CLI.run(["generate", "--preset", "helix-dense-2l", "--spec", "x.yaml"]).status == 2)
        let pool = try CLI.run(["generate", "--preset", "attention-pool-4l", "--pool-size", "3", "--seq", "9000", "--layers", "1"])
        #expect(pool.status == 0 && pool.stdout.contains("gpus=\"11\""))
    }
}

@Suite struct AnalysisCLITests {
    @Test func analyzeShowsGetTimeTermsAndTheirTotal() throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("h.dot").path
        _ = try CLI.run(["generate", "--preset", "helix-dense-2l", "-o", dot])
        let r = try CLI.run(["analyze", dot, "--cost", "matmul-flops:1000"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("cost model: matmul-flops: Get_Time = 2mkn / (1000 x 1e12) s"))
        #expect(r.stdout.contains("total = Get_Time(10240000, 8192, 512) x 2 + Get_Time(40960000, 128, 10000) x 2"))
        #expect(r.stdout.contains("throughput:"))
    }

    @Test func analyzeJSONTraceAndGantt() throws {
        let dir = try scratchDirectory()
        let trace = dir.appendingPathComponent("t.json").path
        let gantt = dir.appendingPathComponent("g.svg").path
        let r = try CLI.run([
            "analyze", "--preset", "tp8-pp2-dense-4l", "--micro-batches", "2", "--format", "json", "--trace", trace, "--gantt", gantt,
        ])
        #expect(r.status == 1)  // the seed configuration does not fit in 80 GB: a memory error
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        for key in ["critical_path_seconds", "critical_path", "makespan_seconds", "tps", "cost_model", "memory", "gpus"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        let findings = try #require(json["findings"] as? [[String: Any]])
        #expect(findings.contains { $0["rule"] as? String == "memory" && ($0["message"] as? String)?.contains("over by") == true })
        #expect(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trace))) is [String: Any])
        try XMLCheck.wellFormed(Data(contentsOf: URL(fileURLWithPath: gantt)))
    }

    @Test func analyzeADecodeStepGivesTPOT() throws {
        let r = try CLI.run(["analyze", "--preset", "helix-dense-2l", "--phase", "decode", "--context", "10000", "--format", "json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((json["tpot_seconds"] as? Double ?? 0) > 0)
    }

    @Test func compareHelixAgainstTheBaseline() throws {
        let r = try CLI.run(["compare", "helix-dense-4l", "tp8-pp2-dense-4l"])
        // Neither fits an H100 (seed 004's batch of 1024 prompts of 10,000 tokens): each row says
        // so, and compare exits 1 as analyze does.
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stdout.contains("helix-dense-4l: does NOT fit in memory on h100-sxm"))
        #expect(r.stdout.contains("memory/GPU") && r.stdout.contains("fits"))
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("prefill TPS") && $0.contains("decode TPOT") && $0.contains("claimed TPS") })
        let helix = try #require(lines.first { $0.contains("helix-dense-4l ") })
        #expect(helix.contains("1.580M") && helix.contains("220.00 us"))
        let baseline = try #require(lines.first { $0.contains("tp8-pp2-dense-4l ") })
        #expect(baseline.contains("1.200M") && baseline.contains("350.00 us"))
        #expect(r.stdout.contains("claimed figures from seed 004"))
    }

    @Test func compareSymbolicPresetAsksForBinding() throws {
        let r = try CLI.run(["compare", "tp8-pp2-001", "--format", "json"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("bind with --bind NAME=VALUE"))
        let bound = try CLI.run(["compare", "tp8-pp2-001", "--bind", "seq_len=2048"])
        #expect(bound.status == 0 && !bound.stdout.contains("bind with"))
    }

    @Test func badCostModelIsUsage() throws {
        #expect(try CLI.run(["analyze", "--preset", "helix-dense-2l", "--cost", "magic"]).status == 2)
        #expect(try CLI.run(["analyze", "--preset", "helix-dense-2l", "--gpu", "tpu"]).status == 2)
        #expect(try CLI.run(["analyze"]).status == 2)
    }
}

@Suite struct VerifyCLITests {
    @Test func presetPassesAndPerSegmentFails() throws {
        let ok = try CLI.run(["verify", "--preset", "helix-dense-2l", "--layers", "1"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("matches the unpartitioned model") && ok.stdout.contains("scaled down"))
        let bad = try CLI.run(["verify", "--preset", "helix-dense-2l", "--layers", "1", "--helix-softmax", "per-segment"])
        #expect(bad.status == 1 && bad.stdout.contains("does NOT compute the unpartitioned model"))
    }

    @Test func smallDOTFileVerifiesAndBigOneIsShrunk() throws {
        let dir = try scratchDirectory()
        let small = dir.appendingPathComponent("s.dot").path
        _ = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--batch", "2", "--seq", "8", "-o", small])
        #expect(try CLI.run(["verify", small]).stdout.contains("matches the unpartitioned model"))
        // A full-size one is executed at a small assignment of its parameters, which is named.
        let big = dir.appendingPathComponent("b.dot").path
        _ = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "-o", big])
        let shrunk = try CLI.run(["verify", big])
        #expect(
            shrunk.status == 0 && shrunk.stdout.contains("matches the unpartitioned model")
                && shrunk.stdout.contains(
                    "shrunk to execute: batch 1024 -> 2, seq 10000 -> 8, hidden 8192 -> 4, head_dim 512 -> 4, ffn 32768 -> 8"),
            "\(shrunk.stdout)\(shrunk.stderr)")
    }
}

@Suite struct FuzzRegressionTests {
    /// Every input the fuzzer ever crashed on is replayed through the same entry point.
    @Test func fuzzFindingsStayFixed() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fuzz")
        let replay = CLI.binary.deletingLastPathComponent().appendingPathComponent("deploydag-fuzz")
        let process = Process()
        process.executableURL = replay
        process.arguments = [fixtures.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        #expect(text.contains("replayed") && !text.contains("replayed 0 inputs"))
    }
}

@Suite struct DesignReviewTests {
    func small() throws -> (URL, String) {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("s.dot").path
        _ = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "2", "--batch", "2", "--seq", "8", "-o", dot])
        return (dir, dot)
    }

    @Test(arguments: ["full", "overview", "layer:1", "layer:0:mlp", "gpu:3"])
    func everyViewRendersWithLegendClustersAndCriticalPath(view: String) throws {
        let (dir, dot) = try small()
        let svg = dir.appendingPathComponent("v.svg").path
        let r = try CLI.run(["render", dot, "--view", view, "-o", svg])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        try XMLCheck.wellFormed(Data(text.utf8))
        #expect(text.contains("#d63384"), "the critical path is highlighted")
        if view == "overview" {
            #expect(text.contains("all_reduce") && text.contains("FLOP") && text.contains("of GPU time"))
        } else {
            #expect(text.contains("legend") && text.contains("critical path") && text.contains("cluster_gpu"))
        }
        if view == "gpu:3" { #expect(text.contains("cluster_gpu3") && !text.contains("L0.fc1.gpu5")) }
    }

    @Test func tooLargeALayoutFallsBackToTheOverview() throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("big.dot").path
        _ = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "24", "-o", dot])
        let svg = dir.appendingPathComponent("big.svg").path
        let r = try CLI.run(["render", dot, "-o", svg])
        #expect(r.status == 0 && r.stderr.contains("drawing the overview instead"))
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("(overview)"))
    }

    @Test func reportShowsTheCriticalPathAsGetTimeTerms() throws {
        let dir = try scratchDirectory().appendingPathComponent("r").path
        let r = try CLI.run(["report", "tp8-pp2-dense-4l", "-o", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("total = Get_Time(10240000, 8192, 1024)"))
        for section in [
            "## Model and strategy", "## GPU map", "## Compute and memory per GPU", "## Communication", "## Critical path", "## Runtime",
            "## Checks",
        ] {
            #expect(md.contains(section), "missing \(section)")
        }
        for svg in ["overview.svg", "layer0.svg", "timeline.svg"] {
            #expect(md.contains("](\(svg))"))
            try XMLCheck.wellFormed(Data(contentsOf: URL(fileURLWithPath: dir + "/" + svg)))
        }
    }
}

/// `--hardware`: a machine from a data file prices the DAG, its node size deciding the links.
@Suite struct HardwareFileTests {
    @Test func fourGPUsPerNodeSendATP8AllReduceOverTheNetwork() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("four.yaml")
        try HardwareDescriptionTestsText.four.write(to: file, atomically: true, encoding: .utf8)
        let shipped = try CLI.run(["analyze", "--preset", "tp8-pp2-dense-4l", "--hardware", "dgx-h100", "--format", "json"])
        let four = try CLI.run(["analyze", "--preset", "tp8-pp2-dense-4l", "--hardware", file.path, "--format", "json"])
        func links(_ r: CLI.Result) throws -> [String: Double] {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try #require(json["bytes_by_link"] as? [String: Double])
        }
        #expect(try links(shipped)["infiniband"] ?? 0 < links(four)["infiniband"] ?? 0, "\(four.stderr)")
        #expect(four.stdout.contains("h100-sxm of four-per-node"))
        let both = try CLI.run(["analyze", "--preset", "tp8-pp2-dense-4l", "--hardware", "dgx-h100", "--gpu", "h200"])
        #expect(both.status == 2 && both.stderr.contains("--gpu and --hardware"))
    }
}

enum HardwareDescriptionTestsText {
    static let four = """
        name: four-per-node
        gpu:
          name: h100-sxm
          tflops: {bf16: 989}
          hbm_tbps: 3.35
          memory_gb: 80
          nvlink_gbps: 450
        node:
          gpus: 4
          nics: 4
          nic_gbps: 50
        """
}
