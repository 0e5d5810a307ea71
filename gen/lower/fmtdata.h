/* fmtdata.h -- the format-as-data MAC layer (issue 15): the exports of
 * gen/lower/fmtdata_mac.c.
 *
 * One compiled function per MAC layer shape (conv, dense, batchnorm; the
 * geometry is compiled in) whose number formats are run-time data: the
 * products', the accumulator's and the output activations' gen_rtfmt
 * blocks (gen/ir/emit_num_rt.h), so the function serves every
 * configuration of a search's sweep without recompiling.  Semantics are
 * emu_mac.c's unfused MAC ([net-4], [net-5]): the accumulator starts at the
 * bias (already a value of the weights' format) rounded to the
 * accumulator's format, or +0; each term, in the emulator's order (input
 * channel, kernel row, kernel column; padding contributes no term), adds
 * round_P(w * x) and rounds the sum to the accumulator's format; the result
 * is rounded to the activations' format.  Scope: rz (emit_num_rt.h), w*x
 * exact in double (gen_fmtdata_mac_ok), finite operands. */
#ifndef NUMREP_FMTDATA_H
#define NUMREP_FMTDATA_H

#include "emit_num_rt.h"
#include "model.h"

/* The run-time formats of one MAC layer, in the order the function reads
 * them. */
typedef struct gen_fd_fmts {
    gen_rtfmt prod, acc, act;
} gen_fd_fmts;

/* 0 when layer L (already built, its precision resolved) can run as a
 * format-as-data MAC with its weights in wf and its input in xf: unfused,
 * rz, unscaled, products of wf and xf exact in double, every role in the
 * scope of gen_numrt_fmt_make; else NR_EUNSUP saying why. */
int gen_fmtdata_mac_ok(const nr_layer *L, const nr_format *wf, const nr_format *xf, nr_err *err);

/* The layer's run-time format block (NR_EUNSUP outside the scope). */
int gen_fmtdata_fmts_make(const nr_layer_prec *p, gen_fd_fmts *out, nr_err *err);

/* Emit, into g's module, the function
 *   void name(const double *x, const double *w, const double *b,
 *             double *out, const gen_fd_fmts *f)
 * for geometry gm: x the input [C, H, W], w the weights [O, K] and b the
 * bias [O] (ignored when !has_bias), all values of their formats; out the
 * output [O, OH, OW].  Vectorised over 8 output columns. */
LLVMValueRef gen_fmtdata_emit_mac(gen_ctx *g, const char *name, const nr_mac_geom *gm, int has_bias,
                             int kind);
/* kind (emit_num_rt.h's GEN_RT_*) for products and sums: the shortcut
 * both formats admit, else GEN_RT_GENERIC.  A layer is emitted for each
 * kind (GEN_RT_KINDS) and run with the one its formats admit. */
int gen_fmtdata_kind(const gen_fd_fmts *f);
#define GEN_RT_KINDS 3

/* Emit the array helpers (names fixed), for the ops between MAC layers:
 *   void fd_round_arr(const double *a, const double *unused, double *out,
 *                     int64_t n, const gen_rtfmt *f)   out[i] = rz(a[i])
 *   void fd_sum_arr(const double *a, const double *b, double *out,
 *                   int64_t n, const gen_rtfmt *f)     out[i] = rz(a[i] + b[i])
 * into f, in place allowed (out == a). */
void gen_fmtdata_emit_helpers(gen_ctx *g);
typedef void (*gen_fd_arr_fn)(const double *, const double *, double *, int64_t,
                              const gen_rtfmt *);

#endif
