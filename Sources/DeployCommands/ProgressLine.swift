import Foundation
import GraphvizBridge
import Synchronization

/// Where a long run has got, on one line of standard error rewritten in place, and only when
/// standard error is a terminal: redirected output, Makefiles and CI logs stay clean. Nothing is
/// shown for the first half second, so quick runs never flicker.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let write: @Sendable (String) -> Void
    private let delay: Duration
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    /// The latest message, whether it is on screen, and whether the run is over; a ticking
    /// thread puts the message up once the delay has passed and whenever it changes.
    private let state = Mutex<(message: String?, shown: String?, finished: Bool)>((nil, nil, false))

    init(enabled: Bool, delay: Duration = .milliseconds(500), write: @escaping @Sendable (String) -> Void) {
        self.enabled = enabled
        self.delay = delay
        self.write = write
        start = clock.now
        guard enabled else { return }
        Thread.detachNewThread { [self] in
            while tick() { Thread.sleep(forTimeInterval: 0.1) }
        }
    }

    /// On standard error when it is a terminal and `DEPLOYDAG_PROGRESS` is not `0`.
    static func standardError() -> ProgressLine {
        let wanted = ProcessInfo.processInfo.environment["DEPLOYDAG_PROGRESS"] != "0"
        return ProgressLine(enabled: wanted && isatty(STDERR_FILENO) != 0) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// The message to show in place of the previous one.
    func show(_ text: String) {
        guard enabled else { return }
        state.withLock { $0.message = text }
    }

    /// Puts the latest message up if it is new and the delay has passed; false once finished.
    @discardableResult
    func tick() -> Bool {
        let due = clock.now - start >= delay
        return state.withLock { state in
            guard !state.finished else { return false }
            if due, let message = state.message, message != state.shown {
                write("\r\u{1B}[Kdeploydag: \(message)")
                state.shown = message
            }
            return true
        }
    }

    /// Reading a file through libcgraph: the share read so far, then decoding.
    func reading(_ file: String, size: Int?) -> (ReadProgress) -> Void {
        let name = (file as NSString).lastPathComponent
        return { [self] progress in
            switch progress {
            case .parsing(let bytes):
                if let size, size > 0 {
                    show("reading \(name): \(min(100, bytes * 100 / size))% of \(Self.megabytes(size))")
                } else {
                    show("reading \(name): \(Self.megabytes(bytes))")
                }
            case .decoding(let nodes):
                show("decoding \(name): \(nodes) nodes")
            }
        }
    }

    /// Clears the line (when something was shown) and stops; later output starts clean.
    func finish() {
        guard enabled else { return }
        state.withLock { state in
            if state.shown != nil && !state.finished { write("\r\u{1B}[K") }
            state.finished = true
        }
    }

    static func megabytes(_ bytes: Int) -> String {
        bytes >= 10_000_000 ? "\(bytes / 1_000_000) MB" : String(format: "%.1f MB", Double(bytes) / 1e6)
    }
}
