/* qmatmul_avx512vnni.c - AVX-512 VNNI kernels of the quantized matmuls (Q8_0, Q4_0, Q4_K,
 * Q5_K, Q6_K): activation quantizers, weight packing and register tiles for the loop nest of
 * qmatmul_blocked.c, which describes the packed layout and the summation order.
 *
 * vpdpbusd multiplies unsigned bytes (the packed weight levels) by signed bytes (4 broadcast
 * activation bytes) and adds each group of 4 into a dword lane: 64 products per instruction,
 * exact in int32. Levels are made unsigned when packing, and the offset is taken back out
 * with the activation sums, which the quantizers store beside each block:
 *   Q8_0  levels w + 128: subtract 128 * sum(q) (the accumulator starts there)
 *   Q4_0  levels 0..15:   subtract 8 * sum(q)
 *   Q4_K, Q5_K  levels 0..15 / 0..31; the mins give sum_s m_s * sum_s(q), by vpdpwssd on
 *         16-bit pairs (m_2i, m_2i+1) x (sum_2i, sum_2i+1)
 *   Q6_K  levels 0..63: subtract 32 * sum_s sc_s * sum_s(q), also by vpdpwssd
 * The K-quants' sub-block scales multiply the int32 sub-block sums (vpmulld); each unit ends
 * in one float multiply-add per scale: acc += float(isum) * (dw * d).
 *
 * Weights reach the lanes by transposing 16-byte pieces of 16 rows (load16x4: 16 loads into
 * 128-bit slots, then a 4 x 4 dword transpose per slot); the shuffle pipes that does this
 * are the limit of decode, so every piece is loaded once per unit, scales included.
 *
 * Prefill (n_tok > 1): units are packed once per token block, then tiles of 16 rows by up to
 * NR tokens run over them; every weight vector loaded from the packed (L1) buffer serves NR
 * tokens, and every activation broadcast is a memory operand.
 * Decode (n_tok == 1): gemv does the same arithmetic straight from the weights, one row group
 * at a time, while prefetching the next group's rows into L2 (a single sequential stream,
 * which memory serves much faster than 16 interleaved row streams).
 * Row-interleaved weights (kernels.h, il: Q8_0 and Q4_0 rewritten at load) skip the
 * transposes: a unit is 4 or 8 plain vector loads and one scale load, so decode is left
 * with nothing but the stream of weights; the sums are the same, so are the bits.
 * Small batches (2 .. 16 tokens, several sequences' decode) on such weights: gemm loads each
 * level vector of a group once and feeds it to up to 8 tokens' sums held in registers, so
 * the weights still stream once (twice from L1 for 9 .. 16 tokens) with no packing; the
 * K-quants' interleaved groups the same way (Q4_K, Q5_K and Q6_K: 8 tokens a pass). */
#include <string.h>

#include "simd_avx512.h"

#define QX_Q8_OFFSET 128
#define QMATMUL_FN(name) name##_avx512vnni
#include "qmatmul_simd.h"

enum { NR = 6 }; /* tokens per tile */

/* ---- loading weights: 16 rows, one per dword lane ----------------------------------------- */

/* v[j] = the 16 bytes at off of rows j, 4 + j, 8 + j, 12 + j in its 128-bit slots. For a full
 * group the address is hidden from the optimiser once per call, so that it forms the 16 row
 * addresses from 4 pointers and the strides instead of keeping 16 (more than x86 has). */
TLM_INLINE void load_quads(__m512i v[4], const group *g, bool full, int64_t off)
{
    const char *b = g->base + off;
    if (full) __asm__("" : "+r"(b));
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const char *bj = b + (uint64_t)j * g->rb;
        const char *p[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            p[c] = full ? bj + (uint64_t)c * g->r4 : g->row[4 * c + j] + off;
        v[j] = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p[0]));
        v[j] = _mm512_inserti32x4(v[j], _mm_loadu_si128((const __m128i *)p[1]), 1);
        v[j] = _mm512_inserti32x4(v[j], _mm_loadu_si128((const __m128i *)p[2]), 2);
        v[j] = _mm512_inserti32x4(v[j], _mm_loadu_si128((const __m128i *)p[3]), 3);
    }
}

/* t[kk] lane r = dword kk of the 16 bytes at row r + off, kk < 4: 16 loads into 128-bit
 * slots, then a 4 x 4 dword transpose inside each slot. */
TLM_INLINE void load16x4(__m512i t[4], const group *g, bool full, int64_t off)
{
    if (g->il) { /* already in lanes */
#pragma GCC unroll 4
        for (int kk = 0; kk < 4; kk++)
            t[kk] = _mm512_loadu_si512(il_at(g, off) + 64 * kk);
        return;
    }
    __m512i v[4];
    load_quads(v, g, full, off);
    __m512i a0 = _mm512_unpacklo_epi32(v[0], v[1]), a1 = _mm512_unpackhi_epi32(v[0], v[1]);
    __m512i a2 = _mm512_unpacklo_epi32(v[2], v[3]), a3 = _mm512_unpackhi_epi32(v[2], v[3]);
    t[0] = _mm512_unpacklo_epi64(a0, a2);
    t[1] = _mm512_unpackhi_epi64(a0, a2);
    t[2] = _mm512_unpacklo_epi64(a1, a3);
    t[3] = _mm512_unpackhi_epi64(a1, a3);
}

/* Lane r: dword kk of the 16 bytes at row r + off (a quarter of load16x4's shuffles). */
TLM_INLINE __m512i load16x1(const group *g, bool full, int64_t off, int kk)
{
    if (g->il) return _mm512_loadu_si512(il_at(g, off) + 64 * kk);
    __m512i v[4];
    load_quads(v, g, full, off);
    __m512i a = kk < 2 ? _mm512_unpacklo_epi32(v[0], v[1]) : _mm512_unpackhi_epi32(v[0], v[1]);
    __m512i b = kk < 2 ? _mm512_unpacklo_epi32(v[2], v[3]) : _mm512_unpackhi_epi32(v[2], v[3]);
    return kk % 2 ? _mm512_unpackhi_epi64(a, b) : _mm512_unpacklo_epi64(a, b);
}

/* The low (high) 16 bits of each lane, an f16, widened to float. */
TLM_INLINE __m512 f16_low(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }
TLM_INLINE __m512 f16_high(__m512i v) { return f16_low(_mm512_srli_epi32(v, 16)); }

TLM_INLINE void store(void *p, __m512i v) { _mm512_store_si512(p, v); }
TLM_INLINE __m512i bytes(int b) { return _mm512_set1_epi8((char)b); }
TLM_INLINE __m512i low4(__m512i v) { return _mm512_and_si512(v, bytes(0x0f)); }
TLM_INLINE __m512i high4(__m512i v) { return low4(_mm512_srli_epi32(v, 4)); }

/* Byte b (0..3) of each dword, zero-extended (pshufb: index 0x80 gives 0). */
TLM_INLINE __m512i byte_u32(__m512i v, int b)
{
    const int z = (int)(0x80808000u + (unsigned)b);
    return _mm512_shuffle_epi8(v, _mm512_set4_epi32(z + 12, z + 8, z + 4, z));
}

/* Bytes 2p, 2p + 1 of each dword as the two 16-bit halves, zero-extended (p = 0, 1). */
TLM_INLINE __m512i bytes_u16x2(__m512i v, int p)
{
    const int z = (int)(0x80008000u + (unsigned)(2 * p) + ((unsigned)(2 * p + 1) << 16));
    return _mm512_shuffle_epi8(v, _mm512_set4_epi32(z + 0x0c000c, z + 0x080008, z + 0x040004, z));
}

/* Q8_0 and Q4_0 unit at off: 8 vectors of unsigned levels (elements 4kk .. 4kk + 3) and the
 * 16 scales. The scale is read as the low half of the block's first dword. */
TLM_INLINE void unit_q8_0(__m512i w[8], __m512 *dw, const group *g, bool full, int64_t off)
{
    __m512i t[4];
#pragma GCC unroll 16
    for (int half = 0; half < 2; half++) {
        load16x4(t, g, full, off + 2 + 16 * half);
#pragma GCC unroll 16
        for (int kk = 0; kk < 4; kk++)
            w[4 * half + kk] = _mm512_xor_si512(t[kk], bytes(0x80));
    }
    *dw = f16_low(load16x1(g, full, off, 0));
}

TLM_INLINE void unit_q4_0(__m512i w[8], __m512 *dw, const group *g, bool full, int64_t off)
{
    __m512i t[4];
    load16x4(t, g, full, off + 2);
#pragma GCC unroll 16
    for (int kk = 0; kk < 4; kk++) {
        w[kk] = low4(t[kk]);      /* elements 4kk .. 4kk + 3 */
        w[4 + kk] = high4(t[kk]); /* elements 16 + 4kk .. */
    }
    *dw = f16_low(load16x1(g, full, off, 0));
}

/* The 16 header bytes of a Q4_K / Q5_K block: d, dmin, then 12 bytes of 6-bit scales and
 * mins (quant_unpack.h: k4_scale_min), per lane: bytes s of sc03 / m03 are sub-block s's
 * scale / min for s < 4, of sc47 / m47 for s >= 4. */
typedef struct ka_head {
    __m512 d, ndmin; /* d and -dmin */
    __m512i sc03, sc47, m03, m47;
} ka_head;

/* From the header's dwords h[0..3] (load16x4 of its 16 bytes). */
TLM_INLINE void ka_header_from(ka_head *o, const __m512i h[4])
{
    o->d = f16_low(h[0]);
    o->ndmin = _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(f16_high(h[0])), _mm512_set1_epi32(INT32_MIN)));
    const __m512i m6 = bytes(0x3f), hi2 = bytes(0x30);
    o->sc03 = _mm512_and_si512(h[1], m6);
    o->m03 = _mm512_and_si512(h[2], m6);
    o->sc47 = _mm512_or_si512(low4(h[3]), _mm512_and_si512(_mm512_srli_epi32(h[1], 2), hi2));
    o->m47 = _mm512_or_si512(high4(h[3]), _mm512_and_si512(_mm512_srli_epi32(h[2], 2), hi2));
}

TLM_INLINE void ka_header(ka_head *o, const group *g, bool full, int64_t off)
{
    __m512i h[4];
    load16x4(h, g, full, off);
    ka_header_from(o, h);
}

/* Sub-block s's scale (int32 lanes), and the mins of sub-blocks 2i, 2i + 1 as 16-bit pairs. */
TLM_INLINE __m512i ka_scale(const ka_head *h, int s)
{
    return byte_u32(s < 4 ? h->sc03 : h->sc47, s % 4);
}
TLM_INLINE __m512i ka_mins(const ka_head *h, int i)
{
    return bytes_u16x2(i < 2 ? h->m03 : h->m47, i % 2);
}

/* Bit s of each byte of v moved to bit 4 (other bits: garbage from the same byte). */
TLM_INLINE __m512i bit_to_4(__m512i v, int s)
{
    return s <= 4 ? _mm512_slli_epi32(v, 4 - s) : _mm512_srli_epi32(v, s - 4);
}

/* Q4_K / Q5_K chunk j (32 bytes of qs at off + qs_off + 32j): sub-block 2j (lo) and 2j + 1
 * (hi), 8 level vectors each; qh (Q5_K only) is load16x4 of qh bytes 0..15 and 16..31. */
TLM_INLINE void ka_chunk(__m512i lo[8], __m512i hi[8], const group *g, bool full, int64_t qs_at,
                         const __m512i qh[2][4], bool five, int j)
{
#pragma GCC unroll 16
    for (int half = 0; half < 2; half++) {
        __m512i t[4];
        load16x4(t, g, full, qs_at + 32 * j + 16 * half);
#pragma GCC unroll 16
        for (int kk = 0; kk < 4; kk++) {
            lo[4 * half + kk] = low4(t[kk]);
            hi[4 * half + kk] = high4(t[kk]);
            if (five) { /* level | fifth bit: A | (B & 0x10) is ternary-logic function 0xf8 */
                lo[4 * half + kk] = _mm512_ternarylogic_epi32(
                    lo[4 * half + kk], bit_to_4(qh[half][kk], 2 * j), bytes(0x10), 0xf8);
                hi[4 * half + kk] = _mm512_ternarylogic_epi32(
                    hi[4 * half + kk], bit_to_4(qh[half][kk], 2 * j + 1), bytes(0x10), 0xf8);
            }
        }
    }
}

/* low 4 bits from `lo`, bits 4 and 5 from `hi` (already masked to 0x30): C ? A : B = 0xe4 */
TLM_INLINE __m512i q6_join(__m512i lo, __m512i hi)
{
    return _mm512_ternarylogic_epi32(lo, hi, bytes(0x0f), 0xe4);
}

/* Q6_K, half h (128 elements), elements l with l % 32 in [16p, 16p + 16): w[grp][kk] holds
 * sub-block 8h + 2 grp + p (element 128h + 32 grp + 16p + 4kk + i). */
TLM_INLINE void k6_chunk(__m512i w[4][4], const group *g, bool full, int64_t off, int h, int p)
{
    const __m512i m2 = bytes(0x30);
    __m512i a[4], b[4], c[4];
    load16x4(a, g, full, off + 64 * h + 16 * p);       /* ql: groups 0 (low), 2 (high) */
    load16x4(b, g, full, off + 64 * h + 32 + 16 * p);  /* ql: groups 1 (low), 3 (high) */
    load16x4(c, g, full, off + 128 + 32 * h + 16 * p); /* qh: 2 bits per group */
#pragma GCC unroll 16
    for (int kk = 0; kk < 4; kk++) {
        w[0][kk] = q6_join(a[kk], _mm512_and_si512(_mm512_slli_epi32(c[kk], 4), m2));
        w[1][kk] = q6_join(b[kk], _mm512_and_si512(_mm512_slli_epi32(c[kk], 2), m2));
        w[2][kk] = q6_join(_mm512_srli_epi32(a[kk], 4), _mm512_and_si512(c[kk], m2));
        w[3][kk] =
            q6_join(_mm512_srli_epi32(b[kk], 4), _mm512_and_si512(_mm512_srli_epi32(c[kk], 2), m2));
    }
}

/* Q6_K scales: sc[kk] bytes are scales 4kk .. 4kk + 3; d is the block's last 2 bytes (the high
 * half of the last dword of the 16 bytes at 194, which end with the block). */
TLM_INLINE __m512 k6_d(const group *g, bool full, int64_t off)
{
    if (g->il) /* the 16 d follow the block's 52 dwords */
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(il_at(g, off) + 64 * 52)));
    return f16_high(load16x1(g, full, off + 194, 3));
}

TLM_INLINE void k6_header(__m512i sc[4], __m512 *d, const group *g, bool full, int64_t off)
{
    load16x4(sc, g, full, off + 192);
    *d = k6_d(g, full, off);
}

/* Scale s sign-extended (v: scales 4(s / 4) .. + 3); scales 2i, 2i + 1 as signed 16-bit
 * pairs (v: scales 4(i / 2) .. + 3). */
TLM_INLINE __m512i k6_scale_in(__m512i v, int s)
{
    return _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * (s % 4)), 24);
}
TLM_INLINE __m512i k6_pair_in(__m512i v, int i)
{
    return _mm512_srai_epi16(_mm512_slli_epi16(bytes_u16x2(v, i % 2), 8), 8);
}
TLM_INLINE __m512i k6_scale(const __m512i sc[4], int s) { return k6_scale_in(sc[s / 4], s); }
TLM_INLINE __m512i k6_pair(const __m512i sc[4], int i) { return k6_pair_in(sc[i / 2], i); }

/* ---- packing (prefill): the loaded vectors stored for the tiles --------------------------- */

/* Q8_0 and Q4_0 pack to 8 vectors of levels then the 16 scales as float. */

TLM_INLINE void pack_units(int type, bool full, char *o, const group *g, int64_t u0,
                           int64_t n_units)
{
    for (int64_t u = u0; u < u0 + n_units; u++) {
        if (type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0) {
            __m512i w[8];
            __m512 dw;
            if (type == TLM_DT_Q8_0)
                unit_q8_0(w, &dw, g, full, u * (int64_t)sizeof(block_q8_0));
            else
                unit_q4_0(w, &dw, g, full, u * (int64_t)sizeof(block_q4_0));
#pragma GCC unroll 16
            for (int kk = 0; kk < 8; kk++)
                store(o + 64 * kk, w[kk]);
            _mm512_store_ps(o + 512, dw);
            o += PACK32;
        } else if (type == TLM_DT_Q4_K || type == TLM_DT_Q5_K) {
            const bool five = type == TLM_DT_Q5_K;
            const int64_t off = u * (int64_t)(five ? sizeof(block_q5_K) : sizeof(block_q4_K));
            ka_head h;
            ka_header(&h, g, full, off);
            _mm512_store_ps(o + KA_D, h.d);
            _mm512_store_ps(o + KA_NDMIN, h.ndmin);
#pragma GCC unroll 16
            for (int s = 0; s < 8; s++)
                store(o + KA_SC + 64 * s, ka_scale(&h, s));
#pragma GCC unroll 16
            for (int i = 0; i < 4; i++)
                store(o + KA_M + 64 * i, ka_mins(&h, i));
            __m512i qh[2][4];
            if (five) {
                load16x4(qh[0], g, full, off + 16);
                load16x4(qh[1], g, full, off + 32);
            }
#pragma GCC unroll 16
            for (int j = 0; j < 4; j++) {
                __m512i lo[8], hi[8];
                ka_chunk(lo, hi, g, full, off + (five ? 48 : 16), qh, five, j);
#pragma GCC unroll 16
                for (int kk = 0; kk < 8; kk++) {
                    store(o + 64 * (8 * (2 * j) + kk), lo[kk]);
                    store(o + 64 * (8 * (2 * j + 1) + kk), hi[kk]);
                }
            }
            o += PACK_KA;
        } else {
            const int64_t off = u * (int64_t)sizeof(block_q6_K);
#pragma GCC unroll 16
            for (int h = 0; h < 2; h++)
#pragma GCC unroll 16
                for (int p = 0; p < 2; p++) {
                    __m512i w[4][4];
                    k6_chunk(w, g, full, off, h, p);
#pragma GCC unroll 16
                    for (int grp = 0; grp < 4; grp++)
#pragma GCC unroll 16
                        for (int kk = 0; kk < 4; kk++)
                            store(o + 64 * (4 * (8 * h + 2 * grp + p) + kk), w[grp][kk]);
                }
            __m512i sc[4];
            __m512 d;
            k6_header(sc, &d, g, full, off);
#pragma GCC unroll 16
            for (int s = 0; s < 16; s++)
                store(o + K6_SC + 64 * s, k6_scale(sc, s));
#pragma GCC unroll 16
            for (int i = 0; i < 8; i++)
                store(o + K6_SCP + 64 * i, k6_pair(sc, i));
            _mm512_store_ps(o + K6_D, d);
            o += PACK_K6;
        }
    }
}

/* ---- register tiles ---------------------------------------------------------------------- */

TLM_INLINE __m512i bcast32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

TLM_INLINE __m512i load_i(const char *p) { return _mm512_load_si512(p); }

/* acc + w . (the 4 signed bytes at p, broadcast): vpdpbusd with an embedded-broadcast memory
 * operand (GCC 12 loads the broadcast into a register first otherwise). */
TLM_INLINE __m512i dpbusd_bcast(__m512i acc, __m512i w, const void *p)
{
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)p));
    return acc;
}

/* The running sums of a tile: lanes r < rows of y[t * ldy, + 16), or zeros. */
TLM_INLINE __m512 sums_load(const float *y, int rows, bool accumulate)
{
    return accumulate ? _mm512_maskz_loadu_ps(mask16(rows), y) : _mm512_setzero_ps();
}

TLM_INLINE void sums_store(float *y, int rows, __m512 v)
{
    _mm512_mask_storeu_ps(y, mask16(rows), v);
}

/* Q8_0 and Q4_0: per unit, 8 vpdpbusd from the offset correction, then one multiply-add. */
TLM_INLINE void tile32_shape(int nr, float *y, int64_t ldy, int rows, bool accumulate,
                             const char *p, int64_t n_units, const char *xq, int64_t xs)
{
    __m512 a[NR];
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
        a[t] = sums_load(y + t * ldy, rows, accumulate);
    for (int64_t u = 0; u < n_units; u++, p += PACK32) {
        const char *xu = xq + u * (int64_t)sizeof(xq32);
        __m512i s[NR];
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            s[t] = bcast32(&((const xq32 *)(xu + t * xs))->corr);
#pragma GCC unroll 8
        for (int kk = 0; kk < 8; kk++) {
            __m512i wv = load_i(p + 64 * kk);
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                s[t] = dpbusd_bcast(s[t], wv, xu + t * xs + 4 * kk);
        }
        __m512 dw = _mm512_load_ps(p + 512);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++) {
            __m512 dx = _mm512_set1_ps(((const xq32 *)(xu + t * xs))->d);
            a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dw, dx), a[t]);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
        sums_store(y + t * ldy, rows, a[t]);
}

/* Q4_K and Q5_K: 8 sub-blocks of 32 (8 vpdpbusd, times the scale), the mins by vpdpwssd. */
TLM_INLINE void tile_ka_shape(int nr, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *p, int64_t n_units, const char *xq, int64_t xs)
{
    __m512 a[NR];
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
        a[t] = sums_load(y + t * ldy, rows, accumulate);
    for (int64_t u = 0; u < n_units; u++, p += PACK_KA) {
        const char *xu = xq + u * (int64_t)sizeof(xq256);
        __m512i isum[NR], msum[NR];
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            isum[t] = msum[t] = _mm512_setzero_si512();
        for (int s = 0; s < 8; s++) {
            __m512i is[NR];
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                is[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int kk = 0; kk < 8; kk++) {
                __m512i wv = load_i(p + 64 * (8 * s + kk));
#pragma GCC unroll 16
                for (int t = 0; t < nr; t++)
                    is[t] = dpbusd_bcast(is[t], wv, xu + t * xs + 32 * s + 4 * kk);
            }
            __m512i sc = load_i(p + KA_SC + 64 * s);
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(is[t], sc));
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m512i m = load_i(p + KA_M + 64 * i);
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                msum[t] = _mm512_dpwssd_epi32(msum[t], m,
                                              bcast32(((const xq256 *)(xu + t * xs))->s32 + 2 * i));
        }
        __m512 dv = _mm512_load_ps(p + KA_D), ndmin = _mm512_load_ps(p + KA_NDMIN);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++) {
            __m512 dx = _mm512_set1_ps(((const xq256 *)(xu + t * xs))->d);
            a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dv, dx), a[t]);
            a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum[t]), _mm512_mul_ps(ndmin, dx), a[t]);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
        sums_store(y + t * ldy, rows, a[t]);
}

/* Q6_K: 16 sub-blocks of 16 (4 vpdpbusd, times the scale), minus 32 sum_s sc_s sum_s(q). */
TLM_INLINE void tile_k6_shape(int nr, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *p, int64_t n_units, const char *xq, int64_t xs)
{
    __m512 a[NR];
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
        a[t] = sums_load(y + t * ldy, rows, accumulate);
    for (int64_t u = 0; u < n_units; u++, p += PACK_K6) {
        const char *xu = xq + u * (int64_t)sizeof(xq256);
        __m512i isum[NR], csum[NR];
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            isum[t] = csum[t] = _mm512_setzero_si512();
        for (int s = 0; s < 16; s++) {
            __m512i is[NR];
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                is[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int kk = 0; kk < 4; kk++) {
                __m512i wv = load_i(p + 64 * (4 * s + kk));
#pragma GCC unroll 16
                for (int t = 0; t < nr; t++)
                    is[t] = dpbusd_bcast(is[t], wv, xu + t * xs + 16 * s + 4 * kk);
            }
            __m512i sc = load_i(p + K6_SC + 64 * s);
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(is[t], sc));
        }
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            __m512i scp = load_i(p + K6_SCP + 64 * i);
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                csum[t] = _mm512_dpwssd_epi32(csum[t], scp,
                                              bcast32(((const xq256 *)(xu + t * xs))->s16 + 2 * i));
        }
        __m512 dv = _mm512_load_ps(p + K6_D);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++) {
            __m512 dx = _mm512_set1_ps(((const xq256 *)(xu + t * xs))->d);
            __m512i v = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(csum[t], 5));
            a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(dv, dx), a[t]);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
        sums_store(y + t * ldy, rows, a[t]);
}

/* ---- decode: one token straight from the weights ------------------------------------- */

/* acc + the Q8_0 / Q4_0 unit w (8 level vectors, scales dw) . the token's block xb: two
 * chains of 4 vpdpbusd, added exactly. */
TLM_INLINE __m512 unit32_dot(const __m512i w[8], __m512 dw, const xq32 *xb, __m512 acc)
{
    __m512i s0 = bcast32(&xb->corr), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int kk = 0; kk < 8; kk += 2) {
        s0 = dpbusd_bcast(s0, w[kk], xb->q + 4 * kk);
        s1 = dpbusd_bcast(s1, w[kk + 1], xb->q + 4 * kk + 4);
    }
    __m512 dwx = _mm512_mul_ps(dw, _mm512_set1_ps(xb->d));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), dwx, acc);
}

TLM_INLINE void gemv_units(int type, bool full, float *y, int rows, bool accumulate, const group *g,
                           int64_t u0, int64_t n_units, const char *xq, const char *next)
{
    __m512 acc = sums_load(y, rows, accumulate);
    tlm_qprefetch pf = tlm_qprefetch_init(next, TLM_QROWS * (int64_t)g->rb, n_units);
    for (int64_t u = u0; u < u0 + n_units; u++) {
        tlm_qprefetch_step(&pf);
        if (type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0) {
            __m512i w[8];
            __m512 dw;
            if (type == TLM_DT_Q8_0)
                unit_q8_0(w, &dw, g, full, u * (int64_t)sizeof(block_q8_0));
            else
                unit_q4_0(w, &dw, g, full, u * (int64_t)sizeof(block_q4_0));
            acc = unit32_dot(w, dw, (const xq32 *)xq + (u - u0), acc);
        } else if (type == TLM_DT_Q4_K || type == TLM_DT_Q5_K) {
            const bool five = type == TLM_DT_Q5_K;
            const xq256 *xb = (const xq256 *)xq + (u - u0);
            const int64_t off = u * (int64_t)(five ? sizeof(block_q5_K) : sizeof(block_q4_K));
            const int64_t qs_at = off + (five ? 48 : 16);
            ka_head h;
            ka_header(&h, g, full, off);
            __m512i qh[2][4];
            if (five) {
                load16x4(qh[0], g, full, off + 16);
                load16x4(qh[1], g, full, off + 32);
            }
            __m512i isum = _mm512_setzero_si512(), msum = _mm512_setzero_si512();
            /* levels are made and used 4 vectors at a time, to stay within 32 registers */
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 2
                for (int half = 0; half < 2; half++) {
                    __m512i t[4];
                    load16x4(t, g, full, qs_at + 32 * j + 16 * half);
#pragma GCC unroll 4
                    for (int kk = 0; kk < 4; kk++) {
                        __m512i lo = low4(t[kk]), hi = high4(t[kk]);
                        if (five) {
                            lo = _mm512_ternarylogic_epi32(lo, bit_to_4(qh[half][kk], 2 * j),
                                                           bytes(0x10), 0xf8);
                            hi = _mm512_ternarylogic_epi32(hi, bit_to_4(qh[half][kk], 2 * j + 1),
                                                           bytes(0x10), 0xf8);
                        }
                        const int8_t *xk = xb->q + 64 * j + 16 * half + 4 * kk;
                        s0 = dpbusd_bcast(s0, lo, xk);
                        s1 = dpbusd_bcast(s1, hi, xk + 32);
                    }
                }
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s0, ka_scale(&h, 2 * j)));
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s1, ka_scale(&h, 2 * j + 1)));
            }
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                msum = _mm512_dpwssd_epi32(msum, ka_mins(&h, i), bcast32(xb->s32 + 2 * i));
            __m512 dx = _mm512_set1_ps(xb->d);
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(h.d, dx), acc);
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(h.ndmin, dx), acc);
        } else {
            const xq256 *xb = (const xq256 *)xq + (u - u0);
            const int64_t off = u * (int64_t)sizeof(block_q6_K);
            __m512i sc[4];
            __m512 d;
            k6_header(sc, &d, g, full, off);
            __m512i isum = _mm512_setzero_si512(), csum = _mm512_setzero_si512();
            const __m512i m2 = bytes(0x30);
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++)
#pragma GCC unroll 2
                for (int p = 0; p < 2; p++) {
                    __m512i a[4], b[4], c[4]; /* as k6_chunk, levels made one group at a time */
                    load16x4(a, g, full, off + 64 * h + 16 * p);
                    load16x4(b, g, full, off + 64 * h + 32 + 16 * p);
                    load16x4(c, g, full, off + 128 + 32 * h + 16 * p);
#pragma GCC unroll 4
                    for (int grp = 0; grp < 4; grp++) {
                        const int sb = 8 * h + 2 * grp + p;
                        __m512i s0 = _mm512_setzero_si512();
#pragma GCC unroll 4
                        for (int kk = 0; kk < 4; kk++) {
                            __m512i lo = grp % 2 ? b[kk] : a[kk];
                            if (grp >= 2) lo = _mm512_srli_epi32(lo, 4);
                            __m512i hi = grp == 0   ? _mm512_slli_epi32(c[kk], 4)
                                         : grp == 1 ? _mm512_slli_epi32(c[kk], 2)
                                         : grp == 2 ? c[kk]
                                                    : _mm512_srli_epi32(c[kk], 2);
                            __m512i w = q6_join(lo, _mm512_and_si512(hi, m2));
                            s0 = dpbusd_bcast(s0, w, xb->q + 16 * sb + 4 * kk);
                        }
                        isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s0, k6_scale(sc, sb)));
                    }
                }
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                csum = _mm512_dpwssd_epi32(csum, k6_pair(sc, i), bcast32(xb->s16 + 2 * i));
            __m512i v = _mm512_sub_epi32(isum, _mm512_slli_epi32(csum, 5));
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(d, _mm512_set1_ps(xb->d)),
                                  acc);
        }
    }
    sums_store(y, rows, acc);
}

/* ---- row-interleaved weights (kernels.h, il): the same units by plain loads ------------- */

/* Group unit at p (16 blocks' bytes): the 8 level vectors and scales of unit_q8_0 / unit_q4_0. */
TLM_INLINE void unit_il(int type, __m512i w[8], __m512 *dw, const char *p)
{
    *dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    p += 2 * TLM_QROWS;
    if (type == TLM_DT_Q8_0) {
#pragma GCC unroll 8
        for (int kk = 0; kk < 8; kk++)
            w[kk] = _mm512_xor_si512(_mm512_loadu_si512(p + 64 * kk), bytes(0x80));
    } else {
#pragma GCC unroll 4
        for (int kk = 0; kk < 4; kk++) {
            __m512i v = _mm512_loadu_si512(p + 64 * kk);
            w[kk] = low4(v);
            w[4 + kk] = high4(v);
        }
    }
}

TLM_INLINE int64_t unit_il_bytes(int type)
{
    return TLM_QROWS * (int64_t)(type == TLM_DT_Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0));
}

/* As gemv_units for Q8_0 / Q4_0, from a group: one sequential stream, the same sums. */
TLM_INLINE void gemv_il_units(int type, float *y, int rows, bool accumulate, const char *grp,
                              int64_t u0, int64_t n_units, const char *xq)
{
    __m512 acc = sums_load(y, rows, accumulate);
    const char *p = grp + u0 * unit_il_bytes(type);
    for (int64_t u = 0; u < n_units; u++, p += unit_il_bytes(type)) {
        __m512i w[8];
        __m512 dw;
        unit_il(type, w, &dw, p);
        acc = unit32_dot(w, dw, (const xq32 *)xq + u, acc);
    }
    sums_store(y, rows, acc);
}

/* Rows of a group past `rows` are real (every group is whole); they are computed, not stored. */
#define IL_FNS(suffix, type)                                                                       \
    static void gemv_il_##suffix(float *y, int rows, bool accumulate, const char *w,               \
                                 uint64_t w_row_bytes, int64_t u0, int64_t n_units,                \
                                 const char *xq, const char *next)                                 \
    {                                                                                              \
        gemv_il_units(type, y, rows, accumulate, w, u0, n_units, xq);                              \
    }                                                                                              \
    static void pack_il_##suffix(void *dst, const char *w, uint64_t w_row_bytes, int rows,         \
                                 int64_t u0, int64_t n_units)                                      \
    {                                                                                              \
        char *o = dst;                                                                             \
        for (int64_t u = u0; u < u0 + n_units; u++, o += PACK32) {                                 \
            __m512i wv[8];                                                                         \
            __m512 dw;                                                                             \
            unit_il(type, wv, &dw, w + u * unit_il_bytes(type));                                   \
            for (int kk = 0; kk < 8; kk++)                                                         \
                store(o + 64 * kk, wv[kk]);                                                        \
            _mm512_store_ps(o + 512, dw);                                                          \
        }                                                                                          \
    }

IL_FNS(q8_0, TLM_DT_Q8_0)
IL_FNS(q4_0, TLM_DT_Q4_0)

/* ---- small batches (2 .. NB_SMALL tokens) from interleaved groups ------------------------ */

enum { NB_SMALL = 8 }; /* 8 float sums + 8 int32 sums + 2 level vectors: within 32 registers */

/* Each level vector is loaded (and widened) once per unit and serves all nt tokens: the
 * arithmetic of tile32_shape on the group's own bytes, so the same sums as gemv and tiles. */
TLM_INLINE void gemm_il_shape(int type, int nt, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *grp, uint64_t w_row_bytes, int64_t u0, int64_t n_units,
                              const char *xq, int64_t xs, const char *next)
{
    const int64_t ub = unit_il_bytes(type);
    __m512 a[NB_SMALL];
#pragma GCC unroll 16
    for (int t = 0; t < nt; t++)
        a[t] = sums_load(y + t * ldy, rows, accumulate);
    const char *p = grp + u0 * ub;
    tlm_qprefetch pf = tlm_qprefetch_init(next ? next + u0 * ub : NULL, n_units * ub, n_units);
    for (int64_t u = 0; u < n_units; u++, p += ub) {
        tlm_qprefetch_step(&pf);
        const char *xu = xq + u * (int64_t)sizeof(xq32), *lv = p + 2 * TLM_QROWS;
        __m512i s[NB_SMALL];
#pragma GCC unroll 16
        for (int t = 0; t < nt; t++)
            s[t] = bcast32(&((const xq32 *)(xu + t * xs))->corr);
        if (type == TLM_DT_Q8_0) {
#pragma GCC unroll 8
            for (int kk = 0; kk < 8; kk++) {
                __m512i wv = _mm512_xor_si512(_mm512_loadu_si512(lv + 64 * kk), bytes(0x80));
#pragma GCC unroll 16
                for (int t = 0; t < nt; t++)
                    s[t] = dpbusd_bcast(s[t], wv, xu + t * xs + 4 * kk);
            }
        } else {
#pragma GCC unroll 4
            for (int kk = 0; kk < 4; kk++) {
                __m512i v = _mm512_loadu_si512(lv + 64 * kk), lo = low4(v), hi = high4(v);
#pragma GCC unroll 16
                for (int t = 0; t < nt; t++) {
                    s[t] = dpbusd_bcast(s[t], lo, xu + t * xs + 4 * kk);
                    s[t] = dpbusd_bcast(s[t], hi, xu + t * xs + 16 + 4 * kk);
                }
            }
        }
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
#pragma GCC unroll 16
        for (int t = 0; t < nt; t++) {
            __m512 dx = _mm512_set1_ps(((const xq32 *)(xu + t * xs))->d);
            a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dw, dx), a[t]);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < nt; t++)
        sums_store(y + t * ldy, rows, a[t]);
}

GEMM_SMALL_FN(gemm_il_q8_0, gemm_il_shape, TLM_DT_Q8_0, NB_SMALL)
GEMM_SMALL_FN(gemm_il_q4_0, gemm_il_shape, TLM_DT_Q4_0, NB_SMALL)

/* Q4_K and Q5_K small batches from interleaved groups: gemv_units' arithmetic with up to
 * NB_SMALL_K tokens' sums per level vector, one sub-block at a time: three sums per token
 * live (as gemm_k6_shape, whose k6_il loads it shares), so qs, qh and the header are loaded
 * again (from L1) where they are used. */
enum { NB_SMALL_K = 8 };

/* In unit gu of a K-quant group (16 blocks, kernels.h): dword kk of the 16 bytes at block
 * byte o (a multiple of 16) of every row, lane r = row r. */
TLM_INLINE __m512i k6_il(const char *gu, int o, int kk)
{
    return _mm512_loadu_si512(gu + 64 * (o / 4 + kk));
}

/* The header of the K-quant unit gu (its dwords 0..3), as ka_header. */
TLM_INLINE void ka_header_il(ka_head *o, const char *gu)
{
    __m512i hv[4];
#pragma GCC unroll 4
    for (int kk = 0; kk < 4; kk++)
        hv[kk] = k6_il(gu, 0, kk);
    ka_header_from(o, hv);
}

TLM_INLINE void gemm_ka_shape(int type, int nt, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *grp_w, uint64_t w_row_bytes, int64_t u0, int64_t n_units,
                              const char *xq, int64_t xs, const char *next)
{
    const bool five = type == TLM_DT_Q5_K;
    const int64_t ub = TLM_QROWS * (int64_t)(five ? sizeof(block_q5_K) : sizeof(block_q4_K));
    const int qs_at = five ? 48 : 16;
    __m512 acc[NB_SMALL_K];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        acc[t] = sums_load(y + t * ldy, rows, accumulate);
    tlm_qprefetch pf = tlm_qprefetch_init(next ? next + u0 * ub : NULL, n_units * ub, n_units);
    for (int64_t u = 0; u < n_units; u++) {
        tlm_qprefetch_step(&pf);
        const char *gu = grp_w + (u0 + u) * ub, *xt[NB_SMALL_K];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) { /* see gemm_k6_shape */
            xt[t] = xq + t * xs + u * (int64_t)sizeof(xq256);
            __asm__("" : "+r"(xt[t]));
        }
        __m512i isum[NB_SMALL_K];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
#pragma GCC unroll 2
            for (int sh = 0; sh < 2; sh++) { /* sub-block 2j + sh: low or high nibbles */
                __m512i s0[NB_SMALL_K];
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++)
                    s0[t] = _mm512_setzero_si512();
#pragma GCC unroll 2
                for (int half = 0; half < 2; half++)
#pragma GCC unroll 4
                    for (int kk = 0; kk < 4; kk++) {
                        const __m512i q = k6_il(gu, qs_at + 32 * j + 16 * half, kk);
                        __m512i lv = sh ? high4(q) : low4(q);
                        if (five) /* level | fifth bit: ternary-logic 0xf8, as ka_chunk */
                            lv = _mm512_ternarylogic_epi32(
                                lv, bit_to_4(k6_il(gu, 16 + 16 * half, kk), 2 * j + sh),
                                bytes(0x10), 0xf8);
#pragma GCC unroll 8
                        for (int t = 0; t < nt; t++)
                            s0[t] = dpbusd_bcast(s0[t], lv,
                                                 xt[t] + 64 * j + 32 * sh + 16 * half + 4 * kk);
                    }
                ka_head hs;
                ka_header_il(&hs, gu);
                const __m512i sc = ka_scale(&hs, 2 * j + sh);
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++) {
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s0[t], sc));
                    isum[t] = vi_chain(isum[t]);
                }
            }
        ka_head h;
        ka_header_il(&h, gu);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const xq256 *xb = (const xq256 *)xt[t];
            __m512i msum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                msum = _mm512_dpwssd_epi32(msum, ka_mins(&h, i), bcast32(xb->s32 + 2 * i));
            __m512 dx = _mm512_set1_ps(xb->d);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(h.d, dx), acc[t]);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(h.ndmin, dx), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        sums_store(y + t * ldy, rows, acc[t]);
}

GEMM_SMALL_FN(gemm_il_q4_K, gemm_ka_shape, TLM_DT_Q4_K, NB_SMALL_K)
GEMM_SMALL_FN(gemm_il_q5_K, gemm_ka_shape, TLM_DT_Q5_K, NB_SMALL_K)

/* Q6_K small batches from interleaved groups: gemv_units' Q6_K arithmetic with up to
 * NB_SMALL_K6 tokens' sums per level vector. Three sums per token live through a sub-block
 * (its dot product, the unit's scaled sum, the running float sum), 24 registers at 8 tokens,
 * so the ql / qh vectors a sub-block's levels come from are loaded again (from L1) for each
 * sub-block instead of held, and the scales are loaded where they are used. */
enum { NB_SMALL_K6 = 8 };

TLM_INLINE void gemm_k6_shape(int type, int nt, float *y, int64_t ldy, int rows, bool accumulate,
                              const char *grp_w, uint64_t w_row_bytes, int64_t u0, int64_t n_units,
                              const char *xq, int64_t xs, const char *next)
{
    const int64_t ub = TLM_QROWS * (int64_t)sizeof(block_q6_K);
    const __m512i m2 = bytes(0x30);
    __m512 acc[NB_SMALL_K6];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        acc[t] = sums_load(y + t * ldy, rows, accumulate);
    tlm_qprefetch pf = tlm_qprefetch_init(next ? next + u0 * ub : NULL, n_units * ub, n_units);
    for (int64_t u = 0; u < n_units; u++) {
        tlm_qprefetch_step(&pf);
        const char *gu = grp_w + (u0 + u) * ub, *xt[NB_SMALL_K6];
        /* one address register per token, hidden from the optimiser, which would otherwise
         * keep each of the unit's hundreds of activation addresses as its own (spilled)
         * induction variable */
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            xt[t] = xq + t * xs + u * (int64_t)sizeof(xq256);
            __asm__("" : "+r"(xt[t]));
        }
        __m512i isum[NB_SMALL_K6];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 2
            for (int p = 0; p < 2; p++)
#pragma GCC unroll 4
                for (int grp = 0; grp < 4; grp++) {
                    const int sb = 8 * h + 2 * grp + p; /* k6_chunk's w[grp] of half h, part p */
                    __m512i s0[NB_SMALL_K6];
#pragma GCC unroll 8
                    for (int t = 0; t < nt; t++)
                        s0[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
                    for (int kk = 0; kk < 4; kk++) {
                        __m512i lo = k6_il(gu, 64 * h + 32 * (grp % 2) + 16 * p, kk);
                        __m512i c = k6_il(gu, 128 + 32 * h + 16 * p, kk);
                        if (grp >= 2) lo = _mm512_srli_epi32(lo, 4);
                        __m512i hi = grp == 0   ? _mm512_slli_epi32(c, 4)
                                     : grp == 1 ? _mm512_slli_epi32(c, 2)
                                     : grp == 2 ? c
                                                : _mm512_srli_epi32(c, 2);
                        __m512i w = q6_join(lo, _mm512_and_si512(hi, m2));
#pragma GCC unroll 8
                        for (int t = 0; t < nt; t++)
                            s0[t] = dpbusd_bcast(s0[t], w, xt[t] + 16 * sb + 4 * kk);
                    }
                    const __m512i scale = k6_scale_in(k6_il(gu, 192, sb / 4), sb);
#pragma GCC unroll 8
                    for (int t = 0; t < nt; t++) {
                        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s0[t], scale));
                        /* kept a chain: reassociated into a tree, the sum would hold every
                         * sub-block's s0 at once (spilled) */
                        isum[t] = vi_chain(isum[t]);
                    }
                }
        __m512i csum[NB_SMALL_K6];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            csum[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const __m512i pair = k6_pair_in(k6_il(gu, 192, i / 2), i);
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                csum[t] = _mm512_dpwssd_epi32(csum[t], pair,
                                              bcast32(((const xq256 *)xt[t])->s16 + 2 * i));
        }
        /* the 16 d follow the block's 52 dwords */
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(gu + 64 * 52)));
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            __m512i v = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(csum[t], 5));
            __m512 dx = _mm512_set1_ps(((const xq256 *)xt[t])->d);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(d, dx), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        sums_store(y + t * ldy, rows, acc[t]);
}

GEMM_SMALL_FN(gemm_il_q6_K, gemm_k6_shape, TLM_DT_Q6_K, NB_SMALL_K6)
#define GEMM_IL_K6 /* qmatmul_slots.h: the il Q6_K ops get gemm_il_q6_K */
#define GEMM_IL_KA /* qmatmul_slots.h: the il Q4_K / Q5_K ops get gemm_il_q4_K / _q5_K */

#define TILE_SHAPE_Q8_0 tile32_shape
#define TILE_SHAPE_Q4_0 tile32_shape
#define TILE_SHAPE_Q4_K tile_ka_shape
#define TILE_SHAPE_Q5_K tile_ka_shape
#define TILE_SHAPE_Q6_K tile_k6_shape
#include "qmatmul_slots.h"
