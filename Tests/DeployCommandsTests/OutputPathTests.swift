import Foundation
import Testing

@testable import DeployCommands

#if canImport(Glibc)
    import Glibc
#endif

/// `-o` follows the conventions of cp, dot and jq: links are written through, devices and FIFOs
/// are written, not replaced, and nothing a command reads is overwritten.
@Suite struct OutputPathTests {
    @Test(arguments: ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
    func standardOutputNamesAreTheDescriptor(_ path: String) throws {
        #expect(try OutputFile.Destination.resolve(path, inputs: []) == .descriptor(1))
        #expect(OutputFile.isStandardOutput(path))
    }

    @Test func aSymbolicLinkIsWrittenThroughAndStaysALink() throws {
        let dir = try scratchDirectory()
        let target = dir.appendingPathComponent("real.dot").path
        let link = dir.appendingPathComponent("link.dot").path
        try "old\n".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.dot")
        try OutputFile.write("new\n", to: link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "real.dot")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["link.dot", "real.dot"])
    }

    @Test func aDanglingLinkCreatesItsTarget() throws {
        let dir = try scratchDirectory()
        let link = dir.appendingPathComponent("link.dot").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "made.dot")
        try OutputFile.write("x\n", to: link)
        #expect(try String(contentsOfFile: dir.appendingPathComponent("made.dot").path, encoding: .utf8) == "x\n")
        #expect(FileStatus(linkAt: link)?.isSymbolicLink == true)
    }

    @Test func aCharacterDeviceIsWrittenNotReplaced() throws {
        let dir = try scratchDirectory()
        // A device node of our own (the null device's numbers) where we may make one; otherwise
        // the machine's /dev/null itself, which this code must never replace.
        let own = dir.appendingPathComponent("null").path
        let device = mknod(own, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0 ? own : "/dev/null"
        #expect(try OutputFile.Destination.resolve(device, inputs: []) == .special(device, isStream: false))
        try OutputFile.write(Array(repeating: UInt8(ascii: "x"), count: 100_000), to: device)
        let status = try #require(FileStatus(linkAt: device))
        #expect(status.mode & S_IFMT == S_IFCHR)
    }

    @Test func aFIFOReceivesTheBytes() throws {
        let dir = try scratchDirectory()
        let fifo = dir.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let received = ReceivedBytes()
        let reader = Thread {
            received.set(FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile() ?? Data())
        }
        reader.start()
        try OutputFile.write("through the pipe\n", to: fifo)
        while !received.done { usleep(1000) }
        #expect(received.text == "through the pipe\n")
        #expect(FileStatus(linkAt: fifo)?.isFIFO == true)
    }

    @Test func aDirectoryIsRefused() throws {
        let dir = try scratchDirectory()
        #expect(throws: CommandError.self) { try OutputFile.write("x", to: dir.path) }
    }

    @Test func anInputIsRefusedByAnyName() throws {
        let dir = try scratchDirectory()
        let input = dir.appendingPathComponent("in.dot").path
        try "digraph g {}\n".write(toFile: input, atomically: false, encoding: .utf8)
        let link = dir.appendingPathComponent("link.dot").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: input)
        let hard = dir.appendingPathComponent("hard.dot").path
        try FileManager.default.linkItem(atPath: input, toPath: hard)
        for output in [input, link, hard, dir.path + "/./in.dot"] {
            #expect(throws: CommandError.self) { try OutputFile.write("x", to: output, inputs: [input]) }
        }
        #expect(try String(contentsOfFile: input, encoding: .utf8) == "digraph g {}\n")
    }

    @Test func theModeAndHardLinksOfAReplacedFileAreKept() throws {
        let dir = try scratchDirectory()
        let file = dir.appendingPathComponent("secret.dot").path
        let other = dir.appendingPathComponent("other-name.dot").path
        try "old\n".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(chmod(file, 0o600) == 0)
        try FileManager.default.linkItem(atPath: file, toPath: other)
        try OutputFile.write("new and longer\n", to: file)
        let status = try #require(FileStatus(linkAt: file))
        #expect(status.mode & 0o777 == 0o600)
        #expect(status.linkCount == 2)
        #expect(try String(contentsOfFile: other, encoding: .utf8) == "new and longer\n")
        try OutputFile.write("short\n", to: other)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "short\n")

        let single = dir.appendingPathComponent("single.dot").path
        try "old\n".write(toFile: single, atomically: false, encoding: .utf8)
        #expect(chmod(single, 0o640) == 0)
        try OutputFile.write("new\n", to: single)
        #expect(FileStatus(linkAt: single).map { $0.mode & 0o777 } == 0o640)
    }

    @Test func temporariesAKilledProcessLeftAreRemovedByTheNextWrite() throws {
        let dir = try scratchDirectory()
        // A process id that is not running: a child that has exited and been reaped.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let dead = child.processIdentifier
        let stale = dir.appendingPathComponent(".out.dot.deploydag-\(dead)-7.tmp").path
        let live = dir.appendingPathComponent(".out.dot.deploydag-\(getpid())-7.tmp").path
        let unrelated = dir.appendingPathComponent(".other.dot.deploydag-\(dead)-7.tmp").path
        for path in [stale, live, unrelated] { #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8))) }
        try OutputFile.write("new\n", to: dir.appendingPathComponent("out.dot").path)
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: live))
        #expect(FileManager.default.fileExists(atPath: unrelated))
    }

    @Test(arguments: [
        ("x/../../../somewhere", "x_.._.._.._somewhere"), ("../up", "_up"), ("..", "graph"), ("", "graph"),
        ("a b\u{1b}[2Jc", "a_b__2Jc"), ("helix-dense-2l", "helix-dense-2l"), ("-rf", "rf"),
    ])
    func namesFromFilesBecomeOnePathComponent(_ name: String, _ expected: String) {
        let safe = OutputFile.safeComponent(name)
        #expect(safe == expected)
        #expect(!safe.contains("/") && !safe.hasPrefix(".") && !safe.isEmpty)
    }

    @Test func theDrawingFormatFollowsTheExtensionOrTheFlag() throws {
        #expect(try DrawingFormat.choose(output: "a.png", format: nil) == .png)
        #expect(try DrawingFormat.choose(output: "dir.v2/a", format: nil) == .svg)
        #expect(try DrawingFormat.choose(output: "-", format: .pdf) == .pdf)
        #expect(try DrawingFormat.choose(output: "a.gv", format: .dot) == .dot)
        #expect(throws: (any Error).self) { try DrawingFormat.choose(output: "a.png", format: .svg) }
        #expect(try DrawingFormat.choose(output: "a.html", format: nil) == .html)
        #expect(throws: (any Error).self) { try DrawingFormat.choose(output: "a.xyz", format: nil) }
    }
}

/// Bytes a reader thread hands back.
final class ReceivedBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    func set(_ d: Data) { lock.withLock { data = d } }
    var done: Bool { lock.withLock { data != nil } }
    var text: String { lock.withLock { String(decoding: data ?? Data(), as: UTF8.self) } }
}
