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
        guard a["strategy"] == "tp_pp", let gpus = graph.gpus else { return }
        func degree(_ key: String) -> Int? {
            a[key].flatMap { Int($0.trimmingASCIISpaces()) }.flatMap { $0 > 0 && $0 <= 1 << 20 ? $0 : nil }
        }
        guard let tp = degree("tp") else { return }
        let (cp, pp, dp, ep) = (degree("cp") ?? 1, degree("pp") ?? 1, degree("dp") ?? 1, degree("ep") ?? 1)
        // Each at most 2^20; their product may pass 64 bits, which no GPU count is.
        let stage = max(tp * cp, ep)
        let (perReplica, o1) = stage.multipliedReportingOverflow(by: pp)
        let (expected, o2) = perReplica.multipliedReportingOverflow(by: dp)
        guard o1 || o2 || expected != gpus else { return }
        report(
            .header,
            "the graph's degrees need \(o1 || o2 ? "more than 2^63" : String(expected)) GPUs (a stage of \(stage): tp \(tp)\(cp > 1 ? " x cp \(cp)" : "")\(ep > tp * cp ? ", ep \(ep)" : ""); pp \(pp); dp \(dp)), but it states gpus=\(gpus)"
        )
    }

    mutating func checkHeader() {
        let a = graph.attributes
        let headDim = a["head_dim"].flatMap { Int($0.trimmingASCIISpaces()) }.flatMap { $0 > 0 ? $0 : nil }
        let topK = a["top_k"].flatMap { Int($0.trimmingASCIISpaces()) }
        let experts = a["experts"].flatMap { Int($0.trimmingASCIISpaces()) }
        checkDegrees()
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
