import DOTFormat
import DeployBuilders
import DeployChecker
import DeployModel
import DeployTestSupport
import Testing

/// Small DAGs of a 2-GPU tensor-parallel MLP with placements, each broken in one way.
@Suite struct PlacementRuleTests {
    static let clean = """
        digraph t {
          graph [gpus=2];
          x0 [op=input, gpu=0, out="[2,4,8]", logical=x, place=R];
          x1 [op=input, gpu=1, out="[2,4,8]", logical=x, place=R];
          a0 [op=matmul, gpu=0, out="[2,4,6]", eq="bsh,hf->bsf", weight="[8,6]", weight_place="S1:0/2", m=8, k=8, n=6, logical=fc1, place="S2:0/2"];
          a1 [op=matmul, gpu=1, out="[2,4,6]", eq="bsh,hf->bsf", weight="[8,6]", weight_place="S1:1/2", m=8, k=8, n=6, logical=fc1, place="S2:1/2"];
          g0 [op=gelu, gpu=0, out="[2,4,6]", logical=act, place="S2:0/2"];
          g1 [op=gelu, gpu=1, out="[2,4,6]", logical=act, place="S2:1/2"];
          b0 [op=matmul, gpu=0, out="[2,4,8]", eq="bsf,fh->bsh", weight="[6,8]", weight_place="S0:0/2", m=8, k=6, n=8, logical=fc2, place="P:0/2"];
          b1 [op=matmul, gpu=1, out="[2,4,8]", eq="bsf,fh->bsh", weight="[6,8]", weight_place="S0:1/2", m=8, k=6, n=8, logical=fc2, place="P:1/2"];
          r [op=all_reduce, group="0,1", out="[2,4,8]", logical=fc2, place=R];
          s0 [op=add, gpu=0, out="[2,4,8]", logical=res, place=R];
          s1 [op=add, gpu=1, out="[2,4,8]", logical=res, place=R];
          y0 [op=output, gpu=0, out="[2,4,8]", logical=y, place=R];
          y1 [op=output, gpu=1, out="[2,4,8]", logical=y, place=R];
          x0 -> a0 -> g0 -> b0 -> r; x1 -> a1 -> g1 -> b1 -> r;
          r -> s0; x0 -> s0; s0 -> y0; r -> s1; x1 -> s1; s1 -> y1;
        }
        """

    func rules(_ text: String) -> [RuleID] { check(text).findings.map(\.rule) }

    @Test func cleanTPMLP() {
        #expect(check(Self.clean).findings.isEmpty, "\(check(Self.clean).findings.map(\.formatted))")
    }

    @Test func rowParallelOutputAddedToResidualBeforeItsAllReduce() {
        let text = Self.clean.replacingFirst("r -> s0;", with: "b0 -> s0;").replacingFirst("b0 -> r;", with: "b0 -> r; b0 -> s0;")
            .replacingFirst("b0 -> s0; b0 -> s0;", with: "b0 -> s0;")
        let findings = check(text).findings
        #expect(findings.contains { $0.rule == .partialAdd && $0.node == "s0" && $0.message.contains("all-reduce the partial sum first") })
    }

    @Test func partialReachingANonlinearity() {
        let text = Self.clean.replacingFirst("g0 [op=gelu, gpu=0, out=\"[2,4,6]\"", with: "g0 [op=gelu, gpu=0, out=\"[2,4,6]\"")
            .replacingFirst(
                "a0 [op=matmul, gpu=0, out=\"[2,4,6]\", eq=\"bsh,hf->bsf\", weight=\"[8,6]\", weight_place=\"S1:0/2\", m=8, k=8, n=6, logical=fc1, place=\"S2:0/2\"]",
                with:
                    "a0 [op=matmul, gpu=0, out=\"[2,4,6]\", eq=\"bsh,hf->bsf\", weight=\"[8,6]\", weight_place=\"S0:0/2\", m=8, k=8, n=6, logical=fc1, place=\"S2:0/2\"]"
            )
        // A weight split along the contraction makes FC1's output partial...
        let findings = check(text).findings
        #expect(findings.contains { $0.rule == .shardCoverage && $0.node == "a0" })
    }

    @Test func allReduceOverTheWrongGroup() {
        // The MLP is split four ways, but only two GPUs' partial sums are reduced.
        var text = Self.clean
        for (old, new) in [
            ("S1:0/2", "S1:0/4"), ("S1:1/2", "S1:1/4"), ("S2:0/2", "S2:0/4"), ("S2:1/2", "S2:1/4"), ("S2:0/2", "S2:0/4"),
            ("S2:1/2", "S2:1/4"),
            ("S0:0/2", "S0:0/4"), ("S0:1/2", "S0:1/4"), ("P:0/2", "P:0/4"), ("P:1/2", "P:1/4"),
        ] {
            text = text.replacingFirst(old, with: new)
        }
        let findings = check(text).findings
        #expect(findings.contains { $0.rule == .reduceGroup && $0.node == "r" && $0.message.contains("which was split into 4 terms") })
    }

    @Test func missingSlice() {
        // GPU 1 computes the same FC1 columns as GPU 0: columns 1/2 are computed nowhere.
        let text = Self.clean.replacingFirst(
            "weight_place=\"S1:1/2\", m=8, k=8, n=6, logical=fc1, place=\"S2:1/2\"",
            with: "weight_place=\"S1:0/2\", m=8, k=8, n=6, logical=fc1, place=\"S2:0/2\"")
        let findings = check(text).findings
        #expect(findings.contains { $0.rule == .shardCoverage && $0.message.contains("fc1: part S2:1/2 is computed nowhere") })
        #expect(findings.contains { $0.rule == .shardCoverage && $0.message.contains("fc1: part S2:0/2 is computed 2 times") })
    }

    @Test func duplicatedSliceUnlessDeclaredCopies() {
        let text = """
            digraph t {
              graph [gpus=2];
              x0 [op=input, gpu=0, out="[4]", logical=x, place="S0:0/2"];
              x1 [op=input, gpu=1, out="[4]", logical=x, place="S0:0/2"];
              g0 [op=gelu, gpu=0, out="[4]", logical=g, place="S0:0/2"];
              g1 [op=gelu, gpu=1, out="[4]", logical=g, place="S0:0/2"];
              y0 [op=output, gpu=0, out="[4]"]; y1 [op=output, gpu=1, out="[4]"];
              x0 -> g0 -> y0; x1 -> g1 -> y1;
            }
            """
        let findings = check(text).findings
        #expect(findings.contains { $0.rule == .shardCoverage && $0.message.contains("computed 2 times") })
        #expect(findings.contains { $0.rule == .shardCoverage && $0.message.contains("S0:1/2 is computed nowhere") })
        let copies = text.replacingOccurrences(of: "logical=g, place=\"S0:0/2\"", with: "logical=g, place=\"S0:0/2,C:2\"")
        #expect(!check(copies).findings.contains { $0.message.contains("computed 2 times") })
    }

    @Test func allGatherOfTheWrongParts() {
        let text = """
            digraph t {
              graph [gpus=2];
              x0 [op=input, gpu=0, out="[2,4]", logical=x, place="S1:0/2"];
              x1 [op=input, gpu=1, out="[2,4]", logical=x, place="S1:1/2"];
              g [op=all_gather, group="0,1", dim=0, out="[4,4]", logical=x, place=R];
              y0 [op=output, gpu=0, out="[4,4]"]; y1 [op=output, gpu=1, out="[4,4]"];
              x0 -> g; x1 -> g; g -> y0; g -> y1;
            }
            """
        #expect(check(text).findings.contains { $0.rule == .commVolume && $0.node == "g" })
        let right = text.replacingOccurrences(of: "dim=0, out=\"[4,4]\"", with: "dim=1, out=\"[2,8]\"")
            .replacingOccurrences(of: "out=\"[4,4]\"]", with: "out=\"[2,8]\"]")
        // (The GPUs hold only inputs and outputs: gpu-coverage's findings, not the gather's.)
        let findings = check(right).findings.filter { $0.rule != .gpuCoverage }
        #expect(findings.isEmpty, "\(findings.map(\.formatted))")
    }

    @Test func malformedPlaceIsASchemaError() {
        let text = Self.clean.replacingFirst("place=\"S2:0/2\"]", with: "place=\"S2:2/2\"]")
        #expect(check(text).findings.contains { $0.rule == .schema && $0.message.contains("'place'") })
    }

    @Test func perSegmentHelixIsPartialNonlinear() throws {
        var d = presetDeployment("helix-dense-2l")
        d.helixSoftmax = .perSegment
        let all = check(try DOTWriter().writeString(DeploymentBuilder().build(d))).findings
        // Each softmax is also scaled for a 128-dimension segment, not the 512-dimension head.
        #expect(all.filter { $0.rule == .header }.count == 32)
        let findings = all.filter { $0.rule != .header }
        #expect(findings.count == 32 && findings.allSatisfy { $0.rule == .partialNonlinear })
        #expect(findings[0].message.contains("64 heads of 128 dimensions, not the model's 16 heads of 512"))
    }

    @Test func removingTheScoreAllReduceByHand() throws {
        var lines = try presetDOT("helix-dense-2l").components(separatedByNewline: ())
        lines.removeAll { $0.hasPrefix("  \"L0.scores_allreduce.hg0\" [") || $0.contains("-> \"L0.scores_allreduce.hg0\"") }
        for i in lines.indices where lines[i].hasPrefix("  \"L0.scores_allreduce.hg0\" -> ") {
            let gpu = lines[i].split(separator: "gpu").last!.prefix { $0.isNumber }
            lines[i] = "  \"L0.qk.gpu\(gpu)\" -> \"L0.softmax.gpu\(gpu)\";"
        }
        let findings = check(lines.joined(separator: "\n")).findings
        #expect(findings.count == 4 && findings.allSatisfy { $0.rule == .partialNonlinear })
        #expect(findings[0].message.contains("all-reduce it over GPUs 0-3 first"))
    }

    @Test(arguments: presetNames)
    func everyPresetsPlacementsCheck(name: String) throws {
        var d = presetDeployment(name)
        d.microBatches = name.hasPrefix("tp8") ? 2 : 1
        let text = try DOTWriter().writeString(DeploymentBuilder().build(d))
        #expect(text.contains("place=\""))
        #expect(check(text).findings.isEmpty)
    }
}
