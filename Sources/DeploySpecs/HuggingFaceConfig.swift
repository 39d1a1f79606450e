import DeployBuilders
import DeployModel
import Foundation

/// Reads a Hugging Face `config.json` into the model it describes.
///
/// Every key is either used, known not to change the computation (token ids, initialisation,
/// training-only settings), or refused by name: a config is never silently approximated.
public enum HuggingFaceConfig {
    /// The architectures read, by `model_type`.
    public static let modelTypes: [String: String] = [
        "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "mixtral": "MixtralForCausalLM", "qwen2": "Qwen2ForCausalLM",
        "falcon": "FalconForCausalLM", "gpt2": "GPT2LMHeadModel", "gptj": "GPTJForCausalLM",
    ]

    /// Keys that do not change the operators, shapes or numbers of an inference step.
    static let ignoredKeys: Set<String> = [
        "_name_or_path", "architectures", "model_type", "transformers_version", "bos_token_id", "eos_token_id", "pad_token_id",
        "initializer_range", "use_cache", "max_position_embeddings", "attention_dropout", "hidden_dropout", "pretraining_tp",
        "max_window_layers", "router_aux_loss_coef", "output_router_logits", "router_jitter_noise", "use_sliding_window_cache",
        "torch_dtype_comment", "quantization_config_comment", "tokenizer_class", "auto_map", "output_attentions",
        "output_hidden_states", "return_dict", "is_decoder", "id2label", "label2id", "rms_norm_eps", "original_max_position_embeddings",
        "layer_norm_epsilon", "resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_type", "summary_use_proj",
        "summary_activation", "summary_proj_to_labels", "summary_first_dropout", "task_specific_params", "n_ctx",
        "reorder_and_upcast_attn", "gradient_checkpointing",
    ]

    /// Reads the file at `path`; messages name it and the key.
    public static func model(file path: String) throws(SpecFileError) -> TransformerModel {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw SpecFileError(file: path, line: nil, key: nil, reason: "the Hugging Face config \(reason)")
        }
        return try model(json: data, file: path)
    }

    public static func model(json data: Data, file: String) throws(SpecFileError) -> TransformerModel {
        func fail(_ key: String?, _ reason: String) -> SpecFileError {
            SpecFileError(file: file, line: line(of: key, in: data), key: key, reason: reason)
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw SpecFileError(file: file, line: nil, key: nil, reason: "not valid JSON: \(error.localizedDescription)")
        }
        guard let config = parsed as? [String: Any] else { throw fail(nil, "must be a JSON object of configuration keys") }
        var used: Set<String> = []
        func value(_ key: String) -> Any? {
            used.insert(key)
            guard let v = config[key], !(v is NSNull) else { return nil }
            return v
        }
        func int(_ key: String) throws(SpecFileError) -> Int? {
            guard let v = value(key) else { return nil }
            guard let n = v as? NSNumber, !isBoolean(n), n.doubleValue == n.doubleValue.rounded(),
                n.doubleValue > 0, n.doubleValue < 1e12
            else { throw fail(key, "must be a positive integer, got \(v)") }
            return n.intValue
        }
        func required(_ key: String) throws(SpecFileError) -> Int {
            guard let n = try int(key) else { throw fail(key, "is missing") }
            return n
        }
        func bool(_ key: String) throws(SpecFileError) -> Bool? {
            guard let v = value(key) else { return nil }
            guard let n = v as? NSNumber, isBoolean(n) else { throw fail(key, "must be true or false, got \(v)") }
            return n.boolValue
        }
        func string(_ key: String) throws(SpecFileError) -> String? {
            guard let v = value(key) else { return nil }
            guard let s = v as? String else { throw fail(key, "must be a string, got \(v)") }
            return s
        }
        func dtype(_ text: String?) throws(SpecFileError) -> DataType? {
            switch text {
            case nil: return nil
            case "bfloat16": return .bf16
            case "float16": return .fp16
            case "float32": return .fp32
            default: throw fail("torch_dtype", "is '\(text!)'; expected bfloat16, float16 or float32")
            }
        }

        guard let type = try string("model_type") else { throw fail("model_type", "is missing: say which architecture this is") }
        guard let architecture = modelTypes[type] else {
            throw fail(
                "model_type",
                "is '\(type)', which deploydag cannot represent; it reads \(modelTypes.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", "))"
            )
        }
        if let names = config["architectures"] as? [String], let first = names.first, first != architecture {
            throw fail("architectures", "names \(first), but model_type '\(type)' is \(architecture)")
        }
        if type == "gpt2" || type == "gptj" {
            // GPT-2 and GPT-J: LayerNorm with biases, a plain MLP with biases, tied (GPT-2) or
            // biased (GPT-J) head; GPT-2 adds learned positions and attention biases, GPT-J
            // rotates the first rotary_dim dimensions of each head, interleaved, and runs
            // attention and the MLP side by side.
            let gpt2 = type == "gpt2"
            let hidden = try required("n_embd")
            let heads = try required("n_head")
            guard hidden % heads == 0 else { throw fail("n_head", "must divide n_embd (\(hidden)), got \(heads)") }
            var model = TransformerModel(
                layers: try required("n_layer"), batch: Dim(1), seq: Dim(1), hidden: hidden, heads: heads, headDim: hidden / heads,
                ffn: try int("n_inner") ?? 4 * hidden, dtype: try dtype(string("torch_dtype")) ?? .fp32)
            switch try string("activation_function") ?? "gelu_new" {
            case "gelu_new", "gelu", "gelu_pytorch_tanh": model.activation = .gelu
            case "relu": model.activation = .relu
            case "silu", "swish": model.activation = .silu
            case let other:
                throw fail("activation_function", "is '\(other)', which deploydag cannot represent; expected gelu_new, gelu, relu or silu")
            }
            (model.norm, model.normBias, model.mlp, model.mlpBias) = (.layernorm, true, .plain, true)
            (model.causal, model.attention, model.vocab) = (true, .fused, try required("vocab_size"))
            let positions = try int("n_positions")
            if try bool("scale_attn_weights") == false {
                throw fail("scale_attn_weights", "is false: attention without the 1/√d scale is not represented")
            }
            if gpt2 {
                (model.qkvBias, model.outputBias, model.positions) = (true, true, positions ?? 1024)
                model.tiedEmbeddings = try bool("tie_word_embeddings") ?? true
                if try bool("scale_attn_by_inverse_layer_idx") == true {
                    throw fail("scale_attn_by_inverse_layer_idx", "is true: a per-layer attention scale is not represented")
                }
            } else {
                model.parallelResidual = true
                model.headBias = true
                model.tiedEmbeddings = try bool("tie_word_embeddings") ?? false
                if try bool("rotary") == false { throw fail("rotary", "is false: GPT-J without rotary embeddings is not represented") }
                model.rope = RotaryEmbedding(theta: 10000, rotaryDim: try int("rotary_dim"), interleaved: true)
            }
            for key in config.keys.sorted() where !used.contains(key) && !ignoredKeys.contains(key) {
                throw fail(key, "is not a key deploydag knows for \(architecture); it cannot say the key changes nothing, so it refuses it")
            }
            do {
                try model.validate()
            } catch {
                throw fail(error.key, error.reason)
            }
            return model
        }
        let hidden = try required("hidden_size")
        let heads = try required("num_attention_heads")
        let layers = try required("num_hidden_layers")
        let falcon = type == "falcon"
        var kvHeads = try int("num_key_value_heads") ?? heads
        if falcon {
            // Falcon: new_decoder_architecture's grouped K/V heads, or multi_query's one.
            if try bool("new_decoder_architecture") == true {
                kvHeads = try int("num_kv_heads") ?? heads
            } else {
                kvHeads = try bool("multi_query") ?? true ? 1 : heads
                used.insert("num_kv_heads")
            }
            if try bool("alibi") == true {
                throw fail("alibi", "is true: ALiBi attention biases are not represented (rotary embeddings are)")
            }
            if try bool("bias") == true { throw fail("bias", "is true: biases on the projections are not represented") }
            if try bool("apply_residual_connection_post_layernorm") == true {
                throw fail("apply_residual_connection_post_layernorm", "is true: a residual taken after the norm is not represented")
            }
        }
        let headDim = try int("head_dim") ?? hidden / heads
        guard headDim * heads == hidden else {
            throw fail(
                "head_dim",
                "is \(headDim), but deploydag's attention projects hidden (\(hidden)) onto heads x head_dim = \(heads * headDim); a head_dim of its own is not represented"
            )
        }
        guard hidden % heads == 0 else { throw fail("num_attention_heads", "must divide hidden_size (\(hidden)), got \(heads)") }
        let ffn = falcon ? try int("ffn_hidden_size") ?? 4 * hidden : try required("intermediate_size")
        let vocab = try required("vocab_size")

        let dtype = try dtype(string("torch_dtype")) ?? .bf16
        let activation: Activation
        switch try string(falcon ? "activation" : "hidden_act") ?? (falcon ? "gelu" : "silu") {
        case "silu", "swish": activation = .silu
        case "gelu", "gelu_pytorch_tanh", "gelu_new": activation = .gelu
        case "relu": activation = .relu
        case let other:
            throw fail(falcon ? "activation" : "hidden_act", "is '\(other)', which deploydag cannot represent; expected silu, gelu or relu")
        }

        var moe: MixtureOfExperts?
        if type == "mixtral" {
            let experts = try required("num_local_experts")
            let topK = try int("num_experts_per_tok") ?? 2
            moe = MixtureOfExperts(experts: experts, topK: topK, expertFFN: ffn)
        }
        var model = TransformerModel(
            layers: layers, batch: Dim(1), seq: Dim(1), hidden: hidden, heads: heads, headDim: headDim, ffn: ffn, dtype: dtype, moe: moe,
            kvHeads: kvHeads)
        // Llama's family: RMSNorm and a gated MLP. Falcon: LayerNorm with a bias, a plain MLP,
        // attention and MLP side by side (each with its own norm in the new architecture).
        model.norm = falcon ? .layernorm : .rmsnorm
        model.normBias = falcon
        model.mlp = falcon ? .plain : .gated
        model.activation = activation
        if falcon {
            model.parallelResidual = try bool("parallel_attn") ?? true
            let newArchitecture = try bool("new_decoder_architecture") ?? false
            model.parallelNorms = model.parallelResidual && newArchitecture
        }
        model.causal = true
        model.attention = .fused
        model.vocab = vocab
        model.tiedEmbeddings = try bool("tie_word_embeddings") ?? falcon
        let theta: Double
        if let v = value("rope_theta") {
            guard let n = v as? NSNumber, !isBoolean(n), n.doubleValue > 0 else {
                throw fail("rope_theta", "must be a positive number, got \(v)")
            }
            theta = n.doubleValue
        } else {
            theta = 10000
        }
        model.rope = RotaryEmbedding(theta: theta)
        if value("rope_scaling") != nil {
            throw fail("rope_scaling", "changes the rotary frequencies in a way deploydag does not represent; remove it or set it to null")
        }
        if type == "qwen2" {
            model.qkvBias = true
            let sliding = try bool("use_sliding_window") ?? false
            used.insert("sliding_window")
            if sliding { model.slidingWindow = try int("sliding_window") }
        } else {
            model.slidingWindow = try int("sliding_window")
        }
        if try bool("attention_bias") == true {
            throw fail("attention_bias", "is true: biases on every attention projection are not represented (Qwen2's Q/K/V biases are)")
        }
        if try bool("mlp_bias") == true { throw fail("mlp_bias", "is true: MLP biases are not represented") }
        for key in ["num_local_experts", "num_experts_per_tok"] where type != "mixtral" && config[key] != nil {
            throw fail(key, "belongs to a mixture-of-experts architecture, but model_type is '\(type)'")
        }
        for key in config.keys.sorted() where !used.contains(key) && !ignoredKeys.contains(key) {
            throw fail(key, "is not a key deploydag knows for \(architecture); it cannot say the key changes nothing, so it refuses it")
        }
        do {
            try model.validate()
        } catch {
            throw fail(error.key, error.reason)
        }
        return model
    }

    /// JSON's true and false, which Foundation hands over as NSNumbers of type `c`.
    static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    /// The line of `"key":` in the JSON text, for messages.
    static func line(of key: String?, in data: Data) -> Int? {
        guard let key, let text = String(data: data, encoding: .utf8), let range = text.range(of: "\"\(key)\"") else { return nil }
        return text[..<range.lowerBound].reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
    }
}
