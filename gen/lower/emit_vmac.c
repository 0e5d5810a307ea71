/* emit_vmac.c -- conv layers as explicit vector code: the fast path of
 * [net-4]/[net-5] for unfused/fused MACs when every rounding of the layer
 * is either the host's own float arithmetic (fp32 rne, [net-12]: "host")
 * or a bit-mask rounding of an exact float/double (rz, rne, rna, ru, rd;
 * below; formats with subnormals by a magic constant, mround_magic), or a
 * clamp-and-round to saturating fixed point (the same modes; "Fixed
 * point").  rto and sr stay on the scalar code (emit_mac.c).
 *
 * Layout.  Each call first decodes the layer's weights (O x K; fp32
 * weights are read from the blob as they are) and its input (C x H x W)
 * into arena scratch as floats or doubles (the lane type), the input rows
 * split by stride phase and padded: column iw of channel ch, row ih is
 * element ((ch*H + ih)*sw + (iw+padl) % sw)*wp + (iw+padl) / sw, so the
 * inputs of VL consecutive output columns for one kernel column are VL
 * consecutive elements, whatever the stride.  Pad cells hold +0 but are
 * never used as terms: a lane mask per (kernel column, vector) keeps the
 * old accumulator there ([net-4]: a padding term is skipped).
 *
 * Loop nest: output channels in blocks of co, output rows, then input
 * channel ci, kernel row r and kernel column q as loops (one copy of the
 * step IR keeps LLVM's compile time down); the co x nv accumulator
 * vectors (lanes = output columns) stay in registers.  Every output
 * element still sees its terms in canonical order k = (ci*kh + r)*kw + q;
 * different elements are different lanes.
 *
 * Rounding by masking (mround).  A lane value v (float or double, F
 * fraction bits) that IS the exact value rounds to a float format with
 * Y < F fraction bits and 2^emin <= |v| like this: drop the low F-Y
 * fraction bits of v's encoding (rz), or first add 2^(F-Y-1) - 1 plus the
 * lowest kept bit (rne: a fraction above half carries, exactly half
 * carries iff the kept lsb is odd; a carry out of the fraction increments
 * the exponent, which is the next binade's first value, still exact); rna
 * adds 2^(F-Y-1), ru (v >= 0) and rd (v < 0) add 2^(F-Y) - 1 (the
 * magnitude rounds away from zero).
 * The tiny range is done too (mround), except for formats whose normal
 * range reaches below 2^-60 (tiny_rare: bf16, tf32), where a nonzero tiny
 * lane marks the block bad instead.  A lane whose result is not the
 * format's rounding (overflow, NaN, inf, an inexact rne sum into a
 * fixed-point S) marks the row block "bad", and a bad block is
 * recomputed by the scalar row code (emit_mac.c), which handles every
 * case.  Two shortcuts: fp16 under rne on AVX-512 targets rounds by the
 * hardware's conversion to half (mround_f16c), its sums with no per-term
 * key (an overflow leaves inf in the accumulator: vk.sfin); and products
 * that a per-call check keeps out of P's tiny range (ptiny, vk.pnormal:
 * bf16) skip the tiny case and the key.  Why r < 2^emin can be rejected but r >= 2^emin is right even for
 * v < 2^emin: rz never rounds up across a binade, and rne reaches 2^emin
 * from below only for v >= 2^emin - 2^(emin-Y-2), which the format's own
 * rne (quantum at least 2^(emin-Y) there) also rounds to 2^emin.
 * Products w*x are exact in the lane type by emit_mac.c's prod_exact test
 * (for float lanes the same test with float's 24 bits and exponent
 * range); rz takes inexact sums acc + p as they are (rz_sum; on AVX-512
 * targets the add itself rounds toward zero instead, add_rz,
 * gen_ctx.avx512f), rne to a float S takes them rounded to odd (sum_ro:
 * AVX-512 rd and ru adds, or TwoSum), or straight from the lanes' add
 * where that is as good (sums_direct: unfused rne / rna with q >= 2p+1,
 * the double rounding being innocuous; ru / rd by the AVX-512 add in that
 * direction), and other sums must be exact (TwoSum's error 0).  Sums whose
 * addends are on S's subnormal grid need no tiny case (sums_ongrid), and
 * rne without a tiny case rounds by Veltkamp's splitting, three float
 * operations (split_rne).  Overflow is
 * checked once per row block from the largest |value| seen (track), not
 * per term, or once per call from max|x| (pbound for products, sbound for
 * rz sums: sum_xlim).
 *
 * Fixed point.  Saturating fixed-point P and S (and W, X, A) round by
 * clamping and an integer rounding (fixed_units; no per-lane check: the
 * clamp is the saturation, a NaN is caught at the block's end), sums
 * known exact from the formats need no TwoSum at all (sums_exact_lanes),
 * and a layer that is fixed point throughout keeps its lanes as integers
 * in units of each format's lsb (step_units), saving the scalings. */
#include "plan.h"
#include "emulator.h"

#include <float.h>
#include <math.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

/* A rounding target of the double-lane path: a float format whose normal
 * values are doubles with at least one dropped fraction bit, with -0. */
static int mask_fmt(const nr_format *f)
{
    /* subnormals: the quantum 2^(emin-Y) and its inverse are normal */
    return f->kind == NR_FLOAT && f->man_bits < 52 && f->emin >= -1000 && f->emax <= 1000 &&
           f->has_negzero &&
           (!f->subnormals || (f->emin - f->man_bits >= -1022 && f->man_bits - f->emin <= 1023));
}

static int float_lanes_ok(const nr_format *f);

/* Exponent of the lowest bit any value of f has (every value is an
 * integer multiple of 2^lsb), and an e with |v| <= 2^e for every value
 * (fixed: 2^I bounds the most negative value too). */
static int lsb_exp(const nr_format *f)
{
    return f->kind == NR_FIXED ? -f->frac_bits : f->emin - f->man_bits;
}
static int mag_exp(const nr_format *f)
{
    return f->kind == NR_FIXED ? f->int_bits : ilogb(f->max_finite) + 1;
}

/* Products w*x of W and X values are exact in the lane type (53 / 24
 * significand bits, lowest bit 2^-1074 / 2^-149, below 2^1024 / 2^128):
 * a prec(w)-bit times a prec(x)-bit integer has at most prec(w)+prec(x)
 * bits and its lowest bit is at least 2^(lsb(w)+lsb(x)); float values are
 * below 2^(ilogb(max)+1), so the product below 2^(sum of those).  (This
 * is emit_mac.c's prod_exact for double lanes.)  A signed fixed-point
 * value reaches -2^(ilogb(max)+1) = -2^I itself, but fixed point has
 * I <= 64 here, far below either bound. */
static int prod_exact_lanes(const nr_format *wf, const nr_format *xf, int f32)
{
    int bits = f32 ? 24 : 53, lsb = f32 ? -149 : -1074, top = f32 ? 128 : 1024;
    return wf->prec + xf->prec <= bits && lsb_exp(wf) + lsb_exp(xf) >= lsb &&
           ilogb(wf->max_finite) + ilogb(xf->max_finite) + 2 <= top;
}

/* Products w*x exact in float lanes except for tiny ones (bf16, tf32
 * weights and inputs: w*x has <= 24 significand bits, but the formats'
 * ranges reach beyond float's): unfused, into a float P whose largest
 * value is a float.  The plan then needs pbound (|w*x| <= max_P, so no
 * product overflows the lane) and the kernel checks per call that the
 * smallest nonzero |w| times the smallest nonzero |x| is >= 2^-126 (no
 * product is tiny, so each is a normal float with <= 24 bits: exact);
 * a call where it is not sends every row to the scalar code (ptiny). */
static int prod_tiny_lanes(const nr_layer_prec *p, const nr_format *xf)
{
    const nr_format *wf = &p->weights;
    return p->mac == NR_MAC_UNFUSED && p->products.kind == NR_FLOAT && wf->kind == NR_FLOAT &&
           xf->kind == NR_FLOAT && wf->prec + xf->prec <= 24 && p->products.max_finite <= FLT_MAX;
}

/* The rounding modes the lanes do: rz, and the four others with a fixed
 * rule per value (rne, rna, ru, rd: mround, fixed_units); rto and sr are
 * left to the scalar code. */
static int lane_mode(nr_rounding mode)
{
    return mode == NR_RND_RZ || mode == NR_RND_RNE || mode == NR_RND_RNA || mode == NR_RND_RU ||
           mode == NR_RND_RD;
}

/* A rounding target the lanes can do: a float format by masking (mround;
 * float lanes when float_lanes_ok), rz, or rne with at least two lane
 * fraction bits below the format's (Y <= 21 / 50: what rounding a sum
 * rounded to odd needs, sum_ro); or saturating fixed point whose integers
 * n are lane values (fround; prec <= 24 / 53 bits). */
static int lane_target(const nr_format *f, int f32, nr_rounding mode)
{
    if (f->kind == NR_FIXED)
        return f->saturate && f->prec <= (f32 ? 24 : 53);
    if (!mask_fmt(f) || (f32 && !float_lanes_ok(f)))
        return 0;
    return mode == NR_RND_RZ || (lane_mode(mode) && f->man_bits <= (f32 ? 21 : 50));
}

/* Every sum acc + p of an S value and the term p (a P value, or the exact
 * product w*x when fused) is exact in the lane type: both are integer
 * multiples of 2^m, m = the smaller lsb, with magnitudes <= 2^e (e the
 * larger mag), so the sum is n * 2^m with |n| <= 2^(e+1-m), a lane value
 * when e+1-m <= 53 (24) and m >= -1074 (-149) (and e+1 below the lane's
 * overflow).  Then neither a TwoSum check nor rz_sum is needed.  Only
 * fixed-point S and P get there in practice (q7.8: 2^(7+1+8)). */
static int sums_exact_lanes(const nr_layer_prec *p, const nr_format *xf, int f32)
{
    int lsb_t, mag_t;
    if (p->mac == NR_MAC_UNFUSED) {
        lsb_t = lsb_exp(&p->products), mag_t = mag_exp(&p->products);
    } else {
        lsb_t = lsb_exp(&p->weights) + lsb_exp(xf), mag_t = mag_exp(&p->weights) + mag_exp(xf);
    }
    int m = lsb_t < lsb_exp(&p->accumulator) ? lsb_t : lsb_exp(&p->accumulator);
    int e = mag_t > mag_exp(&p->accumulator) ? mag_t : mag_exp(&p->accumulator);
    return e + 1 - m <= (f32 ? 24 : 53) && m >= (f32 ? -149 : -1074) && e + 1 <= (f32 ? 127 : 1023);
}

typedef nr_mac_geom vgeo; /* geom.c */

static uint64_t al64(uint64_t v) { return (v + 63) / 64 * 64; }

static uint64_t lane_bits_of(int f32, double d)
{
    if (f32) {
        float f = (float)d;
        uint32_t b;
        memcpy(&b, &f, sizeof b);
        return b;
    }
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* Sums that cannot overflow (rz, float S): rz never rounds a value up in
 * magnitude (|rz(v)| <= |v|, tiny values going to 0, overflow to
 * max_finite), and the packed weights and bias are rz of the spec's
 * values (plan.c), the bias rz again into S; so, by induction over the
 * terms, every exact sum acc + p that mround sees (p = rz_P(w*x), or w*x
 * fused) has |acc + p| <= |b_o| + X * sum_k |w_ok| with b_o, w_ok the
 * spec's values of output o and X = max|x| of the call.  When that is at
 * most max_S, no sum of the call overflows S and the per-term overflow
 * key is not needed (nor a NaN check: weights, bias and x are finite).
 * Returns the largest X for which that holds for every o (with a margin
 * of 2^-20 for the rounding of these double sums), INFINITY when no
 * weight is nonzero, 0 when there is no such X. */
static double sum_xlim(const nr_layer *L, const vgeo *G)
{
    double maxs = L->prec.accumulator.max_finite, lim = INFINITY;
    for (int o = 0; o < G->O; o++) {
        double sw = 0, b = L->b ? fabs(L->b[o]) : 0;
        for (int i = 0; i < G->K; i++)
            sw += fabs(L->w[(size_t)o * (size_t)G->K + (size_t)i]);
        if (!isfinite(sw) || !isfinite(b) || b >= maxs)
            return 0;
        if (sw > 0)
            lim = fmin(lim, (maxs - b) / sw * (1 - 0x1p-20));
    }
    return lim;
}

/* Products cannot leave P's range upward when |w| <= maxw (the largest
 * rounded weight: rounding is monotone) and |x| <= xlim with maxw * xlim
 * <= max_P: then any mode's rounding of w*x is at most max_P (monotone,
 * max_P a value).  So max|x| is taken once per call while decoding, and a call above xlim sends every row to the
 * scalar code, instead of a check per product.  (Products below 2^emin
 * are handled by mround either way.)  Sets v->pbound, v->sbound and
 * v->xlim for the kernel v of layer L with input format xf. */
static void plan_xbound(const nr_layer *L, const vgeo *G, const nr_format *xf, gen_vmac *v)
{
    const nr_layer_prec *p = &L->prec;
    const int track = !v->host;
    double xlim = INFINITY;
    if (track && p->mac == NR_MAC_UNFUSED && p->products.kind == NR_FLOAT) {
        double mw = 0;
        int fin = 1;
        for (size_t i = 0; i < L->nw; i++) {
            fin &= isfinite(L->w[i]) != 0;
            mw = fmax(mw, fabs(L->w[i]));
        }
        double maxw = fabs(nr_decode(&p->weights, nr_encode(&p->weights, p->rounding, mw, 0, NULL)));
        if (fin && isfinite(maxw) && maxw > 0) {
            /* maxw * xlim < max_P (a margin of 2^-20 covers the division's
             * rounding) */
            xlim = p->products.max_finite / maxw * (1 - 0x1p-20);
            v->pbound = xlim > 0 && isfinite(xlim);
        }
    }
    if (track && p->accumulator.kind == NR_FLOAT && p->rounding == NR_RND_RZ) {
        /* only a limit no realistic input reaches (or none can: max_X) */
        double xs = sum_xlim(L, G), xmaxf = xf->max_finite;
        if (xs >= fmin(0x1p16, xmaxf)) {
            v->sbound = 1;
            xlim = fmin(xlim, fmin(xs, DBL_MAX));
        }
    }
    if (v->pbound || v->sbound) {
        /* xlim as a lane value, rounded down */
        if (v->f32 && (double)(float)xlim > xlim)
            xlim = (double)nextafterf((float)xlim, 0.0f);
        else if (v->f32)
            xlim = (double)(float)xlim;
        v->xlim = lane_bits_of(v->f32, xlim);
    }
}

static int plan_layout(const nr_layer *L, const vgeo *Gp, const nr_format *xf, int host, int f32,
                       int compact, gen_vmac *v);

void gen_emit_vmac_plan(const nr_model *m, int li, int allowed, gen_vmac *v)
{
    memset(v, 0, sizeof *v);
    if (!allowed)
        return;
    const nr_layer *L = &m->layers[li];
    if (L->op != NR_OP_CONV || L->prec.mac == NR_MAC_EXACT || !L->spec)
        return;
    vgeo G;
    if (nr_mac_geom_of(L, &G))
        return;
    const nr_format *xf = L->inputs[0] < 0 ? &m->in_format
                                           : &m->layers[L->inputs[0]].prec.activations;
    const nr_layer_prec *p = &L->prec;
    const nr_format *wf = &p->weights;
    int host = gen_ir_mac_fast32(L, xf), f32 = host;
    if (!host) {
        nr_rounding mode = p->rounding;
        int unf = p->mac == NR_MAC_UNFUSED;
        if (!lane_mode(mode))
            return;
        if (!lane_target(&p->accumulator, 0, mode) || (unf && !lane_target(&p->products, 0, mode)))
            return;
        /* float or fixed W and X (fixed ones have <= 53 bits, [net-2]);
         * w*x exact in double */
        if (wf->kind == NR_FIXED ? wf->prec > 53 : wf->kind != NR_FLOAT)
            return;
        if (xf->kind == NR_FIXED ? xf->prec > 53 : xf->kind != NR_FLOAT)
            return;
        if (!prod_exact_lanes(wf, xf, 0))
            return;
        /* float lanes (twice as many) when w*x is exact in float too and
         * float lanes can round to P and S; with rne a float S (sums
         * rounded to odd, sum_ro) or a fixed-point one whose sums are
         * exact */
        int pt = !prod_exact_lanes(wf, xf, 1) && prod_tiny_lanes(p, xf);
        f32 = (prod_exact_lanes(wf, xf, 1) || pt) && nr_format_fits_f32(wf) && nr_format_fits_f32(xf) &&
              lane_target(&p->accumulator, 1, mode) && (!unf || lane_target(&p->products, 1, mode)) &&
              (mode == NR_RND_RZ || p->accumulator.kind == NR_FLOAT || sums_exact_lanes(p, xf, 1));
        if (f32 && pt && !plan_layout(L, &G, xf, 0, 1, allowed == GEN_VMAC_COMPACT, v)) /* pbound, ptiny (prod_tiny_lanes) */
            f32 = 0;
        if (f32 && pt) {
            if (v->pbound) {
                v->ptiny = 1;
                return;
            }
            f32 = 0;
        }
    }
    plan_layout(L, &G, xf, host, f32, allowed == GEN_VMAC_COMPACT, v);
}

/* The layout of kernel v for layer L (geometry G, input format xf) with
 * float (f32) or double lanes, and its per-call bounds; 0 when the rows
 * do not fit the registers. */
static int plan_layout(const nr_layer *L, const vgeo *Gp, const nr_format *xf, int host, int f32,
                       int compact, gen_vmac *v)
{
    const vgeo G = *Gp;
    const nr_format *wf = &L->prec.weights;
    memset(v, 0, sizeof *v);
    /* accumulator vectors a block keeps in registers (of 32 on AVX-512):
     * 16 with float lanes (16 and 8 measured 1.2-1.5x faster than 4 on the
     * rounded kernels: more independent rounding chains in flight) */
    int budget = host || f32 ? 16 : 4, vmax = f32 ? 16 : 8, vl = vmax, rpv = 1;
    if (G.OW >= 2 && G.OW <= vmax / 2 && (G.OW & (G.OW - 1)) == 0 && G.OH % (vmax / G.OW) == 0)
        rpv = vmax / G.OW; /* short rows: one vector holds rpv whole rows */
    else
        while (vl > 4 && vl / 2 >= G.OW)
            vl /= 2;
    int nv = rpv > 1 ? 1 : (G.OW + vl - 1) / vl;
    if (nv > budget)
        return 0;
    /* compact: fewer output channels per block (as many rows as before) */
    if (compact && budget > 4)
        budget = nv > 4 ? nv : 4;
    int co = 1;
    for (int d = 1; d <= G.cout_g && d * nv <= budget; d++)
        if (G.cout_g % d == 0)
            co = d;
    /* decoded row length per phase: every column a lane reads, and every
     * input column */
    int padl = G.pl, wp = (padl + G.W - 1) / G.sw + 1;
    for (int q = 0; q < G.kw; q++) {
        int need = (q * G.dw - G.pl + padl) / G.sw + (rpv > 1 ? G.OW : nv * vl);
        if (need > wp)
            wp = need;
    }
    int esz = f32 ? 4 : 8;
    /* fp32 weights are read from the blob as they are */
    int wdirect = f32 && gen_ir_fmt_is(wf, "fp32");
    uint64_t wbytes = wdirect ? 0 : (uint64_t)G.O * (uint64_t)G.K * (uint64_t)esz;
    uint64_t xbytes = (uint64_t)G.C * (uint64_t)G.H * (uint64_t)G.sw * (uint64_t)wp * (uint64_t)esz;
    *v = (gen_vmac){.ok = 1, .host = host, .f32 = f32, .wdirect = wdirect, .vl = vl, .nv = nv, .co = co, .rpv = rpv, .wp = wp, .padl = padl,
                    .wdec_off = 0, .xdec_off = al64(wbytes)};
    v->scratch = v->xdec_off + al64(xbytes);
    plan_xbound(L, &G, xf, v);
    return 1;
}

/* ---------------------------------------------------------------- emitter */

typedef struct vk {
    gen_lctx *c;
    gen_ctx *g;
    LLVMBuilderRef B;
    const nr_layer *L;
    const gen_vmac *v;
    vgeo G;
    int li;
    T et, vt, ivt, mt; /* lane element, vector, same-width int vector, i1 vector */
    V wdec, xdec;          /* ptrs into the scratch (wdec: or the blob) */
    /* the running checks (nosub targets, see mround): the largest key of
     * the products' and the sums' roundings, and the OR of TwoSum errors */
    int track;
    int sexact;            /* every sum is exact (sums_exact_lanes)         */
    int units;             /* W, X, P (unfused) and S fixed point: step_units */
    int pbound;            /* products checked per call from max|x| (below) */
    int pnormal;           /* ... and from min|w|, min|x| (ptiny): no product is
                            * tiny in P (P's emin <= -126), so mround needs
                            * neither its tiny case nor a key for products */
    int sfin;              /* S is fp16 rounded by f16c (mround_f16c) with no key:
                            * an overflow (or NaN) leaves inf or NaN in the
                            * accumulator (inf + finite is inf, rounding keeps
                            * inf and NaN), checked once at the block's end */
    int sbound;            /* sums' overflow too (sum_xlim)                 */
    int ftz;               /* rz to formats without subnormals by flushing (ftz_ok):
                            * lanes hold values times 2^ftz_sh */
    int ftz_sh;
    V xmax;                /* alloca: the largest |x| encoding (lane int)   */
    V wmin, xmin;          /* allocas: the smallest nonzero |w|, |x| (ptiny) */
    int vexp[2];           /* |v| < 2^vexp for every v that mround rounds to P, to S,
                            * until a check of the block fails (vexp_of)   */
    V key[2], err;
    uint64_t lim[2];
} vk;

static V splat(vk *k, V s)
{
    V u = LLVMGetUndef(LLVMVectorType(LLVMTypeOf(s), (unsigned)k->v->vl));
    V ins = LLVMBuildInsertElement(k->B, u, s, LLVMConstInt(k->g->i32, 0, 0), "");
    V zero = LLVMConstNull(LLVMVectorType(k->g->i32, (unsigned)k->v->vl));
    return LLVMBuildShuffleVector(k->B, ins, u, zero, "");
}

/* A splat constant of the lane integer type (i64 for double lanes, i32
 * for float lanes: c is truncated). */
static V ivec(vk *k, uint64_t c)
{
    return gen_num_splat_const(k->ivt, c, 0);
}

static V lvec(vk *k, uint64_t c) /* i64 lanes */
{
    return gen_num_splat_const(LLVMVectorType(k->g->i64, (unsigned)k->v->vl), c, 0);
}

/* The lanes' float type: fraction bits, exponent bias, encoding of d. */
static int lane_f32(vk *k) { return LLVMGetElementType(k->vt) != k->g->f64; }
static int lane_fb(vk *k) { return lane_f32(k) ? 23 : 52; }
static uint64_t lane_abs(vk *k) { return lane_f32(k) ? 0x7fffffffu : 0x7fffffffffffffffull; }
static uint64_t lane_bits(vk *k, double d) { return lane_bits_of(lane_f32(k), d); }

static int tiny_rare(const nr_format *f);
/* f's values in [2^(emin-1), max_finite] are all normal floats: float
 * lanes can round to f.  Or f's tiny range is tiny_rare (bf16, tf32):
 * mround needs 2^emin and max_finite as normal floats only (a nonzero
 * lane below 2^emin fails the block), and every value of f is a float
 * (subnormals down to 2^-149). */
static int float_lanes_ok(const nr_format *f)
{
    if (tiny_rare(f))
        return f->man_bits < 23 && f->emin >= -126 && f->emax <= 127 && f->emin - f->man_bits >= -149;
    return f->man_bits < 23 && f->emin - 1 >= -126 && f->emax <= 127 &&
           (!f->subnormals || (f->emin - f->man_bits >= -126 && f->man_bits - f->emin <= 127));
}

/* Subnormals of f that real data practically never reaches (f's normal
 * range goes down to 2^-60 or further: bf16, tf32, fp32): mround sends a
 * block with such a value to the scalar code instead of rounding it on
 * the lanes, which saves the subnormal scaling on every rounding. */
static int tiny_rare(const nr_format *f)
{
    return f->kind == NR_FLOAT && f->subnormals && f->emin <= -60;
}

/* Round the exact doubles v (lanes) to f by masking (the mode's rule, see
 * top; under rd an exact zero sum's sign comes from rd_zero / sum_ro);
 * *ok: the lanes where that is f's rounding.  Without subnormals a tiny
 * |v| < 2^emin is done here too ([rnd-2] with neighbours 0 and 2^emin,
 * [rnd-4] sign of v): rz gives +-0, rne +-2^emin iff |v| > 2^(emin-1)
 * (the tie goes to 0, the even one); every other lane is then >= 2^emin,
 * so only overflow is left to reject. */
static V mround_magic(vk *k, const nr_format *f, V v, int vexp);
static int magic_ok(vk *k, const nr_format *f);
static int sums_ongrid(vk *k);
static int split_ok(vk *k, const nr_format *f);
static V split_rne(vk *k, const nr_format *f, V v);
static V fvec(vk *k, double d);
static V add_rnd(vk *k, V a, V b, unsigned imm);
static V mround_key(vk *k, int which, const nr_format *f, V v, V rv, V rare, V *ok);
static int f16c_ok(vk *k, const nr_format *f);
static V mround_f16c(vk *k, V v);
static V mround(vk *k, int which, const nr_format *f, V v, V *ok)
{
    LLVMBuilderRef B = k->B;
    /* products never tiny (vk.pnormal): no tiny case, no key (pbound) */
    const int normal = (k->pnormal && f == &k->L->prec.products) ||
                       (k->ftz && (f == &k->L->prec.products || f == &k->L->prec.accumulator));
    /* sums whose tiny values are S values (sums_ongrid): no tiny case */
    const int grid = f == &k->L->prec.accumulator && sums_ongrid(k);
    if (f16c_ok(k, f)) /* IEEE half: the hardware conversion; sums keyless (vk.sfin) */
        return mround_key(k, which == 1 && k->sfin ? -1 : which, f, v, mround_f16c(k, v), NULL, ok);
    if (magic_ok(k, f) && !normal && !grid) { /* subnormal formats: one grid, no tiny case (below) */
        const nr_layer_prec *p = &k->L->prec;
        int vexp = f == &p->products ? k->vexp[0] : f == &p->accumulator ? k->vexp[1] : f->emax + 1;
        return mround_key(k, which, f, v, mround_magic(k, f, v, vexp), NULL, ok);
    }
    const nr_rounding md = k->L->prec.rounding;
    int sh = lane_fb(k) - f->man_bits, rne = md == NR_RND_RNE;
    uint64_t low = (1ull << sh) - 1, absm = lane_abs(k);
    uint64_t lo = lane_bits(k, ldexp(1.0, f->emin));
    V bits = LLVMBuildBitCast(B, v, k->ivt, "");
    V av = LLVMBuildAnd(B, bits, ivec(k, absm), "");
    V r = bits;
    /* the magnitude's dropped bits: rne adds half - 1 plus the kept lsb,
     * rna half, ru (v >= 0) and rd (v < 0) all of them (away from zero:
     * any nonzero dropped bit carries), rz nothing */
    V neg = LLVMBuildICmp(B, LLVMIntSLT, bits, ivec(k, 0), "neg");
    V away = md == NR_RND_RU ? LLVMBuildNot(B, neg, "") : md == NR_RND_RD ? neg : NULL;
    if (rne && (normal || grid) && split_ok(k, f)) { /* no tiny case: Veltkamp's split */
        r = LLVMBuildBitCast(B, split_rne(k, f, v), k->ivt, "");
        low = 0;
    } else if (rne) {
        V lsb = LLVMBuildAnd(B, LLVMBuildLShr(B, bits, ivec(k, (uint64_t)sh), ""), ivec(k, 1), "");
        r = LLVMBuildAdd(B, LLVMBuildAdd(B, r, ivec(k, low >> 1), ""), lsb, "");
    } else if (md == NR_RND_RNA) {
        r = LLVMBuildAdd(B, r, ivec(k, (low >> 1) + 1), "");
    } else if (away) {
        r = LLVMBuildAdd(B, r, LLVMBuildSelect(B, away, ivec(k, low), ivec(k, 0), ""), "");
    }
    if (low)
        r = LLVMBuildAnd(B, r, ivec(k, ~low), "r");
    if (normal)
        return mround_key(k, -1, f, v, LLVMBuildBitCast(B, r, k->vt, ""), NULL, ok);
    if (grid) /* keyless when an overflow leaves inf or NaN (vk.sfin) */
        return mround_key(k, which == 1 && k->sfin ? -1 : which, f, v, LLVMBuildBitCast(B, r, k->vt, ""), NULL, ok);
    V tiny = LLVMBuildICmp(B, LLVMIntULT, av, ivec(k, lo), "tiny");
    V sign = LLVMBuildAnd(B, bits, ivec(k, ~absm), "");
    V t, rare = NULL;
    if (f->subnormals && tiny_rare(f)) {
        /* a nonzero tiny lane is not rounded here: it fails the check
         * below (its key made larger than every lim), so its block is
         * redone by the scalar code; +-0 is r already (no bits to drop) */
        rare = LLVMBuildAnd(B, tiny, LLVMBuildICmp(B, LLVMIntNE, av, ivec(k, 0), ""), "tiny.nz");
        t = r;
    } else if (f->subnormals) {
        /* the quantum is q = 2^(emin-Y): round v/q to an integer (both
         * scalings exact: powers of 2, normal results; |v/q| < 2^Y), rne
         * by adding and subtracting 1.5 * 2^F (host rne), rz by the
         * integer conversion; the sign of v kept ([rnd-4]) */
        T vt = k->vt;
        V sc = LLVMBuildFMul(B, LLVMBuildSelect(B, tiny, v, LLVMConstNull(vt), ""),
                             LLVMBuildBitCast(B, ivec(k, lane_bits(k, ldexp(1.0, f->man_bits - f->emin))), vt, ""), "");
        V ti;
        if (rne) {
            V m = LLVMBuildBitCast(B, ivec(k, lane_bits(k, 1.5 * ldexp(1.0, lane_fb(k)))), vt, "");
            ti = LLVMBuildFSub(B, LLVMBuildFAdd(B, sc, m, ""), m, "");
        } else if (md == NR_RND_RZ) {
            ti = LLVMBuildSIToFP(B, LLVMBuildFPToSI(B, sc, k->ivt, ""), vt, "");
        } else { /* rna, ru, rd: round, ceil, floor (exact; keep the sign of a zero) */
            const char *fn = md == NR_RND_RNA ? "llvm.round" : md == NR_RND_RU ? "llvm.ceil" : "llvm.floor";
            ti = gen_emit_intrinsic(k->g, fn, vt, &sc, 1);
        }
        V rr = LLVMBuildFMul(B, ti, LLVMBuildBitCast(B, ivec(k, lane_bits(k, ldexp(1.0, f->emin - f->man_bits))), vt, ""), "");
        t = LLVMBuildOr(B, LLVMBuildBitCast(B, rr, k->ivt, ""), sign, "");
    } else { /* neighbours 0 and 2^emin: rne above half, rna from half,
              * ru / rd any nonzero positive / negative value */
        t = sign;
        V up = NULL, half = ivec(k, lane_bits(k, ldexp(1.0, f->emin - 1)));
        if (rne)
            up = LLVMBuildICmp(B, LLVMIntUGT, av, half, "");
        else if (md == NR_RND_RNA)
            up = LLVMBuildICmp(B, LLVMIntUGE, av, half, "");
        else if (away)
            up = LLVMBuildAnd(B, away, LLVMBuildICmp(B, LLVMIntNE, av, ivec(k, 0), ""), "");
        if (up)
            t = LLVMBuildOr(B, t, LLVMBuildSelect(B, up, ivec(k, lo), ivec(k, 0), ""), "");
    }
    r = LLVMBuildSelect(B, tiny, t, r, "");
    return mround_key(k, which, f, v, LLVMBuildBitCast(B, r, k->vt, ""), rare, ok);
}

/* The overflow check of mround's result r (lanes) for the exact v: ok iff
 * key <= lim: rne |r| <= max_finite; rz trunc|v| <= max_finite iff |v| <
 * max_finite + 2^sh ulps.  With track, the largest key is kept instead
 * (one umax; NaN and inf encodings are above every lim); a lane of rare
 * fails.  Returns r. */
static V mround_key(vk *k, int which, const nr_format *f, V v, V rv, V rare, V *ok)
{
    LLVMBuilderRef B = k->B;
    int sh = lane_fb(k) - f->man_bits, rz = k->L->prec.rounding == NR_RND_RZ;
    uint64_t low = (1ull << sh) - 1, absm = lane_abs(k), hi = lane_bits(k, f->max_finite);
    V r = LLVMBuildBitCast(B, rv, k->ivt, "");
    V key = LLVMBuildAnd(B, !rz ? r : LLVMBuildBitCast(B, v, k->ivt, ""), ivec(k, absm), "");
    uint64_t lim = !rz ? hi : hi + low;
    if (rare)
        key = LLVMBuildSelect(B, rare, ivec(k, absm), key, "");
    if (which < 0) { /* bounded by the per-call check (pbound, sbound; not with rare) */
        *ok = NULL;
    } else if (k->track) {
        V a2[2] = {k->key[which], key};
        k->key[which] = gen_emit_intrinsic(k->g, "llvm.umax", k->ivt, a2, 2);
        k->lim[which] = lim;
        *ok = NULL;
    } else {
        *ok = LLVMBuildICmp(B, LLVMIntULE, key, ivec(k, lim), "");
    }
    return LLVMBuildBitCast(B, r, k->vt, "");
}

/* IEEE binary16 (fp16) from float lanes under rne, on AVX-512 targets
 * (their F16C converts 16 floats at once): the conversion to half is the
 * IEEE rne rounding of the exact lane value to binary16, subnormals,
 * signs of zeros and overflow to inf included ([rnd-1], [rnd-2]; the MXCSR
 * is at its default, rne without DAZ/FTZ), which is fp16's own rounding
 * in numrep; converting back is exact.  An inf or NaN result fails the
 * key as in mround. */
static int f16c_ok(vk *k, const nr_format *f)
{
    return lane_f32(k) && k->g->avx512f && k->L->prec.rounding == NR_RND_RNE && gen_ir_fmt_is(f, "fp16");
}

static V mround_f16c(vk *k, V v)
{
    T ht = LLVMVectorType(LLVMHalfTypeInContext(k->g->ctx), (unsigned)k->v->vl);
    return LLVMBuildFPExt(k->B, LLVMBuildFPTrunc(k->B, v, ht, "h"), k->vt, "r.h");
}

/* Sums of S need no tiny case in mround (sums_ongrid): S is a float
 * format with subnormals, and every addend is a multiple of S's quantum
 * 2^lsb_S (the accumulator is an S value; the term a P value or the
 * exact w*x with that lowest bit at least: lsb_exp), which is at least the
 * lanes' smallest subnormal.  Then a sum s below 2^emin_S in magnitude is
 * n * 2^lsb_S with |n| < 2^Y: an S value (a subnormal), and a lane value,
 * so every sum path gives s itself (an exact sum: add_rz, sum_rz,
 * sum_ro, sums_direct, TwoSum all leave it).  S's rounding of s is s in
 * every mode, and so is mround's normal-range rule: s's lane encoding has
 * zeros in the dropped bits (its lowest bit 2^lsb_S = 2^(emin-Y) is at or
 * above the lane quantum times 2^(F-Y) both in the lanes' normal range
 * (binade e < emin: quantum 2^(e-F)) and their subnormals (2^-149 /
 * 2^-1074, emin >= -126 / -1022)), so no mode carries, and split_rne
 * returns s (below).  A -0 is kept by both. */
static int sums_ongrid(vk *k)
{
    const nr_layer_prec *p = &k->L->prec;
    const nr_format *sf = &p->accumulator;
    if (k->v->host || k->units || sf->kind != NR_FLOAT || !sf->subnormals)
        return 0;
    int lt = p->mac == NR_MAC_UNFUSED ? lsb_exp(&p->products)
                                      : lsb_exp(&p->weights) + lsb_exp(gen_ir_in_fmt(k->c, k->li, 0));
    return lt >= lsb_exp(sf) && lsb_exp(sf) >= (lane_f32(k) ? -149 : -1074) &&
           sf->emin >= (lane_f32(k) ? -126 : -1022);
}

/* Sums keyless as with fp16's conversion (vk.sfin): sums_ongrid (mround
 * rounds every sum by its normal-range rule) in float lanes under rne or
 * rna, and S's largest value the largest p-bit float (bf16): then any
 * rounded sum above max_S is 2^128 = inf (a carry out of the top binade),
 * or NaN (split_rne's c overflowing), and inf or NaN stays in the lane
 * (inf + finite = inf, inf - inf = NaN, NaN rounds to NaN, masked lanes
 * keep it), so the check of the accumulators at the block's end finds
 * every lane that overflowed. */
static int sums_inf(vk *k)
{
    const nr_layer_prec *p = &k->L->prec;
    const nr_format *sf = &p->accumulator;
    return sums_ongrid(k) && lane_f32(k) && (p->rounding == NR_RND_RNE || p->rounding == NR_RND_RNA) &&
           sf->max_finite == ldexp(2 - ldexp(1.0, 1 - sf->prec), 127);
}

/* rne to f's p = Y+1 significand bits by Veltkamp's splitting (three
 * float operations instead of mround's five integer ones): c = fl(v * K),
 * K = 2^(24-p) + 1, r = fl(c - fl(c - v)) is v rounded to nearest p-bit
 * float, ties to even, for every float v whose v, c and c - v are normal
 * and c finite.  Checked exhaustively: every float in [1/2, 1) for every
 * p in 2..12 (tests/check_gen_num's split test), which is every normal
 * binade, as the three operations commute with scaling by powers of two
 * while nothing is subnormal or infinite; and -v gives -r.  So for v in
 * f's normal range (f's rne there is rne to p bits: mround's callers
 * without a tiny case, vk.pnormal products and sums_ongrid sums, whose
 * tiny values are f values: c = v * (2^(24-p) + 1) has <= 24 bits and is
 * exact, and so are c - v and c - (c - v) = v).  An overflow of c gives
 * inf - inf = NaN, or r = inf, which fails the key (or vk.sfin's check),
 * as any |r| above max_finite does.  Float lanes and p <= 12 only (what
 * was checked); fp16 (vk f16c) keeps the conversion. */
static int split_ok(vk *k, const nr_format *f)
{
    return lane_f32(k) && f->kind == NR_FLOAT && f->prec >= 2 && f->prec <= 12;
}

static V split_rne(vk *k, const nr_format *f, V v)
{
    LLVMBuilderRef B = k->B;
    V c = LLVMBuildFMul(B, v, fvec(k, ldexp(1.0, 24 - f->prec) + 1), "sp.c");
    return LLVMBuildFSub(B, c, LLVMBuildFSub(B, c, v, ""), "sp.r");
}

/* Rounding by a magic constant (mround_magic), for formats with
 * subnormals whose tiny range the lanes reach (not tiny_rare): rne on any
 * target, rz with AVX-512's rz add; Y <= F-2 fraction bits, and f's
 * largest binade + 1 moved up by F-Y still a lane exponent. */
static int magic_ok(vk *k, const nr_format *f)
{
    const nr_rounding md = k->L->prec.rounding;
    int F = lane_fb(k), dir = md == NR_RND_RZ || md == NR_RND_RU || md == NR_RND_RD;
    return f->kind == NR_FLOAT && f->subnormals && !tiny_rare(f) && f->man_bits <= F - 2 &&
           (md == NR_RND_RNE || (dir && k->g->avx512f)) &&
           f->emax + 1 + F - f->man_bits <= (F == 23 ? 127 : 1023);
}

/* Round the exact lane values v to f (magic_ok) with one quantum for all
 * of f's ranges: v's binade e (from its exponent field), clamped to
 * [emin, emax+1], gives f's quantum q = 2^(e'-Y) at v (subnormals:
 * 2^(emin-Y)), and C = 1.5 * 2^F * q (exponent field e' + F - Y, the
 * fraction's top bit set: three integer operations).  C's binade
 * [2^F q, 2^(F+1) q) has lane quantum q, and |v| < 2^(e_v+1) <= 2^(Y+1) q
 * <= 2^(F-1) q when v is not above the clamp, so v + C stays in that
 * binade (or reaches its top, 2^(F+1) q, a multiple of q too): the lane
 * add rounds v + C to a multiple of q, and as C/q = 3 * 2^(F-1) is even,
 * fl(v + C) = C + rne_q(v) (ties to even kept) and the subtraction of C
 * is exact: r = rne_q(v), f's rne of v, carries into the next binade
 * included.  rz: C takes v's sign and the add rounds toward zero
 * (add_rnd, AVX-512): |fl(v + C)| = |C| + trunc_q(|v|); ru, rd: the add
 * rounds up, down (AVX-512): fl(v + C) = C + ceil_q(v), C + floor_q(v).  A zero result
 * takes v's sign ([rnd-4]; a nonzero one has it already).  v above the
 * clamp (|v| >= 2^(emax+2), or inf/NaN): then |r| > 2^(emax+1) > max_finite
 * or NaN (|r| is |v| within a few q, Y >= 1), so rne's key |r| fails (and
 * rz's key |v| does anyway): the block is redone, as with mround.  The
 * clamp from above is left out when every v before the block's first
 * failed check is below 2^vexp with 2^(vexp-1+F-Y) a lane value: then C
 * is right for every such v (an inf v gives inf - C = inf, NaN NaN: both
 * fail), and whatever follows a failure is discarded with the block. */
static V mround_magic(vk *k, const nr_format *f, V v, int vexp)
{
    LLVMBuilderRef B = k->B;
    const int F = lane_fb(k), Y = f->man_bits, bias = F == 23 ? 127 : 1023;
    const nr_rounding md = k->L->prec.rounding;
    const int rne = md == NR_RND_RNE;
    const uint64_t absm = lane_abs(k), expm = absm & ~((1ull << F) - 1);
    V bits = LLVMBuildBitCast(B, v, k->ivt, "");
    V sign = LLVMBuildAnd(B, bits, ivec(k, ~absm), "sign");
    V e = LLVMBuildAnd(B, bits, ivec(k, expm), "");
    V a2[2] = {e, ivec(k, (uint64_t)(f->emin + bias) << F)};
    e = gen_emit_intrinsic(k->g, "llvm.umax", k->ivt, a2, 2);
    if (vexp - 1 + F - Y > bias) { /* else C is a lane value for every finite |v| < 2^vexp */
        V b2[2] = {e, ivec(k, (uint64_t)(f->emax + 1 + bias) << F)};
        e = gen_emit_intrinsic(k->g, "llvm.umin", k->ivt, b2, 2);
    }
    V cb = LLVMBuildAdd(B, e, ivec(k, ((uint64_t)(F - Y) << F) | (1ull << (F - 1))), "");
    if (md == NR_RND_RZ)
        cb = LLVMBuildOr(B, cb, sign, "");
    V cv = LLVMBuildBitCast(B, cb, k->vt, "C");
    V t = rne ? LLVMBuildFAdd(B, v, cv, "") : add_rnd(k, v, cv, md == NR_RND_RZ ? 11 : md == NR_RND_RU ? 10 : 9);
    V r = LLVMBuildBitCast(B, LLVMBuildFSub(B, t, cv, ""), k->ivt, "");
    return LLVMBuildBitCast(B, LLVMBuildOr(B, r, sign, ""), k->vt, "r.m");
}

/* rz to formats without subnormals by the hardware's flush to zero
 * (MXCSR.FTZ, on AVX-512 targets, float lanes, unfused): the tiny case of
 * mround is the flush, so products and sums round by one mask.  The lanes
 * hold every value times 2^sh, sh = -126 - emin_S, which maps S's (and P's,
 * the same emin) smallest normal 2^emin to float's, 2^-126: input values
 * (no subnormals, emin_X >= emin_S) and the bias are scaled when decoded,
 * the row block's results scaled back (all exact: normal floats, the top
 * of W, X, P, S times 2^sh still below 2^128).  A product w*x (<= 24
 * significant bits, exact unless tiny) or an rz add whose exact result is
 * below 2^-126 in magnitude is flushed to a zero of its sign (x86 detects
 * tininess after rounding with an unbounded exponent: for an exact product,
 * and for rz, the exact result's magnitude decides), which is rz's tiny
 * rule for P and S ([rnd-2] without subnormals, [rnd-4] the sign); every
 * other lane value is a normal float, rounded by mround's mask as before.
 * The per-term keys are not needed (pbound, and sbound for the sums: the
 * bounds are on the unscaled values, and max|x| is taken before the
 * scaling).  FTZ is set around each row block's loop only (the scalar
 * redo and every other operation run in the caller's MXCSR). */
static int ftz_ok(vk *k)
{
    const nr_layer_prec *p = &k->L->prec;
    const nr_format *xf = gen_ir_in_fmt(k->c, k->li, 0), *sf = &p->accumulator, *pf = &p->products;
    if (!lane_f32(k) || !k->g->avx512f || p->rounding != NR_RND_RZ || p->mac != NR_MAC_UNFUSED ||
        k->units || !k->track || !k->pbound || !k->sbound)
        return 0;
    if (sf->kind != NR_FLOAT || sf->subnormals || pf->kind != NR_FLOAT || pf->subnormals ||
        pf->emin != sf->emin || xf->kind != NR_FLOAT || xf->subnormals || xf->emin < sf->emin)
        return 0;
    int sh = -126 - sf->emin;
    return sh >= -126 && sh <= 127 && sf->emax + 1 + sh <= 127 && pf->emax + 1 + sh <= 127 && xf->emax + 1 + sh <= 127;
}

/* MXCSR: stmxcsr (store) or ldmxcsr of the i32 at ptr. */
static void mxcsr(vk *k, const char *name, V ptr)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMBuildCall2(k->B, LLVMIntrinsicGetType(k->g->ctx, id, NULL, 0),
                   LLVMGetIntrinsicDeclaration(k->g->mod, id, NULL, 0), &ptr, 1, "");
}

static V fvec(vk *k, double d) /* a splat constant of the lanes' float type */
{
    return gen_num_splat_const(k->vt, 0, d);
}

/* Saturating fixed-point f (rz, rne, rna, ru, rd) for lanes v that are exact values:
 * t = v * 2^sh, clamped to f's integers [lo, hi] and, when rnd, rounded to
 * an integer by the mode; with v a value and sh = F, t is f's integer n
 * for v (as a lane value).  This is emit_mac.c's fixed_round: v * 2^sh is
 * exact (a power-of-two scaling: up, or down by at most 2^-128 from
 * integers below 2^53, far above the lanes' subnormals; an overflow to
 * +-inf is a v far out of range, which the clamp saturates like
 * [rnd-3]); clamping to [lo, hi] (lane values: prec <= 53 / 24 bits,
 * lane_target) before rounding equals rounding then saturating, as rz and
 * rne are monotone and keep integers; trunc and roundeven are exact, and
 * an integer t needs no rounding (rnd 0).  A NaN lane stays NaN (the
 * compares are ordered), so it reaches the accumulator, which is checked
 * for NaN at the end of the row block (a NaN into fixed point is +0,
 * [rnd-5]: the scalar code does it). */
static V fixed_units(vk *k, const nr_format *f, V v, int sh, int rnd)
{
    LLVMBuilderRef B = k->B;
    double hi = ldexp(1.0, f->prec) - 1, lo = f->is_signed ? -ldexp(1.0, f->prec) : 0.0;
    V t = sh ? LLVMBuildFMul(B, v, fvec(k, ldexp(1.0, sh)), "t") : v;
    t = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGT, t, fvec(k, hi), ""), fvec(k, hi), t, "");
    t = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOLT, t, fvec(k, lo), ""), fvec(k, lo), t, "");
    if (!rnd)
        return t;
    nr_rounding md = k->L->prec.rounding;
    const char *fn = md == NR_RND_RNE ? "llvm.roundeven" : md == NR_RND_RNA ? "llvm.round"
                     : md == NR_RND_RU ? "llvm.ceil" : md == NR_RND_RD ? "llvm.floor" : "llvm.trunc";
    return gen_emit_intrinsic(k->g, fn, k->vt, &t, 1);
}

/* The value n * 2^-F of fixed_units' n for the value v (exact: |n| <=
 * 2^prec, F <= 64).  posz: make -0 +0 (fixed point has no -0, [rnd-4]:
 * -0 + +0 = +0), needed only where a sign is seen later (a float format
 * rounds the value: the sign of a zero sum depends on its operands'). */
static V fround(vk *k, const nr_format *f, V v, int posz)
{
    LLVMBuilderRef B = k->B;
    V r = LLVMBuildFMul(B, fixed_units(k, f, v, f->frac_bits, 1), fvec(k, ldexp(1.0, -f->frac_bits)), "fx");
    return posz ? LLVMBuildFAdd(B, r, LLVMConstNull(k->vt), "fx") : r;
}

/* Round the exact lanes v to target f: mround (float) or fround (fixed,
 * which needs no per-lane check: *ok = NULL). */
static V lane_round(vk *k, int which, const nr_format *f, V v, V *ok)
{
    if (f->kind == NR_FIXED) { /* a fixed P's zero sign is seen by a float S; a fixed S's by a float A */
        const nr_layer_prec *p = &k->L->prec;
        *ok = NULL;
        return fround(k, f, v, (which == 1 ? &p->activations : &p->accumulator)->kind != NR_FIXED);
    }
    return mround(k, which, f, v, ok);
}

/* TwoSum: the error e of s = fl(a + b), a + b = s + e exactly. */
static V two_sum_err(vk *k, V a, V b, V s)
{
    LLVMBuilderRef B = k->B;
    V bb = LLVMBuildFSub(B, s, a, "");
    return LLVMBuildFAdd(B, LLVMBuildFSub(B, a, LLVMBuildFSub(B, s, bb, ""), ""),
                         LLVMBuildFSub(B, b, bb, ""), "err");
}

/* rz of an inexact sum: s = fl(a + b) is the lane's nearest float/double
 * and |e| <= ulp(s)/2.  When e is 0 or has s's sign, a + b lies in
 * [s, s + ulp(s)/2], below the next value of any format with fewer
 * fraction bits than the lane (every such value is a lane value above s):
 * truncating s or a + b gives the same.  When e has the other sign, a + b
 * lies in [pred(s), s) (pred(s) = s - ulp(s), or s - ulp(s)/2 at a power
 * of 2), and so does the value just below s: truncating pred(s) gives the
 * truncation of a + b, tiny or not.  pred(s) is s's encoding minus 1.  A
 * NaN e (an infinite s) is left alone: the infinity fails mround. */
static V rz_sum(vk *k, V s, V e)
{
    LLVMBuilderRef B = k->B;
    V sb = LLVMBuildBitCast(B, s, k->ivt, ""), eb = LLVMBuildBitCast(B, e, k->ivt, "");
    /* e with s's sign flipped out is < 0 (ordered, not -0) */
    V ef = LLVMBuildXor(B, eb, LLVMBuildAnd(B, sb, ivec(k, ~lane_abs(k)), ""), "");
    V opp = LLVMBuildFCmp(B, LLVMRealOLT, LLVMBuildBitCast(B, ef, k->vt, ""), LLVMConstNull(k->vt), "opp");
    V pb = LLVMBuildSelect(B, opp, LLVMBuildSub(B, sb, ivec(k, 1), ""), sb, "");
    return LLVMBuildBitCast(B, pb, k->vt, "");
}

/* rz(a + b) in the lane type, by the AVX-512 add with its own rounding
 * (embedded rounding {rz-sae}: 11 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
 * only 512-bit vectors have it, so shorter ones are widened and the extra
 * lanes dropped).  The intrinsic is opaque to LLVM (no reassociation or
 * contraction; the flags of the MXCSR are untouched).
 *
 * Why rounding rz(a + b) instead of the exact a + b to the target (the
 * accumulator S, by mround or fixed_units) gives the same result: let Z
 * be S's values, a set of lane values (mround: every value of a float S
 * whose lanes are taken is a lane value, float_lanes_ok / mask_fmt; fixed
 * point: integers of <= 24 / 53 bits, lane_target) containing 0 and closed
 * under negation.  For the exact x = a + b, t = rz_lane(x) is the lane
 * value of largest magnitude with |t| <= |x| and x's sign (x != 0: a and b
 * are multiples of the lane's smallest subnormal, so |x| is at least that
 * and t != 0; x = 0: IEEE gives +0 for rz as for rne, and the old path
 * saw the same +0).  rz_Z(x) is the z in Z of largest magnitude with
 * |z| <= |x|, x's sign.  Every z in Z with |z| <= |x| is a lane value, so
 * |z| <= |t| <= |x|: the candidates for x and for t are the same, and
 * rz_Z(t) = rz_Z(x) (truncations compose).  What the checks see agrees
 * too: |t| < 2^emin iff |x| < 2^emin (2^emin is a lane value, rz is
 * monotone), which mround's nosub tiny case sends to +-0 with the sign of
 * t = x's; the overflow key (rz: trunc|v| <= max_finite) is trunc_Z(|t|)
 * = trunc_Z(|x|); an x beyond the lane's range gives t = the largest lane
 * value (rz never overflows), far above any S's max_finite, so the block
 * is still bad and redone by the scalar code; saturating fixed point
 * clamps t like x (its bound is a lane value, so |x| >= hi iff |t| >= hi).
 * NaN operands give NaN, which fails mround / the NaN check as before.
 * (For a finite t, rz_sum's result is this same t: the lane value next to
 * a + b towards zero; only beyond the lane's range do they differ, inf
 * there and the largest lane value here, both failing the checks.) */
static V add_rnd(vk *k, V a, V b, unsigned imm);
static V add_rz(vk *k, V a, V b)
{
    return add_rnd(k, a, b, 11);
}

/* a + b in the lane type rounded by the AVX-512 add's embedded rounding
 * imm (9 {rd-sae}, 10 {ru-sae}, 11 {rz-sae}). */
static V add_rnd(vk *k, V a, V b, unsigned imm)
{
    LLVMBuilderRef B = k->B;
    gen_ctx *g = k->g;
    int f32 = lane_f32(k), n = f32 ? 16 : 8, vl = k->v->vl;
    const char *name = f32 ? "llvm.x86.avx512.add.ps.512" : "llvm.x86.avx512.add.pd.512";
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    V sm[16];
    if (vl < n) { /* widen: lanes vl..n-1 are don't-care (poison) */
        for (int i = 0; i < n; i++)
            sm[i] = i < vl ? LLVMConstInt(g->i32, (uint64_t)i, 0) : LLVMGetUndef(g->i32);
        V m = LLVMConstVector(sm, (unsigned)n);
        a = LLVMBuildShuffleVector(B, a, LLVMGetPoison(k->vt), m, "");
        b = LLVMBuildShuffleVector(B, b, LLVMGetPoison(k->vt), m, "");
    }
    V args[3] = {a, b, LLVMConstInt(g->i32, imm, 0)};
    V r = LLVMBuildCall2(B, LLVMIntrinsicGetType(g->ctx, id, NULL, 0),
                         LLVMGetIntrinsicDeclaration(g->mod, id, NULL, 0), args, 3, "s.rz");
    if (vl < n) {
        for (int i = 0; i < vl; i++)
            sm[i] = LLVMConstInt(g->i32, (uint64_t)i, 0);
        r = LLVMBuildShuffleVector(B, r, LLVMGetPoison(LLVMTypeOf(r)), LLVMConstVector(sm, (unsigned)vl), "");
    }
    return r;
}

/* rz(acc + p) for S when the sum may be inexact: the target's own rz add,
 * else the nearest sum corrected by rz_sum. */
static V sum_rz(vk *k, V acc, V p)
{
    if (k->g->avx512f)
        return add_rz(k, acc, p);
    V sd = LLVMBuildFAdd(k->B, acc, p, "s");
    return rz_sum(k, sd, two_sum_err(k, acc, p, sd));
}

/* Round to odd (RO): a + b rounded to the lane value t next to it towards
 * zero, with t's lowest encoding bit set when a + b is not a lane value
 * (t = a + b when it is).  Then rne of t to a float format with at least
 * two fraction bits fewer than the lane (lane_target: Y <= 21 / 50; mround)
 * is rne of the exact a + b, so rne sums need neither TwoSum checks nor
 * the scalar redo.  Proof: let Q be the format's quantum at |a + b|
 * (2^(e-Y) in binade e, or its subnormal quantum 2^(emin-Y)) and u the
 * lane's quantum there (2^(e-23) / 2^(e-52), or the lane's subnormal
 * quantum); u <= Q/4 (two more fraction bits; for subnormal targets
 * float_lanes_ok / mask_fmt keep Q >= 2^-126 / 2^-1022 >= 4u).  So every
 * value of the format and every midpoint of two neighbours (a multiple of
 * Q/2) is a lane value with an even encoding.  If a + b is a lane value,
 * t = a + b.  Otherwise t lies strictly between the two lane values around
 * a + b (t is one of them, the odd one), and no midpoint or format value
 * (both even lane values) lies strictly between those two or equals t:
 * a + b and t are on the same side of every midpoint and every format
 * value, so rne (and every other rounding) of t and of a + b agree, tiny
 * ranges included (mround's comparisons with 2^emin and 2^(emin-1), even
 * lane values too).  Overflow: a + b beyond the lane's range gives the
 * largest lane value or inf, both above every target's max_finite, so the
 * block is still redone (the key).
 *
 * AVX-512: t is the odd one of rd(a + b) and ru(a + b) (embedded
 * rounding): when a + b is not a lane value these are its two neighbours,
 * consecutive encodings of one sign, exactly one odd; when it is, both are
 * a + b, except for an exact zero sum of operands of opposite signs, where
 * rd gives -0 (even) and ru +0, the rne sum's zero ([rnd-4]).  Elsewhere
 * from TwoSum: s = fl(a + b) (rne) and its error e; when e != 0 and s is
 * even, t is s's neighbour towards e (encoding +1 when e has s's sign,
 * -1 when not; s != 0 as a nonzero error needs a nonzero sum), the odd
 * lane value between which and s a + b lies; an inf s (NaN e, unordered)
 * stays inf and fails the check. */
static V rd_zero(vk *k, V a, V b, V s);
static V sum_ro(vk *k, V a, V b)
{
    LLVMBuilderRef B = k->B;
    V one = ivec(k, 1), zero = ivec(k, 0);
    if (k->g->avx512f) {
        V rd = add_rnd(k, a, b, 9), ru = add_rnd(k, a, b, 10);
        if (k->L->prec.rounding == NR_RND_RD) { /* an exact zero: rd's ([rnd-4]) */
            V odd = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, LLVMBuildBitCast(B, ru, k->ivt, ""), one, ""), zero, "");
            return LLVMBuildSelect(B, odd, ru, rd, "s.ro");
        }
        V odd = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, LLVMBuildBitCast(B, rd, k->ivt, ""), one, ""), zero, "");
        return LLVMBuildSelect(B, odd, rd, ru, "s.ro");
    }
    V s = LLVMBuildFAdd(B, a, b, "s"), e = two_sum_err(k, a, b, s);
    V sb = LLVMBuildBitCast(B, s, k->ivt, ""), eb = LLVMBuildBitCast(B, e, k->ivt, "");
    V even = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildAnd(B, sb, one, ""), zero, "");
    V inexact = LLVMBuildFCmp(B, LLVMRealONE, e, LLVMConstNull(k->vt), "");
    V same = LLVMBuildICmp(B, LLVMIntSGE, LLVMBuildXor(B, sb, eb, ""), zero, "");
    V nb = LLVMBuildSelect(B, same, LLVMBuildAdd(B, sb, one, ""), LLVMBuildSub(B, sb, one, ""), "");
    V r = LLVMBuildSelect(B, LLVMBuildAnd(B, even, inexact, ""), nb, sb, "");
    return rd_zero(k, a, b, LLVMBuildBitCast(B, r, k->vt, "s.ro"));
}

/* Under rd an exact zero sum is -0 unless both operands are +0 ([rnd-4]:
 * x + (-x) = -0, +0 + -0 = -0), where the host's rne add gives +0: s
 * (the host's a + b, or a value equal to it when zero) corrected. */
static V rd_zero(vk *k, V a, V b, V s)
{
    LLVMBuilderRef B = k->B;
    if (k->L->prec.rounding != NR_RND_RD)
        return s;
    V ab = LLVMBuildOr(B, LLVMBuildBitCast(B, a, k->ivt, ""), LLVMBuildBitCast(B, b, k->ivt, ""), "");
    V nz = LLVMBuildICmp(B, LLVMIntNE, ab, ivec(k, 0), "");
    V z = LLVMBuildFCmp(B, LLVMRealOEQ, s, LLVMConstNull(k->vt), "");
    V neg0 = LLVMBuildBitCast(B, ivec(k, ~lane_abs(k)), k->vt, "");
    return LLVMBuildSelect(B, LLVMBuildAnd(B, z, nz, ""), neg0, s, "s.rd0");
}

/* rne sums of a float S are rounded to odd first (sum_ro), unless exact. */
static int ro_sums(const vk *k)
{
    const nr_layer_prec *p = &k->L->prec;
    return !k->v->host && !k->sexact && p->rounding != NR_RND_RZ && p->accumulator.kind == NR_FLOAT;
}

/* Sums of a float S that need no rounding to odd (sum_ro), one lane add
 * each (sum_direct):
 *
 * ru, rd (AVX-512): the add rounding the same way (add_rnd), as add_rz
 * does for rz and by the same argument: S's values are lane values
 * (lane_target), so the smallest S value >= the smallest lane value >=
 * a + b is the smallest S value >= a + b (directed roundings compose), and
 * mround's checks see the same results; an exact zero sum gets the
 * direction's sign from the add itself (IEEE: -0 under rd for x + (-x),
 * +0 under ru), as sum_ro's choice of rd or ru gives; beyond the lane's
 * range it gives what sum_ro gives (inf or the largest lane value).
 *
 * rne, rna: the host's rne add s' = fl(a + b) (q = 24 / 53 significand
 * bits), when the layer is unfused, both addends have at most p bits (the
 * S value acc and the P value: prec_P <= prec_S = p) and q >= 2p + 1
 * (bf16, e6m7: p = 8; e4m3 4; fp16 11 <= (24-1)/2), and small sums are
 * exact in the lanes (below).  Then S's rounding of s' is S's rounding of
 * the exact s = a + b (double rounding is innocuous, Figueroa 1995):
 * Let G be S's values and the midpoints of neighbours; S's rne and rna are
 * constant between consecutive points of G, and G's points are lane
 * values (p + 1 <= q bits).  If s' = s, nothing to show.  Else s is not a
 * lane value, and no lane value, so no point of G, lies strictly between
 * s and s' (s' is the nearest).  If s' is an S value v, s is nearer to v
 * than to any midpoint and rounds to v as s' does.  Left: s' = M a
 * midpoint, impossible: s, M in binade e (|s - M| <= 2^(e-q), half a lane
 * ulp, and M an odd multiple of 2^(e-p) in [2^e, 2^(e+1)), not at its
 * ends); say |a| >= |b|, b's lowest bit 2^(eb-p+1) (eb = ilogb b) is s's
 * lowest at most, and s is no lane value, so eb-p+1 < e-q+1: eb < e-q+p
 * <= e-p-1 and |b| < 2^(e-p-1).  Then |a - M| < 2^(e-p-1) + 2^(e-q) <=
 * 2^(e-p), and |a| > 2^e - 2^(e-p-1) makes ilogb a >= e-1, so a is a
 * multiple of 2^(e-p) like M: a = M, an odd multiple of 2^(e-p), which no
 * p-bit a >= 2^e is (a multiple of 2^(e-p+1)), contradiction.  S's tiny
 * range and the lanes' subnormals: a and b are multiples of 2^m (m the
 * smaller of S's and P's lsb_exp), so every |s| < 2^(emin_S+1) is a lane
 * value when m is at least the lanes' lowest exponent and emin_S+1-m <= q;
 * an inexact s is thus above S's tiny range and above the lanes'
 * subnormals (emin_S >= -126 / -1022 in lanes that round to S), where
 * the argument above holds with S's p-bit grid; mround's comparisons
 * with 2^emin, 2^(emin-1) see s' on the same side as s.  Overflow: S's
 * rounding of s' is S's p-bit rounding of s, checked by the same key; a
 * lane overflow gives inf, which fails it.  The zero sums are rne's
 * ([rnd-4]: +0 for x + (-x), -0 + -0 = -0), the sign rna takes too. */
static int sums_direct(vk *k)
{
    const nr_layer_prec *p = &k->L->prec;
    const nr_format *sf = &p->accumulator, *pf = &p->products;
    if (!ro_sums(k))
        return 0;
    if (p->rounding == NR_RND_RU || p->rounding == NR_RND_RD)
        return k->g->avx512f;
    if (p->rounding != NR_RND_RNE && p->rounding != NR_RND_RNA)
        return 0;
    const int q = lane_fb(k) + 1, lmin = lane_f32(k) ? -149 : -1074;
    int m = lsb_exp(sf) < lsb_exp(pf) ? lsb_exp(sf) : lsb_exp(pf);
    return p->mac == NR_MAC_UNFUSED && pf->prec <= sf->prec && 2 * sf->prec + 1 <= q &&
           m >= lmin && sf->emin + 1 - m <= q;
}

static V sum_direct(vk *k, V a, V b)
{
    nr_rounding md = k->L->prec.rounding;
    if (md == NR_RND_RU || md == NR_RND_RD)
        return add_rnd(k, a, b, md == NR_RND_RU ? 10 : 9);
    return LLVMBuildFAdd(k->B, a, b, "s");
}

/* TwoSum's error of s = fl(a + b) is zero: s is the exact sum. */
static V sum_exact(vk *k, V a, V b, V s)
{
    LLVMBuilderRef B = k->B;
    V e = two_sum_err(k, a, b, s);
    if (k->track) { /* OR of the errors' bits: all +-0 iff every sum was exact */
        k->err = LLVMBuildOr(B, k->err, LLVMBuildBitCast(B, e, k->ivt, ""), "");
        return NULL;
    }
    return LLVMBuildFCmp(B, LLVMRealOEQ, e, LLVMConstNull(k->vt), "");
}

/* frac_bits of the formats, for units */
static int fbits_of(const nr_format *f) { return f->kind == NR_FIXED ? f->frac_bits : 0; }

/* The sum acc + p for S (rz: rz_sum, rne to a float S: rounded to odd,
 * else the TwoSum error tracked) when sums are not known exact. */
static V checked_sum(vk *k, V acc, V p)
{
    if (k->sexact) /* a float S's exact zero has rd's sign under rd */
        return k->L->prec.accumulator.kind == NR_FLOAT ? rd_zero(k, acc, p, LLVMBuildFAdd(k->B, acc, p, "s"))
                                                        : LLVMBuildFAdd(k->B, acc, p, "s");
    if (k->L->prec.rounding == NR_RND_RZ)
        return sum_rz(k, acc, p);
    if (ro_sums(k))
        return sums_direct(k) ? sum_direct(k, acc, p) : sum_ro(k, acc, p);
    V sd = LLVMBuildFAdd(k->B, acc, p, "s");
    k->err = LLVMBuildOr(k->B, k->err, LLVMBuildBitCast(k->B, two_sum_err(k, acc, p, sd), k->ivt, ""), "");
    return sd;
}

/* One term when every format is fixed point (units): the lanes hold
 * integers, each in units of its format's lsb (w: 2^-Fw, x: 2^-Fx, the
 * accumulator 2^-Fs), instead of values: the decoded operands and the
 * bias were scaled by 2^F (exact), and the row block's results are scaled
 * back.  A value v and its integer v * 2^F round, sum and compare alike
 * (power-of-two scalings are exact here, see fixed_units), so this is
 * step's arithmetic without fround's two scalings per rounding: w*x is in
 * units 2^-(Fw+Fx) (exact, prod_exact_lanes); round_P takes it to P's
 * units (rounding only when those are coarser); the sum is in S's units,
 * needing a rounding only when P's (or the product's) are finer.  The
 * signs of zeros are not kept: nothing here sees them, and the results
 * get +0 when scaled back. */
static V step_units(vk *k, V acc, V w, V x)
{
    LLVMBuilderRef B = k->B;
    const nr_layer_prec *p = &k->L->prec;
    int u = fbits_of(&p->weights) + fbits_of(gen_ir_in_fmt(k->c, k->li, 0)), fs = p->accumulator.frac_bits;
    V pd = LLVMBuildFMul(B, w, x, "wx");
    if (p->mac == NR_MAC_UNFUSED) {
        int fp = p->products.frac_bits;
        pd = fixed_units(k, &p->products, pd, fp - u, u > fp);
        u = fp;
    }
    if (u != fs)
        pd = LLVMBuildFMul(B, pd, fvec(k, ldexp(1.0, fs - u)), "");
    V sd = checked_sum(k, acc, pd);
    return fixed_units(k, &p->accumulator, sd, 0, u > fs);
}

/* One term on every lane: the new accumulator; *ok where it is exact. */
static V step(vk *k, V acc, V w, V x, V *ok)
{
    LLVMBuilderRef B = k->B;
    const nr_layer_prec *p = &k->L->prec;
    if (k->v->host) { /* [net-12] one float operation = one rne rounding to fp32 */
        *ok = NULL;
        if (p->mac == NR_MAC_FUSED) {
            V a[3] = {w, x, acc};
            return gen_emit_intrinsic(k->g, "llvm.fma", k->vt, a, 3);
        }
        return LLVMBuildFAdd(B, acc, LLVMBuildFMul(B, w, x, ""), "");
    }
    if (k->units) {
        *ok = NULL;
        return step_units(k, acc, w, x);
    }
    V pd = LLVMBuildFMul(B, w, x, "wx"), okp = NULL, oks;
    if (p->mac == NR_MAC_UNFUSED) /* p = round_P(w*x), w*x exact */
        pd = lane_round(k, k->pbound && !tiny_rare(&p->products) ? -1 : 0, &p->products, pd, &okp);
    if (k->sexact || p->rounding == NR_RND_RZ || ro_sums(k)) { /* exact; or rz / rne to odd, exact or not (sum_rz, sum_ro) */
        V sd = checked_sum(k, acc, pd);
        V r = lane_round(k, k->sbound && !tiny_rare(&p->accumulator) ? -1 : 1, &p->accumulator, sd, &oks);
        if (k->track || (!oks && !okp))
            *ok = NULL;
        else
            *ok = !oks ? okp : okp ? LLVMBuildAnd(B, oks, okp, "ok") : oks;
        return r;
    }
    V sd = LLVMBuildFAdd(B, acc, pd, "s");
    V r = lane_round(k, 1, &p->accumulator, sd, &oks);
    V ex = sum_exact(k, acc, pd, sd);
    if (k->track) {
        *ok = NULL;
        return r;
    }
    V o = oks ? LLVMBuildAnd(B, oks, ex, "") : ex;
    *ok = okp ? LLVMBuildAnd(B, o, okp, "ok") : o;
    return r;
}

static V ptr_at(vk *k, V base, V idx)
{
    return LLVMBuildGEP2(k->B, k->et, base, &idx, 1, "");
}

/* *slot = the smallest nonzero |lane value| seen, as an unsigned encoding
 * (started at lane_abs: a NaN, above every value). */
static void track_min(vk *k, V slot, V x)
{
    LLVMBuilderRef B = k->B;
    T it = LLVMGetElementType(k->ivt);
    V am = LLVMConstInt(it, lane_abs(k), 0);
    V ax = LLVMBuildAnd(B, LLVMBuildBitCast(B, x, it, ""), am, "");
    ax = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, ax, LLVMConstInt(it, 0, 0), ""), am, ax, "");
    V a2[2] = {LLVMBuildLoad2(B, it, slot, ""), ax};
    LLVMBuildStore(B, gen_emit_intrinsic(k->g, "llvm.umin", it, a2, 2), slot);
}

/* vk.vexp: |w*x| < 2^(ilogb(max_W)+ilogb(max_X)+2) (its exact value, or
 * the lanes' rounding of it, a bound being a power of 2); a P value is at
 * most that too, or below 2^(emax_P+1) (rounding is monotone); an S value
 * is below 2^(emax_S+1) while its checks pass; so a sum acc + p is below
 * twice the larger bound. */
static void vexp_of(vk *k)
{
    const nr_layer_prec *p = &k->L->prec;
    const nr_format *xf = gen_ir_in_fmt(k->c, k->li, 0);
    int e = ilogb(p->weights.max_finite) + ilogb(xf->max_finite) + 2;
    if (p->mac == NR_MAC_UNFUSED && p->products.kind == NR_FLOAT && p->products.emax + 1 > e)
        e = p->products.emax + 1;
    k->vexp[0] = e;
    k->vexp[1] = (p->accumulator.kind == NR_FLOAT && p->accumulator.emax + 1 > e ? p->accumulator.emax + 1 : e) + 1;
}

/* Decode weights and input into the scratch (see the top comment). */
static void emit_decode(vk *k)
{
    gen_lctx *c = k->c;
    LLVMBuilderRef B = k->B;
    const vgeo *G = &k->G;
    const nr_format *wf = &k->L->prec.weights, *xf = gen_ir_in_fmt(c, k->li, 0);
    gen_loop l, lr, li;
    if (!k->v->wdirect) {
        gen_ir_loop_begin(c, &l, (uint64_t)G->O * (uint64_t)G->K, "wdec");
        V w = gen_ir_decode(c, wf, gen_ir_load_w(c, wf, c->w, l.i));
        if (k->units) /* integers in units of 2^-F (exact) */
            w = LLVMBuildFMul(B, w, LLVMConstReal(k->g->f64, ldexp(1.0, wf->frac_bits)), "");
        if (k->v->f32)
            w = LLVMBuildFPTrunc(B, w, k->et, "");
        if (k->v->ptiny)
            track_min(k, k->wmin, w);
        LLVMBuildStore(B, w, ptr_at(k, k->wdec, l.i));
        gen_ir_loop_end(c, &l);
    }
    /* pad cells +0 (one memset), then every input column to its cell:
     * contiguous for stride 1, so the loop vectorises */
    uint64_t esz = k->v->f32 ? 4 : 8;
    LLVMBuildMemSet(B, k->xdec, LLVMConstInt(k->g->i8, 0, 0),
                    gen_ir_i64(c, (uint64_t)G->C * (uint64_t)G->H * (uint64_t)G->sw * (uint64_t)k->v->wp * esz), 8);
    gen_ir_loop_begin(c, &lr, (uint64_t)G->C * (uint64_t)G->H, "xrow");
    V drow = LLVMBuildMul(B, lr.i, gen_ir_i64(c, (uint64_t)G->sw * (uint64_t)k->v->wp), "");
    gen_ir_loop_begin(c, &li, (uint64_t)G->W, "xi");
    V x = gen_ir_load_dec(c, xf, c->in[0], LLVMBuildAdd(B, LLVMBuildMul(B, lr.i, gen_ir_i64(c, (uint64_t)G->W), ""), li.i, ""));
    if (k->units)
        x = LLVMBuildFMul(B, x, LLVMConstReal(k->g->f64, ldexp(1.0, xf->frac_bits)), "");
    if (k->v->f32)
        x = LLVMBuildFPTrunc(B, x, k->et, "");
    if (k->pbound || k->sbound) { /* the largest |x| as an unsigned encoding (NaN above all) */
        T it = LLVMGetElementType(k->ivt);
        V ax = LLVMBuildAnd(B, LLVMBuildBitCast(B, x, it, ""), LLVMConstInt(it, lane_abs(k), 0), "");
        V a2[2] = {LLVMBuildLoad2(B, it, k->xmax, ""), ax};
        LLVMBuildStore(B, gen_emit_intrinsic(k->g, "llvm.umax", it, a2, 2), k->xmax);
    }
    if (k->v->ptiny)
        track_min(k, k->xmin, x);
    V col = LLVMBuildAdd(B, li.i, gen_ir_i64(c, (uint64_t)k->v->padl), "col");
    V cell = col;
    if (G->sw > 1)
        cell = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildURem(B, col, gen_ir_i64(c, (uint64_t)G->sw), ""), gen_ir_i64(c, (uint64_t)k->v->wp), ""),
                            LLVMBuildUDiv(B, col, gen_ir_i64(c, (uint64_t)G->sw), ""), "cell");
    if (k->ftz) /* max|x| was taken unscaled (ftz_ok) */
        x = LLVMBuildFMul(B, x, LLVMConstReal(k->et, ldexp(1.0, k->ftz_sh)), "x.sc");
    LLVMBuildStore(B, x, ptr_at(k, k->xdec, LLVMBuildAdd(B, drow, cell, "")));
    gen_ir_loop_end(c, &li);
    gen_ir_loop_end(c, &lr);
}

/* Is every lane of vector vi at kernel column q a term: an output column
 * and an input column (not padding)? */
static int lane_ow(const vgeo *G, int vl, int rpv, int vi, int l)
{
    return rpv > 1 ? l % G->OW : vi * vl + l;
}

static int lanes_all(const vgeo *G, int vl, int rpv, int q, int vi)
{
    for (int l = 0; l < vl; l++) {
        int ow = lane_ow(G, vl, rpv, vi, l), iw = ow * G->sw + q * G->dw - G->pl;
        if (ow >= G->OW || iw < 0 || iw >= G->W)
            return 0;
    }
    return 1;
}

/* The lanes of vector vi that are terms at kernel column q (an output
 * column, and an input column rather than padding: lanes_all's test) as
 * an i1 vector, picked by q from a kw*vl-bit constant holding every q's
 * lanes (bit q*vl + l), with one shift instead of vector compares. */
static V lane_mask(vk *k, int vi, V qv)
{
    const vgeo *G = &k->G;
    LLVMBuilderRef B = k->B;
    const int vl = k->v->vl, rpv = k->v->rpv;
    uint64_t words[2] = {0, 0};
    for (int q = 0; q < G->kw; q++)
        for (int l = 0; l < vl; l++) {
            int ow = lane_ow(G, vl, rpv, vi, l), iw = ow * G->sw + q * G->dw - G->pl, bit = q * vl + l;
            if (ow < G->OW && iw >= 0 && iw < G->W)
                words[bit / 64] |= 1ull << (bit % 64);
        }
    T it = LLVMIntTypeInContext(k->g->ctx, (unsigned)(G->kw * vl));
    V all = LLVMConstIntOfArbitraryPrecision(it, 2, words);
    V sh = LLVMBuildMul(B, qv, LLVMConstInt(k->g->i64, (uint64_t)vl, 0), ""); /* < kw*vl */
    unsigned w = LLVMGetIntTypeWidth(it);
    if (w < 64)
        sh = LLVMBuildTrunc(B, sh, it, "");
    else if (w > 64)
        sh = LLVMBuildZExt(B, sh, it, "");
    V m = LLVMBuildTrunc(B, LLVMBuildLShr(B, all, sh, ""), LLVMIntTypeInContext(k->g->ctx, (unsigned)vl), "");
    return LLVMBuildBitCast(B, m, k->mt, "lanes");
}

/* [net-5] the outputs round_A(acc) of a good row block, as vectors when
 * whole vectors are output columns and A is fp32 holding every S value
 * (the conversion) or a format without subnormals rounded by a lane mode (mround,
 * then the fields moved, every lane being +-0 or in [2^emin, max]).  A
 * vector with any other lane is done element by element.  One loop over
 * the block's vectors (rowbuf: their values), so one copy of the IR.
 * Returns 0 (nothing emitted) when vectors do not apply. */
static int vector_out(vk *k, V rowbuf, T rowt, V ob, V oh)
{
    gen_lctx *c = k->c;
    gen_ctx *g = k->g;
    LLVMBuilderRef B = k->B;
    const vgeo *G = &k->G;
    const nr_layer_prec *p = &k->L->prec;
    const nr_format *af = &p->activations;
    const int vl = k->v->vl, nv = k->v->nv, co = k->v->co;
    int f32out = k->v->f32 && gen_ir_fmt_is(af, "fp32") && nr_format_fits_f32(&p->accumulator);
    int masked = mask_fmt(af) && !af->subnormals &&
                 lane_mode(p->rounding);
    /* saturating fixed point: fixed_int's n, its two's complement bits */
    int fixedout = af->kind == NR_FIXED && af->saturate && af->prec <= 53 &&
                   lane_mode(p->rounding);
    int flanes = k->v->f32 && (f32out || (fixedout ? af->prec <= 24 : float_lanes_ok(af)));
    if (nv * vl != G->OW * k->v->rpv || (!f32out && !masked && !fixedout) ||
        af->width > (flanes ? 32 : 64))
        return 0;
    T vt = k->vt, ivt = k->ivt;
    int track = k->track;
    k->track = 0;
    if (!flanes) /* round the doubles */
        k->vt = LLVMVectorType(g->f64, (unsigned)vl), k->ivt = LLVMVectorType(g->i64, (unsigned)vl);
    gen_loop la;
    gen_ir_loop_begin(c, &la, (uint64_t)(co * nv), "outv");
    V first = LLVMBuildMul(B, la.i, gen_ir_i64(c, (uint64_t)vl), "");
    V idx[2] = {gen_ir_i64(c, 0), first};
    V xp = LLVMBuildGEP2(B, rowt, rowbuf, idx, 2, "");
    V x = LLVMBuildLoad2(B, vt, xp, "acc");
    LLVMSetAlignment(x, k->v->f32 ? 4 : 8);
    V o = LLVMBuildAdd(B, ob, LLVMBuildUDiv(B, la.i, gen_ir_i64(c, (uint64_t)nv), ""), "o");
    V col = LLVMBuildMul(B, LLVMBuildURem(B, la.i, gen_ir_i64(c, (uint64_t)nv), ""), gen_ir_i64(c, (uint64_t)vl), "");
    V elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, o, gen_ir_i64(c, (uint64_t)G->OH), ""), oh, ""),
                                          gen_ir_i64(c, (uint64_t)G->OW), ""), col, "elem");
    V enc, fail = NULL;
    if (f32out) { /* an fp32 value: its bits; a NaN becomes the canonical one */
        V b = LLVMBuildBitCast(B, x, k->ivt, "");
        enc = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealUNO, x, x, ""), ivec(k, 0x7fc00000u), b, "");
    } else if (fixedout) { /* every S value here is finite; NaN is checked anyway */
        if (!flanes)
            x = LLVMBuildFPExt(B, x, k->vt, "");
        V n = fixed_units(k, af, x, af->frac_bits, 1);
        fail = LLVMBuildFCmp(B, LLVMRealUNO, n, n, "");
        enc = LLVMBuildAnd(B, LLVMBuildFPToSI(B, n, k->ivt, ""), ivec(k, af->man_mask), "enc");
    } else {
        if (!flanes)
            x = LLVMBuildFPExt(B, x, k->vt, "");
        V ok, r = LLVMBuildBitCast(B, mround(k, 0, af, x, &ok), k->ivt, "");
        fail = LLVMBuildNot(B, ok, "");
        /* fields: sign, exponent rebiased, the top fraction bits; +-0 keeps
         * only its sign (every lane that passed is +-0 or >= 2^emin) */
        const int Y = af->man_bits, fb = lane_fb(k), eb = fb == 52 ? 1023 : 127;
        V av = LLVMBuildAnd(B, r, ivec(k, lane_abs(k)), "");
        V ed = LLVMBuildLShr(B, av, ivec(k, (uint64_t)fb), "");
        V mag = LLVMBuildOr(B, LLVMBuildShl(B, LLVMBuildAdd(B, ed, ivec(k, (uint64_t)(int64_t)(af->bias - eb)), ""), ivec(k, (uint64_t)Y), ""),
                            LLVMBuildLShr(B, LLVMBuildAnd(B, av, ivec(k, (1ull << fb) - 1), ""), ivec(k, (uint64_t)(fb - Y)), ""), "");
        mag = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, av, ivec(k, 0), ""), ivec(k, 0), mag, "");
        V sg = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, r, ivec(k, 0), ""), ivec(k, af->sign_mask), ivec(k, 0), "");
        enc = LLVMBuildOr(B, mag, sg, "enc");
    }
    LLVMBasicBlockRef st = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "outv.store");
    LLVMBasicBlockRef sc = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "outv.scalar");
    LLVMBasicBlockRef nx = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "outv.next");
    if (fail) {
        T bt = LLVMIntTypeInContext(g->ctx, (unsigned)vl);
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntNE, LLVMBuildBitCast(B, fail, bt, ""), LLVMConstInt(bt, 0, 0), ""), sc, st);
    } else {
        LLVMBuildBr(B, st);
    }
    LLVMPositionBuilderAtEnd(B, st);
    T ct = gen_emit_container_type(g, af);
    V ptr = LLVMBuildGEP2(B, ct, c->out, &elem, 1, "");
    if (LLVMGetIntTypeWidth(ct) != LLVMGetIntTypeWidth(LLVMGetElementType(k->ivt)))
        enc = LLVMBuildTrunc(B, enc, LLVMVectorType(ct, (unsigned)vl), "");
    V s = LLVMBuildStore(B, enc, ptr);
    LLVMSetAlignment(s, (unsigned)af->container);
    LLVMBuildBr(B, nx);
    LLVMPositionBuilderAtEnd(B, sc);
    gen_loop ll;
    gen_ir_loop_begin(c, &ll, (uint64_t)vl, "outv.l");
    V i2[2] = {gen_ir_i64(c, 0), LLVMBuildAdd(B, first, ll.i, "")};
    V a = LLVMBuildLoad2(B, LLVMGetElementType(vt), LLVMBuildGEP2(B, rowt, rowbuf, i2, 2, ""), "acc");
    if (k->v->f32)
        a = LLVMBuildFPExt(B, a, g->f64, "");
    gen_ir_store_out(c, k->li, a, LLVMBuildAdd(B, elem, ll.i, ""));
    gen_ir_loop_end(c, &ll);
    LLVMBuildBr(B, nx);
    LLVMPositionBuilderAtEnd(B, nx);
    gen_ir_loop_end(c, &la);
    k->vt = vt, k->ivt = ivt, k->track = track;
    return 1;
}

/* The state of one call's loop nest that the steps below share: allocas
 * that live across the loops, and the block's loop values. */
typedef struct vblk {
    V acc[256], bias[64]; /* the co x nv accumulators, the start values */
    V bad, trk[3];        /* lanes marked bad; key[0], key[1], err (vk)  */
    T rowt;
    V rowbuf;             /* the block's results, row by row            */
    V csr, csr_ftz;       /* the caller's MXCSR, and with FTZ (vk.ftz)  */
    V xbig;               /* this call's max|x| is above xlim (c->xlim) */
    V ob, ci0, oh0;       /* first output channel, input channel, row   */
    V kb, xrows[16], rowm;/* kernel row's base; input rows; row mask    */
} vblk;

/* The kernel's flags and types for layer li (vk above), its checks'
 * allocas, and MXCSR with FTZ (vk.ftz). */
static void vk_init(vk *k, vblk *b, gen_lctx *c, int li, const gen_vmac *v)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    *k = (vk){.c = c, .g = g, .B = B, .L = &c->m->layers[li], .v = v, .li = li};
    nr_mac_geom_of(k->L, &k->G); /* checked when the plan chose the kernel */
    const nr_layer_prec *p = &k->L->prec;
    k->et = v->f32 ? LLVMFloatTypeInContext(g->ctx) : g->f64;
    k->vt = LLVMVectorType(k->et, (unsigned)v->vl);
    k->ivt = LLVMVectorType(v->f32 ? g->i32 : g->i64, (unsigned)v->vl);
    k->mt = LLVMVectorType(g->i1, (unsigned)v->vl);
    k->track = !v->host;
    k->sexact = !v->host && sums_exact_lanes(p, gen_ir_in_fmt(c, li, 0), v->f32);
    k->units = !v->host && p->weights.kind == NR_FIXED && gen_ir_in_fmt(c, li, 0)->kind == NR_FIXED &&
               p->accumulator.kind == NR_FIXED &&
               (p->mac != NR_MAC_UNFUSED || p->products.kind == NR_FIXED);
    V o0 = gen_ir_i64(c, v->wdec_off), o1 = gen_ir_i64(c, v->xdec_off);
    k->wdec = v->wdirect ? c->w : LLVMBuildInBoundsGEP2(B, g->i8, c->scratch, &o0, 1, "wdec");
    k->xdec = LLVMBuildInBoundsGEP2(B, g->i8, c->scratch, &o1, 1, "xdec");
    k->pbound = v->pbound, k->sbound = v->sbound;
    k->pnormal = v->ptiny && v->pbound && p->mac == NR_MAC_UNFUSED && p->products.kind == NR_FLOAT &&
                 p->products.emin <= -126;
    if (k->pbound || k->sbound) {
        k->xmax = gen_ir_alloca(c, LLVMGetElementType(k->ivt), "xmax");
        LLVMBuildStore(B, LLVMConstInt(LLVMGetElementType(k->ivt), 0, 0), k->xmax);
    }
    if (v->ptiny) {
        T it = LLVMGetElementType(k->ivt);
        k->wmin = gen_ir_alloca(c, it, "wmin"), k->xmin = gen_ir_alloca(c, it, "xmin");
        LLVMBuildStore(B, LLVMConstInt(it, lane_abs(k), 0), k->wmin);
        LLVMBuildStore(B, LLVMConstInt(it, lane_abs(k), 0), k->xmin);
    }
    vexp_of(k);
    k->ftz = ftz_ok(k), k->ftz_sh = -126 - p->accumulator.emin;
    b->csr = b->csr_ftz = NULL;
    if (k->ftz) {
        b->csr = gen_ir_alloca(c, g->i32, "mxcsr"), b->csr_ftz = gen_ir_alloca(c, g->i32, "mxcsr.ftz");
        mxcsr(k, "llvm.x86.sse.stmxcsr", b->csr);
        LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildLoad2(B, g->i32, b->csr, ""), LLVMConstInt(g->i32, 0x8000, 0), ""),
                       b->csr_ftz);
    }
    k->sfin = k->track && (f16c_ok(k, &p->accumulator) || sums_inf(k));
}

/* After the decode: whether this call needs the scalar rows from the
 * start (max|x| above xlim, or a product that may be tiny: ptiny). */
static V xbig_of(vk *k)
{
    LLVMBuilderRef B = k->B;
    V xbig = NULL;
    if (k->pbound || k->sbound)
        xbig = LLVMBuildICmp(B, LLVMIntUGT, LLVMBuildLoad2(B, LLVMGetElementType(k->ivt), k->xmax, ""),
                             k->c->xlim, "xbig");
    if (k->v->ptiny) { /* min|w| * min|x| < 2^-126 (exact in double; NaN: no nonzero) */
        T it = LLVMGetElementType(k->ivt);
        V wm = LLVMBuildFPExt(B, LLVMBuildBitCast(B, LLVMBuildLoad2(B, it, k->wmin, ""), k->et, ""), k->g->f64, "");
        V xm = LLVMBuildFPExt(B, LLVMBuildBitCast(B, LLVMBuildLoad2(B, it, k->xmin, ""), k->et, ""), k->g->f64, "");
        V tiny = LLVMBuildFCmp(B, LLVMRealOLT, LLVMBuildFMul(B, wm, xm, ""), LLVMConstReal(k->g->f64, 0x1p-126), "ptiny");
        xbig = xbig ? LLVMBuildOr(B, xbig, tiny, "") : tiny;
    }
    return xbig;
}

/* [net-4] start values of the block from ob: the bias rounded to S (no SR
 * here, so one per channel), computed in a loop (one copy of the rounding
 * IR) into the buffer biasbuf, then splat into b->bias. */
static void bias_start(vk *k, vblk *b, V biasbuf, T biast)
{
    gen_lctx *c = k->c;
    gen_ctx *g = k->g;
    LLVMBuilderRef B = k->B;
    const nr_layer_prec *p = &k->L->prec;
    if (k->L->b) {
        gen_loop lj;
        gen_ir_loop_begin(c, &lj, (uint64_t)k->v->co, "bias");
        V o = LLVMBuildAdd(B, b->ob, lj.i, "");
        V s = gen_ir_decode(c, &p->weights, gen_ir_load_w(c, &p->weights, c->b, o));
        if (!nr_format_equal(&p->weights, &p->accumulator))
            s = gen_num_decode(g, &p->accumulator,
                               gen_ir_round_val(c, &p->accumulator, p->rounding, s, o,
                                             NR_EMU_TERM_BIAS));
        if (k->units)
            s = LLVMBuildFMul(B, s, LLVMConstReal(g->f64, ldexp(1.0, p->accumulator.frac_bits)), "");
        if (k->ftz)
            s = LLVMBuildFMul(B, s, LLVMConstReal(g->f64, ldexp(1.0, k->ftz_sh)), "");
        if (k->v->f32)
            s = LLVMBuildFPTrunc(B, s, k->et, "");
        V idx[2] = {gen_ir_i64(c, 0), lj.i};
        LLVMBuildStore(B, s, LLVMBuildGEP2(B, biast, biasbuf, idx, 2, ""));
        gen_ir_loop_end(c, &lj);
    }
    for (int j = 0; j < k->v->co; j++) {
        V idx[2] = {gen_ir_i64(c, 0), gen_ir_i64(c, (uint64_t)j)};
        b->bias[j] = splat(k, k->L->b ? LLVMBuildLoad2(B, k->et, LLVMBuildGEP2(B, biast, biasbuf, idx, 2, ""), "b")
                                      : LLVMConstNull(k->et));
    }
}

/* Can a kernel row fall into the padding (for any output)? */
static int any_pad_row(const vgeo *G)
{
    int any_r = 0;
    for (int r = 0; r < G->kh; r++) {
        long lo = (long)r * G->dh - G->pt, hi = (long)(G->OH - 1) * G->sh + lo;
        any_r |= lo < 0 || hi >= G->H;
    }
    return any_r;
}

/* Input channel ci0 + ci, kernel row r: the input row of each row of the
 * vector (b->xrows; one unless rpv > 1), then a branch to rowb, or to
 * skip for a padding row ([net-4]: no terms; with rpv > 1 a lane mask,
 * b->rowm), and the kernel row's base b->kb. */
static void row_begin(vk *k, vblk *b, V ci, V r, LLVMBasicBlockRef rowb, LLVMBasicBlockRef skip, int any_r)
{
    gen_lctx *c = k->c;
    gen_ctx *g = k->g;
    LLVMBuilderRef B = k->B;
    const vgeo *G = &k->G;
    const int rpv = k->v->rpv, vl = k->v->vl;
    V okr[16];
    b->rowm = NULL;
    for (int gi = 0; gi < rpv; gi++) {
        V ohg = LLVMBuildAdd(B, b->oh0, gen_ir_i64(c, (uint64_t)gi), "");
        V ih = LLVMBuildAdd(B, LLVMBuildMul(B, ohg, gen_ir_i64(c, (uint64_t)G->sh), ""),
                            LLVMBuildSub(B, LLVMBuildMul(B, r, gen_ir_i64(c, (uint64_t)G->dh), ""),
                                         gen_ir_i64(c, (uint64_t)G->pt), ""), "ih");
        okr[gi] = LLVMBuildICmp(B, LLVMIntULT, ih, gen_ir_i64(c, (uint64_t)G->H), "");
        if (rpv > 1) /* a padding row's lanes are masked; read row 0 instead */
            ih = LLVMBuildSelect(B, okr[gi], ih, gen_ir_i64(c, 0), "");
        b->xrows[gi] = LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, b->ci0, ci, ""), gen_ir_i64(c, (uint64_t)G->H), ""), ih, ""),
                                    gen_ir_i64(c, (uint64_t)G->sw * (uint64_t)k->v->wp), "xrow");
    }
    if (rpv == 1) { /* [net-4] a padding row: no terms */
        LLVMBuildCondBr(B, okr[0], rowb, skip);
    } else {
        if (any_r) { /* lane l is row l / OW */
            T rt = LLVMVectorType(g->i1, (unsigned)rpv);
            V rv = LLVMGetUndef(rt);
            for (int gi = 0; gi < rpv; gi++)
                rv = LLVMBuildInsertElement(B, rv, okr[gi], LLVMConstInt(g->i32, (uint64_t)gi, 0), "");
            V sm[16];
            for (int l = 0; l < vl; l++)
                sm[l] = LLVMConstInt(g->i32, (uint64_t)(l / G->OW), 0);
            b->rowm = LLVMBuildShuffleVector(B, rv, LLVMGetUndef(rt), LLVMConstVector(sm, (unsigned)vl), "rowmask");
        }
        LLVMBuildBr(B, rowb);
    }
    LLVMPositionBuilderAtEnd(B, rowb);
    b->kb = LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, ci, gen_ir_i64(c, (uint64_t)G->kh), ""), r, ""),
                         gen_ir_i64(c, (uint64_t)G->kw), "kb");
}

/* Kernel column qv: the input vectors xv[nv] (rpv rows of OW lanes
 * concatenated when rpv > 1) from the input column colb, and their lane
 * masks mk[nv] (NULL: every lane is a term). */
static void load_x(vk *k, vblk *b, V qv, V colb, V iwq, int allq, int qloop, V xv[], V mk[])
{
    gen_lctx *c = k->c;
    gen_ctx *g = k->g;
    LLVMBuilderRef B = k->B;
    const vgeo *G = &k->G;
    const int rpv = k->v->rpv, vl = k->v->vl, nv = k->v->nv;
    for (int vi = 0; vi < nv; vi++) {
        if (rpv == 1) {
            V idx = LLVMBuildAdd(B, LLVMBuildAdd(B, b->xrows[0], colb, ""), gen_ir_i64(c, (uint64_t)(vi * vl)), "");
            V ld = LLVMBuildLoad2(B, k->vt, ptr_at(k, k->xdec, idx), "x");
            LLVMSetAlignment(ld, (unsigned)(k->v->f32 ? 4 : 8));
            xv[vi] = ld;
        } else { /* rpv rows of OW lanes, concatenated */
            T st = LLVMVectorType(k->et, (unsigned)G->OW);
            V part[16];
            for (int gi = 0; gi < rpv; gi++) {
                V ld = LLVMBuildLoad2(B, st, ptr_at(k, k->xdec, LLVMBuildAdd(B, b->xrows[gi], colb, "")), "x");
                LLVMSetAlignment(ld, (unsigned)(k->v->f32 ? 4 : 8));
                part[gi] = ld;
            }
            for (int n = rpv, w = G->OW; n > 1; n /= 2, w *= 2)
                for (int i = 0; i < n / 2; i++) {
                    V sm[16];
                    for (int l = 0; l < 2 * w; l++)
                        sm[l] = LLVMConstInt(g->i32, (uint64_t)l, 0);
                    part[i] = LLVMBuildShuffleVector(B, part[2 * i], part[2 * i + 1],
                                                     LLVMConstVector(sm, (unsigned)(2 * w)), "");
                }
            xv[vi] = part[0];
        }
        mk[vi] = NULL;
        if (!allq && qloop && G->kw * vl <= 128) {
            mk[vi] = lane_mask(k, vi, qv);
        } else if (!allq) {
            V e[16], on[16];
            for (int l = 0; l < vl; l++) {
                int ow = lane_ow(G, vl, rpv, vi, l);
                e[l] = LLVMConstInt(g->i64, (uint64_t)ow * (uint64_t)G->sw, 0);
                on[l] = LLVMConstInt(g->i1, ow < G->OW, 0);
            }
            V iw = LLVMBuildAdd(B, LLVMConstVector(e, (unsigned)vl), iwq, "iw");
            mk[vi] = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntULT, iw, lvec(k, (uint64_t)G->W), ""),
                                  LLVMConstVector(on, (unsigned)vl), "lanes");
        }
        if (b->rowm)
            mk[vi] = mk[vi] ? LLVMBuildAnd(B, mk[vi], b->rowm, "") : b->rowm;
    }
}

/* The terms of kernel row b->kb: kernel columns as a loop (one copy of the
 * step IR keeps LLVM's compile time down), lane masks computed from q;
 * unrolled when kw = 1.  The accumulators and checks are loaded from
 * their allocas, stepped (step) and stored back. */
static void row_terms(vk *k, vblk *b)
{
    gen_lctx *c = k->c;
    LLVMBuilderRef B = k->B;
    const vgeo *G = &k->G;
    const gen_vmac *v = k->v;
    const int co = v->co, nv = v->nv, vl = v->vl, na = co * nv;
    int qloop = G->kw > 1, allq = 1;
    for (int q = 0; q < G->kw; q++)
        for (int vi = 0; vi < nv; vi++)
            allq &= lanes_all(G, vl, v->rpv, q, vi);
    gen_loop lq;
    V qv = gen_ir_i64(c, 0);
    if (qloop) {
        gen_ir_loop_begin(c, &lq, (uint64_t)G->kw, "q");
        qv = lq.i;
    }
    V cur[256];
    for (int a = 0; a < na; a++)
        cur[a] = LLVMBuildLoad2(B, k->vt, b->acc[a], "");
    V badv = LLVMBuildLoad2(B, k->mt, b->bad, "");
    k->key[0] = LLVMBuildLoad2(B, k->ivt, b->trk[0], "");
    k->key[1] = LLVMBuildLoad2(B, k->ivt, b->trk[1], "");
    k->err = LLVMBuildLoad2(B, k->ivt, b->trk[2], "");
    V c0 = LLVMBuildSub(B, LLVMBuildMul(B, qv, gen_ir_i64(c, (uint64_t)G->dw), ""),
                        gen_ir_i64(c, (uint64_t)(G->pl - v->padl)), "c0"); /* >= 0 */
    V ph = LLVMBuildURem(B, c0, gen_ir_i64(c, (uint64_t)G->sw), "ph");
    V colb = LLVMBuildAdd(B, LLVMBuildMul(B, ph, gen_ir_i64(c, (uint64_t)v->wp), ""),
                          LLVMBuildUDiv(B, c0, gen_ir_i64(c, (uint64_t)G->sw), ""), "xcol");
    /* input column of each lane: ow*sw + q*dw - pl, valid in [0, W) */
    V iwq = splat(k, LLVMBuildSub(B, LLVMBuildMul(B, qv, gen_ir_i64(c, (uint64_t)G->dw), ""),
                                  gen_ir_i64(c, (uint64_t)G->pl), ""));
    V xv[16], wsp[64], mk[16];
    load_x(k, b, qv, colb, iwq, allq, qloop, xv, mk);
    V kq = LLVMBuildAdd(B, b->kb, qv, "k");
    for (int j = 0; j < co; j++) {
        V wi = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, b->ob, gen_ir_i64(c, (uint64_t)j), ""), gen_ir_i64(c, (uint64_t)G->K), ""), kq, "");
        wsp[j] = splat(k, LLVMBuildLoad2(B, k->et, ptr_at(k, k->wdec, wi), "w"));
    }
    for (int vi = 0; vi < nv; vi++)
        for (int j = 0; j < co; j++) {
            int a = j * nv + vi;
            V ok, r = step(k, cur[a], wsp[j], xv[vi], &ok);
            cur[a] = mk[vi] ? LLVMBuildSelect(B, mk[vi], r, cur[a], "") : r;
            if (ok) {
                V nb = LLVMBuildNot(B, ok, "");
                if (mk[vi])
                    nb = LLVMBuildAnd(B, nb, mk[vi], "");
                badv = LLVMBuildOr(B, badv, nb, "");
            }
        }
    for (int a = 0; a < na; a++)
        LLVMBuildStore(B, cur[a], b->acc[a]);
    LLVMBuildStore(B, badv, b->bad);
    LLVMBuildStore(B, k->key[0], b->trk[0]);
    LLVMBuildStore(B, k->key[1], b->trk[1]);
    LLVMBuildStore(B, k->err, b->trk[2]);
    if (qloop)
        gen_ir_loop_end(c, &lq);
}

/* After the block's terms: is any lane of it bad (the running checks of
 * vk, an inf/NaN accumulator, a NaN in a fixed-point S) or the call's
 * input too large (b->xbig)?  An i1. */
static V any_bad(vk *k, vblk *b)
{
    gen_ctx *g = k->g;
    LLVMBuilderRef B = k->B;
    const nr_layer_prec *p = &k->L->prec;
    const int na = k->v->co * k->v->nv, vl = k->v->vl;
    V badm = LLVMBuildLoad2(B, k->mt, b->bad, "");
    if (k->track) {
        V kp = LLVMBuildLoad2(B, k->ivt, b->trk[0], ""), ks = LLVMBuildLoad2(B, k->ivt, b->trk[1], "");
        V er = LLVMBuildLoad2(B, k->ivt, b->trk[2], "");
        if (p->accumulator.kind == NR_FLOAT && (!k->sbound || tiny_rare(&p->accumulator)))
            badm = LLVMBuildOr(B, badm, LLVMBuildICmp(B, LLVMIntUGT, ks, ivec(k, k->lim[1]), ""), "");
        if (p->mac == NR_MAC_UNFUSED && p->products.kind == NR_FLOAT && (!k->pbound || tiny_rare(&p->products)))
            badm = LLVMBuildOr(B, badm, LLVMBuildICmp(B, LLVMIntUGT, kp, ivec(k, k->lim[0]), ""), "");
        if (p->rounding != NR_RND_RZ && !k->sexact && !ro_sums(k)) /* rz and ro take inexact sums too (rz_sum, sum_ro) */
            badm = LLVMBuildOr(B, badm, LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, er, ivec(k, lane_abs(k)), ""),
                                                      ivec(k, 0), ""), "");
        if (k->sfin) /* an inf or NaN accumulator lane (vk.sfin) */
            for (int a = 0; a < na; a++) {
                V ab = LLVMBuildAnd(B, LLVMBuildBitCast(B, LLVMBuildLoad2(B, k->vt, b->acc[a], ""), k->ivt, ""),
                                    ivec(k, lane_abs(k)), "");
                badm = LLVMBuildOr(B, badm, LLVMBuildICmp(B, LLVMIntUGE, ab, ivec(k, 0x7f800000u), ""), "");
            }
        if (p->accumulator.kind == NR_FIXED) /* a NaN reached S (fixed_int) */
            for (int a = 0; a < na; a++) {
                V av = LLVMBuildLoad2(B, k->vt, b->acc[a], "");
                badm = LLVMBuildOr(B, badm, LLVMBuildFCmp(B, LLVMRealUNO, av, av, ""), "");
            }
    }
    V anybad = LLVMBuildICmp(B, LLVMIntNE,
                             LLVMBuildBitCast(B, badm, LLVMIntTypeInContext(g->ctx, (unsigned)vl), ""),
                             LLVMConstInt(LLVMIntTypeInContext(g->ctx, (unsigned)vl), 0, 0), "anybad");
    if (b->xbig)
        anybad = LLVMBuildOr(B, anybad, b->xbig, "");
    return anybad;
}

/* A good block: the accumulators (back to values) into the row buffer,
 * then to the outputs, rounded to the layer's output format. */
static void store_block(vk *k, vblk *b)
{
    gen_lctx *c = k->c;
    gen_ctx *g = k->g;
    LLVMBuilderRef B = k->B;
    const vgeo *G = &k->G;
    const nr_layer_prec *p = &k->L->prec;
    const int co = k->v->co, nv = k->v->nv, vl = k->v->vl, na = co * nv;
    for (int a = 0; a < na; a++) {
        V idx[2] = {gen_ir_i64(c, 0), gen_ir_i64(c, (uint64_t)(a * vl))};
        V av = LLVMBuildLoad2(B, k->vt, b->acc[a], "");
        if (k->ftz) /* back to values (exact, ftz_ok) */
            av = LLVMBuildFMul(B, av, fvec(k, ldexp(1.0, -k->ftz_sh)), "");
        if (k->units) /* back to values, +0 for -0 (exact, see step_units) */
            av = LLVMBuildFAdd(B, LLVMBuildFMul(B, av, fvec(k, ldexp(1.0, -p->accumulator.frac_bits)), ""),
                               LLVMConstNull(k->vt), "");
        V st = LLVMBuildStore(B, av, LLVMBuildGEP2(B, b->rowt, b->rowbuf, idx, 2, ""));
        LLVMSetAlignment(st, (unsigned)(k->v->f32 ? 4 : 8));
    }
    if (vector_out(k, b->rowbuf, b->rowt, b->ob, b->oh0))
        return;
    /* one loop over the block's outputs: one copy of the rounding IR;
     * rpv rows of OW are contiguous, in the row buffer and the output */
    gen_loop lw;
    uint64_t per = (uint64_t)G->OW * (uint64_t)k->v->rpv;
    gen_ir_loop_begin(c, &lw, (uint64_t)co * per, "out");
    V j = LLVMBuildUDiv(B, lw.i, gen_ir_i64(c, per), "j");
    V ow = LLVMBuildURem(B, lw.i, gen_ir_i64(c, per), "ow");
    V o = LLVMBuildAdd(B, b->ob, j, "o");
    V elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, o, gen_ir_i64(c, (uint64_t)G->OH), ""), b->oh0, ""),
                                          gen_ir_i64(c, (uint64_t)G->OW), ""), ow, "elem");
    V idx[2] = {gen_ir_i64(c, 0), LLVMBuildAdd(B, LLVMBuildMul(B, j, gen_ir_i64(c, (uint64_t)(nv * vl)), ""), ow, "")};
    V a = LLVMBuildLoad2(B, k->et, LLVMBuildGEP2(B, b->rowt, b->rowbuf, idx, 2, ""), "acc");
    if (k->v->f32)
        a = LLVMBuildFPExt(B, a, g->f64, "");
    gen_ir_store_out(c, k->li, a, elem);
    gen_ir_loop_end(c, &lw);
}

/* A bad block: its co x rpv rows again by the scalar row code (never
 * bad on the host: host arithmetic is exact on every lane). */
static int redo_block(vk *k, vblk *b, nr_err *err)
{
    gen_lctx *c = k->c;
    LLVMBuilderRef B = k->B;
    if (k->v->host)
        return 0;
    gen_loop lj, lg;
    gen_ir_loop_begin(c, &lj, (uint64_t)k->v->co, "redo.o");
    gen_ir_loop_begin(c, &lg, (uint64_t)k->v->rpv, "redo.oh");
    int rc = gen_emit_mac_row(c, k->li, LLVMBuildAdd(B, b->ob, lj.i, ""), LLVMBuildAdd(B, b->oh0, lg.i, ""), err);
    if (rc)
        return rc;
    gen_ir_loop_end(c, &lg);
    gen_ir_loop_end(c, &lj);
    return 0;
}

/* The block's results: the fast rows, or the scalar row code for a bad
 * block. */
static int block_end(vk *k, vblk *b, nr_err *err)
{
    gen_ctx *g = k->g;
    LLVMBuilderRef B = k->B;
    LLVMBasicBlockRef good = LLVMAppendBasicBlockInContext(g->ctx, k->c->fn, "rows.fast");
    LLVMBasicBlockRef redo = LLVMAppendBasicBlockInContext(g->ctx, k->c->fn, "rows.redo");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, k->c->fn, "rows.done");
    LLVMBuildCondBr(B, any_bad(k, b), redo, good);
    LLVMPositionBuilderAtEnd(B, good);
    store_block(k, b);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, redo);
    int rc = redo_block(k, b, err);
    if (rc)
        return rc;
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
    return 0;
}

/* The block's allocas: accumulators, checks, the row and bias buffers. */
static void block_allocas(vk *k, vblk *b, V *biasbuf, T *biast)
{
    gen_lctx *c = k->c;
    const int na = k->v->co * k->v->nv;
    for (int a = 0; a < na; a++)
        b->acc[a] = gen_ir_alloca(c, k->vt, "acc");
    b->bad = gen_ir_alloca(c, k->mt, "bad");
    for (int i = 0; i < 3; i++)
        b->trk[i] = gen_ir_alloca(c, k->ivt, "check");
    b->rowt = LLVMArrayType(k->et, (unsigned)(na * k->v->vl));
    b->rowbuf = gen_ir_alloca(c, b->rowt, "row.out");
    *biast = LLVMArrayType(k->et, (unsigned)k->v->co);
    *biasbuf = gen_ir_alloca(c, *biast, "bias");
}

/* A row block's accumulators from the start values, its checks cleared,
 * MXCSR with FTZ (vk.ftz). */
static void block_begin(vk *k, vblk *b)
{
    LLVMBuilderRef B = k->B;
    const int na = k->v->co * k->v->nv;
    for (int a = 0; a < na; a++)
        LLVMBuildStore(B, b->bias[a / k->v->nv], b->acc[a]);
    LLVMBuildStore(B, LLVMConstNull(k->mt), b->bad);
    for (int i = 0; i < 3; i++)
        LLVMBuildStore(B, LLVMConstNull(k->ivt), b->trk[i]);
    if (k->ftz)
        mxcsr(k, "llvm.x86.sse.ldmxcsr", b->csr_ftz);
}

int gen_emit_vmac(gen_lctx *c, int li, const gen_vmac *v, nr_err *err)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    vk k;
    vblk b;
    vk_init(&k, &b, c, li, v);
    const vgeo *G = &k.G;
    emit_decode(&k);
    b.xbig = xbig_of(&k);
    V biasbuf;
    T biast;
    block_allocas(&k, &b, &biasbuf, &biast);

    gen_loop lb, lh, lc, lr;
    gen_ir_loop_begin(c, &lb, (uint64_t)(G->O / v->co), "oblk");
    b.ob = LLVMBuildMul(B, lb.i, gen_ir_i64(c, (uint64_t)v->co), "o0");
    b.ci0 = LLVMBuildMul(B, LLVMBuildUDiv(B, b.ob, gen_ir_i64(c, (uint64_t)G->cout_g), ""),
                         gen_ir_i64(c, (uint64_t)G->cin_g), "ci0");
    bias_start(&k, &b, biasbuf, biast);
    int any_r = any_pad_row(G);
    gen_ir_loop_begin(c, &lh, (uint64_t)(G->OH / v->rpv), "oh");
    b.oh0 = v->rpv > 1 ? LLVMBuildMul(B, lh.i, gen_ir_i64(c, (uint64_t)v->rpv), "oh0") : lh.i;
    block_begin(&k, &b);
    gen_ir_loop_begin(c, &lc, (uint64_t)G->cin_g, "ci");
    gen_ir_loop_begin(c, &lr, (uint64_t)G->kh, "r");
    LLVMBasicBlockRef rowb = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "row");
    LLVMBasicBlockRef skip = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "rowskip");
    row_begin(&k, &b, lc.i, lr.i, rowb, skip, any_r);
    row_terms(&k, &b);
    LLVMBuildBr(B, skip);
    LLVMPositionBuilderAtEnd(B, skip);
    gen_ir_loop_end(c, &lr);
    gen_ir_loop_end(c, &lc);
    if (k.ftz)
        mxcsr(&k, "llvm.x86.sse.ldmxcsr", b.csr);
    int rc = block_end(&k, &b, err);
    if (rc)
        return rc;
    gen_ir_loop_end(c, &lh);
    gen_ir_loop_end(c, &lb);
    return 0;
}
