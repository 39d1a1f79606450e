import DOTFormat
import DeployBuilders
import DeployModel
import Testing

/// Today's decoder operators, written by hand: each fault gets its rule and node.
@Suite struct DecoderRuleTests {
    static let scale = String(1 / Double(8).squareRoot())

    /// Q `[2,8,4,8]` with 4 heads over K/V `[2,8,2,8]` with 2, one fused attention, on one GPU.
    static func attentionDAG(q: String = "[2,8,4,8]", kv: String = "[2,8,2,8]", qPlace: String = "R", scale: String = scale) -> String {
        """
        digraph t {
          graph [gpus=1];
          q [op=input, gpu=0, out="\(q)", place="\(qPlace)", logical=q];
          k [op=input, gpu=0, out="\(kv)", place="\(qPlace == "S3:0/2" ? "S3:0/2" : "R")", logical=k];
          v [op=input, gpu=0, out="\(kv)", place="\(qPlace == "S3:0/2" ? "S3:0/2" : "R")", logical=v];
          a [op=attention, gpu=0, out="\(q)", scale="\(scale)", causal=true];
          o [op=output, gpu=0, out="\(q)"];
          q -> a [operand=0]; k -> a [operand=1]; v -> a [operand=2]; a -> o;
        }

        """
    }

    @Test func groupedQueryAttentionChecksClean() {
        let report = check(Self.attentionDAG())
        #expect(report.findings.filter { $0.severity == .error }.isEmpty, "\(report.findings.map(\.formatted))")
    }

    @Test func headsThatDoNotGroupOverTheKVHeadsAreAShapeError() {
        let report = check(Self.attentionDAG(kv: "[2,8,3,8]"))
        #expect(report.findings.contains { $0.rule == .shape && $0.node == "a" && $0.message.contains("groups") })
    }

    @Test func aScaleForAnotherHeadSizeIsFound() {
        let report = check(Self.attentionDAG(scale: String(1 / Double(16).squareRoot())))
        #expect(report.findings.contains { $0.rule == .shape && $0.node == "a" && $0.message.contains("1/√8") })
    }

    @Test func attentionOfAPartialSumIsFound() {
        let report = check(Self.attentionDAG(qPlace: "P:0/2"))
        #expect(report.findings.contains { $0.rule == .partialNonlinear && $0.node == "a" })
    }

    @Test func attentionOverASplitHeadDimensionIsFound() {
        let report = check(Self.attentionDAG(q: "[2,8,4,4]", kv: "[2,8,2,4]", qPlace: "S3:0/2", scale: "0.5"))
        #expect(report.findings.contains { $0.rule == .partialNonlinear && $0.node == "a" && $0.message.contains("head dimension") })
    }

    static let pieces = """
        digraph t {
          graph [gpus=1];
          x [op=input, gpu=0, out="[2,8,4,8]", place="S3:0/2", logical=x];
          r [op=rope, gpu=0, out="[2,8,4,8]", theta=10000, offset=0];
          p0 [op=input, gpu=0, out="[2,8,16]", place="P:0/2", logical=p];
          p1 [op=input, gpu=0, out="[2,8,16]", place="P:0/2", logical=p2];
          m [op=mul, gpu=0, out="[2,8,16]"];
          ids [op=input, gpu=0, out="[2,8]", data=tokens];
          e [op=embedding, gpu=0, out="[2,8,32]", weight="[100,16]"];
          n [op=narrow, gpu=0, out="[2,1,16]", dim=1, start=8, length=1];
          o1 [op=output, gpu=0, out="[2,8,4,8]"]; o2 [op=output, gpu=0, out="[2,8,16]"];
          o3 [op=output, gpu=0, out="[2,8,32]"]; o4 [op=output, gpu=0, out="[2,1,16]"];
          x -> r -> o1; p0 -> m [operand=0]; p1 -> m [operand=1]; m -> o2; ids -> e -> o3; m -> n -> o4;
        }

        """

    @Test func theNewOperatorsFaultsAreNamed() {
        let findings = check(Self.pieces).findings
        #expect(findings.contains { $0.rule == .partialNonlinear && $0.node == "r" && $0.message.contains("pairs") })
        #expect(findings.contains { $0.rule == .partialNonlinear && $0.node == "m" })
        #expect(findings.contains { $0.rule == .shape && $0.node == "e" && $0.message.contains("[2,8,16]") })
        #expect(findings.contains { $0.rule == .shape && $0.node == "n" && $0.message.contains("does not fit") })
    }

    @Test(arguments: ["llama3-8b-tp1", "llama2-70b-tp8-pp2", "mixtral-8x7b-ep8", "qwen2-72b-tp8"])
    func realPresetsCheckClean(_ name: String) throws {
        let text = try presetDOT(name, layers: 2)
        let errors = check(text).findings.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }

    /// Llama-2-70B at TP 8: rank 1's K projection takes K/V head 2's weights, not its own.
    @Test func aKVHeadServingTheWrongQueryHeadsIsFound() throws {
        let text = try presetDOT("llama2-70b-tp8-pp2", layers: 2).editingNode(
            "L0.k.gpu1", "weight_place=\"S1:1/8\"", "weight_place=\"S1:2/8\"")
        let findings = check(text).findings
        #expect(findings.contains { $0.severity == .error && $0.node == "L0.k.gpu1" }, "\(findings.prefix(3).map(\.formatted))")
    }
}

/// Megatron sequence parallelism: each all-reduce becomes a reduce-scatter and an all-gather,
/// norms and residuals run on sequence shards.
@Suite struct SequenceParallelTests {
    static func deployment(classic: Bool) -> Deployment {
        var model = TransformerModel(layers: 2, batch: Dim(2), seq: Dim(64), hidden: 256, heads: 8, headDim: 32, ffn: 512)
        if !classic {
            (model.kvHeads, model.norm, model.mlp, model.activation, model.rope) = (4, .rmsnorm, .gated, .silu, RotaryEmbedding())
            (model.attention, model.causal, model.vocab) = (.fused, true, 128)
        }
        var d = Deployment(name: "sp", model: model, strategy: .tensorPipeline(tp: 8, pp: 1))
        d.sequenceParallel = true
        return d
    }

    @Test(arguments: [true, false])
    func reduceScatterAndAllGatherReplaceEveryAllReduce(classic: Bool) throws {
        let graph = try DeploymentBuilder().build(Self.deployment(classic: classic))
        #expect(!graph.nodes.contains { $0.op == .allReduce })
        #expect(graph.nodes.filter { $0.op == .reduceScatter && $0.layer == 0 }.count == 2)
        #expect(graph.nodes.filter { $0.op == .allGather && $0.layer == 0 }.count == 2)
        let ln = try #require(graph.nodes.first { $0.name == "L0.ln1.gpu3" })
        #expect(ln.out == [Dim(2), Dim(8), Dim(256)] && ln.attributes["place"] == "S1:3/8")
        let errors = check(try DOTWriter().writeString(graph)).findings.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }

    @Test func decodeRefusesSequenceParallelism() {
        var d = Self.deployment(classic: false)
        d.phase = .decode(context: Dim(16))
        #expect(throws: SpecError.self) { try DeploymentBuilder().build(d) }
    }
}

/// Data parallelism: replicas of the pipeline on disjoint GPUs, each part r of the batch.
@Suite struct DataParallelTests {
    static func deployment(moe: Bool, phase: Phase = .prefill) -> Deployment {
        var model = TransformerModel(
            layers: 2, batch: Dim(8), seq: Dim(16), hidden: 64, heads: 8, headDim: 8, ffn: 64,
            moe: moe ? MixtureOfExperts(experts: 4, topK: 2, expertFFN: 32, capacityFactor: Dim(4)) : nil, kvHeads: 4)
        (model.norm, model.mlp, model.activation, model.rope) = (.rmsnorm, .gated, .silu, RotaryEmbedding())
        (model.attention, model.causal, model.vocab) = (.fused, true, 64)
        var d = Deployment(name: "dp", model: model, strategy: .tensorPipeline(tp: 4, pp: 2), phase: phase)
        d.dataParallel = 2
        return d
    }

    @Test(arguments: [false, true], [false, true])
    func replicasCheckCleanOnDisjointGPUs(moe: Bool, decode: Bool) throws {
        let graph = try DeploymentBuilder().build(Self.deployment(moe: moe, phase: decode ? .decode(context: Dim(12)) : .prefill))
        #expect(graph.gpus == 16 && graph.attributes["dp"] == "2")
        let q = try #require(graph.nodes.first { $0.name == "dp1.L0.q.gpu9" })
        #expect(q.gpu == 9 && q.attributes["place"] == "S0:1/2,S2:1/4" && q.label?.contains("GPU 9") == true)
        let errors = check(try DOTWriter().writeString(graph)).findings.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }

    @Test func aReplicasTransferLabelsNameItsOwnGPUsOnce() throws {
        let graph = try DeploymentBuilder().build(Self.deployment(moe: false))
        // Replica 1 is GPUs 8-15: its stage boundary sends GPU 10 to GPU 14, both ids shifted once.
        let send = try #require(graph.nodes.first { $0.name == "dp1.L1.pipeline_send.gpu10_to_gpu14" })
        #expect(send.group == [10, 14] && send.label?.contains("send/recv · GPU 10 → 14") == true, "\(send.label ?? "")")
        let reduce = try #require(graph.nodes.first { $0.name == "dp1.L0.attn_allreduce" })
        #expect(reduce.label?.contains("GPUs 8-11") == true, "\(reduce.label ?? "")")
    }

    @Test func aBatchThatDoesNotSplitIsRefusedByKey() {
        var d = Self.deployment(moe: false)
        d.dataParallel = 3
        #expect { try DeploymentBuilder().build(d) } throws: { ($0 as? SpecError)?.key == "dp" }
    }
}

/// Context parallelism: the prompt in contiguous shards on tensor-parallel rows, K and V
/// all-gathered along the sequence; expert parallelism wider than tensor parallelism.
@Suite struct ContextAndExpertParallelTests {
    static func model(moe: Bool = false, vocab: Bool = true, attention: AttentionForm = .fused) -> TransformerModel {
        var model = TransformerModel(
            layers: 2, batch: Dim(8), seq: Dim(16), hidden: 64, heads: 8, headDim: 8, ffn: 64,
            moe: moe ? MixtureOfExperts(experts: 8, topK: 2, expertFFN: 32, capacityFactor: Dim(4)) : nil, kvHeads: 4)
        (model.norm, model.mlp, model.activation, model.rope) = (.rmsnorm, .gated, .silu, RotaryEmbedding())
        (model.attention, model.causal, model.vocab) = (attention, true, vocab ? 64 : nil)
        return model
    }

    static func errors(_ graph: OperatorGraph) throws -> [Finding] {
        check(try DOTWriter().writeString(graph)).findings.filter { $0.severity == .error }
    }

    @Test(arguments: [AttentionForm.fused, .materialized], [true, false])
    func contextParallelRowsCheckClean(attention: AttentionForm, vocab: Bool) throws {
        var model = Self.model(vocab: vocab, attention: attention)
        if attention == .materialized { model.kvHeads = 8 }
        var d = Deployment(name: "cp", model: model, strategy: .tensorPipeline(tp: 4, pp: 2))
        d.contextParallel = 2
        let graph = try DeploymentBuilder().build(d)
        #expect(graph.gpus == 16 && graph.attributes["cp"] == "2")
        // Row 1 of stage 0 is GPUs 4-7: the second half of the prompt, from position 8.
        let q = try #require(graph.nodes.first { $0.name == "L0.q.gpu5" })
        #expect(q.out.dims[1] == Dim(8) && q.attributes["place"] == "S1:1/2,S2:1/4")
        let rope = try #require(graph.nodes.first { $0.name == "L0.q_rope.gpu5" })
        #expect(rope.attributes["offset"] == "8")
        let gather = try #require(graph.nodes.first { $0.name == "L0.k_all_gather.tp1" })
        #expect(gather.op == .allGather && gather.group == [1, 5] && gather.out.dims[1] == Dim(16))
        let errors = try Self.errors(graph)
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
        if vocab {
            // The last layer computes the queries of the last token only, on the last row.
            #expect(!graph.nodes.contains { $0.name == "L1.q.gpu8" } && graph.nodes.contains { $0.name == "L1.k.gpu8" })
            let last = try #require(graph.nodes.first { $0.name == "L1.q.gpu12" })
            #expect(last.out.dims[1] == Dim(1))
        }
    }

    @Test func keysNotGatheredAreFound() throws {
        var d = Deployment(name: "cp", model: Self.model(vocab: false), strategy: .tensorPipeline(tp: 2, pp: 1))
        d.contextParallel = 2
        var text = try DOTWriter().writeString(try DeploymentBuilder().build(d))
        // Attention on GPU 0 reads its own shard's keys in place of every shard's.
        let edge = try #require(text.firstRange(of: "\"L0.k_all_gather.tp0\" -> \"L0.attention.gpu0\""))
        text.replaceSubrange(edge, with: "\"L0.k_rope.gpu0\" -> \"L0.attention.gpu0\"")
        #expect(!check(text).findings.filter { $0.severity == .error }.isEmpty)
    }

    @Test(arguments: [Phase.prefill, .decode(context: Dim(12))], [1, 2])
    func expertParallelismWiderThanTensorParallelismChecksClean(phase: Phase, tp: Int) throws {
        var d = Deployment(name: "ep", model: Self.model(moe: true), strategy: .tensorPipeline(tp: tp, pp: 1), phase: phase)
        d.expertParallel = 8
        let graph = try DeploymentBuilder().build(d)
        #expect(graph.gpus == 8 && graph.attributes["ep"] == "8")
        let dispatch = try #require(graph.nodes.first { $0.name == "L0.dispatch_all_to_all" })
        #expect(dispatch.group == Array(0..<8))
        // GPU 3 is in attention group 3 / tp with its share of the batch.
        let q = try #require(graph.nodes.first { $0.name == "L0.q.gpu3" })
        #expect(q.out.dims[0] == Dim(8 / (8 / tp)))
        let errors = try Self.errors(graph)
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }

    @Test func invalidCompositionsAreRefusedByKey() {
        func refusal(_ change: (inout Deployment) -> Void, moe: Bool = false) -> String? {
            var d = Deployment(name: "bad", model: Self.model(moe: moe), strategy: .tensorPipeline(tp: 2, pp: 1))
            change(&d)
            do {
                _ = try DeploymentBuilder().build(d)
                return nil
            } catch {
                return (error as? SpecError)?.key
            }
        }
        #expect(refusal { $0.contextParallel = 3 } == "cp")
        #expect(
            refusal {
                $0.contextParallel = 2; $0.phase = .decode(context: Dim(12))
            } == "cp")
        #expect(
            refusal {
                $0.contextParallel = 2; $0.sequenceParallel = true
            } == "cp")
        #expect(refusal { $0.expertParallel = 4 } == "ep")
        #expect(refusal({ $0.expertParallel = 3 }, moe: true) == "ep")
        #expect(refusal({ $0.expertParallel = 6 }, moe: true) == "ep")
        #expect(
            refusal(
                {
                    $0.expertParallel = 16; $0.model.batch = Dim(4)
                }, moe: true) == "ep")
    }
}

/// The rank order: which degree is innermost in GPU numbering.
@Suite struct RankOrderTests {
    static func deployment(order: [String]) -> Deployment {
        var d = DataParallelTests.deployment(moe: false)
        d.rankOrder = order
        return d
    }

    @Test func dataParallelInnermostInterleavesTheReplicas() throws {
        let graph = try DeploymentBuilder().build(Self.deployment(order: ["dp", "tp"]))
        #expect(graph.attributes["order"] == "dp,tp,pp")
        // Replica 0's first stage is tensor ranks 0-3 at even GPU ids; replica 1 the odd ones.
        let reduce = try #require(graph.nodes.first { $0.name == "dp0.L0.attn_allreduce" })
        #expect(reduce.group == [0, 2, 4, 6])
        let q = try #require(graph.nodes.first { $0.name == "dp1.L0.q.gpu3" })
        #expect(q.gpu == 3 && q.label?.contains("GPU 3") == true)
        let send = try #require(graph.nodes.first { $0.op == .sendRecv && $0.name.hasPrefix("dp1.") })
        #expect(send.group == [1, 9] && send.label?.contains("GPU 1 → 9") == true)
        let errors = check(try DOTWriter().writeString(graph)).findings.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }

    @Test func theBuildersOrderIsTheDefault() throws {
        let plain = try DeploymentBuilder().build(Self.deployment(order: []))
        let named = try DeploymentBuilder().build(Self.deployment(order: ["tp", "pp", "dp"]))
        #expect(
            try DOTWriter().writeString(plain)
                == DOTWriter().writeString(named).replacingOccurrences(of: "  order=\"tp,pp,dp\",\n", with: ""))
    }

    @Test func aDegreeTheDeploymentLacksIsRefused() {
        #expect { try DeploymentBuilder().build(Self.deployment(order: ["cp"])) } throws: { ($0 as? SpecError)?.key == "order" }
        #expect { try DeploymentBuilder().build(Self.deployment(order: ["tp", "tp"])) } throws: { ($0 as? SpecError)?.key == "order" }
    }
}

/// Disaggregated serving: a prefill and the decode step after it on GPUs of their own, the
/// prefill's keys and values moved into the decode GPUs' caches.
@Suite struct DisaggregatedServingTests {
    static func deployment(prefill: (tp: Int, dp: Int), decode: DecodeDegrees, moe: Bool = false) -> Deployment {
        var d = Deployment(
            name: "disagg", model: ContextAndExpertParallelTests.model(moe: moe), strategy: .tensorPipeline(tp: prefill.tp, pp: 1))
        d.dataParallel = prefill.dp
        d.disaggregatedDecode = decode
        return d
    }

    static func errors(_ graph: OperatorGraph) throws -> [Finding] {
        check(try DOTWriter().writeString(graph)).findings.filter { $0.severity == .error }
    }

    @Test func eightAndEightMoveEachRanksCacheOnce() throws {
        let graph = try DeploymentBuilder().build(Self.deployment(prefill: (4, 1), decode: DecodeDegrees(tp: 4)))
        #expect(graph.gpus == 8 && graph.attributes["phase"] == "disaggregated" && graph.attributes["context"] == "17")
        #expect(graph.attributes["prefill_gpus"] == "0-3" && graph.attributes["decode_gpus"] == "4-7")
        #expect(!graph.nodes.contains { $0.op == .kvCache })
        // 2 layers x 4 decode GPUs x (K, V): one send each, from the rank of the same K/V heads.
        let sends = graph.nodes.filter { $0.op == .sendRecv && $0.block == "kv_transfer" }
        #expect(sends.count == 16)
        let k = try #require(sends.first { $0.name == "prefill.L1.k_rope.gpu2.kv_to_gpu6" })
        #expect(k.group == [2, 6] && k.out == [Dim(8), Dim(16), Dim(1), Dim(8)])
        let errors = try Self.errors(graph)
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }

    @Test(arguments: [
        ((2, 1), DecodeDegrees(tp: 4)), ((4, 1), DecodeDegrees(tp: 2)), ((2, 2), DecodeDegrees(tp: 1)),
        ((1, 1), DecodeDegrees(tp: 2, dp: 2)),
    ])
    func sidesOfOtherDegreesReshardTheCaches(prefill: (Int, Int), decode: DecodeDegrees) throws {
        let graph = try DeploymentBuilder().build(Self.deployment(prefill: (prefill.0, prefill.1), decode: decode))
        let errors = try Self.errors(graph)
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
        let decoding = prefill.0 * prefill.1
        #expect(
            graph.nodes.filter { $0.op == .sendRecv && $0.block == "kv_transfer" }.allSatisfy {
                $0.group[0] < decoding && $0.group[1] >= decoding
            })
    }

    @Test func expertParallelDecodeChecksClean() throws {
        let graph = try DeploymentBuilder().build(Self.deployment(prefill: (2, 1), decode: DecodeDegrees(tp: 1, ep: 8), moe: true))
        let errors = try Self.errors(graph)
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }

    @Test func whatCannotBeDisaggregatedIsRefusedByKey() {
        var d = Self.deployment(prefill: (2, 1), decode: DecodeDegrees(tp: 2))
        d.phase = .decode(context: Dim(12))
        #expect { try DeploymentBuilder().build(d) } throws: { ($0 as? SpecError)?.key == "phase" }
        d = Self.deployment(prefill: (2, 1), decode: DecodeDegrees(tp: 3))
        #expect { try DeploymentBuilder().build(d) } throws: {
            ($0 as? SpecError)?.key.hasPrefix("decode") == true || ($0 as? SpecError)?.key == "heads"
        }
        d = Self.deployment(prefill: (2, 1), decode: DecodeDegrees(tp: 2))
        d.contextParallel = 2
        #expect { try DeploymentBuilder().build(d) } throws: { ($0 as? SpecError)?.key == "prefill.cp" }
    }
}

/// Pipeline stages given as a layer list per stage.
@Suite struct UnevenStageTests {
    @Test func stagesHoldTheLayersListed() throws {
        var model = ContextAndExpertParallelTests.model()
        model.layers = 4
        var d = Deployment(name: "uneven", model: model, strategy: .tensorPipeline(tp: 2, pp: 2))
        d.stageLayers = [1, 3]
        let graph = try DeploymentBuilder().build(d)
        // Layer 0 on GPUs 0-1, layers 1-3 on GPUs 2-3: one stage boundary, before layer 1.
        let sends = graph.nodes.filter { $0.op == .sendRecv }
        #expect(sends.count == 2 && sends.allSatisfy { $0.layer == 1 })
        #expect(graph.nodes.first { $0.name == "L3.q.gpu3" } != nil && graph.nodes.first { $0.name == "L1.q.gpu1" } == nil)
        let errors = check(try DOTWriter().writeString(graph)).findings.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
        d.stageLayers = [1, 2]
        #expect { try DeploymentBuilder().build(d) } throws: { ($0 as? SpecError)?.key == "pp" }
        d.stageLayers = [4]
        #expect { try DeploymentBuilder().build(d) } throws: { ($0 as? SpecError)?.key == "pp" }
    }
}

/// Pipeline stages of the strategies that place their own GPUs (Helix, the pool, separation).
@Suite struct LayoutStageTests {
    static func classic(moe: Bool = false) -> TransformerModel {
        var model = TransformerModel(
            layers: 4, batch: Dim(2), seq: Dim(16), hidden: 64, heads: 4, headDim: 16, ffn: 128,
            moe: moe ? MixtureOfExperts(experts: 4, topK: 2, expertFFN: 64, capacityFactor: Dim(4)) : nil)
        model.attention = .materialized
        return model
    }

    @Test(arguments: [
        Strategy.helix(headGroups: 2, segments: 2), .attentionPool(base: [0, 1], pool: [2, 3]),
        .attentionExpertSeparation(attention: [0, 1], experts: [2, 3]),
    ])
    func stagesOfALayoutCheckClean(strategy: Strategy) throws {
        var moe = false
        if case .attentionExpertSeparation = strategy { moe = true }
        var d = Deployment(name: "stages", model: Self.classic(moe: moe), strategy: strategy)
        d.layoutStages = 2
        let graph = try DeploymentBuilder().build(d)
        #expect(graph.gpus == 8 && graph.attributes["pp"] == "2" && graph.attributes["layers"] == "4")
        // Stage 1 holds layers 2-3 on GPUs 4-7; its inputs arrive from stage 0's outputs.
        #expect(graph.nodes.contains { $0.layer == 3 && $0.gpu == 7 } && !graph.nodes.contains { $0.layer == 3 && ($0.gpu ?? 8) < 4 })
        let sends = graph.nodes.filter { $0.op == .sendRecv && $0.block == "pipeline" }
        #expect(!sends.isEmpty && sends.allSatisfy { $0.layer == 2 && $0.group[1] == $0.group[0] + 4 })
        #expect(graph.nodes.filter { $0.op == .output }.allSatisfy { ($0.gpu ?? 0) >= 4 })
        let errors = check(try DOTWriter().writeString(graph)).findings.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }

    @Test func unevenLayoutStagesAreRefused() {
        var d = Deployment(name: "stages", model: Self.classic(), strategy: .helix(headGroups: 2, segments: 2))
        d.layoutStages = 3
        #expect { try DeploymentBuilder().build(d) } throws: { ($0 as? SpecError)?.key == "pp" }
    }
}

/// A mixture of experts on one GPU (tp 1, alone or in rows): no collective of one GPU.
@Suite struct SingleGPUExpertsTests {
    @Test(arguments: [1, 2])
    func oneGPUsExpertsNeedNoAllToAll(contextParallel: Int) throws {
        var d = Deployment(name: "moe1", model: ContextAndExpertParallelTests.model(moe: true), strategy: .tensorPipeline(tp: 1, pp: 1))
        d.contextParallel = contextParallel
        let graph = try DeploymentBuilder().build(d)
        #expect(!graph.nodes.contains { $0.op.isCommunication && $0.group.count < 2 })
        #expect(!graph.nodes.contains { $0.op == .allToAll })
        let errors = check(try DOTWriter().writeString(graph)).findings.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.formatted))")
    }
}
