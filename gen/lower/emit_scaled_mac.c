/* emit_scaled_mac.c -- the dot product of a MAC layer with scaled operands,
 * a block mac or promote ([scl-dot-order] .. [scl-dot-sr]) as IR, written
 * after the emulator's emu_mac_scaled (runtime/emu/emu_scaled.c) step by
 * step so that every rounding event is the same one (format, mode, SR
 * term): per output element, taps outer (kernel row, column; padding taps
 * skipped), input channel inner; a segment closes when the weight's or the
 * input's scale group changes or after `promote` terms, and enters the
 * outer sum with both scales:
 *   block-fp32:  t = fp32(part * Xw * Xa) (SCALE), acc = fp32(acc + t) (ENTER)
 *   block-exact: acc = round_S(exact segment sum + acc) (ENTER)
 *   unfused/fused/promote: acc = round_O(acc + part * Xw * Xa) (ENTER)
 *   exact: one exact sum of every dequantized product and the bias (EXACT).
 * part * Xw * Xa is exact: part times the scale with fewer significant bits
 * is a double (gen_scaled_check refuses the rest), times the other is
 * gen_num_exact_mul's exact product.  The exact modes use the runtime's
 * Kulisch accumulator (nr_rt_kacc_*), sized as the emulator sizes it. */
#include "emit_scaled.h"
#include "emulator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

typedef nr_mac_geom sgeom; /* geom.c */

/* Smallest and largest positive scale of a scaled operand (1, 1: none),
 * as emu_scaled.c's scale_range. */
static void scale_range(const nr_scaled *s, double *lo, double *hi)
{
    if (!s) {
        *lo = *hi = 1.0;
        return;
    }
    switch (s->scale) {
    case NR_SCALE_E8M0: *lo = 0x1p-127, *hi = 0x1p127; break;
    case NR_SCALE_UE4M3: *lo = 0x1p-9, *hi = 448.0; break;
    case NR_SCALE_NV: *lo = 0x1p-158, *hi = 448.0 * 0x1p128; break;
    default: *lo = 0x1p-149, *hi = 0x1p128; break;
    }
}

typedef struct smac {
    gen_lctx *c;
    const nr_layer *L;
    sgeom g;
    const nr_scaled *ws, *xs;
    const nr_format *wef, *xef;  /* the operands' element (or plain) formats */
    const nr_format *ppf, *sf, *of; /* products, partial sums, outer sum     */
    const nr_format *f32;
    nr_rounding mode;
    nr_mac_mode mac;
    int promote;
    int wfirst;                  /* part * Xw is exact in double (else * Xa) */
    int fast_bf32;               /* block-fp32 rne, products exact in double:
                                  * host float arithmetic ([net-12])         */
    int fast_pow2;               /* ... and both scales powers of two        */
    int fast_bexact;             /* block-exact whose segment sums are exact
                                  * in double (see setup)                    */
    int klimbs, klsb;
    V acc, part, xw, xa, n, last, open, pgw, pga; /* allocas */
    V elem;
    T kadd_ty;
} smac;

static V c32(gen_ctx *g, uint64_t v) { return LLVMConstInt(g->i32, v, 0); }
static V cf(gen_ctx *g, double v) { return LLVMConstReal(g->f64, v); }
static V gep(gen_ctx *g, T t, V base, V i) { return LLVMBuildGEP2(g->b, t, base, &i, 1, ""); }
static V ld(gen_ctx *g, T t, V p) { return LLVMBuildLoad2(g->b, t, p, ""); }

/* SR term number 0x80000000 + 2 last (+1) of the segment's last term. */
static V seg_term(smac *s, V last, uint32_t plus)
{
    gen_ctx *g = s->c->g;
    V k32 = LLVMBuildTrunc(g->b, last, g->i32, "");
    return LLVMBuildAdd(g->b, LLVMBuildShl(g->b, k32, c32(g, 1), ""), c32(g, 0x80000000u + plus), "");
}

static V sr(smac *s, V term) { return gen_ir_sr(s->c, s->mode, s->elem, term); }

static void kacc_init_add(smac *s, V v)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    T iargs[3] = {c->ptr, g->i32, g->i32};
    T ity = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), iargs, 3, 0);
    V a[3] = {c->scratch, c32(g, (uint64_t)s->klimbs), LLVMConstInt(g->i32, (uint64_t)(int64_t)s->klsb, 1)};
    LLVMBuildCall2(g->b, ity, gen_ir_rt_fn(c, "nr_rt_kacc_init", ity), a, 3, "");
    V b[3] = {c->scratch, v, cf(g, 1.0)};
    LLVMBuildCall2(g->b, s->kadd_ty, gen_ir_rt_fn(c, "nr_rt_kacc_add", s->kadd_ty), b, 3, "");
}

/* The accumulator's exact sum (rt.h's six words) rounded into f. */
static V kacc_round(smac *s, const nr_format *f, V term)
{
    gen_ctx *g = s->c->g;
    gen_exact x;
    gen_emit_kacc_result(s->c, s->c->scratch, s->mode, &x);
    return gen_num_decode(g, f, gen_num_round(g, f, s->mode, &x, sr(s, term)));
}

/* The open segment enters the outer sum. */
static void seg_close(smac *s)
{
    gen_ctx *g = s->c->g;
    LLVMBuilderRef B = g->b;
    V last = ld(g, g->i64, s->last);
    if (s->mac == NR_MAC_EXACT)
        goto done;
    if (s->mac == NR_MAC_BLOCK_EXACT && s->fast_bexact) {
        /* round_S(part * (Xw Xa) + acc): part and Xw Xa exact doubles */
        V xwa = LLVMBuildFMul(B, ld(g, g->f64, s->xw), ld(g, g->f64, s->xa), "");
        V r = gen_num_round_fma(g, s->of, s->mode, ld(g, g->f64, s->part), xwa,
                                ld(g, g->f64, s->acc), sr(s, seg_term(s, last, 1)));
        LLVMBuildStore(B, gen_num_decode(g, s->of, r), s->acc);
        goto done;
    }
    if (s->mac == NR_MAC_BLOCK_EXACT) {
        LLVMBuildStore(B, kacc_round(s, s->of, seg_term(s, last, 1)), s->acc);
        goto done;
    }
    if (s->fast_pow2) { /* [net-12] part Xw Xa exact in double; one float rounding each */
        T f32 = LLVMFloatTypeInContext(g->ctx);
        V x = LLVMBuildFMul(B, LLVMBuildFMul(B, ld(g, g->f64, s->part), ld(g, g->f64, s->xw), ""),
                            ld(g, g->f64, s->xa), "");
        V t = LLVMBuildFPTrunc(B, x, f32, "t");
        V a = LLVMBuildFAdd(B, LLVMBuildFPTrunc(B, ld(g, g->f64, s->acc), f32, ""), t, "");
        LLVMBuildStore(B, LLVMBuildFPExt(B, a, g->f64, ""), s->acc);
        goto done;
    }
    V part = ld(g, g->f64, s->part), xw = ld(g, g->f64, s->xw), xa = ld(g, g->f64, s->xa);
    V a = LLVMBuildFMul(B, part, s->wfirst ? xw : xa, "a"); /* exact */
    V b = s->wfirst ? xa : xw;
    V acc = ld(g, g->f64, s->acc), r;
    if (s->mac == NR_MAC_BLOCK_FP32) {
        gen_exact x;
        gen_num_exact_mul(g, a, b, &x);
        V t = gen_num_decode(g, s->f32, gen_num_round(g, s->f32, s->mode, &x, sr(s, seg_term(s, last, 0))));
        r = gen_num_round_sum(g, s->f32, s->mode, acc, t, sr(s, seg_term(s, last, 1)));
    } else {
        r = gen_num_round_fma(g, s->of, s->mode, a, b, acc, sr(s, seg_term(s, last, 1)));
    }
    LLVMBuildStore(B, gen_num_decode(g, s->of, r), s->acc);
done:
    LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), s->open);
}

static void seg_open(smac *s, V xw, V xa, V gw, V ga)
{
    gen_ctx *g = s->c->g;
    LLVMBuilderRef B = g->b;
    LLVMBuildStore(B, cf(g, 0.0), s->part);
    LLVMBuildStore(B, xw, s->xw);
    LLVMBuildStore(B, xa, s->xa);
    LLVMBuildStore(B, gen_ir_i64(s->c, 0), s->n);
    LLVMBuildStore(B, gw, s->pgw);
    LLVMBuildStore(B, ga, s->pga);
    LLVMBuildStore(B, LLVMConstInt(g->i1, 1, 0), s->open);
    if (s->mac == NR_MAC_BLOCK_EXACT && !s->fast_bexact)
        kacc_init_add(s, ld(g, g->f64, s->acc));
}

/* One term k (i64) of element values pw, pa with scales xw, xa. */
static void term(smac *s, V k, V pw, V xw, V pa, V xa)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V two_k = LLVMBuildShl(B, LLVMBuildTrunc(B, k, g->i32, ""), c32(g, 1), "");
    V part = ld(g, g->f64, s->part);
    if (s->fast_bf32) { /* [net-12] pw*pa exact in double: float rounds once, rne */
        T f32 = LLVMFloatTypeInContext(g->ctx);
        V p = LLVMBuildFPTrunc(B, LLVMBuildFMul(B, pw, pa, ""), f32, "p");
        V r = LLVMBuildFAdd(B, LLVMBuildFPTrunc(B, part, f32, ""), p, "");
        LLVMBuildStore(B, LLVMBuildFPExt(B, r, g->f64, ""), s->part);
        goto counted;
    }
    if (s->fast_bexact) { /* every partial sum exact in double (setup) */
        LLVMBuildStore(B, LLVMBuildFAdd(B, part, LLVMBuildFMul(B, pw, pa, ""), ""), s->part);
        goto counted;
    }
    switch (s->mac) {
    case NR_MAC_BLOCK_FP32:
    case NR_MAC_UNFUSED: {
        V p = gen_num_decode(g, s->ppf, gen_num_round_prod(g, s->ppf, s->mode, s->wef, s->xef, pw, pa,
                                                           sr(s, LLVMBuildAdd(B, two_k, c32(g, 1), ""))));
        V r = gen_num_round_sum(g, s->sf, s->mode, part, p, sr(s, LLVMBuildAdd(B, two_k, c32(g, 2), "")));
        LLVMBuildStore(B, gen_num_decode(g, s->sf, r), s->part);
        break;
    }
    case NR_MAC_FUSED: {
        V r = gen_num_round_fma(g, s->sf, s->mode, pw, pa, part, sr(s, LLVMBuildAdd(B, two_k, c32(g, 2), "")));
        LLVMBuildStore(B, gen_num_decode(g, s->sf, r), s->part);
        break;
    }
    default: { /* exact, block-exact: dequantized values, exact in double */
        V a[3] = {c->scratch, LLVMBuildFMul(B, pw, xw, ""), LLVMBuildFMul(B, pa, xa, "")};
        LLVMBuildCall2(B, s->kadd_ty, gen_ir_rt_fn(c, "nr_rt_kacc_add", s->kadd_ty), a, 3, "");
        break;
    }
    }
counted:
    LLVMBuildStore(B, LLVMBuildAdd(B, ld(g, g->i64, s->n), gen_ir_i64(c, 1), ""), s->n);
    LLVMBuildStore(B, k, s->last);
}

/* if (cond) { body } -- returns the block after; body is emitted by the caller
 * between if_begin and if_end. */
static LLVMBasicBlockRef if_begin(gen_lctx *c, V cond, const char *name)
{
    gen_ctx *g = c->g;
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(g->ctx, c->fn, name);
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "endif");
    LLVMBuildCondBr(g->b, cond, then, after);
    LLVMPositionBuilderAtEnd(g->b, then);
    return after;
}
static void if_end(gen_lctx *c, LLVMBasicBlockRef after)
{
    LLVMBuildBr(c->g->b, after);
    LLVMPositionBuilderAtEnd(c->g->b, after);
}

/* The input channel loop of one tap (r, q) at input position (ih, iw). */
static void tap(smac *s, V o, V ci0, V r, V q, V ih, V iw)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const sgeom *G = &s->g;
    const nr_layer *L = s->L;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    const int dense = L->op == NR_OP_DENSE;
    const int *xsh = L->in_shape[0];
    const uint64_t xhw = (uint64_t)xsh[1] * (uint64_t)xsh[2];
    const uint64_t wnb = s->ws && s->ws->gran == NR_GRAN_BLOCK
                             ? ((uint64_t)G->cin_g + (uint64_t)s->ws->block - 1) / (uint64_t)s->ws->block
                             : 1;
    const uint64_t xnb = s->xs && s->xs->gran == NR_GRAN_BLOCK
                             ? ((uint64_t)xsh[0] + (uint64_t)s->xs->block - 1) / (uint64_t)s->xs->block
                             : 1;
    gen_scaled_layout xl = {0};
    if (s->xs)
        gen_scaled_act_layout(s->xs, xsh, &xl);
    V tapi = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, o, gen_ir_i64(c, (uint64_t)G->kh), ""), r, ""),
                                          gen_ir_i64(c, (uint64_t)G->kw), ""), q, "tap");
    gen_loop lc;
    gen_ir_loop_begin(c, &lc, (uint64_t)G->cin_g, "ci");
    V ci = lc.i;
    V k = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, ci, gen_ir_i64(c, (uint64_t)G->kh), ""), r, ""),
                                       gen_ir_i64(c, (uint64_t)G->kw), ""), q, "k");
    V tapn = LLVMBuildAdd(B, LLVMBuildMul(B, r, gen_ir_i64(c, (uint64_t)G->kw), ""), q, "tapn");
    V wi = s->ws ? gen_scaled_wblk_ir(c, (uint64_t)G->O, (uint64_t)G->K, o,
                                      LLVMBuildAdd(B, LLVMBuildMul(B, tapn, gen_ir_i64(c, (uint64_t)G->cin_g), ""), ci, ""))
                 : LLVMBuildAdd(B, LLVMBuildMul(B, o, gen_ir_i64(c, (uint64_t)G->K), ""), k, "wi");
    V cin = LLVMBuildAdd(B, ci0, ci, "");
    V xi = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, cin, gen_ir_i64(c, (uint64_t)G->H), ""), ih, ""),
                                        gen_ir_i64(c, (uint64_t)G->W), ""), iw, "xi");
    /* groups ([scl-dot-wq], [scl-dot-act]) and operands */
    V gw = gen_ir_i64(c, 0), ga = gen_ir_i64(c, 0), pw, xw = cf(g, 1.0), pa, xa = cf(g, 1.0);
    if (s->ws) {
        if (s->ws->gran == NR_GRAN_CHANNEL)
            gw = o;
        else if (s->ws->gran == NR_GRAN_BLOCK)
            gw = LLVMBuildAdd(B, LLVMBuildMul(B, tapi, gen_ir_i64(c, wnb), ""),
                              LLVMBuildUDiv(B, ci, gen_ir_i64(c, (uint64_t)s->ws->block), ""), "gw");
        /* the blob's o-blocked scales (emit_scaled.h); gw stays the group id */
        V gwi = gw;
        if (s->ws->gran == NR_GRAN_BLOCK)
            gwi = gen_scaled_wblk_ir(c, (uint64_t)G->O, (uint64_t)G->kh * (uint64_t)G->kw * wnb, o,
                                     LLVMBuildAdd(B, LLVMBuildMul(B, tapn, gen_ir_i64(c, wnb), ""),
                                                  LLVMBuildUDiv(B, ci, gen_ir_i64(c, (uint64_t)s->ws->block), ""), ""));
        pw = LLVMBuildFPExt(B, ld(g, f32, gep(g, f32, c->w, wi)), g->f64, "pw");
        V sc = gep(g, g->i8, c->w, gen_ir_i64(c, (L->nw * 4 + 7) / 8 * 8));
        xw = ld(g, g->f64, gep(g, g->f64, sc, gwi));
    } else {
        pw = gen_ir_decode(c, s->wef, gen_ir_load_w(c, s->wef, c->w, wi));
    }
    if (s->xs) {
        if (s->xs->gran == NR_GRAN_BLOCK) {
            V B_ = gen_ir_i64(c, (uint64_t)s->xs->block);
            if (dense)
                ga = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildURem(B, xi, gen_ir_i64(c, xhw), ""), gen_ir_i64(c, xnb), ""),
                                  LLVMBuildUDiv(B, LLVMBuildUDiv(B, xi, gen_ir_i64(c, xhw), ""), B_, ""), "ga");
            else
                ga = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, ih, gen_ir_i64(c, (uint64_t)G->W), ""), iw, ""),
                                                  gen_ir_i64(c, xnb), ""),
                                  LLVMBuildUDiv(B, cin, B_, ""), "ga");
        }
        V pb = gep(g, g->i8, c->in[0], gen_ir_i64(c, xl.p_off));
        V xb = gep(g, g->i8, c->in[0], gen_ir_i64(c, xl.x_off));
        pa = LLVMBuildFPExt(B, ld(g, f32, gep(g, f32, pb, xi)), g->f64, "pa");
        xa = ld(g, g->f64, gep(g, g->f64, xb, ga));
    } else {
        pa = gen_ir_load_dec(c, s->xef, c->in[0], xi);
    }
    /* close the open segment when a group changes or promote's K is full */
    V open = ld(g, g->i1, s->open);
    V chg = LLVMBuildOr(B, LLVMBuildICmp(B, LLVMIntNE, gw, ld(g, g->i64, s->pgw), ""),
                        LLVMBuildICmp(B, LLVMIntNE, ga, ld(g, g->i64, s->pga), ""), "");
    if (s->promote > 0)
        chg = LLVMBuildOr(B, chg, LLVMBuildICmp(B, LLVMIntEQ, ld(g, g->i64, s->n),
                                                gen_ir_i64(c, (uint64_t)s->promote), ""), "");
    LLVMBasicBlockRef after = if_begin(c, LLVMBuildAnd(B, open, chg, ""), "close");
    seg_close(s);
    if_end(c, after);
    after = if_begin(c, LLVMBuildNot(B, ld(g, g->i1, s->open), ""), "open");
    seg_open(s, xw, xa, gw, ga);
    if_end(c, after);
    term(s, k, pw, xw, pa, xa);
    gen_ir_loop_end(c, &lc);
}

/* The exact accumulator of layer L, sized as emu_mac_size does (operands
 * P * X with P of the element format and X in the scale's range). */
static void ksize(const nr_model *m, const nr_layer *L, int *lsb, int *limbs)
{
    const nr_scaled *ws = L->prec.weights_scaled.gran != NR_GRAN_NONE ? &L->prec.weights_scaled : NULL;
    const nr_scaled *xs = gen_scaled_act(m, L->inputs[0]);
    const nr_format *wef = ws ? &ws->elem : &L->prec.weights;
    const nr_format *xef = xs ? &xs->elem
                              : L->inputs[0] < 0 ? &m->in_format
                                                 : &m->layers[L->inputs[0]].prec.activations;
    gen_scaled_ksize(L, ws, xs, wef, xef, lsb, limbs);
}

void gen_scaled_ksize(const nr_layer *L, const nr_scaled *ws, const nr_scaled *xs,
                      const nr_format *wef, const nr_format *xef, int *lsb, int *limbs)
{
    double wlo, whi, xlo, xhi;
    scale_range(ws, &wlo, &whi);
    scale_range(xs, &xlo, &xhi);
    int lw = ilogb(wef->min_subnormal) + ilogb(wlo), lx = ilogb(xef->min_subnormal) + ilogb(xlo);
    int lc = ilogb(L->prec.accumulator.min_subnormal);
    int mw = ilogb(wef->max_finite) + ilogb(whi) + 2, mx = ilogb(xef->max_finite) + ilogb(xhi) + 2;
    int mc = ilogb(L->prec.accumulator.max_finite) + 1;
    *lsb = (lw + lx < lc ? lw + lx : lc) - 110;
    *limbs = ((mw + mx > mc ? mw + mx : mc) + 34 - *lsb) / 64 + 4;
}

static void vinfo_fill(const nr_layer *L, uint64_t K, int no_libm, gen_scaled_vinfo *v);

void gen_scaled_vinfo_of(const nr_model *m, int li, int no_libm, gen_scaled_vinfo *v)
{
    const nr_layer *L = &m->layers[li];
    nr_mac_geom G;
    nr_mac_geom_of(L, &G);
    memset(v, 0, sizeof *v);
    v->ws = L->prec.weights_scaled.gran != NR_GRAN_NONE ? &L->prec.weights_scaled : NULL;
    v->xs = gen_scaled_act(m, L->inputs[0]);
    v->wef = v->ws ? &v->ws->elem : &L->prec.weights;
    v->xef = v->xs ? &v->xs->elem : gen_scaled_carrier(m, L->inputs[0]);
    vinfo_fill(L, (uint64_t)G.K, no_libm, v);
}

/* The rest of gen_scaled_vinfo_of from the operands (ws, xs, wef, xef set)
 * and the dot product's length K. */
static void vinfo_fill(const nr_layer *L, uint64_t K, int no_libm, gen_scaled_vinfo *v)
{
    v->mode = L->prec.rounding;
    v->mac = L->prec.mac;
    v->promote = L->prec.promote;
    v->of = gen_scaled_outer_fmt(L);
    int bw = gen_scaled_scale_bits(v->ws), ba = gen_scaled_scale_bits(v->xs);
    v->wfirst = bw <= ba;
    /* exact products: emit_num.c's prod_exact_in_double test */
    const nr_format *a = v->wef, *b = v->xef;
    int lsa = a->kind == NR_FIXED ? -a->frac_bits : a->emin - a->man_bits;
    int lsb2 = b->kind == NR_FIXED ? -b->frac_bits : b->emin - b->man_bits;
    int topsum = ilogb(a->max_finite) + ilogb(b->max_finite) + 2;
    int prod_exact = a->prec + b->prec <= 53 && lsa + lsb2 >= -1074 && topsum <= 1024;
    v->fast_bf32 = v->mac == NR_MAC_BLOCK_FP32 && v->mode == NR_RND_RNE && prod_exact && !no_libm;
    v->fast_pow2 = v->fast_bf32 && bw == 1 && ba == 1;
    /* block-exact: with both operands scaled (elements finite or NaN), every
     * product a multiple of 2^(lsa+lsb2) below 2^topsum, a segment of at
     * most K terms sums exactly in double when the span, K's bits included,
     * fits 53 bits; Xw Xa is exact when the scales' bits fit too.  Not rd
     * (an exact zero sum's sign), not wrapping fixed point. */
    int kbits = 0;
    while ((1L << kbits) <= (long)K + 1)
        kbits++;
    v->fast_bexact = v->mac == NR_MAC_BLOCK_EXACT && v->ws && v->xs && v->mode != NR_RND_RD &&
                     topsum + kbits - (lsa + lsb2) <= 53 && bw + ba <= 53 &&
                     !(v->of->kind == NR_FIXED && !v->of->saturate);
}

/* The dot product's plan from the layer's vector info v: operands, modes,
 * the formats of its segment sums and products ([scl-dot-*]). */
static void smac_take(smac *s, const nr_layer *L, const gen_scaled_vinfo *v)
{
    s->ws = v->ws, s->xs = v->xs, s->wef = v->wef, s->xef = v->xef;
    s->mode = v->mode, s->mac = v->mac, s->promote = v->promote, s->of = v->of;
    s->f32 = gen_scaled_f32();
    s->sf = s->mac == NR_MAC_BLOCK_FP32 ? s->f32 : &L->prec.accumulator;
    s->ppf = s->mac == NR_MAC_BLOCK_FP32 ? s->f32 : &L->prec.products;
    s->wfirst = v->wfirst;
    s->fast_bf32 = v->fast_bf32, s->fast_pow2 = v->fast_pow2, s->fast_bexact = v->fast_bexact;
}

static int setup(gen_lctx *c, int li, smac *s, nr_err *err)
{
    const nr_model *m = c->m;
    const nr_layer *L = &m->layers[li];
    memset(s, 0, sizeof *s);
    s->c = c, s->L = L;
    nr_mac_geom_of(L, &s->g); /* checked by gen_emit_mac */
    const sgeom *G = &s->g;
    if (G->cin_g < 1 || G->cout_g < 1 || L->nw != (size_t)G->O * (size_t)G->K ||
        (L->b && L->nb != (size_t)G->O))
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name, "inconsistent scaled MAC layer");
    gen_scaled_vinfo v;
    gen_scaled_vinfo_of(m, li, c->g->no_libm, &v);
    smac_take(s, L, &v);
    ksize(m, L, &s->klsb, &s->klimbs);
    gen_ctx *g = c->g;
    T aargs[3] = {c->ptr, g->f64, g->f64};
    s->kadd_ty = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), aargs, 3, 0);
    return 0;
}

uint64_t gen_scaled_mac_scratch(const nr_model *m, int li, int vector)
{
    const nr_layer *L = &m->layers[li];
    if (vector && gen_scaled_vmac_applies(m, li, 0)) /* its channels-last input */
        return gen_scaled_vmac_scratch(m, li);
    if (L->prec.mac != NR_MAC_EXACT && L->prec.mac != NR_MAC_BLOCK_EXACT)
        return 0;
    int lsb, limbs;
    ksize(m, L, &lsb, &limbs);
    return (8 + 2 * (uint64_t)limbs) * 8;
}

int gen_emit_scaled_mac(gen_lctx *c, int li, nr_err *err)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    smac s;
    int rc = setup(c, li, &s, err);
    if (rc)
        return rc;
    if (gen_scaled_vmac_applies(c->m, li, g->no_libm)) { /* emit_scaled_vmac.c */
        gen_scaled_vinfo v;
        gen_scaled_vinfo_of(c->m, li, g->no_libm, &v);
        return gen_emit_scaled_vmac(c, li, &v, err);
    }
    const nr_layer *L = s.L;
    const sgeom *G = &s.g;
    s.acc = gen_ir_alloca(c, g->f64, "acc");
    s.part = gen_ir_alloca(c, g->f64, "part");
    s.xw = gen_ir_alloca(c, g->f64, "xw");
    s.xa = gen_ir_alloca(c, g->f64, "xa");
    s.n = gen_ir_alloca(c, g->i64, "n");
    s.last = gen_ir_alloca(c, g->i64, "last");
    s.pgw = gen_ir_alloca(c, g->i64, "pgw");
    s.pga = gen_ir_alloca(c, g->i64, "pga");
    s.open = gen_ir_alloca(c, g->i1, "open");
    gen_loop lo, lh, lw, lr, lq;
    gen_ir_loop_begin(c, &lo, (uint64_t)G->O, "o");
    V o = lo.i;
    V ci0 = LLVMBuildMul(B, LLVMBuildUDiv(B, o, gen_ir_i64(c, (uint64_t)G->cout_g), ""),
                         gen_ir_i64(c, (uint64_t)G->cin_g), "ci0");
    V bias = NULL;
    if (L->b)
        bias = s.ws ? ld(g, g->f64, gep(g, g->f64, c->b, o))
                    : gen_ir_decode(c, &L->prec.weights, gen_ir_load_w(c, &L->prec.weights, c->b, o));
    gen_ir_loop_begin(c, &lh, (uint64_t)G->OH, "oh");
    gen_ir_loop_begin(c, &lw, (uint64_t)G->OW, "ow");
    V oh = lh.i, ow = lw.i;
    s.elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, o, gen_ir_i64(c, (uint64_t)G->OH), ""), oh, ""),
                                          gen_ir_i64(c, (uint64_t)G->OW), ""), ow, "elem");
    /* [net-4] / [scl-dot-bias] the outer sum starts at the bias */
    V start = cf(g, 0.0);
    if (bias)
        start = gen_num_decode(g, s.of, gen_ir_round_val(c, s.of, s.mode, bias, s.elem, NR_EMU_TERM_BIAS));
    LLVMBuildStore(B, start, s.acc);
    LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), s.open);
    LLVMBuildStore(B, gen_ir_i64(c, 0), s.n);
    LLVMBuildStore(B, gen_ir_i64(c, 0), s.pgw);
    LLVMBuildStore(B, gen_ir_i64(c, 0), s.pga);
    LLVMBuildStore(B, gen_ir_i64(c, 0), s.last);
    if (s.mac == NR_MAC_EXACT)
        kacc_init_add(&s, start);
    gen_ir_loop_begin(c, &lr, (uint64_t)G->kh, "r");
    V ih = LLVMBuildAdd(B, LLVMBuildSub(B, LLVMBuildMul(B, oh, gen_ir_i64(c, (uint64_t)G->sh), ""), gen_ir_i64(c, (uint64_t)G->pt), ""),
                        LLVMBuildMul(B, lr.i, gen_ir_i64(c, (uint64_t)G->dh), ""), "ih");
    V rin = LLVMBuildICmp(B, LLVMIntULT, ih, gen_ir_i64(c, (uint64_t)G->H), ""); /* unsigned: <0 too */
    LLVMBasicBlockRef rafter = if_begin(c, rin, "rin");
    gen_ir_loop_begin(c, &lq, (uint64_t)G->kw, "q");
    V iw = LLVMBuildAdd(B, LLVMBuildSub(B, LLVMBuildMul(B, ow, gen_ir_i64(c, (uint64_t)G->sw), ""), gen_ir_i64(c, (uint64_t)G->pl), ""),
                        LLVMBuildMul(B, lq.i, gen_ir_i64(c, (uint64_t)G->dw), ""), "iw");
    V qin = LLVMBuildICmp(B, LLVMIntULT, iw, gen_ir_i64(c, (uint64_t)G->W), "");
    LLVMBasicBlockRef qafter = if_begin(c, qin, "qin");
    tap(&s, o, ci0, lr.i, lq.i, ih, iw);
    if_end(c, qafter);
    gen_ir_loop_end(c, &lq);
    if_end(c, rafter);
    gen_ir_loop_end(c, &lr);
    LLVMBasicBlockRef after = if_begin(c, ld(g, g->i1, s.open), "last");
    seg_close(&s);
    if_end(c, after);
    V acc = s.mac == NR_MAC_EXACT ? kacc_round(&s, &L->prec.accumulator, c32(g, NR_EMU_TERM_EXACT))
                                  : ld(g, g->f64, s.acc);
    /* [net-5] the output: round_A(acc), term OUT */
    const nr_format *af = &L->prec.activations;
    gen_ir_store_enc(c, af, c->out, s.elem, gen_ir_round_val(c, af, s.mode, acc, s.elem, NR_EMU_TERM_OUT));
    gen_ir_loop_end(c, &lw);
    gen_ir_loop_end(c, &lh);
    gen_ir_loop_end(c, &lo);
    return 0;
}

/* ------------------------------------------------------------ [scl-seq] */

struct gen_scaled_dot {
    smac s;
    uint64_t K;
};

gen_scaled_dot *gen_scaled_dot_new(gen_lctx *c, int li, const gen_scaled_vinfo *ops, uint64_t K,
                                   int klsb, int klimbs)
{
    const nr_layer *L = &c->m->layers[li];
    gen_scaled_dot *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    gen_scaled_vinfo v = *ops;
    vinfo_fill(L, K, c->g->no_libm, &v);
    smac *s = &d->s;
    gen_ctx *g = c->g;
    s->c = c, s->L = L;
    smac_take(s, L, &v);
    s->fast_bexact = v.fast_bexact && v.ws && v.xs;
    s->klsb = klsb, s->klimbs = klimbs;
    T aargs[3] = {c->ptr, g->f64, g->f64};
    s->kadd_ty = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), aargs, 3, 0);
    s->acc = gen_ir_alloca(c, g->f64, "acc");
    s->part = gen_ir_alloca(c, g->f64, "part");
    s->xw = gen_ir_alloca(c, g->f64, "xw");
    s->xa = gen_ir_alloca(c, g->f64, "xa");
    s->n = gen_ir_alloca(c, g->i64, "n");
    s->last = gen_ir_alloca(c, g->i64, "last");
    s->pgw = gen_ir_alloca(c, g->i64, "pgw");
    s->pga = gen_ir_alloca(c, g->i64, "pga");
    s->open = gen_ir_alloca(c, g->i1, "open");
    d->K = K;
    return d;
}

void gen_scaled_dot_free(gen_scaled_dot *d) { free(d); }

/* Term k's element value and scale of one operand (group id to *grp). */
static void opnd_load(smac *s, const gen_scaled_opnd *o, V k, V *p, V *x, V *grp)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V i = LLVMBuildAdd(B, o->first, LLVMBuildMul(B, k, gen_ir_i64(c, o->stride), ""), "");
    if (!o->s) {
        *p = o->blob ? gen_ir_decode(c, o->ef, gen_ir_load_w(c, o->ef, o->p, i))
                     : gen_ir_load_dec(c, o->ef, o->p, i);
        *x = cf(g, 1.0), *grp = gen_ir_i64(c, 0);
        return;
    }
    T f32 = LLVMFloatTypeInContext(g->ctx);
    *p = LLVMBuildFPExt(B, ld(g, f32, gep(g, f32, o->p, i)), g->f64, "");
    *grp = LLVMBuildUDiv(B, k, gen_ir_i64(c, o->block), "");
    *x = ld(g, g->f64, gep(g, g->f64, o->sc, *grp));
}

V gen_scaled_dot_line(gen_scaled_dot *d, V elem, V bias, const gen_scaled_opnd *w,
                      const gen_scaled_opnd *a)
{
    smac *s = &d->s;
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    s->elem = elem;
    V start = cf(g, 0.0);
    if (bias) /* [scl-dot-bias] the outer sum starts at the bias, term BIAS */
        start = gen_num_decode(g, s->of, gen_ir_round_val(c, s->of, s->mode, bias, elem, NR_EMU_TERM_BIAS));
    LLVMBuildStore(B, start, s->acc);
    LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), s->open);
    LLVMBuildStore(B, gen_ir_i64(c, 0), s->n);
    LLVMBuildStore(B, gen_ir_i64(c, 0), s->pgw);
    LLVMBuildStore(B, gen_ir_i64(c, 0), s->pga);
    LLVMBuildStore(B, gen_ir_i64(c, 0), s->last);
    if (s->mac == NR_MAC_EXACT)
        kacc_init_add(s, start);
    gen_loop lk;
    gen_ir_loop_begin(c, &lk, d->K, "k");
    V pw, xw, gw, pa, xa, ga;
    opnd_load(s, w, lk.i, &pw, &xw, &gw);
    opnd_load(s, a, lk.i, &pa, &xa, &ga);
    V chg = LLVMBuildOr(B, LLVMBuildICmp(B, LLVMIntNE, gw, ld(g, g->i64, s->pgw), ""),
                        LLVMBuildICmp(B, LLVMIntNE, ga, ld(g, g->i64, s->pga), ""), "");
    if (s->promote > 0)
        chg = LLVMBuildOr(B, chg, LLVMBuildICmp(B, LLVMIntEQ, ld(g, g->i64, s->n),
                                                gen_ir_i64(c, (uint64_t)s->promote), ""), "");
    LLVMBasicBlockRef after = if_begin(c, LLVMBuildAnd(B, ld(g, g->i1, s->open), chg, ""), "close");
    seg_close(s);
    if_end(c, after);
    after = if_begin(c, LLVMBuildNot(B, ld(g, g->i1, s->open), ""), "open");
    seg_open(s, xw, xa, gw, ga);
    if_end(c, after);
    term(s, lk.i, pw, xw, pa, xa);
    gen_ir_loop_end(c, &lk);
    after = if_begin(c, ld(g, g->i1, s->open), "last");
    seg_close(s);
    if_end(c, after);
    return s->mac == NR_MAC_EXACT ? kacc_round(s, &s->L->prec.accumulator, c32(g, NR_EMU_TERM_EXACT))
                                  : ld(g, g->f64, s->acc);
}
