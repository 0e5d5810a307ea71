/* emit_layer.c -- the model module: one function per spec layer (named
 * `layer.<name>`, taking the per-sample arena), the per-sample driver
 * `numrep_sample` and the C entry points of model_gen.h.  The arithmetic of
 * each op is emit_mac.c's or emit_ops.c's; the IR helpers they share are
 * here. */
#include "plan.h"
#include "emulator.h"
#include "target.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

/* ---------------------------------------------------------------- helpers */

V gen_i64(gen_lctx *c, uint64_t v) { return LLVMConstInt(c->g->i64, v, 0); }

V gen_alloca(gen_lctx *c, T t, const char *name)
{
    return LLVMBuildAlloca(c->ab, t, name);
}

void gen_loop_begin(gen_lctx *c, gen_loop *l, uint64_t n, const char *name)
{
    gen_ctx *g = c->g;
    char nm[64];
    l->var = gen_alloca(c, g->i64, name);
    LLVMBuildStore(g->b, gen_i64(c, 0), l->var);
    snprintf(nm, sizeof nm, "%s.head", name);
    l->head = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    snprintf(nm, sizeof nm, "%s.body", name);
    l->body = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    snprintf(nm, sizeof nm, "%s.exit", name);
    l->exit = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->head);
    l->i = LLVMBuildLoad2(g->b, g->i64, l->var, name);
    V more = LLVMBuildICmp(g->b, LLVMIntULT, l->i, gen_i64(c, n), "");
    LLVMBuildCondBr(g->b, more, l->body, l->exit);
    LLVMPositionBuilderAtEnd(g->b, l->body);
}

void gen_loop_range(gen_lctx *c, gen_loop *l, V from, V to, const char *name)
{
    gen_ctx *g = c->g;
    char nm[64];
    l->var = gen_alloca(c, g->i64, name);
    LLVMBuildStore(g->b, from, l->var);
    snprintf(nm, sizeof nm, "%s.head", name);
    l->head = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    snprintf(nm, sizeof nm, "%s.body", name);
    l->body = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    snprintf(nm, sizeof nm, "%s.exit", name);
    l->exit = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->head);
    l->i = LLVMBuildLoad2(g->b, g->i64, l->var, name);
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, l->i, to, ""), l->body, l->exit);
    LLVMPositionBuilderAtEnd(g->b, l->body);
}

void gen_loop_end(gen_lctx *c, gen_loop *l)
{
    gen_ctx *g = c->g;
    LLVMBuildStore(g->b, LLVMBuildAdd(g->b, l->i, gen_i64(c, 1), ""), l->var);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}

static V elem_ptr(gen_lctx *c, V base, uint64_t off, T et, V i)
{
    gen_ctx *g = c->g;
    V o = gen_i64(c, off);
    V p = LLVMBuildGEP2(g->b, g->i8, base, &o, 1, "");
    return LLVMBuildGEP2(g->b, et, p, &i, 1, "");
}

V gen_load_enc(gen_lctx *c, const nr_format *f, uint64_t off, V i)
{
    gen_ctx *g = c->g;
    T et = gen_emit_container_type(g, f);
    V ld = LLVMBuildLoad2(g->b, et, elem_ptr(c, c->arena, off, et, i), "");
    LLVMSetAlignment(ld, (unsigned)f->container);
    return f->container == 8 ? ld : LLVMBuildZExt(g->b, ld, g->i64, "");
}

void gen_store_enc(gen_lctx *c, const nr_format *f, uint64_t off, V i, V bits)
{
    gen_ctx *g = c->g;
    T et = gen_emit_container_type(g, f);
    V v = f->container == 8 ? bits : LLVMBuildTrunc(g->b, bits, et, "");
    V st = LLVMBuildStore(g->b, v, elem_ptr(c, c->arena, off, et, i));
    LLVMSetAlignment(st, (unsigned)f->container);
}

static void mark_invariant(gen_lctx *c, V ld)
{
    LLVMSetMetadata(ld, LLVMGetMDKindIDInContext(c->g->ctx, "invariant.load", 14),
                    LLVMMDNodeInContext(c->g->ctx, NULL, 0));
}

/* Encoding i of a bit-packed tensor at blob offset off (plan.h): its
 * width bits start at bit b = i*width of the tensor, LSB first, i.e. at
 * bit b&7 of the little-endian integer that starts at byte b>>3 (every
 * numrep target is little-endian, target.c).  One load of nb bytes with
 * 8*nb >= 7 + width covers them: (ld >> (b&7)) & (2^width - 1).  The load
 * ends at most 7 bytes past the tensor's last byte (nb <= 8; nb = 9 only
 * for width >= 58, when the value itself spans the first 8 bytes), so it
 * stays inside the blob: later tensors or its GEN_DENSE_PAD zero bytes.
 * Align 1: where unaligned access is cheap the load is rounded up to 2, 4
 * or 8 bytes (one instruction); on ARMv6-M, which has none, it stays at the
 * fewest bytes and LLVM assembles it from byte loads. */
static V load_bits(gen_lctx *c, const nr_format *f, uint64_t off, V i)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const unsigned width = (unsigned)f->width;
    unsigned nb = (width + 7 + 7) / 8;
    if (c->unaligned_ok && nb <= 8)
        nb = nb <= 1 ? 1 : nb <= 2 ? 2 : nb <= 4 ? 4 : 8;
    T it = LLVMIntTypeInContext(g->ctx, 8 * nb);
    V bit = LLVMBuildMul(B, i, gen_i64(c, width), "wbit");
    V byte = LLVMBuildAdd(B, LLVMBuildLShr(B, bit, gen_i64(c, 3), ""), gen_i64(c, off), "");
    V sh = LLVMBuildAnd(B, bit, gen_i64(c, 7), "");
    V ld = LLVMBuildLoad2(B, it, LLVMBuildGEP2(B, g->i8, c->weights, &byte, 1, ""), "");
    LLVMSetAlignment(ld, 1);
    mark_invariant(c, ld);
    sh = nb < 8 ? LLVMBuildTrunc(B, sh, it, "") : nb > 8 ? LLVMBuildZExt(B, sh, it, "") : sh;
    V v = LLVMBuildAnd(B, LLVMBuildLShr(B, ld, sh, ""), LLVMConstInt(it, (1ull << width) - 1, 0), "");
    return nb < 8 ? LLVMBuildZExt(B, v, g->i64, "") : nb > 8 ? LLVMBuildTrunc(B, v, g->i64, "") : v;
}

V gen_load_w(gen_lctx *c, const nr_format *f, uint64_t off, V i)
{
    gen_ctx *g = c->g;
    if (gen_plan_bitpacked(c->p, f))
        return load_bits(c, f, off, i);
    T et = gen_emit_container_type(g, f);
    V ld = LLVMBuildLoad2(g->b, et, elem_ptr(c, c->weights, off, et, i), "");
    LLVMSetAlignment(ld, (unsigned)f->container); /* dense: naturally aligned too (plan.c) */
    mark_invariant(c, ld);
    return f->container == 8 ? ld : LLVMBuildZExt(g->b, ld, g->i64, "");
}

/* Is f exactly IEEE binary32 (e8m23, bias 127, subnormals, inf/NaN)? */
static int is_ieee32(const nr_format *f)
{
    return f->kind == NR_FLOAT && f->exp_bits == 8 && f->man_bits == 23 && f->bias == 127 &&
           f->subnormals && f->specials == NR_SPECIALS_IEEE;
}

V gen_decode(gen_lctx *c, const nr_format *f, V bits)
{
    gen_ctx *g = c->g;
    /* fp32 (and bf16, its top half): the hardware conversion is exact, and
     * NaN encodings in the arena and the blob are the canonical ones (made
     * by rounding), which float->double turns into nr_decode's NaN */
    if (is_ieee32(f) || (f->kind == NR_FLOAT && f->exp_bits == 8 && f->man_bits == 7 &&
                         f->bias == 127 && f->subnormals && f->specials == NR_SPECIALS_IEEE)) {
        V b32 = LLVMBuildTrunc(g->b, bits, g->i32, "");
        if (f->man_bits == 7)
            b32 = LLVMBuildShl(g->b, b32, LLVMConstInt(g->i32, 16, 0), "");
        V fl = LLVMBuildBitCast(g->b, b32, LLVMFloatTypeInContext(g->ctx), "");
        return LLVMBuildFPExt(g->b, fl, g->f64, "");
    }
    return gen_num_decode(g, f, bits);
}

V gen_load_dec(gen_lctx *c, const nr_format *f, uint64_t off, V i)
{
    return gen_decode(c, f, gen_load_enc(c, f, off, i));
}

V gen_sr(gen_lctx *c, nr_rounding mode, uint32_t layer, V elem, V term)
{
    gen_ctx *g = c->g;
    if (mode != NR_RND_SR)
        return LLVMConstInt(g->i32, 0, 0);
    return gen_num_sr_bits(g, gen_i64(c, c->m->seed), LLVMConstInt(g->i32, layer, 0), elem, term);
}

V gen_round_val(gen_lctx *c, const nr_format *f, nr_rounding mode, V v, uint32_t layer,
                V elem, uint32_t term)
{
    gen_exact x;
    gen_num_exact_f64(c->g, v, &x);
    V sr = gen_sr(c, mode, layer, elem, LLVMConstInt(c->g->i32, term, 0));
    return gen_num_round(c->g, f, mode, &x, sr);
}

V gen_encode_val(gen_lctx *c, const nr_format *f, V v)
{
    gen_ctx *g = c->g;
    if (is_ieee32(f)) { /* exact conversion; a NaN becomes the canonical one */
        V b = LLVMBuildBitCast(g->b, LLVMBuildFPTrunc(g->b, v, LLVMFloatTypeInContext(g->ctx), ""),
                               g->i32, "");
        V nan = LLVMBuildFCmp(g->b, LLVMRealUNO, v, v, "");
        b = LLVMBuildSelect(g->b, nan, LLVMConstInt(g->i32, 0x7fc00000u, 0), b, "");
        return LLVMBuildZExt(g->b, b, g->i64, "");
    }
    if (f->kind == NR_FLOAT && f->man_bits < 52 && f->emin - f->man_bits >= -1022 &&
        f->emax <= 1023) { /* every value of f is a normal double or +-0: move the fields */
        LLVMBuilderRef B = g->b;
        const int Y = f->man_bits;
        V bits = LLVMBuildBitCast(B, v, g->i64, "");
        V av = LLVMBuildAnd(B, bits, gen_i64(c, 0x7fffffffffffffffull), "");
        V ed = LLVMBuildLShr(B, av, gen_i64(c, 52), "");
        V fr = LLVMBuildAnd(B, av, gen_i64(c, (1ull << 52) - 1), "");
        /* normal: exponent rebiased, fraction's top Y bits */
        V mag = LLVMBuildOr(B, LLVMBuildShl(B, LLVMBuildAdd(B, ed, gen_i64(c, (uint64_t)(int64_t)(f->bias - 1023)), ""),
                                            gen_i64(c, (uint64_t)Y), ""),
                            LLVMBuildLShr(B, fr, gen_i64(c, (uint64_t)(52 - Y)), ""), "");
        uint64_t lo;
        double mn = ldexp(1.0, f->emin);
        memcpy(&lo, &mn, sizeof lo);
        V small = LLVMBuildICmp(B, LLVMIntULT, av, gen_i64(c, lo), "");
        V sub = gen_i64(c, 0);
        if (f->subnormals) { /* significand >> (52 - Y + emin - E), at most 52 for values of f */
            V n = LLVMBuildSub(B, gen_i64(c, (uint64_t)(int64_t)(52 - Y + f->emin + 1023)), ed, "");
            n = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntULT, n, gen_i64(c, 64), ""), n, gen_i64(c, 63), "");
            sub = LLVMBuildLShr(B, LLVMBuildOr(B, fr, gen_i64(c, 1ull << 52), ""), n, "");
            sub = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, av, gen_i64(c, 0), ""), gen_i64(c, 0), sub, "");
        }
        mag = LLVMBuildSelect(B, small, sub, mag, "");
        V neg = LLVMBuildICmp(B, LLVMIntSLT, bits, gen_i64(c, 0), "");
        if (!f->has_negzero) /* a -0 is +0 there */
            neg = LLVMBuildAnd(B, neg, LLVMBuildICmp(B, LLVMIntNE, mag, gen_i64(c, 0), ""), "");
        V e = LLVMBuildOr(B, mag, LLVMBuildSelect(B, neg, gen_i64(c, f->sign_mask), gen_i64(c, 0), ""), "");
        V special = LLVMBuildICmp(B, LLVMIntEQ, ed, gen_i64(c, 0x7ff), "");
        V isnan = LLVMBuildFCmp(B, LLVMRealUNO, v, v, "");
        V inf = f->has_inf ? LLVMBuildOr(B, gen_i64(c, f->inf_bits),
                                         LLVMBuildSelect(B, neg, gen_i64(c, f->sign_mask), gen_i64(c, 0), ""), "")
                           : e;
        e = LLVMBuildSelect(B, special, LLVMBuildSelect(B, isnan, gen_i64(c, f->nan_bits), inf, ""), e, "");
        return e;
    }
    /* v is a value of f: every mode gives its own encoding */
    gen_exact x;
    gen_num_exact_f64(g, v, &x);
    return gen_num_round(g, f, NR_RND_RNE, &x, LLVMConstInt(g->i32, 0, 0));
}

void gen_store_out(gen_lctx *c, int li, uint64_t off, V acc, V elem)
{
    const nr_layer *L = &c->m->layers[li];
    const nr_format *af = &L->prec.activations, *sf = &L->prec.accumulator;
    V e;
    if (nr_format_equal(sf, af) || (is_ieee32(af) && nr_format_fits_f32(sf)))
        e = gen_encode_val(c, af, acc); /* every S value is an A value */
    else
        e = gen_round_val(c, af, L->prec.rounding, acc, (uint32_t)li, elem, NR_EMU_TERM_OUT);
    gen_store_enc(c, af, off, elem, e);
}

V gen_rt_fn(gen_lctx *c, const char *name, T fty)
{
    V fn = LLVMGetNamedFunction(c->g->mod, name);
    if (!fn)
        fn = LLVMAddFunction(c->g->mod, name, fty);
    return fn;
}

uint64_t gen_in_off(const gen_lctx *c, int li, int i)
{
    int src = c->m->layers[li].inputs[i];
    return src < 0 ? c->p->in_off : c->p->ly[src].out_off;
}

const nr_format *gen_in_fmt(const gen_lctx *c, int li, int i)
{
    int src = c->m->layers[li].inputs[i];
    return src < 0 ? &c->m->in_format : &c->m->layers[src].prec.activations;
}

/* ---------------------------------------------------------------- functions */

/* Start a function: an entry block for allocas that falls through to the
 * body (the branch is added by fn_finish). */
static void fn_start(gen_lctx *c, const char *name, T fty, int internal)
{
    gen_ctx *g = c->g;
    c->fn = LLVMAddFunction(g->mod, name, fty);
    if (internal)
        LLVMSetLinkage(c->fn, LLVMInternalLinkage);
    c->entry = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "entry");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "start");
    LLVMPositionBuilderAtEnd(c->ab, c->entry);
    LLVMPositionBuilderAtEnd(g->b, body);
}

static void fn_finish(gen_lctx *c)
{
    LLVMBuildBr(c->ab, LLVMGetNextBasicBlock(c->entry));
}

/* int numrep_xxx(void) style constant getters. */
static void const_fn(gen_lctx *c, const char *name, uint64_t v)
{
    gen_ctx *g = c->g;
    fn_start(c, name, LLVMFunctionType(g->i64, NULL, 0, 0), 0);
    LLVMBuildRet(g->b, gen_i64(c, v));
    fn_finish(c);
}

static void shape_fn(gen_lctx *c, const char *name, const int sh[3])
{
    gen_ctx *g = c->g;
    T args[1] = {c->ptr};
    fn_start(c, name, LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), args, 1, 0), 0);
    V p = LLVMGetParam(c->fn, 0);
    for (int i = 0; i < 3; i++) {
        V idx = gen_i64(c, (uint64_t)i);
        LLVMBuildStore(g->b, LLVMConstInt(g->i32, (uint64_t)sh[i], 0),
                       LLVMBuildGEP2(g->b, g->i32, p, &idx, 1, ""));
    }
    LLVMBuildRetVoid(g->b);
    fn_finish(c);
}

static int emit_layer_fn(gen_lctx *c, int li, V *out, nr_err *err)
{
    gen_ctx *g = c->g;
    const nr_layer *L = &c->m->layers[li];
    char name[NR_NAME_MAX + 8];
    snprintf(name, sizeof name, "layer.%s", L->name);
    T args[1] = {c->ptr};
    fn_start(c, name, LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), args, 1, 0), 1);
    /* each layer stays a function of its own, so the IR reads like the spec */
    LLVMAddAttributeAtIndex(c->fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(g->ctx, LLVMGetEnumAttributeKindForName("noinline", 8), 0));
    c->arena = LLVMGetParam(c->fn, 0);
    LLVMSetValueName2(c->arena, "arena", 5);
    int rc = (L->op == NR_OP_CONV || L->op == NR_OP_DENSE || L->op == NR_OP_BATCHNORM)
                 ? gen_emit_mac(c, li, err)
                 : gen_emit_ops(c, li, err);
    if (rc)
        return rc;
    LLVMBuildRetVoid(g->b);
    fn_finish(c);
    *out = c->fn;
    return 0;
}

/* numrep_sample(in, out, arena): [net-1] round the input, run the layers,
 * [net-11] the output values as float32 (fptrunc: round to nearest even). */
static void emit_sample(gen_lctx *c, V *layer_fns)
{
    gen_ctx *g = c->g;
    const nr_model *m = c->m;
    T vt = LLVMVoidTypeInContext(g->ctx);
    T args[3] = {c->ptr, c->ptr, c->ptr};
    fn_start(c, "numrep_sample", LLVMFunctionType(vt, args, 3, 0), 0);
    V in = LLVMGetParam(c->fn, 0), out = LLVMGetParam(c->fn, 1);
    c->arena = LLVMGetParam(c->fn, 2);
    LLVMSetValueName2(in, "in", 2);
    LLVMSetValueName2(out, "out", 3);
    LLVMSetValueName2(c->arena, "arena", 5);
    T f32 = LLVMFloatTypeInContext(g->ctx);
    gen_loop l;
    gen_loop_begin(c, &l, c->p->in_count, "in");
    V x = LLVMBuildLoad2(g->b, f32, LLVMBuildGEP2(g->b, f32, in, &l.i, 1, ""), "x");
    V xd = LLVMBuildFPExt(g->b, x, g->f64, "");
    V r = gen_round_val(c, &m->in_format, m->layers[0].prec.rounding, xd, NR_EMU_LAYER_INPUT, l.i,
                        NR_EMU_TERM_OUT);
    gen_store_enc(c, &m->in_format, c->p->in_off, l.i, r);
    gen_loop_end(c, &l);
    T lty = LLVMFunctionType(vt, args, 1, 0);
    for (int i = 0; i < m->nlayers; i++)
        LLVMBuildCall2(g->b, lty, layer_fns[i], &c->arena, 1, "");
    const nr_format *of = &m->layers[m->output].prec.activations;
    gen_loop_begin(c, &l, c->p->out_count, "out");
    V v = gen_load_dec(c, of, c->p->ly[m->output].out_off, l.i);
    LLVMBuildStore(g->b, LLVMBuildFPTrunc(g->b, v, f32, ""),
                   LLVMBuildGEP2(g->b, f32, out, &l.i, 1, ""));
    gen_loop_end(c, &l);
    LLVMBuildRetVoid(g->b);
    fn_finish(c);
}

/* numrep_model_run_arena: samples one after another in the caller's arena;
 * numrep_model_run: across the runtime's pool (nr_rt_run, @numrep_rt). */
static void emit_entry_points(gen_lctx *c, V sample)
{
    gen_ctx *g = c->g;
    const nr_model *m = c->m;
    T vt = LLVMVoidTypeInContext(g->ctx);
    T sargs[3] = {c->ptr, c->ptr, c->ptr};
    T sty = LLVMFunctionType(vt, sargs, 3, 0);
    uint64_t nin = c->p->in_count, nout = c->p->out_count;

    T a4[4] = {c->ptr, c->ptr, g->i32, c->ptr};
    fn_start(c, "numrep_model_run_arena", LLVMFunctionType(g->i32, a4, 4, 0), 0);
    V in = LLVMGetParam(c->fn, 0), out = LLVMGetParam(c->fn, 1), n = LLVMGetParam(c->fn, 2),
      arena = LLVMGetParam(c->fn, 3);
    V cnt = gen_alloca(c, g->i64, "s");
    LLVMBuildStore(g->b, gen_i64(c, 0), cnt);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "head");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "done");
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, head);
    V s = LLVMBuildLoad2(g->b, g->i64, cnt, "s");
    V n64 = LLVMBuildSExt(g->b, n, g->i64, "");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, s, n64, ""), body, done);
    LLVMPositionBuilderAtEnd(g->b, body);
    T f32 = LLVMFloatTypeInContext(g->ctx);
    V io = LLVMBuildMul(g->b, s, gen_i64(c, nin), ""), oo = LLVMBuildMul(g->b, s, gen_i64(c, nout), "");
    V cargs[3] = {LLVMBuildGEP2(g->b, f32, in, &io, 1, ""), LLVMBuildGEP2(g->b, f32, out, &oo, 1, ""),
                  arena};
    LLVMBuildCall2(g->b, sty, sample, cargs, 3, "");
    LLVMBuildStore(g->b, LLVMBuildAdd(g->b, s, gen_i64(c, 1), ""), cnt);
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, done);
    LLVMBuildRet(g->b, LLVMConstInt(g->i32, 0, 0));
    fn_finish(c);

    /* int nr_rt_run(nr_rt *, fn, in, out, n, in_size, out_size) */
    T rargs[7] = {c->ptr, c->ptr, c->ptr, c->ptr, g->i32, g->i64, g->i64};
    T rty = LLVMFunctionType(g->i32, rargs, 7, 0);
    V rt_run = gen_rt_fn(c, "nr_rt_run", rty);
    V rtg = LLVMGetNamedGlobal(g->mod, "numrep_rt");
    T a3[3] = {c->ptr, c->ptr, g->i32};
    fn_start(c, "numrep_model_run", LLVMFunctionType(g->i32, a3, 3, 0), 0);
    V rt = LLVMBuildLoad2(g->b, c->ptr, rtg, "rt");
    V args[7] = {rt, sample, LLVMGetParam(c->fn, 0), LLVMGetParam(c->fn, 1), LLVMGetParam(c->fn, 2),
                 gen_i64(c, nin), gen_i64(c, nout)};
    LLVMBuildRet(g->b, LLVMBuildCall2(g->b, rty, rt_run, args, 7, ""));
    fn_finish(c);

    const_fn(c, "numrep_model_input_size", nin);
    const_fn(c, "numrep_model_output_size", nout);
    const_fn(c, "numrep_model_arena_size", c->p->arena_size);
    shape_fn(c, "numrep_model_input_shape", m->in_shape);
    shape_fn(c, "numrep_model_output_shape", m->layers[m->output].out_shape);
}

static int emit_module(const nr_model *m, const gen_plan *p, int unaligned_ok, gen_ctx *g,
                       nr_err *err)
{
    gen_lctx c = {.g = g, .m = m, .p = p, .unaligned_ok = unaligned_ok};
    c.ptr = LLVMPointerTypeInContext(g->ctx, 0);
    c.ab = LLVMCreateBuilderInContext(g->ctx);
    /* the packed weights: an external byte array (not LLVM constants) */
    c.weights = LLVMAddGlobal(g->mod, LLVMArrayType(g->i8, 0), "numrep_weights");
    LLVMSetAlignment(c.weights, 64);
    LLVMSetGlobalConstant(c.weights, 1);
    LLVMValueRef rtg = LLVMAddGlobal(g->mod, c.ptr, "numrep_rt");
    LLVMSetAlignment(rtg, 8);
    V *fns = calloc((size_t)m->nlayers, sizeof *fns);
    if (!fns) {
        LLVMDisposeBuilder(c.ab);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "generator", "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < m->nlayers && !rc; i++)
        rc = emit_layer_fn(&c, i, &fns[i], err);
    if (!rc) {
        emit_sample(&c, fns);
        emit_entry_points(&c, c.fn);
    }
    free(fns);
    LLVMDisposeBuilder(c.ab);
    return rc;
}

int gen_model_emit(const nr_model *m, const gen_model_opts *o, gen_ctx **out, gen_weights *w,
                   nr_err *err)
{
    *out = NULL;
    /* bare metal ("-none-" triples, or portable for tests) links no libm and
     * keeps the compact scalar MAC code: fast rounding uses integer
     * conversions instead of llvm.roundeven/floor/..., and no vector kernel */
    int bare = o && (o->portable || (o->triple && strstr(o->triple, "-none") != NULL));
    gen_plan p;
    int rc = gen_plan_build(m, o ? o->pack_dense : 0, !bare, &p, w, err);
    if (rc)
        return rc;
    gen_ctx *g = NULL;
    char name[NR_NAME_MAX + 16];
    snprintf(name, sizeof name, "numrep.%s", m->spec && m->spec->name[0] ? m->spec->name : "model");
    if ((rc = gen_emit_new(name, &g, err)))
        goto fail;
    g->no_libm = bare;
    /* the target's own AVX-512F (the JIT's: the host's), for rz adds */
    g->avx512f = !bare && gen_target_avx512f(o ? o->triple : NULL, o ? o->cpu : NULL,
                                             o ? o->features : NULL);
    /* ARMv6-M (Cortex-M0) has no unaligned loads */
    int unaligned_ok = !(o && o->triple && strstr(o->triple, "thumbv6m"));
    if ((rc = emit_module(m, &p, unaligned_ok, g, err)) || (rc = gen_emit_verify(g, err)))
        goto fail;
    if ((rc = gen_emit_optimize(g, o ? o->opt_level : 2, err)))
        goto fail;
    gen_plan_free(&p);
    *out = g;
    return 0;
fail:
    gen_emit_free(g);
    gen_plan_free(&p);
    gen_weights_free(w);
    return rc;
}
