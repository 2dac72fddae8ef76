/* tokenizer.c - the public calls that read a finished vocabulary: tlm_tokenize and
 * tlm_tokenize_special (which hand the text to tlm_tok_encode, encode.c), tlm_token_piece,
 * the special ids and the chat template. */
#include "tokenizer.h"

#include <string.h>

TLM_API int32_t tlm_tokenizer_bos(const tlm_tokenizer *tok) { return tok ? tok->bos : -1; }

TLM_API int32_t tlm_tokenizer_eos(const tlm_tokenizer *tok) { return tok ? tok->eos : -1; }

bool tlm_tokenizer_parses_special(const tlm_tokenizer *tok)
{
    return tok && tok->special_by_default;
}

bool tlm_tokenizer_wants_bos(const tlm_tokenizer *tok)
{
    return tok && tok->add_bos && tok->bos >= 0;
}

static tlm_status tokenize(const tlm_tokenizer *tok, const char *text, bool add_bos, bool special,
                           int32_t *ids, int32_t cap, int32_t *n_out)
{
    if (n_out) *n_out = 0;
    if (!tok || !text || !n_out || cap < 0 || (cap > 0 && !ids)) return TLM_ERR_ARG;
    size_t len = strnlen(text, (size_t)TLM_TOK_MAX_TEXT + 1);
    if (len > TLM_TOK_MAX_TEXT) return TLM_ERR_ARG;

    tlm_id_sink out = {ids, cap, 0};
    if (add_bos && tok->bos >= 0) tlm_sink_push(&out, tok->bos);
    tlm_status st = tlm_tok_encode(tok, text, len, special, &out);
    if (st != TLM_OK) return st;
    /* Each token covers at least one byte of the normalised text, which is at most
     * 3 * TLM_TOK_MAX_TEXT + 3 bytes: the count fits in int32_t. */
    *n_out = (int32_t)out.n;
    return out.n > cap ? TLM_ERR_BUFFER_TOO_SMALL : TLM_OK;
}

TLM_API tlm_status tlm_tokenize(const tlm_tokenizer *tok, const char *text, bool add_bos,
                                int32_t *ids, int32_t cap, int32_t *n_out)
{
    return tokenize(tok, text, add_bos, false, ids, cap, n_out);
}

TLM_API tlm_status tlm_tokenize_special(const tlm_tokenizer *tok, const char *text, bool add_bos,
                                        int32_t *ids, int32_t cap, int32_t *n_out)
{
    return tokenize(tok, text, add_bos, true, ids, cap, n_out);
}

TLM_API int32_t tlm_tokenizer_n_vocab(const tlm_tokenizer *tok) { return tok ? tok->n_vocab : 0; }

TLM_API bool tlm_tokenizer_adds_bos(const tlm_tokenizer *tok)
{
    return tlm_tokenizer_wants_bos(tok);
}

TLM_API const char *tlm_tokenizer_chat_template(const tlm_tokenizer *tok)
{
    return tok ? tok->chat_template : NULL;
}

TLM_API const char *tlm_token_piece(const tlm_tokenizer *tok, int32_t prev, int32_t id, size_t *len)
{
    if (len) *len = 0;
    if (!tok || id < 0 || id >= tok->n_vocab) return NULL;
    const char *p = tok->dec + tok->dec_off[id];
    size_t n = tok->dec_off[id + 1] - tok->dec_off[id];
    /* The dummy prefix the encoder put before the first word shows as a space on the
     * piece right after BOS: drop it, as SentencePiece and llama2.c do. */
    if (tok->add_space_prefix && prev >= 0 && prev == tok->bos && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    if (len) *len = n;
    return p;
}
