/* fuzz_dataset.h -- the dataset targets' shared step: open path as a data
 * set (runtime/io/dataset.c) and read the first samples and all labels. */
#ifndef NUMREP_FUZZ_DATASET_H
#define NUMREP_FUZZ_DATASET_H

#include "dataset.h"

#include <stdlib.h>

static inline void fuzz_dataset_read(const char *path)
{
    nr_dataset_opts o;
    nr_dataset_opts_init(&o);
    nr_dataset *ds = NULL;
    nr_err e = {0};
    if (nr_dataset_open(path, &o, &ds, &e)) {
        if (!e.code || ds)
            abort();
        return;
    }
    int64_t n = nr_dataset_count(ds), k = n < 4 ? n : 4;
    int64_t per = nr_dataset_sample_size(ds);
    if (n > 0 && per > 0 && per <= (1 << 22)) {
        float *x = malloc((size_t)(k * per) * sizeof *x);
        int *lab = malloc((size_t)k * sizeof *lab);
        if (x && lab)
            nr_dataset_get(ds, 0, k, x, lab, &e);
        free(x);
        free(lab);
    }
    if (n > 0 && n <= (1 << 20)) {
        int *lab = malloc((size_t)n * sizeof *lab);
        nr_err_clear(&e);
        if (lab)
            nr_dataset_get(ds, 0, n, NULL, lab, &e);
        free(lab);
    }
    nr_dataset_close(ds);
}

/* Split data in two: its first two bytes (little endian) say where, in
 * what follows (*rest, *nrest); returns the length of the first part. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **rest,
                                size_t *nrest)
{
    if (size < 2) {
        *rest = data + size;
        *nrest = 0;
        return 0;
    }
    size_t cut = (size_t)data[0] | (size_t)data[1] << 8;
    *rest = data + 2;
    *nrest = size - 2;
    return cut < *nrest ? cut : *nrest;
}

#endif
