import Testing

@testable import DeployModel

@Suite struct TopologyTests {
    @Test func kahnOrdersADAG() {
        let a = Adjacency(nodeCount: 4, pairs: [(0, 1), (1, 2), (0, 2), (2, 3)])
        #expect(a.topologicalOrder() == .acyclic([0, 1, 2, 3]))
        #expect(a.longestPathInNodes() == [0, 1, 2, 3])
    }

    @Test func aCycleIsReturnedInEdgeOrder() {
        // 0 -> 1 -> 2 -> 3 -> 1, plus a tail 3 -> 4.
        let a = Adjacency(nodeCount: 5, pairs: [(0, 1), (1, 2), (2, 3), (3, 1), (3, 4)])
        guard case .cyclic(let cycle) = a.topologicalOrder() else {
            Issue.record("expected a cycle")
            return
        }
        #expect(Set(cycle) == [1, 2, 3])
        for (i, v) in cycle.enumerated() {
            let next = cycle[(i + 1) % cycle.count]
            #expect(a.successors(of: v).contains(Int32(next)), "\(v) -> \(next) must be an edge")
        }
        #expect(a.longestPathInNodes() == nil)
    }

    @Test func selfLoopIsACycleOfOne() {
        let a = Adjacency(nodeCount: 2, pairs: [(0, 1), (1, 1)])
        #expect(a.topologicalOrder() == .cyclic([1]))
    }

    @Test func longChainDoesNotRecurse() {
        let n = 200_000
        let a = Adjacency(nodeCount: n, pairs: (0..<(n - 1)).map { ($0, $0 + 1) })
        #expect(a.longestPathInNodes()?.count == n)
    }

    @Test func weightedLongestPath() {
        let a = Adjacency(nodeCount: 4, pairs: [(0, 1), (0, 2), (1, 3), (2, 3)])
        let weights = [1.0, 5.0, 2.0, 1.0]
        let (path, total) = a.longestPath(order: [0, 1, 2, 3], weight: { weights[$0] })
        #expect(path == [0, 1, 3])
        #expect(total == 7)
    }

    @Test func reachability() {
        let a = Adjacency(nodeCount: 4, pairs: [(0, 1), (2, 3)])
        #expect(a.reachable(from: [0]) == [true, true, false, false])
        #expect(a.reachable(from: [3], forward: false) == [false, false, true, true])
    }

    @Test func gpuLists() {
        #expect(GPUList.parse("0,1,2,3") == [0, 1, 2, 3])
        #expect(GPUList.parse("8-11, 14") == [8, 9, 10, 11, 14])
        #expect(GPUList.parse("a") == nil && GPUList.parse("") == nil && GPUList.parse("-1") == nil)
        #expect(GPUList.compact([3, 0, 1, 2, 8]) == "0-3,8")
    }
}
