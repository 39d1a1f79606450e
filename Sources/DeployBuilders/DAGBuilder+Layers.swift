import DeployModel
import Dispatch

extension DAGBuilder {
    /// How many pieces `layers(_:from:_:)` cuts a model into: the caller's setting in tests,
    /// else one per core for models deep enough that a piece holds `minimumLayersPerPiece`.
    @TaskLocal static var forcedPieces: Int?

    static let minimumLayersPerPiece = 16

    /// Builds layers `0..<count`, each by `body(&builder, layer, x)` where `x` holds the previous
    /// layer's outputs (the nodes given as `x` for layer 0); returns the last layer's outputs,
    /// with the builder back outside any layer and block for what follows the layers.
    ///
    /// Deep models are built in pieces on several cores. A piece starting at layer `l > 0` is
    /// built in a builder of its own that first rebuilds layer `l - 1` from stand-ins for that
    /// layer's inputs (copies of the nodes `x`); the rebuilt layer's outputs must equal the
    /// real ones node for node, and the piece may use no other node of the rebuilt layer.
    /// The pieces are then appended in order, with the stand-ins' consumers connected to the
    /// real outputs, so the graph is the one a single pass would build: same nodes, same
    /// order, same edges. When a check fails (a layer that reads further back than its
    /// inputs) the rest is built in one pass.
    mutating func layers(
        _ count: Int, from x: [Int], _ body: @escaping @Sendable (inout DAGBuilder, Int, [Int]) throws -> [Int]
    ) throws -> [Int] {
        defer { (layer, block) = (nil, nil) }
        let pieces = Self.pieceCount(layers: count)
        guard pieces > 1 else { return try serialLayers(0..<count, from: x, body) }
        let bounds = (0...pieces).map { $0 * count / pieces }
        let standIns = x.map { graph.nodes[$0] }
        let results = PieceResults(count: pieces)
        let group = DispatchGroup()
        for piece in 1..<pieces {
            let (first, end) = (bounds[piece], bounds[piece + 1])
            let start = DAGBuilder(name: graph.name, gpus: graph.gpus ?? 0, attributes: [:])
            DispatchQueue.global(qos: .userInitiated).async(group: group) {
                results.store(piece, Result { try Self.buildPiece(start, standIns: standIns, layers: first..<end, body) })
            }
        }
        var outputs: [Int]
        do {
            // Room for every piece at once: the pieces are appended without growing the graph.
            outputs = try serialLayers(bounds[0]..<bounds[1], from: x, reservingFor: count, body)
        } catch {
            group.wait()
            throw error
        }
        group.wait()
        for piece in 1..<pieces {
            let built = try results.take(piece).get()
            let joined = append(built, replacing: outputs)
            // The piece's own copy is freed on another thread, not on the way to the output.
            DispatchQueue.global(qos: .utility).async { withExtendedLifetime(built) {} }
            guard let joined else { return try serialLayers(bounds[piece]..<count, from: outputs, body) }
            outputs = joined
        }
        return outputs
    }

    static func pieceCount(layers: Int) -> Int {
        if let forced = forcedPieces { return max(1, min(forced, layers)) }
        return max(1, min(Parallelism.cores, layers / minimumLayersPerPiece))
    }

    /// Builds `range` in this builder, reserving room after the first layer for `reservingFor`
    /// layers in all (the range's by default).
    private mutating func serialLayers(
        _ range: Range<Int>, from x: [Int], reservingFor layerCount: Int? = nil, _ body: (inout DAGBuilder, Int, [Int]) throws -> [Int]
    ) throws -> [Int] {
        var x = x
        let layerCount = layerCount ?? range.count
        for layer in range {
            self.layer = layer
            let (nodes, edges) = (graph.nodes.count, graph.edges.count)
            x = try body(&self, layer, x)
            if layer == range.lowerBound && layerCount > 1 {
                // Layers repeat: room for the rest at once, rather than growing (and copying) as they
                // come, with a sixteenth more for what only some layers add (sends between stages).
                let rest = layerCount - 1
                let (moreNodes, moreEdges) = ((graph.nodes.count - nodes) * rest, (graph.edges.count - edges) * rest)
                graph.reserveCapacity(
                    nodes: graph.nodes.count + moreNodes + moreNodes / 16 + 64,
                    edges: graph.edges.count + moreEdges + moreEdges / 16 + 64)
            }
        }
        return x
    }

    /// One piece, built after rebuilding the layer before it (see `layers(_:from:_:)`).
    struct Piece: Sendable {
        var graph: OperatorGraph
        /// Nodes below this index are the stand-ins and the rebuilt layer.
        var firstOwn: Int
        /// The rebuilt layer's outputs.
        var rebuiltOutputs: [Int]
        /// The piece's last layer's outputs.
        var outputs: [Int]
    }

    private static func buildPiece(
        _ start: DAGBuilder, standIns: [OperatorNode], layers: Range<Int>,
        _ body: (inout DAGBuilder, Int, [Int]) throws -> [Int]
    ) throws -> Piece {
        var b = start
        let x = standIns.map { b.graph.add($0) }
        let rebuilt = try b.serialLayers((layers.lowerBound - 1)..<layers.lowerBound, from: x, body)
        let firstOwn = b.graph.nodes.count
        let outputs = try b.serialLayers(layers, from: rebuilt, body)
        return Piece(graph: b.graph, firstOwn: firstOwn, rebuiltOutputs: rebuilt, outputs: outputs)
    }

    /// Appends `piece`, whose rebuilt layer stands for the layer that produced `outputs`, and
    /// returns the piece's outputs in this graph; nil, leaving the graph as it was, when the
    /// piece does not join (see `layers(_:from:_:)`).
    private mutating func append(_ piece: Piece, replacing outputs: [Int]) -> [Int]? {
        guard piece.rebuiltOutputs.count == outputs.count,
            zip(piece.rebuiltOutputs, outputs).allSatisfy({ piece.graph.nodes[$0] == graph.nodes[$1] })
        else { return nil }
        var standFor: [Int: Int] = [:]
        for (rebuilt, real) in zip(piece.rebuiltOutputs, outputs) { standFor[rebuilt] = real }
        let offset = graph.nodes.count - piece.firstOwn
        func map(_ node: Int) -> Int? { node >= piece.firstOwn ? node + offset : standFor[node] }
        let edges = piece.graph.edges.filter { $0.to >= piece.firstOwn }
        guard edges.allSatisfy({ map($0.from) != nil }), piece.outputs.allSatisfy({ map($0) != nil }) else { return nil }
        graph.reserveCapacity(
            nodes: graph.nodes.count + piece.graph.nodes.count - piece.firstOwn, edges: graph.edges.count + edges.count)
        graph.append(contentsOf: piece.graph.nodes[piece.firstOwn...])
        for edge in edges { graph.connect(map(edge.from)!, map(edge.to)!, operand: edge.operand) }
        return piece.outputs.map { map($0)! }
    }
}

/// The pieces built on other threads, each stored by one thread before the group is left.
private final class PieceResults: @unchecked Sendable {
    private var results: [Result<DAGBuilder.Piece, any Error>?]
    private let lock = DispatchSemaphore(value: 1)

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func store(_ index: Int, _ result: Result<DAGBuilder.Piece, any Error>) {
        lock.wait()
        results[index] = result
        lock.signal()
    }

    /// The result of piece `index`, no longer held here.
    func take(_ index: Int) -> Result<DAGBuilder.Piece, any Error> {
        lock.wait()
        defer { lock.signal() }
        let result = results[index]!
        results[index] = nil
        return result
    }
}
