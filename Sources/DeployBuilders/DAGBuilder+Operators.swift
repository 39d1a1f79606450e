import DeployModel

extension DAGBuilder {
    /// One of `parts` equal pieces of `input` along `dim` (piece `index`).
    mutating func split(
        _ key: String, title: String, gpu: Int, input: Int, dim: Int, parts: Int, index: Int, place: Placement? = nil,
        logical: String? = nil
    ) throws -> Int {
        var out = shape(input)
        out[dim] = try out[dim].divided(by: parts)
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .split, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\nin \(shape(input))\nout \(out) (part \(index + 1) of \(parts))",
                attributes: placed(
                    ["dim": String(dim), "parts": String(parts), "index": String(index)], logical ?? "\(prefix)\(key)", place)))
        graph.connect(input, node)
        return node
    }

    /// `inputs` concatenated along `dim`, in order (each edge records its position).
    mutating func concat(
        _ key: String, title: String, gpu: Int, inputs: [Int], dim: Int, place: Placement? = nil, logical: String? = nil
    ) throws -> Int {
        var out = shape(inputs[0])
        var total = out[dim]
        for input in inputs.dropFirst() { total = try total + shape(input)[dim] }
        out[dim] = total
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .concat, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\n\(inputs.count) inputs along dim \(dim)\nout \(out)",
                attributes: placed(["dim": String(dim)], logical ?? "\(prefix)\(key)", place)))
        for (i, input) in inputs.enumerated() { graph.connect(input, node, operand: i) }
        return node
    }

    /// An all-gather over `group` along `dim`, one input per member in group order.
    mutating func allGather(_ key: String, title: String, group: [Int], inputs: [Int], dim: Int, place: Placement? = nil) throws -> Int {
        var out = shape(inputs[0])
        out[dim] = try out[dim].multiplied(by: group.count)
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key)\(rowTag)", op: .allGather, group: group, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title)\nall-gather dim \(dim) · GPUs \(GPUList.compact(group))\n\(shape(inputs[0])) → \(out)",
                attributes: placed(["dim": String(dim)], logical(of: inputs[0]), place)))
        for input in inputs { graph.connect(input, node) }
        return node
    }

    /// A reduce-scatter over `group` along `dim`: the members' partial terms summed, member `i`
    /// keeping part `i` of `dim`. (Its output differs per member, so it states no single place.)
    mutating func reduceScatter(_ key: String, title: String, group: [Int], inputs: [Int], dim: Int) throws -> Int {
        var out = shape(inputs[0])
        out[dim] = try out[dim].divided(by: group.count)
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key)\(rowTag)", op: .reduceScatter, group: group, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title)\nreduce-scatter dim \(dim) · GPUs \(GPUList.compact(group))\n\(shape(inputs[0])) → \(out)",
                attributes: NodeAttributes(pairs: [("dim", String(dim))])))
        for input in inputs { graph.connect(input, node) }
        return node
    }

    /// An all-to-all over `group`: `splitDim` scattered across the members, `concatDim` gathered.
    mutating func allToAll(_ key: String, title: String, group: [Int], inputs: [Int], splitDim: Int, concatDim: Int) throws -> Int {
        var out = shape(inputs[0])
        out[splitDim] = try out[splitDim].divided(by: group.count)
        out[concatDim] = try out[concatDim].multiplied(by: group.count)
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key)\(rowTag)", op: .allToAll, group: group, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title)\nall-to-all · GPUs \(GPUList.compact(group))\n\(shape(inputs[0])) → \(out)",
                attributes: NodeAttributes(pairs: [("split_dim", String(splitDim)), ("concat_dim", String(concatDim))])))
        for input in inputs { graph.connect(input, node) }
        return node
    }

    /// Keys or values cached by earlier decode steps, read from this GPU's memory: tokens
    /// `range` of the logical cache `L<layer>.<key>` (all of its tokens by default), the part
    /// `place` of it along the other dimensions.
    mutating func kvCache(
        _ key: String, title: String, gpu: Int, shape out: Shape, range: Range<Int64>? = nil, place: Placement? = nil,
        logical: String? = nil
    ) -> Int {
        var attributes = [(key: "cache", value: "\(prefix)\(key)")]
        if let range { attributes.append(("range", "\(range.lowerBound):\(range.upperBound)")) }
        return graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .kvCache, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\nout \(out)",
                attributes: placed(attributes, logical ?? "\(prefix)\(key)", place)))
    }

    /// The `k` experts each token goes to, with their gate weights, from router logits.
    mutating func topK(_ key: String, gpu: Int, logits: Int, k: Int, place: Placement? = nil) -> Int {
        var out = shape(logits)
        out[out.rank - 1] = Dim(k)
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .topk, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)top-\(k) experts and gates · GPU \(gpu)\nin \(shape(logits))\nout \(out)",
                attributes: placed(["k": String(k)], "\(prefix)\(key)", place)))
        graph.connect(logits, node)
        return node
    }

    /// Tokens permuted into per-expert buffers `[experts x replicas, capacity, hidden]`.
    mutating func dispatch(_ key: String, gpu: Int, tokens: Int, routing: Int, moe: MixtureOfExperts, replicas: Int) throws -> Int {
        let x = shape(tokens)
        let r = shape(routing)
        let count = try Shape(Array(r.dims.dropLast())).elementCount()
        let capacity = try MoERouting.capacity(
            tokens: count, topK: moe.topK, experts: moe.experts, capacityFactor: moe.capacityFactor)
        let out: Shape = [try Dim(moe.experts).multiplied(by: replicas), capacity, x.dims.last!]
        var attributes = [(key: "experts", value: String(moe.experts)), ("capacity", capacity.description)]
        if replicas > 1 { attributes.append(("replicas", String(replicas))) }
        if moe.capacityFactor != Dim(1) { attributes.append(("capacity_factor", moe.capacityFactor.description)) }
        let copies = replicas > 1 ? " x \(replicas) tensor-parallel copies" : ""
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .dispatch, gpu: gpu, out: out, layer: layer, block: block,
                label:
                    "\(titlePrefix)dispatch to \(moe.experts) experts\(copies) · GPU \(gpu)\nin \(x), routing \(r)\nout \(out): \(capacity) tokens per expert",
                attributes: NodeAttributes(pairs: attributes)))
        graph.connect(tokens, node, operand: 0)
        graph.connect(routing, node, operand: 1)
        return node
    }

    /// Expert outputs summed over replicas and weighted by the gates back into token order.
    mutating func combine(
        _ key: String, gpu: Int, buffers: Int, routing: Int, moe: MixtureOfExperts, replicas: Int, place: Placement? = nil
    ) -> Int {
        let r = shape(routing)
        let out = Shape(Array(r.dims.dropLast()) + [shape(buffers).dims.last!])
        var attributes = [(key: "experts", value: String(moe.experts))]
        if replicas > 1 { attributes.append(("replicas", String(replicas))) }
        if moe.capacityFactor != Dim(1) { attributes.append(("capacity_factor", moe.capacityFactor.description)) }
        let sum = replicas > 1 ? "sum \(replicas) partial copies, " : ""
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .combine, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)combine: \(sum)gate-weighted sum · GPU \(gpu)\nin \(shape(buffers)), routing \(r)\nout \(out)",
                attributes: placed(attributes, "\(prefix)\(key)", place)))
        graph.connect(buffers, node, operand: 0)
        graph.connect(routing, node, operand: 1)
        return node
    }
}
