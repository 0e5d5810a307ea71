/* hash.c -- numrep's hashes, one definition each (numrep.h "hashing"):
 *   nr_hash_mix64   splitmix64's finaliser (Steele, Lea, Flood 2014), the
 *                   mixing step of everything below;
 *   nr_hash_next    splitmix64 as a generator (deterministic random weights,
 *                   tests' random inputs);
 *   nr_hash_bytes   a 64-bit hash of bytes (fp32-baseline cache keys, data
 *                   hashes, name maps, the generator's layer sharing);
 *   nr_hash128_*    FNV-1a 128 (the results store's file and key hashes,
 *                   written into stores as hex: it must never change);
 *   nr_hash_file    either or both of a whole file's bytes.
 * The stochastic-rounding draw (sr.c) is three nr_hash_mix64 rounds; the
 * generator emits the same integer operations (gen/ir/emit_num.c). None is
 * cryptographic. */
#include "numrep.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

uint64_t nr_hash_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t nr_hash_next(uint64_t *state)
{
    return nr_hash_mix64(*state += NR_HASH_GOLDEN);
}

uint64_t nr_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = nr_hash_mix64(h ^ w) + NR_HASH_GOLDEN;
    }
    uint64_t w = 0;
    if (n > i)
        memcpy(&w, b + i, n - i);
    return nr_hash_mix64(h ^ w ^ ((uint64_t)n << 56) ^ (uint64_t)n);
}

/* FNV-1a 128: offset basis and prime from the FNV reference. */
void nr_hash128_init(nr_hash128 *h)
{
    h->h = ((unsigned __int128)0x6c62272e07bb0142ull << 64) | 0x62b821756295c58dull;
}

void nr_hash128_update(nr_hash128 *h, const void *data, size_t n)
{
    const unsigned __int128 prime = ((unsigned __int128)1 << 88) | 0x13b;
    const unsigned char *p = data;
    unsigned __int128 x = h->h;
    for (size_t i = 0; i < n; i++)
        x = (x ^ p[i]) * prime;
    h->h = x;
}

void nr_hash128_hex(const nr_hash128 *h, char out[NR_HASH_HEX])
{
    snprintf(out, NR_HASH_HEX, "%016llx%016llx", (unsigned long long)(h->h >> 64),
             (unsigned long long)h->h);
}

int nr_hash_file(const char *path, uint64_t *h64, nr_hash128 *h128, nr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot open: %s", strerror(errno));
    if (h64)
        *h64 = NR_HASH_INIT;
    if (h128)
        nr_hash128_init(h128);
    unsigned char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (h64)
            *h64 = nr_hash_bytes(*h64, buf, got);
        if (h128)
            nr_hash128_update(h128, buf, got);
    }
    int bad = ferror(f);
    fclose(f);
    return bad ? nr_err_set(err, NR_EIO, path, 0, 0, "", "read error") : 0;
}
