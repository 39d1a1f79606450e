import DOTFormat
import DeployBuilders
import DeployModel
import DeployTestSupport
import Testing

@testable import GraphvizBridge

/// Reads DOT text through libcgraph and decodes it.
func readBack(_ text: String, file: String = "t.dot") -> (DecodedGraph?, DOTReadResult) {
    let result = DOTReader.read(bytes: Array(text.utf8), file: file)
    return (result.document.map { GraphDecoder().decode($0, sourceMap: result.sourceMap, file: file) }, result)
}

@Suite struct RoundTripTests {
    @Test(arguments: presetNames)
    func everyPresetSurvivesWriteReadDecode(name: String) throws {
        let graph = try DeploymentBuilder().build(presetDeployment(name))
        let text = try DOTWriter().writeString(graph)
        let (decoded, result) = readBack(text)
        #expect(result.findings.isEmpty)
        let back = try #require(decoded)
        #expect(back.findings.isEmpty)
        #expect(back.graph == graph.normalized())
        // Every node and edge has its line.
        #expect(back.nodeLines.allSatisfy { $0 != nil })
        #expect(back.edgeLines.allSatisfy { $0 != nil })
        // Writing what was read gives the same bytes.
        #expect(try DOTWriter().writeString(back.graph) == text)
    }

    @Test func awkwardNamesAndValuesRoundTrip() throws {
        var g = OperatorGraph(name: "name with \"quotes\" and \\ slashes", gpus: 1, attributes: ["note": "a\\\\\"b", "empty-ish": " "])
        let names = ["1a", "node", "x->y", "semi;colon", "brace{", "back\\slash", "two\\\\", "ends with \\", "ünï", "new\nline"]
        var previous: Int?
        for (i, name) in names.enumerated() {
            let op: Operator = i == 0 ? .input : (i == names.count - 1 ? .output : .gelu)
            let n = g.add(OperatorNode(name: name, op: op, gpu: 0, out: [Dim(symbol: "B"), Dim(4)], label: "L \(i)\nline \\ two \"q\""))
            if let previous { g.connect(previous, n) }
            previous = n
        }
        let (decoded, result) = readBack(try DOTWriter().writeString(g))
        #expect(result.findings.isEmpty, "\(result.findings.map(\.formatted))")
        let back = try #require(decoded?.graph)
        #expect(back == g.normalized())
    }
}

@Suite struct ReaderTests {
    @Test func syntaxErrorCarriesItsLine() {
        let (_, result) = readBack("digraph g {\n  a -> b;\n  b [op=\n}\n", file: "cut.dot")
        #expect(result.document == nil)
        let finding = result.findings.first { $0.severity == .error }
        #expect(finding?.rule == .syntax)
        #expect(finding?.line == 4)
        #expect(finding?.formatted.hasPrefix("cut.dot:4: error[syntax]: syntax error in line 4") == true)
    }

    @Test func aParseAfterAFailureStillWorks() {
        _ = readBack("digraph g { a -> }")
        _ = readBack("digraph g { \"unterminated ")
        let (decoded, result) = readBack("digraph g { a -> b }")
        #expect(result.findings.isEmpty)
        #expect(decoded?.graph.nodes.count == 2)
    }

    @Test(arguments: [
        ("", "empty"),
        ("  \n\n", "empty"),
        ("\u{1}\u{2}\u{0}garbage", "syntax error"),
        ("digraph a { x }\ndigraph b { y }\n", "more than one graph"),
        ("digraph g { \"open", "quoted string"),
    ])
    func badInputIsASyntaxFinding(text: String, expected: String) {
        let (_, result) = readBack(text)
        #expect(
            result.findings.contains { $0.rule == .syntax && $0.severity == .error && $0.message.contains(expected) },
            "\(result.findings.map(\.formatted))")
    }

    @Test func warningsFromCgraphAreKept() {
        let (_, result) = readBack("digraph g {\n 1a -> b\n}")
        #expect(result.findings.contains { $0.severity == .warning && $0.line == 2 && $0.message.contains("1a") })
    }

    @Test func concurrentReadsAreSerialised() async {
        let text = try! DOTWriter().writeString(DeploymentBuilder().build(presetDeployment("helix-dense-2l")))
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { readBack(text).0?.graph.nodes.count ?? -1 } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(counts).count == 1 && counts[0] > 0)
    }
}

@Suite struct RendererTests {
    @Test func rendersSVG() throws {
        let svg = String(
            decoding: try SVGRenderer.render(dot: "digraph g { subgraph cluster_gpu0 { label=\"GPU 0\"; a } a -> b }"), as: UTF8.self)
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("<svg") && svg.contains("GPU 0") && svg.hasSuffix("</svg>\n"))
    }

    @Test func badDiagramTextIsAnError() {
        #expect(throws: SVGRenderer.Failure.self) { try SVGRenderer.render(dot: "digraph { a -> ") }
    }
}
