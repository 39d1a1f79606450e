/// Quoting of IDs and attribute values the way libcgraph's lexer reads them back.
///
/// Inside a double-quoted DOT string, libcgraph turns `\"` into `"` and drops a backslash
/// before a newline; every other backslash is kept as written. So a string round-trips exactly
/// through `"..."` unless it has a backslash right before a quote, before a newline, or at its
/// end. Such strings are written as HTML-like strings `<...>` when their angle brackets
/// balance, and refused otherwise.
public enum DOTQuoting {
    /// Appends `text` as a DOT ID or value that libcgraph reads back as exactly `text`.
    public static func appendQuoted(_ text: String, to out: inout [UInt8]) throws(DOTWriteError) {
        try appendQuoted(text, into: &out)
    }

    /// As `appendQuoted(_:to:)`, from UTF-8 bytes: text with nothing to escape (every name and
    /// value deploydag writes) is copied as it is.
    public static func appendQuoted(bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) throws(DOTWriteError) {
        try appendQuoted(bytes: bytes, into: &out)
    }

    /// Appends a label: newlines become graphviz's `\n` and backslashes `\\`, which the
    /// decoder turns back (graphviz renders `\n`, `\l`, `\r` as line breaks).
    public static func appendLabel(_ text: String, to out: inout [UInt8]) {
        appendLabel(text, into: &out)
    }

    static func appendQuoted<Out: DOTTextOutput>(_ text: String, into out: inout Out) throws(DOTWriteError) {
        if isSafePlain(text) {
            out.append(UInt8(ascii: "\""))
            out.append(bytesOf: text)
            out.append(UInt8(ascii: "\""))
            return
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 8)
        var previousBackslash = false
        var representable = true
        for b in text.utf8 {
            if b == UInt8(ascii: "\"") {
                if previousBackslash { representable = false }
                bytes.append(UInt8(ascii: "\\"))
            }
            if b == UInt8(ascii: "\n") && previousBackslash { representable = false }
            bytes.append(b)
            previousBackslash = b == UInt8(ascii: "\\") && !previousBackslash
        }
        if previousBackslash { representable = false }
        if representable {
            out.append(UInt8(ascii: "\""))
            bytes.withUnsafeBufferPointer { out.append(contentsOf: $0) }
            out.append(UInt8(ascii: "\""))
        } else if anglesBalance(text) {
            out.append(UInt8(ascii: "<"))
            out.append(bytesOf: text)
            out.append(UInt8(ascii: ">"))
        } else {
            throw .unrepresentable(text)
        }
    }

    static func appendQuoted<Out: DOTTextOutput>(bytes: UnsafeBufferPointer<UInt8>, into out: inout Out) throws(DOTWriteError) {
        let needsCare = bytes.contains { b in
            b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r")
        }
        if needsCare {
            try appendQuoted(String(decoding: bytes, as: UTF8.self), into: &out)
            return
        }
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: bytes)
        out.append(UInt8(ascii: "\""))
    }

    static func appendLabel<Out: DOTTextOutput>(_ text: String, into out: inout Out) {
        out.append(UInt8(ascii: "\""))
        var copy = text
        copy.withUTF8 { bytes in
            var run = 0
            for (i, b) in bytes.enumerated() {
                let escaped: UInt8
                switch b {
                case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
                case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
                case UInt8(ascii: "\""): escaped = UInt8(ascii: "\"")
                default: continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
                out.append(UInt8(ascii: "\\"))
                out.append(escaped)
                run = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The inverse of `appendLabel` applied to what libcgraph returns.
    public static func decodeLabel(_ raw: String) -> String {
        guard raw.utf8.contains(UInt8(ascii: "\\")) else { return raw }
        var out: [UInt8] = []
        var iterator = raw.utf8.makeIterator()
        while let b = iterator.next() {
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                continue
            }
            guard let next = iterator.next() else {
                out.append(b)
                break
            }
            switch next {
            case UInt8(ascii: "n"), UInt8(ascii: "l"), UInt8(ascii: "r"): out.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            default: out.append(contentsOf: [b, next])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Plain identifiers, written without further escaping.
    private static func isSafePlain(_ text: String) -> Bool {
        text.utf8.allSatisfy { b in
            b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") && b != UInt8(ascii: "\n") && b != UInt8(ascii: "\r")
        }
    }

    private static func anglesBalance(_ text: String) -> Bool {
        var depth = 0
        for b in text.utf8 {
            if b == UInt8(ascii: "<") { depth += 1 }
            if b == UInt8(ascii: ">") {
                depth -= 1
                if depth < 0 { return false }
            }
        }
        return depth == 0
    }
}

public enum DOTWriteError: Error, Equatable, Sendable, CustomStringConvertible {
    case unrepresentable(String)

    public var description: String {
        switch self {
        case .unrepresentable(let text):
            "the string \(String(reflecting: text)) cannot be written in DOT: it has a backslash before a quote, before a newline or at its end, and unbalanced angle brackets"
        }
    }
}

/// Where quoted DOT text is appended: a byte array, or the DOT writer's `ByteSink`.
protocol DOTTextOutput {
    mutating func append(_ byte: UInt8)
    mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>)
}

extension DOTTextOutput {
    /// `text`'s UTF-8 bytes, read in place (no copy of a native string).
    mutating func append(bytesOf text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ append(contentsOf: $0) }) == nil {
            Array(text.utf8).withUnsafeBufferPointer { append(contentsOf: $0) }
        }
    }
}

extension Array: DOTTextOutput where Element == UInt8 {}
