import DeployModel

/// The attribute names of deploydag's DOT schema (documented in docs/dot-schema.md).
public enum DOTSchema {
    public static let gpus = "gpus"
    public static let op = "op"
    public static let gpu = "gpu"
    public static let group = "group"
    public static let out = "out"
    public static let layer = "layer"
    public static let block = "block"
    public static let label = "label"
    /// Edge attribute: which operand of the consumer the tensor is.
    public static let operand = "operand"

    /// Matmul: einsum equation, optional weight operand shape, Get_Time arguments.
    public static let equation = "eq"
    public static let weight = "weight"
    public static let m = "m"
    public static let k = "k"
    public static let n = "n"
    /// concat, split, all_gather, reduce_scatter: the dimension they act on.
    public static let dim = "dim"
    /// split: how many equal parts.
    public static let parts = "parts"
    /// all_to_all: the dimension split across the group and the one concatenated.
    public static let splitDim = "split_dim"
    public static let concatDim = "concat_dim"
    /// softmax: the factor its input is multiplied by first (1/sqrt(head_dim)).
    public static let scale = "scale"
    /// split: which of the equal parts this node is (0-based); optional.
    public static let index = "index"
    /// topk: how many experts each token goes to.
    public static let topK = "k"
    /// dispatch, combine: the number of experts, the tokens each expert's buffer holds, how many
    /// copies of each expert's buffer are made (tensor parallelism inside an expert), and the
    /// capacity factor.
    public static let experts = "experts"
    public static let capacity = "capacity"
    public static let replicas = "replicas"
    public static let capacityFactor = "capacity_factor"
    /// rope: the base of the rotation frequencies, the position of the first token along the
    /// sequence (dim 1), and how many leading dimensions of each head rotate (all by default).
    public static let theta = "theta"
    public static let offset = "offset"
    public static let rotaryDim = "rotary_dim"
    /// softmax and attention: a causal mask (`true`), a sliding window of keys, and the position
    /// of the first query among the keys (decode: the cached tokens before it).
    public static let causal = "causal"
    public static let window = "window"
    public static let queryOffset = "q_offset"
    /// narrow: the first index along `dim` (negative counts from the end) and how many.
    public static let start = "start"
    public static let length = "length"
    /// matmul: a bias vector is added (its logical tensor is the weight's, suffixed `.bias`).
    public static let bias = "bias"
    /// input: `tokens` for token ids (shape [batch, seq]) rather than activations.
    public static let data = "data"

    /// The core attributes, written first in this order; any others follow sorted by name.
    static let coreNodeAttributes: Set<String> = [op, gpu, group, out, layer, block, label]
}
