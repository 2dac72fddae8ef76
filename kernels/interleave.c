/* interleave.c - the row-interleaved ("il") layouts of kernels.h: written once at load
 * time, read back a row at a time when a model is saved. Plain byte moves: the values are
 * the file's, only their places change. */
#include <string.h>

#include "kernels.h"
#include "quant.h"

/* the 2-byte floats */
static bool is_half(int type) { return type == TLM_TYPE_F16 || type == TLM_TYPE_BF16; }

int tlm_il_rows(int type)
{
    return type == TLM_TYPE_Q8_0 || type == TLM_TYPE_Q4_0 ? 16 : is_half(type) ? 4 : 0;
}

bool tlm_il_fits(int type, int64_t rows, int64_t cols)
{
    const int n = tlm_il_rows(type);
    return n > 0 && rows > 0 && rows % n == 0 && (!is_half(type) || cols % TLM_IL_STEP == 0);
}

/* The layout as runs of bytes: run i of a row goes to its own place in the group. Floats: a
 * run is a step of 16 elements. Quant blocks: the 2-byte scale, then 4-byte level pieces. */
typedef struct layout {
    int n_rows, step;   /* rows per group; bytes per float step */
    int block, pieces;  /* bytes per quant block (0 for floats); level pieces per block */
    int64_t n_runs;     /* runs per row */
} layout;

static layout layout_of(int type, uint64_t row_bytes)
{
    if (is_half(type)) {
        const int step = TLM_IL_STEP * 2;
        return (layout){4, step, 0, 0, (int64_t)(row_bytes / (uint64_t)step)};
    }
    const int block = type == TLM_TYPE_Q8_0 ? (int)sizeof(block_q8_0) : (int)sizeof(block_q4_0);
    const int pieces = (block - 2) / 4;
    return (layout){16, 0, block, pieces, (int64_t)(row_bytes / (uint64_t)block) * (1 + pieces)};
}

/* Run i of row r: its bytes at *from in the row go to *at in the group; returns its length. */
static uint64_t run_at(const layout *L, int64_t i, int r, uint64_t *at, uint64_t *from)
{
    if (!L->block) {
        *at = (uint64_t)(i * L->n_rows + r) * (uint64_t)L->step;
        *from = (uint64_t)i * (uint64_t)L->step;
        return (uint64_t)L->step;
    }
    const int64_t u = i / (1 + L->pieces);
    const int k = (int)(i % (1 + L->pieces));
    const uint64_t g = (uint64_t)u * 16 * (uint64_t)L->block, o = (uint64_t)u * (uint64_t)L->block;
    if (k == 0) { /* the 16 scales lead the group's block */
        *at = g + 2 * (uint64_t)r;
        *from = o;
        return 2;
    }
    *at = g + 32 + 64 * (uint64_t)(k - 1) + 4 * (uint64_t)r;
    *from = o + 2 + 4 * (uint64_t)(k - 1);
    return 4;
}

void tlm_il_group(int type, void *group, const void *rows, uint64_t row_bytes)
{
    const layout L = layout_of(type, row_bytes);
    uint64_t at, from;
    for (int r = 0; r < L.n_rows; r++) {
        const uint8_t *row = (const uint8_t *)rows + (uint64_t)r * row_bytes;
        for (int64_t i = 0; i < L.n_runs; i++) {
            uint64_t n = run_at(&L, i, r, &at, &from);
            memcpy((uint8_t *)group + at, row + from, (size_t)n);
        }
    }
}

void tlm_il_row(int type, void *row, const void *group, uint64_t row_bytes, int r)
{
    const layout L = layout_of(type, row_bytes);
    uint64_t at, from;
    for (int64_t i = 0; i < L.n_runs; i++) {
        uint64_t n = run_at(&L, i, r, &at, &from);
        memcpy((uint8_t *)row + from, (const uint8_t *)group + at, (size_t)n);
    }
}
