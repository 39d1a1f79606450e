import DeployBuilders
import DeployChecker
import DeployModel
import DeployTestSupport
import Testing

@Suite struct CheckerAcceptanceTests {
    @Test(arguments: presetNames)
    func generatedDAGsCheckClean(name: String) throws {
        let report = check(try presetDOT(name))
        #expect(report.findings.isEmpty, "\(report.findings.prefix(5).map(\.formatted))")
    }

    @Test func addedBackEdgeIsACycle() throws {
        let text = try presetDOT("helix-dense-2l").appendingStatement("\"L1.residual2.gpu0\" -> \"L0.ln1.gpu0\";")
        let report = check(text)
        let cycle = try #require(report.findings.first { $0.rule == .cycle })
        #expect(cycle.line == text.lineNumber(containing: "\"L1.residual2.gpu0\" -> \"L0.ln1.gpu0\""))
        #expect(cycle.message.contains("L1.residual2.gpu0 -> L0.ln1.gpu0"))
    }

    @Test func changedOutIsAShapeError() throws {
        let text = try presetDOT("helix-dense-2l").editingNode("L0.q.gpu0", "out=\"[1024,10000,4,128]\"", "out=\"[1024,10000,4,64]\"")
        let report = check(text)
        #expect(report.findings.contains { $0.rule == .shape && $0.node == "L0.q.gpu0" })
        #expect(report.findings.allSatisfy { $0.rule == .shape })
    }

    @Test func gpuSixteenIsOutOfRange() throws {
        let text = try presetDOT("helix-dense-2l").editingNode("L0.gelu.gpu3", "gpu=\"3\"", "gpu=\"16\"")
        let report = check(text)
        let finding = try #require(report.findings.first { $0.rule == .gpuRange })
        #expect(finding.node == "L0.gelu.gpu3")
        #expect(finding.line == text.lineNumber(containing: "\"L0.gelu.gpu3\" ["))
    }

    @Test func softmaxMovedToAnotherGPUCrossesGPUs() throws {
        let text = try presetDOT("helix-dense-2l").editingNode("L0.softmax.gpu0", "gpu=\"0\"", "gpu=\"5\"")
        let report = check(text)
        let crossings = report.findings.filter { $0.rule == .crossGPU }
        // The head group's all-reduce (GPUs 0-3) feeds GPU 5, and GPU 5 feeds GPU 0's attention x V.
        #expect(crossings.contains { $0.node == "L0.softmax.gpu0" && $0.message.contains("GPUs 0-3") })
        #expect(crossings.contains { $0.node == "L0.av.gpu0" && $0.message.contains("from GPU 5 to GPU 0") })
    }

    @Test func seventeenGPUsLeaveOneUncovered() throws {
        let text = try presetDOT("helix-dense-2l").replacingFirst("gpus=\"16\"", with: "gpus=\"17\"")
        let report = check(text)
        // Uncovered, and more GPUs than the header's Helix layout (4 x 4) has.
        #expect(Set(report.findings.map(\.rule)) == [.gpuCoverage, .header])
        #expect(report.findings.contains { $0.rule == .gpuCoverage && $0.message.contains("GPU 16 runs no compute node") })
        #expect(report.findings.contains { $0.rule == .header && $0.message.contains("needs 16 GPUs") })
    }

    @Test func gpusOptionOverridesTheGraph() throws {
        let report = check(try presetDOT("helix-dense-2l"), gpus: 18)
        #expect(report.findings.filter { $0.rule == .gpuCoverage }.count == 2)
    }

    @Test func changedKIsAMatmulMKNError() throws {
        let text = try presetDOT("helix-dense-2l").editingNode("L1.fc1.gpu7", "k=\"8192\"", "k=\"4096\"")
        let report = check(text)
        #expect(report.findings.count == 1)
        let finding = try #require(report.findings.first)
        #expect(finding.rule == .matmulMKN && finding.node == "L1.fc1.gpu7")
        #expect(finding.message.contains("k=4096 should be 8192"))
    }

    @Test func fileCutInHalfIsASyntaxErrorWithItsLine() throws {
        let full = try presetDOT("helix-dense-2l")
        let half = String(full.prefix(full.count / 2))
        let report = check(half, file: "half.dot")
        let finding = try #require(report.findings.first { $0.rule == .syntax })
        #expect(finding.severity == .error)
        let line = try #require(finding.line)
        #expect(line >= half.components(separatedByNewline: ()).count - 1)
        #expect(finding.formatted.hasPrefix("half.dot:\(line): error[syntax]:"))
    }

    @Test func removedEdgeLeavesANodeDangling() throws {
        let text = try presetDOT("helix-dense-2l")
            .replacingFirst("  \"L1.residual2.gpu4\" -> \"output.gpu4\";\n", with: "")
        let report = check(text)
        #expect(report.findings.contains { $0.rule == .dangling && $0.node == "L1.residual2.gpu4" })
        #expect(report.findings.contains { $0.rule == .shape && $0.node == "output.gpu4" })
    }
}
