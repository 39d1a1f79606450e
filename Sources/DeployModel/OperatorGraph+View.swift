extension OperatorGraph {
    /// The graph attribute naming the GPUs a partial view must cover (`gpu-coverage`).
    public static let coversAttribute = "covers"

    /// A self-contained view of part of the graph: the selected nodes, an `input` node for each
    /// tensor that enters the selection (on the GPU that receives it), and an `output` node for
    /// each tensor that leaves it. The result is a DAG that checks on its own.
    public func view(named viewName: String, description: String, selecting include: (OperatorNode) -> Bool) -> OperatorGraph {
        var selected = [Int](repeating: -1, count: nodes.count)
        var result = OperatorGraph(name: viewName, gpus: gpus, attributes: attributes)
        result.attributes["view"] = description
        for (i, node) in nodes.enumerated() where include(node) {
            selected[i] = result.add(node)
        }
        var boundaryInputs: [BoundaryKey: Int] = [:]
        var boundaryOutputs: [BoundaryKey: Int] = [:]
        for edge in edges {
            let (u, v) = (edge.from, edge.to)
            switch (selected[u] >= 0, selected[v] >= 0) {
            case (true, true):
                result.connect(selected[u], selected[v], operand: edge.operand)
            case (false, true):
                let gpu = Self.enteringGPU(producer: nodes[u], consumer: nodes[v])
                let key = BoundaryKey(node: u, gpu: gpu)
                let input =
                    boundaryInputs[key]
                    ?? {
                        let source = nodes[u]
                        let index = result.add(
                            OperatorNode(
                                name: "in_\(source.name)_gpu\(gpu)", op: .input, gpu: gpu, out: source.out,
                                layer: nodes[v].layer, block: nodes[v].block,
                                label: "from \(source.name)", attributes: Self.placement(of: source)))
                        boundaryInputs[key] = index
                        return index
                    }()
                result.connect(input, selected[v], operand: edge.operand)
            case (true, false):
                let gpu = Self.leavingGPU(producer: nodes[u], consumer: nodes[v])
                let key = BoundaryKey(node: u, gpu: gpu)
                if boundaryOutputs[key] == nil {
                    let source = nodes[u]
                    let index = result.add(
                        OperatorNode(
                            name: "out_\(source.name)_gpu\(gpu)", op: .output, gpu: gpu, out: source.out,
                            layer: source.layer, block: source.block, label: "to \(nodes[v].name)",
                            attributes: Self.placement(of: source)))
                    boundaryOutputs[key] = index
                    result.connect(selected[u], index)
                }
            case (false, false):
                break
            }
        }
        // The GPUs whose compute the view selects (not those that only hold a boundary tensor, an
        // input, an output or a K/V cache: gpu-coverage does not count them as compute).
        let covered = Set(
            nodes.indices.filter { selected[$0] >= 0 && ![.input, .output, .kvCache].contains(nodes[$0].op) }.compactMap { nodes[$0].gpu })
        // `none`: a view of communication alone (a pipeline's send) covers no GPU's compute.
        result.attributes[Self.coversAttribute] = covered.isEmpty ? "none" : GPUList.compact(Array(covered))
        return result
    }

    /// The GPU that receives a tensor entering the view: the consumer's own, or for a collective
    /// consumer the producer's (a member of its group), or a GPU both collectives span.
    private static func enteringGPU(producer: OperatorNode, consumer: OperatorNode) -> Int {
        if let gpu = consumer.gpu { return gpu }
        if let gpu = producer.gpu { return gpu }
        if producer.op == .sendRecv, let destination = producer.group.last { return destination }
        return consumer.group.first { producer.group.contains($0) } ?? consumer.group.first ?? 0
    }

    /// The GPU holding a tensor that leaves the view: the producer's own, or for a collective
    /// producer the consumer's, or (for a send_recv) its destination.
    private static func leavingGPU(producer: OperatorNode, consumer: OperatorNode) -> Int {
        if let gpu = producer.gpu { return gpu }
        if producer.op == .sendRecv, let destination = producer.group.last { return destination }
        if let gpu = consumer.gpu, producer.group.contains(gpu) { return gpu }
        return producer.group.first { consumer.group.contains($0) } ?? producer.group.first ?? 0
    }

    /// A boundary node holds its source's tensor: the same logical tensor and part.
    private static func placement(of source: OperatorNode) -> [String: String] {
        source.attributes.dictionary.filter { $0.key == "logical" || $0.key == "place" }
    }

    private struct BoundaryKey: Hashable {
        var node: Int
        var gpu: Int
    }
}
