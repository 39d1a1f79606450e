/// Where a node's output sits relative to the unpartitioned model's tensor: which part of each
/// sharded dimension it holds (`Shard(dim)`), and whether it is one term of a partial sum
/// (`Partial(sum)`); no shards and no partial is `Replicate`. Written in DOT as `place`:
/// `R`, `S2:1/4`, `S2:1/4,S3:0/4`, `S1:3/4,P:2/4`.
public struct Placement: Hashable, Sendable, CustomStringConvertible {
    /// Part `index` of `parts` equal parts.
    public struct Part: Hashable, Sendable {
        public var index: Int
        public var parts: Int
        public init(_ index: Int, of parts: Int) {
            self.index = index
            self.parts = parts
        }

        /// Part `inner` of this part, split into `parts` further parts; nil when the part count
        /// overflows (counts read from a file can be any integer).
        public func refined(_ inner: Part) -> Part? {
            let (count, o1) = parts.multipliedReportingOverflow(by: inner.parts)
            let (scaled, o2) = index.multipliedReportingOverflow(by: inner.parts)
            let (position, o3) = scaled.addingReportingOverflow(inner.index)
            guard !o1, !o2, !o3 else { return nil }
            return Part(position, of: count)
        }
    }

    /// Sharded dimensions.
    public var shards: [Int: Part]
    /// The partial-sum term this tensor is, if it is one.
    public var partial: Part?
    /// Declared when this part is computed as `copies` identical copies on as many GPUs (`C:n`).
    public var copies: Int?

    public init(shards: [Int: Part] = [:], partial: Part? = nil, copies: Int? = nil) {
        self.shards = shards
        self.partial = partial
        self.copies = copies
    }

    /// The same part without the declaration of copies: what derivation compares.
    public var part: Placement { Placement(shards: shards, partial: partial) }

    public static let replicate = Placement()

    public var isReplicate: Bool { shards.isEmpty && partial == nil }

    public var description: String {
        if shards.isEmpty && partial == nil && copies == nil { return "R" }
        if shards.count == 1, partial == nil, copies == nil, let (dim, part) = shards.first {
            return "S\(dim):\(part.index)/\(part.parts)"
        }
        var text = ""
        func term(_ prefix: String, _ part: Part) {
            if !text.isEmpty { text += "," }
            text += prefix
            text += String(part.index)
            text += "/"
            text += String(part.parts)
        }
        for dim in shards.keys.sorted() { term("S" + String(dim) + ":", shards[dim]!) }
        if let partial { term("P:", partial) }
        if let copies {
            if !text.isEmpty { text += "," }
            text += "C:" + String(copies)
        }
        return text
    }

    /// Parses `R` or comma-separated `S<dim>:<i>/<n>` and `P:<i>/<n>` terms.
    public static func parse(_ text: String) -> Placement? {
        let trimmed = text.trimmingASCIISpaces()
        if trimmed == "R" { return .replicate }
        var result = Placement()
        for term in trimmed.split(separator: ",") {
            let t = term.trimmingASCIISpaces()
            if t.hasPrefix("C:") {
                guard result.copies == nil, let n = Int(t.dropFirst(2)), n >= 1 else { return nil }
                result.copies = n
                continue
            }
            guard let colon = t.firstIndex(of: ":") else { return nil }
            let head = t[..<colon]
            let fraction = t[t.index(after: colon)...].split(separator: "/")
            guard fraction.count == 2, let i = Int(fraction[0]), let n = Int(fraction[1]), n >= 1, i >= 0, i < n else { return nil }
            let part = Part(i, of: n)
            if head == "P" {
                guard result.partial == nil else { return nil }
                result.partial = part
            } else if head.first == "S", let dim = Int(head.dropFirst()), dim >= 0, result.shards[dim] == nil {
                result.shards[dim] = part
            } else {
                return nil
            }
        }
        return result
    }

    /// This placement further split along `dim` into part `part` (a `split` of the tensor); nil
    /// when the part count overflows.
    public func splitting(_ dim: Int, _ part: Part) -> Placement? {
        var copy = self
        if let outer = shards[dim] {
            guard let refined = outer.refined(part) else { return nil }
            copy.shards[dim] = refined
        } else {
            copy.shards[dim] = part
        }
        return copy
    }

    /// Without the shard on `dim` (the dimension made whole again).
    public func gathering(_ dim: Int) -> Placement {
        var copy = self
        copy.shards[dim] = nil
        return copy
    }
}
