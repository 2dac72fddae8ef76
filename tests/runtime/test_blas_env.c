/* test_blas_env.c - the library leaves the process environment alone: creating a context
 * on the OpenBLAS path and evaluating a batch long enough to take it changes no variable
 * (the path once set OPENBLAS_CORETYPE on AVX-512 CPUs). Unset first, so a library that
 * sets it fails here. Without libopenblas the cases are skipped, saying so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corpus.h"
#include "harness.h"

extern char **environ;

/* A copy of every "NAME=value" string, in order, NULL-terminated. */
static char **env_copy(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        c[i] = strdup(environ[i]);
    return c;
}

static void env_compare(char **before)
{
    size_t n = 0;
    for (; before[n] && environ[n]; n++)
        check(strcmp(before[n], environ[n]) == 0, "environment entry %zu was '%s', now '%s'", n,
              before[n], environ[n]);
    check(before[n] == NULL && environ[n] == NULL, "environment had %s entries after the run: %s",
          before[n] ? "fewer" : "more", before[n] ? before[n] : environ[n]);
    check(getenv("OPENBLAS_CORETYPE") == NULL, "OPENBLAS_CORETYPE set to %s",
          getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "");
}

int main(void)
{
    unsetenv("OPENBLAS_CORETYPE");
    char path[] = "/tmp/tlm-blas-env-XXXXXX";
    int fd = mkstemp(path);
    wbuf b;
    cm_gguf(&b, GM_NONE, NULL); /* the corpus' tiny llama, F32: every projection can take it */
    if (fd < 0 || write(fd, b.p, b.n) != (ssize_t)b.n || close(fd) != 0) {
        printf("test_blas_env: cannot write %s\n", path);
        return 2;
    }
    wb_free(&b);
    tlm_model *m = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_model_load(path, NULL, &m, &err);
    unlink(path);
    if (!check(st == TLM_OK, "load: %s", err.message)) return finish("blas_env");

    char **before = env_copy();
    tlm_context_params cp = tlm_context_default_params();
    cp.blas = true;
    cp.n_ctx = 64;
    cp.n_batch = 64;
    cp.n_threads = 2;
    tlm_context *ctx = NULL;
    st = tlm_context_create(m, &cp, &ctx, &err);
    if (st == TLM_ERR_UNSUPPORTED) {
        printf("skip: no OpenBLAS (%s)\n", err.message);
        n_skip += 4;
    } else if (check(st == TLM_OK, "create: %s", err.message)) {
        int32_t ids[48];
        for (int i = 0; i < 48; i++)
            ids[i] = (int32_t)(3 + i % (CM_VOCAB - 3));
        st = tlm_context_eval(ctx, ids, 48, NULL); /* 48 >= 32 tokens: the OpenBLAS path */
        check(st == TLM_OK, "eval: %s", tlm_context_error(ctx));
        env_compare(before);
    }
    for (size_t i = 0; before && before[i]; i++)
        free(before[i]);
    free(before);
    tlm_context_free(ctx);
    tlm_model_free(m);
    return finish("blas_env");
}
