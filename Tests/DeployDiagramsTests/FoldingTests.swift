import DOTFormat
import DeployAnalysis
import DeployBuilders
import DeployModel
import DeployTestSupport
import Foundation
import GraphvizBridge
import Testing

@testable import DeployDiagrams

/// Issue 17: symmetry folding, the figures every diagram and `analyze` share, findings drawn.
@Suite struct FoldingTests {
    static let options = AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8))

    /// A preset at full size, its symbols bound as the gallery's Chakra traces bind them.
    static func build(_ name: String) throws -> OperatorGraph {
        let graph = try DeploymentBuilder().build(presetDeployment(name))
        let values: [String: Int64] = ["B": 8, "seq_len": 4000]
        return try graph.binding(values.filter { graph.symbols.contains($0.key) })
    }

    static func layerZero(_ graph: OperatorGraph) -> OperatorGraph {
        let first = graph.nodes.compactMap(\.layer).min() ?? 0
        return graph.view(named: "\(graph.name).layer\(first)", description: "layer \(first)") { $0.layer == first }
    }

    static func width(ofSVG svg: [UInt8]) -> Double? {
        let text = String(decoding: svg.prefix(4000), as: UTF8.self)
        guard let range = text.range(of: "<svg width=\"") else { return nil }
        return Double(text[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = []
        DOTQuoting.appendLabel(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Every preset's folded layer-0 view is at most 3,000 pt wide, and its figures, the
    /// overview's and the analysis of the whole DAG agree.
    @Test(arguments: presetNames)
    func foldedLayerViewFitsAndItsFiguresAgree(_ name: String) throws {
        let graph = try Self.build(name)
        let full = try Analysis(graph: graph, options: Self.options)
        let view = Self.layerZero(graph)
        let viewAnalysis = try Analysis(graph: view, options: Self.options)
        var diagram = Diagram(title: name, criticalPath: viewAnalysis.criticalPath)
        diagram.figures = Diagram.Figures(viewAnalysis, pricedBy: "roofline")
        let dot = try diagram.dot(for: view)

        // The view's totals are the whole DAG's layer-0 nodes' (boundary stubs cost nothing).
        let layer = view.nodes.compactMap(\.layer).min()!
        let layerFigures = full.figures(of: graph.nodes.indices.filter { graph.nodes[$0].layer == layer })
        #expect(viewAnalysis.totalFigures.lines == layerFigures.lines)
        #expect(dot.contains("all GPUs: " + layerFigures.lines.joined(separator: " · ")))
        // Each drawn node's time is its time in the whole DAG's analysis.
        let index = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
        for (v, node) in view.nodes.enumerated() where node.op == .matmul {
            let seconds = full.costs[index[node.name]!].seconds
            #expect(abs(viewAnalysis.costs[v].seconds - seconds) <= 1e-12 * max(seconds, 1))
        }

        let svg = try SVGRenderer.render(dot: dot)
        let width = try #require(Self.width(ofSVG: svg))
        #expect(width <= 3000, "\(name): folded layer view is \(width) pt wide")

        // The overview draws BlockBreakdown's blocks with their figures, which sum to the totals.
        let overview = try Overview().dot(for: graph, title: name, analysis: full)
        let breakdown = BlockBreakdown(full)
        for block in breakdown.blocks {
            #expect(overview.contains("label=\(Self.quoted(Overview.label(block, figures: true)))"), "\(block.title)")
        }
        let sum = breakdown.blocks.reduce(into: WorkFigures()) { total, block in
            total.flops += block.figures.flops
            total.sentBytes += block.figures.sentBytes
            total.gpuSeconds += block.figures.gpuSeconds
            total.nodes += block.figures.nodes
        }
        #expect(sum.nodes == graph.nodes.count)
        #expect(abs(sum.flops - full.totalFLOPs) <= 1e-9 * max(full.totalFLOPs, 1))
        let linked = full.bytesByLink.values.reduce(0, +)
        #expect(abs(sum.sentBytes - linked) <= 1e-9 * max(linked, 1))
        let busy = full.gpuUsage.reduce(0) { $0 + $1.computeSeconds + $1.communicationSeconds }
        #expect(abs(sum.gpuSeconds - busy) <= 1e-9 * max(busy, 1))
        // Arrows follow the data once: no pair of blocks joined both ways.
        let pairs = Set(breakdown.edges.map { [$0.from, $0.to] })
        #expect(!pairs.contains { pairs.contains([$0[1], $0[0]]) })
    }

    @Test func helixDrawsOneGPUForSixteenAndUnfoldsOnRequest() throws {
        let graph = try DeploymentBuilder().build(presetDeployment("helix-dense-2l", layers: 1, batch: Dim(2), seq: Dim(8)))
        let view = Self.layerZero(graph)
        let folded = try Diagram(title: "t").dot(for: view)
        #expect(folded.contains("GPU 0 (×16: GPUs 0-15)"))
        #expect(!folded.contains("cluster_gpu1\""))
        // The four 4-GPU all-reduces of the scores are drawn once, the others named.
        #expect(folded.contains("this and 3 like it: GPUs 0-3 · 4-7 · 8-11 · 12-15"))
        let unfolded = try Diagram(title: "t", fold: false).dot(for: view)
        for gpu in 0..<16 { #expect(unfolded.contains("subgraph \"cluster_gpu\(gpu)\"")) }
        #expect(!unfolded.contains("×16"))
    }

    @Test func clustersAreAnchoredInAscendingGPUOrder() throws {
        let graph = try DeploymentBuilder().build(presetDeployment("helix-dense-2l", layers: 1, batch: Dim(2), seq: Dim(8)))
        let dot = try Diagram(title: "t", fold: false).dot(for: Self.layerZero(graph))
        let chain = (0..<16).map { "\"\(Diagram.anchor($0))\"" }.joined(separator: " -> ")
        #expect(dot.contains("{ rank=same; \(chain) [style=invis]; }"))
        // And graphviz keeps them so: the clusters' x positions in the layout ascend.
        let json = String(decoding: try SVGRenderer.render(dot: dot, format: "json"), as: UTF8.self)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        var left: [Int: Double] = [:]
        for case let item as [String: Any] in object["objects"] as? [Any] ?? [] {
            guard let name = item["name"] as? String, name.hasPrefix("cluster_gpu"), let gpu = Int(name.dropFirst(11)),
                let bb = (item["bb"] as? String)?.split(separator: ",").first.flatMap({ Double($0) })
            else { continue }
            left[gpu] = bb
        }
        #expect(left.count == 16)
        #expect((0..<15).allSatisfy { left[$0]! < left[$0 + 1]! })
    }

    @Test func siblingsOfOneGPUAreDrawnOnceButDifferentWeightsAreNot() throws {
        let graph = try Self.build("ma-separation-moe-4l")
        let view = Self.layerZero(graph)
        let folding = Folding(view)
        let names = view.nodes.indices.filter(folding.isShown).map { view.nodes[$0].name }
        // Q, K and V projections share their input and shape but are different weights.
        #expect(names.contains("L0.q.gpu0") && names.contains("L0.k.gpu0") && names.contains("L0.v.gpu0"))
        // The eight sends of GPU 0's tokens to the expert GPUs: one to a drawn GPU, one for the rest.
        let sends = names.filter { $0.hasPrefix("L0.dispatch.gpu0_to") }
        #expect(sends.count <= 2, "\(sends)")
        #expect(Set(folding.classOf.values.map { $0.first! }) == [0, 8])
    }

    @Test func aMovedNodeStaysApartWithItsFaultDrawn() throws {
        var graph = try DeploymentBuilder().build(presetDeployment("tp8-pp2-dense-4l", layers: 2, batch: Dim(2), seq: Dim(8)))
        let v = graph.nodes.firstIndex { $0.name == "L0.softmax.gpu0" }!
        graph.updateNode(v) { $0.gpu = 5 }
        let view = Self.layerZero(graph)
        let finding = Finding(RuleID("cross-gpu"), node: "L0.softmax.gpu0", "edge moves a tensor from GPU 0 to GPU 5")
        let dot = try Diagram(title: "t", findings: [finding]).dot(for: view)
        // GPUs 0 and 5 are drawn on their own, the six others as one.
        #expect(dot.contains("subgraph \"cluster_gpu0\"") && dot.contains("subgraph \"cluster_gpu5\""))
        #expect(dot.contains("GPU 1 (×6: GPUs 1-4,6-7)"))
        // The moved node: fault style, the rule in its label, its stale label said so.
        let line = try #require(dot.split(separator: "\n").first { $0.contains("\"L0.softmax.gpu0\" [") })
        #expect(line.contains("color=\"\(Diagram.faultColour)\"") && line.contains("cross-gpu"))
        #expect(line.contains("softmax · GPU 5") && line.contains("the label says: "))
        // The edges into and out of it cross GPUs with no communication: dashed, in the fault colour.
        #expect(dot.contains("\"L0.qk.gpu0\" -> \"L0.softmax.gpu0\" [color=\"\(Diagram.faultColour)\""))
        #expect(dot.contains("cluster_findings") && dot.contains("error[cross-gpu]"))
    }

    @Test func namesAndUserStylesAreDrawn() throws {
        var graph = try DeploymentBuilder().build(presetDeployment("llama3-8b-tp1", layers: 1, batch: Dim(1), seq: Dim(8)))
        let v = graph.nodes.firstIndex { $0.op == .softmax || $0.op == .attention }!
        graph.updateNode(v) {
            $0.attributes["shape"] = "box"
            $0.attributes["color"] = "blue"
        }
        let dot = try Diagram(title: "t").dot(for: graph)
        let line = try #require(dot.split(separator: "\n").first { $0.contains("\"\(graph.nodes[v].name)\" [") })
        #expect(line.contains("color=\"blue\"") && line.contains("shape=\"box\""))
        #expect(!line.contains("shape=box,") && !line.contains("shape=ellipse"))
        // The node's name, small, under its operator.
        #expect(line.contains("<font point-size=\"8\" color=\"#6c757d\">\(graph.nodes[v].name)</font>"))
    }
}
