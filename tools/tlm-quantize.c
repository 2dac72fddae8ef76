/* tlm-quantize - write a model as GGUF with its weight matrices in another type, then check
 * the result: both models evaluate the same 64 tokens and the tool prints the mean KL
 * divergence of the new model's next-token distribution from the input's, and how often
 * their top-1 tokens agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

enum { CHECK_TOKENS = 64 };

/* --type names: one type for every weight matrix (the LM head aside), or one of
 * llama-quantize's file types, whose rules pick each matrix's type (mix; docs/quantization.md).
 * The IQ4 types and q2_k are file types in llama-quantize too, so they follow its rules. */
static const struct {
    const char *name, *upper;
    tlm_type type;
    tlm_quant_mix mix;
} names[] = {
    {"q8_0", "Q8_0", TLM_TYPE_Q8_0, TLM_MIX_NONE},
    {"q4_0", "Q4_0", TLM_TYPE_Q4_0, TLM_MIX_NONE},
    {"q4_1", "Q4_1", TLM_TYPE_Q4_1, TLM_MIX_NONE},
    {"q5_0", "Q5_0", TLM_TYPE_Q5_0, TLM_MIX_NONE},
    {"q5_1", "Q5_1", TLM_TYPE_Q5_1, TLM_MIX_NONE},
    {"q3_k", "Q3_K", TLM_TYPE_Q3_K, TLM_MIX_NONE},
    {"q4_k", "Q4_K", TLM_TYPE_Q4_K, TLM_MIX_NONE},
    {"q5_k", "Q5_K", TLM_TYPE_Q5_K, TLM_MIX_NONE},
    {"q6_k", "Q6_K", TLM_TYPE_Q6_K, TLM_MIX_NONE},
    {"iq4_nl", "IQ4_NL", TLM_TYPE_IQ4_NL, TLM_MIX_IQ4_NL},
    {"iq4_xs", "IQ4_XS", TLM_TYPE_IQ4_XS, TLM_MIX_IQ4_XS},
    {"q2_k", "Q2_K", TLM_TYPE_Q2_K, TLM_MIX_Q2_K},
    {"q3_k_s", "Q3_K_S", TLM_TYPE_Q3_K, TLM_MIX_Q3_K_S},
    {"q3_k_m", "Q3_K_M", TLM_TYPE_Q3_K, TLM_MIX_Q3_K_M},
    {"q3_k_l", "Q3_K_L", TLM_TYPE_Q3_K, TLM_MIX_Q3_K_L},
    {"q4_k_s", "Q4_K_S", TLM_TYPE_Q4_K, TLM_MIX_Q4_K_S},
    {"q4_k_m", "Q4_K_M", TLM_TYPE_Q4_K, TLM_MIX_Q4_K_M},
    {"q5_k_s", "Q5_K_S", TLM_TYPE_Q5_K, TLM_MIX_Q5_K_S},
    {"q5_k_m", "Q5_K_M", TLM_TYPE_Q5_K, TLM_MIX_Q5_K_M},
    {"f16", "F16", TLM_TYPE_F16, TLM_MIX_NONE},
    {"bf16", "BF16", TLM_TYPE_BF16, TLM_MIX_NONE},
    {"f32", "F32", TLM_TYPE_F32, TLM_MIX_NONE},
};
#define TYPE_LIST                                                                                  \
    "q8_0, q4_0, q4_1, q5_0, q5_1, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, q2_k, q3_k_s,\n"        \
    "         q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, f16, bf16 or f32"

/* The entry of --type s, or -1. */
static int parse_type(const char *s)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0) return (int)i;
    return -1;
}

/* A tensor type's name (the first entry of that type without a mix). */
static const char *type_name(tlm_type t)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].type == t && names[i].mix == TLM_MIX_NONE) return names[i].upper;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].type == t) return names[i].upper;
    return "?";
}

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-quantize (-m INPUT | --preset NAME --random-weights [--seed-weights S]\n"
            "                     [--preset-type f32|f16|bf16]) -o OUT.gguf --type TYPE\n"
            "                    [-t THREADS] [--no-check] [--tokens ID,ID,...] [--imatrix FILE]\n"
            "  INPUT: a GGUF file, a llama2.c .bin or a Hugging Face directory\n"
            "  TYPE:  " TYPE_LIST "\n"
            "         one type for the weight matrices (norms and biases stay f32; the LM head\n"
            "         is q6_k under the quantized types below 8 bits), or llama-quantize's file\n"
            "         types (q2_k, q3_k_*, q4_k_*, q5_k_*, iq4_*: its per-tensor rules,\n"
            "         docs/quantization.md)\n"
            "  --imatrix: llama.cpp's importance matrix (llama-imatrix's .dat), used by the\n"
            "         IQ4_NL, IQ4_XS and K quantizers as llama-quantize uses it\n"
            "  afterwards both models evaluate %d fixed token ids (or --tokens) and the mean\n"
            "  KL divergence (input as P) and top-1 agreement over the positions are printed\n",
            CHECK_TOKENS);
}

/* ---- progress bar ------------------------------------------------------------------------ */

typedef struct bar {
    bool tty;
    int last_index;
    int last_permille;
    int n_notes;
} bar;

static void progress(void *user, const tlm_save_progress *p)
{
    bar *b = user;
    bool new_tensor = p->index != b->last_index;
    int permille = p->total > 0 ? (int)(1000 * p->done / p->total) : 1000;
    if (new_tensor && p->note) {
        fprintf(stderr, "%snote: %s: %s\n", b->tty ? "\r\033[K" : "", p->tensor, p->note);
        b->n_notes++;
    }
    if (!new_tensor && permille == b->last_permille) return;
    b->last_index = p->index;
    b->last_permille = permille;
    if (b->tty) {
        enum { WIDTH = 30 };
        char fill[WIDTH + 1];
        int k = permille * WIDTH / 1000;
        for (int i = 0; i < WIDTH; i++)
            fill[i] = i < k ? '#' : '.';
        fill[WIDTH] = '\0';
        fprintf(stderr, "\r\033[K[%s] %5.1f%% %d/%d %s %s", fill, permille / 10.0, p->index + 1,
                p->count, p->tensor, type_name(p->type));
    } else if (new_tensor) {
        fprintf(stderr, "[%5.1f%%] %d/%d %s %s\n", permille / 10.0, p->index + 1, p->count,
                p->tensor, type_name(p->type));
    }
}

/* ---- the check --------------------------------------------------------------------------- */

/* log-softmax of n logits into out (double: KL of near-equal distributions is small). */
static void log_softmax(const float *x, int32_t n, double *out)
{
    double max = x[0], sum = 0;
    for (int32_t i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    for (int32_t i = 0; i < n; i++)
        sum += exp((double)x[i] - max);
    double lse = max + log(sum);
    for (int32_t i = 0; i < n; i++)
        out[i] = (double)x[i] - lse;
}

static int32_t argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* All positions' logits of `ids` (malloc'd [n][vocab]); NULL with a message on failure. */
static float *eval_all(const tlm_model *m, const int32_t *ids, int32_t n, int n_threads,
                       const char *what)
{
    int32_t vocab = tlm_model_get_info(m)->n_vocab;
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = n;
    cp.n_threads = n_threads;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    float *logits = malloc((size_t)n * (size_t)vocab * sizeof(float));
    if (!logits)
        fprintf(stderr, "error: out of memory for %s logits\n", what);
    else if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK)
        fprintf(stderr, "error: %s: %s\n", what, err.message);
    else if (tlm_context_eval(ctx, ids, n, logits) != TLM_OK)
        fprintf(stderr, "error: %s: %s\n", what, tlm_context_error(ctx));
    else {
        tlm_context_free(ctx);
        return logits;
    }
    tlm_context_free(ctx);
    free(logits);
    return NULL;
}

static int check(const tlm_model *in, const char *out_path, const int32_t *ids, int32_t n,
                 int n_threads)
{
    tlm_model_params mp = tlm_model_default_params();
    mp.n_threads = n_threads;
    tlm_model *out = NULL;
    tlm_error err = {0};
    if (tlm_model_load(out_path, &mp, &out, &err) != TLM_OK) {
        fprintf(stderr, "check: cannot load %s: %s\n", out_path, err.message);
        return 1;
    }
    int32_t vocab = tlm_model_get_info(in)->n_vocab;
    if (tlm_model_get_info(out)->n_vocab != vocab) {
        fprintf(stderr, "check: %s has %d logits, the input %d\n", out_path,
                tlm_model_get_info(out)->n_vocab, vocab);
        tlm_model_free(out);
        return 1;
    }
    float *lp = eval_all(in, ids, n, n_threads, "input");
    float *lq = lp ? eval_all(out, ids, n, n_threads, out_path) : NULL;
    double *a = malloc(2 * (size_t)vocab * sizeof *a);
    int rc = 1;
    if (lp && lq && a) {
        double sum_kl = 0, max_kl = 0;
        int32_t agree = 0;
        for (int32_t t = 0; t < n; t++) {
            const float *p = lp + (size_t)t * (size_t)vocab, *q = lq + (size_t)t * (size_t)vocab;
            log_softmax(p, vocab, a);
            log_softmax(q, vocab, a + vocab);
            double kl = 0;
            for (int32_t i = 0; i < vocab; i++)
                kl += exp(a[i]) * (a[i] - a[vocab + i]);
            kl = kl > 0 ? kl : 0; /* rounding can make an exact match slightly negative */
            sum_kl += kl;
            max_kl = kl > max_kl ? kl : max_kl;
            agree += argmax(p, vocab) == argmax(q, vocab);
        }
        printf("check: %d positions, mean KL %.6g, max KL %.6g, top-1 agreement %d/%d (%.1f%%)\n",
               n, sum_kl / n, max_kl, agree, n, 100.0 * agree / n);
        rc = 0;
    }
    free(a);
    free(lp);
    free(lq);
    tlm_model_free(out);
    return rc;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    model_source src = {.seed = 1, .type = TLM_TYPE_F16};
    const char *out_path = NULL, *tokens_arg = NULL, *imatrix = NULL;
    int entry = -1;
    bool have_type = false, do_check = true;
    long long n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--type")) { /* the output type; a preset's own is --preset-type */
            if (!v || (entry = parse_type(v)) < 0) {
                fprintf(stderr, "error: --type expects one of " TYPE_LIST "; got '%s'\n",
                        v ? v : "");
                return 2;
            }
            have_type = true;
            i++;
            continue;
        }
        if (!strcmp(a, "--preset-type")) {
            char *args[2] = {(char *)"--type", (char *)v};
            if (!v || model_source_arg(&src, 2, args, 0) != 2) return 2;
            i++;
            continue;
        }
        int used = model_source_arg(&src, argc, argv, i);
        if (used < 0) return 2;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        bool ok = v != NULL;
        if (!strcmp(a, "-o") && ok)
            out_path = v;
        else if (!strcmp(a, "--tokens") && ok)
            tokens_arg = v;
        else if (!strcmp(a, "--imatrix") && ok)
            imatrix = v;
        else if (!strcmp(a, "-t") && ok)
            ok = parse_int(a, v, 0, 1024, &n_threads);
        else if (!strcmp(a, "--no-check")) {
            do_check = false;
            continue;
        } else {
            if (strcmp(a, "-h") && strcmp(a, "--help"))
                fprintf(stderr, "error: bad argument '%s'\n", a);
            usage();
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    if (!out_path || !have_type) {
        fprintf(stderr, "error: give -o OUT.gguf and --type\n");
        usage();
        return 2;
    }
    int32_t n_ids = 0, *ids = NULL;
    if (tokens_arg && !(ids = parse_ids(tokens_arg, &n_ids))) return 2;

    double t0 = now_seconds();
    tlm_model *model = model_source_open(&src, (int)n_threads);
    if (!model) {
        free(ids);
        return 1;
    }
    const tlm_model_info *info = tlm_model_get_info(model);
    fprintf(stderr, "input: %s, %d layers, dim %d, %.1f M parameters, %.1f MB of weights\n",
            info->arch, info->n_layers, info->dim, (double)info->n_params / 1e6,
            (double)info->weight_bytes / 1e6);

    bar b = {.tty = isatty(2) != 0, .last_index = -1, .last_permille = -1};
    tlm_save_params sp = tlm_save_default_params();
    sp.type = names[entry].type;
    sp.mix = names[entry].mix;
    sp.imatrix = imatrix;
    sp.n_threads = (int32_t)n_threads;
    sp.progress = progress;
    sp.user = &b;
    tlm_error err = {0};
    double t1 = now_seconds();
    tlm_status st = tlm_model_save_gguf(model, out_path, &sp, &err);
    if (b.tty) fprintf(stderr, "\n");
    if (st != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        tlm_model_free(model);
        free(ids);
        return 1;
    }
    struct stat sb;
    double mb = stat(out_path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
    fprintf(stderr, "wrote %s: %s, %.1f MB in %.1f s (load %.1f s)%s\n", out_path,
            names[entry].upper, mb, now_seconds() - t1, t1 - t0,
            b.n_notes ? "; some tensors in another type, see the notes" : "");

    int rc = 0;
    if (do_check) {
        if (!ids) { /* every 7th id, from 1, wrapping at the vocabulary size */
            n_ids = CHECK_TOKENS < info->n_ctx_train ? CHECK_TOKENS : info->n_ctx_train;
            ids = malloc((size_t)n_ids * sizeof *ids);
            for (int32_t i = 0; ids && i < n_ids; i++)
                ids[i] = (int32_t)((1 + 7 * (int64_t)i) % info->n_vocab);
        }
        rc = ids ? check(model, out_path, ids, n_ids, (int)n_threads) : 1;
    }
    free(ids);
    tlm_model_free(model);
    return rc;
}
