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
    /// Bytes the runtime keeps on every GPU (CUDA context, library workspaces, NCCL buffers).
    public var reserve: Double = 0
    /// Streaming multiprocessors (GEMM wave quantisation); nil: none.
    public var multiprocessors: Int?
    /// Fractions of peak reached: `gemm` (a large GEMM), `attention` (fused), `hbm` (streaming).
    public var efficiency: [String: Double] = [:]
    /// Fixed cost of one kernel, seconds.
    public var kernelLaunch: Double = 0
    /// Whether a node's GPUs are all one NVLink hop apart.
    public var nvswitch = true
    /// The `collectives:` section: `launch_us`, `nvlink_step_us`, `network_step_us`,
    /// `nvlink_efficiency`, `network_efficiency`, `nvls_efficiency` (seconds and fractions).
    public var collectives: [String: Double] = [:]

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
        // A shipped machine by its name, or by its GPU's (h100-sxm, h200, a100-sxm-80gb, b200).
        let shipped = try builtIn()
        if let known = shipped.first(where: { $0.name == nameOrFile }) ?? shipped.first(where: { $0.gpuName == nameOrFile }) {
            return known
        }
        var directory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: nameOrFile, isDirectory: &directory) else {
            let names = shipped.flatMap { [$0.name, $0.gpuName] }.joined(separator: ", ")
            throw SpecFileError(
                file: nameOrFile, line: nil, key: nil, reason: "no such file, and not one of the shipped machines (\(names))")
        }
        guard !directory.boolValue else {
            throw SpecFileError(file: nameOrFile, line: nil, key: nil, reason: "is a directory; name a hardware description file (YAML)")
        }
        return try parse(file: nameOrFile)
    }

    public static func parse(file: String) throws(SpecFileError) -> HardwareDescription {
        try parse(text: YAMLKeys.text(of: file), file: file)
    }

    public static func parse(text: String, file: String) throws(SpecFileError) -> HardwareDescription {
        let root = try YAMLKeys.root(text, file: file, expected: "name, gpu and node")
        var reader = Reader(file: file)
        let top = try reader.entries(root, path: "", allowed: ["name", "summary", "gpu", "node", "latency_us", "collectives"])
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
        let gpu = try reader.entries(
            gpuNode, path: "gpu",
            allowed: ["name", "tflops", "hbm_tbps", "memory_gb", "nvlink_gbps", "reserve_gb", "sms", "efficiency", "launch_us"])
        guard let tflopsNode = gpu["tflops"] else {
            throw fail("tflops", gpuNode, "is missing: dense peaks by data type, such as {bf16: 989}")
        }
        let tflops = try reader.entries(tflopsNode, path: "gpu.tflops", allowed: dataTypes)
        var peaks: [String: Double] = [:]
        for (dtype, _) in tflops { peaks[dtype] = try positive(tflops, dtype, in: tflopsNode) * 1e12 }
        guard peaks["bf16"] != nil else { throw fail("tflops", tflopsNode, "must give bf16, the peak most DAGs run at") }
        let node = try reader.entries(nodeNode, path: "node", allowed: ["gpus", "nics", "nic_gbps", "nvswitch"])
        let gpus = try positive(node, "gpus", in: nodeNode, limit: 65_536)
        let nics = try positive(node, "nics", in: nodeNode, limit: 65_536)
        guard gpus == gpus.rounded(), nics == nics.rounded(), gpus <= 65_536, nics <= 65_536 else {
            throw fail("gpus", node["gpus"], "and nics must be whole numbers of at most 65,536")
        }
        /// A fraction in [0.01, 1].
        func fraction(_ m: [String: Node], _ key: String) throws(SpecFileError) -> Double? {
            guard let node = m[key] else { return nil }
            guard let v = node.float ?? node.int.map(Double.init), v >= 0.01, v <= 1 else {
                throw fail(key, node, "must be a fraction from 0.01 to 1, got '\(node.string ?? "?")'")
            }
            return v
        }
        /// Microseconds from 0 to 1e6, as seconds; nil when absent.
        func microseconds(_ m: [String: Node], _ key: String) throws(SpecFileError) -> Double? {
            guard let node = m[key] else { return nil }
            guard let v = node.float ?? node.int.map(Double.init), v >= 0, v <= 1e6 else {
                throw fail(key, node, "must be a number of microseconds from 0 to 1e6, got '\(node.string ?? "?")'")
            }
            return v * 1e-6
        }
        var efficiency: [String: Double] = [:]
        if let node = gpu["efficiency"] {
            let e = try reader.entries(node, path: "gpu.efficiency", allowed: ["gemm", "attention", "hbm"])
            for key in e.keys { efficiency[key] = try fraction(e, key) }
        }
        var collectives: [String: Double] = [:]
        if let node = top["collectives"] {
            let c = try reader.entries(
                node, path: "collectives",
                allowed: ["launch_us", "nvlink_step_us", "network_step_us", "nvlink_efficiency", "network_efficiency", "nvls_efficiency"])
            for key in c.keys {
                collectives[key] = key.hasSuffix("_us") ? try microseconds(c, key) : try fraction(c, key)
            }
        }
        var nvswitch = true
        if let n = node["nvswitch"] {
            guard let on = n.bool else { throw fail("nvswitch", n, "must be true or false, got '\(n.string ?? "?")'") }
            nvswitch = on
        }
        var sms: Int?
        if gpu["sms"] != nil {
            let v = try positive(gpu, "sms", in: gpuNode, limit: 65_536)
            guard v == v.rounded() else { throw fail("sms", gpu["sms"], "must be a whole number of streaming multiprocessors") }
            sms = Int(v)
        }
        let capacity = try positive(gpu, "memory_gb", in: gpuNode) * 1e9
        var reserve = 0.0
        if let r = gpu["reserve_gb"] {
            guard let v = r.float ?? r.int.map(Double.init), v >= 0, v * 1e9 < capacity else {
                throw fail("reserve_gb", r, "must be at least 0 and less than memory_gb, got '\(r.string ?? "?")'")
            }
            reserve = v * 1e9
        }
        func gpuName() throws(SpecFileError) -> String {
            guard let node = gpu["name"] else { return name }
            guard node.scalar != nil, let text = node.string, !text.isEmpty else {
                throw fail("name", node, "must be the GPU's name, a string")
            }
            return text
        }
        var description = HardwareDescription(
            name: name, gpuName: try gpuName(), peakFLOPs: peaks,
            memoryBandwidth: try positive(gpu, "hbm_tbps", in: gpuNode) * 1e12,
            memoryCapacity: capacity,
            nvlinkBandwidth: try positive(gpu, "nvlink_gbps", in: gpuNode) * 1e9, gpusPerNode: Int(gpus), nicsPerNode: Int(nics),
            nicBandwidth: try positive(node, "nic_gbps", in: nodeNode) * 1e9,
            latency: try microseconds(top, "latency_us") ?? 2e-6, file: file)
        description.reserve = reserve
        description.multiprocessors = sms
        description.efficiency = efficiency
        description.kernelLaunch = try microseconds(gpu, "launch_us") ?? 0
        description.nvswitch = nvswitch
        description.collectives = collectives
        return description
    }
}
