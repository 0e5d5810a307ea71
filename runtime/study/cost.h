/* cost.h -- hardware cost model of a multiply-accumulate unit: area,
 * critical-path delay and energy of a multiplier (operand format into the
 * products format) followed by an adder (accumulator format), and the
 * ratios against an fp32 MAC that the precision search ranks formats by.
 *
 * The model is linear in its coefficients: every (unit, metric) pair is
 * c0*b0 + c1*b1 over two basis functions of the format's bit widths (see
 * docs/cost-model.md for the basis and where the default coefficients come
 * from).  That makes a refit on a user's own synthesis results a small
 * weighted linear least-squares problem (nr_cost_fit). */
#ifndef NUMREP_COST_H
#define NUMREP_COST_H

#include "numrep.h"

/* The four unit kinds the model knows; a MAC is one multiplier and one
 * adder of the kind its formats call for (float or integer). */
typedef enum {
    NR_COST_FPMUL = 0, /* float multiplier: p x p significands, exponent add, round */
    NR_COST_FPADD,     /* float adder: align, add, normalise, round             */
    NR_COST_INTMUL,    /* n x n integer multiplier (fixed point qI.F, n = width)  */
    NR_COST_INTADD,    /* n-bit integer adder                                    */
    NR_COST_UNITS
} nr_cost_unit;

typedef enum {
    NR_COST_AREA = 0,  /* um^2 in the default model (45 nm)                     */
    NR_COST_DELAY,     /* ns, combinational critical path                       */
    NR_COST_ENERGY,    /* pJ per operation                                      */
    NR_COST_METRICS
} nr_cost_metric;

#define NR_COST_NCOEF 2

/* Where a (unit, metric) group's coefficients came from. */
typedef enum {
    NR_COST_DEFAULT = 0, /* shipped coefficients (no points for this group)     */
    NR_COST_FITTED,      /* least-squares fit of all coefficients to the points */
    NR_COST_SCALED,      /* too few / degenerate points: default shape, scaled  */
    NR_COST_ASSUMED      /* shipped but not calibrated on any published figure  */
} nr_cost_origin;

typedef struct nr_cost_model {
    double coef[NR_COST_UNITS][NR_COST_METRICS][NR_COST_NCOEF];
    nr_cost_origin origin[NR_COST_UNITS][NR_COST_METRICS];
    int npoints[NR_COST_UNITS][NR_COST_METRICS];      /* points used by the fit */
    double max_relerr[NR_COST_UNITS][NR_COST_METRICS]; /* worst |model/point - 1| */
} nr_cost_model;

/* The shipped model: the 45 nm fit of docs/calibration/mac-cost-points.md
 * section 4 (integer delays are assumed, see docs/cost-model.md). */
extern const nr_cost_model nr_cost_default;

/* Cost of one MAC in a format triple, and its ratios to an fp32 MAC under
 * the same model.  Ratios > 1 mean the format is better. */
typedef struct nr_cost {
    double mul[NR_COST_METRICS];   /* the multiplier                         */
    double add[NR_COST_METRICS];   /* the adder                              */
    double mac[NR_COST_METRICS];   /* area and energy summed; delay = mul + add
                                      (single-cycle, the product feeds the adder) */
    double ref[NR_COST_METRICS];   /* the fp32 MAC, same model               */
    double area_ratio;             /* ref area / area: units per fp32 area   */
    double clock_gain;             /* ref delay / delay                      */
    double speedup;                /* area_ratio * clock_gain (the seed paper's
                                      speedup at equal area)                  */
    double speedup_fixed_clock;    /* area_ratio alone                       */
    double energy_ratio;           /* ref energy / energy                    */
} nr_cost;

/* Cost of a MAC: operand x operand -> product (rounded to `product`), added
 * into `acc`.  product / acc NULL mean "same as operand".  All three must
 * be float or all fixed point (-NR_EUNSUP otherwise).  0 or -code. */
int nr_cost_mac(const nr_cost_model *m, const nr_format *operand, const nr_format *product,
                const nr_format *acc, nr_cost *out, nr_err *err);

/* The ratios of c from c->mac and c->ref. */
void nr_cost_set_ratios(nr_cost *c);

/* One unit: area/delay/energy of a multiplier (in: operands, out: product
 * format; out NULL = in) or an adder (in: the adder's format; out unused).
 * The unit kind follows the format kind.  0 or -code. */
int nr_cost_unit_eval(const nr_cost_model *m, int is_mul, const nr_format *in,
                      const nr_format *out, double v[NR_COST_METRICS], nr_err *err);

const char *nr_cost_unit_name(nr_cost_unit u);     /* "fp mult", ...         */
const char *nr_cost_metric_name(nr_cost_metric k); /* "area", ...            */
const char *nr_cost_origin_name(nr_cost_origin o); /* "default", "fitted", ... */

/* ------------------------------------------------------------ scaled formats
 * cost_scaled.c: a dot-product unit for a scaled format (docs/cost-model.md
 * "Scaled formats"), composed from the units above.  Per group of k
 * elements: k element multipliers (exact products), k - 1 integer adders of
 * tree_bits bits (the block's exact sum), one scale unit (e8m0: an 8-bit
 * exponent adder; ue4m3 / nv: a ue4m3 multiplier; fp32: an fp32
 * multiplier) and one fp32 adder into the running sum.  Tensor and channel
 * scales apply once per output: k = 1, an element multiplier and an
 * accumulator adder (fp32; int32 for integer elements). */
struct nr_scaled;
typedef struct nr_cost_scaled {
    int block;                      /* k (1 for tensor / channel scales)       */
    int tree_bits;                  /* width of the tree's adders (0: none)   */
    double mul[NR_COST_METRICS];    /* one element multiplier                 */
    double tree[NR_COST_METRICS];   /* one adder of the block's tree          */
    double scale[NR_COST_METRICS];  /* the scale unit (one per block)         */
    double acc[NR_COST_METRICS];    /* the accumulator adder                  */
    /* per MAC: total.mul = mul; total.add = the rest amortised (tree (k-1)/k,
     * (scale + acc)/k); total.mac = their sum for area and energy, and for
     * delay the unit's single-cycle critical path mul + max(log2(k) tree
     * adders, scale) + acc; total.ref the fp32 MAC; the ratios as nr_cost's */
    nr_cost total;
} nr_cost_scaled;

int nr_cost_scaled_mac(const nr_cost_model *m, const struct nr_scaled *s, nr_cost_scaled *out,
                       nr_err *err);

/* ------------------------------------------------------------ calibration */

/* One synthesis result.  has[k] says whether metric k was given. */
typedef struct nr_cost_point {
    int is_mul;
    nr_format format;              /* operands (mult) or the adder's format  */
    nr_format product;             /* mult only; = format when not given     */
    double v[NR_COST_METRICS];
    int has[NR_COST_METRICS];
    int line;                      /* where it was written (for reports)     */
} nr_cost_point;

/* Read a calibration file:
 *   points:
 *     - {unit: mult, format: fp16, area: 1640, energy: 1.1, delay: 2.1}
 * Optional per point: products (mult only), source (text).  Each point
 * needs at least one of area/delay/energy, each > 0.  On success *pts is
 * malloc'ed (free() it) and *n >= 1. */
int nr_cost_load_points(const char *path, nr_cost_point **pts, int *n, nr_err *err);

/* Refit: start from base, and for every (unit, metric) group with points,
 * minimise sum ((model - point) / point)^2 over non-negative coefficients.
 * A group with fewer points than coefficients, or points that cannot tell
 * the coefficients apart, keeps base's shape and fits one scale factor. */
int nr_cost_fit(const nr_cost_model *base, const nr_cost_point *pts, int n, nr_cost_model *out,
                nr_err *err);

/* nr_cost_load_points + nr_cost_fit from nr_cost_default. */
int nr_cost_calibrate(const char *path, nr_cost_model *out, nr_err *err);

#endif
