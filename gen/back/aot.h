/* aot.h -- ahead-of-time output: a finished model module (model_gen.h) to
 * .o / .s / .bc / .ll files, the packed weights attached as read-only data,
 * the C header for embedding users, and a standalone executable linked with
 * the runtime and templates/driver.c.in.
 *
 * Weights never pass through LLVM constants: the blob is written to a file
 * and the module gets module-level assembly
 *     .section .rodata.numrep_weights / .balign 64 / numrep_weights: .incbin "FILE"
 * which LLVM's integrated assembler copies into the object for any target
 * (no cross assembler needed). */
#ifndef NUMREP_AOT_H
#define NUMREP_AOT_H

#include "model_gen.h"
#include "target.h"

typedef enum {
    GEN_OUT_EXE = 0, GEN_OUT_OBJ, GEN_OUT_ASM, GEN_OUT_BC, GEN_OUT_LLVM, GEN_OUT_HEADER
} gen_out_kind;

/* "exe", "obj", ... -> kind; -1 when unknown. */
int gen_aot_kind_parse(const char *s);

/* What the header and the driver need to know, read from the module's
 * query functions (each must return a constant) and the model. */
typedef struct gen_model_sizes {
    uint64_t input, output;   /* floats per sample                       */
    uint64_t arena;           /* bytes                                   */
    int in_shape[3], out_shape[3];
    uint64_t weights;         /* bytes of the blob                       */
} gen_model_sizes;

int gen_aot_sizes(LLVMModuleRef mod, const nr_model *m, const gen_weights *w,
                  gen_model_sizes *out, nr_err *err);

/* Make the module self-contained for linking: define numrep_rt (the
 * runtime context, NULL until numrep_model_init in model.h) when the
 * builder only declared it, and put each function in its own .text.NAME
 * section so a bare-metal link with --gc-sections drops the threaded
 * numrep_model_run (and its runtime references) when only
 * numrep_model_run_arena is used. */
void gen_aot_prepare(LLVMModuleRef mod);

/* Write the blob to path (absolute) and add the module asm that embeds it. */
int gen_aot_attach_weights(LLVMModuleRef mod, const gen_weights *w, const char *path,
                           nr_err *err);

/* Code generation to memory: an object (GEN_OUT_OBJ) or assembly
 * (GEN_OUT_ASM).  *buf is LLVM's; dispose with LLVMDisposeMemoryBuffer.
 * Codegen changes the module, so do it once per module. */
int gen_aot_codegen(LLVMModuleRef mod, LLVMTargetMachineRef tm, gen_out_kind kind,
                    LLVMMemoryBufferRef *buf, nr_err *err);
/* Bytes of executable code (.text*) in an object file image. */
int gen_aot_text_size(LLVMMemoryBufferRef obj, uint64_t *bytes, nr_err *err);
/* Write buf / the module (bitcode or text IR) to path. */
int gen_aot_write_buffer(LLVMMemoryBufferRef buf, const char *path, nr_err *err);
int gen_aot_write_ir(LLVMModuleRef mod, gen_out_kind kind, const char *path, nr_err *err);

/* A private temporary directory (mkdtemp) and its removal with the files
 * put in it (not recursive: we only create plain files). */
int gen_aot_tmpdir(char *dir, size_t n, nr_err *err);
void gen_aot_tmpdir_remove(const char *dir);

/* Link a standalone executable: driver.c (filled template, in dir with
 * model.h) + the model object + the runtime library, with cc. */
int gen_aot_link(const gen_target *t, const char *dir, const char *obj, const char *out,
                 nr_err *err);

/* ------------------------------------------------------------ tmpl.c --
 * templates/NAME.in with @KEY@ placeholders (upper case, digits, '_').  Every
 * placeholder in a template must have a value: a typo is an error, not an
 * empty string. */
typedef struct gen_tmpl_var {
    const char *key;    /* without the @s */
    const char *value;
} gen_tmpl_var;

/* Fill templates/<name> into out_path (the templates directory by the
 * lookup rule of paths.h: $NUMREP_TEMPLATES, the install, the source tree). */
int gen_tmpl_fill(const char *name, const gen_tmpl_var *vars, int nvars,
                  const char *out_path, nr_err *err);
/* Fill a template about model m ("model.h.in", "driver.c.in"): @NAME@,
 * @PRECISION@, @TARGET@, @IDENT@, the sizes and the shapes. */
int gen_tmpl_model(const char *tmpl, const nr_model *m, const gen_model_sizes *s,
                   const char *target, const char *out_path, nr_err *err);

#endif
