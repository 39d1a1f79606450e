import DeployModel

/// Identifies the diagram an SVG was rendered from.
///
/// Graphviz's `dot` layout is not reproducible between runs (cluster order and node placement
/// vary with addresses in the process), so two renderings of the same diagram can differ in
/// bytes. Each SVG deploydag writes carries a comment with a hash of the exact DOT that was laid
/// out; `make test` compares these to tell a stale SVG from a re-laid-out one.
public enum DiagramFingerprint {
    static let marker = "deploydag-diagram fnv1a64="

    /// FNV-1a, 64 bits, as 16 hex digits: change detection, not security.
    public static func hash(_ text: String) -> String {
        let h = FNV1a.hash(text)
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The SVG with `<!-- deploydag-diagram fnv1a64=HASH -->` after its leading comment.
    public static func stamp(svg: [UInt8], diagram: String) -> [UInt8] {
        let comment = Array("<!-- \(marker)\(hash(diagram)) -->\n".utf8)
        let close = Array("-->\n".utf8)
        guard let end = svg.firstRange(of: close) else { return comment + svg }
        var out = svg
        out.insert(contentsOf: comment, at: end.upperBound)
        return out
    }

    /// Whether a file kept for its fingerprint is whole: it ends with its closing tag (a file
    /// cut short, or holding only the stamp, is drawn again).
    public static func isComplete(_ text: String, closing: String) -> Bool {
        var end = text.endIndex
        while end > text.startIndex, text[text.index(before: end)].isWhitespace { end = text.index(before: end) }
        return text[..<end].hasSuffix(closing)
    }

    /// Whether the file at `path` is a whole drawing (or page) stamped with `fingerprint`: one
    /// to keep rather than lay out again.
    public static func isCurrent(_ path: String, closing: String, fingerprint: String) -> Bool {
        guard let existing = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        return isComplete(existing, closing: closing) && read(svg: existing) == fingerprint
    }

    /// The hash stamped into an SVG, if any.
    public static func read(svg: String) -> String? {
        guard let range = svg.firstRange(of: marker) else { return nil }
        return String(svg[range.upperBound...].prefix(16))
    }
}
