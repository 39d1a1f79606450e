/// What changed between two DAGs, node by node (matched by name) and edge by edge (matched by
/// the names of their ends and the operand): what a reviewer of a hand edit reads.
public struct GraphDiff: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        public var node: String
        /// What: `moved`, `reshaped`, `operator`, or an attribute's name.
        public var what: String
        public var before: String
        public var after: String
        /// For a move, the GPUs before and after.
        public var beforeGPUs: [Int]?
        public var afterGPUs: [Int]?

        public init(node: String, what: String, before: String, after: String, beforeGPUs: [Int]? = nil, afterGPUs: [Int]? = nil) {
            self.node = node
            self.what = what
            self.before = before
            self.after = after
            self.beforeGPUs = beforeGPUs
            self.afterGPUs = afterGPUs
        }

        public var text: String { "\(node): \(what) \(before) -> \(after)" }
    }

    public struct EdgeKey: Hashable, Sendable, Comparable {
        public var from: String
        public var to: String
        public var operand: Int?

        public var text: String { "\(from) -> \(to)\(operand.map { " [operand=\($0)]" } ?? "")" }

        public static func < (a: EdgeKey, b: EdgeKey) -> Bool { (a.from, a.to, a.operand ?? -1) < (b.from, b.to, b.operand ?? -1) }
    }

    /// Nodes only in the second graph, or only in the first.
    public var added: [String] = []
    public var removed: [String] = []
    /// Nodes on another GPU (or spanning other GPUs) in the second graph.
    public var moved: [Change] = []
    /// Nodes with another output shape.
    public var reshaped: [Change] = []
    /// Nodes with another operator, layer, block, label or attribute.
    public var reattributed: [Change] = []
    public var addedEdges: [EdgeKey] = []
    public var removedEdges: [EdgeKey] = []
    /// Graph attributes that differ.
    public var graphAttributes: [Change] = []

    public var isEmpty: Bool {
        added.isEmpty && removed.isEmpty && moved.isEmpty && reshaped.isEmpty && reattributed.isEmpty && addedEdges.isEmpty
            && removedEdges.isEmpty && graphAttributes.isEmpty
    }

    /// The names of the nodes that changed in place (moved, reshaped or re-attributed).
    public var changedNodes: Set<String> { Set((moved + reshaped + reattributed).map(\.node)) }

    public init(_ a: OperatorGraph, _ b: OperatorGraph) {
        var inA: [String: Int] = [:]
        for (i, node) in a.nodes.enumerated() { inA[node.name] = i }
        var inB: [String: Int] = [:]
        for (i, node) in b.nodes.enumerated() { inB[node.name] = i }
        removed = a.nodes.map(\.name).filter { inB[$0] == nil }
        for node in b.nodes {
            guard let i = inA[node.name] else {
                added.append(node.name)
                continue
            }
            let old = a.nodes[i]
            // A collective's group is a set; a send_recv's is source then destination.
            let regrouped = node.op == .sendRecv || old.op == .sendRecv ? old.group != node.group : Set(old.group) != Set(node.group)
            if old.gpu != node.gpu || regrouped {
                moved.append(
                    Change(
                        node: node.name, what: "moved", before: Self.place(old), after: Self.place(node), beforeGPUs: old.gpus,
                        afterGPUs: node.gpus))
            }
            if old.out != node.out {
                reshaped.append(Change(node: node.name, what: "out", before: old.out.description, after: node.out.description))
            }
            if old.op != node.op {
                reattributed.append(Change(node: node.name, what: "op", before: old.op.rawValue, after: node.op.rawValue))
            }
            if old.layer != node.layer {
                reattributed.append(
                    Change(
                        node: node.name, what: "layer", before: old.layer.map(String.init) ?? "-", after: node.layer.map(String.init) ?? "-"
                    ))
            }
            if old.block != node.block {
                reattributed.append(Change(node: node.name, what: "block", before: old.block ?? "-", after: node.block ?? "-"))
            }
            if old.label != node.label {
                reattributed.append(Change(node: node.name, what: "label", before: Self.quote(old.label), after: Self.quote(node.label)))
            }
            let (x, y) = (old.attributes.dictionary, node.attributes.dictionary)
            for key in Set(x.keys).union(y.keys).sorted() where x[key] != y[key] {
                reattributed.append(Change(node: node.name, what: key, before: x[key] ?? "-", after: y[key] ?? "-"))
            }
        }
        func keys(_ g: OperatorGraph) -> [EdgeKey: Int] {
            var result: [EdgeKey: Int] = [:]
            for e in g.edges { result[EdgeKey(from: g.nodes[e.from].name, to: g.nodes[e.to].name, operand: e.operand), default: 0] += 1 }
            return result
        }
        let (ea, eb) = (keys(a), keys(b))
        for (key, count) in eb where count > ea[key, default: 0] {
            addedEdges += Array(repeating: key, count: count - ea[key, default: 0])
        }
        for (key, count) in ea where count > eb[key, default: 0] {
            removedEdges += Array(repeating: key, count: count - eb[key, default: 0])
        }
        addedEdges.sort()
        removedEdges.sort()
        for key in Set(a.attributes.keys).union(b.attributes.keys).sorted() where a.attributes[key] != b.attributes[key] {
            graphAttributes.append(Change(node: "graph", what: key, before: a.attributes[key] ?? "-", after: b.attributes[key] ?? "-"))
        }
        if a.name != b.name { graphAttributes.append(Change(node: "graph", what: "name", before: a.name, after: b.name)) }
        if a.gpus != b.gpus {
            graphAttributes.append(
                Change(node: "graph", what: "gpus", before: a.gpus.map(String.init) ?? "-", after: b.gpus.map(String.init) ?? "-"))
        }
    }

    static func place(_ node: OperatorNode) -> String {
        node.gpu.map { "GPU \($0)" } ?? "GPUs \(GPUList.format(node.group))"
    }

    static func quote(_ text: String?) -> String {
        guard let text else { return "-" }
        return "\"" + text.map { $0 == "\n" ? "\\n" : String($0) }.joined() + "\""
    }
}
