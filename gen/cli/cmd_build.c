/* cmd_build.c -- `numrep build`: compile a network ahead of time into a
 * standalone executable, an object, assembly, LLVM IR or bitcode, or the C
 * header embedding users include; optionally report code, weight and arena
 * sizes next to an fp32 build of the same network. */
#include "aot.h"
#include "cli.h"
#include "emit_scaled.h"
#include "model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct build_opts {
    const char *net, *out, *target, *cpu;
    int kind, opt, dense, size_report;
    cli_model_args model;
} build_opts;

static int set_kind(void *dst, const char *v, nr_err *err)
{
    (void)err;
    int k = gen_aot_kind_parse(v);
    if (k < 0)
        return -1;
    *(int *)dst = k;
    return 0;
}

static const gen_opt build_table[] = {
    {.kind = GEN_OPT_TABLE, .sub = cli_model_opts, .off = offsetof(build_opts, model)},
    {.shrt = 'o', .kind = GEN_OPT_STR, .off = offsetof(build_opts, out), .arg = "OUT",
     .help = "the output file"},
    {.name = "emit", .kind = GEN_OPT_FN, .fn = set_kind, .off = offsetof(build_opts, kind),
     .arg = "KIND",
     .bad = "%s: unknown kind \"%s\"; expected exe, obj, asm, bc, llvm or header",
     .help = "exe     standalone program (default): OUT [--raw] X -o Y\n"
             "        reads .npy (or raw float32) inputs, writes outputs\n"
             "obj     object file with the code and the packed weights\n"
             "header  model.h for that object: entry points and sizes\n"
             "asm     assembly; llvm: LLVM IR text; bc: LLVM bitcode\n"
             "        (these three .incbin the weights from\n"
             "        OUT.weights.bin, written next to OUT)"},
    {.name = "target", .kind = GEN_OPT_STR, .off = offsetof(build_opts, target), .arg = "TRIPLE",
     .help = "host (default), x86_64-linux-gnu, aarch64-linux-gnu,\n"
             "thumbv7em-none-eabi (Cortex-M4), thumbv6m-none-eabi\n"
             "(Cortex-M0; objects and headers only)"},
    {.name = "cpu", .kind = GEN_OPT_STR, .off = offsetof(build_opts, cpu), .arg = "CPU",
     .help = "CPU to tune for (default: the host's, or the target's)"},
    {.shrt = 'O', .attached = 1, .kind = GEN_OPT_CHOICE, .choices = "0|1|2|3",
     .off = offsetof(build_opts, opt), .label = "-O0..-O3",
     .bad = "bad optimisation level \"%s%s\"; expected -O0, -O1, -O2 or -O3",
     .help = "optimisation level (default -O2)"},
    {.name = "pack", .kind = GEN_OPT_CHOICE, .choices = "container|dense",
     .off = offsetof(build_opts, dense), .arg = "KIND",
     .bad = "%s: expected dense or container, got \"%s\"",
     .help = "container (default): each weight in the narrowest of\n"
             "8/16/32/64 bits; dense: odd widths bit-packed back to\n"
             "back (a tensor takes ceil(count x bits / 8) bytes)"},
    {.name = "size-report", .kind = GEN_OPT_FLAG, .off = offsetof(build_opts, size_report),
     .help = "print weight, code and arena bytes, and the same for an\n"
             "fp32 build of the network, on stdout"},
    {0}};

static const cli_cmd build_cmd = {
    .name = "build",
    .opts = build_table,
    .npos = 1,
    .extra = cli_opts_extra_net,
    .usage = "usage: numrep build NET.yaml [-p PREC.yaml|FMT] [--rounding M] [--mac M]\n"
             "                    -o OUT [--emit KIND]\n"
             "                    [--target TRIPLE] [--cpu CPU] [-O0|-O1|-O2|-O3]\n"
             "                    [--pack dense|container] [--random-weights SEED]\n"
             "                    [--size-report] [--max-memory BYTES]\n"
             "\n"
             "Compile the network ahead of time.  The generated code computes exactly\n"
             "what `numrep emulate` and `numrep run` compute (docs/semantics.md).\n"
             "\n",
    .usage_end = "\nexit status: 0 ok, 1 error, 2 usage error\n",
};

/* Filled by one build: the figures --size-report prints. */
typedef struct build_sizes {
    uint64_t weights;   /* packed weight values: sum over tensors        */
    uint64_t blob;      /* the blob as stored (alignment or pad included) */
    uint64_t code;      /* .text bytes of the generated object           */
    uint64_t arena;     /* bytes per sample                              */
} build_sizes;

static int parse_args(int argc, char **argv, build_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kind = GEN_OUT_EXE;
    o->opt = 2;
    int rc = cli_opts_parse(&build_cmd, argc, argv, o, &o->net);
    if (rc)
        return rc;
    if (!o->net)
        return cli_usage("build", "missing NET.yaml");
    if (!o->out)
        return cli_usage("build", "missing -o OUT");
    return 0;
}

/* The build's model, or (fp32) the same network at fp32 for the size report. */
static int load_model(const build_opts *o, int fp32, nr_model **m, nr_err *err)
{
    cli_model_args a = o->model;
    if (fp32)
        a = (cli_model_args){.prec = "fp32", .mo = {.random_seed = a.mo.random_seed,
                                                    .max_memory = a.mo.max_memory}};
    a.net = o->net;
    return cli_load_model(&a, m, err);
}

/* Packed bytes of the weight values: per tensor (weights, biases),
 * count x container bytes, or ceil(count x width / 8) when dense. */
static uint64_t weight_bytes(const nr_model *m, int dense)
{
    uint64_t sum = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const nr_layer *L = &m->layers[i];
        const nr_format *f = &L->prec.weights;
        const size_t counts[2] = {L->w ? L->nw : 0, L->b ? L->nb : 0};
        if (L->prec.weights_scaled.gran != NR_GRAN_NONE && L->w) { /* emit_scaled.h */
            sum += gen_scaled_w_bytes(L) + gen_scaled_b_bytes(L);
            continue;
        }
        for (int t = 0; t < 2; t++)
            sum += dense ? (counts[t] * (uint64_t)f->width + 7) / 8
                         : counts[t] * (uint64_t)f->container;
    }
    return sum;
}

/* The absolute path of OUT + suffix, for the .incbin of --emit asm/llvm/bc
 * (the assembler resolves relative paths against its own working dir). */
static int sibling_path(const char *out, const char *suffix, char *buf, size_t n, nr_err *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(out, '/');
    const char *base = slash ? slash + 1 : out;
    if (slash) {
        size_t len = (size_t)(slash - out);
        char d[PATH_MAX];
        if (len == 0)
            len = 1; /* "/x" */
        if (len >= sizeof d)
            return nr_err_set(err, NR_EIO, out, 0, 0, "-o", "path too long");
        memcpy(d, out, len);
        d[len] = 0;
        if (!realpath(d, dir))
            return nr_err_set(err, NR_EIO, d, 0, 0, "-o", "cannot resolve: %s", strerror(errno));
    } else if (!realpath(".", dir)) {
        return nr_err_set(err, NR_EIO, ".", 0, 0, "-o", "cannot resolve: %s", strerror(errno));
    }
    if ((size_t)snprintf(buf, n, "%s/%s%s", strcmp(dir, "/") ? dir : "", base, suffix) >= n)
        return nr_err_set(err, NR_EIO, out, 0, 0, "-o", "path too long");
    return 0;
}

/* The module for m, optimised for the target machine.  The builder's own
 * pipeline would tune for the host (its gen_ctx has a host TargetMachine):
 * host vector widths make a Cortex-M0 back end scalarise for minutes.  So
 * build unoptimised, retarget, then run -O with the target's cost model.
 * On success g owns *tm (gen_emit_free disposes it). */
static int make_module(const nr_model *m, const build_opts *o, const gen_target *t,
                       gen_ctx **g, gen_weights *w, LLVMTargetMachineRef *tm, nr_err *err)
{
    gen_model_opts mo = {.opt_level = 0, .pack_dense = o->dense, .triple = t->triple,
                         .cpu = o->cpu ? o->cpu : t->cpu};
    LLVMTargetMachineRef mine = NULL;
    int rc = gen_target_machine(t, o->cpu, NULL, o->opt, &mine, err);
    if (rc)
        return rc;
    if ((rc = gen_emit_model(m, &mo, g, w, err))) {
        LLVMDisposeTargetMachine(mine);
        return rc;
    }
    gen_ctx *c = *g;
    gen_target_apply(c->mod, mine);
    if (c->td)
        LLVMDisposeTargetData(c->td);
    if (c->tm)
        LLVMDisposeTargetMachine(c->tm);
    c->tm = *tm = mine;
    c->td = LLVMCreateTargetDataLayout(mine);
    if ((rc = gen_emit_optimize(c, o->opt, err)))
        return rc;
    gen_aot_prepare(c->mod);
    return 0;
}

/* Object code for the size report of a build that did not make one. */
static int code_size(LLVMModuleRef mod, LLVMTargetMachineRef tm, uint64_t *bytes, nr_err *err)
{
    LLVMMemoryBufferRef buf = NULL;
    int rc = gen_aot_codegen(mod, tm, GEN_OUT_OBJ, &buf, err);
    if (!rc)
        rc = gen_aot_text_size(buf, bytes, err);
    if (buf)
        LLVMDisposeMemoryBuffer(buf);
    return rc;
}

/* exe: object + header + driver in a temporary directory, then cc. */
static int build_exe(const nr_model *m, const build_opts *o, const gen_target *t, gen_ctx *g,
                     LLVMTargetMachineRef tm, const gen_weights *w, const gen_model_sizes *sz,
                     build_sizes *bs, nr_err *err)
{
    char dir[PATH_MAX], p[PATH_MAX + 32], obj[PATH_MAX + 32];
    int rc = gen_aot_tmpdir(dir, sizeof dir - 32, err);
    if (rc)
        return rc;
    LLVMMemoryBufferRef buf = NULL;
    snprintf(p, sizeof p, "%s/weights.bin", dir);
    snprintf(obj, sizeof obj, "%s/model.o", dir);
    if ((rc = gen_aot_attach_weights(g->mod, w, p, err)) ||
        (rc = gen_aot_codegen(g->mod, tm, GEN_OUT_OBJ, &buf, err)) ||
        (rc = gen_aot_text_size(buf, &bs->code, err)) ||
        (rc = gen_aot_write_buffer(buf, obj, err)))
        goto done;
    snprintf(p, sizeof p, "%s/model.h", dir);
    if ((rc = gen_tmpl_model("model.h.in", m, sz, t->name, p, err)))
        goto done;
    snprintf(p, sizeof p, "%s/driver.c", dir);
    if ((rc = gen_tmpl_model("driver.c.in", m, sz, t->name, p, err)))
        goto done;
    rc = gen_aot_link(t, dir, obj, o->out, err);
done:
    if (buf)
        LLVMDisposeMemoryBuffer(buf);
    gen_aot_tmpdir_remove(dir);
    return rc;
}

/* One build of m; fills bs.  out NULL: only measure (the fp32 reference). */
static int build_one(const nr_model *m, const build_opts *o, const gen_target *t,
                     build_sizes *bs, nr_err *err)
{
    gen_ctx *g = NULL;
    gen_weights w = {0};
    LLVMTargetMachineRef tm = NULL;
    LLVMMemoryBufferRef buf = NULL;
    gen_model_sizes sz;
    int rc = make_module(m, o, t, &g, &w, &tm, err);
    if (rc || (rc = gen_aot_sizes(g->mod, m, &w, &sz, err)))
        goto done;
    /* the report reads the blob's layout; the formula double-checks it */
    bs->weights = w.values;
    bs->blob = w.size;
    if (bs->weights != weight_bytes(m, o->dense)) {
        rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "weights",
                        "the blob holds %llu bytes of values, expected %llu",
                        (unsigned long long)bs->weights,
                        (unsigned long long)weight_bytes(m, o->dense));
        goto done;
    }
    bs->arena = sz.arena;
    char wpath[PATH_MAX + 16];
    switch (o->out ? o->kind : -1) {
    case -1:
        rc = code_size(g->mod, tm, &bs->code, err);
        break;
    case GEN_OUT_EXE:
        rc = build_exe(m, o, t, g, tm, &w, &sz, bs, err);
        break;
    case GEN_OUT_HEADER:
        rc = gen_tmpl_model("model.h.in", m, &sz, t->name, o->out, err);
        if (!rc && o->size_report)
            rc = code_size(g->mod, tm, &bs->code, err);
        break;
    case GEN_OUT_OBJ:
    case GEN_OUT_ASM: {
        /* The weights must exist until codegen has read them; an object
         * holds them after that, assembly keeps referring to the file. */
        char dir[PATH_MAX];
        int obj = o->kind == GEN_OUT_OBJ;
        if (obj && (rc = gen_aot_tmpdir(dir, sizeof dir, err)))
            break;
        if (obj)
            snprintf(wpath, sizeof wpath, "%s/weights.bin", dir);
        else
            rc = sibling_path(o->out, ".weights.bin", wpath, sizeof wpath, err);
        if (!rc)
            rc = gen_aot_attach_weights(g->mod, &w, wpath, err);
        if (!rc)
            rc = gen_aot_codegen(g->mod, tm, o->kind, &buf, err);
        if (!rc && obj)
            rc = gen_aot_text_size(buf, &bs->code, err);
        if (!rc)
            rc = gen_aot_write_buffer(buf, o->out, err);
        if (obj)
            gen_aot_tmpdir_remove(dir);
        break;
    }
    case GEN_OUT_BC:
    case GEN_OUT_LLVM:
        if (!(rc = sibling_path(o->out, ".weights.bin", wpath, sizeof wpath, err)) &&
            !(rc = gen_aot_attach_weights(g->mod, &w, wpath, err)))
            rc = gen_aot_write_ir(g->mod, o->kind, o->out, err);
        break;
    }
done:
    if (buf)
        LLVMDisposeMemoryBuffer(buf);
    gen_emit_free(g); /* and tm, which g owns */
    gen_plan_weights_free(&w);
    return rc;
}

static void print_report(const nr_model *m, const gen_target *t, const build_sizes *a,
                         const build_sizes *f, int code_known)
{
    char fmt[64];
    nr_format_name(&m->prec->dflt.weights, fmt, sizeof fmt);
    nr_strbuf fs = {fmt, sizeof fmt, strlen(fmt), 0};
    if (m->prec->noverrides)
        nr_strbuf_add(&fs, "+overrides");
    printf("size report: %s, target %s\n", m->spec->name, t->name);
    printf("%-28s %16s %16s\n", "", fmt, "fp32");
    printf("%-28s %16llu %16llu\n", "weights (packed bytes)", (unsigned long long)a->weights,
           (unsigned long long)f->weights);
    printf("%-28s %16llu %16llu\n", "weights blob (as stored)", (unsigned long long)a->blob,
           (unsigned long long)f->blob);
    uint64_t bsc, eb, sb;
    gen_scaled_sizes(m, &bsc, &eb, &sb);
    if (bsc) { /* [scl-bits]: the blob holds P as float and scales as double */
        printf("%-28s %16llu %16s\n", "  of which scales (blob)", (unsigned long long)bsc, "-");
        printf("%-28s %16llu %16s\n", "scaled elements (packed)", (unsigned long long)eb, "-");
        printf("%-28s %16llu %16s\n", "scales (format's bytes)", (unsigned long long)sb, "-");
    }
    if (code_known)
        printf("%-28s %16llu %16llu\n", "code (.text bytes)", (unsigned long long)a->code,
               (unsigned long long)f->code);
    printf("%-28s %16llu %16llu\n", "arena (bytes per sample)", (unsigned long long)a->arena,
           (unsigned long long)f->arena);
}

int cmd_build(int argc, char **argv)
{
    build_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    nr_err err = {0};
    nr_model *m = NULL, *m32 = NULL;
    const gen_target *t;
    if (gen_target_find(o.target, &t, &err))
        return cli_usage("build", "--target: unknown target \"%s\"; expected one of: %s",
                         o.target, gen_target_names());
    if (o.kind == GEN_OUT_EXE && !t->hosted)
        return cli_usage("build", "--emit exe: target %s has no operating system; use "
                         "--emit obj and --emit header", t->name);
    if (o.cpu && gen_target_check_cpu(t, o.cpu, &err))
        return cli_usage("build", "--cpu: %s", err.msg);
    int status = 1;
    build_sizes a = {0}, f = {0};
    if (load_model(&o, 0, &m, &err) || build_one(m, &o, t, &a, &err))
        goto fail;
    if (o.size_report) {
        build_opts o32 = o;
        o32.out = NULL;
        o32.dense = 0;
        if (load_model(&o, 1, &m32, &err) || build_one(m32, &o32, t, &f, &err))
            goto fail;
        /* asm/llvm/bc builds make no object of their own: measure one. */
        if (o.kind == GEN_OUT_ASM || o.kind == GEN_OUT_BC || o.kind == GEN_OUT_LLVM) {
            build_opts om = o;
            om.out = NULL;
            nr_model_free(m);
            m = NULL;
            if (load_model(&o, 0, &m, &err) || build_one(m, &om, t, &a, &err))
                goto fail;
        }
        print_report(m, t, &a, &f, 1);
    }
    status = 0;
    goto done;
fail:
    status = cli_error(&err);
done:
    nr_model_free(m);
    nr_model_free(m32);
    return status;
}
