/* ir_tools.c -- the IR toolbox of the layer emitters (plan.h): loops,
 * allocas, loading and storing encodings in the arena and the weight blob,
 * decoding, rounding and encoding values, the output store of [net-5],
 * runtime helper declarations, format tests.  A leaf: emit_layer.c (the
 * module driver) and the op emitters (emit_mac.c, emit_vmac.c, emit_ops.c,
 * the integer and scaled ones) call it; it calls only gen/ir and runtime
 * (tests/layout/deps.py checks it): what it needs from the plan (which
 * tensors are bit-packed, each input's format) is data plan.c stored on
 * the planned layer. */
#include "plan.h"
#include "emulator.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

/* ---------------------------------------------------------------- helpers */

V gen_ir_i64(gen_lctx *c, uint64_t v) { return LLVMConstInt(c->g->i64, v, 0); }

V gen_ir_alloca(gen_lctx *c, T t, const char *name)
{
    return LLVMBuildAlloca(c->ab, t, name);
}

void gen_ir_loop_begin(gen_lctx *c, gen_loop *l, uint64_t n, const char *name)
{
    gen_ctx *g = c->g;
    char nm[64];
    l->var = gen_ir_alloca(c, g->i64, name);
    LLVMBuildStore(g->b, gen_ir_i64(c, 0), l->var);
    snprintf(nm, sizeof nm, "%s.head", name);
    l->head = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    snprintf(nm, sizeof nm, "%s.body", name);
    l->body = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    snprintf(nm, sizeof nm, "%s.exit", name);
    l->exit = LLVMAppendBasicBlockInContext(g->ctx, c->fn, nm);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->head);
    l->i = LLVMBuildLoad2(g->b, g->i64, l->var, name);
    V more = LLVMBuildICmp(g->b, LLVMIntULT, l->i, gen_ir_i64(c, n), "");
    LLVMBuildCondBr(g->b, more, l->body, l->exit);
    LLVMPositionBuilderAtEnd(g->b, l->body);
}

void gen_ir_loop_range(gen_lctx *c, gen_loop *l, V from, V to, const char *name)
{
    gen_ctx *g = c->g;
    char nm[64];
    l->var = gen_ir_alloca(c, g->i64, name);
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

void gen_ir_loop_end(gen_lctx *c, gen_loop *l)
{
    gen_ctx *g = c->g;
    LLVMBuildStore(g->b, LLVMBuildAdd(g->b, l->i, gen_ir_i64(c, 1), ""), l->var);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}

V gen_ir_load_enc(gen_lctx *c, const nr_format *f, V buf, V i)
{
    gen_ctx *g = c->g;
    T et = gen_emit_container_type(g, f);
    V ld = LLVMBuildLoad2(g->b, et, LLVMBuildGEP2(g->b, et, buf, &i, 1, ""), "");
    LLVMSetAlignment(ld, (unsigned)f->container);
    return f->container == 8 ? ld : LLVMBuildZExt(g->b, ld, g->i64, "");
}

void gen_ir_store_enc(gen_lctx *c, const nr_format *f, V buf, V i, V bits)
{
    gen_ctx *g = c->g;
    T et = gen_emit_container_type(g, f);
    V v = f->container == 8 ? bits : LLVMBuildTrunc(g->b, bits, et, "");
    V st = LLVMBuildStore(g->b, v, LLVMBuildGEP2(g->b, et, buf, &i, 1, ""));
    LLVMSetAlignment(st, (unsigned)f->container);
}

static void mark_invariant(gen_lctx *c, V ld)
{
    LLVMSetMetadata(ld, LLVMGetMDKindIDInContext(c->g->ctx, "invariant.load", 14),
                    LLVMMDNodeInContext(c->g->ctx, NULL, 0));
}

/* Encoding i of the bit-packed tensor t (plan.h): its
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
static V load_bits(gen_lctx *c, const nr_format *f, V t, V i)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const unsigned width = (unsigned)f->width;
    unsigned nb = (width + 7 + 7) / 8;
    if (c->unaligned_ok && nb <= 8)
        nb = nb <= 1 ? 1 : nb <= 2 ? 2 : nb <= 4 ? 4 : 8;
    T it = LLVMIntTypeInContext(g->ctx, 8 * nb);
    V bit = LLVMBuildMul(B, i, gen_ir_i64(c, width), "wbit");
    V byte = LLVMBuildLShr(B, bit, gen_ir_i64(c, 3), "");
    V sh = LLVMBuildAnd(B, bit, gen_ir_i64(c, 7), "");
    V ld = LLVMBuildLoad2(B, it, LLVMBuildGEP2(B, g->i8, t, &byte, 1, ""), "");
    LLVMSetAlignment(ld, 1);
    mark_invariant(c, ld);
    sh = nb < 8 ? LLVMBuildTrunc(B, sh, it, "") : nb > 8 ? LLVMBuildZExt(B, sh, it, "") : sh;
    V v = LLVMBuildAnd(B, LLVMBuildLShr(B, ld, sh, ""), LLVMConstInt(it, (1ull << width) - 1, 0), "");
    return nb < 8 ? LLVMBuildZExt(B, v, g->i64, "") : nb > 8 ? LLVMBuildTrunc(B, v, g->i64, "") : v;
}

V gen_ir_load_w(gen_lctx *c, const nr_format *f, V t, V i)
{
    gen_ctx *g = c->g;
    if (c->wbits)
        return load_bits(c, f, t, i);
    T et = gen_emit_container_type(g, f);
    V ld = LLVMBuildLoad2(g->b, et, LLVMBuildGEP2(g->b, et, t, &i, 1, ""), "");
    LLVMSetAlignment(ld, (unsigned)f->container); /* dense: naturally aligned too (plan.c) */
    mark_invariant(c, ld);
    return f->container == 8 ? ld : LLVMBuildZExt(g->b, ld, g->i64, "");
}

/* Is f exactly IEEE binary32 (e8m23, bias 127, subnormals, inf/NaN)? */
int gen_ir_fmt_ieee32(const nr_format *f)
{
    return f->kind == NR_FLOAT && f->exp_bits == 8 && f->man_bits == 23 && f->bias == 127 &&
           f->subnormals && f->specials == NR_SPECIALS_IEEE;
}

V gen_ir_decode(gen_lctx *c, const nr_format *f, V bits)
{
    gen_ctx *g = c->g;
    /* fp32 (and bf16, its top half): the hardware conversion is exact, and
     * NaN encodings in the arena and the blob are the canonical ones (made
     * by rounding), which float->double turns into nr_decode's NaN */
    if (gen_ir_fmt_ieee32(f) || (f->kind == NR_FLOAT && f->exp_bits == 8 && f->man_bits == 7 &&
                         f->bias == 127 && f->subnormals && f->specials == NR_SPECIALS_IEEE)) {
        V b32 = LLVMBuildTrunc(g->b, bits, g->i32, "");
        if (f->man_bits == 7)
            b32 = LLVMBuildShl(g->b, b32, LLVMConstInt(g->i32, 16, 0), "");
        V fl = LLVMBuildBitCast(g->b, b32, LLVMFloatTypeInContext(g->ctx), "");
        return LLVMBuildFPExt(g->b, fl, g->f64, "");
    }
    if (f->kind == NR_FLOAT && f->exp_bits == 11 && f->man_bits == 52 && f->bias == 1023 &&
        f->subnormals && f->specials == NR_SPECIALS_IEEE) /* fp64 (scaled tensors' P*X) */
        return LLVMBuildBitCast(g->b, bits, g->f64, "");
    return gen_num_decode(g, f, bits);
}

V gen_ir_load_dec(gen_lctx *c, const nr_format *f, V buf, V i)
{
    return gen_ir_decode(c, f, gen_ir_load_enc(c, f, buf, i));
}

V gen_ir_sr(gen_lctx *c, nr_rounding mode, V elem, V term)
{
    gen_ctx *g = c->g;
    if (mode != NR_RND_SR)
        return LLVMConstInt(g->i32, 0, 0);
    return gen_num_sr_bits(g, gen_ir_i64(c, c->m->seed), c->layer, elem, term);
}

V gen_ir_round_val(gen_lctx *c, const nr_format *f, nr_rounding mode, V v, V elem, uint32_t term)
{
    /* rne into IEEE binary32 is the hardware double->float conversion
     * (subnormals, overflow to inf; gen_ir_encode_val makes NaN canonical) */
    if (mode == NR_RND_RNE && gen_ir_fmt_ieee32(f) && !f->saturate && !c->g->no_libm &&
        !c->g->int_narrow)
        return gen_ir_encode_val(c, f, v);
    gen_exact x;
    gen_num_exact_f64(c->g, v, &x);
    V sr = gen_ir_sr(c, mode, elem, LLVMConstInt(c->g->i32, term, 0));
    return gen_num_round(c->g, f, mode, &x, sr);
}

V gen_ir_encode_val(gen_lctx *c, const nr_format *f, V v)
{
    gen_ctx *g = c->g;
    if (gen_ir_fmt_ieee32(f)) { /* exact conversion; a NaN becomes the canonical one */
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
        V av = LLVMBuildAnd(B, bits, gen_ir_i64(c, 0x7fffffffffffffffull), "");
        V ed = LLVMBuildLShr(B, av, gen_ir_i64(c, 52), "");
        V fr = LLVMBuildAnd(B, av, gen_ir_i64(c, (1ull << 52) - 1), "");
        /* normal: exponent rebiased, fraction's top Y bits */
        V mag = LLVMBuildOr(B, LLVMBuildShl(B, LLVMBuildAdd(B, ed, gen_ir_i64(c, (uint64_t)(int64_t)(f->bias - 1023)), ""),
                                            gen_ir_i64(c, (uint64_t)Y), ""),
                            LLVMBuildLShr(B, fr, gen_ir_i64(c, (uint64_t)(52 - Y)), ""), "");
        uint64_t lo;
        double mn = ldexp(1.0, f->emin);
        memcpy(&lo, &mn, sizeof lo);
        V small = LLVMBuildICmp(B, LLVMIntULT, av, gen_ir_i64(c, lo), "");
        V sub = gen_ir_i64(c, 0);
        if (f->subnormals) { /* significand >> (52 - Y + emin - E), at most 52 for values of f */
            V n = LLVMBuildSub(B, gen_ir_i64(c, (uint64_t)(int64_t)(52 - Y + f->emin + 1023)), ed, "");
            n = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntULT, n, gen_ir_i64(c, 64), ""), n, gen_ir_i64(c, 63), "");
            sub = LLVMBuildLShr(B, LLVMBuildOr(B, fr, gen_ir_i64(c, 1ull << 52), ""), n, "");
            sub = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, av, gen_ir_i64(c, 0), ""), gen_ir_i64(c, 0), sub, "");
        }
        mag = LLVMBuildSelect(B, small, sub, mag, "");
        V neg = LLVMBuildICmp(B, LLVMIntSLT, bits, gen_ir_i64(c, 0), "");
        if (!f->has_negzero) /* a -0 is +0 there */
            neg = LLVMBuildAnd(B, neg, LLVMBuildICmp(B, LLVMIntNE, mag, gen_ir_i64(c, 0), ""), "");
        V e = LLVMBuildOr(B, mag, LLVMBuildSelect(B, neg, gen_ir_i64(c, f->sign_mask), gen_ir_i64(c, 0), ""), "");
        V special = LLVMBuildICmp(B, LLVMIntEQ, ed, gen_ir_i64(c, 0x7ff), "");
        V isnan = LLVMBuildFCmp(B, LLVMRealUNO, v, v, "");
        V inf = f->has_inf ? LLVMBuildOr(B, gen_ir_i64(c, f->inf_bits),
                                         LLVMBuildSelect(B, neg, gen_ir_i64(c, f->sign_mask), gen_ir_i64(c, 0), ""), "")
                           : e;
        e = LLVMBuildSelect(B, special, LLVMBuildSelect(B, isnan, gen_ir_i64(c, f->nan_bits), inf, ""), e, "");
        return e;
    }
    /* v is a value of f: every mode gives its own encoding */
    gen_exact x;
    gen_num_exact_f64(g, v, &x);
    return gen_num_round(g, f, NR_RND_RNE, &x, LLVMConstInt(g->i32, 0, 0));
}

void gen_ir_store_out(gen_lctx *c, int li, V acc, V elem)
{
    const nr_layer *L = &c->m->layers[li];
    const nr_format *af = &L->prec.activations, *sf = &L->prec.accumulator;
    V e;
    if (nr_format_equal(sf, af) || (gen_ir_fmt_ieee32(af) && nr_format_fits_f32(sf)))
        e = gen_ir_encode_val(c, af, acc); /* every S value is an A value */
    else
        e = gen_ir_round_val(c, af, L->prec.rounding, acc, elem, NR_EMU_TERM_OUT);
    gen_ir_store_enc(c, af, c->out, elem, e);
}

V gen_ir_rt_fn(gen_lctx *c, const char *name, T fty)
{
    V fn = LLVMGetNamedFunction(c->g->mod, name);
    if (!fn)
        fn = LLVMAddFunction(c->g->mod, name, fty);
    return fn;
}

const nr_format *gen_ir_in_fmt(const gen_lctx *c, int li, int i)
{
    return c->p->ly[li].in_fmt[i]; /* a scaled tensor: its exact doubles */
}

/* ---------------------------------------------------------------- formats */

int gen_ir_fmt_is(const nr_format *f, const char *name)
{
    nr_format p;
    nr_err e = {0};
    return nr_format_parse(name, &p, &e) == 0 && nr_format_equal(f, &p);
}

int gen_ir_mac_fast32(const nr_layer *L, const nr_format *xf)
{
    const nr_layer_prec *p = &L->prec;
    return p->rounding == NR_RND_RNE && gen_ir_fmt_is(&p->products, "fp32") &&
           gen_ir_fmt_is(&p->accumulator, "fp32") && nr_format_fits_f32(&p->weights) &&
           nr_format_fits_f32(xf);
}
