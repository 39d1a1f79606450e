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
        "kind",
    ]
    static let strategyKeys: [String: Set<String>] = [
        "helix": ["kind", "head_groups", "segments"],
        "tp_pp": ["kind", "tp", "pp"],
        "attention_pool": ["kind", "base_gpus", "pool_size", "pool_gpus", "cluster_gpus"],
        "ma_separation": ["kind", "attention_gpus", "expert_gpus", "cluster_gpus"],
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
        let model = try readModel(modelNode)
        let (strategy, cluster) = try readStrategy(strategyNode)
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
        let deployment = Deployment(name: name, model: model, strategy: strategy, phase: phase, clusterGPUs: cluster)
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

    mutating func readModel(_ node: Node) throws(SpecFileError) -> TransformerModel {
        let m = try entries(node, path: "model", allowed: SpecParser.modelKeys)
        var dtype = DataType.bf16
        if let text = m["dtype"]?.string {
            guard let parsed = DataType(rawValue: text) else {
                throw fail(
                    "dtype", m["dtype"], "must be one of \(DataType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
            }
            dtype = parsed
        }
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
                experts: try integer(m, "experts"), topK: try integer(m, "top_k", default: 2),
                expertFFN: try integer(m, "expert_ffn"), capacityFactor: factor)
        } else if let kind = m["kind"], kind.string != "dense" {
            throw fail("kind", kind, "must be dense or moe, got '\(kind.string ?? "?")'")
        }
        return TransformerModel(
            layers: try integer(m, "layers"), batch: try dimension(m, "batch"), seq: try dimension(m, "seq"),
            hidden: try integer(m, "hidden"), heads: try integer(m, "heads"), headDim: try integer(m, "head_dim"),
            ffn: moe == nil ? try integer(m, "ffn") : try integer(m, "ffn", default: moe!.expertFFN), dtype: dtype, moe: moe)
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
            return (.tensorPipeline(tp: try integer(s, "tp"), pp: try integer(s, "pp", default: 1)), cluster)
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
