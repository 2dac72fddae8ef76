/* tokenizer.h - the vocabulary behind tlm_tokenizer, shared by the files of this folder. From
 * the bottom up (no file calls one above it):
 *   file.c       reads small files whole            vocab.c    allocation, piece map, lookups,
 *   added.c      the added-token table, its match   pretok.c   PCRE2 regexes (split, \w test)
 *                and whitespace rules               unicode_nfc.c, bytelevel.c, merges.c
 *   bpe.c, spm.c the two encoders                   encode.c   added tokens, then an encoder
 *   tokenizer.c, detok.c   the public encode/decode calls
 *   load.c (llama2.c), gguf.c, hf.c, spmodel.c, tiktoken.c   the readers; open.c picks one.
 *
 * A tokenizer owns copies of every piece, so the file it came from may be closed right after
 * loading. After loading it is read-only: encode and decode from any number of threads. */
#ifndef TLM_TOKENIZER_H
#define TLM_TOKENIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

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

/* How an added token is matched in text, as Hugging Face's added_tokens (tokenizer.json) and
 * added_tokens_decoder (tokenizer_config.json) declare it; docs/tokenizers.md. */
enum {
    TLM_ADDED_LSTRIP = 1,      /* the whitespace before a match is part of it (dropped) */
    TLM_ADDED_RSTRIP = 2,      /* the whitespace after a match is part of it (dropped) */
    TLM_ADDED_SINGLE_WORD = 4, /* matches only with no word character right before or after */
    TLM_ADDED_NORMALIZED = 8,  /* matched on normalised text, in what the others left */
};

/* How text becomes pieces. */
typedef enum tlm_tok_kind {
    TLM_TOK_SPM = 0, /* SentencePiece BPE by piece scores (GGUF "llama", llama2.c, .model) */
    TLM_TOK_BPE = 1, /* byte-level BPE by merge ranks (GGUF "gpt2", HF, tiktoken) */
} tlm_tok_kind;

/* One merge of byte-level BPE: the adjacent pieces (left, right) become `merged`; the pair
 * with the lowest rank merges first. */
typedef struct tlm_bpe_merge {
    int32_t left, right; /* left < 0: an empty slot of the table */
    int32_t merged, rank;
} tlm_bpe_merge;

struct gguf_file;  /* a GGUF file being read (format/gguf_read.h) */
struct tlm_pretok; /* a compiled pre-tokenizer regex (pretok.c) */

/* Where encoded ids go: ids[0..cap) receives the first cap of them; n counts them all. */
typedef struct tlm_id_sink {
    int32_t *ids;
    int64_t cap, n;
} tlm_id_sink;

static inline void tlm_sink_push(tlm_id_sink *s, int32_t id)
{
    if (s->n < s->cap) s->ids[s->n] = id;
    s->n++;
}

struct tlm_tokenizer {
    tlm_tok_kind kind;
    int32_t n_vocab;

    /* Piece i is text[text_off[i] .. text_off[i + 1]): for SPM as the file stores it (with
     * U+2581 for a space); for byte-level BPE the raw bytes it stands for (normal pieces are
     * decoded from the GPT-2 byte-to-unicode form at load; added tokens are literal text). */
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

    int32_t byte_id[256];  /* SPM: id of <0xNN>; BPE: id of the one-byte piece; or -1 */
    int32_t bos, eos, unk; /* -1 when the vocabulary has none */

    bool space_is_u2581;     /* pieces write a space as U+2581 (GGUF); else as ' ' (llama2.c) */
    bool add_space_prefix;   /* encoding prepends one space to non-empty text */
    bool add_bos;            /* the file asks for BOS before a prompt (GGUF add_bos_token) */
    bool remove_extra_ws;    /* SPM: drop leading/trailing spaces, squeeze runs (.model flag) */
    bool special_by_default; /* the vocabulary's own library matches control-token text in
                              * plain input (tokenizer.json, tiktoken, GGUF as llama-tokenize
                              * does); a SentencePiece .model and llama2.c's file do not */
    bool invalid_utf8_fffd;  /* SPM: each byte of ill-formed UTF-8 is read as U+FFFD, as
                              * SentencePiece does (GGUF, .model); llama2.c keeps the byte */

    /* Byte-level BPE (kind TLM_TOK_BPE). */
    tlm_bpe_merge *merges; /* open addressing keyed by (left, right), linear probing */
    uint64_t merges_mask;
    struct tlm_pretok *pretok; /* splits text into pre-tokens; NULL: never (whole text) */
    bool ignore_merges;        /* a pre-token that is itself a piece is that piece (tiktoken) */
    bool nfc;                  /* text is NFC-normalised before splitting (Qwen) */
    bool prefix_space;         /* a space is put before text not starting with one */

    /* Tokens matched as wholes in text before any other splitting: CONTROL (only when
     * special tokens are parsed) and USER_DEFINED, longest first, then lowest id. */
    int32_t *added; /* sorted by first byte, then longest first, then lowest id */
    int32_t n_added;
    int32_t added_at[257];   /* added[added_at[b] .. added_at[b + 1]) start with byte b */
    uint8_t *attrs;          /* n_vocab: TLM_ADDED_* of each added token (0 for the others) */
    bool any_normalized;     /* some added token has TLM_ADDED_NORMALIZED (a second pass) */
    struct tlm_pretok *word; /* Rust regex's \w, compiled when some token is single_word */

    /* general.architecture of the GGUF file the vocabulary came from ("" otherwise): the
     * model layer applies the rules the family's own tokenizer files declare and GGUF does
     * not carry (lib/model/arch.c, tlm_tok_rstrip_added). */
    char gguf_arch[32];

    char *chat_template; /* the Jinja text the file carries, NUL-terminated; NULL if none */
};

/* Reads the vocabulary of an open GGUF file (tokenizer.ggml.* keys): the "llama"
 * (SentencePiece) and "gpt2" (byte-level BPE) models; others give TLM_ERR_UNSUPPORTED, and
 * so does a file with no tokenizer.ggml.model key. The tokenizer copies what it needs: f may
 * be closed afterwards. */
tlm_status tlm_tokenizer_from_gguf(const struct gguf_file *f, tlm_tokenizer **out, tlm_error *err);

/* Whether the vocabulary's file asks for BOS before a prompt (GGUF tokenizer.ggml.
 * add_bos_token, default true; always true for llama2.c). */
bool tlm_tokenizer_wants_bos(const tlm_tokenizer *tok);

/* ---- used by the readers and the encoder ---------------------------------------------- */

/* A tokenizer of n_vocab pieces with text_off, scores and types allocated (text not yet),
 * special ids -1; NULL when out of memory. */
tlm_tokenizer *tlm_tok_alloc(int32_t n_vocab);

/* Types for a vocabulary that stores none: the special ids are control/unknown, <0xNN>
 * pieces are bytes, everything else is normal. */
void tlm_tok_default_types(tlm_tokenizer *tok);

/* Reads a whole small file (at most cap bytes) into a NUL-terminated malloc'd buffer. */
tlm_status tlm_tok_read_file(const char *path, uint64_t cap, char **out, uint64_t *len,
                             tlm_error *err);
struct cJSON; /* a parsed JSON value (cjson/cJSON.h) */
/* The TLM_ADDED_* flags of an added-token object of tokenizer.json or tokenizer_config.json
 * (lstrip, rstrip, single_word false and normalized = !special when absent, as in HF). */
uint8_t tlm_tok_added_attrs(const struct cJSON *t, bool special);

/* Whether path names a regular file. */
bool tlm_tok_is_file(const char *path);

/* What tlm_tokenizer_load does without the family rules (open.c): the kind of file path is,
 * and its reader. lib/model wraps it to add the rules GGUF files do not carry. */
tlm_status tlm_tok_open(const char *path, tlm_tokenizer **out, tlm_error *err);

/* A rule a family's tokenizer files declare and its GGUF files cannot carry (Phi-3): every
 * CONTROL and USER_DEFINED token but those whose text is one of the space-separated words of
 * `except` takes TLM_ADDED_RSTRIP. Called by the model layer, from the family's row. */
void tlm_tok_rstrip_added(tlm_tokenizer *tok, const char *except);

/* Byte-level BPE of a GGUF file (tokenizer.ggml.model "gpt2"); called by
 * tlm_tokenizer_from_gguf. */
tlm_status tlm_tokenizer_from_gguf_bpe(const struct gguf_file *f, tlm_tokenizer **out,
                                       tlm_error *err);

/* Readers of the other files (hf.c, tiktoken.c, spmodel.c).
 * `dir` is where tokenizer_config.json and friends are looked for (NULL: nowhere). */
tlm_status tlm_tokenizer_load_hf_json(const char *path, const char *dir, tlm_tokenizer **out,
                                      tlm_error *err);
tlm_status tlm_tokenizer_load_vocab_merges(const char *vocab_path, const char *merges_path,
                                           const char *dir, tlm_tokenizer **out, tlm_error *err);
tlm_status tlm_tokenizer_load_tiktoken(const char *path, tlm_tokenizer **out, tlm_error *err);
tlm_status tlm_tokenizer_load_spmodel(const char *path, const char *dir, tlm_tokenizer **out,
                                      tlm_error *err);

/* The bytes of the GPT-2 byte-to-unicode form s[0..len) written to out (at most len bytes);
 * returns their count, or -1 if s has a character outside the map or is not UTF-8. */
int64_t tlm_bytelevel_decode(const char *s, uint64_t len, char *out);

/* Turns the pieces of a byte-level BPE vocabulary read in the GPT-2 byte-to-unicode form
 * into the raw bytes they stand for. CONTROL and USER_DEFINED pieces are literal text and stay
 * as they are, and so does any piece that is not in that form. */
tlm_status tlm_bytelevel_unpack(tlm_tokenizer *tok, const char *src, tlm_error *err);

/* Merge table: room for n merges; add keeps the first (lowest-rank) entry of a pair. */
tlm_status tlm_bpe_merges_init(tlm_tokenizer *tok, uint64_t n, const char *src, tlm_error *err);
void tlm_bpe_merge_add(tlm_tokenizer *tok, int32_t left, int32_t right, int32_t merged,
                       int32_t rank);
const tlm_bpe_merge *tlm_bpe_merge_find(const tlm_tokenizer *tok, int32_t left, int32_t right);
/* A merge given as two byte-level strings (merges.txt, GGUF, tokenizer.json); `what` names
 * it in messages ("merges.txt line 7"). The pieces and their concatenation must exist. */
tlm_status tlm_bpe_merge_add_text(tlm_tokenizer *tok, const char *a, uint64_t alen, const char *b,
                                  uint64_t blen, int32_t rank, const char *src, const char *what,
                                  tlm_error *err);
/* Merges implied by ranks (tiktoken): every split of a piece into two pieces merges into it,
 * at the rank of the merged piece (its id). Needs the piece map (tlm_tokenizer_finish). */
tlm_status tlm_bpe_merges_from_ranks(tlm_tokenizer *tok, const char *src, tlm_error *err);

/* Pre-tokenizer regexes by name ("gpt-2", "qwen2", ...): the pattern, or NULL if unknown;
 * *nfc (when not NULL) says whether text is NFC-normalised before it (Qwen2's normaliser). */
const char *tlm_pretok_pattern(const char *name, bool *nfc);
/* Compiles a pattern (PCRE2, UTF + UCP; \s means Unicode White_Space). */
tlm_status tlm_pretok_compile(const char *pattern, struct tlm_pretok **out, const char *src,
                              tlm_error *err);
void tlm_pretok_free(struct tlm_pretok *p);
/* Whether the pattern matches all of s[0..len) (one character, for the \w test). */
bool tlm_pretok_matches_all(const struct tlm_pretok *p, const char *s, uint64_t len);
/* Calls fn(ctx, start, end) for each pre-token of s[0..len), in order, covering every byte
 * (bytes no alternative matches, such as invalid UTF-8, form their own pre-tokens). Stops
 * early when fn returns false. TLM_ERR_NO_MEMORY or TLM_ERR_FORMAT (matcher failure). */
tlm_status tlm_pretok_split(const struct tlm_pretok *p, const char *s, uint64_t len,
                            bool (*fn)(void *ctx, uint64_t start, uint64_t end), void *ctx);

/* Which added tokens tlm_added_match considers. */
typedef enum tlm_added_pass {
    TLM_ADDED_PASS_RAW = 0,        /* those without TLM_ADDED_NORMALIZED: on the raw text */
    TLM_ADDED_PASS_NORMALIZED = 1, /* those with it: on the normalised leftovers */
    TLM_ADDED_PASS_ANY = 2,        /* all of them (template literals) */
} tlm_added_pass;

/* The longest added token of the pass that starts at s[0..len), or -1; *mlen gets its
 * length. Every type counts: the caller decides what a CONTROL match means. */
int32_t tlm_added_match(const tlm_tokenizer *tok, const char *s, uint64_t len, tlm_added_pass pass,
                        uint64_t *mlen);
/* Builds tok->added (and the \w matcher when needed) from the types and attrs (called by
 * tlm_tokenizer_finish). */
tlm_status tlm_added_build(tlm_tokenizer *tok, const char *src, tlm_error *err);
/* Bytes of Unicode White_Space (what \s means in the Rust regex HF strips with) at the start
 * / at the end of s[0..len). */
uint64_t tlm_ws_prefix(const char *s, uint64_t len);
uint64_t tlm_ws_suffix(const char *s, uint64_t len);
/* HF's single_word test for a match at s[start..stop) of s[0..len): no word character (Rust
 * regex \w: Alphabetic, marks, decimal digits, connector punctuation, joiners) touches it. */
bool tlm_added_single_word_ok(const tlm_tokenizer *tok, const char *s, uint64_t len, uint64_t start,
                              uint64_t stop);

/* Encodes text[0..len) without BOS (encode.c): added tokens are cut out first, with their
 * whitespace rules, as Hugging Face's AddedVocabulary splits text (CONTROL ones only when
 * `special`; a SentencePiece vocabulary without `special` cuts none), and the text between
 * goes to the vocabulary's encoder. */
tlm_status tlm_tok_encode(const tlm_tokenizer *tok, const char *text, uint64_t len, bool special,
                          tlm_id_sink *out);

/* Byte-level BPE of text[0..len) (no added tokens in it). */
tlm_status tlm_bpe_encode(const tlm_tokenizer *tok, const char *text, uint64_t len,
                          tlm_id_sink *out);

/* NFC of s[0..len) into a malloc'd buffer (*out, *out_len); TLM_ERR_NO_MEMORY. Invalid
 * UTF-8 bytes are copied unchanged. */
tlm_status tlm_utf8_nfc(const char *s, uint64_t len, char **out, uint64_t *out_len);

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
