/// Successor and predecessor lists in compressed form (CSR), built once in O(V + E).
public struct Adjacency: Sendable {
    public let nodeCount: Int
    private let succOffsets: [Int32]
    private let succTargets: [Int32]
    private let predOffsets: [Int32]
    private let predSources: [Int32]

    public init(nodeCount: Int, edges: [TensorEdge]) {
        self.nodeCount = nodeCount
        (succOffsets, succTargets) = Adjacency.compress(nodeCount, edges.lazy.map { ($0.from, $0.to) })
        (predOffsets, predSources) = Adjacency.compress(nodeCount, edges.lazy.map { ($0.to, $0.from) })
    }

    public init(nodeCount: Int, pairs: [(Int, Int)]) {
        self.nodeCount = nodeCount
        (succOffsets, succTargets) = Adjacency.compress(nodeCount, pairs.lazy.map { ($0.0, $0.1) })
        (predOffsets, predSources) = Adjacency.compress(nodeCount, pairs.lazy.map { ($0.1, $0.0) })
    }

    public func successors(of node: Int) -> ArraySlice<Int32> {
        succTargets[Int(succOffsets[node])..<Int(succOffsets[node + 1])]
    }

    public func predecessors(of node: Int) -> ArraySlice<Int32> {
        predSources[Int(predOffsets[node])..<Int(predOffsets[node + 1])]
    }

    public func inDegree(_ node: Int) -> Int { Int(predOffsets[node + 1] - predOffsets[node]) }
    public func outDegree(_ node: Int) -> Int { Int(succOffsets[node + 1] - succOffsets[node]) }

    private static func compress<S: Sequence>(_ n: Int, _ pairs: S) -> ([Int32], [Int32]) where S.Element == (Int, Int) {
        var offsets = [Int32](repeating: 0, count: n + 1)
        var count = 0
        for (a, _) in pairs {
            offsets[a + 1] += 1
            count += 1
        }
        for i in 0..<n { offsets[i + 1] += offsets[i] }
        var cursor = offsets
        var targets = [Int32](repeating: 0, count: count)
        for (a, b) in pairs {
            targets[Int(cursor[a])] = Int32(b)
            cursor[a] += 1
        }
        return (offsets, targets)
    }
}

/// The result of ordering a graph's nodes: an order when acyclic, one cycle otherwise.
public enum TopologicalOrder: Sendable, Equatable {
    case acyclic([Int])
    /// The nodes of one cycle, in edge order: each has an edge to the next, the last to the first.
    case cyclic([Int])
}

extension Adjacency {
    /// Kahn's algorithm, iterative and linear. A cycle is returned as data.
    public func topologicalOrder() -> TopologicalOrder {
        var indegree = [Int32](repeating: 0, count: nodeCount)
        for v in 0..<nodeCount { indegree[v] = Int32(inDegree(v)) }
        var order: [Int] = []
        order.reserveCapacity(nodeCount)
        for v in 0..<nodeCount where indegree[v] == 0 { order.append(v) }
        var head = 0
        while head < order.count {
            let v = order[head]
            head += 1
            for w in successors(of: v) {
                indegree[Int(w)] -= 1
                if indegree[Int(w)] == 0 { order.append(Int(w)) }
            }
        }
        if order.count == nodeCount { return .acyclic(order) }
        return .cyclic(findCycle(remaining: indegree))
    }

    /// Every node left by Kahn's algorithm has a predecessor that was also left, so walking
    /// predecessors inside that set must revisit a node: the walk from there is a cycle.
    private func findCycle(remaining indegree: [Int32]) -> [Int] {
        guard let start = indegree.firstIndex(where: { $0 > 0 }) else { return [] }
        var seenAt = [Int: Int]()
        var walk: [Int] = []
        var v = start
        while seenAt[v] == nil {
            seenAt[v] = walk.count
            walk.append(v)
            guard let p = predecessors(of: v).first(where: { indegree[Int($0)] > 0 }) else { return walk }
            v = Int(p)
        }
        // walk[seenAt[v]...] follows predecessors; reverse it into edge order.
        return Array(walk[seenAt[v]!...].reversed())
    }

    /// Nodes reachable from `sources` following edges forward (or backward).
    public func reachable(from sources: [Int], forward: Bool = true) -> [Bool] {
        var seen = [Bool](repeating: false, count: nodeCount)
        var stack = sources
        for s in sources { seen[s] = true }
        while let v = stack.popLast() {
            for w in forward ? successors(of: v) : predecessors(of: v) where !seen[Int(w)] {
                seen[Int(w)] = true
                stack.append(Int(w))
            }
        }
        return seen
    }

    /// The longest path counted in nodes, with its nodes in order; nil when the graph is cyclic.
    public func longestPathInNodes() -> [Int]? {
        guard case .acyclic(let order) = topologicalOrder() else { return nil }
        return longestPath(order: order, weight: { _ in 1.0 }).path
    }

    /// The heaviest path through the DAG given a weight per node, by dynamic programming over a
    /// topological order. Returns the path and its total; ties go to the earliest node.
    public func longestPath(order: [Int], weight: (Int) -> Double) -> (path: [Int], total: Double) {
        guard !order.isEmpty else { return ([], 0) }
        var best = [Double](repeating: 0, count: nodeCount)
        var parent = [Int32](repeating: -1, count: nodeCount)
        for v in order {
            var start = 0.0
            var from: Int32 = -1
            for p in predecessors(of: v) where from == -1 || best[Int(p)] > start {
                start = best[Int(p)]
                from = p
            }
            best[v] = start + weight(v)
            parent[v] = from
        }
        var end = order[0]
        for v in order where best[v] > best[end] { end = v }
        var path: [Int] = []
        var v = Int32(end)
        while v != -1 {
            path.append(Int(v))
            v = parent[Int(v)]
        }
        return (path.reversed(), best[end])
    }
}
