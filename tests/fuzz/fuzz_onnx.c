/* fuzz_onnx.c -- ONNX import (gen/onnx/) from a buffer. */
#include "fuzz.h"
#include "onnx_import.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nr_onnx_import r;
    nr_err e = {0};
    nr_onnx_import_opts o;
    gen_onnx_import_opts_init(&o, "fuzz", "fuzz.safetensors");
    if (gen_onnx_import_buffer(data, size, "fuzz.onnx", &o, &r, &e) == 0)
        gen_onnx_import_free(&r);
    else if (!e.code)
        abort();
    return 0;
}
