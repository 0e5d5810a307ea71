/* fuzz_images.c -- image-folder data sets (runtime/io/ds_images.c): the
 * input up to its first NUL is labels.txt, the rest one image file stored
 * as a.png and a.jpg (so the list can name either), decoded with libpng /
 * libjpeg and preprocessed. */
#include "fuzz.h"
#include "fuzz_dataset.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t nlist = nul ? (size_t)(nul - data) : size;
    const uint8_t *img = nul ? nul + 1 : data + size;
    size_t nimg = (size_t)(data + size - img);
    fuzz_clean();
    if (!fuzz_file(0, "labels.txt", data, nlist) || !fuzz_file(1, "a.png", img, nimg) ||
        !fuzz_file(2, "a.jpg", img, nimg))
        return 0;
    fuzz_dataset_read(fuzz_dir());
    return 0;
}
