/* fuzz_tokenizer_json - a Hugging Face tokenizer.json (byte-level BPE): tlm_tokenizer_load,
 * encode, decode. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    fz_write("tokenizer.json", data, size);
    fz_tokenizer_path(fz_path("tokenizer.json"));
    return 0;
}
