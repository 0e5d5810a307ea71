/* emit_scaled_vmac.c -- the vector kernel of a conv layer with scaled
 * weights and a scaled input ([scl-dot-order] .. [scl-dot-block-exact]),
 * for the two shortcuts of emit_scaled_mac.c that use host arithmetic
 * ([net-12]): block-fp32 in rne with products exact (fast_bf32: every
 * product and partial sum one fp32 operation) and block-exact whose
 * segment sums are exact in double (fast_bexact).
 *
 * Lanes are output channels: a block of w <= GEN_SCALED_VL channels of one
 * group (the blob holds their weights adjacent, emit_scaled.h), so at one
 * term every lane reads the same input element P_a and scale X_a (one
 * broadcast) and its own weight (one vector load).  Each lane runs exactly
 * the emulator's sequence of roundings for its output element, so lanes
 * need no checks.  NP output columns are computed at once (independent
 * accumulator chains sharing the weight loads).
 *
 * Segments ([scl-dot-order]) are handled structurally, not per term: with
 * a block-scaled operand a segment is one block of input channels at one
 * tap (weights and input blocks of the same size, aligned: the applies
 * test), so the loop nest is taps, blocks, channels, and the scales are
 * loaded once per block; with tensor/channel scales only, the whole dot
 * product is one segment and its scales apply once at the end.  Padding
 * taps are skipped per column: the terms of a padded tap read 0 (whose
 * products +-0 leave a partial sum unchanged: it starts at +0 and rne never
 * makes -0 from +0 + -0) and its segment's entry is discarded by a select;
 * a column none of whose taps is inside keeps its bias, as in the emulator.
 *
 * Entering a segment: block-fp32 t = fp32(part * Xw * Xa) is the exact
 * product rounded once: part * X1 (the scale with fewer bits, exact in
 * double) times X2 rounded to odd in double (the fma residual gives the
 * sticky direction), then converted to float, which is then the correct
 * rne rounding (double has more than 24 + 1 bits); with two power-of-two
 * scales the double product is exact.  block-exact rounds part*XwXa + acc
 * once per lane with emit_num.c's gen_num_round_fma (once per output for
 * channel/tensor scales). */
#include "emit_scaled.h"
#include "emulator.h"

#include <math.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

enum { NP = 8 }; /* output columns per step: independent chains fill both FMA ports */

typedef struct svk {
    gen_lctx *c;
    const nr_layer *L;
    const gen_scaled_vinfo *v;
    int li;
    nr_mac_geom G;
    int seg;            /* input channels per segment at a tap; 0: one segment */
    int f32;            /* partial sums float (block-fp32), else double       */
    uint64_t wnb, xnb;  /* weight / input blocks along the channels           */
    gen_scaled_layout xl;
    int w;              /* lanes of the current channel block                 */
    T lt, vt, vd, vi;   /* lane scalar type; vectors of it, of double, of i64  */
    V o0, ci0, wbase, sbase; /* current channel block; its weights, scales     */
    V pb, xb;           /* input P (float, channels-last copy) and X (double)  */
    V acc[NP], part[NP], any[NP]; /* allocas                                   */
    V valid[NP], pos[NP]; /* per column at the current tap                     */
    V cpos[NP];         /* the column's channels in the padded copy            */
    uint64_t Wp;        /* padded width of the copy                           */
    V tap;              /* current tap (i64)                                   */
    V lp, lx, la;       /* allocas: block-exact's per-lane entry               */
    int vclose;         /* block-exact into fp32 in rne: entry as vector code  */
    int pf;             /* partial sums in float lanes (block-fp32; block-exact
                         * whose segment sums are exact in float)               */
    int fuse;           /* every element product exact in the lanes: the
                         * product and the add may be one fma (fmuladd)        */
    T pt;               /* their vector type                                   */
} svk;

static V gep(gen_ctx *g, T t, V base, V i) { return LLVMBuildGEP2(g->b, t, base, &i, 1, ""); }
static V ld(gen_ctx *g, T t, V p) { return LLVMBuildLoad2(g->b, t, p, ""); }
static V vload(gen_ctx *g, T t, V p, unsigned align)
{
    V l = LLVMBuildLoad2(g->b, t, p, "");
    LLVMSetAlignment(l, align);
    return l;
}

static V splat(svk *k, T vt, V s)
{
    gen_ctx *g = k->c->g;
    V u = LLVMGetUndef(vt);
    V one = LLVMBuildInsertElement(g->b, u, s, LLVMConstInt(g->i32, 0, 0), "");
    V zm = LLVMConstNull(LLVMVectorType(g->i32, (unsigned)k->w));
    return LLVMBuildShuffleVector(g->b, one, u, zm, "splat");
}

static int block_of(const nr_scaled *s) { return s && s->gran == NR_GRAN_BLOCK ? s->block : 0; }

/* block-exact: every product a multiple of 2^(lsa+lsb) below 2^top, and
 * K of them summed, fit float's 24 bits and exponent range (as
 * gen_scaled_vinfo_of's test for double) */
static int sums_exact_float(const gen_scaled_vinfo *v, int K)
{
    const nr_format *a = v->wef, *b = v->xef;
    int lsa = a->kind == NR_FIXED ? -a->frac_bits : a->emin - a->man_bits;
    int lsb = b->kind == NR_FIXED ? -b->frac_bits : b->emin - b->man_bits;
    int top = ilogb(a->max_finite) + ilogb(b->max_finite) + 2, kbits = 0;
    while ((1L << kbits) <= (long)K + 1)
        kbits++;
    return v->fast_bexact && top + kbits - (lsa + lsb) <= 24 && lsa + lsb >= -149 && top + kbits <= 127;
}

/* Every element product P_w P_a is exact in a float (float lanes) or a
 * double: significands and exponent range fit. */
static int prods_exact(const gen_scaled_vinfo *v, int in_float)
{
    const nr_format *a = v->wef, *b = v->xef;
    int lsa = a->kind == NR_FIXED ? -a->frac_bits : a->emin - a->man_bits;
    int lsb = b->kind == NR_FIXED ? -b->frac_bits : b->emin - b->man_bits;
    int top = ilogb(a->max_finite) + ilogb(b->max_finite) + 2;
    return in_float ? a->prec + b->prec <= 24 && lsa + lsb >= -149 && top <= 127
                    : a->prec + b->prec <= 53 && lsa + lsb >= -1074 && top <= 1023;
}

int gen_scaled_vmac_applies(const nr_model *m, int li, int no_libm)
{
    const nr_layer *L = &m->layers[li];
    nr_mac_geom G;
    if (L->op != NR_OP_CONV || no_libm || nr_mac_geom_of(L, &G))
        return 0;
    gen_scaled_vinfo v;
    gen_scaled_vinfo_of(m, li, no_libm, &v);
    if (!v.ws || !v.xs || v.promote > 0 || v.mode == NR_RND_SR || !(v.fast_bf32 || v.fast_bexact))
        return 0;
    int bw = block_of(v.ws), bx = block_of(v.xs);
    if (bw && bx && bw != bx)
        return 0; /* segments would be the blocks' intersections */
    if (bx && G.cin_g != G.C && G.cin_g % bx)
        return 0; /* input blocks not aligned with the group's channels */
    /* a channel block lies within one group */
    return G.cout_g % GEN_SCALED_VL == 0 || G.cout_g == G.O;
}

/* ------------------------------------------------------------ terms */

/* Terms of input channels [from, to) at the current tap: part += w * pa.
 * A padded tap of a column reads the copy's zero padding: its products
 * +-0 leave the partial sum unchanged (it starts at +0, and rne never
 * makes -0 from a sum with a +0 operand; fma(w, 0, part) = part), as
 * skipping the term does; a block segment's entry is discarded anyway. */
static void chan_terms(svk *k, V from, V to)
{
    gen_lctx *c = k->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    gen_loop l;
    gen_ir_loop_range(c, &l, from, to, "ci");
    V j = LLVMBuildAdd(B, LLVMBuildMul(B, k->tap, gen_ir_i64(c, (uint64_t)k->G.cin_g), ""), l.i, "");
    V wv = vload(g, LLVMVectorType(f32, (unsigned)k->w),
                 gep(g, f32, k->wbase, LLVMBuildMul(B, j, gen_ir_i64(c, (uint64_t)k->w), "")), 4);
    if (!k->pf)
        wv = LLVMBuildFPExt(B, wv, k->pt, "");
    V chan = LLVMBuildAdd(B, k->ci0, l.i, ""); /* channels-last copy: pos * C + chan */
    for (int p = 0; p < NP; p++) {
        V pa = ld(g, f32, gep(g, f32, k->pb, LLVMBuildAdd(B, chan, k->cpos[p], "")));
        if (!k->pf)
            pa = LLVMBuildFPExt(B, pa, g->f64, "");
        V part = ld(g, k->pt, k->part[p]), pav = splat(k, k->pt, pa), sum;
        if (k->fuse) { /* round(w pa + part) = round(round(w pa) + part): w pa exact */
            V a3[3] = {wv, pav, part};
            sum = gen_emit_intrinsic(g, "llvm.fmuladd", k->pt, a3, 3);
        } else {
            sum = LLVMBuildFAdd(B, part, LLVMBuildFMul(B, wv, pav, ""), ""); /* fp32(Pw Pa) */
        }
        LLVMBuildStore(B, sum, k->part[p]);
    }
    gen_ir_loop_end(c, &l);
}

/* ------------------------------------------------------------ entering a segment */

/* fp32(d + e) in rne for doubles d, e with d + e within an ulp of d:
 * an inexact even d moves one ulp towards d + e (round to odd), then the
 * conversion rounds correctly. */
static V to_odd_f32(svk *k, V d, V e)
{
    gen_ctx *g = k->c->g;
    LLVMBuilderRef B = g->b;
    T vf = LLVMVectorType(LLVMFloatTypeInContext(g->ctx), (unsigned)k->w);
    V db = LLVMBuildBitCast(B, d, k->vi, ""), eb = LLVMBuildBitCast(B, e, k->vi, "");
    V zero = LLVMConstNull(k->vi);
    V even = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildAnd(B, db, splat(k, k->vi, LLVMConstInt(g->i64, 1, 0)), ""),
                           zero, "");
    V inexact = LLVMBuildFCmp(B, LLVMRealONE, e, LLVMConstNull(k->vd), "");
    V up = LLVMBuildICmp(B, LLVMIntSGE, LLVMBuildXor(B, db, eb, ""), zero, ""); /* same signs */
    V step = LLVMBuildSelect(B, up, splat(k, k->vi, LLVMConstInt(g->i64, 1, 0)),
                             splat(k, k->vi, LLVMConstInt(g->i64, (uint64_t)-1, 1)), "");
    V adj = LLVMBuildSelect(B, LLVMBuildAnd(B, even, inexact, ""), step, zero, "");
    V odd = LLVMBuildBitCast(B, LLVMBuildAdd(B, db, adj, ""), k->vd, "");
    return LLVMBuildFPTrunc(B, odd, vf, "t");
}

/* block-fp32: fp32(part * xw * xa) (exact product rounded once), as floats. */
static V bf32_scaled(svk *k, V part, V xw, V xa)
{
    gen_ctx *g = k->c->g;
    LLVMBuilderRef B = g->b;
    T vf = LLVMVectorType(LLVMFloatTypeInContext(g->ctx), (unsigned)k->w);
    V pd = LLVMBuildFPExt(B, part, k->vd, "");
    if (k->v->fast_pow2) /* exact in double */
        return LLVMBuildFPTrunc(B, LLVMBuildFMul(B, LLVMBuildFMul(B, pd, xw, ""), xa, ""), vf, "t");
    V a = LLVMBuildFMul(B, pd, k->v->wfirst ? xw : xa, "a"); /* exact */
    V b = k->v->wfirst ? xa : xw;
    V d = LLVMBuildFMul(B, a, b, "d");
    V args[3] = {a, b, LLVMBuildFNeg(B, d, "")};
    V e = gen_emit_intrinsic(g, "llvm.fma", k->vd, args, 3); /* a*b - d, exact */
    return to_odd_f32(k, d, e);
}

/* TwoSum: a + b = s + *e exactly (s = fl(a + b)) */
static V two_sum(svk *k, V a, V b, V *e)
{
    LLVMBuilderRef B = k->c->g->b;
    V s = LLVMBuildFAdd(B, a, b, "");
    V bb = LLVMBuildFSub(B, s, a, "");
    V ab = LLVMBuildFSub(B, s, bb, "");
    *e = LLVMBuildFAdd(B, LLVMBuildFSub(B, a, ab, ""), LLVMBuildFSub(B, b, bb, ""), "");
    return s;
}

/* block-exact into an fp32 S in rne, lanes of doubles: fp32(part * xwa +
 * acc) of the exact value (part, xwa exact doubles, acc an fp32 value).
 * h + l = part * xwa (fma residual), h + acc = s + e1, e1 + l = t + e2,
 * s + t = r + e3 (TwoSum): the exact value is r + (e3 + e2), and fl(e3 +
 * e2) has that residual's sign (zero only when it is zero); r is within
 * one ulp of it (e2 is below e3's unit unless it is 0: t is at most about
 * an ulp of s, or s is exact by Sterbenz and then e1 = e2 = 0), so r
 * moved to odd by that sign, then rounded to fp32, is the correct rne
 * rounding. */
static V bexact_f32(svk *k, V part, V xwa, V acc)
{
    gen_ctx *g = k->c->g;
    LLVMBuilderRef B = g->b;
    V h = LLVMBuildFMul(B, part, xwa, "h");
    V args[3] = {part, xwa, LLVMBuildFNeg(B, h, "")};
    V l = gen_emit_intrinsic(g, "llvm.fma", k->vd, args, 3);
    V e1, e2, e3;
    V s = two_sum(k, h, acc, &e1);
    V t = two_sum(k, e1, l, &e2);
    V r = two_sum(k, s, t, &e3);
    V z = LLVMBuildFAdd(B, e3, e2, "z");
    return LLVMBuildFPExt(B, to_odd_f32(k, r, z), k->vd, "");
}

/* The new outer sum of column p after a segment with scales xw (vector),
 * xa (scalar double); entry discarded unless keep (i1). */
static void enter(svk *k, int p, V xw, V xa, V keep)
{
    gen_lctx *c = k->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V part = ld(g, k->pt, k->part[p]), acc = ld(g, k->vt, k->acc[p]), r;
    if (!k->f32 && k->pf)
        part = LLVMBuildFPExt(B, part, k->vd, ""); /* exact */
    V xav = splat(k, k->vd, xa);
    if (k->f32) {
        r = LLVMBuildFAdd(B, acc, bf32_scaled(k, part, xw, xav), "");
    } else if (k->vclose) {
        r = bexact_f32(k, part, LLVMBuildFMul(B, xw, xav, ""), acc);
    } else { /* round_S(part * Xw Xa + acc) once per lane: a loop over the lanes */
        V xwa = LLVMBuildFMul(B, xw, xav, ""); /* exact (gen_scaled_vinfo_of) */
        LLVMBuildStore(B, part, k->lp);
        LLVMBuildStore(B, xwa, k->lx);
        LLVMBuildStore(B, acc, k->la);
        gen_loop l;
        gen_ir_loop_begin(c, &l, (uint64_t)k->w, "lane");
        V pp = gep(g, g->f64, k->lp, l.i), px = gep(g, g->f64, k->lx, l.i), pa = gep(g, g->f64, k->la, l.i);
        V x = gen_num_round_fma(g, k->v->of, k->v->mode, ld(g, g->f64, pp), ld(g, g->f64, px),
                                ld(g, g->f64, pa), LLVMConstInt(g->i32, 0, 0));
        LLVMBuildStore(B, gen_num_decode(g, k->v->of, x), pa);
        gen_ir_loop_end(c, &l);
        r = ld(g, k->vt, k->la);
    }
    LLVMBuildStore(B, LLVMBuildSelect(B, keep, r, acc, ""), k->acc[p]);
}

/* The weight scales of entry j (i64) of the current channel block. */
static V wscales(svk *k, V j)
{
    gen_ctx *g = k->c->g;
    if (k->v->ws->gran == NR_GRAN_TENSOR)
        return splat(k, k->vd, ld(g, g->f64, k->sbase));
    if (k->v->ws->gran == NR_GRAN_CHANNEL)
        return vload(g, k->vd, gep(g, g->f64, k->sbase, k->o0), 8);
    V off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, k->o0, gen_ir_i64(k->c, k->G.kh * k->G.kw * k->wnb), ""),
                         LLVMBuildMul(g->b, j, gen_ir_i64(k->c, (uint64_t)k->w), ""), "");
    return vload(g, k->vd, gep(g, g->f64, k->sbase, off), 8);
}

/* The input scale of column p for input block b (i64) at the current tap. */
static V xscale(svk *k, int p, V b)
{
    gen_ctx *g = k->c->g;
    if (k->v->xs->gran != NR_GRAN_BLOCK)
        return ld(g, g->f64, k->xb);
    V blk = LLVMBuildAdd(g->b, LLVMBuildUDiv(g->b, k->ci0, gen_ir_i64(k->c, (uint64_t)k->seg), ""), b, "");
    V gi = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, k->pos[p], gen_ir_i64(k->c, k->xnb), ""), blk, "ga");
    return ld(g, g->f64, gep(g, g->f64, k->xb, gi));
}

/* One segment: input channels [b*seg, b*seg + len) at the current tap. */
static void block_segment(svk *k, V b, uint64_t len)
{
    gen_lctx *c = k->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    for (int p = 0; p < NP; p++)
        LLVMBuildStore(B, LLVMConstNull(k->pt), k->part[p]);
    V from = LLVMBuildMul(B, b, gen_ir_i64(c, (uint64_t)k->seg), "");
    chan_terms(k, from, LLVMBuildAdd(B, from, gen_ir_i64(c, len), ""));
    V xw = wscales(k, LLVMBuildAdd(B, LLVMBuildMul(B, k->tap, gen_ir_i64(c, k->wnb), ""), b, ""));
    for (int p = 0; p < NP; p++)
        enter(k, p, xw, xscale(k, p, b), k->valid[p]);
}

/* ------------------------------------------------------------ the loop nest */

static void tap_body(svk *k)
{
    gen_lctx *c = k->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const uint64_t cg = (uint64_t)k->G.cin_g;
    if (!k->seg) {
        for (int p = 0; p < NP; p++)
            LLVMBuildStore(B, LLVMBuildOr(B, ld(g, g->i1, k->any[p]), k->valid[p], ""), k->any[p]);
        chan_terms(k, gen_ir_i64(c, 0), gen_ir_i64(c, cg));
        return;
    }
    const uint64_t full = cg / (uint64_t)k->seg, rest = cg % (uint64_t)k->seg;
    if (full) {
        gen_loop lb;
        gen_ir_loop_begin(c, &lb, full, "blk");
        block_segment(k, lb.i, (uint64_t)k->seg);
        gen_ir_loop_end(c, &lb);
    }
    if (rest) /* [scl-group] the short last block */
        block_segment(k, gen_ir_i64(c, full), rest);
}

/* Output columns ow0 .. ow0+NP-1 of row oh for the current channel block. */
static void columns(svk *k, V oh, V ow0, V bias)
{
    gen_lctx *c = k->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_mac_geom *G = &k->G;
    for (int p = 0; p < NP; p++) {
        LLVMBuildStore(B, bias, k->acc[p]);
        LLVMBuildStore(B, LLVMConstNull(k->pt), k->part[p]);
        LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), k->any[p]);
    }
    gen_loop lr, lq;
    gen_ir_loop_begin(c, &lr, (uint64_t)G->kh, "r");
    V ih = LLVMBuildAdd(B, LLVMBuildSub(B, LLVMBuildMul(B, oh, gen_ir_i64(c, (uint64_t)G->sh), ""), gen_ir_i64(c, (uint64_t)G->pt), ""),
                        LLVMBuildMul(B, lr.i, gen_ir_i64(c, (uint64_t)G->dh), ""), "ih");
    V rin = LLVMBuildICmp(B, LLVMIntULT, ih, gen_ir_i64(c, (uint64_t)G->H), ""); /* unsigned: < 0 too */
    gen_ir_loop_begin(c, &lq, (uint64_t)G->kw, "q");
    V anyv = LLVMConstInt(g->i1, 0, 0);
    for (int p = 0; p < NP; p++) {
        V ow = LLVMBuildAdd(B, ow0, gen_ir_i64(c, (uint64_t)p), "");
        V iw = LLVMBuildAdd(B, LLVMBuildSub(B, LLVMBuildMul(B, ow, gen_ir_i64(c, (uint64_t)G->sw), ""), gen_ir_i64(c, (uint64_t)G->pl), ""),
                            LLVMBuildMul(B, lq.i, gen_ir_i64(c, (uint64_t)G->dw), ""), "iw");
        V ok = LLVMBuildAnd(B, rin, LLVMBuildICmp(B, LLVMIntULT, iw, gen_ir_i64(c, (uint64_t)G->W), ""), "");
        ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntULT, ow, gen_ir_i64(c, (uint64_t)G->OW), ""), "valid");
        k->valid[p] = ok;
        V at = LLVMBuildAdd(B, LLVMBuildMul(B, ih, gen_ir_i64(c, (uint64_t)G->W), ""), iw, "");
        k->pos[p] = LLVMBuildSelect(B, ok, at, gen_ir_i64(c, 0), "pos");
        /* in the padded copy every tap of a column < OW is inside */
        V pat = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, ih, gen_ir_i64(c, (uint64_t)G->pt), ""), gen_ir_i64(c, k->Wp), ""),
                             LLVMBuildAdd(B, iw, gen_ir_i64(c, (uint64_t)G->pl), ""), "");
        V owin = LLVMBuildICmp(B, LLVMIntULT, ow, gen_ir_i64(c, (uint64_t)G->OW), "");
        k->cpos[p] = LLVMBuildMul(B, LLVMBuildSelect(B, owin, pat, gen_ir_i64(c, 0), ""), gen_ir_i64(c, (uint64_t)G->C), "cpos");
        anyv = LLVMBuildOr(B, anyv, ok, "");
    }
    k->tap = LLVMBuildAdd(B, LLVMBuildMul(B, lr.i, gen_ir_i64(c, (uint64_t)G->kw), ""), lq.i, "tap");
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "tapin");
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "tapend");
    LLVMBuildCondBr(B, anyv, then, after);
    LLVMPositionBuilderAtEnd(B, then);
    tap_body(k);
    LLVMBuildBr(B, after);
    LLVMPositionBuilderAtEnd(B, after);
    gen_ir_loop_end(c, &lq);
    gen_ir_loop_end(c, &lr);
    if (!k->seg) { /* the one segment enters at the end, if it has a term */
        V xw = wscales(k, gen_ir_i64(c, 0));
        for (int p = 0; p < NP; p++)
            enter(k, p, xw, ld(g, g->f64, k->xb), ld(g, g->i1, k->any[p]));
    }
    /* [net-5] round_A(acc), term OUT, per output element */
    for (int p = 0; p < NP; p++) {
        V ow = LLVMBuildAdd(B, ow0, gen_ir_i64(c, (uint64_t)p), "");
        LLVMBasicBlockRef st = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "store");
        LLVMBasicBlockRef nx = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "stored");
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntULT, ow, gen_ir_i64(c, (uint64_t)G->OW), ""), st, nx);
        LLVMPositionBuilderAtEnd(B, st);
        V acc = ld(g, k->vt, k->acc[p]);
        for (int l = 0; l < k->w; l++) {
            V o = LLVMBuildAdd(B, k->o0, gen_ir_i64(c, (uint64_t)l), "");
            V elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, o, gen_ir_i64(c, (uint64_t)G->OH), ""), oh, ""),
                                                  gen_ir_i64(c, (uint64_t)G->OW), ""), ow, "elem");
            V val = LLVMBuildExtractElement(B, acc, LLVMConstInt(g->i32, (uint64_t)l, 0), "");
            if (k->f32)
                val = LLVMBuildFPExt(B, val, g->f64, "");
            gen_ir_store_out(c, k->li, val, elem);
        }
        LLVMBuildBr(B, nx);
        LLVMPositionBuilderAtEnd(B, nx);
    }
}

/* Output channels o0 .. o0+w-1. */
static void channel_block(svk *k, V o0, int w)
{
    gen_lctx *c = k->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_mac_geom *G = &k->G;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    k->w = w;
    k->vt = LLVMVectorType(k->lt, (unsigned)w);
    k->pt = LLVMVectorType(k->pf ? LLVMFloatTypeInContext(g->ctx) : g->f64, (unsigned)w);
    k->vd = LLVMVectorType(g->f64, (unsigned)w);
    k->vi = LLVMVectorType(g->i64, (unsigned)w);
    for (int p = 0; p < NP; p++) {
        k->acc[p] = gen_ir_alloca(c, k->vt, "acc");
        k->part[p] = gen_ir_alloca(c, k->pt, "part");
        k->any[p] = gen_ir_alloca(c, g->i1, "any");
    }
    k->lp = gen_ir_alloca(c, k->vd, "lanep");
    k->lx = gen_ir_alloca(c, k->vd, "lanex");
    k->la = gen_ir_alloca(c, k->vd, "lanea");
    k->o0 = o0;
    k->ci0 = LLVMBuildMul(B, LLVMBuildUDiv(B, o0, gen_ir_i64(c, (uint64_t)G->cout_g), ""),
                          gen_ir_i64(c, (uint64_t)G->cin_g), "ci0");
    k->wbase = gep(g, f32, c->w, LLVMBuildMul(B, o0, gen_ir_i64(c, (uint64_t)G->K), "")); /* o0*K */
    /* [scl-dot-bias] the outer sum starts at the bias, already in its format */
    V bias = LLVMConstNull(k->vt);
    if (k->L->b) {
        bias = vload(g, k->vd, gep(g, g->f64, c->b, o0), 8);
        if (k->f32)
            bias = LLVMBuildFPTrunc(B, bias, k->vt, ""); /* exact: an fp32 value */
    }
    gen_loop lh, lw;
    gen_ir_loop_begin(c, &lh, (uint64_t)G->OH, "oh");
    gen_ir_loop_begin(c, &lw, ((uint64_t)G->OW + NP - 1) / NP, "owb");
    columns(k, lh.i, LLVMBuildMul(B, lw.i, gen_ir_i64(c, NP), "ow0"), bias);
    gen_ir_loop_end(c, &lw);
    gen_ir_loop_end(c, &lh);
}

/* Rows and columns of the padded copy: from -pt (-pl) to the last input
 * row (column) or the last one a tap of an output reaches. */
static void padded_dims(const nr_mac_geom *G, uint64_t *Hp, uint64_t *Wp)
{
    int64_t hm = (int64_t)(G->OH - 1) * G->sh - G->pt + (int64_t)(G->kh - 1) * G->dh + 1;
    int64_t wm = (int64_t)(G->OW - 1) * G->sw - G->pl + (int64_t)(G->kw - 1) * G->dw + 1;
    *Hp = (uint64_t)((hm > G->H ? hm : G->H) + G->pt);
    *Wp = (uint64_t)((wm > G->W ? wm : G->W) + G->pl);
}

uint64_t gen_scaled_vmac_scratch(const nr_model *m, int li)
{
    nr_mac_geom G;
    uint64_t Hp, Wp;
    if (nr_mac_geom_of(&m->layers[li], &G))
        return (nr_shape_count(m->layers[li].in_shape[0]) * 4 + 63) / 64 * 64;
    padded_dims(&G, &Hp, &Wp);
    return (Hp * Wp * (uint64_t)G.C * 4 + 63) / 64 * 64;
}

/* The input's P (float [C][H][W] at src) channels-last into the scratch,
 * zero-padded ([Hp][Wp][C], input row h at h + pt, column w at w + pl):
 * 16 positions at a time, so that reads and writes stay within a few
 * cache lines (the channel stride H*W*4 bytes is often a multiple of 4 KiB,
 * whose lines share an L1 set). */
static void copy_hwc(svk *k, V src)
{
    gen_lctx *c = k->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    const uint64_t C = (uint64_t)k->G.C, W = (uint64_t)k->G.W, HW = (uint64_t)k->G.H * W, TL = 16;
    uint64_t Hp, Wp;
    padded_dims(&k->G, &Hp, &Wp);
    if (Hp * Wp != HW)
        LLVMBuildMemSet(B, c->scratch, LLVMConstInt(g->i8, 0, 0), gen_ir_i64(c, Hp * Wp * C * 4), 4);
    const uint64_t skip = Wp - W, off = (uint64_t)k->G.pt * Wp + (uint64_t)k->G.pl;
    gen_loop lt, lc, lp;
    gen_ir_loop_begin(c, &lt, (HW + TL - 1) / TL, "hwt");
    V hw0 = LLVMBuildMul(B, lt.i, gen_ir_i64(c, TL), "");
    V n = LLVMBuildSub(B, gen_ir_i64(c, HW), hw0, "");
    n = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntULT, n, gen_ir_i64(c, TL), ""), n, gen_ir_i64(c, TL), "");
    gen_ir_loop_begin(c, &lc, C, "cc");
    gen_ir_loop_range(c, &lp, gen_ir_i64(c, 0), n, "cp");
    V hw = LLVMBuildAdd(B, hw0, lp.i, "");
    /* (h + pt) Wp + w + pl = hw + h (Wp - W) + pt Wp + pl */
    V dp = LLVMBuildAdd(B, LLVMBuildAdd(B, hw, LLVMBuildMul(B, LLVMBuildUDiv(B, hw, gen_ir_i64(c, W), ""), gen_ir_i64(c, skip), ""), ""),
                        gen_ir_i64(c, off), "dpos");
    V v = ld(g, f32, gep(g, f32, src, LLVMBuildAdd(B, LLVMBuildMul(B, lc.i, gen_ir_i64(c, HW), ""), hw, "")));
    LLVMBuildStore(B, v, gep(g, f32, c->scratch, LLVMBuildAdd(B, LLVMBuildMul(B, dp, gen_ir_i64(c, C), ""), lc.i, "")));
    gen_ir_loop_end(c, &lp);
    gen_ir_loop_end(c, &lc);
    gen_ir_loop_end(c, &lt);
}

int gen_emit_scaled_vmac(gen_lctx *c, int li, const gen_scaled_vinfo *v, nr_err *err)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    svk k;
    memset(&k, 0, sizeof k);
    k.c = c, k.L = &c->m->layers[li], k.v = v, k.li = li;
    if (nr_mac_geom_check(k.L, &k.G, err))
        return NR_EINTERNAL;
    const nr_mac_geom *G = &k.G;
    k.f32 = v->mac == NR_MAC_BLOCK_FP32;
    k.vclose = !k.f32 && v->mode == NR_RND_RNE && gen_ir_fmt_is(v->of, "fp32");
    k.lt = k.f32 ? LLVMFloatTypeInContext(g->ctx) : g->f64;
    k.pf = k.f32 || sums_exact_float(v, G->K);
    k.fuse = prods_exact(v, k.pf);
    int bw = block_of(v->ws), bx = block_of(v->xs);
    k.seg = bw ? bw : bx;
    k.wnb = bw ? ((uint64_t)G->cin_g + (uint64_t)bw - 1) / (uint64_t)bw : 1;
    k.xnb = bx ? ((uint64_t)G->C + (uint64_t)bx - 1) / (uint64_t)bx : 1;
    gen_scaled_act_layout(v->xs, k.L->in_shape[0], &k.xl);
    k.pb = c->scratch;
    uint64_t Hp;
    padded_dims(G, &Hp, &k.Wp);
    copy_hwc(&k, gep(g, g->i8, c->in[0], gen_ir_i64(c, k.xl.p_off)));
    k.xb = gep(g, g->i8, c->in[0], gen_ir_i64(c, k.xl.x_off));
    k.sbase = gep(g, g->i8, c->w, gen_ir_i64(c, (k.L->nw * 4 + 7) / 8 * 8));
    const uint64_t VL = GEN_SCALED_VL, full = (uint64_t)G->O / VL, rest = (uint64_t)G->O % VL;
    if (full) {
        gen_loop lb;
        gen_ir_loop_begin(c, &lb, full, "ob");
        channel_block(&k, LLVMBuildMul(B, lb.i, gen_ir_i64(c, VL), "o0"), (int)VL);
        gen_ir_loop_end(c, &lb);
    }
    if (rest)
        channel_block(&k, gen_ir_i64(c, full * VL), (int)rest);
    return 0;
}
