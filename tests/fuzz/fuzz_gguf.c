/* fuzz_gguf - a GGUF model file: tlm_model_load, then a few tokens through the model and its
 * vocabulary. Seeds: the GGUF cases of tests/corpus.h. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    fz_write("model.gguf", data, size);
    fz_model_path(fz_path("model.gguf"));
    return 0;
}
