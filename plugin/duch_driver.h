/*
 * duch_driver.h: the C core of the GDAL driver gdal_DUCH.so (plugin/ only, not installed).
 *
 * plugin/gdal_DUCH.cpp is the C++ glue GDAL needs (the GDALDataset / OGRLayer classes and
 * GDALRegister_DUCH); everything else lives in plugin/duch_driver.c behind these calls:
 * parsing and checking the creation and open options, running duch_ingest() and
 * duch_search() (tiler/duch_pipeline.h), and turning hits into OGR features.
 *
 * Errors: every function that can fail reports with CPLError() (the duch status mapped to
 * a CPLErrorNum, the library's message kept) and returns 0 / NULL. Nothing here keeps
 * global state.
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

/* Check the open options (QUERY, IMAGE, K, BBOX) and fill q. String members of q point
 * into opts and stay valid as long as opts does. Returns 1, or 0 after CPLError. */
int duch_gdal_parse_open_options(CSLConstList opts, duch_search_query *q);

/* Run q against the archive (which must exist). Returns the hits (free with
 * duch_hits_free()), or NULL after CPLError. */
duch_hits *duch_gdal_search(const char *archive, const duch_search_query *q);

/* The file name of a source dataset that can be indexed: description names a regular
 * file on disk (not /vsi*, not an in-memory or virtual dataset). Returns 1, or 0 after
 * CPLError (naming driver_name when given). */
int duch_gdal_check_source(const char *description, const char *driver_name);

/* Index scene into archive (created when missing, appended to otherwise; a scene already
 * in it is skipped) with the creation options co. progress may be NULL. stats may be
 * NULL. Returns 1, or 0 after CPLError (CPLE_UserInterrupt when progress cancelled). */
int duch_gdal_ingest(const char *archive, const char *scene, CSLConstList co,
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
