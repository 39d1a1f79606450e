import DOTFormat
import DeployBuilders
import DeployModel
import DeploySpecs
import DeployTestSupport
import Foundation
import Testing

@testable import DeployChecker

/// Issue 16, item 3: the graph header cross-checked against the nodes that state the same fact.
@Suite struct HeaderRuleTests {
    private func headerFindings(_ text: String) -> [Finding] { check(text).findings.filter { $0.rule == .header } }

    @Test func aSoftmaxScaledForPartOfTheHeadIsAFinding() throws {
        // tp8-pp2-dense-4l: heads of 512; 1/sqrt(128) is a segment's scale, not the head's.
        let text = try presetDOT("tp8-pp2-dense-4l", layers: 2)
        #expect(headerFindings(text).isEmpty)
        let edited = text.replacingFirst("scale=\"0.044194173824159216\"", with: "scale=\"0.08838834764831845\"")
        #expect(edited != text)
        let findings = headerFindings(edited)
        #expect(findings.count == 1)
        #expect(findings.first?.message.contains("scale 0.08838834764831845 = 1/sqrt(128), but the graph's head_dim is 512") == true)
        #expect(findings.first?.node?.hasSuffix("softmax.gpu0") == true)
    }

    @Test func theSeedsPerSegmentSoftmaxIsFlaggedByItsScale() throws {
        var d = presetDeployment("helix-dense-2l", layers: 1, batch: Dim(2), seq: Dim(8))
        d.helixSoftmax = .perSegment
        let text = try DOTWriter().writeString(DeploymentBuilder().build(d))
        #expect(headerFindings(text).contains { $0.message.contains("= 1/sqrt(128), but the graph's head_dim is 512") })
    }

    @Test func aTopOneDAGLabelledTopTwoAndARouterWiderThanItsExperts() throws {
        let text = try presetDOT("mixtral-8x7b-ep8", layers: 1)
        #expect(headerFindings(text).isEmpty)
        let topOne = text.replacingOccurrences(
            of: "op=\"topk\", gpu=\"3\", out=\"[8,256,2]\", layer=\"0\", block=\"moe\", k=\"2\"",
            with: "op=\"topk\", gpu=\"3\", out=\"[8,256,2]\", layer=\"0\", block=\"moe\", k=\"1\"")
        #expect(topOne != text)
        #expect(headerFindings(topOne).map(\.message) == ["top-k picks k=1 experts a token, but the graph's top_k is 2"])
        let fewer = text.replacingFirst(
            "op=\"dispatch\", gpu=\"0\", out=\"[8,512,4096]\", layer=\"0\", block=\"moe\", capacity=\"512\", experts=\"8\"",
            with: "op=\"dispatch\", gpu=\"0\", out=\"[8,512,4096]\", layer=\"0\", block=\"moe\", capacity=\"512\", experts=\"7\"")
        #expect(fewer != text)
        let findings = headerFindings(fewer)
        #expect(findings.contains { $0.message == "dispatch to 7 experts, but the graph has 8 (graph attribute experts)" })
        #expect(findings.contains { $0.message.contains("routing comes from a top-k over 8 router scores") })
    }

    @Test func aFileWithoutAHeaderIsNotHeldToOne() throws {
        let text = try presetDOT("tp8-pp2-dense-4l", layers: 2)
            .replacingFirst("head_dim=\"512\", ", with: "")
            .replacingFirst("scale=\"0.044194173824159216\"", with: "scale=\"0.5\"")
        #expect(headerFindings(text).isEmpty)
    }
}

/// Issue 16, items 5 and 10: placement derivation runs through reduce_scatter and all_to_all.
@Suite struct MemberPartTests {
    static let twoStep = """
        digraph t {
          graph [gpus=2];
          x0 [op=input, gpu=0, out="[4,4]", logical=x, place="S1:0/2"];
          x1 [op=input, gpu=1, out="[4,4]", logical=x, place="S1:1/2"];
          m0 [op=matmul, gpu=0, eq="bh,hd->bd", weight="[4,16]", m=4, k=4, n=16, out="[4,16]", weight_logical=w, weight_place="S0:0/2"];
          m1 [op=matmul, gpu=1, eq="bh,hd->bd", weight="[4,16]", m=4, k=4, n=16, out="[4,16]", weight_logical=w, weight_place="S0:1/2"];
          rs [op=reduce_scatter, group="0,1", dim=0, out="[2,16]"];
          ag [op=all_gather, group="0,1", dim=0, out="[4,16]"];
          g0 [op=gelu, gpu=0, out="[4,16]"]; g1 [op=gelu, gpu=1, out="[4,16]"];
          y0 [op=output, gpu=0, out="[4,16]"]; y1 [op=output, gpu=1, out="[4,16]"];
          x0 -> m0; x1 -> m1; m0 -> rs; m1 -> rs; rs -> ag; ag -> g0; ag -> g1; g0 -> y0; g1 -> y1;
        }
        """

    @Test func aReduceScatterThenAnAllGatherWithOneEdgeEachIsAnAllReduce() {
        #expect(check(Self.twoStep).findings.isEmpty, "\(check(Self.twoStep).findings.map(\.formatted))")
        // Without the all_gather, GELU would see each member's part: still fine (not partial).
        // Without the reduce_scatter's sum (the all_gather of the partial sums), GELU of a partial sum.
        let noSum = Self.twoStep.replacingOccurrences(of: "m0 -> rs; m1 -> rs; rs -> ag;", with: "m0 -> ag; m1 -> ag;")
            .replacingOccurrences(
                of: "ag [op=all_gather, group=\"0,1\", dim=0, out=\"[4,16]\"]",
                with: "ag [op=all_gather, group=\"0,1\", dim=0, out=\"[8,16]\"]"
            )
            .replacingOccurrences(of: "out=\"[4,16]\"];\n  y0", with: "out=\"[8,16]\"];\n  y0")
        #expect(check(noSum).findings.contains { $0.node == "ag" })
    }

    @Test func aReduceScatterOfAReplicatedTensorMultipliesIt() {
        let replicated = Self.twoStep.replacingOccurrences(of: "weight_place=\"S0:0/2\"", with: "weight_place=\"R\"")
            .replacingOccurrences(of: "weight_place=\"S0:1/2\"", with: "weight_place=\"R\"")
            .replacingOccurrences(of: "out=\"[4,4]\", logical=x, place=\"S1:0/2\"", with: "out=\"[4,4]\", logical=x, place=\"R\"")
            .replacingOccurrences(of: "out=\"[4,4]\", logical=x, place=\"S1:1/2\"", with: "out=\"[4,4]\", logical=x, place=\"R\"")
            .replacingOccurrences(of: "weight=\"[4,16]\", m=4, k=4", with: "weight=\"[4,16]\", m=4, k=4")
        let findings = check(replicated).findings
        #expect(
            findings.contains { $0.rule == .reduceGroup && $0.node == "rs" && $0.message.contains("not a partial sum") },
            "\(findings.map(\.formatted))")
    }

    @Test func anAllReduceReplacedByASameShapeAllToAllIsAFinding() throws {
        let text = try DOTWriter().writeString(DeploymentBuilder().build(try loadSpec("tp")))
        #expect(check(text).findings.isEmpty)
        let edited = text.replacingFirst(
            "\"L0.attn_allreduce\" [op=\"all_reduce\", group=\"0,1\",",
            with: "\"L0.attn_allreduce\" [op=\"all_to_all\", split_dim=\"2\", concat_dim=\"2\", group=\"0,1\",")
        #expect(edited != text)
        let findings = check(edited).findings
        #expect(
            findings.contains {
                $0.rule == .commVolume && $0.node == "L0.attn_allreduce" && $0.message.contains("without adding the terms")
            },
            "\(findings.map(\.formatted))")
    }

    @Test func sequenceParallelPartsAreDerivedThroughTheReduceScatter() throws {
        let text = try DOTWriter().writeString(DeploymentBuilder().build(try loadSpec("sp")))
        #expect(check(text).findings.isEmpty)
        // The two GPUs' residuals swapped in their stated parts (coverage still whole): each
        // add makes the part its reduce_scatter member holds, not the one it states.
        let swapped = text.replacingFirst(
            "\"L0.residual1.gpu0\" [op=\"add\", gpu=\"0\", out=\"[4,32,64]\", layer=\"0\", block=\"attention\", logical=\"L0.residual1\", place=\"S1:0/2\"",
            with:
                "\"L0.residual1.gpu0\" [op=\"add\", gpu=\"0\", out=\"[4,32,64]\", layer=\"0\", block=\"attention\", logical=\"L0.residual1\", place=\"S1:1/2\""
        ).replacingFirst(
            "\"L0.residual1.gpu1\" [op=\"add\", gpu=\"1\", out=\"[4,32,64]\", layer=\"0\", block=\"attention\", logical=\"L0.residual1\", place=\"S1:1/2\"",
            with:
                "\"L0.residual1.gpu1\" [op=\"add\", gpu=\"1\", out=\"[4,32,64]\", layer=\"0\", block=\"attention\", logical=\"L0.residual1\", place=\"S1:0/2\""
        )
        #expect(swapped != text)
        let findings = check(swapped).findings
        #expect(
            findings.contains { $0.node == "L0.residual1.gpu0" && $0.message.contains("states S1:1/2") }, "\(findings.map(\.formatted))")
    }

    private func loadSpec(_ name: String) throws -> Deployment {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/degrees/\(name).yaml")
        return try SpecParser.parse(file: url.path).deployment
    }
}
