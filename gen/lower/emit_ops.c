/* emit_ops.c -- every op except conv/dense/batchnorm, as IR mirroring the
 * emulator's emu_ops.c: the exact ops of [net-7] (relu, relu6, clip,
 * maxpool, slice, pad, concat, flatten, dropout), the pools of [net-6]
 * that sum in the accumulator format, add ([net-3]) and lrn/softmax through
 * the runtime's double implementation ([net-8]). */
#include "plan.h"
#include "emulator.h"

#include <math.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

static V f64c(gen_ctx *g, double v) { return LLVMConstReal(g->f64, v); }

/* [net-1] an exact op's result v (a value of input in_i's format) as an
 * encoding of A: exact when the formats are equal (any mode gives v's own
 * encoding, so rne without a draw), else one rounding with term OUT. */
static V out1(gen_lctx *c, int li, int in_i, V v, V elem)
{
    const nr_layer *L = &c->m->layers[li];
    const nr_format *af = &L->prec.activations;
    if (nr_format_equal(gen_ir_in_fmt(c, li, in_i), af))
        return gen_ir_encode_val(c, af, v);
    return gen_ir_round_val(c, af, L->prec.rounding, v, elem, NR_EMU_TERM_OUT);
}

static V isnan_(gen_ctx *g, V v) { return LLVMBuildFCmp(g->b, LLVMRealUNO, v, v, "isnan"); }

/* Every encoding in the arena is canonical: the rounding (or the exact
 * encoding) of its value, made by gen_ir_round_val/gen_ir_encode_val.  So an
 * exact op from a format to the same format may move encodings instead of
 * decoding and encoding values: encode(decode(e)) = e.  The network input
 * is rounded too (emit_sample). */
static int same_fmt(gen_lctx *c, int li, int in_i)
{
    return nr_format_equal(gen_ir_in_fmt(c, li, in_i), &c->m->layers[li].prec.activations);
}

/* The encoding of +0 in f (0 for every float and fixed-point format, but
 * asked of the encoder rather than assumed). */
static uint64_t enc_zero(const nr_format *f) { return nr_encode(f, NR_RND_RNE, 0.0, 0, NULL); }

/* [net-7] relu on the encodings of a float format, input format = output
 * format: a value below or equal to 0 (sign bit set: negative or -0) gives
 * +0, anything else (positive, +0, and NaN, which compares false) itself.
 * Fixed point too: two's complement, the sign bit set is a negative value
 * (unsigned formats have no sign bit: every value stays).
 * A NaN encoding with the sign bit set is kept (FNUZ's NaN is 0x80...). */
static void relu_enc(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_format *f = &c->m->layers[li].prec.activations;
    gen_loop l;
    gen_ir_loop_begin(c, &l, c->p->ly[li].count, "i");
    V e = gen_ir_load_enc(c, f, c->in[0], l.i);
    V neg = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, e, gen_ir_i64(c, f->sign_mask), ""), gen_ir_i64(c, 0), "");
    V nan = gen_num_is_nan(c->g, f, e);
    if (nan)
        neg = LLVMBuildAnd(B, neg, LLVMBuildNot(B, nan, ""), "");
    V r = LLVMBuildSelect(B, neg, gen_ir_i64(c, enc_zero(f)), e, "relu");
    gen_ir_store_enc(c, f, c->out, l.i, r);
    gen_ir_loop_end(c, &l);
}

/* ---------------------------------------------------------------- relu, clip */

static void clip_op(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const nr_format *af = &L->prec.activations;
    if (L->op == NR_OP_RELU && same_fmt(c, li, 0) && (af->kind == NR_FLOAT || af->kind == NR_FIXED)) {
        relu_enc(c, li);
        return;
    }
    double lo = 0, hi = INFINITY;
    if (L->op == NR_OP_RELU6)
        hi = 6;
    else if (L->op == NR_OP_CLIP)
        lo = L->spec->clip_lo, hi = L->spec->clip_hi;
    /* [net-7] finite bounds rounded (rne) to A */
    if (isfinite(lo))
        lo = nr_round(af, NR_RND_RNE, lo, 0, NULL);
    if (isfinite(hi))
        hi = nr_round(af, NR_RND_RNE, hi, 0, NULL);
    gen_loop l;
    gen_ir_loop_begin(c, &l, c->p->ly[li].count, "i");
    V x = gen_ir_load_dec(c, gen_ir_in_fmt(c, li, 0), c->in[0], l.i);
    /* ordered compares are false for NaN: NaN stays NaN */
    V v = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGE, x, f64c(g, hi), ""), f64c(g, hi), x, "");
    v = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOLE, x, f64c(g, lo), ""), f64c(g, lo), v, "y");
    gen_ir_store_enc(c, af, c->out, l.i, out1(c, li, 0, v, l.i));
    gen_ir_loop_end(c, &l);
}

/* ---------------------------------------------------------------- pools */

/* PyTorch's window along one axis for output index o (runtime): the first
 * position start0 = o*s - pad_lo; a position start0 + r (r < k) is an
 * input position iff 0 <= it < n; `full` counts the window up to the
 * bottom/right padding: min(k, n + pad_hi - start0). */
static V win_start(gen_lctx *c, V o, int s, int pad_lo)
{
    gen_ctx *g = c->g;
    return LLVMBuildSub(g->b, LLVMBuildMul(g->b, o, gen_ir_i64(c, (uint64_t)s), ""),
                        gen_ir_i64(c, (uint64_t)pad_lo), "start");
}

static V win_full(gen_lctx *c, V start, int k, int n, int pad_hi)
{
    gen_ctx *g = c->g;
    V lim = LLVMBuildSub(g->b, gen_ir_i64(c, (uint64_t)(n + pad_hi)), start, "");
    V kk = gen_ir_i64(c, (uint64_t)k);
    return LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, lim, kk, ""), lim, kk, "full");
}

/* clipped count: min(start + k, n, n + pad_hi) - max(start, 0), at least 0 */
static V win_cover(gen_lctx *c, V start, int k, int n, int pad_hi)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V end = LLVMBuildAdd(B, start, gen_ir_i64(c, (uint64_t)k), "");
    V cap = gen_ir_i64(c, (uint64_t)(pad_hi < 0 ? n + pad_hi : n));
    end = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, end, cap, ""), end, cap, "");
    V zero = gen_ir_i64(c, 0);
    V lo = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, start, zero, ""), zero, start, "");
    V d = LLVMBuildSub(B, end, lo, "");
    return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, d, zero, ""), zero, d, "");
}

/* [net-6] the exact a / n (n >= 1, i64) rounded once to f: as the emulator,
 * the 53-bit significand M times 2^64 divided by n, remainder as sticky
 * (M*2^64/n has >= 86 significant bits: enough for any mode, sr's 32 extra
 * bits included).  The 117-bit division is done in 64-bit steps: M = qh*n
 * + r, then two 32-bit digits (r < n < 2^32, so r << 32 fits). */
V gen_emit_div_count(gen_lctx *c, const nr_format *f, nr_rounding mode, V a, V n, V elem, uint32_t term)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V plain = gen_ir_round_val(c, f, mode, a, elem, term);
    gen_exact x;
    gen_num_exact_f64(g, a, &x);
    V lzargs[2] = {x.sig, LLVMConstInt(g->i1, 0, 0)};
    V lz = gen_emit_intrinsic(g, "llvm.ctlz", g->i64, lzargs, 2);
    V sh = LLVMBuildSub(B, lz, gen_ir_i64(c, 11), ""); /* leading bit to 52 (sig != 0 when used) */
    V shok = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntULT, sh, gen_ir_i64(c, 64), ""), sh, gen_ir_i64(c, 0), "");
    V M = LLVMBuildShl(B, x.sig, shok, "M");
    V e = LLVMBuildSub(B, x.exp, LLVMBuildTrunc(B, shok, g->i32, ""), "");
    V n1 = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, n, gen_ir_i64(c, 0), ""), gen_ir_i64(c, 1), n, "");
    V qh = LLVMBuildUDiv(B, M, n1, ""), r = LLVMBuildURem(B, M, n1, "");
    V r32 = LLVMBuildShl(B, r, gen_ir_i64(c, 32), "");
    V q1 = LLVMBuildUDiv(B, r32, n1, ""), r1 = LLVMBuildURem(B, r32, n1, "");
    V r132 = LLVMBuildShl(B, r1, gen_ir_i64(c, 32), "");
    V q0 = LLVMBuildUDiv(B, r132, n1, ""), r0 = LLVMBuildURem(B, r132, n1, "");
    V lo = LLVMBuildOr(B, LLVMBuildShl(B, q1, gen_ir_i64(c, 32), ""), q0, "");
    V sig = LLVMBuildOr(B, LLVMBuildShl(B, LLVMBuildZExt(B, qh, g->i128, ""), LLVMConstInt(g->i128, 64, 0), ""),
                        LLVMBuildZExt(B, lo, g->i128, ""), "q");
    gen_exact q = {.is_nan = LLVMConstInt(g->i1, 0, 0), .is_inf = LLVMConstInt(g->i1, 0, 0),
                   .is_zero = LLVMConstInt(g->i1, 0, 0), .sign = x.sign,
                   .exp = LLVMBuildSub(B, e, LLVMConstInt(g->i32, 64, 0), ""),
                   .sig = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, sig, LLVMConstInt(g->i128, 0, 0), ""),
                                          LLVMConstInt(g->i128, 1, 0), sig, ""),
                   .sticky = LLVMBuildICmp(B, LLVMIntNE, r0, gen_ir_i64(c, 0), "")};
    V sr = gen_ir_sr(c, mode, elem, LLVMConstInt(g->i32, term, 0));
    V divided = gen_num_round(g, f, mode, &q, sr);
    V special = LLVMBuildOr(B, LLVMBuildOr(B, x.is_nan, x.is_inf, ""),
                            LLVMBuildOr(B, x.is_zero, LLVMBuildICmp(B, LLVMIntEQ, n, gen_ir_i64(c, 1), ""), ""), "");
    return LLVMBuildSelect(B, special, plain, divided, "avg");
}

/* [net-12] the layer's sums (and an average's division) are the host's
 * float arithmetic: rne, S and A fp32 and every input an fp32 value.  One
 * IEEE float add (divide) of two fp32 values is their exact sum (quotient)
 * rounded once to fp32 by rne, signs of zeros and overflow included, which
 * is the rounding the emulator does; NaNs are made canonical when encoded
 * (gen_ir_encode_val). */
static int host_f32(gen_lctx *c, int li)
{
    const nr_layer *L = &c->m->layers[li];
    if (L->prec.rounding != NR_RND_RNE || !gen_ir_fmt_is(&L->prec.activations, "fp32") ||
        !gen_ir_fmt_is(&L->prec.accumulator, "fp32"))
        return 0;
    for (int i = 0; i < L->ninputs; i++)
        if (!nr_format_fits_f32(gen_ir_in_fmt(c, li, i)))
            return 0;
    return 1;
}

/* The float op (LLVMBuildFAdd, LLVMBuildFDiv) of the fp32 values a and b
 * (doubles, exact in float), as an exact double. */
static V host_f32_op(gen_ctx *g, LLVMValueRef (*op)(LLVMBuilderRef, V, V, const char *), V a, V b)
{
    T ft = LLVMFloatTypeInContext(g->ctx);
    V r = op(g->b, LLVMBuildFPTrunc(g->b, a, ft, ""), LLVMBuildFPTrunc(g->b, b, ft, ""), "f32");
    return LLVMBuildFPExt(g->b, r, g->f64, "");
}

/* The layer rounds to fp32 in rne on a target with double hardware:
 * sum_f32_rne applies to its sums of any doubles. */
static int f32_rne_doubles(gen_lctx *c, int li)
{
    const nr_layer *L = &c->m->layers[li];
    return L->prec.rounding == NR_RND_RNE && gen_ir_fmt_ieee32(&L->prec.activations) &&
           !L->prec.activations.saturate && !c->g->no_libm && !c->g->int_narrow;
}

/* The exact sum of doubles a and b rounded once to fp32 in rne (for
 * inputs that are not fp32 values: scaled tensors' exact P*X): s = fl(a+b)
 * and its error e (TwoSum, exact) give a + b = s + e; s moved one ulp
 * towards e when e != 0 and s is even (round to odd: 53 bits > 24 + 1)
 * then converted once.  Infinities and NaNs leave e NaN: no move. */
static V sum_f32_rne(gen_ctx *g, V a, V b)
{
    LLVMBuilderRef B = g->b;
    V s = LLVMBuildFAdd(B, a, b, "s");
    V bb = LLVMBuildFSub(B, s, a, ""), ab = LLVMBuildFSub(B, s, bb, "");
    V e = LLVMBuildFAdd(B, LLVMBuildFSub(B, a, ab, ""), LLVMBuildFSub(B, b, bb, ""), "e");
    V sb = LLVMBuildBitCast(B, s, g->i64, ""), eb = LLVMBuildBitCast(B, e, g->i64, "");
    V even = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildAnd(B, sb, LLVMConstInt(g->i64, 1, 0), ""),
                           LLVMConstInt(g->i64, 0, 0), "");
    V move = LLVMBuildAnd(B, even, LLVMBuildFCmp(B, LLVMRealONE, e, f64c(g, 0.0), ""), "");
    V up = LLVMBuildICmp(B, LLVMIntSGE, LLVMBuildXor(B, sb, eb, ""), LLVMConstInt(g->i64, 0, 0), "");
    V step = LLVMBuildSelect(B, up, LLVMConstInt(g->i64, 1, 0), LLVMConstInt(g->i64, (uint64_t)-1, 1), "");
    sb = LLVMBuildAdd(B, sb, LLVMBuildSelect(B, move, step, LLVMConstInt(g->i64, 0, 0), ""), "");
    return LLVMBuildBitCast(B, sb, g->f64, "odd");
}

static void pool_op(gen_lctx *c, int li, nr_err *err)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const nr_layer_spec *s = L->spec;
    const int *in = L->in_shape[0], *out = L->out_shape;
    const int global = L->op == NR_OP_GLOBAL_AVGPOOL, avg = L->op != NR_OP_MAXPOOL;
    const int kh = global ? in[1] : s->kernel[0], kw = global ? in[2] : s->kernel[1];
    const int sh = global ? 1 : s->stride[0], sw = global ? 1 : s->stride[1];
    const int pt = global ? 0 : L->pad[0], pl = global ? 0 : L->pad[1];
    const int pb = global ? 0 : L->pad[2], pr = global ? 0 : L->pad[3];
    const nr_format *xf = gen_ir_in_fmt(c, li, 0), *sf = &L->prec.accumulator;
    const nr_format *af = &L->prec.activations;
    const nr_rounding mode = L->prec.rounding;
    /* host float sums and division (a count below 2^24 is a float) */
    const int host = avg && host_f32(c, li) && (uint64_t)kh * (uint64_t)kw < (1u << 24);
    /* ... the same with double inputs (scaled tensors' P*X): each sum
     * rounded once to fp32 by sum_f32_rne, then the fp32 sum divided */
    const int hostd = avg && !host && f32_rne_doubles(c, li) && gen_ir_fmt_ieee32(sf) && !sf->saturate &&
                      (uint64_t)kh * (uint64_t)kw < (1u << 24);
    (void)err;
    V acc = gen_ir_alloca(c, g->f64, "acc.slot");
    V have = gen_ir_alloca(c, g->i1, "have.slot"), nan = gen_ir_alloca(c, g->i1, "nan.slot");
    gen_loop lc, lh, lw;
    gen_ir_loop_begin(c, &lc, (uint64_t)out[0], "c");
    gen_ir_loop_begin(c, &lh, (uint64_t)out[1], "oh");
    V h0 = win_start(c, lh.i, sh, pt);
    gen_ir_loop_begin(c, &lw, (uint64_t)out[2], "ow");
    V w0 = win_start(c, lw.i, sw, pl);
    V elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lc.i, gen_ir_i64(c, (uint64_t)out[1]), ""), lh.i, ""),
                                          gen_ir_i64(c, (uint64_t)out[2]), ""),
                          lw.i, "elem");
    LLVMBuildStore(B, f64c(g, 0.0), acc);
    LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), have);
    LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), nan);
    V cbase = LLVMBuildMul(B, lc.i, gen_ir_i64(c, (uint64_t)in[1] * in[2]), "");
    /* one window position (r, q) at rows ih, cols iw (already known valid
     * when check is 0) */
    const int unroll = !global && !avg && kh * kw <= 9; /* avg: one copy of the rounding IR */
    gen_loop lr = {0}, lq = {0};
    int nr = unroll ? kh : 1, nq = unroll ? kw : 1;
    if (!unroll) {
        gen_ir_loop_begin(c, &lr, (uint64_t)kh, "r");
        gen_ir_loop_begin(c, &lq, (uint64_t)kw, "q");
    }
    for (int r = 0; r < nr; r++)
        for (int q = 0; q < nq; q++) {
            V rr = unroll ? gen_ir_i64(c, (uint64_t)r) : lr.i, qq = unroll ? gen_ir_i64(c, (uint64_t)q) : lq.i;
            V ih = LLVMBuildAdd(B, h0, rr, "ih"), iw = LLVMBuildAdd(B, w0, qq, "iw");
            LLVMBasicBlockRef next = NULL;
            if (!global) { /* padding positions are skipped ([net-6], [net-7]) */
                V ok = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntULT, ih, gen_ir_i64(c, (uint64_t)in[1]), ""),
                                    LLVMBuildICmp(B, LLVMIntULT, iw, gen_ir_i64(c, (uint64_t)in[2]), ""), "");
                LLVMBasicBlockRef t = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "pos");
                next = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "next");
                LLVMBuildCondBr(B, ok, t, next);
                LLVMPositionBuilderAtEnd(B, t);
            }
            V xi = LLVMBuildAdd(B, cbase, LLVMBuildAdd(B, LLVMBuildMul(B, ih, gen_ir_i64(c, (uint64_t)in[2]), ""), iw, ""), "xi");
            V x = gen_ir_load_dec(c, xf, c->in[0], xi);
            V a = LLVMBuildLoad2(B, g->f64, acc, "");
            if (host) { /* [net-12] */
                LLVMBuildStore(B, host_f32_op(g, LLVMBuildFAdd, a, x), acc);
            } else if (hostd) {
                T ft = LLVMFloatTypeInContext(g->ctx);
                V r = LLVMBuildFPTrunc(B, sum_f32_rne(g, a, x), ft, "");
                LLVMBuildStore(B, LLVMBuildFPExt(B, r, g->f64, ""), acc);
            } else if (avg) { /* acc = round_S(acc + x), term SUM(k), k = r*kw + q */
                V k = LLVMBuildAdd(B, LLVMBuildMul(B, rr, gen_ir_i64(c, (uint64_t)kw), ""), qq, "");
                V term = LLVMBuildAdd(B, LLVMBuildShl(B, LLVMBuildTrunc(B, k, g->i32, ""), LLVMConstInt(g->i32, 1, 0), ""),
                                      LLVMConstInt(g->i32, 2, 0), "");
                V sr = gen_ir_sr(c, mode, elem, term);
                LLVMBuildStore(B, gen_num_decode(g, sf, gen_num_round_sum(g, sf, mode, a, x, sr)), acc);
            } else { /* [net-7] later values win only if greater; NaN wins */
                V hv = LLVMBuildLoad2(B, g->i1, have, ""), nv = LLVMBuildLoad2(B, g->i1, nan, "");
                V xn = isnan_(g, x);
                V gt = LLVMBuildFCmp(B, LLVMRealOGT, x, a, "");
                V take = LLVMBuildAnd(B, LLVMBuildNot(B, nv, ""), LLVMBuildOr(B, LLVMBuildNot(B, hv, ""), gt, ""), "");
                V m = LLVMBuildSelect(B, xn, x, LLVMBuildSelect(B, take, x, a, ""), "");
                LLVMBuildStore(B, m, acc);
                LLVMBuildStore(B, LLVMBuildOr(B, nv, xn, ""), nan);
                LLVMBuildStore(B, LLVMConstInt(g->i1, 1, 0), have);
            }
            if (next) {
                LLVMBuildBr(B, next);
                LLVMPositionBuilderAtEnd(B, next);
            }
        }
    if (!unroll) {
        gen_ir_loop_end(c, &lq);
        gen_ir_loop_end(c, &lr);
    }
    V a = LLVMBuildLoad2(B, g->f64, acc, "acc");
    V y;
    if (avg) {
        V cnt;
        if (global)
            cnt = gen_ir_i64(c, (uint64_t)in[1] * in[2]);
        else if (s->count_include_pad)
            cnt = LLVMBuildMul(B, win_full(c, h0, kh, in[1], pb), win_full(c, w0, kw, in[2], pr), "");
        else
            cnt = LLVMBuildMul(B, win_cover(c, h0, kh, in[1], pb), win_cover(c, w0, kw, in[2], pr), "");
        cnt = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, cnt, gen_ir_i64(c, 1), ""), gen_ir_i64(c, 1), cnt, "n");
        y = host || hostd ? gen_ir_encode_val(c, af, host_f32_op(g, LLVMBuildFDiv, a, LLVMBuildUIToFP(B, cnt, g->f64, "")))
                 : gen_emit_div_count(c, af, mode, a, cnt, elem, NR_EMU_TERM_OUT);
    } else {
        y = out1(c, li, 0, a, elem);
    }
    gen_ir_store_enc(c, af, c->out, elem, y);
    gen_ir_loop_end(c, &lw);
    gen_ir_loop_end(c, &lh);
    gen_ir_loop_end(c, &lc);
}

/* ---------------------------------------------------------------- add, copies */

static void add_op(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    const nr_layer *L = &c->m->layers[li];
    const nr_format *af = &L->prec.activations;
    gen_loop l;
    gen_ir_loop_begin(c, &l, c->p->ly[li].count, "i");
    V a = gen_ir_load_dec(c, gen_ir_in_fmt(c, li, 0), c->in[0], l.i);
    V b = gen_ir_load_dec(c, gen_ir_in_fmt(c, li, 1), c->in[1], l.i);
    V y;
    if (host_f32(c, li)) { /* [net-12] one float add */
        y = gen_ir_encode_val(c, af, host_f32_op(g, LLVMBuildFAdd, a, b));
    } else if (f32_rne_doubles(c, li)) { /* [net-12] doubles (scaled inputs) */
        y = gen_ir_encode_val(c, af, sum_f32_rne(g, a, b));
    } else {
        V sr = gen_ir_sr(c, L->prec.rounding, l.i, LLVMConstInt(g->i32, NR_EMU_TERM_OUT, 0));
        y = gen_num_round_sum(g, af, L->prec.rounding, a, b, sr);
    }
    gen_ir_store_enc(c, af, c->out, l.i, y);
    gen_ir_loop_end(c, &l);
}

static void concat_op(gen_lctx *c, int li)
{
    const nr_layer *L = &c->m->layers[li];
    uint64_t e0 = 0;
    for (int i = 0; i < L->ninputs; i++) {
        uint64_t n = nr_shape_count(L->in_shape[i]);
        gen_loop l;
        gen_ir_loop_begin(c, &l, n, "i");
        V x = gen_ir_load_dec(c, gen_ir_in_fmt(c, li, i), c->in[i], l.i);
        V e = LLVMBuildAdd(c->g->b, l.i, gen_ir_i64(c, e0), "e");
        gen_ir_store_enc(c, &L->prec.activations, c->out, e, out1(c, li, i, x, e));
        gen_ir_loop_end(c, &l);
        e0 += n;
    }
}

static int slice_start(int start, int dim)
{
    if (start < 0)
        start += dim;
    return start < 0 ? 0 : start > dim ? dim : start;
}

/* slice and pad: per output (c, h, w), the source index or none. */
static void index_op(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const nr_layer_spec *s = L->spec;
    const int *in = L->in_shape[0], *out = L->out_shape;
    const int pad = L->op == NR_OP_PAD;
    gen_loop l[3];
    static const char *const names[3] = {"c", "h", "w"};
    V src[3], ok = LLVMConstInt(g->i1, 1, 0);
    for (int a = 0; a < 3; a++) {
        gen_ir_loop_begin(c, &l[a], (uint64_t)out[a], names[a]);
        if (pad) {
            src[a] = LLVMBuildSub(B, l[a].i, gen_ir_i64(c, (uint64_t)s->pad_before[a]), "");
            ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntULT, src[a], gen_ir_i64(c, (uint64_t)in[a]), ""), "");
        } else {
            src[a] = LLVMBuildAdd(B, gen_ir_i64(c, (uint64_t)slice_start(s->slice_start[a], in[a])),
                                  LLVMBuildMul(B, l[a].i, gen_ir_i64(c, (uint64_t)s->slice_step[a]), ""), "");
        }
    }
    V si = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, src[0], gen_ir_i64(c, (uint64_t)in[1]), ""), src[1], ""),
                                        gen_ir_i64(c, (uint64_t)in[2]), ""),
                        src[2], "src");
    V e = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, l[0].i, gen_ir_i64(c, (uint64_t)out[1]), ""), l[1].i, ""),
                                       gen_ir_i64(c, (uint64_t)out[2]), ""),
                       l[2].i, "e");
    si = LLVMBuildSelect(B, ok, si, gen_ir_i64(c, 0), "");
    const nr_format *af = &L->prec.activations;
    V y;
    if (same_fmt(c, li, 0)) { /* the encodings themselves (see same_fmt) */
        V x = gen_ir_load_enc(c, af, c->in[0], si);
        y = LLVMBuildSelect(B, ok, x, gen_ir_i64(c, enc_zero(af)), "");
    } else {
        V x = gen_ir_load_dec(c, gen_ir_in_fmt(c, li, 0), c->in[0], si);
        x = LLVMBuildSelect(B, ok, x, f64c(g, 0.0), ""); /* [net-7] pad: +0 */
        y = out1(c, li, 0, x, e);
    }
    gen_ir_store_enc(c, af, c->out, e, y);
    for (int a = 2; a >= 0; a--)
        gen_ir_loop_end(c, &l[a]);
}

static void copy_op(gen_lctx *c, int li)
{
    const nr_layer *L = &c->m->layers[li];
    gen_loop l;
    gen_ir_loop_begin(c, &l, c->p->ly[li].count, "i");
    if (same_fmt(c, li, 0)) { /* the encodings themselves (see same_fmt) */
        V e = gen_ir_load_enc(c, &L->prec.activations, c->in[0], l.i);
        gen_ir_store_enc(c, &L->prec.activations, c->out, l.i, e);
    } else {
        V x = gen_ir_load_dec(c, gen_ir_in_fmt(c, li, 0), c->in[0], l.i);
        gen_ir_store_enc(c, &L->prec.activations, c->out, l.i, out1(c, li, 0, x, l.i));
    }
    gen_ir_loop_end(c, &l);
}

/* [net-8] decode into arena doubles, the runtime's function, round each. */
static void math_op(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const gen_plan_layer *pl = &c->p->ly[li];
    const int *sh = L->out_shape;
    V o2 = gen_ir_i64(c, pl->count * 8);
    V xs = c->scratch;
    V ys = LLVMBuildInBoundsGEP2(B, g->i8, c->scratch, &o2, 1, "ys");
    gen_loop l;
    gen_ir_loop_begin(c, &l, pl->count, "i");
    V x = gen_ir_load_dec(c, gen_ir_in_fmt(c, li, 0), c->in[0], l.i);
    LLVMBuildStore(B, x, LLVMBuildGEP2(B, g->f64, xs, &l.i, 1, ""));
    gen_ir_loop_end(c, &l);
    V C = LLVMConstInt(g->i32, (uint64_t)sh[0], 0), HW = LLVMConstInt(g->i32, (uint64_t)sh[1] * sh[2], 0);
    if (L->op == NR_OP_LRN) {
        T a[8] = {c->ptr, c->ptr, g->i32, g->i32, g->i32, g->f64, g->f64, g->f64};
        T fty = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), a, 8, 0);
        V args[8] = {xs, ys, C, HW, LLVMConstInt(g->i32, (uint64_t)L->spec->lrn_size, 0),
                     f64c(g, L->spec->lrn_alpha), f64c(g, L->spec->lrn_beta), f64c(g, L->spec->lrn_k)};
        LLVMBuildCall2(B, fty, gen_ir_rt_fn(c, "nr_rt_lrn", fty), args, 8, "");
    } else {
        T a[4] = {c->ptr, c->ptr, g->i32, g->i32};
        T fty = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), a, 4, 0);
        V args[4] = {xs, ys, C, HW};
        LLVMBuildCall2(B, fty, gen_ir_rt_fn(c, "nr_rt_softmax", fty), args, 4, "");
    }
    gen_ir_loop_begin(c, &l, pl->count, "j");
    V y = LLVMBuildLoad2(B, g->f64, LLVMBuildGEP2(B, g->f64, ys, &l.i, 1, ""), "y");
    gen_ir_store_enc(c, &L->prec.activations, c->out, l.i,
                  gen_ir_round_val(c, &L->prec.activations, L->prec.rounding, y, l.i,
                                NR_EMU_TERM_OUT));
    gen_ir_loop_end(c, &l);
}

int gen_emit_ops(gen_lctx *c, int li, nr_err *err)
{
    const nr_layer *L = &c->m->layers[li];
    switch (L->op) {
    case NR_OP_RELU: case NR_OP_RELU6: case NR_OP_CLIP:
        clip_op(c, li);
        return 0;
    case NR_OP_MAXPOOL: case NR_OP_AVGPOOL: case NR_OP_GLOBAL_AVGPOOL:
        if (gen_emit_maxpool_int_applies(c, li)) { /* no double hardware: integer code */
            gen_emit_maxpool_int(c, li);
            return 0;
        }
        pool_op(c, li, err);
        return 0;
    case NR_OP_ADD:
        if (L->ninputs != 2)
            break;
        if (gen_emit_add_int_applies(c, li)) /* no double hardware: integer code */
            gen_emit_add_int(c, li);
        else
            add_op(c, li);
        return 0;
    case NR_OP_CONCAT:
        concat_op(c, li);
        return 0;
    case NR_OP_SLICE: case NR_OP_PAD:
        index_op(c, li);
        return 0;
    case NR_OP_FLATTEN: case NR_OP_DROPOUT:
        copy_op(c, li);
        return 0;
    case NR_OP_LRN: case NR_OP_SOFTMAX:
        math_op(c, li);
        return 0;
    default:
        break;
    }
    return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name, "op %s cannot be generated here",
                      nr_spec_op_name(L->op));
}
