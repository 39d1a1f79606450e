/// A DOT graph as libcgraph parsed it, copied into Swift values: names and attribute strings,
/// nothing interpreted yet. Attributes are stored by column (one array per declared attribute)
/// because a million-node graph has few distinct attribute names.
public struct DOTDocument: Sendable {
    public var name: String
    public var isDirected: Bool
    public var isStrict: Bool
    /// The root graph's attributes that have a non-empty value.
    public var graphAttributes: [String: String]
    public var nodeNames: [String]
    /// For each declared node attribute, its value on every node ("" where unset).
    public var nodeColumns: [String: [String]]
    public var edges: [Edge]
    /// For each declared edge attribute, its value on every edge ("" where unset).
    public var edgeColumns: [String: [String]]

    public struct Edge: Hashable, Sendable {
        public var tail: Int
        public var head: Int
        public init(tail: Int, head: Int) {
            self.tail = tail
            self.head = head
        }
    }

    public init(
        name: String, isDirected: Bool = true, isStrict: Bool = false, graphAttributes: [String: String] = [:],
        nodeNames: [String] = [], nodeColumns: [String: [String]] = [:], edges: [Edge] = [],
        edgeColumns: [String: [String]] = [:]
    ) {
        self.name = name
        self.isDirected = isDirected
        self.isStrict = isStrict
        self.graphAttributes = graphAttributes
        self.nodeNames = nodeNames
        self.nodeColumns = nodeColumns
        self.edges = edges
        self.edgeColumns = edgeColumns
    }

    /// A node's attribute value, nil when unset or empty.
    public func nodeAttribute(_ name: String, of node: Int) -> String? {
        guard let column = nodeColumns[name] else { return nil }
        let value = column[node]
        return value.isEmpty ? nil : value
    }

    public func edgeAttribute(_ name: String, of edge: Int) -> String? {
        guard let column = edgeColumns[name] else { return nil }
        let value = column[edge]
        return value.isEmpty ? nil : value
    }
}
