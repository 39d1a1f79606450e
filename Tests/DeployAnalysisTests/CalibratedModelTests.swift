import DeployBuilders
import DeployModel
import DeploySpecs
import Foundation
import Testing

@testable import DeployAnalysis

/// A shipped Hugging Face config's model on TP `tp`, as the builders make it.
func configGraph(_ config: String, tp: Int = 1, batch: Int, seq: Int = 2048, phase: Phase = .prefill, layers: Int? = nil) throws
    -> OperatorGraph
{
    let file = try #require(Presets.directory).appendingPathComponent("hf/\(config).json").path
    var model = try HuggingFaceConfig.model(file: file)
    (model.batch, model.seq) = (Dim(Int64(batch)), Dim(Int64(seq)))
    if let layers { model.layers = layers }
    var deployment = Deployment(name: config, model: model, strategy: .tensorPipeline(tp: tp, pp: 1))
    deployment.phase = phase
    return try DeploymentBuilder().build(deployment)
}

let calibrated = AnalysisOptions(
    costModel: .calibrated(.h100SXM, efficiency: 0.8), network: NetworkModel(algorithms: .nccl, collectives: .dgxHopper))

@Suite struct DecodePricingTests {
    /// Issue 15, item 2: a decode step reads the cache once (in attention), appends only the
    /// new token, and the schedule and the critical path price the cache alike.
    @Test func theCacheIsReadOnceAndTheAppendWritesTheNewTokenOnly() throws {
        let graph = try configGraph("llama-3-8b", batch: 64, phase: .decode(context: Dim(2048)), layers: 1)
        for model in [calibrated.costModel, .roofline(.h100SXM, efficiency: 0.8), .matmulFLOPs(teraFLOPs: 500)] {
            let a = try Analysis(graph: graph, options: AnalysisOptions(costModel: model, network: calibrated.network))
            for (i, node) in graph.nodes.enumerated() where node.op == .kvCache {
                #expect(a.costs[i] == .zero, "\(model.name): \(node.name) is resident, read by its consumer")
            }
            let append = try #require(graph.nodes.firstIndex { $0.name == "L0.k_append.gpu0" })
            // The new token's K, 64 x 8 x 128 bf16 values, read and written once.
            #expect(a.costs[append].memoryBytes == 2 * 64 * 8 * 128 * 2)
            let attention = try #require(graph.nodes.firstIndex { $0.op == .attention })
            #expect(a.costs[attention].memoryBytes > 2 * 64 * 2048 * 8 * 128 * 2, "K and V read whole, once")
            // No GPU is busier than the makespan (the kv_cache node once counted in one but not the other).
            for usage in a.gpuUsage { #expect(usage.computeSeconds <= a.makespanSeconds * (1 + 1e-9)) }
        }
    }

    /// The cache is resident memory: counted once, its append adding only the new token.
    @Test func theCacheIsCountedOnceInMemory() throws {
        let graph = try configGraph("llama-3-8b", batch: 64, phase: .decode(context: Dim(2048)), layers: 1)
        let a = try Analysis(graph: graph, options: calibrated)
        let cache = 2.0 * 64 * 2047 * 8 * 128 * 2  // K and V of the 2,047 cached tokens
        let peak = try #require(a.memory.first).peakActivationBytes
        #expect(peak >= cache && peak < cache * 1.05, "\(peak) against a cache of \(cache)")
    }

    /// Materialized attention's Q·Kᵀ reads a K of every batch element and head: its bytes are
    /// its operands', not the flattened m x k + k x n.
    @Test func aTwoActivationMatmulReadsEachOperandWhole() throws {
        let pricer = Pricer(costModel: calibrated.costModel, network: calibrated.network, elementBytes: 2)
        let q: Shape = [Dim(8), Dim(1), Dim(4), Dim(128)]
        let k: Shape = [Dim(8), Dim(1024), Dim(4), Dim(128)]
        let node = OperatorNode(
            name: "qk", op: .matmul, gpu: 0, out: [Dim(8), Dim(4), Dim(1), Dim(1024)],
            attributes: ["eq": "bqnd,bknd->bnqk", "m": "32", "k": "128", "n": "1024"])
        let cost = try #require(pricer.price(node, inputs: [q, k]))
        let elements: Double = 8 * 4 * 128 + 8 * 1024 * 4 * 128 + 8 * 4 * 1024
        #expect(cost.memoryBytes == elements * 2)
        let flops: Double = 2 * 32 * 128 * 1024
        #expect(cost.flops == flops)
    }
}

@Suite struct KernelModelTests {
    let hopper = KernelModel.hopper

    func gemm(_ m: Double, _ k: Double, _ n: Double) -> Double {
        hopper.gemmSeconds(
            m: m, k: k, n: n, bytes: (m * k + k * n + m * n) * 2, peak: 989e12, bandwidth: 3.35e12, efficiency: 0.8)
    }

    /// OpenXLA's measured H100 bf16 GEMMs (xla/service/gpu/model/matmul_interpolator_data.h):
    /// the model is within 15% of the large and medium shapes.
    @Test func largeAndMediumGEMMsMatchMeasuredH100Times() {
        for (m, k, n, measured) in [
            (4096.0, 4096.0, 4096.0, 175.5e-6), (2048, 2048, 2048, 27.2e-6), (1024, 2048, 2048, 16.4e-6), (256, 2048, 4096, 13.2e-6),
        ] {
            let ratio = gemm(m, k, n) / measured
            #expect(ratio > 0.85 && ratio < 1.15, "\(m)x\(k)x\(n): \(ratio)")
        }
    }

    /// A decode step's GEMV is bound by its weights: a few rows cost what one does.
    @Test func aFewRowsAreMemoryBound() {
        let one = gemm(1, 4096, 14336)
        #expect(abs(gemm(16, 4096, 14336) / one - 1) < 0.02)
        #expect(abs(one - (hopper.launchSeconds + 4096 * 14336 * 2 / (3.35e12 * 0.85))) < 1e-6)
        // Large GEMMs approach the large-GEMM efficiency times t / (t + 128).
        let big = gemm(16384, 8192, 8192)
        #expect(abs(2 * 16384 * 8192 * 8192 / big / 989e12 - 0.8 * 8192 / (8192 + 128)) < 0.03)
    }

    /// Every kernel pays the launch; the textbook roofline none.
    @Test func streamingKernelsPayTheLaunchAndTheAchievableBandwidth() {
        #expect(hopper.streamSeconds(bytes: 0, bandwidth: 3.35e12) == hopper.launchSeconds)
        #expect(KernelModel.textbook.streamSeconds(bytes: 3.35e12, bandwidth: 3.35e12) == 1)
        #expect(abs(hopper.streamSeconds(bytes: 3.35e12 * 0.85, bandwidth: 3.35e12) - 1 - hopper.launchSeconds) < 1e-12)
    }

    /// An fp32 decode GEMV runs on CUDA cores, one row read once: bound by its weights, not
    /// padded to a 16-row tensor-core tile.
    @Test func anFP32GEMVIsMemoryBound() throws {
        let gpu = try GPUSpec.a100SXM.running(dtype: "fp32")
        let bytes = (4096.0 + 4096 * 11008 + 11008) * 4
        let t = gpu.kernels.gemmTime(
            m: 1, k: 4096, n: 11008, bytes: bytes, peak: gpu.peakFLOPs, bandwidth: gpu.memoryBandwidth, efficiency: 0.8)
        #expect(t.memoryBound)
        #expect(abs(t.seconds - (gpu.kernels.launchSeconds + bytes / (gpu.memoryBandwidth * 0.85))) < 1e-9)
    }

    /// An fp32 model runs at the fp32 peak, not the bf16 tensor-core one.
    @Test func eachDataTypeRunsAtItsOwnPeak() throws {
        #expect(try GPUSpec.h100SXM.running(dtype: "fp32").peakFLOPs == 67e12)
        #expect(try GPUSpec.a100SXM.running(dtype: "fp16").peakFLOPs == 312e12)
        #expect(throws: AnalysisError.self) { try GPUSpec.a100SXM.running(dtype: "fp8") }
    }
}

@Suite struct CollectiveAlgorithmTests {
    func seconds(_ op: Operator, _ group: [Int], bytes: Double, algorithms: CollectiveAlgorithms = .nccl) -> Double {
        let network = NetworkModel(algorithms: algorithms, collectives: .dgxHopper)
        let pricer = Pricer(costModel: calibrated.costModel, network: network, elementBytes: 2)
        let node = OperatorNode(name: "c", op: op, group: group, out: [Dim(Int64(bytes / 2))])
        return pricer.price(node, inputs: [[Dim(Int64(bytes / 2))]])!.seconds
    }

    /// Issue 15, item 4: a small all-reduce is latency (one-shot: one step, not 2(p-1)); a large
    /// one is bandwidth at NVLS or the two-shot's; the ring's 28 us at p = 8 is gone.
    @Test func smallMessagesTakeTheOneShotAndLargeOnesTheBandwidth() {
        let c = CollectiveModel.dgxHopper
        let small = seconds(.allReduce, Array(0..<8), bytes: 16384)
        #expect(abs(small - (c.launchSeconds + c.nvlinkHopSeconds + 7 * 16384 / (450e9 * 0.8))) < 1e-9)
        #expect(seconds(.allReduce, Array(0..<8), bytes: 16384, algorithms: .ring) > 28e-6)
        let large = seconds(.allReduce, Array(0..<8), bytes: 1e9)
        #expect(abs(large - (c.launchSeconds + 2 * c.nvlinkHopSeconds + 1e9 / (450e9 * 0.6))) < 1e-9)
        // A larger group is no slower for a small message: one step whatever p.
        #expect(seconds(.allReduce, Array(0..<4), bytes: 16384) <= small)
    }

    /// Across nodes: reduce-scatter on NVLink, the network over each GPU's shard with all the
    /// node's NICs, all-gather on NVLink: far faster than a flat ring at one NIC's bandwidth.
    @Test func crossNodeAllReduceIsHierarchical() {
        let bytes = 1e9
        let flatAtOneNIC = 2 * 15.0 / 16 * bytes / 50e9
        let hierarchical = seconds(.allReduce, Array(0..<16), bytes: bytes)
        #expect(hierarchical < flatAtOneNIC / 4)
        // The network part is the shard's: 2(n-1)/n x V/8 over a NIC at 90%.
        #expect(hierarchical > bytes / 8 / (50e9 * 0.9))
        #expect(seconds(.allReduce, Array(0..<16), bytes: bytes, algorithms: .ring) > flatAtOneNIC)
        // A small message pays one network step each way, not 2(p-1) of them.
        let c = CollectiveModel.dgxHopper
        let small = seconds(.allReduce, Array(0..<16), bytes: 16384)
        #expect(small < c.launchSeconds + 2 * c.nvlinkHopSeconds + 2 * c.networkHopSeconds + 1e-6)
    }

    /// The measurements order a 7B model's batch-1 decode TP 8 faster than TP 4 (gpt-fast:
    /// 3.04 against 3.94 ms); so must deploydag.
    @Test func tensorParallelDecodeScalesAsMeasured() throws {
        let tp4 = try Analysis(graph: configGraph("llama-3-8b", tp: 4, batch: 1, phase: .decode(context: Dim(128))), options: calibrated)
        let tp8 = try Analysis(graph: configGraph("llama-3-8b", tp: 8, batch: 1, phase: .decode(context: Dim(128))), options: calibrated)
        #expect(tp8.makespanSeconds < tp4.makespanSeconds)
    }
}

@Suite struct RooflineBoundTests {
    /// Issue 15, item 5: a memory-bound decode is measured against the bandwidth bound.
    @Test func aDecodeStepIsBoundByMemory() throws {
        let a = try Analysis(graph: configGraph("llama-3-8b", batch: 1, phase: .decode(context: Dim(1024))), options: calibrated)
        let bound = try #require(a.roofline)
        #expect(bound.binding == "memory")
        // Weights (16 GB) dominate what the busiest GPU moves.
        #expect(bound.memoryBytes > 15e9 && bound.memoryBytes < 17.5e9)
        let reached = a.tokensPerSecond! / a.rooflineTPS!
        #expect(reached > 0.6 && reached < 1, "\(reached)")
    }

    /// A large prefill is bound by compute.
    @Test func aLongPrefillIsBoundByCompute() throws {
        let a = try Analysis(graph: configGraph("llama-3-8b", batch: 4, seq: 4096, layers: 2), options: calibrated)
        #expect(a.roofline?.binding == "compute")
    }
}

@Suite struct MeasuredTableRowsTests {
    func table(_ text: String) throws -> MeasuredTable {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rows-\(UUID().uuidString).csv")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try MeasuredTable.load(file.path)
    }

    /// Collectives and other kernels from the table, interpolated along their bytes; what it
    /// has no row of priced by the calibrated model.
    @Test func collectivesAndKernelsAreLookedUp() throws {
        let t = try table(
            "op,gpus,link,bytes,seconds\nall_reduce,8,nvlink,1048576,46.7e-6\nall_reduce,8,nvlink,8388608,112.7e-6\nrmsnorm,1048576,4e-6\n")
        #expect(t.collectiveSeconds(op: "all_reduce", gpus: 8, link: .nvlink, bytes: 1_048_576) == 46.7e-6)
        let mid = try #require(t.collectiveSeconds(op: "all_reduce", gpus: 8, link: .nvlink, bytes: 2_965_821))
        #expect(mid > 46.7e-6 && mid < 112.7e-6)
        #expect(t.collectiveSeconds(op: "all_reduce", gpus: 8, link: .nvlink, bytes: 10) == 46.7e-6, "the latency floor")
        #expect(abs(t.collectiveSeconds(op: "all_reduce", gpus: 8, link: .nvlink, bytes: 16_777_216)! - 2 * 112.7e-6) < 1e-12)
        #expect(t.collectiveSeconds(op: "all_reduce", gpus: 4, link: .nvlink, bytes: 1_048_576) == nil)
        #expect(t.seconds(m: 1, k: 1, n: 1) == nil, "no GEMM rows: the calibrated model prices GEMMs")
        let pricer = Pricer(costModel: .table(t, .h100SXM), network: NetworkModel(algorithms: .nccl), elementBytes: 2)
        let ar = OperatorNode(name: "ar", op: .allReduce, group: Array(0..<8), out: [Dim(524_288)])
        #expect(pricer.price(ar, inputs: [[Dim(524_288)]])!.seconds == 46.7e-6)
        let norm = OperatorNode(name: "n", op: .rmsnorm, gpu: 0, out: [Dim(262_144)])
        #expect(pricer.price(norm, inputs: [[Dim(262_144)]])!.seconds == 4e-6)
        let silu = OperatorNode(name: "s", op: .silu, gpu: 0, out: [Dim(262_144)])
        #expect(
            pricer.price(silu, inputs: [[Dim(262_144)]])!.seconds == KernelModel.hopper.streamSeconds(bytes: 1_048_576, bandwidth: 3.35e12))
    }

    /// A file written on Windows (CRLF line ends) reads as the same rows.
    @Test func crlfLineEndsAreRows() throws {
        let t = try table("m,k,n,seconds\r\n128,4096,4096,1e-5\r\n128,4096,11008,2e-5\r\n")
        #expect(t.rows.count == 2 && t.seconds(m: 128, k: 4096, n: 4096) == 1e-5)
    }

    @Test func badRowsAreRefusedWithTheirLine() throws {
        for (text, says) in [
            ("all_reduce,8,pcie,1024,1e-6\n", ":1: a collective row"), ("magic,1024,1e-6\n", ":1: 'magic' is not an operator"),
            ("m,k,n,seconds\nrmsnorm,1024\n", ":2: a kernel row"), ("1,2,3,-4\n", ":1: every figure must be a positive number"),
            ("1e300,1e300,1e300,1e-5\n", ":1: sizes must be at most 1e15"), ("rmsnorm,1,1e308\n", ":1: sizes must be at most 1e15"),
        ] {
            #expect {
                _ = try table(text)
            } throws: { error in
                "\(error)".contains(says)
            }
        }
    }
}
