/* metrics.c - see metrics.h. Names follow Prometheus' conventions (a _total suffix on
 * counters, base units: seconds); the throughput gauges are averages since the start (the
 * counters' ratio, as llama-server's prompt_tokens_seconds), because a rate over "the last
 * pass" says little when passes mix several requests. */
#include "metrics.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Status codes the server sends; anything else is counted as "other". */
static const unsigned statuses[] = {200, 204, 400, 401, 404, 405, 413, 500, 501, 503};
#define N_STATUS (sizeof statuses / sizeof statuses[0] + 1)

static const char *const endpoint_names[METRICS_N_ENDPOINTS] = {
    "other",           "/health",   "/v1/models",  "/v1/chat/completions",
    "/v1/completions", "/tokenize", "/detokenize", "/v1/embeddings",
    "/v1/responses",   "/metrics",  "/slots"};

struct metrics {
    atomic_uint_fast64_t requests[METRICS_N_ENDPOINTS][N_STATUS];
    atomic_uint_fast64_t prompt_tokens, generated_tokens, embedded_tokens, generations;
    /* seconds in microseconds, so they can be atomics */
    atomic_uint_fast64_t prompt_us, decode_us;
};

metrics *metrics_create(void)
{
    metrics *m = calloc(1, sizeof *m); /* all-zero bytes are zero atomics on our targets */
    return m;
}

void metrics_free(metrics *m) { free(m); }

void metrics_request(metrics *m, metrics_endpoint e, unsigned status)
{
    if (!m || e < 0 || e >= METRICS_N_ENDPOINTS) return;
    size_t k = N_STATUS - 1;
    for (size_t i = 0; i + 1 < N_STATUS; i++)
        if (statuses[i] == status) k = i;
    atomic_fetch_add(&m->requests[e][k], 1);
}

static uint64_t micros(double s) { return s > 0 ? (uint64_t)(s * 1e6 + 0.5) : 0; }

void metrics_generation(metrics *m, int32_t n_prompt, int32_t n_generated, double prompt_s,
                        double decode_s)
{
    if (!m) return;
    atomic_fetch_add(&m->generations, 1);
    atomic_fetch_add(&m->prompt_tokens, (uint64_t)(n_prompt > 0 ? n_prompt : 0));
    atomic_fetch_add(&m->generated_tokens, (uint64_t)(n_generated > 0 ? n_generated : 0));
    atomic_fetch_add(&m->prompt_us, micros(prompt_s));
    atomic_fetch_add(&m->decode_us, micros(decode_s));
}

void metrics_embedded(metrics *m, int32_t n_tokens)
{
    if (m && n_tokens > 0) atomic_fetch_add(&m->embedded_tokens, (uint64_t)n_tokens);
}

static void help_type(buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(buf *out, const char *name, const char *help, uint64_t v)
{
    help_type(out, name, "counter", help);
    buf_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(buf *out, const char *name, const char *help, double v)
{
    help_type(out, name, "gauge", help);
    buf_printf(out, "%s %.6g\n", name, v);
}

void metrics_render(metrics *m, slot_pool *pool, buf *out)
{
    help_type(out, "tlm_requests_total", "counter",
              "HTTP requests answered, by endpoint and status code.");
    for (int e = 0; e < METRICS_N_ENDPOINTS; e++)
        for (size_t k = 0; k < N_STATUS; k++) {
            uint64_t v = atomic_load(&m->requests[e][k]);
            if (!v) continue; /* absent series read as zero; keeps the page short */
            if (k + 1 < N_STATUS)
                buf_printf(out, "tlm_requests_total{endpoint=\"%s\",status=\"%u\"} %llu\n",
                           endpoint_names[e], statuses[k], (unsigned long long)v);
            else
                buf_printf(out, "tlm_requests_total{endpoint=\"%s\",status=\"other\"} %llu\n",
                           endpoint_names[e], (unsigned long long)v);
        }
    uint64_t pt = atomic_load(&m->prompt_tokens), gt = atomic_load(&m->generated_tokens);
    double ps = (double)atomic_load(&m->prompt_us) / 1e6;
    double ds = (double)atomic_load(&m->decode_us) / 1e6;
    counter(out, "tlm_generations_total", "Generations finished (completions, chats, responses).",
            atomic_load(&m->generations));
    counter(out, "tlm_prompt_tokens_total", "Prompt tokens of finished generations.", pt);
    counter(out, "tlm_generated_tokens_total", "Tokens generated.", gt);
    counter(out, "tlm_embedding_tokens_total", "Input tokens of /v1/embeddings requests.",
            atomic_load(&m->embedded_tokens));
    help_type(out, "tlm_prompt_seconds_total", "counter",
              "Seconds spent evaluating prompts (from taking a slot to the first token).");
    buf_printf(out, "tlm_prompt_seconds_total %.6f\n", ps);
    help_type(out, "tlm_generation_seconds_total", "counter",
              "Seconds spent generating, after the prompt.");
    buf_printf(out, "tlm_generation_seconds_total %.6f\n", ds);
    gauge(out, "tlm_prompt_tokens_per_second",
          "Average prompt throughput per request since the start.", ps > 0 ? (double)pt / ps : 0);
    gauge(out, "tlm_generated_tokens_per_second",
          "Average generation throughput per request since the start.",
          ds > 0 ? (double)gt / ds : 0);
    int64_t passes, pass_tokens;
    slot_pool_batches(pool, &passes, &pass_tokens);
    counter(out, "tlm_batch_passes_total", "Batched forward passes (every slot's tokens in one).",
            (uint64_t)passes);
    counter(out, "tlm_batch_tokens_total", "Tokens those passes evaluated (prompt and decode).",
            (uint64_t)pass_tokens);
    counter(out, "tlm_prompt_tokens_reused_total",
            "Prompt tokens taken from a slot's cached prefix instead of evaluated.",
            (uint64_t)slot_pool_reused(pool));
    int32_t total, idle, queued;
    slot_pool_stats(pool, &total, &idle, &queued);
    gauge(out, "tlm_queue_length", "Requests waiting for a slot.", queued);
    help_type(out, "tlm_slots", "gauge", "Slots by state.");
    buf_printf(out, "tlm_slots{state=\"idle\"} %d\ntlm_slots{state=\"processing\"} %d\n", (int)idle,
               (int)(total - idle));
}
