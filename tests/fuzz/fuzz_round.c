/* fuzz_round.c -- `numrep round` values: nr_value_exact_parse (runtime/num/value.c),
 * then the value rounded into a few formats with every rounding mode. */
#include "fuzz.h"
#include "numrep.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static nr_format fmts[3];
    static int ready;
    if (!ready) {
        nr_err e = {0};
        if (nr_format_parse("e4m3", &fmts[0], &e) || nr_format_parse("bf16", &fmts[1], &e) ||
            nr_format_parse("q3.4", &fmts[2], &e))
            abort();
        ready = 1;
    }
    char *s = fuzz_cstr(data, size);
    nr_exact x;
    nr_err e = {0};
    if (nr_value_exact_parse(s, &x, &e) == 0) {
        (void)nr_codec_exact_to_double(&x);
        for (int k = 0; k < 3; k++)
            for (int m = 0; m < NR_RND_COUNT; m++) {
                unsigned fl = 0;
                (void)nr_round_exact(&fmts[k], (nr_rounding)m, &x, 0x9e3779b9u, &fl);
            }
    } else if (!e.code) {
        abort();
    }
    free(s);
    return 0;
}
