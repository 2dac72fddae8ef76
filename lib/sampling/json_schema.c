/* json_schema.c - a JSON Schema as a GBNF grammar (docs/grammar.md lists what is
 * supported). Every schema node becomes a rule; the fixed pieces (strings, numbers, any
 * value) are emitted once when first used. A keyword this converter does not implement is
 * an error that names it and where it is: dropping it silently would let the model produce
 * JSON the caller's schema rejects. Generated JSON is compact by construction: whitespace
 * is bounded, numbers have at most 16 digits per part, a missing additionalProperties
 * means none (all valid choices; docs/grammar.md). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_DEPTH 64 /* nested schemas */
#define MAX_RULES 10000

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) TLM_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

typedef struct conv {
    sbuf out;
    const cJSON *doc;
    char **done;     /* names of rules emitted (or being emitted) */
    char **done_ref; /* for $ref rules: the reference they stand for, else NULL */
    int32_t n_done, cap_done;
    int32_t counter;
    tlm_error *err;
    tlm_status st;
} conv;

static bool fail(conv *c, tlm_status st, const char *fmt, ...) TLM_PRINTF(3, 4);
static bool fail(conv *c, tlm_status st, const char *fmt, ...)
{
    if (c->st != TLM_OK) return false;
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->st = tlm_fail(c->err, st, "json schema: %s", msg);
    return false;
}

static bool have(const conv *c, const char *name)
{
    for (int32_t i = 0; i < c->n_done; i++)
        if (strcmp(c->done[i], name) == 0) return true;
    return false;
}

static bool mark(conv *c, const char *name, const char *ref)
{
    if (c->n_done >= MAX_RULES)
        return fail(c, TLM_ERR_UNSUPPORTED, "schema needs over %d rules", MAX_RULES);
    if (c->n_done == c->cap_done) {
        int32_t cap = c->cap_done ? 2 * c->cap_done : 64;
        char **d = realloc(c->done, (size_t)cap * sizeof *d);
        if (!d) return fail(c, TLM_ERR_NO_MEMORY, "no memory");
        c->done = d;
        d = realloc(c->done_ref, (size_t)cap * sizeof *d);
        if (!d) return fail(c, TLM_ERR_NO_MEMORY, "no memory");
        c->done_ref = d;
        c->cap_done = cap;
    }
    c->done[c->n_done] = strdup(name);
    c->done_ref[c->n_done] = ref ? strdup(ref) : NULL;
    if (!c->done[c->n_done] || (ref && !c->done_ref[c->n_done]))
        return fail(c, TLM_ERR_NO_MEMORY, "no memory");
    c->n_done++;
    return true;
}

/* ---- fixed pieces -------------------------------------------------------------------- */

typedef struct prim {
    const char *name, *body, *deps;
} prim;

/* \u escapes stop short of the surrogates, so a string's length in characters is the
 * count of `char` items. */
static const prim prims[] = {
    {"ws", "| \" \" | \"\\n\" [ \\t]{0,20}", ""},
    {"char",
     "[^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-CefEF] "
     "[0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}))",
     ""},
    {"string", "\"\\\"\" char* \"\\\"\" ws", "char ws"},
    {"integer", "(\"-\"? ([0-9] | [1-9] [0-9]{0,15})) ws", "ws"},
    {"number",
     "(\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?"
     " ws",
     "ws"},
    {"boolean", "(\"true\" | \"false\") ws", "ws"},
    {"null", "\"null\" ws", "ws"},
    {"value", "object | array | string | number | boolean | null",
     "object array string number boolean null"},
    {"object", "\"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws",
     "ws string value"},
    {"array", "\"[\" ws ( value (\",\" ws value)* )? \"]\" ws", "ws value"},
    {"date", /* years 0001-9999: year 0 exists in RFC 3339 but not in most date types */
     "([1-9] [0-9]{3} | \"0\" [1-9] [0-9]{2} | \"00\" [1-9] [0-9] | \"000\" [1-9]) "
     "\"-\" (\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | \"1\" [0-9] | "
     "\"2\" [0-8])",
     ""},
    {"time",
     "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,6})?"
     " (\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])",
     ""},
    {"date-time", "date \"T\" time", "date time"},
    {"uuid",
     "[0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" "
     "[0-9a-f]{12}",
     ""},
    {"email",
     "[a-zA-Z0-9_%+-]{1,32} (\".\" [a-zA-Z0-9_%+-]{1,32}){0,3} \"@\" [a-zA-Z0-9]{1,20}"
     " (\".\" [a-zA-Z0-9]{1,20}){0,3} \".\" [a-zA-Z]{2,8}",
     ""},
};

static bool use_prim(conv *c, const char *name)
{
    if (have(c, name)) return true;
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) {
        if (strcmp(prims[i].name, name) != 0) continue;
        if (!mark(c, name, NULL)) return false;
        sb_printf(&c->out, "%s ::= %s\n", name, prims[i].body);
        char dep[32];
        for (const char *d = prims[i].deps; *d;) {
            size_t n = strcspn(d, " ");
            snprintf(dep, sizeof dep, "%.*s", (int)n, d);
            if (!use_prim(c, dep)) return false;
            d += n;
            while (*d == ' ')
                d++;
        }
        return true;
    }
    return fail(c, TLM_ERR_UNSUPPORTED, "internal: no fixed rule '%s'", name);
}

/* ---- helpers ------------------------------------------------------------------------- */

/* A GBNF literal for raw bytes (a JSON text). */
static void put_literal(sbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[3] = {'\\', (char)ch, 0};
            sb_puts(b, e);
        } else if (ch < 0x20) {
            sb_printf(b, "\\x%02X", ch);
        } else {
            sb_put(b, (const char *)&ch, 1);
        }
    }
    sb_puts(b, "\"");
}

/* A JSON value's compact text as a literal followed by ws. */
static bool put_json_literal(conv *c, sbuf *b, const cJSON *v)
{
    char *t = cJSON_PrintUnformatted(v);
    if (!t) return fail(c, TLM_ERR_NO_MEMORY, "no memory");
    put_literal(b, t);
    free(t);
    sb_puts(b, " ws");
    return use_prim(c, "ws");
}

static void new_name(conv *c, const char *hint, char *out, size_t cap)
{
    char clean[40];
    size_t n = 0;
    for (const char *h = hint; *h && n < sizeof clean - 1; h++) {
        char ch = *h;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        clean[n++] = ok ? ch : '-';
    }
    clean[n] = '\0';
    snprintf(out, cap, "%s-%d", n ? clean : "r", (int)c->counter++);
}

/* ---- integers in a range ------------------------------------------------------------- */

static int ndigits(uint64_t v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Alternatives matching the decimal numbers with a's and b's digit strings (same length,
 * a <= b) digit by digit: the classic split into a prefix and full-range tails. */
static void digits_between(sbuf *b, const char *a, const char *z, int n, bool *first,
                           const char *prefix)
{
    char pre[40];
    int k = 0;
    while (k < n && a[k] == z[k])
        k++;
    snprintf(pre, sizeof pre, "%s%.*s", prefix, k, a);
    if (k == n) { /* one number */
        sb_puts(b, *first ? "" : " | ");
        *first = false;
        sb_printf(b, "\"%s\"", pre);
        return;
    }
    int rest = n - k - 1;
    bool a_low = true, z_high = true;
    for (int i = k + 1; i < n; i++) {
        a_low = a_low && a[i] == '0';
        z_high = z_high && z[i] == '9';
    }
    char lo = a_low ? a[k] : (char)(a[k] + 1), hi = z_high ? z[k] : (char)(z[k] - 1);
    if (!a_low) { /* a[k] followed by a's tail .. 9s */
        char tail9[24], sub[48];
        memset(tail9, '9', (size_t)rest);
        snprintf(sub, sizeof sub, "%s%c", pre, a[k]);
        digits_between(b, a + k + 1, tail9, rest, first, sub);
    }
    if (lo <= hi) {
        sb_puts(b, *first ? "" : " | ");
        *first = false;
        if (pre[0]) sb_printf(b, "\"%s\" ", pre);
        sb_printf(b, "[%c-%c]", lo, hi);
        if (rest > 0) sb_printf(b, " [0-9]{%d}", rest);
    }
    if (!z_high) {
        char tail0[24], sub[48];
        memset(tail0, '0', (size_t)rest);
        snprintf(sub, sizeof sub, "%s%c", pre, z[k]);
        digits_between(b, tail0, z + k + 1, rest, first, sub);
    }
}

/* Non-negative integers in [a, b] (b UINT64_MAX: no bound, up to 16 digits). */
static void uint_range(sbuf *b, uint64_t a, uint64_t z, bool *first)
{
    bool open = z == UINT64_MAX;
    if (open) {
        int d = ndigits(a);
        if (d >= 16)
            z = a;
        else {
            uint64_t top = 1;
            for (int i = 0; i < d; i++)
                top *= 10;
            z = top - 1;
            sb_puts(b, *first ? "" : " | ");
            *first = false;
            sb_printf(b, "[1-9] [0-9]{%d,15}", d); /* every longer number */
        }
    }
    while (a <= z) {
        int d = ndigits(a);
        uint64_t top = 1;
        for (int i = 0; i < d; i++)
            top *= 10;
        uint64_t end = z < top - 1 ? z : top - 1;
        char sa[24], sz[24];
        snprintf(sa, sizeof sa, "%" PRIu64, a);
        snprintf(sz, sizeof sz, "%" PRIu64, end);
        digits_between(b, sa, sz, d, first, "");
        if (end == z) break;
        a = end + 1;
    }
}

/* Integers in [lo, hi]; has_lo / has_hi false: unbounded on that side. */
static void int_range(sbuf *b, bool has_lo, int64_t lo, bool has_hi, int64_t hi)
{
    bool first = true;
    sb_puts(b, "(");
    if (!has_lo || lo < 0) { /* negatives: "-" then magnitudes in [max(1,-hi), -lo] */
        uint64_t mag_lo = has_hi && hi < 0 ? (uint64_t)(-(hi + 1)) + 1 : 1;
        uint64_t mag_hi = has_lo ? (uint64_t)(-(lo + 1)) + 1 : UINT64_MAX;
        sb_puts(b, "\"-\" (");
        bool f2 = true;
        uint_range(b, mag_lo, mag_hi, &f2);
        sb_puts(b, ")");
        first = false;
    }
    if (!has_hi || hi >= 0) {
        uint64_t a = has_lo && lo > 0 ? (uint64_t)lo : 0;
        uint64_t z = has_hi ? (uint64_t)hi : UINT64_MAX;
        uint_range(b, a, z, &first);
    }
    sb_puts(b, ") ws");
}

/* ---- schemas ------------------------------------------------------------------------- */

static bool visit(conv *c, const cJSON *s, const char *path, const char *hint, char *name,
                  size_t cap, int depth);

static const char *const annotations[] = {"title",    "description", "$schema",  "$id",
                                          "default",  "examples",    "$comment", "deprecated",
                                          "readOnly", "writeOnly"};
static const char *const known[] = {"type",
                                    "enum",
                                    "const",
                                    "properties",
                                    "required",
                                    "additionalProperties",
                                    "items",
                                    "minItems",
                                    "maxItems",
                                    "minLength",
                                    "maxLength",
                                    "format",
                                    "minimum",
                                    "maximum",
                                    "exclusiveMinimum",
                                    "exclusiveMaximum",
                                    "$ref",
                                    "$defs",
                                    "definitions",
                                    "anyOf",
                                    "oneOf"};

static bool in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0) return true;
    return false;
}

static bool get_count(conv *c, const cJSON *s, const char *key, const char *path, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, key);
    if (!v) return true;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 100000 ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return fail(c, TLM_ERR_UNSUPPORTED, "'%s' at %s must be an integer in [0, 100000]", key,
                    path);
    *out = (int64_t)v->valuedouble;
    return true;
}

/* item ("," ws item){min-1,max-1} around [ ], or the same for a string's characters */
static void put_repeat(sbuf *b, const char *item, const char *sep, int64_t mn, int64_t mx)
{
    if (mn == 0) sb_puts(b, "(");
    sb_printf(b, "%s", item);
    int64_t lo = mn > 0 ? mn - 1 : 0;
    if (mx < 0)
        sb_printf(b, " (%s %s){%" PRId64 ",}", sep, item, lo);
    else if (mx - 1 > 0 || lo > 0)
        sb_printf(b, " (%s %s){%" PRId64 ",%" PRId64 "}", sep, item, lo, mx - 1);
    if (mn == 0) sb_puts(b, ")?");
}

static bool visit_object(conv *c, const cJSON *s, const char *path, sbuf *b, int depth)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
    const cJSON *add = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    if (props && !cJSON_IsObject(props))
        return fail(c, TLM_ERR_UNSUPPORTED, "'properties' at %s must be an object", path);
    if (req && !cJSON_IsArray(req))
        return fail(c, TLM_ERR_UNSUPPORTED, "'required' at %s must be an array", path);
    int n = props ? cJSON_GetArraySize(props) : 0;
    for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
        if (!cJSON_IsString(r) || !cJSON_GetObjectItemCaseSensitive(props, r->valuestring))
            return fail(c, TLM_ERR_UNSUPPORTED,
                        "'required' at %s names '%s', which is not "
                        "in 'properties' (not supported)",
                        path, cJSON_IsString(r) ? r->valuestring : "?");
    bool extra = false;
    char extra_val[64] = "";
    if (add && !cJSON_IsFalse(add)) {
        if (n > 0)
            return fail(c, TLM_ERR_UNSUPPORTED,
                        "'additionalProperties' (not false) together "
                        "with 'properties' at %s is not supported",
                        path);
        char sub[256];
        snprintf(sub, sizeof sub, "%s/additionalProperties", path);
        if (cJSON_IsTrue(add)) {
            if (!use_prim(c, "value")) return false;
            snprintf(extra_val, sizeof extra_val, "value");
        } else if (!visit(c, add, sub, "additional", extra_val, sizeof extra_val, depth + 1)) {
            return false;
        }
        extra = true;
    } else if (!props && !add) { /* {"type": "object"} alone: any object */
        extra = true;
        if (!use_prim(c, "value")) return false;
        snprintf(extra_val, sizeof extra_val, "value");
    }
    if (!use_prim(c, "ws") || !use_prim(c, "string")) return false;
    if (extra) {
        sbuf item = {0};
        sb_printf(&item, "string \":\" ws %s", extra_val);
        sb_puts(b, "\"{\" ws ");
        put_repeat(b, item.s ? item.s : "", "\",\" ws", 0, -1);
        sb_puts(b, " \"}\" ws");
        bool oom = item.oom;
        free(item.s);
        return oom ? fail(c, TLM_ERR_NO_MEMORY, "no memory") : true;
    }
    /* properties in order; F_i: none written yet from i on, A_i: some written (comma first) */
    char(*kv)[64] = calloc((size_t)(n > 0 ? n : 1), sizeof *kv);
    bool *required = calloc((size_t)(n > 0 ? n : 1), sizeof *required);
    if (!kv || !required) {
        free(kv);
        free(required);
        return fail(c, TLM_ERR_NO_MEMORY, "no memory");
    }
    int i = 0;
    bool ok = true;
    for (const cJSON *p = props ? props->child : NULL; p && ok; p = p->next, i++) {
        char sub[256], val[64];
        snprintf(sub, sizeof sub, "%s/properties/%s", path, p->string);
        ok = visit(c, p, sub, p->string, val, sizeof val, depth + 1);
        if (!ok) break;
        new_name(c, p->string, kv[i], sizeof kv[i]);
        sbuf line = {0};
        sb_printf(&line, "%s ::= ", kv[i]);
        cJSON *key = cJSON_CreateString(p->string);
        char *kt = key ? cJSON_PrintUnformatted(key) : NULL;
        cJSON_Delete(key);
        if (!kt) {
            free(line.s);
            ok = fail(c, TLM_ERR_NO_MEMORY, "no memory");
            break;
        }
        put_literal(&line, kt);
        free(kt);
        sb_printf(&line, " ws \":\" ws %s\n", val);
        sb_put(&c->out, line.s ? line.s : "", line.n);
        free(line.s);
        for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
            if (cJSON_IsString(r) && strcmp(r->valuestring, p->string) == 0) required[i] = true;
    }
    if (ok) {
        char base[64];
        new_name(c, "obj", base, sizeof base);
        /* A_i */
        for (int k = n; k >= 0; k--) {
            sb_printf(&c->out, "%s-a%d ::= ", base, k);
            if (k == n)
                sb_puts(&c->out, "\"\"\n");
            else if (required[k])
                sb_printf(&c->out, "\",\" ws %s %s-a%d\n", kv[k], base, k + 1);
            else
                sb_printf(&c->out, "(\",\" ws %s)? %s-a%d\n", kv[k], base, k + 1);
        }
        for (int k = n; k >= 0; k--) {
            sb_printf(&c->out, "%s-f%d ::= ", base, k);
            if (k == n)
                sb_puts(&c->out, "\"\"\n");
            else if (required[k])
                sb_printf(&c->out, "%s %s-a%d\n", kv[k], base, k + 1);
            else
                sb_printf(&c->out, "%s %s-a%d | %s-f%d\n", kv[k], base, k + 1, base, k + 1);
        }
        sb_printf(b, "\"{\" ws %s-f0 \"}\" ws", base);
    }
    free(kv);
    free(required);
    return ok;
}

static bool visit_array(conv *c, const cJSON *s, const char *path, sbuf *b, int depth)
{
    int64_t mn = 0, mx = -1;
    if (!get_count(c, s, "minItems", path, &mn) || !get_count(c, s, "maxItems", path, &mx))
        return false;
    if (mx >= 0 && mx < mn)
        return fail(c, TLM_ERR_UNSUPPORTED, "maxItems below minItems at %s", path);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    char val[64] = "value";
    if (items) {
        if (cJSON_IsArray(items))
            return fail(c, TLM_ERR_UNSUPPORTED,
                        "'items' as an array (tuple form) at %s is not "
                        "supported",
                        path);
        char sub[256];
        snprintf(sub, sizeof sub, "%s/items", path);
        if (!visit(c, items, sub, "item", val, sizeof val, depth + 1)) return false;
    } else if (!use_prim(c, "value")) {
        return false;
    }
    if (!use_prim(c, "ws")) return false;
    sb_puts(b, "\"[\" ws ");
    if (mx != 0) put_repeat(b, val, "\",\" ws", mn, mx);
    sb_puts(b, " \"]\" ws");
    return true;
}

static bool visit_string(conv *c, const cJSON *s, const char *path, sbuf *b)
{
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(s, "format");
    int64_t mn = 0, mx = -1;
    if (!get_count(c, s, "minLength", path, &mn) || !get_count(c, s, "maxLength", path, &mx))
        return false;
    if (mx >= 0 && mx < mn)
        return fail(c, TLM_ERR_UNSUPPORTED, "maxLength below minLength at %s", path);
    if (!use_prim(c, "ws")) return false;
    if (fmt) {
        const char *f = cJSON_IsString(fmt) ? fmt->valuestring : "";
        if (strcmp(f, "date") && strcmp(f, "time") && strcmp(f, "date-time") && strcmp(f, "uuid") &&
            strcmp(f, "email"))
            return fail(c, TLM_ERR_UNSUPPORTED,
                        "format '%s' at %s is not supported (date, "
                        "time, date-time, uuid, email are)",
                        f, path);
        if (cJSON_GetObjectItemCaseSensitive(s, "minLength") ||
            cJSON_GetObjectItemCaseSensitive(s, "maxLength"))
            return fail(c, TLM_ERR_UNSUPPORTED,
                        "minLength/maxLength together with 'format' "
                        "at %s is not supported",
                        path);
        if (!use_prim(c, f)) return false;
        sb_printf(b, "\"\\\"\" %s \"\\\"\" ws", f);
        return true;
    }
    if (!use_prim(c, "char")) return false;
    if (mn == 0 && mx < 0)
        sb_puts(b, "\"\\\"\" char* \"\\\"\" ws");
    else if (mx < 0)
        sb_printf(b, "\"\\\"\" char{%" PRId64 ",} \"\\\"\" ws", mn);
    else
        sb_printf(b, "\"\\\"\" char{%" PRId64 ",%" PRId64 "} \"\\\"\" ws", mn, mx);
    return true;
}

static bool get_bound(conv *c, const cJSON *s, const char *key, const char *path, bool *has,
                      int64_t *v, int64_t adjust)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(s, key);
    if (!x) return true;
    if (!cJSON_IsNumber(x) || x->valuedouble != (double)(int64_t)x->valuedouble ||
        x->valuedouble < -1e15 || x->valuedouble > 1e15)
        return fail(c, TLM_ERR_UNSUPPORTED,
                    "'%s' at %s: only integer bounds within 1e15 are "
                    "supported",
                    key, path);
    int64_t y = (int64_t)x->valuedouble + adjust;
    if (!*has || (adjust >= 0 ? y > *v : y < *v)) *v = y; /* the tighter bound */
    *has = true;
    return true;
}

static bool visit_typed(conv *c, const cJSON *s, const char *type, const char *path, sbuf *b,
                        int depth)
{
    bool is_int = strcmp(type, "integer") == 0;
    static const char *const num_keys[] = {"minimum", "maximum", "exclusiveMinimum",
                                           "exclusiveMaximum"};
    if (strcmp(type, "number") == 0) {
        for (size_t i = 0; i < 4; i++)
            if (cJSON_GetObjectItemCaseSensitive(s, num_keys[i]))
                return fail(c, TLM_ERR_UNSUPPORTED,
                            "'%s' on a non-integer number at %s is "
                            "not supported (use type integer)",
                            num_keys[i], path);
    }
    if (is_int) {
        bool has_lo = false, has_hi = false;
        int64_t lo = 0, hi = 0;
        if (!get_bound(c, s, "minimum", path, &has_lo, &lo, 0) ||
            !get_bound(c, s, "exclusiveMinimum", path, &has_lo, &lo, 1) ||
            !get_bound(c, s, "maximum", path, &has_hi, &hi, 0) ||
            !get_bound(c, s, "exclusiveMaximum", path, &has_hi, &hi, -1))
            return false;
        if (has_lo && has_hi && hi < lo)
            return fail(c, TLM_ERR_UNSUPPORTED, "no integer in the bounds at %s", path);
        if (!use_prim(c, "ws")) return false;
        if (!has_lo && !has_hi) {
            if (!use_prim(c, "integer")) return false;
            sb_puts(b, "integer");
        } else {
            int_range(b, has_lo, lo, has_hi, hi);
        }
        return true;
    }
    if (strcmp(type, "object") == 0) return visit_object(c, s, path, b, depth);
    if (strcmp(type, "array") == 0) return visit_array(c, s, path, b, depth);
    if (strcmp(type, "string") == 0) return visit_string(c, s, path, b);
    if (strcmp(type, "number") == 0 || strcmp(type, "boolean") == 0 || strcmp(type, "null") == 0) {
        if (!use_prim(c, type)) return false;
        sb_puts(b, type);
        return true;
    }
    return fail(c, TLM_ERR_UNSUPPORTED, "type '%s' at %s is not a JSON Schema type", type, path);
}

/* The rule for a "#/$defs/x" or "#/definitions/x" reference, made once (it may recurse). */
static bool visit_ref(conv *c, const char *ref, const char *path, sbuf *b, int depth)
{
    for (int32_t i = 0; i < c->n_done; i++)
        if (c->done_ref[i] && strcmp(c->done_ref[i], ref) == 0) {
            sb_puts(b, c->done[i]);
            return true;
        }
    const char *key = NULL;
    const cJSON *defs = NULL;
    if (strncmp(ref, "#/$defs/", 8) == 0) {
        key = ref + 8;
        defs = cJSON_GetObjectItemCaseSensitive(c->doc, "$defs");
    } else if (strncmp(ref, "#/definitions/", 14) == 0) {
        key = ref + 14;
        defs = cJSON_GetObjectItemCaseSensitive(c->doc, "definitions");
    } else if (strcmp(ref, "#") == 0) {
        key = "";
        defs = NULL;
    } else {
        return fail(c, TLM_ERR_UNSUPPORTED,
                    "$ref '%s' at %s: only '#', '#/$defs/NAME' and "
                    "'#/definitions/NAME' are supported",
                    ref, path);
    }
    const cJSON *target = key[0] ? cJSON_GetObjectItemCaseSensitive(defs, key) : c->doc;
    if (!target || strchr(key, '/'))
        return fail(c, TLM_ERR_UNSUPPORTED, "$ref '%s' at %s does not resolve", ref, path);
    char name[64];
    new_name(c, key[0] ? key : "self", name, sizeof name);
    if (!mark(c, name, ref)) return false;
    char inner[64];
    bool ok = visit(c, target, ref, key, inner, sizeof inner, depth + 1);
    if (ok) sb_printf(&c->out, "%s ::= %s\n", name, inner);
    sb_puts(b, name);
    return ok;
}

/* Whether JSON value v is of a type the 'type' keyword t (string or array) names. */
static bool type_allows(const cJSON *t, const cJSON *v)
{
    for (const cJSON *x = cJSON_IsArray(t) ? t->child : t; x;
         x = cJSON_IsArray(t) ? x->next : NULL) {
        const char *n = cJSON_IsString(x) ? x->valuestring : "";
        if ((!strcmp(n, "string") && cJSON_IsString(v)) ||
            (!strcmp(n, "null") && cJSON_IsNull(v)) || (!strcmp(n, "boolean") && cJSON_IsBool(v)) ||
            (!strcmp(n, "object") && cJSON_IsObject(v)) ||
            (!strcmp(n, "array") && cJSON_IsArray(v)) ||
            (!strcmp(n, "number") && cJSON_IsNumber(v)) ||
            (!strcmp(n, "integer") && cJSON_IsNumber(v) &&
             v->valuedouble == (double)(int64_t)v->valuedouble))
            return true;
    }
    return false;
}

static bool visit_body(conv *c, const cJSON *s, const char *path, sbuf *b, int depth)
{
    if (cJSON_IsTrue(s)) return use_prim(c, "value") && (sb_puts(b, "value"), true);
    if (cJSON_IsFalse(s))
        return fail(c, TLM_ERR_UNSUPPORTED, "schema false at %s allows nothing", path);
    if (!cJSON_IsObject(s))
        return fail(c, TLM_ERR_UNSUPPORTED, "schema at %s must be an object or a boolean", path);
    for (const cJSON *k = s->child; k; k = k->next) {
        if (in_list(k->string, annotations, sizeof annotations / sizeof *annotations)) continue;
        if (!in_list(k->string, known, sizeof known / sizeof *known))
            return fail(c, TLM_ERR_UNSUPPORTED, "unsupported keyword '%s' at %s", k->string, path);
    }
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(s, "$ref");
    const cJSON *cst = cJSON_GetObjectItemCaseSensitive(s, "const");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
    if (!any) any = cJSON_GetObjectItemCaseSensitive(s, "oneOf");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (ref) {
        if (!cJSON_IsString(ref))
            return fail(c, TLM_ERR_UNSUPPORTED, "$ref at %s must be a string", path);
        return visit_ref(c, ref->valuestring, path, b, depth);
    }
    if (cst || en) {
        /* beside a value list only 'type' can constrain, and it filters the list */
        for (const cJSON *k = s->child; k; k = k->next)
            if (strcmp(k->string, "enum") && strcmp(k->string, "const") &&
                strcmp(k->string, "type") && strcmp(k->string, "$defs") &&
                strcmp(k->string, "definitions") &&
                !in_list(k->string, annotations, sizeof annotations / sizeof *annotations))
                return fail(c, TLM_ERR_UNSUPPORTED,
                            "'%s' beside enum/const at %s is not "
                            "supported",
                            k->string, path);
        if (cst && en) return fail(c, TLM_ERR_UNSUPPORTED, "both enum and const at %s", path);
        if (en && (!cJSON_IsArray(en) || cJSON_GetArraySize(en) == 0))
            return fail(c, TLM_ERR_UNSUPPORTED, "'enum' at %s must be a non-empty array", path);
        int n = 0;
        sb_puts(b, "(");
        for (const cJSON *v = cst ? cst : en->child; v; v = cst ? NULL : v->next) {
            if (type && !type_allows(type, v)) continue;
            if (n++) sb_puts(b, " | ");
            if (!put_json_literal(c, b, v)) return false;
        }
        sb_puts(b, ")");
        if (n == 0)
            return fail(c, TLM_ERR_UNSUPPORTED, "no enum/const value at %s has the 'type' given",
                        path);
        return true;
    }
    if (any) {
        if (!cJSON_IsArray(any) || cJSON_GetArraySize(any) == 0)
            return fail(c, TLM_ERR_UNSUPPORTED, "anyOf/oneOf at %s must be a non-empty array",
                        path);
        if (type)
            return fail(c, TLM_ERR_UNSUPPORTED,
                        "'type' beside anyOf/oneOf at %s is not "
                        "supported",
                        path);
        int i = 0;
        sb_puts(b, "(");
        for (const cJSON *v = any->child; v; v = v->next, i++) {
            char sub[256], name[64];
            snprintf(sub, sizeof sub, "%s/anyOf/%d", path, i);
            if (!visit(c, v, sub, "alt", name, sizeof name, depth + 1)) return false;
            sb_printf(b, "%s%s", i ? " | " : "", name);
        }
        sb_puts(b, ")");
        return true;
    }
    if (!type) { /* no type: infer from the keywords, else any value */
        if (cJSON_GetObjectItemCaseSensitive(s, "properties") ||
            cJSON_GetObjectItemCaseSensitive(s, "additionalProperties"))
            return visit_typed(c, s, "object", path, b, depth);
        if (cJSON_GetObjectItemCaseSensitive(s, "items"))
            return visit_typed(c, s, "array", path, b, depth);
        for (const cJSON *k = s->child; k; k = k->next)
            if (!in_list(k->string, annotations, sizeof annotations / sizeof *annotations) &&
                strcmp(k->string, "$defs") && strcmp(k->string, "definitions"))
                return fail(c, TLM_ERR_UNSUPPORTED,
                            "keyword '%s' at %s without a 'type' is "
                            "not supported",
                            k->string, path);
        return use_prim(c, "value") && (sb_puts(b, "value"), true);
    }
    if (cJSON_IsString(type)) return visit_typed(c, s, type->valuestring, path, b, depth);
    if (!cJSON_IsArray(type) || cJSON_GetArraySize(type) == 0)
        return fail(c, TLM_ERR_UNSUPPORTED, "'type' at %s must be a string or an array", path);
    sb_puts(b, "(");
    for (const cJSON *t = type->child; t; t = t->next) {
        if (!cJSON_IsString(t))
            return fail(c, TLM_ERR_UNSUPPORTED, "'type' at %s lists a non-string", path);
        if (t != type->child) sb_puts(b, " | ");
        sbuf alt = {0};
        bool ok = visit_typed(c, s, t->valuestring, path, &alt, depth);
        if (ok) sb_printf(b, "(%s)", alt.s ? alt.s : "");
        free(alt.s);
        if (!ok) return false;
    }
    sb_puts(b, ")");
    return true;
}

/* Makes a rule for schema s; its name goes to name. */
static bool visit(conv *c, const cJSON *s, const char *path, const char *hint, char *name,
                  size_t cap, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(c, TLM_ERR_UNSUPPORTED, "schema nested over %d deep at %s", MAX_DEPTH, path);
    sbuf body = {0};
    bool ok = visit_body(c, s, path, &body, depth);
    if (ok && body.oom) ok = fail(c, TLM_ERR_NO_MEMORY, "no memory");
    if (ok) {
        new_name(c, hint, name, cap);
        sb_printf(&c->out, "%s ::= %s\n", name, body.s ? body.s : "\"\"");
    }
    free(body.s);
    return ok;
}

TLM_API tlm_status tlm_json_schema_to_gbnf(const char *schema, char *buf, size_t cap, size_t *len,
                                           tlm_error *err)
{
    if (len) *len = 0;
    if (!len || (cap > 0 && !buf))
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_json_schema_to_gbnf: len must not be NULL, nor "
                        "buf with cap > 0");
    conv c = {.err = err, .st = TLM_OK};
    cJSON *doc = NULL;
    if (schema) {
        doc = cJSON_Parse(schema);
        if (!doc) {
            const char *at = cJSON_GetErrorPtr();
            return tlm_fail(err, TLM_ERR_FORMAT, "json schema: not valid JSON (near byte %td)",
                            at ? at - schema : (ptrdiff_t)0);
        }
    }
    c.doc = doc;
    char top[64];
    bool ok;
    if (doc) {
        ok = visit(&c, doc, "#", "root", top, sizeof top, 0);
    } else {
        ok = use_prim(&c, "value");
        snprintf(top, sizeof top, "value");
    }
    if (ok) {
        sbuf root = {0};
        sb_printf(&root, "root ::= ws %s\n", top);
        ok = use_prim(&c, "ws");
        sb_put(&root, c.out.s ? c.out.s : "", c.out.n);
        if (root.oom || c.out.oom) ok = fail(&c, TLM_ERR_NO_MEMORY, "no memory");
        free(c.out.s);
        c.out = root;
    }
    tlm_status st = c.st;
    if (ok) {
        *len = c.out.n;
        if (cap > 0) {
            size_t n = c.out.n < cap ? c.out.n : cap - 1;
            memcpy(buf, c.out.s, n);
            buf[n] = '\0';
        }
        if (c.out.n >= cap)
            st = tlm_fail(err, TLM_ERR_BUFFER_TOO_SMALL,
                          "json schema: the grammar needs %zu "
                          "bytes",
                          c.out.n + 1);
    }
    for (int32_t i = 0; i < c.n_done; i++) {
        free(c.done[i]);
        free(c.done_ref[i]);
    }
    free(c.done);
    free(c.done_ref);
    free(c.out.s);
    cJSON_Delete(doc);
    return st;
}

TLM_API tlm_status tlm_grammar_from_json_schema(const char *schema, tlm_grammar **out,
                                                tlm_error *err)
{
    if (out) *out = NULL;
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_grammar_from_json_schema: NULL out");
    size_t len = 0;
    tlm_status st = tlm_json_schema_to_gbnf(schema, NULL, 0, &len, err);
    if (st != TLM_OK && st != TLM_ERR_BUFFER_TOO_SMALL) return st;
    char *text = malloc(len + 1);
    if (!text) return tlm_fail(err, TLM_ERR_NO_MEMORY, "json schema: no memory");
    st = tlm_json_schema_to_gbnf(schema, text, len + 1, &len, err);
    if (st == TLM_OK) st = tlm_grammar_parse(text, "root", out, err);
    free(text);
    return st;
}
