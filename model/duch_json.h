/*
 * duch_json.h: the one JSON reader of duch (model/json.c, plain C, internal: not installed).
 *
 * It reads the header of a .duchm model file (model/modelfile.c, for the C text encoder
 * and for the libtorch side) and captions.json (model/duch_data.cpp) into a small tree:
 *
 *   duch_json *root = NULL;
 *   char err[128];
 *   int rc = duch_json_parse(text, len, &root, err, sizeof err); // DUCH_OK, DUCH_CORRUPT
 *   const duch_json *v = duch_json_get(root, "bits");             // first "bits" member
 *   double bits = duch_json_num_or(root, "bits", 0);
 *   duch_json_free(root);
 *
 * The grammar is RFC 8259 JSON with two tolerances the model files and captions of earlier
 * releases relied on: a number is any run of [0-9+-.eE] that strtod reads whole (read in
 * the C locale whatever the process locale is), and a \u escape of a lone surrogate becomes
 * U+FFFD. Strings are UTF-8, NUL-terminated copies (len counts bytes; an escaped \u0000 is
 * kept, so use len). Nesting deeper than 200 is refused; error messages end with the byte
 * offset ("expected ':' at byte 17"). Memory: one allocation per string and container.
 */
#ifndef DUCH_JSON_H
#define DUCH_JSON_H

#include <stddef.h>

#include "duch_common.h"

#if defined(__GNUC__) && !defined(DUCH_INTERNAL)
#define DUCH_INTERNAL __attribute__((visibility("hidden")))
#elif !defined(DUCH_INTERNAL)
#define DUCH_INTERNAL
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum duch_json_type {
    DUCH_JSON_NULL,
    DUCH_JSON_BOOL,
    DUCH_JSON_NUM,
    DUCH_JSON_STR,
    DUCH_JSON_ARR,
    DUCH_JSON_OBJ
};

typedef struct duch_json duch_json;
struct duch_json {
    int type;          /* enum duch_json_type */
    int b;             /* BOOL */
    double num;        /* NUM */
    char *str;         /* STR: NUL-terminated; NULL otherwise */
    size_t len;        /* STR: bytes */
    char *key;         /* a member of an object: its key (NUL-terminated); else NULL */
    size_t keylen;
    duch_json *items;  /* ARR: the elements, OBJ: the members, in file order */
    size_t n;
    size_t at, end;    /* where it stands in the parsed text: [at, end) from the key's
                          opening quote (a member of an object) or the value's first byte,
                          to just past the value */
};

/* Parse text[0..len) (one value, white space around it). On success *out is the root
 * (free it with duch_json_free) and DUCH_OK is returned; otherwise *out is NULL, err
 * (when not NULL) holds the reason and the byte offset, and the result is DUCH_CORRUPT
 * or DUCH_NOMEM. */
DUCH_INTERNAL int duch_json_parse(const char *text, size_t len, duch_json **out, char *err,
                                  size_t errlen);

DUCH_INTERNAL void duch_json_free(duch_json *root); /* accepts NULL */

/* The first member of object obj named key (NULL if obj is not an object or has none). */
DUCH_INTERNAL const duch_json *duch_json_get(const duch_json *obj, const char *key);
/* Its number, or dflt when absent or not a number. */
DUCH_INTERNAL double duch_json_num_or(const duch_json *obj, const char *key, double dflt);
/* Its string, or dflt when absent or not a string. */
DUCH_INTERNAL const char *duch_json_str_or(const duch_json *obj, const char *key,
                                           const char *dflt);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_JSON_H */
