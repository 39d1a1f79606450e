import DeployModel

/// Options of one analysis.
public struct AnalysisOptions: Sendable {
    public var costModel: CostModel
    public var network: NetworkModel

    public init(costModel: CostModel, network: NetworkModel = NetworkModel()) {
        self.costModel = costModel
        self.network = network
    }
}

extension AnalysisOptions {
    /// What the commands price with unless told otherwise (`--cost calibrated`, `--gpu h100-sxm`):
    /// the calibrated model on an H100 in an 8-GPU NVSwitch node, NCCL-like collectives.
    public static let standard = AnalysisOptions(
        costModel: .calibrated(.h100SXM, efficiency: GPUSpec.h100SXM.kernels.gemmEfficiency ?? 0.8),
        network: NetworkModel(algorithms: .nccl, collectives: .dgxHopper))
}

/// Everything `deploydag analyze` reports about one DAG, derived from the graph.
public struct Analysis: Sendable {
    public let graph: OperatorGraph
    public let options: AnalysisOptions
    /// Per node; zero where a dimension stayed symbolic.
    public let costs: [NodeCost]
    /// Symbols that stayed unbound: seconds are then not meaningful.
    public let unboundSymbols: [String]

    public let criticalPath: [Int]
    public let criticalPathSeconds: Double
    /// Latest finish minus earliest finish on the critical-path timing (no resource limits).
    public let slack: [Double]
    public let schedule: Schedule
    /// The graph's edges by producer and by consumer.
    public let adjacency: Adjacency

    public init(graph: OperatorGraph, options: AnalysisOptions) throws(AnalysisError) {
        self.graph = graph
        var options = options
        // A DAG runs at its own data type's peak (an fp8 DAG's matmuls at the FP8 peak).
        options.costModel = try options.costModel.running(dtype: graph.attributes["dtype"])
        self.options = options
        let adjacency = graph.adjacency
        self.adjacency = adjacency
        guard case .acyclic(let order) = adjacency.topologicalOrder() else {
            throw AnalysisError("the graph has a cycle; run deploydag check to see it")
        }
        unboundSymbols = graph.symbols.sorted()
        // Symbols left unbound are priced as 1, so that a path can still be chosen and printed.
        let priced =
            unboundSymbols.isEmpty ? graph : (try? graph.binding(Dictionary(uniqueKeysWithValues: unboundSymbols.map { ($0, 1) }))) ?? graph
        var pricer = Pricer(costModel: options.costModel, network: options.network, elementBytes: Pricer.elementBytes(of: graph))
        pricer.cacheElementBytes = Pricer.cacheElementBytes(of: graph)
        // Which tensors are K/V cache: priced in the cache's format, an append writing only the new token.
        let cache = graph.nodes.contains(where: { $0.op == .kvCache }) ? Pricer.cacheTensors(graph, adjacency) : nil
        let expertTouched = Pricer.expertTouched(priced)
        var costs: [NodeCost] = []
        costs.reserveCapacity(graph.nodes.count)
        for (i, node) in priced.nodes.enumerated() {
            let predecessors = adjacency.predecessors(of: i)
            let inputs = predecessors.map { priced.nodes[Int($0)].out }
            let flags = cache.map { c in (inputs: predecessors.map { c[Int($0)] }, output: c[i]) }
            let touched = expertTouched.flatMap { Pricer.isExpertWeight(node) ? $0 : nil } ?? 1
            costs.append(pricer.price(node, inputs: inputs, cache: flags, weightTouched: touched) ?? .zero)
        }
        self.costs = costs
        let durations = costs.map(\.seconds)
        let (path, total) = adjacency.longestPath(order: order, weight: { durations[$0] })
        criticalPath = path
        criticalPathSeconds = total
        slack = Analysis.slack(adjacency: adjacency, order: order, durations: durations, total: total)
        schedule = Schedule(graph: graph, adjacency: adjacency, order: order, durations: durations)
    }

    /// Earliest finish forward, latest finish backward; slack is their difference.
    static func slack(adjacency: Adjacency, order: [Int], durations: [Double], total: Double) -> [Double] {
        let n = durations.count
        var earliest = [Double](repeating: 0, count: n)
        for v in order {
            var start = 0.0
            for p in adjacency.predecessors(of: v) { start = max(start, earliest[Int(p)]) }
            earliest[v] = start + durations[v]
        }
        var latest = [Double](repeating: total, count: n)
        for v in order.reversed() {
            var finish = total
            for s in adjacency.successors(of: v) { finish = min(finish, latest[Int(s)] - durations[Int(s)]) }
            latest[v] = finish
        }
        return (0..<n).map { max(0, latest[$0] - earliest[$0]) }
    }

    public var makespanSeconds: Double { schedule.makespan }

    public var elementBytes: Double { Pricer.elementBytes(of: graph) }

    /// Whether the graph models a decode step.
    public var isDecode: Bool { graph.attributes["phase"] == "decode" }

    /// Tokens the DAG processes: batch x seq in prefill, batch in decode (one per sequence).
    public var tokens: Double? {
        // A disaggregated graph's figures are its own (disaggregatedFigures): a request's.
        guard !isDisaggregated else { return nil }
        guard let batch = graph.attributes["batch"].flatMap(Dim.init)?.doubleValue else { return nil }
        if isDecode { return batch }
        guard let seq = graph.attributes["seq"].flatMap(Dim.init)?.doubleValue else { return nil }
        return batch * seq
    }

    /// Tokens per second over the schedule's makespan.
    public var tokensPerSecond: Double? {
        guard let tokens, makespanSeconds > 0, unboundSymbols.isEmpty else { return nil }
        return tokens / makespanSeconds
    }

    /// Time per output token: the makespan of a decode step.
    public var timePerOutputToken: Double? { isDecode && unboundSymbols.isEmpty ? makespanSeconds : nil }

    public var totalFLOPs: Double { costs.reduce(0) { $0 + $1.flops } }

    /// The GPUs the graph's compute runs on.
    public var gpuCount: Int { graph.gpus ?? Set(graph.nodes.compactMap(\.gpu)).count }

    /// TPS at the roofline bound: tokens over `roofline.seconds`.
    public var rooflineTPS: Double? {
        guard let tokens, tokens > 0, let bound = roofline, bound.seconds > 0 else { return nil }
        return tokens / bound.seconds
    }

    /// The roofline bound: the busiest GPU's larger of its FLOPs at the tensor-core peak and
    /// its memory traffic at the HBM bandwidth (both at 100%, nothing fixed, no communication).
    public var roofline: RooflineBound? {
        guard let peak = peakFLOPs, peak > 0 else { return nil }
        let bandwidth = options.costModel.gpu?.memoryBandwidth
        var flops: [Int: Double] = [:]
        var bytes: [Int: Double] = [:]
        for (i, node) in graph.nodes.enumerated() {
            guard let gpu = node.gpu else { continue }
            flops[gpu, default: 0] += costs[i].flops
            bytes[gpu, default: 0] += costs[i].memoryBytes
        }
        var best: RooflineBound?
        for gpu in Set(flops.keys).sorted() {
            let compute = (flops[gpu] ?? 0) / peak
            let memory = bandwidth.map { (bytes[gpu] ?? 0) / $0 } ?? 0
            let bound = RooflineBound(
                gpu: gpu, flops: flops[gpu] ?? 0, memoryBytes: bytes[gpu] ?? 0, computeSeconds: compute, memorySeconds: memory,
                peakFLOPs: peak, memoryBandwidth: bandwidth)
            if bound.seconds > best?.seconds ?? -1 { best = bound }
        }
        return best.flatMap { $0.seconds > 0 ? $0 : nil }
    }

    /// The peak the roofline bound uses.
    public var peakFLOPs: Double? {
        switch options.costModel {
        case .roofline(let gpu, _), .calibrated(let gpu, _), .table(_, let gpu): gpu.peakFLOPs
        case .matmulFLOPs(let t): t * 1e12
        }
    }

    /// Share of the makespan's GPU-time spent in communication (summed over GPUs).
    public var communicationShare: Double {
        let usage = gpuUsage
        let busy = usage.reduce(0) { $0 + $1.computeSeconds + $1.communicationSeconds }
        guard busy > 0 else { return 0 }
        return usage.reduce(0) { $0 + $1.communicationSeconds } / busy
    }
}

/// The roofline bound on one DAG: its busiest GPU at its peaks.
public struct RooflineBound: Sendable, Hashable {
    public var gpu: Int
    public var flops: Double
    public var memoryBytes: Double
    public var computeSeconds: Double
    public var memorySeconds: Double
    public var peakFLOPs: Double
    /// nil when the cost model names no GPU (matmul-flops): compute only.
    public var memoryBandwidth: Double?

    public var seconds: Double { max(computeSeconds, memorySeconds) }
    /// `compute` or `memory`: which of the two binds.
    public var binding: String { memorySeconds > computeSeconds ? "memory" : "compute" }

    /// "memory-bound: GPU 0 moves 2.9 GB at 3.35 TB/s in 870 us (its 97 GFLOP take 98 us at 989 TFLOP/s)".
    public var explanation: String {
        let compute = "\(Format.flops(flops)) at \(Format.number(peakFLOPs / 1e12)) TFLOP/s in \(Format.seconds(computeSeconds))"
        guard let memoryBandwidth else { return "compute-bound: GPU \(gpu) runs \(compute)" }
        let memory = "\(Format.bytes(memoryBytes)) at \(Format.number(memoryBandwidth / 1e12)) TB/s in \(Format.seconds(memorySeconds))"
        return binding == "memory"
            ? "memory-bound: GPU \(gpu) moves \(memory); its \(compute)"
            : "compute-bound: GPU \(gpu) runs \(compute); its \(memory)"
    }
}

public struct AnalysisError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
