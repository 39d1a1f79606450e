/// How a model is split over GPUs.
public enum Strategy: Hashable, Sendable {
    /// Helix two-level attention partitioning: heads split into `headGroups` groups, each
    /// head's dimension split into `segments` segments; GPU `g * segments + s` holds group g,
    /// segment s. The MLP is column/row parallel over all `headGroups * segments` GPUs.
    case helix(headGroups: Int, segments: Int)
    /// Megatron tensor parallelism of degree `tp` inside each of `pp` pipeline stages.
    case tensorPipeline(tp: Int, pp: Int)

    public var gpuCount: Int {
        switch self {
        case .helix(let g, let s): g * s
        case .tensorPipeline(let tp, let pp): tp * pp
        }
    }

    var attributes: [String: String] {
        switch self {
        case .helix(let g, let s):
            ["strategy": "helix", "head_groups": String(g), "segments": String(s)]
        case .tensorPipeline(let tp, let pp):
            ["strategy": "tp_pp", "tp": String(tp), "pp": String(pp)]
        }
    }
}

/// A model and a strategy: everything a builder needs.
public struct Deployment: Hashable, Sendable {
    public var name: String
    public var model: TransformerModel
    public var strategy: Strategy

    public init(name: String, model: TransformerModel, strategy: Strategy) {
        self.name = name
        self.model = model
        self.strategy = strategy
    }
}
