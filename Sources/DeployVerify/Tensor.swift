import DeployModel
import Foundation

/// A dense double-precision tensor, row-major. `indices` carries the experts a top-k chose.
struct Tensor {
    var shape: [Int]
    var data: [Double]
    var indices: [Int]?

    init(shape: [Int], data: [Double], indices: [Int]? = nil) {
        precondition(data.count == shape.reduce(1, *), "tensor data does not fill its shape")
        self.shape = shape
        self.data = data
        self.indices = indices
    }

    init(zeros shape: [Int]) { self.init(shape: shape, data: [Double](repeating: 0, count: shape.reduce(1, *))) }

    var count: Int { data.count }

    func strides() -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    /// The block `[lower, upper)` along `dim`.
    func slice(dim: Int, _ lower: Int, _ upper: Int) -> Tensor {
        let outer = shape[..<dim].reduce(1, *)
        let inner = shape[(dim + 1)...].reduce(1, *)
        var out: [Double] = []
        out.reserveCapacity(outer * (upper - lower) * inner)
        for o in 0..<outer {
            let base = o * shape[dim] * inner
            out.append(contentsOf: data[(base + lower * inner)..<(base + upper * inner)])
        }
        var s = shape
        s[dim] = upper - lower
        return Tensor(shape: s, data: out)
    }

    /// Part `index` of `parts` equal parts along `dim`.
    func part(dim: Int, index: Int, parts: Int) -> Tensor {
        let size = shape[dim] / parts
        return slice(dim: dim, index * size, (index + 1) * size)
    }

    static func concat(_ tensors: [Tensor], dim: Int) -> Tensor {
        var s = tensors[0].shape
        s[dim] = tensors.reduce(0) { $0 + $1.shape[dim] }
        let outer = s[..<dim].reduce(1, *)
        var out: [Double] = []
        out.reserveCapacity(s.reduce(1, *))
        for o in 0..<outer {
            for t in tensors {
                let block = t.shape[dim...].reduce(1, *)
                out.append(contentsOf: t.data[(o * block)..<((o + 1) * block)])
            }
        }
        return Tensor(shape: s, data: out)
    }

    /// The part `place` describes of this (whole) tensor; a partial term is the whole tensor
    /// divided among the terms only when asked (`partialShare`).
    func part(_ place: Placement) -> Tensor {
        var t = self
        for (dim, p) in place.shards.sorted(by: { $0.key < $1.key }) { t = t.part(dim: dim, index: p.index, parts: p.parts) }
        return t
    }

    static func + (a: Tensor, b: Tensor) -> Tensor {
        precondition(a.shape == b.shape)
        return Tensor(shape: a.shape, data: zip(a.data, b.data).map(+))
    }

    /// Applies `f` to each row along the last dimension.
    func mapRows(_ f: ([Double]) -> [Double]) -> Tensor {
        let n = shape.last ?? 1
        var out: [Double] = []
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            out.append(contentsOf: f(Array(data[i..<(i + n)])))
            i += n
        }
        return Tensor(shape: shape, data: out)
    }
}

/// The operators, shared by the DAG interpreter and the reference model so both compute the
/// same functions.
enum Kernels {
    static func einsum(_ eq: Einsum, _ a: Tensor, _ b: Tensor) -> Tensor {
        var size: [Character: Int] = [:]
        for (c, d) in zip(eq.lhs, a.shape) { size[c] = d }
        for (c, d) in zip(eq.rhs, b.shape) { size[c] = d }
        let summed = (eq.lhs + eq.rhs).filter { !eq.result.contains($0) }.reduce(into: [Character]()) {
            if !$0.contains($1) { $0.append($1) }
        }
        let outShape = eq.result.map { size[$0]! }
        let (sa, sb) = (a.strides(), b.strides())
        func strideMap(_ letters: [Character], _ strides: [Int]) -> [Character: Int] {
            var m: [Character: Int] = [:]
            for (c, s) in zip(letters, strides) { m[c, default: 0] += s }
            return m
        }
        let (ma, mb) = (strideMap(eq.lhs, sa), strideMap(eq.rhs, sb))
        let outLetters = eq.result
        let sumSizes = summed.map { size[$0]! }
        let sumCount = sumSizes.reduce(1, *)
        // Offsets of every summed index combination, computed once.
        var sumA = [Int](repeating: 0, count: sumCount)
        var sumB = [Int](repeating: 0, count: sumCount)
        for s in 0..<sumCount {
            var r = s
            for j in stride(from: summed.count - 1, through: 0, by: -1) {
                let v = r % sumSizes[j]
                r /= sumSizes[j]
                sumA[s] += (ma[summed[j]] ?? 0) * v
                sumB[s] += (mb[summed[j]] ?? 0) * v
            }
        }
        var out = [Double](repeating: 0, count: outShape.reduce(1, *))
        var index = [Int](repeating: 0, count: outLetters.count)
        let stepA = outLetters.map { ma[$0] ?? 0 }
        let stepB = outLetters.map { mb[$0] ?? 0 }
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                for o in 0..<out.count {
                    var rest = o
                    var baseA = 0
                    var baseB = 0
                    for i in stride(from: outLetters.count - 1, through: 0, by: -1) {
                        index[i] = rest % outShape[i]
                        rest /= outShape[i]
                        baseA += stepA[i] * index[i]
                        baseB += stepB[i] * index[i]
                    }
                    var acc = 0.0
                    for s in 0..<sumCount { acc += pa[baseA + sumA[s]] * pb[baseB + sumB[s]] }
                    out[o] = acc
                }
            }
        }
        return Tensor(shape: outShape, data: out)
    }

    static func softmax(_ t: Tensor, scale: Double) -> Tensor {
        t.mapRows { row in
            let scaled = row.map { $0 * scale }
            let m = scaled.max() ?? 0
            let e = scaled.map { ($0 - m).exp() }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }

    static func layerNorm(_ t: Tensor) -> Tensor {
        t.mapRows { row in
            let n = Double(row.count)
            let mean = row.reduce(0, +) / n
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
            let inv = 1 / (variance + 1e-5).squareRoot()
            return row.map { ($0 - mean) * inv }
        }
    }

    static func rmsNorm(_ t: Tensor) -> Tensor {
        t.mapRows { row in
            let inv = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(row.count) + 1e-5).squareRoot()
            return row.map { $0 * inv }
        }
    }

    static func gelu(_ t: Tensor) -> Tensor {
        Tensor(shape: t.shape, data: t.data.map { x in 0.5 * x * (1 + ((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)).tanh()) })
    }

    static func silu(_ t: Tensor) -> Tensor {
        Tensor(shape: t.shape, data: t.data.map { $0 / (1 + (-$0).exp()) })
    }

    static func relu(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, data: t.data.map { max($0, 0) }) }

    static func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape)
        return Tensor(shape: a.shape, data: zip(a.data, b.data).map(*))
    }

    /// Each row along the last dimension plus `bias` (a norm's bias).
    static func shifted(_ t: Tensor, by bias: Tensor) -> Tensor {
        precondition(bias.count == t.shape.last)
        return t.mapRows { row in zip(row, bias.data).map(+) }
    }

    /// Each row along the last dimension times `weight` (a norm's gain).
    static func scaled(_ t: Tensor, by weight: Tensor) -> Tensor {
        precondition(weight.count == t.shape.last)
        return t.mapRows { row in zip(row, weight.data).map(*) }
    }

    /// Rotary position embedding in the rotate-half layout: for `i < r/2`, dimensions `i` and
    /// `i + r/2` of each head rotate by `position x theta^(-2i/r)`; the position of index `s`
    /// along dim 1 is `offset + s`; dimensions from `r` on are left alone.
    static func rope(_ t: Tensor, theta: Double, offset: Int, rotaryDim: Int?, interleaved: Bool = false) -> Tensor {
        let d = t.shape.last!
        let r = rotaryDim ?? d
        let half = r / 2
        let inner = t.shape[2...].reduce(1, *)
        let seq = t.shape[1]
        var out = t.data
        for base in stride(from: 0, to: t.count, by: d) {
            let position = Double(offset + (base / inner) % seq)
            for i in 0..<half {
                let angle = position * Foundation.pow(theta, -2 * Double(i) / Double(r))
                let (c, sn) = (Foundation.cos(angle), Foundation.sin(angle))
                // Rotate-half pairs (i, i + r/2); GPT-J's interleaved layout pairs (2i, 2i + 1).
                let (a, b) = interleaved ? (base + 2 * i, base + 2 * i + 1) : (base + i, base + i + half)
                let (x1, x2) = (t.data[a], t.data[b])
                out[a] = x1 * c - x2 * sn
                out[b] = x2 * c + x1 * sn
            }
        }
        return Tensor(shape: t.shape, data: out)
    }

    /// Whether key `j` is visible to the query at position `position` (its index plus the
    /// query offset).
    static func visible(_ j: Int, to position: Int, causal: Bool, window: Int?) -> Bool {
        if causal && j > position { return false }
        if let window, j <= position - window { return false }
        return true
    }

    /// A softmax over the last dimension (keys) of scores `[..., q, k]`, masked: query row `i`
    /// (dim -2) sees the keys `visible` to position `i + queryOffset`.
    static func maskedSoftmax(_ t: Tensor, scale: Double, causal: Bool, window: Int?, queryOffset: Int) -> Tensor {
        guard causal || window != nil else { return softmax(t, scale: scale) }
        let (queries, keys) = (t.shape[t.shape.count - 2], t.shape[t.shape.count - 1])
        var out = [Double](repeating: 0, count: t.count)
        for rowStart in stride(from: 0, to: t.count, by: keys) {
            let position = (rowStart / keys) % queries + queryOffset
            let allowed = (0..<keys).filter { visible($0, to: position, causal: causal, window: window) }
            guard let m = allowed.map({ t.data[rowStart + $0] * scale }).max() else { continue }
            let e = allowed.map { (t.data[rowStart + $0] * scale - m).exp() }
            let sum = e.reduce(0, +)
            for (j, w) in zip(allowed, e) { out[rowStart + j] = w / sum }
        }
        return Tensor(shape: t.shape, data: out)
    }

    /// Fused attention computed directly, query by query: `q` `[b, sq, n, d]`, `k` and `v`
    /// `[b, sk, nkv, d]`; query head `h` reads K/V head `h / (n / nkv)`.
    static func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Double, causal: Bool, window: Int?, queryOffset: Int) -> Tensor {
        let (b, sq, n, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let (sk, nkv) = (k.shape[1], k.shape[2])
        let group = n / nkv
        var out = [Double](repeating: 0, count: q.count)
        for bi in 0..<b {
            for i in 0..<sq {
                for h in 0..<n {
                    let kvh = h / group
                    let qBase = ((bi * sq + i) * n + h) * d
                    var scores: [(Int, Double)] = []
                    for j in 0..<sk where visible(j, to: i + queryOffset, causal: causal, window: window) {
                        let kBase = ((bi * sk + j) * nkv + kvh) * d
                        var dot = 0.0
                        for x in 0..<d { dot += q.data[qBase + x] * k.data[kBase + x] }
                        scores.append((j, dot * scale))
                    }
                    guard let m = scores.map(\.1).max() else { continue }
                    let weights = scores.map { ($0.0, ($0.1 - m).exp()) }
                    let sum = weights.reduce(0) { $0 + $1.1 }
                    for (j, w) in weights {
                        let vBase = ((bi * sk + j) * nkv + kvh) * d
                        for x in 0..<d { out[qBase + x] += w / sum * v.data[vBase + x] }
                    }
                }
            }
        }
        return Tensor(shape: q.shape, data: out)
    }

    /// Rows of `table` `[rows, h]` for the ids in `ids`, where the table holds vocabulary rows
    /// `first ..< first + rows`; ids outside it give zeros (a vocabulary-parallel lookup).
    static func embedding(_ ids: Tensor, _ table: Tensor, first: Int) -> Tensor {
        let (rows, h) = (table.shape[0], table.shape[1])
        var out = [Double](repeating: 0, count: ids.count * h)
        for (t, id) in ids.data.enumerated() {
            let row = Int(id) - first
            guard row >= 0 && row < rows else { continue }
            for i in 0..<h { out[t * h + i] = table.data[row * h + i] }
        }
        return Tensor(shape: ids.shape + [h], data: out)
    }

    /// The `k` largest logits of each row (ties to the lower expert), their gates a softmax
    /// over the chosen logits.
    static func topK(_ logits: Tensor, k: Int) -> Tensor {
        let e = logits.shape.last!
        var gates: [Double] = []
        var chosen: [Int] = []
        var i = 0
        while i < logits.count {
            let row = Array(logits.data[i..<(i + e)])
            let picks = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(k)
            let m = picks.map { row[$0] }.max()!
            let w = picks.map { (row[$0] - m).exp() }
            let s = w.reduce(0, +)
            gates.append(contentsOf: w.map { $0 / s })
            chosen.append(contentsOf: picks)
            i += e
        }
        var shape = logits.shape
        shape[shape.count - 1] = k
        return Tensor(shape: shape, data: gates, indices: chosen)
    }

    /// Token t's position in expert e's buffer: its rank among the tokens that chose e.
    static func positions(_ routing: Tensor, experts: Int) -> (lists: [[Int]], k: Int) {
        let k = routing.shape.last!
        let tokens = routing.count / k
        var lists = [[Int]](repeating: [], count: experts)
        for t in 0..<tokens { for j in 0..<k { lists[routing.indices![t * k + j]].append(t) } }
        return (lists, k)
    }

    static func dispatch(_ x: Tensor, _ routing: Tensor, experts: Int, replicas: Int, capacity: Int) -> Tensor {
        let h = x.shape.last!
        let (lists, _) = positions(routing, experts: experts)
        var out = [Double](repeating: 0, count: experts * replicas * capacity * h)
        for e in 0..<experts {
            for (slot, t) in lists[e].prefix(capacity).enumerated() {
                for r in 0..<replicas {
                    let base = ((e * replicas + r) * capacity + slot) * h
                    for i in 0..<h { out[base + i] = x.data[t * h + i] }
                }
            }
        }
        return Tensor(shape: [experts * replicas, capacity, h], data: out)
    }

    static func combine(_ buffers: Tensor, _ routing: Tensor, experts: Int, replicas: Int, tokenShape: [Int]) -> Tensor {
        let (capacity, h) = (buffers.shape[1], buffers.shape[2])
        let (lists, k) = positions(routing, experts: experts)
        var slotOf: [Int: Int] = [:]  // (expert * tokens + token) -> position
        let tokens = routing.count / k
        for e in 0..<experts { for (p, t) in lists[e].enumerated() where p < capacity { slotOf[e * tokens + t] = p } }
        var out = [Double](repeating: 0, count: tokens * h)
        for t in 0..<tokens {
            for j in 0..<k {
                let e = routing.indices![t * k + j]
                guard let p = slotOf[e * tokens + t] else { continue }
                let gate = routing.data[t * k + j]
                for r in 0..<replicas {
                    let base = ((e * replicas + r) * capacity + p) * h
                    for i in 0..<h { out[t * h + i] += gate * buffers.data[base + i] }
                }
            }
        }
        return Tensor(shape: tokenShape + [h], data: out)
    }
}

extension Double {
    fileprivate func exp() -> Double { Foundation.exp(self) }
    fileprivate func tanh() -> Double { Foundation.tanh(self) }
}
