/// The arithmetic of mixture-of-experts routing, shared by the builders and the checker.
public enum MoERouting {
    /// Tokens each expert receives: `tokens x top_k / experts x capacity_factor`, on average
    /// (never all tokens: each token goes to only `top_k` of the `experts`). A concrete count
    /// that is not whole is rounded up, as capacity buffers are.
    public static func capacity(tokens: Dim, topK: Int, experts: Int, capacityFactor: Dim) throws(DimError) -> Dim {
        let c = try (tokens * Dim(topK) * capacityFactor).divided(by: experts)
        if c.symbols.isEmpty && c.denominator != 1 {
            // Rounded up without forming numerator + denominator - 1, which overflows near 2^63.
            let (whole, rest) = c.numerator.quotientAndRemainder(dividingBy: c.denominator)
            let (up, overflow) = whole.addingReportingOverflow(rest > 0 ? 1 : 0)
            guard !overflow else { throw .overflow("\(c) rounded up") }
            return Dim(up)
        }
        return c
    }

    /// Parses a capacity factor such as `1`, `1.25` or `5/4` into an exact rational `Dim`.
    public static func parseFactor(_ text: String) -> Dim? {
        let t = String(text.trimmingASCIISpaces())
        if let dim = Dim(t), dim.symbols.isEmpty, dim.isPositive { return dim }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let whole = Int64(parts[0].isEmpty ? "0" : String(parts[0])),
            parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), !parts[1].isEmpty, parts[1].count <= 9,
            let fraction = Int64(parts[1])
        else { return nil }
        var scale: Int64 = 1
        for _ in parts[1] { scale *= 10 }
        let (scaled, o1) = whole.multipliedReportingOverflow(by: scale)
        let (numerator, o2) = scaled.addingReportingOverflow(fraction)
        guard !o1, !o2, let dim = try? Dim(numerator: numerator, denominator: scale, symbols: []), dim.isPositive else {
            return nil
        }
        return dim
    }
}
