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
    return gguf_find_tensor(f, name);
}

/* "{arch}.suffix" as an integer; `def` < 0 means required. */
static int32_t key_int(reader *r, const char *suffix, int64_t def)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->arch, suffix);
    uint32_t v;
    if (gguf_get_u32(r->f, key, &v) && v <= INT32_MAX) return (int32_t)v;
    if (gguf_find(r->f, key)) {
        if (r->st == TLM_OK)
            r->st = tlm_fail(r->err, TLM_ERR_FORMAT, "%s: key '%s' is not a valid count",
                             r->f->path, key);
        return 0;
    }
    if (def < 0 && r->st == TLM_OK)
        r->st = tlm_fail(r->err, TLM_ERR_FORMAT, "%s: required key '%s' is missing", r->f->path,
                         key);
    return (int32_t)(def < 0 ? 0 : def);
}

static float key_float(reader *r, const char *suffix, float def)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->arch, suffix);
    float v;
    if (gguf_get_f32(r->f, key, &v)) return v;
    if (gguf_find(r->f, key) && r->st == TLM_OK)
        r->st = tlm_fail(r->err, TLM_ERR_FORMAT, "%s: key '%s' is not a number", r->f->path, key);
    return def;
}

static int32_t token_id(const gguf_file *f, const char *key)
{
    uint32_t v;
    return gguf_get_u32(f, key, &v) && v <= INT32_MAX ? (int32_t)v : -1;
}

tlm_status tlm_load_gguf(tlm_model *m, const char *path, tlm_error *err)
{
    tlm_status st = gguf_open(path, &m->gguf, err);
    if (st != TLM_OK) return st;
    const gguf_file *f = m->gguf;
    tlm_config *c = &m->cfg;
    if (!gguf_get_str(f, "general.architecture", c->arch, sizeof c->arch))
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
    const tlm_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return tlm_fail(err, TLM_ERR_FORMAT, "%s: tensor 'token_embd.weight' is missing", path);
    if (emb->ne[1] > INT32_MAX)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: token_embd.weight has too many rows", path);
    c->vocab_size = (int32_t)emb->ne[1];
    c->bos_id = token_id(f, "tokenizer.ggml.bos_token_id");
    c->eos_id = token_id(f, "tokenizer.ggml.eos_token_id");
    if (c->bos_id >= c->vocab_size) c->bos_id = -1;
    if (c->eos_id >= c->vocab_size) c->eos_id = -1;

    /* Features GGUF expresses by which tensors exist (stablelm's use_parallel_residual key
     * is written as true even for sequential models, so the tensors decide). */
    c->rope_neox = m->arch->gguf_rope_neox;
    c->mlp_gated = m->arch->mlp_gated;
    c->act = m->arch->act;
    c->parallel_residual = m->arch->always_parallel || !gguf_find_tensor(f, "blk.0.ffn_norm.weight");
    c->tied_embeddings = !gguf_find_tensor(f, "output.weight");
    c->qk_norm = gguf_find_tensor(f, "blk.0.attn_q_norm.weight") != NULL;
    c->embed_scale = m->arch->embed_scale_sqrt ? sqrtf((float)c->dim) : 1.0f;
    c->norm_plus_one = false; /* the converter stored 1 + w */
    c->exact_ctx_limit = m->arch->ntk_logn ? c->max_seq : 0;
    if (gguf_find_tensor(f, "rope_factors_long.weight") || gguf_find(f, "phi3.rope.scaling.attn_factor"))
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "%s: LongRoPE scaling is not supported yet", path);

    if ((st = tlm_config_validate(c, path, err)) != TLM_OK) return st;
    tlm_tensor_source src = {path, false, f, find_tensor};
    return tlm_model_bind(m, &src, err);
}
