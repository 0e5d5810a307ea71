/* check_api.c -- runtime/api/nr_api.c, the stable-ABI layer under the
 * Python package, from C (so the sanitizer build covers it too): each
 * array loop equals its scalar function element by element, the SR draws
 * are numrep round's, errors are filled, and the emulator's statistics
 * arrive in the documented order; scaled formats group by group; dense
 * packing's layout. */
#include "testutil.h"
#include "emulator.h"
#include "nr_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4096

static void values(double *x, int n)
{
    for (int i = 0; i < n; i++) /* spans e4m3's range, subnormals, overflow, specials */
        x[i] = (i % 7 == 0 ? -1 : 1) * ldexp(1.0 + (i * 37 % 1000) / 1000.0, i % 30 - 15);
    x[0] = NAN, x[1] = INFINITY, x[2] = -0.0, x[3] = 0.0;
}

START_TEST(format_handle)
{
    nr_err e = {0};
    ck_assert_ptr_null(nr_api_format_new("e4m3x", &e));
    ck_assert_int_eq(e.code, NR_ESYNTAX);
    nr_err_clear(&e);
    nr_format *f = nr_api_format_new("e6m7-finite-nosub-sat", &e);
    ck_assert_ptr_nonnull(f);
    int64_t iv[NR_API_FMT_INTS];
    double rv[NR_API_FMT_REALS];
    nr_api_format_info(f, iv, rv);
    ck_assert_int_eq(iv[1], 14);                       /* width */
    ck_assert_int_eq(iv[3], 31);                       /* bias */
    ck_assert(rv[0] == f->max_finite && rv[3] == 0x1p-7);
    nr_api_format_free(f);
}
END_TEST

START_TEST(f64_loops_equal_scalar)
{
    static const char *fmts[] = {"e4m3", "bf16", "q3.4", "e5m10-nosub"};
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *z = malloc(N * sizeof *z);
    uint64_t *b = malloc(N * sizeof *b);
    values(x, N);
    for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++)
        for (int mode = 0; mode < NR_RND_COUNT; mode++) {
            nr_format f = tu_fmt(fmts[k]);
            for (int threads = 1; threads <= 2; threads++) {
                nr_api_round_f64(&f, mode, 9, x, y, N, threads);
                nr_api_encode_f64(&f, mode, 9, x, b, N, threads);
                nr_api_decode_f64(&f, b, z, N, threads);
                for (size_t i = 0; i < N; i++) {
                    uint32_t sr = nr_sr_bits(9, 0, i, 0);
                    uint64_t want = nr_encode(&f, mode, x[i], sr, NULL);
                    uint64_t got = f.container == 1 ? ((uint8_t *)b)[i]
                                   : f.container == 2 ? ((uint16_t *)b)[i] : b[i];
                    ck_assert_msg(got == want, "%s mode %d element %zu", fmts[k], mode, i);
                    double v = nr_decode(&f, want);
                    ck_assert(memcmp(&y[i], &v, 8) == 0 || (isnan(y[i]) && isnan(v)));
                    ck_assert(memcmp(&z[i], &v, 8) == 0 || (isnan(z[i]) && isnan(v)));
                }
            }
        }
    free(x), free(y), free(z), free(b);
}
END_TEST

START_TEST(arith_rounds_operands_then_once)
{
    nr_format f = tu_fmt("e4m3");
    double a[64], c[64];
    uint64_t out[64];
    values(a, 64);
    values(c, 64);
    for (int i = 0; i < 64; i++)
        c[i] = c[63 - i];
    nr_err e = {0};
    ck_assert_int_eq(nr_api_arith(&f, NR_API_FMA, NR_RND_SR, 5, a, c, a, out, 64, &e), 0);
    for (uint64_t i = 0; i < 64; i++) {
        uint64_t va = nr_encode(&f, NR_RND_SR, a[i], nr_sr_bits(5, 0, i, 1), NULL);
        uint64_t vb = nr_encode(&f, NR_RND_SR, c[i], nr_sr_bits(5, 0, i, 2), NULL);
        uint64_t vc = nr_encode(&f, NR_RND_SR, a[i], nr_sr_bits(5, 0, i, 3), NULL);
        ck_assert_uint_eq(out[i], nr_fma(&f, NR_RND_SR, va, vb, vc, nr_sr_bits(5, 0, i, 0), NULL));
    }
    ck_assert_int_eq(nr_api_arith(&f, 17, NR_RND_RNE, 0, a, a, a, out, 1, &e), -NR_ERANGE);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_api_arith(&f, NR_API_ADD, NR_RND_RNE, 0, a, NULL, NULL, out, 1, &e),
                     -NR_ERANGE);
}
END_TEST

START_TEST(emulate_with_statistics)
{
    char net[4200];
    snprintf(net, sizeof net, "%s/specs/lenet5/lenet5.yaml", tu_source_dir());
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert_int_eq(nr_model_load_seeded(net, "e4m3", 3, &m, &e), 0);
    int in[3], out[3];
    int nl = nr_api_model_info(m, in, out);
    ck_assert_int_eq(nl, m->nlayers);
    ck_assert(in[0] == 1 && in[1] == 28 && out[0] == 10 && out[1] == 1);
    ck_assert_str_eq(nr_api_model_layer_name(m, 0), "conv1");
    ck_assert_ptr_null(nr_api_model_layer_name(m, nl));
    float *x = calloc(2 * 28 * 28, sizeof *x), y[20], y2[20];
    for (int i = 0; i < 2 * 28 * 28; i++)
        x[i] = (float)((i * 13 % 29) - 14) / 7.0f;
    size_t nc = (size_t)(1 + 4 * nl) * NR_API_COUNTS + 1;
    uint64_t *c = calloc(nc, sizeof *c);
    ck_assert_int_eq(nr_api_emulate(m, x, 2, y, c, &e), 0);
    ck_assert_int_eq(nr_api_emulate(m, x, 2, y2, NULL, &e), 0);
    ck_assert(memcmp(y, y2, sizeof y) == 0);
    nr_emu_stats st;
    ck_assert_int_eq(nr_emu_stats_init(&st, m, &e), 0);
    ck_assert_int_eq(nr_emulate(m, x, 2, y2, &st, NULL, &e), 0);
    ck_assert(memcmp(c, &st.input, sizeof st.input) == 0);
    ck_assert(memcmp(c + NR_API_COUNTS * (1 + 4 * 0 + 1), &st.layer[0].prod, sizeof st.input) == 0);
    ck_assert(memcmp(c + NR_API_COUNTS * (1 + 4 * (nl - 1) + 3), &st.layer[nl - 1].out,
                     sizeof st.input) == 0);
    ck_assert_uint_eq(c[nc - 1], 2);
    nr_emu_stats_free(&st);
    free(c);
    free(x);
    nr_model_free(m);
}
END_TEST

/* nr_api_scaled_round = nr_scaled_quantize group by group (group g draws
 * as layer g), times the scale; the same bits on 1 and 4 threads. */
START_TEST(scaled_round_is_quantize_per_group)
{
    static const char *names[] = {"mxfp4", "nvfp4", "int8@channel", "e4m3@tensor:fp32",
                                  "mxint8"};
    enum { ROWS = 40, LEN = 3000 }; /* blocks: the last of each row is short */
    double *x = malloc(ROWS * LEN * sizeof *x), *y = malloc(ROWS * LEN * sizeof *y);
    double *y4 = malloc(ROWS * LEN * sizeof *y4), *p = malloc(LEN * sizeof *p);
    values(x, ROWS * LEN);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        nr_err e = {0};
        nr_scaled *s = nr_api_scaled_new(names[k], &e);
        ck_assert_ptr_nonnull(s);
        size_t ng = nr_api_scaled_groups(s, ROWS, LEN);
        double *sc = malloc(ng * sizeof *sc);
        uint64_t *sb = malloc(ng * sizeof *sb), *codes = malloc(ROWS * LEN * sizeof *codes);
        ck_assert_int_eq(nr_api_scaled_round(s, NR_RND_SR, 9, 0, x, ROWS, LEN, y, sc, sb, codes,
                                             1, &e), 0);
        ck_assert_int_eq(nr_api_scaled_round(s, NR_RND_SR, 9, 0, x, ROWS, LEN, y4, NULL, NULL,
                                             NULL, 4, &e), 0);
        ck_assert(memcmp(y, y4, ROWS * LEN * sizeof *y) == 0);
        /* decode(codes, scale encodings) gives the values back */
        double ts = s->scale == NR_SCALE_NV ? nr_scaled_tensor_scale(s, nr_scaled_amax(
                                                  x, ROWS * LEN, 1)) : 0;
        ck_assert_int_eq(nr_api_scaled_decode(s, ts, codes, sb, ROWS, LEN, y4, 3, &e), 0);
        for (size_t i = 0; i < ROWS * LEN; i++)
            ck_assert(isnan(y[i]) ? isnan(y4[i]) : memcmp(&y[i], &y4[i], sizeof *y) == 0);
        size_t glen = s->gran == NR_GRAN_BLOCK ? (size_t)s->block
                      : s->gran == NR_GRAN_CHANNEL ? LEN : (size_t)ROWS * LEN;
        size_t per_row = s->gran == NR_GRAN_TENSOR ? 1 : (LEN + glen - 1) / glen;
        nr_scaled_ctx ctx = {.mode = NR_RND_SR, .seed = 9, .element_step = 1};
        if (s->scale == NR_SCALE_NV)
            ctx.tensor_scale = nr_scaled_tensor_scale(s, nr_scaled_amax(x, ROWS * LEN, 1));
        for (size_t g = 0; g < ng; g++) {
            size_t row = g / per_row, at = row * LEN + (g % per_row) * glen;
            size_t n = s->gran == NR_GRAN_TENSOR ? glen
                       : LEN - (g % per_row) * glen < glen ? LEN - (g % per_row) * glen : glen;
            nr_scaled_group grp;
            ctx.layer = (uint32_t)g;
            double *q = s->gran == NR_GRAN_TENSOR ? y4 : p;
            ck_assert_int_eq(nr_scaled_quantize(s, x + at, n, 1, &ctx, q, &grp, &e), 0);
            ck_assert(memcmp(&sc[g], &grp.scale, sizeof grp.scale) == 0);
            ck_assert_uint_eq(sb[g], grp.scale_bits);
            for (size_t i = 0; i < n; i++) {
                double v = q[i] * grp.scale;
                ck_assert(memcmp(&y[at + i], &v, sizeof v) == 0);
                if (!grp.nan)
                    ck_assert_uint_eq(codes[at + i], nr_encode(&s->elem, NR_RND_RNE, q[i], 0,
                                                               NULL));
            }
        }
        free(codes);
        free(sc);
        free(sb);
        nr_api_scaled_free(s);
    }
    nr_err e = {0};
    nr_scaled *st = nr_api_scaled_new("int8@tensor:fp32:static", &e);
    ck_assert_int_lt(nr_api_scaled_round(st, NR_RND_RNE, 0, 0, x + 8, 1, 8, y, NULL, NULL, NULL, 1,
                                         &e),
                     0); /* x + 8: finite (a NaN group needs no scale) */
    ck_assert_int_eq(e.code, NR_ERANGE);
    nr_api_scaled_free(st);
    nr_scaled *nv = nr_api_scaled_new("nvfp4", &e); /* its tensor scale is required */
    uint64_t c1 = 0, b1 = 0;
    ck_assert_int_eq(nr_api_scaled_decode(nv, 0, &c1, &b1, 1, 1, y, 1, &e), -NR_ERANGE);
    nr_api_scaled_free(nv);
    ck_assert_ptr_null(nr_api_scaled_new("e2m1@b0", &e));
    free(x), free(y), free(y4), free(p);
}
END_TEST

/* Dense packing: value k at bit k*width LSB first, in exactly
 * ceil(n*width/8) bytes (ASan checks nothing past them is touched). */
START_TEST(pack_dense_layout)
{
    static const char *fmts[] = {"e2m1", "e3m2", "e4m3", "e6m7", "q11.12", "e8m31", "fp64"};
    for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
        nr_format f;
        nr_err e = {0};
        ck_assert_int_eq(nr_format_parse(fmts[k], &f, &e), 0);
        for (size_t n = 0; n < 70; n += 3) {
            uint64_t in[70], back[70];
            for (size_t i = 0; i < n; i++) /* every bit pattern shape, high bits cut */
                in[i] = 0x9e3779b97f4a7c15ull * (i + 1) >> (64 - f.width);
            size_t bytes = nr_pack_bytes(f.width, n);
            ck_assert_uint_eq(bytes, (n * (size_t)f.width + 7) / 8);
            uint8_t *packed = malloc(bytes ? bytes : 1);
            uint64_t *cont = malloc(n * 8 + 8), *outc = malloc(n * 8 + 8);
            for (size_t i = 0; i < n; i++)
                nr_container_store(cont, f.container, i, in[i]);
            nr_pack_dense(&f, cont, n, packed);
            for (size_t b = 0; b < n * (size_t)f.width; b++) /* bit b = value b/w's bit b%w */
                ck_assert_uint_eq(packed[b / 8] >> (b % 8) & 1,
                                  in[b / f.width] >> (b % f.width) & 1);
            nr_unpack_dense(&f, packed, n, outc);
            for (size_t i = 0; i < n; i++) {
                back[i] = nr_container_load(outc, f.container, i);
                ck_assert_uint_eq(back[i], in[i]);
            }
            free(packed), free(cont), free(outc);
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("api");
    TCase *t = tcase_create("api");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, format_handle);
    tcase_add_test(t, f64_loops_equal_scalar);
    tcase_add_test(t, arith_rounds_operands_then_once);
    tcase_add_test(t, emulate_with_statistics);
    tcase_add_test(t, scaled_round_is_quantize_per_group);
    tcase_add_test(t, pack_dense_layout);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
