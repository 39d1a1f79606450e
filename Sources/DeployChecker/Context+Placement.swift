import DOTFormat
import DeployModel

/// Placement propagation (docs/placement.md): every node that states `logical` and `place` has
/// its placement derived from its inputs' and its operator's, and compared with what it states.
extension Context {
    mutating func checkPlacements() {
        weightSlots = findWeightSlots()
        modelSizes = headerSizes()
        if !weightSlots.isEmpty {
            // A first pass learns each weight's activation, whose parts along the letters the
            // weight lacks tell a weight's copies (replicas) from its parts; its findings are
            // the second pass's to report.
            let saved = (findings, omitted)
            weightActivations = [:]
            propagatePlacements()
            (findings, omitted) = saved
            matmulPlacements = [:]
            refineWeightSlots()
            weightActivations = nil
        }
        propagatePlacements()
    }

    private mutating func propagatePlacements() {
        var places = [Placement?](repeating: nil, count: graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() where isValid(i) {
            guard let text = node.attributes["place"] else { continue }
            if let place = memo.placement(text) {
                places[i] = place
            } else {
                report(.schema, node: i, "'place' must be R or terms such as S2:1/4 and P:0/4 separated by commas; got '\(text)'")
            }
        }
        let stated = places
        guard case .acyclic(let order) = adjacency.topologicalOrder() else { return }
        statedPlaces = stated
        // A file without placements (hand-written): sources hold the whole tensor or the part
        // their shape says, weights the part their activation and GPU say (Context+Inference).
        let unplaced = graph.nodes.indices.filter { isValid($0) && places[$0] == nil && [.input, .kvCache].contains(graph.nodes[$0].op) }
        var sources: [SourceKey: [Int]] = [:]
        for i in unplaced { sources[sourceKey(i), default: []].append(i) }
        var peerSets: [SourceKey: Peers] = [:]
        for (key, members) in sources {
            peerSets[key] = peers(members.sorted { (graph.nodes[$0].gpu ?? 0, $0) < (graph.nodes[$1].gpu ?? 0, $1) })
        }
        // Not where a consumer states its place: that starts propagation, as it always has.
        for i in unplaced where !adjacency.successors(of: i).contains(where: { stated[Int($0)] != nil }) {
            places[i] = inferredSourcePlacement(i, sources: peerSets)
        }
        // The first node whose placement no rule derives from known inputs, and how many.
        var underivable: (node: Int, count: Int)?
        termHolders = nil
        // A reduce_scatter's or an all_to_all's output is a different part on each member:
        // `places` holds the whole it is a part of, and this the dimension and the group.
        var perMember: [Int: (dim: Int, group: [Int])] = [:]
        // What node `v` reads over edge `e`: a per-member output as the part its GPU holds.
        func inputPlace(_ e: Int, consumer v: Int) -> Placement? {
            let u = graph.edges[e].from
            guard let base = places[u] else { return nil }
            guard let member = perMember[u] else { return base }
            guard let gpu = graph.nodes[v].gpu, let rank = member.group.firstIndex(of: gpu),
                let part = (base.shards[member.dim] ?? Placement.Part(0, of: 1)).refined(Placement.Part(rank, of: member.group.count))
            else { return nil }
            var place = base
            place.shards[member.dim] = part
            return place
        }
        for v in order where isValid(v) {
            let edges = incoming(v).map { Int($0) }.sorted { (graph.edges[$0].operand ?? 0) < (graph.edges[$1].operand ?? 0) }
            let node = graph.nodes[v]
            // An all_gather of a reduce_scatter's (or all_to_all's) parts along the same
            // dimension over the same GPUs, one edge for all: the whole again (docs/placement.md).
            if node.op == .allGather, edges.count == 1, let u = Optional(graph.edges[edges[0]].from), let member = perMember[u],
                let base = places[u], Set(member.group) == Set(node.group), node.attributes["dim"].flatMap(Int.init) == member.dim
            {
                if let statedPlace = places[v], statedPlace.part != base {
                    report(
                        .commVolume, node: v,
                        "all_gather makes \(base) of \(logical(v)) from \(graph.nodes[u].name)'s parts, but the node states \(statedPlace.part)"
                    )
                    places[v] = nil
                } else {
                    places[v] = places[v] ?? base
                }
                continue
            }
            let inputs = edges.map { inputPlace($0, consumer: v) }
            if places[v] == nil, node.op == .combine, edges.count == 2, let routing = inputs[1] {
                // A combine without a place holds its routing's tokens, whole along the hidden
                // size; a term of a sum where a reduction takes it (experts spread over GPUs, or
                // tensor-parallel): the GPU's place among the reduction's members.
                var place = Placement(shards: routing.shards.filter { $0.key < node.out.rank - 1 })
                if let gpu = node.gpu {
                    for s in adjacency.successors(of: v) {
                        let reduction = graph.nodes[Int(s)]
                        guard reduction.op == .allReduce || reduction.op == .reduceScatter, let rank = reduction.group.firstIndex(of: gpu)
                        else { continue }
                        place.partial = .init(rank, of: reduction.group.count)
                        break
                    }
                }
                places[v] = place
                continue
            }
            if places[v] == nil {
                // No stated place: derived from inputs that all have one, so a hand-written
                // node between placed ones is checked too; otherwise left unknown.
                guard !edges.isEmpty, !graph.nodes[v].op.isSource, inputs.allSatisfy({ $0 != nil }) else { continue }
                let before = findings.count
                let derived = derive(v, edges: edges, inputs: inputs.map { $0!.part }, stated: nil)
                places[v] = findings.count > before ? nil : derived
                // Inference's first pass, its weights whole, fails where a part meets them (a
                // cache's K/V heads); the batch's and tokens' parts it wants go on.
                if weightActivations != nil, findings.count > before, let first = inputs.first ?? nil {
                    places[v] = Placement(shards: first.shards.filter { $0.key < 2 })
                }
                if places[v] != nil, let member = Self.memberDimension(node) { perMember[v] = (member, node.group) }
                // The MoE routing region (dispatch to combine) is a data-dependent permutation
                // that verify checks numerically; any other gap is said once.
                if derived == nil, findings.count == before, node.op != .dispatch, node.op != .combine {
                    underivable = (underivable?.node ?? v, (underivable?.count ?? 0) + 1)
                }
                continue
            }
            guard inputs.allSatisfy({ $0 != nil }) else {
                // Unknown inputs (after an error, or out of a routing region): a collective's or a
                // combine's stated place starts propagation afresh; any other node's is not trusted.
                let node = graph.nodes[v]
                if !(node.op.isCommunication || node.op == .combine) { places[v] = nil }
                continue
            }
            // After an error the stated place is not to be trusted downstream: one finding, no cascade.
            let before = findings.count
            if let member = Self.memberDimension(node) {
                // One `place` cannot say each member's part: the derived whole is carried.
                let derived = derive(v, edges: edges, inputs: inputs.map { $0!.part }, stated: nil)
                places[v] = findings.count > before ? nil : derived
                if places[v] != nil { perMember[v] = (member, node.group) }
                continue
            }
            derive(v, edges: edges, inputs: inputs.map { $0!.part }, stated: places[v]!.part)
            if findings.count > before && weightActivations == nil { places[v] = nil }
        }
        derivedPlaces = places
        if let (v, count) = underivable {
            let node = graph.nodes[v]
            findings.append(
                Finding(
                    .shardCoverage, .note, file: decoded.file, line: decoded.line(ofNode: v), node: node.name,
                    "the placement of \(count == 1 ? "this node" : "\(count) nodes, the first this one,") could not be derived: \(node.op.rawValue) has no placement rule for these inputs or lacks the attributes its rule reads (\(Self.ruleAttributes(node.op))); the placement rules skip what depends on it"
                ))
        }
        checkCoverage(stated)
    }

    /// The attributes the placement rule of `op` reads, for the note on a node it cannot place.
    static func ruleAttributes(_ op: Operator) -> String {
        switch op {
        case .matmul: "eq"
        case .split: "dim, parts, index"
        case .concat, .allGather, .narrow, .reduceScatter: "dim"
        case .allToAll: "split_dim, concat_dim"
        case .attention: "three inputs: Q, K, V by operand"
        default: "its inputs"
        }
    }

    /// The GPUs whose nodes state a term of `key`'s partial sum, gathered over the whole graph
    /// the first time a finding names them (most checks never do).
    private mutating func holdersOfTerms(_ key: TermKey) -> [Int] {
        if termHolders == nil {
            var holders: [TermKey: [Int]] = [:]
            for (v, node) in graph.nodes.enumerated() {
                guard let place = statedPlaces[v], place.partial != nil, let gpu = node.gpu else { continue }
                holders[TermKey(logical: logical(v), shards: Placement(shards: place.shards)), default: []].append(gpu)
            }
            termHolders = holders
        }
        return termHolders?[key] ?? []
    }

    private func logical(_ v: Int) -> String { graph.nodes[v].attributes["logical"] ?? graph.nodes[v].name }

    private func groupText(_ v: Int) -> String {
        let node = graph.nodes[v]
        return node.gpu.map { "GPU \($0)" } ?? "GPUs \(GPUList.compact(node.group))"
    }

    /// The GPUs holding the producers of `edges` (where they are compute nodes).
    /// The dimension along which a collective leaves a different part on each member: a
    /// reduce_scatter's `dim`, an all_to_all's `split_dim`.
    static func memberDimension(_ node: OperatorNode) -> Int? {
        switch node.op {
        case .reduceScatter: node.attributes["dim"].flatMap { Int($0.trimmingASCIISpaces()) }
        case .allToAll: node.attributes["split_dim"].flatMap { Int($0.trimmingASCIISpaces()) }
        default: nil
        }
    }

    private func producerGPUs(_ edges: [Int]) -> [Int] {
        edges.compactMap { graph.nodes[graph.edges[$0].from].gpu }
    }

    /// The placement `v` makes of its inputs, reporting what its operator forbids; compared with
    /// `stated` when the node states one.
    @discardableResult
    private mutating func derive(_ v: Int, edges: [Int], inputs: [Placement], stated: Placement?) -> Placement? {
        let node = graph.nodes[v]
        var expected: Placement?
        switch node.op {
        case .input, .kvCache, .dispatch, .combine:
            return nil
        case .reduceScatter:
            // The sum of the members' terms, of which member r keeps part r along `dim`.
            return deriveReduction(v, edges: edges, inputs: inputs)
        case .allToAll:
            return deriveAllToAll(v, edges: edges, inputs: inputs)
        case .rope:
            guard let input = inputs.first else { return nil }
            // A rotation is linear, so a partial sum may be rotated term by term; but it pairs
            // dimensions i and i + d/2 of each head, which a split head dimension separates.
            if let last = node.out.rank > 0 ? node.out.rank - 1 : nil, let shard = input.shards[last] {
                report(
                    .partialNonlinear, node: v,
                    "rope rotates dimension pairs (i, i + d/2) of each head, but its input holds only part \(shard.index) of \(shard.parts) of the head dimension"
                )
                return nil
            }
            expected = input
        case .mul:
            guard inputs.count == 2 else { return nil }
            if inputs[0].partial != nil && inputs[1].partial != nil {
                report(.partialNonlinear, node: v, "mul of two partial sums: the cross terms are missing; reduce one operand first")
                return nil
            }
            let (a, b) = (inputs[0], inputs[1])
            if Placement(shards: a.shards) != Placement(shards: b.shards) {
                report(.shardCoverage, node: v, "mul of different parts: \(a) ⊙ \(b)")
                return nil
            }
            expected = Placement(shards: a.shards, partial: a.partial ?? b.partial)
        case .attention:
            guard inputs.count == 3 else { return nil }
            let ordered = zip(edges, inputs).sorted { (graph.edges[$0.0].operand ?? 0) < (graph.edges[$1.0].operand ?? 0) }.map(\.1)
            let (q, k, val) = (ordered[0], ordered[1], ordered[2])
            if let partial = [q, k, val].first(where: { $0.partial != nil }) {
                report(
                    .partialNonlinear, node: v,
                    "attention of a partial sum (\(partial)): the softmax inside it is nonlinear; all-reduce the projection first")
                return nil
            }
            if let shard = q.shards[3] ?? k.shards[3] {
                report(
                    .partialNonlinear, node: v,
                    "attention over part \(shard.index) of \(shard.parts) of the head dimension gives partial scores, which a fused softmax cannot sum; split heads, not head_dim (or use materialized attention with an all-reduce of the scores)"
                )
                return nil
            }
            if k != val || k.shards[1] != nil {
                report(
                    .shardCoverage, node: v,
                    "attention needs every key and value of its heads: K is \(k), V is \(val); gather the sequence first")
                return nil
            }
            if let kv = k.shards[2] {
                guard let qs = q.shards[2], qs.parts % kv.parts == 0, qs.index / (qs.parts / kv.parts) == kv.index else {
                    report(
                        .shardCoverage, node: v,
                        "attention's query heads (\(q)) are not the ones K/V heads part \(kv.index) of \(kv.parts) serve")
                    return nil
                }
            }
            expected = Placement(shards: q.shards)
        case .embedding:
            guard let input = inputs.first else { return nil }
            guard let w = node.attributes["weight_place"].map({ memo.placement($0) }) ?? inferredTablePlacement(v) else { return nil }
            if node.attributes["weight_place"] == nil { inferredWeights[v] = w }
            if w.shards.keys.contains(where: { $0 != 0 }) {
                report(.shardCoverage, node: v, "an embedding's table may be split by rows (S0) only, got \(w)")
                return nil
            }
            expected = Placement(shards: input.shards, partial: w.shards[0])
        case .narrow:
            guard let input = inputs.first, let dim = node.attributes["dim"].flatMap(Int.init) else { return nil }
            expected = input
            if let part = input.shards[dim] {
                // The first part's opening entries and the last part's closing ones are the
                // whole tensor's own (a context-parallel prompt's last token, on its last shard).
                let fromEnd = (node.attributes["start"].flatMap(Int.init) ?? 0) < 0
                guard fromEnd ? part.index == part.parts - 1 : part.index == 0 else {
                    report(
                        .shardCoverage, node: v,
                        "narrow along dim \(dim) of part \(part.index) of \(part.parts) of a tensor split along it (\(input)): only the first part's start and the last part's end are the whole tensor's; gather it first"
                    )
                    return nil
                }
                expected = input.gathering(dim)
            } else if stated == nil, let start = node.attributes["start"].flatMap({ Int($0.trimmingASCIISpaces()) }), start >= 0,
                dim >= 0, dim < node.out.rank, let length = node.out.dims[dim].intValue.map(Int.init), length > 0,
                let producer = edges.first.map({ graph.edges[$0].from }), dim < graph.nodes[producer].out.rank,
                let size = graph.nodes[producer].out.dims[dim].intValue.map(Int.init), length > 1, length < size, size % length == 0,
                start % length == 0, start <= size - length,
                let part = input.splitting(dim, .init(start / length, of: size / length))
            {
                // A hand-written file's narrow of a whole dimension into equal slices: one
                // part of them, as a split would state (docs/placement.md). Not one entry: a
                // last token (`start` seq - 1, length 1) is the whole tensor's.
                expected = part
            }
        case .softmax, .layernorm, .rmsnorm, .gelu, .silu, .relu, .topk, .output:
            guard let input = inputs.first else { return nil }
            if let partial = input.partial {
                let source = graph.edges[edges[0]].from
                let holders = holdersOfTerms(TermKey(logical: logical(source), shards: Placement(shards: input.shards)))
                let over =
                    holders.count == partial.parts ? "GPUs \(GPUList.compact(holders))" : "the \(partial.parts) GPUs that hold its terms"
                var message =
                    "\(node.op.rawValue) of a partial sum: its input \(graph.nodes[source].name) is term \(partial.index) of \(partial.parts) of \(logical(source)); all-reduce it over \(over) first"
                if node.op == .softmax, let heads = graph.attributes["heads"].flatMap(Int.init),
                    let headDim = graph.attributes["head_dim"].flatMap(Int.init), headDim % partial.parts == 0,
                    !heads.multipliedReportingOverflow(by: partial.parts).overflow
                {
                    message +=
                        ". A softmax of each segment's partial scores computes attention with \(heads * partial.parts) heads of \(headDim / partial.parts) dimensions, not the model's \(heads) heads of \(headDim): a different model"
                }
                report(.partialNonlinear, node: v, message)
                return nil
            }
            let reducesLastDim = [.softmax, .layernorm, .rmsnorm, .topk].contains(node.op)
            if reducesLastDim, let last = node.out.rank > 0 ? node.out.rank - 1 : nil, let shard = input.shards[last] {
                report(
                    .partialNonlinear, node: v,
                    "\(node.op.rawValue) reduces over dim \(last), but its input holds only part \(shard.index) of \(shard.parts) of it; gather that dimension first"
                )
                return nil
            }
            expected = input
        case .add:
            if inputs.contains(where: { $0.partial != nil }) && Set(inputs).count > 1 {
                let described = zip(edges, inputs).map { "\(graph.nodes[graph.edges[$0.0].from].name) is \($0.1)" }.joined(separator: ", ")
                report(
                    .partialAdd, node: v,
                    "add of a partial sum and something else (\(described)): a replicated term would be added once per partial term; all-reduce the partial sum first"
                )
                return nil
            }
            if Set(inputs).count > 1 {
                report(.shardCoverage, node: v, "add of different parts: \(inputs.map(\.description).joined(separator: " + "))")
                return nil
            }
            expected = inputs.first
        case .sendRecv:
            expected = inputs.first
        case .split:
            guard let input = inputs.first, let dim = node.attributes["dim"].flatMap(Int.init),
                let parts = node.attributes["parts"].flatMap(Int.init), let index = node.attributes["index"].flatMap(Int.init),
                index >= 0, index < parts
            else { return nil }
            guard let split = input.splitting(dim, .init(index, of: parts)) else {
                report(
                    .shardCoverage, node: v,
                    "split into \(parts) parts of \(input) makes more parts than a 64-bit count holds")
                return nil
            }
            expected = split
        case .concat:
            guard let dim = node.attributes["dim"].flatMap(Int.init) else { return nil }
            // Appending to a K/V cache: the cache's token range decides; take the stated place.
            if stated != nil, edges.contains(where: { graph.nodes[graph.edges[$0].from].op == .kvCache }) { return nil }
            let others = inputs.map { $0.gathering(dim) }
            let parts = inputs.compactMap { $0.shards[dim] }
            // Consecutive parts k a .. k a + k - 1 of n make part a of n / k (all n: the whole).
            let k = inputs.count
            if Set(others).count == 1, parts.count == k, let first = parts.first, first.parts % k == 0, first.index % k == 0,
                parts.enumerated().allSatisfy({ $0.element.index == first.index + $0.offset && $0.element.parts == first.parts })
            {
                var joined = others[0]
                if first.parts > k { joined.shards[dim] = .init(first.index / k, of: first.parts / k) }
                expected = joined
            } else if Set(inputs).count == 1 && inputs[0].shards[dim] == nil {
                expected = inputs[0]
            } else {
                report(
                    .shardCoverage, node: v,
                    "concat along dim \(dim) of parts that do not make a whole, in order: \(inputs.map(\.description).joined(separator: ", "))"
                )
                return nil
            }
        case .matmul:
            guard let result = deriveMatmul(v, edges: edges, inputs: inputs) else { return nil }
            expected = result
        case .allReduce:
            guard let result = deriveReduction(v, edges: edges, inputs: inputs) else { return nil }
            expected = result
        case .allGather:
            guard let dim = node.attributes["dim"].flatMap(Int.init) else { return nil }
            let p = node.group.count
            let gpus = producerGPUs(edges)
            // Member r holds part r of p of its dimension, which may itself lie inside an outer
            // part (a data-parallel replica's batch): parts o x p + r of q x p, one o for all.
            var outer: Placement.Part??
            for (k, input) in inputs.enumerated() {
                let rank = k < gpus.count ? node.group.firstIndex(of: gpus[k]) : nil
                let shard = input.shards[dim]
                let inner = shard.map { (index: $0.index % p, outer: Placement.Part($0.index / p, of: max($0.parts / p, 1))) }
                guard let shard, let inner, shard.parts % p == 0, rank == nil || inner.index == rank,
                    outer == nil || outer! == (shard.parts == p ? nil : inner.outer)
                else {
                    report(
                        .commVolume, node: v,
                        "all_gather along dim \(dim) over \(p) GPUs needs each member's part r of \(p) of that dim; the input from \(graph.nodes[graph.edges[edges[k]].from].name) is \(input)"
                    )
                    return nil
                }
                outer = .some(shard.parts == p ? nil : inner.outer)
            }
            expected = inputs.first?.gathering(dim)
            if let whole = outer ?? nil { expected?.shards[dim] = whole }
        }
        guard let expected, let stated, expected != stated else { return expected }
        let rule: RuleID = node.op.isCommunication ? .commVolume : .shardCoverage
        report(rule, node: v, "\(node.op.rawValue) makes \(expected) of \(logical(v)) from its inputs, but the node states \(stated)")
        return expected
    }

    /// Letters of the equation carry shards from the operands to the output; letters summed over
    /// turn equal shards into a partial sum.
    private mutating func deriveMatmul(_ v: Int, edges: [Int], inputs: [Placement]) -> Placement? {
        let node = graph.nodes[v]
        guard let eq = node.attributes["eq"], let einsum = try? memo.einsum(eq).get() else { return nil }
        var operands = inputs
        if node.attributes["weight"] != nil {
            if let text = node.attributes["weight_place"] {
                guard let w = memo.placement(text) else {
                    report(.schema, node: v, "'weight_place' must be R or terms such as S1:0/4; got '\(text)'")
                    return nil
                }
                operands.append(w)
            } else if let activation = inputs.first {
                let weight = inferredWeightPlacement(v, einsum: einsum, activation: activation)
                if weightActivations == nil { inferredWeights[v] = weight }
                operands.append(weight)
            }
        }
        guard operands.count == 2 else { return nil }
        let key = MatmulKey(equation: eq, lhs: operands[0], rhs: operands[1])
        if let known = matmulPlacements[key] { return known }
        guard let result = deriveMatmul(v, eq: eq, einsum: einsum, operands: operands) else { return nil }
        matmulPlacements[key] = result
        return result
    }

    private mutating func deriveMatmul(_ v: Int, eq: String, einsum: Einsum, operands: [Placement]) -> Placement? {
        if operands[0].partial != nil && operands[1].partial != nil {
            report(.partialNonlinear, node: v, "matmul of two partial sums: the cross terms are missing; reduce one operand first")
            return nil
        }
        var result = Placement(partial: operands[0].partial ?? operands[1].partial)
        var letters: [Character: (Placement.Part?, Placement.Part?)] = [:]
        for (i, c) in einsum.lhs.enumerated() { letters[c, default: (nil, nil)].0 = operands[0].shards[i] }
        for (i, c) in einsum.rhs.enumerated() { letters[c, default: (nil, nil)].1 = operands[1].shards[i] }
        var contracted: [Placement.Part] = []
        for c in (einsum.lhs + einsum.rhs).uniqued() {
            let (a, b) = letters[c]!
            let inBoth = einsum.lhs.contains(c) && einsum.rhs.contains(c)
            if let outDim = einsum.result.firstIndex(of: c) {
                if inBoth && a != b {
                    report(
                        .shardCoverage, node: v,
                        "matmul \(eq): dimension '\(c)' is \(a.map { "part \($0.index) of \($0.parts)" } ?? "whole") in one operand and \(b.map { "part \($0.index) of \($0.parts)" } ?? "whole") in the other"
                    )
                    return nil
                }
                if let part = a ?? b { result.shards[outDim] = part }
            } else {
                guard a == b else {
                    report(
                        .shardCoverage, node: v,
                        "matmul \(eq) sums over '\(c)', which is \(a.map { "part \($0.index) of \($0.parts)" } ?? "whole") in one operand and \(b.map { "part \($0.index) of \($0.parts)" } ?? "whole") in the other: the product mixes different slices"
                    )
                    return nil
                }
                if let a { contracted.append(a) }
            }
        }
        if !contracted.isEmpty {
            var term = result.partial ?? Placement.Part(0, of: 1)
            for part in contracted {
                guard let refined = term.refined(part) else {
                    report(.shardCoverage, node: v, "matmul \(eq): the partial sum's term count overflows 64 bits")
                    return nil
                }
                term = refined
            }
            result.partial = term
        }
        return result
    }

    /// An all-reduce sums the partial terms of one tensor: each member holds one term, and the
    /// group holds all of them exactly once.
    private mutating func deriveReduction(_ v: Int, edges: [Int], inputs: [Placement]) -> Placement? {
        let node = graph.nodes[v]
        let p = node.group.count
        // No inputs at all is a shape finding already; nothing to derive.
        guard !edges.isEmpty else { return nil }
        // Inference's first pass, with weights whole: only the tokens' parts are wanted.
        if weightActivations != nil, let first = inputs.first { return Placement(shards: first.shards) }
        let shards = Set(inputs.map { Placement(shards: $0.shards) })
        guard inputs.allSatisfy({ $0.partial != nil }) else {
            report(
                .reduceGroup, node: v,
                "\(node.op.rawValue) over GPUs \(GPUList.compact(node.group)) of a tensor that is not a partial sum (\(inputs.map(\.description).joined(separator: ", "))): it would multiply it by \(p)"
            )
            return nil
        }
        let terms = inputs.map { $0.partial! }
        let indices = Set(terms.map(\.index))
        if shards.count != 1 || terms.contains(where: { $0.parts != p }) || indices.count != p {
            let source = logical(graph.edges[edges[0]].from)
            let made = terms.first.map { "\($0.parts) terms" } ?? "?"
            report(
                .reduceGroup, node: v,
                "\(node.op.rawValue) over \(p) GPUs (\(GPUList.compact(node.group))) sums terms \(terms.map { "\($0.index)/\($0.parts)" }.joined(separator: ", ")) of \(source), which was split into \(made)\(shards.count > 1 ? " and different slices" : ""): reduce over exactly the GPUs that hold its terms"
            )
            return nil
        }
        return shards.first
    }

    /// An all_to_all over p GPUs: member r splits its input along `split_dim` into p parts, sends
    /// part j to member j, and concatenates what it receives along `concat_dim`. So member r's
    /// input must be part r of p along `concat_dim` (the parts then join in order), and its
    /// output is part r along `split_dim` of the whole that results. A partial sum is moved, not
    /// added: its terms would be concatenated as if they were parts.
    private mutating func deriveAllToAll(_ v: Int, edges: [Int], inputs: [Placement]) -> Placement? {
        let node = graph.nodes[v]
        let p = node.group.count
        guard !edges.isEmpty else { return nil }
        if let term = inputs.first(where: { $0.partial != nil })?.partial {
            report(
                .commVolume, node: v,
                "all_to_all over \(p) GPUs moves term \(term.index) of \(term.parts) of a partial sum of \(logical(graph.edges[edges[0]].from)) without adding the terms: reduce it first (all_reduce or reduce_scatter)"
            )
            return nil
        }
        guard let concat = node.attributes["concat_dim"].flatMap({ Int($0.trimmingASCIISpaces()) }),
            let split = node.attributes["split_dim"].flatMap({ Int($0.trimmingASCIISpaces()) }), concat != split
        else { return nil }
        let gpus = producerGPUs(edges)
        var whole: Placement?
        for (k, input) in inputs.enumerated() {
            let rank = k < gpus.count && gpus.count == inputs.count ? node.group.firstIndex(of: gpus[k]) : nil
            guard let shard = input.shards[concat], shard.parts % p == 0, rank == nil || shard.index % p == rank else {
                report(
                    .commVolume, node: v,
                    "all_to_all over \(p) GPUs concatenates along dim \(concat) what the members send, so member r must hold part r of \(p) of that dim; the input from \(graph.nodes[graph.edges[edges[k]].from].name) is \(input)\(input.shards[concat] == nil ? " (whole: the output would repeat it \(p) times)" : "")"
                )
                return nil
            }
            var joined = input
            joined.shards[concat] = shard.parts == p ? nil : Placement.Part(shard.index / p, of: shard.parts / p)
            if let whole, whole != joined {
                report(.commVolume, node: v, "all_to_all over \(p) GPUs joins parts of different wholes: \(whole) and \(joined)")
                return nil
            }
            whole = joined
        }
        return whole
    }

    /// `shard-coverage`: for every logical tensor, its compute nodes' parts cover it exactly once
    /// (replicated nodes, `R`, cover it wholly and may repeat).
    mutating func checkCoverage(_ places: [Placement?]) {
        var byLogical: [String: [Int]] = [:]
        for (v, node) in graph.nodes.enumerated()
        where places[v] != nil && !node.op.isCommunication && node.op != .input && node.op != .output {
            byLogical[logical(v), default: []].append(v)
        }
        for (name, nodes) in byLogical.sorted(by: { $0.key < $1.key }) {
            let declared = nodes.map { places[$0]! }
            let parts = declared.map(\.part)
            if parts.allSatisfy(\.isReplicate) { continue }
            if parts.contains(where: \.isReplicate) {
                report(
                    .shardCoverage, node: nodes.first { !places[$0]!.isReplicate },
                    "\(name) is computed whole on some GPUs and in parts on others")
                continue
            }
            if coversOnce(parts) { continue }
            var counts: [Int: Int] = [:]  // per dim (or -1 for partial): the number of parts
            for place in parts {
                for (d, part) in place.shards { counts[d] = counts[d].map { max($0, part.parts) } ?? part.parts }
                if let partial = place.partial { counts[-1] = counts[-1].map { max($0, partial.parts) } ?? partial.parts }
            }
            let axes = counts.keys.sorted()
            // Checked: part counts come from the file and their product can pass 2^63.
            var total = 1
            for axis in axes where total <= 1 << 16 {
                let (product, overflow) = total.multipliedReportingOverflow(by: counts[axis]!)
                total = overflow ? Int.max : product
            }
            guard total <= 1 << 16 else { continue }
            var covered: [[Int]: [Int]] = [:]
            var consistent = true
            for (v, place) in zip(nodes, parts) {
                var choices: [[Int]] = [[]]
                for axis in axes {
                    let part = axis == -1 ? place.partial : place.shards[axis]
                    if let part, part.parts != counts[axis]! {
                        report(
                            .shardCoverage, node: v,
                            "\(name) is split into \(counts[axis]!) parts along \(axis == -1 ? "its partial sum" : "dim \(axis)") elsewhere, but into \(part.parts) here"
                        )
                        consistent = false
                        break
                    }
                    let options = part.map { [$0.index] } ?? Array(0..<counts[axis]!)
                    choices = choices.flatMap { prefix in options.map { prefix + [$0] } }
                }
                for key in choices { covered[key, default: []].append(v) }
            }
            guard consistent else { continue }
            let copies = Dictionary(uniqueKeysWithValues: zip(nodes, declared.map(\.copies)))
            for (key, holders) in covered.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) })
            where holders.count > 1 && !holders.allSatisfy({ copies[$0] == holders.count }) {
                report(
                    .shardCoverage, node: holders[1],
                    "\(name): part \(describe(key, axes, counts)) is computed \(holders.count) times (\(holders.map { graph.nodes[$0].name }.joined(separator: ", "))) without being declared replicated"
                )
            }
            var missing: [[Int]] = []
            func walk(_ prefix: [Int]) {
                if prefix.count == axes.count {
                    if covered[prefix] == nil { missing.append(prefix) }
                    return
                }
                for i in 0..<counts[axes[prefix.count]]! { walk(prefix + [i]) }
            }
            walk([])
            // A view of some GPUs (`covers` fewer than the graph's) holds only their parts.
            for key in missing.prefix(isPartialView ? 0 : 8) {
                report(.shardCoverage, node: nodes[0], "\(name): part \(describe(key, axes, counts)) is computed nowhere")
            }
        }
    }

    /// The common case, decided without enumerating parts: every node holds one part of one
    /// axis (a dimension, or the partial sum), all of the same count, as many nodes as parts,
    /// each part once.
    /// Whether the graph is a view that cuts through its GPUs' work: it holds tensors (boundary
    /// inputs and outputs) on GPUs it does not cover, whose other parts are outside it.
    private var isPartialView: Bool {
        guard let covers = graph.attributes[OperatorGraph.coversAttribute].flatMap(GPUList.parse).map(Set.init) else {
            return false
        }
        return graph.nodes.contains { ($0.op == .input || $0.op == .output) && $0.gpu.map { !covers.contains($0) } ?? false }
    }

    private func coversOnce(_ parts: [Placement]) -> Bool {
        var axis: Int?
        var seen = [Bool](repeating: false, count: parts.count)
        for place in parts {
            guard place.copies == nil else { return false }
            let one: (axis: Int, part: Placement.Part)
            if let partial = place.partial {
                guard place.shards.isEmpty else { return false }
                one = (-1, partial)
            } else {
                guard place.shards.count == 1, let (dim, part) = place.shards.first else { return false }
                one = (dim, part)
            }
            guard axis == nil || axis == one.axis, one.part.parts == parts.count, one.part.index >= 0,
                one.part.index < parts.count, !seen[one.part.index]
            else { return false }
            axis = one.axis
            seen[one.part.index] = true
        }
        return true
    }

    private func describe(_ key: [Int], _ axes: [Int], _ counts: [Int: Int]) -> String {
        zip(axes, key).map { axis, i in axis == -1 ? "P:\(i)/\(counts[axis]!)" : "S\(axis):\(i)/\(counts[axis]!)" }.joined(separator: ",")
    }
}

/// The GPUs holding the terms of each partial sum, for messages that say where to reduce.
struct TermKey: Hashable {
    var logical: String
    var shards: Placement
}

extension Array where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
