import DOTFormat
import DeployBuilders
import DeployModel
import DeployTestSupport
import Foundation
import Testing

@testable import GraphvizBridge

/// Reads DOT text through libcgraph and decodes it.
func readBack(_ text: String, file: String = "t.dot") -> (DecodedGraph?, DOTReadResult) {
    let result = DOTReader.read(bytes: Array(text.utf8), file: file)
    return (result.document.map { GraphDecoder().decode($0, lines: result.lines, file: file) }, result)
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
        #expect(back.graph.nodes.indices.allSatisfy { back.line(ofNode: $0) != nil })
        #expect(back.graph.edges.indices.allSatisfy { back.line(ofEdge: $0) != nil })
        // Writing what was read gives the same bytes.
        #expect(try DOTWriter().writeString(back.graph) == text)
    }

    @Test(arguments: presetNames)
    func parallelWritingGivesTheSameBytes(name: String) throws {
        let graph = try DeploymentBuilder().build(presetDeployment(name))
        let sequential = try DOTWriter(parallelThreshold: .max).write(graph)
        let parallel = try DOTWriter(parallelThreshold: 1).write(graph)
        #expect(!sequential.isEmpty)
        #expect(parallel == sequential)
    }

    @Test(arguments: presetNames)
    func streamingGivesTheSameBytes(name: String) throws {
        let graph = try DeploymentBuilder().build(presetDeployment(name, layers: 2))
        let whole = try DOTWriter(parallelThreshold: .max).write(graph)
        for writer in [DOTWriter(parallelThreshold: .max), DOTWriter(parallelThreshold: 1)] {
            for pieceNodes in [1, 7, 8192] {
                var streamed: [UInt8] = []
                var pieces = 0
                try writer.stream(graph, pieceNodes: pieceNodes) { piece in
                    streamed.append(contentsOf: piece)
                    pieces += 1
                }
                #expect(streamed == whole, "\(name), \(pieceNodes) nodes a piece")
                // The head, the node and edge pieces, the closing brace.
                let nodePieces = (graph.nodes.count + pieceNodes - 1) / pieceNodes
                let edgePieces = (graph.edges.count + 2 * pieceNodes - 1) / (2 * pieceNodes)
                #expect(pieces == 2 + nodePieces + edgePieces)
            }
        }
    }

    @Test func streamingStopsAtTheFirstErrorFromEmit() throws {
        struct Full: Error {}
        let graph = try DeploymentBuilder().build(presetDeployment("tp8-pp2-dense-4l"))
        for writer in [DOTWriter(parallelThreshold: .max), DOTWriter(parallelThreshold: 1)] {
            var calls = 0
            #expect(throws: Full.self) {
                try writer.stream(graph, pieceNodes: 16) { _ in
                    calls += 1
                    if calls == 5 { throw Full() }
                }
            }
            #expect(calls == 5)
        }
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
        let text = try DOTWriter().writeString(g)
        #expect(try DOTWriter(parallelThreshold: 1).writeString(g) == text)
        let (decoded, result) = readBack(text)
        #expect(result.findings.isEmpty, "\(result.findings.map(\.formatted))")
        let back = try #require(decoded?.graph)
        #expect(back == g.normalized())
    }
}

/// The one-pass reader (`DOTReader.decode`, what the commands use) against the copy-then-decode
/// path: the same graph, the same findings with the same lines.
func expectSameDecoding(_ text: String, _ comment: Comment? = nil) {
    let (viaDocument, read) = readBack(text)
    let direct = DOTReader.decode(bytes: Array(text.utf8), file: "t.dot")
    #expect(direct.findings == read.findings, comment)
    let failed = read.findings.contains { $0.severity == .error }
    #expect(direct.decoded?.graph == (failed ? nil : viaDocument?.graph), comment)
    #expect(direct.decoded?.findings == (failed ? nil : viaDocument?.findings), comment)
    #expect(direct.decoded?.invalidNodes == (failed ? nil : viaDocument?.invalidNodes), comment)
}

@Suite struct OnePassDecodeTests {
    @Test(arguments: presetNames)
    func presetsDecodeAsTheDocumentPathDoes(name: String) throws {
        let text = try DOTWriter().writeString(DeploymentBuilder().build(presetDeployment(name)))
        expectSameDecoding(text, Comment(rawValue: name))
        // Labels are dropped on request and nothing else changes.
        let lean = try #require(DOTReader.decode(bytes: Array(text.utf8), keepLabels: false).decoded)
        #expect(lean.graph.nodes.allSatisfy { $0.label == nil })
        #expect(lean.graph.nodes.map(\.name) == readBack(text).0?.graph.nodes.map(\.name))
    }

    @Test(arguments: [
        // edges before their nodes' statements: nodes are created by the edge, attributes come later
        "digraph g { a -> b; a [op=input, gpu=0, out=\"[2]\"]; b [op=output, gpu=0, out=\"[2]\"] }",
        // defaults, redefined halfway; a node stated twice
        "digraph g { node [op=gelu, gpu=0]; a [op=input, out=\"[2]\"]; b [out=\"[2]\"]; node [gpu=1]; c [op=output, out=\"[2]\"]; b [layer=3]; a -> b -> c }",
        // subgraphs with their own defaults, and an edge to a subgraph
        "digraph g { subgraph s { node [op=gelu]; x [gpu=0, out=\"[2]\"] } a [op=input, gpu=0, out=\"[2]\"]; a -> {x y}; y [op=output, gpu=0, out=\"[2]\"] }",
        // a strict graph merges a repeated edge; a plain one keeps both
        "strict digraph g { a [op=input, gpu=0, out=\"[2]\"]; b [op=output, gpu=0, out=\"[2]\"]; a -> b; a -> b [operand=0] }",
        "digraph g { a [op=input, gpu=0, out=\"[2]\"]; b [op=output, gpu=0, out=\"[2]\"]; a -> b; a -> b [operand=x] }",
        // schema problems: unknown op, bad gpu, missing out
        "digraph g { a [op=warp, gpu=0]; b [op=gelu, gpu=-1, out=\"[2]\"]; a -> b }",
        // syntax error, an empty file, two graphs
        "digraph g { a -> }", "  \n", "digraph a { x } digraph b { y }",
    ])
    func oddInputsDecodeAsTheDocumentPathDoes(text: String) {
        expectSameDecoding(text, Comment(rawValue: text))
    }

    @Test func attributeNamesThatAreNotUTF8KeepEveryValue() throws {
        // Two attributes whose names differ only in an invalid byte read as the same name.
        var bytes = Array("digraph g { a [op=input, gpu=0, out=\"[2]\", x".utf8) + [0xA0] + Array("=1]; ".utf8)
        bytes += Array("b [op=output, gpu=0, out=\"[2]\", x".utf8) + [0xB0] + Array("=2]; a -> b }".utf8)
        let direct = try #require(DOTReader.decode(bytes: bytes).decoded)
        let copied = DOTReader.read(bytes: bytes)
        let document = try #require(copied.document)
        #expect(direct.graph == GraphDecoder().decode(document).graph)
        #expect(direct.graph.nodes.map { $0.attributes["x\u{FFFD}"] } == ["1", "2"])
    }

    @Test func anonymousNamesDoNotDependOnEarlierFiles() throws {
        let text = "digraph { \"%x\" [op=input, gpu=0, out=\"[2]\"]; b [op=output, gpu=0, out=\"[2]\"]; \"%x\" -> b }"
        let first = try #require(DOTReader.decode(bytes: Array(text.utf8)).decoded)
        _ = DOTReader.read(bytes: Array("digraph { c -> d } ".utf8))  // anonymous objects elsewhere
        let again = try #require(DOTReader.decode(bytes: Array(text.utf8)).decoded)
        #expect(first.graph == again.graph)
        #expect(first.graph.name == "")
        #expect(first.graph.nodes.map(\.name) == ["%1", "b"])
    }

    @Test func linesAreScannedOnlyWhenAFindingNeedsOne() throws {
        let text = try DOTWriter().writeString(DeploymentBuilder().build(presetDeployment("tp8-pp2-dense-4l")))
        let clean = try #require(DOTReader.decode(bytes: Array(text.utf8)).decoded)
        #expect(clean.lines?.isScanned == false)
        let broken = text.replacingOccurrences(of: "op=\"softmax\"", with: "op=\"softmaxx\"")
        let bad = try #require(DOTReader.decode(bytes: Array(broken.utf8)).decoded)
        #expect(bad.lines?.isScanned == true)
        #expect(bad.findings.first?.line != nil)
    }

    @Test func aFileIsDecodedFromItsPath() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("onepass-\(UUID().uuidString).dot").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try DOTWriter().writeString(DeploymentBuilder().build(presetDeployment("helix-dense-2l")))
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let fromPath = try #require(DOTReader.decode(path: path))
        #expect(fromPath.decoded?.graph == DOTReader.decode(bytes: Array(text.utf8)).decoded?.graph)
        #expect(fromPath.decoded?.file == path)
        #expect(DOTReader.decode(path: path + ".missing") == nil)
    }
}

@Suite struct ReaderTests {
    /// A file that ends inside a string, an HTML string or a comment must not change how the
    /// next file is read (the lexer's state is reset between files).
    @Test(arguments: [
        "\"", "digraph g { a [label=\"open", "<", "digraph g { a [label=<<<b>x", "/*", "digraph { /* never closed",
        String(repeating: "<", count: 70_000),
    ])
    func aFileEndingInsideAStringLeavesNoTrace(garbage: String) {
        let valid = "digraph g { a [op=input, gpu=0, out=\"[2]\"]; b [op=output, gpu=0, out=\"[2]\"]; a -> b }"
        let first = DOTReader.decode(bytes: Array(garbage.utf8), file: "bad.dot")
        let again = DOTReader.decode(bytes: Array(garbage.utf8), file: "bad.dot")
        #expect(first.findings == again.findings)
        let after = DOTReader.decode(bytes: Array(valid.utf8), file: "ok.dot")
        #expect(after.findings.isEmpty, "\(after.findings.map(\.formatted))")
        #expect(after.decoded?.graph.nodes.count == 2)
    }

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

/// A group of thousands of GPUs written in full passes libcgraph's 16,384-character string
/// limit; past 64 members it is written with ranges, in its own order.
@Suite struct LongGroupTests {
    func graph(group: [Int]) -> OperatorGraph {
        let nodes = [
            OperatorNode(name: "x", op: .input, gpu: 0, out: [Dim(4)]),
            OperatorNode(name: "r", op: .allReduce, group: group, out: [Dim(4)]),
            OperatorNode(name: "y", op: .output, gpu: 0, out: [Dim(4)]),
        ]
        return OperatorGraph(
            name: "g", gpus: 4096, attributes: [:], nodes: nodes, edges: [TensorEdge(from: 0, to: 1), TensorEdge(from: 1, to: 2)])
    }

    @Test(arguments: [Array(0..<4096), Array(2048..<4096) + Array(0..<2048), Array(0..<64), (0..<4096).filter { $0 % 8 < 4 }])
    func groupsSurviveWriteRead(group: [Int]) throws {
        let text = try DOTWriter().writeString(graph(group: group))
        let line = try #require(text.split(separator: "\n").first { $0.contains("\"r\"") })
        if group.count <= GPUList.plainLimit {
            #expect(line.contains("group=\"\(group.map(String.init).joined(separator: ","))\""))
        } else {
            #expect(line.count < 16_384 && !line.contains("0,1,2,3,"), "\(line.prefix(200))")
        }
        let (decoded, result) = readBack(text)
        #expect(result.findings.isEmpty, "\(result.findings.map(\.formatted))")
        #expect(try #require(decoded).graph.nodes[1].group == group)
    }
}
