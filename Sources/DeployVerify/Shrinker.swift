import DeployModel
import Foundation

/// A file's DAG rewritten at small dimensions, every node and edge kept: what `verify`
/// executes when the file as written is past its budget.
public struct ShrunkGraph: Sendable {
    /// One scaled parameter of the header's model: its name, the file's value, the one executed.
    public struct Scaled: Sendable, Equatable, Codable {
        public var name: String
        public var from: Int
        public var to: Int
    }
    public var graph: OperatorGraph
    public var assignment: [Scaled]
    /// The parameters left at the file's size and what needed them (empty where none).
    public var kept = ""

    /// `hidden 8192 -> 8, head_dim 128 -> 4, ...`: the assignment executed.
    public var summary: String { assignment.map { "\($0.name) \($0.from) -> \($0.to)" }.joined(separator: ", ") }
}

/// Shrinks a DAG's dimensions to a small consistent assignment of the header's model
/// parameters. Every dimension of every node is traced, through its operator, to the model
/// parameter it is a part of (an input's `[batch, seq, hidden]`, a cache's
/// `[batch, context - 1, kv_heads, head_dim]`, a weight's logical shape, an einsum's letter, a
/// collective's gathered or scattered dimension); each parameter is then scaled to a small
/// value that every part the file takes of it still divides, and every dimension, position
/// (`start`, `range`, `offset`, `q_offset`) and scale is rescaled with it. Counts (heads,
/// K/V heads, experts, top-k, layers, GPUs) are kept: the partition is the file's.
enum Shrinker {
    /// The model parameters a dimension can be a part of.
    enum Axis: Int, CaseIterable {
        case batch, tokens, cache, hidden, headDim, ffn, expertFFN, sharedFFN, vocab

        var header: String {
            switch self {
            case .batch: "batch"
            case .tokens: "seq"
            case .cache: "context"
            case .hidden: "hidden"
            case .headDim: "head_dim"
            case .ffn: "ffn"
            case .expertFFN: "expert_ffn"
            case .sharedFFN: "shared_expert_ffn"
            case .vocab: "vocab"
            }
        }

        /// The least value a parameter is shrunk to: masks, windows and the last-token narrows
        /// keep their meaning with a few tokens; RoPE rotates pairs.
        var minimum: Int {
            switch self {
            case .batch: 2
            case .tokens, .cache: 8
            case .vocab: 8
            default: 4
            }
        }
    }

    /// A dimension: the file's extent, the shrunk one, and the parameter it is a part of
    /// (nil: a count, kept, or a sum of parts of several).
    struct Extent {
        var full: Int
        var shrunk: Int
        var axis: Axis?
        static func literal(_ n: Int) -> Extent { Extent(full: n, shrunk: n, axis: nil) }
    }

    /// Why one pass stopped: a parameter must be a multiple of `factor` for a part the file
    /// takes of it to stay whole (the pass is run again), or the file cannot be shrunk.
    enum Stop: Error {
        /// The parameter must be a multiple of the factor; the reason names the node.
        case retry(Axis, Int, String)
        /// The parameter must be larger (positions near an end, or a window, would merge).
        case grow(Axis, String)
        case refuse(VerifyError)
    }

    /// Positions within this many of an end of a dimension are kept as they are (the last
    /// token a decode or a logits head narrows to).
    static let literalReach = 4

    static func shrink(_ graph: OperatorGraph, model: ReferenceModel, shapes: [[Int]]) throws(VerifyError) -> ShrunkGraph {
        var state = State(graph: graph, model: model, shapes: shapes)
        for _ in 0..<64 {
            do {
                return try state.pass()
            } catch {
                switch error {
                case .retry(let axis, let factor, let why): state.require(axis, factor, why)
                case .grow(let axis, let why): state.grow(axis, why)
                case .refuse(let why): throw why
                }
            }
        }
        throw VerifyError("no consistent small assignment of the header's parameters was found in 64 tries")
    }

    struct State {
        let graph: OperatorGraph
        let model: ReferenceModel
        let shapes: [[Int]]
        /// Each parameter's full value (nil: the model has none).
        var full: [Axis: Int] = [:]
        /// What each parameter's shrunk value must be a multiple of.
        var multiple: [Axis: Int] = [:]
        var shrunk: [Axis: Int] = [:]
        /// The least each parameter must be (grown where positions would merge).
        var floor: [Axis: Int] = [:]
        /// Why each parameter's multiple was last raised (a node's part or position).
        var reasons: [Axis: String] = [:]
        /// The node a pass is at (named in reasons).
        var current = ""
        /// Positions mapped along each dimension (parameter, file's extent, shrunk extent):
        /// each pass checks they keep their order and stay apart.
        var marks: [MarkKey: [(Int, Int)]] = [:]
        struct MarkKey: Hashable {
            var axis: Axis
            var full: Int
            var shrunk: Int
        }
        /// Which parameter each dimension of a named weight's model shape is (the model probed).
        var weightAxes: [String: [Axis?]] = [:]
        let incoming: [[TensorEdge]]
        let order: [Int]

        init(graph: OperatorGraph, model: ReferenceModel, shapes: [[Int]]) {
            self.graph = graph
            self.model = model
            self.shapes = shapes
            var incoming = [[TensorEdge]](repeating: [], count: graph.nodes.count)
            for e in graph.edges { incoming[e.to].append(e) }
            self.incoming = incoming.map { $0.sorted { ($0.operand ?? 0) < ($1.operand ?? 0) } }
            if case .acyclic(let order) = graph.adjacency.topologicalOrder() { self.order = order } else { self.order = [] }
            full[.batch] = model.batch
            full[.tokens] = model.seq
            if let context = model.context, !model.disaggregated { full[.cache] = context - 1 }
            full[.hidden] = model.hidden
            full[.headDim] = model.headDim
            full[.ffn] = model.ffn
            full[.expertFFN] = model.expertFFN
            full[.sharedFFN] = model.sharedExpertFFN
            full[.vocab] = model.vocab
            // RoPE rotates pairs of the head dimension.
            multiple[.headDim] = 2
            if let rotary = model.rotaryDim, let twice = Self.times(2, model.headDim) {
                multiple[.headDim] = Self.lcm(2, twice / Self.gcd(twice, rotary))
            }
            choose()
        }

        /// A disaggregated graph's cache is its prefill's keys and values: one token axis.
        func canonical(_ axis: Axis) -> Axis { axis == .cache && full[.cache] == nil ? .tokens : axis }

        mutating func require(_ axis: Axis, _ factor: Int, _ why: String) {
            let before = multiple[axis] ?? 1
            multiple[axis] = Self.lcm(before, factor)
            if multiple[axis] != before { reasons[axis] = why }
            choose()
        }

        /// Twice the parameter's shrunk value at the least (at most the file's).
        mutating func grow(_ axis: Axis, _ why: String) {
            floor[axis] = min(full[axis] ?? 0, Self.times(2, shrunk[axis] ?? 1) ?? .max)
            reasons[axis] = why
            choose()
        }

        /// The parameters kept at (or near) the file's size, and the part that needed it: what
        /// a file still over the budget when shrunk is told.
        var keptLarge: String {
            let kept = Axis.allCases.compactMap { axis -> String? in
                guard let v = full[axis], let s = shrunk[axis], s > axis.minimum, let why = reasons[axis] else { return nil }
                return s == v ? "\(axis.header) stays \(v) for \(why)" : "\(axis.header) only down to \(s) for \(why)"
            }
            return kept.joined(separator: "; ")
        }

        /// Each parameter's least multiple of what its parts need, at least its minimum and
        /// never more than the file's value.
        mutating func choose() {
            for (axis, value) in full {
                let m = multiple[axis] ?? 1
                let least = min(max(axis.minimum, floor[axis] ?? 0), value)
                shrunk[axis] = min(value, m >= least ? m : ((least - 1) / m + 1) * m)
            }
        }

        static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? abs(a) : gcd(b, a % b) }
        /// The least common multiple; past 64 bits, the larger (choose caps it at the file's value).
        static func lcm(_ a: Int, _ b: Int) -> Int { times(a / gcd(a, b), b) ?? max(a, b) }
        static func times(_ a: Int, _ b: Int) -> Int? {
            let (p, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? nil : p
        }
        static func product(_ xs: [Int]) -> Int? {
            var p = 1
            for x in xs {
                guard let next = times(p, x) else { return nil }
                p = next
            }
            return p
        }
        /// `x * s / v` rounded up, for `s <= v` (never past `x`).
        static func ratio(_ x: Int, _ s: Int, _ v: Int, roundingUp: Bool = true) -> Int {
            guard x > 0, s > 0, v > 0, s <= v else { return x }
            let wide = x.multipliedFullWidth(by: s)
            let (q, r) = v.dividingFullWidth((wide.high, wide.low))
            return roundingUp && r > 0 ? q + 1 : q
        }

        func refuse(_ node: OperatorNode, _ why: String) -> Stop {
            .refuse(VerifyError("cannot shrink \(node.name) (\(node.op.rawValue)) to execute it: \(why)"))
        }

        /// `x`, a part of parameter `axis`, at the shrunk size; a retry when it is not whole.
        func scaled(_ x: Int, _ axis: Axis) throws(Stop) -> Int {
            let axis = canonical(axis)
            guard let v = full[axis], let s = shrunk[axis], v > 0 else { return x }
            // x * s / v in 128 bits: s <= v, so the quotient is at most x.
            guard x >= 0, s <= v else { throw .refuse(VerifyError("cannot shrink \(current): a dimension of \(x)")) }
            let wide = x.multipliedFullWidth(by: s)
            let (quotient, remainder) = v.dividingFullWidth((wide.high, wide.low))
            guard remainder == 0 else { throw .retry(axis, v / Self.gcd(v, x), "\(x) of \(v) at \(current)") }
            return quotient
        }

        func extent(_ x: Int, _ axis: Axis?) throws(Stop) -> Extent {
            guard let axis else { return .literal(x) }
            return Extent(full: x, shrunk: try scaled(x, axis), axis: canonical(axis))
        }

        /// The token positions `offset`, `q_offset` and `window` count: a decode's cache, or
        /// the prompt.
        var tokenAxis: Axis { full[.cache] != nil ? .cache : .tokens }

        /// The model at the shrunk sizes (what the shrunk file's header states).
        var shrunkModel: ReferenceModel {
            var m = model
            m.batch = shrunk[.batch] ?? m.batch
            m.hidden = shrunk[.hidden] ?? m.hidden
            m.headDim = shrunk[.headDim] ?? m.headDim
            m.ffn = m.ffn.map { _ in shrunk[.ffn]! }
            m.expertFFN = m.expertFFN.map { _ in shrunk[.expertFFN]! }
            m.sharedExpertFFN = m.sharedExpertFFN.map { _ in shrunk[.sharedFFN]! }
            m.vocab = m.vocab.map { _ in shrunk[.vocab]! }
            let tokens = shrunk[.tokens] ?? m.seq
            if m.disaggregated {
                m.seq = tokens
                m.context = tokens + 1
            } else if let context = m.context, let cache = shrunk[.cache] {
                m.context = cache + 1
                // A decode's `seq` shapes nothing; kept in step with the cache when it is its length.
                m.seq = m.seq == context - 1 ? cache : min(m.seq, cache + 1)
            } else {
                m.seq = tokens
            }
            if let rotary = m.rotaryDim { m.rotaryDim = Self.ratio(rotary, m.headDim, model.headDim) }
            m.slidingWindow = m.slidingWindow.map { window($0) }
            if let positions = m.positions {
                let along = full[tokenAxis] ?? 1
                m.positions = max(Self.ratio(positions, shrunk[tokenAxis] ?? along, along), (m.context ?? m.seq) + 1)
            }
            return m
        }

        /// Windows of at most this many tokens are kept as they are.
        static let literalWindow = 8

        /// A window of `w` tokens at the shrunk size: a small one as it is, a larger one scaled
        /// (rounded up).
        func window(_ w: Int) -> Int {
            let axis = canonical(tokenAxis)
            guard let v = full[axis], let s = shrunk[axis], w > Self.literalWindow else { return w }
            // Rounded down below the whole (2047 of 2048 stays short of it), up past it.
            return max(1, Self.ratio(w, s, v, roundingUp: w >= v))
        }

        /// A window that masks some of the file's tokens must mask some of the shrunk ones, and
        /// keep its order among the positions: else the token axis grows.
        mutating func checkWindow(_ w: Int) throws(Stop) {
            let axis = canonical(tokenAxis)
            guard let v = full[axis], let s = shrunk[axis], w > 0 else { return }
            let small = window(w)
            // A window that masks some tokens masks some when shrunk, and one scaled stays
            // clear of those kept as they are (else 100 and 5 would both shrink to 1).
            if s < v && w < v && (small >= s || (w > Self.literalWindow && small <= Self.literalWindow)) {
                throw .grow(axis, "window \(w) at \(current)")
            }
            marks[MarkKey(axis: axis, full: v, shrunk: s), default: []].append((w, small))
        }

        /// Which parameter each dimension of the model's tensor `name` is: the dimensions that
        /// grow when that parameter is doubled.
        mutating func axes(ofWeight name: String) -> [Axis?]? {
            let key = WeightRoles.layerless(name)
            if let known = weightAxes[key] { return known }
            guard let base = WeightRoles.referenceShape(name, model: model) else { return nil }
            var found = [Axis?](repeating: nil, count: base.count)
            var twice = [Bool](repeating: false, count: base.count)
            for axis in Axis.allCases where full[axis] != nil && axis != .tokens && axis != .cache && axis != .batch {
                var probe = model
                // Another value (one more, or one less at the top of the range).
                func other(_ x: Int) -> Int { x == .max ? x - 1 : x + 1 }
                switch axis {
                case .hidden: probe.hidden = other(probe.hidden)
                case .headDim: probe.headDim = other(probe.headDim)
                case .ffn: probe.ffn = probe.ffn.map(other)
                case .expertFFN: probe.expertFFN = probe.expertFFN.map(other)
                case .sharedFFN: probe.sharedExpertFFN = probe.sharedExpertFFN.map(other)
                case .vocab: probe.vocab = probe.vocab.map(other)
                default: continue
                }
                guard let grown = WeightRoles.referenceShape(name, model: probe), grown.count == base.count else { continue }
                for i in base.indices where grown[i] != base[i] {
                    if found[i] != nil { twice[i] = true }
                    found[i] = axis
                }
            }
            for i in found.indices where twice[i] { found[i] = nil }
            weightAxes[key] = found
            return found
        }

        /// A weight's local shape at the shrunk size: the model's tensor of its name at the
        /// shrunk sizes, in the file's layout (consecutive dimensions merged), cut by `weight_place`.
        mutating func weight(_ node: OperatorNode, shrunkModel: ReferenceModel) throws(Stop) -> (local: [Extent], text: String)? {
            guard let text = node.attributes["weight"] else { return nil }
            guard let shape = try? Shape.parse(text), let local = Verifier.concrete(shape) else {
                throw refuse(node, "its weight \(text) is not a list of positive integers")
            }
            guard let name = node.attributes["weight_logical"], let axes = axes(ofWeight: name),
                let reference = WeightRoles.referenceShape(name, model: model),
                let small = WeightRoles.referenceShape(name, model: shrunkModel), small.count == reference.count
            else {
                throw refuse(
                    node, "its weight is no tensor of the header's model (weight_logical '\(node.attributes["weight_logical"] ?? "")')")
            }
            let slice = node.attributes["weight_place"].flatMap(Placement.parse) ?? .replicate
            var result: [Extent] = []
            var r = 0
            for (d, size) in local.enumerated() {
                let parts = slice.shards[d]?.parts ?? 1
                // The model's dimensions this one merges.
                var product = 1
                var axis: Axis?
                var axisCount = 0
                var group: [Int] = []
                guard let logical = Self.times(size, parts) else { throw refuse(node, "its weight's dim \(d) overflows") }
                while r < reference.count && (group.isEmpty || product < logical) {
                    guard let next = Self.times(product, reference[r]) else { throw refuse(node, "its weight overflows") }
                    product = next
                    group.append(r)
                    if let a = axes[r] {
                        axis = a
                        axisCount += 1
                    }
                    r += 1
                }
                guard product == logical else {
                    throw refuse(node, "its weight \(text) in part \(slice) is not the model's \(name) \(reference)")
                }
                if axisCount == 1, let axis {
                    result.append(Extent(full: size, shrunk: try scaled(size, axis), axis: canonical(axis)))
                } else {
                    guard let whole = Self.product(group.map { small[$0] }), whole % parts == 0 else {
                        throw refuse(node, "its weight's dim \(d) cannot be cut into \(parts) parts when shrunk")
                    }
                    result.append(Extent(full: size, shrunk: whole / parts, axis: nil))
                }
            }
            guard r == reference.count else { throw refuse(node, "its weight \(text) is not the model's \(name) \(reference)") }
            return (result, "[" + result.map { String($0.shrunk) }.joined(separator: ",") + "]")
        }

        /// Position `x` along `e` at the shrunk size: the ends and positions near them kept
        /// where they are, others scaled with the parameter.
        mutating func position(_ x: Int, along e: Extent, _ node: OperatorNode) throws(Stop) -> Int {
            guard x >= 0, x <= e.full else { throw refuse(node, "position \(x) is outside 0...\(e.full)") }
            if x == 0 { return 0 }
            if x == e.full { return e.shrunk }
            let result: Int
            let fromEnd = e.full - x
            if fromEnd <= Shrinker.literalReach && fromEnd < x {
                guard e.shrunk - fromEnd > 0 else {
                    guard let axis = e.axis, e.shrunk < e.full else { throw refuse(node, "position \(x) of \(e.full) cannot be kept") }
                    throw .grow(canonical(axis), "position \(x) of \(e.full) at \(current)")
                }
                result = e.shrunk - fromEnd
            } else if x <= Shrinker.literalReach && x < fromEnd {
                guard x < e.shrunk else {
                    guard let axis = e.axis, e.shrunk < e.full else { throw refuse(node, "position \(x) of \(e.full) cannot be kept") }
                    throw .grow(canonical(axis), "position \(x) of \(e.full) at \(current)")
                }
                result = x
            } else {
                guard let axis = e.axis else { throw refuse(node, "position \(x) of \(e.full) is not a part of one parameter") }
                result = try scaled(x, axis)
                // Clear of the positions kept near the ends: else a position written near an
                // end would shrink to where this one does (4 for 1024 of 2048).
                if (result <= Shrinker.literalReach || result >= e.shrunk - Shrinker.literalReach) && e.shrunk < e.full {
                    throw .grow(canonical(axis), "position \(x) of \(e.full) at \(current)")
                }
            }
            if let axis = e.axis { marks[MarkKey(axis: canonical(axis), full: e.full, shrunk: e.shrunk), default: []].append((x, result)) }
            return result
        }

        /// Positions along one dimension in the file's order and apart, as they were: else the
        /// parameter grows.
        func checkMarks() throws(Stop) {
            for (key, pairs) in marks {
                let sorted = (pairs + [(0, 0), (key.full, key.shrunk)]).sorted { $0.0 < $1.0 }
                for (a, b) in zip(sorted, sorted.dropFirst()) where a.0 < b.0 && a.1 >= b.1 {
                    guard key.shrunk < key.full, let v = full[key.axis], let s = shrunk[key.axis], s < v else { continue }
                    throw .grow(key.axis, "positions \(a.0) and \(b.0) of \(key.full), which would meet")
                }
            }
        }

        /// `out` from input `input`, dimension by dimension: equal, a multiple (a gather), or a
        /// part (a scatter, a split).
        func following(_ node: OperatorNode, _ out: [Int], _ input: [Extent]) throws(Stop) -> [Extent] {
            guard out.count == input.count else { throw refuse(node, "its out has rank \(out.count), its input \(input.count)") }
            var result: [Extent] = []
            for (x, e) in zip(out, input) {
                if x == e.full {
                    result.append(e)
                } else if x % e.full == 0 {
                    guard let grown = Self.times(e.shrunk, x / e.full) else { throw refuse(node, "its out overflows") }
                    result.append(Extent(full: x, shrunk: grown, axis: e.axis))
                } else if e.full % x == 0 {
                    let parts = e.full / x
                    if let axis = e.axis {
                        result.append(Extent(full: x, shrunk: try scaled(x, axis), axis: axis))
                    } else {
                        guard e.shrunk % parts == 0 else { throw refuse(node, "\(e.shrunk) cannot be cut into \(parts) parts") }
                        result.append(Extent(full: x, shrunk: e.shrunk / parts, axis: nil))
                    }
                } else {
                    throw refuse(node, "its out \(out) is neither a part nor a multiple of its input \(input.map(\.full))")
                }
            }
            return result
        }

        func integer(_ node: OperatorNode, _ key: String) -> Int? { node.attributes[key].flatMap { Int($0) } }

        /// One pass: every node's dimensions, then the rewritten graph.
        mutating func pass() throws(Stop) -> ShrunkGraph {
            guard order.count == graph.nodes.count else { throw .refuse(VerifyError("the graph has a cycle")) }
            let small = shrunkModel
            var extents = [[Extent]](repeating: [], count: graph.nodes.count)
            var nodes = graph.nodes
            let tokenFull = canonical(tokenAxis)
            // The positions a prompt's or a cache's tokens are numbered by.
            let tokens = Extent(full: full[tokenFull] ?? 1, shrunk: shrunk[tokenFull] ?? 1, axis: tokenFull)
            marks = [:]
            current = "the header"
            if let w = model.slidingWindow { try checkWindow(w) }
            for v in order {
                let node = graph.nodes[v]
                current = node.name
                let out = shapes[v]
                let inputs = incoming[v].map { extents[$0.from] }
                var set: [(String, String?)] = []
                func first() throws(Stop) -> [Extent] {
                    guard let e = inputs.first else { throw refuse(node, "it has no input") }
                    return e
                }
                var result: [Extent]
                switch node.op {
                case .input:
                    let decode = node.attributes["phase"] == "decode" || (node.attributes["phase"] != "prefill" && model.context != nil)
                    let whole: [Axis?] =
                        node.attributes["data"] == "tokens" || node.attributes["data"] == "positions"
                        ? [.batch, decode ? nil : .tokens] : [.batch, decode ? nil : .tokens, .hidden]
                    guard out.count == whole.count else { throw refuse(node, "an input is \(whole.count)-dimensional") }
                    result = []
                    for (x, axis) in zip(out, whole) { result.append(try extent(x, axis)) }
                    if let offset = integer(node, "offset"), offset != 0 {
                        set.append(("offset", String(try position(offset, along: tokens, node))))
                    }
                case .kvCache:
                    guard out.count == 4 else { throw refuse(node, "a cache is [batch, tokens, kv_heads, head_dim]") }
                    let cacheAxis: Axis = full[.cache] != nil ? .cache : .tokens
                    result = [try extent(out[0], .batch), try extent(out[1], cacheAxis), .literal(out[2]), try extent(out[3], .headDim)]
                    if let text = node.attributes["range"] {
                        let whole = Extent(
                            full: full[canonical(cacheAxis)] ?? 0, shrunk: shrunk[canonical(cacheAxis)] ?? 0, axis: cacheAxis)
                        guard let (a, b) = TokenRange.parse(text), a >= 0, a <= b, b <= whole.full, b - a == out[1] else {
                            throw refuse(node, "its range '\(text)' is not \(out[1]) of the cache's \(whole.full) tokens (its out)")
                        }
                        let (start, end) = (try position(a, along: whole, node), try position(b, along: whole, node))
                        set.append(("range", "\(start):\(end)"))
                        result[1] = Extent(full: out[1], shrunk: end - start, axis: cacheAxis)
                    }
                case .matmul:
                    guard let eq = node.attributes["eq"], let einsum = try? Einsum(eq) else { throw refuse(node, "no usable 'eq'") }
                    let lhs = try first()
                    let rhs: [Extent]
                    if let w = try weight(node, shrunkModel: small) {
                        rhs = w.local
                        set.append(("weight", w.text))
                    } else {
                        guard inputs.count == 2 else { throw refuse(node, "a matmul without a weight takes two inputs") }
                        rhs = inputs[1]
                    }
                    guard lhs.count == einsum.lhs.count, rhs.count == einsum.rhs.count, out.count == einsum.result.count else {
                        throw refuse(node, "its operands do not match eq \(eq)")
                    }
                    var letters: [Character: Extent] = [:]
                    for (c, e) in zip(einsum.lhs, lhs) { letters[c] = e }
                    for (c, e) in zip(einsum.rhs, rhs) where letters[c] == nil { letters[c] = e }
                    result = []
                    for (c, x) in zip(einsum.result, out) {
                        guard let e = letters[c], e.full == x else { throw refuse(node, "its out \(out) does not follow eq \(eq)") }
                        result.append(e)
                    }
                    // Get_Time's arguments at the shrunk sizes.
                    if let mkn = try? einsum.getTimeArguments(Shape(lhs.map { Dim($0.shrunk) }), Shape(rhs.map { Dim($0.shrunk) })) {
                        set += [("m", mkn.m.description), ("k", mkn.k.description), ("n", mkn.n.description)]
                    }
                case .concat:
                    let dim = integer(node, "dim") ?? 0
                    guard !inputs.isEmpty, inputs.allSatisfy({ $0.count == out.count }), dim >= 0, dim < out.count else {
                        throw refuse(node, "its inputs do not concatenate along dim \(dim)")
                    }
                    let along = inputs.map { $0[dim] }
                    var copy = out
                    copy[dim] = along[0].full
                    result = try following(node, copy, inputs[0])
                    let axis = along.allSatisfy({ $0.axis == along[0].axis }) ? along[0].axis : nil
                    result[dim] = Extent(full: out[dim], shrunk: along.reduce(0) { $0 + $1.shrunk }, axis: axis)
                case .narrow:
                    let input = try first()
                    let dim = integer(node, "dim") ?? 0
                    guard dim >= 0, dim < input.count, out.count == input.count else {
                        throw refuse(node, "dim \(dim) is outside its input")
                    }
                    let e = input[dim]
                    let start = integer(node, "start") ?? 0
                    let length = integer(node, "length") ?? 1
                    let from = start < 0 ? e.full + start : start
                    let (a, b) = (try position(from, along: e, node), try position(from + length, along: e, node))
                    guard b > a else { throw refuse(node, "\(length) from \(start) of \(e.full) shrinks to nothing") }
                    set.append(("start", String(start < 0 ? a - e.shrunk : a)))
                    set.append(("length", String(b - a)))
                    result = input
                    result[dim] = Extent(full: out[dim], shrunk: b - a, axis: length <= Shrinker.literalReach ? nil : e.axis)
                case .embedding:
                    let ids = try first()
                    guard let w = try weight(node, shrunkModel: small), w.local.count == 2 else {
                        throw refuse(node, "an embedding needs its table as 'weight' [rows, hidden]")
                    }
                    set.append(("weight", w.text))
                    result = ids + [w.local[1]]
                case .topk:
                    result = Array(try first().dropLast()) + [.literal(out.last ?? 1)]
                case .dispatch:
                    guard inputs.count == 2, out.count == 3, let h = inputs[0].last, let k = inputs[1].last else {
                        throw refuse(node, "a dispatch takes tokens and routing and makes [experts, capacity, hidden]")
                    }
                    let experts = integer(node, "experts") ?? 1
                    let factor = node.attributes["capacity_factor"].flatMap(MoERouting.parseFactor) ?? Dim(1)
                    let tokens = inputs[1].dropLast()
                    guard let fullTokens = Self.product(tokens.map(\.full)),
                        let smallTokens = Self.product(tokens.map(\.shrunk))
                    else { throw refuse(node, "its tokens overflow") }
                    func capacity(_ t: Int) -> Int? {
                        (try? MoERouting.capacity(tokens: Dim(t), topK: k.full, experts: experts, capacityFactor: factor))?.intValue.map(
                            Int.init)
                    }
                    // The rule's capacity stays the rule's; another keeps its share of the tokens.
                    let c =
                        capacity(fullTokens) == out[1]
                        ? capacity(smallTokens) ?? 1 : max(1, Self.ratio(out[1], min(smallTokens, fullTokens), fullTokens))
                    result = [.literal(out[0]), Extent(full: out[1], shrunk: c, axis: nil), h]
                    if node.attributes["capacity"] != nil { set.append(("capacity", String(c))) }
                case .combine:
                    guard inputs.count == 2, let h = inputs[0].last else { throw refuse(node, "a combine takes buffers and routing") }
                    result = Array(inputs[1].dropLast()) + [h]
                case .attention:
                    result = try following(node, out, try first())
                default:
                    result = try following(node, out, try first())
                }
                if node.op == .layernorm || node.op == .rmsnorm, let w = try weight(node, shrunkModel: small) {
                    guard w.local.last?.shrunk == result.last?.shrunk else { throw refuse(node, "its gain does not span its rows") }
                    set.append(("weight", w.text))
                }
                if node.op == .attention || node.op == .softmax {
                    if let scale = node.attributes["scale"].flatMap(Double.init), let v = full[.headDim], let s = shrunk[.headDim] {
                        set.append(("scale", "\(scale * (Double(v) / Double(s)).squareRoot())"))
                    }
                    if let offset = integer(node, "q_offset"), offset != 0 {
                        set.append(("q_offset", String(try position(offset, along: tokens, node))))
                    }
                    if let w = integer(node, "window") {
                        try checkWindow(w)
                        set.append(("window", String(window(w))))
                    }
                }
                if node.op == .rope {
                    if let offset = integer(node, "offset"), offset != 0 {
                        set.append(("offset", String(try position(offset, along: tokens, node))))
                    }
                    if let rotary = integer(node, "rotary_dim") {
                        let small = try scaled(rotary, .headDim)
                        // Pairs rotate: an even count at the shrunk size too.
                        if small % 2 != 0 || small < 2, let v = full[.headDim], let twice = Self.times(2, v), rotary > 0 {
                            throw .retry(.headDim, twice / Self.gcd(twice, rotary), "rotary_dim \(rotary) at \(node.name)")
                        }
                        set.append(("rotary_dim", String(small)))
                    }
                }
                guard result.count == out.count, zip(result, out).allSatisfy({ $0.full == $1 }), result.allSatisfy({ $0.shrunk > 0 }) else {
                    throw refuse(node, "its out \(out) does not follow from its inputs")
                }
                extents[v] = result
                nodes[v].out = Shape(result.map { Dim($0.shrunk) })
                // A label states the file's sizes.
                nodes[v].label = nil
                for (key, value) in set where node.attributes[key] != nil || value != nil { nodes[v].attributes[key] = value }
            }
            try checkMarks()
            // Each header parameter: written at its shrunk value where the header states it, and
            // told where it changed.
            let parameters: [(key: String, from: Int?, to: Int?)] = [
                ("batch", model.batch, small.batch), ("seq", model.seq, small.seq), ("context", model.context, small.context),
                ("hidden", model.hidden, small.hidden), ("head_dim", model.headDim, small.headDim), ("ffn", model.ffn, small.ffn),
                ("expert_ffn", model.expertFFN, small.expertFFN), ("shared_expert_ffn", model.sharedExpertFFN, small.sharedExpertFFN),
                ("vocab", model.vocab, small.vocab), ("rotary_dim", model.rotaryDim, small.rotaryDim),
                ("sliding_window", model.slidingWindow, small.slidingWindow), ("positions", model.positions, small.positions),
            ]
            var attributes = graph.attributes
            var assignment: [ShrunkGraph.Scaled] = []
            for (key, from, to) in parameters {
                if attributes[key] != nil, let to { attributes[key] = String(to) }
                // A decode's `seq` shapes nothing: not part of what is told.
                if key == "seq" && model.context != nil && !model.disaggregated { continue }
                if let from, let to, from != to { assignment.append(.init(name: key, from: from, to: to)) }
            }
            let shrunkGraph = OperatorGraph(name: graph.name, gpus: graph.gpus, attributes: attributes, nodes: nodes, edges: graph.edges)
            return ShrunkGraph(graph: shrunkGraph, assignment: assignment, kept: keptLarge)
        }
    }
}
