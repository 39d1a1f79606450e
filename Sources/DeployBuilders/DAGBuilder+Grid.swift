import DeployModel

/// Pipeline stages that hold several tensor-parallel groups side by side ("rows"): the shards
/// of a prompt under context parallelism, or the attention data-parallel groups of expert
/// parallelism. Row `r` of a stage is its GPUs `r x tp ..< (r + 1) x tp`; every tensor a row
/// holds is part `r` of the model's along the row's dimension (the sequence, or the batch),
/// inside which the tensor-parallel split applies (`outer`).
extension DAGBuilder {
    /// The stage's GPUs as rows of `tp`.
    static func rows(_ gpus: [Int], tp: Int) -> [[Int]] {
        stride(from: 0, to: gpus.count, by: tp).map { Array(gpus[$0..<min($0 + tp, gpus.count)]) }
    }

    /// What a row holds a part of: the prompt's sequence (context parallelism) or the batch
    /// (attention data parallelism).
    enum RowSplit {
        case sequence
        case batch

        var dim: Int { self == .sequence ? 1 : 0 }
        func tag(_ row: Int) -> String { self == .sequence ? ".cp\(row)" : ".adp\(row)" }
    }

    mutating func enterRow(_ row: Int, of count: Int, _ split: RowSplit) {
        setRow(row, of: count, dim: split.dim, tag: split.tag(row))
    }

    /// The model's inputs for every row, row after row (flattened).
    mutating func rowInputs(model: TransformerModel, phase: Phase, rows: [[Int]], split: RowSplit) throws -> [Int] {
        var x: [Int] = []
        // A row's tensors are its part of the model's: its shard of the prompt or of the batch.
        var part = model
        switch split {
        case .sequence: part.seq = try model.seq.divided(by: rows.count)
        case .batch: part.batch = try model.batch.divided(by: rows.count)
        }
        for (r, row) in rows.enumerated() {
            enterRow(r, of: rows.count, split)
            x += try modelInputs(model: part, phase: phase, gpus: row)
        }
        clearRow()
        return x
    }

    /// The model's outputs for every row. Under context parallelism only the last shard holds
    /// the token a model with a vocabulary samples: its row alone runs the head, on the one
    /// token its last layer computed (`contextParallelLayer`).
    mutating func rowOutputs(model: TransformerModel, phase: Phase, rows: [[Int]], split: RowSplit, x: [Int]) throws {
        let tp = rows.first?.count ?? 1
        if split == .sequence, model.vocab != nil {
            rowTag = rows.count > 1 ? split.tag(rows.count - 1) : ""
            try modelOutputs(model: model, phase: phase, gpus: rows[rows.count - 1], x: x, lastTokenOnly: true)
            clearRow()
            return
        }
        for (r, row) in rows.enumerated() {
            enterRow(r, of: rows.count, split)
            try modelOutputs(model: model, phase: phase, gpus: row, x: Array(x[(r * tp)..<((r + 1) * tp)]))
        }
        clearRow()
    }

    /// One layer under context parallelism (prefill): each row takes a contiguous shard of the
    /// prompt through the layer as a tensor-parallel group does, except attention, for which
    /// each tensor rank all-gathers the shards' keys and values along the sequence over its
    /// `cp` GPUs (one per row) and attends its own queries, at their positions in the prompt,
    /// over all of them.
    ///
    /// With `lastTokenOnly` (the last layer of a model whose head samples the last token) only
    /// that token's result is wanted: the other rows compute their keys and values alone, and
    /// the last row the rest of the layer for its last token (the whole model's), so that no
    /// node computes what nothing reads. Returns the last row's outputs only, then.
    mutating func contextParallelLayer(model: TransformerModel, phase: Phase, rows: [[Int]], x: [Int], lastTokenOnly: Bool = false)
        throws -> [Int]
    {
        let (cp, t) = (rows.count, rows[0].count)
        let shard = try model.seq.divided(by: cp)
        func offset(_ r: Int) throws -> Dim { try shard.multiplied(by: r) }
        func mine(_ r: Int) -> [Int] { Array(x[(r * t)..<((r + 1) * t)]) }
        guard let prompt = model.seq.intValue else { throw SpecError(key: "seq", "must be an integer under cp") }
        let lastPosition = Dim(prompt - 1)
        func lastToken(_ key: String, _ gpu: Int, _ input: Int, _ title: String) -> Int {
            // From the end of the last shard: the whole prompt's last token, no row part.
            let row = outer
            outer = [:]
            defer { outer = row }
            return narrow(key, title: title, gpu: gpu, input: input, dim: 1, start: -1, length: 1, place: .replicate)
        }
        block = "attention"
        var normed: [[Int]] = []
        var projected: [[(q: Int?, k: Int, v: Int)]] = []
        var queried: [[Int]] = []
        for (r, row) in rows.enumerated() {
            enterRow(r, of: cp, .sequence)
            let input = mine(r)
            let ln = row.enumerated().map { i, gpu in norm(model, "ln1", title: "1", gpu: gpu, input: input[i], place: .replicate) }
            normed.append(ln)
            let last = lastTokenOnly && r == cp - 1
            let queries = last ? row.enumerated().map { i, gpu in lastToken("ln1_last", gpu, ln[i], "last token's normed input") } : ln
            queried.append(queries)
            projected.append(
                try row.enumerated().map { rank, gpu in
                    try projectQKV(
                        model: model, rank: rank, of: t, gpu: gpu, input: ln[rank], offset: try offset(r),
                        query: last ? (queries[rank], lastPosition) : nil, keysOnly: lastTokenOnly && !last)
                })
        }
        clearRow()
        var keys: [Int] = []
        var values: [Int] = []
        for rank in 0..<t {
            let group = rows.map { $0[rank] }
            let (kvParts, _) = Self.kvSharing(model, tp: t)
            let place = Self.shard(2, rank / (t / kvParts), of: kvParts)
            rowTag = t > 1 ? ".tp\(rank)" : ""
            keys.append(
                try allGather(
                    "k_all_gather", title: "the prompt's keys, every shard", group: group, inputs: projected.map { $0[rank].k }, dim: 1,
                    place: place))
            values.append(
                try allGather(
                    "v_all_gather", title: "the prompt's values, every shard", group: group, inputs: projected.map { $0[rank].v },
                    dim: 1, place: place))
        }
        rowTag = ""
        var out: [Int] = []
        for (r, row) in rows.enumerated() where !lastTokenOnly || r == cp - 1 {
            enterRow(r, of: cp, .sequence)
            var input = mine(r)
            var ln = normed[r]
            var at = try offset(r)
            var tokenPhase = phase
            if lastTokenOnly {
                input = row.enumerated().map { i, gpu in lastToken("x_last", gpu, input[i], "last token's residual stream") }
                ln = queried[r]
                at = lastPosition
                outer = [:]
                // One token per sequence: the experts' tokens are split along the batch.
                tokenPhase = .decode(context: Dim(prompt + 1))
            }
            let terms = try row.enumerated().map { rank, gpu in
                try attend(
                    model: model, rank: rank, of: t, gpu: gpu, q: projected[r][rank].q!, keys: keys[rank], values: values[rank],
                    offset: at)
            }
            out += try finishLayer(model: model, phase: tokenPhase, gpus: row, x: input, normed: ln, attention: terms)
            block = "attention"
        }
        clearRow()
        return out
    }

    /// One layer under expert parallelism wider than tensor parallelism: attention on each
    /// attention data-parallel group (a row, with its share of the batch), then the experts
    /// over every GPU of the stage, the tokens dispatched to them and combined back by
    /// all-to-alls over all of them.
    mutating func expertParallelLayer(model: TransformerModel, moe: MixtureOfExperts, phase: Phase, rows: [[Int]], x: [Int]) throws
        -> [Int]
    {
        let t = rows[0].count
        var attended: [Int] = []
        for (r, row) in rows.enumerated() {
            enterRow(r, of: rows.count, .batch)
            let input = Array(x[(r * t)..<((r + 1) * t)])
            block = "attention"
            let normed = row.enumerated().map { i, gpu in norm(model, "ln1", title: "1", gpu: gpu, input: input[i], place: .replicate) }
            let terms = try attentionTerms(model: model, phase: phase, gpus: row, normed: normed)
            attended += finishAttention(gpus: row, x: input, terms: terms)
        }
        clearRow()
        return try expertParallelMoE(
            model: model, moe: moe, gpus: rows.flatMap { $0 }, tokenDim: Self.tokenDim(phase), x: attended, attentionGroups: rows.count)
    }
}
