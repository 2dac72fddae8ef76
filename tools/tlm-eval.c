/* tlm-eval - multiple-choice accuracy from a JSONL file, scored as lm-evaluation-harness
 * scores log-likelihood tasks: each choice by the sum of its tokens' log-probabilities after
 * the context; the context is evaluated once per item and its KV cache kept for every choice.
 * Layouts (generic, HellaSwag, MMLU), tokenization at the boundary and the statistics are
 * described in docs/quality.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common.h"

static void usage(void)
{
    fprintf(
        stderr,
        "usage: tlm-eval -m MODEL [-z TOKENIZER] -f ITEMS.jsonl [options]\n"
        "  one item per line, in one of three layouts (--format, default auto: per line,\n"
        "  \"endings\" means hellaswag, \"question\" mmlu, \"context\" generic):\n"
        "    generic    {\"context\": str, \"choices\": [str, ...], \"label\": int}; each choice\n"
        "               is appended to the context as it is (put its leading space in it)\n"
        "    hellaswag  {\"ctx\" or \"ctx_a\"+\"ctx_b\", \"activity_label\"?, \"endings\": [str],\n"
        "               \"label\": int or \"3\"}; preprocessed as lm-evaluation-harness does;\n"
        "               choices are \" \" + ending\n"
        "    mmlu       {\"question\", \"choices\": [str], \"answer\": int or \"B\", "
        "\"subject\"?}:\n"
        "               \"<question>\\nA. <c0>\\nB. <c1>...\\nAnswer:\", choices \" A\", \" B\", "
        "...\n"
        "  -f FILE            the items (JSONL)\n"
        "  --format F         auto, generic, hellaswag or mmlu\n"
        "  --limit N          only the first N non-empty lines\n"
        "  --skip-bad         report a malformed line (with its number) and go on; without it\n"
        "                     the first malformed line stops the run with exit code 1\n"
        "  --jsonl-out FILE   one line per scored item: log-likelihoods, token counts, picks\n"
        "  --boundary B       whole (default, lm-evaluation-harness 0.4): tokenize context and\n"
        "                     context+choice, the choice's tokens are those after the context's\n"
        "                     count; split: tokenize the choice alone (no BOS) and append\n"
        "  --no-bos           no BOS before the context even when the tokenizer adds one\n"
        "  -c N               context size (default: the training context, at most 4096)\n"
        "  -t THREADS, -b BATCH, --no-progress\n" CONTEXT_USAGE
        "acc picks the choice with the highest log-likelihood, acc_norm the highest\n"
        "log-likelihood per character of the choice; +/- is sqrt(p (1 - p) / (n - 1)). The last\n"
        "stdout line reads\n"
        "  acc = A +/- E, acc_norm = A +/- E (N items, S skipped)\n");
}

typedef enum layout { LAYOUT_AUTO, LAYOUT_GENERIC, LAYOUT_HELLASWAG, LAYOUT_MMLU } layout;
static const char *const layout_names[] = {"auto", "generic", "hellaswag", "mmlu"};

typedef struct options {
    model_source src;
    const char *tok_path, *items_path, *out_path;
    layout format;
    long long limit, n_ctx, n_threads, n_batch;
    bool skip_bad, split, no_bos, progress;
    tlm_context_params cp;
} options;

/* One multiple-choice item, as text. */
typedef struct item {
    layout format;
    char *context;
    char **conts;     /* appended to the context */
    double *norm_len; /* characters of each choice (acc_norm's divisor) */
    int n_choices, label;
} item;

static void item_free(item *it)
{
    for (int i = 0; it->conts && i < it->n_choices; i++)
        free(it->conts[i]);
    free(it->conts);
    free(it->norm_len);
    free(it->context);
    memset(it, 0, sizeof *it);
}

/* ---- strings --------------------------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Returns the string (never NULL unless out of memory). */
static char *sb_take(sbuf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s) return calloc(1, 1);
    return b->s;
}

/* Characters (code points) of UTF-8 text: Python's len(), which lm-eval's acc_norm uses. */
static double n_chars(const char *s)
{
    double n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* lm-evaluation-harness hellaswag preprocess(): strip, " [title]" -> ". ", drop "[...]" (no
 * newline inside, shortest), then "  " -> " " once, left to right. Strip and the bracket rule
 * work on ASCII whitespace and bytes. */
static char *hellaswag_preprocess(const char *text)
{
    size_t a = 0, z = strlen(text);
    while (a < z && is_space(text[a]))
        a++;
    while (z > a && is_space(text[z - 1]))
        z--;
    sbuf t = {0}, u = {0}, v = {0};
    for (size_t i = a; i < z;) {
        if (z - i >= 8 && !memcmp(text + i, " [title]", 8)) {
            sb_str(&t, ". ");
            i += 8;
        } else
            sb_add(&t, text + i++, 1);
    }
    const char *s = t.s ? t.s : "";
    for (size_t i = 0; i < t.n;) {
        size_t j = i + 1;
        if (s[i] == '[') {
            while (j < t.n && s[j] != ']' && s[j] != '\n')
                j++;
            if (j < t.n && s[j] == ']') {
                i = j + 1;
                continue;
            }
        }
        sb_add(&u, s + i, 1);
        i++;
    }
    s = u.s ? u.s : "";
    for (size_t i = 0; i < u.n;) {
        if (i + 1 < u.n && s[i] == ' ' && s[i + 1] == ' ') {
            sb_add(&v, " ", 1);
            i += 2;
        } else
            sb_add(&v, s + i++, 1);
    }
    bool oom = t.oom || u.oom;
    free(t.s);
    free(u.s);
    if (oom) {
        free(v.s);
        return NULL;
    }
    return sb_take(&v);
}

/* ---- parsing one line ------------------------------------------------------------------ */

static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The array of strings under key: its size, or -1 (with why) when it is not one. */
static int get_str_array(const cJSON *o, const char *key, char *why, size_t cap)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a)) {
        snprintf(why, cap, "\"%s\" is missing or not an array", key);
        return -1;
    }
    int n = cJSON_GetArraySize(a);
    if (n < 2 || n > 1000) {
        snprintf(why, cap, "\"%s\" has %d entries; 2 to 1000 are needed", key, n);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!cJSON_IsString(cJSON_GetArrayItem(a, i))) {
            snprintf(why, cap, "\"%s\"[%d] is not a string", key, i);
            return -1;
        }
    return n;
}

/* A label: an integer, or a string of digits, or (letters) a single capital letter. */
static bool get_label(const cJSON *o, const char *key, bool letters, int n, int *out, char *why,
                      size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    long long x = -1;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && d >= 0 && d < 1e9) x = (long long)d;
    } else if (cJSON_IsString(v) && v->valuestring[0]) {
        const char *s = v->valuestring;
        if (letters && s[0] >= 'A' && s[0] <= 'Z' && !s[1])
            x = s[0] - 'A';
        else {
            char *end;
            errno = 0;
            x = strtoll(s, &end, 10);
            if (*end || errno || !isdigit((unsigned char)s[0])) x = -1;
        }
    } else {
        snprintf(why, cap, "\"%s\" is missing or neither a number nor a string", key);
        return false;
    }
    if (x < 0 || x >= n) {
        snprintf(why, cap, "\"%s\" is not a choice index in [0, %d)%s", key, n,
                 letters ? " or a letter" : "");
        return false;
    }
    *out = (int)x;
    return true;
}

static bool set_choices(item *it, int n)
{
    it->n_choices = n;
    it->conts = calloc((size_t)n, sizeof *it->conts);
    it->norm_len = calloc((size_t)n, sizeof *it->norm_len);
    return it->conts && it->norm_len;
}

static bool parse_generic(const cJSON *o, item *it, char *why, size_t cap)
{
    const char *c = get_str(o, "context");
    int n = get_str_array(o, "choices", why, cap);
    if (!c) snprintf(why, cap, "\"context\" is missing or not a string");
    if (!c || n < 0 || !get_label(o, "label", false, n, &it->label, why, cap)) return false;
    if (!set_choices(it, n) || !(it->context = strdup(c))) return false;
    for (int i = 0; i < n; i++) {
        const char *s =
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), i)->valuestring;
        if (!(it->conts[i] = strdup(s))) return false;
        it->norm_len[i] = n_chars(s);
    }
    return true;
}

static bool parse_hellaswag(const cJSON *o, item *it, char *why, size_t cap)
{
    const char *ca = get_str(o, "ctx_a"), *cb = get_str(o, "ctx_b"), *c = get_str(o, "ctx");
    const char *act = get_str(o, "activity_label");
    int n = get_str_array(o, "endings", why, cap);
    if (!(ca && cb) && !c)
        snprintf(why, cap, "neither \"ctx\" nor \"ctx_a\" and \"ctx_b\" are strings");
    if ((!(ca && cb) && !c) || n < 0 || !get_label(o, "label", false, n, &it->label, why, cap))
        return false;
    sbuf q = {0};
    if (act) {
        sb_str(&q, act);
        sb_str(&q, ": ");
    }
    if (ca && cb) { /* lm-eval: ctx_a + " " + ctx_b.capitalize() (ASCII case here) */
        sb_str(&q, ca);
        sb_str(&q, " ");
        for (size_t i = 0; cb[i]; i++) {
            char ch = cb[i];
            if ((unsigned char)ch < 0x80)
                ch = (char)(i == 0 ? toupper((unsigned char)ch) : tolower((unsigned char)ch));
            sb_add(&q, &ch, 1);
        }
    } else
        sb_str(&q, c);
    char *raw = sb_take(&q);
    it->context = raw ? hellaswag_preprocess(raw) : NULL;
    free(raw);
    if (!it->context || !set_choices(it, n)) return false;
    for (int i = 0; i < n; i++) {
        const char *e =
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "endings"), i)->valuestring;
        char *p = hellaswag_preprocess(e);
        sbuf b = {0};
        if (!p) return false;
        sb_str(&b, " "); /* lm-eval's target delimiter */
        sb_str(&b, p);
        it->norm_len[i] = n_chars(p);
        free(p);
        if (!(it->conts[i] = sb_take(&b))) return false;
    }
    return true;
}

static bool parse_mmlu(const cJSON *o, item *it, char *why, size_t cap)
{
    const char *question = get_str(o, "question"), *subject = get_str(o, "subject");
    int n = get_str_array(o, "choices", why, cap);
    if (!question) snprintf(why, cap, "\"question\" is missing or not a string");
    if (!question || n < 0) return false;
    if (n > 26) {
        snprintf(why, cap, "\"choices\" has %d entries; at most 26 have letters", n);
        return false;
    }
    if (!get_label(o, "answer", true, n, &it->label, why, cap)) return false;
    sbuf b = {0};
    if (subject) { /* lm-eval's description line for the subject, underscores as spaces */
        sb_str(&b, "The following are multiple choice questions (with answers) about ");
        for (const char *s = subject; *s; s++)
            sb_add(&b, *s == '_' ? " " : s, 1);
        sb_str(&b, ".\n\n");
    }
    size_t a = 0, z = strlen(question);
    while (a < z && is_space(question[a]))
        a++;
    while (z > a && is_space(question[z - 1]))
        z--;
    sb_add(&b, question + a, z - a);
    if (!set_choices(it, n)) {
        free(sb_take(&b));
        return false;
    }
    for (int i = 0; i < n; i++) {
        char letter[4] = {'\n', (char)('A' + i), '.', ' '};
        sb_add(&b, letter, 4);
        sb_str(&b,
               cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), i)->valuestring);
        char cont[3] = {' ', (char)('A' + i), '\0'};
        if (!(it->conts[i] = strdup(cont))) {
            free(sb_take(&b));
            return false;
        }
        it->norm_len[i] = 1;
    }
    sb_str(&b, "\nAnswer:");
    return (it->context = sb_take(&b)) != NULL;
}

/* Parses one line into *it; false with why (it is then freed). */
static bool parse_line(const char *line, size_t len, layout want, item *it, char *why, size_t cap)
{
    memset(it, 0, sizeof *it);
    cJSON *o = cJSON_ParseWithLength(line, len);
    bool ok = false;
    why[0] = '\0';
    if (!cJSON_IsObject(o)) {
        snprintf(why, cap, "not a JSON object%s", o ? "" : " (malformed JSON)");
    } else {
        layout f = want;
        if (f == LAYOUT_AUTO) {
            if (cJSON_GetObjectItemCaseSensitive(o, "endings"))
                f = LAYOUT_HELLASWAG;
            else if (cJSON_GetObjectItemCaseSensitive(o, "question"))
                f = LAYOUT_MMLU;
            else if (cJSON_GetObjectItemCaseSensitive(o, "context"))
                f = LAYOUT_GENERIC;
        }
        it->format = f;
        if (f == LAYOUT_AUTO)
            snprintf(why, cap,
                     "cannot tell the layout: expected \"context\"/\"choices\"/\"label\", "
                     "\"ctx\"/\"endings\"/\"label\" or \"question\"/\"choices\"/\"answer\"");
        else if (f == LAYOUT_GENERIC)
            ok = parse_generic(o, it, why, cap);
        else if (f == LAYOUT_HELLASWAG)
            ok = parse_hellaswag(o, it, why, cap);
        else
            ok = parse_mmlu(o, it, why, cap);
        if (!ok && !why[0]) snprintf(why, cap, "out of memory");
    }
    cJSON_Delete(o);
    if (!ok) item_free(it);
    return ok;
}

/* ---- tokens and scoring ---------------------------------------------------------------- */

static int32_t *tokenize(const tlm_tokenizer *tok, const char *text, bool bos, int32_t *n)
{
    int32_t need = 0;
    tlm_status st = tlm_tokenize(tok, text, bos, NULL, 0, &need);
    if ((st != TLM_OK && st != TLM_ERR_BUFFER_TOO_SMALL) || need < 0) return NULL;
    int32_t *ids = malloc(((size_t)need + 1) * sizeof *ids);
    if (ids && tlm_tokenize(tok, text, bos, ids, need, n) == TLM_OK) return ids;
    free(ids);
    return NULL;
}

/* log p(target) from logits, the normaliser summed in double after subtracting the max. */
static double log_prob(const float *x, int32_t n, int32_t target)
{
    float mx = x[0];
    for (int32_t i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int32_t i = 0; i < n; i++)
        s += exp((double)x[i] - (double)mx);
    return (double)x[target] - (double)mx - log(s);
}

typedef struct scorer {
    tlm_context *ctx;
    const tlm_tokenizer *tok;
    int32_t n_vocab, n_ctx, n_batch;
    bool bos, split;
    float *last, *rows; /* context's last logits [n_vocab]; rows [n_batch][n_vocab] */
} scorer;

typedef struct scores {
    double *ll;
    int32_t *n_tok;
} scores;

/* Scores every choice of it; false with why. The context is evaluated once; before each
 * choice the positions after it are removed from the cache. */
static bool score_item(scorer *sc, const item *it, scores *out, char *why, size_t cap)
{
    /* lm-eval moves the context's trailing whitespace to the front of the continuation */
    size_t cl = strlen(it->context), keep = cl;
    while (keep > 0 && is_space(it->context[keep - 1]))
        keep--;
    char *ctx_text = strndup(it->context, keep);
    int32_t n_c = 0, *c_ids = ctx_text ? tokenize(sc->tok, ctx_text, sc->bos, &n_c) : NULL;
    bool ok = c_ids != NULL;
    if (!ok)
        snprintf(why, cap, "cannot tokenize the context");
    else if (n_c < 1) {
        snprintf(why, cap, "empty context and no BOS to stand for it");
        ok = false;
    }
    int32_t **ids = calloc((size_t)it->n_choices, sizeof *ids),
            *n_ids = calloc((size_t)it->n_choices, sizeof *n_ids);
    if (ok && (!ids || !n_ids)) ok = false, snprintf(why, cap, "out of memory");
    for (int i = 0; ok && i < it->n_choices; i++) {
        sbuf b = {0};
        sb_str(&b, it->context + keep);
        sb_str(&b, it->conts[i]);
        char *cont = sb_take(&b);
        if (!cont) {
            ok = false;
            snprintf(why, cap, "out of memory");
            break;
        }
        if (sc->split)
            ids[i] = tokenize(sc->tok, cont, false, &n_ids[i]);
        else {
            size_t lc = strlen(ctx_text), lx = strlen(cont);
            char *whole = malloc(lc + lx + 1);
            int32_t n_w = 0, *w = NULL;
            if (whole) {
                memcpy(whole, ctx_text, lc);
                memcpy(whole + lc, cont, lx + 1);
                w = tokenize(sc->tok, whole, sc->bos, &n_w);
            }
            free(whole);
            if (w) {
                n_ids[i] = n_w > n_c ? n_w - n_c : 0;
                memmove(w, w + n_c, (size_t)n_ids[i] * sizeof *w);
                ids[i] = w;
            }
        }
        free(cont);
        if (!ids[i]) {
            ok = false;
            snprintf(why, cap, "cannot tokenize choice %d", i);
        } else if (n_ids[i] < 1) {
            ok = false;
            snprintf(why, cap, "choice %d gives no tokens after the context", i);
        } else if ((int64_t)n_c + n_ids[i] > sc->n_ctx) {
            ok = false;
            snprintf(why, cap, "context and choice %d take %d tokens, more than -c %d", i,
                     n_c + n_ids[i], sc->n_ctx);
        }
    }
    if (ok) {
        tlm_context_reset(sc->ctx);
        ok = tlm_context_eval(sc->ctx, c_ids, n_c, NULL) == TLM_OK;
        if (ok) memcpy(sc->last, tlm_context_logits(sc->ctx), (size_t)sc->n_vocab * sizeof(float));
    }
    for (int i = 0; ok && i < it->n_choices; i++) {
        if (tlm_context_n_past(sc->ctx) > n_c && tlm_context_remove(sc->ctx, n_c, -1) != TLM_OK) {
            /* a cache that cannot drop positions (sliding window): evaluate the context again */
            tlm_context_reset(sc->ctx);
            ok = tlm_context_eval(sc->ctx, c_ids, n_c, NULL) == TLM_OK;
        }
        double ll = log_prob(sc->last, sc->n_vocab, ids[i][0]);
        /* the choice's last token predicts nothing that is scored; rows come n_batch at a
         * time so the buffer does not grow with the context */
        for (int32_t at = 0; ok && at < n_ids[i] - 1; at += sc->n_batch) {
            int32_t m = n_ids[i] - 1 - at < sc->n_batch ? n_ids[i] - 1 - at : sc->n_batch;
            ok = tlm_context_eval(sc->ctx, ids[i] + at, m, sc->rows) == TLM_OK;
            for (int32_t k = 0; ok && k < m; k++)
                ll += log_prob(sc->rows + (size_t)k * (size_t)sc->n_vocab, sc->n_vocab,
                               ids[i][at + k + 1]);
        }
        out->ll[i] = ll;
        out->n_tok[i] = n_ids[i];
    }
    if (!ok && !why[0]) snprintf(why, cap, "%s", tlm_context_error(sc->ctx));
    for (int i = 0; ids && i < it->n_choices; i++)
        free(ids[i]);
    free(ids);
    free(n_ids);
    free(c_ids);
    free(ctx_text);
    return ok;
}

/* ---- input file ------------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
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
            char *b = cap < ((size_t)1 << 31) ? realloc(buf, 2 * cap + 1) : NULL;
            if (!b) fprintf(stderr, "error: %s: over 2 GiB or out of memory\n", path);
            if (!b) free(buf);
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
    *len = n;
    return buf;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_space(s[i])) return false;
    return true;
}

static void progress(const options *o, long long done, long long total, long long correct,
                     long long scored, double t0)
{
    if (!o->progress) return;
    static int last_tenth = -1;
    bool tty = isatty(fileno(stderr));
    int tenth = total > 0 ? (int)(10 * done / total) : 10;
    if (!tty && tenth == last_tenth && done != total) return;
    last_tenth = tenth;
    int width = 30, fill = total > 0 ? (int)(width * done / total) : width;
    fprintf(stderr, tty ? "\r[" : "[");
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld items", done, total);
    if (scored > 0) fprintf(stderr, "  acc %.4f", (double)correct / (double)scored);
    fprintf(stderr, "  %.1f s", now_seconds() - t0);
    if (done == total || !tty) fputc('\n', stderr);
    fflush(stderr);
}

static int argmax_d(const double *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void write_json_doubles(FILE *fp, const char *key, const double *x, int n)
{
    fprintf(fp, "\"%s\": [", key);
    for (int i = 0; i < n; i++)
        fprintf(fp, "%s%.10g", i ? ", " : "", x[i]);
    fputc(']', fp);
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
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            exit(0);
        }
        if (!strcmp(a, "--skip-bad") || !strcmp(a, "--no-bos") || !strcmp(a, "--no-progress")) {
            if (a[2] == 's')
                o->skip_bad = true;
            else if (a[5] == 'b')
                o->no_bos = true;
            else
                o->progress = false;
            continue;
        }
        bool known = !strcmp(a, "-z") || !strcmp(a, "-f") || !strcmp(a, "--format") ||
                     !strcmp(a, "--limit") || !strcmp(a, "--jsonl-out") ||
                     !strcmp(a, "--boundary") || !strcmp(a, "-c") || !strcmp(a, "-t") ||
                     !strcmp(a, "-b");
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
            o->items_path = v;
        else if (!strcmp(a, "--jsonl-out"))
            o->out_path = v;
        else if (!strcmp(a, "--format")) {
            ok = false;
            for (int k = 0; k < 4; k++)
                if (!strcmp(v, layout_names[k])) o->format = (layout)k, ok = true;
            if (!ok)
                fprintf(stderr,
                        "error: --format expects auto, generic, hellaswag or mmlu, got '%s'\n", v);
        } else if (!strcmp(a, "--boundary")) {
            ok = !strcmp(v, "whole") || !strcmp(v, "split");
            o->split = !strcmp(v, "split");
            if (!ok) fprintf(stderr, "error: --boundary expects whole or split, got '%s'\n", v);
        } else if (!strcmp(a, "--limit"))
            ok = parse_int(a, v, 1, INT32_MAX, &o->limit);
        else if (!strcmp(a, "-c"))
            ok = parse_int(a, v, 2, 1 << 22, &o->n_ctx);
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
    if (!o->items_path) {
        fprintf(stderr, "error: give the items with -f FILE.jsonl\n");
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    options o = {.src = {.seed = 1, .type = TLM_TYPE_F16},
                 .progress = true,
                 .cp = tlm_context_default_params()};
    if (!parse_args(argc, argv, &o)) return 2;
    size_t len = 0;
    char *data = read_file(o.items_path, &len);
    if (!data) return 1;
    long long total = 0;
    for (size_t i = 0; i < len;) { /* non-empty lines, for the progress bar */
        size_t j = i;
        while (j < len && data[j] != '\n')
            j++;
        total += !blank(data + i, j - i);
        i = j + 1;
    }
    if (o.limit && total > o.limit) total = o.limit;
    if (total == 0) {
        fprintf(stderr, "error: %s has no items\n", o.items_path);
        free(data);
        return 1;
    }

    int rc = 1;
    tlm_model *model = model_source_open(&o.src, (int)o.n_threads);
    tlm_tokenizer *tok = NULL;
    FILE *out = NULL;
    scorer sc = {0};
    scores s = {0};
    if (!model || !(tok = tokenizer_open(o.tok_path, &o.src, model, true))) goto done;
    const tlm_model_info *info = tlm_model_get_info(model);
    int32_t train = info->n_ctx_train > 0 ? info->n_ctx_train : 2048;
    tlm_context_params cp = o.cp;
    cp.n_ctx = (int32_t)(o.n_ctx ? o.n_ctx : (train < 4096 ? train : 4096));
    cp.n_threads = (int32_t)o.n_threads;
    if (o.n_batch) cp.n_batch = (int32_t)o.n_batch;
    tlm_error err = {0};
    if (tlm_context_create(model, &cp, &sc.ctx, &err) != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }
    sc.tok = tok;
    sc.n_vocab = info->n_vocab;
    sc.n_ctx = cp.n_ctx;
    sc.bos = !o.no_bos && tlm_tokenizer_adds_bos(tok);
    sc.split = o.split;
    sc.last = malloc((size_t)sc.n_vocab * sizeof(float));
    sc.n_batch = cp.n_batch > 0 && cp.n_batch < sc.n_ctx ? cp.n_batch : sc.n_ctx;
    sc.rows = malloc((size_t)sc.n_batch * (size_t)sc.n_vocab * sizeof(float));
    s.ll = malloc(1000 * sizeof(double));
    s.n_tok = malloc(1000 * sizeof(int32_t));
    double *norm = malloc(1000 * sizeof(double));
    if (!sc.last || !sc.rows || !s.ll || !s.n_tok || !norm) {
        fprintf(stderr, "error: out of memory for %d x %d logits\n", sc.n_ctx, sc.n_vocab);
        free(norm);
        goto done;
    }
    if (o.out_path && !(out = fopen(o.out_path, "w"))) {
        fprintf(stderr, "error: cannot write %s: %s\n", o.out_path, strerror(errno));
        free(norm);
        goto done;
    }
    fprintf(stderr, "eval: %lld items from %s, context %d, %s, boundary %s\n", total, o.items_path,
            sc.n_ctx, sc.bos ? "BOS first" : "no BOS", o.split ? "split" : "whole");

    long long seen = 0, n = 0, skipped = 0, correct = 0, correct_norm = 0, line_no = 0;
    bool failed = false;
    double t0 = now_seconds();
    for (size_t i = 0; i < len && seen < total && !failed;) {
        size_t j = i;
        while (j < len && data[j] != '\n')
            j++;
        line_no++;
        const char *line = data + i;
        size_t line_len = j - i;
        i = j + 1;
        if (blank(line, line_len)) continue;
        seen++;
        item it;
        char why[512];
        bool ok = parse_line(line, line_len, o.format, &it, why, sizeof why);
        if (ok && !score_item(&sc, &it, &s, why, sizeof why)) ok = false;
        if (!ok) {
            fprintf(stderr, "%s%s:%lld: %s%s\n", o.skip_bad ? "skipped: " : "error: ", o.items_path,
                    line_no, why, o.skip_bad ? "" : " (--skip-bad goes on)");
            item_free(&it);
            if (!o.skip_bad) failed = true;
            skipped++;
            progress(&o, seen, total, correct, n, t0);
            continue;
        }
        for (int k = 0; k < it.n_choices; k++)
            norm[k] = s.ll[k] / (it.norm_len[k] > 0 ? it.norm_len[k] : 1);
        int pred = argmax_d(s.ll, it.n_choices), pred_norm = argmax_d(norm, it.n_choices);
        n++;
        correct += pred == it.label;
        correct_norm += pred_norm == it.label;
        if (out) {
            fprintf(out,
                    "{\"line\": %lld, \"format\": \"%s\", \"label\": %d, \"pred\": %d, "
                    "\"pred_norm\": %d, \"acc\": %d, \"acc_norm\": %d, ",
                    line_no, layout_names[it.format], it.label, pred, pred_norm, pred == it.label,
                    pred_norm == it.label);
            write_json_doubles(out, "ll", s.ll, it.n_choices);
            fprintf(out, ", \"n_tokens\": [");
            for (int k = 0; k < it.n_choices; k++)
                fprintf(out, "%s%d", k ? ", " : "", s.n_tok[k]);
            fprintf(out, "], ");
            write_json_doubles(out, "chars", it.norm_len, it.n_choices);
            fprintf(out, "}\n");
        }
        item_free(&it);
        progress(&o, seen, total, correct, n, t0);
    }
    free(norm);
    if (failed) goto done;
    if (out) {
        bool bad = ferror(out) != 0;
        bad |= fclose(out) != 0;
        out = NULL;
        if (bad) {
            fprintf(stderr, "error: cannot write %s\n", o.out_path);
            goto done;
        }
    }
    if (n == 0) {
        fprintf(stderr, "error: no item of %s could be scored\n", o.items_path);
        goto done;
    }
    double acc = (double)correct / (double)n, acc_n = (double)correct_norm / (double)n;
    double se = n > 1 ? sqrt(acc * (1 - acc) / (double)(n - 1)) : 0;
    double se_n = n > 1 ? sqrt(acc_n * (1 - acc_n) / (double)(n - 1)) : 0;
    printf("acc = %.6f +/- %.6f, acc_norm = %.6f +/- %.6f (%lld items, %lld skipped)\n", acc, se,
           acc_n, se_n, n, skipped);
    rc = 0;
done:
    if (out) fclose(out);
    free(sc.last);
    free(sc.rows);
    free(s.ll);
    free(s.n_tok);
    tlm_context_free(sc.ctx);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    free(data);
    return rc;
}
