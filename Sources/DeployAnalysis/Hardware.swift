import Foundation

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
    /// The kernel model the `calibrated` cost model applies (docs/calibration.md); the textbook
    /// `roofline` ignores it.
    public var kernels = KernelModel.textbook
    /// Bytes held by the runtime on every GPU (CUDA context, cuBLAS workspace, NCCL buffers):
    /// what a deployment can use is `memoryCapacity - runtimeReserve`.
    public var runtimeReserve: Double = 0

    /// The memory a deployment can use: the capacity less the runtime's reserve.
    public var usableMemory: Double { memoryCapacity - runtimeReserve }

    /// "82.52 GB usable (85.52 GB less 3.00 GB for the runtime)", or the capacity alone.
    public var memoryText: String {
        guard runtimeReserve > 0 else { return Format.bytes(memoryCapacity) }
        return "\(Format.bytes(usableMemory)) usable (\(Format.bytes(memoryCapacity)) less \(Format.bytes(runtimeReserve)) for the runtime)"
    }

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
            if type == "fp32" { copy.kernels.minimumTileRows = 1 }
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
        let memory =
            runtimeReserve > 0
            ? "\(Format.number(usableMemory / 1e9)) GB usable of \(Format.number(memoryCapacity / 1e9))"
            : "\(Format.number(memoryCapacity / 1e9)) GB"
        return "\(name) (\(Format.number(peakFLOPs / 1e12)) TFLOP/s, \(Format.number(memoryBandwidth / 1e12)) TB/s, \(memory))"
    }

    /// H100 SXM: 989 TFLOP/s dense BF16 (1979 is the sparsity figure), 3.35 TB/s. Dense FP8:
    /// 1979 TFLOP/s. NVLink 4: 900 GB/s a GPU, both directions together. Memory as the device
    /// reports it (`torch.cuda.get_device_properties(0).total_memory`: 85,520,809,984 bytes, the
    /// 80 GiB "80 GB" part) less a 3 GB runtime reserve. The same GPU as `--hardware dgx-h100`
    /// (a test holds them equal).
    public static let h100SXM = shipped(
        "h100-sxm", peaks: ["bf16": 989e12, "fp16": 989e12, "fp8": 1979e12, "tf32": 494e12, "fp32": 67e12], bandwidth: 3.35e12,
        capacity: 85.52e9, nvlink: 450e9, kernels: .hopper)
    /// H200: the H100's compute and NVLink with 4.8 TB/s of HBM3e; 141 GB as sold, 150.1e9
    /// bytes as the device reports it, less a 3 GB runtime reserve.
    public static let h200 = shipped(
        "h200", peaks: h100SXM.peaks, bandwidth: 4.8e12, capacity: 150.1e9, nvlink: 450e9, kernels: .hopper)
    /// A100 SXM 80 GB: 312 TFLOP/s dense BF16, 2.039 TB/s; NVLink 3: 600 GB/s a GPU, both
    /// directions together; 85,899,345,920 bytes (80 GiB) as the device reports it, less 3 GB.
    public static let a100SXM = shipped(
        "a100-sxm", peaks: ["bf16": 312e12, "fp16": 312e12, "tf32": 156e12, "fp32": 19.5e12], bandwidth: 2.039e12, capacity: 85.9e9,
        nvlink: 300e9, kernels: .ampere)

    /// B200: 2,250 TFLOP/s dense BF16 (4,500 FP8), 8 TB/s; NVLink 5: 1.8 TB/s a GPU, both
    /// directions together; 183,359 MiB as nvidia-smi reports it, less 3 GB.
    public static let b200 = shipped(
        "b200", peaks: ["bf16": 2250e12, "fp16": 2250e12, "fp8": 4500e12, "tf32": 1100e12, "fp32": 80e12], bandwidth: 8e12,
        capacity: 192.27e9, nvlink: 900e9, kernels: .blackwell)

    /// A built-in GPU as its shipped hardware file describes it: dense peaks by data type (bf16
    /// the default, fp8 where it has FP8 tensor cores), memory as the device reports it less a
    /// 3 GB runtime reserve.
    static func shipped(
        _ name: String, peaks: [String: Double], bandwidth: Double, capacity: Double, nvlink: Double, kernels: KernelModel
    ) -> GPUSpec {
        var gpu = GPUSpec(
            name: name, peakFLOPs: peaks["bf16"]!, memoryBandwidth: bandwidth, memoryCapacity: capacity, fp8PeakFLOPs: peaks["fp8"],
            nvlinkBandwidth: nvlink)
        gpu.peaks = peaks
        gpu.kernels = kernels
        gpu.runtimeReserve = 3e9
        return gpu
    }

    public static let builtIn: [GPUSpec] = [.h100SXM, .h200, .a100SXM, .b200]

    /// Other names of the built-in GPUs: the shipped hardware files' GPU names.
    public static let aliases: [String: GPUSpec] = ["a100-sxm-80gb": .a100SXM]

    /// InfiniBand per GPU in the GPU's DGX node when the user names none: 8 NICs of 400 Gb/s
    /// for 8 GPUs (200 Gb/s HDR on a DGX A100).
    public var defaultNetworkBandwidth: Double { name == GPUSpec.a100SXM.name ? 25e9 : 50e9 }

    /// A built-in name, or `NAME:peak=TFLOPS,bw=TBPS,mem=GB` to describe another GPU.
    public static func parse(_ text: String) -> GPUSpec? {
        if let known = builtIn.first(where: { $0.name == text }) ?? aliases[text] { return known }
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

/// How one GPU's kernels run, beyond its peaks: what the `calibrated` cost model charges
/// (docs/calibration.md). Every figure is a property of the GPU and its libraries, stated in the
/// hardware file; `textbook` is the plain roofline (every kernel at its peak, nothing fixed).
public struct KernelModel: Hashable, Sendable {
    /// Fraction of the tensor-core peak a large GEMM reaches (nil: the cost model's --efficiency).
    public var gemmEfficiency: Double?
    /// Fraction of the tensor-core peak fused attention (FlashAttention) reaches.
    public var attentionEfficiency: Double?
    /// Fraction of the HBM bandwidth a streaming kernel reaches.
    public var memoryEfficiency: Double
    /// Fixed cost of one kernel: launch and the tail of a kernel too small to fill the GPU.
    public var launchSeconds: Double
    /// Streaming multiprocessors: a GEMM's output tiles run in waves of this many
    /// (wave quantisation); nil: no quantisation.
    public var multiprocessors: Int?
    /// The fewest rows a GEMM tile has: 16 on tensor cores, 1 for a CUDA-core type (fp32), whose
    /// GEMV reads the weights once for a single row (`GPUSpec.running(dtype:)` sets it).
    public var minimumTileRows = 16.0

    public init(
        gemmEfficiency: Double? = nil, attentionEfficiency: Double? = nil, memoryEfficiency: Double = 1, launchSeconds: Double = 0,
        multiprocessors: Int? = nil
    ) {
        self.gemmEfficiency = gemmEfficiency
        self.attentionEfficiency = attentionEfficiency
        self.memoryEfficiency = memoryEfficiency
        self.launchSeconds = launchSeconds
        self.multiprocessors = multiprocessors
    }

    /// The plain roofline: every kernel at its peak, no fixed cost.
    public static let textbook = KernelModel()
    /// H100 and H200 (132 SMs).
    public static let hopper = calibrated(multiprocessors: 132)
    /// A100 (108 SMs).
    public static let ampere = calibrated(multiprocessors: 108)
    /// B200 (148 SMs).
    public static let blackwell = calibrated(multiprocessors: 148)

    /// The shipped GPUs' kernel model (docs/calibration.md's fractions and launch) on `multiprocessors` SMs.
    static func calibrated(multiprocessors: Int) -> KernelModel {
        KernelModel(
            gemmEfficiency: 0.8, attentionEfficiency: 0.6, memoryEfficiency: 0.85, launchSeconds: 3e-6, multiprocessors: multiprocessors)
    }

    /// Rows of a GEMM's thin side at which it reaches half its large-GEMM efficiency: a kernel's
    /// fixed work per tile (prologue, pipeline fill) against its rows. With the launch and the
    /// waves, the model is within 0.8-1.1 of the OpenXLA table's measured H100 GEMMs
    /// (docs/calibration.md), which reach 33% of peak at 256 rows and 79% at 4,096.
    public static let halfEfficiencyRows = 128.0
    /// The depth of k a tile's epilogue (writing its outputs) costs as much as: a GEMM part of
    /// depth k runs at `k / (k + 64)` of its efficiency (with the launch and waves, 4096 x 256 x
    /// 4096 comes to 0.8 of the 392 TFLOP/s OpenXLA measured).
    public static let epilogueDepth = 64.0

    /// Time of a GEMM of `2mkn` FLOPs moving `bytes`, at `peak` with large-GEMM efficiency
    /// `efficiency`:
    /// - the output is cut in tiles of 64 to 256 columns and as many rows as the thin side
    ///   needs (16 to 128, as cuBLAS picks a GEMV-like tile for a decode step's few rows, or
    ///   half that); the tiles run in waves over the SMs, so a GEMM occupies whole waves;
    /// - k may be split in up to 16 parts of at least 512 to fill the SMs, at the price of
    ///   writing and reading each part's fp32 partial sums and a second kernel to add them;
    /// - the efficiency falls with the thin side `t = min(m, n)` (from 128 rows on) as
    ///   `t / (t + 128)` and with the depth as `k / (k + 64)`;
    /// - the shape and split that take least time are taken, each against its bytes at the
    ///   achievable bandwidth; plus the launch.
    public func gemmSeconds(m: Double, k: Double, n: Double, bytes: Double, peak: Double, bandwidth: Double, efficiency: Double)
        -> Double
    {
        gemmTime(m: m, k: k, n: n, bytes: bytes, peak: peak, bandwidth: bandwidth, efficiency: efficiency).seconds
    }

    /// `gemmSeconds`, and whether the bytes (not the FLOPs) set it.
    public func gemmTime(m: Double, k: Double, n: Double, bytes: Double, peak: Double, bandwidth: Double, efficiency: Double)
        -> (seconds: Double, memoryBound: Bool)
    {
        let thin = min(m, n)
        let rows = max(thin, 128)
        let shape = efficiency * rows / (rows + Self.halfEfficiencyRows)
        /// The rate of a part of depth `depth`.
        func rate(_ depth: Double) -> Double { peak * shape * depth / (depth + Self.epilogueDepth) }
        let stream = bandwidth * memoryEfficiency
        guard let sms = multiprocessors.map(Double.init), sms > 0 else {
            let (compute, memory) = (2 * m * k * n / rate(k), bytes / stream)
            return (launchSeconds + max(compute, memory), memory >= compute)
        }
        // The tile shape and split of k that take least, as a library's heuristics pick; a
        // tensor-core tile has at least 16 rows, a CUDA-core GEMV (fp32) one.
        let tileRows = min(128, max(minimumTileRows, pow(2, log2(max(thin, 1)).rounded(.up))))
        let (tall, wide) = m <= n ? (m, n) : (n, m)
        let maxSplit = max(1, min(16, (k / 512).rounded(.down)))
        var best = (seconds: Double.infinity, memoryBound: false)
        for r in [tileRows, max(minimumTileRows, tileRows / 2)] {
            for w in [64.0, 128, 256] {
                let tiles = (tall / r).rounded(.up) * (wide / w).rounded(.up)
                var split = 1.0
                while split <= maxSplit {
                    let waves = (tiles * split / sms).rounded(.up)
                    let compute = waves * sms * 2 * r * w * (k / split) / rate(k / split)
                    // Split parts write fp32 partials that a second kernel reads and adds.
                    let partials = split > 1 ? 2 * split * m * n * 4 : 0
                    let fixed = split > 1 ? 2 * launchSeconds : launchSeconds
                    let memory = (bytes + partials) / stream
                    if fixed + max(compute, memory) < best.seconds { best = (fixed + max(compute, memory), memory >= compute) }
                    split += 1
                }
            }
        }
        return best
    }

    /// A kernel bound by memory traffic.
    public func streamSeconds(bytes: Double, bandwidth: Double) -> Double {
        launchSeconds + bytes / (bandwidth * memoryEfficiency)
    }
}

/// Which algorithms collectives run.
public enum CollectiveAlgorithms: String, Hashable, Sendable, CaseIterable {
    /// The textbook alpha-beta ring for every message size and group.
    case ring
    /// As NCCL and the serving runtimes' custom kernels choose by size and topology: inside a
    /// node on NVSwitch the fastest of a ring, a one-shot and a two-shot (direct) all-reduce and
    /// NVLink SHARP (NVLS) where the switch has it; across nodes hierarchical (reduce-scatter
    /// on NVLink, the network over each GPU's shard with every NIC of the node, all-gather on
    /// NVLink), or a flat ring when that is faster.
    case nccl
}

/// The parameters of the `nccl` collective algorithms (the hardware file's `collectives:`).
public struct CollectiveModel: Hashable, Sendable {
    /// Fixed cost of one collective kernel or transfer (launch and synchronisation).
    public var launchSeconds: Double
    /// Latency of one step inside a node (NVLink) and across nodes (the network).
    public var nvlinkHopSeconds: Double
    public var networkHopSeconds: Double
    /// Fraction of the NVLink and the NIC bandwidth a large message reaches.
    public var nvlinkEfficiency: Double
    public var networkEfficiency: Double
    /// NVLink SHARP's all-reduce bandwidth as a fraction of NVLink's; nil without NVLS.
    public var nvlsEfficiency: Double?
    /// Whether a node's GPUs are all one hop apart (NVSwitch): direct algorithms are possible.
    public var nvswitch: Bool

    public init(
        launchSeconds: Double = 5e-6, nvlinkHopSeconds: Double = 0.6e-6, networkHopSeconds: Double = 4e-6,
        nvlinkEfficiency: Double = 0.8, networkEfficiency: Double = 0.9, nvlsEfficiency: Double? = nil, nvswitch: Bool = true
    ) {
        self.launchSeconds = launchSeconds
        self.nvlinkHopSeconds = nvlinkHopSeconds
        self.networkHopSeconds = networkHopSeconds
        self.nvlinkEfficiency = nvlinkEfficiency
        self.networkEfficiency = networkEfficiency
        self.nvlsEfficiency = nvlsEfficiency
        self.nvswitch = nvswitch
    }

    /// DGX H100 / H200 / B200: NVSwitch with NVLS.
    public static let dgxHopper = CollectiveModel(nvlsEfficiency: 0.6)
    /// DGX A100: NVSwitch without NVLS.
    public static let dgxAmpere = CollectiveModel()
}

/// How GPUs talk: NVLink inside a node, InfiniBand across nodes; collectives as `algorithms` says.
public struct NetworkModel: Hashable, Sendable, CustomStringConvertible {
    public var gpusPerNode: Int
    /// Per GPU, per direction, bytes/s.
    public var intraNodeBandwidth: Double
    public var interNodeBandwidth: Double
    /// Per-step latency of a collective or transfer, seconds (the ring algorithms').
    public var alpha: Double
    public var algorithms: CollectiveAlgorithms
    /// The `nccl` algorithms' parameters.
    public var collectives: CollectiveModel

    public init(
        gpusPerNode: Int = 8, intraNodeBandwidth: Double = 450e9, interNodeBandwidth: Double = 50e9, alpha: Double = 2e-6,
        algorithms: CollectiveAlgorithms = .ring, collectives: CollectiveModel = .dgxHopper
    ) {
        self.gpusPerNode = gpusPerNode
        self.intraNodeBandwidth = intraNodeBandwidth
        self.interNodeBandwidth = interNodeBandwidth
        self.alpha = alpha
        self.algorithms = algorithms
        self.collectives = collectives
    }

    public var description: String {
        let links =
            "\(gpusPerNode) GPUs per node, NVLink \(Format.number(intraNodeBandwidth / 1e9)) GB/s, InfiniBand \(Format.number(interNodeBandwidth / 1e9)) GB/s per GPU"
        switch algorithms {
        case .ring:
            return links + ", alpha \(Format.number(alpha * 1e6)) us, ring collectives"
        case .nccl:
            let c = collectives
            let nvls = c.nvlsEfficiency.map { ", NVLS at \(Format.percent($0))" } ?? ""
            return links
                + ", NCCL-like collectives (\(c.nvswitch ? "NVSwitch: ring, one-shot, two-shot" : "ring")\(nvls); hierarchical across nodes; launch \(Format.number(c.launchSeconds * 1e6)) us, steps \(Format.number(c.nvlinkHopSeconds * 1e6)) / \(Format.number(c.networkHopSeconds * 1e6)) us, NVLink at \(Format.percent(c.nvlinkEfficiency)), network at \(Format.percent(c.networkEfficiency)))"
        }
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
