import DeployModel

/// An operator graph decoded from a DOT document, with what did not fit the schema.
public struct DecodedGraph: Sendable {
    public var graph: OperatorGraph
    /// Nodes whose attributes broke the schema; rules that need their attributes skip them.
    public var invalidNodes: [Bool]
    /// `schema` findings, located.
    public var findings: [Finding]
    /// The 1-based line of each node and edge in the file, when known.
    public var nodeLines: [Int?]
    public var edgeLines: [Int?]
    public var file: String?

    public func location(ofNode index: Int) -> (file: String?, line: Int?) { (file, nodeLines[index]) }
}

/// Turns the strings libcgraph parsed into typed nodes and edges, checking deploydag's schema.
public struct GraphDecoder: Sendable {
    public init() {}

    public func decode(_ document: DOTDocument, sourceMap: DOTSourceMap? = nil, file: String? = nil) -> DecodedGraph {
        var findings: [Finding] = []
        func report(_ message: String, node: String? = nil, line: Int?) {
            findings.append(Finding(.schema, file: file, line: line, node: node, message))
        }

        if !document.isDirected {
            report("the graph is undirected; a deploydag DAG is a 'digraph' with '->' edges", line: 1)
        }
        var attributes = document.graphAttributes
        var gpus: Int?
        if let text = attributes.removeValue(forKey: DOTSchema.gpus) {
            if let value = Int(text.trimmingASCIISpaces()), value > 0 {
                gpus = value
            } else {
                report("graph attribute 'gpus' must be a positive integer, got '\(text)'", line: 1)
            }
        }

        var graph = OperatorGraph(name: document.name, gpus: gpus, attributes: attributes)
        var memo = ParseMemo()
        let count = document.nodeNames.count
        var invalid = [Bool](repeating: false, count: count)
        var nodeLines = [Int?](repeating: nil, count: count)
        let extraColumns = document.nodeColumns.keys.filter { !DOTSchema.coreNodeAttributes.contains($0) }.sorted()

        for index in 0..<count {
            let name = document.nodeNames[index]
            let line = sourceMap?.line(ofNode: name)
            nodeLines[index] = line
            var problems: [String] = []
            let attribute = { (key: String) in document.nodeAttribute(key, of: index) }

            var op = Operator.input
            if let text = attribute(DOTSchema.op) {
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
                if let text = attribute(DOTSchema.group) {
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
                        problems.append("'group' must be comma-separated GPU ids such as 0,1,2,3; got '\(text)'")
                    }
                } else if attribute(DOTSchema.op) != nil {
                    problems.append("missing 'group': a \(op.rawValue) node names the GPUs it spans, such as group=\"0,1,2,3\"")
                }
            } else if let text = attribute(DOTSchema.gpu) {
                if let id = Int(text.trimmingASCIISpaces()), id >= 0 {
                    gpu = id
                } else {
                    problems.append("'gpu' must be a non-negative integer, got '\(text)'")
                }
            } else if attribute(DOTSchema.op) != nil {
                problems.append("missing 'gpu': a \(op.rawValue) node names the GPU it runs on")
            }

            var out = Shape([])
            if let text = attribute(DOTSchema.out) {
                switch memo.shape(text) {
                case .success(let shape): out = shape
                case .failure(let error): problems.append("'out': \(error)")
                }
            } else {
                problems.append("missing 'out': every node states its output shape, such as out=\"[1024,10000,8192]\"")
            }

            var layer: Int?
            if let text = attribute(DOTSchema.layer) {
                if let value = Int(text.trimmingASCIISpaces()), value >= 0 {
                    layer = value
                } else {
                    problems.append("'layer' must be a non-negative integer, got '\(text)'")
                }
            }

            var extras: [String: String] = [:]
            for key in extraColumns {
                if let value = attribute(key) { extras[key] = value }
            }
            problems += Self.operatorParameterProblems(op: op, extras, memo: &memo)

            if !problems.isEmpty {
                invalid[index] = true
                for problem in problems { report(problem, node: name, line: line) }
            }
            graph.add(
                OperatorNode(
                    name: name, op: op, gpu: gpu, group: group, out: out, layer: layer,
                    block: attribute(DOTSchema.block), label: attribute(DOTSchema.label).map(DOTQuoting.decodeLabel),
                    attributes: extras))
        }

        var edgeLines = [Int?](repeating: nil, count: document.edges.count)
        var occurrences: [DOTDocument.Edge: Int] = [:]
        for (index, edge) in document.edges.enumerated() {
            // The k-th copy of an edge is on the line of its k-th statement.
            let occurrence = occurrences[edge, default: 0]
            occurrences[edge] = occurrence + 1
            let line =
                sourceMap?.line(ofEdge: document.nodeNames[edge.tail], document.nodeNames[edge.head], occurrence: occurrence)
                ?? nodeLines[edge.head]
            edgeLines[index] = line
            var operand: Int?
            if let text = document.edgeAttribute(DOTSchema.operand, of: index) {
                if let value = Int(text.trimmingASCIISpaces()), value >= 0 {
                    operand = value
                } else {
                    report(
                        "edge attribute 'operand' must be a non-negative integer, got '\(text)'",
                        node: document.nodeNames[edge.head], line: line)
                }
            }
            graph.connect(edge.tail, edge.head, operand: operand)
        }
        return DecodedGraph(
            graph: graph, invalidNodes: invalid, findings: findings, nodeLines: nodeLines, edgeLines: edgeLines, file: file)
    }

    /// What an operator's own parameters must look like.
    static func operatorParameterProblems(op: Operator, _ attributes: [String: String], memo: inout ParseMemo) -> [String] {
        var problems: [String] = []
        func integer(_ key: String, _ what: String, minimum: Int = 0) {
            guard let text = attributes[key] else {
                problems.append("missing '\(key)': a \(op.rawValue) node states \(what)")
                return
            }
            guard let value = Int(text.trimmingASCIISpaces()), value >= minimum else {
                problems.append("'\(key)' must be an integer of at least \(minimum), got '\(text)'")
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
