import DOTFormat
import DeployModel

extension RuleID {
    /// A node disagrees with the model the graph's header states.
    public static let header = RuleID("header")
}

extension Context {
    /// `header`: the model the graph attributes state, checked against the nodes that carry
    /// the same fact: a softmax's or fused attention's `scale` against `1/sqrt(head_dim)`, a
    /// top-k's `k` against `top_k`, and the router's width, the top-k's input and every
    /// dispatch's and combine's `experts` against `experts` and against one another. Each
    /// check runs only where the header states the fact (a hand-written file without a header
    /// is checked by the other rules).
    /// A tensor-and-pipeline-parallel header's degrees against its GPU count: a stage is
    /// tp x cp GPUs wide (ep, where wider, spreads the experts over more), pp stages, dp
    /// replicas. (tp=4 written over a 2-GPU file.)
    private mutating func checkDegrees() {
        let a = graph.attributes
        guard let gpus = graph.gpus else { return }
        switch a["strategy"] {
        case "tp_pp":
            if let (expected, why) = tensorPipelineGPUs(prefix: "") {
                if expected != gpus { report(.header, "the graph's degrees need \(expected) GPUs (\(why)), but it states gpus=\(gpus)") }
            }
        case "helix":
            guard let groups = degree("head_groups"), let segments = degree("segments") else { return }
            let (stages, replicas) = (degree("pp") ?? 1, degree("dp") ?? 1)
            // Each at most 2^20: their product may pass 64 bits, which no GPU count is.
            let expected = [segments, stages, replicas].reduce(Optional(groups)) { product, next in
                product.flatMap { p in
                    let (q, overflow) = p.multipliedReportingOverflow(by: next)
                    return overflow ? nil : q
                }
            }
            if expected != gpus {
                report(
                    .header,
                    "the graph's Helix layout needs \(expected.map(String.init) ?? "more than 2^63") GPUs (\(groups) head groups x \(segments) segments\(stages > 1 ? " x \(stages) stages" : "")\(replicas > 1 ? " x dp \(replicas)" : "")), but it states gpus=\(gpus)"
                )
            }
            if let heads = degree("heads"), heads % groups != 0 {
                report(.header, "the graph's \(heads) heads do not split into its \(groups) head groups")
            }
            if let headDim = degree("head_dim"), headDim % segments != 0 {
                report(.header, "the graph's head_dim \(headDim) does not split into its \(segments) segments")
            }
        case "attention_pool":
            checkPools(("base_gpus", "pool_gpus"), gpus: gpus)
            if let base = a["base_gpus"].flatMap(GPUList.parse), let tp = degree("tp"), tp != base.count {
                report(.header, "the graph's tp is \(tp), but its base_gpus are \(base.count) GPUs")
            }
        case "ma_separation":
            checkPools(("attention_gpus", "expert_gpus"), gpus: gpus)
        case "disaggregated":
            checkPools(("prefill_gpus", "decode_gpus"), gpus: gpus)
            for side in ["prefill", "decode"] {
                guard a["\(side)_strategy"] == "tp_pp", let list = a["\(side)_gpus"].flatMap(GPUList.parse),
                    let (expected, why) = tensorPipelineGPUs(prefix: side + "_")
                else { continue }
                if expected != list.count {
                    report(.header, "the graph's \(side) degrees need \(expected) GPUs (\(why)), but its \(side)_gpus are \(list.count)")
                }
            }
        default: return
        }
    }

    /// Token positions (`q_offset`, RoPE's and a positions input's `offset`) within the tokens
    /// the header states: a prompt's `seq`, or a decode's `context - 1` cached ones (a
    /// disaggregated graph has both).
    private mutating func checkOffsets() {
        guard let seq = headerInt("seq") else { return }
        let context = headerInt("context")
        let bound = context.map { max(seq, $0 - 1) } ?? seq
        var reported = 0
        for (v, node) in graph.nodes.enumerated() where isValid(v) && reported < 100 {
            let key: String
            switch node.op {
            case .attention, .softmax: key = "q_offset"
            case .rope, .input: key = "offset"
            default: continue
            }
            guard let text = node.attributes[key] else { continue }
            guard let offset = Int(text.trimmingASCIISpaces()), offset >= 0, offset <= bound else {
                report(
                    .header, node: v,
                    "\(key) '\(text)' is not a token position of the graph's \(context == nil ? "seq \(seq)" : "context \(context!) (\(bound) tokens before the new one)"): expected 0 to \(bound)"
                )
                reported += 1
                continue
            }
        }
    }

    /// A positive graph attribute of at most 2^20 (a degree), or nil.
    private func degree(_ key: String) -> Int? {
        graph.attributes[key].flatMap { Int($0.trimmingASCIISpaces()) }.flatMap { $0 > 0 && $0 <= 1 << 20 ? $0 : nil }
    }

    /// The GPUs a tensor-and-pipeline-parallel layout of degrees `PREFIXtp`, `cp`, `ep`, `pp`,
    /// `dp` needs (a stage of max(tp x cp, ep), pp stages, dp replicas), and how; nil without a tp.
    private func tensorPipelineGPUs(prefix: String) -> (Int, String)? {
        guard let tp = degree(prefix + "tp") else { return nil }
        let (cp, pp, dp, ep) = (
            degree(prefix + "cp") ?? 1, degree(prefix + "pp") ?? 1, degree(prefix + "dp") ?? 1, degree(prefix + "ep") ?? 1
        )
        // Each at most 2^20; their product may pass 64 bits, which no GPU count is.
        let stage = max(tp * cp, ep)
        let (perReplica, o1) = stage.multipliedReportingOverflow(by: pp)
        let (expected, o2) = perReplica.multipliedReportingOverflow(by: dp)
        let why = "a stage of \(stage): tp \(tp)\(cp > 1 ? " x cp \(cp)" : "")\(ep > tp * cp ? ", ep \(ep)" : ""); pp \(pp); dp \(dp)"
        return (o1 || o2 ? Int.max : expected, why)
    }

    /// Two GPU lists of the header: each readable, neither naming a GPU twice, apart from
    /// each other, and together the graph's GPUs `0..<gpus` (the lower one's replicas laid
    /// after, with `dp`).
    private mutating func checkPools(_ keys: (String, String), gpus: Int) {
        let a = graph.attributes
        guard let first = a[keys.0].flatMap(GPUList.parse), let second = a[keys.1].flatMap(GPUList.parse) else { return }
        let (one, other) = (Set(first), Set(second))
        if one.count != first.count || other.count != second.count {
            report(.header, "the graph's \(one.count != first.count ? keys.0 : keys.1) name a GPU twice")
            return
        }
        if let shared = one.intersection(other).min() {
            report(.header, "GPU \(shared) is in both the graph's \(keys.0) and its \(keys.1)")
            return
        }
        // Layout stages (`pp`) and replicas (`dp`) repeat the lists on the GPUs after.
        let replicas = (degree("dp") ?? 1) * (degree("pp") ?? 1)
        let span = (one.union(other).max() ?? -1) + 1
        let (expected, overflow) = span.multipliedReportingOverflow(by: replicas)
        if overflow || expected != gpus {
            report(
                .header,
                "the graph's \(keys.0) and \(keys.1) span GPUs 0-\(span - 1)\(replicas > 1 ? " in each of \(replicas) stages or replicas" : ""), but it states gpus=\(gpus)"
            )
        }
    }

    mutating func checkHeader() {
        let a = graph.attributes
        let headDim = a["head_dim"].flatMap { Int($0.trimmingASCIISpaces()) }.flatMap { $0 > 0 ? $0 : nil }
        let topK = a["top_k"].flatMap { Int($0.trimmingASCIISpaces()) }
        let experts = a["experts"].flatMap { Int($0.trimmingASCIISpaces()) }
        checkDegrees()
        checkOffsets()
        if let rotary = a["rotary_dim"].flatMap({ Int($0.trimmingASCIISpaces()) }), let headDim,
            rotary > headDim || rotary % 2 != 0 || rotary < 2
        {
            report(.header, "the graph's rotary_dim \(rotary) is not an even count of at most head_dim (\(headDim)) dimensions")
        }
        for (v, node) in graph.nodes.enumerated() where isValid(v) {
            switch node.op {
            case .softmax, .attention:
                // Fused attention without a scale scores by 1: not the model's 1/sqrt(head_dim).
                // (A softmax may be a router's or a gate's, which no scale concerns.)
                if node.op == .attention, let headDim, node.attributes["scale"] == nil {
                    report(
                        .header, node: v,
                        "attention states no scale, so it scores by 1, but the graph's head_dim is \(headDim): state scale=\(1 / Double(headDim).squareRoot()) (1/sqrt(head_dim))"
                    )
                    continue
                }
                if let text = node.attributes["scale"], !(Double(text.trimmingASCIISpaces()).map { $0.isFinite && $0 > 0 } ?? false) {
                    report(.header, node: v, "scale '\(text)' is not a positive finite number")
                    continue
                }
                guard let headDim, let text = node.attributes["scale"], let scale = Double(text.trimmingASCIISpaces()), scale > 0
                else { continue }
                let expected = 1 / Double(headDim).squareRoot()
                guard abs(scale - expected) > 1e-9 * expected else { continue }
                // What head dimension the scale is for, when it is 1/sqrt of a whole number.
                let implied = (1 / (scale * scale)).rounded()
                let said = abs(1 / implied.squareRoot() - scale) <= 1e-9 * scale ? " = 1/sqrt(\(Int(implied)))" : ""
                report(
                    .header, node: v,
                    "\(node.op.rawValue) scale \(text)\(said), but the graph's head_dim is \(headDim): attention scores are scaled by 1/sqrt(head_dim) = \(expected) (a scale for part of the head dimension scores only that part)"
                )
            case .topk:
                guard let topK, let k = node.attributes[DOTSchema.k].flatMap({ Int($0.trimmingASCIISpaces()) }), k != topK else { continue }
                report(.header, node: v, "top-k picks k=\(k) experts a token, but the graph's top_k is \(topK)")
            case .dispatch, .combine:
                guard let stated = node.attributes[DOTSchema.experts].flatMap({ Int($0.trimmingASCIISpaces()) }) else { continue }
                if let experts, stated != experts {
                    report(
                        .header, node: v, "\(node.op.rawValue) to \(stated) experts, but the graph has \(experts) (graph attribute experts)"
                    )
                }
                // The routing input's producer chain: the top-k, whose input is the router's scores.
                for e in incoming(v) {
                    let u = graph.edges[Int(e)].from
                    guard graph.nodes[u].op == .topk else { continue }
                    for f in incoming(u) {
                        let router = graph.nodes[graph.edges[Int(f)].from]
                        let scores = router.out
                        guard let width = scores.dims.last?.intValue, width != Int64(stated) else { continue }
                        report(
                            .header, node: v,
                            "\(node.op.rawValue) to \(stated) experts, but its routing comes from a top-k over \(width) router scores (\(router.name) \(scores)): a token can be sent to an expert no buffer holds"
                        )
                    }
                }
            default:
                continue
            }
        }
    }
}
