import Foundation
import Testing

/// Inputs from pipes and devices, outputs that must not land where a file's contents say, as the
/// built binary behaves.
@Suite struct CommandPathTests {
    static let smallPreset = ["generate", "--preset", "helix-dense-2l", "--view", "layer:0:attention"]

    @Test(arguments: ["-", "/dev/stdin"])
    func checkReadsAPipe(_ name: String) throws {
        let dot = try CLI.run(Self.smallPreset)
        #expect(dot.status == 0)
        let r = try CLI.run(["check", name], input: Data(dot.stdout.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ok ("), "\(r.stdout)")
    }

    @Test func findingsOfAPipeNameStandardInputWithTheirLine() throws {
        let r = try CLI.run(["check", "-"], input: Data("digraph g {\n  a -> b\n  b -> a\n}\n".utf8))
        #expect(r.status == 1)
        #expect(r.stdout.contains("<stdin>:"), "\(r.stdout)")
    }

    @Test func aDeviceThatNeverEndsIsStoppedAtOnce() throws {
        let r = try CLI.run(["check", "/dev/zero"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("NUL"), "\(r.stdout)")
        let big = try CLI.run(["check", "--max-input-mb", "1", "-"], input: Data(repeating: UInt8(ascii: " "), count: 3_000_000))
        #expect(big.status == 1)
        #expect(big.stdout.contains("input-size"), "\(big.stdout)")
    }

    @Test func renderAndAnalyzeWriteToStandardOutputAndNeverOverTheirInput() throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("a.dot").path
        #expect(try CLI.run(Self.smallPreset + ["-o", dot]).status == 0)
        let original = try Data(contentsOf: URL(fileURLWithPath: dot))
        let svg = try CLI.run(["render", dot])
        #expect(svg.status == 0)
        #expect(svg.stdout.hasPrefix("<?xml"))
        let overwriting = [
            ["render", dot, "-o", dot], ["analyze", dot, "--gantt", dot], ["render", dot, "-o", "x.svg", "--diagram-dot", dot],
        ]
        for arguments in overwriting {
            let r = try CLI.run(arguments, in: dir)
            #expect(r.status == 2, "\(arguments)")
            #expect(r.stderr.contains("it is the input"), "\(r.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dot)) == original)
        #expect(try CLI.run(["generate", "--preset", "helix-dense-2l", "-o", "-"]).stdout.hasPrefix("digraph"))
    }

    @Test func aGraphNameCannotLeadTheReportOutOfItsDirectory() throws {
        let dir = try scratchDirectory()
        let work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let dot = try CLI.run(Self.smallPreset).stdout
        let hostile = dot.replacingOccurrences(
            of: "digraph \"helix-dense-2l.layer0-attention\"", with: "digraph \"x/../../../escaped\"")
        #expect(hostile != dot)
        let file = work.appendingPathComponent("h.dot")
        try hostile.write(to: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["report", "h.dot"], in: work)
        #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["work"])
        let made = try FileManager.default.contentsOfDirectory(atPath: work.path).sorted()
        #expect(made == ["h.dot", "report-x_.._.._.._escaped"], "\(made)")
    }
}
