/* pipeline.c: helpers the two halves of the pipeline share: ingest.c (scene -> tiler ->
 * model -> archive) and search.c (query -> code -> top-k -> hits). See duch_pipeline.h. */
#include "config.h"
#include "duch_utf8.h"
#include "pipeline_internal.h"
#include "duch_modelfile.h" /* duch_file_read */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void pl_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    duch_vsnprintf(err, errlen, fmt, ap); /* never cut inside a character */
    va_end(ap);
}

double pl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Read a whole model file (model/modelfile.c's duch_file_read) into a malloc'ed buffer. */
int pl_read_file(const char *path, unsigned char **data, size_t *size, char *err, size_t errlen)
{
    int en = 0;
    int rc = duch_file_read(path, data, size, &en);
    if (rc == DUCH_NOMEM)
        pl_set_err(err, errlen, "out of memory reading %s", path);
    else if (rc != DUCH_OK && en)
        pl_set_err(err, errlen, "cannot open model %s: %s", path, strerror(en));
    else if (rc != DUCH_OK)
        pl_set_err(err, errlen, "cannot read model %s", path);
    return rc;
}

/* Open a model from bytes; on failure the message goes to err. */
int pl_model_from_blob(const duch_model_api *api, const void *blob, size_t size,
                           const char *what, duch_model **out, char *err, size_t errlen)
{
    duch_model *m = NULL;
    int rc = api->open_blob(blob, size, &m);
    if (rc != DUCH_OK) {
        pl_set_err(err, errlen, "%s: %s", what, m ? api->errmsg(m) : "out of memory");
        api->close(m);
        return rc;
    }
    *out = m;
    return DUCH_OK;
}


const duch_model_api *pl_model_api(char *err, size_t errlen)
{
    char lerr[2600];
    const duch_model_api *api = duch_model_load(lerr, sizeof lerr);
    if (!api)
        pl_set_err(err, errlen, "%s", lerr);
    return api;
}
