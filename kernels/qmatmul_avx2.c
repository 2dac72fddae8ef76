/* qmatmul_avx2.c - AVX2 kernels of the quantized matmuls (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K):
 * activation quantizers, weight packing and register tiles for the loop nest of
 * qmatmul_blocked.c, which describes the packed layout and the summation order. The same
 * layout as qmatmul_avx512vnni.c, taken 8 rows (one 256-bit vector) at a time.
 *
 * Without VNNI, vpmaddubsw multiplies unsigned levels by signed activation bytes and adds
 * pairs into int16 with saturation, so every int16 sum is kept below 2^15 by construction:
 *   Q4_0, Q4_K  levels 0..15: 8 vpmaddubsw (32 elements) summed in int16 (at most 30480)
 *   Q5_K        levels 0..31: 4 at a time (at most 31496)
 *   Q6_K        levels 0..63: 2 at a time (at most 32004)
 *   Q8_0        signed levels: |w| by sign(x, w), one vpmaddubsw at a time (at most 32512)
 * then vpmaddwd widens to int32, multiplying by the sub-block scale on the way for the
 * K-quants (its second operand holds the scale in both 16-bit halves) or by 1. Offsets come
 * back out as in the VNNI kernels: Q4_0 through the activation sums stored per block, the
 * K-quants' mins and Q6_K's 32 through vpmaddwd on 16-bit pairs of scales and sums.
 * Small batches (2 .. 16 tokens) on interleaved Q8_0, Q4_0, Q4_K, Q5_K and Q6_K: each level
 * vector serves up to 4 tokens' sums, half a group at a time, with decode's sums (the VNNI
 * file). The int16 and per-sub-block int32 sums are kept chains (vi_chain per add): GCC
 * would reassociate them into trees whose leaves spill. */
#include <string.h>

#include "simd_avx2.h"

#define QX_Q8_OFFSET 0
#define QMATMUL_FN(name) name##_avx2
#include "qmatmul_simd.h"

enum { NR = 4 }; /* tokens per tile */

/* ---- loading weights: 16 rows, one per dword lane, as two 8-row halves --------------------- */

/* v[j] = the 16 bytes at off of rows 8h + j (low slot) and 8h + 4 + j (high slot). */
TLM_INLINE void load_pairs(__m256i v[4], const group *g, bool full, int h, int64_t off)
{
    const char *b = g->base + off;
    if (full) __asm__("" : "+r"(b)); /* see load_quads in the VNNI file */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const char *p0 = full ? b + (uint64_t)(8 * h + j) * g->rb : g->row[8 * h + j] + off;
        const char *p1 = full ? p0 + g->r4 : g->row[8 * h + 4 + j] + off;
        __m128i lo = _mm_loadu_si128((const __m128i *)p0);
        v[j] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo),
                                       _mm_loadu_si128((const __m128i *)p1), 1);
    }
}

/* t[kk] lane r = dword kk of the 16 bytes at row 8h + r + off (kk < 4, r < 8): a 4 x 4 dword
 * transpose in each 128-bit slot. */
TLM_INLINE void load8x4(__m256i t[4], const group *g, bool full, int h, int64_t off)
{
    if (g->il) { /* already in lanes */
#pragma GCC unroll 4
        for (int kk = 0; kk < 4; kk++)
            t[kk] = _mm256_loadu_si256((const __m256i *)(il_at(g, off) + 64 * kk + 32 * h));
        return;
    }
    __m256i v[4];
    load_pairs(v, g, full, h, off);
    __m256i a0 = _mm256_unpacklo_epi32(v[0], v[1]), a1 = _mm256_unpackhi_epi32(v[0], v[1]);
    __m256i a2 = _mm256_unpacklo_epi32(v[2], v[3]), a3 = _mm256_unpackhi_epi32(v[2], v[3]);
    t[0] = _mm256_unpacklo_epi64(a0, a2);
    t[1] = _mm256_unpackhi_epi64(a0, a2);
    t[2] = _mm256_unpacklo_epi64(a1, a3);
    t[3] = _mm256_unpackhi_epi64(a1, a3);
}

/* Lane r: dword kk of the 16 bytes at row 8h + r + off. */
TLM_INLINE __m256i load8x1(const group *g, bool full, int h, int64_t off, int kk)
{
    if (g->il) return _mm256_loadu_si256((const __m256i *)(il_at(g, off) + 64 * kk + 32 * h));
    __m256i v[4];
    load_pairs(v, g, full, h, off);
    __m256i a = kk < 2 ? _mm256_unpacklo_epi32(v[0], v[1]) : _mm256_unpackhi_epi32(v[0], v[1]);
    __m256i b = kk < 2 ? _mm256_unpacklo_epi32(v[2], v[3]) : _mm256_unpackhi_epi32(v[2], v[3]);
    return kk % 2 ? _mm256_unpackhi_epi64(a, b) : _mm256_unpacklo_epi64(a, b);
}

/* The low (high) 16 bits of each lane, an f16, widened to float. */
TLM_INLINE __m256 f16_low(__m256i v)
{
    __m256i w =
        _mm256_packus_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)), _mm256_setzero_si256());
    w = _mm256_permute4x64_epi64(w, 0xd8);
    return _mm256_cvtph_ps(_mm256_castsi256_si128(w));
}
TLM_INLINE __m256 f16_high(__m256i v) { return f16_low(_mm256_srli_epi32(v, 16)); }

TLM_INLINE void store(void *p, __m256i v) { _mm256_store_si256((__m256i *)p, v); }
TLM_INLINE __m256i bytes(int b) { return _mm256_set1_epi8((char)b); }
TLM_INLINE __m256i low4(__m256i v) { return _mm256_and_si256(v, bytes(0x0f)); }
TLM_INLINE __m256i high4(__m256i v) { return low4(_mm256_srli_epi32(v, 4)); }

/* Byte b (0..3) of each dword, zero-extended, in both 16-bit halves (a vpmaddwd scale). */
TLM_INLINE __m256i byte_u16x2(__m256i v, int b)
{
    const int z = (int)(0x80008000u + (unsigned)b + ((unsigned)b << 16));
    const int s = 0x40004;
    return _mm256_shuffle_epi8(
        v, _mm256_setr_epi32(z, z + s, z + 2 * s, z + 3 * s, z, z + s, z + 2 * s, z + 3 * s));
}

/* Bytes 2p, 2p + 1 of each dword as the two 16-bit halves, zero-extended (p = 0, 1). */
TLM_INLINE __m256i bytes_u16x2(__m256i v, int p)
{
    const int z = (int)(0x80008000u + (unsigned)(2 * p) + ((unsigned)(2 * p + 1) << 16));
    const int s = 0x40004;
    return _mm256_shuffle_epi8(
        v, _mm256_setr_epi32(z, z + s, z + 2 * s, z + 3 * s, z, z + s, z + 2 * s, z + 3 * s));
}

/* Signed 16-bit halves from zero-extended bytes. */
TLM_INLINE __m256i sext_u16x2(__m256i v) { return _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8); }

/* Q8_0 (signed levels as stored: the tiles take |w| and sign(x, w)) and Q4_0 (levels 0..15)
 * unit at off, half h: 8 level vectors and the 8 scales (the low half of the first dword). */
TLM_INLINE void unit_q8_0(__m256i w[8], __m256 *dw, const group *g, bool full, int h, int64_t off)
{
    __m256i t[4];
#pragma GCC unroll 2
    for (int half = 0; half < 2; half++) {
        load8x4(t, g, full, h, off + 2 + 16 * half);
#pragma GCC unroll 4
        for (int kk = 0; kk < 4; kk++)
            w[4 * half + kk] = t[kk];
    }
    *dw = f16_low(load8x1(g, full, h, off, 0));
}

TLM_INLINE void unit_q4_0(__m256i w[8], __m256 *dw, const group *g, bool full, int h, int64_t off)
{
    __m256i t[4];
    load8x4(t, g, full, h, off + 2);
#pragma GCC unroll 4
    for (int kk = 0; kk < 4; kk++) {
        w[kk] = low4(t[kk]);
        w[4 + kk] = high4(t[kk]);
    }
    *dw = f16_low(load8x1(g, full, h, off, 0));
}

/* Q4_K / Q5_K header per half: d, -dmin, scale and min bytes (as in the VNNI file). */
typedef struct ka_head {
    __m256 d, ndmin;
    __m256i sc03, sc47, m03, m47;
} ka_head;

TLM_INLINE void ka_header(ka_head *o, const group *g, bool full, int h, int64_t off)
{
    __m256i hd[4];
    load8x4(hd, g, full, h, off);
    o->d = f16_low(hd[0]);
    o->ndmin = _mm256_xor_ps(f16_high(hd[0]), _mm256_set1_ps(-0.0f));
    const __m256i m6 = bytes(0x3f), hi2 = bytes(0x30);
    o->sc03 = _mm256_and_si256(hd[1], m6);
    o->m03 = _mm256_and_si256(hd[2], m6);
    o->sc47 = _mm256_or_si256(low4(hd[3]), _mm256_and_si256(_mm256_srli_epi32(hd[1], 2), hi2));
    o->m47 = _mm256_or_si256(high4(hd[3]), _mm256_and_si256(_mm256_srli_epi32(hd[2], 2), hi2));
}

/* Sub-block s's scale as (sc, sc); the mins of sub-blocks 2i, 2i + 1 as a 16-bit pair. */
TLM_INLINE __m256i ka_scale(const ka_head *h, int s)
{
    return byte_u16x2(s < 4 ? h->sc03 : h->sc47, s % 4);
}
TLM_INLINE __m256i ka_mins(const ka_head *h, int i)
{
    return bytes_u16x2(i < 2 ? h->m03 : h->m47, i % 2);
}

/* Bit s of each byte of v at bit 4, masked. */
TLM_INLINE __m256i bit4(__m256i v, int s)
{
    __m256i m = s <= 4 ? _mm256_slli_epi32(v, 4 - s) : _mm256_srli_epi32(v, s - 4);
    return _mm256_and_si256(m, bytes(0x10));
}

/* Q4_K / Q5_K: 16 bytes of qs (elements l = 16 half + 4kk + i of chunk j) into the levels of
 * sub-blocks 2j (lo) and 2j + 1 (hi); qh (Q5_K) is load8x4 of qh bytes 16 half .. */
TLM_INLINE void ka_levels(__m256i lo[4], __m256i hi[4], const __m256i t[4], const __m256i qh[4],
                          bool five, int j)
{
#pragma GCC unroll 4
    for (int kk = 0; kk < 4; kk++) {
        lo[kk] = low4(t[kk]);
        hi[kk] = high4(t[kk]);
        if (five) {
            lo[kk] = _mm256_or_si256(lo[kk], bit4(qh[kk], 2 * j));
            hi[kk] = _mm256_or_si256(hi[kk], bit4(qh[kk], 2 * j + 1));
        }
    }
}

/* Q6_K level of group grp (0..3) from ql pieces a (groups 0, 2), b (1, 3) and qh piece c. */
TLM_INLINE __m256i k6_level(__m256i a, __m256i b, __m256i c, int grp)
{
    __m256i lo = grp % 2 ? b : a;
    if (grp >= 2) lo = _mm256_srli_epi32(lo, 4);
    __m256i hi = grp == 0   ? _mm256_slli_epi32(c, 4)
                 : grp == 1 ? _mm256_slli_epi32(c, 2)
                 : grp == 2 ? c
                            : _mm256_srli_epi32(c, 2);
    return _mm256_or_si256(low4(lo), _mm256_and_si256(hi, bytes(0x30)));
}

/* Q6_K scales per half: sc[kk] bytes are scales 4kk .. 4kk + 3; d from the dword ending the
 * block. Scale s as a signed (sc, sc) pair; scales 2i, 2i + 1 as a signed pair. */
TLM_INLINE void k6_header(__m256i sc[4], __m256 *d, const group *g, bool full, int h, int64_t off)
{
    load8x4(sc, g, full, h, off + 192);
    if (g->il) /* the 16 d follow the block's 52 dwords */
        *d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(il_at(g, off) + 64 * 52 + 16 * h)));
    else
        *d = f16_high(load8x1(g, full, h, off + 194, 3));
}
TLM_INLINE __m256i k6_scale(const __m256i sc[4], int s)
{
    return sext_u16x2(byte_u16x2(sc[s / 4], s % 4));
}
TLM_INLINE __m256i k6_pair(const __m256i sc[4], int i)
{
    return sext_u16x2(bytes_u16x2(sc[i / 2], i % 2));
}

/* ---- packing (prefill) ---------------------------------------------------------------------- */

TLM_INLINE void pack_units(int type, bool full, char *o, const group *g, int64_t u0,
                           int64_t n_units)
{
    const int64_t pack_bytes = type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0 ? PACK32
                               : type == TLM_DT_Q6_K                      ? PACK_K6
                                                                          : PACK_KA;
    for (int64_t u = u0; u < u0 + n_units; u++)
        for (int h = 0; h < 2; h++) {
            /* every array is [..][16 rows]: half h is the 32 bytes at + 32h of each entry */
            char *oh = o + (u - u0) * pack_bytes + 32 * h;
            if (type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0) {
                __m256i w[8];
                __m256 dw;
                if (type == TLM_DT_Q8_0)
                    unit_q8_0(w, &dw, g, full, h, u * (int64_t)sizeof(block_q8_0));
                else
                    unit_q4_0(w, &dw, g, full, h, u * (int64_t)sizeof(block_q4_0));
                for (int kk = 0; kk < 8; kk++)
                    store(oh + 64 * kk, w[kk]);
                _mm256_store_ps((float *)(oh + 512), dw);
            } else if (type == TLM_DT_Q4_K || type == TLM_DT_Q5_K) {
                const bool five = type == TLM_DT_Q5_K;
                const int64_t off = u * (int64_t)(five ? sizeof(block_q5_K) : sizeof(block_q4_K));
                ka_head hd;
                ka_header(&hd, g, full, h, off);
                _mm256_store_ps((float *)(oh + KA_D), hd.d);
                _mm256_store_ps((float *)(oh + KA_NDMIN), hd.ndmin);
                for (int sb = 0; sb < 8; sb++)
                    store(oh + KA_SC + 64 * sb, ka_scale(&hd, sb));
                for (int i = 0; i < 4; i++)
                    store(oh + KA_M + 64 * i, ka_mins(&hd, i));
                __m256i qh[2][4];
                if (five) {
                    load8x4(qh[0], g, full, h, off + 16);
                    load8x4(qh[1], g, full, h, off + 32);
                }
                for (int j = 0; j < 4; j++)
                    for (int half = 0; half < 2; half++) {
                        __m256i t[4], lo[4], hi[4];
                        load8x4(t, g, full, h, off + (five ? 48 : 16) + 32 * j + 16 * half);
                        ka_levels(lo, hi, t, qh[half], five, j);
                        for (int kk = 0; kk < 4; kk++) {
                            store(oh + 64 * (8 * (2 * j) + 4 * half + kk), lo[kk]);
                            store(oh + 64 * (8 * (2 * j + 1) + 4 * half + kk), hi[kk]);
                        }
                    }
            } else {
                const int64_t off = u * (int64_t)sizeof(block_q6_K);
                for (int h6 = 0; h6 < 2; h6++)
                    for (int p = 0; p < 2; p++) {
                        __m256i a[4], b[4], c[4];
                        load8x4(a, g, full, h, off + 64 * h6 + 16 * p);
                        load8x4(b, g, full, h, off + 64 * h6 + 32 + 16 * p);
                        load8x4(c, g, full, h, off + 128 + 32 * h6 + 16 * p);
                        for (int grp = 0; grp < 4; grp++)
                            for (int kk = 0; kk < 4; kk++)
                                store(oh + 64 * (4 * (8 * h6 + 2 * grp + p) + kk),
                                      k6_level(a[kk], b[kk], c[kk], grp));
                    }
                __m256i sc[4];
                __m256 d;
                k6_header(sc, &d, g, full, h, off);
                for (int sb = 0; sb < 16; sb++)
                    store(oh + K6_SC + 64 * sb, k6_scale(sc, sb));
                for (int i = 0; i < 8; i++)
                    store(oh + K6_SCP + 64 * i, k6_pair(sc, i));
                _mm256_store_ps((float *)(oh + K6_D), d);
            }
        }
}

/* ---- register tiles: 8 rows (one half of the group) by up to NR tokens ------------------- */

TLM_INLINE __m256i bcast32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

TLM_INLINE __m256i load_i(const char *p) { return _mm256_load_si256((const __m256i *)p); }

TLM_INLINE __m256i ones16(void) { return _mm256_set1_epi16(1); }

/* Lanes [0, n) set, n in [0, 8]: a vmaskmovps mask. */
TLM_INLINE __m256i mask8(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The running sums of a tile's half: lanes r < n of y[0, 8), or zeros. */
TLM_INLINE __m256 sums_load(const float *y, int n, bool accumulate)
{
    return accumulate ? _mm256_maskload_ps(y, mask8(n)) : _mm256_setzero_ps();
}

TLM_INLINE void sums_store(float *y, int n, __m256 v) { _mm256_maskstore_ps(y, mask8(n), v); }

/* Q8_0 (signed levels) and Q4_0 (levels 0..15, offset in corr). */
TLM_INLINE void tile32_shape(bool is_signed, int nr, float *y, int64_t ldy, int rows,
                             bool accumulate, const char *p, int64_t n_units, const char *xq,
                             int64_t xs)
{
    for (int h = 0; h < 2 && 8 * h < rows; h++) {
        const int n = rows - 8 * h;
        __m256 a[NR];
#pragma GCC unroll 8
        for (int t = 0; t < nr; t++)
            a[t] = sums_load(y + t * ldy + 8 * h, n, accumulate);
        const char *pu = p;
        for (int64_t u = 0; u < n_units; u++, pu += PACK32) {
            const char *xu = xq + u * (int64_t)sizeof(xq32);
            __m256i s[NR];
            if (is_signed) {
#pragma GCC unroll 8
                for (int t = 0; t < nr; t++)
                    s[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int kk = 0; kk < 8; kk++) {
                    __m256i wv = load_i(pu + 64 * kk + 32 * h), aw = _mm256_abs_epi8(wv);
#pragma GCC unroll 8
                    for (int t = 0; t < nr; t++) {
                        __m256i xv = _mm256_sign_epi8(bcast32(xu + t * xs + 4 * kk), wv);
                        s[t] = _mm256_add_epi32(
                            s[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xv), ones16()));
                    }
                }
            } else {
                __m256i s16[NR];
#pragma GCC unroll 8
                for (int t = 0; t < nr; t++)
                    s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int kk = 0; kk < 8; kk++) {
                    __m256i wv = load_i(pu + 64 * kk + 32 * h);
#pragma GCC unroll 8
                    for (int t = 0; t < nr; t++)
                        s16[t] = _mm256_add_epi16(
                            s16[t], _mm256_maddubs_epi16(wv, bcast32(xu + t * xs + 4 * kk)));
                }
#pragma GCC unroll 8
                for (int t = 0; t < nr; t++)
                    s[t] = _mm256_add_epi32(_mm256_madd_epi16(s16[t], ones16()),
                                            bcast32(&((const xq32 *)(xu + t * xs))->corr));
            }
            __m256 dw = _mm256_load_ps((const float *)(pu + 512) + 8 * h);
#pragma GCC unroll 8
            for (int t = 0; t < nr; t++) {
                __m256 dx = _mm256_set1_ps(((const xq32 *)(xu + t * xs))->d);
                a[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dw, dx), a[t]);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < nr; t++)
            sums_store(y + t * ldy + 8 * h, n, a[t]);
    }
}

/* Q4_K (group = 8: levels 0..15) and Q5_K (group = 4: levels 0..31): int16 sums of `group`
 * vpmaddubsw, widened by vpmaddwd against (sc, sc). */
TLM_INLINE void tile_ka_shape(int group_kk, int nr, float *y, int64_t ldy, int rows,
                              bool accumulate, const char *p, int64_t n_units, const char *xq,
                              int64_t xs)
{
    for (int h = 0; h < 2 && 8 * h < rows; h++) {
        const int n = rows - 8 * h;
        __m256 a[NR];
#pragma GCC unroll 8
        for (int t = 0; t < nr; t++)
            a[t] = sums_load(y + t * ldy + 8 * h, n, accumulate);
        const char *pu = p;
        for (int64_t u = 0; u < n_units; u++, pu += PACK_KA) {
            const char *xu = xq + u * (int64_t)sizeof(xq256);
            __m256i isum[NR], msum[NR];
#pragma GCC unroll 8
            for (int t = 0; t < nr; t++)
                isum[t] = msum[t] = _mm256_setzero_si256();
            for (int s = 0; s < 8; s++) {
                __m256i sc = load_i(pu + KA_SC + 64 * s + 32 * h);
#pragma GCC unroll 2
                for (int k0 = 0; k0 < 8; k0 += group_kk) {
                    __m256i s16[NR];
#pragma GCC unroll 8
                    for (int t = 0; t < nr; t++)
                        s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
                    for (int kk = k0; kk < k0 + group_kk; kk++) {
                        __m256i wv = load_i(pu + 64 * (8 * s + kk) + 32 * h);
#pragma GCC unroll 8
                        for (int t = 0; t < nr; t++)
                            s16[t] = _mm256_add_epi16(
                                s16[t],
                                _mm256_maddubs_epi16(wv, bcast32(xu + t * xs + 32 * s + 4 * kk)));
                    }
#pragma GCC unroll 8
                    for (int t = 0; t < nr; t++)
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], sc));
                }
            }
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                __m256i m = load_i(pu + KA_M + 64 * i + 32 * h);
#pragma GCC unroll 8
                for (int t = 0; t < nr; t++)
                    msum[t] = _mm256_add_epi32(
                        msum[t],
                        _mm256_madd_epi16(m, bcast32(((const xq256 *)(xu + t * xs))->s32 + 2 * i)));
            }
            __m256 dv = _mm256_load_ps((const float *)(pu + KA_D) + 8 * h);
            __m256 ndmin = _mm256_load_ps((const float *)(pu + KA_NDMIN) + 8 * h);
#pragma GCC unroll 8
            for (int t = 0; t < nr; t++) {
                __m256 dx = _mm256_set1_ps(((const xq256 *)(xu + t * xs))->d);
                a[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dv, dx), a[t]);
                a[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum[t]), _mm256_mul_ps(ndmin, dx), a[t]);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < nr; t++)
            sums_store(y + t * ldy + 8 * h, n, a[t]);
    }
}

/* Q6_K: pairs of vpmaddubsw per int16 sum, widened against (sc, sc), minus 32 sum sc * s16. */
TLM_INLINE void tile_k6_shape(int nr, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *p, int64_t n_units, const char *xq, int64_t xs)
{
    for (int h = 0; h < 2 && 8 * h < rows; h++) {
        const int n = rows - 8 * h;
        __m256 a[NR];
#pragma GCC unroll 8
        for (int t = 0; t < nr; t++)
            a[t] = sums_load(y + t * ldy + 8 * h, n, accumulate);
        const char *pu = p;
        for (int64_t u = 0; u < n_units; u++, pu += PACK_K6) {
            const char *xu = xq + u * (int64_t)sizeof(xq256);
            __m256i isum[NR], csum[NR];
#pragma GCC unroll 8
            for (int t = 0; t < nr; t++)
                isum[t] = csum[t] = _mm256_setzero_si256();
            for (int s = 0; s < 16; s++) {
                __m256i sc = load_i(pu + K6_SC + 64 * s + 32 * h);
#pragma GCC unroll 2
                for (int k0 = 0; k0 < 4; k0 += 2) {
                    __m256i w0 = load_i(pu + 64 * (4 * s + k0) + 32 * h);
                    __m256i w1 = load_i(pu + 64 * (4 * s + k0 + 1) + 32 * h);
#pragma GCC unroll 8
                    for (int t = 0; t < nr; t++) {
                        const char *xk = xu + t * xs + 16 * s + 4 * k0;
                        __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(w0, bcast32(xk)),
                                                       _mm256_maddubs_epi16(w1, bcast32(xk + 4)));
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16, sc));
                    }
                }
            }
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                __m256i scp = load_i(pu + K6_SCP + 64 * i + 32 * h);
#pragma GCC unroll 8
                for (int t = 0; t < nr; t++)
                    csum[t] = _mm256_add_epi32(
                        csum[t], _mm256_madd_epi16(
                                     scp, bcast32(((const xq256 *)(xu + t * xs))->s16 + 2 * i)));
            }
            __m256 dv = _mm256_load_ps((const float *)(pu + K6_D) + 8 * h);
#pragma GCC unroll 8
            for (int t = 0; t < nr; t++) {
                __m256 dx = _mm256_set1_ps(((const xq256 *)(xu + t * xs))->d);
                __m256i v = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(csum[t], 5));
                a[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_mul_ps(dv, dx), a[t]);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < nr; t++)
            sums_store(y + t * ldy + 8 * h, n, a[t]);
    }
}

#define ARGS                                                                                       \
    float *y, int64_t ldy, int rows, bool acc, const char *p, int64_t n, const char *xq, int64_t xs

TLM_INLINE void tile_q8_0_shape(int nr, ARGS)
{
    tile32_shape(true, nr, y, ldy, rows, acc, p, n, xq, xs);
}
TLM_INLINE void tile_q4_0_shape(int nr, ARGS)
{
    tile32_shape(false, nr, y, ldy, rows, acc, p, n, xq, xs);
}
TLM_INLINE void tile_q4_K_shape(int nr, ARGS)
{
    tile_ka_shape(8, nr, y, ldy, rows, acc, p, n, xq, xs);
}
TLM_INLINE void tile_q5_K_shape(int nr, ARGS)
{
    tile_ka_shape(4, nr, y, ldy, rows, acc, p, n, xq, xs);
}

/* ---- decode: one token straight from the weights (as the VNNI file's gemv) ---------------- */

TLM_INLINE __m256i madd_ones(__m256i s16) { return _mm256_madd_epi16(s16, ones16()); }

/* acc + the Q8_0 / Q4_0 unit w (8 level vectors, scales dw) . the token's block xb. */
TLM_INLINE __m256 unit32_dot(int type, const __m256i w[8], __m256 dw, const xq32 *xb, __m256 acc)
{
    __m256i s;
    if (type == TLM_DT_Q8_0) {
        s = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int kk = 0; kk < 8; kk++) {
            __m256i xv = _mm256_sign_epi8(bcast32(xb->q + 4 * kk), w[kk]);
            s = _mm256_add_epi32(s, madd_ones(_mm256_maddubs_epi16(_mm256_abs_epi8(w[kk]), xv)));
        }
    } else {
        __m256i s16 = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int kk = 0; kk < 8; kk++)
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[kk], bcast32(xb->q + 4 * kk)));
        s = _mm256_add_epi32(madd_ones(s16), bcast32(&xb->corr));
    }
    __m256 dwx = _mm256_mul_ps(dw, _mm256_set1_ps(xb->d));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), dwx, acc);
}

TLM_INLINE void gemv_units(int type, bool full, float *y, int rows, bool accumulate, const group *g,
                           int64_t u0, int64_t n_units, const char *xq, const char *next)
{
    __m256 acc[2];
    for (int h = 0; h < 2; h++)
        acc[h] = sums_load(y + 8 * h, rows - 8 * h, accumulate);
    /* the next group's lines, a line or two a step: per unit 1 step for Q8_0 / Q4_0 (5 to 9
     * lines), 16 for Q4_K / Q5_K (36, 44), 32 for Q6_K (53) */
    const int steps = type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0 ? 1
                      : type == TLM_DT_Q6_K                      ? 32
                                                                 : 16;
    tlm_qprefetch pf = tlm_qprefetch_init(next, TLM_QROWS * (int64_t)g->rb, n_units * steps);
    for (int64_t u = u0; u < u0 + n_units; u++) {
        for (int h = 0; h < 2 && 8 * h < rows; h++) {
            if (type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0) {
                if (h == 0) tlm_qprefetch_step(&pf);
                __m256i w[8];
                __m256 dw;
                if (type == TLM_DT_Q8_0)
                    unit_q8_0(w, &dw, g, full, h, u * (int64_t)sizeof(block_q8_0));
                else
                    unit_q4_0(w, &dw, g, full, h, u * (int64_t)sizeof(block_q4_0));
                acc[h] = unit32_dot(type, w, dw, (const xq32 *)xq + (u - u0), acc[h]);
            } else if (type == TLM_DT_Q4_K || type == TLM_DT_Q5_K) {
                const bool five = type == TLM_DT_Q5_K;
                const xq256 *xb = (const xq256 *)xq + (u - u0);
                __asm__("" : "+r"(xb)); /* see lowk_gemv_unit: broadcast where used */
                const int64_t off = u * (int64_t)(five ? sizeof(block_q5_K) : sizeof(block_q4_K));
                ka_head hd;
                ka_header(&hd, g, full, h, off);
                __m256i qh[2][4];
                if (five) {
                    load8x4(qh[0], g, full, h, off + 16);
                    load8x4(qh[1], g, full, h, off + 32);
                }
                __m256i isum = _mm256_setzero_si256(), msum = _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    __m256i s16lo = _mm256_setzero_si256(), s16hi = _mm256_setzero_si256();
#pragma GCC unroll 2
                    for (int half = 0; half < 2; half++) {
                        tlm_qprefetch_step(&pf);
                        __m256i t[4], lo[4], hi[4];
                        load8x4(t, g, full, h, off + (five ? 48 : 16) + 32 * j + 16 * half);
                        ka_levels(lo, hi, t, qh[half], five, j);
#pragma GCC unroll 4
                        for (int kk = 0; kk < 4; kk++) {
                            const int8_t *xk = xb->q + 64 * j + 16 * half + 4 * kk;
                            s16lo =
                                _mm256_add_epi16(s16lo, _mm256_maddubs_epi16(lo[kk], bcast32(xk)));
                            s16hi = _mm256_add_epi16(
                                s16hi, _mm256_maddubs_epi16(hi[kk], bcast32(xk + 32)));
                        }
                        if (five || half == 1) { /* Q5_K: int16 holds 4 products' pairs */
                            isum = _mm256_add_epi32(isum,
                                                    _mm256_madd_epi16(s16lo, ka_scale(&hd, 2 * j)));
                            isum = _mm256_add_epi32(
                                isum, _mm256_madd_epi16(s16hi, ka_scale(&hd, 2 * j + 1)));
                            s16lo = s16hi = _mm256_setzero_si256();
                        }
                    }
                }
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
                    msum = _mm256_add_epi32(
                        msum, _mm256_madd_epi16(ka_mins(&hd, i), bcast32(xb->s32 + 2 * i)));
                __m256 dx = _mm256_set1_ps(xb->d);
                acc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(hd.d, dx), acc[h]);
                acc[h] =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(hd.ndmin, dx), acc[h]);
            } else {
                const xq256 *xb = (const xq256 *)xq + (u - u0);
                __asm__("" : "+r"(xb));
                const int64_t off = u * (int64_t)sizeof(block_q6_K);
                __m256i sc[4];
                __m256 d;
                k6_header(sc, &d, g, full, h, off);
                __m256i isum = _mm256_setzero_si256(), csum = _mm256_setzero_si256();
#pragma GCC unroll 2
                for (int h6 = 0; h6 < 2; h6++)
#pragma GCC unroll 2
                    for (int p = 0; p < 2; p++) {
                        __m256i a[4], b[4], c[4];
                        load8x4(a, g, full, h, off + 64 * h6 + 16 * p);
                        load8x4(b, g, full, h, off + 64 * h6 + 32 + 16 * p);
                        load8x4(c, g, full, h, off + 128 + 32 * h6 + 16 * p);
#pragma GCC unroll 4
                        for (int grp = 0; grp < 4; grp++) {
                            const int sb = 8 * h6 + 2 * grp + p;
                            tlm_qprefetch_step(&pf);
                            const __m256i scs = k6_scale(sc, sb);
#pragma GCC unroll 2
                            for (int k0 = 0; k0 < 4; k0 += 2) {
                                const int8_t *xk = xb->q + 16 * sb + 4 * k0;
                                __m256i s16 = _mm256_add_epi16(
                                    _mm256_maddubs_epi16(k6_level(a[k0], b[k0], c[k0], grp),
                                                         bcast32(xk)),
                                    _mm256_maddubs_epi16(
                                        k6_level(a[k0 + 1], b[k0 + 1], c[k0 + 1], grp),
                                        bcast32(xk + 4)));
                                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(s16, scs));
                            }
                        }
                    }
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++)
                    csum = _mm256_add_epi32(
                        csum, _mm256_madd_epi16(k6_pair(sc, i), bcast32(xb->s16 + 2 * i)));
                __m256i v = _mm256_sub_epi32(isum, _mm256_slli_epi32(csum, 5));
                acc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v),
                                         _mm256_mul_ps(d, _mm256_set1_ps(xb->d)), acc[h]);
            }
        }
    }
    for (int h = 0; h < 2 && 8 * h < rows; h++)
        sums_store(y + 8 * h, rows - 8 * h, acc[h]);
}

/* ---- row-interleaved weights (kernels.h, il): the same units by plain loads ------------- */

/* Half h (rows 8h .. 8h + 7) of the group unit at p: unit_q8_0 / unit_q4_0's vectors. */
TLM_INLINE void unit_il(int type, __m256i w[8], __m256 *dw, const char *p, int h)
{
    *dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
    p += 2 * TLM_QROWS + 32 * h;
    if (type == TLM_DT_Q8_0) {
#pragma GCC unroll 8
        for (int kk = 0; kk < 8; kk++)
            w[kk] = _mm256_loadu_si256((const __m256i *)(p + 64 * kk));
    } else {
#pragma GCC unroll 4
        for (int kk = 0; kk < 4; kk++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + 64 * kk));
            w[kk] = low4(v);
            w[4 + kk] = high4(v);
        }
    }
}

TLM_INLINE int64_t unit_il_bytes(int type)
{
    return TLM_QROWS * (int64_t)(type == TLM_DT_Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0));
}

/* Rows of a group past `rows` are real (every group is whole); they are computed, not stored. */
#define IL_FNS(suffix, type)                                                                       \
    static void gemv_il_##suffix(float *y, int rows, bool accumulate, const char *w,               \
                                 uint64_t w_row_bytes, int64_t u0, int64_t n_units,                \
                                 const char *xq, const char *next)                                 \
    {                                                                                              \
        __m256 acc[2];                                                                             \
        for (int h = 0; h < 2; h++)                                                                \
            acc[h] = sums_load(y + 8 * h, rows - 8 * h, accumulate);                               \
        const char *p = w + u0 * unit_il_bytes(type);                                              \
        tlm_qprefetch pf = tlm_qprefetch_init(next, TLM_QROWS * (int64_t)w_row_bytes, n_units);    \
        for (int64_t u = 0; u < n_units; u++, p += unit_il_bytes(type)) {                          \
            tlm_qprefetch_step(&pf);                                                               \
            for (int h = 0; h < 2; h++) {                                                          \
                __m256i wv[8];                                                                     \
                __m256 dw;                                                                         \
                unit_il(type, wv, &dw, p, h);                                                      \
                acc[h] = unit32_dot(type, wv, dw, (const xq32 *)xq + u, acc[h]);                   \
            }                                                                                      \
        }                                                                                          \
        for (int h = 0; h < 2; h++)                                                                \
            sums_store(y + 8 * h, rows - 8 * h, acc[h]);                                           \
    }                                                                                              \
    static void pack_il_##suffix(void *dst, const char *w, uint64_t w_row_bytes, int rows,         \
                                 int64_t u0, int64_t n_units)                                      \
    {                                                                                              \
        for (int64_t u = u0; u < u0 + n_units; u++)                                                \
            for (int h = 0; h < 2; h++) {                                                          \
                char *oh = (char *)dst + (u - u0) * PACK32 + 32 * h;                               \
                __m256i wv[8];                                                                     \
                __m256 dw;                                                                         \
                unit_il(type, wv, &dw, w + u * unit_il_bytes(type), h);                            \
                for (int kk = 0; kk < 8; kk++)                                                     \
                    store(oh + 64 * kk, wv[kk]);                                                   \
                _mm256_store_ps((float *)(oh + 512), dw);                                          \
            }                                                                                      \
    }

IL_FNS(q8_0, TLM_DT_Q8_0)
IL_FNS(q4_0, TLM_DT_Q4_0)

/* ---- small batches (2 .. NB_SMALL tokens) from interleaved groups ------------------------ */

enum { NB_SMALL = 4 }; /* per half: 4 float sums + 4 integer sums + levels within 16 registers */

/* Half by half (the chunk is in L1 for the second), each level vector loaded once per unit
 * for all nt tokens: the arithmetic of tile32_shape on the group's own bytes, so the same sums
 * as gemv and the tiles. */
TLM_INLINE void gemm_il_shape(int type, int nt, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *grp, uint64_t w_row_bytes, int64_t u0, int64_t n_units,
                              const char *xq, int64_t xs, const char *next)
{
    const int64_t ub = unit_il_bytes(type);
    tlm_qprefetch pf = tlm_qprefetch_init(next ? next + u0 * ub : NULL, n_units * ub, n_units);
    for (int h = 0; h < 2 && 8 * h < rows; h++) {
        const int n = rows - 8 * h;
        __m256 a[NB_SMALL];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            a[t] = sums_load(y + t * ldy + 8 * h, n, accumulate);
        const char *p = grp + u0 * ub;
        for (int64_t u = 0; u < n_units; u++, p += ub) {
            if (h == 0) tlm_qprefetch_step(&pf);
            const char *xu = xq + u * (int64_t)sizeof(xq32), *lv = p + 2 * TLM_QROWS + 32 * h;
            __m256i s[NB_SMALL];
            if (type == TLM_DT_Q8_0) {
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++)
                    s[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int kk = 0; kk < 8; kk++) {
                    __m256i wv = _mm256_loadu_si256((const __m256i *)(lv + 64 * kk));
                    __m256i aw = _mm256_abs_epi8(wv);
#pragma GCC unroll 8
                    for (int t = 0; t < nt; t++) {
                        __m256i xv = _mm256_sign_epi8(bcast32(xu + t * xs + 4 * kk), wv);
                        s[t] = _mm256_add_epi32(s[t], madd_ones(_mm256_maddubs_epi16(aw, xv)));
                        s[t] = vi_chain(s[t]);
                    }
                }
            } else {
                __m256i s16[NB_SMALL];
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++)
                    s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int kk = 0; kk < 4; kk++) {
                    __m256i v = _mm256_loadu_si256((const __m256i *)(lv + 64 * kk));
                    __m256i lo = low4(v), hi = high4(v);
#pragma GCC unroll 8
                    for (int t = 0; t < nt; t++) {
                        const char *xk = xu + t * xs + 4 * kk;
                        s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lo, bcast32(xk)));
                        s16[t] = vi_chain(s16[t]);
                        s16[t] =
                            _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(hi, bcast32(xk + 16)));
                        s16[t] = vi_chain(s16[t]);
                    }
                }
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++)
                    s[t] = _mm256_add_epi32(madd_ones(s16[t]),
                                            bcast32(&((const xq32 *)(xu + t * xs))->corr));
            }
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) {
                __m256 dx = _mm256_set1_ps(((const xq32 *)(xu + t * xs))->d);
                a[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dw, dx), a[t]);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            sums_store(y + t * ldy + 8 * h, n, a[t]);
    }
}

GEMM_SMALL_FN(gemm_il_q8_0, gemm_il_shape, TLM_DT_Q8_0, NB_SMALL)
GEMM_SMALL_FN(gemm_il_q4_0, gemm_il_shape, TLM_DT_Q4_0, NB_SMALL)

/* Q6_K small batches from interleaved groups: gemv_units' Q6_K arithmetic (pairs of
 * vpmaddubsw in int16, widened by the scale), half by half as gemm_il_shape, with up to
 * NB_SMALL_K6 tokens' sums per pair of level vectors. Two sums per token live through a unit
 * (the scaled integer sum and the running float sum), so the ql / qh vectors are loaded
 * again (from L1) for each level and the scales where they are used. */
enum { NB_SMALL_K6 = 4 };

/* In unit gu of a K-quant group (kernels.h), half h: dword kk of the 16 bytes at block byte o
 * (a multiple of 16) of rows 8h .. 8h + 7. */
TLM_INLINE __m256i k6_il(const char *gu, int h, int o, int kk)
{
    return _mm256_loadu_si256((const __m256i *)(gu + 64 * (o / 4 + kk) + 32 * h));
}

/* k6_level of sub-block part (h6, p), group grp, dword kk, straight from the group. */
TLM_INLINE __m256i k6_il_level(const char *gu, int h, int h6, int p, int grp, int kk)
{
    const __m256i ql = k6_il(gu, h, 64 * h6 + 32 * (grp % 2) + 16 * p, kk);
    return k6_level(ql, ql, k6_il(gu, h, 128 + 32 * h6 + 16 * p, kk), grp);
}

TLM_INLINE void gemm_k6_shape(int type, int nt, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *grp_w, uint64_t w_row_bytes, int64_t u0, int64_t n_units,
                              const char *xq, int64_t xs, const char *next)
{
    const int64_t ub = TLM_QROWS * (int64_t)sizeof(block_q6_K);
    /* the next group's lines in the first half's pass, a line or two a step (16 a unit) */
    tlm_qprefetch pf = tlm_qprefetch_init(next ? next + u0 * ub : NULL, n_units * ub, n_units * 16);
    for (int h = 0; h < 2 && 8 * h < rows; h++) {
        const int n = rows - 8 * h;
        __m256 acc[NB_SMALL_K6];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            acc[t] = sums_load(y + t * ldy + 8 * h, n, accumulate);
        for (int64_t u = 0; u < n_units; u++) {
            const char *gu = grp_w + (u0 + u) * ub, *xt[NB_SMALL_K6];
            /* one address register per token (see the VNNI file's gemm_k6_shape) */
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                xt[t] = xq + t * xs + u * (int64_t)sizeof(xq256);
                __asm__("" : "+r"(xt[t]));
            }
            __m256i isum[NB_SMALL_K6];
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
            for (int h6 = 0; h6 < 2; h6++)
#pragma GCC unroll 2
                for (int p = 0; p < 2; p++)
#pragma GCC unroll 4
                    for (int grp = 0; grp < 4; grp++) {
                        const int sb = 8 * h6 + 2 * grp + p;
                        if (h == 0) tlm_qprefetch_step(&pf);
                        const __m256i scs =
                            sext_u16x2(byte_u16x2(k6_il(gu, h, 192, sb / 4), sb % 4));
#pragma GCC unroll 2
                        for (int k0 = 0; k0 < 4; k0 += 2) {
                            const __m256i l0 = k6_il_level(gu, h, h6, p, grp, k0);
                            const __m256i l1 = k6_il_level(gu, h, h6, p, grp, k0 + 1);
#pragma GCC unroll 4
                            for (int t = 0; t < nt; t++) {
                                const char *xk = xt[t] + 16 * sb + 4 * k0;
                                __m256i s16 =
                                    _mm256_add_epi16(_mm256_maddubs_epi16(l0, bcast32(xk)),
                                                     _mm256_maddubs_epi16(l1, bcast32(xk + 4)));
                                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16, scs));
                                isum[t] = vi_chain(isum[t]);
                            }
                        }
                    }
            __m256i csum[NB_SMALL_K6];
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                csum[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                const __m256i pair = sext_u16x2(bytes_u16x2(k6_il(gu, h, 192, i / 2), i % 2));
#pragma GCC unroll 4
                for (int t = 0; t < nt; t++)
                    csum[t] = _mm256_add_epi32(
                        csum[t],
                        _mm256_madd_epi16(pair, bcast32(((const xq256 *)xt[t])->s16 + 2 * i)));
            }
            /* the 16 d follow the block's 52 dwords */
            const __m256 d =
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gu + 64 * 52 + 16 * h)));
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                __m256i v = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(csum[t], 5));
                __m256 dx = _mm256_set1_ps(((const xq256 *)xt[t])->d);
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_mul_ps(d, dx), acc[t]);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            sums_store(y + t * ldy + 8 * h, n, acc[t]);
    }
}

GEMM_SMALL_FN(gemm_il_q6_K, gemm_k6_shape, TLM_DT_Q6_K, NB_SMALL_K6)
#define GEMM_IL_K6 /* qmatmul_slots.h: the il Q6_K ops get gemm_il_q6_K */

/* Q4_K and Q5_K small batches from interleaved groups: gemv_units' arithmetic (vpmaddubsw
 * in int16: 8 of Q4_K's, 4 of Q5_K's at a time, widened by the sub-block scale; the mins by
 * vpmaddwd; two multiply-adds per unit), half by half, one sub-block at a time with up to
 * NB_SMALL_K tokens' sums per level vector. */
enum { NB_SMALL_K = 4 };

TLM_INLINE void gemm_ka_shape(int type, int nt, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *grp_w, uint64_t w_row_bytes, int64_t u0, int64_t n_units,
                              const char *xq, int64_t xs, const char *next)
{
    const bool five = type == TLM_DT_Q5_K;
    const int64_t ub = TLM_QROWS * (int64_t)(five ? sizeof(block_q5_K) : sizeof(block_q4_K));
    const int qs_at = five ? 48 : 16;
    /* as gemm_k6_shape's, 8 steps a unit */
    tlm_qprefetch pf = tlm_qprefetch_init(next ? next + u0 * ub : NULL, n_units * ub, n_units * 8);
    for (int h = 0; h < 2 && 8 * h < rows; h++) {
        const int n = rows - 8 * h;
        __m256 acc[NB_SMALL_K];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            acc[t] = sums_load(y + t * ldy + 8 * h, n, accumulate);
        for (int64_t u = 0; u < n_units; u++) {
            const char *gu = grp_w + (u0 + u) * ub, *xt[NB_SMALL_K];
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) { /* see the VNNI file's gemm_k6_shape */
                xt[t] = xq + t * xs + u * (int64_t)sizeof(xq256);
                __asm__("" : "+r"(xt[t]));
            }
            ka_head hd; /* ka_header from the group's own dwords 0..3 */
            {
                __m256i hv[4];
#pragma GCC unroll 4
                for (int kk = 0; kk < 4; kk++)
                    hv[kk] = k6_il(gu, h, 0, kk);
                hd.d = f16_low(hv[0]);
                hd.ndmin = _mm256_xor_ps(f16_high(hv[0]), _mm256_set1_ps(-0.0f));
                const __m256i m6 = bytes(0x3f), hi2 = bytes(0x30);
                hd.sc03 = _mm256_and_si256(hv[1], m6);
                hd.m03 = _mm256_and_si256(hv[2], m6);
                hd.sc47 = _mm256_or_si256(low4(hv[3]),
                                          _mm256_and_si256(_mm256_srli_epi32(hv[1], 2), hi2));
                hd.m47 = _mm256_or_si256(high4(hv[3]),
                                         _mm256_and_si256(_mm256_srli_epi32(hv[2], 2), hi2));
            }
            __m256i isum[NB_SMALL_K];
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
#pragma GCC unroll 2
                for (int sh = 0; sh < 2; sh++) { /* sub-block 2j + sh: low or high nibbles */
                    if (h == 0) tlm_qprefetch_step(&pf);
                    const __m256i sc = ka_scale(&hd, 2 * j + sh);
                    __m256i s16[NB_SMALL_K];
#pragma GCC unroll 4
                    for (int t = 0; t < nt; t++)
                        s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
                    for (int half = 0; half < 2; half++) {
#pragma GCC unroll 4
                        for (int kk = 0; kk < 4; kk++) {
                            const __m256i q = k6_il(gu, h, qs_at + 32 * j + 16 * half, kk);
                            __m256i lv = sh ? high4(q) : low4(q);
                            if (five)
                                lv = _mm256_or_si256(
                                    lv, bit4(k6_il(gu, h, 16 + 16 * half, kk), 2 * j + sh));
#pragma GCC unroll 4
                            for (int t = 0; t < nt; t++) {
                                const char *xk = xt[t] + 64 * j + 32 * sh + 16 * half + 4 * kk;
                                s16[t] =
                                    _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lv, bcast32(xk)));
                                s16[t] = vi_chain(s16[t]);
                            }
                        }
                        if (five || half == 1) { /* Q5_K: int16 holds 4 products' pairs */
#pragma GCC unroll 4
                            for (int t = 0; t < nt; t++) {
                                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], sc));
                                isum[t] = vi_chain(isum[t]);
                                s16[t] = _mm256_setzero_si256();
                            }
                        }
                    }
                }
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                __m256i msum = _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
                    msum = _mm256_add_epi32(
                        msum, _mm256_madd_epi16(ka_mins(&hd, i),
                                                bcast32(((const xq256 *)xt[t])->s32 + 2 * i)));
                __m256 dx = _mm256_set1_ps(((const xq256 *)xt[t])->d);
                acc[t] =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(hd.d, dx), acc[t]);
                acc[t] =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(hd.ndmin, dx), acc[t]);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            sums_store(y + t * ldy + 8 * h, n, acc[t]);
    }
}

GEMM_SMALL_FN(gemm_il_q4_K, gemm_ka_shape, TLM_DT_Q4_K, NB_SMALL_K)
GEMM_SMALL_FN(gemm_il_q5_K, gemm_ka_shape, TLM_DT_Q5_K, NB_SMALL_K)
#define GEMM_IL_KA /* qmatmul_slots.h: the il Q4_K / Q5_K ops get gemm_il_q4_K / _q5_K */

#define TILE_SHAPE_Q8_0 tile_q8_0_shape
#define TILE_SHAPE_Q4_0 tile_q4_0_shape
#define TILE_SHAPE_Q4_K tile_q4_K_shape
#define TILE_SHAPE_Q5_K tile_q5_K_shape
#define TILE_SHAPE_Q6_K tile_k6_shape
#include "qmatmul_slots.h"
