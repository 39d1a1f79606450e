import DOTFormat
import DeployBuilders
import DeployModel
import DeploySpecs
import Foundation
import GraphvizBridge
import Testing

@testable import DeployAnalysis

func presetGraph(_ name: String, microBatches: Int = 1, phase: Phase? = nil) throws -> OperatorGraph {
    var d = try Presets.named(name)!.deployment
    d.microBatches = microBatches
    if let phase { d.phase = phase }
    return try DeploymentBuilder().build(d)
}

@Suite struct CriticalPathTests {
    /// The longest path computed a second way: from the DOT text as libcgraph reads it, by
    /// memoised depth-first search over successors, with 2mkn / 1e15 per matmul and 0 elsewhere.
    func independentLongestPath(_ dot: String) throws -> Double {
        let result = DOTReader.read(bytes: Array(dot.utf8))
        let document = try #require(result.document)
        var successors = [[Int]](repeating: [], count: document.nodeNames.count)
        for e in document.edges { successors[e.tail].append(e.head) }
        let weight = document.nodeNames.indices.map { i -> Double in
            guard document.nodeAttribute("op", of: i) == "matmul",
                let m = document.nodeAttribute("m", of: i).flatMap(Double.init),
                let k = document.nodeAttribute("k", of: i).flatMap(Double.init),
                let n = document.nodeAttribute("n", of: i).flatMap(Double.init)
            else { return 0 }
            return 2 * m * k * n / 1e15
        }
        var memo = [Double?](repeating: nil, count: weight.count)
        func longest(from v: Int) -> Double {
            if let known = memo[v] { return known }
            let best = weight[v] + (successors[v].map(longest).max() ?? 0)
            memo[v] = best
            return best
        }
        return weight.indices.map(longest).max() ?? 0
    }

    @Test(arguments: ["helix-dense-2l", "tp8-pp2-dense-4l"])
    func matmulFlopsCriticalPathMatchesAnIndependentComputation(name: String) throws {
        let dot = try DOTWriter().writeString(presetGraph(name))
        let decoded = GraphDecoder().decode(try #require(DOTReader.read(bytes: Array(dot.utf8)).document))
        let analysis = try Analysis(graph: decoded.graph, options: AnalysisOptions(costModel: .matmulFLOPs(teraFLOPs: 1000)))
        let expected = try independentLongestPath(dot)
        #expect(abs(analysis.criticalPathSeconds - expected) <= 1e-12 * expected)
        #expect(expected > 0)
    }

    @Test func seedExpressionForHelix() throws {
        let analysis = try Analysis(
            graph: presetGraph("helix-dense-2l"), options: AnalysisOptions(costModel: .matmulFLOPs(teraFLOPs: 1000)))
        #expect(analysis.getTimeExpression.hasPrefix("Get_Time(10240000, 8192, 512) x 2 + Get_Time(40960000, 128, 10000) x 2"))
        // Under matmul-flops the total is exactly the sum of the terms.
        let terms = analysis.criticalPath.map { analysis.costs[$0].flops }.reduce(0, +) / 1e15
        #expect(abs(terms - analysis.criticalPathSeconds) < 1e-12)
    }

    @Test func slackIsZeroOnTheCriticalPath() throws {
        let analysis = try Analysis(
            graph: presetGraph("tp8-pp2-dense-4l"), options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        for v in analysis.criticalPath { #expect(analysis.slack[v] < 1e-9 * analysis.criticalPathSeconds) }
        #expect(analysis.slack.contains { $0 > 0 })
    }

    @Test func symbolicGraphsKeepTheirExpression() throws {
        let analysis = try Analysis(
            graph: presetGraph("ma-separation-moe-4l"), options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        #expect(analysis.unboundSymbols == ["B"])
        #expect(analysis.getTimeExpression.contains("Get_Time(B*2048, 4096, 512)"))
        #expect(analysis.tokensPerSecond == nil)
    }
}

@Suite struct ScheduleTests {
    /// No stream runs two things at once, and nothing starts before its inputs are ready.
    @Test(arguments: ["helix-dense-2l", "tp8-pp2-moe-4l", "attention-pool-4l", "ma-separation-moe-4l"])
    func scheduleRespectsResourcesAndDependencies(name: String) throws {
        var graph = try presetGraph(name, microBatches: name.hasPrefix("tp8") ? 2 : 1)
        graph = try graph.binding(["B": 8, "seq_len": 4000])
        let a = try Analysis(graph: graph, options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        let s = a.schedule
        let adjacency = graph.adjacency
        for v in graph.nodes.indices {
            for p in adjacency.predecessors(of: v) { #expect(s.start[v] >= s.finish[Int(p)] - 1e-12) }
            #expect(abs(s.finish[v] - s.start[v] - a.costs[v].seconds) < 1e-12)
        }
        var busy: [String: [(Double, Double)]] = [:]
        for (v, node) in graph.nodes.enumerated() where node.op.kind != .boundary && a.costs[v].seconds > 0 {
            let streams = node.gpu.map { ["c\($0)"] } ?? node.group.map { "m\($0)" }
            for stream in streams { busy[stream, default: []].append((s.start[v], s.finish[v])) }
        }
        for (_, intervals) in busy {
            let sorted = intervals.sorted { $0.0 < $1.0 }
            for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(b.0 >= a.1 - 1e-12) }
        }
        #expect(a.makespanSeconds >= a.criticalPathSeconds - 1e-9)
    }

    @Test func microBatchesShortenThePipelinePerToken() throws {
        let options = AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8))
        let one = try Analysis(graph: presetGraph("tp8-pp2-dense-4l", microBatches: 1), options: options)
        let four = try Analysis(graph: presetGraph("tp8-pp2-dense-4l", microBatches: 4), options: options)
        #expect(one.tokens == four.tokens)
        #expect(four.makespanSeconds / four.tokens! < one.makespanSeconds / one.tokens!)
        #expect(four.tokensPerSecond! > one.tokensPerSecond!)
    }
}

@Suite struct CostModelTests {
    @Test func rooflineIsComputeOrMemoryBound() {
        let pricer = Pricer(costModel: .roofline(.h100SXM, efficiency: 1), network: NetworkModel(), elementBytes: 2)
        let big = OperatorNode(
            name: "mm", op: .matmul, gpu: 0, out: [Dim(4096), Dim(4096)], attributes: ["m": "4096", "k": "4096", "n": "4096"])
        let cost = pricer.price(big, inputs: [])!
        #expect(abs(cost.seconds - 2 * 4096.0 * 4096 * 4096 / 989e12) < 1e-15)
        let skinny = OperatorNode(
            name: "mv", op: .matmul, gpu: 0, out: [Dim(1), Dim(8192)], attributes: ["m": "1", "k": "8192", "n": "8192"])
        #expect(abs(pricer.price(skinny, inputs: [])!.seconds - (1.0 * 8192 + 8192.0 * 8192 + 8192) * 2 / 3.35e12) < 1e-15)
    }

    @Test func collectivesUseRingFormulas() {
        let network = NetworkModel(gpusPerNode: 8, intraNodeBandwidth: 100e9, interNodeBandwidth: 10e9, alpha: 1e-6)
        let pricer = Pricer(costModel: .roofline(.h100SXM, efficiency: 1), network: network, elementBytes: 2)
        let shape: Shape = [Dim(1_000_000)]
        let ar = OperatorNode(name: "ar", op: .allReduce, group: [0, 1, 2, 3], out: shape)
        let c = pricer.price(ar, inputs: [shape])!
        #expect(c.link == .nvlink)
        #expect(abs(c.seconds - (6e-6 + 1.5 * 2e6 / 100e9)) < 1e-15)
        let crossing = OperatorNode(name: "ag", op: .allGather, group: [6, 7, 8, 9], out: shape)
        let g = pricer.price(crossing, inputs: [[Dim(250_000)]])!
        #expect(g.link == .infiniband)
        #expect(abs(g.seconds - (3e-6 + 0.75 * 2e6 / 10e9)) < 1e-15)
        let p2p = OperatorNode(name: "s", op: .sendRecv, group: [0, 1], out: shape)
        #expect(abs(pricer.price(p2p, inputs: [shape])!.seconds - (1e-6 + 2e6 / 100e9)) < 1e-15)
    }

    @Test func matmulFlopsPricesOnlyMatmuls() {
        let pricer = Pricer(costModel: .matmulFLOPs(teraFLOPs: 1000), network: NetworkModel(), elementBytes: 2)
        let mm = OperatorNode(name: "mm", op: .matmul, gpu: 0, out: [Dim(2), Dim(3)], attributes: ["m": "2", "k": "5", "n": "3"])
        #expect(pricer.price(mm, inputs: [])!.seconds == 60 / 1e15)
        #expect(pricer.price(OperatorNode(name: "g", op: .gelu, gpu: 0, out: [Dim(1000)]), inputs: [[Dim(1000)]])!.seconds == 0)
        #expect(pricer.price(OperatorNode(name: "a", op: .allReduce, group: [0, 1], out: [Dim(1000)]), inputs: [])!.seconds == 0)
    }

    @Test func tableIsExactAtMeasuredPointsAndInterpolatesBetween() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("table-\(UUID().uuidString).csv")
        try "m,k,n,seconds\n1024,1024,1024,0.001\n4096,4096,4096,0.032\n# comment\n".write(to: dir, atomically: true, encoding: .utf8)
        let table = try MeasuredTable.load(dir.path)
        #expect(table.seconds(m: 1024, k: 1024, n: 1024) == 0.001)
        #expect(table.seconds(m: 4096, k: 4096, n: 4096) == 0.032)
        // Between them: throughput between the two measured throughputs, time between the FLOP-scaled extremes.
        let mid = try #require(table.seconds(m: 2048, k: 2048, n: 2048))
        let flops = 2.0 * 2048 * 2048 * 2048
        let (low, high) = (2.0 * 1024 * 1024 * 1024 / 0.001, 2.0 * 4096 * 4096 * 4096 / 0.032)
        #expect(mid > flops / max(low, high) && mid < flops / min(low, high))
        // At the midpoint in log space the two are weighted equally.
        #expect(abs(mid - flops / ((low + high) / 2)) < 1e-12)
        #expect(throws: CostModelError.self) { try MeasuredTable.load("/nonexistent.csv") }
        try "1,2,three,4\n".write(to: dir, atomically: true, encoding: .utf8)
        #expect(throws: CostModelError.self) { try MeasuredTable.load(dir.path) }
    }

    @Test func parsesModelsAndGPUs() throws {
        #expect(try CostModel.parse("matmul-flops:312", gpu: .h100SXM, efficiency: 1).name == "matmul-flops")
        #expect(throws: CostModelError.self) { try CostModel.parse("magic", gpu: .h100SXM, efficiency: 1) }
        #expect(
            GPUSpec.parse("mygpu:peak=500,bw=2,mem=40")
                == GPUSpec(name: "mygpu", peakFLOPs: 500e12, memoryBandwidth: 2e12, memoryCapacity: 40e9))
        #expect(GPUSpec.parse("mygpu:peak=500") == nil)
    }
}

@Suite struct MemoryAndThroughputTests {
    @Test func seedConfigurationsDoNotFitAndSaySo() throws {
        let a = try Analysis(
            graph: presetGraph("helix-dense-2l"), options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        let memory = a.memory
        #expect(memory.count == 16)
        // One [1024, 10000, 8192] bf16 activation is 168 GB; the score tensors are larger still.
        #expect(memory.allSatisfy { $0.peakActivationBytes > 168e9 && $0.overBytes != nil })
        let perLayer: Double = 3 * 8192 * 512 + 512 * 8192 + 2 * 8192 * 2048
        #expect(memory[0].weightBytes == 2 * 2 * perLayer)
    }

    @Test func smallBatchesFit() throws {
        var d = try Presets.named("tp8-pp2-dense-4l")!.deployment
        d.model.batch = Dim(1)
        d.model.seq = Dim(1024)
        let a = try Analysis(graph: DeploymentBuilder().build(d), options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        #expect(a.memory.allSatisfy { $0.overBytes == nil })
    }

    @Test func rooflineBoundForTheDenseSeedModel() throws {
        // domain.md: about 7.75 GFLOP per token for the dense 4-layer model, a bound near 2.04M tokens/s on 16 H100s.
        let a = try Analysis(
            graph: presetGraph("helix-dense-4l"), options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        #expect(abs(a.totalFLOPs / a.tokens! / 1e9 - 7.75) < 0.01)
        // That is the compute side; the materialized attention's 24.85 TB of traffic on the
        // busiest GPU (7.4 s at 3.35 TB/s against 5.0 s of FLOPs) binds.
        let bound = try #require(a.roofline)
        #expect(abs(a.tokens! / bound.computeSeconds / 1e6 - 2.04) < 0.01)
        #expect(bound.binding == "memory" && bound.memorySeconds > bound.computeSeconds)
        #expect(abs(a.rooflineTPS! - a.tokens! / bound.memorySeconds) < 1)
        #expect(bound.explanation.hasPrefix("memory-bound: GPU"))
    }

    @Test func decodeGivesTimePerOutputToken() throws {
        let a = try Analysis(
            graph: presetGraph("helix-dense-2l", phase: .decode(context: Dim(10000))),
            options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        #expect(a.isDecode && a.tokens == 1024)
        #expect(a.timePerOutputToken == a.makespanSeconds)
        // The decode score all-reduce: [1024, 4, 1, 10000] bf16, 2 x 3/4 of it sent: about 123 MB per GPU.
        let reduce = a.graph.nodes.indices.first { a.graph.nodes[$0].name == "L0.scores_allreduce.hg0" }!
        #expect(abs(a.costs[reduce].sentBytesPerGPU - 122.88e6) < 1)
    }
}

@Suite struct TimelineTests {
    @Test func traceAndGanttAreWellFormed() throws {
        let a = try Analysis(
            graph: presetGraph("tp8-pp2-dense-4l", microBatches: 2),
            options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        let json = try JSONSerialization.jsonObject(with: Data(try ChromeTrace.json(a))) as! [String: Any]
        let events = json["traceEvents"] as! [[String: Any]]
        let complete = events.filter { $0["ph"] as? String == "X" }
        #expect(complete.count > 0)
        #expect(complete.allSatisfy { ($0["dur"] as! Double) >= 0 && $0["pid"] is Int && $0["tid"] is Int })
        #expect(events.contains { $0["ph"] as? String == "M" && ($0["args"] as? [String: Any])?["name"] as? String == "GPU 15" })
        let svg = GanttChart.svg(a, title: "t <&> schedule")
        #expect(svg.contains("GPU 15") && svg.contains("t &lt;&amp;&gt; schedule"))
        #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
    }
}

/// Fused attention is priced over the query-key pairs its mask lets through.
@Suite struct FusedAttentionPricingTests {
    static func bruteForce(queries: Int, keys: Int, offset: Int, causal: Bool, window: Int?) -> Double {
        var pairs = 0
        for i in 0..<queries {
            let position = i + offset
            for j in 0..<keys where (!causal || j <= position) && (window.map { j > position - $0 } ?? true) { pairs += 1 }
        }
        return Double(pairs)
    }

    @Test(
        arguments: [
            (64, 64, 0, true, nil), (64, 64, 0, false, nil), (1, 100, 99, true, nil), (1, 100, 99, true, 7), (50, 80, 30, true, 9),
            (40, 40, 0, true, 3), (40, 40, 0, false, 5), (9, 200, 191, true, 300), (33, 33, 0, true, 33),
        ] as [(Int, Int, Int, Bool, Int?)])
    func visiblePairsInClosedFormCountEveryPair(_ q: Int, _ k: Int, _ offset: Int, _ causal: Bool, _ window: Int?) {
        let closed = Pricer.visiblePairs(
            queries: Double(q), keys: Double(k), offset: Double(offset), causal: causal, window: window.map(Double.init))
        #expect(closed == Self.bruteForce(queries: q, keys: k, offset: offset, causal: causal, window: window))
    }

    @Test func causalPrefillCostsAboutHalfTheFullScores() throws {
        var model = TransformerModel(layers: 1, batch: Dim(2), seq: Dim(4096), hidden: 4096, heads: 32, headDim: 128, ffn: 16384)
        model.attention = .fused
        model.causal = true
        let graph = try DeploymentBuilder().build(Deployment(name: "t", model: model, strategy: .tensorPipeline(tp: 1, pp: 1)))
        let analysis = try Analysis(graph: graph, options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        let i = try #require(graph.nodes.firstIndex { $0.op == .attention })
        let full = 4.0 * 2 * 32 * 128 * 4096 * 4096
        #expect(analysis.costs[i].flops == full * (4096 + 1) / (2 * 4096))
        // Traffic is Q, K, V and the output: no score matrix.
        #expect(analysis.costs[i].memoryBytes == 4 * 2 * 4096 * 4096 * 2)
    }
}

/// A K/V cache in its own number format: read, appended to and held at its own bytes.
@Suite struct CacheFormatTests {
    @Test func anFP8CacheHalvesItsTrafficAndMemory() throws {
        func analysis(_ cache: DataType?) throws -> Analysis {
            var model = TransformerModel(
                layers: 2, batch: Dim(16), seq: Dim(1), hidden: 1024, heads: 8, headDim: 128, ffn: 4096, kvHeads: 2)
            model.attention = .fused
            model.causal = true
            model.kvCacheDtype = cache
            let graph = try DeploymentBuilder().build(
                Deployment(name: "t", model: model, strategy: .tensorPipeline(tp: 1, pp: 1), phase: .decode(context: Dim(4096))))
            return try Analysis(graph: graph, options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        }
        let (plain, fp8) = (try analysis(nil), try analysis(.fp8))
        let i = try #require(plain.graph.nodes.firstIndex { $0.op == .kvCache })
        #expect(fp8.costs[i].memoryBytes * 2 == plain.costs[i].memoryBytes)
        let attention = try #require(plain.graph.nodes.firstIndex { $0.op == .attention })
        #expect(fp8.costs[attention].memoryBytes < plain.costs[attention].memoryBytes)
        #expect(fp8.memory[0].peakActivationBytes < 0.6 * plain.memory[0].peakActivationBytes)
        #expect(fp8.memory[0].weightBytes == plain.memory[0].weightBytes)
    }
}

/// A disaggregated graph's figures: TTFT, the K/V bytes moved, the decode step alone.
@Suite struct DisaggregatedAnalysisTests {
    @Test func theFiguresFollowTheGraph() throws {
        var model = TransformerModel(layers: 2, batch: Dim(8), seq: Dim(64), hidden: 64, heads: 8, headDim: 8, ffn: 64, kvHeads: 4)
        (model.norm, model.mlp, model.activation, model.rope) = (.rmsnorm, .gated, .silu, RotaryEmbedding())
        (model.attention, model.causal) = (.fused, true)
        var d = Deployment(name: "disagg", model: model, strategy: .tensorPipeline(tp: 2, pp: 1))
        d.disaggregatedDecode = DecodeDegrees(tp: 4)
        let graph = try DeploymentBuilder().build(d)
        let a = try Analysis(graph: graph, options: AnalysisOptions(costModel: .roofline(.h100SXM, efficiency: 0.8)))
        let f = try #require(try a.disaggregatedFigures())
        // K and V of 2 layers: batch 8 x 64 tokens x 4 K/V heads x 8 dims, 2 bytes each.
        #expect(f.transferBytes == 2 * 2 * 8 * 64 * 4 * 8 * 2)
        #expect(f.timeToFirstToken > 0 && f.timeToFirstToken <= a.makespanSeconds && f.transferDone <= a.makespanSeconds)
        // The decode step alone is the decode build's own step, its cache read in place.
        var decode = d
        decode.disaggregatedDecode = nil
        (decode.strategy, decode.phase) = (.tensorPipeline(tp: 4, pp: 1), .decode(context: Dim(65)))
        let step = try Analysis(graph: try DeploymentBuilder().build(decode), options: a.options)
        #expect(
            abs(f.timePerOutputToken - step.makespanSeconds) <= 0.05 * step.makespanSeconds,
            "\(f.timePerOutputToken) \(step.makespanSeconds)")
        #expect(a.tokens == nil && a.timePerOutputToken == nil)
        // The decode GPUs hold their cache for the step: at least its bytes, as plain decode does.
        let cachePerGPU = f.transferBytes / 4
        for gpu in a.memory where gpu.gpu >= 2 {
            #expect(gpu.peakActivationBytes >= cachePerGPU, "GPU \(gpu.gpu): \(gpu.peakActivationBytes)")
        }
    }
}
