import DOTFormat
import GraphArena
import GraphvizBridge
import Testing

/// Strings the table's deletes have freed, by the discipline's freef (a C function cannot
/// capture; the suite's tests run one at a time).
nonisolated(unsafe) private var freed: [String] = []

/// The hash table that replaces cgraph's string dictionary: cdt's search, insert and delete
/// semantics, through growth and deletes that move other entries, and the same graphs read.
@Suite(.serialized) struct StringTableTests {
    private func string(_ text: String) -> UnsafeMutablePointer<string_table_refstr> {
        let object = UnsafeMutablePointer<string_table_refstr>.allocate(capacity: 1)
        object.initialize(to: string_table_refstr())
        object.pointee.s = strdup(text)
        return object
    }

    private func key(_ text: String, _ body: (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        var probe = string_table_refstr()
        return text.withCString { c in
            probe.s = UnsafeMutablePointer(mutating: c)
            return withUnsafeMutablePointer(to: &probe) { body(UnsafeMutableRawPointer($0)) }
        }
    }

    @Test func searchInsertDeleteLikeACdtSet() throws {
        freed = []
        let table = try #require(
            string_table_open { _, object, _ in
                let refstr = object!.assumingMemoryBound(to: string_table_refstr.self)
                freed.append(String(cString: refstr.pointee.s))
            })
        defer { string_table_close(table) }
        #expect(string_table_is(table) != 0)
        let search = try #require(table.pointee.searchf)
        let count = 20_000  // past the first table of 1,024 slots many times
        var objects: [String: UnsafeMutablePointer<string_table_refstr>] = [:]
        for i in 0..<count {
            let text = i % 3 == 0 ? "L\(i)_matmul_q" : "\(i)"
            let object = string(text)
            objects[text] = object
            #expect(search(table, UnsafeMutableRawPointer(object), DT_INSERT) == UnsafeMutableRawPointer(object))
        }
        #expect(string_table_count(table) == count)
        #expect(table.pointee.data.pointee.size == Int32(count))
        // An insert of an equal key returns the string already there, and adds nothing.
        let again = string("7")
        #expect(search(table, UnsafeMutableRawPointer(again), DT_INSERT) == UnsafeMutableRawPointer(objects["7"]!))
        #expect(string_table_count(table) == count)
        for (text, object) in objects {
            #expect(key(text) { search(table, $0, DT_SEARCH) } == UnsafeMutableRawPointer(object))
        }
        #expect(key("absent") { search(table, $0, DT_SEARCH) } == nil)
        #expect(key("") { search(table, $0, DT_SEARCH) } == nil)
        // Deletes free through the discipline and leave every other string findable, however
        // the entries after each one were moved back.
        let deleted = Set(objects.keys.filter { $0.hashValue % 3 == 0 })
        for text in deleted { #expect(key(text) { search(table, $0, DT_DELETE) } == UnsafeMutableRawPointer(objects[text]!)) }
        #expect(Set(freed) == deleted)
        #expect(string_table_count(table) == count - deleted.count)
        #expect(key(deleted.first!) { search(table, $0, DT_DELETE) } == nil)
        for (text, object) in objects {
            let found = key(text) { search(table, $0, DT_SEARCH) }
            #expect(found == (deleted.contains(text) ? nil : UnsafeMutableRawPointer(object)))
        }
        // A deleted string can come back.
        let back = string(deleted.first!)
        #expect(search(table, UnsafeMutableRawPointer(back), DT_INSERT) == UnsafeMutableRawPointer(back))
        // Clearing frees what is left.
        freed = []
        _ = search(table, nil, DT_CLEAR)
        #expect(string_table_count(table) == 0)
        #expect(freed.count == count - deleted.count + 1)
    }

    @Test func readsTheSameGraphAsCgraphsOwnDictionary() throws {
        // Many distinct strings (names, shapes), repeated ones (ops, GPUs), an HTML label, a
        // value set twice and an empty one: read with the arena and the table, and with
        // cgraph's defaults (a second `{` turns the arena off), the nodes agree.
        var text = "digraph g {\n  gpus=2;\n"
        for i in 0..<3_000 {
            text += "  n\(i) [op=\(i == 0 ? "input" : "relu"), gpu=\(i % 2), out=\"[\(i + 1),8]\", label=<<b>n\(i)</b>>];\n"
            if i > 0 { text += "  n\(i - 1) -> n\(i);\n" }
        }
        text += "  n5 [out=\"[6,8]\", note=\"\"];\n}\n"
        let plain = text.replacingOccurrences(of: "digraph g {\n", with: "digraph g {\n  subgraph s { }\n")
        let withTable = try #require(DOTReader.decode(bytes: Array(text.utf8), file: "t.dot").decoded)
        let withDefaults = try #require(DOTReader.decode(bytes: Array(plain.utf8), file: "p.dot").decoded)
        #expect(withTable.graph.nodes.count == 3_000)
        #expect(withTable.graph.nodes.map(\.name) == withDefaults.graph.nodes.map(\.name))
        #expect(withTable.graph.nodes.map(\.out) == withDefaults.graph.nodes.map(\.out))
        #expect(withTable.graph.nodes.map(\.gpu) == withDefaults.graph.nodes.map(\.gpu))
        #expect(withTable.graph.edges == withDefaults.graph.edges)
    }
}
