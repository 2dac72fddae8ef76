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
            "                  --tokens ID,ID,... -o OUT.f32 [-t THREADS] [-b BATCH] [-c CTX]\n"
            "                  [--context-shift KEEP] [context flags]\n"
            "  MODEL: a GGUF file, a llama2.c .bin or a Hugging Face directory\n"
            "  writes n_tokens x n_vocab little-endian float32 logits, row-major\n"
            "  -c CTX             context size (default: the number of tokens)\n"
            "  --context-shift K  when the context is full, keep the first K positions, drop the\n"
            "                     older half of the rest and shift the others down (evaluates\n"
            "                     in -b chunks; -b defaults to 1 then)\n" CONTEXT_USAGE
            "  (--kv-type defaults to f32 here: exact, for comparisons)\n");
}

/* Keeps the first `keep` positions, drops the older half of the rest, moves the newer half
 * down: llama.cpp's context shift, through the library's remove and shift. */
static bool shift_context(tlm_context *ctx, int32_t keep)
{
    int32_t n_past = tlm_context_n_past(ctx), n_discard = (n_past - keep) / 2;
    if (n_discard < 1) {
        fprintf(stderr, "error: context of %d positions is full and keeps %d: nothing to drop\n",
                n_past, keep);
        return false;
    }
    if (tlm_context_remove(ctx, keep, keep + n_discard) != TLM_OK ||
        tlm_context_shift(ctx, keep + n_discard, -1, -n_discard) != TLM_OK) {
        fprintf(stderr, "error: %s\n", tlm_context_error(ctx));
        return false;
    }
    fprintf(stderr, "context shift: kept %d, dropped %d, now %d positions\n", keep, n_discard,
            tlm_context_n_past(ctx));
    return true;
}

int main(int argc, char **argv)
{
    model_source src = {.seed = 1, .type = TLM_TYPE_F16};
    const char *tokens_arg = NULL, *out_path = NULL;
    long long n_threads = 0, n_batch = 0, n_ctx = 0, keep = -1;
    tlm_context_params cp = tlm_context_default_params();
    cp.kv_type = TLM_TYPE_F32;
    for (int i = 1; i < argc; i++) {
        int used = model_source_arg(&src, argc, argv, i);
        if (used == 0) used = context_arg(&cp, argc, argv, i);
        if (used < 0) return 2;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (!strcmp(a, "--tokens") && ok)
            tokens_arg = v;
        else if (!strcmp(a, "-o") && ok)
            out_path = v;
        else if (!strcmp(a, "--seed") && ok) {
            long long s;
            if (!parse_int(a, v, 0, INT64_MAX, &s)) return 2;
            src.seed = (uint64_t)s;
        } else if (!strcmp(a, "-t") && ok)
            ok = parse_int(a, v, 0, 1024, &n_threads);
        else if (!strcmp(a, "-b") && ok)
            ok = parse_int(a, v, 1, 1 << 20, &n_batch);
        else if (!strcmp(a, "-c") && ok)
            ok = parse_int(a, v, 1, 1 << 22, &n_ctx);
        else if (!strcmp(a, "--context-shift") && ok)
            ok = parse_int(a, v, 0, 1 << 22, &keep);
        else {
            if (strcmp(a, "-h") && strcmp(a, "--help"))
                fprintf(stderr, "error: bad argument '%s'\n", a);
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
    if (!model) {
        free(ids);
        return 1;
    }
    const tlm_model_info *info = tlm_model_get_info(model);

    cp.n_ctx = n_ctx ? (int32_t)n_ctx : n;
    cp.n_threads = (int32_t)n_threads;
    if (n_batch)
        cp.n_batch = (int32_t)n_batch;
    else if (keep >= 0)
        cp.n_batch = 1;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    int rc = 1;
    float *logits = malloc((size_t)n * (size_t)info->n_vocab * sizeof(float));
    bool ok = false;
    if (!logits)
        fprintf(stderr, "error: out of memory for %d x %d logits\n", n, info->n_vocab);
    else if (tlm_context_create(model, &cp, &ctx, &err) != TLM_OK)
        fprintf(stderr, "error: %s\n", err.message);
    else if (keep < 0) {
        ok = tlm_context_eval(ctx, ids, n, logits) == TLM_OK;
        if (!ok) fprintf(stderr, "error: %s\n", tlm_context_error(ctx));
    } else { /* chunk by chunk, shifting whenever the next chunk does not fit */
        ok = true;
        for (int32_t s = 0; ok && s < n; s += cp.n_batch) {
            int32_t m = n - s < cp.n_batch ? n - s : cp.n_batch;
            if (tlm_context_n_past(ctx) + m > tlm_context_n_ctx(ctx))
                ok = shift_context(ctx, (int32_t)keep);
            if (ok && tlm_context_eval(ctx, ids + s, m,
                                       logits + (size_t)s * (size_t)info->n_vocab) != TLM_OK) {
                fprintf(stderr, "error: %s\n", tlm_context_error(ctx));
                ok = false;
            }
        }
    }
    if (ok) {
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
