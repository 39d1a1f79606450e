/// A `kv_cache` node's `range` attribute, `START:END`: the cache's tokens `START ..< END`.
public enum TokenRange {
    /// The two integers of `START:END` (spaces around each allowed), or nil for any other text.
    /// Their order and bounds are the reader's to check.
    public static func parse(_ text: String) -> (start: Int, end: Int)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int(parts[0].trimmingASCIISpaces()), let end = Int(parts[1].trimmingASCIISpaces()) else {
            return nil
        }
        return (start, end)
    }
}
