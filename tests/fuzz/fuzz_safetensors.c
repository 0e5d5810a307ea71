/* fuzz_safetensors.c -- safetensors files (runtime/io/safetensors.c): open,
 * list, and read every tensor of up to 1M values as doubles. */
#include "fuzz.h"
#include "tensorio.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, "w.safetensors", data, size);
    nr_safetensors *st = NULL;
    nr_err e = {0};
    if (!path)
        return 0;
    if (nr_safetensors_open(path, &st, &e)) {
        if (!e.code || st)
            abort();
        return 0;
    }
    for (int i = 0; i < nr_safetensors_count(st); i++) {
        const nr_tensor_info *t = nr_safetensors_info(st, i);
        uint64_t n = 1;
        for (int d = 0; d < t->ndim; d++)
            n = t->shape[d] && n > (1u << 20) / (uint64_t)t->shape[d] ? (1u << 20) + 1
                                                                       : n * (uint64_t)t->shape[d];
        if (n > (1u << 20))
            continue;
        if (nr_safetensors_find(st, t->name) < 0)
            abort(); /* every listed name is found */
        double *x = malloc((n ? n : 1) * sizeof *x);
        nr_err_clear(&e);
        nr_safetensors_read_f64(st, i, x, &e);
        free(x);
    }
    (void)nr_safetensors_unused(st);
    nr_safetensors_close(st);
    return 0;
}
