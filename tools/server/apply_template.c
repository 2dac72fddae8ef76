/* apply_template.c - POST /apply-template, as llama-server has it: a chat request's messages
 * (with tools, tool_calls and tool results, rewritten as for generation) rendered by the
 * server's chat template into {"prompt": TEXT}. Nothing is generated; it shows exactly what
 * the model would be given. */
#include <stdlib.h>

#include "apply_template.h"
#include "structured.h"

bool apply_template_json(const prompt_env *env, int32_t max_messages, int32_t n_vocab,
                         const char *body, size_t len, buf *out, oai_error *err)
{
    if (env->chat == TLM_CHAT_UNKNOWN) {
        oai_error_set(err, 400, "invalid_request_error", NULL, "no_chat_template",
                      "This model "
                      "has no known chat template: start the server with --template NAME.");
        return false;
    }
    oai_limits lim = {.max_messages = max_messages, .n_vocab = n_vocab};
    oai_request req;
    structured sx = {0};
    bool ok = oai_parse_request(body, len, true, &lim, &req, err) &&
              structured_prepare(&sx, &req, env->chat, err);
    size_t need = 0;
    char *text = NULL;
    tlm_error te = {0};
    tlm_status st = TLM_OK;
    if (ok) {
        st = tlm_chat_render(env->chat, env->tok, req.msgs, req.n_msgs, true, NULL, 0, &need, &te);
        if (st == TLM_OK || st == TLM_ERR_BUFFER_TOO_SMALL) {
            st = (text = malloc(need + 1))
                     ? tlm_chat_render(env->chat, env->tok, req.msgs, req.n_msgs, true, text,
                                       need + 1, &need, &te)
                     : TLM_ERR_NO_MEMORY;
        }
        if (st != TLM_OK) {
            ok = false;
            oai_error_set(err, 400, "invalid_request_error", "messages", "invalid_value",
                          "The %s chat template cannot render these messages: %s",
                          tlm_chat_template_name(env->chat), te.message);
        }
    }
    if (ok) {
        buf_puts(out, "{\"prompt\":");
        buf_json_string(out, text, need);
        buf_puts(out, "}");
    }
    free(text);
    structured_free(&sx);
    oai_request_free(&req);
    return ok;
}
