/* fuzz_cifar.c -- CIFAR-10 files (runtime/io/ds_cifar.c): the first byte's
 * low bit picks the binary batch (test_batch.bin, the rest of the input) or
 * the raw pair (test_images.u8 + test_labels.u8, the rest split where its
 * first two bytes say). */
#include "fuzz.h"
#include "fuzz_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    fuzz_clean();
    if (data[0] & 1) {
        if (!fuzz_file(0, "test_batch.bin", data + 1, size - 1))
            return 0;
    } else {
        const uint8_t *p;
        size_t n, cut = fuzz_split(data + 1, size - 1, &p, &n);
        if (!fuzz_file(0, "test_images.u8", p, cut) ||
            !fuzz_file(1, "test_labels.u8", p + cut, n - cut))
            return 0;
    }
    fuzz_dataset_read(fuzz_dir());
    return 0;
}
