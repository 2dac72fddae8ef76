/* qmatmul_slots.h - the end of qmatmul_avx2.c and qmatmul_avx512vnni.c: their per-type pack
 * and gemv functions, tiles for every token count and the matmul slots, from what the file
 * defined: NR (tokens per tile), pack_units, gemv_units, gemv_il_q8_0 / _q4_0,
 * pack_il_q8_0 / _q4_0, gemm_il_q8_0 / _q4_0 with NB_SMALL (tokens per gemm pass), the tile
 * body of each type TILE_SHAPE_<TYPE> and QMATMUL_FN(name), its suffix; where defined,
 * GEMM_IL_KA (gemm_il_q4_K / _q5_K, NB_SMALL_K) and GEMM_IL_K6 (gemm_il_q6_K, NB_SMALL_K6)
 * give those il types their small-batch kernels. */

/* Full groups take the base-and-stride loads, partial ones the row list. */
#define PACK_FN(name, type)                                                                        \
    static void name(void *dst, const char *w, uint64_t w_row_bytes, int rows, int64_t u0,         \
                     int64_t n_units)                                                              \
    {                                                                                              \
        group g;                                                                                   \
        if (rows == TLM_QROWS) {                                                                   \
            group_init(&g, true, w, w_row_bytes, rows);                                            \
            pack_units(type, true, dst, &g, u0, n_units);                                          \
        } else {                                                                                   \
            group_init(&g, false, w, w_row_bytes, rows);                                           \
            pack_units(type, false, dst, &g, u0, n_units);                                         \
        }                                                                                          \
    }

#define GEMV_FN(name, type)                                                                        \
    static void name(float *y, int rows, bool accumulate, const char *w, uint64_t w_row_bytes,     \
                     int64_t u0, int64_t n_units, const char *xq, const char *next)                \
    {                                                                                              \
        group g;                                                                                   \
        if (rows == TLM_QROWS) {                                                                   \
            group_init(&g, true, w, w_row_bytes, rows);                                            \
            gemv_units(type, true, y, rows, accumulate, &g, u0, n_units, xq, next);                \
        } else {                                                                                   \
            group_init(&g, false, w, w_row_bytes, rows);                                           \
            gemv_units(type, false, y, rows, accumulate, &g, u0, n_units, xq, next);               \
        }                                                                                          \
    }

/* The K-quants on interleaved groups (every group whole; lanes past `rows` not stored). */
#define IL_K_FNS(suffix, type)                                                                     \
    static void gemv_il_##suffix(float *y, int rows, bool accumulate, const char *w,               \
                                 uint64_t w_row_bytes, int64_t u0, int64_t n_units,                \
                                 const char *xq, const char *next)                                 \
    {                                                                                              \
        group g;                                                                                   \
        group_init_il(&g, w, w_row_bytes, sizeof(block_##suffix));                                 \
        gemv_units(type, true, y, rows, accumulate, &g, u0, n_units, xq, next);                    \
    }                                                                                              \
    static void pack_il_##suffix(void *dst, const char *w, uint64_t w_row_bytes, int rows,         \
                                 int64_t u0, int64_t n_units)                                      \
    {                                                                                              \
        group g;                                                                                   \
        group_init_il(&g, w, w_row_bytes, sizeof(block_##suffix));                                 \
        pack_units(type, true, dst, &g, u0, n_units);                                              \
    }

PACK_FN(pack_q8_0, TLM_DT_Q8_0)
PACK_FN(pack_q4_0, TLM_DT_Q4_0)
PACK_FN(pack_q4_K, TLM_DT_Q4_K)
PACK_FN(pack_q5_K, TLM_DT_Q5_K)
PACK_FN(pack_q6_K, TLM_DT_Q6_K)

GEMV_FN(gemv_q8_0, TLM_DT_Q8_0)
GEMV_FN(gemv_q4_0, TLM_DT_Q4_0)
GEMV_FN(gemv_q4_K, TLM_DT_Q4_K)
GEMV_FN(gemv_q5_K, TLM_DT_Q5_K)
GEMV_FN(gemv_q6_K, TLM_DT_Q6_K)

IL_K_FNS(q4_K, TLM_DT_Q4_K)
IL_K_FNS(q5_K, TLM_DT_Q5_K)
IL_K_FNS(q6_K, TLM_DT_Q6_K)

/* The tile for any nr <= NR: one body per shape, chosen once per call (cases from NR up fall
 * through to the NR body, so that any NR up to 12 compiles). */
#define SHAPE_CASE(shape, n)                                                                       \
    case n:                                                                                        \
        if ((n) < NR) {                                                                            \
            shape((n) < NR ? (n) : NR, y, ldy, rows, accumulate, packed, n_units, xq, xs);         \
            break;                                                                                 \
        }                                                                                          \
        __attribute__((fallthrough));
#define TILE_DISPATCH(name, shape)                                                                 \
    static void name(float *y, int64_t ldy, int rows, bool accumulate, int nr, const void *packed, \
                     int64_t n_units, const char *xq, int64_t xs)                                  \
    {                                                                                              \
        switch (nr) {                                                                              \
            SHAPE_CASE(shape, 1)                                                                   \
            SHAPE_CASE(shape, 2)                                                                   \
            SHAPE_CASE(shape, 3)                                                                   \
            SHAPE_CASE(shape, 4)                                                                   \
            SHAPE_CASE(shape, 5)                                                                   \
            SHAPE_CASE(shape, 6)                                                                   \
            SHAPE_CASE(shape, 7)                                                                   \
            SHAPE_CASE(shape, 8)                                                                   \
            SHAPE_CASE(shape, 9)                                                                   \
            SHAPE_CASE(shape, 10)                                                                  \
            SHAPE_CASE(shape, 11)                                                                  \
        default:                                                                                   \
            shape(NR, y, ldy, rows, accumulate, packed, n_units, xq, xs);                          \
            break;                                                                                 \
        }                                                                                          \
    }

TILE_DISPATCH(tile_q8_0, TILE_SHAPE_Q8_0)
TILE_DISPATCH(tile_q4_0, TILE_SHAPE_Q4_0)
TILE_DISPATCH(tile_q4_K, TILE_SHAPE_Q4_K)
TILE_DISPATCH(tile_q5_K, TILE_SHAPE_Q5_K)
TILE_DISPATCH(tile_q6_K, TILE_SHAPE_Q6_K)

/* ---- the matmul slots --------------------------------------------------------------------- */

#define OPS_INIT(type, unit_, pack_bytes_, x_type, quantize, pack_, tile_, gemv_)                  \
    .unit = unit_, .unit_bytes = sizeof(block_##type), .pack_bytes = pack_bytes_,                  \
    .x_bytes = sizeof(x_type), .nr = NR, .quantize_x = quantize, .pack = pack_, .tile = tile_,     \
    .gemv = gemv_
#define OPS(name, ...) static const tlm_qmatmul_ops name = {OPS_INIT(__VA_ARGS__)};
/* with a small-batch kernel (nb_ tokens per pass) */
#define OPS_SMALL(name, gemm_, nb_, ...)                                                           \
    static const tlm_qmatmul_ops name = {OPS_INIT(__VA_ARGS__), .gemm = gemm_, .nb = nb_};

OPS(ops_q8_0, q8_0, 32, PACK32, xq32, quantize_x_q8_0, pack_q8_0, tile_q8_0, gemv_q8_0)
OPS(ops_q4_0, q4_0, 32, PACK32, xq32, quantize_x_q4_0, pack_q4_0, tile_q4_0, gemv_q4_0)
OPS(ops_q4_K, q4_K, 256, PACK_KA, xq256, quantize_x256, pack_q4_K, tile_q4_K, gemv_q4_K)
OPS(ops_q5_K, q5_K, 256, PACK_KA, xq256, quantize_x256, pack_q5_K, tile_q5_K, gemv_q5_K)
OPS(ops_q6_K, q6_K, 256, PACK_K6, xq256, quantize_x256, pack_q6_K, tile_q6_K, gemv_q6_K)
OPS_SMALL(ops_il_q8_0, gemm_il_q8_0, NB_SMALL, q8_0, 32, PACK32, xq32, quantize_x_q8_0,
          pack_il_q8_0, tile_q8_0, gemv_il_q8_0)
OPS_SMALL(ops_il_q4_0, gemm_il_q4_0, NB_SMALL, q4_0, 32, PACK32, xq32, quantize_x_q4_0,
          pack_il_q4_0, tile_q4_0, gemv_il_q4_0)
#ifdef GEMM_IL_KA
OPS_SMALL(ops_il_q4_K, gemm_il_q4_K, NB_SMALL_K, q4_K, 256, PACK_KA, xq256, quantize_x256,
          pack_il_q4_K, tile_q4_K, gemv_il_q4_K)
OPS_SMALL(ops_il_q5_K, gemm_il_q5_K, NB_SMALL_K, q5_K, 256, PACK_KA, xq256, quantize_x256,
          pack_il_q5_K, tile_q5_K, gemv_il_q5_K)
#else
OPS(ops_il_q4_K, q4_K, 256, PACK_KA, xq256, quantize_x256, pack_il_q4_K, tile_q4_K, gemv_il_q4_K)
OPS(ops_il_q5_K, q5_K, 256, PACK_KA, xq256, quantize_x256, pack_il_q5_K, tile_q5_K, gemv_il_q5_K)
#endif
#ifdef GEMM_IL_K6
OPS_SMALL(ops_il_q6_K, gemm_il_q6_K, NB_SMALL_K6, q6_K, 256, PACK_K6, xq256, quantize_x256,
          pack_il_q6_K, tile_q6_K, gemv_il_q6_K)
#else
OPS(ops_il_q6_K, q6_K, 256, PACK_K6, xq256, quantize_x256, pack_il_q6_K, tile_q6_K, gemv_il_q6_K)
#endif

TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_q8_0), tlm_qmatmul_blocked, ops_q8_0)
TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_q4_0), tlm_qmatmul_blocked, ops_q4_0)
TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_q4_K), tlm_qmatmul_blocked, ops_q4_K)
TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_q5_K), tlm_qmatmul_blocked, ops_q5_K)
TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_q6_K), tlm_qmatmul_blocked, ops_q6_K)

TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_il_q8_0), tlm_qmatmul_il, ops_il_q8_0)
TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_il_q4_0), tlm_qmatmul_il, ops_il_q4_0)
TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_il_q4_K), tlm_qmatmul_il, ops_il_q4_K)
TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_il_q5_K), tlm_qmatmul_il, ops_il_q5_K)
TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_il_q6_K), tlm_qmatmul_il, ops_il_q6_K)
