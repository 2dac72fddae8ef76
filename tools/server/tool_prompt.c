/* tool_prompt.c - tools and tool history as chat messages.
 *
 * The format is Qwen2.5's (the ChatML template with tools, Hermes style), used for every
 * family: Qwen2's and Phi-3's published templates have no tool syntax, so for them (and the
 * others) it is the documented generic format (docs/server.md). The rewrite is on message
 * texts, which the family's template then renders with its own turn markers:
 * - the tool list: "# Tools ... <tools>\n{tool}\n...</tools> ... </tool_call>" appended to
 *   the first system message after "\n\n", or as a system message of its own when there is
 *   none (Gemma and the April Phi-3 template have no system role: before the first user
 *   message's text, then "\n\n");
 * - an assistant message's tool_calls: after its text (if any) and a newline each,
 *   "<tool_call>\n{\"name\": \"NAME\", \"arguments\": ARGS}\n</tool_call>", ARGS the
 *   arguments' JSON as Python's json.dumps writes it (the templates' tojson);
 * - a run of tool messages: one user message, each result as
 *   "<tool_response>\nCONTENT\n</tool_response>", joined by newlines. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "structured.h"

#define BAD(err, param, code, ...)                                                                 \
    (oai_error_set(err, 400, "invalid_request_error", param, code, __VA_ARGS__), false)

static void pystring(buf *out, const char *s)
{
    buf_puts(out, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            buf_puts(out, "\\\"");
            break;
        case '\\':
            buf_puts(out, "\\\\");
            break;
        case '\n':
            buf_puts(out, "\\n");
            break;
        case '\r':
            buf_puts(out, "\\r");
            break;
        case '\t':
            buf_puts(out, "\\t");
            break;
        case '\b':
            buf_puts(out, "\\b");
            break;
        case '\f':
            buf_puts(out, "\\f");
            break;
        default:
            if (*p < 0x20)
                buf_printf(out, "\\u%04x", *p);
            else
                buf_append(out, (const char *)p, 1);
        }
    }
    buf_puts(out, "\"");
}

/* A number as Python prints it: integers as integers, others in the shortest form that
 * reads back the same (repr). */
static void pynumber(buf *out, double d)
{
    if (d == floor(d) && fabs(d) < 1e15) {
        buf_printf(out, "%.0f", d);
        return;
    }
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, d);
        if (strtod(t, NULL) == d) break;
    }
    if (!strpbrk(t, ".eEn")) strcat(t, ".0");
    buf_puts(out, t);
}

void tool_pyjson(buf *out, const void *value)
{
    const cJSON *v = value;
    if (cJSON_IsNull(v) || !v)
        buf_puts(out, "null");
    else if (cJSON_IsTrue(v))
        buf_puts(out, "true");
    else if (cJSON_IsFalse(v))
        buf_puts(out, "false");
    else if (cJSON_IsNumber(v))
        pynumber(out, v->valuedouble);
    else if (cJSON_IsString(v))
        pystring(out, v->valuestring);
    else {
        bool obj = cJSON_IsObject(v);
        buf_puts(out, obj ? "{" : "[");
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child) buf_puts(out, ", ");
            if (obj) {
                pystring(out, c->string);
                buf_puts(out, ": ");
            }
            tool_pyjson(out, c);
        }
        buf_puts(out, obj ? "}" : "]");
    }
}

static void tools_block(buf *b, const cJSON *tools)
{
    buf_puts(b, "# Tools\n\nYou may call one or more functions to assist with the user query."
                "\n\nYou are provided with function signatures within <tools></tools> XML "
                "tags:\n<tools>");
    for (const cJSON *t = tools->child; t; t = t->next) {
        buf_puts(b, "\n");
        tool_pyjson(b, t);
    }
    buf_puts(b, "\n</tools>\n\nFor each function call, return a json object with function name "
                "and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
                "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
}

/* An assistant message's text followed by its tool_calls. */
static bool assistant_text(buf *b, const char *content, const cJSON *calls, int i, oai_error *err)
{
    char param[80];
    snprintf(param, sizeof param, "messages[%d].tool_calls", i);
    if (!cJSON_IsArray(calls))
        return BAD(err, param, "invalid_type", "Invalid type for '%s': expected an array.", param);
    buf_puts(b, content);
    int j = 0;
    for (const cJSON *c = calls->child; c; c = c->next, j++) {
        snprintf(param, sizeof param, "messages[%d].tool_calls[%d]", i, j);
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        if (!cJSON_IsObject(c) || !cJSON_IsObject(fn) || !cJSON_IsString(name) ||
            !cJSON_IsString(args))
            return BAD(err, param, "invalid_value",
                       "Invalid '%s': expected {\"id\", \"type\": "
                       "\"function\", \"function\": {\"name\": STRING, \"arguments\": "
                       "STRING}}.",
                       param);
        cJSON *parsed = cJSON_Parse(args->valuestring);
        if (!parsed)
            return BAD(err, param, "invalid_value",
                       "Invalid '%s': 'function.arguments' is not "
                       "JSON.",
                       param);
        if (b->len) buf_puts(b, "\n");
        buf_puts(b, "<tool_call>\n{\"name\": \"");
        buf_puts(b, name->valuestring);
        buf_puts(b, "\", \"arguments\": ");
        tool_pyjson(b, parsed);
        buf_puts(b, "}\n</tool_call>");
        cJSON_Delete(parsed);
    }
    return true;
}

static bool keep(structured *s, buf *b, const char **out, oai_error *err)
{
    buf_append(b, "", 0);
    char *text = b->failed ? NULL : b->data;
    if (!text) buf_free(b);
    *b = (buf){0};
    if (!text || !structured_own(s, text)) {
        oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    *out = text;
    return true;
}

bool tool_prompt_rewrite(structured *s, oai_request *req, const void *tools_json,
                         tlm_chat_template chat, oai_error *err)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req->json, "messages");
    bool any = s->mode != TOOLS_OFF;
    for (int32_t i = 0; i < req->n_msgs && !any; i++)
        any = !strcmp(req->msgs[i].role, "tool") ||
              cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(msgs, i), "tool_calls");
    if (!any) return true;
    tlm_chat_message *out = calloc((size_t)req->n_msgs + 1, sizeof *out);
    if (!out) {
        oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    int32_t n = 0;
    buf b = {0};
    bool ok = true;
    const cJSON *m = msgs->child;
    for (int32_t i = 0; i < req->n_msgs && ok; i++, m = m->next) {
        const char *role = req->msgs[i].role, *content = req->msgs[i].content;
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        if (!strcmp(role, "tool")) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
            if (!cJSON_IsString(id)) {
                char param[64];
                snprintf(param, sizeof param, "messages[%d].tool_call_id", (int)i);
                ok = BAD(err, param, "missing_required_parameter",
                         "Missing required "
                         "parameter: '%s' (a string).",
                         param);
                break;
            }
            bool first = i == 0 || strcmp(req->msgs[i - 1].role, "tool");
            if (!first) buf_puts(&b, "\n");
            buf_puts(&b, "<tool_response>\n");
            buf_puts(&b, content);
            buf_puts(&b, "\n</tool_response>");
            bool last = i + 1 == req->n_msgs || strcmp(req->msgs[i + 1].role, "tool");
            if (last) {
                out[n].role = "user";
                ok = keep(s, &b, &out[n++].content, err);
            }
        } else if (!strcmp(role, "assistant") && calls && !cJSON_IsNull(calls)) {
            ok = assistant_text(&b, content, calls, (int)i, err);
            out[n].role = "assistant";
            if (ok) ok = keep(s, &b, &out[n++].content, err);
        } else {
            out[n++] = req->msgs[i];
        }
    }
    buf_free(&b);
    if (ok && s->mode != TOOLS_OFF) { /* the tool list */
        bool sys_role = chat != TLM_CHAT_GEMMA && chat != TLM_CHAT_PHI3_NOSYS;
        bool has_sys = n > 0 && !strcmp(out[0].role, "system");
        if (has_sys && sys_role) {
            buf_puts(&b, out[0].content);
            buf_puts(&b, "\n\n");
            tools_block(&b, tools_json);
            ok = keep(s, &b, &out[0].content, err);
        } else if (sys_role) {
            memmove(out + 1, out, (size_t)n * sizeof *out);
            n++;
            out[0].role = "system";
            tools_block(&b, tools_json);
            ok = keep(s, &b, &out[0].content, err);
        } else {
            int32_t u = 0;
            while (u < n && strcmp(out[u].role, "user"))
                u++;
            if (u < n) {
                tools_block(&b, tools_json);
                buf_puts(&b, "\n\n");
                buf_puts(&b, out[u].content);
                ok = keep(s, &b, &out[u].content, err);
            }
        }
    }
    if (!ok) {
        free(out);
        return false;
    }
    free(req->msgs);
    req->msgs = out;
    req->n_msgs = n;
    return true;
}
