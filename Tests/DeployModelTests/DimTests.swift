import Testing

@testable import DeployModel

@Suite struct DimTests {
    @Test(arguments: [
        ("1024", "1024"), ("B", "B"), ("B*2048", "B*2048"), ("2048*B", "B*2048"), ("seq_len/5", "seq_len/5"),
        ("B*seq_len*4", "B*seq_len*4"), (" 7 ", "7"), ("10/5", "2"),
    ])
    func parsesAndPrintsCanonically(text: String, printed: String) throws {
        #expect(try Dim.parse(text).description == printed)
    }

    @Test(arguments: ["", "*", "B**2", "3x", "1.5", "B/0", "B/x", "[4]"])
    func rejectsMalformed(text: String) {
        #expect(throws: DimError.self) { try Dim.parse(text) }
    }

    @Test func symbolicEqualityIsStructural() throws {
        #expect(try Dim.parse("B*2") == Dim.parse("2*B"))
        #expect(try Dim.parse("B") != Dim.parse("2*B"))
        #expect(try Dim(symbol: "B") * Dim(2048) == Dim.parse("B*2048"))
    }

    @Test func arithmetic() throws {
        #expect(try Dim(10000).divided(by: 5) == Dim(2000))
        #expect(try Dim.parse("seq_len").divided(by: 5).multiplied(by: 5) == Dim(symbol: "seq_len"))
        #expect(try Dim.parse("B*2") + Dim.parse("B*2") == Dim.parse("B*4"))
        #expect(throws: DimError.self) { try Dim(symbol: "B") + Dim(2) }
        #expect(try Dim.parse("B*2048").binding(["B": 8]) == Dim(16384))
    }

    @Test func overflowIsReportedNotTrapped() {
        #expect(throws: DimError.self) { try Dim(Int64.max) * Dim(2) }
        #expect(throws: DimError.self) { try Dim.parse("99999999999999999999") }
    }

    @Test func shapes() throws {
        #expect(try Shape.parse("[1024,10000,8192]") == [Dim(1024), Dim(10000), Dim(8192)])
        #expect(try Shape.parse("[ B*2048 , 4096 ]").description == "[B*2048,4096]")
        #expect(try Shape.parse("[]") == Shape([]))
        for bad in ["1024,8", "[1024,,8]", "[0,4]", "[-3,4]", "[1024,8", "(4,4)"] {
            #expect(throws: ShapeError.self, "\(bad)") { try Shape.parse(bad) }
        }
    }
}

@Suite struct DimOverflowTests {
    @Test func int64MinIsAnOverflowNotATrap() {
        #expect(throws: DimError.self) { try Dim.parse("-9223372036854775808") }
        #expect(throws: DimError.self) { try Dim.parse("B*-9223372036854775808") }
        #expect(throws: DimError.self) { try Dim(-4_611_686_018_427_387_904) * Dim(2) }
    }

    @Test func capacityRoundsUpNearTheTopOfInt64() throws {
        #expect(try MoERouting.capacity(tokens: Dim(1), topK: Int(Int64.max), experts: 2, capacityFactor: Dim(1)) == Dim(Int64.max / 2 + 1))
        #expect(try MoERouting.capacity(tokens: Dim(3), topK: 1, experts: 2, capacityFactor: Dim(1)) == Dim(2))
        #expect(MoERouting.parseFactor("9223372036854775807.5") == nil)
        #expect(MoERouting.parseFactor("1.25") == (try Dim(5).divided(by: 4)))
    }

    @Test func nestedPartsReportOverflow() {
        let outer = Placement.Part(1, of: 1 << 62)
        #expect(outer.refined(Placement.Part(1, of: 4)) == nil)
        #expect(Placement.Part(1, of: 2).refined(Placement.Part(1, of: 4)) == Placement.Part(5, of: 8))
        #expect(Placement(shards: [0: outer]).splitting(0, Placement.Part(0, of: 4)) == nil)
    }
}

@Suite struct GPUListFormatTests {
    @Test func shortListsStayPlain() {
        #expect(GPUList.format([0, 1, 2, 3]) == "0,1,2,3")
        #expect(GPUList.format(Array(0..<64)) == Array(0..<64).map(String.init).joined(separator: ","))
    }

    @Test func longListsUseRangesInTheirOwnOrder() {
        #expect(GPUList.format(Array(0..<4096)) == "0-4095")
        let mixed = Array(8..<12) + Array(0..<4) + [40] + Array(100..<160)
        #expect(GPUList.format(mixed) == "8-11,0-3,40,100-159")
        #expect(GPUList.parse(GPUList.format(mixed)) == mixed)
        let strided = (0..<4096).filter { $0 % 8 < 4 }
        #expect(GPUList.format(strided).hasPrefix("0-3,8-11,16-19"))
        #expect(GPUList.parse(GPUList.format(strided)) == strided)
    }

    @Test func idsAndCountsAreBounded() {
        #expect(GPUList.parse("0-65535")?.count == 65536)
        #expect(GPUList.parse("0-65536") == nil && GPUList.parse("65536") == nil && GPUList.parse("0-65535,0") == nil)
    }
}
