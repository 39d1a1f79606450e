import DeployBuilders
import DeployModel
import DeployTestSupport
import Testing

@testable import DeployDiagrams

@Suite struct LayoutSizeTests {
    /// Every node feeds every later one: 60 nodes, 1,770 edges.
    func complete(_ n: Int, extra: [TensorEdge] = []) -> OperatorGraph {
        let nodes = (0..<n).map { i in
            OperatorNode(name: "n\(i)", op: i == 0 ? .input : (i == n - 1 ? .output : .add), gpu: 0, out: [Dim(4)])
        }
        var edges: [TensorEdge] = []
        for i in 0..<n { for j in (i + 1)..<n { edges.append(TensorEdge(from: i, to: j)) } }
        return OperatorGraph(name: "complete", gpus: 1, attributes: [:], nodes: nodes, edges: edges + extra)
    }

    /// Few nodes but 36,050 segments: an edge from rank i to rank j crosses j - i ranks.
    @Test func aCompleteDAGOfSixtyNodesIsLarge() {
        let size = LayoutSize(complete(60))
        #expect(size.nodes == 60 && size.edges == 1770)
        #expect(size.segments == 60 + 35990)
        #expect(size.isLarge && size.parallelEdges == 1)
    }

    @Test func aPresetDAGIsNot() throws {
        let graph = try DeploymentBuilder().build(presetDeployment("helix-dense-2l"))
        let size = LayoutSize(graph)
        #expect(size.nodes == 492 && size.edges == 688 && size.segments == 1692 && !size.isLarge)
    }

    @Test func parallelEdgesAreCountedPerPair() {
        let size = LayoutSize(complete(3, extra: Array(repeating: TensorEdge(from: 1, to: 2), count: 5)))
        #expect(size.parallelEdges == 6)
        #expect(size.parallelPair.map { [$0.from, $0.to] } == [1, 2])
    }
}
