/* common.h - what the command-line tools share: argument parsing and opening a model from
 * -m PATH or --preset NAME --random-weights. Tools use only the public API. */
#ifndef TLM_TOOLS_COMMON_H
#define TLM_TOOLS_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "tinylm.h"

/* How to get a model: a path, or a preset with random weights. */
typedef struct model_source {
    const char *path;
    const char *preset;
    bool random_weights;
    uint64_t seed;
    tlm_type type; /* preset weight type */
} model_source;

/* Parses a whole decimal integer in [lo, hi]; false (and a message on stderr) otherwise. */
bool parse_int(const char *flag, const char *s, long long lo, long long hi, long long *out);
bool parse_float(const char *flag, const char *s, double lo, double hi, double *out);

/* Parses "1,2,3" into a malloc'd array; NULL (with a message) on a bad list. */
int32_t *parse_ids(const char *s, int32_t *n_out);

/* Handles -m, --preset, --random-weights, --seed-weights, --type; returns how many argv
 * entries it consumed at argv[i] (0: not a model flag, -1: a bad value). */
int model_source_arg(model_source *src, int argc, char **argv, int i);

/* Opens the model; prints the library's message and returns NULL on failure. */
tlm_model *model_source_open(const model_source *src, int n_threads);

/* The tokenizer for model: from tok_path when given (-z: a llama2.c tokenizer.bin, or any
 * file tlm_tokenizer_load reads), else the model file's own, else the model's directory's
 * files. NULL when there is none; with `required`, after printing why. */
tlm_tokenizer *tokenizer_open(const char *tok_path, const model_source *src, const tlm_model *model,
                              bool required);

/* "f32" or "f16" into *out (a KV cache type); false with a message otherwise. */
bool parse_kv_type(const char *s, tlm_type *out);

/* Handles the context flags every tool shares: --kv-type, --rope-factors, --ntk-alpha,
 * --no-logn, --full-cache, --mem-budget, --blas (CONTEXT_USAGE); returns entries consumed as
 * model_source_arg does. */
int context_arg(tlm_context_params *cp, int argc, char **argv, int i);

#define CONTEXT_USAGE                                                                              \
    "  --kv-type T        KV cache elements: f16 (default), f32 or q8_0\n"                         \
    "  --rope-factors F   LongRoPE factor set: auto (long iff the context exceeds the\n"           \
    "                     original one), short or long\n"                                          \
    "  --ntk-alpha A      Qwen v1 dynamic NTK: 0 = dynamic (default), 1 = off, >1 = fixed\n"       \
    "  --no-logn          Qwen v1: no logn attention scaling\n"                                    \
    "  --full-cache       sliding-window models: keep every position's K/V\n"                      \
    "  --mem-budget B     bytes the context may take (default: MemAvailable; 0: no check)\n"       \
    "  --blas             prefill float weights with OpenBLAS's sgemm (comparison path)\n"

/* Peak resident memory of this process in bytes. */
uint64_t peak_rss_bytes(void);

double now_seconds(void);

#endif
