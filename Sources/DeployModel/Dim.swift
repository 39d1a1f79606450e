/// One tensor dimension: an exact rational multiple of a product of named symbols.
///
/// `1024`, `B`, `B*2048` and `seq_len/5` are all `Dim`s. Equality is structural after
/// normalisation, so `B*2` equals `2*B` but `B` never equals `2*B`: that is what lets the
/// checker compare symbolic shapes without knowing the symbols' values.
public struct Dim: Hashable, Sendable, Comparable {
    /// Numerator of the rational coefficient, non-zero.
    public private(set) var numerator: Int64
    /// Denominator of the rational coefficient, positive and coprime with `numerator`.
    public private(set) var denominator: Int64
    /// Symbol names, sorted, with repetition for powers.
    public private(set) var symbols: [String]

    public init(_ value: Int64) {
        numerator = value
        denominator = 1
        symbols = []
    }

    public init(_ value: Int) { self.init(Int64(value)) }

    public init(symbol: String) {
        numerator = 1
        denominator = 1
        symbols = [symbol]
    }

    init(numerator: Int64, denominator: Int64, symbols: [String]) throws(DimError) {
        guard denominator != 0 else { throw .divisionByZero }
        // Int64.min has no positive counterpart: negating it or taking abs() traps.
        guard numerator != .min, denominator != .min else { throw .overflow("\(numerator)/\(denominator)") }
        var n = numerator
        var d = denominator
        if d < 0 { (n, d) = (-n, -d) }
        let g = Dim.gcd(abs(n), d)
        if g > 1 { n /= g; d /= g }
        self.numerator = n
        self.denominator = d
        self.symbols = symbols.sorted()
    }

    /// The integer value when the dimension has no symbols and a whole coefficient.
    public var intValue: Int64? {
        symbols.isEmpty && denominator == 1 ? numerator : nil
    }

    public var isSymbolic: Bool { !symbols.isEmpty }

    /// A dimension is usable as a tensor extent when it is a positive integer or a
    /// positive multiple of symbols.
    public var isPositive: Bool { numerator > 0 }

    public static func * (lhs: Dim, rhs: Dim) throws(DimError) -> Dim {
        let (n, o1) = lhs.numerator.multipliedReportingOverflow(by: rhs.numerator)
        let (d, o2) = lhs.denominator.multipliedReportingOverflow(by: rhs.denominator)
        guard !o1, !o2 else { throw .overflow("\(lhs) * \(rhs)") }
        return try Dim(numerator: n, denominator: d, symbols: lhs.symbols + rhs.symbols)
    }

    /// Exact division by an integer count (a group size, a number of parts).
    public func divided(by count: Int) throws(DimError) -> Dim {
        guard count != 0 else { throw .divisionByZero }
        let (d, o) = denominator.multipliedReportingOverflow(by: Int64(count))
        guard !o else { throw .overflow("\(self) / \(count)") }
        return try Dim(numerator: numerator, denominator: d, symbols: symbols)
    }

    public func multiplied(by count: Int) throws(DimError) -> Dim {
        try self * Dim(count)
    }

    /// The sum of like terms (`B*2 + B*2 = B*4`); unlike symbolic terms have no `Dim` form.
    public static func + (lhs: Dim, rhs: Dim) throws(DimError) -> Dim {
        guard lhs.symbols == rhs.symbols else { throw .unlikeTerms("\(lhs) + \(rhs)") }
        let (a, o1) = lhs.numerator.multipliedReportingOverflow(by: rhs.denominator)
        let (b, o2) = rhs.numerator.multipliedReportingOverflow(by: lhs.denominator)
        let (n, o3) = a.addingReportingOverflow(b)
        let (d, o4) = lhs.denominator.multipliedReportingOverflow(by: rhs.denominator)
        guard !o1, !o2, !o3, !o4 else { throw .overflow("\(lhs) + \(rhs)") }
        return try Dim(numerator: n, denominator: d, symbols: lhs.symbols)
    }

    /// Replaces bound symbols by their values; unbound symbols stay.
    public func binding(_ values: [String: Int64]) throws(DimError) -> Dim {
        var result = try Dim(numerator: numerator, denominator: denominator, symbols: [])
        for symbol in symbols {
            if let value = values[symbol] {
                result = try result * Dim(value)
            } else {
                result = try result * Dim(symbol: symbol)
            }
        }
        return result
    }

    public static func < (lhs: Dim, rhs: Dim) -> Bool {
        if lhs.symbols != rhs.symbols { return lhs.symbols.lexicographicallyPrecedes(rhs.symbols) }
        if lhs.numerator != rhs.numerator { return lhs.numerator < rhs.numerator }
        return lhs.denominator < rhs.denominator
    }

    private static func gcd(_ a: Int64, _ b: Int64) -> Int64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}

/// Why a dimension could not be formed.
public enum DimError: Error, Equatable, Sendable, CustomStringConvertible {
    case overflow(String)
    case divisionByZero
    case unlikeTerms(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .overflow(let expr): "dimension overflows 64 bits: \(expr)"
        case .divisionByZero: "division by zero"
        case .unlikeTerms(let expr): "cannot add unlike symbolic dimensions: \(expr)"
        case .malformed(let text): "malformed dimension '\(text)': expected an integer, a symbol, or a product such as B*2048"
        }
    }
}

extension Dim {
    /// The value as a floating-point number, when the dimension has no symbols.
    public var doubleValue: Double? {
        symbols.isEmpty ? Double(numerator) / Double(denominator) : nil
    }
}

extension Shape {
    /// The number of elements as a floating-point number, when no dimension is symbolic.
    public var elementCountValue: Double? {
        var product = 1.0
        for d in dims {
            guard let v = d.doubleValue else { return nil }
            product *= v
        }
        return product
    }
}
