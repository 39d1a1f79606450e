/// GPU id lists as DOT attributes write them: `0,1,2,3`; ranges such as `8-15` are also read.
public enum GPUList {
    /// The most GPUs a deployment, a group or a list may name, and the bound on GPU ids (0 to
    /// `maximum - 1`): past the largest clusters built, and small enough that per-GPU tables,
    /// per-GPU findings and the lists themselves stay cheap whatever a file claims.
    public static let maximum = 65_536

    /// Parses `0,1,2,3` or `0-3,8`; nil when any piece is not a non-negative integer or range
    /// of ids below `maximum`, or the list names more than `maximum` GPUs.
    public static func parse<S: StringProtocol>(_ text: S) -> [Int]? {
        var result: [Int] = []
        for piece in text.split(separator: ",") {
            let item = piece.trimmingASCIISpaces()
            if let dash = item.dropFirst().firstIndex(of: "-") {
                guard let lo = Int(item[..<dash]), let hi = Int(item[item.index(after: dash)...]),
                    lo >= 0, hi >= lo, hi < maximum, hi - lo < maximum - result.count
                else { return nil }
                result.append(contentsOf: lo...hi)
            } else {
                guard let id = Int(item), id >= 0, id < maximum, result.count < maximum else { return nil }
                result.append(id)
            }
        }
        return result.isEmpty ? nil : result
    }

    /// Lists longer than this are written with ranges: a 4,096-GPU group in full would pass
    /// libcgraph's 16,384-character limit on a string.
    public static let plainLimit = 64

    /// `0,1,2,3`: the form the schema names for `group`. A list of more than `plainLimit` GPUs
    /// is written with ranges in its own order (`8-15,0-7`), which `parse` reads back as the
    /// same list.
    public static func format(_ gpus: [Int]) -> String {
        if gpus.count <= plainLimit { return gpus.map(String.init).joined(separator: ",") }
        return orderedRuns(gpus).map { $0.lo == $0.hi ? "\($0.lo)" : "\($0.lo)-\($0.hi)" }.joined(separator: ",")
    }

    /// The list cut into ascending runs of consecutive ids, in order, repeats kept.
    public static func orderedRuns(_ gpus: [Int]) -> [(lo: Int, hi: Int)] {
        var runs: [(lo: Int, hi: Int)] = []
        for gpu in gpus {
            if let last = runs.last, gpu == last.hi + 1 {
                runs[runs.count - 1].hi = gpu
            } else {
                runs.append((gpu, gpu))
            }
        }
        return runs
    }

    /// `0-3,8`: compact, for labels and reports.
    public static func compact(_ gpus: [Int]) -> String {
        let sorted = Array(Set(gpus)).sorted()
        var parts: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(j > i ? "\(sorted[i])-\(sorted[j])" : "\(sorted[i])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
