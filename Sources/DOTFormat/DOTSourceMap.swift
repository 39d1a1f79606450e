/// Where each node and edge of a DOT file is first stated, by line.
///
/// libcgraph keeps no source positions, so findings would have no `FILE:LINE` without this.
/// It is a single linear scan of the bytes with a small tokenizer that follows DOT's lexical
/// rules (quoted and HTML strings, comments, `#` lines, `+` concatenation) and a statement-level
/// reading that tells node IDs from attribute names, values, ports and keywords.
public struct DOTSourceMap: Sendable {
    /// The line of each node's first mention as a node, by name.
    public private(set) var nodeLines: [String: Int] = [:]
    /// The lines of each edge's statements, in file order, by tail and head name.
    public private(set) var edgeLines: [EdgeKey: [Int]] = [:]
    /// The line of the first `digraph`/`graph` keyword after the first graph closes, if any.
    public private(set) var secondGraphLine: Int?
    public private(set) var lineCount: Int = 1
    /// Whether the text is nothing but white space.
    public private(set) var isBlank = true

    public struct EdgeKey: Hashable, Sendable {
        public var tail: String
        public var head: String
        public init(tail: String, head: String) {
            self.tail = tail
            self.head = head
        }
    }

    public init() {}

    public func line(ofNode name: String) -> Int? { nodeLines[name] }

    public func line(ofEdge tail: String, _ head: String, occurrence: Int = 0) -> Int? {
        guard let lines = edgeLines[EdgeKey(tail: tail, head: head)], !lines.isEmpty else { return nil }
        return lines[min(occurrence, lines.count - 1)]
    }

    public init(scanning bytes: [UInt8]) {
        isBlank = bytes.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }
        var scanner = Scanner(bytes: bytes)
        var braceDepth = 0
        var bracketDepth = 0
        var previous: Token.Kind = .punct(UInt8(ascii: ";"))
        var candidate: (name: String, line: Int)?
        var lastNode: String?
        var edgeLine: Int?
        var skipNextID = false  // the name after graph/digraph/subgraph
        var graphsClosed = 0

        func commit(_ name: String, _ line: Int, into map: inout DOTSourceMap) {
            if map.nodeLines[name] == nil { map.nodeLines[name] = line }
            if let edgeAt = edgeLine, let tail = lastNode {
                map.edgeLines[EdgeKey(tail: tail, head: name), default: []].append(edgeAt)
            }
            edgeLine = nil
            lastNode = name
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
struct Scanner {
    let bytes: [UInt8]
    var i = 0
    var line = 1
    var atLineStart = true

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// The next token; with `materialize` false, IDs come back empty (inside attribute lists
    /// their text is not needed, and building it is most of the scan's cost).
    mutating func next(materialize: Bool = true) -> Token? {
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\n"):
                line += 1
                i += 1
                atLineStart = true
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), 0x0B, 0x0C:
                i += 1
                continue
            case UInt8(ascii: "#") where atLineStart:
                while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "/"):
                while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*"):
                i += 2
                while i < bytes.count && !(bytes[i] == UInt8(ascii: "*") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "/")) {
                    if bytes[i] == UInt8(ascii: "\n") { line += 1 }
                    i += 1
                }
                i = min(bytes.count, i + 2)
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
                while let plus = peekNonSpace(), bytes[plus] == UInt8(ascii: "+") {
                    skipTo(plus + 1)
                    guard let q = peekNonSpace(), bytes[q] == UInt8(ascii: "\"") else { break }
                    skipTo(q)
                    text += quotedString(materialize: materialize)
                }
                return Token(kind: .id(text, quoted: true), line: startLine)
            case UInt8(ascii: "<"):
                return Token(kind: .id(htmlString(), quoted: true), line: startLine)
            case UInt8(ascii: "-") where i + 1 < bytes.count && (bytes[i + 1] == UInt8(ascii: ">") || bytes[i + 1] == UInt8(ascii: "-")):
                i += 2
                return Token(kind: .arrow, line: startLine)
            case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ";"),
                UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: ":"):
                i += 1
                return Token(kind: .punct(b), line: startLine)
            default:
                if Scanner.isIDByte(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") {
                    let start = i
                    i += 1
                    while i < bytes.count, Scanner.isIDByte(bytes[i]) || bytes[i] == UInt8(ascii: ".") { i += 1 }
                    let text = materialize ? String(decoding: bytes[start..<i], as: UTF8.self) : ""
                    return Token(kind: .id(text, quoted: false), line: startLine)
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

    private func peekNonSpace() -> Int? {
        var j = i
        while j < bytes.count, [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n")].contains(bytes[j]) { j += 1 }
        return j < bytes.count ? j : nil
    }

    private mutating func skipTo(_ j: Int) {
        while i < j {
            if bytes[i] == UInt8(ascii: "\n") { line += 1 }
            i += 1
        }
    }

    /// libcgraph's reading of a quoted string: `\"` is a quote, backslash-newline vanishes,
    /// every other byte is kept.
    private mutating func quotedString(materialize: Bool = true) -> String {
        i += 1
        guard materialize else {
            // Skip to the closing quote, counting lines; `\"` does not close it.
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return ""
                }
                if c == UInt8(ascii: "\\"), i + 1 < bytes.count {
                    if bytes[i + 1] == UInt8(ascii: "\n") { line += 1 }
                    i += 2
                    continue
                }
                if c == UInt8(ascii: "\n") { line += 1 }
                i += 1
            }
            return ""
        }
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                break
            }
            if c == UInt8(ascii: "\\"), i + 1 < bytes.count {
                let d = bytes[i + 1]
                if d == UInt8(ascii: "\"") {
                    out.append(d)
                    i += 2
                    continue
                }
                if d == UInt8(ascii: "\n") {
                    line += 1
                    i += 2
                    continue
                }
                if d == UInt8(ascii: "\\") {
                    out.append(c)
                    out.append(d)
                    i += 2
                    continue
                }
            }
            if c == UInt8(ascii: "\n") { line += 1 }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func htmlString() -> String {
        i += 1
        var depth = 1
        let start = i
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "<") { depth += 1 }
            if c == UInt8(ascii: ">") {
                depth -= 1
                if depth == 0 { break }
            }
            if c == UInt8(ascii: "\n") { line += 1 }
            i += 1
        }
        let text = String(decoding: bytes[start..<min(i, bytes.count)], as: UTF8.self)
        i = min(bytes.count, i + 1)
        return text
    }
}
