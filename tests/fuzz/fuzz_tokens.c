/* fuzz_tokens.c -- token-id windows for language models (runtime/io/ds_tokens.c
 * on npy.c's int32 reader): a loaded file has N >= 1 windows of >= 2 ids,
 * each in [0, vocab); a refused one sets an error. */
#include "dataset.h"
#include "fuzz.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, "t.npy", data, size);
    nr_tokens *t = NULL;
    nr_err e = {0};
    const int vocab = 50;
    if (!path)
        return 0;
    if (nr_ds_tokens_load(path, vocab, &t, &e) == 0) {
        if (t->n < 1 || t->len < 2 || t->vocab_used > vocab)
            abort();
        for (int64_t i = 0; i < t->n * t->len; i++)
            if (t->ids[i] < 0 || t->ids[i] >= vocab)
                abort();
        nr_ds_tokens_free(t);
    } else if (!e.code || t) {
        abort();
    }
    return 0;
}
