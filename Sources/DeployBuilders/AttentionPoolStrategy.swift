import DeployModel

/// Seed 001's "FA Pool": the MLP tensor-parallel on the base GPUs, attention on a pool of GPUs.
///
/// Prefill: base GPU `j mod B` cuts query block j (seq/P tokens) out of the replicated
/// activations and sends it to pool GPU j. Each pool GPU runs LayerNorm and Q, K, V for all heads
/// on its block; K and V are all-gathered over the pool (attention needs every key and value:
/// seed 001 leaves this out); it computes its block's scores against the whole sequence,
/// softmax, context and the output projection, and sends the result to every base GPU, which
/// concatenates the blocks in order and adds the residual.
///
/// Decode: one query token per sequence. The K/V cache is split along the sequence over the pool
/// (the newest token's K and V are appended on the last pool GPU). Every pool GPU scores the query
/// against its part of the cache; the scores are all-gathered so each can take the softmax over
/// the whole context; each multiplies its part of the probabilities by its part of V, a partial
/// sum that an all-reduce over the pool completes; pool GPU 0 projects and sends the result to the
/// base GPUs.
struct AttentionPoolStrategy {
    let deployment: Deployment
    let base: [Int]
    let pool: [Int]

    init(deployment: Deployment, base: [Int], pool: [Int]) throws(SpecError) {
        let model = deployment.model
        try requireClassic(model, strategy: "attention_pool")
        if model.moe == nil {
            try requireDivisible(model.ffn, by: base.count, key: "ffn", "the MLP is split over \(base.count) base GPUs")
        }
        try validateExperts(model.moe, over: base.count, key: "the base GPUs")
        if model.moe != nil { try requireTokensSplit(deployment, into: base.count) }
        switch deployment.phase {
        case .prefill:
            try requireSplittable(
                model.seq, into: pool.count, key: "seq", "each of the \(pool.count) pool GPUs takes seq/\(pool.count) query rows")
        case .decode(let context):
            try requireSplittable(context, into: pool.count, key: "context", "the K/V cache is split over \(pool.count) pool GPUs")
        }
        self.deployment = deployment
        self.base = base
        self.pool = pool
    }

    func build() throws -> OperatorGraph {
        let (model, phase) = (deployment.model, deployment.phase)
        var b = DAGBuilder(deployment: deployment)
        let activation = DAGBuilder.activation(model, phase)
        let inputs = base.map { b.input(gpu: $0, shape: activation) }
        let x = try b.layers(model.layers, from: inputs) { [self] b, _, x in
            b.block = "attention"
            let attention: [Int]
            switch phase {
            case .prefill: attention = try prefillAttention(&b, x: x)
            case .decode(let context): attention = try decodeAttention(&b, x: x, context: context)
            }
            let residual = base.enumerated().map { i, gpu in
                b.add("residual1", title: "residual add 1", gpu: gpu, x[i], attention[i], place: .replicate)
            }
            return try b.feedForward(model: model, phase: phase, gpus: base, x: residual)
        }
        for (i, gpu) in base.enumerated() { _ = b.output(gpu: gpu, from: x[i]) }
        return b.graph
    }

    private var projection: Shape {
        [Dim(deployment.model.hidden), Dim(deployment.model.heads), Dim(deployment.model.headDim)]
    }

    private var outputWeight: Shape {
        [Dim(deployment.model.heads), Dim(deployment.model.headDim), Dim(deployment.model.hidden)]
    }

    /// Returns, per base GPU, the attention output `[b, s, h]` (replicated).
    private func prefillAttention(_ b: inout DAGBuilder, x: [Int]) throws -> [Int] {
        let model = deployment.model
        let p = pool.count
        var q: [Int] = [], k: [Int] = [], v: [Int] = []
        for (j, gpu) in pool.enumerated() {
            let source = j % base.count
            let rows = Placement(shards: [1: .init(j, of: p)])
            let block = try b.split(
                "pool_block\(j)", title: "query block \(j + 1)/\(p) for pool GPU \(gpu)", gpu: base[source], input: x[source], dim: 1,
                parts: p, index: j, place: rows, logical: "\(b.prefix)pool_blocks")
            let received = b.sendRecv("to_pool.gpu\(gpu)", title: "block \(j + 1) to the pool", from: base[source], to: gpu, input: block)
            let ln = b.unary(.layernorm, "ln1", title: "LayerNorm 1", gpu: gpu, input: received, place: rows)
            let heads = Placement(shards: [1: .init(j, of: p)])
            q.append(
                try b.matmul(
                    "q", title: "Q proj (all heads, block \(j + 1))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection,
                    place: heads))
            k.append(
                try b.matmul(
                    "k", title: "K proj (all heads, block \(j + 1))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection,
                    place: heads))
            v.append(
                try b.matmul(
                    "v", title: "V proj (all heads, block \(j + 1))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection,
                    place: heads))
        }
        let keys = try b.allGather("k_all_gather", title: "every block's K", group: pool, inputs: k, dim: 1, place: .replicate)
        let values = try b.allGather("v_all_gather", title: "every block's V", group: pool, inputs: v, dim: 1, place: .replicate)
        var blocks: [Int] = []
        for (j, gpu) in pool.enumerated() {
            let queries = Placement.Part(j, of: p)
            let scores = try b.matmul(
                "qk", title: "Q·Kᵀ (block \(j + 1) against the whole sequence)", gpu: gpu, eq: "bqnd,bknd->bnqk", lhs: q[j], rhs: keys,
                place: Placement(shards: [2: queries]))
            // Block j's queries start j blocks into the prompt: the causal mask counts from there.
            let rowOffset = (try? model.seq.divided(by: p).multiplied(by: j)) ?? Dim(0)
            let probabilities = b.maskedSoftmax(
                "softmax", title: "softmax(scores / √\(model.headDim)\(model.causal ? ", causal" : ""))", gpu: gpu, input: scores,
                attributes: DAGBuilder.softmaxAttributes(model, .prefill, rowOffset: rowOffset), place: Placement(shards: [2: queries]))
            let context = try b.matmul(
                "av", title: "attention × V", gpu: gpu, eq: "bnqk,bknd->bqnd", lhs: probabilities, rhs: values,
                place: Placement(shards: [1: queries]))
            blocks.append(
                try b.matmul(
                    "o_proj", title: "output proj (block \(j + 1))", gpu: gpu, eq: "bsnd,ndh->bsh", lhs: context, weight: outputWeight,
                    place: Placement(shards: [1: queries])))
        }
        return try base.map { gpu in
            let parts = pool.enumerated().map { j, poolGPU in
                b.sendRecv("from_pool.gpu\(poolGPU)_to_gpu\(gpu)", title: "block \(j + 1) back", from: poolGPU, to: gpu, input: blocks[j])
            }
            return try b.concat(
                "attention_blocks", title: "attention output, blocks in order", gpu: gpu, inputs: parts, dim: 1, place: .replicate)
        }
    }

    private func decodeAttention(_ b: inout DAGBuilder, x: [Int], context: Dim) throws -> [Int] {
        let model = deployment.model
        let p = pool.count
        let chunk = context.intValue! / Int64(p)
        let last = p - 1
        var q: [Int] = [], keys: [Int] = [], values: [Int] = [], scores: [Int] = []
        for (j, gpu) in pool.enumerated() {
            let source = j % base.count
            let part = Placement(shards: [1: .init(j, of: p)])
            let received = b.sendRecv("to_pool.gpu\(gpu)", title: "new tokens to the pool", from: base[source], to: gpu, input: x[source])
            let ln = b.unary(.layernorm, "ln1", title: "LayerNorm 1", gpu: gpu, input: received, place: .replicate)
            q.append(
                try b.matmul(
                    "q", title: "Q proj (all heads)", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, place: .replicate))
            // Pool GPU j holds context tokens [j L/P, (j+1) L/P); the last holds the newest token too.
            let range = (Int64(j) * chunk)..<(Int64(j + 1) * chunk - (j == last ? 1 : 0))
            if j == last {
                let k = try b.matmul(
                    "k", title: "K proj (new token)", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, place: .replicate)
                let v = try b.matmul(
                    "v", title: "V proj (new token)", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection, place: .replicate)
                keys.append(
                    try b.withCache(k, "k", gpu: gpu, phase: deployment.phase, range: range, place: part, logical: "\(b.prefix)keys"))
                values.append(
                    try b.withCache(v, "v", gpu: gpu, phase: deployment.phase, range: range, place: part, logical: "\(b.prefix)values"))
            } else {
                let cacheShape: Shape = [model.batch, Dim(chunk), Dim(model.heads), Dim(model.headDim)]
                keys.append(
                    b.kvCache(
                        "k_cache", title: "K cache, part \(j + 1)/\(p)", gpu: gpu, shape: cacheShape, range: range, place: part,
                        logical: "\(b.prefix)keys"))
                values.append(
                    b.kvCache(
                        "v_cache", title: "V cache, part \(j + 1)/\(p)", gpu: gpu, shape: cacheShape, range: range, place: part,
                        logical: "\(b.prefix)values"))
            }
            scores.append(
                try b.matmul(
                    "qk", title: "Q·Kᵀ (part \(j + 1) of the context)", gpu: gpu, eq: "bqnd,bknd->bnqk", lhs: q[j], rhs: keys[j],
                    place: Placement(shards: [3: .init(j, of: p)])))
        }
        let allScores = try b.allGather(
            "scores_all_gather", title: "scores over the whole context", group: pool, inputs: scores, dim: 3, place: .replicate)
        var partials: [Int] = []
        for (j, gpu) in pool.enumerated() {
            let probabilities = b.unary(
                .softmax, "softmax", title: "softmax(scores / √\(model.headDim))", gpu: gpu, input: allScores,
                attributes: ["scale": DAGBuilder.scale(model.headDim)], place: .replicate)
            let mine = try b.split(
                "probs_part", title: "probabilities for part \(j + 1)", gpu: gpu, input: probabilities, dim: 3, parts: p, index: j,
                place: Placement(shards: [3: .init(j, of: p)]))
            partials.append(
                try b.matmul(
                    "av", title: "attention × V (part \(j + 1), partial sum)", gpu: gpu, eq: "bnqk,bknd->bqnd", lhs: mine, rhs: values[j],
                    place: Placement(partial: .init(j, of: p))))
        }
        let context = b.allReduce("av_allreduce", title: "sum the parts' contexts", group: pool, inputs: partials, place: .replicate)
        let projected = try b.matmul(
            "o_proj", title: "output proj", gpu: pool[0], eq: "bsnd,ndh->bsh", lhs: context, weight: outputWeight, place: .replicate)
        return base.map { gpu in
            b.sendRecv("from_pool.gpu\(pool[0])_to_gpu\(gpu)", title: "attention output back", from: pool[0], to: gpu, input: projected)
        }
    }
}
