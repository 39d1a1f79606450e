import ArgumentParser
import DOTFormat
import DeployModel
import Foundation
import GraphvizBridge

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

    /// Reads `path`. Throws only when the file cannot be read at all (exit 2 territory).
    /// A file over `limitMB`, or one libcgraph could not parse, yields findings and no graph.
    static func load(_ path: String, limitMB: Int = defaultLimitMB) throws -> LoadedDAG {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > limitMB * 1_000_000 {
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
        let bytes = try readBytes(path)
        let read = clock.now
        let result = DOTReader.read(bytes: bytes, file: path)
        let parsed = clock.now
        // After a syntax error cgraph may still return what it had read: check none of it.
        let failed = result.findings.contains { $0.severity == .error }
        let decoded = failed ? nil : result.document.map { GraphDecoder().decode($0, sourceMap: result.sourceMap, file: path) }
        var loaded = LoadedDAG(path: path, decoded: decoded, readFindings: result.findings)
        loaded.timings = [
            ("read file", (read - start).seconds), ("source lines", result.sourceMapSeconds),
            ("libcgraph parse + copy", result.parseSeconds), ("decode", (clock.now - parsed).seconds),
        ]
        return loaded
    }

    static func readBytes(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommandError.io("cannot read \(path): no such file")
        }
        guard !isDirectory.boolValue else { throw CommandError.io("cannot read \(path): it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandError.io("cannot read \(path): permission denied or unreadable")
        }
        return [UInt8](data)
    }

    /// The decoded graph when reading and decoding found no error; otherwise the findings are
    /// printed and the command fails with exit 1.
    func requireGraph() throws -> OperatorGraph {
        let errors = allFindings.filter { $0.severity == .error }
        guard let decoded, errors.isEmpty else {
            for finding in errors { printError(finding.formatted) }
            printError(
                "\(path): cannot be used until these \(errors.count) error\(errors.count == 1 ? "" : "s") are fixed (deploydag check \(path))"
            )
            throw ExitCode.failure
        }
        return decoded.graph
    }
}
