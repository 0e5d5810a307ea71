/* emit_seq_lm.c -- the causal language model ops ([op-lm] in
 * docs/semantics.md) as IR, bit-exact with the emulator (emu_seq_lm.c):
 * embedding by integer ids ([op-embedding]), rmsnorm ([op-rmsnorm]), rope
 * ([op-rope]), silu ([op-silu]), mul ([op-mul]) and causal_softmax
 * ([op-causal]).  Every rounding the rules name is one rounding here, with
 * the emulator's SR element and term; the arithmetic is emit_seq.c's
 * (gen_seq_*: products, sums, nonlinear functions through nlrt_gen.c,
 * softmax lines).  emit_seq.c calls these for the ops nr_model_seq_lm_is names. */
#include "emit_seq.h"
#include "emit_scaled.h"
#include "emulator.h"

typedef LLVMValueRef V;

int gen_seq_lm_has_w(const nr_layer *L)
{
    return L->op == NR_OP_EMBEDDING || L->op == NR_OP_RMSNORM || L->op == NR_OP_ROPE;
}

uint64_t gen_seq_lm_scratch(const nr_layer *L)
{
    /* causal_softmax: one line of exponentials, at most T */
    return L->op == NR_OP_CAUSAL_SOFTMAX ? (uint64_t)L->out_shape[2] * sizeof(double) : 0;
}

/* [op-embedding] ids come straight from the network input (emit_layer.c
 * passes the caller's float32 array, not the rounded input): only
 * embeddings may read it, as the emulator requires. */
static int ids_ok(const nr_model *m, const nr_layer *L, nr_err *err)
{
    if (L->ninputs != 1 || L->inputs[0] >= 0)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "embedding: must read the network input");
    for (int li = 0; li < m->nlayers; li++)
        for (int i = 0; i < m->layers[li].ninputs; i++)
            if (m->layers[li].inputs[i] < 0 && m->layers[li].op != NR_OP_EMBEDDING)
                return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, m->layers[li].name,
                                  "%s reads the token ids of an embedding's input",
                                  nr_spec_op_name(m->layers[li].op));
    return 0;
}

int gen_seq_lm_check(const nr_model *m, int li, nr_err *err)
{
    const nr_layer *L = &m->layers[li];
    switch (L->op) {
    case NR_OP_EMBEDDING:
        return ids_ok(m, L, err);
    case NR_OP_RMSNORM: /* rsqrt of an accumulator value */
        return gen_seq_nl_ok(L, &L->prec.accumulator, err);
    case NR_OP_SILU:
        return gen_seq_nl_ok(L, gen_scaled_carrier(m, L->inputs[0]), err);
    case NR_OP_CAUSAL_SOFTMAX: /* exp of a difference rounded to the nonlinear format */
        return gen_seq_nl_ok(L, &L->prec.nonlinear, err);
    default: /* rope, mul */
        return 0;
    }
}

/* [op-embedding] y[0, t, f] = round_A(W[id_t, f]); ids are checked by the
 * caller (nr_model_lm_check_ids; the token reader), an id outside [0, V) reads
 * row 0 here so that no run reads outside the table. */
static void emit_embedding(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const int T = L->out_shape[1], D = L->out_shape[2];
    const nr_format *wf = &L->prec.weights, *af = &L->prec.activations;
    LLVMTypeRef f32 = LLVMFloatTypeInContext(g->ctx);
    gen_loop lt, lf;
    gen_ir_loop_begin(c, &lt, (uint64_t)T, "t");
    V x = LLVMBuildFPExt(B, LLVMBuildLoad2(B, f32, LLVMBuildGEP2(B, f32, c->in[0], &lt.i, 1, ""),
                                           "id"), g->f64, "");
    V ok = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOGE, x, LLVMConstReal(g->f64, 0), ""),
                        LLVMBuildFCmp(B, LLVMRealOLT, x, LLVMConstReal(g->f64, L->spec->vocab), ""),
                        "");
    V id = LLVMBuildSelect(B, ok, LLVMBuildFPToSI(B, x, g->i64, ""), gen_ir_i64(c, 0), "row");
    V row = LLVMBuildMul(B, id, gen_ir_i64(c, (uint64_t)D), "");
    gen_ir_loop_begin(c, &lf, (uint64_t)D, "f");
    V j = LLVMBuildAdd(B, LLVMBuildMul(B, lt.i, gen_ir_i64(c, (uint64_t)D), ""), lf.i, "j");
    V w = gen_ir_load_w(c, wf, c->w, LLVMBuildAdd(B, row, lf.i, ""));
    if (!nr_format_equal(wf, af)) /* the emulator's event only when the formats differ */
        w = gen_ir_round_val(c, af, L->prec.rounding, gen_ir_decode(c, wf, w), j, NR_EMU_TERM_OUT);
    gen_ir_store_enc(c, af, c->out, j, w);
    gen_ir_loop_end(c, &lf);
    gen_ir_loop_end(c, &lt);
}

/* [op-rmsnorm] over the F features of each token. */
static void emit_rmsnorm(gen_lctx *c, int li)
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
    V acc = gen_ir_alloca(c, g->f64, "q");
    gen_loop lt, lf;
    gen_ir_loop_begin(c, &lt, nr_shape_count(L->out_shape) / (uint64_t)F, "t");
    V base = LLVMBuildMul(B, lt.i, gen_ir_i64(c, (uint64_t)F), "base");
    LLVMBuildStore(B, LLVMConstReal(g->f64, 0.0), acc);
    gen_ir_loop_begin(c, &lf, (uint64_t)F, "f");
    V e = LLVMBuildAdd(B, base, lf.i, "e");
    V x = gen_ir_load_dec(c, xf, c->in[0], e);
    V p = gen_seq_mul_r(c, pf, md, xf, xf, x, x, e, T_SQ);
    LLVMBuildStore(B, gen_seq_add_r(c, sf, md, LLVMBuildLoad2(B, g->f64, acc, ""), p, e, T_VSUM),
                   acc);
    gen_ir_loop_end(c, &lf);
    V ms = gen_num_decode(g, sf, gen_emit_div_count(c, sf, md, LLVMBuildLoad2(B, g->f64, acc, ""),
                                               gen_ir_i64(c, (uint64_t)F), base, T_VAR));
    V v = gen_seq_add_r(c, sf, md, ms, eps, base, T_EPS);
    V r = gen_seq_nl(c, L, NR_NL_RSQRT, v, base);
    gen_ir_loop_begin(c, &lf, (uint64_t)F, "f");
    e = LLVMBuildAdd(B, base, lf.i, "e");
    V u = gen_seq_mul_r(c, pf, md, xf, nf, gen_ir_load_dec(c, xf, c->in[0], e), r, e, T_NORM);
    V gam = gen_ir_decode(c, wf, gen_ir_load_w(c, wf, c->w, lf.i));
    gen_ir_store_enc(c, af, c->out, e,
                  gen_num_round_prod(g, af, md, pf, wf, u, gam,
                                     gen_seq_draw(c, md, e, NR_EMU_TERM_OUT)));
    gen_ir_loop_end(c, &lf);
    gen_ir_loop_end(c, &lt);
}

/* [op-rope] rotate-half pairs (i, i + d/2) of every head and position. */
static void emit_rope(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const int *sh = L->out_shape;
    const uint64_t T = (uint64_t)sh[1], d = (uint64_t)sh[2], h = d / 2;
    const nr_format *xf = gen_ir_in_fmt(c, li, 0), *af = &L->prec.activations,
                    *wf = &L->prec.weights, *pf = &L->prec.products;
    const nr_rounding md = L->prec.rounding;
    gen_loop lb, lt, lh;
    gen_ir_loop_begin(c, &lb, (uint64_t)sh[0], "b");
    gen_ir_loop_begin(c, &lt, T, "t");
    V row = LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lb.i, gen_ir_i64(c, T), ""), lt.i, ""),
                         gen_ir_i64(c, d), "row");
    gen_ir_loop_begin(c, &lh, h, "i");
    V k = LLVMBuildAdd(B, LLVMBuildMul(B, lt.i, gen_ir_i64(c, h), ""), lh.i, "k");
    V cs = gen_ir_decode(c, wf, gen_ir_load_w(c, wf, c->w, k));
    V sn = gen_ir_decode(c, wf, gen_ir_load_w(c, wf, c->b, k));
    V j0 = LLVMBuildAdd(B, row, lh.i, "j0"), j1 = LLVMBuildAdd(B, j0, gen_ir_i64(c, h), "j1");
    V x0 = gen_ir_load_dec(c, xf, c->in[0], j0), x1 = gen_ir_load_dec(c, xf, c->in[0], j1);
    V a = gen_seq_mul_r(c, pf, md, xf, wf, x0, cs, j0, T_ROT_C);
    V bq = gen_seq_mul_r(c, pf, md, xf, wf, x1, sn, j0, T_ROT_S);
    gen_ir_store_enc(c, af, c->out, j0,
                  gen_num_round_sum(g, af, md, a, LLVMBuildFNeg(B, bq, ""),
                                    gen_seq_draw(c, md, j0, NR_EMU_TERM_OUT)));
    a = gen_seq_mul_r(c, pf, md, xf, wf, x1, cs, j1, T_ROT_C);
    bq = gen_seq_mul_r(c, pf, md, xf, wf, x0, sn, j1, T_ROT_S);
    gen_ir_store_enc(c, af, c->out, j1,
                  gen_num_round_sum(g, af, md, a, bq, gen_seq_draw(c, md, j1, NR_EMU_TERM_OUT)));
    gen_ir_loop_end(c, &lh);
    gen_ir_loop_end(c, &lt);
    gen_ir_loop_end(c, &lb);
}

/* [op-silu] y = round_A(round_N(silu(x))); [op-mul] y = round_A(a * b). */
static void emit_elementwise(gen_lctx *c, int li)
{
    gen_ctx *g = c->g;
    const nr_layer *L = &c->m->layers[li];
    const nr_format *xf = gen_ir_in_fmt(c, li, 0), *af = &L->prec.activations,
                    *nf = &L->prec.nonlinear;
    const nr_rounding md = L->prec.rounding;
    gen_loop l;
    gen_ir_loop_begin(c, &l, nr_shape_count(L->out_shape), "i");
    V x = gen_ir_load_dec(c, xf, c->in[0], l.i), y;
    if (L->op == NR_OP_MUL) {
        const nr_format *bf = gen_ir_in_fmt(c, li, 1);
        y = gen_num_round_prod(g, af, md, xf, bf, x, gen_ir_load_dec(c, bf, c->in[1], l.i),
                               gen_seq_draw(c, md, l.i, NR_EMU_TERM_OUT));
    } else {
        V r = gen_seq_nl(c, L, NR_NL_SILU, x, l.i);
        y = nr_format_equal(nf, af) ? gen_ir_encode_val(c, af, r)
                                    : gen_ir_round_val(c, af, md, r, l.i, NR_EMU_TERM_OUT);
    }
    gen_ir_store_enc(c, af, c->out, l.i, y);
    gen_ir_loop_end(c, &l);
}

/* [op-causal] row t of each head: keys 0..t one softmax line, the rest +0. */
static void emit_causal(gen_lctx *c, int li)
{
    LLVMBuilderRef B = c->g->b;
    const nr_layer *L = &c->m->layers[li];
    const nr_format *af = &L->prec.activations;
    const uint64_t T = (uint64_t)L->out_shape[1];
    gen_loop lb, lt, lj;
    gen_ir_loop_begin(c, &lb, (uint64_t)L->out_shape[0], "b");
    gen_ir_loop_begin(c, &lt, T, "t");
    V base = LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lb.i, gen_ir_i64(c, T), ""), lt.i, ""),
                          gen_ir_i64(c, T), "base");
    V n = LLVMBuildAdd(B, lt.i, gen_ir_i64(c, 1), "n");
    gen_seq_softmax_line(c, li, base, 1, n);
    gen_ir_loop_range(c, &lj, n, gen_ir_i64(c, T), "j"); /* masked keys: exactly +0, no event */
    gen_ir_store_enc(c, af, c->out, LLVMBuildAdd(B, base, lj.i, ""),
                  gen_ir_encode_val(c, af, LLVMConstReal(c->g->f64, 0.0)));
    gen_ir_loop_end(c, &lj);
    gen_ir_loop_end(c, &lt);
    gen_ir_loop_end(c, &lb);
}

int gen_seq_lm_emit(gen_lctx *c, int li, nr_err *err)
{
    (void)err;
    switch (c->m->layers[li].op) {
    case NR_OP_EMBEDDING: emit_embedding(c, li); break;
    case NR_OP_RMSNORM: emit_rmsnorm(c, li); break;
    case NR_OP_ROPE: emit_rope(c, li); break;
    case NR_OP_CAUSAL_SOFTMAX: emit_causal(c, li); break;
    default: emit_elementwise(c, li); break;
    }
    return 0;
}
