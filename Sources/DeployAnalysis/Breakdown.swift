import DeployModel

/// The work of a set of nodes, summed the one way every report and diagram sums it: FLOPs,
/// the compute nodes' memory traffic, the bytes the members of each communication put in
/// (a send_recv's once, a collective's once per member, as `bytesByLink`), and GPU time (each
/// node's duration times the GPUs it occupies: one for compute, the group for communication).
public struct WorkFigures: Sendable, Equatable {
    public var nodes = 0
    public var flops = 0.0
    public var memoryBytes = 0.0
    public var sentBytes = 0.0
    public var gpuSeconds = 0.0
    public var gpus = Set<Int>()

    public init() {}

    public mutating func add(_ node: OperatorNode, _ cost: NodeCost) {
        nodes += 1
        flops += cost.flops
        gpus.formUnion(node.gpus)
        if node.op.isCommunication {
            sentBytes += cost.sentBytesPerGPU * (node.op == .sendRecv ? 1 : Double(node.group.count))
            gpuSeconds += cost.seconds * Double(max(node.group.count, 1))
        } else {
            memoryBytes += cost.memoryBytes
            gpuSeconds += cost.seconds
        }
    }

    /// The figures as text, one format for every output: `12.34 TFLOP · 1.20 TB moved`,
    /// `5.97 TB sent`, `3.210 s of GPU time`; nothing for what is zero.
    public var lines: [String] {
        var parts: [String] = []
        if flops > 0 { parts.append(Format.flops(flops)) }
        if memoryBytes > 0 { parts.append("\(Format.bytes(memoryBytes)) moved") }
        if sentBytes > 0 { parts.append("\(Format.bytes(sentBytes)) sent") }
        var lines = parts.isEmpty ? [] : [parts.joined(separator: " · ")]
        if gpuSeconds > 0 { lines.append("\(Format.seconds(gpuSeconds)) of GPU time") }
        return lines
    }
}

extension Analysis {
    /// The figures of the given nodes (indices into `graph`).
    public func figures<S: Sequence<Int>>(of nodes: S) -> WorkFigures {
        var result = WorkFigures()
        for v in nodes { result.add(graph.nodes[v], costs[v]) }
        return result
    }

    /// The whole graph's figures.
    public var totalFigures: WorkFigures { figures(of: graph.nodes.indices) }
}

/// A DAG cut into blocks for an overview: runs of consecutive layers on the same GPUs, cut into
/// at most `maxLayerGroups` pieces; in each, a block's compute between its communications (a
/// step), and each communication kind by group size and link; the ends of the model apart.
/// `analyze --blocks` prints it and the overview diagram draws it, from this one computation.
public struct BlockBreakdown: Sendable {
    public struct Key: Hashable, Sendable {
        public var bucket: Int
        public var block: String
        /// The communication kind, or nil for compute.
        public var op: Operator?
        public var groupSize: Int
        public var link: LinkClass?
        /// Compute after the block's n-th communication, or that communication.
        public var step: Int
    }

    public struct Block: Sendable {
        public var key: Key
        /// `layer 0`, `layers 0-3`, or empty for the model's ends.
        public var layers: String
        public var figures = WorkFigures()
        public var onCriticalPath = false
        /// In a block of several layers, the communications inside it, by kind, group size and
        /// link: how many and the bytes their members put in.
        public var collectives: [Collective] = []

        public struct Collective: Sendable, Equatable {
            public var op: Operator
            public var groupSize: Int
            public var link: LinkClass?
            public var count: Int
            public var sentBytes: Double

            public var text: String {
                let over = op == .sendRecv ? "" : " over \(groupSize)"
                return "\(op.rawValue)\(over)\(link.map { " (\($0.rawValue))" } ?? "") × \(count): \(Format.bytes(sentBytes)) sent"
            }
        }

        /// The blocks of the layers a several-layer block holds, in order of appearance.
        public var blocks: [String] = []
        static let severalLayers = "layers"

        public var isCommunication: Bool { key.op != nil }
        public var isBoundary: Bool { ["input", "output"].contains(key.block) }

        /// `attention · layers 0-1, step 2`, `all_reduce over 8 (nvlink) · layer 0`.
        public var title: String {
            let place = layers.isEmpty ? "" : " · \(layers)"
            if let op = key.op {
                let over = op == .sendRecv ? "" : " over \(key.groupSize)"
                return "\(op.rawValue)\(over)\(key.link.map { " (\($0.rawValue))" } ?? "")\(place)"
            }
            if key.block == Self.severalLayers { return "\(layers) (\(blocks.joined(separator: ", ")))" }
            return "\(key.block)\(place)\(key.step > 0 ? ", step \(key.step + 1)" : "")"
        }
    }

    /// In order of first appearance in the graph.
    public private(set) var blocks: [Block] = []
    /// Each node's block (index into `blocks`).
    public private(set) var blockOf: [Int] = []
    /// The data flow between blocks, once a pair.
    public private(set) var edges: [(from: Int, to: Int)] = []

    public init(_ analysis: Analysis, maxLayerGroups: Int = 12) {
        self.init(graph: analysis.graph, costs: analysis.costs, criticalPath: analysis.criticalPath, maxLayerGroups: maxLayerGroups)
    }

    /// Without costs (a graph that cannot be priced), the figures count nodes and GPUs only.
    public init(graph: OperatorGraph, costs: [NodeCost]?, criticalPath: [Int] = [], maxLayerGroups: Int = 12) {
        let (bucketOf, labels) = Self.buckets(graph, maxLayerGroups: maxLayerGroups)
        var layersIn: [Int: Int] = [:]
        for (_, bucket) in bucketOf { layersIn[bucket, default: 0] += 1 }
        let severalLayers = Set(layersIn.filter { $0.value > 1 }.keys)
        let critical = Set(criticalPath)
        // A node's step: the communications of its own layer and block on the way to it.
        var step = [Int](repeating: 0, count: graph.nodes.count)
        let adjacency = graph.adjacency
        let order: [Int]
        if case .acyclic(let o) = adjacency.topologicalOrder() { order = o } else { order = Array(graph.nodes.indices) }
        for v in order {
            let node = graph.nodes[v]
            for u in adjacency.predecessors(of: v).map(Int.init) {
                let p = graph.nodes[u]
                guard p.layer == node.layer, p.block == node.block else { continue }
                step[v] = max(step[v], step[u] + (p.op.isCommunication && !node.op.isCommunication ? 1 : 0))
            }
        }
        var index: [Key: Int] = [:]
        blockOf = [Int](repeating: 0, count: graph.nodes.count)
        for (v, node) in graph.nodes.enumerated() {
            let comm = node.op.isCommunication
            var key = Key(
                bucket: 0, block: node.block ?? "layer", op: comm ? node.op : nil, groupSize: comm ? node.group.count : 0,
                link: comm ? costs?[v].link : nil, step: step[v])
            var layers = ""
            if node.layer == nil, !node.op.isSource, node.op != .output, let block = node.block, block == "embedding" || block == "head" {
                // The ends of a whole model: the embedding before the first layer, the head after the last.
                key.bucket = block == "embedding" ? -1 : Int.max - 1
            } else if node.op == .input || node.op == .output || node.layer == nil {
                key = Key(
                    bucket: node.op == .output ? Int.max : -1, block: node.op == .output ? "output" : "input", op: nil, groupSize: 0,
                    link: nil, step: 0)
            } else {
                key.bucket = bucketOf[node.layer!] ?? 0
                layers = labels[key.bucket] ?? ""
                if severalLayers.contains(key.bucket) {
                    // Several layers in one block: attention, MLP and their communication
                    // alternate inside it, so they are drawn as one (or arrows would go both ways).
                    key = Key(bucket: key.bucket, block: Block.severalLayers, op: nil, groupSize: 0, link: nil, step: 0)
                }
            }
            let b =
                index[key]
                ?? {
                    blocks.append(Block(key: key, layers: layers))
                    index[key] = blocks.count - 1
                    return blocks.count - 1
                }()
            blockOf[v] = b
            blocks[b].figures.add(node, costs?[v] ?? .zero)
            if key.block == Block.severalLayers {
                if let name = node.block, !blocks[b].blocks.contains(name) { blocks[b].blocks.append(name) }
                if comm {
                    let link = costs?[v].link
                    let sent = (costs?[v].sentBytesPerGPU ?? 0) * (node.op == .sendRecv ? 1 : Double(node.group.count))
                    if let i = blocks[b].collectives.firstIndex(where: {
                        $0.op == node.op && $0.groupSize == node.group.count && $0.link == link
                    }) {
                        blocks[b].collectives[i].count += 1
                        blocks[b].collectives[i].sentBytes += sent
                    } else {
                        blocks[b].collectives.append(
                            Block.Collective(op: node.op, groupSize: node.group.count, link: link, count: 1, sentBytes: sent))
                    }
                }
            }
            if critical.contains(v) { blocks[b].onCriticalPath = true }
        }
        var seen = Set<[Int]>()
        for e in graph.edges {
            let (a, b) = (blockOf[e.from], blockOf[e.to])
            if a != b, seen.insert([a, b]).inserted { edges.append((a, b)) }
        }
        edges.sort { ($0.from, $0.to) < ($1.from, $1.to) }
    }

    /// Layer buckets: runs of consecutive layers whose compute runs on the same GPUs, cut into
    /// at most `maxLayerGroups` pieces overall.
    static func buckets(_ graph: OperatorGraph, maxLayerGroups: Int) -> (bucketOf: [Int: Int], labels: [Int: String]) {
        var gpusOfLayer: [Int: Set<Int>] = [:]
        for node in graph.nodes { if let l = node.layer, let g = node.gpu { gpusOfLayer[l, default: []].insert(g) } }
        let layers = gpusOfLayer.keys.sorted()
        var runs: [[Int]] = []
        for l in layers {
            if let last = runs.last?.last, gpusOfLayer[last] == gpusOfLayer[l], last + 1 == l {
                runs[runs.count - 1].append(l)
            } else {
                runs.append([l])
            }
        }
        let perRun = max(1, maxLayerGroups / max(runs.count, 1))
        var bucketOf: [Int: Int] = [:]
        var labels: [Int: String] = [:]
        var next = 0
        for run in runs {
            let size = (run.count + perRun - 1) / perRun
            for start in stride(from: 0, to: run.count, by: size) {
                let piece = run[start..<min(run.count, start + size)]
                for l in piece { bucketOf[l] = next }
                labels[next] = piece.count == 1 ? "layer \(piece.first!)" : "layers \(piece.first!)-\(piece.last!)"
                next += 1
            }
        }
        return (bucketOf, labels)
    }
}
