import DeployModel

/// A node's value: one tensor on a compute node's GPU, or one per member of a communication.
enum Value {
    case tensor(Tensor)
    case perGPU([Int: Tensor])
}

/// Executes a DAG node by node, each on its GPU's data. Every kernel's preconditions are
/// checked against the tensors it gets, and every result against the node's `out`, so that a
/// graph `check` would reject is refused with the node and the reason, never executed out of
/// bounds.
/// The token-expert assignments the DAG's dispatches dropped for want of capacity.
final class DropLog: @unchecked Sendable {
    /// Per layer, token x experts + expert, the token numbered in the whole batch.
    var byLayer: [Int: Set<Int>] = [:]
    var total = 0
    /// Drops whose token could not be placed in the whole batch (an input neither whole nor
    /// a batch or sequence part): the comparison is then inconclusive.
    var unmapped = 0
}

struct Interpreter {
    let graph: OperatorGraph
    let drops = DropLog()
    let data: DataSource
    let model: ReferenceModel
    /// Each node's `out` as integers (Verifier.concreteShapes).
    let shapes: [[Int]]
    /// Multiply-adds the graph's matmuls may take in all.
    let multiplyAddBudget: Double

    func run() throws(VerifyError) -> [Value?] {
        let adjacency = graph.adjacency
        guard case .acyclic(let order) = adjacency.topologicalOrder() else { throw VerifyError("the graph has a cycle") }
        var values = [Value?](repeating: nil, count: graph.nodes.count)
        var incoming = [[TensorEdge]](repeating: [], count: graph.nodes.count)
        for e in graph.edges { incoming[e.to].append(e) }
        var multiplyAdds = 0.0
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
                let out = try communicate(node, edges: edges, input: input)
                for (gpu, t) in out.sorted(by: { $0.key < $1.key }) { try expectOut(v, t, "on GPU \(gpu)") }
                values[v] = .perGPU(out)
                continue
            }
            guard let gpu = node.gpu else { throw VerifyError("\(node.name) names no GPU") }
            let inputs = try edges.map { (e: TensorEdge) throws(VerifyError) -> Tensor in try input(e.from, at: gpu) }
            let t = try compute(v, inputs: inputs, multiplyAdds: &multiplyAdds)
            try expectOut(v, t, "")
            if node.op == .dispatch, inputs.count == 2, let first = edges.first {
                recordDrops(node, tokens: inputs[0], routing: inputs[1], capacity: t.shape[1], from: graph.nodes[first.from])
            }
            values[v] = .tensor(t)
        }
        return values
    }

    /// The assignments past an expert's capacity, numbered in the whole batch through the place
    /// of the tokens' producer (whole, or a part along the batch or the sequence).
    private func recordDrops(_ node: OperatorNode, tokens x: Tensor, routing: Tensor, capacity: Int, from producer: OperatorNode) {
        guard let experts = node.attributes["experts"].flatMap(Int.init), experts > 0 else { return }
        let (lists, _) = Kernels.positions(routing, experts: experts)
        let lost = lists.enumerated().flatMap { e, list in list.dropFirst(capacity).map { (token: $0, expert: e) } }
        guard !lost.isEmpty else { return }
        drops.total += lost.count
        let queries = model.context == nil ? model.seq : 1
        let place = producer.attributes["place"].flatMap(Placement.parse) ?? .replicate
        let batchPart = place.shards[0] ?? Placement.Part(0, of: 1)
        let seqPart = place.shards[1] ?? Placement.Part(0, of: 1)
        guard !model.disaggregated, x.shape.count == 3, place.shards.keys.allSatisfy({ $0 < 2 }), place.partial == nil,
            model.batch % batchPart.parts == 0, queries % seqPart.parts == 0, x.shape[0] == model.batch / batchPart.parts,
            x.shape[1] == queries / seqPart.parts
        else {
            drops.unmapped += lost.count
            return
        }
        let (bl, sl) = (x.shape[0], x.shape[1])
        let (b0, s0) = (batchPart.index * bl, seqPart.index * sl)
        for (t, e) in lost where t < bl * sl {
            let global = (b0 + t / sl) * queries + s0 + t % sl
            drops.byLayer[node.layer ?? -1, default: []].insert(global * experts + e)
        }
    }

    private func refuse(_ node: OperatorNode, _ why: String) -> VerifyError {
        VerifyError("\(node.op.rawValue) \(node.name): \(why)")
    }

    /// The result must be what the node states: later kernels rely on it.
    private func expectOut(_ v: Int, _ t: Tensor, _ where_: String) throws(VerifyError) {
        guard t.shape == shapes[v] else {
            throw refuse(graph.nodes[v], "computes \(t.shape)\(where_.isEmpty ? "" : " " + where_), but its out is \(graph.nodes[v].out)")
        }
    }

    /// A placement's shards name dimensions of `shape` (Tensor.part would index past it).
    static func checkPlace(_ place: Placement, _ shape: [Int], _ name: String, _ what: String) throws(VerifyError) {
        for (dim, part) in place.shards.sorted(by: { $0.key < $1.key }) {
            guard dim < shape.count else {
                throw VerifyError("\(name): place \(place) shards dim \(dim) of \(what), which has rank \(shape.count) (\(shape))")
            }
            guard shape[dim] % part.parts == 0 else {
                throw VerifyError(
                    "\(name): place \(place) splits dim \(dim) of \(what) \(shape) into \(part.parts) parts, which do not divide it")
            }
        }
    }

    private func place(_ node: OperatorNode, _ key: String = "place") -> Placement {
        node.attributes[key].flatMap(Placement.parse) ?? .replicate
    }

    /// A non-negative integer attribute, `fallback` when absent.
    private func integer(_ node: OperatorNode, _ key: String, _ fallback: Int, minimum: Int = 0) throws(VerifyError) -> Int {
        guard let text = node.attributes[key] else { return fallback }
        guard let value = Int(text.trimmingASCIISpaces()), value >= minimum else {
            throw refuse(node, "'\(key)' must be an integer of at least \(minimum), got '\(text)'")
        }
        return value
    }

    private func expectInputs(_ node: OperatorNode, _ inputs: [Tensor], _ count: ClosedRange<Int>) throws(VerifyError) {
        guard count.contains(inputs.count) else {
            let wanted = count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "at least \(count.lowerBound)"
            throw refuse(node, "takes \(wanted) input\(count.upperBound == 1 ? "" : "s"), got \(inputs.count)")
        }
    }

    private func compute(_ v: Int, inputs: [Tensor], multiplyAdds: inout Double) throws(VerifyError) -> Tensor {
        let node = graph.nodes[v]
        let a = node.attributes
        switch node.op {
        case .input:
            // A disaggregated graph's inputs say which side they feed: the prompt, or the token after it.
            let queries = a["phase"] == "prefill" ? model.seq : a["phase"] == "decode" || model.context != nil ? 1 : model.seq
            if a["data"] == "positions" {
                let offset = try integer(node, "offset", 0)
                let ids = Tensor(shape: [model.batch, queries], data: (0..<(model.batch * queries)).map { Double(offset + $0 % queries) })
                try Self.checkPlace(place(node), ids.shape, node.name, "the positions")
                return ids.part(place(node))
            }
            if a["data"] == "tokens" {
                guard let vocab = model.vocab else { throw refuse(node, "token ids need the graph's 'vocab'") }
                let ids = data.tokens("tokens", shape: [model.batch, queries], vocab: vocab)
                try Self.checkPlace(place(node), ids.shape, node.name, "the token ids")
                return ids.part(place(node))
            }
            let x = data.tensor("x", shape: [model.batch, queries, model.hidden])
            let p = place(node)
            try Self.checkPlace(p, x.shape, node.name, "the model's input")
            return x.part(p)
        case .kvCache:
            guard let name = a["cache"], let context = model.context else {
                throw VerifyError("\(node.name): a kv_cache needs 'cache' and a decode context")
            }
            var t = data.tensor(name, shape: [model.batch, context - 1, model.kvHeads, model.headDim])
            var p = place(node)
            if let range = a["range"].flatMap(TokenRange.parse) {
                guard range.start >= 0, range.start <= range.end, range.end <= context - 1 else {
                    throw refuse(node, "range \(range.start):\(range.end) is outside the cache's \(context - 1) tokens")
                }
                t = t.slice(dim: 1, range.start, range.end)
                p.shards[1] = nil
            }
            try Self.checkPlace(p, t.shape, node.name, "the cache")
            return t.part(p)
        case .output:
            try expectInputs(node, inputs, 1...1)
            return inputs[0]
        case .matmul:
            guard let eq = a["eq"], let einsum = try? Einsum(eq) else { throw VerifyError("\(node.name): no usable 'eq'") }
            if let (name, logical, slice) = try weight(node) {
                try expectInputs(node, inputs, 1...1)
                let product = try einsumChecked(node, einsum, inputs[0], try drawn(v, name, logical).part(slice), &multiplyAdds)
                guard a["bias"] == "true" else { return product }
                return try addBias(node, einsum: einsum, product, weight: name, logical: logical, slice: slice)
            }
            try expectInputs(node, inputs, 2...2)
            return try einsumChecked(node, einsum, inputs[0], inputs[1], &multiplyAdds)
        case .softmax:
            try expectInputs(node, inputs, 1...1)
            guard inputs[0].shape.count >= 2 || (a["causal"] != "true" && a["window"] == nil) else {
                throw refuse(node, "a masked softmax needs scores [..., queries, keys], got \(inputs[0].shape)")
            }
            return Kernels.maskedSoftmax(
                inputs[0], scale: a["scale"].flatMap(Double.init) ?? 1, causal: a["causal"] == "true",
                window: a["window"] == nil ? nil : try integer(node, "window", 0, minimum: 1), queryOffset: try integer(node, "q_offset", 0)
            )
        case .layernorm, .rmsnorm:
            try expectInputs(node, inputs, 1...1)
            let normed = node.op == .layernorm ? Kernels.layerNorm(inputs[0]) : Kernels.rmsNorm(inputs[0])
            guard let (name, logical, slice) = try weight(node) else { return normed }
            let gain = try drawn(v, name, logical).part(slice)
            guard gain.count == normed.shape.last else {
                throw refuse(node, "the norm's weight has \(gain.count) entries for rows of \(normed.shape.last ?? 0)")
            }
            let scaled = Kernels.scaled(normed, by: gain)
            guard a["bias"] == "true" else { return scaled }
            return Kernels.shifted(scaled, by: data.weight(name + ".bias", shape: logical).part(slice))
        case .gelu, .silu, .relu:
            try expectInputs(node, inputs, 1...1)
            switch node.op {
            case .gelu: return Kernels.gelu(inputs[0])
            case .silu: return Kernels.silu(inputs[0])
            default: return Kernels.relu(inputs[0])
            }
        case .mul:
            try expectInputs(node, inputs, 2...2)
            guard inputs[0].shape == inputs[1].shape else {
                throw refuse(node, "multiplies tensors of different shapes, \(inputs[0].shape) and \(inputs[1].shape)")
            }
            return Kernels.mul(inputs[0], inputs[1])
        case .rope:
            try expectInputs(node, inputs, 1...1)
            guard let theta = a["theta"].flatMap(Double.init), theta > 0 else { throw refuse(node, "rope needs a positive 'theta'") }
            let t = inputs[0]
            let rotary = a["rotary_dim"] == nil ? nil : try integer(node, "rotary_dim", 0, minimum: 2)
            guard t.shape.count >= 3, let d = t.shape.last, d % 2 == 0, (rotary ?? d) <= d, (rotary ?? d) % 2 == 0 else {
                throw refuse(node, "rope rotates pairs of the last dimension of [batch, tokens, ..., head_dim], got \(t.shape)")
            }
            return Kernels.rope(
                t, theta: theta, offset: try integer(node, "offset", 0), rotaryDim: rotary, interleaved: a["interleaved"] == "true")
        case .attention:
            try expectInputs(node, inputs, 3...3)
            let (q, k, val) = (inputs[0], inputs[1], inputs[2])
            guard q.shape.count == 4, k.shape.count == 4, k.shape == val.shape, q.shape[0] == k.shape[0], q.shape[3] == k.shape[3],
                k.shape[2] > 0, q.shape[2] % k.shape[2] == 0
            else {
                throw refuse(
                    node, "attention takes Q [b, q, heads, d] and K, V [b, kv, kv_heads, d], got \(q.shape), \(k.shape), \(val.shape)")
            }
            multiplyAdds += 2 * Double(q.count) * Double(k.shape[1])
            guard multiplyAdds <= multiplyAddBudget else { throw refuse(node, "the graph's multiply-adds pass the limit here") }
            return Kernels.attention(
                q, k, val, scale: a["scale"].flatMap(Double.init) ?? 1, causal: a["causal"] == "true",
                window: a["window"] == nil ? nil : try integer(node, "window", 0, minimum: 1), queryOffset: try integer(node, "q_offset", 0)
            )
        case .embedding:
            try expectInputs(node, inputs, 1...1)
            guard let (name, logical, slice) = try weight(node), logical.count == 2 else {
                throw refuse(node, "an embedding needs its table as 'weight' [rows, hidden] with 'weight_logical'")
            }
            let first = slice.shards[0].map { $0.index * (logical[0] / $0.parts) } ?? 0
            return Kernels.embedding(inputs[0], try drawn(v, name, logical).part(slice), first: first)
        case .narrow:
            try expectInputs(node, inputs, 1...1)
            let dim = try integer(node, "dim", 0)
            guard dim < inputs[0].shape.count else { throw refuse(node, "dim \(dim) does not exist in \(inputs[0].shape)") }
            let size = inputs[0].shape[dim]
            var start = try integer(node, "start", 0, minimum: -size)
            if start < 0 { start += size }
            let length = try integer(node, "length", 1, minimum: 1)
            guard start + length <= size else {
                throw refuse(node, "\(length) from \(start) does not fit in dim \(dim) of \(inputs[0].shape)")
            }
            return inputs[0].slice(dim: dim, start, start + length)
        case .add:
            try expectInputs(node, inputs, 1...Int.max)
            for t in inputs where t.shape != inputs[0].shape {
                throw refuse(node, "adds tensors of different shapes, \(inputs[0].shape) and \(t.shape)")
            }
            return inputs.dropFirst().reduce(inputs[0], +)
        case .concat:
            try expectInputs(node, inputs, 1...Int.max)
            let dim = try integer(node, "dim", 0)
            try checkConcat(node, inputs, dim: dim)
            return Tensor.concat(inputs, dim: dim)
        case .split:
            try expectInputs(node, inputs, 1...1)
            let (dim, parts) = (try integer(node, "dim", 0), try integer(node, "parts", 1, minimum: 1))
            let index = try integer(node, "index", 0)
            guard index < parts else { throw refuse(node, "index \(index) of \(parts) parts: parts are numbered from 0") }
            try checkPart(node, inputs[0], dim: dim, parts: parts)
            return inputs[0].part(dim: dim, index: index, parts: parts)
        case .topk:
            try expectInputs(node, inputs, 1...1)
            let k = try integer(node, "k", 1, minimum: 1)
            guard let experts = inputs[0].shape.last, k <= experts else {
                throw refuse(
                    node, "k=\(k) of \(inputs[0].shape.last.map(String.init) ?? "no") experts: k cannot exceed the router's experts")
            }
            return Kernels.topK(inputs[0], k: k)
        case .dispatch:
            try expectInputs(node, inputs, 2...2)
            let (experts, replicas) = (try integer(node, "experts", 1, minimum: 1), try integer(node, "replicas", 1, minimum: 1))
            try checkRouting(node, inputs[1], experts: experts)
            let x = inputs[0]
            let tokens = inputs[1].count / inputs[1].shape[inputs[1].shape.count - 1]
            guard let h = x.shape.last, x.count / h == tokens else {
                throw refuse(node, "tokens \(x.shape) do not match the routing \(inputs[1].shape)")
            }
            // The buffers the kernel allocates are then exactly `out`, which the budget counted.
            let out = shapes[v]
            let (slots, overflow) = experts.multipliedReportingOverflow(by: replicas)
            guard out.count == 3, !overflow, out[0] == slots, out[2] == h else {
                throw refuse(node, "out \(node.out) must be [\(experts) experts x \(replicas) replicas, capacity, \(h)]")
            }
            return Kernels.dispatch(x, inputs[1], experts: experts, replicas: replicas, capacity: out[1])
        case .combine:
            try expectInputs(node, inputs, 2...2)
            let (experts, replicas) = (try integer(node, "experts", 1, minimum: 1), try integer(node, "replicas", 1, minimum: 1))
            try checkRouting(node, inputs[1], experts: experts)
            let buffers = inputs[0]
            let (slots, overflow) = experts.multipliedReportingOverflow(by: replicas)
            guard buffers.shape.count == 3, !overflow, buffers.shape[0] == slots else {
                throw refuse(node, "buffers \(buffers.shape) must be [\(experts) experts x \(replicas) replicas, capacity, hidden]")
            }
            return Kernels.combine(buffers, inputs[1], experts: experts, replicas: replicas, tokenShape: Array(inputs[1].shape.dropLast()))
        case .allReduce, .allGather, .reduceScatter, .allToAll, .sendRecv:
            throw VerifyError("unreachable")
        }
    }

    /// The logical weight a node slices: its name, whole shape and the slice it takes.
    /// The logical weight `name` of node `v`: where its role was inferred, the model's tensor
    /// of the reference's shape, read in the node's layout (consecutive dimensions merged).
    private func drawn(_ v: Int, _ name: String, _ logical: [Int]) throws(VerifyError) -> Tensor {
        guard let shape = WeightRoles.referenceShape(name, model: model) else {
            return data.weight(name, shape: logical)
        }
        guard WeightRoles.isCoarsening(logical, of: shape) else {
            let sameCount = logical.reduce(1.0) { $0 * Double($1) } == shape.reduce(1.0) { $0 * Double($1) }
            var error = refuse(
                graph.nodes[v],
                sameCount
                    ? "its weight is, by its placement, part of a \(logical) tensor, the model's \(name) \(shape) in another layout (verify reads a weight in the model's, dimensions merged in order): lay it out so, or state weight_logical and weight_place"
                    : "its weight is, by its placement, part of a \(logical) tensor, but the model's \(name) is \(shape): the file's weights and the header's model differ (a part no GPU holds, or a header that is not the file's model)"
            )
            // As many elements in another layout (a transposed weight) is the file's choice,
            // which verify cannot read; another count is another model.
            if !sameCount { error.headerMismatchNode = graph.nodes[v].name }
            throw error
        }
        let t = data.weight(name, shape: shape)
        return Tensor(shape: logical, data: t.data)
    }

    private func weight(_ node: OperatorNode) throws(VerifyError) -> (String, [Int], Placement)? {
        guard let text = node.attributes["weight"], let name = node.attributes["weight_logical"] else { return nil }
        guard let shape = try? Shape.parse(text), var logical = Verifier.concrete(shape) else {
            throw refuse(node, "its weight \(text) must have concrete dimensions")
        }
        let slice = place(node, "weight_place")
        for (d, part) in slice.shards {
            guard d < logical.count else { throw refuse(node, "weight_place \(slice) shards dim \(d) of weight \(shape)") }
            // Bounded by the element budget, which counted this product in floating point.
            logical[d] *= part.parts
        }
        try Self.checkPlace(slice, logical, node.name, "the weight \(name)")
        return (name, logical, slice)
    }

    /// A matmul's product plus the slice of the weight's bias: the bias spans the weight's
    /// dimensions that reach the output, which must be the output's last ones.
    private func addBias(_ node: OperatorNode, einsum: Einsum, _ product: Tensor, weight: String, logical: [Int], slice: Placement)
        throws(VerifyError) -> Tensor
    {
        let kept = einsum.rhs.enumerated().filter { einsum.result.contains($0.element) }
        let letters = kept.map { $0.element }
        guard !kept.isEmpty, Array(einsum.result.suffix(kept.count)) == letters else {
            throw refuse(node, "a bias must span the output's last dimensions (\(String(einsum.result)))")
        }
        var biasPlace = Placement()
        for (i, entry) in kept.enumerated() { biasPlace.shards[i] = slice.shards[entry.offset] }
        let bias = data.weight(weight + ".bias", shape: kept.map { logical[$0.offset] }).part(biasPlace)
        return Tensor(shape: product.shape, data: product.data.enumerated().map { $0.element + bias.data[$0.offset % bias.count] })
    }

    /// Operand ranks and shared letters agree; the multiply-adds stay within the budget.
    private func einsumChecked(
        _ node: OperatorNode, _ eq: Einsum, _ a: Tensor, _ b: Tensor, _ multiplyAdds: inout Double
    ) throws(VerifyError) -> Tensor {
        guard a.shape.count == eq.lhs.count, b.shape.count == eq.rhs.count else {
            throw refuse(node, "\(eq) does not fit operands of shapes \(a.shape) and \(b.shape)")
        }
        var size: [Character: Int] = [:]
        for (c, d) in zip(eq.lhs + eq.rhs, a.shape + b.shape) {
            if let known = size[c], known != d { throw refuse(node, "\(eq): '\(c)' is \(known) in one operand and \(d) in the other") }
            size[c] = d
        }
        multiplyAdds += size.values.reduce(1.0) { $0 * Double($1) }
        guard multiplyAdds <= multiplyAddBudget else {
            throw refuse(
                node,
                "the graph's matmuls pass \(Verifier.scientific(multiplyAddBudget)) multiply-adds here (the limit, after the model's), too many to execute; verify a scaled-down DAG"
            )
        }
        return Kernels.einsum(eq, a, b)
    }

    private func checkPart(_ node: OperatorNode, _ t: Tensor, dim: Int, parts: Int) throws(VerifyError) {
        guard dim < t.shape.count else { throw refuse(node, "dim \(dim) does not exist in a tensor of shape \(t.shape)") }
        guard t.shape[dim] % parts == 0 else { throw refuse(node, "\(parts) parts do not divide dim \(dim) of \(t.shape)") }
    }

    private func checkConcat(_ node: OperatorNode, _ tensors: [Tensor], dim: Int) throws(VerifyError) {
        let first = tensors[0].shape
        guard dim < first.count else { throw refuse(node, "dim \(dim) does not exist in a tensor of shape \(first)") }
        for t in tensors {
            guard t.shape.count == first.count, t.shape.indices.allSatisfy({ $0 == dim || t.shape[$0] == first[$0] }) else {
                throw refuse(node, "concatenates \(first) and \(t.shape) along dim \(dim): the other dimensions differ")
            }
        }
    }

    /// The routing comes from a top-k and names only experts below `experts`.
    private func checkRouting(_ node: OperatorNode, _ routing: Tensor, experts: Int) throws(VerifyError) {
        guard let chosen = routing.indices, !routing.shape.isEmpty else {
            throw refuse(node, "its routing input (operand 1) must come from a topk")
        }
        if let bad = chosen.first(where: { $0 >= experts }) {
            throw refuse(node, "the router chose expert \(bad), but it has only \(experts) experts")
        }
    }

    /// Inputs in group order (each member's own), outputs per member.
    private func communicate(
        _ node: OperatorNode, edges: [TensorEdge], input: (Int, Int) throws(VerifyError) -> Tensor
    ) throws(VerifyError) -> [Int: Tensor] {
        let group = node.group
        if node.op == .sendRecv {
            guard group.count == 2 else { throw refuse(node, "a send_recv's group is its source and destination, got \(group)") }
            guard let e = edges.first else { throw VerifyError("\(node.name) has no input") }
            return [group[1]: try input(e.from, group[0])]
        }
        guard !group.isEmpty, Set(group).count == group.count else { throw refuse(node, "its group \(group) must name distinct GPUs") }
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
        var out: [Int: Tensor] = [:]
        switch node.op {
        case .allReduce, .reduceScatter:
            for t in ordered where t.shape != ordered[0].shape {
                throw refuse(node, "sums tensors of different shapes, \(ordered[0].shape) and \(t.shape)")
            }
            let sum = ordered.dropFirst().reduce(ordered[0], +)
            if node.op == .allReduce {
                for m in group { out[m] = sum }
            } else {
                let dim = try integer(node, "dim", 0)
                try checkPart(node, sum, dim: dim, parts: p)
                for (i, m) in group.enumerated() { out[m] = sum.part(dim: dim, index: i, parts: p) }
            }
        case .allGather:
            let dim = try integer(node, "dim", 0)
            try checkConcat(node, ordered, dim: dim)
            let whole = Tensor.concat(ordered, dim: dim)
            for m in group { out[m] = whole }
        case .allToAll:
            let (split, concat) = (try integer(node, "split_dim", 0), try integer(node, "concat_dim", 0))
            for t in ordered {
                try checkPart(node, t, dim: split, parts: p)
                try checkPart(node, t, dim: concat, parts: 1)
            }
            for (j, m) in group.enumerated() {
                let pieces = ordered.map { $0.part(dim: split, index: j, parts: p) }
                try checkConcat(node, pieces, dim: concat)
                out[m] = Tensor.concat(pieces, dim: concat)
            }
        default:
            throw VerifyError("unreachable")
        }
        return out
    }
}
