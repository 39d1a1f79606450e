import DOTFormat
import DeployAnalysis
import DeployModel

/// The overview of a DAG of any size: one node per block of `BlockBreakdown` (a block's
/// compute between its communications in a run of layers, each communication kind by group
/// size and link), and the data flow between them, each labelled with the figures `analyze
/// --blocks` prints for it.
public struct Overview: Sendable {
    /// At most this many groups of layers are drawn; deeper models bucket consecutive layers.
    public var maxLayerGroups: Int

    public init(maxLayerGroups: Int = 12) { self.maxLayerGroups = maxLayerGroups }

    /// The label of a block: its title, its GPUs and operator count, its figures.
    public static func label(_ block: BlockBreakdown.Block, figures: Bool) -> String {
        let count = block.figures.nodes
        var lines = [block.title, "GPUs \(GPUList.compact(Array(block.figures.gpus))) · \(count) operator\(count == 1 ? "" : "s")"]
        if figures {
            lines += block.figures.lines
            lines += block.collectives.map(\.text)
        }
        return lines.joined(separator: "\n")
    }

    /// Styled DOT of the overview. Without `analysis` (a graph that cannot be priced), or with
    /// dimensions left symbolic (`symbols`), the blocks carry no figures and the title says why.
    public func dot(for graph: OperatorGraph, title: String, analysis: Analysis?, showCriticalPath: Bool = true) throws(DOTWriteError)
        -> String
    {
        let breakdown =
            analysis.map { BlockBreakdown($0, maxLayerGroups: maxLayerGroups) }
            ?? BlockBreakdown(graph: graph, costs: nil, maxLayerGroups: maxLayerGroups)
        let symbols = analysis?.unboundSymbols ?? []
        let figures = analysis != nil && symbols.isEmpty
        var heading = title
        if !symbols.isEmpty {
            heading +=
                "\n\(symbols.joined(separator: ", ")) \(symbols.count == 1 ? "is" : "are") symbolic: no figures until bound (--bind \(symbols[0])=N)"
        }
        var out = "digraph overview {\n"
        out += "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=20, labelloc=t, nodesep=0.4, ranksep=0.5, label=\(quote(heading))];\n"
        out += "  node [fontname=\"Helvetica\", fontsize=11, style=\"filled,rounded\"];\n  edge [color=\"#495057\"];\n"
        for (i, block) in breakdown.blocks.enumerated() {
            let text = Self.label(block, figures: figures)
            let shape = block.isCommunication ? "hexagon" : (block.isBoundary ? "ellipse" : "box")
            let fill =
                block.isCommunication
                ? DiagramStyle.fill(.communication) : (block.isBoundary ? DiagramStyle.fill(.boundary) : DiagramStyle.fill(.matmul))
            var style = "shape=\(shape), fillcolor=\"\(fill)\""
            if showCriticalPath && block.onCriticalPath { style += ", color=\"\(Diagram.criticalColour)\", penwidth=3" }
            out += "  n\(i) [\(style), label=\(quote(text)), tooltip=\(quote(text))];\n"
        }
        // The critical path's edges: between the blocks of consecutive nodes on it, in its order.
        var pathEdges = Set<[Int]>()
        if let path = analysis?.criticalPath {
            for (u, v) in zip(path, path.dropFirst()) where breakdown.blockOf[u] != breakdown.blockOf[v] {
                pathEdges.insert([breakdown.blockOf[u], breakdown.blockOf[v]])
            }
        }
        for e in breakdown.edges {
            let both = showCriticalPath && pathEdges.contains([e.from, e.to])
            out += "  n\(e.from) -> n\(e.to)\(both ? " [color=\"\(Diagram.criticalColour)\", penwidth=2.5]" : "");\n"
        }
        out += "}\n"
        return out
    }

    private func quote(_ text: String) -> String {
        var bytes: [UInt8] = []
        DOTQuoting.appendLabel(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
