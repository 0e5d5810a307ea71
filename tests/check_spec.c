/* check_spec.c -- the YAML layer, the network spec parser and the
 * precision spec parser: fields and defaults as documented in
 * specs/README.md, positions of nodes, and bad input with the exact
 * message (inline cases here, file cases in tests/bad/spec_*.yaml and
 * prec_*.yaml, each carrying its expected message in its first line). */
#include "testutil.h"
#include "model.h"
#include "yaml_doc.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nr_spec *spec_ok(const char *text)
{
    nr_spec *s = NULL;
    nr_err e = {0};
    int rc = nr_spec_parse_string(text, "net.yaml", &s, &e);
    ck_assert_msg(rc == 0, "spec failed: %s", tu_errstr(&e));
    return s;
}

/* The formatted error must begin with `expect` (which includes file:line:col). */
static void spec_bad(const char *text, const char *expect)
{
    nr_spec *s = NULL;
    nr_err e = {0};
    int rc = nr_spec_parse_string(text, "net.yaml", &s, &e);
    ck_assert_msg(rc < 0 && s == NULL, "accepted: %s", text);
    ck_assert_int_eq(-rc, e.code);
    const char *got = tu_errstr(&e);
    ck_assert_msg(!strncmp(got, expect, strlen(expect)), "\n got: %s\nwant: %s", got, expect);
}

/* ---------------------------------------------------------------- yaml */

START_TEST(yaml_positions)
{
    const char *t = "a: 1\n"
                    "b:\n"
                    "  - x\n"
                    "  - {c: 'd', e: ~}\n";
    nr_yaml_doc *d;
    nr_err e = {0};
    ck_assert_int_eq(nr_yaml_parse(t, strlen(t), "f.yaml", &d, &e), 0);
    const nr_yaml_node *b = nr_yaml_get(d->root, "b");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->kind, NR_YAML_SEQ);
    ck_assert_int_eq(b->n, 2);
    ck_assert_int_eq(b->items[0]->line, 3);
    ck_assert_int_eq(b->items[0]->col, 5);
    const nr_yaml_node *m = b->items[1];
    ck_assert_int_eq(m->kind, NR_YAML_MAP);
    ck_assert_int_eq(m->line, 4);
    ck_assert_int_eq(m->col, 5);
    const nr_yaml_node *c = nr_yaml_get(m, "c");
    ck_assert_str_eq(c->text, "d");
    ck_assert_int_eq(c->quoted, 1);
    ck_assert_int_eq(c->line, 4);
    ck_assert_int_eq(c->col, 9);
    ck_assert_int_eq(nr_yaml_key(m, "e")->col, 14);
    ck_assert(nr_yaml_is_null(nr_yaml_get(m, "e")));
    ck_assert_ptr_null(nr_yaml_get(m, "zz"));
    int v;
    ck_assert_int_eq(nr_yaml_int(d, nr_yaml_get(d->root, "a"), "a", 0, 10, &v, &e), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(nr_yaml_int(d, nr_yaml_get(d->root, "a"), "a", 2, 10, &v, &e), -NR_ERANGE);
    ck_assert_str_eq(tu_errstr(&e), "f.yaml:1:4: a: expected an integer in [2, 10], got 1");
    nr_yaml_free(d);
}
END_TEST

static void yaml_bad(const char *text, const char *expect)
{
    nr_yaml_doc *d = NULL;
    nr_err e = {0};
    int rc = nr_yaml_parse(text, strlen(text), "y.yaml", &d, &e);
    ck_assert_msg(rc < 0 && d == NULL, "accepted: %s", text);
    const char *got = tu_errstr(&e);
    ck_assert_msg(!strncmp(got, expect, strlen(expect)), "\n got: %s\nwant: %s", got, expect);
}

START_TEST(yaml_errors)
{
    yaml_bad("a: 1\na: 2\n", "y.yaml:2:1: a: duplicate key (first at 1:1)");
    yaml_bad("x: {b: 1, c: [1, 2], b: 3}\n", "y.yaml:1:22: b: duplicate key (first at 1:5)");
    yaml_bad("a: 1\n---\nb: 2\n", "y.yaml:2:1: expected one YAML document, found a second one");
    yaml_bad("", "y.yaml:1:1: empty document");
    yaml_bad("# only a comment\n", "y.yaml:1:1: empty document");
    yaml_bad("a: &k 1\nb: *k\n", "y.yaml:2:4: YAML aliases (*k) are not supported");
    yaml_bad("? [1, 2]\n: 3\n", "y.yaml:1:3: expected a plain key, got a list");
    yaml_bad("a: [1, 2\n", "y.yaml:");
    yaml_bad("a: [1, 2\n", "y.yaml:");
    yaml_bad("a: \"abc\n", "y.yaml:");
    yaml_bad("a:\tb: c\n", "y.yaml:");
    /* nesting bound: 100 open brackets are refused before recursion gets deep */
    char deep[256];
    memset(deep, '[', 100);
    deep[100] = 0;
    yaml_bad(deep, "y.yaml:");
    char deep2[256];
    memset(deep2, '[', 70);
    memset(deep2 + 70, ']', 70);
    deep2[140] = 0;
    yaml_bad(deep2, "y.yaml:1:66: nesting deeper than 64 levels");
    /* embedded NUL in the input text is cut by libyaml or rejected, never read past */
    static const char nul[] = "a: \"x\\0y\"\n";
    yaml_bad(nul, "y.yaml:1:4: NUL character in a scalar");
}
END_TEST

START_TEST(yaml_typed)
{
    const char *t = "i: two\nj: 99999999999999999999\nd: 1e-5\nh: 0x10\nn: nan\nb: yes\nq: maybe\n";
    nr_yaml_doc *d;
    nr_err e = {0};
    ck_assert_int_eq(nr_yaml_parse(t, strlen(t), "t.yaml", &d, &e), 0);
    int v;
    double x;
    ck_assert_int_lt(nr_yaml_int(d, nr_yaml_get(d->root, "i"), "i", 0, 9, &v, &e), 0);
    ck_assert_str_eq(tu_errstr(&e), "t.yaml:1:4: i: expected an integer, got \"two\"");
    nr_err_clear(&e);
    ck_assert_int_eq(nr_yaml_int(d, nr_yaml_get(d->root, "j"), "j", 0, 9, &v, &e), -NR_ERANGE);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_yaml_double(d, nr_yaml_get(d->root, "d"), "d", &x, &e), 0);
    ck_assert(x == 1e-5);
    ck_assert_int_lt(nr_yaml_double(d, nr_yaml_get(d->root, "h"), "h", &x, &e), 0);
    nr_err_clear(&e);
    ck_assert_int_lt(nr_yaml_double(d, nr_yaml_get(d->root, "n"), "n", &x, &e), 0);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_yaml_bool(d, nr_yaml_get(d->root, "b"), "b", &v, &e), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_lt(nr_yaml_bool(d, nr_yaml_get(d->root, "q"), "q", &v, &e), 0);
    ck_assert_str_eq(tu_errstr(&e), "t.yaml:7:4: q: expected true or false, got \"maybe\"");
    nr_yaml_free(d);
}
END_TEST

/* ---------------------------------------------------------------- spec */

START_TEST(spec_lenet)
{
    nr_spec *s = spec_ok("name: lenet5\n"
                         "input: {shape: [1, 28, 28]}\n"
                         "weights: lenet5.safetensors\n"
                         "layers:\n"
                         "  - {name: conv1, op: conv, out: 6, kernel: 5, pad: 2}\n"
                         "  - {name: relu1, op: relu}\n"
                         "  - {name: pool1, op: maxpool, kernel: 2}\n"
                         "  - {name: flat, op: flatten}\n"
                         "  - {name: fc3, op: dense, out: 10, bias: false}\n"
                         "output: fc3\n");
    ck_assert_str_eq(s->name, "lenet5");
    ck_assert_str_eq(s->path, "net.yaml");
    ck_assert_str_eq(s->weights, "lenet5.safetensors"); /* net.yaml has no directory */
    ck_assert_int_eq(s->in_shape[0], 1);
    ck_assert_int_eq(s->in_shape[2], 28);
    ck_assert_int_eq(s->nlayers, 5);
    const nr_layer_spec *c = &s->layers[0];
    ck_assert_int_eq(c->op, NR_OP_CONV);
    ck_assert_int_eq(c->line, 5);
    ck_assert_int_eq(c->col, 5);
    ck_assert_int_eq(c->out, 6);
    ck_assert_int_eq(c->kernel[0], 5);
    ck_assert_int_eq(c->kernel[1], 5);
    ck_assert_int_eq(c->stride[0], 1);
    ck_assert_int_eq(c->dilation[1], 1);
    ck_assert_int_eq(c->groups, 1);
    ck_assert_int_eq(c->bias, -1);
    ck_assert_int_eq(c->pad_mode, NR_PAD_EXPLICIT);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(c->pad[i], 2);
    ck_assert_int_eq(c->ninputs, 0);
    const nr_layer_spec *p = &s->layers[2];
    ck_assert_int_eq(p->op, NR_OP_MAXPOOL);
    ck_assert_int_eq(p->stride[0], 2); /* pools: stride defaults to the kernel */
    ck_assert_int_eq(p->stride[1], 2);
    ck_assert_int_eq(p->ceil_mode, 0);
    ck_assert_int_eq(s->layers[4].bias, 0);
    ck_assert_str_eq(s->output, "fc3");
    nr_spec_free(s);
}
END_TEST

START_TEST(spec_all_params)
{
    nr_spec *s = spec_ok(
        "input: {shape: [3, 32, 32]}\n"
        "layers:\n"
        "  - {name: c, op: conv, out: 8, kernel: [3, 5], stride: [1, 2], pad: [1, 2, 3, 4],\n"
        "     dilation: 2, groups: 1, bias: true}\n"
        "  - {name: c2, op: conv, out: 8, kernel: 3, pad: [1, 2], groups: 8}\n"
        "  - {name: c3, op: conv, out: 8, kernel: 3, pad: same, stride: 2}\n"
        "  - {name: c4, op: conv, out: 8, kernel: 3, pad: valid}\n"
        "  - {name: r6, op: relu6}\n"
        "  - {name: cl, op: clip, min: -1.5, max: 2}\n"
        "  - {name: ap, op: avgpool, kernel: 3, stride: 1, pad: 1, ceil_mode: true,\n"
        "     count_include_pad: false}\n"
        "  - {name: bn, op: batchnorm, eps: 0.001}\n"
        "  - {name: bn2, op: batchnorm}\n"
        "  - {name: s, op: slice, h: [0, end, 2], w: [1, -1], c: [-4]}\n"
        "  - {name: pd, op: pad, c: [0, 4], h: 1}\n"
        "  - {name: cat, op: concat, inputs: [s, pd, input]}\n"
        "  - {name: l, op: lrn, size: 5, alpha: 0.0002}\n"
        "  - {name: sm, op: softmax, input: l}\n"
        "  - {name: dr, op: dropout}\n"
        "  - {name: g, op: global_avgpool}\n"
        "  - {name: a, op: add, inputs: [g, g]}\n");
    ck_assert_str_eq(s->name, "net"); /* default: the file name without extension */
    ck_assert_str_eq(s->output, "a"); /* default: the last layer */
    const nr_layer_spec *L = s->layers;
    ck_assert_int_eq(L[0].kernel[0], 3);
    ck_assert_int_eq(L[0].kernel[1], 5);
    ck_assert_int_eq(L[0].stride[0], 1);
    ck_assert_int_eq(L[0].stride[1], 2);
    ck_assert_int_eq(L[0].pad[0], 1);
    ck_assert_int_eq(L[0].pad[1], 2);
    ck_assert_int_eq(L[0].pad[2], 3);
    ck_assert_int_eq(L[0].pad[3], 4);
    ck_assert_int_eq(L[0].dilation[0], 2);
    ck_assert_int_eq(L[0].dilation[1], 2);
    ck_assert_int_eq(L[0].bias, 1);
    /* [h, w] pads: top = bottom = h, left = right = w */
    ck_assert_int_eq(L[1].pad[0], 1);
    ck_assert_int_eq(L[1].pad[1], 2);
    ck_assert_int_eq(L[1].pad[2], 1);
    ck_assert_int_eq(L[1].pad[3], 2);
    ck_assert_int_eq(L[1].groups, 8);
    ck_assert_int_eq(L[2].pad_mode, NR_PAD_SAME);
    ck_assert_int_eq(L[3].pad_mode, NR_PAD_VALID);
    ck_assert(L[4].clip_lo == 0 && L[4].clip_hi == 6);
    ck_assert(L[5].clip_lo == -1.5 && L[5].clip_hi == 2);
    ck_assert_int_eq(L[6].op, NR_OP_AVGPOOL);
    ck_assert_int_eq(L[6].stride[0], 1);
    ck_assert_int_eq(L[6].ceil_mode, 1);
    ck_assert_int_eq(L[6].count_include_pad, 0);
    ck_assert(L[7].eps == 0.001);
    ck_assert(L[8].eps == 1e-5);
    ck_assert_int_eq(L[9].slice_start[1], 0);
    ck_assert_int_eq(L[9].slice_stop[1], INT32_MAX);
    ck_assert_int_eq(L[9].slice_step[1], 2);
    ck_assert_int_eq(L[9].slice_start[2], 1);
    ck_assert_int_eq(L[9].slice_stop[2], -1);
    ck_assert_int_eq(L[9].slice_step[2], 1);
    ck_assert_int_eq(L[9].slice_start[0], -4);
    ck_assert_int_eq(L[9].slice_stop[0], INT32_MAX);
    ck_assert_int_eq(L[10].pad_before[0], 0);
    ck_assert_int_eq(L[10].pad_after[0], 4);
    ck_assert_int_eq(L[10].pad_before[1], 1);
    ck_assert_int_eq(L[10].pad_after[1], 1);
    ck_assert_int_eq(L[10].pad_before[2], 0);
    ck_assert_int_eq(L[11].ninputs, 3);
    ck_assert_str_eq(L[11].inputs[2], "input");
    ck_assert_int_eq(L[12].lrn_size, 5);
    ck_assert(L[12].lrn_alpha == 0.0002 && L[12].lrn_beta == 0.75 && L[12].lrn_k == 1.0);
    ck_assert_int_eq(L[13].ninputs, 1);
    ck_assert_str_eq(L[13].inputs[0], "l");
    ck_assert_int_eq(L[16].op, NR_OP_ADD);
    ck_assert_int_eq(s->nlayers, 17);
    nr_spec_free(s);
}
END_TEST

START_TEST(spec_weights_path)
{
    nr_spec *s = NULL;
    nr_err e = {0};
    const char *t = "input: {shape: [1, 2, 2]}\nweights: w.safetensors\nlayers: [{name: a, op: relu}]\n";
    ck_assert_int_eq(nr_spec_parse_string(t, "specs/sub/lenet.yaml", &s, &e), 0);
    ck_assert_str_eq(s->weights, "specs/sub/w.safetensors");
    ck_assert_str_eq(s->name, "lenet");
    nr_spec_free(s);
    t = "input: {shape: [1, 2, 2]}\nweights: /abs/w.safetensors\nlayers: [{name: a, op: relu}]\n";
    ck_assert_int_eq(nr_spec_parse_string(t, "specs/lenet.yaml", &s, &e), 0);
    ck_assert_str_eq(s->weights, "/abs/w.safetensors");
    nr_spec_free(s);
}
END_TEST

START_TEST(spec_bad_inline)
{
#define HDR "input: {shape: [1, 8, 8]}\nlayers:\n"
    spec_bad(HDR "  - {name: a, op: relu, out: 3}\n",
             "net.yaml:3:25: layers[0].out: unknown field (expected one of: name op input inputs)");
    spec_bad(HDR "  - {name: a, op: conv, out: 3, kernel: [3, 3, 3]}\n",
             "net.yaml:3:41: layers[0].kernel: expected an integer or [h, w], got a list of 3");
    spec_bad(HDR "  - {name: a, op: conv, out: 3, kernel: [3, x]}\n",
             "net.yaml:3:45: layers[0].kernel: expected an integer, got \"x\"");
    spec_bad(HDR "  - {name: a, op: conv, out: 3, kernel: 0}\n",
             "net.yaml:3:41: layers[0].kernel: expected an integer in [1, 65536], got 0");
    spec_bad(HDR "  - {name: a, op: conv, out: 3, kernel: 3, bias: maybe}\n",
             "net.yaml:3:50: layers[0].bias: expected true or false, got \"maybe\"");
    spec_bad(HDR "  - {name: a, op: clip, min: 1}\n",
             "net.yaml:3:5: layers[0].max: missing required field 'max'");
    spec_bad(HDR "  - {name: a, op: clip, min: 3, max: 1}\n",
             "net.yaml:3:38: layers[0].max: expected max >= min (3), got 1");
    spec_bad(HDR "  - {name: a, op: clip, min: low, max: 1}\n",
             "net.yaml:3:30: layers[0].min: expected a number, got \"low\"");
    spec_bad(HDR "  - {name: a, op: batchnorm, eps: 0}\n",
             "net.yaml:3:35: layers[0].eps: expected a positive number, got 0");
    spec_bad(HDR "  - {name: a, op: slice}\n",
             "net.yaml:3:5: layers[0]: slice needs at least one of the fields c, h, w");
    spec_bad(HDR "  - {name: a, op: slice, h: [0, 4, 0]}\n",
             "net.yaml:3:36: layers[0].h: expected an integer in [1, 16777216], got 0");
    spec_bad(HDR "  - {name: a, op: slice, h: [0, last]}\n",
             "net.yaml:3:33: layers[0].h: expected an integer or end for stop, got \"last\"");
    spec_bad(HDR "  - {name: a, op: slice, h: 3}\n",
             "net.yaml:3:29: layers[0].h: expected [start, stop] or [start, stop, step], got \"3\"");
    spec_bad(HDR "  - {name: a, op: pad, w: [1, 2, 3]}\n",
             "net.yaml:3:27: layers[0].w: expected an integer or [before, after], got a list of 3");
    spec_bad(HDR "  - {name: a, op: pad, w: -1}\n",
             "net.yaml:3:27: layers[0].w: expected an integer in [0, 16777216], got -1");
    spec_bad(HDR "  - {name: a, op: relu, input: x, inputs: [y]}\n",
             "net.yaml:3:32: layers[0].input: give either input or inputs, not both");
    spec_bad(HDR "  - {name: a, op: concat, inputs: [input]}\n",
             "net.yaml:3:35: layers[0].inputs: concat takes 2 or more inputs, got 1");
    spec_bad(HDR "  - {name: a, op: concat, inputs: []}\n",
             "net.yaml:3:35: layers[0].inputs: expected a list of 1 to 8 layer names, got a list of 0");
    spec_bad(HDR "  - {name: 'a b', op: relu}\n",
             "net.yaml:3:12: layers[0].name: expected a name of letters, digits and _ . - /, got \"a b\"");
    spec_bad(HDR "  - {name: input, op: relu}\n",
             "net.yaml:3:12: layers[0].name: 'input' is reserved for the network input");
    spec_bad(HDR "  - {name: a, op: [relu]}\n",
             "net.yaml:3:19: layers[0].op: unknown op a list of 1 (expected one of: conv dense");
    spec_bad(HDR "  - relu\n", "net.yaml:3:5: layers[0]: expected a mapping {name: ..., op: ...}, got \"relu\"");
    spec_bad(HDR "  - {op: relu}\n", "net.yaml:3:5: layers[0].name: missing required field 'name'");
    spec_bad("layers: [{name: a, op: relu}]\n",
             "net.yaml:1:1: input: missing required field 'input' ({shape: [C, H, W]})");
    spec_bad("input: {shape: [1, 0, 3]}\nlayers: [{name: a, op: relu}]\n",
             "net.yaml:1:20: input.shape: expected an integer in [1, 16777216], got 0");
    spec_bad("input: {shape: [4096, 4096, 4096]}\nlayers: [{name: a, op: relu}]\n",
             "net.yaml:1:16: input.shape: more than 2^31-1 elements");
    spec_bad("input: {shape: [1, 2, 2], dtype: f32}\nlayers: [{name: a, op: relu}]\n",
             "net.yaml:1:27: input.dtype: unknown field (expected one of: shape layout channel_order divisor mean std resize crop)");
    spec_bad("- 1\n- 2\n", "net.yaml:1:1: expected a mapping, got a list of 2");
    spec_bad("input: {shape: [1, 2, 2]}\n", "net.yaml:1:1: layers: expected a non-empty list of layers, got nothing");
    char longname[200];
    snprintf(longname, sizeof longname, HDR "  - {name: %0120d, op: relu}\n", 7);
    spec_bad(longname, "net.yaml:3:12: layers[0].name: longer than 95 characters");
#undef HDR
}
END_TEST

/* ---------------------------------------------------------------- precision */

static nr_precision *prec_ok(const char *text)
{
    nr_precision *p = NULL;
    nr_err e = {0};
    int rc = nr_precision_parse_string(text, "prec.yaml", &p, &e);
    ck_assert_msg(rc == 0, "precision failed: %s", tu_errstr(&e));
    return p;
}

static void fmt_is(const nr_format *f, const char *name)
{
    nr_format want = tu_fmt(name);
    char a[64], b[64];
    nr_format_name(f, a, sizeof a);
    nr_format_name(&want, b, sizeof b);
    ck_assert_msg(nr_format_equal(f, &want), "got %s, want %s (%s)", a, b, name);
}

START_TEST(prec_issue_example)
{
    nr_precision *p = prec_ok("default: {weights: e6m7-finite-nosub-sat, activations: same, "
                              "products: same, accumulator: same, rounding: rz, mac: unfused}\n"
                              "layers:\n"
                              "  fc3: {accumulator: fp32}\n");
    fmt_is(&p->dflt.weights, "e6m7-finite-nosub-sat");
    fmt_is(&p->dflt.activations, "e6m7-finite-nosub-sat");
    fmt_is(&p->dflt.accumulator, "e6m7-finite-nosub-sat");
    ck_assert_int_eq(p->dflt.rounding, NR_RND_RZ);
    ck_assert_int_eq(p->dflt.mac, NR_MAC_UNFUSED);
    ck_assert_int_eq(p->seed, 0);
    ck_assert_int_eq(p->noverrides, 1);
    ck_assert_str_eq(p->overrides[0].layer, "fc3");
    ck_assert_int_eq(p->overrides[0].line, 3);
    ck_assert_int_eq(p->overrides[0].col, 3);
    ck_assert_uint_eq(p->overrides[0].set, NR_ROLE_ACCUMULATOR);
    nr_layer_prec lp;
    nr_precision_layer(p, "fc3", NULL, &lp);
    fmt_is(&lp.accumulator, "fp32");
    fmt_is(&lp.products, "e6m7-finite-nosub-sat");
    ck_assert_int_eq(lp.rounding, NR_RND_RZ);
    nr_precision_layer(p, "fc2", NULL, &lp);
    fmt_is(&lp.accumulator, "e6m7-finite-nosub-sat");
    nr_precision_layer(p, "conv9", "fc3", &lp); /* fc3 as a folded batchnorm's name */
    fmt_is(&lp.accumulator, "fp32");
    nr_precision_free(p);
}
END_TEST

START_TEST(prec_defaults_and_same)
{
    /* nothing given: fp32 everywhere, rne, unfused */
    nr_precision *p = prec_ok("seed: 18446744073709551615\n");
    fmt_is(&p->dflt.weights, "fp32");
    fmt_is(&p->dflt.activations, "fp32");
    fmt_is(&p->dflt.products, "fp32");
    fmt_is(&p->dflt.accumulator, "fp32");
    ck_assert_int_eq(p->dflt.rounding, NR_RND_RNE);
    ck_assert_int_eq(p->dflt.mac, NR_MAC_UNFUSED);
    ck_assert(p->seed == UINT64_MAX);
    nr_precision_free(p);

    /* omitted roles are `same`: they follow the weights, also in an override */
    p = prec_ok("default: {weights: fp16, accumulator: fp32, mac: fused}\n"
                "layers:\n"
                "  a: {weights: bf16}\n"
                "  b: {weights: e4m3, activations: fp32, rounding: sr, mac: exact}\n"
                "  c: {accumulator: same}\n"
                "seed: 7\n");
    ck_assert(p->seed == 7);
    fmt_is(&p->dflt.activations, "fp16");
    fmt_is(&p->dflt.accumulator, "fp32");
    nr_layer_prec lp;
    nr_precision_layer(p, "a", NULL, &lp);
    fmt_is(&lp.weights, "bf16");
    fmt_is(&lp.activations, "bf16");
    fmt_is(&lp.products, "bf16");
    fmt_is(&lp.accumulator, "fp32"); /* written explicitly in default: stays */
    ck_assert_int_eq(lp.mac, NR_MAC_FUSED);
    nr_precision_layer(p, "b", NULL, &lp);
    fmt_is(&lp.weights, "e4m3");
    fmt_is(&lp.activations, "fp32");
    fmt_is(&lp.products, "e4m3");
    ck_assert_int_eq(lp.rounding, NR_RND_SR);
    ck_assert_int_eq(lp.mac, NR_MAC_EXACT);
    nr_precision_layer(p, "c", NULL, &lp);
    fmt_is(&lp.accumulator, "fp16");
    nr_precision_free(p);
}
END_TEST

START_TEST(prec_long_form)
{
    nr_precision *p = prec_ok("default:\n"
                              "  weights: {exp: 4, man: 3, specials: fn}\n"
                              "  activations: {fixed: {int: 3, frac: 4, signed: true}}\n"
                              "  accumulator: {name: e5m10, subnormals: false}\n");
    fmt_is(&p->dflt.weights, "e4m3-fn");
    fmt_is(&p->dflt.activations, "q3.4");
    fmt_is(&p->dflt.accumulator, "fp16-nosub");
    fmt_is(&p->dflt.products, "e4m3-fn");
    nr_precision_free(p);
}
END_TEST

static void prec_bad(const char *text, const char *expect)
{
    nr_precision *p = NULL;
    nr_err e = {0};
    int rc = nr_precision_parse_string(text, "prec.yaml", &p, &e);
    ck_assert_msg(rc < 0 && p == NULL, "accepted: %s", text);
    const char *got = tu_errstr(&e);
    ck_assert_msg(!strncmp(got, expect, strlen(expect)), "\n got: %s\nwant: %s", got, expect);
}

START_TEST(prec_bad_inline)
{
    prec_bad("default: {weights: [fp16]}\n",
             "prec.yaml:1:20: default.weights: expected a format name, a format mapping or "
             "same, got a list");
    prec_bad("default: {weights: {exp: 4, man: {a: {b: 1}}}}\n",
             "prec.yaml:1:38: default.weights: expected a scalar format field, got a mapping");
    prec_bad("default: {weights: {exp: 4, mantissa: 3}}\n", "prec.yaml:1:20: default.weights.");
    prec_bad("default: fp16\n", "prec.yaml:1:10: default: expected a mapping, got \"fp16\"");
    prec_bad("layers: {a: fp16}\n", "prec.yaml:1:13: layers.a: expected a mapping, got \"fp16\"");
    prec_bad("default: {weights: fp16}\nextra: 1\n",
             "prec.yaml:2:1: extra: unknown field (expected one of: default layers seed scales ops)");
    prec_bad("seed: 18446744073709551616\n",
             "prec.yaml:1:7: seed: expected an integer in [0, 2^64-1], got \"18446744073709551616\"");
    prec_bad("seed: 0x10\n", "prec.yaml:1:7: seed: expected an integer in [0, 2^64-1]");
}
END_TEST

START_TEST(prec_from_arg)
{
    nr_precision *p = NULL;
    nr_err e = {0};
    ck_assert_int_eq(nr_precision_from_arg("e5m2", &p, &e), 0);
    fmt_is(&p->dflt.weights, "e5m2");
    fmt_is(&p->dflt.activations, "e5m2");
    fmt_is(&p->dflt.products, "e5m2");
    fmt_is(&p->dflt.accumulator, "e5m2");
    ck_assert_int_eq(p->dflt.rounding, NR_RND_RNE);
    ck_assert_int_eq(p->dflt.mac, NR_MAC_UNFUSED);
    ck_assert_int_eq(p->noverrides, 0);
    ck_assert_str_eq(p->path, "");
    nr_precision_free(p);
    p = NULL;
    ck_assert_int_lt(nr_precision_from_arg("e99m1", &p, &e), 0);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(e.where, "-p");
    nr_err_clear(&e);
    ck_assert_int_eq(nr_precision_from_arg("/nonexistent/p.yaml", &p, &e), -NR_EIO);
    ck_assert_str_eq(e.file, "/nonexistent/p.yaml");
}
END_TEST

/* ---------------------------------------------------------------- tests/bad files */

/* A tiny network for precision files whose override names must be checked. */
static const char *bad_net = "input: {shape: [1, 6, 6]}\n"
                             "layers:\n"
                             "  - {name: conv1, op: conv, out: 2, kernel: 3}\n"
                             "  - {name: bn1, op: batchnorm}\n"
                             "  - {name: fc1, op: dense, out: 3}\n";

/* Run one file through parse (and build, with random weights, in at most
 * 256 MiB); return the formatted error ("" if none). */
static void run_bad_file(const char *path, int is_prec, char *out, size_t n)
{
    nr_err e = {0};
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    nr_model *m = NULL;
    nr_model_opts o;
    nr_model_opts_init(&o);
    o.random_seed = 1;
    o.max_memory = 256 << 20;
    int rc;
    if (is_prec) {
        rc = nr_precision_load(path, &p, &e);
        if (rc == 0 && (rc = nr_spec_parse_string(bad_net, "bad_net.yaml", &s, &e)) == 0)
            rc = nr_model_build_opts(s, p, &o, &m, &e);
        else
            nr_precision_free(p);
    } else {
        rc = nr_spec_load(path, &s, &e);
        if (rc == 0)
            rc = nr_model_build_opts(s, NULL, &o, &m, &e);
    }
    nr_model_free(m);
    out[0] = 0;
    if (rc)
        nr_err_format(&e, out, n);
}

START_TEST(bad_files)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/bad", tu_source_dir());
    DIR *dp = opendir(dir);
    ck_assert_msg(dp != NULL, "cannot open %s", dir);
    struct dirent *de;
    int count = 0;
    while ((de = readdir(dp))) {
        const char *f = de->d_name;
        int is_spec = !strncmp(f, "spec_", 5), is_prec = !strncmp(f, "prec_", 5);
        size_t k = strlen(f);
        if ((!is_spec && !is_prec) || k < 5 || strcmp(f + k - 5, ".yaml"))
            continue;
        char path[2048], line[512] = "", got[1024], want[2600];
        snprintf(path, sizeof path, "%s/%s", dir, f);
        FILE *fp = fopen(path, "r");
        ck_assert_ptr_nonnull(fp);
        ck_assert_ptr_nonnull(fgets(line, sizeof line, fp));
        fclose(fp);
        line[strcspn(line, "\n")] = 0;
        ck_assert_msg(!strncmp(line, "# expect: ", 10), "%s: no '# expect: ' line", f);
        const char *exp = line + 10;
        /* a position-less expectation (malformed YAML) only has to appear */
        int positioned = exp[0] >= '0' && exp[0] <= '9';
        snprintf(want, sizeof want, positioned ? "%s:%s" : "%s", positioned ? path : exp, exp);
        run_bad_file(path, is_prec, got, sizeof got);
        ck_assert_msg(got[0], "%s: accepted", f);
        if (positioned)
            ck_assert_msg(!strncmp(got, want, strlen(want)), "%s:\n got: %s\nwant: %s", f, got,
                          want);
        else
            ck_assert_msg(strstr(got, want) && !strncmp(got, path, strlen(path)),
                          "%s:\n got: %s\nwant: %s", f, got, want);
        count++;
    }
    closedir(dp);
    ck_assert_int_ge(count, 30);
}
END_TEST

/* ---------------------------------------------------------------- hostile input */

/* Mutated and truncated specs never crash: each either parses (and then
 * builds or fails with a message) or fails with a filled nr_err. */
START_TEST(mutations)
{
    static const char base[] =
        "name: n\ninput: {shape: [2, 6, 6]}\n"
        "layers:\n"
        "  - {name: c, op: conv, out: 4, kernel: [3, 2], stride: 2, pad: same, groups: 2}\n"
        "  - {name: b, op: batchnorm, eps: 1e-3}\n"
        "  - {name: s, op: slice, c: [0, end, 2], h: [1, -1]}\n"
        "  - {name: p, op: pad, c: [1, 1], w: [0, 2]}\n"
        "  - {name: k, op: concat, inputs: [p, p]}\n"
        "  - {name: a, op: add, inputs: [k, k]}\n"
        "  - {name: f, op: flatten}\n"
        "  - {name: d, op: dense, out: 3}\n"
        "output: d\n";
    static const char alphabet[] = "[]{},:-#&*!|>'\"\n 0123456789abcxyz~.";
    uint64_t st = 20240601;
    int iters = tu_quick() ? 300 : 3000, parsed = 0;
    char buf[sizeof base + 16];
    for (int it = 0; it < iters; it++) {
        memcpy(buf, base, sizeof base);
        size_t len = sizeof base - 1;
        int nmut = 1 + (int)(tu_rand(&st) % 4);
        for (int k = 0; k < nmut && len > 0; k++) {
            size_t pos = tu_rand(&st) % len;
            uint64_t r = tu_rand(&st);
            if (r % 5 == 0)
                len = pos; /* truncate */
            else
                buf[pos] = alphabet[r % (sizeof alphabet - 1)];
        }
        buf[len] = 0;
        nr_spec *s = NULL;
        nr_err e = {0};
        int rc = nr_spec_parse_string(buf, "m.yaml", &s, &e);
        if (rc) {
            ck_assert_msg(e.code == -rc && e.msg[0], "no message for:\n%s", buf);
            ck_assert_ptr_null(s);
            continue;
        }
        parsed++;
        nr_model *m = NULL;
        rc = nr_model_build(s, NULL, NULL, 5, &m, &e);
        ck_assert_msg(rc == 0 ? m != NULL : (e.code == -rc && e.msg[0] && !m), "%s", buf);
        nr_model_free(m);
    }
    ck_assert_msg(parsed > 0, "none of %d mutants parsed", iters);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, yaml_positions);
    tcase_add_test(tc, yaml_errors);
    tcase_add_test(tc, yaml_typed);
    tcase_add_test(tc, spec_lenet);
    tcase_add_test(tc, spec_all_params);
    tcase_add_test(tc, spec_weights_path);
    tcase_add_test(tc, spec_bad_inline);
    tcase_add_test(tc, prec_issue_example);
    tcase_add_test(tc, prec_defaults_and_same);
    tcase_add_test(tc, prec_long_form);
    tcase_add_test(tc, prec_bad_inline);
    tcase_add_test(tc, prec_from_arg);
    tcase_add_test(tc, bad_files);
    tcase_add_test(tc, mutations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
