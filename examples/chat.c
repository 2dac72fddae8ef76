/* chat.c - a multi-turn conversation with a chat template, keeping the KV cache between
 * turns so each turn evaluates only its new tokens.
 *
 *     chat MODEL [-z TOKENIZER] [--template NAME] [--system TEXT] [-n TOKENS] USER...
 *
 * Each USER argument is one user turn. The template is the model's own (its Jinja text
 * recognised by tlm_chat_template_detect) unless --template names one ("zephyr", "chatml",
 * ...). Replies are greedy. Each reply is printed as "assistant: TEXT"; at the end the whole
 * conversation is printed as the template renders it, after a line "---". */
#include <stdlib.h>

#include "common.h"

/* The ids of the first turn (the whole conversation so far) or of a later one (the end of
 * the previous reply, then the new messages), with the generation prompt. NULL after a
 * message. Sizes are asked first: cap 0 gives the count needed. */
static int32_t *turn_ids(tlm_chat_template t, const tlm_tokenizer *tok,
                         const tlm_chat_message *msgs, int32_t n, bool first, int32_t *count)
{
    tlm_error err = {0};
    int32_t need = 0;
    if (first)
        tlm_chat_tokenize(t, tok, msgs, n, true, NULL, 0, &need, &err);
    else
        tlm_chat_tokenize_continue(t, tok, msgs, n, NULL, 0, &need, &err);
    int32_t *ids = malloc((size_t)(need > 0 ? need : 1) * sizeof *ids);
    tlm_status st = !ids    ? TLM_ERR_NO_MEMORY
                    : first ? tlm_chat_tokenize(t, tok, msgs, n, true, ids, need, count, &err)
                            : tlm_chat_tokenize_continue(t, tok, msgs, n, ids, need, count, &err);
    if (st == TLM_OK) return ids;
    fprintf(stderr, "chat tokenize: %s\n", err.message);
    free(ids);
    return NULL;
}

/* Samples greedily until a stop token of the template or n_predict tokens, evaluating each
 * token of the reply (not the stop token: the next turn's ids begin with it). The reply's
 * text goes to `out` (cap bytes, terminated). */
static tlm_status reply(tlm_context *ctx, const tlm_tokenizer *tok, tlm_chat_template t,
                        tlm_detok *detok, int n_predict, char *out, size_t cap)
{
    size_t used = 0, len;
    const char *text;
    int32_t n_vocab = tlm_tokenizer_n_vocab(tok);
    for (int i = 0; i < n_predict; i++) {
        const float *logits = tlm_context_logits(ctx);
        int32_t next = 0;
        for (int32_t v = 1; v < n_vocab; v++) /* greedy: the first largest logit */
            if (logits[v] > logits[next]) next = v;
        if (tlm_chat_is_stop(t, tok, next)) break;
        text = tlm_detok_push(detok, next, &len);
        if (used + len < cap) memcpy(out + used, text, len), used += len;
        tlm_status st = tlm_context_eval(ctx, &next, 1, NULL);
        if (st != TLM_OK) return st;
    }
    text = tlm_detok_flush(detok, &len);
    if (used + len < cap) memcpy(out + used, text, len), used += len;
    out[used] = '\0';
    return TLM_OK;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *tok_path = NULL, *template_name = NULL, *system = NULL;
    const char *users[16];
    int n_users = 0, n_predict = 32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-z") && v)
            tok_path = v, i++;
        else if (!strcmp(a, "--template") && v)
            template_name = v, i++;
        else if (!strcmp(a, "--system") && v)
            system = v, i++;
        else if (!strcmp(a, "-n") && v)
            n_predict = atoi(v), i++;
        else if (!model_path && a[0] != '-')
            model_path = a;
        else if (a[0] != '-' && n_users < 16)
            users[n_users++] = a;
        else {
            fprintf(stderr, "usage: chat MODEL [-z TOKENIZER] [--template NAME] [--system TEXT] "
                            "[-n TOKENS] USER...\n");
            return 2;
        }
    }
    if (!model_path || n_users == 0) return fprintf(stderr, "chat: need a model and a turn\n"), 2;

    tlm_error err = {0};
    tlm_model *model = NULL;
    tlm_tokenizer *tok = NULL;
    tlm_context *ctx = NULL;
    tlm_detok *detok = NULL;
    /* the conversation: system, then user and assistant turns; replies live in `replies` */
    tlm_chat_message msgs[1 + 2 * 16];
    static char replies[16][4096];
    int32_t n_msgs = 0;
    char *rendered = NULL;
    int rc = 1;

    if (tlm_model_load(model_path, NULL, &model, &err) != TLM_OK) {
        rc = fail(model_path, &err);
        goto done;
    }
    if (open_tokenizer(model, tok_path, &tok, &err) != TLM_OK) {
        rc = fail("tokenizer", &err);
        goto done;
    }
    /* The template: named, or recognised from the Jinja text the vocabulary carries. */
    tlm_chat_template t = TLM_CHAT_UNKNOWN;
    if (template_name) {
        t = tlm_chat_template_from_name(template_name);
        if (t == TLM_CHAT_UNKNOWN) {
            fprintf(stderr, "chat: no template named '%s'\n", template_name);
            goto done;
        }
    } else {
        const char *jinja = tlm_tokenizer_chat_template(tok);
        if (!jinja) {
            fprintf(stderr, "chat: the model has no chat template; name one with --template\n");
            goto done;
        }
        if (tlm_chat_template_detect(jinja, &t, &err) != TLM_OK) {
            rc = fail("template", &err);
            goto done;
        }
    }
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = 2048 < tlm_model_get_info(model)->n_ctx_train
                   ? 2048
                   : tlm_model_get_info(model)->n_ctx_train;
    if (tlm_context_create(model, &cp, &ctx, &err) != TLM_OK) {
        rc = fail("context", &err);
        goto done;
    }
    if (tlm_detok_create(tok, &detok) != TLM_OK) goto done;

    if (system) msgs[n_msgs++] = (tlm_chat_message){"system", system};
    for (int u = 0; u < n_users; u++) {
        /* first turn: everything so far; later turns: only the new user message */
        int32_t first_new = u == 0 ? 0 : n_msgs;
        msgs[n_msgs++] = (tlm_chat_message){"user", users[u]};
        int32_t count = 0;
        int32_t *ids = turn_ids(t, tok, msgs + first_new, n_msgs - first_new, u == 0, &count);
        if (!ids) goto done;
        tlm_status st = tlm_context_eval(ctx, ids, count, NULL);
        tlm_detok_reset(detok, ids[count - 1]);
        free(ids);
        if (st == TLM_OK) st = reply(ctx, tok, t, detok, n_predict, replies[u], sizeof replies[u]);
        if (st != TLM_OK) {
            fprintf(stderr, "eval: %s\n", tlm_context_error(ctx));
            goto done;
        }
        printf("assistant: %s\n", replies[u]);
        msgs[n_msgs++] = (tlm_chat_message){"assistant", replies[u]};
    }

    /* The conversation as text, the template's own rendering (no generation prompt). */
    size_t len = 0;
    tlm_chat_render(t, tok, msgs, n_msgs, false, NULL, 0, &len, &err);
    rendered = malloc(len + 1);
    if (!rendered ||
        tlm_chat_render(t, tok, msgs, n_msgs, false, rendered, len + 1, &len, &err) != TLM_OK) {
        rc = fail("render", &err);
        goto done;
    }
    printf("---\n%s", rendered);
    rc = 0;
done:
    free(rendered);
    tlm_detok_free(detok);
    tlm_context_free(ctx);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    return rc;
}
