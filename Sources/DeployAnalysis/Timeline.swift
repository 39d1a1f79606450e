import DeployModel
import Foundation

/// The schedule as a Chrome trace (the JSON Perfetto and chrome://tracing open): one process per
/// GPU with a compute track and a communication track; a collective appears on every member's
/// communication track.
///
/// Written directly as bytes, keys sorted: a collective over 65,536 GPUs is 65,536 events, which
/// `JSONSerialization` took 88 s and 1 GB to write (found by the mutation campaign).
public enum ChromeTrace {
    public static func json(_ analysis: Analysis) throws -> [UInt8] {
        var out = JSONText()
        out.raw("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"cost_model\":")
        out.string(analysis.options.costModel.description)
        out.raw(",\"graph\":")
        out.string(analysis.graph.name)
        out.raw("},\"traceEvents\":[")
        var first = true
        func event(_ body: (inout JSONText) -> Void) {
            if !first { out.raw(",") }
            first = false
            body(&out)
        }
        let gpus = Set(analysis.graph.nodes.flatMap(\.gpus)).sorted()
        for gpu in gpus {
            event { $0.raw("{\"args\":{\"name\":\"GPU \(gpu)\"},\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(gpu)}") }
            event { $0.raw("{\"args\":{\"sort_index\":\(gpu)},\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":\(gpu)}") }
            event { $0.raw("{\"args\":{\"name\":\"compute\"},\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(gpu),\"tid\":0}") }
            event {
                $0.raw("{\"args\":{\"name\":\"communication\"},\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(gpu),\"tid\":1}")
            }
        }
        for (v, node) in analysis.graph.nodes.enumerated() where node.op.kind != .boundary {
            // Everything but pid and tid, which differ between a collective's members.
            var head = JSONText()
            head.raw("{\"args\":{")
            let a = node.attributes
            if node.op == .matmul, let m = a["m"], let k = a["k"], let n = a["n"] {
                head.raw("\"get_time\":")
                head.string("Get_Time(\(m), \(k), \(n))")
                head.raw(",")
            }
            if let layer = node.layer { head.raw("\"layer\":\(layer),") }
            head.raw("\"op\":")
            head.string(node.op.rawValue)
            head.raw(",\"out\":")
            head.string(node.out.description)
            if analysis.costs[v].sentBytesPerGPU > 0 {
                head.raw(",\"sent_bytes_per_gpu\":")
                head.number(analysis.costs[v].sentBytesPerGPU)
            }
            head.raw("},\"cat\":")
            head.string(node.op.kind.rawValue)
            head.raw(",\"dur\":")
            head.number((analysis.schedule.finish[v] - analysis.schedule.start[v]) * 1e6)
            head.raw(",\"name\":")
            head.string(node.name)
            head.raw(",\"ph\":\"X\",\"pid\":")
            var tail = JSONText()
            tail.raw(",\"ts\":")
            tail.number(analysis.schedule.start[v] * 1e6)
            tail.raw("}")
            if let gpu = node.gpu {
                event { $0.bytes += head.bytes + Array("\(gpu),\"tid\":0".utf8) + tail.bytes }
            } else {
                for gpu in node.group { event { $0.bytes += head.bytes + Array("\(gpu),\"tid\":1".utf8) + tail.bytes } }
            }
        }
        out.raw("]}")
        return out.bytes
    }
}

/// JSON text as bytes: strings escaped as RFC 8259 asks, numbers as Swift prints them.
public struct JSONText: Sendable {
    public var bytes: [UInt8] = []
    /// Also escape what would end or confuse an HTML `<script>` element holding the text: `<`,
    /// `>`, `&`, and U+2028 and U+2029 (line ends to older JavaScript).
    public var scriptSafe = false

    public init(scriptSafe: Bool = false) { self.scriptSafe = scriptSafe }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    public mutating func string(_ text: String) {
        let hex = Array("0123456789abcdef".utf8)
        func escape(_ value: UInt32) {
            bytes += Array("\\u".utf8) + [12, 8, 4, 0].map { hex[Int((value >> $0) & 15)] }
        }
        bytes.append(UInt8(ascii: "\""))
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            let byte = utf8[i]
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case ..<0x20: escape(UInt32(byte))
            case UInt8(ascii: "<"), UInt8(ascii: ">"),
                UInt8(ascii: "&") where scriptSafe:
                escape(UInt32(byte))
            case 0xE2 where scriptSafe && i + 2 < utf8.count && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                escape(utf8[i + 2] == 0xA8 ? 0x2028 : 0x2029)
                i += 2
            default: bytes.append(byte)
            }
            i += 1
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A finite number as Swift prints it (`0.5`, `1e-05`, `2.0`); JSON has no NaN or infinity,
    /// so those are `null`.
    public mutating func number(_ value: Double) {
        guard value.isFinite else { return raw("null") }
        if value == value.rounded(), abs(value) < 1e15 { return raw(String(Int64(value))) }
        raw("\(value)")
    }
}

/// The schedule as an SVG Gantt chart: a row per GPU with its compute lane above its
/// communication lane, bars coloured by operator class, a time axis and a legend.
public enum GanttChart {
    static let colours: [Operator.Kind: String] = [
        .matmul: "#4c8bf5", .normalization: "#34a853", .elementwise: "#f4b400", .layout: "#9c6ade", .routing: "#f57c00",
        .communication: "#db4437", .boundary: "#9aa0a6",
    ]

    public static func svg(_ analysis: Analysis, title: String) -> String {
        let gpus = Set(analysis.graph.nodes.flatMap(\.gpus)).sorted()
        let makespan = max(analysis.makespanSeconds, 1e-12)
        let (left, top, width, lane) = (90.0, 60.0, 1100.0, 14.0)
        let rowHeight = 2 * lane + 10
        let height = top + Double(gpus.count) * rowHeight + 70
        let x = { (t: Double) in left + t / makespan * width }
        var rows: [Int: Int] = [:]
        for (i, g) in gpus.enumerated() { rows[g] = i }
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(left + width + 30))" height="\(Int(height))" font-family="Helvetica, sans-serif" font-size="11">
            <title>\(title.xmlEscaped)</title>
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="24" font-size="16">\(title.xmlEscaped)</text>
            <text x="\(left)" y="42" fill="#555">makespan \(Format.seconds(analysis.makespanSeconds).xmlEscaped) · upper lane compute, lower lane communication · \(analysis.options.costModel.name.xmlEscaped)</text>

            """
        for (i, g) in gpus.enumerated() {
            let y = top + Double(i) * rowHeight
            out += "<text x=\"\(left - 8)\" y=\"\(y + lane + 4)\" text-anchor=\"end\">GPU \(g)</text>\n"
            out += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(width)\" height=\"\(2 * lane)\" fill=\"#f5f5f5\"/>\n"
        }
        for (v, node) in analysis.graph.nodes.enumerated() where node.op.kind != .boundary {
            let (s, f) = (analysis.schedule.start[v], analysis.schedule.finish[v])
            guard f > s else { continue }
            let colour = colours[node.op.kind] ?? "#999"
            let tip = "\(node.name) (\(node.op.rawValue)): \(Format.seconds(s)) – \(Format.seconds(f))"
            let lanes: [(Int, Double)] = node.gpu.map { [($0, 0)] } ?? node.group.map { ($0, lane) }
            for (g, offset) in lanes {
                guard let row = rows[g] else { continue }
                let y = top + Double(row) * rowHeight + offset
                out +=
                    "<rect x=\"\(fmt(x(s)))\" y=\"\(fmt(y + 1))\" width=\"\(fmt(max(x(f) - x(s), 0.5)))\" height=\"\(fmt(lane - 2))\" fill=\"\(colour)\"><title>\(tip.xmlEscaped)</title></rect>\n"
            }
        }
        let axisY = top + Double(gpus.count) * rowHeight + 4
        out += "<line x1=\"\(left)\" y1=\"\(axisY)\" x2=\"\(left + width)\" y2=\"\(axisY)\" stroke=\"#333\"/>\n"
        for tick in 0...5 {
            let t = makespan * Double(tick) / 5
            out += "<line x1=\"\(fmt(x(t)))\" y1=\"\(axisY)\" x2=\"\(fmt(x(t)))\" y2=\"\(axisY + 5)\" stroke=\"#333\"/>"
            out += "<text x=\"\(fmt(x(t)))\" y=\"\(axisY + 18)\" text-anchor=\"middle\">\(Format.seconds(t).xmlEscaped)</text>\n"
        }
        var legendX = left
        for kind in Operator.Kind.allCases where kind != .boundary {
            out += "<rect x=\"\(fmt(legendX))\" y=\"\(axisY + 32)\" width=\"12\" height=\"12\" fill=\"\(colours[kind]!)\"/>"
            out += "<text x=\"\(fmt(legendX + 16))\" y=\"\(axisY + 42)\">\(kind.rawValue)</text>\n"
            legendX += 130
        }
        out += "</svg>\n"
        return out
    }

    private static func fmt(_ v: Double) -> String { String(format: "%.2f", v) }
}
