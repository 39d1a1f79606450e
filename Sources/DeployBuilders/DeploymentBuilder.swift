import DeployModel

/// Builds the finest-granularity operator DAG of a deployment.
public struct DeploymentBuilder: Sendable {
    public init() {}

    public func build(_ deployment: Deployment) throws(SpecError) -> OperatorGraph {
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
