import Foundation

/// Number formatting shared by the text reports.
public enum Format {
    /// Up to 4 significant digits, no exponent for everyday magnitudes.
    public static func number(_ value: Double) -> String {
        if value == 0 { return "0" }
        if value.rounded() == value && abs(value) < 1e15 { return String(Int64(value)) }
        let magnitude = abs(value)
        if magnitude >= 1e-3 && magnitude < 1e6 {
            var text = String(format: "%.4g", value)
            if text.contains("e") { text = String(format: "%.3f", value) }
            return text
        }
        return String(format: "%.3e", value)
    }

    /// Seconds in the unit that reads best: s, ms or us.
    public static func seconds(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1 { return String(format: "%.3f s", value) }
        if magnitude >= 1e-3 { return String(format: "%.3f ms", value * 1e3) }
        return String(format: "%.2f us", value * 1e6)
    }

    /// Bytes in GB, MB or KB.
    public static func bytes(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1e12 { return String(format: "%.2f TB", value / 1e12) }
        if magnitude >= 1e9 { return String(format: "%.2f GB", value / 1e9) }
        if magnitude >= 1e6 { return String(format: "%.2f MB", value / 1e6) }
        if magnitude >= 1e3 { return String(format: "%.2f KB", value / 1e3) }
        return String(format: "%.0f B", value)
    }

    /// FLOPs in GFLOP, TFLOP or PFLOP.
    public static func flops(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1e15 { return String(format: "%.2f PFLOP", value / 1e15) }
        if magnitude >= 1e12 { return String(format: "%.2f TFLOP", value / 1e12) }
        if magnitude >= 1e9 { return String(format: "%.2f GFLOP", value / 1e9) }
        if magnitude >= 1e6 { return String(format: "%.2f MFLOP", value / 1e6) }
        return String(format: "%.0f FLOP", value)
    }

    /// Tokens per second, with K/M suffixes as the seeds write them.
    public static func rate(_ value: Double) -> String {
        if value >= 1e6 { return String(format: "%.3fM", value / 1e6) }
        if value >= 1e3 { return String(format: "%.1fK", value / 1e3) }
        return String(format: "%.2f", value)
    }

    /// `a` or `an` before a name as it is read aloud (`an h100-sxm`, `a b200`, `an a100-sxm`).
    public static func article(_ name: String) -> String {
        guard let first = name.lowercased().first else { return "a" }
        return "aefhilmnorsx8".contains(first) ? "an" : "a"
    }

    public static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }
}
