/* slot_files.c - GET /slots and POST /slots/{id}?action=save|restore|erase (slot_files.h),
 * answered in llama-server's shapes.
 *
 * A filename comes from the client and becomes a path in --slot-save-path, so it is held to a
 * plain name: no separator, no leading dot (".." or a hidden file), no control byte. cJSON
 * ends a string at an escaped NUL ("a\u0000b" reads as "a"), so the body is searched for one
 * too: the file written must be the one named. */
#include "slot_files.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define BAD(err, param, ...)                                                                       \
    (oai_error_set(err, 400, "invalid_request_error", param, NULL, __VA_ARGS__), false)

void slot_files_list(slot_pool *pool, buf *out)
{
    int32_t total, idle, queued;
    slot_pool_stats(pool, &total, &idle, &queued);
    buf_puts(out, "[");
    for (int32_t i = 0; i < total; i++) {
        slot_info si;
        if (!slot_pool_slot_info(pool, i, &si)) break;
        buf_printf(out, "%s{\"id\":%d,\"n_ctx\":%d,\"is_processing\":%s,\"n_cached\":%d}",
                   i ? "," : "", (int)i, (int)slot_pool_n_ctx(pool),
                   si.processing ? "true" : "false", (int)si.n_cached);
    }
    buf_puts(out, "]");
}

bool slot_filename_ok(const char *name, size_t n)
{
    if (n == 0 || n > 255 || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
    }
    return true;
}

/* Whether JSON text holds the escape \u0000 (an escaped backslash starts none). */
static bool has_escaped_nul(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && n - i >= 6 && !memcmp(s + i + 2, "0000", 4)) return true;
        i++; /* skip the escaped character */
    }
    return false;
}

/* The URL's slot id: decimal digits naming one of n_slots slots. */
static bool parse_id(const char *text, int32_t n_slots, int32_t *id)
{
    int64_t v = 0;
    if (!*text) return false;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v >= n_slots) return false; /* v stays small */
        v = v * 10 + (*p - '0');
    }
    *id = (int32_t)v;
    return v < n_slots;
}

/* The body's filename (into name) and its path in the save directory; 400 when the body is
 * not JSON or the name is not a plain file name. */
static bool file_path(const slot_route *rt, char *name, size_t name_cap, char *path,
                      size_t path_cap, oai_error *err)
{
    cJSON *root = oai_parse_json(rt->body, rt->len, err);
    if (!root) return false;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "filename");
    const char *s = cJSON_IsString(f) ? f->valuestring : NULL;
    bool ok = s && slot_filename_ok(s, strlen(s)) && !has_escaped_nul(rt->body, rt->len);
    if (ok) {
        snprintf(name, name_cap, "%s", s);
        int n = snprintf(path, path_cap, "%s/%s", rt->save_dir, s);
        ok = n > 0 && (size_t)n < path_cap;
    }
    cJSON_Delete(root);
    return ok || BAD(err, "filename", "Invalid filename");
}

static slot_action action_of(const char *a)
{
    return !a                      ? 0
           : !strcmp(a, "save")    ? SLOT_SAVE
           : !strcmp(a, "restore") ? SLOT_RESTORE
           : !strcmp(a, "erase")   ? SLOT_ERASE
                                   : 0;
}

static void reply_json(buf *out, int32_t id, slot_action a, const char *name, const slot_result *r)
{
    if (a == SLOT_ERASE) {
        buf_printf(out, "{\"id_slot\":%d,\"n_erased\":%d}", (int)id, (int)r->n_tokens);
        return;
    }
    bool save = a == SLOT_SAVE;
    buf_printf(out, "{\"id_slot\":%d,\"filename\":", (int)id);
    buf_json_string(out, name, strlen(name));
    buf_printf(out, ",\"%s\":%d,\"%s\":%lld,\"timings\":{\"%s\":%.3f}}",
               save ? "n_saved" : "n_restored", (int)r->n_tokens, save ? "n_written" : "n_read",
               (long long)r->n_bytes, save ? "save_ms" : "restore_ms", r->ms);
}

bool slot_files_act(const slot_route *rt, buf *out, oai_error *err)
{
    int32_t total, idle, queued, id = 0;
    slot_pool_stats(rt->pool, &total, &idle, &queued);
    if (!parse_id(rt->id, total, &id))
        return BAD(err, NULL, "Invalid slot ID '%.32s': this server has slots 0 to %d.", rt->id,
                   (int)total - 1);
    slot_action a = action_of(rt->action);
    if (!a)
        return BAD(err, "action", "Invalid action '%.32s': use ?action=save, restore or erase.",
                   rt->action ? rt->action : "");
    char name[256] = "", path[PATH_MAX];
    if (a != SLOT_ERASE && !rt->save_dir) {
        oai_error_set(err, 501, "not_supported_error", NULL, NULL,
                      "This server does not save or restore slots: start it with "
                      "--slot-save-path DIR.");
        return false;
    }
    if (a != SLOT_ERASE && !file_path(rt, name, sizeof name, path, sizeof path, err)) return false;
    slot_result r;
    tlm_status st =
        slot_pool_act(rt->pool, id, a, a == SLOT_ERASE ? NULL : path, rt->gone, rt->user, &r);
    if (st == TLM_ERR_CANCELLED) {
        err->status = 0;
        return false;
    }
    if (st == TLM_OK) {
        reply_json(out, id, a, name, &r);
        return true;
    }
    if (a == SLOT_RESTORE) /* the file is the client's: missing, malformed, another model's */
        return BAD(err, "filename", "Cannot restore slot %d from '%s': %s", (int)id, name, r.error);
    oai_error_set(err, 500, "server_error", NULL, NULL, "Cannot %s slot %d: %s",
                  a == SLOT_SAVE ? "save" : "erase", (int)id, r.error);
    return false;
}
