import DeployModel

/// Builds the finest-granularity operator DAG of a deployment.
public struct DeploymentBuilder: Sendable {
    public init() {}

    public func build(_ deployment: Deployment) throws(SpecError) -> OperatorGraph {
        guard deployment.microBatches > 1 else { return try buildOne(deployment) }
        let n = deployment.microBatches
        try requireSplittable(
            deployment.model.batch, into: n, key: "micro_batches", "the batch of \(deployment.model.batch) into \(n) micro-batches")
        var part = deployment
        part.microBatches = 1
        do {
            part.model.batch = try deployment.model.batch.divided(by: n)
        } catch {
            throw SpecError(key: "micro_batches", "cannot split the batch: \(error)")
        }
        let chain = try buildOne(part)
        var graph = OperatorGraph(name: deployment.name, gpus: chain.gpus, attributes: chain.attributes)
        graph.attributes["batch"] = deployment.model.batch.description
        graph.attributes["micro_batches"] = String(n)
        for i in 0..<n {
            let offset = graph.nodes.count
            for var node in chain.nodes {
                node.name = "mb\(i).\(node.name)"
                node.attributes["micro_batch"] = String(i)
                // Each micro-batch computes its own logical tensors; the weights are shared.
                for key in ["logical", "cache"] {
                    if let name = node.attributes[key] { node.attributes[key] = "mb\(i).\(name)" }
                }
                if let label = node.label { node.label = "mb\(i) " + label }
                graph.add(node)
            }
            for edge in chain.edges { graph.connect(edge.from + offset, edge.to + offset, operand: edge.operand) }
        }
        return graph
    }

    private func buildOne(_ deployment: Deployment) throws(SpecError) -> OperatorGraph {
        try deployment.model.validate()
        try deployment.strategy.validate(clusterGPUs: deployment.clusterGPUs)
        if case .decode(let context) = deployment.phase {
            guard let l = context.intValue, l >= 2 else {
                throw SpecError(key: "context", "must be an integer of at least 2 (the cached tokens plus the new one), got \(context)")
            }
        }
        do {
            switch deployment.strategy {
            case .helix(let groups, let segments):
                return try HelixStrategy(deployment: deployment, groups: groups, segments: segments).build()
            case .tensorPipeline(let tp, let pp):
                return try TensorPipelineStrategy(deployment: deployment, tp: tp, pp: pp).build()
            case .attentionPool(let base, let pool):
                return try AttentionPoolStrategy(deployment: deployment, base: base, pool: pool).build()
            case .attentionExpertSeparation(let attention, let experts):
                return try SeparationStrategy(deployment: deployment, attention: attention, experts: experts).build()
            }
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(key: "model", "cannot be built: \(error)")
        }
    }
}

func requireDivisible(_ value: Int, by divisor: Int, key: String, _ what: String) throws(SpecError) {
    guard divisor > 0 else { throw SpecError(key: key, "must be positive, got \(divisor)") }
    guard value % divisor == 0 else {
        throw SpecError(key: key, "is \(value), which does not split evenly: \(what)")
    }
}

/// The sequence dimension of a tensor must split into `parts` whole pieces when it is concrete.
func requireSplittable(_ dim: Dim, into parts: Int, key: String, _ what: String) throws(SpecError) {
    if let value = dim.intValue, value % Int64(parts) != 0 {
        throw SpecError(key: key, "is \(value), which does not split evenly: \(what)")
    }
}
