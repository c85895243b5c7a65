/* search.c: query (text, image or code) -> code with the archive's model -> top-k ->
 * hits (duch_search). See duch_pipeline.h. */
#include "config.h"
#include "duch_utf8.h"
#include "duch_pipeline.h"
#include "pipeline_internal.h"
#include "duch_index.h"
#include "duch_tiler.h"
#include "duch_textenc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ============================================================== querying */

void duch_hits_free(duch_hits *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++) {
        free(h->hits[i].scene_path);
        free(h->hits[i].footprint);
    }
    free(h->hits);
    free(h->model_id);
    free(h->text_explain);
    free(h->text_summary);
    free(h);
}

/* Query by example: one window of a raster, through the tiler, encoded by m. */
static int image_code(const duch_model_api *api, duch_model *m, const duch_search_query *q,
                      unsigned char *code, char *err, size_t errlen)
{
    int in = api->input_size(m);
    duch_tiler_options to;
    duch_tiler_options_init(&to);
    to.allow_pixel = 1;
    to.out_size = in;
    to.tile_ground_m = api->tile_ground_m(m);
    duch_tiler *t = NULL;
    int rc = duch_tiler_open(q->image_path, &to, &t);
    unsigned char *rgb = malloc((size_t)in * in * 3);
    if (rc != DUCH_OK)
        pl_set_err(err, errlen, "%s", duch_tiler_errmsg(t));
    else if (!rgb) {
        rc = DUCH_NOMEM;
        pl_set_err(err, errlen, "out of memory");
    } else {
        const duch_scene_info *si = duch_tiler_info(t);
        int xo = q->image_xoff, yo = q->image_yoff;
        int xs = q->image_xsize > 0 ? q->image_xsize : si->width - xo;
        int ys = q->image_ysize > 0 ? q->image_ysize : si->height - yo;
        rc = duch_tiler_read_window(t, xo, yo, xs, ys, in, in, rgb, NULL);
        if (rc != DUCH_OK)
            pl_set_err(err, errlen, "%s: %s", q->image_path, duch_tiler_errmsg(t));
        else {
            const unsigned char *p[1] = {rgb};
            int w[1] = {in}, h[1] = {in};
            rc = api->encode_images(m, 1, p, w, h, code);
            if (rc != DUCH_OK)
                pl_set_err(err, errlen, "%s", api->errmsg(m));
        }
    }
    free(rgb);
    duch_tiler_close(t);
    return rc;
}

/* The query's code, computed with the archive's model (pipeline_internal.h). */
int pl_query_code(duch_archive *a, const duch_search_query *q, int bits, unsigned char *code,
                      char **model_id, char **explain, char **summary, duch_textenc **tenc,
                      char *err, size_t errlen)
{
    const void *blob = NULL;
    size_t size = 0;
    const char *id = NULL;
    int sbits = 0;
    int rc = duch_archive_get_model(a, &blob, &size, &id, &sbits);
    if (rc != DUCH_OK) {
        pl_set_err(err, errlen, "%s: %s", duch_archive_path(a),
                rc == DUCH_NOTFOUND ? "the archive holds no model (nothing indexed yet)"
                                    : duch_archive_errmsg(a));
        return rc;
    }
    *model_id = strdup(id);
    if (q->code) {
        if (q->code_len != (size_t)bits / 8) {
            pl_set_err(err, errlen, "the query code has %zu bytes; this archive's codes have %d "
                    "(%d bits)", q->code_len, bits / 8, bits);
            return DUCH_INVALID;
        }
        memcpy(code, q->code, q->code_len);
        return DUCH_OK;
    }
    if (q->text) {
        /* the C text encoder, the only text inference path: no libtorch to load (it
         * accepts every architecture the model library writes) */
        duch_textenc *te = NULL;
        rc = duch_textenc_open_blob(blob, size, &te);
        if (rc != DUCH_OK)
            pl_set_err(err, errlen, "the archive's model: %s", te ? duch_textenc_errmsg(te) : "out of memory");
        else if (duch_textenc_bits(te) != bits) {
            pl_set_err(err, errlen, "the archive's model makes %d-bit codes but the archive "
                    "records %d bits", duch_textenc_bits(te), bits);
            rc = DUCH_MISMATCH;
        } else {
            rc = duch_textenc_encode(te, q->text, code);
            if (rc == DUCH_OK)
                rc = duch_textenc_explain(te, q->text, explain);
            if (rc == DUCH_OK)
                rc = duch_textenc_summary(te, q->text, summary);
            if (rc != DUCH_OK)
                pl_set_err(err, errlen, "%s", duch_textenc_errmsg(te));
        }
        if (rc == DUCH_OK && duch_textenc_crowd_rank(te)) /* kept for the confidence */
            *tenc = te;
        else
            duch_textenc_close(te);
        return rc;
    }
    const duch_model_api *api = pl_model_api(err, errlen);
    if (!api)
        return DUCH_NOTFOUND;
    duch_model *m = NULL;
    rc = pl_model_from_blob(api, blob, size, "the archive's model", &m, err, errlen);
    if (rc != DUCH_OK)
        return rc;
    api->set_threads(m, 1); /* one image: one thread is fastest */
    if (api->bits(m) != bits) {
        pl_set_err(err, errlen, "the archive's model makes %d-bit codes but the archive "
                "records %d bits", api->bits(m), bits);
        api->close(m);
        return DUCH_MISMATCH;
    }
    rc = image_code(api, m, q, code, err, errlen);
    api->close(m);
    return rc;
}

/* The query's own checks, before anything is opened (pipeline_internal.h). */
int pl_check_query(const duch_search_query *q, char *err, size_t errlen)
{
    int kinds = (q->text != NULL) + (q->image_path != NULL) + (q->code != NULL);
    if (kinds != 1) {
        pl_set_err(err, errlen, "a query is one of: a text, an image, or a code");
        return DUCH_INVALID;
    }
    if (q->text) {
        const char *s = q->text;
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s) {
            pl_set_err(err, errlen, "the query text is empty");
            return DUCH_INVALID;
        }
    }
    if (q->k < 1 || q->k > 1000000) {
        pl_set_err(err, errlen, "k must be between 1 and 1000000, got %d", q->k);
        return DUCH_INVALID;
    }
    char why[300];
    if (q->has_bbox && duch_bbox_check(q->bbox, why, sizeof why)) {
        pl_set_err(err, errlen, "%s", why);
        return DUCH_INVALID;
    }
    return DUCH_OK;
}

/* res->hits from the engine's hits: each tile's scene, window and footprint ring. */
static int fill_hits(duch_archive *a, const duch_hit *hits, size_t nhits, size_t k,
                     duch_textenc *te, duch_hits *res, char *err, size_t errlen)
{
    /* the confidence (docs/model.md): the best hit's distance and the crowd rank's */
    int crowd = te ? duch_textenc_crowd_rank(te) : 0;
    int d1 = nhits ? (int)hits[0].distance : 0;
    int dcrowd = crowd && nhits ? (int)hits[((size_t)crowd < nhits ? (size_t)crowd : nhits) - 1].distance : 0;
    res->has_confidence = crowd > 0;
    if (nhits > k)
        nhits = k;
    res->hits = calloc(nhits ? nhits : 1, sizeof *res->hits);
    if (!res->hits) {
        pl_set_err(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    for (size_t i = 0; i < nhits; i++) {
        duch_tile_record t;
        int rc = duch_archive_tile(a, hits[i].id, &t);
        if (rc != DUCH_OK) {
            pl_set_err(err, errlen, "%s", duch_archive_errmsg(a));
            return rc;
        }
        res->hits[res->n++] = (duch_search_hit){
            .tile_id = hits[i].id, .rank = (int)i + 1, .distance = (int)hits[i].distance,
            .scene_id = t.scene_id, .scene_path = t.scene, .x_off = t.x_off, .y_off = t.y_off,
            .width = t.width, .height = t.height, .footprint = t.footprint,
            .footprint_npoints = t.footprint_npoints,
            .confidence = crowd ? duch_textenc_confidence(te, (int)hits[i].distance, d1, dcrowd) : -1.0};
    }
    return DUCH_OK;
}

int duch_search(const char *archive, const duch_search_query *q, duch_hits **out,
                char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!archive || !q || !out) {
        pl_set_err(err, errlen, "duch_search: NULL argument");
        return DUCH_INVALID;
    }
    int rc = pl_check_query(q, err, errlen);
    if (rc != DUCH_OK)
        return rc;
    duch_archive *a = NULL;
    rc = duch_archive_open(archive, DUCH_ARCHIVE_READONLY, &a);
    if (rc != DUCH_OK) {
        pl_set_err(err, errlen, "%s", a ? duch_archive_errmsg(a) : "out of memory");
        duch_archive_close(a);
        return rc;
    }
    int bits = duch_archive_bits(a);
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
    char *model_id = NULL;
    size_t k = (size_t)q->k, nhits = 0, room = k;
    duch_textenc *te = NULL; /* a text query's encoder, when its model has a confidence fit */
    duch_hit *hits = NULL;
    duch_hits *res = calloc(1, sizeof *res);
    if (!res) {
        rc = DUCH_NOMEM;
        pl_set_err(err, errlen, "out of memory");
        goto finish;
    }
    if ((rc = pl_query_code(a, q, bits, code, &model_id, &res->text_explain, &res->text_summary,
                          &te, err, errlen)) != DUCH_OK)
        goto finish;
    if (te && room < (size_t)duch_textenc_crowd_rank(te))
        room = (size_t)duch_textenc_crowd_rank(te);
    if (!(hits = calloc(room, sizeof *hits))) {
        rc = DUCH_NOMEM;
        pl_set_err(err, errlen, "out of memory");
        goto finish;
    }
    res->bits = bits;
    res->model_id = model_id;
    model_id = NULL;
    rc = duch_archive_search(a, code, (size_t)bits / 8, q->has_bbox ? q->bbox : NULL, room, hits,
                             &nhits);
    if (rc != DUCH_OK)
        pl_set_err(err, errlen, "%s", duch_archive_errmsg(a));
    else
        rc = fill_hits(a, hits, nhits, k, te, res, err, errlen);
finish:
    duch_textenc_close(te);
    free(hits);
    free(model_id);
    duch_archive_close(a);
    if (rc == DUCH_OK)
        *out = res;
    else
        duch_hits_free(res);
    return rc;
}
