/// A node's operator parameters and further attributes (`eq`, `weight`, `m`, `k`, `n`, `logical`,
/// `place`, ...), by DOT attribute name.
///
/// Stored as one string, `key NUL value NUL key NUL value ...` with the keys sorted: a
/// million-node DAG keeps a million of these, and one small allocation each (instead of a hash
/// table's buckets) is most of the difference between fitting beside libcgraph's parse and not.
/// DOT values are C strings, so NUL never occurs in a key or a value.
public struct NodeAttributes: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    private var packed: String

    public init() { packed = "" }

    public init(_ dictionary: [String: String]) {
        self.init(sortedPairs: dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
    }

    /// From pairs already sorted by name, each name once.
    public init(sortedPairs: [(key: String, value: String)]) {
        var text = ""
        for (key, value) in sortedPairs {
            precondition(!key.utf8.contains(0) && !value.utf8.contains(0), "attribute names and values cannot hold NUL")
            if !text.isEmpty { text.append("\0") }
            text.append(key)
            text.append("\0")
            text.append(value)
        }
        packed = text
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    public var isEmpty: Bool { packed.isEmpty }

    public var count: Int { isEmpty ? 0 : (packed.utf8.count { $0 == 0 } + 1) / 2 }

    /// The attributes as (name, value) pairs, sorted by name.
    public var pairs: [(key: String, value: String)] {
        guard !isEmpty else { return [] }
        let parts = packed.utf8.split(separator: 0, omittingEmptySubsequences: false).map { String(Substring($0)) }
        return stride(from: 0, to: parts.count - 1, by: 2).map { (key: parts[$0], value: parts[$0 + 1]) }
    }

    public var keys: [String] { pairs.map(\.key) }

    public var dictionary: [String: String] {
        Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: String)]> { pairs.makeIterator() }

    public subscript(key: String) -> String? {
        get { lookup(key) }
        set {
            var all = dictionary
            all[key] = newValue
            self = NodeAttributes(all)
        }
    }

    public var description: String { pairs.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") }

    private func lookup(_ key: String) -> String? {
        guard !isEmpty else { return nil }
        let found: String?? = packed.utf8.withContiguousStorageIfAvailable { text -> String? in
            key.utf8.withContiguousStorageIfAvailable { wanted -> String? in
                var start = 0
                let end = text.count
                while start < end {
                    var keyEnd = start
                    while keyEnd < end && text[keyEnd] != 0 { keyEnd += 1 }
                    var valueEnd = keyEnd + 1
                    while valueEnd < end && text[valueEnd] != 0 { valueEnd += 1 }
                    var same = keyEnd - start == wanted.count
                    var i = 0
                    while same && i < wanted.count {
                        same = text[start + i] == wanted[i]
                        i += 1
                    }
                    if same {
                        let valueStart = Swift.min(keyEnd + 1, end)
                        return String(decoding: UnsafeBufferPointer(rebasing: text[valueStart..<valueEnd]), as: UTF8.self)
                    }
                    start = valueEnd + 1
                }
                return nil
            } ?? nil
        }
        if let found { return found }
        return dictionary[key]
    }
}
