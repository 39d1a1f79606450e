import ArgumentParser
import DeployDiagrams
import Foundation
import GraphvizBridge

extension DeployDag {
    /// `deploydag render`: an SVG diagram of a DAG file.
    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a DAG file as SVG: a cluster per GPU, colours by operator class, communication between.")

        @Argument(help: "The DOT file.")
        var file: String

        @Option(name: .shortAndLong, help: "The SVG file to write (atomically).")
        var output: String

        @Option(name: .long, help: "The diagram's title (default: the graph's name and its view).")
        var title: String?

        @Option(name: .long, help: "Also write the styled DOT that graphviz lays out, for tweaking by hand.")
        var diagramDot: String?

        @Flag(name: .long, help: "Lay out and write the SVG even when the existing one was drawn from the same diagram.")
        var force = false

        func run() throws {
            let loaded: LoadedDAG
            do {
                loaded = try LoadedDAG.load(file)
            } catch {
                printError("deploydag: \(error)")
                throw ExitCode(2)
            }
            let graph = try loaded.requireGraph()
            let heading = title ?? ([graph.name, graph.attributes["view"].map { "(\($0))" }].compactMap { $0 }.joined(separator: " "))
            let dot = try Diagram(title: heading).dot(for: graph)
            if let diagramDot { try OutputFile.write(dot, to: diagramDot) }
            // Graphviz lays the same diagram out differently from run to run; an SVG already
            // drawn from this exact diagram is kept rather than replaced by an equivalent one.
            if !force, let existing = try? String(contentsOfFile: output, encoding: .utf8),
                DiagramFingerprint.read(svg: existing) == DiagramFingerprint.hash(dot)
            {
                return
            }
            let svg: [UInt8]
            do {
                svg = try SVGRenderer.render(dot: dot)
            } catch {
                printError("deploydag: \(file): \(error)")
                throw ExitCode.failure
            }
            try OutputFile.write(DiagramFingerprint.stamp(svg: svg, diagram: dot), to: output)
        }
    }
}
