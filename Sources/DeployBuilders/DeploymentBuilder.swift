import DeployModel

/// Builds the finest-granularity operator DAG of a deployment.
public struct DeploymentBuilder: Sendable {
    public init() {}

    public func build(_ deployment: Deployment) throws(SpecError) -> OperatorGraph {
        try deployment.model.validate()
        do {
            switch deployment.strategy {
            case .helix(let groups, let segments):
                return try HelixBuilder(deployment: deployment, groups: groups, segments: segments).build()
            case .tensorPipeline(let tp, let pp):
                return try TensorPipelineBuilder(deployment: deployment, tp: tp, pp: pp).build()
            }
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(key: "model", "cannot be built: \(error)")
        }
    }
}

/// The parts every strategy shares: graph attributes and the Megatron MLP.
extension DAGBuilder {
    init(deployment: Deployment) {
        var attributes = deployment.model.attributes.merging(deployment.strategy.attributes) { a, _ in a }
        attributes["phase"] = "prefill"
        self.init(name: deployment.name, gpus: deployment.strategy.gpuCount, attributes: attributes)
    }

    /// Pre-norm MLP with residual, column-parallel FC1 and row-parallel FC2 over `gpus`
    /// (Megatron): LN, FC1 `[T,h] x [h,f/p]`, GELU, FC2 `[T,f/p] x [f/p,h]` giving a partial sum,
    /// all-reduce over `gpus`, residual add. `x[i]` is the replicated input on `gpus[i]`.
    mutating func mlpBlock(model: TransformerModel, gpus: [Int], x: [Int]) throws -> [Int] {
        block = "mlp"
        let p = gpus.count
        let slice = model.ffn / p
        var partials: [Int] = []
        for (i, gpu) in gpus.enumerated() {
            let ln = unary(.layernorm, "ln2", title: "LayerNorm 2", gpu: gpu, input: x[i])
            let fc1 = try matmul(
                "fc1", title: "FC1 (column-parallel, \(slice) of \(model.ffn))", gpu: gpu, eq: "bsh,hf->bsf", lhs: ln,
                weight: [Dim(model.hidden), Dim(slice)])
            let act = unary(.gelu, "gelu", title: "GELU", gpu: gpu, input: fc1)
            partials.append(
                try matmul(
                    "fc2", title: "FC2 (row-parallel, partial sum)", gpu: gpu, eq: "bsf,fh->bsh", lhs: act,
                    weight: [Dim(slice), Dim(model.hidden)]))
        }
        let reduced = allReduce("mlp_allreduce", title: "FC2 partial sums", group: gpus, inputs: partials)
        return gpus.enumerated().map { i, gpu in
            add("residual2", title: "residual add 2", gpu: gpu, x[i], reduced)
        }
    }
}

func requireDivisible(_ value: Int, by divisor: Int, key: String, _ what: String) throws(SpecError) {
    guard divisor > 0 else { throw SpecError(key: key, "must be positive, got \(divisor)") }
    guard value % divisor == 0 else {
        throw SpecError(key: key, "\(what): \(value) is not divisible by \(divisor)")
    }
}
