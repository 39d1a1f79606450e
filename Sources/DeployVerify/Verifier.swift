import DeployModel
import Foundation

/// The unpartitioned model a DAG claims to compute, read from its graph attributes.
public struct ReferenceModel: Sendable {
    public var layers: Int
    public var batch: Int
    public var seq: Int
    public var hidden: Int
    public var heads: Int
    public var headDim: Int
    public var ffn: Int?
    public var experts: Int?
    public var topK: Int?
    public var expertFFN: Int?
    /// Decode: the tokens attended to (the cache holds `context - 1`).
    public var context: Int?
    public var kvHeads: Int
    /// `layernorm` or `rmsnorm`.
    public var norm: String = "layernorm"
    public var gated = false
    /// `gelu`, `silu` or `relu`.
    public var activation: String = "gelu"
    public var ropeTheta: Double?
    public var rotaryDim: Int?
    public var causal = false
    public var slidingWindow: Int?
    public var vocab: Int?
    public var tiedEmbeddings = false
    public var parallelResidual = false
    public var qkvBias = false

    /// Reads the model from the graph attributes deploydag's builders write.
    public init(graph: OperatorGraph) throws(VerifyError) {
        func int(_ key: String) throws(VerifyError) -> Int {
            guard let text = graph.attributes[key] else {
                throw VerifyError("the graph does not state '\(key)'; verify needs the model's description")
            }
            guard let v = Dim(text)?.intValue, v > 0 else {
                throw VerifyError("graph attribute '\(key)' must be a positive integer to execute the DAG, got '\(text)'")
            }
            return Int(v)
        }
        layers = try int("layers")
        batch = try int("batch")
        seq = try int("seq")
        hidden = try int("hidden")
        heads = try int("heads")
        headDim = try int("head_dim")
        if graph.attributes["model"] == "moe" {
            experts = try int("experts")
            topK = try int("top_k")
            expertFFN = try int("expert_ffn")
        } else {
            ffn = try int("ffn")
        }
        context = graph.attributes["phase"] == "decode" ? try int("context") : nil
        let a = graph.attributes
        kvHeads = a["kv_heads"] == nil ? heads : try int("kv_heads")
        guard heads % kvHeads == 0 else { throw VerifyError("graph attribute 'kv_heads' (\(kvHeads)) must divide 'heads' (\(heads))") }
        func choice(_ key: String, _ allowed: [String], default value: String) throws(VerifyError) -> String {
            guard let text = a[key] else { return value }
            guard allowed.contains(text) else {
                throw VerifyError("graph attribute '\(key)' is '\(text)'; expected \(allowed.joined(separator: " or "))")
            }
            return text
        }
        func flag(_ key: String) throws(VerifyError) -> Bool { try choice(key, ["true", "false"], default: "false") == "true" }
        norm = try choice("norm", ["layernorm", "rmsnorm"], default: "layernorm")
        gated = try choice("mlp", ["plain", "gated"], default: "plain") == "gated"
        activation = try choice("activation", ["gelu", "silu", "relu"], default: "gelu")
        if let text = a["rope_theta"] {
            guard let theta = Double(text), theta > 0 else {
                throw VerifyError("graph attribute 'rope_theta' must be positive, got '\(text)'")
            }
            ropeTheta = theta
        }
        rotaryDim = a["rotary_dim"] == nil ? nil : try int("rotary_dim")
        causal = try flag("causal")
        slidingWindow = a["sliding_window"] == nil ? nil : try int("sliding_window")
        vocab = a["vocab"] == nil ? nil : try int("vocab")
        tiedEmbeddings = try flag("tie_embeddings")
        parallelResidual = try flag("parallel_residual")
        qkvBias = try flag("qkv_bias")
    }
}

public struct VerifyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Deterministic data: every logical weight, input and cache is drawn from a generator seeded
/// by its name, so the DAG's slices and the reference see the same numbers.
struct DataSource {
    var seed: UInt64

    func tensor(_ name: String, shape: [Int], scale: Double = 1) -> Tensor {
        var state = seed ^ FNV1a.hash(name)
        var data = [Double](repeating: 0, count: shape.reduce(1, *))
        for i in data.indices {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            data[i] = (Double(z >> 11) / Double(1 << 53) * 2 - 1) * scale
        }
        return Tensor(shape: shape, data: data)
    }

    /// A weight scaled by 1/sqrt(its contraction), so activations stay of order one. A norm's
    /// gain is drawn around 1, a bias small.
    func weight(_ name: String, shape: [Int]) -> Tensor {
        if shape.count == 1 && !name.hasSuffix(".bias") {
            let noise = tensor(name, shape: shape, scale: 0.5)
            return Tensor(shape: shape, data: noise.data.map { 1 + $0 })
        }
        if name.hasSuffix(".bias") { return tensor(name, shape: shape, scale: 0.1) }
        let fanIn = name.hasSuffix("o_proj") ? shape[0] * shape[1] : shape[0]
        return tensor(name, shape: shape, scale: 1 / Double(fanIn).squareRoot())
    }

    /// Token ids in `0 ..< vocab`, drawn from the name like every other tensor.
    func tokens(_ name: String, shape: [Int], vocab: Int) -> Tensor {
        let uniform = tensor(name, shape: shape)
        return Tensor(shape: shape, data: uniform.data.map { Double(min(Int(($0 + 1) / 2 * Double(vocab)), vocab - 1)) })
    }
}

/// What `verify` found.
public struct VerifyResult: Sendable {
    /// max |dag - reference| / max |reference| over every output node.
    public var maxRelativeError: Double
    public var outputs: Int
    public var nodesExecuted: Int

    /// At the level of double-precision rounding.
    public var passes: Bool { maxRelativeError <= Verifier.tolerance }
}

public enum Verifier {
    public static let tolerance = 1e-9
    /// Executing more elements than this is refused: verify is for scaled-down DAGs.
    public static let elementLimit = 50_000_000.0

    /// Executes `graph` node by node on its GPUs' data and compares every output with the
    /// unpartitioned model on the same weights, inputs and caches.
    public static func verify(_ graph: OperatorGraph, seed: UInt64 = 1) throws(VerifyError) -> VerifyResult {
        guard graph.attributes["micro_batches"] == nil else {
            throw VerifyError("verify executes one batch; generate the DAG without --micro-batches")
        }
        let elements = graph.nodes.reduce(0.0) { $0 + ($1.out.elementCountValue ?? .infinity) }
        guard elements.isFinite else { throw VerifyError("the graph has symbolic dimensions; bind them (--bind) to execute it") }
        guard elements <= elementLimit else {
            throw VerifyError(
                "the graph's tensors hold \(Int(elements)) elements in all, too many to execute; verify a scaled-down DAG (deploydag verify --preset NAME scales one down)"
            )
        }
        let model = try ReferenceModel(graph: graph)
        let data = DataSource(seed: seed)
        let reference = Reference(model: model, data: data).run()
        let values = try Interpreter(graph: graph, data: data, model: model).run()
        var worst = 0.0
        var outputs = 0
        let scale = max(reference.data.map(abs).max() ?? 1, 1e-300)
        for (i, node) in graph.nodes.enumerated() where node.op == .output {
            guard case .tensor(let t) = values[i] else { continue }
            let place = node.attributes["place"].flatMap(Placement.parse) ?? .replicate
            let expected = reference.part(place)
            guard expected.shape == t.shape else {
                throw VerifyError("output \(node.name) has shape \(t.shape), but the model's output part \(place) has \(expected.shape)")
            }
            for (a, b) in zip(t.data, expected.data) { worst = max(worst, abs(a - b) / scale) }
            outputs += 1
        }
        guard outputs > 0 else { throw VerifyError("the graph has no output node to compare") }
        return VerifyResult(maxRelativeError: worst, outputs: outputs, nodesExecuted: graph.nodes.count)
    }
}
