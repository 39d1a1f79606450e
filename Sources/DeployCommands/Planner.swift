import DeployAnalysis
import DeployBuilders
import DeployModel
import Foundation

/// Enumerates the ways to put a model on a number of GPUs as compositions of the standard
/// degrees (tensor, pipeline, data and sequence parallelism, micro-batches), builds and analyses
/// each in memory with the cost model `analyze` uses, and ranks them.
struct Planner {
    let base: Deployment
    let gpus: Int
    let options: AnalysisOptions

    /// One composition of the degrees.
    struct Composition: Hashable, Sendable {
        var tp: Int
        var pp: Int
        var dp: Int
        var sp: Bool
        var microBatches: Int
        /// Context-parallel shards of the prompt (prefill).
        var cp = 1
        /// The GPUs per stage the experts spread over (a mixture of experts); `tp` unless wider.
        var ep: Int? = nil
        /// The seeds' attention layouts, for a model of their classic block; nil: `tp_pp`.
        var layout: Layout? = nil

        /// Helix, the attention pool and attention/MoE separation, each on all the GPUs.
        enum Layout: Hashable, Sendable {
            case helix(groups: Int, segments: Int)
            case attentionPool(base: Int, pool: Int)
            case separation(attention: Int, experts: Int)

            var strategy: Strategy {
                switch self {
                case .helix(let g, let s): .helix(headGroups: g, segments: s)
                case .attentionPool(let b, let p): .attentionPool(base: Array(0..<b), pool: Array(b..<(b + p)))
                case .separation(let a, let e): .attentionExpertSeparation(attention: Array(0..<a), experts: Array(a..<(a + e)))
                }
            }

            var gpus: Int {
                switch self {
                case .helix(let g, let s): g * s
                case .attentionPool(let b, let p): b + p
                case .separation(let a, let e): a + e
                }
            }

            var name: String {
                switch self {
                case .helix(let g, let s): "helix-g\(g)-s\(s)"
                case .attentionPool(let b, let p): "pool-base\(b)-pool\(p)"
                case .separation(let a, let e): "separation-attn\(a)-experts\(e)"
                }
            }
        }

        var gpus: Int { layout.map { $0.gpus * pp * dp } ?? tp * pp * dp * cp * ((ep ?? tp) / tp) }

        var name: String {
            if let layout { return layout.name + (pp > 1 ? "-pp\(pp)" : "") + (dp > 1 ? "-dp\(dp)" : "") }
            var text = "tp\(tp)-pp\(pp)"
            if cp > 1 { text += "-cp\(cp)" }
            if let ep, ep > tp { text += "-ep\(ep)" }
            if dp > 1 { text += "-dp\(dp)" }
            if sp { text += "-sp" }
            if microBatches > 1 { text += "-mb\(microBatches)" }
            return text
        }
    }

    /// What one composition gives, priced.
    struct Row: Encodable {
        var composition: String
        /// `tp_pp`, or `helix`, `attention_pool`, `ma_separation` (their degrees in the name).
        var strategy: String
        var tp: Int
        var pp: Int
        var dp: Int
        var sp: Bool
        var cp: Int
        var ep: Int?
        var micro_batches: Int
        var gpus: Int
        /// The most any GPU needs: weights plus peak activations.
        var memory_per_gpu_bytes: Double?
        var fits: Bool
        var makespan_seconds: Double?
        /// Prefill: the makespan; decode: nil.
        var ttft_seconds: Double?
        /// Decode: the makespan of one step; prefill: nil.
        var tpot_seconds: Double?
        var tokens_per_second: Double?
        var tokens_per_second_per_gpu: Double?
        /// What the critical path spends most on: compute, memory bandwidth or communication.
        var bottleneck: String?
        /// The largest batch whose memory fits, from activations linear in the batch (an estimate).
        var largest_batch_estimate: Int?
        var meets_target: Bool
        var pareto: Bool
        /// Why the composition could not be built or analysed.
        var error: String?
    }

    /// Every composition whose degrees multiply to `gpus` and divide what they split: heads and
    /// K/V heads (tp), layers (pp), the batch (dp, micro-batches, ep's attention groups), the
    /// prompt (sp, cp), the experts (ep).
    func compositions() -> [Composition] {
        let model = base.model
        var result: [Composition] = []
        let batch = model.batch.intValue
        let prefill = base.phase == .prefill
        for tp in divisors(gpus) where model.heads % tp == 0 && (model.kvHeads % tp == 0 || tp % model.kvHeads == 0) {
            if model.moe == nil && model.ffn % tp != 0 { continue }
            if let vocab = model.vocab, vocab % tp != 0 { continue }
            for pp in divisors(gpus / tp) where model.layers % pp == 0 {
                // The rest of the GPUs: data-parallel replicas of rows of tp side by side.
                for rows in divisors(gpus / tp / pp) {
                    let dp = gpus / tp / pp / rows
                    if let batch, batch % Int64(dp) != 0 { continue }
                    let perReplica = batch.map { $0 / Int64(dp) }
                    var shapes: [(cp: Int, ep: Int?)] = []
                    if rows == 1 {
                        shapes.append((1, nil))
                    } else {
                        // Context parallelism: the prompt in `rows` shards.
                        if prefill, let seq = model.seq.intValue, seq % Int64(rows) == 0 { shapes.append((rows, nil)) }
                        // Expert parallelism over rows x tp GPUs, attention in `rows` groups.
                        if let moe = model.moe, case let ep = tp * rows, moe.experts % ep == 0 || ep % moe.experts == 0,
                            let perReplica, perReplica % Int64(prefill ? rows : ep) == 0
                        {
                            shapes.append((1, ep))
                        }
                    }
                    for shape in shapes {
                        var spChoices = [false]
                        if prefill, shape.cp == 1, shape.ep == nil, tp > 1, model.moe == nil, model.positions == nil,
                            model.seq.intValue.map({ $0 % Int64(tp) == 0 }) ?? false
                        {
                            spChoices.append(true)
                        }
                        var microChoices = [1]
                        if pp > 1, let perReplica, perReplica % Int64(pp) == 0 { microChoices.append(pp) }
                        for sp in spChoices {
                            for mb in microChoices {
                                result.append(
                                    Composition(tp: tp, pp: pp, dp: dp, sp: sp, microBatches: mb, cp: shape.cp, ep: shape.ep))
                            }
                        }
                    }
                }
            }
        }
        return result + seedLayouts()
    }

    /// Helix, the attention pool and attention/MoE separation on all the GPUs, for a model of the
    /// seeds' classic block (any attention form: they build it materialized), each kept when a
    /// one-layer build of it succeeds.
    func seedLayouts() -> [Composition] {
        var model = base.model
        model.attention = .materialized
        guard model.isClassic else { return [] }
        var candidates: [Composition] = []
        for dp in divisors(gpus) {
            if let batch = model.batch.intValue, batch % Int64(dp) != 0 { continue }
            for pp in divisors(gpus / dp) where model.layers % pp == 0 {
                let n = gpus / dp / pp
                var layouts: [Composition.Layout] = []
                for g in divisors(n) { layouts.append(.helix(groups: g, segments: n / g)) }
                for b in divisors(n) where b < n {
                    layouts.append(.attentionPool(base: b, pool: n - b))
                    if model.moe != nil { layouts.append(.separation(attention: b, experts: n - b)) }
                }
                candidates += layouts.map { Composition(tp: $0.gpus, pp: pp, dp: dp, sp: false, microBatches: 1, layout: $0) }
            }
        }
        return candidates.filter { c in
            // One layer a stage of one replica, on its share of the batch, shows whether it builds.
            var probe = deployment(c)
            probe.model.layers = c.pp
            probe.dataParallel = 1
            guard let share = try? base.model.batch.divided(by: c.dp) else { return false }
            probe.model.batch = share
            return (try? DeploymentBuilder().build(probe)) != nil
        }
    }

    private func divisors(_ n: Int) -> [Int] { (1...max(n, 1)).filter { n % $0 == 0 } }

    /// The deployment a composition makes of the base one.
    func deployment(_ c: Composition) -> Deployment {
        var d = base
        d.name = "\(base.name).\(c.name)"
        // The base's own strategy is ignored: its sides, stages and order too.
        (d.disaggregatedDecode, d.rankOrder, d.stageLayers, d.layoutStages) = (nil, [], nil, 1)
        if let layout = c.layout {
            d.strategy = layout.strategy
            d.model.attention = .materialized
            (d.dataParallel, d.sequenceParallel, d.microBatches, d.contextParallel, d.expertParallel) = (c.dp, false, 1, 1, nil)
            d.layoutStages = c.pp
            d.rankOrder = []
            d.stageLayers = nil
            return d
        }
        d.strategy = .tensorPipeline(tp: c.tp, pp: c.pp)
        d.dataParallel = c.dp
        d.sequenceParallel = c.sp
        d.microBatches = c.microBatches
        d.contextParallel = c.cp
        d.expertParallel = c.ep
        return d
    }

    /// Builds and prices `c`.
    func evaluate(_ c: Composition) -> (Row, OperatorGraph?) {
        // (The graph is built again, whole, only for the compositions --emit-dot writes.)
        var row = Row(
            composition: c.name, strategy: c.layout.map { Self.kind($0) } ?? "tp_pp", tp: c.tp, pp: c.pp, dp: c.dp, sp: c.sp, cp: c.cp,
            ep: c.ep, micro_batches: c.microBatches, gpus: c.gpus,
            fits: false, meets_target: false, pareto: false)
        // The dp replicas run apart on disjoint GPUs: one replica, on its share of the batch, has
        // the whole deployment's makespan and per-GPU memory, and 1/dp of its tokens.
        var replica = deployment(c)
        replica.dataParallel = 1
        let analysis: Analysis
        do {
            replica.model.batch = try base.model.batch.divided(by: c.dp)
            analysis = try Analysis(graph: try DeploymentBuilder().build(replica), options: options)
        } catch {
            row.error = "\(error)"
            return (row, nil)
        }
        let memory = analysis.memory
        let worst = memory.max { $0.totalBytes < $1.totalBytes }
        row.memory_per_gpu_bytes = worst?.totalBytes
        row.fits = memory.allSatisfy { $0.overBytes == nil }
        row.makespan_seconds = analysis.makespanSeconds
        if analysis.isDecode { row.tpot_seconds = analysis.timePerOutputToken } else { row.ttft_seconds = analysis.makespanSeconds }
        row.tokens_per_second = analysis.tokensPerSecond.map { $0 * Double(c.dp) }
        row.tokens_per_second_per_gpu = row.tokens_per_second.map { $0 / Double(row.gpus) }
        row.bottleneck = Self.bottleneck(analysis)
        if let batch = base.model.batch.intValue, let capacity = options.costModel.gpu?.usableMemory,
            memory.contains(where: { $0.peakActivationBytes > 0 })
        {
            // Activations grow with the batch, weights do not: the batch that fills the first
            // GPU to fill (not necessarily the fullest now: one with more activations per
            // sequence fills sooner).
            let share = Double(batch) / Double(c.dp)
            let fits = memory.filter { $0.peakActivationBytes > 0 }.map { gpu -> Int in
                let room = capacity - gpu.weightBytes
                let sequences = room / (gpu.peakActivationBytes / share)
                return room > 0 ? Int(min(sequences, Double(Int32.max))) : 0
            }
            // Sequences one replica holds, in whole micro-batches, times the replicas.
            let perReplica = (fits.min() ?? 0) / c.microBatches * c.microBatches
            row.largest_batch_estimate = perReplica * c.dp
        }
        return (row, nil)
    }

    static func kind(_ layout: Composition.Layout) -> String {
        switch layout {
        case .helix: "helix"
        case .attentionPool: "attention_pool"
        case .separation: "ma_separation"
        }
    }

    /// The whole deployment's DAG for `c`, all replicas, as `--emit-dot` writes it.
    func graph(_ c: Composition) throws -> OperatorGraph { try DeploymentBuilder().build(deployment(c)) }

    /// What the critical path's time goes to (`Analysis.binding`): compute, memory bandwidth or
    /// communication.
    static func bottleneck(_ analysis: Analysis) -> String {
        switch analysis.binding?.resource {
        case "network": "communication"
        case let resource?: resource
        case nil: "memory bandwidth"
        }
    }

    /// Marks the Pareto front of throughput per GPU against latency among the rows that fit:
    /// no other fitting row is at least as fast and as high in throughput, and better in one.
    static func markPareto(_ rows: inout [Row]) {
        let latency: (Row) -> Double? = { $0.tpot_seconds ?? $0.ttft_seconds }
        for i in rows.indices {
            guard rows[i].fits, let l = latency(rows[i]), let t = rows[i].tokens_per_second_per_gpu else { continue }
            let dominated = rows.indices.contains { j in
                guard j != i, rows[j].fits, let lj = latency(rows[j]), let tj = rows[j].tokens_per_second_per_gpu else { return false }
                return lj <= l && tj >= t && (lj < l || tj > t)
            }
            rows[i].pareto = !dominated
        }
    }

    /// Fitting rows first, those meeting the target next, then by throughput per GPU.
    static func rank(_ rows: [Row]) -> [Row] {
        rows.sorted { a, b in
            if a.fits != b.fits { return a.fits }
            if a.meets_target != b.meets_target { return a.meets_target }
            return (a.tokens_per_second_per_gpu ?? -1) > (b.tokens_per_second_per_gpu ?? -1)
        }
    }
}

/// The Pareto chart: latency against tokens per second per GPU, every fitting composition a
/// point, the front joined.
enum PlanChart {
    static func svg(_ rows: [Planner.Row], title: String) -> String {
        let points = rows.compactMap { r -> (Planner.Row, Double, Double)? in
            guard r.fits, let l = r.tpot_seconds ?? r.ttft_seconds, let t = r.tokens_per_second_per_gpu else { return nil }
            return (r, l * 1e3, t)
        }
        let (width, height, margin) = (720.0, 480.0, 70.0)
        let maxL = (points.map(\.1).max() ?? 1) * 1.1
        let maxT = (points.map(\.2).max() ?? 1) * 1.1
        func x(_ l: Double) -> Double { margin + l / maxL * (width - 2 * margin) }
        func y(_ t: Double) -> Double { height - margin - t / maxT * (height - 2 * margin) }
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="Helvetica" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="24" text-anchor="middle" font-size="15">\(xml(title))</text>
            <line x1="\(margin)" y1="\(height - margin)" x2="\(width - margin)" y2="\(height - margin)" stroke="black"/>
            <line x1="\(margin)" y1="\(margin)" x2="\(margin)" y2="\(height - margin)" stroke="black"/>
            <text x="\(width / 2)" y="\(height - 25)" text-anchor="middle">latency per step (ms): TTFT in prefill, TPOT in decode</text>
            <text x="20" y="\(height / 2)" text-anchor="middle" transform="rotate(-90 20 \(height / 2))">tokens/s per GPU</text>
            <text x="\(margin)" y="\(height - margin + 16)" text-anchor="middle">0</text>
            <text x="\(width - margin)" y="\(height - margin + 16)" text-anchor="middle">\(Format.number(maxL))</text>
            <text x="\(margin - 6)" y="\(margin + 4)" text-anchor="end">\(Format.number(maxT))</text>

            """
        let front = points.filter { $0.0.pareto }.sorted { $0.1 < $1.1 }
        if front.count > 1 {
            out += "<polyline fill=\"none\" stroke=\"#d6336c\" stroke-width=\"2\" points=\""
            out += front.map { "\(x($0.1)),\(y($0.2))" }.joined(separator: " ") + "\"/>\n"
        }
        for (row, l, t) in points {
            let colour = row.pareto ? "#d6336c" : "#4c8bf5"
            out += "<circle cx=\"\(x(l))\" cy=\"\(y(t))\" r=\"5\" fill=\"\(colour)\"><title>\(xml(row.composition))</title></circle>\n"
            if row.pareto {
                out += "<text x=\"\(x(l) + 8)\" y=\"\(y(t) - 6)\">\(xml(row.composition))</text>\n"
            }
        }
        return out + "</svg>\n"
    }

    private static func xml(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
