import DeployModel

/// A node's value: one tensor on a compute node's GPU, or one per member of a communication.
enum Value {
    case tensor(Tensor)
    case perGPU([Int: Tensor])
}

/// Executes a DAG node by node, each on its GPU's data.
struct Interpreter {
    let graph: OperatorGraph
    let data: DataSource
    let model: ReferenceModel

    func run() throws(VerifyError) -> [Value?] {
        let adjacency = graph.adjacency
        guard case .acyclic(let order) = adjacency.topologicalOrder() else { throw VerifyError("the graph has a cycle") }
        var values = [Value?](repeating: nil, count: graph.nodes.count)
        var incoming = [[TensorEdge]](repeating: [], count: graph.nodes.count)
        for e in graph.edges { incoming[e.to].append(e) }
        for v in order {
            let node = graph.nodes[v]
            let edges = incoming[v].sorted { ($0.operand ?? 0) < ($1.operand ?? 0) }
            /// The tensor a producer hands to `gpu`.
            func input(_ u: Int, at gpu: Int) throws(VerifyError) -> Tensor {
                switch values[u] {
                case .tensor(let t): return t
                case .perGPU(let m):
                    guard let t = m[gpu] else {
                        throw VerifyError("\(graph.nodes[u].name) delivers nothing to GPU \(gpu), which \(node.name) runs on")
                    }
                    return t
                case nil: throw VerifyError("\(graph.nodes[u].name) has no value when \(node.name) needs it")
                }
            }
            if node.op.isCommunication {
                values[v] = .perGPU(try communicate(node, edges: edges, input: input))
                continue
            }
            guard let gpu = node.gpu else { throw VerifyError("\(node.name) names no GPU") }
            let inputs = try edges.map { (e: TensorEdge) throws(VerifyError) -> Tensor in try input(e.from, at: gpu) }
            values[v] = .tensor(try compute(node, inputs: inputs))
        }
        return values
    }

    private func place(_ node: OperatorNode, _ key: String = "place") -> Placement {
        node.attributes[key].flatMap(Placement.parse) ?? .replicate
    }

    private func compute(_ node: OperatorNode, inputs: [Tensor]) throws(VerifyError) -> Tensor {
        let a = node.attributes
        switch node.op {
        case .input:
            let queries = model.context == nil ? model.seq : 1
            if a["data"] == "tokens" {
                guard let vocab = model.vocab else { throw VerifyError("\(node.name): token ids need the graph's 'vocab'") }
                return data.tokens("tokens", shape: [model.batch, queries], vocab: vocab).part(place(node))
            }
            return data.tensor("x", shape: [model.batch, queries, model.hidden]).part(place(node))
        case .kvCache:
            guard let name = a["cache"], let context = model.context else {
                throw VerifyError("\(node.name): a kv_cache needs 'cache' and a decode context")
            }
            var t = data.tensor(name, shape: [model.batch, context - 1, model.kvHeads, model.headDim])
            var p = place(node)
            if let range = a["range"]?.split(separator: ":").compactMap({ Int($0) }), range.count == 2 {
                t = t.slice(dim: 1, range[0], range[1])
                p.shards[1] = nil
            }
            return t.part(p)
        case .output:
            return inputs[0]
        case .matmul:
            guard let eq = a["eq"], let einsum = try? Einsum(eq) else { throw VerifyError("\(node.name): no usable 'eq'") }
            if let (name, logical, slice) = try weight(node) {
                let product = Kernels.einsum(einsum, inputs[0], data.weight(name, shape: logical).part(slice))
                guard a["bias"] == "true" else { return product }
                return try addBias(node, einsum: einsum, product, weight: name, logical: logical, slice: slice)
            }
            guard inputs.count == 2 else { throw VerifyError("\(node.name): a matmul without a weight takes two inputs") }
            return Kernels.einsum(einsum, inputs[0], inputs[1])
        case .softmax:
            return Kernels.maskedSoftmax(
                inputs[0], scale: a["scale"].flatMap(Double.init) ?? 1, causal: a["causal"] == "true",
                window: a["window"] == nil ? nil : try integer(node, "window", default: 0),
                queryOffset: try integer(node, "q_offset", default: 0))
        case .layernorm, .rmsnorm:
            let normed = node.op == .layernorm ? Kernels.layerNorm(inputs[0]) : Kernels.rmsNorm(inputs[0])
            guard let (name, logical, slice) = try weight(node) else { return normed }
            let gain = data.weight(name, shape: logical).part(slice)
            guard gain.count == normed.shape.last else {
                throw VerifyError("\(node.name): the norm's weight has \(gain.count) entries for rows of \(normed.shape.last ?? 0)")
            }
            return Kernels.scaled(normed, by: gain)
        case .gelu: return Kernels.gelu(inputs[0])
        case .silu: return Kernels.silu(inputs[0])
        case .relu: return Kernels.relu(inputs[0])
        case .mul:
            guard inputs.count == 2, inputs[0].shape == inputs[1].shape else {
                throw VerifyError("\(node.name): mul takes two equal shapes")
            }
            return Kernels.mul(inputs[0], inputs[1])
        case .rope:
            guard let theta = a["theta"].flatMap(Double.init), theta > 0 else {
                throw VerifyError("\(node.name): rope needs a positive 'theta'")
            }
            return Kernels.rope(
                inputs[0], theta: theta, offset: try integer(node, "offset", default: 0),
                rotaryDim: a["rotary_dim"] == nil ? nil : try integer(node, "rotary_dim", default: 0))
        case .attention:
            guard inputs.count == 3 else { throw VerifyError("\(node.name): attention takes Q, K and V") }
            return Kernels.attention(
                inputs[0], inputs[1], inputs[2], scale: a["scale"].flatMap(Double.init) ?? 1, causal: a["causal"] == "true",
                window: a["window"] == nil ? nil : try integer(node, "window", default: 0),
                queryOffset: try integer(node, "q_offset", default: 0))
        case .embedding:
            guard let (name, logical, slice) = try weight(node) else { throw VerifyError("\(node.name): an embedding needs its 'weight'") }
            let first = slice.shards[0].map { $0.index * (logical[0] / $0.parts) } ?? 0
            return Kernels.embedding(inputs[0], data.weight(name, shape: logical).part(slice), first: first)
        case .narrow:
            let dim = try integer(node, "dim", default: 0)
            let size = inputs[0].shape[dim]
            var start = try integer(node, "start", default: 0)
            if start < 0 { start += size }
            return inputs[0].slice(dim: dim, start, start + (try integer(node, "length", default: 1)))
        case .add: return inputs.dropFirst().reduce(inputs[0], +)
        case .concat:
            return Tensor.concat(inputs, dim: Int(a["dim"] ?? "0") ?? 0)
        case .split:
            let (dim, parts, index) = (Int(a["dim"] ?? "0") ?? 0, Int(a["parts"] ?? "1") ?? 1, Int(a["index"] ?? "0") ?? 0)
            return inputs[0].part(dim: dim, index: index, parts: parts)
        case .topk:
            return Kernels.topK(inputs[0], k: Int(a["k"] ?? "1") ?? 1)
        case .dispatch:
            let replicas = Int(a["replicas"] ?? "1") ?? 1
            let capacity = node.out.dims[1].intValue.map(Int.init) ?? 0
            return Kernels.dispatch(inputs[0], inputs[1], experts: Int(a["experts"] ?? "1") ?? 1, replicas: replicas, capacity: capacity)
        case .combine:
            let replicas = Int(a["replicas"] ?? "1") ?? 1
            return Kernels.combine(
                inputs[0], inputs[1], experts: Int(a["experts"] ?? "1") ?? 1, replicas: replicas,
                tokenShape: Array(inputs[1].shape.dropLast()))
        case .allReduce, .allGather, .reduceScatter, .allToAll, .sendRecv:
            throw VerifyError("unreachable")
        }
    }

    private func integer(_ node: OperatorNode, _ key: String, default value: Int) throws(VerifyError) -> Int {
        guard let text = node.attributes[key] else { return value }
        guard let n = Int(text.trimmingASCIISpaces()) else { throw VerifyError("\(node.name): '\(key)' must be an integer, got '\(text)'") }
        return n
    }

    /// The logical weight a node slices: its name, whole shape and the slice it takes.
    private func weight(_ node: OperatorNode) throws(VerifyError) -> (String, [Int], Placement)? {
        guard let text = node.attributes["weight"], let name = node.attributes["weight_logical"] else { return nil }
        guard let shape = try? Shape.parse(text), let dims = Optional(shape.dims.compactMap(\.intValue)), dims.count == shape.rank else {
            throw VerifyError("\(node.name): its weight \(text) must have concrete dimensions")
        }
        let slice = place(node, "weight_place")
        var logical = dims.map { Int($0) }
        for (d, part) in slice.shards {
            guard d < logical.count else {
                throw VerifyError("\(node.name): weight_place shards dim \(d) of a rank-\(logical.count) weight")
            }
            logical[d] *= part.parts
        }
        return (name, logical, slice)
    }

    /// A matmul's product plus the slice of the weight's bias: the bias spans the weight's
    /// dimensions that reach the output, which must be the output's last ones.
    private func addBias(_ node: OperatorNode, einsum: Einsum, _ product: Tensor, weight: String, logical: [Int], slice: Placement)
        throws(VerifyError) -> Tensor
    {
        let kept = einsum.rhs.enumerated().filter { einsum.result.contains($0.element) }
        let letters = kept.map { $0.element }
        guard Array(einsum.result.suffix(kept.count)) == letters else {
            throw VerifyError("\(node.name): a bias must span the output's last dimensions (\(String(einsum.result)))")
        }
        var biasPlace = Placement()
        for (i, entry) in kept.enumerated() { biasPlace.shards[i] = slice.shards[entry.offset] }
        let bias = data.weight(weight + ".bias", shape: kept.map { logical[$0.offset] }).part(biasPlace)
        return Tensor(shape: product.shape, data: product.data.enumerated().map { $0.element + bias.data[$0.offset % bias.count] })
    }

    /// Inputs in group order (each member's own), outputs per member.
    private func communicate(
        _ node: OperatorNode, edges: [TensorEdge], input: (Int, Int) throws(VerifyError) -> Tensor
    ) throws(VerifyError) -> [Int: Tensor] {
        let group = node.group
        if node.op == .sendRecv {
            guard let e = edges.first else { throw VerifyError("\(node.name) has no input") }
            return [group[1]: try input(e.from, group[0])]
        }
        var byMember: [Int: Tensor] = [:]
        for e in edges {
            let producer = graph.nodes[e.from]
            if let gpu = producer.gpu {
                byMember[gpu] = try input(e.from, gpu)
            } else {
                for m in group { byMember[m] = try input(e.from, m) }
            }
        }
        let ordered = try group.map { (m: Int) throws(VerifyError) -> Tensor in
            guard let t = byMember[m] else { throw VerifyError("\(node.name) gets no input from GPU \(m)") }
            return t
        }
        let p = group.count
        let a = node.attributes
        var out: [Int: Tensor] = [:]
        switch node.op {
        case .allReduce:
            let sum = ordered.dropFirst().reduce(ordered[0], +)
            for m in group { out[m] = sum }
        case .allGather:
            let whole = Tensor.concat(ordered, dim: Int(a["dim"] ?? "0") ?? 0)
            for m in group { out[m] = whole }
        case .reduceScatter:
            let sum = ordered.dropFirst().reduce(ordered[0], +)
            let dim = Int(a["dim"] ?? "0") ?? 0
            for (i, m) in group.enumerated() { out[m] = sum.part(dim: dim, index: i, parts: p) }
        case .allToAll:
            let (split, concat) = (Int(a["split_dim"] ?? "0") ?? 0, Int(a["concat_dim"] ?? "0") ?? 0)
            for (j, m) in group.enumerated() {
                out[m] = Tensor.concat(ordered.map { $0.part(dim: split, index: j, parts: p) }, dim: concat)
            }
        default:
            throw VerifyError("unreachable")
        }
        return out
    }
}
