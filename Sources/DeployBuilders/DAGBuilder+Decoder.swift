import DeployModel

/// The operators of today's decoder LLMs: rotary embedding, the gate product, fused attention,
/// the token embedding and the slice before the LM head.
extension DAGBuilder {
    /// A norm of `input` (`ln1`, `ln2`, `final_norm`), carrying its weight `[hidden]` when the
    /// model is whole (it has a vocabulary), so the graph holds every parameter.
    mutating func norm(_ model: TransformerModel, _ key: String, title: String, gpu: Int, input: Int, place: Placement? = nil) -> Int {
        var attributes: [(key: String, value: String)] = []
        if model.vocab != nil {
            attributes = [
                ("weight", Shape([Dim(model.hidden)]).description), ("weight_logical", "\(prefix)w.\(key)"), ("weight_place", "R"),
            ]
            if model.normBias { attributes.append(("bias", "true")) }
        }
        let out = shape(input)
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: model.norm.op, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(model.norm.title) \(title) · GPU \(gpu)\nin \(out)\nout \(out)",
                attributes: placed(attributes, "\(prefix)\(key)", place)))
        graph.connect(input, node)
        return node
    }

    /// Rotary position embedding of `input` `[batch, tokens, heads, head_dim]`, the first token
    /// at position `offset`.
    mutating func rope(
        _ key: String, title: String, gpu: Int, input: Int, rope: RotaryEmbedding, offset: Dim, place: Placement? = nil
    ) -> Int {
        var attributes = [(key: "theta", value: TransformerModel.number(rope.theta)), ("offset", offset.description)]
        if let dims = rope.rotaryDim { attributes.append(("rotary_dim", String(dims))) }
        if rope.interleaved { attributes.append(("interleaved", "true")) }
        let out = shape(input)
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .rope, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\nin \(out), positions from \(offset)\nout \(out)",
                attributes: placed(attributes, "\(prefix)\(key)", place)))
        graph.connect(input, node)
        return node
    }

    /// The elementwise product `a * b` (the gated MLP's act(gate) * up).
    mutating func mul(_ key: String, title: String, gpu: Int, _ a: Int, _ b: Int, place: Placement? = nil) -> Int {
        let out = shape(a)
        precondition(out == shape(b), "mul of unequal shapes \(out) and \(shape(b))")
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .mul, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\nin \(out) ⊙ \(out)\nout \(out)",
                attributes: placed([], "\(prefix)\(key)", place)))
        graph.connect(a, node, operand: 0)
        graph.connect(b, node, operand: 1)
        return node
    }

    /// Fused attention (FlashAttention): `q` `[b, q, heads, d]`, `k` and `v` `[b, kv, kv_heads, d]`
    /// in, `[b, q, heads, d]` out; the score matrix is never written. Query `i` sits at position
    /// `queryOffset + i` among the keys.
    mutating func fusedAttention(
        _ key: String, title: String, gpu: Int, q: Int, k: Int, v: Int, scale: String, causal: Bool, window: Int?,
        queryOffset: Dim, place: Placement? = nil
    ) -> Int {
        let out = shape(q)
        var attributes = [(key: "scale", value: scale), ("causal", causal ? "true" : "false")]
        if let window { attributes.append(("window", String(window))) }
        if queryOffset != Dim(0) { attributes.append(("q_offset", queryOffset.description)) }
        let mask = causal ? (window.map { ", causal, window \($0)" } ?? ", causal") : ""
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .attention, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title)\(mask) · GPU \(gpu)\nQ \(out), K/V \(shape(k))\nout \(out)",
                attributes: placed(attributes, "\(prefix)\(key)", place)))
        graph.connect(q, node, operand: 0)
        graph.connect(k, node, operand: 1)
        graph.connect(v, node, operand: 2)
        return node
    }

    /// The token ids `[batch, tokens]` entering the model on `gpu`.
    mutating func tokenInput(gpu: Int, shape: Shape) -> Int {
        graph.add(
            OperatorNode(
                name: "tokens.gpu\(gpu)", op: .input, gpu: gpu, out: shape, label: "token ids · GPU \(gpu)\nout \(shape)",
                attributes: placed([("data", "tokens")], "tokens", .replicate)))
    }

    /// The embedding lookup of token ids in rows `slice` of the vocabulary `[vocab, hidden]`:
    /// ids outside this GPU's rows give zeros, so a vocabulary split over GPUs gives partial sums.
    mutating func embedding(
        _ key: String, title: String, gpu: Int, tokens: Int, rows: Int, hidden: Int, weightName: String, slice: Placement,
        place: Placement
    ) -> Int {
        let out = Shape(shape(tokens).dims + [Dim(hidden)])
        let weight: Shape = [Dim(rows), Dim(hidden)]
        let attributes = [
            (key: "weight", value: weight.description), ("weight_logical", weightName), ("weight_place", slice.description),
        ]
        let node = graph.add(
            OperatorNode(
                name: "\(key).gpu\(gpu)", op: .embedding, gpu: gpu, out: out, block: block,
                label: "\(title) · GPU \(gpu)\nin \(shape(tokens)) x W\(weight)\nout \(out)",
                attributes: placed(attributes, key, place)))
        graph.connect(tokens, node)
        return node
    }

    /// `length` entries of `input` along `dim` from `start` (negative: from the end).
    mutating func narrow(_ key: String, title: String, gpu: Int, input: Int, dim: Int, start: Int, length: Int, place: Placement? = nil)
        -> Int
    {
        var out = shape(input)
        out[dim] = Dim(Int64(length))
        let node = graph.add(
            OperatorNode(
                name: "\(prefix)\(key).gpu\(gpu)", op: .narrow, gpu: gpu, out: out, layer: layer, block: block,
                label: "\(titlePrefix)\(title) · GPU \(gpu)\nin \(shape(input))\nout \(out)",
                attributes: placed([("dim", String(dim)), ("start", String(start)), ("length", String(length))], "\(prefix)\(key)", place)))
        graph.connect(input, node)
        return node
    }
}
