/// The operator a DAG node performs: the DOT attribute `op`.
public enum Operator: String, CaseIterable, Sendable, Hashable, Comparable {
    // Boundaries.
    case input, output
    // Compute.
    case matmul, softmax, layernorm, rmsnorm, add, gelu, silu, concat, split
    // Communication.
    case allReduce = "all_reduce"
    case allGather = "all_gather"
    case reduceScatter = "reduce_scatter"
    case allToAll = "all_to_all"
    case sendRecv = "send_recv"

    public var isCommunication: Bool { kind == .communication }

    public var kind: Kind {
        switch self {
        case .input, .output: .boundary
        case .matmul: .matmul
        case .softmax, .layernorm, .rmsnorm: .normalization
        case .add, .gelu, .silu: .elementwise
        case .concat, .split: .layout
        case .allReduce, .allGather, .reduceScatter, .allToAll, .sendRecv: .communication
        }
    }

    /// Operator classes, used for colours in diagrams and for grouping in reports.
    public enum Kind: String, Sendable, CaseIterable {
        case boundary, matmul, normalization, elementwise, layout, communication
    }

    public static func < (lhs: Operator, rhs: Operator) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Nonlinear operators: a partial sum must be reduced before any of these.
    public var isNonlinear: Bool {
        switch self {
        case .softmax, .layernorm, .rmsnorm, .gelu, .silu: true
        default: false
        }
    }

    /// The operators that take exactly one tensor and return one of the same shape.
    public var isShapePreservingUnary: Bool {
        switch self {
        case .softmax, .layernorm, .rmsnorm, .gelu, .silu, .output: true
        default: false
        }
    }
}
