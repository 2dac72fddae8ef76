/* model_save.c - tlm_model_save_gguf: a loaded model back into a GGUF file laid out as
 * llama.cpp's converter writes its family (docs/architectures.md, "GGUF (llama.cpp)
 * conventions"), with the weight matrices converted to one type.
 *
 * The whole file is planned first (each tensor's name, type, shape and where its rows come
 * from) so the header can be written before any data and every unsupported case fails before
 * the file is touched. Then each tensor is streamed a chunk of rows at a time: a row of
 * another type is read back to float with the kernel table's to_f32 and re-encoded (rows in
 * parallel, each by one thread, so the file does not depend on the thread count); a row
 * already of the target type is copied as it is.
 *
 * Everything is read from the bound weights (m->blocks, m->embed, m->head, ...) and the
 * config, so any source format can be saved; the family's quirks come from the arch table
 * (ff_halved, gguf_rope_neox, norm kind), never from its name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "gguf_read.h"
#include "gguf_write.h"
#include "imatrix.h"
#include "model.h"
#include "quant.h"
#include "quant_mix.h"

enum { CHUNK_BYTES = 8 << 20 }; /* float rows converted per step (per buffer) */

/* llama.cpp's general.file_type (enum llama_ftype) for each requested type. */
static const struct {
    tlm_type type;
    uint32_t ftype;
} ftypes[] = {
    {TLM_TYPE_F32, 0},   {TLM_TYPE_F16, 1},   {TLM_TYPE_Q4_0, 2},    {TLM_TYPE_Q8_0, 7},
    {TLM_TYPE_Q4_K, 14}, {TLM_TYPE_Q5_K, 16}, {TLM_TYPE_Q6_K, 18},   {TLM_TYPE_BF16, 32},
    {TLM_TYPE_Q4_1, 3},  {TLM_TYPE_Q5_0, 8},  {TLM_TYPE_Q5_1, 9},    {TLM_TYPE_IQ4_NL, 25},
    {TLM_TYPE_Q2_K, 10}, {TLM_TYPE_Q3_K, 11}, {TLM_TYPE_IQ4_XS, 30},
};

/* ---- row encoders ------------------------------------------------------------------------ */

/* imatrix: the row's importance weights (n), or NULL; only some quantizers read them. */
typedef void (*encode_fn)(void *dst, const float *src, int64_t n, const float *imatrix);

static void encode_f32(void *dst, const float *src, int64_t n, const float *imatrix)
{
    (void)imatrix;
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void encode_f16(void *dst, const float *src, int64_t n, const float *imatrix)
{
    (void)imatrix;
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = tlm_f32_to_f16(src[i]);
}

static void encode_bf16(void *dst, const float *src, int64_t n, const float *imatrix)
{
    (void)imatrix;
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = tlm_f32_to_bf16(src[i]);
}

/* the quantizers without an importance path take the rows alone */
#define PLAIN(type)                                                                                \
    static void encode_##type(void *dst, const float *src, int64_t n, const float *imatrix)        \
    {                                                                                              \
        (void)imatrix;                                                                             \
        tlm_quantize_##type##_ref(dst, src, n);                                                    \
    }
PLAIN(q8_0)
PLAIN(q4_0)
PLAIN(q4_1)
PLAIN(q5_0)
PLAIN(q5_1)
#undef PLAIN

static const encode_fn encoders[TLM_DT_SLOTS] = {
    [TLM_TYPE_F32] = encode_f32,
    [TLM_TYPE_F16] = encode_f16,
    [TLM_TYPE_BF16] = encode_bf16,
    [TLM_TYPE_Q8_0] = encode_q8_0,
    [TLM_TYPE_Q4_0] = encode_q4_0,
    [TLM_TYPE_Q4_K] = tlm_quantize_q4_K_imatrix,
    [TLM_TYPE_Q5_K] = tlm_quantize_q5_K_imatrix,
    [TLM_TYPE_Q6_K] = tlm_quantize_q6_K_imatrix,
    [TLM_TYPE_Q4_1] = encode_q4_1,
    [TLM_TYPE_Q5_0] = encode_q5_0,
    [TLM_TYPE_Q5_1] = encode_q5_1,
    [TLM_TYPE_IQ4_NL] = tlm_quantize_iq4_nl_ref,
    [TLM_TYPE_Q2_K] = tlm_quantize_q2_K_ref,
    [TLM_TYPE_Q3_K] = tlm_quantize_q3_K_ref,
    [TLM_TYPE_IQ4_XS] = tlm_quantize_iq4_xs_ref,
};

static bool is_k_quant(tlm_type t)
{
    return t == TLM_TYPE_Q4_K || t == TLM_TYPE_Q5_K || t == TLM_TYPE_Q6_K || t == TLM_TYPE_Q2_K ||
           t == TLM_TYPE_Q3_K || t == TLM_TYPE_IQ4_XS;
}

/* ---- the plan ---------------------------------------------------------------------------- */

/* One tensor of the file and where its data comes from: rows [row0, row0 + ne[1]) of the
 * stacked parts of `proj` (a matrix), or `vec` (floats). The first perm_rows rows (whole
 * heads of head_dim) are reordered from rotate-half to adjacent-pair RoPE layout. */
typedef struct plan {
    char name[GGUF_WRITE_MAX_NAME + 1];
    char note[112];
    tlm_type type;
    int n_dims;
    int64_t ne[2];
    tlm_proj proj;
    int64_t row0;
    const float *vec;
    int64_t perm_rows;
    const float *imatrix; /* ne[0] importance weights from params->imatrix, or NULL */
} plan;

typedef struct saver {
    const tlm_model *m;
    const char *path; /* for messages */
    tlm_save_params p;
    int n_threads;
    bool permute; /* HF rotate-half q/k rows into GGUF llama's adjacent pairs */
    tlm_error *err;
    tlm_status st;
    plan *plans;       /* stb_ds array */
    tlm_type mix_base; /* with p.mix: the mix's type, and what its rules read */
    tlm_mix_model mix_model;
    tlm_imatrix *imatrix; /* params->imatrix, read */
} saver;

/* Source row (within the tensor) of row r of the written tensor. The converter's rule: new
 * row 2j + s of a head is old row s * head_dim / 2 + j. */
static int64_t source_row(const plan *t, int32_t head_dim, int64_t r)
{
    if (r >= t->perm_rows) return r;
    int64_t head = r / head_dim, i = r % head_dim;
    return head * head_dim + (i & 1) * (head_dim / 2) + (i >> 1);
}

/* The matrix holding logical row r of a projection, and r within it. */
static const tlm_matrix *locate(const tlm_proj *p, int64_t r, int64_t *local)
{
    for (int i = 0; i < p->n_parts; i++) {
        if (r < p->part[i].rows) {
            *local = r;
            return &p->part[i];
        }
        r -= p->part[i].rows;
    }
    *local = 0;
    return NULL;
}

static plan *new_plan(saver *s, const char *fmt, int layer)
{
    plan t = {0};
    snprintf(t.name, sizeof t.name, fmt, layer);
    arrput(s->plans, t);
    return &arrlast(s->plans);
}

/* The type a matrix with rows of `cols` is written as, and a note when it is not `want`. */
static tlm_type pick_type(tlm_type want, bool is_head, int64_t cols, char *note, size_t cap)
{
    /* llama.cpp keeps the LM head at 6 bits under every quantized type below 8 bits */
    if (is_head && tlm_type_get((uint32_t)want)->block_elems > 1 && want != TLM_TYPE_Q8_0)
        want = TLM_TYPE_Q6_K;
    uint64_t rb;
    if (tlm_type_row_bytes(want, cols, &rb)) return want;
    tlm_type fb = is_k_quant(want) && cols % QK8_0 == 0 ? TLM_TYPE_Q8_0 : TLM_TYPE_F16;
    const tlm_type_traits *tr = tlm_type_get((uint32_t)want);
    snprintf(note, cap, "rows of %ld are not whole %s blocks of %d: written as %s", (long)cols,
             tr->name, tr->block_elems, tlm_type_get((uint32_t)fb)->name);
    return fb;
}

/* Rows [row0, row0 + rows) of proj as a matrix tensor. */
static void plan_matrix(saver *s, const char *fmt, int layer, const tlm_proj *proj, int64_t row0,
                        int64_t rows, int64_t perm_rows, bool is_head)
{
    if (s->st != TLM_OK) return;
    plan *t = new_plan(s, fmt, layer);
    int64_t cols = proj->part[0].cols;
    t->n_dims = 2;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->proj = *proj;
    t->row0 = row0;
    t->perm_rows = s->permute ? perm_rows : 0;
    if (s->imatrix) {
        int64_t n_found;
        t->imatrix = tlm_imatrix_find(s->imatrix, t->name, &n_found);
        if (t->imatrix && n_found != cols) {
            s->st = tlm_fail(s->err, TLM_ERR_FORMAT,
                             "%s: importance matrix entry '%s' has %ld "
                             "values, but the tensor's rows have %ld",
                             s->p.imatrix, t->name, (long)n_found, (long)cols);
            return;
        }
    }
    t->type = s->p.mix ? tlm_mix_type(s->p.mix, s->mix_base, &s->mix_model, t->name, is_head, cols,
                                      t->note, sizeof t->note)
                       : pick_type(s->p.type, is_head, cols, t->note, sizeof t->note);
    /* every source matrix must be readable as float unless it is copied as it is */
    for (int64_t r = row0; r < row0 + rows;) {
        int64_t local;
        const tlm_matrix *mat = locate(proj, r, &local);
        if (!mat) {
            s->st = tlm_fail(s->err, TLM_ERR_ARG, "%s: tensor '%s': rows out of range", s->path,
                             t->name);
            return;
        }
        if (mat->type != t->type && !s->m->k->to_f32[mat->type]) {
            s->st = tlm_fail(s->err, TLM_ERR_UNSUPPORTED,
                             "%s: tensor '%s': source type %s cannot be converted to float in "
                             "this build (no to_f32 kernel)",
                             s->path, t->name, tlm_type_get(mat->type)->name);
            return;
        }
        r += mat->rows - local;
    }
}

/* A float vector of n (1-D) or ne0 x ne1 (2-D when ne1 > 1) elements, written as F32. */
static void plan_vector(saver *s, const char *fmt, int layer, const float *v, int64_t ne0,
                        int64_t ne1, int64_t perm_rows)
{
    if (s->st != TLM_OK || !v) return;
    plan *t = new_plan(s, fmt, layer);
    t->type = TLM_TYPE_F32;
    t->n_dims = ne1 > 1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->vec = v;
    t->perm_rows = s->permute ? perm_rows : 0;
}

static void plan_norm(saver *s, const char *fmt_w, const char *fmt_b, int layer,
                      const tlm_norm_weights *n)
{
    plan_vector(s, fmt_w, layer, n->w, s->m->cfg.dim, 1, 0);
    plan_vector(s, fmt_b, layer, n->b, s->m->cfg.dim, 1, 0);
}

/* A projection's bias, rows [row0, row0 + rows) of it. */
static void plan_bias(saver *s, const char *fmt, int layer, const tlm_proj *p, int64_t row0,
                      int64_t rows, int64_t perm_rows)
{
    if (p->bias) plan_vector(s, fmt, layer, p->bias + row0, rows, 1, perm_rows);
}

/* GGUF block g, written from stored block b. */
static void plan_block(saver *s, int g, const tlm_block *b)
{
    const tlm_config *c = &s->m->cfg;
    int64_t hd = c->head_dim, q = c->n_heads * hd, kv = c->n_kv_heads * hd, h = c->hidden_dim;
    plan_norm(s, "blk.%d.attn_norm.weight", "blk.%d.attn_norm.bias", g, &b->attn_norm);
    if (b->qkv.n_parts == 1) { /* fused, kept fused (Qwen v1, Phi-3) */
        plan_matrix(s, "blk.%d.attn_qkv.weight", g, &b->qkv, 0, q + 2 * kv, q + kv, false);
        plan_bias(s, "blk.%d.attn_qkv.bias", g, &b->qkv, 0, q + 2 * kv, q + kv);
    } else {
        plan_matrix(s, "blk.%d.attn_q.weight", g, &b->qkv, 0, q, q, false);
        plan_bias(s, "blk.%d.attn_q.bias", g, &b->qkv, 0, q, q);
        plan_matrix(s, "blk.%d.attn_k.weight", g, &b->qkv, q, kv, kv, false);
        plan_bias(s, "blk.%d.attn_k.bias", g, &b->qkv, q, kv, kv);
        plan_matrix(s, "blk.%d.attn_v.weight", g, &b->qkv, q + kv, kv, 0, false);
        plan_bias(s, "blk.%d.attn_v.bias", g, &b->qkv, q + kv, kv, 0);
    }
    if (b->q_norm.w) { /* gains over head_dim: stacked per head {head_dim, heads} or shared */
        int64_t nq = b->qk_norm_per_head ? c->n_heads : 1;
        int64_t nk = b->qk_norm_per_head ? c->n_kv_heads : 1;
        plan_vector(s, "blk.%d.attn_q_norm.weight", g, b->q_norm.w, hd, nq, hd * nq);
        plan_vector(s, "blk.%d.attn_k_norm.weight", g, b->k_norm.w, hd, nk, hd * nk);
    }
    plan_matrix(s, "blk.%d.attn_output.weight", g, &b->out, 0, c->dim, 0, false);
    plan_bias(s, "blk.%d.attn_output.bias", g, &b->out, 0, c->dim, 0);
    plan_norm(s, "blk.%d.ffn_norm.weight", "blk.%d.ffn_norm.bias", g, &b->ffn_norm);
    if (!c->mlp_gated) {
        plan_matrix(s, "blk.%d.ffn_up.weight", g, &b->gate_up, 0, h, 0, false);
        plan_bias(s, "blk.%d.ffn_up.bias", g, &b->gate_up, 0, h, 0);
    } else if (b->gate_up.n_parts == 1) { /* fused [gate | up] (Phi-3), kept fused */
        plan_matrix(s, "blk.%d.ffn_up.weight", g, &b->gate_up, 0, 2 * h, 0, false);
    } else {
        plan_matrix(s, "blk.%d.ffn_gate.weight", g, &b->gate_up, 0, h, 0, false);
        plan_matrix(s, "blk.%d.ffn_up.weight", g, &b->gate_up, h, h, 0, false);
    }
    plan_matrix(s, "blk.%d.ffn_down.weight", g, &b->down, 0, c->dim, 0, false);
    plan_bias(s, "blk.%d.ffn_down.bias", g, &b->down, 0, c->dim, 0);
}

static void plan_model(saver *s)
{
    const tlm_model *m = s->m;
    const tlm_config *c = &m->cfg;
    tlm_proj embed = {.n_parts = 1, .part = {m->embed}, .rows = m->embed.rows};
    /* a tied head is the embedding: it gets the head's type, as in llama.cpp */
    plan_matrix(s, "token_embd.weight", 0, &embed, 0, c->vocab_size, 0, c->tied_embeddings);
    if (c->longrope) { /* Phi-3-128k: one pair of F32 factor lists for all layers */
        plan_vector(s, "rope_factors_long.weight", 0, c->rope_long, c->rope_dim / 2, 1, 0);
        plan_vector(s, "rope_factors_short.weight", 0, c->rope_short, c->rope_dim / 2, 1, 0);
    }
    /* layer sharing: each stored block is written once per application (block_count 2L) */
    for (int g = 0; g < tlm_config_n_apply(c); g++)
        plan_block(s, g, &m->blocks[tlm_config_block_of(c, g)]);
    plan_norm(s, "output_norm.weight", "output_norm.bias", 0, &m->out_norm);
    if (!c->tied_embeddings) {
        plan_matrix(s, "output.weight", 0, &m->head, 0, c->vocab_size, 0, true);
        plan_bias(s, "output.bias", 0, &m->head, 0, c->vocab_size, 0);
    }
}

/* ---- metadata ---------------------------------------------------------------------------- */

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void write_keys(saver *s, gguf_writer *w)
{
    const tlm_model *m = s->m;
    const tlm_config *c = &m->cfg;
    const char *arch = m->arch->gguf_name;
    const gguf_file *src = m->gguf;
    char key[160];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)

    tlm_gguf_writer_set_str(w, "general.architecture", arch);
    for (int64_t i = 0; src && i < src->n_kv; i++) {
        const gguf_kv *kv = &src->kv[i];
        if (kv->type == GGUF_STRING && has_prefix(kv->key, "general.") &&
            strcmp(kv->key, "general.architecture") != 0 &&
            strcmp(kv->key, "general.file_type") != 0 &&
            strcmp(kv->key, "general.quantization_version") != 0)
            tlm_gguf_writer_copy_kv(w, kv);
    }
    tlm_gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)c->max_seq);
    tlm_gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)c->dim);
    tlm_gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)tlm_config_n_apply(c));
    /* Qwen v1's converter writes the config's intermediate_size, twice the real width */
    tlm_gguf_writer_set_u32(w, KEY("feed_forward_length"),
                            (uint32_t)c->hidden_dim * (m->arch->ff_halved ? 2u : 1u));
    tlm_gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    tlm_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    if ((int64_t)c->head_dim * c->n_heads != c->dim) { /* readers default to dim / heads */
        tlm_gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim);
        tlm_gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim);
    }
    /* written for every family (some converters leave them to defaults) so the file says
     * exactly what this model computes */
    tlm_gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)c->rope_dim);
    tlm_gguf_writer_set_f32(w, KEY("rope.freq_base"), c->rope_theta);
    tlm_gguf_writer_set_f32(w,
                            c->norm == TLM_NORM_RMS ? KEY("attention.layer_norm_rms_epsilon")
                                                    : KEY("attention.layer_norm_epsilon"),
                            c->norm_eps);
    /* 0 as well: llama.cpp assumes a window for some Phi-3 shapes when the key is missing */
    tlm_gguf_writer_set_u32(w, KEY("attention.sliding_window"), (uint32_t)c->sliding_window);
    tlm_gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size);
    /* LongRoPE as llama.cpp reads it; other RoPE scaling keys are kept as the source had them */
    if (c->longrope) {
        tlm_gguf_writer_set_u32(w, KEY("rope.scaling.original_context_length"),
                                (uint32_t)c->orig_ctx);
        tlm_gguf_writer_set_f32(w, KEY("rope.scaling.attn_factor"), c->rope_attn_factor);
    }
    char written[2][160];
    snprintf(written[0], sizeof written[0], "%s.rope.scaling.original_context_length", arch);
    snprintf(written[1], sizeof written[1], "%s.rope.scaling.attn_factor", arch);
    KEY("rope.scaling.");
    for (int64_t i = 0; src && i < src->n_kv; i++)
        if (has_prefix(src->kv[i].key, key) &&
            !(c->longrope &&
              (!strcmp(src->kv[i].key, written[0]) || !strcmp(src->kv[i].key, written[1]))))
            tlm_gguf_writer_copy_kv(w, &src->kv[i]);
#undef KEY

    tlm_type mix_base;
    uint32_t mix_ftype;
    if (tlm_mix_base(s->p.mix, &mix_base, &mix_ftype))
        tlm_gguf_writer_set_u32(w, "general.file_type", mix_ftype);
    else
        for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
            if (ftypes[i].type == s->p.type)
                tlm_gguf_writer_set_u32(w, "general.file_type", ftypes[i].ftype);
    tlm_gguf_writer_set_u32(w, "general.quantization_version", 2);
    for (int64_t i = 0; src && i < src->n_kv; i++)
        if (has_prefix(src->kv[i].key, "tokenizer.")) tlm_gguf_writer_copy_kv(w, &src->kv[i]);
    /* No vocabulary to copy: say so the way llama.cpp understands (it refuses a file without
     * this key, and with "none" takes the vocabulary size from {arch}.vocab_size). */
    if (!src || !tlm_gguf_find(src, "tokenizer.ggml.model"))
        tlm_gguf_writer_set_str(w, "tokenizer.ggml.model", "none");
}

/* ---- data -------------------------------------------------------------------------------- */

static void report(saver *s, const plan *t, int index, int64_t done, int64_t total)
{
    if (!s->p.progress) return;
    tlm_save_progress pr = {
        t->name, t->type, t->note[0] ? t->note : NULL, index, (int32_t)arrlen(s->plans),
        done,    total};
    s->p.progress(s->p.user, &pr);
}

static tlm_status write_vector(saver *s, gguf_writer *w, const plan *t)
{
    int64_t n = t->ne[0] * t->ne[1];
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return tlm_fail(s->err, TLM_ERR_NO_MEMORY, "%s: out of memory for '%s'", s->path, t->name);
    for (int64_t i = 0; i < n; i++)
        v[i] = t->vec[source_row(t, s->m->cfg.head_dim, i)];
    tlm_status st = tlm_gguf_writer_write(w, v, (uint64_t)n * sizeof *v);
    free(v);
    return st;
}

static tlm_status write_matrix(saver *s, gguf_writer *w, const plan *t, int index, int64_t *done,
                               int64_t total)
{
    int64_t cols = t->ne[0], rows = t->ne[1];
    uint64_t out_rb;
    tlm_type_row_bytes(t->type, cols, &out_rb); /* checked when planned */
    int64_t chunk = CHUNK_BYTES / (cols * (int64_t)sizeof(float));
    if (chunk < 1) chunk = 1;
    if (chunk > rows) chunk = rows;
    float *fbuf = malloc((size_t)chunk * (size_t)cols * sizeof(float));
    uint8_t *obuf = malloc((size_t)chunk * (size_t)out_rb);
    /* a row of an interleaved matrix is gathered here first; no stored row is longer than
     * its floats */
    uint8_t *rbuf = malloc((size_t)chunk * (size_t)cols * sizeof(float));
    if (!fbuf || !obuf || !rbuf) {
        free(fbuf);
        free(obuf);
        free(rbuf);
        return tlm_fail(s->err, TLM_ERR_NO_MEMORY, "%s: out of memory for rows of '%s'", s->path,
                        t->name);
    }
    const tlm_kernels *k = s->m->k;
    const int32_t hd = s->m->cfg.head_dim;
    encode_fn encode = encoders[t->type];
    tlm_status st = TLM_OK;
    for (int64_t r0 = 0; r0 < rows && st == TLM_OK; r0 += chunk) {
        int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
#pragma omp parallel for schedule(static) num_threads(s->n_threads)
        for (int64_t i = 0; i < n; i++) {
            int64_t local;
            const tlm_matrix *mat = locate(&t->proj, t->row0 + source_row(t, hd, r0 + i), &local);
            const uint8_t *src =
                tlm_matrix_row(mat, local, rbuf + (uint64_t)i * (uint64_t)cols * sizeof(float));
            uint8_t *dst = obuf + (uint64_t)i * out_rb;
            if (mat->type == t->type) {
                memcpy(dst, src, (size_t)out_rb);
            } else {
                float *f = fbuf + i * cols;
                k->to_f32[mat->type](f, src, cols);
                encode(dst, f, cols, t->imatrix);
            }
        }
        st = tlm_gguf_writer_write(w, obuf, (uint64_t)n * out_rb);
        *done += n * cols;
        report(s, t, index, *done, total);
    }
    free(fbuf);
    free(obuf);
    free(rbuf);
    return st;
}

/* ---- the call ---------------------------------------------------------------------------- */

tlm_save_params tlm_save_default_params(void)
{
    return (tlm_save_params){.type = TLM_TYPE_F16, .n_threads = 0, .progress = NULL, .user = NULL};
}

static tlm_status check_layout(const tlm_model *m, const char *path, bool *permute, tlm_error *err)
{
    const tlm_config *c = &m->cfg;
    *permute = c->rope_neox && !m->arch->gguf_rope_neox;
    if (!c->rope_neox && m->arch->gguf_rope_neox)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: the model rotates adjacent pairs but GGUF "
                        "architecture '%s' expects rotate-half weights",
                        path, m->arch->gguf_name);
    if (*permute && c->rope_dim != c->head_dim)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: partial RoPE (%d of %d dims) cannot be "
                        "written in GGUF '%s' layout",
                        path, c->rope_dim, c->head_dim, m->arch->gguf_name);
    return TLM_OK;
}

/* Plans, then writes the file (s filled from the params, the importance matrix read). */
static tlm_status save(saver *s)
{
    s->mix_model = (tlm_mix_model){tlm_config_n_apply(&s->m->cfg),
                                   s->m->cfg.n_heads / s->m->cfg.n_kv_heads, s->imatrix != NULL};
    s->n_threads = s->p.n_threads > 0 ? s->p.n_threads : tlm_default_threads();
    tlm_status st = check_layout(s->m, s->path, &s->permute, s->err);
    if (st != TLM_OK) return st;
    plan_model(s);
    if (s->st != TLM_OK) {
        arrfree(s->plans);
        return s->st;
    }

    gguf_writer *w;
    if ((st = tlm_gguf_writer_open(s->path, &w, s->err)) != TLM_OK) {
        arrfree(s->plans);
        return st;
    }
    write_keys(s, w);
    int64_t total = 0, done = 0;
    for (ptrdiff_t i = 0; i < arrlen(s->plans); i++) {
        const plan *t = &s->plans[i];
        tlm_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne);
        total += t->ne[0] * t->ne[1];
    }
    st = tlm_gguf_writer_begin_data(w);
    for (ptrdiff_t i = 0; i < arrlen(s->plans) && st == TLM_OK; i++) {
        const plan *t = &s->plans[i];
        report(s, t, (int)i, done, total);
        if (t->vec) {
            st = write_vector(s, w, t);
            done += t->ne[0] * t->ne[1];
        } else {
            st = write_matrix(s, w, t, (int)i, &done, total);
        }
    }
    arrfree(s->plans);
    if (st != TLM_OK) {
        tlm_gguf_writer_discard(w);
        return st;
    }
    return tlm_gguf_writer_finish(w);
}

tlm_status tlm_model_save_gguf(const tlm_model *model, const char *path,
                               const tlm_save_params *params, tlm_error *err)
{
    if (!model || !path)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_model_save_gguf: %s is NULL",
                        model ? "path" : "model");
    if (model->shape_only)
        return tlm_fail(err, TLM_ERR_ARG, "%s: the model has shapes only, no weights to save",
                        path);
    saver s = {
        .m = model, .path = path, .p = params ? *params : tlm_save_default_params(), .err = err};
    uint32_t mix_ftype;
    if (s.p.mix && !tlm_mix_base(s.p.mix, &s.mix_base, &mix_ftype))
        return tlm_fail(err, TLM_ERR_ARG, "%s: unknown quantization mix %d", path, (int)s.p.mix);
    if (s.p.mix) s.p.type = s.mix_base;
    if ((uint32_t)s.p.type >= TLM_DT_SLOTS || !encoders[s.p.type])
        return tlm_fail(err, TLM_ERR_ARG,
                        "%s: cannot write weights as type %d (F32, F16, BF16, "
                        "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, "
                        "IQ4_XS)",
                        path, (int)s.p.type);
    tlm_status st = TLM_OK;
    if (s.p.imatrix && (st = tlm_imatrix_read(s.p.imatrix, &s.imatrix, err)) != TLM_OK) return st;
    st = save(&s);
    tlm_imatrix_free(s.imatrix);
    return st;
}
