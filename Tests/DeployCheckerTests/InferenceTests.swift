import DOTFormat
import DeployBuilders
import DeployModel
import DeployTestSupport
import Foundation
import Testing

@testable import DeployChecker

/// Placement rules on files that state no placement (docs/placement.md, "Files without
/// placements"): hand-written layers, and generated DAGs with every annotation removed.
@Suite struct PlacementInferenceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var example: String {
        get throws { try String(contentsOf: root.appendingPathComponent("docs/example.dot"), encoding: .utf8) }
    }

    static func errors(_ text: String) -> [Finding] { check(text).findings.filter { $0.severity == .error } }

    /// Every placement attribute taken out, as a hand-written file would be.
    static func stripped(_ text: String) -> String {
        text.replacing(/, (place|logical|weight_place|weight_logical)="[^"]*"/, with: "")
    }

    @Test func theHandWrittenLayerChecksClean() throws {
        let text = try Self.example
        #expect(!text.contains("place=") && !text.contains("logical="))
        #expect(check(text).findings.isEmpty, "\(check(text).findings.map(\.formatted))")
    }

    @Test func aMissingAllReduceIsAPartialAdd() throws {
        // FC2's partial sums added straight to the residual (seed 002's mistake).
        let text = try Self.example.replacingFirst("fc2_0 -> sum;", with: "fc2_0 -> out0;").replacingFirst(
            "fc2_1 -> sum;", with: "fc2_1 -> out1;"
        ).replacingFirst("  sum [op=all_reduce, group=\"0,1\", layer=0, out=\"[2,8,64]\"];\n", with: "").replacingFirst(
            "sum -> out0; ", with: ""
        ).replacingFirst("sum -> out1; ", with: "")
        let found = Self.errors(text)
        #expect(found.contains { $0.rule == .partialAdd && $0.node == "out0" && $0.message.contains("P:0/2") }, "\(found.map(\.formatted))")
        #expect(found.allSatisfy { $0.rule == .partialAdd })
    }

    @Test func anActivationOfAPartialSumIsFound() throws {
        // FC1 contracting half of the hidden width on each GPU (seed 000/001's row-parallel FC1).
        var text = try Self.example
        for g in 0...1 {
            text = text.replacingFirst(
                "fc1_\(g) [op=matmul, gpu=\(g), layer=0, eq=\"bsh,hf->bsf\", weight=\"[64,128]\", m=16, k=64,",
                with:
                    "half\(g) [op=split, gpu=\(g), layer=0, dim=2, parts=2, index=\(g), out=\"[2,8,32]\"];\n  fc1_\(g) [op=matmul, gpu=\(g), layer=0, eq=\"bsh,hf->bsf\", weight=\"[32,128]\", m=16, k=32,"
            ).replacingFirst("mlpln\(g) -> fc1_\(g)", with: "mlpln\(g) -> half\(g) -> fc1_\(g)")
        }
        let found = Self.errors(text)
        #expect(found.contains { $0.rule == .partialNonlinear && $0.node == "act0" && $0.message.contains("gelu of a partial sum") })
    }

    @Test func collectivesThatDoNotSumAreFound() throws {
        // An all-reduce replaced by a same-shape all_to_all moves partial terms without adding them.
        let swapped = try Self.example.replacingFirst("  sum [op=all_reduce,", with: "  sum [op=all_to_all, split_dim=1, concat_dim=1,")
        #expect(Self.errors(swapped).contains { $0.rule == .commVolume && $0.node == "sum" })
        // A reduce-scatter of the replicated residual doubles it.
        let doubled = try Self.example.replacingFirst("fc2_0 -> sum;", with: "fc2_0 -> out0;").replacingFirst(
            "fc2_1 -> sum;", with: "fc2_1 -> out1;"
        ).replacingFirst(
            "  sum [op=all_reduce, group=\"0,1\", layer=0, out=\"[2,8,64]\"]",
            with:
                "  sum [op=reduce_scatter, dim=1, group=\"0,1\", layer=0, out=\"[2,4,64]\"];\n  back [op=all_gather, dim=1, group=\"0,1\", layer=0, out=\"[2,8,64]\"]"
        ).replacingFirst(
            "res0 -> mlpln0", with: "res0 -> sum -> back; res0 -> mlpln0"
        ).replacingFirst("res1 -> mlpln1", with: "res1 -> sum; res1 -> mlpln1").replacingFirst("sum -> out0; ", with: "").replacingFirst(
            "sum -> out1; ", with: "")
        #expect(Self.errors(doubled).contains { $0.rule == .reduceGroup && $0.node == "sum" }, "\(Self.errors(doubled).map(\.formatted))")
    }

    @Test func aReduceScatterThenAllGatherIsAnAllReduce() throws {
        let text = try Self.example.replacingFirst(
            "  sum [op=all_reduce, group=\"0,1\", layer=0, out=\"[2,8,64]\"]",
            with:
                "  rs [op=reduce_scatter, dim=1, group=\"0,1\", layer=0, out=\"[2,4,64]\"];\n  sum [op=all_gather, dim=1, group=\"0,1\", layer=0, out=\"[2,8,64]\"]"
        ).replacingFirst("fc2_0 -> sum;", with: "fc2_0 -> rs -> sum;").replacingFirst("fc2_1 -> sum;", with: "fc2_1 -> rs;")
        #expect(Self.errors(text).isEmpty, "\(Self.errors(text).map(\.formatted))")
    }

    @Test func generatedDAGsWithoutAnnotationsStayClean() throws {
        // Every placement the builders state, removed: the inferred ones agree.
        for name in ["tp8-pp2-dense-4l", "helix-dense-2l", "attention-pool-4l", "tp8-pp2-moe-4l"] {
            let text = Self.stripped(try presetDOT(name, layers: 2))
            #expect(!text.contains("place="))
            #expect(Self.errors(text).isEmpty, "\(name): \(Self.errors(text).prefix(3).map(\.formatted))")
        }
    }

    @Test func thePerSegmentSoftmaxIsFoundWithoutAnnotations() throws {
        var deployment = presetDeployment("helix-dense-2l", layers: 1)
        deployment.helixSoftmax = .perSegment
        let text = Self.stripped(try DOTWriter().writeString(DeploymentBuilder().build(deployment)))
        let found = Self.errors(text)
        #expect(found.contains { $0.rule == .partialNonlinear && $0.message.contains("64 heads of 128 dimensions") }, "\(found.prefix(3))")
    }

    @Test func namesLoseTheirGPUNumber() {
        #expect(Context.nameWithoutGPU("fc1_1", gpu: 1) == "fc1_#")
        #expect(Context.nameWithoutGPU("fc1_0", gpu: 0) == "fc1_#")
        #expect(Context.nameWithoutGPU("L0.q.gpu3", gpu: 3) == "L0.q.#")
        #expect(Context.nameWithoutGPU("in_dp0.x.gpu0_gpu0", gpu: 0) == "in_dp0.x.#_#")
        #expect(Context.nameWithoutGPU("attn", gpu: 2) == nil)
    }
}
