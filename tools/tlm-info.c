/* tlm-info - the memory planner: what a model needs, from its config alone. Parameters, weight
 * bytes at each type, KV cache per token and at a context length (where GQA and MQA save),
 * and whether it fits a RAM budget. With --check, a full validation of the file instead
 * (tlm_model_check): what is wrong with it, in plain words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-info MODEL | --preset NAME | --all   [-c CTX] [--ram GIB]\n"
            "       tlm-info --check MODEL [--nan]\n"
            "  MODEL   a GGUF file, llama2.c .bin or Hugging Face directory (only mapped)\n"
            "  --check validate MODEL fully and say what is wrong (exit status 1 if anything)\n"
            "  --nan   with --check: also read every weight for NaN/Inf values\n"
            "  -c CTX  context length for the KV cache figure (default: the model's)\n"
            "  --ram   memory budget in GiB (default: MemAvailable of this machine)\n");
}

/* Bits per weight of each type (block bytes * 8 / block elements). */
static const struct {
    const char *name;
    double bits;
} types[] = {
    {"F32", 32.0},   {"F16/BF16", 16.0}, {"Q8_0", 8.5},    {"Q6_K", 6.5625}, {"Q5_1", 6.0},
    {"Q5_K", 5.5},   {"Q5_0", 5.5},      {"Q4_1", 5.0},    {"Q4_K", 4.5},    {"Q4_0", 4.5},
    {"IQ4_NL", 4.5}, {"IQ4_XS", 4.25},   {"Q3_K", 3.4375}, {"Q2_K", 2.625},
};

static double available_gib(void)
{
    FILE *fp = fopen("/proc/meminfo", "r");
    char line[256];
    double kib = 0;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1) break;
    if (fp) fclose(fp);
    return kib / (1024.0 * 1024.0);
}

static const char *attention_kind(const tlm_model_info *in)
{
    if (in->n_kv_heads == in->n_heads) return "MHA";
    return in->n_kv_heads == 1 ? "MQA" : "GQA";
}

static void check_line(void *user, tlm_check_level level, const char *message)
{
    (void)user;
    static const char *const tag[3] = {"ok     ", "warning", "ERROR  "};
    printf("%s  %s\n", tag[level <= TLM_CHECK_ERROR ? level : TLM_CHECK_ERROR], message);
}

/* --check: every finding on its own line, then one verdict. */
static int check(const char *path, bool nan)
{
    tlm_check_params cp = tlm_check_default_params();
    cp.scan_values = nan;
    cp.report = check_line;
    tlm_error err = {0};
    tlm_status st = tlm_model_check(path, &cp, &err);
    if (st == TLM_OK)
        printf("check: %s is fine\n", path);
    else
        printf("check: %s FAILED (%s): %s\n", path, tlm_status_string(st), err.message);
    return st == TLM_OK ? 0 : 1;
}

static void report(const char *name, const tlm_model_info *in, long long ctx, double ram_gib)
{
    long long n_ctx = ctx ? ctx : in->n_ctx_train;
    uint64_t vectors = in->n_params - in->n_matrix_params;
    printf("## %s (%s)\n\n", name, in->arch);
    printf("%d layers (%d applied), dim %d, %d heads / %d KV heads (%s), head_dim %d, MLP %d, "
           "vocab %d, trained context %d\n",
           in->n_layers, in->n_layer_applications, in->dim, in->n_heads, in->n_kv_heads,
           attention_kind(in), in->head_dim, in->hidden_dim, in->n_vocab, in->n_ctx_train);
    printf("parameters: %llu (%llu in weight matrices)\n\n", (unsigned long long)in->n_params,
           (unsigned long long)in->n_matrix_params);
    double kv_ctx = (double)in->kv_bytes_per_token * (double)n_ctx;
    printf("KV cache (F16): %.1f KiB per token, %.1f MiB at %lld tokens (F32: twice that)\n\n",
           (double)in->kv_bytes_per_token / 1024.0, kv_ctx / (1 << 20), n_ctx);
    printf("| weights  |  weight bytes | + KV at %lld | fits %.1f GiB |\n", n_ctx, ram_gib);
    printf("|----------|---------------|--------------|---------------|\n");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        /* matrices at the type; norms and biases stay F32 */
        double bytes = (double)in->n_matrix_params * types[i].bits / 8.0 + 4.0 * (double)vectors;
        double total = bytes + kv_ctx;
        printf("| %-8s | %10.2f GB | %9.2f GB | %-13s |\n", types[i].name, bytes / 1e9, total / 1e9,
               total <= ram_gib * (1 << 30) ? "yes" : "no");
    }
    printf("\n");
}

/* What tlm_context_create would allocate (tlm_context_plan): the KV cache as the context
 * holds it (a sliding-window model keeps only its window) plus scratch, at F16 and F32, and
 * against the budget the largest context that fits. */
static void plan_lines(const tlm_model *m, long long ctx, double ram_gib)
{
    printf("| context plan | positions | KV cells/layer | KV bytes | + scratch | total | fits "
           "%.1f GiB | largest context that fits |\n",
           ram_gib);
    printf("|---|---|---|---|---|---|---|---|\n");
    static const tlm_type kv_types[] = {TLM_TYPE_F16, TLM_TYPE_F32, TLM_TYPE_Q8_0};
    static const char *names[] = {"F16", "F32", "Q8_0"};
    for (int i = 0; i < 3; i++) {
        tlm_context_params cp = tlm_context_default_params();
        cp.n_ctx = (int32_t)ctx;
        cp.kv_type = kv_types[i];
        cp.mem_budget = ram_gib > 0 ? (uint64_t)(ram_gib * (1 << 30)) : TLM_MEM_UNCHECKED;
        tlm_context_memory mem;
        tlm_error err = {0};
        if (tlm_context_plan(m, &cp, &mem, &err) != TLM_OK) {
            printf("| %s cache | error: %s |\n", names[i], err.message);
            continue;
        }
        printf("| %s cache | %d | %d | %.1f MiB | %.1f MiB | %.1f MiB | %s | %d |\n", names[i],
               mem.n_ctx, mem.n_cells, (double)mem.kv_bytes / (1 << 20),
               (double)mem.scratch_bytes / (1 << 20), (double)mem.total_bytes / (1 << 20),
               mem.fits ? "yes" : "no", mem.max_n_ctx);
    }
    printf("\n(context only: add the weight bytes above for the process)\n\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL, *preset = NULL;
    bool all = false, do_check = false, nan = false;
    long long ctx = 0;
    double ram = available_gib();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--all"))
            all = true;
        else if (!strcmp(a, "--check"))
            do_check = true;
        else if (!strcmp(a, "--nan"))
            nan = true;
        else if (!strcmp(a, "--preset") && v)
            preset = argv[++i];
        else if (!strcmp(a, "-c") && v) {
            if (!parse_int(a, argv[++i], 1, 1 << 24, &ctx)) return 2;
        } else if (!strcmp(a, "--ram") && v) {
            if (!parse_float(a, argv[++i], 0, 1 << 20, &ram)) return 2;
        } else if (a[0] != '-' && !path)
            path = a;
        else {
            usage();
            return 2;
        }
    }
    if ((!path && !preset && !all) || (do_check && !path) || (nan && !do_check)) {
        usage();
        return 2;
    }
    if (do_check) return check(path, nan);
    tlm_error err = {0};
    tlm_model_info info;
    if (all || preset) {
        const char *const *names = tlm_preset_names();
        for (int i = 0; names[i]; i++) {
            if (!all && strcmp(names[i], preset) != 0) continue;
            if (tlm_preset_info(names[i], TLM_TYPE_F16, &info, &err) != TLM_OK) {
                fprintf(stderr, "error: %s\n", err.message);
                return 1;
            }
            report(names[i], &info, ctx, ram);
            tlm_preset_params pp = tlm_preset_default_params();
            pp.shape_only = true; /* config and shapes only: the plan needs no weights */
            tlm_model *pm = NULL;
            if (tlm_model_load_preset(names[i], &pp, &pm, &err) == TLM_OK) plan_lines(pm, ctx, ram);
            tlm_model_free(pm);
            if (!all) return 0;
        }
        if (!all) {
            fprintf(stderr, "error: unknown preset '%s'\n", preset);
            return 1;
        }
        return 0;
    }
    tlm_model *m = NULL;
    if (tlm_model_load(path, NULL, &m, &err) != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    report(path, tlm_model_get_info(m), ctx, ram);
    plan_lines(m, ctx, ram);
    tlm_model_free(m);
    return 0;
}
