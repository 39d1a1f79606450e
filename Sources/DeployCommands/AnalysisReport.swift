import DeployAnalysis
import DeployChecker
import DeployModel
import Foundation

/// What `analyze` prints, as text or JSON.
struct AnalysisReport {
    let analysis: Analysis
    let includeSlack: Bool
    let memory: [GPUMemory]
    let usage: [GPUUsage]
    let findings: [Finding]
    /// A disaggregated graph's figures: TTFT, the K/V transfer, the decode step alone.
    let disaggregated: Analysis.DisaggregatedFigures?

    init(_ analysis: Analysis, includeSlack: Bool) {
        self.analysis = analysis
        self.includeSlack = includeSlack
        disaggregated = try? analysis.disaggregatedFigures()
        memory = analysis.memory
        usage = analysis.gpuUsage
        var findings: [Finding] = []
        if let gpu = analysis.options.costModel.gpu {
            findings = memory.compactMap { $0.overCapacityMessage(on: gpu).map { Finding(.memory, .error, $0) } }
        }
        self.findings = findings
    }

    var graph: OperatorGraph { analysis.graph }

    func describe(_ v: Int) -> (work: String, place: String) {
        let node = graph.nodes[v]
        let cost = analysis.costs[v]
        let place = node.gpu.map { "GPU \($0)" } ?? "GPUs \(GPUList.compact(node.group))"
        let a = node.attributes
        if node.op == .matmul, let m = a["m"], let k = a["k"], let n = a["n"] { return ("Get_Time(\(m), \(k), \(n))", place) }
        if node.op == .attention {
            let keys = analysis.adjacency.predecessors(of: v).lazy.map { graph.nodes[Int($0)].out }.first { $0 != node.out }
            return ("\(Analysis.attentionTerm(node, keys: keys)): \(Format.flops(cost.flops)), \(Format.bytes(cost.memoryBytes))", place)
        }
        if node.op.isCommunication {
            return ("\(Format.bytes(cost.sentBytesPerGPU)) sent per GPU over \(cost.link?.rawValue ?? "-")", place)
        }
        if cost.memoryBytes > 0 { return ("\(Format.bytes(cost.memoryBytes)) memory traffic", place) }
        return ("", place)
    }

    func text(listSlack: Bool, listBlocks: Bool = false) -> String {
        var lines: [String] = []
        let a = analysis
        var phase = a.isDecode ? "decode step, context \(graph.attributes["context"] ?? "?")" : "prefill"
        if a.isDisaggregated {
            let at = graph.attributes
            phase =
                "disaggregated: prefill of \(at["batch"] ?? "?") x \(at["seq"] ?? "?") tokens on GPUs \(at["prefill_gpus"] ?? "?"), the decode step after it (context \(at["context"] ?? "?")) on GPUs \(at["decode_gpus"] ?? "?")"
        }
        let tokens = a.tokens.map { " · \(Format.number($0)) tokens" } ?? ""
        lines.append("\(graph.name): \(phase)\(tokens) · \(a.gpuCount) GPUs · \(graph.nodes.count) nodes")
        lines.append("cost model: \(a.options.costModel.description)")
        lines.append("network: \(a.options.network.description)")
        if !a.unboundSymbols.isEmpty {
            lines.append(
                "symbolic dimensions \(a.unboundSymbols.joined(separator: ", ")): the path below is chosen with them set to 1; bind them (--bind NAME=VALUE) for seconds"
            )
        }
        lines.append("")
        lines.append(
            "critical path (longest path, no resource limits): \(a.criticalPath.count) nodes, \(Format.seconds(a.criticalPathSeconds))")
        let rows = a.criticalPath.enumerated().map { i, v -> [String] in
            let (work, place) = describe(v)
            let node = graph.nodes[v]
            return [String(i + 1), node.name, node.op.rawValue, place, work, Format.seconds(a.costs[v].seconds)]
        }
        lines += Table.render(header: ["#", "node", "op", "where", "Get_Time / traffic", "time"], rows: rows, rightAligned: [0, 5])
        let parts = a.criticalPathBreakdown
        let expression = a.getTimeExpression
        lines.append("")
        lines.append("total = \(expression.isEmpty ? "(no matmuls)" : expression)")
        lines.append(
            "      = \(Format.seconds(parts.matmul)) of matmuls + \(Format.seconds(parts.communication)) of communication + \(Format.seconds(parts.other)) of other operators = \(Format.seconds(a.criticalPathSeconds))"
        )
        lines.append("")
        lines.append(
            "schedule (one kernel at a time per GPU, communication on its own stream): makespan \(Format.seconds(a.makespanSeconds))"
                + (graph.attributes["micro_batches"].map { ", \($0) micro-batches" } ?? ""))
        if let tps = a.tokensPerSecond {
            var line = "throughput: \(Format.rate(tps)) tokens/s"
            if let bound = a.rooflineTPS, let roofline = a.roofline {
                line += "; roofline bound \(Format.rate(bound)) tokens/s (\(roofline.explanation)): \(Format.percent(tps / bound)) reached"
            }
            lines.append(line)
        }
        if let tpot = a.timePerOutputToken { lines.append("time per output token: \(Format.seconds(tpot))") }
        if let d = disaggregated {
            lines.append(
                "time to first token: \(Format.seconds(d.timeToFirstToken)) (the prefill's logits done); K/V caches moved: \(Format.bytes(d.transferBytes)), the last in place at \(Format.seconds(d.transferDone))"
            )
            var line = "time per output token: \(Format.seconds(d.timePerOutputToken)) (the decode step alone, its cache in place)"
            if let tokens = d.decodeTokens, d.timePerOutputToken > 0 {
                line += ": \(Format.rate(tokens / d.timePerOutputToken)) tokens/s in decode"
            }
            lines.append(line)
        }
        lines.append("communication: \(Format.percent(a.communicationShare)) of busy GPU time")
        lines.append("")
        lines.append("per GPU:")
        lines += Table.render(
            header: ["GPU", "compute", "communication", "matmul FLOPs", "busy", "FLOP util."],
            rows: usage.map {
                [
                    String($0.gpu), Format.seconds($0.computeSeconds), Format.seconds($0.communicationSeconds), Format.number($0.flops),
                    Format.percent($0.utilisation), $0.flopsUtilisation.map(Format.percent) ?? "-",
                ]
            }, rightAligned: [0, 1, 2, 3, 4, 5])
        let links = a.bytesByLink
        lines.append("bytes sent: " + LinkClass.allCases.map { "\($0.rawValue) \(Format.bytes(links[$0] ?? 0))" }.joined(separator: ", "))
        let kinds = a.contributedBytesByKind
        if !kinds.isEmpty {
            lines.append(
                "bytes put in by the members, per kind: "
                    + Operator.allCases.filter { kinds[$0] != nil }.map { "\($0.rawValue) \(Format.bytes(kinds[$0]!))" }.joined(
                        separator: ", "))
        }
        lines.append("")
        let capacity = a.options.costModel.gpu.map { " (\($0.name): \($0.memoryText) each)" } ?? ""
        lines.append("memory\(capacity):")
        lines += Table.render(
            header: ["GPU", "weights", "peak activations", "total", "over capacity"],
            rows: memory.map {
                [
                    String($0.gpu), Format.bytes($0.weightBytes), Format.bytes($0.peakActivationBytes), Format.bytes($0.totalBytes),
                    $0.overBytes.map(Format.bytes) ?? "fits",
                ]
            }, rightAligned: [0, 1, 2, 3])
        if !findings.isEmpty {
            lines.append("")
            lines += findings.map(\.formatted)
        }
        if listBlocks {
            lines.append("")
            lines += blockLines
        }
        if listSlack {
            lines.append("")
            lines.append("slack (how much later each node could finish without lengthening the critical path):")
            lines += Table.render(
                header: ["node", "slack"],
                rows: graph.nodes.indices.map { [graph.nodes[$0].name, Format.seconds(a.slack[$0])] }, rightAligned: [1])
        }
        return lines.joined(separator: "\n")
    }

    struct JSON: Encodable {
        struct Step: Encodable {
            var node: String
            var op: String
            var gpu: Int?
            var group: [Int]?
            var get_time: String?
            var sent_bytes_per_gpu: Double?
            var memory_bytes: Double?
            var seconds: Double
        }
        struct GPU: Encodable {
            var gpu: Int
            var compute_seconds: Double
            var communication_seconds: Double
            var flops: Double
            var utilisation: Double
            var flops_utilisation: Double?
        }
        struct Disaggregated: Encodable {
            var ttft_seconds: Double
            var kv_transfer_bytes: Double
            var kv_transfer_done_seconds: Double
            var tpot_seconds: Double
            var decode_tokens_per_second: Double?
        }
        struct Memory: Encodable {
            var gpu: Int
            var weight_bytes: Double
            var peak_activation_bytes: Double
            var total_bytes: Double
            var capacity_bytes: Double?
            var over_bytes: Double?
        }
        var graph: String
        var phase: String
        var cost_model: String
        var cost_model_name: String
        var network: String
        var unbound_symbols: [String]
        var tokens: Double?
        var critical_path_seconds: Double
        var critical_path: [String]
        var critical_path_steps: [Step]
        var get_time_expression: String
        var makespan_seconds: Double
        var micro_batches: Int?
        var tps: Double?
        var tpot_seconds: Double?
        /// A disaggregated graph: the request's figures.
        var disaggregated: Disaggregated?
        var roofline_tps: Double?
        var roofline_fraction: Double?
        /// `compute` or `memory`: which bound binds the busiest GPU.
        var roofline_binding: String?
        var total_flops: Double
        var communication_share: Double
        var gpus: [GPU]
        var bytes_by_link: [String: Double]
        /// Per communication kind, the bytes its members put in (message sizes, as a Chakra
        /// trace's comm_size), summed over members and nodes.
        var contributed_bytes_by_kind: [String: Double]
        var memory: [Memory]
        var findings: [CheckJSON.Item]
        /// The errors `deploydag check` finds in the DAG (other than memory): figures of a DAG with
        /// errors are not to be trusted.
        var check_errors: Int?
        var slack_seconds: [String: Double]?
        /// The overview's blocks and their figures (`BlockBreakdown`), as the overview draws them.
        var blocks: [Block]
        struct Block: Encodable {
            var block: String
            var gpus: String
            var operators: Int
            var flops: Double
            var memory_bytes: Double
            var sent_bytes: Double
            var gpu_seconds: Double
            var on_critical_path: Bool
        }
    }

    /// The overview's blocks: what `--blocks` prints and the overview diagram draws.
    var blockLines: [String] {
        let breakdown = BlockBreakdown(analysis)
        return ["by block (the overview diagram's blocks; GPU time is each node's duration times the GPUs it occupies):"]
            + Table.render(
                header: ["block", "GPUs", "operators", "FLOPs", "moved", "sent", "GPU time"],
                rows: breakdown.blocks.map { b in
                    let f = b.figures
                    return [
                        b.title, GPUList.compact(Array(f.gpus)), String(f.nodes), f.flops > 0 ? Format.flops(f.flops) : "-",
                        f.memoryBytes > 0 ? Format.bytes(f.memoryBytes) : "-", f.sentBytes > 0 ? Format.bytes(f.sentBytes) : "-",
                        f.gpuSeconds > 0 ? Format.seconds(f.gpuSeconds) : "-",
                    ]
                }, rightAligned: [2, 3, 4, 5, 6])
    }

    var json: JSON {
        let a = analysis
        return JSON(
            graph: graph.name, phase: a.isDisaggregated ? "disaggregated" : a.isDecode ? "decode" : "prefill",
            cost_model: a.options.costModel.description,
            cost_model_name: a.options.costModel.name, network: a.options.network.description, unbound_symbols: a.unboundSymbols,
            tokens: a.tokens, critical_path_seconds: a.criticalPathSeconds, critical_path: a.criticalPath.map { graph.nodes[$0].name },
            critical_path_steps: a.criticalPath.map { v in
                let node = graph.nodes[v]
                let c = a.costs[v]
                let at = node.attributes
                return JSON.Step(
                    node: node.name, op: node.op.rawValue, gpu: node.gpu, group: node.group.isEmpty ? nil : node.group,
                    get_time: node.op == .matmul ? "Get_Time(\(at["m"] ?? "?"), \(at["k"] ?? "?"), \(at["n"] ?? "?"))" : nil,
                    sent_bytes_per_gpu: node.op.isCommunication ? c.sentBytesPerGPU : nil,
                    memory_bytes: c.memoryBytes > 0 ? c.memoryBytes : nil, seconds: c.seconds)
            }, get_time_expression: a.getTimeExpression, makespan_seconds: a.makespanSeconds,
            micro_batches: graph.attributes["micro_batches"].flatMap(Int.init), tps: a.tokensPerSecond, tpot_seconds: a.timePerOutputToken,
            disaggregated: disaggregated.map { d in
                JSON.Disaggregated(
                    ttft_seconds: d.timeToFirstToken, kv_transfer_bytes: d.transferBytes, kv_transfer_done_seconds: d.transferDone,
                    tpot_seconds: d.timePerOutputToken,
                    decode_tokens_per_second: d.decodeTokens.flatMap { d.timePerOutputToken > 0 ? $0 / d.timePerOutputToken : nil })
            }, roofline_tps: a.rooflineTPS, roofline_fraction: a.tokensPerSecond.flatMap { tps in a.rooflineTPS.map { tps / $0 } },
            roofline_binding: a.roofline?.binding, total_flops: a.totalFLOPs, communication_share: a.communicationShare,
            gpus: usage.map {
                JSON.GPU(
                    gpu: $0.gpu, compute_seconds: $0.computeSeconds, communication_seconds: $0.communicationSeconds, flops: $0.flops,
                    utilisation: $0.utilisation, flops_utilisation: $0.flopsUtilisation)
            },
            bytes_by_link: Dictionary(uniqueKeysWithValues: a.bytesByLink.map { ($0.key.rawValue, $0.value) }),
            contributed_bytes_by_kind: Dictionary(uniqueKeysWithValues: a.contributedBytesByKind.map { ($0.key.rawValue, $0.value) }),
            memory: memory.map {
                JSON.Memory(
                    gpu: $0.gpu, weight_bytes: $0.weightBytes, peak_activation_bytes: $0.peakActivationBytes, total_bytes: $0.totalBytes,
                    capacity_bytes: $0.capacityBytes, over_bytes: $0.overBytes)
            }, findings: findings.map(CheckJSON.Item.init), check_errors: nil,
            slack_seconds: includeSlack
                ? Dictionary(uniqueKeysWithValues: graph.nodes.indices.map { (graph.nodes[$0].name, a.slack[$0]) }) : nil,
            blocks: BlockBreakdown(a).blocks.map { b in
                JSON.Block(
                    block: b.title, gpus: GPUList.compact(Array(b.figures.gpus)), operators: b.figures.nodes, flops: b.figures.flops,
                    memory_bytes: b.figures.memoryBytes, sent_bytes: b.figures.sentBytes, gpu_seconds: b.figures.gpuSeconds,
                    on_critical_path: b.onCriticalPath)
            })
    }
}

/// Plain-text tables with aligned columns.
enum Table {
    static func render(header: [String], rows: [[String]], rightAligned: Set<Int> = []) -> [String] {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            "  "
                + cells.enumerated().map { i, cell in
                    let pad = String(repeating: " ", count: widths[i] - cell.count)
                    return rightAligned.contains(i) ? pad + cell : cell + pad
                }.joined(separator: "  ")
        }
        return [line(header)] + rows.map(line)
    }
}
