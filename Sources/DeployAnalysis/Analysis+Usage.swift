import DeployModel

/// One GPU's share of the work.
public struct GPUUsage: Sendable, Hashable {
    public var gpu: Int
    /// Seconds its compute stream is busy.
    public var computeSeconds: Double
    /// Seconds its communication stream is busy.
    public var communicationSeconds: Double
    public var flops: Double
    /// Compute busy time over the makespan.
    public var utilisation: Double
    /// Matmul FLOPs over makespan x peak.
    public var flopsUtilisation: Double?
}

/// One GPU's memory: weights, and the peak of live activations along the schedule.
public struct GPUMemory: Sendable, Hashable {
    public var gpu: Int
    public var weightBytes: Double
    public var peakActivationBytes: Double
    public var capacityBytes: Double?

    public var totalBytes: Double { weightBytes + peakActivationBytes }

    /// What a `memory` finding says about this GPU on `gpu`, nil when it fits.
    public func overCapacityMessage(on gpu: GPUSpec) -> String? {
        guard let over = overBytes else { return nil }
        return
            "GPU \(self.gpu) needs \(Format.bytes(totalBytes)) (weights \(Format.bytes(weightBytes)) + peak activations \(Format.bytes(peakActivationBytes))), but a \(gpu.name) has \(gpu.memoryText): over by \(Format.bytes(over))"
    }
    public var overBytes: Double? { capacityBytes.map { totalBytes - $0 }.flatMap { $0 > 0 ? $0 : nil } }
}

extension Analysis {
    public var gpuUsage: [GPUUsage] {
        var compute: [Int: Double] = [:]
        var comm: [Int: Double] = [:]
        var flops: [Int: Double] = [:]
        for (i, node) in graph.nodes.enumerated() {
            let c = costs[i]
            if let gpu = node.gpu {
                compute[gpu, default: 0] += c.seconds
                flops[gpu, default: 0] += c.flops
            } else {
                for g in node.group { comm[g, default: 0] += c.seconds }
            }
        }
        let gpus = Set(compute.keys).union(comm.keys).sorted()
        return gpus.map { g in
            GPUUsage(
                gpu: g, computeSeconds: compute[g] ?? 0, communicationSeconds: comm[g] ?? 0, flops: flops[g] ?? 0,
                utilisation: makespanSeconds > 0 ? (compute[g] ?? 0) / makespanSeconds : 0,
                flopsUtilisation: peakFLOPs.flatMap { peak in makespanSeconds > 0 ? (flops[g] ?? 0) / (makespanSeconds * peak) : nil })
        }
    }

    /// Bytes sent per link class, summed over the GPUs of every communication.
    public var bytesByLink: [LinkClass: Double] {
        var result: [LinkClass: Double] = [:]
        for (i, node) in graph.nodes.enumerated() where node.op.isCommunication {
            guard let link = costs[i].link else { continue }
            let senders = node.op == .sendRecv ? 1.0 : Double(node.group.count)
            result[link, default: 0] += costs[i].sentBytesPerGPU * senders
        }
        return result
    }

    /// Seconds of the critical path by kind of work.
    public var criticalPathBreakdown: (matmul: Double, communication: Double, other: Double) {
        var result = (matmul: 0.0, communication: 0.0, other: 0.0)
        for v in criticalPath {
            let s = costs[v].seconds
            switch graph.nodes[v].op {
            case .matmul, .attention: result.matmul += s
            case let op where op.isCommunication: result.communication += s
            default: result.other += s
            }
        }
        return result
    }

    /// Seconds of the critical path by what sets each node's time under the cost model:
    /// arithmetic (a node whose FLOPs take longer than its memory traffic: compute-bound),
    /// memory bandwidth (a node whose time is its traffic), or the network (communication).
    /// Under matmul-flops, which prices no traffic, a node with FLOPs is compute-bound.
    public var criticalPathBinding: (compute: Double, memory: Double, network: Double) {
        var result = (compute: 0.0, memory: 0.0, network: 0.0)
        let trafficPriced = options.costModel.gpu != nil
        for v in criticalPath {
            let c = costs[v]
            if graph.nodes[v].op.isCommunication {
                result.network += c.seconds
            } else if c.flops > 0 && (!c.memoryBound || !trafficPriced) {
                result.compute += c.seconds
            } else {
                result.memory += c.seconds
            }
        }
        return result
    }

    /// What binds the critical path: `compute`, `memory bandwidth` or `network`, the largest share.
    public var binding: (resource: String, share: Double)? {
        let b = criticalPathBinding
        let total = b.compute + b.memory + b.network
        guard total > 0 else { return nil }
        let largest = [("compute", b.compute), ("memory bandwidth", b.memory), ("network", b.network)].max { $0.1 < $1.1 }!
        return (largest.0, largest.1 / total)
    }

    /// The critical path's matmuls as the seeds write them: `Get_Time(m, k, n) x count + ...`,
    /// grouped by arguments in order of first appearance, symbolic where the dimensions are;
    /// fused attention as `Attention(...)` terms.
    public var getTimeExpression: String {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for v in criticalPath where graph.nodes[v].op == .matmul || graph.nodes[v].op == .attention {
            let node = graph.nodes[v]
            let a = node.attributes
            let term =
                node.op == .attention
                ? Self.attentionTerm(
                    node, keys: adjacency.predecessors(of: v).lazy.map { self.graph.nodes[Int($0)].out }.first { $0 != node.out })
                : "Get_Time(\(a["m"] ?? "?"), \(a["k"] ?? "?"), \(a["n"] ?? "?"))"
            if counts[term] == nil { order.append(term) }
            counts[term, default: 0] += 1
        }
        return order.map { counts[$0]! > 1 ? "\($0) x \(counts[$0]!)" : $0 }.joined(separator: " + ")
    }

    /// `Attention(b x heads, q, kv, d, causal)`: a fused attention node's arguments.
    public static func attentionTerm(_ node: OperatorNode, keys: Shape?) -> String {
        let q = node.out
        guard q.rank == 4 else { return "Attention(?)" }
        let kv = keys.map { $0.rank == 4 ? $0[1].description : "?" } ?? q[1].description
        var mask = node.attributes["causal"] == "true" ? ", causal" : ""
        if let window = node.attributes["window"] { mask += ", window \(window)" }
        return "Attention(\(q[0])x\(q[2]), \(q[1]), \(kv), \(q[3])\(mask))"
    }

    /// Weights per GPU (each distinct slice of a logical weight a GPU's nodes read, held once:
    /// matmuls, norms, embeddings; micro-batches share them) and the peak of live activations:
    /// a tensor lives on the GPUs that hold it from its producer's start until its last
    /// consumer finishes.
    public var memory: [GPUMemory] {
        var weights: [Int: Double] = [:]
        let bytes = elementBytes
        for (gpu, slices) in graph.weightSlicesByGPU() { weights[gpu] = slices.reduce(0) { $0 + $1.elements } * bytes }
        let cacheBytes = Pricer.cacheElementBytes(of: graph)
        let cache = graph.nodes.contains(where: { $0.op == .kvCache }) ? Pricer.cacheTensors(graph, adjacency) : nil
        var events: [Int: [(time: Double, delta: Double)]] = [:]
        for (v, node) in graph.nodes.enumerated() where node.op != .output {
            guard var elements = node.out.elementCountValue else { continue }
            var release = schedule.finish[v]
            for s in adjacency.successors(of: v) { release = max(release, schedule.finish[Int(s)]) }
            // The K/V cache is resident for the step and after it; its append writes the new
            // tokens in place, at the cache's end, so it adds only those.
            if node.op == .kvCache { release = max(release, schedule.makespan) }
            if node.op == .concat, cache?[v] == true {
                let cached = adjacency.predecessors(of: v).filter { graph.nodes[Int($0)].op == .kvCache }
                if !cached.isEmpty {
                    elements -= cached.reduce(0) { $0 + (graph.nodes[Int($1)].out.elementCountValue ?? 0) }
                    release = max(release, schedule.makespan)
                }
            }
            let size = max(elements, 0) * (cache?[v] == true ? cacheBytes : bytes)
            // A disaggregated graph's K/V cache, once in place on a decode GPU, stays for the
            // step (and the steps after it), as a cache read from memory does.
            if node.block == "kv_transfer", adjacency.successors(of: v).contains(where: { graph.nodes[Int($0)].block != "kv_transfer" }) {
                release = max(release, schedule.makespan)
            }
            let holders: [Int] = node.gpu.map { [$0] } ?? (node.op == .sendRecv ? Array(node.group.suffix(1)) : node.group)
            for g in holders {
                events[g, default: []].append((schedule.start[v], size))
                events[g, default: []].append((release, -size))
            }
        }
        let gpus = Set(weights.keys).union(events.keys).sorted()
        let capacity = options.costModel.gpu?.usableMemory
        return gpus.map { g in
            var live = 0.0
            var peak = 0.0
            // At one instant, what is freed goes first: a consumer that finishes at t releases its
            // inputs before the kernel that starts at t allocates its output.
            let sorted = (events[g] ?? []).sorted { $0.time != $1.time ? $0.time < $1.time : $0.delta < $1.delta }
            for e in sorted {
                live += e.delta
                peak = max(peak, live)
            }
            return GPUMemory(gpu: g, weightBytes: weights[g] ?? 0, peakActivationBytes: peak, capacityBytes: capacity)
        }
    }
}

extension Analysis {
    /// The bytes each member of a communication puts in: the tensor it holds going in (an
    /// all-reduce's whole tensor, an all-gather's part, a reduce-scatter's or all-to-all's whole
    /// buffer), from its own producer's output where the graph has one on that GPU, else from the
    /// node's shapes; a send_recv's source sends its output. These are the message sizes a
    /// collective library (and a Chakra trace's `comm_size`) is called with; `bytesByLink` counts
    /// what the ring algorithms then move.
    public func contributions(of v: Int, adjacency: Adjacency) -> [(gpu: Int, bytes: Double)] {
        let node = graph.nodes[v]
        guard node.op.isCommunication else { return [] }
        let bytes = elementBytes
        let outBytes = (node.out.elementCountValue ?? 0) * bytes
        if node.op == .sendRecv {
            return node.group.first.map { [($0, outBytes)] } ?? []
        }
        let p = Double(max(node.group.count, 1))
        // Each member's producer: the first input whose output is on that GPU.
        var producerOn: [Int: Int] = [:]
        for u in adjacency.predecessors(of: v) {
            for gpu in graph.nodes[Int(u)].gpus where producerOn[gpu] == nil { producerOn[gpu] = Int(u) }
        }
        return node.group.map { gpu in
            if let u = producerOn[gpu], let elements = graph.nodes[u].out.elementCountValue {
                return (gpu, elements * bytes)
            }
            switch node.op {
            case .allGather: return (gpu, outBytes / p)
            case .reduceScatter: return (gpu, outBytes * p)
            default: return (gpu, outBytes)
            }
        }
    }

    /// Bytes the members of every communication of each kind put in (`contributions(of:)`), summed.
    public var contributedBytesByKind: [Operator: Double] {
        var result: [Operator: Double] = [:]
        for (v, node) in graph.nodes.enumerated() where node.op.isCommunication {
            result[node.op, default: 0] += contributions(of: v, adjacency: adjacency).reduce(0) { $0 + $1.bytes }
        }
        return result
    }
}
