/* tlm-generate - generate text from a prompt, streaming, and report speed and memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct options {
    model_source src;
    const char *tokenizer_path, *prompt, *tokens;
    long long n_predict, n_threads, n_ctx, top_k;
    double temp, top_p;
    uint64_t seed;
    bool show_ids;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-generate -m MODEL [options]\n"
            "       tlm-generate --preset NAME --random-weights [--type f32|f16|bf16] [options]\n"
            "  -m MODEL        GGUF file, llama2.c .bin or Hugging Face directory\n"
            "  -z TOKENIZER    llama2.c tokenizer.bin (when the model file has no vocabulary)\n"
            "  -p PROMPT       prompt text (default: empty, generation starts from BOS)\n"
            "  --tokens IDS    prompt as token ids, e.g. 1,15043 (no tokenizer needed)\n"
            "  -n N            tokens to generate (default 128)\n"
            "  --temp T        temperature, 0 = greedy (default 0.8)\n"
            "  --top-k K       keep the K most likely tokens, 0 = off (default 40)\n"
            "  --top-p P       nucleus sampling threshold, 1 = off (default 0.95)\n"
            "  --seed S        sampling seed (default 42)\n"
            "  -t THREADS      threads (default: all cores)\n"
            "  -c CTX          context size (default: prompt + N, at most the model's)\n"
            "  --show-ids      print generated ids instead of text\n");
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
        if (!strcmp(a, "--show-ids")) {
            o->show_ids = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return false;
        if (!v) {
            fprintf(stderr, "error: bad argument '%s'\n", a);
            return false;
        }
        long long s;
        bool ok = true;
        if (!strcmp(a, "-z")) o->tokenizer_path = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "--tokens")) o->tokens = v;
        else if (!strcmp(a, "-n")) ok = parse_int(a, v, 0, 1 << 24, &o->n_predict);
        else if (!strcmp(a, "--temp")) ok = parse_float(a, v, 0, 100, &o->temp);
        else if (!strcmp(a, "--top-k")) ok = parse_int(a, v, 0, 1 << 24, &o->top_k);
        else if (!strcmp(a, "--top-p")) ok = parse_float(a, v, 1e-9, 1, &o->top_p);
        else if (!strcmp(a, "-t")) ok = parse_int(a, v, 0, 1024, &o->n_threads);
        else if (!strcmp(a, "-c")) ok = parse_int(a, v, 0, 1 << 22, &o->n_ctx);
        else if (!strcmp(a, "--seed") && (ok = parse_int(a, v, 0, INT64_MAX, &s))) o->seed = (uint64_t)s;
        else if (strcmp(a, "--seed") != 0) {
            fprintf(stderr, "error: unknown argument '%s'\n", a);
            return false;
        }
        if (!ok) return false;
        i++;
    }
    return true;
}

/* The prompt as ids: --tokens as given, else BOS + the tokenized text. */
static int32_t *prompt_ids(const options *o, const tlm_tokenizer *tok, int32_t bos, int32_t *n)
{
    if (o->tokens) return parse_ids(o->tokens, n);
    const char *text = o->prompt ? o->prompt : "";
    int32_t cap = (int32_t)strlen(text) + 3;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) return NULL;
    if (!tok) {
        if (*text) {
            fprintf(stderr, "error: -p needs a tokenizer (the model has none; give -z)\n");
            free(ids);
            return NULL;
        }
        *n = bos >= 0;
        ids[0] = bos;
        return ids;
    }
    if (tlm_tokenize(tok, text, bos >= 0, ids, cap, n) != TLM_OK) {
        fprintf(stderr, "error: could not tokenize the prompt\n");
        free(ids);
        return NULL;
    }
    return ids;
}

int main(int argc, char **argv)
{
    options o = {.src = {.seed = 1, .type = TLM_TYPE_F16}, .n_predict = 128, .temp = 0.8,
                 .top_k = 40, .top_p = 0.95, .seed = 42};
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    tlm_model *model = model_source_open(&o.src, (int)o.n_threads);
    if (!model) return 1;
    const tlm_model_info *info = tlm_model_get_info(model);
    tlm_error err = {0};
    tlm_tokenizer *tok = NULL;
    if (o.tokenizer_path) {
        if (tlm_tokenizer_load_llama2c(o.tokenizer_path, info->n_vocab, &tok, &err) != TLM_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            tlm_model_free(model);
            return 1;
        }
    } else if (tlm_tokenizer_from_model(model, &tok, &err) != TLM_OK) {
        tok = NULL; /* ids only: fine with --tokens or an empty prompt and --show-ids */
    }
    int32_t bos = tok ? tlm_tokenizer_bos(tok) : info->bos_id;
    int32_t eos = tok ? tlm_tokenizer_eos(tok) : info->eos_id;

    int rc = 1;
    int32_t n_prompt = 0;
    int32_t *ids = prompt_ids(&o, tok, bos, &n_prompt);
    tlm_context *ctx = NULL;
    tlm_sampler *sampler = NULL;
    if (!ids) goto done;
    if (n_prompt == 0) {
        fprintf(stderr, "error: empty prompt and no BOS token; give -p or --tokens\n");
        goto done;
    }
    if (!tok && !o.show_ids) o.show_ids = true;

    tlm_context_params cp = tlm_context_default_params();
    long long want = o.n_ctx ? o.n_ctx : n_prompt + o.n_predict;
    cp.n_ctx = (int32_t)(want < info->n_ctx_train || o.n_ctx ? want : info->n_ctx_train);
    cp.n_threads = (int32_t)o.n_threads;
    tlm_sampler_params sp = tlm_sampler_default_params();
    sp.temperature = (float)o.temp;
    sp.top_k = (int32_t)o.top_k;
    sp.top_p = (float)o.top_p;
    sp.seed = o.seed;
    if (tlm_context_create(model, &cp, &ctx, &err) != TLM_OK ||
        tlm_sampler_create(&sp, info->n_vocab, &sampler, &err) != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }

    double t0 = now_seconds();
    if (tlm_context_eval(ctx, ids, n_prompt, NULL) != TLM_OK) {
        fprintf(stderr, "error: %s\n", tlm_context_error(ctx));
        goto done;
    }
    double t1 = now_seconds();
    int32_t prev = ids[n_prompt - 1], n_gen = 0;
    while (n_gen < o.n_predict) {
        int32_t next = tlm_sampler_sample(sampler, tlm_context_logits(ctx));
        n_gen++;
        if (next == eos) break;
        if (o.show_ids) printf("%s%d", n_gen > 1 ? " " : "", next);
        else {
            size_t len;
            const char *piece = tlm_token_piece(tok, prev, next, &len);
            if (piece) fwrite(piece, 1, len, stdout);
        }
        fflush(stdout);
        prev = next;
        if (n_gen == o.n_predict) break;
        if (tlm_context_eval(ctx, &next, 1, NULL) != TLM_OK) {
            fprintf(stderr, "\nstopped: %s\n", tlm_context_error(ctx));
            break;
        }
    }
    double t2 = now_seconds();
    printf("\n");
    fprintf(stderr, "prompt: %d tokens, %.2f tok/s | generation: %d tokens, %.2f tok/s | "
            "peak memory %.1f MiB | kernels %s\n", n_prompt, n_prompt / (t1 - t0), n_gen,
            n_gen > 1 ? (n_gen - 1) / (t2 - t1) : 0.0, (double)peak_rss_bytes() / (1 << 20),
            tlm_kernels_isa());
    rc = 0;
done:
    free(ids);
    tlm_sampler_free(sampler);
    tlm_context_free(ctx);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    return rc;
}
