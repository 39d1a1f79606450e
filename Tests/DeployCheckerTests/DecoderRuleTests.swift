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

    @Test func aBatchThatDoesNotSplitIsRefusedByKey() {
        var d = Self.deployment(moe: false)
        d.dataParallel = 3
        #expect { try DeploymentBuilder().build(d) } throws: { ($0 as? SpecError)?.key == "dp" }
    }
}
