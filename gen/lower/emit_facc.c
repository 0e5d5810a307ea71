/* emit_facc.c -- a dot product's narrow-format arithmetic on a single-
 * precision FPU (Cortex-M4/M7: gen_ctx.f32_hw on an int_narrow target; used
 * by emit_mac_int.c when gen_facc_ok, else emit_iacc.c's integer code).
 * The accumulator is held as the float32 bits of its S value (every value
 * of W, X, P and S is a float32 value, gen_facc_ok), and a term
 * round_S(acc + round_P(w*x)) ([net-4], rne, unfused) is:
 *
 *   1. w and x decoded to float32: a 2^width-entry table of float32 bits
 *      (formats up to 8 bits), or for a format without subnormals by moving
 *      its fields (exponent rebias: every value is a float32 normal); a
 *      zero decodes to +-0, NaN/inf to NaN;
 *   2. pe = w*x in the FPU: exact (prec(W)+prec(X) <= 24 significant bits,
 *      and every nonzero product lies in [2^-126, 2^128));
 *   3. p = round_P(pe), no double rounding: pe is exact.  When 2^emin(P) <=
 *      |pe| <= max(P), P's values around pe are those of a prec(P)-bit
 *      float, and rne to Y = man_bits(P) fraction bits is integer code on
 *      the float32 bits b (sh = 23 - Y):
 *          (b + 2^(sh-1) - 1 + ((b >> sh) & 1)) & ~(2^sh - 1)
 *      (a carry out of the fraction steps the exponent: the next binade's
 *      first value, still <= max(P) as |pe| <= max(P)).  When |pe| <
 *      2^emin(P) and P has subnormals, the quantum is 2^q, q = qmin(P):
 *      (pe + C) - C with C = 1.5 * 2^(q+23) in the FPU's rne: C + pe lies
 *      in [2^(q+23), 2^(q+24)) (|pe| < 2^(q+Y) <= 2^(q+22)), where float32's
 *      spacing is 2^q, so it is C + rne(pe / 2^q) * 2^q (C / 2^q even: the
 *      tie goes to the even multiple of 2^q), and the subtraction is exact.
 *      A product rounding to +-0 (or a zero operand) leaves a nonzero acc
 *      as it is (acc + +-0 = acc, [rnd-4]); with a zero acc it takes the
 *      general step.  Anything else (overflow, NaN/inf, below 2^emin(P)
 *      without subnormals) takes the general step;
 *   4. s = acc + p in the FPU (rne) and round_S(s) by the same integer
 *      code, when 2^emin(S) < |s| < max(S) (or, see below, any |s| <
 *      max(S)).  The float32 sum t = fl(acc + p) is either exact or its
 *      double rounding is innocuous:
 *      (a) exact: every S and P value is a multiple of 2^q (q = the smaller
 *          of qmin(S), qmin(P)) and |acc + p| < 2^(E+2) (E the larger emax):
 *          when E + 2 - q <= 24 the sum fits float32's 24 bits (e4m3: 19).
 *          If moreover S has subnormals and qmin(P) >= qmin(S), a sum below
 *          2^emin(S) is a multiple of 2^qmin(S) below 2^emin(S), an S value
 *          with at most Y bits, which the integer code leaves as it is, and
 *          an exact zero sum is float32's +0, [rnd-4]'s +0 under rne: then
 *          every |s| < max(S) is fast.
 *      (b) not exact (rne, prec(P) <= prec(S) = p_S, max(prec) = p <= 11):
 *          t = RN24(s) with s = acc + p; only 2^emin(S) < |t| < max(S) is
 *          fast, so by monotony 2^emin(S) < |s| < max(S) (both bounds are
 *          float32 values), where RN_S is rounding to p_S bits.  Every
 *          p_S-bit value and p_S-midpoint (p_S + 1 bits) is a float32 value,
 *          so by monotony RN_S(t) != RN_S(s) only if t is a midpoint m != s,
 *          i.e. 0 < |s - m| <= 2^(e-24), e = floor(log2 |s|).  Then s is not
 *          a 24-bit number, so an operand y has its last bit at 2^(e-24) or
 *          below: |y| < 2^(e-24+p); the other, z, has |z| > 2^e - |y| >=
 *          2^(e-1), so its last bit is at 2^(e-p) or above.  m (binade >=
 *          e-1, p_S + 1 bits) is a multiple of 2^(e-1-p_S), hence of
 *          2^(e-1-p); so is z.  If z != m, |z - m| >= 2^(e-1-p) and
 *          |s - m| >= 2^(e-1-p) - 2^(e-24+p) > 2^(e-24) for p <= 11.  And
 *          z != m: z is an S value (at most p_S bits) or a P value (at most
 *          prec(P) <= p_S bits), never a p_S-midpoint.  So RN_S(t) = RN_S(s)
 *          (this is Figueroa's double-rounding bound for addition, 24 >=
 *          2p + 2, proved here for the mixed precisions it is used with).
 *
 * The general step (the slow path) is emit_num_int.c's gen_numi_fn_step on
 * encodings, out of line: acc's float32 bits are converted to the S
 * encoding (exact), stepped with the original w and x encodings, and back.
 * So every result is the one [rnd-*] defines, bit-exact with the emulator.
 * The FPU must run in its reset rounding mode (round to nearest even, no
 * flush-to-zero): the code never changes FPSCR. */
#include "iacc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;
typedef LLVMBasicBlockRef BB;

static V c32(gen_ctx *g, int64_t v) { return LLVMConstInt(g->i32, (uint64_t)v, 1); }
static V and_(gen_ctx *g, V a, V b) { return LLVMBuildAnd(g->b, a, b, ""); }
static V icmp(gen_ctx *g, LLVMIntPredicate p, V a, V b) { return LLVMBuildICmp(g->b, p, a, b, ""); }
static T f32t(gen_ctx *g) { return LLVMFloatTypeInContext(g->ctx); }
static V as_f(gen_ctx *g, V i) { return LLVMBuildBitCast(g->b, i, f32t(g), ""); }
static V as_i(gen_ctx *g, V f) { return LLVMBuildBitCast(g->b, f, g->i32, ""); }
static BB block(gen_lctx *c, const char *name)
{
    return LLVMAppendBasicBlockInContext(c->g->ctx, c->fn, name);
}

static int qmin(const nr_format *f) { return f->emin - f->man_bits; }
static uint64_t mag_mask(const nr_format *f) { return ((1ull << f->width) - 1) & ~f->sign_mask; }
static uint32_t f32_bits(double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* w, x decodable to float32: by table (<= 8 bits) or by moving fields (no
 * subnormals: every nonzero value a float32 normal). */
static int decodable(const nr_format *f)
{
    if (!gen_iacc_range_proved(f) || !nr_format_fits_f32(f))
        return 0;
    return f->width <= 8 || (!f->subnormals && f->emin >= -126 && f->man_bits <= 23);
}

/* A rounding target (P or S): the integer code needs Y >= 1, normals of
 * float32 and the values' range inside float32's normal range. */
static int target_ok(const nr_format *f)
{
    return gen_iacc_range_proved(f) && nr_format_fits_f32(f) && f->man_bits >= 1 &&
           f->emin >= -126 && f->emax <= 126;
}

/* The sum is exact in float32 (case (a) above). */
static int sum_exact(const nr_format *pf, const nr_format *sf)
{
    int q = qmin(pf) < qmin(sf) ? qmin(pf) : qmin(sf);
    int E = pf->emax > sf->emax ? pf->emax : sf->emax;
    return E + 2 - q <= 24;
}

int gen_facc_ok(const gen_ctx *g, const nr_format *wf, const nr_format *xf, const nr_format *pf,
                const nr_format *sf, nr_rounding mode, int fused)
{
    if (!g->f32_hw || mode != NR_RND_RNE || fused)
        return 0;
    if (!decodable(wf) || !decodable(xf) || !target_ok(pf) || !target_ok(sf))
        return 0;
    if (wf->prec + xf->prec > 24)
        return 0;
    /* nonzero products in [2^-126, 2^128) */
    int lw = wf->subnormals ? qmin(wf) : wf->emin, lx = xf->subnormals ? qmin(xf) : xf->emin;
    if (lw + lx < -126 || wf->emax + xf->emax + 2 > 128)
        return 0;
    /* the floor constant 1.5 * 2^(q+23) of a P with subnormals */
    if (pf->subnormals && qmin(pf) + 24 > 127)
        return 0;
    if (sum_exact(pf, sf))
        return 1;
    int p = pf->prec > sf->prec ? pf->prec : sf->prec;
    return pf->prec <= sf->prec && p <= 11;
}

/* ------------------------------------------------------------ pieces */

/* The float32 value table of a format up to 8 bits (one per module). */
static V table_of(gen_ctx *g, const nr_format *f)
{
    char fn[64], name[96];
    nr_format_name(f, fn, sizeof fn);
    snprintf(name, sizeof name, "numi.f32tab.%s", fn);
    V t = LLVMGetNamedGlobal(g->mod, name);
    if (t)
        return t;
    unsigned n = 1u << f->width;
    V vals[256];
    for (unsigned i = 0; i < n; i++) {
        double v = nr_decode(f, i);
        vals[i] = c32(g, isnan(v) ? 0x7fc00000 : (int64_t)f32_bits(v));
    }
    T at = LLVMArrayType(g->i32, n);
    t = LLVMAddGlobal(g->mod, at, name);
    LLVMSetInitializer(t, LLVMConstArray(g->i32, vals, n));
    LLVMSetGlobalConstant(t, 1);
    LLVMSetLinkage(t, LLVMInternalLinkage);
    LLVMSetUnnamedAddress(t, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(t, 4);
    return t;
}

/* float32 bits (i32) of the encoding b (i32) of f. */
static V decode(gen_ctx *g, const gen_facc *fa, const nr_format *f, V b)
{
    LLVMBuilderRef B = g->b;
    if (f->width <= 8) {
        V tab = f == fa->wf ? fa->tw : fa->tx;
        V idx[2] = {c32(g, 0), and_(g, b, c32(g, (1 << f->width) - 1))};
        V p = LLVMBuildInBoundsGEP2(B, LLVMGlobalGetValueType(tab), tab, idx, 2, "");
        return LLVMBuildLoad2(B, g->i32, p, "dec");
    }
    /* no subnormals: exponent field E >= 1 is float32's E + 127 - bias */
    const int Y = f->man_bits;
    V mag = and_(g, b, c32(g, (int64_t)mag_mask(f)));
    V v = LLVMBuildAdd(B, LLVMBuildShl(B, mag, c32(g, 23 - Y), ""), c32(g, (int64_t)(127 - f->bias) << 23), "");
    v = LLVMBuildSelect(B, icmp(g, LLVMIntULT, mag, c32(g, 1ll << Y)), c32(g, 0), v, "");
    if (f->max_bits < mag_mask(f)) /* encodings above max: NaN or inf */
        v = LLVMBuildSelect(B, icmp(g, LLVMIntUGT, mag, c32(g, (int64_t)f->max_bits)), c32(g, 0x7fc00000), v, "");
    V sg = LLVMBuildShl(B, LLVMBuildLShr(B, b, c32(g, f->width - 1), ""), c32(g, 31), "");
    return LLVMBuildOr(B, v, sg, "dec");
}

/* rne of the float32 bits b to f's Y fraction bits (b's magnitude within
 * f's normal range: see 3. above). */
static V round_bits(gen_ctx *g, const nr_format *f, V b)
{
    LLVMBuilderRef B = g->b;
    const int sh = 23 - f->man_bits;
    V lsb = and_(g, LLVMBuildLShr(B, b, c32(g, sh), ""), c32(g, 1));
    V t = LLVMBuildAdd(B, LLVMBuildAdd(B, b, c32(g, (1ll << (sh - 1)) - 1), ""), lsb, "");
    return and_(g, t, c32(g, (int64_t)(uint32_t) ~((1u << sh) - 1)));
}

/* i1: lo <= (b & 0x7fffffff) <= hi */
static V in_range(gen_ctx *g, V b, uint32_t lo, uint32_t hi)
{
    V m = and_(g, b, c32(g, 0x7fffffff));
    return icmp(g, LLVMIntULE, LLVMBuildSub(g->b, m, c32(g, lo), ""), c32(g, (int64_t)(hi - lo)));
}

/* The body of fn(bits) = the S encoding of float32 bits that are an S
 * value: a normal of S by moving fields, anything else (zeros, subnormals,
 * NaN, inf) by emit_num_int.c's general conversion (exact either way). */
static void from_f32_body(gen_ctx *g, const nr_format *f, V fn)
{
    LLVMBuilderRef B = g->b;
    V b = LLVMGetParam(fn, 0);
    BB fast = LLVMAppendBasicBlockInContext(g->ctx, fn, "fast");
    BB gen = LLVMAppendBasicBlockInContext(g->ctx, fn, "general");
    LLVMBuildCondBr(B, in_range(g, b, f32_bits(ldexp(1.0, f->emin)), f32_bits(f->max_finite)), fast, gen);
    LLVMPositionBuilderAtEnd(B, fast);
    const int Y = f->man_bits;
    V m = LLVMBuildLShr(B, and_(g, b, c32(g, 0x7fffffff)), c32(g, 23 - Y), "");
    m = LLVMBuildSub(B, m, c32(g, (int64_t)(127 - f->bias) << Y), "");
    V sg = LLVMBuildShl(B, LLVMBuildLShr(B, b, c32(g, 31), ""), c32(g, f->width - 1), "");
    LLVMBuildRet(B, LLVMBuildOr(B, m, sg, ""));
    LLVMPositionBuilderAtEnd(B, gen);
    V e = gen_numi_from_f32(g, f, NR_RND_RNE, b);
    LLVMBuildRet(B, LLVMBuildTrunc(B, e, g->i32, ""));
}

/* The out-of-line helpers: S encoding <-> float32 bits, and the general
 * step on float32 bits (one of each per module and format combination). */
static void helpers(gen_ctx *g, gen_facc *fa)
{
    char s[4][64], name[400];
    nr_format_name(fa->wf, s[0], sizeof s[0]);
    nr_format_name(fa->xf, s[1], sizeof s[1]);
    nr_format_name(fa->pf, s[2], sizeof s[2]);
    nr_format_name(fa->sf, s[3], sizeof s[3]);
    T a1[1] = {g->i32}, a3[3] = {g->i32, g->i32, g->i32};
    fa->conv_ty = LLVMFunctionType(g->i32, a1, 1, 0);
    fa->slow_ty = LLVMFunctionType(g->i32, a3, 3, 0);
    BB saved = LLVMGetInsertBlock(g->b);
    snprintf(name, sizeof name, "numi.facc.tof32.%s", s[3]);
    if (!(fa->tof = LLVMGetNamedFunction(g->mod, name))) {
        fa->tof = gen_iacc_new_fn(g, name, fa->conv_ty);
        LLVMBuildRet(g->b, gen_numi_to_f32(g, fa->sf, LLVMGetParam(fa->tof, 0)));
    }
    snprintf(name, sizeof name, "numi.facc.fromf32.%s", s[3]);
    if (!(fa->fromf = LLVMGetNamedFunction(g->mod, name))) {
        fa->fromf = gen_iacc_new_fn(g, name, fa->conv_ty);
        from_f32_body(g, fa->sf, fa->fromf);
    }
    snprintf(name, sizeof name, "numi.facc.slow.%s.%s.%s.%s", s[0], s[1], s[2], s[3]);
    if (!(fa->slow = LLVMGetNamedFunction(g->mod, name))) {
        V step = gen_numi_fn_step(g, fa->wf, fa->xf, fa->pf, fa->sf, NR_RND_RNE, 0);
        fa->slow = gen_iacc_new_fn(g, name, fa->slow_ty);
        V a = LLVMGetParam(fa->slow, 0);
        V enc = LLVMBuildCall2(g->b, fa->conv_ty, fa->fromf, &a, 1, "");
        V sa[3] = {enc, LLVMGetParam(fa->slow, 1), LLVMGetParam(fa->slow, 2)};
        V r = LLVMBuildCall2(g->b, fa->slow_ty, step, sa, 3, "");
        LLVMBuildRet(g->b, LLVMBuildCall2(g->b, fa->conv_ty, fa->tof, &r, 1, ""));
    }
    if (saved)
        LLVMPositionBuilderAtEnd(g->b, saved);
}

/* ------------------------------------------------------------ interface */

void gen_facc_init(gen_lctx *c, gen_facc *fa, const nr_format *wf, const nr_format *xf,
                   const nr_format *pf, const nr_format *sf, int w_finite)
{
    gen_ctx *g = c->g;
    memset(fa, 0, sizeof *fa);
    fa->w_finite = w_finite;
    fa->wf = wf, fa->xf = xf, fa->pf = pf, fa->sf = sf;
    fa->tw = wf->width <= 8 ? table_of(g, wf) : NULL;
    fa->tx = xf->width <= 8 ? table_of(g, xf) : NULL;
    fa->lo_p = f32_bits(ldexp(1.0, pf->emin));
    fa->hi_p = f32_bits(pf->max_finite);
    fa->hi_s = f32_bits(sf->max_finite) - 1;
    if (sum_exact(pf, sf))
        fa->lo_s = sf->subnormals && qmin(pf) >= qmin(sf) ? 0 : f32_bits(ldexp(1.0, sf->emin));
    else
        fa->lo_s = f32_bits(ldexp(1.0, sf->emin)) + 1;
    fa->acc = gen_ir_alloca(c, g->i32, "facc");
    helpers(g, fa);
}

void gen_facc_set(gen_lctx *c, gen_facc *fa, V enc)
{
    LLVMBuildStore(c->g->b, LLVMBuildCall2(c->g->b, fa->conv_ty, fa->tof, &enc, 1, ""), fa->acc);
}

V gen_facc_get(gen_lctx *c, gen_facc *fa)
{
    V a = LLVMBuildLoad2(c->g->b, c->g->i32, fa->acc, "");
    return LLVMBuildCall2(c->g->b, fa->conv_ty, fa->fromf, &a, 1, "");
}

/* i1: the zero operand or zero product may be skipped: w, x finite (a NaN
 * or inf times zero is NaN; w is not tested when the layer's weights are
 * known finite) and acc nonzero. */
static V zero_keep(gen_ctx *g, const gen_facc *fa, V w, V x, V acc)
{
    V k = icmp(g, LLVMIntNE, and_(g, acc, c32(g, 0x7fffffff)), c32(g, 0));
    const nr_format *f[2] = {fa->wf, fa->xf};
    V b[2] = {w, x};
    for (int i = fa->w_finite; i < 2; i++)
        if (f[i]->max_bits < mag_mask(f[i]))
            k = and_(g, k, icmp(g, LLVMIntULE, and_(g, b[i], c32(g, (int64_t)mag_mask(f[i]))),
                                c32(g, (int64_t)f[i]->max_bits)));
    return k;
}

void gen_facc_term(gen_lctx *c, gen_facc *fa, V w, V x)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_format *pf = fa->pf;
    BB bmul = block(c, "f.mul"), bzero = block(c, "f.zero"), bpn = block(c, "f.pn");
    BB bplo = block(c, "f.plo"), bsum = block(c, "f.sum"), bslow = block(c, "f.slow");
    BB bnext = block(c, "f.next"), bst = block(c, "f.store");
    V acc = LLVMBuildLoad2(B, g->i32, fa->acc, "acc");
    /* a zero activation (the common zero: after relu) skips the multiply */
    V xm = and_(g, x, c32(g, (int64_t)mag_mask(fa->xf)));
    LLVMBuildCondBr(B, icmp(g, LLVMIntULT, xm, c32(g, (int64_t)(fa->xf->subnormals ? 1 : 1ull << fa->xf->man_bits))),
                    bzero, bmul);

    LLVMPositionBuilderAtEnd(B, bzero);
    LLVMBuildCondBr(B, zero_keep(g, fa, w, x, acc), bnext, bslow);

    LLVMPositionBuilderAtEnd(B, bmul);
    V pe = LLVMBuildFMul(B, as_f(g, decode(g, fa, fa->wf, w)), as_f(g, decode(g, fa, fa->xf, x)), "pe");
    V pb = as_i(g, pe);
    LLVMBuildCondBr(B, in_range(g, pb, fa->lo_p, fa->hi_p), bpn, bplo);

    LLVMPositionBuilderAtEnd(B, bpn);
    V p1 = round_bits(g, pf, pb);
    LLVMBuildBr(B, bsum);

    /* below 2^emin(P): the subnormals' quantum, or a zero */
    LLVMPositionBuilderAtEnd(B, bplo);
    V below = icmp(g, LLVMIntULT, and_(g, pb, c32(g, 0x7fffffff)), c32(g, fa->lo_p));
    V p2 = c32(g, 0);
    BB bp2 = bplo;
    if (pf->subnormals) {
        BB bfl = block(c, "f.floor");
        LLVMBuildCondBr(B, below, bfl, bslow);
        LLVMPositionBuilderAtEnd(B, bfl);
        V C = LLVMConstReal(f32t(g), ldexp(1.5, qmin(pf) + 23));
        p2 = as_i(g, LLVMBuildFSub(B, LLVMBuildFAdd(B, pe, C, ""), C, ""));
        bp2 = bfl;
        LLVMBuildCondBr(B, icmp(g, LLVMIntEQ, p2, c32(g, 0)), bzero, bsum);
    } else {
        LLVMBuildCondBr(B, and_(g, below, icmp(g, LLVMIntEQ, and_(g, pb, c32(g, 0x7fffffff)), c32(g, 0))),
                        bzero, bslow);
        bp2 = NULL;
    }

    LLVMPositionBuilderAtEnd(B, bsum);
    V p = LLVMBuildPhi(B, g->i32, "p");
    V pv[2] = {p1, p2};
    BB pbb[2] = {bpn, bp2};
    LLVMAddIncoming(p, pv, pbb, bp2 ? 2 : 1);
    V sb = as_i(g, LLVMBuildFAdd(B, as_f(g, acc), as_f(g, p), "s"));
    LLVMBuildCondBr(B, in_range(g, sb, fa->lo_s, fa->hi_s), bst, bslow);

    LLVMPositionBuilderAtEnd(B, bst);
    LLVMBuildStore(B, round_bits(g, fa->sf, sb), fa->acc);
    LLVMBuildBr(B, bnext);

    LLVMPositionBuilderAtEnd(B, bslow);
    V a[3] = {acc, w, x};
    LLVMBuildStore(B, LLVMBuildCall2(B, fa->slow_ty, fa->slow, a, 3, ""), fa->acc);
    LLVMBuildBr(B, bnext);
    LLVMPositionBuilderAtEnd(B, bnext);
}
