/*
 * duch_driver.h: the C core of the GDAL driver gdal_DUCH.so (plugin/ only, not installed).
 *
 * plugin/gdal_DUCH.cpp is the C++ glue GDAL needs (the GDALDataset / OGRLayer classes and
 * GDALRegister_DUCH); everything else lives in plugin/duch_driver.c behind these calls:
 * parsing and checking the creation and open options, running duch_ingest() and
 * duch_search() (pipeline/duch_pipeline.h), and turning hits into OGR features.
 *
 * Errors: every function that can fail reports with CPLError() (the duch status mapped to
 * a CPLErrorNum, the library's message kept) and returns 0 / NULL. The only state is
 * per thread: which archive path was refused last (duch_gdal_refuse_existing()).
 */
#ifndef DUCH_DRIVER_H
#define DUCH_DRIVER_H

#include "cpl_port.h"
#include "cpl_progress.h"
#include "ogr_api.h"

#include "duch_pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The connection prefix of a DUCH dataset name: "DUCH:archive.sqlite". */
#define DUCH_GDAL_PREFIX "DUCH:"

/* Option lists, GDAL's XML (GDAL_DMD_CREATIONOPTIONLIST, GDAL_DMD_OPENOPTIONLIST). */
extern const char duch_gdal_creation_option_list[];
extern const char duch_gdal_open_option_list[];

/* 1 when name starts with "DUCH:" (case-insensitive), else 0. Looks at the string only. */
int duch_gdal_identify(const char *name);

/* The archive path of a dataset name: name without its "DUCH:" prefix, or name itself
 * when it has none. Points into name. */
const char *duch_gdal_archive_path(const char *name);

/* 1 when path (no DUCH: prefix) is an existing duch archive: a regular file on disk whose
 * first 16 bytes are SQLite's header (header/nheader: the file's first bytes when the
 * caller has them, e.g. GDALOpenInfo's; NULL to read them) and whose schema has the
 * duch_metadata table. Else 0, also when the file cannot be read. Quiet (no CPLError).
 * Reads the schema without locking when no -wal file exists (a duch archive is in WAL
 * mode, so its main file only changes at a checkpoint, which needs the -wal file), so
 * it never leaves a -wal or -shm file behind. */
int duch_gdal_is_archive(const char *path, const unsigned char *header, int nheader);

/* The one message for a plain destination name that is an existing duch archive (GDAL
 * would delete it before a plain-name CreateCopy): CPLError(CE_Failure) naming
 * DUCH:<path> and -co APPEND_SUBDATASET=YES. Told once per episode: a repeated refusal
 * of the same path in the same thread (gdal_translate asks Delete twice, then
 * CreateCopy refuses) only sets the last error again (CPLErrorSetState), quietly, until
 * duch_gdal_refusal_done() (CreateCopy calls it as it returns). */
void duch_gdal_refuse_existing(const char *path);
void duch_gdal_refusal_done(void);

/* Check the open options (QUERY, IMAGE, K, BBOX) and fill q. String members of q point
 * into opts and stay valid as long as opts does. Returns 1, or 0 after CPLError. */
int duch_gdal_parse_open_options(CSLConstList opts, duch_search_query *q);

/* Run q against the archive (which must exist). Returns the hits (free with
 * duch_hits_free()), or NULL after CPLError. */
duch_hits *duch_gdal_search(const char *archive, const duch_search_query *q);

/* The heat map of q over the archive (duch_heat_make with the open options SCENE and
 * COMBINE) as an in-memory GDAL raster (a GDALDatasetH, to close), or NULL after
 * CPLError. */
void *duch_gdal_heat(const char *archive, const duch_search_query *q, CSLConstList opts);

/* The file name of a source dataset that can be indexed: description names a regular
 * file on disk (not /vsi*, not an in-memory or virtual dataset). Returns 1, or 0 after
 * CPLError (naming driver_name when given). */
int duch_gdal_check_source(const char *description, const char *driver_name);

/* The creation options, checked. String members point into the option list given to
 * duch_gdal_parse_creation_options and stay valid as long as it does. */
typedef struct duch_gdal_creation {
    const char *model;   /* MODEL, NULL = default / stored model */
    int tile_size, overlap, threads;
    double min_valid;    /* MIN_VALID, < 0 = the pipeline's default */
    int allow_pixel;
    int bands[3], nbands; /* BANDS, nbands 0 = automatic */
    int append;          /* APPEND_SUBDATASET */
} duch_gdal_creation;

/* Check every creation option strictly, before anything is read or created: integers in
 * range, booleans YES/NO/TRUE/FALSE/ON/OFF/1/0, MIN_VALID in [0, 1], OVERLAP < TILE_SIZE,
 * MODEL an existing file, BANDS one or three band numbers in [1, src_bands] (src_bands:
 * the source dataset's band count; <= 0 skips that check). Returns 1, or 0 after
 * CPLError(CE_Failure, CPLE_IllegalArg or CPLE_OpenFailed). */
int duch_gdal_parse_creation_options(CSLConstList co, int src_bands, duch_gdal_creation *c);

/* Index scene into archive (created when missing, appended to otherwise; a scene already
 * in it is skipped) with the checked creation options c. progress may be NULL. stats may
 * be NULL. Returns 1, or 0 after CPLError (CPLE_UserInterrupt when progress cancelled). */
int duch_gdal_ingest(const char *archive, const char *scene, const duch_gdal_creation *c,
                     GDALProgressFunc progress, void *progress_arg, duch_ingest_stats *stats);

/* The hits layer's schema, EPSG:4326 POLYGON plus rank, distance, tile_id, scene_id,
 * scene_path, x_off, y_off, width, height. srs is referenced, not copied. The caller owns
 * one reference (OGR_FD_Release()). */
OGRFeatureDefnH duch_gdal_hits_defn(const char *layer_name, OGRSpatialReferenceH srs);

/* A new feature of defn for one hit, FID = rank, geometry from its footprint WKT (with
 * srs). Free with OGR_F_Destroy(). NULL after CPLError. */
OGRFeatureH duch_gdal_hit_feature(OGRFeatureDefnH defn, OGRSpatialReferenceH srs,
                                  const duch_search_hit *hit);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_DRIVER_H */
