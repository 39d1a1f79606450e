import DeployModel
import Foundation

/// Prices `Get_Time(m, k, n)` and every other node of a DAG.
public enum CostModel: Sendable {
    /// `max(2mkn / (peak x efficiency), bytes / bandwidth)` on a GPU; other compute nodes are
    /// memory traffic; communication by the network model.
    case roofline(GPUSpec, efficiency: Double)
    /// Matmuls from a measured table; everything else as under `roofline` on the GPU.
    case table(MatmulTable, GPUSpec)
    /// The seeds' simplified model: `Get_Time = 2mkn / (T x 1e12)` exactly, every other node 0.
    case matmulFLOPs(teraFLOPs: Double)

    /// What the numbers were priced with, for every report.
    public var description: String {
        switch self {
        case .roofline(let gpu, let efficiency):
            "roofline on \(gpu), matmul efficiency \(Format.number(efficiency)): Get_Time = max(2mkn / (peak x efficiency), bytes / bandwidth); other compute nodes priced as memory traffic"
        case .table(let table, let gpu):
            "measured matmul table \(table.source) (\(table.rows.count) rows; \(MatmulTable.method)); other compute nodes as memory traffic on \(gpu)"
        case .matmulFLOPs(let t):
            "matmul-flops: Get_Time = 2mkn / (\(Format.number(t)) x 1e12) s; every other node costs 0"
        }
    }

    /// The short name: roofline, table, matmul-flops.
    public var name: String {
        switch self {
        case .roofline: "roofline"
        case .table: "table"
        case .matmulFLOPs: "matmul-flops"
        }
    }

    /// The GPU whose memory the model assumes (for memory findings and the roofline bound).
    public var gpu: GPUSpec? {
        switch self {
        case .roofline(let gpu, _), .table(_, let gpu): gpu
        case .matmulFLOPs: nil
        }
    }

    /// `roofline`, `table:FILE.csv` or `matmul-flops:T` (T in TFLOP/s).
    public static func parse(_ text: String, gpu: GPUSpec, efficiency: Double) throws -> CostModel {
        if text == "roofline" { return .roofline(gpu, efficiency: efficiency) }
        if text.hasPrefix("matmul-flops:") {
            guard let t = Double(text.dropFirst("matmul-flops:".count)), t > 0 else {
                throw CostModelError("matmul-flops:T needs a positive TFLOP/s figure, got '\(text)'")
            }
            return .matmulFLOPs(teraFLOPs: t)
        }
        if text.hasPrefix("table:") {
            return .table(try MatmulTable.load(String(text.dropFirst("table:".count))), gpu)
        }
        throw CostModelError("unknown cost model '\(text)'; expected roofline, table:FILE.csv or matmul-flops:T")
    }
}

public struct CostModelError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A measured GEMM table: rows `m,k,n,seconds`.
///
/// A measured point is returned exactly. Elsewhere the table's achieved throughput
/// (2mkn / seconds) is interpolated by inverse-distance weighting of the nearest measured points
/// in (log m, log k, log n) space, and the time is 2mkn divided by it. Outside the table's range
/// the nearest points' throughput is used, so times scale with FLOPs from the edge of the table.
public struct MatmulTable: Sendable {
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
        "exact at measured points, elsewhere throughput interpolated by inverse-distance weighting of the 4 nearest points in log(m), log(k), log(n)"

    public var rows: [Row]
    public var source: String
    private var exact: [Key: Double]

    private struct Key: Hashable {
        var m: Double, k: Double, n: Double
    }

    public init(rows: [Row], source: String) {
        self.rows = rows
        self.source = source
        exact = Dictionary(rows.map { (Key(m: $0.m, k: $0.k, n: $0.n), $0.seconds) }, uniquingKeysWith: { a, _ in a })
    }

    /// Reads `m,k,n,seconds` rows; a header line and `#` comments are skipped.
    public static func load(_ path: String) throws -> MatmulTable {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CostModelError("cannot read the matmul table \(path)")
        }
        var rows: [Row] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let values = fields.compactMap(Double.init)
            if values.count != 4 {
                if rows.isEmpty && i == 0 && values.isEmpty { continue }  // header
                throw CostModelError("\(path):\(i + 1): expected m,k,n,seconds with four positive numbers, got '\(line)'")
            }
            guard values.allSatisfy({ $0 > 0 }) else {
                throw CostModelError("\(path):\(i + 1): m, k, n and seconds must be positive, got '\(line)'")
            }
            rows.append(Row(m: values[0], k: values[1], n: values[2], seconds: values[3]))
        }
        guard !rows.isEmpty else { throw CostModelError("\(path): the matmul table has no rows") }
        return MatmulTable(rows: rows, source: path)
    }

    public func seconds(m: Double, k: Double, n: Double) -> Double {
        if let hit = exact[Key(m: m, k: k, n: n)] { return hit }
        let flops = 2 * m * k * n
        let (lm, lk, ln) = (log(m), log(k), log(n))
        let nearest = rows.map { row -> (distance: Double, throughput: Double) in
            let d = pow(log(row.m) - lm, 2) + pow(log(row.k) - lk, 2) + pow(log(row.n) - ln, 2)
            return (d.squareRoot(), 2 * row.m * row.k * row.n / row.seconds)
        }.sorted { $0.distance < $1.distance }.prefix(4)
        var weight = 0.0
        var sum = 0.0
        for point in nearest {
            let w = 1 / max(point.distance, 1e-12)
            weight += w
            sum += w * point.throughput
        }
        return flops / (sum / weight)
    }
}
