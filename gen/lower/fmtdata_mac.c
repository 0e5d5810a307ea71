/* fmtdata_mac.c -- the format-as-data MAC layer (fmtdata.h): conv, dense
 * and batchnorm as one loop nest whose formats are run-time parameter
 * blocks, so one compiled function per layer shape serves every format of
 * a sweep.  Output columns run 8 at a time (a <8 x double> accumulator,
 * masked loads or gathers for the inputs, lanes outside the map or in the
 * padding keep their accumulator: padding contributes no term). */
#include "fmtdata.h"
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

#define LANES 8

/* ---------------------------------------------------------------- scope */

static int prod_exact(const nr_format *a, const nr_format *b)
{
    /* emu_mac.c's condition: significands fit 53 bits together, no
     * underflow below 2^-1074 and no overflow */
    return a->prec + b->prec <= 53 &&
           ilogb(a->min_subnormal) + ilogb(b->min_subnormal) >= -1074 &&
           ilogb(a->max_finite) + ilogb(b->max_finite) + 2 <= 1023;
}

int gen_fmtdata_fmts_make(const nr_layer_prec *p, gen_fd_fmts *out, nr_err *err)
{
    int rc;
    if ((rc = gen_numrt_fmt_make(&p->products, p->rounding, &out->prod, err)) ||
        (rc = gen_numrt_fmt_make(&p->accumulator, p->rounding, &out->acc, err)) ||
        (rc = gen_numrt_fmt_make(&p->activations, p->rounding, &out->act, err)))
        return rc;
    return 0;
}

int gen_fmtdata_mac_ok(const nr_layer *L, const nr_format *wf, const nr_format *xf, nr_err *err)
{
    const nr_layer_prec *p = &L->prec;
    if (L->op != NR_OP_CONV && L->op != NR_OP_DENSE && L->op != NR_OP_BATCHNORM)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name, "not a MAC layer");
    if (p->mac != NR_MAC_UNFUSED)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "format as data runs unfused MACs only (not %s)", nr_prec_mac_name(p->mac));
    if (p->weights_scaled.gran != NR_GRAN_NONE || p->activations_scaled.gran != NR_GRAN_NONE)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "format as data does not run scaled formats");
    if (!prod_exact(wf, xf))
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "products of the weights and inputs are not exact doubles");
    gen_fd_fmts f;
    nr_format wr = *wf, xr = *xf;
    gen_rtfmt t;
    int rc;
    if ((rc = gen_fmtdata_fmts_make(p, &f, err)) || (rc = gen_numrt_fmt_make(&wr, p->rounding, &t, err)) ||
        (rc = gen_numrt_fmt_make(&xr, p->rounding, &t, err)))
        return rc;
    nr_mac_geom gm;
    return nr_mac_geom_check(L, &gm, err);
}

/* ---------------------------------------------------------------- IR helpers */

static V ci64(gen_ctx *g, int64_t v) { return LLVMConstInt(g->i64, (uint64_t)v, 1); }

static V splat_i64(gen_ctx *g, V s)
{
    T vt = LLVMVectorType(g->i64, LANES);
    V ins = LLVMBuildInsertElement(g->b, LLVMGetUndef(vt), s, LLVMConstInt(g->i32, 0, 0), "");
    return LLVMBuildShuffleVector(g->b, ins, LLVMGetUndef(vt),
                                  LLVMConstNull(LLVMVectorType(g->i32, LANES)), "");
}

static V splat_f64(gen_ctx *g, V s)
{
    T vt = LLVMVectorType(g->f64, LANES);
    V ins = LLVMBuildInsertElement(g->b, LLVMGetUndef(vt), s, LLVMConstInt(g->i32, 0, 0), "");
    return LLVMBuildShuffleVector(g->b, ins, LLVMGetUndef(vt),
                                  LLVMConstNull(LLVMVectorType(g->i32, LANES)), "");
}

/* <0, 1, ..., 7> as i64 */
static V lane_ids(gen_ctx *g)
{
    V e[LANES];
    for (int l = 0; l < LANES; l++)
        e[l] = LLVMConstInt(g->i64, (uint64_t)l, 0);
    return LLVMConstVector(e, LANES);
}

static V intrinsic2(gen_ctx *g, const char *name, T t0, T t1, V *args, unsigned n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    T ov[2] = {t0, t1};
    V fn = LLVMGetIntrinsicDeclaration(g->mod, id, ov, 2);
    T fty = LLVMIntrinsicGetType(g->ctx, id, ov, 2);
    return LLVMBuildCall2(g->b, fty, fn, args, n, "");
}

/* lo <= v < hi, lanewise (signed) */
static V in_range(gen_ctx *g, V v, V lo, V hi)
{
    return LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntSGE, v, lo, ""),
                        LLVMBuildICmp(g->b, LLVMIntSLT, v, hi, ""), "");
}

/* ---------------------------------------------------------------- the layer */

typedef struct {
    gen_ctx *g;
    const nr_mac_geom *gm;
    V x, w, out;
    gen_numrt P, S, A;
    T vd, ptr;
} fd;

/* The <8 x double> inputs of term (ci, r, c) for output columns ow (i64
 * lanes) of row oh; *ok: the lanes that have this term. */
static V load_x(fd *d, V ci_abs, V oh, V ow, V r, V c, V colok, V *ok)
{
    gen_ctx *g = d->g;
    const nr_mac_geom *gm = d->gm;
    V ih = LLVMBuildAdd(g->b, LLVMBuildSub(g->b, LLVMBuildMul(g->b, oh, ci64(g, gm->sh), ""),
                                           ci64(g, gm->pt), ""),
                        LLVMBuildMul(g->b, r, ci64(g, gm->dh), ""), "");
    V ihok = in_range(g, ih, ci64(g, 0), ci64(g, gm->H));
    V cbase = LLVMBuildSub(g->b, LLVMBuildMul(g->b, c, ci64(g, gm->dw), ""), ci64(g, gm->pl), "");
    V iw = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, ow, splat_i64(g, ci64(g, gm->sw)), ""),
                        splat_i64(g, cbase), "");
    V m = LLVMBuildAnd(g->b, colok, in_range(g, iw, splat_i64(g, ci64(g, 0)),
                                             splat_i64(g, ci64(g, gm->W))), "");
    m = LLVMBuildAnd(g->b, m,
                     LLVMBuildICmp(g->b, LLVMIntNE, splat_i64(g, LLVMBuildZExt(g->b, ihok, g->i64, "")),
                                   splat_i64(g, ci64(g, 0)), ""), "");
    *ok = m;
    /* row start: x + (ci * H + ih) * W, then the lanes' columns */
    V row = LLVMBuildMul(g->b, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, ci_abs, ci64(g, gm->H), ""), ih, ""),
                         ci64(g, gm->W), "");
    V zero = LLVMConstNull(d->vd);
    V al = LLVMConstInt(g->i32, 8, 0);
    if (gm->sw == 1) { /* contiguous: one masked load from column iw[0] */
        V first = LLVMBuildExtractElement(g->b, iw, LLVMConstInt(g->i32, 0, 0), "");
        V p = LLVMBuildGEP2(g->b, g->f64, d->x, (V[]){LLVMBuildAdd(g->b, row, first, "")}, 1, "");
        V args[4] = {p, al, m, zero};
        return intrinsic2(g, "llvm.masked.load", d->vd, d->ptr, args, 4);
    }
    V idx = LLVMBuildAdd(g->b, splat_i64(g, row), iw, "");
    V ps = LLVMBuildGEP2(g->b, g->f64, d->x, (V[]){idx}, 1, "");
    V args[4] = {ps, al, m, zero};
    return intrinsic2(g, "llvm.masked.gather", d->vd, LLVMVectorType(d->ptr, LANES), args, 4);
}

int gen_fmtdata_kind(const gen_fd_fmts *f)
{
    return f->prod.kind == f->acc.kind ? (int)f->prod.kind : GEN_RT_GENERIC;
}

LLVMValueRef gen_fmtdata_emit_mac(gen_ctx *g, const char *name, const nr_mac_geom *gm, int has_bias,
                             int kind)
{
    T ptr = LLVMPointerTypeInContext(g->ctx, 0);
    T args[5] = {ptr, ptr, ptr, ptr, ptr};
    V fn = gen_emit_function(g, name, LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), args, 5, 0), 0);
    gen_lctx lc = {.g = g, .fn = fn, .ptr = ptr};
    lc.ab = LLVMCreateBuilderInContext(g->ctx);
    LLVMPositionBuilderAtEnd(lc.ab, LLVMGetEntryBasicBlock(fn));
    fd d = {.g = g, .gm = gm, .x = LLVMGetParam(fn, 0), .w = LLVMGetParam(fn, 1),
            .out = LLVMGetParam(fn, 3), .vd = LLVMVectorType(g->f64, LANES), .ptr = ptr};
    V fm = LLVMGetParam(fn, 4);
    T ft = gen_numrt_type(g);
    gen_numrt_load(g, LLVMBuildGEP2(g->b, ft, fm, (V[]){ci64(g, 0)}, 1, ""), &d.P);
    gen_numrt_load(g, LLVMBuildGEP2(g->b, ft, fm, (V[]){ci64(g, 1)}, 1, ""), &d.S);
    gen_numrt_load(g, LLVMBuildGEP2(g->b, ft, fm, (V[]){ci64(g, 2)}, 1, ""), &d.A);
    /* CO output channels of one group at a time: their terms share the
     * input load, and CO independent rounding chains are in flight (one
     * accumulator's chain of two run-time roundings per term is the
     * kernel's latency) */
    const int CO = gm->cout_g % 4 == 0 ? 4 : gm->cout_g % 2 == 0 ? 2 : 1;
    V accp[4];
    for (int j = 0; j < CO; j++)
        accp[j] = gen_ir_alloca(&lc, d.vd, "acc");
    /* allocas must precede the loops: move ab's insertion before the first
     * instruction of the entry block from now on */
    LLVMPositionBuilderBefore(lc.ab, LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(fn)));
    const int nvec = (gm->OW + LANES - 1) / LANES;
    gen_loop lo, loh, lv, lci, lr, lcc;
    gen_ir_loop_begin(&lc, &lo, (uint64_t)(gm->O / CO), "o");
    V ob = LLVMBuildMul(g->b, lo.i, ci64(g, CO), ""), oj[4], acc0[4];
    for (int j = 0; j < CO; j++) {
        oj[j] = LLVMBuildAdd(g->b, ob, ci64(g, j), "");
        acc0[j] = LLVMConstNull(d.vd); /* +0 without bias */
        if (has_bias) {
            V bp = LLVMBuildGEP2(g->b, g->f64, LLVMGetParam(fn, 2), (V[]){oj[j]}, 1, "");
            acc0[j] = gen_numrt_round(g, &d.S, splat_f64(g, LLVMBuildLoad2(g->b, g->f64, bp, "")));
        }
    }
    V ci0 = LLVMBuildMul(g->b, LLVMBuildSDiv(g->b, ob, ci64(g, gm->cout_g), ""),
                         ci64(g, gm->cin_g), "");
    gen_ir_loop_begin(&lc, &loh, (uint64_t)gm->OH, "oh");
    gen_ir_loop_begin(&lc, &lv, (uint64_t)nvec, "ov");
    V ow = LLVMBuildAdd(g->b, splat_i64(g, LLVMBuildMul(g->b, lv.i, ci64(g, LANES), "")),
                        lane_ids(g), "");
    V colok = LLVMBuildICmp(g->b, LLVMIntSLT, ow, splat_i64(g, ci64(g, gm->OW)), "");
    for (int j = 0; j < CO; j++)
        LLVMBuildStore(g->b, acc0[j], accp[j]);
    gen_ir_loop_begin(&lc, &lci, (uint64_t)gm->cin_g, "ci");
    gen_ir_loop_begin(&lc, &lr, (uint64_t)gm->kh, "r");
    gen_ir_loop_begin(&lc, &lcc, (uint64_t)gm->kw, "c");
    {
        V ok;
        V xv = load_x(&d, LLVMBuildAdd(g->b, ci0, lci.i, ""), loh.i, ow, lr.i, lcc.i, colok, &ok);
        V k = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, lci.i, ci64(g, gm->kh), ""),
                                                                 lr.i, ""),
                                              ci64(g, gm->kw), ""),
                           lcc.i, "");
        for (int j = 0; j < CO; j++) {
            V wi = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, oj[j], ci64(g, gm->K), ""), k, "");
            V wv = LLVMBuildLoad2(g->b, g->f64, LLVMBuildGEP2(g->b, g->f64, d.w, (V[]){wi}, 1, ""), "");
            /* [net-5] unfused: the product rounded to P, the sum to S */
            V p = gen_numrt_round_kind(g, &d.P, LLVMBuildFMul(g->b, splat_f64(g, wv), xv, ""), kind);
            V acc = LLVMBuildLoad2(g->b, d.vd, accp[j], "");
            V s = gen_numrt_round_sum_kind(g, &d.S, acc, p, kind);
            LLVMBuildStore(g->b, LLVMBuildSelect(g->b, ok, s, acc, ""), accp[j]);
        }
    }
    gen_ir_loop_end(&lc, &lcc);
    gen_ir_loop_end(&lc, &lr);
    gen_ir_loop_end(&lc, &lci);
    for (int j = 0; j < CO; j++) {
        /* [net-5] the accumulator's value rounded to the activations */
        V r = gen_numrt_round(g, &d.A, LLVMBuildLoad2(g->b, d.vd, accp[j], ""));
        V oi = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, oj[j], ci64(g, gm->OH), ""),
                                                                  loh.i, ""),
                                               ci64(g, gm->OW), ""),
                            LLVMBuildMul(g->b, lv.i, ci64(g, LANES), ""), "");
        V op = LLVMBuildGEP2(g->b, g->f64, d.out, (V[]){oi}, 1, "");
        V args[4] = {r, op, LLVMConstInt(g->i32, 8, 0), colok};
        unsigned id = LLVMLookupIntrinsicID("llvm.masked.store", 17);
        T ov[2] = {d.vd, ptr};
        LLVMBuildCall2(g->b, LLVMIntrinsicGetType(g->ctx, id, ov, 2),
                       LLVMGetIntrinsicDeclaration(g->mod, id, ov, 2), args, 4, "");
    }
    gen_ir_loop_end(&lc, &lv);
    gen_ir_loop_end(&lc, &loh);
    gen_ir_loop_end(&lc, &lo);
    LLVMBuildRetVoid(g->b);
    LLVMDisposeBuilder(lc.ab);
    return fn;
}

/* ---------------------------------------------------------------- helpers */

/* void name(const double *a, const double *b, double *out, i64 n, fmt *f):
 * out[i] = rz(a[i]) (b unused) or rz(a[i] + b[i]) into f. */
static void emit_array(gen_ctx *g, const char *name, int sum)
{
    T ptr = LLVMPointerTypeInContext(g->ctx, 0);
    T args[5] = {ptr, ptr, ptr, g->i64, ptr};
    V fn = gen_emit_function(g, name, LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), args, 5, 0), 0);
    gen_lctx lc = {.g = g, .fn = fn, .ptr = ptr};
    lc.ab = LLVMCreateBuilderInContext(g->ctx);
    gen_numrt p;
    gen_numrt_load(g, LLVMGetParam(fn, 4), &p);
    LLVMPositionBuilderBefore(lc.ab, LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(fn)));
    gen_loop l;
    gen_ir_loop_range(&lc, &l, ci64(g, 0), LLVMGetParam(fn, 3), "i");
    V a = LLVMBuildLoad2(g->b, g->f64, LLVMBuildGEP2(g->b, g->f64, LLVMGetParam(fn, 0), (V[]){l.i}, 1, ""), "");
    V r;
    if (sum) {
        V b = LLVMBuildLoad2(g->b, g->f64, LLVMBuildGEP2(g->b, g->f64, LLVMGetParam(fn, 1), (V[]){l.i}, 1, ""), "");
        r = gen_numrt_round_sum(g, &p, a, b);
    } else {
        r = gen_numrt_round(g, &p, a);
    }
    LLVMBuildStore(g->b, r, LLVMBuildGEP2(g->b, g->f64, LLVMGetParam(fn, 2), (V[]){l.i}, 1, ""));
    gen_ir_loop_end(&lc, &l);
    LLVMBuildRetVoid(g->b);
    LLVMDisposeBuilder(lc.ab);
}

void gen_fmtdata_emit_helpers(gen_ctx *g)
{
    emit_array(g, "fd_round_arr", 0);
    emit_array(g, "fd_sum_arr", 1);
}
