/* fuzz_vocab_merges - vocab.json and merges.txt: the input up to its first NUL byte is
 * vocab.json, the rest merges.txt; tlm_tokenizer_load on vocab.json, encode, decode. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    const uint8_t *nul = memchr(data, 0, size);
    size_t n = nul ? (size_t)(nul - data) : size;
    fz_write("vocab.json", data, n);
    fz_write("merges.txt", data + n + (nul != NULL), size - n - (nul != NULL));
    fz_tokenizer_path(fz_path("vocab.json"));
    return 0;
}
