/* emit_ops_int.c -- max pooling and the elementwise add in integer code.
 *
 * Max pooling ([net-7]) on the encodings of a float
 * format, in integer instructions only, for targets without double
 * hardware (gen_ctx.int_narrow; emit_ops.c decodes to doubles).  Input
 * format = output format, so the result is one of the input encodings
 * (canonical, see emit_ops.c's same_fmt).  A sign-magnitude encoding with
 * the sign folded in (key = sign ? -magnitude : magnitude) orders the
 * non-NaN values as the reals do, with -0 = +0; as in [net-7] a later value
 * wins only if greater, a NaN wins (and then stays), padding positions are
 * skipped, and a window with no position gives +0.  Fixed point: the
 * key is the two's complement value itself (sign-extended), no NaN. */
#include "plan.h"

typedef LLVMValueRef V;

int gen_emit_maxpool_int_applies(const gen_lctx *c, int li)
{
    const nr_layer *L = &c->m->layers[li];
    const nr_format *af = &L->prec.activations;
    return c->g->int_narrow && L->op == NR_OP_MAXPOOL &&
           (af->kind == NR_FLOAT || af->kind == NR_FIXED) && af->width <= 32 &&
           nr_format_equal(gen_ir_in_fmt(c, li, 0), af);
}

static V key(gen_ctx *g, const nr_format *f, V e)
{
    LLVMBuilderRef B = g->b;
    if (f->kind == NR_FIXED) {
        if (!f->is_signed)
            return e;
        V s = LLVMConstInt(g->i64, (uint64_t)(64 - f->width), 0);
        return LLVMBuildAShr(B, LLVMBuildShl(B, e, s, ""), s, "key");
    }
    V mag = LLVMBuildAnd(B, e, LLVMConstInt(g->i64, ~f->sign_mask, 0), "");
    V neg = LLVMBuildICmp(B, LLVMIntNE, LLVMBuildAnd(B, e, LLVMConstInt(g->i64, f->sign_mask, 0), ""),
                          LLVMConstInt(g->i64, 0, 0), "");
    return LLVMBuildSelect(B, neg, LLVMBuildNeg(B, mag, ""), mag, "key");
}

void gen_emit_maxpool_int(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const nr_layer_spec *s = L->spec;
    const int *in = L->in_shape[0], *out = L->out_shape;
    const nr_format *f = &L->prec.activations;
    V acc = gen_ir_alloca(c, g->i64, "macc"), have = gen_ir_alloca(c, g->i1, "mhave");
    V nan = gen_ir_alloca(c, g->i1, "mnan");
    gen_loop lc, lh, lw, lr, lq;
    gen_ir_loop_begin(c, &lc, (uint64_t)out[0], "c");
    gen_ir_loop_begin(c, &lh, (uint64_t)out[1], "oh");
    V h0 = LLVMBuildSub(B, LLVMBuildMul(B, lh.i, gen_ir_i64(c, (uint64_t)s->stride[0]), ""),
                        gen_ir_i64(c, (uint64_t)L->pad[0]), "");
    gen_ir_loop_begin(c, &lw, (uint64_t)out[2], "ow");
    V w0 = LLVMBuildSub(B, LLVMBuildMul(B, lw.i, gen_ir_i64(c, (uint64_t)s->stride[1]), ""),
                        gen_ir_i64(c, (uint64_t)L->pad[1]), "");
    V elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lc.i, gen_ir_i64(c, (uint64_t)out[1]), ""), lh.i, ""),
                                          gen_ir_i64(c, (uint64_t)out[2]), ""), lw.i, "elem");
    LLVMBuildStore(B, gen_ir_i64(c, 0), acc); /* +0: every numrep encoding of +0 is 0 */
    LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), have);
    LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), nan);
    V cbase = LLVMBuildMul(B, lc.i, gen_ir_i64(c, (uint64_t)in[1] * in[2]), "");
    gen_ir_loop_begin(c, &lr, (uint64_t)s->kernel[0], "r");
    gen_ir_loop_begin(c, &lq, (uint64_t)s->kernel[1], "q");
    V ih = LLVMBuildAdd(B, h0, lr.i, "ih"), iw = LLVMBuildAdd(B, w0, lq.i, "iw");
    V ok = LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntULT, ih, gen_ir_i64(c, (uint64_t)in[1]), ""),
                        LLVMBuildICmp(B, LLVMIntULT, iw, gen_ir_i64(c, (uint64_t)in[2]), ""), "");
    LLVMBasicBlockRef t = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "mpos");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "mnext");
    LLVMBuildCondBr(B, ok, t, next);
    LLVMPositionBuilderAtEnd(B, t);
    V xi = LLVMBuildAdd(B, cbase, LLVMBuildAdd(B, LLVMBuildMul(B, ih, gen_ir_i64(c, (uint64_t)in[2]), ""), iw, ""), "xi");
    V x = gen_ir_load_enc(c, f, c->in[0], xi);
    V a = LLVMBuildLoad2(B, g->i64, acc, "");
    V hv = LLVMBuildLoad2(B, g->i1, have, ""), nv = LLVMBuildLoad2(B, g->i1, nan, "");
    V xn = gen_num_is_nan(g, f, x);
    if (!xn)
        xn = LLVMConstInt(g->i1, 0, 0);
    V gt = LLVMBuildAnd(B, LLVMBuildNot(B, xn, ""), LLVMBuildICmp(B, LLVMIntSGT, key(g, f, x), key(g, f, a), ""), "");
    V take = LLVMBuildAnd(B, LLVMBuildNot(B, nv, ""), LLVMBuildOr(B, LLVMBuildNot(B, hv, ""), gt, ""), "");
    LLVMBuildStore(B, LLVMBuildSelect(B, LLVMBuildOr(B, xn, take, ""), x, a, ""), acc);
    LLVMBuildStore(B, LLVMBuildOr(B, nv, xn, ""), nan);
    LLVMBuildStore(B, LLVMConstInt(g->i1, 1, 0), have);
    LLVMBuildBr(B, next);
    LLVMPositionBuilderAtEnd(B, next);
    gen_ir_loop_end(c, &lq);
    gen_ir_loop_end(c, &lr);
    gen_ir_store_enc(c, f, c->out, elem, LLVMBuildLoad2(B, g->i64, acc, "m"));
    gen_ir_loop_end(c, &lw);
    gen_ir_loop_end(c, &lh);
    gen_ir_loop_end(c, &lc);
}

/* ------------------------------------------------------------ add
 * [net-9]-style elementwise add of two tensors, round_A(a + b) (term OUT),
 * in integer code: both encodings unpacked, the exact sum of
 * gen_num_exact_add in a 32- or 64-bit window (its exactness argument: the
 * operands fit with two bits of headroom and A's precision leaves the
 * rounding bits), then gen_num_round.  Not for sr (the draws stay with
 * emit_ops.c). */
static int sig_width(const nr_format *f) { return f->kind == NR_FIXED ? f->width : f->prec; }

int gen_emit_add_int_applies(const gen_lctx *c, int li)
{
    const nr_layer *L = &c->m->layers[li];
    const nr_format *af = &L->prec.activations;
    if (!c->g->int_narrow || L->op != NR_OP_ADD || L->ninputs != 2 ||
        L->prec.rounding == NR_RND_SR || !gen_numi_fmt_ok(af) || gen_ir_fmt_is(af, "fp32"))
        return 0; /* fp32 keeps the float unit (or libgcc's float routines) */
    for (int i = 0; i < 2; i++)
        if (!gen_numi_fmt_ok(gen_ir_in_fmt(c, li, i)))
            return 0;
    return 1;
}

void gen_emit_add_int(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    const nr_layer *L = &c->m->layers[li];
    const nr_format *f0 = gen_ir_in_fmt(c, li, 0), *f1 = gen_ir_in_fmt(c, li, 1);
    const nr_format *af = &L->prec.activations;
    int wbits = sig_width(f0) > sig_width(f1) ? sig_width(f0) : sig_width(f1);
    int W = wbits <= 30 && sig_width(af) <= 29 ? 32 : 64;
    gen_loop l;
    gen_ir_loop_begin(c, &l, c->p->ly[li].count, "i");
    gen_exact a, b, s;
    gen_numi_unpack(g, f0, gen_ir_load_enc(c, f0, c->in[0], l.i), &a);
    gen_numi_unpack(g, f1, gen_ir_load_enc(c, f1, c->in[1], l.i), &b);
    gen_num_exact_add(g, &a, &b, W, L->prec.rounding == NR_RND_RD, &s);
    gen_ir_store_enc(c, af, c->out, l.i,
                  gen_num_round(g, af, L->prec.rounding, &s, LLVMConstInt(g->i32, 0, 0)));
    gen_ir_loop_end(c, &l);
}
