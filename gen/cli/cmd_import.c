/* cmd_import.c -- `numrep import MODEL.onnx -o DIR [--name NAME] [preprocessing]`:
 * convert an ONNX model (gen/onnx/onnx_import.c) into DIR/NAME.yaml +
 * DIR/NAME.safetensors, then load both back through the ordinary spec/model
 * path so that what was written is known to build.  An ONNX file does not
 * say how its inputs were preprocessed: --divisor/--mean/--std/--resize/
 * --crop/--dataset write it into the spec, so `numrep eval` feeds what the
 * network was trained on. */
#include "cli.h"
#include "model.h"
#include "onnx_import.h"
#include "tensorio.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "usage: numrep import MODEL.onnx -o DIR [--name NAME] [--divisor D] [--mean M]\n"
    "                     [--std S] [--resize N] [--crop N|HxW] [--dataset PATH]\n"
    "\n"
    "Convert an ONNX model into a network spec DIR/NAME.yaml and its weights\n"
    "DIR/NAME.safetensors (NAME defaults to the last component of DIR).\n"
    "\n"
    "The input preprocessing `numrep eval` applies (specs/README.md, `input:`);\n"
    "an ONNX file does not record it, and without it eval feeds pixel/255:\n"
    "  --divisor D        x = pixel / D (default 255)\n"
    "  --mean M, --std S  x = (x - M[c]) / S[c]: one number or C numbers\n"
    "                     separated by commas (0.485,0.456,0.406)\n"
    "  --resize N         bilinear resize of the shorter side to N (needs --crop)\n"
    "  --crop N|HxW       centre crop; must equal the input's H, W\n"
    "  --dataset PATH     the spec's default data for `numrep eval`\n"
    "Operators: Conv, Gemm, MatMul, Add, Relu, Clip, MaxPool, AveragePool,\n"
    "GlobalAveragePool, BatchNormalization, Concat, Flatten, Reshape (as flatten),\n"
    "Pad, Slice, LRN, Softmax, Dropout, Identity, and constant shape arithmetic.\n"
    "\n"
    "exit status: 0 ok, 1 error, 2 usage error\n";

/* "specs/resnet20/" -> "resnet20" */
static void dir_basename(const char *dir, char *out, size_t n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t b = len;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    size_t k = len - b < n - 1 ? len - b : n - 1;
    memcpy(out, dir + b, k);
    out[k] = 0;
}

/* "0.5" or "0.485,0.456,0.406" -> "[0.485, 0.456, 0.406]" (or "0.5"), each a
 * finite number; the spec parser checks the rest (count against C, std
 * nonzero, float32 range) when the spec is read back. */
static int number_list(const char *opt, const char *s, char *out, size_t n)
{
    char buf[256];
    size_t k = 0, count = 0;
    const char *p = s;
    buf[0] = 0;
    for (;;) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || (*end && *end != ','))
            return cli_usage("import", "%s: expected a number or numbers separated by commas, "
                             "got '%s'", opt, s);
        k += (size_t)snprintf(buf + k, k < sizeof buf ? sizeof buf - k : 0, "%s%.9g",
                              count ? ", " : "", v);
        count++;
        if (!*end)
            break;
        p = end + 1;
    }
    if (count > 3 || k >= sizeof buf)
        return cli_usage("import", "%s: at most 3 numbers (one per channel), got '%s'", opt, s);
    snprintf(out, n, count > 1 ? "[%s]" : "%s", buf);
    return 0;
}

/* The `input:` fields the options ask for, ", divisor: 255, mean: ..." */
typedef struct pp_args {
    const char *divisor, *mean, *std, *resize, *crop, *dataset;
} pp_args;

static int pp_fields(const pp_args *a, char *out, size_t n)
{
    char v[300];
    size_t k = 0;
    out[0] = 0;
    if (a->divisor) {
        char *end;
        double d = strtod(a->divisor, &end);
        if (end == a->divisor || *end || !isfinite(d) || d <= 0)
            return cli_usage("import", "--divisor: expected a positive number, got '%s'",
                             a->divisor);
        k += (size_t)snprintf(out + k, n - k, ", divisor: %.9g", d);
    }
    const char *lists[2][2] = {{"--mean", a->mean}, {"--std", a->std}};
    for (int i = 0; i < 2; i++)
        if (lists[i][1]) {
            int rc = number_list(lists[i][0], lists[i][1], v, sizeof v);
            if (rc)
                return rc;
            k += (size_t)snprintf(out + k, k < n ? n - k : 0, ", %s: %s", lists[i][0] + 2, v);
        }
    long long r, h, w;
    if (a->resize) {
        if (cli_parse_count(a->resize, 1, 65535, &r))
            return cli_usage("import", "--resize: expected an integer 1..65535, got '%s'",
                             a->resize);
        k += (size_t)snprintf(out + k, k < n ? n - k : 0, ", resize: %lld", r);
    }
    if (a->crop) {
        const char *x = strchr(a->crop, 'x');
        char hs[32];
        snprintf(hs, sizeof hs, "%.*s", x ? (int)(x - a->crop) : 31, a->crop);
        if (cli_parse_count(hs, 1, 65535, &h) || cli_parse_count(x ? x + 1 : hs, 1, 65535, &w))
            return cli_usage("import", "--crop: expected N or HxW (integers 1..65535), got '%s'",
                             a->crop);
        k += (size_t)snprintf(out + k, k < n ? n - k : 0, ", crop: [%lld, %lld]", h, w);
    }
    if (a->resize && !a->crop)
        return cli_usage("import", "--resize needs --crop (the network's H, W)");
    return k < n ? 0 : cli_usage("import", "preprocessing options too long");
}

/* Put the fields into the spec's `input: {shape: [C, H, W]}` line (the one
 * line gen/onnx/onnx_import.c writes for the input) and add `dataset:`. */
static int spec_add_input(char **spec, const char *fields, const char *dataset)
{
    const char *key = "\ninput: {shape: [";
    char *at = strstr(*spec, key);
    char *close = at ? strstr(at + strlen(key), "]}") : NULL;
    if (!close)
        return -1;
    size_t head = (size_t)(close - *spec) + 1, len = strlen(*spec);
    size_t extra = strlen(fields) + (dataset ? strlen(dataset) + 16 : 0);
    char *t = malloc(len + extra + 1);
    if (!t)
        return -1;
    int k = snprintf(t, len + extra + 1, "%.*s%s}\n", (int)head, *spec, fields);
    if (dataset)
        k += snprintf(t + k, len + extra + 1 - (size_t)k, "dataset: '%s'\n", dataset);
    snprintf(t + k, len + extra + 1 - (size_t)k, "%s", close + 3); /* after "]}\n" */
    free(*spec);
    *spec = t;
    return 0;
}

int cmd_import(int argc, char **argv)
{
    const char *model = NULL, *dir = NULL, *name_arg = NULL;
    pp_args pp = {0};
    struct { const char *opt; const char **dst; } opts[] = {
        {"-o", &dir}, {"--name", &name_arg}, {"--divisor", &pp.divisor}, {"--mean", &pp.mean},
        {"--std", &pp.std}, {"--resize", &pp.resize}, {"--crop", &pp.crop},
        {"--dataset", &pp.dataset}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t o = 0, nopts = sizeof opts / sizeof opts[0];
        while (o < nopts && strcmp(a, opts[o].opt))
            o++;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (o < nopts) {
            if (i + 1 >= argc)
                return cli_usage("import", "%s needs an argument", a);
            *opts[o].dst = argv[++i];
        } else if (a[0] == '-' && a[1])
            return cli_usage("import", "unknown option '%s'", a);
        else if (model)
            return cli_usage("import", "more than one model file");
        else
            model = a;
    }
    if (!model)
        return cli_usage("import", "missing the ONNX model file");
    if (!dir || !*dir)
        return cli_usage("import", "missing -o DIR");
    char name[NR_NAME_MAX];
    if (name_arg)
        snprintf(name, sizeof name, "%s", name_arg);
    else
        dir_basename(dir, name, sizeof name);
    if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
        return cli_usage("import", "cannot take a spec name from -o '%s'; give --name", dir);

    char fields[1024], dataset[4096];
    int rc = pp_fields(&pp, fields, sizeof fields);
    if (rc)
        return rc;
    if (pp.dataset && !realpath(pp.dataset, dataset))
        return cli_usage("import", "--dataset %s: %s", pp.dataset, strerror(errno));

    char wfile[NR_NAME_MAX + 16];
    snprintf(wfile, sizeof wfile, "%s.safetensors", name);
    nr_err err = {0};
    nr_onnx_import r;
    if (nr_onnx_import_file(model, name, wfile, &r, &err))
        return cli_error(&err);

    if ((fields[0] || pp.dataset) && spec_add_input(&r.spec, fields, pp.dataset ? dataset : NULL)) {
        nr_err_set(&err, NR_EINTERNAL, model, 0, 0, "import", "cannot add the preprocessing "
                   "to the spec (out of memory, or no `input:` line)");
        nr_onnx_import_free(&r);
        return cli_error(&err);
    }
    struct stat st;
    if (stat(dir, &st) && mkdir(dir, 0777) && errno != EEXIST) {
        nr_err_set(&err, NR_EIO, dir, 0, 0, "", "cannot create the directory: %s", strerror(errno));
        nr_onnx_import_free(&r);
        return cli_error(&err);
    }
    size_t plen = strlen(dir) + strlen(wfile) + 2;
    char *ypath = malloc(plen), *wpath = malloc(plen);
    if (!ypath || !wpath) {
        free(ypath);
        free(wpath);
        nr_onnx_import_free(&r);
        fprintf(stderr, "numrep import: out of memory\n");
        return 1;
    }
    snprintf(ypath, plen, "%s/%s.yaml", dir, name);
    snprintf(wpath, plen, "%s/%s", dir, wfile);

    int status = 0;
    FILE *f = NULL;
    if (r.ntensors && nr_safetensors_write_f32(wpath, r.tensors, r.ntensors, &err))
        status = cli_error(&err);
    if (!status && !(f = fopen(ypath, "w"))) {
        nr_err_set(&err, NR_EIO, ypath, 0, 0, "", "cannot create: %s", strerror(errno));
        status = cli_error(&err);
    }
    if (f && (fputs(r.spec, f) == EOF) + fclose(f)) {
        nr_err_set(&err, NR_EIO, ypath, 0, 0, "", "write failed: %s", strerror(errno));
        status = cli_error(&err);
    }
    if (!status) { /* read back: the spec must parse and bind its weights */
        nr_model *m = NULL;
        if (nr_model_load(ypath, "fp32", &m, &err)) {
            char msg[1024];
            nr_err_format(&err, msg, sizeof msg);
            fprintf(stderr, "numrep: the imported spec does not load (a bug in numrep import, "
                            "please report it): %s\n", msg);
            status = 1;
        }
        nr_model_free(m);
    }
    if (status) {
        remove(ypath);
        remove(wpath);
    } else
        printf("%s: %d layers (ONNX opset %lld); %s: %d tensors, %llu values\n", ypath,
               r.nlayers, (long long)r.opset, wpath, r.ntensors, (unsigned long long)r.nvalues);
    free(ypath);
    free(wpath);
    nr_onnx_import_free(&r);
    return status;
}
