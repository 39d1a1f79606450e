/// Small shared helpers: XML escaping for the SVGs and labels deploydag writes, the FNV-1a hash
/// it uses for fingerprints and seeds, and durations in seconds for timings.
extension String {
    /// The text with `&`, `<`, `>` and `"` escaped for XML (SVG text, graphviz HTML-like labels),
    /// and the characters XML 1.0 forbids (control characters other than tab, newline and
    /// carriage return; U+FFFE, U+FFFF) replaced by U+FFFD, so the document stays well-formed
    /// whatever a DOT file's names hold.
    public var xmlEscaped: String {
        var out = String.UnicodeScalarView()
        for u in unicodeScalars {
            switch u {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            case "\t", "\n", "\r": out.append(u)
            default:
                if u.value < 0x20 || u.value == 0xFFFE || u.value == 0xFFFF {
                    out.append("\u{FFFD}")
                } else {
                    out.append(u)
                }
            }
        }
        return String(out)
    }

    /// The text with control characters (C0, DEL, C1) written as escapes such as `\x1b`, for a
    /// terminal: a name in a DOT file cannot move the cursor, recolour the screen or forge a line
    /// of output.
    public var terminalEscaped: String {
        guard unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else { return self }
        var out = ""
        for u in unicodeScalars {
            if u.value < 0x20 || (0x7F...0x9F).contains(u.value) {
                let hex = String(u.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                out.unicodeScalars.append(u)
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
