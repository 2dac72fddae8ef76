/* encode.c - text to ids: added tokens are cut out first, as Hugging Face's AddedVocabulary
 * splits text, and the text between them goes to the vocabulary's encoder (bpe.c, spm.c).
 *
 * The split, pass by pass (docs/tokenizers.md):
 *   1. tokens without `normalized` are found in the raw text, leftmost first and longest at a
 *      position; a match that fails its single_word test, or a CONTROL token when special
 *      tokens are not parsed, is passed over (the search goes on after it, the text stays);
 *      an accepted match takes the whitespace before it (lstrip, never past the previous
 *      match) and after it (rstrip), and that whitespace is dropped;
 *   2. each piece of text left is normalised (NFC for Qwen) and the `normalized` tokens are
 *      found in it the same way;
 *   3. what is left goes to the encoder; with SentencePiece every fragment gets the dummy
 *      prefix, as llama.cpp and the Prepend("▁") normaliser of Llama-era tokenizer.json do.
 * USER_DEFINED tokens are always matched, CONTROL ones only when special tokens are parsed
 * (so text from a user cannot forge a turn marker). A SentencePiece vocabulary without
 * special parsing keeps its own rules: no token is cut out. */
#include "tokenizer.h"

#include <stdlib.h>

/* Text with no added token in it, to the vocabulary's encoder. */
static tlm_status encode_plain(const tlm_tokenizer *tok, const char *text, uint64_t len,
                               tlm_id_sink *out)
{
    if (len == 0) return TLM_OK;
    if (tok->kind == TLM_TOK_BPE) return tlm_bpe_encode(tok, text, len, out);
    int64_t n = 0;
    bool room = out->n < out->cap;
    tlm_status st = tlm_spm_encode(tok, text, len, room ? out->ids + out->n : NULL,
                                   room ? out->cap - out->n : 0, &n);
    out->n += n;
    return st;
}

static tlm_status split(const tlm_tokenizer *tok, const char *s, uint64_t len, bool special,
                        tlm_added_pass pass, tlm_id_sink *out);

/* A piece pass 1 left: normalised and split again when some token asks for that. */
static tlm_status leftover(const tlm_tokenizer *tok, const char *s, uint64_t len, bool special,
                           tlm_added_pass pass, tlm_id_sink *out)
{
    if (len == 0) return TLM_OK;
    if (pass != TLM_ADDED_PASS_RAW || !tok->any_normalized) return encode_plain(tok, s, len, out);
    if (!tok->nfc) return split(tok, s, len, special, TLM_ADDED_PASS_NORMALIZED, out);
    char *norm;
    uint64_t n;
    tlm_status st = tlm_utf8_nfc(s, len, &norm, &n);
    if (st == TLM_OK) st = split(tok, norm, n, special, TLM_ADDED_PASS_NORMALIZED, out);
    free(norm);
    return st;
}

static tlm_status split(const tlm_tokenizer *tok, const char *s, uint64_t len, bool special,
                        tlm_added_pass pass, tlm_id_sink *out)
{
    uint64_t seg = 0; /* where the text not yet emitted starts: the last match's stop */
    for (uint64_t at = 0; at < len;) {
        uint64_t mlen;
        int32_t id = tlm_added_match(tok, s + at, len - at, pass, &mlen);
        if (id < 0) {
            at++;
            continue;
        }
        uint64_t start = at, stop = at + mlen;
        at = stop; /* the search goes on after the match itself, not after what rstrip took */
        uint8_t a = tok->attrs[id];
        if (!special && tok->types[id] == TLM_TOK_CONTROL) continue;
        if ((a & TLM_ADDED_SINGLE_WORD) && !tlm_added_single_word_ok(tok, s, len, start, stop))
            continue;
        if (a & TLM_ADDED_LSTRIP) {
            uint64_t ws_start = start - tlm_ws_suffix(s, start);
            start = ws_start > seg ? ws_start : seg;
        }
        if (a & TLM_ADDED_RSTRIP) stop += tlm_ws_prefix(s + stop, len - stop);
        if (seg < start) {
            tlm_status st = leftover(tok, s + seg, start - seg, special, pass, out);
            if (st != TLM_OK) return st;
        }
        tlm_sink_push(out, id);
        /* As in HF, a match found inside the whitespace an rstrip took starts before seg
         * and moves it back: that text is emitted again. No seed family has both kinds. */
        seg = stop;
    }
    return seg < len ? leftover(tok, s + seg, len - seg, special, pass, out) : TLM_OK;
}

tlm_status tlm_tok_encode(const tlm_tokenizer *tok, const char *text, uint64_t len, bool special,
                          tlm_id_sink *out)
{
    if (tok->n_added == 0 || (tok->kind == TLM_TOK_SPM && !special))
        return encode_plain(tok, text, len, out);
    return split(tok, text, len, special, TLM_ADDED_PASS_RAW, out);
}
