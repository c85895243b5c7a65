/* archive_internal.h: shared inside index/ and with index/'s own tests (not installed,
 * hidden in libduch). Outside index/ nothing speaks SQL to an archive: use duch_index.h. */
#ifndef DUCH_ARCHIVE_INTERNAL_H
#define DUCH_ARCHIVE_INTERNAL_H

#include "duch_index.h"

/* The archive's SQLite connection (owned by a). */
__attribute__((visibility("hidden"))) struct sqlite3 *duch_archive_db(duch_archive *a);

/* 1 when main's schema holds an object of that type ('table', 'index', 'trigger') and
 * name (index/engine.c). */
__attribute__((visibility("hidden"))) int duch_db_has_object(struct sqlite3 *db, const char *type,
                                                             const char *name);

/* This process's writer token, "host boot-id pid start-time" (scenes.writer). */
__attribute__((visibility("hidden"))) void duch_writer_token(char *out, size_t n);

/* WKB polygons (index/wkb.c; PostGIS's ST_AsBinary, ISO or EWKB, either byte order):
 * the first ring as lon/lat pairs (malloc'ed; NULL and *npoints 0 when it is not a
 * polygon), and the exact bounding box of its points (1, or 0 when not a polygon). */
__attribute__((visibility("hidden"))) double *duch_wkb_ring(const unsigned char *wkb, size_t size,
                                                            int *npoints);
__attribute__((visibility("hidden"))) int duch_wkb_box(const unsigned char *wkb, size_t size,
                                                       double box[4]);

/* A footprint ring (npoints lon/lat pairs, closed or not): the number of points of the
 * closed ring, or 0 when it has fewer than 3 distinct finite points. */
__attribute__((visibility("hidden"))) int duch_ring_points(const double *ring, int npoints);

/* The messages both archive forms give (index/archive.c): a scene someone else has
 * (returns DUCH_EXISTS), and codes that do not fit the model (returns DUCH_MISMATCH). */
__attribute__((visibility("hidden"))) int duch_scene_taken_msg(char *msg, size_t n, const char *archive,
                                                               const char *path,
                                                               const duch_scene_status *st);
__attribute__((visibility("hidden"))) int duch_codes_mismatch_msg(char *msg, size_t n, const char *archive,
                                                                  long long nbad, int bits,
                                                                  long long first, long long len);

#endif
