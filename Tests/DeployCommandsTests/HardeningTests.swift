import Foundation
import Testing

/// Hostile or absurd input, end to end: a finding or a usage error with exit 1 or 2, never a
/// trap, a crash, a hang or an allocation the machine cannot make.
@Suite struct HardeningTests {
    /// Top-1 of 2 experts on one GPU; `check` passes it.
    static let moe = """
        digraph moe {
          graph [gpus=1];
          x [op=input, gpu=0, out="[8,4]"];
          r [op=matmul, gpu=0, eq="th,he->te", weight="[4,2]", m=8, k=4, n=2, out="[8,2]"];
          t [op=topk, gpu=0, k=1, out="[8,1]"];
          d [op=dispatch, gpu=0, experts=2, out="[2,4,4]"];
          e [op=matmul, gpu=0, eq="ech,hf->ecf", weight="[4,4]", m=8, k=4, n=4, out="[2,4,4]"];
          c [op=combine, gpu=0, experts=2, out="[8,4]"];
          y [op=output, gpu=0, out="[8,4]"];
          x -> r -> t; x -> d [operand=0]; t -> d [operand=1]; d -> e; e -> c [operand=0]; t -> c [operand=1]; c -> y;
        }

        """

    func write(_ text: String, _ name: String = "in.dot") throws -> String {
        let file = try scratchDirectory().appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file.path
    }

    /// The MoE routing shape rule used to overflow computing the capacity of a top-(2^63-1).
    @Test func aHugeTopKIsAFindingInCheckAndReport() throws {
        let file = try write(Self.moe.replacingOccurrences(of: "k=1, out=\"[8,1]\"", with: "k=1, out=\"[9223372036854775807]\""))
        let checked = try CLI.run(["check", file])
        #expect(checked.status == 1, "\(checked.stdout)\(checked.stderr)")
        #expect(checked.stdout.contains("in.dot:6: error[shape]") && checked.stdout.contains("(node d)"))
        let dir = try scratchDirectory().appendingPathComponent("review").path
        let reported = try CLI.run(["report", file, "-o", dir])
        #expect(reported.status == 0, "\(reported.stderr)")
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("4 errors"))
    }
}
