/* prompt.c - request → prompt ids and a token budget. A completion's text is tokenized as
 * tlm-generate -p does (BOS when the vocabulary asks for it, or for an empty prompt); ids are
 * used as given; a chat is rendered with the model's template by tlm_chat_tokenize. */
#include "prompt.h"

#include <stdlib.h>
#include <string.h>

static bool no_memory(oai_error *err)
{
    oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
    return false;
}

static bool chat_ids(const oai_request *req, const prompt_env *env, int32_t **ids, int32_t *n,
                     oai_error *err)
{
    if (env->chat == TLM_CHAT_UNKNOWN) {
        oai_error_set(err, 400, "invalid_request_error", NULL, "no_chat_template",
                      "This model "
                      "has no known chat template: use /v1/completions, or start the server "
                      "with --template NAME.");
        return false;
    }
    int32_t need = 0;
    tlm_error e = {0};
    tlm_status st =
        tlm_chat_tokenize(env->chat, env->tok, req->msgs, req->n_msgs, true, NULL, 0, &need, &e);
    if (st == TLM_OK || (st == TLM_ERR_BUFFER_TOO_SMALL && need > 0)) {
        if (!(*ids = malloc(((size_t)need + 1) * sizeof **ids))) return no_memory(err);
        st =
            tlm_chat_tokenize(env->chat, env->tok, req->msgs, req->n_msgs, true, *ids, need, n, &e);
    }
    if (st == TLM_OK) return true;
    free(*ids);
    *ids = NULL;
    if (st == TLM_ERR_NO_MEMORY) return no_memory(err);
    /* a role order or a system message the template cannot express */
    oai_error_set(err, 400, "invalid_request_error", "messages", "invalid_value",
                  "The %s chat template cannot render these messages: %s",
                  tlm_chat_template_name(env->chat), e.message);
    return false;
}

static bool text_ids(const char *text, const prompt_env *env, int32_t **ids, int32_t *n,
                     oai_error *err)
{
    int32_t bos = tlm_tokenizer_bos(env->tok);
    bool add_bos = bos >= 0 && (tlm_tokenizer_adds_bos(env->tok) || !*text);
    size_t cap = strlen(text) + 3; /* at most a token per byte, plus BOS */
    if (!(*ids = malloc(cap * sizeof **ids))) return no_memory(err);
    if (tlm_tokenize(env->tok, text, add_bos, *ids, (int32_t)cap, n) == TLM_OK && *n > 0)
        return true;
    free(*ids);
    *ids = NULL;
    oai_error_set(err, 400, "invalid_request_error", "prompt", "invalid_value",
                  *text ? "The prompt could not be tokenized."
                        : "The prompt is empty and this "
                          "model has no BOS token to start from.");
    return false;
}

bool prompt_build(const oai_request *req, const prompt_env *env, int32_t **ids, int32_t *n,
                  int32_t *max_tokens, oai_error *err)
{
    *ids = NULL;
    *n = 0;
    bool ok;
    if (req->chat) {
        ok = chat_ids(req, env, ids, n, err);
    } else if (req->prompt) {
        ok = text_ids(req->prompt, env, ids, n, err);
    } else {
        ok = (*ids = malloc((size_t)req->n_prompt_ids * sizeof **ids)) != NULL;
        if (ok)
            memcpy(*ids, req->prompt_ids, (size_t)req->n_prompt_ids * sizeof **ids);
        else
            no_memory(err);
        *n = req->n_prompt_ids;
    }
    if (!ok) return false;
    const char *what = req->chat ? "messages" : "prompt";
    if (*n >= env->n_ctx) {
        oai_error_set(err, 400, "invalid_request_error", what, "context_length_exceeded",
                      "This model's maximum context length is %d tokens. However, your %s "
                      "resulted in %d tokens.",
                      (int)env->n_ctx, what, (int)*n);
    } else if (req->max_tokens > env->max_tokens_limit) {
        oai_error_set(err, 400, "invalid_request_error", "max_tokens", "invalid_value",
                      "max_tokens is too large: %lld. This server allows at most %d.",
                      (long long)req->max_tokens, (int)env->max_tokens_limit);
    } else if (req->max_tokens > env->n_ctx - *n) {
        oai_error_set(err, 400, "invalid_request_error", what, "context_length_exceeded",
                      "This model's maximum context length is %d tokens. However, you requested "
                      "%lld tokens (%d in the %s, %lld in the completion).",
                      (int)env->n_ctx, (long long)(*n + req->max_tokens), (int)*n, what,
                      (long long)req->max_tokens);
    } else {
        int32_t room = env->n_ctx - *n;
        *max_tokens = req->max_tokens                ? (int32_t)req->max_tokens
                      : room < env->max_tokens_limit ? room
                                                     : env->max_tokens_limit;
        return true;
    }
    free(*ids);
    *ids = NULL;
    return false;
}
