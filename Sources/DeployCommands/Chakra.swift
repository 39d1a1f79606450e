import ArgumentParser
import ChakraTrace
import DOTFormat
import DeployAnalysis
import DeployModel
import Foundation

/// Trace formats `export` and `import` know.
enum TraceFormat: String, ExpressibleByArgument, CaseIterable {
    case chakra
}

extension DeployDag {
    /// `deploydag export --format chakra`: one Chakra execution trace per GPU, for ASTRA-sim.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a DAG as MLCommons Chakra execution traces, one per GPU, for ASTRA-sim (docs/chakra.md).",
            discussion: """
                Writes DIR/NAME.RANK.et for every rank and DIR/NAME.json (the process groups, for ASTRA-sim's \
                --comm-group-configuration). Compute nodes carry their FLOPs, bytes and the duration the cost model \
                gives them; collectives the bytes each member puts in; send_recv a matched send and receive. The DAG \
                must check without errors.
                """
        )

        @Argument(help: "The DOT file (or name a deployment with --preset/--spec/--hf-config).", completion: .dotFiles)
        var file: String?

        @OptionGroup var source: DeploymentOptions
        @OptionGroup var costs: CostOptions

        @Option(name: .long, help: "The trace format: chakra.")
        var format: TraceFormat = .chakra

        @Option(name: [.short, .customLong("output")], help: "The directory to write the traces into (made if missing).")
        var output: String

        @Option(name: .long, help: "The traces' file name prefix (default: the graph's name).")
        var name: String?

        func validate() throws {
            try source.validate(file: file)
            if OutputFile.isStandardOutput(output) {
                throw ValidationError("-o \(output): export writes a trace file per GPU; name a directory")
            }
            if let name, !ChakraFiles.isSafePrefix(name) {
                throw ValidationError("--name '\(name)': a file name prefix of letters, digits, '-', '_' and '.' (not starting with '.')")
            }
        }

        func run() throws {
            let checked =
                try file.map { try CheckedGraph.load(file: $0, bindings: source.bindings(), keepLabels: true) }
                ?? CheckedGraph.built(source.build().graph)
            let graph = checked.graph
            if checked.warnIfErrors(file.map(LoadedDAG.displayName) ?? graph.name, what: "traces") { throw ExitCode.failure }
            let analysis: Analysis
            do {
                analysis = try Analysis(graph: graph, options: costs.options())
            } catch let error as AnalysisError {
                printError("deploydag: \(error)")
                throw ExitCode.failure
            }
            if !analysis.unboundSymbols.isEmpty {
                throw ValidationError(
                    "the DAG's shapes name \(analysis.unboundSymbols.joined(separator: ", ")): give them with --bind NAME=VALUE, since a trace holds numbers"
                )
            }
            let model = analysis.options.costModel.description
            let export: ChakraExport
            do {
                export = try ChakraExport(analysis, costModel: model)
            } catch {
                printError("deploydag: \(error)")
                throw ExitCode.failure
            }
            let prefix = name ?? ChakraFiles.safePrefix(graph.name)
            try ChakraFiles.makeDirectory(output)
            let inputs = [file].compactMap { $0 } + source.inputFiles + costs.inputFiles
            for (rank, bytes) in export.traces {
                try OutputFile.write(bytes, to: ChakraFiles.path(output, prefix, rank: rank), inputs: inputs)
            }
            try OutputFile.write(export.commGroupJSON, to: ChakraFiles.commGroupsPath(output, prefix), inputs: inputs)
            // Ranks an earlier export of the same name wrote past this one's would be read with it.
            ChakraFiles.removeRanks(in: output, prefix, from: export.traces.count)
            print("\(output): \(export.traces.count) Chakra traces (schema \(chakraSchemaVersion)) of \(graph.name), priced by \(model)")
            var rows: [[String]] = []
            for c in export.counts {
                rows.append([String(c.rank), String(c.compute), String(c.collectives), String(c.sends), String(c.receives)])
            }
            for line in Table.render(
                header: ["rank", "compute", "collectives", "sends", "receives"], rows: rows, rightAligned: [0, 1, 2, 3, 4])
            {
                print(line)
            }
            let kinds = Operator.allCases.filter { export.commBytesByKind[$0] != nil }
            if !kinds.isEmpty {
                print(
                    "comm_size summed per kind: "
                        + kinds.map { "\($0.rawValue) \(Format.bytes(export.commBytesByKind[$0]!))" }.joined(separator: ", "))
            }
            print("process groups: \(export.commGroups.count) (\(ChakraFiles.commGroupsPath(output, prefix)))")
        }
    }

    /// `deploydag import --format chakra`: the DAG a set of traces deploydag exported describes.
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read Chakra execution traces that deploydag exported back into a DOT DAG.",
            discussion:
                "Reads DIR/NAME.RANK.et (every rank of one prefix) and writes the DAG they describe, node for node and edge for edge, as DOT."
        )

        @Argument(help: "The directory of traces.")
        var directory: String

        @Option(name: .long, help: "The trace format: chakra.")
        var format: TraceFormat = .chakra

        @Option(name: .long, help: "The traces' file name prefix, when the directory holds traces of more than one DAG.")
        var name: String?

        @Option(name: [.short, .customLong("output")], help: "Where to write the DOT (default: standard output).")
        var output: String = "-"

        @Option(name: .long, help: "The most megabytes of traces read.")
        var maxInputMb: Int = 4096

        func validate() throws {
            guard maxInputMb > 0, maxInputMb <= 1 << 30 else { throw ValidationError("--max-input-mb must be between 1 and \(1 << 30)") }
        }

        func run() throws {
            let files = try ChakraFiles.traces(in: directory, prefix: name)
            var traces: [ChakraRankTrace] = []
            var total = 0
            for path in files {
                let bytes = try ChakraFiles.read(path, budget: maxInputMb << 20 - total)
                total += bytes.count
                do {
                    traces.append(try ChakraRankTrace(bytes: bytes, file: path))
                } catch {
                    throw CommandError.io("\(error)")
                }
            }
            let graph: OperatorGraph
            do {
                graph = try ChakraImport.graph(traces)
            } catch {
                throw CommandError.io("\(directory): \(error)")
            }
            let dot: [UInt8]
            do {
                dot = try DOTWriter().write(graph)
            } catch {
                throw CommandError.io("\(directory): \(error)")
            }
            try OutputFile.write(dot, to: output, inputs: files)
        }
    }
}

/// Where a set of traces lives: DIR/NAME.RANK.et.
enum ChakraFiles {
    static func isSafePrefix(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.utf8.count <= 200
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0))
            }
    }

    /// A graph name made one safe file name component.
    static func safePrefix(_ name: String) -> String {
        var result = String(
            name.unicodeScalars.map {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_".unicodeScalars.contains($0)) ? Character($0) : "_"
            })
        if result.isEmpty { result = "dag" }
        return String(result.prefix(200))
    }

    static func path(_ directory: String, _ prefix: String, rank: Int) -> String { "\(directory)/\(prefix).\(rank).et" }

    static func commGroupsPath(_ directory: String, _ prefix: String) -> String { "\(directory)/\(prefix).json" }

    static func makeDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw CommandError.io("-o \(path): exists and is not a directory; export writes a file per GPU into a directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CommandError.io("-o \(path): cannot make the directory: \(error.localizedDescription)")
        }
    }

    /// The trace files of one prefix in `directory`, by rank, ranks 0 to N-1 all present.
    static func traces(in directory: String, prefix: String?) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw CommandError.io("\(directory): cannot list the directory: \(error.localizedDescription)")
        }
        var byPrefix: [String: [Int: String]] = [:]
        for name in names where name.hasSuffix(".et") {
            let stem = name.dropLast(3)
            guard let dot = stem.lastIndex(of: "."), let rank = Int(stem[stem.index(after: dot)...]), rank >= 0 else { continue }
            byPrefix[String(stem[..<dot]), default: [:]][rank] = "\(directory)/\(name)"
        }
        let chosen: String
        if let prefix {
            guard byPrefix[prefix] != nil else { throw CommandError.io("\(directory): no traces named \(prefix).RANK.et") }
            chosen = prefix
        } else {
            guard let only = byPrefix.keys.first else { throw CommandError.io("\(directory): no trace files (NAME.RANK.et)") }
            guard byPrefix.count == 1 else {
                throw CommandError.io(
                    "\(directory): traces of several DAGs (\(byPrefix.keys.sorted().joined(separator: ", "))); choose one with --name")
            }
            chosen = only
        }
        let ranks = byPrefix[chosen]!
        if let missing = (0..<ranks.count).first(where: { ranks[$0] == nil }) {
            throw CommandError.io("\(directory): \(chosen).\(missing).et is missing (ranks run from 0 to \(ranks.count - 1))")
        }
        return (0..<ranks.count).map { ranks[$0]! }
    }

    /// Removes DIR/PREFIX.K.et for every K from `first` on.
    static func removeRanks(in directory: String, _ prefix: String, from first: Int) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix + ".") && name.hasSuffix(".et") {
            let rank = name.dropFirst(prefix.count + 1).dropLast(3)
            guard let k = Int(rank), k >= first, String(k) == rank else { continue }
            unlink("\(directory)/\(name)")
        }
    }

    static func read(_ path: String, budget: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CommandError.io("\(path): cannot read the file") }
        defer { try? handle.close() }
        var bytes: [UInt8] = []
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            bytes += chunk
            if bytes.count > budget { throw CommandError.io("\(path): the traces are larger than --max-input-mb allows") }
        }
        return bytes
    }
}
