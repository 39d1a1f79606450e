import DeployModel
import Dispatch

/// Writes an `OperatorGraph` as DOT text: deterministic (byte-identical for equal graphs), one
/// node or edge per line, every ID and value quoted so that libcgraph reads back exactly the
/// same strings.
///
/// A large graph is rendered in small pieces on every core while the pieces before are handed
/// on in order (`stream`), so that a file is written as it is rendered and the text is never
/// whole in memory; `write` collects the pieces.
public struct DOTWriter: Sendable {
    /// Graphs with fewer nodes are rendered on one thread.
    public var parallelThreshold: Int

    public init(parallelThreshold: Int = 20_000) { self.parallelThreshold = parallelThreshold }

    public func write(_ graph: OperatorGraph) throws(DOTWriteError) -> [UInt8] {
        var out: [UInt8] = []
        do {
            try stream(graph) { out.append(contentsOf: $0) }
        } catch let error as DOTWriteError {
            throw error
        } catch {
            preconditionFailure("appending to an array threw \(error)")
        }
        return out
    }

    public func writeString(_ graph: OperatorGraph) throws(DOTWriteError) -> String {
        String(decoding: try write(graph), as: UTF8.self)
    }

    /// Renders the DOT text and hands it to `emit` in consecutive pieces (their concatenation is
    /// `write(graph)`), `pieceNodes` nodes or twice as many edges a piece. Graphs of at least
    /// `parallelThreshold` nodes are rendered by one worker per core, each keeping up to
    /// `StreamSlots.depth` pieces ahead, while the thread that called hands them on in order.
    /// An error thrown by `emit` stops the rendering and is rethrown.
    public func stream(_ graph: OperatorGraph, pieceNodes: Int = 8192, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(pieceNodes > 0)
        let head = try headText(graph)
        try head.withUnsafeBytes(emit)
        let edges = graph.normalized().edges
        var pieces: [StreamPiece] = stride(from: 0, to: graph.nodes.count, by: pieceNodes).map {
            .nodes($0..<min($0 + pieceNodes, graph.nodes.count))
        }
        pieces += stride(from: 0, to: edges.count, by: 2 * pieceNodes).map { .edges($0..<min($0 + 2 * pieceNodes, edges.count)) }
        let workers = graph.nodes.count < parallelThreshold ? 1 : Parallelism.cores
        let slots = StreamSlots(graph: graph, edges: edges, pieces: pieces, workers: workers)
        if workers == 1 {
            for index in pieces.indices {
                try slots.render(index)
                try slots.emit(index, emit)
            }
        } else {
            // Worker w renders pieces w, w + workers, ... each into the next of its buffers, as
            // long as one is free; this thread hands the pieces on in order and frees their buffers.
            let group = DispatchGroup()
            for worker in 0..<workers {
                DispatchQueue.global(qos: .userInitiated).async(group: group) { slots.work(worker) }
            }
            do {
                for index in pieces.indices {
                    try slots.awaitPiece(index)
                    try slots.emit(index, emit)
                    slots.release(index)
                }
            } catch {
                slots.cancel()
                group.wait()
                throw error
            }
            group.wait()
        }
        try Array("}\n".utf8).withUnsafeBytes(emit)
    }

    private func headText(_ graph: OperatorGraph) throws(DOTWriteError) -> [UInt8] {
        var head: [UInt8] = []
        head.append(contentsOf: "digraph ".utf8)
        try DOTQuoting.appendQuoted(graph.name, to: &head)
        head.append(contentsOf: " {\n".utf8)
        var graphAttributes = graph.attributes
        if let gpus = graph.gpus { graphAttributes[DOTSchema.gpus] = String(gpus) }
        if !graphAttributes.isEmpty {
            head.append(contentsOf: "  graph [".utf8)
            for (i, pair) in graphAttributes.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { head.append(contentsOf: ", ".utf8) }
                try Self.appendKey(pair.key, to: &head)
                head.append(UInt8(ascii: "="))
                try DOTQuoting.appendQuoted(pair.value, to: &head)
            }
            head.append(contentsOf: "];\n".utf8)
        }
        return head
    }

    static func appendKey(_ key: String, to out: inout [UInt8]) throws(DOTWriteError) {
        if DOTWriter.isPlainID(key) {
            out.append(contentsOf: key.utf8)
        } else {
            try DOTQuoting.appendQuoted(key, to: &out)
        }
    }

    private static let keywords: Set<String> = ["node", "edge", "graph", "digraph", "subgraph", "strict"]

    /// An unquoted DOT ID: letters, digits and underscores, not starting with a digit,
    /// and not a keyword.
    static func isPlainID(_ text: String) -> Bool {
        guard let first = text.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        guard !keywords.contains(text.lowercased()) else { return false }
        return text.utf8.allSatisfy { b in
            b == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
        }
    }

    /// ", name=" for each of NodeAttributes' common names, one after another: code `c`'s text is
    /// `bytes[starts[c - 1]..<starts[c]]`.
    fileprivate static let commonKeyPrefixes: (bytes: [UInt8], starts: [Int]) = {
        var bytes: [UInt8] = []
        var starts = [0]
        for name in NodeAttributes.commonNames {
            bytes.append(contentsOf: ", ".utf8)
            try! appendKey(name, to: &bytes)
            bytes.append(UInt8(ascii: "="))
            starts.append(bytes.count)
        }
        return (bytes, starts)
    }()
}

/// A run of nodes or edges rendered as one piece by `DOTWriter.stream`.
private enum StreamPiece: Sendable {
    case nodes(Range<Int>)
    case edges(Range<Int>)
}

/// `DOTWriter.stream`'s workers and buffers. Piece `i` is rendered by worker `i % workers`
/// into that worker's buffer `(i / workers) % depth`; a worker waits for a free buffer, the
/// caller for a rendered piece. A worker touches only its own renderer and the buffer it
/// holds; the caller reads a buffer only between its worker's signal and its own release.
private final class StreamSlots: @unchecked Sendable {
    static let depth = 3
    let edges: [TensorEdge]
    let pieces: [StreamPiece]
    let workers: Int
    /// One per worker and one per buffer, each an object of its own: threads never write to a
    /// shared array (which copy-on-write could copy under another thread).
    private let renderers: [WorkerRenderer]
    private let buffers: [PieceBuffer]
    private let rendered: [DispatchSemaphore]
    private let free: [DispatchSemaphore]
    private let cancelled = ManagedAtomicFlag()

    init(graph: OperatorGraph, edges: [TensorEdge], pieces: [StreamPiece], workers: Int) {
        self.edges = edges
        self.pieces = pieces
        self.workers = workers
        renderers = (0..<workers).map { _ in WorkerRenderer(Renderer(graph: graph)) }
        buffers = (0..<workers * Self.depth).map { _ in PieceBuffer() }
        rendered = (0..<workers).map { _ in DispatchSemaphore(value: 0) }
        // Made at 0 and signalled: libdispatch traps when a semaphore is freed below the value
        // it was made with, as these are when a run stops early.
        free = (0..<workers).map { _ in
            let semaphore = DispatchSemaphore(value: 0)
            for _ in 0..<Self.depth { semaphore.signal() }
            return semaphore
        }
    }

    private func slot(_ index: Int) -> Int { (index % workers) * Self.depth + (index / workers) % Self.depth }

    func render(_ index: Int) throws {
        let buffer = buffers[slot(index)]
        let renderer = renderers[index % workers]
        buffer.bytes.removeAll()
        switch pieces[index] {
        case .nodes(let range): try renderer.renderer.appendNodes(range, to: &buffer.bytes)
        case .edges(let range): try renderer.renderer.appendEdges(edges, range, to: &buffer.bytes)
        }
    }

    /// The loop of worker `worker`, on its own thread.
    func work(_ worker: Int) {
        for index in stride(from: worker, to: pieces.count, by: workers) {
            free[worker].wait()
            if cancelled.isSet { return }
            do {
                try render(index)
                buffers[slot(index)].failure = nil
            } catch {
                buffers[slot(index)].failure = error
            }
            rendered[worker].signal()
        }
    }

    func awaitPiece(_ index: Int) throws {
        rendered[index % workers].wait()
        if let failure = buffers[slot(index)].failure { throw failure }
    }

    func emit(_ index: Int, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try emit(buffers[slot(index)].bytes.bytes)
    }

    func release(_ index: Int) { free[index % workers].signal() }

    /// Stops the workers: each returns at its next piece.
    func cancel() {
        cancelled.set()
        for semaphore in free { semaphore.signal() }
    }
}

/// A worker's renderer, kept across its pieces (with its cache of shape text).
private final class WorkerRenderer {
    var renderer: Renderer
    init(_ renderer: Renderer) { self.renderer = renderer }
}

/// A piece's text, or why it could not be rendered.
private final class PieceBuffer {
    var bytes = ByteSink(capacity: 1 << 16)
    var failure: (any Error)?
    deinit { bytes.deallocate() }
}

/// A flag one thread sets and others read, under a lock.
private final class ManagedAtomicFlag: @unchecked Sendable {
    private var value = false
    private let lock = DispatchSemaphore(value: 1)

    var isSet: Bool {
        lock.wait()
        defer { lock.signal() }
        return value
    }

    func set() {
        lock.wait()
        value = true
        lock.signal()
    }
}

/// Renders nodes and edges of one graph; remembers the text of each distinct shape.
private struct Renderer {
    let graph: OperatorGraph
    /// A million nodes have a few dozen distinct shapes: each is formatted once.
    var shapeText: [Shape: [UInt8]] = [:]
    /// The last shape looked up and its text: consecutive nodes often share a shape.
    var lastShape: Shape?
    var lastShapeText: [UInt8] = []

    init(graph: OperatorGraph) { self.graph = graph }

    mutating func appendNodes(_ range: Range<Int>, to out: inout ByteSink) throws(DOTWriteError) {
        let nodes = graph.nodes
        let prefixes = DOTWriter.commonKeyPrefixes
        let result = nodes.withUnsafeBufferPointer { nodes in
            prefixes.bytes.withUnsafeBufferPointer { prefixBytes in
                Result { () throws(DOTWriteError) in
                    for index in range {
                        try appendNode(nodes.baseAddress! + index, prefixBytes, prefixes.starts, to: &out)
                    }
                }
            }
        }
        try result.get()
    }

    private mutating func appendNode(
        _ node: UnsafePointer<OperatorNode>, _ prefixBytes: UnsafeBufferPointer<UInt8>, _ prefixStarts: [Int],
        to out: inout ByteSink
    ) throws(DOTWriteError) {
        out.append("  ")
        try Self.appendQuoted(node.pointee.name, to: &out)
        out.append(" [op=\"")
        out.append(bytesOf: node.pointee.op.rawValue)
        out.append(UInt8(ascii: "\""))
        if let gpu = node.pointee.gpu {
            out.append(", gpu=\"")
            out.appendDecimal(gpu)
            out.append(UInt8(ascii: "\""))
        }
        if !node.pointee.group.isEmpty {
            // GPUList.format: decimals, commas and dashes, nothing to escape.
            out.append(", group=\"")
            let group = node.pointee.group
            if group.count <= GPUList.plainLimit {
                for (i, gpu) in group.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    out.appendDecimal(gpu)
                }
            } else {
                for (i, run) in GPUList.orderedRuns(group).enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    out.appendDecimal(run.lo)
                    if run.hi != run.lo {
                        out.append(UInt8(ascii: "-"))
                        out.appendDecimal(run.hi)
                    }
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(", out=\"")
        appendShape(node.pointee.out, to: &out)
        out.append(UInt8(ascii: "\""))
        if let layer = node.pointee.layer {
            out.append(", layer=\"")
            out.appendDecimal(layer)
            out.append(UInt8(ascii: "\""))
        }
        if let block = node.pointee.block {
            out.append(", block=")
            try Self.appendQuoted(block, to: &out)
        }
        let failure = node.pointee.attributes.withRawAttributes { cursor -> DOTWriteError? in
            while let (code, name, value) = cursor.next() {
                if code > 0 {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: prefixBytes[prefixStarts[code - 1]..<prefixStarts[code]]))
                } else {
                    let key = String(decoding: name, as: UTF8.self)
                    // The core attributes are written from their fields above.
                    if DOTSchema.coreNodeAttributes.contains(key) { continue }
                    var bytes: [UInt8] = Array(", ".utf8)
                    do throws(DOTWriteError) {
                        try DOTWriter.appendKey(key, to: &bytes)
                    } catch {
                        return error
                    }
                    bytes.append(UInt8(ascii: "="))
                    out.append(bytes)
                }
                do throws(DOTWriteError) {
                    try DOTQuoting.appendQuoted(bytes: value, into: &out)
                } catch {
                    return error
                }
            }
            return nil
        }
        if let failure { throw failure }
        if let label = node.pointee.label {
            out.append(", label=")
            DOTQuoting.appendLabel(label, into: &out)
        }
        out.append("];\n")
    }

    private mutating func appendShape(_ shape: Shape, to out: inout ByteSink) {
        if shape != lastShape {
            if let known = shapeText[shape] {
                lastShapeText = known
            } else {
                lastShapeText = Array(shape.description.utf8)
                shapeText[shape] = lastShapeText
            }
            lastShape = shape
        }
        out.append(lastShapeText)
    }

    func appendEdges(_ edges: [TensorEdge], _ range: Range<Int>, to out: inout ByteSink) throws(DOTWriteError) {
        let result = graph.nodes.withUnsafeBufferPointer { nodes in
            edges.withUnsafeBufferPointer { edges in
                Result { () throws(DOTWriteError) in
                    for index in range {
                        let edge = edges[index]
                        out.append("  ")
                        try Self.appendQuoted(nodes[edge.from].name, to: &out)
                        out.append(" -> ")
                        try Self.appendQuoted(nodes[edge.to].name, to: &out)
                        if let operand = edge.operand {
                            out.append(" [operand=")
                            out.appendDecimal(operand)
                            out.append(UInt8(ascii: "]"))
                        }
                        out.append(";\n")
                    }
                }
            }
        }
        try result.get()
    }

    /// A name or value, quoted from its UTF-8 bytes read in place (no copy of a native string).
    private static func appendQuoted(_ text: String, to out: inout ByteSink) throws(DOTWriteError) {
        let result = text.utf8.withContiguousStorageIfAvailable { bytes in
            Result { () throws(DOTWriteError) in try DOTQuoting.appendQuoted(bytes: bytes, into: &out) }
        }
        if let result {
            try result.get()
        } else {
            try DOTQuoting.appendQuoted(text, into: &out)
        }
    }
}
