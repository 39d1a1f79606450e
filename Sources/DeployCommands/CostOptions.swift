import ArgumentParser
import DeployAnalysis

/// `--cost` and the hardware it prices on.
struct CostOptions: ParsableArguments {
    @Option(
        name: .long, help: "roofline (default), table:FILE.csv (measured m,k,n,seconds) or matmul-flops:T (2mkn / T TFLOP/s, all else 0).")
    var cost: String = "roofline"

    @Option(name: .long, help: "GPU: h100-sxm (default), h200, a100-sxm, or NAME:peak=TFLOPS,bw=TBPS,mem=GB.")
    var gpu: String = "h100-sxm"

    @Option(
        name: .long, parsing: .unconditional,
        help: "Fraction of the GPU's peak a large matmul reaches (default 0.8: measured bf16 GEMMs reach 750-800 of 989 TFLOP/s).")
    var efficiency: Double = 0.8

    @Option(name: .long, parsing: .unconditional, help: "GPUs per node: NVLink inside a node, InfiniBand across (default 8).")
    var gpusPerNode: Int = 8

    // Spelled as the docs write them; argument-parser's own spelling of the property names
    // (--nvlink-g-bps, --ib-g-bps) stays accepted, for scripts written before.
    @Option(
        name: [.customLong("nvlink-gbps"), .customLong("nvlink-g-bps")], parsing: .unconditional,
        help: "NVLink bandwidth per GPU per direction, GB/s (default: the GPU's, 450 for h100-sxm and h200, 300 for a100-sxm).")
    var nvlinkGBps: Double?

    @Option(
        name: [.customLong("ib-gbps"), .customLong("ib-g-bps")], parsing: .unconditional,
        help: "InfiniBand bandwidth per GPU, GB/s (default 50).")
    var ibGBps: Double = 50

    @Option(name: .long, parsing: .unconditional, help: "Latency per collective step or transfer, microseconds (default 2).")
    var alphaUs: Double = 2

    func validate() throws {
        guard GPUSpec.parse(gpu) != nil else {
            throw ValidationError(
                "--gpu must be one of \(GPUSpec.builtIn.map(\.name).joined(separator: ", ")) or NAME:peak=TFLOPS,bw=TBPS,mem=GB; got '\(gpu)'"
            )
        }
        guard efficiency > 0, efficiency <= 1 else { throw ValidationError("--efficiency must be in (0, 1], got \(efficiency)") }
        guard gpusPerNode > 0 else { throw ValidationError("--gpus-per-node must be positive, got \(gpusPerNode)") }
        guard nvlinkGBps ?? 1 > 0, ibGBps > 0 else { throw ValidationError("--nvlink-gbps and --ib-gbps must be positive") }
        guard alphaUs >= 0 else { throw ValidationError("--alpha-us must not be negative, got \(alphaUs)") }
    }

    func options() throws -> AnalysisOptions {
        let model: CostModel
        do {
            model = try CostModel.parse(cost, gpu: GPUSpec.parse(gpu)!, efficiency: efficiency)
        } catch let error as CostModelError {
            throw ValidationError(error.description)
        }
        let network = NetworkModel(
            gpusPerNode: gpusPerNode,
            intraNodeBandwidth: nvlinkGBps.map { $0 * 1e9 } ?? model.gpu?.nvlinkBandwidth ?? GPUSpec.defaultNVLinkBandwidth,
            interNodeBandwidth: ibGBps * 1e9, alpha: alphaUs * 1e-6)
        return AnalysisOptions(costModel: model, network: network)
    }
}
