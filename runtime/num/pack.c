/* pack.c -- dense bit-packing of encodings, the one layout numrep uses
 * ([--pack dense] weights, gen/lower/plan.h; numrep.pack in python/):
 * value k of a tensor at bit k*width, LSB first, back to back, so n values
 * take ceil(n*width/8) bytes; no byte past that is read or written.  Also
 * encoding i of an array in a format's container (1/2/4/8 bytes). */
#include "numrep.h"

size_t nr_pack_bytes(int width, size_t n)
{
    return (size_t)(((uint64_t)n * (uint64_t)width + 7) / 8);
}

void nr_pack_put(uint8_t *base, int width, uint64_t k, uint64_t v)
{
    const uint64_t bit = k * (uint64_t)width;
    const int sh = (int)(bit & 7);
    uint8_t *q = base + (bit >> 3);
    if (width < 64)
        v &= (1ull << width) - 1;
    /* byte j holds value bits 8j-sh .. 8j-sh+7; 8j-sh < width <= 64 */
    for (int j = 0; 8 * j < sh + width; j++)
        q[j] |= (uint8_t)(j == 0 ? v << sh : v >> (8 * j - sh));
}

uint64_t nr_pack_get(const uint8_t *base, int width, uint64_t k)
{
    const uint64_t bit = k * (uint64_t)width;
    const int sh = (int)(bit & 7);
    const uint8_t *q = base + (bit >> 3);
    uint64_t v = 0;
    for (int j = 0; 8 * j < sh + width; j++)
        v |= j == 0 ? (uint64_t)q[0] >> sh : (uint64_t)q[j] << (8 * j - sh);
    return width < 64 ? v & ((1ull << width) - 1) : v;
}

uint64_t nr_container_load(const void *in, int container, size_t i)
{
    switch (container) {
    case 1: return ((const uint8_t *)in)[i];
    case 2: return ((const uint16_t *)in)[i];
    case 4: return ((const uint32_t *)in)[i];
    default: return ((const uint64_t *)in)[i];
    }
}

void nr_container_store(void *out, int container, size_t i, uint64_t b)
{
    switch (container) {
    case 1: ((uint8_t *)out)[i] = (uint8_t)b; break;
    case 2: ((uint16_t *)out)[i] = (uint16_t)b; break;
    case 4: ((uint32_t *)out)[i] = (uint32_t)b; break;
    default: ((uint64_t *)out)[i] = b; break;
    }
}

void nr_pack_dense(const nr_format *f, const void *in, size_t n, uint8_t *out)
{
    size_t bytes = nr_pack_bytes(f->width, n);
    for (size_t i = 0; i < bytes; i++)
        out[i] = 0;
    for (size_t i = 0; i < n; i++)
        nr_pack_put(out, f->width, i, nr_container_load(in, f->container, i));
}

void nr_unpack_dense(const nr_format *f, const uint8_t *in, size_t n, void *out)
{
    for (size_t i = 0; i < n; i++)
        nr_container_store(out, f->container, i, nr_pack_get(in, f->width, i));
}
