/* interleave.c - the row-interleaved ("il") layouts of kernels.h (which one: the kernel
 * table's il_layout, chosen by the ISA): written once at load time, read back a row at a
 * time when a model is saved. Plain byte moves: the values are
 * the file's, only their places change. */
#include <string.h>

#include "kernels.h"
#include "quant.h"
#include "quant_b32.h"

/* the 2-byte floats */
static bool is_half(int type) { return type == TLM_DT_F16 || type == TLM_DT_BF16; }

static bool is_k(int type)
{
    return type == TLM_DT_Q4_K || type == TLM_DT_Q5_K || type == TLM_DT_Q6_K ||
           type == TLM_DT_Q2_K || type == TLM_DT_Q3_K || type == TLM_DT_IQ4_XS;
}

/* the blocks of 32 of quant_b32.h (Q4_1 and Q5_1 are whole dwords, Q5_0 and IQ4_NL a scale
 * and dwords, as Q4_0) */
static bool is_b32(int type)
{
    return type == TLM_DT_Q4_1 || type == TLM_DT_Q5_0 || type == TLM_DT_Q5_1 ||
           type == TLM_DT_IQ4_NL;
}

static bool in_dwords(int type) { return is_k(type) || type == TLM_DT_Q4_1 || type == TLM_DT_Q5_1; }

int tlm_il_rows(int layout, int type)
{
    if (layout == TLM_IL_LANES) return is_half(type) ? 16 : 0;
    if (layout == TLM_IL_SDOT4) return type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0 ? 4 : 0;
    if (type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0 || is_k(type) || is_b32(type)) return 16;
    return is_half(type) ? 4 : 0;
}

bool tlm_il_fits(int layout, int type, int64_t rows, int64_t cols)
{
    const int n = tlm_il_rows(layout, type);
    return n > 0 && rows > 0 && rows % n == 0 &&
           (!is_half(type) || layout == TLM_IL_LANES || cols % TLM_IL_STEP == 0);
}

/* The layout as runs of bytes: run i of a row goes to its own place in the group. */
typedef enum { HALF_STEPS, SCALE_FIRST, DWORDS } kind;
typedef struct layout {
    kind kind;
    int n_rows, run; /* rows per group; bytes of a float run (a step or an element) */
    int block, per;  /* bytes per quant block; runs per block */
    int64_t n_runs;  /* runs per row */
} layout;

static int block_bytes(int type)
{
    switch (type) {
    case TLM_DT_Q8_0:
        return (int)sizeof(block_q8_0);
    case TLM_DT_Q4_0:
        return (int)sizeof(block_q4_0);
    case TLM_DT_Q4_1:
        return (int)sizeof(block_q4_1);
    case TLM_DT_Q5_0:
        return (int)sizeof(block_q5_0);
    case TLM_DT_Q5_1:
        return (int)sizeof(block_q5_1);
    case TLM_DT_IQ4_NL:
        return (int)sizeof(block_iq4_nl);
    case TLM_DT_Q4_K:
        return (int)sizeof(block_q4_K);
    case TLM_DT_Q5_K:
        return (int)sizeof(block_q5_K);
    case TLM_DT_Q2_K:
        return (int)sizeof(block_q2_K);
    case TLM_DT_Q3_K:
        return (int)sizeof(block_q3_K);
    case TLM_DT_IQ4_XS:
        return (int)sizeof(block_iq4_xs);
    default:
        return (int)sizeof(block_q6_K);
    }
}

static layout layout_of(int il, int type, uint64_t row_bytes)
{
    if (is_half(type)) { /* 4 rows by steps of 16 elements; TLM_IL_LANES: 16 by elements */
        const bool lanes = il == TLM_IL_LANES;
        const int run = lanes ? 2 : 2 * TLM_IL_STEP;
        return (layout){
            HALF_STEPS, lanes ? 16 : 4, run, 0, 1, (int64_t)(row_bytes / (uint64_t)run)};
    }
    const int block = block_bytes(type);
    const int64_t n_blocks = (int64_t)(row_bytes / (uint64_t)block);
    if (in_dwords(type)) { /* dwords, then Q6_K's and Q3_K's odd 2 bytes */
        const int per = block / 4 + (block % 4 ? 1 : 0);
        return (layout){DWORDS, 16, 0, block, per, n_blocks * per};
    }
    const int per = 1 + (block - 2) / 4; /* the 2-byte scale, then 4-byte level pieces */
    return (layout){SCALE_FIRST, tlm_il_rows(il, type), 0, block, per, n_blocks * per};
}

/* Run i of row r: its bytes at *from in the row go to *at in the group; returns its length. */
static uint64_t run_at(const layout *L, int64_t i, int r, uint64_t *at, uint64_t *from)
{
    if (L->kind == HALF_STEPS) {
        *at = (uint64_t)(i * L->n_rows + r) * (uint64_t)L->run;
        *from = (uint64_t)i * (uint64_t)L->run;
        return (uint64_t)L->run;
    }
    const int64_t u = i / L->per;
    const int k = (int)(i % L->per);
    const uint64_t n = (uint64_t)L->n_rows;
    const uint64_t g = (uint64_t)u * n * (uint64_t)L->block, o = (uint64_t)u * (uint64_t)L->block;
    if (L->kind == DWORDS) {
        *at = g + 64 * (uint64_t)k + (uint64_t)(4 * k + 4 <= L->block ? 4 * r : 2 * r);
        *from = o + 4 * (uint64_t)k;
        return 4 * k + 4 <= L->block ? 4 : 2;
    }
    if (k == 0) { /* the group's scales lead its block */
        *at = g + 2 * (uint64_t)r;
        *from = o;
        return 2;
    }
    *at = g + 2 * n + 4 * n * (uint64_t)(k - 1) + 4 * (uint64_t)r;
    *from = o + 2 + 4 * (uint64_t)(k - 1);
    return 4;
}

void tlm_il_group(int il, int type, void *group, const void *rows, uint64_t row_bytes)
{
    const layout L = layout_of(il, type, row_bytes);
    uint64_t at, from;
    for (int r = 0; r < L.n_rows; r++) {
        const uint8_t *row = (const uint8_t *)rows + (uint64_t)r * row_bytes;
        for (int64_t i = 0; i < L.n_runs; i++) {
            uint64_t n = run_at(&L, i, r, &at, &from);
            memcpy((uint8_t *)group + at, row + from, (size_t)n);
        }
    }
}

void tlm_il_row(int il, int type, void *row, const void *group, uint64_t row_bytes, int r)
{
    const layout L = layout_of(il, type, row_bytes);
    uint64_t at, from;
    for (int64_t i = 0; i < L.n_runs; i++) {
        uint64_t n = run_at(&L, i, r, &at, &from);
        memcpy((uint8_t *)row + from, (const uint8_t *)group + at, (size_t)n);
    }
}
