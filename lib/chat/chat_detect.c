/* chat_detect.c - names of the chat templates, and which one a Jinja text is.
 *
 * libtinylm does not run Jinja: each known template is written out in chat.c. A model's own
 * template text is recognised by markers no other known template has; anything else is
 * reported as unknown (never replaced by a guess). The markers, per template:
 *   gemma        <start_of_turn>
 *   chatml       <|im_start|> and <|im_end|>
 *   phi3         <|user|>, <|end|>, <|assistant|> and <|system|>
 *   phi3-nosys   <|user|>, <|end|>, <|assistant|>, bos_token, and no <|system|>
 *   zephyr       <|user|>, <|assistant|>, <|system|>, eos_token, and no <|end|>
 *   phi2         Instruct: and Output: */
#include "chat.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *const names[] = {
    [TLM_CHAT_UNKNOWN] = "unknown",
    [TLM_CHAT_ZEPHYR] = "zephyr",
    [TLM_CHAT_PHI2] = "phi2",
    [TLM_CHAT_PHI3] = "phi3",
    [TLM_CHAT_PHI3_NOSYS] = "phi3-nosys",
    [TLM_CHAT_GEMMA] = "gemma",
    [TLM_CHAT_CHATML] = "chatml",
    [TLM_CHAT_QWEN] = "qwen",
};

TLM_API const char *tlm_chat_template_name(tlm_chat_template t)
{
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

TLM_API tlm_chat_template tlm_chat_template_from_name(const char *name)
{
    for (unsigned t = 1; name && t < sizeof names / sizeof names[0]; t++)
        if (strcmp(names[t], name) == 0) return (tlm_chat_template)t;
    return TLM_CHAT_UNKNOWN;
}

static bool has(const char *s, const char *marker) { return strstr(s, marker) != NULL; }

TLM_API tlm_status tlm_chat_template_detect(const char *jinja, tlm_chat_template *out,
                                            tlm_error *err)
{
    if (out) *out = TLM_CHAT_UNKNOWN;
    if (!jinja || !out)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_chat_template_detect: NULL argument");
    tlm_chat_template t = TLM_CHAT_UNKNOWN;
    if (has(jinja, "<start_of_turn>"))
        t = TLM_CHAT_GEMMA;
    else if (has(jinja, "<|im_start|>") && has(jinja, "<|im_end|>"))
        t = TLM_CHAT_CHATML;
    else if (has(jinja, "<|user|>") && has(jinja, "<|end|>") && has(jinja, "<|assistant|>"))
        t = has(jinja, "<|system|>")  ? TLM_CHAT_PHI3
            : has(jinja, "bos_token") ? TLM_CHAT_PHI3_NOSYS
                                      : TLM_CHAT_UNKNOWN;
    else if (has(jinja, "<|user|>") && has(jinja, "<|assistant|>") && has(jinja, "<|system|>") &&
             has(jinja, "eos_token"))
        t = TLM_CHAT_ZEPHYR;
    else if (has(jinja, "Instruct:") && has(jinja, "Output:"))
        t = TLM_CHAT_PHI2;
    if (t == TLM_CHAT_UNKNOWN) {
        /* Quote the start on one line, so the user can tell which template it is. */
        char head[61];
        size_t n = 0;
        for (const char *p = jinja; *p && n < sizeof head - 1; p++)
            head[n++] = *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p;
        head[n] = '\0';
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "unknown chat template (%zu bytes, starting "
                        "\"%s\"); choose one of zephyr, phi2, phi3, phi3-nosys, gemma, chatml, "
                        "qwen explicitly",
                        strlen(jinja), head);
    }
    *out = t;
    return TLM_OK;
}

long tlm_chat_default_system(const char *jinja, char *out, size_t cap)
{
    if (!jinja || cap == 0) return -1;
    const char *p = strstr(jinja, "<|im_start|>system");
    if (!p) return -1;
    p += strlen("<|im_start|>system");
    /* The newline is a real one (JSON-decoded) or a Jinja escape \n. */
    if (*p == '\n')
        p += 1;
    else if (p[0] == '\\' && p[1] == 'n')
        p += 2;
    else
        return -1; /* e.g. '<|im_start|>system\n' + message['content'] */
    const char *end = strstr(p, "<|im_end|>");
    if (!end) return -1;
    /* Only a plain literal: no quote, expression or escape inside. */
    size_t n = (size_t)(end - p);
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\'' || p[i] == '"' || p[i] == '{' || p[i] == '}' || p[i] == '\\' ||
            p[i] == '+')
            return -1;
    if (n >= cap) return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return (long)n;
}
