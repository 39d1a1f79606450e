/// A two-operand einsum equation such as `bsh,hd->bsd` or `bqnd,bknd->bnqk`: the contract a
/// matmul node states, from which its output shape and its `Get_Time(m, k, n)` arguments follow.
///
/// Letters in both operands and the output are batch dimensions; letters in both operands but
/// not the output are contracted (k); letters of one operand that reach the output are that
/// operand's free dimensions. `m` folds the batch and the first operand's free dimensions,
/// `n` the second operand's, as the seeds write `Get_Time(1024x10000x4, 128, 10000)`.
public struct Einsum: Hashable, Sendable, CustomStringConvertible {
    public let lhs: [Character]
    public let rhs: [Character]
    public let result: [Character]

    public init(_ text: String) throws(EinsumError) {
        let compact = text.filter { $0 != " " }
        let chars = Array(compact)
        guard let arrow = chars.indices.dropLast().first(where: { chars[$0] == "-" && chars[$0 + 1] == ">" }) else {
            throw .malformed(text, "expected 'A,B->C'")
        }
        let inputs = chars[..<arrow].split(separator: ",", omittingEmptySubsequences: false)
        guard inputs.count == 2 else { throw .malformed(text, "a matmul takes exactly two operands") }
        lhs = Array(inputs[0])
        rhs = Array(inputs[1])
        result = Array(chars[(arrow + 2)...])
        for part in [lhs, rhs, result] {
            guard part.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                throw .malformed(text, "subscripts must be letters")
            }
            guard Set(part).count == part.count else { throw .malformed(text, "a letter repeats within one operand") }
        }
        for c in result where !lhs.contains(c) && !rhs.contains(c) {
            throw .malformed(text, "output letter '\(c)' appears in no operand")
        }
        for c in lhs + rhs where !result.contains(c) && !(lhs.contains(c) && rhs.contains(c)) {
            throw .malformed(text, "letter '\(c)' is summed over but appears in only one operand")
        }
    }

    public var description: String { String(lhs) + "," + String(rhs) + "->" + String(result) }

    /// Binds each letter to the operands' dimensions, checking that shared letters agree.
    public func bind(_ a: Shape, _ b: Shape) throws(EinsumError) -> [Character: Dim] {
        guard a.rank == lhs.count else {
            throw .rank(operand: 0, expected: lhs.count, got: a, subscripts: String(lhs))
        }
        guard b.rank == rhs.count else {
            throw .rank(operand: 1, expected: rhs.count, got: b, subscripts: String(rhs))
        }
        var sizes: [Character: Dim] = [:]
        for (c, d) in zip(lhs, a.dims) { sizes[c] = d }
        for (c, d) in zip(rhs, b.dims) {
            if let existing = sizes[c], existing != d {
                throw .mismatch(letter: c, first: existing, second: d, lhs: a, rhs: b)
            }
            sizes[c] = d
        }
        return sizes
    }

    public func outputShape(_ a: Shape, _ b: Shape) throws(EinsumError) -> Shape {
        let sizes = try bind(a, b)
        return Shape(result.map { sizes[$0]! })
    }

    /// `Get_Time(m, k, n)` arguments for these operand shapes.
    public func getTimeArguments(_ a: Shape, _ b: Shape) throws(EinsumError) -> GetTimeArguments {
        let sizes = try bind(a, b)
        var m = Dim(1)
        var k = Dim(1)
        var n = Dim(1)
        do {
            for c in lhs {
                if !result.contains(c) { k = try k * sizes[c]! } else { m = try m * sizes[c]! }
            }
            for c in rhs where result.contains(c) && !lhs.contains(c) { n = try n * sizes[c]! }
        } catch {
            throw .overflow(error.description)
        }
        return GetTimeArguments(m: m, k: k, n: n)
    }
}

/// The three arguments of `Get_Time(m, k, n)`: an `[m,k] x [k,n]` matmul.
public struct GetTimeArguments: Hashable, Sendable, CustomStringConvertible {
    public var m: Dim
    public var k: Dim
    public var n: Dim

    public init(m: Dim, k: Dim, n: Dim) {
        self.m = m
        self.k = k
        self.n = n
    }

    public var description: String { "Get_Time(\(m), \(k), \(n))" }
}

public enum EinsumError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String, String)
    case rank(operand: Int, expected: Int, got: Shape, subscripts: String)
    case mismatch(letter: Character, first: Dim, second: Dim, lhs: Shape, rhs: Shape)
    case overflow(String)

    public var description: String {
        switch self {
        case .malformed(let text, let why): "malformed einsum '\(text)': \(why)"
        case .rank(let operand, let expected, let got, let subscripts):
            "operand \(operand) has shape \(got) of rank \(got.rank), but its subscripts '\(subscripts)' need rank \(expected)"
        case .mismatch(let letter, let first, let second, let lhs, let rhs):
            "dimension '\(letter)' is \(first) in one operand and \(second) in the other (\(lhs) x \(rhs))"
        case .overflow(let what): what
        }
    }
}
