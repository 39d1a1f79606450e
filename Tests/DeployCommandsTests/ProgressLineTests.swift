import Foundation
import GraphvizBridge
import Synchronization
import Testing

@testable import DeployCommands

/// Collects what a progress line writes.
final class Captured: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ text: String) { lines.withLock { $0.append(text) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite struct ProgressLineTests {
    @Test func showsEachNewMessageInPlaceThenClears() {
        let out = Captured()
        let line = ProgressLine(enabled: true, delay: .zero) { out.append($0) }
        line.show("reading a.dot: 10% of 372 MB")
        line.tick()
        line.tick()  // unchanged: not written again
        line.show("decoding a.dot: 950100 nodes")
        line.tick()
        line.finish()
        line.show("after the end")
        line.tick()
        #expect(
            out.all == [
                "\r\u{1B}[Kdeploydag: reading a.dot: 10% of 372 MB", "\r\u{1B}[Kdeploydag: decoding a.dot: 950100 nodes",
                "\r\u{1B}[K",
            ])
    }

    @Test func quickRunsAndNonTerminalsShowNothing() {
        let quick = Captured()
        let line = ProgressLine(enabled: true, delay: .seconds(60)) { quick.append($0) }
        line.show("checking")
        line.tick()
        line.finish()
        #expect(quick.all.isEmpty)

        let redirected = Captured()
        let off = ProgressLine(enabled: false, delay: .zero) { redirected.append($0) }
        off.show("checking")
        off.tick()
        off.finish()
        #expect(redirected.all.isEmpty)
    }

    @Test func readingReportsTheShareOfTheFile() {
        let out = Captured()
        let line = ProgressLine(enabled: true, delay: .zero) { out.append($0) }
        let report = line.reading("/tmp/dags/big.dot", size: 372_000_000)
        report(.parsing(bytes: 186_000_000))
        line.tick()
        report(.decoding(nodes: 12))
        line.tick()
        line.finish()
        #expect(out.all.first == "\r\u{1B}[Kdeploydag: reading big.dot: 50% of 372 MB")
        #expect(out.all.dropFirst().first == "\r\u{1B}[Kdeploydag: decoding big.dot: 12 nodes")
    }

    @Test func theReaderReportsBytesAsLibcgraphReadsThem() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString).dot").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // About 300 KB: several reports of 64 KB.
        var text = "digraph g {\n"
        for i in 0..<4000 { text += "  \"n\(i)\" [op=\"gelu\", gpu=\"0\", out=\"[2]\", note=\"\(String(repeating: "x", count: 40))\"];\n" }
        text += "}\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let seen = Captured()
        _ = DOTReader.decode(path: path) { progress in seen.append("\(progress)") }
        let reports = seen.all
        #expect(reports.count >= 4)
        #expect(reports.last == "decoding(nodes: 4000)")
        #expect(reports.dropLast().allSatisfy { $0.hasPrefix("parsing(bytes: ") })
    }
}
