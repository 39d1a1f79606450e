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

        @Option(name: .long, help: "text or json.")
        var format: OutputFormat = .text

        /// The `presets --format json` document (docs/schemas/presets.schema.json).
        struct JSON: Encodable {
            struct Preset: Encodable {
                var name: String
                var summary: String
                var file: String
                var baseline: String?
            }
            var presets: [Preset]
            /// Where the spec files were read from: the source tree, or where they are installed.
            var location: String
        }

        func run() throws {
            let all = try DeploySpecs.Presets.all()
            let files = all.map { PresetLocation.displayPath($0.file) }
            switch format {
            case .json:
                let document = JSON(
                    presets: zip(all, files).map { JSON.Preset(name: $0.name, summary: $0.summary, file: $1, baseline: $0.baseline) },
                    location: PresetLocation.describe(all.first?.file))
                print(try JSONOutput.encode(document))
            case .text:
                let width = all.map(\.name.count).max() ?? 0
                for (spec, file) in zip(all, files) {
                    print(spec.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + spec.summary + (paths ? "  [\(file)]" : ""))
                }
                if paths { print("(\(PresetLocation.describe(all.first?.file)))") }
            }
        }
    }
}

/// Where the preset spec files are, for people: SwiftPM copies them into a resource bundle
/// beside the binary (`.build/debug/deploydag_DeploySpecs.resources`), which is no place to edit
/// them. When the package's source tree is still where it was built and holds the same file, that
/// path is shown instead; otherwise the installed copy, said to be one.
enum PresetLocation {
    /// `Sources/DeploySpecs/Presets` of the source tree this binary was built from, when it exists.
    static let sourceDirectory: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("Sources/DeploySpecs/Presets").path
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue ? directory : nil
    }()

    /// The source tree's copy of `file` when it has one with the same bytes; else `file`.
    static func sourcePath(_ file: String) -> String? {
        guard let sourceDirectory else { return nil }
        let candidate = sourceDirectory + "/" + (file as NSString).lastPathComponent
        guard let a = FileManager.default.contents(atPath: candidate), let b = FileManager.default.contents(atPath: file), a == b
        else { return nil }
        return candidate
    }

    static func displayPath(_ file: String) -> String {
        guard let source = sourcePath(file) else { return file }
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return source.hasPrefix(cwd) ? String(source.dropFirst(cwd.count)) : source
    }

    static func describe(_ file: String?) -> String {
        guard let file else { return "no presets found" }
        if sourcePath(file) != nil {
            return "presets from the source tree; the binary reads its copy in \((file as NSString).deletingLastPathComponent)"
        }
        return "presets installed in \((file as NSString).deletingLastPathComponent)"
    }
}
