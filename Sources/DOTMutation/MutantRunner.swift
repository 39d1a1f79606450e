import Foundation

/// Runs one DOT file through every deploydag command that reads one, each in a process of its
/// own inside a sandbox directory, and says what went wrong: a death by a signal, an exit
/// status other than 0, 1 or 2, a time or memory limit passed, an SVG that is not XML, a trace
/// that is not JSON, a file written where none was asked for, Chakra traces that `export` wrote
/// and `import` cannot read back.
public struct MutantRunner: Sendable {
    /// Per-process limits, enforced with `timeout` and `prlimit --as` (the campaign's; the
    /// tests run without them, since a unit test takes no wall-clock limit).
    public struct Limits: Sendable {
        public var seconds: Int
        public var bytes: Int
        public init(seconds: Int, bytes: Int) {
            self.seconds = seconds
            self.bytes = bytes
        }
    }

    /// What went wrong in one command.
    public struct Problem: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            case signal, status, timeout, memory, xml, json, stray, roundTrip = "round-trip"
        }
        public var kind: Kind
        public var command: String
        public var detail: String
        public var description: String { "\(kind.rawValue) in \(command): \(detail)" }
        public init(kind: Kind, command: String, detail: String) {
            self.kind = kind
            self.command = command
            self.detail = detail
        }
    }

    /// The commands, with `IN` for the DOT file and `OUT` for the sandbox's output folder.
    public static let commands: [(name: String, arguments: [String])] = [
        ("check", ["check", "IN"]),
        ("info", ["info", "IN"]),
        ("analyze", ["analyze", "IN", "--gantt", "OUT/gantt.svg", "--trace", "OUT/trace.json"]),
        ("render", ["render", "IN", "-o", "OUT/render.svg"]),
        ("verify", ["verify", "IN"]),
        ("report", ["report", "IN", "-o", "OUT/report"]),
        ("compare", ["compare", "IN", "helix-dense-2l"]),
        ("export", ["export", "--format", "chakra", "IN", "-o", "OUT/chakra", "--name", "t"]),
        ("import", ["import", "--format", "chakra", "OUT/chakra", "-o", "OUT/back.dot"]),
    ]

    /// What the commands may leave in the sandbox, relative to it.
    static let expectedFiles: Set<String> = [
        "in.dot", "cwd", "log", "out", "out/gantt.svg", "out/trace.json", "out/render.svg", "out/report", "out/report/report.md",
        "out/report/overview.svg", "out/report/layer0.svg", "out/report/timeline.svg", "out/chakra", "out/chakra/t.json",
        "out/back.dot",
    ]

    /// A rank's trace that `export` writes: out/chakra/t.N.et.
    static func isTrace(_ path: String) -> Bool {
        guard path.hasPrefix("out/chakra/t."), path.hasSuffix(".et") else { return false }
        let rank = path.dropFirst("out/chakra/t.".count).dropLast(3)
        return !rank.isEmpty && rank.allSatisfy(\.isASCII) && rank.allSatisfy(\.isNumber)
    }

    public var binary: URL
    public var limits: Limits?

    public init(binary: URL, limits: Limits? = nil) {
        self.binary = binary
        self.limits = limits
    }

    /// What one mutant did: the problems found and each command's exit status.
    public struct Outcome: Sendable {
        public var problems: [Problem] = []
        public var statuses: [String: Int32] = [:]
    }

    /// Runs `text` as `sandbox/in.dot` through every command; `sandbox` must not exist yet.
    public func run(_ text: String, sandbox: URL) throws -> [Problem] { try outcome(text, sandbox: sandbox).problems }

    /// As `run`, with the exit statuses.
    public func outcome(_ text: String, sandbox: URL) throws -> Outcome {
        let fm = FileManager.default
        let cwd = sandbox.appendingPathComponent("cwd")
        let out = sandbox.appendingPathComponent("out")
        let log = sandbox.appendingPathComponent("log")
        for dir in [cwd, out, log] { try fm.createDirectory(at: dir, withIntermediateDirectories: true) }
        let input = sandbox.appendingPathComponent("in.dot")
        try Data(text.utf8).write(to: input)
        var outcome = Outcome()
        for (name, template) in Self.commands {
            let arguments = template.map {
                $0 == "IN" ? input.path : $0.hasPrefix("OUT/") ? out.path + $0.dropFirst(3) : $0
            }
            let (status, problems) = try runCommand(name, arguments, cwd: cwd, log: log)
            outcome.statuses[name] = status
            outcome.problems += problems
        }
        // What export wrote, import reads back (an export that wrote nothing leaves import an
        // empty directory to refuse).
        if outcome.statuses["export"] == 0, outcome.statuses["import"] != 0 {
            outcome.problems.append(
                Problem(
                    kind: .roundTrip, command: "import",
                    detail:
                        "exit \(outcome.statuses["import"] ?? -1) on traces export wrote: \(Self.tail(of: log.appendingPathComponent("import.err")))"
                ))
        }
        outcome.problems += wellFormed(out)
        outcome.problems += strays(in: sandbox)
        return outcome
    }

    private func runCommand(_ name: String, _ arguments: [String], cwd: URL, log: URL) throws -> (Int32, [Problem]) {
        let process = Process()
        if let limits {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments =
                ["-k", "5", "\(limits.seconds)", "/usr/bin/prlimit", "--as=\(limits.bytes)", "--", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.currentDirectoryURL = cwd
        var environment = ProcessInfo.processInfo.environment
        environment["DEPLOYDAG_PROGRESS"] = "0"
        environment["TMPDIR"] = cwd.path
        process.environment = environment
        let stdoutURL = log.appendingPathComponent("\(name).out")
        let stderrURL = log.appendingPathComponent("\(name).err")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdout = try FileHandle(forWritingTo: stdoutURL)
        let stderr = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? stdout.close()
            try? stderr.close()
        }
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let status = process.terminationStatus
        let tail = Self.tail(of: stderrURL)
        if process.terminationReason == .uncaughtSignal {
            return (128 + status, [Problem(kind: .signal, command: name, detail: "signal \(status): \(tail)")])
        }
        if let limits {
            if status == 124 || status == 137 {
                return (status, [Problem(kind: .timeout, command: name, detail: "past \(limits.seconds) s")])
            }
            if status > 128 {
                let memory = ["alloc", "memory", "Cannot allocate"].contains { tail.contains($0) }
                return (status, [Problem(kind: memory ? .memory : .signal, command: name, detail: "signal \(status - 128): \(tail)")])
            }
        }
        if status > 2 { return (status, [Problem(kind: .status, command: name, detail: "exit \(status): \(tail)")]) }
        return (status, [])
    }

    private func wellFormed(_ out: URL) -> [Problem] {
        var problems: [Problem] = []
        let svgs = ["gantt.svg", "render.svg", "report/overview.svg", "report/layer0.svg", "report/timeline.svg"]
        for svg in svgs {
            let url = out.appendingPathComponent(svg)
            guard let data = FileManager.default.contents(atPath: url.path) else { continue }
            do {
                try XMLCheck.wellFormed(data)
            } catch {
                problems.append(Problem(kind: .xml, command: svg, detail: "\(error)"))
            }
        }
        let trace = out.appendingPathComponent("trace.json")
        if let data = FileManager.default.contents(atPath: trace.path) {
            if (try? JSONSerialization.jsonObject(with: data)) == nil {
                problems.append(Problem(kind: .json, command: "trace.json", detail: "not JSON (\(data.count) bytes)"))
            }
        }
        return problems
    }

    /// Everything in the sandbox that no command was asked to write.
    private func strays(in sandbox: URL) -> [Problem] {
        guard let walker = FileManager.default.enumerator(atPath: sandbox.path) else { return [] }
        var problems: [Problem] = []
        while let path = walker.nextObject() as? String {
            if path.hasPrefix("log/") || Self.expectedFiles.contains(path) || Self.isTrace(path) { continue }
            problems.append(Problem(kind: .stray, command: "sandbox", detail: "unexpected file \(path.debugDescription)"))
        }
        return problems
    }

    private static func tail(of url: URL) -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 600 ? size - 600 : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\n", with: " | ")
    }
}
