import Synchronization

/// Values a command is done with that the process's exit reclaims instead of Swift: freeing a
/// million-node graph node by node takes a tenth of a second, exit unmaps its memory at once.
/// Only when the process ends with the command (`DeployDag.runAsMain` enables `process`);
/// otherwise, as in tests, values are freed as usual.
final class ExitReclaimed: Sendable {
    static let process = ExitReclaimed()

    private let state = Mutex<(enabled: Bool, kept: [any Sendable])>((false, []))

    /// For a process that exits when the command returns.
    func enable() { state.withLock { $0.enabled = true } }

    /// Keeps `value` alive until the process exits, when enabled; else does nothing.
    func keep(_ value: some Sendable) {
        state.withLock { state in
            if state.enabled { state.kept.append(value) }
        }
    }

    var keptCount: Int { state.withLock { $0.kept.count } }
}
