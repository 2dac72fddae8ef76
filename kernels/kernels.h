/* kernels.h - the kernel table: every numeric inner loop of libtinylm, one slot per op.
 *
 * Kernels know no model and no file: plain pointers, sizes and strides in, results out.
 * Each op has a scalar reference (kernels/<op>_ref.c, written for clarity); SIMD variants
 * live in their own files (<op>_avx2.c, <op>_avx512.c), the only ones built with their
 * target flags. tlm_kernels_get() fills the table once (pthread_once) starting from the
 * references, then overrides the slots the CPU can run faster; TLM_ISA=ref|avx2|avx512 in
 * the environment forces a level (never above what the CPU has); on AArch64 the levels are
 * ref|neon|dotprod|i8mm (<op>_neon.c, <op>_dotprod.c, <op>_i8mm.c).
 *
 * Determinism contract: every output element is computed by one call in a fixed order that
 * does not depend on how a caller splits rows between threads, so results are bit-identical
 * for any thread count. */
#ifndef TLM_KERNELS_H
#define TLM_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "ktypes.h"

/* y[t*ldy + r] = sum_i W[r][i] * x[t*ldx + i], for t in [0, n_tok) and r in [r0, r1).
 * W has rows of n_in elements of the slot's type, row r starting at w + r * w_row_bytes
 * (aligned to the type's element, or to 2 bytes for the block types, as GGUF stores them).
 * n_in is a multiple of the type's block size; n_tok == 1 is the decode (mat-vec) case.
 * y is written; its previous contents are never read (a kernel may keep partial sums there).
 * BF16 slots: W is multiplied by x ROUNDED TO BF16 (nearest even, tlm_f32_to_bf16), as
 * llama.cpp's BF16 dot does; the caller passes x already rounded (lib/runtime/forward.c, one
 * copy per projection, for every path), so every product is exact in float and the ISAs differ
 * only in summation order. Kernels that take x as given (ref, AVX2, AVX-512 FMA, NEON) and the
 * AVX512_BF16 one, which rounds x itself (a no-op then; it also treats denormals as zero, as
 * vdpbf16ps does), agree within the float summation bound. */
typedef void tlm_matmul_kernel(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                               const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0,
                               int64_t r1);
typedef tlm_matmul_kernel *tlm_matmul_fn;

/* out[0..n) = the n elements at src, converted to float (n a multiple of the block size). */
typedef void (*tlm_to_f32_fn)(float *out, const void *src, int64_t n);

/* dst = the n floats at src in a KV cache's element type (tlm_kv_bytes(type, n) bytes):
 * F32 copied, F16 rounded to nearest even, Q8_0 quantized as GGUF's Q8_0 (n a multiple of
 * 32; the same bits as tlm_quantize_q8_0_ref). */
typedef void (*tlm_store_kv_fn)(void *dst, const float *src, int64_t n);

typedef void (*tlm_attn_fn)(float *out, const float *q, const void *k, const void *v,
                            int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                            float *scores);

/* Attention of nq <= TLM_ATTN_ROWS queries that share one KV head (a GQA group's heads, for
 * several tokens): query i (q[i], head_dim floats) sees key and value rows [lo[i], hi[i])
 * (lo < hi; row j at k / v + j * kv_stride elements) and writes out[i]. scratch holds
 * tlm_attn_rows_scratch(max hi - min lo, head_dim) floats. Same math as attn_head, with the
 * softmax taken online over chunks of TLM_ATTN_CHUNK keys. */
enum { TLM_ATTN_ROWS = 64, TLM_ATTN_CHUNK = 128 };
typedef void (*tlm_attn_rows_fn)(float *const *out, const float *const *q, int32_t nq,
                                 const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                                 int64_t kv_stride, int32_t head_dim, float scale, float *scratch);

/* Floats of scratch for attn_rows and for attn_head over n_span keys (its scores). */
static inline int64_t tlm_attn_rows_scratch(int64_t n_span, int32_t head_dim)
{
    return n_span + (int64_t)TLM_ATTN_ROWS * (2 * (int64_t)head_dim + TLM_ATTN_CHUNK + 3) +
           8 * (int64_t)head_dim;
}

/* Bytes of n elements of a KV cache of `type`: F32, F16, or Q8_0 (n a multiple of 32; each
 * block of 32 is an F16 scale and 32 int8, as GGUF's Q8_0). Rows and heads start on blocks. */
static inline uint64_t tlm_kv_bytes(int type, uint64_t n)
{
    return type == TLM_DT_F32 ? 4 * n : type == TLM_DT_F16 ? 2 * n : n / 32 * 34;
}

typedef struct tlm_kernels {
    const char *isa; /* "ref", "avx2" or "avx512"; AArch64: "ref", "neon", "dotprod", "i8mm" */

    tlm_matmul_fn matmul[TLM_DT_SLOTS]; /* NULL: type not supported */
    /* The same products on a matrix stored row-interleaved (below); NULL where this ISA has
     * no such kernel, and the loader then keeps the rows as they are. */
    tlm_matmul_fn matmul_il[TLM_DT_SLOTS];
    /* Which layout each matmul_il slot reads (TLM_IL_*): the ISA chooses, the loader follows.
     * 0, what the reference table leaves, is TLM_IL_STD. */
    unsigned char il_layout[TLM_DT_SLOTS];
    tlm_to_f32_fn to_f32[TLM_DT_SLOTS];     /* NULL: type not supported */
    tlm_store_kv_fn store_kv[TLM_DT_SLOTS]; /* a KV cache row: F32, F16, Q8_0; others NULL */

    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n); /* y += a * x */

    /* One attention head for one query, by the KV cache's element type (F32, F16, Q8_0):
     * out[0..head_dim) = sum_j p_j * v_j with p = softmax(scale * (q . k_j)) over
     * j in [0, n_keys); k_j starts kv_stride elements after k_{j-1}, likewise v_j. scores is
     * scratch of n_keys floats. n_keys >= 1. */
    tlm_attn_fn attn_head[TLM_DT_SLOTS];
    /* The same for a block of queries (NULL: call attn_head per query). */
    tlm_attn_rows_fn attn_rows[TLM_DT_SLOTS];

    /* out = x / sqrt(mean(x^2) + eps) * w; w may be NULL (gain 1). out may equal x. */
    void (*rmsnorm)(float *out, const float *x, const float *w, int64_t n, float eps);
    /* out = (x - mean) / sqrt(var + eps) * w + b (population variance); w, b may be NULL. */
    void (*layernorm)(float *out, const float *x, const float *w, const float *b, int64_t n,
                      float eps);

    /* gate[i] = act(gate[i]) * up[i] */
    void (*silu_mul)(float *gate, const float *up, int64_t n);
    void (*gelu_tanh_mul)(float *gate, const float *up, int64_t n);
    void (*gelu_tanh)(float *x, int64_t n); /* in place, plain (ungated) MLP */

    /* Rotates the first rope_dim dims of each of n_heads heads (head h at x + h * head_dim)
     * by the angles whose cosines and sines are cos[i], sin[i], i < rope_dim / 2. neox: pair
     * (i, i + rope_dim/2) (rotate-half); otherwise pair (2i, 2i + 1) (adjacent). */
    void (*rope)(float *x, int32_t n_heads, int32_t head_dim, int32_t rope_dim, const float *cos,
                 const float *sin, bool neox);
} tlm_kernels;

/* Row-interleaved ("il") layouts: a matrix whose rows come in whole groups (and, for the
 * float types in TLM_IL_STD, whose rows are whole steps of 16 elements) may be stored with
 * each group's rows woven together, in the bytes the rows took (group g at row g * group's
 * place), so that a kernel reads several rows as one sequential stream. Three layouts, named
 * by the kernel table's il_layout:
 * TLM_IL_STD (x86's; F16 and BF16 on AArch64 only):
 *   Q8_0, Q4_0  groups of 16 rows, block column by block column. For block u, 16 x (block
 *               bytes): the 16 f16 scales (row r's at byte 2r), then the level bytes in
 *               pieces of 64: piece k holds level bytes 4k .. 4k + 3 of every row, row r's at
 *               byte 4r (4 pieces for Q4_0, 8 for Q8_0). A vector load brings 4 level bytes
 *               of each of 16 rows in 32-bit lane order, the form vpdpbusd takes.
 *   Q5_0, IQ4_NL  the same way: the 16 f16 scales, then pieces of 64 of 4 bytes per row
 *               (Q5_0: its qh first, then the 4 of qs; IQ4_NL: the 4 of qs).
 *   Q4_1, Q5_1  groups of 16 rows, block by block: dword d of every row's block (row r's at
 *               byte 64d + 4r): d and m, (Q5_1: qh,) then the 4 dwords of qs.
 *   Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS  groups of 16 rows, super-block by super-block:
 *               dword d of every row's block (row r's at byte 64d + 4r), then Q6_K's and
 *               Q3_K's last 2 bytes (their d) of every row (row r's at 64 * 52 + 2r, 64 * 27
 *               + 2r).
 *   F16, BF16   groups of 4 rows, in steps of 16 elements: elements 16s .. 16s + 15 of
 *               rows 0, 1, 2, 3, then step s + 1. Decode keeps 4 rows' sums going at once
 *               from one stream; each row's sums are taken in the same order as from rows.
 *               (F32 stays in rows: its prefill tiles measured 10-20% slower on groups.)
 * TLM_IL_LANES (x86's AVX2 and AVX-512 levels, F16 and BF16 only; the other types stay STD):
 *   F16, BF16   groups of 16 rows, element by element: element k of rows 0..15 (row r's at
 *               byte 32k + 2r), then element k + 1; a group is 16 x row_bytes (rows of any
 *               length, row_bytes / 2 elements). One 32-byte load widened is 16 rows'
 *               weights at k, one per lane. Its kernels sum in their own order (4 chains
 *               over the quarters of k, matmul_lanes_avx512.c and matmul_lanes_avx2.c;
 *               with AVX512_BF16, BF16 by pairs of k on vdpbf16ps,
 *               matmul_lanes_avx512bf16.c), not the row kernel's.
 * TLM_IL_SDOT4 (AArch64's dot-product and i8mm levels):
 *   Q8_0, Q4_0  groups of 4 rows, block column by block column. For block u, 4 x (block
 *               bytes): the 4 f16 scales (row r's at byte 2r), then the level bytes in pieces
 *               of 16: piece k holds level bytes 4k .. 4k + 3 of every row, row r's at byte
 *               4r. One 128-bit load is the 4 rows' lanes of an SDOT by element (one token's
 *               4 activation bytes against 4 bytes of each row), and 8 pieces of Q8_0
 *               (4 of Q4_0) are a whole block of the group.
 * A matmul_il slot has the matmul contract on such a matrix (w_row_bytes is still the plain
 * row's size) and gives the bits its ISA's matmul slot gives on the rows (TLM_IL_LANES: the
 * same float error bound, and the same bits for any tokens and row splits). */
enum { TLM_IL_STEP = 16 }; /* elements per step of the float layouts */
enum { TLM_IL_STD = 0, TLM_IL_SDOT4 = 1, TLM_IL_LANES = 2 };
/* Rows per group of `type` in `layout`; 0: no such interleaved layout. */
int tlm_il_rows(int layout, int type);
/* Whether a rows x cols matrix of `type` can be interleaved in `layout`. */
bool tlm_il_fits(int layout, int type, int64_t rows, int64_t cols);
/* One group's rows (row_bytes each, at `rows`) into `group` (they must not overlap). */
void tlm_il_group(int layout, int type, void *group, const void *rows, uint64_t row_bytes);
/* Row r of a group back in plain form: row_bytes at `row`. */
void tlm_il_row(int layout, int type, void *row, const void *group, uint64_t row_bytes, int r);

/* The table for this CPU (filled on first call; thread-safe). Never NULL. */
const tlm_kernels *tlm_kernels_get(void);

/* Each fills `k` with reference kernels / overrides the slots it implements. Tests use
 * these to compare every SIMD slot with the reference. The add functions must only be
 * called when tlm_cpu_has() says the ISA is there. */
void tlm_kernels_init_ref(tlm_kernels *k);
void tlm_kernels_add_avx2(tlm_kernels *k);
void tlm_kernels_add_avx512(tlm_kernels *k);
void tlm_kernels_add_avx512vnni(tlm_kernels *k); /* after add_avx512, when VNNI is there too */
void tlm_kernels_add_avx512bf16(tlm_kernels *k); /* after add_avx512, with AVX512_BF16 */
/* AArch64 (only there): NEON, then dot product (SDOT), then i8mm (SMMLA), each on the last. */
void tlm_kernels_add_neon(tlm_kernels *k);
void tlm_kernels_add_dotprod(tlm_kernels *k);
void tlm_kernels_add_i8mm(tlm_kernels *k);

enum {
    TLM_CPU_AVX2 = 1,
    TLM_CPU_FMA = 2,
    TLM_CPU_F16C = 4,
    TLM_CPU_AVX512 = 8,
    TLM_CPU_AVX512_VNNI = 16,
    TLM_CPU_AVX512_BF16 = 32,
    TLM_CPU_AVX_VNNI = 64,
    /* AArch64: AdvSIMD, FEAT_DotProd (SDOT/UDOT), FEAT_I8MM (SMMLA) */
    TLM_CPU_NEON = 128,
    TLM_CPU_DOTPROD = 256,
    TLM_CPU_I8MM = 512
};

/* True if the CPU and OS support every feature in mask (x86: CPUID plus xgetbv; AArch64:
 * getauxval's HWCAP on Linux, sysctlbyname's hw.optional.arm.FEAT_* on macOS). AVX512 means
 * F + BW + VL + DQ with ZMM state enabled. */
bool tlm_cpu_has(unsigned mask);

/* Scalar conversions, exact (round-to-nearest-even for f32 -> f16/bf16). */
float tlm_f16_to_f32(uint16_t h);
uint16_t tlm_f32_to_f16(float f);
float tlm_bf16_to_f32(uint16_t h);
uint16_t tlm_f32_to_bf16(float f);

/* tlm_bf16_to_f32(tlm_f32_to_bf16(f)), inline and without branches so that a loop over an
 * array vectorizes (the BF16 rule's rounding of every BF16 projection's input). */
static inline float tlm_bf16_round(float f)
{
    union {
        float f;
        uint32_t u;
    } v = {f};
    const uint32_t even = (v.u + 0x7fffu + (v.u >> 16 & 1u)) & 0xffff0000u; /* Inf past max */
    const uint32_t nan = (v.u | 0x00400000u) & 0xffff0000u;                 /* made quiet */
    v.u = (v.u & 0x7fffffffu) > 0x7f800000u ? nan : even;
    return v.f;
}

#endif
