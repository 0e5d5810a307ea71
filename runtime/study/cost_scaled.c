/* cost_scaled.c -- hardware cost of a dot-product unit for a scaled format
 * (docs/cost-model.md, "Scaled formats"), composed from cost.c's calibrated
 * units, amortised per MAC:
 *   - an element multiplier per MAC (exact products);
 *   - a block's adder tree: k - 1 integer adders per block of k, wide enough
 *     to add the k exact products in fixed point;
 *   - the scale unit, once per block: an 8-bit exponent adder for e8m0
 *     (X_a * X_w is a power of two), a ue4m3 multiplier for ue4m3 / nv,
 *     an fp32 multiplier for fp32 scales;
 *   - an fp32 adder per block adding the scaled block sum to the running sum.
 * Tensor and channel scales are applied once per output: such a MAC is an
 * element multiplier and an accumulator adder (fp32 for float elements,
 * int32 for integer ones), as in an int8 / fp8 GEMM.  No published figure of
 * an MX unit is used: only the unit model's own calibration. */
#include "cost.h"
#include "scaled.h"

#include <math.h>
#include <string.h>

/* Bits of an element's magnitude as an integer multiple of its smallest
 * positive value. */
static int mag_bits(const nr_format *f)
{
    if (f->kind == NR_FIXED)
        return f->int_bits + f->frac_bits;
    return (int)ceil(log2(f->max_finite / f->min_subnormal + 1));
}

static int ceil_log2(int k)
{
    int b = 0;
    while ((1 << b) < k)
        b++;
    return b;
}

/* The units of one group; tree and scale stay zero when absent. */
static int units(const nr_cost_model *m, const nr_scaled *s, nr_cost_scaled *c, nr_err *err)
{
    const nr_format *e = &s->elem;
    nr_format prod, t, fp32, sf;
    int rc = nr_format_float(&fp32, 8, 23, err);
    if (rc)
        return rc;
    prod = *e;
    if (e->kind == NR_FLOAT && (rc = nr_format_float(&prod, e->exp_bits + 1,
                                                     e->man_bits * 2 + 1, err)))
        return rc; /* the exact product: twice the significand, one more exponent bit */
    if ((rc = nr_cost_unit_eval(m, 1, e, &prod, c->mul, err)))
        return rc;
    if (s->gran != NR_GRAN_BLOCK) {
        c->block = 1;
        if (e->kind == NR_FIXED && (rc = nr_format_fixed(&t, 31, 0, 1, err)))
            return rc;
        return nr_cost_unit_eval(m, 0, e->kind == NR_FIXED ? &t : &fp32, NULL, c->acc, err);
    }
    c->block = s->block;
    if (s->block > 1) {
        int w = 2 * mag_bits(e) + 1 + ceil_log2(s->block);
        c->tree_bits = w > 64 ? 64 : w;
        if ((rc = nr_format_fixed(&t, c->tree_bits - 1, 0, 1, err)) ||
            (rc = nr_cost_unit_eval(m, 0, &t, NULL, c->tree, err)))
            return rc;
    }
    switch (s->scale) {
    case NR_SCALE_E8M0:
        rc = nr_format_fixed(&sf, 7, 0, 1, err);
        if (rc == 0)
            rc = nr_cost_unit_eval(m, 0, &sf, NULL, c->scale, err);
        break;
    case NR_SCALE_FP32: rc = nr_cost_unit_eval(m, 1, &fp32, NULL, c->scale, err); break;
    default: /* ue4m3 x ue4m3, exact product e5m7 */
        rc = nr_format_float(&sf, 4, 3, err);
        if (rc == 0)
            rc = nr_format_float(&prod, 5, 7, err);
        if (rc == 0)
            rc = nr_cost_unit_eval(m, 1, &sf, &prod, c->scale, err);
        break;
    }
    if (rc == 0)
        rc = nr_cost_unit_eval(m, 0, &fp32, NULL, c->acc, err);
    return rc;
}

int nr_cost_scaled_mac(const nr_cost_model *m, const nr_scaled *s, nr_cost_scaled *out,
                       nr_err *err)
{
    nr_cost_scaled c;
    memset(&c, 0, sizeof c);
    int rc = nr_scaled_check(s, "scaled format", err);
    if (rc == 0)
        rc = units(m, s, &c, err);
    nr_format fp32;
    nr_cost ref;
    if (rc == 0)
        rc = nr_format_float(&fp32, 8, 23, err);
    if (rc == 0)
        rc = nr_cost_mac(m, &fp32, NULL, NULL, &ref, err);
    if (rc)
        return rc;
    const double k = c.block;
    nr_cost *t = &c.total;
    for (int j = 0; j < NR_COST_METRICS; j++) {
        t->ref[j] = ref.mac[j];
        t->mul[j] = c.mul[j];
        if (j == NR_COST_DELAY) { /* one cycle: multiply, tree (scale beside it), accumulate */
            t->add[j] = fmax(ceil_log2(c.block) * c.tree[j], c.scale[j]) + c.acc[j];
        } else {
            t->add[j] = c.tree[j] * (k - 1) / k + (c.scale[j] + c.acc[j]) / k;
        }
        t->mac[j] = t->mul[j] + t->add[j];
    }
    nr_cost_set_ratios(t);
    *out = c;
    return 0;
}
