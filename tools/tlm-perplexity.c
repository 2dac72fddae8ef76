/* tlm-perplexity - perplexity of a model over a text, and the KL divergence of one model's
 * next-token distributions from another's (a quantized model against its float original).
 * The two scoring methods (llama.cpp's chunks, Hugging Face's sliding window) and the
 * --save-logits file layout are described in docs/quality.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "imatrix_out.h"

#define LP_MAGIC "TLMLOGPR"
#define LP_VERSION 1u
#define LP_HEADER_BYTES 56u
enum { MODE_CHUNKS = 1, MODE_STRIDE = 2 };

static void usage(void)
{
    fprintf(
        stderr,
        "usage: tlm-perplexity -m MODEL [-z TOKENIZER] -f TEXT [options]\n"
        "       tlm-perplexity -m MODEL --kl-divergence BASE [-f TEXT] [options]\n"
        "  MODEL: a GGUF file, a llama2.c .bin (with -z tok.bin) or a Hugging Face directory\n"
        "  -f FILE            the text (UTF-8), tokenized with BOS first when the tokenizer\n"
        "                     adds one\n"
        "  -c N               context (window) length in tokens (default 512, at most the\n"
        "                     training context)\n"
        "  chunks (default, llama.cpp's method): the tokens are cut into floor(n/N) chunks of\n"
        "                     N; each is evaluated from an empty cache, its first token\n"
        "                     replaced by BOS when the tokenizer adds BOS; only positions\n"
        "                     N/2 .. N-2 are scored (each predicting the next token), so every\n"
        "                     scored token has at least N/2 tokens of context. Needs 2N tokens.\n"
        "  --stride S         Hugging Face's sliding window instead: windows of N tokens start\n"
        "                     at 0, S, 2S, ... until one reaches the end of the text; each\n"
        "                     scores only the tokens no earlier window scored, the first all\n"
        "                     but its first token (1 <= S <= N; tokens are used as they are,\n"
        "                     no BOS is put at a window's start)\n"
        "  --chunks K         evaluate at most K chunks (windows)\n"
        "  --save-logits FILE write every scored position's log-softmax (float32 [n_vocab]) with\n"
        "                     a header holding the token ids, for a later --kl-divergence\n"
        "  --kl-divergence BASE\n"
        "                     evaluate the windows and tokens of BASE (a --save-logits file,\n"
        "                     made by the reference model); report mean KL(base || this) per\n"
        "                     token +/- its standard error, top-1 agreement and both\n"
        "                     perplexities. -c/--stride/-f, when given, must agree with BASE.\n"
        "  --imatrix-out FILE collect an importance matrix over the chunks (every token of each\n"
        "                     chunk, BOS first as above) and write it in llama.cpp's imatrix\n"
        "                     .dat layout, for tlm-quantize --imatrix (chunks mode only)\n"
        "  --process-output   with --imatrix-out: also the LM head (output.weight)\n"
        "  -t THREADS, -b BATCH, --no-progress\n" CONTEXT_USAGE
        "result: ppl = exp(mean NLL); +/- is ppl * sqrt(var(NLL) / (n - 1)), var over the n\n"
        "scored tokens. The last stdout line reads\n"
        "  ppl = P +/- E (N tokens, C chunks)\n");
}

typedef struct options {
    model_source src;
    const char *tok_path, *text_path, *save_path, *kl_path, *imatrix_path;
    bool process_output;
    long long n_ctx, stride, max_chunks, n_threads, n_batch;
    bool progress;
    tlm_context_params cp;
} options;

/* Which tokens are evaluated and scored: the same rule for saving and for KL runs. */
typedef struct plan {
    int mode;
    int32_t n_ctx, stride, bos; /* bos < 0: first token of a chunk kept */
    int64_t n_tokens, n_windows;
} plan;

typedef struct window {
    int64_t begin; /* first token of the window in the text */
    int32_t len;   /* tokens in the window */
    int32_t first; /* first scored row: row j predicts token begin + j + 1 */
    int32_t n_scored;
} window;

static int64_t max_windows(const plan *p)
{
    if (p->mode == MODE_CHUNKS) return p->n_tokens / p->n_ctx;
    if (p->n_tokens <= p->n_ctx) return 1;
    return (p->n_tokens - p->n_ctx + p->stride - 1) / p->stride + 1;
}

static window window_at(const plan *p, int64_t w)
{
    window win;
    if (p->mode == MODE_CHUNKS) {
        win.begin = w * p->n_ctx;
        win.len = p->n_ctx;
        win.first = p->n_ctx / 2;
        win.n_scored = p->n_ctx - 1 - win.first;
        return win;
    }
    int64_t begin = w * p->stride, end = begin + p->n_ctx;
    if (end > p->n_tokens) end = p->n_tokens;
    int64_t prev_end = w == 0 ? 0 : (w - 1) * p->stride + p->n_ctx;
    if (prev_end > p->n_tokens) prev_end = p->n_tokens;
    int64_t t0 = prev_end > begin + 1 ? prev_end : begin + 1; /* first target token */
    win.begin = begin;
    win.len = (int32_t)(end - begin);
    win.first = (int32_t)(t0 - 1 - begin);
    win.n_scored = (int32_t)(end - t0);
    return win;
}

static int64_t total_scored(const plan *p)
{
    int64_t n = 0;
    for (int64_t w = 0; w < p->n_windows; w++)
        n += window_at(p, w).n_scored;
    return n;
}

/* ---- statistics ------------------------------------------------------------------------ */

/* Mean of x[0..n) and the standard error of that mean, sqrt(var / (n - 1)) with the
 * population variance var (llama.cpp's formula; equal to the sample sd / sqrt(n)). */
static void mean_stderr(const double *x, int64_t n, double *mean, double *se)
{
    double s = 0, v = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    *mean = n > 0 ? s / (double)n : 0;
    for (int64_t i = 0; i < n; i++)
        v += (x[i] - *mean) * (x[i] - *mean);
    *se = n > 1 ? sqrt(v / (double)n / (double)(n - 1)) : 0;
}

/* ---- small I/O helpers ----------------------------------------------------------------- */

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t get_u64(const unsigned char *b)
{
    return (uint64_t)get_u32(b) | (uint64_t)get_u32(b + 4) << 32;
}

static bool host_is_little_endian(void)
{
    uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            char *b = cap < ((size_t)1 << 30) ? realloc(buf, 2 * cap + 1) : NULL;
            if (!b) {
                fprintf(stderr, "error: %s: too large (over 1 GiB) or out of memory\n", path);
                free(buf);
            }
            buf = b;
            cap *= 2;
        }
    }
    bool bad = ferror(fp);
    fclose(fp);
    if (buf && bad) {
        fprintf(stderr, "error: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    if (buf) buf[n] = '\0';
    return buf;
}

static int32_t *tokenize_text(const tlm_tokenizer *tok, const char *text, int64_t *n_out)
{
    bool bos = tlm_tokenizer_adds_bos(tok);
    int32_t need = 0;
    tlm_status st = tlm_tokenize(tok, text, bos, NULL, 0, &need);
    int32_t *ids = (st == TLM_OK || st == TLM_ERR_BUFFER_TOO_SMALL) && need >= 0
                       ? malloc(((size_t)need + 1) * sizeof *ids)
                       : NULL;
    int32_t n = 0;
    if (ids && tlm_tokenize(tok, text, bos, ids, need, &n) == TLM_OK) {
        *n_out = n;
        return ids;
    }
    fprintf(stderr, "error: cannot tokenize the text: %s\n", tlm_status_string(st));
    free(ids);
    return NULL;
}

static void progress(const options *o, int64_t done, int64_t total, const char *unit,
                     double nll_sum, int64_t n, double t0)
{
    if (!o->progress) return;
    /* a terminal gets a bar redrawn in place; a log gets a line every tenth of the way */
    static int last_tenth = -1;
    bool tty = isatty(fileno(stderr));
    int tenth = total > 0 ? (int)(10 * done / total) : 10;
    if (!tty && tenth == last_tenth && done != total) return;
    last_tenth = tenth;
    int width = 30, fill = total > 0 ? (int)(width * done / total) : width;
    fprintf(stderr, tty ? "\r[" : "[");
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld %s", (long long)done, (long long)total, unit);
    if (n > 0) fprintf(stderr, "  ppl %.4f", exp(nll_sum / (double)n));
    fprintf(stderr, "  %.1f s", now_seconds() - t0);
    if (done == total || !tty) fputc('\n', stderr);
    fflush(stderr);
}

/* ---- the --save-logits file ------------------------------------------------------------ */

static bool save_header(FILE *fp, const plan *p, int32_t n_vocab, int64_t n_scored,
                        const int32_t *tokens)
{
    unsigned char h[LP_HEADER_BYTES] = {0};
    memcpy(h, LP_MAGIC, 8);
    put_u32(h + 8, LP_VERSION);
    put_u32(h + 12, (uint32_t)p->mode);
    put_u32(h + 16, (uint32_t)n_vocab);
    put_u32(h + 20, (uint32_t)p->n_ctx);
    put_u32(h + 24, (uint32_t)p->stride);
    put_u32(h + 28, (uint32_t)p->bos);
    put_u64(h + 32, (uint64_t)p->n_tokens);
    put_u64(h + 40, (uint64_t)p->n_windows);
    put_u64(h + 48, (uint64_t)n_scored);
    if (fwrite(h, 1, sizeof h, fp) != sizeof h) return false;
    for (int64_t i = 0; i < p->n_tokens; i++) {
        unsigned char b[4];
        put_u32(b, (uint32_t)tokens[i]);
        if (fwrite(b, 1, 4, fp) != 4) return false;
    }
    return true;
}

/* Opens and checks a --save-logits file against this model; on success the stream is at
 * the first row, *p holds its plan and *tokens its ids (malloc'd). Every field is checked
 * before it is used: the file is untrusted. */
static FILE *open_base(const char *path, int32_t n_vocab, plan *p, int32_t **tokens)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    unsigned char h[LP_HEADER_BYTES];
    const char *why = NULL;
    char msg[256];
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode))
        why = "not a regular file";
    else if (fread(h, 1, sizeof h, fp) != sizeof h || memcmp(h, LP_MAGIC, 8) != 0)
        why = "not a tlm-perplexity --save-logits file (bad magic or shorter than the header)";
    else if (get_u32(h + 8) != LP_VERSION) {
        snprintf(msg, sizeof msg, "file version %u, this tool reads version %u", get_u32(h + 8),
                 LP_VERSION);
        why = msg;
    }
    uint32_t mode = why ? 0 : get_u32(h + 12), file_vocab = why ? 0 : get_u32(h + 16);
    uint32_t n_ctx = why ? 0 : get_u32(h + 20), stride = why ? 0 : get_u32(h + 24);
    int32_t bos = why ? 0 : (int32_t)get_u32(h + 28);
    uint64_t n_tok = why ? 0 : get_u64(h + 32), n_win = why ? 0 : get_u64(h + 40);
    uint64_t n_scored = why ? 0 : get_u64(h + 48);
    if (why) {
    } else if (mode != MODE_CHUNKS && mode != MODE_STRIDE) {
        snprintf(msg, sizeof msg, "mode %u at byte 12 is neither 1 (chunks) nor 2 (stride)", mode);
        why = msg;
    } else if (file_vocab != (uint32_t)n_vocab) {
        snprintf(msg, sizeof msg,
                 "made with a model of %u vocabulary entries, this model has %d: not the same "
                 "vocabulary",
                 file_vocab, n_vocab);
        why = msg;
    } else if (n_ctx < 4 || n_ctx > (1u << 22) ||
               (mode == MODE_STRIDE ? stride < 1 || stride > n_ctx : stride != 0)) {
        snprintf(msg, sizeof msg, "context %u / stride %u (bytes 20..27) out of range", n_ctx,
                 stride);
        why = msg;
    } else if (bos < -1 || bos >= n_vocab) {
        snprintf(msg, sizeof msg, "BOS id %d at byte 28 is outside [-1, %d)", bos, n_vocab);
        why = msg;
    } else if (n_tok < 2 || n_tok > (1ull << 31) - 1) {
        snprintf(msg, sizeof msg, "token count %llu at byte 32 out of range",
                 (unsigned long long)n_tok);
        why = msg;
    }
    if (!why) {
        p->mode = (int)mode;
        p->n_ctx = (int32_t)n_ctx;
        p->stride = (int32_t)stride;
        p->bos = bos;
        p->n_tokens = (int64_t)n_tok;
        p->n_windows = max_windows(p);
        /* the ids must fit in the file before their windows are counted: that bounds the
         * count by the file's real size */
        if ((uint64_t)sb.st_size < LP_HEADER_BYTES + 4 * n_tok) {
            snprintf(msg, sizeof msg, "%lld bytes, too short for its %llu token ids (truncated)",
                     (long long)sb.st_size, (unsigned long long)n_tok);
            why = msg;
        } else if (n_win < 1 || n_win > (uint64_t)p->n_windows) {
            snprintf(msg, sizeof msg, "%llu windows at byte 40, but %lld tokens make %lld",
                     (unsigned long long)n_win, (long long)n_tok, (long long)p->n_windows);
            why = msg;
        } else {
            p->n_windows = (int64_t)n_win;
            uint64_t want = (uint64_t)total_scored(p);
            /* header + ids + rows; n_scored <= 2^31 windows * 2^22, n_vocab < 2^31: the
             * product of the last two can overflow, so it is checked */
            uint64_t rows = 0, size = LP_HEADER_BYTES + 4 * n_tok;
            bool overflow =
                want != n_scored || (uint64_t)n_vocab > UINT64_MAX / 4 / (n_scored ? n_scored : 1);
            if (!overflow) rows = n_scored * 4 * (uint64_t)n_vocab;
            if (want != n_scored) {
                snprintf(msg, sizeof msg,
                         "%llu scored positions at byte 48, but its windows "
                         "score %llu",
                         (unsigned long long)n_scored, (unsigned long long)want);
                why = msg;
            } else if (overflow || rows > UINT64_MAX - size ||
                       (uint64_t)sb.st_size != size + rows) {
                snprintf(msg, sizeof msg,
                         "%lld bytes, but its header says %llu (truncated or "
                         "not written completely)",
                         (long long)sb.st_size,
                         overflow ? 0ull : (unsigned long long)(size + rows));
                why = msg;
            }
        }
    }
    int32_t *ids = NULL;
    if (!why) {
        ids = malloc((size_t)n_tok * sizeof *ids);
        unsigned char b[4];
        if (!ids) why = "out of memory for its token ids";
        for (uint64_t i = 0; !why && i < n_tok; i++) {
            if (fread(b, 1, 4, fp) != 4)
                why = "cannot read its token ids";
            else if ((ids[i] = (int32_t)get_u32(b)) < 0 || ids[i] >= n_vocab) {
                snprintf(msg, sizeof msg, "token %llu is id %d, outside [0, %d)",
                         (unsigned long long)i, ids[i], n_vocab);
                why = msg;
            }
        }
    }
    if (why) {
        fprintf(stderr, "error: %s: %s\n", path, why);
        free(ids);
        fclose(fp);
        return NULL;
    }
    *tokens = ids;
    return fp;
}

/* ---- evaluation ------------------------------------------------------------------------ */

/* Writes the log-softmax of x (computed in double, stored as float) to out. The saved and
 * the compared values are these floats, so a KL computed later from two saved files is the
 * KL reported here. */
static void log_softmax(const float *x, int32_t n, float *out)
{
    float mx = x[0];
    for (int32_t i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int32_t i = 0; i < n; i++)
        s += exp((double)x[i] - (double)mx);
    double lse = (double)mx + log(s);
    for (int32_t i = 0; i < n; i++)
        out[i] = (float)((double)x[i] - lse);
}

static int32_t argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

typedef struct run_state {
    double *nll, *base_nll, *kl; /* per scored token */
    int64_t n, top1;
    double nll_sum;
} run_state;

static int evaluate(const options *o, tlm_context *ctx, const plan *p, const int32_t *tokens,
                    int32_t n_vocab, FILE *save, FILE *base, run_state *rs, imatrix_out *im)
{
    int32_t nb = o->cp.n_batch > 0 ? o->cp.n_batch : 256;
    if (nb > p->n_ctx) nb = p->n_ctx;
    float *logits = malloc((size_t)nb * (size_t)n_vocab * sizeof(float));
    float *lp = malloc((size_t)n_vocab * sizeof(float)),
          *blp = malloc((size_t)n_vocab * sizeof(float));
    int32_t *win_ids = malloc((size_t)p->n_ctx * sizeof(int32_t));
    int rc = 0;
    if (!logits || !lp || !blp || !win_ids) {
        fprintf(stderr, "error: out of memory for %d x %d logits\n", nb, n_vocab);
        rc = 1;
    }
    double t0 = now_seconds();
    const char *unit = p->mode == MODE_CHUNKS ? "chunks" : "windows";
    for (int64_t w = 0; rc == 0 && w < p->n_windows; w++) {
        window win = window_at(p, w);
        memcpy(win_ids, tokens + win.begin, (size_t)win.len * sizeof(int32_t));
        if (p->mode == MODE_CHUNKS && p->bos >= 0) win_ids[0] = p->bos;
        tlm_context_reset(ctx);
        int32_t n_eval = win.first + win.n_scored; /* the last token predicts nothing scored */
        if (im) { /* but the importance matrix sees all of it, as llama-imatrix's does */
            imatrix_out_next_chunk(im);
            n_eval = win.len;
        }
        for (int32_t s = 0; rc == 0 && s < n_eval; s += nb) {
            int32_t m = n_eval - s < nb ? n_eval - s : nb;
            if (tlm_context_eval(ctx, win_ids + s, m, logits) != TLM_OK) {
                fprintf(stderr, "\nerror: %s\n", tlm_context_error(ctx));
                rc = 1;
                break;
            }
            for (int32_t k = 0; k < m; k++) {
                int32_t j = s + k;
                if (j < win.first || j >= win.first + win.n_scored) continue;
                int32_t target = tokens[win.begin + j + 1];
                log_softmax(logits + (size_t)k * (size_t)n_vocab, n_vocab, lp);
                double nll = -(double)lp[target];
                rs->nll[rs->n] = nll;
                rs->nll_sum += nll;
                if (save && fwrite(lp, sizeof(float), (size_t)n_vocab, save) != (size_t)n_vocab) {
                    fprintf(stderr, "\nerror: cannot write %s\n", o->save_path);
                    rc = 1;
                    break;
                }
                if (base) {
                    if (fread(blp, sizeof(float), (size_t)n_vocab, base) != (size_t)n_vocab) {
                        fprintf(stderr, "\nerror: %s: cannot read row %lld\n", o->kl_path,
                                (long long)rs->n);
                        rc = 1;
                        break;
                    }
                    double kl = 0;
                    for (int32_t i = 0; i < n_vocab; i++) {
                        if (!isfinite(blp[i]) || blp[i] > 1e-3f) {
                            fprintf(stderr,
                                    "\nerror: %s: row %lld holds %g, not a log-"
                                    "probability\n",
                                    o->kl_path, (long long)rs->n, blp[i]);
                            rc = 1;
                            break;
                        }
                        double pb = exp((double)blp[i]);
                        kl += pb * ((double)blp[i] - (double)lp[i]);
                    }
                    if (rc) break;
                    rs->kl[rs->n] = kl;
                    rs->base_nll[rs->n] = -(double)blp[target];
                    rs->top1 += argmax(blp, n_vocab) == argmax(lp, n_vocab);
                }
                rs->n++;
            }
        }
        progress(o, rc ? w : w + 1, p->n_windows, unit, rs->nll_sum, rs->n, t0);
    }
    free(logits);
    free(lp);
    free(blp);
    free(win_ids);
    return rc;
}

/* ---- command line ---------------------------------------------------------------------- */

static bool parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        int used = model_source_arg(&o->src, argc, argv, i);
        if (used == 0) used = context_arg(&o->cp, argc, argv, i);
        if (used < 0) return false;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-progress")) {
            o->progress = false;
            continue;
        }
        if (!strcmp(a, "--process-output")) {
            o->process_output = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            exit(0);
        }
        bool known = !strcmp(a, "-z") || !strcmp(a, "-f") || !strcmp(a, "-c") ||
                     !strcmp(a, "--stride") || !strcmp(a, "--chunks") || !strcmp(a, "-t") ||
                     !strcmp(a, "-b") || !strcmp(a, "--save-logits") ||
                     !strcmp(a, "--kl-divergence") || !strcmp(a, "--imatrix-out");
        if (!known) {
            fprintf(stderr, "error: unknown argument '%s'\n", a);
            usage();
            return false;
        }
        if (!v) {
            fprintf(stderr, "error: %s needs a value\n", a);
            return false;
        }
        bool ok = true;
        if (!strcmp(a, "-z"))
            o->tok_path = v;
        else if (!strcmp(a, "-f"))
            o->text_path = v;
        else if (!strcmp(a, "--save-logits"))
            o->save_path = v;
        else if (!strcmp(a, "--kl-divergence"))
            o->kl_path = v;
        else if (!strcmp(a, "--imatrix-out"))
            o->imatrix_path = v;
        else if (!strcmp(a, "-c"))
            ok = parse_int(a, v, 4, 1 << 22, &o->n_ctx);
        else if (!strcmp(a, "--stride"))
            ok = parse_int(a, v, 1, 1 << 22, &o->stride);
        else if (!strcmp(a, "--chunks"))
            ok = parse_int(a, v, 1, INT32_MAX, &o->max_chunks);
        else if (!strcmp(a, "-t"))
            ok = parse_int(a, v, 0, 1024, &o->n_threads);
        else
            ok = parse_int(a, v, 1, 1 << 20, &o->n_batch);
        if (!ok) return false;
        i++;
    }
    if (!o->src.path && !o->src.preset) {
        fprintf(stderr, "error: give a model with -m MODEL\n");
        return false;
    }
    if (!o->text_path && !o->kl_path) {
        fprintf(stderr, "error: give the text with -f FILE (or a base file with "
                        "--kl-divergence)\n");
        return false;
    }
    if (o->save_path && o->kl_path) {
        fprintf(stderr, "error: --save-logits and --kl-divergence do not go together (save "
                        "with the reference model, compare with the other)\n");
        return false;
    }
    if (o->imatrix_path && (o->stride || o->kl_path || !o->text_path)) {
        fprintf(stderr, "error: --imatrix-out collects over the chunks of a text (-f): not with "
                        "--stride or --kl-divergence\n");
        return false;
    }
    if (o->process_output && !o->imatrix_path) {
        fprintf(stderr, "error: --process-output goes with --imatrix-out\n");
        return false;
    }
    if (o->stride && o->n_ctx && o->stride > o->n_ctx) {
        fprintf(stderr,
                "error: --stride %lld is longer than the context -c %lld: tokens "
                "between windows would never be scored\n",
                o->stride, o->n_ctx);
        return false;
    }
    return true;
}

static void print_header(const plan *p, int64_t n_scored)
{
    if (p->mode == MODE_CHUNKS)
        fprintf(stderr,
                "perplexity: %lld tokens, %lld chunks of %d (%s), scoring positions "
                "%d..%d of each: %lld tokens\n",
                (long long)p->n_tokens, (long long)p->n_windows, p->n_ctx,
                p->bos >= 0 ? "BOS first" : "no BOS", p->n_ctx / 2, p->n_ctx - 2,
                (long long)n_scored);
    else
        fprintf(stderr,
                "perplexity: %lld tokens, %lld windows of up to %d advancing by %d: "
                "%lld tokens scored\n",
                (long long)p->n_tokens, (long long)p->n_windows, p->n_ctx, p->stride,
                (long long)n_scored);
}

int main(int argc, char **argv)
{
    options o = {.src = {.seed = 1, .type = TLM_TYPE_F16},
                 .progress = true,
                 .cp = tlm_context_default_params()};
    if (!parse_args(argc, argv, &o)) return 2;
    if (!host_is_little_endian()) {
        fprintf(stderr, "error: the --save-logits layout assumes a little-endian machine\n");
        return 1;
    }
    int rc = 1;
    tlm_model *model = model_source_open(&o.src, (int)o.n_threads);
    if (!model) return 1;
    const tlm_model_info *info = tlm_model_get_info(model);
    int32_t n_vocab = info->n_vocab;
    tlm_tokenizer *tok = NULL;
    tlm_context *ctx = NULL;
    int32_t *tokens = NULL, *file_tokens = NULL;
    FILE *base = NULL, *save = NULL;
    char *text = NULL;
    run_state rs = {0};
    imatrix_out *im = NULL;
    plan p = {0};
    int64_t n_tokens = 0;

    if (o.text_path) {
        if (!(tok = tokenizer_open(o.tok_path, &o.src, model, true)) ||
            !(text = read_text(o.text_path)))
            goto done;
        if (!(tokens = tokenize_text(tok, text, &n_tokens))) goto done;
    }
    if (o.kl_path) {
        if (!(base = open_base(o.kl_path, n_vocab, &p, &file_tokens))) goto done;
        if ((o.n_ctx && o.n_ctx != p.n_ctx) || (o.stride && o.stride != p.stride) ||
            (o.stride && p.mode != MODE_STRIDE)) {
            fprintf(stderr,
                    "error: %s was made with -c %d%s%.0d; this run asks for -c %lld%s%.0lld\n",
                    o.kl_path, p.n_ctx, p.mode == MODE_STRIDE ? " --stride " : "",
                    p.mode == MODE_STRIDE ? p.stride : 0, o.n_ctx ? o.n_ctx : p.n_ctx,
                    o.stride ? " --stride " : "", o.stride);
            goto done;
        }
        if (tokens) { /* the text given must be the text the base file scored */
            int64_t i = 0;
            while (i < n_tokens && i < p.n_tokens && tokens[i] == file_tokens[i])
                i++;
            if (i < n_tokens || i < p.n_tokens) {
                fprintf(stderr,
                        "error: %s holds other tokens than %s: %lld against %lld "
                        "tokens, first difference at token %lld\n",
                        o.kl_path, o.text_path, (long long)p.n_tokens, (long long)n_tokens,
                        (long long)i);
                goto done;
            }
        }
        free(tokens);
        tokens = file_tokens;
        file_tokens = NULL;
        n_tokens = p.n_tokens;
    } else {
        int32_t limit = info->n_ctx_train > 0 ? info->n_ctx_train : 512;
        p.n_ctx = (int32_t)(o.n_ctx ? o.n_ctx : (limit < 512 ? limit : 512));
        if (p.n_ctx > limit)
            fprintf(stderr, "warning: -c %d is beyond the model's training context %d\n", p.n_ctx,
                    limit);
        if (o.stride && o.stride > p.n_ctx) {
            fprintf(stderr, "error: --stride %lld is longer than the context %d\n", o.stride,
                    p.n_ctx);
            goto done;
        }
        p.mode = o.stride ? MODE_STRIDE : MODE_CHUNKS;
        p.stride = (int32_t)o.stride;
        p.bos = tlm_tokenizer_adds_bos(tok) ? tlm_tokenizer_bos(tok) : -1;
        p.n_tokens = n_tokens;
        if (p.mode == MODE_CHUNKS && n_tokens < 2 * (int64_t)p.n_ctx) {
            fprintf(stderr,
                    "error: %s has %lld tokens; perplexity with a context of %d needs "
                    "at least %d (two chunks; lower -c or give more text)\n",
                    o.text_path, (long long)n_tokens, p.n_ctx, 2 * p.n_ctx);
            goto done;
        }
        if (p.mode == MODE_STRIDE && n_tokens < 3) {
            fprintf(stderr, "error: %s has %lld tokens; the sliding window needs at least 3\n",
                    o.text_path, (long long)n_tokens);
            goto done;
        }
        p.n_windows = max_windows(&p);
        if (o.max_chunks && o.max_chunks < p.n_windows) p.n_windows = o.max_chunks;
    }
    if (o.max_chunks && o.kl_path && o.max_chunks != p.n_windows) {
        fprintf(stderr, "error: %s holds %lld windows; --chunks %lld differs\n", o.kl_path,
                (long long)p.n_windows, o.max_chunks);
        goto done;
    }

    int64_t n_scored = total_scored(&p);
    print_header(&p, n_scored);
    rs.nll = malloc((size_t)n_scored * sizeof(double));
    if (base) {
        rs.kl = malloc((size_t)n_scored * sizeof(double));
        rs.base_nll = malloc((size_t)n_scored * sizeof(double));
    }
    if (!rs.nll || (base && (!rs.kl || !rs.base_nll))) {
        fprintf(stderr, "error: out of memory for %lld scored tokens\n", (long long)n_scored);
        goto done;
    }
    if (o.save_path) {
        save = fopen(o.save_path, "wb");
        if (!save || !save_header(save, &p, n_vocab, n_scored, tokens)) {
            fprintf(stderr, "error: cannot write %s\n", o.save_path);
            goto done;
        }
    }

    tlm_context_params cp = o.cp;
    cp.n_ctx = p.n_ctx;
    cp.n_threads = (int32_t)o.n_threads;
    if (o.n_batch) cp.n_batch = (int32_t)o.n_batch;
    if (cp.n_batch > p.n_ctx) cp.n_batch = p.n_ctx;
    o.cp.n_batch = cp.n_batch;
    tlm_error err = {0};
    if (tlm_context_create(model, &cp, &ctx, &err) != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }
    if (o.imatrix_path) {
        if (!(im = imatrix_out_new(o.process_output))) {
            fprintf(stderr, "error: out of memory\n");
            goto done;
        }
        imatrix_out_attach(im, ctx);
    }
    if (evaluate(&o, ctx, &p, tokens, n_vocab, save, base, &rs, im) != 0) goto done;
    if (im) {
        if (!imatrix_out_write(im, o.imatrix_path, o.text_path)) goto done;
        fprintf(stderr, "wrote the importance matrix of %lld chunks to %s\n",
                (long long)p.n_windows, o.imatrix_path);
    }
    if (save) {
        bool bad = fclose(save) != 0;
        save = NULL;
        if (bad) {
            fprintf(stderr, "error: cannot write %s\n", o.save_path);
            goto done;
        }
        fprintf(stderr, "wrote %lld x %d log-probabilities to %s\n", (long long)rs.n, n_vocab,
                o.save_path);
    }

    double mean, se;
    if (base) {
        double kl, kl_se, bmean, bse;
        mean_stderr(rs.kl, rs.n, &kl, &kl_se);
        mean_stderr(rs.base_nll, rs.n, &bmean, &bse);
        printf("KL(base || this) = %.9f +/- %.9f, top-1 agreement = %.4f %% (%lld/%lld)\n", kl,
               kl_se, 100.0 * (double)rs.top1 / (double)rs.n, (long long)rs.top1, (long long)rs.n);
        printf("base ppl = %.6f +/- %.6f\n", exp(bmean), exp(bmean) * bse);
    }
    mean_stderr(rs.nll, rs.n, &mean, &se);
    printf("ppl = %.6f +/- %.6f (%lld tokens, %lld %s)\n", exp(mean), exp(mean) * se,
           (long long)rs.n, (long long)p.n_windows, p.mode == MODE_CHUNKS ? "chunks" : "windows");
    rc = 0;
done:
    if (save) {
        fclose(save);
        remove(o.save_path); /* a partial file would only fail a later check */
    }
    if (base) fclose(base);
    free(rs.nll);
    free(rs.kl);
    free(rs.base_nll);
    free(text);
    free(tokens);
    free(file_tokens);
    tlm_context_free(ctx);
    imatrix_out_free(im);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    return rc;
}
