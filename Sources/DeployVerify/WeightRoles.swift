import DeployModel

/// Which of the model's weights each matmul and norm of a hand-written DAG reads, where it
/// states no `weight_logical`: found from where its output goes (the operand of attention it
/// feeds, the activation, the product, the residual) and where its input comes from, so that
/// `verify` can execute a file written from docs/dot-schema.md alone.
public enum WeightRoles {
    /// The model's name for each such node's weight (`L0.w.q`; its shape is `referenceShape`).
    /// Throws, naming the node, where a weight's role cannot be told.
    public static func assign(_ graph: OperatorGraph, model: ReferenceModel) throws(VerifyError) -> [Int: String] {
        let adjacency = graph.adjacency
        var incoming = [[TensorEdge]](repeating: [], count: graph.nodes.count)
        var outgoing = [[TensorEdge]](repeating: [], count: graph.nodes.count)
        for e in graph.edges {
            incoming[e.to].append(e)
            outgoing[e.from].append(e)
        }
        let transparent: Set<Operator> = [.rope, .split, .concat, .narrow, .sendRecv, .allGather, .allReduce, .reduceScatter, .allToAll]
        /// The first nodes past `v` that do more than move or rotate its tensor, with the operand
        /// each reads it as.
        func landmarks(_ v: Int) -> [(node: Int, operand: Int)] {
            var found: [(Int, Int)] = []
            var frontier = [v]
            var seen: Set<Int> = [v]
            while let u = frontier.popLast() {
                for e in outgoing[u] where seen.insert(e.to).inserted {
                    if transparent.contains(graph.nodes[e.to].op) {
                        // A concat onto a cached tensor still carries this one's keys or values.
                        frontier.append(e.to)
                    } else {
                        found.append((e.to, e.operand ?? 0))
                    }
                }
            }
            return found
        }
        /// The first nodes before `v` that do more than move its input.
        func sources(_ v: Int) -> [Int] {
            var found: [Int] = []
            var frontier = incoming[v].map(\.from)
            var seen = Set(frontier)
            while let u = frontier.popLast() {
                if transparent.contains(graph.nodes[u].op) {
                    for e in incoming[u] where seen.insert(e.from).inserted { frontier.append(e.from) }
                } else {
                    found.append(u)
                }
            }
            return found
        }
        func feedsSoftmax(_ v: Int) -> Bool { landmarks(v).contains { graph.nodes[$0.node].op == .softmax } }
        func expertSlot(_ v: Int, experts: Int) -> Int? { Self.expertSlot(in: graph, v, incoming: incoming, experts: experts) }
        let m = model
        var roles: [Int: String] = [:]
        // Norms: per layer and GPU, in the order they run: ln1, then ln2.
        guard case .acyclic(let order) = adjacency.topologicalOrder() else { throw VerifyError("the graph has a cycle") }
        var normsSeen: [String: Int] = [:]
        for v in order {
            let node = graph.nodes[v]
            guard node.attributes["weight"] != nil, node.attributes["weight_logical"] == nil else { continue }
            func refuse(_ why: String) -> VerifyError {
                VerifyError("\(node.op.rawValue) \(node.name): \(why); state its weight_logical (docs/placement.md)")
            }
            if node.op == .layernorm || node.op == .rmsnorm {
                guard let layer = node.layer else {
                    roles[v] = "w.final_norm"
                    continue
                }
                let key = "\(layer)|\(node.gpu ?? -1)"
                let seen = normsSeen[key, default: 0]
                normsSeen[key] = seen + 1
                guard seen < 2 else { throw refuse("a third norm with a weight in layer \(layer) on one GPU is not the model's") }
                roles[v] = "L\(layer).w.\(seen == 0 ? "ln1" : "ln2")"
                continue
            }
            if node.op == .embedding {
                guard m.vocab != nil else { throw refuse("an embedding needs the graph's 'vocab'") }
                roles[v] = "w.embed"
                continue
            }
            guard node.op == .matmul else { continue }
            let ahead = landmarks(v)
            guard let layer = node.layer else {
                guard m.vocab != nil, ahead.allSatisfy({ graph.nodes[$0.node].op == .output }) else {
                    throw refuse(
                        "a matmul outside every layer is the model's head only when it feeds the outputs and the graph states 'vocab'")
                }
                roles[v] = m.tiedEmbeddings ? "w.embed" : "w.lm_head"
                continue
            }
            let p = "L\(layer).w."
            var role: String?
            for (w, operand) in ahead {
                let consumer = graph.nodes[w]
                switch consumer.op {
                case .attention: role = ["q", "k", "v"][min(operand, 2)]
                case .matmul where consumer.attributes["weight"] == nil:
                    // Scores Q K^T feed a softmax; the product with the probabilities reads V.
                    if feedsSoftmax(w) {
                        role = operand == 0 ? "q" : "k"
                    } else {
                        role = "v"
                    }
                case .topk where m.experts != nil: role = "router"
                case .combine where m.experts != nil:
                    // An expert's last matmul: its buffer goes back to the tokens.
                    role = m.gated ? "down" : "fc2"
                case .dispatch, .combine:
                    throw refuse("which expert a mixture-of-experts matmul computes cannot be told from the graph")
                case .gelu, .silu, .relu: role = m.gated ? "gate" : "fc1"
                case .mul: role = "up"
                case .add, .output:
                    // The projection after attention, or the MLP's last.
                    let before = sources(v).map { graph.nodes[$0].op }
                    if before.contains(.attention) || before.contains(where: { $0 == .matmul }) {
                        role = "o_proj"
                    } else if before.contains(where: { [.gelu, .silu, .relu, .mul].contains($0) }) {
                        role = m.gated ? "down" : "fc2"
                    }
                default: break
                }
                if role != nil { break }
            }
            // An MLP's weights in a mixture of experts are an expert's (or the shared expert's):
            // the expert whose slot of the dispatched buffers the matmul reads (expertSlot),
            // else the shared expert's.
            if let experts = m.experts, let found = role, ["fc1", "fc2", "gate", "up", "down"].contains(found) {
                if let e = expertSlot(v, experts: experts) {
                    roles[v] = p + "expert\(e).\(found)"
                    continue
                }
                // The shared expert reads the norm's tokens, not the dispatched buffers, and
                // its product is no combine's.
                if m.sharedExpertFFN != nil, found != "fc1", found != "fc2",
                    !ahead.contains(where: { graph.nodes[$0.node].op == .combine }),
                    !Self.readsDispatched(in: graph, v, incoming: incoming)
                {
                    roles[v] = p + "shared.\(found)"
                    continue
                }
                throw refuse(
                    "which expert a mixture-of-experts matmul computes cannot be told from the graph (its input is no one expert's slot of the dispatched buffers: an all_to_all of one expert a GPU, or a split into one part an expert)"
                )
            }
            guard let role else {
                throw refuse("its output reaches no attention, activation, product or residual add that tells which weight it is")
            }
            roles[v] = p + role
        }
        return roles
    }

    /// The shape the model (as its header states it) gives the weight `name` (`L0.w.q`,
    /// `L3.w.expert5.up`, `w.embed`), in the reference's layout; nil for a name it does not use.
    /// A stated weight whose logical shape is not this one means the header and the file describe
    /// different models (64 heads of 2 written over weights of 16 heads of 8).
    public static func referenceShape(_ name: String, model m: ReferenceModel) -> [Int]? {
        let (h, d) = (m.hidden, m.headDim)
        switch name {
        case "w.embed", "w.lm_head": return m.vocab.map { [$0, h] }
        case "w.final_norm": return [h]
        case "w.pos_embed": return m.positions.map { [$0, h] }
        default: break
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].hasPrefix("L"), Int(parts[0].dropFirst()) != nil, parts[1] == "w" else { return nil }
        let rest = parts[2...].joined(separator: ".")
        let f = m.ffn ?? 0
        switch rest {
        case "q": return [h, m.heads, d]
        case "k", "v": return [h, m.kvHeads, d]
        case "o_proj": return [m.heads, d, h]
        case "ln1", "ln2": return [h]
        case "fc1", "gate", "up": return m.experts == nil ? [h, f] : nil
        case "fc2", "down": return m.experts == nil ? [f, h] : nil
        case "router": return m.experts.map { [h, $0] }
        case "shared.gate", "shared.up": return m.sharedExpertFFN.map { [h, $0] }
        case "shared.down": return m.sharedExpertFFN.map { [$0, h] }
        default: break
        }
        // An expert's own MLP: `expert<e>.fc1` and the like.
        let pieces = rest.split(separator: ".")
        guard pieces.count == 2, pieces[0].hasPrefix("expert"), let e = Int(pieces[0].dropFirst(6)), let w = m.expertFFN else { return nil }
        guard let experts = m.experts, e >= 0, e < experts else { return nil }
        switch pieces[1] {
        case "fc1", "gate", "up": return [h, w]
        case "fc2", "down": return [w, h]
        default: return nil
        }
    }

    /// The expert whose slot of the dispatched buffers matmul `v` reads, found by walking back
    /// from its input (through the expert's activation and earlier matmul) to what cut the
    /// buffers: an `all_to_all` splitting the experts' dimension 0 over its group (the GPU's
    /// rank in the group, one expert each), or a `split` of dimension 0 into one part per expert.
    static func expertSlot(in graph: OperatorGraph, _ v: Int, incoming: [[TensorEdge]], experts: Int) -> Int? {
        guard let gpu = graph.nodes[v].gpu else { return nil }
        var u = v
        for _ in 0..<8 {
            guard let from = incoming[u].first(where: { ($0.operand ?? 0) == 0 })?.from else { return nil }
            let node = graph.nodes[from]
            switch node.op {
            case .allToAll:
                guard node.attributes["split_dim"] == "0", let rank = node.group.firstIndex(of: gpu), node.group.count == experts,
                    node.out.rank == 3, node.out.dims[0].intValue == 1
                else { return nil }
                return rank
            case .split:
                guard node.attributes["dim"] == "0", node.attributes["parts"] == String(experts), let index = node.attributes["index"],
                    let e = Int(index), e >= 0, e < experts
                else { return nil }
                return e
            case .gelu, .silu, .relu, .mul, .matmul: u = from
            default: return nil
            }
        }
        return nil
    }

    /// Whether matmul `v`'s input comes, through an expert's work and what moves buffers, from
    /// a dispatch.
    static func readsDispatched(in graph: OperatorGraph, _ v: Int, incoming: [[TensorEdge]]) -> Bool {
        var frontier = [v]
        var seen: Set<Int> = [v]
        var steps = 0
        while let u = frontier.popLast(), steps < 64 {
            steps += 1
            for e in incoming[u] where seen.insert(e.from).inserted {
                switch graph.nodes[e.from].op {
                case .dispatch: return true
                case .gelu, .silu, .relu, .mul, .matmul, .split, .narrow, .concat, .allToAll, .allGather, .sendRecv: frontier.append(e.from)
                default: break
                }
            }
        }
        return false
    }

    /// `name` without its layer's number (`L12.w.q` is `L.w.q`): one key for every layer's copy.
    public static func layerless(_ name: String) -> String {
        guard name.hasPrefix("L"), let dot = name.firstIndex(of: "."), name[name.index(after: name.startIndex)..<dot].allSatisfy(\.isNumber)
        else { return name }
        return "L" + name[dot...]
    }

    /// Whether `coarse` merges consecutive dimensions of `fine` (`[64,64]` of `[64,4,16]`):
    /// the same elements in the same order.
    public static func isCoarsening(_ coarse: [Int], of fine: [Int]) -> Bool {
        var i = 0
        for c in coarse {
            var product = 1
            repeat {
                guard i < fine.count else { return false }
                product *= fine[i]
                i += 1
            } while product < c
            guard product == c else { return false }
        }
        return i == fine.count
    }
}
