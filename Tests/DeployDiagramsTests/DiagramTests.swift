import DeployBuilders
import DeployModel
import DeployTestSupport
import GraphvizBridge
import Testing

@testable import DeployDiagrams

@Suite struct DiagramTests {
    let graph: OperatorGraph

    init() throws {
        let deployment = presetDeployment("helix-dense-2l", layers: 1, batch: Dim(2), seq: Dim(8))
        graph = try DeploymentBuilder().build(deployment)
    }

    @Test func clustersPerGPUWithTheirHeadGroup() throws {
        let dot = try Diagram(title: "t", fold: false).dot(for: graph)
        for gpu in 0..<16 {
            #expect(dot.contains("subgraph \"cluster_gpu\(gpu)\""))
            #expect(dot.contains("GPU \(gpu) · head group \(gpu / 4)"))
        }
        // Communication nodes sit outside the GPU clusters, drawn as hexagons with red edges.
        #expect(dot.contains("\"L0.attn_allreduce\" [shape=hexagon"))
        #expect(dot.contains("color=\"#c0392b\""))
        // GPU clusters are pinned left to right, by an anchor in each.
        #expect(dot.contains("{ rank=same; \"\(Diagram.anchor(0))\" -> \"\(Diagram.anchor(1))\""))
    }

    @Test func legendListsTheClassesPresent() throws {
        let dot = try Diagram(title: "t").dot(for: graph)
        #expect(dot.contains("cluster_legend"))
        #expect(dot.contains("legend_matmul") && dot.contains("legend_communication"))
        #expect(!dot.contains("legend_layout"))  // no concat or split in this graph
        #expect(try !Diagram(title: "t", showLegend: false).dot(for: graph).contains("cluster_legend"))
    }

    @Test func tooltipsCarryEveryAttribute() {
        let node = graph.nodes.first { $0.op == .matmul }!
        let tooltip = Diagram.tooltip(node)
        #expect(tooltip.contains("eq=bsh,hnd->bsnd") && tooltip.contains("m=16") && tooltip.contains("gpu=0"))
    }

    @Test func rendersAndStampsTheSVG() throws {
        let dot = try Diagram(title: "small", fold: false).dot(for: graph)
        let svg = DiagramFingerprint.stamp(svg: try SVGRenderer.render(dot: dot), diagram: dot)
        let text = String(decoding: svg, as: UTF8.self)
        #expect(text.contains("cluster_gpu15") && text.contains("legend"))
        #expect(DiagramFingerprint.read(svg: text) == DiagramFingerprint.hash(dot))
        #expect(DiagramFingerprint.hash(dot) != DiagramFingerprint.hash(dot + " "))
        #expect(DiagramFingerprint.hash("") == "cbf29ce484222325")
    }
}
