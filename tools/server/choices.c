/* choices.c - n > 1 choices and lists of prompts (choices.h).
 *
 * A request's K = prompts x n generations take K slots at once (gen_acquire_n: taking them
 * one by one could leave two requests each holding part of what it needs). Each prompt is
 * evaluated in its first choice's slot; the other choices of that prompt copy its cells and
 * logits (gen_begin_fork), so the prompt costs one evaluation whatever n is. A step starts
 * every running choice (sample, post the next token) before waiting for any, so the batcher
 * evaluates all of them in one pass. Responses reuse openai.c's one-choice writers with the
 * choice's index (oai_meta.index); a whole response joins their choice objects. */
#include "choices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct choices {
    slot_pool *pool;
    generation **gens; /* [k]: choice k = prompt * n + c */
    buf *text;         /* [k]: whole responses' text */
    bool *ended;       /* [k]: its last chunk was written */
    int32_t k, n, n_prompts;
    int32_t prompt_tokens; /* each prompt once */
    oai_meta meta;
    char id[64];
    bool include_usage, started, failed;
    char error[256];
};

uint64_t choices_seed(uint64_t s, int32_t k)
{
    return s + (uint64_t)k * 0x9E3779B97F4A7C15ULL; /* 2^64 / golden ratio: far apart seeds */
}

int32_t choices_count(const choices *ch) { return ch->k; }

void choices_free(choices *ch)
{
    if (!ch) return;
    for (int32_t i = 0; i < ch->k; i++) {
        gen_free(ch->gens[i]);
        buf_free(&ch->text[i]);
    }
    free(ch->gens);
    free(ch->text);
    free(ch->ended);
    free(ch);
}

void choices_release(choices *ch)
{
    for (int32_t i = 0; i < ch->k; i++)
        if (ch->gens[i]) gen_release(ch->gens[i]);
}

/* The ids and budget of list prompt p (prompt_build on a copy holding only that prompt). */
static bool list_prompt(const oai_request *req, int32_t p, const prompt_env *env, int32_t **ids,
                        int32_t *n_ids, int32_t *max_tokens, oai_error *e)
{
    oai_request one = *req;
    one.prompt = req->prompts[p].text;
    one.prompt_ids = req->prompts[p].ids;
    one.n_prompt_ids = req->prompts[p].n_ids;
    if (prompt_build(&one, env, ids, n_ids, max_tokens, e)) return true;
    if (!strcmp(e->param, "prompt")) snprintf(e->param, sizeof e->param, "prompt[%d]", (int)p);
    return false;
}

choices *choices_create(slot_pool *pool, const oai_request *req, const prompt_env *env,
                        const gen_params *tmpl, oai_error *e)
{
    int32_t n_prompts = req->n_prompts > 1 ? req->n_prompts : 1;
    int32_t total, idle, queued;
    slot_pool_stats(pool, &total, &idle, &queued);
    int64_t k = (int64_t)n_prompts * req->n;
    if (k > total) {
        oai_error_set(e, 400, "invalid_request_error", req->n > 1 ? "n" : "prompt", "invalid_value",
                      "This request asks for %lld choices (%d prompts x n = "
                      "%d); this server generates at most %d at once (--parallel).",
                      (long long)k, (int)n_prompts, (int)req->n, (int)total);
        return NULL;
    }
    choices *ch = calloc(1, sizeof *ch);
    if (ch) {
        ch->pool = pool;
        ch->n = req->n;
        ch->n_prompts = n_prompts;
        ch->gens = calloc((size_t)k, sizeof *ch->gens);
        ch->text = calloc((size_t)k, sizeof *ch->text);
        ch->ended = calloc((size_t)k, sizeof *ch->ended);
    }
    if (!ch || !ch->gens || !ch->text || !ch->ended) {
        choices_free(ch);
        oai_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        return NULL;
    }
    for (int32_t p = 0; p < n_prompts; p++) {
        gen_params gp = *tmpl;
        int32_t *ids = NULL;
        if (n_prompts > 1 && !list_prompt(req, p, env, &ids, &gp.n_prompt, &gp.max_tokens, e)) {
            choices_free(ch);
            return NULL;
        }
        if (ids) gp.prompt = ids;
        ch->prompt_tokens += gp.n_prompt;
        for (int32_t c = 0; c < req->n; c++) {
            int32_t i = p * req->n + c;
            gp.sampling.seed = choices_seed(tmpl->sampling.seed, i);
            tlm_error terr = {0};
            tlm_status st = gen_create(pool, &gp, &ch->gens[i], &terr);
            ch->k = i + 1; /* so choices_free frees what was made */
            if (st != TLM_OK) {
                if (st == TLM_ERR_ARG)
                    oai_error_set(e, 400, "invalid_request_error", NULL, "invalid_value", "%s",
                                  terr.message);
                else
                    oai_error_set(e, 500, "server_error", NULL, NULL, "%s", terr.message);
                free(ids);
                choices_free(ch);
                return NULL;
            }
        }
        free(ids); /* gen_create copied them */
    }
    return ch;
}

gen_wait choices_acquire(choices *ch, bool (*gone)(void *user), void *user)
{
    return gen_acquire_n(ch->gens, ch->k, gone, user);
}

tlm_status choices_begin(choices *ch, tlm_error *err)
{
    for (int32_t p = 0; p < ch->n_prompts; p++) {
        generation *first = ch->gens[p * ch->n];
        tlm_status st = gen_begin(first, err);
        for (int32_t c = 1; c < ch->n && st == TLM_OK; c++)
            st = gen_begin_fork(ch->gens[p * ch->n + c], first, err);
        if (st != TLM_OK) return st;
    }
    return TLM_OK;
}

void choices_set_meta(choices *ch, const oai_meta *m, bool include_usage)
{
    ch->meta = *m;
    snprintf(ch->id, sizeof ch->id, "%s", m->id);
    ch->meta.id = ch->id;
    ch->include_usage = include_usage;
}

oai_usage choices_usage(const choices *ch)
{
    oai_usage u = {ch->prompt_tokens, 0};
    for (int32_t i = 0; i < ch->k; i++)
        u.completion_tokens += gen_n_generated(ch->gens[i]);
    return u;
}

/* One step of every running choice: all are started before any is waited for, so their
 * tokens go into the same batched pass. Calls got(i, text, len) for each choice with text or
 * that ended this step. Returns whether any choice still runs. */
static bool step_all(choices *ch,
                     void (*got)(choices *, int32_t, const char *, size_t, bool, buf *), buf *out)
{
    for (int32_t i = 0; i < ch->k; i++)
        if (!ch->ended[i]) gen_step_start(ch->gens[i]);
    bool running = false;
    for (int32_t i = 0; i < ch->k; i++) {
        if (ch->ended[i]) continue;
        const char *text;
        size_t len;
        bool more = gen_step_end(ch->gens[i], &text, &len);
        if (!more) {
            const char *reason = gen_finish_reason(ch->gens[i]);
            if (!reason || !strcmp(reason, "error")) {
                if (!ch->failed)
                    snprintf(ch->error, sizeof ch->error, "%s", gen_error(ch->gens[i]));
                ch->failed = true;
            }
        }
        got(ch, i, text, len, !more, out);
        if (!more) {
            ch->ended[i] = true;
            gen_release(ch->gens[i]); /* its slot can serve the queue while others run */
        } else {
            running = true;
        }
    }
    return running;
}

static void stream_got(choices *ch, int32_t i, const char *text, size_t len, bool last, buf *out)
{
    oai_meta m = ch->meta;
    m.index = i;
    if (len) oai_chunk_sse(out, &m, NULL, text, len, NULL, ch->include_usage);
    if (last && !ch->failed)
        oai_chunk_sse(out, &m, NULL, "", 0, gen_finish_reason(ch->gens[i]), ch->include_usage);
}

bool choices_stream_step(choices *ch, buf *out)
{
    if (!ch->started) {
        ch->started = true;
        if (ch->meta.chat) /* the API's first chat chunk of each choice: the role */
            for (int32_t i = 0; i < ch->k; i++) {
                oai_meta m = ch->meta;
                m.index = i;
                oai_chunk_sse(out, &m, "assistant", "", 0, NULL, ch->include_usage);
            }
        return true;
    }
    bool running = step_all(ch, stream_got, out);
    if (running && !ch->failed) return true;
    if (ch->failed) {
        choices_release(ch);
        oai_error err;
        oai_error_set(&err, 500, "server_error", NULL, NULL, "generation failed: %s", ch->error);
        oai_error_sse(out, &err);
    } else if (ch->include_usage) {
        oai_usage u = choices_usage(ch);
        oai_usage_sse(out, &ch->meta, &u);
    }
    buf_puts(out, "data: [DONE]\n\n");
    return false;
}

static void whole_got(choices *ch, int32_t i, const char *text, size_t len, bool last, buf *out)
{
    buf_append(&ch->text[i], text, len);
}

/* The choice object of a one-choice response: between its '"choices":[' and the last
 * '],"usage":' (strings inside are escaped, so neither can occur in them unescaped). */
static bool choice_object(const buf *one, const char **at, size_t *len)
{
    const char *s = one->data, *open = s ? strstr(s, ",\"choices\":[") : NULL;
    const char *close = NULL;
    for (const char *p = open; p && (p = strstr(p, "],\"usage\":")); p++)
        close = p;
    if (!open || !close) return false;
    *at = open + strlen(",\"choices\":[");
    *len = (size_t)(close - *at);
    return close >= *at;
}

bool choices_whole(choices *ch, buf *out, bool (*gone)(void *user), void *user, oai_error *e)
{
    bool running = true;
    while (running && !ch->failed) {
        if (gone && gone(user)) {
            choices_release(ch);
            e->status = 0;
            return false;
        }
        running = step_all(ch, whole_got, NULL);
    }
    if (ch->failed) {
        choices_release(ch);
        oai_error_set(e, 500, "server_error", NULL, NULL, "generation failed: %s", ch->error);
        return false;
    }
    for (int32_t i = 0; i < ch->k; i++)
        if (ch->text[i].failed) {
            oai_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
            return false;
        }
    oai_usage u = choices_usage(ch);
    buf first = {0}, one = {0};
    bool ok = true;
    for (int32_t i = 0; i < ch->k && ok; i++) {
        oai_meta m = ch->meta;
        m.index = i;
        buf *b = i == 0 ? &first : &one;
        buf_clear(b);
        const buf *t = &ch->text[i];
        oai_response_json(b, &m, t->data ? t->data : "", t->len, gen_finish_reason(ch->gens[i]),
                          &u);
        const char *at;
        size_t len;
        ok = !b->failed && choice_object(b, &at, &len);
        if (!ok) break;
        if (i == 0) { /* the head of the first response, up to and with its first choice */
            buf_append(out, first.data, (size_t)(at - first.data) + len);
        } else {
            buf_puts(out, ",");
            buf_append(out, at, len);
        }
    }
    if (ok) { /* the rest of the first response: "],\"usage\":..." */
        const char *at;
        size_t len;
        choice_object(&first, &at, &len);
        buf_puts(out, at + len);
    }
    buf_free(&first);
    buf_free(&one);
    if (!ok || out->failed) {
        oai_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    return true;
}
