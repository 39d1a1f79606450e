import DeployModel

/// Megatron-LM tensor parallelism inside pipeline stages.
///
/// Stage `p` holds layers `p * L/PP ..< (p+1) * L/PP` on GPUs `p * TP ..< (p+1) * TP`. Inside a
/// stage, attention is split by whole heads (H/TP per GPU): Q, K, V column-parallel, attention
/// per local head, output projection row-parallel followed by an all-reduce over the stage; the
/// MLP is FC1 column-parallel, FC2 row-parallel, all-reduce. Between stages each GPU sends its
/// (replicated) activations to the GPU of the same tensor rank in the next stage.
struct TensorPipelineBuilder {
    let deployment: Deployment
    let tp: Int
    let pp: Int

    init(deployment: Deployment, tp: Int, pp: Int) throws(SpecError) {
        let model = deployment.model
        try requireDivisible(model.heads, by: tp, key: "heads", "tensor parallelism of \(tp) gives each GPU whole heads")
        try requireDivisible(model.ffn, by: tp, key: "ffn", "the MLP is split over \(tp) GPUs per stage")
        try requireDivisible(model.layers, by: pp, key: "layers", "the layers split evenly into \(pp) pipeline stages")
        self.deployment = deployment
        self.tp = tp
        self.pp = pp
    }

    func build() throws -> OperatorGraph {
        let model = deployment.model
        let localHeads = model.heads / tp
        let layersPerStage = model.layers / pp
        var b = DAGBuilder(deployment: deployment)
        let activation: Shape = [model.batch, model.seq, Dim(model.hidden)]
        var stageGPUs = Array(0..<tp)
        var x = stageGPUs.map { b.input(gpu: $0, shape: activation) }

        for layer in 0..<model.layers {
            b.layer = layer
            let stage = layer / layersPerStage
            let gpus = Array((stage * tp)..<((stage + 1) * tp))
            if gpus != stageGPUs {
                b.block = "pipeline"
                x = zip(stageGPUs, gpus).enumerated().map { i, pair in
                    b.sendRecv(
                        "pipeline_send.gpu\(pair.0)_to_gpu\(pair.1)", title: "stage \(stage - 1) → \(stage)",
                        from: pair.0, to: pair.1, input: x[i])
                }
                stageGPUs = gpus
            }
            b.block = "attention"
            var partials: [Int] = []
            for (rank, gpu) in gpus.enumerated() {
                let ln = b.unary(.layernorm, "ln1", title: "LayerNorm 1", gpu: gpu, input: x[rank])
                let heads = "heads \(rank * localHeads)-\((rank + 1) * localHeads - 1)"
                let projection: Shape = [Dim(model.hidden), Dim(localHeads), Dim(model.headDim)]
                let q = try b.matmul("q", title: "Q proj (\(heads))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection)
                let k = try b.matmul("k", title: "K proj (\(heads))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection)
                let v = try b.matmul("v", title: "V proj (\(heads))", gpu: gpu, eq: "bsh,hnd->bsnd", lhs: ln, weight: projection)
                let scores = try b.matmul("qk", title: "Q·Kᵀ scores", gpu: gpu, eq: "bqnd,bknd->bnqk", lhs: q, rhs: k)
                let probabilities = b.unary(
                    .softmax, "softmax", title: "softmax(scores / √\(model.headDim))", gpu: gpu, input: scores,
                    attributes: ["scale": String(1.0 / Double(model.headDim).squareRoot())])
                let context = try b.matmul("av", title: "attention × V", gpu: gpu, eq: "bnqk,bknd->bqnd", lhs: probabilities, rhs: v)
                partials.append(
                    try b.matmul(
                        "o_proj", title: "output proj (row-parallel, partial sum)", gpu: gpu, eq: "bsnd,ndh->bsh", lhs: context,
                        weight: [Dim(localHeads), Dim(model.headDim), Dim(model.hidden)]))
            }
            let attention = b.allReduce("attn_allreduce", title: "output-projection partial sums", group: gpus, inputs: partials)
            let residual = gpus.enumerated().map { rank, gpu in
                b.add("residual1", title: "residual add 1", gpu: gpu, x[rank], attention)
            }
            x = try b.mlpBlock(model: model, gpus: gpus, x: residual)
        }
        b.layer = nil
        b.block = nil
        for (rank, gpu) in stageGPUs.enumerated() { _ = b.output(gpu: gpu, from: x[rank]) }
        return b.graph
    }
}
