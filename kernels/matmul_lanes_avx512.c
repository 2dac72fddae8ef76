/* matmul_lanes_avx512.c - F16 and BF16 matmuls on the rows-in-lanes layout (kernels.h,
 * TLM_IL_LANES: groups of 16 rows, element k of the group's 16 rows in 32 contiguous bytes),
 * so that one vcvtph2ps (BF16: a 16-bit shift) is 16 rows' weights at k in the 16 lanes, and
 * a token's x[k] is one broadcast. No horizontal sum: lane r is row r's dot product.
 *
 * Summation order of every output (depends on n_in alone; decode, prefill, any token tile and
 * any split of the rows give the same bits): with q = n_in / 4, chain j (j < 3) sums the
 * products of k in [jq, (j + 1) q), chain 3 those of [3q, n_in), each from +0 in increasing
 * k by one FMA per k; then y = ((c0 + c1) + c2) + c3. Decode runs the 4 chains at once (4
 * read streams per group: 16-row groups with 4 chains over k-quarters read 25 GB/s against
 * 20 for the 4-row groups' 4x1 tile, from memory, Zen 5, /tmp/f16b decode.c, never in this
 * tree), each stream prefetched ahead. Prefill runs them one after another, adding each into y.
 *
 * Prefill tiles are 2 groups (32 rows) x up to 14 tokens: 28 accumulators, each k's two
 * weight vectors widened once for all 14 tokens, x[t][k] broadcast from a panel where the
 * tile's tokens are packed by k ([k][t], one sequential stream instead of 14). Of the
 * shapes measured in /tmp/f16b bench.c (thread CPU time, medians of 15, Zen 5) this one, on
 * 16-row groups with packed x, ran 1.07-1.28x the 4-row groups' 8 x 3 tile from L2 and
 * 1.36-1.43x from memory; 32-row groups were no faster and would not match the 16-row
 * ranges the forward pass gives each thread. The panel holds one quarter of k for a block
 * of tokens (PANEL_BYTES of stack); each quarter of a group pair then comes from memory once
 * per block and from L2 for the block's other tiles. */
#include "kernels_impl.h"
#include "matmul_lanes.h"

enum {
    /* decode prefetches each stream this many elements (2 KB) ahead: F16 from memory went from
     * 19-26 to 28-31 GB/s on one core, 31-47 to 46-57 on two (/tmp/kb dec16.c, Zen 5, noisy) */
    PREFETCH_K = 64,
    G = LANES_G,
    NT = LANES_NT,
    PANEL_BYTES = 224 * 1024, /* a quarter of n_in 16384 for 14 tokens */
    PANEL_FLOATS = PANEL_BYTES / 4,
};

/* The group's 16 rows at element k, widened (type is a constant after inlining). */
TLM_INLINE __m512 lanes_at(int type, const uint16_t *g, int64_t k)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)(g + k * G));
    return type == TLM_DT_F16 ? _mm512_cvtph_ps(h) : bf16_widen(h);
}

/* One token on one group: the 4 chains at once, then added in order. */
TLM_INLINE void decode_group(int type, float *y, __mmask16 m, const uint16_t *g, const float *x,
                             int64_t n_in)
{
    const int64_t q = n_in / 4;
    const uint16_t *g1 = g + q * G, *g2 = g1 + q * G, *g3 = g2 + q * G;
    const float *x1 = x + q, *x2 = x1 + q, *x3 = x2 + q;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t k = 0; k < q; k++) {
        if ((k & 1) == 0) /* one prefetch a cache line (2 elements of 16 rows) per stream */
            for (int j = 0; j < 4; j++)
                _mm_prefetch((const char *)(g + (j * q + k + PREFETCH_K) * G), _MM_HINT_T0);
        a0 = _mm512_fmadd_ps(lanes_at(type, g, k), _mm512_set1_ps(x[k]), a0);
        a1 = _mm512_fmadd_ps(lanes_at(type, g1, k), _mm512_set1_ps(x1[k]), a1);
        a2 = _mm512_fmadd_ps(lanes_at(type, g2, k), _mm512_set1_ps(x2[k]), a2);
        a3 = _mm512_fmadd_ps(lanes_at(type, g3, k), _mm512_set1_ps(x3[k]), a3);
    }
    for (int64_t k = q; k < n_in - 3 * q; k++) /* chain 3's last n_in % 4 */
        a3 = _mm512_fmadd_ps(lanes_at(type, g3, k), _mm512_set1_ps(x3[k]), a3);
    _mm512_mask_storeu_ps(y, m, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), a2), a3));
}

/* Chain j of nv groups (at g[0], g[1], already at the chain's first k) x nt tokens (panel p,
 * [k][nt]) over len elements, into y: stored for j == 0, added to y's value after. */
TLM_INLINE void tile(int type, int nv, int nt, int j, float *y, int64_t ldy, const __mmask16 *m,
                     const uint16_t *const *g, const float *p, int64_t len)
{
    __m512 acc[2][NT];
#pragma GCC unroll 16
    for (int v = 0; v < nv; v++)
#pragma GCC unroll 16
        for (int t = 0; t < nt; t++)
            acc[v][t] = _mm512_setzero_ps();
    for (int64_t k = 0; k < len; k++) {
        __m512 wv[2];
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++)
            wv[v] = lanes_at(type, g[v], k);
#pragma GCC unroll 16
        for (int t = 0; t < nt; t++) {
            const __m512 b = _mm512_set1_ps(p[k * nt + t]);
#pragma GCC unroll 16
            for (int v = 0; v < nv; v++)
                acc[v][t] = _mm512_fmadd_ps(wv[v], b, acc[v][t]);
        }
    }
    lanes_tile_store(nv, nt, j, y, ldy, m, acc);
}

/* tile() with nv and nt as constants, one function each, called through a table: all 56 in
 * one function (a switch) made clang's ASan + UBSan build of this file take over 10 minutes. */
typedef void tile_fn(int j, float *y, int64_t ldy, const __mmask16 *m, const uint16_t *const *g,
                     const float *p, int64_t len);
#define TILE_DEF(type, name, nv, nt)                                                               \
    static void name(int j, float *y, int64_t ldy, const __mmask16 *m, const uint16_t *const *g,   \
                     const float *p, int64_t len)                                                  \
    {                                                                                              \
        tile(type, nv, nt, j, y, ldy, m, g, p, len);                                               \
    }
#define TILE_PAIR(type, sfx, n)                                                                    \
    TILE_DEF(type, tile_##sfx##_1_##n, 1, n) TILE_DEF(type, tile_##sfx##_2_##n, 2, n)
/* (clang-format does not settle on these lists of macro calls) */
// clang-format off
#define TILE_SET(type, sfx)                                                                        \
    TILE_PAIR(type, sfx, 1)  TILE_PAIR(type, sfx, 2)  TILE_PAIR(type, sfx, 3)                      \
    TILE_PAIR(type, sfx, 4)  TILE_PAIR(type, sfx, 5)  TILE_PAIR(type, sfx, 6)                      \
    TILE_PAIR(type, sfx, 7)  TILE_PAIR(type, sfx, 8)  TILE_PAIR(type, sfx, 9)                      \
    TILE_PAIR(type, sfx, 10) TILE_PAIR(type, sfx, 11) TILE_PAIR(type, sfx, 12)                     \
    TILE_PAIR(type, sfx, 13) TILE_PAIR(type, sfx, 14)
#define TILE_ROW(sfx, v)                                                                           \
    {tile_##sfx##_##v##_1,  tile_##sfx##_##v##_2,  tile_##sfx##_##v##_3,  tile_##sfx##_##v##_4,   \
     tile_##sfx##_##v##_5,  tile_##sfx##_##v##_6,  tile_##sfx##_##v##_7,  tile_##sfx##_##v##_8,   \
     tile_##sfx##_##v##_9,  tile_##sfx##_##v##_10, tile_##sfx##_##v##_11, tile_##sfx##_##v##_12,  \
     tile_##sfx##_##v##_13, tile_##sfx##_##v##_14}
// clang-format on
_Static_assert(NT == 14, "the tables below list 14 token counts");
TILE_SET(TLM_DT_F16, f16)
TILE_SET(TLM_DT_BF16, bf16)
static tile_fn *const tiles_f16[2][NT] = {TILE_ROW(f16, 1), TILE_ROW(f16, 2)};
static tile_fn *const tiles_bf16[2][NT] = {TILE_ROW(bf16, 1), TILE_ROW(bf16, 2)};
#undef TILE_ROW
#undef TILE_SET
#undef TILE_PAIR
#undef TILE_DEF

TLM_INLINE void tile_any(int type, int nv, int nt, int j, float *y, int64_t ldy, const __mmask16 *m,
                         const uint16_t *const *g, const float *p, int64_t len)
{
    if (nt < 1 || nt > NT)
        __builtin_unreachable(); /* the caller's lanes_min64(NT, tokens left > 0) */
    (type == TLM_DT_F16 ? tiles_f16 : tiles_bf16)[nv == 2][nt - 1](j, y, ldy, m, g, p, len);
}

TLM_INLINE void matmul_lanes(int type, float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                             const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0,
                             int64_t r1)
{
    const int64_t q = n_in / 4, longest = n_in - 3 * q; /* chain 3 is the longest */
    int64_t block = longest > 0 ? PANEL_FLOATS / longest / NT * NT : NT * 64;
    if (n_tok == 1 || block < NT) { /* one token, or n_in past 4 x 4096: no panel */
        lanes_decode(decode_group, type, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
        return;
    }
    _Alignas(64) float panel[PANEL_FLOATS];
    for (int64_t t0 = 0; t0 < n_tok; t0 += block) {
        const int64_t nb = lanes_min64(block, n_tok - t0);
        for (int j = 0; j < 4; j++) {
            const int64_t k0 = j * q, len = j < 3 ? q : longest;
            lanes_pack(panel, x, ldx, t0, nb, NT, k0, len);
            for (int64_t g0 = r0 - r0 % G; g0 < r1; g0 += 2 * G) {
                __mmask16 m[2];
                const uint16_t *g[2];
                const int nv = lanes_pair(g, m, w, w_row_bytes, g0, r0, r1, k0);
                for (int64_t t = 0; t < nb; t += NT)
                    tile_any(type, nv, (int)lanes_min64(NT, nb - t), j, y + (t0 + t) * ldy + g0,
                             ldy, m, g, panel + t * len, len);
            }
        }
    }
}

void tlm_matmul_lanes_f16_avx512(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                                 const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                                 int64_t r0, int64_t r1)
{
    matmul_lanes(TLM_DT_F16, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_lanes_bf16_avx512(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                                  const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                                  int64_t r0, int64_t r1)
{
    matmul_lanes(TLM_DT_BF16, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}
