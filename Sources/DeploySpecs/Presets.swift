import DeployBuilders
import DeployModel
import Foundation

/// The built-in deployments: the spec files in Sources/DeploySpecs/Presets, shipped with the tool.
public enum Presets {
    /// The directory holding the preset specs; `DEPLOYDAG_PRESETS` overrides it.
    public static var directory: URL? {
        if let override = ProcessInfo.processInfo.environment["DEPLOYDAG_PRESETS"] {
            return URL(fileURLWithPath: override)
        }
        return Bundle.module.url(forResource: "Presets", withExtension: nil)
    }

    /// Every preset, sorted by name.
    public static func all() throws(SpecFileError) -> [DeploymentSpec] {
        guard let directory else {
            throw SpecFileError(file: "Presets", line: nil, key: nil, reason: "the presets directory was not found beside the executable")
        }
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        } catch {
            throw SpecFileError(file: directory.path, line: nil, key: nil, reason: "cannot list the presets: \(error)")
        }
        var specs: [DeploymentSpec] = []
        for file in files {
            specs.append(try SpecParser.parse(file: directory.appendingPathComponent(file).path))
        }
        return specs.sorted { $0.name < $1.name }
    }

    public static func named(_ name: String) throws(SpecFileError) -> DeploymentSpec? {
        try all().first { $0.name == name }
    }
}

/// What a user changes about a spec from the command line.
public struct SpecOverrides: Sendable {
    public var layers: Int?
    public var batch: Dim?
    public var seq: Dim?
    /// Values for symbols (`B=8`): bound in every dimension that names them.
    public var bindings: [String: Int64] = [:]
    public var phase: Phase?
    public var poolSize: Int?
    public var capacityFactor: Dim?
    public var topK: Int?
    public var microBatches: Int?
    public var helixSoftmax: HelixSoftmax?

    public init() {}

    /// The spec's deployment with these changes.
    public func apply(to spec: DeploymentSpec) throws(SpecFileError) -> Deployment {
        var d = spec.deployment
        if let layers { d.model.layers = layers }
        if let batch { d.model.batch = batch }
        if let seq { d.model.seq = seq }
        do {
            d.model.batch = try d.model.batch.binding(bindings)
            d.model.seq = try d.model.seq.binding(bindings)
        } catch {
            throw SpecFileError(file: spec.file, line: nil, key: "bind", reason: "\(error)")
        }
        if let phase { d.phase = phase }
        if let microBatches { d.microBatches = microBatches }
        if let helixSoftmax {
            guard case .helix = d.strategy else {
                throw SpecFileError(file: spec.file, line: nil, key: "helix_softmax", reason: "applies only to a helix strategy")
            }
            d.helixSoftmax = helixSoftmax
        }
        if let poolSize {
            guard case .attentionPool(let base, _) = d.strategy else {
                throw SpecFileError(file: spec.file, line: nil, key: "pool_size", reason: "applies only to an attention_pool strategy")
            }
            let start = (base.max() ?? -1) + 1
            d.strategy = .attentionPool(base: base, pool: Array(start..<(start + poolSize)))
        }
        if capacityFactor != nil || topK != nil {
            guard var moe = d.model.moe else {
                throw SpecFileError(
                    file: spec.file, line: nil, key: "experts", reason: "is missing: --capacity-factor and --top-k apply to MoE models")
            }
            if let capacityFactor { moe.capacityFactor = capacityFactor }
            if let topK { moe.topK = topK }
            d.model.moe = moe
        }
        return d
    }
}
