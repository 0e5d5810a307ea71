/* geom.c -- the loop geometry of a MAC layer ([net-4]), once for every
 * engine: the emulator (emu_mac.c, emu_scaled.c) and the generator's MAC
 * emitters (emit_mac.c, emit_vmac.c, emit_scaled_mac.c, emit_mac_int.c)
 * index weights and inputs by it.  Dense is a 1x1 conv over a 1x1 map of
 * C*H*W channels, batchnorm a depthwise 1x1 conv. */
#include "model.h"

#include <string.h>

int nr_mac_geom_of(const nr_layer *L, nr_mac_geom *g)
{
    memset(g, 0, sizeof *g);
    g->kh = g->kw = g->sh = g->sw = g->dh = g->dw = 1;
    g->O = L->out_shape[0], g->OH = L->out_shape[1], g->OW = L->out_shape[2];
    g->C = L->in_shape[0][0], g->H = L->in_shape[0][1], g->W = L->in_shape[0][2];
    int groups = 1;
    if (L->op == NR_OP_CONV) {
        const nr_layer_spec *s = L->spec;
        g->kh = s->kernel[0], g->kw = s->kernel[1];
        g->sh = s->stride[0], g->sw = s->stride[1];
        g->dh = s->dilation[0], g->dw = s->dilation[1];
        g->pt = L->pad[0], g->pl = L->pad[1];
        groups = s->groups;
    } else if (L->op == NR_OP_DENSE) {
        g->C = g->C * g->H * g->W; /* [net-4] input index = flat C, H, W index */
        g->H = g->W = 1;
    } else { /* batchnorm: depthwise 1x1 */
        groups = g->C;
    }
    if (groups < 1)
        groups = 1;
    g->cin_g = g->C / groups;
    g->cout_g = g->O / groups;
    g->K = g->cin_g * g->kh * g->kw;
    /* [net-13] what the engines index must be there, whoever built the model */
    int ok = g->cin_g > 0 && g->cout_g > 0 && g->C == g->cin_g * groups &&
             g->O == g->cout_g * groups && g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0 &&
             g->dh > 0 && g->dw > 0 && g->OH > 0 && g->OW > 0 && g->pt >= 0 && g->pl >= 0 &&
             L->nw == (size_t)g->O * (size_t)g->K && (!L->b || L->nb == (size_t)g->O) &&
             L->w != NULL;
    if (L->op == NR_OP_DENSE)
        ok = ok && g->OH == 1 && g->OW == 1;
    if (L->op == NR_OP_BATCHNORM)
        ok = ok && g->O == g->C && g->OH == g->H && g->OW == g->W;
    return ok ? 0 : -1;
}

int nr_mac_geom_check(const nr_layer *L, nr_mac_geom *g, nr_err *err)
{
    if (nr_mac_geom_of(L, g) == 0)
        return 0;
    int groups = g->cin_g ? g->C / g->cin_g : 0;
    return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name,
                      "inconsistent model: %zu weights for %d outputs x %d terms, groups %d, "
                      "input [%d,%d,%d], output [%d,%d,%d]",
                      L->nw, g->O, g->K, groups, L->in_shape[0][0], L->in_shape[0][1],
                      L->in_shape[0][2], g->O, g->OH, g->OW);
}
