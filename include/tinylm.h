/* tinylm.h - libtinylm 0.1: a small CPU inference engine for tiny language models.
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
 *     model.safetensors.index.json). Weights are memory-mapped and used as stored
 *     (F32, F16, BF16); nothing is copied unless a layout must be changed.
 *
 * THREAD SAFETY
 *     A tlm_model is read-only after loading: share it between threads. A tlm_context (KV
 *     cache and scratch) and a tlm_sampler are used by one thread at a time. The library
 *     keeps no global state except the kernel table, filled once from CPUID.
 *
 * ERRORS
 *     Every call that can fail returns a tlm_status (TLM_OK is 0). Calls taking a
 *     tlm_error *err fill it with a message when it is not NULL; calls on a context also
 *     keep the last message, read with tlm_context_error(). The library never exits,
 *     aborts or prints on its own.
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
#define TLM_VERSION_MINOR 1
#define TLM_VERSION_PATCH 0
#define TLM_VERSION_NUMBER (TLM_VERSION_MAJOR * 10000 + TLM_VERSION_MINOR * 100 + TLM_VERSION_PATCH)

/* The linked library's TLM_VERSION_NUMBER: compare with the header's to catch a mismatch. */
TLM_API unsigned tlm_version_number(void);

/* ---- status and errors ---------------------------------------------------------------- */

typedef enum tlm_status { /* values never change; append only */
    TLM_OK = 0,
    TLM_ERR_IO = 1,          /* a file could not be opened, read or mapped */
    TLM_ERR_FORMAT = 2,      /* a file or string is malformed or lies about its sizes */
    TLM_ERR_UNSUPPORTED = 3, /* well-formed, but a feature or type libtinylm does not run */
    TLM_ERR_NO_MEMORY = 4,
    TLM_ERR_ARG = 5,          /* a bad argument: NULL handle, out-of-range value or id */
    TLM_ERR_CONTEXT_FULL = 6, /* the tokens do not fit in the context's remaining positions */
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
    TLM_TYPE_Q8_0 = 8,
    TLM_TYPE_Q4_K = 12,
    TLM_TYPE_Q5_K = 13,
    TLM_TYPE_Q6_K = 14,
    TLM_TYPE_BF16 = 30,
} tlm_type;

/* ---- models --------------------------------------------------------------------------- */

typedef struct tlm_model tlm_model; /* read-only after load: share across threads */

typedef struct tlm_model_params {
    int32_t n_threads; /* threads used while loading (random weights); 0: all cores */
} tlm_model_params;

TLM_API tlm_model_params tlm_model_default_params(void);

/* Opens a GGUF file, a llama2.c .bin checkpoint or a Hugging Face directory (see MODEL
 * FILES). On success *out owns the model; free it with tlm_model_free. On failure *out is
 * NULL and err (if not NULL) says what is wrong, naming the file and field. */
TLM_API tlm_status tlm_model_load(const char *path, const tlm_model_params *params,
                                  tlm_model **out, tlm_error *err);

/* Names of the built-in presets, NULL-terminated: the seven seed models' real configs. */
TLM_API const char *const *tlm_preset_names(void);

typedef struct tlm_preset_params {
    tlm_type weight_type; /* F32, F16 or BF16; default F16 */
    uint64_t seed;        /* random weights are a pure function of (preset, seed, type) */
    int32_t n_threads;    /* 0: all cores */
} tlm_preset_params;

TLM_API tlm_preset_params tlm_preset_default_params(void);

/* Builds preset `name` (see tlm_preset_names) with seeded random weights, so an architecture
 * can be run and timed without a download. */
TLM_API tlm_status tlm_model_load_preset(const char *name, const tlm_preset_params *params,
                                         tlm_model **out, tlm_error *err);

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
    uint64_t weight_bytes;        /* bytes of weights as used by the kernels */
    uint64_t kv_bytes_per_token;  /* KV cache bytes per position at F32 */
    int32_t bos_id, eos_id;       /* -1 when unknown */
} tlm_model_info;

TLM_API const tlm_model_info *tlm_model_get_info(const tlm_model *model);

/* ---- contexts ------------------------------------------------------------------------- */

typedef struct tlm_context tlm_context; /* one thread at a time */

typedef struct tlm_context_params {
    int32_t n_ctx;     /* positions the KV cache holds; 0: the model's training context */
    int32_t n_batch;   /* tokens evaluated per internal step (prefill chunk); default 256 */
    int32_t n_threads; /* 0: all cores */
} tlm_context_params;

TLM_API tlm_context_params tlm_context_default_params(void);

/* Allocates the KV cache and all scratch once; evaluation never allocates afterwards. */
TLM_API tlm_status tlm_context_create(const tlm_model *model, const tlm_context_params *params,
                                      tlm_context **out, tlm_error *err);

TLM_API void tlm_context_free(tlm_context *ctx); /* NULL is a no-op */

/* Evaluates n_tokens ids at the next positions (appending to the cache). If all_logits is
 * not NULL it receives n_tokens * n_vocab floats, row-major [token][vocab]; the last token's
 * logits are always available from tlm_context_logits afterwards.
 * Errors: TLM_ERR_ARG for an id outside [0, n_vocab) or n_tokens < 1 (nothing is evaluated);
 * TLM_ERR_CONTEXT_FULL when n_past + n_tokens > n_ctx (nothing is evaluated). */
TLM_API tlm_status tlm_context_eval(tlm_context *ctx, const int32_t *tokens, int32_t n_tokens,
                                    float *all_logits);

/* Logits of the last evaluated token ([n_vocab]); NULL before the first eval. Valid until the
 * next call on ctx. */
TLM_API const float *tlm_context_logits(const tlm_context *ctx);

TLM_API int32_t tlm_context_n_past(const tlm_context *ctx); /* positions filled */
TLM_API int32_t tlm_context_n_ctx(const tlm_context *ctx);
TLM_API void tlm_context_reset(tlm_context *ctx);      /* forget all positions */
TLM_API const char *tlm_context_error(const tlm_context *ctx); /* last failure, "" if none */

/* ---- tokenizer ------------------------------------------------------------------------ */

typedef struct tlm_tokenizer tlm_tokenizer;

/* The tokenizer stored in a model file (GGUF vocabulary). TLM_ERR_UNSUPPORTED if none. */
TLM_API tlm_status tlm_tokenizer_from_model(const tlm_model *model, tlm_tokenizer **out,
                                            tlm_error *err);

/* A llama2.c tokenizer.bin with n_vocab entries (the count comes from the model). */
TLM_API tlm_status tlm_tokenizer_load_llama2c(const char *path, int32_t n_vocab,
                                              tlm_tokenizer **out, tlm_error *err);

TLM_API void tlm_tokenizer_free(tlm_tokenizer *tok); /* NULL is a no-op */

/* Encodes UTF-8 text into at most cap ids; *n_out gets the count. TLM_ERR_ARG if cap is too
 * small (then *n_out is the count needed). */
TLM_API tlm_status tlm_tokenize(const tlm_tokenizer *tok, const char *text, bool add_bos,
                                int32_t *ids, int32_t cap, int32_t *n_out);

/* The bytes a token stands for when it follows token `prev` (-1 at the start), without a
 * terminator; *len gets their count. Returns NULL for an id out of range. The pointer stays
 * valid until the next call with the same tokenizer from the same thread. */
TLM_API const char *tlm_token_piece(const tlm_tokenizer *tok, int32_t prev, int32_t id,
                                    size_t *len);

TLM_API int32_t tlm_tokenizer_bos(const tlm_tokenizer *tok); /* -1 if none */
TLM_API int32_t tlm_tokenizer_eos(const tlm_tokenizer *tok); /* -1 if none */

/* ---- sampling ------------------------------------------------------------------------- */

typedef struct tlm_sampler tlm_sampler;

typedef struct tlm_sampler_params {
    float temperature; /* 0: greedy (argmax) */
    int32_t top_k;     /* 0: off */
    float top_p;       /* 1: off; in (0, 1] */
    uint64_t seed;
} tlm_sampler_params;

TLM_API tlm_sampler_params tlm_sampler_default_params(void);

/* TLM_ERR_ARG for temperature < 0, top_k < 0, top_p outside (0, 1] or n_vocab < 1. */
TLM_API tlm_status tlm_sampler_create(const tlm_sampler_params *params, int32_t n_vocab,
                                      tlm_sampler **out, tlm_error *err);
TLM_API void tlm_sampler_free(tlm_sampler *s);

/* Picks the next id from logits [n_vocab] (not modified). */
TLM_API int32_t tlm_sampler_sample(tlm_sampler *s, const float *logits);

/* ---- kernels -------------------------------------------------------------------------- */

/* Name of the instruction set the kernels run on ("avx512", "avx2" or "ref"); chosen once
 * from CPUID and xgetbv, forced with the environment variable TLM_ISA=ref|avx2|avx512. */
TLM_API const char *tlm_kernels_isa(void);

#ifdef __cplusplus
}
#endif

#endif /* TINYLM_H */
