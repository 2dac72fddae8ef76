#!/usr/bin/python3
"""seeds_arch.py - fuzz seeds for every architecture family: `seeds_arch.py DIR`.

tests/fuzz/seeds.c seeds the model fuzzers with one tiny llama; this adds each small preset
of tests/ref/presets.py (every family and feature: biases, fused q/k/v, parallel residual,
QK-norm, partial RoPE, layer sharing, tied heads) and each long-context one (LongRoPE, Qwen's
dynamic NTK and logn, made to act from the third position), shrunk further (1 layer, head_dim 8 or 10,
MLP 16, vocab 24, context 16) and written by tests/ref/model_files.py:
    DIR/fuzz_gguf/arch_<preset>_<dtype>    GGUF (F32 and F16)
    DIR/fuzz_hf_dir/arch_<preset>          config.json, NUL, model.safetensors
    DIR/fuzz_llama2c/arch_<preset>         llama2.c .bin (llama family only)
Needs NumPy; prints what it wrote (tests/fuzz/run.sh runs it when python3 can).
"""

import copy
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "ref"))

import model_files as mf  # noqa: E402
import presets  # noqa: E402


def shrink(cfg):
    c = copy.deepcopy(cfg)
    c["num_hidden_layers"] = 1
    heads = c["num_attention_heads"]
    hd = 10 if c.get("partial_rotary_factor") == 0.4 else 8   # rotary dims stay even
    if "head_dim" in c:  # keep whether hidden equals heads * head_dim (Gemma's does not)
        c["hidden_size"] = heads * hd if c["hidden_size"] == heads * c["head_dim"] else 16
        c["head_dim"] = hd
    else:
        c["hidden_size"] = heads * hd
    if "kv_channels" in c:
        c["kv_channels"] = hd
    c["intermediate_size"] = 32 if c["model_type"] == "qwen" else 16  # Qwen v1 halves it
    if c["model_type"] == "phi":  # Phi-2's GGUF feed_forward_length is 4 * hidden
        c["intermediate_size"] = 4 * c["hidden_size"]
    c["vocab_size"] = 24
    for k in ("max_position_embeddings", "seq_length"):
        if k in c:
            c[k] = 16
    for k in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if isinstance(c.get(k), int) and c[k] >= 24:
            c[k] = 2
    if c.get("sliding_window"):
        c["sliding_window"] = 8
    rs = c.get("rope_scaling")
    if rs:  # LongRoPE: one factor per rotated pair, scaling active past position 2
        c["rope_scaling"] = dict(rs, short_factor=rs["short_factor"][:hd // 2],
                                 long_factor=rs["long_factor"][:hd // 2])
        c["original_max_position_embeddings"], c["max_position_embeddings"] = 2, 64
    if c["model_type"] == "qwen" and c.get("seq_length") == 16 and cfg.get("seq_length", 0) < 128:
        c["seq_length"] = 2  # dynamic NTK and logn from the third position
    return c


def main():
    out = sys.argv[1]
    written = 0
    for d in ("fuzz_gguf", "fuzz_hf_dir", "fuzz_llama2c"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        every = sorted(presets.SMALL.items()) + sorted(getattr(presets, "LONG", {}).items())
        for k, (name, cfg) in enumerate(every):
            cfg = shrink(cfg)
            weights = mf.random_weights(cfg, 77 + k)
            for dtype in ("F32", "F16"):
                mf.write_gguf(os.path.join(out, "fuzz_gguf", "arch_%s_%s" % (name, dtype)), cfg,
                              weights, dtype)
                written += 1
            hf = os.path.join(tmp, name)
            mf.write_hf_dir(hf, cfg, weights, "F32")
            with open(os.path.join(out, "fuzz_hf_dir", "arch_" + name), "wb") as f:
                for part, sep in (("config.json", b"\0"), ("model.safetensors", b"")):
                    with open(os.path.join(hf, part), "rb") as p:
                        f.write(p.read() + sep)
            written += 1
            try:
                mf.write_llama2c_bin(os.path.join(out, "fuzz_llama2c", "arch_" + name), cfg,
                                     weights)
                written += 1
            except ValueError:
                pass  # not the llama family
    print("seeds_arch: %d files in %s" % (written, out))


if __name__ == "__main__":
    main()
