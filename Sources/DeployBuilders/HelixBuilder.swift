import DeployModel

/// Helix two-level attention partitioning, built so that it computes the unpartitioned model.
///
/// GPU `g * S + s` holds head group g (H/G whole heads' worth of rows) and head-dim segment s
/// (D/S of each head's D dimensions). Splitting the head dimension splits the contraction of
/// `Q K^T`, so each GPU's scores are a partial sum: they are all-reduced over the head group's S
/// GPUs before the softmax, which scales by 1/sqrt(D), the whole head's dimension. After the
/// softmax each GPU multiplies by its own V segment, leaving the attention output sharded over
/// (head, segment) = rows of the output projection. The output projection is therefore
/// row-parallel: each GPU multiplies its `[T, H/G, D/S]` slice by the matching `[H/G, D/S, h]`
/// rows of W_o, and one all-reduce over all GPUs sums the partial outputs. That replaces the
/// seeds' intra-group and inter-group concatenations (which gather the attention output to
/// every GPU and then still need a projection) with the single all-reduce the projection needs
/// anyway.
struct HelixBuilder {
    let deployment: Deployment
    let groups: Int
    let segments: Int

    init(deployment: Deployment, groups: Int, segments: Int) throws(SpecError) {
        let model = deployment.model
        try requireDivisible(model.heads, by: groups, key: "heads", "heads must split evenly into \(groups) head groups")
        try requireDivisible(model.headDim, by: segments, key: "head_dim", "head_dim must split evenly into \(segments) segments")
        try requireDivisible(model.ffn, by: groups * segments, key: "ffn", "the MLP is split over \(groups * segments) GPUs")
        self.deployment = deployment
        self.groups = groups
        self.segments = segments
    }

    func build() throws -> OperatorGraph {
        let model = deployment.model
        let gpuCount = groups * segments
        let gpus = Array(0..<gpuCount)
        let headsPerGroup = model.heads / groups
        let segmentDim = model.headDim / segments
        var b = DAGBuilder(deployment: deployment)
        let activation: Shape = [model.batch, model.seq, Dim(model.hidden)]
        var x = gpus.map { b.input(gpu: $0, shape: activation) }

        for layer in 0..<model.layers {
            b.layer = layer
            b.block = "attention"
            var q: [Int] = [], k: [Int] = [], v: [Int] = [], scores: [Int] = []
            let projection: Shape = [Dim(model.hidden), Dim(headsPerGroup), Dim(segmentDim)]
            for gpu in gpus {
                let ln = b.unary(.layernorm, "ln1", title: "LayerNorm 1", gpu: gpu, input: x[gpu])
                let part =
                    "heads \(gpu / segments * headsPerGroup)-\((gpu / segments + 1) * headsPerGroup - 1), dims \(gpu % segments * segmentDim)-\((gpu % segments + 1) * segmentDim - 1)"
                q.append(try b.matmul("q", title: "Q proj (\(part))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection))
                k.append(try b.matmul("k", title: "K proj (\(part))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection))
                v.append(try b.matmul("v", title: "V proj (\(part))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection))
                scores.append(
                    try b.matmul(
                        "qk", title: "Q·Kᵀ partial scores (\(segmentDim) of \(model.headDim) dims)", gpu: gpu,
                        eq: "bqnd,bknd->bnqk", lhs: q[gpu], rhs: k[gpu]))
            }
            var reducedScores = [Int](repeating: -1, count: gpuCount)
            for group in 0..<groups {
                let members = Array((group * segments)..<((group + 1) * segments))
                let reduced = b.allReduce(
                    "scores_allreduce.hg\(group)", title: "sum partial scores of head group \(group)",
                    group: members, inputs: members.map { scores[$0] })
                for gpu in members { reducedScores[gpu] = reduced }
            }
            var partials: [Int] = []
            for gpu in gpus {
                let probabilities = b.unary(
                    .softmax, "softmax", title: "softmax(scores / √\(model.headDim))", gpu: gpu, input: reducedScores[gpu],
                    attributes: ["scale": String(1.0 / Double(model.headDim).squareRoot())])
                let context = try b.matmul(
                    "av", title: "attention × V segment", gpu: gpu, eq: "bnqk,bknd->bqnd", lhs: probabilities, rhs: v[gpu])
                partials.append(
                    try b.matmul(
                        "o_proj", title: "output proj (row-parallel, partial sum)", gpu: gpu, eq: "bsnd,ndh->bsh", lhs: context,
                        weight: [Dim(headsPerGroup), Dim(segmentDim), Dim(model.hidden)]))
            }
            let attention = b.allReduce("attn_allreduce", title: "output-projection partial sums", group: gpus, inputs: partials)
            let residual = gpus.map { b.add("residual1", title: "residual add 1", gpu: $0, x[$0], attention) }
            x = try b.mlpBlock(model: model, gpus: gpus, x: residual)
        }
        b.layer = nil
        b.block = nil
        for gpu in gpus { _ = b.output(gpu: gpu, from: x[gpu]) }
        return b.graph
    }
}
