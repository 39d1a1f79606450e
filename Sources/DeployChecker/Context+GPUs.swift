import DeployModel

extension Context {
    /// `gpu-range`: every GPU id lies in 0..gpus-1.
    mutating func checkGPURange() {
        for (i, node) in graph.nodes.enumerated() where isValid(i) {
            let outside = node.gpus.filter { $0 >= gpuCount }
            if outside.count == 1 {
                report(.gpuRange, node: i, "GPU \(outside[0]) is outside 0..\(gpuCount - 1): the deployment has \(gpuCount) GPUs")
            } else if outside.count > 1 {
                // One finding a node, not one a GPU of a group of thousands.
                report(
                    .gpuRange, node: i,
                    "GPUs \(GPUList.compact(outside)) (\(outside.count) of them) are outside 0..\(gpuCount - 1): the deployment has \(gpuCount) GPUs"
                )
            }
        }
    }

    /// `gpu-coverage`: every GPU the deployment must cover runs at least one compute node.
    /// A partial view names the GPUs it covers in the graph attribute `covers`.
    mutating func checkGPUCoverage() {
        var used = [Bool](repeating: false, count: gpuCount)
        // Compute: a GPU that only holds an input, an output or a K/V cache computes nothing.
        for (i, node) in graph.nodes.enumerated() where isValid(i) && node.op != .input && node.op != .output && node.op != .kvCache {
            if let gpu = node.gpu, gpu < gpuCount { used[gpu] = true }
        }
        var required = Array(0..<gpuCount)
        var scope = "the deployment's \(gpuCount) GPUs (0..\(gpuCount - 1))"
        if let covers = graph.attributes[OperatorGraph.coversAttribute] {
            if covers.trimmingASCIISpaces() == "none" {
                // A view of communication alone (a pipeline's send): no GPU of it must compute.
                required = []
            } else if let list = GPUList.parse(covers) {
                required = list.filter { $0 < gpuCount }
                scope = "the GPUs this view covers (\(covers))"
            } else {
                report(.schema, line: 1, "graph attribute 'covers' must list GPU ids such as 0-7 or 0,1,2; got '\(covers)'")
            }
        }
        let idle = required.filter { !used[$0] }
        if idle.count <= 8 {
            for gpu in idle { report(.gpuCoverage, line: 1, "GPU \(gpu) runs no compute node, but it is one of \(scope)") }
        } else {
            // One finding, not thousands, when a graph claims far more GPUs than it uses.
            report(
                .gpuCoverage, line: 1,
                "\(idle.count) GPUs run no compute node (\(GPUList.compact(idle))), but they are among \(scope)")
        }
    }

    /// `cross-gpu`: a tensor moves between GPUs only through a communication node, and a
    /// communication node exchanges data only with the GPUs of its group.
    mutating func checkCrossGPU() {
        for (e, edge) in graph.edges.enumerated() where isValid(edge.from) && isValid(edge.to) {
            let (u, v) = (graph.nodes[edge.from], graph.nodes[edge.to])
            switch (u.op.isCommunication, v.op.isCommunication) {
            case (false, false):
                if let a = u.gpu, let b = v.gpu, a != b {
                    report(
                        .crossGPU, node: edge.to, line: decoded.line(ofEdge: e),
                        "edge \(u.name) -> \(v.name) moves a tensor from GPU \(a) to GPU \(b) with no communication node between; insert a send_recv (group=\"\(a),\(b)\") or a collective"
                    )
                }
            case (false, true):
                guard let a = u.gpu else { continue }
                if v.op == .sendRecv {
                    if a != v.group.first {
                        report(
                            .crossGPU, node: edge.to, line: decoded.line(ofEdge: e),
                            "send_recv \(v.name) sends from GPU \(v.group.first!), but its input \(u.name) is on GPU \(a)")
                    }
                } else if !v.group.contains(a) {
                    report(
                        .crossGPU, node: edge.to, line: decoded.line(ofEdge: e),
                        "\(v.op.rawValue) \(v.name) spans GPUs \(GPUList.compact(v.group)), but its input \(u.name) is on GPU \(a)")
                }
            case (true, false):
                guard let b = v.gpu else { continue }
                if u.op == .sendRecv {
                    if b != u.group.last {
                        report(
                            .crossGPU, node: edge.to, line: decoded.line(ofEdge: e),
                            "send_recv \(u.name) delivers to GPU \(u.group.last!), but its consumer \(v.name) is on GPU \(b)")
                    }
                } else if !u.group.contains(b) {
                    report(
                        .crossGPU, node: edge.to, line: decoded.line(ofEdge: e),
                        "\(u.op.rawValue) \(u.name) spans GPUs \(GPUList.compact(u.group)), but its consumer \(v.name) is on GPU \(b)")
                }
            case (true, true):
                let delivered = u.op == .sendRecv ? Array(u.group.suffix(1)) : u.group
                let accepted = v.op == .sendRecv ? Array(v.group.prefix(1)) : v.group
                if !delivered.contains(where: accepted.contains) {
                    report(
                        .crossGPU, node: edge.to, line: decoded.line(ofEdge: e),
                        "\(u.op.rawValue) \(u.name) delivers to GPUs \(GPUList.compact(delivered)), none of which \(v.op.rawValue) \(v.name) takes input from (\(GPUList.compact(accepted)))"
                    )
                }
            }
        }
        checkCollectiveMembers()
    }

    /// A collective takes one input from each member of its group: two inputs from one GPU and
    /// none from another (a chain moved to the wrong GPU, a term computed twice) is a finding.
    /// Decided where every input's GPU is known: a compute node's, or where a send_recv delivers.
    mutating func checkCollectiveMembers() {
        for (v, node) in graph.nodes.enumerated() where isValid(v) && node.op.isCommunication && node.op != .sendRecv {
            guard node.group.count > 1, Set(node.group).count == node.group.count else { continue }
            var producers: [Int: Set<Int>] = [:]
            var known = true
            for e in incoming(v) {
                let from = graph.edges[Int(e)].from
                let u = graph.nodes[from]
                guard let gpu = u.gpu ?? (u.op == .sendRecv ? u.group.last : nil) else {
                    known = false
                    break
                }
                producers[gpu, default: []].insert(from)
            }
            guard known, !producers.isEmpty else { continue }
            let twice = node.group.filter { (producers[$0]?.count ?? 0) > 1 }
            let never = node.group.filter { producers[$0] == nil }
            guard !twice.isEmpty || !never.isEmpty else { continue }
            var problems: [String] = []
            if !twice.isEmpty {
                problems.append(
                    "GPU\(twice.count == 1 ? "" : "s") \(GPUList.compact(twice)) feed\(twice.count == 1 ? "s" : "") it more than once")
            }
            if !never.isEmpty {
                problems.append("GPU\(never.count == 1 ? "" : "s") \(GPUList.compact(never)) never feed\(never.count == 1 ? "s" : "") it")
            }
            report(
                .crossGPU, node: v,
                "\(node.op.rawValue) \(node.name) over GPUs \(GPUList.compact(node.group)) takes one input from each member, but \(problems.joined(separator: " and "))"
            )
        }
    }
}
