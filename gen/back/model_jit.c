/* model_jit.c -- compile once, run many: a model's module JIT-compiled
 * with ORC LLJIT.  The module's external symbols are bound here as
 * absolute symbols (the packed weights, the run context, the runtime
 * helpers of runtime/rt/rt.h), so nothing depends on the numrep executable
 * exporting its symbols; libc's (memcpy, memset, which LLVM may emit) come
 * from the process. */
#include "plan.h"
#include "rt.h"
#include "nlrt.h"
#include "target.h"

#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>

#include <stdlib.h>
#include <string.h>

struct gen_compiled {
    LLVMOrcLLJITRef jit;
    gen_weights w;
    nr_rt *rt;
    void *rt_slot;                          /* @numrep_rt: holds rt */
    int (*run)(const float *, float *, int);
    int (*run_arena)(const float *, float *, int, void *);
    uint64_t nin, nout, arena;
};

static int jit_fail(nr_err *err, const char *where, LLVMErrorRef e)
{
    char *m = LLVMGetErrorMessage(e); /* consumes e */
    int rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, where, "%s", m);
    LLVMDisposeErrorMessage(m);
    return rc;
}

static int define_symbols(gen_compiled *c, nr_err *err)
{
    struct { const char *name; void *addr; } syms[] = {
        {"numrep_weights", c->w.data},
        {"numrep_rt", &c->rt_slot},
        {"nr_rt_run", (void *)nr_rt_run},
        {"nr_rt_lrn", (void *)nr_rt_lrn},
        {"nr_rt_softmax", (void *)nr_rt_softmax},
        {"nr_rt_kacc_init", (void *)nr_rt_kacc_init},
        {"nr_rt_kacc_add", (void *)nr_rt_kacc_add},
        {"nr_rt_kacc_get", (void *)nr_rt_kacc_get},
        {"nr_nlrt_gen", (void *)nr_nlrt_gen},
        {"nr_nlrt_gen_div", (void *)nr_nlrt_gen_div},
    };
    enum { N = sizeof syms / sizeof syms[0] };
    LLVMOrcCSymbolMapPair pairs[N];
    for (int i = 0; i < N; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(c->jit, syms[i].name);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)syms[i].addr;
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported |
                                          (i >= 2 ? LLVMJITSymbolGenericFlagsCallable : 0);
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    /* the materialization unit takes the names' references */
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, N);
    LLVMErrorRef e = LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(c->jit), mu);
    if (e) {
        LLVMOrcDisposeMaterializationUnit(mu);
        return jit_fail(err, "jit symbols", e);
    }
    return 0;
}

/* An LLJIT whose machine code generator runs at the model's opt_level.
 * LLJIT's default builder always generates code at LLVM's -O2
 * (SelectionDAG, greedy register allocation) whatever IR passes ran, and
 * that is most of the cost of compiling the search's R^2 runs at -O0
 * (issue 15): level 0 gets FastISel and the fast register allocator.
 * Levels 1-3 keep the default builder, so full evaluations and `run`
 * generate exactly the code they did.  Codegen levels change no result
 * (no fast-math anywhere); the differential tests compare both. */
static int create_jit(gen_compiled *c, int opt_level, nr_err *err)
{
    LLVMOrcLLJITBuilderRef b = NULL;
    if (opt_level == 0) {
        const gen_target *host;
        LLVMTargetMachineRef tm;
        int rc = gen_target_find(NULL, &host, err);
        if (rc || (rc = gen_target_machine(host, NULL, NULL, 0, &tm, err)))
            return rc;
        b = LLVMOrcCreateLLJITBuilder();
        /* the JTMB takes tm, the builder the JTMB, CreateLLJIT the builder */
        LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
            b, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
    }
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&c->jit, b);
    if (e) {
        c->jit = NULL;
        return jit_fail(err, "jit", e);
    }
    return 0;
}

static int lookup(gen_compiled *c, const char *name, void **out, nr_err *err)
{
    LLVMOrcExecutorAddress a = 0;
    LLVMErrorRef e = LLVMOrcLLJITLookup(c->jit, &a, name);
    if (e)
        return jit_fail(err, name, e);
    *out = (void *)(uintptr_t)a;
    return 0;
}

int gen_model_compile(const nr_model *m, const gen_model_opts *o, gen_compiled **out, nr_err *err)
{
    *out = NULL;
    gen_model_opts dflt = {.opt_level = 2};
    if (!o)
        o = &dflt;
    gen_compiled *c = calloc(1, sizeof *c);
    if (!c)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "jit", "out of memory");
    gen_ctx *g = NULL;
    int rc = gen_emit_model(m, o, &g, &c->w, err);
    if (rc)
        goto fail;
    if ((rc = create_jit(c, o->opt_level, err)))
        goto fail;
    LLVMOrcDefinitionGeneratorRef dg = NULL;
    LLVMErrorRef e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &dg, LLVMOrcLLJITGetGlobalPrefix(c->jit), NULL, NULL);
    if (e) {
        rc = jit_fail(err, "jit process symbols", e);
        goto fail;
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(c->jit), dg);
    if ((rc = define_symbols(c, err)))
        goto fail;
    LLVMSetDataLayout(g->mod, LLVMOrcLLJITGetDataLayoutStr(c->jit));
    LLVMSetTarget(g->mod, LLVMOrcLLJITGetTripleString(c->jit));
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(g->mod, g->tsc);
    g->mod = NULL; /* consumed on success and failure (see jit.c) */
    e = LLVMOrcLLJITAddLLVMIRModule(c->jit, LLVMOrcLLJITGetMainJITDylib(c->jit), tsm);
    if (e) {
        rc = jit_fail(err, "jit add module", e);
        goto fail;
    }
    void *p[5];
    if ((rc = lookup(c, "numrep_model_run", &p[0], err)) ||
        (rc = lookup(c, "numrep_model_run_arena", &p[1], err)) ||
        (rc = lookup(c, "numrep_model_input_size", &p[2], err)) ||
        (rc = lookup(c, "numrep_model_output_size", &p[3], err)) ||
        (rc = lookup(c, "numrep_model_arena_size", &p[4], err)))
        goto fail;
    c->run = (int (*)(const float *, float *, int))p[0];
    c->run_arena = (int (*)(const float *, float *, int, void *))p[1];
    c->nin = ((uint64_t(*)(void))p[2])();
    c->nout = ((uint64_t(*)(void))p[3])();
    c->arena = ((uint64_t(*)(void))p[4])();
    c->rt = nr_rt_new(0, c->arena);
    if (!c->rt) {
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "jit", "out of memory for the arenas (%llu bytes each)",
                        (unsigned long long)c->arena);
        goto fail;
    }
    c->rt_slot = c->rt;
    gen_emit_free(g);
    *out = c;
    return 0;
fail:
    gen_emit_free(g);
    gen_compiled_free(c);
    return rc;
}

int gen_compiled_set_threads(gen_compiled *c, int threads, nr_err *err)
{
    nr_rt *rt = nr_rt_new(threads, c->arena);
    if (!rt)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "jit", "out of memory for %d threads", threads);
    nr_rt_free(c->rt);
    c->rt = rt;
    c->rt_slot = rt;
    return 0;
}

int gen_compiled_run(gen_compiled *c, const float *in, float *out, int n, nr_err *err)
{
    if (n < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "run", "%d samples", n);
    if (c->run(in, out, n))
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "run", "no run context");
    return 0;
}

int gen_compiled_run_arena(gen_compiled *c, const float *in, float *out, int n, void *arena)
{
    return c->run_arena(in, out, n, arena);
}

uint64_t gen_compiled_input_size(const gen_compiled *c) { return c->nin; }
uint64_t gen_compiled_output_size(const gen_compiled *c) { return c->nout; }
uint64_t gen_compiled_arena_size(const gen_compiled *c) { return c->arena; }

void gen_compiled_free(gen_compiled *c)
{
    if (!c)
        return;
    if (c->jit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(c->jit);
        if (e)
            LLVMConsumeError(e);
    }
    nr_rt_free(c->rt);
    gen_plan_weights_free(&c->w);
    free(c);
}
