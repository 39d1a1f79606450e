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

    public init(
        layers: Int, batch: Dim, seq: Dim, hidden: Int, heads: Int, headDim: Int, ffn: Int,
        dtype: DataType = .bf16
    ) {
        self.layers = layers
        self.batch = batch
        self.seq = seq
        self.hidden = hidden
        self.heads = heads
        self.headDim = headDim
        self.ffn = ffn
        self.dtype = dtype
    }

    /// Checks the model's own consistency: positive sizes, heads x head_dim = hidden.
    public func validate() throws(SpecError) {
        for (key, value) in [("layers", layers), ("hidden", hidden), ("heads", heads), ("head_dim", headDim), ("ffn", ffn)]
        where value <= 0 {
            throw SpecError(key: key, "must be a positive integer, got \(value)")
        }
        guard batch.isPositive else { throw SpecError(key: "batch", "must be positive, got \(batch)") }
        guard seq.isPositive else { throw SpecError(key: "seq", "must be positive, got \(seq)") }
        guard heads * headDim == hidden else {
            throw SpecError(key: "hidden", "must equal heads x head_dim = \(heads) x \(headDim) = \(heads * headDim), got \(hidden)")
        }
    }

    /// Graph attributes describing the model.
    var attributes: [String: String] {
        [
            "model": "dense", "layers": String(layers), "batch": batch.description, "seq": seq.description,
            "hidden": String(hidden), "heads": String(heads), "head_dim": String(headDim), "ffn": String(ffn),
            "dtype": dtype.rawValue,
        ]
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
