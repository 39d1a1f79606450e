import DOTFormat
import DeployModel
import Testing

@testable import GraphvizBridge

/// cgraph's lexer and error state are global: whatever one parse leaves behind must not change
/// what the next one reports.
@Suite(.serialized) struct ReaderStateTests {
    static let probe = "digraph g {\n 1a -> b\n}"
    static let before: [String] = [
        "", "digraph g { \"open", "digraph a { x }\ndigraph b { y }\n", "\u{1}\u{2}\u{0}garbage", "digraph g { a -> }",
        "digraph g {\n a -> b\n b [op=\n}\n", "graph u { a -- b }", "digraph g { a -> b }",
    ]

    @Test(arguments: before)
    func warningAfter(previous: String) {
        _ = readBack(previous)
        let (_, result) = readBack(Self.probe)
        #expect(
            result.findings.contains { $0.severity == .warning && $0.line == 2 && $0.message.contains("1a") },
            "after \(previous.debugDescription): \(result.findings.map(\.formatted))")
    }
}
