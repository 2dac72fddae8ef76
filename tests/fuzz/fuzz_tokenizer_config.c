/* fuzz_tokenizer_config - the JSON files beside a vocabulary (tokenizer_config.json,
 * special_tokens_map.json, added_tokens.json: special tokens, added tokens, add_bos_token,
 * the chat template). Byte 0 picks the vocabulary they sit beside (a valid tokenizer.json,
 * vocab.json + merges.txt or tokenizer.model of tests/corpus.h) and which file the rest of
 * the input is; tlm_tokenizer_load on the directory, encode, decode. */
#include "corpus.h"
#include "fuzz_common.h"

static const char *const side[3] = {"tokenizer_config.json", "special_tokens_map.json",
                                    "added_tokens.json"};
static const char *const base[3] = {"tokenizer.json", "vocab.json", "tokenizer.model"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dirs[3][600];
    fz_init();
    if (!dirs[0][0]) { /* one subdirectory per vocabulary */
        for (int k = 0; k < 3; k++) {
            snprintf(dirs[k], sizeof dirs[k], "%s/v%d", fz_dir, k);
            mkdir(dirs[k], 0755);
            char name[64];
            wbuf a, b;
            snprintf(name, sizeof name, "v%d/%s", k, base[k]);
            if (k == 0) cm_tokenizer_json(&a, TJ_NONE);
            if (k == 1) cm_vocab_json(&a, VM_NONE);
            if (k == 2) cm_spmodel(&a, SP_NONE);
            fz_write(name, a.p, a.n);
            wb_free(&a);
            if (k == 1) {
                cm_merges_txt(&b, VM_NONE);
                fz_write("v1/merges.txt", b.p, b.n);
                wb_free(&b);
            }
        }
    }
    if (size < 1) return -1;
    int k = data[0] % 3, f = (data[0] / 3) % 3;
    char name[64];
    for (int i = 0; i < 3; i++) { /* only the file this input is */
        snprintf(name, sizeof name, "v%d/%s", k, side[i]);
        remove(fz_path(name));
    }
    snprintf(name, sizeof name, "v%d/%s", k, side[f]);
    fz_write(name, data + 1, size - 1);
    fz_tokenizer_path(dirs[k]);
    return 0;
}
