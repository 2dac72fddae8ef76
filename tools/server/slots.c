/* slots.c - the slot pool (contexts made once, handed out in FIFO order) and the token loop.
 *
 * Waiting: one mutex and one condition variable. A request that finds no free slot appends a
 * waiter to a queue; gen_release hands its slot straight to the queue's head, so slots go in
 * arrival order and a request arriving later cannot overtake the queue. Waiters wake every
 * 50 ms to ask whether their client has gone, and leave the queue if so. */
#include "slots.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

typedef struct slot {
    tlm_context *ctx;
    tlm_detok *detok;
} slot;

typedef struct waiter {
    struct waiter *next;
    slot *got; /* set by gen_release when it hands this waiter a slot */
} waiter;

struct slot_pool {
    const tlm_tokenizer *tok;
    int32_t eos, n_ctx;
    slot *slots;
    int32_t n_slots, queue_limit;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    slot **idle; /* stack of free slots */
    int32_t n_idle, n_waiting;
    waiter *head, *tail;
    bool stopping;
};

struct generation {
    slot_pool *pool;
    slot *slot;
    int32_t *prompt, n_prompt, max_tokens, n_gen;
    tlm_sampler *sampler;
    tlm_stop_matcher *stop; /* NULL without stop strings */
    tlm_chat_template chat;
    buf out;             /* the text of the current step */
    const char *finish;  /* NULL while running */
    char error[256];
};

slot_pool *slot_pool_create(const tlm_model *model, const tlm_tokenizer *tok,
                            const slot_pool_params *p, tlm_error *err)
{
    slot_pool *pool = calloc(1, sizeof *pool);
    if (!pool) goto no_memory;
    pool->tok = tok;
    pool->eos = tlm_tokenizer_eos(tok);
    pool->queue_limit = p->queue_limit;
    pool->slots = calloc((size_t)p->n_slots, sizeof *pool->slots);
    pool->idle = calloc((size_t)p->n_slots, sizeof *pool->idle);
    if (!pool->slots || !pool->idle) goto no_memory;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (int32_t i = 0; i < p->n_slots; i++) {
        slot *s = &pool->slots[i];
        pool->n_slots++; /* so slot_pool_free frees what was made */
        tlm_status st = tlm_context_create(model, &p->cp, &s->ctx, err);
        if (st == TLM_OK && tlm_detok_create(tok, &s->detok) != TLM_OK) {
            if (err) *err = (tlm_error){TLM_ERR_NO_MEMORY, "cannot create a detokenizer"};
            st = TLM_ERR_NO_MEMORY;
        }
        if (st != TLM_OK) {
            slot_pool_free(pool);
            return NULL;
        }
        pool->idle[pool->n_idle++] = s;
    }
    pool->n_ctx = tlm_context_n_ctx(pool->slots[0].ctx);
    return pool;
no_memory:
    if (pool) {
        free(pool->slots);
        free(pool->idle);
        free(pool);
    }
    if (err) *err = (tlm_error){TLM_ERR_NO_MEMORY, "out of memory"};
    return NULL;
}

void slot_pool_free(slot_pool *pool)
{
    if (!pool) return;
    for (int32_t i = 0; i < pool->n_slots; i++) {
        tlm_context_free(pool->slots[i].ctx);
        tlm_detok_free(pool->slots[i].detok);
    }
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool->slots);
    free(pool->idle);
    free(pool);
}

void slot_pool_stop(slot_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
}

static bool stopping(slot_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    bool s = pool->stopping;
    pthread_mutex_unlock(&pool->lock);
    return s;
}

void slot_pool_stats(slot_pool *pool, int32_t *total, int32_t *idle, int32_t *queued)
{
    pthread_mutex_lock(&pool->lock);
    *total = pool->n_slots;
    *idle = pool->n_idle;
    *queued = pool->n_waiting;
    pthread_mutex_unlock(&pool->lock);
}

int32_t slot_pool_n_ctx(const slot_pool *pool) { return pool->n_ctx; }

/* ---- waiting for a slot --------------------------------------------------------------- */

static void queue_remove(slot_pool *pool, waiter *w)
{
    waiter *prev = NULL;
    for (waiter *it = pool->head; it; prev = it, it = it->next) {
        if (it != w) continue;
        if (prev) prev->next = w->next;
        else pool->head = w->next;
        if (pool->tail == w) pool->tail = prev;
        pool->n_waiting--;
        return;
    }
}

/* Under the lock: to the queue's head, or back to the idle stack. */
static void give_back(slot_pool *pool, slot *s)
{
    waiter *w = pool->head;
    if (w) {
        queue_remove(pool, w);
        w->got = s;
        pthread_cond_broadcast(&pool->wake);
    } else {
        pool->idle[pool->n_idle++] = s;
    }
}

gen_wait gen_acquire(generation *g, bool (*gone)(void *user), void *user)
{
    slot_pool *pool = g->pool;
    pthread_mutex_lock(&pool->lock);
    gen_wait r = GEN_WAIT_OK;
    if (pool->stopping) {
        r = GEN_WAIT_CANCELLED;
    } else if (pool->n_idle > 0 && !pool->head) {
        g->slot = pool->idle[--pool->n_idle];
    } else if (pool->n_waiting >= pool->queue_limit) {
        r = GEN_WAIT_QUEUE_FULL;
    } else {
        waiter w = {0};
        if (pool->tail) pool->tail->next = &w;
        else pool->head = &w;
        pool->tail = &w;
        pool->n_waiting++;
        while (!w.got && !pool->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            int rc = pthread_cond_timedwait(&pool->wake, &pool->lock, &ts);
            if (w.got || rc != ETIMEDOUT || !gone) continue;
            pthread_mutex_unlock(&pool->lock); /* gone() polls a socket: not under the lock */
            bool left = gone(user);
            pthread_mutex_lock(&pool->lock);
            if (left && !w.got) break;
        }
        if (w.got && !pool->stopping) {
            g->slot = w.got;
        } else {
            if (w.got) give_back(pool, w.got);
            else queue_remove(pool, &w);
            r = GEN_WAIT_CANCELLED;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return r;
}

void gen_release(generation *g)
{
    if (!g->slot) return;
    slot_pool *pool = g->pool;
    pthread_mutex_lock(&pool->lock);
    give_back(pool, g->slot);
    pthread_mutex_unlock(&pool->lock);
    g->slot = NULL;
    if (!g->finish) g->finish = "error";
}

/* ---- generating ----------------------------------------------------------------------- */

tlm_status gen_create(slot_pool *pool, const gen_params *gp, generation **out, tlm_error *err)
{
    *out = NULL;
    generation *g = calloc(1, sizeof *g);
    if (!g || gp->n_prompt < 1 || !(g->prompt = malloc((size_t)gp->n_prompt * sizeof(int32_t)))) {
        free(g);
        if (err) *err = (tlm_error){TLM_ERR_NO_MEMORY, "out of memory"};
        return TLM_ERR_NO_MEMORY;
    }
    g->pool = pool;
    memcpy(g->prompt, gp->prompt, (size_t)gp->n_prompt * sizeof(int32_t));
    g->n_prompt = gp->n_prompt;
    g->max_tokens = gp->max_tokens;
    g->chat = gp->chat;
    tlm_status st = tlm_sampler_create(&gp->sampling, tlm_tokenizer_n_vocab(pool->tok),
                                       &g->sampler, err);
    if (st == TLM_OK && gp->n_stop > 0) st = tlm_stop_create(gp->stop, gp->n_stop, &g->stop, err);
    if (st != TLM_OK) {
        gen_free(g);
        return st;
    }
    *out = g;
    return TLM_OK;
}

tlm_status gen_begin(generation *g, tlm_error *err)
{
    slot *s = g->slot;
    tlm_context_reset(s->ctx);
    /* as tlm-generate: a completion continues its last prompt token; a chat reply starts
     * like text after BOS (no SentencePiece dummy space) */
    tlm_detok_reset(s->detok, g->chat != TLM_CHAT_UNKNOWN ? tlm_tokenizer_bos(g->pool->tok)
                                                          : g->prompt[g->n_prompt - 1]);
    if (g->stop) tlm_stop_reset(g->stop);
    tlm_status st = tlm_context_eval(s->ctx, g->prompt, g->n_prompt, NULL);
    if (st != TLM_OK && err) {
        err->status = st;
        snprintf(err->message, sizeof err->message, "%s", tlm_context_error(s->ctx));
    }
    return st;
}

/* Adds text to this step's output through the stop matcher; true when a stop string ended. */
static bool emit(generation *g, const char *text, size_t len)
{
    if (!text || !len) return false;
    if (!g->stop) {
        buf_append(&g->out, text, len);
        return false;
    }
    const char *e;
    size_t n;
    bool hit = tlm_stop_feed(g->stop, text, len, &e, &n);
    buf_append(&g->out, e, n);
    return hit;
}

/* Ends the generation: held bytes come out (and may still complete a stop string). */
static void finish(generation *g, const char *reason)
{
    size_t len = 0;
    const char *text = tlm_detok_flush(g->slot->detok, &len);
    if (emit(g, text, len)) {
        reason = "stop";
    } else if (g->stop) {
        const char *e;
        size_t n;
        tlm_stop_flush(g->stop, &e, &n);
        buf_append(&g->out, e, n);
    }
    g->finish = reason;
}

bool gen_step(generation *g, const char **text, size_t *len)
{
    buf_clear(&g->out);
    *text = "";
    *len = 0;
    if (g->finish || !g->slot) return false;
    if (stopping(g->pool)) {
        snprintf(g->error, sizeof g->error, "the server is shutting down");
        g->finish = "error";
        return false;
    }
    slot *s = g->slot;
    int32_t next = tlm_sampler_sample(g->sampler, tlm_context_logits(s->ctx));
    tlm_sampler_accept(g->sampler, next); /* penalties count generated ids only, as OpenAI */
    bool end = g->chat != TLM_CHAT_UNKNOWN ? tlm_chat_is_stop(g->chat, g->pool->tok, next)
                                           : next == g->pool->eos;
    if (end) {
        finish(g, "stop");
    } else {
        g->n_gen++;
        size_t n = 0;
        const char *piece = tlm_detok_push(s->detok, next, &n);
        if (emit(g, piece, n)) g->finish = "stop";
        else if (g->n_gen >= g->max_tokens) finish(g, "length");
        else if (tlm_context_eval(s->ctx, &next, 1, NULL) != TLM_OK) {
            snprintf(g->error, sizeof g->error, "%s", tlm_context_error(s->ctx));
            finish(g, "error");
        }
    }
    if (g->out.failed) {
        snprintf(g->error, sizeof g->error, "out of memory");
        g->finish = "error";
    }
    *text = g->out.data ? g->out.data : "";
    *len = g->out.failed ? 0 : g->out.len;
    return g->finish == NULL;
}

const char *gen_finish_reason(const generation *g) { return g->finish; }
const char *gen_error(const generation *g) { return g->error[0] ? g->error : "unknown error"; }
int32_t gen_n_prompt(const generation *g) { return g->n_prompt; }
int32_t gen_n_generated(const generation *g) { return g->n_gen; }

void gen_free(generation *g)
{
    if (!g) return;
    gen_release(g);
    tlm_sampler_free(g->sampler);
    tlm_stop_free(g->stop);
    buf_free(&g->out);
    free(g->prompt);
    free(g);
}
