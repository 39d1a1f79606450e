extension Dim: CustomStringConvertible, LosslessStringConvertible {
    /// `1024`, `B`, `B*2048`, `seq_len/5`: symbols first, then the coefficient, as the seeds write them.
    public var description: String {
        if symbols.isEmpty && denominator == 1 { return String(numerator) }
        var parts = symbols
        if numerator != 1 || parts.isEmpty {
            if numerator == -1 && !parts.isEmpty {
                parts[0] = "-" + parts[0]
            } else {
                parts.append(String(numerator))
            }
        }
        var text = parts.joined(separator: "*")
        if denominator != 1 { text += "/\(denominator)" }
        return text
    }

    public init?(_ description: String) {
        guard let dim = try? Dim.parse(description) else { return nil }
        self = dim
    }

    /// Parses `[factor]('*' factor)*('/' integer)?` where a factor is an integer or a symbol.
    public static func parse<S: StringProtocol>(_ text: S) throws(DimError) -> Dim {
        // Most dimensions are plain positive integers: read those directly.
        var value: Int64 = 0
        var digits = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 18 else {
                digits = -1
                break
            }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            digits += 1
        }
        if digits > 0 && value > 0 { return Dim(value) }
        let trimmed = text.trimmingASCIISpaces()
        guard !trimmed.isEmpty else { throw .malformed(String(text)) }
        var body = Substring(trimmed)
        var divisor: Int64 = 1
        if let slash = body.firstIndex(of: "/") {
            guard let d = Int64(body[body.index(after: slash)...].trimmingASCIISpaces()), d > 0 else {
                throw .malformed(String(text))
            }
            divisor = d
            body = body[..<slash]
        }
        var numerator: Int64 = 1
        var symbols: [String] = []
        for raw in body.split(separator: "*", omittingEmptySubsequences: false) {
            let factor = raw.trimmingASCIISpaces()
            if let first = factor.unicodeScalars.first, first == "-" || ("0"..."9").contains(first) {
                guard let value = Int64(factor) else {
                    // Digits that do not fit: report overflow rather than a malformed token.
                    if factor.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) && factor.count > 1 {
                        throw .overflow(String(factor))
                    }
                    throw .malformed(String(text))
                }
                let (n, o) = numerator.multipliedReportingOverflow(by: value)
                guard !o else { throw .overflow(String(text)) }
                numerator = n
            } else if Dim.isSymbol(factor) {
                symbols.append(String(factor))
            } else {
                throw .malformed(String(text))
            }
        }
        return try Dim(numerator: numerator, denominator: divisor, symbols: symbols)
    }

    static func isSymbol<S: StringProtocol>(_ text: S) -> Bool {
        guard let first = text.unicodeScalars.first,
            first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else { return false }
        return text.unicodeScalars.allSatisfy {
            $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing ASCII whitespace.
    public func trimmingASCIISpaces() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" || self[start] == "\n" || self[start] == "\r" {
            start = index(after: start)
        }
        while end > start {
            let before = index(before: end)
            let c = self[before]
            guard c == " " || c == "\t" || c == "\n" || c == "\r" else { break }
            end = before
        }
        return self[start..<end]
    }
}
