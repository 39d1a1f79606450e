import DeployBuilders
import DeployModel
import DeploySpecs

/// A preset's deployment, with the overrides a test needs. For the tests only.
public func presetDeployment(_ name: String, layers: Int? = nil, batch: Dim? = nil, seq: Dim? = nil, phase: Phase? = nil) -> Deployment {
    var d = try! Presets.named(name)!.deployment
    if let layers { d.model.layers = layers }
    if let batch { d.model.batch = batch }
    if let seq { d.model.seq = seq }
    if let phase { d.phase = phase }
    return d
}

/// Every preset's name. For the tests only.
public let presetNames: [String] = try! Presets.all().map(\.name)
