/// The model's parameters as the graph holds them: every node with a `weight` (matmuls, norms,
/// embeddings) takes the slice `weight_place` of the logical weight `weight_logical`, and a
/// matmul with `bias` the matching slice of the bias.
extension OperatorGraph {
    /// One slice of a logical weight on one GPU.
    public struct WeightSlice: Hashable, Sendable {
        /// The logical weight (`L0.w.q`), or the node's name when the file gives none.
        public var logical: String
        public var place: String
        /// Elements of this slice, bias included.
        public var elements: Double
        /// Elements of the whole logical weight, bias included; nil when the slice's place is
        /// not readable.
        public var logicalElements: Double?
        /// Whether the file names the logical weight (`weight_logical`).
        public var named: Bool
    }

    /// The weight slice `node` holds, if it has a weight of concrete size.
    public func weightSlice(of node: OperatorNode) -> WeightSlice? {
        guard let text = node.attributes["weight"], let shape = try? Shape.parse(text), let local = shape.elementCountValue else {
            return nil
        }
        let placeText = node.attributes["weight_place"] ?? "R"
        let place = Placement.parse(placeText)
        var elements = local
        var whole: Double? = place.map { p in p.shards.values.reduce(local) { $0 * Double($1.parts) } }
        if node.attributes["bias"] == "true" && (node.op == .layernorm || node.op == .rmsnorm) {
            // A norm's bias is one entry per gain.
            elements += local
            whole = whole.map { $0 * 2 }
        } else if node.attributes["bias"] == "true", let eq = node.attributes["eq"], let einsum = try? Einsum(eq) {
            // The bias spans the weight's dimensions that reach the output.
            var localBias = 1.0
            var wholeBias = 1.0
            for (i, letter) in einsum.rhs.enumerated() where einsum.result.contains(letter) && i < shape.rank {
                let size = Double(shape[i].intValue ?? 0)
                localBias *= size
                wholeBias *= size * Double(place?.shards[i]?.parts ?? 1)
            }
            elements += localBias
            whole = whole.map { $0 + wholeBias }
        }
        let logical = node.attributes["weight_logical"]
        return WeightSlice(
            logical: logical ?? node.name, place: placeText, elements: elements, logicalElements: whole, named: logical != nil)
    }

    /// Each GPU's distinct weight slices: a slice read by several nodes on one GPU (a tied
    /// embedding and LM head, the micro-batches of a pipeline) is held once.
    public func weightSlicesByGPU() -> [Int: [WeightSlice]] {
        var seen: [Int: Set<String>] = [:]
        var result: [Int: [WeightSlice]] = [:]
        for node in nodes {
            guard let gpu = node.gpu, let slice = weightSlice(of: node) else { continue }
            let key = slice.logical + "|" + slice.place
            if seen[gpu, default: []].insert(key).inserted { result[gpu, default: []].append(slice) }
        }
        return result
    }

    /// The parameters of the model the graph computes: every logical weight counted once, whole.
    public struct ParameterCount: Sendable {
        /// Elements of the distinct named logical weights.
        public var total: Double
        public var weights: Int
        /// Nodes whose weight has no `weight_logical`, so it cannot be told apart from another
        /// node's slice of the same weight; not in `total`.
        public var unnamed: Int
    }

    public var parameterCount: ParameterCount {
        var whole: [String: Double] = [:]
        var unnamed = 0
        for node in nodes {
            guard let slice = weightSlice(of: node) else { continue }
            guard slice.named, let elements = slice.logicalElements else {
                unnamed += 1
                continue
            }
            whole[slice.logical] = max(whole[slice.logical] ?? 0, elements)
        }
        return ParameterCount(total: whole.values.reduce(0, +), weights: whole.count, unnamed: unnamed)
    }
}
