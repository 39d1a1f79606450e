import DeployAnalysis
import Foundation
import Testing

/// A helix-dense-2l layer as DOT, and the same file with `L0.softmax.gpu0` moved to GPU 5 (two
/// `cross-gpu` errors, as in the README), in a fresh directory.
func cleanAndBrokenDAG() throws -> (dir: URL, clean: String, broken: String) {
    let dir = try scratchDirectory()
    let clean = dir.appendingPathComponent("h.dot").path
    let r = try CLI.run(["generate", "--preset", "helix-dense-2l", "--layers", "1", "-o", clean])
    #expect(r.status == 0)
    let text = try String(contentsOfFile: clean, encoding: .utf8)
    let moved = text.replacingOccurrences(
        of: #""L0.softmax.gpu0" [op="softmax", gpu="0""#, with: #""L0.softmax.gpu0" [op="softmax", gpu="5""#)
    #expect(moved != text)
    let broken = dir.appendingPathComponent("broken.dot").path
    try moved.write(toFile: broken, atomically: true, encoding: .utf8)
    return (dir, clean, broken)
}

/// Issue 18, item 5: options that cannot apply are errors; figures of a DAG with errors are flagged.
@Suite struct InapplicableOptionTests {
    @Test(arguments: [
        (["--micro-batches", "4"], ["--micro-batches"]),
        (["--layers", "40"], ["--layers"]),
        (["--phase", "decode", "--context", "100"], ["--phase", "--context"]),
        (["--batch", "8", "--top-k", "1"], ["--batch", "--top-k"]),
    ])
    func analyzeOfADOTFileRefusesBuildFlags(flags: [String], named: [String]) throws {
        let (_, clean, _) = try cleanAndBrokenDAG()
        let r = try CLI.run(["analyze", clean] + flags)
        #expect(r.status == 2, "\(r.stdout)")
        #expect(r.stdout.isEmpty)
        for flag in named { #expect(r.stderr.contains(flag), "\(r.stderr)") }
        #expect(r.stderr.contains("is a DOT file"))
    }

    @Test func verifyOfADOTFileRefusesBuildFlags() throws {
        let (_, clean, _) = try cleanAndBrokenDAG()
        let r = try CLI.run(["verify", clean, "--layers", "2"])
        #expect(r.status == 2 && r.stderr.contains("--layers"))
    }

    @Test func bindStillAppliesToAFile() throws {
        let (_, clean, _) = try cleanAndBrokenDAG()
        let r = try CLI.run(["analyze", clean, "--bind", "B=8", "--gpu", "h200"])
        #expect(r.status != 2, "\(r.stderr)")
    }

    @Test func analyzeOfADAGWithErrorsSaysItsFiguresAreNotToBeTrusted() throws {
        let (_, clean, broken) = try cleanAndBrokenDAG()
        let r = try CLI.run(["analyze", broken, "--gpu", "h200:peak=989,bw=4.8,mem=100000"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("deploydag check finds 2 errors"), "\(r.stderr)")
        #expect(r.stderr.contains("error[cross-gpu]"))
        #expect(r.stderr.contains("not to be trusted"))
        #expect(r.stdout.contains("critical path"))
        let json = try CLI.run(["analyze", broken, "--format", "json", "--gpu", "h200:peak=989,bw=4.8,mem=100000"])
        let document = try #require(try parseOneDocument(json.stdout) as? [String: Any])
        #expect(document["check_errors"] as? Int == 2)
        let fine = try CLI.run(["analyze", clean, "--gpu", "h200:peak=989,bw=4.8,mem=100000"])
        #expect(fine.status == 0 && !fine.stderr.contains("not to be trusted"), "\(fine.stderr)")
    }

    @Test func renderDrawsADAGWithErrorsAndExitsOne() throws {
        let (dir, _, broken) = try cleanAndBrokenDAG()
        let svg = dir.appendingPathComponent("b.svg").path
        let r = try CLI.run(["render", broken, "--view", "layer:0:attention", "-o", svg])
        #expect(r.status == 1)
        #expect(r.stderr.contains("not to be trusted"))
        #expect(FileManager.default.fileExists(atPath: svg))
    }

    @Test func reportOfADAGWithErrorsSaysSoInTheReport() throws {
        let (dir, _, broken) = try cleanAndBrokenDAG()
        let out = dir.appendingPathComponent("review").path
        let r = try CLI.run(["report", broken, "-o", out + "/"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("not to be trusted"))
        #expect(r.stdout.contains("wrote \(out)/report.md"), "\(r.stdout)")
        let md = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        #expect(md.contains("finds 2 errors in this DAG"))
    }

    @Test func oneSchemaErrorIsThisError() throws {
        let (dir, clean, _) = try cleanAndBrokenDAG()
        let text = try String(contentsOfFile: clean, encoding: .utf8)
        let bad = dir.appendingPathComponent("bad.dot").path
        var one = text
        one.replaceSubrange(try #require(one.range(of: #"op="softmax""#)), with: #"op="softmaxx""#)
        try one.write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try CLI.run(["info", bad])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot be used until this error is fixed"), "\(r.stderr)")
    }
}

/// Issue 18, item 4: compare and report take presets, spec files, Hugging Face configs and DOT files.
@Suite struct DeploymentInputTests {
    static let specFile = repositoryRoot.appendingPathComponent("Sources/DeploySpecs/Presets/tp8-pp2-001.yaml").path
    static let hfConfig = repositoryRoot.appendingPathComponent("Tests/Fixtures/hf/gqa-8-kv.json").path
    /// helix-dense-2l's prefill TPS as `analyze` derives it: the figure compare's row must print.
    static var tps: String {
        get throws {
            let json = try CLI.run(["analyze", "--preset", "helix-dense-2l", "--format", "json"]).stdout
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            return Format.rate(object["tps"] as! Double)
        }
    }

    @Test func compareTakesEveryKindAndKeepsTheRowsThatBuild() throws {
        let (_, clean, _) = try cleanAndBrokenDAG()
        let r = try CLI.run([
            "compare", "helix-dense-2l", Self.specFile, Self.hfConfig, clean, "attention-pool-4l", "--bind", "seq_len=4096", "--format",
            "json",
        ])
        #expect(r.status == 1, "\(r.stderr)")
        let document = try #require(try parseOneDocument(r.stdout) as? [String: Any])
        #expect(JSONSchemaValidator.problems(document, against: try loadSchema("compare")).isEmpty)
        let rows = try #require(document["rows"] as? [[String: Any]])
        #expect(rows.map { $0["source"] as? String } == ["preset", "spec", "hf-config", "file", "preset"])
        for row in rows.prefix(4) {
            #expect(row["error"] == nil && row["prefill_tps"] is Double, "\(row)")
        }
        let failed = rows[4]
        #expect(failed["deployment"] as? String == "attention-pool-4l")
        #expect((failed["error"] as? String)?.contains("does not split evenly") == true, "\(failed)")
        #expect(failed["prefill_tps"] == nil)
        let text = try CLI.run(["compare", "helix-dense-2l", "attention-pool-4l", "--bind", "seq_len=4096"])
        #expect(text.status == 1)
        #expect(text.stdout.contains("attention-pool-4l: cannot be compared:"))
        #expect(!text.stdout.contains(".build/"), "\(text.stdout)")
        let tps = try Self.tps
        #expect(text.stdout.split(separator: "\n").contains { $0.contains("helix-dense-2l") && $0.contains(tps) })
    }

    @Test func anUnknownPresetIsARowAndUsage() throws {
        let r = try CLI.run(["compare", "helix-dense-2l", "no-such-preset"])
        #expect(r.status == 2)
        #expect(r.stdout.contains("no-such-preset: cannot be compared: unknown preset"))
        #expect(r.stdout.contains(try Self.tps))
    }

    @Test func microBatchesForDOTFilesAloneIsRefused() throws {
        let (_, clean, _) = try cleanAndBrokenDAG()
        let r = try CLI.run(["compare", clean, "--micro-batches", "4"])
        #expect(r.status == 2 && r.stderr.contains("--micro-batches applies to presets"), "\(r.stderr)")
    }

    @Test(arguments: [specFile, hfConfig])
    func reportTakesASpecFileOrAHuggingFaceConfig(input: String) throws {
        let dir = try scratchDirectory().appendingPathComponent("review")
        let r = try CLI.run(["report", input, "-o", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let md = try String(contentsOfFile: dir.appendingPathComponent("report.md").path, encoding: .utf8)
        #expect(
            md.contains(input.hasSuffix(".json") ? "from the Hugging Face config `gqa-8-kv.json`" : "from the spec file `tp8-pp2-001.yaml`")
        )
    }

    @Test func aMissingSpecFileSaysWhy() throws {
        let r = try CLI.run(["generate", "--spec", "/nonexistent/missing.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot read /nonexistent/missing.yaml: no such file"), "\(r.stderr)")
    }
}

/// Issue 18, item 7: the smaller conventions.
@Suite struct SmallConventionTests {
    @Test func anErrorFoundAfterParsingShowsTheSubcommandsUsage() throws {
        let r = try CLI.run(["generate", "--preset", "helix-dense-2l", "--view", "layer:9"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("Usage: deploydag generate"), "\(r.stderr)")
        #expect(r.stderr.contains("See 'deploydag generate --help'"))
        #expect(!r.stderr.contains("Usage: deploydag <subcommand>"))
    }

    @Test(arguments: [["generate", "--preset", "helix-dense-2l", "--layers", "-1"], ["check", "x.dot", "--max-findings", "-3"]])
    func aNegativeNumberIsOutOfRangeNotMissing(arguments: [String]) throws {
        let r = try CLI.run(arguments)
        #expect(r.status == 2)
        #expect(!r.stderr.contains("Missing value"), "\(r.stderr)")
        #expect(r.stderr.contains("got -"), "\(r.stderr)")
    }

    @Test func timingsOfASmallFileAreNotZeroMegabytes() throws {
        let file = try scratchDirectory().appendingPathComponent("t.dot").path
        let r = try CLI.run(["generate", "--preset", "helix-dense-2l", "--layers", "1", "--timings", "-o", file])
        #expect(r.status == 0)
        #expect(!r.stderr.contains(" 0 MB"), "\(r.stderr)")
        #expect(r.stderr.contains(" KB of DOT to \(file)"), "\(r.stderr)")
    }

    @Test func presetPathsAreTheSourceTreesNotTheBuildDirectorys() throws {
        let r = try CLI.run(["presets", "--paths"], in: repositoryRoot)
        #expect(r.status == 0)
        #expect(r.stdout.contains("[Sources/DeploySpecs/Presets/helix-dense-2l.yaml]"), "\(r.stdout)")
        let listed = r.stdout.split(separator: "\n").filter { $0.contains("[") }
        #expect(!listed.isEmpty && listed.allSatisfy { !$0.contains(".build/") })
    }

    @Test func reportIntoADirectoryWithATrailingSlashNamesOneSlash() throws {
        let dir = try scratchDirectory()
        let r = try CLI.run(["report", "tp8-pp2-001", "--bind", "seq_len=64", "-o", "review/"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("wrote review/report.md"), "\(r.stdout)")
    }

    @Test func completionOffersFilesPresetsAndViews() throws {
        let bash = try CLI.run(["--generate-completion-script", "bash"])
        #expect(bash.status == 0)
        #expect(bash.stdout.contains("-fX '!*.@(dot|gv)'"))
        #expect(bash.stdout.contains("-fX '!*.@(yaml|yml)'"))
        #expect(bash.stdout.contains("---completion generate -- --preset"))
        #expect(bash.stdout.contains("'full'$'\\n''overview'$'\\n''layer:0'"))
        #expect(!bash.stdout.contains(" docs "), "the hidden docs command is not offered")
        for shell in ["zsh", "fish"] { #expect(try CLI.run(["--generate-completion-script", shell]).status == 0) }
    }

    @Test func theNVLinkFlagIsSpelledAsTheDocsSpellItAndTheOldSpellingStays() throws {
        for flag in ["--nvlink-gbps", "--nvlink-g-bps", "--ib-gbps", "--ib-g-bps"] {
            // A deployment that fits an H100 (compare exits 1 for one that does not).
            let r = try CLI.run(["compare", "tp8-pp2-001", "--bind", "seq_len=64", flag, "900", "--format", "json"])
            #expect(r.status == 0, "\(flag): \(r.stderr)")
            #expect(r.stdout.contains("900 GB/s"), "\(flag)")
        }
    }

    @Test func theManPageIsRoffWithEveryCommand() throws {
        let r = try CLI.run(["docs", "man"])
        #expect(r.status == 0 && r.stdout.hasPrefix(".TH DEPLOYDAG 1"))
        for command in ["generate", "presets", "check", "info", "render", "analyze", "compare", "verify", "report"] {
            #expect(r.stdout.contains(".SS \(command)\n"), "\(command)")
        }
        #expect(!r.stdout.split(separator: "\n").contains { $0.hasPrefix(".") && $0.hasPrefix(".  ") })
    }
}

/// Issue 15, item 5: NVLink follows `--gpu` unless `--nvlink-gbps` says otherwise.
@Suite struct NetworkFollowsTheGPUTests {
    private func network(_ extra: [String]) throws -> String {
        let r = try CLI.run(["analyze", "--preset", "tp8-pp2-dense-4l", "--layers", "2", "--format", "json"] + extra)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stderr)")
        return try #require(json["network"] as? String)
    }

    @Test func nvlinkIsTheGPUsOwn() throws {
        #expect(try network([]).contains("NVLink 450 GB/s"))
        #expect(try network(["--gpu", "h200"]).contains("NVLink 450 GB/s"))
        #expect(try network(["--gpu", "a100-sxm"]).contains("NVLink 300 GB/s"))
        #expect(try network(["--gpu", "a100-sxm", "--nvlink-gbps", "200"]).contains("NVLink 200 GB/s"))
        #expect(try network(["--gpu", "x:peak=100,bw=1,mem=10"]).contains("NVLink 450 GB/s"))
    }
}
