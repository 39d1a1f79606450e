import DOTMutation
import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Hostile or absurd input, end to end: a finding or a usage error with exit 1 or 2, never a
/// trap, a crash, a hang or an allocation the machine cannot make.
@Suite struct HardeningTests {
    /// Top-1 of 2 experts on one GPU; `check` passes it.
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

    func write(_ text: String, _ name: String = "in.dot") throws -> String {
        let file = try scratchDirectory().appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file.path
    }

    /// The MoE routing shape rule used to overflow computing the capacity of a top-(2^63-1).
    @Test func aHugeTopKIsAFindingInCheckAndReport() throws {
        let file = try write(Self.moe.replacingOccurrences(of: "k=1, out=\"[8,1]\"", with: "k=1, out=\"[9223372036854775807]\""))
        let checked = try CLI.run(["check", file])
        #expect(checked.status == 1, "\(checked.stdout)\(checked.stderr)")
        #expect(checked.stdout.contains("in.dot:6: error[shape]") && checked.stdout.contains("(node d)"))
        let dir = try scratchDirectory().appendingPathComponent("review").path
        // The report is written, and exits 1: figures of a DAG with errors are not to be trusted.
        let reported = try CLI.run(["report", file, "-o", dir])
        #expect(reported.status == 1, "\(reported.stderr)")
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("4 errors"))
    }

    /// A two-GPU MoE of one layer small enough to execute.
    static let smallMoESpec = """
        name: small-moe
        summary: "a tiny MoE for verify"
        model: {layers: 1, batch: 2, seq: 4, hidden: 8, heads: 2, head_dim: 4, experts: 2, expert_ffn: 8, top_k: 1, capacity_factor: 2}
        strategy: {kind: tp_pp, tp: 2, pp: 1}

        """

    static let verifyEdits: [(String, String, String, String)] = [
        ("huge shape", "\"L0.tokens.gpu0\"", "out=\"[2,2,8]\"", "out=\"[4294967296,4294967296]\""),
        ("split index past its parts", "\"L0.tokens.gpu0\"", "index=\"0\"", "index=\"3\""),
        ("split along a missing dimension", "\"L0.tokens.gpu0\"", "dim=\"1\"", "dim=\"7\""),
        ("dispatch without experts", "\"L0.dispatch.gpu0\"", "experts=\"2\", ", ""),
        ("dispatch with fewer experts than its router", "\"L0.dispatch.gpu0\"", "experts=\"2\"", "experts=\"1\""),
        ("topk of more than the experts", "\"L0.topk.gpu0\"", "k=\"1\"", "k=\"3\""),
    ]

    /// verify executes only what check accepts: each edit is refused with exit 1, the finding
    /// naming the node, and never a crash.
    @Test(arguments: verifyEdits.indices)
    func verifyRefusesWhatCheckRejects(index: Int) throws {
        let (name, node, old, new) = Self.verifyEdits[index]
        let dir = try scratchDirectory()
        let spec = dir.appendingPathComponent("small.yaml").path
        try Self.smallMoESpec.write(toFile: spec, atomically: true, encoding: .utf8)
        let dot = dir.appendingPathComponent("small.dot").path
        #expect(try CLI.run(["generate", "--spec", spec, "-o", dot]).status == 0)
        let clean = try CLI.run(["verify", dot])
        #expect(clean.status == 0 && clean.stdout.contains("matches the unpartitioned model"), "\(clean.stderr)")
        var lines = try String(contentsOfFile: dot, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(
            String.init)
        let i = try #require(lines.firstIndex { $0.hasPrefix("  \(node) [") && $0.contains(old) })
        lines[i] = lines[i].replacingOccurrences(of: old, with: new)
        let edited = dir.appendingPathComponent("edited.dot").path
        try lines.joined(separator: "\n").write(toFile: edited, atomically: true, encoding: .utf8)
        let r = try CLI.run(["verify", edited])
        #expect(r.status == 1, "\(name): \(r.status) \(r.stderr)")
        #expect(
            r.stderr.contains("(node \(node.dropFirst().dropLast()))")
                && r.stderr.contains("verify executes only graphs that check accepts"), "\(name): \(r.stderr)")
    }

    static let absurdNumbers: [([String], String)] = [
        (["check", "--max-input-mb", "9300000000000", "x.dot"], "--max-input-mb must be a positive number of MB of at most 1000000"),
        (
            ["generate", "--preset", "helix-dense-2l", "--layers", "9223372036854775807"],
            "--layers must be a positive integer of at most 1000000"
        ),
        (["generate", "--preset", "helix-dense-2l", "--layers", "10000000"], "--layers must be a positive integer of at most 1000000"),
        (
            ["generate", "--preset", "attention-pool-4l", "--pool-size", "9223372036854775807"],
            "--pool-size must be a positive integer of at most"
        ),
        (
            ["generate", "--preset", "tp8-pp2-dense-4l", "--micro-batches", "9223372036854775807"],
            "--micro-batches must be a positive integer of at most 4096"
        ),
        (["verify", "--preset", "helix-dense-2l", "--layers", "100000000"], "--layers must be a positive integer of at most 1000000"),
        (
            ["generate", "--preset", "helix-dense-2l", "--layers", "10", "--max-nodes", "1000"],
            "with 10 layers would have about 2332 nodes (230 a layer), over the budget of 1000; --max-nodes N raises it"
        ),
    ]

    /// Command-line numbers past what deploydag can do are usage errors (exit 2) before any work:
    /// they used to trap on overflow or abort allocating hundreds of GB.
    @Test(arguments: absurdNumbers.indices)
    func absurdCommandLineNumbersAreUsageErrors(index: Int) throws {
        let (arguments, message) = Self.absurdNumbers[index]
        let r = try CLI.run(arguments, in: try scratchDirectory())
        #expect(r.status == 2 && r.stderr.contains(message), "\(arguments): \(r.status) \(r.stderr.prefix(400))")
    }

    /// A spec file's own layer count meets the same limit.
    @Test func aSpecWithAbsurdLayersIsAUsageError() throws {
        let dir = try scratchDirectory()
        let spec = dir.appendingPathComponent("huge.yaml").path
        try Self.smallMoESpec.replacingOccurrences(of: "layers: 1,", with: "layers: 9223372036854775807,")
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try CLI.run(["generate", "--spec", spec])
        #expect(r.status == 2 && r.stderr.contains("'layers' must be a positive integer of at most 1000000"), "\(r.stderr)")
    }

    /// The estimate is the builders' own count: 230 nodes a layer and 32 more for helix-dense-2l.
    @Test func theNodeEstimateMatchesTheBuild() throws {
        let r = try CLI.run(["generate", "--preset", "helix-dense-2l", "--layers", "10", "--max-nodes", "2332"])
        #expect(r.status == 0 && r.stdout.components(separatedBy: " [op=").count - 1 == 2332, "\(r.stderr)")
    }

    /// report re-reads the DAG it checks as DOT; a group of 4,001 GPUs written out in full passed
    /// libcgraph's 16,384-character string limit and the force-unwrapped document crashed it.
    @Test func reportOfAGroupOfThousandsOfGPUs() throws {
        let file = try write(
            """
            digraph g {
              graph [gpus=4001];
              a [op=input, gpu=0, out="[4]"];
              r [op=all_reduce, group="0-4000", out="[4]"];
              b [op=output, gpu=0, out="[4]"];
              a -> r -> b;
            }

            """)
        let dir = try scratchDirectory().appendingPathComponent("review").path
        // Written, and exit 1: check finds errors in this DAG.
        let r = try CLI.run(["report", file, "-o", dir])
        #expect(r.status == 1, "\(r.stderr.prefix(600))")
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("all_reduce over 4001 GPUs (0-4000) takes one input per GPU"))
    }

    /// Every node feeds every later one.
    static func completeDAG(_ n: Int) -> String {
        var text = "digraph c {\n  graph [gpus=1];\n"
        for i in 0..<n { text += "  n\(i) [op=\(i == 0 ? "input" : i == n - 1 ? "output" : "add"), gpu=0, out=\"[4]\"];\n" }
        for i in 0..<n { for j in (i + 1)..<n { text += "  n\(i) -> n\(j);\n" } }
        return text + "}\n"
    }

    /// 45 nodes but 990 edges crossing 15,180 ranks: dot took minutes on such graphs, which
    /// the node-count guard let through. Now the overview is drawn, and the message says why.
    @Test func aDenseDAGIsDrawnAsItsOverview() throws {
        let dir = try scratchDirectory()
        let file = try write(Self.completeDAG(45))
        let svg = dir.appendingPathComponent("c.svg").path
        // Drawn, and exit 1: check finds errors in this DAG (n1 adds one input, the output takes 44).
        let r = try CLI.run(["render", file, "-o", svg, "--no-critical-path"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(
            r.stderr.contains("45 nodes and 990 edges crossing 15180 ranks") && r.stderr.contains("--allow-large to insist"), "\(r.stderr)")
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("</svg>"))
    }

    /// Thousands of parallel edges overflow libcdt's stack in the layout: refused even with
    /// --allow-large; the overview draws one edge a pair.
    @Test func parallelEdgesAreNeverLaidOut() throws {
        let dir = try scratchDirectory()
        var text = "digraph p {\n  graph [gpus=1];\n  a [op=input, gpu=0, out=\"[4]\"];\n  b [op=output, gpu=0, out=\"[4]\"];\n"
        text += String(repeating: "  a -> b;\n", count: 1001) + "}\n"
        let file = try write(text)
        let svg = dir.appendingPathComponent("p.svg").path
        let r = try CLI.run(["render", file, "-o", svg, "--allow-large"])
        #expect(r.stderr.contains("1001 edges join a to b") && r.stderr.contains("--allow-large does not lift this limit"), "\(r.stderr)")
    }

    /// 30 edges from GPU 0 to GPU 1, each its own operand: 30 cross-gpu findings.
    static let crossings =
        "digraph p {\n  graph [gpus=2];\n  a [op=input, gpu=0, out=\"[4]\"];\n  b [op=output, gpu=1, out=\"[4]\"];\n"
        + (0..<30).map { "  a -> b [operand=\($0)];\n" }.joined() + "}\n"

    @Test func checkPrintsTwentyFindingsARuleByDefault() throws {
        let file = try write(Self.crossings)
        let r = try CLI.run(["check", file])
        #expect(r.status == 1)
        #expect(r.stdout.components(separatedBy: "error[cross-gpu]").count - 1 == 20)
        #expect(r.stdout.contains("in.dot: ... and 10 more [cross-gpu] findings not printed (--max-findings N prints more, 0 all)"))
        // Two more than before issue 16's item 7: the two GPUs hold only an input and an output.
        #expect(r.stdout.contains("in.dot: 33 errors, 0 warnings"))
        let all = try CLI.run(["check", "--max-findings", "0", file])
        #expect(all.stdout.components(separatedBy: "error[cross-gpu]").count - 1 == 30 && !all.stdout.contains("not printed"))
        let five = try CLI.run(["check", "--max-findings", "5", file])
        #expect(five.stdout.components(separatedBy: "error[cross-gpu]").count - 1 == 5 && five.stdout.contains("... and 25 more"))
        let json = try CLI.run(["check", "--format", "json", file])
        #expect(json.stdout.components(separatedBy: "\"cross-gpu\"").count - 1 == 30)
        #expect(try CLI.run(["check", "--max-findings", "-1", file]).status == 2)
    }

    /// Names, attributes and the graph's name built to break out of Markdown, HTML and XML, and
    /// to drive a terminal.
    static let hostile =
        "digraph \"<img src=x onerror=alert(1)>\" {\n  graph [gpus=1, model=\"dense`|</td><script>alert(2)</script>\"];\n"
        + "  \"<script>alert(3)</script>\" [op=input, gpu=0, layer=0, out=\"[4]\"];\n"
        + "  \"a`b|c\u{1B}[31m\u{01}\" [op=gelu, gpu=0, layer=0, out=\"[4]\"];\n"
        + "  y [op=output, gpu=0, layer=0, out=\"[4]\"];\n  \"x\u{1B}[2J\" [op=input, gpu=0, out=\"[4]\"];\n"
        + "  \"<script>alert(3)</script>\" -> \"a`b|c\u{1B}[31m\u{01}\" -> y;\n}\n"

    @Test func reportEscapesByDestination() throws {
        let file = try write(Self.hostile)
        let dir = try scratchDirectory().appendingPathComponent("review").path
        // Written, and exit 1: check finds an error in this DAG.
        let r = try CLI.run(["report", file, "-o", dir])
        #expect(r.status == 1, "\(r.stderr)")
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        // No raw HTML outside code spans, no control characters, and every table row keeps its cells.
        #expect(md.hasPrefix("# &lt;img src=x onerror=alert(1)&gt;: design review"))
        #expect(md.contains("| `model` | dense\\`\\|&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt; |"))
        #expect(md.contains("| 1 | `<script>alert(3)</script>` | input |"))
        #expect(md.contains("| 2 | ``a`b\\|c\\x1b[31m\\x01`` | gelu |"))
        #expect(!md.contains("<img") && !md.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        for line in md.split(separator: "\n") where line.hasPrefix("| 2 |") || line.hasPrefix("| `model`") {
            let cells = line.replacingOccurrences(of: "\\|", with: "").split(separator: "|", omittingEmptySubsequences: false)
            #expect(cells.count == (line.hasPrefix("| 2") ? 8 : 4), "\(line)")
        }
        // The diagrams are well-formed XML although graphviz copies names into them as they are.
        for svg in ["overview.svg", "layer0.svg", "timeline.svg"] {
            #expect(throws: Never.self, "\(svg)") { try XMLCheck.wellFormed(Data(contentsOf: URL(fileURLWithPath: dir + "/" + svg))) }
        }
        let rendered = try scratchDirectory().appendingPathComponent("h.svg").path
        #expect(try CLI.run(["render", file, "-o", rendered]).status == 1)
        #expect(throws: Never.self) { try XMLCheck.wellFormed(Data(contentsOf: URL(fileURLWithPath: rendered))) }
    }

    @Test func checkShowsControlCharactersAsEscapes() throws {
        let r = try CLI.run(["check", try write(Self.hostile)])
        #expect(r.status == 1)
        #expect(r.stdout.contains("input 'x\\x1b[2J' on GPU 0 is on no path") && r.stdout.contains("(node x\\x1b[2J)"), "\(r.stdout)")
        #expect(!r.stdout.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    /// 4,096 GPUs: 8 base GPUs and a pool of 4,088. Its groups used to be written in full, past
    /// libcgraph's 16,384-character limit, so the file generate wrote could not be read.
    @Test func aFourThousandGPUDeploymentReadsBack() throws {
        let dir = try scratchDirectory()
        let spec = dir.appendingPathComponent("pool.yaml").path
        try """
        name: pool-4096
        summary: "an attention pool of 4,088 GPUs beside 8 base GPUs"
        model: {layers: 1, batch: 8, seq: seq_len, hidden: 4096, heads: 32, head_dim: 128, ffn: 16384, dtype: bf16}
        strategy: {kind: attention_pool, base_gpus: 0-7, pool_size: 4088, cluster_gpus: 4096}

        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let dot = dir.appendingPathComponent("pool.dot").path
        let generated = try CLI.run(["generate", "--spec", spec, "-o", dot])
        #expect(generated.status == 0, "\(generated.stderr)")
        let text = try String(contentsOfFile: dot, encoding: .utf8)
        #expect(text.contains("group=\"8-4095\""))
        let checked = try CLI.run(["check", dot])
        #expect(checked.status == 0 && checked.stdout.contains("pool.dot: ok"), "\(checked.stdout.prefix(400))")
    }
}
