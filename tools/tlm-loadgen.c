/* tlm-loadgen - a load generator for OpenAI-compatible servers on this machine (tlm-server,
 * llama.cpp's llama-server): N concurrent streaming clients, each sending up to M requests
 * within a time limit, to /v1/completions or /v1/chat/completions. Prints the aggregate
 * generated tokens/s, time to first token and inter-token latency (p50, p99) and the errors;
 * --json for a table script. Plain sockets and HTTP/1.1 (chunked bodies decoded), loopback
 * only: it refuses any host but 127.0.0.1, ::1 and localhost, so it cannot load someone
 * else's server by mistake.
 *
 * Counting: a request's generated tokens are its usage.completion_tokens when the stream
 * carries a usage object (stream_options.include_usage, which both servers honour), else its
 * count of events with non-empty text. TTFT is from sending the request to the first event
 * with text; an inter-token latency is the gap between two successive events with text. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"

typedef struct options {
    const char *host, *path, *prompt, *model, *api_key;
    long long port, clients, requests, max_tokens, time_limit;
    double temperature;
    bool chat, json;
} options;

/* One request's outcome. */
typedef struct result {
    bool ok;
    int64_t tokens;
    double ttft; /* seconds; < 0: no text came */
    double *itl; /* gaps between events with text */
    int64_t n_itl, cap_itl;
    char error[160];
} result;

typedef struct shared {
    const options *o;
    double t0;
    pthread_mutex_t lock;
    result *results; /* [clients * requests] */
    int64_t n_results;
} shared;

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-loadgen [options]\n"
            "  --host H            127.0.0.1 (default), ::1 or localhost; no other host\n"
            "  --port N            the server's port (default 8080)\n"
            "  --chat              POST /v1/chat/completions (one user message); default\n"
            "                      /v1/completions\n"
            "  --clients N         concurrent streaming clients (default 4)\n"
            "  --requests M        requests per client (default 4)\n"
            "  --time-limit S      no new request after S seconds (default 60)\n"
            "  -p, --prompt TEXT   the prompt (default \"Once upon a time\")\n"
            "  -n, --max-tokens K  max_tokens of each request (default 64)\n"
            "  --temp T            temperature (default 0)\n"
            "  --model NAME        the request's model field (default \"x\")\n"
            "  --api-key KEY       sent as Authorization: Bearer KEY\n"
            "  --json              one JSON object on stdout instead of the text summary\n");
}

static bool parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--chat")) {
            o->chat = true;
            continue;
        }
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || !v) {
            if (!v && strcmp(a, "-h") && strcmp(a, "--help"))
                fprintf(stderr, "error: bad argument '%s'\n", a);
            return false;
        }
        bool ok = true;
        if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt"))
            o->prompt = v;
        else if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--api-key"))
            o->api_key = v;
        else if (!strcmp(a, "--port"))
            ok = parse_int(a, v, 1, 65535, &o->port);
        else if (!strcmp(a, "--clients"))
            ok = parse_int(a, v, 1, 1024, &o->clients);
        else if (!strcmp(a, "--requests"))
            ok = parse_int(a, v, 1, 1000000, &o->requests);
        else if (!strcmp(a, "--time-limit"))
            ok = parse_int(a, v, 1, 86400, &o->time_limit);
        else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens"))
            ok = parse_int(a, v, 1, 1 << 20, &o->max_tokens);
        else if (!strcmp(a, "--temp"))
            ok = parse_float(a, v, 0, 2, &o->temperature);
        else {
            fprintf(stderr, "error: unknown argument '%s'\n", a);
            return false;
        }
        if (!ok) return false;
        i++;
    }
    return true;
}

/* The loopback address of host, or false: this tool only loads servers on this machine. */
static bool loopback(const char *host, struct sockaddr_storage *sa, socklen_t *len, int port)
{
    memset(sa, 0, sizeof *sa);
    if (!strcmp(host, "127.0.0.1") || !strcmp(host, "localhost")) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *in;
        return true;
    }
    if (!strcmp(host, "::1") || !strcmp(host, "[::1]")) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        in6->sin6_addr = in6addr_loopback;
        *len = sizeof *in6;
        return true;
    }
    return false;
}

static char *request_body(const options *o)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", o->model);
    if (o->chat) {
        cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", o->prompt);
        cJSON_AddItemToArray(msgs, m);
    } else {
        cJSON_AddStringToObject(b, "prompt", o->prompt);
    }
    cJSON_AddNumberToObject(b, "max_tokens", (double)o->max_tokens);
    cJSON_AddNumberToObject(b, "temperature", o->temperature);
    cJSON_AddTrueToObject(b, "stream");
    cJSON *so = cJSON_AddObjectToObject(b, "stream_options");
    cJSON_AddTrueToObject(so, "include_usage");
    char *s = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    return s;
}

static void add_itl(result *r, double gap)
{
    if (r->n_itl == r->cap_itl) {
        int64_t cap = r->cap_itl ? r->cap_itl * 2 : 64;
        double *p = realloc(r->itl, (size_t)cap * sizeof *p);
        if (!p) return; /* a gap fewer in the percentiles, not a failure of the run */
        r->itl = p, r->cap_itl = cap;
    }
    r->itl[r->n_itl++] = gap;
}

/* The state of one streamed response. */
typedef struct sse {
    result *r;
    double t_send, t_last;
    int64_t events; /* events with text */
    int64_t usage;  /* usage.completion_tokens, -1 until seen */
    bool done, error;
    char line[1 << 16];
    size_t n_line;
} sse;

/* The generated text an event carries (completions: choices[0].text; chat: delta.content). */
static bool event_has_text(const cJSON *ev)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(ev, "choices");
    for (const cJSON *c = ch ? ch->child : NULL; c; c = c->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "delta");
        const cJSON *content = d ? cJSON_GetObjectItemCaseSensitive(d, "content") : NULL;
        if ((cJSON_IsString(t) && *t->valuestring) ||
            (cJSON_IsString(content) && *content->valuestring))
            return true;
    }
    return false;
}

static void sse_line(sse *s, const char *line)
{
    if (strncmp(line, "data:", 5)) return;
    line += 5;
    while (*line == ' ')
        line++;
    if (!strcmp(line, "[DONE]")) {
        s->done = true;
        return;
    }
    cJSON *ev = cJSON_Parse(line);
    if (!ev) return;
    if (cJSON_GetObjectItemCaseSensitive(ev, "error")) {
        s->error = true;
        snprintf(s->r->error, sizeof s->r->error, "error event in the stream");
    }
    if (event_has_text(ev)) {
        double t = now_seconds();
        if (s->events == 0)
            s->r->ttft = t - s->t_send;
        else
            add_itl(s->r, t - s->t_last);
        s->t_last = t;
        s->events++;
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(ev, "usage");
    const cJSON *ct = u ? cJSON_GetObjectItemCaseSensitive(u, "completion_tokens") : NULL;
    if (cJSON_IsNumber(ct)) s->usage = (int64_t)ct->valuedouble;
    cJSON_Delete(ev);
}

/* Body bytes (already de-chunked) into lines. */
static void sse_feed(sse *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (s->n_line && s->line[s->n_line - 1] == '\r') s->n_line--;
            s->line[s->n_line] = '\0';
            sse_line(s, s->line);
            s->n_line = 0;
        } else if (s->n_line < sizeof s->line - 1) {
            s->line[s->n_line++] = p[i];
        }
    }
}

/* Reads the response: the status line and headers, then the body, chunked or not. */
static bool read_response(int fd, sse *s)
{
    static const size_t cap = 1 << 16;
    char *buf = malloc(cap);
    if (!buf) return false;
    size_t have = 0, at = 0;
    bool headers = true, chunked = false, ok = false;
    int status = 0;
    int64_t chunk_left = -1; /* -1: a chunk-size line comes next */
    for (;;) {
        if (at == have) at = have = 0;
        if (have == cap) { /* a header or size line longer than the buffer */
            memmove(buf, buf + at, have - at);
            have -= at, at = 0;
            if (have == cap) break;
        }
        ssize_t got = recv(fd, buf + have, cap - have, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            ok = !headers && !chunked && status == 200; /* a body that ends with the connection */
            break;
        }
        have += (size_t)got;
        for (;;) {
            if (headers) {
                char *end = memmem(buf + at, have - at, "\r\n\r\n", 4);
                if (!end) break;
                *end = '\0';
                if (sscanf(buf + at, "HTTP/%*d.%*d %d", &status) != 1) status = 0;
                for (char *p = buf + at; *p; p++)
                    *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
                chunked = strstr(buf + at, "transfer-encoding: chunked") != NULL;
                at = (size_t)(end - buf) + 4;
                headers = false;
                if (status != 200) {
                    snprintf(s->r->error, sizeof s->r->error, "HTTP status %d", status);
                    goto out;
                }
                continue;
            }
            if (!chunked) {
                sse_feed(s, buf + at, have - at);
                at = have;
                break;
            }
            if (chunk_left < 0) {
                char *eol = memmem(buf + at, have - at, "\r\n", 2);
                if (!eol) break;
                *eol = '\0';
                chunk_left = strtoll(buf + at, NULL, 16);
                at = (size_t)(eol - buf) + 2;
                if (chunk_left == 0) {
                    ok = true;
                    goto out;
                }
                continue;
            }
            size_t take = have - at;
            if ((int64_t)take > chunk_left) take = (size_t)chunk_left;
            sse_feed(s, buf + at, take);
            at += take;
            chunk_left -= (int64_t)take;
            if (chunk_left > 0) break;
            if (have - at < 2) break; /* the chunk's CRLF: wait for it */
            at += 2;
            chunk_left = -1;
        }
        if (s->done) {
            ok = true;
            break;
        }
    }
out:
    free(buf);
    if (!ok && !s->r->error[0]) snprintf(s->r->error, sizeof s->r->error, "connection ended");
    return ok && s->done && !s->error;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w, n -= (size_t)w;
    }
    return true;
}

static void one_request(const options *o, const char *body, result *r)
{
    *r = (result){.ttft = -1};
    struct sockaddr_storage sa;
    socklen_t len;
    loopback(o->host, &sa, &len, (int)o->port);
    int fd = socket(sa.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len) != 0) {
        snprintf(r->error, sizeof r->error, "connect: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return;
    }
    char head[512];
    char auth[300] = "";
    if (o->api_key) snprintf(auth, sizeof auth, "Authorization: Bearer %.256s\r\n", o->api_key);
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%lld\r\nContent-Type: "
                      "application/json\r\nAccept: text/event-stream\r\n%sContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      o->path, o->host, o->port, auth, strlen(body));
    sse *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(r->error, sizeof r->error, "out of memory");
        close(fd);
        return;
    }
    s->r = r, s->usage = -1;
    s->t_send = now_seconds();
    if (hn > 0 && (size_t)hn < sizeof head && send_all(fd, head, (size_t)hn) &&
        send_all(fd, body, strlen(body))) {
        r->ok = read_response(fd, s);
        r->tokens = s->usage >= 0 ? s->usage : s->events;
    } else {
        snprintf(r->error, sizeof r->error, "send failed");
    }
    free(s);
    close(fd);
}

static void *client_main(void *arg)
{
    shared *sh = arg;
    const options *o = sh->o;
    char *body = request_body(o);
    for (long long i = 0; i < o->requests && body; i++) {
        if (now_seconds() - sh->t0 >= (double)o->time_limit) break;
        result r;
        one_request(o, body, &r);
        pthread_mutex_lock(&sh->lock);
        sh->results[sh->n_results++] = r;
        pthread_mutex_unlock(&sh->lock);
    }
    cJSON_free(body);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-th quantile (nearest rank) of v[0..n), sorted in place; 0 for none. */
static double quantile(double *v, int64_t n, double q)
{
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int64_t k = (int64_t)(q * (double)n + 0.999999);
    if (k < 1) k = 1;
    return v[k - 1];
}

int main(int argc, char **argv)
{
    options o = {.host = "127.0.0.1",
                 .port = 8080,
                 .prompt = "Once upon a time",
                 .model = "x",
                 .clients = 4,
                 .requests = 4,
                 .max_tokens = 64,
                 .time_limit = 60};
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    struct sockaddr_storage sa;
    socklen_t sl;
    if (!loopback(o.host, &sa, &sl, (int)o.port)) {
        fprintf(stderr,
                "error: --host %s: tlm-loadgen only connects to this machine "
                "(127.0.0.1, ::1 or localhost)\n",
                o.host);
        return 2;
    }
    o.path = o.chat ? "/v1/chat/completions" : "/v1/completions";
    shared sh = {.o = &o, .t0 = now_seconds()};
    pthread_mutex_init(&sh.lock, NULL);
    sh.results = calloc((size_t)(o.clients * o.requests), sizeof *sh.results);
    pthread_t *th = calloc((size_t)o.clients, sizeof *th);
    if (!sh.results || !th) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    long long started = 0;
    for (; started < o.clients; started++)
        if (pthread_create(&th[started], NULL, client_main, &sh) != 0) break;
    for (long long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double wall = now_seconds() - sh.t0;

    int64_t ok = 0, errors = 0, tokens = 0, n_itl = 0, n_ttft = 0;
    for (int64_t i = 0; i < sh.n_results; i++)
        n_itl += sh.results[i].n_itl;
    double *itl = calloc((size_t)n_itl + 1, sizeof *itl);
    double *ttft = calloc((size_t)sh.n_results + 1, sizeof *ttft);
    if (!itl || !ttft) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    n_itl = 0;
    const char *first_error = NULL;
    for (int64_t i = 0; i < sh.n_results; i++) {
        result *r = &sh.results[i];
        if (r->ok)
            ok++;
        else {
            errors++;
            if (!first_error) first_error = r->error;
        }
        tokens += r->tokens;
        if (r->ttft >= 0) ttft[n_ttft++] = r->ttft;
        for (int64_t j = 0; j < r->n_itl; j++)
            itl[n_itl++] = r->itl[j];
    }
    double tps = wall > 0 ? (double)tokens / wall : 0;
    double t50 = quantile(ttft, n_ttft, 0.5), t99 = quantile(ttft, n_ttft, 0.99);
    double i50 = quantile(itl, n_itl, 0.5), i99 = quantile(itl, n_itl, 0.99);
    if (o.json) {
        printf("{\"endpoint\":\"%s\",\"clients\":%lld,\"requests\":%lld,\"ok\":%lld,"
               "\"errors\":%lld,\"tokens\":%lld,\"seconds\":%.3f,\"tokens_per_s\":%.3f,"
               "\"ttft_p50_ms\":%.3f,\"ttft_p99_ms\":%.3f,\"itl_p50_ms\":%.3f,"
               "\"itl_p99_ms\":%.3f}\n",
               o.path, o.clients, (long long)sh.n_results, (long long)ok, (long long)errors,
               (long long)tokens, wall, tps, t50 * 1e3, t99 * 1e3, i50 * 1e3, i99 * 1e3);
    } else {
        printf("%s: %lld clients, %lld requests (%lld ok, %lld errors), %lld tokens in %.2f s\n",
               o.path, o.clients, (long long)sh.n_results, (long long)ok, (long long)errors,
               (long long)tokens, wall);
        printf("aggregate  %.1f generated tokens/s\n", tps);
        printf("TTFT       p50 %.1f ms, p99 %.1f ms\n", t50 * 1e3, t99 * 1e3);
        printf("inter-token p50 %.1f ms, p99 %.1f ms\n", i50 * 1e3, i99 * 1e3);
        if (first_error) printf("first error: %s\n", first_error);
    }
    for (int64_t i = 0; i < sh.n_results; i++)
        free(sh.results[i].itl);
    free(sh.results);
    free(th);
    free(itl);
    free(ttft);
    pthread_mutex_destroy(&sh.lock);
    return errors ? 1 : 0;
}
