import DeployModel

/// The unpartitioned transformer, layer by layer, on the same named data as the DAG.
struct Reference {
    let model: ReferenceModel
    let data: DataSource

    func run() -> Tensor {
        let m = model
        let queries = m.context == nil ? m.seq : 1
        var x = data.tensor("x", shape: [m.batch, queries, m.hidden])
        let (h, heads, d) = (m.hidden, m.heads, m.headDim)
        for layer in 0..<m.layers {
            let p = "L\(layer)."
            let ln1 = Kernels.layerNorm(x)
            let projection = try! Einsum("bsh,hnd->bsnd")
            var q = Kernels.einsum(projection, ln1, data.weight(p + "w.q", shape: [h, heads, d]))
            var k = Kernels.einsum(projection, ln1, data.weight(p + "w.k", shape: [h, heads, d]))
            var v = Kernels.einsum(projection, ln1, data.weight(p + "w.v", shape: [h, heads, d]))
            if let context = m.context {
                let cached = [m.batch, context - 1, heads, d]
                k = Tensor.concat([data.tensor(p + "k_cache", shape: cached), k], dim: 1)
                v = Tensor.concat([data.tensor(p + "v_cache", shape: cached), v], dim: 1)
            }
            let scores = Kernels.einsum(try! Einsum("bqnd,bknd->bnqk"), q, k)
            let probabilities = Kernels.softmax(scores, scale: 1 / Double(d).squareRoot())
            q = Kernels.einsum(try! Einsum("bnqk,bknd->bqnd"), probabilities, v)
            let attention = Kernels.einsum(try! Einsum("bsnd,ndh->bsh"), q, data.weight(p + "w.o_proj", shape: [heads, d, h]))
            x = x + attention
            let ln2 = Kernels.layerNorm(x)
            if let experts = m.experts, let topK = m.topK, let width = m.expertFFN {
                let logits = Kernels.einsum(try! Einsum("bsh,he->bse"), ln2, data.weight(p + "w.router", shape: [h, experts]))
                let routing = Kernels.topK(logits, k: topK)
                let tokens = m.batch * queries
                let buffers = Kernels.dispatch(ln2, routing, experts: experts, replicas: 1, capacity: tokens)
                var outputs: [Tensor] = []
                for e in 0..<experts {
                    let mine = buffers.slice(dim: 0, e, e + 1)
                    let up = Kernels.gelu(
                        Kernels.einsum(try! Einsum("ech,hf->ecf"), mine, data.weight(p + "w.expert\(e).fc1", shape: [h, width])))
                    outputs.append(Kernels.einsum(try! Einsum("ecf,fh->ech"), up, data.weight(p + "w.expert\(e).fc2", shape: [width, h])))
                }
                x =
                    x
                    + Kernels.combine(
                        Tensor.concat(outputs, dim: 0), routing, experts: experts, replicas: 1, tokenShape: [m.batch, queries])
            } else if let f = m.ffn {
                let up = Kernels.gelu(Kernels.einsum(try! Einsum("bsh,hf->bsf"), ln2, data.weight(p + "w.fc1", shape: [h, f])))
                x = x + Kernels.einsum(try! Einsum("bsf,fh->bsh"), up, data.weight(p + "w.fc2", shape: [f, h]))
            }
        }
        return x
    }
}
