import DeployModel
import Testing

/// Numbers from a file that meet a size, a count or an index: each gives a finding at the node's
/// line, never an arithmetic trap.
@Suite struct OverflowTests {
    /// A router, top-1 of 2 experts, dispatch, one expert matmul, combine: `check` passes it.
    static let moe = """
        digraph moe {
          graph [gpus=1];
          x [op=input, gpu=0, out="[8,4]"];
          r [op=matmul, gpu=0, eq="th,he->te", weight="[4,2]", m=8, k=4, n=2, out="[8,2]"];
          t [op=topk, gpu=0, k=1, out="[8,1]"];
          d [op=dispatch, gpu=0, experts=2, out="[2,4,4]"];
          e [op=matmul, gpu=0, eq="ech,hf->ecf", weight="[4,4]", m=8, k=4, n=4, out="[2,4,4]"];
          c [op=combine, gpu=0, experts=2, out="[8,4]"];
          y [op=output, gpu=0, out="[8,4]"];
          x -> r -> t; x -> d [operand=0]; t -> d [operand=1]; d -> e; e -> c [operand=0]; t -> c [operand=1]; c -> y;
        }

        """

    @Test func theMoEFixtureIsClean() {
        let report = check(Self.moe, gpus: 1)
        #expect(report.findings.isEmpty, "\(report.findings.map(\.formatted))")
    }

    /// A top-k of 2^63 - 1 experts per token: the capacity `1 x (2^63-1) / 2` rounded up used to
    /// overflow inside MoERouting.capacity.
    @Test func aHugeTopKIsAFindingAtEachNode() throws {
        let text = Self.moe.replacingFirst("k=1, out=\"[8,1]\"", with: "k=1, out=\"[9223372036854775807]\"")
        let report = check(text, gpus: 1)
        for (node, statement, message) in [
            ("t", "t [op=topk", "gives [8,1]"), ("d", "d [op=dispatch", "shaped like its routing"),
            ("c", "c [op=combine", "4611686018427387904 per expert"),
        ] {
            let line = try #require(text.lineNumber(containing: statement))
            #expect(
                report.findings.contains {
                    $0.rule == .shape && $0.node == node && $0.line == line && $0.file == "t.dot" && $0.message.contains(message)
                }, "\(node): \(report.findings.map(\.formatted))")
        }
    }

    /// Split part counts multiply as placements nest: S0:1/2^62 split in 4 overflowed.
    @Test func nestedSplitPartCountsOverflowIntoAFinding() {
        let text = """
            digraph s {
              graph [gpus=1];
              x [op=input, gpu=0, out="[4611686018427387904]", logical="x", place="S0:1/4611686018427387904"];
              s [op=split, gpu=0, dim=0, parts=4, index=1, out="[1152921504606846976]", logical="x", place="S0:1/4"];
              y [op=output, gpu=0, out="[1152921504606846976]"];
              x -> s -> y;
            }

            """
        let report = check(text, gpus: 1)
        #expect(
            report.findings.contains { $0.rule == .shardCoverage && $0.node == "s" && $0.message.contains("64-bit") },
            "\(report.findings.map(\.formatted))")
    }

    /// The coverage rule multiplies the part counts of every axis of a logical tensor; past
    /// 2^16 parts it does not enumerate them (nor overflow computing how many there are).
    @Test func partCountsWhoseProductOverflowsAreSkipped() {
        let text = """
            digraph s {
              graph [gpus=1];
              x [op=input, gpu=0, out="[4,4]"];
              a [op=gelu, gpu=0, out="[4,4]", logical="a", place="S0:0/4294967296,S1:0/4294967296"];
              b [op=gelu, gpu=0, out="[4,4]", logical="a", place="S0:1/4294967296,S1:0/4294967296,P:0/4294967296"];
              y [op=output, gpu=0, out="[4,4]"];
              x -> a -> b -> y;
            }

            """
        let report = check(text, gpus: 1)
        #expect(report.findings.isEmpty, "\(report.findings.map(\.formatted))")
    }

    /// heads x segments in the softmax message of a partial sum.
    @Test func aHugeHeadCountInTheSoftmaxMessage() {
        let text = """
            digraph s {
              graph [gpus=1, heads=9223372036854775807, head_dim=4];
              x [op=input, gpu=0, out="[4,4]", logical="x", place="P:0/2"];
              a [op=softmax, gpu=0, out="[4,4]", logical="a", place="R"];
              y [op=output, gpu=0, out="[4,4]"];
              x -> a -> y;
            }

            """
        let report = check(text, gpus: 1)
        #expect(report.findings.contains { $0.rule == .partialNonlinear && $0.node == "a" }, "\(report.findings.map(\.formatted))")
    }

    @Test func aCapacityFactorPast64BitsIsASchemaFinding() {
        let text = Self.moe.replacingFirst(
            "d [op=dispatch, gpu=0, experts=2,", with: "d [op=dispatch, gpu=0, experts=2, capacity_factor=\"9223372036854775807.5\",")
        let report = check(text, gpus: 1)
        #expect(report.findings.contains { $0.rule == .schema && $0.node == "d" && $0.message.contains("capacity_factor") })
    }

    @Test func theMostNegative64BitDimensionIsRejected() {
        let text = Self.moe.replacingFirst("out=\"[8,4]\"", with: "out=\"[-9223372036854775808,4]\"")
        let report = check(text, gpus: 1)
        #expect(report.findings.contains { $0.rule == .schema && $0.node == "x" }, "\(report.findings.map(\.formatted))")
    }
}
