import DeployModel

/// Adds operator nodes to a graph, deriving each node's output shape, `Get_Time` arguments and
/// label from its inputs, so that no builder types a shape or a FLOP count by hand.
///
/// Call sites state the placement they intend for each node (`place`: which part of the
/// unpartitioned tensor the node holds); the node's logical tensor is named after its key and
/// layer (`L0.q`). The checker derives placements on its own and compares.
struct DAGBuilder {
    var graph: OperatorGraph
    /// Where the nodes being added belong.
    var layer: Int? {
        didSet {
            prefix = layer.map { "L\($0)." } ?? ""
            titlePrefix = layer.map { "L\($0) " } ?? ""
        }
    }
    /// `L<layer>.` for names, `L<layer> ` for titles: made once per layer.
    private(set) var prefix = ""
    private(set) var titlePrefix = ""
    var block: String?
    /// While one row of a grid is built (a context-parallel shard of the prompt, an attention
    /// data-parallel group's share of the batch): the part of the row's tensors along these
    /// dimensions, composed into every place stated (`setRow`).
    var outer: [Int: Placement.Part] = [:]
    /// Appended to the names of the collectives built while a row is, so each row's are its own.
    var rowTag = ""
    /// Every layer repeats the same few matmuls: their derivations are made once.
    private var matmuls: [MatmulKey: MatmulFacts] = [:]

    private struct MatmulKey: Hashable {
        var eq: String
        var a: Shape
        var b: Shape
        var weight: Bool
    }

    /// What a matmul's equation and operand shapes determine, with the text written for it.
    private struct MatmulFacts {
        var out: Shape
        var args: GetTimeArguments
        /// `eq`, `m`, `k`, `n` and, for a weight operand, `weight`.
        var attributes: [(key: String, value: String)]
        /// "in A x B\nout C\nGet_Time(m, k, n)" for the label.
        var labelTail: String
    }

    private mutating func facts(eq: String, a: Shape, b: Shape, weight: Bool) throws -> MatmulFacts {
        let key = MatmulKey(eq: eq, a: a, b: b, weight: weight)
        if let known = matmuls[key] { return known }
        let einsum = try Einsum(eq)
        let out = try einsum.outputShape(a, b)
        let args = try einsum.getTimeArguments(a, b)
        var attributes = [(key: "eq", value: eq), ("m", args.m.description), ("k", args.k.description), ("n", args.n.description)]
        if weight { attributes.append(("weight", b.description)) }
        let operands = weight ? "\(a) x W\(b)" : "\(a) x \(b)"
        let facts = MatmulFacts(out: out, args: args, attributes: attributes, labelTail: "in \(operands)\nout \(out)\n\(args)")
        matmuls[key] = facts
        return facts
    }

    init(name: String, gpus: Int, attributes: [String: String]) {
        graph = OperatorGraph(name: name, gpus: gpus, attributes: attributes)
    }

    func shape(_ node: Int) -> Shape { graph.nodes[node].out }

    /// The placement attributes of a node: the logical tensor it is part of and which part.
    func placed(_ attributes: KeyValuePairs<String, String>, _ logical: String, _ place: Placement?) -> NodeAttributes {
        var pairs: [(key: String, value: String)] = []
        pairs.reserveCapacity(attributes.count + 2)
        for pair in attributes { pairs.append((pair.key, pair.value)) }
        return placed(pairs, logical, place)
    }

    func placed(_ attributes: [(key: String, value: String)], _ logical: String, _ place: Placement?) -> NodeAttributes {
        guard var place else { return NodeAttributes(pairs: attributes) }
        if !outer.isEmpty { place = Self.within(outer, place) }
        var pairs = attributes
        pairs.reserveCapacity(attributes.count + 2)
        pairs.append(("logical", logical))
        pairs.append(("place", place.description))
        return NodeAttributes(pairs: pairs)
    }

    /// `place` as a part of the row `outer` holds: each outer part refined by the place's own
    /// shard of that dimension.
    static func within(_ outer: [Int: Placement.Part], _ place: Placement) -> Placement {
        var composed = place
        for (dim, part) in outer { composed.shards[dim] = place.shards[dim].flatMap { part.refined($0) } ?? part }
        return composed
    }

    /// Builds what follows as row `index` of `count` along `dim` (`outer`, `rowTag`).
    mutating func setRow(_ index: Int, of count: Int, dim: Int, tag: String) {
        outer = count > 1 ? [dim: .init(index, of: count)] : [:]
        rowTag = count > 1 ? tag : ""
    }

    mutating func clearRow() {
        outer = [:]
        rowTag = ""
    }

    /// The logical tensor a node's output is part of (a communication node keeps its input's).
    func logical(of node: Int) -> String { graph.nodes[node].attributes["logical"] ?? graph.nodes[node].name }

    mutating func input(gpu: Int, shape: Shape, place: Placement = .replicate) -> Int {
        graph.add(
            OperatorNode(
                name: "input.gpu\(gpu)", op: .input, gpu: gpu, out: shape, label: "input · GPU \(gpu)\nout \(shape)",
                attributes: placed([:], "x", place)))
    }

    mutating func output(gpu: Int, from source: Int, place: Placement = .replicate) -> Int {
        let shape = shape(source)
        let node = graph.add(
            OperatorNode(
                name: "output.gpu\(gpu)", op: .output, gpu: gpu, out: shape, label: "output · GPU \(gpu)\nin \(shape)",
                attributes: placed([:], "y", place)))
        graph.connect(source, node)
        return node
    }

    /// A matmul `eq` of `lhs` with either a second activation `rhs` or a weight of shape `weight`:
    /// the slice `weightPlace` of the logical weight `weightName` (default `L<layer>.w.<key>`),
    /// plus, with `bias`, the matching slice of the logical bias `<weightName>.bias`.
    mutating func matmul(
        _ key: String, title: String, gpu: Int, eq: String, lhs: Int, rhs: Int? = nil, weight: Shape? = nil,
        weightName: String? = nil, weightPlace: Placement = .replicate, place: Placement? = nil, bias: Bool = false
    ) throws -> Int {
        let a = shape(lhs)
        guard let b = rhs.map(shape) ?? weight else { preconditionFailure("matmul needs a second operand") }
        let facts = try facts(eq: eq, a: a, b: b, weight: rhs == nil)
        var attributes = facts.attributes
        attributes.reserveCapacity(attributes.count + 4)
        if weight != nil {
            attributes.append(("weight_logical", weightName ?? "\(prefix)w.\(key)"))
            attributes.append(("weight_place", weightPlace.description))
            if bias { attributes.append(("bias", "true")) }
        }
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .matmul, gpu: gpu, out: facts.out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\n\(facts.labelTail)",
                attributes: placed(attributes, "\(prefix)\(key)", place)))
        graph.connect(lhs, node, operand: 0)
        if let rhs { graph.connect(rhs, node, operand: 1) }
        return node
    }

    /// An operator whose output has its input's shape (norms, softmax, activations).
    mutating func unary(
        _ op: Operator, _ key: String, title: String, gpu: Int, input: Int, attributes: KeyValuePairs<String, String> = [:],
        place: Placement? = nil
    ) -> Int {
        unary(op, key, title: title, gpu: gpu, input: input, pairs: attributes.map { (key: $0.key, value: $0.value) }, place: place)
    }

    /// As `unary(_:_:title:gpu:input:attributes:place:)`, its attributes in a given order.
    mutating func unary(
        _ op: Operator, _ key: String, title: String, gpu: Int, input: Int, pairs attributes: [(key: String, value: String)],
        place: Placement?
    ) -> Int {
        let out = shape(input)
        let text = out.description
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: op, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\nin \(text)\nout \(text)",
                attributes: placed(attributes, "\(prefix)\(key)", place)))
        graph.connect(input, node)
        return node
    }

    mutating func add(_ key: String, title: String, gpu: Int, _ a: Int, _ b: Int, place: Placement? = nil) -> Int {
        let out = shape(a)
        precondition(out == shape(b), "add of unequal shapes \(out) and \(shape(b))")
        let text = out.description
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .add, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\nin \(text) + \(text)\nout \(text)",
                attributes: placed([:], "\(prefix)\(key)", place)))
        graph.connect(a, node)
        graph.connect(b, node)
        return node
    }

    /// An all-reduce over `group`, one input from each member (in group order).
    mutating func allReduce(_ key: String, title: String, group: [Int], inputs: [Int], place: Placement? = nil) -> Int {
        precondition(inputs.count == group.count)
        let out = shape(inputs[0])
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key)\(rowTag)", op: .allReduce, group: group, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title)\nall-reduce · GPUs \(GPUList.compact(group))\n\(out)",
                attributes: placed([:], logical(of: inputs[0]), place)))
        for input in inputs { graph.connect(input, node) }
        return node
    }

    /// A point-to-point transfer of `input` from GPU `from` to GPU `to`; it keeps the input's placement.
    mutating func sendRecv(_ key: String, title: String, from: Int, to: Int, input: Int) -> Int {
        let out = shape(input)
        // The input's place is a whole-model one already.
        let place = graph.nodes[input].attributes["place"].flatMap(Placement.parse)
        let row = outer
        outer = [:]
        defer { outer = row }
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key)\(rowTag)", op: .sendRecv, group: [from, to], out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title)\nsend/recv · GPU \(from) → \(to)\n\(out)", attributes: placed([:], logical(of: input), place)
            ))
        graph.connect(input, node)
        return node
    }

    mutating func connect(_ from: Int, _ to: Int) { graph.connect(from, to) }
}
