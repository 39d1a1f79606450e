import ArgumentParser
import DeployBuilders
import Foundation

extension DeployDag {
    /// `deploydag presets`: one preset a line, name and description.
    struct Presets: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the built-in deployments.")

        func run() {
            let width = Preset.all.map(\.name.count).max() ?? 0
            for preset in Preset.all {
                print(preset.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + preset.summary)
            }
        }
    }
}
