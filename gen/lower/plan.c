/* plan.c -- the compile plan of a model: per-layer activation buffers
 * placed in one per-sample arena by liveness (a buffer's bytes are reused
 * once its last reader has run), and every weight tensor rounded to its
 * layer's W format ([net-1]) and packed into one blob: each encoding in its
 * format's container (1/2/4/8 bytes, little-endian), or with --pack dense
 * bit-packed (the layout is described in plan.h). */
#include "plan.h"
#include "emit_scaled.h"
#include "emulator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64u

static uint64_t align_up(uint64_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

static int is_mac(nr_op op) { return op == NR_OP_CONV || op == NR_OP_DENSE || op == NR_OP_BATCHNORM; }
/* the layer has weight/bias tensors in the blob (emit_seq.c for the sequence ops) */
static int has_w(const nr_layer *L) { return is_mac(L->op) || (nr_model_op_is_seq(L->op) && gen_seq_has_w(L)); }

/* [scl-dot-wq] the layer's weights are scaled: emit_scaled.h's blob layout */
static int wscaled(const nr_layer *L)
{
    return is_mac(L->op) && L->prec.weights_scaled.gran != NR_GRAN_NONE;
}

/* [net-2] values must be doubles: refuse fixed point beyond 53 bits. */
static int check_fmt(const nr_layer *L, const char *role, const nr_format *f, nr_err *err)
{
    if (f->kind == NR_FIXED && f->prec > 53) {
        char nm[64];
        nr_format_name(f, nm, sizeof nm);
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "%s format %s has %d magnitude bits; generated code holds values "
                          "as doubles and supports at most 53",
                          role, nm, f->prec);
    }
    return 0;
}

typedef struct buf { uint64_t size, off; int def, last; } buf;

/* First fit: the lowest offset where b overlaps no placed buffer that is
 * live at the same time (closed intervals [def, last]). */
static void place(buf *all, int nplaced, buf *b)
{
    uint64_t off = 0;
    for (;;) {
        int moved = 0;
        for (int i = 0; i < nplaced; i++) {
            const buf *o = &all[i];
            if (o->size == 0 || o->last < b->def || b->last < o->def)
                continue;
            if (off < o->off + o->size && o->off < off + b->size) {
                off = align_up(o->off + o->size);
                moved = 1;
            }
        }
        if (!moved)
            break;
    }
    b->off = off;
}

static void put_le(uint8_t *p, int bytes, uint64_t v)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Tensors of f are bit-packed in p's blob: dense, and the width does not
 * fill a container (stored on each planned layer as wbits). */
static int is_bitpacked(const gen_plan *p, const nr_format *f)
{
    return p->dense && f->width != 8 * f->container;
}

/* Encoding k of a tensor at base: in its container, or (bitpacked) the
 * width low bits of v at bit k*width, LSB first (nr_pack_put).  The blob
 * is zeroed first, so OR-ing bits in is enough. */
static void put_value(uint8_t *base, const nr_format *f, int bitpacked, size_t k, uint64_t v)
{
    if (!bitpacked)
        put_le(base + k * (size_t)f->container, f->container, v);
    else
        nr_pack_put(base, f->width, k, v);
}

/* Bytes of a tensor of count values of f in the blob. */
static uint64_t tensor_bytes(const nr_format *f, uint64_t count, int dense)
{
    return dense ? (count * (uint64_t)f->width + 7) / 8 : count * (uint64_t)f->container;
}

/* Alignment a tensor of f needs in the dense blob: its container when the
 * width fills it (read with container loads), else 1 (bit extraction). */
static unsigned dense_align(const nr_format *f)
{
    return f->width == 8 * f->container ? (unsigned)f->container : 1u;
}

unsigned gen_plan_w_align(const gen_plan *p, const nr_format *f)
{
    return p->dense ? dense_align(f) : ALIGN;
}

/* Place every MAC layer's weight and bias tensors in the blob: sets w_off,
 * b_off and p->weight_bytes; returns the bytes the tensors span.
 * Dense: the tensors of alignment 8, then 4, 2, 1 (layer order within
 * each), with no gaps.  Each tensor of alignment a takes a multiple of a
 * bytes (count x a), so the tensors before one of alignment a (all of
 * alignment >= a, powers of two) end at a multiple of a: every container
 * tensor is naturally aligned, the total is exactly the sum. */
static uint64_t place_weights(const nr_model *m, gen_plan *p)
{
    uint64_t off = 0, sum = 0;
    for (unsigned a = p->dense ? 8 : 0; ; a /= 2) {
        for (int i = 0; i < m->nlayers; i++) {
            const nr_layer *L = &m->layers[i];
            const nr_format *f = &L->prec.weights;
            if (!has_w(L) || (p->dense && (wscaled(L) ? 8u : dense_align(f)) != a))
                continue;
            gen_plan_layer *pl = &p->ly[i];
            uint64_t wb = tensor_bytes(f, L->nw, p->dense), bb = L->b ? tensor_bytes(f, L->nb, p->dense) : 0;
            if (wscaled(L))
                wb = gen_scaled_w_bytes(L), bb = gen_scaled_b_bytes(L);
            pl->w_off = off;
            off = p->dense ? off + wb : align_up(off + wb);
            pl->b_off = off;
            off = p->dense ? off + bb : bb ? align_up(off + bb) : off;
            sum += wb + bb;
        }
        if (a <= 1)
            break;
    }
    p->weight_bytes = sum;
    return off;
}

/* Exact-mode accumulator size, as the emulator sizes it (emu_mac.c): bit 0
 * below every product's and the accumulator's lowest bit, the top above
 * K+1 maximal addends plus a sign. */
static void kacc_size(const nr_format *wf, const nr_format *xf, const nr_format *cf, int *lsb,
                      int *limbs)
{
    int lw = ilogb(wf->min_subnormal), lx = ilogb(xf->min_subnormal), lc = ilogb(cf->min_subnormal);
    int l = (lw + lx < lc ? lw + lx : lc) - 110;
    int mw = ilogb(wf->max_finite) + 1, mx = ilogb(xf->max_finite) + 1;
    int mc = ilogb(cf->max_finite) + 1;
    int msb = (mw + mx > mc ? mw + mx : mc) + 34;
    *lsb = l;
    *limbs = (msb - l) / 64 + 4;
}

/* What the generator does not run yet (model_gen.h): scaled formats it
 * refuses ([scl-dot-engines]) and the sequence ops emit_seq.c does not
 * support ([op-engines]). */
int gen_plan_model_check(const nr_model *m, nr_err *err)
{
    int rc = gen_scaled_check(m, err);
    if (rc)
        return rc;
    for (int i = 0; i < m->nlayers; i++)
        if (nr_model_op_is_seq(m->layers[i].op) && (rc = gen_seq_check(m, i, err)))
            return rc;
    return 0;
}

/* Step 1 of gen_plan_build, for layer i: its formats checked ([net-2]),
 * its output and scratch buffers sized (b: see plan_layers), its inputs'
 * buffers kept live until it has run, and what the emitters read from the
 * planned layer (the toolbox's answers, the exact accumulator's size, the
 * vector kernel's plan). */
static int plan_layer(const nr_model *m, int i, int vector, gen_plan *p, buf *b, nr_err *err)
{
    const int n = m->nlayers;
    const nr_layer *L = &m->layers[i];
    const nr_layer_prec *pr = &L->prec;
    int rc;
    if ((rc = check_fmt(L, "weights", &pr->weights, err)) ||
        (rc = check_fmt(L, "activations", &pr->activations, err)) ||
        (rc = check_fmt(L, "products", &pr->products, err)) ||
        (rc = check_fmt(L, "accumulator", &pr->accumulator, err)))
        return rc;
    gen_plan_layer *pl = &p->ly[i];
    pl->count = nr_shape_count(L->out_shape);
    pl->last_use = i == m->output ? n : i;
    pl->wbits = is_bitpacked(p, &pr->weights);
    for (int k = 0; k < 8; k++) {
        int src = L->inputs[k];
        pl->in_fmt[k] = src >= -1 && src < n ? gen_scaled_carrier(m, src) : NULL;
    }
    b[1 + i] = (buf){align_up(gen_scaled_tensor_bytes(m, i, pl->count * (uint64_t)pr->activations.container)),
                     0, i, i};
    for (int k = 0; k < L->ninputs; k++) {
        int src = L->inputs[k];
        if (src >= i || src < -1)
            return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name,
                              "input %d is layer %d, not an earlier layer", k, src);
        buf *sb = &b[src + 1];
        if (sb->last < i)
            sb->last = i;
    }
    uint64_t scratch = 0;
    if (L->op == NR_OP_LRN || L->op == NR_OP_SOFTMAX)
        scratch = 2 * pl->count * sizeof(double);
    if (is_mac(L->op)) {
        const nr_format *xf = L->inputs[0] < 0 ? &m->in_format
                                               : &m->layers[L->inputs[0]].prec.activations;
        kacc_size(&pr->weights, xf, &pr->accumulator, &pl->klsb, &pl->klimbs);
        if (pr->mac == NR_MAC_EXACT) /* header (8 words) + limbs + scratch limbs */
            scratch = (8 + 2 * (uint64_t)pl->klimbs) * 8;
        /* the one decision whether the layer takes the vector kernel
         * (emit_layer.c and gen_emit_mac read pl->vmac): its decoded
         * weights and input; emit_scaled_mac.c has no vector kernel */
        gen_emit_vmac_plan(m, i, gen_scaled_mac(m, i) ? 0 : vector, &pl->vmac);
        if (pl->vmac.ok)
            scratch = pl->vmac.scratch;
        if (gen_scaled_mac(m, i)) /* emit_scaled_mac.c: its exact accumulator */
            scratch = gen_scaled_mac_scratch(m, i, vector);
        if (!L->w || L->nw == 0)
            return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name, "MAC layer without weights");
        pl->has_bias = L->b != NULL;
    }
    if (nr_model_op_is_seq(L->op)) { /* emit_seq.c: weights, the exact accumulator, lines */
        const int in1 = L->op == NR_OP_MATMUL && L->ninputs > 1 ? L->inputs[1] : -2;
        const nr_format *xf = L->inputs[0] < 0 ? &m->in_format
                                               : &m->layers[L->inputs[0]].prec.activations;
        const nr_format *wf = in1 == -2 ? &pr->weights
                              : in1 < 0 ? &m->in_format : &m->layers[in1].prec.activations;
        kacc_size(wf, xf, &pr->accumulator, &pl->klsb, &pl->klimbs);
        scratch = gen_seq_scratch(L, pl);
        pl->has_bias = L->b != NULL;
    }
    b[1 + n + i] = (buf){align_up(scratch), 0, i, i};
    return 0;
}

/* Step 2: the buffers b (see plan_layers) placed in the arena, first fit
 * in definition order (simple and deterministic); sets the offsets, the
 * last uses and p->arena_size. */
static int place_arena(const nr_model *m, gen_plan *p, buf *b, nr_err *err)
{
    const int n = m->nlayers;
    buf *placed = calloc(2 * (size_t)n + 1, sizeof *placed);
    if (!placed)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "plan", "out of memory");
    int np = 0;
    for (int i = -1; i < n; i++) {
        buf *x = &b[i + 1];
        place(placed, np, x);
        placed[np++] = *x;
        if (i >= 0) {
            buf *s = &b[1 + n + i];
            place(placed, np, s);
            placed[np++] = *s;
        }
    }
    uint64_t top = 0;
    for (int i = 0; i < np; i++)
        if (placed[i].off + placed[i].size > top)
            top = placed[i].off + placed[i].size;
    free(placed);
    p->in_off = b[0].off;
    for (int i = 0; i < n; i++) {
        p->ly[i].out_off = b[1 + i].off;
        p->ly[i].last_use = b[1 + i].last;
        p->ly[i].scratch_off = b[1 + n + i].off;
        p->ly[i].scratch_size = b[1 + n + i].size;
    }
    p->arena_size = top ? top : ALIGN;
    return 0;
}

/* Step 1 for every layer, then step 2: b[0] is the input's buffer,
 * b[1 + i] layer i's output, b[1 + n + i] its scratch. */
static int plan_layers(const nr_model *m, int vector, gen_plan *p, nr_err *err)
{
    const int n = m->nlayers;
    buf *b = calloc(2 * (size_t)n + 1, sizeof *b);
    if (!b)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "plan", "out of memory");
    p->in_count = nr_shape_count(m->in_shape);
    b[0] = (buf){align_up(gen_scaled_tensor_bytes(m, -1, p->in_count * (uint64_t)m->in_format.container)),
                 0, -1, -1};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        rc = plan_layer(m, i, vector, p, b, err);
    if (!rc) {
        p->out_count = p->ly[m->output].count;
        rc = place_arena(m, p, b, err);
    }
    free(b);
    return rc;
}

/* Step 3, the weights blob: [net-1] each weight/bias rounded once to W.
 * Container: 64-byte aligned size.  Dense: the tensors, then the pad when
 * a tensor is bit-packed (the allocation is still 64-aligned). */
static int pack_blob(const nr_model *m, gen_plan *p, gen_weights *w, nr_err *err)
{
    const int n = m->nlayers;
    uint64_t wsize = place_weights(m, p);
    int anybits = 0;
    for (int i = 0; i < n; i++)
        anybits |= has_w(&m->layers[i]) && is_bitpacked(p, &m->layers[i].prec.weights);
    w->values = p->weight_bytes;
    w->size = p->dense ? wsize + (anybits ? GEN_DENSE_PAD : 0) : align_up(wsize ? wsize : 1);
    w->data = aligned_alloc(ALIGN, align_up(w->size ? w->size : 1));
    if (!w->data)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "weights", "out of memory for %llu bytes",
                          (unsigned long long)w->size);
    memset(w->data, 0, align_up(w->size ? w->size : 1));
    for (int i = 0; i < n; i++) {
        const nr_layer *L = &m->layers[i];
        if (!has_w(L))
            continue;
        if (wscaled(L)) {
            gen_scaled_pack(m, i, w->data + p->ly[i].w_off, w->data + p->ly[i].b_off);
            continue;
        }
        const nr_format *wf = &L->prec.weights;
        const nr_rounding mode = L->prec.rounding;
        const int bits = is_bitpacked(p, wf);
        for (size_t k = 0; k < L->nw; k++) {
            uint32_t r = mode == NR_RND_SR ? nr_sr_bits(m->seed, (uint32_t)i, k, NR_EMU_TERM_WEIGHT) : 0;
            put_value(w->data + p->ly[i].w_off, wf, bits, nr_model_op_is_seq(L->op) ? gen_seq_wpos(L, k) : k,
                      nr_encode(wf, mode, L->w[k], r, NULL));
        }
        for (size_t k = 0; L->b && k < L->nb; k++) {
            uint32_t r = mode == NR_RND_SR ? nr_sr_bits(m->seed, (uint32_t)i, k, NR_EMU_TERM_BIASLOAD) : 0;
            put_value(w->data + p->ly[i].b_off, wf, bits, k, nr_encode(wf, mode, L->b[k], r, NULL));
        }
    }
    return 0;
}

int gen_plan_build(const nr_model *m, int pack_dense, int vector, gen_plan *p, gen_weights *w,
                   nr_err *err)
{
    memset(p, 0, sizeof *p);
    memset(w, 0, sizeof *w);
    const int n = m->nlayers;
    if (n < 1 || m->output < 0 || m->output >= n)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "model", "no layers or bad output index");
    int rc = check_fmt(&m->layers[0], "input", &m->in_format, err);
    if (rc)
        return rc;
    if ((rc = gen_plan_model_check(m, err)))
        return rc;
    p->nlayers = n;
    p->dense = pack_dense != 0;
    p->ly = calloc((size_t)n, sizeof *p->ly);
    if (!p->ly)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "plan", "out of memory");
    if ((rc = plan_layers(m, vector, p, err)) || (rc = pack_blob(m, p, w, err))) {
        gen_plan_free(p);
        gen_plan_weights_free(w);
    }
    return rc;
}

void gen_plan_free(gen_plan *p)
{
    free(p->ly);
    p->ly = NULL;
    p->nlayers = 0;
}

void gen_plan_weights_free(gen_weights *w)
{
    if (!w)
        return;
    free(w->data);
    w->data = NULL;
    w->size = 0;
    w->values = 0;
}
