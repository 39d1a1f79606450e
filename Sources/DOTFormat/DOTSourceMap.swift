#if canImport(Glibc)
    import Glibc
#endif

/// Where each node and edge of a DOT file is first stated, by line.
///
/// libcgraph keeps no source positions, so findings would have no `FILE:LINE` without this.
/// It is a single linear scan of the bytes with a small tokenizer that follows DOT's lexical
/// rules (quoted and HTML strings, comments, `#` lines, `+` concatenation) and a statement-level
/// reading that tells node IDs from attribute names, values, ports and keywords.
public struct DOTSourceMap: Sendable {
    /// Each node's ordinal (first mention order) by name, and the line of that mention.
    private var ordinals: [String: UInt32] = [:]
    private var nodeLine: [UInt32] = []
    /// The first line of each edge statement, by (tail ordinal << 32 | head ordinal); the lines
    /// of its repetitions, in file order, for an edge stated again. Keyed by ordinals rather than
    /// names, a map of a million-edge file costs a few dozen bytes an edge.
    private var edgeFirst: [UInt64: UInt32] = [:]
    private var edgeRepeats: [UInt64: [UInt32]] = [:]
    /// The line of the first `digraph`/`graph` keyword after the first graph closes, if any.
    public private(set) var secondGraphLine: Int?
    public private(set) var lineCount: Int = 1
    /// Whether the text is nothing but white space.
    public private(set) var isBlank = true

    public init() {}

    public func line(ofNode name: String) -> Int? { ordinals[name].map { Int(nodeLine[Int($0)]) } }

    public func line(ofEdge tail: String, _ head: String, occurrence: Int = 0) -> Int? {
        guard let t = ordinals[tail], let h = ordinals[head] else { return nil }
        let key = UInt64(t) << 32 | UInt64(h)
        guard let first = edgeFirst[key] else { return nil }
        guard occurrence > 0, let repeats = edgeRepeats[key], !repeats.isEmpty else { return Int(first) }
        return Int(repeats[min(occurrence, repeats.count) - 1])
    }

    /// Scans bytes in memory.
    public init(scanning bytes: [UInt8]) {
        self.init(scanner: Scanner(bytes: bytes))
    }

    /// Scans the file at `path` a megabyte at a time, so that the map, not a copy of the file,
    /// is all that stays in memory. Nil when the file cannot be opened.
    public init?(scanningFileAt path: String) {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        self.init(
            scanner: Scanner(refill: {
                let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                return n > 0 ? Array(chunk[0..<n]) : nil
            }))
    }

    /// Scans the text handed over in `chunks`, as a file is read (for tests of chunk boundaries).
    init(chunks: [[UInt8]]) {
        var rest = chunks[...]
        self.init(scanner: Scanner(refill: { rest.popFirst() }))
    }

    private mutating func record(node name: String, line: Int) -> UInt32 {
        if let ordinal = ordinals[name] { return ordinal }
        let ordinal = UInt32(nodeLine.count)
        ordinals[name] = ordinal
        nodeLine.append(UInt32(clamping: line))
        return ordinal
    }

    private mutating func record(edge tail: UInt32, _ head: UInt32, line: Int) {
        let key = UInt64(tail) << 32 | UInt64(head)
        if edgeFirst[key] == nil {
            edgeFirst[key] = UInt32(clamping: line)
        } else {
            edgeRepeats[key, default: []].append(UInt32(clamping: line))
        }
    }

    private init(scanner: Scanner) {
        var scanner = scanner
        var braceDepth = 0
        var bracketDepth = 0
        var previous: Token.Kind = .punct(UInt8(ascii: ";"))
        var candidate: (name: String, line: Int)?
        var lastNode: UInt32?
        var edgeLine: Int?
        var skipNextID = false  // the name after graph/digraph/subgraph
        var graphsClosed = 0

        func commit(_ name: String, _ line: Int, into map: inout DOTSourceMap) {
            let ordinal = map.record(node: name, line: line)
            if let edgeAt = edgeLine, let tail = lastNode { map.record(edge: tail, ordinal, line: edgeAt) }
            edgeLine = nil
            lastNode = ordinal
        }

        while let token = scanner.next(materialize: bracketDepth == 0) {
            // A pending statement-level ID is a node unless this token is '='.
            if let c = candidate {
                candidate = nil
                if case .punct(let p) = token.kind, p == UInt8(ascii: "=") {
                    // attribute assignment at statement level: `rankdir=LR`
                } else {
                    commit(c.name, c.line, into: &self)
                }
            }
            switch token.kind {
            case .id(let text, let quoted):
                defer { previous = token.kind }
                if bracketDepth > 0 { continue }
                if case .punct(let p) = previous, p == UInt8(ascii: "=") || p == UInt8(ascii: ":") { continue }
                if !quoted {
                    switch text.lowercased() {
                    case "graph", "digraph":
                        if braceDepth == 0 && graphsClosed > 0 && secondGraphLine == nil { secondGraphLine = token.line }
                        skipNextID = true
                        lastNode = nil
                        continue
                    case "subgraph":
                        skipNextID = true
                        lastNode = nil
                        edgeLine = nil
                        continue
                    case "strict":
                        if braceDepth == 0 && graphsClosed > 0 && secondGraphLine == nil { secondGraphLine = token.line }
                        continue
                    case "node", "edge":
                        lastNode = nil
                        continue
                    default: break
                    }
                }
                if skipNextID {
                    skipNextID = false
                    continue
                }
                if braceDepth == 0 { continue }
                candidate = (text, token.line)
            case .punct(let p):
                defer { previous = token.kind }
                switch p {
                case UInt8(ascii: "["):
                    bracketDepth += 1
                    skipNextID = false
                case UInt8(ascii: "]"): bracketDepth = max(0, bracketDepth - 1)
                case UInt8(ascii: "{"):
                    braceDepth += 1
                    skipNextID = false
                    lastNode = nil
                    edgeLine = nil
                case UInt8(ascii: "}"):
                    braceDepth = max(0, braceDepth - 1)
                    if braceDepth == 0 { graphsClosed += 1 }
                    lastNode = nil
                    edgeLine = nil
                case UInt8(ascii: ";"):
                    lastNode = nil
                    edgeLine = nil
                default: break
                }
            case .arrow:
                defer { previous = token.kind }
                if bracketDepth == 0 { edgeLine = token.line }
            }
        }
        if let c = candidate { commit(c.name, c.line, into: &self) }
        lineCount = scanner.line
        isBlank = !scanner.sawNonSpace
    }
}

struct Token {
    enum Kind {
        case id(String, quoted: Bool)
        case punct(UInt8)
        case arrow
    }
    var kind: Kind
    var line: Int
}

/// DOT's lexical structure, enough to find statement boundaries and IDs.
///
/// It reads a window of the text: from bytes in memory, or chunk by chunk from `refill`, the
/// bytes before the current position dropped as each chunk arrives (a token's text is copied
/// out as it is read, so nothing looks back).
struct Scanner {
    private var buffer: [UInt8]
    /// The offset in the text of `buffer[0]`.
    private var base = 0
    private var refill: (() -> [UInt8]?)?
    /// The current offset in the text.
    var i = 0
    var line = 1
    var atLineStart = true
    /// Whether anything but space, tab, newline and carriage return was seen.
    private(set) var sawNonSpace = false

    init(bytes: [UInt8]) { buffer = bytes }

    init(refill: @escaping () -> [UInt8]?) {
        buffer = []
        self.refill = refill
    }

    /// The byte at offset `j` (at or after `i`), or nil past the end of the text.
    @inline(__always) private mutating func at(_ j: Int) -> UInt8? {
        let k = j - base
        return k < buffer.count ? buffer[k] : refilled(j)
    }

    /// `at(j)` once the window has been moved on to hold offset `j`.
    private mutating func refilled(_ j: Int) -> UInt8? {
        while j - base >= buffer.count {
            guard let more = refill?() else {
                refill = nil
                return nil
            }
            buffer.removeFirst(min(buffer.count, max(0, i - base)))
            base = max(base, i)
            buffer.append(contentsOf: more)
        }
        return buffer[j - base]
    }

    private mutating func has(_ j: Int) -> Bool { at(j) != nil }

    /// The next token; with `materialize` false, IDs come back empty (inside attribute lists
    /// their text is not needed, and building it is most of the scan's cost).
    mutating func next(materialize: Bool = true) -> Token? {
        while let b = at(i) {
            switch b {
            case UInt8(ascii: "\n"):
                line += 1
                i += 1
                atLineStart = true
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                i += 1
                continue
            default: break
            }
            sawNonSpace = true
            switch b {
            case 0x0B, 0x0C:
                i += 1
                continue
            case UInt8(ascii: "#") where atLineStart:
                while let c = at(i), c != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where at(i + 1) == UInt8(ascii: "/"):
                while let c = at(i), c != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where at(i + 1) == UInt8(ascii: "*"):
                i += 2
                while let c = at(i), !(c == UInt8(ascii: "*") && at(i + 1) == UInt8(ascii: "/")) {
                    if c == UInt8(ascii: "\n") { line += 1 }
                    i += 1
                }
                i += has(i) ? 2 : 0
                continue
            default:
                break
            }
            atLineStart = false
            let startLine = line
            switch b {
            case UInt8(ascii: "\""):
                var text = quotedString(materialize: materialize)
                // "a" + "b" concatenation
                while let plus = peekNonSpace(), at(plus) == UInt8(ascii: "+") {
                    skipTo(plus + 1)
                    guard let q = peekNonSpace(), at(q) == UInt8(ascii: "\"") else { break }
                    skipTo(q)
                    text += quotedString(materialize: materialize)
                }
                return Token(kind: .id(text, quoted: true), line: startLine)
            case UInt8(ascii: "<"):
                return Token(kind: .id(htmlString(), quoted: true), line: startLine)
            case UInt8(ascii: "-") where at(i + 1) == UInt8(ascii: ">") || at(i + 1) == UInt8(ascii: "-"):
                i += 2
                return Token(kind: .arrow, line: startLine)
            case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ";"),
                UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: ":"):
                i += 1
                return Token(kind: .punct(b), line: startLine)
            default:
                if Scanner.isIDByte(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") {
                    var text: [UInt8] = materialize ? [b] : []
                    i += 1
                    while let c = at(i), Scanner.isIDByte(c) || c == UInt8(ascii: ".") {
                        if materialize { text.append(c) }
                        i += 1
                    }
                    return Token(kind: .id(String(decoding: text, as: UTF8.self), quoted: false), line: startLine)
                }
                i += 1
                return Token(kind: .punct(b), line: startLine)
            }
        }
        return nil
    }

    private static func isIDByte(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "_") || b >= 0x80 || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }

    private mutating func peekNonSpace() -> Int? {
        var j = i
        while let c = at(j), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n") {
            j += 1
        }
        return has(j) ? j : nil
    }

    private mutating func skipTo(_ j: Int) {
        while i < j {
            if at(i) == UInt8(ascii: "\n") { line += 1 }
            i += 1
        }
    }

    /// libcgraph's reading of a quoted string: `\"` is a quote, backslash-newline vanishes,
    /// every other byte is kept.
    private mutating func quotedString(materialize: Bool = true) -> String {
        i += 1
        var out: [UInt8] = []
        while let c = at(i) {
            if c == UInt8(ascii: "\"") {
                i += 1
                break
            }
            if c == UInt8(ascii: "\\"), let d = at(i + 1) {
                if d == UInt8(ascii: "\"") {
                    if materialize { out.append(d) }
                    i += 2
                    continue
                }
                if d == UInt8(ascii: "\n") {
                    line += 1
                    i += 2
                    continue
                }
                if d == UInt8(ascii: "\\") {
                    if materialize { out += [c, d] }
                    i += 2
                    continue
                }
            }
            if c == UInt8(ascii: "\n") { line += 1 }
            if materialize { out.append(c) }
            i += 1
        }
        return materialize ? String(decoding: out, as: UTF8.self) : ""
    }

    private mutating func htmlString() -> String {
        i += 1
        var depth = 1
        var out: [UInt8] = []
        while let c = at(i) {
            if c == UInt8(ascii: "<") { depth += 1 }
            if c == UInt8(ascii: ">") {
                depth -= 1
                if depth == 0 { break }
            }
            if c == UInt8(ascii: "\n") { line += 1 }
            out.append(c)
            i += 1
        }
        i += has(i) ? 1 : 0
        return String(decoding: out, as: UTF8.self)
    }
}
