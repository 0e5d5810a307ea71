/* fuzz_precision.c -- precision YAML (runtime/net/precision.c) bound to a
 * small fixed network (runtime/net/model.c) and one emulated sample. */
#include "fuzz.h"
#include "emulator.h"
#include "model.h"

#include <stdlib.h>

static const char net[] = "input: {shape: [1, 6, 6]}\n"
                          "layers:\n"
                          "  - {name: conv1, op: conv, out: 2, kernel: 3}\n"
                          "  - {name: bn1, op: batchnorm}\n"
                          "  - {name: r1, op: relu}\n"
                          "  - {name: fc1, op: dense, out: 3}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    nr_precision *p = NULL;
    nr_spec *s = NULL;
    nr_err e = {0};
    if (nr_precision_parse_string(text, "fuzz.yaml", &p, &e)) {
        if (!e.code || p)
            abort();
        free(text);
        return 0;
    }
    if (nr_spec_parse_string(net, "net.yaml", &s, &e))
        abort();
    nr_model *m = NULL;
    if (nr_model_build(s, p, NULL, 1, &m, &e) == 0) {
        float x[36] = {0.5f, -1.0f, 2.0f}, y[3];
        nr_emulate(m, x, 1, y, NULL, NULL, &e);
        nr_model_free(m);
    } else if (!e.code) {
        abort();
    }
    free(text);
    return 0;
}
