import DeployModel

/// How a model is split over GPUs.
public enum Strategy: Hashable, Sendable {
    /// Helix two-level attention partitioning: heads split into `headGroups` groups, each
    /// head's dimension split into `segments` segments; GPU `g * segments + s` holds group g,
    /// segment s. The MLP (or the experts) is spread over all `headGroups * segments` GPUs.
    case helix(headGroups: Int, segments: Int)
    /// Megatron tensor parallelism of degree `tp` inside each of `pp` pipeline stages.
    case tensorPipeline(tp: Int, pp: Int)
    /// Seed 001's "FA Pool": the MLP tensor-parallel on the `base` GPUs, attention
    /// sequence-parallel on the `pool` GPUs (each takes seq/pool query rows against the whole
    /// sequence's keys and values, which are all-gathered over the pool).
    case attentionPool(base: [Int], pool: [Int])
    /// Seed 003's attention/MoE separation: attention tensor-parallel (whole heads) on the
    /// `attention` GPUs, the experts spread over the `experts` GPUs, activations travelling
    /// between the two every layer.
    case attentionExpertSeparation(attention: [Int], experts: [Int])

    /// The GPUs the strategy uses, in order.
    public var gpus: [Int] {
        switch self {
        case .helix(let g, let s): Array(0..<(g * s))
        case .tensorPipeline(let tp, let pp): Array(0..<(tp * pp))
        case .attentionPool(let base, let pool): base + pool
        case .attentionExpertSeparation(let attention, let experts): attention + experts
        }
    }

    /// The `gpus` graph attribute: ids 0..<gpuCount must all be used.
    public var gpuCount: Int { (gpus.max() ?? -1) + 1 }

    var attributes: [String: String] {
        switch self {
        case .helix(let g, let s):
            ["strategy": "helix", "head_groups": String(g), "segments": String(s)]
        case .tensorPipeline(let tp, let pp):
            ["strategy": "tp_pp", "tp": String(tp), "pp": String(pp)]
        case .attentionPool(let base, let pool):
            [
                "strategy": "attention_pool", "base_gpus": GPUList.compact(base), "pool_gpus": GPUList.compact(pool),
                "tp": String(base.count),
            ]
        case .attentionExpertSeparation(let attention, let experts):
            ["strategy": "ma_separation", "attention_gpus": GPUList.compact(attention), "expert_gpus": GPUList.compact(experts)]
        }
    }

    /// Checks the GPU lists themselves: non-empty, no GPU twice, no overlap between pools.
    func validate(clusterGPUs: Int?) throws(SpecError) {
        switch self {
        case .helix(let g, let s):
            guard g > 0 else { throw SpecError(key: "head_groups", "must be a positive integer, got \(g)") }
            guard s > 0 else { throw SpecError(key: "segments", "must be a positive integer, got \(s)") }
        case .tensorPipeline(let tp, let pp):
            guard tp > 0 else { throw SpecError(key: "tp", "must be a positive integer, got \(tp)") }
            guard pp > 0 else { throw SpecError(key: "pp", "must be a positive integer, got \(pp)") }
        case .attentionPool(let base, let pool):
            try Self.disjoint(("base_gpus", base), ("pool_gpus", pool))
            if let clusterGPUs {
                let free = clusterGPUs - base.count
                guard base.count + pool.count <= clusterGPUs, pool.allSatisfy({ $0 < clusterGPUs }) else {
                    throw SpecError(
                        key: "pool_size",
                        "is \(pool.count), larger than the \(free) GPUs the cluster of \(clusterGPUs) leaves free beside the \(base.count) base GPUs"
                    )
                }
            }
        case .attentionExpertSeparation(let attention, let experts):
            try Self.disjoint(("attention_gpus", attention), ("expert_gpus", experts))
        }
        if let clusterGPUs, let beyond = gpus.first(where: { $0 >= clusterGPUs }) {
            throw SpecError(key: "cluster_gpus", "is \(clusterGPUs), but the strategy uses GPU \(beyond)")
        }
    }

    private static func disjoint(_ a: (String, [Int]), _ b: (String, [Int])) throws(SpecError) {
        for (key, list) in [a, b] {
            guard !list.isEmpty else { throw SpecError(key: key, "must name at least one GPU") }
            guard Set(list).count == list.count else { throw SpecError(key: key, "lists a GPU twice: \(GPUList.compact(list))") }
        }
        let shared = Set(a.1).intersection(b.1)
        guard shared.isEmpty else {
            throw SpecError(key: b.0, "overlaps \(a.0) on GPU\(shared.count == 1 ? "" : "s") \(GPUList.compact(Array(shared)))")
        }
    }
}

/// Which step of inference the DAG models.
public enum Phase: Hashable, Sendable, CustomStringConvertible {
    /// The whole prompt at once: `seq` query tokens per sequence.
    case prefill
    /// One generated token per sequence, attending to a K/V cache: `context` tokens of keys and
    /// values in all, the `context - 1` earlier ones read from the cache.
    case decode(context: Dim)

    public var description: String {
        switch self {
        case .prefill: "prefill"
        case .decode: "decode"
        }
    }
}

/// A model, a strategy and a phase: everything a builder needs.
public struct Deployment: Hashable, Sendable {
    public var name: String
    public var model: TransformerModel
    public var strategy: Strategy
    public var phase: Phase
    /// The GPUs the cluster has, when the spec says (for checking that pools fit).
    public var clusterGPUs: Int?
    /// Helix only: `perSegment` builds the seeds' softmax of each segment's partial scores, a
    /// different model (`--helix-softmax per-segment`).
    public var helixSoftmax: HelixSoftmax = .exact
    /// Megatron sequence parallelism inside each tensor-parallel group (`tp_pp` with `sp: true`):
    /// norms and residuals on sequence shards, each all-reduce a reduce-scatter and an all-gather.
    public var sequenceParallel = false
    /// Data parallelism (`tp_pp` with `dp: d`): `d` replicas of the whole pipeline on disjoint
    /// GPUs, each taking `batch / d` of the sequences.
    public var dataParallel = 1
    /// Context parallelism (`tp_pp` with `cp: c`, prefill): the prompt split into `c` contiguous
    /// shards, each on its own tensor-parallel group, the keys and values all-gathered along the
    /// sequence over the `c` GPUs of each tensor rank before attention.
    public var contextParallel = 1
    /// Expert parallelism over `ep` GPUs per stage (`tp_pp` with `ep: e`, a multiple of `tp`):
    /// the experts spread over all `e`, attention data-parallel over `e / tp` groups of `tp`
    /// GPUs, each with its share of the batch. Nil: the experts spread over the `tp` GPUs.
    public var expertParallel: Int?
    /// The degrees from innermost to outermost in GPU numbering (`order: [tp, pp, dp]`):
    /// consecutive GPUs share a node, so the innermost degree's groups stay on NVLink. Degrees
    /// not named follow in the builders' order (tp, cp or ep, pp, dp); empty keeps it.
    public var rankOrder: [String] = []
    /// Disaggregated serving: this deployment's degrees run the prompt's prefill, and these the
    /// first decode step after it, on GPUs of their own; the prefill's keys and values reach the
    /// decode GPUs' caches as `send_recv` nodes.
    public var disaggregatedDecode: DecodeDegrees?
    /// Uneven pipeline stages (`pp: [20, 20, 40]`): the layers each stage holds, in order;
    /// nil splits them evenly.
    public var stageLayers: [Int]?
    /// Pipeline stages of a strategy that is not `tp_pp` (Helix, the attention pool,
    /// attention/MoE separation: `pp: s`): `s` copies of its grid on disjoint GPUs, each holding
    /// `layers / s` consecutive layers, the activations sent from each GPU to its place in the next.
    public var layoutStages = 1
    /// The batch is split into this many micro-batches, each an independent chain through the
    /// strategy, so that a schedule can overlap them (a pipeline's fill and drain).
    public var microBatches: Int

    /// Tensor-parallel groups side by side in one pipeline stage: the context-parallel shards, or
    /// the attention data-parallel groups of expert parallelism; 1 for plain `tp_pp`.
    public var rowsPerStage: Int {
        guard case .tensorPipeline(let tp, _) = strategy else { return 1 }
        if contextParallel > 1 { return contextParallel }
        if let ep = expertParallel, tp > 0, ep > tp, ep % tp == 0 { return ep / tp }
        return 1
    }

    /// The GPUs one replica of the deployment uses (before data parallelism).
    public var replicaGPUs: Int { strategy.gpuCount * rowsPerStage }

    public init(
        name: String, model: TransformerModel, strategy: Strategy, phase: Phase = .prefill, clusterGPUs: Int? = nil, microBatches: Int = 1
    ) {
        self.name = name
        self.model = model
        self.strategy = strategy
        self.phase = phase
        self.clusterGPUs = clusterGPUs
        self.microBatches = microBatches
    }
}

/// The degrees of the decode side of a disaggregated deployment (`tp_pp`).
public struct DecodeDegrees: Hashable, Sendable {
    public var tp: Int
    public var pp: Int
    public var dp: Int
    public var ep: Int?
    public var order: [String]
    /// The layers of each pipeline stage when uneven (`pp: [20, 20, 40]`).
    public var stageLayers: [Int]?

    public init(tp: Int, pp: Int = 1, dp: Int = 1, ep: Int? = nil, order: [String] = [], stageLayers: [Int]? = nil) {
        (self.tp, self.pp, self.dp, self.ep, self.order, self.stageLayers) = (tp, pp, dp, ep, order, stageLayers)
    }
}

/// How Helix attention takes the softmax.
public enum HelixSoftmax: String, Hashable, Sendable, CaseIterable {
    /// Partial scores all-reduced over the head group first: the model's own attention.
    case exact
    /// The seeds' softmax of each 128-dim segment's partial scores: heads x segments heads of
    /// head_dim / segments dimensions, a different model.
    case perSegment = "per-segment"
}
