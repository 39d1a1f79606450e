import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Whether a document is well-formed XML.
///
/// swift-corelibs-foundation's `XMLDocument` parses with libxml2's recovery on and throws for
/// almost nothing (`<svg><g></svg>` and a U+FFFE both load), so it cannot tell a broken SVG
/// from a good one; `XMLParser` stops at the first error and says so. It reads from a stream:
/// given the `Data` of a large document (19 MB) it fails at the end of a well-formed one.
public enum XMLCheck {
    public struct NotWellFormed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Throws ``NotWellFormed`` with libxml2's error (code, line, column) for a document that
    /// is not well-formed XML.
    public static func wellFormed(_ data: Data) throws {
        let parser = XMLParser(stream: InputStream(data: data))
        parser.shouldResolveExternalEntities = false
        let parsed = parser.parse()
        if !parsed || parser.parserError != nil {
            let code = (parser.parserError as NSError?)?.code ?? -1
            throw NotWellFormed(
                description: "not well-formed XML: error \(code) at line \(parser.lineNumber), column \(parser.columnNumber)")
        }
    }
}
