/* matmul_lanes_avx2.c - F16 and BF16 matmuls on the rows-in-lanes layout (kernels.h,
 * TLM_IL_LANES: groups of 16 rows, element k of the group's 16 rows in 32 contiguous bytes) with
 * AVX2 + FMA + F16C. A group at k is two 8-lane vectors, F16's rows 0-7 and 8-15 (a vcvtph2ps
 * each), BF16's even and odd rows (one load, a shift and a mask); a token's x[k] is one
 * broadcast. No horizontal sum.
 *
 * Summation order: matmul_lanes_avx512.c's (chain j < 3 of q = n_in / 4 sums k in [jq, (j + 1)
 * q), chain 3 [3q, n_in), each from +0 by one FMA per k in increasing k; y = ((c0 + c1) + c2)
 * + c3), so the two levels give the same bits, and decode, prefill, any token tile and any
 * split of the rows give the same bits.
 *
 * Why this layout on AVX2: the 4-row groups' 4 x 3 tile (matmul_avx2.c) loads 4 weight and 3
 * token vectors for 12 FMAs and streams both from L2 over all of k, near L2's bandwidth; here
 * a tile of one group (16 rows) x 6 tokens loads 2 weight vectors and 6 broadcasts for 12 FMAs
 * (12 accumulators, 2 weights and a broadcast: 15 of the 16 registers), from a group's quarter
 * of k and a panel of the tile's tokens packed by k, both small enough to stay in L1 / L2.
 * Decode runs the 4 chains of a group at once: 8 accumulators (two FMA pipes of latency 4), 4
 * read streams, left to the hardware prefetcher: on Zen 3 (2 threads, 8 matrices of 5632 x 2048
 * from memory, turns alternated in one process) it streamed 1.04-1.19x the 4-row groups' 8 x 1
 * tile, and a software prefetch 2 KB ahead per stream (AVX-512's) cost 10-15%. */
#include "kernels_impl.h"
#include "matmul_lanes.h"
#include "simd_avx2.h"

enum {
    G = LANES_G,
    NT = 6,                   /* tokens per prefill tile */
    PANEL_BYTES = 192 * 1024, /* a quarter of n_in 8192 for a block of tokens (stack) */
    PANEL_FLOATS = PANEL_BYTES / 4,
};

/* Half h of the group at g, element k, widened (type a constant after inlining): F16 rows
 * 8h .. 8h + 7; BF16 the even rows (h 0) or the odd rows (h 1), each a 32-bit lane's high half
 * already, so both come from one 32-byte load by a shift or a mask (group_put puts the rows
 * back in order). */
TLM_INLINE __m256 half_at(int type, const uint16_t *g, int64_t k, int h)
{
    if (type == TLM_DT_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + k * G + 8 * h)));
    const __m256i v = _mm256_loadu_si256((const __m256i *)(g + k * G));
    return _mm256_castsi256_ps(h == 0 ? _mm256_slli_epi32(v, 16)
                                      : _mm256_and_si256(v, _mm256_set1_epi32(-65536)));
}

/* Sums s of half h of a group into y (at the half's first row): stored when j == 0, added to
 * y's value after; only the lanes of m (the group's 16-bit row mask) are touched. */
TLM_INLINE void half_put(float *y, uint16_t m, int h, int j, __m256 s)
{
    const int bits = (m >> (8 * h)) & 0xff;
    if (bits == 0xff) {
        if (j > 0) s = _mm256_add_ps(_mm256_loadu_ps(y), s);
        _mm256_storeu_ps(y, s);
    } else if (bits) {
        const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        const __m256i mask =
            _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(bits), bit), bit);
        if (j > 0) s = _mm256_add_ps(_mm256_maskload_ps(y, mask), s);
        _mm256_maskstore_ps(y, mask, s);
    }
}

/* A group's sums (halves a0, a1 as half_at gives them) into y's 16 rows, as half_put. */
TLM_INLINE void group_put(int type, float *y, uint16_t m, int j, __m256 a0, __m256 a1)
{
    if (type == TLM_DT_BF16) { /* even and odd rows back to rows 0-7 and 8-15 */
        const __m256 lo = _mm256_unpacklo_ps(a0, a1), hi = _mm256_unpackhi_ps(a0, a1);
        a0 = _mm256_permute2f128_ps(lo, hi, 0x20);
        a1 = _mm256_permute2f128_ps(lo, hi, 0x31);
    }
    half_put(y, m, 0, j, a0);
    half_put(y + 8, m, 1, j, a1);
}

/* One token on one group: the 4 chains at once, then added in order. */
TLM_INLINE void decode_group(int type, float *y, uint16_t m, const uint16_t *g, const float *x,
                             int64_t n_in)
{
    const int64_t q = n_in / 4;
    __m256 a[4][2];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        a[j][0] = a[j][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < q; k++) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256 b = _mm256_broadcast_ss(x + j * q + k);
            a[j][0] = _mm256_fmadd_ps(half_at(type, g, j * q + k, 0), b, a[j][0]);
            a[j][1] = _mm256_fmadd_ps(half_at(type, g, j * q + k, 1), b, a[j][1]);
        }
    }
    for (int64_t k = 4 * q; k < n_in; k++) { /* chain 3's last n_in % 4 */
        const __m256 b = _mm256_broadcast_ss(x + k);
        a[3][0] = _mm256_fmadd_ps(half_at(type, g, k, 0), b, a[3][0]);
        a[3][1] = _mm256_fmadd_ps(half_at(type, g, k, 1), b, a[3][1]);
    }
    __m256 sum[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++)
        sum[h] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a[0][h], a[1][h]), a[2][h]), a[3][h]);
    group_put(type, y, m, 0, sum[0], sum[1]);
}

/* Chain j of one group (at g, already at the chain's first k) x nt tokens (panel p, [k][nt])
 * over len elements, into y: stored for j == 0, added to y's value after. */
TLM_INLINE void tile(int type, int nt, int j, float *y, int64_t ldy, uint16_t m, const uint16_t *g,
                     const float *p, int64_t len)
{
    __m256 acc[2][NT];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        acc[0][t] = acc[1][t] = _mm256_setzero_ps();
    for (int64_t k = 0; k < len; k++) {
        const __m256 w0 = half_at(type, g, k, 0), w1 = half_at(type, g, k, 1);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const __m256 b = _mm256_broadcast_ss(p + k * nt + t);
            acc[0][t] = _mm256_fmadd_ps(w0, b, acc[0][t]);
            acc[1][t] = _mm256_fmadd_ps(w1, b, acc[1][t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        group_put(type, y + t * ldy, m, j, acc[0][t], acc[1][t]);
}

/* tile() with nt a constant, one function each, called through a table. */
typedef void tile_fn(int j, float *y, int64_t ldy, uint16_t m, const uint16_t *g, const float *p,
                     int64_t len);
#define TILE_DEF(type, sfx, nt)                                                                    \
    static void tile_##sfx##_##nt(int j, float *y, int64_t ldy, uint16_t m, const uint16_t *g,     \
                                  const float *p, int64_t len)                                     \
    {                                                                                              \
        tile(type, nt, j, y, ldy, m, g, p, len);                                                   \
    }
// clang-format off
#define TILE_SET(type, sfx)                                                                        \
    TILE_DEF(type, sfx, 1) TILE_DEF(type, sfx, 2) TILE_DEF(type, sfx, 3)                           \
    TILE_DEF(type, sfx, 4) TILE_DEF(type, sfx, 5) TILE_DEF(type, sfx, 6)
#define TILE_ROW(sfx)                                                                              \
    {tile_##sfx##_1, tile_##sfx##_2, tile_##sfx##_3, tile_##sfx##_4, tile_##sfx##_5, tile_##sfx##_6}
// clang-format on
_Static_assert(NT == 6, "the tables below list 6 token counts");
TILE_SET(TLM_DT_F16, f16)
TILE_SET(TLM_DT_BF16, bf16)
static tile_fn *const tiles_f16[NT] = TILE_ROW(f16);
static tile_fn *const tiles_bf16[NT] = TILE_ROW(bf16);
#undef TILE_ROW
#undef TILE_SET
#undef TILE_DEF

TLM_INLINE void matmul_lanes(int type, float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                             const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0,
                             int64_t r1)
{
    const int64_t q = n_in / 4, longest = n_in - 3 * q; /* chain 3 is the longest */
    const int64_t block = longest > 0 ? PANEL_FLOATS / longest / NT * NT : NT * 64;
    if (n_tok == 1 || block < NT) { /* one token, or n_in past 4 x 8192: no panel */
        lanes_decode(decode_group, type, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
        return;
    }
    tile_fn *const *tiles = type == TLM_DT_F16 ? tiles_f16 : tiles_bf16;
    _Alignas(32) float panel[PANEL_FLOATS];
    for (int64_t t0 = 0; t0 < n_tok; t0 += block) {
        const int64_t nb = lanes_min64(block, n_tok - t0);
        for (int j = 0; j < 4; j++) {
            const int64_t k0 = j * q, len = j < 3 ? q : longest;
            lanes_pack(panel, x, ldx, t0, nb, NT, k0, len);
            for (int64_t g0 = r0 - r0 % G; g0 < r1; g0 += G) {
                const uint16_t m = lanes_in(g0, r0, r1);
                const uint16_t *g = lanes_group(w, w_row_bytes, g0) + k0 * G;
                for (int64_t t = 0; t < nb; t += NT)
                    tiles[lanes_min64(NT, nb - t) - 1](j, y + (t0 + t) * ldy + g0, ldy, m, g,
                                                       panel + t * len, len);
            }
        }
    }
}

void tlm_matmul_lanes_f16_avx2(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                               const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0,
                               int64_t r1)
{
    matmul_lanes(TLM_DT_F16, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_lanes_bf16_avx2(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                                const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                                int64_t r0, int64_t r1)
{
    matmul_lanes(TLM_DT_BF16, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}
