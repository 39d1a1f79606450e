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
        copy.edges.sort { ($0.from, $0.to, $0.operand ?? -1) < ($1.from, $1.to, $1.operand ?? -1) }
        return copy
    }

    public var adjacency: Adjacency { Adjacency(nodeCount: nodes.count, edges: edges) }
}
