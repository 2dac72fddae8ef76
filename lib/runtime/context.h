/* context.h - a context: the KV cache of every applied layer plus all scratch, allocated
 * once at creation. The forward pass (forward.c) allocates nothing.
 *
 * The cache is a list of cells per applied layer, in position order: cell i holds the K and
 * V of position cell_pos[i], positions strictly increasing (gaps allowed after a removal).
 * Without a sliding window there are n_ctx cells. With one (and no full_cache) there are
 * only window - 1 + 2 * n_batch: before a batch that would not fit, the cells no future
 * query can see are dropped and the rest moved to the front in one memmove per layer, so
 * memory stays flat with length, the visible keys stay contiguous for the attention kernel
 * and in the order a full cache has them (results are bit-identical), and the move costs
 * about window / n_batch row copies per token. docs/long-context.md has the whole design.
 * With n_seq_max sequences, each has its own such list in its own stripe of cells
 * (tlm_seq); the single-sequence calls act on sequence 0. */
#ifndef TLM_CONTEXT_H
#define TLM_CONTEXT_H

#include <stdio.h>

#include "model.h"

enum { TLM_MAX_SEQ = 256 }; /* tlm_context_params.n_seq_max at most */

/* One sequence's part of the cache: its own stripe of n_cells cells in every layer and KV
 * head (cells cell0 .. cell0 + n_cells - 1), so attention for its tokens reads only its keys
 * with the same kernels, contiguous, and a copy is a copy of the stripe (docs/batching.md). */
typedef struct tlm_seq {
    int32_t n_past;    /* the next position: one past the last token's */
    int32_t n_used;    /* cells in use */
    int32_t cell0;     /* first cell of the stripe: seq * n_cells */
    int32_t *cell_pos; /* [n_cells] position of each cell in use */
    int32_t *tokens;   /* [n_ctx] token at each position (-1: none) */
    int32_t b_count;   /* scratch of a batch being checked: its tokens of this sequence */
    int32_t b_last;    /* and the last position seen */
} tlm_seq;

struct tlm_context {
    const tlm_model *m;
    const tlm_kernels *k;
    int32_t n_ctx, n_batch, n_threads;
    int32_t n_cells;   /* cells per applied layer and sequence (a stripe) */
    int32_t n_seq_max; /* sequences (stripes) */
    tlm_seq *seqs;     /* [n_seq_max] */
    tlm_seq *sq;       /* the one the single-sequence calls and edits act on: seqs[0]
                        * except while a tlm_context_seq_* call runs */
    int32_t window;    /* sliding window in force (0: none) */
    bool has_logits;
    bool blas; /* prefill projections of float weights through OpenBLAS */
    char error[256];

    /* RoPE state, fixed while the cache holds keys. */
    bool long_factors; /* LongRoPE: the long factor set */
    float ntk_param;   /* the ntk_alpha param: 0 dynamic, else fixed */
    float ntk_alpha;   /* alpha in force (1: plain base) */
    bool logn;         /* logn attention scaling in force */
    float rope_mscale; /* multiplies cos and sin (LongRoPE attention factor, else 1) */

    /* KV cache: [n_apply][n_kv_heads][n_seq_max * n_cells] rows of head_dim elements of
     * kv_type (F32, F16 or Q8_0), head-major (tlm_kv_at). */
    tlm_type kv_type;
    void *k_cache, *v_cache;

    /* Scratch for n_batch tokens (row-major [token][...]). */
    float *x;                   /* residual stream [dim] */
    float *xb;                  /* normed input [dim] */
    float *qkv;                 /* [q_dim + 2 kv_dim] */
    float *att;                 /* attention output before Wo [q_dim] */
    float *branch;              /* attention branch after Wo [dim] */
    float *mlp;                 /* MLP branch [dim] */
    float *hb;                  /* MLP hidden [gate | up] [gate_up rows] */
    float *rope_cos, *rope_sin; /* [rope_dim / 2] per token */
    float *q_scale;             /* [n_batch] logn factor per token (1 when off) */
    int32_t *first_cell;        /* [n_batch] first cell each token's query sees (absolute) */
    /* The batch tlm_forward evaluates, set by its caller: per token its sequence, position and
     * (absolute) cell; then, made by tlm_forward, the tokens grouped by sequence and the
     * starts of attention blocks in that order. */
    int32_t *b_seq, *b_pos, *b_cell, *b_order, *b_block; /* [n_batch] ([n_batch + 1]) */
    float *inv_freq;                                     /* [rope_dim / 2] */
    float *scores;   /* [n_threads][tlm_attn_rows_scratch(n_cells, head_dim)] attention */
    float *row_buf;  /* [n_threads][kv_dim + rope_dim]: a key row and its angles (shift) */
    float *logits;   /* [vocab]: the last token's */
    float *blas_buf; /* [2][TLM_BLAS_ROWS][widest input]: widened weight rows (blas only) */
    float *x_bf16;   /* [n_batch][widest input]: a BF16 matrix's input rounded (forward.c) */

    void *arena;

    /* Embedding hooks (eval_outputs.c): the abort callback checked before each layer, the
     * threads the scratch was sized for, and the outputs asked of the eval running now. */
    bool (*abort)(void *user);
    void *abort_user;
    bool cancelled;               /* tlm_forward stopped at abort's request */
    int32_t n_threads_max;        /* 0 until tlm_context_set_threads first runs */
    struct tlm_outputs_req *req;  /* tlm_context_eval_outputs while it runs, else NULL */
    tlm_matmul_observer observer; /* tlm_context_set_matmul_observer (observe.c) */
    void *observer_user;
    int32_t apply_at; /* the layer application tlm_forward is in (for the observer) */
};

/* The outputs of the tlm_context_eval_outputs call running on a context. */
typedef struct tlm_outputs_req {
    const tlm_eval_outputs *out;
    int32_t done; /* tokens of the call in chunks before this one */
    int64_t rows; /* logits rows written so far */
} tlm_outputs_req;

/* Evaluates n (<= n_batch) tokens, token t of sequence b_seq[t] at position b_pos[t] into cell
 * b_cell[t] (the caller validated them and made room: each sequence's cells n_used.. in
 * order) and advances each sequence's n_used and n_past. Writes the logits of every token to
 * `rows_out` ([n][vocab]) when it is not NULL, and the last token's to ctx->logits when
 * `want_last`. Inputs are validated by the caller. */
void tlm_forward(tlm_context *ctx, const int32_t *tokens, int32_t n, float *rows_out,
                 bool want_last);

/* forward.c's projection of n_tok rows x through p into y (threads split the rows). */
typedef void (*tlm_project_fn)(const tlm_context *ctx, const tlm_proj *p, const float *x,
                               int64_t ldx, int64_t n_tok, float *y, int64_t ldy);
/* Instead of the head, when ctx->req is set: the final norm and LM head (through `project`,
 * passed in so the two files do not call each other) for the tokens the caller selected, and
 * the hidden states (forward_outputs.c). `last`: the call's last chunk. */
void tlm_forward_outputs(tlm_context *ctx, int32_t n, bool last, tlm_project_fn project);
/* Calls ctx->observer with x, the input of p's matrices (observe.c). */
void tlm_observe_matmul(const tlm_context *ctx, const tlm_proj *p, const float *x, int64_t ldx,
                        int64_t n_tok);
/* The state of sequence seq as tlm_context_save writes it (context_file.c): its size in bytes,
 * writing it, and reading `size` bytes of it into seq (name is for messages). `whole`: the
 * single-sequence save and load (the context's last logits go with it; a load clears every
 * other sequence); else tlm_context_seq_save / _load (no logits; only seq changes, emptied on
 * any failure). */
uint64_t tlm_context_state_bytes(const tlm_context *ctx, int32_t seq, bool whole);
bool tlm_context_write_state(const tlm_context *ctx, int32_t seq, bool whole, FILE *fp);
tlm_status tlm_context_read_state(tlm_context *ctx, int32_t seq, bool whole, FILE *fp,
                                  uint64_t size, const char *name, tlm_error *err);
/* What a failed sequence load leaves: seq empty, the context's last logits dropped. */
void tlm_context_drop_seq(tlm_context *ctx, int32_t seq);

/* The OpenBLAS path (blas.c): batches of at least TLM_BLAS_MIN_TOKENS tokens with F32, F16
 * or BF16 weights, when the context asked for it. */
enum { TLM_BLAS_MIN_TOKENS = 32, TLM_BLAS_ROWS = 256 };
const char *tlm_blas_open(void); /* NULL when usable, else why not */
bool tlm_blas_takes(const tlm_context *ctx, const tlm_proj *p, int64_t n_tok);
/* xr: x rounded to bf16 ([n_tok][cols]) for the BF16 parts (forward.c), NULL if none. */
void tlm_blas_project(const tlm_context *ctx, const tlm_proj *p, const float *x, int64_t ldx,
                      const float *xr, int64_t n_tok, float *y, int64_t ldy);

/* Writes n floats to a cache row of `type`: F32 as they are, F16 rounded, Q8_0 quantized per
 * block of 32 (n a multiple of 32). */
void tlm_store_kv(tlm_type type, void *dst, const float *src, int64_t n);

/* Drops cells [i0, i1) in every layer and head, moving the later ones down in order (one
 * memmove per layer and head; context_edit.c). */
void tlm_context_drop_cells(tlm_context *ctx, int32_t i0, int32_t i1);

/* With a window cache: drops the cells of the current sequence (ctx->sq) that no query at
 * its n_past or later can see, when n more do not fit (context.c). */
void tlm_context_make_room(tlm_context *ctx, int32_t n);
/* Forgets what a cancelled tlm_forward of n tokens wrote (their tokens). */
void tlm_context_undo_batch(tlm_context *ctx, int32_t n);
/* True when no sequence holds a position (the RoPE state may then change). */
bool tlm_context_empty(const tlm_context *ctx);
/* Dynamic NTK: alpha from the first forward on an empty cache of L tokens per sequence. */
void tlm_context_first_ntk(tlm_context *ctx, int32_t L);

/* Recomputes ctx->inv_freq from the config and the RoPE state (factor set, NTK alpha). */
void tlm_context_rope_freqs(tlm_context *ctx);

/* Bytes of one cell's K (or V) row over all KV heads. */
static inline size_t tlm_context_row_bytes(const tlm_context *ctx)
{
    uint64_t kv_dim = (uint64_t)ctx->m->cfg.n_kv_heads * (uint64_t)ctx->m->cfg.head_dim;
    return (size_t)tlm_kv_bytes(ctx->kv_type, kv_dim);
}

/* The cache is head-major: in each layer every KV head keeps its n_cells rows back to back,
 * so attention reads a head's keys and values as one stream (cell-major rows a KV width
 * apart cost one page, TLB entry and prefetch stream per key). Bytes of one head's row: */
static inline size_t tlm_context_head_bytes(const tlm_context *ctx)
{
    return (size_t)tlm_kv_bytes(ctx->kv_type, (uint64_t)ctx->m->cfg.head_dim);
}

/* Cell c (absolute: over all stripes) of KV head g in layer a of the K or V cache at base. */
static inline uint8_t *tlm_kv_at(const tlm_context *ctx, void *base, int32_t a, int32_t g,
                                 int32_t c)
{
    size_t head = tlm_context_head_bytes(ctx);
    size_t run = head * (size_t)ctx->n_cells * (size_t)ctx->n_seq_max;
    size_t g_all = (size_t)a * (size_t)ctx->m->cfg.n_kv_heads + (size_t)g;
    return (uint8_t *)base + g_all * run + (size_t)c * head;
}

/* Cell c of the current sequence's stripe (ctx->sq). */
static inline uint8_t *tlm_kv_cell(const tlm_context *ctx, void *base, int32_t a, int32_t g,
                                   int32_t c)
{
    return tlm_kv_at(ctx, base, a, g, ctx->sq->cell0 + c);
}

#endif
