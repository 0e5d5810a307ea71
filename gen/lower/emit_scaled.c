/* emit_scaled.c -- scaled formats in generated code, apart from the dot
 * product (emit_scaled_mac.c): which layers take the scaled path, what the
 * generator refuses, the arena and blob layouts (emit_scaled.h), packing
 * the model's quantized weights, and the dynamic quantization of an
 * activation tensor as IR ([scl-dot-act], [scl-scale], [scl-nv],
 * [scl-elem], [scl-special]), bit-exact with runtime/num/scaled_quant.c:
 *
 *  - amax over a group's finite |V| (a NaN or infinity makes the group NaN);
 *  - the scale from amax: e8m0 rules by exponent arithmetic on amax's
 *    double bits (scaled_quant.c's e8m0_exponent, rule by rule); fp32,
 *    ue4m3 and NVFP4's two levels by rounding the exact quotient
 *    amax / D (D = max, 448 max, or max s_t: exact doubles) into the
 *    saturating scale format with gen_num_round, a zero result becoming
 *    the smallest positive scale;
 *  - each element P = round(V / X) of the exact quotient, clipped to +-max.
 * The exact quotient v / D is d = fl(v / D) plus the sign of the residual
 * r = v - d D, computed exactly without fma (Dekker's product), so also on
 * targets without libm: as scaled_quant.c's elem_quotient, d (or the
 * double below it when r lies on the other side) plus a sticky bit rounds,
 * clips and draws SR thresholds exactly as the exact quotient does (no
 * value or midpoint of a format of at most 24 bits, nor an SR threshold
 * 32 bits below an element's quantum, lies inside that ulp). */
#include "emit_scaled.h"
#include "emulator.h"

#include <float.h>
#include <pthread.h>
#include <math.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

#define ALIGN8(x) (((x) + 7u) / 8u * 8u)

/* ---------------------------------------------------------------- which layers */

static int is_mac_op(nr_op op)
{
    return op == NR_OP_CONV || op == NR_OP_DENSE || op == NR_OP_BATCHNORM;
}

const nr_scaled *gen_scaled_act(const nr_model *m, int src)
{
    const nr_scaled *s = &m->layers[src < 0 ? 0 : src].prec.activations_scaled;
    return s->gran != NR_GRAN_NONE ? s : NULL;
}

int gen_scaled_mac(const nr_model *m, int li)
{
    const nr_layer *L = &m->layers[li];
    return is_mac_op(L->op) &&
           (nr_prec_is_scaled(&L->prec) || gen_scaled_act(m, L->inputs[0]) != NULL);
}

/* Significant bits of a scale (e8m0: powers of two; nv: fp32 x ue4m3). */
int gen_scaled_scale_bits(const nr_scaled *s)
{
    if (!s)
        return 1;
    switch (s->scale) {
    case NR_SCALE_E8M0: return 1;
    case NR_SCALE_UE4M3: return 4;
    case NR_SCALE_NV: return 28;
    default: return 24;
    }
}

/* fp32 and fp64 descriptors, made once (eval and search compile from
 * several threads). */
static nr_format f32_, f64_;
static pthread_once_t fmts_once = PTHREAD_ONCE_INIT;
static void fmts_init(void)
{
    nr_format_parse("fp32", &f32_, NULL);
    nr_format_parse("fp64", &f64_, NULL);
}

const nr_format *gen_scaled_f32(void)
{
    pthread_once(&fmts_once, fmts_init);
    return &f32_;
}

const nr_format *gen_scaled_f64(void)
{
    pthread_once(&fmts_once, fmts_init);
    return &f64_;
}

const nr_format *gen_scaled_carrier(const nr_model *m, int src)
{
    return gen_scaled_act(m, src) ? gen_scaled_f64()
           : src < 0              ? &m->in_format
                                  : &m->layers[src].prec.activations;
}

const nr_format *gen_scaled_outer_fmt(const nr_layer *L)
{
    return L->prec.mac == NR_MAC_BLOCK_FP32 || L->prec.promote > 0 ? gen_scaled_f32()
                                                                    : &L->prec.accumulator;
}

/* Every value of the element format is a float (the P buffers hold floats). */
static int elem_fits_float(const nr_format *f)
{
    return f->max_finite <= FLT_MAX && f->min_subnormal >= 0x1p-149 && f->prec <= 24;
}

static int unsup(nr_err *err, const nr_layer *L, const char *what)
{
    return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                      "%s: not in the generator yet; use --engine emulator", what);
}

int gen_scaled_check(const nr_model *m, nr_err *err)
{
    for (int i = 0; i < m->nlayers; i++) {
        const nr_layer *L = &m->layers[i];
        const nr_scaled *a = gen_scaled_act(m, i), *w = &L->prec.weights_scaled;
        if (a && a->rule == NR_RULE_STATIC && !(nr_model_act_scale(m, i) > 0))
            return unsup(err, L, "a static activation scale without its value");
        if (a && (L->prec.activations.kind != NR_FLOAT || L->prec.activations.width != 32 ||
                  !nr_format_fits_f32(&L->prec.activations)))
            return unsup(err, L, "scaled activations with a carrier other than fp32");
        if (a && !elem_fits_float(&a->elem))
            return unsup(err, L, "a scaled activation element format wider than float");
        if (w->gran != NR_GRAN_NONE && is_mac_op(L->op) && !elem_fits_float(&w->elem))
            return unsup(err, L, "a scaled weight element format wider than float");
        if (!gen_scaled_mac(m, i))
            continue;
        /* the segment's partial sum times one scale must be exact in double
         * (emit_scaled_mac.c multiplies by the other exactly) */
        const nr_format *sf = L->prec.mac == NR_MAC_BLOCK_FP32 ? gen_scaled_outer_fmt(L)
                                                                : &L->prec.accumulator;
        const nr_scaled *ws = w->gran != NR_GRAN_NONE ? w : NULL;
        int bw = gen_scaled_scale_bits(ws), ba = gen_scaled_scale_bits(gen_scaled_act(m, L->inputs[0]));
        int small = bw < ba ? bw : ba;
        if (sf->prec + small > 53)
            return unsup(err, L, "a partial-sum format this wide with two non-power-of-two "
                                 "scales");
    }
    const nr_scaled *in = gen_scaled_act(m, -1);
    if (in && in->rule == NR_RULE_STATIC && !(m->in_scale > 0))
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "input",
                          "a static input scale without its value");
    if (in && (m->in_format.width != 32 || m->in_format.kind != NR_FLOAT))
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "input",
                          "scaled input with a carrier other than fp32: use --engine emulator");
    return 0;
}


/* ---------------------------------------------------------------- layouts */

static uint64_t act_groups(const nr_scaled *s, const int sh[3])
{
    if (s->gran != NR_GRAN_BLOCK)
        return 1;
    uint64_t nb = ((uint64_t)sh[0] + (uint64_t)s->block - 1) / (uint64_t)s->block;
    return nb * (uint64_t)sh[1] * (uint64_t)sh[2];
}

void gen_scaled_act_layout(const nr_scaled *s, const int sh[3], gen_scaled_layout *l)
{
    uint64_t n = (uint64_t)sh[0] * (uint64_t)sh[1] * (uint64_t)sh[2];
    l->groups = act_groups(s, sh);
    l->p_off = n * 8;
    l->x_off = l->p_off + ALIGN8(n * 4);
    l->bytes = l->x_off + l->groups * 8;
}

uint64_t gen_scaled_tensor_bytes(const nr_model *m, int src, uint64_t carrier)
{
    const nr_scaled *s = gen_scaled_act(m, src);
    if (!s)
        return carrier;
    gen_scaled_layout l;
    gen_scaled_act_layout(s, src < 0 ? m->in_shape : m->layers[src].out_shape, &l);
    return l.bytes;
}

uint64_t gen_scaled_w_bytes(const nr_layer *L)
{
    return ALIGN8((uint64_t)L->nw * 4) + (uint64_t)L->nwscale * 8;
}

uint64_t gen_scaled_b_bytes(const nr_layer *L) { return L->b ? (uint64_t)L->nb * 8 : 0; }

void gen_scaled_sizes(const nr_model *m, uint64_t *blob_scales, uint64_t *elem_bytes,
                      uint64_t *scale_bytes)
{
    *blob_scales = *elem_bytes = *scale_bytes = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const nr_layer *L = &m->layers[i];
        const nr_scaled *s = &L->prec.weights_scaled;
        if (!is_mac_op(L->op) || s->gran == NR_GRAN_NONE)
            continue;
        *blob_scales += (uint64_t)L->nwscale * 8;
        *elem_bytes += ((uint64_t)L->nw * (uint64_t)s->elem.width + 7) / 8;
        *scale_bytes += (uint64_t)L->nwscale * (s->scale == NR_SCALE_FP32 ? 4u : 1u);
    }
}

uint64_t gen_scaled_wblk(uint64_t O, uint64_t M, uint64_t o, uint64_t j)
{
    uint64_t o0 = o - o % GEN_SCALED_VL, w = O - o0 < GEN_SCALED_VL ? O - o0 : GEN_SCALED_VL;
    return o0 * M + j * w + (o - o0);
}

LLVMValueRef gen_scaled_wblk_ir(gen_lctx *c, uint64_t O, uint64_t M, LLVMValueRef o,
                                LLVMValueRef j)
{
    LLVMBuilderRef B = c->g->b;
    const uint64_t VL = GEN_SCALED_VL, full = O - O % VL;
    LLVMValueRef lane = LLVMBuildAnd(B, o, gen_ir_i64(c, VL - 1), "lane");
    LLVMValueRef o0 = LLVMBuildSub(B, o, lane, "o0");
    LLVMValueRef w = gen_ir_i64(c, VL);
    if (O % VL)
        w = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntULT, o, gen_ir_i64(c, full), ""), w,
                            gen_ir_i64(c, O % VL), "w");
    return LLVMBuildAdd(B, LLVMBuildAdd(B, LLVMBuildMul(B, o0, gen_ir_i64(c, M), ""),
                                        LLVMBuildMul(B, j, w, ""), ""),
                        lane, "wblk");
}

void gen_scaled_pack(const nr_model *m, int li, uint8_t *w, uint8_t *b)
{
    const nr_layer *L = &m->layers[li];
    nr_mac_geom G;
    nr_mac_geom_of(L, &G); /* checked by plan.c before packing */
    const uint64_t O = (uint64_t)G.O, T = (uint64_t)G.kh * (uint64_t)G.kw, cg = (uint64_t)G.cin_g;
    for (uint64_t o = 0; o < O; o++) /* emit_scaled.h: o-blocked, taps outer */
        for (uint64_t ci = 0; ci < cg; ci++)
            for (uint64_t t = 0; t < T; t++) {
                float f = (float)L->wq[o * cg * T + ci * T + t]; /* exact: gen_scaled_check */
                memcpy(w + 4 * gen_scaled_wblk(O, cg * T, o, t * cg + ci), &f, 4);
            }
    uint8_t *sc = w + ALIGN8((uint64_t)L->nw * 4);
    const int per_o = L->prec.weights_scaled.gran != NR_GRAN_TENSOR;
    const uint64_t M = per_o ? L->nwscale / O : 1;
    for (size_t g = 0; g < L->nwscale; g++) /* per channel/block: o-blocked; tensor: one */
        memcpy(sc + 8 * (per_o ? gen_scaled_wblk(O, M, g / M, g % M) : g), &L->wscale[g], 8);
    const nr_format *of = gen_scaled_outer_fmt(L);
    const nr_rounding mode = L->prec.rounding;
    for (size_t k = 0; L->b && k < L->nb; k++) { /* [scl-dot-bias] */
        uint32_t r = mode == NR_RND_SR
                         ? nr_sr_bits(m->seed, (uint32_t)li, k, NR_EMU_TERM_BIASLOAD)
                         : 0;
        double v = nr_decode(of, nr_encode(of, mode, L->b[k], r, NULL));
        memcpy(b + 8 * k, &v, 8);
    }
}

/* ---------------------------------------------------------------- IR helpers */

static V cf(gen_ctx *g, double v) { return LLVMConstReal(g->f64, v); }
static V fabs_(gen_ctx *g, V x) { return gen_emit_intrinsic(g, "llvm.fabs", g->f64, &x, 1); }
static V bits_of(gen_ctx *g, V x) { return LLVMBuildBitCast(g->b, x, g->i64, ""); }

/* Dekker's exact product: d*D = p + e (no fma, no libm). */
static void two_prod(gen_ctx *g, V a, V b, V *p, V *e)
{
    LLVMBuilderRef B = g->b;
    V split = cf(g, 134217729.0); /* 2^27 + 1 */
    V ca = LLVMBuildFMul(B, a, split, ""), cb = LLVMBuildFMul(B, b, split, "");
    V ah = LLVMBuildFSub(B, ca, LLVMBuildFSub(B, ca, a, ""), "");
    V bh = LLVMBuildFSub(B, cb, LLVMBuildFSub(B, cb, b, ""), "");
    V al = LLVMBuildFSub(B, a, ah, ""), bl = LLVMBuildFSub(B, b, bh, "");
    *p = LLVMBuildFMul(B, a, b, "");
    V t = LLVMBuildFSub(B, LLVMBuildFMul(B, ah, bh, ""), *p, "");
    t = LLVMBuildFAdd(B, t, LLVMBuildFMul(B, ah, bl, ""), "");
    t = LLVMBuildFAdd(B, t, LLVMBuildFMul(B, al, bh, ""), "");
    *e = LLVMBuildFAdd(B, t, LLVMBuildFMul(B, al, bl, ""), "");
}

/* The exact quotient v / D (finite, D > 0, no under/overflow: the domains
 * here) as a gen_exact; *dt: its truncation to a double (see the top). */
static void quot_exact(gen_ctx *g, V v, V D, gen_exact *q, V *dt)
{
    LLVMBuilderRef B = g->b;
    V d = LLVMBuildFDiv(B, v, D, "q");
    V p, e;
    two_prod(g, d, D, &p, &e);
    V r = LLVMBuildFSub(B, LLVMBuildFSub(B, v, p, ""), e, "r"); /* exact: r is a double */
    V inexact = LLVMBuildFCmp(B, LLVMRealONE, r, cf(g, 0.0), "");
    V rneg = LLVMBuildFCmp(B, LLVMRealOLT, r, cf(g, 0.0), "");
    V dneg = LLVMBuildFCmp(B, LLVMRealOLT, d, cf(g, 0.0), "");
    V below = LLVMBuildAnd(B, inexact, LLVMBuildXor(B, rneg, dneg, ""), "");
    /* the double below |d|: one less in the bit pattern (also across a binade) */
    V db = LLVMBuildSub(B, bits_of(g, d), LLVMBuildZExt(B, below, g->i64, ""), "");
    *dt = LLVMBuildBitCast(B, db, g->f64, "dt");
    gen_num_exact_f64(g, *dt, q);
    q->sticky = inexact;
}

/* Round the exact nonnegative q into the saturating version of scale
 * format sf by rule (rne, ru for amax-up); zero -> the smallest positive. */
static V round_scale(gen_ctx *g, const nr_format *sf, nr_scale_rule rule, const gen_exact *q)
{
    nr_format sat = *sf;
    sat.saturate = 1;
    nr_format_finish(&sat, NULL);
    V bits = gen_num_round(g, &sat, rule == NR_RULE_AMAX_UP ? NR_RND_RU : NR_RND_RNE, q,
                           LLVMConstInt(g->i32, 0, 0));
    V zero = LLVMBuildICmp(g->b, LLVMIntEQ, bits, LLVMConstInt(g->i64, 0, 0), "");
    bits = LLVMBuildSelect(g->b, zero, LLVMConstInt(g->i64, 1, 0), bits, "");
    return gen_num_decode(g, sf, bits);
}

/* round_scale of amax / D. */
static V scale_of_quot(gen_ctx *g, const nr_format *sf, nr_scale_rule rule, V amax, V D)
{
    gen_exact q;
    V dt;
    quot_exact(g, amax, D, &q, &dt);
    return round_scale(g, sf, rule, &q);
}

/* [scl-scale] e8m0: 2^e, e from amax's exponent and mantissa bits. */
static V e8m0_scale(gen_ctx *g, const nr_scaled *s, V amax)
{
    LLVMBuilderRef B = g->b;
    T i64 = g->i64;
    V b = bits_of(g, amax);
    V E = LLVMBuildSub(B, LLVMBuildAnd(B, LLVMBuildLShr(B, b, LLVMConstInt(i64, 52, 0), ""),
                                       LLVMConstInt(i64, 0x7ff, 0), ""),
                       LLVMConstInt(i64, 1023, 0), "E");
    V mant = LLVMBuildAnd(B, b, LLVMConstInt(i64, (1ull << 52) - 1, 0), "");
    const int emax = nr_scaled_emax_elem(s);
    V up;
    switch (s->rule) {
    case NR_RULE_CEIL:
        up = LLVMBuildICmp(B, LLVMIntNE, mant, LLVMConstInt(i64, 0, 0), "");
        break;
    case NR_RULE_EVEN: {
        int p = nr_scaled_elem_prec(s);
        uint64_t thr = (1ull << 52) - (p < 52 ? 1ull << (52 - p) : 1ull);
        up = LLVMBuildICmp(B, LLVMIntUGE, mant, LLVMConstInt(i64, thr, 0), "");
        break;
    }
    case NR_RULE_RCEIL: { /* E - Em + (mant > mant_max) */
        uint64_t mb;
        double mx = s->elem.max_finite;
        memcpy(&mb, &mx, 8);
        up = LLVMBuildICmp(B, LLVMIntUGT, mant, LLVMConstInt(i64, mb & ((1ull << 52) - 1), 0), "");
        break;
    }
    default:
        up = LLVMConstInt(g->i1, 0, 0);
        break;
    }
    int sub = s->rule == NR_RULE_RCEIL ? ilogb(s->elem.max_finite) : emax;
    V e = LLVMBuildSub(B, LLVMBuildAdd(B, E, LLVMBuildZExt(B, up, i64, ""), ""),
                       LLVMConstInt(i64, (uint64_t)(int64_t)sub, 1), "e");
    V zero = LLVMBuildFCmp(B, LLVMRealOEQ, amax, cf(g, 0.0), "");
    V lo = LLVMConstInt(i64, (uint64_t)(int64_t)-127, 1), hi = LLVMConstInt(i64, 127, 0);
    e = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, e, lo, ""), lo, e, "");
    e = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, e, hi, ""), hi, e, "");
    e = LLVMBuildSelect(B, zero, lo, e, "");
    V xb = LLVMBuildShl(B, LLVMBuildAdd(B, e, LLVMConstInt(i64, 1023, 0), ""),
                        LLVMConstInt(i64, 52, 0), "");
    return LLVMBuildBitCast(B, xb, g->f64, "X");
}

/* The scale of a group with finite amax; st: NVFP4's tensor scale. */
static V group_scale(gen_ctx *g, const nr_scaled *s, V amax, V st)
{
    switch (s->scale) {
    case NR_SCALE_E8M0:
        return e8m0_scale(g, s, amax);
    case NR_SCALE_NV: {
        V D = LLVMBuildFMul(g->b, cf(g, s->elem.max_finite), st, ""); /* exact */
        V sb = scale_of_quot(g, nr_scaled_scale_format(NR_SCALE_UE4M3), s->rule, amax, D);
        return LLVMBuildFMul(g->b, st, sb, "X"); /* exact: 24 x 4 bits */
    }
    default:
        return scale_of_quot(g, nr_scaled_scale_format(s->scale), s->rule, amax,
                             cf(g, s->elem.max_finite));
    }
}

/* [scl-elem] P = round(v / X), clipped; v finite, X a positive scale. */
static V convert_elem(gen_lctx *c, const nr_format *ef, nr_rounding mode, V v, V X, V elem)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    gen_exact q;
    V dt;
    quot_exact(g, v, X, &q, &dt);
    V sr = gen_ir_sr(c, mode, elem, LLVMConstInt(g->i32, NR_EMU_TERM_QUANT, 0));
    V r = gen_num_decode(g, ef, gen_num_round(g, ef, mode, &q, sr));
    V a = fabs_(g, dt), mx = cf(g, ef->max_finite);
    V over = LLVMBuildOr(B, LLVMBuildFCmp(B, LLVMRealOGT, a, mx, ""),
                         LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, a, mx, ""), q.sticky, ""),
                         "clip");
    V cv[2] = {mx, dt};
    V clipped = gen_emit_intrinsic(g, "llvm.copysign", g->f64, cv, 2);
    r = LLVMBuildSelect(B, over, clipped, r, "");
    if (ef->kind == NR_FIXED && !ef->is_signed) /* a negative quotient clamps to 0 */
        r = LLVMBuildSelect(B, q.sign, cf(g, 0.0), r, "");
    return r;
}

/* ---------------------------------------------------------------- quantization */

static V gep(gen_ctx *g, T t, V base, V i) { return LLVMBuildGEP2(g->b, t, base, &i, 1, ""); }

/* max |v| over the finite values v of the carrier at first + i*stride,
 * i < k, into *amax (alloca); *special (alloca i8) set if any is not. */
static void group_amax(gen_lctx *c, V car, V first, V k, V stride, V amax, V special)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    LLVMBuildStore(B, cf(g, 0.0), amax);
    if (special)
        LLVMBuildStore(B, LLVMConstInt(g->i8, 0, 0), special);
    gen_loop l;
    gen_ir_loop_range(c, &l, gen_ir_i64(c, 0), k, "amax");
    V idx = LLVMBuildAdd(B, first, LLVMBuildMul(B, l.i, stride, ""), "");
    V a = fabs_(g, LLVMBuildFPExt(B, LLVMBuildLoad2(B, f32, gep(g, f32, car, idx), ""), g->f64, ""));
    V fin = LLVMBuildFCmp(B, LLVMRealOLT, a, cf(g, INFINITY), "");
    V m = LLVMBuildLoad2(B, g->f64, amax, "");
    V bigger = LLVMBuildAnd(B, fin, LLVMBuildFCmp(B, LLVMRealOGT, a, m, ""), "");
    LLVMBuildStore(B, LLVMBuildSelect(B, bigger, a, m, ""), amax);
    if (special) {
        V sp = LLVMBuildLoad2(B, g->i8, special, "");
        LLVMBuildStore(B, LLVMBuildOr(B, sp, LLVMBuildZExt(B, LLVMBuildNot(B, fin, ""), g->i8, ""), ""),
                       special);
    }
    gen_ir_loop_end(c, &l);
}

/* [scl-cal-use] The calibrated scale of the tensor gen_emit_scaled_quant
 * was called for: the network input's when sh is the model's input shape
 * (its call passes m->in_shape), else that of the layer whose activations
 * role s is. */
static double static_scale(const nr_model *m, const nr_scaled *s, const int sh[3])
{
    if (sh == m->in_shape)
        return m->in_scale;
    for (int i = 0; i < m->nlayers; i++)
        if (s == &m->layers[i].prec.activations_scaled)
            return m->layers[i].act_scale;
    return 0; /* not reached: gen_scaled_act hands out those */
}

void gen_emit_scaled_quant(gen_lctx *c, const nr_scaled *s, nr_rounding mode, V buf,
                           const int sh[3])
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    const uint64_t C = (uint64_t)sh[0], HW = (uint64_t)sh[1] * (uint64_t)sh[2], n = C * HW;
    gen_scaled_layout lay;
    gen_scaled_act_layout(s, sh, &lay);
    V pbuf = gep(g, g->i8, buf, gen_ir_i64(c, lay.p_off));
    V xbuf = gep(g, g->i8, buf, gen_ir_i64(c, lay.x_off));
    V amax = gen_ir_alloca(c, g->f64, "amax"), special = gen_ir_alloca(c, g->i8, "special");
    V st = NULL;
    if (s->scale == NR_SCALE_NV && s->rule == NR_RULE_STATIC) /* [scl-nv-static] */
        st = cf(g, static_scale(c->m, s, sh));
    else if (s->scale == NR_SCALE_NV) { /* [scl-nv] s_t from the whole tensor's amax */
        if (gen_scaled_vquant_applies(c, s, mode))
            gen_emit_scaled_vamax(c, pbuf, n, amax, NULL);
        else
            group_amax(c, pbuf, gen_ir_i64(c, 0), gen_ir_i64(c, n), gen_ir_i64(c, 1), amax, NULL);
        st = scale_of_quot(g, nr_scaled_scale_format(NR_SCALE_FP32), s->rule,
                           LLVMBuildLoad2(B, g->f64, amax, ""),
                           cf(g, 448.0 * s->elem.max_finite));
    }
    const uint64_t Bk = s->gran == NR_GRAN_BLOCK ? (uint64_t)s->block : n;
    const uint64_t nb = s->gran == NR_GRAN_BLOCK ? (C + Bk - 1) / Bk : 1;
    const int vec = gen_scaled_vquant_applies(c, s, mode); /* emit_scaled_vquant.c */
    const uint64_t g0 = vec && s->gran == NR_GRAN_BLOCK
                            ? gen_emit_scaled_vquant_blocks(c, s, pbuf, buf, xbuf, st, sh)
                            : 0;
    if (g0 == lay.groups)
        return;
    gen_loop lg;
    gen_ir_loop_range(c, &lg, gen_ir_i64(c, g0), gen_ir_i64(c, lay.groups), "grp");
    V first, k, stride;
    if (s->gran == NR_GRAN_BLOCK) { /* group hw*nb + b: channels b*B.., at (h, w) = hw */
        V hw = LLVMBuildUDiv(B, lg.i, gen_ir_i64(c, nb), "hw");
        V c0 = LLVMBuildMul(B, LLVMBuildURem(B, lg.i, gen_ir_i64(c, nb), ""), gen_ir_i64(c, Bk), "c0");
        V left = LLVMBuildSub(B, gen_ir_i64(c, C), c0, "");
        k = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntULT, left, gen_ir_i64(c, Bk), ""), left,
                            gen_ir_i64(c, Bk), "k");
        first = LLVMBuildAdd(B, LLVMBuildMul(B, c0, gen_ir_i64(c, HW), ""), hw, "first");
        stride = gen_ir_i64(c, HW);
    } else {
        first = gen_ir_i64(c, 0), k = gen_ir_i64(c, n), stride = gen_ir_i64(c, 1);
    }
    if (vec && s->gran != NR_GRAN_BLOCK)
        gen_emit_scaled_vamax(c, pbuf, n, amax, special);
    else
        group_amax(c, pbuf, first, k, stride, amax, special);
    V am = LLVMBuildLoad2(B, g->f64, amax, "");
    V isnan_ = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildLoad2(B, g->i8, special, ""),
                             LLVMConstInt(g->i8, 0, 0), "");
    /* [scl-special] a NaN or infinity: NaN scale, every element NaN */
    V X0 = s->rule == NR_RULE_STATIC && s->scale != NR_SCALE_NV
               ? cf(g, static_scale(c->m, s, sh)) /* gen_scaled_check: > 0 */
               : group_scale(g, s, am, st);
    V X = LLVMBuildSelect(B, isnan_, cf(g, NAN), X0, "X");
    LLVMBuildStore(B, X, gep(g, g->f64, xbuf, lg.i));
    uint64_t e0 = 0; /* a tensor scale: the bulk in vector code */
    if (vec && s->gran != NR_GRAN_BLOCK)
        e0 = gen_emit_scaled_vquant_elems(c, s, pbuf, buf, LLVMBuildSelect(B, isnan_, cf(g, 1.0), X, ""),
                                          isnan_, n);
    gen_loop l;
    gen_ir_loop_range(c, &l, gen_ir_i64(c, e0), k, "el");
    V idx = LLVMBuildAdd(B, first, LLVMBuildMul(B, l.i, stride, ""), "idx");
    V pp = gep(g, f32, pbuf, idx);
    V v = LLVMBuildFPExt(B, LLVMBuildLoad2(B, f32, pp, ""), g->f64, "v");
    /* keep the conversion's arithmetic finite in a NaN group (result unused) */
    V vs = LLVMBuildSelect(B, isnan_, cf(g, 0.0), v, "");
    V Xs = LLVMBuildSelect(B, isnan_, cf(g, 1.0), X, "");
    V p = convert_elem(c, &s->elem, mode, vs, Xs, idx);
    p = LLVMBuildSelect(B, isnan_, cf(g, NAN), p, "P");
    LLVMBuildStore(B, LLVMBuildFPTrunc(B, p, f32, ""), pp);
    LLVMBuildStore(B, LLVMBuildFMul(B, p, X, "v"), gep(g, g->f64, buf, idx)); /* exact */
    gen_ir_loop_end(c, &l);
    gen_ir_loop_end(c, &lg);
}
