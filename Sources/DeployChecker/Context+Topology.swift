import DeployModel

extension Context {
    /// `cycle`: the graph is acyclic. Returns the topological order, or nil after reporting one
    /// cycle, located at the line of its last-written edge (most often the one added by hand).
    mutating func checkCycle() -> [Int]? {
        switch adjacency.topologicalOrder() {
        case .acyclic(let order):
            return order
        case .cyclic(let cycle):
            var worst: (line: Int, node: Int)? = nil
            for (i, node) in cycle.enumerated() {
                let next = cycle[(i + 1) % cycle.count]
                if let line = edgeLine(from: node, to: next), line > worst?.line ?? -1 { worst = (line, next) }
            }
            let names = (cycle + [cycle[0]]).map { graph.nodes[$0].name }.joined(separator: " -> ")
            report(
                .cycle, node: worst?.node ?? cycle[0], line: worst?.line,
                "the graph has a cycle of \(cycle.count) node\(cycle.count == 1 ? "" : "s"): \(names)")
            return nil
        }
    }

    func edgeLine(from u: Int, to v: Int) -> Int? {
        for e in incoming(v) where graph.edges[Int(e)].from == u { return decoded.line(ofEdge: Int(e)) }
        return nil
    }

    /// `dangling`: every node lies on a path from an input to an output.
    mutating func checkDangling(acyclic: Bool) {
        let inputs = graph.nodes.indices.filter { graph.nodes[$0].op.isSource }
        let outputs = graph.nodes.indices.filter { graph.nodes[$0].op == .output }
        if inputs.isEmpty { report(.dangling, line: 1, "the graph has no input node (op=input)") }
        if outputs.isEmpty { report(.dangling, line: 1, "the graph has no output node (op=output)") }
        guard !inputs.isEmpty, !outputs.isEmpty else { return }
        let fromInput = adjacency.reachable(from: inputs)
        let toOutput = adjacency.reachable(from: outputs, forward: false)
        for i in graph.nodes.indices where !(fromInput[i] && toOutput[i]) {
            let why =
                switch (fromInput[i], toOutput[i]) {
                case (false, false): "no input reaches it and it reaches no output"
                case (false, true): "no input reaches it"
                default: "it reaches no output; its result is never used"
                }
            report(.dangling, node: i, "\(describe(i)) is on no path from an input to an output: \(why)")
        }
    }
}

extension Context {
    /// `duplicate-edge`: an edge stated twice with the same operand. One finding a node pair
    /// and operand, at its first repetition, however many times it repeats.
    mutating func checkDuplicateEdges() {
        // Repeated edges share a consumer: compared within each node's incoming edges (a few
        // each), rather than hashing every edge of the graph.
        var groups: [(first: Int, repeats: [Int], count: Int)] = []
        func group(_ edges: [Int]) {  // edge indices in file order, all equal
            guard edges.count > 1 else { return }
            groups.append((edges[0], Array(edges[1...].prefix(4)), edges.count - 1))
        }
        for v in graph.nodes.indices {
            let incoming = incoming(v)
            guard incoming.count > 1 else { continue }
            if incoming.count <= 16 {
                for a in incoming.indices {
                    let edge = graph.edges[Int(incoming[a])]
                    // Each repeated edge is grouped at its first statement.
                    guard !incoming[..<a].contains(where: { graph.edges[Int($0)] == edge }) else { continue }
                    let later = incoming[(a + 1)...].filter { graph.edges[Int($0)] == edge }
                    if !later.isEmpty { group([Int(incoming[a])] + later.map(Int.init)) }
                }
            } else {
                // Many inputs (a hand-written or hostile file): sorted by producer and operand.
                let sorted = incoming.map(Int.init).sorted { a, b in
                    let (x, y) = (graph.edges[a], graph.edges[b])
                    if x.from != y.from { return x.from < y.from }
                    if (x.operand ?? -1) != (y.operand ?? -1) { return (x.operand ?? -1) < (y.operand ?? -1) }
                    return a < b
                }
                var start = 0
                for k in 1...sorted.count where k == sorted.count || graph.edges[sorted[k]] != graph.edges[sorted[start]] {
                    group(Array(sorted[start..<k]))
                    start = k
                }
            }
        }
        // In the order the first repeat of each edge appears in the file.
        groups.sort { $0.repeats[0] < $1.repeats[0] }
        for entry in groups {
            let edge = graph.edges[entry.first]
            let (u, v) = (graph.nodes[edge.from].name, graph.nodes[edge.to].name)
            let first = decoded.line(ofEdge: entry.first).map(String.init) ?? "?"
            let again: String
            if entry.count == 1 {
                again = "is stated again (first at line \(first))"
            } else {
                let lines = entry.repeats.compactMap { decoded.line(ofEdge: $0) }.map(String.init).joined(separator: ", ")
                let more = entry.count > entry.repeats.count ? " and \(entry.count - entry.repeats.count) more" : ""
                again = "is stated \(entry.count) more times (first at line \(first); again at lines \(lines)\(more))"
            }
            report(
                .duplicateEdge, node: edge.to, line: decoded.line(ofEdge: entry.repeats[0]),
                "the edge \(u) -> \(v) \(again); a tensor used twice by one operator needs an operand attribute on each edge"
            )
        }
    }
}
