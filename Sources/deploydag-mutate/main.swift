import DOTMutation
import Foundation
import Synchronization

// The attribute-level mutation campaign (docs/fuzzing.md; scripts/mutate.sh runs it):
//   deploydag-mutate --binary DEPLOYDAG --count N [--seed S] [--jobs J] [--seconds 30] [--memory-mb 2048]
//                    [--work DIR] [--failures DIR] SEED.dot...
//   deploydag-mutate --write DIR --count N [--seed S] SEED.dot...   (only writes the mutants)
//   deploydag-mutate --binary DEPLOYDAG --replay yes [--failures DIR] FILE.dot...   (runs the files
//                    themselves, such as a campaign's failures after a fix)
// Mutant I comes from seed file I mod the number of seeds and the generator seeded with S and I,
// so `--count` and `--seed` reproduce a campaign and a failure's number reproduces the failure.

var options: [String: String] = [:]
var seeds: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument.hasPrefix("--") {
        guard let value = arguments.popFirst() else {
            FileHandle.standardError.write(Data("deploydag-mutate: \(argument) needs a value\n".utf8))
            exit(2)
        }
        options[String(argument.dropFirst(2))] = value
    } else {
        seeds.append(argument)
    }
}
let given = options
func number(_ key: String, _ fallback: Int) -> Int {
    guard let text = given[key] else { return fallback }
    guard let value = Int(text), value >= 0 else {
        FileHandle.standardError.write(Data("deploydag-mutate: --\(key) takes a non-negative integer\n".utf8))
        exit(2)
    }
    return value
}
let replay = given["replay"] == "yes"
let count = replay ? seeds.count : number("count", 1000)
let seed = UInt64(number("seed", 1))
let mutators: [(name: String, mutator: DOTMutator)] = seeds.compactMap { path in
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        FileHandle.standardError.write(Data("deploydag-mutate: cannot read \(path)\n".utf8))
        exit(2)
    }
    let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    return (name, DOTMutator(seed: text))
}
guard !mutators.isEmpty, mutators.allSatisfy({ $0.mutator.nodeCount > 0 }) else {
    FileHandle.standardError.write(Data("deploydag-mutate: name one or more DOT files deploydag wrote\n".utf8))
    exit(2)
}

let files = seeds
let texts = replay ? files.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" } : []
@Sendable func mutant(_ index: Int) -> (name: String, mutant: DOTMutator.Mutant) {
    let (name, mutator) = mutators[index % mutators.count]
    if replay { return (name, DOTMutator.Mutant(text: texts[index], changes: ["replayed \(files[index])"])) }
    var random = MutationRandom(seed: seed &* 0x1_0000_0001 &+ UInt64(index))
    return ("\(name)-\(index)", mutator.mutant(&random))
}

if let directory = options["write"] {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for index in 0..<count {
        let (name, m) = mutant(index)
        try Data(m.text.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("\(name).dot"))
        try Data((m.changes.joined(separator: "\n") + "\n").utf8).write(
            to: URL(fileURLWithPath: directory).appendingPathComponent("\(name).txt"))
    }
    exit(0)
}

guard let binary = options["binary"] else {
    FileHandle.standardError.write(Data("deploydag-mutate: --binary DEPLOYDAG is required (or --write DIR)\n".utf8))
    exit(2)
}
let jobs = max(1, number("jobs", 2))
let limits = MutantRunner.Limits(seconds: number("seconds", 30), bytes: number("memory-mb", 2048) << 20)
let runner = MutantRunner(binary: URL(fileURLWithPath: binary), limits: limits)
let workFolder = URL(fileURLWithPath: options["work"] ?? NSTemporaryDirectory() + "deploydag-mutate-\(getpid())")
let failures = URL(fileURLWithPath: options["failures"] ?? "mutate-failures")
try FileManager.default.createDirectory(at: workFolder, withIntermediateDirectories: true)
try FileManager.default.createDirectory(at: failures, withIntermediateDirectories: true)

struct Tally {
    var next = 0
    var done = 0
    var failed = 0
    var byKind: [String: Int] = [:]
    var byCommand: [String: Int] = [:]
}
let tally = Mutex(Tally())
let start = Date()
@Sendable func work() {
    while true {
        let index: Int? = tally.withLock { t in
            guard t.next < count else { return nil }
            defer { t.next += 1 }
            return t.next
        }
        guard let index else { return }
        let (name, m) = mutant(index)
        let sandbox = workFolder.appendingPathComponent(name)
        let problems: [MutantRunner.Problem]
        do {
            problems = try runner.run(m.text, sandbox: sandbox)
        } catch {
            problems = [MutantRunner.Problem(kind: .status, command: "runner", detail: "\(error)")]
        }
        if !problems.isEmpty {
            try? Data(m.text.utf8).write(to: failures.appendingPathComponent("\(name).dot"))
            let report = (m.changes + problems.map(\.description)).joined(separator: "\n") + "\n"
            try? Data(report.utf8).write(to: failures.appendingPathComponent("\(name).txt"))
        }
        // Roots of the hostile names (`../../x`) must not escape either: nothing beside the
        // sandboxes may appear in the work folder.
        try? FileManager.default.removeItem(at: sandbox)
        let line: String? = tally.withLock { t in
            t.done += 1
            if !problems.isEmpty { t.failed += 1 }
            for p in problems {
                t.byKind[p.kind.rawValue, default: 0] += 1
                t.byCommand[p.command, default: 0] += 1
            }
            let failing = problems.isEmpty ? nil : "\(name): " + problems.map(\.description).joined(separator: "; ")
            let progress = t.done % 250 == 0 ? "\(t.done)/\(count) mutants, \(t.failed) failing" : nil
            return [failing, progress].compactMap { $0 }.joined(separator: "\n")
        }
        if let line, !line.isEmpty { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}
let finished = DispatchGroup()
for _ in 0..<jobs {
    finished.enter()
    Thread.detachNewThread {
        work()
        finished.leave()
    }
}
finished.wait()
let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: workFolder.path)) ?? []
try? FileManager.default.removeItem(at: workFolder)
let seconds = Date().timeIntervalSince(start)
let final = tally.withLock { $0 }
print("mutants: \(final.done) from \(mutators.count) seeds (\(mutators.map(\.name).joined(separator: ", "))), seed \(seed)")
print("commands: \(MutantRunner.commands.map(\.name).joined(separator: ", ")): \(final.done * MutantRunner.commands.count) runs")
print("limits: \(limits.seconds) s and \(limits.bytes >> 20) MB a run; \(jobs) jobs")
print(String(format: "time: %.0f s (%.1f mutants a second)", seconds, Double(final.done) / max(seconds, 0.001)))
print("failing mutants: \(final.failed)" + (final.failed > 0 ? " (saved in \(failures.path))" : ""))
for (kind, n) in final.byKind.sorted(by: { $0.key < $1.key }) { print("  \(kind): \(n)") }
for (command, n) in final.byCommand.sorted(by: { $0.key < $1.key }) { print("  in \(command): \(n)") }
if !leftovers.isEmpty { print("left in the work folder: \(leftovers.prefix(10))") }
exit(final.failed == 0 && leftovers.isEmpty ? 0 : 1)
