import DeployModel

/// Checks that the MoE experts spread over `p` GPUs: whole experts per GPU, or whole GPUs per expert.
func validateExperts(_ moe: MixtureOfExperts?, over p: Int, key: String) throws(SpecError) {
    guard let moe else { return }
    guard moe.experts % p == 0 || p % moe.experts == 0 else {
        throw SpecError(
            key: "experts",
            "is \(moe.experts), which neither divides nor is divisible by the \(p) GPUs of \(key): experts are placed whole per GPU, or tensor-parallel over whole GPUs"
        )
    }
}

/// Helix attention over all GPUs, then the MLP or the experts over all of them.
struct HelixStrategy {
    let deployment: Deployment
    let groups: Int
    let segments: Int

    init(deployment: Deployment, groups: Int, segments: Int) throws(SpecError) {
        let model = deployment.model
        let p = groups * segments
        try requireDivisible(model.heads, by: groups, key: "heads", "\(model.heads) heads into \(groups) head groups")
        try requireDivisible(model.headDim, by: segments, key: "head_dim", "each head's \(model.headDim) dims into \(segments) segments")
        try requireClassic(model, strategy: "helix")
        if model.moe == nil { try requireDivisible(model.ffn, by: p, key: "ffn", "the MLP is column-parallel over \(p) GPUs") }
        try validateExperts(model.moe, over: p, key: "the Helix grid")
        if model.moe != nil { try requireTokensSplit(deployment, into: p) }
        self.deployment = deployment
        self.groups = groups
        self.segments = segments
    }

    func build() throws -> OperatorGraph {
        let (model, phase) = (deployment.model, deployment.phase)
        let gpus = Array(0..<(groups * segments))
        var b = DAGBuilder(deployment: deployment)
        let activation = DAGBuilder.activation(model, phase)
        let inputs = gpus.map { b.input(gpu: $0, shape: activation) }
        let (groups, segments, perSegment) = (groups, segments, deployment.helixSoftmax == .perSegment)
        let x = try b.layers(model.layers, from: inputs) { b, _, x in
            let attended = try b.helixAttention(
                model: model, phase: phase, groups: groups, segments: segments, perSegmentSoftmax: perSegment, x: x)
            return try b.feedForward(model: model, phase: phase, gpus: gpus, x: attended)
        }
        for gpu in gpus { _ = b.output(gpu: gpu, from: x[gpu]) }
        return b.graph
    }
}

/// Megatron tensor parallelism inside pipeline stages.
///
/// Stage `p` holds layers `p * L/PP ..< (p+1) * L/PP` on GPUs `p * TP ..< (p+1) * TP`; between
/// stages each GPU sends its (replicated) activations to the GPU of the same tensor rank in the
/// next stage.
struct TensorPipelineStrategy {
    let deployment: Deployment
    let tp: Int
    let pp: Int

    init(deployment: Deployment, tp: Int, pp: Int) throws(SpecError) {
        let model = deployment.model
        try requireDivisible(model.heads, by: tp, key: "heads", "tensor parallelism of \(tp) gives each GPU whole heads")
        guard model.kvHeads % tp == 0 || tp % model.kvHeads == 0 else {
            throw SpecError(
                key: "kv_heads",
                "is \(model.kvHeads), which neither divides nor is divisible by tp \(tp): each GPU holds whole K/V heads, or one K/V head shared by tp / kv_heads GPUs"
            )
        }
        if deployment.sequenceParallel {
            if case .decode = deployment.phase {
                throw SpecError(
                    key: "sp", "shards the sequence inside each tensor-parallel group; a decode step has one token per sequence")
            }
            guard model.moe == nil else { throw SpecError(key: "sp", "with a mixture of experts is not built yet") }
            try requireSplittable(model.seq, into: tp, key: "sp", "the sequence is split over the \(tp) GPUs of a tensor-parallel group")
        }
        if model.parallelResidual && model.moe != nil {
            throw SpecError(key: "parallel_residual", "is built for dense MLPs; a mixture of experts after a parallel residual is not")
        }
        if model.moe == nil { try requireDivisible(model.ffn, by: tp, key: "ffn", "the MLP is split over \(tp) GPUs per stage") }
        if let stages = deployment.stageLayers {
            guard stages.count == pp, stages.allSatisfy({ $0 > 0 }) else {
                throw SpecError(key: "pp", "lists \(stages.count) stages, but the strategy has \(pp); each must hold at least one layer")
            }
            guard stages.reduce(0, +) == model.layers else {
                throw SpecError(
                    key: "pp",
                    "lists stages of \(stages.map(String.init).joined(separator: " + ")) = \(stages.reduce(0, +)) layers, but the model has \(model.layers)"
                )
            }
        } else {
            try requireDivisible(model.layers, by: pp, key: "layers", "the layers split evenly into \(pp) pipeline stages")
        }
        let cp = deployment.contextParallel
        let experts = deployment.expertParallel ?? tp
        if cp > 1 {
            if case .decode = deployment.phase {
                throw SpecError(key: "cp", "splits a prompt's sequence over \(cp) GPUs; a decode step has one token per sequence")
            }
            guard !deployment.sequenceParallel else { throw SpecError(key: "cp", "combined with sp is not built; give one of them") }
            guard experts == tp else { throw SpecError(key: "cp", "combined with an ep wider than tp is not built; give one of them") }
            guard model.seq.intValue != nil else {
                throw SpecError(key: "seq", "must be an integer under cp: each shard's keys and queries sit at positions of their own")
            }
            if let prompt = model.seq.intValue, prompt % Int64(cp) != 0 {
                throw SpecError(key: "cp", "is \(cp), which does not divide the prompt's \(prompt) tokens into contiguous shards")
            }
            if model.moe != nil, model.vocab != nil {
                try requireSplittable(
                    model.batch, into: tp, key: "batch", "the last layer routes each sequence's last token, shared among \(tp) GPUs")
            }
        }
        if let ep = deployment.expertParallel, ep != tp {
            guard let moe = model.moe else {
                throw SpecError(key: "ep", "spreads the experts of a mixture of experts; this model is dense")
            }
            guard ep % tp == 0 else {
                throw SpecError(
                    key: "ep",
                    "is \(ep), which is not a multiple of tp \(tp): the experts spread over ep GPUs that hold ep / tp attention groups of tp GPUs each"
                )
            }
            do {
                try validateExperts(moe, over: ep, key: "ep")
            } catch {
                throw SpecError(key: "ep", "is \(ep), which neither divides nor is a multiple of the \(moe.experts) experts")
            }
            if case .decode = deployment.phase {
                if let batch = model.batch.intValue, batch % Int64(ep) != 0 {
                    throw SpecError(
                        key: "ep", "is \(ep), which does not divide the batch of \(batch): each GPU routes its own sequences' tokens")
                }
            } else {
                if let batch = model.batch.intValue, batch % Int64(ep / tp) != 0 {
                    throw SpecError(
                        key: "ep",
                        "is \(ep), whose \(ep / tp) attention groups of tp \(tp) GPUs do not divide the batch of \(batch) between them")
                }
                try requireSplittable(model.seq, into: tp, key: "seq", "the tokens of a group are shared among its \(tp) GPUs")
            }
        } else {
            try validateExperts(model.moe, over: tp, key: "a pipeline stage")
            if model.moe != nil {
                var share = deployment
                share.model.seq = (try? model.seq.divided(by: cp)) ?? model.seq
                try requireTokensSplit(share, into: tp)
            }
        }
        self.deployment = deployment
        self.tp = tp
        self.pp = pp
    }

    func build() throws -> OperatorGraph {
        let (model, phase) = (deployment.model, deployment.phase)
        // The stage of each layer: even stages, or the counts the spec lists.
        let counts = deployment.stageLayers ?? Array(repeating: model.layers / pp, count: pp)
        let stageOf = counts.enumerated().flatMap { stage, count in Array(repeating: stage, count: count) }
        var b = DAGBuilder(deployment: deployment)
        let tp = tp
        let rows = deployment.rowsPerStage
        let width = tp * rows
        let stageGPUs: @Sendable (Int) -> [Int] = { layer in
            let stage = layer < stageOf.count ? stageOf[layer] : 0
            return Array((stage * width)..<((stage + 1) * width))
        }
        let sp = deployment.sequenceParallel
        let split: DAGBuilder.RowSplit? = rows == 1 ? nil : deployment.contextParallel > 1 ? .sequence : .batch
        let inputs =
            try split.map { try b.rowInputs(model: model, phase: phase, rows: DAGBuilder.rows(stageGPUs(0), tp: tp), split: $0) }
            ?? b.modelInputs(model: model, phase: phase, gpus: stageGPUs(0), sequenceParallel: sp)
        let x = try b.layers(model.layers, from: inputs) { b, layer, x in
            var x = x
            let gpus = stageGPUs(layer)
            if layer > 0, case let previous = stageGPUs(layer - 1), previous != gpus {
                b.block = "pipeline"
                let stage = stageOf[layer]
                x = zip(previous, gpus).enumerated().map { i, pair in
                    b.sendRecv(
                        "pipeline_send.gpu\(pair.0)_to_gpu\(pair.1)", title: "stage \(stage - 1) → \(stage)",
                        from: pair.0, to: pair.1, input: x[i])
                }
            }
            switch split {
            case .sequence?:
                return try b.contextParallelLayer(
                    model: model, phase: phase, rows: DAGBuilder.rows(gpus, tp: tp), x: x,
                    lastTokenOnly: model.vocab != nil && layer == model.layers - 1)
            case .batch?:
                return try b.expertParallelLayer(model: model, moe: model.moe!, phase: phase, rows: DAGBuilder.rows(gpus, tp: tp), x: x)
            case nil:
                if !model.isClassic || sp { return try b.decoderLayer(model: model, phase: phase, gpus: gpus, x: x, sequenceParallel: sp) }
                let attended = try b.headParallelAttention(model: model, phase: phase, gpus: gpus, x: x)
                return try b.feedForward(model: model, phase: phase, gpus: gpus, x: attended)
            }
        }
        let last = stageGPUs(max(model.layers - 1, 0))
        if let split {
            try b.rowOutputs(model: model, phase: phase, rows: DAGBuilder.rows(last, tp: tp), split: split, x: x)
            b.graph.declareCopies()
        } else {
            try b.modelOutputs(model: model, phase: phase, gpus: last, x: x, sequenceParallel: sp)
        }
        return b.graph
    }
}

extension OperatorGraph {
    /// A part of a tensor that several GPUs compute alike (a row's replicated tensor is one
    /// part of the model's, held by each of the row's GPUs) is declared as that many copies.
    mutating func declareCopies() {
        struct Key: Hashable {
            var logical: String
            var place: Placement
        }
        var holders: [Key: Int] = [:]
        var keys: [Int: Key] = [:]
        for (i, node) in nodes.enumerated() where !node.op.isCommunication {
            guard let logical = node.attributes["logical"], let text = node.attributes["place"], let place = Placement.parse(text),
                !place.isReplicate, place.copies == nil
            else { continue }
            let key = Key(logical: logical, place: place)
            holders[key, default: 0] += 1
            keys[i] = key
        }
        for (i, key) in keys {
            guard let count = holders[key], count > 1 else { continue }
            var place = key.place
            place.copies = count
            updateNode(i) { $0.attributes["place"] = place.description }
        }
    }
}

/// The tokens each of `p` GPUs takes must split evenly when the dimension is concrete.
func requireTokensSplit(_ deployment: Deployment, into p: Int) throws(SpecError) {
    if case .decode = deployment.phase {
        try requireSplittable(deployment.model.batch, into: p, key: "batch", "one token per sequence is shared among \(p) GPUs")
    } else {
        try requireSplittable(deployment.model.seq, into: p, key: "seq", "the tokens are shared among \(p) GPUs")
    }
}

/// The strategies written for the seeds' classic block (multi-head, LayerNorm, plain GELU MLP,
/// materialized non-causal attention, no embedding or head) refuse a model that uses more,
/// naming the first key they cannot build, rather than building something else.
func requireClassic(_ model: TransformerModel, strategy: String) throws(SpecError) {
    let unsupported: [(String, Bool)] = [
        ("attention", model.attention != .materialized), ("kv_heads", model.kvHeads != model.heads),
        ("norm", model.norm != .layernorm), ("mlp", model.mlp != .plain), ("activation", model.activation != .gelu),
        ("rope", model.rope != nil), ("sliding_window", model.slidingWindow != nil),
        ("vocab", model.vocab != nil), ("parallel_residual", model.parallelResidual), ("qkv_bias", model.qkvBias),
        ("norm_bias", model.normBias), ("output_bias", model.outputBias), ("mlp_bias", model.mlpBias), ("head_bias", model.headBias),
        ("positions", model.positions != nil),
        ("kv_cache_dtype", model.kvCacheDtype != nil), ("shared_expert_ffn", model.moe?.sharedExpertFFN != nil),
    ]
    if let (key, _) = unsupported.first(where: { $0.1 }) {
        let why =
            key == "attention" && strategy == "helix"
            ? "Helix sums partial scores before the softmax, so it needs attention: materialized"
            : "the \(strategy) builder covers the seeds' classic block (multi-head, LayerNorm, GELU MLP, materialized attention, causal or not, no embedding or head); build this model with kind: tp_pp"
        throw SpecError(key: key, "cannot be used here: \(why)")
    }
}
