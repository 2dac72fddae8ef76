/* unicode_nfc.c - Unicode Normalization Form C of UTF-8 text (Qwen normalises its input).
 *
 * The standard three steps (UAX #15): decompose every character canonically (recursively,
 * Hangul by formula), put each run of combining marks in canonical-class order (a stable
 * sort), then compose: a mark joins the last starter when nothing between blocks it (a
 * starter, or a mark of the same or a higher class) and the pair has a primary composite.
 * Ill-formed UTF-8 bytes are kept as they are and block composition like starters. */
#include "unicode_nfc.h"
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

enum {
    S_BASE = 0xAC00,
    L_BASE = 0x1100,
    V_BASE = 0x1161,
    T_BASE = 0x11A7,
    L_COUNT = 19,
    V_COUNT = 21,
    T_COUNT = 28,
    N_COUNT = V_COUNT * T_COUNT,
    S_COUNT = L_COUNT * N_COUNT,
    RAW = 0x80000000u, /* marks an ill-formed byte kept as is: RAW | byte */
};

static int ccc_of(uint32_t cp)
{
    if (cp < 0x300 || (cp & RAW)) return 0;
    int lo = 0, hi = tlm_nfc_n_ccc - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < tlm_nfc_ccc[mid].first)
            hi = mid - 1;
        else if (cp > tlm_nfc_ccc[mid].last)
            lo = mid + 1;
        else
            return tlm_nfc_ccc[mid].ccc;
    }
    return 0;
}

static const tlm_decomp *decomp_of(uint32_t cp)
{
    if (cp < 0xC0 || (cp & RAW)) return NULL;
    int lo = 0, hi = tlm_nfc_n_decomp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < tlm_nfc_decomp[mid].cp)
            hi = mid - 1;
        else if (cp > tlm_nfc_decomp[mid].cp)
            lo = mid + 1;
        else
            return &tlm_nfc_decomp[mid];
    }
    return NULL;
}

/* The primary composite of a + b, or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE &&
        b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    int lo = 0, hi = tlm_nfc_n_comp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const tlm_comp *c = &tlm_nfc_comp[mid];
        if (a < c->a || (a == c->a && b < c->b))
            hi = mid - 1;
        else if (a > c->a || b > c->b)
            lo = mid + 1;
        else
            return c->c;
    }
    return 0;
}

/* Appends the full canonical decomposition of cp to out (at most 4 code points per level;
 * the deepest Unicode decomposition is 4 code points long). */
static size_t decompose(uint32_t cp, uint32_t *out)
{
    if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
        uint32_t s = cp - S_BASE;
        out[0] = L_BASE + s / N_COUNT;
        out[1] = V_BASE + (s % N_COUNT) / T_COUNT;
        if (s % T_COUNT == 0) return 2;
        out[2] = T_BASE + s % T_COUNT;
        return 3;
    }
    const tlm_decomp *d = decomp_of(cp);
    if (!d) {
        out[0] = cp;
        return 1;
    }
    size_t n = decompose(d->d0, out);
    if (d->d1) n += decompose(d->d1, out + n);
    return n;
}

/* Decodes one UTF-8 character at s (well-formed only); 0 if ill-formed. */
static int utf8_decode(const unsigned char *s, uint64_t n, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int need = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (need == 0 || (uint64_t)need > n) return 0;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (s[1] < lo || s[1] > hi) return 0;
    uint32_t v = c & (0x7F >> need);
    for (int i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return need;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp & RAW) {
        out[0] = (char)(cp & 0xFF);
        return 1;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

tlm_status tlm_utf8_nfc(const char *s, uint64_t len, char **out, uint64_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* A character decomposes into at most 4 code points (Hangul 3): 4 per input byte is safe. */
    uint32_t *cps = malloc((len + 1) * 4 * sizeof *cps);
    if (!cps) return TLM_ERR_NO_MEMORY;
    size_t n = 0;
    for (uint64_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (k == 0) {
            cps[n++] = RAW | (unsigned char)s[i];
            i++;
        } else {
            n += decompose(cp, cps + n);
            i += (uint64_t)k;
        }
    }
    /* Canonical order: a stable insertion sort inside each run of non-starters. */
    for (size_t i = 1; i < n; i++) {
        int c = ccc_of(cps[i]);
        if (c == 0) continue;
        uint32_t x = cps[i];
        size_t j = i;
        while (j > 0 && ccc_of(cps[j - 1]) > c) {
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = x;
    }
    /* Composition, in place: w is the write position, starter the last starter written. */
    size_t w = 0;
    long starter = -1;
    int last_ccc = -1; /* class of the last character written after the starter */
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        int c = ccc_of(cp);
        bool blocked = starter < 0 || (last_ccc != -1 && (last_ccc == 0 || last_ccc >= c));
        uint32_t comp = !blocked && !(cp & RAW) ? compose(cps[starter], cp) : 0;
        if (comp) {
            cps[starter] = comp;
            continue;
        }
        if (c == 0) {
            starter = (cp & RAW) ? -1 : (long)w;
            last_ccc = -1;
        } else {
            last_ccc = c;
        }
        cps[w++] = cp;
    }
    char *res = malloc(w * 4 + 1);
    if (!res) {
        free(cps);
        return TLM_ERR_NO_MEMORY;
    }
    size_t m = 0;
    for (size_t i = 0; i < w; i++)
        m += utf8_encode(cps[i], res + m);
    free(cps);
    *out = res;
    *out_len = m;
    return TLM_OK;
}
