/* test_malformed.c - the malformed-file corpus (tests/corpus.h) through the public API.
 *
 * Every case is written into its own directory and opened with tlm_model_load or
 * tlm_tokenizer_load / tlm_tokenizer_load_llama2c: each must give its expected status and a
 * message that names the file and says what is wrong (a piece of the expected text), and must
 * never crash or leak (the suite also runs under ASan/LSan and UBSan: make asan, make ubsan).
 * The valid files of the corpus must load and run: a context evaluates two tokens, the GGUF
 * and llama2.c copies of the same weights give the same logits, and the tokenizer files of
 * the same vocabulary give the same ids.
 *
 * TLM_CORPUS_KEEP=DIR keeps the files (DIR/<case>/...) for inspection. */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corpus.h"
#include "harness.h"
#include "tinylm.h"

static int n_cases, n_malformed;

static char root[512];

static bool write_file(const char *path, const wbuf *b)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return false;
    bool ok = b->n == 0 || fwrite(b->p, 1, b->n, fp) == b->n;
    return fclose(fp) == 0 && ok;
}

/* Logits of ids {1, 6} (BOS, "a") from a fresh context: [CM_VOCAB] into out. */
static bool run_model(const tlm_model *m, float *out, const char *what)
{
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = 4;
    cp.n_threads = 1;
    if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK) {
        CHECK(0, "%s: context: %s", what, err.message);
        return false;
    }
    int32_t ids[2] = {1, 6};
    tlm_status st = tlm_context_eval(ctx, ids, 2, NULL);
    const float *lg = tlm_context_logits(ctx);
    bool ok = st == TLM_OK && lg;
    if (ok) memcpy(out, lg, CM_VOCAB * sizeof(float));
    CHECK(ok, "%s: eval: %s", what, tlm_context_error(ctx));
    tlm_context_free(ctx);
    return ok;
}

static float logits_gguf[CM_VOCAB], logits_l2c[CM_VOCAB];
static bool have_gguf, have_l2c;
static float logits_up[2][CM_VOCAB]; /* ffn_up a copy of ffn_gate's bytes / the same bytes */
static bool have_up[2];

/* Ids of a fixed text, for comparing the tokenizer files of one vocabulary. */
static const char *const sample_text = "ab abcd\ncd e\xC3\xA9";
static int32_t ids_spm[3][32];
static int32_t n_ids_spm[3] = {-1, -1, -1};

static void use_tokenizer(const tlm_tokenizer *tok, const ccase *c)
{
    int32_t ids[64], n = 0;
    tlm_status st = tlm_tokenize(tok, sample_text, true, ids, 64, &n);
    CHECK(st == TLM_OK && n > 1, "%s: tokenize: status %d, %d ids", c->name, (int)st, (int)n);
    /* every id decodes, and decoding never reads past the vocabulary */
    for (int32_t i = 0; i < n && st == TLM_OK; i++) {
        size_t len;
        CHECK(tlm_token_piece(tok, -1, ids[i], &len) != NULL, "%s: id %d has no piece", c->name,
              (int)ids[i]);
    }
    int slot = !strcmp(c->name, "gguf_vocab_valid") ? 0
               : !strcmp(c->name, "spmodel_valid")  ? 1
               : !strcmp(c->name, "tokbin_valid")   ? 2
                                                    : -1;
    if (slot >= 0 && st == TLM_OK && n <= 32) {
        memcpy(ids_spm[slot], ids, (size_t)n * sizeof *ids);
        n_ids_spm[slot] = n;
    }
}

/* ---- tlm_model_check and tlm-info --check ------------------------------------------------ */

typedef struct report_log {
    int n[3];
    char last_error[512];
} report_log;

static void on_report(void *user, tlm_check_level level, const char *message)
{
    report_log *r = user;
    r->n[level]++;
    if (level == TLM_CHECK_ERROR && !r->last_error[0])
        snprintf(r->last_error, sizeof r->last_error, "%s", message);
}

/* What the check of a case that loads must say: NULL when nothing is wrong. */
static const char *check_finding(const char *name, bool scan)
{
    if (!strcmp(name, "gguf_valid_vocab_past_embedding"))
        return "the vocabulary has 21 tokens but the embedding only 20 rows";
    if (!scan) return NULL;
    if (!strcmp(name, "gguf_valid_nan_weights"))
        return "tensor 'blk.1.ffn_down.weight' (F32): element 37 (row 2, column 5) is NaN";
    if (!strcmp(name, "st_valid_nan_weight")) return "element 3 (row 0, column 3) is NaN";
    if (!strcmp(name, "gguf_valid_extra_q8_0")) /* the first of two findings */
        return "tensor 'extra.q8' (Q8_0): block 1 (elements 32..63) has a NaN or infinite scale";
    return NULL;
}

static void check_case(const ccase *c, const char *path, tlm_status load_status)
{
    for (int scan = 0; scan < 2; scan++) {
        tlm_check_params cp = tlm_check_default_params();
        report_log log = {{0}, ""};
        cp.scan_values = scan;
        cp.report = on_report;
        cp.user = &log;
        tlm_error err = {0};
        tlm_status st = tlm_model_check(path, &cp, &err);
        const char *finding = load_status == TLM_OK ? check_finding(c->name, scan) : NULL;
        tlm_status want = load_status != TLM_OK ? load_status : finding ? TLM_ERR_FORMAT : TLM_OK;
        CHECK(st == want, "%s: check (scan %d) gives %d, want %d: %s", c->name, scan, (int)st,
              (int)want, err.message);
        CHECK((st == TLM_OK) == (log.n[TLM_CHECK_ERROR] == 0) && log.n[TLM_CHECK_INFO] > 0,
              "%s: check reported %d errors, %d lines of info", c->name, log.n[TLM_CHECK_ERROR],
              log.n[TLM_CHECK_INFO]);
        if (finding && !strcmp(c->name, "gguf_valid_extra_q8_0"))
            CHECK(log.n[TLM_CHECK_ERROR] == 2, "%s: %d findings, want Q8_0 and Q6_K", c->name,
                  log.n[TLM_CHECK_ERROR]);
        if (finding)
            CHECK(strstr(err.message, finding) && strstr(log.last_error, finding),
                  "%s: check says \"%s\", want \"%s\"", c->name, err.message, finding);
        if (load_status != TLM_OK && c->needle)
            CHECK(strstr(err.message, c->needle), "%s: check message: %s", c->name, err.message);
    }
}

/* tlm-info --check on a file: exit status and the verdict line. */
static void check_tool(const char *path, bool nan, int want_exit, const char *want_text)
{
    const char *build = getenv("TLM_BUILD");
    char exe[1024], cmd[3000], line[1024];
    snprintf(exe, sizeof exe, "%s/tlm-info", build ? build : "build");
    if (access(exe, X_OK) != 0) { /* the tools are checked where they are built */
        MISSING(1, "%s", exe);
        return;
    }
    snprintf(cmd, sizeof cmd, "'%s' --check '%s'%s 2>&1", exe, path, nan ? " --nan" : "");
    FILE *fp = popen(cmd, "r");
    bool seen = false;
    while (fp && fgets(line, sizeof line, fp))
        seen |= strstr(line, want_text) != NULL;
    int rc = fp ? pclose(fp) : -1;
    CHECK(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == want_exit && seen,
          "tlm-info --check%s %s: exit %d, want %d, \"%s\" %s", nan ? " --nan" : "", path,
          rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, want_exit, want_text,
          seen ? "seen" : "missing");
}

static void run_case(void *ctx, const ccase *c)
{
    (void)ctx;
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", root, c->name);
    if (mkdir(dir, 0755) != 0) {
        CHECK(0, "%s: cannot make %s", c->name, dir);
        return;
    }
    for (int i = 0; i < c->n_files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, c->files[i].name);
        if (!write_file(path, &c->files[i].data)) {
            CHECK(0, "%s: cannot write %s", c->name, path);
            return;
        }
    }
    bool dir_load = c->load == CL_MODEL_DIR || c->load == CL_TOK_DIR;
    snprintf(path, sizeof path, "%s/%s", dir, dir_load ? "" : c->files[0].name);
    if (dir_load) path[strlen(path) - 1] = '\0';

    tlm_error err = {0};
    tlm_status st;
    tlm_model *m = (tlm_model *)&err; /* must be reset to NULL on failure */
    tlm_tokenizer *tok = (tlm_tokenizer *)&err;
    bool is_model = c->load == CL_MODEL || c->load == CL_MODEL_DIR;
    if (is_model)
        st = tlm_model_load(path, NULL, &m, &err);
    else if (c->load == CL_TOK_L2C)
        st = tlm_tokenizer_load_llama2c(path, CM_VOCAB, &tok, &err);
    else
        st = tlm_tokenizer_load(path, &tok, &err);

    n_cases++;
    if (c->want != TLM_OK) n_malformed++;
    if (is_model) check_case(c, path, st);
    if (!strcmp(c->name, "gguf_valid")) check_tool(path, true, 0, "is fine");
    if (!strcmp(c->name, "gguf_valid_nan_weights")) {
        check_tool(path, false, 0, "is fine");
        check_tool(path, true, 1, "element 37 (row 2, column 5) is NaN");
    }
    if (!strcmp(c->name, "gguf_missing_tensor"))
        check_tool(path, false, 1, "'blk.1.ffn_up.weight' is missing");
    CHECK(st == c->want, "%s: status %d (%s), want %d: %s", c->name, (int)st, tlm_status_string(st),
          (int)c->want, st == TLM_OK ? "" : err.message);
    if (st != TLM_OK) {
        CHECK(is_model ? m == NULL : tok == NULL, "%s: out not NULL after a failure", c->name);
        CHECK(err.status == st, "%s: err.status %d, returned %d", c->name, (int)err.status,
              (int)st);
        CHECK(strstr(err.message, c->name) != NULL, "%s: message does not name the file: %s",
              c->name, err.message);
        CHECK(!c->needle || strstr(err.message, c->needle) != NULL, "%s: message lacks \"%s\": %s",
              c->name, c->needle ? c->needle : "", err.message);
        if (getenv("TLM_CORPUS_VERBOSE")) printf("  %-34s %s\n", c->name, err.message);
        return;
    }
    if (is_model) {
        const tlm_model_info *in = tlm_model_get_info(m);
        bool quant = strstr(c->name, "q8_0_q4_0") != NULL; /* dim 32, 1 layer */
        CHECK(in->n_vocab == CM_VOCAB && in->dim == (quant ? 32 : CM_DIM) &&
                  in->n_layers == (quant ? 1 : CM_LAYERS),
              "%s: info %d/%d/%d", c->name, in->n_vocab, in->dim, in->n_layers);
        float lg[CM_VOCAB];
        if (run_model(m, lg, c->name)) {
            bool nan_expected = strstr(c->name, "nan") != NULL;
            bool finite = true;
            for (int v = 0; v < CM_VOCAB; v++)
                finite = finite && isfinite(lg[v]);
            CHECK(finite || nan_expected, "%s: logits not finite", c->name);
            if (!strcmp(c->name, "gguf_valid"))
                memcpy(logits_gguf, lg, sizeof lg), have_gguf = true;
            if (!strcmp(c->name, "l2c_valid_unshared"))
                memcpy(logits_l2c, lg, sizeof lg), have_l2c = true;
            for (int u = 0; u < 2; u++)
                if (!strcmp(c->name,
                            u ? "gguf_valid_q8_0_q4_0_up_shared" : "gguf_valid_q8_0_q4_0_up_copy"))
                    memcpy(logits_up[u], lg, sizeof lg), have_up[u] = true;
        }
        tlm_tokenizer *t2 = NULL;
        tlm_status ts = tlm_tokenizer_from_model(m, &t2, &err);
        bool has_vocab =
            c->load == CL_MODEL && strstr(c->name, "gguf") && !strstr(c->name, "no_tokenizer");
        CHECK(ts == (has_vocab ? TLM_OK : TLM_ERR_UNSUPPORTED), "%s: tokenizer from model: %s",
              c->name, err.message);
        if (t2) use_tokenizer(t2, c);
        tlm_tokenizer_free(t2);
        tlm_model_free(m);
    } else {
        CHECK(tlm_tokenizer_n_vocab(tok) > 0, "%s: empty vocabulary", c->name);
        use_tokenizer(tok, c);
        tlm_tokenizer_free(tok);
    }
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int main(void)
{
    const char *keep = getenv("TLM_CORPUS_KEEP");
    if (keep) {
        snprintf(root, sizeof root, "%s", keep);
        mkdir(root, 0755);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(root, sizeof root, "%s/tlm_malformed_XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(root)) {
            printf("test_malformed: cannot make a temporary directory\n");
            printf("test_malformed: 0 passed, 1 failed\n");
            return 1;
        }
    }
    int total = corpus_each(run_case, NULL);

    CHECK(n_malformed >= 40, "only %d malformed files", n_malformed);
    CHECK(have_gguf && have_l2c, "valid GGUF and llama2.c models ran");
    /* ffn_up pointing at ffn_gate's bytes is refused now (GGUF tensors tile the data
     * section: gguf_q8_0_up_shares_gate); a copy of them still loads and runs */
    CHECK(have_up[0] && !have_up[1], "ffn_up holding a copy of ffn_gate's values did not run");
    if (have_gguf && have_l2c) {
        float d = 0;
        for (int v = 0; v < CM_VOCAB; v++)
            d = fmaxf(d, fabsf(logits_gguf[v] - logits_l2c[v]));
        CHECK(d < 1e-5f, "the GGUF and llama2.c copies of one model differ by %g", (double)d);
    }
    for (int s = 1; s < 3; s++) {
        bool same = n_ids_spm[0] > 0 && n_ids_spm[s] == n_ids_spm[0] &&
                    !memcmp(ids_spm[0], ids_spm[s], (size_t)n_ids_spm[0] * sizeof(int32_t));
        CHECK(same, "%s and the GGUF vocabulary encode differently (%d vs %d ids)",
              s == 1 ? "tokenizer.model" : "tokenizer.bin", (int)n_ids_spm[s], (int)n_ids_spm[0]);
    }
    if (!keep) nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("test_malformed: %d cases (%d malformed files), every one through the public API\n",
           total, n_malformed);
    return finish("malformed");
}
