import DOTFormat
import DeployBuilders
import DeployModel
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
