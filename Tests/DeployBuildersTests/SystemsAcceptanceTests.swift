import DeployModel
import DeploySpecs
import DeployTestSupport
import Testing

@testable import DeployBuilders

func getTimes(_ graph: OperatorGraph) -> [String: Int] {
    graph.nodes.compactMap(getTime).reduce(into: [:]) { $0[$1, default: 0] += 1 }
}

@Suite struct SystemsAcceptanceTests {
    @Test func tp8pp2Seed001AtSeq2048() throws {
        let g = try build("tp8-pp2-001", seq: Dim(2048))
        let times = getTimes(g)
        #expect(times["Get_Time(2097152, 4096, 512)"] == 96)
        #expect(times["Get_Time(2097152, 4096, 2048)"] == 32)
        #expect(times["Get_Time(2097152, 2048, 4096)"] == 32)
        // Seed 001's per-GPU QKV [T, 512] x [512, 12288] must not appear.
        #expect(!g.nodes.contains { $0.attributes["k"] == "512" && $0.attributes["n"] == "12288" })
    }

    @Test func seed001KeepsTheSequenceSymbolic() throws {
        let g = try build("tp8-pp2-001")
        #expect(getTimes(g)["Get_Time(seq_len*1024, 4096, 512)"] == 96)
    }

    @Test func attentionPoolAtSeq10000() throws {
        let g = try build("attention-pool-4l", seq: Dim(10000))
        #expect(g.gpus == 13)
        #expect(getTimes(g)["Get_Time(65536000, 128, 10000)"] == 20)
        let scores = g.nodes.filter { getTime($0) == "Get_Time(65536000, 128, 10000)" }
        #expect(Set(scores.compactMap(\.gpu)) == Set(8...12))
        let gathers = g.nodes.filter { $0.op == .allGather && $0.block == "attention" }
        #expect(gathers.count == 8)  // K and V, 4 layers
        #expect(gathers.allSatisfy { $0.group == [8, 9, 10, 11, 12] })
        // The FFN is tensor parallel on the base GPUs only.
        #expect(Set(g.nodes.filter { $0.name.contains(".fc1.") }.compactMap(\.gpu)) == Set(0..<8))
    }

    @Test func attentionPoolSizeOption() throws {
        var d = presetDeployment("attention-pool-4l", seq: Dim(9000))
        d.strategy = .attentionPool(base: Array(0..<8), pool: [8, 9, 10])
        let g = try DeploymentBuilder().build(d)
        #expect(g.gpus == 11)
        #expect(getTimes(g)["Get_Time(98304000, 128, 9000)"] == 12)
    }

    @Test func separationWithBatch8() throws {
        let g = try build("ma-separation-moe-4l", batch: Dim(8))
        let times = getTimes(g)
        #expect(times["Get_Time(2048, 4096, 16384)"] == 64)
        #expect(times["Get_Time(2048, 16384, 4096)"] == 64)
        #expect(Set(g.nodes.compactMap(\.gpu)) == Set(0..<16))
        let experts = g.nodes.filter { $0.op == .matmul && $0.name.contains("expert") && $0.name.contains(".fc1.") }
        #expect(Set(experts.compactMap(\.gpu)) == Set(8..<16))
        // Activations cross between the pools every layer, both ways.
        let transfers = g.nodes.filter { $0.op == .sendRecv }
        #expect(transfers.count == 4 * 2 * 8 * 8)
    }

    @Test func separationWithoutBatchKeepsB() throws {
        let g = try build("ma-separation-moe-4l")
        #expect(g.nodes.first { $0.op == .input }!.out.description == "[B,2048,4096]")
        #expect(getTimes(g)["Get_Time(B*256, 4096, 16384)"] == 64)
    }

    @Test func expertsSeeTopKOverExpertsOfTheTokens() throws {
        // tp8-pp2-moe-4l: T = 1024 x 10000 tokens, top-2 of 8 experts: T/4 per expert, not T.
        let g = try build("tp8-pp2-moe-4l")
        let fc1 = g.nodes.filter { $0.name.contains("expert") && $0.name.contains(".fc1.") }
        #expect(fc1.count == 32)
        #expect(fc1.allSatisfy { getTime($0) == "Get_Time(2560000, 8192, 32768)" })
        var d = presetDeployment("tp8-pp2-moe-4l")
        d.model.moe!.capacityFactor = MoERouting.parseFactor("1.25")!
        let padded = try DeploymentBuilder().build(d)
        #expect(getTimes(padded)["Get_Time(3200000, 8192, 32768)"] == 32)
    }

    @Test func helixMoEIsTensorParallelInsideEachExpert() throws {
        let g = try build("helix-moe-4l")
        let fc1 = g.nodes.filter { $0.name.contains("expert") && $0.name.contains(".fc1.") }
        // 8 experts over 16 GPUs: each expert's FC1 split in two column halves.
        #expect(fc1.count == 4 * 16)
        #expect(fc1.allSatisfy { getTime($0) == "Get_Time(2560000, 8192, 16384)" })
        let dispatch = g.nodes.first { $0.op == .dispatch }!
        #expect(dispatch.attributes["replicas"] == "2")
        #expect(dispatch.out.description == "[16,160000,8192]")
    }

    @Test func helixDecodeScores() throws {
        let g = try build("helix-dense-2l", phase: .decode(context: Dim(10000)))
        #expect(getTimes(g)["Get_Time(4096, 128, 10000)"] == 32)
        #expect(g.nodes.filter { $0.op == .kvCache }.count == 2 * 16 * 2)
        #expect(g.nodes.first { $0.op == .kvCache }!.out.description == "[1024,9999,4,128]")
        #expect(g.attributes["phase"] == "decode" && g.attributes["context"] == "10000")
    }

    @Test func poolDecodeSplitsTheCache() throws {
        let g = try build("attention-pool-4l", phase: .decode(context: Dim(10000)))
        #expect(getTimes(g)["Get_Time(32768, 128, 2000)"] == 20)
        #expect(g.nodes.contains { $0.op == .allGather && $0.attributes["dim"] == "3" })
    }

    @Test func decodeNeedsAConcreteContext() {
        #expect(throws: SpecError.self) { try build("helix-dense-2l", phase: .decode(context: Dim(symbol: "L"))) }
        #expect(throws: SpecError.self) { try build("attention-pool-4l", phase: .decode(context: Dim(10001))) }
    }
}
