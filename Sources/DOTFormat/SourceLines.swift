import Synchronization

/// The lines of a DOT file's nodes and edges, found the first time one is asked for.
///
/// libcgraph keeps no positions, so lines come from a scan of the text (``DOTSourceMap``). A
/// clean file needs none, so the scan waits until a finding needs a line: checking a
/// million-node DAG that has nothing to report neither scans nor holds the file's bytes, and a
/// file on disk is scanned a megabyte at a time, so that only the map stays in memory.
public final class SourceLines: Sendable {
    private struct State {
        var load: (@Sendable () -> DOTSourceMap?)?
        var map: DOTSourceMap?
    }
    private let state: Mutex<State>

    /// Lines from the bytes `load` returns (the file read again, say) at the first question.
    public init(loading load: @escaping @Sendable () -> [UInt8]?) {
        state = Mutex(State(load: { load().map(DOTSourceMap.init(scanning:)) }, map: nil))
    }

    /// Lines from the file at `path`, read again in chunks at the first question.
    public init(scanningFileAt path: String) {
        state = Mutex(State(load: { DOTSourceMap(scanningFileAt: path) }, map: nil))
    }

    /// Lines from a map already scanned.
    public init(map: DOTSourceMap) {
        state = Mutex(State(load: nil, map: map))
    }

    /// The scanned map, or nil when the text could not be had.
    public var map: DOTSourceMap? {
        state.withLock { state in
            if let load = state.load {
                state.load = nil
                state.map = load()
            }
            return state.map
        }
    }

    /// Whether the text has been scanned already (for tests of the laziness).
    public var isScanned: Bool { state.withLock { $0.load == nil } }

    public func line(ofNode name: String) -> Int? { map?.line(ofNode: name) }

    public func line(ofEdge tail: String, _ head: String, occurrence: Int) -> Int? {
        map?.line(ofEdge: tail, head, occurrence: occurrence)
    }
}
