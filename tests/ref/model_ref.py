"""model_ref.py - independent NumPy reference forward pass for the libtinylm seed families.

Written from docs/architectures.md (Part 1 defines each feature; Parts 3-4 give each family's
HF config keys and weight names). It shares no code with the C engine and imports nothing from
it, so agreement between the two is evidence that both follow the spec.

    feat = features(cfg)                   # the only code that looks at model_type
    logits = forward(feat, weights, ids)   # one forward pass for every family -> [T, vocab]

`cfg` is an HF config dict as it appears in that family's config.json; `weights` maps HF tensor
names to arrays (Linear weights [out, in]). The pass evaluates the ids as one sequence from
position 0 with no cache, in float32 (the dtype argument exists only for diagnosis).
"""

import math
from dataclasses import dataclass, field

import numpy as np


# ---------------------------------------------------------------------------------------------
# Config -> features
# ---------------------------------------------------------------------------------------------

@dataclass
class Features:
    dim: int                      # hidden size
    n_layers: int                 # stored blocks
    n_heads: int
    n_kv_heads: int               # == n_heads: MHA; a divisor: GQA; 1: MQA
    head_dim: int
    ffn_dim: int                  # the real MLP width (Qwen v1: config value / 2)
    vocab_size: int
    max_seq: int                  # training context
    rope_dim: int                 # rotated dims per head; < head_dim is partial RoPE
    rope_theta: float
    norm: str                     # "rms" or "layer" (LayerNorm with bias)
    norm_eps: float
    norm_plus_one: bool           # Gemma: gain is (1 + w)
    act: str                      # "silu" or "gelu_tanh"
    mlp_gated: bool               # down(act(gate) * up); else down(act(up))
    parallel_residual: bool       # x + attn(n) + mlp(n) with one norm
    sliding_window: int           # 0: plain causal; else key j visible from i iff i - W < j <= i
    layer_sharing: bool           # each stored block applied twice in a row (MobileLLM-LS)
    tied: bool                    # LM head is the embedding matrix
    embed_scale: float            # 1, or sqrt(dim) for Gemma
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    head_bias: bool
    # Long context (architectures.md Part 1 "Scaled variants", Phi-3 and Qwen v1 sections).
    # orig_ctx: the training length the scaling measures from (LongRoPE's
    # original_max_position_embeddings, Qwen v1's seq_length); 0 when none applies.
    orig_ctx: int = 0
    longrope: bool = False          # inv_freq[i] / factor[i], cos and sin x attn_factor
    rope_short: tuple = ()
    rope_long: tuple = ()
    attn_factor: float = 1.0
    dynamic_ntk: bool = False       # Qwen v1: base * alpha^(d/(d-2)), alpha from the prefill
    logn_attn: bool = False         # Qwen v1: q[p] *= log(p+1)/log(seq_length) past it
    # QK-norm (architectures.md Part 1): "" none, else the norm kind ("layer": LayerNorm
    # without bias, "rms") applied over head_dim to each q and k head after the projection
    # and before RoPE, eps = norm_eps. Per head: each head has its own gain, the names of
    # roles "q_norm" / "k_norm" then hold "{h}" for the head index (StableLM-2-12B); else one
    # gain of head_dim values is shared by all heads.
    qk_norm: str = ""
    qk_norm_per_head: bool = False
    # HF tensor names by role; "{i}" is the stored block index. A role missing from the table
    # does not exist in this family (e.g. "mlp_norm" with a parallel residual, "lm_head" when
    # tied); "qkv" / "gate_up" replace "q","k","v" / "gate","up" when the checkpoint fuses them.
    # "q_norm" / "k_norm" exist only with qk_norm.
    names: dict = field(default_factory=dict)

    def n_apply(self):
        """Applied layers: each stored block twice under layer sharing."""
        return 2 * self.n_layers if self.layer_sharing else self.n_layers

    def block_of(self, a):
        """Stored block used by applied layer a (block-wise repeat 0,0,1,1,...)."""
        return a // 2 if self.layer_sharing else a


def _llama_names(prefix="model.layers.{i}."):
    """The Llama module tree, shared by most HF families."""
    return {
        "embed": "model.embed_tokens",
        "attn_norm": prefix + "input_layernorm",
        "q": prefix + "self_attn.q_proj",
        "k": prefix + "self_attn.k_proj",
        "v": prefix + "self_attn.v_proj",
        "o": prefix + "self_attn.o_proj",
        "mlp_norm": prefix + "post_attention_layernorm",
        "gate": prefix + "mlp.gate_proj",
        "up": prefix + "mlp.up_proj",
        "down": prefix + "mlp.down_proj",
        "final_norm": "model.norm",
        "lm_head": "lm_head",
    }


def _longrope(cfg, f):
    """HF rope_scaling {"type": "longrope"|"su", short_factor, long_factor} (Phi-3-128k):
    factors per rotary pair; attention factor as transformers' _compute_longrope_parameters:
    rope_scaling.attention_factor, else sqrt(1 + ln(max/orig) / ln(orig)) when max > orig."""
    rs = cfg.get("rope_scaling")
    if rs is None:
        return
    kind = rs.get("rope_type", rs.get("type"))
    if kind not in ("longrope", "su"):
        raise NotImplementedError("rope_scaling %r" % (rs,))
    orig = cfg.get("original_max_position_embeddings") or rs["original_max_position_embeddings"]
    half = f["rope_dim"] // 2
    if len(rs["short_factor"]) != half or len(rs["long_factor"]) != half:
        raise ValueError("LongRoPE factor lists must have rotary dims / 2 = %d entries" % half)
    factor = cfg["max_position_embeddings"] / orig
    attn = rs.get("attention_factor")
    if attn is None:
        attn = math.sqrt(1 + math.log(factor) / math.log(orig)) if factor > 1.0 else 1.0
    f.update(longrope=True, orig_ctx=orig, attn_factor=attn,
             rope_short=tuple(rs["short_factor"]), rope_long=tuple(rs["long_factor"]))


def ntk_alpha(n_tokens, seq_length):
    """Qwen v1 QWenModel.get_ntk_alpha for a forward without cache of n_tokens."""
    context_value = math.log(n_tokens / seq_length, 2) + 1
    return max(2 ** math.ceil(context_value) - 1, 1)


def logn_factor(p, seq_length):
    """Qwen v1's logn table entry for absolute position p (built from range(1, 32768); the
    same formula is used past the table's end, where the reference code would fail)."""
    return math.log(p + 1, seq_length) if p + 1 > seq_length else 1.0


def _no_rope_scaling(cfg):
    if cfg.get("rope_scaling") is not None:
        raise NotImplementedError("rope_scaling %r is not in the reference yet"
                                  % (cfg["rope_scaling"],))


def _only_act(cfg, key, allowed):
    if cfg.get(key, allowed) != allowed:
        raise NotImplementedError("%s %r" % (key, cfg[key]))


def _rotary_dims(head_dim, fraction):
    # HF: int(head_dim * fraction); pairs need an even count.
    d = int(head_dim * fraction)
    if d % 2 or d <= 0 or d > head_dim:
        raise ValueError("rotary dims %d (head_dim %d x %g) must be even and in (0, head_dim]"
                         % (d, head_dim, fraction))
    return d


def features(cfg):
    """Reads an HF config dict into Features. The only place that knows family names."""
    mt = cfg["model_type"]
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    # Llama-like defaults; each family below overrides what differs.
    f = dict(dim=d, n_layers=cfg["num_hidden_layers"], n_heads=H,
             n_kv_heads=cfg.get("num_key_value_heads") or H,
             head_dim=cfg.get("head_dim") or d // H, ffn_dim=cfg.get("intermediate_size"),
             vocab_size=cfg["vocab_size"], max_seq=cfg.get("max_position_embeddings", 0),
             rope_dim=None, rope_theta=float(cfg.get("rope_theta", 10000.0)),
             norm="rms", norm_eps=cfg.get("rms_norm_eps"), norm_plus_one=False, act="silu",
             mlp_gated=True, parallel_residual=False, sliding_window=0, layer_sharing=False,
             tied=bool(cfg.get("tie_word_embeddings", False)), embed_scale=1.0,
             qkv_bias=False, o_bias=False, mlp_bias=False, head_bias=False,
             names=_llama_names())
    names = f["names"]

    if mt in ("llama", "mobilellm"):
        _no_rope_scaling(cfg)
        _only_act(cfg, "hidden_act", "silu")
        f["qkv_bias"] = f["o_bias"] = bool(cfg.get("attention_bias", False))
        f["mlp_bias"] = bool(cfg.get("mlp_bias", False))
        # MobileLLM's own code reuses the embedding for the logits when share_embedding is
        # set, while tie_word_embeddings stays false (architectures.md, MobileLLM M7).
        f["tied"] = f["tied"] or bool(cfg.get("share_embedding", False))
        f["layer_sharing"] = bool(cfg.get("layer_sharing", False))

    elif mt == "gemma":
        _no_rope_scaling(cfg)
        # HF Gemma ignores hidden_act ("gelu" in the original config) and uses tanh-GELU
        # unless hidden_activation says otherwise (architectures.md, Gemma config table).
        _only_act(cfg, "hidden_activation", "gelu_pytorch_tanh")
        f["act"] = "gelu_tanh"
        f["norm_plus_one"] = True
        f["tied"] = bool(cfg.get("tie_word_embeddings", True))      # the class default
        # llama.cpp and the spec use the exact float32 sqrt, not HF-bf16's 45.25
        f["embed_scale"] = float(np.float32(math.sqrt(d)))
        f["qkv_bias"] = f["o_bias"] = bool(cfg.get("attention_bias", False))

    elif mt == "qwen":
        # Qwen v1 remote code (QWenLMHeadModel). c_attn always has a bias; no_bias only
        # affects attn.c_proj and the MLP. w1 is the linear branch, w2 the SiLU one, and both
        # are intermediate_size // 2 wide.
        hd = cfg["kv_channels"]
        if hd * H != d:
            raise ValueError("qwen: kv_channels * heads must equal hidden_size")
        no_bias = bool(cfg.get("no_bias", True))
        p = "transformer.h.{i}."
        f.update(n_kv_heads=H, head_dim=hd, ffn_dim=cfg["intermediate_size"] // 2,
                 rope_dim=_rotary_dims(hd, cfg.get("rotary_pct", 1.0)),
                 rope_theta=float(cfg.get("rotary_emb_base", 10000.0)),
                 norm_eps=cfg["layer_norm_epsilon"], qkv_bias=True, o_bias=not no_bias,
                 mlp_bias=not no_bias,
                 names={"embed": "transformer.wte", "attn_norm": p + "ln_1",
                        "qkv": p + "attn.c_attn", "o": p + "attn.c_proj", "mlp_norm": p + "ln_2",
                        "gate": p + "mlp.w2", "up": p + "mlp.w1", "down": p + "mlp.c_proj",
                        "final_norm": "transformer.ln_f", "lm_head": "lm_head"})
        # Beyond seq_length the real model switches on dynamic NTK / logn attention
        # (QWenConfig's defaults: both on).
        f["dynamic_ntk"] = bool(cfg.get("use_dynamic_ntk", True))
        f["logn_attn"] = bool(cfg.get("use_logn_attn", True))
        f["orig_ctx"] = cfg.get("seq_length", cfg.get("max_position_embeddings"))

    elif mt == "phi":
        _no_rope_scaling(cfg)
        # PhiMLP applies ACT2FN[hidden_act] to fc1's output, whatever the name says
        act = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
               "silu": "silu"}.get(cfg.get("hidden_act", "gelu_new"))
        if act is None:
            raise NotImplementedError("hidden_act %r" % cfg["hidden_act"])
        if cfg.get("qk_layernorm", False):
            raise NotImplementedError("phi qk_layernorm")
        p = "model.layers.{i}."
        f.update(head_dim=d // H, norm="layer", norm_eps=cfg["layer_norm_eps"], act=act,
                 mlp_gated=False, parallel_residual=True,   # always; not a config key
                 qkv_bias=True, o_bias=True, mlp_bias=True, head_bias=True,
                 names={"embed": "model.embed_tokens", "attn_norm": p + "input_layernorm",
                        "q": p + "self_attn.q_proj", "k": p + "self_attn.k_proj",
                        "v": p + "self_attn.v_proj", "o": p + "self_attn.dense",
                        "up": p + "mlp.fc1", "down": p + "mlp.fc2",
                        "final_norm": "model.final_layernorm", "lm_head": "lm_head"})
        f["rope_dim"] = _rotary_dims(f["head_dim"], cfg.get("partial_rotary_factor", 1.0))

    elif mt == "phi3":
        _only_act(cfg, "hidden_act", "silu")
        p = "model.layers.{i}."
        for role in ("q", "k", "v", "gate", "up"):
            del names[role]
        names["qkv"] = p + "self_attn.qkv_proj"
        names["gate_up"] = p + "mlp.gate_up_proj"
        f["head_dim"] = d // H
        f["rope_dim"] = _rotary_dims(f["head_dim"], cfg.get("partial_rotary_factor", 1.0))
        f["sliding_window"] = int(cfg.get("sliding_window") or 0)
        f["qkv_bias"] = f["o_bias"] = bool(cfg.get("attention_bias", False))
        _longrope(cfg, f)       # Phi-3-mini-128k

    elif mt == "stablelm":
        _no_rope_scaling(cfg)
        _only_act(cfg, "hidden_act", "silu")
        f.update(head_dim=d // H, norm="layer", norm_eps=cfg.get("layer_norm_eps", 1e-5),
                 parallel_residual=bool(cfg.get("use_parallel_residual", False)),
                 qkv_bias=bool(cfg.get("use_qkv_bias", False)))
        f["rope_dim"] = _rotary_dims(f["head_dim"], cfg.get("partial_rotary_factor", 1.0))
        if f["parallel_residual"]:
            del names["mlp_norm"]
        if cfg.get("qk_layernorm", False):
            # StableLM-2-12B (T-slm StableLmLayerNormPerHead): head h of q has its own
            # LayerNorm(head_dim, layer_norm_eps, bias=False), weight q_layernorm.norms.h;
            # likewise k over the kv heads. Applied after the reshape to heads, before RoPE.
            f.update(qk_norm="layer", qk_norm_per_head=True)
            p = "model.layers.{i}.self_attn."
            names["q_norm"] = p + "q_layernorm.norms.{h}"
            names["k_norm"] = p + "k_layernorm.norms.{h}"

    elif mt == "qwen2":
        _no_rope_scaling(cfg)
        _only_act(cfg, "hidden_act", "silu")
        # sliding_window is in every Qwen2 config but inert while use_sliding_window is false
        if cfg.get("use_sliding_window", False):
            raise NotImplementedError("qwen2 use_sliding_window (per-layer windows)")
        f["qkv_bias"] = True

    else:
        raise NotImplementedError("model_type %r" % mt)

    if f["rope_dim"] is None:
        f["rope_dim"] = f["head_dim"]
    if f["tied"]:
        f["names"].pop("lm_head", None)
        f["head_bias"] = False
    return Features(**f)


def block_names(feat, i):
    """Role -> HF name prefix (no .weight/.bias) for stored block i, plus the global roles.
    Per-head QK-norm prefixes keep their "{h}" (see qk_norm_prefixes)."""
    return {role: name.replace("{i}", str(i)) for role, name in feat.names.items()}


def qk_norm_prefixes(feat, prefix, n_heads):
    """The HF prefixes of one q_norm / k_norm role in head order: one per head when the
    gains are per head ("{h}" = 0..n_heads-1), else the single shared one."""
    if feat.qk_norm_per_head:
        return [prefix.replace("{h}", str(h)) for h in range(n_heads)]
    return [prefix]


def weight_shapes(feat):
    """Every HF tensor of the family, in module order: list of (name, shape, kind), kind one
    of "embed", "linear", "bias", "norm" (a norm gain) or "norm_bias"."""
    d, H, Hkv, hd, F, V = (feat.dim, feat.n_heads, feat.n_kv_heads, feat.head_dim,
                          feat.ffn_dim, feat.vocab_size)
    out = []

    def linear(prefix, rows, cols, bias):
        out.append((prefix + ".weight", (rows, cols), "linear"))
        if bias:
            out.append((prefix + ".bias", (rows,), "bias"))

    def norm(prefix):
        out.append((prefix + ".weight", (d,), "norm"))
        if feat.norm == "layer":
            out.append((prefix + ".bias", (d,), "norm_bias"))

    out.append((feat.names["embed"] + ".weight", (V, d), "embed"))
    for i in range(feat.n_layers):
        n = block_names(feat, i)
        norm(n["attn_norm"])
        if "qkv" in n:
            linear(n["qkv"], (H + 2 * Hkv) * hd, d, feat.qkv_bias)
        else:
            linear(n["q"], H * hd, d, feat.qkv_bias)
            linear(n["k"], Hkv * hd, d, feat.qkv_bias)
            linear(n["v"], Hkv * hd, d, feat.qkv_bias)
        linear(n["o"], d, H * hd, feat.o_bias)
        if feat.qk_norm:            # HF module order: after o_proj; no bias
            for role, heads in (("q_norm", H), ("k_norm", Hkv)):
                for prefix in qk_norm_prefixes(feat, n[role], heads):
                    out.append((prefix + ".weight", (hd,), "norm"))
        if "mlp_norm" in n:
            norm(n["mlp_norm"])
        if "gate_up" in n:
            linear(n["gate_up"], 2 * F, d, feat.mlp_bias)
        else:
            if feat.mlp_gated:
                linear(n["gate"], F, d, feat.mlp_bias)
            linear(n["up"], F, d, feat.mlp_bias)
        linear(n["down"], d, F, feat.mlp_bias)
    norm(feat.names["final_norm"])
    if "lm_head" in feat.names:
        linear(feat.names["lm_head"], V, d, feat.head_bias)
    return out


# ---------------------------------------------------------------------------------------------
# Building blocks (Part 1 of architectures.md)
# ---------------------------------------------------------------------------------------------

def rms_norm(x, w, eps, plus_one):
    g = (1.0 + w) if plus_one else w      # Gemma stores w and applies (1 + w)
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def layer_norm(x, w, b, eps):
    """b None: LayerNorm without bias (QK-norm)."""
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=-1, keepdims=True)    # biased (population) variance
    y = (x - mu) / np.sqrt(var + eps) * w
    return y if b is None else y + b


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x):
    c = np.asarray(math.sqrt(2.0 / math.pi), dtype=x.dtype)
    return 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x * x * x)))


def rope_tables(n_pos, rope_dim, theta, dtype, ext=None, mscale=1.0):
    """cos, sin [n_pos, rope_dim/2] for positions 0..n_pos-1. Angles are formed in float64
    (the exact value) and rounded once; float32 angles would add ~p * 6e-8 rad of error.
    ext: LongRoPE's per-pair factors dividing inv_freq; mscale multiplies cos and sin."""
    i = np.arange(rope_dim // 2, dtype=np.float64)
    inv_freq = theta ** (-2.0 * i / rope_dim)
    if ext is not None:
        inv_freq = inv_freq / np.asarray(ext, dtype=np.float64)
    ang = np.arange(n_pos, dtype=np.float64)[:, None] * inv_freq[None, :]
    return (np.cos(ang) * mscale).astype(dtype), (np.sin(ang) * mscale).astype(dtype)


def rope_rotate_half(x, cos, sin):
    """x [T, heads, head_dim]; rotates the first 2*cos.shape[1] dims in HF rotate-half (NEOX)
    layout: pair (i, i + h). The remaining dims pass through (partial RoPE)."""
    h = cos.shape[1]
    c, s = cos[:, None, :], sin[:, None, :]
    x1, x2 = x[..., :h], x[..., h:2 * h]
    out = x.copy()
    out[..., :h] = x1 * c - x2 * s
    out[..., h:2 * h] = x2 * c + x1 * s
    return out


def rope_adjacent(x, cos, sin):
    """The llama2.c / GGUF-llama layout: pair (2i, 2i+1), same frequencies. Not used by
    forward() (HF weights are rotate-half); the self-check uses it to prove that the q/k row
    permutation written into GGUF llama and .bin files turns one layout into the other."""
    h = cos.shape[1]
    c, s = cos[:, None, :], sin[:, None, :]
    xe, xo = x[..., 0:2 * h:2], x[..., 1:2 * h:2]
    out = x.copy()
    out[..., 0:2 * h:2] = xe * c - xo * s
    out[..., 1:2 * h:2] = xo * c + xe * s
    return out


def attention_mask(n_pos, window):
    """mask[i, j] true where query i may see key j: causal, and within the window if any."""
    i = np.arange(n_pos)[:, None]
    j = np.arange(n_pos)[None, :]
    m = j <= i
    if window:
        m &= (i - j) < window        # HF eager/sdpa and llama.cpp: i - W < j
    return m


def softmax_rows(s):
    s = s - np.max(s, axis=-1, keepdims=True)   # subtract the max so exp() cannot overflow
    e = np.exp(s)
    return e / np.sum(e, axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# The forward pass: one for every family, driven only by Features
# ---------------------------------------------------------------------------------------------

def _get(W, name):
    if name not in W:
        raise KeyError("weight %r missing" % name)
    return W[name]


def layer_weights(feat, W, i):
    """The weights of stored block i by role, with fused checkpoints split into q/k/v and
    gate/up (split points from architectures.md: Q, then K, then V rows; gate rows first)."""
    n = block_names(feat, i)
    H, Hkv, hd, F = feat.n_heads, feat.n_kv_heads, feat.head_dim, feat.ffn_dim
    lw = {}

    def opt(role, suffix, present=True):
        return _get(W, n[role] + suffix) if present else None

    lw["attn_norm_w"] = opt("attn_norm", ".weight")
    lw["attn_norm_b"] = opt("attn_norm", ".bias", feat.norm == "layer")
    if "mlp_norm" in n:
        lw["mlp_norm_w"] = opt("mlp_norm", ".weight")
        lw["mlp_norm_b"] = opt("mlp_norm", ".bias", feat.norm == "layer")
    if "qkv" in n:
        w = opt("qkv", ".weight")
        b = opt("qkv", ".bias", feat.qkv_bias)
        cuts = [0, H * hd, (H + Hkv) * hd, (H + 2 * Hkv) * hd]
        for k, role in enumerate(("q", "k", "v")):
            lw["w" + role] = w[cuts[k]:cuts[k + 1]]
            lw["b" + role] = None if b is None else b[cuts[k]:cuts[k + 1]]
    else:
        for role in ("q", "k", "v"):
            lw["w" + role] = opt(role, ".weight")
            lw["b" + role] = opt(role, ".bias", feat.qkv_bias)
    lw["wo"] = opt("o", ".weight")
    lw["bo"] = opt("o", ".bias", feat.o_bias)
    if feat.qk_norm:
        # per head: [heads, head_dim], row h = head h's gain; shared: [head_dim]
        for role, heads in (("q_norm", H), ("k_norm", Hkv)):
            gains = [_get(W, p + ".weight") for p in qk_norm_prefixes(feat, n[role], heads)]
            lw[role + "_w"] = np.stack(gains) if feat.qk_norm_per_head else gains[0]
    if "gate_up" in n:
        w = opt("gate_up", ".weight")
        b = opt("gate_up", ".bias", feat.mlp_bias)
        lw["w_gate"], lw["w_up"] = w[:F], w[F:]
        lw["b_gate"], lw["b_up"] = (None, None) if b is None else (b[:F], b[F:])
    else:
        if feat.mlp_gated:
            lw["w_gate"] = opt("gate", ".weight")
            lw["b_gate"] = opt("gate", ".bias", feat.mlp_bias)
        lw["w_up"] = opt("up", ".weight")
        lw["b_up"] = opt("up", ".bias", feat.mlp_bias)
    lw["w_down"] = opt("down", ".weight")
    lw["b_down"] = opt("down", ".bias", feat.mlp_bias)
    return lw


class BF16Matrix(np.ndarray):
    """A weight the file stores as BF16. Such a matrix multiplies its input rounded to bf16
    (round to nearest even), as llama.cpp's BF16 dot product does and the engine's rule says
    (kernels/kernels.h): every product of two bf16 values is then exact in float32."""


def bf16_round_input(x):
    """x rounded to bf16 (nearest even; NaN/Inf do not occur here), back in x's dtype."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32).astype(x.dtype)


def linear(x, w, b=None):
    if isinstance(w, BF16Matrix):
        x, w = bf16_round_input(np.asarray(x)), np.asarray(w)
    y = x @ w.T
    return y if b is None else y + b


def norm(feat, x, w, b):
    if feat.norm == "rms":
        return rms_norm(x, w, feat.norm_eps, feat.norm_plus_one)
    return layer_norm(x, w, b, feat.norm_eps)


def head_norm(feat, x, w):
    """QK-norm: x [T, heads, head_dim] normalised over head_dim; w [heads, head_dim] (one
    gain per head) or [head_dim] (shared) broadcasts over T. No bias."""
    if feat.qk_norm == "rms":
        return rms_norm(x, w, feat.norm_eps, feat.norm_plus_one)
    return layer_norm(x, w, None, feat.norm_eps)


def q8_0_round_trip(x):
    """What a Q8_0 KV cache gives back for rows x [T, n] (n a multiple of 32): per block of
    32, d = f16(max |x| / 127), q = round(x / d) in [-127, 127] (halves away from zero),
    value q * d."""
    T, n = x.shape
    b = x.astype(np.float32).reshape(T, n // 32, 32)
    amax = np.max(np.abs(b), axis=2, keepdims=True)
    d = (amax / np.float32(127)).astype(np.float16).astype(np.float32)
    q = np.clip(b / np.where(d > 0, d, np.float32(1)), -127, 127)
    q = np.where(d > 0, np.sign(q) * np.floor(np.abs(q) + np.float32(0.5)), 0)
    return (q * d).astype(x.dtype).reshape(T, n)


def attention(feat, lw, h, cos, sin, mask, q_scale=None, kv_q8=False):
    T = h.shape[0]
    H, Hkv, hd = feat.n_heads, feat.n_kv_heads, feat.head_dim
    q = linear(h, lw["wq"], lw["bq"]).reshape(T, H, hd)
    k = linear(h, lw["wk"], lw["bk"]).reshape(T, Hkv, hd)
    v = linear(h, lw["wv"], lw["bv"]).reshape(T, Hkv, hd)
    if feat.qk_norm:                   # after the reshape to heads, before RoPE
        q = head_norm(feat, q, lw["q_norm_w"])
        k = head_norm(feat, k, lw["k_norm_w"])
    q = rope_rotate_half(q, cos, sin)
    k = rope_rotate_half(k, cos, sin)
    if q_scale is not None:            # Qwen v1 logn: after RoPE, query rows only
        q = q * q_scale[:, None, None]
    if kv_q8:                          # keys (after RoPE) and values as a Q8_0 cache stores them
        k = q8_0_round_trip(k.reshape(T, Hkv * hd)).reshape(T, Hkv, hd)
        v = q8_0_round_trip(v.reshape(T, Hkv * hd)).reshape(T, Hkv, hd)
    group = H // Hkv                   # consecutive query heads share one kv head
    scale = np.asarray(1.0 / math.sqrt(hd), dtype=h.dtype)
    out = np.empty((T, H, hd), dtype=h.dtype)
    for head in range(H):
        kv = head // group
        s = (q[:, head, :] @ k[:, kv, :].T) * scale
        s = np.where(mask, s, -np.inf)
        out[:, head, :] = softmax_rows(s) @ v[:, kv, :]
    return linear(out.reshape(T, H * hd), lw["wo"], lw["bo"])


def mlp(feat, lw, h):
    act = silu if feat.act == "silu" else gelu_tanh
    if feat.mlp_gated:
        a = act(linear(h, lw["w_gate"], lw["b_gate"])) * linear(h, lw["w_up"], lw["b_up"])
    else:
        a = act(linear(h, lw["w_up"], lw["b_up"]))
    return linear(a, lw["w_down"], lw["b_down"])


def block(feat, lw, x, cos, sin, mask, q_scale=None, kv_q8=False):
    h = norm(feat, x, lw["attn_norm_w"], lw["attn_norm_b"])
    att = attention(feat, lw, h, cos, sin, mask, q_scale, kv_q8)
    if feat.parallel_residual:        # both branches read the same normed input
        return x + att + mlp(feat, lw, h)
    x = x + att
    h2 = norm(feat, x, lw["mlp_norm_w"], lw["mlp_norm_b"])
    return x + mlp(feat, lw, h2)


def long_context_rope(feat, T, factors=None, alpha=None, logn=True):
    """(theta, ext, mscale, q_scale) for a forward without cache of T tokens.
    LongRoPE: HF's rule (long factors for every position when T > orig_ctx) unless factors
    is "short" or "long". Dynamic NTK: alpha from T unless given (1 = off). logn: the query
    row of position p times logn_factor(p) when T > seq_length (and logn is on)."""
    theta, ext, mscale, q_scale = feat.rope_theta, None, 1.0, None
    if feat.longrope:
        use_long = T > feat.orig_ctx if factors is None else factors == "long"
        ext = feat.rope_long if use_long else feat.rope_short
        mscale = feat.attn_factor
    if feat.dynamic_ntk:
        a = ntk_alpha(T, feat.orig_ctx) if alpha is None else alpha
        d = feat.rope_dim
        theta = feat.rope_theta * a ** (d / (d - 2))
    if feat.logn_attn and logn and T > feat.orig_ctx:
        q_scale = np.array([logn_factor(p, feat.orig_ctx) for p in range(T)])
    return theta, ext, mscale, q_scale


def forward(feat, weights, tokens, dtype=np.float32, factors=None, alpha=None, logn=True,
            kv_q8=False, bf16=()):
    """Logits [T, vocab] for tokens evaluated as one sequence from position 0 (no cache).
    factors / alpha / logn: see long_context_rope (defaults: as the reference code).
    kv_q8: keys and values pass through a Q8_0 cache's rounding (q8_0_round_trip).
    bf16: names of the weights the file stores as BF16 (model_files.read_safetensors's
    dtypes): their matrices multiply inputs rounded to bf16 (BF16Matrix)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    T = len(tokens)
    if T < 1 or tokens.min() < 0 or tokens.max() >= feat.vocab_size:
        raise ValueError("token ids must be in [0, %d)" % feat.vocab_size)
    theta, ext, mscale, q_scale = long_context_rope(feat, T, factors, alpha, logn)
    W = {k: np.asarray(v, dtype=dtype) for k, v in weights.items()}
    for k in bf16:
        if k in W and W[k].ndim == 2:  # vectors (norms, biases) are no matrices
            W[k] = W[k].view(BF16Matrix)
    n = feat.names
    emb = _get(W, n["embed"] + ".weight")
    x = np.asarray(emb[tokens]) * np.asarray(feat.embed_scale, dtype=dtype)
    cos, sin = rope_tables(T, feat.rope_dim, theta, dtype, ext, mscale)
    if q_scale is not None:
        q_scale = q_scale.astype(dtype)
    mask = attention_mask(T, feat.sliding_window)
    layers = [layer_weights(feat, W, i) for i in range(feat.n_layers)]
    for a in range(feat.n_apply()):
        # With no cache, a repeated block is simply run again: its attention sees only the
        # K/V it computes itself, which is what a separate KV slot per application gives.
        x = block(feat, layers[feat.block_of(a)], x, cos, sin, mask, q_scale, kv_q8)
    fw = _get(W, n["final_norm"] + ".weight")
    fb = W.get(n["final_norm"] + ".bias") if feat.norm == "layer" else None
    x = norm(feat, x, fw, fb)
    if feat.tied:
        return linear(x, emb)
    hb = _get(W, n["lm_head"] + ".bias") if feat.head_bias else None
    return linear(x, _get(W, n["lm_head"] + ".weight"), hb)


def forward_shifting(feat, weights, tokens, n_ctx, keep, factors=None, alpha=1, logn=True,
                     dtype=np.float32):
    """Logits [T, vocab] of tokens evaluated one at a time with a KV cache of n_ctx positions
    that, when full, keeps the first `keep` positions, drops the older half of the rest and
    moves the newer half down (llama.cpp's context shift). The cache keeps each key before
    RoPE with its current position and rotates it there, which is what rotating a cached key
    by the change of its position computes; values and the hidden states the keys came from
    stay as they were (so with more than one layer this is not a fresh evaluation of the kept
    tokens). factors / alpha / logn as in long_context_rope, fixed for the whole run."""
    theta, ext, mscale, _ = long_context_rope(feat, n_ctx, factors, alpha, False)
    cos, sin = rope_tables(n_ctx, feat.rope_dim, theta, dtype, ext, mscale)
    W = {k: np.asarray(v, dtype=dtype) for k, v in weights.items()}
    n = feat.names
    emb = _get(W, n["embed"] + ".weight")
    layers = [layer_weights(feat, W, i) for i in range(feat.n_layers)]
    H, Hkv, hd = feat.n_heads, feat.n_kv_heads, feat.head_dim
    group, scale = H // Hkv, np.asarray(1.0 / math.sqrt(hd), dtype=dtype)
    pos = []                                        # position of each cached cell
    cache = [([], []) for _ in range(feat.n_apply())]   # per applied layer: keys, values
    out = []
    for tok in tokens:
        if len(pos) + 1 > n_ctx:
            drop = (len(pos) - keep) // 2
            pos = pos[:keep] + [p - drop for p in pos[keep + drop:]]
            cache = [(k[:keep] + k[keep + drop:], v[:keep] + v[keep + drop:]) for k, v in cache]
        p = pos[-1] + 1 if pos else 0
        pos.append(p)
        P = np.array(pos)
        x = emb[[tok]] * np.asarray(feat.embed_scale, dtype=dtype)
        for a in range(feat.n_apply()):
            lw = layers[feat.block_of(a)]
            h = norm(feat, x, lw["attn_norm_w"], lw["attn_norm_b"])
            q = linear(h, lw["wq"], lw["bq"]).reshape(1, H, hd)
            k = linear(h, lw["wk"], lw["bk"]).reshape(1, Hkv, hd)
            v = linear(h, lw["wv"], lw["bv"]).reshape(1, Hkv, hd)
            if feat.qk_norm:
                q = head_norm(feat, q, lw["q_norm_w"])
                k = head_norm(feat, k, lw["k_norm_w"])
            cache[a][0].append(k[0])
            cache[a][1].append(v[0])
            q = rope_rotate_half(q, cos[[p]], sin[[p]])
            if feat.logn_attn and logn:
                q = q * np.asarray(logn_factor(p, feat.orig_ctx), dtype=dtype)
            K = rope_rotate_half(np.stack(cache[a][0]), cos[P], sin[P])
            V = np.stack(cache[a][1])
            seen = P <= p
            if feat.sliding_window:
                seen &= (p - P) < feat.sliding_window
            o = np.empty((1, H, hd), dtype=dtype)
            for head in range(H):
                s = (K[:, head // group, :] @ q[0, head]) * scale
                s = np.where(seen, s, -np.inf)
                o[0, head] = softmax_rows(s[None, :])[0] @ V[:, head // group, :]
            att = linear(o.reshape(1, H * hd), lw["wo"], lw["bo"])
            if feat.parallel_residual:
                x = x + att + mlp(feat, lw, h)
            else:
                x = x + att
                x = x + mlp(feat, lw, norm(feat, x, lw["mlp_norm_w"], lw["mlp_norm_b"]))
        fw = _get(W, n["final_norm"] + ".weight")
        fb = W.get(n["final_norm"] + ".bias") if feat.norm == "layer" else None
        xn = norm(feat, x, fw, fb)
        if feat.tied:
            out.append(linear(xn, emb)[0])
        else:
            hb = _get(W, n["lm_head"] + ".bias") if feat.head_bias else None
            out.append(linear(xn, _get(W, n["lm_head"] + ".weight"), hb)[0])
    return np.stack(out)
