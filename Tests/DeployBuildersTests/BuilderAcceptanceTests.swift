import DeployModel
import DeployTestSupport
import Testing

@testable import DeployBuilders

func getTime(_ node: OperatorNode) -> String? {
    guard node.op == .matmul, let m = node.attributes["m"], let k = node.attributes["k"], let n = node.attributes["n"] else {
        return nil
    }
    return "Get_Time(\(m), \(k), \(n))"
}

func build(_ preset: String, layers: Int? = nil, batch: Dim? = nil, seq: Dim? = nil, phase: Phase? = nil) throws -> OperatorGraph {
    try DeploymentBuilder().build(presetDeployment(preset, layers: layers, batch: batch, seq: seq, phase: phase))
}

@Suite struct HelixBuilderTests {
    let graph: OperatorGraph

    init() throws { graph = try build("helix-dense-2l") }

    @Test func qkvProjectionsPerGPUAndLayer() {
        let qkv = graph.nodes.filter { getTime($0) == "Get_Time(10240000, 8192, 512)" }
        #expect(qkv.count == 96)
        for layer in 0..<2 {
            for gpu in 0..<16 {
                let here = qkv.filter { $0.layer == layer && $0.gpu == gpu }
                #expect(Set(here.map { $0.name.split(separator: ".")[1] }) == ["q", "k", "v"])
            }
        }
    }

    @Test func partialScoresPerGPUAndLayer() {
        let scores = graph.nodes.filter { getTime($0) == "Get_Time(40960000, 128, 10000)" }
        #expect(scores.count == 32)
        #expect(Set(scores.map { "\($0.layer!)/\($0.gpu!)" }).count == 32)
    }

    @Test func everySoftmaxFollowsItsHeadGroupsAllReduce() {
        let adjacency = graph.adjacency
        let softmaxes = graph.nodes.indices.filter { graph.nodes[$0].op == .softmax }
        #expect(softmaxes.count == 32)
        for s in softmaxes {
            let gpu = graph.nodes[s].gpu!
            let predecessors = adjacency.predecessors(of: s).map { graph.nodes[Int($0)] }
            #expect(predecessors.count == 1)
            #expect(predecessors[0].op == .allReduce)
            let group = gpu / 4
            #expect(predecessors[0].group == Array((group * 4)..<(group * 4 + 4)))
            // The scale is the whole head's: 1/sqrt(512), not 1/sqrt(128).
            #expect(Double(graph.nodes[s].attributes["scale"]!)! == 1 / Double(512).squareRoot())
        }
    }

    @Test func computeCoversAllSixteenGPUs() {
        #expect(Set(graph.nodes.compactMap(\.gpu)) == Set(0..<16))
        #expect(graph.gpus == 16)
    }

    @Test func mlpIsColumnThenRowParallelWithOneAllReduce() {
        #expect(graph.nodes.filter { getTime($0) == "Get_Time(10240000, 8192, 2048)" }.count == 32)
        #expect(graph.nodes.filter { getTime($0) == "Get_Time(10240000, 2048, 8192)" }.count == 32)
        let mlpReductions = graph.nodes.filter { $0.op == .allReduce && $0.block == "mlp" }
        #expect(mlpReductions.count == 2 && mlpReductions.allSatisfy { $0.group == Array(0..<16) })
        // FC2's row-parallel output is the full hidden width, as a partial sum.
        #expect(graph.nodes.filter { $0.name.contains(".fc2.") }.allSatisfy { $0.out == [Dim(1024), Dim(10000), Dim(8192)] })
    }

    @Test func overridesReachTheShapes() throws {
        let small = try build("helix-dense-2l", layers: 1, batch: Dim(2), seq: Dim(8))
        #expect(small.nodes.filter { $0.op == .softmax }.count == 16)
        #expect(small.nodes.first { $0.op == .input }!.out == [Dim(2), Dim(8), Dim(8192)])
    }
}

@Suite struct TensorPipelineBuilderTests {
    let graph: OperatorGraph

    init() throws { graph = try build("tp8-pp2-dense-4l") }

    @Test func mlpMatmulsPerGPU() {
        let fc1 = graph.nodes.filter { getTime($0) == "Get_Time(10240000, 8192, 4096)" }
        let fc2 = graph.nodes.filter { getTime($0) == "Get_Time(10240000, 4096, 8192)" }
        #expect(fc1.count == 32 && fc2.count == 32)
        for gpu in 0..<16 {
            #expect(fc1.filter { $0.gpu == gpu }.count == 2)
            #expect(fc2.filter { $0.gpu == gpu }.count == 2)
        }
    }

    @Test func allReducesSpanOneStage() {
        let reductions = graph.nodes.filter { $0.op == .allReduce }
        #expect(reductions.count == 8)
        for r in reductions {
            let stage = r.layer! / 2
            #expect(r.group == Array((stage * 8)..<(stage * 8 + 8)))
        }
    }

    @Test func stagesAreJoinedBySendRecv() {
        let transfers = graph.nodes.filter { $0.op == .sendRecv }
        #expect(transfers.count == 8)
        #expect(Set(transfers.map(\.group)) == Set((0..<8).map { [$0, $0 + 8] }))
    }

    @Test func wholeHeadsPerGPU() {
        // 16 heads of 512 over TP 8: two whole heads per GPU, no head-dim split.
        #expect(graph.nodes.filter { getTime($0) == "Get_Time(10240000, 8192, 1024)" }.count == 96)
        #expect(graph.nodes.filter { getTime($0) == "Get_Time(40960000, 512, 10000)" }.count == 0)
        #expect(graph.nodes.filter { getTime($0) == "Get_Time(20480000, 512, 10000)" }.count == 32)
    }
}

@Suite struct SpecValidationTests {
    @Test func headsMustSplitIntoHeadGroups() {
        var d = presetDeployment("helix-dense-2l")
        d.strategy = .helix(headGroups: 3, segments: 4)
        #expect(throws: SpecError.self) { try DeploymentBuilder().build(d) }
        do {
            _ = try DeploymentBuilder().build(d)
        } catch {
            #expect(error.key == "heads")
            #expect(error.description.contains("16 heads into 3 head groups"))
        }
    }

    @Test func layersMustSplitIntoStages() {
        #expect(throws: SpecError.self) { try build("tp8-pp2-dense-4l", layers: 3) }
    }

    @Test func hiddenMustBeHeadsTimesHeadDim() {
        var d = presetDeployment("helix-dense-2l")
        d.model.hidden = 4096
        #expect(throws: SpecError(key: "hidden", "must equal heads x head_dim = 16 x 512 = 8192, got 4096")) {
            try DeploymentBuilder().build(d)
        }
    }
}
