internal import CGraphviz
import DOTFormat
import DeployModel
import Foundation
import Glibc
import GraphArena

/// What reading a DOT file produced: the document when libcgraph could parse it, and findings
/// (syntax errors with their lines, warnings cgraph printed, a second graph in the file).
public struct DOTReadResult: Sendable {
    public var document: DOTDocument?
    /// Lines of nodes and edges, scanned from the text when first asked.
    public var lines: SourceLines
    public var findings: [Finding]
    /// Seconds spent in libcgraph's parse (and the copy out of it).
    public var parseSeconds: Double = 0
}

/// What reading and decoding a DOT file in one pass produced.
public struct DOTDecodeResult: Sendable {
    /// The decoded graph, when libcgraph parsed the file without error.
    public var decoded: DecodedGraph?
    /// `syntax` findings; `schema` findings are in `decoded`.
    public var findings: [Finding]
    /// libcgraph's parse, the walk that decodes its graph, and freeing it, in seconds.
    public var parseSeconds: Double = 0
    public var decodeSeconds: Double = 0
    public var closeSeconds: Double = 0
}

/// Reads DOT through libcgraph (`agread`) and turns the graph into Swift values.
///
/// Each parse gets its own arena (``GraphArena``) as cgraph's memory discipline, so freeing a
/// graph is one call rather than a walk deleting every node and edge.
public enum DOTReader {
    /// Reads `bytes` (the contents of `file`, used in findings) as one DOT graph and copies it
    /// into a ``DOTDocument``.
    public static func read(bytes: [UInt8], file: String? = nil) -> DOTReadResult {
        let lines = SourceLines(loading: { bytes })
        if isBlank(bytes) { return DOTReadResult(document: nil, lines: lines, findings: [emptyFinding(file)]) }
        let clock = ContinuousClock()
        let start = clock.now
        let arena = bytes.withUnsafeBytes(ArenaDiscipline.suits)
        let (document, findings) = withStream(bytes: bytes) { stream in
            parse(stream, file: file, lines: lines, arena: arena) { graph in copy(graph) }
        }
        var result = DOTReadResult(document: document, lines: lines, findings: findings)
        result.parseSeconds = (clock.now - start).seconds
        return result
    }

    /// Reads the file at `path` through libcgraph and decodes it node by node while the parsed
    /// graph is open: neither the file's bytes nor a copy of its strings are held.
    /// Returns nil when the file cannot be opened.
    ///
    /// - Parameter progress: called on this thread with the bytes libcgraph has read so far, as
    ///   it reads them (every 64 KB or so), and with "decoding" once the parse is done.
    public static func decode(
        path: String, file: String? = nil, keepLabels: Bool = true, progress: ((ReadProgress) -> Void)? = nil
    ) -> DOTDecodeResult? {
        guard let stream = fopen(path, "r") else { return nil }
        defer { fclose(stream) }
        let lines = SourceLines(scanningFileAt: path)
        return decode(
            stream: stream, file: file ?? path, lines: lines, keepLabels: keepLabels,
            arena: ArenaDiscipline.suits(path: path), progress: progress)
    }

    /// As `decode(path:)`, from bytes in memory.
    public static func decode(bytes: [UInt8], file: String? = nil, keepLabels: Bool = true) -> DOTDecodeResult {
        let lines = SourceLines(loading: { bytes })
        if isBlank(bytes) { return DOTDecodeResult(decoded: nil, findings: [emptyFinding(file)]) }
        let arena = bytes.withUnsafeBytes(ArenaDiscipline.suits)
        return withStream(bytes: bytes) { stream in
            decode(stream: stream, file: file, lines: lines, keepLabels: keepLabels, arena: arena)
        }
    }

    private static func decode(
        stream: UnsafeMutablePointer<FILE>, file: String?, lines: SourceLines, keepLabels: Bool, arena: Bool,
        progress: ((ReadProgress) -> Void)? = nil
    ) -> DOTDecodeResult {
        let clock = ContinuousClock()
        let start = clock.now
        var parsed = start
        var walked = start
        let (decoded, findings) = parse(stream, file: file, lines: lines, arena: arena, progress: progress) {
            graph -> DecodedGraph in
            progress?(.decoding(nodes: Int(agnnodes(graph))))
            parsed = clock.now
            defer { walked = clock.now }
            return walk(graph, file: file, lines: lines, keepLabels: keepLabels)
        }
        let closed = clock.now
        // A graph with a syntax error may still come back partly read: check none of it.
        let failed = findings.contains { $0.severity == .error }
        var result = DOTDecodeResult(decoded: failed ? nil : decoded, findings: findings)
        if decoded != nil {
            result.parseSeconds = (parsed - start).seconds
            result.decodeSeconds = (walked - parsed).seconds
            result.closeSeconds = (closed - walked).seconds
        } else {
            result.parseSeconds = (closed - start).seconds
        }
        return result
    }

    private static func isBlank(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }
    }

    private static func emptyFinding(_ file: String?) -> Finding {
        Finding(.syntax, file: file, line: 1, "the file is empty; expected 'digraph NAME { ... }'")
    }

    private static func withStream<T>(bytes: [UInt8], _ body: (UnsafeMutablePointer<FILE>) -> T) -> T {
        bytes.withUnsafeBytes { buffer in
            // fmemopen in "r" mode only reads the buffer; a zero-length buffer is refused, but
            // blank input never gets here.
            let stream = fmemopen(UnsafeMutableRawPointer(mutating: buffer.baseAddress), buffer.count, "r")!
            defer { fclose(stream) }
            return body(stream)
        }
    }

    /// Parses one graph from `stream` under the lock, hands it to `body` while it is open, then
    /// frees it; looks for a second graph; turns cgraph's messages into findings.
    private static func parse<T>(
        _ stream: UnsafeMutablePointer<FILE>, file: String?, lines: SourceLines, arena: Bool,
        progress: ((ReadProgress) -> Void)? = nil, _ body: (UnsafeMutablePointer<Agraph_t>) -> T
    ) -> (T?, [Finding]) {
        let discipline = arena ? ArenaDiscipline.shared : ArenaDiscipline.plain
        let ((value, secondGraphSeen), pieces) = Graphviz.withLock { () -> (T?, Bool) in
            CountingIO.start(progress)
            defer { CountingIO.stop() }
            Graphviz.resetLexer()
            agreadline(1)  // cgraph counts newlines from this value
            guard let graph = agread(UnsafeMutableRawPointer(stream), discipline) else { return (nil, false) }
            let value = body(graph)
            agclose(graph)
            // gvNextInputGraph reads further graphs from the same stream; so does this.
            var second = false
            if agerrors() == 0, let next = agread(UnsafeMutableRawPointer(stream), discipline) {
                agclose(next)
                second = true
            }
            aglexbad()
            return (value, second)
        }
        var findings: [Finding] = []
        for message in Graphviz.joinMessages(pieces) {
            let isWarning = message.hasPrefix("Warning")
            findings.append(
                Finding(
                    .syntax, isWarning ? .warning : .error, file: file, line: lineNumber(in: message),
                    cleanMessage(message)))
        }
        if value == nil && !findings.contains(where: { $0.severity == .error }) {
            if let map = lines.map, map.isBlank {
                findings.append(emptyFinding(file))
            } else {
                findings.append(
                    Finding(
                        .syntax, file: file, line: lines.map?.lineCount,
                        "no graph could be read; expected 'digraph NAME { ... }'"))
            }
        }
        if value != nil && secondGraphSeen {
            findings.append(
                Finding(
                    .syntax, file: file, line: lines.map?.secondGraphLine,
                    "the file holds more than one graph; deploydag reads one DAG per file"))
        }
        return (value, findings)
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

    /// The parsed graph's attribute symbols and strings, read once each.
    private struct GraphStrings {
        let graph: UnsafeMutablePointer<Agraph_t>
        /// cgraph keeps one copy of each distinct string (refstr), so identical values share a
        /// pointer: each is converted once and the Swift string shared.
        var interned: [UnsafeMutablePointer<CChar>: String] = [:]

        init(_ graph: UnsafeMutablePointer<Agraph_t>) { self.graph = graph }

        mutating func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
            guard let pointer else { return "" }
            if let known = interned[pointer] { return known }
            let value = String(cString: pointer)
            interned[pointer] = value
            return value
        }

        /// The value, nil when unset or empty.
        mutating func value(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
            guard let pointer, pointer.pointee != 0 else { return nil }
            return string(pointer)
        }

        /// The declared attributes of `kind`, by name. Names that are not valid UTF-8 can
        /// become equal once converted; such attributes form one group, whose value is the
        /// first non-empty one (found by fuzzing: otherwise one of them was lost).
        func symbols(_ kind: Int32) -> [(name: String, symbols: [UnsafeMutablePointer<Agsym_t>])] {
            var result: [(name: String, symbols: [UnsafeMutablePointer<Agsym_t>])] = []
            var position: [String: Int] = [:]
            var sym = agnxtattr(graph, kind, nil)
            while let s = sym {
                let name = String(cString: s.pointee.name)
                if let i = position[name] {
                    result[i].symbols.append(s)
                } else {
                    position[name] = result.count
                    result.append((name, [s]))
                }
                sym = agnxtattr(graph, kind, s)
            }
            return result
        }

        /// The object's value for a group of attributes: the first non-empty one, nil if none.
        mutating func value(of object: UnsafeMutableRawPointer, _ group: [UnsafeMutablePointer<Agsym_t>]) -> String? {
            for symbol in group {
                if let text = value(agxget(object, symbol)) { return text }
            }
            return nil
        }

        mutating func graphAttributes() -> [String: String] {
            var attributes: [String: String] = [:]
            for (name, group) in symbols(deploydag_agkind_graph()) {
                if let value = value(of: UnsafeMutableRawPointer(graph), group) { attributes[name] = value }
            }
            return attributes
        }
    }

    /// An object's name. cgraph names anonymous objects, and any whose name starts with `%`,
    /// `%N` from a counter shared by every graph the process reads, so the same file would read
    /// differently after other files (found by fuzzing): an anonymous graph is named "", an
    /// anonymous node `%` and its position in the file.
    private static func name(of graph: UnsafeMutablePointer<Agraph_t>) -> String {
        let text = String(cString: agnameof(graph))
        return text.hasPrefix("%") ? "" : text
    }

    private static func name(of node: UnsafeMutablePointer<Agnode_t>) -> String {
        let text = String(cString: agnameof(node))
        return text.hasPrefix("%") ? "%\(deploydag_agseq(node))" : text
    }

    /// Node indices by cgraph's creation sequence: a parse creates nodes with sequence numbers
    /// 1, 2, 3, ... in the order agfstnode walks them, so the index is the number less one. A
    /// graph where that does not hold falls back to a table.
    private struct NodeIndex {
        private var table: [UnsafeMutableRawPointer: Int32]?

        init(_ graph: UnsafeMutablePointer<Agraph_t>) {
            var expected: UInt = 1
            var node = agfstnode(graph)
            var contiguous = true
            while let n = node {
                if deploydag_agseq(n) != expected {
                    contiguous = false
                    break
                }
                expected += 1
                node = agnxtnode(graph, n)
            }
            if contiguous { return }
            var table: [UnsafeMutableRawPointer: Int32] = [:]
            node = agfstnode(graph)
            while let n = node {
                table[UnsafeMutableRawPointer(n)] = Int32(table.count)
                node = agnxtnode(graph, n)
            }
            self.table = table
        }

        func callAsFunction(_ node: UnsafeMutablePointer<Agnode_t>) -> Int {
            if let table { return Int(table[UnsafeMutableRawPointer(node)]!) }
            return Int(deploydag_agseq(node)) - 1
        }
    }

    /// Decodes the open graph node by node (deploydag's schema) without an intermediate copy.
    ///
    /// Names are read first, in one pass (cgraph's name lookup reorganises its tree, so it
    /// stays on one thread). The nodes' attribute values are then plain reads of each node's
    /// record: one half is decoded on a second core while this thread decodes the other half
    /// and then walks the edges.
    private static func walk(
        _ graph: UnsafeMutablePointer<Agraph_t>, file: String?, lines: SourceLines, keepLabels: Bool
    ) -> DecodedGraph {
        var strings = GraphStrings(graph)
        let nodeSymbols = strings.symbols(deploydag_agkind_node())
        let operandSymbols = strings.symbols(deploydag_agkind_edge()).first { $0.name == DOTSchema.operand }?.symbols
        var pointers: [UnsafeMutablePointer<Agnode_t>] = []
        var names: [String] = []
        pointers.reserveCapacity(Int(agnnodes(graph)))
        names.reserveCapacity(pointers.capacity)
        var node = agfstnode(graph)
        while let n = node {
            pointers.append(n)
            names.append(name(of: n))
            node = agnxtnode(graph, n)
        }
        let header = GraphHeader(
            name: name(of: graph), isDirected: agisdirected(graph) != 0,
            graphAttributes: strings.graphAttributes(), file: file)
        let prototype = NodeDecoder(nodeColumns: nodeSymbols.map(\.name), file: file, lines: lines, keepLabels: keepLabels)
        // Labels are unique to each node: when they are not kept, they are not even converted.
        let read = Unchecked(nodeSymbols.map { keepLabels || $0.name != DOTSchema.label ? $0.symbols : nil })
        let count = pointers.count
        let split = count / 2
        let shared = Unchecked((graph: graph, nodes: pointers, names: names))
        let flags = Unchecked(UnsafeMutableBufferPointer<Bool>.allocate(capacity: count))
        defer { flags.value.deallocate() }
        var edges: [TensorEdge] = []
        var badOperands: [(edge: Int, text: String)] = []
        var findings: [Finding] = []

        // Both threads initialise their own range of the one node array: no half is copied.
        let nodes = [OperatorNode](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = Unchecked(buffer)
            @Sendable func decode(_ range: Range<Int>) -> [Finding] {
                var decoder = prototype
                var strings = GraphStrings(shared.value.graph)
                var values = [String?](repeating: nil, count: read.value.count)
                var findings: [Finding] = []
                for i in range {
                    let n = shared.value.nodes[i]
                    for (c, group) in read.value.enumerated() {
                        values[c] = group.flatMap { strings.value(of: UnsafeMutableRawPointer(n), $0) }
                    }
                    let (node, problems) = decoder.decode(name: shared.value.names[i], values: values)
                    (out.value.baseAddress! + i).initialize(to: node)
                    flags.value[i] = !problems.isEmpty
                    findings += problems
                }
                return findings
            }
            let (first, second) = concurrently(
                {
                    let found = decode(0..<split)
                    // cgraph's edge iteration reorganises shared state, so the edges stay on
                    // this thread; the other one only reads node records.
                    var decoder = prototype
                    let index = NodeIndex(graph)
                    edges.reserveCapacity(count + count / 2)
                    for n in pointers {
                        var edge = agfstout(graph, n)
                        while let e = edge {
                            let operand = operandSymbols.flatMap { strings.value(of: UnsafeMutableRawPointer(e), $0) }
                            let (decoded, bad) = decoder.edge(
                                tail: index(deploydag_agtail(e)), head: index(deploydag_aghead(e)), operand: operand)
                            if let bad { badOperands.append((edges.count, bad)) }
                            edges.append(decoded)
                            edge = agnxtout(graph, e)
                        }
                    }
                    return found
                },
                { decode(split..<count) })
            findings = first + second
            initialized = count
        }
        return DecodedGraph(
            header: header, nodes: nodes, invalidNodes: Array(flags.value), nodeFindings: findings, edges: edges,
            badOperands: badOperands, file: file, lines: lines)
    }

    private static func copy(_ graph: UnsafeMutablePointer<Agraph_t>) -> DOTDocument {
        var strings = GraphStrings(graph)
        var document = DOTDocument(
            name: name(of: graph),
            isDirected: agisdirected(graph) != 0,
            isStrict: agisstrict(graph) != 0)
        document.graphAttributes = strings.graphAttributes()
        let nodeSymbols = strings.symbols(deploydag_agkind_node())
        let edgeSymbols = strings.symbols(deploydag_agkind_edge())

        let count = Int(agnnodes(graph))
        var names: [String] = []
        names.reserveCapacity(count)
        var columns = nodeSymbols.map { _ in [String]() }
        for i in columns.indices { columns[i].reserveCapacity(count) }
        var node = agfstnode(graph)
        while let n = node {
            names.append(name(of: n))
            for (i, (_, group)) in nodeSymbols.enumerated() {
                columns[i].append(strings.value(of: UnsafeMutableRawPointer(n), group) ?? "")
            }
            node = agnxtnode(graph, n)
        }
        let index = NodeIndex(graph)
        var edges: [DOTDocument.Edge] = []
        var edgeColumns = edgeSymbols.map { _ in [String]() }
        node = agfstnode(graph)
        while let n = node {
            var edge = agfstout(graph, n)
            while let e = edge {
                edges.append(DOTDocument.Edge(tail: index(deploydag_agtail(e)), head: index(deploydag_aghead(e))))
                for (i, (_, group)) in edgeSymbols.enumerated() {
                    edgeColumns[i].append(strings.value(of: UnsafeMutableRawPointer(e), group) ?? "")
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

/// A value handed to another thread that the compiler cannot prove safe to share: cgraph's
/// pointers into a graph that no one modifies while both threads read it.
struct Unchecked<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// How far reading a file has got.
public enum ReadProgress: Sendable, Equatable {
    /// libcgraph has read this many bytes of the file.
    case parsing(bytes: Int)
    /// The parse is done; its nodes are being decoded.
    case decoding(nodes: Int)
}

/// cgraph's default input discipline, counting the bytes it reads for a progress report. The
/// state is global like cgraph's own and used only under the Graphviz lock.
enum CountingIO {
    nonisolated(unsafe) private static var report: ((ReadProgress) -> Void)?
    nonisolated(unsafe) private static var bytes = 0
    nonisolated(unsafe) private static var reported = 0

    static func start(_ progress: ((ReadProgress) -> Void)?) {
        report = progress
        bytes = 0
        reported = 0
    }

    static func stop() { report = nil }

    static func counted(_ count: Int32) -> Int32 {
        guard count > 0, let report else { return count }
        bytes += Int(count)
        if bytes - reported >= 1 << 16 {
            reported = bytes
            report(.parsing(bytes: bytes))
        }
        return count
    }

    nonisolated(unsafe) static let discipline: UnsafeMutablePointer<Agiodisc_t> = {
        let io = UnsafeMutablePointer<Agiodisc_t>.allocate(capacity: 1)
        let standard = deploydag_default_io_disc().pointee
        io.initialize(
            to: Agiodisc_t(
                afread: { channel, buffer, size in
                    CountingIO.counted(deploydag_default_io_disc().pointee.afread(channel, buffer, size))
                },
                putstr: standard.putstr, flush: standard.flush))
        return io
    }()
}

/// libcgraph's memory discipline backed by ``GraphArena``: one arena per graph, released whole
/// when the graph is closed.
///
/// With a memory discipline that can close, cgraph frees a graph by closing its arena instead
/// of deleting node by node. But cdt allocates each dictionary's header with malloc, outside
/// the arena, and that path never closes the dictionaries, so their headers would leak (found by
/// fuzzing with LeakSanitizer: about 70 bytes a dictionary, nine or more a graph, also when
/// cgraph itself drops a graph after a syntax error). So the identifier discipline's `open`,
/// which cgraph calls with each new root graph, records the graph by its arena; the arena's
/// `close` gathers the graph's dictionary headers, releases the arena and frees them.
///
/// Subgraphs are another matter: cdt keeps their members through holders it allocates with
/// malloc or through cgraph's discipline depending on a global that cgraph sets and clears as
/// it goes, and frees them the same way, so the two allocators get mixed (found by fuzzing: a
/// crash, and leaks). A file that can hold a subgraph, one with more than one `{`, is therefore
/// read with cgraph's default discipline; deploydag's DAGs have none.
/// All of this runs under the Graphviz lock, like every cgraph call.
enum ArenaDiscipline {
    /// Open root graphs by their arena.
    nonisolated(unsafe) private static var graphs: [UnsafeMutableRawPointer: UnsafeMutablePointer<Agraph_t>] = [:]

    /// Whether text can be read with the arena: it has at most one `{`, so no subgraph.
    static func suits(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let first = bytes.firstIndex(of: UInt8(ascii: "{")) else { return true }
        return !bytes[(first + 1)...].contains(UInt8(ascii: "{"))
    }

    /// As `suits(_:)` for a file, read in blocks; false if it cannot be read.
    static func suits(path: String) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { block.deallocate() }
        var braces = 0
        while true {
            let count = Glibc.read(fd, block.baseAddress, block.count)
            if count < 0 { return false }
            if count == 0 { return true }
            var at = block.baseAddress!
            var left = count
            while left > 0, let found = memchr(at, Int32(UInt8(ascii: "{")), left) {
                braces += 1
                if braces > 1 { return false }
                let next = found + 1
                left -= next - at
                at = next
            }
        }
    }

    /// The malloc'd headers of every dictionary of `graph` and its subgraphs.
    private static func dictionaryHeaders(_ graph: UnsafeMutablePointer<Agraph_t>) -> Set<UnsafeMutableRawPointer> {
        var headers = Set<UnsafeMutableRawPointer>()
        func add(_ dictionary: UnsafeMutablePointer<Dict_t>?) {
            if let dictionary { headers.insert(UnsafeMutableRawPointer(dictionary)) }
        }
        var pending = [graph]
        while let g = pending.popLast() {
            for d in [g.pointee.n_seq, g.pointee.n_id, g.pointee.e_seq, g.pointee.e_id, g.pointee.g_dict] { add(d) }
            if let data = deploydag_datadict(g) {
                add(data.pointee.dict.n)
                add(data.pointee.dict.e)
                add(data.pointee.dict.g)
            }
            var sub = agfstsubg(g)
            while let s = sub {
                pending.append(s)
                sub = agnxtsubg(s)
            }
        }
        let shared = graph.pointee.clos.pointee
        if string_table_is(shared.strdict) == 0 { add(shared.strdict) }
        for d in [shared.lookup_by_name.0, shared.lookup_by_name.1, shared.lookup_by_name.2] { add(d) }
        for d in [shared.lookup_by_id.0, shared.lookup_by_id.1, shared.lookup_by_id.2] { add(d) }
        return headers
    }

    private static func closeArena(_ state: UnsafeMutableRawPointer?) {
        guard let state else { return }
        let graph = graphs.removeValue(forKey: state)
        let headers = graph.map(dictionaryHeaders) ?? []
        let strings = graph?.pointee.clos.pointee.strdict
        graph_arena_close(OpaquePointer(state))
        for header in headers { free(header) }
        if let strings, string_table_is(strings) != 0 { string_table_close(strings) }
    }

    /// Whether cgraph's strings can go in ``string_table_open``'s table. cgraph sets the masks
    /// it reads a string's reference count with when it opens its first string dictionary; with
    /// every graph's dictionary opened here it would never set them, and would then free strings
    /// still in use. So one string is interned and released in cgraph's default dictionary first.
    private static let stringTableSuits: Bool = {
        guard string_table_suits_cgraph() != 0 else { return false }
        var probe = Array("deploydag".utf8CString)
        probe.withUnsafeMutableBufferPointer { agstrfree(nil, agstrdup(nil, $0.baseAddress)) }
        return true
    }()

    private static func opened(_ graph: UnsafeMutablePointer<Agraph_t>?, _ discipline: UnsafeMutablePointer<Agdisc_t>?)
        -> UnsafeMutableRawPointer?
    {
        if let graph, let arena = graph.pointee.clos.pointee.state.mem {
            graphs[arena] = graph
            // The shared strings in a hash table rather than cgraph's splay tree: cgraph opens
            // its own only when the graph has none, which it does not have yet here, before the
            // graph's name is interned.
            if stringTableSuits, graph.pointee.clos.pointee.strdict == nil {
                graph.pointee.clos.pointee.strdict = string_table_open(agdictobjfree)
            }
        }
        return deploydag_default_id_disc().pointee.open(graph, discipline)
    }

    /// cgraph's default memory and identifiers, with the byte-counting input.
    nonisolated(unsafe) static let plain: UnsafeMutablePointer<Agdisc_t> = {
        let discipline = UnsafeMutablePointer<Agdisc_t>.allocate(capacity: 1)
        discipline.initialize(
            to: Agdisc_t(mem: deploydag_default_mem_disc(), id: deploydag_default_id_disc(), io: CountingIO.discipline))
        return discipline
    }()

    nonisolated(unsafe) static let shared: UnsafeMutablePointer<Agdisc_t> = {
        let memory = UnsafeMutablePointer<Agmemdisc_t>.allocate(capacity: 1)
        memory.initialize(
            to: Agmemdisc_t(
                open: { _ in UnsafeMutableRawPointer(graph_arena_open()) },
                alloc: { state, size in graph_arena_alloc(OpaquePointer(state), size) },
                resize: { state, block, old, new in graph_arena_resize(OpaquePointer(state), block, old, new) },
                free: { state, block in graph_arena_free(OpaquePointer(state), block) },
                close: { state in ArenaDiscipline.closeArena(state) }))
        let identifiers = UnsafeMutablePointer<Agiddisc_t>.allocate(capacity: 1)
        identifiers.initialize(to: deploydag_default_id_disc().pointee)
        identifiers.pointee.open = { graph, discipline in ArenaDiscipline.opened(graph, discipline) }
        let discipline = UnsafeMutablePointer<Agdisc_t>.allocate(capacity: 1)
        discipline.initialize(to: Agdisc_t(mem: memory, id: identifiers, io: CountingIO.discipline))
        return discipline
    }()
}
