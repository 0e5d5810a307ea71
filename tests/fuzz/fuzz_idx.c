/* fuzz_idx.c -- MNIST IDX files (runtime/io/ds_idx.c): an images file and a
 * labels file (the input split where its first two bytes say), read
 * through nr_dataset_open on their directory. */
#include "fuzz.h"
#include "fuzz_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p;
    size_t n, cut = fuzz_split(data, size, &p, &n);
    fuzz_clean();
    if (!fuzz_file(0, "t10k-images-idx3-ubyte", p, cut) ||
        !fuzz_file(1, "t10k-labels-idx1-ubyte", p + cut, n - cut))
        return 0;
    fuzz_dataset_read(fuzz_dir());
    return 0;
}
