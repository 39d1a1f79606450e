import ArgumentParser
import DeployBuilders
import DeployModel
import DeploySpecs
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Which deployment a command works on: a preset or a spec file, and what the user changes.
struct DeploymentOptions: ParsableArguments {
    @Option(name: .long, help: "A built-in deployment (see 'deploydag presets').", completion: .presetNames)
    var preset: String?

    @Option(name: .long, help: "A deployment spec file (YAML, docs/specs.md).", completion: .file(extensions: ["yaml", "yml"]))
    var spec: String?

    @Option(
        name: .long, help: "A Hugging Face config.json: its model, on the strategy --strategy/--tp/--pp give.",
        completion: .file(extensions: ["json"]))
    var hfConfig: String?

    @Option(name: .long, help: "With --hf-config: the strategy kind (tp_pp, the default).")
    var strategy: String?

    @Option(name: .long, parsing: .unconditional, help: "With --hf-config: the tensor-parallel degree (default 1).")
    var tp: Int?

    @Option(name: .long, parsing: .unconditional, help: "With --hf-config: the pipeline stages (default 1).")
    var pp: Int?

    @Option(name: .long, parsing: .unconditional, help: "With --hf-config: data-parallel replicas of the pipeline (default 1).")
    var dp: Int?

    @Option(name: .long, parsing: .unconditional, help: "With --hf-config: context-parallel shards of the prompt (prefill; default 1).")
    var cp: Int?

    @Option(
        name: .long, parsing: .unconditional,
        help: "With --hf-config, a mixture of experts: the GPUs per stage the experts spread over, a multiple of --tp (default --tp).")
    var ep: Int?

    @Flag(name: .long, help: "With --hf-config: Megatron sequence parallelism inside each tensor-parallel group (prefill).")
    var sp = false

    @Option(
        name: .long,
        help: "With --hf-config: the degrees from innermost to outermost in GPU numbering, such as tp,pp,dp (default tp,cp,ep,pp,dp).")
    var order: String?

    /// The files this deployment is read from, which no output may replace.
    var inputFiles: [String] { [spec, hfConfig].compactMap { $0 } }

    @Option(name: .long, parsing: .unconditional, help: "Number of transformer layers.")
    var layers: Int?

    @Option(name: .long, help: "Batch size: an integer or a symbol such as B.")
    var batch: String?

    @Option(name: .long, help: "Sequence length: an integer or a symbol such as seq_len.")
    var seq: String?

    @Option(name: .long, parsing: .singleValue, help: "Give a symbol a value, as NAME=VALUE (repeatable): --bind B=8.")
    var bind: [String] = []

    @Option(name: .long, help: "prefill (the whole prompt; default) or decode (one new token per sequence).")
    var phase: PhaseName?

    @Option(name: .long, parsing: .unconditional, help: "Decode: the tokens of keys and values attended to, the new one included.")
    var context: Int?

    @Option(name: .long, parsing: .unconditional, help: "attention_pool: the number of pool GPUs (after the base GPUs).")
    var poolSize: Int?

    @Option(name: .long, help: "MoE: capacity factor of each expert's buffer (default 1.0).")
    var capacityFactor: String?

    @Option(name: .long, parsing: .unconditional, help: "MoE: experts per token.")
    var topK: Int?

    @Option(name: .long, parsing: .unconditional, help: "Split the batch into N micro-batches, each an independent chain (pipelining).")
    var microBatches: Int?

    @Option(
        name: .long, parsing: .unconditional,
        help: "Refuse, before building, a DAG estimated to have more nodes than this (default 2000000; memory grows about 1 KB a node)."
    )
    var maxNodes: Int = DeploymentOptions.defaultMaxNodes

    @Option(
        name: .long, help: "Helix: exact (default) or per-segment, the seeds' softmax of each segment's partial scores (a different model)."
    )
    var helixSoftmax: HelixSoftmaxName?

    enum HelixSoftmaxName: String, ExpressibleByArgument, CaseIterable {
        case exact
        case perSegment = "per-segment"
    }

    /// Whether a deployment was named at all (commands that also take a DOT file ask this).
    var isGiven: Bool { preset != nil || spec != nil || hfConfig != nil }

    enum PhaseName: String, ExpressibleByArgument, CaseIterable {
        case prefill, decode
    }

    /// The most layers a deployment may have: far beyond any model (the largest have about
    /// 130), and small enough that the builders' layer arithmetic cannot overflow.
    static let maximumLayers = 1_000_000
    /// The most micro-batches: each is a chain of its own through every layer.
    static let maximumMicroBatches = 4096
    /// The node budget `--max-nodes` raises (docs/limits.md).
    static let defaultMaxNodes = 2_000_000

    func validate() throws {
        if [preset, spec, hfConfig].compactMap({ $0 }).count > 1 {
            throw ValidationError("name a deployment with one of --preset NAME, --spec FILE or --hf-config FILE")
        }
        if hfConfig == nil, let flag = compositionFlags.first(where: \.1) {
            throw ValidationError("\(flag.0) applies to --hf-config (a spec or preset names its own strategy)")
        }
        if let strategy, strategy != "tp_pp" {
            throw ValidationError("--strategy \(strategy): a Hugging Face model is built with tp_pp (tensor x pipeline parallel)")
        }
        for (flag, value) in [("--tp", tp), ("--pp", pp), ("--dp", dp), ("--cp", cp), ("--ep", ep)] {
            if let value, value <= 0 || value > 4096 {
                throw ValidationError("\(flag) must be a positive integer of at most 4096, got \(value)")
            }
        }
        if let layers, layers <= 0 || layers > Self.maximumLayers {
            throw ValidationError("--layers must be a positive integer of at most \(Self.maximumLayers), got \(layers)")
        }
        if maxNodes <= 0 { throw ValidationError("--max-nodes must be a positive integer, got \(maxNodes)") }
        for (flag, value) in [("--batch", batch), ("--seq", seq)] {
            guard let value else { continue }
            guard let dim = Dim(value), dim.isPositive else {
                throw ValidationError("\(flag) must be a positive integer or a symbol such as B, got '\(value)'")
            }
        }
        _ = try bindings()
        if phase == .decode && context == nil { throw ValidationError("--phase decode needs --context L (the tokens attended to)") }
        if let context, context < 2 { throw ValidationError("--context must be at least 2, got \(context)") }
        if context != nil && phase != .decode { throw ValidationError("--context applies to --phase decode") }
        if let poolSize, poolSize <= 0 || poolSize > GPUList.maximum {
            throw ValidationError("--pool-size must be a positive integer of at most \(GPUList.maximum) GPUs, got \(poolSize)")
        }
        if let capacityFactor, MoERouting.parseFactor(capacityFactor) == nil {
            throw ValidationError("--capacity-factor must be a positive number such as 1.25, got '\(capacityFactor)'")
        }
        if let topK, topK <= 0 { throw ValidationError("--top-k must be a positive integer, got \(topK)") }
        if let microBatches, microBatches <= 0 || microBatches > Self.maximumMicroBatches {
            throw ValidationError("--micro-batches must be a positive integer of at most \(Self.maximumMicroBatches), got \(microBatches)")
        }
    }

    func bindings() throws -> [String: Int64] { try parseBindings(bind) }

    /// The flags given that change how a deployment is built, which a DOT file, read as it is,
    /// cannot honour. (`--bind` applies to both: it gives a file's symbols values.)
    var buildFlagsGiven: [String] {
        [
            ("--layers", layers != nil), ("--batch", batch != nil), ("--seq", seq != nil), ("--phase", phase != nil),
            ("--context", context != nil), ("--pool-size", poolSize != nil), ("--capacity-factor", capacityFactor != nil),
            ("--top-k", topK != nil), ("--micro-batches", microBatches != nil), ("--max-nodes", maxNodes != Self.defaultMaxNodes),
            ("--helix-softmax", helixSoftmax != nil),
        ].filter(\.1).map(\.0) + compositionFlags.filter(\.1).map(\.0)
    }

    /// The flags that compose a Hugging Face model's strategy, and whether each was given.
    var compositionFlags: [(String, Bool)] {
        [
            ("--strategy", strategy != nil), ("--tp", tp != nil), ("--pp", pp != nil), ("--dp", dp != nil), ("--cp", cp != nil),
            ("--ep", ep != nil), ("--sp", sp), ("--order", order != nil),
        ]
    }

    /// For a command that reads a DOT file or builds a deployment: exactly one of them, and no
    /// build flag beside a DOT file.
    func validate(file: String?) throws {
        if (file == nil) == !isGiven {
            throw ValidationError("give either a DOT file or --preset/--spec/--hf-config, not both and not neither")
        }
        if let file { try refuseBuildFlags(for: file) }
    }

    /// Refuses the flags that cannot apply to the DOT file `file`, naming them.
    func refuseBuildFlags(for file: String) throws {
        let given = buildFlagsGiven
        guard !given.isEmpty else { return }
        throw ValidationError(
            "\(given.joined(separator: ", ")) \(given.count == 1 ? "applies" : "apply") to a deployment built from --preset, --spec or --hf-config; \(LoadedDAG.displayName(file)) is a DOT file, read as it is (regenerate it with deploydag generate and these flags)"
        )
    }

    /// The spec named by --preset or --spec, or made from --hf-config.
    func loadSpec() throws -> DeploymentSpec {
        if let spec { return try Self.parseSpec(file: spec) }
        if let hfConfig {
            var spec = try Self.huggingFaceSpec(file: hfConfig, tp: tp ?? 1, pp: pp ?? 1)
            var d = spec.deployment
            (d.dataParallel, d.contextParallel, d.expertParallel, d.sequenceParallel) = (dp ?? 1, cp ?? 1, ep, sp)
            if let order {
                let names = order.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard !names.contains(where: \.isEmpty) else {
                    throw ValidationError("--order must list degrees such as tp,pp,dp, with none empty; got '\(order)'")
                }
                d.rankOrder = names
            }
            for (flag, degree) in [("dp", dp), ("cp", cp), ("ep", ep)] where (degree ?? 1) > 1 { d.name += "-\(flag)\(degree!)" }
            if sp { d.name += "-sp" }
            spec.deployment = d
            spec.name = d.name
            return spec
        }
        guard let name = preset else {
            throw ValidationError("name a deployment with --preset NAME, --spec FILE or --hf-config FILE")
        }
        return try loadPreset(name)
    }

    /// A Hugging Face config's model on TP `tp` x PP `pp`, as a spec.
    static func huggingFaceSpec(file: String, tp: Int, pp: Int) throws -> DeploymentSpec {
        try checkSpecReadable(file)
        var model = try HuggingFaceConfig.model(file: file)
        // A prompt of 2048 tokens for one sequence unless --batch and --seq say otherwise.
        model.batch = Dim(1)
        model.seq = Dim(2048)
        let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let deployment = Deployment(name: "\(name)-tp\(tp)-pp\(pp)", model: model, strategy: .tensorPipeline(tp: tp, pp: pp))
        return DeploymentSpec(
            name: deployment.name, summary: "\(name) from \(file), TP \(tp) x PP \(pp)", deployment: deployment, file: file)
    }

    /// A spec file parsed, after saying why it cannot be read when it cannot (the parser says
    /// only that it could not).
    static func parseSpec(file: String) throws -> DeploymentSpec {
        try checkSpecReadable(file)
        return try SpecParser.parse(file: file)
    }

    /// Refuses a file that cannot be opened, with the system's reason (no such file, permission
    /// denied, a directory).
    static func checkSpecReadable(_ file: String) throws {
        try LoadedDAG.checkReadable(file)
        // Non-blocking: a FIFO with no writer must not hang the open; only a regular file is read.
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw CommandError.io("cannot read \(file): \(lastError())") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw CommandError.io("cannot read \(file): not a regular file (a spec or config is read whole, from a file)")
        }
    }

    /// The deployment with the overrides applied, and its DAG.
    func build() throws -> (spec: DeploymentSpec, deployment: Deployment, graph: OperatorGraph) {
        let (spec, deployment) = try deployment()
        return (spec, deployment, try Self.buildWithinBudget(spec, deployment, maxNodes: maxNodes))
    }

    /// The deployment with the overrides applied, not yet built.
    func deployment() throws -> (spec: DeploymentSpec, deployment: Deployment) {
        let spec = try loadSpec()
        var overrides = SpecOverrides()
        overrides.layers = layers
        overrides.batch = batch.flatMap(Dim.init)
        overrides.seq = seq.flatMap(Dim.init)
        overrides.bindings = try bindings()
        if let phase { overrides.phase = phase == .decode ? .decode(context: Dim(context!)) : .prefill }
        overrides.poolSize = poolSize
        overrides.capacityFactor = capacityFactor.flatMap(MoERouting.parseFactor)
        overrides.topK = topK
        overrides.microBatches = microBatches
        overrides.helixSoftmax = helixSoftmax.map { HelixSoftmax(rawValue: $0.rawValue)! }
        return (spec, try overrides.apply(to: spec))
    }

    /// Builds `deployment` when its DAG is estimated to fit `maxNodes`; otherwise a usage error
    /// saying how big it would be and which flag raises the budget. The builders are linear in
    /// the layer count: two builds of a few layers give the nodes of one more layer, and the
    /// estimate for all of them follows without building them.
    static func buildWithinBudget(_ spec: DeploymentSpec, _ deployment: Deployment, maxNodes: Int) throws -> OperatorGraph {
        let layers = deployment.model.layers
        guard layers > 0, layers <= maximumLayers else {
            throw ValidationError("'layers' must be a positive integer of at most \(maximumLayers), got \(layers)")
        }
        guard deployment.microBatches <= maximumMicroBatches else {
            throw ValidationError("'micro_batches' must be at most \(maximumMicroBatches), got \(deployment.microBatches)")
        }
        let gpus = deployment.strategy.gpus
        guard gpus.count <= GPUList.maximum, (gpus.max() ?? 0) < GPUList.maximum else {
            throw ValidationError(
                "the strategy names \(gpus.count) GPUs up to GPU \(gpus.max() ?? 0); deploydag handles \(GPUList.maximum), ids 0 to \(GPUList.maximum - 1)"
            )
        }
        var samples: [(layers: Int, nodes: Int)] = []
        for candidate in 1...min(layers, 64) where samples.count < 2 {
            var small = deployment
            small.model.layers = candidate
            guard let graph = try? spec.build(small) else { continue }
            if candidate == layers { return graph }
            samples.append((candidate, graph.nodes.count))
        }
        if samples.count == 2 {
            let perLayer = Double(samples[1].nodes - samples[0].nodes) / Double(samples[1].layers - samples[0].layers)
            let estimate = Double(samples[0].nodes) + Double(layers - samples[0].layers) * perLayer
            if estimate > Double(maxNodes) {
                throw ValidationError(
                    "\(deployment.name) with \(layers) layers would have about \(Int(estimate.rounded())) nodes (\(Int(perLayer.rounded())) a layer), over the budget of \(maxNodes); --max-nodes N raises it"
                )
            }
        } else if let only = samples.first, only.nodes > maxNodes {
            throw ValidationError(
                "\(deployment.name) would have more than \(only.nodes) nodes, over the budget of \(maxNodes); --max-nodes N raises it")
        }
        return try spec.build(deployment)
    }
}

/// `NAME=VALUE` pairs from `--bind`.
func parseBindings(_ items: [String]) throws -> [String: Int64] {
    var values: [String: Int64] = [:]
    for item in items {
        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let value = Int64(parts[1]), value > 0, Dim(parts[0])?.isSymbolic == true else {
            throw ValidationError("--bind takes NAME=VALUE with a positive integer value, such as B=8; got '\(item)'")
        }
        values[parts[0]] = value
    }
    return values
}

/// A preset by name, or a usage error listing the known ones.
func loadPreset(_ name: String) throws -> DeploymentSpec {
    let all = try Presets.all()
    guard let found = all.first(where: { $0.name == name }) else {
        throw ValidationError("unknown preset '\(name)'; known presets: \(all.map(\.name).joined(separator: ", "))")
    }
    return found
}

/// What a name on `compare`'s or `report`'s command line is: a preset, a spec file (`.yaml`,
/// `.yml`), a Hugging Face config (`.json`, with `model_type`) or a DOT file (anything else that
/// exists, ends in `.dot` or `.gv`, or is `-`).
enum DeploymentInput: Equatable {
    case preset(String)
    case spec(String)
    case huggingFace(String)
    case dot(String)

    init(_ item: String) {
        let lower = item.lowercased()
        if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") {
            self = .spec(item)
        } else if lower.hasSuffix(".json") {
            self = .huggingFace(item)
        } else if item == LoadedDAG.standardInputName || lower.hasSuffix(".dot") || lower.hasSuffix(".gv")
            || FileManager.default.fileExists(atPath: item)
        {
            self = .dot(item)
        } else {
            self = .preset(item)
        }
    }

    /// `preset`, `spec`, `hf-config` or `file`, as `compare --format json` writes it.
    var source: String {
        switch self {
        case .preset: "preset"
        case .spec: "spec"
        case .huggingFace: "hf-config"
        case .dot: "file"
        }
    }

    /// The spec it names; nil for a DOT file. A Hugging Face model is built on one GPU (TP 1 x PP 1).
    func spec() throws -> DeploymentSpec? {
        switch self {
        case .preset(let name): try loadPreset(name)
        case .spec(let file): try DeploymentOptions.parseSpec(file: file)
        case .huggingFace(let file): try DeploymentOptions.huggingFaceSpec(file: file, tp: 1, pp: 1)
        case .dot: nil
        }
    }
}

extension CompletionKind {
    /// The preset names, listed by the binary itself when the shell asks.
    static var presetNames: CompletionKind { .custom { _, _, _ in (try? Presets.all().map(\.name)) ?? [] } }
    /// DOT files.
    static var dotFiles: CompletionKind { .file(extensions: ["dot", "gv"]) }
    /// What `compare` and `report` take: presets, spec files, Hugging Face configs, DOT files.
    static var deployments: CompletionKind {
        .custom { _, _, prefix in
            let presets = (try? Presets.all().map(\.name)) ?? []
            let directory = (prefix as NSString).deletingLastPathComponent
            let listed = (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
            let files = listed.filter { name in [".dot", ".gv", ".yaml", ".yml", ".json"].contains { name.hasSuffix($0) } }
                .map { directory.isEmpty ? $0 : directory + "/" + $0 }
            return (presets + files).filter { $0.hasPrefix(prefix) }
        }
    }
    /// `--view`'s forms, with the layer and GPU numbers to fill in.
    static var views: CompletionKind { .list(["full", "overview", "layer:0", "layer:0:attention", "layer:0:mlp", "gpu:0"]) }
}
