/* chat.h - shared by the chat template renderer (chat.c) and the Jinja detector
 * (chat_detect.c). */
#ifndef TLM_CHAT_H
#define TLM_CHAT_H

#include <stddef.h>

#include "tinylm.h"

/* The default system message a ChatML Jinja template inserts when the conversation has none
 * (Qwen2: "You are a helpful assistant."): copied to out (at most cap - 1 bytes, terminated);
 * returns its length, or -1 when the template has none or it is not a plain literal. */
long tlm_chat_default_system(const char *jinja, char *out, size_t cap);

#endif
