// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "deploydag",
    products: [
        .executable(name: "deploydag", targets: ["deploydag"]),
        .executable(name: "deploydag-fuzz", targets: ["deploydag-fuzz"]),
        .library(name: "DeployCommands", targets: ["DeployCommands"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // libcgraph and libgvc from the system's graphviz (Debian: libgraphviz-dev).
        // Imported by GraphvizBridge alone.
        .systemLibrary(
            name: "CGraphviz",
            pkgConfig: "libgvc",
            providers: [.apt(["libgraphviz-dev"])]
        ),
        // The allocator and the string table GraphvizBridge gives libcgraph for a parsed graph
        // (plain C; the string table reads cdt's header for the dictionary it stands in for).
        .target(name: "GraphArena"),
        // Pure Swift: tensor shapes, operators, the operator DAG, graph algorithms, findings.
        .target(name: "DeployModel"),
        // Model + parallel strategy -> operator DAG.
        .target(name: "DeployBuilders", dependencies: ["DeployModel"]),
        // Deployment spec files (YAML) and the presets, which are such files.
        .target(
            name: "DeploySpecs",
            dependencies: ["DeployBuilders", "DeployModel", .product(name: "Yams", package: "Yams")],
            resources: [.copy("Presets")]
        ),
        // DOT text: writing, the parsed-document form, source positions, schema decoding.
        .target(name: "DOTFormat", dependencies: ["DeployModel"]),
        // The one target that talks to libcgraph / libgvc.
        .target(name: "GraphvizBridge", dependencies: ["CGraphviz", "GraphArena", "DOTFormat"]),
        // Rules over a decoded DAG, producing findings.
        .target(name: "DeployChecker", dependencies: ["DeployModel", "DOTFormat", "DeployAnalysis"]),
        // Cost models, critical path, resource-aware schedule, memory, timelines.
        .target(name: "DeployAnalysis", dependencies: ["DeployModel"]),
        // Executes a DAG on small tensors and compares it with the unpartitioned model.
        .target(name: "DeployVerify", dependencies: ["DeployModel"]),
        // Styled DOT for people: clusters per GPU, colours by operator class, legend.
        .target(name: "DeployDiagrams", dependencies: ["DeployModel", "DOTFormat", "DeployAnalysis"]),
        // MLCommons Chakra execution traces (for ASTRA-sim): export and import. The message code is
        // generated from Protos/chakra_et_def.proto by scripts/gen-chakra.sh and committed.
        .target(
            name: "ChakraTrace",
            dependencies: ["DeployModel", "DeployAnalysis", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The command-line interface as a library, testable in-process.
        .target(
            name: "DeployCommands",
            dependencies: [
                "DeployModel", "DeployBuilders", "DeploySpecs", "DOTFormat", "GraphvizBridge",
                "DeployChecker", "DeployDiagrams", "DeployAnalysis", "DeployVerify", "ChakraTrace",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "deploydag", dependencies: ["DeployCommands"]),
        // The fuzz target over reading, checking, analysing and verifying (docs/fuzzing.md); built plainly, it replays inputs.
        .executableTarget(
            name: "deploydag-fuzz",
            dependencies: ["DOTFormat", "DeployAnalysis", "DeployChecker", "DeployModel", "DeployVerify", "GraphvizBridge"]
        ),

        // Attribute-level mutations of generated DAGs and a runner of every command over a mutant
        // (docs/fuzzing.md): the tests' mutation suite and the campaign share it.
        .target(name: "DOTMutation"),
        .executableTarget(name: "deploydag-mutate", dependencies: ["DOTMutation"]),

        // Helpers shared by the test targets (not part of any product).
        .target(name: "DeployTestSupport", dependencies: ["DeployBuilders", "DeploySpecs", "DeployModel"]),
        .testTarget(name: "DeployModelTests", dependencies: ["DeployModel"]),
        .testTarget(name: "DeployBuildersTests", dependencies: ["DeployBuilders", "DeploySpecs", "DeployModel", "DeployTestSupport"]),
        .testTarget(name: "DeploySpecsTests", dependencies: ["DeploySpecs", "DeployBuilders", "DeployModel"]),
        .testTarget(
            name: "DeployAnalysisTests",
            dependencies: ["DeployAnalysis", "DeployBuilders", "DeploySpecs", "DeployModel", "DOTFormat", "GraphvizBridge"]
        ),
        .testTarget(name: "DeployVerifyTests", dependencies: ["DeployVerify", "DeployBuilders", "DeploySpecs", "DeployModel"]),
        .testTarget(name: "DOTFormatTests", dependencies: ["DOTFormat", "DeployModel"]),
        .testTarget(
            name: "GraphvizBridgeTests",
            dependencies: [
                "GraphvizBridge", "GraphArena", "DOTFormat", "DeployBuilders", "DeploySpecs", "DeployModel", "DeployTestSupport",
            ]
        ),
        .testTarget(
            name: "DeployCheckerTests",
            dependencies: [
                "DeployChecker", "GraphvizBridge", "DOTFormat", "DeployBuilders", "DeploySpecs", "DeployModel", "DeployTestSupport",
            ]
        ),
        .testTarget(
            name: "DeployDiagramsTests",
            dependencies: [
                "DeployDiagrams", "DeployBuilders", "DeploySpecs", "DeployModel", "GraphvizBridge", "DeployTestSupport", "DeployAnalysis",
            ]
        ),
        .testTarget(
            name: "DeployCommandsTests",
            dependencies: [
                "DeployCommands", "DOTMutation", "deploydag", "deploydag-fuzz", "DeployChecker", "DeploySpecs", "DOTFormat", "DeployModel",
                "ChakraTrace", "DeployAnalysis", "DeployTestSupport",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
