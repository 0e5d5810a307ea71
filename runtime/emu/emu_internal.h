/* emu_internal.h -- what emulator.c, emu_mac.c and emu_ops.c share (not
 * public): the per-run state and the rounding helpers that every op goes
 * through, so that each rounding is counted and draws its SR bits the same
 * way ([net-9], [net-10]). */
#ifndef NUMREP_EMU_INTERNAL_H
#define NUMREP_EMU_INTERNAL_H

#include "emulator.h"
#include "nlfn.h"

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
    /* Scaled formats ([scl-dot-*]); NULL / 0 when the layer has none. */
    const nr_scaled *ws;                /* this layer's scaled weights            */
    const nr_scaled *xs;                /* the scaled activations of input 0      */
    const nr_scaled *os;                /* this layer's scaled output             */
    int scaled;                         /* 1: the MAC runs emu_scaled.c's loop    */
    nr_format f32;                      /* fp32, for block-fp32 and promote       */
    const nr_format *of;                /* the dot product's outer sum: fp32 (block-fp32,
                                         * promote) or the accumulator           */
    const nr_format *sf, *ppf;          /* a segment's partial sum and products  */
    int fast_block;                     /* block-fp32 in host float (rne)        */
    const nr_format *nf;                /* nonlinear role ([op-nl]): sequence ops */
    const nr_format *in2;               /* matmul: the second operand's format   */
    /* [scl-seq] linear/matmul with scaled operands (emu_seq_scaled.c) */
    const nr_scaled *qs;                /* the operands' scaled format, or NULL  */
    double *qp[2], *qsc[2];             /* each operand's element values, scales */
    double *qtmp;                       /* one strided group during quantization */
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
    /* Scaled activations ([scl-dot-act]) of the current sample: element
     * values and group scales of layer i's output (NULL when unscaled), and
     * of the network input. */
    double **ap, **asc;
    double *in_p, *in_sc;
    double *qtmp;       /* one group's elements during quantization          */
} emu;

/* Element values and group scales of input i of layer li (NULL, NULL when
 * that tensor is not scaled). */
static inline void emu_in_scaled(const emu *E, int li, int i, const double **p,
                                 const double **sc)
{
    int src = E->m->layers[li].inputs[i];
    *p = src < 0 ? E->in_p : E->ap[src];
    *sc = src < 0 ? E->in_sc : E->asc[src];
}

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

/* The exact (Kulisch) accumulator of [net-5] exact mode, emu_mac.c. */
typedef struct kacc {
    uint64_t *l;
    int n, lsb;
    int nan, pinf, ninf;
    int allneg0; /* every addend so far is -0 */
} kacc;
void emu_kacc_init(kacc *k, uint64_t *limbs, int n, int lsb);
void emu_kacc_add(kacc *k, double a, double b);   /* += the exact a*b           */
void emu_kacc_get(const kacc *k, nr_rounding mode, uint64_t *tmp, nr_exact *x);

typedef nr_mac_geom geom; /* geom.c */

/* emu_mac.c: conv, dense, batchnorm. */
int emu_mac_prepare(emu *E, emu_layer *el, nr_err *err);
int emu_mac_size(emu *E, emu_layer *el, const nr_format *wf, const nr_format *xf, double wlo,
                 double whi, double xlo, double xhi, nr_err *err);
void emu_mac_run(emu *E, int li);
/* emu_scaled.c: scaled activations and block dot products. */
size_t emu_act_groups(const nr_scaled *s, const int shape[3]);
/* The group of element (c, h, w) of a [C, H, W] tensor. */
static inline size_t emu_act_group(const nr_scaled *s, const int shape[3], int c, int hw)
{
    if (s->gran != NR_GRAN_BLOCK)
        return 0;
    size_t nb = ((size_t)shape[0] + (size_t)s->block - 1) / (size_t)s->block;
    return (size_t)hw * nb + (size_t)(c / s->block);
}
/* Quantize the values v of one tensor in place (v = P * X), writing P to p
 * and the scales to sc; layer = NR_EMU_LAYER_INPUT for the network input. */
int emu_quantize_act(emu *E, const nr_scaled *s, uint32_t layer, const int shape[3], double *v,
                     double *p, double *sc, nr_emu_scaled_counts *c, nr_err *err);
int emu_scaled_prepare(emu *E, emu_layer *el, nr_err *err);
/* The formats of a scaled dot product (f32, of, sf, ppf) from the mac. */
int emu_scaled_formats(emu_layer *el, nr_err *err);
/* One converted group counted into c (NULL: nothing). */
void emu_scaled_count(nr_emu_scaled_counts *c, const nr_scaled_group *g);
/* The smallest and largest positive scale of a scale format (1, 1 for NULL). */
void emu_scale_range(const nr_scaled *s, double *lo, double *hi);
/* One operand of a scaled dot product along a line: term k's element value
 * p[k*stride], its group's scale sc[k / block] (sc NULL: unscaled, X = 1). */
typedef struct emu_dot_operand {
    const double *p;
    size_t stride;
    const double *sc;
    int block;
} emu_dot_operand;
/* [scl-seq] the dot product of K terms (bias: the start value before its
 * rounding to the outer format, or NULL) in the layer's mac. */
double emu_dot_scaled_line(emu *E, const emu_layer *el, uint64_t elem, const double *bias, int K,
                           const emu_dot_operand *w, const emu_dot_operand *a,
                           nr_emu_layer_stats *st);
double emu_mac_scaled(emu *E, const emu_layer *el, const geom *g, int o, int oh, int ow,
                      nr_emu_layer_stats *st);

/* emu_seq.c: the sequence ops ([op-seq]); emu_attn.c their dot products
 * (linear, matmul). */
int emu_seq_prepare(emu *E, emu_layer *el, nr_err *err);
void emu_seq_run(emu *E, int li);
/* [op-nl] f(x) correctly rounded into el->nf (counted into c). */
double emu_seq_nl(const emu *E, const emu_layer *el, nr_nlfn fn, const nr_format *xf,
                  double x, uint64_t elem, nr_emu_counts *c);
/* src[0..n) rounded once to the layer's weight format into a malloc'ed
 * *dst ([net-1], SR term term, counted as weights). */
int emu_seq_round_tensor(emu *E, emu_layer *el, const double *src, size_t n, uint32_t term,
                         double **dst, nr_err *err);
/* The exact a * b rounded once to f; one [op-softmax] line of n values at
 * stride s from base (for emu_seq_lm.c). */
double emu_seq_mul(const emu *E, const emu_layer *el, const nr_format *f, double a, double b,
                   uint64_t elem, uint32_t term, nr_emu_counts *c);
void emu_seq_softmax_line(emu *E, const emu_layer *el, const double *x, double *y, size_t base,
                          size_t s, int n, nr_emu_layer_stats *st);
/* emu_seq_lm.c: the causal language model ops ([op-lm]) and the token-id
 * network input ([op-embedding]: exact, each id checked; 0 or NR_ERANGE). */
int emu_lm_prepare(emu *E, emu_layer *el, nr_err *err);
void emu_lm_run(emu *E, int li);
int emu_lm_input(emu *E, const float *in, int sample, nr_err *err);
/* emu_seq_fast.c: the fp32 rne fast path of the element-wise sequence ops. */
int emu_seq_fast_ok(const emu_layer *el);
int emu_seq_fast(emu *E, int li); /* 1 when it ran the layer */
int emu_attn_prepare(emu *E, emu_layer *el, nr_err *err);
int emu_is_fp32(const nr_format *f); /* f is IEEE binary32 */
void emu_attn_run(emu *E, int li);
/* emu_seq_scaled.c ([scl-seq]): linear and matmul with scaled operands,
 * a block mac or promote. */
int emu_seq_scaled_prepare(emu *E, emu_layer *el, nr_err *err);
void emu_seq_scaled_run(emu *E, int li, double *out);

/* emu_ops.c: every other op. */
int emu_ops_check(const nr_layer *L, nr_err *err);
void emu_ops_run(emu *E, int li);

#endif
