/// A stable identifier of a check, printed as `error[RULE]` and keyed in JSON.
public struct RuleID: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: RuleID, rhs: RuleID) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension RuleID {
    /// The DOT text could not be parsed.
    public static let syntax = RuleID("syntax")
    /// An attribute is missing, unknown or malformed.
    public static let schema = RuleID("schema")
    /// The file is larger than the input limit.
    public static let inputSize = RuleID("input-size")
}

public enum Severity: String, Sendable, Hashable, Comparable {
    case error, warning, note

    private var rank: Int {
        switch self {
        case .error: 0
        case .warning: 1
        case .note: 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// One problem found in a DAG, with where it is.
public struct Finding: Hashable, Sendable {
    public var rule: RuleID
    public var severity: Severity
    /// The file, when the DAG came from one.
    public var file: String?
    /// The 1-based line in `file`.
    public var line: Int?
    /// The node the finding is about.
    public var node: String?
    public var message: String

    public init(
        _ rule: RuleID, _ severity: Severity = .error, file: String? = nil, line: Int? = nil,
        node: String? = nil, _ message: String
    ) {
        self.rule = rule
        self.severity = severity
        self.file = file
        self.line = line
        self.node = node
        self.message = message
    }

    /// `FILE:LINE: error[RULE]: message (node NAME)`.
    public var formatted: String {
        var text = ""
        if let file {
            text += file + ":"
            if let line { text += "\(line):" }
            text += " "
        }
        text += "\(severity.rawValue)[\(rule.rawValue)]: \(message)"
        if let node { text += " (node \(node))" }
        return text
    }
}
