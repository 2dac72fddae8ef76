/* tokenizer.h - the vocabulary behind tlm_tokenizer, shared by the file readers
 * (tokenizer_load.c), the vocabulary tables and decoding (tokenizer.c) and the SentencePiece
 * BPE encoder (tokenizer_spm.c).
 *
 * A tokenizer owns copies of every piece, so the file it came from may be closed right after
 * loading. After loading it is read-only: encode and decode from any number of threads. */
#ifndef TLM_TOKENIZER_H
#define TLM_TOKENIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "gguf_read.h"

/* Caps on what a vocabulary file may declare; far above every seed model (the largest has
 * 256000 pieces of at most a few hundred bytes). */
enum {
    TLM_TOK_MAX_VOCAB = 1 << 22,
    TLM_TOK_MAX_PIECE = 1 << 16, /* bytes in one piece */
    TLM_TOK_MAX_TOTAL = 1 << 30, /* bytes in all pieces together (offsets stay 32-bit) */
    TLM_TOK_MAX_TEXT = 1 << 29,  /* bytes tlm_tokenize accepts in one call */
};

/* Token types, numbered as GGUF's tokenizer.ggml.token_type stores them. */
typedef enum tlm_tok_type {
    TLM_TOK_UNDEFINED = 0, /* treated as normal */
    TLM_TOK_NORMAL = 1,
    TLM_TOK_UNKNOWN = 2,
    TLM_TOK_CONTROL = 3, /* <s>, </s>: never produced from text, decode to nothing */
    TLM_TOK_USER_DEFINED = 4,
    TLM_TOK_UNUSED = 5,
    TLM_TOK_BYTE = 6, /* <0xNN>: one raw byte (byte fallback) */
} tlm_tok_type;

/* How text becomes pieces; only SentencePiece BPE for now (GGUF "llama", llama2.c). */
typedef enum tlm_tok_kind {
    TLM_TOK_SPM = 0,
} tlm_tok_kind;

struct tlm_tokenizer {
    tlm_tok_kind kind;
    int32_t n_vocab;

    /* Piece i is text[text_off[i] .. text_off[i + 1]), as the file stores it. */
    char *text;
    uint32_t *text_off; /* n_vocab + 1 */
    float *scores;      /* merge priority: higher merges first */
    uint8_t *types;     /* tlm_tok_type */

    /* What each id decodes to (▁ turned into a space, <0xNN> into its byte, control tokens
     * empty), computed once so tlm_token_piece hands out pointers into read-only memory. */
    char *dec;
    uint32_t *dec_off; /* n_vocab + 1 */

    /* Piece text -> id for the pieces text may turn into (normal, user-defined, undefined):
     * open addressing, linear probing; -1 marks an empty slot. */
    int32_t *map;
    uint64_t map_mask;
    uint32_t max_piece_len; /* longest piece in map: longer spans need no lookup */
    /* No piece in map has a space after a non-space character, so no merge crosses the
     * start of a word (a space after a non-space): the encoder may merge word by word. */
    bool words_independent;

    int32_t byte_id[256];  /* id of <0xNN>, or -1 */
    int32_t bos, eos, unk; /* -1 when the vocabulary has none */

    bool space_is_u2581;   /* pieces write a space as U+2581 (GGUF); else as ' ' (llama2.c) */
    bool add_space_prefix; /* encoding prepends one space to non-empty text */
    bool add_bos;          /* the file asks for BOS before a prompt (GGUF add_bos_token) */
};

/* Reads the vocabulary of an open GGUF file (tokenizer.ggml.* keys). Only the "llama"
 * (SentencePiece) model is supported; others give TLM_ERR_UNSUPPORTED, and so does a file
 * with no tokenizer.ggml.model key. The tokenizer copies what it needs: f may be closed
 * afterwards. */
tlm_status tlm_tokenizer_from_gguf(const gguf_file *f, tlm_tokenizer **out, tlm_error *err);

/* Whether the vocabulary's file asks for BOS before a prompt (GGUF tokenizer.ggml.
 * add_bos_token, default true; always true for llama2.c). */
bool tlm_tokenizer_wants_bos(const tlm_tokenizer *tok);

/* ---- used by the readers and the encoder ---------------------------------------------- */

/* Fills the derived tables (map, byte_id, dec, max_piece_len) once text, text_off, scores,
 * types, the special ids and the flags are set. `src` names the file in messages. */
tlm_status tlm_tokenizer_finish(tlm_tokenizer *tok, const char *src, tlm_error *err);

/* The id whose piece is exactly s[0..len), among the pieces text may turn into; -1 if none. */
int32_t tlm_tokenizer_lookup(const tlm_tokenizer *tok, const char *s, uint64_t len);

/* SentencePiece BPE of text[0..len): writes at most cap ids and sets *n_needed to the count
 * the whole text takes. TLM_ERR_NO_MEMORY if scratch cannot be allocated. */
tlm_status tlm_spm_encode(const tlm_tokenizer *tok, const char *text, uint64_t len, int32_t *ids,
                          int64_t cap, int64_t *n_needed);

#endif
