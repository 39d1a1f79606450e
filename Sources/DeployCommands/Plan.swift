import ArgumentParser
import DOTFormat
import DeployAnalysis
import DeployBuilders
import DeployModel
import Foundation

extension DeployDag {
    /// `deploydag plan`: every composition of the degrees for a model on a GPU count, ranked.
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Search the deployments of a model on N GPUs: every tp x pp x dp x cp x ep (x sp, micro-batches) composition, ranked.",
            discussion: """
                Takes the model of --preset, --spec or --hf-config (its own strategy is ignored). Each composition is built \
                and analysed in memory with the cost model analyze uses; those that do not fit in memory are marked; the \
                Pareto front of tokens/s per GPU against latency is marked with '*'. --emit-dot writes the DOT of the top \
                ones, which analyze prices to the same figures.
                """)

        @OptionGroup var source: DeploymentOptions
        @OptionGroup var costs: CostOptions

        @Option(name: .long, help: "The GPUs to plan for (1 to 4096).")
        var gpus: Int

        @Option(name: .long, help: "Keep compositions whose time to first token is at most this (prefill), ms.")
        var ttftMs: Double?

        @Option(name: .long, help: "Keep compositions whose time per output token is at most this (decode), ms.")
        var tpotMs: Double?

        @Option(name: .long, help: "text or json.")
        var format: OutputFormat = .text

        @Option(name: .long, help: "Write the Pareto chart (latency against tokens/s per GPU) as SVG.")
        var plot: String?

        @Option(name: .long, help: "Write the DOT of the top --top compositions that fit into this directory.")
        var emitDot: String?

        @Option(name: .long, help: "How many compositions --emit-dot writes (default 3).")
        var top: Int = 3

        func validate() throws {
            if !source.isGiven { throw ValidationError("name a model with --preset, --spec or --hf-config") }
            guard gpus >= 1, gpus <= 4096 else { throw ValidationError("--gpus must be between 1 and 4096, got \(gpus)") }
            guard top >= 1 else { throw ValidationError("--top must be positive, got \(top)") }
            if let ttftMs, ttftMs <= 0 { throw ValidationError("--ttft-ms must be positive") }
            if let tpotMs, tpotMs <= 0 { throw ValidationError("--tpot-ms must be positive") }
            if tpotMs != nil && source.phase != .decode { throw ValidationError("--tpot-ms applies to --phase decode") }
            if ttftMs != nil && source.phase == .decode { throw ValidationError("--ttft-ms applies to prefill") }
            if source.microBatches != nil { throw ValidationError("--micro-batches: plan chooses the micro-batches itself") }
        }

        func run() throws {
            let (_, deployment) = try source.deployment()
            guard deployment.model.batch.intValue != nil, deployment.model.seq.intValue != nil else {
                throw ValidationError("plan prices concrete shapes: give --batch and --seq (or --bind) values")
            }
            let planner = Planner(base: deployment, gpus: gpus, options: try costs.options())
            let compositions = planner.compositions()
            guard !compositions.isEmpty else {
                throw ValidationError(
                    "no composition of tp x pp x dp x cp x ep divides \(deployment.model.heads) heads, \(deployment.model.kvHeads) K/V heads, \(deployment.model.layers) layers and a batch of \(deployment.model.batch) over \(gpus) GPUs"
                )
            }
            var rows: [Planner.Row] = []
            let target = tpotMs.map { $0 / 1e3 } ?? ttftMs.map { $0 / 1e3 }
            for c in compositions {
                var (row, _) = planner.evaluate(c)
                let latency = row.tpot_seconds ?? row.ttft_seconds
                row.meets_target = target.map { t in latency.map { $0 <= t } ?? false } ?? true
                rows.append(row)
            }
            Planner.markPareto(&rows)
            rows = Planner.rank(rows)
            let title = "\(deployment.name) on \(gpus) GPUs (\(deployment.phase))"
            if let plot { try OutputFile.write(PlanChart.svg(rows, title: title), to: plot, inputs: source.inputFiles + costs.inputFiles) }
            if let emitDot {
                try FileManager.default.createDirectory(atPath: emitDot, withIntermediateDirectories: true)
                for row in rows.prefix(top) where row.fits {
                    guard let c = compositions.first(where: { $0.name == row.composition }) else { continue }
                    let graph = try planner.graph(c)
                    try OutputFile.write(try DOTWriter().write(graph), to: "\(emitDot)/\(OutputFile.safeComponent(graph.name)).dot")
                }
            }
            let costModel = planner.options.costModel.description
            switch format {
            case .json:
                struct Document: Encodable {
                    var model: String
                    var gpus: Int
                    var phase: String
                    var batch: String
                    var cost_model: String
                    var compositions: [Planner.Row]
                }
                print(
                    try JSONOutput.encode(
                        Document(
                            model: deployment.name, gpus: gpus, phase: deployment.phase.description,
                            batch: deployment.model.batch.description, cost_model: costModel, compositions: rows)))
            case .text:
                print(text(rows, title: title, costModel: costModel, decode: deployment.phase != .prefill))
            }
            if !rows.contains(where: { $0.fits }) { throw ExitCode.failure }
        }

        func text(_ rows: [Planner.Row], title: String, costModel: String, decode: Bool) -> String {
            var lines = [title, "cost model: \(costModel)", ""]
            let header = [
                "", "composition", "GPUs", "memory/GPU", "fits", decode ? "TPOT" : "TTFT", "tokens/s", "tokens/s/GPU", "bottleneck",
                "max batch",
            ]
            let table = rows.map { r -> [String] in
                [
                    r.pareto ? "*" : "", r.composition, String(r.gpus), r.memory_per_gpu_bytes.map(Format.bytes) ?? "-",
                    r.error != nil ? "error" : r.fits ? "yes" : "NO", (r.tpot_seconds ?? r.ttft_seconds).map(Format.seconds) ?? "-",
                    r.tokens_per_second.map(Format.rate) ?? "-", r.tokens_per_second_per_gpu.map(Format.rate) ?? "-",
                    r.bottleneck ?? (r.error ?? "-"), r.largest_batch_estimate.map(String.init) ?? "-",
                ]
            }
            lines += Table.render(header: header, rows: table, rightAligned: [2, 3, 5, 6, 7, 9])
            let fitting = rows.filter(\.fits).count
            lines.append("")
            lines.append(
                "\(rows.count) compositions, \(fitting) fit in memory; * marks the Pareto front of tokens/s per GPU against \(decode ? "TPOT" : "TTFT"); max batch: the largest batch that fits, from activations linear in the batch (an estimate)"
            )
            return lines.joined(separator: "\n")
        }
    }
}
