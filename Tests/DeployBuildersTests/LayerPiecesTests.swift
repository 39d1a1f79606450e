import DeployModel
import DeployTestSupport
import Testing

@testable import DeployBuilders

/// Deep models are built in pieces on several cores (`DAGBuilder.layers`): the graph must be
/// the one a single pass builds, node for node and edge for edge.
@Suite struct LayerPiecesTests {
    func build(_ preset: String, layers: Int, phase: Phase? = nil, pieces: Int) throws -> OperatorGraph {
        try DAGBuilder.$forcedPieces.withValue(pieces) {
            try DeploymentBuilder().build(presetDeployment(preset, layers: layers, phase: phase))
        }
    }

    @Test(arguments: presetNames)
    func piecesBuildTheSinglePassGraph(preset: String) throws {
        // 12 layers: with pp=2 the stage boundary falls inside a piece for 5 pieces and at a
        // piece's first layer for 2 (the send/recv between stages is then in the rebuilt layer).
        let serial = try build(preset, layers: 12, pieces: 1)
        #expect(serial.nodes.count > 12 * 8)
        for pieces in [2, 3, 5, 12] {
            let pieced = try build(preset, layers: 12, pieces: pieces)
            #expect(pieced == serial, "\(preset) in \(pieces) pieces")
        }
    }

    @Test(arguments: ["tp8-pp2-dense-4l", "helix-moe-4l", "attention-pool-4l", "ma-separation-moe-4l"])
    func piecesBuildTheSinglePassGraphInDecode(preset: String) throws {
        let phase = Phase.decode(context: Dim(5120))
        let serial = try build(preset, layers: 8, phase: phase, pieces: 1)
        #expect(try build(preset, layers: 8, phase: phase, pieces: 4) == serial)
    }

    @Test func aLayerReadingFurtherBackIsBuiltInOnePass() throws {
        // Each layer also reads a node two layers back (the input for the first two): a piece
        // cannot stand alone, so the rest is built in one pass and the graph is still the
        // single-pass one.
        func graph(pieces: Int) throws -> OperatorGraph {
            try DAGBuilder.$forcedPieces.withValue(pieces) {
                var b = DAGBuilder(name: "skip", gpus: 1, attributes: [:])
                let input = b.input(gpu: 0, shape: [Dim(2), Dim(4)])
                _ = try b.layers(9, from: [input]) { b, layer, x in
                    let y = b.unary(.gelu, "act", title: "act", gpu: 0, input: x[0])
                    // Found by name: in a piece's own builder the layer is missing and node 0 is a stand-in.
                    let back = b.graph.nodes.lastIndex { $0.name == "L\(layer - 2).act.gpu0" } ?? 0
                    return [b.add("sum", title: "sum", gpu: 0, y, back)]
                }
                return b.graph
            }
        }
        let serial = try graph(pieces: 1)
        #expect(serial.nodes.count == 1 + 9 * 2)
        #expect(serial.edges.count == 9 * 3)
        #expect(try graph(pieces: 3) == serial)
    }

    @Test func errorsSurfaceFromAnyPiece() throws {
        struct Failure: Error, Equatable { let layer: Int }
        for failing in [0, 5, 11] {
            #expect(throws: Failure(layer: failing)) {
                try DAGBuilder.$forcedPieces.withValue(3) {
                    var b = DAGBuilder(name: "fail", gpus: 1, attributes: [:])
                    let input = b.input(gpu: 0, shape: [Dim(2), Dim(4)])
                    _ = try b.layers(12, from: [input]) { b, layer, x in
                        if layer == failing { throw Failure(layer: layer) }
                        return [b.unary(.gelu, "act", title: "act", gpu: 0, input: x[0])]
                    }
                }
            }
        }
    }

    @Test func piecesFollowTheCoresAndTheDepth() {
        #expect(DAGBuilder.$forcedPieces.withValue(nil) { DAGBuilder.pieceCount(layers: 4) } == 1)
        #expect(DAGBuilder.$forcedPieces.withValue(8) { DAGBuilder.pieceCount(layers: 5) } == 5)
        let deep = DAGBuilder.$forcedPieces.withValue(nil) { DAGBuilder.pieceCount(layers: 10_000) }
        #expect(deep == Parallelism.cores)
    }
}
