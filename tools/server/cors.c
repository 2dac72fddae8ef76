/* cors.c - see cors.h. The origin list is process state set once at start-up: the response
 * helpers of http.c that add the header have only the connection at hand. */
#include "cors.h"

#include <stdio.h>
#include <string.h>

static const char *const *allowed;
static int n_allowed;

void cors_configure(const char *const *origins, int n)
{
    allowed = origins;
    n_allowed = n;
}

bool cors_enabled(void) { return n_allowed > 0; }

/* The value for Access-Control-Allow-Origin, or NULL when the origin is not allowed. */
static const char *allow_value(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin || !n_allowed) return NULL;
    for (int i = 0; i < n_allowed; i++) {
        if (!strcmp(allowed[i], "*")) return "*";
        if (!strcmp(allowed[i], origin)) return origin;
    }
    return NULL;
}

void cors_add_headers(struct MHD_Response *r, struct MHD_Connection *c)
{
    const char *v = allow_value(c);
    if (!v) return;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", v);
    if (strcmp(v, "*")) MHD_add_response_header(r, "Vary", "Origin"); /* caches key on it */
}

enum MHD_Result cors_preflight(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    cors_add_headers(r, c);
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    /* the openai client sends x-stainless-* headers too: a preflight names what it wants */
    const char *want =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Headers");
    char headers[1024];
    snprintf(headers, sizeof headers, "Authorization, Content-Type%s%.900s",
             want && *want ? ", " : "", want ? want : "");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", headers);
    MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
    enum MHD_Result ret = MHD_queue_response(c, 204, r);
    MHD_destroy_response(r);
    return ret;
}
