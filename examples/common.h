/* common.h - the two things every example needs besides the library: opening a tokenizer
 * (the model's own vocabulary, or a file given with -z) and printing an error. Only the
 * public header is used, as any program built with `pkg-config --cflags --libs tinylm`. */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include <stdio.h>
#include <string.h>
#include <tinylm.h>

/* Prints "what: message" for a failed call and returns 1, the examples' exit status. */
static inline int fail(const char *what, const tlm_error *err)
{
    fprintf(stderr, "%s: %s (%s)\n", what, err->message, tlm_status_string(err->status));
    return 1;
}

/* The tokenizer for `model`: the file at `path` when given (a llama2.c tokenizer.bin needs
 * the model's vocabulary size; anything else is a tokenizer file or directory), else the
 * one stored in the model file. The caller frees it with tlm_tokenizer_free. */
static inline tlm_status open_tokenizer(const tlm_model *model, const char *path,
                                        tlm_tokenizer **tok, tlm_error *err)
{
    if (!path) return tlm_tokenizer_from_model(model, tok, err);
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".bin") == 0)
        return tlm_tokenizer_load_llama2c(path, tlm_model_get_info(model)->n_vocab, tok, err);
    return tlm_tokenizer_load(path, tok, err);
}

#endif
