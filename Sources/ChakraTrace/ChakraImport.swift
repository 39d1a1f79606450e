import DeployModel
import SwiftProtobuf

/// One rank's trace, decoded: its metadata and nodes in file order.
public struct ChakraRankTrace: Sendable {
    public var file: String
    public var metadata: ChakraProtoMsg_GlobalMetadata
    public var nodes: [ChakraProtoMsg_Node]

    /// Reads the length-delimited messages of a trace file: a GlobalMetadata, then Nodes.
    public init(bytes: [UInt8], file: String) throws(ChakraError) {
        self.file = file
        let ranges = try Delimited.split(bytes, file: file)
        guard let first = ranges.first else { throw ChakraError("\(file): empty; a trace begins with its GlobalMetadata") }
        do {
            metadata = try ChakraProtoMsg_GlobalMetadata(serializedBytes: Array(bytes[first]))
        } catch {
            throw ChakraError("\(file): the first message is not a GlobalMetadata: \(error)")
        }
        var nodes: [ChakraProtoMsg_Node] = []
        nodes.reserveCapacity(ranges.count - 1)
        for (k, range) in ranges.dropFirst().enumerated() {
            do {
                nodes.append(try ChakraProtoMsg_Node(serializedBytes: Array(bytes[range])))
            } catch {
                throw ChakraError("\(file): message \(k + 2) (byte \(range.lowerBound)) is not a Node: \(error)")
            }
        }
        self.nodes = nodes
    }
}

/// The DAG a set of traces `ChakraExport` wrote describes, node for node and edge for edge: the
/// `deploydag.*` attributes carry what the DOT file said, the ids are the DAG's node indices, and
/// every rank a node appears on must agree on it.
public enum ChakraImport {
    public static func graph(_ traces: [ChakraRankTrace]) throws(ChakraError) -> OperatorGraph {
        guard let first = traces.first else { throw ChakraError("no trace files") }
        let meta = Attributes(first.metadata.attr)
        guard let name = meta.string("deploydag.graph"), let nodeCount = meta.int("deploydag.nodes"),
            let edgeCount = meta.int("deploydag.edge_count")
        else {
            throw ChakraError(
                "\(first.file): its GlobalMetadata has no deploydag.graph, deploydag.nodes and deploydag.edge_count: only traces deploydag exported can be imported"
            )
        }
        // Every node is a message of some trace and every edge an entry of some node's lists:
        // counts past those are refused before anything is sized by them.
        let messages = traces.reduce(0) { $0 + $1.nodes.count }
        let entries = traces.reduce(0) { total, trace in
            total
                + trace.nodes.reduce(0) { count, node in
                    guard case .int64List(let list)? = node.attr.first(where: { $0.name == "deploydag.edges" })?.value else { return count }
                    return count + list.values.count
                }
        }
        guard nodeCount >= 0, edgeCount >= 0, nodeCount <= messages, edgeCount <= entries else {
            throw ChakraError(
                "\(first.file): its metadata claims \(nodeCount) nodes and \(edgeCount) edges, but the traces hold \(messages) node messages and \(entries) edge entries"
            )
        }
        let gpus = meta.int("deploydag.gpus")
        var graphAttributes: [String: String] = [:]
        for a in first.metadata.attr where a.name.hasPrefix(ChakraAttributes.graphAttributePrefix) {
            graphAttributes[String(a.name.dropFirst(ChakraAttributes.graphAttributePrefix.count))] = a.stringVal
        }
        for trace in traces.dropFirst() {
            let other = Attributes(trace.metadata.attr)
            guard other.string("deploydag.graph") == name, other.int("deploydag.nodes") == nodeCount,
                other.int("deploydag.edge_count") == edgeCount
            else {
                throw ChakraError("\(trace.file): its metadata describes another DAG than \(first.file)'s")
            }
        }

        var nodes = [OperatorNode?](repeating: nil, count: nodeCount)
        var edges = [TensorEdge?](repeating: nil, count: edgeCount)
        for trace in traces {
            for message in trace.nodes {
                let at = "\(trace.file): node \(message.id) (\(message.name))"
                guard message.id < UInt64(nodeCount) else { throw ChakraError("\(at): an id past the DAG's \(nodeCount) nodes") }
                let v = Int(message.id)
                let node = try decodeNode(message, at: at)
                if let known = nodes[v] {
                    guard known == node else { throw ChakraError("\(at): differs from the same node in another trace") }
                } else {
                    nodes[v] = node
                }
                let a = Attributes(message.attr)
                let indices = a.list("deploydag.edges"), from = a.list("deploydag.edge_from"), operands = a.list("deploydag.operands")
                guard indices.count == from.count, from.count == operands.count else {
                    throw ChakraError("\(at): deploydag.edges, deploydag.edge_from and deploydag.operands differ in length")
                }
                for ((e, u), operand) in zip(zip(indices, from), operands) {
                    guard e >= 0, e < Int64(edgeCount), u >= 0, u < Int64(nodeCount), operand >= -1, operand < Int64(Int32.max) else {
                        throw ChakraError("\(at): edge \(e) from node \(u) (operand \(operand)) is outside the DAG")
                    }
                    guard message.dataDeps.contains(UInt64(u)) else {
                        throw ChakraError("\(at): edge \(e) comes from node \(u), which is not among its data_deps")
                    }
                    let edge = TensorEdge(from: Int(u), to: v, operand: operand < 0 ? nil : Int(operand))
                    if let known = edges[Int(e)] {
                        guard known == edge else { throw ChakraError("\(at): edge \(e) differs from the same edge in another trace") }
                    } else {
                        edges[Int(e)] = edge
                    }
                }
            }
        }
        if let missing = nodes.firstIndex(where: { $0 == nil }) {
            throw ChakraError("node \(missing) of \(nodeCount) is in none of the traces")
        }
        if let missing = edges.firstIndex(where: { $0 == nil }) {
            throw ChakraError("edge \(missing) of \(edgeCount) is in none of the traces")
        }
        return OperatorGraph(name: name, gpus: gpus, attributes: graphAttributes, nodes: nodes.map { $0! }, edges: edges.map { $0! })
    }

    private static func decodeNode(_ message: ChakraProtoMsg_Node, at: String) throws(ChakraError) -> OperatorNode {
        let a = Attributes(message.attr)
        guard let opText = a.string("deploydag.op"), let op = Operator(rawValue: opText) else {
            throw ChakraError("\(at): no deploydag.op naming a deploydag operator: only traces deploydag exported can be imported")
        }
        let out: Shape
        do {
            out = try Shape.parse(message.outputs.shapes)
        } catch {
            throw ChakraError("\(at): outputs.shapes '\(message.outputs.shapes)': \(error)")
        }
        let group = try a.list("deploydag.group").map { g throws(ChakraError) -> Int in
            guard g >= 0, g < Int64(GPUList.maximum) else { throw ChakraError("\(at): GPU \(g) in deploydag.group") }
            return Int(g)
        }
        var gpu: Int?
        if let g = a.int("deploydag.gpu") {
            guard g >= 0, g < GPUList.maximum else { throw ChakraError("\(at): deploydag.gpu \(g)") }
            gpu = g
        }
        var pairs: [(key: String, value: String)] = []
        for attribute in message.attr where attribute.name.hasPrefix(ChakraAttributes.attributePrefix) {
            pairs.append((String(attribute.name.dropFirst(ChakraAttributes.attributePrefix.count)), attribute.stringVal))
        }
        return OperatorNode(
            name: message.name, op: op, gpu: gpu, group: group, out: out, layer: a.int("deploydag.layer"),
            block: a.string("deploydag.block"), label: a.string("deploydag.label"), attributes: NodeAttributes(pairs: pairs))
    }
}

/// A message's attributes by name.
struct Attributes {
    private var byName: [String: ChakraProtoMsg_AttributeProto] = [:]

    init(_ attributes: [ChakraProtoMsg_AttributeProto]) {
        for a in attributes where byName[a.name] == nil { byName[a.name] = a }
    }

    func string(_ name: String) -> String? {
        guard let a = byName[name], case .stringVal(let value) = a.value else { return nil }
        return value
    }

    func int(_ name: String) -> Int? {
        guard let a = byName[name] else { return nil }
        switch a.value {
        case .int64Val(let v): return Int(exactly: v)
        case .int32Val(let v): return Int(v)
        case .uint64Val(let v): return Int(exactly: v)
        case .uint32Val(let v): return Int(v)
        default: return nil
        }
    }

    func list(_ name: String) -> [Int64] {
        guard let a = byName[name], case .int64List(let list) = a.value else { return [] }
        return list.values
    }
}
