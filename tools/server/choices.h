/* choices.h - one request with several generations: `n` > 1 choices and /v1/completions with
 * a list of prompts. Choice k (k = prompt_index * n + c, as OpenAI numbers them) is one
 * generation in its own slot. Each prompt is evaluated once and its cells forked to its
 * other n - 1 choices; every step samples all running choices and evaluates their next
 * tokens in the same batched pass. No HTTP here: http.c sends what this writes. */
#ifndef TLM_SERVER_CHOICES_H
#define TLM_SERVER_CHOICES_H

#include "buf.h"
#include "openai.h"
#include "prompt.h"
#include "slots.h"

typedef struct choices choices;

/* The seed of choice k when the request's (or the server's random) seed is s: s for k = 0
 * (so n = 1 keeps its text), s + k * 0x9E3779B97F4A7C15 (mod 2^64) after. */
uint64_t choices_seed(uint64_t s, int32_t k);

/* Makes the generations of req: each prompt of its list (or tmpl's one prompt) n times, with
 * tmpl's sampling, stop strings and grammar and the derived seeds. NULL with *e: 400 when
 * n x prompts is more than the server's slots (a request's choices run at once) or a prompt
 * does not fit; 500 out of memory. */
choices *choices_create(slot_pool *pool, const oai_request *req, const prompt_env *env,
                        const gen_params *tmpl, oai_error *e);
int32_t choices_count(const choices *ch);

/* Waits for a slot per choice, all at once in the pool's FIFO (gen_acquire_n). */
gen_wait choices_acquire(choices *ch, bool (*gone)(void *user), void *user);
/* Evaluates each prompt once (in its first choice's slot) and forks it to the others. */
tlm_status choices_begin(choices *ch, tlm_error *err);

/* What the responses say about themselves (the id is copied). */
void choices_set_meta(choices *ch, const oai_meta *m, bool include_usage);

/* Streaming: the first call writes the role chunks (chat), then each call one step of every
 * running choice: a chunk per choice with text, a last chunk per choice as it ends. Returns
 * false once every choice has ended: then the usage chunk (include_usage) or an error event,
 * and [DONE], have been written. */
bool choices_stream_step(choices *ch, buf *out);

/* Whole response: generates every choice to its end, then writes the JSON body. false with
 * *e (500) when a generation failed; false with e->status 0 when gone(user) said the client
 * left. */
bool choices_whole(choices *ch, buf *out, bool (*gone)(void *user), void *user, oai_error *e);

/* Usage so far: each prompt counted once, every choice's generated tokens. */
oai_usage choices_usage(const choices *ch);

void choices_release(choices *ch); /* every slot back at once */
void choices_free(choices *ch);    /* NULL: no-op */

#endif
