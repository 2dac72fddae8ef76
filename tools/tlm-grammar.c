/* tlm-grammar - check GBNF grammars, print the grammar of a JSON Schema, and measure what
 * the grammar mask costs per token for a vocabulary (the number for docs/benchmarks.md: the
 * mask must stay well under a decode step). The measurement draws random logits, samples
 * under the grammar, accepts, and times only tlm_sampler_grammar_mask; a generation that
 * completes starts over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define EXIT_USAGE 2 /* a bad command line, as the other tools */

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-grammar check FILE...          parse GBNF files, report errors\n"
            "       tlm-grammar schema FILE|-          print the GBNF of a JSON Schema ('-': any "
            "JSON)\n"
            "       tlm-grammar mask-cost -z TOKENIZER (--grammar FILE | --json-schema FILE|-)\n"
            "                   [-n TOKENS] [--seed S]   time the per-token mask\n");
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(fp);
    if (buf) buf[n] = '\0';
    return buf;
}

static int check_files(int argc, char **argv)
{
    int bad = 0;
    for (int i = 2; i < argc; i++) {
        char *text = slurp(argv[i]);
        tlm_grammar *g = NULL;
        tlm_error err = {0};
        if (!text) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            bad++;
            continue;
        }
        if (tlm_grammar_parse(text, NULL, &g, &err) != TLM_OK) {
            printf("%s: %s\n", argv[i], err.message);
            bad++;
        } else {
            printf("%s: ok\n", argv[i]);
        }
        tlm_grammar_free(g);
        free(text);
    }
    return bad ? EXIT_FAILURE : 0;
}

static int print_schema(const char *path)
{
    char *text = strcmp(path, "-") ? slurp(path) : NULL;
    if (!text && strcmp(path, "-")) {
        fprintf(stderr, "error: cannot read %s\n", path);
        return EXIT_FAILURE;
    }
    size_t len = 0;
    tlm_error err = {0};
    tlm_status st = tlm_json_schema_to_gbnf(text, NULL, 0, &len, &err);
    char *out = NULL;
    if (st == TLM_OK || st == TLM_ERR_BUFFER_TOO_SMALL) {
        out = malloc(len + 1);
        st = out ? tlm_json_schema_to_gbnf(text, out, len + 1, &len, &err) : TLM_ERR_NO_MEMORY;
    }
    if (st == TLM_OK)
        fputs(out, stdout);
    else
        fprintf(stderr, "error: %s\n", err.message);
    free(out);
    free(text);
    return st == TLM_OK ? 0 : EXIT_FAILURE;
}

static uint64_t rng_state;
static float gauss(void) /* Irwin-Hall: the sum of 4 uniforms, close enough for logits */
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        s += (float)(rng_state >> 40) / (float)(1 << 24);
    }
    return (s - 2.0f) * 3.0f;
}

static int mask_cost(int argc, char **argv)
{
    const char *tok_path = NULL, *gpath = NULL, *spath = NULL;
    long n_tokens = 200;
    unsigned long long seed = 1;
    for (int i = 2; i + 1 < argc; i += 2) { /* option, value */
        const char *v = argv[i + 1];
        if (!strcmp(argv[i], "-z"))
            tok_path = v;
        else if (!strcmp(argv[i], "--grammar"))
            gpath = v;
        else if (!strcmp(argv[i], "--json-schema"))
            spath = v;
        else if (!strcmp(argv[i], "-n"))
            n_tokens = strtol(v, NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(v, NULL, 10);
        else
            break;
    }
    if (!tok_path || !!gpath == !!spath || n_tokens < 1) {
        usage();
        return EXIT_USAGE;
    }
    tlm_error err = {0};
    tlm_tokenizer *tok = NULL;
    tlm_grammar *g = NULL;
    tlm_grammar_vocab *v = NULL;
    tlm_sampler *s = NULL;
    float *logits = NULL;
    uint8_t *allowed = NULL;
    int rc = EXIT_FAILURE;
    char *text = gpath || strcmp(spath, "-") ? slurp(gpath ? gpath : spath) : NULL;
    if (!text && (gpath || strcmp(spath, "-"))) {
        fprintf(stderr, "error: cannot read %s\n", gpath ? gpath : spath);
        return EXIT_FAILURE;
    }
    double t0 = now_seconds();
    tlm_status st = tlm_tokenizer_load(tok_path, &tok, &err);
    if (st == TLM_OK)
        st = gpath ? tlm_grammar_parse(text, NULL, &g, &err)
                   : tlm_grammar_from_json_schema(text, &g, &err);
    double t1 = now_seconds();
    if (st == TLM_OK) st = tlm_grammar_vocab_create(tok, &v, &err);
    double t2 = now_seconds();
    int32_t n_vocab = tok ? tlm_tokenizer_n_vocab(tok) : 0;
    tlm_sampler_params sp = tlm_sampler_default_params();
    sp.seed = seed;
    if (st == TLM_OK) st = tlm_sampler_create(&sp, n_vocab, &s, &err);
    if (st == TLM_OK) st = tlm_sampler_set_grammar(s, g, v, &err);
    if (st != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }
    logits = malloc((size_t)n_vocab * sizeof *logits);
    allowed = malloc((size_t)n_vocab);
    if (!logits || !allowed) goto done;
    rng_state = seed;
    double mask_time = 0.0, worst = 0.0;
    long n_allowed = 0, restarts = 0;
    for (long k = 0; k < n_tokens; k++) {
        for (int32_t i = 0; i < n_vocab; i++)
            logits[i] = gauss();
        double a = now_seconds();
        int32_t n = tlm_sampler_grammar_mask(s, allowed);
        double b = now_seconds();
        mask_time += b - a;
        worst = b - a > worst ? b - a : worst;
        n_allowed += n;
        /* pick among the allowed ids by the logits, as the sampler would */
        int32_t best = -1;
        for (int32_t i = 0; i < n_vocab; i++)
            if (allowed[i] && (best < 0 || logits[i] > logits[best])) best = i;
        if (best < 0 || best == tlm_tokenizer_eos(tok)) {
            tlm_sampler_reset(s);
            restarts++;
            continue;
        }
        tlm_sampler_grammar_accept(s, best, NULL);
    }
    printf("vocab %d ids | parse %.2f ms | trie build %.1f ms | mask: mean %.3f ms, worst %.3f ms "
           "per token over %ld tokens (%.0f ids allowed on average, %ld restarts)\n",
           (int)n_vocab, (t1 - t0) * 1e3, (t2 - t1) * 1e3, mask_time / (double)n_tokens * 1e3,
           worst * 1e3, n_tokens, (double)n_allowed / (double)n_tokens, restarts);
    rc = 0;
done:
    free(logits);
    free(allowed);
    free(text);
    tlm_sampler_free(s);
    tlm_grammar_vocab_free(v);
    tlm_grammar_free(g);
    tlm_tokenizer_free(tok);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "check")) return check_files(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "schema")) return print_schema(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "mask-cost")) return mask_cost(argc, argv);
    usage();
    return EXIT_USAGE;
}
