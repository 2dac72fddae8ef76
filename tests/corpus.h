/* corpus.h - small valid files of every format libtinylm reads, written byte by byte here,
 * and the malformed corpus made from them (truncations at every section, lying counts,
 * overflowing dims, bad offsets, wrong types, bad UTF-8, bad JSON).
 *
 * Header-only (static functions), shared by tests/lib/test_malformed.c, which loads every
 * case through the public API and checks its status and message, and tests/fuzz/seeds.c,
 * which writes the same files out as the fuzzers' seed corpora. Nothing here reads a file.
 *
 * The model everywhere is one tiny llama: dim 8, 2 layers, 2 heads of 4, 1 KV head, MLP 16,
 * a 20-piece SentencePiece vocabulary, context 16. */
#ifndef TLM_TEST_CORPUS_H
#define TLM_TEST_CORPUS_H

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinylm.h"

/* ---- a growable byte buffer ----------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static inline void wb_put(wbuf *b, const void *src, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "corpus.h: out of memory\n");
            exit(2);
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
    b->p[b->n] = 0; /* text files stay terminated */
}

static inline void wb_free(wbuf *b)
{
    free(b->p);
    *b = (wbuf){0};
}

static inline void wb_le(wbuf *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    wb_put(b, t, (size_t)n);
}
static inline void wb_u8(wbuf *b, uint8_t v) { wb_put(b, &v, 1); }
static inline void wb_u32(wbuf *b, uint32_t v) { wb_le(b, v, 4); }
static inline void wb_u64(wbuf *b, uint64_t v) { wb_le(b, v, 8); }
static inline void wb_f32(wbuf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    wb_u32(b, u);
}
static inline void wb_str(wbuf *b, const char *s) { wb_put(b, s, strlen(s)); }
static inline void wb_printf(wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void wb_printf(wbuf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    wb_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
static inline void wb_patch(wbuf *b, size_t at, uint64_t v, int n)
{
    for (int i = 0; i < n && at + (size_t)i < b->n; i++)
        b->p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}
static inline void wb_copy(wbuf *dst, const wbuf *src)
{
    *dst = (wbuf){0};
    wb_put(dst, src->p, src->n);
}
static inline void wb_truncate(wbuf *b, size_t n)
{
    if (n < b->n) b->n = n;
}

/* ---- the tiny model ------------------------------------------------------------------- */

enum {
    CM_DIM = 8,
    CM_HIDDEN = 16,
    CM_LAYERS = 2,
    CM_HEADS = 2,
    CM_KV_HEADS = 1,
    CM_HEAD_DIM = 4,
    CM_CTX = 16,
    CM_VOCAB = 20
};

/* The SentencePiece vocabulary (GGUF and .model spell a space U+2581). */
// clang-format off
static const struct cm_piece {
    const char *text;
    float score;
    int type; /* GGUF / SentencePiece token type */
} cm_vocab[CM_VOCAB] = {
    {"<unk>", 0, 2},         {"<s>", 0, 3},         {"</s>", 0, 3},
    {"<0x0A>", 0, 6},        {"<0x41>", 0, 6},      {"\xE2\x96\x81", -1, 1},
    {"a", -2, 1},            {"b", -3, 1},          {"c", -4, 1},
    {"d", -5, 1},            {"e", -6, 1},          {"\xE2\x96\x81" "a", -7, 1},
    {"\xE2\x96\x81" "b", -8, 1}, {"ab", -9, 1},     {"cd", -10, 1},
    {"\xE2\x96\x81" "ab", -11, 1}, {"abcd", -12, 1}, {"\xE2\x96\x81" "abcd", -13, 1},
    {"\xC3\xA9", -14, 1},    {"<0xC3>", 0, 6},
};
// clang-format on

/* Deterministic weights, O(1/sqrt(fan-in)). */
static inline float cm_weight(uint32_t tensor, uint32_t i)
{
    uint32_t h = tensor * 2654435761u ^ (i + 0x9e3779b9u);
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return ((float)(h & 0xffff) / 65536.0f - 0.5f) * 0.7f;
}

/* One weight of the model in GGUF terms: name, ne (ggml order), and the HF name. */
typedef struct cm_tensor {
    char gguf[64], hf[80];
    int n_dims;
    int64_t ne[2];
    bool norm; /* a gain vector: values near 1 */
} cm_tensor;

static inline int cm_tensors(cm_tensor *t)
{
    int n = 0;
#define CM_T(G, H, D, A, B, N)                                                                     \
    do {                                                                                           \
        cm_tensor *x = &t[n++];                                                                    \
        *x = (cm_tensor){.n_dims = D, .ne = {A, B}, .norm = N};                                    \
        snprintf(x->gguf, sizeof x->gguf, "%s", G);                                                \
        snprintf(x->hf, sizeof x->hf, "%s", H);                                                    \
    } while (0)
    CM_T("token_embd.weight", "model.embed_tokens.weight", 2, CM_DIM, CM_VOCAB, false);
    for (int l = 0; l < CM_LAYERS; l++) {
        char g[64], h[80];
        const int q = CM_HEADS * CM_HEAD_DIM, kv = CM_KV_HEADS * CM_HEAD_DIM;
#define CM_L(GS, HS, D, A, B, N)                                                                   \
    do {                                                                                           \
        snprintf(g, sizeof g, "blk.%d.%s", l, GS);                                                 \
        snprintf(h, sizeof h, "model.layers.%d.%s", l, HS);                                        \
        CM_T(g, h, D, A, B, N);                                                                    \
    } while (0)
        CM_L("attn_norm.weight", "input_layernorm.weight", 1, CM_DIM, 1, true);
        CM_L("attn_q.weight", "self_attn.q_proj.weight", 2, CM_DIM, q, false);
        CM_L("attn_k.weight", "self_attn.k_proj.weight", 2, CM_DIM, kv, false);
        CM_L("attn_v.weight", "self_attn.v_proj.weight", 2, CM_DIM, kv, false);
        CM_L("attn_output.weight", "self_attn.o_proj.weight", 2, q, CM_DIM, false);
        CM_L("ffn_norm.weight", "post_attention_layernorm.weight", 1, CM_DIM, 1, true);
        CM_L("ffn_gate.weight", "mlp.gate_proj.weight", 2, CM_DIM, CM_HIDDEN, false);
        CM_L("ffn_up.weight", "mlp.up_proj.weight", 2, CM_DIM, CM_HIDDEN, false);
        CM_L("ffn_down.weight", "mlp.down_proj.weight", 2, CM_HIDDEN, CM_DIM, false);
#undef CM_L
    }
    CM_T("output_norm.weight", "model.norm.weight", 1, CM_DIM, 1, true);
    CM_T("output.weight", "lm_head.weight", 2, CM_DIM, CM_VOCAB, false);
#undef CM_T
    return n;
}
enum { CM_N_TENSORS = 3 + 9 * CM_LAYERS };

static inline void cm_values(const cm_tensor *t, int index, float *out)
{
    int64_t n = t->ne[0] * t->ne[1];
    for (int64_t i = 0; i < n; i++)
        out[i] = (t->norm ? 1.0f : 0.0f) +
                 cm_weight((uint32_t)index, (uint32_t)i) * (t->norm ? 0.2f : 1.0f);
}

/* ---- GGUF ----------------------------------------------------------------------------- */

enum {
    G_U8 = 0,
    G_I8,
    G_U16,
    G_I16,
    G_U32,
    G_I32,
    G_F32,
    G_BOOL,
    G_STRING,
    G_ARRAY,
    G_U64,
    G_I64,
    G_F64
};

typedef struct gguf_b {
    wbuf kv, info, data;
    uint64_t n_kv, n_tensors;
    size_t kv_at[64], info_at[64]; /* offsets inside kv / info */
    uint32_t alignment;
} gguf_b;

/* Where the sections of a finished file start (file offsets). */
typedef struct gguf_marks {
    size_t kv_at[64], info_at[64];
    size_t kv_start, info_start, data_start, size;
    uint64_t n_kv, n_tensors;
} gguf_marks;

static inline void gb_gstr(wbuf *b, const char *s, size_t n)
{
    wb_u64(b, n);
    wb_put(b, s, n);
}

static inline void gb_key(gguf_b *g, const char *key, uint32_t type)
{
    if (g->n_kv < 64) g->kv_at[g->n_kv] = g->kv.n;
    g->n_kv++;
    gb_gstr(&g->kv, key, strlen(key));
    wb_u32(&g->kv, type);
}
static inline void gb_str(gguf_b *g, const char *key, const char *v)
{
    gb_key(g, key, G_STRING);
    gb_gstr(&g->kv, v, strlen(v));
}
static inline void gb_u32(gguf_b *g, const char *key, uint32_t v)
{
    gb_key(g, key, G_U32);
    wb_u32(&g->kv, v);
}
static inline void gb_f32(gguf_b *g, const char *key, float v)
{
    gb_key(g, key, G_F32);
    wb_f32(&g->kv, v);
}
static inline void gb_bool(gguf_b *g, const char *key, uint8_t v)
{
    gb_key(g, key, G_BOOL);
    wb_u8(&g->kv, v);
}
static inline void gb_arr_head(gguf_b *g, const char *key, uint32_t type, uint64_t n)
{
    gb_key(g, key, G_ARRAY);
    wb_u32(&g->kv, type);
    wb_u64(&g->kv, n);
}
static inline void gb_arr_strs(gguf_b *g, const char *key, const char *const *v, int n)
{
    gb_arr_head(g, key, G_STRING, (uint64_t)n);
    for (int i = 0; i < n; i++)
        gb_gstr(&g->kv, v[i], strlen(v[i]));
}

/* A tensor: info now, data appended at the next aligned offset. */
static inline void gb_tensor(gguf_b *g, const char *name, uint32_t type, int n_dims,
                             const int64_t *ne, const void *data, size_t nbytes)
{
    uint32_t align = g->alignment ? g->alignment : 32;
    while (g->data.n % align)
        wb_u8(&g->data, 0);
    if (g->n_tensors < 64) g->info_at[g->n_tensors] = g->info.n;
    g->n_tensors++;
    gb_gstr(&g->info, name, strlen(name));
    wb_u32(&g->info, (uint32_t)n_dims);
    for (int d = 0; d < n_dims; d++)
        wb_u64(&g->info, (uint64_t)ne[d]);
    wb_u32(&g->info, type);
    wb_u64(&g->info, g->data.n);
    wb_put(&g->data, data, nbytes);
}

static inline void gb_finish(gguf_b *g, uint32_t version, wbuf *out, gguf_marks *mk)
{
    uint32_t align = g->alignment ? g->alignment : 32;
    *out = (wbuf){0};
    wb_str(out, "GGUF");
    wb_u32(out, version);
    wb_u64(out, g->n_tensors);
    wb_u64(out, g->n_kv);
    size_t kv_start = out->n;
    wb_put(out, g->kv.p, g->kv.n);
    size_t info_start = out->n;
    wb_put(out, g->info.p, g->info.n);
    while (out->n % align)
        wb_u8(out, 0);
    size_t data_start = out->n;
    wb_put(out, g->data.p, g->data.n);
    if (mk) {
        *mk = (gguf_marks){.kv_start = kv_start,
                           .info_start = info_start,
                           .data_start = data_start,
                           .size = out->n,
                           .n_kv = g->n_kv,
                           .n_tensors = g->n_tensors};
        for (uint64_t i = 0; i < g->n_kv && i < 64; i++)
            mk->kv_at[i] = kv_start + g->kv_at[i];
        for (uint64_t i = 0; i < g->n_tensors && i < 64; i++)
            mk->info_at[i] = info_start + g->info_at[i];
    }
    wb_free(&g->kv);
    wb_free(&g->info);
    wb_free(&g->data);
}

static inline uint64_t wb_get_le(const wbuf *b, size_t at, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b->p[at + (size_t)i];
    return v;
}

/* File offset of the value of the key-value pair that starts at kv_at (after key and type). */
static inline size_t gg_value_at(const wbuf *b, size_t kv_at)
{
    return kv_at + 8 + (size_t)wb_get_le(b, kv_at, 8) + 4;
}

/* File offset of the data-offset field of the tensor info that starts at info_at. */
static inline size_t gg_offset_at(const wbuf *b, size_t info_at)
{
    size_t at = info_at + 8 + (size_t)wb_get_le(b, info_at, 8);
    return at + 4 + 8 * (size_t)wb_get_le(b, at, 4) + 4;
}

/* What a variant of the GGUF model changes while it is built. */
typedef enum gguf_mut {
    GM_NONE,
    GM_VERSION4,
    GM_DUP_KEY,
    GM_DUP_TENSOR,
    GM_NO_ARCH,
    GM_ARCH_MAMBA,
    GM_LAYERS_STR,
    GM_LAYERS_HUGE,
    GM_HEADS_ZERO,
    GM_KV_HEADS_3,
    GM_DIM_LIE,
    GM_MISSING_TENSOR,
    GM_SHAPE,
    GM_BOS_OOR,
    GM_BOS_STR,
    GM_THETA_NAN,
    GM_EPS_STR,
    GM_BOOL2,
    GM_KEY_NUL,
    GM_NAME_LONG,
    GM_NORM_Q8,
    GM_NDIMS5,
    GM_NE_ZERO,
    GM_NE_OVERFLOW,
    GM_BYTES_OVERFLOW,
    GM_TYPE99,
    GM_MISALIGNED,
    GM_OFFSET_PAST,
    GM_ALIGN3,
    GM_ALIGN_STR,
    GM_NESTED,
    GM_VTYPE99,
    GM_TOK_I32,
    GM_SCORES_SHORT,
    GM_TTYPE9,
    GM_BYTE_NEG,
    GM_BYTE_ZZ,
    GM_SCORE_NAN,
    GM_TOKMODEL_BERT,
    GM_NO_TOKENIZER,
    GM_ALIGN64,
    GM_EXTRA_Q8,
    GM_NAN_WEIGHT,
    GM_F16_HEAD,
    GM_EMPTY_KEY,
    GM_CTX_ZERO,
    GM_VOCAB_MORE,
    GM_QK_MIXED,
    GM_QK_Q_PER_HEAD,
    GM_RETYPE_F16,
    GM_GAP,
    GM_OVERLAP,
    GM_SWAPPED,
} gguf_mut;

/* The tiny llama as GGUF v3 with its vocabulary. */
static inline void cm_gguf(wbuf *out, gguf_mut mut, gguf_marks *mk)
{
    gguf_b g = {0};
    if (mut == GM_ALIGN64) {
        g.alignment = 64;
        gb_u32(&g, "general.alignment", 64);
    }
    if (mut == GM_ALIGN3) gb_u32(&g, "general.alignment", 3);
    if (mut == GM_ALIGN_STR) gb_str(&g, "general.alignment", "32");
    if (mut != GM_NO_ARCH)
        gb_str(&g, "general.architecture", mut == GM_ARCH_MAMBA ? "mamba" : "llama");
    gb_str(&g, "general.name", "corpus-tiny");
    gb_u32(&g, "llama.embedding_length", mut == GM_DIM_LIE ? 16 : CM_DIM);
    if (mut == GM_LAYERS_STR)
        gb_str(&g, "llama.block_count", "2");
    else
        gb_u32(&g, "llama.block_count", mut == GM_LAYERS_HUGE ? 100000 : CM_LAYERS);
    gb_u32(&g, "llama.feed_forward_length", CM_HIDDEN);
    gb_u32(&g, "llama.attention.head_count", mut == GM_HEADS_ZERO ? 0 : CM_HEADS);
    gb_u32(&g, "llama.attention.head_count_kv",
           mut == GM_KV_HEADS_3 ? 3
           : mut == GM_QK_MIXED ? 2
                                : CM_KV_HEADS);
    gb_u32(&g, "llama.context_length", mut == GM_CTX_ZERO ? 0 : CM_CTX);
    gb_u32(&g, "llama.rope.dimension_count", CM_HEAD_DIM);
    gb_f32(&g, "llama.rope.freq_base", mut == GM_THETA_NAN ? NAN : 10000.0f);
    if (mut == GM_EPS_STR)
        gb_str(&g, "llama.attention.layer_norm_rms_epsilon", "1e-5");
    else
        gb_f32(&g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (mut == GM_DUP_KEY) gb_u32(&g, "llama.embedding_length", CM_DIM);
    if (mut == GM_BOOL2) gb_bool(&g, "general.some_flag", 2);
    if (mut == GM_KEY_NUL) {
        gb_key(&g, "x", G_U32); /* rewritten below: a 3-byte key "a\0b" */
        g.kv.n -= 1 + 8 + 4;
        gb_gstr(&g.kv, "a\0b", 3);
        wb_u32(&g.kv, G_U32);
        wb_u32(&g.kv, 7);
    }
    if (mut == GM_EMPTY_KEY) {
        gb_key(&g, "", G_U32);
        wb_u32(&g.kv, 7);
    }
    if (mut == GM_NESTED) {
        gb_arr_head(&g, "general.nested", G_ARRAY, 1);
        wb_u32(&g.kv, G_U32);
        wb_u64(&g.kv, 0);
    }
    if (mut == GM_VTYPE99) {
        gb_key(&g, "general.weird", 99);
        wb_u32(&g.kv, 0);
    }
    if (mut != GM_NO_TOKENIZER) {
        const char *texts[CM_VOCAB];
        for (int i = 0; i < CM_VOCAB; i++)
            texts[i] = cm_vocab[i].text;
        if (mut == GM_BYTE_NEG) texts[3] = "<0x-1>";
        if (mut == GM_BYTE_ZZ) texts[4] = "<0xZZ>";
        gb_str(&g, "tokenizer.ggml.model", mut == GM_TOKMODEL_BERT ? "bert" : "llama");
        /* GM_VOCAB_MORE: one token more than the embedding has rows */
        int nv = mut == GM_VOCAB_MORE ? CM_VOCAB + 1 : CM_VOCAB;
        const char *more[CM_VOCAB + 1];
        memcpy(more, texts, sizeof texts);
        more[CM_VOCAB] = "xyz";
        if (mut == GM_TOK_I32) {
            gb_arr_head(&g, "tokenizer.ggml.tokens", G_I32, CM_VOCAB);
            for (int i = 0; i < CM_VOCAB; i++)
                wb_u32(&g.kv, (uint32_t)i);
        } else {
            gb_arr_strs(&g, "tokenizer.ggml.tokens", more, nv);
        }
        int n_scores = mut == GM_SCORES_SHORT ? CM_VOCAB - 1 : nv;
        gb_arr_head(&g, "tokenizer.ggml.scores", G_F32, (uint64_t)n_scores);
        for (int i = 0; i < n_scores; i++)
            wb_f32(&g.kv, mut == GM_SCORE_NAN && i == 7 ? NAN
                          : i < CM_VOCAB                ? cm_vocab[i].score
                                                        : -20);
        gb_arr_head(&g, "tokenizer.ggml.token_type", G_I32, (uint64_t)nv);
        for (int i = 0; i < nv; i++)
            wb_u32(&g.kv, mut == GM_TTYPE9 && i == 9 ? 9u
                          : i < CM_VOCAB             ? (uint32_t)cm_vocab[i].type
                                                     : 1);
        if (mut == GM_BOS_STR)
            gb_str(&g, "tokenizer.ggml.bos_token_id", "1");
        else
            gb_u32(&g, "tokenizer.ggml.bos_token_id", mut == GM_BOS_OOR ? 99999 : 1);
        gb_u32(&g, "tokenizer.ggml.eos_token_id", 2);
        gb_u32(&g, "tokenizer.ggml.unknown_token_id", 0);
    }

    cm_tensor ts[CM_N_TENSORS];
    int n = cm_tensors(ts);
    for (int i = 0; i < n; i++) {
        cm_tensor *t = &ts[i];
        /* GM_QK_MIXED has 2 KV heads: k and v get 8 rows */
        if (mut == GM_QK_MIXED && (strstr(t->gguf, "attn_k.") || strstr(t->gguf, "attn_v.")))
            t->ne[1] = 2 * CM_HEAD_DIM;
        float vals[CM_VOCAB * CM_HIDDEN];
        cm_values(t, i, vals);
        int64_t ne[5] = {t->ne[0], t->ne[1], 1, 1, 1};
        int n_dims = t->n_dims;
        uint32_t type = 0;
        size_t nbytes = (size_t)(ne[0] * ne[1]) * 4;
        const char *name = t->gguf;
        if (mut == GM_MISSING_TENSOR && strcmp(name, "blk.1.ffn_up.weight") == 0) continue;
        if (mut == GM_SHAPE && strcmp(name, "blk.0.attn_q.weight") == 0) ne[1] = 4, nbytes /= 2;
        if (mut == GM_NAN_WEIGHT && strcmp(name, "blk.1.ffn_down.weight") == 0) vals[37] = NAN;
        if (mut == GM_NAN_WEIGHT && strcmp(name, "output_norm.weight") == 0) vals[2] = INFINITY;
        if (mut == GM_DUP_TENSOR && strcmp(name, "blk.1.attn_norm.weight") == 0)
            name = "blk.0.attn_norm.weight";
        char long_name[201];
        if (mut == GM_NAME_LONG && i == 5) {
            memset(long_name, 'x', 200);
            long_name[200] = 0;
            name = long_name;
        }
        if (i == 4) { /* mutations of one tensor's info */
            if (mut == GM_NDIMS5) n_dims = 5;
            if (mut == GM_NE_ZERO) ne[1] = 0;
            if (mut == GM_NE_OVERFLOW)
                n_dims = 3, ne[1] = (int64_t)1 << 40, ne[2] = (int64_t)1 << 40;
            if (mut == GM_BYTES_OVERFLOW) n_dims = 1, ne[0] = (int64_t)1 << 62;
            if (mut == GM_TYPE99) type = 99;
        }
        if (mut == GM_NORM_Q8 && strcmp(name, "blk.0.attn_norm.weight") == 0) type = 8;
        uint16_t half[CM_VOCAB * CM_DIM];
        const void *data = vals;
        if (mut == GM_F16_HEAD && strcmp(name, "output.weight") == 0) {
            for (int k = 0; k < CM_VOCAB * CM_DIM; k++) { /* exact: values are k/2^16 * 0.7 */
                float v = vals[k];
                uint32_t u;
                memcpy(&u, &v, 4);
                uint32_t sign = (u >> 16) & 0x8000, e = (u >> 23) & 0xff, m = u & 0x7fffff;
                int ee = (int)e - 127 + 15;
                half[k] = (uint16_t)(v == 0.0f ? sign
                                     : ee <= 0 ? sign
                                               : sign | (uint32_t)ee << 10 | m >> 13);
            }
            data = half;
            type = 1;
            nbytes /= 2;
        }
        gb_tensor(&g, name, type, n_dims, ne, data, nbytes);
    }
    /* QK-norm gains: q shared and k per head (malformed: one flag serves both), or q per
     * head and k shared with a single KV head (the same as per head) */
    for (int l = 0; l < CM_LAYERS && (mut == GM_QK_MIXED || mut == GM_QK_Q_PER_HEAD); l++) {
        float ones[2 * CM_HEAD_DIM];
        for (int k = 0; k < 2 * CM_HEAD_DIM; k++)
            ones[k] = 1.0f + 0.01f * (float)k;
        char name[64];
        int64_t shared[1] = {CM_HEAD_DIM}, per[2] = {CM_HEAD_DIM, 2};
        bool q_per = mut == GM_QK_Q_PER_HEAD;
        snprintf(name, sizeof name, "blk.%d.attn_q_norm.weight", l);
        gb_tensor(&g, name, 0, q_per ? 2 : 1, q_per ? per : shared, ones, (q_per ? 8 : 4) * 4);
        snprintf(name, sizeof name, "blk.%d.attn_k_norm.weight", l);
        gb_tensor(&g, name, 0, q_per ? 1 : 2, q_per ? shared : per, ones, (q_per ? 4 : 8) * 4);
    }
    if (mut == GM_EXTRA_Q8) { /* an unused Q8_0 tensor whose second block scale is NaN */
        uint8_t q[2 * 34] = {0};
        q[0] = 0x00, q[1] = 0x3c;   /* d = 1.0 */
        q[34] = 0x00, q[35] = 0x7e; /* d = NaN */
        int64_t ne[1] = {64};
        gb_tensor(&g, "extra.q8", 8, 1, ne, q, sizeof q);
        /* one block of each K-quant, d = 1 and dmin = 0 (Q6_K: d last); Q6_K's d is Inf */
        static const struct {
            const char *name;
            uint32_t type;
            int bytes, d_at;
        } kq[] = {
            {"extra.q4_k", 12, 144, 0}, {"extra.q5_k", 13, 176, 0}, {"extra.q6_k", 14, 210, 208}};
        for (int k = 0; k < 3; k++) {
            uint8_t blk[210] = {0};
            blk[kq[k].d_at + 1] = k == 2 ? 0x7c : 0x3c;
            int64_t ne256[1] = {256};
            gb_tensor(&g, kq[k].name, kq[k].type, 1, ne256, blk, (size_t)kq[k].bytes);
        }
    }
    gguf_marks mkl;
    gb_finish(&g, mut == GM_VERSION4 ? 4 : 3, out, &mkl);
    if (mut == GM_MISALIGNED) wb_patch(out, gg_offset_at(out, mkl.info_at[4]), 4, 8);
    if (mut == GM_OFFSET_PAST)
        wb_patch(out, gg_offset_at(out, mkl.info_at[4]), (uint64_t)1 << 40, 8);
    /* breaks of ggml's tiling (each tensor at the aligned end of the one before): blk.0.attn_q
     * (tensor 2, F32) retyped F16 in place, attn_output (5) moved 32 bytes on or back, the
     * offsets of attn_k and attn_v (3, 4: the same size) swapped */
    if (mut == GM_RETYPE_F16) wb_patch(out, gg_offset_at(out, mkl.info_at[2]) - 4, 1, 4);
    size_t at5 = gg_offset_at(out, mkl.info_at[5]);
    if (mut == GM_GAP) wb_patch(out, at5, wb_get_le(out, at5, 8) + 32, 8);
    if (mut == GM_OVERLAP) wb_patch(out, at5, wb_get_le(out, at5, 8) - 32, 8);
    if (mut == GM_SWAPPED) {
        size_t at3 = gg_offset_at(out, mkl.info_at[3]), at4 = gg_offset_at(out, mkl.info_at[4]);
        uint64_t o3 = wb_get_le(out, at3, 8);
        wb_patch(out, at3, wb_get_le(out, at4, 8), 8);
        wb_patch(out, at4, o3, 8);
    }
    if (mk) *mk = mkl;
}

/* float -> IEEE half, round to nearest even (normal range; enough for test weights). */
static inline uint16_t cm_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000;
    int e = (int)((u >> 23) & 0xff) - 127 + 15;
    uint32_t m = u & 0x7fffff;
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)(sign | 0x7e00); /* NaN */
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) return (uint16_t)sign;
    uint32_t h = sign | (uint32_t)e << 10 | m >> 13, rest = m & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)h;
}

/* ggml's Q8_0 and Q4_0 of n values (n a multiple of 32), appended to b. */
static inline void cm_quant(wbuf *b, uint32_t type, const float *x, int64_t n)
{
    for (int64_t k = 0; k < n; k += 32) {
        const float *v = x + k;
        float amax = 0, max = 0;
        for (int i = 0; i < 32; i++)
            if (fabsf(v[i]) > amax) amax = fabsf(v[i]), max = v[i];
        if (type == 8) {
            float d = amax / 127;
            wb_le(b, cm_f16(d), 2);
            for (int i = 0; i < 32; i++)
                wb_u8(b, (uint8_t)(int8_t)lrintf(d ? v[i] / d : 0));
        } else {
            float d = max / -8, id = d ? 1 / d : 0;
            wb_le(b, cm_f16(d), 2);
            for (int i = 0; i < 16; i++) {
                int lo = (int)(v[i] * id + 8.5f), hi = (int)(v[i + 16] * id + 8.5f);
                wb_u8(b, (uint8_t)((lo > 15 ? 15 : lo) | (hi > 15 ? 15 : hi) << 4));
            }
        }
    }
}

/* A quantized llama (dim 32, 1 layer, 2 heads of 16, 1 KV head, MLP 32, the same vocabulary):
 * attention Q4_0, embedding, MLP and head Q8_0, norms F32. `bad_cols`: attn_q declares 16
 * columns, not a whole Q4_0 block. up: 1 gives ffn_up ffn_gate's values, 2 also points its
 * tensor info at ffn_gate's bytes (refused since GGUF tensors must tile the data section, as
 * in llama.cpp), 3 keeps ffn_up but retypes attn_norm F32 -> Q8_0 in place (32 values: 128
 * bytes stored, 34 declared). */
static inline void cm_gguf_quant(wbuf *out, bool bad_cols, int up)
{
    uint8_t gate_off[8] = {0};
    gguf_b g = {0};
    gb_str(&g, "general.architecture", "llama");
    gb_u32(&g, "llama.embedding_length", 32);
    gb_u32(&g, "llama.block_count", 1);
    gb_u32(&g, "llama.feed_forward_length", 32);
    gb_u32(&g, "llama.attention.head_count", 2);
    gb_u32(&g, "llama.attention.head_count_kv", 1);
    gb_u32(&g, "llama.context_length", CM_CTX);
    const char *texts[CM_VOCAB];
    for (int i = 0; i < CM_VOCAB; i++)
        texts[i] = cm_vocab[i].text;
    gb_str(&g, "tokenizer.ggml.model", "llama");
    gb_arr_strs(&g, "tokenizer.ggml.tokens", texts, CM_VOCAB);
    gb_arr_head(&g, "tokenizer.ggml.scores", G_F32, CM_VOCAB);
    for (int i = 0; i < CM_VOCAB; i++)
        wb_f32(&g.kv, cm_vocab[i].score);
    static const struct {
        const char *name;
        int64_t cols, rows;
        uint32_t type;
    } ts[] = {
        {"token_embd.weight", 32, CM_VOCAB, 8}, {"blk.0.attn_norm.weight", 32, 1, 0},
        {"blk.0.attn_q.weight", 32, 32, 2},     {"blk.0.attn_k.weight", 32, 16, 2},
        {"blk.0.attn_v.weight", 32, 16, 2},     {"blk.0.attn_output.weight", 32, 32, 2},
        {"blk.0.ffn_norm.weight", 32, 1, 0},    {"blk.0.ffn_gate.weight", 32, 32, 8},
        {"blk.0.ffn_up.weight", 32, 32, 8},     {"blk.0.ffn_down.weight", 32, 32, 8},
        {"output_norm.weight", 32, 1, 0},       {"output.weight", 32, CM_VOCAB, 8},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        float v[32 * 32];
        int64_t n = ts[i].cols * ts[i].rows;
        uint32_t seed = 100 + (uint32_t)(i == 8 && (up == 1 || up == 2) ? 7 : i);
        for (int64_t k = 0; k < n; k++)
            v[k] = ts[i].rows == 1 ? 1.0f + 0.1f * cm_weight(100 + (uint32_t)i, (uint32_t)k)
                                   : 0.3f * cm_weight(seed, (uint32_t)k);
        wbuf d = {0};
        if (ts[i].type == 0)
            wb_put(&d, v, (size_t)n * 4);
        else
            cm_quant(&d, ts[i].type, v, n);
        int64_t ne[2] = {ts[i].cols, ts[i].rows};
        if (bad_cols && i == 2) ne[0] = 16, ne[1] = 64;
        gb_tensor(&g, ts[i].name, ts[i].type, ts[i].rows == 1 ? 1 : 2, ne, d.p, d.n);
        if (i == 7) memcpy(gate_off, g.info.p + g.info.n - 8, 8); /* the offset ends the info */
        if (i == 8 && up == 2) memcpy(g.info.p + g.info.n - 8, gate_off, 8);
        if (i == 1 && up == 3) wb_patch(&g.info, g.info.n - 12, 8, 4); /* the type field */
        wb_free(&d);
    }
    gb_finish(&g, 3, out, NULL);
}

/* A byte-level BPE vocabulary as GGUF "gpt2" (vocab-only: no tensors). */
typedef enum gguf_bpe_mut {
    GB_NONE,
    GB_MERGE_ABSENT,
    GB_MERGE_NOSPACE,
    GB_NO_PRE,
    GB_PRE_UNKNOWN,
    GB_EOS_OOR
} gguf_bpe_mut;
static const char *const cm_bpe_tokens[] = {
    "a",  "b",         "c",          "\304\240",
    "ab", "\304\240a", "\304\240ab", "<|endoftext|>"}; /* U+0120 is a space */
enum { CM_BPE_N = 8 };

static inline void cm_gguf_bpe(wbuf *out, gguf_bpe_mut mut)
{
    gguf_b g = {0};
    gb_str(&g, "general.architecture", "gpt2");
    gb_str(&g, "tokenizer.ggml.model", "gpt2");
    if (mut != GB_NO_PRE)
        gb_str(&g, "tokenizer.ggml.pre", mut == GB_PRE_UNKNOWN ? "falcon" : "gpt-2");
    gb_arr_strs(&g, "tokenizer.ggml.tokens", cm_bpe_tokens, CM_BPE_N);
    gb_arr_head(&g, "tokenizer.ggml.token_type", G_I32, CM_BPE_N);
    for (int i = 0; i < CM_BPE_N; i++)
        wb_u32(&g.kv, i == CM_BPE_N - 1 ? 3 : 1);
    const char *merges[3] = {"a b", "\304\240 a", "\304\240a b"};
    if (mut == GB_MERGE_ABSENT) merges[1] = "\xC4\xA0 z";
    if (mut == GB_MERGE_NOSPACE)
        merges[2] = "\xC4\xA0"
                    "ab";
    gb_arr_strs(&g, "tokenizer.ggml.merges", merges, 3);
    gb_u32(&g, "tokenizer.ggml.eos_token_id", mut == GB_EOS_OOR ? CM_BPE_N : CM_BPE_N - 1);
    gb_finish(&g, 3, out, NULL);
}

/* ---- safetensors and config.json ------------------------------------------------------- */

typedef enum st_mut {
    SM_NONE,
    SM_HDR_PAST,
    SM_HDR_HUGE,
    SM_BAD_JSON,
    SM_SIZE_MISMATCH,
    SM_HOLE,
    SM_OVERLAP,
    SM_DTYPE,
    SM_SHAPE_NEG,
    SM_TRUNCATED,
    SM_TRAILING,
    SM_NOT_OBJECT,
    SM_BF16,
    SM_DUP_NAME,
    SM_OFFS_REVERSED,
    SM_META_NOT_STR,
    SM_SHAPE_OVERFLOW,
    SM_NAN_WEIGHT,
} st_mut;

/* The tiny llama's weights as one safetensors file (HF names, PyTorch shapes, F32). */
static inline void cm_safetensors(wbuf *out, st_mut mut)
{
    cm_tensor ts[CM_N_TENSORS];
    int n = cm_tensors(ts);
    wbuf hdr = {0}, data = {0};
    wb_str(&hdr, "{\"__metadata__\":{\"format\":\"pt\"");
    if (mut == SM_META_NOT_STR) wb_str(&hdr, ",\"n\":5");
    wb_str(&hdr, "}");
    for (int i = 0; i < n; i++) {
        const cm_tensor *t = &ts[i];
        float vals[CM_VOCAB * CM_HIDDEN];
        cm_values(t, i, vals);
        int64_t count = t->ne[0] * t->ne[1];
        if (mut == SM_NAN_WEIGHT && i == 6) vals[3] = NAN;
        size_t begin = data.n;
        const char *dtype = "F32";
        if (mut == SM_BF16 && i == 2) {
            for (int64_t k = 0; k < count; k++) {
                uint32_t u;
                memcpy(&u, &vals[k], 4);
                wb_le(&data, u >> 16, 2);
            }
            dtype = "BF16";
        } else {
            wb_put(&data, vals, (size_t)count * 4);
        }
        size_t end = data.n;
        if (mut == SM_SIZE_MISMATCH && i == 3) end -= 4;
        if (mut == SM_HOLE && i == 3) begin += 4, end += 4;
        if (mut == SM_OVERLAP && i == 3) begin -= 4, end -= 4;
        if (mut == SM_OFFS_REVERSED && i == 3) {
            size_t x = begin;
            begin = end;
            end = x;
        }
        if (mut == SM_DTYPE && i == 3) dtype = "F24";
        const char *name = mut == SM_DUP_NAME && i == 4 ? ts[3].hf : t->hf;
        if (t->n_dims == 1)
            wb_printf(&hdr,
                      ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld],\"data_offsets\":[%zu,%zu]}",
                      name, dtype, (long long)t->ne[0], begin, end);
        else if (mut == SM_SHAPE_NEG && i == 3)
            wb_printf(
                &hdr,
                ",\"%s\":{\"dtype\":\"%s\",\"shape\":[-%lld,%lld],\"data_offsets\":[%zu,%zu]}",
                name, dtype, (long long)t->ne[1], (long long)t->ne[0], begin, end);
        else if (mut == SM_SHAPE_OVERFLOW && i == 3)
            wb_printf(&hdr,
                      ",\"%s\":{\"dtype\":\"%s\",\"shape\":[4294967296,4294967296,16],"
                      "\"data_offsets\":[%zu,%zu]}",
                      name, dtype, begin, end);
        else
            wb_printf(&hdr,
                      ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],\"data_offsets\":[%zu,%zu]}",
                      name, dtype, (long long)t->ne[1], (long long)t->ne[0], begin, end);
    }
    wb_str(&hdr, "}");
    if (mut == SM_BAD_JSON) hdr.n -= 3; /* cut inside the last entry */
    if (mut == SM_NOT_OBJECT) {
        wb_free(&hdr);
        wb_str(&hdr, "{\"a\":[1,2,3]}");
    }
    while (hdr.n % 8)
        wb_u8(&hdr, ' ');
    *out = (wbuf){0};
    uint64_t hlen = hdr.n;
    if (mut == SM_HDR_PAST) hlen = hdr.n + data.n + 100;
    if (mut == SM_HDR_HUGE) hlen = 200000000;
    wb_u64(out, hlen);
    wb_put(out, hdr.p, hdr.n);
    wb_put(out, data.p, data.n);
    if (mut == SM_TRUNCATED) wb_truncate(out, out->n - 10);
    if (mut == SM_TRAILING) wb_str(out, "tail");
    wb_free(&hdr);
    wb_free(&data);
}

typedef enum cfg_mut {
    CF_NONE,
    CF_BAD_JSON,
    CF_DIM_STR,
    CF_LAYERS_HUGE,
    CF_VOCAB_LIE,
    CF_THETA_HUGE,
    CF_NO_TYPE,
    CF_TYPE_BAD_UTF8,
    CF_HEAD_DIM_LIE,
    CF_BOS_OOR,
    CF_ARRAY,
    CF_EPS_NEG,
    CF_DIM_FRACTION,
    CF_ROPE_FRAC,
    CF_ACT_BAD,
    CF_SURROGATE,
    CF_ROPE_FRAC_1E30,
} cfg_mut;

static inline void cm_config(wbuf *out, cfg_mut mut)
{
    *out = (wbuf){0};
    if (mut == CF_ARRAY) {
        wb_str(out, "[1, 2, 3]");
        return;
    }
    const char *type = mut == CF_TYPE_BAD_UTF8 ? "ll\xff\xfe"
                                                 "ama"
                                               : "llama";
    if (mut != CF_NO_TYPE)
        wb_printf(out, "{\"model_type\": \"%s\",\n", type);
    else
        wb_str(out, "{\n");
    if (mut == CF_DIM_STR)
        wb_str(out, " \"hidden_size\": \"8\",\n");
    else if (mut == CF_DIM_FRACTION)
        wb_str(out, " \"hidden_size\": 8.5,\n");
    else
        wb_printf(out, " \"hidden_size\": %d,\n", CM_DIM);
    wb_printf(out, " \"num_hidden_layers\": %s,\n", mut == CF_LAYERS_HUGE ? "1e9" : "2");
    wb_printf(out, " \"num_attention_heads\": %d, \"num_key_value_heads\": %d,\n", CM_HEADS,
              CM_KV_HEADS);
    wb_printf(out, " \"intermediate_size\": %d, \"vocab_size\": %d,\n", CM_HIDDEN,
              mut == CF_VOCAB_LIE ? CM_VOCAB + 1 : CM_VOCAB);
    if (mut == CF_HEAD_DIM_LIE) wb_str(out, " \"head_dim\": 8,\n");
    wb_printf(out, " \"max_position_embeddings\": %d, \"rms_norm_eps\": %s,\n", CM_CTX,
              mut == CF_EPS_NEG ? "-0.5" : "1e-05");
    wb_printf(out, " \"rope_theta\": %s,\n", mut == CF_THETA_HUGE ? "1e300" : "10000.0");
    if (mut == CF_ROPE_FRAC) wb_str(out, " \"partial_rotary_factor\": 1e300,\n");
    if (mut == CF_ROPE_FRAC_1E30) wb_str(out, " \"partial_rotary_factor\": 1e30,\n");
    if (mut == CF_SURROGATE) wb_str(out, " \"name\": \"\\ud800\",\n");
    wb_printf(out, " \"hidden_act\": \"%s\", \"tie_word_embeddings\": false,\n",
              mut == CF_ACT_BAD ? "relu" : "silu");
    wb_printf(out, " \"bos_token_id\": %d, \"eos_token_id\": 2", mut == CF_BOS_OOR ? 99999 : 1);
    wb_str(out, mut == CF_BAD_JSON ? ",\n" : "\n}\n");
}

/* ---- llama2.c -------------------------------------------------------------------------- */

typedef enum l2_mut {
    LM_NONE,
    LM_SHORT_HDR,
    LM_TRUNC,
    LM_TRAILING,
    LM_DIM_ZERO,
    LM_LAYERS_NEG,
    LM_HEADS_NODIV,
    LM_VOCAB_HUGE,
    LM_KV_GT,
    LM_MAGIC_V1,
    LM_DIM_BIG,
    LM_SEQ_HUGE,
    LM_UNSHARED
} l2_mut;

static inline void cm_llama2c(wbuf *out, l2_mut mut)
{
    *out = (wbuf){0};
    if (mut == LM_MAGIC_V1) { /* llama2.c export.py version 1: magic, version, then the header */
        wb_u32(out, 0x616b3432);
        wb_u32(out, 1);
    }
    int32_t h[7] = {CM_DIM, CM_HIDDEN, CM_LAYERS, CM_HEADS, CM_KV_HEADS, CM_VOCAB, CM_CTX};
    if (mut == LM_DIM_ZERO) h[0] = 0;
    if (mut == LM_LAYERS_NEG) h[2] = -2;
    if (mut == LM_HEADS_NODIV) h[3] = 3, h[4] = 1;
    if (mut == LM_VOCAB_HUGE) h[5] = 1 << 30;
    if (mut == LM_KV_GT) h[4] = 4;
    if (mut == LM_DIM_BIG) h[0] = 4096, h[3] = 32;
    if (mut == LM_SEQ_HUGE) h[6] = 1 << 22;
    if (mut == LM_UNSHARED) h[5] = -CM_VOCAB;
    for (int i = 0; i < 7; i++)
        wb_u32(out, (uint32_t)h[i]);
    if (mut == LM_SHORT_HDR) {
        wb_truncate(out, 10);
        return;
    }
    cm_tensor ts[CM_N_TENSORS];
    int n = cm_tensors(ts);
    /* llama2.c order: embedding, then each kind for all layers, final norm, freq_cis, head */
    static const char *const kinds[9] = {"attn_norm", "attn_q",      "attn_k",
                                         "attn_v",    "attn_output", "ffn_norm",
                                         "ffn_gate",  "ffn_down",    "ffn_up"};
    float vals[CM_VOCAB * CM_HIDDEN];
    cm_values(&ts[0], 0, vals);
    wb_put(out, vals, CM_VOCAB * CM_DIM * 4);
    for (int k = 0; k < 9; k++)
        for (int l = 0; l < CM_LAYERS; l++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, kinds[k]);
            for (int i = 0; i < n; i++)
                if (strcmp(ts[i].gguf, name) == 0) {
                    cm_values(&ts[i], i, vals);
                    wb_put(out, vals, (size_t)(ts[i].ne[0] * ts[i].ne[1]) * 4);
                }
        }
    cm_values(&ts[n - 2], n - 2, vals);
    wb_put(out, vals, CM_DIM * 4);
    for (int i = 0; i < 2 * CM_CTX * CM_HEAD_DIM / 2; i++)
        wb_f32(out, 0.5f);
    if (mut == LM_UNSHARED) {
        cm_values(&ts[n - 1], n - 1, vals);
        wb_put(out, vals, CM_VOCAB * CM_DIM * 4);
    }
    if (mut == LM_TRUNC) wb_truncate(out, 28 + CM_VOCAB * CM_DIM * 4 + 100);
    if (mut == LM_TRAILING) wb_str(out, "xyz!");
}

typedef enum tb_mut { TB_NONE, TB_TRUNC, TB_NEG_LEN, TB_LEN_PAST, TB_NAN, TB_EMPTY } tb_mut;

/* llama2.c tokenizer.bin for the same vocabulary (spaces as ' ', specials as llama2.c). */
static inline void cm_tokenizer_bin(wbuf *out, tb_mut mut)
{
    *out = (wbuf){0};
    if (mut == TB_EMPTY) return;
    wb_u32(out, 8);
    size_t cut = 0;
    for (int i = 0; i < CM_VOCAB; i++) {
        if (i == 10) cut = out->n + 6; /* inside token 10's length field */
        char text[32];
        const char *s = cm_vocab[i].text;
        size_t n = 0;
        for (size_t k = 0; s[k] && n < sizeof text - 1;) {
            if (s[k] == (char)0xE2 && s[k + 1] == (char)0x96 && s[k + 2] == (char)0x81)
                text[n++] = ' ', k += 3;
            else
                text[n++] = s[k++];
        }
        if (i == 1) n = (size_t)snprintf(text, sizeof text, "\n<s>\n");
        if (i == 2) n = (size_t)snprintf(text, sizeof text, "\n</s>\n");
        wb_f32(out, mut == TB_NAN && i == 5 ? NAN : cm_vocab[i].score);
        int32_t len = (int32_t)n;
        if (mut == TB_NEG_LEN && i == 6) len = -3;
        if (mut == TB_LEN_PAST && i == CM_VOCAB - 1) len = 1000;
        wb_u32(out, (uint32_t)len);
        wb_put(out, text, n);
    }
    if (mut == TB_TRUNC) wb_truncate(out, cut);
}

/* ---- Hugging Face byte-level BPE ------------------------------------------------------- */

typedef enum tj_mut {
    TJ_NONE,
    TJ_BAD_JSON,
    TJ_UNIGRAM,
    TJ_ID_NEG,
    TJ_ID_HUGE,
    TJ_MERGE_ABSENT,
    TJ_ADDED_NO_CONTENT,
    TJ_BAD_UTF8_PIECE,
    TJ_SURROGATE,
    TJ_NORMALIZER,
    TJ_MERGE_ONE,
    TJ_VOCAB_ARRAY,
    TJ_DEEP
} tj_mut;

static inline void cm_tokenizer_json(wbuf *out, tj_mut mut)
{
    *out = (wbuf){0};
    if (mut == TJ_DEEP) { /* nesting far past cJSON's limit */
        for (int i = 0; i < 5000; i++)
            wb_str(out, "[");
        for (int i = 0; i < 5000; i++)
            wb_str(out, "]");
        return;
    }
    wb_printf(out,
              "{\"version\": \"1.0\",\n \"added_tokens\": [{\"id\": 7, %s\"special\": true}],\n",
              mut == TJ_ADDED_NO_CONTENT ? "" : "\"content\": \"<|endoftext|>\", ");
    wb_printf(out, " \"normalizer\": %s,\n",
              mut == TJ_NORMALIZER ? "{\"type\": \"Lowercase\"}" : "null");
    wb_str(out, " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                "\"use_regex\": true},\n");
    wb_printf(out, " \"model\": {\"type\": \"%s\", ", mut == TJ_UNIGRAM ? "Unigram" : "BPE");
    if (mut == TJ_VOCAB_ARRAY) {
        wb_str(out, "\"vocab\": [\"a\", \"b\"], \"merges\": []}}\n");
        return;
    }
    wb_printf(out,
              "\"vocab\": {\"a\": %s, \"b\": 1, \"c\": %s, \"\\u0120\": 3, \"ab\": 4, "
              "\"\\u0120a\": 5, \"\\u0120ab\": 6, \"<|endoftext|>\": 7",
              mut == TJ_ID_NEG ? "-1" : "0", mut == TJ_ID_HUGE ? "1e12" : "2");
    if (mut == TJ_BAD_UTF8_PIECE) wb_str(out, ", \"\xff\xc3\": 8");
    if (mut == TJ_SURROGATE) wb_str(out, ", \"\\udc00x\": 8");
    wb_printf(out, "},\n  \"merges\": [\"a b\", \"%s\", \"\\u0120a b\"]}}\n",
              mut == TJ_MERGE_ABSENT ? "\\u0120 z"
              : mut == TJ_MERGE_ONE  ? "ab"
                                     : "\\u0120 a");
    if (mut == TJ_BAD_JSON) wb_truncate(out, out->n - 6);
}

typedef enum vm_mut { VM_NONE, VM_MERGE_ONE, VM_NOT_OBJECT, VM_MERGE_ABSENT, VM_CRLF } vm_mut;

static inline void cm_vocab_json(wbuf *out, vm_mut mut)
{
    *out = (wbuf){0};
    if (mut == VM_NOT_OBJECT) {
        wb_str(out, "[\"a\", \"b\"]");
        return;
    }
    wb_str(out, "{\"a\": 0, \"b\": 1, \"c\": 2, \"\\u0120\": 3, \"ab\": 4, \"\\u0120a\": 5, "
                "\"\\u0120ab\": 6, \"<|endoftext|>\": 7}");
}

static inline void cm_merges_txt(wbuf *out, vm_mut mut)
{
    *out = (wbuf){0};
    const char *nl = mut == VM_CRLF ? "\r\n" : "\n";
    wb_printf(out, "#version: 0.2%sa b%s", nl, nl);
    if (mut == VM_MERGE_ONE)
        wb_printf(out, "ab%s", nl);
    else if (mut == VM_MERGE_ABSENT)
        wb_printf(out, "\xC4\xA0 q%s", nl);
    else
        wb_printf(out, "\xC4\xA0 a%s", nl);
    wb_printf(out,
              "\xC4\xA0"
              "a b%s",
              nl);
}

/* ---- SentencePiece tokenizer.model ------------------------------------------------------ */

static inline void pb_varint(wbuf *b, uint64_t v)
{
    while (v >= 0x80) {
        wb_u8(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    wb_u8(b, (uint8_t)v);
}
static inline void pb_tag(wbuf *b, uint32_t field, uint32_t wire)
{
    pb_varint(b, (uint64_t)field << 3 | wire);
}
static inline void pb_bytes(wbuf *b, uint32_t field, const void *p, size_t n)
{
    pb_tag(b, field, 2);
    pb_varint(b, n);
    wb_put(b, p, n);
}
static inline void pb_uint(wbuf *b, uint32_t field, uint64_t v)
{
    pb_tag(b, field, 0);
    pb_varint(b, v);
}

typedef enum sp_mut {
    SP_NONE,
    SP_TRUNC_VARINT,
    SP_LEN_LIE,
    SP_UNIGRAM,
    SP_TYPE9,
    SP_BOS_OOR,
    SP_BYTE_ZZ,
    SP_GROUP,
    SP_NAN,
    SP_NO_PIECES,
    SP_CHARSMAP,
    SP_NO_TEXT,
    SP_PIECE_HUGE
} sp_mut;

static inline void cm_spmodel(wbuf *out, sp_mut mut)
{
    *out = (wbuf){0};
    for (int i = 0; i < CM_VOCAB && mut != SP_NO_PIECES; i++) {
        wbuf p = {0};
        const char *text = cm_vocab[i].text;
        if (mut == SP_BYTE_ZZ && i == 4) text = "<0xZZ>";
        if (mut != SP_NO_TEXT || i != 6) pb_bytes(&p, 1, text, strlen(text));
        pb_tag(&p, 2, 5);
        wb_f32(&p, mut == SP_NAN && i == 8 ? NAN : cm_vocab[i].score);
        if (cm_vocab[i].type != 1 || (mut == SP_TYPE9 && i == 9))
            pb_uint(&p, 3, mut == SP_TYPE9 && i == 9 ? 9 : (uint64_t)cm_vocab[i].type);
        pb_bytes(out, 1, p.p, p.n);
        wb_free(&p);
    }
    if (mut == SP_PIECE_HUGE) { /* a piece whose text claims 2^40 bytes */
        wbuf p = {0};
        pb_tag(&p, 1, 2);
        pb_varint(&p, (uint64_t)1 << 40);
        pb_bytes(out, 1, p.p, p.n);
        wb_free(&p);
    }
    wbuf t = {0};
    pb_uint(&t, 3, mut == SP_UNIGRAM ? 1 : 2);
    pb_uint(&t, 35, 1); /* byte_fallback */
    pb_uint(&t, 40, 0);
    pb_uint(&t, 41, mut == SP_BOS_OOR ? 1000 : 1);
    pb_uint(&t, 42, 2);
    pb_bytes(out, 2, t.p, t.n);
    wb_free(&t);
    wbuf nz = {0};
    pb_bytes(&nz, 1, "identity", 8);
    if (mut == SP_CHARSMAP) pb_bytes(&nz, 2, "\x01\x02\x03\x04", 4);
    pb_uint(&nz, 3, 1);
    pb_uint(&nz, 4, 0);
    pb_bytes(out, 3, nz.p, nz.n);
    wb_free(&nz);
    if (mut == SP_TRUNC_VARINT) {
        wb_u8(out, 0x08);
        wb_u8(out, 0xff); /* a varint whose continuation never comes */
    }
    if (mut == SP_LEN_LIE) {
        pb_tag(out, 4, 2);
        pb_varint(out, 1u << 30);
        wb_str(out, "short");
    }
    if (mut == SP_GROUP) pb_tag(out, 5, 3);
}

/* ---- tiktoken ------------------------------------------------------------------------------ */

enum { CM_TIKTOKEN_RANKS = 151643 };

static inline void b64_encode(const uint8_t *s, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = 0;
}

/* The piece of rank r in the synthetic rank file: the 256 bytes, then 2- and 3-byte strings
 * that are all distinct (so every rank is one piece, as in a real file). */
static inline size_t cm_tiktoken_piece(uint32_t r, uint8_t *p)
{
    if (r < 256) {
        p[0] = (uint8_t)r;
        return 1;
    }
    if (r < 256 + 65536) {
        uint32_t v = r - 256;
        p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
        return 2;
    }
    uint32_t v = r - 256 - 65536;
    p[0] = (uint8_t)(v >> 16 | 0x80), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
    return 3;
}

/* Lines of ranks [from, to) of the synthetic rank file. */
static inline void cm_tiktoken_lines(wbuf *out, uint32_t from, uint32_t to)
{
    for (uint32_t r = from; r < to; r++) {
        uint8_t p[3];
        char b64[8];
        b64_encode(p, cm_tiktoken_piece(r, p), b64);
        wb_printf(out, "%s %u\n", b64, r);
    }
}

typedef enum tk_mut {
    TK_NONE,
    TK_FEW,
    TK_ORDER,
    TK_BASE64,
    TK_NO_RANK,
    TK_RANK_HUGE,
    TK_EMPTY_B64
} tk_mut;

/* A Qwen-sized rank file (151643 ranks); `head_only` stops after 64 lines (fuzz seeds: the
 * fuzzer appends the rest itself). */
static inline void cm_tiktoken(wbuf *out, tk_mut mut, bool head_only)
{
    *out = (wbuf){0};
    cm_tiktoken_lines(out, 0, 40);
    if (mut == TK_ORDER)
        wb_str(out, "YQ== 41\n");
    else if (mut == TK_BASE64)
        wb_str(out, "Y!== 40\n");
    else if (mut == TK_NO_RANK)
        wb_str(out, "YWJj\n");
    else if (mut == TK_RANK_HUGE)
        wb_str(out, "YQ== 99999999999999\n");
    else if (mut == TK_EMPTY_B64)
        wb_str(out, " 40\n");
    else
        cm_tiktoken_lines(out, 40, 41);
    uint32_t last = head_only ? 64 : mut == TK_FEW ? 1000 : CM_TIKTOKEN_RANKS;
    cm_tiktoken_lines(out, 41, last);
}

/* ---- the corpus -------------------------------------------------------------------------- */

typedef enum cload {
    CL_MODEL,     /* tlm_model_load(dir/files[0]) */
    CL_MODEL_DIR, /* tlm_model_load(dir) */
    CL_TOK,       /* tlm_tokenizer_load(dir/files[0]) */
    CL_TOK_DIR,   /* tlm_tokenizer_load(dir) */
    CL_TOK_L2C,   /* tlm_tokenizer_load_llama2c(dir/files[0], CM_VOCAB) */
} cload;

typedef struct cfile {
    const char *name;
    wbuf data;
} cfile;

typedef struct ccase {
    char name[64];
    const char *fuzz; /* the fuzz target this file seeds ("gguf", ...), files[0] */
    cload load;
    int n_files;
    cfile files[3];
    tlm_status want;
    const char *needle; /* a piece of the expected message */
} ccase;

typedef void (*corpus_fn)(void *ctx, const ccase *c);

typedef struct corpus_emit {
    corpus_fn fn;
    void *ctx;
    int count;
} corpus_emit;

static inline void cc_emit(corpus_emit *e, ccase *c)
{
    e->fn(e->ctx, c);
    e->count++;
    for (int i = 0; i < c->n_files; i++)
        wb_free(&c->files[i].data);
}

static inline ccase cc_new(const char *name, const char *fuzz, cload load, tlm_status want,
                           const char *needle)
{
    ccase c = {.fuzz = fuzz, .load = load, .want = want, .needle = needle};
    snprintf(c.name, sizeof c.name, "%s", name);
    return c;
}

static inline void cc_file(ccase *c, const char *name, wbuf data)
{
    c->files[c->n_files].name = name;
    c->files[c->n_files].data = data;
    c->n_files++;
}

static inline void corpus_gguf(corpus_emit *e)
{
    static const struct {
        const char *name;
        gguf_mut mut;
        tlm_status want;
        const char *needle;
    } cases[] = {
        {"gguf_valid", GM_NONE, TLM_OK, NULL},
        {"gguf_valid_align64", GM_ALIGN64, TLM_OK, NULL},
        {"gguf_valid_f16_head", GM_F16_HEAD, TLM_OK, NULL},
        {"gguf_valid_no_tokenizer", GM_NO_TOKENIZER, TLM_OK, NULL},
        {"gguf_valid_extra_q8_0", GM_EXTRA_Q8, TLM_OK, NULL},
        {"gguf_valid_nan_weights", GM_NAN_WEIGHT, TLM_OK, NULL},
        {"gguf_valid_vocab_past_embedding", GM_VOCAB_MORE, TLM_OK, NULL},
        {"gguf_valid_qk_norm_q_per_head", GM_QK_Q_PER_HEAD, TLM_OK, NULL},
        /* found by fuzz_gguf: q's gains shared, k's per head made the forward pass read the
         * q gains of every head from a one-head buffer */
        {"gguf_qk_norm_mixed", GM_QK_MIXED, TLM_ERR_FORMAT, "both shared"},
        {"gguf_version4", GM_VERSION4, TLM_ERR_UNSUPPORTED, "version 4"},
        {"gguf_dup_key", GM_DUP_KEY, TLM_ERR_FORMAT, "duplicate key 'llama.embedding_length'"},
        {"gguf_dup_tensor", GM_DUP_TENSOR, TLM_ERR_FORMAT, "duplicate tensor name"},
        {"gguf_no_arch", GM_NO_ARCH, TLM_ERR_FORMAT, "general.architecture"},
        {"gguf_arch_mamba", GM_ARCH_MAMBA, TLM_ERR_UNSUPPORTED, "'mamba'"},
        {"gguf_layers_string", GM_LAYERS_STR, TLM_ERR_FORMAT, "llama.block_count"},
        {"gguf_layers_huge", GM_LAYERS_HUGE, TLM_ERR_FORMAT, "n_layers = 100000"},
        {"gguf_heads_zero", GM_HEADS_ZERO, TLM_ERR_FORMAT, "n_heads = 0"},
        {"gguf_kv_heads_3", GM_KV_HEADS_3, TLM_ERR_FORMAT, "n_kv_heads = 3"},
        {"gguf_dim_lie", GM_DIM_LIE, TLM_ERR_FORMAT, "token_embd.weight' has shape"},
        {"gguf_missing_tensor", GM_MISSING_TENSOR, TLM_ERR_FORMAT,
         "'blk.1.ffn_up.weight' is missing"},
        {"gguf_wrong_shape", GM_SHAPE, TLM_ERR_FORMAT, "'blk.0.attn_q.weight' has shape"},
        {"gguf_bos_out_of_vocab", GM_BOS_OOR, TLM_ERR_FORMAT, "tokenizer.ggml.bos_token_id"},
        {"gguf_bos_string", GM_BOS_STR, TLM_ERR_FORMAT, "tokenizer.ggml.bos_token_id"},
        {"gguf_theta_nan", GM_THETA_NAN, TLM_ERR_FORMAT, "rope theta"},
        {"gguf_eps_string", GM_EPS_STR, TLM_ERR_FORMAT, "layer_norm_rms_epsilon' is not a number"},
        {"gguf_ctx_zero", GM_CTX_ZERO, TLM_ERR_FORMAT, "max_seq = 0"},
        {"gguf_bool_2", GM_BOOL2, TLM_ERR_FORMAT, "is not 0 or 1"},
        {"gguf_key_nul", GM_KEY_NUL, TLM_ERR_FORMAT, "contains a NUL byte"},
        {"gguf_key_empty", GM_EMPTY_KEY, TLM_ERR_FORMAT, "is empty"},
        {"gguf_name_too_long", GM_NAME_LONG, TLM_ERR_FORMAT, "is too long"},
        {"gguf_norm_q8_0", GM_NORM_Q8, TLM_ERR_FORMAT, "block size 32"},
        {"gguf_ndims_5", GM_NDIMS5, TLM_ERR_FORMAT, "n_dims 5"},
        {"gguf_ne_zero", GM_NE_ZERO, TLM_ERR_FORMAT, "is zero"},
        {"gguf_ne_overflow", GM_NE_OVERFLOW, TLM_ERR_FORMAT, "exceeds 2^63 - 1"},
        {"gguf_bytes_overflow", GM_BYTES_OVERFLOW, TLM_ERR_FORMAT, "overflows 64 bits"},
        {"gguf_type_99", GM_TYPE99, TLM_ERR_UNSUPPORTED, "type 99"},
        {"gguf_misaligned", GM_MISALIGNED, TLM_ERR_FORMAT, "not a multiple of the alignment"},
        {"gguf_offset_past_end", GM_OFFSET_PAST, TLM_ERR_FORMAT, "run past end of file"},
        /* llama.cpp refuses these too ("tensor '...' has offset A, expected B"); a retyped
         * tensor shows at the next one, so the message names both */
        {"gguf_retyped_f32_f16", GM_RETYPE_F16, TLM_ERR_FORMAT, "'blk.0.attn_k.weight' at offset"},
        {"gguf_retyped_f32_f16_names_it", GM_RETYPE_F16, TLM_ERR_FORMAT,
         "'blk.0.attn_q.weight' (F16, 128 bytes)"},
        {"gguf_data_gap", GM_GAP, TLM_ERR_FORMAT, "'blk.0.attn_output.weight' at offset"},
        {"gguf_data_gap_says", GM_GAP, TLM_ERR_FORMAT, "leaves a gap"},
        {"gguf_data_overlap", GM_OVERLAP, TLM_ERR_FORMAT, "overlaps"},
        {"gguf_data_out_of_order", GM_SWAPPED, TLM_ERR_FORMAT, "'blk.0.attn_k.weight' at offset"},
        {"gguf_alignment_3", GM_ALIGN3, TLM_ERR_FORMAT, "not a power of two"},
        {"gguf_alignment_string", GM_ALIGN_STR, TLM_ERR_FORMAT, "general.alignment has value type"},
        {"gguf_nested_array", GM_NESTED, TLM_ERR_UNSUPPORTED, "nested arrays"},
        {"gguf_value_type_99", GM_VTYPE99, TLM_ERR_FORMAT, "unknown value type 99"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ccase c = cc_new(cases[i].name, "gguf", CL_MODEL, cases[i].want, cases[i].needle);
        wbuf b;
        cm_gguf(&b, cases[i].mut, NULL);
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
    }

    { /* quantized weights (Q8_0, Q4_0), and a Q4_0 matrix cut inside a block */
        ccase c = cc_new("gguf_valid_q8_0_q4_0", "gguf", CL_MODEL, TLM_OK, NULL);
        wbuf b;
        cm_gguf_quant(&b, false, 0);
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
        c = cc_new("gguf_valid_q8_0_q4_0_up_copy", "gguf", CL_MODEL, TLM_OK, NULL);
        cm_gguf_quant(&b, false, 1);
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
        /* shared bytes were once legal here (and kept as rows); ggml's tiling refuses them */
        c = cc_new("gguf_q8_0_up_shares_gate", "gguf", CL_MODEL, TLM_ERR_FORMAT,
                   "'blk.0.ffn_up.weight' at offset");
        cm_gguf_quant(&b, false, 2);
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
        c = cc_new("gguf_retyped_f32_q8_0", "gguf", CL_MODEL, TLM_ERR_FORMAT,
                   "'blk.0.attn_norm.weight' (Q8_0, 34 bytes)");
        cm_gguf_quant(&b, false, 3);
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
        c = cc_new("gguf_q4_0_half_block", "gguf", CL_MODEL, TLM_ERR_FORMAT,
                   "ne[0] = 16 is not a multiple of the Q4_0 block size 32");
        cm_gguf_quant(&b, true, 0);
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
    }

    /* Byte patches and truncations of the valid file, at every section. */
    gguf_marks mk;
    wbuf valid;
    cm_gguf(&valid, GM_NONE, &mk);
    const struct {
        const char *name;
        size_t at;
        uint64_t v;
        int bytes;
        const char *needle;
    } patches[] = {
        {"gguf_n_kv_lie", 16, (uint64_t)1 << 40, 8, "n_kv"},
        {"gguf_n_tensors_lie", 8, (uint64_t)1 << 40, 8, "n_tensors"},
        {"gguf_n_kv_short", 16, 3, 8, "tensor"}, /* the 4th key is read as a tensor info */
        {"gguf_key_len_lie", mk.kv_at[2], (uint64_t)1 << 50, 8, "length"},
        {"gguf_str_len_lie", gg_value_at(&valid, mk.kv_at[1]), (uint64_t)-1, 8, "runs past end"},
        {"gguf_str_array_count_lie", gg_value_at(&valid, mk.kv_at[12]) + 4, (uint64_t)1 << 61, 8,
         "string array count"},
        {"gguf_f32_array_count_overflow", gg_value_at(&valid, mk.kv_at[13]) + 4, (uint64_t)1 << 62,
         8, "runs past end of file"},
        {"gguf_array_type_99", gg_value_at(&valid, mk.kv_at[14]), 99, 4,
         "unknown array element type 99"},
        {"gguf_tensor_offset_huge", gg_offset_at(&valid, mk.info_at[20]), (uint64_t)-32, 8,
         "run past end of file"},
        {"gguf_tensor_name_len_lie", mk.info_at[3], (uint64_t)1 << 33, 8, "tensor name"},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        ccase c = cc_new(patches[i].name, "gguf", CL_MODEL, TLM_ERR_FORMAT, patches[i].needle);
        wbuf b;
        wb_copy(&b, &valid);
        wb_patch(&b, patches[i].at, patches[i].v, patches[i].bytes);
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
    }
    const struct {
        const char *name;
        size_t at;
        const char *needle;
    } cuts[] = {
        {"gguf_trunc_magic", 3, "too short for a llama2.c header"},
        {"gguf_trunc_header", 20, "smaller than a GGUF header"},
        {"gguf_trunc_first_key", mk.kv_start + 5, "n_kv 18 exceeds"},
        {"gguf_trunc_kv_mid", mk.kv_at[6] + 10, "offset"},
        {"gguf_trunc_vocab", gg_value_at(&valid, mk.kv_at[12]) + 12 + 200, "array string"},
        {"gguf_trunc_last_kv", mk.info_start - 2, "value"},
        {"gguf_trunc_tensor_infos", mk.info_start + 40, "tensor"},
        {"gguf_trunc_last_info", mk.data_start - 40, "tensor"},
        {"gguf_trunc_data_start", mk.data_start, "run past end of file"},
        {"gguf_trunc_data_mid", mk.data_start + (mk.size - mk.data_start) / 2,
         "run past end of file"},
        {"gguf_trunc_last_byte", mk.size - 1, "run past end of file"},
    };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        ccase c = cc_new(cuts[i].name, "gguf", CL_MODEL, TLM_ERR_FORMAT, cuts[i].needle);
        wbuf b;
        wb_copy(&b, &valid);
        wb_truncate(&b, cuts[i].at);
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
    }
    {
        ccase c = cc_new("gguf_bad_magic", "gguf", CL_MODEL, TLM_ERR_FORMAT, "no GGUF magic");
        wbuf b;
        wb_copy(&b, &valid);
        b.p[3] = 'X'; /* not GGUF: read as a llama2.c checkpoint, which it is not either */
        cc_file(&c, "model.gguf", b);
        cc_emit(e, &c);
    }
    wb_free(&valid);

    /* The vocabulary inside: read through tlm_tokenizer_load. */
    static const struct {
        const char *name;
        gguf_mut mut;
        tlm_status want;
        const char *needle;
    } vocab[] = {
        {"gguf_vocab_valid", GM_NONE, TLM_OK, NULL},
        {"gguf_vocab_tokens_i32", GM_TOK_I32, TLM_ERR_FORMAT, "tokenizer.ggml.tokens must be"},
        {"gguf_vocab_scores_short", GM_SCORES_SHORT, TLM_ERR_FORMAT,
         "tokenizer.ggml.scores has 19"},
        {"gguf_vocab_type_9", GM_TTYPE9, TLM_ERR_FORMAT, "token_type[9] = 9"},
        {"gguf_vocab_byte_neg", GM_BYTE_NEG, TLM_ERR_FORMAT, "'<0x-1>' is not <0xNN>"},
        {"gguf_vocab_byte_zz", GM_BYTE_ZZ, TLM_ERR_FORMAT, "'<0xZZ>' is not <0xNN>"},
        {"gguf_vocab_score_nan", GM_SCORE_NAN, TLM_ERR_FORMAT, "scores[7] is NaN"},
        {"gguf_vocab_model_bert", GM_TOKMODEL_BERT, TLM_ERR_UNSUPPORTED, "\"bert\""},
        {"gguf_vocab_bos_oor", GM_BOS_OOR, TLM_ERR_FORMAT, "bos_token_id = 99999"},
        {"gguf_vocab_none", GM_NO_TOKENIZER, TLM_ERR_UNSUPPORTED, "no tokenizer"},
    };
    for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++) {
        ccase c = cc_new(vocab[i].name, "gguf_vocab", CL_TOK, vocab[i].want, vocab[i].needle);
        wbuf b;
        cm_gguf(&b, vocab[i].mut, NULL);
        cc_file(&c, "vocab.gguf", b);
        cc_emit(e, &c);
    }
    static const struct {
        const char *name;
        gguf_bpe_mut mut;
        tlm_status want;
        const char *needle;
    } bpe[] = {
        {"gguf_bpe_valid", GB_NONE, TLM_OK, NULL},
        {"gguf_bpe_merge_absent", GB_MERGE_ABSENT, TLM_ERR_FORMAT, "is not in the vocabulary"},
        {"gguf_bpe_merge_nospace", GB_MERGE_NOSPACE, TLM_ERR_FORMAT, "separated by a space"},
        {"gguf_bpe_no_pre", GB_NO_PRE, TLM_ERR_UNSUPPORTED, "tokenizer.ggml.pre is absent"},
        {"gguf_bpe_pre_unknown", GB_PRE_UNKNOWN, TLM_ERR_UNSUPPORTED, "\"falcon\""},
        {"gguf_bpe_eos_oor", GB_EOS_OOR, TLM_ERR_FORMAT, "eos_token_id = 8"},
    };
    for (size_t i = 0; i < sizeof bpe / sizeof bpe[0]; i++) {
        ccase c = cc_new(bpe[i].name, "gguf_vocab", CL_TOK, bpe[i].want, bpe[i].needle);
        wbuf b;
        cm_gguf_bpe(&b, bpe[i].mut);
        cc_file(&c, "vocab.gguf", b);
        cc_emit(e, &c);
    }
}

static inline void corpus_hf(corpus_emit *e)
{
    static const struct {
        const char *name;
        st_mut mut;
        tlm_status want;
        const char *needle;
    } st[] = {
        {"st_valid", SM_NONE, TLM_OK, NULL},
        {"st_valid_bf16", SM_BF16, TLM_OK, NULL},
        {"st_valid_nan_weight", SM_NAN_WEIGHT, TLM_OK, NULL},
        {"st_header_past_end", SM_HDR_PAST, TLM_ERR_FORMAT, "runs past end of file"},
        {"st_header_huge", SM_HDR_HUGE, TLM_ERR_FORMAT, "exceeds the limit"},
        {"st_bad_json", SM_BAD_JSON, TLM_ERR_FORMAT, "invalid JSON at offset"},
        {"st_size_mismatch", SM_SIZE_MISMATCH, TLM_ERR_FORMAT, "shape needs 128 bytes of F32"},
        {"st_hole", SM_HOLE, TLM_ERR_FORMAT, "(hole)"},
        {"st_overlap", SM_OVERLAP, TLM_ERR_FORMAT, "(overlap)"},
        {"st_dtype_unknown", SM_DTYPE, TLM_ERR_FORMAT, "unknown dtype 'F24'"},
        {"st_shape_negative", SM_SHAPE_NEG, TLM_ERR_FORMAT, "shape[0] is not a non-negative"},
        {"st_shape_overflow", SM_SHAPE_OVERFLOW, TLM_ERR_FORMAT, "overflows"},
        {"st_truncated", SM_TRUNCATED, TLM_ERR_FORMAT, "tensors end at buffer offset"},
        {"st_trailing", SM_TRAILING, TLM_ERR_FORMAT, "tensors end at buffer offset"},
        {"st_not_tensors", SM_NOT_OBJECT, TLM_ERR_FORMAT, "header entry 'a' is not an object"},
        {"st_dup_name", SM_DUP_NAME, TLM_ERR_FORMAT, "duplicate"},
        {"st_offsets_reversed", SM_OFFS_REVERSED, TLM_ERR_FORMAT, "begin <= end"},
        {"st_metadata_number", SM_META_NOT_STR, TLM_ERR_FORMAT, "__metadata__ 'n' is not a string"},
    };
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        ccase c = cc_new(st[i].name, "safetensors", CL_MODEL_DIR, st[i].want, st[i].needle);
        wbuf a, b;
        cm_safetensors(&a, st[i].mut);
        cm_config(&b, CF_NONE);
        cc_file(&c, "model.safetensors", a);
        cc_file(&c, "config.json", b);
        cc_emit(e, &c);
    }
    static const struct {
        const char *name;
        cfg_mut mut;
        tlm_status want;
        const char *needle;
    } cf[] = {
        {"config_bad_json", CF_BAD_JSON, TLM_ERR_FORMAT, "not a JSON object"},
        {"config_array", CF_ARRAY, TLM_ERR_FORMAT, "not a JSON object"},
        {"config_surrogate", CF_SURROGATE, TLM_ERR_FORMAT, "not a JSON object"},
        {"config_dim_string", CF_DIM_STR, TLM_ERR_FORMAT, "\"hidden_size\" must be an integer"},
        {"config_dim_fraction", CF_DIM_FRACTION, TLM_ERR_FORMAT,
         "\"hidden_size\" must be an integer"},
        {"config_layers_huge", CF_LAYERS_HUGE, TLM_ERR_FORMAT, "\"num_hidden_layers\""},
        {"config_vocab_lie", CF_VOCAB_LIE, TLM_ERR_FORMAT, "has shape"},
        {"config_theta_huge", CF_THETA_HUGE, TLM_ERR_FORMAT, "\"rope_theta\" must be a finite"},
        {"config_rotary_huge", CF_ROPE_FRAC, TLM_ERR_FORMAT, "\"partial_rotary_factor\""},
        /* found by fuzz_hf_config: a float, but head_dim * 1e30 is no int */
        {"config_rotary_1e30", CF_ROPE_FRAC_1E30, TLM_ERR_FORMAT,
         "\"partial_rotary_factor\" must be in (0, 1]"},
        {"config_no_model_type", CF_NO_TYPE, TLM_ERR_FORMAT, "\"model_type\" is missing"},
        {"config_type_bad_utf8", CF_TYPE_BAD_UTF8, TLM_ERR_UNSUPPORTED, "is not supported"},
        {"config_head_dim_lie", CF_HEAD_DIM_LIE, TLM_ERR_FORMAT, "has shape"},
        {"config_bos_out_of_vocab", CF_BOS_OOR, TLM_ERR_FORMAT, "bos/eos id (99999/2)"},
        {"config_eps_negative", CF_EPS_NEG, TLM_ERR_FORMAT, "norm epsilon"},
        {"config_act_relu", CF_ACT_BAD, TLM_ERR_UNSUPPORTED, "hidden_act \"relu\""},
    };
    for (size_t i = 0; i < sizeof cf / sizeof cf[0]; i++) {
        ccase c = cc_new(cf[i].name, "hf_config", CL_MODEL_DIR, cf[i].want, cf[i].needle);
        wbuf a, b;
        cm_config(&a, cf[i].mut);
        cm_safetensors(&b, SM_NONE);
        cc_file(&c, "config.json", a);
        cc_file(&c, "model.safetensors", b);
        cc_emit(e, &c);
    }
    { /* one safetensors file given where its directory is needed */
        ccase c = cc_new("st_file_not_dir", "safetensors", CL_MODEL, TLM_ERR_UNSUPPORTED,
                         "this is a safetensors file");
        wbuf a;
        cm_safetensors(&a, SM_NONE);
        cc_file(&c, "model.safetensors", a);
        cc_emit(e, &c);
    }
    { /* no weights beside the config */
        ccase c = cc_new("hf_no_weights", "hf_config", CL_MODEL_DIR, TLM_ERR_IO,
                         "neither model.safetensors.index.json nor model.safetensors");
        wbuf a;
        cm_config(&a, CF_NONE);
        cc_file(&c, "config.json", a);
        cc_emit(e, &c);
    }
    { /* a sharded index naming a shard outside the directory */
        ccase c =
            cc_new("hf_index_escape", "hf_config", CL_MODEL_DIR, TLM_ERR_FORMAT, "plain file name");
        wbuf a, b = {0};
        cm_config(&a, CF_NONE);
        wb_str(&b, "{\"weight_map\": {\"model.embed_tokens.weight\": \"../model.safetensors\"}}");
        cc_file(&c, "config.json", a);
        cc_file(&c, "model.safetensors.index.json", b);
        cc_emit(e, &c);
    }
    { /* an index whose tensor is not in its shard */
        ccase c = cc_new("hf_index_absent", "hf_config", CL_MODEL_DIR, TLM_ERR_FORMAT,
                         "is not in the shard");
        wbuf a, b = {0}, s;
        cm_config(&a, CF_NONE);
        wb_str(&b, "{\"weight_map\": {\"model.embed_tokens.weight\": \"s1.safetensors\", "
                   "\"no.such.weight\": \"s1.safetensors\"}}");
        cm_safetensors(&s, SM_NONE);
        cc_file(&c, "config.json", a);
        cc_file(&c, "model.safetensors.index.json", b);
        cc_file(&c, "s1.safetensors", s);
        cc_emit(e, &c);
    }
}

static inline void corpus_llama2c(corpus_emit *e)
{
    static const struct {
        const char *name;
        l2_mut mut;
        tlm_status want;
        const char *needle;
    } l2[] = {
        {"l2c_valid", LM_NONE, TLM_OK, NULL},
        {"l2c_valid_unshared", LM_UNSHARED, TLM_OK, NULL},
        {"l2c_short_header", LM_SHORT_HDR, TLM_ERR_FORMAT, "too short for a llama2.c header"},
        {"l2c_truncated", LM_TRUNC, TLM_ERR_FORMAT, "runs past the end of the file"},
        {"l2c_trailing", LM_TRAILING, TLM_ERR_FORMAT, "bytes after the last tensor"},
        {"l2c_dim_zero", LM_DIM_ZERO, TLM_ERR_FORMAT, "header field dim = 0 at offset 0"},
        {"l2c_layers_negative", LM_LAYERS_NEG, TLM_ERR_FORMAT, "n_layers = -2 at offset 8"},
        {"l2c_heads_no_divide", LM_HEADS_NODIV, TLM_ERR_FORMAT, "not a multiple of n_heads"},
        {"l2c_vocab_huge", LM_VOCAB_HUGE, TLM_ERR_FORMAT, "vocab_size"},
        {"l2c_kv_heads_gt_heads", LM_KV_GT, TLM_ERR_FORMAT, "n_kv_heads = 4"},
        {"l2c_version1_magic", LM_MAGIC_V1, TLM_ERR_UNSUPPORTED, "export version 1"},
        {"l2c_dim_big", LM_DIM_BIG, TLM_ERR_FORMAT, "runs past the end of the file"},
        {"l2c_seq_huge", LM_SEQ_HUGE, TLM_ERR_FORMAT, "freq_cis"},
    };
    for (size_t i = 0; i < sizeof l2 / sizeof l2[0]; i++) {
        ccase c = cc_new(l2[i].name, "llama2c", CL_MODEL, l2[i].want, l2[i].needle);
        wbuf b;
        cm_llama2c(&b, l2[i].mut);
        cc_file(&c, "model.bin", b);
        cc_emit(e, &c);
    }
    static const struct {
        const char *name;
        tb_mut mut;
        tlm_status want;
        const char *needle;
    } tb[] = {
        {"tokbin_valid", TB_NONE, TLM_OK, NULL},
        {"tokbin_truncated", TB_TRUNC, TLM_ERR_FORMAT, "does the vocabulary hold 20 tokens"},
        {"tokbin_negative_len", TB_NEG_LEN, TLM_ERR_FORMAT, "length -3 is negative"},
        {"tokbin_len_past_end", TB_LEN_PAST, TLM_ERR_FORMAT, "runs past the end"},
        {"tokbin_score_nan", TB_NAN, TLM_ERR_FORMAT, "score is NaN"},
        {"tokbin_empty", TB_EMPTY, TLM_ERR_FORMAT, "max_token_length field at offset 0"},
    };
    for (size_t i = 0; i < sizeof tb / sizeof tb[0]; i++) {
        ccase c = cc_new(tb[i].name, "tokenizer_bin", CL_TOK_L2C, tb[i].want, tb[i].needle);
        wbuf b;
        cm_tokenizer_bin(&b, tb[i].mut);
        cc_file(&c, "tokenizer.bin", b);
        cc_emit(e, &c);
    }
}

static inline void corpus_tokenizers(corpus_emit *e)
{
    static const struct {
        const char *name;
        tj_mut mut;
        tlm_status want;
        const char *needle;
    } tj[] = {
        {"tokjson_valid", TJ_NONE, TLM_OK, NULL},
        {"tokjson_valid_bad_utf8_piece", TJ_BAD_UTF8_PIECE, TLM_OK, NULL},
        {"tokjson_bad_json", TJ_BAD_JSON, TLM_ERR_FORMAT, "not a JSON object"},
        {"tokjson_deep_nesting", TJ_DEEP, TLM_ERR_FORMAT, "not a JSON object"},
        {"tokjson_lone_surrogate", TJ_SURROGATE, TLM_ERR_FORMAT, "not a JSON object"},
        {"tokjson_unigram", TJ_UNIGRAM, TLM_ERR_UNSUPPORTED, "model.type \"Unigram\""},
        {"tokjson_id_negative", TJ_ID_NEG, TLM_ERR_FORMAT, "entry \"a\" is not an id"},
        {"tokjson_id_huge", TJ_ID_HUGE, TLM_ERR_FORMAT, "entry \"c\" is not an id"},
        {"tokjson_merge_absent", TJ_MERGE_ABSENT, TLM_ERR_FORMAT, "model.merges[1]"},
        {"tokjson_merge_one_piece", TJ_MERGE_ONE, TLM_ERR_FORMAT, "not two pieces"},
        {"tokjson_added_no_content", TJ_ADDED_NO_CONTENT, TLM_ERR_FORMAT,
         "lacks an id or a content"},
        {"tokjson_normalizer", TJ_NORMALIZER, TLM_ERR_UNSUPPORTED, "normalizer \"Lowercase\""},
        {"tokjson_vocab_array", TJ_VOCAB_ARRAY, TLM_ERR_FORMAT, "model.vocab is not an object"},
    };
    for (size_t i = 0; i < sizeof tj / sizeof tj[0]; i++) {
        ccase c = cc_new(tj[i].name, "tokenizer_json", CL_TOK, tj[i].want, tj[i].needle);
        wbuf b;
        cm_tokenizer_json(&b, tj[i].mut);
        cc_file(&c, "tokenizer.json", b);
        cc_emit(e, &c);
    }
    { /* a special token the config names but the vocabulary lacks */
        ccase c = cc_new("tokjson_bos_absent", "tokenizer_json", CL_TOK, TLM_ERR_FORMAT,
                         "bos_token \"<s>\" is not in the vocabulary");
        wbuf a, b = {0};
        cm_tokenizer_json(&a, TJ_NONE);
        wb_str(&b, "{\"bos_token\": \"<s>\", \"add_bos_token\": true}");
        cc_file(&c, "tokenizer.json", a);
        cc_file(&c, "tokenizer_config.json", b);
        cc_emit(e, &c);
    }
    { /* a tokenizer_config.json that is not JSON */
        ccase c = cc_new("tokjson_config_bad", "tokenizer_json", CL_TOK, TLM_ERR_FORMAT,
                         "tokenizer_config.json: not a JSON object");
        wbuf a, b = {0};
        cm_tokenizer_json(&a, TJ_NONE);
        wb_str(&b, "{\"bos_token\": ");
        cc_file(&c, "tokenizer.json", a);
        cc_file(&c, "tokenizer_config.json", b);
        cc_emit(e, &c);
    }
    static const struct {
        const char *name;
        vm_mut mut;
        tlm_status want;
        const char *needle;
    } vm[] = {
        {"vocabmerges_valid", VM_NONE, TLM_OK, NULL},
        {"vocabmerges_valid_crlf", VM_CRLF, TLM_OK, NULL},
        {"vocabmerges_merge_one_piece", VM_MERGE_ONE, TLM_ERR_FORMAT, "line 3"},
        {"vocabmerges_not_object", VM_NOT_OBJECT, TLM_ERR_FORMAT, "not a JSON object"},
        {"vocabmerges_merge_absent", VM_MERGE_ABSENT, TLM_ERR_FORMAT, "its right piece"},
    };
    for (size_t i = 0; i < sizeof vm / sizeof vm[0]; i++) {
        ccase c = cc_new(vm[i].name, "vocab_merges", CL_TOK, vm[i].want, vm[i].needle);
        wbuf a, b;
        cm_vocab_json(&a, vm[i].mut);
        cm_merges_txt(&b, vm[i].mut);
        cc_file(&c, "vocab.json", a);
        cc_file(&c, "merges.txt", b);
        cc_emit(e, &c);
    }
    static const struct {
        const char *name;
        sp_mut mut;
        tlm_status want;
        const char *needle;
    } sp[] = {
        {"spmodel_valid", SP_NONE, TLM_OK, NULL},
        {"spmodel_truncated_varint", SP_TRUNC_VARINT, TLM_ERR_FORMAT, "malformed protobuf field"},
        {"spmodel_length_lie", SP_LEN_LIE, TLM_ERR_FORMAT, "malformed protobuf field"},
        {"spmodel_unigram", SP_UNIGRAM, TLM_ERR_UNSUPPORTED, "model_type 1"},
        {"spmodel_type_9", SP_TYPE9, TLM_ERR_FORMAT, "has type 9"},
        {"spmodel_bos_oor", SP_BOS_OOR, TLM_ERR_FORMAT, "trainer_spec.bos_id = 1000"},
        {"spmodel_byte_zz", SP_BYTE_ZZ, TLM_ERR_FORMAT, "'<0xZZ>' is not <0xNN>"},
        {"spmodel_group", SP_GROUP, TLM_ERR_FORMAT, "malformed protobuf field"},
        {"spmodel_score_nan", SP_NAN, TLM_ERR_FORMAT, "NaN score"},
        {"spmodel_no_pieces", SP_NO_PIECES, TLM_ERR_FORMAT, "no pieces"},
        {"spmodel_charsmap", SP_CHARSMAP, TLM_ERR_UNSUPPORTED, "precompiled"},
        {"spmodel_piece_no_text", SP_NO_TEXT, TLM_ERR_FORMAT, "has no text"},
        {"spmodel_piece_len_lie", SP_PIECE_HUGE, TLM_ERR_FORMAT, "malformed protobuf piece"},
    };
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
        ccase c = cc_new(sp[i].name, "spmodel", CL_TOK, sp[i].want, sp[i].needle);
        wbuf b;
        cm_spmodel(&b, sp[i].mut);
        cc_file(&c, "tokenizer.model", b);
        cc_emit(e, &c);
    }
    { /* added_tokens_decoder keys that are not ids ("nan", "1e999", "-3"): ignored */
        ccase c = cc_new("spmodel_valid_added_odd_ids", "spmodel", CL_TOK, TLM_OK, NULL);
        wbuf a, b = {0};
        cm_spmodel(&a, SP_NONE);
        wb_str(&b, "{\"added_tokens_decoder\": {\"nan\": {\"content\": \"<x>\"}, "
                   "\"1e999\": {\"content\": \"<y>\"}, \"-3\": {\"content\": \"<z>\"}, "
                   "\"20\": {\"content\": \"<|user|>\", \"special\": true}}}");
        cc_file(&c, "tokenizer.model", a);
        cc_file(&c, "tokenizer_config.json", b);
        cc_emit(e, &c);
    }
    static const struct {
        const char *name;
        tk_mut mut;
        tlm_status want;
        const char *needle;
    } tk[] = {
        {"tiktoken_valid", TK_NONE, TLM_OK, NULL},
        {"tiktoken_few_ranks", TK_FEW, TLM_ERR_UNSUPPORTED, "1000 ranks"},
        {"tiktoken_rank_order", TK_ORDER, TLM_ERR_FORMAT, "line 41 has rank 41, expected 40"},
        {"tiktoken_bad_base64", TK_BASE64, TLM_ERR_FORMAT, "line 41 at offset"},
        {"tiktoken_no_rank", TK_NO_RANK, TLM_ERR_FORMAT, "is not \"<base64> <rank>\""},
        {"tiktoken_rank_huge", TK_RANK_HUGE, TLM_ERR_FORMAT, "is not \"<base64> <rank>\""},
        {"tiktoken_empty_piece", TK_EMPTY_B64, TLM_ERR_FORMAT, "bad base64"},
    };
    for (size_t i = 0; i < sizeof tk / sizeof tk[0]; i++) {
        ccase c = cc_new(tk[i].name, "tiktoken", CL_TOK, tk[i].want, tk[i].needle);
        wbuf b;
        cm_tiktoken(&b, tk[i].mut, false);
        cc_file(&c, "qwen.tiktoken", b);
        cc_emit(e, &c);
    }
}

/* Calls fn once per case (valid files included); returns the number of cases. */
static inline int corpus_each(corpus_fn fn, void *ctx)
{
    corpus_emit e = {fn, ctx, 0};
    corpus_gguf(&e);
    corpus_hf(&e);
    corpus_llama2c(&e);
    corpus_tokenizers(&e);
    return e.count;
}

#endif
