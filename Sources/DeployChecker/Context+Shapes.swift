import DOTFormat
import DeployModel

extension Context {
    /// `shape` and `matmul-mkn`: each node's inputs fit its operator, and its `out` is what the
    /// operator makes of them.
    mutating func checkShapes() {
        var einsums: [String: Einsum] = [:]
        for v in graph.nodes.indices where isValid(v) {
            let edges = incoming(v).map { Int($0) }
            // A malformed producer has no usable shape; its own findings say why.
            guard edges.allSatisfy({ isValid(graph.edges[$0].from) }) else { continue }
            let node = graph.nodes[v]
            let inputs = edges.map { graph.nodes[graph.edges[$0].from].out }
            switch node.op {
            case .input, .kvCache:
                if !edges.isEmpty {
                    report(
                        .shape, node: v,
                        "\(node.op.rawValue) is a source and takes no tensors, but \(edges.count) edge\(edges.count == 1 ? "" : "s") lead into it"
                    )
                }
                if node.op == .kvCache, let text = node.attributes["range"] { checkCacheRange(v, text) }
            case .topk:
                guard expectInputs(v, inputs.count, exactly: 1), let k = integer(node, DOTSchema.topK) else { continue }
                var expected = inputs[0]
                if expected.rank > 0, let width = expected[expected.rank - 1].intValue, Int64(k) > width {
                    report(.shape, node: v, "topk with k=\(k) of \(inputs[0]) picks more entries than its last dimension's \(width)")
                    continue
                }
                if expected.rank > 0 { expected[expected.rank - 1] = Dim(k) }
                if expected != node.out {
                    report(.shape, node: v, "topk with k=\(k) of \(inputs[0]) gives \(expected), but out is \(node.out)")
                }
            case .dispatch, .combine:
                guard expectInputs(v, inputs.count, exactly: 2) else { continue }
                checkRouting(v, edges: edges)
            case .mul:
                guard expectInputs(v, inputs.count, exactly: 2) else { continue }
                for (i, shape) in inputs.enumerated() where shape != node.out {
                    report(
                        .shape, node: v,
                        "mul is elementwise and needs equal shapes: input from \(producerName(edges[i])) is \(shape), but out is \(node.out)"
                    )
                }
            case .attention:
                checkAttention(v, edges: edges)
            case .embedding:
                guard expectInputs(v, inputs.count, exactly: 1) else { continue }
                guard let text = node.attributes[DOTSchema.weight], let weight = try? memo.shape(text).get(), weight.rank == 2 else {
                    report(.shape, node: v, "an embedding needs its table as 'weight' of shape [rows, hidden]")
                    continue
                }
                let expected = Shape(inputs[0].dims + [weight[1]])
                if expected != node.out {
                    report(
                        .shape, node: v, "embedding of ids \(inputs[0]) in a table \(weight) gives \(expected), but out is \(node.out)")
                }
            case .narrow:
                guard expectInputs(v, inputs.count, exactly: 1), let dim = integer(node, DOTSchema.dim), checkRank(v, inputs[0], dim),
                    let start = integer(node, DOTSchema.start), let length = integer(node, DOTSchema.length)
                else {
                    if graph.nodes[v].attributes[DOTSchema.start] == nil || graph.nodes[v].attributes[DOTSchema.length] == nil {
                        report(.shape, node: v, "narrow needs integer 'dim', 'start' and 'length'")
                    }
                    continue
                }
                // Compared without adding: a start of 2^63-1 from a file overflowed `start + length`.
                if let size = inputs[0][dim].intValue,
                    length <= 0
                        || (start >= 0
                            ? Int64(start) > size || Int64(length) > size - Int64(start)
                            : Int64(start) < -size || Int64(length) > -Int64(start))
                {
                    report(.shape, node: v, "narrow of \(length) from \(start) along dim \(dim) does not fit in \(inputs[0])")
                    continue
                }
                var expected = inputs[0]
                expected[dim] = Dim(Int64(length))
                if expected != node.out {
                    report(
                        .shape, node: v, "narrow to \(length) along dim \(dim) of \(inputs[0]) gives \(expected), but out is \(node.out)")
                }
            case .rope:
                guard expectInputs(v, inputs.count, exactly: 1) else { continue }
                if inputs[0] != node.out {
                    report(.shape, node: v, "rope keeps its input's shape: input is \(inputs[0]), but out is \(node.out)")
                }
                let headDim = node.out.dims.last?.intValue
                if node.attributes[DOTSchema.theta].flatMap(Double.init).map({ $0 > 0 }) != true {
                    report(.shape, node: v, "rope needs a positive 'theta' (the base of its frequencies, such as 10000)")
                }
                if let dims = node.attributes[DOTSchema.rotaryDim].map({ Int($0) }) {
                    if dims == nil || dims! <= 0 || dims! % 2 != 0 || headDim.map({ Int64(dims!) > $0 }) == true {
                        report(.shape, node: v, "rotary_dim must be an even number of dimensions within the head (\(node.out))")
                    }
                } else if let headDim, headDim % 2 != 0 {
                    report(.shape, node: v, "rope rotates pairs of dimensions, but the head has \(headDim)")
                }
            case .output, .softmax, .layernorm, .rmsnorm, .gelu, .silu, .relu, .sendRecv:
                guard expectInputs(v, inputs.count, exactly: 1) else { continue }
                if node.op == .layernorm || node.op == .rmsnorm, let text = node.attributes[DOTSchema.weight] {
                    if let weight = try? memo.shape(text).get(), weight.rank == 1, weight[0] == inputs[0].dims.last {
                    } else {
                        report(.shape, node: v, "a norm's weight is one gain per entry of the last dimension of \(inputs[0]), got \(text)")
                    }
                }
                if inputs[0] != node.out {
                    report(
                        .shape, node: v,
                        "\(node.op.rawValue) keeps its input's shape: input is \(inputs[0]) (from \(producerName(edges[0]))), but out is \(node.out)"
                    )
                }
            case .add:
                guard expectInputs(v, inputs.count, atLeast: 2) else { continue }
                for (i, shape) in inputs.enumerated() where shape != node.out {
                    report(
                        .shape, node: v, "add needs equal shapes: input from \(producerName(edges[i])) is \(shape), but out is \(node.out)")
                }
            case .matmul:
                checkMatmul(v, edges: edges, einsums: &einsums)
            case .concat:
                checkConcat(v, inputs: inputs)
            case .split:
                guard expectInputs(v, inputs.count, exactly: 1), let dim = integer(node, DOTSchema.dim),
                    let parts = integer(node, DOTSchema.parts), checkRank(v, inputs[0], dim)
                else { continue }
                if let text = node.attributes[DOTSchema.index] {
                    guard let index = Int(text.trimmingASCIISpaces()), index >= 0, index < parts else {
                        report(.shape, node: v, "split index '\(text)' must name one of its \(parts) parts, 0 to \(parts - 1)")
                        continue
                    }
                }
                var expected = inputs[0]
                if let piece = try? inputs[0][dim].divided(by: parts) { expected[dim] = piece }
                if expected != node.out {
                    report(
                        .shape, node: v,
                        "split of \(inputs[0]) into \(parts) parts along dim \(dim) gives \(expected), but out is \(node.out)")
                }
            case .allReduce, .allGather, .reduceScatter, .allToAll:
                checkCollective(v, edges: edges, inputs: inputs)
            }
        }
    }

    /// dispatch: tokens `[..., h]` (operand 0) and routing `[..., k]` (operand 1) make per-expert
    /// buffers `[experts x replicas, capacity, h]`. combine: such buffers (operand 0) and the
    /// routing (operand 1) make tokens `[..., h]` again.
    private mutating func checkRouting(_ v: Int, edges: [Int]) {
        let node = graph.nodes[v]
        guard let experts = integer(node, DOTSchema.experts) else { return }
        let replicas = integer(node, DOTSchema.replicas) ?? 1
        let factor = node.attributes[DOTSchema.capacityFactor].flatMap(MoERouting.parseFactor) ?? Dim(1)
        var ordered = edges
        if edges.allSatisfy({ graph.edges[$0].operand != nil }) {
            ordered.sort { graph.edges[$0].operand! < graph.edges[$1].operand! }
        }
        let first = graph.nodes[graph.edges[ordered[0]].from].out
        let routing = graph.nodes[graph.edges[ordered[1]].from].out
        guard routing.rank >= 1, let k = routing.dims.last?.intValue else {
            report(.shape, node: v, "the routing input \(routing) must end in the number of experts per token (top-k)")
            return
        }
        let tokenDims = Array(routing.dims.dropLast())
        guard let tokens = try? Shape(tokenDims).elementCount(),
            let capacity = try? MoERouting.capacity(tokens: tokens, topK: Int(k), experts: experts, capacityFactor: factor),
            let slots = try? Dim(experts).multiplied(by: replicas)
        else {
            report(.shape, node: v, "the capacity for \(routing) over \(experts) experts cannot be computed")
            return
        }
        let rule = "\(tokens) tokens x top-\(k) / \(experts) experts x capacity factor \(factor) = \(capacity) per expert"
        if node.op == .dispatch {
            guard first.rank == tokenDims.count + 1, Array(first.dims.dropLast()) == tokenDims, let hidden = first.dims.last else {
                report(.shape, node: v, "dispatch takes tokens shaped like its routing \(routing) with one more dimension, got \(first)")
                return
            }
            let expected = Shape([slots, capacity, hidden])
            if expected != node.out {
                report(
                    .shape, node: v,
                    "dispatch of \(first) to \(experts) experts\(replicas > 1 ? " x \(replicas) replicas" : "") gives \(expected) (\(rule)), but out is \(node.out)"
                )
            }
        } else {
            guard first.rank == 3, let hidden = first.dims.last else {
                report(.shape, node: v, "combine takes per-expert buffers [experts, capacity, hidden], got \(first)")
                return
            }
            if first[0] != slots || first[1] != capacity {
                report(.shape, node: v, "combine expects buffers [\(slots),\(capacity),\(hidden)] (\(rule)), got \(first)")
            }
            let expected = Shape(tokenDims + [hidden])
            if expected != node.out {
                report(.shape, node: v, "combine of \(first) back into tokens \(routing) gives \(expected), but out is \(node.out)")
            }
        }
    }

    /// attention: Q `[b, q, heads, d]` (operand 0), K and V `[b, kv, kv_heads, d]` (1 and 2);
    /// the heads a multiple of the K/V heads; the output shaped like Q.
    private mutating func checkAttention(_ v: Int, edges: [Int]) {
        let node = graph.nodes[v]
        guard expectInputs(v, edges.count, exactly: 3) else { return }
        let operands = edges.map { graph.edges[$0].operand }
        guard Set(operands.compactMap { $0 }) == [0, 1, 2] else {
            report(.shape, node: v, "attention's edges must say which operand each is: operand=0 (Q), 1 (K), 2 (V)")
            return
        }
        let ordered = edges.sorted { graph.edges[$0].operand! < graph.edges[$1].operand! }
        let (q, k, val) = (
            graph.nodes[graph.edges[ordered[0]].from].out, graph.nodes[graph.edges[ordered[1]].from].out,
            graph.nodes[graph.edges[ordered[2]].from].out
        )
        guard q.rank == 4, k.rank == 4, val.rank == 4 else {
            report(
                .shape, node: v,
                "attention takes Q [batch, queries, heads, head_dim] and K, V [batch, keys, kv_heads, head_dim]; got \(q), \(k), \(val)")
            return
        }
        if k != val { report(.shape, node: v, "attention's K \(k) and V \(val) must have one shape") }
        if q[0] != k[0] || q[3] != k[3] {
            report(.shape, node: v, "attention's Q \(q) and K \(k) must agree in batch (dim 0) and head_dim (dim 3)")
        }
        if let n = q[2].intValue, let kv = k[2].intValue, kv == 0 || n % kv != 0 {
            report(.shape, node: v, "attention's \(n) query heads do not split into groups over \(kv) K/V heads")
        }
        if q != node.out { report(.shape, node: v, "attention gives the shape of its Q \(q), but out is \(node.out)") }
        if let text = node.attributes[DOTSchema.scale], let scale = Double(text), let d = q[3].intValue, d > 0 {
            let expected = 1 / Double(d).squareRoot()
            if abs(scale - expected) > 1e-6 * expected {
                report(.shape, node: v, "scale \(text) is not 1/√\(d) = \(expected) for heads of \(d) dimensions")
            }
        }
    }

    /// A cache's `range` `A:B`: tokens A to B of the cache, `0 <= A <= B`, as many as its
    /// `out`'s dimension 1 and, where the header states a decode `context`, within its
    /// `context - 1` cached tokens.
    private mutating func checkCacheRange(_ v: Int, _ text: String) {
        let node = graph.nodes[v]
        guard let (a, b) = TokenRange.parse(text), a >= 0, a <= b else {
            report(.shape, node: v, "range '\(text)' is not START:END with 0 <= START <= END")
            return
        }
        if node.out.rank >= 2, let tokens = node.out.dims[1].intValue, tokens != Int64(b - a) {
            report(.shape, node: v, "range \(a):\(b) holds \(b - a) tokens, but out \(node.out) has \(tokens)")
        }
        if let context = graph.attributes["context"].flatMap({ Int($0.trimmingASCIISpaces()) }), context > 0, b > context - 1 {
            report(.shape, node: v, "range \(a):\(b) passes the \(context - 1) cached tokens of the graph's context \(context)")
        }
    }

    private func producerName(_ edge: Int) -> String { graph.nodes[graph.edges[edge].from].name }

    private func integer(_ node: OperatorNode, _ key: String) -> Int? {
        node.attributes[key].flatMap { Int($0.trimmingASCIISpaces()) }
    }

    private mutating func expectInputs(_ v: Int, _ count: Int, exactly: Int) -> Bool {
        guard count == exactly else {
            report(
                .shape, node: v,
                "\(graph.nodes[v].op.rawValue) takes exactly \(exactly) input\(exactly == 1 ? "" : "s"), but \(count) edge\(count == 1 ? "" : "s") lead into it"
            )
            return false
        }
        return true
    }

    private mutating func expectInputs(_ v: Int, _ count: Int, atLeast: Int) -> Bool {
        guard count >= atLeast else {
            report(
                .shape, node: v,
                "\(graph.nodes[v].op.rawValue) takes at least \(atLeast) inputs, but \(count) edge\(count == 1 ? "" : "s") lead into it")
            return false
        }
        return true
    }

    private mutating func checkRank(_ v: Int, _ shape: Shape, _ dim: Int) -> Bool {
        guard dim >= 0, dim < shape.rank else {
            report(.shape, node: v, "dim \(dim) does not exist in a tensor of rank \(shape.rank) (\(shape))")
            return false
        }
        return true
    }

    private mutating func checkMatmul(_ v: Int, edges: [Int], einsums: inout [String: Einsum]) {
        let node = graph.nodes[v]
        guard let eqText = node.attributes[DOTSchema.equation] else { return }
        let einsum: Einsum
        if let cached = einsums[eqText] {
            einsum = cached
        } else {
            guard let parsed = try? memo.einsum(eqText).get() else { return }
            einsums[eqText] = parsed
            einsum = parsed
        }
        let weight = node.attributes[DOTSchema.weight].flatMap { try? memo.shape($0).get() }
        let expected = weight == nil ? 2 : 1
        guard edges.count == expected else {
            let what =
                weight == nil ? "two activations (no 'weight' is given)" : "one activation (the other operand is its weight \(weight!))"
            report(.shape, node: v, "matmul \(eqText) takes \(what), but \(edges.count) edge\(edges.count == 1 ? "" : "s") lead into it")
            return
        }
        // Operands in order: by the edges' `operand` attribute where given, else try both orders.
        var orders: [[Int]]
        let stated = edges.map { graph.edges[$0].operand }
        if weight != nil {
            orders = [[edges[0]]]
        } else if stated.allSatisfy({ $0 != nil }) {
            orders = [edges.sorted { graph.edges[$0].operand! < graph.edges[$1].operand! }]
        } else {
            orders = [edges, edges.reversed()]
        }
        var firstError: EinsumError?
        for order in orders {
            let a = graph.nodes[graph.edges[order[0]].from].out
            let b = weight ?? graph.nodes[graph.edges[order[1]].from].out
            // Layers and GPUs repeat the same products: each distinct one is worked out once.
            let key = MatmulKey(equation: eqText, lhs: a, rhs: b)
            let product: Result<MatmulProduct, EinsumError>
            if let known = matmulProducts[key] {
                product = known
            } else {
                product = Result { () throws(EinsumError) in
                    MatmulProduct(out: try einsum.outputShape(a, b), arguments: try einsum.getTimeArguments(a, b))
                }
                matmulProducts[key] = product
            }
            switch product {
            case .success(let made):
                if made.out != node.out {
                    report(.shape, node: v, "matmul \(eqText) of \(a) x \(b) gives \(made.out), but out is \(node.out)")
                    return
                }
                checkMKN(v, made.arguments)
                return
            case .failure(let error):
                if firstError == nil { firstError = error }
            }
        }
        let names = orders[0].map(producerName).joined(separator: " x ")
        report(
            .shape, node: v, "matmul \(eqText) cannot take its operands (\(names)\(weight.map { " x weight \($0)" } ?? "")): \(firstError!)"
        )
    }

    private mutating func checkMKN(_ v: Int, _ derived: GetTimeArguments) {
        let node = graph.nodes[v]
        var wrong: [String] = []
        for (key, value) in [(DOTSchema.m, derived.m), (DOTSchema.k, derived.k), (DOTSchema.n, derived.n)] {
            guard let text = node.attributes[key], let stated = try? memo.dim(text).get() else { continue }
            if stated != value { wrong.append("\(key)=\(text) should be \(value)") }
        }
        if !wrong.isEmpty {
            report(.matmulMKN, node: v, "\(wrong.joined(separator: ", ")): the operands make this \(derived)")
        }
    }

    private mutating func checkConcat(_ v: Int, inputs: [Shape]) {
        let node = graph.nodes[v]
        guard expectInputs(v, inputs.count, atLeast: 1), let dim = integer(node, DOTSchema.dim), checkRank(v, node.out, dim) else {
            return
        }
        var total: Dim?
        for shape in inputs {
            guard shape.rank == node.out.rank else {
                report(
                    .shape, node: v,
                    "concat along dim \(dim): input \(shape) has rank \(shape.rank), out \(node.out) has rank \(node.out.rank)")
                return
            }
            for d in 0..<shape.rank where d != dim && shape[d] != node.out[d] {
                report(.shape, node: v, "concat along dim \(dim): input \(shape) differs from out \(node.out) in dim \(d)")
                return
            }
            total = total.map { try? $0 + shape[dim] } ?? shape[dim]
        }
        if total != node.out[dim] {
            let sum = inputs.map { $0[dim].description }.joined(separator: " + ")
            report(
                .shape, node: v,
                "concat along dim \(dim): the inputs sum to \(sum)\(total.map { " = \($0)" } ?? ""), but out has \(node.out[dim])")
        }
    }

    private mutating func checkCollective(_ v: Int, edges: [Int], inputs: [Shape]) {
        let node = graph.nodes[v]
        let p = node.group.count
        let name = node.op.rawValue
        // One edge from a collective over the same GPUs carries every member's tensor at once
        // (the all_gather of a reduce_scatter's parts: an all-reduce in two steps).
        let fromCollective =
            edges.count == 1 && graph.nodes[graph.edges[edges[0]].from].op.isCommunication
            && graph.nodes[graph.edges[edges[0]].from].op != .sendRecv
            && Set(graph.nodes[graph.edges[edges[0]].from].group) == Set(node.group)
        if inputs.count != p && !fromCollective {
            report(
                .shape, node: v,
                "\(name) over \(p) GPUs (\(GPUList.compact(node.group))) takes one input per GPU, but \(inputs.count) edge\(inputs.count == 1 ? "" : "s") lead into it"
            )
        } else {
            let sources = Set(edges.compactMap { graph.nodes[graph.edges[$0].from].gpu })
            let missing = node.group.filter { !sources.contains($0) }
            if sources.count == edges.count && !missing.isEmpty {
                report(
                    .shape, node: v, "\(name) over GPUs \(GPUList.compact(node.group)) gets no input from GPU \(GPUList.compact(missing))")
            }
        }
        for (i, input) in inputs.enumerated() {
            var expected = input
            let rule: String
            switch node.op {
            case .allReduce:
                rule = "all_reduce keeps the shape"
            case .allGather:
                guard let dim = integer(node, DOTSchema.dim), checkRank(v, input, dim) else { return }
                if let whole = try? input[dim].multiplied(by: p) { expected[dim] = whole }
                rule = "all_gather over \(p) GPUs multiplies dim \(dim) by \(p)"
            case .reduceScatter:
                guard let dim = integer(node, DOTSchema.dim), checkRank(v, input, dim) else { return }
                if let piece = try? input[dim].divided(by: p) { expected[dim] = piece }
                rule = "reduce_scatter over \(p) GPUs divides dim \(dim) by \(p)"
            case .allToAll:
                guard let split = integer(node, DOTSchema.splitDim), let concat = integer(node, DOTSchema.concatDim),
                    checkRank(v, input, split), checkRank(v, input, concat)
                else { return }
                if split != concat {
                    if let piece = try? input[split].divided(by: p) { expected[split] = piece }
                    if let whole = try? input[concat].multiplied(by: p) { expected[concat] = whole }
                }
                rule = "all_to_all over \(p) GPUs divides dim \(split) and multiplies dim \(concat) by \(p)"
            default:
                return
            }
            if expected != node.out {
                report(
                    .shape, node: v,
                    "\(rule): input \(input) from \(producerName(edges[i])) should give \(expected), but out is \(node.out)")
                return
            }
        }
    }
}

/// A matmul's equation and what the rules know of its two operands (their shapes, or their
/// placements), under which a result worked out once is kept.
struct MatmulKey<Operand: Hashable & Sendable>: Hashable, Sendable {
    var equation: String
    var lhs: Operand
    var rhs: Operand
}

/// What an equation makes of two operand shapes.
struct MatmulProduct: Sendable {
    var out: Shape
    var arguments: GetTimeArguments
}
