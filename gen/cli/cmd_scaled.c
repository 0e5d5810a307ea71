/* cmd_scaled.c -- `numrep format` and `numrep round` for scaled formats
 * (mxfp4, nvfp4, e2m1@b32:e8m0:floor, int8@channel, ...; docs/semantics.md
 * [scl-*]).  The numbers come from runtime/num/scaled*.c; this file lays
 * them out and reads stdin (one group per line). */
#include "cli.h"
#include "scaled.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUP (1 << 20) /* values on one line of `numrep round` */

/* Shortest %.*g that reads back as exactly x (x a double). */
static void shortest(char *buf, size_t n, double x)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

static const char *scale_text(nr_scale_fmt f)
{
    switch (f) {
    case NR_SCALE_FP32: return "fp32";
    case NR_SCALE_E8M0: return "e8m0 (2^(e-127), e = 0..254; 0xff NaN; no zero, no sign)";
    case NR_SCALE_UE4M3: return "ue4m3 (unsigned OCP e4m3: 2^-9..448; 0x7f NaN)";
    default: return "nv: ue4m3 per block (2^-9..448) x fp32 per tensor (NVFP4)";
    }
}

static const char *rule_text(nr_scale_rule r)
{
    switch (r) {
    case NR_RULE_FLOOR: return "floor: X = 2^(floor(log2 amax) - emax_elem) (OCP MX 6.3)";
    case NR_RULE_RCEIL: return "rceil: X = 2^ceil(log2(amax / max)), nothing clips";
    case NR_RULE_CEIL: return "ceil: X = 2^(ceil(log2 amax) - emax_elem)";
    case NR_RULE_EVEN: return "even: floor after rounding amax to the element's precision";
    case NR_RULE_AMAX: return "amax: X = amax / max rounded (rne) into the scale format";
    case NR_RULE_AMAX_UP: return "amax-up: X = amax / max rounded up, nothing clips";
    default: return "static: a calibrated scale (--scale X)";
    }
}

int cli_format_scaled(const char *name, int json)
{
    nr_scaled s;
    nr_err e = {0};
    if (nr_scaled_parse(name, &s, &e))
        return cli_error(&e);
    char canon[160], en[64], emax[40], bits[40], gran[64];
    nr_scaled_name(&s, canon, sizeof canon);
    nr_format_name(&s.elem, en, sizeof en);
    shortest(emax, sizeof emax, s.elem.max_finite);
    shortest(bits, sizeof bits, nr_scaled_bits(&s));
    if (s.gran == NR_GRAN_BLOCK)
        snprintf(gran, sizeof gran, "block of %d along the reduction axis", s.block);
    else if (s.gran == NR_GRAN_CHANNEL)
        snprintf(gran, sizeof gran, "channel (one scale per output channel)");
    else
        snprintf(gran, sizeof gran, "tensor (one scale)");
    if (json) {
        printf("{\"name\": ");
        cli_json_str(canon);
        printf(", \"kind\": \"scaled\", \"element\": ");
        cli_json_str(en);
        printf(", \"element_width\": %d, \"element_max\": %s, \"emax_elem\": %d, "
               "\"granularity\": \"%s\", \"block\": %d, \"scale\": \"%s\", \"rule\": \"%s\", "
               "\"bits_per_element\": %s}\n",
               s.elem.width, emax, nr_scaled_emax_elem(&s), nr_scaled_gran_name(s.gran),
               s.gran == NR_GRAN_BLOCK ? s.block : 0, nr_scaled_scale_name(s.scale),
               nr_scaled_rule_name(s.rule), bits);
        return ferror(stdout) ? 1 : 0;
    }
    printf("%-19s %s\n", "name", canon);
    printf("%-19s %s\n", "kind", "scaled (value = element x scale of its group)");
    printf("%-19s %s (%d bits, largest %s, emax_elem %d; 'numrep format %s')\n", "element", en,
           s.elem.width, emax, nr_scaled_emax_elem(&s), en);
    printf("%-19s %s\n", "granularity", gran);
    printf("%-19s %s\n", "scale", scale_text(s.scale));
    printf("%-19s %s\n", "rule", rule_text(s.rule));
    if (s.gran == NR_GRAN_BLOCK)
        printf("%-19s %s (%d element + %d scale / %d)\n", "bits per element", bits,
               s.elem.width, s.scale == NR_SCALE_FP32 ? 32 : 8, s.block);
    else
        printf("%-19s %s (the %s scale is not counted)\n", "bits per element", bits,
               nr_scaled_gran_name(s.gran));
    return ferror(stdout) ? 1 : 0;
}

/* ---------------------------------------------------------------- round */

/* "HEX  DECIMAL  BITS" of a scale (e8m0 has no nr_format). */
static void show_scale(nr_scale_fmt f, double X, uint64_t bits)
{
    const nr_format *sf = nr_scaled_scale_format(f);
    char hex[80], dec[80];
    if (!sf) {
        if (isnan(X)) {
            printf("nan  nan  0x%02llx", (unsigned long long)bits);
            return;
        }
        shortest(dec, sizeof dec, X);
        printf("%a  %s  0x%02llx", X, dec, (unsigned long long)bits);
        return;
    }
    nr_exact x;
    nr_codec_decode_exact(sf, bits, &x);
    cli_show_hex(sf, bits, &x, hex, sizeof hex);
    cli_show_decimal(sf, bits, &x, dec, sizeof dec);
    printf("%s  %s  0x%0*llx", hex, dec, (sf->width + 3) / 4, (unsigned long long)bits);
}

/* Split line into values; returns the count, or -1 after reporting. */
static long parse_values(char *line, long lineno, double **vals, size_t *cap)
{
    long n = 0;
    char *start, *p = line;
    while ((start = cli_next_field(&p))) {
        if (n >= MAX_GROUP) {
            fprintf(stderr, "numrep round: stdin:%ld: more than %d values on one line\n",
                    lineno, MAX_GROUP);
            return -1;
        }
        nr_exact x;
        nr_err e = {0};
        if (nr_value_exact_parse(start, &x, &e)) {
            fprintf(stderr, "numrep round: stdin:%ld: value %ld: %s\n", lineno, n + 1, e.msg);
            return -1;
        }
        if ((size_t)n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            double *nv = realloc(*vals, nc * sizeof *nv);
            if (!nv) {
                fprintf(stderr, "numrep round: stdin:%ld: out of memory\n", lineno);
                return -1;
            }
            *vals = nv;
            *cap = nc;
        }
        (*vals)[n++] = nr_codec_exact_to_double(&x);
    }
    return n;
}

/* One input line = one group: print its scale(s) and elements. */
static int round_group(const nr_scaled *s, nr_scaled_ctx *ctx, int have_scale, const double *v,
                       long n, long lineno, double *p)
{
    nr_err e = {0};
    if (s->gran == NR_GRAN_BLOCK && n > s->block) {
        fprintf(stderr, "numrep round: stdin:%ld: %ld values; a block holds at most %d (one "
                "block per line)\n", lineno, n, s->block);
        return -1;
    }
    if (s->scale == NR_SCALE_NV && !have_scale) /* the line is the tensor */
        ctx->tensor_scale = nr_scaled_tensor_scale(s, nr_scaled_amax(v, (size_t)n, 1));
    ctx->element0 = 0;
    nr_scaled_group g;
    if (nr_scaled_quantize(s, v, (size_t)n, 1, ctx, p, &g, &e)) {
        char buf[512];
        nr_err_format(&e, buf, sizeof buf);
        fprintf(stderr, "numrep round: stdin:%ld: %s\n", lineno, buf);
        return -1;
    }
    if (s->scale == NR_SCALE_NV) {
        printf("tensor  ");
        uint64_t tb = 0;
        if (!isnan(ctx->tensor_scale))
            tb = nr_encode(nr_scaled_scale_format(NR_SCALE_FP32), NR_RND_RNE, ctx->tensor_scale,
                           0, NULL);
        show_scale(NR_SCALE_FP32, ctx->tensor_scale, tb);
        printf("\n");
    }
    printf("scale  ");
    show_scale(s->scale, g.scale, g.scale_bits);
    printf("  clipped %d%s%s\n", g.clipped, g.zero ? "  zero" : "", g.nan ? "  nan" : "");
    const nr_format *ef = &s->elem;
    for (long i = 0; i < n; i++) {
        char hex[80], dec[80], val[40];
        uint64_t b = isnan(p[i]) ? (ef->has_nan ? ef->nan_bits : 0)
                                 : nr_encode(ef, NR_RND_RNE, p[i], 0, NULL);
        nr_exact x;
        nr_codec_decode_exact(ef, b, &x);
        if (isnan(p[i]))
            x.cls = NR_CLS_NAN;
        cli_show_hex(ef, b, &x, hex, sizeof hex);
        cli_show_decimal(ef, b, &x, dec, sizeof dec);
        shortest(val, sizeof val, p[i] * g.scale); /* exact: <= 11 x 28 bits */
        printf("  %s  %s  0x%0*llx  %s\n", hex, dec, (ef->width + 3) / 4, (unsigned long long)b,
               isnan(p[i]) ? "nan" : val);
    }
    return 0;
}

typedef struct scaled_lines {
    const nr_scaled *s;
    nr_scaled_ctx *ctx;
    int have_scale;
    double *vals, *p; /* grown as lines need */
    size_t cap;
} scaled_lines;

/* One line of `numrep round SCALED` (cli_round_lines' callback). */
static int scaled_line(char *line, long lineno, void *arg)
{
    scaled_lines *L = arg;
    size_t cap0 = L->cap;
    long n = parse_values(line, lineno, &L->vals, &L->cap);
    if (n <= 0)
        return n < 0;
    if (L->cap != cap0 || !L->p) {
        double *np = realloc(L->p, L->cap * sizeof *np);
        if (!np) {
            fprintf(stderr, "numrep round: stdin:%ld: out of memory\n", lineno);
            return 1;
        }
        L->p = np;
    }
    L->ctx->layer = (uint32_t)(lineno - 1); /* sr: line k draws layer k-1, element i */
    return round_group(L->s, L->ctx, L->have_scale, L->vals, n, lineno, L->p) != 0;
}

int cli_round_scaled(const char *name, nr_rounding mode, uint64_t seed, int have_scale,
                     double scale)
{
    nr_scaled s;
    nr_err e = {0};
    if (nr_scaled_parse(name, &s, &e))
        return cli_error(&e);
    if (s.rule == NR_RULE_STATIC && !have_scale)
        return cli_usage("round", "%s has a static scale: give it with --scale X", name);
    if (have_scale && s.rule != NR_RULE_STATIC && s.scale != NR_SCALE_NV)
        return cli_usage("round", "--scale is for static scales and nv's tensor scale; %s "
                         "computes its scales", name);
    nr_scaled_ctx ctx = {.mode = mode, .seed = seed, .element_step = 1,
                         .tensor_scale = have_scale ? scale : 0};
    scaled_lines L = {.s = &s, .ctx = &ctx, .have_scale = have_scale};
    int rc = cli_round_lines(scaled_line, &L);
    free(L.vals);
    free(L.p);
    return rc;
}
