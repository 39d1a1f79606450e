/// Text from a DOT file (names, attributes, messages) made safe for report.md: a hostile file
/// can neither inject HTML, links or images into a CommonMark renderer nor break a table.
/// Text made only of letters, digits and the punctuation names are usually made of comes out
/// unchanged.
enum Markdown {
    /// Plain text for a paragraph, heading or table cell: Markdown's active characters
    /// backslash-escaped, `<`, `>` and `&` as entities (no raw HTML), control characters as
    /// visible `\xNN`.
    static func text(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (i, u) in scalars.enumerated() {
            switch u {
            case "\\", "`", "|", "*", "[", "]", "~":
                out.append("\\")
                out.append(u)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "_":
                // Inside a word (`tp_pp`) an underscore is no emphasis; elsewhere it could be.
                let inWord = i > 0 && i + 1 < scalars.count && isWordScalar(scalars[i - 1]) && isWordScalar(scalars[i + 1])
                if !inWord { out.append("\\") }
                out.append(u)
            default:
                if isControl(u) { out.append(contentsOf: visible(u).unicodeScalars) } else { out.append(u) }
            }
        }
        return String(out)
    }

    /// An inline code span holding `s` literally: its fence one backtick longer than any run of
    /// backticks in it, padded when it starts or ends with one; in a table cell `|` is escaped
    /// (GFM splits cells before it reads code spans); control characters as `\xNN`.
    static func code(_ s: String, inTable: Bool = true) -> String {
        var content = ""
        var longest = 0
        var run = 0
        for u in s.unicodeScalars {
            run = u == "`" ? run + 1 : 0
            longest = max(longest, run)
            if isControl(u) {
                content += visible(u)
            } else if inTable && u == "|" {
                content += "\\|"
            } else {
                content.unicodeScalars.append(u)
            }
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = content.hasPrefix("`") || content.hasSuffix("`") || (content.hasPrefix(" ") && content.hasSuffix(" ") && !content.isEmpty)
        return fence + (pad ? " " + content + " " : content) + fence
    }

    private static func isWordScalar(_ u: Unicode.Scalar) -> Bool {
        u.properties.isAlphabetic || ("0"..."9").contains(u)
    }

    private static func isControl(_ u: Unicode.Scalar) -> Bool { u.value < 0x20 || (0x7F...0x9F).contains(u.value) }

    private static func visible(_ u: Unicode.Scalar) -> String {
        let hex = String(u.value, radix: 16)
        return "\\x" + (hex.count < 2 ? "0" + hex : hex)
    }
}
