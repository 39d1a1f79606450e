internal import CGraphviz

/// Lays out DOT text with graphviz's `dot` engine and renders it, SVG by default, through libgvc
/// (`gvLayout`, `gvRenderData`), in process.
public enum SVGRenderer {
    public enum Failure: Error, CustomStringConvertible, Sendable {
        case parse([String])
        case layout([String])
        case render(format: String, [String])

        public var description: String {
            switch self {
            case .parse(let m): "graphviz could not read the diagram: " + m.joined(separator: "; ")
            case .layout(let m): "graphviz layout failed: " + m.joined(separator: "; ")
            case .render(let format, let m):
                "graphviz could not render \(format)" + (m.isEmpty ? "" : ": " + m.joined(separator: "; "))
                    + (["png", "pdf"].contains(format)
                        ? " (\(format) is drawn by libgvc's cairo renderer, the pango plugin: `dot -P` lists the plugins installed; Debian's libgvc6 ships it)"
                        : "")
            }
        }
    }

    /// One gvc context for the process: creating it loads graphviz's plugins.
    nonisolated(unsafe) private static var context: OpaquePointer?

    /// Renders `dot` (one graph) with the given layout engine to `format`, a libgvc output
    /// format (`svg`, or `png` and `pdf` through the cairo plugin, `json`).
    public static func render(dot: String, engine: String = "dot", format: String = "svg") throws(Failure) -> [UInt8] {
        let (result, pieces) = Graphviz.withLock { () -> Result<[UInt8], Failure> in
            if context == nil { context = gvContext() }
            guard let gvc = context else { return .failure(.layout(["gvContext() failed"])) }
            Graphviz.resetLexer()
            guard let graph = dot.withCString({ agmemread($0) }) else {
                return .failure(.parse([]))
            }
            defer { agclose(graph) }
            guard gvLayout(gvc, graph, engine) == 0 else { return .failure(.layout([])) }
            defer { gvFreeLayout(gvc, graph) }
            var buffer: UnsafeMutablePointer<CChar>?
            var length: UInt32 = 0
            guard gvRenderData(gvc, graph, format, &buffer, &length) == 0, let buffer else {
                return .failure(.render(format: format, []))
            }
            defer { gvFreeRenderData(buffer) }
            let bytes = UnsafeRawBufferPointer(start: buffer, count: Int(length))
            return .success(Array(bytes))
        }
        let messages = Graphviz.joinMessages(pieces).filter { !$0.hasPrefix("Warning") }
        switch result {
        // Only SVG is text to make well-formed; PNG and PDF are binary, kept byte for byte.
        case .success(let bytes): return format == "svg" ? wellFormed(bytes) : bytes
        case .failure(.parse): throw .parse(messages)
        case .failure(.layout(let m)): throw .layout(m + messages)
        case .failure(.render(let format, _)): throw .render(format: format, messages)
        }
    }

    /// The SVG with the characters XML 1.0 forbids (control characters but tab, newline and
    /// carriage return; the noncharacters U+FFFE and U+FFFF) and any byte that is not UTF-8
    /// replaced by U+FFFD: graphviz copies them from node names into titles and text unescaped,
    /// which leaves a document no XML parser reads.
    static func wellFormed(_ svg: [UInt8]) -> [UInt8] {
        let forbiddenByte = svg.contains { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        let noncharacter = svg.indices.dropLast(2).contains {
            svg[$0] == 0xEF && svg[$0 + 1] == 0xBF && (svg[$0 + 2] == 0xBE || svg[$0 + 2] == 0xBF)
        }
        guard forbiddenByte || noncharacter || String(validating: svg, as: UTF8.self) == nil else { return svg }
        var out = String.UnicodeScalarView()
        for u in String(decoding: svg, as: UTF8.self).unicodeScalars {
            let forbidden = (u.value < 0x20 && u != "\t" && u != "\n" && u != "\r") || u.value == 0xFFFE || u.value == 0xFFFF
            out.append(forbidden ? "\u{FFFD}" : u)
        }
        return Array(String(out).utf8)
    }
}
