/// One node of the operator DAG: an operator on one GPU, or a communication over a group.
public struct OperatorNode: Hashable, Sendable {
    /// The DOT node ID, unique in its graph.
    public var name: String
    public var op: Operator
    /// The GPU a compute, input or output node runs on.
    public var gpu: Int?
    /// The GPUs a communication node spans; for `send_recv`, source then destination.
    public var group: [Int]
    /// The shape of the tensor this node produces, per GPU.
    public var out: Shape
    public var layer: Int?
    /// The part of a layer the node belongs to (`attention`, `mlp`), for per-block views.
    public var block: String?
    /// The readable label; the DOT writer derives one when it is nil.
    public var label: String?
    /// Operator parameters and any further attributes, by DOT attribute name
    /// (`eq`, `weight`, `m`, `k`, `n`, `dim`, `parts`, `scale`, ...). Kept sorted by name.
    public var attributes: NodeAttributes

    public init(
        name: String, op: Operator, gpu: Int? = nil, group: [Int] = [], out: Shape,
        layer: Int? = nil, block: String? = nil, label: String? = nil, attributes: [String: String] = [:]
    ) {
        self.init(
            name: name, op: op, gpu: gpu, group: group, out: out, layer: layer, block: block, label: label,
            attributes: NodeAttributes(attributes))
    }

    public init(
        name: String, op: Operator, gpu: Int? = nil, group: [Int] = [], out: Shape,
        layer: Int? = nil, block: String? = nil, label: String? = nil, attributes: NodeAttributes
    ) {
        self.name = name
        self.op = op
        self.gpu = gpu
        self.group = group
        self.out = out
        self.layer = layer
        self.block = block
        self.label = label
        self.attributes = attributes
    }

    /// The GPUs this node touches: its own, or its group's.
    public var gpus: [Int] {
        if let gpu { return [gpu] }
        return group
    }

    public subscript(attribute name: String) -> String? {
        get { attributes[name] }
        set { attributes[name] = newValue }
    }
}

/// A tensor flowing from one node to another: the producer's output is the consumer's input.
///
/// Stored in 12 bytes (node indices and the operand as 32-bit integers): a million-node DAG has
/// about 1.4 million edges.
public struct TensorEdge: Hashable, Sendable {
    private var fromIndex: Int32
    private var toIndex: Int32
    /// -1 when the edge names no operand.
    private var operandIndex: Int32

    public var from: Int {
        get { Int(fromIndex) }
        set { fromIndex = Int32(newValue) }
    }

    public var to: Int {
        get { Int(toIndex) }
        set { toIndex = Int32(newValue) }
    }

    /// Which operand of the consumer this tensor is (0-based), where order matters (matmul).
    /// At most `Int32.max`.
    public var operand: Int? {
        get { operandIndex < 0 ? nil : Int(operandIndex) }
        set { operandIndex = newValue.map { Int32($0) } ?? -1 }
    }

    public init(from: Int, to: Int, operand: Int? = nil) {
        fromIndex = Int32(from)
        toIndex = Int32(to)
        operandIndex = operand.map { Int32($0) } ?? -1
    }
}
