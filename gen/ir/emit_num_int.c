/* emit_num_int.c -- narrow-number arithmetic in integer instructions only,
 * for targets without double-precision hardware (Cortex-M: gen_ctx's
 * int_narrow, from gen_target_int_narrow).  emit_num.c holds every value
 * as the double it exactly is, which a Cortex-M computes through libgcc's
 * soft-float routines; here a value stays an encoding between steps and is
 * unpacked into an integer gen_exact (sign, significand in 32 bits where it
 * fits, exponent) for each step:
 *   - a product of two significands is one 32-bit (or 64-bit) integer
 *     multiply, its exponent the sum of the exponents ([op-1] as
 *     gen_num_exact_mul: 0 * inf is NaN);
 *   - a sum is gen_num_exact_add in a W = 32 (or 64) bit window, exact
 *     with sticky by the argument at gen_num_exact_add: every operand's
 *     significand fits in W-2 bits and the sum's format has prec <= W-3;
 *   - rounding is gen_num_round (shifts, masks and compares on the
 *     significand), bit-exact with runtime/num/round.c like the double path.
 * Conversions from and to float32 move the fields the same way.  Stochastic
 * rounding and `mac: exact` are not covered (gen_numi_ok says 0; the
 * double path stays in charge of them). */
#include "gen.h"

#include <stdio.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

static V cst(T t, uint64_t v) { return LLVMConstInt(t, v, 0); }
static V sel(gen_ctx *g, V c, V a, V b) { return LLVMBuildSelect(g->b, c, a, b, ""); }
static V and_(gen_ctx *g, V a, V b) { return LLVMBuildAnd(g->b, a, b, ""); }
static V or_(gen_ctx *g, V a, V b) { return LLVMBuildOr(g->b, a, b, ""); }
static V not_(gen_ctx *g, V a) { return LLVMBuildNot(g->b, a, ""); }
static V icmp(gen_ctx *g, LLVMIntPredicate p, V a, V b) { return LLVMBuildICmp(g->b, p, a, b, ""); }
static V eq0(gen_ctx *g, V a) { return icmp(g, LLVMIntEQ, a, cst(LLVMTypeOf(a), 0)); }
static V ne0(gen_ctx *g, V a) { return icmp(g, LLVMIntNE, a, cst(LLVMTypeOf(a), 0)); }

/* Significand bits of an unpacked value of f (its magnitude's width). */
static int sig_bits(const nr_format *f)
{
    return f->kind == NR_FIXED ? f->width : f->prec;
}

/* The integer type that holds f's significand: i32 up to 31 bits. */
static T sig_type(gen_ctx *g, int bits)
{
    return bits <= 31 ? g->i32 : g->i64;
}

int gen_numi_fmt_ok(const nr_format *f)
{
    /* fixed -wrap needs the 256-bit adder of emit_num.c's exact_add_wrap */
    if (f->kind == NR_FIXED)
        return f->saturate && f->width <= 30;
    return f->kind == NR_FLOAT && f->prec <= 29 && f->emax < 100000 && f->emin > -100000;
}

int gen_numi_ok(const nr_format *wf, const nr_format *xf, const nr_format *pf,
                const nr_format *sf, nr_rounding mode, int fused)
{
    if (mode == NR_RND_SR)
        return 0;
    if (!gen_numi_fmt_ok(wf) || !gen_numi_fmt_ok(xf) || !gen_numi_fmt_ok(pf) || !gen_numi_fmt_ok(sf))
        return 0;
    /* the addends of a sum fit the 64-bit window with a bit of headroom */
    int addend = fused ? sig_bits(wf) + sig_bits(xf) : sig_bits(pf);
    return addend <= 62 && sig_bits(sf) <= 62;
}

void gen_numi_unpack(gen_ctx *g, const nr_format *f, V bits, gen_exact *o)
{
    LLVMBuilderRef B = g->b;
    T st = sig_type(g, sig_bits(f));
    bits = LLVMBuildZExtOrBitCast(B, bits, g->i64, "");
    if (f->kind == NR_FIXED) { /* [fmt-6] n * 2^-F, n the width-bit integer */
        V n = and_(g, bits, cst(g->i64, f->man_mask));
        V neg = LLVMConstInt(g->i1, 0, 0);
        if (f->is_signed) {
            V s = cst(g->i64, (uint64_t)(64 - f->width));
            n = LLVMBuildAShr(B, LLVMBuildShl(B, n, s, ""), s, "");
            neg = icmp(g, LLVMIntSLT, n, cst(g->i64, 0));
            n = sel(g, neg, LLVMBuildNeg(B, n, ""), n);
        }
        o->sign = neg;
        o->sig = LLVMBuildTrunc(B, n, st, "");
        if (st == g->i64)
            o->sig = n;
        o->exp = LLVMConstInt(g->i32, (uint64_t)(int64_t)-f->frac_bits, 1);
        o->is_nan = o->is_inf = LLVMConstInt(g->i1, 0, 0);
        o->is_zero = eq0(g, n);
        o->sticky = LLVMConstInt(g->i1, 0, 0);
        return;
    }
    const int Y = f->man_bits;
    const uint64_t Eall = f->exp_mask >> Y;
    V E = LLVMBuildLShr(B, and_(g, bits, cst(g->i64, f->exp_mask)), cst(g->i64, (uint64_t)Y), "");
    V M = and_(g, bits, cst(g->i64, f->man_mask));
    V e0 = eq0(g, E);
    /* [fmt-2] nosub: exponent field 0 is +-0 */
    V sig = f->subnormals ? M : sel(g, e0, cst(g->i64, 0), M);
    sig = or_(g, sig, sel(g, e0, cst(g->i64, 0), cst(g->i64, 1ull << Y)));
    V E32 = LLVMBuildTrunc(B, E, g->i32, "");
    o->exp = sel(g, e0, LLVMConstInt(g->i32, (uint64_t)(int64_t)(f->emin - Y), 1),
                 LLVMBuildSub(B, E32, LLVMConstInt(g->i32, (uint64_t)(int64_t)(f->bias + Y), 1), ""));
    o->sign = ne0(g, and_(g, bits, cst(g->i64, f->sign_mask)));
    V nan = gen_num_is_nan(g, f, bits); /* [fmt-3] */
    o->is_nan = nan ? nan : LLVMConstInt(g->i1, 0, 0);
    o->is_inf = LLVMConstInt(g->i1, 0, 0);
    if (f->specials == NR_SPECIALS_IEEE)
        o->is_inf = and_(g, icmp(g, LLVMIntEQ, E, cst(g->i64, Eall)), eq0(g, M));
    V special = or_(g, o->is_nan, o->is_inf);
    /* a finite value's sig is nonzero; a special's is some nonzero junk */
    o->is_zero = and_(g, not_(g, special), eq0(g, sig));
    o->sig = st == g->i64 ? sig : LLVMBuildTrunc(B, sig, st, "");
    o->sticky = LLVMConstInt(g->i1, 0, 0);
}

/* Exact x*y of two unpacked values (the significands' integer product). */
static void mul_exact(gen_ctx *g, const gen_exact *x, const gen_exact *y, int bits, gen_exact *o)
{
    LLVMBuilderRef B = g->b;
    T t = sig_type(g, bits + 1); /* i32 when the product fits in 31 bits */
    V a = LLVMBuildZExtOrBitCast(B, x->sig, t, ""), b = LLVMBuildZExtOrBitCast(B, y->sig, t, "");
    o->sig = LLVMBuildMul(B, a, b, "");
    o->exp = LLVMBuildAdd(B, x->exp, y->exp, "");
    o->sign = LLVMBuildXor(B, x->sign, y->sign, "");
    o->sticky = LLVMConstInt(g->i1, 0, 0);
    /* [op-1] 0 * inf is NaN */
    V zi = or_(g, and_(g, x->is_zero, y->is_inf), and_(g, x->is_inf, y->is_zero));
    o->is_nan = or_(g, or_(g, x->is_nan, y->is_nan), zi);
    o->is_inf = and_(g, not_(g, o->is_nan), or_(g, x->is_inf, y->is_inf));
    o->is_zero = and_(g, not_(g, or_(g, o->is_nan, o->is_inf)), or_(g, x->is_zero, y->is_zero));
}

/* The adder window: 32 bits when both addends and the result's precision
 * leave gen_num_exact_add its headroom, else 64. */
static int window(int addend_bits, const nr_format *sf)
{
    return addend_bits <= 30 && sig_bits(sf) <= 29 ? 32 : 64;
}

V gen_numi_round(gen_ctx *g, const nr_format *from, const nr_format *to, nr_rounding mode,
                 V bits)
{
    gen_exact x;
    gen_numi_unpack(g, from, bits, &x);
    return gen_num_round(g, to, mode, &x, LLVMConstInt(g->i32, 0, 0));
}

/* The body of the step function: acc, w, x encodings (i32) -> new acc. */
static V step_body(gen_ctx *g, const nr_format *wf, const nr_format *xf, const nr_format *pf,
                   const nr_format *sf, nr_rounding mode, int fused, V acc, V w, V x)
{
    V sr = LLVMConstInt(g->i32, 0, 0);
    gen_exact ew, ex, ea, p, s;
    gen_numi_unpack(g, wf, w, &ew);
    gen_numi_unpack(g, xf, x, &ex);
    gen_numi_unpack(g, sf, acc, &ea);
    int pbits = sig_bits(wf) + sig_bits(xf);
    mul_exact(g, &ew, &ex, pbits, &p);
    int addend = pbits;
    if (!fused) { /* p = round_P(w*x) (PRODUCT), then round_S(acc + p) (SUM) */
        V pe = gen_num_round(g, pf, mode, &p, sr);
        gen_numi_unpack(g, pf, pe, &p);
        addend = sig_bits(pf);
    }
    int a = addend > sig_bits(sf) ? addend : sig_bits(sf);
    gen_num_exact_add(g, &ea, &p, window(a, sf), mode == NR_RND_RD, &s);
    V r = gen_num_round(g, sf, mode, &s, sr);
    return LLVMBuildTrunc(g->b, r, g->i32, "");
}

V gen_numi_fn_step(gen_ctx *g, const nr_format *wf, const nr_format *xf, const nr_format *pf,
                   const nr_format *sf, nr_rounding mode, int fused)
{
    char name[320], n[4][64];
    nr_format_name(wf, n[0], sizeof n[0]);
    nr_format_name(xf, n[1], sizeof n[1]);
    nr_format_name(pf, n[2], sizeof n[2]);
    nr_format_name(sf, n[3], sizeof n[3]);
    snprintf(name, sizeof name, "numi.step.%s.%s.%s.%s.%s.%s", n[0], n[1], n[2], n[3],
             nr_format_rounding_name(mode), fused ? "fused" : "unfused");
    V fn = LLVMGetNamedFunction(g->mod, name);
    if (fn)
        return fn;
    T args[3] = {g->i32, g->i32, g->i32};
    T fty = LLVMFunctionType(g->i32, args, 3, 0);
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    /* one out-of-line copy per format combination keeps the code small: it
     * is shared by every layer (and every call site) that uses it */
    fn = gen_emit_function(g, name, fty, 0);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                               LLVMCreateEnumAttribute(g->ctx, LLVMGetEnumAttributeKindForName("noinline", 8), 0));
    V r = step_body(g, wf, xf, pf, sf, mode, fused, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1),
                    LLVMGetParam(fn, 2));
    LLVMBuildRet(g->b, r);
    if (saved)
        LLVMPositionBuilderAtEnd(g->b, saved);
    return fn;
}

/* The float32 format, for conversions in and out (parsed per call: no
 * shared state between threads that generate code). */
static nr_format fp32(void)
{
    nr_format f;
    nr_err e = {0};
    nr_format_parse("fp32", &f, &e); /* a preset: cannot fail */
    return f;
}

V gen_numi_from_f32(gen_ctx *g, const nr_format *to, nr_rounding mode, V fbits)
{
    nr_format f = fp32();
    return gen_numi_round(g, &f, to, mode, fbits);
}

int gen_numi_to_f32_ok(const nr_format *f)
{
    return gen_numi_fmt_ok(f) && nr_format_fits_f32(f);
}

V gen_numi_to_f32(gen_ctx *g, const nr_format *from, V bits)
{
    /* every value of from is a float32 value: the rounding is exact, NaN
     * becomes fp32's canonical NaN (nr_decode's +qNaN) */
    nr_format f = fp32();
    return LLVMBuildTrunc(g->b, gen_numi_round(g, from, &f, NR_RND_RNE, bits), g->i32, "");
}

/* ------------------------------------------------------------ fast step
 * The common case of a step in 32-bit integers with branches, the general
 * step (above) as its slow path: every operand finite, the product and the
 * sum normal in their formats (no subnormal result, no overflow, no exact
 * zero sum) and the addends' exponents within a 32-bit window.  Then each
 * rounding is that of an exact value sig * 2^exp (sig < 2^31) to the
 * quantum 2^(E-Y) of its binade E, decided by the bits below the quantum
 * ([rnd-2]); the result is packed by moving fields, and anything the fast
 * path does not cover goes to the slow path, which is emit_num.c's
 * gen_num_round on the same exact values. */

typedef struct fval { V sig, exp, sign; } fval; /* i32, i32, i1; sig != 0 */

static V c32(gen_ctx *g, int64_t v) { return LLVMConstInt(g->i32, (uint64_t)v, 1); }

/* Fields of a float encoding (i32): value, zero and special (NaN/inf) flags. */
static void funpack(gen_ctx *g, const nr_format *f, V bits, fval *o, V *zero, V *special)
{
    LLVMBuilderRef B = g->b;
    const int Y = f->man_bits;
    V E = LLVMBuildLShr(B, and_(g, bits, c32(g, (int64_t)f->exp_mask)), c32(g, Y), "");
    V M = and_(g, bits, c32(g, (int64_t)f->man_mask));
    V e0 = eq0(g, E);
    V sig = f->subnormals ? sel(g, e0, M, or_(g, M, c32(g, 1ll << Y))) : or_(g, M, c32(g, 1ll << Y));
    o->sig = sig;
    o->exp = sel(g, e0, c32(g, f->emin - Y), LLVMBuildSub(B, E, c32(g, f->bias + Y), ""));
    o->sign = ne0(g, and_(g, bits, c32(g, (int64_t)f->sign_mask)));
    *zero = f->subnormals ? and_(g, e0, eq0(g, M)) : e0;
    V nan = gen_num_is_nan(g, f, bits);
    *special = nan ? nan : LLVMConstInt(g->i1, 0, 0);
    if (f->specials == NR_SPECIALS_IEEE)
        *special = or_(g, *special, icmp(g, LLVMIntEQ, E, c32(g, (int64_t)(f->exp_mask >> Y))));
}

/* Round x (sig < 2^31, exact) into f in mode; *bad when the result would
 * overflow, hit a special encoding, lie below f's normals without
 * subnormals (nosub), or need a shift of 32 or more; *kz when it rounds to
 * zero.  Returns the encoding (i32); *k and *q give the value k * 2^q.
 * Below 2^emin the quantum is the subnormals' 2^(emin-Y) ([rnd-2]) and the
 * encoding is k itself (k = 2^Y is 2^emin's encoding). */
static V fround(gen_ctx *g, const nr_format *f, nr_rounding mode, const fval *x, V *bad, V *kz,
                V *k, V *q)
{
    LLVMBuilderRef B = g->b;
    const int Y = f->man_bits;
    V args[2] = {x->sig, LLVMConstInt(g->i1, 1, 0)};
    V lz = gen_emit_intrinsic(g, "llvm.ctlz", g->i32, args, 2);
    V E = LLVMBuildSub(B, LLVMBuildAdd(B, x->exp, c32(g, 31), ""), lz, "E");
    V tiny = icmp(g, LLVMIntSLT, E, c32(g, f->emin));
    V Eq = f->subnormals ? sel(g, tiny, c32(g, f->emin), E) : E;
    V sh = LLVMBuildSub(B, LLVMBuildSub(B, Eq, c32(g, Y), ""), x->exp, "sh"); /* bits below the quantum */
    V far = icmp(g, LLVMIntSGT, sh, c32(g, 31));
    sh = sel(g, far, c32(g, 0), sh);
    V pos = icmp(g, LLVMIntSGT, sh, c32(g, 0));
    V shp = sel(g, pos, sh, c32(g, 0));
    V shn = sel(g, pos, c32(g, 0), LLVMBuildNeg(B, sh, ""));
    V kk = LLVMBuildShl(B, LLVMBuildLShr(B, x->sig, shp, ""), shn, "");
    V rem = and_(g, x->sig, LLVMBuildSub(B, LLVMBuildShl(B, c32(g, 1), shp, ""), c32(g, 1), ""));
    V half = sel(g, pos, LLVMBuildShl(B, c32(g, 1), LLVMBuildSub(B, shp, c32(g, 1), ""), ""), c32(g, 0));
    V inexact = ne0(g, rem);
    V odd = ne0(g, and_(g, kk, c32(g, 1)));
    V up;
    switch (mode) {
    case NR_RND_RNE:
        up = and_(g, pos, or_(g, icmp(g, LLVMIntUGT, rem, half),
                              and_(g, icmp(g, LLVMIntEQ, rem, half), odd)));
        break;
    case NR_RND_RNA: up = and_(g, pos, icmp(g, LLVMIntUGE, rem, half)); break;
    case NR_RND_RU: up = and_(g, inexact, not_(g, x->sign)); break;
    case NR_RND_RD: up = and_(g, inexact, x->sign); break;
    case NR_RND_RTO: up = and_(g, inexact, not_(g, odd)); break;
    default: up = LLVMConstInt(g->i1, 0, 0); break; /* rz */
    }
    kk = LLVMBuildAdd(B, kk, LLVMBuildZExt(B, up, g->i32, ""), "");
    /* a carry into 2^(Y+1) is the next binade's first value: the packing
     * below adds it into the exponent field by itself */
    V mag = LLVMBuildAdd(B, LLVMBuildShl(B, LLVMBuildAdd(B, E, c32(g, f->bias - 1), ""), c32(g, Y), ""), kk, "");
    if (f->subnormals)
        mag = sel(g, tiny, kk, mag);
    *bad = or_(g, or_(g, far, f->subnormals ? LLVMConstInt(g->i1, 0, 0) : tiny),
               or_(g, icmp(g, LLVMIntSGT, E, c32(g, f->emax)),
                   icmp(g, LLVMIntUGT, mag, c32(g, (int64_t)f->max_bits))));
    *kz = eq0(g, kk);
    *k = kk;
    *q = LLVMBuildSub(B, Eq, c32(g, Y), "q");
    V s = sel(g, x->sign, c32(g, (int64_t)f->sign_mask), c32(g, 0));
    return or_(g, mag, s);
}

static int fast_fmt_ok(const nr_format *f)
{
    return f->kind == NR_FLOAT && f->prec <= 14 && f->width <= 31;
}

/* The fast step applies: float formats, narrow enough that products (and
 * in the unfused case the addends) fit the 32-bit window below. */
static int fast_ok(const nr_format *wf, const nr_format *xf, const nr_format *pf,
                   const nr_format *sf, nr_rounding mode)
{
    return mode != NR_RND_SR && fast_fmt_ok(wf) && fast_fmt_ok(xf) && fast_fmt_ok(pf) &&
           fast_fmt_ok(sf);
}

V gen_numi_fn_fast_step(gen_ctx *g, const nr_format *wf, const nr_format *xf,
                        const nr_format *pf, const nr_format *sf, nr_rounding mode, int fused)
{
    V slow = gen_numi_fn_step(g, wf, xf, pf, sf, mode, fused);
    if (!fast_ok(wf, xf, pf, sf, mode))
        return slow;
    char name[400];
    snprintf(name, sizeof name, "%s.fast", LLVMGetValueName(slow));
    V fn = LLVMGetNamedFunction(g->mod, name);
    if (fn)
        return fn;
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    T fty = LLVMGlobalGetValueType(slow);
    fn = gen_emit_function(g, name, fty, 0);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMBuilderRef B = g->b;
    V acc = LLVMGetParam(fn, 0), w = LLVMGetParam(fn, 1), x = LLVMGetParam(fn, 2);
    LLVMBasicBlockRef bslow = LLVMAppendBasicBlockInContext(g->ctx, fn, "slow");
    LLVMBasicBlockRef bkeep = LLVMAppendBasicBlockInContext(g->ctx, fn, "keep");
    LLVMBasicBlockRef bmul = LLVMAppendBasicBlockInContext(g->ctx, fn, "mul");
    LLVMBasicBlockRef badd = LLVMAppendBasicBlockInContext(g->ctx, fn, "add");
    LLVMBasicBlockRef bfin = LLVMAppendBasicBlockInContext(g->ctx, fn, "fin");
    fval a, ww, xx;
    V az, as, wz, wsp, xz, xsp;
    funpack(g, sf, acc, &a, &az, &as);
    funpack(g, wf, w, &ww, &wz, &wsp);
    funpack(g, xf, x, &xx, &xz, &xsp);
    V special = or_(g, as, or_(g, wsp, xsp));
    V pz = or_(g, wz, xz);
    /* w*x = +-0 added to a nonzero acc: acc + 0 is acc, an S value */
    LLVMBasicBlockRef bchk = LLVMAppendBasicBlockInContext(g->ctx, fn, "chk");
    LLVMBuildCondBr(B, special, bslow, bchk);
    LLVMPositionBuilderAtEnd(B, bchk);
    LLVMBuildCondBr(B, pz, bkeep, bmul);
    LLVMPositionBuilderAtEnd(B, bkeep);
    LLVMBuildCondBr(B, az, bslow, bfin);
    LLVMPositionBuilderAtEnd(B, bmul);
    fval p = {LLVMBuildMul(B, ww.sig, xx.sig, ""), LLVMBuildAdd(B, ww.exp, xx.exp, ""),
              LLVMBuildXor(B, ww.sign, xx.sign, "")};
    int pbits = fused ? wf->prec + xf->prec : pf->prec + 1;
    if (!fused) { /* p = round_P(w*x); p = +-0 (underflow) leaves acc as it is */
        V k, q, bad, kz;
        fround(g, pf, mode, &p, &bad, &kz, &k, &q);
        p.sig = k, p.exp = q;
        LLVMBasicBlockRef bnz = LLVMAppendBasicBlockInContext(g->ctx, fn, "pnz");
        LLVMBuildCondBr(B, bad, bslow, bnz);
        LLVMPositionBuilderAtEnd(B, bnz);
        LLVMBuildCondBr(B, kz, bkeep, badd);
    } else {
        LLVMBuildBr(B, badd);
    }
    LLVMPositionBuilderAtEnd(B, badd);
    /* acc + p exactly in 31 bits: both aligned to the smaller exponent; an
     * acc of zero takes p's exponent (its significand is 0) */
    V asig = sel(g, az, c32(g, 0), a.sig), aexp = sel(g, az, p.exp, a.exp);
    V e = sel(g, icmp(g, LLVMIntSLT, aexp, p.exp), aexp, p.exp);
    V da = LLVMBuildSub(B, aexp, e, ""), dp = LLVMBuildSub(B, p.exp, e, "");
    int room = 29 - (pbits > sf->prec + 1 ? pbits : sf->prec + 1);
    V far = icmp(g, LLVMIntUGT, LLVMBuildAdd(B, da, dp, ""), c32(g, room));
    V A = LLVMBuildShl(B, asig, sel(g, far, c32(g, 0), da), "");
    V P = LLVMBuildShl(B, p.sig, sel(g, far, c32(g, 0), dp), "");
    A = sel(g, a.sign, LLVMBuildNeg(B, A, ""), A);
    P = sel(g, p.sign, LLVMBuildNeg(B, P, ""), P);
    V sum = LLVMBuildAdd(B, A, P, "sum");
    V neg = icmp(g, LLVMIntSLT, sum, c32(g, 0));
    fval s = {sel(g, neg, LLVMBuildNeg(B, sum, ""), sum), e, neg};
    V bad2, kz2, k2, q2;
    V r = fround(g, sf, mode, &s, &bad2, &kz2, &k2, &q2);
    /* [rnd-4] zero sums, and sums that round to zero: the slow path */
    bad2 = or_(g, or_(g, bad2, kz2), or_(g, far, eq0(g, sum)));
    LLVMBasicBlockRef bret = LLVMAppendBasicBlockInContext(g->ctx, fn, "ret");
    LLVMBuildCondBr(B, bad2, bslow, bret);
    LLVMPositionBuilderAtEnd(B, bret);
    LLVMBuildRet(B, r);
    LLVMPositionBuilderAtEnd(B, bfin);
    LLVMBuildRet(B, acc);
    LLVMPositionBuilderAtEnd(B, bslow);
    V args[3] = {acc, w, x};
    LLVMBuildRet(B, LLVMBuildCall2(B, fty, slow, args, 3, ""));
    if (saved)
        LLVMPositionBuilderAtEnd(g->b, saved);
    return fn;
}
