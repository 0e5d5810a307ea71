/* target.c -- the supported code-generation targets (one table) and the
 * LLVM TargetMachine for each.  Cross targets get a generic or named CPU so
 * the output never depends on the build machine; the host gets its own CPU
 * and features, like the JIT. */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* name, LLVM triple, default CPU, linking cc, hosted, bare metal, double
 * hardware.  triple NULL: LLVM's default (the host); cpu NULL: the host CPU. */
static const gen_target targets[] = {
    {"host", NULL, NULL, "cc", 1, 0, 1},
    {"x86_64-linux-gnu", "x86_64-pc-linux-gnu", "x86-64", "x86_64-linux-gnu-gcc", 1, 0, 1},
    {"aarch64-linux-gnu", "aarch64-unknown-linux-gnu", "generic", "aarch64-linux-gnu-gcc", 1, 0, 1},
    /* Cortex-M: objects and headers only; the user's toolchain links them.
     * No double-precision FPU (the M4's fpv4-sp-d16 is single precision). */
    {"thumbv7em-none-eabi", "thumbv7em-none-eabi", "cortex-m4", "arm-none-eabi-gcc", 0, 1, 0},
    {"thumbv7em-none-eabihf", "thumbv7em-none-eabihf", "cortex-m4", "arm-none-eabi-gcc", 0, 1, 0},
    {"thumbv6m-none-eabi", "thumbv6m-none-eabi", "cortex-m0", "arm-none-eabi-gcc", 0, 1, 0},
};
#define NTARGETS (sizeof targets / sizeof targets[0])

const char *gen_target_names(void)
{
    return "host x86_64-linux-gnu aarch64-linux-gnu thumbv7em-none-eabi thumbv7em-none-eabihf "
           "thumbv6m-none-eabi";
}

int gen_target_find(const char *name, const gen_target **out, nr_err *err)
{
    *out = NULL;
    if (!name)
        name = "host";
    for (size_t i = 0; i < NTARGETS; i++)
        if (!strcmp(name, targets[i].name) ||
            (targets[i].triple && !strcmp(name, targets[i].triple))) {
            *out = &targets[i];
            return 0;
        }
    return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "--target",
                      "unknown target \"%s\"; expected one of: %s", name, gen_target_names());
}

int gen_target_init(nr_err *err)
{
    /* Each is idempotent and thread-safe inside LLVM (call_once). */
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeX86AsmParser();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
    LLVMInitializeAArch64AsmParser();
    LLVMInitializeARMTargetInfo();
    LLVMInitializeARMTarget();
    LLVMInitializeARMTargetMC();
    LLVMInitializeARMAsmPrinter();
    LLVMInitializeARMAsmParser();
    (void)err;
    return 0;
}

static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                             LLVMCodeGenLevelDefault,
                                             LLVMCodeGenLevelAggressive};

int gen_target_machine(const gen_target *t, const char *cpu, const char *features,
                       int opt_level, LLVMTargetMachineRef *out, nr_err *err)
{
    *out = NULL;
    if (opt_level < 0 || opt_level > 3)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "-O", "level %d; expected 0..3",
                          opt_level);
    int rc = gen_target_init(err);
    if (rc)
        return rc;
    char *host_triple = NULL, *host_cpu = NULL, *host_feat = NULL;
    /* Normalised: LLVM reads an unnormalised "thumbv6m-none-eabi" in a
     * module as a non-EABI environment and calls __muldf3 instead of
     * __aeabi_dmul, which Cortex-M libgcc does not provide. */
    char *triple = t->triple ? LLVMNormalizeTargetTriple(t->triple) : NULL;
    host_triple = triple;
    if (!triple)
        triple = host_triple = LLVMGetDefaultTargetTriple();
    if (!cpu && !t->cpu) {
        cpu = host_cpu = LLVMGetHostCPUName();
        if (!features)
            features = host_feat = LLVMGetHostCPUFeatures();
    }
    if (!cpu)
        cpu = t->cpu;
    if (!features)
        features = "";
    char *msg = NULL;
    LLVMTargetRef lt;
    if (LLVMGetTargetFromTriple(triple, &lt, &msg)) {
        rc = nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "--target", "LLVM has no back end for %s: %s",
                        triple, msg ? msg : "");
        LLVMDisposeMessage(msg);
        goto done;
    }
    /* Linux executables are PIE by default on Debian; bare metal has no
     * dynamic loader, so absolute addresses. */
    *out = LLVMCreateTargetMachine(lt, triple, cpu, features, levels[opt_level],
                                   t->bare_metal ? LLVMRelocStatic : LLVMRelocPIC,
                                   LLVMCodeModelDefault);
    if (!*out)
        rc = nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "--cpu",
                        "LLVM could not create a target machine for %s, cpu %s", triple, cpu);
done:
    LLVMDisposeMessage(host_triple);
    LLVMDisposeMessage(host_cpu);
    LLVMDisposeMessage(host_feat);
    return rc;
}

void gen_target_apply(LLVMModuleRef m, LLVMTargetMachineRef tm)
{
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetTarget(m, triple);
    LLVMSetModuleDataLayout(m, td);
    LLVMDisposeTargetData(td);
    LLVMDisposeMessage(triple);
}

/* In a probe child: make a target machine for cpu, let body add function
 * "f" to a module for it, and generate code (subtargets are created per
 * function, so every message LLVM has about the CPU, and any instruction
 * it cannot select, shows up).  Exit status 0 when that worked. */
static void probe_emit(const gen_target *t, const char *cpu,
                       void (*body)(LLVMContextRef, LLVMModuleRef))
{
    nr_err e = {0};
    LLVMTargetMachineRef tm = NULL;
    if (gen_target_machine(t, cpu, NULL, 0, &tm, &e))
        _exit(3);
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("probe", ctx);
    gen_target_apply(m, tm);
    body(ctx, m);
    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMObjectFile, &msg, &buf))
        _exit(4);
    _exit(0);
}

static void empty_fn(LLVMContextRef ctx, LLVMModuleRef m)
{
    LLVMValueRef f = LLVMAddFunction(m, "f", LLVMFunctionType(LLVMVoidTypeInContext(ctx), NULL, 0, 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, f, "entry"));
    LLVMBuildRetVoid(b);
}

/* In the child: an empty function, LLVM's messages about the CPU to the
 * pipe fd (as stderr). */
static void probe_child(const gen_target *t, const char *cpu, int fd)
{
    dup2(fd, 2);
    close(fd);
    probe_emit(t, cpu, empty_fn);
}

int gen_target_check_cpu(const gen_target *t, const char *cpu, nr_err *err)
{
    int rc = gen_target_init(err);
    if (rc)
        return rc;
    int fds[2];
    if (pipe(fds))
        return nr_err_set(err, NR_EIO, NULL, 0, 0, "--cpu", "pipe: %s", strerror(errno));
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return nr_err_set(err, NR_EIO, NULL, 0, 0, "--cpu", "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        probe_child(t, cpu, fds[1]);
    }
    close(fds[1]);
    char out[4096];
    size_t n = 0;
    ssize_t k;
    while ((k = read(fds[0], out + n, sizeof out - 1 - n)) > 0 || (k < 0 && errno == EINTR))
        n += k > 0 ? (size_t)k : 0;
    close(fds[0]);
    out[n] = 0;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) || strstr(out, "not a recognized processor"))
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "--cpu",
                          "LLVM does not know CPU \"%s\" for target %s", cpu, t->name);
    return 0;
}

/* Is "+name" one of the comma-separated tokens of an LLVM feature string? */
static int has_feature(const char *features, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = features; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n + 1 && p[0] == '+' && !strncmp(p + 1, name, n))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* A function using a 512-bit add with its own rounding mode. */
static void avx512_add_fn(LLVMContextRef ctx, LLVMModuleRef m)
{
    const char *name = "llvm.x86.avx512.add.ps.512";
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef vt = LLVMVectorType(LLVMFloatTypeInContext(ctx), 16), i32 = LLVMInt32TypeInContext(ctx);
    LLVMTypeRef ft = LLVMFunctionType(vt, &vt, 1, 0);
    LLVMValueRef f = LLVMAddFunction(m, "f", ft), x = LLVMGetParam(f, 0);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, f, "entry"));
    LLVMValueRef args[3] = {x, x, LLVMConstInt(i32, 11, 0)};
    LLVMBuildRet(b, LLVMBuildCall2(b, LLVMIntrinsicGetType(ctx, id, NULL, 0),
                                   LLVMGetIntrinsicDeclaration(m, id, NULL, 0), args, 3, ""));
}

/* In the child: without AVX-512F, LLVM's instruction selection fails
 * ("Cannot select") and ends the process with an error; exit status 0
 * means the CPU has it.  Its messages go to /dev/null. */
static void avx512_probe_child(const gen_target *t, const char *cpu)
{
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0)
        dup2(null, 2);
    probe_emit(t, cpu, avx512_add_fn);
}

static int cpu_has_avx512f(const gen_target *t, const char *cpu)
{
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0)
        avx512_probe_child(t, cpu);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int gen_target_avx512f(const char *triple, const char *cpu, const char *features)
{
    const gen_target *t = NULL;
    nr_err e = {0};
    if (gen_target_find(triple, &t, &e))
        return 0;
    char *dflt = t->triple ? NULL : LLVMGetDefaultTargetTriple();
    int x86 = !strncmp(t->triple ? t->triple : dflt, "x86_64", 6);
    LLVMDisposeMessage(dflt);
    if (!x86)
        return 0;
    if (features)
        return has_feature(features, "avx512f");
    if (!cpu && !t->cpu) { /* the host: its CPU and features (gen_target_machine) */
        char *host = LLVMGetHostCPUFeatures();
        int r = has_feature(host, "avx512f");
        LLVMDisposeMessage(host);
        return r;
    }
    return cpu_has_avx512f(t, cpu ? cpu : t->cpu);
}

int gen_target_int_narrow(const char *triple)
{
    const gen_target *t = NULL;
    nr_err e = {0};
    return !gen_target_find(triple, &t, &e) && !t->fp64;
}

int gen_target_bare(const char *triple)
{
    const gen_target *t = NULL;
    nr_err e = {0};
    return triple && !gen_target_find(triple, &t, &e) && t->bare_metal;
}

int gen_target_f32_hw(const char *triple, const char *cpu, const char *features)
{
    const gen_target *t = NULL;
    nr_err e = {0};
    if (!triple || gen_target_find(triple, &t, &e) || t->fp64 || !t->triple ||
        strncmp(t->triple, "thumbv7em", 9))
        return 0;
    if (features && (strstr(features, "-fpregs") || strstr(features, "-vfp") ||
                     strstr(features, "+soft-float")))
        return 0;
    if (!cpu)
        cpu = t->cpu;
    return !strcmp(cpu, "cortex-m4") || !strcmp(cpu, "cortex-m7");
}
