import DeployChecker
import DeployModel
import Testing

/// Small hand-written DAGs, one problem each.
@Suite struct RuleTests {
    static let header = "digraph t {\n  graph [gpus=2];\n"

    func dag(_ body: String) -> String { Self.header + body + "}\n" }

    let clean = """
          i0 [op=input, gpu=0, out="[2,8,64]"];
          i1 [op=input, gpu=1, out="[2,8,64]"];
          m0 [op=matmul, gpu=0, out="[2,8,32]", eq="bsh,hf->bsf", weight="[64,32]", m=16, k=64, n=32];
          m1 [op=matmul, gpu=1, out="[2,8,32]", eq="bsh,hf->bsf", weight="[64,32]", m=16, k=64, n=32];
          g [op=all_gather, group="0,1", dim=2, out="[2,8,64]"];
          a0 [op=add, gpu=0, out="[2,8,64]"];
          o0 [op=output, gpu=0, out="[2,8,64]"];
          o1 [op=output, gpu=1, out="[2,8,64]"];
          i0 -> m0; i1 -> m1; m0 -> g; m1 -> g; g -> a0; i0 -> a0; a0 -> o0; g -> o1;

        """

    @Test func cleanDAGHasNoFindings() {
        let report = check(dag(clean))
        #expect(report.findings.isEmpty, "\(report.findings.map(\.formatted))")
    }

    @Test func collectiveShapeRule() {
        let report = check(dag(clean.replacingFirst("dim=2, out=\"[2,8,64]\"", with: "dim=2, out=\"[2,8,32]\"")))
        #expect(report.findings.contains { $0.rule == .shape && $0.node == "g" && $0.message.contains("multiplies dim 2 by 2") })
    }

    @Test func collectiveNeedsOneInputPerMember() {
        let report = check(dag(clean.replacingFirst("m1 -> g;", with: "")))
        #expect(report.findings.contains { $0.rule == .shape && $0.node == "g" && $0.message.contains("one input per GPU") })
    }

    @Test func symbolicMismatchIsAShapeError() {
        let body = """
              i [op=input, gpu=0, out="[B,64]"];
              j [op=input, gpu=0, out="[2*B,64]"];
              s [op=add, gpu=0, out="[B,64]"];
              o [op=output, gpu=0, out="[B,64]"];
              i -> s; j -> s; s -> o;

            """
        let report = check(dag(body), gpus: 1)
        #expect(report.findings.map(\.rule) == [.shape])
        #expect(report.findings[0].message.contains("[B*2,64]"))
    }

    @Test func matmulOperandsAreOrderedByTheOperandAttribute() {
        let body = """
              q [op=input, gpu=0, out="[2,8,4,16]"];
              k [op=input, gpu=0, out="[2,8,4,16]"];
              s [op=matmul, gpu=0, eq="bqnd,bknd->bnqk", out="[2,4,8,8]", m=64, k=16, n=8];
              o [op=output, gpu=0, out="[2,4,8,8]"];
              q -> s [operand=0]; k -> s [operand=1]; s -> o;

            """
        #expect(check(dag(body), gpus: 1).findings.isEmpty)
        let wrong = check(dag(body.replacingFirst("out=\"[2,4,8,8]\", m=64", with: "out=\"[2,4,8,9]\", m=64")), gpus: 1)
        #expect(wrong.findings.contains { $0.rule == .shape && $0.node == "s" })
    }

    @Test func concatAndSplitSums() {
        let body = """
              i [op=input, gpu=0, out="[2,8]"];
              a [op=split, gpu=0, dim=1, parts=2, out="[2,4]"];
              b [op=split, gpu=0, dim=1, parts=2, out="[2,4]"];
              c [op=concat, gpu=0, dim=1, out="[2,8]"];
              o [op=output, gpu=0, out="[2,8]"];
              i -> a; i -> b; a -> c; b -> c; c -> o;

            """
        #expect(check(dag(body), gpus: 1).findings.isEmpty)
        let bad = check(dag(body.replacingFirst("dim=1, out=\"[2,8]\"", with: "dim=1, out=\"[2,9]\"")), gpus: 1)
        #expect(bad.findings.contains { $0.rule == .shape && $0.node == "c" && $0.message.contains("4 + 4 = 8") })
    }

    @Test func sendRecvDirection() {
        let body = """
              i [op=input, gpu=0, out="[4]"];
              t [op=send_recv, group="1,0", out="[4]"];
              o [op=output, gpu=1, out="[4]"];
              i -> t; t -> o;

            """
        let report = check(dag(body))
        #expect(report.findings.filter { $0.rule == .crossGPU }.count == 2)
    }

    @Test func computeNodesJoinedAcrossGPUs() {
        let body = """
              i [op=input, gpu=0, out="[4]"];
              o [op=output, gpu=1, out="[4]"];
              i -> o;

            """
        let report = check(dag(body))
        #expect(report.findings.map(\.rule) == [.crossGPU])
        #expect(report.findings[0].message.contains("send_recv (group=\"0,1\")"))
    }

    @Test func selfLoopAndMissingEndsAreReported() {
        let body = """
              x [op=gelu, gpu=0, out="[4]"];
              y [op=gelu, gpu=1, out="[4]"];
              x -> x;

            """
        let rules = Set(check(dag(body)).findings.map(\.rule))
        #expect(rules.isSuperset(of: [.cycle, .dangling]))
    }

    @Test func schemaErrorsDoNotHideOtherRules() {
        let body = clean.replacingFirst("a0 [op=add, gpu=0", with: "a0 [op=add, gpu=zero") + "  m0 -> i0;\n"
        let rules = Set(check(dag(body)).findings.map(\.rule))
        #expect(rules.isSuperset(of: [.schema, .cycle]))
    }
}
