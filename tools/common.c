#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

bool parse_int(const char *flag, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "error: %s expects an integer in [%lld, %lld], got '%s'\n", flag, lo, hi,
                s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

bool parse_float(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "error: %s expects a number in [%g, %g], got '%s'\n", flag, lo, hi,
                s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

int32_t *parse_ids(const char *s, int32_t *n_out)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return NULL;
    int32_t n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            fprintf(stderr, "error: --tokens expects ids like 1,15043,3186; bad at '%s'\n", p);
            free(ids);
            return NULL;
        }
        ids[n++] = (int32_t)v;
        if (!*end) break;
        p = end + 1;
    }
    *n_out = n;
    return ids;
}

int model_source_arg(model_source *src, int argc, char **argv, int i)
{
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--random-weights") == 0) {
        src->random_weights = true;
        return 1;
    }
    bool is_value_flag = !strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--preset") ||
                         !strcmp(a, "--seed-weights") || !strcmp(a, "--type");
    if (!is_value_flag) return 0;
    if (!v) {
        fprintf(stderr, "error: %s needs a value\n", a);
        return -1;
    }
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        src->path = v;
    else if (!strcmp(a, "--preset"))
        src->preset = v;
    else if (!strcmp(a, "--seed-weights")) {
        long long s;
        if (!parse_int(a, v, 0, INT64_MAX, &s)) return -1;
        src->seed = (uint64_t)s;
    } else {
        if (!strcmp(v, "f32"))
            src->type = TLM_TYPE_F32;
        else if (!strcmp(v, "f16"))
            src->type = TLM_TYPE_F16;
        else if (!strcmp(v, "bf16"))
            src->type = TLM_TYPE_BF16;
        else {
            fprintf(stderr, "error: --type expects f32, f16 or bf16, got '%s'\n", v);
            return -1;
        }
    }
    return 2;
}

tlm_model *model_source_open(const model_source *src, int n_threads)
{
    tlm_model *model = NULL;
    tlm_error err = {0};
    tlm_status st;
    if (src->preset) {
        if (!src->random_weights) {
            fprintf(stderr, "error: --preset needs --random-weights (presets have no trained "
                            "weights)\n");
            return NULL;
        }
        tlm_preset_params pp = tlm_preset_default_params();
        pp.seed = src->seed;
        pp.weight_type = src->type;
        pp.n_threads = n_threads;
        st = tlm_model_load_preset(src->preset, &pp, &model, &err);
    } else if (src->path) {
        tlm_model_params mp = tlm_model_default_params();
        mp.n_threads = n_threads;
        st = tlm_model_load(src->path, &mp, &model, &err);
    } else {
        fprintf(stderr, "error: give a model with -m PATH or --preset NAME --random-weights\n");
        return NULL;
    }
    if (st != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return NULL;
    }
    return model;
}

tlm_tokenizer *tokenizer_open(const char *tok_path, const model_source *src, const tlm_model *model,
                              bool required)
{
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    if (tok_path) {
        size_t n = strlen(tok_path);
        int32_t n_vocab = tlm_model_get_info(model)->n_vocab;
        tlm_status st = n > 4 && !strcmp(tok_path + n - 4, ".bin")
                            ? tlm_tokenizer_load_llama2c(tok_path, n_vocab, &tok, &err)
                            : tlm_tokenizer_load(tok_path, &tok, &err);
        if (st != TLM_OK) fprintf(stderr, "error: %s\n", err.message);
        return st == TLM_OK ? tok : NULL;
    }
    if (tlm_tokenizer_from_model(model, &tok, &err) == TLM_OK) return tok;
    if (src->path && tlm_tokenizer_load(src->path, &tok, &err) == TLM_OK) return tok;
    if (required) fprintf(stderr, "error: the model carries no tokenizer; give one with -z\n");
    return NULL;
}

bool parse_kv_type(const char *s, tlm_type *out)
{
    if (s && !strcmp(s, "f32"))
        *out = TLM_TYPE_F32;
    else if (s && !strcmp(s, "f16"))
        *out = TLM_TYPE_F16;
    else if (s && !strcmp(s, "q8_0"))
        *out = TLM_TYPE_Q8_0;
    else {
        fprintf(stderr, "error: --kv-type expects f32, f16 or q8_0, got '%s'\n", s ? s : "");
        return false;
    }
    return true;
}

uint64_t peak_rss_bytes(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024 : 0;
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int context_arg(tlm_context_params *cp, int argc, char **argv, int i)
{
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-logn")) {
        cp->no_logn = true;
        return 1;
    }
    if (!strcmp(a, "--full-cache")) {
        cp->full_cache = true;
        return 1;
    }
    if (!strcmp(a, "--blas")) {
        cp->blas = true;
        return 1;
    }
    bool is_value_flag = !strcmp(a, "--kv-type") || !strcmp(a, "--rope-factors") ||
                         !strcmp(a, "--ntk-alpha") || !strcmp(a, "--mem-budget");
    if (!is_value_flag) return 0;
    if (!v) {
        fprintf(stderr, "error: %s needs a value\n", a);
        return -1;
    }
    double d;
    long long n;
    if (!strcmp(a, "--kv-type")) return parse_kv_type(v, &cp->kv_type) ? 2 : -1;
    if (!strcmp(a, "--rope-factors")) {
        if (!strcmp(v, "auto"))
            cp->rope_factors = TLM_ROPE_FACTORS_AUTO;
        else if (!strcmp(v, "short"))
            cp->rope_factors = TLM_ROPE_FACTORS_SHORT;
        else if (!strcmp(v, "long"))
            cp->rope_factors = TLM_ROPE_FACTORS_LONG;
        else {
            fprintf(stderr, "error: --rope-factors expects auto, short or long, got '%s'\n", v);
            return -1;
        }
        return 2;
    }
    if (!strcmp(a, "--ntk-alpha")) {
        if (!parse_float(a, v, 0, 1e6, &d)) return -1;
        if (d != 0 && d < 1) {
            fprintf(stderr, "error: --ntk-alpha must be 0 (dynamic) or at least 1\n");
            return -1;
        }
        cp->ntk_alpha = (float)d;
        return 2;
    }
    if (!parse_int(a, v, 0, INT64_MAX, &n)) return -1;
    cp->mem_budget = n == 0 ? TLM_MEM_UNCHECKED : (uint64_t)n;
    return 2;
}
