import DeployModel

/// The unpartitioned transformer, layer by layer, on the same named data as the DAG. It is
/// written from the model's description alone: attention as scores, a masked softmax and a
/// weighted sum with each K/V head repeated for its query heads (where the DAG may use one
/// fused kernel), positions counted from the model's own prompt and cache.
struct Reference {
    let model: ReferenceModel
    let data: DataSource
    /// Decode: each layer's cached keys (rotated) and values, where they come from a prefill
    /// run rather than from the named data.
    var caches: [Int: (k: Tensor, v: Tensor)] = [:]
    /// Per layer, the token-expert assignments (token x experts + expert) the DAG's dispatches
    /// dropped for want of capacity: the reference drops them too (their gate counts 0), so a
    /// DAG built with a capacity factor is compared with the model it computes.
    var dropped: [Int: Set<Int>] = [:]
    /// Where given: each weight's product (and each norm's output), by the weight's name
    /// (`L0.w.q` the queries before rotation, `L0.w.o_proj` attention's projection, `L0.w.fc2`
    /// the MLP's output), each layer's attention output before its projection (`L0.attention`)
    /// and the residual stream after each of its sums (`L0.residual1`, `L0.residual2`), so that
    /// verify can name the first node of a DAG that differs.
    var recorder: Recorder?

    /// The reference's intermediate tensors, by weight name (one run, one thread).
    final class Recorder {
        var tensors: [String: Tensor] = [:]
    }

    /// The model's output; `capture` is given each layer's keys (rotated) and values.
    func run(capture: ((Int, Tensor, Tensor) -> Void)? = nil) -> Tensor {
        let m = model
        let queries = m.context == nil ? m.seq : 1
        let (h, heads, kvHeads, d) = (m.hidden, m.heads, m.kvHeads, m.headDim)
        // Position of the first query: after the cached tokens in decode.
        let firstPosition = m.context.map { $0 - 1 } ?? 0
        var x: Tensor
        if let vocab = m.vocab {
            let ids = data.tokens("tokens", shape: [m.batch, queries], vocab: vocab)
            x = Kernels.embedding(ids, data.weight("w.embed", shape: [vocab, h]), first: 0)
            if let positions = m.positions {
                let at = Tensor(shape: [m.batch, queries], data: (0..<(m.batch * queries)).map { Double(firstPosition + $0 % queries) })
                x = x + Kernels.embedding(at, data.weight("w.pos_embed", shape: [positions, h]), first: 0)
            }
        } else {
            x = data.tensor("x", shape: [m.batch, queries, m.hidden])
        }
        func normed(_ t: Tensor, _ name: String) -> Tensor {
            let n = m.norm == "rmsnorm" ? Kernels.rmsNorm(t) : Kernels.layerNorm(t)
            guard m.normGains else {
                recorder?.tensors[name] = n
                return n
            }
            let scaled = Kernels.scaled(n, by: data.weight(name, shape: [h]))
            let out = m.normBias ? Kernels.shifted(scaled, by: data.weight(name + ".bias", shape: [h])) : scaled
            recorder?.tensors[name] = out
            return out
        }
        func act(_ t: Tensor) -> Tensor {
            switch m.activation {
            case "silu": Kernels.silu(t)
            case "relu": Kernels.relu(t)
            default: Kernels.gelu(t)
            }
        }
        /// `t` plus the bias `name` along its last dimension.
        func biased(_ t: Tensor, _ name: String) -> Tensor {
            Kernels.shifted(t, by: data.weight(name, shape: [t.shape.last!]))
        }
        /// The MLP on `[tokens..., h]` with weights `<prefix>gate/up/down` or `<prefix>fc1/fc2`
        /// (biased where the model says; the routed experts never are).
        func mlp(_ input: Tensor, _ prefix: String, width f: Int, _ letters: (String, String), bias: Bool = false) -> Tensor {
            let up = try! Einsum(letters.0)
            let down = try! Einsum(letters.1)
            func project(_ x: Tensor, _ name: String, _ e: Einsum, _ shape: [Int]) -> Tensor {
                let product = Kernels.einsum(e, x, data.weight(prefix + name, shape: shape))
                let out = bias ? biased(product, prefix + name + ".bias") : product
                // Not an expert's: its buffer's rows are not the DAG's capacity-limited ones.
                if !prefix.contains("expert") { recorder?.tensors[prefix + name] = out }
                return out
            }
            if m.gated {
                let gate = project(input, "gate", up, [h, f])
                let upped = project(input, "up", up, [h, f])
                return project(Kernels.mul(act(gate), upped), "down", down, [f, h])
            }
            return project(act(project(input, "fc1", up, [h, f])), "fc2", down, [f, h])
        }
        let projection = try! Einsum("bsh,hnd->bsnd")
        func project(_ input: Tensor, _ name: String, heads n: Int) -> Tensor {
            var out = Kernels.einsum(projection, input, data.weight(name, shape: [h, n, d]))
            if m.qkvBias {
                let bias = data.weight(name + ".bias", shape: [n, d])
                out = Tensor(shape: out.shape, data: out.data.enumerated().map { $0.element + bias.data[$0.offset % bias.count] })
            }
            recorder?.tensors[name] = out
            return out
        }
        for layer in 0..<m.layers {
            let p = "L\(layer)."
            let ln1 = normed(x, p + "w.ln1")
            var q = project(ln1, p + "w.q", heads: heads)
            var k = project(ln1, p + "w.k", heads: kvHeads)
            var v = project(ln1, p + "w.v", heads: kvHeads)
            if let theta = m.ropeTheta {
                q = Kernels.rope(q, theta: theta, offset: firstPosition, rotaryDim: m.rotaryDim, interleaved: m.ropeInterleaved)
                k = Kernels.rope(k, theta: theta, offset: firstPosition, rotaryDim: m.rotaryDim, interleaved: m.ropeInterleaved)
            }
            capture?(layer, k, v)
            if let context = m.context {
                let cached = [m.batch, context - 1, kvHeads, d]
                let cache = caches[layer] ?? (data.tensor(p + "k_cache", shape: cached), data.tensor(p + "v_cache", shape: cached))
                k = Tensor.concat([cache.k, k], dim: 1)
                v = Tensor.concat([cache.v, v], dim: 1)
            }
            // Each query head reads its group's K/V head: repeat them to one per query head.
            if kvHeads != heads {
                k = Self.repeatHeads(k, times: heads / kvHeads)
                v = Self.repeatHeads(v, times: heads / kvHeads)
            }
            let scores = Kernels.einsum(try! Einsum("bqnd,bknd->bnqk"), q, k)
            let probabilities = Kernels.maskedSoftmax(
                scores, scale: 1 / Double(d).squareRoot(), causal: m.causal, window: m.slidingWindow, queryOffset: firstPosition)
            let context = Kernels.einsum(try! Einsum("bnqk,bknd->bqnd"), probabilities, v)
            recorder?.tensors[p + "attention"] = context
            var attention = Kernels.einsum(try! Einsum("bsnd,ndh->bsh"), context, data.weight(p + "w.o_proj", shape: [heads, d, h]))
            if m.outputBias { attention = biased(attention, p + "w.o_proj.bias") }
            recorder?.tensors[p + "w.o_proj"] = attention
            if m.parallelResidual, let f = m.ffn {
                let mlpInput = m.parallelNorms ? normed(x, p + "w.ln2") : ln1
                x = x + attention + mlp(mlpInput, p + "w.", width: f, ("bsh,hf->bsf", "bsf,fh->bsh"), bias: m.mlpBias)
                continue
            }
            x = x + attention
            recorder?.tensors[p + "residual1"] = x
            let ln2 = normed(x, p + "w.ln2")
            if let experts = m.experts, let topK = m.topK, let width = m.expertFFN {
                let logits = Kernels.einsum(try! Einsum("bsh,he->bse"), ln2, data.weight(p + "w.router", shape: [h, experts]))
                recorder?.tensors[p + "w.router"] = logits
                var routing = Kernels.topK(logits, k: topK)
                let tokens = m.batch * queries
                if let lost = dropped[layer], !lost.isEmpty, let chosen = routing.indices {
                    var gates = routing.data
                    for t in 0..<tokens {
                        for j in 0..<topK where lost.contains(t * experts + chosen[t * topK + j]) { gates[t * topK + j] = 0 }
                    }
                    routing = Tensor(shape: routing.shape, data: gates, indices: chosen)
                }
                let buffers = Kernels.dispatch(ln2, routing, experts: experts, replicas: 1, capacity: tokens)
                var outputs: [Tensor] = []
                for e in 0..<experts {
                    let mine = buffers.slice(dim: 0, e, e + 1)
                    outputs.append(mlp(mine, p + "w.expert\(e).", width: width, ("ech,hf->ecf", "ecf,fh->ech")))
                }
                x =
                    x
                    + Kernels.combine(
                        Tensor.concat(outputs, dim: 0), routing, experts: experts, replicas: 1, tokenShape: [m.batch, queries])
                if let shared = m.sharedExpertFFN {
                    x = x + mlp(ln2, p + "w.shared.", width: shared, ("bsh,hf->bsf", "bsf,fh->bsh"))
                } else {
                    recorder?.tensors[p + "residual2"] = x
                }
            } else if let f = m.ffn {
                x = x + mlp(ln2, p + "w.", width: f, ("bsh,hf->bsf", "bsf,fh->bsh"), bias: m.mlpBias)
                recorder?.tensors[p + "residual2"] = x
            }
        }
        guard let vocab = m.vocab else { return x }
        var last = normed(x, "w.final_norm")
        if m.context == nil { last = last.slice(dim: 1, queries - 1, queries) }
        let head = data.weight(m.tiedEmbeddings ? "w.embed" : "w.lm_head", shape: [vocab, h])
        let logits = Kernels.einsum(try! Einsum("bsh,vh->bsv"), last, head)
        return m.headBias ? biased(logits, (m.tiedEmbeddings ? "w.embed" : "w.lm_head") + ".bias") : logits
    }

    /// `[b, s, kv, d]` with each head repeated `times` times in place: `[b, s, kv x times, d]`.
    static func repeatHeads(_ t: Tensor, times: Int) -> Tensor {
        let d = t.shape[3]
        var out: [Double] = []
        out.reserveCapacity(t.count * times)
        for base in stride(from: 0, to: t.count, by: d) {
            for _ in 0..<times { out.append(contentsOf: t.data[base..<(base + d)]) }
        }
        return Tensor(shape: [t.shape[0], t.shape[1], t.shape[2] * times, d], data: out)
    }
}
