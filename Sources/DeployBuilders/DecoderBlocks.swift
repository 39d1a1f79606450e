import DeployModel

/// The blocks of today's decoder LLMs under Megatron tensor parallelism over a group of GPUs:
/// grouped-query attention with rotary embeddings and a causal mask (fused or materialized),
/// the gated MLP, RMSNorm, the parallel-residual layer, and the ends of the model (the token
/// embedding, the final norm, the LM head). Each keeps the unpartitioned model's math
/// (docs/strategies.md).
extension DAGBuilder {
    /// Part `index` of `parts` along `dim`; the whole tensor when there is one part.
    static func shard(_ dim: Int, _ index: Int, of parts: Int, copies: Int = 1) -> Placement {
        parts == 1 ? .replicate : Placement(shards: [dim: .init(index, of: parts)], copies: copies > 1 ? copies : nil)
    }

    /// Term `index` of a partial sum over `parts`; the whole tensor when there is one part.
    static func partial(_ index: Int, of parts: Int) -> Placement {
        parts == 1 ? .replicate : Placement(partial: .init(index, of: parts))
    }

    /// How `t` tensor-parallel ranks share the K/V heads: `parts` distinct shares, `local` heads
    /// each; ranks `r * parts / t` hold share... (rank `r` holds share `r / (t / parts)`).
    static func kvSharing(_ model: TransformerModel, tp t: Int) -> (parts: Int, local: Int) {
        let parts = min(t, model.kvHeads)
        return (parts, model.kvHeads / parts)
    }

    /// Where a decode step's query sits among the keys (the cached tokens before it); 0 in prefill.
    static func queryOffset(_ phase: Phase) -> Dim {
        if case .decode(let context) = phase { return context.intValue.map { Dim($0 - 1) } ?? Dim(0) }
        return Dim(0)
    }

    /// One decoder layer on the tensor-parallel group `gpus` (`x[i]` replicated on `gpus[i]`;
    /// with `sequenceParallel`, `x[i]` is sequence shard `i`).
    mutating func decoderLayer(model: TransformerModel, phase: Phase, gpus: [Int], x: [Int], sequenceParallel: Bool = false) throws
        -> [Int]
    {
        if sequenceParallel && gpus.count > 1 { return try sequenceParallelLayer(model: model, phase: phase, gpus: gpus, x: x) }
        block = "attention"
        let normed = gpus.enumerated().map { i, gpu in norm(model, "ln1", title: "1", gpu: gpu, input: x[i], place: .replicate) }
        let terms = try attentionTerms(model: model, phase: phase, gpus: gpus, normed: normed)
        return try finishLayer(model: model, phase: phase, gpus: gpus, x: x, normed: normed, attention: terms)
    }

    /// The rest of a layer once attention has given its partial terms: the all-reduce and
    /// residual, then the MLP or the experts (or, for a parallel-residual layer, the MLP on the
    /// same normed input and one all-reduce of both).
    mutating func finishLayer(model: TransformerModel, phase: Phase, gpus: [Int], x: [Int], normed: [Int], attention terms: [Int]) throws
        -> [Int]
    {
        let t = gpus.count
        if model.parallelResidual {
            block = "mlp"
            let mlpInput =
                model.parallelNorms
                ? gpus.enumerated().map { i, gpu in norm(model, "ln2", title: "2 (MLP's own)", gpu: gpu, input: x[i], place: .replicate) }
                : normed
            let mlp = try mlpTerms(model: model, gpus: gpus, normed: mlpInput)
            let sums = gpus.enumerated().map { i, gpu in
                add("parallel_sum", title: "attention + MLP", gpu: gpu, terms[i], mlp[i], place: Self.partial(i, of: t))
            }
            let reduced = reduce("layer_allreduce", title: "attention and MLP partial sums", gpus: gpus, sums)
            return gpus.enumerated().map { i, gpu in
                add("residual", title: "residual add", gpu: gpu, x[i], reduced[i], place: .replicate)
            }
        }
        let attended = finishAttention(gpus: gpus, x: x, terms: terms)
        if let moe = model.moe {
            return try expertParallelMoE(model: model, moe: moe, gpus: gpus, tokenDim: Self.tokenDim(phase), x: attended)
        }
        return try denseHalf(model: model, gpus: gpus, x: attended)
    }

    /// Attention's partial terms all-reduced and added to the residual stream `x`.
    mutating func finishAttention(gpus: [Int], x: [Int], terms: [Int]) -> [Int] {
        let attention = reduce("attn_allreduce", title: "output-projection partial sums", gpus: gpus, terms)
        return gpus.enumerated().map { i, gpu in
            add("residual1", title: "residual add 1", gpu: gpu, x[i], attention[i], place: .replicate)
        }
    }

    /// The dense MLP half of a layer: norm, column- and row-parallel MLP, all-reduce, residual.
    mutating func denseHalf(model: TransformerModel, gpus: [Int], x attended: [Int]) throws -> [Int] {
        block = "mlp"
        let normed2 = gpus.enumerated().map { i, gpu in
            norm(model, "ln2", title: "2", gpu: gpu, input: attended[i], place: .replicate)
        }
        let mlp = reduce(
            "mlp_allreduce", title: "down-projection partial sums", gpus: gpus, try mlpTerms(model: model, gpus: gpus, normed: normed2))
        return gpus.enumerated().map { i, gpu in add("residual2", title: "residual add 2", gpu: gpu, attended[i], mlp[i], place: .replicate)
        }
    }

    /// Megatron sequence parallelism: the layer's norms and residual adds run on sequence shards
    /// (dim 1, part `i` on `gpus[i]`); an all-gather makes the normed input whole before the
    /// column-parallel projections, and a reduce-scatter sums the row-parallel partial terms
    /// into sequence shards again, in place of each all-reduce.
    mutating func sequenceParallelLayer(model: TransformerModel, phase: Phase, gpus: [Int], x: [Int]) throws -> [Int] {
        let t = gpus.count
        let shards = gpus.indices.map { Self.shard(1, $0, of: t) }
        func gathered(_ key: String, _ parts: [Int]) throws -> [Int] {
            let node = try allGather(key, title: "the sequence, whole", group: gpus, inputs: parts, dim: 1, place: .replicate)
            return gpus.map { _ in node }
        }
        func scattered(_ key: String, _ title: String, _ terms: [Int]) throws -> Int {
            try reduceScatter(key, title: title, group: gpus, inputs: terms, dim: 1)
        }
        block = "attention"
        let normed = gpus.enumerated().map { i, gpu in
            norm(model, "ln1", title: "1 (sequence shard)", gpu: gpu, input: x[i], place: shards[i])
        }
        let whole = try gathered("ln1_all_gather", normed)
        if model.parallelResidual {
            let attention = try attentionTerms(model: model, phase: phase, gpus: gpus, normed: whole)
            block = "mlp"
            var mlpInput = whole
            if model.parallelNorms {
                let own = gpus.enumerated().map { i, gpu in
                    norm(model, "ln2", title: "2 (sequence shard)", gpu: gpu, input: x[i], place: shards[i])
                }
                mlpInput = try gathered("ln2_all_gather", own)
            }
            let mlp = try mlpTerms(model: model, gpus: gpus, normed: mlpInput)
            let sums = gpus.enumerated().map { i, gpu in
                add("parallel_sum", title: "attention + MLP", gpu: gpu, attention[i], mlp[i], place: Self.partial(i, of: t))
            }
            let reduced = try scattered("layer_reduce_scatter", "attention and MLP partial sums", sums)
            return gpus.enumerated().map { i, gpu in add("residual", title: "residual add", gpu: gpu, x[i], reduced, place: shards[i]) }
        }
        let attention = try scattered(
            "attn_reduce_scatter", "output-projection partial sums",
            try attentionTerms(model: model, phase: phase, gpus: gpus, normed: whole))
        let attended = gpus.enumerated().map { i, gpu in
            add("residual1", title: "residual add 1", gpu: gpu, x[i], attention, place: shards[i])
        }
        block = "mlp"
        let normed2 = gpus.enumerated().map { i, gpu in
            norm(model, "ln2", title: "2 (sequence shard)", gpu: gpu, input: attended[i], place: shards[i])
        }
        let mlp = try scattered(
            "mlp_reduce_scatter", "down-projection partial sums",
            try mlpTerms(model: model, gpus: gpus, normed: try gathered("ln2_all_gather", normed2)))
        return gpus.enumerated().map { i, gpu in add("residual2", title: "residual add 2", gpu: gpu, attended[i], mlp, place: shards[i]) }
    }

    /// The all-reduce of one partial term per GPU; with one GPU the term is already whole.
    mutating func reduce(_ key: String, title: String, gpus: [Int], _ terms: [Int]) -> [Int] {
        guard gpus.count > 1 else { return terms }
        let node = allReduce(key, title: title, group: gpus, inputs: terms, place: .replicate)
        return gpus.map { _ in node }
    }

    /// Attention on the normed input, whole query heads per GPU, up to the row-parallel output
    /// projection: one partial term of the attention output per GPU.
    mutating func attentionTerms(model: TransformerModel, phase: Phase, gpus: [Int], normed: [Int]) throws -> [Int] {
        let offset = Self.queryOffset(phase)
        var terms: [Int] = []
        for (rank, gpu) in gpus.enumerated() {
            let (query, k, v) = try projectQKV(model: model, rank: rank, of: gpus.count, gpu: gpu, input: normed[rank], offset: offset)
            guard let q = query else { preconditionFailure("projectQKV gives queries unless asked for keys only") }
            let keys = try withCache(k, "k", gpu: gpu, phase: phase)
            let values = try withCache(v, "v", gpu: gpu, phase: phase)
            terms.append(
                try attend(model: model, rank: rank, of: gpus.count, gpu: gpu, q: q, keys: keys, values: values, offset: offset))
        }
        return terms
    }

    /// The heads a tensor rank holds, for titles and places.
    private struct RankHeads {
        var qLocal: Int
        var kvLocal: Int
        var kvShare: Int
        var qTitle: String
        var kvTitle: String
        var qPlace: Placement
        var kvPlace: Placement
        var kvWeightPlace: Placement

        init(_ model: TransformerModel, rank: Int, of t: Int) {
            qLocal = model.heads / t
            let (kvParts, local) = DAGBuilder.kvSharing(model, tp: t)
            kvLocal = local
            kvShare = rank / (t / kvParts)
            qTitle = t == 1 ? "all \(model.heads) heads" : "heads \(rank * qLocal)-\((rank + 1) * qLocal - 1)"
            kvTitle = kvParts == 1 ? "all \(model.kvHeads) K/V heads" : "K/V heads \(kvShare * kvLocal)-\((kvShare + 1) * kvLocal - 1)"
            qPlace = DAGBuilder.shard(2, rank, of: t)
            kvPlace = DAGBuilder.shard(2, kvShare, of: kvParts, copies: t / kvParts)
            kvWeightPlace = DAGBuilder.shard(1, kvShare, of: kvParts)
        }
    }

    /// Q, K and V of tensor rank `rank` of `t` (whole heads), rotated from position `offset`;
    /// the queries from `query` (a whole last token: its own input and position, no row part)
    /// when given, none when `keysOnly`.
    mutating func projectQKV(
        model: TransformerModel, rank: Int, of t: Int, gpu: Int, input: Int, offset: Dim, query: (input: Int, offset: Dim)? = nil,
        keysOnly: Bool = false
    ) throws -> (q: Int?, k: Int, v: Int) {
        let (h, d) = (model.hidden, model.headDim)
        let heads = RankHeads(model, rank: rank, of: t)
        let row = outer
        var q: Int?
        if !keysOnly {
            if query != nil { outer = [:] }
            q = try matmul(
                "q", title: "Q proj (\(heads.qTitle))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: query?.input ?? input,
                weight: [Dim(h), Dim(heads.qLocal), Dim(d)], weightPlace: Self.shard(1, rank, of: t), place: heads.qPlace,
                bias: model.qkvBias)
            outer = row
        }
        var k = try matmul(
            "k", title: "K proj (\(heads.kvTitle))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: input,
            weight: [Dim(h), Dim(heads.kvLocal), Dim(d)], weightPlace: heads.kvWeightPlace, place: heads.kvPlace, bias: model.qkvBias)
        let v = try matmul(
            "v", title: "V proj (\(heads.kvTitle))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: input,
            weight: [Dim(h), Dim(heads.kvLocal), Dim(d)], weightPlace: heads.kvWeightPlace, place: heads.kvPlace, bias: model.qkvBias)
        if let rotary = model.rope {
            if let projected = q {
                if query != nil { outer = [:] }
                q = rope(
                    "q_rope", title: "RoPE on Q", gpu: gpu, input: projected, rope: rotary, offset: query?.offset ?? offset,
                    place: heads.qPlace)
                outer = row
            }
            k = rope("k_rope", title: "RoPE on K", gpu: gpu, input: k, rope: rotary, offset: offset, place: heads.kvPlace)
        }
        return (q, k, v)
    }

    /// Attention of rank `rank`'s queries (the first at position `offset`) over `keys` and
    /// `values`, then its row of the output projection: one partial term.
    mutating func attend(
        model: TransformerModel, rank: Int, of t: Int, gpu: Int, q: Int, keys: Int, values: Int, offset: Dim
    ) throws -> Int {
        let heads = RankHeads(model, rank: rank, of: t)
        let (h, d) = (model.hidden, model.headDim)
        let context: Int
        let scale = Self.scale(d)
        switch model.attention {
        case .fused:
            context = fusedAttention(
                "attention", title: "attention (fused, \(model.heads / model.kvHeads) queries per K/V head)", gpu: gpu, q: q,
                k: keys, v: values, scale: scale, causal: model.causal, window: model.slidingWindow, queryOffset: offset,
                place: heads.qPlace)
        case .materialized:
            // The scores [b, n, q, k] hold a row's queries along dim 2, not 1.
            let row = outer
            if let queries = row[1] {
                outer[1] = nil
                outer[2] = queries
            }
            let scoresPlace = Self.shard(1, rank, of: t)
            let scores = try matmul(
                "qk", title: "Q·Kᵀ scores", gpu: gpu, eq: "bqnd,bknd->bnqk", lhs: q, rhs: keys, place: scoresPlace)
            var mask: [(key: String, value: String)] = [("scale", scale)]
            if model.causal { mask.append(("causal", "true")) }
            if let window = model.slidingWindow { mask.append(("window", String(window))) }
            if offset != Dim(0) { mask.append(("q_offset", offset.description)) }
            let probabilities = maskedSoftmax(
                "softmax", title: "softmax(scores / √\(d)\(model.causal ? ", causal" : ""))", gpu: gpu, input: scores,
                attributes: mask, place: scoresPlace)
            outer = row
            context = try matmul(
                "av", title: "attention × V", gpu: gpu, eq: "bnqk,bknd->bqnd", lhs: probabilities, rhs: values, place: heads.qPlace)
        }
        return try matmul(
            "o_proj", title: t > 1 ? "output proj (row-parallel, partial sum)" : "output proj", gpu: gpu, eq: "bsnd,ndh->bsh",
            lhs: context, weight: [Dim(heads.qLocal), Dim(d), Dim(h)], weightPlace: Self.shard(0, rank, of: t),
            place: Self.partial(rank, of: t), bias: model.outputBias && rank == 0)
    }

    /// A softmax with its mask attributes (`scale`, `causal`, `window`, `q_offset`).
    mutating func maskedSoftmax(
        _ key: String, title: String, gpu: Int, input: Int, attributes: [(key: String, value: String)], place: Placement?
    ) -> Int {
        unary(.softmax, key, title: title, gpu: gpu, input: input, pairs: attributes, place: place)
    }

    /// The MLP on the normed input, column- then row-parallel: one partial term per GPU.
    /// Gated (SwiGLU, GeGLU): act(gate) * up, then down; plain: FC1, act, FC2.
    mutating func mlpTerms(model: TransformerModel, gpus: [Int], normed: [Int]) throws -> [Int] {
        let t = gpus.count
        let (h, f) = (model.hidden, model.ffn)
        let slice = f / t
        let part = t > 1 ? " (column-parallel, \(slice) of \(f))" : ""
        var terms: [Int] = []
        for (rank, gpu) in gpus.enumerated() {
            let columns = Self.shard(1, rank, of: t)
            let sliced = Self.shard(2, rank, of: t)
            let inner: Int
            switch model.mlp {
            case .gated:
                let gate = try matmul(
                    "gate", title: "gate proj\(part)", gpu: gpu, eq: "bsh,hf->bsf", lhs: normed[rank], weight: [Dim(h), Dim(slice)],
                    weightPlace: columns, place: sliced, bias: model.mlpBias)
                let up = try matmul(
                    "up", title: "up proj\(part)", gpu: gpu, eq: "bsh,hf->bsf", lhs: normed[rank], weight: [Dim(h), Dim(slice)],
                    weightPlace: columns, place: sliced, bias: model.mlpBias)
                let act = unary(model.activation.op, "act", title: model.activation.title, gpu: gpu, input: gate, place: sliced)
                inner = mul("gated", title: "\(model.activation.title)(gate) ⊙ up", gpu: gpu, act, up, place: sliced)
            case .plain:
                let fc1 = try matmul(
                    "fc1", title: "FC1\(part)", gpu: gpu, eq: "bsh,hf->bsf", lhs: normed[rank], weight: [Dim(h), Dim(slice)],
                    weightPlace: columns, place: sliced, bias: model.mlpBias)
                inner = unary(model.activation.op, "act", title: model.activation.title, gpu: gpu, input: fc1, place: sliced)
            }
            let downKey = model.mlp == .gated ? "down" : "fc2"
            terms.append(
                try matmul(
                    downKey, title: "\(model.mlp == .gated ? "down proj" : "FC2")\(t > 1 ? " (row-parallel, partial sum)" : "")",
                    gpu: gpu, eq: "bsf,fh->bsh", lhs: inner, weight: [Dim(slice), Dim(h)], weightPlace: Self.shard(0, rank, of: t),
                    place: Self.partial(rank, of: t), bias: model.mlpBias && rank == 0))
        }
        return terms
    }

    /// The activations entering the first layer on `gpus`: for a model with a vocabulary, the
    /// token ids looked up in the embedding (vocabulary-parallel: each GPU holds vocab / t rows,
    /// and the partial lookups are all-reduced); otherwise the activations themselves.
    mutating func modelInputs(model: TransformerModel, phase: Phase, gpus: [Int], sequenceParallel: Bool = false) throws -> [Int] {
        let activation = Self.activation(model, phase)
        let sp = sequenceParallel && gpus.count > 1
        guard let vocab = model.vocab else {
            guard sp else { return gpus.map { input(gpu: $0, shape: activation) } }
            var shard = activation
            shard[1] = try shard[1].divided(by: gpus.count)
            return gpus.enumerated().map { i, gpu in input(gpu: gpu, shape: shard, place: Self.shard(1, i, of: gpus.count)) }
        }
        let t = gpus.count
        try requireDivisible(vocab, by: t, key: "vocab", "the embedding's rows split over the \(t) GPUs of the first stage")
        block = "embedding"
        defer { block = nil }
        let tokens = Shape(Array(activation.dims.dropLast()))
        var lookups: [Int] = []
        for (rank, gpu) in gpus.enumerated() {
            let ids = tokenInput(gpu: gpu, shape: tokens)
            lookups.append(
                embedding(
                    "embed", title: t > 1 ? "embedding (rows \(rank * vocab / t)-\((rank + 1) * vocab / t - 1))" : "embedding",
                    gpu: gpu, tokens: ids, rows: vocab / t, hidden: model.hidden, weightName: "w.embed",
                    slice: Self.shard(0, rank, of: t), place: Self.partial(rank, of: t)))
        }
        if sp {
            guard model.positions == nil else {
                throw SpecError(key: "sp", "with learned position embeddings is not built: they are added to the whole sequence")
            }
            let scattered = try reduceScatter(
                "embed_reduce_scatter", title: "embedding partial lookups", group: gpus, inputs: lookups, dim: 1)
            return gpus.map { _ in scattered }
        }
        let embedded = reduce("embed_allreduce", title: "embedding partial lookups", gpus: gpus, lookups)
        guard let positions = model.positions else { return embedded }
        // Learned absolute positions (GPT-2): a table of its own, whole on every GPU, added.
        let offset = Self.queryOffset(phase)
        return gpus.enumerated().map { rank, gpu in
            let ids = graph.add(
                OperatorNode(
                    name: "positions.gpu\(gpu)", op: .input, gpu: gpu, out: tokens, block: block,
                    label: "positions from \(offset) · GPU \(gpu)\nout \(tokens)",
                    attributes: placed([("data", "positions"), ("offset", offset.description)], "positions", .replicate)))
            let lookup = embedding(
                "pos_embed", title: "position embedding", gpu: gpu, tokens: ids, rows: positions, hidden: model.hidden,
                weightName: "w.pos_embed", slice: .replicate, place: .replicate)
            return add("embed_sum", title: "token + position embeddings", gpu: gpu, embedded[rank], lookup, place: .replicate)
        }
    }

    /// The model's outputs on `gpus`: for a model with a vocabulary, the final norm and the LM
    /// head (column-parallel over the vocabulary, the logits all-gathered for the sampler; in
    /// prefill on the last token of each sequence only, or on `x` itself when `lastTokenOnly`
    /// says it holds only that token); otherwise the activations.
    mutating func modelOutputs(
        model: TransformerModel, phase: Phase, gpus: [Int], x: [Int], sequenceParallel: Bool = false, lastTokenOnly: Bool = false
    ) throws {
        let t = gpus.count
        let sp = sequenceParallel && t > 1
        guard let vocab = model.vocab else {
            for (rank, gpu) in gpus.enumerated() {
                _ = output(gpu: gpu, from: x[rank], place: sp ? Self.shard(1, rank, of: t) : .replicate)
            }
            return
        }
        var x = x
        if sp {
            // The final norm on each sequence shard, then the whole sequence for the head.
            block = "head"
            let normed = gpus.enumerated().map { i, gpu in
                norm(model, "final_norm", title: "(final, sequence shard)", gpu: gpu, input: x[i], place: Self.shard(1, i, of: t))
            }
            let whole = try allGather(
                "final_all_gather", title: "the sequence, whole", group: gpus, inputs: normed, dim: 1, place: .replicate)
            x = gpus.map { _ in whole }
        }
        try requireDivisible(vocab, by: t, key: "vocab", "the LM head's columns split over the \(t) GPUs of the last stage")
        block = "head"
        defer { block = nil }
        var logits: [Int] = []
        let row = outer
        for (rank, gpu) in gpus.enumerated() {
            outer = row
            var last = sp ? x[rank] : norm(model, "final_norm", title: "(final)", gpu: gpu, input: x[rank], place: .replicate)
            if case .prefill = phase, !lastTokenOnly {
                // The last token is the whole sequence's, not part of a context-parallel shard.
                outer[1] = nil
                last = narrow(
                    "last_token", title: "last token of each sequence (only it is sampled)", gpu: gpu, input: last, dim: 1, start: -1,
                    length: 1, place: .replicate)
            }
            logits.append(
                try matmul(
                    "lm_head", title: t > 1 ? "LM head (vocabulary-parallel, \(vocab / t) of \(vocab))" : "LM head", gpu: gpu,
                    eq: "bsh,vh->bsv", lhs: last, weight: [Dim(vocab / t), Dim(model.hidden)],
                    weightName: model.tiedEmbeddings ? "w.embed" : "w.lm_head", weightPlace: Self.shard(0, rank, of: t),
                    place: Self.shard(2, rank, of: t), bias: model.headBias))
        }
        if t > 1 {
            let gathered = try allGather(
                "logits_all_gather", title: "logits for the sampler", group: gpus, inputs: logits, dim: 2, place: .replicate)
            logits = gpus.map { _ in gathered }
        }
        for (rank, gpu) in gpus.enumerated() { _ = output(gpu: gpu, from: logits[rank]) }
    }
}
