import DOTFormat
import DeployBuilders
import DeployChecker
import DeployModel
import DeployTestSupport
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
        // Splits without `index`: no placement to derive, said once as a note, not an error.
        let clean = check(dag(body), gpus: 1).findings
        #expect(clean.count == 1 && clean[0].severity == .note && clean[0].node == "a" && clean[0].message.contains("2 nodes"))
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
        // (Neither GPU computes anything either: gpu-coverage says so, issue 16 item 7.)
        let findings = check(dag(body)).findings.filter { $0.rule != .gpuCoverage }
        #expect(findings.map(\.rule) == [.crossGPU])
        #expect(findings.first?.message.contains("send_recv (group=\"0,1\")") == true)
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

/// The MoE routing operators and the K/V cache.
@Suite struct RoutingRuleTests {
    static let body = """
          x [op=input, gpu=0, out="[2,8,64]"];
          r [op=matmul, gpu=0, out="[2,8,4]", eq="bsh,he->bse", weight="[64,4]", m=16, k=64, n=4];
          t [op=topk, gpu=0, k=2, out="[2,8,2]"];
          d [op=dispatch, gpu=0, experts=4, capacity=8, out="[4,8,64]"];
          c [op=combine, gpu=0, experts=4, out="[2,8,64]"];
          o [op=output, gpu=0, out="[2,8,64]"];
          x -> r; r -> t; x -> d [operand=0]; t -> d [operand=1]; d -> c [operand=0]; t -> c [operand=1]; c -> o;

        """

    func run(_ body: String) -> [Finding] {
        check("digraph t {\n  graph [gpus=1];\n" + body + "}\n").findings
    }

    @Test func cleanRouting() {
        #expect(run(Self.body).isEmpty, "\(run(Self.body).map(\.formatted))")
    }

    @Test func dispatchCapacityIsTopKOverExperts() {
        // 16 tokens x top-2 / 4 experts = 8 per expert; 16 (every token) is seed 003's mistake.
        let findings = run(Self.body.replacingOccurrences(of: "out=\"[4,8,64]\"", with: "out=\"[4,16,64]\""))
        #expect(findings.contains { $0.rule == .shape && $0.node == "d" && $0.message.contains("= 8 per expert") })
    }

    @Test func capacityFactorRoundsUp() {
        let padded = Self.body.replacingOccurrences(
            of: "experts=4, capacity=8, out=\"[4,8,64]\"", with: "experts=4, capacity_factor=1.1, out=\"[4,9,64]\""
        )
        .replacingOccurrences(of: "c [op=combine, gpu=0, experts=4,", with: "c [op=combine, gpu=0, experts=4, capacity_factor=1.1,")
        #expect(run(padded).isEmpty, "\(run(padded).map(\.formatted))")
    }

    @Test func topkKeepsLeadingDims() {
        let findings = run(Self.body.replacingOccurrences(of: "k=2, out=\"[2,8,2]\"", with: "k=2, out=\"[2,8,3]\""))
        #expect(findings.contains { $0.rule == .shape && $0.node == "t" })
    }

    @Test func combineReturnsTokens() {
        let findings = run(
            Self.body.replacingOccurrences(
                of: "c [op=combine, gpu=0, experts=4, out=\"[2,8,64]\"", with: "c [op=combine, gpu=0, experts=4, out=\"[2,4,64]\""))
        #expect(findings.contains { $0.rule == .shape && $0.node == "c" })
    }

    @Test func kvCacheIsASource() {
        let body = """
              q [op=input, gpu=0, out="[2,1,4,16]"];
              kc [op=kv_cache, gpu=0, out="[2,7,4,16]"];
              kn [op=input, gpu=0, out="[2,1,4,16]"];
              k [op=concat, gpu=0, dim=1, out="[2,8,4,16]"];
              s [op=matmul, gpu=0, eq="bqnd,bknd->bnqk", out="[2,4,1,8]", m=8, k=16, n=8];
              o [op=output, gpu=0, out="[2,4,1,8]"];
              kc -> k [operand=0]; kn -> k [operand=1]; q -> s [operand=0]; k -> s [operand=1]; s -> o;

            """
        #expect(run(body).isEmpty, "\(run(body).map(\.formatted))")
    }
}

@Suite struct SystemsCheckTests {
    @Test(arguments: presetNames)
    func everyPresetChecksCleanInDecode(name: String) throws {
        var d = presetDeployment(name, phase: .decode(context: Dim(10000)))
        d.model.batch = try d.model.batch.binding(["B": 8])
        let text = try DOTWriter().writeString(DeploymentBuilder().build(d))
        let report = check(text)
        #expect(report.findings.isEmpty, "\(report.findings.prefix(3).map(\.formatted))")
    }

    /// Issue 16, item 7: inputs, outputs and K/V caches are not compute.
    @Test func aGPUHoldingOnlyItsInputsAndOutputsComputesNothing() throws {
        let text = """
            digraph g {
              graph [gpus="2"];
              x [op=input, gpu=0, out="[2,4]"]; y [op=gelu, gpu=0, out="[2,4]"]; z [op=output, gpu=0, out="[2,4]"];
              w [op=input, gpu=1, out="[2,4]"]; c [op=kv_cache, gpu=1, out="[2,4]"]; v [op=output, gpu=1, out="[2,4]"];
              x -> y -> z; w -> v;
            }
            """
        let findings = check(text).findings.filter { $0.rule == .gpuCoverage }
        #expect(findings.map(\.message) == ["GPU 1 runs no compute node, but it is one of the deployment's 2 GPUs (0..1)"])
    }

    @Test func poolLeavesThreeGPUsIdleOnSixteen() throws {
        let text = try presetDOT("attention-pool-4l")
        #expect(check(text).findings.isEmpty)
        let wide = check(text, gpus: 16).findings
        #expect(wide.map(\.rule) == [.gpuCoverage, .gpuCoverage, .gpuCoverage])
        #expect(wide.map { $0.message.prefix(6) } == ["GPU 13", "GPU 14", "GPU 15"])
        // Claiming 65,536 GPUs gives one finding, not 65,523.
        let huge = check(text, gpus: GPUList.maximum).findings
        #expect(huge.map(\.rule) == [.gpuCoverage])
        #expect(huge.first?.message.hasPrefix("65523 GPUs run no compute node (13-65535)") == true)
    }
}

@Suite struct MemoryRuleTests {
    @Test func namedGPUTypeBringsMemoryFindings() throws {
        let big = try presetDOT("tp8-pp2-dense-4l").replacingFirst("graph [", with: "graph [gpu_type=\"h100-sxm\", ")
        let findings = check(big).findings
        #expect(findings.count == 16 && findings.allSatisfy { $0.rule == .memory && $0.message.contains("over by") })
        #expect(check(try presetDOT("tp8-pp2-dense-4l")).findings.isEmpty)
        let unknown = try presetDOT("tp8-pp2-dense-4l").replacingFirst("graph [", with: "graph [gpu_type=\"tpu9\", ")
        #expect(check(unknown).findings.map(\.rule) == [.schema])
    }
}

/// A collective is fed once by each member of its group (issue 16, item 6).
@Suite struct CollectiveMemberTests {
    static func dag(aFrom: Int, bFrom: Int) -> String {
        """
        digraph t {
          graph [gpus=2];
          x0 [op=input, gpu=0, out="[2,4]"];
          x1 [op=input, gpu=1, out="[2,4]"];
          a [op=gelu, gpu=\(aFrom), out="[2,4]"];
          b [op=gelu, gpu=\(bFrom), out="[2,4]"];
          r [op=all_reduce, group="0,1", out="[2,4]"];
          o0 [op=output, gpu=0, out="[2,4]"];
          o1 [op=output, gpu=1, out="[2,4]"];
          x\(aFrom) -> a; x\(bFrom) -> b; a -> r; b -> r; r -> o0; r -> o1;
          x\(aFrom == 0 ? 1 : 0) -> o\(aFrom == 0 ? 1 : 0) [operand=1];
        }

        """
    }

    @Test func oneInputFromEachMemberIsClean() {
        let findings = check(Self.dag(aFrom: 0, bFrom: 1)).findings.filter { $0.rule == .crossGPU }
        #expect(findings.isEmpty, "\(findings.map(\.formatted))")
    }

    @Test func twoInputsFromOneGPUAndNoneFromTheOtherIsAFinding() throws {
        let findings = check(Self.dag(aFrom: 1, bFrom: 1)).findings.filter { $0.rule == .crossGPU }
        let finding = try #require(findings.first { $0.node == "r" })
        #expect(
            finding.message.contains("GPU 1 feeds it more than once") && finding.message.contains("GPU 0 never feeds it"),
            "\(finding.message)")
    }
}
