import DeployBuilders
import DeployModel
import DeploySpecs
import Foundation
import Testing

@testable import DeployVerify

/// A file past verify's budget is executed at a small consistent assignment (Shrinker).
@Suite struct ShrinkerTests {
    static func full(_ preset: String) throws -> OperatorGraph {
        let spec = try Presets.named(preset)
        return try DeploymentBuilder().build(try #require(spec).deployment)
    }

    @Test func theAssignmentKeepsEveryPartWhole() throws {
        let small = try Verifier.shrunk(try Self.full("llama2-70b-tp8-pp2"))
        // The MLP's width is cut 8 ways by TP: a multiple of 8; the rest at their least.
        #expect(small.assignment.contains(.init(name: "ffn", from: 28672, to: 8)))
        #expect(small.assignment.contains(.init(name: "hidden", from: 8192, to: 4)))
        #expect(small.assignment.contains(.init(name: "seq", from: 2048, to: 8)))
        let gate = try #require(small.graph.nodes.first { $0.name == "L0.gate.gpu0" })
        #expect(gate.attributes["weight"] == "[4,1]" && gate.out == Shape([Dim(2), Dim(8), Dim(1)]))
        // Counts stay: 64 heads over 8 GPUs, 8 each.
        let q = try #require(small.graph.nodes.first { $0.name == "L0.q.gpu0" })
        #expect(q.out == Shape([Dim(2), Dim(8), Dim(8), Dim(4)]) && q.attributes["m"] == "16" && q.attributes["n"] == "32")
        #expect(small.graph.attributes["hidden"] == "4" && small.graph.attributes["heads"] == "64")
    }

    @Test func scalesFollowTheHeadDimension() throws {
        // 1/sqrt(128) at full size, 1/sqrt(4) shrunk.
        let small = try Verifier.shrunk(try Self.full("llama3-8b-tp1"))
        let attention = small.graph.nodes.filter { $0.op == .attention }
        #expect(!attention.isEmpty)
        #expect(attention.allSatisfy { $0.attributes["scale"].flatMap(Double.init).map { abs($0 - 0.5) < 1e-12 } == true })
    }

    @Test func aDimensionNoParameterGivesIsRefusedWithItsNode() throws {
        var g = try Self.full("tp8-pp2-dense-4l")
        let i = try #require(g.nodes.firstIndex { $0.name == "L1.residual1.gpu2" })
        g.updateNode(i) { $0.out = Shape([Dim(1024), Dim(10000), Dim(8191)]) }
        #expect {
            _ = try Verifier.shrunk(g)
        } throws: { error in
            "\(error)".contains("L1.residual1.gpu2") && "\(error)".contains("cannot shrink")
        }
    }

    @Test func checkLeavesAGraphOfMoreNodesThanItsLimitToVerify() throws {
        var g = try Self.full("tp8-pp2-dense-4l")
        let x = try #require(g.nodes.first { $0.op == .input })
        var nodes = g.nodes
        for n in 0..<(Verifier.checkNodeLimit - nodes.count + 1) {
            var copy = x
            copy.name = "extra\(n)"
            nodes.append(copy)
        }
        g = OperatorGraph(name: g.name, gpus: g.gpus, attributes: g.attributes, nodes: nodes, edges: g.edges)
        #expect {
            try Verifier.precheck(g)
        } throws: { error in
            (error as? VerifyError)?.overBudget == true && "\(error)".contains("100000")
        }
    }

    @Test func theModelKeysVerifyReplacesAreEveryKeyAModelWrites() throws {
        // verify FILE --hf-config replaces TransformerModel.attributeKeys in a file's header.
        for spec in try Presets.all() {
            let keys = Set(spec.deployment.model.attributes.keys)
            #expect(keys.isSubset(of: TransformerModel.attributeKeys), "\(keys.subtracting(TransformerModel.attributeKeys))")
        }
    }
}
