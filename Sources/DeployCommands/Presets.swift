import ArgumentParser
import DeploySpecs
import Foundation

extension DeployDag {
    /// `deploydag presets`: one preset a line, name and description.
    struct Presets: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the built-in deployments (spec files shipped with deploydag).")

        @Flag(name: .long, help: "Also print the path of each preset's spec file.")
        var paths = false

        func run() throws {
            let all = try DeploySpecs.Presets.all()
            let width = all.map(\.name.count).max() ?? 0
            for spec in all {
                print(
                    spec.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + spec.summary + (paths ? "  [\(spec.file)]" : ""))
            }
        }
    }
}
