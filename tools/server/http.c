/* http.c - libmicrohttpd glue for tlm-server.
 *
 * Threads: the daemon runs in MHD_USE_THREAD_PER_CONNECTION mode, so each connection has its
 * own thread and may block in our callbacks. A completion request blocks in the access
 * handler while it waits for a slot and evaluates the prompt (so queue-full, context and
 * evaluation errors still get a proper status line); a non-streaming one also generates there.
 * A streaming response is made with MHD_create_response_from_callback: each call of the
 * content reader generates tokens until there is text to send, so generation advances exactly
 * as fast as the client takes the events, and nothing runs after the client is gone. The
 * alternative (an internal thread pool with suspend/resume) would need a generation thread per
 * slot and hand-offs between it and MHD; a thread per connection keeps the token loop in one
 * place at the cost of an idle thread per open connection (bounded by --max-connections).
 *
 * Disconnects: before each token (and every 50 ms while queued) the connection's socket is
 * polled for a hang-up or EOF; a client that left ends the generation and its slot goes back
 * at once. If a write fails first, MHD closes the connection and calls the stream's free
 * callback, which releases the slot too. */
#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"
#include "apply_template.h"
#include "buf.h"
#include "choices.h"
#include "cors.h"
#include "endpoints.h"
#include "metrics.h"
#include "responses.h"
#include "slot_files.h"
#include "structured.h"

struct http_server {
    const http_config *cfg;
    slot_pool *pool;
    struct MHD_Daemon *daemon;
    int port;
    int64_t started; /* Unix time: the model's "created" */
    uint32_t id_salt;
    atomic_uint_fast64_t n_requests;
    metrics *metrics;
    api_env api; /* /tokenize, /detokenize, /v1/embeddings */
};

typedef enum route {
    ROUTE_NONE,
    ROUTE_HEALTH,
    ROUTE_MODELS,
    ROUTE_MODEL, /* /v1/models/{id} */
    ROUTE_CHAT,
    ROUTE_COMPLETIONS,
    ROUTE_APPLY_TEMPLATE, /* POST /apply-template: a chat's prompt text (apply_template.c) */
    ROUTE_TOKENIZE,
    ROUTE_DETOKENIZE,
    ROUTE_EMBEDDINGS,
    ROUTE_RESPONSES,
    ROUTE_METRICS,
    ROUTE_SLOTS, /* GET /slots */
    ROUTE_SLOT,  /* POST /slots/{id}?action=save|restore|erase (slot_files.c) */
} route;

/* The status of the response queued on this thread's connection, for the request counters:
 * with a thread per connection (see above) the thread is the connection. */
static _Thread_local unsigned queued_status;

/* One request on a connection, kept between the calls of the access handler. */
typedef struct request {
    route route;
    buf body;
    bool too_large;
    double t0;
    double t_slot, t_first; /* when it got a slot and when its prompt was evaluated */
} request;

/* The body as a string: "" when the request had none (the buffer was never grown). */
static const char *body_text(const request *rq) { return rq->body.data ? rq->body.data : ""; }

/* A streaming response's state, owned by MHD's response (freed by stream_free). */
typedef struct stream {
    http_server *srv;
    generation *g;
    oai_meta meta;
    char id[64];
    bool include_usage, done;
    int fd;
    buf pending;    /* events not yet handed to MHD */
    structured *sx; /* tools: their text is written by tool_reply.c; NULL: none */
    size_t sent;
    double t0, t_slot, t_first;
    char method_url[96];
    resp_stream *resp; /* /v1/responses: its events instead of chat chunks */
    lp_acc *lp;        /* logprobs asked for: the tokens not yet sent */
} stream;

/* ---- helpers -------------------------------------------------------------------------- */

static void log_line(const http_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void log_line(const http_server *srv, const char *fmt, ...)
{
    if (!srv->cfg->log_requests) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tlm-server: %s\n", line);
}

/* Whether the peer closed its side or reset the connection. Never blocks. */
static bool client_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static bool client_gone_cb(void *user) { return client_gone(*(const int *)user); }

static int connection_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type,
                                 const buf *body, const char *allow)
{
    static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                              "\"server_error\",\"param\":null,\"code\":null}}";
    bool ok = !body->failed;
    struct MHD_Response *r = MHD_create_response_from_buffer(ok ? body->len : sizeof oom - 1,
                                                             ok ? (void *)body->data : (void *)oom,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (allow) MHD_add_response_header(r, "Allow", allow);
    if (status == 503) MHD_add_response_header(r, "Retry-After", "1"); /* busy, not down */
    cors_add_headers(r, c);
    queued_status = ok ? status : 500;
    enum MHD_Result ret = MHD_queue_response(c, ok ? status : 500, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const buf *body)
{
    return send_body(c, status, "application/json", body, NULL);
}

static enum MHD_Result send_error_allow(http_server *srv, struct MHD_Connection *c,
                                        const char *method, const char *url, const oai_error *e,
                                        const char *allow)
{
    buf b = {0};
    oai_error_json(&b, e);
    log_line(srv, "%s %.200s -> %d %s", method, url, e->status, e->message);
    enum MHD_Result r = send_body(c, (unsigned)e->status, "application/json", &b, allow);
    buf_free(&b);
    return r;
}

static enum MHD_Result send_error(http_server *srv, struct MHD_Connection *c, const char *method,
                                  const char *url, const oai_error *e)
{
    return send_error_allow(srv, c, method, url, e, NULL);
}

static route find_route(const char *url)
{
    if (!strcmp(url, "/health")) return ROUTE_HEALTH;
    if (!strcmp(url, "/v1/models")) return ROUTE_MODELS;
    if (!strncmp(url, "/v1/models/", 11) && url[11]) return ROUTE_MODEL;
    if (!strcmp(url, "/v1/chat/completions")) return ROUTE_CHAT;
    if (!strcmp(url, "/v1/completions")) return ROUTE_COMPLETIONS;
    if (!strcmp(url, "/apply-template")) return ROUTE_APPLY_TEMPLATE;
    if (!strcmp(url, "/tokenize")) return ROUTE_TOKENIZE;
    if (!strcmp(url, "/detokenize")) return ROUTE_DETOKENIZE;
    if (!strcmp(url, "/v1/embeddings")) return ROUTE_EMBEDDINGS;
    if (!strcmp(url, "/v1/responses")) return ROUTE_RESPONSES;
    if (!strcmp(url, "/metrics")) return ROUTE_METRICS;
    if (!strcmp(url, "/slots")) return ROUTE_SLOTS;
    if (!strncmp(url, "/slots/", 7)) return ROUTE_SLOT; /* a bad id is the handler's 400 */
    return ROUTE_NONE;
}

/* Compares every byte, so the time taken says nothing about where a guess went wrong. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

static bool authorized(const http_server *srv, struct MHD_Connection *c, oai_error *e)
{
    const char *key = srv->cfg->api_key;
    if (!key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0) {
        oai_error_set(e, 401, "invalid_request_error", NULL, NULL,
                      "You didn't provide an API "
                      "key. You need to provide your API key in an Authorization header using "
                      "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
        return false;
    }
    if (same_secret(h + 7, key)) return true;
    oai_error_set(e, 401, "invalid_request_error", NULL, "invalid_api_key",
                  "Incorrect API key provided.");
    return false;
}

/* ---- GET routes ----------------------------------------------------------------------- */

static enum MHD_Result handle_get(http_server *srv, struct MHD_Connection *c, route rt,
                                  const char *url)
{
    buf b = {0};
    unsigned status = 200;
    if (rt == ROUTE_HEALTH) {
        int32_t total, idle, queued;
        slot_pool_stats(srv->pool, &total, &idle, &queued);
        buf_printf(&b,
                   "{\"status\":\"ok\",\"slots_total\":%d,\"slots_idle\":%d,"
                   "\"slots_processing\":%d,\"queue\":%d}",
                   (int)total, (int)idle, (int)(total - idle), (int)queued);
    } else if (rt == ROUTE_MODELS) {
        oai_models_json(&b, srv->cfg->model_id, srv->started);
    } else if (rt == ROUTE_SLOTS) {
        slot_files_list(srv->pool, &b);
    } else if (rt == ROUTE_METRICS) {
        if (!srv->cfg->metrics) {
            oai_error e;
            oai_error_set(&e, 501, "not_supported_error", NULL, NULL,
                          "This server does not "
                          "serve metrics: start it with --metrics.");
            return send_error(srv, c, "GET", url, &e);
        }
        metrics_render(srv->metrics, srv->pool, &b);
        enum MHD_Result r = send_body(c, 200, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
        buf_free(&b);
        return r;
    } else if (!strcmp(url + 11, srv->cfg->model_id)) {
        oai_model_json(&b, srv->cfg->model_id, srv->started);
    } else {
        oai_error e;
        oai_error_set(&e, 404, "invalid_request_error", "model", "model_not_found",
                      "The model '%.100s' does not exist.", url + 11);
        return send_error(srv, c, "GET", url, &e);
    }
    enum MHD_Result r = send_json(c, status, &b);
    buf_free(&b);
    return r;
}

/* ---- completions ---------------------------------------------------------------------- */

static void make_id(http_server *srv, bool chat, char *out, size_t cap)
{
    uint64_t n = atomic_fetch_add(&srv->n_requests, 1);
    snprintf(out, cap, "%s-%08x%012llx", chat ? "chatcmpl" : "cmpl", (unsigned)srv->id_salt,
             (unsigned long long)n);
}

/* Generates until there is something to send: one chunk per step with text, and at the end
 * the final chunk, the usage chunk and [DONE]; the slot is released as soon as the
 * generation ends, before the last events are written. */
/* stream_advance for /v1/responses: a delta event per piece, the .done events at the end. */
static void responses_advance(stream *st, const char *text, size_t len, bool more)
{
    resp_stream_delta(st->resp, &st->pending, text, len);
    if (more) return;
    const char *reason = gen_finish_reason(st->g);
    oai_usage u = {gen_n_prompt(st->g), gen_n_generated(st->g)};
    if (!strcmp(reason, "error"))
        resp_stream_fail(st->resp, &st->pending, gen_error(st->g));
    else
        resp_stream_end(st->resp, &st->pending, reason, &u);
    metrics_generation(st->srv->metrics, u.prompt_tokens, u.completion_tokens,
                       st->t_first - st->t_slot, now_seconds() - st->t_first);
    log_line(st->srv, "%s -> 200 stream, %d + %d tokens, %s, %.2f s", st->method_url,
             (int)u.prompt_tokens, (int)u.completion_tokens, reason, now_seconds() - st->t0);
    gen_release(st->g);
    st->done = true;
}

static void stream_advance(stream *st)
{
    const char *text;
    size_t len;
    bool more = gen_step(st->g, &text, &len);
    if (st->resp) {
        responses_advance(st, text, len, more);
        return;
    }
    const gen_logprob *lp = gen_logprob_last(st->g);
    if (lp && st->lp) lp_add(st->lp, lp);
    size_t chunk_at = st->pending.len; /* a chunk's logprobs: its tokens since the last one */
    if (len && st->sx)
        structured_stream_text(st->sx, &st->pending, &st->meta, text, len, st->include_usage);
    else if (len)
        oai_chunk_sse(&st->pending, &st->meta, NULL, text, len, NULL, st->include_usage);
    if (len && st->lp) lp_splice(&st->pending, chunk_at, st->lp);
    if (more) return;
    const char *reason = gen_finish_reason(st->g);
    if (st->sx && strcmp(reason, "error")) /* held tool calls go out, "tool_calls" */
        reason = structured_stream_end(st->sx, &st->pending, &st->meta, reason, st->include_usage);
    oai_usage u = {gen_n_prompt(st->g), gen_n_generated(st->g)};
    if (!strcmp(reason, "error")) {
        oai_error e;
        oai_error_set(&e, 500, "server_error", NULL, NULL, "generation failed: %s",
                      gen_error(st->g));
        oai_error_sse(&st->pending, &e);
    } else {
        size_t last_at = st->pending.len;
        oai_chunk_sse(&st->pending, &st->meta, NULL, "", 0, reason, st->include_usage);
        if (st->lp && st->lp->n) lp_splice(&st->pending, last_at, st->lp);
        if (st->include_usage) oai_usage_sse(&st->pending, &st->meta, &u);
    }
    buf_puts(&st->pending, "data: [DONE]\n\n");
    metrics_generation(st->srv->metrics, u.prompt_tokens, u.completion_tokens,
                       st->t_first - st->t_slot, now_seconds() - st->t_first);
    log_line(st->srv, "%s -> 200 stream, %d + %d tokens, %s, %.2f s", st->method_url,
             (int)u.prompt_tokens, (int)u.completion_tokens, reason, now_seconds() - st->t0);
    gen_release(st->g);
    st->done = true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    stream *st = cls;
    while (st->sent == st->pending.len) {
        if (st->done) return MHD_CONTENT_READER_END_OF_STREAM;
        buf_clear(&st->pending);
        st->sent = 0;
        if (client_gone(st->fd)) {
            log_line(st->srv, "%s: client gone after %d tokens; slot released", st->method_url,
                     (int)gen_n_generated(st->g));
            gen_release(st->g);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        stream_advance(st);
        if (st->pending.failed) {
            gen_release(st->g);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = st->pending.len - st->sent;
    if (n > max) n = max;
    memcpy(out, st->pending.data + st->sent, n);
    st->sent += n;
    return (ssize_t)n;
}

static void drop_sx(structured *sx)
{
    if (sx) structured_free(sx);
    free(sx);
}

/* Called by MHD when the response is done with, finished or not. */
static void stream_free(void *cls)
{
    stream *st = cls;
    if (!st->done)
        log_line(st->srv, "%s: stream closed early after %d tokens; slot released", st->method_url,
                 (int)gen_n_generated(st->g));
    gen_free(st->g);
    buf_free(&st->pending);
    resp_stream_free(st->resp);
    if (st->lp) lp_free(st->lp);
    free(st->lp);
    drop_sx(st->sx);
    free(st);
}

static enum MHD_Result start_stream(http_server *srv, struct MHD_Connection *c, generation *g,
                                    const oai_meta *meta, bool include_usage, int fd,
                                    const request *rq, const char *url, structured *sx)
{
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        drop_sx(sx);
        gen_free(g);
        return MHD_NO;
    }
    *st = (stream){.srv = srv,
                   .g = g,
                   .meta = *meta,
                   .include_usage = include_usage,
                   .fd = fd,
                   .t0 = rq->t0,
                   .t_slot = rq->t_slot,
                   .t_first = rq->t_first};
    st->sx = sx;
    snprintf(st->id, sizeof st->id, "%s", meta->id);
    st->meta.id = st->id;
    snprintf(st->method_url, sizeof st->method_url, "POST %s", url);
    if (gen_logprobs(g) > 0) {
        if ((st->lp = malloc(sizeof *st->lp)))
            lp_init(st->lp, srv->cfg->prompt.tok, meta->chat, gen_text_prev(g));
        else
            st->pending.failed = true;
    }
    if (rq->route == ROUTE_RESPONSES) {
        if ((st->resp = resp_stream_create(&st->meta)))
            resp_stream_begin(st->resp, &st->pending);
        else
            st->pending.failed = true;
    } else if (meta->chat) /* the API's first chat chunk: the role, empty content */
        oai_chunk_sse(&st->pending, &st->meta, "assistant", "", 0, NULL, include_usage);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               stream_read, st, stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    cors_add_headers(r, c);
    queued_status = 200;
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r); /* MHD keeps its own reference; stream_free runs when it ends */
    return ret;
}

static enum MHD_Result generate_whole(http_server *srv, struct MHD_Connection *c, generation *g,
                                      const oai_meta *meta, int fd, const request *rq,
                                      const char *url, structured *sx)
{
    buf text = {0};
    lp_acc lp;
    lp_init(&lp, srv->cfg->prompt.tok, meta->chat, gen_text_prev(g));
    bool want_lp = gen_logprobs(g) > 0;
    const char *piece;
    size_t len;
    bool more = true;
    while (more) {
        if (client_gone(fd)) {
            log_line(srv, "POST %s: client gone after %d tokens; slot released", url,
                     (int)gen_n_generated(g));
            gen_free(g);
            buf_free(&text);
            lp_free(&lp);
            drop_sx(sx);
            return MHD_NO;
        }
        more = gen_step(g, &piece, &len);
        buf_append(&text, piece, len);
        if (gen_logprob_last(g)) lp_add(&lp, gen_logprob_last(g));
    }
    const char *reason = gen_finish_reason(g);
    oai_usage u = {gen_n_prompt(g), gen_n_generated(g)};
    metrics_generation(srv->metrics, u.prompt_tokens, u.completion_tokens, rq->t_first - rq->t_slot,
                       now_seconds() - rq->t_first);
    enum MHD_Result r;
    if (!strcmp(reason, "error") || text.failed) {
        oai_error e;
        oai_error_set(&e, 500, "server_error", NULL, NULL, "generation failed: %s",
                      text.failed ? "out of memory" : gen_error(g));
        gen_free(g);
        r = send_error(srv, c, "POST", url, &e);
    } else {
        gen_free(g);
        buf b = {0};
        if (rq->route == ROUTE_RESPONSES)
            resp_json(&b, meta, text.data ? text.data : "", text.len, reason, &u);
        else if (sx)
            structured_response_json(sx, &b, meta, text.data ? text.data : "", text.len, reason,
                                     &u);
        else
            oai_response_json(&b, meta, text.data ? text.data : "", text.len, reason, &u);
        log_line(srv, "POST %s -> 200, %d + %d tokens, %s, %.2f s", url, (int)u.prompt_tokens,
                 (int)u.completion_tokens, reason, now_seconds() - rq->t0);
        if (want_lp) lp_splice(&b, 0, &lp);
        r = send_json(c, 200, &b);
        buf_free(&b);
    }
    buf_free(&text);
    lp_free(&lp);
    drop_sx(sx);
    return r;
}

static tlm_sampler_params sampling_of(const oai_request *req)
{
    tlm_sampler_params sp = tlm_sampler_default_params();
    sp.temperature = (float)req->temperature;
    sp.top_p = (float)req->top_p;
    sp.presence_penalty = (float)req->presence_penalty;
    sp.frequency_penalty = (float)req->frequency_penalty;
    sp.repeat_last_n = -1; /* the API's penalties look at every generated token */
    sp.logit_bias = req->logit_bias;
    sp.n_logit_bias = req->n_logit_bias;
    if (req->has_seed) {
        sp.seed = req->seed;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        sp.seed = (uint64_t)ts.tv_nsec * 6364136223846793005ULL ^ (uint64_t)ts.tv_sec;
    }
    return sp;
}

/* ---- n > 1 choices and lists of prompts (tools/server/choices.c) ---------------------- */

typedef struct choices_stream {
    choices *ch;
    int fd;
    bool done;
    buf pending;
    size_t sent;
} choices_stream;

static ssize_t choices_read(void *cls, uint64_t pos, char *out, size_t max)
{
    choices_stream *st = cls;
    while (st->sent == st->pending.len) {
        if (st->done) return MHD_CONTENT_READER_END_OF_STREAM;
        buf_clear(&st->pending);
        st->sent = 0;
        if (client_gone(st->fd)) {
            choices_release(st->ch);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        st->done = !choices_stream_step(st->ch, &st->pending);
        if (st->pending.failed) {
            choices_release(st->ch);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = st->pending.len - st->sent;
    if (n > max) n = max;
    memcpy(out, st->pending.data + st->sent, n);
    st->sent += n;
    return (ssize_t)n;
}

static void choices_stream_free(void *cls)
{
    choices_stream *st = cls;
    choices_free(st->ch);
    buf_free(&st->pending);
    free(st);
}

static enum MHD_Result handle_choices(http_server *srv, struct MHD_Connection *c, request *rq,
                                      const char *url, const oai_request *req, const gen_params *gp,
                                      bool tools)
{
    oai_error e;
    if (tools || req->logprobs >= 0) { /* their writers know one choice */
        oai_error_set(&e, 400, "invalid_request_error", tools ? "tools" : "logprobs",
                      "unsupported_value",
                      "%s with n > 1 or a list of prompts is not supported "
                      "by this server.",
                      tools ? "Tool calls" : "logprobs");
        return send_error(srv, c, "POST", url, &e);
    }
    choices *ch = choices_create(srv->pool, req, &srv->cfg->prompt, gp, &e);
    if (!ch) return send_error(srv, c, "POST", url, &e);
    int fd = connection_fd(c);
    gen_wait w = choices_acquire(ch, fd >= 0 ? client_gone_cb : NULL, &fd);
    tlm_error terr = {0};
    if (w == GEN_WAIT_OK && choices_begin(ch, &terr) != TLM_OK) {
        choices_free(ch);
        oai_error_set(&e, 500, "server_error", NULL, NULL, "prompt evaluation failed: %s",
                      terr.message);
        return send_error(srv, c, "POST", url, &e);
    }
    if (w != GEN_WAIT_OK) {
        choices_free(ch);
        if (w == GEN_WAIT_CANCELLED) return MHD_NO; /* the client left: close */
        int32_t total, idle, queued;
        slot_pool_stats(srv->pool, &total, &idle, &queued);
        oai_error_set(&e, 503, "server_error", NULL, "overloaded",
                      "The server is busy: all %d "
                      "slots are generating and %d requests are waiting (--queue-limit). Try "
                      "again later.",
                      (int)total, (int)queued);
        return send_error(srv, c, "POST", url, &e);
    }
    char id[64];
    make_id(srv, req->chat, id, sizeof id);
    oai_meta meta = {req->chat, id, (int64_t)time(NULL), srv->cfg->model_id, 0};
    choices_set_meta(ch, &meta, req->include_usage);
    if (req->stream) {
        choices_stream *st = calloc(1, sizeof *st);
        struct MHD_Response *r =
            st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, choices_read, st,
                                                   choices_stream_free)
               : NULL;
        if (!r) {
            free(st);
            choices_free(ch);
            return MHD_NO;
        }
        st->ch = ch, st->fd = fd;
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        cors_add_headers(r, c);
        queued_status = 200;
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    buf b = {0};
    bool ok = choices_whole(ch, &b, fd >= 0 ? client_gone_cb : NULL, &fd, &e);
    oai_usage u = choices_usage(ch);
    int32_t k = choices_count(ch);
    choices_free(ch);
    enum MHD_Result r = MHD_NO; /* e.status 0: the client left */
    if (ok) {
        log_line(srv, "POST %s -> 200, %d choices, %d + %d tokens, %.2f s", url, (int)k,
                 (int)u.prompt_tokens, (int)u.completion_tokens, now_seconds() - rq->t0);
        r = send_json(c, 200, &b);
    } else if (e.status) {
        r = send_error(srv, c, "POST", url, &e);
    }
    buf_free(&b);
    return r;
}

static enum MHD_Result handle_completion(http_server *srv, struct MHD_Connection *c, request *rq,
                                         const char *url)
{
    const http_config *cfg = srv->cfg;
    bool chat = rq->route != ROUTE_COMPLETIONS; /* /v1/responses runs as a chat */
    oai_request req;
    oai_error e;
    oai_limits lim = {cfg->max_messages, cfg->n_vocab, cfg->max_n};
    const char *body = body_text(rq);
    if (rq->route == ROUTE_RESPONSES
            ? !resp_parse_request(body, rq->body.len, &lim, &req, &e)
            : !oai_parse_request(body, rq->body.len, chat, &lim, &req, &e)) {
        oai_request_free(&req);
        return send_error(srv, c, "POST", url, &e);
    }
    /* response_format, tools, tool messages: may rewrite req.msgs and give a grammar */
    structured *sx = calloc(1, sizeof *sx);
    int32_t *ids = NULL, n_ids = 0, max_tokens = 0;
    if (!sx) oai_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
    if (!sx || !structured_prepare(sx, &req, cfg->prompt.chat, &e) ||
        !prompt_build(&req, &cfg->prompt, &ids, &n_ids, &max_tokens, &e)) {
        drop_sx(sx);
        oai_request_free(&req);
        return send_error(srv, c, "POST", url, &e);
    }
    gen_params gp = {.prompt = ids,
                     .n_prompt = n_ids,
                     .max_tokens = max_tokens,
                     .sampling = sampling_of(&req),
                     .stop = req.stop,
                     .n_stop = req.n_stop,
                     .chat = chat ? cfg->prompt.chat : TLM_CHAT_UNKNOWN,
                     .grammar = sx->grammar,
                     .logprobs = req.logprobs + 1};
    if (req.n > 1 || req.n_prompts > 1) { /* several choices: choices.c */
        enum MHD_Result r = handle_choices(srv, c, rq, url, &req, &gp, sx->mode != TOOLS_OFF);
        free(ids);
        drop_sx(sx);
        oai_request_free(&req);
        return r;
    }
    bool stream_it = req.stream, include_usage = req.include_usage;
    generation *g = NULL;
    tlm_error terr = {0};
    tlm_status st = gen_create(srv->pool, &gp, &g, &terr);
    free(ids);
    oai_request_free(&req); /* gen_create copied the ids, biases and stop strings */
    if (st != TLM_OK || sx->mode == TOOLS_OFF) { /* only tool calls need it afterwards */
        drop_sx(sx);
        sx = NULL;
    }
    if (st != TLM_OK) {
        if (st == TLM_ERR_ARG)
            oai_error_set(&e, 400, "invalid_request_error", NULL, "invalid_value", "%s",
                          terr.message);
        else
            oai_error_set(&e, 500, "server_error", NULL, NULL, "%s", terr.message);
        return send_error(srv, c, "POST", url, &e);
    }
    int fd = connection_fd(c);
    gen_wait w = gen_acquire(g, fd >= 0 ? client_gone_cb : NULL, &fd);
    if (w != GEN_WAIT_OK) {
        gen_free(g);
        drop_sx(sx);
        if (w == GEN_WAIT_CANCELLED) {
            log_line(srv, "POST %s: client gone while queued", url);
            return MHD_NO; /* closes the connection */
        }
        int32_t total, idle, queued;
        slot_pool_stats(srv->pool, &total, &idle, &queued);
        oai_error_set(&e, 503, "server_error", NULL, "overloaded",
                      "The server is busy: all %d "
                      "slots are generating and %d requests are waiting (--queue-limit). Try "
                      "again later.",
                      (int)total, (int)queued);
        return send_error(srv, c, "POST", url, &e);
    }
    rq->t_slot = now_seconds();
    if (gen_begin(g, &terr) != TLM_OK) {
        gen_free(g);
        drop_sx(sx);
        oai_error_set(&e, 500, "server_error", NULL, NULL, "prompt evaluation failed: %s",
                      terr.message);
        return send_error(srv, c, "POST", url, &e);
    }
    rq->t_first = now_seconds();
    char id[64];
    make_id(srv, chat, id, sizeof id);
    oai_meta meta = {chat, id, (int64_t)time(NULL), cfg->model_id, 0};
    if (stream_it) return start_stream(srv, c, g, &meta, include_usage, fd, rq, url, sx);
    return generate_whole(srv, c, g, &meta, fd, rq, url, sx);
}

/* ---- /tokenize, /detokenize, /v1/embeddings -------------------------------------------- */

/* The end of a POST handler whose work wrote a JSON body b (ok) or an error e: 200 with b,
 * logged, or e's status and error object. Frees b. */
static enum MHD_Result reply(http_server *srv, struct MHD_Connection *c, const request *rq,
                             const char *url, bool ok, buf *b, const oai_error *e)
{
    enum MHD_Result r;
    if (ok) {
        log_line(srv, "POST %s -> 200, %.2f s", url, now_seconds() - rq->t0);
        r = send_json(c, 200, b);
    } else {
        r = send_error(srv, c, "POST", url, e);
    }
    buf_free(b);
    return r;
}

static enum MHD_Result handle_api(http_server *srv, struct MHD_Connection *c, request *rq,
                                  const char *url)
{
    bool (*fn)(api_env *, const char *, size_t, buf *, oai_error *) =
        rq->route == ROUTE_TOKENIZE     ? api_tokenize
        : rq->route == ROUTE_DETOKENIZE ? api_detokenize
                                        : api_embeddings;
    buf b = {0};
    oai_error e;
    bool ok = fn(&srv->api, body_text(rq), rq->body.len, &b, &e);
    return reply(srv, c, rq, url, ok, &b, &e);
}

/* POST /slots/{id}?action=...: waits while the slot is busy, so a client that leaves
 * meanwhile gets no answer (the connection is closed). */
static enum MHD_Result handle_slot(http_server *srv, struct MHD_Connection *c, request *rq,
                                   const char *url)
{
    int fd = connection_fd(c);
    slot_route rt = {.pool = srv->pool,
                     .save_dir = srv->cfg->slot_save_path,
                     .id = url + 7,
                     .action = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "action"),
                     .body = body_text(rq),
                     .len = rq->body.len,
                     .gone = fd >= 0 ? client_gone_cb : NULL,
                     .user = &fd};
    buf b = {0};
    oai_error e;
    bool ok = slot_files_act(&rt, &b, &e);
    if (!ok && !e.status) {
        log_line(srv, "POST %s: client gone while the slot was busy", url);
        buf_free(&b);
        return MHD_NO;
    }
    return reply(srv, c, rq, url, ok, &b, &e);
}

static enum MHD_Result handle_apply_template(http_server *srv, struct MHD_Connection *c,
                                             request *rq, const char *url)
{
    buf b = {0};
    oai_error e;
    const http_config *cfg = srv->cfg;
    bool ok = apply_template_json(&cfg->prompt, cfg->max_messages, cfg->n_vocab, body_text(rq),
                                  rq->body.len, &b, &e);
    return reply(srv, c, rq, url, ok, &b, &e);
}

/* ---- the access handler --------------------------------------------------------------- */

/* First call of a request: route, method, key and declared size, answered at once when one is
 * wrong (MHD then closes the connection instead of reading a body nobody wants). */
static enum MHD_Result first_call(http_server *srv, struct MHD_Connection *c, request *rq,
                                  const char *url, const char *method)
{
    oai_error e;
    bool is_get = !strcmp(method, "GET"), is_post = !strcmp(method, "POST");
    bool post_route = rq->route == ROUTE_CHAT || rq->route == ROUTE_COMPLETIONS ||
                      rq->route == ROUTE_TOKENIZE || rq->route == ROUTE_DETOKENIZE ||
                      rq->route == ROUTE_EMBEDDINGS || rq->route == ROUTE_RESPONSES;
    if (rq->route != ROUTE_NONE && !strcmp(method, "OPTIONS") && cors_enabled()) {
        queued_status = 204;
        return cors_preflight(c); /* a browser's preflight never carries the key */
    }
    post_route = post_route || rq->route == ROUTE_APPLY_TEMPLATE || rq->route == ROUTE_SLOT;
    if (rq->route == ROUTE_NONE) {
        oai_error_set(&e, 404, "invalid_request_error", NULL, "unknown_url",
                      "Invalid URL (%.16s %.200s)", method, url);
        return send_error(srv, c, method, url, &e);
    }
    if (post_route ? !is_post : !is_get) {
        oai_error_set(&e, 405, "invalid_request_error", NULL, "method_not_allowed",
                      "Method %.16s is not allowed on %.200s; use %s.", method, url,
                      post_route ? "POST" : "GET");
        return send_error_allow(srv, c, method, url, &e, post_route ? "POST" : "GET");
    }
    if (rq->route != ROUTE_HEALTH && !authorized(srv, c, &e))
        return send_error(srv, c, method, url, &e);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > srv->cfg->max_body) {
        oai_error_set(&e, 413, "invalid_request_error", NULL, "request_too_large",
                      "The request "
                      "body is larger than this server's limit of %zu bytes (--max-body).",
                      srv->cfg->max_body);
        return send_error(srv, c, method, url, &e);
    }
    if (is_get) return handle_get(srv, c, rq->route, url);
    return MHD_YES; /* read the body */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    http_server *srv = cls;
    request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        rq->route = find_route(url);
        rq->t0 = now_seconds();
        *con_cls = rq;
        return first_call(srv, c, rq, url, method);
    }
    if (*upload_data_size) { /* a piece of the body; beyond the limit it is read and dropped */
        if (!rq->too_large && *upload_data_size <= srv->cfg->max_body - rq->body.len)
            buf_append(&rq->body, upload_data, *upload_data_size);
        else
            rq->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    oai_error e;
    if (rq->too_large) {
        oai_error_set(&e, 413, "invalid_request_error", NULL, "request_too_large",
                      "The request "
                      "body is larger than this server's limit of %zu bytes (--max-body).",
                      srv->cfg->max_body);
        return send_error(srv, c, method, url, &e);
    }
    if (rq->body.failed) {
        oai_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
        return send_error(srv, c, method, url, &e);
    }
    if (rq->route == ROUTE_CHAT || rq->route == ROUTE_COMPLETIONS || rq->route == ROUTE_RESPONSES)
        return handle_completion(srv, c, rq, url);
    if (rq->route == ROUTE_TOKENIZE || rq->route == ROUTE_DETOKENIZE ||
        rq->route == ROUTE_EMBEDDINGS)
        return handle_api(srv, c, rq, url);
    if (rq->route == ROUTE_APPLY_TEMPLATE) return handle_apply_template(srv, c, rq, url);
    if (rq->route == ROUTE_SLOT) return handle_slot(srv, c, rq, url);
    return MHD_YES; /* a GET was answered in the first call */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *rq = *con_cls;
    if (!rq) return;
    static const metrics_endpoint by_route[] = {[ROUTE_NONE] = METRICS_OTHER,
                                                [ROUTE_HEALTH] = METRICS_HEALTH,
                                                [ROUTE_MODELS] = METRICS_MODELS,
                                                [ROUTE_MODEL] = METRICS_MODELS,
                                                [ROUTE_CHAT] = METRICS_CHAT,
                                                [ROUTE_COMPLETIONS] = METRICS_COMPLETIONS,
                                                [ROUTE_TOKENIZE] = METRICS_TOKENIZE,
                                                [ROUTE_DETOKENIZE] = METRICS_DETOKENIZE,
                                                [ROUTE_EMBEDDINGS] = METRICS_EMBEDDINGS,
                                                [ROUTE_RESPONSES] = METRICS_RESPONSES,
                                                [ROUTE_METRICS] = METRICS_METRICS,
                                                [ROUTE_SLOTS] = METRICS_SLOTS,
                                                [ROUTE_SLOT] = METRICS_SLOTS};
    if (queued_status)
        metrics_request(((http_server *)cls)->metrics, by_route[rq->route], queued_status);
    queued_status = 0;
    buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
}

/* ---- start and stop ------------------------------------------------------------------- */

http_server *http_start(const http_config *cfg, slot_pool *pool)
{
    http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->cfg = cfg;
    srv->pool = pool;
    srv->started = (int64_t)time(NULL);
    srv->id_salt = (uint32_t)((uint64_t)now_seconds() * 2654435761u) ^ (uint32_t)getpid();
    atomic_init(&srv->n_requests, 1);
    cors_configure(cfg->cors_origins, cfg->n_cors);
    srv->api = (api_env){.model = cfg->model,
                         .tok = cfg->prompt.tok,
                         .model_id = cfg->model_id,
                         .n_ctx = cfg->prompt.n_ctx,
                         .n_threads = cfg->embed_threads,
                         .max_inputs = 2048};
    if (!(srv->metrics = metrics_create()) || pthread_mutex_init(&srv->api.embed_lock, NULL) != 0) {
        metrics_free(srv->metrics);
        free(srv);
        return NULL;
    }
    srv->api.metrics = srv->metrics;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        fprintf(stderr, "error: --host %s: %s\n", cfg->host, gai_strerror(rc));
        http_stop(srv); /* no daemon yet: frees what was made */
        return NULL;
    }
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED,
                                   on_completed, srv, MHD_OPTION_CONNECTION_LIMIT, cfg->conn_limit,
                                   MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout,
                                   MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        fprintf(stderr,
                "error: cannot listen on %s port %d (in use, or not an address of this "
                "machine?)\n",
                cfg->host, cfg->port);
        http_stop(srv); /* no daemon yet: frees what was made */
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->port;
    return srv;
}

int http_port(const http_server *srv) { return srv->port; }

void http_stop(http_server *srv)
{
    if (!srv) return;
    if (srv->daemon) MHD_stop_daemon(srv->daemon);
    metrics_free(srv->metrics);
    pthread_mutex_destroy(&srv->api.embed_lock);
    free(srv);
}
