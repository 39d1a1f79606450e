import DOTFormat
import DeployAnalysis
import DeployChecker
import DeployModel
import DeployVerify
import GraphvizBridge

/// One fuzz input: read it as DOT through libcgraph, decode it, check it. Any crash, hang or leak
/// here is a bug; findings are the expected outcome for bad input.
///
/// It is read twice, by the one-pass reader the commands use and by the copy-then-decode path,
/// and the two must agree: a difference stops the run like a crash does.
func checkOneInput(_ bytes: [UInt8]) {
    let direct = DOTReader.decode(bytes: bytes, file: "fuzz.dot")
    let copied = DOTReader.read(bytes: bytes, file: "fuzz.dot")
    precondition(
        direct.findings == copied.findings,
        "the two readers disagree on syntax findings: \(direct.findings.map(\.formatted)) vs \(copied.findings.map(\.formatted))")
    if let decoded = direct.decoded {
        let viaDocument = GraphDecoder().decode(copied.document!, lines: copied.lines, file: "fuzz.dot")
        precondition(decoded.graph == viaDocument.graph, "the two readers decode different graphs")
        precondition(decoded.findings == viaDocument.findings, "the two readers disagree on schema findings")
        let report = Checker().check(decoded, earlier: direct.findings)
        // What check accepts, analyze prices and verify executes: neither may crash on it.
        // verify runs under a small budget, so that one input costs milliseconds.
        if report.errorCount == 0 {
            _ = try? Analysis(graph: decoded.graph, options: .standard)
            _ = try? Verifier.verify(Checker().annotated(decoded), elementLimit: 100_000, multiplyAddLimit: 10_000_000)
        }
    }
}

#if DEPLOYDAG_FUZZ
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's entry point as `<module>_main`; under fuzzing it hands
    /// control to libFuzzer's driver with the per-input callback
    /// (swift build -Xswiftc -sanitize=fuzzer -Xswiftc -DDEPLOYDAG_FUZZ ...: scripts/fuzz.sh).
    @_cdecl("deploydag_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var count = argc
        var vector = argv
        Parallelism.isEnabled = false
        return LLVMFuzzerRunDriver(&count, &vector) { data, size in
            guard let data else { return 0 }
            checkOneInput(Array(UnsafeBufferPointer(start: data, count: size)))
            return 0
        }
    }
#else
    import Foundation

    /// Without libFuzzer: replays files (the corpus, the regression fixtures) through the same
    /// entry point, so that every fixture is run by the tests.
    @main
    struct ReplayFuzzInputs {
        static func main() {
            var count = 0
            for path in CommandLine.arguments.dropFirst() {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                let files =
                    isDirectory.boolValue
                    ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
                for file in files {
                    guard let data = FileManager.default.contents(atPath: file) else { continue }
                    checkOneInput([UInt8](data))
                    count += 1
                }
            }
            print("replayed \(count) inputs")
        }
    }
#endif
