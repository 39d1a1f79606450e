import DeployAnalysis
import DeployModel
import SwiftProtobuf

/// The Chakra schema version deploydag's traces follow (the `version` of their GlobalMetadata):
/// MLCommons Chakra's et_def.proto as Protos/chakra_et_def.proto has it.
public let chakraSchemaVersion = "0.0.4"

/// A DAG as MLCommons Chakra execution traces, one per GPU (rank), for ASTRA-sim.
///
/// - Every compute node of a GPU (inputs, outputs and K/V caches too, at no cost) is a
///   `COMP_NODE` on that rank, with `num_ops` (its FLOPs), `tensor_size` (the bytes it reads and
///   writes in memory) and the duration the cost model gives it.
/// - Every collective is a `COMM_COLL_NODE` on each member, with the bytes that member puts in as
///   `comm_size` (`Analysis.contributions(of:adjacency:)`) and the id of its process group as
///   `pg_name`; `commGroups` maps the ids to ranks, as ASTRA-sim's comm-group file does.
/// - Every send_recv is a `COMM_SEND_NODE` on its source and a `COMM_RECV_NODE` on its
///   destination, with one `comm_tag`.
/// - The DAG's edges are data dependencies within a rank: an edge into a node on rank r is a
///   dependency there when its producer's output is on r (a compute node of r, a collective r is a
///   member of, a send_recv whose destination is r). An edge into a send_recv is its sender's.
///
/// A node's id is its index in the DAG, the same on every rank it appears on. Everything else a
/// DOT file says of the node and the graph rides along as `deploydag.*` attributes (readers skip
/// attributes they do not know), so that `ChakraImport` gives back the same DAG.
public struct ChakraExport: Sendable {
    /// Each rank's trace file, ranks 0 to the highest GPU (or the graph's GPU count).
    public var traces: [(rank: Int, bytes: [UInt8])]
    /// Process groups: id (the `pg_name` of the collectives) and ranks, in order of first use.
    public var commGroups: [(id: Int, ranks: [Int])]
    /// Per rank: compute nodes, collectives, sends and receives written.
    public var counts: [(rank: Int, compute: Int, collectives: Int, sends: Int, receives: Int)]
    /// The sum of `comm_size` over every collective's members, and every send, per kind.
    public var commBytesByKind: [Operator: Double]

    /// Builds the traces. Throws when the DAG has a cycle or an edge that Chakra cannot carry (a
    /// tensor that crosses GPUs without a communication node).
    public init(_ analysis: Analysis, costModel: String) throws(ChakraError) {
        let graph = analysis.graph
        let adjacency = analysis.adjacency
        guard case .acyclic(let order) = adjacency.topologicalOrder() else {
            throw ChakraError("the DAG has a cycle: a trace is a dependency order")
        }
        let highest = graph.nodes.lazy.flatMap(\.gpus).max() ?? -1
        let rankCount = max(graph.gpus ?? 0, highest + 1)
        guard rankCount > 0 else { throw ChakraError("the DAG places nothing on any GPU") }
        guard graph.nodes.count < Int(Int32.max) else { throw ChakraError("more nodes than a comm_tag can number") }

        // Incoming edges by consumer, in file order.
        var incoming = [[Int]](repeating: [], count: graph.nodes.count)
        for (e, edge) in graph.edges.enumerated() { incoming[edge.to].append(e) }

        var groups: [[Int]: Int] = [:]
        var groupList: [(id: Int, ranks: [Int])] = []
        for node in graph.nodes where node.op.isCommunication && node.op != .sendRecv && groups[node.group] == nil {
            groups[node.group] = groupList.count + 1
            groupList.append((groupList.count + 1, node.group))
        }

        var files = (0..<rankCount).map { rank -> [UInt8] in
            var bytes: [UInt8] = []
            var metadata = ChakraProtoMsg_GlobalMetadata()
            metadata.version = chakraSchemaVersion
            metadata.attr = ChakraAttributes.graph(graph, rank: rank, ranks: rankCount, costModel: costModel)
            try? Delimited.append(metadata, to: &bytes)
            return bytes
        }
        var counts = (0..<rankCount).map { (rank: $0, compute: 0, collectives: 0, sends: 0, receives: 0) }
        var recorded = [Bool](repeating: false, count: graph.edges.count)
        var commBytes: [Operator: Double] = [:]
        let elementBytes = analysis.elementBytes

        for v in order {
            let node = graph.nodes[v]
            let cost = analysis.costs[v]
            var appearances: [(rank: Int, type: ChakraProtoMsg_NodeType)] = []
            var contributed: [Int: Double] = [:]
            if node.op == .sendRecv {
                guard node.group.count == 2 else { throw ChakraError("\(node.name): a send_recv names a source and a destination") }
                appearances = [(node.group[0], .commSendNode), (node.group[1], .commRecvNode)]
            } else if node.op.isCommunication {
                appearances = node.group.map { ($0, .commCollNode) }
                for (gpu, bytes) in analysis.contributions(of: v, adjacency: adjacency) { contributed[gpu] = bytes }
            } else if let gpu = node.gpu {
                appearances = [(gpu, .compNode)]
            } else {
                throw ChakraError("\(node.name): a \(node.op.rawValue) node on no GPU")
            }
            for (rank, type) in appearances {
                var message = ChakraProtoMsg_Node()
                message.id = UInt64(v)
                message.name = node.name
                message.type = type
                message.durationMicros = UInt64(max(0, (cost.seconds * 1e6).rounded()))
                var edgeIndices: [Int64] = []
                var edgeFrom: [Int64] = []
                var operands: [Int64] = []
                if type != .commRecvNode {
                    for e in incoming[v] {
                        let u = graph.edges[e].from
                        let producer = graph.nodes[u]
                        let onRank = producer.op == .sendRecv ? producer.group.last == rank : producer.gpus.contains(rank)
                        guard onRank else { continue }
                        recorded[e] = true
                        edgeIndices.append(Int64(e))
                        edgeFrom.append(Int64(u))
                        operands.append(Int64(graph.edges[e].operand ?? -1))
                        if !message.dataDeps.contains(UInt64(u)) { message.dataDeps.append(UInt64(u)) }
                    }
                }
                var attributes = [ChakraAttributes.attribute("is_cpu_op", .boolVal(false))]
                switch type {
                case .compNode:
                    attributes.append(ChakraAttributes.attribute("num_ops", .int64Val(Int64(cost.flops.rounded()))))
                    attributes.append(ChakraAttributes.attribute("tensor_size", .uint64Val(UInt64(max(0, cost.memoryBytes.rounded())))))
                    counts[rank].compute += 1
                case .commCollNode:
                    let bytes = contributed[rank] ?? 0
                    attributes.append(
                        ChakraAttributes.attribute("comm_type", .int64Val(Int64(ChakraAttributes.collective(node.op).rawValue))))
                    attributes.append(ChakraAttributes.attribute("comm_size", .int64Val(Int64(bytes.rounded()))))
                    attributes.append(ChakraAttributes.attribute("pg_name", .stringVal(String(groups[node.group]!))))
                    commBytes[node.op, default: 0] += bytes.rounded()
                    counts[rank].collectives += 1
                default:
                    let bytes = ((node.out.elementCountValue ?? 0) * elementBytes).rounded()
                    attributes.append(ChakraAttributes.attribute("comm_size", .int64Val(Int64(bytes))))
                    attributes.append(ChakraAttributes.attribute("comm_src", .int32Val(Int32(node.group[0]))))
                    attributes.append(ChakraAttributes.attribute("comm_dst", .int32Val(Int32(node.group[1]))))
                    attributes.append(ChakraAttributes.attribute("comm_tag", .int32Val(Int32(v))))
                    if type == .commSendNode {
                        commBytes[.sendRecv, default: 0] += bytes
                        counts[rank].sends += 1
                    } else {
                        counts[rank].receives += 1
                    }
                }
                attributes += ChakraAttributes.node(node)
                attributes.append(ChakraAttributes.int64List("deploydag.edges", edgeIndices))
                attributes.append(ChakraAttributes.int64List("deploydag.edge_from", edgeFrom))
                attributes.append(ChakraAttributes.int64List("deploydag.operands", operands))
                message.attr = attributes
                var outputs = ChakraProtoMsg_IOInfo()
                outputs.shapes = node.out.description
                message.outputs = outputs
                do {
                    try Delimited.append(message, to: &files[rank])
                } catch {
                    throw ChakraError("\(node.name): \(error)")
                }
            }
        }
        if let lost = recorded.firstIndex(of: false) {
            let edge = graph.edges[lost]
            throw ChakraError(
                "the edge \(graph.nodes[edge.from].name) -> \(graph.nodes[edge.to].name) takes a tensor from \(graph.nodes[edge.from].gpus.map(String.init).joined(separator: ",")) to GPU(s) \(graph.nodes[edge.to].gpus.map(String.init).joined(separator: ",")) without a communication node: a trace has no way to say it"
            )
        }
        traces = files.enumerated().map { ($0.offset, $0.element) }
        commGroups = groupList
        self.counts = counts
        commBytesByKind = commBytes
    }

    /// ASTRA-sim's comm-group file (`--comm-group-configuration`): each process group's id and
    /// its ranks, as JSON.
    public var commGroupJSON: String {
        let entries = commGroups.map { "  \"\($0.id)\": [\($0.ranks.map(String.init).joined(separator: ", "))]" }
        return entries.isEmpty ? "{}\n" : "{\n" + entries.joined(separator: ",\n") + "\n}\n"
    }
}

/// The attributes deploydag writes, Chakra's and its own.
enum ChakraAttributes {
    static func collective(_ op: Operator) -> ChakraProtoMsg_CollectiveCommType {
        switch op {
        case .allGather: .allGather
        case .reduceScatter: .reduceScatter
        case .allToAll: .allToAll
        default: .allReduce
        }
    }

    /// A named attribute with one value of Chakra's `oneof value`.
    static func attribute(_ name: String, _ value: ChakraProtoMsg_AttributeProto.OneOf_Value) -> ChakraProtoMsg_AttributeProto {
        var a = ChakraProtoMsg_AttributeProto()
        a.name = name
        a.value = value
        return a
    }

    static func int64List(_ name: String, _ values: [Int64]) -> ChakraProtoMsg_AttributeProto {
        var list = ChakraProtoMsg_Int64List()
        list.values = values
        return attribute(name, .int64List(list))
    }

    static let prefix = "deploydag."
    static let attributePrefix = "deploydag.attr."
    static let graphAttributePrefix = "deploydag.graph.attr."

    /// What the DOT file says of a node, beyond its name, id and output shape.
    static func node(_ node: OperatorNode) -> [ChakraProtoMsg_AttributeProto] {
        var result = [attribute("deploydag.op", .stringVal(node.op.rawValue))]
        if let gpu = node.gpu { result.append(attribute("deploydag.gpu", .int64Val(Int64(gpu)))) }
        if !node.group.isEmpty { result.append(int64List("deploydag.group", node.group.map(Int64.init))) }
        if let layer = node.layer { result.append(attribute("deploydag.layer", .int64Val(Int64(layer)))) }
        if let block = node.block { result.append(attribute("deploydag.block", .stringVal(block))) }
        if let label = node.label { result.append(attribute("deploydag.label", .stringVal(label))) }
        for (key, value) in node.attributes.pairs { result.append(attribute(attributePrefix + key, .stringVal(value))) }
        return result
    }

    /// What the DOT file says of the graph, and where this trace sits among the others.
    static func graph(_ graph: OperatorGraph, rank: Int, ranks: Int, costModel: String) -> [ChakraProtoMsg_AttributeProto] {
        var result = [
            attribute("deploydag.graph", .stringVal(graph.name)), attribute("deploydag.rank", .int64Val(Int64(rank))),
            attribute("deploydag.ranks", .int64Val(Int64(ranks))),
            attribute("deploydag.nodes", .int64Val(Int64(graph.nodes.count))),
            attribute("deploydag.edge_count", .int64Val(Int64(graph.edges.count))),
            attribute("deploydag.cost_model", .stringVal(costModel)),
        ]
        if let gpus = graph.gpus { result.append(attribute("deploydag.gpus", .int64Val(Int64(gpus)))) }
        for key in graph.attributes.keys.sorted() {
            result.append(attribute(graphAttributePrefix + key, .stringVal(graph.attributes[key]!)))
        }
        return result
    }
}
