import DeployAnalysis
import DeploySpecs
import Foundation
import Testing

@testable import DeployCommands

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct CalibrateTests {
    static let sources = """
        sources:
          - {id: gpt-fast, title: gpt-fast README, where: pytorch-labs/gpt-fast README.md, method: batch 1 tokens/s}
          - {id: lmdeploy, title: LMDeploy A100 benchmark, where: InternLM/lmdeploy docs/en/benchmark/a100_fp16.md, method: P50 step}
        """

    /// Three published points priced through their configs: the ratios, the ordering the
    /// measurements make (TP 8 faster than TP 1), the memory column and the summary line.
    @Test func publishedPointsArePricedAndSummarised() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = repositoryRoot.appendingPathComponent("bench/calibration/models/llama-2-7b.json").path
        let points = dir.appendingPathComponent("points.yaml")
        try
            (Self.sources + """

                points:
                  - {source: gpt-fast, hardware: dgx-a100-80gb, config: \(config), model: Llama-2-7B, tp: 1, batch: 1, measure: tpot, context: 105, tokens_per_s: 104.9, quote: "| Llama-2-7B | 1 | 104.9 |"}
                  - {source: gpt-fast, hardware: dgx-a100-80gb, config: \(config), model: Llama-2-7B, tp: 8, batch: 1, measure: tpot, context: 105, tokens_per_s: 328.43, quote: "| | 8 | 328.43 |"}
                  - {source: lmdeploy, hardware: dgx-a100-80gb, config: \(config), model: Llama-2-7B, tp: 1, batch: 1, measure: ttft, prompt: 2048, ms: 140, quote: "0.14"}
                """).write(to: points, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("calibration.md").path
        let r = try CLI.run(["calibrate", points.path, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        let md = try String(contentsOfFile: out, encoding: .utf8)
        #expect(md.contains("**3 points from 2 sources: median ratio "))
        #expect(md.contains("1 of 1 orderings the measurements make kept"))
        #expect(md.contains("| 1 | gpt-fast | dgx-a100-80gb | Llama-2-7B | tpot | TP 1, batch 1, context 105 | 104.9 tokens/s (9.53 ms) |"))
        #expect(md.contains("(fits)"))
        // Each ratio is the figure deploydag's own analyze gives over the published one.
        let analyze = try CLI.run([
            "analyze", "--hf-config", config, "--batch", "1", "--seq", "2048", "--hardware", "dgx-a100-80gb", "--format", "json",
        ])
        let object = try JSONSerialization.jsonObject(with: Data(analyze.stdout.utf8)) as! [String: Any]
        let ratio = (object["makespan_seconds"] as! Double) / 0.140
        #expect(md.contains("| \(String(format: "%.2f", ratio)) |"), "\(md)")
        #expect(md.contains("- **lmdeploy**: LMDeploy A100 benchmark."))
    }

    @Test func aBadPointIsRefusedWithItsLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let points = dir.appendingPathComponent("points.yaml")
        try
            (Self.sources + """

                points:
                  - {source: gpt-fast, hardware: dgx-a100-80gb, config: x.json, model: X, batch: 4, measure: tpot, context: 9, tokens_per_s: 1, quote: q}
                """).write(to: points, atomically: true, encoding: .utf8)
        let r = try CLI.run(["calibrate", points.path])
        #expect(r.status != 0)
        #expect(
            r.stderr.contains("points.yaml:5") && r.stderr.contains("is a time per output token for a tpot point of batch 1"), "\(r.stderr)"
        )
        try (Self.sources + "\npoints:\n  - {source: nobody}\n").write(to: points, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["calibrate", points.path]).stderr.contains("'nobody' is not one of the sources"))
    }

    /// Hostile inputs: an alias used as a key is refused at once (composing it would take hours),
    /// a config that is a FIFO is refused rather than waited on, an unknown cost model is a usage
    /// error before anything is written, and no output replaces a config or a table.
    @Test func hostileInputsAreRefusedAtOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bomb = dir.appendingPathComponent("bomb.yaml")
        var text = "a: &a0 [x,x,x,x,x,x,x,x,x,x]\n"
        for i in 1...7 { text += "b\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ",") + "]\n" }
        text += "c: {? *a7 : 1}\n"
        try text.write(to: bomb, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["calibrate", bomb.path])
        #expect(refused.status == 2 && refused.stderr.contains("bomb.yaml:9") && refused.stderr.contains("keys must be plain names"))
        let config = repositoryRoot.appendingPathComponent("bench/calibration/models/llama-2-7b.json").path
        let copy = dir.appendingPathComponent("l7.json")
        try FileManager.default.copyItem(atPath: config, toPath: copy.path)
        let fifo = dir.appendingPathComponent("fifo.json")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let points = dir.appendingPathComponent("points.yaml")
        try
            (Self.sources + """

                points:
                  - {source: gpt-fast, hardware: dgx-a100-80gb, config: \(fifo.path), model: X, batch: 1, measure: tpot, context: 9, tokens_per_s: 1, quote: q}
                  - {source: gpt-fast, hardware: dgx-a100-80gb, config: l7.json, model: X, batch: 1, measure: tpot, context: 9, tokens_per_s: 1, quote: q}
                """).write(to: points, atomically: true, encoding: .utf8)
        let r = try CLI.run(["calibrate", points.path])
        #expect(r.status == 1 && r.stdout.contains("not a regular file"), "\(r.stdout)")
        #expect(r.stdout.contains("| 2 | gpt-fast |"), "the config relative to the points file is found")
        let overwrite = try CLI.run(["calibrate", points.path, "-o", copy.path])
        #expect(overwrite.status != 0 && overwrite.stderr.contains("it is the input"))
        #expect(try String(contentsOf: copy, encoding: .utf8).contains("\"model_type\""))
        let bogus = dir.appendingPathComponent("out.md")
        try "keep".write(to: bogus, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["calibrate", points.path, "--cost", "bogus", "-o", bogus.path]).status == 2)
        #expect(try String(contentsOf: bogus, encoding: .utf8) == "keep")
    }

    /// A point that cannot be built is a row that says why, and the exit status is 1.
    @Test func aPointThatCannotBeBuiltSaysWhy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let points = dir.appendingPathComponent("points.yaml")
        try
            (Self.sources + """

                points:
                  - {source: gpt-fast, hardware: dgx-a100-80gb, config: \(dir.path)/missing.json, model: X, batch: 1, measure: tpot, context: 9, tokens_per_s: 1, quote: q}
                """).write(to: points, atomically: true, encoding: .utf8)
        let r = try CLI.run(["calibrate", points.path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("Points that could not be priced") && r.stdout.contains("missing.json"))
        #expect(r.stdout.contains("No point could be priced."))
    }
}

@Suite struct ShippedGPUTests {
    /// `--gpu h100-sxm` and the GPU of `--hardware dgx-h100` are the same GPU (as for the H200
    /// and the A100): peaks by data type, memory, reserve and kernel model.
    @Test func theBuiltInGPUsAreTheShippedFiles() throws {
        for (gpu, machine) in [(GPUSpec.h100SXM, "dgx-h100"), (.h200, "dgx-h200"), (.a100SXM, "dgx-a100-80gb"), (.b200, "dgx-b200")] {
            let file = try #require(try CostOptions.parse(["--hardware", machine]).machine()).gpu
            #expect(file.peaks == gpu.peaks, "\(machine)")
            #expect(file.memoryCapacity == gpu.memoryCapacity && file.runtimeReserve == gpu.runtimeReserve, "\(machine)")
            #expect(
                abs(file.memoryBandwidth / gpu.memoryBandwidth - 1) < 1e-12 && file.nvlinkBandwidth == gpu.nvlinkBandwidth, "\(machine)")
            #expect(file.kernels == gpu.kernels, "\(machine)")
        }
        // A shipped machine is also found by its GPU's name.
        #expect(try HardwareDescription.load("b200").name == "dgx-b200")
    }

    /// The NVLink bandwidth follows --gpu (a100-sxm: 300 GB/s), and so do the collectives.
    @Test func theNetworkFollowsTheGPU() throws {
        let options = try CostOptions.parse(["--gpu", "a100-sxm"]).options()
        #expect(options.network.intraNodeBandwidth == 300e9)
        #expect(options.network.interNodeBandwidth == 25e9, "a DGX A100's 200 Gb/s NICs, as --hardware dgx-a100-80gb")
        #expect(GPUSpec.parse("a100-sxm-80gb") == .a100SXM && GPUSpec.parse("b200") == .b200)
        #expect(options.network.collectives.nvlsEfficiency == nil, "an A100's NVSwitch has no NVLS")
        #expect(try CostOptions.parse(["--cost", "roofline"]).options().network.algorithms == .ring)
        #expect(try CostOptions.parse([]).options().network.algorithms == .nccl)
        let defaults = try CostOptions.parse([]).options()
        #expect(defaults.costModel.description == AnalysisOptions.standard.costModel.description)
        #expect(defaults.network == AnalysisOptions.standard.network, "render prices as analyze does")
    }
}
