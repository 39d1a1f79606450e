import Foundation
import Testing

/// The subset of JSON Schema that docs/schemas/ uses: `type` (a name or a list of names),
/// `properties`, `required`, `items`, `enum` (of strings), and `additionalProperties` as `false`
/// or as the schema of every other value. Any other keyword in a schema is refused, so that a
/// schema cannot silently say more than this validator checks.
struct JSONSchemaValidator {
    static let keywords: Set<String> = [
        "$schema", "$id", "title", "description", "type", "properties", "required", "items", "enum", "additionalProperties",
    ]

    /// Every violation, as `PATH: what is wrong`; empty when `value` fits.
    static func problems(_ value: Any, against schema: [String: Any], at path: String = "$") -> [String] {
        var problems: [String] = []
        for key in schema.keys where !keywords.contains(key) {
            problems.append("\(path): the schema uses '\(key)', which this validator does not check")
        }
        if let type = schema["type"] {
            let names = (type as? [String]) ?? [type as? String].compactMap { $0 }
            if !names.contains(where: { matches(value, type: $0) }) {
                return problems + ["\(path): expected \(names.joined(separator: " or ")), got \(describe(value))"]
            }
        }
        if let allowed = schema["enum"] as? [String] {
            if let text = value as? String, !allowed.contains(text) {
                problems.append("\(path): '\(text)' is not one of \(allowed.joined(separator: ", "))")
            } else if !(value is String) {
                problems.append("\(path): expected one of \(allowed.joined(separator: ", ")), got \(describe(value))")
            }
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                problems.append("\(path): the required key '\(key)' is missing")
            }
            for (key, member) in object.sorted(by: { $0.key < $1.key }) {
                if let property = properties[key] {
                    problems += Self.problems(member, against: property, at: "\(path).\(key)")
                } else if let additional = schema["additionalProperties"] {
                    if let allowed = additional as? Bool, !allowed {
                        problems.append("\(path): the key '\(key)' is not in the schema")
                    } else if let other = additional as? [String: Any] {
                        problems += Self.problems(member, against: other, at: "\(path).\(key)")
                    }
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (i, element) in array.enumerated() { problems += Self.problems(element, against: items, at: "\(path)[\(i)]") }
        }
        return problems
    }

    static func matches(_ value: Any, type: String) -> Bool {
        switch type {
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "string": return value is String
        case "null": return value is NSNull
        case "boolean": return isBoolean(value)
        case "integer":
            guard let n = value as? NSNumber, !isBoolean(value) else { return false }
            return n.doubleValue.rounded() == n.doubleValue
        case "number": return value is NSNumber && !isBoolean(value)
        default: return false
        }
    }

    /// JSONSerialization gives booleans as NSNumber too; they are told apart by their type.
    static func isBoolean(_ value: Any) -> Bool {
        if type(of: value) == Bool.self { return true }
        guard let n = value as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"  // swift-corelibs-foundation's NSNumber of a Bool
    }

    static func describe(_ value: Any) -> String {
        if isBoolean(value) { return "a boolean" }
        switch value {
        case is String: return "a string"
        case is NSNumber: return "a number"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case is NSNull: return "null"
        default: return "\(type(of: value))"
        }
    }
}

/// The repository's root, from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func loadSchema(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("docs/schemas/\(name).schema.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// Standard output parsed as exactly one JSON document (JSONSerialization refuses trailing text).
func parseOneDocument(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

@Suite struct JSONSchemaTests {
    @Test func validatorRejectsWhatTheSchemaForbids() throws {
        let schema: [String: Any] = [
            "type": "object", "required": ["a"], "additionalProperties": false,
            "properties": [
                "a": ["type": "integer"], "b": ["type": "array", "items": ["type": "string", "enum": ["x", "y"]]],
                "c": ["type": "object", "additionalProperties": ["type": "number"]],
            ],
        ]
        #expect(JSONSchemaValidator.problems(["a": 1, "b": ["x"], "c": ["k": 1.5]], against: schema).isEmpty)
        #expect(JSONSchemaValidator.problems(["b": ["x"]], against: schema) == ["$: the required key 'a' is missing"])
        #expect(JSONSchemaValidator.problems(["a": 1.5], against: schema) == ["$.a: expected integer, got a number"])
        #expect(JSONSchemaValidator.problems(["a": true], against: schema) == ["$.a: expected integer, got a boolean"])
        #expect(JSONSchemaValidator.problems(["a": 1, "z": 0], against: schema) == ["$: the key 'z' is not in the schema"])
        #expect(JSONSchemaValidator.problems(["a": 1, "b": ["w"]], against: schema) == ["$.b[0]: 'w' is not one of x, y"])
        #expect(JSONSchemaValidator.problems(["a": 1, "c": ["k": "s"]], against: schema) == ["$.c.k: expected number, got a string"])
        #expect(!JSONSchemaValidator.problems(["a": 1], against: ["type": "object", "minimum": 3]).isEmpty)
    }

    /// Every command that reports prints one JSON document that fits its schema in docs/schemas/.
    @Test(arguments: [
        ("presets", ["presets", "--format", "json"]),
        ("info", ["info", "DOT", "--format", "json"]),
        ("check", ["check", "DOT", "BROKEN", "--format", "json"]),
        ("analyze", ["analyze", "DOT", "--format", "json", "--slack"]),
        ("analyze", ["analyze", "--preset", "ma-separation-moe-4l", "--layers", "1", "--format", "json"]),
        ("compare", ["compare", "helix-dense-2l", "tp8-pp2-001", "DOT", "--format", "json"]),
        ("verify", ["verify", "--preset", "tp8-pp2-dense-4l", "--layers", "2", "--format", "json"]),
        ("diff", ["diff", "DOT", "MOVED", "--format", "json"]),
        ("diff", ["diff", "DOT", "DOT", "--format", "json"]),
    ])
    func outputFitsItsSchema(schemaName: String, arguments: [String]) throws {
        let dir = try scratchDirectory()
        let dot = dir.appendingPathComponent("h.dot").path
        let generated = try CLI.run(["generate", "--preset", "helix-dense-2l", "--layers", "1", "-o", dot])
        #expect(generated.status == 0)
        let broken = dir.appendingPathComponent("broken.dot").path
        let text = try String(contentsOfFile: dot, encoding: .utf8)
        try text.replacingOccurrences(of: "op=softmax", with: "op=softmaxx").write(toFile: broken, atomically: true, encoding: .utf8)
        let moved = dir.appendingPathComponent("moved.dot").path
        let edited = text.replacingOccurrences(
            of: "\"L0.softmax.gpu0\" [op=\"softmax\", gpu=\"0\"", with: "\"L0.softmax.gpu0\" [op=\"softmax\", gpu=\"5\"")
        #expect(edited != text || !arguments.contains("MOVED"))
        try edited.write(toFile: moved, atomically: true, encoding: .utf8)
        let resolved = arguments.map { $0 == "DOT" ? dot : $0 == "BROKEN" ? broken : $0 == "MOVED" ? moved : $0 }
        let r = try CLI.run(resolved)
        // check finds the broken file's error; analyze and compare find helix-dense-2l over an H100's
        // memory: all three exit 1.
        #expect(r.status == 0 || (["check", "analyze", "compare", "diff"].contains(schemaName) && r.status == 1), "\(r.stderr)")
        let document = try parseOneDocument(r.stdout)
        let problems = JSONSchemaValidator.problems(document, against: try loadSchema(schemaName))
        #expect(problems.isEmpty, "\(resolved.joined(separator: " ")): \(problems.joined(separator: "\n"))")
    }

    /// One key style everywhere: every key a command writes is snake_case (map keys that are data,
    /// such as operator or node names, are the schema's `additionalProperties` and not checked).
    @Test func everySchemaKeyIsSnakeCase() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("docs/schemas").path)
        #expect(
            Set(names.filter { $0.hasSuffix(".schema.json") }).isSuperset(
                of: ["presets", "info", "check", "analyze", "compare", "verify", "diff"].map { "\($0).schema.json" }))
        func keys(_ schema: [String: Any]) -> [String] {
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            return properties.keys + properties.values.flatMap(keys) + ((schema["items"] as? [String: Any]).map(keys) ?? [])
                + ((schema["additionalProperties"] as? [String: Any]).map(keys) ?? [])
        }
        for name in names where name.hasSuffix(".schema.json") {
            let schema = try loadSchema(String(name.dropLast(".schema.json".count)))
            for key in keys(schema) {
                #expect(key.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(name): key '\(key)' is not snake_case")
            }
        }
    }
}
