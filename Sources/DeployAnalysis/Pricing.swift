import DeployModel

/// What one node costs.
public struct NodeCost: Sendable, Hashable {
    public var seconds: Double
    /// Matmul FLOPs (2mkn); other operators count 0.
    public var flops: Double
    /// Bytes read and written in the GPU's memory.
    public var memoryBytes: Double
    /// Bytes each GPU of a communication sends.
    public var sentBytesPerGPU: Double
    public var link: LinkClass?

    public static let zero = NodeCost(seconds: 0, flops: 0, memoryBytes: 0, sentBytesPerGPU: 0, link: nil)
}

/// Prices the nodes of one graph under a cost model and a network model.
public struct Pricer: Sendable {
    public var costModel: CostModel
    public var network: NetworkModel
    /// Bytes per element, from the graph's `dtype`.
    public var elementBytes: Double

    public init(costModel: CostModel, network: NetworkModel, elementBytes: Double) {
        self.costModel = costModel
        self.network = network
        self.elementBytes = elementBytes
    }

    /// Bytes per element of a graph's `dtype` attribute (bf16 when absent).
    public static func elementBytes(of graph: OperatorGraph) -> Double {
        switch graph.attributes["dtype"] {
        case "fp32": 4
        case "fp8": 1
        default: 2
        }
    }

    /// The cost of `node` given its inputs' shapes; nil when a dimension is symbolic.
    public func price(_ node: OperatorNode, inputs: [Shape]) -> NodeCost? {
        guard let outElements = node.out.elementCountValue else { return nil }
        let outBytes = outElements * elementBytes
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
            let bytes = (m * k + k * n + m * n) * elementBytes
            let seconds: Double
            switch costModel {
            case .roofline(let gpu, let efficiency):
                seconds = max(flops / (gpu.peakFLOPs * efficiency), bytes / gpu.memoryBandwidth)
            case .table(let table, _):
                seconds = table.seconds(m: m, k: k, n: n)
            case .matmulFLOPs(let t):
                seconds = flops / (t * 1e12)
            }
            return NodeCost(seconds: seconds, flops: flops, memoryBytes: bytes, sentBytesPerGPU: 0, link: nil)
        default:
            // Memory-bound operators: read the inputs, write the output (a cache is only read).
            var bytes = outBytes
            if node.op != .kvCache {
                for shape in inputs {
                    guard let e = shape.elementCountValue else { return nil }
                    bytes += e * elementBytes
                }
            }
            guard let gpu = costModel.gpu else { return NodeCost(seconds: 0, flops: 0, memoryBytes: bytes, sentBytesPerGPU: 0, link: nil) }
            return NodeCost(seconds: bytes / gpu.memoryBandwidth, flops: 0, memoryBytes: bytes, sentBytesPerGPU: 0, link: nil)
        }
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
        return NodeCost(seconds: steps * network.alpha + sent / bandwidth, flops: 0, memoryBytes: 0, sentBytesPerGPU: sent, link: link)
    }
}
