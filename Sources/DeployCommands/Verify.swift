import ArgumentParser
import DOTFormat
import DeployBuilders
import DeployChecker
import DeployModel
import DeploySpecs
import DeployVerify
import Foundation

extension DeployDag {
    /// `deploydag verify`: numeric proof that a DAG computes the model.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Execute a DAG on small random tensors and compare it with the unpartitioned model.",
            discussion: """
                With --preset or --spec, every dimension is scaled down (batch, sequence, head dimension, MLP width) while \
                the partition counts stay, and MoE capacity is raised so that no token is dropped. With a DOT file, the \
                graph is executed as it is against the model its attributes describe, or, past verify's budget (5e7 \
                elements), at the least consistent assignment of that model's parameters that every part the file \
                cuts stays whole in (printed; --shrunk-output writes it); a file without \
                weight_logical or place (hand-written) has its weights' roles found from the graph and its placements \
                inferred as check infers them. Weights, inputs and caches are drawn deterministically from the logical \
                tensors the nodes slice; double precision; \
                exit 0 when the maximum relative error is at rounding level (1e-9), 1 otherwise.
                """)

        @Argument(
            help:
                "A DOT file (or name a deployment with --preset/--spec/--hf-config). Given beside a file, --preset, --spec or --hf-config names the model the file is executed against, in place of its header's (its batch, seq and layers kept).",
            completion: .dotFiles)
        var file: String?

        @OptionGroup var source: DeploymentOptions

        @Option(name: .long, parsing: .unconditional, help: "Seed of the random data.")
        var seed: UInt64 = 1

        @Option(name: .long, parsing: .unconditional, help: "text or json.")
        var format: OutputFormat = .text

        @Option(
            name: .long, parsing: .unconditional,
            help: ArgumentHelp(
                "Write the DAG as executed to this DOT file: a file past verify's budget at the small assignment it was shrunk to (labels dropped), a scaled-down preset as built.",
                valueName: "path"))
        var shrunkOutput: String?

        /// The `verify --format json` document (docs/schemas/verify.schema.json).
        struct JSON: Encodable {
            var graph: String
            var scaled_down: String?
            /// A file past the budget: the parameters it was executed at.
            var shrunk: [ShrunkGraph.Scaled]?
            var seed: UInt64
            var nodes_executed: Int
            var outputs: Int
            var max_relative_error: Double
            var tolerance: Double
            var passes: Bool
        }

        func validate() throws {
            // A DOT file and a model source: the file is executed against that model.
            if let file, source.isGiven {
                try source.refuseBuildFlags(for: file)
            } else {
                try source.validate(file: file)
            }
        }

        func run() throws {
            let graph: OperatorGraph
            var scaledSummary: String?
            if let file {
                var model: [String: String]?
                if source.isGiven {
                    // The model from an independent source wins over the file's header.
                    model = try source.deployment().deployment.model.attributes
                }
                graph = try Self.checkedGraph(file: file, bindings: source.bindings(), model: model)
                // The stated weights against the model, before anything is executed.
                let mismatched = Verifier.weightsAgainstHeader(graph)
                if !mismatched.isEmpty {
                    for m in mismatched.prefix(Self.printedErrors) {
                        printError("deploydag: verify: \(graph.nodes[m.node].name): \(m.message)".terminalEscaped)
                    }
                    if mismatched.count > Self.printedErrors { printError("... and \(mismatched.count - Self.printedErrors) more") }
                    throw ExitCode.failure
                }
            } else {
                let built = try source.build()
                let scaled = try ScaledDeployment.make(built.deployment)
                graph = try built.spec.build(scaled.deployment)
                scaledSummary = scaled.summary
            }
            // What --shrunk-output must not replace.
            let inputs = file.map { [$0] } ?? source.inputFiles
            if let shrunkOutput { try OutputFile.preflight(shrunkOutput, inputs: inputs) }
            let result: VerifyResult
            do {
                result = try Verifier.verify(graph, seed: seed)
            } catch {
                // A graph verify cannot execute (too big, inconsistent, not a model it knows)
                // is a failed operation on valid usage.
                printError("deploydag: verify: \(error)")
                throw ExitCode.failure
            }
            if let shrunkOutput, let executed = result.executed {
                try OutputFile.write(to: shrunkOutput, inputs: inputs) { emit in
                    try DOTWriter().stream(executed) { try emit($0) }
                }
            }
            switch format {
            case .json:
                print(
                    try JSONOutput.encode(
                        JSON(
                            graph: graph.name, scaled_down: scaledSummary, shrunk: result.shrunk, seed: seed,
                            nodes_executed: result.nodesExecuted,
                            outputs: result.outputs, max_relative_error: result.maxRelativeError, tolerance: Verifier.tolerance,
                            passes: result.passes)))
            case .text:
                var verdict = result.passes ? "matches the unpartitioned model" : "does NOT compute the unpartitioned model"
                if !result.passes && result.unplacedDrops > 0 {
                    verdict =
                        "inconclusive: \(result.unplacedDrops) token-expert assignments dropped for want of expert capacity could not be placed in the whole batch, so the reference keeps them (build with a capacity factor of at least experts / top_k to drop none)"
                }
                let described =
                    scaledSummary.map { " (scaled down: \($0))" }
                    ?? result.shrunk.map {
                        " (shrunk to execute: \($0.map { "\($0.name) \($0.from) -> \($0.to)" }.joined(separator: ", ")))"
                    } ?? ""
                print("\(graph.name)\(described): \(result.nodesExecuted) nodes executed, \(result.outputs) outputs compared")
                print(String(format: "max relative error %.3e (tolerance %.0e): %@", result.maxRelativeError, Verifier.tolerance, verdict))
                if let difference = result.firstDifference { print(difference.description) }
                if result.droppedAssignments > result.unplacedDrops {
                    print(
                        "\(result.droppedAssignments - result.unplacedDrops) token-expert assignments past an expert's capacity were dropped by the DAG and by the reference alike"
                    )
                }
            }
            if !result.passes { throw ExitCode.failure }
        }
    }
}

extension DeployDag.Verify {
    /// How many of a refused file's errors are printed.
    static let printedErrors = 20

    /// The file's graph, bound, when `check` finds no error in it: the interpreter executes only
    /// graphs whose shapes and groups the checker has accepted. Otherwise the errors are
    /// printed and verify exits 1.
    static func checkedGraph(file: String, bindings: [String: Int64], model: [String: String]? = nil) throws -> OperatorGraph {
        let progress = ProgressLine.standardError()
        let loaded = try LoadedDAG.load(file, progress: progress)
        progress.finish()
        var errors = loaded.allFindings.filter { $0.severity == .error }
        var decoded = loaded.decoded
        if let model, var replaced = decoded {
            replaced.graph.attributes = withModel(model, in: replaced.graph.attributes)
            decoded = replaced
        }
        if let decoded, errors.isEmpty {
            errors = Checker().check(decoded).findings.filter { $0.severity == .error }
        }
        guard let decoded, errors.isEmpty else {
            for finding in errors.prefix(printedErrors) { printError(finding.formatted.terminalEscaped) }
            if errors.count > printedErrors { printError("... and \(errors.count - printedErrors) more errors") }
            printError(
                "deploydag: verify: \(file) has \(errors.count) error\(errors.count == 1 ? "" : "s") that deploydag check reports; verify executes only graphs that check accepts"
            )
            throw ExitCode.failure
        }
        do {
            // A hand-written file's placements, as check infers them (docs/placement.md).
            return try Checker().annotated(decoded).binding(bindings)
        } catch {
            throw ValidationError("--bind: \(error)")
        }
    }
}

extension DeployDag.Verify {
    /// The file's graph attributes with the model's description replaced by `model`'s (what
    /// --spec, --hf-config or --preset describe), the file's workload kept: its `batch`, `seq`
    /// and `layers` (a file of 2 of a model's 32 layers executes 2). Each difference is printed.
    static func withModel(_ model: [String: String], in header: [String: String]) -> [String: String] {
        let kept: Set<String> = ["batch", "seq", "layers"]
        var result = header
        var differences: [String] = []
        for key in TransformerModel.attributeKeys.subtracting(kept).sorted() where header[key] != model[key] {
            result[key] = model[key]
            differences.append("\(key) \(model[key] ?? "(none)") (the file's header: \(header[key] ?? "(none)"))")
        }
        if differences.isEmpty {
            printError("deploydag: verify: the file's header states the model given")
        } else {
            printError("deploydag: verify: executed against the model given, not the file's header: \(differences.joined(separator: ", "))")
        }
        return result
    }
}

/// A deployment shrunk for execution: the same partition counts, tiny dimensions.
enum ScaledDeployment {
    static func make(_ original: Deployment) throws -> (deployment: Deployment, summary: String) {
        var d = original
        d.microBatches = 1
        // A deep model keeps 16 layers a pipeline stage: every layer is built by the same code, and
        // the stage boundaries stay, while the executed graph stays within verify's budget.
        let stages: Int
        if case .tensorPipeline(_, let pp) = d.strategy { stages = pp } else { stages = 1 }
        let keptLayers = min(d.model.layers, 16 * stages)
        let fewerLayers = keptLayers < d.model.layers ? ", \(keptLayers) of \(d.model.layers) layers" : ""
        d.model.layers = keptLayers
        let segments: Int
        if case .helix(_, let s) = d.strategy { segments = s } else { segments = 1 }
        d.model.headDim = max(2 * segments, 4)
        d.model.hidden = d.model.heads * d.model.headDim
        d.model.ffn = 64
        // A vocabulary every tensor-parallel degree up to 64 splits, a window shorter than the
        // prompt (so the mask bites), a partial rotation that stays partial.
        if d.model.vocab != nil { d.model.vocab = 128 }
        if d.model.slidingWindow != nil { d.model.slidingWindow = 5 }
        if let dims = d.model.rope?.rotaryDim, dims < original.model.headDim {
            d.model.rope?.rotaryDim = max(2, d.model.headDim / 2 / 2 * 2)
        }
        if var moe = d.model.moe {
            moe.expertFFN = 32
            // Room for every token in every expert's buffer: nothing dropped, as in the reference.
            moe.capacityFactor = Dim(Int64(moe.experts))
            d.model.moe = moe
        }
        let contexts: [Int64?]
        if case .decode = original.phase { contexts = [8, 10, 20, 40] } else { contexts = [nil] }
        for batch in [2, 4, 8, 16] as [Int64] {
            for seq in [8, 10, 16, 20, 40, 80] as [Int64] {
                for context in contexts {
                    var candidate = d
                    candidate.model.batch = Dim(batch)
                    candidate.model.seq = Dim(seq)
                    if let context { candidate.phase = .decode(context: Dim(context)) }
                    if (try? DeploymentBuilder().build(candidate)) != nil {
                        var summary = "batch \(batch), seq \(seq), hidden \(d.model.hidden) = \(d.model.heads) heads x \(d.model.headDim)"
                        if d.model.kvHeads != d.model.heads { summary += " (\(d.model.kvHeads) K/V heads)" }
                        if let vocab = d.model.vocab { summary += ", vocab \(vocab)" }
                        summary += d.model.moe.map { ", \($0.experts) experts of \($0.expertFFN)" } ?? ", MLP \(d.model.ffn)"
                        if let context { summary += ", context \(context)" }
                        return (candidate, summary + fewerLayers)
                    }
                }
            }
        }
        throw ValidationError("no small dimensions let this deployment build; verify a DOT file instead")
    }
}
