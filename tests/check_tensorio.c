/* check_tensorio.c -- safetensors and .npy: round trips, exact dtype
 * conversion against independent decoders, and hostile files (each with the
 * message it must produce; none may crash, run under ASan+UBSan too). */
#include "tensorio.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

static char tmpdir[256];

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert(fwrite(b, 1, n, f) == n);
    ck_assert(fclose(f) == 0);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert(fread(b, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* A safetensors file from its header text and data bytes; hlen is the
 * header length to store (normally strlen(header)). */
static void make_st_len(const char *path, const char *header, uint64_t hlen, const void *data,
                        size_t dlen)
{
    size_t hl = strlen(header);
    unsigned char *b = malloc(8 + hl + dlen + 1);
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)(hlen >> (8 * k));
    memcpy(b + 8, header, hl);
    if (dlen)
        memcpy(b + 8 + hl, data, dlen);
    write_bytes(path, b, 8 + hl + dlen);
    free(b);
}

static void make_st(const char *path, const char *header, const void *data, size_t dlen)
{
    make_st_len(path, header, strlen(header), data, dlen);
}

/* Open must fail with a message containing want (and naming the file). */
static void expect_st_error(const char *label, const char *path, const char *want)
{
    nr_safetensors *st = (nr_safetensors *)1;
    nr_err e = {0};
    int rc = nr_safetensors_open(path, &st, &e);
    char buf[1024];
    nr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(rc != 0, "%s: accepted, expected error \"%s\"", label, want);
    ck_assert_msg(st == NULL, "%s: *out not NULL on failure", label);
    ck_assert_msg(strstr(buf, want) != NULL, "%s: message \"%s\" lacks \"%s\"", label, buf, want);
    ck_assert_msg(strstr(buf, path) != NULL, "%s: message \"%s\" does not name the file", label,
                  buf);
}

static nr_safetensors *open_ok(const char *path)
{
    nr_safetensors *st = NULL;
    nr_err e = {0};
    char buf[1024];
    int rc = nr_safetensors_open(path, &st, &e);
    nr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(rc == 0 && st, "open %s failed: %s", path, buf);
    return st;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Compare a decoded double with the expected one: bit for bit, except that
 * for NaN only NaN-ness and sign are required. */
static void same_value(double got, double want, const char *what, unsigned enc)
{
    if (isnan(want)) {
        ck_assert_msg(isnan(got) && signbit(got) == signbit(want),
                      "%s 0x%x: expected NaN with sign %d, got %a", what, enc, !!signbit(want),
                      got);
        return;
    }
    ck_assert_msg(dbits(got) == dbits(want), "%s 0x%x: expected %a (0x%016llx), got %a (0x%016llx)",
                  what, enc, want, (unsigned long long)dbits(want), got,
                  (unsigned long long)dbits(got));
}

/* ------------------------------------------------------------- round trip */

START_TEST(st_roundtrip)
{
    char path[512];
    tmp_path(path, sizeof path, "rt.safetensors");
    uint64_t seed = 42;
    static float a[3 * 4 * 5], b[7], c[1];
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        a[i] = bitsf((uint32_t)tu_rand(&seed));
    b[0] = 0.0f, b[1] = -0.0f, b[2] = INFINITY, b[3] = -INFINITY, b[4] = bitsf(1); /* min subnormal */
    b[5] = bitsf(0x7F7FFFFF), b[6] = 1.5f;
    c[0] = 3.25f;
    int64_t sa[3] = {3, 4, 5}, sb[1] = {7}, se[2] = {0, 4};
    /* given order is kept; names with JSON specials are escaped */
    nr_tensor_out t[] = {
        {"z.last\"quote\\back", 3, sa, a},
        {"b.bias", 1, sb, b},
        {"scalar", 0, NULL, c},
        {"empty", 2, se, NULL},
        {"tab\tname\xc3\xa9", 1, sb, b},
    };
    int n = (int)(sizeof t / sizeof t[0]);
    nr_err e = {0};
    ck_assert_int_eq(nr_safetensors_write_f32(path, t, n, &e), 0);

    /* Independent structural checks on the bytes: aligned data, spaces pad. */
    size_t len;
    unsigned char *raw = slurp(path, &len);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | raw[k];
    ck_assert_uint_eq((8 + hlen) % 8, 0);
    ck_assert_uint_eq(len, 8 + hlen + 4 * (60 + 7 + 1 + 0 + 7));
    ck_assert_int_eq(raw[8], '{');
    free(raw);

    nr_safetensors *st = open_ok(path);
    ck_assert_int_eq(nr_safetensors_count(st), n);
    for (int i = 0; i < n; i++) {
        int j = nr_safetensors_find(st, t[i].name);
        ck_assert_msg(j >= 0, "tensor %d not found", i);
        const nr_tensor_info *inf = nr_safetensors_info(st, j);
        ck_assert_str_eq(inf->name, t[i].name);
        ck_assert_int_eq(inf->dtype, NR_DT_F32);
        ck_assert_int_eq(inf->ndim, t[i].ndim);
        uint64_t count = 1;
        for (int k = 0; k < t[i].ndim; k++) {
            ck_assert_int_eq(inf->shape[k], t[i].shape[k]);
            count *= (uint64_t)t[i].shape[k];
        }
        ck_assert_uint_eq(inf->count, count);
        /* data order equals the order given */
        ck_assert_int_eq(j, i);
        double *v = malloc((count ? count : 1) * sizeof *v);
        ck_assert_int_eq(nr_safetensors_read_f64(st, j, v, &e), 0);
        for (uint64_t k = 0; k < count; k++)
            same_value(v[k], (double)t[i].data[k], t[i].name, (unsigned)k);
        free(v);
    }
    ck_assert_int_eq(nr_safetensors_find(st, "missing"), -1);
    ck_assert_ptr_null(nr_safetensors_info(st, n));
    ck_assert_ptr_null(nr_safetensors_unused(st));
    nr_safetensors_close(st);
    unlink(path);
}
END_TEST

START_TEST(st_unused)
{
    char path[512];
    tmp_path(path, sizeof path, "unused.safetensors");
    float d[2] = {1, 2};
    int64_t s1[1] = {1};
    nr_tensor_out t[] = {{"a", 1, s1, d}, {"b", 1, s1, d + 1}, {"c", 1, s1, d}};
    nr_err e = {0};
    ck_assert_int_eq(nr_safetensors_write_f32(path, t, 3, &e), 0);
    nr_safetensors *st = open_ok(path);
    double v;
    ck_assert_str_eq(nr_safetensors_unused(st), "a");
    nr_safetensors_read_f64(st, nr_safetensors_find(st, "a"), &v, &e);
    ck_assert_str_eq(nr_safetensors_unused(st), "b");
    nr_safetensors_read_f64(st, nr_safetensors_find(st, "c"), &v, &e);
    ck_assert_str_eq(nr_safetensors_unused(st), "b");
    nr_safetensors_read_f64(st, nr_safetensors_find(st, "b"), &v, &e);
    ck_assert(v == 2.0);
    ck_assert_ptr_null(nr_safetensors_unused(st));
    nr_safetensors_close(st);
    unlink(path);
}
END_TEST

START_TEST(st_empty_and_metadata)
{
    char path[512];
    tmp_path(path, sizeof path, "meta.safetensors");
    /* no tensors at all, padded with trailing spaces */
    make_st(path, "{}      ", NULL, 0);
    nr_safetensors *st = open_ok(path);
    ck_assert_int_eq(nr_safetensors_count(st), 0);
    ck_assert_ptr_null(nr_safetensors_unused(st));
    nr_safetensors_close(st);
    /* metadata, escapes in names, tensors listed out of data order */
    const char *h = "{\"__metadata__\": {\"format\": \"pt\", \"x\": \"\\u00e9\\ud83d\\ude00\"},\n"
                    " \"w\\u00e9\\\"\": {\"shape\": [2], \"dtype\": \"F16\", \"data_offsets\": [4, 8]},"
                    " \"first\": {\"data_offsets\": [0, 4], \"dtype\": \"BF16\", \"shape\": [1, 2]}}";
    unsigned char data[8] = {0x80, 0x3F, 0x00, 0xC0, 0x00, 0x3C, 0x01, 0x00};
    make_st(path, h, data, 8);
    st = open_ok(path);
    ck_assert_int_eq(nr_safetensors_count(st), 2);
    ck_assert_str_eq(nr_safetensors_info(st, 0)->name, "first");
    int j = nr_safetensors_find(st, "w\xc3\xa9\"");
    ck_assert_int_eq(j, 1);
    double v[2];
    nr_err e = {0};
    ck_assert_int_eq(nr_safetensors_read_f64(st, 0, v, &e), 0);
    ck_assert(v[0] == 1.0 && v[1] == -2.0);
    ck_assert_int_eq(nr_safetensors_read_f64(st, 1, v, &e), 0);
    ck_assert(v[0] == 1.0 && v[1] == ldexp(1, -24));
    nr_safetensors_close(st);
    unlink(path);
}
END_TEST

/* ------------------------------------------------------------- dtypes */

/* Independent F16 decoder: arithmetic on the fields, not bit moves. */
static double f16_ref(unsigned h)
{
    int s = h >> 15 & 1, ex = h >> 10 & 31, m = h & 1023;
    double v;
    if (ex == 31)
        v = m ? NAN : INFINITY;
    else if (ex == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(1024 + m, ex - 25);
    return s ? -v : v;
}

/* A file holding one tensor of all 65536 16-bit encodings in dtype dt. */
static nr_safetensors *all16(const char *path, const char *dt)
{
    static unsigned char data[2 * 65536];
    char h[200];
    for (unsigned k = 0; k < 65536; k++)
        data[2 * k] = (unsigned char)k, data[2 * k + 1] = (unsigned char)(k >> 8);
    snprintf(h, sizeof h, "{\"x\":{\"dtype\":\"%s\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}",
             dt);
    make_st(path, h, data, sizeof data);
    return open_ok(path);
}

START_TEST(st_f16_all)
{
    char path[512];
    tmp_path(path, sizeof path, "f16.safetensors");
    nr_safetensors *st = all16(path, "F16");
    double *v = malloc(65536 * sizeof *v);
    nr_err e = {0};
    ck_assert_int_eq(nr_safetensors_read_f64(st, 0, v, &e), 0);
    for (unsigned k = 0; k < 65536; k++)
        same_value(v[k], f16_ref(k), "F16", k);
    /* NaN payloads survive: the fraction lands in the top of binary64's */
    ck_assert_uint_eq(dbits(v[0x7E01]), 0x7FF0000000000000ull | (0x201ull << 42));
    free(v);
    nr_safetensors_close(st);
    unlink(path);
}
END_TEST

START_TEST(st_bf16_all)
{
    char path[512];
    tmp_path(path, sizeof path, "bf16.safetensors");
    nr_safetensors *st = all16(path, "BF16");
    double *v = malloc(65536 * sizeof *v);
    nr_err e = {0};
    ck_assert_int_eq(nr_safetensors_read_f64(st, 0, v, &e), 0);
    /* Independent: BF16 is the top half of a binary32; the C conversion
     * float -> double is exact. */
    for (unsigned k = 0; k < 65536; k++)
        same_value(v[k], (double)bitsf((uint32_t)k << 16), "BF16", k);
    free(v);
    nr_safetensors_close(st);
    unlink(path);
}
END_TEST

START_TEST(st_f32_f64)
{
    char path[512];
    tmp_path(path, sizeof path, "f32.safetensors");
    enum { N = 4096 };
    static unsigned char data[N * 4 + N * 8];
    static uint32_t u32[N];
    static uint64_t u64[N];
    uint64_t seed = 7;
    /* boundaries first: zeros, subnormals, normals' edges, inf, NaN */
    const uint32_t edge[] = {0, 0x80000000, 1, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0x7F800000,
                             0xFF800000, 0x7FC00000, 0x7F800001, 0x3F800000, 0x00400000};
    for (int k = 0; k < N; k++) {
        u32[k] = k < (int)(sizeof edge / sizeof edge[0]) ? edge[k] : (uint32_t)tu_rand(&seed);
        u64[k] = tu_rand(&seed);
        for (int b = 0; b < 4; b++)
            data[4 * k + b] = (unsigned char)(u32[k] >> (8 * b));
        for (int b = 0; b < 8; b++)
            data[4 * N + 8 * k + b] = (unsigned char)(u64[k] >> (8 * b));
    }
    char h[256];
    snprintf(h, sizeof h,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[0,%d]},"
             "\"b\":{\"dtype\":\"F64\",\"shape\":[%d,1],\"data_offsets\":[%d,%d]}}",
             N, 4 * N, N, 4 * N, 12 * N);
    make_st(path, h, data, sizeof data);
    nr_safetensors *st = open_ok(path);
    double *v = malloc(N * sizeof *v);
    nr_err e = {0};
    ck_assert_int_eq(nr_safetensors_read_f64(st, 0, v, &e), 0);
    for (int k = 0; k < N; k++)
        same_value(v[k], (double)bitsf(u32[k]), "F32", u32[k]);
    ck_assert_int_eq(nr_safetensors_read_f64(st, 1, v, &e), 0);
    for (int k = 0; k < N; k++)
        ck_assert_msg(dbits(v[k]) == u64[k], "F64 %d: bits changed", k);
    free(v);
    nr_safetensors_close(st);
    unlink(path);
}
END_TEST

/* ------------------------------------------------------------- hostile */

static const char *T1 = "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

START_TEST(st_bad_files)
{
    char path[512];
    tmp_path(path, sizeof path, "bad.safetensors");
    static unsigned char zeros[64];
    char h[2048];
    struct {
        const char *label, *header;
        size_t dlen;
        const char *want;
    } cases[] = {
        {"not an object", "[1, 2]", 0, "not a JSON object"},
        {"leading blank", " {}", 0, "not a JSON object"},
        {"garbage", "{\"t\": }", 0, "expected '{'"},
        {"bare word", "{t: 1}", 0, "expected a tensor name"},
        {"truncated JSON", "{\"t\":{\"dtype\":\"F32\"", 0, "header ends early"},
        {"string not closed", "{\"t", 0, "header ends inside a string"},
        {"trailing bytes", "{} x", 0, "unexpected bytes after the header object"},
        {"missing comma", "{\"t\":{\"dtype\":\"F32\" \"shape\":[]}}", 0, "expected ',' or '}'"},
        {"missing shape", "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
         "tensor t: missing field \"shape\""},
        {"missing dtype", "{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "missing field \"dtype\""},
        {"missing offsets", "{\"t\":{\"shape\":[1],\"dtype\":\"F32\"}}", 4,
         "missing field \"data_offsets\""},
        {"unknown field", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}",
         4, "unknown field \"x\""},
        {"duplicate field", "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}", 0,
         "duplicate field \"dtype\""},
        {"dtype not string", "{\"t\":{\"dtype\":5}}", 0, "expected a dtype string"},
        {"shape not list", "{\"t\":{\"shape\":\"abc\"}}", 0, "shape: a list of integers"},
        {"negative dim", "{\"t\":{\"shape\":[-1]}}", 0, "expected a non-negative integer"},
        {"fraction dim", "{\"t\":{\"shape\":[1.5]}}", 0, "not a fraction"},
        {"exponent dim", "{\"t\":{\"shape\":[1e3]}}", 0, "not a fraction"},
        {"leading zero", "{\"t\":{\"shape\":[01]}}", 0, "leading zero"},
        {"integer overflow", "{\"t\":{\"shape\":[99999999999999999999]}}", 0, "integer too large"},
        {"too many dims", "{\"t\":{\"shape\":[1,1,1,1,1,1,1,1,1]}}", 0,
         "too many elements (expected at most 8)"},
        {"three offsets", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 0,
         "expected at most 2"},
        {"one offset", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 0,
         "data_offsets has 1 elements, expected 2"},
        {"unsupported dtype", "{\"t\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
         "dtype \"I64\" is not supported (expected F64, F32, F16 or BF16)"},
        {"lowercase dtype", "{\"t\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "dtype \"f32\" is not supported"},
        {"size mismatch", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
         "tensor t: data_offsets [0, 4] hold 4 bytes, but shape and dtype F32 need 8"},
        {"begin after end", "{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8,
         "begin after end"},
        {"beyond data", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
         "tensor t: data_offsets [0, 8] reach beyond the data section (4 bytes"},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
         "tensor b: data_offsets [4, 12] overlap tensor a [0, 8]"},
        {"aliased", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
         "overlap tensor a"},
        {"gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
         "tensor b: data_offsets begin at 8, leaving a gap of 4 unused bytes"},
        {"leftover data", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12,
         "8 bytes after the last tensor are not covered"},
        {"duplicate name", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
         "tensor t: duplicate tensor name"},
        {"element overflow",
         "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,0]}}", 0, "element count overflows"},
        {"byte overflow", "{\"t\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],"
                          "\"data_offsets\":[0,0]}}", 0, "element count overflows"},
        {"bad escape", "{\"t\\q\":{}}", 0, "unknown escape"},
        {"bad utf8", "{\"t\xff\":{}}", 0, "invalid UTF-8"},
        {"overlong utf8", "{\"t\xc0\xaf\":{}}", 0, "invalid UTF-8"},
        {"lone surrogate", "{\"t\\ud800\":{}}", 0, "unpaired high surrogate"},
        {"lone low surrogate", "{\"t\\udc00\":{}}", 0, "unpaired low surrogate"},
        {"short \\u", "{\"t\\u12\":{}}", 0, "bad \\u escape"},
        {"nul in name", "{\"t\\u0000x\":{}}", 0, "\\u0000 in a string is not supported"},
        {"control char", "{\"t\n\":{}}", 0, "control character in a string"},
        {"empty name", "{\"\":{}}", 0, "empty tensor name"},
        {"metadata not object", "{\"__metadata__\": 1}", 0, "__metadata__: expected '{'"},
        {"metadata non-string", "{\"__metadata__\": {\"a\": 1}}", 0, "expected a string value"},
        {"metadata dup key", "{\"__metadata__\": {\"a\": \"1\", \"a\": \"2\"}}", 0,
         "duplicate key \"a\""},
        {"metadata twice", "{\"__metadata__\": {}, \"__metadata__\": {}}", 0,
         "duplicate key \"__metadata__\""},
        {"tensor not object", "{\"t\": [1]}", 0, "tensor t: expected '{'"},
        {"empty header", "", 0, "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_st(path, cases[i].header, zeros, cases[i].dlen);
        expect_st_error(cases[i].label, path, cases[i].want);
    }

    /* name longer than the 127 bytes nr_tensor_info holds */
    char longname[300];
    memset(longname, 'n', 200);
    longname[200] = 0;
    snprintf(h, sizeof h, "{\"%s\":{}}", longname);
    make_st(path, h, NULL, 0);
    expect_st_error("long name", path, "string longer than 127 bytes");

    /* deep nesting cannot recurse: the grammar only allows known shapes */
    memset(h, '[', sizeof h - 1);
    memcpy(h, "{\"t\":", 5);
    h[sizeof h - 1] = 0;
    make_st(path, h, NULL, 0);
    expect_st_error("deep nesting", path, "tensor t: expected '{'");

    /* header length field problems */
    write_bytes(path, "\x02\0\0", 3);
    expect_st_error("short file", path, "expected at least 8");
    snprintf(h, sizeof h, "{%s}", T1);
    make_st_len(path, h, strlen(h) + 9, zeros, 8);
    expect_st_error("header beyond file", path, "reaches beyond the end of the file");
    make_st_len(path, h, UINT64_MAX, zeros, 8);
    expect_st_error("header length 2^64-1", path, "reaches beyond the end of the file");
    /* header length cutting the JSON short */
    make_st_len(path, h, strlen(h) - 3, zeros, 8);
    expect_st_error("header length short", path, "header ends");

    expect_st_error("missing file", "/nonexistent/nope.safetensors", "cannot open");
    unlink(path);
}
END_TEST

/* Every prefix of a valid file fails cleanly, and random byte flips never
 * crash (ASan checks the reads); whatever opens must read in bounds. */
START_TEST(st_truncate_and_mutate)
{
    char path[512], bad[512];
    tmp_path(path, sizeof path, "good.safetensors");
    tmp_path(bad, sizeof bad, "mut.safetensors");
    float d[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    int64_t s1[1] = {3}, s2[2] = {2, 3}, s3[1] = {1};
    nr_tensor_out t[] = {{"a", 1, s1, d}, {"bb", 2, s2, d + 3}, {"c", 1, s3, d + 9}};
    nr_err e = {0};
    ck_assert_int_eq(nr_safetensors_write_f32(path, t, 3, &e), 0);
    size_t len;
    unsigned char *raw = slurp(path, &len);
    for (size_t n = 0; n < len; n++) {
        write_bytes(bad, raw, n);
        nr_safetensors *st = NULL;
        nr_err e2 = {0};
        ck_assert_msg(nr_safetensors_open(bad, &st, &e2) != 0, "prefix of %zu bytes accepted", n);
        ck_assert_msg(e2.msg[0] != 0, "prefix %zu: empty message", n);
    }
    uint64_t seed = 1234;
    int iters = tu_quick() ? 300 : 3000;
    unsigned char *m = malloc(len);
    double vals[16];
    for (int it = 0; it < iters; it++) {
        memcpy(m, raw, len);
        int flips = 1 + (int)(tu_rand(&seed) % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = tu_rand(&seed) % len;
            m[at] = (unsigned char)tu_rand(&seed);
        }
        write_bytes(bad, m, len);
        nr_safetensors *st = NULL;
        nr_err e2 = {0};
        if (nr_safetensors_open(bad, &st, &e2) == 0) {
            for (int i = 0; i < nr_safetensors_count(st); i++)
                if (nr_safetensors_info(st, i)->count <= 16)
                    nr_safetensors_read_f64(st, i, vals, &e2);
            nr_safetensors_close(st);
        } else
            ck_assert(e2.msg[0] != 0);
    }
    free(m);
    free(raw);
    unlink(path);
    unlink(bad);
}
END_TEST

START_TEST(st_write_errors)
{
    char path[512];
    tmp_path(path, sizeof path, "werr.safetensors");
    float d[2] = {1, 2};
    int64_t s1[1] = {1}, sneg[1] = {-1};
    nr_err e = {0};
    char buf[1024];
    nr_tensor_out dup[] = {{"a", 1, s1, d}, {"a", 1, s1, d}};
    ck_assert_int_ne(nr_safetensors_write_f32(path, dup, 2, &e), 0);
    nr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "tensor a: duplicate tensor name"), "%s", buf);
    nr_err_clear(&e);
    nr_tensor_out neg[] = {{"n", 1, sneg, d}};
    ck_assert_int_ne(nr_safetensors_write_f32(path, neg, 1, &e), 0);
    ck_assert_msg(strstr(e.msg, "negative or too large"), "%s", e.msg);
    nr_err_clear(&e);
    nr_tensor_out meta[] = {{"__metadata__", 1, s1, d}};
    ck_assert_int_ne(nr_safetensors_write_f32(path, meta, 1, &e), 0);
    nr_err_clear(&e);
    nr_tensor_out ok[] = {{"a", 1, s1, d}};
    ck_assert_int_ne(nr_safetensors_write_f32("/nonexistent/dir/x.safetensors", ok, 1, &e), 0);
    ck_assert_msg(strstr(e.msg, "cannot create"), "%s", e.msg);
    unlink(path);
}
END_TEST

/* The shipped model files hold exactly the raw float32 of ../shared/data. */
START_TEST(st_shipped_models)
{
    const char *data = tu_shared_data();
    if (!data) {
        tu_skip("shipped model files vs ../shared/data: shared data not found");
        return;
    }
    const char *models[][2] = {{"lenet5/lenet5", "lenet5_mnist"},
                               {"resnet20/resnet20", "resnet20_cifar10"}};
    for (int m = 0; m < 2; m++) {
        char path[1024], mpath[1024], line[1024];
        snprintf(path, sizeof path, "%s/specs/%s.safetensors", tu_source_dir(), models[m][0]);
        snprintf(mpath, sizeof mpath, "%s/models/%s/manifest.txt", data, models[m][1]);
        nr_safetensors *st = open_ok(path);
        FILE *f = fopen(mpath, "r");
        ck_assert(f != NULL);
        int n = 0;
        while (fgets(line, sizeof line, f)) {
            char name[256], dt[16], shape[64], file[256];
            if (line[0] == '#' || sscanf(line, "%255s %15s %63s %255s", name, dt, shape, file) != 4)
                continue;
            n++;
            int i = nr_safetensors_find(st, name);
            ck_assert_msg(i >= 0, "%s: %s missing", path, name);
            const nr_tensor_info *inf = nr_safetensors_info(st, i);
            char rpath[1024];
            snprintf(rpath, sizeof rpath, "%s/models/%s/%s", data, models[m][1], file);
            size_t len;
            unsigned char *raw = slurp(rpath, &len);
            ck_assert_uint_eq(len, inf->count * 4);
            double *v = malloc(inf->count * sizeof *v);
            nr_err e = {0};
            ck_assert_int_eq(nr_safetensors_read_f64(st, i, v, &e), 0);
            for (uint64_t k = 0; k < inf->count; k++) {
                uint32_t u = (uint32_t)raw[4 * k] | (uint32_t)raw[4 * k + 1] << 8 |
                             (uint32_t)raw[4 * k + 2] << 16 | (uint32_t)raw[4 * k + 3] << 24;
                ck_assert_msg(dbits(v[k]) == dbits((double)bitsf(u)), "%s[%llu] differs", name,
                              (unsigned long long)k);
            }
            free(v);
            free(raw);
        }
        fclose(f);
        ck_assert_int_eq(n, nr_safetensors_count(st));
        ck_assert_ptr_null(nr_safetensors_unused(st));
        nr_safetensors_close(st);
    }
}
END_TEST

/* ------------------------------------------------------------- npy */

/* A .npy from version, header text (padded as given) and data. */
static void make_npy(const char *path, int major, const char *header, const void *data,
                     size_t dlen)
{
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
    unsigned char *b = malloc(pre + hl + dlen + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t k = 8; k < pre; k++)
        b[k] = (unsigned char)(hl >> (8 * (k - 8)));
    memcpy(b + pre, header, hl);
    if (dlen)
        memcpy(b + pre + hl, data, dlen);
    write_bytes(path, b, pre + hl + dlen);
    free(b);
}

static void expect_npy_error(const char *label, const char *path, const char *want)
{
    float *d = (float *)1;
    int64_t shape[4];
    int nd = -1;
    nr_err e = {0};
    char buf[1024];
    int rc = nr_npy_read_f32(path, &d, shape, &nd, &e);
    nr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(rc != 0, "%s: accepted, expected \"%s\"", label, want);
    ck_assert_msg(d == NULL, "%s: data not NULL on failure", label);
    ck_assert_msg(strstr(buf, want) != NULL, "%s: message \"%s\" lacks \"%s\"", label, buf, want);
    ck_assert_msg(strstr(buf, path) != NULL, "%s: message \"%s\" does not name the file", label,
                  buf);
}

START_TEST(npy_roundtrip)
{
    char path[512];
    tmp_path(path, sizeof path, "rt.npy");
    uint64_t seed = 99;
    static float src[2 * 3 * 4 * 5];
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        src[i] = bitsf((uint32_t)tu_rand(&seed));
    const int64_t shapes[4][4] = {{120}, {2, 60}, {2, 3, 20}, {2, 3, 4, 5}};
    for (int nd = 1; nd <= 4; nd++) {
        nr_err e = {0};
        ck_assert_int_eq(nr_npy_write_f32(path, src, shapes[nd - 1], nd, &e), 0);
        float *d = NULL;
        int64_t shape[4];
        int got_nd = 0;
        ck_assert_int_eq(nr_npy_read_f32(path, &d, shape, &got_nd, &e), 0);
        ck_assert_int_eq(got_nd, nd);
        for (int k = 0; k < nd; k++)
            ck_assert_int_eq(shape[k], shapes[nd - 1][k]);
        for (int k = 0; k < 120; k++)
            ck_assert_msg(fbits(d[k]) == fbits(src[k]), "npy %dD element %d bits differ", nd, k);
        free(d);
    }
    /* The header is what NumPy writes (hand-written expectation). */
    int64_t s2[2] = {2, 3};
    nr_err e = {0};
    ck_assert_int_eq(nr_npy_write_f32(path, src, s2, 2, &e), 0);
    size_t len;
    unsigned char *raw = slurp(path, &len);
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    ck_assert_uint_eq(len, 128 + 24);
    ck_assert(!memcmp(raw, "\x93NUMPY\x01\x00\x76\x00", 10));
    ck_assert(!memcmp(raw + 10, want, strlen(want)));
    for (size_t k = 10 + strlen(want); k < 127; k++)
        ck_assert_int_eq(raw[k], ' ');
    ck_assert_int_eq(raw[127], '\n');
    free(raw);
    int64_t s1[1] = {5};
    ck_assert_int_eq(nr_npy_write_f32(path, src, s1, 1, &e), 0);
    raw = slurp(path, &len);
    ck_assert(strstr((char *)raw + 10, "'shape': (5,), }") != NULL);
    free(raw);
    unlink(path);
}
END_TEST

START_TEST(npy_variants)
{
    char path[512];
    tmp_path(path, sizeof path, "var.npy");
    float f[3] = {1.0f, -2.5f, 0.0f};
    unsigned char d4[12];
    memcpy(d4, f, 12);   /* the test host is little-endian (x86-64/aarch64) */
    const char *hdrs[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }          \n",
        "{\"shape\": (3,), \"descr\": \"<f4\", \"fortran_order\": False}\n",
        "{'descr':'<f4','fortran_order':False,'shape':(1, 3L)}",
    };
    for (int major = 1; major <= 3; major++)
        for (int h = 0; h < 3; h++) {
            make_npy(path, major, hdrs[h], d4, 12);
            float *d = NULL;
            int64_t shape[4];
            int nd = 0;
            nr_err e = {0};
            ck_assert_msg(nr_npy_read_f32(path, &d, shape, &nd, &e) == 0, "v%d h%d: %s", major,
                          h, e.msg);
            ck_assert_int_eq(shape[nd - 1], 3);
            ck_assert(d[0] == 1.0f && d[1] == -2.5f && d[2] == 0.0f);
            free(d);
        }
    /* <f8 is rounded to nearest float32, ties to even (hand-worked values) */
    double dv[6] = {0.1, 1 + ldexp(1, -24), 1 + 3 * ldexp(1, -24), 1e300, -ldexp(1, -150),
                    ldexp(3, -151)};
    const uint32_t want[6] = {0x3DCCCCCD, 0x3F800000, 0x3F800002, 0x7F800000, 0x80000000,
                              0x00000001};
    make_npy(path, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n", dv,
             sizeof dv);
    float *d = NULL;
    int64_t shape[4];
    int nd = 0;
    nr_err e = {0};
    ck_assert_int_eq(nr_npy_read_f32(path, &d, shape, &nd, &e), 0);
    for (int k = 0; k < 6; k++)
        ck_assert_msg(fbits(d[k]) == want[k], "<f8 %d: got 0x%08x want 0x%08x", k, fbits(d[k]),
                      want[k]);
    free(d);
    /* empty array */
    make_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n", NULL, 0);
    ck_assert_int_eq(nr_npy_read_f32(path, &d, shape, &nd, &e), 0);
    ck_assert_int_eq(nd, 2);
    free(d);
    unlink(path);
}
END_TEST

START_TEST(npy_bad_files)
{
    char path[512];
    tmp_path(path, sizeof path, "bad.npy");
    static unsigned char zeros[256];
    struct {
        const char *label;
        int major;
        const char *header;
        size_t dlen;
        const char *want;
    } cases[] = {
        {"big-endian", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8,
         "descr: big-endian dtype '>f4' is not supported"},
        {"int dtype", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16,
         "dtype '<i8' is not supported (expected '<f4' or '<f8')"},
        {"f2 dtype", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4,
         "dtype '<f2' is not supported"},
        {"structured", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
         8, "expected a dtype string"},
        {"fortran", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8,
         "fortran_order: Fortran-order arrays are not supported"},
        {"fortran not bool", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8,
         "expected True or False"},
        {"missing shape", 1, "{'descr': '<f4', 'fortran_order': False}", 8,
         "missing key 'shape'"},
        {"missing descr", 1, "{'fortran_order': False, 'shape': (2,)}", 8, "missing key 'descr'"},
        {"unknown key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8,
         "x: unknown key"},
        {"duplicate key", 1, "{'descr': '<f4', 'descr': '<f4'}", 8, "descr: duplicate key"},
        {"5 dims", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1), }", 4,
         "more than 4 dimensions"},
        {"0 dims", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4,
         "0-dimensional array"},
        {"negative dim", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4,
         "expected a non-negative integer dimension"},
        {"shape list", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8,
         "expected a tuple of integers"},
        {"dim overflow", 1,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0,
         "dimension too large"},
        {"count overflow", 1,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0,
         "element count overflows"},
        {"truncated data", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20,
         "file has 20 data bytes, but the shape and dtype need 24 (file truncated?)"},
        {"extra data", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12,
         "file has 12 data bytes, but the shape and dtype need 8"},
        {"not a dict", 1, "['descr']", 0, "expected a dict"},
        {"garbage after", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8,
         "unexpected bytes after the dict"},
        {"unterminated", 1, "{'descr': '<f4", 0, "header ends inside a string"},
        {"escape", 1, "{'de\\x': '<f4'}", 0, "unexpected character in a string"},
        {"version 4", 4, "{}", 0, ".npy version 4.0 is not supported"},
        {"version 0", 0, "{}", 0, "version 0.0 is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_npy(path, cases[i].major, cases[i].header, zeros, cases[i].dlen);
        expect_npy_error(cases[i].label, path, cases[i].want);
    }
    write_bytes(path, "NUMPY\x01\x00\x10\x00{}", 11);
    expect_npy_error("bad magic", path, "expected the magic");
    write_bytes(path, "\x93NUMPY\x01\x00\xff\x00{}", 12);
    expect_npy_error("header beyond file", path, "header length 255 reaches beyond the end");
    write_bytes(path, "\x93NUMPY\x02\x00\x02\x00", 10);
    expect_npy_error("v2 short", path, "file ends inside the header length field");
    write_bytes(path, "\x93NUM", 4);
    expect_npy_error("tiny", path, "not a .npy file");
    expect_npy_error("missing", "/nonexistent/x.npy", "cannot open");

    /* every prefix of a valid file is rejected */
    float src[6] = {1, 2, 3, 4, 5, 6};
    int64_t s[2] = {2, 3};
    nr_err e = {0};
    ck_assert_int_eq(nr_npy_write_f32(path, src, s, 2, &e), 0);
    size_t len;
    unsigned char *raw = slurp(path, &len);
    for (size_t n = 0; n < len; n++) {
        write_bytes(path, raw, n);
        float *d = NULL;
        int64_t sh[4];
        int nd;
        nr_err e2 = {0};
        ck_assert_msg(nr_npy_read_f32(path, &d, sh, &nd, &e2) != 0, "npy prefix %zu accepted", n);
    }
    /* random mutations never crash */
    uint64_t seed = 5;
    int iters = tu_quick() ? 300 : 3000;
    unsigned char *m = malloc(len);
    for (int it = 0; it < iters; it++) {
        memcpy(m, raw, len);
        for (int f = 0; f < 3; f++)
            m[tu_rand(&seed) % len] = (unsigned char)tu_rand(&seed);
        write_bytes(path, m, len);
        float *d = NULL;
        int64_t sh[4];
        int nd;
        nr_err e2 = {0};
        if (nr_npy_read_f32(path, &d, sh, &nd, &e2) == 0) {
            uint64_t c = 1;
            for (int k = 0; k < nd; k++)
                c *= (uint64_t)sh[k];
            volatile float sum = 0;
            for (uint64_t k = 0; k < c; k++)
                sum += d[k];
            free(d);
        }
    }
    free(m);
    free(raw);
    /* writer errors */
    ck_assert_int_ne(nr_npy_write_f32(path, src, s, 5, &e), 0);
    ck_assert_msg(strstr(e.msg, "expected 1 to 4"), "%s", e.msg);
    unlink(path);
}
END_TEST

/* The shipped samples load with the documented shapes. */
START_TEST(npy_shipped_samples)
{
    const char *files[2] = {"lenet5/sample.npy", "resnet20/sample.npy"};
    const int64_t want[2][4] = {{8, 1, 28, 28}, {8, 3, 32, 32}};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/specs/%s", tu_source_dir(), files[i]);
        float *d = NULL;
        int64_t shape[4];
        int nd = 0;
        nr_err e = {0};
        ck_assert_msg(nr_npy_read_f32(path, &d, shape, &nd, &e) == 0, "%s: %s", path, e.msg);
        ck_assert_int_eq(nd, 4);
        for (int k = 0; k < 4; k++)
            ck_assert_int_eq(shape[k], want[i][k]);
        free(d);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tensorio");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, st_roundtrip);
    tcase_add_test(tc, st_unused);
    tcase_add_test(tc, st_empty_and_metadata);
    tcase_add_test(tc, st_f16_all);
    tcase_add_test(tc, st_bf16_all);
    tcase_add_test(tc, st_f32_f64);
    tcase_add_test(tc, st_bad_files);
    tcase_add_test(tc, st_truncate_and_mutate);
    tcase_add_test(tc, st_write_errors);
    tcase_add_test(tc, st_shipped_models);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("npy");
    tcase_add_test(tn, npy_roundtrip);
    tcase_add_test(tn, npy_variants);
    tcase_add_test(tn, npy_bad_files);
    tcase_add_test(tn, npy_shipped_samples);
    suite_add_tcase(s, tn);
    return s;
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/check_tensorio.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    int rc = tu_run(suite());
    /* failed tests stop before their unlink: clear whatever is left */
    DIR *dir = opendir(tmpdir);
    for (struct dirent *de; dir && (de = readdir(dir));) {
        char path[512];
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", tmpdir, de->d_name);
            unlink(path);
        }
    }
    if (dir)
        closedir(dir);
    rmdir(tmpdir);
    return rc;
}
