/* fuzz_spec.c -- network spec YAML (runtime/io/yaml.c, runtime/net/spec.c),
 * then the model build with random weights (runtime/net/model.c) under a
 * 64 MiB limit, and one emulated sample when the network is small. */
#include "fuzz.h"
#include "emulator.h"
#include "model.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    nr_spec *s = NULL;
    nr_err e = {0};
    if (nr_spec_parse_string(text, "fuzz.yaml", &s, &e)) {
        if (!e.code || s)
            abort();
        free(text);
        return 0;
    }
    nr_model_opts o;
    nr_model_opts_init(&o);
    o.random_seed = 1;
    o.max_memory = 64 << 20;
    nr_model *m = NULL;
    if (nr_model_build_opts(s, NULL, &o, &m, &e) == 0) {
        long long macs = 0;
        for (int i = 0; i < m->nlayers; i++)
            macs += m->layers[i].macs;
        size_t nin = nr_shape_count(m->in_shape);
        size_t nout = nr_shape_count(m->layers[m->output].out_shape);
        if (macs < 200000 && nin < 100000) {
            float *x = calloc(nin + 1, sizeof *x), *y = calloc(nout + 1, sizeof *y);
            if (x && y)
                nr_emulate(m, x, 1, y, NULL, NULL, &e);
            free(x);
            free(y);
        }
        nr_model_free(m);
    } else if (!e.code || m) {
        abort();
    }
    free(text);
    return 0;
}
