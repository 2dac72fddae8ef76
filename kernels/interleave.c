/* interleave.c - the row-interleaved ("x16") layout of Q8_0 and Q4_0 matrices (kernels.h):
 * written once at load time, read back a row at a time when a model is saved. Plain byte
 * moves: the values are GGUF's, only their places change. */
#include <string.h>

#include "kernels.h"
#include "quant.h"

bool tlm_x16_type(int type) { return type == TLM_TYPE_Q8_0 || type == TLM_TYPE_Q4_0; }

static int block_bytes(int type)
{
    return type == TLM_TYPE_Q8_0 ? (int)sizeof(block_q8_0) : (int)sizeof(block_q4_0);
}

/* Where byte i of block u of row r goes in the group (i = 0, 1 is the scale). */
static uint64_t x16_at(int bb, int64_t u, int r, int i)
{
    uint64_t unit = (uint64_t)u * TLM_X16_ROWS * (uint64_t)bb;
    if (i < 2) return unit + 2 * (uint64_t)r + (uint64_t)i;
    int q = i - 2; /* level byte q: piece q / 4, byte q % 4 of row r's dword */
    return unit + 2 * TLM_X16_ROWS + 4 * TLM_X16_ROWS * (uint64_t)(q / 4) + 4 * (uint64_t)r +
           (uint64_t)(q % 4);
}

void tlm_x16_group(int type, void *group, const void *rows, uint64_t row_bytes)
{
    const int bb = block_bytes(type);
    const int64_t n_blocks = (int64_t)(row_bytes / (uint64_t)bb);
    uint8_t *g = group;
    for (int r = 0; r < TLM_X16_ROWS; r++) {
        const uint8_t *row = (const uint8_t *)rows + (uint64_t)r * row_bytes;
        for (int64_t u = 0; u < n_blocks; u++)
            for (int i = 0; i < bb; i++) g[x16_at(bb, u, r, i)] = row[(uint64_t)u * bb + i];
    }
}

void tlm_x16_row(int type, void *row, const void *group, uint64_t row_bytes, int r)
{
    const int bb = block_bytes(type);
    const int64_t n_blocks = (int64_t)(row_bytes / (uint64_t)bb);
    const uint8_t *g = group;
    uint8_t *o = row;
    for (int64_t u = 0; u < n_blocks; u++)
        for (int i = 0; i < bb; i++) o[(uint64_t)u * bb + i] = g[x16_at(bb, u, r, i)];
}
