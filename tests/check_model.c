/* check_model.c -- nr_model_build: input resolution, topological order,
 * shape inference and pad resolution (hand-worked sizes), weight binding
 * from safetensors files written here with plain C (so the test depends on
 * the safetensors format, not on numrep's writer), batchnorm folding
 * against the [net] formula computed here, random weights, precision
 * resolution, and bad weights with their messages. */
#include "testutil.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- safetensors by hand */

typedef struct {
    const char *name;
    const char *dtype; /* "F32" (data below) */
    int ndim;
    int64_t shape[8];
    float *data;
} tensor;

static size_t tcount(const tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

/* 8-byte little-endian header length, JSON header (padded with spaces to a
 * multiple of 8), then the data section. */
static void write_st(const char *path, const tensor *t, int n)
{
    char hdr[8192];
    size_t k = 0, off = 0;
    k += (size_t)snprintf(hdr + k, sizeof hdr - k, "{");
    for (int i = 0; i < n; i++) {
        size_t bytes = tcount(&t[i]) * 4;
        k += (size_t)snprintf(hdr + k, sizeof hdr - k, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                              i ? "," : "", t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++)
            k += (size_t)snprintf(hdr + k, sizeof hdr - k, "%s%lld", d ? "," : "",
                                  (long long)t[i].shape[d]);
        k += (size_t)snprintf(hdr + k, sizeof hdr - k, "],\"data_offsets\":[%zu,%zu]}", off,
                              off + bytes);
        off += bytes;
    }
    k += (size_t)snprintf(hdr + k, sizeof hdr - k, "}");
    while (k % 8)
        hdr[k++] = ' ';
    ck_assert_uint_lt(k, sizeof hdr);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)k >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(hdr, 1, k, f);
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < tcount(&t[i]); j++) {
            uint32_t u;
            memcpy(&u, &t[i].data[j], 4);
            unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8),
                                  (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
            fwrite(b, 1, 4, f);
        }
    fclose(f);
}

/* Random float data in [lo, hi). */
static float *rnd(size_t n, float lo, float hi, uint64_t *st)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((tu_rand(st) >> 40) * 0x1p-24);
    return x;
}

static char st_path[256];

static const char *tmp_path(const char *tag)
{
    snprintf(st_path, sizeof st_path, "/tmp/check_model_%d_%s.safetensors", (int)getpid(), tag);
    return st_path;
}

/* Parse + build; on failure the formatted error is in msg. */
static int build(const char *net, const char *prec, const char *wpath, uint64_t seed,
                 nr_model **m, char *msg)
{
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    nr_err e = {0};
    *m = NULL;
    msg[0] = 0;
    int rc = nr_spec_parse_string(net, "net.yaml", &s, &e);
    if (!rc && prec)
        rc = nr_precision_parse_string(prec, "prec.yaml", &p, &e);
    if (rc)
        nr_spec_free(s);
    else
        rc = nr_model_build(s, p, wpath, seed, m, &e);
    if (rc)
        nr_err_format(&e, msg, 1024);
    return rc;
}

static nr_model *build_ok(const char *net, const char *prec, const char *wpath, uint64_t seed)
{
    nr_model *m;
    char msg[1024];
    int rc = build(net, prec, wpath, seed, &m, msg);
    ck_assert_msg(rc == 0, "build failed: %s", msg);
    return m;
}

static void build_bad_seed(const char *net, const char *wpath, uint64_t seed, const char *expect)
{
    nr_model *m;
    char msg[1024];
    int rc = build(net, NULL, wpath, seed, &m, msg);
    ck_assert_msg(rc < 0 && !m, "accepted");
    ck_assert_msg(!strncmp(msg, expect, strlen(expect)), "\n got: %s\nwant: %s", msg, expect);
}

static void build_bad(const char *net, const char *wpath, const char *expect)
{
    build_bad_seed(net, wpath, 0, expect);
}

/* graph and shape errors, with random weights so that no file is needed */
static void shape_bad(const char *net, const char *expect)
{
    build_bad_seed(net, NULL, 1, expect);
}

static void shape_is(const int *s, int c, int h, int w)
{
    ck_assert_msg(s[0] == c && s[1] == h && s[2] == w, "shape [%d, %d, %d], want [%d, %d, %d]",
                  s[0], s[1], s[2], c, h, w);
}

/* ---------------------------------------------------------------- shapes */

START_TEST(shapes_hand_worked)
{
    nr_model *m = build_ok(
        "input: {shape: [4, 7, 8]}\n"
        "layers:\n"
        "  - {name: c_same, op: conv, out: 6, kernel: 3, stride: 2, pad: same}\n"
        "  - {name: dw, op: conv, out: 6, kernel: 3, dilation: 2, groups: 6, pad: [2, 1, 0, 3]}\n"
        "  - {name: c_valid, op: conv, out: 2, kernel: [1, 2], pad: valid}\n"
        "  - {name: mp_floor, op: maxpool, kernel: 2, input: input}\n"
        "  - {name: mp_ceil, op: maxpool, kernel: 2, ceil_mode: true, input: input}\n"
        "  - {name: ap, op: avgpool, kernel: 2, stride: 3, pad: 1, ceil_mode: true, input: input}\n"
        "  - {name: sl, op: slice, c: [-3], h: [0, end, 2], w: [1, -1], input: input}\n"
        "  - {name: pd, op: pad, c: [1, 2], w: [0, 1]}\n"
        "  - {name: gap, op: global_avgpool}\n"
        "  - {name: cat, op: concat, inputs: [c_same, mp_ceil, c_same]}\n"
        "  - {name: fl, op: flatten, input: sl}\n"
        "  - {name: fc, op: dense, out: 5}\n"
        "  - {name: sum, op: add, inputs: [mp_floor, mp_floor]}\n",
        NULL, NULL, 1);
    ck_assert_int_eq(m->nlayers, 13);
    const nr_layer *L = m->layers;
    /* SAME, stride 2: H 7 -> ceil(7/2) = 4, total pad (4-1)*2+3-7 = 2 -> 1/1;
     * W 8 -> 4, total (4-1)*2+3-8 = 1 -> left 0, right 1 */
    shape_is(L[0].out_shape, 6, 4, 4);
    ck_assert(L[0].pad[0] == 1 && L[0].pad[1] == 0 && L[0].pad[2] == 1 && L[0].pad[3] == 1);
    ck_assert_int_eq(L[0].macs, 6LL * 4 * 4 * 4 * 3 * 3);
    ck_assert_uint_eq(L[0].nw, 6 * 4 * 3 * 3);
    ck_assert_uint_eq(L[0].nb, 6);
    /* depthwise, dilation 2 (effective kernel 5): H 4+2+0 -> 2, W 4+1+3 -> 4 */
    shape_is(L[1].out_shape, 6, 2, 4);
    ck_assert_int_eq(L[1].macs, 6LL * 2 * 4 * 1 * 3 * 3);
    ck_assert_uint_eq(L[1].nw, 6 * 1 * 3 * 3);
    /* valid, kernel [1, 2]: [2, 2, 3] */
    shape_is(L[2].out_shape, 2, 2, 3);
    /* maxpool 2 on 7x8: floor 3x4, ceil 4x4 */
    shape_is(L[3].out_shape, 4, 3, 4);
    shape_is(L[4].out_shape, 4, 4, 4);
    /* avgpool k2 s3 p1 ceil on 7: ceil((7+2-2)/3)+1 = 4, (4-1)*3 = 9 >= 7+1 -> 3;
     * on 8: ceil(8/3)+1 = 4, 9 >= 9 -> 3 */
    shape_is(L[5].out_shape, 4, 3, 3);
    /* slice c [-3:] of 4 -> 3; h [0:7:2] -> 4; w [1:-1] of 8 -> 6; bounds resolved in the spec */
    shape_is(L[6].out_shape, 3, 4, 6);
    ck_assert_int_eq(L[6].spec->slice_start[0], 1);
    ck_assert_int_eq(L[6].spec->slice_stop[0], 4);
    ck_assert_int_eq(L[6].spec->slice_stop[1], 7);
    ck_assert_int_eq(L[6].spec->slice_stop[2], 7);
    shape_is(L[7].out_shape, 6, 4, 7);
    shape_is(L[8].out_shape, 6, 1, 1);
    shape_is(L[9].out_shape, 16, 4, 4);
    ck_assert_int_eq(L[9].ninputs, 3);
    ck_assert_int_eq(L[9].inputs[0], 0);
    ck_assert_int_eq(L[9].inputs[1], 4);
    ck_assert_int_eq(L[9].inputs[2], 0);
    shape_is(L[10].out_shape, 72, 1, 1);
    shape_is(L[11].out_shape, 5, 1, 1);
    ck_assert_uint_eq(L[11].nw, 5 * 72);
    ck_assert_int_eq(L[11].macs, 5 * 72);
    ck_assert_int_eq(m->output, 12);
    for (int i = 0; i < m->nlayers; i++)
        ck_assert_int_eq(L[i].index, i);
    nr_model_free(m);
}
END_TEST

START_TEST(shape_errors)
{
#define HDR "input: {shape: [3, 8, 8]}\nlayers:\n"
    shape_bad(HDR "  - {name: p, op: maxpool, kernel: 2, pad: 2}\n",
              "net.yaml:3:5: layers[0].pad: pad 2 is more than half the kernel (2) (layer p)");
    shape_bad(HDR "  - {name: c, op: conv, out: 2, kernel: 3, dilation: 4}\n",
              "net.yaml:3:5: layers[0].kernel: height kernel 9 (dilated) is larger than the "
              "padded input height 8 (8 + 0 + 0) (layer c)");
    shape_bad(HDR "  - {name: p, op: avgpool, kernel: [2, 10]}\n",
              "net.yaml:3:5: layers[0].kernel: width kernel 10 is larger than the padded input "
              "width 8");
    shape_bad(HDR "  - {name: s, op: slice, w: [5, 5]}\n",
              "net.yaml:3:5: layers[0].w: slice [5, 5) is empty or outside the axis of size 8");
    shape_bad(HDR "  - {name: s, op: slice, w: [-9]}\n",
              "net.yaml:3:5: layers[0].w: slice [-9, 2147483647) is empty or outside");
    shape_bad(HDR "  - {name: a, op: relu}\n  - {name: b, op: relu, input: b}\n",
              "net.yaml:4:5: layers[1].inputs: the layers form a cycle: b <- b (each reads the next)");
    shape_bad(HDR "  - {name: a, op: relu}\n  - {name: fl, op: flatten}\n"
                  "  - {name: s, op: add, inputs: [a, fl]}\n",
              "net.yaml:5:5: layers[2].inputs: add needs equal shapes, got [3, 8, 8] and "
              "[192, 1, 1] (layer s)");
    build_bad(HDR "  - {name: c, op: conv, out: 2, kernel: 1}\n", NULL,
              "net.yaml: weights: the network has conv/dense/batchnorm layers but no weights file");
#undef HDR
}
END_TEST

START_TEST(topological_order)
{
    /* b names c, which comes later in the text: the model puts c first */
    nr_model *m = build_ok("input: {shape: [2, 3, 3]}\n"
                           "layers:\n"
                           "  - {name: a, op: relu}\n"
                           "  - {name: b, op: add, inputs: [a, c]}\n"
                           "  - {name: c, op: relu6, input: a}\n"
                           "  - {name: d, op: dropout, input: b}\n"
                           "output: b\n",
                           NULL, NULL, 0);
    ck_assert_int_eq(m->nlayers, 4);
    ck_assert_str_eq(m->layers[0].name, "a");
    ck_assert_str_eq(m->layers[1].name, "c");
    ck_assert_str_eq(m->layers[2].name, "b");
    ck_assert_str_eq(m->layers[3].name, "d");
    ck_assert_int_eq(m->layers[0].inputs[0], -1);
    ck_assert_int_eq(m->layers[1].inputs[0], 0);
    ck_assert_int_eq(m->layers[2].inputs[0], 0);
    ck_assert_int_eq(m->layers[2].inputs[1], 1);
    ck_assert_int_eq(m->layers[3].inputs[0], 2);
    ck_assert_int_eq(m->output, 2);
    ck_assert_int_eq(nr_model_find(m, "c"), 1);
    ck_assert_int_eq(nr_model_find(m, "zz"), -1);
    ck_assert_ptr_null(m->layers[0].w);
    nr_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- weights */

static const char *fold_net = "input: {shape: [2, 5, 5]}\n"
                              "layers:\n"
                              "  - {name: conv1, op: conv, out: 3, kernel: 3, pad: 1}\n"
                              "  - {name: bn1, op: batchnorm, eps: 0.001}\n"
                              "  - {name: relu1, op: relu, input: bn1}\n"
                              "  - {name: flat, op: flatten}\n"
                              "  - {name: fc, op: dense, out: 2}\n"
                              "  - {name: bn2, op: batchnorm}\n";

START_TEST(fold_batchnorm)
{
    uint64_t st = 42;
    tensor t[] = {
        {"conv1.weight", "F32", 4, {3, 2, 3, 3}, rnd(54, -1, 1, &st)},
        {"conv1.bias", "F32", 1, {3}, rnd(3, -1, 1, &st)},
        {"bn1.weight", "F32", 1, {3}, rnd(3, 0.5f, 2, &st)},
        {"bn1.bias", "F32", 1, {3}, rnd(3, -1, 1, &st)},
        {"bn1.running_mean", "F32", 1, {3}, rnd(3, -1, 1, &st)},
        {"bn1.running_var", "F32", 1, {3}, rnd(3, 0.1f, 3, &st)},
        {"fc.weight", "F32", 2, {2, 75}, rnd(150, -1, 1, &st)},
        {"bn2.weight", "F32", 1, {2}, rnd(2, 0.5f, 2, &st)},
        {"bn2.bias", "F32", 1, {2}, rnd(2, -1, 1, &st)},
        {"bn2.running_mean", "F32", 1, {2}, rnd(2, -1, 1, &st)},
        {"bn2.running_var", "F32", 1, {2}, rnd(2, 0.1f, 3, &st)},
    };
    int nt = (int)(sizeof t / sizeof t[0]);
    /* a num_batches_tracked counter (PyTorch bookkeeping) is tolerated */
    tensor extra = {"bn1.num_batches_tracked", "F32", 1, {1}, rnd(1, 0, 1, &st)};
    tensor all[12];
    memcpy(all, t, sizeof t);
    all[nt] = extra;
    const char *path = tmp_path("fold");
    write_st(path, all, nt + 1);
    nr_model *m = build_ok(fold_net,
                           "default: {weights: fp16}\n"
                           "layers:\n"
                           "  bn1: {accumulator: fp32}\n"
                           "  conv1: {rounding: rz}\n",
                           path, 0);
    ck_assert_int_eq(m->nlayers, 4); /* conv1(+bn1) relu1 flat fc(+bn2) */
    const nr_layer *c = &m->layers[0], *fc = &m->layers[3];
    ck_assert_str_eq(c->name, "conv1");
    ck_assert_str_eq(c->folded_bn, "bn1");
    ck_assert_str_eq(fc->folded_bn, "bn2");
    ck_assert_int_eq(nr_model_find(m, "bn1"), 0);
    ck_assert_int_eq(m->layers[1].inputs[0], 0); /* relu1 reads bn1 = the folded conv1 */
    ck_assert_int_eq(m->output, 3);               /* output bn2 = the folded fc */
    ck_assert_uint_eq(c->nw, 54);
    ck_assert_uint_eq(c->nb, 3);
    for (int o = 0; o < 3; o++) {
        double s = (double)t[2].data[o] / sqrt((double)t[5].data[o] + 0.001);
        for (int j = 0; j < 18; j++)
            ck_assert_msg(c->w[o * 18 + j] == (double)t[0].data[o * 18 + j] * s, "w[%d][%d]", o, j);
        double b = ((double)t[1].data[o] - (double)t[4].data[o]) * s + (double)t[3].data[o];
        ck_assert_msg(c->b[o] == b, "b[%d] = %a, want %a", o, c->b[o], b);
    }
    /* fc had no bias tensor: the folded bias is (0 - mean)*s + beta */
    ck_assert_uint_eq(fc->nb, 2);
    for (int o = 0; o < 2; o++) {
        double s = (double)t[7].data[o] / sqrt((double)t[10].data[o] + 1e-5);
        ck_assert(fc->w[o * 75 + 17] == (double)t[6].data[o * 75 + 17] * s);
        ck_assert(fc->b[o] == (0.0 - (double)t[9].data[o]) * s + (double)t[8].data[o]);
    }
    /* precision: bn1's override applies to conv1, after conv1's own */
    nr_format f16 = tu_fmt("fp16"), f32 = tu_fmt("fp32");
    ck_assert(nr_format_equal(&c->prec.accumulator, &f32));
    ck_assert(nr_format_equal(&c->prec.products, &f16));
    ck_assert_int_eq(c->prec.rounding, NR_RND_RZ);
    ck_assert(nr_format_equal(&fc->prec.accumulator, &f16));
    ck_assert_int_eq(fc->prec.rounding, NR_RND_RNE);
    ck_assert(nr_format_equal(&m->in_format, &f16));
    nr_model_free(m);
    for (int i = 0; i <= nt; i++)
        free(all[i].data);
    unlink(path);
}
END_TEST

START_TEST(batchnorm_not_folded)
{
    /* conv1's output is read by bn1 and by add: bn1 stays a scale/shift layer */
    uint64_t st = 7;
    tensor t[] = {
        {"conv1.weight", "F32", 4, {2, 2, 1, 1}, rnd(4, -1, 1, &st)},
        {"bn1.weight", "F32", 1, {2}, rnd(2, 0.5f, 2, &st)},
        {"bn1.bias", "F32", 1, {2}, rnd(2, -1, 1, &st)},
        {"bn1.running_mean", "F32", 1, {2}, rnd(2, -1, 1, &st)},
        {"bn1.running_var", "F32", 1, {2}, rnd(2, 0.1f, 3, &st)},
        {"bn0.weight", "F32", 1, {2}, rnd(2, 0.5f, 2, &st)},
        {"bn0.bias", "F32", 1, {2}, rnd(2, -1, 1, &st)},
        {"bn0.running_mean", "F32", 1, {2}, rnd(2, -1, 1, &st)},
        {"bn0.running_var", "F32", 1, {2}, rnd(2, 0.1f, 3, &st)},
    };
    int nt = (int)(sizeof t / sizeof t[0]);
    const char *path = tmp_path("nofold");
    write_st(path, t, nt);
    nr_model *m = build_ok("input: {shape: [2, 3, 3]}\n"
                           "layers:\n"
                           "  - {name: bn0, op: batchnorm}\n"
                           "  - {name: conv1, op: conv, out: 2, kernel: 1, bias: false}\n"
                           "  - {name: bn1, op: batchnorm}\n"
                           "  - {name: sum, op: add, inputs: [conv1, bn1]}\n",
                           NULL, path, 0);
    ck_assert_int_eq(m->nlayers, 4);
    const nr_layer *b0 = &m->layers[0], *c = &m->layers[1], *b1 = &m->layers[2];
    ck_assert_int_eq(b0->op, NR_OP_BATCHNORM); /* reads the network input */
    ck_assert_int_eq(b1->op, NR_OP_BATCHNORM);
    ck_assert_str_eq(c->folded_bn, "");
    ck_assert_ptr_null(c->b);
    ck_assert_uint_eq(b1->nw, 2);
    for (int o = 0; o < 2; o++) {
        double s = (double)t[1].data[o] / sqrt((double)t[4].data[o] + 1e-5);
        ck_assert(b1->w[o] == s);
        ck_assert(b1->b[o] == (double)t[2].data[o] - (double)t[3].data[o] * s);
        ck_assert(c->w[o * 2] == (double)t[0].data[o * 2]);
    }
    nr_model_free(m);
    for (int i = 0; i < nt; i++)
        free(t[i].data);
    unlink(path);
}
END_TEST

START_TEST(weight_errors)
{
    uint64_t st = 3;
    const char *net = "input: {shape: [2, 3, 3]}\n"
                      "layers:\n"
                      "  - {name: conv1, op: conv, out: 2, kernel: 3}\n"
                      "  - {name: fl, op: flatten}\n"
                      "  - {name: fc, op: dense, out: 4}\n";
    float *w = rnd(128, -1, 1, &st); /* enough for every tensor below */
    tensor good[] = {{"conv1.weight", "F32", 4, {2, 2, 3, 3}, w},
                     {"conv1.bias", "F32", 1, {2}, w},
                     {"fc.weight", "F32", 2, {4, 2}, w},
                     {"fc.bias", "F32", 1, {4}, w}};
    const char *path = tmp_path("werr");
    char want[1024];
    /* all there: builds, and reads exactly the file's values */
    write_st(path, good, 4);
    nr_model *m = build_ok(net, NULL, path, 0);
    ck_assert(m->layers[2].w[5] == (double)w[5]);
    ck_assert(m->layers[2].b[3] == (double)w[3]);
    nr_model_free(m);
    /* missing */
    write_st(path, good, 3);
    snprintf(want, sizeof want,
             "%s: tensor fc.bias: missing", path);
    /* bias is optional (auto) when the spec does not say bias: true */
    m = build_ok(net, NULL, path, 0);
    ck_assert_ptr_null(m->layers[2].b);
    nr_model_free(m);
    char net2[512];
    snprintf(net2, sizeof net2, "%s", net);
    strcpy(strstr(net2, "out: 4}"), "out: 4, bias: true}\n");
    build_bad(net2, path, want);
    write_st(path, good + 1, 3);
    snprintf(want, sizeof want,
             "%s: tensor conv1.weight: missing: layer conv1 (net.yaml:3:5) needs conv [2, 2, 3, 3]",
             path);
    build_bad(net, path, want);
    /* mis-shaped: dense after flatten must be [4, 2*1*1] */
    tensor bad[4];
    memcpy(bad, good, sizeof bad);
    bad[2].shape[1] = 18;
    write_st(path, bad, 4);
    snprintf(want, sizeof want,
             "%s: tensor fc.weight: expected shape [4, 2] for dense layer fc, got [4, 18]", path);
    build_bad(net, path, want);
    memcpy(bad, good, sizeof bad);
    bad[0].ndim = 2;
    bad[0].shape[1] = 18;
    write_st(path, bad, 4);
    snprintf(want, sizeof want,
             "%s: tensor conv1.weight: expected shape [2, 2, 3, 3] for conv layer conv1, got [2, 18]",
             path);
    build_bad(net, path, want);
    /* a shape that prints longer than the message buffers (8 dimensions of
     * 16 digits, 0 elements so the file stays small): a cut message, no
     * overflow (this was a stack buffer overflow through strcat) */
    memcpy(bad, good, sizeof bad);
    bad[0].ndim = 8;
    bad[0].shape[0] = 0;
    for (int d = 1; d < 8; d++)
        bad[0].shape[d] = 1000000000000000 + d;
    write_st(path, bad, 4);
    snprintf(want, sizeof want,
             "%s: tensor conv1.weight: expected shape [2, 2, 3, 3] for conv layer conv1, "
             "got [0, 1000000000000001, 1000000000000002, ", path);
    build_bad(net, path, want);
    {
        nr_model *mm;
        char msg[1024];
        ck_assert_int_eq(build(net, NULL, path, 0, &mm, msg), -NR_ESHAPE);
        ck_assert_msg(strstr(msg, "...") && strlen(msg) < 1000, "%s", msg);
    }
    /* extra */
    tensor more[5];
    memcpy(more, good, sizeof good);
    more[4] = (tensor){"fc2.weight", "F32", 1, {3}, w};
    write_st(path, more, 5);
    snprintf(want, sizeof want, "%s: tensor fc2.weight: not used by any layer of net.yaml", path);
    build_bad(net, path, want);
    /* bias: false but a bias tensor is there */
    snprintf(net2, sizeof net2, "%s", net);
    strcpy(strstr(net2, "kernel: 3}"), "kernel: 3, bias: false}\n"
                                        "  - {name: fl, op: flatten}\n"
                                        "  - {name: fc, op: dense, out: 4}\n");
    write_st(path, good, 4);
    snprintf(want, sizeof want,
             "%s: tensor conv1.bias: present, but layer conv1 (net.yaml:3:5) says bias: false",
             path);
    build_bad(net2, path, want);
    /* a file that is not there */
    snprintf(want, sizeof want, "/nonexistent/w.safetensors");
    build_bad(net, "/nonexistent/w.safetensors", want);
    free(w);
    unlink(path);
}
END_TEST

START_TEST(random_weights)
{
    nr_model *a = build_ok(fold_net, NULL, NULL, 12345);
    nr_model *b = build_ok(fold_net, NULL, "/nonexistent/ignored.safetensors", 12345);
    nr_model *c = build_ok(fold_net, NULL, NULL, 999);
    ck_assert_int_eq(a->nlayers, 4);
    const nr_layer *la = &a->layers[0], *lb = &b->layers[0], *lc = &c->layers[0];
    ck_assert_uint_eq(la->nw, 54);
    ck_assert_uint_eq(la->nb, 3);
    ck_assert(!memcmp(la->w, lb->w, la->nw * sizeof *la->w));
    ck_assert(!memcmp(la->b, lb->b, la->nb * sizeof *la->b));
    ck_assert(memcmp(la->w, lc->w, la->nw * sizeof *la->w));
    /* folded into conv1: bounded by |w|*|s| with |w| <= sqrt(6/18), s <= 1.5/sqrt(0.5) */
    double bound = sqrt(6.0 / 18) * 1.5 / sqrt(0.5 + 0.001) + 1e-12;
    int distinct = 0;
    for (size_t i = 0; i < la->nw; i++) {
        ck_assert(fabs(la->w[i]) <= bound);
        distinct += i && la->w[i] != la->w[i - 1];
    }
    ck_assert_int_gt(distinct, 40);
    nr_model_free(a);
    nr_model_free(b);
    nr_model_free(c);
}
END_TEST

START_TEST(load_files)
{
    /* nr_model_load with a spec on disk: weights resolved next to the spec */
    char dir[128], spec[256], wpath[256];
    snprintf(dir, sizeof dir, "/tmp/check_model_%d_dir", (int)getpid());
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(spec, sizeof spec, "%s/tiny.yaml", dir);
    snprintf(wpath, sizeof wpath, "%s/tiny.safetensors", dir);
    FILE *f = fopen(spec, "w");
    fputs("name: tiny\ninput: {shape: [3, 1, 1]}\nweights: tiny.safetensors\n"
          "layers:\n  - {name: fc, op: dense, out: 2}\n",
          f);
    fclose(f);
    float w[6] = {1, 2, 3, 4, 5, 6}, bias[2] = {0.5f, -0.5f};
    tensor t[] = {{"fc.weight", "F32", 2, {2, 3}, w}, {"fc.bias", "F32", 1, {2}, bias}};
    write_st(wpath, t, 2);
    nr_model *m = NULL;
    nr_err e = {0};
    int rc = nr_model_load(spec, "bf16", &m, &e);
    ck_assert_msg(rc == 0, "%s", tu_errstr(&e));
    ck_assert(m->layers[0].w[4] == 5.0 && m->layers[0].b[1] == -0.5);
    nr_format bf = tu_fmt("bf16");
    ck_assert(nr_format_equal(&m->layers[0].prec.accumulator, &bf));
    ck_assert(nr_format_equal(&m->in_format, &bf));
    nr_model_free(m);
    unlink(spec);
    unlink(wpath);
    rmdir(dir);
}
END_TEST

/* The shipped specs (specs/, written alongside this parser) build with their
 * weights: every tensor used, every batchnorm folded, logits [10, 1, 1]. */
START_TEST(shipped_specs)
{
    static const struct { const char *file; int nlayers; int folded; long long macs; } nets[] = {
        /* LeNet-5: conv 6*24*24*25 + conv 16*8*8*150 + 256*120 + 120*84 + 84*10 */
        {"specs/lenet5/lenet5.yaml", 12, 0, 86400LL + 153600 + 30720 + 10080 + 840},
        /* ResNet-20: 19 conv+bn pairs folded */
        {"specs/resnet20/resnet20.yaml", -1, 19, -1},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", tu_source_dir(), nets[i].file);
        if (access(path, R_OK)) {
            tu_skip_part("shipped spec %s: not present", path);
            continue;
        }
        nr_model *m = NULL;
        nr_err e = {0};
        int rc = nr_model_load(path, NULL, &m, &e);
        ck_assert_msg(rc == 0, "%s", tu_errstr(&e));
        int folded = 0;
        long long macs = 0;
        for (int k = 0; k < m->nlayers; k++) {
            folded += m->layers[k].folded_bn[0] != 0;
            ck_assert_int_ne(m->layers[k].op, NR_OP_BATCHNORM);
            macs += m->layers[k].macs;
        }
        shape_is(m->layers[m->output].out_shape, 10, 1, 1);
        if (nets[i].nlayers >= 0)
            ck_assert_int_eq(m->nlayers, nets[i].nlayers);
        ck_assert_int_eq(folded, nets[i].folded);
        if (nets[i].macs >= 0)
            ck_assert_int_eq(macs, nets[i].macs);
        nr_model_free(m);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, shapes_hand_worked);
    tcase_add_test(tc, shape_errors);
    tcase_add_test(tc, topological_order);
    tcase_add_test(tc, fold_batchnorm);
    tcase_add_test(tc, batchnorm_not_folded);
    tcase_add_test(tc, weight_errors);
    tcase_add_test(tc, random_weights);
    tcase_add_test(tc, load_files);
    tcase_add_test(tc, shipped_specs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
