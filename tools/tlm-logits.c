/* tlm-logits - evaluate token ids as one sequence and write every position's logits, so
 * anyone can check libtinylm against another implementation.
 * Output: little-endian float32, row-major [n_tokens][n_vocab]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-logits (-m MODEL | --preset NAME --random-weights [--seed S] [--type T])\n"
            "                  --tokens ID,ID,... -o OUT.f32 [-t THREADS] [-b BATCH]\n"
            "                  [--kv-type f32|f16]  (default f32: exact, for comparisons)\n"
            "  MODEL: a GGUF file, a llama2.c .bin or a Hugging Face directory\n"
            "  writes n_tokens x n_vocab little-endian float32 logits, row-major\n");
}

int main(int argc, char **argv)
{
    model_source src = {.seed = 1, .type = TLM_TYPE_F16};
    const char *tokens_arg = NULL, *out_path = NULL;
    long long n_threads = 0, n_batch = 0;
    tlm_type kv_type = TLM_TYPE_F32;
    for (int i = 1; i < argc; i++) {
        int used = model_source_arg(&src, argc, argv, i);
        if (used < 0) return 2;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (!strcmp(a, "--tokens") && ok) tokens_arg = v;
        else if (!strcmp(a, "-o") && ok) out_path = v;
        else if (!strcmp(a, "--seed") && ok) {
            long long s;
            if (!parse_int(a, v, 0, INT64_MAX, &s)) return 2;
            src.seed = (uint64_t)s;
        } else if (!strcmp(a, "-t") && ok) ok = parse_int(a, v, 0, 1024, &n_threads);
        else if (!strcmp(a, "-b") && ok) ok = parse_int(a, v, 1, 1 << 20, &n_batch);
        else {
            if (strcmp(a, "-h") && strcmp(a, "--help")) fprintf(stderr, "error: bad argument '%s'\n", a);
            usage();
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    if (!tokens_arg || !out_path) {
        usage();
        return 2;
    }
    int32_t n = 0;
    int32_t *ids = parse_ids(tokens_arg, &n);
    if (!ids) return 2;
    tlm_model *model = model_source_open(&src, (int)n_threads);
    if (!model) return 1;
    const tlm_model_info *info = tlm_model_get_info(model);

    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = n;
    cp.n_threads = (int32_t)n_threads;
    cp.kv_type = kv_type;
    if (n_batch) cp.n_batch = (int32_t)n_batch;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    int rc = 1;
    float *logits = malloc((size_t)n * (size_t)info->n_vocab * sizeof(float));
    if (!logits) fprintf(stderr, "error: out of memory for %d x %d logits\n", n, info->n_vocab);
    else if (tlm_context_create(model, &cp, &ctx, &err) != TLM_OK) fprintf(stderr, "error: %s\n", err.message);
    else if (tlm_context_eval(ctx, ids, n, logits) != TLM_OK)
        fprintf(stderr, "error: %s\n", tlm_context_error(ctx));
    else {
        FILE *fp = fopen(out_path, "wb");
        size_t count = (size_t)n * (size_t)info->n_vocab;
        if (!fp || fwrite(logits, sizeof(float), count, fp) != count || fclose(fp) != 0)
            fprintf(stderr, "error: cannot write %s\n", out_path);
        else {
            fprintf(stderr, "wrote %d x %d logits to %s\n", n, info->n_vocab, out_path);
            rc = 0;
        }
    }
    free(logits);
    free(ids);
    tlm_context_free(ctx);
    tlm_model_free(model);
    return rc;
}
