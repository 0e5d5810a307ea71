/* emit.c -- gen_ctx: the LLVM context, module, builder and host target
 * machine every emitter works with; create, verify, optimise, free. */
#include "gen.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <stdlib.h>
#include <string.h>

/* LLVM reports errors as malloc'ed strings; copy into nr_err and free. */
static int llvm_fail(nr_err *err, const char *where, char *msg)
{
    int rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, where, "%s", msg ? msg : "(no message)");
    if (msg)
        LLVMDisposeMessage(msg);
    return rc;
}

static int make_target_machine(gen_ctx *g, nr_err *err)
{
    char *triple = LLVMGetDefaultTargetTriple();
    char *msg = NULL;
    LLVMTargetRef t;
    if (LLVMGetTargetFromTriple(triple, &t, &msg)) {
        LLVMDisposeMessage(triple);
        return llvm_fail(err, "target", msg);
    }
    char *cpu = LLVMGetHostCPUName(), *feat = LLVMGetHostCPUFeatures();
    g->tm = LLVMCreateTargetMachine(t, triple, cpu, feat, LLVMCodeGenLevelDefault,
                                    LLVMRelocPIC, LLVMCodeModelJITDefault);
    LLVMSetTarget(g->mod, triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(feat);
    LLVMDisposeMessage(triple);
    if (!g->tm)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "target",
                          "LLVM could not create a target machine for the host");
    g->td = LLVMCreateTargetDataLayout(g->tm);
    LLVMSetModuleDataLayout(g->mod, g->td);
    return 0;
}

int gen_emit_new(const char *name, gen_ctx **out, nr_err *err)
{
    *out = NULL;
    /* Idempotent, and LLVM guards them internally; not our global state. */
    if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter())
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "target",
                          "LLVM has no native target for this host");
    gen_ctx *g = calloc(1, sizeof *g);
    if (!g)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "generator", "out of memory");
    g->tsc = LLVMOrcCreateNewThreadSafeContext();
    g->ctx = LLVMOrcThreadSafeContextGetContext(g->tsc);
    g->mod = LLVMModuleCreateWithNameInContext(name, g->ctx);
    g->b = LLVMCreateBuilderInContext(g->ctx);
    g->i1 = LLVMInt1TypeInContext(g->ctx);
    g->i8 = LLVMInt8TypeInContext(g->ctx);
    g->i16 = LLVMInt16TypeInContext(g->ctx);
    g->i32 = LLVMInt32TypeInContext(g->ctx);
    g->i64 = LLVMInt64TypeInContext(g->ctx);
    g->i128 = LLVMInt128TypeInContext(g->ctx);
    g->f64 = LLVMDoubleTypeInContext(g->ctx);
    g->kind_alwaysinline = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
    int rc = make_target_machine(g, err);
    if (rc) {
        gen_emit_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int gen_emit_verify(gen_ctx *g, nr_err *err)
{
    char *msg = NULL;
    if (!g->mod)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "module", "no module (moved to a JIT)");
    if (LLVMVerifyModule(g->mod, LLVMReturnStatusAction, &msg))
        return llvm_fail(err, "module verifier", msg);
    LLVMDisposeMessage(msg);
    return 0;
}

int gen_emit_optimize(gen_ctx *g, int level, nr_err *err)
{
    static const char *const pipes[] = {"default<O0>", "default<O1>", "default<O2>",
                                        "default<O3>"};
    if (level < 0 || level > 3)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "-O", "level %d; expected 0..3", level);
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
    LLVMErrorRef e = LLVMRunPasses(g->mod, pipes[level], g->tm, o);
    LLVMDisposePassBuilderOptions(o);
    if (e) {
        char *m = LLVMGetErrorMessage(e); /* consumes e */
        int rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "optimizer", "%s", m);
        LLVMDisposeErrorMessage(m);
        return rc;
    }
    return 0;
}

char *gen_emit_print(gen_ctx *g) { return g->mod ? LLVMPrintModuleToString(g->mod) : NULL; }

void gen_emit_free(gen_ctx *g)
{
    if (!g)
        return;
    if (g->b)
        LLVMDisposeBuilder(g->b);
    if (g->mod)
        LLVMDisposeModule(g->mod);
    if (g->td)
        LLVMDisposeTargetData(g->td);
    if (g->tm)
        LLVMDisposeTargetMachine(g->tm);
    if (g->tsc)
        LLVMOrcDisposeThreadSafeContext(g->tsc); /* JIT'ed modules keep their own ref */
    free(g);
}

LLVMTypeRef gen_emit_int_type(gen_ctx *g, int bits) { return LLVMIntTypeInContext(g->ctx, (unsigned)bits); }

LLVMTypeRef gen_emit_container_type(gen_ctx *g, const nr_format *f)
{
    return gen_emit_int_type(g, 8 * f->container);
}

LLVMValueRef gen_emit_const(LLVMTypeRef t, uint64_t v) { return LLVMConstInt(t, v, 0); }

LLVMValueRef gen_emit_function(gen_ctx *g, const char *name, LLVMTypeRef fty, int inl)
{
    LLVMValueRef fn = LLVMAddFunction(g->mod, name, fty);
    if (inl)
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                LLVMCreateEnumAttribute(g->ctx, g->kind_alwaysinline, 0));
    LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(g->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(g->b, bb);
    return fn;
}

LLVMValueRef gen_emit_intrinsic(gen_ctx *g, const char *name, LLVMTypeRef t,
                                LLVMValueRef *args, unsigned nargs)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef tys[1] = {t};
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, tys, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(g->ctx, id, tys, 1);
    return LLVMBuildCall2(g->b, fty, fn, args, nargs, "");
}
