/* model_bind.c - finds each weight the config needs, by role, in GGUF or HF naming, checks
 * its shape and type, and stores it in the model's block table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "model.h"

typedef enum role {
    R_TOK_EMBD,
    R_OUT_NORM,
    R_OUT_NORM_B,
    R_OUTPUT,
    R_OUTPUT_B,
    R_ATTN_NORM,
    R_ATTN_NORM_B,
    R_Q,
    R_Q_B,
    R_K,
    R_K_B,
    R_V,
    R_V_B,
    R_QKV,
    R_QKV_B,
    R_O,
    R_O_B,
    R_Q_NORM,
    R_K_NORM,
    R_FFN_NORM,
    R_FFN_NORM_B,
    R_GATE,
    R_UP,
    R_UP_B,
    R_DOWN,
    R_DOWN_B,
    R_COUNT
} role;

/* GGUF names, the same for every architecture (llama.cpp's converter conventions). */
static const char *const gguf_names[R_COUNT] = {
    [R_TOK_EMBD] = "token_embd.weight",
    [R_OUT_NORM] = "output_norm.weight",
    [R_OUT_NORM_B] = "output_norm.bias",
    [R_OUTPUT] = "output.weight",
    [R_OUTPUT_B] = "output.bias",
    [R_ATTN_NORM] = "blk.%d.attn_norm.weight",
    [R_ATTN_NORM_B] = "blk.%d.attn_norm.bias",
    [R_Q] = "blk.%d.attn_q.weight",
    [R_Q_B] = "blk.%d.attn_q.bias",
    [R_K] = "blk.%d.attn_k.weight",
    [R_K_B] = "blk.%d.attn_k.bias",
    [R_V] = "blk.%d.attn_v.weight",
    [R_V_B] = "blk.%d.attn_v.bias",
    [R_QKV] = "blk.%d.attn_qkv.weight",
    [R_QKV_B] = "blk.%d.attn_qkv.bias",
    [R_O] = "blk.%d.attn_output.weight",
    [R_O_B] = "blk.%d.attn_output.bias",
    [R_Q_NORM] = "blk.%d.attn_q_norm.weight",
    [R_K_NORM] = "blk.%d.attn_k_norm.weight",
    [R_FFN_NORM] = "blk.%d.ffn_norm.weight",
    [R_FFN_NORM_B] = "blk.%d.ffn_norm.bias",
    [R_GATE] = "blk.%d.ffn_gate.weight",
    [R_UP] = "blk.%d.ffn_up.weight",
    [R_UP_B] = "blk.%d.ffn_up.bias",
    [R_DOWN] = "blk.%d.ffn_down.weight",
    [R_DOWN_B] = "blk.%d.ffn_down.bias",
};

/* HF names per naming family; "|" separates alternatives tried in order (Phi-3 fuses
 * qkv_proj and gate_up_proj; the fused gate_up takes the "up" role). */
static const char *const hf_llama[R_COUNT] = {
    [R_TOK_EMBD] = "model.embed_tokens.weight",
    [R_OUT_NORM] = "model.norm.weight",
    [R_OUT_NORM_B] = "model.norm.bias",
    [R_OUTPUT] = "lm_head.weight",
    [R_OUTPUT_B] = "lm_head.bias",
    [R_ATTN_NORM] = "model.layers.%d.input_layernorm.weight",
    [R_ATTN_NORM_B] = "model.layers.%d.input_layernorm.bias",
    [R_Q] = "model.layers.%d.self_attn.q_proj.weight",
    [R_Q_B] = "model.layers.%d.self_attn.q_proj.bias",
    [R_K] = "model.layers.%d.self_attn.k_proj.weight",
    [R_K_B] = "model.layers.%d.self_attn.k_proj.bias",
    [R_V] = "model.layers.%d.self_attn.v_proj.weight",
    [R_V_B] = "model.layers.%d.self_attn.v_proj.bias",
    [R_QKV] = "model.layers.%d.self_attn.qkv_proj.weight",
    [R_QKV_B] = "model.layers.%d.self_attn.qkv_proj.bias",
    [R_O] = "model.layers.%d.self_attn.o_proj.weight",
    [R_O_B] = "model.layers.%d.self_attn.o_proj.bias",
    [R_Q_NORM] = "model.layers.%d.self_attn.q_layernorm.norms.%d.weight",
    [R_K_NORM] = "model.layers.%d.self_attn.k_layernorm.norms.%d.weight",
    [R_FFN_NORM] = "model.layers.%d.post_attention_layernorm.weight",
    [R_FFN_NORM_B] = "model.layers.%d.post_attention_layernorm.bias",
    [R_GATE] = "model.layers.%d.mlp.gate_proj.weight",
    [R_UP] = "model.layers.%d.mlp.up_proj.weight|model.layers.%d.mlp.gate_up_proj.weight",
    [R_DOWN] = "model.layers.%d.mlp.down_proj.weight",
};

static const char *const hf_phi2[R_COUNT] = {
    [R_TOK_EMBD] = "model.embed_tokens.weight",
    [R_OUT_NORM] = "model.final_layernorm.weight",
    [R_OUT_NORM_B] = "model.final_layernorm.bias",
    [R_OUTPUT] = "lm_head.weight",
    [R_OUTPUT_B] = "lm_head.bias",
    [R_ATTN_NORM] = "model.layers.%d.input_layernorm.weight",
    [R_ATTN_NORM_B] = "model.layers.%d.input_layernorm.bias",
    [R_Q] = "model.layers.%d.self_attn.q_proj.weight",
    [R_Q_B] = "model.layers.%d.self_attn.q_proj.bias",
    [R_K] = "model.layers.%d.self_attn.k_proj.weight",
    [R_K_B] = "model.layers.%d.self_attn.k_proj.bias",
    [R_V] = "model.layers.%d.self_attn.v_proj.weight",
    [R_V_B] = "model.layers.%d.self_attn.v_proj.bias",
    [R_O] = "model.layers.%d.self_attn.dense.weight",
    [R_O_B] = "model.layers.%d.self_attn.dense.bias",
    [R_UP] = "model.layers.%d.mlp.fc1.weight",
    [R_UP_B] = "model.layers.%d.mlp.fc1.bias",
    [R_DOWN] = "model.layers.%d.mlp.fc2.weight",
    [R_DOWN_B] = "model.layers.%d.mlp.fc2.bias",
};

static const char *const hf_qwen1[R_COUNT] = {
    [R_TOK_EMBD] = "transformer.wte.weight",
    [R_OUT_NORM] = "transformer.ln_f.weight",
    [R_OUTPUT] = "lm_head.weight",
    [R_ATTN_NORM] = "transformer.h.%d.ln_1.weight",
    [R_QKV] = "transformer.h.%d.attn.c_attn.weight",
    [R_QKV_B] = "transformer.h.%d.attn.c_attn.bias",
    [R_O] = "transformer.h.%d.attn.c_proj.weight",
    [R_FFN_NORM] = "transformer.h.%d.ln_2.weight",
    [R_GATE] = "transformer.h.%d.mlp.w2.weight",
    [R_UP] = "transformer.h.%d.mlp.w1.weight",
    [R_DOWN] = "transformer.h.%d.mlp.c_proj.weight",
};

typedef struct binder {
    tlm_model *m;
    const tlm_tensor_source *src;
    const char *const *names;
    tlm_error *err;
} binder;

/* Looks up role r of layer `layer` (per-head roles also take `head`); NULL if absent. */
static const tlm_tensor *find_role(const binder *b, role r, int layer, int head)
{
    const char *pattern = b->names[r];
    if (!pattern) return NULL;
    char alt[256], name[256];
    while (*pattern) {
        size_t n = strcspn(pattern, "|");
        if (n >= sizeof alt) return NULL;
        memcpy(alt, pattern, n);
        alt[n] = '\0';
        snprintf(name, sizeof name, alt, layer, head);
        const tlm_tensor *t = b->src->find(b->src->impl, name);
        if (t) return t;
        pattern += n + (pattern[n] == '|');
    }
    return NULL;
}

static void role_name(const binder *b, role r, int layer, char *buf, size_t cap)
{
    const char *pattern = b->names[r] ? b->names[r] : "?";
    char alt[256];
    size_t n = strcspn(pattern, "|");
    if (n >= sizeof alt) n = sizeof alt - 1;
    memcpy(alt, pattern, n);
    alt[n] = '\0';
    snprintf(buf, cap, alt, layer, 0);
}

static tlm_status missing(const binder *b, role r, int layer)
{
    char name[256];
    role_name(b, r, layer, name, sizeof name);
    return tlm_fail(b->err, TLM_ERR_FORMAT, "%s: tensor '%s' is missing", b->src->path, name);
}

/* Binds a matrix of rows x cols, or fails naming the tensor. */
static tlm_status bind_matrix(const binder *b, const tlm_tensor *t, int64_t rows, int64_t cols,
                              tlm_matrix *out)
{
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows)
        return tlm_fail(b->err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' has shape [%ld, %ld] (%d dims), expected [%ld, %ld]",
                        b->src->path, t->name, (long)t->ne[1], (long)t->ne[0], t->n_dims,
                        (long)rows, (long)cols);
    if (!b->m->k->matmul[t->type])
        return tlm_fail(b->err, TLM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, not supported",
                        b->src->path, t->name, tlm_type_get(t->type)->name);
    uint64_t row_bytes;
    if (!tlm_type_row_bytes(t->type, cols, &row_bytes))
        return tlm_fail(b->err, TLM_ERR_FORMAT, "%s: tensor '%s': %ld columns are not whole blocks",
                        b->src->path, t->name, (long)cols);
    *out = (tlm_matrix){t->type, rows, cols, row_bytes, t->data, false};
    return TLM_OK;
}

/* Converts a vector of n floats (any supported type) into `dst`, adding `add` to each. */
static tlm_status load_vector(const binder *b, const tlm_tensor *t, int64_t n, float add,
                              float *dst)
{
    if (tlm_tensor_nelem(t) != n || !b->m->k->to_f32[t->type])
        return tlm_fail(b->err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' has %ld elements of %s, "
                        "expected %ld floats",
                        b->src->path, t->name, (long)tlm_tensor_nelem(t),
                        tlm_type_get(t->type)->name, (long)n);
    b->m->k->to_f32[t->type](dst, t->data, n);
    for (int64_t i = 0; i < n; i++)
        dst[i] += add;
    return TLM_OK;
}

/* An optional (required = false) or required vector of n floats; *out NULL when absent. */
static tlm_status bind_vector(const binder *b, role r, int layer, int64_t n, float add,
                              bool required, const float **out)
{
    *out = NULL;
    const tlm_tensor *t = find_role(b, r, layer, 0);
    if (!t) return required ? missing(b, r, layer) : TLM_OK;
    float *dst = tlm_model_alloc(b->m, (size_t)n * sizeof(float));
    if (!dst) return tlm_fail(b->err, TLM_ERR_NO_MEMORY, "out of memory for '%s'", t->name);
    tlm_status st = load_vector(b, t, n, add, dst);
    if (st == TLM_OK) *out = dst;
    return st;
}

/* A norm's gain (and bias for LayerNorm). Gemma's HF gains are stored as w, applied 1 + w. */
static tlm_status bind_norm(const binder *b, role rw, role rb, int layer, bool required,
                            tlm_norm_weights *out)
{
    const tlm_config *c = &b->m->cfg;
    float add = (c->norm_plus_one && b->src->hf_names) ? 1.0f : 0.0f;
    tlm_status st = bind_vector(b, rw, layer, c->dim, add, required, &out->w);
    if (st != TLM_OK || !out->w || c->norm != TLM_NORM_LAYER) return st;
    return bind_vector(b, rb, layer, c->dim, 0.0f, false, &out->b);
}

/* Stacks the biases of separate parts (q, k, v) into one vector; absent parts are zero. */
static tlm_status bind_part_biases(const binder *b, const role *rb, const int64_t *rows, int n,
                                   int layer, tlm_proj *p)
{
    const tlm_tensor *t[3] = {0};
    bool any = false;
    for (int i = 0; i < n; i++)
        any |= (t[i] = find_role(b, rb[i], layer, 0)) != NULL;
    if (!any) return TLM_OK;
    float *dst = tlm_model_alloc(b->m, (size_t)p->rows * sizeof(float));
    if (!dst) return tlm_fail(b->err, TLM_ERR_NO_MEMORY, "out of memory for biases");
    memset(dst, 0, (size_t)p->rows * sizeof(float));
    for (int i = 0, at = 0; i < n; at += (int)rows[i], i++) {
        tlm_status st = t[i] ? load_vector(b, t[i], rows[i], 0.0f, dst + at) : TLM_OK;
        if (st != TLM_OK) return st;
    }
    p->bias = dst;
    return TLM_OK;
}

/* q, k, v: one fused matrix or three, rows [q_dim | kv_dim | kv_dim]. */
static tlm_status bind_qkv(const binder *b, int layer, tlm_proj *p)
{
    const tlm_config *c = &b->m->cfg;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t rows[3] = {q, kv, kv};
    p->rows = q + 2 * kv;
    const tlm_tensor *fused = find_role(b, R_QKV, layer, 0);
    if (fused) {
        p->n_parts = 1;
        tlm_status st = bind_matrix(b, fused, p->rows, c->dim, &p->part[0]);
        if (st != TLM_OK) return st;
        const role rb[1] = {R_QKV_B};
        const int64_t all[1] = {p->rows};
        return bind_part_biases(b, rb, all, 1, layer, p);
    }
    const role rw[3] = {R_Q, R_K, R_V}, rb[3] = {R_Q_B, R_K_B, R_V_B};
    p->n_parts = 3;
    for (int i = 0; i < 3; i++) {
        const tlm_tensor *t = find_role(b, rw[i], layer, 0);
        if (!t) return missing(b, rw[i], layer);
        tlm_status st = bind_matrix(b, t, rows[i], c->dim, &p->part[i]);
        if (st != TLM_OK) return st;
    }
    return bind_part_biases(b, rb, rows, 3, layer, p);
}

/* A single-matrix projection with an optional bias. */
static tlm_status bind_single(const binder *b, role rw, role rb, int layer, int64_t rows,
                              int64_t cols, tlm_proj *p)
{
    const tlm_tensor *t = find_role(b, rw, layer, 0);
    if (!t) return missing(b, rw, layer);
    p->n_parts = 1;
    p->rows = rows;
    tlm_status st = bind_matrix(b, t, rows, cols, &p->part[0]);
    if (st != TLM_OK) return st;
    return bind_vector(b, rb, layer, rows, 0.0f, false, &p->bias);
}

/* Gated MLP: [gate | up] from two matrices, or one fused matrix of 2 * hidden rows in the
 * "up" slot (Phi-3's gate_up_proj / GGUF ffn_up). Plain MLP: up only, with its bias. */
static tlm_status bind_gate_up(const binder *b, int layer, tlm_proj *p)
{
    const tlm_config *c = &b->m->cfg;
    int64_t h = c->hidden_dim;
    if (!c->mlp_gated) return bind_single(b, R_UP, R_UP_B, layer, h, c->dim, p);
    const tlm_tensor *gate = find_role(b, R_GATE, layer, 0);
    const tlm_tensor *up = find_role(b, R_UP, layer, 0);
    if (!up) return missing(b, R_UP, layer);
    p->rows = 2 * h;
    if (!gate) { /* fused: gate rows first, then up */
        p->n_parts = 1;
        return bind_matrix(b, up, 2 * h, c->dim, &p->part[0]);
    }
    p->n_parts = 2;
    tlm_status st = bind_matrix(b, gate, h, c->dim, &p->part[0]);
    return st != TLM_OK ? st : bind_matrix(b, up, h, c->dim, &p->part[1]);
}

/* QK-norm gains: GGUF stacks them ([head_dim] shared or [head_dim, n_heads]); HF StableLM
 * keeps one tensor per head, gathered here in head order. */
static tlm_status bind_qk_norm(const binder *b, role r, int layer, int32_t n_heads,
                               const float **out, bool *per_head)
{
    const tlm_config *c = &b->m->cfg;
    const tlm_tensor *t = find_role(b, r, layer, 0);
    if (!t) return missing(b, r, layer);
    bool stacked = !b->src->hf_names;
    int64_t n = stacked ? tlm_tensor_nelem(t) : (int64_t)n_heads * c->head_dim;
    if (n != c->head_dim && n != (int64_t)n_heads * c->head_dim)
        return tlm_fail(b->err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' has %ld elements, expected %d "
                        "or %ld",
                        b->src->path, t->name, (long)n, c->head_dim, (long)n_heads * c->head_dim);
    float *dst = tlm_model_alloc(b->m, (size_t)n * sizeof(float));
    if (!dst) return tlm_fail(b->err, TLM_ERR_NO_MEMORY, "out of memory for '%s'", t->name);
    for (int32_t h = 0; h < (stacked ? 1 : n_heads); h++) {
        const tlm_tensor *th = stacked ? t : find_role(b, r, layer, h);
        if (!th) return missing(b, r, layer);
        int64_t len = stacked ? n : c->head_dim;
        tlm_status st = load_vector(b, th, len, 0.0f, dst + (size_t)h * (size_t)c->head_dim);
        if (st != TLM_OK) return st;
    }
    *out = dst;
    *per_head = n != c->head_dim;
    return TLM_OK;
}

static tlm_status bind_block(const binder *b, int i, tlm_block *blk)
{
    const tlm_config *c = &b->m->cfg;
    tlm_status st;
    if ((st = bind_norm(b, R_ATTN_NORM, R_ATTN_NORM_B, i, true, &blk->attn_norm))) return st;
    if ((st = bind_qkv(b, i, &blk->qkv))) return st;
    if (c->qk_norm) {
        bool ph_q, ph_k;
        if ((st = bind_qk_norm(b, R_Q_NORM, i, c->n_heads, &blk->q_norm.w, &ph_q))) return st;
        if ((st = bind_qk_norm(b, R_K_NORM, i, c->n_kv_heads, &blk->k_norm.w, &ph_k))) return st;
        /* One flag serves q and k (forward.c reads head h's gains at h * head_dim when it is
         * set), so a side stored per head needs the other per head too; for a single head
         * the shared shape is that. Else q gains [head_dim] would be read for every head. */
        bool ph = ph_q || ph_k;
        if (ph && ((!ph_q && c->n_heads > 1) || (!ph_k && c->n_kv_heads > 1)))
            return tlm_fail(b->err, TLM_ERR_FORMAT,
                            "%s: layer %d: the q and k norm gains must "
                            "be both shared ([head_dim]) or both per head ([head_dim, heads]); "
                            "here only %s is per head",
                            b->src->path, i, ph_q ? "q" : "k");
        blk->qk_norm_per_head = ph;
    }
    int64_t q_dim = (int64_t)c->n_heads * c->head_dim;
    if ((st = bind_single(b, R_O, R_O_B, i, c->dim, q_dim, &blk->out))) return st;
    if (!c->parallel_residual &&
        (st = bind_norm(b, R_FFN_NORM, R_FFN_NORM_B, i, true, &blk->ffn_norm)))
        return st;
    if ((st = bind_gate_up(b, i, &blk->gate_up))) return st;
    return bind_single(b, R_DOWN, R_DOWN_B, i, c->dim, c->hidden_dim, &blk->down);
}

tlm_status tlm_model_bind(tlm_model *m, const tlm_tensor_source *src, tlm_error *err)
{
    binder b = {m, src, gguf_names, err};
    if (src->hf_names)
        b.names = m->arch->hf_names == TLM_HF_PHI2    ? hf_phi2
                  : m->arch->hf_names == TLM_HF_QWEN1 ? hf_qwen1
                                                      : hf_llama;
    tlm_config *c = &m->cfg;
    const tlm_tensor *t = find_role(&b, R_TOK_EMBD, 0, 0);
    if (!t) return missing(&b, R_TOK_EMBD, 0);
    if (!m->k->to_f32[t->type])
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "%s: embedding type %s not supported", src->path,
                        tlm_type_get(t->type)->name);
    tlm_status st = bind_matrix(&b, t, c->vocab_size, c->dim, &m->embed);
    if (st != TLM_OK) return st;

    m->blocks = tlm_model_alloc(m, (size_t)c->n_layers * sizeof(tlm_block));
    if (!m->blocks) return tlm_fail(err, TLM_ERR_NO_MEMORY, "out of memory for blocks");
    memset(m->blocks, 0, (size_t)c->n_layers * sizeof(tlm_block));
    for (int i = 0; i < c->n_layers; i++)
        if ((st = bind_block(&b, i, &m->blocks[i]))) return st;

    if ((st = bind_norm(&b, R_OUT_NORM, R_OUT_NORM_B, 0, true, &m->out_norm))) return st;
    if (c->tied_embeddings)
        m->head = (tlm_proj){.n_parts = 1, .part = {m->embed}, .rows = c->vocab_size};
    else if ((st = bind_single(&b, R_OUTPUT, R_OUTPUT_B, 0, c->vocab_size, c->dim, &m->head)))
        return st;
    if (!c->mlp_gated && c->act == TLM_ACT_SILU) {
        float *ones = tlm_model_alloc(m, (size_t)c->hidden_dim * sizeof(float));
        if (!ones) return tlm_fail(err, TLM_ERR_NO_MEMORY, "out of memory for the MLP");
        for (int32_t i = 0; i < c->hidden_dim; i++)
            ones[i] = 1.0f;
        m->ones = ones;
    }
    if (m->shape_only) return TLM_OK; /* no weight bytes to sample or rewrite */
    m->fingerprint = tlm_model_fingerprint(m);
    if (m->keep_rows) return TLM_OK;
    return tlm_model_interleave(m, tlm_default_threads(), err);
}

void *tlm_model_alloc(tlm_model *m, size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p) arrput(m->owned, p);
    return p;
}

const tlm_tensor *tlm_model_find_own(const void *model, const char *name)
{
    const tlm_model *m = model;
    for (ptrdiff_t i = 0; i < arrlen(m->own_tensors); i++)
        if (strcmp(m->own_tensors[i].name, name) == 0) return &m->own_tensors[i];
    return NULL;
}
