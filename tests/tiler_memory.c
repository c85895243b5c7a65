/* tiler_memory: memory stays bounded whatever the scene's size. A 60000 x 20000 px,
 * 3-band scene (3.6 GB of pixels; a sparse tiled GeoTIFF, so it costs nothing on disk)
 * is tiled with a small max_memory: the strip buffers never exceed the bound, rows are
 * read in several chunks, and the peak RSS grows by far less than one row of tiles at
 * source resolution. */
#include <sys/resource.h>

#include "tiler_fixtures.h"

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(void)
{
    tf_init();
    GDALSetCacheMax64((GIntBig)16 << 20); /* GDAL's block cache: 16 MB */
    const int W = 60000, H = 20000;
    const double gt[6] = {400000, 0.5, 0, 5000000, 0, -0.5};
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    co = CSLSetNameValue(co, "SPARSE_OK", "YES");
    co = CSLSetNameValue(co, "BLOCKXSIZE", "512");
    co = CSLSetNameValue(co, "BLOCKYSIZE", "512");
    GDALDriverH drv = GDALGetDriverByName("GTiff");
    GDALDatasetH ds = GDALCreate(drv, "/vsimem/m_big.tif", W, H, 3, GDT_Byte, co);
    CSLDestroy(co);
    REQUIRE(ds, "create");
    GDALSetGeoTransform(ds, (double *)gt);
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(s, 32632);
    GDALSetSpatialRef(ds, s);
    OSRDestroySpatialReference(s);
    /* a few real blocks so that something is read */
    unsigned char *blk = malloc(512 * 512);
    for (int i = 0; i < 512 * 512; i++)
        blk[i] = (unsigned char)(1 + i % 200);
    for (int b = 1; b <= 3; b++)
        for (int k = 0; k < 10; k++)
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, k * 5120, k * 1536, 512, 512,
                                 blk, 512, 512, GDT_Byte, 0, 0) == CE_None, "write");
    free(blk);
    GDALClose(ds);

    duch_tiler_options o;
    duch_tiler_options_init(&o);
    o.tile_size_px = 2048; /* 30 x 10 tiles */
    o.out_size = 64;
    o.resampling = "nearest";
    o.min_valid = 0;
    o.max_memory = 200000; /* a row of tiles at 64 px is 30*64*64*3 = 368640 bytes */
    duch_tiler *t = tf_open("/vsimem/m_big.tif", &o);
    const duch_scene_info *si = duch_tiler_info(t);
    CHECK(si->cols == 30 && si->rows == 10, "grid %dx%d", si->cols, si->rows);
    size_t now, bound;
    duch_tiler_buffer_bytes(t, &now, &bound);
    printf("strip buffers: %zu bytes now, bound %zu (max_memory %zu)\n", now, bound, o.max_memory);
    CHECK(now <= bound, "buffers %zu over the bound %zu", now, bound);
    CHECK(bound <= o.max_memory + 64 * 64 * 3, "bound %zu", bound);
    CHECK(now < (size_t)30 * 64 * 64 * 3, "a whole row is buffered (%zu)", now);

    long rss0 = peak_rss_kb();
    duch_tile tile;
    int rc, n = 0;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK)
        n++;
    CHECK(rc == DUCH_TILER_DONE, "rc %d %s", rc, duch_tiler_errmsg(t));
    CHECK(n == 300, "kept %d", n); /* no nodata: empty sparse blocks are valid zeros */
    duch_tiler_buffer_bytes(t, &now, &bound);
    CHECK(now <= bound, "after: %zu > %zu", now, bound);
    long grown = peak_rss_kb() - rss0;
    printf("peak RSS grew by %ld kB while tiling %d x %d x 3 px (one row of tiles at source "
           "resolution: %lld kB)\n", grown, W, H, (long long)W * 2048 * 3 / 1024);
    /* GDAL's block cache (16 MB) + decoder state; a row of tiles is 368 MB */
    CHECK(grown < 64 * 1024, "peak RSS grew by %ld kB", grown);
    duch_tiler_close(t);

    /* the default max_memory holds a whole row: one chunk per row */
    o.max_memory = 0;
    duch_tiler_options d;
    duch_tiler_options_init(&d);
    o.max_memory = d.max_memory;
    t = tf_open("/vsimem/m_big.tif", &o);
    duch_tiler_buffer_bytes(t, &now, &bound);
    CHECK(now >= (size_t)30 * 64 * 64 * 3, "a whole row is buffered with the default (%zu)", now);
    duch_tiler_close(t);
    VSIUnlink("/vsimem/m_big.tif");
    return tf_finish("tiler_memory");
}
