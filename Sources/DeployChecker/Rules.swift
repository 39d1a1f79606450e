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
    /// The same edge stated twice with nothing to tell the copies apart.
    public static let duplicateEdge = RuleID("duplicate-edge")
    /// A GPU needs more memory (weights plus peak live activations) than the graph's `gpu_type` has.
    public static let memory = RuleID("memory")
    /// A partial sum reaches a nonlinear operator (softmax, a norm, an activation, top-k) or an
    /// output, or a softmax/norm reduces over a sharded dimension.
    public static let partialNonlinear = RuleID("partial-nonlinear")
    /// A partial sum is added to something that is not the matching partial sum.
    public static let partialAdd = RuleID("partial-add")
    /// A reduction sums partial terms over a group other than the one they were made over.
    public static let reduceGroup = RuleID("reduce-group")
    /// The slices of a logical operation do not cover it exactly once, or a node's stated slice
    /// is not the one its inputs make.
    public static let shardCoverage = RuleID("shard-coverage")
    /// A collective's inputs or output disagree with the placements it converts.
    public static let commVolume = RuleID("comm-volume")
    /// Executed on small random data, the DAG does not compute the model its header states.
    public static let numeric = RuleID("numeric")

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
            "an edge joins different GPUs with no communication node between, a communication node touches a GPU outside its group, or a collective is not fed once by each member"
        ),
        (.dangling, "a node on no path from an input to an output"),
        (.duplicateEdge, "the same edge twice with the same operand (one tensor consumed twice by mistake)"),
        (.inputSize, "the file is larger than the input limit (--max-input-mb)"),
        (.memory, "with graph attribute gpu_type: a GPU needs more memory (weights + peak activations) than it has"),
        (
            .partialNonlinear,
            "a Partial(sum) tensor reaches softmax, a norm, an activation, top-k or an output; or a softmax/norm over a sharded dimension"
        ),
        (.partialAdd, "a Partial(sum) tensor added to a Replicate one (or to another part)"),
        (.reduceGroup, "a reduction over a group other than the one the partial sum was made over"),
        (.shardCoverage, "a logical operation's slices do not cover it exactly once, or a node's stated slice is not what its inputs make"),
        (.commVolume, "a collective's inputs or output disagree with the placement it converts"),
        (
            .numeric,
            "executed on random data (verify's semantic pass, on by default for a file with a model header within verify's budget; --no-verify skips it), the DAG's outputs are not the model's"
        ),
        (
            .header,
            "a node disagrees with the model the graph header states: a softmax's or attention's scale with 1/sqrt(head_dim) (or attention without one), a top-k's k with top_k, a dispatch's or combine's experts with experts and with the router's width, a named weight's logical shape with the model's, every strategy's degrees and GPU lists with its gpus"
        ),
    ]
}
