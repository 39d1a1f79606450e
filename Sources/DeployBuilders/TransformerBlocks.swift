import DeployModel

/// The parts every strategy is made of: attention in its partitioned forms, the dense MLP and
/// the mixture of experts. Each keeps the unpartitioned model's math exactly (docs/strategies.md).
extension DAGBuilder {
    init(deployment: Deployment) {
        var attributes = deployment.model.attributes.merging(deployment.strategy.attributes) { a, _ in a }
        attributes["phase"] = deployment.phase.description
        if deployment.helixSoftmax == .perSegment { attributes["helix_softmax"] = "per-segment" }
        if deployment.sequenceParallel { attributes["sp"] = "true" }
        if deployment.contextParallel > 1 { attributes["cp"] = String(deployment.contextParallel) }
        if deployment.rowsPerStage > 1, let ep = deployment.expertParallel { attributes["ep"] = String(ep) }
        if case .decode(let context) = deployment.phase { attributes["context"] = context.description }
        if let cluster = deployment.clusterGPUs { attributes["cluster_gpus"] = String(cluster) }
        self.init(name: deployment.name, gpus: deployment.replicaGPUs, attributes: attributes)
    }

    /// Keys or values as attention sees them: in prefill the projection itself; in decode the
    /// cached `context - 1` tokens with the new one appended along the sequence (dim 1).
    mutating func withCache(
        _ projected: Int, _ what: String, gpu: Int, phase: Phase, range: Range<Int64>? = nil, place: Placement? = nil,
        logical: String? = nil
    ) throws -> Int {
        guard case .decode(let context) = phase else { return projected }
        // The places below are whole-model ones already (read from the projection).
        let row = outer
        outer = [:]
        defer { outer = row }
        let cached = range ?? 0..<(context.intValue! - 1)
        var cacheShape = shape(projected)
        cacheShape[1] = Dim(cached.upperBound - cached.lowerBound)
        let projectedPlace = graph.nodes[projected].attributes["place"].flatMap(Placement.parse)
        // A cache holding every earlier token is sharded like the projection; a range of them
        // (a sequence-split cache) is no equal part of anything and states no place.
        let cache = kvCache(
            "\(what)_cache", title: "\(what.uppercased()) cache", gpu: gpu, shape: cacheShape, range: cached,
            place: range == nil ? projectedPlace : nil)
        return try concat(
            "\(what)_append", title: "append new \(what.uppercased())", gpu: gpu, inputs: [cache, projected], dim: 1,
            place: place ?? projectedPlace, logical: logical)
    }

    /// Megatron attention over `gpus`, whole heads per GPU: LN, Q/K/V column-parallel, scores,
    /// softmax, context, row-parallel output projection, all-reduce, residual add.
    /// `x[i]` is the layer input, replicated, on `gpus[i]`; returns the residual sums.
    mutating func headParallelAttention(model: TransformerModel, phase: Phase, gpus: [Int], x: [Int]) throws -> [Int] {
        block = "attention"
        let localHeads = model.heads / gpus.count
        let projection: Shape = [Dim(model.hidden), Dim(localHeads), Dim(model.headDim)]
        var partials: [Int] = []
        let t = gpus.count
        for (rank, gpu) in gpus.enumerated() {
            let heads = "heads \(rank * localHeads)-\((rank + 1) * localHeads - 1)"
            let mine = Placement.Part(rank, of: t)
            let headShard = Placement(shards: [2: mine])
            let ln = unary(.layernorm, "ln1", title: "LayerNorm 1", gpu: gpu, input: x[rank], place: .replicate)
            let columns = Placement(shards: [1: mine])
            let q = try matmul(
                "q", title: "Q proj (\(heads))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, weightPlace: columns,
                place: headShard)
            let k = try matmul(
                "k", title: "K proj (\(heads))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, weightPlace: columns,
                place: headShard)
            let v = try matmul(
                "v", title: "V proj (\(heads))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, weightPlace: columns,
                place: headShard)
            let keys = try withCache(k, "k", gpu: gpu, phase: phase)
            let values = try withCache(v, "v", gpu: gpu, phase: phase)
            let scores = try matmul(
                "qk", title: "Q·Kᵀ scores", gpu: gpu, eq: "bqnd,bknd->bnqk", lhs: q, rhs: keys, place: Placement(shards: [1: mine]))
            let probabilities = maskedSoftmax(
                "softmax", title: "softmax(scores / √\(model.headDim)\(model.causal ? ", causal" : ""))", gpu: gpu, input: scores,
                attributes: Self.softmaxAttributes(model, phase), place: Placement(shards: [1: mine]))
            let context = try matmul(
                "av", title: "attention × V", gpu: gpu, eq: "bnqk,bknd->bqnd", lhs: probabilities, rhs: values, place: headShard)
            partials.append(
                try matmul(
                    "o_proj", title: "output proj (row-parallel, partial sum)", gpu: gpu, eq: "bsnd,ndh->bsh", lhs: context,
                    weight: [Dim(localHeads), Dim(model.headDim), Dim(model.hidden)], weightPlace: Placement(shards: [0: mine]),
                    place: Placement(partial: mine)))
        }
        let attention = allReduce(
            "attn_allreduce", title: "output-projection partial sums", group: gpus, inputs: partials, place: .replicate)
        return gpus.enumerated().map { rank, gpu in
            add("residual1", title: "residual add 1", gpu: gpu, x[rank], attention, place: .replicate)
        }
    }

    /// Helix two-level attention over `groups x segments` GPUs (docs/helix.md): partial scores
    /// all-reduced over each head group before the softmax, row-parallel output projection.
    mutating func helixAttention(
        model: TransformerModel, phase: Phase, groups: Int, segments: Int, perSegmentSoftmax: Bool = false, x: [Int]
    ) throws -> [Int] {
        block = "attention"
        let gpus = Array(0..<(groups * segments))
        let headsPerGroup = model.heads / groups
        let segmentDim = model.headDim / segments
        let projection: Shape = [Dim(model.hidden), Dim(headsPerGroup), Dim(segmentDim)]
        var v: [Int] = []
        var scores: [Int] = []
        for gpu in gpus {
            let (group, segment) = (gpu / segments, gpu % segments)
            let part =
                "heads \(group * headsPerGroup)-\((group + 1) * headsPerGroup - 1), dims \(segment * segmentDim)-\((segment + 1) * segmentDim - 1)"
            let (g, sg) = (Placement.Part(group, of: groups), Placement.Part(segment, of: segments))
            let sliced = Placement(shards: [2: g, 3: sg])
            let columns = Placement(shards: [1: g, 2: sg])
            let ln = unary(.layernorm, "ln1", title: "LayerNorm 1", gpu: gpu, input: x[gpu], place: .replicate)
            let q = try matmul(
                "q", title: "Q proj (\(part))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, weightPlace: columns,
                place: sliced)
            let k = try matmul(
                "k", title: "K proj (\(part))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, weightPlace: columns,
                place: sliced)
            let vProjection = try matmul(
                "v", title: "V proj (\(part))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, weightPlace: columns,
                place: sliced)
            let keys = try withCache(k, "k", gpu: gpu, phase: phase)
            v.append(try withCache(vProjection, "v", gpu: gpu, phase: phase))
            scores.append(
                try matmul(
                    "qk", title: "Q·Kᵀ partial scores (\(segmentDim) of \(model.headDim) dims)", gpu: gpu,
                    eq: "bqnd,bknd->bnqk", lhs: q, rhs: keys, place: Placement(shards: [1: g], partial: sg)))
        }
        if perSegmentSoftmax {
            return try helixPerSegment(model: model, groups: groups, segments: segments, x: x, v: v, scores: scores)
        }
        var reducedScores = [Int](repeating: -1, count: gpus.count)
        for group in 0..<groups {
            let members = Array((group * segments)..<((group + 1) * segments))
            let reduced = allReduce(
                "scores_allreduce.hg\(group)", title: "sum partial scores of head group \(group)",
                group: members, inputs: members.map { scores[$0] }, place: Placement(shards: [1: .init(group, of: groups)]))
            for gpu in members { reducedScores[gpu] = reduced }
        }
        var probabilities: [Int] = []
        for gpu in gpus {
            probabilities.append(
                maskedSoftmax(
                    "softmax", title: "softmax(scores / √\(model.headDim)\(model.causal ? ", causal" : ""))", gpu: gpu,
                    input: reducedScores[gpu], attributes: Self.softmaxAttributes(model, phase),
                    place: Placement(shards: [1: .init(gpu / segments, of: groups)], copies: segments)))
        }
        return try helixContext(model: model, groups: groups, segments: segments, x: x, v: v, probabilities: probabilities)
    }

    /// Probabilities times each GPU's V segment, the row-parallel output projection, its
    /// all-reduce and the residual add.
    mutating func helixContext(model: TransformerModel, groups: Int, segments: Int, x: [Int], v: [Int], probabilities: [Int]) throws
        -> [Int]
    {
        let gpus = Array(0..<(groups * segments))
        let headsPerGroup = model.heads / groups
        let segmentDim = model.headDim / segments
        var partials: [Int] = []
        for gpu in gpus {
            let (g, sg) = (Placement.Part(gpu / segments, of: groups), Placement.Part(gpu % segments, of: segments))
            let context = try matmul(
                "av", title: "attention × V segment", gpu: gpu, eq: "bnqk,bknd->bqnd", lhs: probabilities[gpu], rhs: v[gpu],
                place: Placement(shards: [2: g, 3: sg]))
            partials.append(
                try matmul(
                    "o_proj", title: "output proj (row-parallel, partial sum)", gpu: gpu, eq: "bsnd,ndh->bsh", lhs: context,
                    weight: [Dim(headsPerGroup), Dim(segmentDim), Dim(model.hidden)], weightPlace: Placement(shards: [0: g, 1: sg]),
                    place: Placement(partial: .init(gpu, of: gpus.count))))
        }
        let attention = allReduce(
            "attn_allreduce", title: "output-projection partial sums", group: gpus, inputs: partials, place: .replicate)
        return gpus.map { add("residual1", title: "residual add 1", gpu: $0, x[$0], attention, place: .replicate) }
    }

    /// The seeds' per-segment Helix: each GPU takes the softmax of its own partial scores, scaled
    /// by 1/sqrt(head_dim / segments), with no reduction. This computes multi-head attention with
    /// heads x segments heads of head_dim / segments dimensions: a different model.
    mutating func helixPerSegment(model: TransformerModel, groups: Int, segments: Int, x: [Int], v: [Int], scores: [Int]) throws -> [Int] {
        let segmentDim = model.headDim / segments
        var probabilities: [Int] = []
        for (gpu, partial) in scores.enumerated() {
            probabilities.append(
                unary(
                    .softmax, "softmax", title: "softmax(partial scores / √\(segmentDim)): per-segment, NOT the model's attention",
                    gpu: gpu,
                    input: partial, attributes: ["scale": Self.scale(segmentDim)],
                    place: Placement(shards: [1: .init(gpu / segments, of: groups)], partial: .init(gpu % segments, of: segments))))
        }
        return try helixContext(model: model, groups: groups, segments: segments, x: x, v: v, probabilities: probabilities)
    }

    /// Pre-norm MLP with residual over `gpus` (Megatron): LN, FC1 column-parallel `[T,h] x [h,f/p]`,
    /// GELU, FC2 row-parallel `[T,f/p] x [f/p,h]` giving a partial sum, all-reduce, residual add.
    mutating func denseMLP(model: TransformerModel, gpus: [Int], x: [Int]) throws -> [Int] {
        block = "mlp"
        let slice = model.ffn / gpus.count
        var partials: [Int] = []
        for (i, gpu) in gpus.enumerated() {
            let mine = Placement.Part(i, of: gpus.count)
            let ln = unary(.layernorm, "ln2", title: "LayerNorm 2", gpu: gpu, input: x[i], place: .replicate)
            let fc1 = try matmul(
                "fc1", title: "FC1 (column-parallel, \(slice) of \(model.ffn))", gpu: gpu, eq: "bsh,hf->bsf", lhs: ln,
                weight: [Dim(model.hidden), Dim(slice)], weightPlace: Placement(shards: [1: mine]), place: Placement(shards: [2: mine]))
            let act = unary(.gelu, "gelu", title: "GELU", gpu: gpu, input: fc1, place: Placement(shards: [2: mine]))
            partials.append(
                try matmul(
                    "fc2", title: "FC2 (row-parallel, partial sum)", gpu: gpu, eq: "bsf,fh->bsh", lhs: act,
                    weight: [Dim(slice), Dim(model.hidden)], weightPlace: Placement(shards: [0: mine]), place: Placement(partial: mine)))
        }
        let reduced = allReduce("mlp_allreduce", title: "FC2 partial sums", group: gpus, inputs: partials, place: .replicate)
        return gpus.enumerated().map { i, gpu in add("residual2", title: "residual add 2", gpu: gpu, x[i], reduced, place: .replicate) }
    }

    /// One expert's MLP (or its tensor-parallel slice) on `gpu`: FC1, GELU, FC2 on `[1, C, h]`.
    /// Expert `id`'s weights are the logical `L<layer>.w.expert<id>.fc1` and `.fc2`; slice
    /// `slice` of `slices` takes a column block of FC1 and the matching row block of FC2.
    mutating func expert(
        _ name: String, title: String, id: Int, moe: MixtureOfExperts, hidden: Int, slice: Int = 0, slices: Int, gpu: Int, tokens: Int,
        mlp: MLPKind = .plain, activation: Activation = .gelu
    ) throws -> Int {
        let width = moe.expertFFN / slices
        let sliced = slices > 1 ? " (\(width) of \(moe.expertFFN), partial sum)" : ""
        let part = Placement.Part(slice, of: slices)
        if mlp == .gated {
            let columns = slices > 1 ? Placement(shards: [1: part]) : .replicate
            let gate = try matmul(
                "\(name).gate", title: "\(title) gate proj\(slices > 1 ? " (column-parallel)" : "")", gpu: gpu, eq: "ech,hf->ecf",
                lhs: tokens, weight: [Dim(hidden), Dim(width)], weightName: "\(prefix)w.expert\(id).gate", weightPlace: columns)
            let up = try matmul(
                "\(name).up", title: "\(title) up proj\(slices > 1 ? " (column-parallel)" : "")", gpu: gpu, eq: "ech,hf->ecf",
                lhs: tokens, weight: [Dim(hidden), Dim(width)], weightName: "\(prefix)w.expert\(id).up", weightPlace: columns)
            let act = unary(activation.op, "\(name).act", title: "\(title) \(activation.title)", gpu: gpu, input: gate)
            let gated = mul("\(name).gated", title: "\(title) \(activation.title)(gate) ⊙ up", gpu: gpu, act, up)
            return try matmul(
                "\(name).down", title: "\(title) down proj\(sliced)", gpu: gpu, eq: "ecf,fh->ech", lhs: gated,
                weight: [Dim(width), Dim(hidden)], weightName: "\(prefix)w.expert\(id).down",
                weightPlace: slices > 1 ? Placement(shards: [0: part]) : .replicate)
        }
        let fc1 = try matmul(
            "\(name).fc1", title: "\(title) FC1\(slices > 1 ? " (column-parallel)" : "")", gpu: gpu, eq: "ech,hf->ecf",
            lhs: tokens, weight: [Dim(hidden), Dim(width)], weightName: "\(prefix)w.expert\(id).fc1",
            weightPlace: slices > 1 ? Placement(shards: [1: part]) : .replicate)
        let act =
            activation == .gelu
            ? unary(.gelu, "\(name).gelu", title: "\(title) GELU", gpu: gpu, input: fc1)
            : unary(activation.op, "\(name).act", title: "\(title) \(activation.title)", gpu: gpu, input: fc1)
        return try matmul(
            "\(name).fc2", title: "\(title) FC2\(sliced)", gpu: gpu, eq: "ecf,fh->ech", lhs: act, weight: [Dim(width), Dim(hidden)],
            weightName: "\(prefix)w.expert\(id).fc2", weightPlace: slices > 1 ? Placement(shards: [0: part]) : .replicate)
    }

    /// Mixture of experts over `gpus` by expert parallelism. Each GPU takes 1/p of the tokens
    /// (along `tokenDim`), routes them (router matmul, top-k) and dispatches them into per-expert
    /// buffers; an all-to-all brings each expert its tokens; the experts run; an all-to-all brings
    /// the results back; combine weights them by the gates; an all-gather restores the replicated
    /// activations for the residual add. With fewer experts than GPUs, each expert is tensor
    /// parallel over p/E GPUs: dispatch makes one copy of its buffer per slice, each slice returns
    /// a partial sum, and combine adds the slices (exact, as combine is linear).
    mutating func expertParallelMoE(
        model: TransformerModel, moe: MixtureOfExperts, gpus: [Int], tokenDim: Int, x: [Int], attentionGroups: Int = 1
    ) throws -> [Int] {
        block = "moe"
        let p = gpus.count
        // With attention data-parallel groups, GPU i is rank i % g of group i / g (g GPUs each),
        // and its tokens are its share of its group's batch share.
        let g = p / attentionGroups
        // Without groups the caller's row (a context-parallel shard) holds throughout.
        let caller = (outer, rowTag)
        func enter(_ i: Int) { if attentionGroups > 1 { setRow(i / g, of: attentionGroups, dim: 0, tag: ".adp\(i / g)") } }
        func leave() { (outer, rowTag) = caller }
        // A group of one GPU holds its tokens whole (a lone tensor-parallel GPU keeps the split
        // into one part it has always been built with).
        let whole = g == 1 && attentionGroups > 1
        // One GPU holding every expert: the all-to-alls and the gather would be collectives of
        // one GPU, which move nothing; its tokens go straight to its experts and back.
        let alone = p == 1
        func own(_ i: Int) -> Placement { whole || p == 1 ? .replicate : Placement(shards: [tokenDim: .init(i % g, of: g)]) }
        let replicas = moe.experts >= p ? 1 : p / moe.experts
        let slots = moe.experts * replicas / p
        var routing: [Int] = []
        var buffers: [Int] = []
        var slices: [Int] = []
        for (rank, gpu) in gpus.enumerated() {
            enter(rank)
            let tokens = own(rank)
            let ln = norm(model, "ln2", title: "2", gpu: gpu, input: x[rank], place: .replicate)
            let mine =
                whole || alone
                ? ln
                : try split(
                    "tokens", title: "this GPU's 1/\(g) of the tokens", gpu: gpu, input: ln, dim: tokenDim, parts: g, index: rank % g,
                    place: tokens)
            let logits = try matmul(
                "router", title: "router", gpu: gpu, eq: "bsh,he->bse", lhs: mine, weight: [Dim(model.hidden), Dim(moe.experts)],
                place: tokens)
            let chosen = topK("topk", gpu: gpu, logits: logits, k: moe.topK, place: tokens)
            routing.append(chosen)
            slices.append(mine)
            buffers.append(try dispatch("dispatch", gpu: gpu, tokens: mine, routing: chosen, moe: moe, replicas: replicas))
        }
        leave()
        let sent =
            alone
            ? buffers[0]
            : try allToAll("dispatch_all_to_all", title: "tokens to their experts", group: gpus, inputs: buffers, splitDim: 0, concatDim: 1)
        var results: [Int] = []
        for (rank, gpu) in gpus.enumerated() {
            var outputs: [Int] = []
            for slot in 0..<slots {
                let global = rank * slots + slot
                let e = global / replicas
                let name = replicas > 1 ? "expert\(e).slice\(global % replicas)" : "expert\(e)"
                let title = replicas > 1 ? "expert \(e) slice \(global % replicas + 1)/\(replicas)" : "expert \(e)"
                let tokens =
                    slots > 1
                    ? try split("\(name).tokens", title: "\(title) tokens", gpu: gpu, input: sent, dim: 0, parts: slots, index: slot)
                    : sent
                outputs.append(
                    try expert(
                        name, title: title, id: e, moe: moe, hidden: model.hidden, slice: global % replicas, slices: replicas, gpu: gpu,
                        tokens: tokens, mlp: model.mlp, activation: model.activation))
            }
            results.append(
                slots > 1 ? try concat("experts_out", title: "local experts' outputs", gpu: gpu, inputs: outputs, dim: 0) : outputs[0])
        }
        let returned =
            alone
            ? results[0]
            : try allToAll(
                "combine_all_to_all", title: "expert outputs back to their tokens", group: gpus, inputs: results, splitDim: 1, concatDim: 0)
        var combined: [Int] = []
        for (rank, gpu) in gpus.enumerated() {
            enter(rank)
            let tokens = own(rank)
            var out = combine(
                "combine", gpu: gpu, buffers: returned, routing: routing[rank], moe: moe, replicas: replicas, place: tokens)
            if let width = moe.sharedExpertFFN {
                // The shared expert sees every token: each GPU runs it, whole, on its own slice.
                let shared = try sharedExpert(model: model, width: width, gpu: gpu, input: slices[rank], place: tokens)
                out = add("moe_sum", title: "routed + shared experts", gpu: gpu, out, shared, place: tokens)
            }
            combined.append(out)
        }
        var result: [Int] = []
        for group in 0..<attentionGroups {
            let members = Array(gpus[(group * g)..<((group + 1) * g)])
            enter(group * g)
            let mine = Array(combined[(group * g)..<((group + 1) * g)])
            let gathered =
                whole || alone
                ? mine[0]
                : try allGather(
                    "moe_all_gather", title: "every GPU's tokens", group: members, inputs: mine, dim: tokenDim, place: .replicate)
            for (i, gpu) in members.enumerated() {
                result.append(add("residual2", title: "residual add 2", gpu: gpu, x[group * g + i], gathered, place: .replicate))
            }
        }
        leave()
        return result
    }

    /// The shared expert (DeepSeek-MoE style, un-gated): a dense MLP of inner width `width`
    /// with its weights `L<layer>.w.shared.*` whole on `gpu`, on that GPU's tokens.
    mutating func sharedExpert(model: TransformerModel, width: Int, gpu: Int, input: Int, place: Placement) throws -> Int {
        let h = model.hidden
        if model.mlp == .gated {
            let gate = try matmul(
                "shared.gate", title: "shared expert gate proj", gpu: gpu, eq: "bsh,hf->bsf", lhs: input, weight: [Dim(h), Dim(width)],
                place: place)
            let up = try matmul(
                "shared.up", title: "shared expert up proj", gpu: gpu, eq: "bsh,hf->bsf", lhs: input, weight: [Dim(h), Dim(width)],
                place: place)
            let act = unary(
                model.activation.op, "shared.act", title: "shared expert \(model.activation.title)", gpu: gpu, input: gate, place: place)
            let gated = mul("shared.gated", title: "shared expert \(model.activation.title)(gate) ⊙ up", gpu: gpu, act, up, place: place)
            return try matmul(
                "shared.down", title: "shared expert down proj", gpu: gpu, eq: "bsf,fh->bsh", lhs: gated, weight: [Dim(width), Dim(h)],
                place: place)
        }
        let fc1 = try matmul(
            "shared.fc1", title: "shared expert FC1", gpu: gpu, eq: "bsh,hf->bsf", lhs: input, weight: [Dim(h), Dim(width)], place: place)
        let act = unary(
            model.activation.op, "shared.act", title: "shared expert \(model.activation.title)", gpu: gpu, input: fc1, place: place)
        return try matmul(
            "shared.fc2", title: "shared expert FC2", gpu: gpu, eq: "bsf,fh->bsh", lhs: act, weight: [Dim(width), Dim(h)], place: place)
    }

    /// The MLP of one layer on `gpus`: dense Megatron or expert parallel.
    mutating func feedForward(model: TransformerModel, phase: Phase, gpus: [Int], x: [Int]) throws -> [Int] {
        if let moe = model.moe {
            return try expertParallelMoE(model: model, moe: moe, gpus: gpus, tokenDim: Self.tokenDim(phase), x: x)
        }
        return try denseMLP(model: model, gpus: gpus, x: x)
    }

    /// Which dimension of `[batch, seq, hidden]` tokens are split along: the sequence in prefill,
    /// the batch in decode (one token per sequence).
    static func tokenDim(_ phase: Phase) -> Int {
        if case .decode = phase { return 0 }
        return 1
    }

    static func scale(_ headDim: Int) -> String { String(1.0 / Double(headDim).squareRoot()) }

    /// A softmax's `scale` and, for a causal model, its mask: `causal`, the window, and where
    /// the first query sits among the keys (`rowOffset` queries into the prompt, or after the
    /// cache in decode).
    static func softmaxAttributes(_ model: TransformerModel, _ phase: Phase, rowOffset: Dim = Dim(0)) -> [(key: String, value: String)] {
        var attributes: [(key: String, value: String)] = [("scale", scale(model.headDim))]
        guard model.causal else { return attributes }
        attributes.append(("causal", "true"))
        if let window = model.slidingWindow { attributes.append(("window", String(window))) }
        let offset = (try? queryOffset(phase) + rowOffset) ?? rowOffset
        if offset != Dim(0) { attributes.append(("q_offset", offset.description)) }
        return attributes
    }

    /// The activations `[batch, query tokens, hidden]` entering the first layer.
    static func activation(_ model: TransformerModel, _ phase: Phase) -> Shape {
        if case .decode = phase { return [model.batch, Dim(1), Dim(model.hidden)] }
        return [model.batch, model.seq, Dim(model.hidden)]
    }
}
