internal import CGraphviz
import DOTFormat
import DeployModel
import Foundation
import Glibc

/// What reading a DOT file produced: the document when libcgraph could parse it, and findings
/// (syntax errors with their lines, warnings cgraph printed, a second graph in the file).
public struct DOTReadResult: Sendable {
    public var document: DOTDocument?
    public var sourceMap: DOTSourceMap
    public var findings: [Finding]
    /// Seconds spent in libcgraph's parse and the copy out of it, and waiting for the source-line
    /// scan after it (which runs alongside).
    public var sourceMapSeconds: Double = 0
    public var parseSeconds: Double = 0
}

/// Reads DOT through libcgraph (`agread`), copies the graph into Swift values and closes it.
public enum DOTReader {
    /// Reads `bytes` (the contents of `file`, used in findings) as one DOT graph.
    public static func read(bytes: [UInt8], file: String? = nil) -> DOTReadResult {
        let clock = ContinuousClock()
        let scanStart = clock.now
        // The line scan needs only the bytes: it runs beside libcgraph's parse.
        let scan = Thread.detachedResult { DOTSourceMap(scanning: bytes) }
        var findings: [Finding] = []
        let isBlank = bytes.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }
        if isBlank {
            findings.append(Finding(.syntax, file: file, line: 1, "the file is empty; expected 'digraph NAME { ... }'"))
            return DOTReadResult(document: nil, sourceMap: scan.wait(), findings: findings)
        }
        let ((document, secondGraphSeen), pieces) = Graphviz.withLock { () -> (DOTDocument?, Bool) in
            bytes.withUnsafeBytes { buffer -> (DOTDocument?, Bool) in
                // fmemopen in "r" mode only reads the buffer.
                guard let stream = fmemopen(UnsafeMutableRawPointer(mutating: buffer.baseAddress), buffer.count, "r") else {
                    return (nil, false)
                }
                defer { fclose(stream) }
                aglexbad()  // drop whatever an earlier stream left in the lexer's buffer
                agreadline(1)  // cgraph counts newlines from this value
                guard let graph = agread(UnsafeMutableRawPointer(stream), nil) else { return (nil, false) }
                let document = copy(graph)
                agclose(graph)
                // gvNextInputGraph reads further graphs from the same stream; so does this.
                var second = false
                if agerrors() == 0, let next = agread(UnsafeMutableRawPointer(stream), nil) {
                    agclose(next)
                    second = true
                }
                aglexbad()
                return (document, second)
            }
        }
        let parsedAt = clock.now
        let sourceMap = scan.wait()
        let scanned = clock.now
        for message in Graphviz.joinMessages(pieces) {
            let isWarning = message.hasPrefix("Warning")
            findings.append(
                Finding(
                    .syntax, isWarning ? .warning : .error, file: file, line: lineNumber(in: message),
                    cleanMessage(message)))
        }
        if document == nil && !findings.contains(where: { $0.severity == .error }) {
            findings.append(
                Finding(
                    .syntax, file: file, line: sourceMap.lineCount, "no graph could be read; expected 'digraph NAME { ... }'"))
        }
        if document != nil && secondGraphSeen {
            findings.append(
                Finding(
                    .syntax, file: file, line: sourceMap.secondGraphLine,
                    "the file holds more than one graph; deploydag reads one DAG per file"))
        }
        var result = DOTReadResult(document: document, sourceMap: sourceMap, findings: findings)
        result.parseSeconds = (parsedAt - scanStart).seconds
        result.sourceMapSeconds = (scanned - parsedAt).seconds
        return result
    }

    /// "Error: <stdin>: syntax error in line 3 near 'x'" -> 3.
    static func lineNumber(in message: String) -> Int? {
        let chars = Array(message)
        let key = Array("line ")
        guard chars.count > key.count else { return nil }
        for i in 0...(chars.count - key.count) where Array(chars[i..<(i + key.count)]) == key {
            let digits = chars[(i + key.count)...].prefix { $0.isNumber }
            if let value = Int(String(digits)) { return value }
        }
        return nil
    }

    static func cleanMessage(_ message: String) -> String {
        var text = message
        for prefix in ["Error: ", "Warning: "] where text.hasPrefix(prefix) { text.removeFirst(prefix.count) }
        for stream in ["<stdin>: ", "(null): "] where text.hasPrefix(stream) { text.removeFirst(stream.count) }
        return text
    }

    private static func copy(_ graph: UnsafeMutablePointer<Agraph_t>) -> DOTDocument {
        var document = DOTDocument(
            name: String(cString: agnameof(graph)),
            isDirected: agisdirected(graph) != 0,
            isStrict: agisstrict(graph) != 0)

        var sym = agnxtattr(graph, deploydag_agkind_graph(), nil)
        while let s = sym {
            if let value = agxget(graph, s) {
                let text = String(cString: value)
                if !text.isEmpty { document.graphAttributes[String(cString: s.pointee.name)] = text }
            }
            sym = agnxtattr(graph, deploydag_agkind_graph(), s)
        }

        var nodeSymbols: [(String, UnsafeMutablePointer<Agsym_t>)] = []
        sym = agnxtattr(graph, deploydag_agkind_node(), nil)
        while let s = sym {
            nodeSymbols.append((String(cString: s.pointee.name), s))
            sym = agnxtattr(graph, deploydag_agkind_node(), s)
        }
        var edgeSymbols: [(String, UnsafeMutablePointer<Agsym_t>)] = []
        sym = agnxtattr(graph, deploydag_agkind_edge(), nil)
        while let s = sym {
            edgeSymbols.append((String(cString: s.pointee.name), s))
            sym = agnxtattr(graph, deploydag_agkind_edge(), s)
        }

        let count = Int(agnnodes(graph))
        var names: [String] = []
        names.reserveCapacity(count)
        var columns = nodeSymbols.map { _ in [String]() }
        for i in columns.indices { columns[i].reserveCapacity(count) }
        var indexOf: [UnsafeMutableRawPointer: Int32] = [:]
        indexOf.reserveCapacity(count)

        // cgraph keeps one copy of each distinct string (refstr), so identical values share a
        // pointer: convert each once and share the Swift string.
        var interned: [UnsafeMutablePointer<CChar>: String] = [:]
        func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
            guard let pointer else { return "" }
            if let known = interned[pointer] { return known }
            let value = String(cString: pointer)
            interned[pointer] = value
            return value
        }
        var node = agfstnode(graph)
        while let n = node {
            indexOf[UnsafeMutableRawPointer(n)] = Int32(names.count)
            names.append(String(cString: agnameof(n)))
            for (i, (_, s)) in nodeSymbols.enumerated() {
                columns[i].append(string(agxget(n, s)))
            }
            node = agnxtnode(graph, n)
        }
        var edges: [DOTDocument.Edge] = []
        var edgeColumns = edgeSymbols.map { _ in [String]() }
        node = agfstnode(graph)
        while let n = node {
            var edge = agfstout(graph, n)
            while let e = edge {
                let tail = indexOf[UnsafeMutableRawPointer(deploydag_agtail(e))]!
                let head = indexOf[UnsafeMutableRawPointer(deploydag_aghead(e))]!
                edges.append(DOTDocument.Edge(tail: Int(tail), head: Int(head)))
                for (i, (_, s)) in edgeSymbols.enumerated() {
                    edgeColumns[i].append(string(agxget(e, s)))
                }
                edge = agnxtout(graph, e)
            }
            node = agnxtnode(graph, n)
        }
        document.nodeNames = names
        for (i, (name, _)) in nodeSymbols.enumerated() { document.nodeColumns[name] = columns[i] }
        document.edges = edges
        for (i, (name, _)) in edgeSymbols.enumerated() { document.edgeColumns[name] = edgeColumns[i] }
        return document
    }
}

/// A value computed on another thread, waited for once.
final class DetachedResult<T>: @unchecked Sendable {
    private var value: T?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> T) {
        Thread.detachNewThread { [self] in
            value = body()
            done.signal()
        }
    }

    func wait() -> T {
        done.wait()
        done.signal()
        return value!
    }
}

extension Thread {
    static func detachedResult<T>(_ body: @escaping @Sendable () -> T) -> DetachedResult<T> { DetachedResult(body) }
}
