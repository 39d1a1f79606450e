import ArgumentParser
import DeployAnalysis
import DeploySpecs
import Foundation

/// `--cost` and the hardware it prices on.
struct CostOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "calibrated (default: the GPU's kernel model, docs/calibration.md), roofline (the textbook bound), table:FILE.csv (measured GEMMs, collectives and kernels; the rest calibrated) or matmul-flops:T (2mkn / T TFLOP/s, all else 0)."
    )
    var cost: String = "calibrated"

    @Option(
        name: .long,
        help:
            "Collective algorithms: nccl (by size and topology, hierarchical across nodes; the default but under --cost roofline) or ring (the textbook alpha-beta ring).",
        transform: { text in
            guard let value = CollectiveAlgorithms(rawValue: text) else {
                throw ValidationError("--collectives must be nccl or ring, got '\(text)'")
            }
            return value
        })
    var collectives: CollectiveAlgorithms?

    @Option(
        name: .long,
        help:
            "GPU: h100-sxm (default), h200, a100-sxm, b200, or NAME:peak=TFLOPS,bw=TBPS,mem=GB (priced by the textbook kernel model: every kernel at its peaks, no launch, no reserve; a hardware file describes the rest)."
    )
    var gpu: String?

    @Option(
        name: .long,
        help:
            "A machine described as data: dgx-h100, dgx-h200, dgx-a100-80gb, dgx-b200, or a YAML file (docs/hardware.md): the GPU's peaks per data type, its memory, NVLink, GPUs and NICs per node. The network flags below override its values.",
        completion: .file(extensions: ["yaml", "yml"]))
    var hardware: String?

    @Option(
        name: .long, parsing: .unconditional,
        help:
            "Fraction of the GPU's peak a large matmul reaches (default: the hardware's, 0.8 for the shipped GPUs: measured bf16 GEMMs reach 750-800 of 989 TFLOP/s)."
    )
    var efficiency: Double?

    @Option(
        name: .long, parsing: .unconditional,
        help: "GPUs per node: NVLink inside a node, InfiniBand across (default: the hardware file's, else 8).")
    var gpusPerNode: Int?

    // Spelled as the docs write them; argument-parser's own spelling of the property names
    // (--nvlink-g-bps, --ib-g-bps) stays accepted, for scripts written before.
    @Option(
        name: [.customLong("nvlink-gbps"), .customLong("nvlink-g-bps")], parsing: .unconditional,
        help: "NVLink bandwidth per GPU per direction, GB/s (default: the GPU's, 450 for h100-sxm and h200, 300 for a100-sxm).")
    var nvlinkGBps: Double?

    @Option(
        name: [.customLong("ib-gbps"), .customLong("ib-g-bps")], parsing: .unconditional,
        help:
            "InfiniBand bandwidth per GPU, GB/s (default: the hardware file's NICs shared by its GPUs, else the GPU's DGX node's: 25 for a100-sxm, 50 for the others)."
    )
    var ibGBps: Double?

    @Option(
        name: .long, parsing: .unconditional,
        help: "Latency per collective step or transfer, microseconds (default: the hardware file's, else 2).")
    var alphaUs: Double?

    /// The files the cost model is read from (a hardware file, a measured table), which no
    /// output may replace.
    var inputFiles: [String] {
        var files: [String] = []
        if let hardware, hardware.contains("/") || FileManager.default.fileExists(atPath: hardware) { files.append(hardware) }
        if cost.hasPrefix("table:") { files.append(String(cost.dropFirst("table:".count))) }
        return files
    }

    func validate() throws {
        if hardware != nil && gpu != nil {
            throw ValidationError("--gpu and --hardware both name the GPU; give one (a hardware file holds its GPU)")
        }
        if let gpu, GPUSpec.parse(gpu) == nil {
            throw ValidationError(
                "--gpu must be one of \(GPUSpec.builtIn.map(\.name).joined(separator: ", ")) or NAME:peak=TFLOPS,bw=TBPS,mem=GB; got '\(gpu)'"
            )
        }
        if let efficiency, !(efficiency >= 0.01 && efficiency <= 1) {
            throw ValidationError("--efficiency must be a fraction from 0.01 to 1, got \(efficiency)")
        }
        guard gpusPerNode ?? 1 > 0 else { throw ValidationError("--gpus-per-node must be positive, got \(gpusPerNode!)") }
        guard nvlinkGBps ?? 1 > 0, ibGBps ?? 1 > 0 else { throw ValidationError("--nvlink-gbps and --ib-gbps must be positive") }
        guard alphaUs ?? 0 >= 0 else { throw ValidationError("--alpha-us must not be negative, got \(alphaUs!)") }
    }

    /// The GPU and the network `--hardware` describes, when given.
    func machine() throws -> (gpu: GPUSpec, network: NetworkModel)? {
        guard let hardware else { return nil }
        let file: HardwareDescription
        do {
            file = try HardwareDescription.load(hardware)
        } catch {
            throw ValidationError("--hardware: \(error)")
        }
        var gpu = GPUSpec(
            name: "\(file.gpuName) of \(file.name)", peakFLOPs: file.peakFLOPs["bf16"]!, memoryBandwidth: file.memoryBandwidth,
            memoryCapacity: file.memoryCapacity,
            fp8PeakFLOPs: file.peakFLOPs["fp8"], nvlinkBandwidth: file.nvlinkBandwidth)
        gpu.peaks = file.peakFLOPs
        gpu.runtimeReserve = file.reserve
        gpu.kernels = KernelModel(
            gemmEfficiency: file.efficiency["gemm"], attentionEfficiency: file.efficiency["attention"],
            memoryEfficiency: file.efficiency["hbm"] ?? 1, launchSeconds: file.kernelLaunch, multiprocessors: file.multiprocessors)
        let c = file.collectives
        let base = CollectiveModel()
        let collectives = CollectiveModel(
            launchSeconds: c["launch_us"] ?? base.launchSeconds, nvlinkHopSeconds: c["nvlink_step_us"] ?? base.nvlinkHopSeconds,
            networkHopSeconds: c["network_step_us"] ?? base.networkHopSeconds,
            nvlinkEfficiency: c["nvlink_efficiency"] ?? base.nvlinkEfficiency,
            networkEfficiency: c["network_efficiency"] ?? base.networkEfficiency, nvlsEfficiency: c["nvls_efficiency"],
            nvswitch: file.nvswitch)
        let network = NetworkModel(
            gpusPerNode: file.gpusPerNode, intraNodeBandwidth: file.nvlinkBandwidth, interNodeBandwidth: file.interNodeBandwidthPerGPU,
            alpha: file.latency, collectives: collectives)
        return (gpu, network)
    }

    func options() throws -> AnalysisOptions {
        let machine = try machine()
        let model: CostModel
        do {
            model = try CostModel.parse(cost, gpu: machine?.gpu ?? GPUSpec.parse(gpu ?? "h100-sxm")!, efficiency: efficiency)
        } catch let error as CostModelError {
            throw ValidationError(error.description)
        }
        let base = machine?.network
        let network = NetworkModel(
            gpusPerNode: gpusPerNode ?? base?.gpusPerNode ?? 8,
            intraNodeBandwidth: nvlinkGBps.map { $0 * 1e9 } ?? model.gpu?.nvlinkBandwidth ?? GPUSpec.defaultNVLinkBandwidth,
            interNodeBandwidth: ibGBps.map { $0 * 1e9 } ?? base?.interNodeBandwidth ?? model.gpu?.defaultNetworkBandwidth ?? 50e9,
            alpha: alphaUs.map { $0 * 1e-6 } ?? base?.alpha ?? 2e-6,
            algorithms: collectives ?? (model.name == "roofline" ? .ring : .nccl),
            collectives: base?.collectives ?? (model.gpu?.name == GPUSpec.a100SXM.name ? .dgxAmpere : .dgxHopper))
        return AnalysisOptions(costModel: model, network: network)
    }
}
