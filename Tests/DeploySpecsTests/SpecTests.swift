import DeployBuilders
import DeployModel
import Testing

@testable import DeploySpecs

@Suite struct SpecTests {
    static let valid = """
        name: mine
        summary: a test deployment
        model:
          layers: 2
          batch: B
          seq: 128
          hidden: 256
          heads: 16
          head_dim: 16
          ffn: 1024
        strategy:
          kind: helix
          head_groups: 4
          segments: 4
        """

    func error(_ text: String) -> SpecFileError? {
        do {
            let spec = try SpecParser.parse(text: text, file: "s.yaml")
            _ = try spec.build()
            return nil
        } catch {
            return error
        }
    }

    @Test func presetsAreSpecFiles() throws {
        let all = try Presets.all()
        #expect(
            all.map(\.name) == [
                "attention-pool-4l", "helix-dense-2l", "helix-dense-4l", "helix-moe-4l", "llama2-70b-tp8-pp2", "llama3-70b-tp8-pp2",
                "llama3-8b-tp1", "ma-separation-moe-4l", "mixtral-8x7b-ep8", "qwen2-72b-tp8", "tp8-pp2-001", "tp8-pp2-dense-4l",
                "tp8-pp2-moe-4l",
            ])
        for spec in all {
            #expect(spec.file.hasSuffix("/\(spec.name).yaml"))
            _ = try spec.build()
        }
    }

    @Test func aValidSpecBuilds() throws {
        let spec = try SpecParser.parse(text: Self.valid, file: "s.yaml")
        #expect(spec.deployment.model.batch == Dim(symbol: "B"))
        #expect(spec.deployment.strategy == .helix(headGroups: 4, segments: 4))
        #expect(try spec.build().nodes.count > 0)
    }

    @Test func headsNotDivisibleByHeadGroupsNamesBoth() throws {
        let e = try #require(error(Self.valid.replacingOccurrences(of: "head_groups: 4", with: "head_groups: 3")))
        #expect(e.key == "heads")
        #expect(e.line == 8)
        #expect(e.description.contains("16 heads into 3 head groups"))
        #expect(e.description.hasPrefix("s.yaml:8: error[spec]: 'heads'"))
    }

    @Test func poolLargerThanTheFreeGPUs() throws {
        let text = """
            name: pool
            model: {layers: 1, batch: 2, seq: 90, hidden: 64, heads: 4, head_dim: 16, ffn: 256}
            strategy:
              kind: attention_pool
              base_gpus: 0-7
              pool_size: 9
              cluster_gpus: 16
            """
        let e = try #require(error(text))
        #expect(e.key == "pool_size" && e.line == 6)
        #expect(e.reason.contains("larger than the 8 GPUs"))
    }

    @Test func overlappingGPURanges() throws {
        let text = """
            name: sep
            model: {layers: 1, batch: 2, seq: 16, hidden: 64, heads: 4, head_dim: 16, experts: 4, expert_ffn: 128}
            strategy:
              kind: ma_separation
              attention_gpus: 0-3
              expert_gpus: 3-6
            """
        let e = try #require(error(text))
        #expect(e.key == "expert_gpus" && e.line == 6)
        #expect(e.reason.contains("overlaps attention_gpus on GPU 3"))
    }

    @Test(arguments: [
        ("hiden: 8", "'hiden' is not a key of 'model'"),
        ("layers: two", "'layers' must be a positive integer"),
        ("batch: 0", "'batch' must be a positive integer or a symbol"),
        ("dtype: int3", "'dtype' must be one of"),
    ])
    func badModelKeys(line: String, expected: String) throws {
        let text = Self.valid.replacingOccurrences(of: "  layers: 2", with: "  layers: 2\n  \(line)")
            .replacingOccurrences(of: "  layers: 2\n  layers: two", with: "  layers: two")
            .replacingOccurrences(of: "  batch: B\n", with: line.hasPrefix("batch") ? "" : "  batch: B\n")
        let e = try #require(error(text))
        #expect(e.description.contains(expected), "\(e)")
        #expect(e.line != nil)
    }

    @Test func malformedYAMLHasItsLine() throws {
        let e = try #require(error("name: x\nmodel: [unclosed\nstrategy: {}\n"))
        #expect(e.description.contains("not valid YAML"))
        #expect(e.line != nil)
    }

    @Test func missingSectionsAndUnknownStrategy() throws {
        #expect(try #require(error("name: x\nstrategy: {kind: helix}\n")).description.contains("'model' is missing"))
        let unknown = Self.valid.replacingOccurrences(of: "kind: helix", with: "kind: zigzag")
        #expect(try #require(error(unknown)).description.contains("'kind' must be one of"))
    }

    @Test func decodePhaseInASpec() throws {
        let spec = try SpecParser.parse(text: Self.valid + "\nphase: decode\ncontext: 64\n", file: "s.yaml")
        #expect(spec.deployment.phase == .decode(context: Dim(64)))
        #expect(try spec.build().nodes.contains { $0.op == .kvCache })
    }

    @Test func overridesBindSymbolsAndChangeThePool() throws {
        var o = SpecOverrides()
        o.bindings = ["B": 8]
        let sep = try Presets.named("ma-separation-moe-4l")!
        #expect(try o.apply(to: sep).model.batch == Dim(8))
        var pool = SpecOverrides()
        pool.poolSize = 3
        let d = try pool.apply(to: try Presets.named("attention-pool-4l")!)
        #expect(d.strategy == .attentionPool(base: Array(0..<8), pool: [8, 9, 10]))
        #expect(d.strategy.gpuCount == 11)
        var wrong = SpecOverrides()
        wrong.poolSize = 3
        #expect(throws: SpecFileError.self) { try wrong.apply(to: sep) }
    }
}

/// `kind: disaggregated`: the prefill and decode sides' degrees, refusals with their lines.
@Suite struct DisaggregatedSpecTests {
    static let text = """
        name: disagg
        model:
          layers: 2
          batch: 4
          seq: 64
          hidden: 64
          heads: 4
          kv_heads: 2
          head_dim: 16
          ffn: 128
          norm: rmsnorm
          mlp: gated
          activation: silu
          rope: true
        strategy:
          kind: disaggregated
          prefill: {tp: 2, dp: 2}
          decode:
            tp: 4
        """

    @Test func bothSidesAreRead() throws {
        let spec = try SpecParser.parse(text: Self.text, file: "d.yaml")
        #expect(spec.deployment.strategy == .tensorPipeline(tp: 2, pp: 1) && spec.deployment.dataParallel == 2)
        #expect(spec.deployment.disaggregatedDecode == DecodeDegrees(tp: 4))
        let graph = try spec.build()
        #expect(graph.gpus == 8 && graph.attributes["decode_gpus"] == "4-7")
    }

    @Test func refusalsNameTheSideKeyAndLine() throws {
        func refusal(_ text: String) -> SpecFileError? {
            do {
                _ = try SpecParser.parse(text: text, file: "d.yaml").build()
                return nil
            } catch { return error }
        }
        let heads = try #require(refusal(Self.text.replacingOccurrences(of: "    tp: 4", with: "    tp: 3")))
        #expect(heads.key == "heads" && heads.description.contains("(decode)"))
        let sp = try #require(refusal(Self.text.replacingOccurrences(of: "    tp: 4", with: "    tp: 4\n    sp: true")))
        #expect(sp.key == "sp" && sp.line == 20)
        let context = try #require(refusal(Self.text + "\ncontext: 100"))
        #expect(context.key == "context")
        let missing = try #require(refusal(Self.text.replacingOccurrences(of: "  decode:\n    tp: 4", with: "")))
        #expect(missing.key == "decode")
    }
}

/// Hardware descriptions: the shipped machines and a user's file.
@Suite struct HardwareDescriptionTests {
    @Test func theShippedMachinesAreRead() throws {
        let all = try HardwareDescription.builtIn()
        #expect(all.map(\.name) == ["dgx-a100-80gb", "dgx-b200", "dgx-h100", "dgx-h200"])
        let h100 = try #require(all.first { $0.name == "dgx-h100" })
        #expect(h100.peakFLOPs["bf16"] == 989e12 && h100.peakFLOPs["fp8"] == 1979e12 && h100.peakFLOPs["fp32"] == 67e12)
        #expect(h100.gpusPerNode == 8 && h100.interNodeBandwidthPerGPU == 50e9 && h100.nvlinkBandwidth == 450e9)
        let a100 = try #require(all.first { $0.name == "dgx-a100-80gb" })
        #expect(a100.peakFLOPs["fp8"] == nil && a100.interNodeBandwidthPerGPU == 25e9)
    }

    static let mine = """
        name: my-node
        gpu:
          name: h100-pcie
          tflops: {bf16: 756, fp8: 1513}
          hbm_tbps: 2.0
          memory_gb: 80
          nvlink_gbps: 300
        node:
          gpus: 4
          nics: 2
          nic_gbps: 50
        """

    @Test func aUsersFileSetsTheNode() throws {
        let file = try HardwareDescription.parse(text: Self.mine, file: "mine.yaml")
        #expect(file.gpusPerNode == 4 && file.interNodeBandwidthPerGPU == 25e9 && file.latency == 2e-6 && file.gpuName == "h100-pcie")
    }

    @Test func mistakesNameTheKeyAndLine() {
        func refusal(_ text: String) -> SpecFileError? {
            do {
                _ = try HardwareDescription.parse(text: text, file: "mine.yaml")
                return nil
            } catch { return error }
        }
        let typo = refusal(Self.mine.replacingOccurrences(of: "hbm_tbps", with: "hbm_tb"))
        #expect(typo?.key == "hbm_tb" && typo?.line == 5)
        let zero = refusal(Self.mine.replacingOccurrences(of: "gpus: 4", with: "gpus: 0"))
        #expect(zero?.key == "gpus" && zero?.line == 9)
        let dtype = refusal(Self.mine.replacingOccurrences(of: "fp8: 1513", with: "int4: 3000"))
        #expect(dtype?.key == "int4")
        let noBF16 = refusal(Self.mine.replacingOccurrences(of: "bf16: 756, ", with: ""))
        #expect(noBF16?.key == "tflops")
    }
}
