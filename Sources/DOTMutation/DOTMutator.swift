/// Attribute-level mutations of a DOT file that deploydag wrote (docs/fuzzing.md).
///
/// libFuzzer changes bytes, which mostly breaks the syntax; these mutations keep the file
/// readable and change what it says: attribute values (shapes, GPU groups, placements,
/// equations, integers, factors, operators), edges (removed, repeated, reversed, operands) and
/// node names (control characters, Markdown, HTML). Every mutant is a function of the seed text
/// and the generator's state, so a campaign's finding can be made again from its numbers.
public struct DOTMutator: Sendable {
    /// One attribute `key="value"`, the value as the file spells it (escapes kept).
    struct Attribute: Sendable {
        var key: String
        var value: String
    }

    enum Line: Sendable {
        case node(name: String, attributes: [Attribute])
        case edge(tail: String, head: String, attributes: [Attribute])
        case graph(attributes: [Attribute])
        case header(name: String)
        case other(String)
    }

    /// A mutant: the DOT text and what was changed, one item per mutation.
    public struct Mutant: Sendable {
        public var text: String
        public var changes: [String]
        public init(text: String, changes: [String]) {
            self.text = text
            self.changes = changes
        }
    }

    private let lines: [Line]
    private let nodeLines: [Int]
    private let edgeLines: [Int]
    private let graphLine: Int?

    /// Reads the seed, a file in the form `DOTWriter` writes (one statement a line).
    public init(seed text: String) {
        var lines: [Line] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append(Self.parse(String(raw)))
        }
        self.lines = lines
        nodeLines = lines.indices.filter { if case .node = lines[$0] { true } else { false } }
        edgeLines = lines.indices.filter { if case .edge = lines[$0] { true } else { false } }
        graphLine = lines.indices.first { if case .graph = lines[$0] { true } else { false } }
    }

    /// The number of node statements the seed holds (a seed without any is no use).
    public var nodeCount: Int { nodeLines.count }

    /// A mutant of one to three mutations drawn from `random`.
    public func mutant(_ random: inout MutationRandom) -> Mutant {
        var lines = self.lines
        var changes: [String] = []
        for _ in 0..<(1 + random.below(3)) {
            changes.append(mutate(&lines, &random))
        }
        return Mutant(text: lines.map(Self.render).joined(separator: "\n"), changes: changes)
    }

    // MARK: - Mutations

    private func mutate(_ lines: inout [Line], _ random: inout MutationRandom) -> String {
        let roll = random.below(100)
        if roll < 62, !nodeLines.isEmpty { return mutateNodeAttribute(&lines, &random) }
        if roll < 70, let graphLine { return mutateGraphAttribute(&lines, at: graphLine, &random) }
        if roll < 88, !edgeLines.isEmpty { return mutateEdge(&lines, &random) }
        if !nodeLines.isEmpty { return mutateNodeName(&lines, &random) }
        return "nothing to mutate"
    }

    private func mutateNodeAttribute(_ lines: inout [Line], _ random: inout MutationRandom) -> String {
        let at = nodeLines[random.below(nodeLines.count)]
        guard case .node(let name, var attributes) = lines[at] else { return "" }
        let candidates = attributes.indices.filter { attributes[$0].key != "label" }
        let key: String
        let index: Int?
        if candidates.isEmpty || random.below(8) == 0 {
            // An attribute the node does not have, or has for another operator.
            key = Self.nodeKeys[random.below(Self.nodeKeys.count)]
            index = attributes.firstIndex { $0.key == key }
        } else {
            index = candidates[random.below(candidates.count)]
            key = attributes[index!].key
        }
        let old = index.map { Self.unescape(attributes[$0].value) } ?? ""
        let new = Self.value(for: key, replacing: old, &random)
        if let index {
            attributes[index].value = Self.escape(new)
        } else {
            attributes.insert(Attribute(key: key, value: Self.escape(new)), at: 0)
        }
        lines[at] = .node(name: name, attributes: attributes)
        return "node \(Self.quoted(name)): \(key)=\(Self.quoted(new)) (was \(Self.quoted(old)))"
    }

    private func mutateGraphAttribute(_ lines: inout [Line], at: Int, _ random: inout MutationRandom) -> String {
        guard case .graph(var attributes) = lines[at] else { return "" }
        let key: String
        if attributes.isEmpty || random.below(4) == 0 {
            key = Self.graphKeys[random.below(Self.graphKeys.count)]
        } else {
            key = attributes[random.below(attributes.count)].key
        }
        let index = attributes.firstIndex { $0.key == key }
        let old = index.map { Self.unescape(attributes[$0].value) } ?? ""
        let new = Self.value(for: key, replacing: old, &random)
        if let index {
            attributes[index].value = Self.escape(new)
        } else {
            attributes.append(Attribute(key: key, value: Self.escape(new)))
        }
        lines[at] = .graph(attributes: attributes)
        return "graph: \(key)=\(Self.quoted(new)) (was \(Self.quoted(old)))"
    }

    private func mutateEdge(_ lines: inout [Line], _ random: inout MutationRandom) -> String {
        let at = edgeLines[random.below(edgeLines.count)]
        guard case .edge(let tail, let head, var attributes) = lines[at] else { return "" }
        let what = "edge \(Self.quoted(tail)) -> \(Self.quoted(head))"
        switch random.below(6) {
        case 0:
            lines[at] = .other("")
            return "\(what): removed"
        case 1:
            let copies = [1, 1, 2, 7, 60][random.below(5)]
            let text = Self.render(lines[at])
            lines[at] = .other(Array(repeating: text, count: copies + 1).joined(separator: "\n"))
            return "\(what): stated \(copies) more times"
        case 2:
            lines[at] = .edge(tail: head, head: tail, attributes: attributes)
            return "\(what): reversed"
        case 3:
            let operand = Self.operandValues[random.below(Self.operandValues.count)]
            attributes.removeAll { $0.key == "operand" }
            attributes.append(Attribute(key: "operand", value: Self.escape(operand)))
            lines[at] = .edge(tail: tail, head: head, attributes: attributes)
            return "\(what): operand=\(Self.quoted(operand))"
        case 4:
            // A new edge from a random node, which may close a cycle.
            let other = nodeLines[random.below(nodeLines.count)]
            guard case .node(let from, _) = lines[other] else { return "" }
            let added = Line.edge(tail: from, head: head, attributes: [])
            lines[at] = .other(Self.render(lines[at]) + "\n" + Self.render(added))
            return "\(what): an edge \(Self.quoted(from)) -> \(Self.quoted(head)) added"
        default:
            // The head moved to another node.
            let other = nodeLines[random.below(nodeLines.count)]
            guard case .node(let to, _) = lines[other] else { return "" }
            lines[at] = .edge(tail: tail, head: to, attributes: attributes)
            return "\(what): head moved to \(Self.quoted(to))"
        }
    }

    private func mutateNodeName(_ lines: inout [Line], _ random: inout MutationRandom) -> String {
        let at = nodeLines[random.below(nodeLines.count)]
        guard case .node(let name, _) = lines[at] else { return "" }
        if random.below(5) == 0 {
            lines[at] = .other("")
            return "node \(Self.quoted(name)): removed (its edges kept)"
        }
        let raw = Self.hostileNames[random.below(Self.hostileNames.count)].replacingOccurrences(of: "NAME", with: Self.unescape(name))
        let new = Self.escape(raw)
        // Rename every mention, or only the statement (its edges then dangle).
        let everywhere = random.below(4) != 0
        for i in lines.indices {
            switch lines[i] {
            case .node(let n, let a) where n == name && (everywhere || i == at):
                lines[i] = .node(name: new, attributes: a)
            case .edge(let t, let h, let a) where everywhere && (t == name || h == name):
                lines[i] = .edge(tail: t == name ? new : t, head: h == name ? new : h, attributes: a)
            default: break
            }
        }
        return "node \(Self.quoted(name)): renamed \(Self.quoted(raw))\(everywhere ? "" : " in its statement only")"
    }

    // MARK: - Values

    static let nodeKeys = [
        "op", "gpu", "group", "out", "weight", "place", "weight_place", "eq", "dim", "parts", "index", "k", "m", "n", "experts",
        "capacity", "capacity_factor", "replicas", "scale", "offset", "window", "q_offset", "start", "length", "theta", "rotary_dim",
        "causal", "split_dim", "concat_dim", "layer", "logical", "weight_logical", "range", "cache", "data", "bias", "block",
    ]
    static let graphKeys = [
        "gpus", "covers", "batch", "seq", "context", "heads", "hidden", "head_dim", "kv_heads", "layers", "phase", "dtype", "strategy",
        "model", "ffn", "experts", "top_k", "capacity_factor", "vocab", "sliding_window", "rope_theta", "segments", "head_groups", "tp",
        "pp",
    ]
    static let operators = [
        "input", "output", "kv_cache", "matmul", "softmax", "layernorm", "rmsnorm", "add", "gelu", "silu", "concat", "split", "rope",
        "mul", "relu", "attention", "embedding", "narrow", "topk", "dispatch", "combine", "all_reduce", "all_gather", "reduce_scatter",
        "all_to_all", "send_recv", "conv2d", "", "MATMUL", "matmul ",
    ]
    static let integers = [
        "0", "-1", "1", "2", "3", "7", "64", "65535", "65536", "4294967296", "4294967297", "9223372036854775807", "-9223372036854775808",
        "99999999999999999999", "1.5", "", "x", "1e3", "0x10", "+4", " 2", "B", "2*B", "-0",
    ]
    static let factors = [
        "0", "-1", "1", "1.25", "5/4", "1/0", "0/0", "nan", "inf", "-inf", "1e308", "1e-320", "1e999", "x", "", "3/-4",
        "9223372036854775807/1", "1/9223372036854775807", "0.000001", "100000",
    ]
    static let groups = [
        "", "0", "0,0,0", "0-65535", "0-4294967295", "65536", "99999999999", "3-1", "-1", "0-", "1,2,,3", "x", "0-3,2-5", "0-15,0-15",
        "0-1048575", "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "15,14,13", "0-0", " 0 , 1 ", "1e2", "0-65534,65535",
    ]
    static let places = [
        "", "R", "P", "Q", "S0", "S9:0/4", "S0:5/4", "S0:0/0", "S0:0/3", "S0:0/9223372036854775807", "P:0/2,P:0/2", "R,R,R",
        "S-1:0/2", "S0:0/4,S0:1/4", "S0:0/65536,S1:0/65536,S2:0/65536", "S1:0/4,P:0/4,S2:1/4", "P:1/0", "S0:-1/4", "S0:0/4,",
        "S99999999999999999999:0/2", "P:0/65537", "S0:0/2,S1:0/2,S2:0/2,S3:0/2,S4:0/2,S5:0/2",
    ]
    static let equations = [
        "", "->", "bsh,hnd->bsnd", "bsh,hnd->bsn", "bsh,hnd->bsndx", "ab,bc->ac", "ab,bc", "a,b,c->abc", "aa,aa->a", "...h,hd->...d",
        "bsh,hnd->bsnd->x", "bsh,,hnd->bsnd", "bsH,Hnd->bsnd", "ßh,hd->ßd", "abcdefghijklmnopqrstuvwxyz,z->a", "b s h,h n d->b s n d",
    ]
    static let operandValues = ["0", "1", "2", "5", "-1", "x", "", "9223372036854775807", "99999999999999999999", "1.0", "0,1"]
    static let booleans = ["true", "false", "1", "0", "maybe", "", "TRUE"]
    static let hostileNames = [
        "NAME\u{1b}[31mred\u{1b}[0m", "NAME\u{7}\u{8}\u{7f}", "NAME\r\nnext", "<script>alert(1)</script>", "NAME</text><svg onload=x>",
        "| a | b |", "`NAME`", "[link](http://example.com)", "![image](http://example.com/x.png)", "**bold** _NAME_", "NAME&amp;&lt;",
        "../../NAME", "/etc/NAME", "", "%NAME", "NAME\\", "NAME\"quoted\"", "# heading", "NAME\u{0}after", "NAME\u{feff}\u{202e}",
        "<!-- NAME -->", "]]>NAME<![CDATA[", String(repeating: "n", count: 20_000), "NAME\u{fffe}",
    ]

    /// A new value for attribute `key`, often derived from the `old` one.
    static func value(for key: String, replacing old: String, _ random: inout MutationRandom) -> String {
        switch key {
        case "out", "weight": return shape(replacing: old, &random)
        case "group", "covers": return pick(groups, &random)
        case "place", "weight_place": return pick(places, &random)
        case "eq": return equation(replacing: old, &random)
        case "op": return pick(operators, &random)
        case "capacity_factor", "scale", "theta", "rope_theta": return pick(factors, &random)
        case "causal", "bias": return pick(booleans, &random)
        case "range": return pick(["7:0", "0:99999999999", "-1:3", "0:", ":", "0:7:1", "", "x", "0:9223372036854775807"], &random)
        case "phase": return pick(["decode", "prefill", "", "train", "DECODE"], &random)
        case "dtype": return pick(["fp8", "fp32", "fp16", "bf16", "int4", "", "x"], &random)
        case "data": return pick(["tokens", "", "x"], &random)
        case "strategy", "model", "block", "logical", "weight_logical", "cache":
            return pick(
                ["", "helix", "tp_pp", "moe", "dense", "attention", "mlp", "L0.w.q", old + ".x", String(repeating: "z", count: 17_000)],
                &random)
        default:
            if let number = Int(old), random.below(3) == 0 {
                let (product, overflow) = number.multipliedReportingOverflow(by: 1000)
                return pick(["\(number &+ 1)", "\(number &- 1)", overflow ? "\(number)" : "\(product)", "-\(number)"], &random)
            }
            return pick(integers, &random)
        }
    }

    static func shape(replacing old: String, _ random: inout MutationRandom) -> String {
        var dims = old.trimmingPrefix("[").split(separator: ",").map { String($0.filter { $0 != "]" }) }
        if dims.isEmpty || random.below(6) == 0 {
            return pick(
                [
                    "[]", "[", "[1,,2]", "[a b]", "[4294967296,4294967296,4294967296]", "[0]", "[-1]", "[1,2,3,4,5,6,7,8,9]", "1,2",
                    "[9223372036854775807,2]", "[B,seq_len,8192]", "[B*2]", "[1.5]", "", "[" + String(repeating: "1,", count: 3000) + "1]",
                ], &random)
        }
        let i = random.below(dims.count)
        switch random.below(7) {
        case 0: dims[i] = pick(["9223372036854775807", "4294967296", "99999999999999999999", "1099511627776"], &random)
        case 1: dims[i] = "0"
        case 2: dims[i] = pick(["-1", "-4096"], &random)
        case 3: dims[i] = pick(["B", "seq_len", "x1", "L", "B*seq"], &random)
        case 4: dims.remove(at: i)
        case 5: dims.insert(pick(["1", "2", "7"], &random), at: i)
        default: dims[i] = String((Int(dims[i]) ?? 1) &+ 1)
        }
        return "[" + dims.joined(separator: ",") + "]"
    }

    static func equation(replacing old: String, _ random: inout MutationRandom) -> String {
        var chars = Array(old)
        if chars.count < 2 || random.below(3) == 0 { return pick(equations, &random) }
        let i = random.below(chars.count)
        switch random.below(3) {
        case 0: chars.remove(at: i)
        case 1: chars.swapAt(i, random.below(chars.count))
        default: chars.insert(pick(["a", "z", ",", "-", ">", "."], &random).first!, at: i)
        }
        return String(chars)
    }

    static func pick(_ values: [String], _ random: inout MutationRandom) -> String { values[random.below(values.count)] }

    // MARK: - The line format

    static func parse(_ line: String) -> Line {
        let trimmed = line.drop { $0 == " " }
        if trimmed.hasPrefix("graph [") {
            guard let attributes = attributeList(trimmed.dropFirst("graph ".count)) else { return .other(line) }
            return .graph(attributes: attributes)
        }
        if trimmed.hasPrefix("digraph ") || trimmed.hasPrefix("strict digraph ") {
            return .header(name: line)
        }
        guard trimmed.first == "\"", let (tail, rest) = quotedPrefix(trimmed) else { return .other(line) }
        var after = rest.drop { $0 == " " }
        if after.hasPrefix("->") {
            after = after.dropFirst(2).drop { $0 == " " }
            guard let (head, rest2) = quotedPrefix(after) else { return .other(line) }
            let list = rest2.drop { $0 == " " }
            if list.hasPrefix(";") { return .edge(tail: tail, head: head, attributes: []) }
            guard let attributes = attributeList(list) else { return .other(line) }
            return .edge(tail: tail, head: head, attributes: attributes)
        }
        guard let attributes = attributeList(after) else { return .other(line) }
        return .node(name: tail, attributes: attributes)
    }

    /// The quoted string at the start of `text` (escapes kept) and what follows it.
    static func quotedPrefix(_ text: Substring) -> (String, Substring)? {
        guard text.first == "\"" else { return nil }
        var i = text.index(after: text.startIndex)
        var out = ""
        while i < text.endIndex {
            let c = text[i]
            if c == "\\", text.index(after: i) < text.endIndex {
                out.append(c)
                out.append(text[text.index(after: i)])
                i = text.index(i, offsetBy: 2)
                continue
            }
            if c == "\"" { return (out, text[text.index(after: i)...]) }
            out.append(c)
            i = text.index(after: i)
        }
        return nil
    }

    /// `[k="v", k2="v2"];`
    static func attributeList(_ text: Substring) -> [Attribute]? {
        guard text.first == "[" else { return nil }
        var rest = text.dropFirst()
        var attributes: [Attribute] = []
        while true {
            rest = rest.drop { $0 == " " || $0 == "," }
            if rest.hasPrefix("]") { return attributes }
            guard let eq = rest.firstIndex(of: "=") else { return nil }
            let key = String(rest[..<eq])
            guard let (value, after) = quotedPrefix(rest[rest.index(after: eq)...]) else { return nil }
            attributes.append(Attribute(key: key, value: value))
            rest = after
        }
    }

    static func render(_ line: Line) -> String {
        func list(_ attributes: [Attribute]) -> String {
            "[" + attributes.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ", ") + "]"
        }
        switch line {
        case .node(let name, let attributes): return "  \"\(name)\" \(list(attributes));"
        case .edge(let tail, let head, let attributes):
            return "  \"\(tail)\" -> \"\(head)\"" + (attributes.isEmpty ? ";" : " \(list(attributes));")
        case .graph(let attributes): return "  graph \(list(attributes));"
        case .header(let text): return text
        case .other(let text): return text
        }
    }

    /// DOT's quoted-string escapes: `"` and `\` get a backslash; every other byte is kept.
    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    static func unescape(_ value: String) -> String {
        var out = ""
        var escaped = false
        for c in value {
            if escaped || c != "\\" {
                out.append(c)
                escaped = false
            } else {
                escaped = true
            }
        }
        return out
    }

    /// A value for a change log: quoted, control characters escaped, long values cut.
    static func quoted(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars.prefix(80) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        if value.unicodeScalars.count > 80 { out += "...(\(value.unicodeScalars.count) characters)" }
        return "\"" + out + "\""
    }
}

/// SplitMix64: small, fast and the same on every platform, so a mutant is reproducible.
public struct MutationRandom: Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (bound positive).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
