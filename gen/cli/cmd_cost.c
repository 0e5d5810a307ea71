/* cmd_cost.c -- `numrep cost FMT`: area, delay and energy of a MAC unit in
 * a format, and its speedup / energy ratio against an fp32 MAC.  The model
 * is runtime/study/cost.c; this file parses options and lays the numbers out. */
#include "cli.h"
#include "cost.h"
#include "scaled.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_head[] =
    "usage: numrep cost FMT [--products FMT] [--accumulator FMT]\n"
    "                       [--calibration FILE.yaml] [--json]\n"
    "\n"
    "Hardware cost of one multiply-accumulate unit: a multiplier of FMT\n"
    "operands rounding into the products format, then an adder in the\n"
    "accumulator format (both default to FMT: a same-format MAC).  Prints\n"
    "area, critical-path delay and energy of each unit and of an fp32 MAC\n"
    "under the same model, and the ratios:\n"
    "  speedup at equal area = (MACs that fit in the fp32 MAC's area)\n"
    "                          x (clock gain from the shorter critical path)\n"
    "  fixed clock           = area ratio alone\n"
    "  energy ratio          = fp32 MAC energy / MAC energy\n"
    "A scaled FMT (mxfp4, nvfp4, int8@channel, ...) gets the cost of its\n"
    "dot-product unit per MAC: element multipliers, the block's integer adder\n"
    "tree, one scale unit and one fp32 accumulator adder per block, amortised\n"
    "over the block (docs/cost-model.md, \"Scaled formats\").\n"
    "FMT is a float eXmY (any variant) or fixed qI.F / uqI.F; see\n"
    "'numrep format --help'.  Operands, products and accumulator must all be\n"
    "float or all fixed point.  The default model is a fit of published 45 nm\n"
    "figures (docs/cost-model.md); absolute units are um^2, ns and pJ.\n"
    "\n"
    "options:\n";
typedef struct opts {
    const char *fmt, *products, *acc, *calib;
    int json;
} opts;

static int extra(const char *cmd, const char *first, const char *arg)
{
    return cli_usage(cmd, "one format expected, got \"%s\" and \"%s\"", first, arg);
}

static const gen_opt cost_table[] = {
    {.name = "products", .kind = GEN_OPT_STR, .off = offsetof(opts, products), .arg = "FMT",
     .help = "format the multiplier rounds its products to"},
    {.name = "accumulator", .kind = GEN_OPT_STR, .off = offsetof(opts, acc), .arg = "FMT",
     .help = "format of the adder and the running sum"},
    {.name = "calibration", .kind = GEN_OPT_STR, .off = offsetof(opts, calib), .arg = "FILE",
     .help = "refit the model on your own synthesis results:\n"
             "points: [{unit: mult|add, format: FMT, area: A,\n"
             "delay: D, energy: E}, ...] (any of the three;\n"
             "mult points may give products: FMT)"},
    {.name = "json", .kind = GEN_OPT_FLAG, .off = offsetof(opts, json),
     .help = "print one JSON object instead of text"},
    {0}};

static const cli_cmd cost_cmd = {
    .name = "cost",
    .opts = cost_table,
    .usage = usage_head,
    .usage_end = "\nexit status: 0 ok, 1 bad format or calibration file, 2 usage error\n",
    .col = 22,
    .list_help = 1,
    .quote = '"',
    .need = "a value",
    .npos = 1,
    .extra = extra,
};

/* 0 ok, 1 --help printed, 2 usage error printed */
static int parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    int rc = cli_opts_parse(&cost_cmd, argc, argv, o, &o->fmt);
    if (rc)
        return rc < 0 ? 1 : rc;
    if (!o->fmt)
        return cli_usage("cost", "missing FMT (a format name such as e6m7, fp16, q3.4)");
    return 0;
}

/* Parse a format, naming the option it came from in the error. */
static int get_format(const char *name, const char *where, nr_format *f, nr_err *e)
{
    nr_err tmp = {0};
    if (nr_format_parse(name, f, &tmp) == 0)
        return 0;
    return nr_err_set(e, tmp.code, NULL, 0, 0, where, "%s", tmp.msg);
}

static void json_metrics(const char *key, const double v[NR_COST_METRICS])
{
    printf("  \"%s\": {\"area\": %.10g, \"delay\": %.10g, \"energy\": %.10g},\n", key,
           v[NR_COST_AREA], v[NR_COST_DELAY], v[NR_COST_ENERGY]);
}

static void print_json(const opts *o, const char *names[3], const nr_cost_model *m,
                       const nr_cost *c)
{
    printf("{\n  \"operands\": ");
    cli_json_str(names[0]);
    printf(",\n  \"products\": ");
    cli_json_str(names[1]);
    printf(",\n  \"accumulator\": ");
    cli_json_str(names[2]);
    printf(",\n  \"calibration\": ");
    if (o->calib)
        cli_json_str(o->calib);
    else
        printf("null");
    printf(",\n  \"units\": {\"area\": \"um^2\", \"delay\": \"ns\", \"energy\": \"pJ\"},\n");
    json_metrics("multiplier", c->mul);
    json_metrics("adder", c->add);
    json_metrics("mac", c->mac);
    json_metrics("fp32_mac", c->ref);
    printf("  \"area_ratio\": %.10g,\n  \"clock_gain\": %.10g,\n  \"speedup\": %.10g,\n"
           "  \"speedup_fixed_clock\": %.10g,\n  \"energy_ratio\": %.10g,\n",
           c->area_ratio, c->clock_gain, c->speedup, c->speedup_fixed_clock, c->energy_ratio);
    printf("  \"model\": [");
    for (int u = 0; u < NR_COST_UNITS; u++)
        for (int k = 0; k < NR_COST_METRICS; k++)
            printf("%s\n    {\"unit\": \"%s\", \"metric\": \"%s\", \"coef\": [%.10g, %.10g], "
                   "\"origin\": \"%s\", \"points\": %d, \"max_rel_error\": %.6g}",
                   u || k ? "," : "", nr_cost_unit_name((nr_cost_unit)u),
                   nr_cost_metric_name((nr_cost_metric)k), m->coef[u][k][0], m->coef[u][k][1],
                   nr_cost_origin_name(m->origin[u][k]), m->npoints[u][k],
                   m->max_relerr[u][k]);
    printf("\n  ]\n}\n");
}

static void row_w(int w, const char *label, const double v[NR_COST_METRICS])
{
    printf("%-*s %12.1f %11.3f %12.4f\n", w, label, v[NR_COST_AREA], v[NR_COST_DELAY],
           v[NR_COST_ENERGY]);
}

static void row(const char *label, const double v[NR_COST_METRICS]) { row_w(12, label, v); }

static void print_text(const opts *o, const char *names[3], const nr_cost_model *m,
                       const nr_cost *c)
{
    printf("operands      %s\nproducts      %s\naccumulator   %s\n", names[0], names[1],
           names[2]);
    printf("model         %s\n\n", o->calib ? o->calib : "default (45 nm fit, docs/cost-model.md)");
    printf("%-12s %12s %11s %12s\n", "", "area um^2", "delay ns", "energy pJ");
    row("multiplier", c->mul);
    row("adder", c->add);
    row("MAC", c->mac);
    row("fp32 MAC", c->ref);
    printf("\n");
    printf("area ratio                          %.3f  (fp32 MAC area / MAC area)\n",
           c->area_ratio);
    printf("clock gain                          %.3f  (fp32 MAC delay / MAC delay)\n",
           c->clock_gain);
    printf("speedup at equal area               %.3f  (area ratio x clock gain)\n", c->speedup);
    printf("speedup at equal area, fixed clock  %.3f  (area ratio)\n", c->speedup_fixed_clock);
    printf("energy ratio                        %.3f  (fp32 MAC energy / MAC energy)\n",
           c->energy_ratio);
    if (!o->calib)
        return;
    printf("\n%-10s %-7s %12s %12s  %-8s %6s %10s\n", "unit", "metric", "c0", "c1", "origin",
           "points", "max error");
    for (int u = 0; u < NR_COST_UNITS; u++)
        for (int k = 0; k < NR_COST_METRICS; k++) {
            printf("%-10s %-7s %12.6g %12.6g  %-8s %6d", nr_cost_unit_name((nr_cost_unit)u),
                   nr_cost_metric_name((nr_cost_metric)k), m->coef[u][k][0], m->coef[u][k][1],
                   nr_cost_origin_name(m->origin[u][k]), m->npoints[u][k]);
            if (m->npoints[u][k])
                printf(" %9.1f%%", 100 * m->max_relerr[u][k]);
            printf("\n");
        }
}

/* A scaled format's dot-product unit, per MAC (nr_cost_scaled_mac). */
static int cost_scaled(const opts *o, const nr_cost_model *m)
{
    nr_scaled s;
    nr_cost_scaled c;
    nr_err e = {0};
    char name[160];
    if (o->products || o->acc)
        return cli_usage("cost", "--products / --accumulator are for plain formats; a scaled "
                         "format's unit is fixed (docs/cost-model.md)");
    if (nr_scaled_parse(o->fmt, &s, &e) || nr_cost_scaled_mac(m, &s, &c, &e))
        return cli_error(&e);
    nr_scaled_name(&s, name, sizeof name);
    double k = c.block;
    if (o->json) {
        printf("{\n  \"format\": ");
        cli_json_str(name);
        printf(",\n  \"block\": %d,\n  \"tree_bits\": %d,\n", c.block, c.tree_bits);
        printf("  \"units\": {\"area\": \"um^2\", \"delay\": \"ns\", \"energy\": \"pJ\"},\n");
        json_metrics("multiplier", c.mul);
        json_metrics("tree_adder", c.tree);
        json_metrics("scale_unit", c.scale);
        json_metrics("accumulator", c.acc);
        json_metrics("per_mac", c.total.mac);
        json_metrics("fp32_mac", c.total.ref);
        printf("  \"area_ratio\": %.10g,\n  \"clock_gain\": %.10g,\n  \"speedup\": %.10g,\n"
               "  \"speedup_fixed_clock\": %.10g,\n  \"energy_ratio\": %.10g\n}\n",
               c.total.area_ratio, c.total.clock_gain, c.total.speedup,
               c.total.speedup_fixed_clock, c.total.energy_ratio);
        return 0;
    }
    printf("format        %s (%g bits per element)\n", name, nr_scaled_bits(&s));
    printf("model         %s\n", o->calib ? o->calib : "default (45 nm fit, docs/cost-model.md)");
    if (s.gran == NR_GRAN_BLOCK)
        printf("unit          per block of %d: %d element multipliers, %d adders of %d bits "
               "(tree), 1 scale unit, 1 fp32 adder\n\n", c.block, c.block, c.block - 1,
               c.tree_bits);
    else
        printf("unit          per MAC: 1 element multiplier, 1 accumulator adder (the %s "
               "scale is applied once per output)\n\n", nr_scaled_gran_name(s.gran));
    printf("%-22s %12s %11s %12s\n", "", "area um^2", "delay ns", "energy pJ");
    row_w(22, "element multiplier", c.mul);
    if (c.block > 1)
        row_w(22, "tree adder", c.tree);
    if (s.gran == NR_GRAN_BLOCK)
        row_w(22, "scale unit", c.scale);
    row_w(22, "accumulator adder", c.acc);
    row_w(22, "per MAC", c.total.mac);
    row_w(22, "fp32 MAC", c.total.ref);
    if (s.gran == NR_GRAN_BLOCK)
        printf("\nper MAC = multiplier + tree adder x %g/%g + (scale + accumulator) / %g; "
               "delay = one cycle of the unit\n\n", k - 1, k, k);
    else
        printf("\nper MAC = multiplier + accumulator adder; delay = their sum\n\n");
    printf("area ratio                          %.3f  (fp32 MAC area / area per MAC)\n",
           c.total.area_ratio);
    printf("clock gain                          %.3f  (fp32 MAC delay / unit delay)\n",
           c.total.clock_gain);
    printf("speedup at equal area               %.3f  (area ratio x clock gain)\n", c.total.speedup);
    printf("speedup at equal area, fixed clock  %.3f  (area ratio)\n", c.total.speedup_fixed_clock);
    printf("energy ratio                        %.3f  (fp32 MAC energy / energy per MAC)\n",
           c.total.energy_ratio);
    return 0;
}

int cmd_cost(int argc, char **argv)
{
    opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    nr_err e = {0};
    if (nr_scaled_is_name(o.fmt)) {
        nr_cost_model sm = nr_cost_default;
        if (o.calib && nr_cost_calibrate(o.calib, &sm, &e))
            return cli_error(&e);
        return cost_scaled(&o, &sm);
    }
    nr_format f[3];
    nr_cost_model m = nr_cost_default;
    nr_cost c;
    if (get_format(o.fmt, "FMT", &f[0], &e) ||
        get_format(o.products ? o.products : o.fmt, "--products", &f[1], &e) ||
        get_format(o.acc ? o.acc : o.fmt, "--accumulator", &f[2], &e))
        return cli_error(&e);
    if (o.calib && nr_cost_calibrate(o.calib, &m, &e))
        return cli_error(&e);
    if (nr_cost_mac(&m, &f[0], &f[1], &f[2], &c, &e))
        return cli_error(&e);
    char buf[3][96];
    const char *names[3] = {buf[0], buf[1], buf[2]};
    for (int i = 0; i < 3; i++)
        nr_format_name(&f[i], buf[i], sizeof buf[i]);
    if (o.json)
        print_json(&o, names, &m, &c);
    else
        print_text(&o, names, &m, &c);
    return 0;
}
