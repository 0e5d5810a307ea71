/* ds_tokens.c -- token-id data for language models ([lm-data] in
 * docs/semantics.md): a NumPy .npy file of dtype <i4 (int32), shape
 * [N, L], C order: N windows of L = T + 1 token ids each; a model with T
 * input positions reads ids 0..T-1 of a window and is scored on predicting
 * ids 1..T.  The file is hostile input: npy.c checks the header and that
 * the data length matches the shape before anything is allocated for it;
 * here the rank, the sizes and every id (an integer in [0, vocab)) are
 * checked, and each error names the file, the window and the position. */
#include "dataset.h"
#include "tensorio.h"

#include <stdlib.h>

#define TOKENS_MAX_LEN (1 << 24) /* ids per window: far above any context */

static int fail(nr_tokens *t, int32_t *ids, int rc)
{
    free(ids);
    free(t);
    return rc;
}

int nr_ds_tokens_load(const char *path, int vocab, nr_tokens **out, nr_err *err)
{
    *out = NULL;
    int32_t *ids = NULL;
    int64_t sh[4] = {0};
    int nd = 0;
    int rc = nr_npy_read_i32(path, &ids, sh, &nd, err);
    if (rc)
        return rc;
    nr_tokens *t = calloc(1, sizeof *t);
    if (!t)
        return fail(t, ids, nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory"));
    if (nd != 2)
        return fail(t, ids, nr_err_set(err, NR_ESHAPE, path, 0, 0, "shape",
                                       "expected 2 dimensions [windows, ids per window], got "
                                       "%d", nd));
    if (sh[0] < 1 || sh[1] < 2 || sh[1] > TOKENS_MAX_LEN)
        return fail(t, ids, nr_err_set(err, NR_ESHAPE, path, 0, 0, "shape",
                                       "expected [N, T+1] with N >= 1 and 2 <= T+1 <= %d, "
                                       "got [%lld, %lld]", TOKENS_MAX_LEN, (long long)sh[0],
                                       (long long)sh[1]));
    t->n = sh[0];
    t->len = (int)sh[1];
    t->ids = ids;
    for (int64_t w = 0; w < t->n; w++)
        for (int i = 0; i < t->len; i++) {
            int32_t v = ids[w * t->len + i];
            if (v < 0 || (vocab > 0 && v >= vocab))
                return fail(t, ids, nr_err_set(err, NR_ERANGE, path, 0, 0, "ids",
                                               "window %lld position %d: token id %ld is not "
                                               "in [0, %d)", (long long)w, i, (long)v,
                                               vocab > 0 ? vocab : INT32_MAX));
            if (v >= t->vocab_used)
                t->vocab_used = v + 1;
        }
    *out = t;
    return 0;
}

void nr_ds_tokens_free(nr_tokens *t)
{
    if (!t)
        return;
    free(t->ids);
    free(t);
}
