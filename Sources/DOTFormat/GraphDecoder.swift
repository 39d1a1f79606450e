import DeployModel
import Synchronization

/// An operator graph decoded from a DOT document, with what did not fit the schema.
public struct DecodedGraph: Sendable {
    public var graph: OperatorGraph
    /// Nodes whose attributes broke the schema; rules that need their attributes skip them.
    public var invalidNodes: [Bool]
    /// `schema` findings, located.
    public var findings: [Finding]
    public var file: String?
    /// Where nodes and edges are in the file; scanned when first asked.
    public var lines: SourceLines?
    private let copies = EdgeCopies()

    public init(graph: OperatorGraph, invalidNodes: [Bool], findings: [Finding], file: String?, lines: SourceLines?) {
        self.graph = graph
        self.invalidNodes = invalidNodes
        self.findings = findings
        self.file = file
        self.lines = lines
    }

    /// The 1-based line of the node's first statement, when known.
    public func line(ofNode index: Int) -> Int? { lines?.line(ofNode: graph.nodes[index].name) }

    /// The line of the edge's statement: the k-th copy of an edge is on the line of its k-th
    /// statement. Falls back to the consumer's line.
    public func line(ofEdge index: Int) -> Int? {
        guard let lines else { return nil }
        let edge = graph.edges[index]
        let occurrence = copies.occurrence(of: index, in: graph.edges)
        return lines.line(ofEdge: graph.nodes[edge.from].name, graph.nodes[edge.to].name, occurrence: occurrence)
            ?? line(ofNode: edge.to)
    }

    public func location(ofNode index: Int) -> (file: String?, line: Int?) { (file, line(ofNode: index)) }
}

/// For each edge, how many copies of it come before it; counted once, when first needed.
final class EdgeCopies: Sendable {
    private let counts = Mutex<[Int32]?>(nil)

    func occurrence(of index: Int, in edges: [TensorEdge]) -> Int {
        counts.withLock { counts in
            if counts == nil || counts!.count != edges.count {
                var seen: [Int64: Int32] = [:]
                var result = [Int32](repeating: 0, count: edges.count)
                for (i, e) in edges.enumerated() {
                    let key = Int64(e.from) << 32 | Int64(e.to)
                    let count = seen[key, default: 0]
                    result[i] = count
                    seen[key] = count + 1
                }
                counts = result
            }
            return Int(counts![index])
        }
    }
}

/// Turns the strings libcgraph parsed into typed nodes and edges, checking deploydag's schema.
public struct GraphDecoder: Sendable {
    public init() {}

    /// Decodes a whole document; `sourceMap` gives findings their lines.
    public func decode(_ document: DOTDocument, sourceMap: DOTSourceMap? = nil, file: String? = nil) -> DecodedGraph {
        decode(document, lines: sourceMap.map(SourceLines.init(map:)), file: file)
    }

    public func decode(_ document: DOTDocument, lines: SourceLines?, file: String? = nil) -> DecodedGraph {
        let header = GraphHeader(
            name: document.name, isDirected: document.isDirected, graphAttributes: document.graphAttributes, file: file)
        let columns = document.nodeColumns.keys.sorted()
        var decoder = NodeDecoder(nodeColumns: columns, file: file, lines: lines)
        var nodes: [OperatorNode] = []
        var invalid: [Bool] = []
        var findings: [Finding] = []
        var values = [String?](repeating: nil, count: columns.count)
        for index in document.nodeNames.indices {
            for (c, name) in columns.enumerated() { values[c] = document.nodeAttribute(name, of: index) }
            let (node, problems) = decoder.decode(name: document.nodeNames[index], values: values)
            nodes.append(node)
            invalid.append(!problems.isEmpty)
            findings += problems
        }
        var edges: [TensorEdge] = []
        var badOperands: [(edge: Int, text: String)] = []
        for (index, edge) in document.edges.enumerated() {
            let (decoded, bad) = decoder.edge(
                tail: edge.tail, head: edge.head, operand: document.edgeAttribute(DOTSchema.operand, of: index))
            if let bad { badOperands.append((index, bad)) }
            edges.append(decoded)
        }
        return DecodedGraph(
            header: header, nodes: nodes, invalidNodes: invalid, nodeFindings: findings, edges: edges, badOperands: badOperands,
            file: file, lines: lines)
    }
}

/// The graph-level part of decoding: the root graph's attributes (`gpus` apart) and its kind.
public struct GraphHeader: Sendable {
    /// An operator graph with no nodes yet.
    public var graph: OperatorGraph
    public var findings: [Finding] = []

    public init(name: String, isDirected: Bool, graphAttributes: [String: String], file: String?) {
        var attributes = graphAttributes
        var gpus: Int?
        if !isDirected {
            findings.append(
                Finding(.schema, file: file, line: 1, "the graph is undirected; a deploydag DAG is a 'digraph' with '->' edges"))
        }
        if let text = attributes.removeValue(forKey: DOTSchema.gpus) {
            if let value = Int(text.trimmingASCIISpaces()), value > 0, value <= GPUList.maximum {
                gpus = value
            } else {
                findings.append(
                    Finding(
                        .schema, file: file, line: 1,
                        "graph attribute 'gpus' must be a positive integer of at most \(GPUList.maximum), got '\(text)'"))
            }
        }
        graph = OperatorGraph(name: name, gpus: gpus, attributes: attributes)
    }
}

/// Decodes one node at a time from its attribute values, given in the order of the columns it
/// was made with. Each thread that decodes keeps its own (it remembers parses).
public struct NodeDecoder: Sendable {
    private let file: String?
    private let lines: SourceLines?
    private var memo = ParseMemo()
    private let keepLabels: Bool
    /// Column positions of the core attributes, -1 when the document has no such column.
    private let opColumn, gpuColumn, groupColumn, outColumn, layerColumn, blockColumn, labelColumn: Int
    /// The other columns: operator parameters and anything else, sorted by name.
    private let extraColumns: [(name: String, column: Int)]

    /// - Parameter keepLabels: labels are for people; `check` and `analyze` do not keep them.
    public init(nodeColumns: [String], file: String?, lines: SourceLines?, keepLabels: Bool = true) {
        self.file = file
        self.lines = lines
        self.keepLabels = keepLabels
        func column(_ key: String) -> Int { nodeColumns.firstIndex(of: key) ?? -1 }
        opColumn = column(DOTSchema.op)
        gpuColumn = column(DOTSchema.gpu)
        groupColumn = column(DOTSchema.group)
        outColumn = column(DOTSchema.out)
        layerColumn = column(DOTSchema.layer)
        blockColumn = column(DOTSchema.block)
        labelColumn = column(DOTSchema.label)
        extraColumns = nodeColumns.enumerated().filter { !DOTSchema.coreNodeAttributes.contains($0.element) }
            .map { (name: $0.element, column: $0.offset) }.sorted { $0.name < $1.name }
    }

    /// The node, and its `schema` findings (none when it fits the schema).
    public mutating func decode(name: String, values: [String?]) -> (node: OperatorNode, findings: [Finding]) {
        func attribute(_ column: Int) -> String? {
            guard column >= 0, let value = values[column], !value.isEmpty else { return nil }
            return value
        }
        var problems: [String] = []

        var op = Operator.input
        let opText = attribute(opColumn)
        if let text = opText {
            if let parsed = Operator(rawValue: text) {
                op = parsed
            } else {
                problems.append("unknown op '\(text)'; expected one of \(Operator.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        } else {
            problems.append("missing 'op'; every node names its operator (matmul, softmax, all_reduce, ...)")
        }

        var gpu: Int?
        var group: [Int] = []
        if op.isCommunication {
            if let text = attribute(groupColumn) {
                if let ids = memo.gpuList(text) {
                    group = ids
                    if Set(ids).count != ids.count {
                        problems.append("'group' lists a GPU twice: '\(text)'")
                    } else if op == .sendRecv && ids.count != 2 {
                        problems.append("a send_recv 'group' is exactly two GPUs, source then destination; got '\(text)'")
                    } else if ids.count < 2 {
                        problems.append("a collective's 'group' needs at least two GPUs; got '\(text)'")
                    }
                } else {
                    problems.append(
                        "'group' must be comma-separated GPU ids such as 0,1,2,3 or ranges such as 0-7, ids below \(GPUList.maximum); got '\(text)'"
                    )
                }
            } else if opText != nil {
                problems.append("missing 'group': a \(op.rawValue) node names the GPUs it spans, such as group=\"0,1,2,3\"")
            }
        } else if let text = attribute(gpuColumn) {
            if let id = memo.integer(text), id >= 0, id < GPUList.maximum {
                gpu = id
            } else {
                problems.append("'gpu' must be a non-negative integer below \(GPUList.maximum), got '\(text)'")
            }
        } else if opText != nil {
            problems.append("missing 'gpu': a \(op.rawValue) node names the GPU it runs on")
        }

        var out = Shape([])
        if let text = attribute(outColumn) {
            switch memo.shape(text) {
            case .success(let shape): out = shape
            case .failure(let error): problems.append("'out': \(error)")
            }
        } else {
            problems.append("missing 'out': every node states its output shape, such as out=\"[1024,10000,8192]\"")
        }

        var layer: Int?
        if let text = attribute(layerColumn) {
            if let value = memo.integer(text), value >= 0 {
                layer = value
            } else {
                problems.append("'layer' must be a non-negative integer, got '\(text)'")
            }
        }

        var pairs: [(key: String, value: String)] = []
        for (key, column) in extraColumns {
            if let value = attribute(column) { pairs.append((key, value)) }
        }
        let extras = NodeAttributes(sortedPairs: pairs)
        problems += GraphDecoder.operatorParameterProblems(op: op, extras, memo: &memo)

        var findings: [Finding] = []
        if !problems.isEmpty {
            let line = lines?.line(ofNode: name)
            findings = problems.map { Finding(.schema, file: file, line: line, node: name, $0) }
        }
        let node = OperatorNode(
            name: name, op: op, gpu: gpu, group: group, out: out, layer: layer,
            block: attribute(blockColumn), label: keepLabels ? attribute(labelColumn).map(DOTQuoting.decodeLabel) : nil,
            attributes: extras)
        return (node, findings)
    }

    /// An edge; the operand's text when it is not a valid operand index.
    public mutating func edge(tail: Int, head: Int, operand text: String?) -> (edge: TensorEdge, badOperand: String?) {
        guard let text, !text.isEmpty else { return (TensorEdge(from: tail, to: head), nil) }
        if let value = memo.integer(text), value >= 0, value <= Int(Int32.max) {
            return (TensorEdge(from: tail, to: head, operand: value), nil)
        }
        return (TensorEdge(from: tail, to: head), text)
    }
}

extension DecodedGraph {
    /// Puts decoded parts together: the header, every node's decoding (in node order), the
    /// edges and their malformed operands.
    public init(
        header: GraphHeader, nodes: [OperatorNode], invalidNodes: [Bool], nodeFindings: [Finding], edges: [TensorEdge],
        badOperands: [(edge: Int, text: String)], file: String?, lines: SourceLines?
    ) {
        let graph = OperatorGraph(
            name: header.graph.name, gpus: header.graph.gpus, attributes: header.graph.attributes, nodes: nodes, edges: edges)
        self.init(
            graph: graph, invalidNodes: invalidNodes, findings: header.findings + nodeFindings, file: file, lines: lines)
        for (edge, text) in badOperands {
            findings.append(
                Finding(
                    .schema, file: file, line: line(ofEdge: edge), node: graph.nodes[graph.edges[edge].to].name,
                    "edge attribute 'operand' must be a non-negative integer (at most \(Int32.max)), got '\(text)'"))
        }
    }
}

extension GraphDecoder {
    /// What an operator's own parameters must look like.
    static func operatorParameterProblems(op: Operator, _ attributes: NodeAttributes, memo: inout ParseMemo) -> [String] {
        var problems: [String] = []
        func integer(_ key: String, _ what: String, minimum: Int = 0) {
            guard let text = attributes[key] else {
                problems.append("missing '\(key)': a \(op.rawValue) node states \(what)")
                return
            }
            guard let value = Int(text.trimmingASCIISpaces()), value >= minimum else {
                let bound = minimum == Int.min ? "" : " of at least \(minimum)"
                problems.append("'\(key)' must be an integer\(bound), got '\(text)'")
                return
            }
        }
        switch op {
        case .matmul:
            if let eq = attributes[DOTSchema.equation] {
                if case .failure(let error) = memo.einsum(eq) { problems.append("'eq': \(error)") }
            } else {
                problems.append("missing 'eq': a matmul states its einsum equation, such as eq=\"bsh,hd->bsd\"")
            }
            if let weight = attributes[DOTSchema.weight], case .failure(let error) = memo.shape(weight) {
                problems.append("'weight': \(error)")
            }
            for key in [DOTSchema.m, DOTSchema.k, DOTSchema.n] {
                guard let text = attributes[key] else {
                    problems.append("missing '\(key)': a matmul states its Get_Time(m, k, n) arguments")
                    continue
                }
                switch memo.dim(text) {
                case .success(let d): if !d.isPositive { problems.append("'\(key)' must be positive, got '\(text)'") }
                case .failure(let error): problems.append("'\(key)': \(error)")
                }
            }
        case .concat, .allGather, .reduceScatter:
            integer(DOTSchema.dim, "the dimension it acts on")
        case .narrow:
            integer(DOTSchema.dim, "the dimension it narrows")
            integer(DOTSchema.length, "how many positions it keeps", minimum: 1)
            integer(DOTSchema.start, "the first position it keeps (negative: from the end)", minimum: Int.min)
        case .split:
            integer(DOTSchema.dim, "the dimension it splits")
            integer(DOTSchema.parts, "how many equal parts it makes", minimum: 1)
        case .allToAll:
            integer(DOTSchema.splitDim, "the dimension it scatters across the group")
            integer(DOTSchema.concatDim, "the dimension it gathers from the group")
        case .topk:
            integer(DOTSchema.topK, "how many experts each token goes to", minimum: 1)
        case .dispatch, .combine:
            integer(DOTSchema.experts, "the number of experts", minimum: 1)
            if let text = attributes[DOTSchema.replicas], (Int(text.trimmingASCIISpaces()) ?? 0) < 1 {
                problems.append("'replicas' must be an integer of at least 1, got '\(text)'")
            }
            if let text = attributes[DOTSchema.capacityFactor], MoERouting.parseFactor(text) == nil {
                problems.append("'capacity_factor' must be a positive number such as 1 or 1.25, got '\(text)'")
            }
        case .softmax:
            if let scale = attributes[DOTSchema.scale], Double(scale.trimmingASCIISpaces()) == nil {
                problems.append("'scale' must be a number, got '\(scale)'")
            }
        default:
            break
        }
        return problems
    }
}
