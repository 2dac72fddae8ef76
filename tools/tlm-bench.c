/* tlm-bench - what each model costs on this machine: parameters, memory, prefill and decode
 * speed, and decode's effective bandwidth against a streaming read measured in the same run.
 * Medians of several runs; a markdown table on stdout. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct options {
    model_source src;
    const char *presets; /* comma list; NULL: all */
    long long n_prompt, n_gen, reps, n_threads;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-bench [--presets a,b,...] [--type f32|f16|bf16] [-m MODEL]\n"
            "                 [-p N_PROMPT] [-n N_GEN] [-r REPS] [-t THREADS]\n"
            "  default: every built-in preset with random F16 weights, -p 64 -n 16 -r 3\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Streaming read bandwidth (GB/s) over a buffer far larger than the caches. */
static double read_bandwidth(int n_threads)
{
    size_t n = (size_t)1 << 27; /* 1 GiB of uint64 */
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf) return 0;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t i = 0; i < n; i++) buf[i] = i;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t total = 0;
        double t0 = now_seconds();
#pragma omp parallel for schedule(static) reduction(+ : total) num_threads(n_threads)
        for (size_t i = 0; i < n; i += 8) {
            total += buf[i] + buf[i + 1] + buf[i + 2] + buf[i + 3] + buf[i + 4] + buf[i + 5] +
                     buf[i + 6] + buf[i + 7];
        }
        double gbs = (double)(n * sizeof *buf) / (now_seconds() - t0) / 1e9;
        if (total == 1) gbs = 0; /* keeps the sum alive */
        if (gbs > best) best = gbs;
    }
    free(buf);
    return best;
}

typedef struct result {
    double prefill_tps, decode_tps;
} result;

static bool bench_model(tlm_model *m, const options *o, result *r)
{
    const tlm_model_info *in = tlm_model_get_info(m);
    int32_t n_ctx = (int32_t)(o->n_prompt + o->n_gen);
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = (int32_t)o->n_prompt;
    cp.n_threads = (int32_t)o->n_threads;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return false;
    }
    int32_t *ids = malloc((size_t)n_ctx * sizeof *ids);
    double *pre = malloc((size_t)o->reps * sizeof *pre), *dec = malloc((size_t)o->reps * sizeof *dec);
    bool ok = ids && pre && dec;
    for (int32_t i = 0; ok && i < n_ctx; i++) ids[i] = (int32_t)((i * 7919 + 1) % in->n_vocab);
    for (int rep = 0; ok && rep < o->reps; rep++) {
        tlm_context_reset(ctx);
        double t0 = now_seconds();
        ok = tlm_context_eval(ctx, ids, (int32_t)o->n_prompt, NULL) == TLM_OK;
        double t1 = now_seconds();
        for (int32_t i = 0; ok && i < o->n_gen; i++)
            ok = tlm_context_eval(ctx, &ids[o->n_prompt + i], 1, NULL) == TLM_OK;
        double t2 = now_seconds();
        pre[rep] = (double)o->n_prompt / (t1 - t0);
        dec[rep] = (double)o->n_gen / (t2 - t1);
    }
    if (ok) {
        r->prefill_tps = median(pre, (int)o->reps);
        r->decode_tps = median(dec, (int)o->reps);
    } else {
        fprintf(stderr, "error: %s\n", tlm_context_error(ctx));
    }
    free(ids);
    free(pre);
    free(dec);
    tlm_context_free(ctx);
    return ok;
}

/* True when `name` is one of the comma-separated entries of `list`. */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0) return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static void print_row(const char *name, const tlm_model *m, const result *r, double bw)
{
    const tlm_model_info *in = tlm_model_get_info(m);
    double gb = (double)in->weight_bytes / 1e9;
    double eff = gb * r->decode_tps;
    printf("| %-16s | %7.3f B | %7.2f GB | %6.1f KiB | %9.1f | %8.2f | %6.1f GB/s (%3.0f%%) |\n",
           name, (double)in->n_params / 1e9, gb, (double)in->kv_bytes_per_token / 1024.0,
           r->prefill_tps, r->decode_tps, eff, bw > 0 ? 100.0 * eff / bw : 0.0);
    fflush(stdout);
}

static bool parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        int used = model_source_arg(&o->src, argc, argv, i);
        if (used < 0) return false;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (ok && !strcmp(a, "--presets")) o->presets = v;
        else if (ok && !strcmp(a, "-p")) ok = parse_int(a, v, 1, 1 << 16, &o->n_prompt);
        else if (ok && !strcmp(a, "-n")) ok = parse_int(a, v, 1, 1 << 16, &o->n_gen);
        else if (ok && !strcmp(a, "-r")) ok = parse_int(a, v, 1, 1000, &o->reps);
        else if (ok && !strcmp(a, "-t")) ok = parse_int(a, v, 0, 1024, &o->n_threads);
        else ok = false;
        if (!ok) return false;
        i++;
    }
    return true;
}

int main(int argc, char **argv)
{
    options o = {.src = {.seed = 1, .type = TLM_TYPE_F16, .random_weights = true}, .n_prompt = 64,
                 .n_gen = 16, .reps = 3};
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    int threads = (int)o.n_threads;
    double bw = read_bandwidth(threads > 0 ? threads : omp_get_num_procs());
    const char *type = o.src.type == TLM_TYPE_F32 ? "F32" : o.src.type == TLM_TYPE_BF16 ? "BF16" : "F16";
    printf("kernels %s, streaming read %.1f GB/s, prompt %lld tokens, %lld generated, median of "
           "%lld\n\n", tlm_kernels_isa(), bw, o.n_prompt, o.n_gen, o.reps);
    printf("| model (%-5s)    |  params   |  weights   | KV/token   | prefill t/s | decode t/s | "
           "decode bandwidth     |\n", o.src.path ? "file" : type);
    printf("|------------------|-----------|------------|------------|-------------|------------|"
           "----------------------|\n");

    int rc = 0;
    const char *const *names = tlm_preset_names();
    for (int i = 0; o.src.path ? i < 1 : names[i] != NULL; i++) {
        model_source src = o.src;
        if (!src.path) {
            if (o.presets && !in_list(o.presets, names[i])) continue;
            src.preset = names[i];
        }
        tlm_model *m = model_source_open(&src, threads);
        result r;
        if (!m || !bench_model(m, &o, &r)) rc = 1;
        else print_row(src.path ? src.path : names[i], m, &r, bw);
        tlm_model_free(m);
    }
    return rc;
}
