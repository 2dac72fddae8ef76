/* model.h - a loaded model: its config and its weights bound to the roles the forward pass
 * uses. Matrices point at the file's mapped bytes as stored; small vectors (norm gains,
 * biases) are converted to float once at load and owned by the model. */
#ifndef TLM_MODEL_H
#define TLM_MODEL_H

#include "arch.h"
#include "config.h"
#include "kernels.h"
#include "tensor.h"
#include "threads.h"

/* Kernels number element types as the public API does (GGUF's ids): one table index for both. */
#define TLM_SAME_TYPE(t) _Static_assert((int)TLM_TYPE_##t == (int)TLM_DT_##t, "type id " #t)
TLM_SAME_TYPE(F32);
TLM_SAME_TYPE(F16);
TLM_SAME_TYPE(BF16);
TLM_SAME_TYPE(Q4_0);
TLM_SAME_TYPE(Q8_0);
TLM_SAME_TYPE(Q4_K);
TLM_SAME_TYPE(Q5_K);
TLM_SAME_TYPE(Q6_K);
TLM_SAME_TYPE(Q4_1);
TLM_SAME_TYPE(Q5_0);
TLM_SAME_TYPE(Q5_1);
TLM_SAME_TYPE(Q2_K);
TLM_SAME_TYPE(Q3_K);
TLM_SAME_TYPE(IQ4_NL);
TLM_SAME_TYPE(IQ4_XS);
#undef TLM_SAME_TYPE

/* A weight matrix [rows][cols] (PyTorch [out, in]); row r at data + r * row_bytes, or, when
 * il, in row-interleaved groups (kernels.h, tlm_il_rows) over the same bytes. */
typedef struct tlm_matrix {
    tlm_type type;
    int64_t rows, cols;
    uint64_t row_bytes;
    const void *data;
    unsigned char il; /* 0: rows; else grouped, in kernels.h layout TLM_IL_* il - 1 */
} tlm_matrix;

/* Row r in plain form: a pointer into the matrix, or buf (row_bytes) filled from its group. */
const void *tlm_matrix_row(const tlm_matrix *w, int64_t r, void *buf);

/* A projection: up to three matrices stacked along the output rows (separate q, k, v or
 * fused qkv; gate and up or fused gate_up), plus an optional float bias over all rows. */
typedef struct tlm_proj {
    int32_t n_parts;
    tlm_matrix part[3];
    int64_t rows; /* sum of the parts' rows */
    const float *bias;
} tlm_proj;

typedef struct tlm_norm_weights {
    const float *w, *b; /* b NULL for RMSNorm; w NULL when absent (the norm is not applied) */
} tlm_norm_weights;

typedef struct tlm_block {
    tlm_norm_weights attn_norm;
    tlm_norm_weights q_norm, k_norm; /* qk_norm: head_dim gains, shared or one per head */
    bool qk_norm_per_head;
    tlm_proj qkv;              /* rows: q_dim + 2 * kv_dim, in that order */
    tlm_proj out;              /* rows: dim */
    tlm_norm_weights ffn_norm; /* w NULL with parallel residual */
    tlm_proj gate_up;          /* gated: rows 2 * hidden ([gate | up]); plain: hidden */
    tlm_proj down;             /* rows: dim */
} tlm_block;

/* Where tensors come from: one lookup over GGUF names or a family's HF names. */
typedef struct tlm_tensor_source {
    const char *path; /* for messages */
    bool hf_names;    /* names follow arch->hf_names instead of GGUF's */
    const void *impl;
    const tlm_tensor *(*find)(const void *impl, const char *name);
} tlm_tensor_source;

struct tlm_model {
    tlm_config cfg;
    const tlm_arch *arch;
    tlm_model_info info;
    const tlm_kernels *k;
    bool shape_only;      /* a preset without weight data: plan only, never evaluate */
    bool keep_rows;       /* weights stay as stored (checking a file): no interleaving */
    uint64_t fingerprint; /* tlm_model_fingerprint, taken before any rewriting of weights */
    bool (*progress)(void *user, float fraction); /* tlm_model_params.progress while loading */
    void *progress_user;

    tlm_matrix embed; /* [vocab][dim] */
    tlm_norm_weights out_norm;
    tlm_proj head;     /* rows: vocab; the embedding when tied */
    tlm_block *blocks; /* [n_layers] stored blocks */
    const float *ones; /* [hidden_dim] 1.0f for a plain SiLU MLP: silu_mul's up, as the
                        * kernel table has no in-place SiLU (times 1 is exact) */

    /* What the weights live in; all freed by tlm_model_free. */
    struct gguf_file *gguf;
    struct st_set *st;
    void *map; /* llama2.c checkpoint mapping */
    uint64_t map_size;
    void **owned;            /* stb_ds array of buffers to free() */
    tlm_tensor *own_tensors; /* stb_ds array: tensors built by llama2.c / preset loaders */
};

/* A model with nothing loaded yet (kernel table set); NULL when out of memory. */
struct tlm_model *tlm_model_new(void);

/* Binds every weight the config needs from src, checking names, shapes and types.
 * On failure the model keeps what it allocated; tlm_model_free releases it. */
tlm_status tlm_model_bind(struct tlm_model *m, const tlm_tensor_source *src, tlm_error *err);

/* Fingerprint of a model (config and a sample of every weight's bytes, as stored in its
 * file) for saved caches; bind keeps it in m->fingerprint. In lib/context_file.c. */
uint64_t tlm_model_fingerprint(const struct tlm_model *m);

/* Rewrites the matrices that a kernel reads faster row-interleaved into that layout, in
 * place (sources map files private and writable); see model_interleave.c. */
tlm_status tlm_model_interleave(struct tlm_model *m, int n_threads, tlm_error *err);

/* Fills m->info from the config and the bound weights. */
void tlm_model_fill_info(struct tlm_model *m);

/* Allocates a buffer that m owns (freed with the model); NULL when out of memory. */
void *tlm_model_alloc(struct tlm_model *m, size_t bytes);

/* Lookup over m->own_tensors (for sources the model builds itself). */
const tlm_tensor *tlm_model_find_own(const void *model, const char *name);

/* tlm_model_load; keep_rows leaves every matrix as the file stores it. */
tlm_status tlm_model_open(const char *path, bool keep_rows, const tlm_model_params *params,
                          struct tlm_model **out, tlm_error *err);

/* Format readers: each fills m->cfg and m->arch and binds the weights. */
tlm_status tlm_load_gguf(struct tlm_model *m, const char *path, tlm_error *err);
tlm_status tlm_load_hf_dir(struct tlm_model *m, const char *dir, tlm_error *err);
tlm_status tlm_load_llama2c(struct tlm_model *m, const char *path, tlm_error *err);

#endif
