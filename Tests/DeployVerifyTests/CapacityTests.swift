import DeployBuilders
import DeployModel
import DeploySpecs
import Foundation
import Testing

@testable import DeployVerify

/// Issue 16, item 9: a mixture-of-experts DAG built with a capacity factor drops the tokens
/// past an expert's capacity; verify's reference drops the same ones, so a correct DAG passes
/// and a wrong one still fails.
@Suite struct CapacityTests {
    static func epGraph() throws -> OperatorGraph {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/degrees/ep.yaml")
        let spec = try SpecParser.parse(file: url.path)
        return try spec.build(spec.deployment)
    }

    @Test func aDAGThatDropsTokensMatchesAReferenceThatDropsTheSame() throws {
        let graph = try Self.epGraph()
        let result = try Verifier.verify(graph)
        #expect(result.droppedAssignments > 0, "the test data should overflow some expert's capacity")
        #expect(result.unplacedDrops == 0)
        #expect(result.passes, "max relative error \(result.maxRelativeError)")
    }

    @Test func anExpertWithAnotherExpertsWeightStillFails() throws {
        var graph = try Self.epGraph()
        let v = try #require(graph.nodes.firstIndex { $0.attributes["weight_logical"] == "L0.w.expert0.up" })
        graph.updateNode(v) { $0.attributes["weight_logical"] = "L0.w.expert1.up" }
        let result = try Verifier.verify(graph)
        #expect(!result.passes)
    }
}
