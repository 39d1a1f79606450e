import DeployModel

extension RuleID {
    /// The graph has a cycle.
    public static let cycle = RuleID("cycle")
    /// A tensor does not fit its consumer's operator rule.
    public static let shape = RuleID("shape")
    /// A matmul's stated `m`, `k`, `n` disagree with its operand shapes.
    public static let matmulMKN = RuleID("matmul-mkn")
    /// A GPU id outside 0..gpus-1.
    public static let gpuRange = RuleID("gpu-range")
    /// A GPU the deployment must cover runs no compute node.
    public static let gpuCoverage = RuleID("gpu-coverage")
    /// Data crosses GPUs without a communication node, or a communication node is fed from or
    /// feeds a GPU outside its group.
    public static let crossGPU = RuleID("cross-gpu")
    /// A node on no path from an input to an output.
    public static let dangling = RuleID("dangling")
    /// A GPU needs more memory (weights plus peak live activations) than the graph's `gpu_type` has.
    public static let memory = RuleID("memory")

    /// Every rule `deploydag check` applies, with a one-line description, for `--help` and docs.
    public static let catalogue: [(RuleID, String)] = [
        (.syntax, "the DOT text cannot be parsed (reported with its line)"),
        (.schema, "a missing, unknown or malformed attribute (op, gpu, group, out, eq, m/k/n, dim, ...)"),
        (.cycle, "the graph has a cycle; one is printed, its nodes in order"),
        (.shape, "a tensor does not fit its consumer: matmul operands, elementwise equality, concat/split sums, collective group sizes"),
        (.matmulMKN, "a matmul's m, k, n disagree with its operand shapes and equation"),
        (.gpuRange, "a GPU id outside 0..gpus-1"),
        (.gpuCoverage, "a GPU in range runs no compute node"),
        (
            .crossGPU,
            "an edge joins different GPUs with no communication node between, or a communication node touches a GPU outside its group"
        ),
        (.dangling, "a node on no path from an input to an output"),
        (.memory, "with graph attribute gpu_type: a GPU needs more memory (weights + peak activations) than it has"),
    ]
}
