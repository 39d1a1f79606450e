import DeployModel

/// Symmetry folding: GPUs that run the same operators on the same shapes, fed the same way
/// (the ranks of a tensor-parallel group, Helix's GPUs, the experts of an expert-parallel
/// group), are drawn once, as their lowest-numbered GPU, with the collectives that GPU takes
/// part in. A GPU holding a node with a finding is never folded, nor are the GPUs around a
/// communication node with one, so a hand edit stays in the picture.
public struct Folding: Sendable {
    /// Each GPU's class: the GPUs that run what it runs, ascending (itself included).
    public private(set) var classOf: [Int: [Int]] = [:]
    /// The nodes drawn.
    public private(set) var drawn: [Bool]
    /// For a drawn communication node, the groups of the like collectives folded into it
    /// (same operator, shape, group size, layer and block), its own first.
    public private(set) var alike: [Int: [[Int]]] = [:]
    /// The node each drawn node is drawn as: itself, or the first of its siblings, nodes of one
    /// GPU (or communication nodes) with the same operator, shape and place in the model fed by
    /// the same nodes (the eight sends of one GPU to eight expert GPUs), drawn once.
    public private(set) var canonical: [Int]
    /// How many nodes a canonical node stands for, itself included.
    public private(set) var siblings: [Int: Int] = [:]

    /// Whether any GPU stands for others.
    public var folds: Bool { classOf.values.contains { $0.count > 1 } }

    /// Nothing folded: every node drawn.
    public init(unfolded graph: OperatorGraph) {
        drawn = [Bool](repeating: true, count: graph.nodes.count)
        canonical = Array(graph.nodes.indices)
        standIn = [Int?](repeating: nil, count: graph.nodes.count)
        for gpu in Set(graph.nodes.compactMap(\.gpu)) { classOf[gpu] = [gpu] }
    }

    /// Folds `graph`, keeping apart the GPUs of `faulty` nodes (by index).
    public init(_ graph: OperatorGraph, keepingApart faulty: Set<Int> = []) {
        let n = graph.nodes.count
        let adjacency = graph.adjacency
        var onGPU: [Int: [Int]] = [:]
        var local = [Int](repeating: -1, count: n)
        for (v, node) in graph.nodes.enumerated() {
            guard let gpu = node.gpu else { continue }
            local[v] = onGPU[gpu, default: []].count
            onGPU[gpu, default: []].append(v)
        }
        var apart = Set<Int>()
        for v in faulty where v < n {
            let node = graph.nodes[v]
            if let gpu = node.gpu { apart.insert(gpu) } else { apart.formUnion(node.group) }
            for u in adjacency.predecessors(of: v) { if let g = graph.nodes[Int(u)].gpu { apart.insert(g) } }
            for u in adjacency.successors(of: v) { if let g = graph.nodes[Int(u)].gpu { apart.insert(g) } }
        }
        // A GPU's signature: its nodes in file order, each with its operator, shape, place in the
        // model and matmul arguments, and where each input comes from and each output goes:
        // a node of its own (by position), or a communication node (by kind, size and role).
        var bySignature: [String: [Int]] = [:]
        for gpu in onGPU.keys.sorted() {
            if apart.contains(gpu) {
                bySignature["apart \(gpu)"] = [gpu]
                continue
            }
            var text = ""
            for v in onGPU[gpu]! {
                let node = graph.nodes[v]
                text += "\(node.op.rawValue) \(node.out) \(node.layer ?? -1) \(node.block ?? "")"
                for key in ["m", "k", "n", "eq", "dim", "parts", "scale"] {
                    if let value = node.attributes[key] { text += " \(key)=\(value)" }
                }
                text += " <"
                for u in adjacency.predecessors(of: v).map(Int.init) {
                    text += " " + Self.reference(graph.nodes[u], index: local[u], from: gpu)
                }
                text += " >"
                for u in adjacency.successors(of: v).map(Int.init) where graph.nodes[u].gpu != gpu {
                    text += " " + Self.reference(graph.nodes[u], index: local[u], from: gpu)
                }
                text += "\n"
            }
            bySignature[text, default: []].append(gpu)
        }
        for members in bySignature.values {
            let sorted = members.sorted()
            for gpu in sorted { classOf[gpu] = sorted }
        }

        drawn = [Bool](repeating: false, count: n)
        canonical = Array(0..<n)
        standIn = [Int?](repeating: nil, count: n)
        for (v, node) in graph.nodes.enumerated() {
            if let gpu = node.gpu { drawn[v] = classOf[gpu]?.first == gpu } else if faulty.contains(v) { drawn[v] = true }
        }
        // Communication drawn where it touches a drawn node, through chains of communication.
        var changed = true
        while changed {
            changed = false
            for (v, node) in graph.nodes.enumerated() where node.gpu == nil && !drawn[v] {
                let touches =
                    adjacency.predecessors(of: v).contains { drawn[Int($0)] } || adjacency.successors(of: v).contains { drawn[Int($0)] }
                if touches {
                    drawn[v] = true
                    changed = true
                }
            }
        }
        // Siblings, in topological order so that a node's inputs are canonical before it is.
        if case .acyclic(let order) = adjacency.topologicalOrder() {
            struct Sibling: Hashable {
                var gpu: Int?
                var op: Operator
                var out: String
                var layer: Int?
                var block: String?
                var members: [Int]
                var inputs: [Int]
                var name: String
            }
            var first: [Sibling: Int] = [:]
            for v in order where drawn[v] && !faulty.contains(v) {
                let node = graph.nodes[v]
                let inputs = adjacency.predecessors(of: v).map(Int.init).filter { drawn[$0] }.map { canonical[$0] }.sorted()
                let members = node.gpu == nil ? node.group.filter { classOf[$0]?.first == $0 } : []
                let key = Sibling(
                    gpu: node.gpu, op: node.op, out: node.out.description, layer: node.layer, block: node.block, members: members,
                    inputs: inputs, name: String(node.name.filter { !$0.isNumber }))
                if let w = first[key] { canonical[v] = w } else { first[key] = v }
                siblings[canonical[v], default: 0] += 1
            }
        }
        // The collectives left out, counted against a drawn one like them.
        struct Like: Hashable {
            var op: Operator
            var out: String
            var size: Int
            var layer: Int?
            var block: String?
        }
        func like(_ node: OperatorNode) -> Like {
            Like(op: node.op, out: node.out.description, size: node.group.count, layer: node.layer, block: node.block)
        }
        // (Only where one drawn node is like them: otherwise which one stands for them is a guess.)
        var drawnLike: [Like: Set<Int>] = [:]
        for (v, node) in graph.nodes.enumerated() where node.gpu == nil && drawn[v] {
            let c = canonical[v]
            drawnLike[like(node), default: []].insert(c)
            alike[c, default: []].append(node.group)
        }
        for (v, node) in graph.nodes.enumerated() where node.gpu == nil && !drawn[v] {
            if let ws = drawnLike[like(node)], ws.count == 1 {
                alike[ws.first!]!.append(node.group)
                standIn[v] = ws.first!
            }
        }
        // A folded GPU's nodes stand in order for its representative's (their signatures match).
        for (gpu, members) in classOf where members.first != gpu {
            guard let mine = onGPU[gpu], let theirs = onGPU[members.first!], mine.count == theirs.count else { continue }
            for (v, w) in zip(mine, theirs) { standIn[v] = w }
        }
    }

    /// The node drawn for node `v`: itself or its sibling when drawn; for a node of a folded GPU,
    /// the node in the same place on the GPU that stands for it; for a collective left out, the
    /// one drawn like it. Nil when none stands for it.
    public func drawnAs(_ v: Int) -> Int? {
        if drawn[v] { return canonical[v] }
        return standIn[v].map { canonical[$0] }
    }

    private var standIn: [Int?] = []

    /// Whether node `v` is drawn as a node of its own (drawn and canonical).
    public func isShown(_ v: Int) -> Bool { drawn[v] && canonical[v] == v }

    private static func reference(_ node: OperatorNode, index: Int, from gpu: Int) -> String {
        if node.gpu == gpu { return "L\(index)" }
        if let other = node.gpu { return "GPU\(other)" }  // an edge between two GPUs' compute: never folded
        var role = ""
        if node.op == .sendRecv { role = node.group.first == gpu ? " src" : node.group.last == gpu ? " dst" : " ?" }
        return "\(node.op.rawValue)/\(node.group.count)\(role)/\(node.out)"
    }

    /// How a drawn GPU's cluster is titled: `GPU 0 (×16: GPUs 0-15)`, or `GPU 3` alone.
    public func title(of gpu: Int) -> String {
        let members = classOf[gpu] ?? [gpu]
        guard members.count > 1 else { return "GPU \(gpu)" }
        return "GPU \(gpu) (×\(members.count): GPUs \(GPUList.compact(members)))"
    }
}
