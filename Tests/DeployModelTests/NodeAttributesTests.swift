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

    @Test(arguments: samples)
    func theRawCursorReadsWhatPairsDo(_ dictionary: [String: String]) {
        let attributes = NodeAttributes(dictionary)
        var read: [(key: String, value: String)] = []
        attributes.withRawAttributes { cursor in
            while let (code, name, value) = cursor.next() {
                #expect(code == 0 ? true : name.isEmpty)
                let key = code > 0 ? NodeAttributes.commonNames[code - 1] : String(decoding: name, as: UTF8.self)
                read.append((key, String(decoding: value, as: UTF8.self)))
            }
            #expect(cursor.next() == nil)
        }
        #expect(read.map(\.key) == attributes.pairs.map(\.key))
        #expect(read.map(\.value) == attributes.pairs.map(\.value))
        #expect(read.count == dictionary.count)
        // Against the dictionary itself, not only `pairs` (which reads through the cursor too).
        #expect(read.map(\.key) == dictionary.keys.sorted())
        #expect(read.allSatisfy { dictionary[$0.key] == $0.value })
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
        // Codes sort as names do: packed attributes are in name order either way.
        #expect(NodeAttributes.commonNames == NodeAttributes.commonNames.sorted())
        for name in NodeAttributes.commonNames {
            #expect(NodeAttributes(pairs: [(name, "v")]).pairs.map(\.key) == [name])
            #expect(NodeAttributes(pairs: [(name, "v")]) == NodeAttributes([name: "v"]))
        }
    }

    @Test(arguments: samples)
    func pairsInAnyOrderPackAsTheDictionaryDoes(_ dictionary: [String: String]) {
        let sorted = dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let shuffled = sorted.shuffled(using: &generator)
            #expect(NodeAttributes(pairs: shuffled) == NodeAttributes(dictionary))
            #expect(NodeAttributes(pairs: shuffled.reversed()) == NodeAttributes(sortedPairs: sorted))
        }
    }

    @Test func ofRepeatedNamesTheLastCounts() {
        let a = NodeAttributes(pairs: [("place", "R"), ("zz", "1"), ("eq", "x"), ("place", "S0:1/2"), ("zz", "2"), ("a b", "3")])
        #expect(a.pairs.map(\.key) == ["a b", "eq", "place", "zz"])
        #expect(a["place"] == "S0:1/2" && a["zz"] == "2")
        // Names that look common but are not: same length and ends as a common one.
        let b = NodeAttributes(pairs: [("eg", "1"), ("mm", "2"), ("plaee", "3")])
        #expect(b.dictionary == ["eg": "1", "mm": "2", "plaee": "3"])
    }
}
