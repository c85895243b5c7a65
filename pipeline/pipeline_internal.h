/* pipeline_internal.h: helpers shared by pipeline/ingest.c and pipeline/search.c (not
 * installed; hidden in libduch). */
#ifndef DUCH_PIPELINE_INTERNAL_H
#define DUCH_PIPELINE_INTERNAL_H

#include <stddef.h>

#include "duch_model.h"
#include "duch_pipeline.h"

struct duch_archive;
struct duch_textenc;

#define PL_HIDDEN __attribute__((visibility("hidden")))

/* printf into err (errlen bytes), never cutting a UTF-8 character; no-op when err is NULL */
PL_HIDDEN void pl_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* monotonic seconds */
PL_HIDDEN double pl_now(void);
/* a whole file, malloc'ed; messages name it as a model */
PL_HIDDEN int pl_read_file(const char *path, unsigned char **data, size_t *size, char *err,
                           size_t errlen);
/* the model library (dlopen'ed once), or NULL with the loader's message in err */
PL_HIDDEN const duch_model_api *pl_model_api(char *err, size_t errlen);
/* a model opened from bytes; on failure "what: message" goes to err */
PL_HIDDEN int pl_model_from_blob(const duch_model_api *api, const void *blob, size_t size,
                                 const char *what, duch_model **out, char *err, size_t errlen);

/* duch_search's checks of q (one kind of query, a text that is not blank, k, bbox) */
PL_HIDDEN int pl_check_query(const duch_search_query *q, char *err, size_t errlen);
/* The code of q (bits/8 bytes into code) with the archive's stored model; *model_id gets
 * its id (malloc'ed); a text query also gets what was understood (*explain, *summary:
 * duch_textenc_explain/_summary) and, when the model has a confidence fit, its encoder
 * (*tenc, to close), else *tenc stays NULL. */
PL_HIDDEN int pl_query_code(struct duch_archive *a, const duch_search_query *q, int bits,
                            unsigned char *code, char **model_id, char **explain,
                            char **summary, struct duch_textenc **tenc, char *err,
                            size_t errlen);

#endif
