import DeployBuilders
import DeployModel
import DeploySpecs
import Testing

@testable import DeployVerify

func scaled(_ name: String, phase: Phase? = nil, helixSoftmax: HelixSoftmax = .exact) throws -> OperatorGraph {
    var d = try Presets.named(name)!.deployment
    // Decode shares the batch's tokens among the MoE GPUs: 16 sequences then.
    d.model.batch = Dim(d.model.moe != nil && phase != nil ? 16 : 2)
    d.model.seq = Dim(name == "attention-pool-4l" ? 10 : 16)
    if let phase { d.phase = phase }
    d.helixSoftmax = helixSoftmax
    d.model.headDim = 8
    d.model.hidden = d.model.heads * 8
    d.model.ffn = 64
    d.model.layers = name.hasPrefix("tp8") ? 2 : 1
    if var moe = d.model.moe {
        moe.expertFFN = 32
        moe.capacityFactor = Dim(Int64(moe.experts))
        d.model.moe = moe
    }
    return try DeploymentBuilder().build(d)
}

@Suite struct VerifyTests {
    static let presets = [
        "helix-dense-2l", "helix-dense-4l", "helix-moe-4l", "tp8-pp2-dense-4l", "tp8-pp2-moe-4l", "tp8-pp2-001", "attention-pool-4l",
        "ma-separation-moe-4l",
    ]

    @Test(arguments: presets)
    func prefillMatchesTheModel(name: String) throws {
        let result = try Verifier.verify(try scaled(name))
        #expect(result.passes, "\(result.maxRelativeError)")
        #expect(result.outputs > 0)
    }

    @Test(arguments: presets)
    func decodeMatchesTheModel(name: String) throws {
        let result = try Verifier.verify(try scaled(name, phase: .decode(context: Dim(10))))
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    @Test func perSegmentHelixIsADifferentModel() throws {
        let result = try Verifier.verify(try scaled("helix-dense-2l", helixSoftmax: .perSegment))
        #expect(!result.passes)
        #expect(result.maxRelativeError > 1e-3)
    }

    /// verify must notice a DAG whose slices are not the model's: GPU 3 multiplies by the FC1
    /// columns that belong to GPU 2.
    @Test func aWrongWeightSliceIsCaught() throws {
        var g = try scaled("tp8-pp2-dense-4l")
        let i = g.nodes.firstIndex { $0.name == "L0.fc1.gpu3" }!
        g.updateNode(i) { $0.attributes["weight_place"] = "S1:2/8" }
        #expect(try !Verifier.verify(g).passes)
    }

    /// ... and one whose all-reduce is missing a term.
    @Test func aMissingPartialTermIsCaught() throws {
        var g = try scaled("helix-dense-2l")
        let i = g.nodes.firstIndex { $0.name == "L0.o_proj.gpu7" }!
        g.updateNode(i) { $0.attributes["weight_place"] = "S0:1/4,S1:2/4" }  // GPU 6's rows, twice
        #expect(try !Verifier.verify(g).passes)
    }

    @Test func bigOrSymbolicGraphsAreRefused() throws {
        var d = try Presets.named("helix-dense-2l")!.deployment
        #expect(throws: VerifyError.self) { try Verifier.verify(try DeploymentBuilder().build(d)) }
        d.model.batch = Dim(symbol: "B")
        #expect(throws: VerifyError.self) { try Verifier.verify(try DeploymentBuilder().build(d)) }
    }

    @Test func kernels() throws {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], data: [1, 0, 0, 1, 1, 1])
        #expect(Kernels.einsum(try Einsum("mk,kn->mn"), a, b).data == [4, 5, 10, 11])
        let s = Kernels.softmax(Tensor(shape: [1, 2], data: [0, 0]), scale: 1)
        #expect(s.data == [0.5, 0.5])
        let t = Kernels.topK(Tensor(shape: [1, 3], data: [0.1, 3, 2]), k: 2)
        #expect(t.indices == [1, 2])
        #expect(abs(t.data[0] + t.data[1] - 1) < 1e-15)
        #expect(Tensor.concat([a.part(dim: 1, index: 0, parts: 3), a.slice(dim: 1, 1, 3)], dim: 1).data == a.data)
    }
}
