import ArgumentParser
import DOTFormat
import DeployModel
import Foundation
import GraphvizBridge

#if canImport(Glibc)
    import Glibc
#endif

/// A DAG file read through libcgraph and decoded, with what reading it found.
struct LoadedDAG {
    var path: String
    /// Present when libcgraph could parse the file.
    var decoded: DecodedGraph?
    /// `syntax` findings from reading; `schema` findings live in `decoded`.
    var readFindings: [Finding]

    var allFindings: [Finding] { readFindings + (decoded?.findings ?? []) }
    /// Phase durations in seconds, for `--timings`.
    var timings: [(String, Double)] = []

    /// The default limit on the size of a DAG file, in MB (`--max-input-mb` raises it).
    static let defaultLimitMB = 4096

    /// Reads `path`: a file, or `-` (or `/dev/stdin`, a pipe, a FIFO, a device) for a stream,
    /// which is read into memory up to the limit. Throws only when the input cannot be read at
    /// all (exit 2 territory). An input over `limitMB`, or one libcgraph could not parse, yields
    /// findings and no graph.
    static func load(
        _ path: String, limitMB: Int = defaultLimitMB, keepLabels: Bool = true, progress: ProgressLine? = nil
    ) throws -> LoadedDAG {
        let limit = limitMB.multipliedReportingOverflow(by: 1_000_000)
        let limitBytes = limit.overflow ? Int.max : limit.partialValue
        if isStream(path) {
            return decoding(try readStream(path, limitBytes: limitBytes), name: displayName(path), limitMB: limitMB, keepLabels: keepLabels)
        }
        try checkReadable(path)
        if let size = FileStatus(following: path).map({ Int($0.size) }), size > limitBytes {
            return LoadedDAG(
                path: path, decoded: nil,
                readFindings: [
                    Finding(
                        .inputSize, file: path,
                        "the file is \(size / 1_000_000) MB, over the input limit of \(limitMB) MB; raise it with --max-input-mb")
                ])
        }
        let clock = ContinuousClock()
        let start = clock.now
        let size = FileStatus(following: path).map { Int($0.size) }
        guard let result = DOTReader.decode(path: path, keepLabels: keepLabels, progress: progress?.reading(path, size: size))
        else {
            throw CommandError.io("cannot read \(path): \(lastError())")
        }
        var loaded = LoadedDAG(path: path, decoded: result.decoded, readFindings: result.findings)
        loaded.timings = [
            ("libcgraph parse", result.parseSeconds), ("decode", result.decodeSeconds),
            ("free the parsed graph", result.closeSeconds), ("total read", (clock.now - start).seconds),
        ]
        return loaded
    }

    /// A stream's bytes as `load` reads them: over the limit, or holding a NUL, no graph.
    static func decoding(
        _ read: (bytes: [UInt8], complete: Bool), name: String, limitMB: Int = defaultLimitMB, keepLabels: Bool = true
    ) -> LoadedDAG {
        guard read.complete else {
            return LoadedDAG(
                path: name, decoded: nil,
                readFindings: [
                    Finding(
                        .inputSize, file: name,
                        "more than \(limitMB) MB came from \(name), over the input limit; raise it with --max-input-mb")
                ])
        }
        if let nul = read.bytes.firstIndex(of: 0) {
            let line = read.bytes[..<nul].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            return LoadedDAG(
                path: name, decoded: nil,
                readFindings: [
                    Finding(.syntax, file: name, line: line, "byte \(nul) is NUL; a DOT file is text (was this the right input?)")
                ])
        }
        let result = DOTReader.decode(bytes: read.bytes, file: name, keepLabels: keepLabels)
        return LoadedDAG(path: name, decoded: result.decoded, readFindings: result.findings)
    }

    /// `-` is standard input, shown in findings as `<stdin>`.
    static let standardInputName = "-"

    static func displayName(_ path: String) -> String { path == standardInputName ? "<stdin>" : path }

    /// Whether `path` is read as a stream rather than as a file: `-`, a descriptor
    /// (`/dev/stdin`, `/dev/fd/N`) or anything that is not a regular file or a directory.
    static func isStream(_ path: String) -> Bool {
        if path == standardInputName { return true }
        guard let status = FileStatus(following: path) else { return false }
        return !status.isRegular && !status.isDirectory
    }

    /// Reads a stream to its end, or until more than `limitBytes` arrived (`complete` false),
    /// or through the first block holding a NUL byte, which no DOT text has (the reader says
    /// where): `/dev/zero` ends at once.
    static func readStream(_ path: String, limitBytes: Int) throws -> (bytes: [UInt8], complete: Bool) {
        let fd: Int32
        if path == standardInputName {
            fd = 0
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CommandError.io("cannot read \(path): \(lastError())") }
        }
        defer { if fd != 0 { close(fd) } }
        var bytes: [UInt8] = []
        let blockSize = 1 << 20
        while true {
            let old = bytes.count
            let room = min(blockSize, limitBytes - old + 1)
            bytes.append(contentsOf: repeatElement(0, count: room))
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + old, room) }
            if count < 0 {
                bytes.removeLast(room)
                if errno == EINTR { continue }
                throw CommandError.io("cannot read \(displayName(path)): \(lastError())")
            }
            bytes.removeLast(room - count)
            if count == 0 { return (bytes, true) }
            if bytes.count > limitBytes { return ([], false) }
            if bytes[old...].contains(0) { return (bytes, true) }
        }
    }

    static func checkReadable(_ path: String) throws {
        guard let status = FileStatus(following: path) else {
            throw CommandError.io("cannot read \(path): \(FileStatus(linkAt: path) == nil ? "no such file" : "a dangling link")")
        }
        guard !status.isDirectory else { throw CommandError.io("cannot read \(path): it is a directory") }
    }

    /// The decoded graph when reading and decoding found no error; otherwise the findings are
    /// printed and the command fails with exit 1.
    func requireGraph() throws -> OperatorGraph {
        let errors = allFindings.filter { $0.severity == .error }
        guard let decoded, errors.isEmpty else {
            for finding in errors { printError(finding.formatted) }
            printError(
                "\(path): cannot be used until \(errors.count == 1 ? "this error is" : "these \(errors.count) errors are") fixed (deploydag check \(path))"
            )
            throw ExitCode.failure
        }
        return decoded.graph
    }
}
