import DeployBuilders
import DeployModel
import Foundation
import Testing

@testable import DeploySpecs

/// The models people deploy today, from their Hugging Face configs: structure, sizes, and the
/// parameter counts their publishers state.
@Suite struct RealModelTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hf")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static func deployment(_ file: String, tp: Int, pp: Int = 1, phase: Phase = .prefill, kvHeads: Int? = nil) throws -> Deployment {
        var model = try HuggingFaceConfig.model(file: fixture(file))
        model.batch = Dim(4)
        model.seq = Dim(64)
        if let kvHeads { model.kvHeads = kvHeads }
        return Deployment(name: "t", model: model, strategy: .tensorPipeline(tp: tp, pp: pp), phase: phase)
    }

    @Test func aConfigReadsAsTheModelItDescribes() throws {
        let model = try HuggingFaceConfig.model(file: Self.fixture("gqa-8-kv.json"))
        #expect(model.kvHeads == 8 && model.heads == 64 && model.headDim == 128)
        #expect(model.norm == .rmsnorm && model.mlp == .gated && model.activation == .silu)
        #expect(model.causal && model.attention == .fused && model.rope == RotaryEmbedding(theta: 10000))
        #expect(model.vocab == 32000 && !model.tiedEmbeddings)
    }

    /// One K/V head per rank at TP 8 for 8 K/V heads: K and V are kv_heads x head_dim wide in
    /// all, split over the ranks, and each rank's query heads are the 8 its K/V head serves.
    @Test func keysAndValuesAreKVHeadsWideSplitOverTheRanks() throws {
        let graph = try DeploymentBuilder().build(Self.deployment("gqa-8-kv.json", tp: 8))
        for rank in 0..<8 {
            let k = try #require(graph.nodes.first { $0.name == "L0.k.gpu\(rank)" })
            #expect(k.attributes["weight"] == "[8192,1,128]")
            #expect(k.attributes["weight_place"] == "S1:\(rank)/8")
            let q = try #require(graph.nodes.first { $0.name == "L0.q.gpu\(rank)" })
            #expect(q.attributes["weight"] == "[8192,8,128]")
            let attention = try #require(graph.nodes.first { $0.name == "L0.attention.gpu\(rank)" })
            #expect(attention.op == .attention && attention.out == [Dim(4), Dim(64), Dim(8), Dim(128)])
        }
    }

    /// With kv_heads = heads the decode step's cache is heads / kv_heads = 8 times larger.
    @Test func theDecodeCacheShrinksWithTheKVHeads() throws {
        func cacheElements(kvHeads: Int?) throws -> Double {
            let graph = try DeploymentBuilder().build(
                Self.deployment("gqa-8-kv.json", tp: 8, phase: .decode(context: Dim(512)), kvHeads: kvHeads))
            return graph.nodes.filter { $0.op == .kvCache && $0.gpu == 0 }.reduce(0) { $0 + ($1.out.elementCountValue ?? 0) }
        }
        let grouped = try cacheElements(kvHeads: nil)
        let full = try cacheElements(kvHeads: 64)
        #expect(grouped > 0)
        #expect(full == 8 * grouped)
    }

    /// deploydag info prints these, derived from the weights in the graph.
    @Test(arguments: [
        ("llama2-70b-tp8-pp2", 68.98e9), ("llama3-8b-tp1", 8.03e9), ("llama3-70b-tp8-pp2", 70.55e9), ("mixtral-8x7b-ep8", 46.70e9),
        ("qwen2-72b-tp8", 72.71e9),
    ])
    func parameterCountsAreThePublishedOnes(_ preset: String, _ published: Double) throws {
        let graph = try #require(try Presets.named(preset)).build()
        let count = graph.parameterCount
        #expect(count.unnamed == 0)
        #expect(abs(count.total - published) / published < 0.001, "\(count.total)")
    }

    @Test(arguments: [
        ("unknown-model-type.json", "model_type", "gpt_neox"), ("unknown-hidden-act.json", "hidden_act", "quick_gelu"),
        ("rope-scaling.json", "rope_scaling", ""), ("unknown-key.json", "mystery_switch", ""),
    ])
    func whatCannotBeRepresentedIsRefusedByName(_ file: String, _ key: String, _ value: String) {
        do {
            _ = try HuggingFaceConfig.model(file: Self.fixture(file))
            Issue.record("\(file) was accepted")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(value.isEmpty || error.reason.contains(value), "\(error)")
            #expect(error.line != nil)
        }
    }

    @Test func aSpecSaysItsVocabularyInItsOwnWords() throws {
        let spec = try SpecParser.parse(
            text: """
                name: s
                model: {layers: 2, batch: 2, seq: 16, hidden: 64, heads: 8, num_key_value_heads: 2, head_dim: 8, ffn: 32,
                        activation: swiglu, norm: rmsnorm, rope_theta: 500000, vocab: 64, tie_embeddings: true,
                        experts: 4, expert_ffn: 32, experts_per_token: 2}
                strategy: {kind: tp_pp, tp: 2}
                """, file: "s.yaml")
        let m = spec.deployment.model
        #expect(m.kvHeads == 2 && m.mlp == .gated && m.activation == .silu && m.rope?.theta == 500000 && m.tiedEmbeddings)
        #expect(m.moe?.topK == 2 && m.causal && m.attention == .fused)
        let graph = try spec.build()
        #expect(graph.nodes.contains { $0.name == "L0.expert0.gate.gpu0" })
        #expect(graph.nodes.contains { $0.op == .embedding } && graph.nodes.contains { $0.name == "lm_head.gpu0" })
        #expect(graph.nodes.first { $0.name == "lm_head.gpu0" }?.attributes["weight_logical"] == "w.embed")
    }

    @Test(arguments: [
        (
            "model: {layers: 1, batch: 2, seq: 8, hidden: 64, heads: 8, kv_heads: 2, head_dim: 8, ffn: 32, attention: materialized}\nstrategy: {kind: tp_pp, tp: 2}",
            "attention"
        ),
        (
            "model: {layers: 1, batch: 2, seq: 8, hidden: 64, heads: 8, head_dim: 8, ffn: 32, attention: fused}\nstrategy: {kind: helix, head_groups: 2, segments: 2}",
            "attention"
        ),
        (
            "model: {layers: 1, batch: 2, seq: 8, hidden: 64, heads: 8, kv_heads: 3, head_dim: 8, ffn: 32}\nstrategy: {kind: tp_pp, tp: 2}",
            "kv_heads"
        ),
        (
            "model: {layers: 1, batch: 2, seq: 8, hidden: 64, heads: 8, head_dim: 8, ffn: 32, rope: true}\nstrategy: {kind: helix, head_groups: 2, segments: 2}",
            "rope"
        ),
        (
            "model: {layers: 1, batch: 2, seq: 8, hidden: 64, heads: 8, head_dim: 8, ffn: 32, top_k: 2}\nstrategy: {kind: tp_pp, tp: 2}",
            "top_k"
        ),
        (
            "model: {layers: 1, batch: 2, seq: 8, hidden: 64, heads: 8, head_dim: 8, ffn: 32, vocab: 63}\nstrategy: {kind: tp_pp, tp: 2}",
            "vocab"
        ),
    ])
    func compositionsThatCannotBeBuiltNameTheKey(_ yaml: String, _ key: String) {
        do {
            _ = try SpecParser.parse(text: "name: s\n" + yaml, file: "s.yaml").build()
            Issue.record("built: \(yaml)")
        } catch {
            #expect(error.key == key, "\(error)")
        }
    }

    @Test func helixSpecsAreMaterializedUnlessTheySayOtherwise() throws {
        let spec = try SpecParser.parse(
            text:
                "name: s\nmodel: {layers: 1, batch: 2, seq: 8, hidden: 64, heads: 8, head_dim: 8, ffn: 32}\nstrategy: {kind: helix, head_groups: 2, segments: 2}",
            file: "s.yaml")
        #expect(spec.deployment.model.attention == .materialized && spec.deployment.model.causal)
        let graph = try spec.build()
        #expect(graph.nodes.first { $0.op == .softmax }?.attributes["causal"] == "true")
    }
}

/// Falcon: multi-query or grouped K/V heads, attention and MLP side by side, LayerNorm with a
/// bias, tied embeddings.
@Suite struct FalconConfigTests {
    @Test func falcon7BIsMultiQueryWithOneNormPerLayer() throws {
        let model = try HuggingFaceConfig.model(file: RealModelTests.fixture("falcon-7b.json"))
        #expect(model.kvHeads == 1 && model.heads == 71 && model.ffn == 4 * 4544)
        #expect(model.parallelResidual && !model.parallelNorms && model.norm == .layernorm && model.normBias && model.tiedEmbeddings)
        #expect(model.mlp == .plain && model.activation == .gelu)
        var d = Deployment(name: "falcon", model: model, strategy: .tensorPipeline(tp: 1, pp: 1))
        d.model.batch = Dim(1)
        d.model.seq = Dim(128)
        let graph = try DeploymentBuilder().build(d)
        // 32 x (4544 x (4544 + 2 x 64) + 4544^2 + 2 x 4544 x 18176 + 2 x 4544) + 65024 x 4544 + 2 x 4544.
        #expect(graph.parameterCount.total == 6_921_720_704)
        #expect(!graph.nodes.contains { $0.name == "L0.ln2.gpu0" })
    }

    @Test func falcon40BGivesAttentionAndTheMLPTheirOwnNorms() throws {
        let model = try HuggingFaceConfig.model(file: RealModelTests.fixture("falcon-40b.json"))
        #expect(model.kvHeads == 8 && model.parallelNorms)
        var d = Deployment(name: "falcon", model: model, strategy: .tensorPipeline(tp: 8, pp: 1))
        d.model.layers = 1
        d.model.batch = Dim(1)
        d.model.seq = Dim(128)
        let graph = try DeploymentBuilder().build(d)
        #expect(graph.nodes.contains { $0.name == "L0.ln2.gpu7" } && graph.nodes.contains { $0.name == "L0.layer_allreduce" })
        #expect(!graph.nodes.contains { $0.name == "L0.attn_allreduce" })
    }
}

/// GPT-2 and GPT-J: the classic GPT block with its biases, and GPT-J's rotary, parallel layer.
@Suite struct GPTConfigTests {
    static func graph(_ file: String, tp: Int = 1) throws -> OperatorGraph {
        var model = try HuggingFaceConfig.model(file: RealModelTests.fixture(file))
        model.batch = Dim(1)
        model.seq = Dim(64)
        return try DeploymentBuilder().build(Deployment(name: "gpt", model: model, strategy: .tensorPipeline(tp: tp, pp: 1)))
    }

    /// Hugging Face's GPT2LMHeadModel has 124,439,808 parameters.
    @Test func gpt2CountsItsPublishedParameters() throws {
        let graph = try Self.graph("gpt2.json")
        #expect(graph.parameterCount.total == 124_439_808)
        #expect(graph.nodes.contains { $0.name == "pos_embed.gpu0" } && graph.nodes.contains { $0.op == .rope } == false)
        #expect(graph.nodes.first { $0.name == "lm_head.gpu0" }?.attributes["weight_logical"] == "w.embed")
    }

    @Test func gptJRotatesInterleavedAndAddsItsHeadBias() throws {
        let graph = try Self.graph("gpt-j-6b.json", tp: 4)
        let rope = try #require(graph.nodes.first { $0.name == "L0.q_rope.gpu0" })
        #expect(rope.attributes["interleaved"] == "true" && rope.attributes["rotary_dim"] == "64")
        #expect(graph.nodes.first { $0.name == "lm_head.gpu3" }?.attributes["bias"] == "true")
        // The row-parallel FC2's bias is added once, by rank 0's term.
        #expect(graph.nodes.first { $0.name == "L0.fc2.gpu0" }?.attributes["bias"] == "true")
        #expect(graph.nodes.first { $0.name == "L0.fc2.gpu1" }?.attributes["bias"] == nil)
        #expect(graph.nodes.contains { $0.name == "L0.layer_allreduce" })
        // 28 x (4 x 4096^2 + 2 x 4096 x 16384 + 16384 + 4096 + 2 x 4096) + 2 x 50400 x 4096 + 50400 + 2 x 4096.
        #expect(graph.parameterCount.total == 6_050_882_784)
    }
}

/// Mistral 7B: Llama's block with a sliding window of 4096 keys.
@Suite struct MistralConfigTests {
    @Test func mistral7BAttendsThroughItsWindow() throws {
        var model = try HuggingFaceConfig.model(file: RealModelTests.fixture("mistral-7b.json"))
        #expect(model.slidingWindow == 4096 && model.kvHeads == 8)
        model.batch = Dim(1)
        model.seq = Dim(8192)
        let graph = try DeploymentBuilder().build(Deployment(name: "mistral", model: model, strategy: .tensorPipeline(tp: 2, pp: 1)))
        let attention = try #require(graph.nodes.first { $0.name == "L0.attention.gpu1" })
        #expect(attention.attributes["window"] == "4096" && attention.attributes["causal"] == "true")
        // Mistral-7B-v0.1: 7,241,732,096 parameters.
        #expect(graph.parameterCount.total == 7_241_732_096)
    }
}
