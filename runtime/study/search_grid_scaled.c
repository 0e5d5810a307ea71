/* search_grid_scaled.c -- scaled formats in the precision search
 * (`numrep search --grid scaled | all`, issue #13): the configurations
 * (OCP MX presets and their element formats with blocks of 16, 32 and 64,
 * NVFP4 with blocks of 16/32/64, int8/int4 per-channel weights with dynamic
 * or calibrated per-tensor activations, int8/int4 with fp32 block scales),
 * priced by the scaled cost model (cost_scaled.c), and the model of one:
 * the -p NAME precision ([scl-dot-preset]: rne, block-fp32, channel
 * granularity block-exact), calibrated ones with static activation scales
 * from the fp32 network ([scl-cal-*], amax) on up to 256 samples outside
 * the search's slice (after it, else before it: never the samples the
 * configuration is evaluated on).  Scaled
 * configurations ignore --rounding/--mac: they keep the hardware's own. */
#include "calibrate.h"
#include "search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The grid: a name, and 1 when its activations are calibrated. */
static const struct {
    const char *name;
    int calibrated;
} grid[] = {
    {"mxfp8", 0}, {"e4m3@b16:e8m0", 0}, {"e4m3@b64:e8m0", 0},
    {"mxfp8e5m2", 0}, {"e5m2@b16:e8m0", 0}, {"e5m2@b64:e8m0", 0},
    {"mxfp6e3m2", 0}, {"e3m2@b16:e8m0", 0}, {"e3m2@b64:e8m0", 0},
    {"mxfp6e2m3", 0}, {"e2m3@b16:e8m0", 0}, {"e2m3@b64:e8m0", 0},
    {"mxfp4", 0}, {"e2m1@b16:e8m0", 0}, {"e2m1@b64:e8m0", 0},
    {"mxint8", 0}, {"q1.6@b16:e8m0", 0}, {"q1.6@b64:e8m0", 0},
    {"nvfp4", 0}, {"e2m1@b32:nv", 0}, {"e2m1@b64:nv", 0},
    {"int8@channel", 0}, {"int8@channel", 1}, {"int4@channel", 0}, {"int4@channel", 1},
    {"int8@b16:fp32", 0}, {"int8@b32:fp32", 0}, {"int8@b64:fp32", 0},
    {"int4@b16:fp32", 0}, {"int4@b32:fp32", 0}, {"int4@b64:fp32", 0},
};
#define NGRID ((int)(sizeof grid / sizeof grid[0]))

int nr_search_space_add_scaled(const nr_cost_model *cm, nr_search_cfg **cfg, int *n, nr_err *err)
{
    nr_search_cfg *c = realloc(*cfg, ((size_t)*n + NGRID) * sizeof *c);
    if (!c)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    *cfg = c;
    for (int i = 0; i < NGRID; i++) {
        nr_search_cfg *s = &c[*n];
        memset(s, 0, sizeof *s);
        int rc = nr_scaled_parse(grid[i].name, &s->scaled, err);
        nr_cost_scaled cost;
        if (rc || (rc = nr_cost_scaled_mac(cm, &s->scaled, &cost, err)))
            return rc;
        s->fmt = s->scaled.elem;
        s->calibrated = grid[i].calibrated;
        nr_scaled_name(&s->scaled, s->name, sizeof s->name);
        if (s->calibrated) /* the activations' static scales: -p NAME+cal */
            strncat(s->name, "+cal", sizeof s->name - strlen(s->name) - 1);
        s->speedup = cost.total.speedup;
        s->speedup_fixed_clock = cost.total.speedup_fixed_clock;
        s->energy_ratio = cost.total.energy_ratio;
        ++*n;
    }
    return 0;
}

int nr_search_calib_slice(int64_t total, int64_t first, int64_t count, int64_t want,
                          int64_t *cfirst, int64_t *ccount)
{
    int64_t end = first + count, after = total > end ? total - end : 0;
    int64_t before = first < total ? first : total;
    if (after >= want || after >= before) /* the samples right after the slice */
        *cfirst = end, *ccount = after < want ? after : want;
    else /* the samples right before it */
        *ccount = before < want ? before : want, *cfirst = first - *ccount;
    return *ccount > 0 ? 0 : -1;
}

/* A calibrated configuration's precision: the dynamic one's, with the
 * activation scales from the fp32 network on samples outside the slice
 * ([scl-search]: out of sample, nr_search_calib_slice). */
static int calibrated_prec(const nr_model *target, const nr_search_scaled_env *env,
                           nr_precision **out, nr_err *err)
{
    nr_calibration cal;
    nr_cal_opts o;
    nr_cal_opts_init(&o);
    if (nr_search_calib_slice(nr_dataset_count(env->ds), env->first, env->count,
                              NR_SEARCH_CALIB_SAMPLES, &o.first, &o.samples))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search",
                          "calibrated (+cal) configurations calibrate on samples outside the "
                          "evaluated ones, and the evaluated samples [%lld, %lld) are the whole "
                          "data set: evaluate fewer samples",
                          (long long)env->first, (long long)(env->first + env->count));
    o.engine_open = env->engine_open;
    o.engine_ctx = env->engine_ctx;
    o.engine = env->engine;
    o.jobs = env->jobs;
    int rc = nr_calibrate_tensors(target, &cal, err);
    if (!rc)
        rc = nr_calibrate_run(target, env->ds, &o, &cal, err);
    char *text = rc ? NULL : nr_calibrate_yaml(target, &cal, NULL, err);
    if (!rc && !text)
        rc = err->code ? -err->code : -NR_EINTERNAL;
    if (!rc)
        rc = nr_precision_parse_string(text, "calibrated search configuration", out, err);
    free(text);
    nr_cal_calibration_free(&cal);
    return rc;
}

int nr_search_scaled_model(const char *net, const nr_search_cfg *cfg,
                           const nr_search_scaled_env *env, nr_model **m, nr_err *err)
{
    *m = NULL;
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    int rc = nr_spec_load(net, &s, err);
    if (!rc && !(rc = nr_precision_uniform_scaled(&cfg->scaled, &p, err)) && cfg->calibrated) {
        nr_model *target = NULL;
        nr_spec *s2 = NULL;
        nr_precision *p2 = NULL;
        if (!(rc = nr_spec_load(net, &s2, err)) &&
            !(rc = nr_precision_uniform_scaled(&cfg->scaled, &p2, err)))
            rc = nr_model_build(s2, p2, NULL, 0, &target, err); /* takes s2, p2 */
        else
            nr_spec_free(s2);
        nr_precision_free(p);
        p = NULL;
        if (!rc)
            rc = calibrated_prec(target, env, &p, err);
        nr_model_free(target);
    }
    if (rc) {
        nr_spec_free(s);
        nr_precision_free(p);
        return rc;
    }
    return nr_model_build(s, p, NULL, 0, m, err);
}

void nr_search_scaled_key(const nr_search_cfg *cfg, char *formats, size_t nf, char *rounding,
                          size_t nr, char *mac, size_t nm)
{
    snprintf(formats, nf, "%s", cfg->name);
    snprintf(rounding, nr, "rne");
    snprintf(mac, nm, "%s", cfg->scaled.gran == NR_GRAN_CHANNEL ? "block-exact" : "block-fp32");
}
