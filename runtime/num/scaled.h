/* scaled.h -- scaled number formats: an element format plus a scale shared
 * by a group of elements (OCP Microscaling MXFP8/6/4 and MXINT8, NVIDIA's
 * NVFP4, int8/int4 with per-tensor, per-channel or per-block scales).  The
 * rules are docs/semantics.md [scl-*]; this header is the one concept every
 * layer uses (names, precision roles, the emulator, the cost model).
 *
 * A value of a scaled tensor is P * X: P a value of the element format
 * (held exactly, as a double, like every numrep value [net-2]) and X the
 * scale of its group, a value of the scale format (also an exact double;
 * for NVFP4 the exact product of the ue4m3 block scale and the fp32 tensor
 * scale).  Groups ([scl-group]): the whole tensor, one output channel of a
 * weight tensor, or `block` consecutive elements along the axis a dot
 * product reduces over (a conv weight [co, ci, ky, kx] along ci for each
 * (co, ky, kx); an activation [c, h, w] along c for each (h, w); dense and
 * matmul along the reduction axis); the last block of an axis may be short.
 *
 * Files: scaled.c (descriptor, names, bits per element), scaled_quant.c
 * (the scale of a group and the conversion of its elements). */
#ifndef NUMREP_SCALED_H
#define NUMREP_SCALED_H

#include "numrep.h"

typedef enum nr_gran {
    NR_GRAN_NONE = 0,  /* not scaled: a plain nr_format                  */
    NR_GRAN_TENSOR,    /* one scale for the tensor                       */
    NR_GRAN_CHANNEL,   /* one per output channel (weights only)          */
    NR_GRAN_BLOCK      /* one per `block` elements along the reduction axis */
} nr_gran;

typedef enum nr_scale_fmt {
    NR_SCALE_FP32 = 1, /* an fp32 number                                 */
    NR_SCALE_E8M0,     /* 2^(e-127), e = 0..254; 0xFF is NaN; no zero     */
    NR_SCALE_UE4M3,    /* unsigned e4m3 (OCP E4M3 without the sign bit)  */
    NR_SCALE_NV        /* NVFP4: ue4m3 per block x fp32 per tensor       */
} nr_scale_fmt;

typedef enum nr_scale_rule {
    NR_RULE_FLOOR = 1, /* e8m0: 2^(floor(log2 amax) - emax_elem) (OCP MX v1.0 6.3) */
    NR_RULE_RCEIL,     /* e8m0: amax / elem_max rounded up to a power of two */
    NR_RULE_CEIL,      /* e8m0: 2^(ceil(log2 amax) - emax_elem)           */
    NR_RULE_EVEN,      /* e8m0: amax rounded to the element's precision first */
    NR_RULE_AMAX,      /* fp32/ue4m3/nv: amax / elem_max rounded (rne)    */
    NR_RULE_AMAX_UP,   /* fp32/ue4m3/nv: amax / elem_max rounded up: nothing clips */
    NR_RULE_STATIC     /* activations: the scale (nv: the tensor scale) from calibration */
} nr_scale_rule;

typedef struct nr_scaled {
    nr_format elem;       /* element format (finished)                   */
    nr_gran gran;         /* NR_GRAN_NONE: the struct is unused          */
    int block;            /* NR_GRAN_BLOCK: elements per block (>= 1)    */
    nr_scale_fmt scale;
    nr_scale_rule rule;
} nr_scaled;

/* ---------------------------------------------------------------- scaled.c */

/* Names, case-insensitive ([scl-name]): presets mxfp8 (= mxfp8e4m3),
 * mxfp8e5m2, mxfp6e3m2, mxfp6e2m3, mxfp4, mxint8, nvfp4; the general form
 * ELEM@GRAN[:SCALE[:RULE]] with GRAN tensor | channel | bN (block of N),
 * e.g. e2m1@b32:e8m0:floor, int8@channel, int4@b32:fp32, e4m3@tensor:fp32.
 * Returns 0, or -NR_ESYNTAX / -NR_ERANGE with err naming the part that is
 * wrong and what is allowed. */
int nr_scaled_parse(const char *name, nr_scaled *out, nr_err *err);
/* The YAML long form, flattened to key/value pairs: element (format name),
 * block (N) or granularity (tensor | channel | block, with block), scale,
 * rule; e.g. {element: e2m1, block: 32, scale: e8m0, rule: floor}.  Errors
 * name the key (or the general form built from the values). */
int nr_scaled_from_pairs(const char *const *keys, const char *const *vals, int n,
                         nr_scaled *out, nr_err *err);
/* 1 when name is meant as a scaled format (a preset, or contains '@'), so
 * a caller can choose between nr_scaled_parse and nr_format_parse. */
int nr_scaled_is_name(const char *name);
/* Canonical name: the preset's when the struct equals one, else the
 * general form with every part spelled out.  snprintf semantics. */
int nr_scaled_name(const nr_scaled *s, char *buf, size_t n);
/* The constraints on a combination ([scl-name]): granularity, block 1..4096,
 * a rule of the scale format, nv only with blocks, static only per tensor
 * (or nv, whose static form calibrates the fp32 tensor scale [scl-nv-static]),
 * an element of at most 16 bits with a positive max.  nr_scaled_parse
 * applies it; so must anyone filling the struct by hand.  where: for err. */
int nr_scaled_check(const nr_scaled *s, const char *where, nr_err *err);
int nr_scaled_equal(const nr_scaled *a, const nr_scaled *b);
/* Names of the parts, as in the general form ("block" for NR_GRAN_BLOCK). */
const char *nr_scaled_gran_name(nr_gran g);
const char *nr_scaled_scale_name(nr_scale_fmt f);
const char *nr_scaled_rule_name(nr_scale_rule r);
/* The presets, in order (canonical names). */
int nr_scaled_preset_count(void);
const char *nr_scaled_preset_name(int i);
/* emax_elem: floor(log2(element max)) (OCP MX v1.0 6.3; E4M3 8, E5M2 15,
 * E3M2 4, E2M3 2, E2M1 2, MXINT8 0), and the element's significant bits in
 * its top binade (floats man_bits + 1, fixed all magnitude bits). */
int nr_scaled_emax_elem(const nr_scaled *s);
int nr_scaled_elem_prec(const nr_scaled *s);
/* Storage bits per element, the scale amortised over its block (MXFP4
 * 4.25, NVFP4 4.5); tensor and channel scales count as 0. */
double nr_scaled_bits(const nr_scaled *s);
/* The scale format as an nr_format, for encoding and printing scales:
 * fp32, or ue4m3 (= OCP e4m3 with the sign bit 0; also NR_SCALE_NV's block
 * scale).  NULL for e8m0, which no nr_format describes (no sign, no zero,
 * 0x00 = 2^-127): its encoding is the biased exponent, see below. */
const nr_format *nr_scaled_scale_format(nr_scale_fmt f);
/* Value of a scale encoding: e8m0 2^(bits-127) (0xFF NaN); fp32; ue4m3. */
double nr_scaled_scale_decode(nr_scale_fmt f, uint64_t bits);

/* ---------------------------------------------------------------- scaled_quant.c */

/* Where a group's elements come from and how they round. */
typedef struct nr_scaled_ctx {
    nr_rounding mode;      /* element conversion P = round(V / X)         */
    uint64_t seed;         /* NR_RND_SR draws: nr_sr_bits(seed, layer,     */
    uint32_t layer;        /*   element0 + i * element_step, term)         */
    uint64_t element0, element_step;
    uint32_t term;
    double tensor_scale;   /* NR_SCALE_NV: the fp32 tensor scale (dynamic or static);
                            * RULE_STATIC of another scale format: the scale */
} nr_scaled_ctx;

/* One group after conversion. */
typedef struct nr_scaled_group {
    double scale;          /* X, exact (NaN for a NaN scale)              */
    uint64_t scale_bits;   /* X's encoding in its format (NV: the ue4m3 block scale) */
    int clipped;           /* elements whose finite |V / X| exceeded the element max */
    int zero;              /* 1: every element was zero                   */
    int nan;               /* 1: the scale is NaN (a NaN in the group)    */
} nr_scaled_group;

/* max |x[i * stride]| over the finite elements (0 when none). */
double nr_scaled_amax(const double *x, size_t n, size_t stride);
/* The tensor-level scale for a tensor whose amax is given: for NR_SCALE_NV
 * the fp32 tensor scale amax / (448 * elem_max) ([scl-nv]); for the other
 * formats the scale the rule gives a group with this amax (a calibrated
 * static scale from a calibrated amax).  NaN for a NaN or infinite amax. */
double nr_scaled_tensor_scale(const nr_scaled *s, double amax);
/* Convert one group: x[i * stride], i < n, exact doubles.  Writes the
 * element values P_i (exact doubles of s->elem) to p[i] (contiguous) and
 * the group's scale to *g.  Rules: docs/semantics.md [scl-scale],
 * [scl-nv], [scl-elem], [scl-special].  ctx may be NULL (rne, no tensor
 * scale).  NR_SCALE_NV and NR_RULE_STATIC need ctx->tensor_scale (a
 * positive finite value of fp32, resp. of the scale format).  n must be
 * 1..block for block granularity (the last block of an axis may be short).
 * In a NaN group p[i] is NaN.  Returns 0 or -NR_E* with err set. */
int nr_scaled_quantize(const nr_scaled *s, const double *x, size_t n, size_t stride,
                       const nr_scaled_ctx *ctx, double *p, nr_scaled_group *g, nr_err *err);

#endif
