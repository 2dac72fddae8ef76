/* apply_template.h - POST /apply-template: a chat's prompt text, rendered as for generation. */
#ifndef TLM_SERVER_APPLY_TEMPLATE_H
#define TLM_SERVER_APPLY_TEMPLATE_H

#include "prompt.h"

/* {"prompt": TEXT} into *out; false with *err (400) for a request the chat endpoint refuses
 * too. */
bool apply_template_json(const prompt_env *env, int32_t max_messages, int32_t n_vocab,
                         const char *body, size_t len, buf *out, oai_error *err);

#endif
