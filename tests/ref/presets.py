"""presets.py - HF config dicts for the seed families.

SMALL: scaled-down configs that keep every feature of the real model (same key names, eps,
rope theta, head layout kind, biases, fused tensors, residual kind, tying) so a 64-token test
exercises each code path in milliseconds. Each one says what it keeps.
FULL: the real full-size configs, for documentation only (never run here). Values and key
names are those of docs/architectures.md (Parts 2-4); keys it marks UNVERIFIED are noted.
"""

# ---------------------------------------------------------------------------------------------
# Small presets (run by tests/test_architectures.py)
# ---------------------------------------------------------------------------------------------

SMALL = {}

# TinyLlama: stock LlamaForCausalLM, GQA (4 heads share 2 kv heads), untied LM head.
SMALL["tinyllama"] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 256,
    "hidden_size": 64,
    "intermediate_size": 176,          # real 5632/2048 = 2.75x
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,          # GQA: head h reads kv head h // 2
    "max_position_embeddings": 128,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-05,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    "rope_scaling": None,
    "pretraining_tp": 1,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}

# MobileLLM: GQA with group 3 (6 heads / 2 kv heads, as 15 / 5), explicit head_dim,
# share_embedding true while tie_word_embeddings is false, so the checkpoint has no lm_head.
SMALL["mobilellm"] = {
    "architectures": ["MobileLLMForCausalLM"],
    "model_type": "mobilellm",
    "vocab_size": 320,
    "hidden_size": 96,
    "intermediate_size": 256,
    "num_hidden_layers": 3,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
    "head_dim": 16,                    # explicit in the HF config; = hidden / heads
    "max_position_embeddings": 128,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-05,
    "hidden_act": "silu",
    "share_embedding": True,
    "tie_word_embeddings": False,
    "layer_sharing": False,
    "attention_bias": False,
    "mlp_bias": False,
    "rope_scaling": None,
    "pretraining_tp": 1,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}

# MobileLLM-LS: the same plus layer_sharing (blocks applied 0,0,1,1: 4 attention applications,
# each with its own K/V).
SMALL["mobilellm_ls"] = dict(SMALL["mobilellm"], num_hidden_layers=2, layer_sharing=True,
                             vocab_size=288)

# Gemma: MQA, head_dim explicit and != hidden/heads (4 x 24 = 96 != 64), RMSNorm (1 + w),
# tanh-GELU gated MLP, embeddings x sqrt(hidden), tied head. Like the original gemma-2b
# config: hidden_act "gelu" (which HF ignores), no hidden_activation, no tie_word_embeddings
# key (the class default, true, applies).
SMALL["gemma"] = {
    "architectures": ["GemmaForCausalLM"],
    "model_type": "gemma",
    "vocab_size": 384,
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 24,
    "max_position_embeddings": 128,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-06,
    "hidden_act": "gelu",
    "attention_bias": False,
    "rope_scaling": None,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "pad_token_id": 0,
    "torch_dtype": "float32",
}

# Qwen-1.8B (v1, remote code): fused c_attn with bias, no other biases (no_bias), MLP width
# intermediate_size // 2 (w1 = up, w2 = gate), kv_channels as head_dim, rotary_emb_base.
# use_dynamic_ntk / use_logn_attn stay true as in the real model; they act only beyond
# seq_length, and the test sequence is shorter.
SMALL["qwen"] = {
    "architectures": ["QWenLMHeadModel"],
    "model_type": "qwen",
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 352,          # 2 x the real width 176
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "kv_channels": 16,
    "max_position_embeddings": 128,
    "seq_length": 128,
    "rotary_emb_base": 10000,
    "rotary_pct": 1.0,
    "layer_norm_epsilon": 1e-06,
    "no_bias": True,
    "tie_word_embeddings": False,
    "scale_attn_weights": True,
    "use_dynamic_ntk": True,
    "use_logn_attn": True,
    "use_flash_attn": "auto",
    "softmax_in_fp32": False,
    "bf16": False,
    "fp16": False,
    "fp32": True,
    "torch_dtype": "float32",
}

# Phi-2: LayerNorm with bias, partial RoPE 0.4 (head_dim 20 -> 8 rotary dims), plain
# gelu_new MLP, parallel residual, biases on q/k/v/dense/fc1/fc2/lm_head. intermediate_size is
# 4 x hidden, as in the real model, because llama.cpp's converter writes 4 * n_embd as
# phi2.feed_forward_length whatever the config says.
SMALL["phi2"] = {
    "architectures": ["PhiForCausalLM"],
    "model_type": "phi",
    "vocab_size": 320,
    "hidden_size": 80,
    "intermediate_size": 320,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128,
    "rope_theta": 10000.0,
    "partial_rotary_factor": 0.4,
    "layer_norm_eps": 1e-05,
    "hidden_act": "gelu_new",
    "qk_layernorm": False,
    "tie_word_embeddings": False,
    "rope_scaling": None,
    "resid_pdrop": 0.1,
    "embd_pdrop": 0.0,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 1,
    "torch_dtype": "float32",
}

# Phi-3-mini-4k: fused qkv_proj and gate_up_proj (gate rows first), RMSNorm, SiLU, MHA,
# sliding window 16 (real 2047 of 4096) so it acts within the 64-token test, no rope_scaling.
SMALL["phi3"] = {
    "architectures": ["Phi3ForCausalLM"],
    "model_type": "phi3",
    "vocab_size": 352,
    "hidden_size": 64,
    "intermediate_size": 176,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128,
    "original_max_position_embeddings": 128,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-05,
    "hidden_act": "silu",
    "sliding_window": 16,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
    "torch_dtype": "float32",
}

# StableLM-2-1.6B: LayerNorm with bias, partial RoPE 0.25 (head_dim 24 -> 6 rotary dims),
# q/k/v biases only, SwiGLU, sequential residual (use_parallel_residual false), untied.
SMALL["stablelm2"] = {
    "architectures": ["StableLmForCausalLM"],
    "model_type": "stablelm",
    "vocab_size": 448,
    "hidden_size": 96,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128,
    "rope_theta": 10000,
    "partial_rotary_factor": 0.25,
    "layer_norm_eps": 1e-05,
    "hidden_act": "silu",
    "use_qkv_bias": True,
    "use_parallel_residual": False,
    "qk_layernorm": False,
    "tie_word_embeddings": False,
    "rope_scaling": None,
    "torch_dtype": "float32",
}

# Qwen1.5-1.8B (Qwen2 architecture): q/k/v biases, rope_theta 1e6, untied. The real config
# carries sliding_window with use_sliding_window false; here the window (16) is small enough
# that an engine wrongly applying it would change the 64-token result.
SMALL["qwen2"] = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 176,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-06,
    "hidden_act": "silu",
    "sliding_window": 16,
    "use_sliding_window": False,
    "max_window_layers": 1,
    "tie_word_embeddings": False,
    "rope_scaling": None,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}

# StableLM-2-12B: QK-norm (per-head LayerNorm without bias over head_dim, one gain per q head
# and per kv head, before RoPE), parallel residual (no post_attention_layernorm), GQA with
# group 4 (8 heads / 2 kv heads, as 32 / 8), partial RoPE 0.25 (head_dim 16 -> 4 rotary dims;
# real 160 -> 40), no q/k/v bias, LayerNorm with bias, SwiGLU, untied. hidden 128, not ~96:
# 0.25 x head_dim must be even, so head_dim is a multiple of 8 and 8 heads need 128.
# Defined last so the other presets keep their test seeds.
SMALL["stablelm2_12b"] = {
    "architectures": ["StableLmForCausalLM"],
    "model_type": "stablelm",
    "vocab_size": 304,
    "hidden_size": 128,
    "intermediate_size": 352,          # real 13824 / 5120 = 2.7x
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,          # GQA: head h reads kv head h // 4
    "max_position_embeddings": 128,
    "rope_theta": 10000,
    "partial_rotary_factor": 0.25,
    "layer_norm_eps": 1e-05,
    "hidden_act": "silu",
    "use_qkv_bias": False,
    "use_parallel_residual": True,
    "qk_layernorm": True,
    "tie_word_embeddings": False,
    "rope_scaling": None,
    "torch_dtype": "float32",
}


# ---------------------------------------------------------------------------------------------
# Long-context presets (run by tests/test_long_context.py): the scaling features with a tiny
# original context, so 100+ tokens reach far past it.
# ---------------------------------------------------------------------------------------------

LONG = {}

# Phi-3-mini-128k: LongRoPE with 8 = 16 / 2 factors per list (every 6th of the real 48), an
# original context of 32 inside 512 positions (factor 16: attention factor
# sqrt(1 + ln 16 / ln 32) = 1.3416), and a window larger than the context (the real 262144 of
# 131072), so inactive.
LONG["phi3_128k"] = dict(
    SMALL["phi3"], max_position_embeddings=512, original_max_position_embeddings=32,
    sliding_window=1024, vocab_size=320,
    rope_scaling={"type": "longrope",
                  "short_factor": [1.1, 1.4000000000000004, 2.000000000000001, 2.000000000000001,
                                   2.000000000000001, 2.1000000000000005, 2.25,
                                   2.6999999999999984],
                  "long_factor": [1.0700000524520874, 2.129999876022339, 9.930000305175781,
                                  38.279998779296875, 53.66000747680664, 60.86738586425781,
                                  63.83739471435547, 64.12435150146484]})

# Qwen v1 with seq_length 32 (real 8192): dynamic NTK and logn attention past 32 positions.
LONG["qwen_32"] = dict(SMALL["qwen"], max_position_embeddings=32, seq_length=32, vocab_size=384)

# ---------------------------------------------------------------------------------------------
# Full-size configs (documentation; not run)
# ---------------------------------------------------------------------------------------------

FULL = {}

FULL["tinyllama"] = {          # TinyLlama/TinyLlama-1.1B-Chat-v1.0
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632,
    "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4,
    "max_position_embeddings": 2048, "rope_theta": 10000.0, "rms_norm_eps": 1e-05,
    "hidden_act": "silu", "tie_word_embeddings": False, "attention_bias": False,
    "rope_scaling": None, "pretraining_tp": 1,
    "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "torch_dtype": "float16",
}

FULL["mobilellm"] = {          # facebook/MobileLLM-350M
    "architectures": ["MobileLLMForCausalLM"], "model_type": "mobilellm",
    "vocab_size": 32000, "hidden_size": 960, "intermediate_size": 2560,
    "num_hidden_layers": 32, "num_attention_heads": 15, "num_key_value_heads": 5,
    "head_dim": 64, "max_position_embeddings": 2048, "rope_theta": 10000.0,
    "rms_norm_eps": 1e-05, "hidden_act": "silu", "share_embedding": True,
    "tie_word_embeddings": False, "layer_sharing": False, "attention_bias": False,
    "mlp_bias": False, "rope_scaling": None, "pretraining_tp": 1,
    "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float16",
}

# facebook/MobileLLM-350M-layer-share: its config.json was not read (architectures.md marks
# it UNVERIFIED); assumed the 350M dims plus layer_sharing.
FULL["mobilellm_ls"] = dict(FULL["mobilellm"], layer_sharing=True)

FULL["gemma"] = {              # google/gemma-2b (original config: hidden_act "gelu", no tie key)
    "architectures": ["GemmaForCausalLM"], "model_type": "gemma",
    "vocab_size": 256000, "hidden_size": 2048, "intermediate_size": 16384,
    "num_hidden_layers": 18, "num_attention_heads": 8, "num_key_value_heads": 1,
    "head_dim": 256, "max_position_embeddings": 8192, "rope_theta": 10000.0,
    "rms_norm_eps": 1e-06, "hidden_act": "gelu", "attention_bias": False,
    "rope_scaling": None, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
}

FULL["qwen"] = {               # Qwen/Qwen-1_8B (dtype flags as seen in copies; originals UNKNOWN)
    "architectures": ["QWenLMHeadModel"], "model_type": "qwen",
    "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 11008,
    "num_hidden_layers": 24, "num_attention_heads": 16, "kv_channels": 128,
    "max_position_embeddings": 8192, "seq_length": 8192, "rotary_emb_base": 10000,
    "rotary_pct": 1.0, "layer_norm_epsilon": 1e-06, "no_bias": True,
    "tie_word_embeddings": False, "scale_attn_weights": True, "use_dynamic_ntk": True,
    "use_logn_attn": True, "use_flash_attn": "auto", "softmax_in_fp32": False,
    "fp16": True, "torch_dtype": "float16",
}

FULL["phi2"] = {               # microsoft/phi-2
    "architectures": ["PhiForCausalLM"], "model_type": "phi",
    "vocab_size": 51200, "hidden_size": 2560, "intermediate_size": 10240,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
    "max_position_embeddings": 2048, "rope_theta": 10000.0, "partial_rotary_factor": 0.4,
    "layer_norm_eps": 1e-05, "hidden_act": "gelu_new", "qk_layernorm": False,
    "tie_word_embeddings": False, "rope_scaling": None, "resid_pdrop": 0.1,
    "embd_pdrop": 0.0, "attention_dropout": 0.0, "bos_token_id": 50256,
    "eos_token_id": 50256, "torch_dtype": "float16",
}

FULL["phi3"] = {               # microsoft/Phi-3-mini-4k-instruct
    "architectures": ["Phi3ForCausalLM"], "model_type": "phi3",
    "vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
    "max_position_embeddings": 4096, "original_max_position_embeddings": 4096,
    "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "hidden_act": "silu",
    "sliding_window": 2047, "rope_scaling": None, "tie_word_embeddings": False,
    "attention_bias": False, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
    "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 32000,
    "pad_token_id": 32000, "torch_dtype": "bfloat16",
}

# stabilityai/stablelm-2-1_6b: its config.json was not found (architectures.md); values from
# the model card, the GPT-NeoX yml and transformers defaults. intermediate_size, rope_theta and
# layer_norm_eps are UNVERIFIED.
FULL["stablelm2"] = {
    "architectures": ["StableLmForCausalLM"], "model_type": "stablelm",
    "vocab_size": 100352, "hidden_size": 2048, "intermediate_size": 5632,
    "num_hidden_layers": 24, "num_attention_heads": 32, "num_key_value_heads": 32,
    "max_position_embeddings": 4096, "rope_theta": 10000, "partial_rotary_factor": 0.25,
    "layer_norm_eps": 1e-05, "hidden_act": "silu", "use_qkv_bias": True,
    "use_parallel_residual": False, "qk_layernorm": False, "tie_word_embeddings": False,
    "rope_scaling": None,
}

FULL["qwen2"] = {              # Qwen/Qwen1.5-1.8B
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
    "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 5504,
    "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
    "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-06,
    "hidden_act": "silu", "sliding_window": 32768, "use_sliding_window": False,
    "max_window_layers": 21, "tie_word_embeddings": False, "rope_scaling": None,
    "bos_token_id": 151643, "eos_token_id": 151643, "torch_dtype": "bfloat16",
}

# stabilityai/stablelm-2-12b: config.json not read (architectures.md, "StableLM-2-12B note").
# From the GPT-NeoX yml (Stability-AI/StableLM configs/stablelm-2-12b.yml): 40 layers, hidden
# 5120, 32 heads, 8 kv heads, qk_norm (per head, no bias), gpt_j_residual (parallel),
# rotary_pct 0.25, rotary base 10000, gated silu MLP, no weight tying, seq length 4096,
# use_bias_in_attn_linear false (-> use_qkv_bias false). UNVERIFIED: the HF key values as
# such; intermediate_size 13824 (not in the doc: 8/3 x 5120 = 13653 rounded up to the yml's
# mlp_multiple_of 256); vocab_size 100352 (the Arcade100k size of the 1.6B); layer_norm_eps
# 1e-5 (transformers default). The yml also says use_bias_in_norms false while HF's
# nn.LayerNorm has a bias: the checkpoint's LayerNorm biases may be zeros (UNKNOWN).
FULL["stablelm2_12b"] = {
    "architectures": ["StableLmForCausalLM"], "model_type": "stablelm",
    "vocab_size": 100352, "hidden_size": 5120, "intermediate_size": 13824,
    "num_hidden_layers": 40, "num_attention_heads": 32, "num_key_value_heads": 8,
    "max_position_embeddings": 4096, "rope_theta": 10000, "partial_rotary_factor": 0.25,
    "layer_norm_eps": 1e-05, "hidden_act": "silu", "use_qkv_bias": False,
    "use_parallel_residual": True, "qk_layernorm": True, "tie_word_embeddings": False,
    "rope_scaling": None,
}
