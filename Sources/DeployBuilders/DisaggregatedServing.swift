import DeployModel

/// Disaggregated serving: the prompt's prefill on one set of GPUs, the first decode step after
/// it on another, and between them the prefill's keys and values, layer by layer, moved into the
/// decode GPUs' caches (docs/strategies.md).
extension DeploymentBuilder {
    /// The strategy keys a side's refusal is reported under, prefixed with the side.
    static let sideKeys: Set<String> = ["tp", "pp", "dp", "cp", "ep", "sp", "order"]

    /// Builds `deployment`'s prefill (its own degrees, GPUs `0 ..< n`) and the decode step of
    /// `side`'s degrees (GPUs `n ..< n + m`), attending to the prompt and the token after it
    /// (`context` = `seq` + 1). Each node is named, labelled and its logical tensor prefixed with
    /// its side (`prefill.`, `decode.`); the weights are the model's, shared. Every K/V cache node
    /// of the decode side is replaced by the keys (rotated) or values the prefill computed for
    /// that layer, cut to the decode GPU's part (a `split` on the prefill GPU), sent by a
    /// `send_recv`, and joined (a `concat` on the decode GPU) where the decode GPU holds more K/V
    /// heads than a prefill GPU.
    func disaggregated(_ deployment: Deployment, _ side: DecodeDegrees) throws(SpecError) -> OperatorGraph {
        guard case .tensorPipeline = deployment.strategy else {
            throw SpecError(key: "kind", "disaggregated serving is built for tensor x pipeline parallel sides")
        }
        guard case .prefill = deployment.phase else {
            throw SpecError(key: "phase", "a disaggregated deployment runs a prefill and then a decode step; give no phase")
        }
        guard let prompt = deployment.model.seq.intValue, deployment.model.batch.intValue != nil else {
            throw SpecError(
                key: "seq", "must be an integer, as must the batch, for disaggregated serving: the caches moved are sized by them")
        }
        guard deployment.contextParallel == 1 else {
            throw SpecError(key: "prefill.cp", "is not built for the prefill of a disaggregated deployment: its keys are sequence shards")
        }
        guard deployment.microBatches == 1 else {
            throw SpecError(key: "micro_batches", "split one side's batch; a disaggregated deployment is built with one batch")
        }
        var prefill = deployment
        prefill.disaggregatedDecode = nil
        var decode = prefill
        decode.strategy = .tensorPipeline(tp: side.tp, pp: side.pp)
        (decode.dataParallel, decode.expertParallel, decode.rankOrder) = (side.dp, side.ep, side.order)
        (decode.sequenceParallel, decode.contextParallel, decode.stageLayers) = (false, 1, side.stageLayers)
        decode.phase = .decode(context: Dim(prompt + 1))
        func built(_ d: Deployment, _ name: String) throws(SpecError) -> OperatorGraph {
            do {
                return try build(d)
            } catch {
                throw SpecError(key: Self.sideKeys.contains(error.key) ? "\(name).\(error.key)" : error.key, "(\(name)) \(error.reason)")
            }
        }
        let first = try built(prefill, "prefill")
        let second = try built(decode, "decode")
        let n = first.gpus ?? prefill.replicaGPUs * prefill.dataParallel
        let m = second.gpus ?? decode.replicaGPUs * decode.dataParallel
        let (total, overflow) = n.addingReportingOverflow(m)
        guard !overflow, total <= GPUList.maximum else {
            throw SpecError(key: "decode", "\(n) prefill and \(m) decode GPUs pass the maximum of \(GPUList.maximum)")
        }
        var attributes = first.attributes
        for key in ["strategy", "tp", "pp", "dp", "ep", "sp", "cp", "order"] { attributes[key] = nil }
        attributes["phase"] = "disaggregated"
        attributes["context"] = String(prompt + 1)
        attributes["strategy"] = "disaggregated"
        attributes["prefill_gpus"] = GPUList.compact(Array(0..<n))
        attributes["decode_gpus"] = GPUList.compact(Array(n..<total))
        for (prefix, graph) in [("prefill_", first), ("decode_", second)] {
            for key in ["strategy", "tp", "pp", "dp", "ep", "sp", "cp", "order"] {
                if let value = graph.attributes[key] { attributes[prefix + key] = value }
            }
        }
        var graph = OperatorGraph(name: deployment.name, gpus: total, attributes: attributes)
        graph.reserveCapacity(nodes: first.nodes.count + second.nodes.count * 2, edges: first.edges.count + second.edges.count * 2)
        for node in first.nodes { _ = graph.add(Self.onSide(node, "prefill", shift: 0)) }
        for edge in first.edges { graph.connect(edge.from, edge.to, operand: edge.operand) }
        // The decode side, its caches replaced by what the prefill sends.
        let sources = Self.prefillSources(first, rope: deployment.model.rope != nil)
        var splits: [SplitKey: Int] = [:]
        var index = [Int](repeating: -1, count: second.nodes.count)
        var transferred: [Int: Int] = [:]
        for (v, node) in second.nodes.enumerated() {
            guard node.op == .kvCache else {
                index[v] = graph.add(Self.onSide(node, "decode", shift: n))
                continue
            }
            transferred[v] = try Self.transfer(node, into: &graph, from: sources, shift: n, splits: &splits)
        }
        for edge in second.edges {
            let from = transferred[edge.from] ?? index[edge.from]
            graph.connect(from, index[edge.to], operand: edge.operand)
        }
        return graph
    }

    /// `node` renamed, relabelled and its logical tensor prefixed for its side; its GPUs shifted.
    static func onSide(_ node: OperatorNode, _ side: String, shift: Int) -> OperatorNode {
        var node = shifting(node, by: shift)
        node.name = "\(side)." + node.name
        node.label = node.label.map { "\(side) " + $0 }
        if let logical = node.attributes["logical"] { node.attributes["logical"] = "\(side).\(logical)" }
        if node.op == .input || node.op == .output { node.attributes["phase"] = side }
        return node
    }

    /// The prefill's keys (after RoPE) and values of each layer, by logical tensor (`L3.k_rope`,
    /// `L3.v`): each holder's index and place.
    static func prefillSources(_ graph: OperatorGraph, rope: Bool) -> [String: [(node: Int, place: Placement)]] {
        var sources: [String: [(node: Int, place: Placement)]] = [:]
        for (v, node) in graph.nodes.enumerated() where !node.op.isCommunication {
            guard let logical = node.attributes["logical"], logical.hasPrefix("L"),
                logical.hasSuffix(rope ? ".k_rope" : ".k") || logical.hasSuffix(".v"),
                let place = node.attributes["place"].flatMap(Placement.parse)
            else { continue }
            sources[logical, default: []].append((v, place))
        }
        return sources
    }

    /// The decode cache node `cache` made of the prefill's part of the same layer's keys or
    /// values: returns the node (in `graph`) that stands for it.
    ///
    /// Along the batch (dim 0) and the K/V heads (dim 2) the decode GPU's part is either inside
    /// one prefill part (cut out of it by a `split` on the prefill GPU) or made of several (each
    /// sent, then joined by a `concat` on the decode GPU, heads first, then the batch).
    static func transfer(
        _ cache: OperatorNode, into graph: inout OperatorGraph, from sources: [String: [(node: Int, place: Placement)]], shift: Int,
        splits: inout [SplitKey: Int]
    ) throws(SpecError) -> Int {
        guard let name = cache.attributes["cache"], let gpu = cache.gpu, let place = cache.attributes["place"].flatMap(Placement.parse),
            let dot = name.firstIndex(of: ".")
        else {
            throw SpecError(key: "decode", "cache \(cache.name) states no layer, GPU or place to fill from the prefill")
        }
        let layer = name[..<dot]
        let keys = name.hasSuffix("k_cache")
        let wanted = keys ? ["\(layer).k_rope", "\(layer).k"] : ["\(layer).v"]
        guard let holders = wanted.lazy.compactMap({ sources[$0] }).first, let sample = holders.first else {
            throw SpecError(key: "decode", "the prefill computes no \(keys ? "keys" : "values") of layer \(layer) to fill \(cache.name)")
        }
        let target = gpu + shift
        let one = Placement.Part(0, of: 1)
        // The prefill parts along each dimension: the decode part is inside one, or spans several.
        func prefillParts(_ dim: Int) -> Int { sample.place.shards[dim]?.parts ?? 1 }
        func cells(_ dim: Int) -> [Int] {
            let (want, p) = (place.shards[dim] ?? one, prefillParts(dim))
            if p <= want.parts, want.parts % p == 0 { return [want.index / (want.parts / p)] }
            guard p % want.parts == 0 else { return [] }
            let k = p / want.parts
            return Array((want.index * k)..<((want.index + 1) * k))
        }
        let (batchCells, headCells) = (cells(0), cells(2))
        guard !batchCells.isEmpty, !headCells.isEmpty else {
            throw SpecError(
                key: "decode",
                "the prefill's parts of layer \(layer)'s keys and values do not divide or fill the decode part \(place) of \(cache.name)")
        }
        var rows: [Int] = []
        for b in batchCells {
            var pieces: [Int] = []
            for h in headCells {
                let holder = holders.filter { ($0.place.shards[0] ?? one).index == b && ($0.place.shards[2] ?? one).index == h }
                    .min { $0.node < $1.node }
                guard let holder else {
                    throw SpecError(
                        key: "decode", "no prefill GPU holds part \(b) of the batch and \(h) of the K/V heads that \(cache.name) needs")
                }
                // The piece this cell gives: the decode part where the prefill's is coarser.
                var piece = holder.place
                piece.copies = nil
                for dim in [0, 2] where prefillParts(dim) <= (place.shards[dim] ?? one).parts {
                    piece.shards[dim] = place.shards[dim]
                }
                pieces.append(try cut(holder, to: piece, graph: &graph, target: target, cache: cache, splits: &splits))
            }
            rows.append(
                pieces.count == 1
                    ? pieces[0]
                    : try join(pieces, dim: 2, graph: &graph, target: target, cache: cache, tag: batchCells.count > 1 ? ".part\(b)" : ""))
        }
        return rows.count == 1 ? rows[0] : try join(rows, dim: 0, graph: &graph, target: target, cache: cache, tag: "")
    }

    /// `pieces` on the decode GPU `target` concatenated along `dim`.
    private static func join(_ pieces: [Int], dim: Int, graph: inout OperatorGraph, target: Int, cache: OperatorNode, tag: String)
        throws(SpecError) -> Int
    {
        var out = graph.nodes[pieces[0]].out
        var total = out[dim]
        for piece in pieces.dropFirst() {
            guard let sum = try? total + graph.nodes[piece].out[dim] else {
                throw SpecError(key: "decode", "the pieces of \(cache.name) do not add up along dim \(dim)")
            }
            total = sum
        }
        out[dim] = total
        let what = cache.attributes["cache"]?.hasSuffix("k_cache") == true ? "K" : "V"
        let joined = graph.add(
            OperatorNode(
                name: "decode.\(shiftingGPUs(in: cache.name, by: target - (cache.gpu ?? target), pattern: .names)).dim\(dim)\(tag)",
                op: .concat,
                gpu: target, out: out, layer: cache.layer, block: "kv_transfer",
                label:
                    "decode L\(cache.layer ?? 0) \(what) cache: \(pieces.count) prefill parts along dim \(dim) · GPU \(target)\nout \(out)",
                attributes: NodeAttributes(pairs: [("dim", String(dim))])))
        for (i, piece) in pieces.enumerated() { graph.connect(piece, joined, operand: i) }
        return joined
    }

    /// A split already made on a prefill GPU: its input and the part it keeps.
    struct SplitKey: Hashable {
        var input: Int
        var dim: Int
        var place: Placement
    }

    /// The prefill holder's tensor cut to the part `place` (a split per dimension it holds more
    /// of, on the prefill GPU, each made once however many decode GPUs read it), sent to
    /// `target`. The splits are parts of tensors of their own (`<logical>.to_decode.dim<d>`).
    private static func cut(
        _ holder: (node: Int, place: Placement), to place: Placement, graph: inout OperatorGraph, target: Int, cache: OperatorNode,
        splits: inout [SplitKey: Int]
    ) throws(SpecError) -> Int {
        var current = holder.node
        var held = holder.place
        held.copies = nil
        let source = graph.nodes[holder.node]
        guard let from = source.gpu else { throw SpecError(key: "decode", "prefill node \(source.name) is on no GPU") }
        var logical = source.attributes["logical"] ?? source.name
        for dim in [0, 2] {
            let have = held.shards[dim] ?? .init(0, of: 1)
            let want = place.shards[dim] ?? .init(0, of: 1)
            guard want.parts > have.parts else { continue }
            let parts = want.parts / have.parts
            let index = want.index % parts
            var out = graph.nodes[current].out
            out[dim] = try! out[dim].divided(by: parts)
            held.shards[dim] = want
            logical = (source.attributes["logical"] ?? source.name) + ".to_decode.dim\(dim)"
            let key = SplitKey(input: current, dim: dim, place: held)
            if let made = splits[key] {
                current = made
                continue
            }
            let split = graph.add(
                OperatorNode(
                    name: "\(graph.nodes[current].name).part\(index)_of\(parts)", op: .split, gpu: from, out: out, layer: source.layer,
                    block: "kv_transfer",
                    label:
                        "prefill L\(source.layer ?? 0) part \(index + 1) of \(parts) along dim \(dim), for the decode cache · GPU \(from)\nout \(out)",
                    attributes: NodeAttributes(pairs: [
                        ("dim", String(dim)), ("parts", String(parts)), ("index", String(index)), ("logical", logical),
                        ("place", held.description),
                    ])))
            graph.connect(current, split)
            splits[key] = split
            current = split
        }
        let out = graph.nodes[current].out
        let what = cache.attributes["cache"]?.hasSuffix("k_cache") == true ? "K" : "V"
        let send = graph.add(
            OperatorNode(
                name: "\(source.name).kv_to_gpu\(target)", op: .sendRecv, group: [from, target], out: out, layer: source.layer,
                block: "kv_transfer",
                label: "L\(source.layer ?? 0) \(what) cache to decode\nsend/recv · GPU \(from) → \(target)\n\(out)",
                attributes: NodeAttributes(pairs: [("logical", logical), ("place", held.description)])))
        graph.connect(current, send)
        return send
    }
}
