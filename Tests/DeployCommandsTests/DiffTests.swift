import DeployAnalysis
import Foundation
import Testing

/// Issue 17: `deploydag diff`, as a reviewer of a hand edit runs it.
@Suite struct DiffTests {
    private func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deploydag-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A generated DAG and a copy with one softmax moved to another GPU.
    private func pair(in dir: URL) throws -> (URL, URL) {
        let a = dir.appendingPathComponent("a.dot")
        let b = dir.appendingPathComponent("b.dot")
        let generated = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "2", "-o", a.path])
        #expect(generated.status == 0, "\(generated.stderr)")
        let text = try String(contentsOf: a, encoding: .utf8)
        let edited = text.replacingOccurrences(
            of: "\"L0.softmax.gpu0\" [op=\"softmax\", gpu=\"0\"", with: "\"L0.softmax.gpu0\" [op=\"softmax\", gpu=\"5\"")
        #expect(edited != text)
        try edited.write(to: b, atomically: true, encoding: .utf8)
        return (a, b)
    }

    @Test func reportsExactlyTheMoveAndTheFindingsItCauses() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b) = try pair(in: dir)
        let svg = dir.appendingPathComponent("diff.svg")
        let result = try CLI.run(["diff", a.path, b.path, "--svg", svg.path, "--view", "layer:0"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("nodes: 1 moved, 0 added, 0 removed, 0 reshaped, 0 re-attributed; edges: 0 added, 0 removed"))
        #expect(result.stdout.contains("  L0.softmax.gpu0: GPU 0 -> GPU 5"))
        #expect(result.stdout.contains("findings: 2 new, 0 gone"))
        #expect(result.stdout.components(separatedBy: "error[cross-gpu]").count == 3)
        #expect(result.stdout.contains("; GPU 5 1.15 TB (does not fit) -> 1.56 TB (does not fit)"))

        let json = try CLI.run(["diff", a.path, b.path, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let moved = object["moved"] as! [[String: Any]]
        #expect(moved.count == 1 && moved[0]["node"] as? String == "L0.softmax.gpu0" && moved[0]["after"] as? String == "GPU 5")
        #expect((object["added"] as! [Any]).isEmpty && (object["removed"] as! [Any]).isEmpty)
        #expect((object["reattributed"] as! [Any]).isEmpty && (object["added_edges"] as! [Any]).isEmpty)
        #expect((object["new_findings"] as! [[String: Any]]).map { $0["rule"] as! String } == ["cross-gpu", "cross-gpu"])

        // The drawing: the moved node in the change colour, on its new GPU, apart from the folded rest.
        let drawing = try String(contentsOf: svg, encoding: .utf8)
        #expect(drawing.components(separatedBy: "class=\"node diff\"").count == 2)
        #expect(drawing.contains("~ moved GPU 0 &#45;&gt; GPU 5"))
        #expect(drawing.contains("GPU 1 (×6: GPUs 1&#45;4,6&#45;7)"))
    }

    @Test func theSameDAGExitsZeroAndEditsOfEveryKindAreNamed() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, _) = try pair(in: dir)
        let same = try CLI.run(["diff", a.path, a.path])
        #expect(same.status == 0)
        #expect(same.stdout.contains("the same DAG"))

        // Through a pipe: a reshape, an attribute, an added node and edge, a removed edge.
        var text = try String(contentsOf: a, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"L0.gelu.gpu3\" [op=\"gelu\"", with: "\"L0.gelu.gpu3\" [op=\"silu\"")
        text = text.replacingOccurrences(of: "  \"L0.qk.gpu1\" -> \"L0.softmax.gpu1\";\n", with: "")
        text = text.replacingOccurrences(
            of: "\n}", with: "\n  extra [op=\"output\", gpu=\"2\", out=\"[1]\"];\n  \"L0.ln1.gpu2\" -> extra;\n}")
        let result = try CLI.run(["diff", a.path, "-"], input: Data(text.utf8))
        #expect(result.status == 1)
        #expect(result.stdout.contains("  L0.gelu.gpu3: op gelu -> silu"))
        #expect(result.stdout.contains("added:\n  extra"))
        #expect(result.stdout.contains("edges added:\n  L0.ln1.gpu2 -> extra"))
        #expect(result.stdout.contains("edges removed:\n  L0.qk.gpu1 -> L0.softmax.gpu1"))
    }

    @Test func refusesTwoStandardInputsAndAnUnreadableFile() throws {
        let twice = try CLI.run(["diff", "-", "-"])
        #expect(twice.status == 64 || twice.status == 2)
        #expect(twice.stderr.contains("only one of the two DAGs"))
        let missing = try CLI.run(["diff", "/nonexistent/a.dot", "/nonexistent/b.dot"])
        #expect(missing.status == 2 && missing.stderr.contains("no such file"))
    }

    @Test func troubleIsExitTwoAndOptionsThatCannotApplyAreRefused() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, _) = try pair(in: dir)
        let broken = dir.appendingPathComponent("broken.dot")
        try "digraph { a -> }".write(to: broken, atomically: true, encoding: .utf8)
        for other in [broken.path, "/dev/null"] {
            let r = try CLI.run(["diff", a.path, other])
            #expect(r.status == 2, "\(other): \(r.status)")
            #expect(r.stderr.contains("cannot compare"))
        }
        let view = try CLI.run(["diff", a.path, a.path, "--view", "layer:0"])
        #expect(view.status != 0 && view.stderr.contains("give --svg"))
        let png = try CLI.run(["diff", a.path, a.path, "--svg", dir.appendingPathComponent("d.png").path])
        #expect(png.status != 0 && png.stderr.contains("name a .svg file"))
        let missingLayer = try CLI.run(["diff", a.path, a.path, "--svg", dir.appendingPathComponent("d.svg").path, "--view", "layer:7"])
        #expect(missingLayer.status == 2 && missingLayer.stdout.isEmpty)
    }

    @Test func aCollectivesGroupIsASetAndTheGraphsNameCounts() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, _) = try pair(in: dir)
        let text = try String(contentsOf: a, encoding: .utf8)
        let group = "group=\"0,1,2,3,4,5,6,7\""
        let line = try #require(text.split(separator: "\n").first { $0.contains("op=\"all_reduce\"") && $0.contains(group) })
        let reordered = text.replacingOccurrences(
            of: String(line), with: line.replacingOccurrences(of: "group=\"0,1,2,3,4,5,6,7\"", with: "group=\"7,6,5,4,3,2,1,0\"")
        )
        .replacingOccurrences(of: "digraph \"tp8-pp2-dense-4l\"", with: "digraph \"renamed\"")
        let b = dir.appendingPathComponent("b2.dot")
        try reordered.write(to: b, atomically: true, encoding: .utf8)
        let r = try CLI.run(["diff", a.path, b.path])
        #expect(r.stdout.contains("nodes: 0 moved"), "\(r.stdout)")
        #expect(r.stdout.contains("name: tp8-pp2-dense-4l -> renamed"))
    }

    @Test func controlCharactersInNamesCannotReachTheTerminal() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let example = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/example.dot"), encoding: .utf8)
        let escaped = dir.appendingPathComponent("esc.dot")
        try example.replacingOccurrences(of: "act0", with: "\"act\u{1B}[2J\"").write(to: escaped, atomically: true, encoding: .utf8)
        let r = try CLI.run(["diff", repositoryRoot.appendingPathComponent("docs/example.dot").path, escaped.path])
        #expect(r.status == 1)
        #expect(!r.stdout.contains("\u{1B}") && r.stdout.contains("act\\x1b[2J"))
    }
}

/// Issue 17: the overview `render` draws and `analyze --blocks` print the same figures.
@Suite struct OverviewAgreesWithAnalyzeTests {
    @Test(arguments: ["helix-dense-4l", "tp8-pp2-dense-4l", "llama3-8b-tp1", "mixtral-8x7b-ep8"])
    func everyBlockOfAnalyzeIsDrawnWithItsFigures(_ preset: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deploydag-overview-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let dot = dir.appendingPathComponent("g.dot").path
        #expect(try CLI.run(["generate", "--preset", preset, "-o", dot]).status == 0)
        let analysis = try CLI.run(["analyze", dot, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(analysis.stdout.utf8)) as! [String: Any]
        let blocks = object["blocks"] as! [[String: Any]]
        #expect(!blocks.isEmpty)
        let overview = try CLI.run(["render", dot, "--view", "overview", "--format", "dot", "-o", "-"])
        #expect(overview.stdout.contains("digraph overview"), "\(overview.stderr)")
        let text = try CLI.run(["analyze", dot, "--blocks"]).stdout
        for block in blocks {
            let title = block["block"] as! String
            #expect(overview.stdout.contains(title), "\(preset): \(title) not drawn")
            #expect(text.contains(title), "\(preset): \(title) not in analyze --blocks")
            for (key, format) in [("flops", Format.flops), ("memory_bytes", Format.bytes), ("sent_bytes", Format.bytes)]
                as [(String, (Double) -> String)]
            {
                let value = block[key] as! Double
                guard value > 0 else { continue }
                #expect(overview.stdout.contains(format(value)), "\(preset): \(title) \(key) \(format(value)) not drawn")
                #expect(text.contains(format(value)), "\(preset): \(title) \(key) \(format(value)) not printed")
            }
            let seconds = block["gpu_seconds"] as! Double
            if seconds > 0 { #expect(overview.stdout.contains("\(Format.seconds(seconds)) of GPU time")) }
        }
    }
}
