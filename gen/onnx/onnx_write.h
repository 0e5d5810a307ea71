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

/* The spec's `input:` preprocessing fields (specs/README.md) and `dataset:`;
 * a field left at its init value is not written (the spec's default). */
typedef struct nr_onnx_input {
    double divisor;          /* x = pixel / divisor; 0: not written            */
    int nmean, nstd;         /* 0..3 values each (one, or one per channel)     */
    double mean[3], std[3];
    int resize;              /* bilinear resize of the shorter side; 0: none   */
    int crop_h, crop_w;      /* centre crop; 0: none (resize needs a crop)     */
    const char *dataset;     /* the spec's default data, made absolute; NULL   */
} nr_onnx_input;
void nr_onnx_input_init(nr_onnx_input *in);
/* The fields' own checks (divisor positive, at most 3 finite means/stds,
 * resize/crop 1..65535, resize only with crop, dataset exists): 0 or
 * -NR_ERANGE / -NR_EIO with the field named in err->where.  The spec parser
 * checks the rest (counts against the channels) when the spec is read back. */
int nr_onnx_input_check(const nr_onnx_input *in, nr_err *err);

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
