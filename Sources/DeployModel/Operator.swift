/// The operator a DAG node performs: the DOT attribute `op`.
public enum Operator: String, CaseIterable, Sendable, Hashable, Comparable {
    // Boundaries. `kv_cache` is a source like `input`: the keys or values cached by earlier
    // decode steps, read from memory.
    case input, output
    case kvCache = "kv_cache"
    // Compute.
    case matmul, softmax, layernorm, rmsnorm, add, gelu, silu, concat, split
    // Today's decoder vocabulary: rotary position embedding on Q and K, an elementwise product
    // (the gate of SwiGLU / GeGLU), ReLU, fused attention (FlashAttention: Q, K, V in, the
    // output out, no score matrix), the token-embedding lookup, and a slice along one dimension
    // (the last token of each sequence before the LM head).
    case rope, mul, relu, attention, embedding, narrow
    // Mixture-of-experts routing: top-k selection of experts per token, the permutation of
    // tokens into per-expert buffers, and the gate-weighted sum back into token order.
    case topk, dispatch, combine
    // Communication.
    case allReduce = "all_reduce"
    case allGather = "all_gather"
    case reduceScatter = "reduce_scatter"
    case allToAll = "all_to_all"
    case sendRecv = "send_recv"

    public var isCommunication: Bool { kind == .communication }

    public var kind: Kind {
        switch self {
        case .input, .output, .kvCache: .boundary
        case .matmul, .attention: .matmul
        case .softmax, .layernorm, .rmsnorm: .normalization
        case .add, .gelu, .silu, .rope, .mul, .relu: .elementwise
        case .concat, .split, .narrow, .embedding: .layout
        case .topk, .dispatch, .combine: .routing
        case .allReduce, .allGather, .reduceScatter, .allToAll, .sendRecv: .communication
        }
    }

    /// Operator classes, used for colours in diagrams and for grouping in reports.
    public enum Kind: String, Sendable, CaseIterable {
        case boundary, matmul, normalization, elementwise, layout, routing, communication
    }

    public static func < (lhs: Operator, rhs: Operator) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Nodes with no inputs: where data enters the DAG.
    public var isSource: Bool { self == .input || self == .kvCache }
}
