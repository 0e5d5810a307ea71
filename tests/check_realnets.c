/* check_realnets.c -- the emulator on the real networks of specs/ at fp32
 * against PyTorch's logits (../shared/data/reference/NET_first100_logits.f32):
 * within 1e-4 of the row's largest logit (summation orders differ, so not
 * bit for bit) and the same argmax on every input.  Inputs are preprocessed
 * here from the raw data sets as ../shared/data/README.md says, in float32
 * arithmetic like specs/tools/make_samples.py; the first 8 are checked bit
 * for bit against specs/<net>/sample.npy so both preprocessings agree.
 * Skips (passes with a note) when ../shared/data is absent.
 *
 * The Caffe ImageNet networks (specs/googlenet, specs/squeezenet): a few
 * ImageNet samples preprocessed by the spec's own `input:` (dataset.h; its
 * bytes are checked against PIL in check_dataset) through the JIT at fp32,
 * against the reference logits the same way; and the emulator equals the
 * JIT bit for bit at e6m7-finite-nosub-sat rz on the real weights, run on
 * the centre of the input at a reduced size (the convolutions do not care;
 * every pool still ends on a partial ceil-mode window) because the
 * emulator needs about a minute per full-size image. */
#include "testutil.h"
#include "emulator.h"
#include "eval.h"
#include "model_gen.h"
#include "tensorio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* float32 operations as torchvision does them: each one correctly rounded
 * (double then float is one correct rounding for - and /, 53 >= 2*24+2). */
static float prep(unsigned pixel, float mean, float std)
{
    float a = (float)(pixel / 255.0);
    float b = (float)((double)a - (double)mean);
    return (float)((double)b / (double)std);
}

static float *mnist_inputs(const char *data, int n)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s/mnist/t10k-images-idx3-ubyte.gz'", data);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p, "cannot run %s", cmd);
    unsigned char hdr[16];
    unsigned char *px = malloc((size_t)n * 784);
    ck_assert(px);
    ck_assert_int_eq(fread(hdr, 1, 16, p), 16);
    ck_assert(hdr[2] == 8 && hdr[3] == 3); /* magic 2051 */
    ck_assert_int_eq(fread(px, 1, (size_t)n * 784, p), (size_t)n * 784);
    pclose(p);
    float *x = malloc((size_t)n * 784 * sizeof *x);
    for (size_t i = 0; i < (size_t)n * 784; i++)
        x[i] = prep(px[i], 0.5f, 0.5f);
    free(px);
    return x;
}

static float *cifar_inputs(const char *data, int n)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/cifar10/test_images.u8", data);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot open %s", path);
    unsigned char *px = malloc((size_t)n * 3072);
    ck_assert_int_eq(fread(px, 1, (size_t)n * 3072, f), (size_t)n * 3072);
    fclose(f);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    float *x = malloc((size_t)n * 3072 * sizeof *x);
    for (int s = 0; s < n; s++) /* N, H, W, C -> N, C, H, W */
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 32; h++)
                for (int w = 0; w < 32; w++)
                    x[(((size_t)s * 3 + c) * 32 + h) * 32 + w] =
                        prep(px[(((size_t)s * 32 + h) * 32 + w) * 3 + c], mean[c], std[c]);
    free(px);
    return x;
}

static void check_samples(const char *net, const float *x, size_t per)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/specs/%s/sample.npy", tu_source_dir(), net);
    float *s = NULL;
    int64_t shape[4];
    int nd;
    nr_err e = {0};
    if (nr_npy_read_f32(path, &s, shape, &nd, &e)) {
        tu_skip_part("%s not readable (%s); preprocessing not cross-checked", path, tu_errstr(&e));
        return;
    }
    ck_assert_int_eq(nd, 4);
    size_t n = (size_t)shape[0] * per;
    ck_assert_msg(!memcmp(s, x, n * sizeof *s), "%s: preprocessing differs from sample.npy", net);
    free(s);
}

/* ../shared/data (NULL, with a note, when absent) and specs/<net>/<net>.yaml. */
static const char *shared_and_spec(const char *net, char path[4300])
{
    const char *data = tu_shared_data();
    if (!data)
        tu_skip("%s on real weights: ../shared/data absent", net);
    snprintf(path, 4300, "%s/specs/%s/%s.yaml", tu_source_dir(), net, net);
    return data;
}

/* The shipped network at fp32 (NULL when ../shared/data is absent). */
static nr_model *load_real(const char *net, const char **data)
{
    char path[4300];
    if (!(*data = shared_and_spec(net, path)))
        return NULL;
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert_msg(nr_model_load(path, NULL, &m, &e) == 0, "%s", tu_errstr(&e));
    return m;
}

/* Outputs y (n rows of K) of `engine` against the first n rows of
 * reference/<refname>_first100_logits.f32: within 1e-4 of the row's
 * largest logit, same argmax. */
static void against_reference(const char *net, const char *engine, const char *data,
                              const char *refname, const float *y, int n, int K)
{
    char path[4300];
    float *ref = malloc((size_t)100 * K * sizeof *ref);
    snprintf(path, sizeof path, "%s/reference/%s_first100_logits.f32", data, refname);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot open %s", path);
    ck_assert_int_eq(fread(ref, sizeof(float), (size_t)100 * K, f), (size_t)100 * K);
    fclose(f);
    double worst = 0;
    for (int s = 0; s < n; s++) {
        const float *r = ref + (size_t)s * K, *o = y + (size_t)s * K;
        double scale = 1;
        for (int k = 0; k < K; k++)
            scale = fmax(scale, fabs(r[k]));
        for (int k = 0; k < K; k++) {
            double d = fabs((double)o[k] - r[k]) / scale;
            worst = fmax(worst, d);
            ck_assert_msg(d <= 1e-4, "%s input %d logit %d: %s %.9g, PyTorch %.9g", net, s, k,
                          engine, (double)o[k], (double)r[k]);
        }
        int am_o = nr_eval_argmax(o, K), am_r = nr_eval_argmax(r, K);
        ck_assert_msg(am_r == am_o, "%s input %d: argmax %d, PyTorch %d", net, s, am_o, am_r);
    }
    printf("%s: %d inputs (%s), largest difference %.2e of the row's largest logit\n", net, n,
           engine, worst);
    free(ref);
}

static void run_net(const char *net, const char *refname, float *(*inputs)(const char *, int),
                    int n)
{
    const char *data;
    nr_model *m = load_real(net, &data);
    if (!m)
        return;
    nr_err e = {0};
    size_t per = nr_shape_count(m->in_shape);
    float *x = inputs(data, n);
    check_samples(net, x, per);
    float *y = malloc((size_t)n * 10 * sizeof *y);
    ck_assert_uint_eq(nr_shape_count(m->layers[m->output].out_shape), 10);
    ck_assert_msg(nr_emulate(m, x, n, y, NULL, NULL, &e) == 0, "%s", tu_errstr(&e));
    against_reference(net, "emulator", data, refname, y, n, 10);
    free(x);
    free(y);
    nr_model_free(m);
}

START_TEST(test_lenet5) { run_net("lenet5", "lenet5_mnist", mnist_inputs, 100); }
END_TEST

START_TEST(test_resnet20)
{
    run_net("resnet20", "resnet20_cifar10", cifar_inputs, tu_quick() ? 10 : 100);
}
END_TEST

/* ---------------------------------------------------------------- Caffe ImageNet nets */

/* The first n ImageNet samples, preprocessed as the spec declares. */
static float *spec_inputs(const char *data, const nr_spec *spec, int n)
{
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/imagenet_samples", data);
    nr_dataset_opts o;
    nr_dataset_opts_init(&o);
    o.num_classes = 1000;
    o.pp = spec->pp;
    nr_dataset *ds = NULL;
    nr_err e = {0};
    ck_assert_msg(nr_dataset_open(dir, &o, &ds, &e) == 0, "%s", tu_errstr(&e));
    ck_assert_int_eq((int)nr_dataset_sample_size(ds), (int)nr_shape_count(spec->in_shape));
    float *x = malloc((size_t)n * nr_dataset_sample_size(ds) * sizeof *x);
    ck_assert(x);
    ck_assert_msg(nr_dataset_get(ds, 0, n, x, NULL, &e) == 0, "%s", tu_errstr(&e));
    nr_dataset_close(ds);
    return x;
}

static gen_compiled *jit(const nr_model *m)
{
    gen_compiled *c = NULL;
    nr_err e = {0};
    ck_assert_msg(gen_model_compile(m, NULL, &c, &e) == 0, "%s", tu_errstr(&e));
    return c;
}

/* fp32 JIT on the first n samples against the reference logits. */
static void caffe_fp32(const char *net, const char *refname, int n)
{
    const char *data;
    nr_model *m = load_real(net, &data);
    if (!m)
        return;
    nr_err e = {0};
    ck_assert_uint_eq(nr_shape_count(m->layers[m->output].out_shape), 1000);
    float *x = spec_inputs(data, m->spec, n);
    float *y = malloc((size_t)n * 1000 * sizeof *y);
    gen_compiled *c = jit(m);
    ck_assert_msg(gen_compiled_run(c, x, y, n, &e) == 0, "%s", tu_errstr(&e));
    against_reference(net, "JIT fp32", data, refname, y, n, 1000);
    gen_compiled_free(c);
    free(x);
    free(y);
    nr_model_free(m);
}

/* Emulator == JIT bit for bit at e6m7-finite-nosub-sat rz on the centre
 * side x side of n real inputs. */
static void caffe_emu_vs_jit(const char *net, int side, int n)
{
    char path[4300];
    const char *data = shared_and_spec(net, path);
    if (!data)
        return;
    nr_spec *spec = NULL;
    nr_precision *prec = NULL;
    nr_err e = {0};
    ck_assert_msg(nr_spec_load(path, &spec, &e) == 0, "%s", tu_errstr(&e));
    ck_assert_msg(nr_precision_parse_string(
                      "default: {weights: e6m7-finite-nosub-sat, rounding: rz, mac: unfused}\n",
                      "e6m7.yaml", &prec, &e) == 0,
                  "%s", tu_errstr(&e));
    float *full = spec_inputs(data, spec, n);
    const int C = spec->in_shape[0], H = spec->in_shape[1], W = spec->in_shape[2];
    float *x = malloc((size_t)n * C * side * side * sizeof *x);
    for (int s = 0; s < n; s++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < side; h++)
                memcpy(x + (((size_t)s * C + c) * side + h) * side,
                       full + (((size_t)s * C + c) * H + h + (H - side) / 2) * W + (W - side) / 2,
                       (size_t)side * sizeof *x);
    spec->in_shape[1] = spec->in_shape[2] = side;
    nr_model *m = NULL;
    ck_assert_msg(nr_model_build(spec, prec, NULL, 0, &m, &e) == 0, "%s", tu_errstr(&e));
    size_t k = nr_shape_count(m->layers[m->output].out_shape);
    ck_assert_uint_eq(k, 1000);
    float *ye = malloc((size_t)n * k * sizeof *ye), *yj = malloc((size_t)n * k * sizeof *yj);
    ck_assert_msg(nr_emulate(m, x, n, ye, NULL, NULL, &e) == 0, "%s", tu_errstr(&e));
    gen_compiled *c = jit(m);
    ck_assert_msg(gen_compiled_run(c, x, yj, n, &e) == 0, "%s", tu_errstr(&e));
    size_t nonzero = 0;
    for (size_t i = 0; i < (size_t)n * k; i++) {
        ck_assert_msg(!memcmp(&ye[i], &yj[i], sizeof(float)),
                      "%s %dx%d e6m7 rz: output %zu emulator %a, JIT %a", net, side, side, i,
                      (double)ye[i], (double)yj[i]);
        nonzero += ye[i] != 0;
    }
    ck_assert_msg(nonzero > k / 2, "%s: only %zu nonzero outputs", net, nonzero);
    printf("%s: emulator == JIT at e6m7-finite-nosub-sat rz, %d inputs of %dx%d\n", net, n, side,
           side);
    gen_compiled_free(c);
    free(full);
    free(x);
    free(ye);
    free(yj);
    nr_model_free(m);
}

START_TEST(test_googlenet) { caffe_fp32("googlenet", "googlenet", tu_quick() ? 1 : 4); }
END_TEST

START_TEST(test_squeezenet) { caffe_fp32("squeezenet", "squeezenet_v1.0", tu_quick() ? 1 : 4); }
END_TEST

/* 64: conv1 32, ceil pools 16, 8, 4, 2 (each with a partial last window). */
START_TEST(test_googlenet_emu_jit) { caffe_emu_vs_jit("googlenet", 64, 1); }
END_TEST

/* 67: conv1 31, ceil pools 15, 7, 3; the padded conv10 5x5. */
START_TEST(test_squeezenet_emu_jit) { caffe_emu_vs_jit("squeezenet", 67, tu_quick() ? 1 : 2); }
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("realnets");
    TCase *tc = tcase_create("fp32");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_lenet5);
    tcase_add_test(tc, test_resnet20);
    tcase_add_test(tc, test_googlenet);
    tcase_add_test(tc, test_squeezenet);
    tcase_add_test(tc, test_googlenet_emu_jit);
    tcase_add_test(tc, test_squeezenet_emu_jit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
