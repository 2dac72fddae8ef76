/* openai.c - request validation and response JSON in the OpenAI API's shapes. Requests are
 * parsed with cJSON; responses are written by hand (buf_json_string) so generated text with
 * any bytes, NUL included, is escaped exactly. */
#include "openai.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_MAX_BYTES 1024 /* tlm_stop_create's limit per string */
#define LOGIT_BIAS_MAX 1024 /* entries; the API allows a few hundred */

void oai_error_set(oai_error *e, int status, const char *type, const char *param, const char *code,
                   const char *fmt, ...)
{
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* 400 invalid_request_error, the common case. */
#define BAD(err, param, code, ...)                                                                 \
    (oai_error_set(err, 400, "invalid_request_error", param, code, __VA_ARGS__), false)

void oai_error_json(buf *out, const oai_error *e)
{
    buf_puts(out, "{\"error\":{\"message\":");
    buf_json_string(out, e->message, strlen(e->message));
    buf_puts(out, ",\"type\":");
    buf_json_string(out, e->type, strlen(e->type));
    buf_puts(out, ",\"param\":");
    if (e->param[0])
        buf_json_string(out, e->param, strlen(e->param));
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"code\":");
    if (e->code)
        buf_json_string(out, e->code, strlen(e->code));
    else
        buf_puts(out, "null");
    buf_puts(out, "}}");
}

bool oai_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf)
            k = 1;
        else if (c == 0xe0)
            k = 2, lo = 0xa0;
        else if (c == 0xed)
            k = 2, hi = 0x9f; /* no surrogates */
        else if (c >= 0xe1 && c <= 0xef)
            k = 2;
        else if (c == 0xf0)
            k = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            k = 3;
        else if (c == 0xf4)
            k = 3, hi = 0x8f;
        else
            return false;
        if (n - i <= k) return false;
        if (p[i + 1] < lo || p[i + 1] > hi) return false;
        for (size_t j = 2; j <= k; j++)
            if ((p[i + j] & 0xc0) != 0x80) return false;
        i += k + 1;
    }
    return true;
}

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    return "an object";
}

static const cJSON *field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return v && !cJSON_IsNull(v) ? v : NULL; /* null means "not given", as in the API */
}

/* A number in [lo, hi] (open at lo when lo_open); absent: *out keeps its default. */
static bool get_number(const cJSON *obj, const char *name, double lo, bool lo_open, double hi,
                       double *out, oai_error *err)
{
    const cJSON *v = field(obj, name);
    if (!v) return true;
    if (!cJSON_IsNumber(v))
        return BAD(err, name, "invalid_type",
                   "Invalid type for '%s': expected a number, but got "
                   "%s instead.",
                   name, json_type_name(v));
    double d = v->valuedouble;
    if (!isfinite(d) || d < lo || (lo_open && d == lo) || d > hi)
        return BAD(err, name, "invalid_value",
                   "Invalid value for '%s': expected a number in "
                   "%s%g, %g], got %g.",
                   name, lo_open ? "(" : "[", lo, hi, d);
    *out = d;
    return true;
}

/* A whole number in [lo, hi]; *given says whether the field was there. */
static bool get_int(const cJSON *obj, const char *name, double lo, double hi, int64_t *out,
                    bool *given, oai_error *err)
{
    const cJSON *v = field(obj, name);
    if (given) *given = v != NULL;
    if (!v) return true;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || !isfinite(v->valuedouble))
        return BAD(err, name, "invalid_type",
                   "Invalid type for '%s': expected an integer, but "
                   "got %s instead.",
                   name, cJSON_IsNumber(v) ? "a decimal" : json_type_name(v));
    double d = v->valuedouble;
    if (d < lo || d > hi)
        return BAD(err, name, "invalid_value",
                   "Invalid value for '%s': expected an integer in "
                   "[%.0f, %.0f], got %g.",
                   name, lo, hi, d);
    *out = (int64_t)d;
    return true;
}

static bool get_bool(const cJSON *obj, const char *name, bool *out, oai_error *err)
{
    const cJSON *v = field(obj, name);
    if (!v) return true;
    if (!cJSON_IsBool(v))
        return BAD(err, name, "invalid_type",
                   "Invalid type for '%s': expected a boolean, but got "
                   "%s instead.",
                   name, json_type_name(v));
    *out = cJSON_IsTrue(v);
    return true;
}

/* Keeps a malloc'd string until oai_request_free. */
static char *own(oai_request *req, char *s)
{
    char **grown = realloc(req->owned, ((size_t)req->n_owned + 1) * sizeof *grown);
    if (!grown) {
        free(s);
        return NULL;
    }
    req->owned = grown;
    req->owned[req->n_owned++] = s;
    return s;
}

/* A message's content: a string, or an array of {"type": "text", "text": ...} parts, which
 * are joined without a separator. */
static bool parse_content(oai_request *req, const cJSON *content, int i, const char **out,
                          oai_error *err)
{
    char param[64];
    snprintf(param, sizeof param, "messages[%d].content", i);
    if (cJSON_IsString(content)) {
        *out = content->valuestring;
        return true;
    }
    if (!cJSON_IsArray(content))
        return BAD(err, param, "invalid_type",
                   "Invalid type for '%s': expected a string or an "
                   "array of content parts, but got %s instead.",
                   param, json_type_name(content));
    buf joined = {0};
    buf_append(&joined, "", 0);
    int j = 0;
    for (const cJSON *part = content->child; part; part = part->next, j++) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        snprintf(param, sizeof param, "messages[%d].content[%d]", i, j);
        bool ok = cJSON_IsObject(part) && cJSON_IsString(type);
        if (ok && strcmp(type->valuestring, "text") != 0) {
            buf_free(&joined);
            return BAD(err, param, "invalid_value",
                       "Content parts of type '%.40s' are not "
                       "supported (only 'text').",
                       type->valuestring);
        }
        if (!ok || !cJSON_IsString(text)) {
            buf_free(&joined);
            return BAD(err, param, "invalid_type",
                       "Invalid '%s': expected an object with "
                       "\"type\": \"text\" and a string \"text\".",
                       param);
        }
        buf_puts(&joined, text->valuestring);
    }
    if (joined.failed || !own(req, joined.data)) {
        buf_free(&joined);
        oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    *out = joined.data;
    return true;
}

static bool parse_messages(const cJSON *root, const oai_limits *lim, oai_request *req,
                           oai_error *err)
{
    const cJSON *msgs = field(root, "messages");
    if (!msgs)
        return BAD(err, "messages", "missing_required_parameter",
                   "Missing required parameter: 'messages'.");
    if (!cJSON_IsArray(msgs))
        return BAD(err, "messages", "invalid_type",
                   "Invalid type for 'messages': expected an "
                   "array, but got %s instead.",
                   json_type_name(msgs));
    int n = cJSON_GetArraySize(msgs);
    if (n < 1)
        return BAD(err, "messages", "empty_array",
                   "Invalid 'messages': empty array. Expected "
                   "an array with minimum length 1.");
    if (n > lim->max_messages)
        return BAD(err, "messages", "array_above_max_length",
                   "Invalid 'messages': array too "
                   "long. Expected an array with at most %d messages, but got %d.",
                   (int)lim->max_messages, n);
    req->msgs = calloc((size_t)n, sizeof *req->msgs);
    if (!req->msgs) {
        oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    int i = 0;
    char param[64];
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        snprintf(param, sizeof param, "messages[%d]", i);
        if (!cJSON_IsObject(m))
            return BAD(err, param, "invalid_type",
                       "Invalid type for '%s': expected an object, "
                       "but got %s instead.",
                       param, json_type_name(m));
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        snprintf(param, sizeof param, "messages[%d].role", i);
        if (!role)
            return BAD(err, param, "missing_required_parameter",
                       "Missing required parameter: '%s'.", param);
        if (!cJSON_IsString(role))
            return BAD(err, param, "invalid_type",
                       "Invalid type for '%s': expected a string, "
                       "but got %s instead.",
                       param, json_type_name(role));
        const char *r = role->valuestring;
        if (!strcmp(r, "developer")) r = "system"; /* the API's newer name for it */
        /* "tool" results and assistant tool_calls: rewritten by tool_prompt.c */
        if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant") && strcmp(r, "tool"))
            return BAD(err, param, "invalid_value",
                       "Invalid value: '%.40s'. Supported values "
                       "are: 'system', 'developer', 'user', 'assistant' and 'tool'.",
                       role->valuestring);
        const cJSON *content = field(m, "content");
        const char *text = "";
        if (content && !parse_content(req, content, i, &text, err)) return false;
        if (!content && strcmp(r, "assistant") != 0) {
            snprintf(param, sizeof param, "messages[%d].content", i);
            return BAD(err, param, "missing_required_parameter",
                       "Missing required parameter: '%s'.", param);
        }
        req->msgs[i] = (tlm_chat_message){r, text};
    }
    req->n_msgs = n;
    return true;
}

/* An array of token ids, each in [0, n_vocab). */
static bool parse_ids(const cJSON *arr, const oai_limits *lim, oai_request *req, oai_error *err)
{
    int n = cJSON_GetArraySize(arr);
    if (n < 1) return BAD(err, "prompt", "invalid_value", "Invalid 'prompt': empty token array.");
    req->prompt_ids = malloc((size_t)n * sizeof *req->prompt_ids);
    if (!req->prompt_ids) {
        oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    int i = 0;
    for (const cJSON *v = arr->child; v; v = v->next, i++) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (!(d >= 0 && d < lim->n_vocab && d == floor(d)))
            return BAD(err, "prompt", "invalid_value",
                       "Invalid 'prompt': element %d is not a "
                       "token id in [0, %d).",
                       i, (int)lim->n_vocab);
        req->prompt_ids[i] = (int32_t)d;
    }
    req->n_prompt_ids = n;
    return true;
}

static bool all_numbers(const cJSON *arr)
{
    for (const cJSON *v = arr->child; v; v = v->next)
        if (!cJSON_IsNumber(v)) return false;
    return true;
}

/* A list of prompts: each a string or a non-empty array of token ids. */
static bool parse_prompt_list(const cJSON *p, const oai_limits *lim, oai_request *req,
                              oai_error *err)
{
    int n = cJSON_GetArraySize(p);
    if (n > OAI_MAX_PROMPTS)
        return BAD(err, "prompt", "invalid_value",
                   "Invalid 'prompt': at most %d prompts per "
                   "request.",
                   OAI_MAX_PROMPTS);
    if (!(req->prompts = calloc((size_t)n, sizeof *req->prompts))) {
        oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    int i = 0;
    for (const cJSON *v = p->child; v; v = v->next, i++) {
        oai_prompt *o = &req->prompts[req->n_prompts];
        if (cJSON_IsString(v)) {
            o->text = v->valuestring;
        } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) >= 1 && all_numbers(v)) {
            /* parse_ids fills prompt_ids: take them over for this prompt */
            req->prompt_ids = NULL;
            bool ok = parse_ids(v, lim, req, err);
            o->ids = req->prompt_ids, o->n_ids = req->n_prompt_ids;
            req->prompt_ids = NULL, req->n_prompt_ids = 0;
            if (!ok) {
                free(o->ids);
                snprintf(err->param, sizeof err->param, "prompt[%d]", i);
                return false;
            }
        } else {
            return BAD(err, "prompt", "invalid_value",
                       "Invalid 'prompt': element %d of the list "
                       "is not a string or a non-empty array of token ids.",
                       i);
        }
        req->n_prompts++;
    }
    req->prompt = req->prompts[0].text;
    req->prompt_ids = req->prompts[0].ids; /* owned by prompts[0] */
    req->n_prompt_ids = req->prompts[0].n_ids;
    return true;
}

/* A string, an array of one string, an array of ids or an array of one array of ids. */
static bool parse_prompt(const cJSON *root, const oai_limits *lim, oai_request *req, oai_error *err)
{
    const cJSON *p = field(root, "prompt");
    if (!p)
        return BAD(err, "prompt", "missing_required_parameter",
                   "Missing required parameter: 'prompt'.");
    if (cJSON_IsString(p)) {
        req->prompt = p->valuestring;
        return true;
    }
    if (!cJSON_IsArray(p))
        return BAD(err, "prompt", "invalid_type",
                   "Invalid type for 'prompt': expected a string "
                   "or an array, but got %s instead.",
                   json_type_name(p));
    int n = cJSON_GetArraySize(p);
    if (n >= 1 && all_numbers(p)) return parse_ids(p, lim, req, err);
    if (n == 1 && cJSON_IsString(p->child)) {
        req->prompt = p->child->valuestring;
        return true;
    }
    if (n == 1 && cJSON_IsArray(p->child) && all_numbers(p->child))
        return parse_ids(p->child, lim, req, err);
    if (n > 1) return parse_prompt_list(p, lim, req, err);
    return BAD(err, "prompt", "invalid_value",
               "Invalid 'prompt': expected a string, an array "
               "of token ids, or an array of one of these.");
}

static bool parse_stop(const cJSON *root, oai_request *req, oai_error *err)
{
    const cJSON *s = field(root, "stop");
    if (!s) return true;
    if (!cJSON_IsString(s) && !cJSON_IsArray(s))
        return BAD(err, "stop", "invalid_type",
                   "Invalid type for 'stop': expected a string or "
                   "an array of strings, but got %s instead.",
                   json_type_name(s));
    if (cJSON_IsArray(s) && cJSON_GetArraySize(s) > OAI_MAX_STOP)
        return BAD(err, "stop", "array_above_max_length",
                   "Invalid 'stop': array too long. "
                   "Expected an array with at most %d strings.",
                   OAI_MAX_STOP);
    const cJSON *first = cJSON_IsString(s) ? s : s->child;
    for (const cJSON *v = first; v; v = cJSON_IsString(s) ? NULL : v->next) {
        if (!cJSON_IsString(v))
            return BAD(err, "stop", "invalid_type",
                       "Invalid 'stop': every element must be a "
                       "string, but got %s.",
                       json_type_name(v));
        size_t len = strlen(v->valuestring);
        if (len > STOP_MAX_BYTES)
            return BAD(err, "stop", "invalid_value",
                       "Invalid 'stop': a stop string is longer "
                       "than %d bytes.",
                       STOP_MAX_BYTES);
        if (len > 0) req->stop[req->n_stop++] = v->valuestring; /* "" could never end text */
    }
    return true;
}

/* {"token id": bias in [-100, 100], ...} */
static bool parse_logit_bias(const cJSON *root, const oai_limits *lim, oai_request *req,
                             oai_error *err)
{
    const cJSON *b = field(root, "logit_bias");
    if (!b) return true;
    if (!cJSON_IsObject(b))
        return BAD(err, "logit_bias", "invalid_type",
                   "Invalid type for 'logit_bias': expected "
                   "an object, but got %s instead.",
                   json_type_name(b));
    int n = cJSON_GetArraySize(b);
    if (n > LOGIT_BIAS_MAX)
        return BAD(err, "logit_bias", "invalid_value",
                   "Invalid 'logit_bias': at most %d "
                   "entries.",
                   LOGIT_BIAS_MAX);
    if (n == 0) return true;
    req->logit_bias = calloc((size_t)n, sizeof *req->logit_bias);
    if (!req->logit_bias) {
        oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    for (const cJSON *v = b->child; v; v = v->next) {
        const char *key = v->string ? v->string : "";
        char *end;
        errno = 0;
        long id = strtol(key, &end, 10);
        /* a digit first: strtol would also take leading white space (any of it) and a sign */
        if (key[0] < '0' || key[0] > '9' || *end || errno || id < 0 || id >= lim->n_vocab)
            return BAD(err, "logit_bias", "invalid_value",
                       "Invalid key in 'logit_bias': "
                       "'%.40s' is not a token id in [0, %d).",
                       key, (int)lim->n_vocab);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < -100 ||
            v->valuedouble > 100)
            return BAD(err, "logit_bias", "invalid_value",
                       "Invalid value in 'logit_bias' for "
                       "token %ld: expected a number in [-100, 100].",
                       id);
        req->logit_bias[req->n_logit_bias++] = (tlm_logit_bias){(int32_t)id, (float)v->valuedouble};
    }
    return true;
}

/* Fields that change what a response must hold and that this server cannot honour. */
/* chat: logprobs (a boolean) and top_logprobs 0..20, which needs logprobs; completions:
 * logprobs 0..5, the alternatives per token. */
bool oai_parse_logprobs(const void *json, bool chat, oai_request *req, oai_error *err)
{
    const cJSON *root = json;
    int64_t k = -1;
    req->logprobs = -1;
    if (!chat) {
        if (!get_int(root, "logprobs", 0, 5, &k, NULL, err)) return false;
        req->logprobs = (int32_t)k;
        return true;
    }
    bool on = false;
    if (!get_bool(root, "logprobs", &on, err) ||
        !get_int(root, "top_logprobs", 0, 20, &k, NULL, err))
        return false;
    if (k >= 0 && !on)
        return BAD(err, "top_logprobs", "invalid_value",
                   "'top_logprobs' needs 'logprobs' set "
                   "to true.");
    if (on) req->logprobs = k < 0 ? 0 : (int32_t)k;
    return true;
}

static bool parse_unsupported(const cJSON *root, bool chat, oai_error *err)
{
    if (chat) return true;
    bool echo = false;
    if (!get_bool(root, "echo", &echo, err)) return false;
    if (echo) return BAD(err, "echo", "unsupported_value", "'echo' is not supported.");
    int64_t best_of = 1;
    if (!get_int(root, "best_of", -1e18, 1e18, &best_of, NULL, err)) return false;
    if (best_of != 1) return BAD(err, "best_of", "invalid_value", "Only best_of = 1 is supported.");
    return true;
}

static bool parse_fields(const cJSON *root, bool chat, const oai_limits *lim, oai_request *req,
                         oai_error *err)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (model && !cJSON_IsString(model) && !cJSON_IsNull(model))
        return BAD(err, "model", "invalid_type",
                   "Invalid type for 'model': expected a string, "
                   "but got %s instead.",
                   json_type_name(model));
    if (!parse_unsupported(root, chat, err) || !oai_parse_logprobs(root, chat, req, err))
        return false;
    int64_t n = 1, max_n = lim->max_n > 1 ? lim->max_n : 1;
    if (!get_int(root, "n", -1e18, 1e18, &n, NULL, err)) return false;
    if (n < 1 || n > max_n)
        return BAD(err, "n", "invalid_value",
                   "Invalid 'n': %lld. This server allows 1 to %lld "
                   "choices per prompt (--max-n).",
                   (long long)n, (long long)max_n);
    req->n = (int32_t)n;
    if (!(chat ? parse_messages(root, lim, req, err) : parse_prompt(root, lim, req, err)))
        return false;
    bool given = false;
    if (!get_int(root, "max_tokens", 1, INT32_MAX, &req->max_tokens, &given, err)) return false;
    if (chat && !given &&
        !get_int(root, "max_completion_tokens", 1, INT32_MAX, &req->max_tokens, &given, err))
        return false;
    if (!get_number(root, "temperature", 0, false, 2, &req->temperature, err) ||
        !get_number(root, "top_p", 0, true, 1, &req->top_p, err) ||
        !get_number(root, "presence_penalty", -2, false, 2, &req->presence_penalty, err) ||
        !get_number(root, "frequency_penalty", -2, false, 2, &req->frequency_penalty, err))
        return false;
    int64_t seed = 0;
    if (!get_int(root, "seed", -9.2e18, 9.2e18, &seed, &req->has_seed, err)) return false;
    req->seed = (uint64_t)seed;
    if (!parse_stop(root, req, err) || !parse_logit_bias(root, lim, req, err)) return false;
    if (!get_bool(root, "stream", &req->stream, err)) return false;
    const cJSON *so = field(root, "stream_options");
    if (so) {
        if (!cJSON_IsObject(so))
            return BAD(err, "stream_options", "invalid_type",
                       "Invalid type for "
                       "'stream_options': expected an object, but got %s instead.",
                       json_type_name(so));
        if (!req->stream)
            return BAD(err, "stream_options", "invalid_value",
                       "The 'stream_options' parameter "
                       "is only allowed when 'stream' is enabled.");
        if (!get_bool(so, "include_usage", &req->include_usage, err)) {
            snprintf(err->param, sizeof err->param, "stream_options.include_usage");
            return false;
        }
    }
    return true;
}

void *oai_parse_json(const char *body, size_t len, oai_error *err)
{
    const char *why = NULL;
    cJSON *root = NULL;
    if (len == 0)
        why = ": the body is empty.";
    else if (memchr(body, '\0', len))
        why = ": it holds a NUL byte.";
    else if (!oai_utf8_valid(body, len))
        why = ": it is not valid UTF-8.";
    else {
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts(body, len, &end, false);
        if (root) /* only white space may follow the value */
            for (const char *p = end; p < body + len; p++)
                if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
                    cJSON_Delete(root);
                    root = NULL;
                    break;
                }
        if (!root)
            why = ". (HINT: This likely means you aren't using your HTTP library correctly. The "
                  "OpenAI API expects a JSON payload.)";
    }
    if (why) {
        oai_error_set(err, 400, "invalid_request_error", NULL, NULL,
                      "We could not parse the JSON body of your request%s", why);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        oai_error_set(err, 400, "invalid_request_error", NULL, "invalid_type",
                      "The JSON body must be an object, not %s.", json_type_name(root));
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

bool oai_parse_request(const char *body, size_t len, bool chat, const oai_limits *lim,
                       oai_request *req, oai_error *err)
{
    *req = (oai_request){.chat = chat, .temperature = 1, .top_p = 1, .n = 1};
    cJSON *root = oai_parse_json(body, len, err);
    if (!root) return false;
    req->json = root;
    return parse_fields(root, chat, lim, req, err);
}

void oai_request_free(oai_request *req)
{
    cJSON_Delete(req->json);
    for (int32_t i = 0; i < req->n_owned; i++)
        free(req->owned[i]);
    free(req->owned);
    free(req->msgs);
    for (int32_t i = 0; i < req->n_prompts; i++)
        free(req->prompts[i].ids);
    if (!req->prompts) free(req->prompt_ids); /* else prompts[0]'s */
    free(req->prompts);
    free(req->logit_bias);
    *req = (oai_request){0};
}

/* ---- responses ------------------------------------------------------------------------ */

static void head(buf *out, const oai_meta *m, const char *object)
{
    buf_puts(out, "{\"id\":");
    buf_json_string(out, m->id, strlen(m->id));
    buf_printf(out, ",\"object\":\"%s\",\"created\":%lld,\"model\":", object,
               (long long)m->created);
    buf_json_string(out, m->model, strlen(m->model));
}

static void usage_json(buf *out, const oai_usage *u)
{
    buf_printf(out, "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
               (int)u->prompt_tokens, (int)u->completion_tokens,
               (int)(u->prompt_tokens + u->completion_tokens));
}

static void finish_json(buf *out, const char *finish_reason)
{
    buf_puts(out, ",\"logprobs\":null,\"finish_reason\":");
    if (finish_reason)
        buf_printf(out, "\"%s\"", finish_reason);
    else
        buf_puts(out, "null");
}

void oai_response_json(buf *out, const oai_meta *m, const char *text, size_t len,
                       const char *finish_reason, const oai_usage *u)
{
    head(out, m, m->chat ? "chat.completion" : "text_completion");
    if (m->chat) {
        buf_printf(out,
                   ",\"choices\":[{\"index\":%d,\"message\":{\"role\":\"assistant\","
                   "\"content\":",
                   (int)m->index);
        buf_json_string(out, text, len);
        buf_puts(out, ",\"refusal\":null}");
    } else {
        buf_puts(out, ",\"choices\":[{\"text\":");
        buf_json_string(out, text, len);
        buf_printf(out, ",\"index\":%d", (int)m->index);
    }
    finish_json(out, finish_reason);
    buf_puts(out, "}],\"usage\":");
    usage_json(out, u);
    buf_puts(out, ",\"system_fingerprint\":null}");
}

void oai_chunk_sse(buf *out, const oai_meta *m, const char *role, const char *text, size_t len,
                   const char *finish_reason, bool with_usage)
{
    buf_puts(out, "data: ");
    head(out, m, m->chat ? "chat.completion.chunk" : "text_completion");
    if (m->chat) {
        buf_printf(out, ",\"choices\":[{\"index\":%d,\"delta\":{", (int)m->index);
        if (role) buf_printf(out, "\"role\":\"%s\",", role);
        if (role || len || !finish_reason) {
            buf_puts(out, "\"content\":");
            buf_json_string(out, text, len);
        }
        buf_puts(out, "}");
    } else {
        buf_puts(out, ",\"choices\":[{\"text\":");
        buf_json_string(out, text, len);
        buf_printf(out, ",\"index\":%d", (int)m->index);
    }
    finish_json(out, finish_reason);
    buf_puts(out, "}]");
    if (with_usage) buf_puts(out, ",\"usage\":null");
    buf_puts(out, "}\n\n");
}

void oai_usage_sse(buf *out, const oai_meta *m, const oai_usage *u)
{
    buf_puts(out, "data: ");
    head(out, m, m->chat ? "chat.completion.chunk" : "text_completion");
    buf_puts(out, ",\"choices\":[],\"usage\":");
    usage_json(out, u);
    buf_puts(out, "}\n\n");
}

void oai_error_sse(buf *out, const oai_error *e)
{
    buf_puts(out, "data: ");
    oai_error_json(out, e);
    buf_puts(out, "\n\n");
}

void oai_model_json(buf *out, const char *model, int64_t created)
{
    buf_puts(out, "{\"id\":");
    buf_json_string(out, model, strlen(model));
    buf_printf(out, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"libtinylm\"}",
               (long long)created);
}

void oai_models_json(buf *out, const char *model, int64_t created)
{
    buf_puts(out, "{\"object\":\"list\",\"data\":[");
    oai_model_json(out, model, created);
    buf_puts(out, "]}");
}
