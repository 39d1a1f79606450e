import DeployModel

/// A schedule that respects resources: each GPU runs its compute kernels one at a time on a
/// compute stream and its communication on a separate stream; a collective starts when every
/// member's input is ready and every member's communication stream is free.
///
/// Event-driven list scheduling: whenever a stream is free, it starts the available node of the
/// earliest micro-batch (the `micro_batch` attribute; so a pipeline stage finishes one
/// micro-batch before the next and hands it on early), then of the longest remaining path to the
/// end (its upward rank), then the first in node order. Boundary nodes (input, output, kv_cache)
/// take no time and no stream.
public struct Schedule: Sendable {
    public let start: [Double]
    public let finish: [Double]
    public let makespan: Double

    init(graph: OperatorGraph, adjacency: Adjacency, order: [Int], durations: [Double]) {
        let n = graph.nodes.count
        let microBatch = graph.nodes.map { $0.attributes["micro_batch"].flatMap(Int.init) ?? 0 }
        var rank = [Double](repeating: 0, count: n)
        for v in order.reversed() {
            var best = 0.0
            for s in adjacency.successors(of: v) { best = max(best, rank[Int(s)]) }
            rank[v] = durations[v] + best
        }
        var start = [Double](repeating: 0, count: n)
        var finish = [Double](repeating: 0, count: n)
        var waiting = (0..<n).map { adjacency.inDegree($0) }
        var readyAt = [Double](repeating: 0, count: n)

        let gpuIDs = Array(Set(graph.nodes.flatMap(\.gpus))).sorted()
        var streamIndex: [Int: Int] = [:]
        for (i, g) in gpuIDs.enumerated() { streamIndex[g] = i }
        var computeFree = [Double](repeating: 0, count: gpuIDs.count)
        var commFree = [Double](repeating: 0, count: gpuIDs.count)
        var computeQueues = [PriorityQueue](repeating: PriorityQueue(), count: gpuIDs.count)
        var commAvailable: [Int] = []  // kept sorted by priority
        var events = EventQueue()
        var pendingGPUs = Set<Int>()

        func higher(_ a: Int, _ b: Int) -> Bool {
            if microBatch[a] != microBatch[b] { return microBatch[a] < microBatch[b] }
            return rank[a] != rank[b] ? rank[a] > rank[b] : a < b
        }

        func makeAvailable(_ v: Int, at time: Double) {
            let node = graph.nodes[v]
            if node.op.kind == .boundary {
                start[v] = time
                finish[v] = time
                events.push(time, v)
            } else if node.op.isCommunication {
                let position = commAvailable.firstIndex { higher(v, $0) } ?? commAvailable.count
                commAvailable.insert(v, at: position)
            } else if let gpu = node.gpu, let s = streamIndex[gpu] {
                computeQueues[s].push(v, batch: microBatch[v], rank: rank[v])
                pendingGPUs.insert(s)
            }
        }

        for v in 0..<n where waiting[v] == 0 { makeAvailable(v, at: 0) }
        var now = 0.0
        while true {
            // Start whatever can start now.
            for s in pendingGPUs where computeFree[s] <= now {
                guard let v = computeQueues[s].pop() else { continue }
                start[v] = max(now, readyAt[v])
                finish[v] = start[v] + durations[v]
                computeFree[s] = finish[v]
                events.push(finish[v], v)
            }
            pendingGPUs = Set(pendingGPUs.filter { !computeQueues[$0].isEmpty })
            var i = 0
            while i < commAvailable.count {
                let v = commAvailable[i]
                let members = graph.nodes[v].group.compactMap { streamIndex[$0] }
                if members.allSatisfy({ commFree[$0] <= now }) {
                    start[v] = max(now, readyAt[v])
                    finish[v] = start[v] + durations[v]
                    for m in members { commFree[m] = finish[v] }
                    events.push(finish[v], v)
                    commAvailable.remove(at: i)
                } else {
                    i += 1
                }
            }
            // Advance to the next finish and release its successors.
            guard let time = events.peekTime() else { break }
            now = time
            while let next = events.peekTime(), next == now {
                let v = events.pop()!
                for w in adjacency.successors(of: v) {
                    let w = Int(w)
                    readyAt[w] = max(readyAt[w], finish[v])
                    waiting[w] -= 1
                    if waiting[w] == 0 { makeAvailable(w, at: readyAt[w]) }
                }
            }
            // A stream that became free at `now` may start queued work.
            for s in computeQueues.indices where !computeQueues[s].isEmpty && computeFree[s] <= now { pendingGPUs.insert(s) }
        }
        self.start = start
        self.finish = finish
        makespan = finish.max() ?? 0
    }
}

/// A binary heap: `first(a, b)` says a comes out before b.
struct Heap<Element> {
    private var items: [Element] = []
    private let first: (Element, Element) -> Bool

    init(_ first: @escaping (Element, Element) -> Bool) { self.first = first }

    var isEmpty: Bool { items.isEmpty }
    var top: Element? { items.first }

    mutating func push(_ item: Element) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard first(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let (l, r) = (2 * i + 1, 2 * i + 2)
                var best = i
                if l < items.count && first(items[l], items[best]) { best = l }
                if r < items.count && first(items[r], items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}

/// Node ids by scheduling priority: the earliest micro-batch first, then the highest rank, then
/// the lower id.
typealias PriorityQueue = Heap<(batch: Int, rank: Double, node: Int)>

extension Heap where Element == (batch: Int, rank: Double, node: Int) {
    init() {
        self.init { a, b in
            if a.batch != b.batch { return a.batch < b.batch }
            return a.rank != b.rank ? a.rank > b.rank : a.node < b.node
        }
    }

    mutating func push(_ node: Int, batch: Int, rank: Double) { push((batch, rank, node)) }
    mutating func pop() -> Int? { (pop() as Element?)?.node }
}

/// Finish events, earliest first (ties to the lower node id).
typealias EventQueue = Heap<(time: Double, node: Int)>

extension Heap where Element == (time: Double, node: Int) {
    init() { self.init { a, b in a.time != b.time ? a.time < b.time : a.node < b.node } }

    func peekTime() -> Double? { top?.time }
    mutating func push(_ time: Double, _ node: Int) { push((time, node)) }
    mutating func pop() -> Int? { (pop() as Element?)?.node }
}
