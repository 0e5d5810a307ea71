/* fuzz_npy.c -- .npy files (runtime/io/npy.c). */
#include "fuzz.h"
#include "tensorio.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, "x.npy", data, size);
    float *x = NULL;
    int64_t shape[4];
    int ndim = 0;
    nr_err e = {0};
    if (!path)
        return 0;
    if (nr_npy_read_f32(path, &x, shape, &ndim, &e) == 0) {
        if (ndim < 1 || ndim > 4)
            abort();
        free(x);
    } else if (!e.code) {
        abort();
    }
    return 0;
}
