/* tinylm.h - libtinylm 0.2: a small CPU inference engine for tiny language models.
 *
 * One engine for TinyLlama, MobileLLM, Gemma, Qwen, Phi-2, Phi-3 and StableLM-2: every
 * architecture difference is a field of the model's configuration, read from the file.
 *
 * USAGE
 *     tlm_model *model;  tlm_context *ctx;  tlm_error err;
 *     tlm_model_params mp = tlm_model_default_params();
 *     if (tlm_model_load("model.gguf", &mp, &model, &err) != TLM_OK)
 *         fprintf(stderr, "%s\n", err.message);
 *     tlm_context_params cp = tlm_context_default_params();
 *     cp.n_ctx = 2048;
 *     tlm_context_create(model, &cp, &ctx, &err);
 *     int32_t ids[] = {1, 15043};
 *     tlm_context_eval(ctx, ids, 2, NULL);             // appends 2 positions
 *     const float *logits = tlm_context_logits(ctx);   // [n_vocab] for the last token
 *     tlm_context_free(ctx);
 *     tlm_model_free(model);
 *
 * MODEL FILES
 *     tlm_model_load takes a GGUF file, a llama2.c checkpoint (.bin, legacy layout), or a
 *     Hugging Face model directory (config.json plus model.safetensors or a sharded
 *     model.safetensors.index.json). Weights are memory-mapped privately (the file is never
 *     written) in their stored types; matrices the kernels read faster row-interleaved are
 *     rearranged in place at load, in the pages they occupy. Saving gives the rows back.
 *
 * THREAD SAFETY
 *     A tlm_model is read-only after loading: share it between threads. A tlm_context (KV
 *     cache and scratch) and a tlm_sampler are used by one thread at a time. The library
 *     keeps no global state except the kernel table, filled once from CPUID, and the
 *     OpenBLAS handle, opened once if a context asks for it; it never changes the process
 *     environment.
 *
 * LONG CONTEXT (docs/long-context.md)
 *     - Phi-3-128k LongRoPE: the short or long factor set is chosen once per context, long iff
 *       n_ctx exceeds the original context (llama.cpp's rule), so every cached key is rotated
 *       alike. HF instead switches when a sequence first passes the original context and then
 *       recomputes everything with long factors: the two agree except for short sequences in
 *       a context created larger than the original (use a smaller n_ctx or rope_factors).
 *     - Qwen v1: dynamic NTK (alpha from the first eval on an empty cache, kept while the
 *       cache holds keys) and logn attention past seq_length, as the reference code; each can
 *       be switched off (ntk_alpha, no_logn).
 *     - Sliding-window models keep only the window plus two batches of K/V, bit-identical to a
 *       full cache; tlm_context_eval never truncates (TLM_ERR_CONTEXT_FULL); remove and shift
 *       let a caller drop positions and move the rest (keys are rotated, not recomputed);
 *       tlm_context_save/load keep a cache in a file; tlm_context_plan says what a context
 *       costs and tlm_context_create refuses one that does not fit the memory budget.
 *
 * ERRORS
 *     One convention everywhere:
 *     - Every call that can fail returns a tlm_status (TLM_OK is 0); calls that cannot fail
 *       return void or a value, and say what a bad argument gives (NULL, -1, 0).
 *     - The message: calls taking a tlm_error *err fill it (status and text) when err is not
 *       NULL; calls on a context that take no err (eval, remove, shift, set_*) keep it on the
 *       context, read with tlm_context_error() until the next call on that context. Calls on
 *       a tokenizer without err (tlm_tokenize) have only the status: tlm_status_string.
 *     - An output buffer that is too small gives TLM_ERR_BUFFER_TOO_SMALL, and the call's
 *       size output (*n_out, *len, *size) holds the size needed: call with cap 0 to ask.
 *     - A callback that asks to stop (cancellation, load progress) gives TLM_ERR_CANCELLED.
 *     The library never exits, aborts or prints on its own.
 *
 * OWNERSHIP
 *     Every object made by a *_create / *_load call is the caller's, freed by its *_free
 *     (NULL is a no-op). Pointers returned into an object (logits, token pieces, messages)
 *     stay valid as the call's comment says, at most as long as the object. The library never
 *     keeps a pointer given to it beyond the call, except the callbacks' user pointers.
 */
#ifndef TINYLM_H
#define TINYLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TLM_API __attribute__((visibility("default")))
#else
#define TLM_API
#endif

#define TLM_VERSION_MAJOR 0
#define TLM_VERSION_MINOR 2
#define TLM_VERSION_PATCH 0
#define TLM_VERSION_NUMBER (TLM_VERSION_MAJOR * 10000 + TLM_VERSION_MINOR * 100 + TLM_VERSION_PATCH)

/* The linked library's TLM_VERSION_NUMBER: compare with the header's to catch a mismatch. */
TLM_API unsigned tlm_version_number(void);

/* ---- status and errors ---------------------------------------------------------------- */

typedef enum tlm_status { /* values never change; append only */
                          TLM_OK = 0,
                          TLM_ERR_IO = 1, /* a file could not be opened, read or mapped */
                          TLM_ERR_FORMAT =
                              2, /* a file or string is malformed or lies about its sizes */
                          TLM_ERR_UNSUPPORTED =
                              3, /* well-formed, but a feature or type libtinylm does not run */
                          TLM_ERR_NO_MEMORY = 4,
                          TLM_ERR_ARG =
                              5, /* a bad argument: NULL handle, out-of-range value or id */
                          TLM_ERR_CONTEXT_FULL =
                              6, /* the tokens do not fit in the context's remaining positions */
                          TLM_ERR_CANCELLED =
                              7, /* a callback asked to stop (tlm_context_set_abort, progress) */
                          TLM_ERR_BUFFER_TOO_SMALL = 8, /* an output buffer is too small: the size
                                                         * output says what is needed */
} tlm_status;

typedef struct tlm_error {
    tlm_status status;
    char message[256];
} tlm_error;

/* A short constant description of a status ("malformed input", ...). */
TLM_API const char *tlm_status_string(tlm_status status);

/* ---- weight types (GGUF's numbering, so values read from GGUF files map directly) ------ */

typedef enum tlm_type {
    TLM_TYPE_F32 = 0,
    TLM_TYPE_F16 = 1,
    TLM_TYPE_Q4_0 = 2,
    TLM_TYPE_Q4_1 = 3,
    TLM_TYPE_Q5_0 = 6,
    TLM_TYPE_Q5_1 = 7,
    TLM_TYPE_Q8_0 = 8,
    TLM_TYPE_Q2_K = 10,
    TLM_TYPE_Q3_K = 11,
    TLM_TYPE_Q4_K = 12,
    TLM_TYPE_Q5_K = 13,
    TLM_TYPE_Q6_K = 14,
    TLM_TYPE_IQ4_NL = 20,
    TLM_TYPE_IQ4_XS = 23,
    TLM_TYPE_BF16 = 30,
} tlm_type;

struct tlm_model_info;

/* ---- models --------------------------------------------------------------------------- */

typedef struct tlm_model tlm_model; /* read-only after load: share across threads */

typedef struct tlm_model_params {
    int32_t n_threads; /* threads used while loading (random weights); 0: all cores */
    /* Called on the loading thread with the fraction done, in [0, 1]: 0 before anything is
     * read, then as weight matrices are rearranged, 1 when the model is ready. Returning
     * false cancels: tlm_model_load frees what it made and returns TLM_ERR_CANCELLED.
     * NULL (default): no reports. */
    bool (*progress)(void *user, float fraction);
    void *progress_user; /* passed to progress */
} tlm_model_params;

TLM_API tlm_model_params tlm_model_default_params(void);

/* Opens a GGUF file, a llama2.c .bin checkpoint or a Hugging Face directory (see MODEL
 * FILES). On success *out owns the model; free it with tlm_model_free. On failure *out is
 * NULL and err (if not NULL) says what is wrong, naming the file and field. TLM_ERR_CANCELLED
 * when params->progress returned false. TLM_ERR_ARG when the environment variable TLM_ISA is
 * set to a name the kernels do not know (see tlm_kernels_isa). */
TLM_API tlm_status tlm_model_load(const char *path, const tlm_model_params *params, tlm_model **out,
                                  tlm_error *err);

/* Names of the built-in presets, NULL-terminated: the seven seed models' real configs. */
TLM_API const char *const *tlm_preset_names(void);

typedef struct tlm_preset_params {
    tlm_type weight_type; /* F32, F16 or BF16; default F16 */
    uint64_t seed;        /* random weights are a pure function of (preset, seed, type) */
    int32_t n_threads;    /* 0: all cores */
    bool shape_only;      /* no weight data, made in no time: the model can be inspected
                           * (tlm_model_get_info, tlm_context_plan) but not evaluated or saved
                           * (tlm_context_create and tlm_model_save_gguf give TLM_ERR_ARG) */
} tlm_preset_params;

TLM_API tlm_preset_params tlm_preset_default_params(void);

/* Builds preset `name` (see tlm_preset_names) with seeded random weights, so an architecture
 * can be run and timed without a download. */
TLM_API tlm_status tlm_model_load_preset(const char *name, const tlm_preset_params *params,
                                         tlm_model **out, tlm_error *err);

/* What preset `name` would be at `weight_type` (F32, F16 or BF16), computed from its config
 * alone: no weights are made. info->arch points at a constant string. */
TLM_API tlm_status tlm_preset_info(const char *name, tlm_type weight_type,
                                   struct tlm_model_info *info, tlm_error *err);

/* NULL is a no-op. */
TLM_API void tlm_model_free(tlm_model *model);

/* What a loaded model is: the numbers a user needs to plan memory and speed. */
typedef struct tlm_model_info {
    const char *arch;    /* architecture name as the file gave it ("llama", "phi2", ...) */
    int32_t n_vocab;     /* rows of the output logits */
    int32_t n_ctx_train; /* context length the model was trained for */
    int32_t dim, n_layers, n_heads, n_kv_heads, head_dim, hidden_dim;
    int32_t n_layer_applications; /* n_layers, or 2 * n_layers with layer sharing */
    uint64_t n_params;            /* parameters stored in the file */
    uint64_t n_matrix_params;     /* of which in 2-D weight matrices (what quantization shrinks) */
    uint64_t weight_bytes;        /* bytes of weights as used by the kernels */
    uint64_t kv_bytes_per_token;  /* KV cache bytes per position at F16 (the default) */
    int32_t bos_id, eos_id;       /* -1 when unknown */
} tlm_model_info;

TLM_API const tlm_model_info *tlm_model_get_info(const tlm_model *model);

/* ---- checking a model file ------------------------------------------------------------- */

typedef enum tlm_check_level {                     /* how much a line of a check report matters */
                               TLM_CHECK_INFO = 0, /* what was checked */
                               TLM_CHECK_WARNING =
                                   1, /* odd but usable (two tensors sharing bytes, ...) */
                               TLM_CHECK_ERROR = 2, /* the file cannot be used as it is */
} tlm_check_level;

typedef struct tlm_check_params {
    bool scan_values; /* also read every weight: the first NaN/Inf of each tensor (elements of
                       * F32/F16/BF16, block scales of quantized types); default false */
    void (*report)(void *user, tlm_check_level level, const char *message); /* NULL: none */
    void *user;                                                             /* passed to report */
} tlm_check_params;

TLM_API tlm_check_params tlm_check_default_params(void);

/* Validates a model file (or Hugging Face directory) fully: everything tlm_model_load checks
 * (header, counts, offsets, every tensor's bounds, size and shape), then the vocabulary it
 * carries (GGUF) or that lies beside it (a directory's tokenizer files), the vocabulary
 * against the embedding, and with scan_values every stored value. Each finding goes to
 * params->report as one line in plain words, naming the file, tensor or field and the byte
 * offset where one applies. Returns TLM_OK when nothing is wrong; otherwise the status of the
 * first problem (TLM_ERR_FORMAT for NaN/Inf weights), with err saying what it was. */
TLM_API tlm_status tlm_model_check(const char *path, const tlm_check_params *params,
                                   tlm_error *err);

/* ---- saving (GGUF, with weight-type conversion) ---------------------------------------- */

/* What tlm_model_save_gguf reports while it writes: once as each tensor starts (done then
 * counts the elements of the tensors before it) and after each chunk of its rows. */
typedef struct tlm_save_progress {
    const char *tensor;   /* GGUF name of the tensor being written */
    tlm_type type;        /* the type it is written as */
    const char *note;     /* NULL, or why `type` is not the type asked for */
    int32_t index, count; /* this tensor's index and the number of tensors */
    int64_t done, total;  /* elements written so far, and in all tensors */
} tlm_save_progress;

/* llama-quantize's file types that give tensors different types (docs/quantization.md): with
 * one, tlm_save_params.type is ignored and each matrix gets the type llama.cpp's rules give
 * it (by role and layer; the LM head Q6_K), for dense models. */
typedef enum tlm_quant_mix {
    TLM_MIX_NONE = 0, /* every matrix at tlm_save_params.type */
    TLM_MIX_Q2_K = 1,
    TLM_MIX_Q3_K_S = 2,
    TLM_MIX_Q3_K_M = 3,
    TLM_MIX_Q3_K_L = 4,
    TLM_MIX_Q4_K_S = 5,
    TLM_MIX_Q4_K_M = 6,
    TLM_MIX_Q5_K_S = 7,
    TLM_MIX_Q5_K_M = 8,
    TLM_MIX_IQ4_NL = 9,
    TLM_MIX_IQ4_XS = 10,
} tlm_quant_mix;

typedef struct tlm_save_params {
    tlm_type type;     /* weight matrices: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
                        * IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K or IQ4_XS; default F16 */
    int32_t n_threads; /* threads converting rows; 0: all cores */
    void (*progress)(void *user, const tlm_save_progress *p); /* NULL: no reports */
    void *user;                                               /* passed to progress */
    tlm_quant_mix mix;                                        /* default TLM_MIX_NONE */
    /* llama.cpp's importance-matrix file (llama-imatrix's .dat), or NULL (default): weighs
     * each column's rounding error in the quantizers that take one (IQ4_NL, IQ4_XS, Q2_K,
     * Q3_K; the other types quantize as without); an entry must have one value per column of
     * its tensor. */
    const char *imatrix;
} tlm_save_params;

TLM_API tlm_save_params tlm_save_default_params(void);

/* Writes `model` to `path` as a GGUF v3 file that tlm_model_load and llama.cpp both read,
 * laid out as llama.cpp's converter writes the model's family: general.architecture and the
 * {arch}.* keys, tensors by GGUF name, q/k rows permuted to the adjacent-pair RoPE layout when
 * a "llama" model was loaded from Hugging Face files, and a layer-shared model written out
 * with each block twice. A model loaded from GGUF keeps its tokenizer.* keys and general.*
 * strings; other sources get no vocabulary, only tokenizer.ggml.model = "none" (llama.cpp's
 * mark for a file without one, which it needs to load the file at all).
 *
 * Types: 2-D weight matrices become params->type, except the LM head (or, when the head is
 * the embedding, token_embd), which becomes Q6_K when a quantized type other than Q8_0 and
 * Q6_K is asked for, as llama.cpp does; with params->mix, llama-quantize's rules per tensor. A
 * matrix whose row length is not a whole number of the type's blocks falls back to Q8_0 (K-quants,
 * rows of a multiple of 32) or else F16, and the progress report says so. Norm gains and biases
 * stay F32. A matrix already of the target type is copied as is.
 *
 * The file is written under a temporary name and renamed into place at the end, so a failure
 * leaves no partial file and `path` may be the file the model was loaded from. Memory use is
 * two row buffers of about 8 MB, whatever the model's size. params NULL: the defaults.
 * Errors: TLM_ERR_ARG (NULL model or path, a type not listed above); TLM_ERR_UNSUPPORTED (a
 * source matrix type that cannot be read back as float by this build, or a RoPE layout the
 * target cannot express); TLM_ERR_IO (cannot write, named with the path); TLM_ERR_NO_MEMORY. */
TLM_API tlm_status tlm_model_save_gguf(const tlm_model *model, const char *path,
                                       const tlm_save_params *params, tlm_error *err);

/* ---- contexts ------------------------------------------------------------------------- */

typedef struct tlm_context tlm_context; /* one thread at a time */

/* LongRoPE (Phi-3-128k) factor set: chosen once per context, so every cached key is rotated
 * with the same frequencies (see LONG CONTEXT below). */
typedef enum tlm_rope_factors {
    TLM_ROPE_FACTORS_AUTO = 0, /* long iff n_ctx > the original context (llama.cpp's rule) */
    TLM_ROPE_FACTORS_SHORT = 1,
    TLM_ROPE_FACTORS_LONG = 2,
} tlm_rope_factors;

#define TLM_MEM_UNCHECKED UINT64_MAX /* tlm_context_params.mem_budget: do not check */

typedef struct tlm_context_params {
    int32_t n_ctx;     /* positions (0 .. n_ctx-1) a sequence may use; 0: the model's training
                        * context */
    int32_t n_batch;   /* tokens evaluated per internal step (prefill chunk); default 256;
                        * a value above n_ctx is cut to n_ctx */
    int32_t n_threads; /* 0: all cores */
    tlm_type kv_type;  /* KV cache elements: TLM_TYPE_F16 (default) or TLM_TYPE_F32 */
    /* Long context (see LONG CONTEXT below); the defaults run each model as its reference. */
    tlm_rope_factors rope_factors; /* LongRoPE models only; default AUTO */
    float ntk_alpha;     /* Qwen v1 dynamic NTK: 0 (default) = dynamic, from the length of the
                          * first eval on an empty cache and kept until it is empty again;
                          * 1 = off; > 1 = this alpha for every eval */
    bool no_logn;        /* Qwen v1: true turns logn attention scaling off */
    bool full_cache;     /* sliding-window models: keep every position's K/V (memory grows with
                          * n_ctx) instead of a cache holding only the window */
    uint64_t mem_budget; /* bytes the context may take: 0 (default) = MemAvailable from
                          * /proc/meminfo (no check if unreadable); TLM_MEM_UNCHECKED: none */
    bool blas;           /* batches of 32+ tokens with F32/F16/BF16 weights through OpenBLAS's
                          * sgemm instead of the engine's GEMM (for comparison); OpenBLAS is
                          * opened at run time: TLM_ERR_UNSUPPORTED at create if it cannot be.
                          * OpenBLAS chooses its kernels when it loads, from OPENBLAS_CORETYPE or
                          * CPUID; the library leaves the environment alone. Debian's 0.3.21
                          * takes AVX-512 AMD CPUs for Haswell (half speed): a program that
                          * wants its AVX-512 kernels sets OPENBLAS_CORETYPE=SkylakeX before its
                          * first blas context. Its thread count is set to n_threads through
                          * openblas_set_num_threads, which is process-wide. */
    int32_t n_seq_max;   /* sequences the context holds (tlm_context_eval_batch): each has its
                          * own n_ctx positions and its own cells, so the KV cache is n_seq_max
                          * times one sequence's; 0 or 1 (default): one, at most 256 */
} tlm_context_params;

TLM_API tlm_context_params tlm_context_default_params(void);

/* What a context will allocate, computed before anything is (tlm_context_plan). */
typedef struct tlm_context_memory {
    int32_t n_ctx;          /* positions, after the default is applied */
    int32_t n_cells;        /* K/V rows per layer: n_ctx, or about the window plus two batches
                             * for a sliding-window model */
    uint64_t kv_bytes;      /* K and V of every applied layer at kv_type */
    uint64_t scratch_bytes; /* activations, logits, attention scores, token history */
    uint64_t total_bytes;   /* kv_bytes + scratch_bytes: the context's one allocation */
    uint64_t budget_bytes;  /* what it was compared with; 0: no check */
    int32_t max_n_ctx;      /* largest n_ctx that fits the budget (at most 4194304; 0 if none
                             * does); n_ctx itself when there is no budget */
    bool fits;              /* total_bytes <= budget_bytes (true without a budget) */
} tlm_context_memory;

/* Computes the memory of a context with these params, without allocating: the KV cache at
 * kv_type plus scratch, and the budget (params->mem_budget, or MemAvailable). Works on shape-
 * only preset models too. TLM_ERR_ARG for a NULL model or out or out-of-range params. */
TLM_API tlm_status tlm_context_plan(const tlm_model *model, const tlm_context_params *params,
                                    tlm_context_memory *out, tlm_error *err);

/* Allocates the KV cache and all scratch once; evaluation never allocates afterwards.
 * TLM_ERR_NO_MEMORY when the plan does not fit the budget: the message names the bytes needed,
 * the bytes available and the largest context that fits (see tlm_context_plan). */
TLM_API tlm_status tlm_context_create(const tlm_model *model, const tlm_context_params *params,
                                      tlm_context **out, tlm_error *err);

TLM_API void tlm_context_free(tlm_context *ctx); /* NULL is a no-op */

/* Evaluates n_tokens ids at the next positions (appending to the cache). If all_logits is
 * not NULL it receives n_tokens * n_vocab floats, row-major [token][vocab]; the last token's
 * logits are always available from tlm_context_logits afterwards.
 * Errors: TLM_ERR_CONTEXT_FULL when n_past + n_tokens > n_ctx, checked before any id is read
 * (nothing is evaluated: the context, its logits and error aside, stays as it was; the caller
 * decides what to drop: tlm_context_reset, or remove and shift positions); TLM_ERR_ARG for NULL
 * tokens, n_tokens < 1 or an id outside [0, n_vocab) (nothing is evaluated). The message is
 * kept for tlm_context_error. */
TLM_API tlm_status tlm_context_eval(tlm_context *ctx, const int32_t *tokens, int32_t n_tokens,
                                    float *all_logits);

/* Logits of the last evaluated token ([n_vocab]); NULL before the first eval. Valid until the
 * next call on ctx. */
TLM_API const float *tlm_context_logits(const tlm_context *ctx);

TLM_API int32_t tlm_context_n_past(const tlm_context *ctx); /* the next token's position */
TLM_API int32_t tlm_context_n_ctx(const tlm_context *ctx);
TLM_API void tlm_context_reset(tlm_context *ctx);              /* forget all positions */
TLM_API const char *tlm_context_error(const tlm_context *ctx); /* last failure, "" if none */

/* The token at each position [0, n_past) (-1 where a range was removed); *n gets n_past.
 * Valid until the next call that changes ctx. */
TLM_API const int32_t *tlm_context_tokens(const tlm_context *ctx, int32_t *n);

/* Removes positions [p0, p1) from the cache (p1 < 0: to the end). The others keep their
 * positions (a gap stays); removing the end makes p0 the next position. Logits are dropped.
 * TLM_ERR_ARG for a bad range; TLM_ERR_UNSUPPORTED when, with a sliding-window cache, the
 * window of the next position would need keys that already left the cache. */
TLM_API tlm_status tlm_context_remove(tlm_context *ctx, int32_t p0, int32_t p1);

/* Moves positions [p0, p1) (p1 < 0: to the end) by delta, rotating their cached keys by the
 * angle of delta (no recomputation); a range that includes the end moves n_past with it.
 * The moved positions must land on positions without tokens, within [0, n_ctx).
 * TLM_ERR_ARG otherwise; TLM_ERR_UNSUPPORTED as for tlm_context_remove. */
TLM_API tlm_status tlm_context_shift(tlm_context *ctx, int32_t p0, int32_t p1, int32_t delta);

/* Saves the KV cache, the tokens of tlm_context_tokens, the last logits and the RoPE state to
 * a versioned file, written under a temporary name and renamed into place. */
TLM_API tlm_status tlm_context_save(const tlm_context *ctx, const char *path, tlm_error *err);

/* Replaces ctx's state by a file of tlm_context_save. The file must come from the same model
 * (a fingerprint of its config and weights), with the same KV type, RoPE factor set and NTK
 * alpha (when fixed), and fit n_ctx: otherwise TLM_ERR_ARG naming the difference, or
 * TLM_ERR_FORMAT for a file that is malformed or lies about its sizes; ctx is then reset. */
TLM_API tlm_status tlm_context_load(tlm_context *ctx, const char *path, tlm_error *err);

/* The same state as tlm_context_save, in memory: the bytes of the file it writes. *size gets
 * the number of bytes; when cap is smaller (cap 0 with buf NULL asks for it) nothing is
 * written and the status is TLM_ERR_BUFFER_TOO_SMALL. The size changes as ctx evaluates. */
TLM_API tlm_status tlm_context_save_buffer(const tlm_context *ctx, void *buf, size_t cap,
                                           size_t *size, tlm_error *err);

/* Replaces ctx's state by `size` bytes of tlm_context_save_buffer (or of a file of
 * tlm_context_save): the same checks and errors as tlm_context_load. buf is not kept. */
TLM_API tlm_status tlm_context_load_buffer(tlm_context *ctx, const void *buf, size_t size,
                                           tlm_error *err);

/* ---- embedding: cancellation, threads, outputs ------------------------------------------ */

/* Called by tlm_context_eval and tlm_context_eval_outputs on the evaluating thread before each
 * layer of each chunk of n_batch tokens, so a stop takes effect within one layer's time.
 * Returning true stops the evaluation: the call returns TLM_ERR_CANCELLED. The chunks finished
 * before stay in the cache (tlm_context_n_past says how far it got: the caller may go on from
 * there, or drop them with tlm_context_remove); the chunk being evaluated leaves no trace;
 * tlm_context_logits is NULL until the next evaluation. The context stays usable. The callback
 * may read a flag another thread sets (an atomic: examples/cancel.c); it must not call
 * into ctx. NULL removes it. Not copied anywhere else: user must outlive its use. */
TLM_API void tlm_context_set_abort(tlm_context *ctx, bool (*abort)(void *user), void *user);

/* Called on the evaluating thread with the input of every weight matrix product of an
 * evaluation, just before it: x holds n_tok rows of n_in floats (row stride ldx), the
 * activations that multiply the matrix `weight`, named as a GGUF file names it (as
 * tlm_model_save writes the model: "blk.3.attn_q.weight", "blk.3.ffn_down.weight", ...,
 * "output.weight" for an untied head; a block applied twice by layer sharing is blk.<its
 * application>). x is valid only during the call, which must not call into ctx. This is how
 * importance matrices are collected (tlm-perplexity --imatrix-out). NULL removes it. */
typedef void (*tlm_matmul_observer)(void *user, const char *weight, const float *x, int64_t ldx,
                                    int64_t n_tok, int64_t n_in);
TLM_API void tlm_context_set_matmul_observer(tlm_context *ctx, tlm_matmul_observer fn, void *user);

/* Changes the threads used by later evaluations, within [1, the count ctx was created with]
 * (its n_threads param, or all cores for 0): scratch is sized for that many. Results are the
 * same bits for any count. TLM_ERR_ARG (message on the context) outside that range. */
TLM_API tlm_status tlm_context_set_threads(tlm_context *ctx, int32_t n_threads);
TLM_API int32_t tlm_context_n_threads(const tlm_context *ctx);

/* Hidden state width: the size of one row of tlm_eval_outputs.hidden (the model's dim). */
TLM_API int32_t tlm_model_n_embd(const tlm_model *model);

/* What tlm_context_eval_outputs writes besides the cache. Every pointer may be NULL. */
typedef struct tlm_eval_outputs {
    /* Per token of the call, whether to compute its logits (the LM head runs only on those).
     * NULL: the last token only. */
    const bool *logits_mask;
    /* [n selected][n_vocab]: the selected tokens' logits, in token order. NULL: not copied
     * (the last token's, when selected, are still read with tlm_context_logits). */
    float *logits;
    /* [n_tokens][n_embd]: each token's final hidden state, after the final norm (what the LM
     * head reads): the input of embeddings and classifiers. */
    float *hidden;
} tlm_eval_outputs;

/* tlm_context_eval with a choice of outputs (see tlm_eval_outputs); the same errors, plus
 * TLM_ERR_CANCELLED. out NULL: as tlm_context_eval without all_logits. Afterwards
 * tlm_context_logits gives the last token's logits when it was selected, else NULL. */
TLM_API tlm_status tlm_context_eval_outputs(tlm_context *ctx, const int32_t *tokens,
                                            int32_t n_tokens, const tlm_eval_outputs *out);

/* ---- batches: several sequences in one forward pass ------------------------------------ */

/* A context made with n_seq_max = S holds S sequences (ids 0 .. S-1), each with its own n_ctx
 * positions and its own cells of the KV cache (a stripe of it: the cache is S times one
 * sequence's). tlm_context_eval_batch evaluates tokens of several sequences in one pass:
 * every weight matrix is applied once to all of them; each token attends only to the cells of
 * its own sequence (and window). A sequence's logits do not depend on what else is in the
 * batch (up to float rounding of the batched matrix products).
 *
 * The single-sequence calls above (eval, eval_outputs, logits, n_past, tokens, remove,
 * shift, save, load) act on sequence 0; tlm_context_reset and tlm_context_load clear every
 * sequence (tlm_context_seq_save / _load below keep one sequence at a time). Threads: as
 * every context call, one thread at a time on a context. Nothing is kept of the batch's arrays
 * after the call returns. */
typedef struct tlm_batch {
    int32_t n_tokens;      /* 1 .. the context's n_batch (tlm_context_n_batch) */
    const int32_t *token;  /* [n_tokens] ids in [0, n_vocab) */
    const int32_t *seq_id; /* [n_tokens] in [0, n_seq_max); NULL: all sequence 0 */
    const int32_t *pos;    /* [n_tokens] positions: within a sequence strictly increasing,
                            * at or after its tlm_context_seq_n_past, below n_ctx (gaps are
                            * allowed). NULL: each sequence's next positions in order */
    const bool *logits;    /* [n_tokens] whose logits to compute (the LM head runs only on
                            * those); NULL: none */
    float *out_logits;     /* [count of true in logits][n_vocab]: their logits, in batch order
                            * (caller-owned; required when any is wanted) */
} tlm_batch;

/* Evaluates a batch and appends every token to its sequence's cache. Everything is checked
 * before the cache is touched; on an error nothing is evaluated and every sequence is as it
 * was. Errors (message on tlm_context_error): TLM_ERR_ARG for a NULL batch or token array,
 * n_tokens < 1 or above n_batch, an id outside the vocabulary, a sequence id outside
 * [0, n_seq_max), a position below the sequence's n_past or not above its previous one in
 * the batch, or wanted logits without out_logits; TLM_ERR_CONTEXT_FULL for a position at or
 * past n_ctx; TLM_ERR_CANCELLED as tlm_context_eval (the batch leaves no tokens). Afterwards
 * tlm_context_logits gives the batch's last token's logits when it was wanted, else NULL. */
TLM_API tlm_status tlm_context_eval_batch(tlm_context *ctx, const tlm_batch *batch);

TLM_API int32_t tlm_context_n_seq_max(const tlm_context *ctx);
TLM_API int32_t tlm_context_n_batch(const tlm_context *ctx); /* tokens per eval_batch call */
/* One past the last position of sequence seq (0 for an unknown seq or NULL ctx). */
TLM_API int32_t tlm_context_seq_n_past(const tlm_context *ctx, int32_t seq);
/* The token at each position [0, n_past) of sequence seq (-1 where a range was removed), as
 * tlm_context_tokens for sequence 0; *n gets its n_past. NULL and *n = 0 for an unknown seq or
 * NULL ctx (n may be NULL). Valid until the next call that changes ctx. */
TLM_API const int32_t *tlm_context_seq_tokens(const tlm_context *ctx, int32_t seq, int32_t *n);

/* Sequence operations. Each returns TLM_ERR_ARG (nothing changed) for a sequence id outside
 * [0, n_seq_max), and drops tlm_context_logits. */
/* Removes positions [p0, p1) of seq (p1 < 0: to the end): as tlm_context_remove, same errors. */
TLM_API tlm_status tlm_context_seq_remove(tlm_context *ctx, int32_t seq, int32_t p0, int32_t p1);
/* Moves positions [p0, p1) of seq by delta: as tlm_context_shift, same errors. */
TLM_API tlm_status tlm_context_seq_shift(tlm_context *ctx, int32_t seq, int32_t p0, int32_t p1,
                                         int32_t delta);
/* Empties every sequence but seq. */
TLM_API tlm_status tlm_context_seq_keep(tlm_context *ctx, int32_t seq);
/* Makes dst a copy of src: its positions, tokens and cached keys and values (dst's own are
 * dropped). A prompt evaluated once in src is forked this way, then each copy goes on alone
 * (remove dst's tail first to keep only a prefix). src == dst does nothing. */
TLM_API tlm_status tlm_context_seq_copy(tlm_context *ctx, int32_t src, int32_t dst);

/* Saving and loading one sequence (a server's slot save / restore, llama.cpp's
 * llama_state_seq_*): its KV cells, tokens and positions, and the RoPE state, in the file
 * format of tlm_context_save (same version) but without logits: the context's last logits
 * (tlm_context_logits) are not a sequence's, so they are not saved, and a sequence load drops
 * them (a file of tlm_context_save loads too: its sequence 0, its logits skipped). A sequence
 * saved from seq s of one context loads into any sequence of any context of the same model
 * (other n_seq_max, n_batch or n_ctx) whose n_ctx and cells per sequence it fits.
 *
 * Saves seq's state to a file (written under a temporary name and renamed into place).
 * ctx is only read. TLM_ERR_ARG for a NULL ctx or path or a sequence id outside
 * [0, n_seq_max); TLM_ERR_IO when the file cannot be written. */
TLM_API tlm_status tlm_context_seq_save(const tlm_context *ctx, int32_t seq, const char *path,
                                        tlm_error *err);
/* Replaces sequence seq by a file of tlm_context_seq_save (or tlm_context_save). Every other
 * sequence is left as it was, bit for bit; tlm_context_logits is NULL afterwards. Errors:
 * TLM_ERR_ARG for a NULL ctx or path or a sequence id outside [0, n_seq_max) (then nothing
 * changes); TLM_ERR_IO (cannot open or read), TLM_ERR_ARG (another model, KV type, RoPE factor
 * set, an NTK alpha other than the context's while other sequences hold keys, or too long for
 * this context) and TLM_ERR_FORMAT (malformed, lying sizes) leave sequence seq empty. With a
 * dynamic NTK alpha and every other sequence empty, the file's alpha is taken. */
TLM_API tlm_status tlm_context_seq_load(tlm_context *ctx, int32_t seq, const char *path,
                                        tlm_error *err);
/* The same state in memory: the bytes of the file tlm_context_seq_save writes. *size gets the
 * number of bytes; when cap is smaller (cap 0 with buf NULL asks for it) nothing is written
 * and the status is TLM_ERR_BUFFER_TOO_SMALL. TLM_ERR_ARG for NULL ctx or size, a NULL buf
 * with cap > 0, or a bad sequence id. */
TLM_API tlm_status tlm_context_seq_save_buffer(const tlm_context *ctx, int32_t seq, void *buf,
                                               size_t cap, size_t *size, tlm_error *err);
/* Replaces sequence seq by `size` bytes of tlm_context_seq_save_buffer (or of any file above):
 * the same checks and errors as tlm_context_seq_load (a NULL buf or size 0: TLM_ERR_ARG,
 * sequence seq emptied). buf is not kept. */
TLM_API tlm_status tlm_context_seq_load_buffer(tlm_context *ctx, int32_t seq, const void *buf,
                                               size_t size, tlm_error *err);

/* ---- tokenizer ------------------------------------------------------------------------ */

typedef struct tlm_tokenizer tlm_tokenizer; /* read-only after load: share across threads */

/* Loads a tokenizer from a file or a directory (no model needed):
 *   - a GGUF file (a vocab-only one is fine): tokenizer.ggml.model "llama" (SentencePiece)
 *     or "gpt2" (byte-level BPE, with tokenizer.ggml.pre one of gpt-2, phi-2, qwen2,
 *     stablelm2, stablelm; another pre-tokenizer gives TLM_ERR_UNSUPPORTED);
 *   - a Hugging Face tokenizer.json (byte-level BPE), or vocab.json (merges.txt beside it);
 *   - a SentencePiece tokenizer.model (BPE models with the identity normaliser);
 *   - a tiktoken rank file (Qwen v1's qwen.tiktoken);
 *   - a directory holding one of tokenizer.json, vocab.json + merges.txt, tokenizer.model,
 *     qwen.tiktoken (tried in that order; a SentencePiece-style tokenizer.json gives way to
 *     the tokenizer.model beside it).
 * tokenizer_config.json, special_tokens_map.json and added_tokens.json next to a Hugging Face
 * file supply special tokens, add_bos_token and the chat template. A llama2.c tokenizer.bin
 * needs tlm_tokenizer_load_llama2c. */
TLM_API tlm_status tlm_tokenizer_load(const char *path, tlm_tokenizer **out, tlm_error *err);

/* The tokenizer stored in a model file (GGUF vocabulary). TLM_ERR_UNSUPPORTED if none. */
TLM_API tlm_status tlm_tokenizer_from_model(const tlm_model *model, tlm_tokenizer **out,
                                            tlm_error *err);

/* A llama2.c tokenizer.bin with n_vocab entries (the count comes from the model). */
TLM_API tlm_status tlm_tokenizer_load_llama2c(const char *path, int32_t n_vocab,
                                              tlm_tokenizer **out, tlm_error *err);

TLM_API void tlm_tokenizer_free(tlm_tokenizer *tok); /* NULL is a no-op */

/* Encodes UTF-8 text into at most cap ids; *n_out gets the count. TLM_ERR_BUFFER_TOO_SMALL
 * if cap is too small (then *n_out is the count needed: cap 0 with ids NULL asks for it);
 * TLM_ERR_ARG for a NULL tokenizer, text or n_out, a negative cap, or text over 512 MiB (then
 * *n_out is 0). Text never turns into control tokens (<s>,
 * <|im_start|>, ...): their text is encoded as ordinary text. Added tokens that are not
 * control tokens (Phi-2's runs of spaces) are matched. SentencePiece vocabularies from GGUF or
 * tokenizer.model read each byte of ill-formed UTF-8 as U+FFFD, as SentencePiece does;
 * llama2.c's tokenizer.bin and byte-level BPE keep the bytes. */
TLM_API tlm_status tlm_tokenize(const tlm_tokenizer *tok, const char *text, bool add_bos,
                                int32_t *ids, int32_t cap, int32_t *n_out);

/* As tlm_tokenize, but the text of a control token (longest first) becomes that token. For
 * trusted text only: a user could forge turn markers with it. */
TLM_API tlm_status tlm_tokenize_special(const tlm_tokenizer *tok, const char *text, bool add_bos,
                                        int32_t *ids, int32_t cap, int32_t *n_out);

/* Whether the vocabulary's own library turns control-token text in plain input into those
 * tokens by default: true for a tokenizer.json or vocab.json + merges.txt (Hugging Face's
 * tokenizer(text)), Qwen's tiktoken file and a GGUF vocabulary (llama-tokenize); false for a
 * SentencePiece tokenizer.model (sentencepiece encodes such text as text) and llama2.c's
 * tokenizer.bin. Tools use it to pick tlm_tokenize_special or tlm_tokenize for their
 * defaults; NULL gives false. */
TLM_API bool tlm_tokenizer_parses_special(const tlm_tokenizer *tok);

/* The bytes a token stands for when it follows token `prev` (-1 at the start), without a
 * terminator; *len gets their count. Control tokens give no bytes. Returns NULL for an id
 * out of range. The pointer stays valid as long as the tokenizer. A piece may end inside a
 * UTF-8 character: to print a stream use tlm_detok. */
TLM_API const char *tlm_token_piece(const tlm_tokenizer *tok, int32_t prev, int32_t id,
                                    size_t *len);

TLM_API int32_t tlm_tokenizer_bos(const tlm_tokenizer *tok); /* -1 if none */
TLM_API int32_t tlm_tokenizer_eos(const tlm_tokenizer *tok); /* -1 if none */
TLM_API int32_t tlm_tokenizer_n_vocab(const tlm_tokenizer *tok);
/* Whether the vocabulary's files ask for BOS before a prompt (false without a BOS token). */
TLM_API bool tlm_tokenizer_adds_bos(const tlm_tokenizer *tok);
/* The id of the token whose text is exactly `text` (control and added tokens first; normal
 * pieces as the vocabulary stores them: SentencePiece writes a space as U+2581), or -1. */
TLM_API int32_t tlm_tokenizer_find(const tlm_tokenizer *tok, const char *text);
/* The Jinja chat template the tokenizer's files carry, or NULL. Valid as long as tok. */
TLM_API const char *tlm_tokenizer_chat_template(const tlm_tokenizer *tok);

/* ---- streaming decode ----------------------------------------------------------------- */

/* Turns generated ids into text that never ends inside a UTF-8 character: bytes of an
 * incomplete character are held until the token that completes it. Ill-formed bytes become
 * U+FFFD, one per maximal ill-formed subsequence, so the concatenated output is what
 * Python's bytes.decode("utf-8", errors="replace") gives for all the bytes. One per stream. */
typedef struct tlm_detok tlm_detok;

TLM_API tlm_status tlm_detok_create(const tlm_tokenizer *tok, tlm_detok **out);
TLM_API void tlm_detok_free(tlm_detok *d); /* NULL is a no-op */
/* Starts a new stream; `prev` is the token before it (-1 at the start, or BOS). */
TLM_API void tlm_detok_reset(tlm_detok *d, int32_t prev);
/* Adds id's bytes; returns the complete text now available (*len bytes, not terminated;
 * may be 0), valid until the next call on d. NULL (and *len 0) for an id out of range or no
 * memory. */
TLM_API const char *tlm_detok_push(tlm_detok *d, int32_t id, size_t *len);
/* Ends the stream: held bytes of an unfinished character come out as U+FFFD. */
TLM_API const char *tlm_detok_flush(tlm_detok *d, size_t *len);

/* ---- chat templates ------------------------------------------------------------------- */

/* The chat formats of the seed families, rendered exactly as their official templates do
 * (docs/chat-templates.md gives the strings and the choices made where none exists). */
typedef enum tlm_chat_template { /* values never change; append only */
                                 TLM_CHAT_UNKNOWN = 0,
                                 TLM_CHAT_ZEPHYR =
                                     1, /* TinyLlama-Chat, StableLM-2-Zephyr: <|user|>\n...EOS\n */
                                 TLM_CHAT_PHI2 = 2, /* "Instruct: ...\nOutput:" (multi-turn form is
                                                       libtinylm's) */
                                 TLM_CHAT_PHI3 =
                                     3, /* <|system|>/<|user|>/<|assistant|>\n...<|end|>\n */
                                 TLM_CHAT_PHI3_NOSYS = 4, /* Phi-3-mini's first template: BOS,
                                                             system messages dropped */
                                 TLM_CHAT_GEMMA = 5, /* <start_of_turn>user/model; no system role */
                                 TLM_CHAT_CHATML =
                                     6, /* Qwen1.5/Qwen2 Jinja: <|im_start|>role\n...<|im_end|>\n */
                                 TLM_CHAT_QWEN =
                                     7, /* Qwen v1 make_context: ChatML, each piece encoded alone */
} tlm_chat_template;

typedef struct tlm_chat_message {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
} tlm_chat_message;

TLM_API const char *tlm_chat_template_name(tlm_chat_template t); /* "zephyr", ...; "unknown" */
TLM_API tlm_chat_template tlm_chat_template_from_name(const char *name); /* UNKNOWN if none */

/* Which known template a Jinja text (GGUF tokenizer.chat_template, tokenizer_config.json) is.
 * An unknown text gives TLM_ERR_UNSUPPORTED and a message quoting its start: it is never
 * silently replaced by a guess. */
TLM_API tlm_status tlm_chat_template_detect(const char *jinja, tlm_chat_template *out,
                                            tlm_error *err);

/* The conversation as the template's text. tok supplies the BOS/EOS texts and, for ChatML,
 * the default system message of its Jinja template (may be NULL: "</s>", "<s>", none).
 * Writes at most cap bytes plus a terminator when cap > 0; *len gets the length.
 * TLM_ERR_ARG for a bad role or message order; TLM_ERR_BUFFER_TOO_SMALL when cap is too small
 * (then *len is the length);
 * TLM_ERR_UNSUPPORTED for a system message with Gemma. */
TLM_API tlm_status tlm_chat_render(tlm_chat_template t, const tlm_tokenizer *tok,
                                   const tlm_chat_message *msgs, int32_t n_msgs,
                                   bool add_generation_prompt, char *buf, size_t cap, size_t *len,
                                   tlm_error *err);

/* The conversation as ids: template markers become their special tokens, message contents
 * are ordinary text (never special tokens), BOS as the family does it. Same errors as
 * tlm_chat_render, and cap as in tlm_tokenize. */
TLM_API tlm_status tlm_chat_tokenize(tlm_chat_template t, const tlm_tokenizer *tok,
                                     const tlm_chat_message *msgs, int32_t n_msgs,
                                     bool add_generation_prompt, int32_t *ids, int32_t cap,
                                     int32_t *n_out, tlm_error *err);

/* The ids that continue a conversation after the model answered a generation prompt (the
 * reply's own ids being already evaluated): the end of the assistant turn (starting with the
 * stop token), then msgs, then the generation prompt. Evaluating them keeps the KV cache of
 * everything before. */
TLM_API tlm_status tlm_chat_tokenize_continue(tlm_chat_template t, const tlm_tokenizer *tok,
                                              const tlm_chat_message *msgs, int32_t n_msgs,
                                              int32_t *ids, int32_t cap, int32_t *n_out,
                                              tlm_error *err);

/* Whether id ends an assistant turn: EOS, or the template's turn end (<|im_end|>, <|end|>,
 * <end_of_turn>, ...). */
TLM_API bool tlm_chat_is_stop(tlm_chat_template t, const tlm_tokenizer *tok, int32_t id);

/* ---- sampling ------------------------------------------------------------------------- */

typedef struct tlm_sampler tlm_sampler;

/* One additive logit bias (OpenAI's logit_bias: -100 bans, +100 forces in practice). */
typedef struct tlm_logit_bias {
    int32_t id;
    float bias;
} tlm_logit_bias;

/* The chain, in Hugging Face transformers' order: logit biases are added; penalties are
 * applied to the ids of the last repeat_last_n accepted ids (tlm_sampler_accept); then
 * greedy (temperature 0: argmax of the modified logits) or softmax(logits / T) filtered by
 * top_k, top_p and min_p in that order, renormalised, and drawn from. */
typedef struct tlm_sampler_params {
    float temperature; /* 0: greedy (argmax) */
    int32_t top_k;     /* 0: off */
    float top_p;       /* 1: off; in (0, 1] */
    float min_p;       /* 0: off; in [0, 1]: keep ids with p >= min_p * max p */
    /* CTRL / llama.cpp repetition penalty: a seen id's logit l becomes l / r if l > 0, else
     * l * r. 1: off; > 0. */
    float repeat_penalty;
    /* OpenAI, after the repetition penalty: l -= presence if the id was seen, l -= frequency *
     * (times seen in the window). 0: off; each in [-2, 2]. */
    float presence_penalty;
    float frequency_penalty;
    int32_t repeat_last_n;            /* ids the penalties look back on; 0: none, -1: all */
    const tlm_logit_bias *logit_bias; /* copied at create; ids must be in [0, n_vocab);
                                       * two entries for one id add up */
    int32_t n_logit_bias;
    uint64_t seed;
} tlm_sampler_params;

/* temperature 1, top_k 0, top_p 1, min_p 0, penalties off, repeat_last_n 64, no bias, seed 0 */
TLM_API tlm_sampler_params tlm_sampler_default_params(void);

/* TLM_ERR_ARG (with the field named) for a value outside its range above, NaN, a bias id
 * outside [0, n_vocab) or a non-finite bias, or n_vocab < 1. */
TLM_API tlm_status tlm_sampler_create(const tlm_sampler_params *params, int32_t n_vocab,
                                      tlm_sampler **out, tlm_error *err);
TLM_API void tlm_sampler_free(tlm_sampler *s);

/* Picks the next id from logits [n_vocab] (not modified). Does not record it: call
 * tlm_sampler_accept with the id that was used (the penalties look at accepted ids only, so
 * a caller chooses whether prompt ids count, as llama.cpp does, or only generated ones, as
 * the OpenAI API does). */
TLM_API int32_t tlm_sampler_sample(tlm_sampler *s, const float *logits);

/* Records id (ignored outside [0, n_vocab)) in the penalty history. */
TLM_API void tlm_sampler_accept(tlm_sampler *s, int32_t id);

/* Forgets the history and restarts the random stream from the seed. */
TLM_API void tlm_sampler_reset(tlm_sampler *s);

/* The distribution the next tlm_sampler_sample draws from, written to probs [n_vocab]
 * (0 for filtered ids; greedy: 1 at the argmax). Does not draw. */
TLM_API tlm_status tlm_sampler_probs(tlm_sampler *s, const float *logits, float *probs);

/* ---- grammar ------------------------------------------------------------------------- */

/* Grammar-constrained sampling (docs/grammar.md). A grammar in llama.cpp's GBNF is parsed
 * once (immutable afterwards: share it across threads); a grammar vocabulary is the
 * tokenizer's token texts as a byte trie, built once per tokenizer and shared too; a sampler
 * given both masks, before any other step of its chain, every id whose text cannot continue
 * the grammar (EOS only where the grammar can end; other control tokens never). After each
 * id is used, tlm_sampler_grammar_accept advances the grammar (tlm_sampler_accept does not:
 * it also takes prompt ids). */
typedef struct tlm_grammar tlm_grammar;
typedef struct tlm_grammar_vocab tlm_grammar_vocab;

/* Parses GBNF text; root names the start rule (NULL: "root"). TLM_ERR_FORMAT with "grammar
 * line L, column C: ..." for a syntax error, an undefined rule, a left-recursive rule or a
 * grammar over the size limits; TLM_ERR_ARG for NULL text/out. */
TLM_API tlm_status tlm_grammar_parse(const char *text, const char *root, tlm_grammar **out,
                                     tlm_error *err);
TLM_API void tlm_grammar_free(tlm_grammar *g); /* NULL is a no-op */

/* Whether text[0..len) can start a string of the grammar (*prefix_ok) and is one
 * (*complete). Either pointer may be NULL. */
TLM_API tlm_status tlm_grammar_match(const tlm_grammar *g, const char *text, size_t len,
                                     bool *prefix_ok, bool *complete, tlm_error *err);

/* A JSON Schema (JSON text) as GBNF, root rule "root"; schema NULL gives any JSON value
 * (response_format json_object). An unsupported keyword or value is TLM_ERR_UNSUPPORTED
 * naming it and its JSON path; bad JSON is TLM_ERR_FORMAT. Writes at most cap bytes plus a
 * terminator when cap > 0, *len gets the length; TLM_ERR_BUFFER_TOO_SMALL (with *len) when
 * cap is too small. What is supported: docs/grammar.md. */
TLM_API tlm_status tlm_json_schema_to_gbnf(const char *schema, char *buf, size_t cap, size_t *len,
                                           tlm_error *err);
/* tlm_json_schema_to_gbnf then tlm_grammar_parse. */
TLM_API tlm_status tlm_grammar_from_json_schema(const char *schema, tlm_grammar **out,
                                                tlm_error *err);

TLM_API tlm_status tlm_grammar_vocab_create(const tlm_tokenizer *tok, tlm_grammar_vocab **out,
                                            tlm_error *err);
TLM_API void tlm_grammar_vocab_free(tlm_grammar_vocab *v); /* NULL is a no-op */

/* Constrains s with g over v (g NULL: no grammar). g and v must outlive s's use of them; ids
 * at or past v's vocabulary size are masked. The grammar starts at its beginning; so does
 * tlm_sampler_reset. When no id can continue (the grammar is complete and the vocabulary has
 * no EOS), tlm_sampler_sample returns -1. */
TLM_API tlm_status tlm_sampler_set_grammar(tlm_sampler *s, const tlm_grammar *g,
                                           const tlm_grammar_vocab *v, tlm_error *err);
/* Advances the grammar over id's text. TLM_ERR_ARG (state unchanged) if the grammar does not
 * allow id; TLM_OK without a grammar. */
TLM_API tlm_status tlm_sampler_grammar_accept(tlm_sampler *s, int32_t id, tlm_error *err);
/* The ids that may end the text where the grammar can end (default: the vocabulary's EOS).
 * A chat reply ends at its template's end of turn, which may be another id (<|im_end|>,
 * <|end|>): give every id tlm_chat_is_stop accepts. 0 to 16 ids in [0, n_vocab); call it
 * after tlm_sampler_set_grammar (a new grammar starts with EOS again; tlm_sampler_reset keeps
 * them). TLM_ERR_ARG without a grammar or for a bad id or count. */
TLM_API tlm_status tlm_sampler_set_grammar_ends(tlm_sampler *s, const int32_t *ids, int32_t n,
                                                tlm_error *err);
/* Whether the grammar can end here (true without a grammar). */
TLM_API bool tlm_sampler_grammar_can_end(const tlm_sampler *s);
/* The mask alone: allowed[n_vocab] gets 1 for each id the grammar allows next, else 0;
 * returns how many (-1 without a grammar). What tlm_sampler_sample computes first; for
 * measuring its cost. */
TLM_API int32_t tlm_sampler_grammar_mask(tlm_sampler *s, uint8_t *allowed);

/* ---- stop strings --------------------------------------------------------------------- */

/* Finds stop strings in generated text across token boundaries: text that could still be the
 * start of a stop string is held back until it is decided. */
typedef struct tlm_stop_matcher tlm_stop_matcher;

/* n strings (non-empty, each at most 1024 bytes, n at most 64; n 0 never stops); copied.
 * TLM_ERR_ARG else. */
TLM_API tlm_status tlm_stop_create(const char *const *strs, int32_t n, tlm_stop_matcher **out,
                                   tlm_error *err);
TLM_API void tlm_stop_free(tlm_stop_matcher *m);
TLM_API void tlm_stop_reset(tlm_stop_matcher *m);

/* Appends len bytes of output. *emit / *n_emit receive the text now safe to show (valid
 * until the next call on m). Returns true when a stop string completed: the emitted text
 * then ends just before its earliest occurrence and the rest is dropped; generation ends
 * (later feeds return true and emit nothing until tlm_stop_reset). docs/sampling.md. */
TLM_API bool tlm_stop_feed(tlm_stop_matcher *m, const char *text, size_t len, const char **emit,
                           size_t *n_emit);

/* At the end of a generation that did not stop on a string: the held-back text. */
TLM_API void tlm_stop_flush(tlm_stop_matcher *m, const char **emit, size_t *n_emit);

/* ---- kernels -------------------------------------------------------------------------- */

/* Streaming-read bandwidth of this machine in GB/s (1e9 bytes/s): the best of `reps` passes
 * (0: 5) over a 1 GiB buffer with the kernels' SIMD loads, on n_threads threads (0: all
 * cores). The yardstick for decode speed, which is bounded by reading every weight once.
 * Allocates and frees 1 GiB; returns 0 if it cannot. */
TLM_API double tlm_measure_read_bandwidth(int32_t n_threads, int32_t reps);

/* Name of the instruction set the kernels run on ("avx512", "avx2" or "ref"); chosen once
 * from CPUID and xgetbv, forced with the environment variable TLM_ISA=ref|avx2|avx512. */
TLM_API const char *tlm_kernels_isa(void);

#ifdef __cplusplus
}
#endif

#endif /* TINYLM_H */
