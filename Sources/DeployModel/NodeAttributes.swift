/// A node's operator parameters and further attributes (`eq`, `weight`, `m`, `k`, `n`, `logical`,
/// `place`, ...), by DOT attribute name.
///
/// A million-node DAG keeps a million of these beside libcgraph's parse, so they are packed
/// into one string each: per attribute, its name, then its value and a NUL, sorted by name. A
/// name from ``NodeAttributes/commonNames`` is written as one byte (its position plus one);
/// any other is spelled out and ends with a NUL (after a 0x1F byte if it starts with a byte
/// below 0x20, so that it cannot be read as a code). DOT values are C strings, so NUL never
/// occurs inside a name or a value.
public struct NodeAttributes: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    private var packed: String

    /// The attribute names deploydag's builders write, each stored as one byte.
    public static let commonNames = [
        "eq", "weight", "m", "k", "n", "dim", "parts", "split_dim", "concat_dim", "scale", "index", "experts",
        "capacity", "replicas", "capacity_factor", "logical", "place", "weight_logical", "weight_place", "micro_batch",
        "cache", "range",
    ]
    private static let codes: [String: UInt8] = Dictionary(
        uniqueKeysWithValues: commonNames.enumerated().map { ($0.element, UInt8($0.offset + 1)) })
    private static let escape: UInt8 = 0x1F

    /// The one-byte code of a common name, 0 for any other: compared as short strings rather
    /// than hashed, since a million-node build asks this several million times.
    private static func code(of name: String) -> UInt8 {
        guard name.utf8.count <= 15 else { return 0 }
        for (i, common) in commonNames.enumerated() where common == name { return UInt8(i + 1) }
        return 0
    }

    public init() { packed = "" }

    /// From pairs already sorted by name, each name once.
    public init(sortedPairs: [(key: String, value: String)]) {
        guard !sortedPairs.isEmpty else {
            packed = ""
            return
        }
        var codes: [UInt8] = []
        var total = 0
        for (key, value) in sortedPairs {
            let code = Self.code(of: key)
            codes.append(code)
            total += (code > 0 ? 1 : key.utf8.count + 2) + value.utf8.count + 1
        }
        packed = String(unsafeUninitializedCapacity: total) { buffer in
            var i = 0
            func put(_ text: String) {
                var text = text
                text.withUTF8 { bytes in
                    precondition(!bytes.contains(0), "attribute names and values cannot hold NUL")
                    if let source = bytes.baseAddress { (buffer.baseAddress! + i).initialize(from: source, count: bytes.count) }
                    i += bytes.count
                }
            }
            for ((key, value), code) in zip(sortedPairs, codes) {
                if code > 0 {
                    buffer[i] = code
                    i += 1
                } else {
                    if let first = key.utf8.first, first < 0x20 {
                        buffer[i] = Self.escape
                        i += 1
                    }
                    put(key)
                    buffer[i] = 0
                    i += 1
                }
                put(value)
                buffer[i] = 0
                i += 1
            }
            return i
        }
    }

    /// From pairs in any order; when a name occurs more than once the last value counts. For
    /// builders: a handful of pairs sorted in place costs less than hashing them into a dictionary.
    public init(pairs: [(key: String, value: String)]) {
        if pairs.count < 2 {
            self.init(sortedPairs: pairs)
            return
        }
        var sorted = true
        for i in 1..<pairs.count where !(pairs[i - 1].key < pairs[i].key) {
            sorted = false
            break
        }
        if sorted {
            self.init(sortedPairs: pairs)
            return
        }
        // Ties broken by position, so that of equal names the last in `pairs` ends last.
        let order = pairs.indices.sorted { pairs[$0].key < pairs[$1].key || (pairs[$0].key == pairs[$1].key && $0 < $1) }
        var unique: [(key: String, value: String)] = []
        unique.reserveCapacity(order.count)
        for pair in order.lazy.map({ pairs[$0] }) {
            if let last = unique.last, last.key == pair.key {
                unique[unique.count - 1] = pair
            } else {
                unique.append(pair)
            }
        }
        self.init(sortedPairs: unique)
    }

    public init(_ dictionary: [String: String]) {
        self.init(sortedPairs: dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    public var isEmpty: Bool { packed.isEmpty }

    public var count: Int { pairs.count }

    /// The attributes as (name, value) pairs, sorted by name.
    public var pairs: [(key: String, value: String)] {
        var result: [(key: String, value: String)] = []
        walk { key, value in
            result.append((key.name, String(decoding: value, as: UTF8.self)))
            return false
        }
        return result
    }

    public var keys: [String] { pairs.map(\.key) }

    public var dictionary: [String: String] {
        Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: String)]> { pairs.makeIterator() }

    public subscript(key: String) -> String? {
        get {
            var found: String?
            if let code = Self.codes[key] {
                walk { name, value in
                    guard case .code(let c) = name, c == code else { return false }
                    found = String(decoding: value, as: UTF8.self)
                    return true
                }
            } else {
                let wanted = Array(key.utf8)
                walk { name, value in
                    guard case .spelled(let bytes) = name, bytes.elementsEqual(wanted) else { return false }
                    found = String(decoding: value, as: UTF8.self)
                    return true
                }
            }
            return found
        }
        set {
            var all = dictionary
            all[key] = newValue
            self = NodeAttributes(all)
        }
    }

    /// Calls `body` with each attribute in order, without making strings: the name's position
    /// in ``commonNames`` plus one (0 when the name is spelled out), the name's UTF-8 bytes
    /// (empty for a common name) and the value's UTF-8 bytes. For writers.
    public func forEachRaw(_ body: (Int, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try walk { name, value in
            switch name {
            case .code(let c): try body(Int(c), UnsafeBufferPointer(start: nil, count: 0), value)
            case .spelled(let bytes): try body(0, bytes, value)
            }
            return false
        }
    }

    public var description: String { pairs.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") }

    private enum Name {
        case code(UInt8)
        case spelled(UnsafeBufferPointer<UInt8>)

        var name: String {
            switch self {
            case .code(let c): NodeAttributes.commonNames[Int(c) - 1]
            case .spelled(let bytes): String(decoding: bytes, as: UTF8.self)
            }
        }
    }

    /// Calls `visit` with each name and value in order until it returns true.
    private func walk(_ visit: (Name, UnsafeBufferPointer<UInt8>) throws -> Bool) rethrows {
        guard !isEmpty else { return }
        _ = try packed.utf8.withContiguousStorageIfAvailable { text in
            var i = 0
            let end = text.count
            func field(from start: Int) -> (UnsafeBufferPointer<UInt8>, next: Int) {
                var stop = start
                while stop < end && text[stop] != 0 { stop += 1 }
                return (UnsafeBufferPointer(rebasing: text[start..<stop]), stop + 1)
            }
            while i < end {
                let first = text[i]
                let name: Name
                if first >= 1 && first < Self.escape {
                    name = .code(first)
                    i += 1
                } else {
                    let (bytes, next) = field(from: first == Self.escape ? i + 1 : i)
                    name = .spelled(bytes)
                    i = next
                }
                let (value, next) = field(from: i)
                i = next
                if try visit(name, value) { return }
            }
        }
    }
}
