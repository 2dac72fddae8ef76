/* gguf_config.c - a GGUF file's metadata (and which tensors it has) into a tlm_config, then
 * binds its weights. Keys follow llama.cpp's converter; see docs/architectures.md. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gguf_read.h"
#include "model.h"

typedef struct reader {
    const gguf_file *f;
    const char *arch;
    tlm_error *err;
    tlm_status st; /* first failure while reading keys */
} reader;

static const tlm_tensor *find_tensor(const void *f, const char *name)
{
    return tlm_gguf_find_tensor(f, name);
}

/* "{arch}.suffix" as an integer; `def` < 0 means required. */
static int32_t key_int(reader *r, const char *suffix, int64_t def)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->arch, suffix);
    uint32_t v;
    if (tlm_gguf_get_u32(r->f, key, &v) && v <= INT32_MAX) return (int32_t)v;
    if (tlm_gguf_find(r->f, key)) {
        if (r->st == TLM_OK)
            r->st = tlm_fail(r->err, TLM_ERR_FORMAT, "%s: key '%s' is not a valid count",
                             r->f->path, key);
        return 0;
    }
    if (def < 0 && r->st == TLM_OK)
        r->st =
            tlm_fail(r->err, TLM_ERR_FORMAT, "%s: required key '%s' is missing", r->f->path, key);
    return (int32_t)(def < 0 ? 0 : def);
}

static float key_float(reader *r, const char *suffix, float def)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->arch, suffix);
    float v;
    if (tlm_gguf_get_f32(r->f, key, &v)) return v;
    if (tlm_gguf_find(r->f, key) && r->st == TLM_OK)
        r->st = tlm_fail(r->err, TLM_ERR_FORMAT, "%s: key '%s' is not a number", r->f->path, key);
    return def;
}

/* A token id key: absent or -1 means none; anything else must be an id below n_vocab (the
 * embedding's rows), so no later lookup of BOS/EOS can leave the vocabulary. */
static tlm_status token_id(const gguf_file *f, const char *key, int32_t n_vocab, int32_t *out,
                           tlm_error *err)
{
    *out = -1;
    const gguf_kv *kv = tlm_gguf_find(f, key);
    if (!kv) return TLM_OK;
    bool is_signed =
        kv->type == GGUF_I8 || kv->type == GGUF_I16 || kv->type == GGUF_I32 || kv->type == GGUF_I64;
    if (is_signed && kv->v.i == -1) return TLM_OK;
    uint32_t v;
    if (!tlm_gguf_get_u32(f, key, &v)) {
        if (is_signed || kv->type == GGUF_U8 || kv->type == GGUF_U16 || kv->type == GGUF_U32 ||
            kv->type == GGUF_U64)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: %s is not a token id of the %d rows of "
                            "token_embd.weight",
                            f->path, key, n_vocab);
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s has value type %d, not an integer", f->path,
                        key, (int)kv->type);
    }
    if (v >= (uint32_t)n_vocab)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: %s = %u is not below the %d rows of "
                        "token_embd.weight",
                        f->path, key, v, n_vocab);
    *out = (int32_t)v;
    return TLM_OK;
}

/* A LongRoPE factor tensor: rope_dim / 2 floats, converted into the model; NULL if absent. */
static tlm_status factor_tensor(tlm_model *m, reader *r, const char *name, const float **out)
{
    const tlm_tensor *t = tlm_gguf_find_tensor(r->f, name);
    int64_t half = m->cfg.rope_dim / 2;
    *out = NULL;
    if (!t) return TLM_OK;
    if (tlm_tensor_nelem(t) != half || !m->k->to_f32[t->type] ||
        tlm_type_get(t->type)->block_elems != 1)
        return tlm_fail(r->err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' has %lld elements of %s, expected "
                        "%lld floats (rotary dims / 2)",
                        r->f->path, name, (long long)tlm_tensor_nelem(t),
                        tlm_type_get(t->type)->name, (long long)half);
    float *f = tlm_model_alloc(m, (size_t)half * sizeof(float));
    if (!f) return tlm_fail(r->err, TLM_ERR_NO_MEMORY, "%s: out of memory", r->f->path);
    m->k->to_f32[t->type](f, t->data, half);
    *out = f;
    return TLM_OK;
}

/* LongRoPE as llama.cpp writes it (Phi-3-128k): rope_factors_short/long.weight tensors (one
 * pair shared by every layer), {arch}.rope.scaling.attn_factor and
 * {arch}.rope.scaling.original_context_length. Either tensor alone is malformed. */
static tlm_status read_longrope(tlm_model *m, reader *r)
{
    tlm_config *c = &m->cfg;
    tlm_status st;
    if ((st = factor_tensor(m, r, "rope_factors_short.weight", &c->rope_short)) ||
        (st = factor_tensor(m, r, "rope_factors_long.weight", &c->rope_long)))
        return st;
    if (!c->rope_short && !c->rope_long) return TLM_OK;
    if (!c->rope_short || !c->rope_long)
        return tlm_fail(r->err, TLM_ERR_FORMAT,
                        "%s: rope_factors_%s.weight without "
                        "rope_factors_%s.weight",
                        r->f->path, c->rope_short ? "short" : "long",
                        c->rope_short ? "long" : "short");
    c->longrope = true;
    c->orig_ctx = key_int(r, "rope.scaling.original_context_length", c->max_seq);
    /* the converter writes attn_factor for su/longrope; absent means 1, as in llama.cpp */
    c->rope_attn_factor = key_float(r, "rope.scaling.attn_factor", 1.0f);
    return r->st;
}

tlm_status tlm_load_gguf(tlm_model *m, const char *path, tlm_error *err)
{
    tlm_status st = tlm_gguf_open(path, &m->gguf, err);
    if (st != TLM_OK) return st;
    const gguf_file *f = m->gguf;
    tlm_config *c = &m->cfg;
    if (!tlm_gguf_get_str(f, "general.architecture", c->arch, sizeof c->arch))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: general.architecture is missing", path);
    m->arch = tlm_arch_by_gguf(c->arch);
    if (!m->arch)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (%s)",
                        path, c->arch, tlm_arch_gguf_names());

    reader r = {f, c->arch, err, TLM_OK};
    c->dim = key_int(&r, "embedding_length", -1);
    c->n_layers = key_int(&r, "block_count", -1);
    c->hidden_dim = key_int(&r, "feed_forward_length", -1);
    c->n_heads = key_int(&r, "attention.head_count", -1);
    c->n_kv_heads = key_int(&r, "attention.head_count_kv", c->n_heads);
    c->max_seq = key_int(&r, "context_length", 2048);
    c->head_dim = key_int(&r, "attention.key_length", c->n_heads > 0 ? c->dim / c->n_heads : 0);
    int32_t v_len = key_int(&r, "attention.value_length", c->head_dim);
    c->rope_dim = key_int(&r, "rope.dimension_count", c->head_dim);
    c->rope_theta = key_float(&r, "rope.freq_base", 10000.0f);
    c->sliding_window = key_int(&r, "attention.sliding_window", 0);
    c->norm = m->arch->norm;
    c->norm_eps = c->norm == TLM_NORM_RMS ? key_float(&r, "attention.layer_norm_rms_epsilon", 1e-5f)
                                          : key_float(&r, "attention.layer_norm_epsilon", 1e-5f);
    if (r.st != TLM_OK) return r.st;
    if (v_len != c->head_dim)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "%s: value length %d differs from key length %d",
                        path, v_len, c->head_dim);
    if (m->arch->ff_halved) c->hidden_dim /= 2;

    /* Tokens: vocab size is the embedding's row count (the tokenizer may list fewer). */
    const tlm_tensor *emb = tlm_gguf_find_tensor(f, "token_embd.weight");
    if (!emb)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: tensor 'token_embd.weight' is missing", path);
    if (emb->ne[1] > INT32_MAX)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: token_embd.weight has too many rows", path);
    c->vocab_size = (int32_t)emb->ne[1];
    if ((st = token_id(f, "tokenizer.ggml.bos_token_id", c->vocab_size, &c->bos_id, err)) ||
        (st = token_id(f, "tokenizer.ggml.eos_token_id", c->vocab_size, &c->eos_id, err)))
        return st;

    /* Features GGUF expresses by which tensors exist (stablelm's use_parallel_residual key
     * is written as true even for sequential models, so the tensors decide). */
    c->rope_neox = m->arch->gguf_rope_neox;
    c->mlp_gated = m->arch->mlp_gated;
    c->act = m->arch->act;
    c->parallel_residual =
        m->arch->always_parallel || !tlm_gguf_find_tensor(f, "blk.0.ffn_norm.weight");
    c->tied_embeddings = !tlm_gguf_find_tensor(f, "output.weight");
    c->qk_norm = tlm_gguf_find_tensor(f, "blk.0.attn_q_norm.weight") != NULL;
    c->embed_scale = m->arch->embed_scale_sqrt ? sqrtf((float)c->dim) : 1.0f;
    c->norm_plus_one = false; /* the converter stored 1 + w */
    /* GGUF carries no use_dynamic_ntk / use_logn_attn keys; every Qwen v1 config sets both,
     * so they are on as in the reference code (llama.cpp implements neither). */
    c->dynamic_ntk = c->logn_attn = m->arch->ntk_logn;
    c->orig_ctx = m->arch->ntk_logn ? c->max_seq : 0;
    if ((st = read_longrope(m, &r)) != TLM_OK) return st;

    if ((st = tlm_config_validate(c, path, err)) != TLM_OK) return st;
    tlm_tensor_source src = {path, false, f, find_tensor};
    return tlm_model_bind(m, &src, err);
}
