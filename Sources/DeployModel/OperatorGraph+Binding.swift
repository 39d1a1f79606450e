extension OperatorGraph {
    /// The symbols any shape or matmul argument of the graph names.
    public var symbols: Set<String> {
        var result = Set<String>()
        var seen = Set<String>()
        for node in nodes {
            for d in node.out.dims where !d.symbols.isEmpty { result.formUnion(d.symbols) }
            guard node.op == .matmul else { continue }
            for key in ["m", "k", "n"] {
                // A million matmuls state a few dozen distinct arguments: each is read once.
                guard let text = node.attributes[key], seen.insert(text).inserted else { continue }
                if let d = Dim(text) { result.formUnion(d.symbols) }
            }
        }
        return result
    }

    /// The graph with `values` substituted for symbols in every shape, weight, `m`, `k`, `n`
    /// and capacity, and in the graph's `batch` and `seq` attributes.
    public func binding(_ values: [String: Int64]) throws(DimError) -> OperatorGraph {
        guard !values.isEmpty else { return self }
        var copy = self
        for i in copy.nodes.indices {
            var node = copy.nodes[i]
            node.out = try node.out.binding(values)
            for key in ["m", "k", "n", "capacity"] {
                if let d = node.attributes[key].flatMap(Dim.init) { node.attributes[key] = try d.binding(values).description }
            }
            if let w = node.attributes["weight"], let shape = try? Shape.parse(w) {
                node.attributes["weight"] = try shape.binding(values).description
            }
            copy.updateNode(i) { $0 = node }
        }
        for key in ["batch", "seq"] {
            if let d = copy.attributes[key].flatMap(Dim.init) { copy.attributes[key] = try d.binding(values).description }
        }
        return copy
    }
}
