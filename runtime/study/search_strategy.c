/* search_strategy.c -- the fast search's score: the R^2 of a configuration
 * with the part that saturating the last layer's outputs explains removed
 * (issue 15, docs/search.md "Clipped logits").
 *
 * A saturating format with few integer (or exponent) bits clamps the large
 * logits to its largest value.  That lowers R^2 a lot and changes no argmax
 * as long as fp32's winner is the only output clamped, so the fastest
 * passing configuration is often not an R^2 record and the stepping over
 * records cannot reach it.  What clamping alone does is known without
 * running the configuration: clamp fp32's own outputs on the R^2 inputs to
 * the format's range.  Taking the configuration's outputs as fp32's plus
 * two independent noises, the clamp's and the rest, 1/R^2 - 1 is the sum
 * of their noise-to-signal ratios, so the rest has
 *     1/R2_rest = 1/R^2 - 1/R2_clip + 1.
 * The correction applies only where the clamp is harmless for the answer on
 * the R^2 inputs: on every one of them fp32's winner keeps a strictly
 * positive margin after clamping (a tie or a lost lead is a real error, and
 * the raw R^2 is kept). */
#include "search.h"

#include <math.h>
#include <stdlib.h>

/* Does clamping to [lo, hi] keep every sample's fp32 winner strictly
 * ahead?  y: samples x k outputs. */
static int clamp_keeps_winners(const float *y, int samples, int k, double lo, double hi)
{
    for (int s = 0; s < samples; s++) {
        const float *v = y + (size_t)s * (size_t)k;
        int w = nr_eval_argmax(v, k);
        if (w < 0)
            return 0;
        double best = fmin(fmax((double)v[w], lo), hi);
        for (int j = 0; j < k; j++)
            if (j != w && !(fmin(fmax((double)v[j], lo), hi) < best))
                return 0;
    }
    return 1;
}

double nr_search_clip_r2(const nr_format *f, const float *yref, int samples, int k)
{
    size_t n = (size_t)samples * (size_t)k;
    if (!f->saturate || n == 0)
        return 1.0;
    double lo = f->lowest, hi = f->max_finite;
    int clipped = 0;
    for (size_t i = 0; i < n && !clipped; i++)
        clipped = (double)yref[i] > hi || (double)yref[i] < lo;
    if (!clipped)
        return 1.0;
    if (!clamp_keeps_winners(yref, samples, k, lo, hi))
        return NAN;
    float *c = malloc(n * sizeof *c);
    if (!c)
        return NAN;
    for (size_t i = 0; i < n; i++)
        c[i] = (float)fmin(fmax((double)yref[i], lo), hi);
    double r = nr_predictor_r2(c, yref, n);
    free(c);
    return r;
}

double nr_search_score(double r2, double r2_clip)
{
    if (!(r2 > 0) || !(r2_clip > 0) || r2_clip >= 1)
        return r2;
    double inv = 1.0 / r2 - 1.0 / r2_clip + 1.0;
    return inv <= 1.0 ? 1.0 : 1.0 / inv;
}
