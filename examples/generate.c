/* generate.c - the whole loop of text generation with libtinylm: load a model, tokenize a
 * prompt, evaluate it, then sample one token at a time and stream its text.
 *
 *     generate MODEL [-z TOKENIZER] [-p PROMPT] [-n TOKENS] [--temp T] [--seed S]
 *
 * With --temp 0 (the default) it is greedy: stories260K from an empty prompt gives the text of
 * llama2.c's own test. Every object is freed on every path, including the failing ones. */
#include <stdlib.h>

#include "common.h"

int main(int argc, char **argv)
{
    const char *model_path = NULL, *tok_path = NULL, *prompt = "";
    int n_predict = 64;
    tlm_sampler_params sp = tlm_sampler_default_params();
    sp.temperature = 0.0f; /* greedy unless asked otherwise */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-z") && v)
            tok_path = v, i++;
        else if (!strcmp(a, "-p") && v)
            prompt = v, i++;
        else if (!strcmp(a, "-n") && v)
            n_predict = atoi(v), i++;
        else if (!strcmp(a, "--temp") && v)
            sp.temperature = (float)atof(v), i++;
        else if (!strcmp(a, "--seed") && v)
            sp.seed = strtoull(v, NULL, 10), i++;
        else if (!model_path && a[0] != '-')
            model_path = a;
        else {
            fprintf(stderr, "usage: generate MODEL [-z TOKENIZER] [-p PROMPT] [-n TOKENS] "
                            "[--temp T] [--seed S]\n");
            return 2;
        }
    }
    if (!model_path) return fprintf(stderr, "generate: no model given\n"), 2;
    /* A program built against one header and run with another library notices here. */
    if (tlm_version_number() != TLM_VERSION_NUMBER)
        fprintf(stderr, "warning: built with libtinylm %d, running with %u\n", TLM_VERSION_NUMBER,
                tlm_version_number());

    tlm_error err = {0};
    tlm_model *model = NULL;
    tlm_tokenizer *tok = NULL;
    tlm_context *ctx = NULL;
    tlm_sampler *smp = NULL;
    tlm_detok *detok = NULL;
    int32_t *ids = NULL;
    int rc = 1;

    if (tlm_model_load(model_path, NULL, &model, &err) != TLM_OK) {
        rc = fail(model_path, &err);
        goto done;
    }
    if (open_tokenizer(model, tok_path, &tok, &err) != TLM_OK) {
        rc = fail("tokenizer", &err);
        goto done;
    }
    /* A context of the model's training length; n_ctx could be set smaller to save memory. */
    if (tlm_context_create(model, NULL, &ctx, &err) != TLM_OK) {
        rc = fail("context", &err);
        goto done;
    }
    int32_t n_vocab = tlm_model_get_info(model)->n_vocab;
    if (tlm_sampler_create(&sp, n_vocab, &smp, &err) != TLM_OK) {
        rc = fail("sampler", &err);
        goto done;
    }

    /* Tokenize. A prompt of n bytes never gives more than n + 2 ids (a dummy-prefix space
     * and BOS). An empty prompt still starts with BOS, so the model has something to
     * continue. */
    int32_t bos = tlm_tokenizer_bos(tok), n_ids = 0;
    bool add_bos = bos >= 0 && (tlm_tokenizer_adds_bos(tok) || !*prompt);
    int32_t cap = (int32_t)strlen(prompt) + 2;
    ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) goto done;
    tlm_status st = tlm_tokenize(tok, prompt, add_bos, ids, cap, &n_ids);
    if (st != TLM_OK || n_ids == 0) goto tokenize_failed;

    /* The detokenizer holds back the bytes of an unfinished UTF-8 character, so a stream of
     * pieces never prints half a character. It starts after the prompt's last token. */
    if (tlm_detok_create(tok, &detok) != TLM_OK) goto done;
    tlm_detok_reset(detok, ids[n_ids - 1]);
    if (*prompt) fputs(prompt, stdout);

    /* Evaluate the prompt in one call; then each sampled token is evaluated in turn. */
    if (tlm_context_eval(ctx, ids, n_ids, NULL) != TLM_OK) {
        fprintf(stderr, "eval: %s\n", tlm_context_error(ctx));
        goto done;
    }
    for (int i = 0; i < n_predict; i++) {
        int32_t next = tlm_sampler_sample(smp, tlm_context_logits(ctx));
        tlm_sampler_accept(smp, next);
        if (next == tlm_tokenizer_eos(tok)) break;
        size_t len;
        const char *text = tlm_detok_push(detok, next, &len);
        fwrite(text, 1, len, stdout);
        fflush(stdout);
        if (i + 1 == n_predict) break; /* the last token needs no evaluation */
        st = tlm_context_eval(ctx, &next, 1, NULL);
        if (st == TLM_ERR_CONTEXT_FULL) break; /* a longer text needs a larger n_ctx */
        if (st != TLM_OK) {
            fprintf(stderr, "eval: %s\n", tlm_context_error(ctx));
            goto done;
        }
    }
    size_t len;
    const char *rest = tlm_detok_flush(detok, &len);
    fwrite(rest, 1, len, stdout);
    putchar('\n');
    rc = 0;
    goto done;

tokenize_failed:
    fprintf(stderr, "tokenize: %s\n", tlm_status_string(st));
done:
    free(ids);
    tlm_detok_free(detok);
    tlm_sampler_free(smp);
    tlm_context_free(ctx);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    return rc;
}
