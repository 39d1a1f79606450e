import Foundation
import Testing

/// `check` executes what it accepts (verify's semantic pass), and `verify` runs on files written
/// by hand without any placement attribute (docs/placement.md).
@Suite struct SemanticPassTests {
    static var example: String {
        get throws { try String(contentsOf: repositoryRoot.appendingPathComponent("docs/example.dot"), encoding: .utf8) }
    }

    @Test func theHandWrittenExampleChecksAndVerifies() throws {
        let path = repositoryRoot.appendingPathComponent("docs/example.dot").path
        let checked = try CLI.run(["check", path])
        #expect(
            checked.status == 0 && checked.stdout.contains("ok (30 nodes, 38 edges)") && !checked.stdout.contains("note"),
            "\(checked.stdout)")
        let verified = try CLI.run(["verify", path])
        #expect(verified.status == 0 && verified.stdout.contains("matches the unpartitioned model"), "\(verified.stdout)\(verified.stderr)")
    }

    @Test func theSchemaDocumentShowsTheExampleAsItIs() throws {
        let schema = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/dot-schema.md"), encoding: .utf8)
        let shown = schema.components(separatedBy: "```dot\n").last?.components(separatedBy: "```").first
        #expect(shown == (try Self.example))
    }

    @Test func aFaultEveryShapeSurvivesIsANumericError() throws {
        // The MLP's residual taken from the layer's input instead of the attention's sum.
        let wired = try Self.example.replacingOccurrences(of: "res0 -> out0", with: "x0 -> out0").replacingOccurrences(
            of: "res1 -> out1", with: "x1 -> out1")
        let checked = try CLI.run(["check", "-"], input: Data(wired.utf8))
        #expect(checked.status == 1 && checked.stdout.contains("error[numeric]"), "\(checked.stdout)")
        let skipped = try CLI.run(["check", "--no-verify", "-"], input: Data(wired.utf8))
        #expect(skipped.status == 0 && !skipped.stdout.contains("numeric"), "\(skipped.stdout)")
        let verified = try CLI.run(["verify", "-"], input: Data(wired.utf8))
        #expect(verified.status == 1 && verified.stdout.contains("does NOT compute"), "\(verified.stdout)\(verified.stderr)")
        // The MLP's norm reading the layer's input instead of the residual sum: every shape holds.
        let skipped2 = try Self.example.replacingOccurrences(of: "res0 -> mlpln0", with: "x0 -> mlpln0")
        let r = try CLI.run(["check", "-"], input: Data(skipped2.utf8))
        #expect(r.status == 1 && r.stdout.contains("error[numeric]"), "\(r.stdout)")
        // Named where it starts: the first product that reads the wrong norm.
        #expect(
            r.stdout.contains("the first node that differs from the model: fc1_0 (part S2:0/2 of the product of L0.w.fc1"), "\(r.stdout)")
    }

    @Test func aWeightWhoseRoleCannotBeToldIsNamed() throws {
        // An extra projection between attention and the output projection: no model weight.
        var text = try Self.example
        for g in 0...1 {
            text = text.replacingOccurrences(
                of: "  o\(g) [op=matmul",
                with:
                    "  mix\(g) [op=matmul, gpu=\(g), layer=0, eq=\"bsnd,de->bsne\", weight=\"[16,16]\", m=32, k=16, n=16, out=\"[2,8,2,16]\"];\n  o\(g) [op=matmul"
            ).replacingOccurrences(of: "attn\(g) -> o\(g)", with: "attn\(g) -> mix\(g) -> o\(g)")
        }
        #expect(try CLI.run(["check", "--no-verify", "-"], input: Data(text.utf8)).status == 0)
        let r = try CLI.run(["verify", "-"], input: Data(text.utf8))
        #expect(r.status == 1 && r.stderr.contains("mix0") && r.stderr.contains("weight_logical"), "\(r.stdout)\(r.stderr)")
        let checked = try CLI.run(["check", "-"], input: Data(text.utf8))
        #expect(checked.status == 0 && checked.stdout.contains("note[numeric]: semantic pass not run") && checked.stdout.contains("mix0"))
    }

    /// A generated DAG with every placement attribute removed, as a hand-written one would be.
    static func strippedDAG(spec: String) throws -> String {
        let r = try CLI.run(["generate", "--spec", repositoryRoot.appendingPathComponent(spec).path])
        #expect(r.status == 0)
        return r.stdout.replacing(/, (place|logical|weight_place|weight_logical)="[^"]*"/, with: "")
    }

    @Test func strippedDecodeStepsVerifyAndAWrongAppendIsFound() throws {
        // A Llama-style decode step (GQA, RoPE, a sliding window, vocabulary-parallel embedding).
        let text = try Self.strippedDAG(spec: "Tests/Fixtures/mutate/tiny-decode.yaml")
        let clean = try CLI.run(["check", "-"], input: Data(text.utf8))
        #expect(clean.status == 0 && !clean.stdout.contains("note"), "\(clean.stdout)")
        // The new token's K put before the cached ones: every shape holds.
        let swapped = text.replacingOccurrences(
            of: "\"L0.k_rope.gpu0\" -> \"L0.k_append.gpu0\" [operand=1]", with: "\"L0.k_rope.gpu0\" -> \"L0.k_append.gpu0\" [operand=0]"
        ).replacingOccurrences(
            of: "\"L0.k_cache.gpu0\" -> \"L0.k_append.gpu0\" [operand=0]", with: "\"L0.k_cache.gpu0\" -> \"L0.k_append.gpu0\" [operand=1]")
        #expect(swapped != text)
        let r = try CLI.run(["check", "-"], input: Data(swapped.utf8))
        #expect(r.status == 1 && r.stdout.contains("error[numeric]"), "\(r.stdout)")
    }

    @Test func expertsThatSwapTheirWeightsAreFound() throws {
        let r = try CLI.run(["generate", "--spec", repositoryRoot.appendingPathComponent("Tests/Fixtures/mutate/tiny-moe.yaml").path])
        #expect(try CLI.run(["check", "-"], input: Data(r.stdout.utf8)).status == 0)
        let swapped = r.stdout.replacingOccurrences(of: "weight_logical=\"L0.w.expert0.fc1\"", with: "weight_logical=\"L0.w.expert1.fc1\"")
        #expect(swapped != r.stdout)
        let checked = try CLI.run(["check", "-"], input: Data(swapped.utf8))
        #expect(checked.status == 1 && checked.stdout.contains("error[numeric]"), "\(checked.stdout)")
    }

    @Test func strippedWholeDAGsOfEveryDegreeVerify() throws {
        for spec in ["tp", "dp", "order", "cp", "sp", "pp", "disaggregated"] {
            let text = try Self.strippedDAG(spec: "docs/degrees/\(spec).yaml")
            let r = try CLI.run(["check", "-"], input: Data(text.utf8))
            #expect(r.status == 0 && !r.stdout.contains("numeric"), "\(spec): \(r.stdout)")
        }
    }

    @Test func aHelixWithoutAnnotationsVerifiesAndItsPerSegmentSoftmaxIsFound() throws {
        let text = try Self.strippedDAG(spec: "Tests/Fixtures/hand/helix-2x2.yaml")
        let r = try CLI.run(["check", "-"], input: Data(text.utf8))
        #expect(r.status == 0 && !r.stdout.contains("numeric"), "\(r.stdout)")
        let generated = try CLI.run([
            "generate", "--spec", repositoryRoot.appendingPathComponent("Tests/Fixtures/hand/helix-2x2.yaml").path, "--helix-softmax",
            "per-segment",
        ])
        let perSegment = generated.stdout.replacing(/, (place|logical|weight_place|weight_logical)="[^"]*"/, with: "")
        let found = try CLI.run(["check", "-"], input: Data(perSegment.utf8))
        #expect(found.status == 1 && found.stdout.contains("error[partial-nonlinear]: softmax of a partial sum"), "\(found.stdout)")
    }

    /// Files written by hand without placements (Tests/Fixtures/hand/README.md): the valid ones
    /// pass every rule and the semantic pass; each faulty one is named under its rule.
    @Test(
        arguments: [
            ("v_n_gpu00_tp4", nil), ("v_n_twice_tp4", nil), ("v_n_block_gpu_tp4", nil), ("v_name_letters", nil), ("v_name_reversed", nil),
            ("v_dp_localrank", nil), ("v_gqa_tp4_kvrep", nil), ("v_replica2_tp1", nil), ("v_narrow_fc1", nil), ("v_sp", nil),
            ("v_materialized", nil), ("v_dp2tp2", nil), ("f_drop_gpu1_noar", "header"), ("f_scale_missing", "header"),
            ("f_wrong_group_tp4", "reduce-group"), ("f_sp_kv_local", "shard-coverage"), ("f_res_one_gpu", "numeric"),
            ("f_header_tp4_gpus2", "header"),
        ] as [(String, String?)])
    func handWrittenFiles(name: String, rule: String?) throws {
        let path = repositoryRoot.appendingPathComponent("Tests/Fixtures/hand/\(name).dot").path
        let r = try CLI.run(["check", path])
        if let rule {
            #expect(r.status == 1 && r.stdout.contains("error[\(rule)]"), "\(r.stdout)")
        } else {
            #expect(r.status == 0 && !r.stdout.contains("numeric") && !r.stdout.contains("error"), "\(r.stdout)")
        }
    }

    /// Decode steps with every placement removed: K/V caches of each layer, split over heads and
    /// replicas, under pipeline, data and tensor parallelism and symbolic batches.
    @Test(arguments: ["llama2-70b-tp8-pp2", "ma-separation-moe-4l", "mixtral-8x7b-ep8", "helix-dense-2l"])
    func strippedDecodeStepsCheckClean(preset: String) throws {
        let r = try CLI.run(["generate", "--preset", preset, "--layers", "2", "--phase", "decode", "--context", "64"])
        #expect(r.status == 0)
        let text = r.stdout.replacing(/, (place|logical|weight_place|weight_logical)="[^"]*"/, with: "")
        let checked = try CLI.run(["check", "--no-verify", "-"], input: Data(text.utf8))
        #expect(checked.status == 0, "\(checked.stdout.prefix(600))")
    }

    @Test func strippedDataParallelDecodeVerifies() throws {
        let r = try CLI.run([
            "generate", "--spec", repositoryRoot.appendingPathComponent("docs/degrees/dp.yaml").path, "--phase", "decode", "--context",
            "16",
        ])
        let text = r.stdout.replacing(/, (place|logical|weight_place|weight_logical)="[^"]*"/, with: "")
        let checked = try CLI.run(["check", "-"], input: Data(text.utf8))
        #expect(checked.status == 0 && !checked.stdout.contains("numeric"), "\(checked.stdout.prefix(600))")
    }

    @Test func normGainsWithoutAVocabularyVerify() throws {
        // A norm with a weight is a gain the model applies, with or without a vocabulary.
        var text = try Self.example
        for norm in ["ln0", "ln1", "mlpln0", "mlpln1"] {
            text = text.replacingOccurrences(of: "  \(norm) [op=layernorm,", with: "  \(norm) [op=layernorm, weight=\"[64]\",")
        }
        let r = try CLI.run(["check", "-"], input: Data(text.utf8))
        #expect(r.status == 0 && !r.stdout.contains("numeric"), "\(r.stdout)")
    }

    @Test func aHeaderThatIsNotTheWeightsModelIsFoundAtFullSize() throws {
        // 32 heads of 512 in the header over weights of 16 heads of 512: too big to execute, and
        // every shape and scale still agrees; the stated weights against the header do not.
        let r = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "2"])
        let edited = r.stdout.replacingOccurrences(of: " heads=\"16\"", with: " heads=\"32\"")
        #expect(edited != r.stdout)
        let checked = try CLI.run(["check", "-"], input: Data(edited.utf8))
        #expect(
            checked.status == 1 && checked.stdout.contains("error[header]: weight [2,512,8192] in part S0:")
                && checked.stdout.contains("describe different models"), "\(checked.stdout.prefix(800))")
        #expect(try CLI.run(["check", "-"], input: Data(r.stdout.utf8)).status == 0)
    }
}
