import Foundation
import Yams

/// A machine as a data file (docs/hardware.md): one GPU's peaks and memory, and the node the
/// GPUs share, NVLink inside it and NICs out of it. `--hardware NAME|FILE` prices on it.
public struct HardwareDescription: Hashable, Sendable {
    public var name: String
    public var gpuName: String
    /// Dense tensor-core peaks by data type (`bf16`, `fp16`, `fp8`, `tf32`, `fp32`), FLOP/s.
    public var peakFLOPs: [String: Double]
    /// HBM bandwidth, bytes/s.
    public var memoryBandwidth: Double
    /// HBM capacity, bytes.
    public var memoryCapacity: Double
    /// NVLink bandwidth per GPU and direction, bytes/s.
    public var nvlinkBandwidth: Double
    public var gpusPerNode: Int
    public var nicsPerNode: Int
    /// Bandwidth of one NIC per direction, bytes/s.
    public var nicBandwidth: Double
    /// Latency per collective step or transfer, seconds.
    public var latency: Double
    /// The file it was read from.
    public var file: String

    /// What one GPU can send across nodes: the node's NICs shared by its GPUs.
    public var interNodeBandwidthPerGPU: Double { Double(nicsPerNode) * nicBandwidth / Double(max(gpusPerNode, 1)) }

    static let dataTypes: Set<String> = ["bf16", "fp16", "fp8", "tf32", "fp32"]

    /// The shipped descriptions' directory (Presets/hardware).
    public static var directory: URL? { Presets.directory?.appendingPathComponent("hardware") }

    /// The shipped descriptions, by name.
    public static func builtIn() throws(SpecFileError) -> [HardwareDescription] {
        guard let directory else { return [] }
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
        var result: [HardwareDescription] = []
        for file in files { result.append(try parse(file: directory.appendingPathComponent(file).path)) }
        return result
    }

    /// A shipped description's name, or a file.
    public static func load(_ nameOrFile: String) throws(SpecFileError) -> HardwareDescription {
        if let known = try builtIn().first(where: { $0.name == nameOrFile }) { return known }
        var directory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: nameOrFile, isDirectory: &directory) else {
            let names = ((try? builtIn()) ?? []).map(\.name).joined(separator: ", ")
            throw SpecFileError(
                file: nameOrFile, line: nil, key: nil, reason: "no such file, and not one of the shipped machines (\(names))")
        }
        guard !directory.boolValue else {
            throw SpecFileError(file: nameOrFile, line: nil, key: nil, reason: "is a directory; name a hardware description file (YAML)")
        }
        return try parse(file: nameOrFile)
    }

    public static func parse(file: String) throws(SpecFileError) -> HardwareDescription {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw SpecFileError(file: file, line: nil, key: nil, reason: "cannot read the file as UTF-8 text")
        }
        return try parse(text: text, file: file)
    }

    public static func parse(text: String, file: String) throws(SpecFileError) -> HardwareDescription {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw SpecFileError(file: file, line: 1, key: nil, reason: "the file is empty; expected name, gpu and node")
            }
            root = node
        } catch let error as SpecFileError {
            throw error
        } catch {
            throw SpecFileError(file: file, line: nil, key: nil, reason: "not valid YAML: \(error)")
        }
        var reader = Reader(file: file)
        let top = try reader.entries(root, path: "", allowed: ["name", "summary", "gpu", "node", "latency_us"])
        func fail(_ key: String, _ node: Node?, _ reason: String) -> SpecFileError { reader.fail(key, node, reason) }
        /// A positive number of at most `limit` (in the file's units), or the default.
        func positive(_ m: [String: Node], _ key: String, in parent: Node, default value: Double? = nil, limit: Double = 1e6)
            throws(SpecFileError) -> Double
        {
            guard let node = m[key] else {
                if let value { return value }
                throw fail(key, parent, "is missing")
            }
            guard let v = node.float ?? node.int.map(Double.init), v > 0, v.isFinite else {
                throw fail(key, node, "must be a positive number, got '\(node.string ?? "?")'")
            }
            guard v <= limit, v >= 1e-6 else {
                throw fail(key, node, "is \(node.string ?? "?"), outside the plausible range of 1e-6 to \(Int(limit)) in its unit")
            }
            return v
        }
        guard let name = top["name"]?.string, !name.isEmpty else { throw fail("name", top["name"] ?? root, "is missing or empty") }
        guard let gpuNode = top["gpu"] else { throw fail("gpu", root, "is missing") }
        guard let nodeNode = top["node"] else { throw fail("node", root, "is missing") }
        let gpu = try reader.entries(gpuNode, path: "gpu", allowed: ["name", "tflops", "hbm_tbps", "memory_gb", "nvlink_gbps"])
        guard let tflopsNode = gpu["tflops"] else {
            throw fail("tflops", gpuNode, "is missing: dense peaks by data type, such as {bf16: 989}")
        }
        let tflops = try reader.entries(tflopsNode, path: "gpu.tflops", allowed: dataTypes)
        var peaks: [String: Double] = [:]
        for (dtype, _) in tflops { peaks[dtype] = try positive(tflops, dtype, in: tflopsNode) * 1e12 }
        guard peaks["bf16"] != nil else { throw fail("tflops", tflopsNode, "must give bf16, the peak most DAGs run at") }
        let node = try reader.entries(nodeNode, path: "node", allowed: ["gpus", "nics", "nic_gbps"])
        let gpus = try positive(node, "gpus", in: nodeNode, limit: 65_536)
        let nics = try positive(node, "nics", in: nodeNode, limit: 65_536)
        guard gpus == gpus.rounded(), nics == nics.rounded(), gpus <= 65_536, nics <= 65_536 else {
            throw fail("gpus", node["gpus"], "and nics must be whole numbers of at most 65,536")
        }
        return HardwareDescription(
            name: name, gpuName: gpu["name"]?.string ?? name, peakFLOPs: peaks,
            memoryBandwidth: try positive(gpu, "hbm_tbps", in: gpuNode) * 1e12,
            memoryCapacity: try positive(gpu, "memory_gb", in: gpuNode) * 1e9,
            nvlinkBandwidth: try positive(gpu, "nvlink_gbps", in: gpuNode) * 1e9, gpusPerNode: Int(gpus), nicsPerNode: Int(nics),
            nicBandwidth: try positive(node, "nic_gbps", in: nodeNode) * 1e9,
            latency: try positive(top, "latency_us", in: root, default: 2) * 1e-6, file: file)
    }
}
