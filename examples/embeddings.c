/* embeddings.c - a sentence embedding from a language model: evaluate a text once, take every
 * token's final hidden state (tlm_context_eval_outputs) and mean-pool them into one vector.
 *
 *     embeddings MODEL [-z TOKENIZER] [-p TEXT] [--hidden-out FILE]
 *
 * Pooling: the plain mean over all positions of the text, BOS included, of the hidden states
 * after the final norm (the vector the LM head reads). Mean pooling is the usual choice for a
 * decoder that was not trained for embeddings; the last token's state alone is the other
 * common one. No normalisation is applied: divide by the vector's length before cosine
 * comparisons. No logits are asked for (an all-false mask), so the LM head does not run.
 *
 * Prints the token ids, the vector's size and its first values. --hidden-out writes the raw
 * rows, little-endian float32 [n_tokens][n_embd], so the result can be checked elsewhere. */
#include <stdlib.h>

#include "common.h"

int main(int argc, char **argv)
{
    const char *model_path = NULL, *tok_path = NULL, *hidden_path = NULL;
    const char *text = "Once upon a time, there was a little girl.";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-z") && v)
            tok_path = v, i++;
        else if (!strcmp(a, "-p") && v)
            text = v, i++;
        else if (!strcmp(a, "--hidden-out") && v)
            hidden_path = v, i++;
        else if (!model_path && a[0] != '-')
            model_path = a;
        else {
            fprintf(stderr, "usage: embeddings MODEL [-z TOKENIZER] [-p TEXT] "
                            "[--hidden-out FILE]\n");
            return 2;
        }
    }
    if (!model_path) return fprintf(stderr, "embeddings: no model given\n"), 2;

    tlm_error err = {0};
    tlm_model *model = NULL;
    tlm_tokenizer *tok = NULL;
    tlm_context *ctx = NULL;
    int32_t *ids = NULL;
    bool *mask = NULL;
    float *hidden = NULL, *pooled = NULL;
    int rc = 1;

    if (tlm_model_load(model_path, NULL, &model, &err) != TLM_OK) {
        rc = fail(model_path, &err);
        goto done;
    }
    if (open_tokenizer(model, tok_path, &tok, &err) != TLM_OK) {
        rc = fail("tokenizer", &err);
        goto done;
    }

    /* BOS first when the vocabulary has one, so the first word is read as a text's start. */
    int32_t n_ids = 0, cap = (int32_t)strlen(text) + 2;
    ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) goto done;
    tlm_status st = tlm_tokenize(tok, text, tlm_tokenizer_bos(tok) >= 0, ids, cap, &n_ids);
    if (st != TLM_OK || n_ids == 0) {
        fprintf(stderr, "tokenize: %s\n", tlm_status_string(st));
        goto done;
    }

    /* A context just large enough for the text, evaluated in one batch. */
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = n_ids;
    if (tlm_context_create(model, &cp, &ctx, &err) != TLM_OK) {
        rc = fail("context", &err);
        goto done;
    }
    int32_t n_embd = tlm_model_n_embd(model);
    mask = calloc((size_t)n_ids, sizeof *mask); /* all false: no logits at all */
    hidden = malloc((size_t)n_ids * (size_t)n_embd * sizeof *hidden);
    pooled = calloc((size_t)n_embd, sizeof *pooled);
    if (!mask || !hidden || !pooled) goto done;
    tlm_eval_outputs out = {.logits_mask = mask, .logits = NULL, .hidden = hidden};
    if (tlm_context_eval_outputs(ctx, ids, n_ids, &out) != TLM_OK) {
        fprintf(stderr, "eval: %s\n", tlm_context_error(ctx));
        goto done;
    }

    /* Mean pooling: sum the rows in token order, then divide once. */
    for (int32_t t = 0; t < n_ids; t++)
        for (int32_t j = 0; j < n_embd; j++)
            pooled[j] += hidden[(size_t)t * (size_t)n_embd + j];
    for (int32_t j = 0; j < n_embd; j++)
        pooled[j] /= (float)n_ids;

    printf("ids:");
    for (int32_t t = 0; t < n_ids; t++)
        printf("%s%d", t ? "," : " ", ids[t]);
    printf("\ntokens: %d\nsize: %d\nfirst:", n_ids, n_embd);
    for (int32_t j = 0; j < n_embd && j < 8; j++)
        printf(" %.6f", pooled[j]);
    printf("\n");

    if (hidden_path) {
        FILE *f = fopen(hidden_path, "wb");
        size_t n = (size_t)n_ids * (size_t)n_embd;
        if (!f || fwrite(hidden, sizeof *hidden, n, f) != n) {
            fprintf(stderr, "embeddings: cannot write %s\n", hidden_path);
            if (f) fclose(f);
            goto done;
        }
        if (fclose(f) != 0) {
            fprintf(stderr, "embeddings: cannot write %s\n", hidden_path);
            goto done;
        }
    }
    rc = 0;
done:
    free(pooled);
    free(hidden);
    free(mask);
    free(ids);
    tlm_context_free(ctx);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    return rc;
}
