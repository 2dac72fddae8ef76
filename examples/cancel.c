/* cancel.c - stopping a long evaluation from another thread, then going on.
 *
 *     cancel MODEL [-z TOKENIZER] [--delay-ms MS]
 *
 * The prompt fills the model's context (a sentence repeated) and is evaluated one token
 * per chunk. A second thread waits until the evaluation has begun, sleeps MS milliseconds
 * (default 1) and sets an atomic flag; the abort callback, which the library calls before
 * each layer, only reads it. The evaluation returns TLM_ERR_CANCELLED: the chunks finished
 * before the stop stay in the cache (tlm_context_n_past says how many positions), the one in
 * progress leaves no trace. The flag is cleared and the rest of the prompt is evaluated from
 * there, which completes. Prints one line per evaluation with its status. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "common.h"

typedef struct stop_flag {
    atomic_bool started; /* set by the callback on its first call */
    atomic_bool stop;    /* set by the other thread */
    long delay_ms;
} stop_flag;

/* Runs on the evaluating thread: it must be quick and must not call into the context. */
static bool should_abort(void *user)
{
    stop_flag *f = user;
    atomic_store(&f->started, true);
    return atomic_load(&f->stop);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The other thread: a user pressing "stop" shortly after the work began. */
static void *stopper(void *user)
{
    stop_flag *f = user;
    while (!atomic_load(&f->started))
        sleep_ms(1);
    sleep_ms(f->delay_ms);
    atomic_store(&f->stop, true);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *tok_path = NULL;
    long delay_ms = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-z") && v)
            tok_path = v, i++;
        else if (!strcmp(a, "--delay-ms") && v)
            delay_ms = atol(v), i++;
        else if (!model_path && a[0] != '-')
            model_path = a;
        else {
            fprintf(stderr, "usage: cancel MODEL [-z TOKENIZER] [--delay-ms MS]\n");
            return 2;
        }
    }
    if (!model_path) return fprintf(stderr, "cancel: no model given\n"), 2;

    tlm_error err = {0};
    tlm_model *model = NULL;
    tlm_tokenizer *tok = NULL;
    tlm_context *ctx = NULL;
    int32_t *ids = NULL;
    int rc = 1;

    if (tlm_model_load(model_path, NULL, &model, &err) != TLM_OK) {
        rc = fail(model_path, &err);
        goto done;
    }
    if (open_tokenizer(model, tok_path, &tok, &err) != TLM_OK) {
        rc = fail("tokenizer", &err);
        goto done;
    }
    /* One token per chunk: the callback runs before each layer of each chunk, so a stop is
     * seen soon whatever the chunk size; single tokens only make this tiny model's prompt
     * last long enough to be stopped, even on a fast idle machine. */
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = tlm_model_get_info(model)->n_ctx_train;
    if (cp.n_ctx > 4096) cp.n_ctx = 4096;
    cp.n_batch = 1;
    if (tlm_context_create(model, &cp, &ctx, &err) != TLM_OK) {
        rc = fail("context", &err);
        goto done;
    }

    /* The prompt: BOS, then a sentence's ids repeated until the context is full. */
    const char *sentence = "Once upon a time, there was a little girl who liked to play.";
    int32_t n_ctx = tlm_context_n_ctx(ctx), n_sentence = 0, n_ids = 0;
    ids = malloc((size_t)n_ctx * sizeof *ids);
    if (!ids) goto done;
    if (tlm_tokenizer_bos(tok) >= 0) ids[n_ids++] = tlm_tokenizer_bos(tok);
    tlm_status st = tlm_tokenize(tok, sentence, false, ids + n_ids, n_ctx - n_ids, &n_sentence);
    if (st != TLM_OK || n_sentence == 0) {
        fprintf(stderr, "tokenize: %s\n", tlm_status_string(st));
        goto done;
    }
    for (int32_t i = n_ids + n_sentence; i < n_ctx; i++)
        ids[i] = ids[i - n_sentence];
    n_ids = n_ctx;

    stop_flag flag = {.delay_ms = delay_ms};
    atomic_init(&flag.started, false);
    atomic_init(&flag.stop, false);
    tlm_context_set_abort(ctx, should_abort, &flag);
    pthread_t thread;
    if (pthread_create(&thread, NULL, stopper, &flag) != 0) {
        fprintf(stderr, "cancel: cannot start a thread\n");
        goto done;
    }
    st = tlm_context_eval(ctx, ids, n_ids, NULL);
    atomic_store(&flag.started, true); /* the thread must not wait for a start that is over */
    pthread_join(thread, NULL);
    int32_t kept = tlm_context_n_past(ctx);
    printf("first evaluation: %s (%s), %d of %d positions kept\n",
           st == TLM_ERR_CANCELLED ? "cancelled"
           : st == TLM_OK          ? "completed"
                                   : "failed",
           tlm_status_string(st), kept, n_ids);
    if (st != TLM_ERR_CANCELLED) {
        /* the stop came too late (or the eval failed): nothing was cancelled to show */
        fprintf(stderr, "cancel: expected TLM_ERR_CANCELLED: %s\n", tlm_context_error(ctx));
        goto done;
    }

    /* Go on from where it stopped. The callback stays set; the flag is simply false again. */
    atomic_store(&flag.stop, false);
    st = tlm_context_eval(ctx, ids + kept, n_ids - kept, NULL);
    printf("second evaluation: %s (%s), %d of %d positions\n",
           st == TLM_OK ? "completed" : "failed", tlm_status_string(st), tlm_context_n_past(ctx),
           n_ids);
    if (st != TLM_OK) {
        fprintf(stderr, "eval: %s\n", tlm_context_error(ctx));
        goto done;
    }
    rc = 0;
done:
    free(ids);
    tlm_context_free(ctx);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    return rc;
}
