/* tool_reply.c - tool calls out of generated text, in the API's response and stream shapes.
 *
 * A call is "<tool_call>" JSON "</tool_call>" (white space around the JSON allowed), the JSON
 * an object {"name": a tool's name, "arguments": an object}; calls may follow each other
 * (white space between). Text before the first call is the message's content (white space
 * at its end dropped; null when nothing is left). When any call is incomplete or invalid
 * the reply has no tool_calls at all: with tool_choice "auto" the whole text is the content,
 * with a forced call (its grammar guarantees validity, so only max_tokens or a stop string
 * can cut it) the content is null and finish_reason says why ("length"). A tool_calls entry
 * is therefore never broken, in a whole response or in a stream: a stream holds a call back
 * until the generation ends. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "structured.h"

#define OPEN "<tool_call>"
#define CLOSE "</tool_call>"
#define MAX_CALLS 16
#define PIECE 24 /* bytes of arguments per stream delta */

typedef struct call {
    const char *name; /* one of the tools' names */
    char *args;       /* the arguments object, compact JSON (malloc'd) */
} call;

static const char *find(const char *s, size_t n, const char *what)
{
    size_t k = strlen(what);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, what, k)) return s + i;
    return NULL;
}

static bool blank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static void free_calls(call *calls, int n)
{
    for (int i = 0; i < n; i++)
        cJSON_free(calls[i].args);
}

/* The calls in text[0..n) (0 when there is none or one is not valid); *before gets the
 * length of the content before the first call. */
static int parse_calls(const structured *s, const char *text, size_t n, call *calls, size_t *before)
{
    const char *p = find(text, n, OPEN), *end = text + n;
    if (!p) return 0;
    size_t b = (size_t)(p - text);
    while (b > 0 && blank(text[b - 1]))
        b--;
    *before = b;
    int k = 0;
    while (p) {
        p += strlen(OPEN);
        const char *q = find(p, (size_t)(end - p), CLOSE);
        cJSON *j = q && k < MAX_CALLS ? cJSON_ParseWithLength(p, (size_t)(q - p)) : NULL;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(j, "arguments");
        const char *known = NULL;
        for (int32_t t = 0; cJSON_IsString(name) && t < s->n_tools && !known; t++)
            if (!strcmp(s->names[t], name->valuestring)) known = s->names[t];
        char *compact = known && cJSON_IsObject(args) && cJSON_GetArraySize(j) == 2
                            ? cJSON_PrintUnformatted(args)
                            : NULL;
        cJSON_Delete(j);
        if (!compact) {
            free_calls(calls, k);
            return 0;
        }
        calls[k++] = (call){known, compact};
        p = q + strlen(CLOSE);
        while (p < end && blank(*p))
            p++;
        if (p == end) break;
        if ((size_t)(end - p) < strlen(OPEN) || memcmp(p, OPEN, strlen(OPEN))) break;
    }
    return k;
}

static void call_id(buf *out, const oai_meta *m, int i)
{
    const char *dash = strchr(m->id, '-');
    buf_printf(out, "\"call_%s_%d\"", dash ? dash + 1 : m->id, i);
}

static void head(buf *out, const oai_meta *m, const char *object)
{
    buf_puts(out, "{\"id\":");
    buf_json_string(out, m->id, strlen(m->id));
    buf_printf(out, ",\"object\":\"%s\",\"created\":%lld,\"model\":", object,
               (long long)m->created);
    buf_json_string(out, m->model, strlen(m->model));
}

/* A whole response with content (NULL: null) and calls. */
static void message_json(buf *out, const oai_meta *m, const char *content, size_t len,
                         const call *calls, int n, const char *finish, const oai_usage *u)
{
    head(out, m, "chat.completion");
    buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    if (content)
        buf_json_string(out, content, len);
    else
        buf_puts(out, "null");
    if (n) {
        buf_puts(out, ",\"tool_calls\":[");
        for (int i = 0; i < n; i++) {
            buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
            call_id(out, m, i);
            buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
            buf_json_string(out, calls[i].name, strlen(calls[i].name));
            buf_puts(out, ",\"arguments\":");
            buf_json_string(out, calls[i].args, strlen(calls[i].args));
            buf_puts(out, "}}");
        }
        buf_puts(out, "]");
    }
    buf_printf(out,
               ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"%s\"}],"
               "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d},"
               "\"system_fingerprint\":null}",
               finish, (int)u->prompt_tokens, (int)u->completion_tokens,
               (int)(u->prompt_tokens + u->completion_tokens));
}

void structured_response_json(structured *s, buf *out, const oai_meta *m, const char *text,
                              size_t len, const char *finish_reason, const oai_usage *u)
{
    call calls[MAX_CALLS];
    size_t before = 0;
    int n = s->mode != TOOLS_OFF ? parse_calls(s, text, len, calls, &before) : 0;
    if (n) {
        message_json(out, m, before ? text : NULL, before, calls, n, "tool_calls", u);
        free_calls(calls, n);
    } else if (s->mode == TOOLS_FORCED) {
        message_json(out, m, NULL, 0, NULL, 0, finish_reason, u);
    } else {
        oai_response_json(out, m, text, len, finish_reason, u);
    }
}

/* ---- streaming ------------------------------------------------------------------------ */

static void delta_open(buf *out, const oai_meta *m, int i)
{
    buf_puts(out, "data: ");
    head(out, m, "chat.completion.chunk");
    buf_printf(out, ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,", i);
}

static void delta_close(buf *out, bool with_usage)
{
    buf_puts(out, "}]},\"logprobs\":null,\"finish_reason\":null}]");
    if (with_usage) buf_puts(out, ",\"usage\":null");
    buf_puts(out, "}\n\n");
}

/* Sends held[0..n) as content and drops it, with the blanks after it. */
static void send_content(structured *s, buf *out, const oai_meta *m, size_t n, size_t drop,
                         bool with_usage)
{
    if (n) oai_chunk_sse(out, m, NULL, s->held.data, n, NULL, with_usage);
    memmove(s->held.data, s->held.data + drop, s->held.len - drop);
    s->held.len -= drop;
}

void structured_stream_text(structured *s, buf *out, const oai_meta *m, const char *text,
                            size_t len, bool with_usage)
{
    buf_append(&s->held, text, len);
    if (s->in_call || s->held.failed || !s->held.len) return;
    const char *h = s->held.data, *p = find(h, s->held.len, OPEN);
    size_t keep_from = s->held.len;
    if (p) {
        keep_from = (size_t)(p - h);
        s->in_call = true;
    } else { /* hold a tail that may start "<tool_call>" */
        for (size_t k = strlen(OPEN) - 1; k > 0; k--)
            if (k <= s->held.len && !memcmp(h + s->held.len - k, OPEN, k)) {
                keep_from = s->held.len - k;
                break;
            }
    }
    size_t n = keep_from;
    while (n > 0 && blank(h[n - 1]))
        n--; /* blanks before a call are not content */
    send_content(s, out, m, n, p ? keep_from : n, with_usage);
}

const char *structured_stream_end(structured *s, buf *out, const oai_meta *m,
                                  const char *finish_reason, bool with_usage)
{
    call calls[MAX_CALLS];
    size_t before = 0;
    int n = s->in_call ? parse_calls(s, s->held.data, s->held.len, calls, &before) : 0;
    if (n) {
        for (int i = 0; i < n; i++) {
            delta_open(out, m, i);
            buf_puts(out, "\"id\":");
            call_id(out, m, i);
            buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
            buf_json_string(out, calls[i].name, strlen(calls[i].name));
            buf_puts(out, ",\"arguments\":\"\"}");
            delta_close(out, with_usage);
            const char *a = calls[i].args;
            for (size_t at = 0, len = strlen(a); at < len;) {
                size_t k = len - at < PIECE ? len - at : PIECE;
                while (at + k < len && ((unsigned char)a[at + k] & 0xc0) == 0x80)
                    k++;
                delta_open(out, m, i);
                buf_puts(out, "\"function\":{\"arguments\":");
                buf_json_string(out, a + at, k);
                buf_puts(out, "}");
                delta_close(out, with_usage);
                at += k;
            }
        }
        free_calls(calls, n);
        return "tool_calls";
    }
    if (s->mode != TOOLS_FORCED && s->held.len) /* no call after all: it was text */
        oai_chunk_sse(out, m, NULL, s->held.data, s->held.len, NULL, with_usage);
    s->held.len = 0;
    return finish_reason;
}
