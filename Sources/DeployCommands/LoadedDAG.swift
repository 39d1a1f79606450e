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
    static func load(
        _ path: String, limitMB: Int = defaultLimitMB, keepLabels: Bool = true, progress: ProgressLine? = nil
    ) throws -> LoadedDAG {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > limitMB * 1_000_000 {
            return LoadedDAG(
                path: path, decoded: nil,
                readFindings: [
                    Finding(
                        .inputSize, file: path,
                        "the file is \(size / 1_000_000) MB, over the input limit of \(limitMB) MB; raise it with --max-input-mb")
                ])
        }
        try checkReadable(path)
        let clock = ContinuousClock()
        let start = clock.now
        let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
        guard let result = DOTReader.decode(path: path, keepLabels: keepLabels, progress: progress?.reading(path, size: size))
        else {
            throw CommandError.io("cannot read \(path): permission denied or unreadable")
        }
        var loaded = LoadedDAG(path: path, decoded: result.decoded, readFindings: result.findings)
        loaded.timings = [
            ("libcgraph parse", result.parseSeconds), ("decode", result.decodeSeconds),
            ("free the parsed graph", result.closeSeconds), ("total read", (clock.now - start).seconds),
        ]
        return loaded
    }

    static func checkReadable(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommandError.io("cannot read \(path): no such file")
        }
        guard !isDirectory.boolValue else { throw CommandError.io("cannot read \(path): it is a directory") }
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
