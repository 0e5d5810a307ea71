/* jit.c -- ORC LLJIT: add modules, look up symbols; compile once, run many.
 * Every LLVMErrorRef is checked and turned into an nr_err; ownership is
 * noted at each call that transfers it. */
#include "gen.h"

#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>

#include <stdlib.h>

struct gen_jit {
    LLVMOrcLLJITRef lljit;
};

/* Consume e and record its message. */
static int jit_fail(nr_err *err, const char *where, LLVMErrorRef e)
{
    char *m = LLVMGetErrorMessage(e); /* consumes e */
    int rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, where, "%s", m);
    LLVMDisposeErrorMessage(m);
    return rc;
}

int gen_jit_new(gen_jit **out, nr_err *err)
{
    *out = NULL;
    if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter())
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "jit", "LLVM has no native target");
    gen_jit *j = calloc(1, sizeof *j);
    if (!j)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "jit", "out of memory");
    /* NULL builder: default LLJIT for the host (CPU and features detected). */
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->lljit, NULL);
    if (e) {
        free(j);
        return jit_fail(err, "jit", e);
    }
    /* Let generated code call into this process (libnumrep's rt entry
     * points, libm).  On success the JITDylib owns the generator. */
    LLVMOrcDefinitionGeneratorRef dg = NULL;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &dg, LLVMOrcLLJITGetGlobalPrefix(j->lljit), NULL, NULL);
    if (e) {
        gen_jit_free(j);
        return jit_fail(err, "jit process symbols", e);
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->lljit), dg);
    *out = j;
    return 0;
}

const char *gen_jit_data_layout(gen_jit *j) { return LLVMOrcLLJITGetDataLayoutStr(j->lljit); }

int gen_jit_add(gen_jit *j, gen_ctx *g, nr_err *err)
{
    if (!g->mod)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "jit", "module already moved");
    LLVMSetDataLayout(g->mod, LLVMOrcLLJITGetDataLayoutStr(j->lljit));
    LLVMSetTarget(g->mod, LLVMOrcLLJITGetTripleString(j->lljit));
    /* The TSM now owns the module (and a reference to g's context). */
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(g->mod, g->tsc);
    g->mod = NULL;
    /* LLVM 16 wraps tsm in a unique_ptr before anything can fail
     * (OrcV2CBindings.cpp), so the JIT consumes it on success AND on
     * failure: disposing it after an error would be a double free. */
    LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(j->lljit, LLVMOrcLLJITGetMainJITDylib(j->lljit), tsm);
    if (e)
        return jit_fail(err, "jit add module", e);
    return 0;
}

int gen_jit_lookup(gen_jit *j, const char *name, void **addr, nr_err *err)
{
    LLVMOrcExecutorAddress a = 0;
    *addr = NULL;
    LLVMErrorRef e = LLVMOrcLLJITLookup(j->lljit, &a, name); /* materialises (compiles) */
    if (e)
        return jit_fail(err, name, e);
    *addr = (void *)(uintptr_t)a;
    return 0;
}

void gen_jit_free(gen_jit *j)
{
    if (!j)
        return;
    if (j->lljit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->lljit);
        if (e) /* nothing to report to at teardown; consume it */
            LLVMConsumeError(e);
    }
    free(j);
}
