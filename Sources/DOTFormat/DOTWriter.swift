import DeployModel

/// Writes an `OperatorGraph` as DOT text: deterministic (byte-identical for equal graphs), one
/// node or edge per line, every ID and value quoted so that libcgraph reads back exactly the
/// same strings.
public struct DOTWriter: Sendable {
    public init() {}

    public func write(_ graph: OperatorGraph) throws(DOTWriteError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(graph.nodes.count * 320 + graph.edges.count * 48 + 1024)
        out.append(contentsOf: "digraph ".utf8)
        try DOTQuoting.appendQuoted(graph.name, to: &out)
        out.append(contentsOf: " {\n".utf8)

        var graphAttributes = graph.attributes
        if let gpus = graph.gpus { graphAttributes[DOTSchema.gpus] = String(gpus) }
        if !graphAttributes.isEmpty {
            out.append(contentsOf: "  graph [".utf8)
            try appendAttributes(graphAttributes.sorted { $0.key < $1.key }, to: &out)
            out.append(contentsOf: "];\n".utf8)
        }

        // A million nodes have a few dozen distinct shapes: format each once.
        var shapeText: [Shape: [UInt8]] = [:]
        for node in graph.nodes {
            out.append(contentsOf: "  ".utf8)
            try DOTQuoting.appendQuoted(node.name, to: &out)
            out.append(contentsOf: " [".utf8)
            try appendNodeAttributes(node, shapeText: &shapeText, to: &out)
            out.append(contentsOf: "];\n".utf8)
        }

        let edges = graph.normalized().edges
        for edge in edges {
            out.append(contentsOf: "  ".utf8)
            try DOTQuoting.appendQuoted(graph.nodes[edge.from].name, to: &out)
            out.append(contentsOf: " -> ".utf8)
            try DOTQuoting.appendQuoted(graph.nodes[edge.to].name, to: &out)
            if let operand = edge.operand {
                out.append(contentsOf: " [operand=".utf8)
                out.append(contentsOf: String(operand).utf8)
                out.append(UInt8(ascii: "]"))
            }
            out.append(contentsOf: ";\n".utf8)
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    public func writeString(_ graph: OperatorGraph) throws(DOTWriteError) -> String {
        String(decoding: try write(graph), as: UTF8.self)
    }

    private func appendNodeAttributes(_ node: OperatorNode, shapeText: inout [Shape: [UInt8]], to out: inout [UInt8]) throws(DOTWriteError)
    {
        var first = true
        func put(_ key: String, _ value: String) throws(DOTWriteError) {
            if !first { out.append(contentsOf: ", ".utf8) }
            first = false
            try appendKey(key, to: &out)
            out.append(UInt8(ascii: "="))
            try DOTQuoting.appendQuoted(value, to: &out)
        }
        try put(DOTSchema.op, node.op.rawValue)
        if let gpu = node.gpu { try put(DOTSchema.gpu, String(gpu)) }
        if !node.group.isEmpty { try put(DOTSchema.group, GPUList.format(node.group)) }
        let shape: [UInt8]
        if let known = shapeText[node.out] {
            shape = known
        } else {
            shape = Array(node.out.description.utf8)
            shapeText[node.out] = shape
        }
        out.append(contentsOf: ", out=\"".utf8)
        out.append(contentsOf: shape)
        out.append(UInt8(ascii: "\""))
        if let layer = node.layer { try put(DOTSchema.layer, String(layer)) }
        if let block = node.block { try put(DOTSchema.block, block) }
        for (key, value) in node.attributes.sorted(by: { $0.key < $1.key })
        where !DOTSchema.coreNodeAttributes.contains(key) {
            try put(key, value)
        }
        if let label = node.label {
            out.append(contentsOf: ", label=".utf8)
            DOTQuoting.appendLabel(label, to: &out)
        }
    }

    private func appendAttributes(_ pairs: [(key: String, value: String)], to out: inout [UInt8]) throws(DOTWriteError) {
        for (i, pair) in pairs.enumerated() {
            if i > 0 { out.append(contentsOf: ", ".utf8) }
            try appendKey(pair.key, to: &out)
            out.append(UInt8(ascii: "="))
            try DOTQuoting.appendQuoted(pair.value, to: &out)
        }
    }

    private func appendKey(_ key: String, to out: inout [UInt8]) throws(DOTWriteError) {
        if DOTWriter.isPlainID(key) {
            out.append(contentsOf: key.utf8)
        } else {
            try DOTQuoting.appendQuoted(key, to: &out)
        }
    }

    /// An unquoted DOT ID: letters, digits and underscores, not starting with a digit,
    /// and not a keyword.
    static func isPlainID(_ text: String) -> Bool {
        guard let first = text.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        let keywords: Set<String> = ["node", "edge", "graph", "digraph", "subgraph", "strict"]
        guard !keywords.contains(text.lowercased()) else { return false }
        return text.utf8.allSatisfy { b in
            b == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
        }
    }
}
