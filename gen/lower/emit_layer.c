/* emit_layer.c -- the model module: one function per distinct spec layer
 * (named `layer.<name>` after the first layer that has it, taking its
 * buffers as arguments: see emit_layer_shared), the per-sample driver
 * `numrep_sample` and the C entry points of model_gen.h.  The arithmetic of
 * each op is emit_mac.c's or emit_ops.c's; the IR helpers they share are
 * ir_tools.c's. */
#include "plan.h"
#include "emit_scaled.h"
#include "emulator.h"
#include "eval.h"
#include "target.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

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
    LLVMBuildRet(g->b, gen_ir_i64(c, v));
    fn_finish(c);
}

static void shape_fn(gen_lctx *c, const char *name, const int sh[3])
{
    gen_ctx *g = c->g;
    T args[1] = {c->ptr};
    fn_start(c, name, LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), args, 1, 0), 0);
    V p = LLVMGetParam(c->fn, 0);
    for (int i = 0; i < 3; i++) {
        V idx = gen_ir_i64(c, (uint64_t)i);
        LLVMBuildStore(g->b, LLVMConstInt(g->i32, (uint64_t)sh[i], 0),
                       LLVMBuildGEP2(g->b, g->i32, p, &idx, 1, ""));
    }
    LLVMBuildRetVoid(g->b);
    fn_finish(c);
}

/* ---------------------------------------------------------------- layers
 * A layer function's arguments, in this order: its output, its inputs and
 * its scratch (arena buffers), its weight and bias tensors (blob), the
 * vector conv kernel's bound on |x| when it has one (gen_vmac.xlim, which
 * comes from the weight values), and its layer index when it rounds
 * stochastically (the SR stream of its draws, [rnd-sr]).  Shapes, formats,
 * modes and every other constant are compiled into the body, so the
 * function is the same for layers that differ only in their data. */
typedef enum { ARG_OUT, ARG_IN, ARG_SCRATCH, ARG_W, ARG_B, ARG_XLIM, ARG_LAYER } arg_kind;
typedef struct layer_arg {
    arg_kind kind;
    int k;         /* ARG_IN: the input number; ARG_XLIM: its bits (32, 64) */
    uint64_t xlim; /* ARG_XLIM: the value                               */
} layer_arg;
enum { MAX_ARGS = 1 + (int)(sizeof ((gen_lctx *)0)->in / sizeof (V)) + 5 };
typedef struct layer_sig { int n; layer_arg a[MAX_ARGS]; } layer_sig;
_Static_assert(sizeof ((gen_lctx *)0)->in / sizeof (V) == sizeof ((nr_layer *)0)->inputs / sizeof (int),
               "gen_lctx.in holds every input of a layer");

static int is_mac(const nr_layer *L)
{
    return L->op == NR_OP_CONV || L->op == NR_OP_DENSE || L->op == NR_OP_BATCHNORM;
}

/* A MAC layer: the vector kernel when the plan chose it for this layer
 * (gen_plan_build, pl->vmac), else the scalar loops of emit_mac.c (integer
 * code on targets without double hardware).  Deciding here keeps
 * emit_mac.c and emit_vmac.c out of a cycle: the vector kernel calls the
 * scalar row code for its edges, never the other way round. */
static int emit_mac(gen_lctx *c, int li, nr_err *err)
{
    const gen_vmac *v = &c->p->ly[li].vmac;
    if (v->ok && !gen_emit_mac_int_applies(c, li))
        return gen_emit_vmac(c, li, v, err);
    return gen_emit_mac(c, li, err);
}

static void layer_args(const gen_lctx *c, int li, layer_sig *sig)
{
    const nr_layer *L = &c->m->layers[li];
    const gen_plan_layer *pl = &c->p->ly[li];
    layer_arg *a = sig->a;
    int n = 0;
    a[n++] = (layer_arg){ARG_OUT, 0, 0};
    for (int k = 0; k < L->ninputs; k++)
        a[n++] = (layer_arg){ARG_IN, k, 0};
    if (pl->scratch_size)
        a[n++] = (layer_arg){ARG_SCRATCH, 0, 0};
    if (nr_model_op_is_seq(L->op) && gen_seq_has_w(L)) { /* emit_seq.c */
        a[n++] = (layer_arg){ARG_W, 0, 0};
        if (pl->has_bias)
            a[n++] = (layer_arg){ARG_B, 0, 0};
    }
    if (is_mac(L)) {
        a[n++] = (layer_arg){ARG_W, 0, 0};
        if (pl->has_bias)
            a[n++] = (layer_arg){ARG_B, 0, 0};
        const gen_vmac *v = &pl->vmac; /* the plan's decision */
        if (v->ok && (v->pbound || v->sbound))
            a[n++] = (layer_arg){ARG_XLIM, v->f32 ? 32 : 64, v->xlim};
    }
    if (L->prec.rounding == NR_RND_SR)
        a[n++] = (layer_arg){ARG_LAYER, 0, 0};
    sig->n = n;
}

static void add_attr(gen_lctx *c, unsigned idx, const char *kind, uint64_t val)
{
    unsigned k = LLVMGetEnumAttributeKindForName(kind, strlen(kind));
    LLVMAddAttributeAtIndex(c->fn, idx, LLVMCreateEnumAttribute(c->g->ctx, k, val));
}

static T arg_type(const gen_lctx *c, const layer_arg *a)
{
    return a->kind == ARG_LAYER  ? c->g->i32
           : a->kind == ARG_XLIM ? gen_emit_int_type(c->g, a->k)
                                 : c->ptr;
}

/* Layer li's function named name, with the arguments sig, bound to c
 * (gen_lctx) while its body is emitted. */
static int emit_layer_fn(gen_lctx *c, int li, const layer_sig *sig, const char *name, nr_err *err)
{
    gen_ctx *g = c->g;
    const nr_layer *L = &c->m->layers[li];
    const layer_arg *a = sig->a;
    const int n = sig->n;
    T ty[MAX_ARGS];
    for (int i = 0; i < n; i++)
        ty[i] = arg_type(c, &a[i]);
    fn_start(c, name, LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), ty, (unsigned)n, 0), 1);
    /* each layer stays a function of its own, so the IR reads like the spec */
    add_attr(c, LLVMAttributeFunctionIndex, "noinline", 0);
    memset(c->in, 0, sizeof c->in);
    c->out = c->scratch = c->w = c->b = c->xlim = NULL;
    c->layer = LLVMConstInt(g->i32, (uint64_t)li, 0); /* used only by SR draws */
    c->wbits = c->p->ly[li].wbits;
    for (int i = 0; i < n; i++) {
        static const char *const names[] = {"out", "in", "scratch", "w", "b", "xlim", "layer"};
        V p = LLVMGetParam(c->fn, (unsigned)i);
        char nm[16];
        if (a[i].kind == ARG_IN && L->ninputs > 1)
            snprintf(nm, sizeof nm, "in%d", a[i].k);
        else
            snprintf(nm, sizeof nm, "%s", names[a[i].kind]);
        LLVMSetValueName2(p, nm, strlen(nm));
        switch (a[i].kind) {
        case ARG_OUT: c->out = p; break;
        case ARG_IN: c->in[a[i].k] = p; break;
        case ARG_SCRATCH: c->scratch = p; break;
        case ARG_W: c->w = p; break;
        case ARG_B: c->b = p; break;
        case ARG_XLIM: c->xlim = p; break;
        case ARG_LAYER: c->layer = p; break;
        }
        if (a[i].kind == ARG_XLIM || a[i].kind == ARG_LAYER)
            continue;
        /* the arena buffers of one layer are disjoint (plan.c: all live
         * while it runs), the blob is read-only */
        add_attr(c, (unsigned)i + 1, "noalias", 0);
        if (a[i].kind == ARG_W || a[i].kind == ARG_B)
            add_attr(c, (unsigned)i + 1, "align", gen_plan_w_align(c->p, &L->prec.weights));
    }
    const nr_scaled *os = gen_scaled_act(c->m, li);
    V base = c->out;
    if (os) { /* the body writes the fp32 carrier into the P region (emit_scaled.h) */
        gen_scaled_layout lay;
        gen_scaled_act_layout(os, L->out_shape, &lay);
        V off = gen_ir_i64(c, lay.p_off);
        c->out = LLVMBuildGEP2(g->b, g->i8, base, &off, 1, "out.p");
    }
    int rc = gen_scaled_mac(c->m, li) ? gen_emit_scaled_mac(c, li, err)
             : nr_model_op_is_seq(L->op)      ? gen_emit_seq(c, li, err)
             : is_mac(L)                ? emit_mac(c, li, err)
                                        : gen_emit_ops(c, li, err);
    if (rc)
        return rc;
    if (os) /* [scl-dot-act] the output quantized in place */
        gen_emit_scaled_quant(c, os, L->prec.rounding, base, L->out_shape);
    LLVMBuildRetVoid(g->b);
    fn_finish(c);
    return 0;
}

/* The arena bytes at offset off, named by the offset: buffers share
 * offsets (plan.c), so the optimiser merges their pointers. */
static V arena_at(gen_lctx *c, V arena, uint64_t off)
{
    char nm[32];
    snprintf(nm, sizeof nm, "arena.%llu", (unsigned long long)off);
    V o = gen_ir_i64(c, off);
    return LLVMBuildInBoundsGEP2(c->g->b, c->g->i8, arena, &o, 1, nm);
}

/* The call of layer li's function fn (arguments sig) in numrep_sample,
 * tagged !numrep.layer !{!"<li's name>"}: buf[j] is the output buffer of
 * layer j (buf[li] is made here), input the network's. */
static void call_layer(gen_lctx *c, int li, const layer_sig *sig, V fn, V arena, V input, V *buf)
{
    gen_ctx *g = c->g;
    const nr_layer *L = &c->m->layers[li];
    const gen_plan_layer *pl = &c->p->ly[li];
    const layer_arg *a = sig->a;
    const int n = sig->n;
    V v[MAX_ARGS];
    buf[li] = arena_at(c, arena, pl->out_off);
    for (int i = 0; i < n; i++) {
        V off;
        switch (a[i].kind) {
        case ARG_OUT: v[i] = buf[li]; break;
        case ARG_IN: v[i] = L->inputs[a[i].k] < 0 ? input : buf[L->inputs[a[i].k]]; break;
        case ARG_SCRATCH: v[i] = arena_at(c, arena, pl->scratch_off); break;
        case ARG_W:
        case ARG_B:
            off = gen_ir_i64(c, a[i].kind == ARG_W ? pl->w_off : pl->b_off);
            v[i] = LLVMConstInBoundsGEP2(g->i8, c->weights, &off, 1);
            break;
        case ARG_XLIM: v[i] = LLVMConstInt(gen_emit_int_type(g, a[i].k), a[i].xlim, 0); break;
        case ARG_LAYER: v[i] = LLVMConstInt(g->i32, (uint64_t)li, 0); break;
        }
    }
    V call = LLVMBuildCall2(g->b, LLVMGlobalGetValueType(fn), fn, v, (unsigned)n, "");
    V name = LLVMMDStringInContext(g->ctx, L->name, (unsigned)strlen(L->name));
    LLVMSetMetadata(call, LLVMGetMDKindIDInContext(g->ctx, "numrep.layer", 12),
                    LLVMMDNodeInContext(g->ctx, &name, 1));
}

/* Convert the network's input/output of format f in integer code: no
 * double hardware, and f is not fp32 (which the float unit, or libgcc's
 * single-precision routines, moves as it is). */
static int numi_io(const gen_ctx *g, const nr_format *f)
{
    return g->int_narrow && gen_numi_fmt_ok(f) && !gen_ir_fmt_ieee32(f);
}

/* numrep_sample(in, out, arena): [net-1] round the input, run the layers,
 * [net-11] the output values as float32 (fptrunc: round to nearest even). */
static int emit_sample(gen_lctx *c, V *layer_fns, const layer_sig *sigs, nr_err *err)
{
    gen_ctx *g = c->g;
    const nr_model *m = c->m;
    V *buf = calloc((size_t)m->nlayers, sizeof *buf);
    if (!buf)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "generator", "out of memory");
    T vt = LLVMVoidTypeInContext(g->ctx);
    T args[3] = {c->ptr, c->ptr, c->ptr};
    fn_start(c, "numrep_sample", LLVMFunctionType(vt, args, 3, 0), 0);
    V in = LLVMGetParam(c->fn, 0), out = LLVMGetParam(c->fn, 1), arena = LLVMGetParam(c->fn, 2);
    LLVMSetValueName2(in, "in", 2);
    LLVMSetValueName2(out, "out", 3);
    LLVMSetValueName2(arena, "arena", 5);
    V input = arena_at(c, arena, c->p->in_off), in_store = input;
    if (gen_scaled_act(m, -1)) { /* rounded into the P region, then quantized */
        gen_scaled_layout lay;
        gen_scaled_act_layout(gen_scaled_act(m, -1), m->in_shape, &lay);
        V off = gen_ir_i64(c, lay.p_off);
        in_store = LLVMBuildGEP2(g->b, g->i8, input, &off, 1, "input.p");
    }
    T f32 = LLVMFloatTypeInContext(g->ctx);
    c->layer = LLVMConstInt(g->i32, NR_EMU_LAYER_INPUT, 0);
    gen_loop l;
    if (nr_model_takes_ids(m)) /* [op-embedding] embeddings read the ids as given */
        input = in;
    gen_ir_loop_begin(c, &l, nr_model_takes_ids(m) ? 0 : c->p->in_count, "in");
    V x = LLVMBuildLoad2(g->b, f32, LLVMBuildGEP2(g->b, f32, in, &l.i, 1, ""), "x");
    nr_rounding imode = m->layers[0].prec.rounding;
    V r;
    if (numi_io(g, &m->in_format) && imode != NR_RND_SR) /* integer code (emit_num_int.c) */
        r = gen_numi_from_f32(g, &m->in_format, imode, LLVMBuildBitCast(g->b, x, g->i32, ""));
    else
        r = gen_ir_round_val(c, &m->in_format, imode, LLVMBuildFPExt(g->b, x, g->f64, ""), l.i,
                          NR_EMU_TERM_OUT);
    gen_ir_store_enc(c, &m->in_format, in_store, l.i, r);
    gen_ir_loop_end(c, &l);
    if (gen_scaled_act(m, -1)) /* [scl-dot-act] the input quantized too */
        gen_emit_scaled_quant(c, gen_scaled_act(m, -1), m->layers[0].prec.rounding, input,
                              m->in_shape);
    for (int i = 0; i < m->nlayers; i++)
        call_layer(c, i, &sigs[i], layer_fns[i], arena, input, buf);
    const nr_format *of = gen_scaled_carrier(m, m->output);
    gen_ir_loop_begin(c, &l, c->p->out_count, "out");
    if (numi_io(g, of) && gen_numi_to_f32_ok(of)) { /* exact, in integer code */
        V e = gen_ir_load_enc(c, of, buf[m->output], l.i);
        LLVMBuildStore(g->b, gen_numi_to_f32(g, of, e), LLVMBuildGEP2(g->b, g->i32, out, &l.i, 1, ""));
    } else {
        V v = gen_ir_load_dec(c, of, buf[m->output], l.i);
        LLVMBuildStore(g->b, LLVMBuildFPTrunc(g->b, v, f32, ""),
                       LLVMBuildGEP2(g->b, f32, out, &l.i, 1, ""));
    }
    gen_ir_loop_end(c, &l);
    LLVMBuildRetVoid(g->b);
    fn_finish(c);
    free(buf);
    return 0;
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
    V cnt = gen_ir_alloca(c, g->i64, "s");
    LLVMBuildStore(g->b, gen_ir_i64(c, 0), cnt);
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
    V io = LLVMBuildMul(g->b, s, gen_ir_i64(c, nin), ""), oo = LLVMBuildMul(g->b, s, gen_ir_i64(c, nout), "");
    V cargs[3] = {LLVMBuildGEP2(g->b, f32, in, &io, 1, ""), LLVMBuildGEP2(g->b, f32, out, &oo, 1, ""),
                  arena};
    LLVMBuildCall2(g->b, sty, sample, cargs, 3, "");
    LLVMBuildStore(g->b, LLVMBuildAdd(g->b, s, gen_ir_i64(c, 1), ""), cnt);
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, done);
    LLVMBuildRet(g->b, LLVMConstInt(g->i32, 0, 0));
    fn_finish(c);

    /* int nr_rt_run(nr_rt *, fn, in, out, n, in_size, out_size) */
    T rargs[7] = {c->ptr, c->ptr, c->ptr, c->ptr, g->i32, g->i64, g->i64};
    T rty = LLVMFunctionType(g->i32, rargs, 7, 0);
    V rt_run = gen_ir_rt_fn(c, "nr_rt_run", rty);
    V rtg = LLVMGetNamedGlobal(g->mod, "numrep_rt");
    T a3[3] = {c->ptr, c->ptr, g->i32};
    fn_start(c, "numrep_model_run", LLVMFunctionType(g->i32, a3, 3, 0), 0);
    V rt = LLVMBuildLoad2(g->b, c->ptr, rtg, "rt");
    V args[7] = {rt, sample, LLVMGetParam(c->fn, 0), LLVMGetParam(c->fn, 1), LLVMGetParam(c->fn, 2),
                 gen_ir_i64(c, nin), gen_ir_i64(c, nout)};
    LLVMBuildRet(g->b, LLVMBuildCall2(g->b, rty, rt_run, args, 7, ""));
    fn_finish(c);

    const_fn(c, "numrep_model_input_size", nin);
    const_fn(c, "numrep_model_output_size", nout);
    const_fn(c, "numrep_model_arena_size", c->p->arena_size);
    shape_fn(c, "numrep_model_input_shape", m->in_shape);
    shape_fn(c, "numrep_model_output_shape", m->layers[m->output].out_shape);
}

/* One function per distinct layer.  Each layer's function is built under
 * a scratch name and compared, as printed IR, with the distinct ones so
 * far: a copy is deleted and its layer calls the first one, which keeps
 * the name of the first layer that has it; !numrep.layers lists the layers
 * that share a function.  Comparing the IR itself, not a key of layer
 * parameters, cannot miss anything an emitter bakes in (say a bound the
 * vector kernel derives from the weight values): such layers just do not
 * share. */
typedef struct distinct_fn {
    char *ir;      /* LLVMPrintValueToString of the function */
    uint64_t hash; /* nr_hash_bytes of ir */
    int layer;     /* the first layer with it */
} distinct_fn;

/* Layer li's function (arguments sig) in fns[li]: a new one, or an equal
 * earlier one. */
static int emit_layer_shared(gen_lctx *c, int li, const layer_sig *sig, V *fns, distinct_fn *d,
                             int *nd, nr_err *err)
{
    int rc = emit_layer_fn(c, li, sig, "layer.new", err);
    if (rc)
        return rc;
    char *ir = LLVMPrintValueToString(c->fn);
    uint64_t h = nr_hash_bytes(NR_HASH_INIT, ir, strlen(ir));
    for (int j = 0; j < *nd; j++)
        if (d[j].hash == h && !strcmp(d[j].ir, ir)) {
            LLVMDisposeMessage(ir);
            LLVMDeleteFunction(c->fn);
            fns[li] = fns[d[j].layer];
            return 0;
        }
    char name[NR_NAME_MAX + 8];
    snprintf(name, sizeof name, "layer.%s", c->m->layers[li].name);
    LLVMSetValueName2(c->fn, name, strlen(name));
    d[(*nd)++] = (distinct_fn){ir, h, li};
    fns[li] = c->fn;
    return 0;
}

/* !numrep.layers !{!"name", ...} on every function that several layers call. */
static void tag_shared(gen_lctx *c, const V *fns, const distinct_fn *d, int nd)
{
    gen_ctx *g = c->g;
    const nr_model *m = c->m;
    unsigned kind = LLVMGetMDKindIDInContext(g->ctx, "numrep.layers", 13);
    LLVMMetadataRef *names = malloc((size_t)m->nlayers * sizeof *names);
    if (!names) /* only a comment lost */
        return;
    for (int j = 0; j < nd; j++) {
        V fn = fns[d[j].layer];
        size_t k = 0;
        for (int i = d[j].layer; i < m->nlayers; i++)
            if (fns[i] == fn)
                names[k++] = LLVMMDStringInContext2(g->ctx, m->layers[i].name, strlen(m->layers[i].name));
        if (k > 1)
            LLVMGlobalSetMetadata(fn, kind, LLVMMDNodeInContext2(g->ctx, names, k));
    }
    free(names);
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
    distinct_fn *d = calloc((size_t)m->nlayers, sizeof *d);
    layer_sig *sigs = calloc((size_t)m->nlayers, sizeof *sigs);
    int nd = 0, rc = 0;
    if (!fns || !d || !sigs)
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "generator", "out of memory");
    for (int i = 0; i < m->nlayers && !rc; i++) {
        layer_args(&c, i, &sigs[i]);
        rc = emit_layer_shared(&c, i, &sigs[i], fns, d, &nd, err);
    }
    if (!rc) {
        tag_shared(&c, fns, d, nd);
        rc = emit_sample(&c, fns, sigs, err);
    }
    if (!rc)
        emit_entry_points(&c, c.fn);
    for (int j = 0; j < nd; j++)
        LLVMDisposeMessage(d[j].ir);
    free(sigs);
    free(d);
    free(fns);
    LLVMDisposeBuilder(c.ab);
    return rc;
}

int gen_emit_model(const nr_model *m, const gen_model_opts *o, gen_ctx **out, gen_weights *w,
                   nr_err *err)
{
    *out = NULL;
    /* bare metal (target.c's bare_metal rows, or portable for tests) links
     * no libm and keeps the compact scalar MAC code: fast rounding uses integer
     * conversions instead of llvm.roundeven/floor/..., and no vector kernel */
    int bare = o && (o->portable || (o->triple && gen_target_bare(o->triple)));
    gen_plan p;
    /* at -O0 (the search's R^2 runs) the compact vector kernel: compiling
     * dominates there, and its 16 accumulator vectors would not stay in
     * registers anyway */
    int vector = bare ? 0 : o && o->opt_level == 0 ? GEN_VMAC_COMPACT : 1;
    int rc = gen_plan_build(m, o ? o->pack_dense : 0, vector, &p, w, err);
    if (rc)
        return rc;
    gen_ctx *g = NULL;
    char name[NR_NAME_MAX + 16];
    snprintf(name, sizeof name, "numrep.%s", m->spec && m->spec->name[0] ? m->spec->name : "model");
    if ((rc = gen_emit_new(name, &g, err)))
        goto fail;
    g->no_libm = bare;
    g->int_narrow = o && gen_target_int_narrow(o->triple);
    g->f32_hw = g->int_narrow && gen_target_f32_hw(o->triple, o->cpu, o->features);
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
    gen_plan_weights_free(w);
    return rc;
}
