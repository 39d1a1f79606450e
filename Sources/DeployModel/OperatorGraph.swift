/// The finest-granularity operator DAG of one deployment.
public struct OperatorGraph: Hashable, Sendable {
    public var name: String
    /// Graph attributes (model and strategy parameters), by name. `gpus` is kept apart.
    public var attributes: [String: String]
    /// How many GPUs the deployment must cover: ids 0..<gpus.
    public var gpus: Int?
    public private(set) var nodes: [OperatorNode]
    public private(set) var edges: [TensorEdge]

    public init(name: String, gpus: Int?, attributes: [String: String] = [:]) {
        self.name = name
        self.gpus = gpus
        self.attributes = attributes
        self.nodes = []
        self.edges = []
    }

    public init(name: String, gpus: Int?, attributes: [String: String], nodes: [OperatorNode], edges: [TensorEdge]) {
        self.name = name
        self.gpus = gpus
        self.attributes = attributes
        self.nodes = nodes
        self.edges = edges
    }

    public mutating func reserveCapacity(nodes nodeCount: Int, edges edgeCount: Int) {
        nodes.reserveCapacity(nodeCount)
        edges.reserveCapacity(edgeCount)
    }

    @discardableResult
    public mutating func add(_ node: OperatorNode) -> Int {
        nodes.append(node)
        return nodes.count - 1
    }

    public mutating func append(contentsOf newNodes: ArraySlice<OperatorNode>) {
        nodes.append(contentsOf: newNodes)
    }

    public mutating func append(contentsOf newNodes: [OperatorNode]) {
        nodes.append(contentsOf: newNodes)
    }

    public mutating func connect(_ from: Int, _ to: Int, operand: Int? = nil) {
        precondition(nodes.indices.contains(from) && nodes.indices.contains(to), "edge endpoint out of range")
        edges.append(TensorEdge(from: from, to: to, operand: operand))
    }

    public mutating func updateNode(_ index: Int, _ body: (inout OperatorNode) -> Void) {
        body(&nodes[index])
    }

    /// Edges ordered by producer, then consumer, then operand: the order the DOT writer
    /// emits and libcgraph returns, so that a written and re-read graph compares equal.
    public func normalized() -> OperatorGraph {
        var copy = self
        copy.edges = Self.sortedEdges(edges, nodeCount: nodes.count)
        return copy
    }

    /// Edges by producer (a counting sort: linear in the edge count), then by consumer and
    /// operand within each producer's few edges.
    static func sortedEdges(_ edges: [TensorEdge], nodeCount: Int) -> [TensorEdge] {
        func before(_ a: TensorEdge, _ b: TensorEdge) -> Bool {
            (a.from, a.to, a.operand ?? -1) < (b.from, b.to, b.operand ?? -1)
        }
        if zip(edges, edges.dropFirst()).allSatisfy({ !before($1, $0) }) { return edges }
        var start = [Int](repeating: 0, count: nodeCount + 1)
        for e in edges { start[e.from + 1] += 1 }
        for i in 0..<nodeCount { start[i + 1] += start[i] }
        var cursor = start
        var sorted = edges
        for e in edges {
            sorted[cursor[e.from]] = e
            cursor[e.from] += 1
        }
        for i in 0..<nodeCount where start[i + 1] - start[i] > 1 {
            sorted[start[i]..<start[i + 1]].sort(by: before)
        }
        return sorted
    }

    public var adjacency: Adjacency { Adjacency(nodeCount: nodes.count, edges: edges) }
}
