/* yaml_doc.h -- a YAML file as a small tree of nodes that remember where
 * they were written (line:col), so every later error can point at the text.
 *
 * Only the plain data subset is kept: scalars (text), sequences and
 * mappings with scalar keys.  Anchors/aliases, tags on collections, and
 * multiple documents are rejected; duplicate keys are an error.  The typed
 * readers below turn a scalar into an int/double/bool or fill an nr_err
 * that names the file, the node's line:col, the field and what was
 * expected ("expected an integer, got "two""). */
#ifndef NUMREP_YAML_DOC_H
#define NUMREP_YAML_DOC_H

#include <stddef.h>
#include "numrep.h"

typedef enum { NR_YAML_SCALAR = 0, NR_YAML_SEQ, NR_YAML_MAP } nr_yaml_kind;

typedef struct nr_yaml_node nr_yaml_node;
struct nr_yaml_node {
    nr_yaml_kind kind;
    int line, col;          /* 1-based position of the node's first character */
    int quoted;             /* scalar was quoted: "5" and "~" are text, not numbers/null */
    char *text;             /* scalar text ("" for an empty plain scalar)     */
    int n;                  /* sequence items / mapping pairs                 */
    nr_yaml_node **items;   /* sequence items; mapping values                 */
    nr_yaml_node **keys;    /* mapping keys (scalars), parallel to items      */
};

typedef struct nr_yaml_doc {
    char path[256];         /* for messages                                   */
    nr_yaml_node *root;     /* never NULL after a successful parse            */
} nr_yaml_doc;

/* Parse text (len bytes).  path is only used in messages. */
int nr_yaml_parse(const char *text, size_t len, const char *path, nr_yaml_doc **out,
                  nr_err *err);
int nr_yaml_load(const char *path, nr_yaml_doc **out, nr_err *err);
void nr_yaml_free(nr_yaml_doc *d);

/* Value of key in a mapping, or NULL (also when map is not a mapping). */
const nr_yaml_node *nr_yaml_get(const nr_yaml_node *map, const char *key);
/* The key node of key in a mapping (for positions), or NULL. */
const nr_yaml_node *nr_yaml_key(const nr_yaml_node *map, const char *key);
/* A plain `~`, `null`, `Null`, `NULL` or empty plain scalar. */
int nr_yaml_is_null(const nr_yaml_node *n);
/* How a node reads in a message: "two" (quoted text), a mapping, a list. */
void nr_yaml_describe(const nr_yaml_node *n, char *buf, size_t size);

/* Record an error at node n (NULL: no position). Returns -code. */
int nr_yaml_err(const nr_yaml_doc *d, const nr_yaml_node *n, int code, const char *where,
                nr_err *err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Typed readers: 0, or -NR_ESYNTAX / -NR_ERANGE with err filled. */
int nr_yaml_int(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where, long lo,
                long hi, int *out, nr_err *err);
int nr_yaml_double(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                   double *out, nr_err *err);
int nr_yaml_bool(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where, int *out,
                 nr_err *err);
/* A non-empty scalar that fits in size bytes (NUL included). */
int nr_yaml_string(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where, char *out,
                   size_t size, nr_err *err);
/* n must be a mapping whose keys all appear in `allowed` (space-separated);
 * where names the mapping in messages ("layers[3]"). */
int nr_yaml_check_map(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                      const char *allowed, nr_err *err);

#endif
