/* tlm-server - an OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions,
 * /v1/models and /health (docs/server.md). One model is loaded and shared read-only by
 * --parallel slots, the sequences of one context made at start, decoded together in one
 * batched pass per token (tools/server/slots.c); requests beyond them wait in a queue. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "server/http.h"

typedef struct options {
    model_source src;
    tlm_context_params cp;
    const char *tokenizer_path, *template_name, *alias, *host, *api_key, *slot_save_path;
    long long port, parallel, queue_limit, threads, threads_per_slot, n_ctx, max_tokens_limit,
        max_body, max_messages, max_connections, timeout, prompt_chunk, max_n;
    bool quiet;
    bool metrics;
    const char *cors[16]; /* --cors-origin values */
    int n_cors;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-server -m MODEL [options]\n"
            "  -m MODEL              GGUF file, llama2.c .bin or Hugging Face directory\n"
            "  -z TOKENIZER          tokenizer when the model file has none\n"
            "  --template NAME       chat template: zephyr, phi2, phi3, phi3-nosys, gemma,\n"
            "                        chatml, qwen (default: the model's own)\n"
            "  --alias NAME          model id in responses and /v1/models (default: file name)\n"
            "  --host ADDR           address to bind (default 127.0.0.1)\n"
            "  --port N              port (default 8080; 0: any free port, printed)\n"
            "  --api-key KEY         require 'Authorization: Bearer KEY' (also $TLM_API_KEY);\n"
            "                        /health stays open\n"
            "  --parallel N          requests generating at once, one sequence each of a context\n"
            "                        whose passes decode all of them together (default 4)\n"
            "  --prompt-chunk N      prompt tokens a request adds to one pass, so a long prompt\n"
            "                        delays the others by a bounded amount (default 64)\n"
            "  --queue-limit N       requests that may wait for a slot; more get 503 (default 64)\n"
            "  --max-n N             largest 'n' (choices per prompt) of a request; a request's\n"
            "                        prompts x n choices take that many slots at once (default 4)\n"
            "  -t, --threads N       threads of the one context that decodes every slot\n"
            "                        (default: all cores)\n"
            "  --threads-per-slot N  the older way to say -t (parallel x N)\n"
            "  -c CTX                positions per slot (default: the model's context, at most\n"
            "                        4096)\n"
            "  --max-tokens-limit N  largest max_tokens accepted (default 4096)\n"
            "  --max-body BYTES      largest request body; larger gets 413 (default 1048576)\n"
            "  --max-messages N      messages per chat request (default 256)\n"
            "  --max-connections N   open connections, each with a thread (default: parallel +\n"
            "                        queue limit + 32)\n"
            "  --timeout S           seconds an idle connection is kept (default 600)\n"
            "  --quiet               no line per request on stderr\n"
            "  --cors-origin ORIGIN  let browser pages from ORIGIN call the API (repeatable, up\n"
            "                        to 16; '*': any origin); off by default\n"
            "  --metrics             serve Prometheus metrics at GET /metrics (else 501)\n"
            "  --slot-save-path DIR  let POST /slots/{id}?action=save|restore write and read\n"
            "                        slot files in DIR (an existing directory); else "
            "501\n" CONTEXT_USAGE);
}

static bool parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        int used = model_source_arg(&o->src, argc, argv, i);
        if (used == 0) used = context_arg(&o->cp, argc, argv, i);
        if (used < 0) return false;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        if (!strcmp(a, "--metrics")) {
            o->metrics = true;
            continue;
        }
        if (!strcmp(a, "--cors-origin") && v) {
            if (o->n_cors == 16 || !*v) {
                fprintf(stderr, "error: --cors-origin: %s\n",
                        *v ? "at most 16 origins" : "empty origin");
                return false;
            }
            o->cors[o->n_cors++] = v;
            i++;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return false;
        if (!v) {
            fprintf(stderr, "error: bad argument '%s'\n", a);
            return false;
        }
        bool ok = true;
        if (!strcmp(a, "-z"))
            o->tokenizer_path = v;
        else if (!strcmp(a, "--template"))
            o->template_name = v;
        else if (!strcmp(a, "--alias"))
            o->alias = v;
        else if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "--api-key"))
            o->api_key = v;
        else if (!strcmp(a, "--slot-save-path"))
            o->slot_save_path = v;
        else if (!strcmp(a, "--port"))
            ok = parse_int(a, v, 0, 65535, &o->port);
        else if (!strcmp(a, "--parallel"))
            ok = parse_int(a, v, 1, 256, &o->parallel);
        else if (!strcmp(a, "--prompt-chunk"))
            ok = parse_int(a, v, 1, 1 << 20, &o->prompt_chunk);
        else if (!strcmp(a, "--queue-limit"))
            ok = parse_int(a, v, 0, 100000, &o->queue_limit);
        else if (!strcmp(a, "--max-n"))
            ok = parse_int(a, v, 1, 256, &o->max_n);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
            ok = parse_int(a, v, 1, 1024, &o->threads);
        else if (!strcmp(a, "--threads-per-slot"))
            ok = parse_int(a, v, 1, 1024, &o->threads_per_slot);
        else if (!strcmp(a, "-c"))
            ok = parse_int(a, v, 2, 1 << 22, &o->n_ctx);
        else if (!strcmp(a, "--max-tokens-limit"))
            ok = parse_int(a, v, 1, 1 << 22, &o->max_tokens_limit);
        else if (!strcmp(a, "--max-body"))
            ok = parse_int(a, v, 1, 1LL << 30, &o->max_body);
        else if (!strcmp(a, "--max-messages"))
            ok = parse_int(a, v, 1, 1 << 20, &o->max_messages);
        else if (!strcmp(a, "--max-connections"))
            ok = parse_int(a, v, 1, 100000, &o->max_connections);
        else if (!strcmp(a, "--timeout"))
            ok = parse_int(a, v, 0, 1 << 30, &o->timeout);
        else {
            fprintf(stderr, "error: unknown argument '%s'\n", a);
            return false;
        }
        if (!ok) return false;
        i++;
    }
    return true;
}

/* --template, else the model's own; UNKNOWN (chat refused) with a warning when neither. */
static bool pick_template(const options *o, const tlm_tokenizer *tok, tlm_chat_template *t)
{
    *t = TLM_CHAT_UNKNOWN;
    if (o->template_name) {
        *t = tlm_chat_template_from_name(o->template_name);
        if (*t == TLM_CHAT_UNKNOWN)
            fprintf(stderr,
                    "error: --template %s is not one of zephyr, phi2, phi3, phi3-nosys, "
                    "gemma, chatml, qwen\n",
                    o->template_name);
        return *t != TLM_CHAT_UNKNOWN;
    }
    const char *jinja = tlm_tokenizer_chat_template(tok);
    tlm_error err = {0};
    if (!jinja)
        fprintf(stderr, "warning: the model carries no chat template: /v1/chat/completions "
                        "answers 400 (choose one with --template)\n");
    else if (tlm_chat_template_detect(jinja, t, &err) != TLM_OK)
        fprintf(stderr,
                "warning: %s: /v1/chat/completions answers 400 (choose a template with "
                "--template)\n",
                err.message);
    return true;
}

/* --slot-save-path must name an existing directory: checked at start, so a typo is not found
 * by the first save. */
static bool save_dir_ready(const char *dir)
{
    struct stat sb;
    const char *why = NULL;
    if (stat(dir, &sb) != 0)
        why = strerror(errno);
    else if (!S_ISDIR(sb.st_mode))
        why = "not a directory";
    if (why) fprintf(stderr, "error: --slot-save-path %s: %s\n", dir, why);
    return !why;
}

/* The file or directory name without its folders. */
static const char *base_name(const char *path, char *out, size_t cap)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(out, cap, "%.*s", (int)(n - start), path + start);
    return out;
}

int main(int argc, char **argv)
{
    options o = {.src = {.seed = 1, .type = TLM_TYPE_F16},
                 .cp = tlm_context_default_params(),
                 .host = "127.0.0.1",
                 .port = 8080,
                 .parallel = 4,
                 .queue_limit = 64,
                 .prompt_chunk = 64,
                 .max_n = 4,
                 .max_tokens_limit = 4096,
                 .max_body = 1 << 20,
                 .max_messages = 256,
                 .timeout = 600};
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    if (!o.api_key) o.api_key = getenv("TLM_API_KEY");
    if (o.api_key && !*o.api_key) o.api_key = NULL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    /* one context decodes every slot in one pass: more threads than cores only thrash */
    if (!o.threads) o.threads = o.threads_per_slot ? o.threads_per_slot * o.parallel : cores;
    if (o.threads < 1) o.threads = 1;
    if (!o.max_connections) o.max_connections = o.parallel + o.queue_limit + 32;

    /* SIGINT/SIGTERM are taken by sigwait below: block them before any thread starts so every
     * thread inherits the mask; a peer that hangs up must not kill the process. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    tlm_tokenizer *tok = NULL;
    slot_pool *pool = NULL;
    http_server *srv = NULL;
    tlm_model *model = NULL;
    if (o.slot_save_path && !save_dir_ready(o.slot_save_path)) goto done;
    model = model_source_open(&o.src, 0);
    if (!model || !(tok = tokenizer_open(o.tokenizer_path, &o.src, model, true))) goto done;
    const tlm_model_info *info = tlm_model_get_info(model);
    tlm_chat_template chat;
    if (!pick_template(&o, tok, &chat)) goto done;

    char name[256];
    const char *model_id = o.alias        ? o.alias
                           : o.src.path   ? base_name(o.src.path, name, sizeof name)
                           : o.src.preset ? o.src.preset
                                          : "model";
    long long n_ctx = o.n_ctx ? o.n_ctx : info->n_ctx_train < 4096 ? info->n_ctx_train : 4096;
    tlm_context_params cp = o.cp;
    cp.n_ctx = (int32_t)n_ctx;
    long long threads = o.threads;
    cp.n_threads = (int32_t)(threads > 1024 ? 1024 : threads);
    slot_pool_params pp = {(int32_t)o.parallel, (int32_t)o.queue_limit, cp,
                           (int32_t)o.prompt_chunk};
    tlm_error err = {0};
    if (!(pool = slot_pool_create(model, tok, &pp, &err))) {
        fprintf(stderr, "error: cannot make %lld slots: %s\n", o.parallel, err.message);
        goto done;
    }
    http_config hc = {.host = o.host,
                      .port = (int)o.port,
                      .api_key = o.api_key,
                      .model_id = model_id,
                      .max_body = (size_t)o.max_body,
                      .max_messages = (int32_t)o.max_messages,
                      .conn_limit = (unsigned)o.max_connections,
                      .timeout = (unsigned)o.timeout,
                      .prompt = {tok, chat, slot_pool_n_ctx(pool), (int32_t)o.max_tokens_limit},
                      .n_vocab = tlm_tokenizer_n_vocab(tok),
                      .max_n = (int32_t)o.max_n,
                      .log_requests = !o.quiet,
                      .model = model,
                      .embed_threads = (int32_t)(threads > 1024 ? 1024 : threads),
                      .cors_origins = o.cors,
                      .n_cors = o.n_cors,
                      .metrics = o.metrics,
                      .slot_save_path = o.slot_save_path};
    if (!(srv = http_start(&hc, pool))) goto done;
    fprintf(stderr,
            "tlm-server: model %s (%s), %lld slots of %d positions, %lld threads, "
            "queue limit %lld, chat template %s%s\n",
            model_id, info->arch, o.parallel, (int)slot_pool_n_ctx(pool), threads, o.queue_limit,
            tlm_chat_template_name(chat), o.api_key ? ", API key required" : "");
    bool v6 = strchr(o.host, ':') != NULL;
    printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", o.host, v6 ? "]" : "", http_port(srv));
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "tlm-server: signal %d, stopping\n", sig);
    slot_pool_stop(pool); /* running generations end at their next token */
    fprintf(stderr, "tlm-server: %lld prompt tokens reused from cached prefixes\n",
            (long long)slot_pool_reused(pool));
    rc = 0;
done:
    http_stop(srv);
    slot_pool_free(pool);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    return rc;
}
