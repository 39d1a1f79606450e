import DeployModel

/// How much work graphviz's `dot` has laying a graph out, measured before trying: its nodes,
/// plus one segment per rank each edge crosses (dot draws a long edge through a virtual node
/// on every rank between its ends, so a complete DAG of 60 nodes is 36,000 of them), and the
/// most edges between one pair of nodes (libcdt keeps those in a tree whose recursion
/// overflows the stack in the hundreds of thousands).
public struct LayoutSize: Sendable, Equatable {
    public var nodes: Int
    public var edges: Int
    /// Nodes plus the ranks every edge spans in a longest-path ranking (at least one an edge).
    public var segments: Int
    /// The most edges joining one ordered pair of nodes, and that pair.
    public var parallelEdges: Int
    public var parallelPair: (from: Int, to: Int)?

    /// Past this many nodes and segments a layout takes minutes. Measured: the largest preset
    /// (1,912 nodes, 5,856 segments) 1 s; a complete DAG of 40 nodes (10,700) 9 s, of 60 nodes
    /// (36,050) past 120 s. The preset DAGs have about three segments a node, so this is the
    /// 2,500-node guard it replaces for them.
    public static let largeLayout = 8_000
    /// Past this many edges between one pair the layout may crash; never laid out.
    public static let parallelLimit = 1_000

    public init(_ graph: OperatorGraph) {
        self.init(nodeCount: graph.nodes.count, edges: graph.edges.map { ($0.from, $0.to) })
    }

    /// Any graph's, given as its node count and its edges (tail, head): a file that is not a
    /// deploydag DAG is held to the same budget.
    public init(nodeCount: Int, edges pairs: [(Int, Int)]) {
        nodes = nodeCount
        edges = pairs.count
        let adjacency = Adjacency(nodeCount: nodeCount, pairs: pairs)
        var rank = [Int](repeating: 0, count: nodes)
        var segments = nodes
        if case .acyclic(let order) = adjacency.topologicalOrder() {
            for v in order {
                for s in adjacency.successors(of: v) { rank[Int(s)] = max(rank[Int(s)], rank[v] + 1) }
            }
            for (from, to) in pairs { segments += max(1, rank[to] - rank[from]) }
        } else {
            segments += edges
        }
        self.segments = segments
        var counts: [Int: Int] = [:]
        var most = 0
        var pair: (Int, Int)?
        for (from, to) in pairs {
            let key = from &* nodes &+ to
            let c = counts[key, default: 0] + 1
            counts[key] = c
            if c > most { (most, pair) = (c, (from, to)) }
        }
        parallelEdges = most
        parallelPair = pair
    }

    /// Beyond the budget for a layout in reasonable time.
    public var isLarge: Bool { segments > Self.largeLayout }

    public static func == (a: LayoutSize, b: LayoutSize) -> Bool {
        a.nodes == b.nodes && a.edges == b.edges && a.segments == b.segments && a.parallelEdges == b.parallelEdges
    }
}
