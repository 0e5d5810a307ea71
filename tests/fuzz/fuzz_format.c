/* fuzz_format.c -- format names (nr_format_parse, runtime/num/format_parse.c)
 * and rounding-mode names; a parsed format's canonical name parses again to
 * the same format. */
#include "fuzz.h"
#include "numrep.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    nr_format f, g;
    nr_err e = {0};
    if (nr_format_parse(s, &f, &e) == 0) {
        char name[128];
        nr_format_name(&f, name, sizeof name);
        nr_err e2 = {0};
        if (nr_format_parse(name, &g, &e2) != 0 || g.kind != f.kind || g.width != f.width ||
            g.bias != f.bias || g.max_bits != f.max_bits || g.specials != f.specials ||
            g.saturate != f.saturate || g.subnormals != f.subnormals)
            abort(); /* the canonical name must round-trip */
    } else if (!e.code) {
        abort(); /* a failure always says why */
    }
    nr_rounding r;
    nr_err_clear(&e);
    nr_rounding_parse(s, &r, &e);
    free(s);
    return 0;
}
