/* nlrt_table.c -- a nonlinear function of a <= 16-bit format as a lookup
 * table: every input's result (and flags) computed once with nr_nlrt, so a
 * table gives exactly nr_nlrt's bits at a load per element. */
#include "nlrt.h"

#include <stdlib.h>
#include <string.h>

struct nr_nltab {
    int in_bytes, out_bytes;
    uint64_t in_mask;
    uint32_t *res;  /* result encodings, indexed by the input encoding */
    uint8_t *flags; /* their flags (NR_FLAG_*, all fit in 8 bits) */
};

int nr_nltab_new(const nr_nl *f, const nr_format *in, const nr_format *out, nr_rounding mode,
                 nr_nltab **tab, nr_err *err)
{
    *tab = NULL;
    int rc = nr_nlrt_supported(f, in, out, err);
    if (rc)
        return rc;
    if (in->width > 16 || mode == NR_RND_SR)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, nr_nl_name(f->fn),
                          "a table needs an input of at most 16 bits (got %d) and a mode "
                          "other than sr",
                          in->width);
    size_t n = (size_t)1 << in->width;
    nr_nltab *t = calloc(1, sizeof *t);
    if (t) {
        t->res = malloc(n * sizeof *t->res);
        t->flags = malloc(n);
    }
    if (!t || !t->res || !t->flags) {
        nr_nltab_free(t);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "nltab", "out of memory");
    }
    t->in_bytes = in->container;
    t->out_bytes = out->container;
    t->in_mask = n - 1;
    for (size_t x = 0; x < n; x++) {
        unsigned fl = 0;
        t->res[x] = (uint32_t)nr_nlrt(f, in, x, out, mode, 0, &fl);
        t->flags[x] = (uint8_t)fl;
    }
    *tab = t;
    return 0;
}

void nr_nltab_free(nr_nltab *t)
{
    if (!t)
        return;
    free(t->res);
    free(t->flags);
    free(t);
}

uint64_t nr_nltab_get(const nr_nltab *t, uint64_t x, unsigned *flags)
{
    x &= t->in_mask;
    if (flags)
        *flags |= t->flags[x];
    return t->res[x];
}

void nr_nltab_apply(const nr_nltab *t, const void *in, void *out, size_t n)
{
    const uint32_t *res = t->res;
    if (t->in_bytes == 2 && t->out_bytes == 2) {
        const uint16_t *a = in;
        uint16_t *b = out;
        for (size_t i = 0; i < n; i++)
            b[i] = (uint16_t)res[a[i] & t->in_mask];
        return;
    }
    if (t->in_bytes == 1 && t->out_bytes == 1) {
        const uint8_t *a = in;
        uint8_t *b = out;
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)res[a[i] & t->in_mask];
        return;
    }
    const uint8_t *a = in; /* general containers, little-endian */
    uint8_t *b = out;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = 0;
        for (int j = 0; j < t->in_bytes; j++)
            x |= (uint64_t)a[i * t->in_bytes + j] << (8 * j);
        uint32_t r = res[x & t->in_mask];
        for (int j = 0; j < t->out_bytes; j++)
            b[i * t->out_bytes + j] = (uint8_t)(r >> (8 * j));
    }
}
