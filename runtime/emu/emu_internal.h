/* emu_internal.h -- what emulator.c, emu_mac.c and emu_ops.c share (not
 * public): the per-run state and the rounding helpers that every op goes
 * through, so that each rounding is counted and draws its SR bits the same
 * way ([net-9], [net-10]). */
#ifndef NUMREP_EMU_INTERNAL_H
#define NUMREP_EMU_INTERNAL_H

#include "emulator.h"

enum { EMU_FAST_NONE = 0, EMU_FAST_F32, EMU_FAST_F64 };

/* A layer prepared for a run: weights rounded once, formats looked up. */
typedef struct emu_layer {
    const nr_layer *L;
    const nr_format *wf, *af, *pf, *cf; /* weights, activations, products, accumulator */
    nr_rounding mode;
    nr_mac_mode mac;
    const nr_format *in_fmt[8];         /* activation format of each input       */
    int in_same[8];                     /* in_fmt[i] equals af: no output rounding */
    double *w, *b;                      /* rounded to wf ([net-1]); b NULL if none */
    double *bacc;                       /* b rounded to cf ([net-4], term BIAS)   */
    void *wfast;                        /* float/double copy of w for fast paths */
    int fast;                           /* EMU_FAST_*                             */
    int prod_exact;                     /* w*x is exact in double for all finite w, x */
    int klsb, klimbs;                   /* exact-mode accumulator: weight of bit 0, size */
} emu_layer;

typedef struct emu {
    const nr_model *m;
    emu_layer *ly;
    double **act;       /* act[i]: output of layer i for the current sample */
    double *input;      /* the rounded network input of the current sample  */
    nr_emu_stats *stats;
    const nr_emu_opts *opts;
    uint64_t *klimbs;   /* scratch for the exact accumulator                 */
    int klimbs_cap;
} emu;

/* Values of input i of layer li (the network input for index -1). */
static inline const double *emu_in(const emu *E, int li, int i)
{
    int src = E->m->layers[li].inputs[i];
    return src < 0 ? E->input : E->act[src];
}

static inline uint32_t emu_sr(const emu *E, nr_rounding mode, uint32_t layer, uint64_t elem,
                              uint32_t term)
{
    return mode == NR_RND_SR ? nr_sr_bits(E->m->seed, layer, elem, term) : 0;
}

/* Count one rounding event.  finite_in: the exact value was finite, so
 * overflow flags are meaningful ([net-10]). */
void emu_count(nr_emu_counts *c, unsigned flags, double result, int finite_in);
/* Round x (exact) to f; counts into c when c != NULL. */
double emu_round(const emu *E, const nr_format *f, nr_rounding mode, double x, uint32_t layer,
                 uint64_t elem, uint32_t term, nr_emu_counts *c);
double emu_round_exact(const emu *E, const nr_format *f, nr_rounding mode, const nr_exact *x,
                       uint32_t layer, uint64_t elem, uint32_t term, nr_emu_counts *c);
/* The exact a + b rounded once to f. */
double emu_add(const emu *E, const nr_format *f, nr_rounding mode, double a, double b,
               uint32_t layer, uint64_t elem, uint32_t term, nr_emu_counts *c);
/* The exact a / n (n >= 1) rounded once to f ([net-6]). */
double emu_div_count(const emu *E, const nr_format *f, nr_rounding mode, double a, long n,
                     uint32_t layer, uint64_t elem, uint32_t term, nr_emu_counts *c);
/* Print a value of format f as "0xBITS (decimal)". */
void emu_print_value(FILE *to, const nr_format *f, double v);
nr_emu_layer_stats *emu_stats(const emu *E, int li);

/* emu_mac.c: conv, dense, batchnorm. */
int emu_mac_prepare(emu *E, emu_layer *el, nr_err *err);
void emu_mac_run(emu *E, int li);
/* emu_ops.c: every other op. */
int emu_ops_check(const nr_layer *L, nr_err *err);
void emu_ops_run(emu *E, int li);

#endif
