import DeployBuilders
import DeployModel
import DeploySpecs
import Foundation
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

    @Test func bigGraphsAreShrunkAndSymbolicOnesRefused() throws {
        var d = try Presets.named("helix-dense-2l")!.deployment
        // Past the budget as built (batch 1024, seq 10000, hidden 8192): executed shrunk.
        let result = try Verifier.verify(try DeploymentBuilder().build(d))
        #expect(result.passes)
        let scaled = try #require(result.shrunk)
        #expect(scaled.contains(.init(name: "hidden", from: 8192, to: 4)) && scaled.contains(.init(name: "seq", from: 10000, to: 8)))
        // Without shrinking, refused for its size.
        #expect(throws: VerifyError.self) {
            try Verifier.verify(
                try DeploymentBuilder().build(d), elementLimit: Verifier.elementLimit, multiplyAddLimit: Verifier.multiplyAddLimit,
                shrink: false)
        }
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

/// The real models' presets, scaled down as `verify --preset` does, against the independent
/// reference (GQA, RoPE, causal masks, RMSNorm, SwiGLU, embeddings, the LM head).
@Suite struct RealModelVerifyTests {
    static func scaled(_ name: String, phase: Phase? = nil, window: Int? = nil) throws -> OperatorGraph {
        var d = try Presets.named(name)!.deployment
        d.model.batch = Dim(d.model.moe != nil && phase != nil ? 8 : 2)
        d.model.seq = Dim(8)
        if let phase { d.phase = phase }
        d.model.headDim = 4
        d.model.hidden = d.model.heads * 4
        d.model.ffn = 16
        d.model.layers = 2
        d.model.vocab = 64
        d.model.slidingWindow = window
        if var moe = d.model.moe {
            moe.expertFFN = 16
            moe.capacityFactor = Dim(Int64(moe.experts))
            d.model.moe = moe
        }
        return try DeploymentBuilder().build(d)
    }

    static let presets = ["llama3-8b-tp1", "llama2-70b-tp8-pp2", "mixtral-8x7b-ep8", "qwen2-72b-tp8"]

    @Test(arguments: presets)
    func prefillMatchesTheModel(name: String) throws {
        let result = try Verifier.verify(try Self.scaled(name))
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    @Test(arguments: presets)
    func decodeMatchesTheModel(name: String) throws {
        let result = try Verifier.verify(try Self.scaled(name, phase: .decode(context: Dim(12)), window: 5))
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    /// A mixture of gated experts with a shared expert, GQA over 2 ranks, from a spec.
    @Test func aSharedExpertMatchesTheModel() throws {
        let spec = try SpecParser.parse(
            text: """
                name: shared
                model: {layers: 2, batch: 2, seq: 8, hidden: 32, heads: 8, kv_heads: 4, head_dim: 4, experts: 4, expert_ffn: 16,
                        shared_expert_ffn: 24, top_k: 2, capacity_factor: 4, activation: swiglu, norm: rmsnorm, rope: true, vocab: 64}
                strategy: {kind: tp_pp, tp: 2}
                """, file: "shared.yaml")
        let graph = try spec.build()
        #expect(graph.nodes.contains { $0.name == "L0.shared.down.gpu1" })
        let result = try Verifier.verify(graph)
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    /// Falcon's parallel layers (one shared norm, or one each in the new architecture), LayerNorm
    /// biases and multi-query or grouped K/V heads, from their configs, scaled down.
    @Test(arguments: [("falcon-7b.json", 1), ("falcon-40b.json", 4)])
    func falconMatchesTheModel(_ file: String, _ tp: Int) throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/hf/\(file)").path
        var model = try HuggingFaceConfig.model(file: config)
        model.layers = 2
        model.batch = Dim(2)
        model.seq = Dim(8)
        model.heads = model.heads % 4 == 0 ? 16 : 7
        model.kvHeads = min(model.kvHeads, 4)
        model.headDim = 4
        model.hidden = model.heads * 4
        model.ffn = 16
        model.vocab = 32
        let graph = try DeploymentBuilder().build(Deployment(name: "falcon", model: model, strategy: .tensorPipeline(tp: tp, pp: 1)))
        let result = try Verifier.verify(graph)
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    /// GPT-2 (learned positions, biases everywhere, tied head) and GPT-J (interleaved partial
    /// rotation, parallel residual, biased head), from their configs, scaled down, at TP 2.
    @Test(arguments: ["gpt2.json", "gpt-j-6b.json"], [false, true])
    func gptModelsMatchTheModel(_ file: String, _ decode: Bool) throws {
        var graph = try Self.scaledConfig(file, decode: decode)
        #expect(try Verifier.verify(graph).passes)
        // A position counted from the wrong token is found.
        let i = try #require(graph.nodes.firstIndex { $0.attributes["data"] == "positions" || $0.op == .rope })
        graph.updateNode(i) { $0.attributes["offset"] = String(Int($0.attributes["offset"] ?? "0")! + 1) }
        #expect(!(try Verifier.verify(graph)).passes)
    }

    static func scaledConfig(_ file: String, decode: Bool) throws -> OperatorGraph {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/hf/\(file)").path
        var model = try HuggingFaceConfig.model(file: config)
        model.layers = 2
        model.batch = Dim(2)
        model.seq = Dim(8)
        model.heads = 4
        model.kvHeads = 4
        model.headDim = 8
        model.hidden = 32
        model.ffn = 16
        model.vocab = 32
        if model.rope != nil { model.rope?.rotaryDim = 4 }
        let phase: Phase = decode ? .decode(context: Dim(9)) : .prefill
        return try DeploymentBuilder().build(Deployment(name: "gpt", model: model, strategy: .tensorPipeline(tp: 2, pp: 1), phase: phase))
    }

    /// The reference is not the DAG read back: a mask, a rotation or a tied head that differs
    /// from what the graph says is found.
    @Test func aDAGThatDropsTheCausalMaskDoesNotMatch() throws {
        var graph = try Self.scaled("llama3-8b-tp1")
        let i = try #require(graph.nodes.firstIndex { $0.op == .attention })
        graph.updateNode(i) { $0.attributes["causal"] = "false" }
        #expect(!(try Verifier.verify(graph)).passes)
        var shifted = try Self.scaled("llama3-8b-tp1")
        let r = try #require(shifted.nodes.firstIndex { $0.op == .rope })
        shifted.updateNode(r) { $0.attributes["offset"] = "1" }
        #expect(!(try Verifier.verify(shifted)).passes)
        var tied = try Self.scaled("llama3-8b-tp1")
        let h = try #require(tied.nodes.firstIndex { $0.name == "lm_head.gpu0" })
        tied.updateNode(h) { $0.attributes["weight_logical"] = "w.embed" }
        #expect(!(try Verifier.verify(tied)).passes)
    }
}

/// Graphs `check` would reject, handed to the interpreter directly: each is refused with the
/// node and the reason, never executed out of bounds.
@Suite struct VerifyRefusalTests {
    func refusal(_ edit: (inout OperatorNode) -> Void, at op: Operator) throws -> String {
        var g = try scaled("tp8-pp2-moe-4l")
        let i = try #require(g.nodes.firstIndex { $0.op == op })
        g.updateNode(i, edit)
        do {
            _ = try Verifier.verify(g)
            Issue.record("verify accepted the edited \(op.rawValue)")
            return ""
        } catch {
            return error.description
        }
    }

    @Test func aHugeShapeIsOverTheBudget() throws {
        let message = try refusal({ $0.out = Shape([Dim(4_294_967_296), Dim(4_294_967_296)]) }, at: .split)
        #expect(message.contains("over the limit") && message.contains("1.84e+19"), "\(message)")
    }

    @Test func aSplitIndexPastItsParts() throws {
        let message = try refusal({ $0.attributes["index"] = $0.attributes["parts"] }, at: .split)
        #expect(message.contains("index 8 of 8 parts"), "\(message)")
    }

    @Test func aSplitAlongAMissingDimension() throws {
        let message = try refusal({ $0.attributes["dim"] = "7" }, at: .split)
        #expect(message.contains("dim 7 does not exist"), "\(message)")
    }

    @Test(arguments: [nil, "1"])
    func aDispatchWithFewerExpertsThanItsRouter(experts: String?) throws {
        let message = try refusal({ $0.attributes["experts"] = experts }, at: .dispatch)
        #expect(message.contains("only 1 experts"), "\(message)")
    }

    @Test func aDispatchWithMoreExpertsThanItsOut() throws {
        let message = try refusal({ $0.attributes["experts"] = "1000000000" }, at: .dispatch)
        #expect(message.contains("must be [1000000000 experts"), "\(message)")
    }

    @Test func aTopKOfMoreThanTheExperts() throws {
        let message = try refusal({ $0.attributes["k"] = "9" }, at: .topk)
        #expect(message.contains("k=9 of 8 experts"), "\(message)")
    }

    @Test func aCombineWhoseRoutingIsNoTopK() throws {
        var g = try scaled("tp8-pp2-moe-4l")
        let combine = try #require(g.nodes.firstIndex { $0.op == .combine })
        let routing = try #require(g.edges.firstIndex { $0.to == combine && $0.operand == 1 })
        // Feed the combine's routing operand from the graph's input instead of the top-k.
        let input = try #require(g.nodes.firstIndex { $0.op == .input && $0.gpu == g.nodes[combine].gpu })
        var edges = g.edges
        edges[routing] = TensorEdge(from: input, to: combine, operand: 1)
        g = OperatorGraph(name: g.name, gpus: g.gpus, attributes: g.attributes, nodes: g.nodes, edges: edges)
        #expect(throws: VerifyError.self) { try Verifier.verify(g) }
    }
}

/// Sequence parallelism computes the model: classic and today's blocks, with and without ends.
@Suite struct SequenceParallelVerifyTests {
    @Test(arguments: [true, false])
    func sequenceParallelMatchesTheModel(classic: Bool) throws {
        var model = TransformerModel(layers: 2, batch: Dim(2), seq: Dim(16), hidden: 32, heads: 8, headDim: 4, ffn: 16)
        if !classic {
            (model.kvHeads, model.norm, model.mlp, model.activation, model.rope) = (2, .rmsnorm, .gated, .silu, RotaryEmbedding())
            (model.attention, model.causal, model.vocab, model.parallelResidual) = (.fused, true, 64, true)
        }
        var d = Deployment(name: "sp", model: model, strategy: .tensorPipeline(tp: 4, pp: 2))
        d.sequenceParallel = true
        let result = try Verifier.verify(try DeploymentBuilder().build(d))
        #expect(result.passes, "\(result.maxRelativeError)")
    }
}

/// dp 2 x tp 4 x pp 2 on 16 GPUs computes the model, dense and MoE, prefill and decode.
@Suite struct DataParallelVerifyTests {
    @Test(arguments: [false, true], [false, true])
    func replicasMatchTheModel(moe: Bool, decode: Bool) throws {
        var model = TransformerModel(
            layers: 2, batch: Dim(8), seq: Dim(8), hidden: 32, heads: 8, headDim: 4, ffn: 16,
            moe: moe ? MixtureOfExperts(experts: 4, topK: 2, expertFFN: 16, capacityFactor: Dim(4)) : nil, kvHeads: 4)
        (model.norm, model.mlp, model.activation, model.rope) = (.rmsnorm, .gated, .silu, RotaryEmbedding())
        (model.attention, model.causal, model.vocab) = (.fused, true, 64)
        var d = Deployment(
            name: "dp", model: model, strategy: .tensorPipeline(tp: 4, pp: 2), phase: decode ? .decode(context: Dim(12)) : .prefill)
        d.dataParallel = 2
        let result = try Verifier.verify(try DeploymentBuilder().build(d))
        #expect(result.passes, "\(result.maxRelativeError)")
    }
}

/// Context parallelism and expert parallelism wider than tp compute the unpartitioned model.
@Suite struct ContextAndExpertParallelVerifyTests {
    static func model(moe: Bool) -> TransformerModel {
        var model = TransformerModel(
            layers: 2, batch: Dim(8), seq: Dim(8), hidden: 32, heads: 8, headDim: 4, ffn: 16,
            moe: moe ? MixtureOfExperts(experts: 4, topK: 2, expertFFN: 16, capacityFactor: Dim(4)) : nil, kvHeads: 4)
        (model.norm, model.mlp, model.activation, model.rope) = (.rmsnorm, .gated, .silu, RotaryEmbedding())
        (model.attention, model.causal, model.vocab) = (.fused, true, 64)
        return model
    }

    @Test(arguments: [false, true], [1, 2])
    func contextParallelMatchesTheModel(moe: Bool, pp: Int) throws {
        var d = Deployment(name: "cp", model: Self.model(moe: moe), strategy: .tensorPipeline(tp: 2, pp: pp))
        d.contextParallel = 4
        let result = try Verifier.verify(try DeploymentBuilder().build(d))
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    @Test(arguments: [false, true], [1, 2])
    func expertParallelMatchesTheModel(decode: Bool, tp: Int) throws {
        var d = Deployment(
            name: "ep", model: Self.model(moe: true), strategy: .tensorPipeline(tp: tp, pp: 2),
            phase: decode ? .decode(context: Dim(12)) : .prefill)
        d.expertParallel = 4
        let result = try Verifier.verify(try DeploymentBuilder().build(d))
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    @Test func aShardAttendingToItsOwnKeysOnlyDoesNotMatch() throws {
        var d = Deployment(name: "cp", model: Self.model(moe: false), strategy: .tensorPipeline(tp: 1, pp: 1))
        d.model.vocab = nil
        d.contextParallel = 2
        let graph = try DeploymentBuilder().build(d)
        // Rewire GPU 1's attention to read only the keys and values of its own shard, twice.
        var edges = graph.edges
        let k = try #require(graph.nodes.firstIndex { $0.name == "L0.k_rope.gpu1" })
        let v = try #require(graph.nodes.firstIndex { $0.name == "L0.v.gpu1" })
        let attention = try #require(graph.nodes.firstIndex { $0.name == "L0.attention.gpu1" })
        let kv = try #require(graph.nodes.firstIndex { $0.name == "L0.k_all_gather" })
        let vv = try #require(graph.nodes.firstIndex { $0.name == "L0.v_all_gather" })
        for i in edges.indices where edges[i].to == attention && edges[i].from == kv { edges[i].from = k }
        for i in edges.indices where edges[i].to == attention && edges[i].from == vv { edges[i].from = v }
        let rewired = OperatorGraph(name: graph.name, gpus: graph.gpus, attributes: graph.attributes, nodes: graph.nodes, edges: edges)
        let result = try? Verifier.verify(rewired)
        #expect(result?.passes != true)
    }
}

/// Disaggregated serving computes the prefill and the decode step after it, the decode's cache
/// the prefill's keys and values.
@Suite struct DisaggregatedVerifyTests {
    static func deployment(prefill: Int, decode: DecodeDegrees, moe: Bool = false) -> Deployment {
        var d = Deployment(
            name: "disagg", model: ContextAndExpertParallelVerifyTests.model(moe: moe), strategy: .tensorPipeline(tp: prefill, pp: 1))
        d.disaggregatedDecode = decode
        return d
    }

    @Test(arguments: [
        (2, DecodeDegrees(tp: 2)), (1, DecodeDegrees(tp: 4)), (4, DecodeDegrees(tp: 1, pp: 2)), (2, DecodeDegrees(tp: 2, dp: 2)),
    ])
    func bothSidesMatchTheModel(prefill: Int, decode: DecodeDegrees) throws {
        let result = try Verifier.verify(try DeploymentBuilder().build(Self.deployment(prefill: prefill, decode: decode)))
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    @Test func expertParallelDecodeMatches() throws {
        let result = try Verifier.verify(
            try DeploymentBuilder().build(Self.deployment(prefill: 2, decode: DecodeDegrees(tp: 1, ep: 4), moe: true)))
        #expect(result.passes, "\(result.maxRelativeError)")
    }

    @Test func aCacheFilledFromTheWrongLayerDoesNotMatch() throws {
        let graph = try DeploymentBuilder().build(Self.deployment(prefill: 2, decode: DecodeDegrees(tp: 2)))
        // Layer 1's keys on decode GPU 2 read the send that carries layer 0's.
        let wrong = try #require(graph.nodes.firstIndex { $0.name == "prefill.L0.k_rope.gpu0.kv_to_gpu2" })
        let right = try #require(graph.nodes.firstIndex { $0.name == "prefill.L1.k_rope.gpu0.kv_to_gpu2" })
        var edges = graph.edges
        for i in edges.indices where edges[i].from == right { edges[i].from = wrong }
        let rewired = OperatorGraph(name: graph.name, gpus: graph.gpus, attributes: graph.attributes, nodes: graph.nodes, edges: edges)
        #expect(try Verifier.verify(rewired).passes == false)
    }
}

/// Pipeline stages and replicas of Helix, the attention pool and separation compute the model.
@Suite struct LayoutCompositionVerifyTests {
    @Test(arguments: [(2, 1), (1, 2), (2, 2)])
    func stagesAndReplicasOfHelixMatchTheModel(stages: Int, replicas: Int) throws {
        var model = TransformerModel(layers: 4, batch: Dim(4), seq: Dim(8), hidden: 32, heads: 4, headDim: 8, ffn: 64)
        model.attention = .materialized
        var d = Deployment(name: "helix", model: model, strategy: .helix(headGroups: 2, segments: 2))
        (d.layoutStages, d.dataParallel) = (stages, replicas)
        let result = try Verifier.verify(try DeploymentBuilder().build(d))
        #expect(result.passes, "\(result.maxRelativeError)")
    }
}
