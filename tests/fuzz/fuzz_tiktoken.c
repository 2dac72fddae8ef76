/* fuzz_tiktoken - a tiktoken rank file. Only a Qwen-sized file (151643 ranks) gets past the
 * count check, so the input is the head of the file and the target appends the synthetic
 * lines of tests/corpus.h from rank k on, k being the number of lines in the input: an
 * input of well-formed lines for ranks 0 .. k-1 makes a valid file. */
#include "corpus.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wbuf tail;                        /* lines of every rank */
    static size_t at[CM_TIKTOKEN_RANKS + 1]; /* where the line of each rank starts */
    fz_init();
    if (!tail.p) {
        for (uint32_t r = 0; r < CM_TIKTOKEN_RANKS; r++) {
            at[r] = tail.n;
            cm_tiktoken_lines(&tail, r, r + 1);
        }
        at[CM_TIKTOKEN_RANKS] = tail.n;
    }
    size_t k = 0;
    for (size_t i = 0; i < size; i++)
        k += data[i] == '\n';
    if (k > CM_TIKTOKEN_RANKS) k = CM_TIKTOKEN_RANKS;
    FILE *fp = fopen(fz_path("qwen.tiktoken"), "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fwrite(tail.p + at[k], 1, tail.n - at[k], fp);
    fclose(fp);
    fz_tokenizer_path(fz_path("qwen.tiktoken"));
    return 0;
}
