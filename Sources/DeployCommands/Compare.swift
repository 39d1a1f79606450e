import ArgumentParser
import DeployAnalysis
import DeployBuilders
import DeployModel
import DeploySpecs
import Foundation

extension DeployDag {
    /// `deploydag compare`: strategies side by side.
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Compare deployments (presets, spec files, Hugging Face configs or DOT files) by prefill TPS, decode TPOT, makespan and communication.",
            discussion: """
                For a preset, a spec file (.yaml, .yml) or a Hugging Face config (.json with model_type, built on TP 1 x PP 1), \
                the prefill DAG is analysed with micro-batches when the strategy pipelines (2 per stage unless --micro-batches \
                says otherwise), and a decode step with a context of the sequence length gives the TPOT. A DOT file is analysed \
                as it is. Figures a seed document claims for a preset are printed beside deploydag's own. A deployment that \
                cannot be built or read is a row that says why; the rest of the table stands, and the exit status is 1 (2 when \
                one was an unknown preset or an unreadable file).
                """)

        @Argument(help: "Presets, spec files (.yaml), Hugging Face configs (.json) or DOT files.", completion: .deployments)
        var deployments: [String]

        @OptionGroup var costs: CostOptions

        @Option(name: .long, parsing: .singleValue, help: "Give a symbol a value, as NAME=VALUE (repeatable).")
        var bind: [String] = []

        @Option(name: .long, parsing: .unconditional, help: "Micro-batches for pipelined presets (default: 2 per pipeline stage).")
        var microBatches: Int?

        @Option(name: .long, parsing: .unconditional, help: "Decode context in tokens (default: the preset's sequence length).")
        var context: Int?

        @Option(name: .long, parsing: .unconditional, help: "text or json.")
        var format: OutputFormat = .text

        func validate() throws {
            if deployments.isEmpty { throw ValidationError("name at least one preset or DOT file") }
            if let microBatches, microBatches <= 0 { throw ValidationError("--micro-batches must be positive") }
            if let context, context < 2 { throw ValidationError("--context must be at least 2") }
            let given = [("--micro-batches", microBatches != nil), ("--context", context != nil)].filter(\.1).map(\.0)
            if !given.isEmpty, deployments.allSatisfy({ if case .dot = DeploymentInput($0) { true } else { false } }) {
                throw ValidationError(
                    "\(given.joined(separator: " and ")) \(given.count == 1 ? "applies" : "apply") to presets, spec files and Hugging Face configs; every deployment named is a DOT file, analysed as it is"
                )
            }
        }

        struct Row: Encodable {
            var deployment: String
            var source: String
            var micro_batches: Int?
            var prefill_tps: Double?
            var decode_tpot_seconds: Double?
            var makespan_seconds: Double?
            var critical_path_seconds: Double?
            var communication_share: Double?
            var roofline_fraction: Double?
            var claimed_tps: Double?
            var claimed_tpot_seconds: Double?
            var claims_source: String?
            /// The most any GPU needs (weights plus peak activations) in the DAGs priced.
            var memory_per_gpu_bytes: Double?
            /// Whether every GPU fits its memory: a row that does not is no deployment to rank.
            var fits: Bool?
            var note: String?
            /// Why the deployment could not be built, read or analysed; no figures then.
            var error: String?
        }

        /// The `compare --format json` document (docs/schemas/compare.schema.json): one object.
        struct JSON: Encodable {
            var cost_model: String
            var network: String
            var rows: [Row]
        }

        func run() throws {
            let options = try costs.options()
            let bindings = try parseBindings(bind)
            var rows: [Row] = []
            var status: Int32 = 0
            for item in deployments {
                let input = DeploymentInput(item)
                do {
                    if let spec = try input.spec() {
                        var row = try Compare.row(
                            for: spec, options: options, bindings: bindings, microBatches: microBatches, context: context)
                        row.source = input.source
                        if case .preset = input {} else { row.deployment = item }
                        rows.append(row)
                    } else {
                        rows.append(try fileRow(item, options: options, bindings: bindings))
                    }
                } catch {
                    // One deployment that cannot be had does not take the table with it.
                    let (message, usage) = Self.describe(error)
                    status = max(status, usage ? 2 : 1)
                    rows.append(Row(deployment: item, source: input.source, error: message))
                }
            }
            switch format {
            case .json:
                print(
                    try JSONOutput.encode(JSON(cost_model: options.costModel.description, network: options.network.description, rows: rows))
                )
            case .text:
                print("cost model: \(options.costModel.description)")
                print("network: \(options.network.description)")
                print("")
                let table = rows.map { r -> [String] in
                    if r.error != nil { return [r.deployment, "failed"] + Array(repeating: "-", count: 8) + ["", ""] }
                    return [
                        r.deployment, r.memory_per_gpu_bytes.map(Format.bytes) ?? "-", r.fits.map { $0 ? "yes" : "NO" } ?? "-",
                        r.prefill_tps.map(Format.rate) ?? "-", r.decode_tpot_seconds.map(Format.seconds) ?? "-",
                        r.makespan_seconds.map(Format.seconds) ?? "-", r.critical_path_seconds.map(Format.seconds) ?? "-",
                        r.communication_share.map(Format.percent) ?? "-", r.roofline_fraction.map(Format.percent) ?? "-",
                        r.micro_batches.map(String.init) ?? "-",
                        r.claimed_tps.map(Format.rate) ?? "", r.claimed_tpot_seconds.map(Format.seconds) ?? "",
                    ]
                }
                Table.render(
                    header: [
                        "deployment", "memory/GPU", "fits", "prefill TPS", "decode TPOT", "prefill makespan", "critical path", "comm share",
                        "of roofline",
                        "micro-batches", "claimed TPS", "claimed TPOT",
                    ], rows: table, rightAligned: [1, 3, 4, 5, 6, 7, 8, 9, 10, 11]
                ).forEach { print($0) }
                for r in rows where r.claims_source != nil {
                    print(
                        "  \(r.deployment): claimed figures from \(r.claims_source!); deploydag's are derived from its DAG under the cost model above"
                    )
                }
                for r in rows where r.note != nil { print("  \(r.deployment): \(r.note!)") }
                for r in rows where r.fits == false {
                    print(
                        "  \(r.deployment): does NOT fit in memory on \(options.costModel.gpu?.name ?? "this GPU"): its figures rank no deployment"
                    )
                }
                for r in rows where r.error != nil { print("  \(r.deployment): cannot be compared: \(r.error!)".terminalEscaped) }
            }
            if rows.contains(where: { $0.fits == false }) { status = max(status, 1) }
            if status != 0 { throw ExitCode(status) }
        }

        /// A row's failure in words, and whether it was bad usage (an unknown preset, a bad
        /// --bind) or an unreadable file rather than a deployment that cannot be built.
        static func describe(_ error: Error) -> (String, usage: Bool) {
            switch error {
            case var error as SpecFileError:
                error.file = PresetLocation.displayPath(error.file)
                return (error.description, false)
            case let error as CommandError: return ("\(error)", true)
            case let error as ValidationError: return (error.message, true)
            case let error as ExitCode where error == .failure: return ("it has errors that deploydag check reports", false)
            default: return ("\(error)", false)
            }
        }

        /// A preset's prefill TPS (pipelined with micro-batches), decode TPOT and claims.
        static func row(
            for spec: DeploymentSpec, options: AnalysisOptions, bindings: [String: Int64], microBatches: Int? = nil, context: Int? = nil
        ) throws -> Row {
            let name = spec.name
            var deployment = spec.deployment
            deployment.model.batch = try deployment.model.batch.binding(bindings)
            deployment.model.seq = try deployment.model.seq.binding(bindings)
            var pipelined = 1
            if case .tensorPipeline(_, let pp) = deployment.strategy, pp > 1 { pipelined = microBatches ?? 2 * pp }
            var prefill = deployment
            prefill.phase = .prefill
            prefill.microBatches = pipelined
            let prefillAnalysis = try Analysis(graph: spec.build(prefill), options: options)
            var row = Row(
                deployment: name, source: "preset", micro_batches: pipelined, prefill_tps: prefillAnalysis.tokensPerSecond,
                makespan_seconds: prefillAnalysis.makespanSeconds, critical_path_seconds: prefillAnalysis.criticalPathSeconds,
                communication_share: prefillAnalysis.communicationShare,
                roofline_fraction: prefillAnalysis.tokensPerSecond.flatMap { tps in prefillAnalysis.rooflineTPS.map { tps / $0 } },
                claimed_tps: spec.claims?.tokensPerSecond, claimed_tpot_seconds: spec.claims?.timePerOutputToken,
                claims_source: spec.claims?.source)
            row.record(memoryOf: prefillAnalysis)
            if !prefillAnalysis.unboundSymbols.isEmpty {
                row.note = "symbolic \(prefillAnalysis.unboundSymbols.joined(separator: ", ")): bind with --bind NAME=VALUE for figures"
                row.prefill_tps = nil
                row.makespan_seconds = nil
                row.critical_path_seconds = nil
                return row
            }
            guard let l = context.map(Int64.init) ?? deployment.model.seq.intValue else { return row }
            var decode = deployment
            decode.phase = .decode(context: Dim(l))
            decode.microBatches = 1
            do {
                let decodeAnalysis = try Analysis(graph: spec.build(decode), options: options)
                row.decode_tpot_seconds = decodeAnalysis.timePerOutputToken
                row.record(memoryOf: decodeAnalysis)
            } catch {
                row.note = "no decode step: \(error)"
            }
            return row
        }

        private func fileRow(_ file: String, options: AnalysisOptions, bindings: [String: Int64]) throws -> Row {
            let graph = try loadGraph(file: file, bindings: bindings, keepLabels: false)
            let a = try Analysis(graph: graph, options: options)
            var row = Row(
                deployment: file, source: "file", micro_batches: graph.attributes["micro_batches"].flatMap(Int.init) ?? 1,
                prefill_tps: a.isDecode ? nil : a.tokensPerSecond,
                decode_tpot_seconds: a.timePerOutputToken ?? (try? a.disaggregatedFigures())??.timePerOutputToken,
                makespan_seconds: a.unboundSymbols.isEmpty ? a.makespanSeconds : nil,
                critical_path_seconds: a.unboundSymbols.isEmpty ? a.criticalPathSeconds : nil, communication_share: a.communicationShare,
                roofline_fraction: a.isDecode ? nil : a.tokensPerSecond.flatMap { tps in a.rooflineTPS.map { tps / $0 } },
                note: a.unboundSymbols.isEmpty
                    ? a.isDisaggregated
                        ? "disaggregated: the makespan is the prefill's and the transfer's; the TPOT the decode step's alone" : nil
                    : "symbolic \(a.unboundSymbols.joined(separator: ", ")): bind with --bind NAME=VALUE")
            row.record(memoryOf: a)
            return row
        }
    }
}

extension DeployDag.Compare.Row {
    /// Keeps the largest per-GPU need and whether every GPU fits, over the analyses priced.
    mutating func record(memoryOf analysis: Analysis) {
        let memory = analysis.memory
        guard let worst = memory.map(\.totalBytes).max() else { return }
        memory_per_gpu_bytes = max(memory_per_gpu_bytes ?? 0, worst)
        fits = (fits ?? true) && memory.allSatisfy { $0.overBytes == nil }
    }
}
