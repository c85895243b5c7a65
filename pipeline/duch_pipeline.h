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

/* ------------------------------------------------------------------ heat maps */

/* Where in the scenes a query matches (docs/heatmap.md): every tile's score laid out on
 * the tile grid of its scene, at the grid's step (tile - overlap source pixels per cell),
 * as a single-band Float32 raster; and the hit tiles above a score merged into regions.
 *
 * A tile's score is its confidence for a text query on a model with a confidence fit (the
 * value duch_search gives it as a hit, with the same background: the whole archive, or the
 * box), else its similarity 1 - distance / bits. A cell that several tiles cover (an
 * archive indexed with --overlap) gets the mean of their scores, or their maximum. Cells
 * no tile covers hold DUCH_HEAT_NODATA. */
#define DUCH_HEAT_NODATA (-1.0)

typedef struct duch_heat_options {
    const char *scene;       /* NULL: every scene, one raster over their union (in their
                                common CRS, else EPSG:4326; at the finest step); a
                                scene_id or a scene path: that scene's own grid and CRS;
                                "all": every scene apart, each on its own grid (no raster
                                of the result itself: take them with duch_heat_scene) */
    int combine_max;         /* overlapping tiles: 0 = mean (default), 1 = maximum */
    long long max_cells;     /* refuse a raster larger than this; 0 = 100 million */
} duch_heat_options;

typedef struct duch_heat_info {
    int width, height;       /* cells */
    double geotransform[6];  /* of the raster (cells) */
    const char *crs_wkt;     /* NULL: no CRS (one scene indexed without georeferencing) */
    int is_confidence;       /* 1: scores are confidences, 0: similarities */
    int bits;
    int scenes;              /* scenes with a scored tile */
    long long tiles;         /* tiles scored */
    int step;                /* source pixels per cell (one scene), else 0 */
    const char *scene;       /* the scene's path (one scene), else NULL */
    int64_t scene_id;        /* its scene_id (one scene), else 0 */
    const char *model_id;
    const char *text_explain, *text_summary; /* as in duch_hits; NULL when none */
    double best;             /* highest score */
} duch_heat_info;

typedef struct duch_heat duch_heat;

void duch_heat_options_init(duch_heat_options *o);
/* Score every tile of ARCHIVE (or of q->bbox, or of o->scene) for q (q->k is not used)
 * and lay the scores out. *out gets a result to free with duch_heat_free(). */
int duch_heat_make(const char *archive, const duch_search_query *q, const duch_heat_options *o,
                   duch_heat **out, char *err, size_t errlen);
void duch_heat_free(duch_heat *h); /* accepts NULL */
/* The scenes of h with a scored tile (every one drawn; for a single scene, 1), and scene i
 * alone as a result of its own, on its grid (to free with duch_heat_free): what options
 * scene = "all" is read with; the scores are h's (one query, one background). */
size_t duch_heat_scene_count(const duch_heat *h);
int duch_heat_scene(const duch_heat *h, size_t i, duch_heat **out, char *err, size_t errlen);
const duch_heat_info *duch_heat_get_info(const duch_heat *h);
/* The raster as a GDAL dataset in memory (a GDALDatasetH of the MEM driver, to GDALClose),
 * its metadata saying the query and what the scores are; NULL with a message. */
void *duch_heat_dataset(const duch_heat *h, const char *query, char *err, size_t errlen);
/* Write the raster to path: a Cloud-Optimized GeoTIFF (DEFLATE) where GDAL has the COG
 * driver, else a tiled GeoTIFF; written beside path and renamed over it. */
int duch_heat_write_raster(const duch_heat *h, const char *path, const char *query, char *err,
                           size_t errlen);
/* Merge adjacent tiles whose score is at least min_score (< 0: 0.5 for confidences; for
 * similarities, the best score less 1/8) into polygons (EPSG:4326), written with OGR to
 * path (.gpkg: GeoPackage, .geojson / .json: GeoJSON), one feature per polygon: query,
 * scene_id, scene, tiles, best, mean. *nregions (may be NULL) gets their number. */
int duch_heat_write_regions(const duch_heat *h, const char *path, const char *query,
                            double min_score, int *nregions, char *err, size_t errlen);
/* The heat map over the scene(s), downsampled to at most max_side px (0 = 1024), as PNG. */
int duch_heat_write_overlay(const duch_heat *h, const char *png, int max_side, char *err,
                            size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_PIPELINE_H */
