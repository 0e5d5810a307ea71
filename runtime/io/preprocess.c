/* preprocess.c -- declared input preprocessing: stored uint8 image -> float32
 * tensor.  The resize reproduces PIL 9.4's ImagingResample with the BILINEAR
 * filter byte for byte (coefficients in double, normalised, converted to
 * 22-bit fixed point; horizontal pass then vertical pass, each rounded and
 * clipped to 8 bits), because MobileNet's published accuracy on the ImageNet
 * samples was measured with exactly that resize. */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nr_preprocess_init(nr_preprocess *p)
{
    memset(p, 0, sizeof *p);
    p->layout = NR_LAYOUT_CHW;
    p->divisor = 255.0f;
    for (int c = 0; c < 3; c++)
        p->std[c] = 1.0f;
}

/* Upper bound on any image side we accept (keeps every product in range). */
#define MAX_SIDE 65536

int nr_preprocess_check(const nr_preprocess *p, nr_err *err)
{
    if (p->layout != NR_LAYOUT_CHW && p->layout != NR_LAYOUT_HWC)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.layout",
                          "expected CHW or HWC");
    if (p->channels != 0 && p->channels != 1 && p->channels != 3)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.channels",
                          "expected 1 or 3 (or 0 = as stored), got %d", p->channels);
    if (p->resize_short < 0 || p->resize_short > MAX_SIDE)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.resize",
                          "expected 0 (none) or 1..%d, got %d", MAX_SIDE, p->resize_short);
    if (p->resize_h < 0 || p->resize_w < 0 || p->resize_h > MAX_SIDE || p->resize_w > MAX_SIDE ||
        (p->resize_h == 0) != (p->resize_w == 0))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.resize",
                          "expected both exact sizes 0 (none) or both in 1..%d, got %dx%d",
                          MAX_SIDE, p->resize_h, p->resize_w);
    if (p->resize_h && p->resize_short)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.resize",
                          "expected a shorter side or an exact size, not both");
    if (p->bgr != 0 && p->bgr != 1)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.bgr",
                          "expected 0 or 1, got %d", p->bgr);
    if (p->crop_h < 0 || p->crop_w < 0 || p->crop_h > MAX_SIDE || p->crop_w > MAX_SIDE ||
        (p->crop_h == 0) != (p->crop_w == 0))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.crop",
                          "expected both sizes 0 (none) or both in 1..%d, got %dx%d", MAX_SIDE,
                          p->crop_h, p->crop_w);
    if (!(isfinite(p->divisor) && p->divisor > 0))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.scale",
                          "expected a positive finite divisor, got %g", (double)p->divisor);
    for (int c = 0; c < 3; c++) {
        if (!isfinite(p->mean[c]))
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.mean",
                              "mean[%d] must be finite", c);
        if (!isfinite(p->std[c]) || p->std[c] == 0)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "preprocess.std",
                              "std[%d] must be finite and nonzero, got %g", c, (double)p->std[c]);
    }
    return 0;
}

/* Size after the resize step: the exact size when one is given, else the
 * other side is round(side*S/short) with Python's round (half to even): the
 * quotient is correctly rounded in double as in Python, and rint() rounds
 * half to even. */
static void resized(const nr_preprocess *p, int h, int w, int *rh, int *rw)
{
    *rh = h, *rw = w;
    if (p->resize_h) {
        *rh = p->resize_h, *rw = p->resize_w;
        return;
    }
    if (!p->resize_short)
        return;
    int s = p->resize_short, sh = h < w ? h : w;
    *rh = h == sh ? s : (int)rint((double)h * s / sh);
    *rw = w == sh ? s : (int)rint((double)w * s / sh);
    if (*rh < 1)
        *rh = 1;
    if (*rw < 1)
        *rw = 1;
}

int nr_preprocess_shape(const nr_preprocess *p, int h, int w, int c, int shape[3],
                        const char *file, nr_err *err)
{
    if (h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        return nr_err_set(err, NR_ESHAPE, file, 0, 0, NULL,
                          "image size %dx%d: expected sides in 1..%d", w, h, MAX_SIDE);
    if (c != 1 && c != 3)
        return nr_err_set(err, NR_EUNSUP, file, 0, 0, NULL,
                          "image has %d channels: expected 1 or 3", c);
    int oc = p->channels ? p->channels : c;
    if (oc == 1 && c == 3)
        return nr_err_set(err, NR_EUNSUP, file, 0, 0, "preprocess.channels",
                          "RGB images cannot be turned into 1 channel: expected channels 3");
    int rh, rw;
    resized(p, h, w, &rh, &rw);
    if (rh > MAX_SIDE || rw > MAX_SIDE)
        return nr_err_set(err, NR_ESHAPE, file, 0, 0, "preprocess.resize",
                          "resized image %dx%d is larger than %d", rw, rh, MAX_SIDE);
    int oh = rh, ow = rw;
    if (p->crop_h) {
        if (p->crop_h > rh || p->crop_w > rw)
            return nr_err_set(err, NR_ESHAPE, file, 0, 0, "preprocess.crop",
                              "crop %dx%d does not fit the %simage of %dx%d", p->crop_w,
                              p->crop_h, p->resize_short || p->resize_h ? "resized " : "",
                              rw, rh);
        oh = p->crop_h, ow = p->crop_w;
    }
    if (p->layout == NR_LAYOUT_CHW)
        shape[0] = oc, shape[1] = oh, shape[2] = ow;
    else
        shape[0] = oh, shape[1] = ow, shape[2] = oc;
    return 0;
}

/* ---------------------------------------------------------------- PIL resize */

#define PREC_BITS 22 /* PIL: 32 - 8 (result) - 2 (headroom) */

/* One axis of PIL's precompute_coeffs + normalize_coeffs_8bpc for the
 * bilinear (triangle, support 1) filter.  Output positions first..first+n-1
 * of out_size; for each, the first input index, the tap count and ksize
 * fixed-point weights.  Each double operation is the one PIL performs, in
 * the same order, so the rounded weights are identical. */
typedef struct axis {
    int ksize;
    int *lo, *cnt;
    int32_t *k;
} axis;

static double tri(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static int axis_make(axis *a, int in_size, int out_size, int first, int n)
{
    /* PIL computes in1 - in0 in float (box corners are floats). */
    double scale = (double)((float)in_size - 0.0f) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    a->ksize = (int)ceil(support) * 2 + 1;
    a->lo = malloc(sizeof(int) * (size_t)n);
    a->cnt = malloc(sizeof(int) * (size_t)n);
    a->k = malloc(sizeof(int32_t) * (size_t)n * (size_t)a->ksize);
    double *w = malloc(sizeof(double) * (size_t)a->ksize);
    if (!a->lo || !a->cnt || !a->k || !w) {
        free(w);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int xx = first + i;
        double center = 0.0f + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        if (xmax > a->ksize) /* cannot happen: the support bounds the span */
            xmax = a->ksize;
        for (int x = 0; x < xmax; x++) {
            w[x] = tri((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = a->k + (size_t)i * a->ksize;
        for (int x = 0; x < a->ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PREC_BITS))
                         : (int32_t)(0.5 + v * (1 << PREC_BITS));
        }
        a->lo[i] = xmin;
        a->cnt[i] = xmax;
    }
    free(w);
    return 0;
}

static void axis_free(axis *a)
{
    free(a->lo);
    free(a->cnt);
    free(a->k);
}

/* PIL's clip8: the accumulator carries a rounding half, so the shift is
 * round-to-nearest; the weights of a triangle are never negative, but clip
 * both ends as PIL does. */
static uint8_t clip8(int32_t s)
{
    if (s < 0)
        return 0;
    s >>= PREC_BITS;
    return s > 255 ? 255 : (uint8_t)s;
}

/* Resize to rh x rw and keep the window (oy, ox, oh, ow) of the result.
 * Every output pixel depends only on its own coefficients, so computing just
 * the window gives the bytes PIL would have in that window. */
static int resize_window(const uint8_t *px, int h, int w, int c, int rh, int rw, int oy,
                         int ox, int oh, int ow, uint8_t *out)
{
    axis ax = {0}, ay = {0};
    uint8_t *tmp = NULL;
    int rc = -1;
    if (axis_make(&ax, w, rw, ox, ow) || axis_make(&ay, h, rh, oy, oh))
        goto done;
    /* Source rows the vertical pass reads. */
    int y0 = ay.lo[0], y1 = y0;
    for (int i = 0; i < oh; i++) {
        if (ay.lo[i] < y0)
            y0 = ay.lo[i];
        if (ay.lo[i] + ay.cnt[i] > y1)
            y1 = ay.lo[i] + ay.cnt[i];
    }
    tmp = malloc((size_t)(y1 - y0 > 0 ? y1 - y0 : 1) * (size_t)ow * (size_t)c);
    if (!tmp)
        goto done;
    for (int y = y0; y < y1; y++) { /* horizontal pass */
        const uint8_t *src = px + (size_t)y * w * c;
        uint8_t *dst = tmp + (size_t)(y - y0) * ow * c;
        for (int i = 0; i < ow; i++) {
            const int32_t *k = ax.k + (size_t)i * ax.ksize;
            const uint8_t *s = src + (size_t)ax.lo[i] * c;
            for (int ch = 0; ch < c; ch++) {
                int32_t acc = 1 << (PREC_BITS - 1);
                for (int x = 0; x < ax.cnt[i]; x++)
                    acc += s[(size_t)x * c + ch] * k[x];
                dst[(size_t)i * c + ch] = clip8(acc);
            }
        }
    }
    for (int j = 0; j < oh; j++) { /* vertical pass */
        const int32_t *k = ay.k + (size_t)j * ay.ksize;
        const uint8_t *s = tmp + (size_t)(ay.lo[j] - y0) * ow * c;
        uint8_t *dst = out + (size_t)j * ow * c;
        for (int i = 0; i < ow * c; i++) {
            int32_t acc = 1 << (PREC_BITS - 1);
            for (int y = 0; y < ay.cnt[j]; y++)
                acc += s[(size_t)y * ow * c + i] * k[y];
            dst[i] = clip8(acc);
        }
    }
    rc = 0;
done:
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return rc;
}

int nr_preprocess_resize_crop(const nr_preprocess *p, const uint8_t *px, int h, int w, int c,
                              uint8_t *out, int oh, int ow, nr_err *err)
{
    int rh, rw;
    resized(p, h, w, &rh, &rw);
    if (oh > rh || ow > rw)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "preprocess",
                          "window %dx%d larger than image %dx%d", ow, oh, rw, rh);
    int oy = (rh - oh) / 2, ox = (rw - ow) / 2; /* floor: both are >= 0 */
    if (rh == h && rw == w) {
        /* PIL skips both passes when the size does not change (and each
         * pass would be the identity anyway). */
        for (int y = 0; y < oh; y++)
            memcpy(out + (size_t)y * ow * c, px + ((size_t)(y + oy) * w + ox) * c,
                   (size_t)ow * c);
        return 0;
    }
    if (resize_window(px, h, w, c, rh, rw, oy, ox, oh, ow, out))
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "preprocess", "out of memory resizing");
    return 0;
}

int nr_preprocess_apply(const nr_preprocess *p, const uint8_t *px, int h, int w, int c,
                        float *out, const char *file, nr_err *err)
{
    int shape[3];
    int rc = nr_preprocess_shape(p, h, w, c, shape, file, err);
    if (rc)
        return rc;
    int oc, oh, ow;
    if (p->layout == NR_LAYOUT_CHW)
        oc = shape[0], oh = shape[1], ow = shape[2];
    else
        oh = shape[0], ow = shape[1], oc = shape[2];
    const uint8_t *img = px;
    uint8_t *buf = NULL;
    if (oh != h || ow != w) {
        buf = malloc((size_t)oh * ow * c);
        if (!buf)
            return nr_err_set(err, NR_ENOMEM, file, 0, 0, NULL, "out of memory");
        rc = nr_preprocess_resize_crop(p, px, h, w, c, buf, oh, ow, err);
        if (rc) {
            free(buf);
            return rc;
        }
        img = buf;
    }
    size_t plane = (size_t)oh * ow;
    for (int ch = 0; ch < oc; ch++) {
        int sc = c == 1 ? 0 : p->bgr && oc == 3 ? 2 - ch : ch; /* 1 -> 3 replicates gray */
        float div = p->divisor, mean = p->mean[ch], sd = p->std[ch];
        for (size_t i = 0; i < plane; i++) {
            float x = (float)img[i * c + sc] / div;
            x = (x - mean) / sd;
            if (p->layout == NR_LAYOUT_CHW)
                out[ch * plane + i] = x;
            else
                out[i * oc + ch] = x;
        }
    }
    free(buf);
    return 0;
}
