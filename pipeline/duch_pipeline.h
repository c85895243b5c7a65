/*
 * duch_pipeline.h: scene -> tiler -> model -> archive, and archive -> query -> hits.
 *
 * The glue that `duch index`, `duch query`, and the GDAL driver (gdal_DUCH.so) share.
 * It lives in libduch (no libtorch): the model library is dlopen'ed on first use
 * through duch_model_load().
 *
 * Every function returns a DUCH_* status (model/duch_model.h); on failure a message is
 * written into err (errlen bytes, always NUL-terminated when errlen > 0).
 */
#ifndef DUCH_PIPELINE_H
#define DUCH_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "duch_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ indexing */

typedef struct duch_ingest_options {
    const char *model_path;  /* model for a NEW archive; NULL = the installed default.
                                For an existing archive: NULL = the stored model; a path
                                whose model differs from the stored one is DUCH_MISMATCH. */
    int tile_size;           /* px; 0 = from the model's ground footprint */
    int overlap;             /* px */
    const int *bands;        /* 1-based band list, NULL = automatic */
    int nbands;
    double min_valid;        /* default 0.5 */
    int allow_pixel;         /* index rasters without a geotransform */
    int jobs;                /* scene workers; each opens its own GDAL handle (>= 1) */
    int threads;             /* model threads; 0 = all cores */
    int batch;               /* tiles per encode batch; 0 = default */
    int chunk_tiles;         /* a scene is committed every this many tiles (and at least
                                every 30 s of encoding); 0 = default 1024 */
    /* Called for each scene as it ends (status DUCH_OK, or the failure and its message);
     * skipped = 1 when the scene was already in the archive (msg NULL), or is being
     * indexed by another writer (msg says so). May be NULL. */
    void (*on_scene)(const char *scene, int status, int skipped, long long tiles,
                     const char *msg, void *arg);
    /* Called for warnings (e.g. a scene much coarser than the model). May be NULL. */
    void (*on_warning)(const char *scene, const char *msg, void *arg);
    void *cb_arg;
} duch_ingest_options;

typedef struct duch_ingest_stats {
    int scenes_done;         /* indexed in this run */
    int scenes_skipped;      /* already in the archive */
    int scenes_failed;
    long long tiles;         /* tiles written */
    long long tiles_skipped; /* below min_valid */
    double seconds;          /* wall time */
    double t_read, t_encode, t_write; /* summed per-phase times (s), all workers */
    int scenes_resumed;      /* of scenes_done: continued after an interrupted run */
} duch_ingest_stats;

void duch_ingest_options_init(duch_ingest_options *o);

/* Open ARCHIVE (created at the first write when missing) and index each scene, committed
 * in chunks of opt->chunk_tiles (docs/archive.md, "Writing rules"). A scene already in
 * the archive (same path and checksum) is skipped, and so is one another live writer is
 * indexing; a scene that an interrupted or killed run began is resumed after its last
 * stored tile. A failing scene is reported via on_scene and the run goes on; the return
 * is DUCH_OK when all scenes succeeded or were skipped, DUCH_ERROR when some failed, or
 * the status of a fatal error (archive cannot be opened or written, model mismatch, codes
 * that do not fit the stored model, DUCH_INTERRUPTED when progress returned 0: the
 * chunks encoded so far are kept and the next run resumes). stats may be NULL.
 *
 * Callbacks (progress, on_scene, on_warning) are called one at a time, from the calling
 * thread or a worker, never while the run holds its own lock: a callback may take its
 * time, and may call into other duch functions (not duch_ingest on the same archive).
 * progress is monotonic and ends at 1 when the run completes. */
int duch_ingest(const char *archive, const char *const *scenes, int nscenes,
                const duch_ingest_options *opt, duch_progress_fn progress, void *progress_arg,
                duch_ingest_stats *stats, char *err, size_t errlen);

/* ------------------------------------------------------------------ querying */

typedef struct duch_search_query {
    const char *text;        /* one of text, image_path, code */
    const char *image_path;  /* query by example: a raster (window below, 0 = whole) */
    int image_xoff, image_yoff, image_xsize, image_ysize;
    const unsigned char *code; /* a packed code of the archive's length */
    size_t code_len;
    int k;                   /* 1..1000000 */
    int has_bbox;            /* restrict to tiles whose footprint box intersects bbox
                                (EPSG:4326 lon/lat; checked by duch_bbox_check) */
    double bbox[4];          /* minx, miny, maxx, maxy */
} duch_search_query;

typedef struct duch_search_hit {
    int64_t tile_id;
    int rank;                /* 1-based */
    int distance;
    int64_t scene_id;
    char *scene_path;
    int x_off, y_off, width, height;  /* source pixels */
    double *footprint;       /* closed ring of lon/lat pairs (EPSG:4326), NULL when the
                                tile has none */
    int footprint_npoints;
    double confidence;       /* 0..1: the chance that the hit shows what a text query
                                asks for (docs/model.md, "Confidence"); -1 when there is
                                none (not a text query, or a model without a fit) */
} duch_search_hit;

typedef struct duch_hits {
    int n;
    int bits;
    duch_search_hit *hits;
    char *model_id;          /* the archive's model */
    char *text_explain;      /* a text query: what the model made of it, JSON
                                {"used": [...], "mapped": {...}, "ignored": [...]}
                                (duch_textenc_explain); NULL for other queries */
    char *text_summary;      /* the same in a sentence when words were ignored, else
                                NULL (duch_textenc_summary) */
    int has_confidence;      /* hits[].confidence holds values */
} duch_hits;

/* Run a query against ARCHIVE (opened read-only) with its stored model. *out gets a
 * result to free with duch_hits_free(). */
int duch_search(const char *archive, const duch_search_query *q, duch_hits **out,
                char *err, size_t errlen);
void duch_hits_free(duch_hits *h); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif /* DUCH_PIPELINE_H */
