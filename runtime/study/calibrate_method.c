/* calibrate_method.c -- a tensor's threshold T and scale X from its
 * calibration statistics ([scl-cal-method]): amax, percentile:P, or the
 * scale among amax * 2^(-k/16), k = 0..79, that minimizes the histogram's
 * quantization error.  X = nr_scaled_tensor_scale of the tensor's format
 * for T (its dynamic rule; static: fp32/ue4m3 amax, e8m0 floor; nv: the
 * fp32 tensor scale T / (448 * elem_max), [scl-nv-static]; no mse). */
#include "calibrate.h"

#include <math.h>
#include <stdlib.h>

#define MSE_STEPS 80 /* candidates amax * 2^(-k/16), k < MSE_STEPS: down to ~amax/31 */

static double percentile_threshold(const nr_cal_tensor *t, double p)
{
    uint64_t n = 0;
    for (int b = 0; b < NR_CAL_BINS; b++)
        n += t->hist[b];
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)n), cum = 0;
    if (want == 0)
        return 0;
    for (int b = 0; b < NR_CAL_BINS; b++) {
        cum += t->hist[b];
        if (cum >= want) {
            double hi = nr_cal_bin_hi(b);
            return hi < t->amax ? hi : t->amax;
        }
    }
    return t->amax;
}

/* sum n_b (c_b - X q(c_b / X))^2 over the non-empty bins (c, n). */
static double quant_error(const nr_format *e, double X, const double *c, const double *n, int nb)
{
    double sum = 0;
    for (int i = 0; i < nb; i++) {
        double y = c[i] / X, q;
        if (y >= e->max_finite) {
            q = e->max_finite; /* [scl-elem] clipped */
        } else {
            unsigned fl = 0;
            q = nr_decode(e, nr_encode(e, NR_RND_RNE, y, 0, &fl));
        }
        double d = c[i] - X * q;
        sum += n[i] * d * d;
    }
    return sum;
}

static int mse_choose(nr_cal_tensor *t, nr_err *err)
{
    int nb = 0;
    for (int b = 0; b < NR_CAL_BINS; b++)
        nb += t->hist[b] != 0;
    double *c = malloc(((size_t)nb + 1) * sizeof *c), *n = malloc(((size_t)nb + 1) * sizeof *n);
    if (!c || !n) {
        free(c);
        free(n);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
    }
    nb = 0;
    for (int b = 0; b < NR_CAL_BINS; b++)
        if (t->hist[b]) {
            double v = nr_cal_bin_centre(b);
            c[nb] = v < t->amax ? v : t->amax;
            n[nb++] = (double)t->hist[b];
        }
    double best = INFINITY, prevX = 0;
    for (int k = 0; k < MSE_STEPS; k++) {
        double T = t->amax * exp2(-k / 16.0);
        double X = nr_scaled_tensor_scale(&t->fmt, T);
        if (!(X > 0) || X == prevX)
            continue;
        prevX = X;
        double e = quant_error(&t->fmt.elem, X, c, n, nb);
        if (e < best) { /* ties keep the smaller k */
            best = e;
            t->threshold = T;
            t->scale = X;
        }
    }
    free(c);
    free(n);
    return 0;
}

int nr_calibrate_method_check(const nr_cal_tensor *t, nr_cal_method m, nr_err *err)
{
    if (m == NR_CAL_MSE && t->fmt.scale == NR_SCALE_NV) /* [scl-nv-static] */
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, t->name,
                          "--method mse: not defined for nv (nvfp4) activations, whose "
                          "ue4m3 block scales stay dynamic, so the tensor's error does not "
                          "follow from its histogram; use amax or percentile:P");
    return 0;
}

int nr_calibrate_choose(nr_cal_tensor *t, nr_cal_method m, double percentile, nr_err *err)
{
    t->threshold = t->amax;
    if (m == NR_CAL_PERCENTILE && t->hist)
        t->threshold = percentile_threshold(t, percentile);
    t->scale = nr_scaled_tensor_scale(&t->fmt, t->threshold);
    int rc = nr_calibrate_method_check(t, m, err);
    if (rc)
        return rc;
    if (m == NR_CAL_MSE && t->hist && t->amax > 0) {
        if ((rc = mse_choose(t, err)))
            return rc;
    }
    if (!(t->scale > 0) || !isfinite(t->scale))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, t->name,
                          "no valid scale for threshold %g (amax %g)", t->threshold, t->amax);
    return 0;
}
