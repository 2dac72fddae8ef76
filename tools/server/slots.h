/* slots.h - tlm-server's slot pool and generation loop. A slot is one sequence of the pool's
 * tlm_context (emptied per request; every slot's tokens are evaluated together by one batcher
 * thread, slots.c) plus a streaming detokenizer; all slots share one read-only model and
 * tokenizer. A request waits in a FIFO queue while every slot is busy; past the
 * queue limit it is refused. A generation samples, detokenizes and matches stop strings one
 * token per step, so its caller can stop it between any two tokens. A slot's sequence can also
 * be saved to a file, restored from one or erased (slot_pool_act). */
#ifndef TLM_SERVER_SLOTS_H
#define TLM_SERVER_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "logprobs.h"
#include "tinylm.h"

typedef struct slot_pool slot_pool;

typedef struct slot_pool_params {
    int32_t n_slots;       /* requests generating at once */
    int32_t queue_limit;   /* requests that may wait for a slot; more are refused */
    tlm_context_params cp; /* the context of all slots, one sequence each (n_ctx per
                            * slot, n_threads, n_batch, KV type, ...) */
    int32_t chunk;         /* prompt tokens a request adds to one batched pass (0: n_batch) */
} slot_pool_params;

slot_pool *slot_pool_create(const tlm_model *model, const tlm_tokenizer *tok,
                            const slot_pool_params *p, tlm_error *err);
void slot_pool_free(slot_pool *pool); /* after every generation is freed; NULL: no-op */
/* Server shutdown: waiting requests give up and running generations end at their next step. */
void slot_pool_stop(slot_pool *pool);
void slot_pool_stats(slot_pool *pool, int32_t *total, int32_t *idle, int32_t *queued);
int32_t slot_pool_n_ctx(const slot_pool *pool);
/* Prompt tokens taken from cached prefixes (a slot's last request, or another slot's
 * sequence) instead of evaluated, since the start. */
int64_t slot_pool_reused(slot_pool *pool);
/* Batched passes since the start and the tokens they carried (prompt chunks and decode). */
void slot_pool_batches(slot_pool *pool, int64_t *passes, int64_t *tokens);

typedef struct gen_params {
    const int32_t *prompt; /* copied */
    int32_t n_prompt;
    int32_t max_tokens; /* n_prompt + max_tokens <= n_ctx */
    tlm_sampler_params sampling;
    const char *const *stop; /* stop strings (copied), n_stop of them */
    int32_t n_stop;
    tlm_chat_template chat; /* a chat reply ends at the template's stop token; UNKNOWN: a
                             * completion, which ends at EOS */
    const char *grammar;    /* GBNF the text must follow (parsed by gen_create), NULL: none.
                             * The reply may end (EOS, turn end) only where it is complete. */
    int32_t logprobs;       /* 0: none; k + 1: each token's log-probability and k alternatives */
} gen_params;

typedef struct generation generation;

/* Makes the sampler and the stop matcher: TLM_ERR_ARG with a message for bad parameters. */
tlm_status gen_create(slot_pool *pool, const gen_params *gp, generation **out, tlm_error *err);

typedef enum gen_wait {
    GEN_WAIT_OK = 0,
    GEN_WAIT_QUEUE_FULL = 1, /* every slot busy and queue_limit requests already waiting */
    GEN_WAIT_CANCELLED = 2,  /* gone(user) said the client left, or the server is stopping */
} gen_wait;

/* Takes a free slot, waiting in FIFO order while none is; gone(user) is polled every 50 ms
 * while waiting (NULL: never). */
gen_wait gen_acquire(generation *g, bool (*gone)(void *user), void *user);
/* The same for k generations of one request (n choices, a list of prompts): all k slots at
 * once, in the same FIFO (so two requests cannot each hold part of what they need). k must be
 * in [1, slots]. */
gen_wait gen_acquire_n(generation *const *gs, int32_t k, bool (*gone)(void *user), void *user);

/* Resets the slot's context and evaluates the prompt. */
tlm_status gen_begin(generation *g, tlm_error *err);
/* Instead of gen_begin, for a generation of the same prompt as src (which has just had
 * gen_begin and no step): its sequence becomes a copy of src's cells and logits, nothing is
 * evaluated again. */
tlm_status gen_begin_fork(generation *g, const generation *src, tlm_error *err);

/* Generates one token. *text / *len get the text it completes (valid until the next call;
 * often empty: held bytes of an unfinished character or of a possible stop string). Returns
 * false once the generation has ended (the last text may come with that call): then
 * gen_finish_reason says why. */
bool gen_step(generation *g, const char **text, size_t *len);
/* gen_step in two halves, so several generations of one thread share a batched pass: start
 * samples and posts the next token of each, end waits for its logits and gives the text. */
void gen_step_start(generation *g);
bool gen_step_end(generation *g, const char **text, size_t *len);

/* "stop" (EOS, turn end or a stop string), "length" (max_tokens), "error" (evaluation
 * failed, or the server is stopping: gen_error says which); NULL while running. */
const char *gen_finish_reason(const generation *g);
/* The log-probability of the token the last step generated (see gen_params.logprobs), or
 * NULL: none asked for, or the step generated none (the end token is not reported). */
const gen_logprob *gen_logprob_last(const generation *g);
/* gen_params.logprobs as given. */
int32_t gen_logprobs(const generation *g);
/* The token a reply's text continues from: BOS for a chat, the prompt's last for a completion
 * (as the detokenizer starts). */
int32_t gen_text_prev(const generation *g);
const char *gen_error(const generation *g);
int32_t gen_n_prompt(const generation *g);
int32_t gen_n_generated(const generation *g);

/* Gives the slot back at once (also done by gen_free); the generation can only be freed. */
void gen_release(generation *g);
void gen_free(generation *g); /* NULL: no-op */

/* ---- slot actions: llama-server's /slots and /slots/{id}?action=save|restore|erase ---- */

typedef struct slot_info {
    bool processing;  /* not idle: generating, waiting, or held by an action */
    int32_t n_cached; /* positions its sequence holds (a request's prompt starts from them) */
} slot_info;

/* Slot id's state; false for an id outside [0, slots). */
bool slot_pool_slot_info(slot_pool *pool, int32_t id, slot_info *out);

typedef enum slot_action { SLOT_ERASE = 1, SLOT_SAVE, SLOT_RESTORE } slot_action;

typedef struct slot_result {
    int32_t n_tokens; /* positions saved, restored or erased */
    int64_t n_bytes;  /* the file's size: written or read (0 for erase) */
    double ms;        /* the library call's time */
    char error[256];  /* why it failed */
} slot_result;

/* Saves slot id's sequence to path (tlm_context_seq_save), replaces it by path's
 * (tlm_context_seq_load: on failure the sequence is left empty) or empties it. A busy slot is
 * waited for, polling gone(user) every 50 ms (NULL: never); the slot is held meanwhile, so no
 * request takes it, and given back as gen_release does. Returns TLM_OK, the library's status
 * (r->error says why) or TLM_ERR_CANCELLED (the client left or the server is stopping). */
tlm_status slot_pool_act(slot_pool *pool, int32_t id, slot_action a, const char *path,
                         bool (*gone)(void *user), void *user, slot_result *r);

#endif
