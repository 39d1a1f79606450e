import Foundation
import Testing

@testable import DeployCommands

/// Files written while they are produced (generate streams its DOT) appear whole or not at all.
@Suite struct OutputFileTests {
    struct Stop: Error {}

    @Test func aProducerThatFailsLeavesTheOldFileAndNoTemporary() throws {
        let dir = try scratchDirectory()
        let target = dir.appendingPathComponent("out.dot").path
        try "old\n".write(toFile: target, atomically: true, encoding: .utf8)
        let piece = [UInt8](repeating: UInt8(ascii: "x"), count: 3 << 20)
        #expect(throws: Stop.self) {
            try OutputFile.write(to: target) { emit in
                // Past the point where writeback is started (8 MB), then a failure.
                for _ in 0..<4 { try piece.withUnsafeBytes(emit) }
                throw Stop()
            }
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "old\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.dot"])
    }

    @Test func theFileHoldsWhatWasEmittedInOrder() throws {
        let dir = try scratchDirectory()
        let target = dir.appendingPathComponent("out.dot").path
        let pieces = (0..<40).map { i in [UInt8](repeating: UInt8(ascii: "a") + UInt8(i % 26), count: 300_000 + i) }
        try OutputFile.write(to: target) { emit in
            for piece in pieces { try piece.withUnsafeBytes(emit) }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == Data(pieces.joined()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.dot"])
    }

    @Test func aMissingDirectoryIsReportedBeforeAnythingIsProduced() throws {
        var produced = false
        #expect(throws: CommandError.self) {
            try OutputFile.write(to: "/nonexistent-deploydag-dir/out.dot") { _ in produced = true }
        }
        #expect(!produced)
    }
}

/// Large values left for the process's exit: only where the process ends with the command.
@Suite struct ExitReclaimedTests {
    final class Payload: Sendable {}

    @Test func keptOnlyWhenEnabled() {
        let off = ExitReclaimed()
        weak var freed: Payload?
        do {
            let payload = Payload()
            freed = payload
            off.keep(payload)
        }
        #expect(freed == nil)
        #expect(off.keptCount == 0)

        let on = ExitReclaimed()
        on.enable()
        weak var kept: Payload?
        do {
            let payload = Payload()
            kept = payload
            on.keep(payload)
        }
        #expect(kept != nil)
        #expect(on.keptCount == 1)
    }
}
