/* fuzz_tokenizer_bin - a llama2.c tokenizer.bin: the first two bytes give n_vocab - 1 (little
 * endian, modulo 4096), the rest is the file; tlm_tokenizer_load_llama2c, encode, decode. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    if (size < 2) return -1;
    int32_t n_vocab = 1 + (int32_t)((data[0] | data[1] << 8) % 4096);
    fz_write("tokenizer.bin", data + 2, size - 2);
    tlm_tokenizer *tok = NULL;
    tlm_error err;
    tlm_status st = tlm_tokenizer_load_llama2c(fz_path("tokenizer.bin"), n_vocab, &tok, &err);
    fz_require((st == TLM_OK) == (tok != NULL), "out set exactly on success");
    if (st == TLM_OK) {
        fz_require(tlm_tokenizer_n_vocab(tok) == n_vocab, "n_vocab as asked");
        fz_run_tokenizer(tok);
    } else {
        fz_require(err.message[0] != '\0', "a failure has a message");
    }
    tlm_tokenizer_free(tok);
    return 0;
}
