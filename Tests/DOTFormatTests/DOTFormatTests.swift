import DeployModel
import Testing

@testable import DOTFormat

@Suite struct SourceMapTests {
    @Test func findsNodeAndEdgeLines() {
        let text = """
            digraph "g" {
              graph [gpus=2];
              rankdir=LR;
              // a comment mentioning "ghost"
              "a" [op="input", gpu="0", label="x -> y"];
            # a preprocessor-style line
              b [op=output]
              "a" -> b [operand=0];
              c:port1 -> "d" -> e;
              /* multi
                 line */ "q\\"uote" + "d" -> f
            }
            """
        let map = DOTSourceMap(scanning: Array(text.utf8))
        #expect(map.line(ofNode: "a") == 5)
        #expect(map.line(ofNode: "b") == 7)
        #expect(map.line(ofNode: "ghost") == nil)
        #expect(map.line(ofNode: "gpus") == nil && map.line(ofNode: "rankdir") == nil && map.line(ofNode: "LR") == nil)
        #expect(map.line(ofEdge: "a", "b") == 8)
        #expect(map.line(ofNode: "c") == 9 && map.line(ofNode: "port1") == nil)
        #expect(map.line(ofEdge: "c", "d") == 9 && map.line(ofEdge: "d", "e") == 9)
        #expect(map.line(ofNode: "q\"uoted") == 11)
        #expect(map.line(ofEdge: "q\"uoted", "f") == 11)
        #expect(map.secondGraphLine == nil)
    }

    /// A file is scanned in chunks; every token may straddle a chunk's end, and the lines come
    /// out as from the whole text in memory.
    @Test(arguments: [1, 2, 3, 7, 64])
    func chunkedScanAgreesWithTheWholeText(chunk: Int) {
        let text = """
            digraph "g" {
              graph [gpus=2];
              /* a comment
                 over lines */ "a" [op="input", label="x -> y\\\\", note=<b>html</b>];
            # a preprocessor-style line
              "b\\"q" [op=output]
              "a" -> "b\\"q" [operand=0];
              "a" -> "b\\"q";
              c:port1 -> "d" + "e" -> f -> c;
              "multi\\
            line" -> c
            }
            """
        let bytes = Array(text.utf8)
        let whole = DOTSourceMap(scanning: bytes)
        let chunked = DOTSourceMap(
            chunks: stride(from: 0, to: bytes.count, by: chunk).map { Array(bytes[$0..<min(bytes.count, $0 + chunk)]) })
        for name in ["a", "b\"q", "c", "de", "f", "multiline", "port1", "g"] {
            #expect(chunked.line(ofNode: name) == whole.line(ofNode: name), "\(name)")
        }
        #expect(whole.line(ofNode: "de") == 9 && whole.line(ofNode: "multiline") == 10)
        for (t, h, occurrence) in [
            ("a", "b\"q", 0), ("a", "b\"q", 1), ("a", "b\"q", 5), ("c", "de", 0), ("f", "c", 0), ("multiline", "c", 0),
        ] {
            #expect(chunked.line(ofEdge: t, h, occurrence: occurrence) == whole.line(ofEdge: t, h, occurrence: occurrence))
        }
        #expect(whole.line(ofEdge: "a", "b\"q", occurrence: 1) == 8 && whole.line(ofEdge: "a", "b\"q", occurrence: 5) == 8)
        #expect(chunked.lineCount == whole.lineCount && chunked.isBlank == whole.isBlank && !whole.isBlank)
        #expect(DOTSourceMap(chunks: [Array(" \n\t".utf8), Array("\r\n".utf8)]).isBlank)
    }

    @Test func notesASecondGraph() {
        let map = DOTSourceMap(scanning: Array("digraph a { x }\n\ndigraph b { y }\n".utf8))
        #expect(map.secondGraphLine == 3)
    }
}

@Suite struct QuotingTests {
    @Test(arguments: ["plain", "with space", "quote\"inside", "back\\slash", "two\\\\", "a\\\\\"b", "new\nline", "ünïcødé"])
    func quotedStringsRoundTripThroughTheScanner(text: String) throws {
        var out: [UInt8] = Array("digraph g { ".utf8)
        try DOTQuoting.appendQuoted(text, to: &out)
        out.append(contentsOf: " }".utf8)
        #expect(DOTSourceMap(scanning: out).line(ofNode: text) != nil)
    }

    @Test func unrepresentableStringsBecomeHTMLOrAreRefused() throws {
        var out: [UInt8] = []
        try DOTQuoting.appendQuoted("ends with \\", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "<ends with \\>")
        out = []
        #expect(throws: DOTWriteError.self) { try DOTQuoting.appendQuoted("<\\", to: &out) }
    }

    @Test func labelsRoundTrip() {
        for text in ["two\nlines", "back\\slash", "q\"", "plain"] {
            var out: [UInt8] = []
            DOTQuoting.appendLabel(text, to: &out)
            // What libcgraph returns: the bytes between the quotes, with \" turned into ".
            var inner = String(decoding: out.dropFirst().dropLast(), as: UTF8.self)
            inner = inner.replacingQuoteEscapes()
            #expect(DOTQuoting.decodeLabel(inner) == text)
        }
    }
}

extension String {
    fileprivate func replacingQuoteEscapes() -> String {
        var result = ""
        var chars = makeIterator()
        while let c = chars.next() {
            if c == "\\" {
                guard let d = chars.next() else { result.append(c); break }
                if d == "\"" { result.append(d) } else { result.append(c); result.append(d) }
            } else {
                result.append(c)
            }
        }
        return result
    }
}

@Suite struct DecoderTests {
    func document(_ nodes: [(String, [String: String])], graph: [String: String] = ["gpus": "2"]) -> DOTDocument {
        var columns: [String: [String]] = [:]
        for (i, (_, attrs)) in nodes.enumerated() {
            for (k, v) in attrs {
                columns[k, default: Array(repeating: "", count: nodes.count)][i] = v
            }
        }
        return DOTDocument(name: "g", graphAttributes: graph, nodeNames: nodes.map(\.0), nodeColumns: columns)
    }

    @Test func decodesTypedNodes() {
        let doc = document([
            ("x", ["op": "input", "gpu": "0", "out": "[2,8,64]", "layer": "0"]),
            ("ar", ["op": "all_reduce", "group": "0,1", "out": "[2,8,64]"]),
            (
                "mm",
                [
                    "op": "matmul", "gpu": "1", "out": "[2,8,16]", "eq": "bsh,hd->bsd", "weight": "[64,16]", "m": "16", "k": "64",
                    "n": "16", "color": "red",
                ]
            ),
        ])
        let decoded = GraphDecoder().decode(doc)
        #expect(decoded.findings.isEmpty)
        #expect(decoded.graph.gpus == 2)
        #expect(decoded.graph.nodes[1].group == [0, 1])
        #expect(decoded.graph.nodes[2].attributes["color"] == "red")
        #expect(decoded.graph.nodes[2].out == [Dim(2), Dim(8), Dim(16)])
    }

    @Test(arguments: [
        (["gpu": "0", "out": "[4]"], "missing 'op'"),
        (["op": "conv", "gpu": "0", "out": "[4]"], "unknown op 'conv'"),
        (["op": "gelu", "out": "[4]"], "missing 'gpu'"),
        (["op": "gelu", "gpu": "one", "out": "[4]"], "'gpu' must be a non-negative integer"),
        (["op": "gelu", "gpu": "0"], "missing 'out'"),
        (["op": "gelu", "gpu": "0", "out": "[4,x-]"], "malformed shape"),
        (["op": "all_reduce", "out": "[4]"], "missing 'group'"),
        (["op": "all_reduce", "group": "3", "out": "[4]"], "at least two GPUs"),
        (["op": "send_recv", "group": "0,1,2", "out": "[4]"], "exactly two GPUs"),
        (["op": "matmul", "gpu": "0", "out": "[4]", "m": "1", "k": "1", "n": "1"], "missing 'eq'"),
        (["op": "matmul", "gpu": "0", "out": "[4]", "eq": "ab,bc->ac", "k": "1", "n": "1"], "missing 'm'"),
        (["op": "concat", "gpu": "0", "out": "[4]"], "missing 'dim'"),
        (["op": "gelu", "gpu": "0", "out": "[4]", "layer": "-1"], "'layer' must be a non-negative integer"),
    ])
    func schemaProblemsAreNamed(attributes: [String: String], expected: String) {
        let decoded = GraphDecoder().decode(document([("n", attributes)]))
        #expect(decoded.invalidNodes == [true])
        #expect(
            decoded.findings.contains { $0.rule == .schema && $0.message.contains(expected) && $0.node == "n" },
            "\(decoded.findings.map(\.message))")
    }

    @Test func badGraphAttributeAndUndirected() {
        var doc = document([], graph: ["gpus": "many"])
        doc.isDirected = false
        let messages = GraphDecoder().decode(doc).findings.map(\.message)
        #expect(messages.contains { $0.contains("'gpus' must be a positive integer") })
        #expect(messages.contains { $0.contains("undirected") })
    }
}

@Suite struct WriterTests {
    @Test func writesDeterministicallyWithEdgesInCanonicalOrder() throws {
        var g = OperatorGraph(name: "g", gpus: 1, attributes: ["z": "1", "a": "2"])
        let a = g.add(OperatorNode(name: "a", op: .input, gpu: 0, out: [Dim(4)]))
        let b = g.add(OperatorNode(name: "b", op: .gelu, gpu: 0, out: [Dim(4)], label: "two\nlines"))
        let c = g.add(OperatorNode(name: "c", op: .output, gpu: 0, out: [Dim(4)]))
        g.connect(b, c)
        g.connect(a, b, operand: 0)
        let text = try DOTWriter().writeString(g)
        #expect(
            text == """
                digraph "g" {
                  graph [a="2", gpus="1", z="1"];
                  "a" [op="input", gpu="0", out="[4]"];
                  "b" [op="gelu", gpu="0", out="[4]", label="two\\nlines"];
                  "c" [op="output", gpu="0", out="[4]"];
                  "a" -> "b" [operand=0];
                  "b" -> "c";
                }

                """)
        #expect(try DOTWriter().write(g) == DOTWriter().write(g.normalized()))
    }
}
