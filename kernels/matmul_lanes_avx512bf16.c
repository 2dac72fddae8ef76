/* matmul_lanes_avx512bf16.c - BF16 matmuls by vdpbf16ps on the rows-in-lanes layout (kernels.h,
 * TLM_IL_LANES: groups of 16 rows, element k of the group's 16 rows in 32 contiguous bytes), the
 * layout matmul_lanes_avx512.c reads. vdpbf16ps multiplies 16 pairs of bf16 per instruction (32
 * products against FMA's 16): dword lane r must hold row r's pair (w[r][k], w[r][k + 1]), so one
 * 64-byte load at k (elements k and k + 1 of the 16 rows) is interleaved by one vpermw, and the
 * token's pair (bf16(x[k]), bf16(x[k + 1])) is one 32-bit broadcast. Lane r is row r's dot.
 *
 * Numerics (kernels.h, the BF16 slots' contract): x is rounded to bf16 (nearest even), so each
 * product is exact in float; vdpbf16ps treats denormal inputs and results as zero. The caller
 * (lib/runtime/forward.c) passes x already rounded; rounding it again here changes nothing.
 *
 * Summation order of every output (depends on n_in alone; decode, prefill, any token tile and
 * any split of the rows give the same bits): with q = n_in / 4, chain j (j < 3) covers k in
 * [jq, (j + 1) q), chain 3 [3q, n_in). Each chain starts from +0 and takes one vdpbf16ps per
 * pair of elements (k, k + 1) from its start in increasing k; an odd chain's last element goes
 * alone, as the pair (w[k], 0) x (x[k], 0). Then y = ((c0 + c1) + c2) + c3. Decode runs the 4
 * chains at once (4 read streams per group, each prefetched ahead), with x converted to pairs
 * once per token; prefill runs them one after another, adding each into y.
 *
 * Prefill tiles are 2 groups (32 rows) x up to 14 tokens: 28 accumulators (vdpbf16ps: about 6
 * cycles of latency at 2 per cycle wants at least 12 chains), each pair-vector of weights loaded
 * and permuted once for all the tile's tokens, x's bf16 pairs broadcast from a panel where the
 * tile's tokens are packed by pair ([pair][token] as uint32). The panel holds one quarter of k
 * for a block of tokens, as matmul_lanes_avx512.c's does. Speed: not measured. */
#include "kernels_impl.h"
#include "matmul_lanes.h"

enum {
    /* decode prefetches each chain this many pairs (2 KB) ahead: one core's read of BF16 groups
     * from memory went from 23 to 28 GB/s, two cores' from 34 to 43 (/tmp/kb dec.c, Zen 5) */
    PREFETCH_PAIRS = 64,
    G = LANES_G,
    NT = LANES_NT,
    PANEL_BYTES = 112 * 1024, /* a quarter of n_in 16384 for 14 tokens, as bf16 pairs */
    PANEL_WORDS = PANEL_BYTES / 4,
};

/* vpermw index: word 2r takes row r's element k (word r), word 2r + 1 row r's element k + 1
 * (word 16 + r). */
TLM_INLINE __m512i pair_index(void)
{
    return _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                            6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
}

/* The group's 16 rows' pairs (w[r][k], w[r][k + 1]), one per dword lane. */
TLM_INLINE __m512bh w_pair(__m512i idx, const uint16_t *g, int64_t k)
{
    __m512i v = _mm512_loadu_si512((const void *)(g + k * G));
    return (__m512bh)_mm512_permutexvar_epi16(idx, v);
}

/* The same for a chain's lone last element: (w[r][k], 0); reads nothing past element k. */
TLM_INLINE __m512bh w_single(__m512i idx, const uint16_t *g, int64_t k)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)(g + k * G));
    return (__m512bh)_mm512_permutexvar_epi16(idx, _mm512_zextsi256_si512(h));
}

/* x's pair at k of a chain of len elements: bf16(x[k]) low, bf16(x[k + 1]) high (0 past len). */
static uint32_t x_pair(const float *x, int64_t k, int64_t len)
{
    uint32_t hi = k + 1 < len ? tlm_f32_to_bf16(x[k + 1]) : 0;
    return (uint32_t)tlm_f32_to_bf16(x[k]) | hi << 16;
}

TLM_INLINE __m512 dot(__m512 acc, __m512bh w, uint32_t xp)
{
    return _mm512_dpbf16_ps(acc, w, (__m512bh)_mm512_set1_epi32((int)xp));
}

/* n <= 16 of x's pairs from x[0] (2n elements, all inside the chain) into out[0, n). */
TLM_INLINE void x_pairs16(uint32_t *out, const float *x, int64_t n)
{
    const int64_t e = 2 * n, lo = e < 16 ? e : 16, hi = e - lo;
    __m512 a = _mm512_maskz_loadu_ps(mask16(lo), x), b = _mm512_maskz_loadu_ps(mask16(hi), x + 16);
    _mm512_storeu_si512((void *)out, (__m512i)_mm512_cvtne2ps_pbh(b, a));
}

/* One token's pairs of a chain of len elements into out[0], out[stride], ... (its column of
 * a tile's panel): 16 pairs a conversion, the odd last element alone. The same bits as
 * x_pair: x arrives rounded, and vdpbf16ps flushes the denormals either way. */
static void pack_token(uint32_t *out, int64_t stride, const float *x, int64_t len)
{
    const int64_t full = len / 2;
    _Alignas(64) uint32_t tmp[16];
    for (int64_t i0 = 0; i0 < full; i0 += 16) {
        const int64_t n = lanes_min64(16, full - i0);
        x_pairs16(tmp, x + 2 * i0, n);
        for (int64_t i = 0; i < n; i++)
            out[(i0 + i) * stride] = tmp[i];
    }
    if (len & 1) out[full * stride] = x_pair(x, len - 1, len);
}

/* One token on one group: the 4 chains at once, then added in order. xp[j] holds chain j's
 * pairs of x (converted once per token, decode_pairs), its lone last element's pair included. */
TLM_INLINE void decode_group(float *y, __mmask16 m, const uint16_t *g, const uint32_t *const *xp,
                             int64_t n_in)
{
    const __m512i idx = pair_index();
    const int64_t q = n_in / 4, len3 = n_in - 3 * q, np = q / 2; /* np: pairs of every chain */
    const uint16_t *gc[4] = {g, g + q * G, g + 2 * q * G, g + 3 * q * G};
    __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    for (int64_t i = 0; i < np; i++)
#pragma GCC unroll 4 /* unrolled, the 4 sums stay in registers (else they went through memory) */
        for (int j = 0; j < 4; j++) {
            _mm_prefetch((const char *)(gc[j] + (2 * i + PREFETCH_PAIRS) * G), _MM_HINT_T0);
            a[j] = dot(a[j], w_pair(idx, gc[j], 2 * i), xp[j][i]);
        }
    if (q & 1) /* chains 0-2's lone last element */
        for (int j = 0; j < 3; j++)
            a[j] = dot(a[j], w_single(idx, gc[j], q - 1), xp[j][np]);
    for (int64_t k = 2 * np; k + 1 < len3; k += 2) /* chain 3's pairs past chain 0-2's */
        a[3] = dot(a[3], w_pair(idx, gc[3], k), xp[3][k / 2]);
    if (len3 & 1) a[3] = dot(a[3], w_single(idx, gc[3], len3 - 1), xp[3][len3 / 2]);
    _mm512_mask_storeu_ps(y, m,
                          _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), a[2]), a[3]));
}

/* decode_group for an x too long for decode's buffer: x converted 16 pairs at a time per group
 * (the same pairs, sums and bits, more conversions). */
static void decode_pairs(float *y, __mmask16 m, const uint16_t *g, const float *x, int64_t n_in)
{
    const __m512i idx = pair_index();
    const int64_t q = n_in / 4, len3 = n_in - 3 * q, np = q / 2; /* np: pairs of every chain */
    const uint16_t *gc[4] = {g, g + q * G, g + 2 * q * G, g + 3 * q * G};
    const float *xc[4] = {x, x + q, x + 2 * q, x + 3 * q};
    __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    for (int64_t p0 = 0; p0 < np; p0 += 16) {
        const int64_t n = lanes_min64(16, np - p0);
        _Alignas(64) uint32_t xp[4][16];
        for (int j = 0; j < 4; j++)
            x_pairs16(xp[j], xc[j] + 2 * p0, n);
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < 4; j++)
                a[j] = dot(a[j], w_pair(idx, gc[j], 2 * (p0 + i)), xp[j][i]);
    }
    if (q & 1) /* chains 0-2's lone last element */
        for (int j = 0; j < 3; j++)
            a[j] = dot(a[j], w_single(idx, gc[j], q - 1), x_pair(xc[j], q - 1, q));
    for (int64_t k = 2 * np; k + 1 < len3; k += 2) /* chain 3's pairs past chain 0-2's */
        a[3] = dot(a[3], w_pair(idx, gc[3], k), x_pair(xc[3], k, len3));
    if (len3 & 1) a[3] = dot(a[3], w_single(idx, gc[3], len3 - 1), x_pair(xc[3], len3 - 1, len3));
    _mm512_mask_storeu_ps(y, m,
                          _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), a[2]), a[3]));
}

enum { DECODE_PAIRS = 2052 }; /* a chain's pairs for n_in up to 16384 (Gemma-2B's FFN), +1 */

/* Every token alone (n_tok 1, or n_in too large for the panel): the same bits as a tile. x is
 * converted to pairs once per token into a stack buffer (32 KB); past 4 x 2 x 2051 inputs the
 * buffer is too small and decode_pairs converts per group instead (slower, same bits). */
static void decode(float *y, int64_t ldy, const uint16_t *w, uint64_t w_row_bytes, const float *x,
                   int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    const int64_t q = n_in / 4, len3 = n_in - 3 * q;
    _Alignas(64) uint32_t buf[4][DECODE_PAIRS];
    const bool fits = (len3 + 1) / 2 <= DECODE_PAIRS;
    for (int64_t t = 0; t < n_tok; t++) {
        const float *xt = x + t * ldx;
        for (int j = 0; fits && j < 4; j++)
            pack_token(buf[j], 1, xt + j * q, j < 3 ? q : len3);
        for (int64_t g0 = r0 - r0 % G; g0 < r1; g0 += G) {
            const uint16_t *g = lanes_group(w, w_row_bytes, g0);
            if (fits) {
                const uint32_t *xp[4] = {buf[0], buf[1], buf[2], buf[3]};
                decode_group(y + t * ldy + g0, lanes_in(g0, r0, r1), g, xp, n_in);
            } else {
                decode_pairs(y + t * ldy + g0, lanes_in(g0, r0, r1), g, xt, n_in);
            }
        }
    }
}

/* acc[v][t] += the nv pair-vectors wv times each of the nt tokens' x pairs at b[t]. */
TLM_INLINE void tile_step(int nv, int nt, __m512 acc[2][NT], const __m512bh *wv, const uint32_t *b)
{
#pragma GCC unroll 16
    for (int t = 0; t < nt; t++)
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++)
            acc[v][t] = dot(acc[v][t], wv[v], b[t]);
}

/* Chain j of nv groups (at g[0], g[1], already at the chain's first k) x nt tokens (panel p,
 * [pair][nt]) over len elements, into y: stored for j == 0, added to y's value after. */
TLM_INLINE void tile(int nv, int nt, int j, float *y, int64_t ldy, const __mmask16 *m,
                     const uint16_t *const *g, const uint32_t *p, int64_t len)
{
    const __m512i idx = pair_index();
    __m512 acc[2][NT];
    __m512bh wv[2];
#pragma GCC unroll 16
    for (int v = 0; v < nv; v++)
#pragma GCC unroll 16
        for (int t = 0; t < nt; t++)
            acc[v][t] = _mm512_setzero_ps();
    const int64_t np = len / 2;
    for (int64_t i = 0; i < np; i++) {
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++)
            wv[v] = w_pair(idx, g[v], 2 * i);
        tile_step(nv, nt, acc, wv, p + i * nt);
    }
    if (len & 1) { /* the chain's lone last element */
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++)
            wv[v] = w_single(idx, g[v], 2 * np);
        tile_step(nv, nt, acc, wv, p + np * nt);
    }
    lanes_tile_store(nv, nt, j, y, ldy, m, acc);
}

/* tile() with nv and nt as constants, one function each, called through a table (one function
 * with a switch over all 28 slowed clang's sanitizer builds, matmul_lanes_avx512.c). */
typedef void tile_fn(int j, float *y, int64_t ldy, const __mmask16 *m, const uint16_t *const *g,
                     const uint32_t *p, int64_t len);
#define TILE_DEF(name, nv, nt)                                                                     \
    static void name(int j, float *y, int64_t ldy, const __mmask16 *m, const uint16_t *const *g,   \
                     const uint32_t *p, int64_t len)                                               \
    {                                                                                              \
        tile(nv, nt, j, y, ldy, m, g, p, len);                                                     \
    }
#define TILE_PAIR(n) TILE_DEF(tile_1_##n, 1, n) TILE_DEF(tile_2_##n, 2, n)
/* (clang-format does not settle on these lists of macro calls) */
// clang-format off
TILE_PAIR(1)  TILE_PAIR(2)  TILE_PAIR(3)  TILE_PAIR(4)  TILE_PAIR(5)  TILE_PAIR(6)  TILE_PAIR(7)
TILE_PAIR(8)  TILE_PAIR(9)  TILE_PAIR(10) TILE_PAIR(11) TILE_PAIR(12) TILE_PAIR(13) TILE_PAIR(14)
#define TILE_ROW(v)                                                                                \
    {tile_##v##_1, tile_##v##_2,  tile_##v##_3,  tile_##v##_4,  tile_##v##_5,  tile_##v##_6,       \
     tile_##v##_7, tile_##v##_8,  tile_##v##_9,  tile_##v##_10, tile_##v##_11, tile_##v##_12,      \
     tile_##v##_13, tile_##v##_14}
    // clang-format on
    _Static_assert(NT == 14, "the table below lists 14 token counts");
static tile_fn *const tiles[2][NT] = {TILE_ROW(1), TILE_ROW(2)};
#undef TILE_ROW
#undef TILE_PAIR
#undef TILE_DEF

void tlm_matmul_lanes_bf16_avx512bf16(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                                      const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                                      int64_t r0, int64_t r1)
{
    const int64_t q = n_in / 4, longest = n_in - 3 * q; /* chain 3 is the longest */
    const int64_t pairs = (longest + 1) / 2;
    int64_t block = pairs > 0 ? PANEL_WORDS / pairs / NT * NT : NT * 64;
    if (n_tok == 1 || block < NT) { /* one token, or n_in past 4 x 4096: no panel */
        decode(y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
        return;
    }
    _Alignas(64) uint32_t panel[PANEL_WORDS];
    for (int64_t t0 = 0; t0 < n_tok; t0 += block) {
        const int64_t nb = lanes_min64(block, n_tok - t0);
        for (int j = 0; j < 4; j++) {
            const int64_t k0 = j * q, len = j < 3 ? q : longest, np = (len + 1) / 2;
            /* tile i's tokens packed by pair at panel + i * NT * np */
            for (int64_t t = 0; t < nb; t += NT) {
                const int64_t nt = lanes_min64(NT, nb - t);
                uint32_t *pt = panel + t * np;
                for (int64_t u = 0; u < nt; u++)
                    pack_token(pt + u, nt, x + (t0 + t + u) * ldx + k0, len);
            }
            for (int64_t g0 = r0 - r0 % G; g0 < r1; g0 += 2 * G) {
                __mmask16 m[2];
                const uint16_t *g[2];
                const int nv = lanes_pair(g, m, w, w_row_bytes, g0, r0, r1, k0);
                for (int64_t t = 0; t < nb; t += NT) {
                    const int nt = (int)lanes_min64(NT, nb - t);
                    if (nt < 1 || nt > NT) __builtin_unreachable();
                    tiles[nv == 2][nt - 1](j, y + (t0 + t) * ldy + g0, ldy, m, g, panel + t * np,
                                           len);
                }
            }
        }
    }
}
