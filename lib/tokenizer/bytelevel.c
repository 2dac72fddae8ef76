/* bytelevel.c - GPT-2's byte-to-unicode form of byte-level BPE pieces.
 *
 * Byte-level vocabularies (vocab.json, GGUF "gpt2", tokenizer.json) write each byte of a
 * piece as one printable character: the bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF as the code
 * point of the same value, and the 68 others (0x00..0x20, 0x7F..0xA0, 0xAD), in increasing
 * order, as U+0100, U+0101, ... U+0143. So a space is U+0120 "Ġ" and a newline U+010A "Ċ".
 * libtinylm keeps the raw bytes instead, so lookup and decoding need no mapping. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* The byte that code point cp stands for, or -1. */
static int byte_of(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp < 0x100 || cp > 0x143) return -1;
    uint32_t i = cp - 0x100;                           /* index among the 68 remapped bytes */
    if (i <= 0x20) return (int)i;                      /* 0x00..0x20: 33 bytes */
    if (i <= 0x20 + 34) return (int)(0x7F + i - 0x21); /* 0x7F..0xA0: 34 bytes */
    return 0xAD;                                       /* the last one */
}

int64_t tlm_bytelevel_decode(const char *s, uint64_t len, char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    int64_t n = 0;
    for (uint64_t i = 0; i < len;) {
        uint32_t cp;
        if (u[i] < 0x80) {
            cp = u[i];
            i += 1;
        } else if ((u[i] & 0xE0) == 0xC0 && i + 1 < len && (u[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(u[i] & 0x1F) << 6) | (u[i + 1] & 0x3F);
            i += 2; /* the map uses code points below U+0144: two bytes at most */
        } else {
            return -1;
        }
        int b = byte_of(cp);
        if (b < 0) return -1;
        out[n++] = (char)b;
    }
    return n;
}

static bool literal_type(uint8_t type)
{
    return type == TLM_TOK_CONTROL || type == TLM_TOK_USER_DEFINED;
}

tlm_status tlm_bytelevel_unpack(tlm_tokenizer *tok, const char *src, tlm_error *err)
{
    /* A decoded piece is never longer than its byte-level form: the buffer cannot grow. */
    uint64_t total = tok->text_off[tok->n_vocab];
    char *text = malloc(total + 1);
    if (!text) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for pieces", src);
    uint32_t at = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        const char *p = tok->text + tok->text_off[id];
        uint32_t len = tok->text_off[id + 1] - tok->text_off[id];
        int64_t n = literal_type(tok->types[id]) ? -1 : tlm_bytelevel_decode(p, len, text + at);
        if (n < 0) { /* literal text */
            memcpy(text + at, p, len);
            n = len;
        }
        tok->text_off[id] = at;
        at += (uint32_t)n;
    }
    tok->text_off[tok->n_vocab] = at;
    free(tok->text);
    tok->text = text;
    return TLM_OK;
}
