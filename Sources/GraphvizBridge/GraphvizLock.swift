internal import CGraphviz
import DeployModel
import Glibc
import Synchronization

/// cgraph and gvc keep global state (the lexer, the error buffer, the plugin context), so every
/// call into them runs under this one process-wide lock.
enum Graphviz {
    private static let lock = Mutex<Void>(())

    /// Messages cgraph sent through its error callback during the current locked section.
    nonisolated(unsafe) private static var messages: [String] = []

    /// Runs `body` with the lock held, cgraph's error state reset and its messages captured.
    static func withLock<T>(_ body: () throws -> T) rethrows -> (T, [String]) {
        try lock.withLock { _ in
            messages = []
            _ = agreseterrors()
            // The reporting level is global too, and graphviz's own code may raise it: warnings
            // (such as '1a' splitting into two tokens) must reach the callback every time.
            let level = agseterr(AGWARN)
            let previous = agseterrf { message in
                if let message { Graphviz.messages.append(String(cString: message)) }
                return 0
            }
            defer {
                _ = agseterrf(previous)
                _ = agseterr(level)
                _ = agreseterrors()
            }
            let result = try body()
            return (result, messages)
        }
    }

    /// Puts cgraph's lexer back where a new file starts. Flushing its buffer (`aglexbad`) is not
    /// enough: a file that ends inside a quoted string, an HTML string or a comment leaves the
    /// lexer in that state, and the next file would be read from inside it (found by fuzzing:
    /// after a file holding only `"`, a valid graph failed to parse). The state is not
    /// reachable from outside, so this probes it: a tiny graph parses only from the start state;
    /// until it does, text that ends each other state is fed (`"`, `*/`, then `>` for nested
    /// HTML strings). Must run under the lock; the probes' messages are dropped.
    static func resetLexer() {
        func parse(_ text: String) -> Bool {
            var bytes = Array(text.utf8)
            return bytes.withUnsafeMutableBytes { buffer in
                guard let stream = fmemopen(buffer.baseAddress, buffer.count, "r") else { return false }
                defer { fclose(stream) }
                aglexbad()
                guard let graph = agread(UnsafeMutableRawPointer(stream), nil) else { return false }
                agclose(graph)
                return true
            }
        }
        func atStart() -> Bool { parse("digraph{}") }
        defer {
            aglexbad()
            messages = []
            _ = agreseterrors()
        }
        if atStart() { return }
        for ending in ["\"", "*/"] {
            _ = parse(ending)
            if atStart() { return }
        }
        let closers = String(repeating: ">", count: 1 << 16)
        for _ in 0..<1024 {
            _ = parse(closers)
            if atStart() { return }
        }
    }

    /// cgraph sends one error in pieces ("Error: ", "syntax error in line 3", " near 'x'\n"):
    /// join them and split on newlines.
    /// A line that starts with neither "Error" nor "Warning" continues the message before it.
    static func joinMessages(_ pieces: [String]) -> [String] {
        var messages: [String] = []
        for raw in pieces.joined().split(separator: "\n") {
            let line = String(raw.trimmingASCIISpaces())
            if line.isEmpty { continue }
            if line.hasPrefix("Error") || line.hasPrefix("Warning") || messages.isEmpty {
                messages.append(line)
            } else {
                messages[messages.count - 1] += "; " + line
            }
        }
        return messages
    }
}
