import DeployModel
import Foundation

/// Prices `Get_Time(m, k, n)` and every other node of a DAG.
public enum CostModel: Sendable {
    /// `max(2mkn / (peak x efficiency), bytes / bandwidth)` on a GPU; other compute nodes are
    /// memory traffic; communication by the network model.
    case roofline(GPUSpec, efficiency: Double)
    /// The default: the GPU's kernel model (docs/calibration.md) on top of the roofline. A GEMM
    /// occupies whole waves of tiles over the SMs at up to `efficiency` of the peak, against
    /// its bytes at the achievable HBM bandwidth; fused attention at the GPU's attention
    /// efficiency; every other kernel its bytes at the achievable bandwidth; each kernel pays
    /// the launch; a K/V cache is resident (its append writes the new token only).
    case calibrated(GPUSpec, efficiency: Double)
    /// GEMMs, collectives and kernels from a measured table; what it has no row of as under
    /// `calibrated` on the GPU.
    case table(MeasuredTable, GPUSpec)
    /// The seeds' simplified model: `Get_Time = 2mkn / (T x 1e12)` exactly, every other node 0.
    case matmulFLOPs(teraFLOPs: Double)

    /// What the numbers were priced with, for every report.
    public var description: String {
        switch self {
        case .roofline(let gpu, let efficiency):
            "roofline on \(gpu), matmul efficiency \(Format.number(efficiency)): Get_Time = max(2mkn / (peak x efficiency), bytes / bandwidth); other compute nodes priced as memory traffic"
        case .calibrated(let gpu, let efficiency):
            "calibrated on \(gpu): GEMMs in waves of tiles over \(gpu.kernels.multiprocessors.map(String.init) ?? "the") SMs at up to \(Format.percent(efficiency)) of peak (x t / (t + 128) for a thin side of t rows), fused attention at \(Format.percent(gpu.kernels.attentionEfficiency ?? efficiency)), memory at \(Format.percent(gpu.kernels.memoryEfficiency)) of HBM, \(Format.number(gpu.kernels.launchSeconds * 1e6)) us a kernel; Get_Time = launch + max(wave-quantised 2mkn / (peak x efficiency), bytes / achievable bandwidth) (docs/calibration.md)"
        case .table(let table, let gpu):
            "measured table \(table.source) (\(table.count) rows; \(MeasuredTable.method)) on \(gpu)"
        case .matmulFLOPs(let t):
            "matmul-flops: Get_Time = 2mkn / (\(Format.number(t)) x 1e12) s; every other node costs 0"
        }
    }

    /// The short name: roofline, table, matmul-flops.
    public var name: String {
        switch self {
        case .roofline: "roofline"
        case .calibrated: "calibrated"
        case .table: "table"
        case .matmulFLOPs: "matmul-flops"
        }
    }

    /// The GPU whose memory the model assumes (for memory findings and the roofline bound).
    public var gpu: GPUSpec? {
        switch self {
        case .roofline(let gpu, _), .calibrated(let gpu, _), .table(_, let gpu): gpu
        case .matmulFLOPs: nil
        }
    }

    /// This model with its GPU as it runs a DAG of `dtype` (`GPUSpec.running(dtype:)`).
    public func running(dtype: String?) throws(AnalysisError) -> CostModel {
        switch self {
        case .roofline(let gpu, let efficiency): .roofline(try gpu.running(dtype: dtype), efficiency: efficiency)
        case .calibrated(let gpu, let efficiency): .calibrated(try gpu.running(dtype: dtype), efficiency: efficiency)
        case .table(let table, let gpu): .table(table, try gpu.running(dtype: dtype))
        case .matmulFLOPs: self
        }
    }

    /// `calibrated`, `roofline`, `table:FILE.csv` or `matmul-flops:T` (T in TFLOP/s). Without an
    /// `efficiency`, the calibrated model takes the GPU's large-GEMM efficiency and the others 0.8.
    public static func parse(_ text: String, gpu: GPUSpec, efficiency: Double?) throws -> CostModel {
        if text == "calibrated" { return .calibrated(gpu, efficiency: efficiency ?? gpu.kernels.gemmEfficiency ?? 0.8) }
        let efficiency = efficiency ?? 0.8
        if text == "roofline" { return .roofline(gpu, efficiency: efficiency) }
        if text.hasPrefix("matmul-flops:") {
            guard let t = Double(text.dropFirst("matmul-flops:".count)), t >= 1e-3, t <= 1e6 else {
                throw CostModelError("matmul-flops:T needs a TFLOP/s figure between 0.001 and 1e6, got '\(text)'")
            }
            return .matmulFLOPs(teraFLOPs: t)
        }
        if text.hasPrefix("table:") {
            return .table(try MeasuredTable.load(String(text.dropFirst("table:".count))), gpu)
        }
        throw CostModelError("unknown cost model '\(text)'; expected calibrated, roofline, table:FILE.csv or matmul-flops:T")
    }
}

public struct CostModelError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A measured table (`--cost table:FILE.csv`, docs/analysis.md): GEMMs, collectives and other
/// kernels, each row `seconds` last.
///
/// - `m,k,n,seconds` or `matmul,m,k,n,seconds`: a GEMM. A measured point is returned exactly;
///   elsewhere the table's achieved throughput (2mkn / seconds) is interpolated by inverse-distance
///   weighting of the nearest measured points in (log m, log k, log n) space, and the time is 2mkn
///   divided by it. Outside the table's range the nearest points' throughput is used.
/// - `OP,GPUS,LINK,BYTES,seconds` (OP a collective, `all_reduce`, `all_gather`, `reduce_scatter`,
///   `all_to_all` or `send_recv`; LINK `nvlink` or `infiniband`; BYTES the whole tensor).
/// - `OP,BYTES,seconds` (OP any other operator, `attention` included; BYTES its memory traffic).
///
/// A collective or kernel is interpolated along its bytes (linearly in log-log between the
/// measured sizes around it); below the smallest measured size it takes that size's time (the
/// latency floor), above the largest that size's bandwidth. What the table has no row of (an
/// operator, or a collective of another size of group or link) is priced by the calibrated model.
public struct MeasuredTable: Sendable {
    public struct Row: Sendable, Hashable {
        public var m: Double, k: Double, n: Double, seconds: Double
        public init(m: Double, k: Double, n: Double, seconds: Double) {
            self.m = m
            self.k = k
            self.n = n
            self.seconds = seconds
        }
    }

    public static let method =
        "GEMMs exact at measured points, elsewhere throughput interpolated by inverse-distance weighting of the 4 nearest points in log(m), log(k), log(n); collectives and kernels interpolated along their bytes; the rest by the calibrated model"

    public var rows: [Row]
    public var source: String
    /// Collectives by (operator, group size, link) and other kernels by operator: (bytes, seconds)
    /// sorted by bytes.
    public var curves: [String: [(bytes: Double, seconds: Double)]]
    private var exact: [Key: Double]

    private struct Key: Hashable {
        var m: Double, k: Double, n: Double
    }

    public init(rows: [Row], source: String, curves: [String: [(bytes: Double, seconds: Double)]] = [:]) {
        self.rows = rows
        self.source = source
        self.curves = curves.mapValues { $0.sorted { $0.bytes < $1.bytes } }
        exact = Dictionary(rows.map { (Key(m: $0.m, k: $0.k, n: $0.n), $0.seconds) }, uniquingKeysWith: { a, _ in a })
    }

    /// Every row the table holds.
    public var count: Int { rows.count + curves.values.reduce(0) { $0 + $1.count } }

    static let collectives: Set<String> = ["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"]

    static func curveKey(op: String, gpus: Int? = nil, link: LinkClass? = nil) -> String {
        guard let gpus, let link else { return op }
        return "\(op)/\(gpus)/\(link.rawValue)"
    }

    /// Reads the rows; a header line and `#` comments are skipped.
    public static func load(_ path: String) throws -> MeasuredTable {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CostModelError("cannot read the measured table \(path)")
        }
        var rows: [Row] = []
        var curves: [String: [(bytes: Double, seconds: Double)]] = [:]
        let known = Set(Operator.allCases.map(\.rawValue))
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            func fail(_ reason: String) -> CostModelError {
                let shown = line.count > 120 ? line.prefix(120) + "..." : line
                return CostModelError("\(path):\(i + 1): \(reason), got '\(shown)'")
            }
            func numbers(_ slice: ArraySlice<String>) throws -> [Double] {
                let values = slice.compactMap(Double.init)
                guard values.count == slice.count, values.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                    throw fail("every figure must be a positive number")
                }
                // Sizes up to 1e15 (elements or bytes), times from a picosecond to a day.
                guard values.dropLast().allSatisfy({ $0 <= 1e15 }), let seconds = values.last, seconds >= 1e-12, seconds <= 86_400 else {
                    throw fail("sizes must be at most 1e15 and seconds between 1e-12 and 86400")
                }
                return values
            }
            if let first = fields.first, Double(first) == nil {
                let op = first
                if op == "matmul" {
                    guard fields.count == 5 else { throw fail("a matmul row is matmul,m,k,n,seconds") }
                    let v = try numbers(fields[1...])
                    rows.append(Row(m: v[0], k: v[1], n: v[2], seconds: v[3]))
                } else if collectives.contains(op) {
                    guard fields.count == 5, let link = LinkClass(rawValue: fields[2]) else {
                        throw fail("a collective row is \(op),GPUS,LINK,BYTES,seconds with LINK nvlink or infiniband")
                    }
                    let v = try numbers([fields[1], fields[3], fields[4]])
                    guard v[0] == v[0].rounded(), v[0] >= 1, v[0] <= 1e6 else { throw fail("GPUS must be a whole number of GPUs") }
                    curves[curveKey(op: op, gpus: Int(v[0]), link: link), default: []].append((v[1], v[2]))
                } else if known.contains(op) {
                    guard fields.count == 3 else { throw fail("a kernel row is \(op),BYTES,seconds") }
                    let v = try numbers(fields[1...])
                    curves[op, default: []].append((v[0], v[1]))
                } else {
                    if rows.isEmpty && curves.isEmpty && fields.allSatisfy({ Double($0) == nil }) { continue }  // header
                    throw fail(
                        "'\(op)' is not an operator (docs/dot-schema.md); expected m,k,n,seconds, matmul,..., OP,GPUS,LINK,BYTES,seconds or OP,BYTES,seconds"
                    )
                }
            } else {
                guard fields.count == 4 else { throw fail("expected m,k,n,seconds with four positive numbers") }
                let v = try numbers(fields[...])
                rows.append(Row(m: v[0], k: v[1], n: v[2], seconds: v[3]))
            }
        }
        let table = MeasuredTable(rows: rows, source: path, curves: curves)
        guard table.count > 0 else { throw CostModelError("\(path): the measured table has no rows") }
        return table
    }

    /// A GEMM's time; nil when the table has no GEMM rows.
    public func seconds(m: Double, k: Double, n: Double) -> Double? {
        if let hit = exact[Key(m: m, k: k, n: n)] { return hit }
        guard !rows.isEmpty else { return nil }
        let flops = 2 * m * k * n
        let (lm, lk, ln) = (log(m), log(k), log(n))
        // The 4 nearest by one pass (a table of a million rows is read in one pass per GEMM).
        var nearest: [(distance: Double, throughput: Double)] = []
        for row in rows {
            let d = (pow(log(row.m) - lm, 2) + pow(log(row.k) - lk, 2) + pow(log(row.n) - ln, 2)).squareRoot()
            guard nearest.count < 4 || d < nearest[nearest.count - 1].distance else { continue }
            let point = (distance: d, throughput: 2 * row.m * row.k * row.n / row.seconds)
            nearest.insert(point, at: nearest.firstIndex { $0.distance > d } ?? nearest.count)
            if nearest.count > 4 { nearest.removeLast() }
        }
        var weight = 0.0
        var sum = 0.0
        for point in nearest {
            let w = 1 / max(point.distance, 1e-12)
            weight += w
            sum += w * point.throughput
        }
        return flops / (sum / weight)
    }

    /// A collective's time from its rows of the same group size and link; nil without any.
    public func collectiveSeconds(op: String, gpus: Int, link: LinkClass, bytes: Double) -> Double? {
        curves[Self.curveKey(op: op, gpus: gpus, link: link)].flatMap { Self.interpolate($0, bytes) }
    }

    /// A kernel's time from its operator's rows; nil without any.
    public func kernelSeconds(op: String, bytes: Double) -> Double? {
        curves[op].flatMap { Self.interpolate($0, bytes) }
    }

    static func interpolate(_ points: [(bytes: Double, seconds: Double)], _ bytes: Double) -> Double? {
        guard let first = points.first, let last = points.last, bytes > 0 else { return points.first?.seconds }
        if bytes <= first.bytes { return first.seconds }
        if bytes >= last.bytes { return last.seconds * bytes / last.bytes }
        let upper = points.firstIndex { $0.bytes >= bytes }!
        let (a, b) = (points[upper - 1], points[upper])
        if b.bytes == a.bytes { return b.seconds }
        let t = (log(bytes) - log(a.bytes)) / (log(b.bytes) - log(a.bytes))
        return exp(log(a.seconds) + t * (log(b.seconds) - log(a.seconds)))
    }
}
