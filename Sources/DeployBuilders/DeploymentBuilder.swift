import DeployModel

/// Builds the finest-granularity operator DAG of a deployment.
public struct DeploymentBuilder: Sendable {
    public init() {}

    public func build(_ deployment: Deployment) throws(SpecError) -> OperatorGraph {
        if let side = deployment.disaggregatedDecode { return try disaggregated(deployment, side) }
        if !deployment.rankOrder.isEmpty {
            var inner = deployment
            inner.rankOrder = []
            return try Self.renumbered(try build(inner), deployment)
        }
        if deployment.dataParallel > 1 { return try dataParallel(deployment) }
        if deployment.layoutStages > 1 { return try pipelined(deployment) }
        guard deployment.microBatches > 1 else { return try buildOne(deployment) }
        let n = deployment.microBatches
        var part = deployment
        part.microBatches = 1
        part.model.batch = try Self.batchShare(deployment, into: n, key: "micro_batches", "micro-batches")
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

    /// `d` replicas of the pipeline, replica `r` on GPUs `r x n ..< (r + 1) x n` (n the
    /// pipeline's GPUs) with sequences `r x batch/d ..< (r + 1) x batch/d`: every tensor it
    /// holds is part `r` of the model's along the batch; the weights are whole in each.
    private func dataParallel(_ deployment: Deployment) throws(SpecError) -> OperatorGraph {
        let d = deployment.dataParallel
        guard d <= GPUList.maximum else { throw SpecError(key: "dp", "must be at most \(GPUList.maximum), got \(d)") }
        var part = deployment
        part.dataParallel = 1
        part.model.batch = try Self.batchShare(deployment, into: d, key: "dp", "replicas")
        let replica = try build(part)
        let n = replica.gpus ?? deployment.strategy.gpuCount
        let (total, overflow) = n.multipliedReportingOverflow(by: d)
        guard !overflow, total <= GPUList.maximum else {
            throw SpecError(key: "dp", "\(d) replicas of \(n) GPUs pass the maximum of \(GPUList.maximum) GPUs")
        }
        var graph = OperatorGraph(name: deployment.name, gpus: total, attributes: replica.attributes)
        graph.attributes["batch"] = deployment.model.batch.description
        graph.attributes["dp"] = String(d)
        graph.reserveCapacity(nodes: replica.nodes.count * d, edges: replica.edges.count * d)
        // A replicated tensor becomes part r of the batch computed on every GPU that held it:
        // declared as that many copies, as a replicated part is.
        var holders: [String: Int] = [:]
        for node in replica.nodes where !node.op.isCommunication {
            guard let text = node.attributes["place"], let place = Placement.parse(text), place.isReplicate, place.copies == nil,
                let logical = node.attributes["logical"]
            else { continue }
            holders[logical, default: 0] += 1
        }
        for r in 0..<d {
            let offset = graph.nodes.count
            let shift = r * n
            for var node in replica.nodes {
                node = Self.shifting(node, by: shift)
                node.name = "dp\(r)." + node.name
                node.label = node.label.map { "dp\(r) " + $0 }
                // Every tensor is the model's own, batch first: this replica holds part r of the
                // batch, inside which the replica's own split (a token slice in decode) applies.
                if let text = node.attributes["place"], let place = Placement.parse(text) {
                    var mine = place
                    let outer = Placement.Part(r, of: d)
                    mine.shards[0] = place.shards[0].flatMap { outer.refined($0) } ?? outer
                    if place.isReplicate, place.copies == nil, let count = node.attributes["logical"].flatMap({ holders[$0] }), count > 1 {
                        mine.copies = count
                    }
                    node.attributes["place"] = mine.description
                }
                graph.add(node)
            }
            for edge in replica.edges { graph.connect(edge.from + offset, edge.to + offset, operand: edge.operand) }
        }
        return graph
    }

    /// The batch one of `parts` shares takes (micro-batches, data-parallel replicas), refused
    /// under `key` when it does not split evenly.
    static func batchShare(_ deployment: Deployment, into parts: Int, key: String, _ what: String) throws(SpecError) -> Dim {
        let batch = deployment.model.batch
        if let value = batch.intValue, value % Int64(parts) != 0 {
            throw SpecError(key: key, "is \(parts), which does not divide the batch of \(value) into as many \(what)")
        }
        do {
            return try batch.divided(by: parts)
        } catch {
            throw SpecError(key: key, "cannot split the batch: \(error)")
        }
    }

    enum GPUText { case names, labels }

    /// GPU ids shifted by `shift` where the builders write them: `gpu<N>` in names; `GPU <N>`,
    /// `GPUs <list>` and a transfer's `GPU <a> → <b>` in labels.
    static func shiftingGPUs(in text: String, by shift: Int, pattern: GPUText) -> String {
        guard shift != 0 else { return text }
        return mappingGPUs(in: text, pattern: pattern) { $0 + shift }
    }

    /// `node` on GPUs `shift` further: its GPU, group and the ids in its name and label.
    static func shifting(_ node: OperatorNode, by shift: Int) -> OperatorNode {
        shift == 0 ? node : movingGPUs(node) { $0 + shift }
    }

    /// `node` with every GPU id it states (its GPU, its group, the ids in its name and label)
    /// replaced by `map` of it.
    static func movingGPUs(_ node: OperatorNode, _ map: (Int) -> Int) -> OperatorNode {
        var node = node
        node.name = mappingGPUs(in: node.name, pattern: .names, map)
        node.gpu = node.gpu.map(map)
        node.group = node.group.map(map)
        node.label = node.label.map { mappingGPUs(in: $0, pattern: .labels, map) }
        return node
    }

    /// GPU ids replaced by `map` of them where the builders write them (`shiftingGPUs`), in one
    /// scan: each id is mapped once (a regular expression per pattern took about 300 us a node).
    static func mappingGPUs(in text: String, pattern: GPUText, _ map: (Int) -> Int) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var i = 0
        func isDigit(_ j: Int) -> Bool { j < bytes.count && bytes[j] >= 48 && bytes[j] <= 57 }
        func matches(_ literal: [UInt8], at j: Int) -> Bool {
            guard j + literal.count <= bytes.count else { return false }
            for k in literal.indices where bytes[j + k] != literal[k] { return false }
            return true
        }
        let (gpu, gpus, gpuSpace) = (Array("gpu".utf8), Array("GPUs ".utf8), Array("GPU ".utf8))
        /// Copies the mapped number at `j` (digits) and returns the index after it.
        func number(at j: Int) -> Int {
            var end = j
            var value = 0
            while isDigit(end), value < Int.max / 10 {
                value = value * 10 + Int(bytes[end] - 48)
                end += 1
            }
            out += Array(String(map(value)).utf8)
            return end
        }
        let arrow = Array(" → ".utf8)
        while i < bytes.count {
            switch pattern {
            case .names:
                if bytes[i] == 103, matches(gpu, at: i), isDigit(i + 3) {
                    out += bytes[i..<(i + 3)]
                    i = number(at: i + 3)
                    continue
                }
            case .labels:
                if bytes[i] == 71, matches(gpus, at: i) {
                    var end = i + 5
                    while end < bytes.count, isDigit(end) || bytes[end] == 44 || bytes[end] == 45 { end += 1 }
                    if end > i + 5, let ids = GPUList.parse(String(decoding: bytes[(i + 5)..<end], as: UTF8.self)) {
                        out += gpus + Array(GPUList.compact(ids.map(map)).utf8)
                        i = end
                        continue
                    }
                } else if bytes[i] == 71, matches(gpuSpace, at: i), isDigit(i + 4) {
                    out += gpuSpace
                    i = number(at: i + 4)
                    if matches(arrow, at: i), isDigit(i + arrow.count) {
                        out += arrow
                        i = number(at: i + arrow.count)
                    }
                    continue
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The deployment's GPUs numbered with the degrees nested in `deployment.rankOrder`
    /// (innermost first) in place of the builders' tp, then cp or ep's attention groups, then
    /// pp, then dp: which degree's groups are neighbours, and so share a node's NVLink.
    static func renumbered(_ graph: OperatorGraph, _ deployment: Deployment) throws(SpecError) -> OperatorGraph {
        guard case .tensorPipeline(let tp, let pp) = deployment.strategy else {
            throw SpecError(key: "order", "orders the degrees of tp_pp; this strategy places its GPUs itself")
        }
        let rowName = deployment.contextParallel > 1 ? "cp" : "ep"
        let canonical: [(String, Int)] = [("tp", tp), (rowName, deployment.rowsPerStage), ("pp", pp), ("dp", deployment.dataParallel)]
        var order: [(String, Int)] = []
        for name in deployment.rankOrder {
            guard let degree = canonical.first(where: { $0.0 == name || (name == "ep" && $0.0 == rowName && rowName == "ep") }) else {
                throw SpecError(
                    key: "order",
                    "names '\(name)', which is not a degree of this deployment: give some of \(canonical.map(\.0).joined(separator: ", "))")
            }
            guard !order.contains(where: { $0.0 == degree.0 }) else { throw SpecError(key: "order", "names '\(name)' twice") }
            order.append(degree)
        }
        order += canonical.filter { degree in !order.contains { $0.0 == degree.0 } }
        let total = canonical.reduce(1) { $0 * $1.1 }
        var map = [Int](repeating: 0, count: total)
        for g in 0..<total {
            // The builders' coordinates of g, tp innermost, then its id in the order asked for.
            var rest = g
            var coordinate: [String: Int] = [:]
            for (name, degree) in canonical {
                coordinate[name] = rest % degree
                rest /= degree
            }
            var id = 0
            for (name, degree) in order.reversed() { id = id * degree + coordinate[name]! }
            map[g] = id
        }
        if map.enumerated().allSatisfy({ $0.offset == $0.element }) { return graph }
        var nodes: [OperatorNode] = []
        nodes.reserveCapacity(graph.nodes.count)
        for node in graph.nodes { nodes.append(movingGPUs(node) { map[$0] }) }
        var attributes = graph.attributes
        attributes["order"] = order.filter { $0.1 > 1 }.map(\.0).joined(separator: ",")
        return OperatorGraph(name: graph.name, gpus: graph.gpus, attributes: attributes, nodes: nodes, edges: graph.edges)
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
