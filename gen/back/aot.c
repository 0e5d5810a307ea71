/* aot.c -- a finished model module to files: object, assembly, bitcode,
 * text IR; the weights blob attached by .incbin; and the standalone
 * executable linked with the system (or the target's) cc. */
#include "aot.h"
#include "paths.h"

#include <llvm-c/BitWriter.h>
#include <llvm-c/Object.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const kind_names[] = {"exe", "obj", "asm", "bc", "llvm", "header"};

int gen_aot_kind_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof kind_names / sizeof kind_names[0]); i++)
        if (!strcmp(s, kind_names[i]))
            return i;
    return -1;
}

static int llvm_fail(nr_err *err, const char *where, char *msg)
{
    int rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, where, "%s", msg ? msg : "(no message)");
    LLVMDisposeMessage(msg);
    return rc;
}

/* ------------------------------------------------------------ sizes */

/* The constant a query function returns: the module builder emits each as
 * `ret i64 C` (possibly after optimisation), which is what makes the sizes
 * known without running the code (cross targets). */
static int const_return(LLVMModuleRef mod, const char *name, uint64_t *v, nr_err *err)
{
    LLVMValueRef fn = LLVMGetNamedFunction(mod, name);
    if (!fn || LLVMIsDeclaration(fn))
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, name, "the module does not define it");
    /* Unoptimised (-O0) modules keep the entry block's branch to the body. */
    LLVMBasicBlockRef bb = LLVMGetEntryBasicBlock(fn);
    LLVMValueRef term = bb ? LLVMGetBasicBlockTerminator(bb) : NULL;
    for (int hops = 0; term && LLVMIsABranchInst(term) && !LLVMIsConditional(term) && hops < 4;
         hops++)
        term = LLVMGetBasicBlockTerminator(LLVMGetSuccessor(term, 0));
    LLVMValueRef rv = term && LLVMIsAReturnInst(term) && LLVMGetNumOperands(term) == 1
                          ? LLVMGetOperand(term, 0)
                          : NULL;
    if (!rv || !LLVMIsAConstantInt(rv))
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, name,
                          "expected the function to return a constant");
    *v = LLVMConstIntGetZExtValue(rv);
    return 0;
}

int gen_aot_sizes(LLVMModuleRef mod, const nr_model *m, const gen_weights *w,
                  gen_model_sizes *out, nr_err *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if ((rc = const_return(mod, "numrep_model_input_size", &out->input, err)) ||
        (rc = const_return(mod, "numrep_model_output_size", &out->output, err)) ||
        (rc = const_return(mod, "numrep_model_arena_size", &out->arena, err)))
        return rc;
    memcpy(out->in_shape, m->in_shape, sizeof out->in_shape);
    memcpy(out->out_shape, m->layers[m->output].out_shape, sizeof out->out_shape);
    out->weights = w->size;
    /* The module and the model must agree, or the driver's shape checks lie. */
    if (out->input != nr_shape_count(out->in_shape) ||
        out->output != nr_shape_count(out->out_shape))
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "module",
                          "input/output sizes %llu/%llu disagree with the model's %zu/%zu",
                          (unsigned long long)out->input, (unsigned long long)out->output,
                          nr_shape_count(out->in_shape), nr_shape_count(out->out_shape));
    return 0;
}

/* ------------------------------------------------------------ weights */

void gen_aot_prepare(LLVMModuleRef mod)
{
    LLVMValueRef rt = LLVMGetNamedGlobal(mod, "numrep_rt");
    if (rt && LLVMIsDeclaration(rt))
        LLVMSetInitializer(rt, LLVMConstNull(LLVMGlobalGetValueType(rt)));
    char sec[512];
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
        size_t len;
        const char *name = LLVMGetValueName2(f, &len);
        if (LLVMIsDeclaration(f) || (LLVMGetSection(f) && *LLVMGetSection(f)) ||
            len + 7 > sizeof sec)
            continue;
        snprintf(sec, sizeof sec, ".text.%s", name);
        LLVMSetSection(f, sec);
    }
}

static int write_file(const char *path, const void *data, size_t n, nr_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot create: %s", strerror(errno));
    int bad = n && fwrite(data, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad)
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "write failed: %s", strerror(errno));
    return 0;
}

int gen_aot_attach_weights(LLVMModuleRef mod, const gen_weights *w, const char *path,
                           nr_err *err)
{
    /* The path lands inside a quoted assembler string. */
    if (path[0] != '/' || strpbrk(path, "\"\\\n"))
        return nr_err_set(err, NR_EINTERNAL, path, 0, 0, "weights",
                          "expected an absolute path without quotes or backslashes");
    int rc = write_file(path, w->data, w->size, err);
    if (rc)
        return rc;
    /* .rodata.* lands in flash with the usual bare-metal linker scripts and
     * in the read-only segment on Linux.  %object works on x86 and ARM
     * (where '@' starts a comment). */
    char buf[PATH_MAX + 512];
    int k = snprintf(buf, sizeof buf,
                     ".pushsection .rodata.numrep_weights,\"a\",%%progbits\n"
                     ".balign 64\n"
                     ".globl numrep_weights\n"
                     ".type numrep_weights, %%object\n"
                     "numrep_weights:\n"
                     "%s%s%s"
                     ".size numrep_weights, %zu\n"
                     ".popsection\n",
                     w->size ? ".incbin \"" : "", w->size ? path : "", w->size ? "\"\n" : "",
                     w->size);
    if (k < 0 || (size_t)k >= sizeof buf)
        return nr_err_set(err, NR_EINTERNAL, path, 0, 0, "weights", "path too long");
    LLVMAppendModuleInlineAsm(mod, buf, (size_t)k);
    return 0;
}

/* ------------------------------------------------------------ codegen */

int gen_aot_codegen(LLVMModuleRef mod, LLVMTargetMachineRef tm, gen_out_kind kind,
                    LLVMMemoryBufferRef *buf, nr_err *err)
{
    char *msg = NULL;
    *buf = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(
            tm, mod, kind == GEN_OUT_ASM ? LLVMAssemblyFile : LLVMObjectFile, &msg, buf))
        return llvm_fail(err, "code generation", msg);
    LLVMDisposeMessage(msg);
    return 0;
}

int gen_aot_text_size(LLVMMemoryBufferRef obj, uint64_t *bytes, nr_err *err)
{
    *bytes = 0;
    char *msg = NULL;
    /* LLVMCreateBinary does not take the buffer; a context is needed only
     * for bitcode inputs, never here. */
    LLVMBinaryRef bin = LLVMCreateBinary(obj, NULL, &msg);
    if (!bin)
        return llvm_fail(err, "object file", msg);
    LLVMSectionIteratorRef it = LLVMObjectFileCopySectionIterator(bin);
    for (; !LLVMObjectFileIsSectionIteratorAtEnd(bin, it); LLVMMoveToNextSection(it)) {
        const char *name = LLVMGetSectionName(it);
        if (name && (!strcmp(name, ".text") || !strncmp(name, ".text.", 6)))
            *bytes += LLVMGetSectionSize(it);
    }
    LLVMDisposeSectionIterator(it);
    LLVMDisposeBinary(bin);
    return 0;
}

int gen_aot_write_buffer(LLVMMemoryBufferRef buf, const char *path, nr_err *err)
{
    return write_file(path, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf), err);
}

int gen_aot_write_ir(LLVMModuleRef mod, gen_out_kind kind, const char *path, nr_err *err)
{
    if (kind == GEN_OUT_BC) {
        if (LLVMWriteBitcodeToFile(mod, path))
            return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot write bitcode");
        return 0;
    }
    char *msg = NULL;
    if (LLVMPrintModuleToFile(mod, path, &msg)) {
        int rc = nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot write IR: %s", msg ? msg : "");
        LLVMDisposeMessage(msg);
        return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ temp dir */

int gen_aot_tmpdir(char *dir, size_t n, nr_err *err)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    if ((size_t)snprintf(dir, n, "%s/numrep-build-XXXXXX", base) >= n)
        return nr_err_set(err, NR_EIO, base, 0, 0, "TMPDIR", "path too long");
    if (!mkdtemp(dir))
        return nr_err_set(err, NR_EIO, dir, 0, 0, "", "cannot create a temporary directory: %s",
                          strerror(errno));
    return 0;
}

void gen_aot_tmpdir_remove(const char *dir)
{
    if (!dir || !*dir)
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                (size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p)
                unlink(p);
        closedir(d);
    }
    rmdir(dir);
}

/* ------------------------------------------------------------ link */

/* What generated code needs from runtime/ (rt.h and what rt.c calls): the
 * members a host link pulls out of libnumrep.a.  Cross builds compile
 * them; CMakeLists.txt installs the same files into share/numrep/runtime. */
static const char *const runtime_sources[3] = {"rt/rt.c", "num/pool.c", "emu/emu_math.c"};
/* the runtime folders whose headers those sources include */
static const char *const runtime_includes[5] = {"num", "io", "net", "emu", "rt"};

/* Run argv (PATH search), cc's own diagnostics go to our stderr. */
static int run(char *const argv[], nr_err *err)
{
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (e)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, argv[0], "cannot run it: %s%s",
                          strerror(e), e == ENOENT ? " (is the toolchain installed?)" : "");
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return nr_err_set(err, NR_EIO, NULL, 0, 0, argv[0], "waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return nr_err_set(err, NR_EIO, NULL, 0, 0, argv[0], "failed (%s %d); its messages are above",
                          WIFEXITED(st) ? "exit status" : "signal",
                          WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return 0;
}

int gen_aot_link(const gen_target *t, const char *dir, const char *obj, const char *out,
                 nr_err *err)
{
    if (!t->hosted || !t->cc)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "--emit exe",
                          "target %s has no operating system to run an executable; use "
                          "--emit obj and --emit header", t->name);
    /* The host links libnumrep.a (installed, or the one numrep was built
     * with); other targets compile the runtime's sources with their own cc. */
    const int native = t->triple == NULL;
    char lib[PATH_MAX] = "", rtdir[PATH_MAX] = "";
    if (gen_res_find(native ? GEN_RES_RUNTIME_LIB : GEN_RES_RUNTIME_SRC,
                     native ? lib : rtdir, PATH_MAX, NULL, err))
        return -err->code;
    if (native && access(lib, R_OK))
        return nr_err_set(err, NR_EIO, lib, 0, 0, "runtime library", "cannot read it: %s (%s overrides it)",
                          strerror(errno), gen_res_var(GEN_RES_RUNTIME_LIB));
    char rtsrc[3][PATH_MAX + 16], rtinc[5][PATH_MAX + 8];
    for (int i = 0; i < 3 && !native; i++) {
        snprintf(rtsrc[i], sizeof rtsrc[i], "%s/%s", rtdir, runtime_sources[i]);
        if (access(rtsrc[i], R_OK))
            return nr_err_set(err, NR_EIO, rtsrc[i], 0, 0, "runtime source",
                              "cannot read it (%s); %s overrides the directory",
                              strerror(errno), gen_res_var(GEN_RES_RUNTIME_SRC));
    }
    for (int i = 0; i < 5; i++)
        snprintf(rtinc[i], sizeof rtinc[i], "-I%s/%s", rtdir, runtime_includes[i]);
    char driver[PATH_MAX], inc[PATH_MAX + 2];
    snprintf(driver, sizeof driver, "%s/driver.c", dir);
    snprintf(inc, sizeof inc, "-I%s", dir);
    char *argv[28];
    int k = 0;
    argv[k++] = (char *)t->cc;
    argv[k++] = "-std=c11";
    argv[k++] = "-O2";
    /* the runtime's folders first: emu/emulator.h's "model.h" is net/'s, not
     * the generated model.h in dir (driver.c finds that one beside itself) */
    for (int i = 0; i < 5 && !native; i++)
        argv[k++] = rtinc[i];
    argv[k++] = inc;
    argv[k++] = driver;
    argv[k++] = (char *)obj;
    if (native) {
        argv[k++] = lib;
#if defined(__SANITIZE_ADDRESS__)
    /* libnumrep.a was built instrumented (NUMREP_SANITIZE): its objects
     * need the sanitizer runtimes. */
        argv[k++] = "-fsanitize=address,undefined";
#endif
    } else {
        for (int i = 0; i < 3; i++)
            argv[k++] = rtsrc[i];
    }
    argv[k++] = "-pthread";
    argv[k++] = "-lm";
    argv[k++] = "-o";
    argv[k++] = (char *)out;
    argv[k] = NULL;
    return run(argv, err);
}
