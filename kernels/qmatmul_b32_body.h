/* qmatmul_b32_body.h - the Q4_1, Q5_0, Q5_1 and IQ4_NL matmuls, written once and compiled per
 * ISA by qmatmul_b32_<isa>.c, which defines before including it:
 *   b32_dot_u(w, x)  per int32 lane, the sum of 4 products of unsigned bytes w (levels, at
 *                    most 127) by signed bytes x (activations), exact;
 *   B32_FN(name)     the slot's name for the ISA.
 * Both ISAs read a 32-element block as one 256-bit vector of levels (element i in byte i), so
 * all the unpacking here is AVX2 code the AVX-512 file shares; only the dot differs (vpmaddubsw
 * + vpmaddwd, or VNNI's vpdpbusd).
 *
 * The numbers are qmatmul_b32_ref.c's, bit for bit: the activations are quantized by the same
 * rule (vcvtps2dq rounds to nearest even, as lrintf does), each block's integer sums are
 * exact, and the float steps are scalar, unfused and in the reference's order. Q5_0's levels
 * are dotted unsigned (0..31) and 16 * sum(q) taken back out; IQ4_NL's signed codebook values
 * go in as |w| times sign(x, w).
 *
 * Loop nest: tokens in blocks of B32_TOK, k in chunks of B32_KC elements whose quantized
 * activations (B32_TOK x B32_KC / 32 blocks) stay in cache; then row by row, B32_NR tokens at
 * a time share each unpacked block. Between chunks the running sums wait in y (exact floats),
 * so the bits depend on n_in alone, not on r0, r1 or n_tok. */
#include <immintrin.h>
#include <string.h>

#include "kernels_impl.h"
#include "quant_b32.h"

#define B32_INLINE static inline __attribute__((always_inline))

enum { B32_TOK = 64, B32_KC = 1024, B32_NR = 4 };

typedef struct xb32 { /* one quantized activation block */
    int8_t q[32];
    float dx;
    int32_t qsum;
} xb32;

B32_INLINE int32_t hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

B32_INLINE float f16_at(const char *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h); /* exact, as tlm_f16_to_f32 */
}

/* n blocks of 32 floats at x into o: the reference's quantize_act, 8 lanes at a time. */
B32_INLINE void quantize_blocks(xb32 *o, const float *x, int64_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n; b++, x += 32) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) {
            v[j] = _mm256_loadu_ps(x + 8 * j);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[j]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        const float amax = _mm_cvtss_f32(m4);
        const __m256 id = _mm256_set1_ps(amax >= 0x1p-96f ? 127.0f / amax : 0.0f);
        __m256i i[4];
        for (int j = 0; j < 4; j++)
            i[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], id));
        const __m256i s =
            _mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
        /* packs interleave 128-bit halves; the permute puts element order back */
        __m256i p =
            _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)o[b].q, p);
        o[b].qsum = hsum_i32(s);
        o[b].dx = amax / 127.0f;
    }
}

/* Element i of the block's 4-bit part in byte i. */
B32_INLINE __m256i nibbles(const char *qs)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(15);
    const __m128i lo = _mm_and_si128(v, m), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
    return _mm256_set_m128i(hi, lo);
}

/* 16 in byte i where bit i of the 32-bit little-endian qh is set. */
B32_INLINE __m256i bits5(const char *qh)
{
    int32_t h;
    memcpy(&h, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(h), _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                               2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(16));
}

/* The block's levels: unsigned (Q4_1, Q5_1, and Q5_0 before its - 16) or IQ4_NL's values. */
B32_INLINE __m256i levels(int type, const char *blk)
{
    switch (type) {
    case TLM_DT_Q4_1:
        return nibbles(blk + 4);
    case TLM_DT_Q5_0:
        return _mm256_or_si256(nibbles(blk + 6), bits5(blk + 2));
    case TLM_DT_Q5_1:
        return _mm256_or_si256(nibbles(blk + 8), bits5(blk + 4));
    default: {
        const __m128i kv = _mm_loadu_si128((const __m128i *)tlm_iq4_values);
        return _mm256_shuffle_epi8(_mm256_set_m128i(kv, kv), nibbles(blk + 2));
    }
    }
}

/* sum_i level_i q_i of one block, exactly. */
B32_INLINE int32_t block_isum(int type, __m256i lv, const xb32 *xb)
{
    const __m256i x = _mm256_loadu_si256((const __m256i *)xb->q);
    if (type == TLM_DT_IQ4_NL)
        return hsum_i32(b32_dot_u(_mm256_abs_epi8(lv), _mm256_sign_epi8(x, lv)));
    const int32_t s = hsum_i32(b32_dot_u(lv, x));
    return type == TLM_DT_Q5_0 ? s - 16 * xb->qsum : s;
}

/* y[t * ldy] (t < nr) = (accumulate ? y : 0) + one row's n_blk blocks at row . token t's
 * quantized blocks at xq + t * xs. */
B32_INLINE void row_tile(int type, int64_t bb, int nr, float *y, int64_t ldy, bool accumulate,
                         const char *row, int64_t n_blk, const xb32 *xq, int64_t xs)
{
    const bool has_min = type == TLM_DT_Q4_1 || type == TLM_DT_Q5_1;
    float acc[B32_NR];
#pragma GCC unroll 4
    for (int t = 0; t < nr; t++)
        acc[t] = accumulate ? y[t * ldy] : 0.0f;
    for (int64_t b = 0; b < n_blk; b++, row += bb) {
        const __m256i lv = levels(type, row);
        const float d = f16_at(row), m = has_min ? f16_at(row + 2) : 0.0f;
#pragma GCC unroll 4
        for (int t = 0; t < nr; t++) {
            const xb32 *xb = xq + t * xs + b;
            acc[t] = acc[t] + (float)block_isum(type, lv, xb) * (d * xb->dx);
            if (has_min) acc[t] = acc[t] + (float)xb->qsum * (m * xb->dx);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nr; t++)
        y[t * ldy] = acc[t];
}

B32_INLINE void b32_matmul(int type, int64_t bb, float *y, int64_t ldy, const void *w,
                           uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok,
                           int64_t n_in, int64_t r0, int64_t r1)
{
    xb32 xq[B32_TOK * (B32_KC / 32)];
    if (n_in == 0) /* an empty sum */
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t r = r0; r < r1; r++)
                y[t * ldy + r] = 0.0f;
    for (int64_t t0 = 0; t0 < n_tok; t0 += B32_TOK) {
        const int64_t tb = n_tok - t0 < B32_TOK ? n_tok - t0 : B32_TOK;
        for (int64_t k0 = 0; k0 < n_in; k0 += B32_KC) {
            const int64_t nb = (n_in - k0 < B32_KC ? n_in - k0 : B32_KC) / 32;
            for (int64_t t = 0; t < tb; t++)
                quantize_blocks(xq + t * nb, x + (t0 + t) * ldx + k0, nb);
            for (int64_t r = r0; r < r1; r++) {
                const char *row =
                    (const char *)w + (uint64_t)r * w_row_bytes + (uint64_t)(k0 / 32 * bb);
                for (int64_t t = 0; t < tb; t += B32_NR) {
                    const int64_t nr = tb - t < B32_NR ? tb - t : B32_NR;
                    const xb32 *xt = xq + t * nb;
                    float *yt = y + (t0 + t) * ldy + r;
                    switch (nr) { /* a body per token count */
                    case 1:
                        row_tile(type, bb, 1, yt, ldy, k0 > 0, row, nb, xt, nb);
                        break;
                    case 2:
                        row_tile(type, bb, 2, yt, ldy, k0 > 0, row, nb, xt, nb);
                        break;
                    case 3:
                        row_tile(type, bb, 3, yt, ldy, k0 > 0, row, nb, xt, nb);
                        break;
                    default:
                        row_tile(type, bb, 4, yt, ldy, k0 > 0, row, nb, xt, nb);
                        break;
                    }
                }
            }
        }
    }
}

#define B32_SLOT(suffix, type)                                                                     \
    void B32_FN(tlm_matmul_##suffix)(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,   \
                                     const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,     \
                                     int64_t r0, int64_t r1)                                       \
    {                                                                                              \
        b32_matmul(type, sizeof(block_##suffix), y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0,  \
                   r1);                                                                            \
    }

B32_SLOT(q4_1, TLM_DT_Q4_1)
B32_SLOT(q5_0, TLM_DT_Q5_0)
B32_SLOT(q5_1, TLM_DT_Q5_1)
B32_SLOT(iq4_nl, TLM_DT_IQ4_NL)
