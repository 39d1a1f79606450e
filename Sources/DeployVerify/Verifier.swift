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
    /// A prefill of `seq` tokens and the decode step after it (`context` = `seq` + 1), the
    /// decode's cache the prefill's keys and values (phase `disaggregated`).
    public var disaggregated = false
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
    public var parallelNorms = false
    public var normBias = false
    public var outputBias = false
    public var mlpBias = false
    public var headBias = false
    public var positions: Int?
    public var ropeInterleaved = false
    /// MoE: the shared expert's inner width.
    public var sharedExpertFFN: Int?
    /// Norms scale by a learned gain: a model with a vocabulary (a real checkpoint's), or a
    /// graph whose norms state a `weight`.
    public var normGains = false

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
            if let experts, let topK, topK > experts {
                throw VerifyError("graph attribute 'top_k' is \(topK), more than the \(experts) experts")
            }
        } else {
            ffn = try int("ffn")
        }
        disaggregated = graph.attributes["phase"] == "disaggregated"
        context = graph.attributes["phase"] == "decode" || disaggregated ? try int("context") : nil
        if disaggregated, context != seq + 1 {
            throw VerifyError("graph attribute 'context' of a disaggregated graph must be seq + 1 (\(seq + 1)), got \(context ?? 0)")
        }
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
        if let rotaryDim, rotaryDim > headDim || rotaryDim % 2 != 0 {
            throw VerifyError("graph attribute 'rotary_dim' must be even and at most head_dim (\(headDim)), got \(rotaryDim)")
        }
        causal = try flag("causal")
        slidingWindow = a["sliding_window"] == nil ? nil : try int("sliding_window")
        vocab = a["vocab"] == nil ? nil : try int("vocab")
        tiedEmbeddings = try flag("tie_embeddings")
        parallelResidual = try flag("parallel_residual")
        qkvBias = try flag("qkv_bias")
        parallelNorms = try flag("parallel_norms")
        normBias = try flag("norm_bias")
        outputBias = try flag("output_bias")
        mlpBias = try flag("mlp_bias")
        headBias = try flag("head_bias")
        positions = a["positions"] == nil ? nil : try int("positions")
        ropeInterleaved = try flag("rope_interleaved")
        sharedExpertFFN = a["shared_expert_ffn"] == nil ? nil : try int("shared_expert_ffn")
        normGains =
            vocab != nil || graph.nodes.contains { ($0.op == .layernorm || $0.op == .rmsnorm) && $0.attributes["weight"] != nil }
    }

    /// Elements the reference makes and its matmuls' multiply-adds, in floating point.
    var cost: (elements: Double, multiplyAdds: Double) {
        guard !disaggregated else {
            // The prefill and the decode step, each run by the reference.
            var (prefill, decode) = (self, self)
            (prefill.disaggregated, decode.disaggregated) = (false, false)
            prefill.context = nil
            let (a, b) = (prefill.cost, decode.cost)
            return (a.elements + b.elements, a.multiplyAdds + b.multiplyAdds)
        }
        let (b, h, n, d) = (Double(batch), Double(hidden), Double(heads), Double(headDim))
        let q = context == nil ? Double(seq) : 1
        let kv = Double(context ?? seq)
        let tokens = b * q
        var elements = 3 * h * n * d + n * d * h + 4 * tokens * h + 3 * tokens * n * d + 2 * b * kv * n * d + 2 * b * n * q * kv
        var multiplyAdds = 4 * tokens * h * n * d + 2 * b * n * q * kv * d
        if let experts, let expertFFN {
            let (e, w) = (Double(experts), Double(expertFFN))
            // Each expert's buffer holds every token: capacity = tokens.
            elements += h * e + tokens * e + 2 * e * tokens * h + 2 * e * h * w + e * tokens * w
            multiplyAdds += tokens * h * e + 2 * e * tokens * h * w
        } else if let ffn {
            let f = Double(ffn)
            let matrices = gated ? 3.0 : 2.0
            elements += matrices * h * f + (matrices - 1) * tokens * f + tokens * h
            multiplyAdds += matrices * tokens * h * f
        }
        var whole = (elements: elements * Double(layers), multiplyAdds: multiplyAdds * Double(layers))
        if let vocab {
            // The embedding and the head's tables, the lookup and the logits.
            let v = Double(vocab)
            whole.elements += 2 * v * h + tokens * h + b * v + Double(positions ?? 0) * h
            whole.multiplyAdds += b * h * v
        }
        return whole
    }
}

/// The logical weights a verification has drawn (one run, one thread).
final class DrawnWeights {
    struct Key: Hashable {
        var name: String
        var shape: [Int]
    }
    var tensors: [Key: Tensor] = [:]
}

public struct VerifyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// Refused for its size alone (the element or multiply-add budget).
    public var overBudget = false
    /// Refused because a node's weight is not the model's the graph attributes state: the
    /// header and the file describe different models (the node's name).
    public var headerMismatchNode: String?
    public init(_ description: String, overBudget: Bool = false) {
        self.description = description
        self.overBudget = overBudget
    }
}

/// Deterministic data: every logical weight, input and cache is drawn from a generator seeded
/// by its name, so the DAG's slices and the reference see the same numbers.
struct DataSource {
    var seed: UInt64
    /// Each logical weight is drawn once, however many nodes take slices of it.
    let drawn = DrawnWeights()

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
        let key = DrawnWeights.Key(name: name, shape: shape)
        if let known = drawn.tensors[key] { return known }
        let t = drawWeight(name, shape: shape)
        drawn.tensors[key] = t
        return t
    }

    private func drawWeight(_ name: String, shape: [Int]) -> Tensor {
        if shape.count == 1 && !name.hasSuffix(".bias") {
            let noise = tensor(name, shape: shape, scale: 0.5)
            return Tensor(shape: shape, data: noise.data.map { 1 + $0 })
        }
        if name.hasSuffix(".bias") { return tensor(name, shape: shape, scale: 0.1) }
        // The output projection sums over heads and head_dim, [heads, head_dim, hidden] or
        // flattened [heads x head_dim, hidden]: the same fan-in either way.
        let fanIn = name.hasSuffix("o_proj") && shape.count >= 3 ? shape[0] * shape[1] : shape.first ?? 1
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
    /// Token-expert assignments the DAG dropped for want of capacity (the reference drops the
    /// same ones), and those it could not place in the whole batch.
    public var droppedAssignments = 0
    public var unplacedDrops = 0

    /// At the level of double-precision rounding.
    public var passes: Bool { maxRelativeError <= Verifier.tolerance }

    /// Where the DAG first departs from the model: a node, the model's tensor it holds part of
    /// (named by its weight), and the part.
    public struct Difference: Sendable {
        public var node: String
        public var tensor: String
        public var place: String
        public var relativeError: Double

        /// `the first node that differs: NODE (part P of the product of W, relative error E)`.
        public var description: String {
            // A weight's name stands for its product; `L0.attention`, `L0.residual1` for themselves.
            let what = tensor.contains(".w.") || tensor.hasPrefix("w.") ? "the product of \(tensor)" : "the model's \(tensor)"
            return String(
                format: "the first node that differs from the model: %@ (part %@ of %@, relative error %.2e)", node, place, what,
                relativeError)
        }
    }
    public var firstDifference: Difference?
    /// The file's dimensions were past the budget: the parameters it was executed at
    /// (Shrinker), nil when executed as written.
    public var shrunk: [ShrunkGraph.Scaled]?
    /// The graph executed: the one given, or, shrunk, the graph at that assignment.
    public var executed: OperatorGraph?
}

public enum Verifier {
    public static let tolerance = 1e-9
    /// Executing more elements than this is refused (a file past it is first shrunk, Shrinker). Counted
    /// over every node's output, every weight the DAG's matmuls draw, and the reference model.
    public static let elementLimit = 50_000_000.0
    /// Multiply-adds of every matmul, the DAG's and the reference's together.
    public static let multiplyAddLimit = 4_000_000_000.0

    /// Executes `graph` node by node on its GPUs' data and compares every output with the
    /// unpartitioned model on the same weights, inputs and caches.
    public static func verify(_ graph: OperatorGraph, seed: UInt64 = 1) throws(VerifyError) -> VerifyResult {
        try verify(graph, seed: seed, elementLimit: elementLimit, multiplyAddLimit: multiplyAddLimit)
    }

    /// `verify` under a budget of its own (the fuzz target executes inputs under a small one).
    public static func verify(
        _ graph: OperatorGraph, seed: UInt64 = 1, elementLimit: Double, multiplyAddLimit: Double, shrink: Bool = true
    ) throws(VerifyError) -> VerifyResult {
        try refuseUnexecutable(graph)
        var model = try ReferenceModel(graph: graph)
        // A hand-written file's weights: which of the model's each node reads (WeightRoles).
        var graph = try withRoles(graph, model: model)
        var shapes = try concreteShapes(graph)
        var shrunk: ShrunkGraph?
        do {
            try checkBudget(graph, shapes: shapes, model: model, elementLimit: elementLimit, multiplyAddLimit: multiplyAddLimit)
        } catch {
            guard error.overBudget, shrink else { throw error }
            // Past the budget as written: the same graph at a small consistent assignment.
            let small: ShrunkGraph
            do {
                small = try Shrinker.shrink(graph, model: model, shapes: shapes)
            } catch let why {
                throw VerifyError("\(error.description); nor could it be shrunk: \(why.description)", overBudget: true)
            }
            graph = small.graph
            model = try ReferenceModel(graph: graph)
            shapes = try concreteShapes(graph)
            do {
                try checkBudget(graph, shapes: shapes, model: model, elementLimit: elementLimit, multiplyAddLimit: multiplyAddLimit)
            } catch {
                let kept = small.kept.isEmpty ? "" : "; \(small.kept)"
                var refused = VerifyError("shrunk (\(small.summary)\(kept)), \(error.description)", overBudget: error.overBudget)
                refused.headerMismatchNode = error.headerMismatchNode
                throw refused
            }
            shrunk = small
        }
        let data = DataSource(seed: seed)
        // The DAG first: what its dispatches drop for want of capacity, the reference drops too.
        let interpreter = Interpreter(
            graph: graph, data: data, model: model, shapes: shapes, multiplyAddBudget: multiplyAddLimit - model.cost.multiplyAdds)
        let values = try interpreter.run()
        let recorder = Reference.Recorder()
        // A disaggregated graph: the prefill's reference, its keys and values the decode's cache.
        var references: [String: Tensor] = [:]
        let reference: Tensor
        if model.disaggregated {
            var prefill = model
            (prefill.disaggregated, prefill.context) = (false, nil)
            var caches: [Int: (k: Tensor, v: Tensor)] = [:]
            references["prefill"] = Reference(model: prefill, data: data).run { caches[$0] = ($1, $2) }
            var decode = model
            decode.disaggregated = false
            reference = Reference(model: decode, data: data, caches: caches).run()
            references["decode"] = reference
        } else {
            var run = Reference(model: model, data: data)
            run.dropped = interpreter.drops.byLayer
            run.recorder = recorder
            reference = run.run()
        }
        var worst = 0.0
        var outputs = 0
        let scale = max(reference.data.map(abs).max() ?? 1, 1e-300)
        for (i, node) in graph.nodes.enumerated() where node.op == .output {
            guard case .tensor(let t) = values[i] else { continue }
            let place = node.attributes["place"].flatMap(Placement.parse) ?? .replicate
            let reference = node.attributes["phase"].flatMap { references[$0] } ?? reference
            try Interpreter.checkPlace(place, reference.shape, node.name, "the model's output")
            let expected = reference.part(place)
            guard expected.shape == t.shape else {
                throw VerifyError("output \(node.name) has shape \(t.shape), but the model's output part \(place) has \(expected.shape)")
            }
            for (a, b) in zip(t.data, expected.data) {
                // A NaN (a scale of nan, say) is no match.
                worst = a.isNaN || b.isNaN ? .infinity : max(worst, abs(a - b) / scale)
            }
            outputs += 1
        }
        guard outputs > 0 else { throw VerifyError("the graph has no output node to compare") }
        var result = VerifyResult(maxRelativeError: worst, outputs: outputs, nodesExecuted: graph.nodes.count)
        result.shrunk = shrunk?.assignment
        result.executed = graph
        result.droppedAssignments = interpreter.drops.total
        result.unplacedDrops = interpreter.drops.unmapped
        if !result.passes { result.firstDifference = firstDifference(graph, values: values, recorded: recorder.tensors) }
        return result
    }

    /// The graph at the small consistent assignment `verify` executes a file past its budget
    /// at (whatever the file's size): each weight's role found where the file names none.
    public static func shrunk(_ graph: OperatorGraph) throws(VerifyError) -> ShrunkGraph {
        try refuseUnexecutable(graph)
        let model = try ReferenceModel(graph: graph)
        let graph = try withRoles(graph, model: model)
        return try Shrinker.shrink(graph, model: model, shapes: try concreteShapes(graph))
    }

    /// `graph` with every weight's `weight_logical`: the file's, or its role (WeightRoles).
    static func withRoles(_ graph: OperatorGraph, model: ReferenceModel) throws(VerifyError) -> OperatorGraph {
        guard graph.nodes.contains(where: { $0.attributes["weight"] != nil && $0.attributes["weight_logical"] == nil }) else {
            return graph
        }
        var nodes = graph.nodes
        for (v, role) in try WeightRoles.assign(graph, model: model) {
            nodes[v].attributes["weight_logical"] = role
        }
        return OperatorGraph(name: graph.name, gpus: graph.gpus, attributes: graph.attributes, nodes: nodes, edges: graph.edges)
    }

    /// The first node, in an order the graph allows, whose output differs from the part its
    /// `place` names of the model's corresponding tensor: a weight's product (or, after the
    /// collective that sums or gathers it, the whole product), a norm's output. Nodes without a
    /// counterpart, or whose place is a partial sum, are passed over.
    static func firstDifference(_ graph: OperatorGraph, values: [Value?], recorded: [String: Tensor]) -> VerifyResult.Difference? {
        guard !recorded.isEmpty, case .acyclic(let order) = graph.adjacency.topologicalOrder() else { return nil }
        var producer = [Int?](repeating: nil, count: graph.nodes.count)
        for e in graph.edges where producer[e.to] == nil { producer[e.to] = e.from }
        /// The weight whose product `v` holds: its own, or, for a collective, its input's.
        func weightName(_ v: Int) -> String? {
            var u = v
            for _ in 0..<8 {
                let node = graph.nodes[u]
                if !node.op.isCommunication { return node.attributes["weight"] != nil ? node.attributes["weight_logical"] : nil }
                guard node.op == .allReduce || node.op == .allGather || node.op == .sendRecv, let from = producer[u] else { return nil }
                u = from
            }
            return nil
        }
        // Nodes without a weight that hold a recorded tensor: what a layer's output projection
        // reads (its attention's output), and the residual sums after the projection's and the
        // MLP's products (through the collectives that reduce or gather them).
        var held: [Int: String] = [:]
        for (v, node) in graph.nodes.enumerated() {
            if node.op == .matmul, let name = node.attributes["weight_logical"], name.hasSuffix(".w.o_proj"), let from = producer[v],
                graph.nodes[from].attributes["weight"] == nil
            {
                held[from] = String(name.dropLast("w.o_proj".count)) + "attention"
            }
        }
        /// What `u`'s sum adds: the weight product, or the experts' combine, it carries.
        func summand(_ u: Int) -> String? {
            var w = u
            for _ in 0..<8 {
                let node = graph.nodes[w]
                if node.op == .combine { return "combine" }
                if !node.op.isCommunication { return node.attributes["weight"] != nil ? node.attributes["weight_logical"] : nil }
                guard let from = producer[w] else { return nil }
                w = from
            }
            return nil
        }
        var incoming = [[Int]](repeating: [], count: graph.nodes.count)
        for e in graph.edges { incoming[e.to].append(e.from) }
        for (v, node) in graph.nodes.enumerated() where node.op == .add {
            guard let layer = node.layer else { continue }
            for u in incoming[v] {
                guard let name = summand(u) else { continue }
                if name.hasSuffix(".w.o_proj") { held[v] = "L\(layer).residual1" }
                if name.hasSuffix(".w.fc2") || name.hasSuffix(".w.down") || name == "combine" { held[v] = "L\(layer).residual2" }
            }
        }
        for v in order {
            let node = graph.nodes[v]
            let name: String?
            if let known = held[v] {
                name = known
            } else if [.matmul, .layernorm, .rmsnorm, .allReduce, .allGather, .sendRecv].contains(node.op) {
                name = weightName(v)
            } else {
                name = nil
            }
            guard let name,
                let whole = recorded[name], let text = node.attributes["place"], let place = Placement.parse(text), place.partial == nil,
                (try? Interpreter.checkPlace(place, whole.shape, node.name, name)) != nil
            else { continue }
            let expected = whole.part(place)
            let actual: [Tensor]
            switch values[v] {
            case .tensor(let t): actual = [t]
            case .perGPU(let m): actual = m.sorted { $0.key < $1.key }.map(\.value)
            case nil: continue
            }
            let scale = max(expected.data.map(abs).max() ?? 0, 1e-300)
            var worst = 0.0
            for t in actual {
                guard t.shape == expected.shape else { continue }
                for (a, b) in zip(t.data, expected.data) { worst = max(worst, abs(a - b) / scale) }
            }
            if worst > tolerance { return .init(node: node.name, tensor: name, place: place.description, relativeError: worst) }
        }
        return nil
    }

    /// What no execution can compare: a view (`generate --view`, graph attribute `view`) holds
    /// part of the deployment, micro-batches split the one batch verify runs, symbols have no
    /// value.
    static func refuseUnexecutable(_ graph: OperatorGraph) throws(VerifyError) {
        if let view = graph.attributes["view"] {
            throw VerifyError(
                "the graph is a view of part of a deployment (\(view)), whose outputs are not the model's; verify the whole DAG")
        }
        guard graph.attributes["micro_batches"] == nil else {
            throw VerifyError("verify executes one batch; generate the DAG without --micro-batches")
        }
        guard graph.symbols.isEmpty else { throw VerifyError("the graph has symbolic dimensions; bind them (--bind) to execute it") }
    }

    /// The nodes whose stated weight (`weight_logical` a name of the model's, `weight` times the
    /// parts of `weight_place`) is not the model the graph attributes state: another element
    /// count than the model's tensor of that name. Without executing anything, on a file of any
    /// size (a header of 64 heads of 2 written over weights of 16 heads of 8). Empty where the
    /// header states no model verify knows.
    public static func weightsAgainstHeader(_ graph: OperatorGraph) -> [(node: Int, message: String)] {
        guard graph.attributes["model"] != nil, let model = try? ReferenceModel(graph: graph) else { return [] }
        var found: [(node: Int, message: String)] = []
        // Layers repeat the same weight text, placement and name but for the layer's number.
        var known: [String: String?] = [:]
        // The header is one for every layer: the first two layers' weights (and those outside
        // the layers) tell, and a file of a million nodes is not read twice.
        for (v, node) in graph.nodes.enumerated() where (node.op == .matmul || node.op == .embedding) && (node.layer ?? 0) < 2 {
            guard let text = node.attributes["weight"], let name = node.attributes["weight_logical"] else { continue }
            let place = node.attributes["weight_place"] ?? "R"
            let key = WeightRoles.layerless(name) + "|" + text + "|" + place
            let verdict: String?
            if let cached = known[key] {
                verdict = cached
            } else {
                verdict = mismatch(name: name, weight: text, place: place, model: model)
                known[key] = verdict
            }
            if let verdict { found.append((v, verdict)) }
            if found.count >= 1000 { break }
        }
        return found
    }

    /// Why weight `name`, `weight` in part `place`, is not the model's; nil when it is, or when
    /// it cannot be told (a name the model does not use, a symbolic or malformed shape).
    static func mismatch(name: String, weight: String, place: String, model: ReferenceModel) -> String? {
        guard let expected = WeightRoles.referenceShape(name, model: model), let shape = try? Shape.parse(weight),
            let local = concrete(shape), let slice = Placement.parse(place)
        else { return nil }
        var logical = local.map(Double.init)
        for (d, part) in slice.shards where d < logical.count { logical[d] *= Double(part.parts) }
        let count = logical.reduce(1, *)
        let wanted = expected.reduce(1.0) { $0 * Double($1) }
        guard count != wanted else { return nil }
        let described = logical.map { $0 < 1e15 ? String(Int($0)) : String(format: "%.3g", $0) }.joined(separator: ",")
        return
            "weight \(weight) in part \(place) is part of a [\(described)] tensor, but the graph attributes' model has \(name) \(expected): the file's weights and its header describe different models"
    }

    /// The most nodes `check`'s semantic pass executes: past it, a file is left to
    /// `verify FILE` (which shrinks and executes a file of any node count its budget allows).
    public static let checkNodeLimit = 100_000

    /// What `verify` would refuse before anything else is worked out: a graph no execution
    /// can compare, the header's model, shapes that are not integers, and (for `check`) more
    /// nodes than `checkNodeLimit`. Cheap (one pass over the nodes), so that `check` can decide
    /// whether to infer placements and execute a file of any size; a file past the element
    /// budget is shrunk (Shrinker) rather than refused.
    public static func precheck(_ graph: OperatorGraph) throws(VerifyError) {
        try refuseUnexecutable(graph)
        _ = try ReferenceModel(graph: graph)
        guard graph.nodes.count <= checkNodeLimit else {
            throw VerifyError(
                "the graph has \(graph.nodes.count) nodes, more than the \(checkNodeLimit) check executes; deploydag verify FILE executes it",
                overBudget: true)
        }
        for node in graph.nodes where concrete(node.out) == nil {
            throw VerifyError("\(node.name): out \(node.out) is not a list of positive integers; bind its symbols (--bind)")
        }
    }

    /// Every node's `out` as integers; the element count of each is bounded by the budget
    /// before any product is formed in `Int`.
    static func concreteShapes(_ graph: OperatorGraph) throws(VerifyError) -> [[Int]] {
        var shapes: [[Int]] = []
        shapes.reserveCapacity(graph.nodes.count)
        for node in graph.nodes {
            guard let dims = concrete(node.out) else {
                throw VerifyError("\(node.name): out \(node.out) is not a list of positive integers; bind its symbols (--bind)")
            }
            shapes.append(dims)
        }
        return shapes
    }

    /// The dimensions as positive integers, or nil.
    static func concrete(_ shape: Shape) -> [Int]? {
        var dims: [Int] = []
        for d in shape.dims {
            guard let v = d.intValue, v > 0 else { return nil }
            dims.append(Int(v))
        }
        return dims
    }

    /// What executing the graph and its reference would cost, in elements made (and the
    /// reference's multiply-adds; the interpreter counts the graph's as it goes); refused over
    /// `elementLimit` or `multiplyAddLimit`. Counted in floating point, so that no count from a
    /// file can overflow.
    static func checkBudget(
        _ graph: OperatorGraph, shapes: [[Int]], model: ReferenceModel, elementLimit: Double, multiplyAddLimit: Double
    ) throws(VerifyError) {
        func product(_ dims: [Int]) -> Double { dims.reduce(1.0) { $0 * Double($1) } }
        var elements = 0.0
        var largest: (Double, String) = (0, "")
        var drawn = Set<String>()
        for (i, node) in graph.nodes.enumerated() {
            var cost = product(shapes[i])
            // The interpreter draws each logical weight once (DataSource.drawn), then slices it.
            if let text = node.attributes["weight"], drawn.insert((node.attributes["weight_logical"] ?? node.name) + "|" + text).inserted {
                // The interpreter draws the whole logical weight, then takes the node's slice.
                guard let shape = try? Shape.parse(text), let weight = concrete(shape) else {
                    throw VerifyError("\(node.name): weight '\(text)' is not a list of positive integers")
                }
                var logical = weight.map(Double.init)
                let slice = node.attributes["weight_place"].flatMap(Placement.parse) ?? .replicate
                for (d, part) in slice.shards where d < logical.count { logical[d] *= Double(part.parts) }
                cost += logical.reduce(1, *)
            }
            elements += cost
            if cost > largest.0 { largest = (cost, node.name) }
        }
        let (referenceElements, multiplyAdds) = model.cost
        elements += referenceElements
        if elements > elementLimit {
            throw VerifyError(
                "executing the graph and its model makes \(scientific(elements)) elements (the most, \(scientific(largest.0)), at \(largest.1)), over the limit of \(scientific(elementLimit)): too many to execute",
                overBudget: true)
        }
        if multiplyAdds > multiplyAddLimit {
            throw VerifyError(
                "executing the model takes \(scientific(multiplyAdds)) multiply-adds, over the limit of \(scientific(multiplyAddLimit)): too many to execute",
                overBudget: true)
        }
    }

    static func scientific(_ value: Double) -> String { String(format: "%.3g", value) }
}
