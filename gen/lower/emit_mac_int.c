/* emit_mac_int.c -- conv, dense and unfolded batchnorm ([net-4], [net-5])
 * in integer instructions only, for targets without double-precision
 * hardware (gen_ctx.int_narrow: Cortex-M).  The same loop nest and
 * canonical term order as emit_mac.c and the emulator (emu_mac.c): for
 * each output element, start from the bias rounded to S (or +0), apply the
 * terms k = (ci*kh + r)*kw + q in order, skipping padding positions, and
 * store round_A(acc).  The accumulator stays an S encoding; each term is
 * one call of the shared step function of emit_num_int.c (unpack, integer
 * product, rounding by shifts and masks, sum in a 32- or 64-bit window):
 * one out-of-line copy per format combination, so the code does not grow
 * with the number of layers.  When gen_iacc_ok (float formats up to 12
 * significand bits, rne/rna/rz/ru/rd) the accumulator stays unpacked in
 * registers instead and each term is inline integer code (emit_iacc.c),
 * with 32-bit loop counters (a Cortex-M has no 64-bit adds); on a core
 * with a single-precision FPU (gen_facc_ok: rne, products exact in float32)
 * the terms use its multiplies and adds (emit_facc.c).  fp32 layers ([net-12] host float arithmetic)
 * keep emit_mac.c's code: the FPU (or libgcc's single-precision routines)
 * is the right tool for them. */
#include "plan.h"
#include "emulator.h"
#include "iacc.h"

#include <math.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

typedef nr_mac_geom igeom; /* geom.c */

int gen_emit_mac_int_applies(const gen_lctx *c, int li)
{
    const nr_layer *L = &c->m->layers[li];
    const nr_format *xf = gen_ir_in_fmt(c, li, 0);
    if (!c->g->int_narrow || gen_ir_mac_fast32(L, xf) ||
        (L->prec.mac != NR_MAC_UNFUSED && L->prec.mac != NR_MAC_FUSED))
        return 0;
    return gen_numi_ok(&L->prec.weights, xf, &L->prec.products, &L->prec.accumulator,
                       L->prec.rounding, L->prec.mac == NR_MAC_FUSED) &&
           gen_numi_fmt_ok(&L->prec.activations);
}

static V i64c(gen_lctx *c, int64_t v) { return gen_ir_i64(c, (uint64_t)v); }

/* acc = step(acc, w[wi], x[xi]) for one term. */
static void term(gen_lctx *c, const nr_layer *L, V step, T sty, V accp, V wi, V xi)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V w = LLVMBuildTrunc(B, gen_ir_load_w(c, &L->prec.weights, c->w, wi), g->i32, "");
    V x = LLVMBuildTrunc(B, gen_ir_load_enc(c, gen_ir_in_fmt(c, (int)(L - c->m->layers), 0), c->in[0], xi),
                         g->i32, "");
    V args[3] = {LLVMBuildLoad2(B, g->i32, accp, "acc"), w, x};
    LLVMBuildStore(B, LLVMBuildCall2(B, sty, step, args, 3, ""), accp);
}

/* In-range test of a padded coordinate: 0 <= v < n (i64, signed). */
static V in_range(gen_ctx *g, V v, int n)
{
    V lo = LLVMBuildICmp(g->b, LLVMIntSGE, v, LLVMConstInt(g->i64, 0, 0), "");
    V hi = LLVMBuildICmp(g->b, LLVMIntSLT, v, LLVMConstInt(g->i64, (uint64_t)n, 0), "");
    return LLVMBuildAnd(g->b, lo, hi, "");
}

/* ------------------------------------------------------------ iacc path */

typedef struct loop32 {
    V var, i;
    LLVMBasicBlockRef body, exit;
} loop32;

static V c32(gen_ctx *g, int64_t v) { return LLVMConstInt(g->i32, (uint64_t)v, 1); }
static V zx64(gen_ctx *g, V v) { return LLVMBuildZExt(g->b, v, g->i64, ""); }

/* for (i = 0; i < n; i++) with an i32 counter, n >= 1 (a do-while: n is
 * given to l32_end) */
static void l32_begin(gen_lctx *c, loop32 *l, const char *name)
{
    gen_ctx *g = c->g;
    l->var = gen_ir_alloca(c, g->i32, name);
    LLVMBuildStore(g->b, c32(g, 0), l->var);
    l->body = LLVMAppendBasicBlockInContext(g->ctx, c->fn, name);
    l->exit = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "exit");
    LLVMBuildBr(g->b, l->body);
    LLVMPositionBuilderAtEnd(g->b, l->body);
    l->i = LLVMBuildLoad2(g->b, g->i32, l->var, name);
}

static void l32_end(gen_lctx *c, loop32 *l, int n)
{
    gen_ctx *g = c->g;
    V i = LLVMBuildLoad2(g->b, g->i32, l->var, "");
    V nx = LLVMBuildAdd(g->b, i, c32(g, 1), "");
    LLVMBuildStore(g->b, nx, l->var);
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntULT, nx, c32(g, n), ""), l->body, l->exit);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}

/* In-range test of a padded coordinate: 0 <= v < n (i32, unsigned compare). */
static V in_range32(gen_ctx *g, V v, int n)
{
    return LLVMBuildICmp(g->b, LLVMIntULT, v, c32(g, n), "");
}

/* 1 when every weight of L is a finite W value (the weights are part of
 * the object: what gen_plan packs, nr_encode in the layer's mode). */
static int weights_finite(const nr_layer *L, const nr_format *wf, nr_rounding mode)
{
    if (!L->w)
        return 0;
    for (size_t k = 0; k < L->nw; k++)
        if (!isfinite(nr_decode(wf, nr_encode(wf, mode, L->w[k], 0, NULL))))
            return 0;
    return 1;
}

/* The layer with the unpacked accumulator (emit_iacc.c): the same loop
 * nest and term order as below, in i32. */
static void emit_iacc_layer(gen_lctx *c, const nr_layer *L, const igeom *G, int any_pad)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const int li = (int)(L - c->m->layers);
    const nr_format *wf = &L->prec.weights, *xf = gen_ir_in_fmt(c, li, 0);
    const nr_format *sf = &L->prec.accumulator, *af = &L->prec.activations;
    nr_rounding mode = L->prec.rounding;
    const int fused = L->prec.mac == NR_MAC_FUSED;
    /* the FPU's float32 arithmetic where it is exact (emit_facc.c), else
     * the unpacked integer accumulator (emit_iacc.c) */
    const int fpu = gen_facc_ok(g, wf, xf, &L->prec.products, sf, mode, fused);
    gen_iacc ia;
    gen_facc fa;
    if (fpu)
        gen_facc_init(c, &fa, wf, xf, &L->prec.products, sf, weights_finite(L, wf, mode));
    else
        gen_iacc_init(c, &ia, wf, xf, &L->prec.products, sf, mode, fused);
    loop32 lo, lh, lw, lc, lr, lq;
    l32_begin(c, &lo, "o");
    V o = lo.i;
    V ci0 = LLVMBuildMul(B, LLVMBuildUDiv(B, o, c32(g, G->cout_g), ""), c32(g, G->cin_g), "ci0");
    /* [net-4] start: the bias (a W value) rounded to S, or +0 */
    V start = c32(g, 0);
    if (L->b)
        start = LLVMBuildTrunc(B, gen_numi_round(g, wf, sf, mode, gen_ir_load_w(c, wf, c->b, zx64(g, o))),
                               g->i32, "start");
    V wrow = LLVMBuildMul(B, o, c32(g, G->K), "wrow");
    l32_begin(c, &lh, "oh");
    V ih0 = LLVMBuildSub(B, LLVMBuildMul(B, lh.i, c32(g, G->sh), ""), c32(g, G->pt), "ih0");
    l32_begin(c, &lw, "ow");
    V iw0 = LLVMBuildSub(B, LLVMBuildMul(B, lw.i, c32(g, G->sw), ""), c32(g, G->pl), "iw0");
    V elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, o, c32(g, G->OH), ""), lh.i, ""),
                                          c32(g, G->OW), ""), lw.i, "elem");
    if (fpu)
        gen_facc_set(c, &fa, start);
    else
        gen_iacc_set(c, &ia, start);
    l32_begin(c, &lc, "ci");
    V xch = LLVMBuildMul(B, LLVMBuildAdd(B, ci0, lc.i, ""), c32(g, (int64_t)G->H * G->W), "xch");
    l32_begin(c, &lr, "r");
    V ih = LLVMBuildAdd(B, ih0, LLVMBuildMul(B, lr.i, c32(g, G->dh), ""), "ih");
    l32_begin(c, &lq, "q");
    V iw = LLVMBuildAdd(B, iw0, LLVMBuildMul(B, lq.i, c32(g, G->dw), ""), "iw");
    /* k = (ci*kh + r)*kw + q, counted over the full kernel */
    V k = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lc.i, c32(g, G->kh), ""), lr.i, ""),
                                       c32(g, G->kw), ""), lq.i, "k");
    V wi = LLVMBuildAdd(B, wrow, k, "wi");
    V xi = LLVMBuildAdd(B, xch, LLVMBuildAdd(B, LLVMBuildMul(B, ih, c32(g, G->W), ""), iw, ""), "xi");
    LLVMBasicBlockRef next = NULL;
    if (any_pad) { /* [net-4] a padding position is no term at all */
        LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "term");
        next = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "term.next");
        LLVMBuildCondBr(B, LLVMBuildAnd(B, in_range32(g, ih, G->H), in_range32(g, iw, G->W), ""), yes, next);
        LLVMPositionBuilderAtEnd(B, yes);
    }
    V w = LLVMBuildTrunc(B, gen_ir_load_w(c, wf, c->w, zx64(g, wi)), g->i32, "");
    V x = LLVMBuildTrunc(B, gen_ir_load_enc(c, xf, c->in[0], zx64(g, xi)), g->i32, "");
    if (fpu)
        gen_facc_term(c, &fa, w, x);
    else
        gen_iacc_term(c, &ia, w, x);
    if (next) {
        LLVMBuildBr(B, next);
        LLVMPositionBuilderAtEnd(B, next);
    }
    l32_end(c, &lq, G->kw);
    l32_end(c, &lr, G->kh);
    l32_end(c, &lc, G->cin_g);
    /* [net-5] the output: round_A(acc), term OUT */
    V acc = zx64(g, fpu ? gen_facc_get(c, &fa) : gen_iacc_get(c, &ia));
    V y = nr_format_equal(sf, af) ? acc : gen_numi_round(g, sf, af, mode, acc);
    gen_ir_store_enc(c, af, c->out, zx64(g, elem), y);
    l32_end(c, &lw, G->OW);
    l32_end(c, &lh, G->OH);
    l32_end(c, &lo, G->O);
}

int gen_emit_mac_int(gen_lctx *c, int li, nr_err *err)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    igeom G;
    int grc = nr_mac_geom_check(L, &G, err);
    if (grc)
        return grc;
    const nr_format *wf = &L->prec.weights, *xf = gen_ir_in_fmt(c, li, 0);
    const nr_format *sf = &L->prec.accumulator, *af = &L->prec.activations;
    nr_rounding mode = L->prec.rounding;
    int any_pad = 0; /* can some kernel position fall into the padding? */
    for (int r = 0; r < G.kh; r++)
        any_pad |= r * G.dh - G.pt < 0 || (long)(G.OH - 1) * G.sh + r * G.dh - G.pt >= G.H;
    for (int q = 0; q < G.kw; q++)
        any_pad |= q * G.dw - G.pl < 0 || (long)(G.OW - 1) * G.sw + q * G.dw - G.pl >= G.W;
    if (gen_facc_ok(g, wf, xf, &L->prec.products, sf, mode, L->prec.mac == NR_MAC_FUSED) ||
        gen_iacc_ok(wf, xf, &L->prec.products, sf, mode, L->prec.mac == NR_MAC_FUSED)) {
        emit_iacc_layer(c, L, &G, any_pad);
        return 0;
    }
    V step = gen_numi_fn_fast_step(g, wf, xf, &L->prec.products, sf, mode, L->prec.mac == NR_MAC_FUSED);
    T sargs[3] = {g->i32, g->i32, g->i32};
    T sty = LLVMFunctionType(g->i32, sargs, 3, 0);

    V accp = gen_ir_alloca(c, g->i32, "iacc");
    gen_loop lo, lh, lw, lc, lr, lq;
    gen_ir_loop_begin(c, &lo, (uint64_t)G.O, "o");
    V o = lo.i;
    V ci0 = LLVMBuildMul(B, LLVMBuildUDiv(B, o, i64c(c, G.cout_g), ""), i64c(c, G.cin_g), "ci0");
    /* [net-4] start: the bias (a W value) rounded to S, or +0 */
    V start = LLVMConstInt(g->i32, 0, 0);
    if (L->b)
        start = LLVMBuildTrunc(B, gen_numi_round(g, wf, sf, mode, gen_ir_load_w(c, wf, c->b, o)),
                               g->i32, "start");
    V wrow = LLVMBuildMul(B, o, i64c(c, G.K), "wrow");
    gen_ir_loop_begin(c, &lh, (uint64_t)G.OH, "oh");
    V ih0 = LLVMBuildSub(B, LLVMBuildMul(B, lh.i, i64c(c, G.sh), ""), i64c(c, G.pt), "ih0");
    gen_ir_loop_begin(c, &lw, (uint64_t)G.OW, "ow");
    V iw0 = LLVMBuildSub(B, LLVMBuildMul(B, lw.i, i64c(c, G.sw), ""), i64c(c, G.pl), "iw0");
    V elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, o, i64c(c, G.OH), ""), lh.i, ""),
                                          i64c(c, G.OW), ""), lw.i, "elem");
    LLVMBuildStore(B, start, accp);
    gen_ir_loop_begin(c, &lc, (uint64_t)G.cin_g, "ci");
    V xch = LLVMBuildMul(B, LLVMBuildAdd(B, ci0, lc.i, ""), i64c(c, (int64_t)G.H * G.W), "xch");
    gen_ir_loop_begin(c, &lr, (uint64_t)G.kh, "r");
    V ih = LLVMBuildAdd(B, ih0, LLVMBuildMul(B, lr.i, i64c(c, G.dh), ""), "ih");
    gen_ir_loop_begin(c, &lq, (uint64_t)G.kw, "q");
    V iw = LLVMBuildAdd(B, iw0, LLVMBuildMul(B, lq.i, i64c(c, G.dw), ""), "iw");
    /* k = (ci*kh + r)*kw + q, counted over the full kernel */
    V k = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lc.i, i64c(c, G.kh), ""), lr.i, ""),
                                       i64c(c, G.kw), ""), lq.i, "k");
    V wi = LLVMBuildAdd(B, wrow, k, "wi");
    V xi = LLVMBuildAdd(B, xch, LLVMBuildAdd(B, LLVMBuildMul(B, ih, i64c(c, G.W), ""), iw, ""), "xi");
    if (any_pad) { /* [net-4] a padding position is no term at all */
        LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "term");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "term.next");
        LLVMBuildCondBr(B, LLVMBuildAnd(B, in_range(g, ih, G.H), in_range(g, iw, G.W), ""), yes, next);
        LLVMPositionBuilderAtEnd(B, yes);
        term(c, L, step, sty, accp, wi, xi);
        LLVMBuildBr(B, next);
        LLVMPositionBuilderAtEnd(B, next);
    } else {
        term(c, L, step, sty, accp, wi, xi);
    }
    gen_ir_loop_end(c, &lq);
    gen_ir_loop_end(c, &lr);
    gen_ir_loop_end(c, &lc);
    /* [net-5] the output: round_A(acc), term OUT (an S encoding is already
     * the A encoding when the formats are equal) */
    V acc = LLVMBuildZExt(B, LLVMBuildLoad2(B, g->i32, accp, "acc"), g->i64, "");
    V y = nr_format_equal(sf, af) ? acc : gen_numi_round(g, sf, af, mode, acc);
    gen_ir_store_enc(c, af, c->out, elem, y);
    gen_ir_loop_end(c, &lw);
    gen_ir_loop_end(c, &lh);
    gen_ir_loop_end(c, &lo);
    return 0;
}
