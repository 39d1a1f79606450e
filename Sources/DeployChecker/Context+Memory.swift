import DeployAnalysis
import DeployModel

extension Context {
    /// The graph attribute naming the GPU the deployment runs on.
    static let gpuTypeAttribute = "gpu_type"

    /// `memory`: when the graph names its GPU type, every GPU's weights plus peak live
    /// activations (along the calibrated model's schedule) fit in that GPU's memory.
    mutating func checkMemory() {
        guard let name = graph.attributes[Self.gpuTypeAttribute] else { return }
        guard let gpu = GPUSpec.parse(name) else {
            report(
                .schema, line: 1,
                "graph attribute 'gpu_type' must name a known GPU (\(GPUSpec.builtIn.map(\.name).joined(separator: ", "))) or NAME:peak=TFLOPS,bw=TBPS,mem=GB; got '\(name)'"
            )
            return
        }
        // Shapes must be sound and concrete for sizes to mean anything.
        guard !findings.contains(where: { $0.severity == .error }), graph.symbols.isEmpty,
            let analysis = try? Analysis(
                graph: graph,
                options: AnalysisOptions(
                    costModel: .calibrated(gpu, efficiency: gpu.kernels.gemmEfficiency ?? 0.8), network: AnalysisOptions.standard.network))
        else { return }
        for m in analysis.memory {
            if let message = m.overCapacityMessage(on: gpu) { report(.memory, line: 1, message) }
        }
    }
}
