/* tiler_fixtures.h: helpers shared by the tests/tiler_*.c programs: georeferenced
 * rasters made at test time with the GDAL C API (mostly in /vsimem/), and checks. */
#ifndef TILER_FIXTURES_H
#define TILER_FIXTURES_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include "duch_tiler.h"

static int tf_failures;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            tf_failures++;                                                                \
            fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
        }                                                                                 \
    } while (0)

/* Fatal: stop the test program. */
#define REQUIRE(cond, ...)                                                                \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: FATAL: %s: ", __FILE__, __LINE__, #cond);             \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static inline int tf_finish(const char *name)
{
    if (tf_failures) {
        fprintf(stderr, "%s: %d failure(s)\n", name, tf_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* Deterministic pattern value of pixel (x, y) of band b (1-based), in 0..255. */
static inline int tf_pattern(int x, int y, int b)
{
    return (x * 7 + y * 13 + b * 50 + (x / 17) * (y / 11)) % 256;
}

/* Create a raster (driver "GTiff" or "MEM"), optionally georeferenced: srs = "EPSG:n"
 * or any SetFromUserInput string (NULL = none), gt = NULL for none. Bands of type Byte
 * are filled with tf_pattern; others with zeros. opts: creation options or NULL. */
static inline GDALDatasetH tf_create(const char *path, int w, int h, int nb, GDALDataType type,
                              const char *srs, const double *gt, char **opts)
{
    GDALDriverH drv = GDALGetDriverByName(strncmp(path, "MEM:", 4) == 0 ? "MEM" : "GTiff");
    REQUIRE(drv, "no driver");
    GDALDatasetH ds = GDALCreate(drv, strncmp(path, "MEM:", 4) == 0 ? "" : path, w, h, nb, type, opts);
    REQUIRE(ds, "cannot create %s: %s", path, CPLGetLastErrorMsg());
    if (gt)
        GDALSetGeoTransform(ds, (double *)gt);
    if (srs) {
        OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
        REQUIRE(OSRSetFromUserInput(s, srs) == OGRERR_NONE, "bad srs %s", srs);
        GDALSetSpatialRef(ds, s);
        OSRDestroySpatialReference(s);
    }
    if (type == GDT_Byte) {
        unsigned char *row = malloc((size_t)w);
        for (int b = 1; b <= nb; b++)
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++)
                    row[x] = (unsigned char)tf_pattern(x, y, b);
                REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, w, 1, row, w, 1,
                                     GDT_Byte, 0, 0) == CE_None, "write");
            }
        free(row);
    }
    return ds;
}

/* Create, fill, close; for fixtures that tests then open by path. */
static inline void tf_make(const char *path, int w, int h, int nb, const char *srs, const double *gt)
{
    GDALClose(tf_create(path, w, h, nb, GDT_Byte, srs, gt, NULL));
}

/* Open with the given options; fail the program when it does not open. */
static inline duch_tiler *tf_open(const char *path, const duch_tiler_options *o)
{
    duch_tiler *t = NULL;
    int rc = duch_tiler_open(path, o, &t);
    REQUIRE(rc == DUCH_OK, "open %s: rc %d: %s", path, rc, duch_tiler_errmsg(t));
    return t;
}

/* Geographic distance check modulo 360 in longitude. */
static inline double tf_lon_diff(double a, double b)
{
    double d = fmod(fabs(a - b), 360.0);
    return d > 180 ? 360 - d : d;
}

/* 1 when the string contains the substring (case-sensitive). */
static inline int tf_has(const char *s, const char *sub)
{
    return s && strstr(s, sub) != NULL;
}

static inline void tf_init(void)
{
    GDALAllRegister();
    CPLSetConfigOption("GDAL_PAM_ENABLED", "NO"); /* no .aux.xml next to fixtures */
}

#endif
