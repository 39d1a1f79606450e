import Foundation
import Testing

/// Bad input gets its own clear finding and exit 1, never a crash; output files are whole or absent.
@Suite struct RobustnessTests {
    static let valid =
        "digraph g {\n  graph [gpus=1];\n  a [op=input, gpu=0, out=\"[4]\"];\n  b [op=output, gpu=0, out=\"[4]\"];\n  a -> b;\n}\n"

    static let cases: [(String, [UInt8], String)] = [
        ("empty", [], "error[syntax]: the file is empty"),
        ("garbage", [0x01, 0x02, 0x00, 0xFF, 0x7F, 0x1B], "error[syntax]"),
        ("undirected", Array("graph g { a -- b }".utf8), "error[schema]: the graph is undirected"),
        ("two graphs", Array("digraph a { x }\ndigraph b { y }\n".utf8), "more than one graph"),
        ("unterminated", Array("digraph g {\n a [label=\"open\n}\n".utf8), "error[syntax]"),
        (
            "overflow", Array(valid.replacingOccurrences(of: "[4]\"];\n  b", with: "[99999999999999999999]\"];\n  b").utf8),
            "overflows 64 bits"
        ),
        (
            "zero dim", Array(valid.replacingOccurrences(of: "out=\"[4]\"];\n  b", with: "out=\"[0]\"];\n  b").utf8),
            "dimensions must be positive"
        ),
        (
            "negative dim", Array(valid.replacingOccurrences(of: "out=\"[4]\"];\n  b", with: "out=\"[-4]\"];\n  b").utf8),
            "dimensions must be positive"
        ),
        (
            "non-integer gpu",
            Array(valid.replacingOccurrences(of: "gpu=0, out=\"[4]\"];\n  b", with: "gpu=\"0.5\", out=\"[4]\"];\n  b").utf8),
            "'gpu' must be a non-negative integer"
        ),
        (
            "a GPU count beyond any cluster",
            Array(valid.replacingOccurrences(of: "gpus=1", with: "gpus=99999999999999").utf8),
            "'gpus' must be a positive integer of at most 65536"
        ),
        (
            "a group spanning billions of GPUs",
            Array("digraph g { a [op=all_reduce, group=\"0-999999,0-999999\", out=\"[4]\"] }".utf8),
            "'group' must be comma-separated GPU ids"
        ),
        ("duplicate edge", Array(valid.replacingOccurrences(of: "a -> b;", with: "a -> b;\n  a -> b;").utf8), "error[duplicate-edge]"),
        ("self-loop", Array(valid.replacingOccurrences(of: "a -> b;", with: "a -> b;\n  b -> b;").utf8), "error[cycle]"),
        ("10 MB attribute", Array(("digraph g { a [note=\"" + String(repeating: "x", count: 10_000_000) + "\"] }").utf8), "error[syntax]"),
        (
            "deep nesting",
            Array(
                ("digraph g { " + String(repeating: "subgraph { ", count: 20000) + "a" + String(repeating: " }", count: 20000) + " }").utf8),
            "error[syntax]"
        ),
        (
            "invalid UTF-8", Array("digraph g { \"a".utf8) + [0xFF, 0xFE] + Array("\" [op=input, gpu=0, out=\"[4]\"] }".utf8),
            "error[dangling]"
        ),
    ]

    @Test(arguments: cases.indices)
    func badInputIsAFindingNotACrash(index: Int) throws {
        let (name, bytes, expected) = Self.cases[index]
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("bad.dot")
        try Data(bytes).write(to: file)
        let r = try CLI.run(["check", "--gpus", "1", file.path])
        #expect(r.status == 1, "\(name): status \(r.status)\n\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains(expected), "\(name): \(r.stdout.prefix(600))")
    }

    @Test func inputSizeLimit() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("big.dot")
        try Data(try #require(Self.cases.first { $0.0 == "10 MB attribute" }).1).write(to: file)
        let r = try CLI.run(["check", "--max-input-mb", "1", file.path])
        #expect(r.status == 1 && r.stdout.contains("error[input-size]") && r.stdout.contains("--max-input-mb"))
    }

    /// 200 random byte-level mutations of a generated DAG: each check exits 0 or 1, none dies by a signal.
    @Test func randomMutationsNeverCrash() async throws {
        let dir = try scratchDirectory()
        let original = Array(
            try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "2", "--view", "layer:0:mlp"]).stdout.utf8)
        var generator = SplitMix(seed: 2026)
        var files: [String] = []
        for i in 0..<200 {
            var bytes = original
            for _ in 0..<(1 + Int(generator.next() % 8)) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes.remove(at: position)
                case 2: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                default: bytes.insert(contentsOf: bytes[position..<min(bytes.count, position + 40)], at: position)
                }
            }
            let file = dir.appendingPathComponent("m\(i).dot").path
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            files.append(file)
        }
        let paths = files
        let statuses = try await withThrowingTaskGroup(of: (String, Process.TerminationReason, Int32).self) { group in
            for chunk in stride(from: 0, to: paths.count, by: 25) {
                group.addTask {
                    var last: (String, Process.TerminationReason, Int32) = ("", .exit, 0)
                    for file in paths[chunk..<min(paths.count, chunk + 25)] {
                        let p = Process()
                        p.executableURL = CLI.binary
                        p.arguments = ["check", file]
                        p.standardOutput = FileHandle.nullDevice
                        p.standardError = FileHandle.nullDevice
                        try p.run()
                        p.waitUntilExit()
                        if p.terminationReason != .exit || p.terminationStatus > 1 {
                            return (file, p.terminationReason, p.terminationStatus)
                        }
                        last = (file, p.terminationReason, p.terminationStatus)
                    }
                    return last
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (file, reason, status) in statuses {
            #expect(reason == .exit && status <= 1, "\(file): \(reason) \(status)")
        }
    }

    /// Killing generate or render at any moment leaves the old file or the complete new one, and
    /// no temporary file.
    @Test(arguments: ["generate", "render"])
    func killedWritersLeaveNoPartialFile(command: String) throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("in.dot").path
        _ = try CLI.run(["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "2", "-o", dot])
        let target = dir.appendingPathComponent(command == "generate" ? "out.dot" : "out.svg").path
        let old = "old contents\n"
        for delay in [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5] {
            try old.write(toFile: target, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = CLI.binary
            p.arguments =
                command == "generate"
                ? ["generate", "--preset", "tp8-pp2-dense-4l", "--layers", "40", "-o", target] : ["render", dot, "-o", target, "--force"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let contents = try String(contentsOfFile: target, encoding: .utf8)
            let whole = command == "generate" ? contents.hasSuffix("}\n") : contents.hasSuffix("</svg>\n")
            #expect(contents == old || whole, "after \(delay) s: a partial file of \(contents.utf8.count) bytes")
            let others = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
                $0 != "in.dot" && $0 != (target as NSString).lastPathComponent
            }
            #expect(others.isEmpty, "left behind: \(others)")
        }
    }
}

/// A small deterministic generator for the mutations.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
