import DeployModel
import Testing

@Suite struct NodeAttributesTests {
    static let samples: [[String: String]] = [
        [:],
        ["eq": "bsh,hd->bsd", "m": "10240000", "k": "8192", "n": "1024", "logical": "L0.q", "place": "S2:0/8"],
        ["note": "free text", "eq": "x", "": "empty name", "empty": ""],
        ["\u{01}starts with a code": "a", "\u{1F}escape": "b", "\u{7}bell": "c", "weight_place": "S1:0/8"],
        ["ünïcödé": "välue", "micro_batch": "3", "range": "0:128"],
    ]

    @Test(arguments: samples)
    func everyNameAndValueComesBack(_ dictionary: [String: String]) {
        let attributes = NodeAttributes(dictionary)
        #expect(attributes.dictionary == dictionary)
        #expect(attributes.count == dictionary.count)
        #expect(attributes.keys == dictionary.keys.sorted())
        for (key, value) in dictionary { #expect(attributes[key] == value) }
        #expect(attributes["absent"] == nil)
        #expect(attributes["e"] == nil && attributes["eqq"] == nil)
    }

    @Test func settingAndRemovingKeepsOneCanonicalForm() {
        var a: NodeAttributes = ["place": "R", "eq": "x"]
        a["logical"] = "L1.q"
        a["eq"] = nil
        a["zz top"] = "1"
        #expect(a == NodeAttributes(["place": "R", "logical": "L1.q", "zz top": "1"]))
        #expect(a.hashValue == NodeAttributes(["zz top": "1", "logical": "L1.q", "place": "R"]).hashValue)
        #expect(a.pairs.map(\.key) == ["logical", "place", "zz top"])
        #expect(NodeAttributes().isEmpty && !a.isEmpty)
    }

    @Test func commonNamesTakeOneByte() {
        let spelled = NodeAttributes(["custom_name_one": "1"])
        let coded = NodeAttributes(["weight_logical": "1"])
        #expect("\(coded)" == "weight_logical=1")
        #expect("\(spelled)" == "custom_name_one=1")
        #expect(NodeAttributes.commonNames.count < 0x1F)
    }
}
