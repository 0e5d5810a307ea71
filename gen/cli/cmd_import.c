/* cmd_import.c -- `numrep import MODEL.onnx -o DIR [--name NAME] [preprocessing]`:
 * convert an ONNX model (gen/onnx/onnx_import.c) into DIR/NAME.yaml +
 * DIR/NAME.safetensors, then load both back through the ordinary spec/model
 * path so that what was written is known to build.  An ONNX file does not
 * say how its inputs were preprocessed: --divisor/--mean/--std/--resize/
 * --crop/--dataset write it into the spec, so `numrep eval` feeds what the
 * network was trained on. */
#include "cli.h"
#include "onnx_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "0.5" or "0.485,0.456,0.406" -> v[0..*n), each a finite number (at most
 * 3; gen_onnx_input_check and the spec parser check the rest). */
static int number_list(const char *opt, const char *s, double *v, int *n)
{
    const char *p = s;
    for (*n = 0;; p++) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || !isfinite(x) || (*end && *end != ','))
            return cli_usage("import", "%s: expected a number or numbers separated by commas, "
                             "got '%s'", opt, s);
        if (*n == 3)
            return cli_usage("import", "%s: at most 3 numbers (one per channel), got '%s'", opt,
                             s);
        v[(*n)++] = x;
        if (!*end)
            return 0;
        p = end;
    }
}

/* The preprocessing options' text into in (usage errors: exit status 2). */
typedef struct pp_args {
    const char *divisor, *mean, *std, *resize, *crop, *dataset;
} pp_args;

typedef struct import_opts {
    const char *dir, *name;
    pp_args pp;
} import_opts;

#define OPT(field) .kind = GEN_OPT_STR, .off = offsetof(import_opts, field)
static const gen_opt import_table[] = {
    {.shrt = 'o', OPT(dir)},
    {.name = "name", OPT(name)},
    {.name = "divisor", OPT(pp.divisor), .arg = "D", .help = "x = pixel / D (default 255)"},
    {.name = "mean", OPT(pp.mean), .label = "--mean M, --std S",
     .help = "x = (x - M[c]) / S[c]: one number or C numbers\n"
             "separated by commas (0.485,0.456,0.406)"},
    {.name = "std", OPT(pp.std)},
    {.name = "resize", OPT(pp.resize), .arg = "N",
     .help = "bilinear resize of the shorter side to N (needs --crop)"},
    {.name = "crop", OPT(pp.crop), .arg = "N|HxW", .help = "centre crop; must equal the input's H, W"},
    {.name = "dataset", OPT(pp.dataset), .arg = "PATH",
     .help = "the spec's default data for `numrep eval`"},
    {0}};
#undef OPT

/* A second model file: the usage error. */
static int extra_model(const char *cmd, const char *first, const char *arg)
{
    (void)first, (void)arg;
    return cli_usage(cmd, "more than one model file");
}

static const cli_cmd import_cmd = {
    .name = "import",
    .opts = import_table,
    .quote = '\'',
    .npos = 1,
    .extra = extra_model,
    .usage = "usage: numrep import MODEL.onnx -o DIR [--name NAME] [--divisor D] [--mean M]\n"
             "                     [--std S] [--resize N] [--crop N|HxW] [--dataset PATH]\n"
             "\n"
             "Convert an ONNX model into a network spec DIR/NAME.yaml and its weights\n"
             "DIR/NAME.safetensors (NAME defaults to the last component of DIR).\n"
             "\n"
             "The input preprocessing `numrep eval` applies (specs/README.md, `input:`);\n"
             "an ONNX file does not record it, and without it eval feeds pixel/255:\n",
    .usage_end =
        "Operators: Conv, Gemm, MatMul, Add, Relu, Clip, MaxPool, AveragePool,\n"
        "GlobalAveragePool, BatchNormalization, Concat, Flatten, Reshape (as flatten),\n"
        "Pad, Slice, LRN, Softmax, Dropout, Identity, and constant shape arithmetic.\n"
        "\n"
        "exit status: 0 ok, 1 error, 2 usage error\n",
};

static int pp_parse(const pp_args *a, nr_onnx_input *in)
{
    gen_onnx_input_init(in);
    int rc = 0;
    if (a->divisor) {
        char *end;
        in->divisor = strtod(a->divisor, &end);
        if (end == a->divisor || *end || !isfinite(in->divisor) || in->divisor <= 0)
            return cli_usage("import", "--divisor: expected a positive number, got '%s'",
                             a->divisor);
    }
    if ((a->mean && (rc = number_list("--mean", a->mean, in->mean, &in->nmean))) ||
        (a->std && (rc = number_list("--std", a->std, in->std, &in->nstd))))
        return rc;
    long long r, h, w;
    if (a->resize) {
        if (cli_parse_count(a->resize, 1, 65535, &r))
            return cli_usage("import", "--resize: expected an integer 1..65535, got '%s'",
                             a->resize);
        in->resize = (int)r;
    }
    if (a->crop) {
        const char *x = strchr(a->crop, 'x');
        char hs[32];
        snprintf(hs, sizeof hs, "%.*s", x ? (int)(x - a->crop) : 31, a->crop);
        if (cli_parse_count(hs, 1, 65535, &h) || cli_parse_count(x ? x + 1 : hs, 1, 65535, &w))
            return cli_usage("import", "--crop: expected N or HxW (integers 1..65535), got '%s'",
                             a->crop);
        in->crop_h = (int)h, in->crop_w = (int)w;
    }
    in->dataset = a->dataset;
    nr_err e = {0};
    if (gen_onnx_input_check(in, &e)) {
        char msg[1024];
        nr_err_format(&e, msg, sizeof msg);
        return cli_usage("import", "--%s", msg);
    }
    return 0;
}

int cmd_import(int argc, char **argv)
{
    const char *model = NULL;
    import_opts o = {0};
    int rc = cli_opts_parse(&import_cmd, argc, argv, &o, &model);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *dir = o.dir, *name_arg = o.name;
    pp_args pp = o.pp;
    if (!model)
        return cli_usage("import", "missing the ONNX model file");
    if (!dir || !*dir)
        return cli_usage("import", "missing -o DIR");
    nr_onnx_input in;
    rc = pp_parse(&pp, &in);
    if (rc)
        return rc;
    nr_err err = {0};
    nr_onnx_written w;
    if (nr_onnx_import_dir(model, dir, name_arg, &in, &w, &err))
        return cli_error(&err);
    printf("%s: %d layers (ONNX opset %lld); %s: %d tensors, %llu values\n", w.yaml, w.nlayers,
           (long long)w.opset, w.weights, w.ntensors, (unsigned long long)w.nvalues);
    return 0;
}
