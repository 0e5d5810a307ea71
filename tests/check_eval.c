/* check_eval.c -- the evaluation loop (eval.c), the fp32 cache
 * (eval_cache.c) and the spec's declared preprocessing (spec.c).
 *
 * Accuracy is checked against numbers computed independently: with
 * ../shared/data, the argmax of the reference logits that PyTorch computed
 * for the first 100 inputs (reference/<net>_first100_logits.f32) must equal our
 * prediction on every one of them, so the count of correct answers follows.
 * The shipped default data (specs/resnet20/cifar10-1000) is compared byte
 * for byte with the shared CIFAR-10 copy it was cut from. */
#include "emulator.h"
#include "eval.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check_eval.XXXXXX");
    ck_assert(mkdtemp(tmpdir) != NULL);
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* ---------------------------------------------------------------- scoring */

START_TEST(rank_and_argmax)
{
    const float s[5] = {1, 3, 3, -2, 0.5f};
    ck_assert_int_eq(nr_eval_argmax(s, 5), 1);       /* first of the tied maxima */
    ck_assert_int_eq(nr_eval_rank(s, 5, 1), 0);
    ck_assert_int_eq(nr_eval_rank(s, 5, 2), 1);      /* tie at a smaller index beats it */
    ck_assert_int_eq(nr_eval_rank(s, 5, 0), 2);
    ck_assert_int_eq(nr_eval_rank(s, 5, 3), 4);
    ck_assert_int_eq(nr_eval_rank(s, 5, 7), 5);      /* out of range: last */
    const float n[4] = {NAN, 2, NAN, 1};
    ck_assert_int_eq(nr_eval_argmax(n, 4), 1);
    ck_assert_int_eq(nr_eval_rank(n, 4, 3), 1);      /* NaN never beats */
    ck_assert_int_eq(nr_eval_rank(n, 4, 0), 4);      /* NaN label: last */
    const float all[2] = {NAN, NAN};
    ck_assert_int_eq(nr_eval_argmax(all, 2), -1);
    const float inf[3] = {-INFINITY, INFINITY, 0};
    ck_assert_int_eq(nr_eval_argmax(inf, 3), 1);
    ck_assert_int_eq(nr_eval_rank(inf, 3, 0), 2);
}
END_TEST

/* ---------------------------------------------------------------- cache */

static void fill(nr_eval_result *r, int64_t n, int k)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->classes = k;
    r->argmax = malloc((size_t)n * sizeof *r->argmax);
    r->rank = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        r->argmax[i] = (int)(i * 7 % k);
        r->rank[i] = i % 5 == 4 ? 255 : (uint8_t)(i % 3);
        r->top1 += r->rank[i] == 0;
        r->top5 += r->rank[i] < 5;
    }
}

START_TEST(cache_roundtrip_and_corruption)
{
    char dir[512], path[800];
    snprintf(dir, sizeof dir, "%s/a/b", tmpdir); /* created on demand */
    nr_eval_result r, g;
    fill(&r, 37, 10);
    nr_err err = {0};
    uint64_t key = 0x0123456789abcdefull;
    ck_assert_int_eq(nr_eval_cache_put(dir, key, &r, &err), 0);
    ck_assert_int_eq(nr_eval_cache_get(dir, key, 37, 10, &g), 1);
    ck_assert_int_eq(g.top1, r.top1);
    ck_assert_int_eq(g.top5, r.top5);
    ck_assert(!memcmp(g.argmax, r.argmax, 37 * sizeof *r.argmax));
    ck_assert(!memcmp(g.rank, r.rank, 37));
    nr_eval_result_free(&g);
    /* a different key, count or class count is a miss */
    ck_assert_int_eq(nr_eval_cache_get(dir, key ^ 1, 37, 10, &g), 0);
    ck_assert_int_eq(nr_eval_cache_get(dir, key, 36, 10, &g), 0);
    ck_assert_int_eq(nr_eval_cache_get(dir, key, 37, 11, &g), 0);
    ck_assert_ptr_null(g.argmax);
    /* flip one prediction: the check no longer matches */
    snprintf(path, sizeof path, "%s/fp32-%016llx.txt", dir, (unsigned long long)key);
    FILE *f = fopen(path, "r+");
    ck_assert_ptr_nonnull(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    char *line = strchr(strchr(buf, '\n') + 1, '\n') + 1; /* first "argmax rank" line */
    ck_assert_int_eq(line[0], '0');
    line[0] = '3';
    rewind(f);
    ck_assert(fwrite(buf, 1, n, f) == n);
    fclose(f);
    ck_assert_int_eq(nr_eval_cache_get(dir, key, 37, 10, &g), 0);
    /* truncated, garbage, empty */
    const char *bad[] = {"numrep-fp32-cache 1\nkey 0123456789abcdef n 37 classes 10\n0 0\n",
                         "\x7f" "ELF garbage", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        ck_assert_int_eq(nr_eval_cache_get(dir, key, 37, 10, &g), 0);
    }
    /* a good entry is written over a bad one */
    ck_assert_int_eq(nr_eval_cache_put(dir, key, &r, &err), 0);
    ck_assert_int_eq(nr_eval_cache_get(dir, key, 37, 10, &g), 1);
    nr_eval_result_free(&g);
    /* an unwritable directory is an error for put, a miss for get */
    ck_assert_int_lt(nr_eval_cache_put("/proc/no/such/dir", key, &r, &err), 0);
    ck_assert_int_eq(err.code, NR_EIO);
    ck_assert_int_eq(nr_eval_cache_get("/proc/no/such/dir", key, 37, 10, &g), 0);
    nr_eval_result_free(&r);
}
END_TEST

START_TEST(hashes)
{
    uint8_t a[100] = {0}, b[100] = {0};
    b[99] = 1;
    ck_assert(nr_hash_bytes(NR_HASH_INIT, a, 100) != nr_hash_bytes(NR_HASH_INIT, b, 100));
    ck_assert(nr_hash_bytes(NR_HASH_INIT, a, 99) != nr_hash_bytes(NR_HASH_INIT, a, 100));
    ck_assert(nr_hash_bytes(NR_HASH_INIT, a, 0) != nr_hash_bytes(NR_HASH_INIT, a, 1));
    uint64_t h;
    nr_err err = {0};
    ck_assert_int_lt(nr_hash_file("/no/such/file", &h, NULL, &err), 0);
    ck_assert_str_eq(err.file, "/no/such/file");
}
END_TEST

/* ---------------------------------------------------------------- spec preprocessing */

static void spec_ok(const char *input, nr_spec **out)
{
    char text[1024];
    snprintf(text, sizeof text, "input: %s\nlayers: [{name: a, op: relu}]\n", input);
    nr_err err = {0};
    int rc = nr_spec_parse_string(text, "net.yaml", out, &err);
    char msg[1024];
    nr_err_format(&err, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s: %s", input, msg);
}

static void spec_bad(const char *input, const char *want)
{
    char text[1024], msg[1024];
    snprintf(text, sizeof text, "input: %s\nlayers: [{name: a, op: relu}]\n", input);
    nr_err err = {0};
    nr_spec *s = NULL;
    int rc = nr_spec_parse_string(text, "net.yaml", &s, &err);
    nr_err_format(&err, msg, sizeof msg);
    ck_assert_msg(rc < 0 && s == NULL, "%s: accepted", input);
    ck_assert_msg(!strcmp(msg, want), "%s:\n got: %s\nwant: %s", input, msg, want);
}

START_TEST(spec_preprocess)
{
    nr_spec *s;
    spec_ok("{shape: [3, 32, 32]}", &s);
    ck_assert_int_eq(s->has_pp, 0);
    ck_assert(s->pp.divisor == 255.0f && s->pp.mean[0] == 0 && s->pp.std[2] == 1);
    nr_spec_free(s);
    spec_ok("{shape: [3, 32, 32], divisor: 255, mean: [0.485, 0.456, 0.406], "
            "std: [0.229, 0.224, 0.225]}", &s);
    ck_assert_int_eq(s->has_pp, 1);
    ck_assert_int_eq(s->pp.channels, 3);
    ck_assert(s->pp.mean[1] == 0.456f && s->pp.std[2] == 0.225f && s->pp.divisor == 255.0f);
    ck_assert_int_eq(s->pp.resize_short, 0);
    ck_assert_int_eq(s->pp.crop_h, 0);
    nr_spec_free(s);
    spec_ok("{shape: [1, 28, 28], mean: 0.5, std: 0.5}", &s);
    ck_assert(s->pp.mean[0] == 0.5f && s->pp.std[0] == 0.5f && s->pp.channels == 1);
    nr_spec_free(s);
    spec_ok("{shape: [3, 224, 224], divisor: 127.5, mean: 1, std: 1, resize: 256, crop: 224, "
            "layout: chw}", &s);
    ck_assert(s->pp.divisor == 127.5f && s->pp.mean[2] == 1.0f);
    ck_assert_int_eq(s->pp.resize_short, 256);
    ck_assert_int_eq(s->pp.crop_h, 224);
    ck_assert_int_eq(s->pp.crop_w, 224);
    nr_spec_free(s);
    spec_ok("{shape: [3, 20, 30], crop: [20, 30]}", &s);
    ck_assert_int_eq(s->pp.crop_w, 30);
    ck_assert_int_eq(s->pp.bgr, 0);
    nr_spec_free(s);
    /* Caffe: exact resize (aspect ignored), B, G, R, mean in pixel units. */
    spec_ok("{shape: [3, 227, 227], channel_order: bgr, divisor: 1, mean: [104, 117, 123], "
            "resize: [256, 256], crop: 227}", &s);
    ck_assert(s->pp.bgr == 1 && s->pp.divisor == 1.0f && s->pp.mean[0] == 104.0f &&
              s->pp.mean[2] == 123.0f && s->pp.std[1] == 1.0f);
    ck_assert(s->pp.resize_short == 0 && s->pp.resize_h == 256 && s->pp.resize_w == 256);
    ck_assert(s->pp.crop_h == 227 && s->pp.crop_w == 227);
    nr_spec_free(s);
    spec_ok("{shape: [3, 20, 30], resize: [20, 30], channel_order: rgb}", &s);
    ck_assert(s->pp.resize_h == 20 && s->pp.resize_w == 30 && s->pp.crop_h == 0 && !s->pp.bgr);
    nr_spec_free(s);
    spec_bad("{shape: [3, 32, 32], channel_order: grb}",
             "net.yaml:1:44: input.channel_order: expected rgb or bgr, got \"grb\"");
    spec_bad("{shape: [1, 28, 28], channel_order: bgr}",
             "net.yaml:1:44: input.channel_order: bgr needs 3 channels, but shape has 1");
    spec_bad("{shape: [3, 224, 224], resize: [256, 200], crop: 224}",
             "net.yaml:1:39: input.resize: the resized image (256, 200) is smaller than the "
             "crop (224, 224)");
    spec_bad("{shape: [3, 224, 224], resize: [256, 256]}",
             "net.yaml:1:39: input.resize: without crop, expected the input shape's H, W "
             "(224, 224), got 256, 256");
    spec_bad("{shape: [3, 224, 224], resize: [256, 256, 3], crop: 224}",
             "net.yaml:1:39: input.resize: expected an integer or [h, w], got a list of 3");
    spec_bad("{shape: [3, 224, 224], resize: big, crop: 224}",
             "net.yaml:1:39: input.resize: expected an integer (the shorter side) or [h, w] "
             "(the exact size), got \"big\"");

    spec_bad("{shape: [3, 32, 32], divisor: 0}",
             "net.yaml:1:38: input.divisor: expected a positive number that fits float32 "
             "(x = pixel / divisor), got 0");
    spec_bad("{shape: [3, 32, 32], divisor: 1e300}",
             "net.yaml:1:38: input.divisor: expected a positive number that fits float32 "
             "(x = pixel / divisor), got 1e+300");
    spec_bad("{shape: [3, 32, 32], std: [1, 0, 1]}",
             "net.yaml:1:38: input.std: expected a finite nonzero number that fits float32, "
             "got 0");
    spec_bad("{shape: [3, 32, 32], mean: [0.5, 0.5]}",
             "net.yaml:1:35: input.mean: expected a number or a list of 3 numbers (one per "
             "channel), got a list of 2");
    spec_bad("{shape: [3, 32, 32], mean: lots}",
             "net.yaml:1:35: input.mean: expected a number, got \"lots\"");
    spec_bad("{shape: [3, 32, 32], layout: hwc}",
             "net.yaml:1:37: input.layout: expected chw (numrep networks take [C, H, W] "
             "input), got \"hwc\"");
    spec_bad("{shape: [3, 224, 224], resize: 256, crop: 220}",
             "net.yaml:1:50: input.crop: expected the input shape's H, W (224, 224), got 220, "
             "220");
    spec_bad("{shape: [3, 224, 224], resize: 256}",
             "net.yaml:1:39: input.resize: resize needs crop: [224, 224] too (resized images "
             "vary in shape)");
    spec_bad("{shape: [3, 224, 224], resize: 200, crop: 224}",
             "net.yaml:1:39: input.resize: the shorter side after resizing (200) is smaller "
             "than the crop 224x224");
    spec_bad("{shape: [3, 224, 224], resize: 0, crop: 224}",
             "net.yaml:1:39: input.resize: expected an integer in [1, 65536], got 0");
    spec_bad("{shape: [2, 32, 32], mean: 0}",
             "net.yaml:1:8: input: preprocessing is declared for images with 1 or 3 "
             "channels, but shape has 2");
    spec_bad("{shape: [3, 32, 32], scale: 2}",
             "net.yaml:1:29: input.scale: unknown field (expected one of: shape layout "
             "channel_order divisor mean std resize crop)");
    spec_bad("{shape: [3, 32, 32], crop: [1, 2, 3]}",
             "net.yaml:1:35: input.crop: expected an integer or [h, w], got a list of 3");
}
END_TEST

START_TEST(spec_dataset_path)
{
    nr_spec *s;
    nr_err err = {0};
    ck_assert_int_eq(nr_spec_parse_string("input: {shape: [1, 2, 2]}\ndataset: d/x\n"
                                          "layers: [{name: a, op: relu}]\n",
                                          "dir/net.yaml", &s, &err),
                     0);
    ck_assert_str_eq(s->dataset, "dir/d/x");
    nr_spec_free(s);
}
END_TEST

/* ---------------------------------------------------------------- eval runs */

static void src_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", tu_source_dir(), rel);
}

static nr_model *load(const char *rel_spec, const char *prec)
{
    char p[1024];
    src_path(p, sizeof p, rel_spec);
    nr_model *m = NULL;
    nr_err err = {0};
    int rc = nr_model_load(p, prec, &m, &err);
    char msg[1024];
    nr_err_format(&err, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s", msg);
    return m;
}

static nr_dataset *open_ds(const char *path, const nr_model *m)
{
    nr_dataset_opts o;
    nr_dataset_opts_init(&o);
    o.pp = m->spec->pp;
    o.num_classes = (int)nr_shape_count(m->layers[m->output].out_shape);
    nr_dataset *ds = NULL;
    nr_err err = {0};
    int rc = nr_dataset_open(path, &o, &ds, &err);
    char msg[1024];
    nr_err_format(&err, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s: %s", path, msg);
    return ds;
}

static void run(const nr_model *m, const nr_dataset *ds, int64_t limit, int jobs,
                nr_eval_result *r)
{
    nr_engine e;
    nr_err err = {0};
    ck_assert_int_eq(nr_engine_open("emulator", m, &e, &err), 0);
    nr_eval_opts o;
    nr_eval_opts_init(&o);
    o.limit = limit;
    o.jobs = jobs;
    int rc = nr_eval_run(&e, m, ds, &o, r, &err);
    char msg[1024];
    nr_err_format(&err, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s", msg);
    nr_engine_close(&e);
}

/* The shipped default data: 1000 records, record i = the (i/10)-th image of
 * class i%10 in the shared (class-sorted) copy. */
START_TEST(shipped_subset_matches_shared)
{
    const char *sh = tu_shared_data();
    if (!sh) {
        printf("check_eval: no ../shared/data, shipped subset not compared\n");
        return;
    }
    char p[1024];
    src_path(p, sizeof p, "specs/resnet20/cifar10-1000/test_batch.bin");
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t *bin = malloc(3073000);
    ck_assert(fread(bin, 1, 3073000, f) == 3073000 && fgetc(f) == EOF);
    fclose(f);
    snprintf(p, sizeof p, "%s/cifar10/test_images.u8", sh);
    f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t *img = malloc(30720000);
    ck_assert(fread(img, 1, 30720000, f) == 30720000);
    fclose(f);
    snprintf(p, sizeof p, "%s/cifar10/test_labels.u8", sh);
    f = fopen(p, "rb");
    uint8_t lab[10000];
    ck_assert(fread(lab, 1, 10000, f) == 10000);
    fclose(f);
    int first[10];
    for (int c = 0; c < 10; c++)
        for (first[c] = 0; lab[first[c]] != c; first[c]++)
            ;
    for (int i = 0; i < 1000; i++) {
        int c = i % 10, j = first[c] + i / 10;
        ck_assert_int_eq(lab[j], c);
        const uint8_t *rec = bin + (size_t)i * 3073, *px = img + (size_t)j * 3072;
        ck_assert_int_eq(rec[0], c);
        for (int ch = 0; ch < 3; ch++)
            for (int k = 0; k < 1024; k++)
                ck_assert_int_eq(rec[1 + ch * 1024 + k], px[k * 3 + ch]);
    }
    free(bin);
    free(img);
}
END_TEST

/* Predictions must equal the argmax of PyTorch's logits on the first n of
 * the 100 reference inputs. */
static void against_reference(const char *spec, const char *data, const char *ref, int n)
{
    const char *sh = tu_shared_data();
    if (!sh) {
        printf("check_eval: no ../shared/data, %s not checked\n", spec);
        return;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/reference/%s", sh, ref);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "%s", p);
    float logits[1000];
    ck_assert(fread(logits, sizeof(float), 1000, f) == 1000);
    fclose(f);
    nr_model *m = load(spec, "fp32");
    snprintf(p, sizeof p, "%s/%s", sh, data);
    nr_dataset *ds = open_ds(p, m);
    int labels[100];
    nr_err err = {0};
    ck_assert_int_eq(nr_dataset_get(ds, 0, n, NULL, labels, &err), 0);
    nr_eval_result r;
    run(m, ds, n, 2, &r);
    int64_t want = 0;
    for (int i = 0; i < n; i++) {
        int am = nr_eval_argmax(logits + 10 * i, 10);
        ck_assert_msg(r.argmax[i] == am, "%s sample %d: predicted %d, PyTorch %d", spec, i,
                      r.argmax[i], am);
        want += am == labels[i];
    }
    ck_assert_int_eq(r.n, n);
    ck_assert_int_eq(r.top1, want);
    printf("check_eval: %s: %lld/%d correct on the first %d, as PyTorch\n", spec,
           (long long)r.top1, n, n);
    nr_eval_result_free(&r);
    nr_dataset_close(ds);
    nr_model_free(m);
}

START_TEST(lenet5_reference)
{
    against_reference("specs/lenet5/lenet5.yaml", "mnist", "lenet5_mnist_first100_logits.f32",
                      100);
}
END_TEST

START_TEST(resnet20_reference)
{
    against_reference("specs/resnet20/resnet20.yaml", "cifar10",
                      "resnet20_cifar10_first100_logits.f32", tu_quick() ? 20 : 100);
}
END_TEST

START_TEST(resnet56_reference)
{
    against_reference("specs/resnet56/resnet56.yaml", "cifar10",
                      "resnet56_cifar10_first100_logits.f32",
                      tu_exhaustive() ? 100 : tu_quick() ? 8 : 30);
}
END_TEST

/* Threads split the samples but must not change any prediction; the data
 * hash does not depend on the split either. */
START_TEST(jobs_agree)
{
    nr_model *m = load("specs/resnet20/resnet20.yaml", "fp32");
    char p[1024];
    src_path(p, sizeof p, "specs/resnet20/cifar10-1000");
    nr_dataset *ds = open_ds(p, m);
    int n = tu_quick() ? 10 : 40;
    nr_eval_result a, b;
    run(m, ds, n, 1, &a);
    run(m, ds, n, 3, &b);
    ck_assert_int_eq(nr_eval_agree(&a, &b), n);
    ck_assert(!memcmp(a.rank, b.rank, (size_t)n));
    ck_assert(a.data_hash == b.data_hash);
    ck_assert_int_eq(a.top1, b.top1);
    /* the shipped subset is balanced: labels 0..9 repeat */
    int lab[20];
    nr_err err = {0};
    ck_assert_int_eq(nr_dataset_get(ds, 0, 20, NULL, lab, &err), 0);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(lab[i], i % 10);
    /* the top-1 count of the engine equals that of nr_emulate on the same floats */
    float *x = malloc((size_t)n * 3072 * sizeof *x), *y = malloc((size_t)n * 10 * sizeof *y);
    int *l = malloc((size_t)n * sizeof *l);
    ck_assert_int_eq(nr_dataset_get(ds, 0, n, x, l, &err), 0);
    ck_assert_int_eq(nr_emulate(m, x, n, y, NULL, NULL, &err), 0);
    int64_t top1 = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < 10; j++)
            if (y[i * 10 + j] > y[i * 10 + best])
                best = j;
        top1 += best == l[i];
    }
    ck_assert_int_eq(a.top1, top1);
    free(x);
    free(y);
    free(l);
    nr_eval_result_free(&a);
    nr_eval_result_free(&b);
    nr_dataset_close(ds);
    nr_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- hostile input */

static nr_model *tiny(int hw, int out)
{
    char text[512];
    snprintf(text, sizeof text,
             "input: {shape: [3, %d, %d], mean: 0.5}\nlayers:\n"
             "  - {name: p, op: avgpool, kernel: 4}\n  - {name: fc, op: dense, out: %d}\n",
             hw, hw, out);
    nr_spec *s = NULL;
    nr_err err = {0};
    ck_assert_int_eq(nr_spec_parse_string(text, "tiny.yaml", &s, &err), 0);
    nr_model *m = NULL;
    ck_assert_int_eq(nr_model_build(s, NULL, NULL, 7, &m, &err), 0);
    return m;
}

START_TEST(mismatches)
{
    char p[1024];
    src_path(p, sizeof p, "specs/resnet20/cifar10-1000");
    nr_err err = {0};
    nr_engine e;
    nr_eval_result r;
    /* a 28x28 network on 32x32 data */
    nr_model *m = tiny(28, 10);
    nr_dataset *ds = open_ds(p, m);
    ck_assert_int_eq(nr_engine_open("emulator", m, &e, &err), 0);
    ck_assert_int_eq(nr_eval_run(&e, m, ds, NULL, &r, &err), -NR_ESHAPE);
    char msg[1024];
    nr_err_format(&err, msg, sizeof msg);
    ck_assert_str_eq(msg, "tiny.yaml: --data: the data gives samples of shape [3, 32, 32] after "
                          "preprocessing, the network takes [3, 28, 28]");
    nr_engine_close(&e);
    nr_dataset_close(ds);
    nr_model_free(m);
    /* labels 0..9 against 5 outputs: the reader refuses label 5 at open */
    m = tiny(32, 5);
    ck_assert_int_eq(nr_engine_open("emulator", m, &e, &err), 0);
    nr_dataset_opts o;
    nr_dataset_opts_init(&o);
    o.pp = m->spec->pp;
    o.num_classes = 5;
    memset(&err, 0, sizeof err);
    ck_assert_int_lt(nr_dataset_open(p, &o, &ds, &err), 0);
    ck_assert_msg(strstr(err.msg, "label 5") && strstr(err.msg, "0..4"), "%s", err.msg);
    /* opened with more classes than outputs: eval refuses */
    o.num_classes = 10;
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(nr_dataset_open(p, &o, &ds, &err), 0);
    ck_assert_int_lt(nr_eval_run(&e, m, ds, NULL, &r, &err), 0);
    ck_assert_msg(strstr(err.msg, "10 classes, the network has 5 outputs"), "%s", err.msg);
    /* first beyond the end */
    nr_model *m10 = tiny(32, 10);
    nr_engine e10;
    ck_assert_int_eq(nr_engine_open("emulator", m10, &e10, &err), 0);
    nr_eval_opts eo;
    nr_eval_opts_init(&eo);
    eo.first = 1001;
    memset(&err, 0, sizeof err);
    ck_assert_int_lt(nr_eval_run(&e10, m10, ds, &eo, &r, &err), 0);
    ck_assert_int_eq(err.code, NR_ERANGE);
    eo.first = 1000;
    memset(&err, 0, sizeof err);
    ck_assert_int_lt(nr_eval_run(&e10, m10, ds, &eo, &r, &err), 0);
    ck_assert_str_eq(err.msg, "no samples to evaluate");
    /* a tiny run works and is balanced */
    eo.first = 0;
    eo.limit = 30;
    eo.jobs = 2;
    eo.batch = 7;
    ck_assert_int_eq(nr_eval_run(&e10, m10, ds, &eo, &r, &err), 0);
    ck_assert_int_eq(r.n, 30);
    ck_assert(r.top1 <= r.top5 && r.top5 <= 30);
    nr_eval_result_free(&r);
    /* engines */
    nr_engine x;
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(nr_engine_open("jit", m10, &x, &err), -NR_EUNSUP);
    ck_assert_str_eq(err.msg, "the jit engine is not in the runtime library (the numrep command "
                               "provides it); use emulator");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(nr_engine_open("gpu", m10, &x, &err), -NR_ESYNTAX);
    nr_engine_close(&e10);
    nr_engine_close(&e);
    nr_dataset_close(ds);
    nr_model_free(m10);
    nr_model_free(m);
}
END_TEST

/* Early stop: the shortest prefix of whole batches with more than
 * max_wrong wrong answers, whatever the thread count; counts over it. */
START_TEST(early_stop)
{
    nr_model *m = tiny(32, 10);
    char p[1024];
    src_path(p, sizeof p, "specs/resnet20/cifar10-1000");
    nr_dataset *ds = open_ds(p, m);
    nr_engine e;
    nr_err err = {0};
    ck_assert_int_eq(nr_engine_open("emulator", m, &e, &err), 0);
    nr_eval_opts eo;
    nr_eval_opts_init(&eo);
    ck_assert(eo.max_wrong < 0); /* never, by default */
    eo.limit = 120;
    eo.batch = 7;
    nr_eval_result all, r;
    ck_assert_int_eq(nr_eval_run(&e, m, ds, &eo, &all, &err), 0);
    ck_assert(!all.stopped && all.n == 120);
    int64_t wrong_total = all.n - all.top1;
    ck_assert_msg(wrong_total > 40, "random weights should be mostly wrong (%lld)",
                  (long long)wrong_total);
    const int64_t limits[] = {0, 20, 39, wrong_total - 1, wrong_total};
    for (size_t t = 0; t < sizeof limits / sizeof *limits; t++) {
        int64_t mw = limits[t], want_n = all.n, w = 0;
        for (int64_t i = 0; i < all.n; i++) {
            w += all.rank[i] != 0;
            if (w > mw && want_n == all.n) {
                want_n = (i / 7 + 1) * 7;
                want_n = want_n < all.n ? want_n : all.n;
            }
        }
        int stops = wrong_total > mw;
        int64_t top1 = 0;
        for (int64_t i = 0; i < want_n; i++)
            top1 += all.rank[i] == 0;
        for (int jobs = 1; jobs <= 3; jobs += 2) {
            eo.max_wrong = mw;
            eo.jobs = jobs;
            ck_assert_int_eq(nr_eval_run(&e, m, ds, &eo, &r, &err), 0);
            ck_assert_msg(r.stopped == stops && r.n == want_n,
                          "max_wrong %lld, %d jobs: stopped %d at %lld, expected %d at %lld",
                          (long long)mw, jobs, r.stopped, (long long)r.n, stops,
                          (long long)want_n);
            ck_assert_int_eq(r.top1, top1);
            ck_assert(!memcmp(r.rank, all.rank, (size_t)r.n));
            nr_eval_result_free(&r);
        }
    }
    nr_eval_result_free(&all);
    nr_engine_close(&e);
    nr_dataset_close(ds);
    nr_model_free(m);
}
END_TEST

/* The architecture-only specs build with random weights and have the
 * shapes of the papers; AlexNet runs one sample. */
START_TEST(architecture_specs)
{
    static const struct {
        const char *spec, *last;
        long long macs_m; /* million MACs per image, from the papers / torchvision */
    } nets[] = {{"specs/alexnet/alexnet.yaml", "classifier.6", 714},
                {"specs/vgg16/vgg16.yaml", "classifier.6", 15470},
                {"specs/googlenet/googlenet.yaml", "loss3_classifier", 1580},
                {"specs/mobilenet_v1/mobilenet_v1.yaml", "conv_preds", 41}};
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) {
        /* VGG-16's 138 M random weights take 1.1 GB as doubles */
        if (strstr(nets[i].spec, "vgg16") && !tu_exhaustive()) {
            printf("check_eval: vgg16 built only with NUMREP_EXHAUSTIVE=1\n");
            continue;
        }
        if (strstr(nets[i].spec, "alexnet") && tu_quick()) /* 61 M weights: slow under ASan */
            continue;
        char p[1024];
        src_path(p, sizeof p, nets[i].spec);
        nr_spec *s = NULL;
        nr_err err = {0};
        ck_assert_int_eq(nr_spec_load(p, &s, &err), 0);
        ck_assert_int_eq(s->has_pp, 1);
        nr_model *m = NULL;
        int rc = nr_model_build(s, NULL, NULL, 1, &m, &err);
        char msg[1024];
        nr_err_format(&err, msg, sizeof msg);
        ck_assert_msg(rc == 0, "%s: %s", nets[i].spec, msg);
        ck_assert_str_eq(m->layers[m->output].name, nets[i].last);
        ck_assert_int_eq((int)nr_shape_count(m->layers[m->output].out_shape), 1000);
        long long macs = 0;
        for (int l = 0; l < m->nlayers; l++)
            macs += m->layers[l].macs;
        /* within 2 % of the published count (they differ in rounding and in
         * what they count) */
        double rel = fabs((double)macs / 1e6 - (double)nets[i].macs_m) / (double)nets[i].macs_m;
        ck_assert_msg(rel < 0.02, "%s: %lld MACs, want ~%lld M", nets[i].spec, macs,
                      nets[i].macs_m);
        nr_model_free(m);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eval");
    TCase *t = tcase_create("fast");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 600);
    tcase_add_test(t, rank_and_argmax);
    tcase_add_test(t, cache_roundtrip_and_corruption);
    tcase_add_test(t, hashes);
    tcase_add_test(t, spec_preprocess);
    tcase_add_test(t, spec_dataset_path);
    tcase_add_test(t, mismatches);
    tcase_add_test(t, early_stop);
    tcase_add_test(t, architecture_specs);
    suite_add_tcase(s, t);
    TCase *n = tcase_create("nets");
    tcase_set_timeout(n, 600);
    tcase_add_test(n, shipped_subset_matches_shared);
    tcase_add_test(n, lenet5_reference);
    tcase_add_test(n, resnet20_reference);
    tcase_add_test(n, resnet56_reference);
    tcase_add_test(n, jobs_agree);
    suite_add_tcase(s, n);
    return tu_run(s);
}
