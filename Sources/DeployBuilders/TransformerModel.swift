import DeployModel

/// The unpartitioned transformer a deployment runs.
public struct TransformerModel: Hashable, Sendable {
    public var layers: Int
    /// Sequences per batch; may be a symbol (`B`).
    public var batch: Dim
    /// Tokens per sequence; may be a symbol (`seq_len`).
    public var seq: Dim
    public var hidden: Int
    public var heads: Int
    public var headDim: Int
    /// The MLP's inner width.
    public var ffn: Int
    public var dtype: DataType
    /// Present for a mixture-of-experts model: its MLP is a set of experts with a router.
    public var moe: MixtureOfExperts?
    /// Key/value heads (grouped-query attention; multi-query when 1): each group of
    /// `heads / kvHeads` query heads reads one shared K/V head.
    public var kvHeads: Int
    public var norm: Norm = .layernorm
    public var mlp: MLPKind = .plain
    public var activation: Activation = .gelu
    /// Rotary position embedding on Q and K; nil for none.
    public var rope: RotaryEmbedding?
    /// Each query sees only the keys at or before its own position. (Spec files default to
    /// causal, fused attention, as decoder models are; a value made in code defaults to the
    /// seeds' classic block.)
    public var causal: Bool = false
    /// Each query sees at most this many keys, its own included (Mistral's sliding window).
    public var slidingWindow: Int?
    public var attention: AttentionForm = .materialized
    /// The vocabulary: when present the DAG has the token embedding, the final norm and the LM
    /// head, and norms carry their weights, so the graph holds the whole model's parameters.
    public var vocab: Int?
    /// The LM head reuses the embedding matrix.
    public var tiedEmbeddings = false
    /// GPT-J / Falcon: attention and MLP read the same normed input, and their sum is added once.
    public var parallelResidual = false
    /// Falcon-40B's parallel layer: attention and MLP each read their own norm of the input.
    public var parallelNorms = false
    /// LayerNorm with a bias as well as a gain (Falcon, GPT-2).
    public var normBias = false
    /// Qwen2: the Q, K and V projections add a bias.
    public var qkvBias = false
    /// GPT-2: the attention's output projection adds a bias.
    public var outputBias = false
    /// GPT-2, GPT-J: the MLP's projections add biases.
    public var mlpBias = false
    /// GPT-J: the LM head adds a bias.
    public var headBias = false
    /// GPT-2: learned absolute position embeddings for this many positions, added to the tokens'.
    public var positions: Int?
    /// The K/V cache's number format, when it differs from `dtype`.
    public var kvCacheDtype: DataType?

    public init(
        layers: Int, batch: Dim, seq: Dim, hidden: Int, heads: Int, headDim: Int, ffn: Int,
        dtype: DataType = .bf16, moe: MixtureOfExperts? = nil, kvHeads: Int? = nil
    ) {
        self.layers = layers
        self.batch = batch
        self.seq = seq
        self.hidden = hidden
        self.heads = heads
        self.headDim = headDim
        self.ffn = ffn
        self.dtype = dtype
        self.moe = moe
        self.kvHeads = kvHeads ?? heads
    }

    /// Whether any of today's vocabulary is used beyond the seeds' classic block.
    public var isClassic: Bool {
        kvHeads == heads && norm == .layernorm && mlp == .plain && activation == .gelu && rope == nil
            && slidingWindow == nil && attention == .materialized && vocab == nil && !parallelResidual && !qkvBias && !normBias
            && !outputBias && !mlpBias && !headBias
            && positions == nil
            && kvCacheDtype == nil
    }

    /// Checks the model's own consistency: positive sizes, heads x head_dim = hidden.
    public func validate() throws(SpecError) {
        for (key, value) in [
            ("layers", layers), ("hidden", hidden), ("heads", heads), ("head_dim", headDim), ("ffn", moe == nil ? ffn : 1),
        ]
        where value <= 0 {
            throw SpecError(key: key, "must be a positive integer, got \(value)")
        }
        guard batch.isPositive else { throw SpecError(key: "batch", "must be positive, got \(batch)") }
        guard seq.isPositive else { throw SpecError(key: "seq", "must be positive, got \(seq)") }
        guard heads * headDim == hidden else {
            throw SpecError(key: "hidden", "must equal heads x head_dim = \(heads) x \(headDim) = \(heads * headDim), got \(hidden)")
        }
        if let moe { try moe.validate() }
        guard kvHeads > 0, heads % kvHeads == 0 else {
            throw SpecError(key: "kv_heads", "must divide heads (\(heads)) so that each K/V head serves a whole group, got \(kvHeads)")
        }
        if let window = slidingWindow, window <= 0 {
            throw SpecError(key: "sliding_window", "must be a positive number of tokens, got \(window)")
        }
        if slidingWindow != nil && !causal {
            throw SpecError(key: "sliding_window", "needs causal attention: the window is the keys just before each query")
        }
        if parallelNorms && !parallelResidual {
            throw SpecError(key: "parallel_norms", "needs parallel_residual: the two norms feed attention and the MLP side by side")
        }
        if normBias && vocab == nil {
            throw SpecError(key: "norm_bias", "needs a vocabulary ('vocab'): norms carry weights only in whole models")
        }
        if let vocab, vocab <= 0 { throw SpecError(key: "vocab", "must be a positive integer, got \(vocab)") }
        for (key, on) in [("output_bias", outputBias), ("mlp_bias", mlpBias), ("head_bias", headBias), ("positions", positions != nil)]
        where on && vocab == nil {
            throw SpecError(key: key, "needs a vocabulary ('vocab'): biases and embeddings belong to whole models")
        }
        if let positions, positions <= 0 { throw SpecError(key: "positions", "must be a positive number of positions, got \(positions)") }
        if tiedEmbeddings && vocab == nil { throw SpecError(key: "tie_embeddings", "needs a vocabulary ('vocab')") }
        if let rope {
            guard rope.theta > 0 else { throw SpecError(key: "rope_theta", "must be positive, got \(rope.theta)") }
            let dims = rope.rotaryDim ?? headDim
            guard dims > 0, dims <= headDim, dims % 2 == 0 else {
                throw SpecError(key: "rotary_dim", "must be an even number of dimensions of at most head_dim (\(headDim)), got \(dims)")
            }
        }
        if attention == .materialized && kvHeads != heads {
            throw SpecError(
                key: "attention",
                "materialized attention is built for multi-head attention only (kv_heads = heads); grouped-query attention (kv_heads \(kvHeads) of \(heads)) needs attention: fused"
            )
        }
        if let shared = moe?.sharedExpertFFN, shared <= 0 {
            throw SpecError(key: "shared_expert_ffn", "must be a positive integer, got \(shared)")
        }
    }

    /// Every graph attribute `attributes` may write: the model's description in a DAG's header.
    public static let attributeKeys: Set<String> = [
        "model", "layers", "batch", "seq", "hidden", "heads", "head_dim", "dtype", "causal", "kv_heads", "norm", "mlp", "activation",
        "attention", "rope_theta", "rotary_dim", "sliding_window", "vocab", "tie_embeddings", "parallel_residual", "parallel_norms",
        "norm_bias", "qkv_bias", "output_bias", "mlp_bias", "head_bias", "positions", "rope_interleaved", "kv_cache_dtype",
        "shared_expert_ffn", "experts", "top_k", "expert_ffn", "capacity_factor", "ffn",
    ]

    /// Graph attributes describing the model.
    public var attributes: [String: String] {
        var a = [
            "model": moe == nil ? "dense" : "moe", "layers": String(layers), "batch": batch.description,
            "seq": seq.description, "hidden": String(hidden), "heads": String(heads), "head_dim": String(headDim),
            "dtype": dtype.rawValue,
        ]
        if causal { a["causal"] = "true" }
        if !isClassic {
            a["kv_heads"] = String(kvHeads)
            a["norm"] = norm.rawValue
            a["mlp"] = mlp.rawValue
            a["activation"] = activation.rawValue
            a["attention"] = attention.rawValue
            if let rope {
                a["rope_theta"] = Self.number(rope.theta)
                if let dims = rope.rotaryDim { a["rotary_dim"] = String(dims) }
            }
            if let slidingWindow { a["sliding_window"] = String(slidingWindow) }
            if let vocab { a["vocab"] = String(vocab) }
            if tiedEmbeddings { a["tie_embeddings"] = "true" }
            if parallelResidual { a["parallel_residual"] = "true" }
            if parallelNorms { a["parallel_norms"] = "true" }
            if normBias { a["norm_bias"] = "true" }
            if qkvBias { a["qkv_bias"] = "true" }
            if outputBias { a["output_bias"] = "true" }
            if mlpBias { a["mlp_bias"] = "true" }
            if headBias { a["head_bias"] = "true" }
            if let positions { a["positions"] = String(positions) }
            if let rope, rope.interleaved { a["rope_interleaved"] = "true" }
            if let kvCacheDtype { a["kv_cache_dtype"] = kvCacheDtype.rawValue }
            if let shared = moe?.sharedExpertFFN { a["shared_expert_ffn"] = String(shared) }
        }
        if let moe {
            a["experts"] = String(moe.experts)
            a["top_k"] = String(moe.topK)
            a["expert_ffn"] = String(moe.expertFFN)
            a["capacity_factor"] = moe.capacityFactor.description
        } else {
            a["ffn"] = String(ffn)
        }
        return a
    }
}

extension TransformerModel {
    /// A number as written in specs and graph attributes: `10000`, not `10000.0`.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// How many query heads share one K/V head.
    public var queriesPerKV: Int { heads / kvHeads }
}

public enum Norm: String, Hashable, Sendable, CaseIterable {
    case layernorm, rmsnorm

    var op: Operator { self == .layernorm ? .layernorm : .rmsnorm }
    var title: String { self == .layernorm ? "LayerNorm" : "RMSNorm" }
}

/// `plain`: FC1, activation, FC2. `gated` (SwiGLU, GeGLU): act(gate(x)) * up(x), then down.
public enum MLPKind: String, Hashable, Sendable, CaseIterable {
    case plain, gated
}

public enum Activation: String, Hashable, Sendable, CaseIterable {
    case gelu, silu, relu

    var op: Operator {
        switch self {
        case .gelu: .gelu
        case .silu: .silu
        case .relu: .relu
        }
    }
    var title: String { rawValue == "gelu" ? "GELU" : rawValue == "silu" ? "SiLU" : "ReLU" }
}

/// `fused`: one FlashAttention-style node per GPU; `materialized`: Q·Kᵀ, softmax, ·V as three
/// nodes, the score matrix written out (what Helix's score all-reduce needs).
public enum AttentionForm: String, Hashable, Sendable, CaseIterable {
    case fused, materialized
}

/// Rotary position embedding: pairs of dimensions rotated by position x theta^(-2i/dims)
/// (the rotate-half layout of GPT-NeoX and Llama), over the first `rotaryDim` of each head.
public struct RotaryEmbedding: Hashable, Sendable {
    public var theta: Double
    public var rotaryDim: Int?
    /// GPT-J's layout: dimensions (2i, 2i + 1) rotate together, not (i, i + r/2).
    public var interleaved: Bool

    public init(theta: Double = 10000, rotaryDim: Int? = nil, interleaved: Bool = false) {
        self.theta = theta
        self.rotaryDim = rotaryDim
        self.interleaved = interleaved
    }
}

/// A mixture-of-experts MLP: `experts` experts of inner width `expertFFN`, each token routed to
/// `topK` of them.
public struct MixtureOfExperts: Hashable, Sendable {
    public var experts: Int
    public var topK: Int
    public var expertFFN: Int
    /// Each expert's buffer holds `tokens x topK / experts x capacityFactor` tokens.
    public var capacityFactor: Dim
    /// A dense expert every token goes through besides the routed ones (Qwen-MoE, DeepSeek).
    public var sharedExpertFFN: Int?

    public init(experts: Int, topK: Int = 2, expertFFN: Int, capacityFactor: Dim = Dim(1)) {
        self.experts = experts
        self.topK = topK
        self.expertFFN = expertFFN
        self.capacityFactor = capacityFactor
    }

    func validate() throws(SpecError) {
        guard experts > 0 else { throw SpecError(key: "experts", "must be a positive integer, got \(experts)") }
        guard topK > 0, topK <= experts else {
            throw SpecError(key: "top_k", "must be between 1 and the number of experts (\(experts)), got \(topK)")
        }
        guard expertFFN > 0 else { throw SpecError(key: "expert_ffn", "must be a positive integer, got \(expertFFN)") }
        guard capacityFactor.isPositive, !capacityFactor.isSymbolic else {
            throw SpecError(key: "capacity_factor", "must be a positive number, got \(capacityFactor)")
        }
    }
}

public enum DataType: String, Hashable, Sendable, CaseIterable {
    case bf16, fp16, fp32
    /// FP8 E4M3, for weights and matmuls (Hopper and later tensor cores).
    case fp8

    public var bytes: Int {
        switch self {
        case .fp8: 1
        case .bf16, .fp16: 2
        case .fp32: 4
        }
    }
}

/// A deployment description that cannot be built, naming the offending key.
public struct SpecError: Error, Equatable, Sendable, CustomStringConvertible {
    public var key: String
    public var reason: String

    public init(key: String, _ reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "'\(key)' \(reason)" }
}
