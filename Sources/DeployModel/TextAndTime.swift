/// Small shared helpers: XML escaping for the SVGs and labels deploydag writes, the FNV-1a hash
/// it uses for fingerprints and seeds, and durations in seconds for timings.
extension String {
    /// The text with `&`, `<`, `>` and `"` escaped for XML (SVG text, graphviz HTML-like labels).
    public var xmlEscaped: String {
        var out = ""
        out.reserveCapacity(count)
        for c in self {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

/// FNV-1a, 64 bits: change detection and seeding, not security.
public enum FNV1a {
    public static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
