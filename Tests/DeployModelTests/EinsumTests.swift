import Testing

@testable import DeployModel

@Suite struct EinsumTests {
    /// The seeds' Get_Time arguments for Helix (seed 000) come out of the equations.
    @Test func helixGetTimeArgumentsMatchTheSeeds() throws {
        let x: Shape = [Dim(1024), Dim(10000), Dim(8192)]
        let projection = try Einsum("bsh,hnd->bsnd")
        let q = try projection.outputShape(x, [Dim(8192), Dim(4), Dim(128)])
        #expect(q == [Dim(1024), Dim(10000), Dim(4), Dim(128)])
        #expect(try projection.getTimeArguments(x, [Dim(8192), Dim(4), Dim(128)]).description == "Get_Time(10240000, 8192, 512)")

        let scores = try Einsum("bqnd,bknd->bnqk")
        #expect(try scores.outputShape(q, q) == [Dim(1024), Dim(4), Dim(10000), Dim(10000)])
        #expect(try scores.getTimeArguments(q, q).description == "Get_Time(40960000, 128, 10000)")

        let context = try Einsum("bnqk,bknd->bqnd")
        let p: Shape = [Dim(1024), Dim(4), Dim(10000), Dim(10000)]
        #expect(try context.getTimeArguments(p, q).description == "Get_Time(40960000, 10000, 128)")
    }

    @Test func symbolicArguments() throws {
        let x: Shape = [Dim(symbol: "B"), Dim(2048), Dim(4096)]
        let args = try Einsum("bsh,hf->bsf").getTimeArguments(x, [Dim(4096), Dim(16384)])
        #expect(args.description == "Get_Time(B*2048, 4096, 16384)")
    }

    @Test func mismatchedContractionIsAnError() throws {
        let e = try Einsum("bsh,hd->bsd")
        #expect(throws: EinsumError.self) { try e.outputShape([Dim(2), Dim(3), Dim(512)], [Dim(8192), Dim(512)]) }
        #expect(throws: EinsumError.self) { try e.outputShape([Dim(2), Dim(8192)], [Dim(8192), Dim(512)]) }
    }

    @Test(arguments: ["bsh,hd", "bsh->bsd", "a,b,c->abc", "bs1,hd->bsd", "bsh,hd->bsx", "bsh,hd->bs", "aa,ab->b"])
    func rejectsMalformedEquations(text: String) {
        #expect(throws: EinsumError.self) { try Einsum(text) }
    }
}
