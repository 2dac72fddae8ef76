/* tlm-bench - what each model costs on this machine, llama-bench style: parameters, weight
 * bytes, KV cache per token and at the full context, prefill and decode speed, and decode's
 * effective bandwidth as a share of a streaming read measured in the same run. Medians of
 * several runs. Markdown on stdout, a progress line per model on stderr; CSV, JSON and an SVG
 * chart on request.
 *
 * The default is a quick table (-p 64 -n 16 -r 2, every preset: a few minutes on 2 cores, most
 * of it making the random weights); --full gives the figures of docs/benchmarks.md
 * (-p 512 -n 64 -r 3, about 11 minutes on 2 cores). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

typedef struct options {
    const char *presets, *types, *csv, *json, *svg;
    const char *models[16];
    int n_models;
    long long n_prompt, n_gen, reps, n_threads; /* 0: the default of the mode */
    long long parallel; /* --parallel N: also decode N sequences in one batch (0: no) */
    tlm_type kv_type;
    bool blas, full;
} options;

/* prefill tokens, decode tokens, repetitions: the quick default and --full */
static const long long quick_run[3] = {64, 16, 2}, full_run[3] = {512, 64, 3};

typedef struct row {
    char name[96], type[16];
    tlm_model_info info;
    double prefill_tps, decode_tps, gbs, pct;
    double par_tps; /* --parallel: aggregate decode tokens/s of the N sequences */
} row;

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-bench [--presets a,b,...] [--types f16,q8_0,...] [-m MODEL]...\n"
            "                 [-p N_PROMPT] [-n N_GEN] [-r REPS] [-t THREADS] [--kv-type "
            "f16|f32|q8_0]\n"
            "                 [--csv FILE] [--json FILE] [--svg FILE] [--blas] [--full]\n"
            "                 [--parallel N]\n"
            "  default: every preset with random weights at F16, a quick table: -p 64 -n 16 -r 2\n"
            "  --full: the full measurement, -p 512 -n 64 -r 3 (-p, -n, -r still override)\n"
            "  --types: weight types for presets: f32 f16 bf16 (made directly), q8_0 q4_0 q4_1\n"
            "           q5_0 q5_1 q3_k q4_k q5_k q6_k iq4_nl iq4_xs and llama-quantize's mixes\n"
            "           q2_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m (made from F16\n"
            "           through a temporary GGUF file, as tlm-quantize makes them)\n"
            "  -m: a GGUF file, llama2.c .bin or Hugging Face directory, benchmarked as stored\n"
            "  --blas: prefill F32/F16/BF16 weights with OpenBLAS's sgemm (for comparison)\n"
            "  --parallel N: also N sequences decoded together, one batch of N tokens a step\n"
            "           (tlm_context_eval_batch): aggregate and per-sequence decode tokens/s\n");
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

/* mix: llama-quantize's file types, each matrix at the type its rules give (tinylm.h) */
static const struct {
    const char *name;
    tlm_type type;
    bool direct;
    tlm_quant_mix mix;
} weight_types[] = {
    {"f32", TLM_TYPE_F32, true, TLM_MIX_NONE},
    {"f16", TLM_TYPE_F16, true, TLM_MIX_NONE},
    {"bf16", TLM_TYPE_BF16, true, TLM_MIX_NONE},
    {"q8_0", TLM_TYPE_Q8_0, false, TLM_MIX_NONE},
    {"q4_0", TLM_TYPE_Q4_0, false, TLM_MIX_NONE},
    {"q4_1", TLM_TYPE_Q4_1, false, TLM_MIX_NONE},
    {"q5_0", TLM_TYPE_Q5_0, false, TLM_MIX_NONE},
    {"q5_1", TLM_TYPE_Q5_1, false, TLM_MIX_NONE},
    {"q3_k", TLM_TYPE_Q3_K, false, TLM_MIX_NONE},
    {"q4_k", TLM_TYPE_Q4_K, false, TLM_MIX_NONE},
    {"q5_k", TLM_TYPE_Q5_K, false, TLM_MIX_NONE},
    {"q6_k", TLM_TYPE_Q6_K, false, TLM_MIX_NONE},
    {"iq4_nl", TLM_TYPE_IQ4_NL, false, TLM_MIX_IQ4_NL},
    {"iq4_xs", TLM_TYPE_IQ4_XS, false, TLM_MIX_IQ4_XS},
    {"q2_k", TLM_TYPE_Q2_K, false, TLM_MIX_Q2_K},
    {"q3_k_s", TLM_TYPE_Q3_K, false, TLM_MIX_Q3_K_S},
    {"q3_k_m", TLM_TYPE_Q3_K, false, TLM_MIX_Q3_K_M},
    {"q3_k_l", TLM_TYPE_Q3_K, false, TLM_MIX_Q3_K_L},
    {"q4_k_s", TLM_TYPE_Q4_K, false, TLM_MIX_Q4_K_S},
    {"q4_k_m", TLM_TYPE_Q4_K, false, TLM_MIX_Q4_K_M},
    {"q5_k_s", TLM_TYPE_Q5_K, false, TLM_MIX_Q5_K_S},
    {"q5_k_m", TLM_TYPE_Q5_K, false, TLM_MIX_Q5_K_M},
};
#define N_TYPES (sizeof weight_types / sizeof weight_types[0])

/* Preset `name` at weight type `t`: made directly, or quantized from F16 via a temp file. */
static tlm_model *make_preset(const char *name, size_t t, int n_threads)
{
    model_source src = {.preset = name,
                        .random_weights = true,
                        .seed = 1,
                        .type = weight_types[t].direct ? weight_types[t].type : TLM_TYPE_F16};
    tlm_model *m = model_source_open(&src, n_threads);
    if (!m || weight_types[t].direct) return m;
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/tlm-bench-%d-%s.gguf", tmp ? tmp : "/tmp", (int)getpid(), name);
    tlm_save_params sp = tlm_save_default_params();
    sp.type = weight_types[t].type;
    sp.mix = weight_types[t].mix;
    sp.n_threads = n_threads;
    tlm_error err = {0};
    tlm_status st = tlm_model_save_gguf(m, path, &sp, &err);
    tlm_model_free(m);
    m = NULL;
    if (st == TLM_OK) st = tlm_model_load(path, NULL, &m, &err);
    unlink(path); /* the mapping keeps the data until the model is freed */
    if (st != TLM_OK) fprintf(stderr, "error: %s\n", err.message);
    return m;
}

/* --parallel N: N sequences, each prompt prefilled (untimed), then n_gen steps that each
 * decode one token of every sequence in one batch (all N rows of logits asked for, as a
 * server would). Returns the median aggregate tokens/s, 0 on failure. */
static double bench_parallel(tlm_model *m, const options *o)
{
    int32_t N = (int32_t)o->parallel, vocab = tlm_model_get_info(m)->n_vocab;
    int32_t n_prompt = (int32_t)o->n_prompt;
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = (int32_t)(o->n_prompt + o->n_gen);
    cp.n_batch = n_prompt > N ? n_prompt : N;
    cp.n_threads = (int32_t)o->n_threads;
    cp.kv_type = o->kv_type;
    cp.n_seq_max = N;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK) {
        fprintf(stderr, "error: --parallel %d: %s\n", N, err.message);
        return 0.0;
    }
    int32_t *ids = malloc((size_t)cp.n_batch * sizeof *ids),
            *seq = malloc((size_t)cp.n_batch * sizeof *seq);
    bool *want = malloc((size_t)N * sizeof *want);
    float *out = malloc((size_t)N * (size_t)vocab * sizeof *out);
    double *agg = malloc((size_t)o->reps * sizeof *agg);
    bool ok = ids && seq && want && out && agg;
    for (int32_t i = 0; ok && i < N; i++)
        want[i] = true;
    for (int rep = 0; ok && rep < o->reps; rep++) {
        tlm_context_reset(ctx);
        for (int32_t s = 0; ok && s < N; s++) { /* prompts: one batch per sequence */
            for (int32_t i = 0; i < n_prompt; i++) {
                ids[i] = (int32_t)(((int64_t)i * 7919 + 1 + s * 131) % vocab);
                seq[i] = s;
            }
            tlm_batch b = {.n_tokens = n_prompt, .token = ids, .seq_id = seq};
            ok = tlm_context_eval_batch(ctx, &b) == TLM_OK;
        }
        double t0 = now_seconds();
        for (int32_t g = 0; ok && g < o->n_gen; g++) {
            for (int32_t s = 0; s < N; s++) {
                ids[s] = (int32_t)(((int64_t)(n_prompt + g) * 7919 + 1 + s * 131) % vocab);
                seq[s] = s;
            }
            tlm_batch b = {
                .n_tokens = N, .token = ids, .seq_id = seq, .logits = want, .out_logits = out};
            ok = tlm_context_eval_batch(ctx, &b) == TLM_OK;
        }
        agg[rep] = (double)N * (double)o->n_gen / (now_seconds() - t0);
    }
    if (!ok) fprintf(stderr, "error: --parallel %d: %s\n", N, tlm_context_error(ctx));
    double r = ok ? median(agg, (int)o->reps) : 0.0;
    free(ids);
    free(seq);
    free(want);
    free(out);
    free(agg);
    tlm_context_free(ctx);
    return r;
}

static bool bench_model(tlm_model *m, const options *o, row *r)
{
    const tlm_model_info *in = tlm_model_get_info(m);
    int32_t n_ctx = (int32_t)(o->n_prompt + o->n_gen);
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = (int32_t)o->n_prompt;
    cp.n_threads = (int32_t)o->n_threads;
    cp.kv_type = o->kv_type;
    cp.blas = o->blas;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return false;
    }
    int32_t *ids = malloc((size_t)n_ctx * sizeof *ids);
    double *pre = malloc((size_t)o->reps * sizeof *pre),
           *dec = malloc((size_t)o->reps * sizeof *dec);
    bool ok = ids && pre && dec;
    for (int32_t i = 0; ok && i < n_ctx; i++)
        ids[i] = (int32_t)((i * 7919 + 1) % in->n_vocab);
    /* one untimed pass faults the weights in, so the first timed run is not a page-in test */
    if (ok) ok = tlm_context_eval(ctx, ids, (int32_t)o->n_prompt, NULL) == TLM_OK;
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
        r->info = *in;
        r->prefill_tps = median(pre, (int)o->reps);
        r->decode_tps = median(dec, (int)o->reps);
        if (o->parallel) ok = (r->par_tps = bench_parallel(m, o)) > 0.0;
    } else {
        fprintf(stderr, "error: %s\n", tlm_context_error(ctx));
    }
    free(ids);
    free(pre);
    free(dec);
    tlm_context_free(ctx);
    return ok;
}

static void print_header(const options *o)
{
    printf("| model            | type | params  | weights  | KV/token | KV @ctx   | pp%-5lld t/s "
           "| tg%-4lld t/s | decode GB/s (%% of read) |\n",
           o->n_prompt, o->n_gen);
    printf("|------------------|------|---------|----------|----------|-----------|-------------"
           "|------------|-------------------------|\n");
}

static void print_row(const row *r)
{
    const tlm_model_info *in = &r->info;
    double kv_ctx = (double)in->kv_bytes_per_token * in->n_ctx_train;
    printf("| %-16s | %-4s | %5.2f B | %5.2f GB | %5.1f KiB | %6.0f MiB | %11.1f | %10.2f | "
           "%6.1f GB/s (%3.0f%%)      |\n",
           r->name, r->type, (double)in->n_params / 1e9, (double)in->weight_bytes / 1e9,
           (double)in->kv_bytes_per_token / 1024.0, kv_ctx / (1 << 20), r->prefill_tps,
           r->decode_tps, r->gbs, r->pct);
    fflush(stdout);
}

static void write_csv(const char *path, const row *rows, int n, double bw)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        fprintf(stderr, "error: cannot write %s\n", path);
        return;
    }
    fprintf(fp, "model,type,params,weight_bytes,kv_bytes_per_token,n_ctx_train,prefill_tps,"
                "decode_tps,decode_gbs,read_gbs,pct_of_read\n");
    for (int i = 0; i < n; i++)
        fprintf(fp, "%s,%s,%llu,%llu,%llu,%d,%.2f,%.3f,%.2f,%.2f,%.1f\n", rows[i].name,
                rows[i].type, (unsigned long long)rows[i].info.n_params,
                (unsigned long long)rows[i].info.weight_bytes,
                (unsigned long long)rows[i].info.kv_bytes_per_token, rows[i].info.n_ctx_train,
                rows[i].prefill_tps, rows[i].decode_tps, rows[i].gbs, bw, rows[i].pct);
    fclose(fp);
}

static void write_json(const char *path, const row *rows, int n, double bw, const options *o)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        fprintf(stderr, "error: cannot write %s\n", path);
        return;
    }
    fprintf(fp,
            "{\"kernels\": \"%s\", \"read_gbs\": %.2f, \"n_prompt\": %lld, \"n_gen\": %lld, "
            "\"reps\": %lld, \"results\": [",
            tlm_kernels_isa(), bw, o->n_prompt, o->n_gen, o->reps);
    for (int i = 0; i < n; i++)
        fprintf(fp,
                "%s\n  {\"model\": \"%s\", \"type\": \"%s\", \"params\": %llu, "
                "\"weight_bytes\": %llu, \"kv_bytes_per_token\": %llu, \"n_ctx_train\": %d, "
                "\"prefill_tps\": %.2f, \"decode_tps\": %.3f, \"decode_gbs\": %.2f, "
                "\"pct_of_read\": %.1f}",
                i ? "," : "", rows[i].name, rows[i].type, (unsigned long long)rows[i].info.n_params,
                (unsigned long long)rows[i].info.weight_bytes,
                (unsigned long long)rows[i].info.kv_bytes_per_token, rows[i].info.n_ctx_train,
                rows[i].prefill_tps, rows[i].decode_tps, rows[i].gbs, rows[i].pct);
    fprintf(fp, "\n]}\n");
    fclose(fp);
}

/* Decode tok/s against weight memory, one labelled point per row. */
static void write_svg(const char *path, const row *rows, int n, double bw)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        fprintf(stderr, "error: cannot write %s\n", path);
        return;
    }
    double max_gb = 0.5, max_tps = 1;
    for (int i = 0; i < n; i++) {
        double gb = (double)rows[i].info.weight_bytes / 1e9;
        if (gb > max_gb) max_gb = gb;
        if (rows[i].decode_tps > max_tps) max_tps = rows[i].decode_tps;
    }
    max_gb *= 1.1;
    max_tps *= 1.15;
    const int W = 720, H = 440, L = 60, B = 50, T = 30, R = 150;
    double pw = W - L - R, ph = H - T - B;
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" "
            "height=\"100%%\" fill=\"white\"/>\n",
            W, H);
    fprintf(fp,
            "<text x=\"%d\" y=\"18\" font-size=\"13\">decode tokens/s vs weight memory "
            "(kernels %s, read %.1f GB/s)</text>\n",
            L, tlm_kernels_isa(), bw);
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B,
            W - R, H - B);
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L,
            H - B);
    for (int k = 0; k <= 5; k++) {
        double gx = L + pw * k / 5, gy = H - B - ph * k / 5;
        fprintf(fp, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">%.1f</text>\n", gx,
                H - B + 15, max_gb * k / 5);
        fprintf(fp, "<text x=\"%d\" y=\"%.0f\" text-anchor=\"end\">%.0f</text>\n", L - 5, gy + 4,
                max_tps * k / 5);
    }
    fprintf(fp, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">weights (GB)</text>\n",
            L + pw / 2, H - 12);
    fprintf(fp,
            "<text x=\"14\" y=\"%.0f\" transform=\"rotate(-90 14 %.0f)\" "
            "text-anchor=\"middle\">decode tok/s</text>\n",
            T + ph / 2, T + ph / 2);
    /* the bandwidth roof: tok/s = read GB/s / weight GB */
    fprintf(fp, "<polyline fill=\"none\" stroke=\"#bbb\" stroke-dasharray=\"4\" points=\"");
    for (int k = 1; k <= 40; k++) {
        double gb = max_gb * k / 40, tps = bw / gb;
        if (tps <= max_tps)
            fprintf(fp, "%.1f,%.1f ", L + pw * gb / max_gb, H - B - ph * tps / max_tps);
    }
    fprintf(fp, "\"/>\n");
    for (int i = 0; i < n; i++) {
        double x = L + pw * ((double)rows[i].info.weight_bytes / 1e9) / max_gb;
        double y = H - B - ph * rows[i].decode_tps / max_tps;
        fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#2a6\"/>\n", x, y);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\">%s %s</text>\n", x + 6, y + 4, rows[i].name,
                rows[i].type);
    }
    fprintf(fp, "</svg>\n");
    fclose(fp);
}

static bool parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--blas")) {
            o->blas = true;
            continue;
        }
        if (!strcmp(a, "--full")) {
            o->full = true;
            continue;
        }
        bool ok = v != NULL;
        if (ok && !strcmp(a, "--presets"))
            o->presets = v;
        else if (ok && !strcmp(a, "--types"))
            o->types = v;
        else if (ok && !strcmp(a, "-m") && o->n_models < 16)
            o->models[o->n_models++] = v;
        else if (ok && !strcmp(a, "--csv"))
            o->csv = v;
        else if (ok && !strcmp(a, "--json"))
            o->json = v;
        else if (ok && !strcmp(a, "--svg"))
            o->svg = v;
        else if (ok && !strcmp(a, "--kv-type"))
            ok = parse_kv_type(v, &o->kv_type);
        else if (ok && !strcmp(a, "-p"))
            ok = parse_int(a, v, 1, 1 << 16, &o->n_prompt);
        else if (ok && !strcmp(a, "-n"))
            ok = parse_int(a, v, 1, 1 << 16, &o->n_gen);
        else if (ok && !strcmp(a, "-r"))
            ok = parse_int(a, v, 1, 1000, &o->reps);
        else if (ok && !strcmp(a, "-t"))
            ok = parse_int(a, v, 0, 1024, &o->n_threads);
        else if (ok && !strcmp(a, "--parallel"))
            ok = parse_int(a, v, 1, 256, &o->parallel);
        else
            ok = false;
        if (!ok) return false;
        i++;
    }
    for (const char *p = o->types; p && *p;) {
        size_t len = strcspn(p, ","), t = 0;
        while (t < N_TYPES &&
               (strlen(weight_types[t].name) != len || strncmp(p, weight_types[t].name, len) != 0))
            t++;
        if (t == N_TYPES) {
            fprintf(stderr, "error: unknown weight type in --types '%s'\n", o->types);
            return false;
        }
        p += len + (p[len] == ',');
    }
    const long long *d = o->full ? full_run : quick_run;
    if (!o->n_prompt) o->n_prompt = d[0];
    if (!o->n_gen) o->n_gen = d[1];
    if (!o->reps) o->reps = d[2];
    return true;
}

/* Times one model and appends its row; decode GB/s is weight bytes x tokens/s. */
static bool run_one(tlm_model *m, const char *name, const char *type, const options *o, double bw,
                    row **rows, int *n)
{
    row r = {0};
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.type, sizeof r.type, "%s", type);
    if (!m || !bench_model(m, o, &r)) return false;
    r.gbs = (double)r.info.weight_bytes / 1e9 * r.decode_tps;
    r.pct = bw > 0 ? 100.0 * r.gbs / bw : 0.0;
    print_row(&r);
    if (o->parallel)
        printf("|   --parallel %lld: decode %.2f t/s aggregate, %.2f t/s per sequence (%.2fx one "
               "sequence's %.2f t/s)\n",
               o->parallel, r.par_tps, r.par_tps / (double)o->parallel,
               r.decode_tps > 0 ? r.par_tps / r.decode_tps : 0.0, r.decode_tps);
    row *grown = realloc(*rows, (size_t)(*n + 1) * sizeof **rows);
    if (!grown) return false;
    *rows = grown;
    (*rows)[(*n)++] = r;
    return true;
}

/* One line per model on stderr before its work starts: which, how far, how long so far. */
static void progress(int i, int total, const char *name, const char *type, double start)
{
    fprintf(stderr, "tlm-bench: [%d/%d] %s %s (%.0f s so far)\n", i, total, name, type,
            now_seconds() - start);
}

int main(int argc, char **argv)
{
    options o = {.types = "f16", .kv_type = TLM_TYPE_F16};
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    int threads = o.n_threads > 0 ? (int)o.n_threads : omp_get_num_procs();
    double bw = tlm_measure_read_bandwidth(threads, 7);
    printf("kernels %s%s, %d threads, streaming read %.1f GB/s, prefill %lld tokens, decode %lld "
           "tokens, KV cache %s, median of %lld\n\n",
           tlm_kernels_isa(), o.blas ? " (float prefill: OpenBLAS)" : "", threads, bw, o.n_prompt,
           o.n_gen,
           o.kv_type == TLM_TYPE_F32   ? "F32"
           : o.kv_type == TLM_TYPE_F16 ? "F16"
                                       : "Q8_0",
           o.reps);
    print_header(&o);

    row *rows = NULL;
    int n = 0, rc = 0;
    const char *const *names = tlm_preset_names();
    bool use_presets = !o.n_models || o.presets;
    int total = o.n_models, done = 0;
    for (int i = 0; use_presets && names[i]; i++)
        for (size_t t = 0; t < N_TYPES; t++)
            total += (!o.presets || in_list(o.presets, names[i])) &&
                     in_list(o.types, weight_types[t].name);
    double start = now_seconds();
    for (int i = 0; i < o.n_models; i++) {
        progress(++done, total, o.models[i], "file", start);
        model_source src = {.path = o.models[i]};
        tlm_model *m = model_source_open(&src, threads);
        if (!run_one(m, o.models[i], "file", &o, bw, &rows, &n)) rc = 1;
        tlm_model_free(m);
    }
    for (int i = 0; use_presets && names[i] != NULL; i++) {
        if (o.presets && !in_list(o.presets, names[i])) continue;
        for (size_t t = 0; t < N_TYPES; t++) {
            if (!in_list(o.types, weight_types[t].name)) continue;
            progress(++done, total, names[i], weight_types[t].name, start);
            tlm_model *m = make_preset(names[i], t, threads);
            if (!run_one(m, names[i], weight_types[t].name, &o, bw, &rows, &n)) rc = 1;
            tlm_model_free(m);
        }
    }
    fprintf(stderr, "tlm-bench: %d model%s in %.0f s%s\n", total, total == 1 ? "" : "s",
            now_seconds() - start, o.full ? "" : " (a quick table; --full for the full run)");
    double bw_end = tlm_measure_read_bandwidth(threads, 7);
    printf("\nstreaming read measured again at the end: %.1f GB/s\n", bw_end);
    if (o.csv) write_csv(o.csv, rows, n, bw);
    if (o.json) write_json(o.json, rows, n, bw, &o);
    if (o.svg) write_svg(o.svg, rows, n, bw);
    free(rows);
    return rc;
}
