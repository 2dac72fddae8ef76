/* slot_files.h - llama-server's slot routes: GET /slots and POST /slots/{id}?action=save|
 * restore|erase. A filename is checked here, so that a request can name only a plain file
 * inside --slot-save-path; the action itself runs in the batcher (slot_pool_act). */
#ifndef TLM_SERVER_SLOT_FILES_H
#define TLM_SERVER_SLOT_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "openai.h"
#include "slots.h"

/* GET /slots: [{"id", "n_ctx", "is_processing", "n_cached"}, ...], one object per slot. */
void slot_files_list(slot_pool *pool, buf *out);

/* Whether name (n bytes) may be a file of the save directory: 1 to 255 bytes, no '/', '\\',
 * NUL or control character, not starting with '.' (so not ".", ".." nor a hidden file). */
bool slot_filename_ok(const char *name, size_t n);

typedef struct slot_route {
    slot_pool *pool;
    const char *save_dir; /* --slot-save-path; NULL: save and restore answer 501 */
    const char *id;       /* the URL's text after "/slots/" */
    const char *action;   /* the query's action=, NULL when absent */
    const char *body;     /* the request's body (len bytes; none is needed for erase) */
    size_t len;
    bool (*gone)(void *user); /* polled while the slot is busy */
    void *user;
} slot_route;

/* POST /slots/{id}?action=...: true with llama-server's reply in *out, or false with *err
 * (err->status 0: the client left while the slot was busy). */
bool slot_files_act(const slot_route *rt, buf *out, oai_error *err);

#endif
