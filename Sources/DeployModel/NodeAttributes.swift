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

    /// The attribute names deploydag's builders write, each stored as one byte. In name order, so
    /// that codes sort as their names do.
    public static let commonNames = [
        "cache", "capacity", "capacity_factor", "concat_dim", "dim", "eq", "experts", "index", "k", "logical", "m",
        "micro_batch", "n", "parts", "place", "range", "replicas", "scale", "split_dim", "weight", "weight_logical",
        "weight_place",
    ]
    /// Marks a spelled-out name that starts with a byte below 0x20 (codes are below it).
    @usableFromInline static var escape: UInt8 { 0x1F }

    /// Common names by a hash of their length and first and last bytes, one slot each (checked
    /// when the table is made): finding a name's code is one comparison, not a hash of the name.
    private static let codeTable: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for (i, name) in commonNames.enumerated() {
            let slot = tableSlot(name)!
            precondition(table[slot] == 0, "two common attribute names share a slot")
            table[slot] = UInt8(i + 1)
        }
        return table
    }()

    private static func tableSlot(_ name: String) -> Int? {
        let utf8 = name.utf8
        guard utf8.count <= 15, let first = utf8.first, let last = utf8.last else { return nil }
        return (utf8.count &* 2 &+ Int(first) &* 8 &+ Int(last)) & 255
    }

    /// The one-byte code of a common name, 0 for any other.
    static func code(of name: String) -> UInt8 {
        guard let slot = tableSlot(name) else { return 0 }
        let code = codeTable[slot]
        return code > 0 && commonNames[Int(code) - 1] == name ? code : 0
    }

    public init() { packed = "" }

    /// From pairs already sorted by name, each name once.
    public init(sortedPairs: [(key: String, value: String)]) {
        self = withUnsafeTemporaryAllocation(of: (code: UInt8, index: Int).self, capacity: Swift.max(sortedPairs.count, 1)) { order in
            for (i, pair) in sortedPairs.enumerated() { order[i] = (Self.code(of: pair.key), i) }
            return NodeAttributes(packing: UnsafeMutableBufferPointer(rebasing: order[..<sortedPairs.count]), from: sortedPairs)
        }
    }

    /// From pairs in any order; when a name occurs more than once the last value counts. For
    /// builders: their few pairs are ordered in place (common names by code) and packed, with
    /// no dictionary and no intermediate array.
    public init(pairs: [(key: String, value: String)]) {
        let count = pairs.count
        self = withUnsafeTemporaryAllocation(of: (code: UInt8, index: Int).self, capacity: Swift.max(count, 1)) { order in
            for (i, pair) in pairs.enumerated() { order[i] = (Self.code(of: pair.key), i) }
            func before(_ a: (code: UInt8, index: Int), _ b: (code: UInt8, index: Int)) -> Bool {
                if a.code > 0 && b.code > 0 { return a.code != b.code ? a.code < b.code : a.index < b.index }
                let (x, y) = (pairs[a.index].key, pairs[b.index].key)
                return x != y ? x < y : a.index < b.index
            }
            // Insertion sort: a node has a handful of attributes.
            for i in 1..<Swift.max(count, 1) {
                let item = order[i]
                var j = i
                while j > 0 && before(item, order[j - 1]) {
                    order[j] = order[j - 1]
                    j -= 1
                }
                order[j] = item
            }
            // Of equal names the last (in `pairs`) is kept: it sorts last.
            var kept = 0
            for i in 0..<count {
                if i + 1 < count && pairs[order[i].index].key == pairs[order[i + 1].index].key { continue }
                order[kept] = order[i]
                kept += 1
            }
            return NodeAttributes(packing: UnsafeMutableBufferPointer(rebasing: order[..<kept]), from: pairs)
        }
    }

    /// Packs `pairs[order[i].index]` in the given order, each with its code.
    private init(packing order: UnsafeMutableBufferPointer<(code: UInt8, index: Int)>, from pairs: [(key: String, value: String)]) {
        var total = 0
        for (code, index) in order {
            total += (code > 0 ? 1 : pairs[index].key.utf8.count + 2) + pairs[index].value.utf8.count + 1
        }
        guard total > 0 else {
            packed = ""
            return
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
            for (code, index) in order {
                let (key, value) = pairs[index]
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
        withRawAttributes { cursor in
            var result: [(key: String, value: String)] = []
            while let (code, name, value) = cursor.next() {
                let key = code > 0 ? Self.commonNames[code - 1] : String(decoding: name, as: UTF8.self)
                result.append((key, String(decoding: value, as: UTF8.self)))
            }
            return result
        }
    }

    public var keys: [String] { pairs.map(\.key) }

    public var dictionary: [String: String] {
        Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: String)]> { pairs.makeIterator() }

    public subscript(key: String) -> String? {
        get {
            // A common name is only ever stored as its code, any other only spelled out.
            let wantedCode = Int(Self.code(of: key))
            if wantedCode > 0 { return firstValue { code, _ in code == wantedCode } }
            let wanted = Array(key.utf8)
            return firstValue { code, name in code == 0 && name.elementsEqual(wanted) }
        }
        set {
            var all = dictionary
            all[key] = newValue
            self = NodeAttributes(all)
        }
    }

    /// Calls `body` with a cursor over the attributes in order, without making strings. For
    /// writers: see ``RawCursor``.
    public func withRawAttributes<R>(_ body: (inout RawCursor) throws -> R) rethrows -> R {
        if isEmpty {
            var cursor = RawCursor(UnsafeBufferPointer(start: nil, count: 0))
            return try body(&cursor)
        }
        var packed = packed
        return try packed.withUTF8 { text in
            var cursor = RawCursor(text)
            return try body(&cursor)
        }
    }

    /// Reads the packed attributes one at a time; valid only inside ``withRawAttributes(_:)``.
    public struct RawCursor {
        @usableFromInline let text: UnsafeBufferPointer<UInt8>
        @usableFromInline var position = 0

        @usableFromInline init(_ text: UnsafeBufferPointer<UInt8>) { self.text = text }

        /// The next attribute: its name's code (position in ``commonNames`` plus one, 0 when the
        /// name is spelled out), the spelled name's UTF-8 bytes (empty for a common name) and the
        /// value's UTF-8 bytes; nil after the last.
        @inlinable
        public mutating func next() -> (code: Int, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>)? {
            guard position < text.count else { return nil }
            let first = text[position]
            var code = 0
            var name = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
            if first >= 1 && first < NodeAttributes.escape {
                code = Int(first)
                position += 1
            } else {
                name = field(from: first == NodeAttributes.escape ? position + 1 : position)
            }
            let value = field(from: position)
            return (code, name, value)
        }

        /// The bytes from `start` to the next NUL; moves past that NUL.
        @inlinable
        mutating func field(from start: Int) -> UnsafeBufferPointer<UInt8> {
            var stop = start
            while stop < text.count && text[stop] != 0 { stop += 1 }
            position = stop + 1
            return UnsafeBufferPointer(rebasing: text[start..<stop])
        }
    }

    /// The value of the first attribute whose code and spelled name `matches` accepts.
    private func firstValue(_ matches: (Int, UnsafeBufferPointer<UInt8>) -> Bool) -> String? {
        withRawAttributes { cursor in
            while let (code, name, value) = cursor.next() {
                if matches(code, name) { return String(decoding: value, as: UTF8.self) }
            }
            return nil
        }
    }

    public var description: String { pairs.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") }
}
