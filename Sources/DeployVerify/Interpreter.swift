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
            return data.tensor("x", shape: [model.batch, queries, model.hidden]).part(place(node))
        case .kvCache:
            guard let name = a["cache"], let context = model.context else {
                throw VerifyError("\(node.name): a kv_cache needs 'cache' and a decode context")
            }
            var t = data.tensor(name, shape: [model.batch, context - 1, model.heads, model.headDim])
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
            if let weightText = a["weight"], let shape = try? Shape.parse(weightText), let name = a["weight_logical"] {
                let slice = place(node, "weight_place")
                var logical = shape.dims.map { Int($0.intValue ?? 0) }
                for (d, part) in slice.shards { logical[d] *= part.parts }
                return Kernels.einsum(einsum, inputs[0], data.weight(name, shape: logical).part(slice))
            }
            guard inputs.count == 2 else { throw VerifyError("\(node.name): a matmul without a weight takes two inputs") }
            return Kernels.einsum(einsum, inputs[0], inputs[1])
        case .softmax:
            return Kernels.softmax(inputs[0], scale: a["scale"].flatMap(Double.init) ?? 1)
        case .layernorm: return Kernels.layerNorm(inputs[0])
        case .rmsnorm: return Kernels.rmsNorm(inputs[0])
        case .gelu: return Kernels.gelu(inputs[0])
        case .silu: return Kernels.silu(inputs[0])
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
