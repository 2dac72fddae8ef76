/* fuzz_hf_dir - a whole Hugging Face directory of any family: the input up to its first NUL
 * byte is config.json, the rest model.safetensors; tlm_model_load on the directory, then a
 * few tokens. Seeds: tests/fuzz/seeds_arch.py (one per family) and the corpus's tiny llama. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul) return -1;
    size_t n = (size_t)(nul - data);
    fz_write("config.json", data, n);
    fz_write("model.safetensors", nul + 1, size - n - 1);
    fz_model_path(fz_dir);
    return 0;
}
