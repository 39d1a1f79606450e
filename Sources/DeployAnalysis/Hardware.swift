/// A GPU as the cost model sees it.
public struct GPUSpec: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    /// Dense peak for the DAG's data type, FLOP/s.
    public var peakFLOPs: Double
    /// HBM bandwidth, bytes/s.
    public var memoryBandwidth: Double
    /// HBM capacity, bytes.
    public var memoryCapacity: Double
    /// Dense FP8 (E4M3) tensor-core peak, FLOP/s; nil for a GPU without FP8 tensor cores.
    public var fp8PeakFLOPs: Double?
    /// NVLink bandwidth per GPU and direction, bytes/s: the network model's default for links
    /// inside a node when the user names none. nil for a GPU described on the command line.
    public var nvlinkBandwidth: Double?
    /// Dense peaks by data type (`bf16`, `fp16`, `fp8`, `tf32`, `fp32`) where a hardware file
    /// gives them: a DAG runs at its own data type's. Empty for the built-in GPUs, which run
    /// every type but fp8 at `peakFLOPs`.
    public var peaks: [String: Double] = [:]

    /// NVLink per GPU and direction when neither the GPU nor the user says: an H100's.
    public static let defaultNVLinkBandwidth = 450e9

    public init(
        name: String, peakFLOPs: Double, memoryBandwidth: Double, memoryCapacity: Double, fp8PeakFLOPs: Double? = nil,
        nvlinkBandwidth: Double? = nil
    ) {
        self.name = name
        self.peakFLOPs = peakFLOPs
        self.memoryBandwidth = memoryBandwidth
        self.memoryCapacity = memoryCapacity
        self.fp8PeakFLOPs = fp8PeakFLOPs
        self.nvlinkBandwidth = nvlinkBandwidth
    }

    /// This GPU as it runs a DAG of `dtype`: FP8 matmuls at the FP8 peak.
    public func running(dtype: String?) throws(AnalysisError) -> GPUSpec {
        if !peaks.isEmpty {
            let type = dtype ?? "bf16"
            guard let peak = peaks[type] else {
                throw AnalysisError(
                    "\(name) states no \(type) peak to run a \(type) DAG at; its file gives \(peaks.keys.sorted().joined(separator: ", "))")
            }
            var copy = self
            copy.peakFLOPs = peak
            return copy
        }
        guard dtype == "fp8" else { return self }
        guard let fp8PeakFLOPs else {
            throw AnalysisError("\(name) has no FP8 tensor cores to run an fp8 DAG; describe one with fp8 or price another GPU (--gpu)")
        }
        var copy = self
        copy.peakFLOPs = fp8PeakFLOPs
        return copy
    }

    public var description: String {
        "\(name) (\(Format.number(peakFLOPs / 1e12)) TFLOP/s, \(Format.number(memoryBandwidth / 1e12)) TB/s, \(Format.number(memoryCapacity / 1e9)) GB)"
    }

    /// H100 SXM: 989 TFLOP/s dense BF16 (1979 is the sparsity figure), 3.35 TB/s, 80 GB.
    /// Dense FP8: 1979 TFLOP/s (3958 is the sparsity figure). NVLink 4: 900 GB/s a GPU, both
    /// directions together.
    public static let h100SXM = GPUSpec(
        name: "h100-sxm", peakFLOPs: 989e12, memoryBandwidth: 3.35e12, memoryCapacity: 80e9, fp8PeakFLOPs: 1979e12,
        nvlinkBandwidth: 450e9)
    /// H200: the H100's compute and NVLink with 4.8 TB/s and 141 GB of HBM3e.
    public static let h200 = GPUSpec(
        name: "h200", peakFLOPs: 989e12, memoryBandwidth: 4.8e12, memoryCapacity: 141e9, fp8PeakFLOPs: 1979e12, nvlinkBandwidth: 450e9)
    /// A100 SXM 80 GB: 312 TFLOP/s dense BF16, 2.04 TB/s; NVLink 3: 600 GB/s a GPU, both
    /// directions together.
    public static let a100SXM = GPUSpec(
        name: "a100-sxm", peakFLOPs: 312e12, memoryBandwidth: 2.039e12, memoryCapacity: 80e9, nvlinkBandwidth: 300e9)

    public static let builtIn: [GPUSpec] = [.h100SXM, .h200, .a100SXM]

    /// A built-in name, or `NAME:peak=TFLOPS,bw=TBPS,mem=GB` to describe another GPU.
    public static func parse(_ text: String) -> GPUSpec? {
        if let known = builtIn.first(where: { $0.name == text }) { return known }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        var values: [String: Double] = [:]
        for item in parts[1].split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Double(kv[1]), v > 0 else { return nil }
            values[String(kv[0])] = v
        }
        guard let peak = values["peak"], let bw = values["bw"], let mem = values["mem"], values.count == 3 else { return nil }
        return GPUSpec(name: String(parts[0]), peakFLOPs: peak * 1e12, memoryBandwidth: bw * 1e12, memoryCapacity: mem * 1e9)
    }
}

/// How GPUs talk: NVLink inside a node, InfiniBand across nodes, alpha-beta ring collectives.
public struct NetworkModel: Hashable, Sendable, CustomStringConvertible {
    public var gpusPerNode: Int
    /// Per GPU, per direction, bytes/s.
    public var intraNodeBandwidth: Double
    public var interNodeBandwidth: Double
    /// Per-step latency of a collective or transfer, seconds.
    public var alpha: Double

    public init(gpusPerNode: Int = 8, intraNodeBandwidth: Double = 450e9, interNodeBandwidth: Double = 50e9, alpha: Double = 2e-6) {
        self.gpusPerNode = gpusPerNode
        self.intraNodeBandwidth = intraNodeBandwidth
        self.interNodeBandwidth = interNodeBandwidth
        self.alpha = alpha
    }

    public var description: String {
        "\(gpusPerNode) GPUs per node, NVLink \(Format.number(intraNodeBandwidth / 1e9)) GB/s, InfiniBand \(Format.number(interNodeBandwidth / 1e9)) GB/s per GPU, alpha \(Format.number(alpha * 1e6)) us, ring collectives"
    }

    /// The slowest link a group's traffic crosses.
    public func linkClass(_ group: [Int]) -> LinkClass {
        let nodes = Set(group.map { $0 / max(gpusPerNode, 1) })
        return nodes.count <= 1 ? .nvlink : .infiniband
    }

    public func bandwidth(_ link: LinkClass) -> Double {
        link == .nvlink ? intraNodeBandwidth : interNodeBandwidth
    }
}

public enum LinkClass: String, Sendable, Hashable, Codable, CaseIterable {
    case nvlink, infiniband
}
