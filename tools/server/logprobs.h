/* logprobs.h - token log-probabilities for tlm-server's logprobs / top_logprobs: computed from
 * a step's raw logits (the model's log-softmax, before temperature, penalties, biases or a
 * grammar, as OpenAI reports them), then written in the chat format ({token, logprob, bytes,
 * top_logprobs}) or the legacy completions one ({tokens, token_logprobs, top_logprobs,
 * text_offset}). */
#ifndef TLM_SERVER_LOGPROBS_H
#define TLM_SERVER_LOGPROBS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "tinylm.h"

#define LP_MAX_TOP 20 /* the API's largest top_logprobs */

typedef struct gen_logprob {
    int32_t id;
    float logprob;
    int32_t n_top; /* alternatives, most likely first */
    int32_t top_id[LP_MAX_TOP];
    float top_logprob[LP_MAX_TOP];
} gen_logprob;

/* id's log-probability under softmax(logits) and the k (<= LP_MAX_TOP) most likely ids. */
void lp_compute(const float *logits, int32_t n_vocab, int32_t id, int32_t k, gen_logprob *out);

/* The entries of one choice, gathered step by step until they are written. */
typedef struct lp_acc {
    const tlm_tokenizer *tok;
    bool chat;
    int32_t prev;                   /* the token before the next one (for its piece) */
    size_t offset;                  /* completions: bytes of text before the next token */
    int32_t n;                      /* entries gathered and not yet written */
    buf content;                    /* chat: the entries, comma-separated */
    buf tokens, lps, tops, offsets; /* completions: the four arrays' elements */
} lp_acc;

/* prev: the token before the first generated one (a chat: BOS; a completion: its prompt's
 * last), which decides whether a SentencePiece piece keeps its leading space. */
void lp_init(lp_acc *a, const tlm_tokenizer *tok, bool chat, int32_t prev);
void lp_add(lp_acc *a, const gen_logprob *lp);
/* Replaces the first "logprobs":null of b at or after `from` with the gathered entries (an
 * empty list when none) and forgets them. The text before it is escaped JSON, so the bare
 * field can only be the choice's own. */
void lp_splice(buf *b, size_t from, lp_acc *a);
void lp_free(lp_acc *a);

#endif
