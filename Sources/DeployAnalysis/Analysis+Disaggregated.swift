import DeployModel

/// A disaggregated graph (phase `disaggregated`): a prefill on one set of GPUs, the decode step
/// after it on another, the prefill's keys and values moved between them.
extension Analysis {
    public var isDisaggregated: Bool { graph.attributes["phase"] == "disaggregated" }

    /// What a disaggregated deployment gives a request, each figure from the graph's schedule.
    public struct DisaggregatedFigures: Sendable {
        /// When the prefill's outputs (the first token's logits) are done, in the whole schedule.
        public var timeToFirstToken: Double
        /// The bytes of keys and values the prefill sends the decode GPUs.
        public var transferBytes: Double
        /// When the last of them has arrived (and been joined), in the whole schedule.
        public var transferDone: Double
        /// The decode step alone, its cache in place: the schedule of the decode side's nodes.
        public var timePerOutputToken: Double
        /// Tokens a decode step makes: one per sequence.
        public var decodeTokens: Double?
    }

    /// The figures of a disaggregated graph; nil for any other.
    public func disaggregatedFigures() throws -> DisaggregatedFigures? {
        guard isDisaggregated else { return nil }
        var (ttft, done, bytes) = (0.0, 0.0, 0.0)
        for (v, node) in graph.nodes.enumerated() {
            if node.op == .output, node.attributes["phase"] == "prefill" { ttft = max(ttft, schedule.finish[v]) }
            guard node.block == "kv_transfer" else { continue }
            done = max(done, schedule.finish[v])
            if node.op == .sendRecv { bytes += costs[v].sentBytesPerGPU }
        }
        let decode = graph.view(named: "\(graph.name).decode", description: "the decode step, its cache in place") {
            $0.name.hasPrefix("decode.") && $0.block != "kv_transfer"
        }
        let step = try Analysis(graph: decode, options: options)
        return DisaggregatedFigures(
            timeToFirstToken: ttft, transferBytes: bytes, transferDone: done, timePerOutputToken: step.makespanSeconds,
            decodeTokens: graph.attributes["batch"].flatMap(Dim.init)?.doubleValue)
    }
}
