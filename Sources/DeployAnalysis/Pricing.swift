import DeployModel
import Foundation

/// What one node costs.
public struct NodeCost: Sendable, Hashable {
    public var seconds: Double
    /// Tensor-core FLOPs: matmuls (2mkn) and fused attention (4 x batch x heads x head_dim per
    /// visible query-key pair); other operators count 0.
    public var flops: Double
    /// Bytes read and written in the GPU's memory.
    public var memoryBytes: Double
    /// Bytes each GPU of a communication sends.
    public var sentBytesPerGPU: Double
    public var link: LinkClass?
    /// Whether the node's memory traffic, not its FLOPs, sets its time under the cost model (a
    /// kernel without FLOPs always).
    public var memoryBound = true

    public static let zero = NodeCost(seconds: 0, flops: 0, memoryBytes: 0, sentBytesPerGPU: 0, link: nil)
}

/// Prices the nodes of one graph under a cost model and a network model.
public struct Pricer: Sendable {
    public var costModel: CostModel
    public var network: NetworkModel
    /// Bytes per element, from the graph's `dtype`.
    public var elementBytes: Double
    /// Bytes per element of the K/V cache (`kv_cache_dtype`, else `dtype`).
    public var cacheElementBytes: Double

    public init(costModel: CostModel, network: NetworkModel, elementBytes: Double) {
        self.costModel = costModel
        self.network = network
        self.elementBytes = elementBytes
        cacheElementBytes = elementBytes
    }

    /// Bytes per element of a graph's K/V cache: `kv_cache_dtype` when given, else `dtype`.
    public static func cacheElementBytes(of graph: OperatorGraph) -> Double {
        guard let text = graph.attributes["kv_cache_dtype"] else { return elementBytes(of: graph) }
        return elementBytes(dtype: text)
    }

    /// The nodes whose output is K/V cache: the cached tokens, and the cache with the new
    /// token appended.
    public static func cacheTensors(_ graph: OperatorGraph, _ adjacency: Adjacency) -> [Bool] {
        var cache = graph.nodes.map { $0.op == .kvCache }
        for (v, node) in graph.nodes.enumerated() where node.op == .concat {
            if adjacency.predecessors(of: v).contains(where: { graph.nodes[Int($0)].op == .kvCache }) { cache[v] = true }
        }
        return cache
    }

    /// The expected share of an expert's weights a step reads: under uniform top-k routing of
    /// `T` tokens over `E` experts an expert is chosen by none with probability `(1 - k/E)^T`,
    /// and a grouped GEMM skips an expert with no token. At Mixtral's batch-1 decode (k 2 of E 8)
    /// that is 1/4 of each expert, two experts' weights in all, where the DAG's capacity buffers
    /// run every expert; from some dozens of tokens on, every expert is read. `T` is the tokens of
    /// one replica's micro-batch (graph attributes `batch`, `seq`, `phase`, `dp`, `micro_batches`).
    /// nil for a graph without experts.
    public static func expertTouched(_ graph: OperatorGraph) -> Double? {
        let a = graph.attributes
        guard let experts = a["experts"].flatMap(Double.init), let k = a["top_k"].flatMap(Double.init), experts > 0, k > 0, k <= experts,
            let batch = a["batch"].flatMap(Dim.init)?.doubleValue
        else { return nil }
        let seq = a["phase"] == "decode" ? 1 : a["seq"].flatMap(Dim.init)?.doubleValue ?? 1
        let replicas = (a["dp"].flatMap(Double.init) ?? 1) * (a["micro_batches"].flatMap(Double.init) ?? 1)
        let tokens = max(1, batch * seq / max(replicas, 1))
        return 1 - pow(1 - k / experts, tokens)
    }

    /// Whether a matmul's weight is an expert's (its `weight_logical` names `.expert`).
    public static func isExpertWeight(_ node: OperatorNode) -> Bool {
        node.op == .matmul && node.attributes["weight_logical"]?.contains(".expert") == true
    }

    /// Bytes per element of a graph's `dtype` attribute (bf16 when absent).
    public static func elementBytes(of graph: OperatorGraph) -> Double { elementBytes(dtype: graph.attributes["dtype"]) }

    static func elementBytes(dtype: String?) -> Double {
        switch dtype {
        case "fp32": 4
        case "fp8": 1
        default: 2
        }
    }

    /// The cost of `node` given its inputs' shapes; nil when a dimension is symbolic. `cache`
    /// says which inputs, and whether the output, are K/V cache (priced at its own format).
    /// `weightTouched`: the expected share of a matmul's weight that is read (an expert whose
    /// buffer may stay empty: `Pricer.expertTouched`); 1 for every other matmul.
    public func price(
        _ node: OperatorNode, inputs: [Shape], cache: (inputs: [Bool], output: Bool)? = nil, weightTouched: Double = 1
    ) -> NodeCost? {
        guard let outElements = node.out.elementCountValue else { return nil }
        let outBytes = outElements * (cache?.output == true ? cacheElementBytes : elementBytes)
        func bytesPerElement(ofInput i: Int) -> Double {
            guard let cache, i < cache.inputs.count, cache.inputs[i] else { return elementBytes }
            return cacheElementBytes
        }
        if node.op.isCommunication {
            if case .matmulFLOPs = costModel { return .zero }
            return communication(node, outBytes: outBytes, inputs: inputs)
        }
        switch node.op {
        case .input, .output:
            return .zero
        case .matmul:
            guard let m = node.attributes["m"].flatMap(Dim.init)?.doubleValue,
                let k = node.attributes["k"].flatMap(Dim.init)?.doubleValue,
                let n = node.attributes["n"].flatMap(Dim.init)?.doubleValue
            else { return nil }
            let flops = 2 * m * k * n
            var bytes: Double
            if inputs.count == 2, let a = inputs[0].elementCountValue, let b = inputs[1].elementCountValue {
                // Two activations (materialized attention's Q·Kᵀ and A·V): each operand as it is,
                // a K or V of every batch element and head read once for its own (the m, k, n of
                // the flattened product would count it once for all of them), a cache operand in
                // its format.
                bytes = a * bytesPerElement(ofInput: 0) + b * bytesPerElement(ofInput: 1) + outBytes
            } else {
                bytes = m * k * bytesPerElement(ofInput: 0) + k * n * elementBytes * weightTouched + m * n * elementBytes
            }
            let seconds: Double
            var memoryBound = false
            switch costModel {
            case .roofline(let gpu, let efficiency):
                let (compute, memory) = (flops / (gpu.peakFLOPs * efficiency), bytes / gpu.memoryBandwidth)
                (seconds, memoryBound) = (max(compute, memory), memory >= compute)
            case .calibrated(let gpu, let efficiency):
                (seconds, memoryBound) = gpu.kernels.gemmTime(
                    m: m, k: k, n: n, bytes: bytes, peak: gpu.peakFLOPs, bandwidth: gpu.memoryBandwidth, efficiency: efficiency)
            case .table(let table, let gpu):
                let modelled = gpu.kernels.gemmTime(
                    m: m, k: k, n: n, bytes: bytes, peak: gpu.peakFLOPs, bandwidth: gpu.memoryBandwidth,
                    efficiency: gpu.kernels.gemmEfficiency ?? 0.8)
                (seconds, memoryBound) = (table.seconds(m: m, k: k, n: n) ?? modelled.seconds, modelled.memoryBound)
            case .matmulFLOPs(let t):
                seconds = flops / (t * 1e12)
            }
            bytes = bytes.isFinite ? bytes : 0
            return NodeCost(
                seconds: seconds, flops: flops, memoryBytes: bytes, sentBytesPerGPU: 0, link: nil, memoryBound: memoryBound)
        case .attention:
            return fusedAttention(node, inputs: inputs, outBytes: outBytes, bytesPerElement: bytesPerElement)
        case .kvCache:
            // The cache is resident, as the weights are: no kernel reads it but its consumers
            // (the attention that attends to it), which count its bytes.
            return .zero
        default:
            // Memory-bound operators: read the inputs, write the output (a slice reads only what
            // it keeps; a cache's append writes only the new tokens, in place).
            var bytes = outBytes
            if node.op == .narrow {
                bytes = 2 * outBytes
            } else if node.op == .concat, let cache, cache.output, cache.inputs.contains(true) {
                var appended = 0.0
                for (i, shape) in inputs.enumerated() where !(i < cache.inputs.count && cache.inputs[i]) {
                    guard let e = shape.elementCountValue else { return nil }
                    appended += e
                }
                bytes = appended * (elementBytes + cacheElementBytes)
            } else {
                for (i, shape) in inputs.enumerated() {
                    guard let e = shape.elementCountValue else { return nil }
                    bytes += e * bytesPerElement(ofInput: i)
                }
            }
            let seconds: Double
            switch costModel {
            case .matmulFLOPs: seconds = 0
            case .roofline(let gpu, _): seconds = bytes / gpu.memoryBandwidth
            case .calibrated(let gpu, _): seconds = gpu.kernels.streamSeconds(bytes: bytes, bandwidth: gpu.memoryBandwidth)
            case .table(let table, let gpu):
                seconds =
                    table.kernelSeconds(op: node.op.rawValue, bytes: bytes)
                    ?? gpu.kernels.streamSeconds(bytes: bytes, bandwidth: gpu.memoryBandwidth)
            }
            return NodeCost(seconds: seconds, flops: 0, memoryBytes: bytes, sentBytesPerGPU: 0, link: nil)
        }
    }

    /// Fused attention (FlashAttention) is one kernel: its FLOPs are two products over the
    /// visible query-key pairs of every head (QKᵀ and PV, 2 x 2 x head_dim each); its memory
    /// traffic is Q, K, V and the output, the score matrix never leaving the chip. Priced at
    /// the cost model's attention efficiency (a table's `attention` rows where it has them).
    private func fusedAttention(
        _ node: OperatorNode, inputs: [Shape], outBytes: Double, bytesPerElement: (Int) -> Double
    ) -> NodeCost? {
        guard inputs.count == 3, let q = inputs.first(where: { $0 == node.out }) ?? inputs.first, q.rank == 4,
            let b = q[0].doubleValue, let queries = q[1].doubleValue, let heads = q[2].doubleValue, let d = q[3].doubleValue
        else { return nil }
        let kv = inputs.filter { $0 != q }.first ?? inputs[1]
        guard kv.rank == 4, let keys = kv[1].doubleValue else { return nil }
        var bytes = outBytes
        for (i, shape) in inputs.enumerated() {
            guard let e = shape.elementCountValue else { return nil }
            bytes += e * bytesPerElement(i)
        }
        let a = node.attributes
        let pairs = Self.visiblePairs(
            queries: queries, keys: keys, offset: a["q_offset"].flatMap(Double.init) ?? 0, causal: a["causal"] == "true",
            window: a["window"].flatMap(Double.init))
        let flops = 4 * b * heads * d * pairs
        /// At `fraction` of the tensor-core peak against the bytes at the achievable bandwidth.
        func kernel(_ gpu: GPUSpec, fraction: Double) -> (Double, Bool) {
            let k = gpu.kernels
            let (compute, memory) = (flops / (gpu.peakFLOPs * fraction), bytes / (gpu.memoryBandwidth * k.memoryEfficiency))
            return (k.launchSeconds + max(compute, memory), memory >= compute)
        }
        var seconds: Double
        var memoryBound = false
        switch costModel {
        case .roofline(let gpu, let efficiency):
            let (compute, memory) = (flops / (gpu.peakFLOPs * efficiency), bytes / gpu.memoryBandwidth)
            (seconds, memoryBound) = (max(compute, memory), memory >= compute)
        case .calibrated(let gpu, let efficiency):
            (seconds, memoryBound) = kernel(gpu, fraction: gpu.kernels.attentionEfficiency ?? efficiency)
        case .table(let table, let gpu):
            (seconds, memoryBound) = kernel(gpu, fraction: gpu.kernels.attentionEfficiency ?? gpu.kernels.gemmEfficiency ?? 0.8)
            if let measured = table.kernelSeconds(op: "attention", bytes: bytes) { seconds = measured }
        case .matmulFLOPs(let t):
            seconds = flops / (t * 1e12)
        }
        return NodeCost(seconds: seconds, flops: flops, memoryBytes: bytes, sentBytesPerGPU: 0, link: nil, memoryBound: memoryBound)
    }

    /// The query-key pairs a mask lets through: query `i` (of `queries`) sits at position
    /// `offset + i` and sees key `j` (of `keys`) when `j <= position` (causal) and
    /// `j > position - window`. Summed in closed form over the pieces where the count is linear.
    static func visiblePairs(queries: Double, keys: Double, offset: Double, causal: Bool, window: Double?) -> Double {
        guard causal || window != nil else { return queries * keys }
        let w = window ?? .infinity
        let (first, end) = (offset, offset + queries)
        let cuts = ([first, end] + [keys - 1, w - 1, keys - 1 + w].filter { $0 > first && $0 < end }).sorted()
        var total = 0.0
        for (a, b) in zip(cuts, cuts.dropFirst()) where b > a {
            // On [a, b) the visible keys of position p are hi(p) - lo(p) + 1, linear in p.
            let mid = (a + b - 1) / 2
            let (hiSlope, hiBase): (Double, Double) = causal && mid < keys - 1 ? (1, 0) : (0, keys - 1)
            let (loSlope, loBase): (Double, Double) = mid < w - 1 ? (0, 0) : (1, 1 - w)
            let (slope, base) = (hiSlope - loSlope, hiBase - loBase + 1)
            guard slope * mid + base > 0 else { continue }
            let count = b - a
            total += slope * (a + b - 1) * count / 2 + base * count
        }
        return total
    }

    /// Ring algorithms (domain facts): all-gather and reduce-scatter `(p-1) alpha + (p-1)/p V / B`,
    /// all-reduce twice that, all-to-all `(p-1) alpha + (p-1)/p x buffer / B`, send/recv `alpha + V / B`.
    private func communication(_ node: OperatorNode, outBytes: Double, inputs: [Shape]) -> NodeCost? {
        let p = Double(node.group.count)
        let link = network.linkClass(node.group)
        let bandwidth = network.bandwidth(link)
        let inBytes = (inputs.first?.elementCountValue).map { $0 * elementBytes } ?? outBytes
        let steps: Double
        let sent: Double
        switch node.op {
        case .allReduce:
            steps = 2 * (p - 1)
            sent = 2 * (p - 1) / p * outBytes
        case .allGather:
            steps = p - 1
            sent = (p - 1) / p * outBytes
        case .reduceScatter:
            steps = p - 1
            sent = (p - 1) / p * inBytes
        case .allToAll:
            steps = p - 1
            sent = (p - 1) / p * inBytes
        default:  // send_recv
            steps = 1
            sent = outBytes
        }
        var seconds = steps * network.alpha + sent / bandwidth
        let volume = node.op == .reduceScatter || node.op == .allToAll ? inBytes : outBytes
        if network.algorithms == .nccl { seconds = ncclSeconds(node.op, group: node.group, bytes: volume) }
        if case .table(let table, _) = costModel,
            let measured = table.collectiveSeconds(op: node.op.rawValue, gpus: node.group.count, link: link, bytes: volume)
        {
            seconds = measured
        }
        return NodeCost(seconds: seconds, flops: 0, memoryBytes: 0, sentBytesPerGPU: sent, link: link)
    }

    /// A collective as NCCL and the serving runtimes run it (`CollectiveAlgorithms.nccl`): `bytes`
    /// is the whole tensor (an all-reduce's, an all-gather's result, a reduce-scatter's or
    /// all-to-all's buffer, a transfer's). Inside a node on NVSwitch the fastest of a ring, a
    /// one-shot and a two-shot (direct) algorithm and NVLS; across nodes hierarchical (NVLink
    /// inside each node, the network over each GPU's shard, the phases pipelined) or a flat ring
    /// whose steps inside a node pay NVLink's latency and only those across nodes the network's,
    /// whichever is faster.
    func ncclSeconds(_ op: Operator, group: [Int], bytes v: Double) -> Double {
        let c = network.collectives
        let p = Double(group.count)
        guard p > 1 || op == .sendRecv else { return c.launchSeconds }
        let perNode = Dictionary(grouping: group, by: { $0 / max(network.gpusPerNode, 1) }).values.map(\.count)
        let nodes = Double(perNode.count)
        let local = Double(perNode.max() ?? 1)
        let nv = network.intraNodeBandwidth * c.nvlinkEfficiency
        let net = network.interNodeBandwidth * c.networkEfficiency
        let (hop, netHop) = (c.nvlinkHopSeconds, c.networkHopSeconds)
        /// Inside one node: ring, or direct over NVSwitch.
        func intra(_ op: Operator, _ p: Double, _ v: Double) -> Double {
            guard p > 1 else { return 0 }
            switch op {
            case .allReduce:
                var best = 2 * (p - 1) * hop + 2 * (p - 1) / p * v / nv
                if c.nvswitch {
                    best = min(best, hop + (p - 1) * v / nv)  // one-shot: every peer's whole tensor
                    best = min(best, 2 * hop + 2 * (p - 1) / p * v / nv)  // two-shot: direct RS + AG
                }
                if let nvls = c.nvlsEfficiency { best = min(best, 2 * hop + v / (network.intraNodeBandwidth * nvls)) }
                return best
            case .sendRecv:
                return hop + v / nv
            default:  // all-gather, reduce-scatter, all-to-all: each GPU moves (p-1)/p of v
                let steps = c.nvswitch ? 1 : p - 1
                return steps * hop + (p - 1) / p * v / nv
            }
        }
        if nodes <= 1 { return c.launchSeconds + intra(op, p, v) }
        switch op {
        case .sendRecv:
            return c.launchSeconds + netHop + v / net
        case .allReduce:
            // A flat ring, a channel per NIC: only the 2(nodes - 1) steps that cross nodes pay the
            // network's latency, the others NVLink's (NCCL's tuning model).
            let flat =
                2 * (nodes - 1) * netHop + 2 * (p - nodes) * hop + 2 * (p - 1) / p * v / min(net * local, nv)
            // Hierarchical, its phases pipelined in chunks: the latencies add, the slowest
            // phase's bandwidth binds.
            let shard = v / local
            let latencies = 2 * hop + 2 * (nodes - 1) * netHop
            let phases = max(2 * (local - 1) / local * v / nv, 2 * (nodes - 1) / nodes * shard / net)
            return c.launchSeconds + min(flat, latencies + phases)
        case .allGather, .reduceScatter:
            let shard = v / local
            let latencies = hop + (nodes - 1) * netHop
            return c.launchSeconds + latencies + max((local - 1) / local * v / nv, (nodes - 1) / nodes * shard / net)
        default:  // all-to-all: the part for other nodes leaves through this GPU's share of the NICs
            let inside = (local - 1) / p * v / nv
            let outside = (p - local) / p * v / net
            return c.launchSeconds + netHop + max(inside, outside)
        }
    }
}
