/* structured.c - response_format, tools and tool_choice of a request: checked, and turned
 * into the grammar that constrains the reply.
 *
 * Grammars come from the library's JSON Schema converter (tlm_json_schema_to_gbnf), so an
 * unsupported keyword is refused with its name and path. A forced tool call is
 *   root ::= "<tool_call>\n" (call-0 | call-1 ...) "\n</tool_call>"
 *   call-i ::= "{\"name\": \"NAME\", \"arguments\": " ti-root "}"
 * where ti-* are tool i's parameter schema rules, renamed with the prefix "ti-" so the
 * tools' grammars can live in one text. */
#include "structured.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOOLS 128
#define MAX_NAME 64

#define BAD(err, param, code, ...)                                                                 \
    (oai_error_set(err, 400, "invalid_request_error", param, code, __VA_ARGS__), false)

static bool no_memory(oai_error *err)
{
    oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
    return false;
}

static const cJSON *field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

char *structured_own(structured *s, char *text)
{
    char **grown = text ? realloc(s->owned, ((size_t)s->n_owned + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(text);
        return NULL;
    }
    s->owned = grown;
    s->owned[s->n_owned++] = text;
    return text;
}

void structured_free(structured *s)
{
    for (int32_t i = 0; i < s->n_tools; i++)
        free(s->names[i]);
    free(s->names);
    for (int32_t i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->grammar);
    buf_free(&s->held);
    *s = (structured){0};
}

/* A schema (cJSON) as GBNF, malloc'd; NULL with a 400 naming param when it is refused. */
static char *schema_gbnf(const cJSON *schema, const char *param, const char *what, oai_error *err)
{
    char *text = cJSON_PrintUnformatted(schema);
    if (!text) return no_memory(err), NULL;
    size_t len = 0;
    tlm_error te = {0};
    tlm_status st = tlm_json_schema_to_gbnf(text, NULL, 0, &len, &te);
    char *gbnf = NULL;
    if (st == TLM_OK || st == TLM_ERR_BUFFER_TOO_SMALL) {
        if (!(gbnf = malloc(len + 1))) {
            cJSON_free(text);
            return no_memory(err), NULL;
        }
        st = tlm_json_schema_to_gbnf(text, gbnf, len + 1, &len, &te);
    }
    cJSON_free(text);
    if (st == TLM_OK) return gbnf;
    free(gbnf);
    if (st == TLM_ERR_NO_MEMORY) return no_memory(err), NULL;
    (void)BAD(err, param, "invalid_schema", "Invalid schema for %s: %s", what, te.message);
    return NULL;
}

/* Appends gbnf with every rule name prefixed: names are runs of [A-Za-z0-9_-] outside
 * literals ("..."), character classes ([...]) and counts ({m,n}). */
static void append_renamed(buf *out, const char *gbnf, const char *prefix)
{
    for (const char *p = gbnf; *p;) {
        char c = *p;
        if (c == '"' || c == '[' || c == '{') {
            char close = c == '"' ? '"' : c == '[' ? ']' : '}';
            const char *q = p + 1;
            while (*q && *q != close)
                q += q[0] == '\\' && q[1] ? 2 : 1;
            if (*q) q++;
            buf_append(out, p, (size_t)(q - p));
            p = q;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-') {
            const char *q = p;
            while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                   (*q >= '0' && *q <= '9') || *q == '_' || *q == '-')
                q++;
            buf_puts(out, prefix);
            buf_append(out, p, (size_t)(q - p));
            p = q;
        } else {
            buf_append(out, p, 1);
            p++;
        }
    }
    buf_puts(out, "\n");
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > MAX_NAME) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* response_format: text, json_object or json_schema {name, schema, strict}. */
static bool parse_response_format(structured *s, const cJSON *root, oai_error *err)
{
    const cJSON *rf = field(root, "response_format");
    if (!rf) return true;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
    if (!cJSON_IsObject(rf) || !cJSON_IsString(type))
        return BAD(err, "response_format", "invalid_type",
                   "Invalid 'response_format': expected "
                   "an object with a string 'type' ('text', 'json_object' or 'json_schema').");
    const char *t = type->valuestring;
    if (!strcmp(t, "text")) return true;
    cJSON *any = NULL;
    const cJSON *schema = NULL;
    const char *what = "response_format";
    char label[MAX_NAME + 64];
    if (!strcmp(t, "json_object")) {
        schema = any = cJSON_Parse("{\"type\":\"object\"}");
        if (!any) return no_memory(err);
    } else if (!strcmp(t, "json_schema")) {
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
        if (!cJSON_IsObject(js))
            return BAD(err, "response_format.json_schema",
                       js ? "invalid_type" : "missing_required_parameter",
                       "Invalid 'response_format': type "
                       "'json_schema' needs a 'json_schema' object {name, schema, strict}.");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
        if (!cJSON_IsString(name) || !name_ok(name->valuestring))
            return BAD(err, "response_format.json_schema.name",
                       name ? "invalid_value" : "missing_required_parameter",
                       "Invalid 'response_format.json_schema."
                       "name': expected 1 to %d letters, digits, '_' or '-'.",
                       MAX_NAME);
        const cJSON *strict = field(js, "strict");
        if (strict && !cJSON_IsBool(strict))
            return BAD(err, "response_format.json_schema.strict", "invalid_type",
                       "Invalid "
                       "'response_format.json_schema.strict': expected a boolean.");
        schema = field(js, "schema");
        if (schema && !cJSON_IsObject(schema) && !cJSON_IsBool(schema))
            return BAD(err, "response_format.json_schema.schema", "invalid_type",
                       "Invalid "
                       "'response_format.json_schema.schema': expected a JSON Schema object.");
        if (!schema) schema = any = cJSON_Parse("{\"type\":\"object\"}");
        if (!schema) return no_memory(err);
        snprintf(label, sizeof label, "response_format '%s'", name->valuestring);
        what = label;
    } else {
        return BAD(err, "response_format.type", "invalid_value",
                   "Invalid value: '%.40s'. "
                   "Supported values are: 'text', 'json_object' and 'json_schema'.",
                   t);
    }
    s->grammar = schema_gbnf(schema, "response_format.json_schema.schema", what, err);
    cJSON_Delete(any);
    return s->grammar != NULL;
}

/* One tools[i]: {"type": "function", "function": {name, description, parameters, strict}};
 * *gbnf gets its parameters' grammar. */
static bool parse_tool(structured *s, const cJSON *tool, int i, char **gbnf, oai_error *err)
{
    char param[80];
    snprintf(param, sizeof param, "tools[%d]", i);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(tool, "type");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
    if (!cJSON_IsObject(tool) || !cJSON_IsString(type) || strcmp(type->valuestring, "function"))
        return BAD(err, param, "invalid_value",
                   "Invalid '%s': expected an object with \"type\": "
                   "\"function\" (the only tool type supported).",
                   param);
    if (!cJSON_IsObject(fn))
        return BAD(err, param, "missing_required_parameter",
                   "Invalid '%s': missing its "
                   "'function' object.",
                   param);
    snprintf(param, sizeof param, "tools[%d].function.name", i);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    if (!cJSON_IsString(name) || !name_ok(name->valuestring))
        return BAD(err, param, name ? "invalid_value" : "missing_required_parameter",
                   "Invalid "
                   "'%s': expected a string of 1 to %d letters, digits, '_' or '-'.",
                   param, MAX_NAME);
    for (int32_t j = 0; j < s->n_tools; j++)
        if (!strcmp(s->names[j], name->valuestring))
            return BAD(err, param, "invalid_value",
                       "Invalid 'tools': the function name '%s' "
                       "is defined twice.",
                       name->valuestring);
    const cJSON *desc = field(fn, "description"), *strict = field(fn, "strict");
    snprintf(param, sizeof param, "tools[%d].function.description", i);
    if (desc && !cJSON_IsString(desc))
        return BAD(err, param, "invalid_type", "Invalid '%s': expected a string.", param);
    snprintf(param, sizeof param, "tools[%d].function.strict", i);
    if (strict && !cJSON_IsBool(strict))
        return BAD(err, param, "invalid_type", "Invalid '%s': expected a boolean.", param);
    snprintf(param, sizeof param, "tools[%d].function.parameters", i);
    const cJSON *params = field(fn, "parameters");
    if (params && !cJSON_IsObject(params))
        return BAD(err, param, "invalid_type", "Invalid '%s': expected a JSON Schema object.",
                   param);
    cJSON *none = NULL; /* no parameters: the function takes none, arguments {} */
    if (!params && !(params = none = cJSON_Parse("{\"type\":\"object\",\"properties\":{}}")))
        return no_memory(err);
    char what[MAX_NAME + 32];
    snprintf(what, sizeof what, "function '%s'", name->valuestring);
    *gbnf = schema_gbnf(params, param, what, err);
    cJSON_Delete(none);
    if (!*gbnf) return false;
    char *copy = strdup(name->valuestring);
    if (!copy) return no_memory(err);
    s->names[s->n_tools++] = copy;
    return true;
}

/* tool_choice: "none", "auto", "required" or {"type": "function", "function": {"name"}};
 * *only gets the named tool's index (-1: any). */
static bool parse_tool_choice(structured *s, const cJSON *root, int32_t *only, oai_error *err)
{
    const cJSON *tc = field(root, "tool_choice");
    *only = -1;
    s->mode = s->n_tools ? TOOLS_AUTO : TOOLS_OFF;
    if (!tc) return true;
    if (cJSON_IsString(tc)) {
        const char *v = tc->valuestring;
        if (!strcmp(v, "none"))
            s->mode = TOOLS_OFF;
        else if (strcmp(v, "auto") && strcmp(v, "required"))
            return BAD(err, "tool_choice", "invalid_value",
                       "Invalid value: '%.40s'. Supported "
                       "values are: 'none', 'auto', 'required' or an object naming a "
                       "function.",
                       v);
        else if (!s->n_tools)
            return BAD(err, "tool_choice", "invalid_value",
                       "Invalid value for 'tool_choice': "
                       "'tool_choice' is only allowed when 'tools' are specified.");
        else if (!strcmp(v, "required"))
            s->mode = TOOLS_FORCED;
        return true;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(tc, "type");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *name = cJSON_IsObject(fn) ? cJSON_GetObjectItemCaseSensitive(fn, "name") : NULL;
    if (!cJSON_IsObject(tc) || !cJSON_IsString(type) || strcmp(type->valuestring, "function") ||
        !cJSON_IsString(name))
        return BAD(err, "tool_choice", "invalid_value",
                   "Invalid 'tool_choice': expected 'none', "
                   "'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": "
                   "NAME}}.");
    for (int32_t i = 0; i < s->n_tools; i++)
        if (!strcmp(s->names[i], name->valuestring)) {
            *only = i;
            s->mode = TOOLS_FORCED;
            return true;
        }
    return BAD(err, "tool_choice", "invalid_value",
               "Invalid 'tool_choice': no function named "
               "'%.64s' in 'tools'.",
               name->valuestring);
}

/* The grammar of one call of tool `only` (-1: any tool). */
static bool forced_grammar(structured *s, char **gbnfs, int32_t only, oai_error *err)
{
    buf g = {0};
    buf_puts(&g, "root ::= \"<tool_call>\\n\" (");
    for (int32_t i = 0, first = 1; i < s->n_tools; i++)
        if (only < 0 || i == only) {
            buf_printf(&g, "%scall-%d", first ? "" : " | ", (int)i);
            first = 0;
        }
    buf_puts(&g, ") \"\\n</tool_call>\"\n");
    for (int32_t i = 0; i < s->n_tools; i++) {
        if (only >= 0 && i != only) continue;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "t%d-", (int)i);
        buf_printf(&g,
                   "call-%d ::= \"{\\\"name\\\": \\\"%s\\\", \\\"arguments\\\": \" %sroot "
                   "\"}\"\n",
                   (int)i, s->names[i], prefix);
        append_renamed(&g, gbnfs[i], prefix);
    }
    if (g.failed) {
        buf_free(&g);
        return no_memory(err);
    }
    s->grammar = g.data;
    return true;
}

static bool parse_tools(structured *s, const cJSON *root, oai_error *err)
{
    const cJSON *tools = field(root, "tools");
    int n = 0;
    if (tools) {
        if (!cJSON_IsArray(tools))
            return BAD(err, "tools", "invalid_type",
                       "Invalid type for 'tools': expected an "
                       "array of function tools.");
        n = cJSON_GetArraySize(tools);
        if (n > MAX_TOOLS)
            return BAD(err, "tools", "array_above_max_length",
                       "Invalid 'tools': at most %d "
                       "tools, got %d.",
                       MAX_TOOLS, n);
        if (n == 0)
            return BAD(err, "tools", "empty_array",
                       "Invalid 'tools': empty array. Leave "
                       "'tools' out for no tools.");
    }
    char **gbnfs = n ? calloc((size_t)n, sizeof *gbnfs) : NULL;
    s->names = n ? calloc((size_t)n, sizeof *s->names) : NULL;
    if (n && (!gbnfs || !s->names)) {
        free(gbnfs);
        return no_memory(err);
    }
    bool ok = true;
    int i = 0;
    for (const cJSON *t = tools ? tools->child : NULL; t && ok; t = t->next, i++)
        ok = parse_tool(s, t, i, &gbnfs[i], err);
    int32_t only = -1;
    if (ok) ok = parse_tool_choice(s, root, &only, err);
    if (ok && s->mode == TOOLS_FORCED) {
        if (s->grammar)
            ok = BAD(err, "response_format", "invalid_value",
                     "'response_format' cannot be "
                     "combined with a required or named 'tool_choice': the reply is a tool "
                     "call.");
        else
            ok = forced_grammar(s, gbnfs, only, err);
    }
    for (int j = 0; j < n; j++)
        free(gbnfs[j]);
    free(gbnfs);
    return ok;
}

bool structured_prepare(structured *s, oai_request *req, tlm_chat_template chat, oai_error *err)
{
    *s = (structured){0};
    const cJSON *root = req->json;
    if (!parse_response_format(s, root, err)) return false;
    if (!req->chat) return true; /* tools and tool messages are the chat API's */
    if (!parse_tools(s, root, err)) return false;
    return tool_prompt_rewrite(s, req, field(root, "tools"), chat, err);
}
