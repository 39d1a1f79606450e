import DOTFormat
import DeployModel

/// Placements a hand-written file leaves out, inferred from shapes, GPUs and the model header
/// (docs/placement.md, "Files without placements"): a source without `place` holds the whole
/// tensor (or, where its shape is a fraction of the header's, one part of it); a matmul's
/// weight without `weight_place` is split along the letters it shares with its activation as
/// the activation is, and along its own output letters among the GPUs that hold the same weight.
extension Context {
    /// A matmul's place among the nodes that hold parts of the same weight: `count` GPUs, this
    /// node the `position`-th of them in GPU order.
    struct WeightSlot: Sendable {
        var position: Int
        var count: Int
        /// The nodes of the group, in GPU order.
        var members: [Int]
        /// Whether a collective of the layer joins the group's work (else they are replicas).
        var joined = true
    }

    /// After the first pass: a group's members whose activations are different parts along
    /// letters the weight lacks (batch or tokens) hold copies of the weight's parts; each
    /// member's slot becomes its place among those with its activation's part.
    mutating func refineWeightSlots() {
        guard let activations = weightActivations else { return }
        var refined: [Int: WeightSlot] = [:]
        for (v, slot) in weightSlots where refined[v] == nil {
            guard let eq = graph.nodes[v].attributes["eq"], let einsum = try? memo.einsum(eq).get() else {
                refined[v] = slot
                continue
            }
            func key(_ u: Int) -> Placement? {
                guard let a = activations[u] else { return nil }
                var own = Placement()
                for (j, c) in einsum.lhs.enumerated() where !einsum.rhs.contains(c) { own.shards[j] = a.shards[j] }
                return own
            }
            var classes: [Placement?: [Int]] = [:]
            for u in slot.members { classes[key(u), default: []].append(u) }
            for members in classes.values {
                for (position, u) in members.enumerated() {
                    refined[u] = WeightSlot(position: position, count: members.count, members: members, joined: slot.joined)
                }
            }
        }
        weightSlots = refined
    }

    /// The node's name with its GPU's number taken out (`fc1_1` on GPU 1 is `fc1_#`,
    /// `L0.q.gpu3` on GPU 3 is `L0.q.#`): nodes on different GPUs whose names differ only there
    /// hold parts of one tensor. Nil where the name does not contain the GPU's number.
    static func nameWithoutGPU(_ name: String, gpu: Int) -> String? {
        guard var stripped = lastGPUMention(name, gpu: gpu, anyWord: true) else { return nil }
        // Further mentions named as devices (`in_x.gpu0_gpu0`) go too.
        while let further = lastGPUMention(stripped, gpu: gpu, anyWord: false) { stripped = further }
        return stripped
    }

    /// `name` with the last run of digits that is `gpu` replaced by `#` (with a device word
    /// before it); only one after a device word (gpu, rank, dev, device, cuda) unless `anyWord`.
    private static func lastGPUMention(_ name: String, gpu: Int, anyWord: Bool) -> String? {
        let bytes = Array(name.utf8)
        let target = Array(String(gpu).utf8)
        var end = bytes.count
        while end > 0 {
            // The last run of digits ending at or before `end`.
            var e = end
            while e > 0 && !(bytes[e - 1] >= 0x30 && bytes[e - 1] <= 0x39) { e -= 1 }
            guard e > 0 else { return nil }
            var s = e
            while s > 0 && bytes[s - 1] >= 0x30 && bytes[s - 1] <= 0x39 { s -= 1 }
            if Array(bytes[s..<e]) == target {
                // Also the word naming a device just before it: gpu3, rank3, dev3, g3, r3.
                var w = s
                while w > 0 && ((bytes[w - 1] | 0x20) >= 0x61 && (bytes[w - 1] | 0x20) <= 0x7A) { w -= 1 }
                let word = String(decoding: bytes[w..<s], as: UTF8.self).lowercased()
                let device = ["gpu", "rank", "dev", "device", "cuda"].contains(word)
                if anyWord || device {
                    let from = device || ["g", "r", "d"].contains(word) ? w : s
                    return String(decoding: bytes[..<from], as: UTF8.self) + "#" + String(decoding: bytes[e...], as: UTF8.self)
                }
            }
            end = s
        }
        return nil
    }

    /// For each matmul with a `weight` and no `weight_place`: the GPUs that hold the same weight.
    /// Same weight: the same `weight_logical` where stated, else the same layer, equation,
    /// weight shape and name but for the GPU's number.
    func findWeightSlots() -> [Int: WeightSlot] {
        struct Key: Hashable {
            var name: String
            var layer: Int?
            var eq: String
            var weight: String
        }
        var unassigned: [(gpu: Int, node: Int)] = []
        for (v, node) in graph.nodes.enumerated() where isValid(v) && (node.op == .matmul || node.op == .embedding) {
            guard node.attributes["weight_place"] == nil, node.attributes["weight"] != nil, let gpu = node.gpu else { continue }
            unassigned.append((gpu, v))
        }
        // Ways of telling which nodes hold one weight, the surest first: the stated
        // weight_logical; the name with every number taken out (`q_gpu00`, `g0_q_r0`, `dp1_q0`);
        // with the GPU's number taken out (`w1_0`, `w3_0` apart); without its last word
        // (`q_a`, `q_left`); none (a node renamed by hand), where one a GPU is left.
        let ways: [(OperatorNode, Int) -> String?] = [
            { node, _ in node.attributes["weight_logical"] },
            { node, _ in node.attributes["weight_logical"] == nil ? Self.numbersTakenOut(node.name) : nil },
            { node, gpu in node.attributes["weight_logical"] == nil ? Self.nameWithoutGPU(node.name, gpu: gpu) : nil },
            { node, _ in node.attributes["weight_logical"] == nil ? Self.lastWordTakenOut(node.name) : nil },
            { node, _ in node.attributes["weight_logical"] == nil ? "" : nil },
        ]
        var slots: [Int: WeightSlot] = [:]
        for way in ways where !unassigned.isEmpty {
            var groups: [Key: [(gpu: Int, node: Int)]] = [:]
            for member in unassigned {
                let node = graph.nodes[member.node]
                guard let name = way(node, member.gpu) else { continue }
                let key = Key(name: name, layer: node.layer, eq: node.attributes["eq"] ?? "", weight: node.attributes["weight"] ?? "")
                groups[key, default: []].append(member)
            }
            var taken = Set<Int>()
            for members in groups.values where members.count > 1 {
                // Two on one GPU: not parts of one weight over GPUs, by this way of telling.
                guard Set(members.map(\.gpu)).count == members.count else { continue }
                let sorted = members.sorted { $0.gpu < $1.gpu }
                let nodes = sorted.map(\.node)
                let joined = reachesCollectiveInLayer(nodes[0])
                for (position, member) in sorted.enumerated() {
                    slots[member.node] = WeightSlot(position: position, count: sorted.count, members: nodes, joined: joined)
                    taken.insert(member.node)
                }
            }
            unassigned.removeAll { taken.contains($0.node) }
        }
        return slots
    }

    /// `name` with each run of digits replaced by `#`.
    static func numbersTakenOut(_ name: String) -> String {
        var out = ""
        var inDigits = false
        for c in name {
            if c.isASCII && c.isNumber {
                if !inDigits { out.append("#") }
                inDigits = true
            } else {
                out.append(c)
                inDigits = false
            }
        }
        return out
    }

    /// `name` without what follows its last separator (`q_a` is `q_`), or nil without one.
    static func lastWordTakenOut(_ name: String) -> String? {
        guard let last = name.lastIndex(where: { !($0.isLetter || $0.isNumber) }), last != name.startIndex else { return nil }
        return String(name[...last])
    }

    /// A positive integer graph attribute, or nil.
    func headerInt(_ key: String) -> Int? {
        graph.attributes[key].flatMap { Int($0.trimmingASCIISpaces()) }.flatMap { $0 > 0 ? $0 : nil }
    }

    /// The whole sizes the header's model has (hidden, ffn, heads x head_dim, ...), or nil
    /// where the header does not state the hidden size.
    func headerSizes() -> Set<Int>? {
        let int = headerInt
        guard let hidden = int("hidden") else { return nil }
        var sizes: Set<Int> = [hidden]
        // Weights' sizes only: a token count (batch, seq, context) is no weight's dimension.
        for key in ["ffn", "expert_ffn", "shared_expert_ffn", "experts", "vocab", "heads", "kv_heads", "head_dim", "positions"] {
            if let v = int(key) { sizes.insert(v) }
        }
        // Products of header numbers, which may be anything: those past 64 bits are left out.
        func product(_ a: Int, _ b: Int) -> Int? {
            let (p, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? nil : p
        }
        for key in ["ffn", "expert_ffn", "shared_expert_ffn"] { if let v = int(key), let twice = product(2, v) { sizes.insert(twice) } }
        if let heads = int("heads") {
            let kv = int("kv_heads") ?? heads
            let d = int("head_dim") ?? hidden / heads
            sizes.insert(d)
            for n in [heads, kv] { if let w = product(n, d) { sizes.insert(w) } }
            if let twice = product(2, kv), let all = Optional(heads.addingReportingOverflow(twice)), !all.overflow,
                let w = product(all.partialValue, d)
            {
                sizes.insert(w)
            }
        }
        return sizes
    }

    /// Sources that may be parts or copies of one tensor: the same shape, and names the same
    /// but for their numbers (`x0`, `x1`; `dp0.x.gpu0`, `dp1.x.gpu3`; not `k_cache`, `v_cache`).
    struct SourceKey: Hashable {
        var shape: String
        var skeleton: String
        var layer: Int?
    }

    func sourceKey(_ v: Int) -> SourceKey {
        let node = graph.nodes[v]
        // The layer too: one layer's K/V cache is not a part of another's.
        return SourceKey(
            shape: node.out.description, skeleton: node.op.rawValue + "|" + Self.numbersTakenOut(node.name),
            layer: node.layer)
    }

    /// A source's placement where it states none.
    /// The sources that may be parts of one tensor (`SourceKey`), in GPU order, with each one's
    /// rank among them and its group (names equal but for the GPU's number), worked out once.
    struct Peers {
        var members: [Int]
        var rank: [Int: Int] = [:]
        var group: [Int: Int] = [:]
        var groups = 0
    }

    func peers(_ members: [Int]) -> Peers {
        var peers = Peers(members: members)
        var names: [String: Int] = [:]
        for (rank, u) in members.enumerated() {
            peers.rank[u] = rank
            let node = graph.nodes[u]
            let name = node.gpu.flatMap { Self.nameWithoutGPU(node.name, gpu: $0) } ?? node.name
            if let g = names[name] {
                peers.group[u] = g
            } else {
                peers.group[u] = names.count
                names[name] = names.count
            }
        }
        peers.groups = names.count
        return peers
    }

    func inferredSourcePlacement(_ v: Int, sources: [SourceKey: Peers]) -> Placement {
        let node = graph.nodes[v]
        let a = graph.attributes
        let int = headerInt
        // Symbolic dimensions (batch B) are whole; the concrete ones are compared.
        let dims = node.out.dims.map { $0.intValue.map(Int.init) ?? 0 }
        var whole: [Int?]
        var tokens: Placement.Part?
        switch node.op {
        case .kvCache:
            // `range` a:b of the cache's tokens: part a / (b - a) along the sequence.
            // Its heads: a part of the header's K/V heads where the shape holds fewer.
            let heads = int("kv_heads") ?? int("heads")
            let d = int("head_dim") ?? int("hidden").flatMap { h in int("heads").map { h / $0 } }
            whole = [int("batch"), int("context").map { $0 - 1 }, heads, d]
            if let range = node.attributes["range"].flatMap(TokenRange.parse), let context = int("context"), range.start >= 0,
                range.end > range.start, (context - 1) % (range.end - range.start) == 0, range.start % (range.end - range.start) == 0,
                range.end - range.start < context - 1
            {
                let size = range.end - range.start
                tokens = Placement.Part(range.start / size, of: (context - 1) / size)
                whole[1] = size
            }
        case .input:
            let queries = a["phase"] == "decode" || node.attributes["phase"] == "decode" ? 1 : int("seq")
            whole = node.attributes["data"] != nil ? [int("batch"), queries] : [int("batch"), queries, int("hidden")]
        default:
            return .replicate
        }
        guard whole.count == dims.count else { return tokens.map { Placement(shards: [1: $0]) } ?? .replicate }
        // The position of this source among the sources of its shape, in GPU order.
        let known = sources[sourceKey(v)]
        let count = known?.members.count ?? 1
        let rank = known?.rank[v] ?? 0
        var splits: [(dim: Int, parts: Int)] = []
        var total = 1
        for d in 0..<dims.count {
            guard let w = whole[d], dims[d] > 0, w > dims[d], w % dims[d] == 0 else { continue }
            splits.append((d, w / dims[d]))
            let (product, overflow) = total.multipliedReportingOverflow(by: w / dims[d])
            guard !overflow else { return .replicate }
            total = product
        }
        // As many sources of the shape as parts (or copies of each): else a source that is
        // simply smaller (one decode token of a longer prompt) is whole.
        guard !splits.isEmpty, count % total == 0 else { return tokens.map { Placement(shards: [1: $0]) } ?? .replicate }
        // Sources whose names differ only in the GPU's number are one group. Several groups,
        // a multiple of the parts: each group is one part, in the order of their first GPUs
        // (`dp0.x.gpu0`, `dp0.x.gpu2` one replica's batch). Else copies of one part sit on
        // consecutive GPUs (a tensor-parallel group's replicas).
        let groups = known?.groups ?? 1
        var index = groups > 1 && groups % total == 0 ? (known?.group[v] ?? 0) / (groups / total) : rank / (count / total)
        var place = Placement()
        for split in splits.reversed() {
            place.shards[split.dim] = .init(index % split.parts, of: split.parts)
            index /= split.parts
        }
        if let tokens { place.shards[1] = tokens }
        return place
    }

    /// A weight's placement where the matmul states none: along each letter it shares with its
    /// activation, the activation's part; the GPUs holding the same weight that the shared
    /// letters do not tell apart split its own output letters, each by a factor that makes a
    /// whole size of the header's model (where the header states one), the last letter
    /// innermost. What is left over are copies (data-parallel replicas).
    mutating func inferredWeightPlacement(_ v: Int, einsum: Einsum, activation: Placement) -> Placement {
        let node = graph.nodes[v]
        var place = Placement()
        var sharedParts = 1
        for (i, c) in einsum.rhs.enumerated() {
            guard let j = einsum.lhs.firstIndex(of: c), let part = activation.shards[j] else { continue }
            place.shards[i] = part
            let (product, overflow) = sharedParts.multipliedReportingOverflow(by: part.parts)
            guard !overflow else { return place }
            sharedParts = product
        }
        guard weightActivations == nil else {
            // The first pass: the activation is what it learns; the weight's own letters wait.
            weightActivations?[v] = activation
            return place
        }
        guard let slot = weightSlots[v], let text = node.attributes["weight"], let shape = Shape.parseIfValid(text) else { return place }
        var remaining = slot.count % sharedParts == 0 ? slot.count / sharedParts : 1
        guard remaining > 1 else { return place }
        let reduced = reducesLastDimensionSoon(v)
        let splitLater = splitDimensionsSoon(v)
        var splits: [(dim: Int, parts: Int)] = []
        var firstFree = true
        for (i, c) in einsum.rhs.enumerated() where remaining > 1 {
            guard !einsum.lhs.contains(c), einsum.result.contains(c), i < shape.rank, let local = shape.dims[i].intValue.map(Int.init),
                local > 0
            else { continue }
            defer { firstFree = false }
            // Computed whole and split afterwards on the GPU: whole here.
            if let out = einsum.result.firstIndex(of: c), splitLater.contains(out) { continue }
            var k = remaining
            if let sizes = modelSizes {
                k = 1
                for f in stride(from: remaining, to: 1, by: -1) where remaining % f == 0 {
                    let (whole, overflow) = local.multipliedReportingOverflow(by: f)
                    if !overflow && sizes.contains(whole) {
                        k = f
                        break
                    }
                }
                // A letter already of a whole size stays whole: after the first (a head count
                // may be another's part, 8 query heads of 64 as many as the K/V heads), or
                // where a softmax, norm or top-k soon reduces over it (a router's experts).
                let last = einsum.result.last == c
                // GPUs whose work no collective of the layer joins hold replicas where the
                // letter is of a whole size already (a part would miss its collective: found).
                if sizes.contains(local) && (!firstFree || (last && reduced) || !slot.joined) { k = 1 }
            }
            if k > 1 {
                splits.append((i, k))
                remaining /= k
            }
        }
        let total = splits.reduce(1) { $0 * $1.parts }
        // What no letter takes are copies of each part on consecutive GPUs: K/V heads fewer than
        // the GPUs (GPUs 0 and 1 share K/V head 0). Replicas' copies are apart already (classes).
        var index = (slot.position / remaining) % total
        for split in splits.reversed() {
            place.shards[split.dim] = .init(index % split.parts, of: split.parts)
            index /= split.parts
        }
        return place
    }
}

extension Context {
    /// An embedding table's placement where it states none: its rows split among the GPUs
    /// that hold the same table, where a factor of their count times its rows is the header's
    /// vocabulary.
    func inferredTablePlacement(_ v: Int) -> Placement {
        let node = graph.nodes[v]
        guard let slot = weightSlots[v], slot.count > 1, let text = node.attributes["weight"], let shape = Shape.parseIfValid(text),
            shape.rank == 2, let rows = shape.dims[0].intValue.map(Int.init),
            let vocab = headerInt("vocab")
        else { return .replicate }
        for f in stride(from: slot.count, to: 1, by: -1) where slot.count % f == 0 {
            let (whole, overflow) = rows.multipliedReportingOverflow(by: f)
            if !overflow && whole == vocab {
                // The partial lookups' reduction names the GPUs that hold one copy of the table:
                // the part is the GPU's place among them (tensor-parallel ranks inside
                // context- or data-parallel replicas).
                if let gpu = node.gpu {
                    for e in adjacency.successors(of: v) {
                        let reduce = graph.nodes[Int(e)]
                        guard reduce.op == .allReduce || reduce.op == .reduceScatter, reduce.group.count == f else { continue }
                        if let rank = reduce.group.firstIndex(of: gpu) { return Placement(shards: [0: .init(rank, of: f)]) }
                    }
                }
                // Else copies of each part on consecutive GPUs, as a weight's (inferredWeightPlacement).
                return Placement(shards: [0: .init((slot.position / (slot.count / f)) % f, of: f)])
            }
        }
        return .replicate
    }

    /// The nodes a few steps of elementwise work past `v` on its GPU reach: `visit` is given
    /// each node past those steps, and returns true to stop.
    private func walkSoon(_ v: Int, _ visit: (OperatorNode) -> Bool) {
        var frontier = [v]
        for _ in 0..<3 {
            var next: [Int] = []
            for u in frontier {
                for e in adjacency.successors(of: u) {
                    let w = Int(e)
                    switch graph.nodes[w].op {
                    case .add, .mul, .gelu, .silu, .relu, .sendRecv: next.append(w)
                    default: if visit(graph.nodes[w]) { return }
                    }
                }
            }
            frontier = next
        }
    }

    /// The dimensions along which a split or narrow on this node's GPU cuts its output within a
    /// few steps of elementwise work.
    func splitDimensionsSoon(_ v: Int) -> Set<Int> {
        var dims: Set<Int> = []
        walkSoon(v) { node in
            if node.op == .split || node.op == .narrow, let d = node.attributes["dim"].flatMap({ Int($0.trimmingASCIISpaces()) }) {
                dims.insert(d)
            }
            return false
        }
        return dims
    }

    /// Whether a collective of `v`'s layer (an all-reduce, reduce-scatter, all-gather or
    /// all-to-all) is reachable from `v` without leaving the layer.
    func reachesCollectiveInLayer(_ v: Int) -> Bool {
        let layer = graph.nodes[v].layer
        var seen: Set<Int> = [v]
        var frontier = [v]
        while let u = frontier.popLast() {
            // A layer past any real one's size: taken as joined (one search per weight group).
            guard seen.count < 100_000 else { return true }
            for e in adjacency.successors(of: u) {
                let w = Int(e)
                let node = graph.nodes[w]
                // A collective written without `layer` is in every layer.
                guard node.layer == layer || node.layer == nil, seen.insert(w).inserted else { continue }
                if [.allReduce, .reduceScatter, .allGather, .allToAll].contains(node.op) { return true }
                frontier.append(w)
            }
        }
        return false
    }

    /// Whether a softmax, norm or top-k on this node's GPU reads its output within a few steps
    /// of elementwise work (a router's scores, a vocabulary's logits).
    func reducesLastDimensionSoon(_ v: Int) -> Bool {
        var found = false
        walkSoon(v) { node in
            found = [.softmax, .topk, .layernorm, .rmsnorm].contains(node.op)
            return found
        }
        return found
    }
}

extension Shape {
    /// The shape `text` states, or nil.
    fileprivate static func parseIfValid(_ text: String) -> Shape? { try? Shape.parse(text) }
}
