/* check_realnets.c -- the emulator on the real networks of specs/ at fp32
 * against PyTorch's logits (../shared/data/reference/NET_first100_logits.f32):
 * within 1e-4 of the row's largest logit (summation orders differ, so not
 * bit for bit) and the same argmax on every input.  Inputs are preprocessed
 * here from the raw data sets as ../shared/data/README.md says, in float32
 * arithmetic like specs/tools/make_samples.py; the first 8 are checked bit
 * for bit against specs/<net>/sample.npy so both preprocessings agree.
 * Skips (passes with a note) when ../shared/data is absent. */
#include "testutil.h"
#include "emulator.h"
#include "tensorio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *errstr(const nr_err *e)
{
    static char buf[1024];
    nr_err_format(e, buf, sizeof buf);
    return buf;
}

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
        printf("note: %s not readable (%s); preprocessing not cross-checked\n", path, errstr(&e));
        return;
    }
    ck_assert_int_eq(nd, 4);
    size_t n = (size_t)shape[0] * per;
    ck_assert_msg(!memcmp(s, x, n * sizeof *s), "%s: preprocessing differs from sample.npy", net);
    free(s);
}

static void run_net(const char *net, const char *refname, float *(*inputs)(const char *, int),
                    int n)
{
    const char *data = tu_shared_data();
    if (!data) {
        tu_skip("%s on real weights: ../shared/data absent", net);
        return;
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/specs/%s/%s.yaml", tu_source_dir(), net, net);
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert_msg(nr_model_load(path, NULL, &m, &e) == 0, "%s", errstr(&e));
    size_t per = nr_shape_count(m->in_shape);
    float *x = inputs(data, n);
    check_samples(net, x, per);

    float ref[100 * 10], *y = malloc((size_t)n * 10 * sizeof *y);
    snprintf(path, sizeof path, "%s/reference/%s_first100_logits.f32", data, refname);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot open %s", path);
    ck_assert_int_eq(fread(ref, sizeof(float), 1000, f), 1000);
    fclose(f);

    ck_assert_uint_eq(nr_shape_count(m->layers[m->output].out_shape), 10);
    ck_assert_msg(nr_emulate(m, x, n, y, NULL, NULL, &e) == 0, "%s", errstr(&e));
    double worst = 0;
    for (int s = 0; s < n; s++) {
        const float *r = ref + s * 10, *o = y + s * 10;
        double scale = 1;
        int am_r = 0, am_o = 0;
        for (int k = 0; k < 10; k++) {
            scale = fmax(scale, fabs(r[k]));
            am_r = r[k] > r[am_r] ? k : am_r;
            am_o = o[k] > o[am_o] ? k : am_o;
        }
        for (int k = 0; k < 10; k++) {
            double d = fabs((double)o[k] - r[k]) / scale;
            worst = fmax(worst, d);
            ck_assert_msg(d <= 1e-4, "%s input %d logit %d: emulator %.9g, PyTorch %.9g", net, s,
                          k, (double)o[k], (double)r[k]);
        }
        ck_assert_msg(am_r == am_o, "%s input %d: argmax %d, PyTorch %d", net, s, am_o, am_r);
    }
    printf("%s: %d inputs, largest difference %.2e of the row's largest logit\n", net, n, worst);
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

static Suite *suite(void)
{
    Suite *s = suite_create("realnets");
    TCase *tc = tcase_create("fp32");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_lenet5);
    tcase_add_test(tc, test_resnet20);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
