/* onnx_write.c -- an ONNX model into DIR/NAME.yaml + DIR/NAME.safetensors:
 * gen_onnx_import_file with the preprocessing in its options (the importer
 * writes it into the spec's `input:`), the files written, and the spec
 * loaded back so that what was written is known to build.  `numrep import` and
 * numrep.import_onnx (python/) both call nr_onnx_import_dir. */
#include "onnx_write.h"

#include "model.h"
#include "onnx_import.h"
#include "tensorio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "specs/resnet20/" -> "resnet20" */
static void dir_basename(const char *dir, char *out, size_t n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t b = len;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    snprintf(out, n, "%.*s", (int)(len - b), dir + b);
}

static int write_files(const nr_onnx_import *r, const char *dir, nr_onnx_written *w,
                       nr_err *err)
{
    struct stat st;
    if (stat(dir, &st) && mkdir(dir, 0777) && errno != EEXIST)
        return nr_err_set(err, NR_EIO, dir, 0, 0, "", "cannot create the directory: %s",
                          strerror(errno));
    if (r->ntensors && nr_safetensors_write_f32(w->weights, r->tensors, r->ntensors, err))
        return -NR_EIO;
    FILE *f = fopen(w->yaml, "w");
    if (!f)
        return nr_err_set(err, NR_EIO, w->yaml, 0, 0, "", "cannot create: %s", strerror(errno));
    if ((fputs(r->spec, f) == EOF) + fclose(f))
        return nr_err_set(err, NR_EIO, w->yaml, 0, 0, "", "write failed: %s", strerror(errno));
    /* read back: the spec must parse and bind its weights */
    nr_model *m = NULL;
    int rc = nr_model_load(w->yaml, "fp32", &m, err);
    nr_model_free(m);
    if (rc) {
        char msg[1024];
        nr_err_format(err, msg, sizeof msg);
        nr_err_clear(err);
        return nr_err_set(err, -rc, w->yaml, 0, 0, "import",
                          "the written spec does not load: %s", msg);
    }
    return 0;
}

int nr_onnx_import_dir(const char *model, const char *dir, const char *name,
                       const nr_onnx_input *in, nr_onnx_written *out, nr_err *err)
{
    memset(out, 0, sizeof *out);
    char nm[NR_NAME_MAX], dataset[PATH_MAX];
    if (name)
        snprintf(nm, sizeof nm, "%s", name);
    else
        dir_basename(dir, nm, sizeof nm);
    if (!nm[0] || !strcmp(nm, ".") || !strcmp(nm, "..") || strchr(nm, '/'))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "name",
                          "cannot take a spec name from \"%s\"; give a name", dir);
    nr_onnx_import_opts o;
    gen_onnx_import_opts_init(&o, nm, NULL);
    if (in)
        o.input = *in;
    if (o.input.dataset && !realpath(o.input.dataset, dataset))
        return nr_err_set(err, NR_EIO, o.input.dataset, 0, 0, "dataset", "%s", strerror(errno));
    if (o.input.dataset) /* the spec names it absolutely */
        o.input.dataset = dataset;
    if ((size_t)snprintf(out->yaml, sizeof out->yaml, "%s/%s.yaml", dir, nm) >= sizeof out->yaml ||
        (size_t)snprintf(out->weights, sizeof out->weights, "%s/%s.safetensors", dir, nm) >=
            sizeof out->weights)
        return nr_err_set(err, NR_ERANGE, dir, 0, 0, "", "path too long");
    o.weights_file = strrchr(out->weights, '/') + 1;
    nr_onnx_import r;
    int rc = gen_onnx_import_file(model, &o, &r, err);
    if (rc)
        return rc;
    if ((rc = write_files(&r, dir, out, err))) {
        remove(out->yaml);
        remove(out->weights);
    }
    out->nlayers = r.nlayers, out->ntensors = r.ntensors;
    out->nvalues = r.nvalues, out->opset = r.opset;
    gen_onnx_import_free(&r);
    return rc;
}
