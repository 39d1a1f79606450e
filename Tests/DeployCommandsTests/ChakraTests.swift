import ChakraTrace
import DeployModel
import DeployTestSupport
import Foundation
import Testing

/// Issue 19: `export --format chakra` and `import --format chakra`, end to end through the CLI.
@Suite struct ChakraTests {
    /// Bindings for the presets whose shapes keep symbols (a trace holds numbers).
    static let bindings = ["--bind", "seq_len=4000", "--bind", "B=8"]

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deploydag-chakra-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func traces(in directory: URL) throws -> [(rank: Int, trace: ChakraRankTrace)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".et") }
        return try names.map { name in
            let rank = Int(name.dropLast(3).split(separator: ".").last!)!
            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
            return (rank, try ChakraRankTrace(bytes: bytes, file: name))
        }.sorted { $0.rank < $1.rank }
    }

    private func attribute(_ node: ChakraProtoMsg_Node, _ name: String) -> ChakraProtoMsg_AttributeProto? {
        node.attr.first { $0.name == name }
    }

    @Test(arguments: presetNames)
    func everyPresetRoundTripsAndEachRankHoldsItsGPUsNodes(_ preset: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let traceDir = dir.appendingPathComponent("traces").path
        let export = try CLI.run(["export", "--format", "chakra", "--preset", preset, "-o", traceDir] + Self.bindings)
        #expect(export.status == 0, "\(export.stderr)")
        let back = dir.appendingPathComponent("back.dot").path
        let imported = try CLI.run(["import", "--format", "chakra", traceDir, "-o", back])
        #expect(imported.status == 0, "\(imported.stderr)")
        let generated = try CLI.run(["generate", "--preset", preset] + Self.bindings)
        #expect(generated.status == 0)
        // Node for node, edge for edge, attribute for attribute: the same DOT text.
        let text = try String(contentsOfFile: back, encoding: .utf8)
        #expect(text == generated.stdout, "\(preset): the imported DAG differs from the generated one")

        let decoded = try traces(in: URL(fileURLWithPath: traceDir))
        let graph = try ChakraImport.graph(decoded.map(\.trace))
        #expect(decoded.map(\.rank) == Array(0..<decoded.count))
        // Each rank: exactly its compute nodes, the collectives it is a member of, its sends and receives.
        for (rank, trace) in decoded {
            var expected: [UInt64: ChakraProtoMsg_NodeType] = [:]
            for (v, node) in graph.nodes.enumerated() {
                switch node.op {
                case .sendRecv:
                    if node.group[0] == rank { expected[UInt64(v)] = .commSendNode }
                    if node.group[1] == rank { expected[UInt64(v)] = .commRecvNode }
                case .allReduce, .allGather, .reduceScatter, .allToAll:
                    if node.group.contains(rank) { expected[UInt64(v)] = .commCollNode }
                default:
                    if node.gpu == rank { expected[UInt64(v)] = .compNode }
                }
            }
            let got = Dictionary(trace.nodes.map { ($0.id, $0.type) }, uniquingKeysWith: { a, _ in a })
            #expect(got.count == trace.nodes.count, "rank \(rank) lists a node twice")
            #expect(got == expected, "\(preset) rank \(rank): the trace's nodes are not that GPU's")
            // Every dependency is on an earlier node of the same file.
            var seen = Set<UInt64>()
            for node in trace.nodes {
                #expect(node.dataDeps.allSatisfy(seen.contains), "\(preset) rank \(rank): \(node.name) depends on a node not before it")
                seen.insert(node.id)
            }
        }
    }

    @Test func commSizePerKindEqualsWhatAnalyzeReports() throws {
        for preset in ["tp8-pp2-dense-4l", "helix-dense-2l", "mixtral-8x7b-ep8", "ma-separation-moe-4l", "attention-pool-4l"] {
            let dir = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let export = try CLI.run(["export", "--preset", preset, "-o", dir.path] + Self.bindings)
            #expect(export.status == 0, "\(export.stderr)")
            var fromTraces: [String: Double] = [:]
            var tags: [Int32: (send: Int, recv: Int)] = [:]
            for (rank, trace) in try traces(in: dir) {
                for node in trace.nodes {
                    let size = Double(attribute(node, "comm_size")?.int64Val ?? 0)
                    switch node.type {
                    case .commCollNode:
                        let kind = ChakraProtoMsg_CollectiveCommType(rawValue: Int(attribute(node, "comm_type")!.int64Val))!
                        let name = [
                            ChakraProtoMsg_CollectiveCommType.allReduce: "all_reduce", .allGather: "all_gather",
                            .reduceScatter: "reduce_scatter", .allToAll: "all_to_all",
                        ][kind]!
                        fromTraces[name, default: 0] += size
                        #expect(attribute(node, "pg_name")?.stringVal.isEmpty == false)
                    case .commSendNode:
                        fromTraces["send_recv", default: 0] += size
                        #expect(attribute(node, "comm_src")?.int32Val == Int32(rank))
                        tags[attribute(node, "comm_tag")!.int32Val, default: (0, 0)].send += 1
                    case .commRecvNode:
                        #expect(attribute(node, "comm_dst")?.int32Val == Int32(rank))
                        tags[attribute(node, "comm_tag")!.int32Val, default: (0, 0)].recv += 1
                    default:
                        #expect(attribute(node, "num_ops") != nil && attribute(node, "tensor_size") != nil)
                    }
                }
            }
            // Every send has one receive with its tag.
            #expect(tags.values.allSatisfy { $0.send == 1 && $0.recv == 1 }, "\(preset): unmatched sends or receives")
            let analyze = try CLI.run(["analyze", "--preset", preset, "--format", "json"] + Self.bindings)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(analyze.stdout.utf8)) as? [String: Any])
            let reported = try #require(json["contributed_bytes_by_kind"] as? [String: Double])
            #expect(!reported.isEmpty, "\(preset) has no communication")
            #expect(Set(reported.keys) == Set(fromTraces.keys), "\(preset): \(reported.keys.sorted()) vs \(fromTraces.keys.sorted())")
            for (kind, bytes) in reported {
                // comm_size is whole bytes per member; analyze's sum is of unrounded ones.
                let traced = fromTraces[kind] ?? 0
                #expect(abs(traced - bytes) <= max(1, bytes * 1e-9), "\(preset) \(kind): traces \(traced), analyze \(bytes)")
            }
        }
    }

    @Test func badTracesAndDirectoriesAreRefusedSayingWhere() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLI.run(["export", "--preset", "helix-dense-2l", "-o", dir.path]).status == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".et") }.sorted()
        let victim = dir.appendingPathComponent(names[0])
        var bytes = try [UInt8](Data(contentsOf: victim))
        // Cut in the middle of a message.
        try Data(bytes.prefix(bytes.count - 7)).write(to: victim)
        var r = try CLI.run(["import", dir.path])
        #expect(r.status != 0 && r.stderr.contains(names[0]) && r.stderr.contains("only"), "\(r.stderr)")
        // A length that claims more than the file holds, as the first byte.
        bytes[0] = 0xff
        try Data(bytes.prefix(4) + [0xff, 0xff, 0x7f]).write(to: victim)
        r = try CLI.run(["import", dir.path])
        #expect(r.status != 0 && r.stderr.contains(names[0]), "\(r.stderr)")
        // Metadata that claims more nodes than the traces hold is refused before anything is sized by it.
        let good = try [UInt8](Data(contentsOf: dir.appendingPathComponent(names[1])))
        var inflated = try ChakraRankTrace(bytes: good, file: names[1])
        for k in inflated.metadata.attr.indices where inflated.metadata.attr[k].name == "deploydag.nodes" {
            inflated.metadata.attr[k].int64Val = 1 << 40
        }
        #expect(throws: ChakraError.self) { _ = try ChakraImport.graph([inflated]) }
        // A rank missing.
        try FileManager.default.removeItem(at: victim)
        r = try CLI.run(["import", dir.path])
        #expect(r.status != 0 && r.stderr.contains("is missing"), "\(r.stderr)")
        // A trace another tool wrote: metadata and a node without deploydag's attributes.
        let foreign = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: foreign) }
        var metadata = ChakraProtoMsg_GlobalMetadata()
        metadata.version = "0.0.4"
        var node = ChakraProtoMsg_Node()
        node.id = 0
        node.name = "gemm"
        node.type = .compNode
        var file: [UInt8] = []
        for body in [try metadata.serializedBytes() as [UInt8], try node.serializedBytes() as [UInt8]] {
            file.append(UInt8(body.count))
            file += body
        }
        try Data(file).write(to: foreign.appendingPathComponent("other.0.et"))
        r = try CLI.run(["import", foreign.path])
        #expect(r.status != 0 && r.stderr.contains("only traces deploydag exported"), "\(r.stderr)")
        // -o naming a file that is not a directory.
        let plain = foreign.appendingPathComponent("plain.txt")
        try Data("x".utf8).write(to: plain)
        r = try CLI.run(["export", "--preset", "helix-dense-2l", "-o", plain.path])
        #expect(r.status != 0 && r.stderr.contains("not a directory"), "\(r.stderr)")
        // A DAG with symbols left unbound.
        r = try CLI.run(["export", "--preset", "tp8-pp2-001", "-o", foreign.appendingPathComponent("t").path])
        #expect(r.status != 0 && r.stderr.contains("--bind"), "\(r.stderr)")
    }

    @Test func aSmallerExportOverALargerOneLeavesNoStaleRanks() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLI.run(["export", "--preset", "tp8-pp2-dense-4l", "-o", dir.path, "--name", "same"]).status == 0)
        #expect(try CLI.run(["export", "--preset", "qwen2-72b-tp8", "--layers", "1", "-o", dir.path, "--name", "same"]).status == 0)
        #expect(try traces(in: dir).count == 8)
        let r = try CLI.run(["import", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try CLI.run(["generate", "--preset", "qwen2-72b-tp8", "--layers", "1"])).stdout)
    }

    @Test func aDAGWithCheckErrorsIsNotExported() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Written by hand from docs/dot-schema.md: a tensor that crosses GPUs with no communication.
        let dot = dir.appendingPathComponent("cross.dot")
        try Data(
            """
            digraph g {
              gpus=2;
              x [op=input, gpu=0, out="[4,8]"];
              y [op=relu, gpu=1, out="[4,8]"];
              x -> y;
            }

            """.utf8
        ).write(to: dot)
        let r = try CLI.run(["export", dot.path, "-o", dir.appendingPathComponent("out").path])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("error"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
    }
}
