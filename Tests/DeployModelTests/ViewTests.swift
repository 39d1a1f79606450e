import Testing

@testable import DeployModel

@Suite struct ViewTests {
    /// GPU 0 and 1 each compute, all-reduce, then add; a view of the add layer gets an input
    /// on each GPU for the all-reduce's result and keeps the outputs.
    @Test func viewAddsBoundaryNodes() {
        let s: Shape = [Dim(2), Dim(4)]
        var g = OperatorGraph(name: "g", gpus: 2)
        let i0 = g.add(OperatorNode(name: "i0", op: .input, gpu: 0, out: s, layer: 0))
        let i1 = g.add(OperatorNode(name: "i1", op: .input, gpu: 1, out: s, layer: 0))
        let ar = g.add(OperatorNode(name: "ar", op: .allReduce, group: [0, 1], out: s, layer: 0))
        let a0 = g.add(OperatorNode(name: "a0", op: .gelu, gpu: 0, out: s, layer: 1))
        let a1 = g.add(OperatorNode(name: "a1", op: .gelu, gpu: 1, out: s, layer: 1))
        let o0 = g.add(OperatorNode(name: "o0", op: .output, gpu: 0, out: s, layer: 2))
        g.connect(i0, ar); g.connect(i1, ar); g.connect(ar, a0); g.connect(ar, a1); g.connect(a0, o0)
        _ = a1

        let v = g.view(named: "v", description: "layer 1", selecting: { $0.layer == 1 })
        #expect(v.nodes.map(\.name).sorted() == ["a0", "a1", "in_ar_gpu0", "in_ar_gpu1", "out_a0_gpu0"])
        #expect(v.attributes["covers"] == "0-1")
        #expect(v.edges.count == 3)
        let input = v.nodes.first { $0.name == "in_ar_gpu1" }!
        #expect(input.op == .input && input.gpu == 1 && input.out == s)
    }
}
