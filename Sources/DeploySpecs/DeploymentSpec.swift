import DeployBuilders
import DeployModel
import Foundation
import Yams

/// A deployment described in a YAML spec file: the model, the strategy and its parameters.
/// Every preset is such a file (Sources/DeploySpecs/Presets); docs/specs.md describes the keys.
public struct DeploymentSpec: Sendable {
    public var name: String
    public var summary: String
    public var deployment: Deployment
    /// The file it came from, for messages.
    public var file: String
    /// The line of each key, by its path (`model.heads`, `strategy.pool_size`).
    var keyLines: [String: Int]
    /// Figures a source document reports for this deployment, to show beside deploydag's.
    public var claims: Claims?
    /// The preset this deployment is compared with in reports.
    public var baseline: String?

    /// Throughput figures a seed document reports.
    public struct Claims: Sendable, Hashable {
        public var source: String
        public var tokensPerSecond: Double?
        public var timePerOutputToken: Double?
    }

    /// The line of a key named by a builder's `SpecError`, matched on its last path component.
    public func line(ofKey key: String) -> Int? {
        keyLines[key] ?? keyLines.first { $0.key.hasSuffix(".\(key)") }?.value
    }

    /// Builds the deployment's DAG, reporting an inconsistent spec with the key's line.
    public func build(_ deployment: Deployment? = nil) throws(SpecFileError) -> OperatorGraph {
        do {
            return try DeploymentBuilder().build(deployment ?? self.deployment)
        } catch {
            throw SpecFileError(file: file, line: line(ofKey: error.key), key: error.key, reason: error.reason)
        }
    }
}

extension DeploymentSpec {
    /// A deployment made without a spec file (`--hf-config`): `file` is where its model came from.
    public init(name: String, summary: String, deployment: Deployment, file: String) {
        self.name = name
        self.summary = summary
        self.deployment = deployment
        self.file = file
        keyLines = [:]
    }
}

/// A spec that cannot be read or describes no buildable deployment: where, which key, and why.
public struct SpecFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String?
    public var reason: String

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": error[spec]: "
        if let key { text += "'\(key)' " }
        return text + reason
    }
}

/// Reads spec files.
public enum SpecParser {
    static let modelKeys: Set<String> = [
        "layers", "batch", "seq", "hidden", "heads", "head_dim", "ffn", "dtype", "experts", "expert_ffn", "top_k", "capacity_factor",
        "kind", "kv_heads", "num_key_value_heads", "norm", "mlp", "activation", "rope", "rope_theta", "rotary_dim", "causal",
        "sliding_window", "attention", "vocab", "tie_embeddings", "parallel_residual", "qkv_bias", "kv_cache_dtype",
        "experts_per_token", "num_experts_per_tok", "shared_expert_ffn", "hf_config", "parallel_norms", "norm_bias", "output_bias",
        "mlp_bias", "head_bias", "positions",
        "rope_interleaved",
    ]
    static let strategyKeys: [String: Set<String>] = [
        "helix": ["kind", "head_groups", "segments", "dp", "pp"],
        "tp_pp": ["kind", "tp", "pp", "sp", "dp", "cp", "ep", "order"],
        "attention_pool": ["kind", "base_gpus", "pool_size", "pool_gpus", "cluster_gpus", "dp", "pp"],
        "ma_separation": ["kind", "attention_gpus", "expert_gpus", "cluster_gpus", "dp", "pp"],
        "disaggregated": ["kind", "prefill", "decode"],
    ]
    static let topKeys: Set<String> = ["name", "summary", "model", "strategy", "phase", "context", "claims", "baseline"]

    public static func parse(file: String) throws(SpecFileError) -> DeploymentSpec {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SpecFileError(file: file, line: nil, key: nil, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SpecFileError(file: file, line: nil, key: nil, reason: "the file is not UTF-8 text")
        }
        return try parse(text: text, file: file)
    }

    public static func parse(text: String, file: String) throws(SpecFileError) -> DeploymentSpec {
        var reader = Reader(file: file)
        let root: Node
        do {
            try YAMLKeys.refuseComplexKeys(text, file: file)
            guard let node = try Yams.compose(yaml: text) else {
                throw SpecFileError(
                    file: file, line: 1, key: nil, reason: "the file is empty; expected a mapping with 'model' and 'strategy'")
            }
            root = node
        } catch let error as SpecFileError {
            throw error
        } catch let error as YamlError {
            throw SpecFileError(file: file, line: Self.line(of: error), key: nil, reason: "not valid YAML: \(Self.problem(of: error))")
        } catch {
            throw SpecFileError(file: file, line: nil, key: nil, reason: "not valid YAML: \(error)")
        }
        return try reader.read(root)
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        case .duplicatedKeysInMapping(let duplicates, _): "duplicated keys \(duplicates.joined(separator: ", "))"
        default: "\(error)"
        }
    }
}

/// Walks the YAML tree, remembering each key's line.
struct Reader {
    let file: String
    var keyLines: [String: Int] = [:]

    init(file: String) { self.file = file }

    func fail(_ key: String?, _ node: Node?, _ reason: String) -> SpecFileError {
        SpecFileError(file: file, line: node?.mark?.line, key: key, reason: reason)
    }

    /// The mapping's entries by key, rejecting keys outside `allowed`.
    mutating func entries(_ node: Node, path: String, allowed: Set<String>) throws(SpecFileError) -> [String: Node] {
        guard let mapping = node.mapping else {
            throw fail(path.isEmpty ? nil : path, node, "must be a mapping of keys to values")
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { throw fail(nil, keyNode, "keys must be strings") }
            guard allowed.contains(key) else {
                throw fail(
                    key, keyNode,
                    "is not a key of \(path.isEmpty ? "a spec" : "'\(path)'"); expected one of \(allowed.sorted().joined(separator: ", "))")
            }
            keyLines[path.isEmpty ? key : "\(path).\(key)"] = keyNode.mark?.line
            result[key] = value
        }
        return result
    }

    func integer(_ entries: [String: Node], _ key: String, default value: Int? = nil) throws(SpecFileError) -> Int {
        guard let node = entries[key] else {
            if let value { return value }
            throw fail(key, nil, "is missing")
        }
        guard let v = node.int, v > 0 else { throw fail(key, node, "must be a positive integer, got '\(node.string ?? "?")'") }
        return v
    }

    func dimension(_ entries: [String: Node], _ key: String) throws(SpecFileError) -> Dim {
        guard let node = entries[key] else { throw fail(key, nil, "is missing") }
        guard let text = node.string, let d = Dim(text), d.isPositive else {
            throw fail(key, node, "must be a positive integer or a symbol such as B, got '\(node.string ?? "?")'")
        }
        return d
    }

    func gpuList(_ entries: [String: Node], _ key: String) throws(SpecFileError) -> [Int]? {
        guard let node = entries[key] else { return nil }
        if case .sequence = node {
            let ids = node.array().compactMap(\.int)
            guard ids.count == node.array().count, ids.allSatisfy({ $0 >= 0 }) else {
                throw fail(key, node, "must list GPU ids such as [0, 1, 2] or 0-7")
            }
            return ids
        }
        guard let text = node.string, let ids = GPUList.parse(text) else {
            throw fail(key, node, "must list GPU ids such as 0-7 or 0,1,2, got '\(node.string ?? "?")'")
        }
        return ids
    }

    mutating func read(_ root: Node) throws(SpecFileError) -> DeploymentSpec {
        let top = try entries(root, path: "", allowed: SpecParser.topKeys)
        guard let name = top["name"]?.string, !name.isEmpty else { throw fail("name", top["name"] ?? root, "is missing or empty") }
        let summary = top["summary"]?.string ?? name
        guard let modelNode = top["model"] else { throw fail("model", root, "is missing") }
        guard let strategyNode = top["strategy"] else { throw fail("strategy", root, "is missing") }
        var model = try readModel(modelNode)
        let (strategy, cluster) = try readStrategy(strategyNode)
        let disaggregated = strategyNode.mapping?["kind"]?.string == "disaggregated"
        // A disaggregated deployment's prefill side carries the degrees a tp_pp strategy does.
        let degreesNode = disaggregated ? strategyNode.mapping?["prefill"] ?? strategyNode : strategyNode
        let degrees = try readDegrees(degreesNode)
        // Helix, the attention pool and attention/MoE separation write attention out as Q·Kᵀ,
        // softmax and ·V (Helix needs the scores to sum them): materialized unless stated.
        if keyLines["model.attention"] == nil, case .tensorPipeline = strategy {
        } else if keyLines["model.attention"] == nil {
            model.attention = .materialized
        }
        var phase = Phase.prefill
        if let phaseNode = top["phase"] {
            switch phaseNode.string {
            case "prefill": phase = .prefill
            case "decode":
                guard let contextNode = top["context"], let l = contextNode.int, l >= 2 else {
                    throw fail("context", top["context"] ?? phaseNode, "must be an integer of at least 2 for the decode phase")
                }
                phase = .decode(context: Dim(l))
            default: throw fail("phase", phaseNode, "must be prefill or decode, got '\(phaseNode.string ?? "?")'")
            }
        }
        var deployment = Deployment(name: name, model: model, strategy: strategy, phase: phase, clusterGPUs: cluster)
        (deployment.sequenceParallel, deployment.dataParallel, deployment.contextParallel) = (degrees.sp, degrees.dp, degrees.cp)
        (deployment.expertParallel, deployment.rankOrder) = (degrees.ep, degrees.order)
        if let node = degreesNode.mapping?["pp"], case .sequence = node { deployment.stageLayers = try stageLayers(node) }
        if case .tensorPipeline = strategy {
        } else if let node = strategyNode.mapping?["pp"] {
            guard let stages = node.int, stages > 0 else {
                throw fail("pp", node, "must be a positive integer, got '\(node.string ?? "?")'")
            }
            deployment.layoutStages = stages
        }
        if disaggregated, let phaseNode = top["phase"] {
            throw fail(
                "phase", phaseNode, "is not given for a disaggregated deployment: it runs the prefill and then the decode step after it")
        }
        if disaggregated, let decodeNode = strategyNode.mapping?["decode"] {
            if let contextNode = top["context"] {
                throw fail(
                    "context", contextNode, "follows from seq in a disaggregated deployment: the decode step attends to seq + 1 tokens")
            }
            let side = try entries(decodeNode, path: "strategy.decode", allowed: ["tp", "pp", "dp", "ep", "order"])
            let decode = try readDegrees(decodeNode)
            guard side["tp"] != nil else { throw fail("tp", decodeNode, "is missing from the decode side") }
            var stageList: [Int]?
            if let node = side["pp"], case .sequence = node { stageList = try stageLayers(node) }
            deployment.disaggregatedDecode = DecodeDegrees(
                tp: try integer(side, "tp"), pp: try stages(side), dp: decode.dp, ep: decode.ep, order: decode.order, stageLayers: stageList
            )
        }
        var claims: DeploymentSpec.Claims?
        if let node = top["claims"] {
            let c = try entries(node, path: "claims", allowed: ["source", "tps", "tpot_ms"])
            guard let source = c["source"]?.string else {
                throw fail("source", node, "is missing: say where the claimed figures come from")
            }
            let tps = c["tps"].flatMap(\.float)
            let tpot = c["tpot_ms"].flatMap(\.float).map { $0 / 1000 }
            if c["tps"] != nil && tps == nil { throw fail("tps", c["tps"], "must be a number") }
            if c["tpot_ms"] != nil && tpot == nil { throw fail("tpot_ms", c["tpot_ms"], "must be a number") }
            claims = .init(source: source, tokensPerSecond: tps, timePerOutputToken: tpot)
        }
        return DeploymentSpec(
            name: name, summary: summary, deployment: deployment, file: file, keyLines: keyLines, claims: claims,
            baseline: top["baseline"]?.string)
    }

    /// The composable degrees of a tp_pp strategy (or a disaggregated side): `sp`, `dp`, `cp`,
    /// `ep`, `order`.
    func readDegrees(_ node: Node) throws(SpecFileError) -> (sp: Bool, dp: Int, cp: Int, ep: Int?, order: [String]) {
        let m = node.mapping
        func positive(_ key: String) throws(SpecFileError) -> Int? {
            guard let node = m?[key] else { return nil }
            guard let v = node.int, v > 0 else { throw fail(key, node, "must be a positive integer, got '\(node.string ?? "?")'") }
            return v
        }
        var sp = false
        if let node = m?["sp"] {
            guard let on = node.bool else { throw fail("sp", node, "must be true or false, got '\(node.string ?? "?")'") }
            sp = on
        }
        var order: [String] = []
        if let node = m?["order"] {
            if case .sequence = node {
                order = node.array().compactMap(\.string)
                guard order.count == node.array().count else { throw fail("order", node, "must list degrees such as [tp, pp, dp]") }
            } else {
                order = (node.string ?? "").split(separator: ",", omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
            }
            if order.contains(where: \.isEmpty) { throw fail("order", node, "lists an empty degree; list degrees such as [tp, pp, dp]") }
            let known = ["tp", "pp", "dp", "cp", "ep"]
            guard !order.isEmpty else { throw fail("order", node, "must list degrees from innermost to outermost, such as [tp, pp, dp]") }
            if let bad = order.first(where: { !known.contains($0) }) {
                throw fail(
                    "order", node,
                    "names '\(bad)', which is not a degree: list degrees from innermost to outermost, each one of tp, cp, ep, pp, dp, such as [tp, pp, dp]"
                )
            }
        }
        return (sp, try positive("dp") ?? 1, try positive("cp") ?? 1, try positive("ep"), order)
    }

    mutating func readModel(_ node: Node) throws(SpecFileError) -> TransformerModel {
        let m = try entries(node, path: "model", allowed: SpecParser.modelKeys)
        if let configNode = m["hf_config"] {
            return try readHuggingFace(configNode, m)
        }
        var dtype = DataType.bf16
        if m["dtype"] != nil { dtype = try choice(m, "dtype", DataType.self) }
        var moe: MixtureOfExperts?
        if m["experts"] != nil || m["kind"]?.string == "moe" {
            var factor = Dim(1)
            if let node = m["capacity_factor"] {
                guard let text = node.string, let parsed = MoERouting.parseFactor(text) else {
                    throw fail("capacity_factor", node, "must be a positive number such as 1.0 or 1.25")
                }
                factor = parsed
            }
            moe = MixtureOfExperts(
                experts: try integer(m, "experts"), topK: try expertsPerToken(m) ?? 2,
                expertFFN: try integer(m, "expert_ffn"), capacityFactor: factor)
            if m["shared_expert_ffn"] != nil { moe!.sharedExpertFFN = try integer(m, "shared_expert_ffn") }
        } else if let kind = m["kind"], kind.string != "dense" {
            throw fail("kind", kind, "must be dense or moe, got '\(kind.string ?? "?")'")
        }
        for key in ["top_k", "experts_per_token", "num_experts_per_tok", "capacity_factor", "expert_ffn", "shared_expert_ffn"]
        where moe == nil && m[key] != nil {
            throw fail(key, m[key], "applies to a mixture-of-experts model (give 'experts')")
        }
        let heads = try integer(m, "heads")
        var model = TransformerModel(
            layers: try integer(m, "layers"), batch: try dimension(m, "batch"), seq: try dimension(m, "seq"),
            hidden: try integer(m, "hidden"), heads: heads, headDim: try integer(m, "head_dim"),
            ffn: moe == nil ? try integer(m, "ffn") : try integer(m, "ffn", default: moe!.expertFFN), dtype: dtype, moe: moe,
            kvHeads: try kvHeads(m))
        // A spec describes a decoder model: causal, fused attention unless it says otherwise.
        model.causal = true
        model.attention = .fused
        try applyVocabulary(m, to: &model)
        return model
    }

    /// `kv_heads`, also spelled `num_key_value_heads` as in Hugging Face configs.
    func kvHeads(_ m: [String: Node]) throws(SpecFileError) -> Int? {
        if m["kv_heads"] != nil && m["num_key_value_heads"] != nil {
            throw fail("num_key_value_heads", m["num_key_value_heads"], "repeats kv_heads; give one of them")
        }
        if m["kv_heads"] != nil { return try integer(m, "kv_heads") }
        if m["num_key_value_heads"] != nil { return try integer(m, "num_key_value_heads") }
        return nil
    }

    /// `top_k`, also spelled `experts_per_token` and `num_experts_per_tok`.
    func expertsPerToken(_ m: [String: Node]) throws(SpecFileError) -> Int? {
        let given = ["top_k", "experts_per_token", "num_experts_per_tok"].filter { m[$0] != nil }
        if given.count > 1 { throw fail(given[1], m[given[1]], "repeats \(given[0]); give one of them") }
        return try given.first.map { (key: String) throws(SpecFileError) -> Int in try integer(m, key) }
    }

    /// One of an enumeration's raw values.
    func choice<T: RawRepresentable & CaseIterable>(_ m: [String: Node], _ key: String, _: T.Type) throws(SpecFileError) -> T
    where T.RawValue == String {
        let node = m[key]
        guard let text = node?.string, let value = T(rawValue: text) else {
            throw fail(
                key, node, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(node?.string ?? "?")'")
        }
        return value
    }

    func boolean(_ m: [String: Node], _ key: String) throws(SpecFileError) -> Bool? {
        guard let node = m[key] else { return nil }
        guard let value = node.bool else { throw fail(key, node, "must be true or false, got '\(node.string ?? "?")'") }
        return value
    }

    /// The keys of today's decoder vocabulary, applied over what `model` already says.
    func applyVocabulary(_ m: [String: Node], to model: inout TransformerModel) throws(SpecFileError) {
        if m["norm"] != nil { model.norm = try choice(m, "norm", Norm.self) }
        if m["mlp"] != nil { model.mlp = try choice(m, "mlp", MLPKind.self) }
        if let node = m["activation"] {
            // swiglu and geglu name the gated MLP and its activation at once.
            switch node.string {
            case "swiglu":
                (model.mlp, model.activation) = (.gated, .silu)
                if m["mlp"]?.string == "plain" { throw fail("activation", node, "swiglu is a gated MLP, but mlp says plain") }
            case "geglu":
                (model.mlp, model.activation) = (.gated, .gelu)
                if m["mlp"]?.string == "plain" { throw fail("activation", node, "geglu is a gated MLP, but mlp says plain") }
            default:
                guard let text = node.string, let value = Activation(rawValue: text) else {
                    throw fail("activation", node, "must be one of gelu, silu, relu, swiglu, geglu, got '\(node.string ?? "?")'")
                }
                model.activation = value
            }
        }
        if let node = m["rope"] {
            if let on = node.bool {
                model.rope = on ? (model.rope ?? RotaryEmbedding()) : nil
            } else {
                throw fail("rope", node, "must be true or false (give rope_theta and rotary_dim beside it)")
            }
        }
        for key in ["rope_theta", "rotary_dim"] where m[key] != nil {
            if model.rope == nil {
                guard m["rope"] == nil else { throw fail(key, m[key], "needs rope: true") }
                model.rope = RotaryEmbedding()
            }
        }
        if let node = m["rope_theta"] {
            guard let theta = node.float, theta > 0 else { throw fail("rope_theta", node, "must be a positive number such as 10000") }
            model.rope?.theta = theta
        }
        if m["rotary_dim"] != nil { model.rope?.rotaryDim = try integer(m, "rotary_dim") }
        if let causal = try boolean(m, "causal") { model.causal = causal }
        if m["sliding_window"] != nil { model.slidingWindow = try integer(m, "sliding_window") }
        if m["attention"] != nil { model.attention = try choice(m, "attention", AttentionForm.self) }
        if m["vocab"] != nil { model.vocab = try integer(m, "vocab") }
        if let tied = try boolean(m, "tie_embeddings") { model.tiedEmbeddings = tied }
        if let parallel = try boolean(m, "parallel_residual") { model.parallelResidual = parallel }
        if let bias = try boolean(m, "qkv_bias") { model.qkvBias = bias }
        if let both = try boolean(m, "parallel_norms") { model.parallelNorms = both }
        if let bias = try boolean(m, "norm_bias") { model.normBias = bias }
        if let bias = try boolean(m, "output_bias") { model.outputBias = bias }
        if let bias = try boolean(m, "mlp_bias") { model.mlpBias = bias }
        if let bias = try boolean(m, "head_bias") { model.headBias = bias }
        if m["positions"] != nil { model.positions = try integer(m, "positions") }
        if let interleaved = try boolean(m, "rope_interleaved") {
            guard model.rope != nil else { throw fail("rope_interleaved", m["rope_interleaved"], "needs rope: true") }
            model.rope?.interleaved = interleaved
        }
        if m["kv_cache_dtype"] != nil { model.kvCacheDtype = try choice(m, "kv_cache_dtype", DataType.self) }
    }

    /// `hf_config: FILE` (relative to the spec): the model a Hugging Face config.json describes,
    /// with `batch` and `seq` from the spec and any other key given beside it taking precedence.
    mutating func readHuggingFace(_ node: Node, _ m: [String: Node]) throws(SpecFileError) -> TransformerModel {
        guard let path = node.string, !path.isEmpty else { throw fail("hf_config", node, "must name a config.json file") }
        let resolved = path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path
        var model = try HuggingFaceConfig.model(file: resolved)
        for key in ["hidden", "heads", "head_dim", "ffn", "experts", "expert_ffn", "kind"] where m[key] != nil {
            throw fail(key, m[key], "comes from hf_config; a different value would describe another model")
        }
        model.batch = try dimension(m, "batch")
        model.seq = try dimension(m, "seq")
        if m["layers"] != nil { model.layers = try integer(m, "layers") }
        if m["dtype"] != nil { model.dtype = try choice(m, "dtype", DataType.self) }
        if let k = try kvHeads(m) { model.kvHeads = k }
        if var moe = model.moe {
            if let k = try expertsPerToken(m) { moe.topK = k }
            if let node = m["capacity_factor"] {
                guard let text = node.string, let parsed = MoERouting.parseFactor(text) else {
                    throw fail("capacity_factor", node, "must be a positive number such as 1.0 or 1.25")
                }
                moe.capacityFactor = parsed
            }
            model.moe = moe
        }
        try applyVocabulary(m, to: &model)
        return model
    }

    /// `pp`: a stage count (even stages, default 1), or the layers of each stage as a list.
    func stages(_ s: [String: Node]) throws(SpecFileError) -> Int {
        if let node = s["pp"], case .sequence = node { return try stageLayers(node).count }
        return try integer(s, "pp", default: 1)
    }

    /// The layers of each stage, from `pp: [20, 20, 40]`.
    func stageLayers(_ node: Node) throws(SpecFileError) -> [Int] {
        let counts = node.array().compactMap(\.int)
        guard !counts.isEmpty, counts.count == node.array().count, counts.allSatisfy({ $0 > 0 }) else {
            throw fail("pp", node, "must be a stage count or the layers of each stage, such as [20, 20, 40]")
        }
        return counts
    }

    mutating func readStrategy(_ node: Node) throws(SpecFileError) -> (Strategy, Int?) {
        guard let kindNode = node.mapping?["kind"], let kind = kindNode.string else {
            throw fail(
                "kind", node, "is missing: the strategy's kind is one of \(SpecParser.strategyKeys.keys.sorted().joined(separator: ", "))")
        }
        guard let allowed = SpecParser.strategyKeys[kind] else {
            throw fail("kind", kindNode, "must be one of \(SpecParser.strategyKeys.keys.sorted().joined(separator: ", ")), got '\(kind)'")
        }
        let s = try entries(node, path: "strategy", allowed: allowed)
        let cluster = s["cluster_gpus"] == nil ? nil : try integer(s, "cluster_gpus")
        switch kind {
        case "helix":
            return (.helix(headGroups: try integer(s, "head_groups"), segments: try integer(s, "segments")), cluster)
        case "tp_pp":
            return (.tensorPipeline(tp: try integer(s, "tp"), pp: try stages(s)), cluster)
        case "disaggregated":
            guard let prefillNode = s["prefill"] else {
                throw fail("prefill", node, "is missing: the prefill side's degrees, such as {tp: 8}")
            }
            guard s["decode"] != nil else { throw fail("decode", node, "is missing: the decode side's degrees, such as {tp: 8}") }
            let side = try entries(prefillNode, path: "strategy.prefill", allowed: ["tp", "pp", "sp", "dp", "cp", "ep", "order"])
            guard side["tp"] != nil else { throw fail("tp", prefillNode, "is missing from the prefill side") }
            return (.tensorPipeline(tp: try integer(side, "tp"), pp: try stages(side)), cluster)
        case "attention_pool":
            guard let base = try gpuList(s, "base_gpus") else { throw fail("base_gpus", node, "is missing") }
            var pool = try gpuList(s, "pool_gpus")
            if pool == nil {
                let size = try integer(s, "pool_size")
                let start = (base.max() ?? -1) + 1
                pool = Array(start..<(start + size))
            } else if let sizeNode = s["pool_size"], sizeNode.int != pool!.count {
                throw fail("pool_size", sizeNode, "is \(sizeNode.string ?? "?"), but pool_gpus lists \(pool!.count) GPUs")
            }
            return (.attentionPool(base: base, pool: pool!), cluster)
        default:
            guard let attention = try gpuList(s, "attention_gpus") else { throw fail("attention_gpus", node, "is missing") }
            guard let experts = try gpuList(s, "expert_gpus") else { throw fail("expert_gpus", node, "is missing") }
            return (.attentionExpertSeparation(attention: attention, experts: experts), cluster)
        }
    }
}

/// Reading the YAML of a spec, hardware or calibration file.
enum YAMLKeys {
    /// The file's text, refused when it is not UTF-8.
    static func text(of file: String) throws(SpecFileError) -> String {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw SpecFileError(file: file, line: nil, key: nil, reason: "cannot read the file as UTF-8 text")
        }
        return text
    }

    /// The document's root node, its keys checked first (`refuseComplexKeys`); `expected` says
    /// what an empty file lacks.
    static func root(_ text: String, file: String, expected: String) throws(SpecFileError) -> Node {
        do {
            try refuseComplexKeys(text, file: file)
            guard let node = try Yams.compose(yaml: text) else {
                throw SpecFileError(file: file, line: 1, key: nil, reason: "the file is empty; expected \(expected)")
            }
            return node
        } catch let error as SpecFileError {
            throw error
        } catch {
            throw SpecFileError(file: file, line: nil, key: nil, reason: "not valid YAML: \(error)")
        }
    }

    /// Mapping keys must be plain scalars. An alias or a collection used as a key is hashed
    /// node by node when the document is composed, so a few hundred bytes of nested aliases
    /// (`{? *a7 : 1}`) take hours; such a key is refused with its line instead.
    static func refuseComplexKeys(_ text: String, file: String) throws(SpecFileError) {
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" || $0 == "-" }
            // An explicit key (`? `) at the start of a line, or inside a flow mapping.
            let explicit = line.hasPrefix("? ") || line == "?" || raw.contains("{? ") || raw.contains(", ? ")
            // An alias followed by the colon of a key.
            var aliasKey = false
            if let star = line.firstIndex(of: "*"), line[line.startIndex..<star].allSatisfy({ $0 == "{" || $0 == " " || $0 == "," }) {
                let rest = line[line.index(after: star)...].drop { !($0 == " " || $0 == ":" || $0 == "," || $0 == "}") }
                aliasKey = rest.drop { $0 == " " }.first == ":"
            }
            if explicit || aliasKey {
                throw SpecFileError(
                    file: file, line: i + 1, key: nil,
                    reason: "mapping keys must be plain names; an explicit ('? ') or alias ('*name') key is not read")
            }
        }
    }
}
