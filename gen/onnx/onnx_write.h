/* onnx_write.h -- an ONNX model imported into a directory: DIR/NAME.yaml +
 * DIR/NAME.safetensors, with the input preprocessing the ONNX file does not
 * record, read back through the ordinary spec/model path.  What `numrep
 * import` and Python's numrep.import_onnx both call.  Exports of
 * onnx_write.c: */
#ifndef NUMREP_ONNX_WRITE_H
#define NUMREP_ONNX_WRITE_H

#include <limits.h>
#include <stdint.h>
#include "numrep.h"
#include "onnx_import.h" /* nr_onnx_input */

typedef struct nr_onnx_written {
    char yaml[PATH_MAX], weights[PATH_MAX]; /* the files written                */
    int nlayers, ntensors;
    uint64_t nvalues;
    int64_t opset;
} nr_onnx_written;
/* Import model into dir (created if missing) as NAME.yaml + NAME.safetensors
 * (name NULL: dir's last component), in the preprocessing in (NULL: none),
 * then load the spec back; on any failure nothing is left behind. */
int nr_onnx_import_dir(const char *model, const char *dir, const char *name,
                       const nr_onnx_input *in, nr_onnx_written *out, nr_err *err);

#endif
