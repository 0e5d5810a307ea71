/* emit_seq.c -- the sequence ops ([op-seq] .. [op-layernorm] in
 * docs/semantics.md) as IR, bit-exact with the emulator (emu_seq.c,
 * emu_attn.c): every rounding the rules name is one rounding here, with the
 * same SR element and term.  linear and matmul are MACs (emit_mac.c's
 * gen_emit_mac_seq); tokens/heads/merge_heads index maps; scale, add_const,
 * gelu, softmax_axis and layernorm elementwise and per-line loops.
 * Nonlinear functions call numrep's own correctly rounded implementation
 * (runtime/rt/nlrt_gen.c, [nl-impl]: no libm), as does softmax's exact
 * quotient; everything else is inline IR of emit_num.c. */
#include "plan.h"
#include "emit_seq.h"
#include "emulator.h"
#include "nlrt.h"

#include <stdio.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

static const nr_format *in_fmt(const nr_model *m, const nr_layer *L, int k)
{
    return L->inputs[k] < 0 ? &m->in_format : &m->layers[L->inputs[k]].prec.activations;
}

/* ---------------------------------------------------------------- planning */

int gen_seq_has_w(const nr_layer *L)
{
    return L->op == NR_OP_LINEAR || L->op == NR_OP_LAYERNORM || L->op == NR_OP_ADD_CONST ||
           gen_seq_lm_has_w(L);
}

uint64_t gen_seq_wpos(const nr_layer *L, uint64_t k)
{
    if (L->op != NR_OP_LINEAR) /* linear: [out, F] packed as [F, out] */
        return k;
    uint64_t F = (uint64_t)L->in_shape[0][2], O = (uint64_t)L->out_shape[2];
    return k % F * O + k / F;
}

uint64_t gen_seq_scratch(const nr_layer *L, const gen_plan_layer *pl)
{
    const int *s = L->out_shape;
    switch (L->op) {
    case NR_OP_LINEAR: case NR_OP_MATMUL:
        if (gen_seq_scaled(L)) /* [scl-seq] emit_seq_scaled.c */
            return gen_seq_scaled_scratch(L);
        return L->prec.mac == NR_MAC_EXACT ? (8 + 2 * (uint64_t)pl->klimbs) * 8 : 0;
    case NR_OP_LAYERNORM:
        return (uint64_t)s[2] * sizeof(double);
    case NR_OP_SOFTMAX_AXIS:
        return (uint64_t)s[L->spec->axis] * sizeof(double);
    default:
        return gen_seq_lm_scratch(L); /* emit_seq_lm.c */
    }
}

/* A nonlinear function from a value of xf into the nonlinear format:
 * numrep's own implementation takes formats of at most 32 bits. */
int gen_seq_nl_ok(const nr_layer *L, const nr_format *xf, nr_err *err)
{
    const nr_format *nf = &L->prec.nonlinear;
    if (xf->width <= 32 && nf->width <= 32 && !(nf->kind == NR_FIXED && nf->prec > 53))
        return 0;
    return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                      "%s: the generator's nonlinear functions take formats of at most 32 "
                      "bits (input %d, nonlinear %d); use the emulator",
                      nr_spec_op_name(L->op), xf->width, nf->width);
}

int gen_seq_check(const nr_model *m, int li, nr_err *err)
{
    const nr_layer *L = &m->layers[li];
    if (gen_seq_scaled(L)) /* [scl-seq] emit_seq_scaled.c */
        return gen_seq_scaled_check(m, li, err);
    if (nr_prec_is_scaled(&L->prec))
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "%s: scaled formats apply only to linear and matmul among the "
                          "sequence ops ([scl-seq])", nr_spec_op_name(L->op));
    switch (L->op) {
    case NR_OP_TOKENS: case NR_OP_HEADS: case NR_OP_MERGE_HEADS: case NR_OP_SCALE:
    case NR_OP_ADD_CONST:
        return 0;
    case NR_OP_LINEAR: case NR_OP_MATMUL:
        if (L->prec.mac == NR_MAC_UNFUSED || L->prec.mac == NR_MAC_FUSED ||
            L->prec.mac == NR_MAC_EXACT)
            return 0;
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "%s: mac %s is not supported for sequence ops (unfused, fused or "
                          "exact)", nr_spec_op_name(L->op), nr_prec_mac_name(L->prec.mac));
    case NR_OP_GELU:
        return gen_seq_nl_ok(L, in_fmt(m, L, 0), err);
    case NR_OP_SOFTMAX_AXIS:
        return gen_seq_nl_ok(L, L->spec->sm_plain ? in_fmt(m, L, 0) : &L->prec.nonlinear, err);
    case NR_OP_LAYERNORM:
        return gen_seq_nl_ok(L, &L->prec.accumulator, err);
    default:
        if (nr_model_seq_lm_is(L->op)) /* [op-lm] emit_seq_lm.c */
            return gen_seq_lm_check(m, li, err);
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "op %s is not in the generator yet (emulator only: numrep "
                          "emulate, or eval/search --engine emulator)", nr_spec_op_name(L->op));
    }
}

/* ---------------------------------------------------------------- helpers */

static V c32(gen_ctx *g, uint64_t v) { return LLVMConstInt(g->i32, v, 0); }

/* The layer's SR draw (0 outside sr). */
V gen_seq_draw(gen_lctx *c, nr_rounding mode, V elem, uint32_t term)
{
    return gen_ir_sr(c, mode, elem, c32(c->g, term));
}

/* round_f(a + b), round_f(a * b) (a, b values of fa, fb), as doubles. */
V gen_seq_add_r(gen_lctx *c, const nr_format *f, nr_rounding md, V a, V b, V elem,
                uint32_t term)
{
    return gen_num_decode(c->g, f, gen_num_round_sum(c->g, f, md, a, b,
                                                     gen_seq_draw(c, md, elem, term)));
}

V gen_seq_mul_r(gen_lctx *c, const nr_format *f, nr_rounding md, const nr_format *fa,
                const nr_format *fb, V a, V b, V elem, uint32_t term)
{
    return gen_num_decode(c->g, f, gen_num_round_prod(c->g, f, md, fa, fb, a, b,
                                                      gen_seq_draw(c, md, elem, term)));
}

/* A constant copy of f in the module (what nlrt_gen.c reads). */
static V fmt_ptr(gen_lctx *c, const nr_format *f)
{
    gen_ctx *g = c->g;
    char fn[64], name[96];
    nr_format_name(f, fn, sizeof fn);
    snprintf(name, sizeof name, "numrep.fmt.%s", fn);
    V gv = LLVMGetNamedGlobal(g->mod, name);
    if (gv)
        return gv;
    V init = LLVMConstStringInContext(g->ctx, (const char *)f, (unsigned)sizeof *f, 1);
    gv = LLVMAddGlobal(g->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetAlignment(gv, 8);
    return gv;
}

/* [op-nl] fn(x) correctly rounded into the layer's nonlinear format. */
V gen_seq_nl(gen_lctx *c, const nr_layer *L, nr_nlfn fn, V x, V elem)
{
    gen_ctx *g = c->g;
    T args[5] = {g->i32, g->f64, c->ptr, g->i32, g->i32};
    T fty = LLVMFunctionType(g->f64, args, 5, 0);
    V a[5] = {c32(g, (uint64_t)fn), x, fmt_ptr(c, &L->prec.nonlinear),
              c32(g, (uint64_t)L->prec.rounding),
              gen_seq_draw(c, L->prec.rounding, elem, T_NL)};
    return LLVMBuildCall2(g->b, fty, gen_ir_rt_fn(c, "nr_nlrt_gen", fty), a, 5, "nl");
}

/* The exact a / b rounded once into f (term OUT), as a double. */
static V div_r(gen_lctx *c, const nr_format *f, nr_rounding md, V a, V b, V elem)
{
    gen_ctx *g = c->g;
    T args[5] = {g->f64, g->f64, c->ptr, g->i32, g->i32};
    T fty = LLVMFunctionType(g->f64, args, 5, 0);
    V v[5] = {a, b, fmt_ptr(c, f), c32(g, (uint64_t)md),
              gen_seq_draw(c, md, elem, NR_EMU_TERM_OUT)};
    return LLVMBuildCall2(g->b, fty, gen_ir_rt_fn(c, "nr_nlrt_gen_div", fty), v, 5, "q");
}

/* A constant rounded to W at load, as the emulator rounds it. */
V gen_seq_const_w(gen_lctx *c, int li, double v, uint32_t term)
{
    const nr_layer *L = &c->m->layers[li];
    nr_rounding md = L->prec.rounding;
    uint32_t r = md == NR_RND_SR ? nr_sr_bits(c->m->seed, (uint32_t)li, 0, term) : 0;
    return LLVMConstReal(c->g->f64, nr_round(&L->prec.weights, md, v, r, NULL));
}

/* Store the value v (a value of A) as y[i]. */
static void put(gen_lctx *c, const nr_format *af, V i, V v)
{
    gen_ir_store_enc(c, af, c->out, i, gen_ir_encode_val(c, af, v));
}

static V slot(gen_lctx *c, V i)
{
    return LLVMBuildGEP2(c->g->b, c->g->f64, c->scratch, &i, 1, "");
}

/* ---------------------------------------------------------------- ops */

/* [op-move] y[j] = x[src(j)], rounded to A when the formats differ. */
static void emit_move(gen_lctx *c, int li)
{
    LLVMBuilderRef B = c->g->b;
    const nr_layer *L = &c->m->layers[li];
    const int *in = L->in_shape[0], *out = L->out_shape;
    const nr_format *xf = gen_ir_in_fmt(c, li, 0), *af = &L->prec.activations;
    gen_loop l0, l1, l2;
    gen_ir_loop_begin(c, &l0, (uint64_t)out[0], "a0");
    gen_ir_loop_begin(c, &l1, (uint64_t)out[1], "a1");
    gen_ir_loop_begin(c, &l2, (uint64_t)out[2], "a2");
    V j = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, l0.i, gen_ir_i64(c, (uint64_t)out[1]), ""), l1.i, ""),
                                       gen_ir_i64(c, (uint64_t)out[2]), ""), l2.i, "j");
    V i;
    if (L->op == NR_OP_TOKENS) /* y[0, h*W + w, c] = x[c, h, w] */
        i = LLVMBuildAdd(B, LLVMBuildMul(B, l2.i, gen_ir_i64(c, (uint64_t)in[1] * in[2]), ""), l1.i, "");
    else if (L->op == NR_OP_HEADS) /* y[h, t, j] = x[0, t, h*d + j] */
        i = LLVMBuildAdd(B, LLVMBuildAdd(B, LLVMBuildMul(B, l1.i, gen_ir_i64(c, (uint64_t)in[2]), ""),
                                         LLVMBuildMul(B, l0.i, gen_ir_i64(c, (uint64_t)out[2]), ""), ""), l2.i, "");
    else { /* merge_heads: y[0, t, h*d + j] = x[h, t, j] */
        V d = gen_ir_i64(c, (uint64_t)in[2]);
        V h = LLVMBuildUDiv(B, l2.i, d, ""), r = LLVMBuildURem(B, l2.i, d, "");
        i = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, h, gen_ir_i64(c, (uint64_t)in[1]), ""), l1.i, ""), d, ""), r, "");
    }
    if (nr_format_equal(xf, af))
        gen_ir_store_enc(c, af, c->out, j, gen_ir_load_enc(c, xf, c->in[0], i));
    else
        gen_ir_store_enc(c, af, c->out, j, gen_ir_round_val(c, af, L->prec.rounding,
                                                      gen_ir_load_dec(c, xf, c->in[0], i), j,
                                                      NR_EMU_TERM_OUT));
    gen_ir_loop_end(c, &l2);
    gen_ir_loop_end(c, &l1);
    gen_ir_loop_end(c, &l0);
}

/* [op-scale], [op-add-const], [op-gelu]: one value at a time. */
static void emit_elementwise(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    const nr_layer *L = &c->m->layers[li];
    const nr_format *xf = gen_ir_in_fmt(c, li, 0), *af = &L->prec.activations,
                    *wf = &L->prec.weights, *nf = &L->prec.nonlinear;
    const nr_rounding md = L->prec.rounding;
    V cw = L->op == NR_OP_SCALE
               ? gen_seq_const_w(c, li, L->spec->scale_by, NR_EMU_TERM_WEIGHT) : NULL;
    gen_loop l;
    gen_ir_loop_begin(c, &l, nr_shape_count(L->out_shape), "i");
    V x = gen_ir_load_dec(c, xf, c->in[0], l.i), y;
    if (L->op == NR_OP_SCALE) {
        y = gen_num_round_prod(g, af, md, xf, wf, x, cw,
                               gen_seq_draw(c, md, l.i, NR_EMU_TERM_OUT));
    } else if (L->op == NR_OP_ADD_CONST) {
        V w = gen_ir_decode(c, wf, gen_ir_load_w(c, wf, c->w, l.i));
        y = gen_num_round_sum(g, af, md, x, w, gen_seq_draw(c, md, l.i, NR_EMU_TERM_OUT));
    } else {
        V r = gen_seq_nl(c, L, L->spec->gelu_tanh ? NR_NL_GELU_TANH : NR_NL_GELU, x, l.i);
        y = nr_format_equal(nf, af) ? gen_ir_encode_val(c, af, r)
                                    : gen_ir_round_val(c, af, md, r, l.i, NR_EMU_TERM_OUT);
    }
    gen_ir_store_enc(c, af, c->out, l.i, y);
    gen_ir_loop_end(c, &l);
}

/* [op-softmax] one line: the n (i64) values at base + i*stride, i
 * ascending; the layer's scratch holds the line's exponentials. */
void gen_seq_softmax_line(gen_lctx *c, int li, V base, uint64_t stride, V n)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const int plain = L->spec->sm_plain;
    const nr_format *xf = gen_ir_in_fmt(c, li, 0), *af = &L->prec.activations,
                    *nf = &L->prec.nonlinear, *sf = &L->prec.accumulator;
    const nr_rounding md = L->prec.rounding;
    V zero = gen_ir_i64(c, 0);
    V mslot = gen_ir_alloca(c, g->f64, "max"), sslot = gen_ir_alloca(c, g->f64, "sum");
    gen_loop li_;
#define ELEM(i) LLVMBuildAdd(B, base, LLVMBuildMul(B, (i), gen_ir_i64(c, stride), ""), "k")
    if (!plain) { /* the maximum, exact; a NaN stays */
        LLVMBuildStore(B, LLVMConstReal(g->f64, -1.0 / 0.0), mslot);
        gen_ir_loop_range(c, &li_, zero, n, "i");
        V v = gen_ir_load_dec(c, xf, c->in[0], ELEM(li_.i));
        V m = LLVMBuildLoad2(B, g->f64, mslot, "m");
        V take = LLVMBuildOr(B, LLVMBuildFCmp(B, LLVMRealUNO, v, v, ""),
                             LLVMBuildFCmp(B, LLVMRealOGT, v, m, ""), "");
        take = LLVMBuildAnd(B, take, LLVMBuildFCmp(B, LLVMRealORD, m, m, ""), "");
        LLVMBuildStore(B, LLVMBuildSelect(B, take, v, m, ""), mslot);
        gen_ir_loop_end(c, &li_);
    }
    V negm = plain ? NULL : LLVMBuildFNeg(B, LLVMBuildLoad2(B, g->f64, mslot, ""), "negm");
    LLVMBuildStore(B, LLVMConstReal(g->f64, 0.0), sslot);
    gen_ir_loop_range(c, &li_, zero, n, "i");
    V k = ELEM(li_.i);
    V d = gen_ir_load_dec(c, xf, c->in[0], k);
    if (!plain)
        d = gen_seq_add_r(c, nf, md, d, negm, k, T_SUB);
    V e = gen_seq_nl(c, L, NR_NL_EXP, d, k);
    LLVMBuildStore(B, e, slot(c, li_.i));
    LLVMBuildStore(B, gen_seq_add_r(c, sf, md, LLVMBuildLoad2(B, g->f64, sslot, ""), e, k, T_SUM),
                   sslot);
    gen_ir_loop_end(c, &li_);
    V s = LLVMBuildLoad2(B, g->f64, sslot, "s");
    gen_ir_loop_range(c, &li_, zero, n, "i");
    k = ELEM(li_.i);
    put(c, af, k, div_r(c, af, md, LLVMBuildLoad2(B, g->f64, slot(c, li_.i), "e"), s, k));
    gen_ir_loop_end(c, &li_);
#undef ELEM
}

/* [op-softmax] every line along the axis: lines start at o*n*stride + r. */
static void emit_softmax(gen_lctx *c, int li)
{
    LLVMBuilderRef B = c->g->b;
    const nr_layer *L = &c->m->layers[li];
    const int *sh = L->out_shape, ax = L->spec->axis;
    const uint64_t n = (uint64_t)sh[ax];
    uint64_t stride = 1, outer = 1;
    for (int d = ax + 1; d < 3; d++)
        stride *= (uint64_t)sh[d];
    for (int d = 0; d < ax; d++)
        outer *= (uint64_t)sh[d];
    gen_loop lo, lr;
    gen_ir_loop_begin(c, &lo, outer, "o");
    gen_ir_loop_begin(c, &lr, stride, "r");
    V base = LLVMBuildAdd(B, LLVMBuildMul(B, lo.i, gen_ir_i64(c, n * stride), ""), lr.i, "base");
    gen_seq_softmax_line(c, li, base, stride, gen_ir_i64(c, n));
    gen_ir_loop_end(c, &lr);
    gen_ir_loop_end(c, &lo);
}

/* [op-layernorm] over the F features of each token. */
static void emit_layernorm(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const int F = L->out_shape[2];
    const nr_format *xf = gen_ir_in_fmt(c, li, 0), *af = &L->prec.activations,
                    *wf = &L->prec.weights, *sf = &L->prec.accumulator, *pf = &L->prec.products,
                    *nf = &L->prec.nonlinear;
    const nr_rounding md = L->prec.rounding;
    V eps = gen_seq_const_w(c, li, L->spec->eps, NR_EMU_TERM_BIAS);
    V acc = gen_ir_alloca(c, g->f64, "s");
    gen_loop lt, lf;
    gen_ir_loop_begin(c, &lt, nr_shape_count(L->out_shape) / (uint64_t)F, "t");
    V base = LLVMBuildMul(B, lt.i, gen_ir_i64(c, (uint64_t)F), "base");
    LLVMBuildStore(B, LLVMConstReal(g->f64, 0.0), acc);
    gen_ir_loop_begin(c, &lf, (uint64_t)F, "f");
    V e = LLVMBuildAdd(B, base, lf.i, "e");
    LLVMBuildStore(B, gen_seq_add_r(c, sf, md, LLVMBuildLoad2(B, g->f64, acc, ""),
                            gen_ir_load_dec(c, xf, c->in[0], e), e, T_SUM), acc);
    gen_ir_loop_end(c, &lf);
    V Fv = gen_ir_i64(c, (uint64_t)F);
    V mean = gen_num_decode(g, sf, gen_emit_div_count(c, sf, md, LLVMBuildLoad2(B, g->f64, acc, ""),
                                                 Fv, base, T_MEAN));
    V negmean = LLVMBuildFNeg(B, mean, "");
    LLVMBuildStore(B, LLVMConstReal(g->f64, 0.0), acc);
    gen_ir_loop_begin(c, &lf, (uint64_t)F, "f");
    e = LLVMBuildAdd(B, base, lf.i, "e");
    V d = gen_seq_add_r(c, sf, md, gen_ir_load_dec(c, xf, c->in[0], e), negmean, e, T_DEV);
    LLVMBuildStore(B, d, slot(c, lf.i));
    V p = gen_seq_mul_r(c, pf, md, sf, sf, d, d, e, T_SQ);
    LLVMBuildStore(B, gen_seq_add_r(c, sf, md, LLVMBuildLoad2(B, g->f64, acc, ""), p, e, T_VSUM),
                   acc);
    gen_ir_loop_end(c, &lf);
    V var = gen_num_decode(g, sf, gen_emit_div_count(c, sf, md, LLVMBuildLoad2(B, g->f64, acc, ""),
                                                Fv, base, T_VAR));
    V v = gen_seq_add_r(c, sf, md, var, eps, base, T_EPS);
    V r = gen_seq_nl(c, L, NR_NL_RSQRT, v, base);
    gen_ir_loop_begin(c, &lf, (uint64_t)F, "f");
    e = LLVMBuildAdd(B, base, lf.i, "e");
    V u = gen_seq_mul_r(c, pf, md, sf, nf, LLVMBuildLoad2(B, g->f64, slot(c, lf.i), "d"), r, e,
                        T_NORM);
    V gam = gen_ir_decode(c, wf, gen_ir_load_w(c, wf, c->w, lf.i));
    V z = gen_seq_mul_r(c, pf, md, pf, wf, u, gam, e, T_GAIN);
    V bet = gen_ir_decode(c, wf, gen_ir_load_w(c, wf, c->b, lf.i));
    gen_ir_store_enc(c, af, c->out, e, gen_num_round_sum(g, af, md, z, bet,
                                                      gen_seq_draw(c, md, e, NR_EMU_TERM_OUT)));
    gen_ir_loop_end(c, &lf);
    gen_ir_loop_end(c, &lt);
}

int gen_emit_seq(gen_lctx *c, int li, nr_err *err)
{
    const nr_layer *L = &c->m->layers[li];
    int rc = gen_seq_check(c->m, li, err);
    if (rc)
        return rc;
    switch (L->op) {
    case NR_OP_LINEAR: case NR_OP_MATMUL:
        if (gen_seq_scaled(L)) /* [scl-seq] emit_seq_scaled.c */
            return gen_emit_seq_scaled(c, li, err);
        return gen_emit_mac_seq(c, li, err);
    case NR_OP_TOKENS: case NR_OP_HEADS: case NR_OP_MERGE_HEADS:
        emit_move(c, li);
        return 0;
    case NR_OP_SOFTMAX_AXIS:
        emit_softmax(c, li);
        return 0;
    case NR_OP_LAYERNORM:
        emit_layernorm(c, li);
        return 0;
    default:
        if (nr_model_seq_lm_is(L->op)) /* [op-lm] emit_seq_lm.c */
            return gen_seq_lm_emit(c, li, err);
        emit_elementwise(c, li);
        return 0;
    }
}
