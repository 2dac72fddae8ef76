/* logprobs.c - see logprobs.h. */
#include "logprobs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "openai.h"

void lp_compute(const float *logits, int32_t n_vocab, int32_t id, int32_t k, gen_logprob *out)
{
    if (k > LP_MAX_TOP) k = LP_MAX_TOP;
    if (k < 0) k = 0;
    float mx = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0; /* subtracting the max keeps exp() from overflowing */
    for (int32_t i = 0; i < n_vocab; i++)
        sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    out->id = id;
    out->logprob = (float)(logits[id] - lse);
    /* the k best by insertion into a short sorted list: k is at most 20 */
    out->n_top = 0;
    for (int32_t i = 0; i < n_vocab && k > 0; i++) {
        int32_t at = out->n_top;
        while (at > 0 && logits[out->top_id[at - 1]] < logits[i])
            at--;
        if (at >= k) continue;
        int32_t last = out->n_top < k ? out->n_top : k - 1;
        for (int32_t j = last; j > at; j--)
            out->top_id[j] = out->top_id[j - 1];
        out->top_id[at] = i;
        if (out->n_top < k) out->n_top++;
    }
    for (int32_t j = 0; j < out->n_top; j++)
        out->top_logprob[j] = (float)(logits[out->top_id[j]] - lse);
}

void lp_init(lp_acc *a, const tlm_tokenizer *tok, bool chat, int32_t prev)
{
    *a = (lp_acc){.tok = tok, .chat = chat, .prev = prev};
}

void lp_free(lp_acc *a)
{
    buf_free(&a->content);
    buf_free(&a->tokens);
    buf_free(&a->lps);
    buf_free(&a->tops);
    buf_free(&a->offsets);
}

/* A token's text as a JSON string: its bytes when they are whole UTF-8, else U+FFFD for each
 * byte outside ASCII (the exact bytes are in "bytes"). */
static void token_string(buf *out, const char *p, size_t n)
{
    if (oai_utf8_valid(p, n)) {
        buf_json_string(out, p, n);
        return;
    }
    buf fixed = {0};
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] < 0x80)
            buf_append(&fixed, p + i, 1);
        else
            buf_puts(&fixed, "\xef\xbf\xbd");
    }
    buf_json_string(out, fixed.data ? fixed.data : "", fixed.len);
    if (fixed.failed) out->failed = true;
    buf_free(&fixed);
}

static const char *piece(const lp_acc *a, int32_t prev, int32_t id, size_t *n)
{
    const char *p = tlm_token_piece(a->tok, prev, id, n);
    if (!p) *n = 0;
    return p ? p : "";
}

static void chat_entry(buf *out, const char *p, size_t n, float lp)
{
    buf_puts(out, "{\"token\":");
    token_string(out, p, n);
    buf_printf(out, ",\"logprob\":%.9g,\"bytes\":[", (double)lp);
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%s%u", i ? "," : "", (unsigned char)p[i]);
    buf_puts(out, "]");
}

void lp_add(lp_acc *a, const gen_logprob *lp)
{
    size_t n;
    const char *p = piece(a, a->prev, lp->id, &n);
    const char *sep = a->n ? "," : "";
    if (a->chat) {
        buf_puts(&a->content, sep);
        chat_entry(&a->content, p, n, lp->logprob);
        buf_puts(&a->content, ",\"top_logprobs\":[");
        for (int32_t j = 0; j < lp->n_top; j++) {
            size_t tn;
            const char *tp = piece(a, a->prev, lp->top_id[j], &tn);
            buf_puts(&a->content, j ? "," : "");
            chat_entry(&a->content, tp, tn, lp->top_logprob[j]);
            buf_puts(&a->content, "}");
        }
        buf_puts(&a->content, "]}");
    } else {
        buf_puts(&a->tokens, sep);
        token_string(&a->tokens, p, n);
        buf_printf(&a->lps, "%s%.9g", sep, (double)lp->logprob);
        buf_printf(&a->offsets, "%s%zu", sep, a->offset);
        buf_printf(&a->tops, "%s{", sep);
        for (int32_t j = 0; j < lp->n_top; j++) {
            size_t tn;
            const char *tp = piece(a, a->prev, lp->top_id[j], &tn);
            buf_puts(&a->tops, j ? "," : "");
            token_string(&a->tops, tp, tn);
            buf_printf(&a->tops, ":%.9g", (double)lp->top_logprob[j]);
        }
        buf_puts(&a->tops, "}");
    }
    a->offset += n;
    a->prev = lp->id;
    a->n++;
}

static const char *text_of(const buf *b) { return b->data && !b->failed ? b->data : ""; }

void lp_splice(buf *b, size_t from, lp_acc *a)
{
    static const char key[] = "\"logprobs\":null";
    if (b->failed || !b->data || from >= b->len) return;
    char *at = strstr(b->data + from, key);
    if (!at) return;
    buf v = {0};
    buf_puts(&v, "\"logprobs\":");
    if (a->chat)
        buf_printf(&v, "{\"content\":[%s],\"refusal\":null}", text_of(&a->content));
    else
        buf_printf(&v,
                   "{\"tokens\":[%s],\"token_logprobs\":[%s],\"top_logprobs\":[%s],"
                   "\"text_offset\":[%s]}",
                   text_of(&a->tokens), text_of(&a->lps), text_of(&a->tops), text_of(&a->offsets));
    size_t pos = (size_t)(at - b->data), tail = b->len - pos - (sizeof key - 1);
    buf out = {0};
    buf_append(&out, b->data, pos);
    buf_append(&out, v.data, v.len);
    buf_append(&out, at + sizeof key - 1, tail);
    if (out.failed || v.failed) {
        b->failed = true;
        buf_free(&out);
    } else {
        buf_free(b);
        *b = out;
    }
    buf_free(&v);
    buf_clear(&a->content);
    buf_clear(&a->tokens);
    buf_clear(&a->lps);
    buf_clear(&a->tops);
    buf_clear(&a->offsets);
    a->n = 0;
}
