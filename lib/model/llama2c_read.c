/* llama2c_read.c - llama2.c legacy checkpoints (version 0, as run.c reads them): a 7 x int32
 * header, then fp32 tensors, each for all layers in a row. The tensors become views with
 * GGUF names (q/k rows are already in the adjacent-pair layout, as in GGUF "llama"). */
#include <stdio.h>
#include <string.h>

#include "checked.h"
#include "ds.h"
#include "mapped_file.h"
#include "model.h"

typedef struct cursor {
    const char *path;
    const uint8_t *base;
    uint64_t size, at;
    tlm_error *err;
} cursor;

/* Appends a 1-D (rows == 0) or 2-D fp32 view at the cursor and advances past it. */
static tlm_status take(tlm_model *m, cursor *cur, const char *name, int64_t cols, int64_t rows)
{
    uint64_t n, bytes;
    if (!tlm_mul_u64((uint64_t)cols, (uint64_t)(rows ? rows : 1), &n) ||
        !tlm_mul_u64(n, 4, &bytes) || !tlm_range_ok(cur->at, bytes, cur->size))
        return tlm_fail(cur->err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' at offset %llu runs past the "
                        "end of the file (%llu bytes)",
                        cur->path, name, (unsigned long long)cur->at,
                        (unsigned long long)cur->size);
    tlm_tensor t = {.type = TLM_TYPE_F32,
                    .n_dims = rows ? 2 : 1,
                    .ne = {cols, rows ? rows : 1, 1, 1},
                    .data = cur->base + cur->at,
                    .nbytes = bytes};
    snprintf(t.name, sizeof t.name, "%s", name);
    arrput(m->own_tensors, t);
    cur->at += bytes;
    return TLM_OK;
}

/* One tensor kind for every layer: "blk.%d.<kind>" views over consecutive data. */
static tlm_status take_layers(tlm_model *m, cursor *cur, const char *kind, int64_t cols,
                              int64_t rows)
{
    for (int l = 0; l < m->cfg.n_layers; l++) {
        char name[TLM_MAX_NAME];
        snprintf(name, sizeof name, "blk.%d.%s", l, kind);
        tlm_status st = take(m, cur, name, cols, rows);
        if (st != TLM_OK) return st;
    }
    return TLM_OK;
}

static tlm_status read_header(tlm_model *m, const cursor *cur, bool *shared)
{
    if (cur->size < 28)
        return tlm_fail(cur->err, TLM_ERR_FORMAT,
                        "%s: %llu bytes is too short for a llama2.c "
                        "header (28)",
                        cur->path, (unsigned long long)cur->size);
    int32_t h[7];
    memcpy(h, cur->base, sizeof h);
    static const char *const names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                         "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++)
        if (h[i] == 0 || (h[i] < 0 && i != 5) || h[i] == INT32_MIN)
            return tlm_fail(cur->err, TLM_ERR_FORMAT,
                            "%s: llama2.c header field %s = %d at "
                            "offset %d is invalid (the file has no GGUF magic, so it was read as "
                            "a llama2.c checkpoint)",
                            cur->path, names[i], h[i], 4 * i);
    tlm_config *c = &m->cfg;
    *shared = h[5] > 0; /* run.c: a negative vocab_size means a separate classifier */
    snprintf(c->arch, sizeof c->arch, "llama2c");
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->vocab_size = h[5] < 0 ? -h[5] : h[5];
    c->max_seq = h[6];
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim * c->n_heads != c->dim)
        return tlm_fail(cur->err, TLM_ERR_FORMAT,
                        "%s: llama2.c header: dim %d is not a multiple "
                        "of n_heads %d",
                        cur->path, c->dim, c->n_heads);
    c->rope_dim = c->head_dim;
    c->rope_theta = 10000.0f;
    c->rope_neox = false;
    c->norm = TLM_NORM_RMS;
    c->norm_eps = 1e-5f;
    c->mlp_gated = true;
    c->act = TLM_ACT_SILU;
    c->embed_scale = 1.0f;
    c->tied_embeddings = *shared;
    c->bos_id = c->vocab_size > 1 ? 1 : -1;
    c->eos_id = c->vocab_size > 2 ? 2 : -1;
    char what[4200];
    snprintf(what, sizeof what, "%s (llama2.c header)", cur->path);
    return tlm_config_validate(c, what, cur->err);
}

/* Files tlm_model_load sends here only because they lack the GGUF magic, told apart from a
 * legacy checkpoint by their first bytes: a plain word beats "dim = 1634415666". */
static tlm_status not_legacy(const cursor *cur)
{
    uint64_t n = 0;
    if (cur->size >= 8) memcpy(&n, cur->base, 8);
    uint32_t magic = (uint32_t)n, version = (uint32_t)(n >> 32);
    if (cur->size >= 8 && magic == 0x616b3432) /* "ak42": export.py --version 1 or later */
        return tlm_fail(cur->err, TLM_ERR_UNSUPPORTED,
                        "%s: offset 0: llama2.c export version %u "
                        "(magic \"ak42\") is not supported; export with --version 0 (legacy) or "
                        "convert to GGUF",
                        cur->path, version);
    if (cur->size > 9 && n >= 2 && n <= cur->size - 8 && cur->base[8] == '{')
        return tlm_fail(cur->err, TLM_ERR_UNSUPPORTED,
                        "%s: offset 0: this is a safetensors "
                        "file; load the Hugging Face directory that holds it and its config.json",
                        cur->path);
    return TLM_OK;
}

tlm_status tlm_load_llama2c(tlm_model *m, const char *path, tlm_error *err)
{
    tlm_mapped_file mf;
    tlm_status st = tlm_map_file(path, 1, NULL, &mf, err);
    if (st != TLM_OK) return st;
    m->map = mf.data;
    m->map_size = mf.size;
    m->arch = tlm_arch_by_gguf("llama");

    cursor cur = {path, mf.data, mf.size, 28, err};
    bool shared = false;
    st = not_legacy(&cur);
    if (st == TLM_OK) st = read_header(m, &cur, &shared);
    if (st != TLM_OK) return st;
    const tlm_config *c = &m->cfg;
    int64_t q_dim = (int64_t)c->n_heads * c->head_dim,
            kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
    if ((st = take(m, &cur, "token_embd.weight", c->dim, c->vocab_size)) ||
        (st = take_layers(m, &cur, "attn_norm.weight", c->dim, 0)) ||
        (st = take_layers(m, &cur, "attn_q.weight", c->dim, q_dim)) ||
        (st = take_layers(m, &cur, "attn_k.weight", c->dim, kv_dim)) ||
        (st = take_layers(m, &cur, "attn_v.weight", c->dim, kv_dim)) ||
        (st = take_layers(m, &cur, "attn_output.weight", q_dim, c->dim)) ||
        (st = take_layers(m, &cur, "ffn_norm.weight", c->dim, 0)) ||
        (st = take_layers(m, &cur, "ffn_gate.weight", c->dim, c->hidden_dim)) ||
        (st = take_layers(m, &cur, "ffn_down.weight", c->hidden_dim, c->dim)) ||
        (st = take_layers(m, &cur, "ffn_up.weight", c->dim, c->hidden_dim)) ||
        (st = take(m, &cur, "output_norm.weight", c->dim, 0)) ||
        /* freq_cis_real and _imag: written by the exporter, unused (RoPE is computed) */
        (st = take(m, &cur, "freq_cis.unused", (int64_t)c->head_dim / 2, 2LL * c->max_seq)) ||
        (!shared && (st = take(m, &cur, "output.weight", c->dim, c->vocab_size))))
        return st;
    if (cur.at != cur.size)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: %llu bytes after the last tensor (file has "
                        "%llu, weights end at %llu)",
                        path, (unsigned long long)(cur.size - cur.at), (unsigned long long)cur.size,
                        (unsigned long long)cur.at);
    tlm_tensor_source src = {path, false, m, tlm_model_find_own};
    return tlm_model_bind(m, &src, err);
}
