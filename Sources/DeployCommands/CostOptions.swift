import ArgumentParser
import DeployAnalysis
import DeploySpecs

/// `--cost` and the hardware it prices on.
struct CostOptions: ParsableArguments {
    @Option(
        name: .long, help: "roofline (default), table:FILE.csv (measured m,k,n,seconds) or matmul-flops:T (2mkn / T TFLOP/s, all else 0).")
    var cost: String = "roofline"

    @Option(name: .long, help: "GPU: h100-sxm (default), h200, a100-sxm, or NAME:peak=TFLOPS,bw=TBPS,mem=GB.")
    var gpu: String?

    @Option(
        name: .long,
        help:
            "A machine described as data: dgx-h100, dgx-h200, dgx-a100-80gb, dgx-b200, or a YAML file (docs/hardware.md): the GPU's peaks per data type, its memory, NVLink, GPUs and NICs per node. The network flags below override its values.",
        completion: .file(extensions: ["yaml", "yml"]))
    var hardware: String?

    @Option(
        name: .long, parsing: .unconditional,
        help: "Fraction of the GPU's peak a large matmul reaches (default 0.8: measured bf16 GEMMs reach 750-800 of 989 TFLOP/s).")
    var efficiency: Double = 0.8

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
        help: "InfiniBand bandwidth per GPU, GB/s (default: the hardware file's NICs shared by its GPUs, else 50).")
    var ibGBps: Double?

    @Option(
        name: .long, parsing: .unconditional,
        help: "Latency per collective step or transfer, microseconds (default: the hardware file's, else 2).")
    var alphaUs: Double?

    func validate() throws {
        if hardware != nil && gpu != nil {
            throw ValidationError("--gpu and --hardware both name the GPU; give one (a hardware file holds its GPU)")
        }
        if let gpu, GPUSpec.parse(gpu) == nil {
            throw ValidationError(
                "--gpu must be one of \(GPUSpec.builtIn.map(\.name).joined(separator: ", ")) or NAME:peak=TFLOPS,bw=TBPS,mem=GB; got '\(gpu)'"
            )
        }
        guard efficiency > 0, efficiency <= 1 else { throw ValidationError("--efficiency must be in (0, 1], got \(efficiency)") }
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
        let network = NetworkModel(
            gpusPerNode: file.gpusPerNode, intraNodeBandwidth: file.nvlinkBandwidth, interNodeBandwidth: file.interNodeBandwidthPerGPU,
            alpha: file.latency)
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
            interNodeBandwidth: ibGBps.map { $0 * 1e9 } ?? base?.interNodeBandwidth ?? 50e9,
            alpha: alphaUs.map { $0 * 1e-6 } ?? base?.alpha ?? 2e-6)
        return AnalysisOptions(costModel: model, network: network)
    }
}
