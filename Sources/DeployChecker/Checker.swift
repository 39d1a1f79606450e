import DOTFormat
import DeployModel

/// What checking one DAG found.
public struct CheckReport: Sendable {
    public var file: String?
    public var findings: [Finding]
    public var nodeCount: Int
    public var edgeCount: Int
    /// Errors and warnings past `Checker.maximumFindings`, counted but not kept (each rule's
    /// count is also a `note` finding).
    public var omittedErrors: Int
    public var omittedWarnings: Int

    public init(file: String?, findings: [Finding], nodeCount: Int, edgeCount: Int, omittedErrors: Int = 0, omittedWarnings: Int = 0) {
        self.file = file
        self.findings = findings
        self.nodeCount = nodeCount
        self.edgeCount = edgeCount
        self.omittedErrors = omittedErrors
        self.omittedWarnings = omittedWarnings
    }

    public var errorCount: Int { findings.count { $0.severity == .error } + omittedErrors }
    public var warningCount: Int { findings.count { $0.severity == .warning } + omittedWarnings }
}

/// A rule and severity whose findings were counted past the limit.
struct OmittedKey: Hashable, Comparable {
    var rule: RuleID
    var severity: Severity
    static func < (a: OmittedKey, b: OmittedKey) -> Bool { a.rule != b.rule ? a.rule < b.rule : a.severity < b.severity }
}

/// Applies deploydag's rules to a decoded DAG. It never stops at the first problem: every rule
/// runs on what can be checked and records findings; exit codes are the command's business.
public struct Checker: Sendable {
    /// The GPU count when the graph declares none and the user gives none.
    public static let defaultGPUCount = 16

    /// The most findings one check keeps: a file of ten million repeated edges or bad nodes
    /// would otherwise hold gigabytes of messages. Past it, each rule's findings are counted.
    public static let maximumFindings = 100_000

    /// Overrides the graph's `gpus` attribute.
    public var gpus: Int?

    public init(gpus: Int? = nil) { self.gpus = gpus }

    public func check(_ decoded: DecodedGraph, earlier: [Finding] = []) -> CheckReport {
        var context = Context(decoded: decoded, gpuCount: gpus ?? decoded.graph.gpus ?? Self.defaultGPUCount)
        context.findings = earlier + decoded.findings
        // The placement rules need nothing the others produce: they run on a second core, and
        // their findings go where running them in sequence would put them.
        var start = context
        start.findings = []
        let (_, (placementFindings, placementOmitted)) = concurrently(
            {
                context.checkGPURange()
                context.checkGPUCoverage()
                context.checkCrossGPU()
                context.checkDuplicateEdges()
                context.checkShapes()
                context.checkHeader()
            },
            { [start] in
                var placements = start
                placements.checkPlacements()
                return (placements.findings, placements.omitted)
            })
        context.findings += placementFindings
        context.omitted.merge(placementOmitted, uniquingKeysWith: +)
        let order = context.checkCycle()
        context.checkDangling(acyclic: order != nil)
        if order != nil { context.checkMemory() }
        var sorted = context.findings.enumerated().sorted { a, b in
            let la = a.element.line ?? 0
            let lb = b.element.line ?? 0
            return la != lb ? la < lb : a.offset < b.offset
        }.map(\.element)
        var omitted = context.omitted
        if sorted.count > Self.maximumFindings {
            for f in sorted[Self.maximumFindings...] { omitted[OmittedKey(rule: f.rule, severity: f.severity), default: 0] += 1 }
            sorted.removeSubrange(Self.maximumFindings...)
        }
        for (key, count) in omitted.sorted(by: { $0.key < $1.key }) {
            sorted.append(
                Finding(
                    key.rule, .note, file: decoded.file,
                    "\(count) more \(key.severity.rawValue)\(count == 1 ? "" : "s") of this rule were counted but not kept: a check keeps at most \(Self.maximumFindings) findings"
                ))
        }
        return CheckReport(
            file: decoded.file, findings: sorted, nodeCount: decoded.graph.nodes.count, edgeCount: decoded.graph.edges.count,
            omittedErrors: omitted.filter { $0.key.severity == .error }.values.reduce(0, +),
            omittedWarnings: omitted.filter { $0.key.severity == .warning }.values.reduce(0, +))
    }
}

extension Checker {
    /// `decoded`'s graph with the placements a hand-written file leaves out filled in as the
    /// placement rules infer them: `place` where derived, `weight_place` on matmuls and
    /// embeddings (docs/placement.md). `verify` executes a file so annotated.
    public func annotated(_ decoded: DecodedGraph) -> OperatorGraph {
        var context = Context(decoded: decoded, gpuCount: gpus ?? decoded.graph.gpus ?? Self.defaultGPUCount)
        context.checkPlacements()
        let graph = decoded.graph
        var nodes = graph.nodes
        for (v, node) in nodes.enumerated() {
            // Every node's derived place but a reduce_scatter's or an all_to_all's (a part per
            // member, which one `place` cannot say).
            if node.attributes["place"] == nil, node.op != .reduceScatter, node.op != .allToAll, v < context.derivedPlaces.count,
                let place = context.derivedPlaces[v]
            {
                nodes[v].attributes["place"] = place.description
            }
            if node.attributes["weight_place"] == nil, let weight = context.inferredWeights[v] {
                nodes[v].attributes["weight_place"] = weight.description
            }
        }
        return OperatorGraph(name: graph.name, gpus: graph.gpus, attributes: graph.attributes, nodes: nodes, edges: graph.edges)
    }
}

/// Shared state of one check: the graph, its incoming-edge index, and the findings so far.
struct Context: Sendable {
    let decoded: DecodedGraph
    let gpuCount: Int
    let adjacency: Adjacency
    /// Edge indices grouped by consumer (CSR), in file order.
    let incomingOffsets: [Int32]
    let incomingEdges: [Int32]
    var findings: [Finding] = []
    /// Findings reported past `Checker.maximumFindings`, counted by rule.
    var omitted: [OmittedKey: Int] = [:]
    /// The GPUs holding the terms of each partial sum (placement rules).
    /// Gathered only when a finding needs them.
    var termHolders: [TermKey: [Int]]?
    /// The places nodes state (placement rules).
    var statedPlaces: [Placement?] = []
    /// Parses of repeated attribute strings.
    var memo = ParseMemo()
    /// Products of the matmuls checked so far, by equation and operand shapes.
    var matmulProducts: [MatmulKey<Shape>: Result<MatmulProduct, EinsumError>] = [:]
    /// Placements derived for matmuls so far, by equation and operand placements (successes only:
    /// a failure is worked out again, to report it at its node).
    var matmulPlacements: [MatmulKey<Placement>: Placement] = [:]
    /// Matmuls whose weight states no `weight_place`: the GPUs holding the same weight.
    var weightSlots: [Int: WeightSlot] = [:]
    /// The whole sizes of the header's model, where it states one (placement inference).
    var modelSizes: Set<Int>?
    /// During placement inference's first pass: each weight's activation placement.
    var weightActivations: [Int: Placement]?
    /// The placements the last pass derived, and the weights' it inferred (for `annotated`).
    var derivedPlaces: [Placement?] = []
    var inferredWeights: [Int: Placement] = [:]

    var graph: OperatorGraph { decoded.graph }

    init(decoded: DecodedGraph, gpuCount: Int) {
        self.decoded = decoded
        self.gpuCount = gpuCount
        adjacency = decoded.graph.adjacency
        let n = decoded.graph.nodes.count
        var offsets = [Int32](repeating: 0, count: n + 1)
        for e in decoded.graph.edges { offsets[e.to + 1] += 1 }
        for i in 0..<n { offsets[i + 1] += offsets[i] }
        var cursor = offsets
        var list = [Int32](repeating: 0, count: decoded.graph.edges.count)
        for (i, e) in decoded.graph.edges.enumerated() {
            list[Int(cursor[e.to])] = Int32(i)
            cursor[e.to] += 1
        }
        incomingOffsets = offsets
        incomingEdges = list
    }

    func incoming(_ node: Int) -> ArraySlice<Int32> {
        incomingEdges[Int(incomingOffsets[node])..<Int(incomingOffsets[node + 1])]
    }

    func isValid(_ node: Int) -> Bool { !decoded.invalidNodes[node] }

    mutating func report(_ rule: RuleID, node: Int? = nil, line: Int? = nil, _ message: String) {
        guard findings.count < Checker.maximumFindings else {
            omitted[OmittedKey(rule: rule, severity: .error), default: 0] += 1
            return
        }
        findings.append(
            Finding(
                rule, file: decoded.file, line: line ?? node.flatMap { decoded.line(ofNode: $0) },
                node: node.map { graph.nodes[$0].name }, message))
    }

    func describe(_ node: Int) -> String {
        let n = graph.nodes[node]
        if let gpu = n.gpu { return "\(n.op.rawValue) '\(n.name)' on GPU \(gpu)" }
        return "\(n.op.rawValue) '\(n.name)' over GPUs \(GPUList.compact(n.group))"
    }
}
