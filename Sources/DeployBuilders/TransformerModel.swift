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

    public init(
        layers: Int, batch: Dim, seq: Dim, hidden: Int, heads: Int, headDim: Int, ffn: Int,
        dtype: DataType = .bf16, moe: MixtureOfExperts? = nil
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
    }

    /// Graph attributes describing the model.
    var attributes: [String: String] {
        var a = [
            "model": moe == nil ? "dense" : "moe", "layers": String(layers), "batch": batch.description,
            "seq": seq.description, "hidden": String(hidden), "heads": String(heads), "head_dim": String(headDim),
            "dtype": dtype.rawValue,
        ]
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

/// A mixture-of-experts MLP: `experts` experts of inner width `expertFFN`, each token routed to
/// `topK` of them.
public struct MixtureOfExperts: Hashable, Sendable {
    public var experts: Int
    public var topK: Int
    public var expertFFN: Int
    /// Each expert's buffer holds `tokens x topK / experts x capacityFactor` tokens.
    public var capacityFactor: Dim

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

    public var bytes: Int {
        switch self {
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
