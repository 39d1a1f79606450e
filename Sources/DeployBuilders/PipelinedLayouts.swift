import DeployModel

/// Pipeline stages for the strategies that place their own GPUs (Helix, the attention pool,
/// attention/MoE separation): the strategy's grid once per stage on GPUs of its own, each stage
/// `layers / pp` consecutive layers, and at each boundary every GPU's activations sent to the GPU
/// in the same place of the next stage's grid.
extension DeploymentBuilder {
    func pipelined(_ deployment: Deployment) throws(SpecError) -> OperatorGraph {
        let stages = deployment.layoutStages
        let layers = deployment.model.layers
        if case .tensorPipeline = deployment.strategy {
            throw SpecError(key: "pp", "of tp_pp is its own pipeline; layout stages are for Helix, the pool and separation")
        }
        guard layers % stages == 0 else {
            throw SpecError(key: "pp", "is \(stages), which does not split the \(layers) layers evenly into pipeline stages")
        }
        guard deployment.microBatches == 1 else {
            throw SpecError(
                key: "micro_batches",
                "with pipeline stages of \(deployment.strategy.attributes["strategy"] ?? "this strategy") are not built")
        }
        var part = deployment
        part.layoutStages = 1
        part.model.layers = layers / stages
        let stage = try build(part)
        let n = stage.gpus ?? deployment.replicaGPUs
        let (total, overflow) = n.multipliedReportingOverflow(by: stages)
        guard !overflow, total <= GPUList.maximum else {
            throw SpecError(key: "pp", "\(stages) stages of \(n) GPUs pass the maximum of \(GPUList.maximum) GPUs")
        }
        var producer = [Int](repeating: -1, count: stage.nodes.count)
        for edge in stage.edges where stage.nodes[edge.to].op == .output { producer[edge.to] = edge.from }
        var graph = OperatorGraph(name: deployment.name, gpus: total, attributes: stage.attributes)
        graph.attributes["layers"] = String(layers)
        graph.attributes["pp"] = String(stages)
        graph.reserveCapacity(nodes: stage.nodes.count * stages + n * stages, edges: stage.edges.count * stages + n * stages)
        // The previous stage's activations on each of its GPUs (by GPU within the grid).
        var handed: [Int: Int] = [:]
        for k in 0..<stages {
            let (shift, layerShift) = (k * n, k * (layers / stages))
            var index = [Int](repeating: -1, count: stage.nodes.count)
            var leaving: [Int: Int] = [:]
            for (v, node) in stage.nodes.enumerated() {
                if k > 0, node.op == .input {
                    guard let gpu = node.gpu, let from = handed[gpu] else {
                        throw SpecError(
                            key: "pp",
                            "cannot chain stages of this strategy: input \(node.name) has no activations from the stage before on its GPU")
                    }
                    index[v] = graph.add(
                        Self.stageTransfer(from: from, in: graph, fromGPU: gpu + shift - n, toGPU: gpu + shift, stage: k, layer: layerShift)
                    )
                    graph.connect(from, index[v])
                    continue
                }
                if k < stages - 1, node.op == .output {
                    if let gpu = node.gpu { leaving[gpu] = v }
                    continue
                }
                index[v] = graph.add(Self.renamed(node, layers: layerShift, gpus: shift))
            }
            for edge in stage.edges where index[edge.to] >= 0 && index[edge.from] >= 0 {
                graph.connect(index[edge.from], index[edge.to], operand: edge.operand)
            }
            handed = leaving.mapValues { index[producer[$0]] }
        }
        return graph
    }

    /// The send of a stage's activations from `fromGPU` to `toGPU`, keeping their place.
    static func stageTransfer(from source: Int, in graph: OperatorGraph, fromGPU: Int, toGPU: Int, stage: Int, layer: Int) -> OperatorNode {
        let node = graph.nodes[source]
        var pairs: [(key: String, value: String)] = []
        if let logical = node.attributes["logical"] { pairs.append(("logical", logical)) }
        if let place = node.attributes["place"] { pairs.append(("place", place)) }
        return OperatorNode(
            name: "L\(layer).pipeline_send.gpu\(fromGPU)_to_gpu\(toGPU)", op: .sendRecv, group: [fromGPU, toGPU], out: node.out,
            layer: layer,
            block: "pipeline", label: "L\(layer) stage \(stage - 1) → \(stage)\nsend/recv · GPU \(fromGPU) → \(toGPU)\n\(node.out)",
            attributes: NodeAttributes(pairs: pairs))
    }

    /// A stage's node: its layer and the layer in its names moved by `layers`, its GPUs by `gpus`.
    static func renamed(_ node: OperatorNode, layers: Int, gpus: Int) -> OperatorNode {
        var node = shifting(node, by: gpus)
        guard layers > 0 else { return node }
        func moved(_ text: String, separator: Character) -> String {
            guard text.first == "L", let end = text.dropFirst().firstIndex(where: { !$0.isASCII || !$0.isNumber }), text[end] == separator,
                let l = Int(text[text.index(after: text.startIndex)..<end])
            else { return text }
            return "L\(l + layers)" + text[end...]
        }
        node.name = moved(node.name, separator: ".")
        node.label = node.label.map { moved($0, separator: " ") }
        node.layer = node.layer.map { $0 + layers }
        for key in ["logical", "weight_logical", "cache"] {
            if let value = node.attributes[key] { node.attributes[key] = moved(value, separator: ".") }
        }
        return node
    }
}
