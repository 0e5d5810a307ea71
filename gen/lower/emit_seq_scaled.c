/* emit_seq_scaled.c -- scaled formats on the sequence ops' dot products
 * ([scl-seq] in docs/semantics.md) as IR, bit for bit with the emulator
 * (runtime/emu/emu_seq_scaled.c).  Each activation operand is copied into
 * scratch with its reduction axis outermost ([K, lines, 1], line = the
 * operand's line number of [scl-seq-groups]), so that emit_scaled.c's
 * activation quantization (blocks along C at each position) quantizes it
 * along the reduction axis; a scaled linear weight's element values,
 * scales and bias (rounded at load, [scl-dot-bias]) are constants of the
 * module, the model's wq/wscale; every output is emit_scaled_mac.c's dot
 * product along one line (gen_scaled_dot_line).  Stochastic rounding is
 * left to the emulator (gen_seq_scaled_check). */
#include "emit_scaled.h"
#include "emit_seq.h"
#include "emulator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

#define ALIGN8(x) (((x) + 7) & ~(uint64_t)7)

int gen_seq_scaled(const nr_layer *L)
{
    return (L->op == NR_OP_LINEAR || L->op == NR_OP_MATMUL) &&
           (nr_prec_is_scaled(&L->prec) || L->prec.operands_scaled.gran != NR_GRAN_NONE);
}

static const nr_scaled *ops_of(const nr_layer *L)
{
    return L->prec.operands_scaled.gran != NR_GRAN_NONE ? &L->prec.operands_scaled : NULL;
}

static const nr_scaled *wsc_of(const nr_layer *L)
{
    if (L->op == NR_OP_MATMUL)
        return ops_of(L);
    return L->prec.weights_scaled.gran != NR_GRAN_NONE ? &L->prec.weights_scaled : NULL;
}

/* Operand w (0, 1) stored [Bs, P, Q]: K, lines, reduced along the last axis. */
static void opnd_dims(const nr_layer *L, int w, uint64_t *K, uint64_t *lines, int *last)
{
    const int *sh = L->in_shape[w];
    *last = w == 0 ? L->op == NR_OP_LINEAR || !L->spec->trans_a : L->spec->trans_b;
    *K = (uint64_t)(*last ? sh[2] : sh[1]);
    *lines = (uint64_t)sh[0] * (uint64_t)(*last ? sh[1] : sh[2]);
}

/* The exact accumulator; an unscaled operand is sized for fp64 (larger
 * than needed: the exact sum is the same). */
static void ksize(const nr_layer *L, int *lsb, int *limbs)
{
    nr_format f64;
    nr_err e = {0};
    nr_format_parse("fp64", &f64, &e);
    const nr_scaled *ws = wsc_of(L), *xs = ops_of(L);
    gen_scaled_ksize(L, ws, xs, ws ? &ws->elem : &f64, xs ? &xs->elem : &f64, lsb, limbs);
}

static uint64_t kacc_bytes(const nr_layer *L)
{
    int lsb, limbs;
    ksize(L, &lsb, &limbs);
    return (8 + 2 * (uint64_t)limbs) * 8;
}

/* Scratch byte offset and layout of quantized operand w. */
static uint64_t opnd_off(const nr_layer *L, int w, gen_scaled_layout *lay)
{
    uint64_t off = kacc_bytes(L), K, lines;
    int last;
    for (int i = 0; i <= w; i++) {
        opnd_dims(L, i, &K, &lines, &last);
        const int sh[3] = {(int)K, (int)lines, 1};
        gen_scaled_act_layout(ops_of(L), sh, lay);
        if (i < w)
            off += ALIGN8(lay->bytes);
    }
    return off;
}

uint64_t gen_seq_scaled_scratch(const nr_layer *L)
{
    if (!ops_of(L))
        return kacc_bytes(L);
    gen_scaled_layout lay;
    int last_w = L->op == NR_OP_MATMUL;
    return opnd_off(L, last_w, &lay) + ALIGN8(lay.bytes);
}

int gen_seq_scaled_check(const nr_model *m, int li, nr_err *err)
{
    const nr_layer *L = &m->layers[li];
    const char *why = NULL;
    const nr_scaled *ws = wsc_of(L), *xs = ops_of(L);
    for (int k = 0; k < L->ninputs && xs; k++) {
        const nr_format *f = L->inputs[k] < 0 ? &m->in_format : &m->layers[L->inputs[k]].prec.activations;
        if (!nr_format_fits_f32(f))
            why = "a scaled operand whose producer's format is not within float";
    }
    if (L->prec.rounding == NR_RND_SR)
        why = "stochastic rounding with scaled sequence operands (emulator only)";
    else if ((ws && !nr_format_fits_f32(&ws->elem)) || (xs && !nr_format_fits_f32(&xs->elem)))
        why = "a scaled element format wider than float";
    else if (xs && xs->rule == NR_RULE_STATIC)
        why = "a static operand scale";
    if (!why) { /* part * (one scale) exact in double, as gen_scaled_check */
        const nr_format *sf = L->prec.mac == NR_MAC_BLOCK_FP32 ? gen_scaled_outer_fmt(L)
                                                                : &L->prec.accumulator;
        int bw = gen_scaled_scale_bits(ws), ba = gen_scaled_scale_bits(xs);
        if (sf->prec + (bw < ba ? bw : ba) > 53)
            why = "a partial-sum format this wide with two non-power-of-two scales";
    }
    return why ? nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name, "%s: %s; use the emulator",
                            nr_spec_op_name(L->op), why)
               : 0;
}

/* ---------------------------------------------------------------- emission */

/* A private constant global of n bytes. */
static V const_bytes(gen_lctx *c, int li, const char *what, const void *data, size_t n)
{
    gen_ctx *g = c->g;
    char name[96];
    snprintf(name, sizeof name, "numrep.seqscaled.%d.%s", li, what);
    V init = LLVMConstStringInContext(g->ctx, n ? (const char *)data : "", (unsigned)n, 1);
    V gv = LLVMAddGlobal(g->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetAlignment(gv, 8);
    return gv;
}

/* Operand w copied with its reduction axis outermost, then quantized. */
static V quantize_operand(gen_lctx *c, int li, int w)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    T f32 = LLVMFloatTypeInContext(g->ctx);
    gen_scaled_layout lay;
    uint64_t off = opnd_off(L, w, &lay), K, lines;
    int last;
    opnd_dims(L, w, &K, &lines, &last);
    const int *sh = L->in_shape[w];
    const uint64_t P = (uint64_t)sh[1], Q = (uint64_t)sh[2], other = last ? P : Q;
    V q = LLVMBuildGEP2(B, g->i8, c->scratch, (V[]){gen_ir_i64(c, off)}, 1, "q");
    V pbuf = LLVMBuildGEP2(B, g->i8, q, (V[]){gen_ir_i64(c, lay.p_off)}, 1, "");
    const nr_format *xf = gen_ir_in_fmt(c, li, w);
    gen_loop lb, li_, lk;
    gen_ir_loop_begin(c, &lb, (uint64_t)sh[0], "qb");
    gen_ir_loop_begin(c, &li_, other, "qi");
    V line = LLVMBuildAdd(B, LLVMBuildMul(B, lb.i, gen_ir_i64(c, other), ""), li_.i, "line");
    gen_ir_loop_begin(c, &lk, K, "qk");
    V src = last ? LLVMBuildAdd(B, LLVMBuildMul(B, line, gen_ir_i64(c, K), ""), lk.i, "")
                 : LLVMBuildAdd(B, LLVMBuildMul(B, lb.i, gen_ir_i64(c, P * Q), ""),
                                LLVMBuildAdd(B, LLVMBuildMul(B, lk.i, gen_ir_i64(c, Q), ""),
                                             li_.i, ""), "");
    V dst = LLVMBuildAdd(B, LLVMBuildMul(B, lk.i, gen_ir_i64(c, lines), ""), line, "");
    V v = LLVMBuildFPTrunc(B, gen_ir_load_dec(c, xf, c->in[w], src), f32, ""); /* exact: check */
    LLVMBuildStore(B, v, LLVMBuildGEP2(B, f32, pbuf, &dst, 1, ""));
    gen_ir_loop_end(c, &lk);
    gen_ir_loop_end(c, &li_);
    gen_ir_loop_end(c, &lb);
    const int qsh[3] = {(int)K, (int)lines, 1};
    gen_emit_scaled_quant(c, ops_of(L), L->prec.rounding, q, qsh);
    return q;
}

/* Line `line` of quantized operand w (at q), or the plain operand's line
 * starting at `first` with `stride`. */
static gen_scaled_opnd operand(gen_lctx *c, int li, int w, V q, V line, V first, uint64_t stride)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const nr_scaled *s = ops_of(L);
    uint64_t K, lines;
    int last;
    opnd_dims(L, w, &K, &lines, &last);
    if (!s)
        return (gen_scaled_opnd){.ef = gen_ir_in_fmt(c, li, w), .p = c->in[w], .first = first,
                                 .stride = stride, .block = K};
    gen_scaled_layout lay;
    const int qsh[3] = {(int)K, (int)lines, 1};
    gen_scaled_act_layout(s, qsh, &lay);
    uint64_t blk = s->gran == NR_GRAN_BLOCK ? (uint64_t)s->block : K;
    uint64_t nb = s->gran == NR_GRAN_BLOCK ? (K + blk - 1) / blk : 0;
    V xb = LLVMBuildGEP2(B, g->i8, q, (V[]){gen_ir_i64(c, lay.x_off)}, 1, "");
    V sc = LLVMBuildGEP2(B, g->f64, xb, (V[]){LLVMBuildMul(B, line, gen_ir_i64(c, nb), "")}, 1, "");
    return (gen_scaled_opnd){.s = s, .ef = &s->elem,
                             .p = LLVMBuildGEP2(B, g->i8, q, (V[]){gen_ir_i64(c, lay.p_off)}, 1, ""),
                             .first = line, .stride = lines, .sc = sc, .block = blk};
}

/* A linear's scaled weight as module constants: P floats [N, K], scales,
 * the bias rounded once at load to the outer format ([scl-dot-bias]). */
static int weight_consts(gen_lctx *c, int li, V *wq, V *wsc, V *bias, nr_err *err)
{
    const nr_layer *L = &c->m->layers[li];
    float *f = malloc((L->nw ? L->nw : 1) * sizeof *f);
    double *b = malloc((L->nb ? L->nb : 1) * sizeof *b);
    if (!f || !b) {
        free(f), free(b);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
    }
    for (size_t i = 0; i < L->nw; i++)
        f[i] = (float)L->wq[i]; /* exact: gen_seq_scaled_check */
    const nr_format *of = gen_scaled_outer_fmt(L);
    for (size_t i = 0; L->b && i < L->nb; i++) /* rounding mode not sr: check */
        b[i] = nr_decode(of, nr_encode(of, L->prec.rounding, L->b[i], 0, NULL));
    *wq = const_bytes(c, li, "wq", f, L->nw * sizeof *f);
    *wsc = const_bytes(c, li, "wscale", L->wscale, L->nwscale * sizeof *L->wscale);
    *bias = L->b ? const_bytes(c, li, "bias", b, L->nb * sizeof *b) : NULL;
    free(f), free(b);
    return 0;
}

int gen_emit_seq_scaled(gen_lctx *c, int li, nr_err *err)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    int rc = gen_seq_scaled_check(c->m, li, err);
    if (rc)
        return rc;
    const int lin = L->op == NR_OP_LINEAR;
    const int *a = L->in_shape[0], *bs = L->in_shape[1], *o = L->out_shape;
    const uint64_t Bn = (uint64_t)o[0], M = (uint64_t)o[1], N = (uint64_t)o[2];
    const int ta = !lin && L->spec->trans_a, tb = !lin && L->spec->trans_b;
    const uint64_t K = (uint64_t)(lin ? a[2] : ta ? a[1] : a[2]);
    const nr_scaled *xs = ops_of(L), *ws = lin ? wsc_of(L) : xs;
    V q0 = xs ? quantize_operand(c, li, 0) : NULL, q1 = xs && !lin ? quantize_operand(c, li, 1) : NULL;
    V wq = NULL, wsc = NULL, bias = NULL;
    if (lin && ws && (rc = weight_consts(c, li, &wq, &wsc, &bias, err)))
        return rc;
    gen_scaled_vinfo ops = {.ws = ws, .xs = xs};
    ops.wef = ws ? &ws->elem : lin ? &L->prec.weights : gen_ir_in_fmt(c, li, 1);
    ops.xef = xs ? &xs->elem : gen_ir_in_fmt(c, li, 0);
    int klsb, klimbs;
    ksize(L, &klsb, &klimbs);
    gen_scaled_dot *d = gen_scaled_dot_new(c, li, &ops, K, klsb, klimbs);
    if (!d)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
    gen_loop lb, lm, ln;
    gen_ir_loop_begin(c, &lb, Bn, "b");
    V ba = lin || (uint64_t)a[0] == Bn ? lb.i : gen_ir_i64(c, 0);
    V bb = !lin && (uint64_t)bs[0] == Bn ? lb.i : gen_ir_i64(c, 0);
    gen_ir_loop_begin(c, &lm, M, "m");
    V la = LLVMBuildAdd(B, LLVMBuildMul(B, ba, gen_ir_i64(c, M), ""), lm.i, "la");
    /* a's line: [Ba, M, K] rows, or [Ba, K, M] columns (transpose_a) */
    V fa = ta ? LLVMBuildAdd(B, LLVMBuildMul(B, ba, gen_ir_i64(c, K * M), ""), lm.i, "")
              : LLVMBuildMul(B, la, gen_ir_i64(c, K), "");
    gen_scaled_opnd oa = operand(c, li, 0, q0, la, fa, ta ? M : 1);
    gen_ir_loop_begin(c, &ln, N, "n");
    V n = ln.i;
    V elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lb.i, gen_ir_i64(c, M), ""), lm.i, ""),
                                          gen_ir_i64(c, N), ""), n, "elem");
    gen_scaled_opnd ow;
    V bv = NULL;
    if (lin && ws) { /* the model's wq/wscale; groups as nr_model_layer_wgroup */
        uint64_t per = ws->gran == NR_GRAN_BLOCK ? (K + (uint64_t)ws->block - 1) / (uint64_t)ws->block
                       : ws->gran == NR_GRAN_CHANNEL ? 1 : 0;
        V sc = LLVMBuildGEP2(B, g->f64, wsc, (V[]){LLVMBuildMul(B, n, gen_ir_i64(c, per), "")}, 1, "");
        ow = (gen_scaled_opnd){.s = ws, .ef = &ws->elem, .p = wq,
                               .first = LLVMBuildMul(B, n, gen_ir_i64(c, K), ""), .stride = 1, .sc = sc,
                               .block = ws->gran == NR_GRAN_BLOCK ? (uint64_t)ws->block : K};
        if (bias)
            bv = LLVMBuildLoad2(B, g->f64, LLVMBuildGEP2(B, g->f64, bias, &n, 1, ""), "");
    } else if (lin) { /* the blob's weights rounded to W, packed [F, out] (gen_seq_wpos) */
        ow = (gen_scaled_opnd){.ef = &L->prec.weights, .p = c->w, .first = n, .stride = N,
                               .block = K, .blob = 1};
        if (L->b)
            bv = gen_ir_decode(c, &L->prec.weights, gen_ir_load_w(c, &L->prec.weights, c->b, n));
    } else { /* b's line: [Bb, N, K] rows (transpose_b) or [Bb, K, N] columns */
        V lbn = LLVMBuildAdd(B, LLVMBuildMul(B, bb, gen_ir_i64(c, N), ""), n, "");
        V fb = tb ? LLVMBuildMul(B, lbn, gen_ir_i64(c, K), "")
                  : LLVMBuildAdd(B, LLVMBuildMul(B, bb, gen_ir_i64(c, K * N), ""), n, "");
        ow = operand(c, li, 1, q1, lbn, fb, tb ? 1 : N);
    }
    V acc = gen_scaled_dot_line(d, elem, bv, &ow, &oa);
    /* [op-linear] the result rounded to A (the fp32 carrier), term OUT */
    const nr_format *af = &L->prec.activations;
    gen_ir_store_enc(c, af, c->out, elem, gen_ir_round_val(c, af, L->prec.rounding, acc, elem, NR_EMU_TERM_OUT));
    gen_ir_loop_end(c, &ln);
    gen_ir_loop_end(c, &lm);
    gen_ir_loop_end(c, &lb);
    gen_scaled_dot_free(d);
    return 0;
}
