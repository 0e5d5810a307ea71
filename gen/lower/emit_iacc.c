/* emit_iacc.c -- a dot product's accumulator kept unpacked in integer
 * registers, for targets without double hardware (Cortex-M; used by
 * emit_mac_int.c when gen_iacc_ok).  emit_num_int.c's step function takes
 * and returns the S encoding, so every term unpacked and packed the
 * accumulator and paid a call; here the accumulator is the pair (A, Ae),
 * the S value A * 2^Ae (A signed), across the whole sum, and each term is
 * inline code in 32-bit integers:
 *   - both operands finite and nonzero (one compare each on the magnitude
 *     bits, proved at generation time over every encoding), else a side
 *     path: a zero product leaves a nonzero acc as it is (acc + +-0 = acc,
 *     an S value), anything else takes the general step;
 *   - the product of the significands is one 32-bit multiply N, exponents
 *     add; unfused, round_P(N * 2^e) by round_fast below;
 *   - the sum aligns both to the smaller exponent when they are at most D
 *     bits apart (exact: |sum| < 2^30); a product more than D bits below
 *     acc is less than a quarter of acc's spacing (far_keep), so under rne
 *     and rna acc + p rounds to acc; other far cases take the general step;
 *   - when S's whole range fits 32 bits as multiples of its subnormal
 *     quantum (e4m3) and products round to S, A counts those units and
 *     the sum is one add (grid_sum);
 *   - round_S by round_fast; an exact zero sum ([rnd-4]: its sign), a
 *     result at or above 2^emax (overflow rules), below 2^emin in a format
 *     without subnormals, or a result that rounds to zero take the
 *     general step.
 * The general step (the slow path) is emit_num_int.c's gen_numi_fn_step on
 * encodings, out of line: the state is packed (exact), stepped and
 * unpacked again.  Every result is therefore the one [rnd-*] defines,
 * bit-exact with the emulator. */
#include "iacc.h"

#include <math.h>
#include <stdio.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;
typedef LLVMBasicBlockRef BB;

static V c32(gen_ctx *g, int64_t v) { return LLVMConstInt(g->i32, (uint64_t)v, 1); }
static V add(gen_ctx *g, V a, V b) { return LLVMBuildAdd(g->b, a, b, ""); }
static V sub(gen_ctx *g, V a, V b) { return LLVMBuildSub(g->b, a, b, ""); }
static V and_(gen_ctx *g, V a, V b) { return LLVMBuildAnd(g->b, a, b, ""); }
static V sel(gen_ctx *g, V c, V a, V b) { return LLVMBuildSelect(g->b, c, a, b, ""); }
static V icmp(gen_ctx *g, LLVMIntPredicate p, V a, V b) { return LLVMBuildICmp(g->b, p, a, b, ""); }
static V smax(gen_ctx *g, V a, V b) { return sel(g, icmp(g, LLVMIntSGT, a, b), a, b); }
static BB block(gen_lctx *c, const char *name)
{
    return LLVMAppendBasicBlockInContext(c->g->ctx, c->fn, name);
}

/* Magnitude bits of an encoding, and the smallest nonzero one. */
static uint64_t mag_mask(const nr_format *f) { return ((1ull << f->width) - 1) & ~f->sign_mask; }
static uint64_t mag_lo(const nr_format *f) { return f->subnormals ? 1 : 1ull << f->man_bits; }

/* Generation-time proof of operand_ok's and zero_keep's range tests:
 * every magnitude in [mag_lo, max_bits] is a finite nonzero value, and
 * every encoding (either sign) with a magnitude below mag_lo is a zero
 * (so fnuz, whose NaN is "-0", is not covered). */
int gen_iacc_range_proved(const nr_format *f)
{
    if (f->kind != NR_FLOAT || f->width > 16 || f->prec > 12 || f->emax > 200 || f->emin < -200)
        return 0;
    for (uint64_t m = 0; m <= f->max_bits; m++) {
        double v = nr_decode(f, m);
        if (m >= mag_lo(f) ? !isfinite(v) || v == 0 : v != 0 || nr_decode(f, m | f->sign_mask) != 0)
            return 0;
    }
    return (f->max_bits & f->sign_mask) == 0;
}

/* Exponent of bit 0 of the smallest unpacked significand of f. */
static int qmin(const nr_format *f) { return f->emin - f->man_bits; }

int gen_iacc_ok(const nr_format *wf, const nr_format *xf, const nr_format *pf,
                const nr_format *sf, nr_rounding mode, int fused)
{
    if (mode != NR_RND_RNE && mode != NR_RND_RNA && mode != NR_RND_RZ && mode != NR_RND_RU &&
        mode != NR_RND_RD)
        return 0;
    if (!gen_iacc_range_proved(wf) || !gen_iacc_range_proved(xf) || !gen_iacc_range_proved(sf) ||
        (!fused && !gen_iacc_range_proved(pf)))
        return 0;
    int pb = fused ? wf->prec + xf->prec : pf->prec + 1;
    int mb = pb > sf->prec + 1 ? pb : sf->prec + 1;
    return 29 - mb >= 8; /* a useful window D */
}

/* ------------------------------------------------------------ helpers */

/* i1: b (i32) is a finite nonzero encoding of f. */
static V operand_ok(gen_ctx *g, const nr_format *f, V b)
{
    V m = and_(g, b, c32(g, (int64_t)mag_mask(f)));
    return icmp(g, LLVMIntULE, sub(g, m, c32(g, (int64_t)mag_lo(f))),
                c32(g, (int64_t)(f->max_bits - mag_lo(f))));
}

/* i1: w * x is a zero product of finite operands: one magnitude below
 * mag_lo (a zero, range_proved), the other <= max_bits (finite). */
static V zero_keep(gen_ctx *g, const gen_iacc *ia, V w, V x)
{
    V mw = and_(g, w, c32(g, (int64_t)mag_mask(ia->wf))), mx = and_(g, x, c32(g, (int64_t)mag_mask(ia->xf)));
    V z = LLVMBuildOr(g->b, icmp(g, LLVMIntULT, mw, c32(g, (int64_t)mag_lo(ia->wf))),
                      icmp(g, LLVMIntULT, mx, c32(g, (int64_t)mag_lo(ia->xf))), "");
    V f = and_(g, icmp(g, LLVMIntULE, mw, c32(g, (int64_t)ia->wf->max_bits)),
               icmp(g, LLVMIntULE, mx, c32(g, (int64_t)ia->xf->max_bits)));
    return and_(g, z, f);
}

/* Significand and exponent of a finite nonzero encoding b of f. */
static void unpack_fin(gen_ctx *g, const nr_format *f, V b, V *sig, V *exp)
{
    const int Y = f->man_bits;
    V E = LLVMBuildLShr(g->b, and_(g, b, c32(g, (int64_t)f->exp_mask)), c32(g, Y), "");
    V M = and_(g, b, c32(g, (int64_t)f->man_mask));
    V hid = c32(g, 1ll << Y);
    if (f->subnormals) { /* exponent field 0: M * 2^(emin-Y) */
        V nz = icmp(g, LLVMIntNE, E, c32(g, 0));
        *sig = LLVMBuildOr(g->b, M, sel(g, nz, hid, c32(g, 0)), "");
        E = sel(g, nz, E, c32(g, 1));
    } else {
        *sig = LLVMBuildOr(g->b, M, hid, "");
    }
    *exp = sub(g, E, c32(g, f->bias + Y));
}

/* N (0 < N < 2^30, sign neg) rounded at sh (0..29) bits in mode: r =
 * (2N + bias) >> (sh + 1), bias choosing the mode (rne: 2^sh - 1 + the
 * kept lsb; with sh = 0 it is exact: (2N + 0 + odd) >> 1 = N). */
static V rnd_bits(gen_lctx *c, nr_rounding mode, V N, V sh, V neg)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V one = LLVMBuildShl(B, c32(g, 1), sh, "");
    V two = sub(g, LLVMBuildShl(B, one, c32(g, 1), ""), c32(g, 1));
    V bias;
    switch (mode) {
    case NR_RND_RNE:
        bias = add(g, sub(g, one, c32(g, 1)), and_(g, LLVMBuildLShr(B, N, sh, ""), c32(g, 1)));
        break;
    case NR_RND_RNA: bias = one; break;
    case NR_RND_RU: bias = sel(g, neg, c32(g, 0), two); break;
    case NR_RND_RD: bias = sel(g, neg, two, c32(g, 0)); break;
    default: bias = c32(g, 0); break; /* rz */
    }
    V t = add(g, LLVMBuildShl(B, N, c32(g, 1), ""), bias);
    return LLVMBuildLShr(B, t, add(g, sh, c32(g, 1)), "r");
}

/* Round the exact value N * 2^e (0 < N < 2^30; neg: its sign) into f in
 * mode: returns the magnitude r (i32; the result is r * 2^*q, r <= 2^prec,
 * r == 0 when it rounds to zero).  Branches to bslow when N * 2^e >=
 * 2^emax (overflow rules), < 2^emin without subnormals, or the shift
 * exceeds 29 (only checked when shmax says it can).  emin_q: the smallest
 * e the caller can pass (from qmin(f) on, the subnormal bound is moot).
 * Rounding at sh bits below bit 0 ([rnd-2]: the quantum of the binade, or
 * the subnormals'), by rnd_bits. */
static V round_fast(gen_lctx *c, const nr_format *f, nr_rounding mode, V N, V e, V neg, int shmax,
                    int emin_q, BB bslow, V *q)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const int Y = f->man_bits;
    V args[2] = {N, LLVMConstInt(g->i1, 1, 0)};
    V msb = sub(g, c32(g, 31), gen_emit_intrinsic(g, "llvm.ctlz", g->i32, args, 2));
    V E = add(g, e, msb);
    V bad = icmp(g, LLVMIntSGE, E, c32(g, f->emax));
    V sh = sub(g, msb, c32(g, Y));
    if (f->subnormals && emin_q < qmin(f)) /* e may lie below the subnormals' quantum */
        sh = smax(g, sh, sub(g, c32(g, f->emin - Y), e));
    else if (!f->subnormals)
        bad = LLVMBuildOr(B, bad, icmp(g, LLVMIntSLT, E, c32(g, f->emin)), "");
    sh = smax(g, sh, c32(g, 0));
    if (shmax > 29)
        bad = LLVMBuildOr(B, bad, icmp(g, LLVMIntSGT, sh, c32(g, 29)), "");
    BB ok = block(c, "rnd");
    LLVMBuildCondBr(B, bad, bslow, ok);
    LLVMPositionBuilderAtEnd(B, ok);
    *q = add(g, e, sh);
    return rnd_bits(c, mode, N, sh, neg);
}

/* ------------------------------------------------------------ out-of-line parts */

static void fmt_names(const gen_iacc *ia, char *buf, size_t n)
{
    char s[4][64];
    nr_format_name(ia->wf, s[0], sizeof s[0]);
    nr_format_name(ia->xf, s[1], sizeof s[1]);
    nr_format_name(ia->pf, s[2], sizeof s[2]);
    nr_format_name(ia->sf, s[3], sizeof s[3]);
    snprintf(buf, n, "%s.%s.%s.%s.%s.%s", s[0], s[1], s[2], s[3], nr_format_rounding_name(ia->mode),
             ia->fused ? "fused" : "unfused");
}

/* A new internal noinline function; the builder is left in its entry. */
V gen_iacc_new_fn(gen_ctx *g, const char *name, T fty)
{
    V fn = gen_emit_function(g, name, fty, 0);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(g->ctx, LLVMGetEnumAttributeKindForName("noinline", 8), 0));
    return fn;
}

/* state (i64: A low, Ae high) of an S encoding enc (i32) */
static V state_of(gen_ctx *g, const nr_format *sf, V enc)
{
    LLVMBuilderRef B = g->b;
    gen_exact x;
    gen_numi_unpack(g, sf, enc, &x);
    V fin = LLVMBuildNot(B, LLVMBuildOr(B, LLVMBuildOr(B, x.is_nan, x.is_inf, ""), x.is_zero, ""), "");
    V sig = LLVMBuildTrunc(B, x.sig, g->i32, ""); /* prec(S) <= 12 */
    V A = sel(g, fin, sel(g, x.sign, LLVMBuildNeg(B, sig, ""), sig), c32(g, 0));
    V Ae = sel(g, fin, x.exp, enc);
    V hi = LLVMBuildShl(B, LLVMBuildZExt(B, Ae, g->i64, ""), LLVMConstInt(g->i64, 32, 0), "");
    return LLVMBuildOr(B, hi, LLVMBuildZExt(B, A, g->i64, ""), "");
}

/* S encoding (i32) of a state */
static V enc_of(gen_ctx *g, const nr_format *sf, V A, V Ae)
{
    LLVMBuilderRef B = g->b;
    V neg = icmp(g, LLVMIntSLT, A, c32(g, 0));
    gen_exact x;
    x.sign = neg;
    x.sig = sel(g, neg, LLVMBuildNeg(B, A, ""), A);
    x.exp = Ae;
    x.is_nan = x.is_inf = x.is_zero = x.sticky = LLVMConstInt(g->i1, 0, 0);
    /* an S value: exact in any mode */
    V r = LLVMBuildTrunc(B, gen_num_round(g, sf, NR_RND_RZ, &x, c32(g, 0)), g->i32, "");
    return sel(g, icmp(g, LLVMIntEQ, A, c32(g, 0)), Ae, r);
}

/* state = st (i64 from the helpers); on the grid, a nonzero A is moved to
 * Ae = qmin(S) (every S value is a multiple of 2^qmin(S)) */
static void split(gen_lctx *c, gen_iacc *ia, V st)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V A = LLVMBuildTrunc(B, st, g->i32, "");
    V Ae = LLVMBuildTrunc(B, LLVMBuildLShr(B, st, LLVMConstInt(g->i64, 32, 0), ""), g->i32, "");
    if (ia->grid) {
        V nz = icmp(g, LLVMIntNE, A, c32(g, 0));
        A = LLVMBuildShl(B, A, sel(g, nz, sub(g, Ae, c32(g, qmin(ia->sf))), c32(g, 0)), "");
        Ae = sel(g, nz, c32(g, qmin(ia->sf)), Ae);
    }
    LLVMBuildStore(B, A, ia->A);
    LLVMBuildStore(B, Ae, ia->Ae);
}

/* The helpers of one format combination, made once per module. */
static void helpers(gen_ctx *g, gen_iacc *ia)
{
    char fm[300], name[340];
    fmt_names(ia, fm, sizeof fm);
    char sn[64];
    nr_format_name(ia->sf, sn, sizeof sn);
    T a1[1] = {g->i32}, a2[2] = {g->i32, g->i32}, a4[4] = {g->i32, g->i32, g->i32, g->i32};
    ia->state_ty = LLVMFunctionType(g->i64, a1, 1, 0);
    ia->enc_ty = LLVMFunctionType(g->i32, a2, 2, 0);
    ia->slow_ty = LLVMFunctionType(g->i64, a4, 4, 0);
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    snprintf(name, sizeof name, "numi.iacc.state.%s", sn);
    if (!(ia->state = LLVMGetNamedFunction(g->mod, name))) {
        ia->state = gen_iacc_new_fn(g, name, ia->state_ty);
        LLVMBuildRet(g->b, state_of(g, ia->sf, LLVMGetParam(ia->state, 0)));
    }
    snprintf(name, sizeof name, "numi.iacc.enc.%s", sn);
    if (!(ia->enc = LLVMGetNamedFunction(g->mod, name))) {
        ia->enc = gen_iacc_new_fn(g, name, ia->enc_ty);
        LLVMBuildRet(g->b, enc_of(g, ia->sf, LLVMGetParam(ia->enc, 0), LLVMGetParam(ia->enc, 1)));
    }
    snprintf(name, sizeof name, "numi.iacc.slow.%s", fm);
    if (!(ia->slow = LLVMGetNamedFunction(g->mod, name))) {
        V step = gen_numi_fn_step(g, ia->wf, ia->xf, ia->pf, ia->sf, ia->mode, ia->fused);
        T sargs[3] = {g->i32, g->i32, g->i32};
        T sty = LLVMFunctionType(g->i32, sargs, 3, 0);
        ia->slow = gen_iacc_new_fn(g, name, ia->slow_ty);
        V p[2] = {LLVMGetParam(ia->slow, 0), LLVMGetParam(ia->slow, 1)};
        V acc = LLVMBuildCall2(g->b, ia->enc_ty, ia->enc, p, 2, "");
        V s[3] = {acc, LLVMGetParam(ia->slow, 2), LLVMGetParam(ia->slow, 3)};
        V r = LLVMBuildCall2(g->b, sty, step, s, 3, "");
        LLVMBuildRet(g->b, LLVMBuildCall2(g->b, ia->state_ty, ia->state, &r, 1, ""));
    }
    if (saved)
        LLVMPositionBuilderAtEnd(g->b, saved);
}

/* ------------------------------------------------------------ interface */

void gen_iacc_init(gen_lctx *c, gen_iacc *ia, const nr_format *wf, const nr_format *xf,
                   const nr_format *pf, const nr_format *sf, nr_rounding mode, int fused)
{
    gen_ctx *g = c->g;
    ia->wf = wf, ia->xf = xf, ia->pf = pf, ia->sf = sf, ia->mode = mode, ia->fused = fused;
    int pb = fused ? wf->prec + xf->prec : pf->prec + 1; /* bits of a product addend */
    int mb = pb > sf->prec + 1 ? pb : sf->prec + 1;
    ia->D = 29 - mb;
    /* exponents of a product addend's bit 0 are >= pq; the sum's >= sq */
    int pq = fused ? qmin(wf) + qmin(xf) : qmin(pf);
    int sq = pq < qmin(sf) ? pq : qmin(sf);
    /* far_keep: S values next to acc = A * 2^Ae are >= 2^(Ae-Ys-1) away
     * (A >= 1; a subnormal acc has Ae < emin = qmin(S) + Ys), so a product
     * with d = Ae - q > D, |p| < 2^(q+pb) <= 2^(Ae-D-1+pb), lies strictly
     * within half of that spacing when D >= pb + Ys + 1 */
    ia->far_keep = (mode == NR_RND_RNE || mode == NR_RND_RNA) && ia->D >= pb + sf->man_bits + 1;
    int pe = qmin(wf) + qmin(xf); /* the unrounded product's smallest exponent */
    int mp = 2 * (wf->prec > xf->prec ? wf->prec : xf->prec) - pf->man_bits;
    ia->shmax_p = mp > qmin(pf) - pe ? mp : qmin(pf) - pe;
    /* the grid: S's whole range as multiples of 2^qmin(S) in 32 bits (|sum|
     * < 2^(emax+2-qmin) <= 2^30), products rounded to S itself */
    ia->grid = !fused && nr_format_equal(pf, sf) && sf->subnormals && sf->emax + 2 - qmin(sf) <= 30;
    ia->eq_p = pe;
    ia->eq_s = sq;
    int ms = 30 - sf->man_bits;
    ia->shmax_s = ms > qmin(sf) - sq ? ms : qmin(sf) - sq;
    ia->A = gen_ir_alloca(c, g->i32, "iacc.a");
    ia->Ae = gen_ir_alloca(c, g->i32, "iacc.e");
    helpers(g, ia);
}

void gen_iacc_set(gen_lctx *c, gen_iacc *ia, V enc)
{
    split(c, ia, LLVMBuildCall2(c->g->b, ia->state_ty, ia->state, &enc, 1, ""));
}

V gen_iacc_get(gen_lctx *c, gen_iacc *ia)
{
    LLVMBuilderRef B = c->g->b;
    V p[2] = {LLVMBuildLoad2(B, c->g->i32, ia->A, ""), LLVMBuildLoad2(B, c->g->i32, ia->Ae, "")};
    return LLVMBuildCall2(B, ia->enc_ty, ia->enc, p, 2, "");
}

/* The sum on the grid (ia->grid): acc = A * 2^g, g = qmin(S), the
 * product r * 2^q with q >= g (an S value), so the sum is the exact
 * integer S = A + (+-r << (q - g)); round_S(S * 2^g) at sh = max(msb - Y,
 * 0) bits (g is the subnormals' quantum: no other bound), the result
 * stays on the grid.  A zero sum ([rnd-4]) or one reaching 2^emax goes to
 * bslow. */
static void grid_sum(gen_lctx *c, gen_iacc *ia, V A, V r, V q, V pneg, BB bslow)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_format *f = ia->sf;
    V Pg = LLVMBuildShl(B, r, sub(g, q, c32(g, qmin(f))), "");
    V S = add(g, A, sel(g, pneg, LLVMBuildNeg(B, Pg, ""), Pg));
    V sneg = icmp(g, LLVMIntSLT, S, c32(g, 0));
    V M = sel(g, sneg, LLVMBuildNeg(B, S, ""), S);
    V args[2] = {M, LLVMConstInt(g->i1, 0, 0)}; /* M == 0: ctlz 32, msb -1 */
    V msb = sub(g, c32(g, 31), gen_emit_intrinsic(g, "llvm.ctlz", g->i32, args, 2));
    V bad = LLVMBuildOr(B, icmp(g, LLVMIntEQ, S, c32(g, 0)),
                        icmp(g, LLVMIntSGE, msb, c32(g, f->emax - qmin(f))), "");
    BB ok = block(c, "t.grid");
    LLVMBuildCondBr(B, bad, bslow, ok);
    LLVMPositionBuilderAtEnd(B, ok);
    V sh = smax(g, sub(g, msb, c32(g, f->man_bits)), c32(g, 0));
    V r2 = LLVMBuildShl(B, rnd_bits(c, ia->mode, M, sh, sneg), sh, "");
    LLVMBuildStore(B, sel(g, sneg, LLVMBuildNeg(B, r2, ""), r2), ia->A);
}

void gen_iacc_term(gen_lctx *c, gen_iacc *ia, V w, V x)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    BB bnz = block(c, "t.acc"), bmul = block(c, "t.mul"), bside = block(c, "t.zero");
    BB bslow = block(c, "t.slow"), bnext = block(c, "t.next"), badd = block(c, "t.add");
    BB bfar = block(c, "t.far"), balign = block(c, "t.align"), bsum = block(c, "t.sum");
    V A = LLVMBuildLoad2(B, g->i32, ia->A, "A"), Ae = LLVMBuildLoad2(B, g->i32, ia->Ae, "Ae");
    V Anz = icmp(g, LLVMIntNE, A, c32(g, 0));
    LLVMBuildCondBr(B, and_(g, operand_ok(g, ia->wf, w), operand_ok(g, ia->xf, x)), bnz, bside);

    /* a zero product of finite operands leaves a nonzero acc as it is */
    LLVMPositionBuilderAtEnd(B, bside);
    LLVMBuildCondBr(B, and_(g, zero_keep(g, ia, w, x), Anz), bnext, bslow);

    LLVMPositionBuilderAtEnd(B, bnz);
    LLVMBuildCondBr(B, Anz, bmul, bslow);

    LLVMPositionBuilderAtEnd(B, bmul);
    V sw, ew, sx, ex;
    unpack_fin(g, ia->wf, w, &sw, &ew);
    unpack_fin(g, ia->xf, x, &sx, &ex);
    V N = LLVMBuildMul(B, sw, sx, "N"), e = add(g, ew, ex);
    V negw = icmp(g, LLVMIntNE, and_(g, w, c32(g, (int64_t)ia->wf->sign_mask)), c32(g, 0));
    V negx = icmp(g, LLVMIntNE, and_(g, x, c32(g, (int64_t)ia->xf->sign_mask)), c32(g, 0));
    V pneg = LLVMBuildXor(B, negw, negx, "");
    V r = N, q = e;
    if (!ia->fused) { /* p = round_P(w*x); a product that rounds to +-0 keeps acc */
        r = round_fast(c, ia->pf, ia->mode, N, e, pneg, ia->shmax_p, ia->eq_p, bslow, &q);
        LLVMBuildCondBr(B, icmp(g, LLVMIntEQ, r, c32(g, 0)), bnext, badd);
    } else {
        LLVMBuildBr(B, badd);
    }

    LLVMPositionBuilderAtEnd(B, badd);
    if (ia->grid) {
        grid_sum(c, ia, A, r, q, pneg, bslow);
        LLVMBuildBr(B, bnext);
        LLVMDeleteBasicBlock(bfar);
        LLVMDeleteBasicBlock(balign);
        LLVMDeleteBasicBlock(bsum);
        goto slow;
    }
    V P = sel(g, pneg, LLVMBuildNeg(B, r, ""), r);
    V d = sub(g, Ae, q);
    V far = icmp(g, LLVMIntUGT, add(g, d, c32(g, ia->D)), c32(g, 2 * ia->D));
    LLVMBuildCondBr(B, far, bfar, balign);
    LLVMPositionBuilderAtEnd(B, bfar);
    if (ia->far_keep)
        LLVMBuildCondBr(B, icmp(g, LLVMIntSGT, d, c32(g, 0)), bnext, bslow);
    else
        LLVMBuildBr(B, bslow);

    /* exact sum, aligned to the smaller exponent: |S| < 2^(mb + D + 1) <= 2^30 */
    LLVMPositionBuilderAtEnd(B, balign);
    V pos = icmp(g, LLVMIntSGT, d, c32(g, 0));
    V shA = sel(g, pos, d, c32(g, 0)), shP = sel(g, pos, c32(g, 0), LLVMBuildNeg(B, d, ""));
    V S = add(g, LLVMBuildShl(B, A, shA, ""), LLVMBuildShl(B, P, shP, ""));
    V se = sub(g, Ae, shA);
    LLVMBuildCondBr(B, icmp(g, LLVMIntEQ, S, c32(g, 0)), bslow, bsum);

    LLVMPositionBuilderAtEnd(B, bsum);
    V sneg = icmp(g, LLVMIntSLT, S, c32(g, 0));
    V M = sel(g, sneg, LLVMBuildNeg(B, S, ""), S), sq;
    V r2 = round_fast(c, ia->sf, ia->mode, M, se, sneg, ia->shmax_s, ia->eq_s, bslow, &sq);
    BB bst = block(c, "t.store");
    LLVMBuildCondBr(B, icmp(g, LLVMIntEQ, r2, c32(g, 0)), bslow, bst);
    LLVMPositionBuilderAtEnd(B, bst);
    LLVMBuildStore(B, sel(g, sneg, LLVMBuildNeg(B, r2, ""), r2), ia->A);
    LLVMBuildStore(B, sq, ia->Ae);
    LLVMBuildBr(B, bnext);

slow:
    LLVMPositionBuilderAtEnd(B, bslow);
    V a[4] = {A, Ae, w, x};
    split(c, ia, LLVMBuildCall2(B, ia->slow_ty, ia->slow, a, 4, ""));
    LLVMBuildBr(B, bnext);
    LLVMPositionBuilderAtEnd(B, bnext);
}
