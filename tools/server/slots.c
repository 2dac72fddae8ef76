/* slots.c - the slot pool (sequences of one context, handed out in FIFO order), the batcher
 * and the token loop.
 *
 * Continuous batching: the slots are the sequences of one tlm_context (n_seq_max = slots),
 * and only the batcher thread calls into it. A request thread that needs tokens evaluated
 * (its prompt, then one token per step) posts them on its slot and waits; each pass the
 * batcher takes every posted decode token and up to `chunk` prompt tokens per slot (within
 * n_batch), evaluates them in one tlm_context_eval_batch, copies each finished slot's logits
 * to the slot and wakes its thread. So every active request decodes in the same pass, and a
 * long prompt joins in chunks: it delays the others' next token by at most one pass of
 * n_batch tokens. A new request starts from the longest prefix of its prompt that any
 * slot's sequence holds (its own from the last request, or another's: a shared system
 * prompt), copied and cut (tlm_context_seq_copy, seq_remove) instead of evaluated again.
 *
 * A pass waits, briefly, for the slots whose last step just finished: their threads sample and
 * post the next token within microseconds, and a pass started on the first post would carry
 * one sequence and leave the others for a second pass, doubling the step time of every
 * stream. The wait ends when each such slot has posted or ended, or after GATHER_WAIT_NS (a
 * slow sampler, e.g. a grammar state seen for the first time, delays the others by no more).
 *
 * Waiting: one mutex and one condition variable. A request that finds no free slot appends a
 * waiter to a queue; gen_release hands its slot straight to the queue's head, so slots go in
 * arrival order and a request arriving later cannot overtake the queue. Waiters wake every
 * 50 ms to ask whether their client has gone, and leave the queue if so.
 *
 * Slot actions (save, restore, erase: slot_pool_act) want one given slot. The action's thread
 * takes it from the idle stack, or, while it is busy, waits and marks it claimed: give_back
 * then hands it to the action before the queue (an action never waits behind requests that
 * could take any slot). Holding the slot, the thread posts the action like a fork, and the
 * batcher runs it, letting the lock go around the file's I/O (the slot is held: nothing else
 * posts on it). A restore makes the slot's cached tokens the file's, so a later prompt that
 * starts with them reuses them. */
#include "slots.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common.h"
#include "buf.h"

enum { GATHER_WAIT_NS = 5 * 1000 * 1000 };

typedef struct slot {
    int32_t seq; /* its sequence in the pool's context */
    tlm_detok *detok;
    float *logits; /* [n_vocab]: after its last evaluated token */
    /* posted work, under the pool's lock */
    const int32_t *toks; /* owned by the request thread, which waits while posted */
    int32_t n_toks, done_toks, taking;
    bool posted, reset;
    bool expected; /* its step just finished: its thread posts again or ends */
    tlm_status st;
    char error[256];
    int32_t *cached; /* the batcher's: the tokens its sequence holds, positions 0.. */
    int32_t n_cached;
    struct slot *fork_from; /* posted: become a copy of this slot's sequence and logits */
    int act;                /* posted: a slot_action (0: none) on act_path, into act_out */
    const char *act_path;
    slot_result *act_out;
    bool acting;      /* run_action let the lock go: act_path and act_out are still in use */
    int32_t n_claims; /* actions waiting for this slot (under the lock) */
    bool handed;      /* give_back gave it to one of them */
} slot;

typedef struct waiter {
    struct waiter *next;
    slot **got;         /* [need]: filled by give_back as slots come free */
    int32_t need, have; /* a request with n choices waits for all its slots at once */
} waiter;

struct slot_pool {
    const tlm_tokenizer *tok;
    tlm_context *ctx; /* one sequence per slot; only the batcher thread uses it */
    pthread_t batcher;
    bool batcher_started;
    pthread_cond_t work; /* the batcher's: something was posted, or stopping */
    pthread_cond_t done; /* the request threads': a pass finished */
    int32_t chunk, n_batch, n_vocab;
    int64_t reused;              /* prompt tokens taken from cached prefixes instead of evaluated */
    int64_t passes, pass_tokens; /* batched passes and the tokens they carried */
    int32_t *b_tok, *b_seq;      /* [n_batch] */
    bool *b_want;
    float *b_out; /* [n_slots][n_vocab] */
    int32_t eos, n_ctx;
    slot *slots;
    int32_t n_slots, queue_limit;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    tlm_grammar_vocab *gvocab; /* made by the first request with a grammar, under lock */
    slot **idle;               /* stack of free slots */
    int32_t n_idle, n_waiting;
    waiter *head, *tail;
    bool stopping;
};

struct generation {
    slot_pool *pool;
    slot *slot;
    int32_t *prompt, n_prompt, max_tokens, n_gen;
    tlm_sampler *sampler;
    tlm_grammar *grammar;   /* NULL: unconstrained */
    tlm_stop_matcher *stop; /* NULL without stop strings */
    tlm_chat_template chat;
    int32_t next;     /* the token posted for evaluation (the batcher reads it) */
    bool pending;     /* next is posted and not yet waited for */
    int32_t logprobs; /* gen_params.logprobs */
    bool has_lp;      /* lp is the last step's token */
    gen_logprob lp;
    buf out;            /* the text of the current step */
    const char *finish; /* NULL while running */
    char error[256];
};

/* ---- the batcher ---------------------------------------------------------------------- */

/* Under the lock: fills the pool's batch from the posted slots (decode tokens first, then
 * prompt chunks) and marks what each slot contributes (taking). Returns the token count. */
static int32_t gather(slot_pool *pool)
{
    int32_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int32_t i = 0; i < pool->n_slots; i++) {
            slot *s = &pool->slots[i];
            int32_t left = s->posted && !s->taking ? s->n_toks - s->done_toks : 0;
            if (!left || (pass == 0) != (s->n_toks == 1)) continue;
            int32_t k = left < pool->chunk ? left : pool->chunk;
            if (k > pool->n_batch - n) k = pool->n_batch - n;
            for (int32_t j = 0; j < k; j++, n++) {
                pool->b_tok[n] = s->toks[s->done_toks + j];
                pool->b_seq[n] = s->seq;
                pool->b_want[n] = j == k - 1 && s->done_toks + k == s->n_toks;
            }
            s->taking = k;
        }
    return n;
}

/* Under the lock, for a slot starting a request: its sequence becomes the longest prefix of
 * its prompt held by any slot (at most all but the last token, whose logits are needed), and
 * those tokens count as done. */
static void start_from_prefix(slot_pool *pool, slot *s)
{
    slot *src = s;
    int32_t best = 0, most = s->n_toks - 1;
    for (int32_t i = 0; i < pool->n_slots; i++) {
        slot *o = &pool->slots[i];
        int32_t l = 0;
        while (l < most && l < o->n_cached && o->cached[l] == s->toks[l])
            l++;
        if (l > best || (l == best && o == s)) best = l, src = o;
    }
    bool ok = true;
    if (src != s) {
        ok = tlm_context_seq_copy(pool->ctx, src->seq, s->seq) == TLM_OK;
        if (ok) memcpy(s->cached, src->cached, (size_t)best * sizeof *s->cached);
    }
    if (ok) ok = tlm_context_seq_remove(pool->ctx, s->seq, best, -1) == TLM_OK;
    if (!ok) { /* e.g. a window cache that no longer holds the prefix's keys: start empty */
        tlm_context_seq_remove(pool->ctx, s->seq, 0, -1);
        best = 0;
    }
    s->n_cached = best;
    s->done_toks = best;
    pool->reused += best;
}

/* Under the lock, for a slot posted with fork_from: its sequence, cached tokens and logits
 * become the source's (n > 1 choices: the prompt evaluated once, its cells copied). */
static void fork_slot(slot_pool *pool, slot *s)
{
    slot *src = s->fork_from;
    s->fork_from = NULL;
    s->posted = false;
    if (tlm_context_seq_copy(pool->ctx, src->seq, s->seq) != TLM_OK) {
        s->st = TLM_ERR_ARG;
        snprintf(s->error, sizeof s->error, "%s", tlm_context_error(pool->ctx));
        tlm_context_seq_remove(pool->ctx, s->seq, 0, -1);
        s->n_cached = 0;
    } else {
        memcpy(s->cached, src->cached, (size_t)src->n_cached * sizeof *s->cached);
        s->n_cached = src->n_cached;
        memcpy(s->logits, src->logits, (size_t)pool->n_vocab * sizeof *s->logits);
        s->expected = true;
    }
    pthread_cond_broadcast(&pool->done);
}

/* The file's size in bytes, 0 when it cannot be read. */
static int64_t file_size(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* Under the lock, for a slot posted with an action: saves, restores or erases its sequence,
 * the lock let go meanwhile (file I/O; the slot is held by the action's thread, and only this
 * thread reads the cached tokens). After a restore its cached tokens are the file's (-1 in a
 * gap, which no prompt token matches); a failed restore leaves it empty. */
static void run_action(slot_pool *pool, slot *s)
{
    int act = s->act;
    slot_result *r = s->act_out;
    s->act = 0;
    s->acting = true;
    pthread_mutex_unlock(&pool->lock);
    tlm_error err = {0};
    tlm_status st;
    int32_t n = tlm_context_seq_n_past(pool->ctx, s->seq), n_cached = s->n_cached;
    double t0 = now_seconds();
    if (act == SLOT_SAVE) {
        st = tlm_context_seq_save(pool->ctx, s->seq, s->act_path, &err);
    } else if (act == SLOT_RESTORE) {
        st = tlm_context_seq_load(pool->ctx, s->seq, s->act_path, &err);
        const int32_t *toks = tlm_context_seq_tokens(pool->ctx, s->seq, &n);
        if (st != TLM_OK) tlm_context_seq_remove(pool->ctx, s->seq, 0, -1);
        n_cached = st == TLM_OK ? n : 0;
        if (st == TLM_OK) memcpy(s->cached, toks, (size_t)n * sizeof *s->cached);
    } else {
        st = tlm_context_seq_remove(pool->ctx, s->seq, 0, -1);
        if (st != TLM_OK)
            snprintf(err.message, sizeof err.message, "%s", tlm_context_error(pool->ctx));
        n_cached = st == TLM_OK ? 0 : n_cached;
    }
    r->ms = (now_seconds() - t0) * 1e3;
    r->n_tokens = st == TLM_OK ? n : 0;
    r->n_bytes = st == TLM_OK && act != SLOT_ERASE ? file_size(s->act_path) : 0;
    pthread_mutex_lock(&pool->lock);
    s->acting = false;
    s->n_cached = n_cached;
    s->st = st;
    snprintf(s->error, sizeof s->error, "%s", st == TLM_OK ? "" : err.message);
    s->posted = false;
    pthread_cond_broadcast(&pool->done);
}

/* Under the lock: whether any slot has tokens the batcher has not taken yet. */
static bool has_work(const slot_pool *pool)
{
    for (int32_t i = 0; i < pool->n_slots; i++) {
        const slot *s = &pool->slots[i];
        if (s->posted && !s->taking && s->done_toks < s->n_toks) return true;
    }
    return false;
}

/* Under the lock: whether a slot whose step just finished has not posted or ended yet. */
static bool awaiting(const slot_pool *pool)
{
    for (int32_t i = 0; i < pool->n_slots; i++)
        if (pool->slots[i].expected && !pool->slots[i].posted) return true;
    return false;
}

static struct timespec deadline(long ns)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ns;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

static bool past(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *batcher_main(void *arg)
{
    slot_pool *pool = arg;
    struct timespec gather_until = {0};
    pthread_mutex_lock(&pool->lock);
    while (!pool->stopping) {
        for (int32_t i = 0; i < pool->n_slots; i++) {
            slot *s = &pool->slots[i];
            if (s->posted && s->reset) {
                s->reset = false;
                start_from_prefix(pool, s);
            }
            if (s->posted && s->fork_from) fork_slot(pool, s);
            if (s->posted && s->act) run_action(pool, s);
        }
        if (!has_work(pool)) {
            pthread_cond_wait(&pool->work, &pool->lock);
            continue;
        }
        if (awaiting(pool) && !past(&gather_until)) {
            pthread_cond_timedwait(&pool->work, &pool->lock, &gather_until);
            continue;
        }
        int32_t n = gather(pool);
        pool->passes++;
        pool->pass_tokens += n;
        pthread_mutex_unlock(&pool->lock);
        tlm_batch b = {.n_tokens = n,
                       .token = pool->b_tok,
                       .seq_id = pool->b_seq,
                       .logits = pool->b_want,
                       .out_logits = pool->b_out};
        tlm_status st = tlm_context_eval_batch(pool->ctx, &b);
        pthread_mutex_lock(&pool->lock);
        int32_t row = 0;
        for (int32_t t = 0; t < n; t++) {
            slot *s = &pool->slots[pool->b_seq[t]];
            if (st == TLM_OK) s->cached[s->n_cached++] = pool->b_tok[t];
            if (!pool->b_want[t]) continue;
            if (st == TLM_OK && s->posted)
                memcpy(s->logits, pool->b_out + (int64_t)row * pool->n_vocab,
                       (size_t)pool->n_vocab * sizeof(float));
            row++;
        }
        for (int32_t i = 0; i < pool->n_slots; i++) {
            slot *s = &pool->slots[i];
            if (!s->taking) continue;
            if (s->posted) {
                s->done_toks += s->taking;
                if (st != TLM_OK) {
                    s->st = st;
                    snprintf(s->error, sizeof s->error, "%s", tlm_context_error(pool->ctx));
                }
                if (st != TLM_OK || s->done_toks == s->n_toks) {
                    s->posted = false;
                    s->expected = st == TLM_OK;
                }
            }
            s->taking = 0;
        }
        gather_until = deadline(GATHER_WAIT_NS);
        pthread_cond_broadcast(&pool->done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Posts n tokens of a slot to the batcher (reset: as the start of its sequence; fork: no
 * tokens, the slot becomes a copy of fork). toks must stay valid until slot_wait. */
static void slot_post(slot_pool *pool, slot *s, const int32_t *toks, int32_t n, bool reset,
                      slot *fork)
{
    pthread_mutex_lock(&pool->lock);
    s->toks = toks, s->n_toks = n, s->done_toks = 0, s->posted = true, s->reset = reset;
    s->expected = false;
    s->fork_from = fork;
    s->st = TLM_OK;
    s->error[0] = '\0';
    pthread_cond_signal(&pool->work);
    pthread_mutex_unlock(&pool->lock);
}

/* The slot's thread will not post again (its generation ended): no pass waits for it. */
static void unexpect(slot_pool *pool, slot *s)
{
    pthread_mutex_lock(&pool->lock);
    if (s->expected) {
        s->expected = false;
        pthread_cond_signal(&pool->work);
    }
    pthread_mutex_unlock(&pool->lock);
}

/* Waits until the posted work is done; the last logits are then in the slot. When stopping,
 * only for an action already running (it writes to its caller's memory). */
static tlm_status slot_wait(slot_pool *pool, slot *s, char *error, size_t cap)
{
    pthread_mutex_lock(&pool->lock);
    while (s->posted && (!pool->stopping || s->acting))
        pthread_cond_wait(&pool->done, &pool->lock);
    tlm_status st = s->st;
    if (s->posted) { /* stopping: the batcher takes nothing more of it */
        s->posted = false;
        s->fork_from = NULL;
        s->act = 0;
        st = TLM_ERR_CANCELLED;
        snprintf(s->error, sizeof s->error, "the server is shutting down");
    }
    if (st != TLM_OK) snprintf(error, cap, "%s", s->error);
    pthread_mutex_unlock(&pool->lock);
    return st;
}

static tlm_status slot_eval(slot_pool *pool, slot *s, const int32_t *toks, int32_t n, bool reset,
                            char *error, size_t cap)
{
    slot_post(pool, s, toks, n, reset, NULL);
    return slot_wait(pool, s, error, cap);
}

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
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->done, NULL);
    tlm_context_params cp = p->cp;
    cp.n_seq_max = p->n_slots;
    if (tlm_context_create(model, &cp, &pool->ctx, err) != TLM_OK) {
        slot_pool_free(pool);
        return NULL;
    }
    pool->n_batch = tlm_context_n_batch(pool->ctx);
    pool->chunk = p->chunk > 0 && p->chunk < pool->n_batch ? p->chunk : pool->n_batch;
    pool->n_vocab = tlm_model_get_info(model)->n_vocab;
    pool->b_tok = calloc((size_t)pool->n_batch, sizeof *pool->b_tok);
    pool->b_seq = calloc((size_t)pool->n_batch, sizeof *pool->b_seq);
    pool->b_want = calloc((size_t)pool->n_batch, sizeof *pool->b_want);
    pool->b_out = calloc((size_t)p->n_slots * (size_t)pool->n_vocab, sizeof *pool->b_out);
    for (int32_t i = 0; i < p->n_slots; i++) {
        slot *s = &pool->slots[i];
        pool->n_slots++; /* so slot_pool_free frees what was made */
        s->seq = i;
        s->logits = calloc((size_t)pool->n_vocab, sizeof *s->logits);
        s->cached = calloc((size_t)tlm_context_n_ctx(pool->ctx), sizeof *s->cached);
        if (!s->logits || !s->cached || tlm_detok_create(tok, &s->detok) != TLM_OK) {
            if (err) *err = (tlm_error){TLM_ERR_NO_MEMORY, "out of memory for a slot"};
            slot_pool_free(pool);
            return NULL;
        }
        pool->idle[pool->n_idle++] = s;
    }
    if (!pool->b_tok || !pool->b_seq || !pool->b_want || !pool->b_out ||
        pthread_create(&pool->batcher, NULL, batcher_main, pool) != 0) {
        if (err) *err = (tlm_error){TLM_ERR_NO_MEMORY, "cannot start the batcher"};
        slot_pool_free(pool);
        return NULL;
    }
    pool->batcher_started = true;
    pool->n_ctx = tlm_context_n_ctx(pool->ctx);
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
    if (pool->batcher_started) {
        slot_pool_stop(pool);
        pthread_join(pool->batcher, NULL);
    }
    for (int32_t i = 0; i < pool->n_slots; i++) {
        free(pool->slots[i].logits);
        free(pool->slots[i].cached);
        tlm_detok_free(pool->slots[i].detok);
    }
    tlm_context_free(pool->ctx);
    tlm_grammar_vocab_free(pool->gvocab);
    free(pool->b_tok);
    free(pool->b_seq);
    free(pool->b_want);
    free(pool->b_out);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->work);
    pthread_cond_destroy(&pool->done);
    free(pool->slots);
    free(pool->idle);
    free(pool);
}

void slot_pool_stop(slot_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_cond_broadcast(&pool->work);
    pthread_cond_broadcast(&pool->done);
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

void slot_pool_batches(slot_pool *pool, int64_t *passes, int64_t *tokens)
{
    pthread_mutex_lock(&pool->lock);
    *passes = pool->passes;
    *tokens = pool->pass_tokens;
    pthread_mutex_unlock(&pool->lock);
}

int64_t slot_pool_reused(slot_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    int64_t n = pool->reused;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

/* ---- waiting for a slot --------------------------------------------------------------- */

static void queue_remove(slot_pool *pool, waiter *w)
{
    waiter *prev = NULL;
    for (waiter *it = pool->head; it; prev = it, it = it->next) {
        if (it != w) continue;
        if (prev)
            prev->next = w->next;
        else
            pool->head = w->next;
        if (pool->tail == w) pool->tail = prev;
        pool->n_waiting--;
        return;
    }
}

/* Under the lock: to an action waiting for this very slot, else to the queue's head (complete
 * once it holds every slot it needs), or back to the idle stack. */
static void give_back(slot_pool *pool, slot *s)
{
    if (s->expected) {
        s->expected = false;
        pthread_cond_signal(&pool->work);
    }
    waiter *w = pool->head;
    if (s->n_claims > 0) {
        s->handed = true;
        pthread_cond_broadcast(&pool->wake);
    } else if (w) {
        w->got[w->have++] = s;
        if (w->have == w->need) {
            queue_remove(pool, w);
            pthread_cond_broadcast(&pool->wake);
        }
    } else {
        pool->idle[pool->n_idle++] = s;
    }
}

gen_wait gen_acquire(generation *g, bool (*gone)(void *user), void *user)
{
    return gen_acquire_n(&g, 1, gone, user);
}

gen_wait gen_acquire_n(generation *const *gs, int32_t k, bool (*gone)(void *user), void *user)
{
    slot_pool *pool = gs[0]->pool;
    slot *got[256];
    if (k < 1 || k > pool->n_slots || k > (int32_t)(sizeof got / sizeof *got))
        return GEN_WAIT_QUEUE_FULL; /* callers check k against the slots first */
    pthread_mutex_lock(&pool->lock);
    gen_wait r = GEN_WAIT_OK;
    waiter w = {.got = got, .need = k};
    if (pool->stopping) {
        r = GEN_WAIT_CANCELLED;
    } else if (pool->n_idle >= k && !pool->head) {
        while (w.have < k)
            got[w.have++] = pool->idle[--pool->n_idle];
    } else if (pool->n_waiting >= pool->queue_limit) {
        r = GEN_WAIT_QUEUE_FULL;
    } else {
        /* at the head, idle slots are this waiter's at once; behind others, they wait */
        if (!pool->head)
            while (pool->n_idle > 0)
                got[w.have++] = pool->idle[--pool->n_idle];
        if (pool->tail)
            pool->tail->next = &w;
        else
            pool->head = &w;
        pool->tail = &w;
        pool->n_waiting++;
        while (w.have < k && !pool->stopping) {
            struct timespec ts = deadline(50 * 1000 * 1000L);
            int rc = pthread_cond_timedwait(&pool->wake, &pool->lock, &ts);
            if (w.have == k || rc != ETIMEDOUT || !gone) continue;
            pthread_mutex_unlock(&pool->lock); /* gone() polls a socket: not under the lock */
            bool left = gone(user);
            pthread_mutex_lock(&pool->lock);
            if (left && w.have < k) break;
        }
        if (w.have < k || pool->stopping) {
            if (w.have < k) queue_remove(pool, &w);
            /* what it held goes on, to the next waiter or the idle stack */
            int32_t held = w.have;
            w.have = 0;
            for (int32_t i = 0; i < held; i++)
                give_back(pool, got[i]);
            r = GEN_WAIT_CANCELLED;
        }
    }
    if (r == GEN_WAIT_OK)
        for (int32_t i = 0; i < k; i++)
            gs[i]->slot = got[i];
    pthread_mutex_unlock(&pool->lock);
    return r;
}

void gen_release(generation *g)
{
    if (!g->slot) return;
    slot_pool *pool = g->pool;
    if (g->pending) { /* the batcher may be reading g->next: let it finish first */
        g->pending = false;
        slot_wait(pool, g->slot, g->error, sizeof g->error);
    }
    pthread_mutex_lock(&pool->lock);
    give_back(pool, g->slot);
    pthread_mutex_unlock(&pool->lock);
    g->slot = NULL;
    if (!g->finish) g->finish = "error";
}

/* ---- slot actions --------------------------------------------------------------------- */

/* Under the lock: takes s out of the idle stack (keeping the others' order); false if it is
 * not there. */
static bool take_idle(slot_pool *pool, slot *s)
{
    for (int32_t i = 0; i < pool->n_idle; i++) {
        if (pool->idle[i] != s) continue;
        memmove(&pool->idle[i], &pool->idle[i + 1],
                (size_t)(pool->n_idle - i - 1) * sizeof *pool->idle);
        pool->n_idle--;
        return true;
    }
    return false;
}

/* Holds slot s for an action: at once when idle, else when give_back hands it over. Polls
 * gone(user) every 50 ms while waiting; false when the client left or the server stops. */
static bool claim(slot_pool *pool, slot *s, bool (*gone)(void *user), void *user)
{
    pthread_mutex_lock(&pool->lock);
    s->n_claims++;
    bool got = false, left = false;
    while (!pool->stopping && !left) {
        if (s->handed || take_idle(pool, s)) {
            s->handed = false;
            got = true;
            break;
        }
        struct timespec ts = deadline(50 * 1000 * 1000L);
        int rc = pthread_cond_timedwait(&pool->wake, &pool->lock, &ts);
        if (rc != ETIMEDOUT || !gone) continue;
        pthread_mutex_unlock(&pool->lock); /* gone() polls a socket: not under the lock */
        left = gone(user);
        pthread_mutex_lock(&pool->lock);
    }
    s->n_claims--;
    if (!got && s->handed && s->n_claims == 0) { /* handed over as this one gave up */
        s->handed = false;
        give_back(pool, s);
    }
    if (got && pool->stopping) {
        give_back(pool, s);
        got = false;
    }
    pthread_mutex_unlock(&pool->lock);
    return got;
}

tlm_status slot_pool_act(slot_pool *pool, int32_t id, slot_action a, const char *path,
                         bool (*gone)(void *user), void *user, slot_result *r)
{
    *r = (slot_result){0};
    if (id < 0 || id >= pool->n_slots) {
        snprintf(r->error, sizeof r->error, "slot %d does not exist", (int)id);
        return TLM_ERR_ARG;
    }
    slot *s = &pool->slots[id];
    if (!claim(pool, s, gone, user)) {
        snprintf(r->error, sizeof r->error, "cancelled");
        return TLM_ERR_CANCELLED;
    }
    pthread_mutex_lock(&pool->lock); /* the batcher reads them once the slot is posted */
    s->act = (int)a, s->act_path = path, s->act_out = r;
    pthread_mutex_unlock(&pool->lock);
    slot_post(pool, s, NULL, 0, false, NULL);
    tlm_status st = slot_wait(pool, s, r->error, sizeof r->error);
    pthread_mutex_lock(&pool->lock);
    give_back(pool, s);
    pthread_mutex_unlock(&pool->lock);
    return st;
}

bool slot_pool_slot_info(slot_pool *pool, int32_t id, slot_info *out)
{
    if (id < 0 || id >= pool->n_slots) return false;
    pthread_mutex_lock(&pool->lock);
    const slot *s = &pool->slots[id];
    out->processing = true;
    for (int32_t i = 0; i < pool->n_idle; i++)
        if (pool->idle[i] == s) out->processing = false;
    out->n_cached = s->n_cached;
    pthread_mutex_unlock(&pool->lock);
    return true;
}

/* ---- generating ----------------------------------------------------------------------- */

/* Constrains g's sampler with GBNF text. The grammar may end at EOS and, for a chat reply,
 * at any id that ends the template's turn (<|im_end|> is not EOS for every ChatML model). */
static tlm_status set_grammar(generation *g, const char *gbnf, tlm_error *err)
{
    slot_pool *pool = g->pool;
    tlm_status st = tlm_grammar_parse(gbnf, NULL, &g->grammar, err);
    if (st != TLM_OK) return st;
    pthread_mutex_lock(&pool->lock);
    if (!pool->gvocab) st = tlm_grammar_vocab_create(pool->tok, &pool->gvocab, err);
    pthread_mutex_unlock(&pool->lock);
    if (st == TLM_OK) st = tlm_sampler_set_grammar(g->sampler, g->grammar, pool->gvocab, err);
    int32_t ends[16], n = 0, n_vocab = tlm_tokenizer_n_vocab(pool->tok);
    if (pool->eos >= 0 && pool->eos < n_vocab) ends[n++] = pool->eos;
    for (int32_t id = 0; g->chat != TLM_CHAT_UNKNOWN && id < n_vocab && n < 16; id++)
        if (id != pool->eos && tlm_chat_is_stop(g->chat, pool->tok, id)) ends[n++] = id;
    if (st == TLM_OK) st = tlm_sampler_set_grammar_ends(g->sampler, ends, n, err);
    return st;
}

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
    g->logprobs = gp->logprobs < 0                ? 0
                  : gp->logprobs > LP_MAX_TOP + 1 ? LP_MAX_TOP + 1
                                                  : gp->logprobs;
    tlm_status st =
        tlm_sampler_create(&gp->sampling, tlm_tokenizer_n_vocab(pool->tok), &g->sampler, err);
    if (st == TLM_OK && gp->n_stop > 0) st = tlm_stop_create(gp->stop, gp->n_stop, &g->stop, err);
    if (st == TLM_OK && gp->grammar) st = set_grammar(g, gp->grammar, err);
    if (st != TLM_OK) {
        gen_free(g);
        return st;
    }
    *out = g;
    return TLM_OK;
}

/* The detokenizer and stop matcher of a generation about to start. */
static void begin_text(generation *g)
{
    slot *s = g->slot;
    /* as tlm-generate: a completion continues its last prompt token; a chat reply starts
     * like text after BOS (no SentencePiece dummy space) */
    tlm_detok_reset(s->detok, g->chat != TLM_CHAT_UNKNOWN ? tlm_tokenizer_bos(g->pool->tok)
                                                          : g->prompt[g->n_prompt - 1]);
    if (g->stop) tlm_stop_reset(g->stop);
}

tlm_status gen_begin(generation *g, tlm_error *err)
{
    begin_text(g);
    char msg[256];
    tlm_status st = slot_eval(g->pool, g->slot, g->prompt, g->n_prompt, true, msg, sizeof msg);
    if (st != TLM_OK && err) {
        err->status = st;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return st;
}

tlm_status gen_begin_fork(generation *g, const generation *src, tlm_error *err)
{
    begin_text(g);
    char msg[256];
    slot_post(g->pool, g->slot, NULL, 0, false, src->slot);
    tlm_status st = slot_wait(g->pool, g->slot, msg, sizeof msg);
    if (st != TLM_OK && err) {
        err->status = st;
        snprintf(err->message, sizeof err->message, "%s", msg);
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

void gen_step_start(generation *g)
{
    buf_clear(&g->out);
    if (g->finish || !g->slot) return;
    if (stopping(g->pool)) {
        snprintf(g->error, sizeof g->error, "the server is shutting down");
        g->finish = "error";
        return;
    }
    slot *s = g->slot;
    int32_t next = tlm_sampler_sample(g->sampler, s->logits);
    g->has_lp = false;
    if (g->logprobs > 0 && next >= 0) { /* before posting: the batcher reuses the logits */
        lp_compute(s->logits, g->pool->n_vocab, next, g->logprobs - 1, &g->lp);
        g->has_lp = true;
    }
    tlm_sampler_accept(g->sampler, next); /* penalties count generated ids only, as OpenAI */
    bool end = g->chat != TLM_CHAT_UNKNOWN ? tlm_chat_is_stop(g->chat, g->pool->tok, next)
                                           : next == g->pool->eos;
    if (next < 0)
        end = true; /* a complete grammar and no id to end it with */
    else if (!end && g->grammar)
        tlm_sampler_grammar_accept(g->sampler, next, NULL);
    if (end) {
        g->has_lp = false;
        finish(g, "stop");
    } else {
        g->n_gen++;
        size_t n = 0;
        const char *piece = tlm_detok_push(s->detok, next, &n);
        if (emit(g, piece, n))
            g->finish = "stop";
        else if (g->n_gen >= g->max_tokens)
            finish(g, "length");
        else {
            g->next = next;
            g->pending = true;
            slot_post(g->pool, s, &g->next, 1, false, NULL);
        }
    }
    if (!g->pending) unexpect(g->pool, s);
}

bool gen_step_end(generation *g, const char **text, size_t *len)
{
    if (g->pending) {
        g->pending = false;
        if (slot_wait(g->pool, g->slot, g->error, sizeof g->error) != TLM_OK) finish(g, "error");
    }
    if (g->out.failed) {
        snprintf(g->error, sizeof g->error, "out of memory");
        g->finish = "error";
    }
    *text = g->out.data ? g->out.data : "";
    *len = g->out.failed ? 0 : g->out.len;
    return g->finish == NULL && g->slot != NULL;
}

bool gen_step(generation *g, const char **text, size_t *len)
{
    gen_step_start(g);
    return gen_step_end(g, text, len);
}

const char *gen_finish_reason(const generation *g) { return g->finish; }
const gen_logprob *gen_logprob_last(const generation *g) { return g->has_lp ? &g->lp : NULL; }
int32_t gen_logprobs(const generation *g) { return g->logprobs; }
int32_t gen_text_prev(const generation *g)
{
    return g->chat != TLM_CHAT_UNKNOWN ? tlm_tokenizer_bos(g->pool->tok)
                                       : g->prompt[g->n_prompt - 1];
}
const char *gen_error(const generation *g) { return g->error[0] ? g->error : "unknown error"; }
int32_t gen_n_prompt(const generation *g) { return g->n_prompt; }
int32_t gen_n_generated(const generation *g) { return g->n_gen; }

void gen_free(generation *g)
{
    if (!g) return;
    gen_release(g);
    tlm_sampler_free(g->sampler);
    tlm_grammar_free(g->grammar);
    tlm_stop_free(g->stop);
    buf_free(&g->out);
    free(g->prompt);
    free(g);
}
