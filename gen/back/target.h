/* target.h -- the code-generation targets numrep supports: triple, CPU,
 * features, relocation model, and the tools that link for them.  One table
 * (target.c) is the only place that knows these; aot.c, cmd_build.c and the
 * module builder ask it. */
#ifndef NUMREP_TARGET_H
#define NUMREP_TARGET_H

/* Table of contents of gen/back/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   aot.c          a finished module to files: object, assembly, bitcode, IR, header, exe
 *                  [aot.h]
 *   calibrate_job.c `numrep calibrate` as a library call [calibrate_job.h]
 *   fmtdata_engine.c the format-as-data engine of the search's sweep [fmtdata_engine.h]
 *   jit.c          ORC LLJIT: add modules, look up symbols [gen/ir/gen.h]
 *   jit_engine.c   a compiled model as an nr_engine (eval, search, Python) [jit_engine.h]
 *   model_jit.c    compile once, run many: a model JIT-compiled [gen/lower/model_gen.h]
 *   opts.c         options as a table: find by name, set with checked values [opts.h]
 *   paths.c        where run-time resources (templates, runtime) are found [paths.h]
 *   report_page.c  `numrep report` as a library call [report_page.h]
 *   search_job.c   `numrep search` as a library call [search_job.h]
 *   target.c       the supported targets (one table) and their TargetMachine [target.h]
 *   tmpl.c         fill the templates/ files [aot.h]
 */

#include "gen.h"

typedef struct gen_target {
    const char *name;     /* canonical triple as accepted by --target      */
    const char *triple;   /* what LLVM is given                            */
    const char *cpu;      /* default CPU for this target                   */
    const char *cc;       /* C compiler that links executables for it,
                           * NULL: none (objects only: bare metal)         */
    int hosted;           /* 1: an OS with libc, so --emit exe works       */
    int bare_metal;       /* 1: static relocation model, no PIC            */
    int fp64;             /* 1: double-precision arithmetic in hardware    */
} gen_target;

/* The target for --target NAME (NULL or "host": the machine numrep runs
 * on).  Unknown names are NR_EUNSUP with the list of supported ones. */
int gen_target_find(const char *name, const gen_target **out, nr_err *err);
/* A space-separated list of the supported --target names, for help text. */
const char *gen_target_names(void);

/* Initialise LLVM's X86, AArch64 and ARM back ends (target, MC, asm
 * printer and asm parser: module-level asm needs the parser).  Idempotent. */
int gen_target_init(nr_err *err);

/* A TargetMachine for t; cpu/features NULL mean the target's defaults
 * (for the host: this CPU and its features).  opt_level 0..3.  The caller
 * disposes *out with LLVMDisposeTargetMachine. */
int gen_target_machine(const gen_target *t, const char *cpu, const char *features,
                       int opt_level, LLVMTargetMachineRef *out, nr_err *err);

/* Whether LLVM knows cpu for t.  LLVM only warns about an unknown CPU on
 * stderr and then generates for a default one (or, for x86-64, aborts), so
 * the check runs a probe code generation in a child process and reads its
 * stderr.  Unknown CPUs are NR_EUNSUP. */
int gen_target_check_cpu(const gen_target *t, const char *cpu, nr_err *err);

/* Does code for triple (NULL: the host's), cpu (NULL: the target's
 * default, for the host its own) and features (NULL: the CPU's) have
 * AVX-512F?  The emitters use it for rounding-mode adds (emit_vmac.c).  A
 * named CPU without a feature string is probed by a code generation in a
 * child process (LLVM's C API cannot list a CPU's features). */
int gen_target_avx512f(const char *triple, const char *cpu, const char *features);

/* 1 when code for triple (NULL: the host) should compute narrow formats
 * in integer instructions: the target has no double-precision hardware
 * (Cortex-M4's FPU is single precision; Cortex-M0 has none), so holding
 * values as doubles would mean libgcc's soft-float routines. */
int gen_target_int_narrow(const char *triple);

/* 1 when triple names a bare-metal target of the table (no OS, no libm:
 * the Cortex-M rows); 0 for hosted targets, the host (NULL) and unknown
 * triples. */
int gen_target_bare(const char *triple);

/* 1 when such a target (int_narrow) still has a single-precision FPU that
 * generated code may use for float32 arithmetic: ARMv7E-M on a Cortex-M4
 * or M7 (their default FPU), unless features turn the FPU off. */
int gen_target_f32_hw(const char *triple, const char *cpu, const char *features);

/* Point m at tm: its triple and data layout. */
void gen_target_apply(LLVMModuleRef m, LLVMTargetMachineRef tm);

#endif
