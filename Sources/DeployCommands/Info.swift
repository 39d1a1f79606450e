import ArgumentParser
import DeployModel
import Foundation

extension DeployDag {
    /// `deploydag info`: what a DAG holds, counted.
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise a DAG: nodes and edges by operator, GPUs, communication, acyclicity, longest path.")

        @Argument(help: "The DOT file.", completion: .dotFiles)
        var file: String

        @Option(name: .long, help: "text or json.")
        var format: OutputFormat = .text

        func run() throws {
            // An unreadable file is a CommandError: "deploydag: ..." and exit 2 (runAsMain).
            let loaded = try LoadedDAG.load(file, keepLabels: false)
            let summary = DAGSummary(try loaded.requireGraph())
            switch format {
            case .json: print(try JSONOutput.encode(summary))
            case .text: print(summary.text(file: loaded.path))
            }
        }
    }
}

/// Counts over a DAG, for `info`.
struct DAGSummary: Encodable {
    var name: String
    var nodes: Int
    var edges: Int
    var nodesByOp: [String: Int]
    var communicationByOp: [String: Int]
    var gpus: Int?
    var gpusUsed: [Int]
    var layers: [Int]
    var matmuls: Int
    var acyclic: Bool
    var longestPathNodes: Int?
    var longestPath: [String]?
    /// Elements of the distinct logical weights the graph names (`weight_logical`), each whole.
    var parameters: Double
    /// Nodes with a weight but no `weight_logical`, left out of `parameters`.
    var unnamedWeights: Int

    /// snake_case, as every deploydag JSON document (docs/schemas/info.schema.json).
    enum CodingKeys: String, CodingKey {
        case name, nodes, edges, gpus, layers, matmuls, acyclic, parameters
        case nodesByOp = "nodes_by_op"
        case communicationByOp = "communication_by_op"
        case gpusUsed = "gpus_used"
        case longestPathNodes = "longest_path_nodes"
        case longestPath = "longest_path"
        case unnamedWeights = "unnamed_weights"
    }

    init(_ graph: OperatorGraph) {
        name = graph.name
        nodes = graph.nodes.count
        edges = graph.edges.count
        var byOp: [String: Int] = [:]
        var comm: [String: Int] = [:]
        var used = Set<Int>()
        var layerSet = Set<Int>()
        for node in graph.nodes {
            byOp[node.op.rawValue, default: 0] += 1
            if node.op.isCommunication { comm[node.op.rawValue, default: 0] += 1 }
            if let gpu = node.gpu { used.insert(gpu) }
            if let layer = node.layer { layerSet.insert(layer) }
        }
        nodesByOp = byOp
        communicationByOp = comm
        gpus = graph.gpus
        gpusUsed = used.sorted()
        layers = layerSet.sorted()
        matmuls = byOp[Operator.matmul.rawValue] ?? 0
        let path = graph.adjacency.longestPathInNodes()
        acyclic = path != nil
        longestPathNodes = path?.count
        longestPath = path?.map { graph.nodes[$0].name }
        let count = graph.parameterCount
        parameters = count.total
        unnamedWeights = count.unnamed
    }

    /// `68.98B (68,976,648,192)`. A count past Int64 (a weight of 2^63 elements in a hand-edited
    /// file) is printed from the Double, which trapped when converted.
    static func parameterText(_ count: Double) -> String {
        guard count.isFinite else { return "\(count)" }
        let digits = Array(count < 9e18 ? String(Int64(count)) : String(format: "%.0f", count))
        var grouped = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        if count >= 1e9 { return String(format: "%.2fB (%@)", count / 1e9, grouped) }
        if count >= 1e6 { return String(format: "%.2fM (%@)", count / 1e6, grouped) }
        return grouped
    }

    func text(file: String) -> String {
        var lines: [String] = []
        lines.append("\(file): \(name)")
        lines.append("  nodes: \(nodes)   edges: \(edges)")
        lines.append(
            "  GPUs: \(gpus.map(String.init) ?? "not declared") declared, compute on \(GPUList.compact(gpusUsed).isEmpty ? "none" : GPUList.compact(gpusUsed))"
        )
        if !layers.isEmpty { lines.append("  layers: \(GPUList.compact(layers))") }
        if parameters > 0 || unnamedWeights > 0 {
            var line = "  parameters: \(Self.parameterText(parameters)) in the logical weights the graph names"
            if unnamedWeights > 0 { line += "; \(unnamedWeights) node weights without weight_logical are not counted" }
            lines.append(line)
        }
        lines.append("  nodes by operator:")
        for op in Operator.allCases where nodesByOp[op.rawValue] != nil {
            lines.append("    \(op.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \(nodesByOp[op.rawValue]!)")
        }
        let commTotal = communicationByOp.values.reduce(0, +)
        lines.append(
            "  communication nodes: \(commTotal)"
                + (commTotal == 0
                    ? ""
                    : " ("
                        + Operator.allCases.compactMap { op in
                            communicationByOp[op.rawValue].map { "\(op.rawValue) \($0)" }
                        }.joined(separator: ", ") + ")"))
        if acyclic, let longestPathNodes {
            lines.append("  acyclic: yes; longest path: \(longestPathNodes) nodes")
        } else {
            lines.append("  acyclic: no (deploydag check names a cycle)")
        }
        return lines.joined(separator: "\n")
    }
}
