/* responses.c - see responses.h. Only what text generation needs: no stored responses
 * (previous_response_id is refused), no tools, no reasoning items. Ids are the chat id's
 * hex with the API's prefixes (resp_, msg_). */
#include "responses.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD(err, param, code, ...)                                                                 \
    (oai_error_set(err, 400, "invalid_request_error", param, code, __VA_ARGS__), false)

static const cJSON *field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static bool no_memory(oai_error *err)
{
    oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
    return false;
}

/* Keeps s until oai_request_free. */
static bool own(oai_request *req, char *s)
{
    char **grown = s ? realloc(req->owned, ((size_t)req->n_owned + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(s);
        return false;
    }
    req->owned = grown;
    req->owned[req->n_owned++] = s;
    return true;
}

/* A message's content: a string, or parts of type input_text / output_text (joined). */
static bool item_text(oai_request *req, const cJSON *content, int i, const char **out,
                      oai_error *err)
{
    char param[48];
    snprintf(param, sizeof param, "input[%d].content", i);
    if (cJSON_IsString(content)) {
        *out = content->valuestring;
        return true;
    }
    if (!cJSON_IsArray(content))
        return BAD(err, param, "invalid_type",
                   "Invalid type for '%s': expected a string or an "
                   "array of input_text parts.",
                   param);
    size_t total = 0;
    int j = 0;
    for (const cJSON *p = content->child; p; p = p->next, j++) {
        const cJSON *type = cJSON_IsObject(p) ? field(p, "type") : NULL;
        const cJSON *text = cJSON_IsObject(p) ? field(p, "text") : NULL;
        bool is_text = cJSON_IsString(type) && (!strcmp(type->valuestring, "input_text") ||
                                                !strcmp(type->valuestring, "output_text"));
        if (!is_text || !cJSON_IsString(text))
            return BAD(err, param, "unsupported_value",
                       "Invalid '%s[%d]': only parts of type "
                       "'input_text' (or 'output_text') with a 'text' string are supported.",
                       param, j);
        total += strlen(text->valuestring);
    }
    char *joined = malloc(total + 1);
    if (!joined || !own(req, joined)) return no_memory(err);
    size_t at = 0;
    for (const cJSON *p = content->child; p; p = p->next) {
        size_t n = strlen(field(p, "text")->valuestring);
        memcpy(joined + at, field(p, "text")->valuestring, n);
        at += n;
    }
    joined[at] = '\0';
    *out = joined;
    return true;
}

/* input as a string, or message items; instructions first as a system message. */
static bool parse_input(const cJSON *root, const oai_limits *lim, oai_request *req, oai_error *err)
{
    const cJSON *input = field(root, "input"), *instr = field(root, "instructions");
    if (!input)
        return BAD(err, "input", "missing_required_parameter",
                   "Missing required parameter: "
                   "'input'.");
    if (instr && !cJSON_IsString(instr))
        return BAD(err, "instructions", "invalid_type",
                   "Invalid type for 'instructions': "
                   "expected a string.");
    if (!cJSON_IsString(input) && !cJSON_IsArray(input))
        return BAD(err, "input", "invalid_type",
                   "Invalid type for 'input': expected a string or "
                   "an array of message items.");
    int n = cJSON_IsString(input) ? 1 : cJSON_GetArraySize(input);
    if (n < 1) return BAD(err, "input", "empty_array", "Invalid 'input': empty array.");
    if (n + (instr ? 1 : 0) > lim->max_messages)
        return BAD(err, "input", "array_above_max_length",
                   "Invalid 'input': more than %d "
                   "messages.",
                   (int)lim->max_messages);
    req->msgs = calloc((size_t)n + 1, sizeof *req->msgs);
    if (!req->msgs) return no_memory(err);
    if (instr) req->msgs[req->n_msgs++] = (tlm_chat_message){"system", instr->valuestring};
    if (cJSON_IsString(input)) {
        req->msgs[req->n_msgs++] = (tlm_chat_message){"user", input->valuestring};
        return true;
    }
    int i = 0;
    char param[48];
    for (const cJSON *it = input->child; it; it = it->next, i++) {
        snprintf(param, sizeof param, "input[%d]", i);
        if (!cJSON_IsObject(it))
            return BAD(err, param, "invalid_type",
                       "Invalid type for '%s': expected a message "
                       "item object.",
                       param);
        const cJSON *type = field(it, "type"), *role = field(it, "role");
        if (type && !(cJSON_IsString(type) && !strcmp(type->valuestring, "message")))
            return BAD(err, param, "unsupported_value",
                       "Invalid '%s': only items of type "
                       "'message' are supported.",
                       param);
        const char *r = cJSON_IsString(role) ? role->valuestring : "";
        if (!strcmp(r, "developer")) r = "system";
        if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant"))
            return BAD(err, param, "invalid_value",
                       "Invalid '%s.role': expected 'user', "
                       "'assistant', 'system' or 'developer'.",
                       param);
        const cJSON *content = field(it, "content");
        const char *text = NULL;
        if (!content)
            return BAD(err, param, "missing_required_parameter",
                       "Missing required parameter: "
                       "'%s.content'.",
                       param);
        if (!item_text(req, content, i, &text, err)) return false;
        req->msgs[req->n_msgs++] = (tlm_chat_message){r, text};
    }
    return true;
}

static bool number(const cJSON *root, const char *name, double lo, bool lo_open, double hi,
                   double *out, oai_error *err)
{
    const cJSON *v = field(root, name);
    if (!v) return true;
    if (!cJSON_IsNumber(v) || v->valuedouble > hi || v->valuedouble < lo ||
        (lo_open && v->valuedouble == lo))
        return BAD(err, name, "invalid_value", "Invalid '%s': expected a number in %s%g, %g].",
                   name, lo_open ? "(" : "[", lo, hi);
    *out = v->valuedouble;
    return true;
}

bool resp_parse_request(const char *body, size_t len, const oai_limits *lim, oai_request *req,
                        oai_error *err)
{
    *req = (oai_request){.chat = true, .temperature = 1, .top_p = 1, .logprobs = -1};
    cJSON *root = oai_parse_json(body, len, err);
    if (!root) return false;
    req->json = root;
    if (field(root, "previous_response_id"))
        return BAD(err, "previous_response_id", "unsupported_parameter",
                   "This server stores no "
                   "responses: send the whole conversation as 'input'.");
    const cJSON *stream = field(root, "stream"), *mot = field(root, "max_output_tokens");
    if (stream && !cJSON_IsBool(stream))
        return BAD(err, "stream", "invalid_type",
                   "Invalid type for 'stream': expected a "
                   "boolean.");
    req->stream = cJSON_IsTrue(stream);
    if (mot) {
        if (!cJSON_IsNumber(mot) || mot->valuedouble < 1 || mot->valuedouble > 1e9 ||
            mot->valuedouble != (double)(int64_t)mot->valuedouble)
            return BAD(err, "max_output_tokens", "invalid_value",
                       "Invalid 'max_output_tokens': "
                       "expected an integer of at least 1.");
        req->max_tokens = (int64_t)mot->valuedouble;
    }
    return number(root, "temperature", 0, false, 2, &req->temperature, err) &&
           number(root, "top_p", 0, true, 1, &req->top_p, err) && parse_input(root, lim, req, err);
}

/* ---- output --------------------------------------------------------------------------- */

/* The hex part of the chat id ("chatcmpl-XXXX"), for resp_XXXX and msg_XXXX. */
static const char *id_hex(const oai_meta *m)
{
    const char *dash = strchr(m->id, '-');
    return dash ? dash + 1 : m->id;
}

static void text_part(buf *out, const char *text, size_t len)
{
    buf_puts(out, "{\"type\":\"output_text\",\"text\":");
    buf_json_string(out, text, len);
    buf_puts(out, ",\"annotations\":[],\"logprobs\":[]}");
}

static void message_item(buf *out, const oai_meta *m, const char *status, const char *text,
                         size_t len, bool with_part)
{
    buf_printf(out,
               "{\"id\":\"msg_%s\",\"type\":\"message\",\"status\":\"%s\","
               "\"role\":\"assistant\",\"content\":[",
               id_hex(m), status);
    if (with_part) text_part(out, text, len);
    buf_puts(out, "]}");
}

/* The response object; text NULL: no output yet (in progress). */
static void response_object(buf *out, const oai_meta *m, const char *status, const char *text,
                            size_t len, const oai_usage *u)
{
    buf_printf(out,
               "{\"id\":\"resp_%s\",\"object\":\"response\",\"created_at\":%lld,"
               "\"status\":\"%s\",\"error\":null,\"incomplete_details\":",
               id_hex(m), (long long)m->created, status);
    if (!strcmp(status, "incomplete"))
        buf_puts(out, "{\"reason\":\"max_output_tokens\"}");
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"model\":");
    buf_json_string(out, m->model, strlen(m->model));
    buf_puts(out, ",\"output\":[");
    if (text) message_item(out, m, "completed", text, len, true);
    buf_puts(out, "],\"output_text\":");
    buf_json_string(out, text ? text : "", text ? len : 0);
    buf_puts(out, ",\"parallel_tool_calls\":false,\"previous_response_id\":null,\"store\":false,"
                  "\"tool_choice\":\"none\",\"tools\":[],\"text\":{\"format\":{\"type\":"
                  "\"text\"}},\"usage\":");
    if (u)
        buf_printf(out,
                   "{\"input_tokens\":%d,\"input_tokens_details\":{\"cached_tokens\":0},"
                   "\"output_tokens\":%d,\"output_tokens_details\":{\"reasoning_tokens\":0},"
                   "\"total_tokens\":%d}",
                   (int)u->prompt_tokens, (int)u->completion_tokens,
                   (int)(u->prompt_tokens + u->completion_tokens));
    else
        buf_puts(out, "null");
    buf_puts(out, "}");
}

static const char *status_of(const char *finish_reason)
{
    return !strcmp(finish_reason, "length") ? "incomplete" : "completed";
}

void resp_json(buf *out, const oai_meta *m, const char *text, size_t len, const char *finish_reason,
               const oai_usage *u)
{
    response_object(out, m, status_of(finish_reason), text, len, u);
}

struct resp_stream {
    oai_meta meta;
    char id[64];
    char model[256];
    int seq;  /* sequence_number of the next event */
    buf text; /* everything sent so far, for the .done events */
};

resp_stream *resp_stream_create(const oai_meta *m)
{
    resp_stream *rs = calloc(1, sizeof *rs);
    if (!rs) return NULL;
    rs->meta = *m;
    snprintf(rs->id, sizeof rs->id, "%s", m->id);
    snprintf(rs->model, sizeof rs->model, "%s", m->model);
    rs->meta.id = rs->id;
    rs->meta.model = rs->model;
    return rs;
}

void resp_stream_free(resp_stream *rs)
{
    if (!rs) return;
    buf_free(&rs->text);
    free(rs);
}

/* "event: TYPE\ndata: {"type":TYPE,"sequence_number":N" ... the caller closes with "}\n\n". */
static void event_head(resp_stream *rs, buf *out, const char *type)
{
    buf_printf(out, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%d", type, type,
               rs->seq++);
}

static void item_ref(resp_stream *rs, buf *out)
{
    buf_printf(out, ",\"item_id\":\"msg_%s\",\"output_index\":0,\"content_index\":0",
               id_hex(&rs->meta));
}

void resp_stream_begin(resp_stream *rs, buf *out)
{
    event_head(rs, out, "response.created");
    buf_puts(out, ",\"response\":");
    response_object(out, &rs->meta, "in_progress", NULL, 0, NULL);
    buf_puts(out, "}\n\n");
    event_head(rs, out, "response.output_item.added");
    buf_puts(out, ",\"output_index\":0,\"item\":");
    message_item(out, &rs->meta, "in_progress", "", 0, false);
    buf_puts(out, "}\n\n");
    event_head(rs, out, "response.content_part.added");
    item_ref(rs, out);
    buf_puts(out, ",\"part\":");
    text_part(out, "", 0);
    buf_puts(out, "}\n\n");
}

void resp_stream_delta(resp_stream *rs, buf *out, const char *text, size_t len)
{
    if (!len) return;
    buf_append(&rs->text, text, len);
    event_head(rs, out, "response.output_text.delta");
    item_ref(rs, out);
    buf_puts(out, ",\"delta\":");
    buf_json_string(out, text, len);
    buf_puts(out, ",\"logprobs\":[]}\n\n");
}

void resp_stream_end(resp_stream *rs, buf *out, const char *finish_reason, const oai_usage *u)
{
    const char *t = rs->text.data ? rs->text.data : "";
    size_t n = rs->text.failed ? 0 : rs->text.len;
    event_head(rs, out, "response.output_text.done");
    item_ref(rs, out);
    buf_puts(out, ",\"text\":");
    buf_json_string(out, t, n);
    buf_puts(out, ",\"logprobs\":[]}\n\n");
    event_head(rs, out, "response.content_part.done");
    item_ref(rs, out);
    buf_puts(out, ",\"part\":");
    text_part(out, t, n);
    buf_puts(out, "}\n\n");
    event_head(rs, out, "response.output_item.done");
    buf_puts(out, ",\"output_index\":0,\"item\":");
    message_item(out, &rs->meta, "completed", t, n, true);
    buf_puts(out, "}\n\n");
    const char *status = status_of(finish_reason);
    bool done = !strcmp(status, "completed");
    event_head(rs, out, done ? "response.completed" : "response.incomplete");
    buf_puts(out, ",\"response\":");
    response_object(out, &rs->meta, status, t, n, u);
    buf_puts(out, "}\n\n");
}

void resp_stream_fail(resp_stream *rs, buf *out, const char *message)
{
    event_head(rs, out, "response.failed");
    buf_printf(out,
               ",\"response\":{\"id\":\"resp_%s\",\"object\":\"response\",\"status\":"
               "\"failed\",\"error\":{\"code\":\"server_error\",\"message\":",
               id_hex(&rs->meta));
    buf_json_string(out, message, strlen(message));
    buf_puts(out, "},\"incomplete_details\":null,\"usage\":null}}\n\n");
}
