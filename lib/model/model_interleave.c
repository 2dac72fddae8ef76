/* model_interleave.c - after binding, rewrites the matrices that the kernel table reads
 * faster row-interleaved (kernels.h: matmul_il, in the table's il_layout: on x86 groups of 16
 * rows for the quantized types, of 4 for F16 and BF16 at AVX2 and 16 rows in the lanes at
 * AVX-512; on AArch64's dot-product levels groups of 4 for Q8_0 and Q4_0) into that layout. Decode
 * then streams a group at a time with plain vector loads.
 *
 * The groups go to one anonymous region asked for on 2 MiB pages (MADV_HUGEPAGE): decode reads
 * every weight once per token, and from the file's 4 KiB pages it paid a TLB miss per page
 * (TinyLlama F16 decode on Zen 5, 5 interleaved rounds: median 20.4 -> 21.6 tokens/s). The
 * rows they came from are not read again, so their whole pages are given back as each matrix
 * moves (MADV_DONTNEED: the file's pages drop out of the process, owned ones become empty),
 * and the model takes about the memory it took before. Without the region (no memory for it)
 * a matrix is rewritten in place, a group at a time: a group takes exactly its rows' bytes.
 *
 * A matrix is left as rows when its projection has a part whose rows are not whole groups of
 * 16 (the forward pass hands threads ranges aligned to 16 across the stacked parts), when the
 * embedding lookup reads it (tied embeddings), or when its bytes overlap another matrix's (a
 * hostile file may point two tensors at one place; rewriting both would scramble both). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ds.h"
#include "model.h"

typedef struct span {
    uint64_t lo, hi;
    tlm_matrix *w; /* NULL: read as rows whatever happens (the embedding) */
} span;

static uint64_t bytes_of(const tlm_matrix *w) { return w->row_bytes * (uint64_t)w->rows; }

static span span_of(tlm_matrix *w)
{
    uint64_t lo = (uint64_t)(uintptr_t)w->data;
    return (span){lo, lo + bytes_of(w), w};
}

static int by_start(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool takes_il(const tlm_kernels *k, const tlm_matrix *w)
{
    return k->matmul_il[w->type] && tlm_il_fits(k->il_layout[w->type], w->type, w->rows, w->cols);
}

/* The forward pass hands threads ranges of the stacked parts aligned to 16 rows; a part's
 * ranges then start on its own groups only when the parts before it are whole groups of 16,
 * so all parts must be (a range starting inside a group is right, but computes the group
 * whole for it). */
static bool proj_takes_il(const tlm_proj *p)
{
    for (int i = 0; i < p->n_parts; i++)
        if (p->part[i].rows % 16) return false;
    return true;
}

static void add_proj(span **spans, const tlm_kernels *k, tlm_proj *p)
{
    bool whole = proj_takes_il(p);
    for (int i = 0; i < p->n_parts; i++) {
        tlm_matrix *w = &p->part[i];
        span s = span_of(w);
        if (!whole || !takes_il(k, w)) s.w = NULL;
        arrput(*spans, s);
    }
}

enum { HUGE_PAGE = 2 << 20, REGION_ALIGN = 64 };

static uint64_t round_up(uint64_t x, uint64_t to) { return (x + to - 1) / to * to; }

/* The whole pages inside [p, p + n), which nothing reads any more, given back. */
static void release(const void *p, uint64_t n)
{
#ifdef MADV_DONTNEED
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    const uint64_t ps = (uint64_t)page;
    uintptr_t lo = (uintptr_t)round_up((uintptr_t)p, ps), hi = ((uintptr_t)p + n) / ps * ps;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
#else
    (void)p, (void)n;
#endif
}

/* Groups of w in `layout`, a group per step of each thread: into dst (then w points there),
 * or, with dst NULL, in place. */
static tlm_status interleave(tlm_matrix *w, int layout, int n_threads, uint8_t *dst, tlm_error *err)
{
    const int n = tlm_il_rows(layout, w->type);
    const uint64_t group_bytes = (uint64_t)n * w->row_bytes;
    const int64_t n_groups = w->rows / n;
    const uint8_t *src = w->data;
    if (dst) {
#pragma omp parallel for schedule(static) num_threads(n_threads)
        for (int64_t g = 0; g < n_groups; g++)
            tlm_il_group(layout, w->type, dst + (uint64_t)g * group_bytes,
                         src + (uint64_t)g * group_bytes, w->row_bytes);
        release(src, group_bytes * (uint64_t)n_groups);
        w->data = dst;
        w->il = (unsigned char)(1 + layout);
        return TLM_OK;
    }
    bool ok = true;
#pragma omp parallel num_threads(n_threads)
    {
        void *tmp = malloc(group_bytes);
#pragma omp atomic update
        ok &= tmp != NULL;
#pragma omp barrier
        if (ok) {
#pragma omp for schedule(static)
            for (int64_t g = 0; g < n_groups; g++) {
                uint8_t *at = (uint8_t *)w->data + (uint64_t)g * group_bytes;
                memcpy(tmp, at, group_bytes);
                tlm_il_group(layout, w->type, at, tmp, w->row_bytes);
            }
        }
        free(tmp);
    }
    if (!ok) return tlm_fail(err, TLM_ERR_NO_MEMORY, "out of memory interleaving weights");
    w->il = (unsigned char)(1 + layout);
    return TLM_OK;
}

tlm_status tlm_model_interleave(tlm_model *m, int n_threads, tlm_error *err)
{
    span *spans = NULL;
    arrput(spans, ((span){(uint64_t)(uintptr_t)m->embed.data,
                          (uint64_t)(uintptr_t)m->embed.data + bytes_of(&m->embed), NULL}));
    for (int l = 0; l < m->cfg.n_layers; l++) {
        tlm_block *b = &m->blocks[l];
        add_proj(&spans, m->k, &b->qkv);
        add_proj(&spans, m->k, &b->out);
        add_proj(&spans, m->k, &b->gate_up);
        add_proj(&spans, m->k, &b->down);
    }
    add_proj(&spans, m->k, &m->head);
    const ptrdiff_t n = arrlen(spans);
    qsort(spans, (size_t)n, sizeof *spans, by_start);
    /* the spans that move: those that overlap no other */
    uint64_t reach = 0, total = 0; /* end of the furthest span before i; bytes that move */
    for (ptrdiff_t i = 0; i < n; i++) {
        bool alone = spans[i].lo >= reach && (i + 1 == n || spans[i + 1].lo >= spans[i].hi);
        if (spans[i].hi > reach) reach = spans[i].hi;
        if (!alone || spans[i].hi == spans[i].lo) spans[i].w = NULL;
        /* disjoint spans of the address space: the sum cannot wrap */
        if (spans[i].w) total += round_up(spans[i].hi - spans[i].lo, REGION_ALIGN);
    }
    uint8_t *region = NULL;
    if (total > 0 && total <= SIZE_MAX / 2) {
        const size_t size = (size_t)round_up(total, HUGE_PAGE);
        void *r = NULL;
        if (posix_memalign(&r, HUGE_PAGE, size) == 0) {
            region = r;
            arrput(m->owned, r);
#ifdef MADV_HUGEPAGE
            madvise(r, size, MADV_HUGEPAGE);
#endif
        }
    }
    tlm_status st = TLM_OK;
    uint64_t at = 0;
    for (ptrdiff_t i = 0; i < n && st == TLM_OK; i++) {
        if (spans[i].w) {
            st = interleave(spans[i].w, m->k->il_layout[spans[i].w->type], n_threads,
                            region ? region + at : NULL, err);
            at += round_up(spans[i].hi - spans[i].lo, REGION_ALIGN);
        }
        /* the rewriting is most of a load's time: one report per matrix */
        float done = 0.05f + 0.9f * (float)(i + 1) / (float)n;
        if (st == TLM_OK && m->progress && !m->progress(m->progress_user, done))
            st = tlm_fail(err, TLM_ERR_CANCELLED, "loading cancelled by the progress callback");
    }
    arrfree(spans);
    return st;
}

const void *tlm_matrix_row(const tlm_matrix *w, int64_t r, void *buf)
{
    const uint8_t *d = w->data;
    if (!w->il) return d + (uint64_t)r * w->row_bytes;
    const int layout = w->il - 1, n = tlm_il_rows(layout, w->type);
    const uint8_t *group = d + (uint64_t)(r - r % n) * w->row_bytes;
    tlm_il_row(layout, w->type, buf, group, w->row_bytes, (int)(r % n));
    return buf;
}
