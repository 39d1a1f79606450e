import DOTFormat
import DeployBuilders
import DeployChecker
import DeployModel
import DeployTestSupport
import Foundation
import GraphvizBridge

/// Reads DOT text through libcgraph, decodes and checks it, as `deploydag check` does.
func check(_ text: String, file: String = "t.dot", gpus: Int? = nil) -> CheckReport {
    let result = DOTReader.decode(bytes: Array(text.utf8), file: file, keepLabels: false)
    guard let decoded = result.decoded else {
        return CheckReport(file: file, findings: result.findings, nodeCount: 0, edgeCount: 0)
    }
    return Checker(gpus: gpus).check(decoded, earlier: result.findings)
}

func presetDOT(_ name: String, layers: Int? = nil) throws -> String {
    let deployment = presetDeployment(name, layers: layers)
    return try DOTWriter().writeString(DeploymentBuilder().build(deployment))
}

extension String {
    /// Replaces `old` with `new` on the line that states node `name`; the edit must happen.
    func editingNode(_ name: String, _ old: String, _ new: String) -> String {
        var lines = components(separatedByNewline: ())
        guard let i = lines.firstIndex(where: { $0.hasPrefix("  \"\(name)\" [") }), lines[i].contains(old) else {
            fatalError("node \(name) with \(old) not found")
        }
        lines[i] = lines[i].replacingFirst(old, with: new)
        return lines.joined(separator: "\n")
    }

    /// Adds a line before the closing brace.
    func appendingStatement(_ statement: String) -> String {
        var text = self
        let close = text.lastIndex(of: "}")!
        text.insert(contentsOf: "  \(statement)\n", at: close)
        return text
    }

    func components(separatedByNewline: ()) -> [String] { split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }

    func replacingFirst(_ old: String, with new: String) -> String {
        guard let range = range(of: old) else { return self }
        return replacingCharacters(in: range, with: new)
    }

    func lineNumber(containing needle: String) -> Int? {
        components(separatedByNewline: ()).firstIndex { $0.contains(needle) }.map { $0 + 1 }
    }
}
