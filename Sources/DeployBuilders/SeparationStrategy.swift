import DeployModel

/// Seed 003's attention/MoE separation.
///
/// Attention runs tensor-parallel (whole heads) on the attention GPUs. For the experts, each
/// attention GPU takes 1/A of the tokens, routes them and dispatches them into per-expert
/// buffers, and sends each expert GPU the buffers of its experts. An expert GPU concatenates what
/// every attention GPU sent, runs its experts, and sends each attention GPU back its share; the
/// attention GPU reassembles the buffers, combines them by the gates, and an all-gather over the
/// attention GPUs restores the replicated activations for the residual add.
struct SeparationStrategy {
    let deployment: Deployment
    let attention: [Int]
    let experts: [Int]

    init(deployment: Deployment, attention: [Int], experts: [Int]) throws(SpecError) {
        let model = deployment.model
        try requireClassic(model, strategy: "ma_separation")
        guard let moe = model.moe else {
            throw SpecError(key: "experts", "is missing: attention/MoE separation needs a mixture-of-experts model")
        }
        try requireDivisible(model.heads, by: attention.count, key: "heads", "whole heads on each of the \(attention.count) attention GPUs")
        try requireDivisible(moe.experts, by: experts.count, key: "experts", "whole experts on each of the \(experts.count) expert GPUs")
        try requireTokensSplit(deployment, into: attention.count)
        self.deployment = deployment
        self.attention = attention
        self.experts = experts
    }

    func build() throws -> OperatorGraph {
        let (model, phase) = (deployment.model, deployment.phase)
        var b = DAGBuilder(deployment: deployment)
        let activation = DAGBuilder.activation(model, phase)
        let inputs = attention.map { b.input(gpu: $0, shape: activation) }
        let x = try b.layers(model.layers, from: inputs) { [self] b, _, x in
            let attended = try b.headParallelAttention(model: model, phase: phase, gpus: attention, x: x)
            return try separatedExperts(&b, x: attended)
        }
        for (i, gpu) in attention.enumerated() { _ = b.output(gpu: gpu, from: x[i]) }
        return b.graph
    }

    private func separatedExperts(_ b: inout DAGBuilder, x: [Int]) throws -> [Int] {
        let model = deployment.model
        let moe = model.moe!
        let tokenDim = DAGBuilder.tokenDim(deployment.phase)
        let (a, m) = (attention.count, experts.count)
        let local = moe.experts / m
        b.block = "moe"
        var routing: [Int] = []
        var outgoing: [[Int]] = []  // [attention rank][expert rank]
        for (rank, gpu) in attention.enumerated() {
            let tokens = Placement(shards: [tokenDim: .init(rank, of: a)])
            let ln = b.unary(.layernorm, "ln2", title: "LayerNorm 2", gpu: gpu, input: x[rank], place: .replicate)
            let mine = try b.split(
                "tokens", title: "this GPU's 1/\(a) of the tokens", gpu: gpu, input: ln, dim: tokenDim, parts: a, index: rank, place: tokens
            )
            let logits = try b.matmul(
                "router", title: "router", gpu: gpu, eq: "bsh,he->bse", lhs: mine, weight: [Dim(model.hidden), Dim(moe.experts)],
                place: tokens)
            let chosen = b.topK("topk", gpu: gpu, logits: logits, k: moe.topK, place: tokens)
            routing.append(chosen)
            let buffers = try b.dispatch("dispatch", gpu: gpu, tokens: mine, routing: chosen, moe: moe, replicas: 1)
            outgoing.append(
                try experts.enumerated().map { e, expertGPU in
                    let part = try b.split(
                        "to_experts.gpu\(expertGPU)", title: "buffers of experts \(e * local)-\((e + 1) * local - 1)", gpu: gpu,
                        input: buffers, dim: 0, parts: m, index: e)
                    return b.sendRecv(
                        "dispatch.gpu\(gpu)_to_gpu\(expertGPU)", title: "tokens to the experts", from: gpu, to: expertGPU, input: part)
                })
        }
        var returning: [[Int]] = Array(repeating: [], count: a)  // [attention rank][expert rank]
        for (e, expertGPU) in experts.enumerated() {
            let received = try b.concat(
                "expert_tokens", title: "tokens from every attention GPU", gpu: expertGPU, inputs: outgoing.map { $0[e] }, dim: 1)
            var outputs: [Int] = []
            for j in 0..<local {
                let id = e * local + j
                let tokens =
                    local > 1
                    ? try b.split(
                        "expert\(id).tokens", title: "expert \(id) tokens", gpu: expertGPU, input: received, dim: 0, parts: local, index: j)
                    : received
                outputs.append(
                    try b.expert(
                        "expert\(id)", title: "expert \(id)", id: id, moe: moe, hidden: model.hidden, slices: 1, gpu: expertGPU,
                        tokens: tokens))
            }
            let results =
                local > 1
                ? try b.concat("experts_out", title: "local experts' outputs", gpu: expertGPU, inputs: outputs, dim: 0) : outputs[0]
            for (rank, gpu) in attention.enumerated() {
                let share = try b.split(
                    "to_attention.gpu\(gpu)", title: "results for attention GPU \(gpu)", gpu: expertGPU, input: results, dim: 1, parts: a,
                    index: rank)
                returning[rank].append(
                    b.sendRecv("combine.gpu\(expertGPU)_to_gpu\(gpu)", title: "expert outputs back", from: expertGPU, to: gpu, input: share)
                )
            }
        }
        var combined: [Int] = []
        for (rank, gpu) in attention.enumerated() {
            let buffers = try b.concat("expert_outputs", title: "every expert's outputs", gpu: gpu, inputs: returning[rank], dim: 0)
            combined.append(
                b.combine(
                    "combine", gpu: gpu, buffers: buffers, routing: routing[rank], moe: moe, replicas: 1,
                    place: Placement(shards: [tokenDim: .init(rank, of: a)])))
        }
        let gathered = try b.allGather(
            "moe_all_gather", title: "every GPU's tokens", group: attention, inputs: combined, dim: tokenDim, place: .replicate)
        return attention.enumerated().map { i, gpu in
            b.add("residual2", title: "residual add 2", gpu: gpu, x[i], gathered, place: .replicate)
        }
    }
}
