/* check_gen_pack.c -- `--pack dense` (issues 4 and 7): weights bit-packed
 * back to back in the blob, read by bit extraction in the generated code.
 *
 *  - layout: every tensor (a layer's weights, its biases) takes exactly
 *    ceil(count x width / 8) bytes, tensors do not overlap, container-width
 *    tensors stay naturally aligned, the blob is the sum plus the trailing
 *    pad only when something is bit-packed, and every value read back from
 *    the dense blob (bit by bit, here) is the container blob's encoding;
 *  - differential: the JIT with dense weights gives the emulator's outputs
 *    bit for bit (and so the container build's), on LeNet-5 and ResNet-20
 *    at odd widths (4, 6, 12, 13, 14 bits), container widths (8, 16) and
 *    per-layer mixes of both, and on small random networks with odd tensor
 *    sizes at widths up to 63 bits (the 9-byte extraction), through both
 *    the host (vector kernel) and the bare-metal (portable) code paths. */
#include "testutil.h"
#include "emulator.h"
#include "plan.h"
#include "tensorio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t fbits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static int is_mac(nr_op op) { return op == NR_OP_CONV || op == NR_OP_DENSE || op == NR_OP_BATCHNORM; }

/* Bits [bit, bit + width) of the blob, LSB first, one bit at a time: an
 * extraction independent of the generator's. */
static uint64_t get_bits(const uint8_t *p, uint64_t bit, int width)
{
    uint64_t v = 0;
    for (int j = 0; j < width; j++, bit++)
        v |= (uint64_t)(p[bit >> 3] >> (bit & 7) & 1) << j;
    return v;
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

typedef struct region { uint64_t off, bytes; } region;

/* The dense layout of m against the container layout (see the top). */
static void check_layout(const nr_model *m, const char *what)
{
    nr_err err = {0};
    gen_plan pd, pc;
    gen_weights wd, wc;
    ck_assert_msg(gen_plan_build(m, 1, 1, &pd, &wd, &err) == 0, "%s: dense plan: %s", what, err.msg);
    ck_assert_msg(gen_plan_build(m, 0, 1, &pc, &wc, &err) == 0, "%s: plan: %s", what, err.msg);
    region *r = calloc(2 * (size_t)m->nlayers, sizeof *r);
    ck_assert(r);
    int nr = 0, anybits = 0;
    uint64_t sum = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const nr_layer *L = &m->layers[i];
        if (!is_mac(L->op))
            continue;
        const nr_format *f = &L->prec.weights;
        const int container_width = f->width == 8 * f->container;
        anybits |= !container_width;
        for (int t = 0; t < 2; t++) {
            const double *src = t ? L->b : L->w;
            uint64_t count = t ? L->nb : L->nw, off = t ? pd.ly[i].b_off : pd.ly[i].w_off;
            uint64_t coff = t ? pc.ly[i].b_off : pc.ly[i].w_off;
            if (!src)
                continue;
            uint64_t bytes = (count * (uint64_t)f->width + 7) / 8;
            r[nr++] = (region){off, bytes};
            sum += bytes;
            if (container_width)
                ck_assert_msg(off % (uint64_t)f->container == 0,
                              "%s: layer %s tensor %d at %llu is not %d-byte aligned", what, L->name,
                              t, (unsigned long long)off, f->container);
            for (uint64_t k = 0; k < count; k++) {
                uint64_t want = get_le(wc.data + coff + k * (uint64_t)f->container, f->container);
                uint64_t got = get_bits(wd.data + off, k * (uint64_t)f->width, f->width);
                ck_assert_msg(got == want, "%s: layer %s tensor %d value %llu: dense 0x%llx, "
                              "container 0x%llx", what, L->name, t, (unsigned long long)k,
                              (unsigned long long)got, (unsigned long long)want);
            }
            /* the last byte's bits past the last value are zero */
            uint64_t used = count * (uint64_t)f->width;
            if (used % 8)
                ck_assert_int_eq(wd.data[off + bytes - 1] >> (used % 8), 0);
        }
    }
    for (int a = 0; a < nr; a++)
        for (int b = a + 1; b < nr; b++)
            ck_assert_msg(r[a].off + r[a].bytes <= r[b].off || r[b].off + r[b].bytes <= r[a].off,
                          "%s: tensors %d and %d overlap", what, a, b);
    ck_assert_msg(wd.values == sum, "%s: %zu value bytes, expected %llu", what, wd.values,
                  (unsigned long long)sum);
    ck_assert_msg(pd.weight_bytes == sum, "%s: plan weight bytes", what);
    uint64_t pad = anybits ? GEN_DENSE_PAD : 0;
    ck_assert_msg(wd.size == sum + pad, "%s: dense blob %zu bytes, expected %llu + %llu", what,
                  wd.size, (unsigned long long)sum, (unsigned long long)pad);
    for (uint64_t k = sum; k < wd.size; k++)
        ck_assert_int_eq(wd.data[k], 0);
    free(r);
    gen_plan_free(&pd);
    gen_plan_free(&pc);
    gen_plan_weights_free(&wd);
    gen_plan_weights_free(&wc);
}

/* Emulator vs dense JIT vs container JIT on n samples; returns mismatches. */
static int check_outputs(const nr_model *m, const float *x, int n, int portable, const char *what)
{
    nr_err err = {0};
    size_t nout = nr_shape_count(m->layers[m->output].out_shape) * (size_t)n;
    float *y[3];
    for (int k = 0; k < 3; k++) {
        y[k] = malloc(nout * sizeof(float));
        ck_assert(y[k]);
        memset(y[k], 0xAB, nout * sizeof(float));
    }
    ck_assert_msg(nr_emulate_layers(m, x, n, y[0], NULL, NULL, NULL, &err) == 0, "%s: emulator: %s",
                  what, err.msg);
    for (int dense = 1; dense >= 0; dense--) {
        gen_model_opts o = {.opt_level = 2, .pack_dense = dense, .portable = portable};
        gen_compiled *c = NULL;
        ck_assert_msg(gen_model_compile(m, &o, &c, &err) == 0, "%s: compile (dense %d): %s (%s)",
                      what, dense, err.msg, err.where);
        ck_assert_msg(gen_compiled_run(c, x, y[2 - dense], n, &err) == 0, "%s: run: %s", what, err.msg);
        gen_compiled_free(c);
    }
    int bad = 0;
    for (size_t i = 0; i < nout; i++)
        for (int k = 1; k < 3; k++)
            if (fbits(y[0][i]) != fbits(y[k][i])) {
                if (bad < 5)
                    fprintf(stderr, "%s: output %zu: emulator %a, %s JIT %a\n", what, i,
                            (double)y[0][i], k == 1 ? "dense" : "container", (double)y[k][i]);
                bad++;
            }
    for (int k = 0; k < 3; k++)
        free(y[k]);
    return bad;
}

static const char *prec_file(const char *body)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/numrep_gen_pack_%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs(body, f);
    fclose(f);
    return path;
}

/* prec: a format name, or a precision file's text when it has a ':'. */
static void net_case(const char *net, const char *prec, const char *label, int nimg, int portable)
{
    char path[1024], what[256];
    snprintf(path, sizeof path, "%s/specs/%s/%s.yaml", tu_source_dir(), net, net);
    snprintf(what, sizeof what, "%s -p %s%s", net, label ? label : prec,
             portable ? " (portable)" : "");
    const char *pf = strchr(prec, ':') ? prec_file(prec) : prec;
    nr_model *m = NULL;
    nr_err err = {0};
    ck_assert_msg(nr_model_load(path, pf, &m, &err) == 0, "%s: %s", what, err.msg);
    if (pf != prec)
        unlink(pf);
    check_layout(m, what);
    int n = nimg;
    float *x = tu_load_sample(net, &n, m);
    int bad = check_outputs(m, x, n, portable, what);
    printf("%-60s %d image(s): dense == container == emulator%s\n", what, n, bad ? " FAILED" : "");
    ck_assert_msg(bad == 0, "%s: %d values differ", what, bad);
    free(x);
    nr_model_free(m);
}

/* Odd widths: e2m1 4, e3m2 6, q3.8 12, e5m7 13, e6m7 14 bits; container
 * widths e4m3 8, fp16 and bf16 16 (dense changes nothing there). */
START_TEST(test_lenet5)
{
    int n = tu_quick() ? 2 : 8;
    const char *fmts[] = {"e6m7-finite-nosub-sat", "e3m2", "e2m1", "q3.8",
                          "e5m7-finite-nosub-sat", "e4m3", "fp16", "bf16"};
    for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++)
        net_case("lenet5", fmts[i], NULL, n, 0);
    /* per-layer widths: 4, 32, 12, 16, 6 bits, so odd and container
     * tensors alternate in layer order (the fp32 conv2 is read straight
     * from the blob by the vector kernel) */
    const char *mix =
        "default: {weights: e3m2, rounding: rne}\n"
        "layers:\n"
        "  conv1: {weights: e2m1}\n"
        "  conv2: {weights: fp32, activations: fp32, products: fp32, accumulator: fp32}\n"
        "  fc1: {weights: q3.8, rounding: sr}\n"
        "  fc2: {weights: bf16}\n"
        "seed: 5\n";
    net_case("lenet5", mix, "mixed 4/32/12/16/6 bits", n, 0);
    net_case("lenet5", mix, "mixed 4/32/12/16/6 bits", n, 1);
    net_case("lenet5", "e6m7-finite-nosub-sat", NULL, n, 1);
}
END_TEST

START_TEST(test_resnet20)
{
    int n = tu_exhaustive() ? 8 : 1;
    net_case("resnet20", "e6m7-finite-nosub-sat", NULL, n, 0);
    net_case("resnet20", "e3m2", NULL, n, 0);
    if (!tu_quick())
        net_case("resnet20", "q3.8", NULL, n, 0);
    if (tu_exhaustive()) {
        net_case("resnet20", "e2m1", NULL, n, 0);
        net_case("resnet20", "bf16", NULL, n, 0);
        net_case("resnet20", "e6m7-finite-nosub-sat", NULL, n, 1);
    }
}
END_TEST

/* Small networks with odd tensor sizes (conv 5 -> 3 channels, 3x3: 135
 * weights; dense 7 and 5 outputs) and random weights, at widths from 1 to
 * 63 bits, one per layer or mixed. */
START_TEST(test_odd_sizes)
{
    static const char spec[] =
        "name: odd\ninput: {shape: [5, 6, 7]}\nlayers:\n"
        "  - {name: c1, op: conv, out: 3, kernel: 3, pad: 1}\n"
        "  - {name: c2, op: conv, out: 3, kernel: [1, 2], groups: 3, bias: false}\n"
        "  - {name: f, op: flatten}\n"
        "  - {name: d1, op: dense, out: 7}\n"
        "  - {name: d2, op: dense, out: 5}\n";
    static const char *const fmts[] = {
        "e2m1", "e3m2", "q3.8", "e5m7-finite-nosub-sat", "e6m7-finite-nosub-sat", "e4m3",
        "fp16", "e11m10", "q15.16-wrap", "q26.26", "e11m48", "e10m50", "e11m51", "fp64",
        "uq1.0", "e2m3", "fp32"};
    const int nf = (int)(sizeof fmts / sizeof *fmts);
    nr_err err = {0};
    int cases = tu_quick() ? nf : 2 * nf + 8;
    for (int id = 0; id < cases; id++) {
        char prec[512], what[600];
        const char *a = fmts[id % nf], *b = fmts[(id * 7 + 3) % nf], *c = fmts[(id * 5 + 1) % nf];
        if (id < nf) /* one format everywhere */
            snprintf(prec, sizeof prec, "default: {weights: %s, activations: %s, rounding: %s}\n",
                     a, a, id % 3 ? "rne" : "rz");
        else
            snprintf(prec, sizeof prec,
                     "default: {weights: %s, rounding: %s}\nlayers:\n"
                     "  c2: {weights: %s}\n  d1: {weights: %s}\nseed: %d\n",
                     a, id % 2 ? "sr" : "rne", b, c, id);
        snprintf(what, sizeof what, "odd sizes case %d: %s", id, prec);
        nr_spec *sp = NULL;
        nr_precision *pr = NULL;
        ck_assert_msg(nr_spec_parse_string(spec, "odd.yaml", &sp, &err) == 0, "%s", err.msg);
        ck_assert_msg(nr_precision_parse_string(prec, "prec.yaml", &pr, &err) == 0, "%s: %s", what,
                      err.msg);
        nr_model *m = NULL; /* takes sp and pr */
        ck_assert_msg(nr_model_build(sp, pr, NULL, (uint64_t)id + 11, &m, &err) == 0, "%s: %s", what,
                      err.msg);
        check_layout(m, what);
        uint64_t s = (uint64_t)id * 0x9E3779B97F4A7C15ull + 1;
        int n = 2;
        size_t nin = nr_shape_count(m->in_shape);
        float *x = tu_uniform_floats(&s, (size_t)n * nin, -1, 1);
        int bad = check_outputs(m, x, n, id % 2, what);
        ck_assert_msg(bad == 0, "%s: %d values differ", what, bad);
        free(x);
        nr_model_free(m);
    }
    printf("odd tensor sizes: %d cases, dense == container == emulator\n", cases);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gen_pack");
    TCase *t = tcase_create("pack");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_odd_sizes);
    tcase_add_test(t, test_lenet5);
    tcase_add_test(t, test_resnet20);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
