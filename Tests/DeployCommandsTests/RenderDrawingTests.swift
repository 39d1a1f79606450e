import Foundation
import Testing

/// Issue 17: `render` on the files users bring: other tools' DOT, hand edits with faults, and
/// the output formats (PNG, PDF, HTML, standard output).
@Suite struct RenderDrawingTests {
    private func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deploydag-render-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static let foreign = """
        digraph G {
          node [shape=box, color=blue];
          a [label="start"]; b [style=filled, fillcolor=yellow]; c;
          a -> b -> c; a -> c [color=red];
        }

        """

    @Test func anotherToolsDOTIsDrawnAsPlainGraphvizWithItsOwnAttributes() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let svg = dir.appendingPathComponent("plain.svg")
        // Through a pipe, as `... | deploydag render -` is used.
        let result = try CLI.run(["render", "-", "-o", svg.path], input: Data(Self.foreign.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("not a deploydag DAG") && result.stderr.contains("drawn as plain Graphviz"))
        let text = try String(contentsOf: svg, encoding: .utf8)
        #expect(text.contains("fill=\"yellow\"") && text.contains("stroke=\"blue\"") && text.contains("stroke=\"red\""))
        #expect(text.contains(">start<"))
    }

    @Test func aFileWithSchemaErrorsIsDrawnPlainAndExitsOne() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let svg = dir.appendingPathComponent("bad.svg")
        let result = try CLI.run(["render", "-", "-o", svg.path], input: Data("digraph { a [op=\"matmul\"]; b -> a; }".utf8))
        #expect(result.status == 1)
        #expect(result.stderr.contains("error[schema]") && result.stderr.contains("drawn as plain Graphviz instead"))
        #expect(try String(contentsOf: svg, encoding: .utf8).contains("<svg"))
    }

    @Test func pngAndPDFAreTheRenderersBytesAndStandardOutputCarriesSVG() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dot = dir.appendingPathComponent("l.dot")
        #expect(try CLI.run(["generate", "--preset", "llama3-8b-tp1", "--layers", "1", "--view", "layer:0", "-o", dot.path]).status == 0)
        for (ext, magic) in [("png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] as [UInt8]), ("pdf", Array("%PDF-".utf8))] {
            let out = dir.appendingPathComponent("l.\(ext)")
            let result = try CLI.run(["render", dot.path, "-o", out.path])
            #expect(result.status == 0, "\(result.stderr)")
            let bytes = [UInt8](try Data(contentsOf: out))
            #expect(Array(bytes.prefix(magic.count)) == magic, "\(ext) starts \(bytes.prefix(8))")
            // Binary: not passed through the SVG text clean-up (which would put U+FFFD in it).
            #expect(bytes.firstRange(of: [0xEF, 0xBF, 0xBD]) == nil || ext == "pdf")
        }
        let stdout = try CLI.run(["render", dot.path, "-o", "-"])
        #expect(stdout.status == 0 && stdout.stdout.contains("<svg") && stdout.stdout.contains("cluster_gpu0"))
    }

    @Test func aHandEditIsDrawnWithItsFaultsAndExitsOne() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dot = dir.appendingPathComponent("a.dot")
        #expect(
            try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "2", "--view", "layer:0", "-o", dot.path]).status == 0)
        var text = try String(contentsOf: dot, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "\"L0.softmax.gpu0\" [op=\"softmax\", gpu=\"0\"", with: "\"L0.softmax.gpu0\" [op=\"softmax\", gpu=\"5\"")
        let moved = dir.appendingPathComponent("moved.dot")
        try text.write(to: moved, atomically: true, encoding: .utf8)
        let svg = dir.appendingPathComponent("moved.svg")
        let result = try CLI.run(["render", moved.path, "-o", svg.path])
        #expect(result.status == 1)
        let drawing = try String(contentsOf: svg, encoding: .utf8)
        #expect(drawing.contains("class=\"node fault\"") && drawing.contains("class=\"edge fault\""))
        #expect(drawing.contains(">cross&#45;gpu<"))
        #expect(drawing.contains("GPU 1 (×6: GPUs 1&#45;4,6&#45;7)"))
        // --unfold draws all eight.
        let unfolded = dir.appendingPathComponent("unfolded.svg")
        #expect(try CLI.run(["render", moved.path, "--unfold", "-o", unfolded.path]).status == 1)
        let all = try String(contentsOf: unfolded, encoding: .utf8)
        #expect((0..<8).allSatisfy { all.contains("<title>cluster_gpu\($0)</title>") })

        // A cycle is drawn too, and fails.
        let cyclic = dir.appendingPathComponent("cyclic.dot")
        let closing = text.range(of: "}", options: .backwards)!
        var withCycle = text
        withCycle.replaceSubrange(closing, with: "  \"L0.av.gpu1\" -> \"L0.qk.gpu1\";\n}")
        try withCycle.write(to: cyclic, atomically: true, encoding: .utf8)
        let cycle = try CLI.run(["render", cyclic.path, "-o", dir.appendingPathComponent("c.svg").path])
        #expect(cycle.status == 1 && cycle.stderr.contains("error[cycle]"))
    }

    @Test func theInteractivePageIsSelfContained() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dot = dir.appendingPathComponent("l.dot")
        #expect(
            try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "2", "--view", "layer:0", "-o", dot.path]).status == 0)
        let page = dir.appendingPathComponent("l.html")
        let result = try CLI.run(["render", dot.path, "-o", page.path])
        #expect(result.status == 0, "\(result.stderr)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("<svg") && html.contains("id=\"dag-data\""))
        // Nothing fetched: no external script, style sheet or image.
        for external in ["<script src", "<link", "src=\"http", "href=\"http", "@import", "url(http"] {
            #expect(!html.contains(external), "\(external)")
        }
        // The data names a folded GPU's nodes, and their stand-ins.
        #expect(html.contains("\"L0.fc1.gpu6\":\"L0.fc1.gpu0\""))
        #expect(html.contains("[\"Get_Time\",\"Get_Time(10240000, 8192, 1024)\"]"))
        // Drawn again from the same diagram and data, the page is kept byte for byte.
        let before = try Data(contentsOf: page)
        #expect(try CLI.run(["render", dot.path, "-o", page.path]).status == 0)
        #expect(try Data(contentsOf: page) == before)
    }

    @Test func hostileFilesAreRefusedOrDrawnSafely() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A complete DAG of 60 nodes with no deploydag schema: held to the layout budget.
        var complete = "digraph K {"
        for i in 0..<60 { for j in (i + 1)..<60 { complete += " n\(i) -> n\(j);" } }
        complete += " }"
        let refused = try CLI.run(["render", "-", "-o", dir.appendingPathComponent("k.svg").path], input: Data(complete.utf8))
        #expect(refused.status == 1 && refused.stderr.contains("too many for graphviz's dot"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("k.svg").path))

        // A control character in a name: graphviz's JSON would carry it raw.
        let json = dir.appendingPathComponent("c.json")
        #expect(try CLI.run(["render", "-", "-o", json.path], input: Data("digraph { \"a\u{01}x\" -> b; }".utf8)).status == 0)
        #expect((try? JSONSerialization.jsonObject(with: Data(contentsOf: json))) != nil)

        // Script links in another tool's file are inert in the page.
        let page = dir.appendingPathComponent("js.html")
        let links =
            "digraph { a -> b [URL=\"javascript:void(document.title='x')\"]; c [URL=\" JavaScript:x()\"]; d [URL=\"https://example.org/a-b\"]; }"
        #expect(try CLI.run(["render", "-", "-o", page.path], input: Data(links.utf8)).status == 0)
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(
            !html.lowercased().contains("javascript:void") && !html.contains("JavaScript:x") && html.contains("https://example.org/a-b"))

        // A user's node named like the drawing's own keeps its label; the legend keeps its entry.
        let example = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/example.dot"), encoding: .utf8)
        let renamed = dir.appendingPathComponent("renamed.dot")
        try example.replacingOccurrences(of: "fc1_0", with: "\"deploydag:legend_matmul\"").write(
            to: renamed, atomically: true, encoding: .utf8)
        let drawn = try CLI.run(["render", renamed.path, "--format", "dot", "-o", "-"])
        #expect(drawn.status == 0, "\(drawn.stderr)")
        #expect(drawn.stdout.contains("\"deploydag:_legend_matmul\"") && drawn.stdout.contains("\"deploydag:legend_matmul\" [shape=box"))

        // A font size cairo cannot draw is not used; the PNG is written.
        let big = dir.appendingPathComponent("big.dot")
        try example.replacingOccurrences(of: "fc1_0 [op=matmul,", with: "fc1_0 [op=matmul, fontsize=100000,").write(
            to: big, atomically: true, encoding: .utf8)
        let png = dir.appendingPathComponent("big.png")
        #expect(try CLI.run(["render", big.path, "-o", png.path]).status == 0)
        #expect(try Data(contentsOf: png).count > 1000)

        // -o and --diagram-dot naming one file is refused before anything is written.
        let same = dir.appendingPathComponent("same.dot").path
        let clash = try CLI.run(["render", renamed.path, "-o", same, "--diagram-dot", same])
        #expect(clash.status != 0 && clash.stderr.contains("name two files"))
    }

    @Test func aTruncatedDrawingWithTheRightStampIsDrawnAgain() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let example = repositoryRoot.appendingPathComponent("docs/example.dot").path
        for ext in ["svg", "html"] {
            let out = dir.appendingPathComponent("e.\(ext)")
            #expect(try CLI.run(["render", example, "-o", out.path]).status == 0)
            let whole = try Data(contentsOf: out)
            try whole.prefix(600).write(to: out)
            #expect(try CLI.run(["render", example, "-o", out.path]).status == 0)
            let again = try String(contentsOf: out, encoding: .utf8)
            #expect(again.hasSuffix(ext == "svg" ? "</svg>\n" : "</html>\n"), "\(ext) kept cut short")
        }
    }
}
