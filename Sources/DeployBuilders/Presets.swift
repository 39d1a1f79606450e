import DeployModel

/// A named deployment from the seed documents.
public struct Preset: Sendable, Hashable {
    public var name: String
    /// One line: the model, the strategy, and the seed it comes from.
    public var summary: String
    public var deployment: Deployment

    /// The preset's deployment with the user's overrides applied.
    public func deployment(layers: Int? = nil, batch: Dim? = nil, seq: Dim? = nil) -> Deployment {
        var d = deployment
        if let layers { d.model.layers = layers }
        if let batch { d.model.batch = batch }
        if let seq { d.model.seq = seq }
        return d
    }
}

extension Preset {
    /// Seeds 000, 002 and 004: hidden 8192 as 16 heads x 512, MLP 32768, batch 1024, seq 10000.
    static func helixSeedModel(layers: Int) -> TransformerModel {
        TransformerModel(
            layers: layers, batch: Dim(1024), seq: Dim(10000), hidden: 8192, heads: 16, headDim: 512, ffn: 32768)
    }

    public static let all: [Preset] = [
        Preset(
            name: "helix-dense-2l",
            summary: "seeds 000/002: dense 2-layer, hidden 8192 (16 heads x 512), Helix 4 head groups x 4 segments on 16 GPUs",
            deployment: Deployment(
                name: "helix-dense-2l", model: helixSeedModel(layers: 2), strategy: .helix(headGroups: 4, segments: 4))),
        Preset(
            name: "helix-dense-4l",
            summary: "seed 004: dense 4-layer, hidden 8192 (16 heads x 512), Helix 4 head groups x 4 segments on 16 GPUs",
            deployment: Deployment(
                name: "helix-dense-4l", model: helixSeedModel(layers: 4), strategy: .helix(headGroups: 4, segments: 4))),
        Preset(
            name: "tp8-pp2-dense-4l",
            summary: "seed 004 baseline: dense 4-layer, hidden 8192, tensor parallel 8 x pipeline parallel 2 on 16 GPUs",
            deployment: Deployment(
                name: "tp8-pp2-dense-4l", model: helixSeedModel(layers: 4), strategy: .tensorPipeline(tp: 8, pp: 2))),
    ]

    public static func named(_ name: String) -> Preset? {
        all.first { $0.name == name }
    }
}
