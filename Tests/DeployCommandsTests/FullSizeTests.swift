import Foundation
import Testing

/// Files of real size, past verify's element budget: executed at a small consistent assignment
/// of the header's parameters (Shrinker), so that a fault that keeps every shape is found there
/// too (issue 16's faults, written into generated full-size files).
@Suite struct FullSizeTests {
    static func dag(_ preset: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent("dags/\(preset)/\(preset).dot"), encoding: .utf8)
    }

    /// `check` exits 1 with a numeric error on `text`, and 0 with the semantic pass skipped.
    static func expectNumeric(_ text: String, _ what: String, at node: String? = nil) throws {
        let checked = try CLI.run(["check", "-"], input: Data(text.utf8))
        #expect(checked.status == 1 && checked.stdout.contains("error[numeric]"), "\(what): \(checked.stdout)\(checked.stderr)")
        if let node {
            #expect(checked.stdout.contains("the first node that differs from the model: \(node) "), "\(what): \(checked.stdout)")
        }
        let rules = try CLI.run(["check", "--no-verify", "-"], input: Data(text.utf8))
        #expect(rules.status == 0, "\(what) is only numeric: \(rules.stdout)")
    }

    /// `text` with `old` replaced by `new` exactly once.
    static func edited(_ text: String, _ old: String, _ new: String) -> String {
        #expect(text.components(separatedBy: old).count == 2, "'\(old)' once")
        return text.replacingOccurrences(of: old, with: new)
    }

    @Test func aFullSizeFileIsExecutedShrunk() throws {
        let path = repositoryRoot.appendingPathComponent("dags/llama3-8b-tp1/llama3-8b-tp1.dot").path
        let checked = try CLI.run(["check", path])
        #expect(checked.status == 0 && !checked.stdout.contains("note"), "\(checked.stdout)")
        let verified = try CLI.run(["verify", path])
        #expect(
            verified.status == 0
                && verified.stdout.contains(
                    "shrunk to execute: batch 8 -> 2, seq 2048 -> 8, hidden 4096 -> 4, head_dim 128 -> 4, ffn 14336 -> 4, vocab 128256 -> 8"
                )
                && verified.stdout.contains("matches the unpartitioned model"), "\(verified.stdout)\(verified.stderr)")
    }

    @Test func aResidualWiredToTheWrongTensor() throws {
        // Layer 5's MLP residual adds the norm's output instead of the attention's sum.
        let text = Self.edited(
            try Self.dag("llama3-8b-tp1"), "  \"L5.residual1.gpu0\" -> \"L5.residual2.gpu0\";",
            "  \"L5.ln2.gpu0\" -> \"L5.residual2.gpu0\";")
        try Self.expectNumeric(text, "the residual", at: "L5.residual2.gpu0")
    }

    @Test func aSoftmaxOverTheQueryAxis() throws {
        // GPU 3's scores laid out [keys, queries]: the softmax normalises over the queries.
        var lines = try Self.dag("tp8-pp2-dense-4l").components(separatedBy: "\n")
        for (i, line) in lines.enumerated() where line.hasPrefix("  \"L1.qk.gpu3\" [") || line.hasPrefix("  \"L1.av.gpu3\" [") {
            lines[i] = line.replacingOccurrences(of: "->bnqk\"", with: "->bnkq\"").replacingOccurrences(
                of: "eq=\"bnqk,", with: "eq=\"bnkq,")
        }
        try Self.expectNumeric(lines.joined(separator: "\n"), "the softmax axis", at: "L1.av.gpu3")
    }

    @Test func twoExpertsSwapTheirWork() throws {
        // Layer 2's experts 0 and 1 each run the other's MLP on their own tokens.
        let text = try Self.dag("tp8-pp2-moe-4l").replacingOccurrences(
            of: "weight_logical=\"L2.w.expert0.", with: "weight_logical=\"L2.w.expertX."
        )
        .replacingOccurrences(of: "weight_logical=\"L2.w.expert1.", with: "weight_logical=\"L2.w.expert0.")
        .replacingOccurrences(of: "weight_logical=\"L2.w.expertX.", with: "weight_logical=\"L2.w.expert1.")
        try Self.expectNumeric(text, "the experts", at: "L2.residual2.gpu8")
    }

    @Test func aDecodeKeyAppendedBeforeTheCache() throws {
        // Mistral-7B decoding over a 4,096-token context, TP 4.
        let r = try CLI.run([
            "generate", "--hf-config", repositoryRoot.appendingPathComponent("Tests/Fixtures/hf/mistral-7b.json").path, "--tp", "4",
            "--layers", "2", "--phase", "decode", "--context", "4096", "--batch", "8",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let clean = try CLI.run(["check", "-"], input: Data(r.stdout.utf8))
        #expect(clean.status == 0 && !clean.stdout.contains("note"), "\(clean.stdout)")
        var text = Self.edited(
            r.stdout, "\"L0.k_rope.gpu0\" -> \"L0.k_append.gpu0\" [operand=1]", "\"L0.k_rope.gpu0\" -> \"L0.k_append.gpu0\" [operand=0]")
        text = Self.edited(
            text, "\"L0.k_cache.gpu0\" -> \"L0.k_append.gpu0\" [operand=0]", "\"L0.k_cache.gpu0\" -> \"L0.k_append.gpu0\" [operand=1]")
        try Self.expectNumeric(text, "the appended key", at: "L0.attention.gpu0")
    }

    @Test func fullSizeFilesWithoutPlacementsExecute() throws {
        // Context parallel (the embedding's rows told apart by their reductions) and TP x PP.
        let r = try CLI.run([
            "generate", "--hf-config", repositoryRoot.appendingPathComponent("Tests/Fixtures/hf/mistral-7b.json").path, "--tp", "2",
            "--cp", "2", "--layers", "2", "--batch", "4", "--seq", "4096",
        ])
        // And experts one a GPU (each expert's weights told by its GPU's rank in the all_to_all
        // that hands it its slot of the buffers; the combine's place by its routing's).
        for text in [r.stdout, try Self.dag("tp8-pp2-dense-4l"), try Self.dag("tp8-pp2-moe-4l")] {
            let stripped = text.replacing(/, (place|logical|weight_place|weight_logical)="[^"]*"/, with: "")
            let checked = try CLI.run(["check", "-"], input: Data(stripped.utf8))
            #expect(checked.status == 0 && !checked.stdout.contains("note"), "\(checked.stdout)")
        }
    }

    @Test func theShrunkGraphIsWrittenAndVerifiesAsItIs() throws {
        let dir = try scratchDirectory()
        let small = dir.appendingPathComponent("small.dot").path
        let r = try CLI.run([
            "verify", repositoryRoot.appendingPathComponent("dags/mixtral-8x7b-ep8/mixtral-8x7b-ep8.dot").path, "--shrunk-output", small,
        ])
        #expect(r.status == 0 && r.stdout.contains("shrunk to execute"), "\(r.stdout)\(r.stderr)")
        // Small enough to execute as written: no shrinking, the same verdict.
        let again = try CLI.run(["verify", small])
        #expect(
            again.status == 0 && !again.stdout.contains("shrunk") && again.stdout.contains("matches the unpartitioned model"),
            "\(again.stdout)\(again.stderr)")
        let header = try String(contentsOfFile: small, encoding: .utf8).components(separatedBy: "\n")[1]
        #expect(header.contains("hidden=\"4\"") && header.contains("experts=\"8\"") && header.contains("layers=\"32\""), "\(header)")
    }
}

@Suite struct ModelFromAnotherSourceTests {
    static let mistral = repositoryRoot.appendingPathComponent("Tests/Fixtures/hf/mistral-7b.json").path

    @Test func aFileIsExecutedAgainstTheModelGiven() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("m.dot").path
        let made = try CLI.run(["generate", "--hf-config", Self.mistral, "--tp", "2", "--layers", "2", "--batch", "2", "-o", file])
        #expect(made.status == 0, "\(made.stderr)")
        let same = try CLI.run(["verify", file, "--hf-config", Self.mistral])
        #expect(
            same.status == 0 && same.stderr.contains("the file's header states the model given")
                && same.stdout.contains("matches the unpartitioned model"), "\(same.stdout)\(same.stderr)")
        // Another model (64 heads, hidden 8192): the file's weights are not its.
        let other = repositoryRoot.appendingPathComponent("Tests/Fixtures/hf/gqa-8-kv.json").path
        let refused = try CLI.run(["verify", file, "--hf-config", other])
        #expect(
            refused.status == 1 && refused.stderr.contains("heads 64 (the file's header: 32)")
                && refused.stderr.contains("describe different models"), "\(refused.stderr)")
        // The header edited to that model's numbers without the weights: refused the same way
        // by the file alone.
        let text = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "heads=\"32\"", with: "heads=\"64\"")
        let edited = try CLI.run(["check", "-"], input: Data(text.utf8))
        #expect(edited.status == 1 && edited.stdout.contains("error[header]"), "\(edited.stdout)")
        // Build flags do not apply to a file.
        #expect(try CLI.run(["verify", file, "--hf-config", Self.mistral, "--tp", "4"]).status == 2)
    }
}

/// Every strategy's header degrees against its GPUs (the header rule).
@Suite struct HeaderDegreesTests {
    static func checked(_ preset: String, _ old: String, _ new: String) throws -> CLI.Result {
        let text = try FullSizeTests.dag(preset)
        #expect(text.components(separatedBy: old).count == 2, "'\(old)' once in \(preset)")
        return try CLI.run(["check", "--no-verify", "-"], input: Data(text.replacingOccurrences(of: old, with: new).utf8))
    }

    @Test func eachStrategysDegreesAgainstItsGPUs() throws {
        let cases: [(String, String, String, String)] = [
            (
                "helix-dense-2l", "segments=\"4\"", "segments=\"2\"",
                "Helix layout needs 8 GPUs (4 head groups x 2 segments), but it states gpus=16"
            ),
            ("attention-pool-4l", "tp=\"8\"", "tp=\"4\"", "the graph's tp is 4, but its base_gpus are 8 GPUs"),
            (
                "ma-separation-moe-4l", "expert_gpus=\"8-15\"", "expert_gpus=\"7-15\"",
                "GPU 7 is in both the graph's attention_gpus and its expert_gpus"
            ),
            ("attention-pool-4l", "pool_gpus=\"8-12\"", "pool_gpus=\"8-11\"", "span GPUs 0-11, but it states gpus=13"),
        ]
        for (preset, old, new, message) in cases {
            let r = try Self.checked(preset, old, new)
            #expect(r.status == 1 && r.stdout.contains("error[header]") && r.stdout.contains(message), "\(preset): \(r.stdout)")
        }
        // Degrees whose product passes 64 bits: said, without an overflow.
        let huge = try FullSizeTests.dag("helix-dense-2l").replacingOccurrences(of: "head_groups=\"4\"", with: "head_groups=\"1048576\"")
            .replacingOccurrences(of: "segments=\"4\"", with: "segments=\"1048576\", pp=\"1048576\", dp=\"1048576\"")
        let overflowing = try CLI.run(["check", "--no-verify", "-"], input: Data(huge.utf8))
        #expect(overflowing.status == 1 && overflowing.stdout.contains("Helix layout needs more than 2^63 GPUs"), "\(overflowing.stdout)")
        let spec = repositoryRoot.appendingPathComponent("docs/degrees/disaggregated.yaml").path
        let made = try CLI.run(["generate", "--spec", spec])
        let edited = made.stdout.replacingOccurrences(of: "prefill_tp=\"2\"", with: "prefill_tp=\"4\"")
        let r = try CLI.run(["check", "--no-verify", "-"], input: Data(edited.utf8))
        #expect(r.status == 1 && r.stdout.contains("prefill degrees need 4 GPUs"), "\(r.stdout)")
        #expect(try CLI.run(["check", "--no-verify", "-"], input: Data(made.stdout.utf8)).status == 0)
    }
}

/// What an adversarial review of the shrinking found, each kept found (docs/placement.md, "Files of
/// real size").
@Suite struct ShrinkingReviewTests {
    /// A DAG of a Hugging Face config (Tests/Fixtures/hf/NAME.json, with `edit` applied to its
    /// JSON text), generated with `flags`.
    static func generated(_ name: String, _ flags: [String], edit: (String) -> String = { $0 }) throws -> String {
        let dir = try scratchDirectory()
        let config = dir.appendingPathComponent("config.json")
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/Fixtures/hf/\(name).json"), encoding: .utf8)
        try edit(text).write(to: config, atomically: true, encoding: .utf8)
        let r = try CLI.run(["generate", "--hf-config", config.path] + flags)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    /// `text` with the attribute `key` of node `node` set to `value`.
    static func setting(_ text: String, node: String, _ key: String, _ value: String) -> String {
        var lines = text.components(separatedBy: "\n")
        let i = lines.firstIndex { $0.hasPrefix("  \"\(node)\" [") }
        #expect(i != nil, "\(node)")
        if let i { lines[i] = lines[i].replacing(try! Regex("\(key)=\"[^\"]*\""), with: "\(key)=\"\(value)\"") }
        return lines.joined(separator: "\n")
    }

    @Test func aPositionWrittenNearAnEndIsNotWhereAScaledOneShrinksTo() throws {
        // Context parallel over 4: rank 1's keys rotated from position 2 instead of 1024 (which
        // would shrink to 2 with 8 tokens), rank 3's from 4094 instead of 3072.
        let text = try Self.generated("mistral-7b", ["--tp", "2", "--cp", "4", "--layers", "1", "--seq", "4096", "--batch", "1"])
        #expect(try CLI.run(["check", "-"], input: Data(text.utf8)).status == 0)
        for (nodes, value) in [(["L0.k_rope.gpu2", "L0.k_rope.gpu3"], "2"), (["L0.k_rope.gpu6", "L0.k_rope.gpu7"], "4094")] {
            var edited = text
            for node in nodes { edited = Self.setting(edited, node: node, "offset", value) }
            try FullSizeTests.expectNumeric(edited, "keys rotated from \(value)")
        }
    }

    @Test func aSmallWindowKeepsTheCacheInSight() throws {
        // A sliding window of 100 tokens over a 4,096-token context: the keys and values swapped.
        let text = try Self.generated(
            "mistral-7b", ["--tp", "2", "--layers", "1", "--phase", "decode", "--context", "4096", "--batch", "2"]
        ) {
            $0.replacingOccurrences(of: "\"sliding_window\": 4096", with: "\"sliding_window\": 100")
        }
        #expect(text.contains("sliding_window=\"100\""))
        #expect(try CLI.run(["check", "-"], input: Data(text.utf8)).status == 0)
        var swapped = FullSizeTests.edited(
            text, "\"L0.k_cache.gpu1\" -> \"L0.k_append.gpu1\" [operand=0]", "\"L0.v_cache.gpu1\" -> \"L0.k_append.gpu1\" [operand=X]")
        swapped = FullSizeTests.edited(
            swapped, "\"L0.v_cache.gpu1\" -> \"L0.v_append.gpu1\" [operand=0]", "\"L0.k_cache.gpu1\" -> \"L0.v_append.gpu1\" [operand=0]")
        swapped = swapped.replacingOccurrences(of: "[operand=X]", with: "[operand=0]")
        try FullSizeTests.expectNumeric(swapped, "the caches swapped")
    }

    @Test func hostileValuesAreFindingsNotCrashes() throws {
        let decode = try Self.generated(
            "mistral-7b", ["--tp", "4", "--layers", "2", "--phase", "decode", "--context", "4096", "--batch", "8"])
        // A query offset of -2^63 (no overflow), a cache range unlike its out, a scale of nan.
        for value in ["-9223372036854775808", "4096"] {
            let offset = Self.setting(decode, node: "L0.attention.gpu1", "q_offset", value)
            let r = try CLI.run(["check", "-"], input: Data(offset.utf8))
            #expect(
                r.status == 1 && r.stdout.contains("q_offset '\(value)' is not a token position of the graph's context 4096"),
                "\(r.stdout)\(r.stderr)")
        }
        let range = Self.setting(decode, node: "L0.k_cache.gpu1", "range", "0:4091")
        let ranged = try CLI.run(["check", "-"], input: Data(range.utf8))
        #expect(ranged.status == 1 && ranged.stdout.contains("range 0:4091 holds 4091 tokens"), "\(ranged.stdout)")
        let nan = Self.setting(decode, node: "L0.attention.gpu1", "scale", "nan")
        let scaled = try CLI.run(["check", "-"], input: Data(nan.utf8))
        #expect(scaled.status == 1 && scaled.stdout.contains("scale 'nan' is not a positive finite number"), "\(scaled.stdout)")
        // A header rotary_dim past head_dim (GPT-J's 64 of 256 written as 258).
        let gptj = try Self.generated("gpt-j-6b", ["--tp", "4", "--layers", "1", "--seq", "2048", "--batch", "2"])
        let rotary = gptj.replacingOccurrences(of: "rotary_dim=\"64\"", with: "rotary_dim=\"258\"")
        let rotated = try CLI.run(["check", "-"], input: Data(rotary.utf8))
        #expect(rotated.status == 1 && rotated.stdout.contains("rotary_dim 258 is not an even count"), "\(rotated.stdout)\(rotated.stderr)")
    }
}

@Suite struct ShrunkOutputTests {
    @Test func positionsAreWrittenAtTheirShrunkPlaces() throws {
        // Mistral-7B, CP 2 over 4,096 tokens: rank 1 from 2,048, the last layer's last query at
        // 4,095. Shrunk to 16 tokens: 8 and 15 (the scaled position clear of those kept by an end).
        let r = try CLI.run([
            "generate", "--hf-config", repositoryRoot.appendingPathComponent("Tests/Fixtures/hf/mistral-7b.json").path, "--tp", "2",
            "--cp", "2", "--layers", "2", "--batch", "4", "--seq", "4096",
        ])
        let dir = try scratchDirectory()
        let (file, small) = (dir.appendingPathComponent("f.dot").path, dir.appendingPathComponent("s.dot").path)
        try r.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        let verified = try CLI.run(["verify", file, "--shrunk-output", small, "--format", "json"])
        #expect(verified.status == 0 && verified.stdout.contains("\"name\" : \"seq\""), "\(verified.stdout)\(verified.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as? [String: Any]
        let seq = (json?["shrunk"] as? [[String: Any]])?.first { $0["name"] as? String == "seq" }
        #expect(seq?["from"] as? Int == 4096 && seq?["to"] as? Int == 16, "\(verified.stdout)")
        let text = try String(contentsOfFile: small, encoding: .utf8)
        let offsets = Set(text.matches(of: /q_offset="([0-9]+)"/).map { String($0.1) })
        #expect(offsets == ["8", "15"], "\(offsets)")
    }

    @Test func aPresetIsWrittenAsBuiltAndExecuted() throws {
        let dir = try scratchDirectory()
        let small = dir.appendingPathComponent("p.dot").path
        let r = try CLI.run(["verify", "--preset", "llama3-8b-tp1", "--shrunk-output", small])
        #expect(r.status == 0 && r.stdout.contains("hidden 128"), "\(r.stdout)\(r.stderr)")
        let header = try String(contentsOfFile: small, encoding: .utf8).components(separatedBy: "\n")[1]
        #expect(header.contains("hidden=\"128\""), "\(header)")
    }
}
