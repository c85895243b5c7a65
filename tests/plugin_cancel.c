/*
 * plugin_cancel: the DUCH driver through GDAL's C API, as an application would use it.
 *
 *   - GDALCreateCopy of an in-memory (MEM) dataset fails with CPLE_NotSupported and a
 *     message that says the source has no file on disk; nothing is created;
 *   - a progress function that returns FALSE ends GDALCreateCopy with NULL and
 *     CPLE_UserInterrupt; the archive keeps the scene indexed before and lacks the
 *     cancelled one, which a later run indexes.
 *
 * Loads gdal_DUCH.so through GDAL_DRIVER_PATH (the test environment points it at the
 * build tree). Needs a model: $DUCH_DEFAULT_MODEL and $DUCH_MODEL_LIB, else exit 77.
 */
#include <gdal.h>
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            failures++;                                                      \
        }                                                                    \
    } while (0)

static int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* A georeferenced RGB GeoTIFF (UTM 10N, 0.3 m pixels) with some texture. */
static int make_scene(const char *path, int w, int h, double x0, int seed)
{
    GDALDriverH gtiff = GDALGetDriverByName("GTiff");
    GDALDatasetH ds = GDALCreate(gtiff, path, w, h, 3, GDT_Byte, NULL);
    if (!ds)
        return 0;
    double gt[6] = {x0, 0.3, 0, 4200000.0, 0, -0.3};
    GDALSetGeoTransform(ds, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 32610);
    GDALSetSpatialRef(ds, srs);
    OSRDestroySpatialReference(srs);
    unsigned char *row = malloc((size_t)w);
    int ok = row != NULL;
    for (int b = 1; ok && b <= 3; b++)
        for (int y = 0; ok && y < h; y++) {
            for (int x = 0; x < w; x++)
                row[x] = (unsigned char)((x * (b + seed) + y * (4 - b) + ((x / 32 + y / 32) % 2) * 90) & 0xff);
            ok = GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, w, 1, row, w, 1,
                              GDT_Byte, 0, 0) == CE_None;
        }
    free(row);
    GDALClose(ds);
    return ok;
}

/* Number of rows of table in the archive, read with GDAL's own SQLite driver. */
static long long count_rows(const char *archive, const char *table)
{
    const char *drivers[] = {"SQLite", NULL};
    GDALDatasetH ds = GDALOpenEx(archive, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers,
                                 NULL, NULL);
    if (!ds)
        return -1;
    long long n = -1;
    OGRLayerH lyr = GDALDatasetExecuteSQL(ds, CPLSPrintf("SELECT COUNT(*) FROM %s", table),
                                          NULL, NULL);
    if (lyr) {
        OGRFeatureH f = OGR_L_GetNextFeature(lyr);
        if (f) {
            n = OGR_F_GetFieldAsInteger64(f, 0);
            OGR_F_Destroy(f);
        }
        GDALDatasetReleaseResultSet(ds, lyr);
    }
    GDALClose(ds);
    return n;
}

static int cancel_now(double frac, const char *msg, void *arg)
{
    (void)frac;
    (void)msg;
    ++*(int *)arg;
    return FALSE;
}

int main(void)
{
    const char *model = getenv("DUCH_DEFAULT_MODEL");
    const char *lib = getenv("DUCH_MODEL_LIB");
    if (!model || !file_exists(model) || !lib || !file_exists(lib)) {
        printf("SKIP: no model (DUCH_DEFAULT_MODEL=%s, DUCH_MODEL_LIB=%s)\n",
               model ? model : "", lib ? lib : "");
        return 77;
    }
    GDALAllRegister();
    GDALDriverH duch = GDALGetDriverByName("DUCH");
    if (!duch) {
        fprintf(stderr, "FAIL: no DUCH driver (GDAL_DRIVER_PATH=%s)\n",
                getenv("GDAL_DRIVER_PATH") ? getenv("GDAL_DRIVER_PATH") : "");
        return 1;
    }

    char tmpl[] = "/tmp/duch_plugin_cancel.XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }
    char scene1[512], scene2[512], archive[512], dest[600];
    snprintf(scene1, sizeof scene1, "%s/scene1.tif", dir);
    snprintf(scene2, sizeof scene2, "%s/scene2.tif", dir);
    snprintf(archive, sizeof archive, "%s/archive.sqlite", dir);
    snprintf(dest, sizeof dest, "DUCH:%s", archive);
    if (!make_scene(scene1, 512, 512, 500000.0, 1) ||
        !make_scene(scene2, 2048, 1024, 501000.0, 2)) {
        fprintf(stderr, "FAIL: cannot write the test scenes in %s\n", dir);
        return 1;
    }
    char **co = NULL;
    co = CSLSetNameValue(co, "MODEL", model);
    co = CSLSetNameValue(co, "TILE_SIZE", "256");

    /* 1. A source without a file on disk. */
    GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", 64, 64, 3, GDT_Byte, NULL);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    GDALDatasetH out = GDALCreateCopy(duch, dest, mem, FALSE, co, NULL, NULL);
    CPLPopErrorHandler();
    CHECK(out == NULL, "CreateCopy of a MEM dataset succeeded");
    CHECK(CPLGetLastErrorNo() == CPLE_NotSupported, "MEM source: error %d, expected %d",
          CPLGetLastErrorNo(), CPLE_NotSupported);
    CHECK(strstr(CPLGetLastErrorMsg(), "no file on disk") != NULL,
          "MEM source: unclear message: %s", CPLGetLastErrorMsg());
    CHECK(!file_exists(archive), "MEM source: %s was created", archive);
    if (out)
        GDALClose(out);
    GDALClose(mem);

    /* 2. Index scene 1, completely. */
    GDALDatasetH src = GDALOpen(scene1, GA_ReadOnly);
    CPLErrorReset();
    out = GDALCreateCopy(duch, dest, src, FALSE, co, NULL, NULL);
    CHECK(out != NULL, "indexing scene 1 failed: %s", CPLGetLastErrorMsg());
    if (out)
        GDALClose(out);
    GDALClose(src);
    long long tiles1 = count_rows(archive, "tiles");
    CHECK(count_rows(archive, "scenes") == 1, "scenes after scene 1: %lld",
          count_rows(archive, "scenes"));
    CHECK(tiles1 > 0, "tiles after scene 1: %lld", tiles1);

    /* 3. Index scene 2, cancelled by the progress function. */
    int calls = 0;
    src = GDALOpen(scene2, GA_ReadOnly);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    out = GDALCreateCopy(duch, dest, src, FALSE, co, cancel_now, &calls);
    CPLPopErrorHandler();
    CHECK(out == NULL, "a cancelled CreateCopy returned a dataset");
    CHECK(calls >= 1, "the progress function was never called");
    CHECK(CPLGetLastErrorNo() == CPLE_UserInterrupt, "cancel: error %d (%s), expected %d",
          CPLGetLastErrorNo(), CPLGetLastErrorMsg(), CPLE_UserInterrupt);
    if (out)
        GDALClose(out);
    CHECK(count_rows(archive, "scenes") == 1, "scenes after the cancel: %lld (expected 1)",
          count_rows(archive, "scenes"));
    CHECK(count_rows(archive, "tiles") == tiles1, "tiles after the cancel: %lld (expected %lld)",
          count_rows(archive, "tiles"), tiles1);

    /* 4. The cancelled scene indexes on the next run. */
    CPLErrorReset();
    out = GDALCreateCopy(duch, dest, src, FALSE, co, NULL, NULL);
    CHECK(out != NULL, "indexing scene 2 after the cancel failed: %s", CPLGetLastErrorMsg());
    if (out)
        GDALClose(out);
    GDALClose(src);
    CHECK(count_rows(archive, "scenes") == 2, "scenes at the end: %lld (expected 2)",
          count_rows(archive, "scenes"));
    CHECK(count_rows(archive, "tiles") > tiles1, "no tiles added for scene 2");

    CSLDestroy(co);
    if (failures == 0) {
        const char *names[] = {scene1, scene2, archive};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            unlink(names[i]);
        char extra[600];
        snprintf(extra, sizeof extra, "%s-wal", archive);
        unlink(extra);
        snprintf(extra, sizeof extra, "%s-shm", archive);
        unlink(extra);
        rmdir(dir);
        printf("ok: MEM source refused, cancel leaves the archive as it was, rerun indexes\n");
    } else {
        fprintf(stderr, "%d failure(s); files kept in %s\n", failures, dir);
    }
    GDALDestroyDriverManager();
    return failures ? 1 : 0;
}
