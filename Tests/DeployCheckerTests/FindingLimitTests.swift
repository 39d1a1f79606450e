import DeployChecker
import DeployModel
import Testing

/// A small file must not make the checker produce findings by the million.
@Suite struct FindingLimitTests {
    static let pair = "digraph p {\n  graph [gpus=2];\n  a [op=input, gpu=0, out=\"[4]\"];\n  b [op=output, gpu=1, out=\"[4]\"];\n"

    @Test func repeatedEdgesAreOneFindingAPair() throws {
        let text = Self.pair + String(repeating: "  a -> b;\n", count: 6) + "}\n"
        let duplicates = check(text).findings.filter { $0.rule == .duplicateEdge }
        #expect(duplicates.count == 1)
        let finding = try #require(duplicates.first)
        #expect(finding.line == 6 && finding.node == "b")
        #expect(
            finding.message.contains("is stated 5 more times (first at line 5; again at lines 6, 7, 8, 9 and 1 more)"), "\(finding.message)"
        )
    }

    @Test func aGroupOutsideTheDeploymentIsOneFinding() {
        let text = """
            digraph g {
              graph [gpus=16];
              a [op=input, gpu=0, out="[4]"];
              r [op=all_reduce, group="0-65535", out="[4]"];
              b [op=output, gpu=0, out="[4]"];
              a -> r -> b;
            }

            """
        let ranges = check(text).findings.filter { $0.rule == .gpuRange }
        #expect(ranges.map(\.message) == ["GPUs 16-65535 (65520 of them) are outside 0..15: the deployment has 16 GPUs"])
    }

    @Test(arguments: ["0-65536", "0-1048575", "70000"])
    func gpuIdsPastTheMaximumAreASchemaFinding(group: String) {
        let text = "digraph g { r [op=all_reduce, group=\"\(group)\", out=\"[4]\"] }"
        #expect(check(text).findings.contains { $0.rule == .schema && $0.message.contains("ids below 65536") })
        let gpu = "digraph g { r [op=input, gpu=\(group.split(separator: "-").last!), out=\"[4]\"] }"
        #expect(
            check(gpu).findings.contains { $0.rule == .schema && $0.message.contains("'gpu' must be a non-negative integer below 65536") })
    }

    /// 100,005 edges that each cross GPUs (distinct operands, so not duplicates): the check keeps
    /// 100,000 findings, counts the rest, and says so in a note per rule.
    @Test func findingsPastTheMaximumAreCounted() {
        var text = Self.pair
        for i in 0..<100_005 { text += "  a -> b [operand=\(i)];\n" }
        let report = check(text + "}\n")
        let notes = report.findings.filter { $0.severity == .note }
        #expect(report.findings.count == Checker.maximumFindings + notes.count)
        // And the output's input count, and the two GPUs that hold only an input and an output.
        #expect(report.errorCount == 100_005 + 1 + 2)
        // The rules run in order; the output's shape finding came after the limit too.
        #expect(notes.map(\.rule) == [.crossGPU, .shape])
        #expect(notes.first?.message.hasPrefix("7 more errors of this rule were counted but not kept") == true, "\(notes)")
        #expect(notes.last?.message.hasPrefix("1 more error of this rule") == true, "\(notes)")
    }
}
