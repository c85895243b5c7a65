/* tiler_validity: valid fraction from nodata (a collar), alpha, per-band nodata and an
 * internal mask; --min-valid skipping and counting; invalid pixels handed out as 0. */
#include "tiler_fixtures.h"

/* 512 x 512 RGB, values never 7 inside, 7 (nodata) in a collar of `collar` px on the
 * left and top. */
static void make_collar(const char *path, int collar, int per_band_nodata)
{
    const double gt[6] = {300000, 0.5, 0, 5000000, 0, -0.5};
    GDALDatasetH ds = tf_create(path, 512, 512, 3, GDT_Byte, "EPSG:32631", gt, NULL);
    unsigned char *row = malloc(512);
    for (int b = 1; b <= 3; b++) {
        int nd = per_band_nodata ? 7 + b : 7;
        if (!per_band_nodata) /* GeoTIFF keeps one nodata for all bands */
            GDALSetRasterNoDataValue(GDALGetRasterBand(ds, b), nd);
        for (int y = 0; y < 512; y++) {
            for (int x = 0; x < 512; x++) {
                int v = tf_pattern(x, y, b);
                if (v >= 7 && v <= 10)
                    v = 100;
                /* per band: band b's collar is `collar + 16*(b-1)` wide on the left */
                int c = per_band_nodata ? collar + 16 * (b - 1) : collar;
                row[x] = (unsigned char)(x < c || y < collar ? nd : v);
            }
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, 512, 1, row, 512, 1,
                                 GDT_Byte, 0, 0) == CE_None, "write");
        }
    }
    free(row);
    GDALClose(ds);
    if (per_band_nodata) { /* a VRT over it carries one nodata per band */
        char vrt[256];
        snprintf(vrt, sizeof vrt, "%s.vrt", path);
        GDALDatasetH src = GDALOpen(path, GA_ReadOnly);
        GDALDatasetH v = GDALCreateCopy(GDALGetDriverByName("VRT"), vrt, src, FALSE, NULL, NULL, NULL);
        REQUIRE(v, "vrt");
        for (int b = 1; b <= 3; b++)
            GDALSetRasterNoDataValue(GDALGetRasterBand(v, b), 7 + b);
        GDALClose(v);
        GDALClose(src);
    }
}

static double overlap1(int a0, int a1, int b0, int b1)
{
    int lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

int main(void)
{
    tf_init();
    duch_tiler_options o;
    duch_tiler *t;
    duch_tile tile;
    int rc;

    /* --- nodata collar of 100 px, tiles of 128 at 1:1: exact fractions ---------------- */
    make_collar("/vsimem/v_collar.tif", 100, 0);
    duch_tiler_options_init(&o);
    o.tile_size_px = 128;
    o.out_size = 128;
    t = tf_open("/vsimem/v_collar.tif", &o);
    int kept = 0;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
        kept++;
        double want = overlap1(tile.x_off, tile.x_off + 128, 100, 512) *
                      overlap1(tile.y_off, tile.y_off + 128, 100, 512) / (128.0 * 128.0);
        CHECK(fabs(tile.valid - want) < 1e-12, "tile %d,%d valid %g want %g", tile.col, tile.row,
              tile.valid, want);
        CHECK(tile.valid >= 0.5, "kept below min_valid");
        int bad = 0;
        for (int y = 0; y < 128; y++)
            for (int x = 0; x < 128; x++) {
                int gx = tile.x_off + x, gy = tile.y_off + y;
                const unsigned char *p = tile.rgb + 3 * (y * 128 + x);
                if (gx < 100 || gy < 100) {
                    bad += p[0] != 0 || p[1] != 0 || p[2] != 0;
                } else {
                    int v = tf_pattern(gx, gy, 2);
                    bad += p[1] != (v >= 7 && v <= 10 ? 100 : v);
                }
            }
        CHECK(bad == 0, "tile %d,%d: %d pixels wrong (collar must be 0)", tile.col, tile.row, bad);
    }
    CHECK(rc == DUCH_TILER_DONE, "rc %d", rc);
    /* row 0 and col 0: 28/128 valid -> skipped: 7 tiles; 16 - 7 = 9 kept */
    CHECK(kept == 9, "kept %d", kept);
    CHECK(tile.skipped == 7 && tile.visited == 16, "counters %lld %lld", tile.skipped, tile.visited);
    duch_tiler_close(t);

    /* min_valid 0 keeps partly valid tiles (all 16 have some valid pixels) */
    o.min_valid = 0;
    t = tf_open("/vsimem/v_collar.tif", &o);
    kept = 0;
    while (duch_tiler_next(t, &tile) == DUCH_OK)
        kept++;
    CHECK(kept == 16, "kept %d with min_valid 0", kept);
    duch_tiler_close(t);
    /* min_valid 1: only whole tiles */
    o.min_valid = 1;
    t = tf_open("/vsimem/v_collar.tif", &o);
    kept = 0;
    while (duch_tiler_next(t, &tile) == DUCH_OK)
        kept++;
    CHECK(kept == 9, "kept %d with min_valid 1", kept);
    duch_tiler_close(t);

    /* a collar wider than a tile: tiles with no valid pixel are always skipped */
    make_collar("/vsimem/v_wide.tif", 200, 0);
    o.min_valid = 0;
    t = tf_open("/vsimem/v_wide.tif", &o);
    kept = 0;
    while (duch_tiler_next(t, &tile) == DUCH_OK) {
        kept++;
        CHECK(tile.valid > 0, "empty tile kept");
    }
    CHECK(kept == 9, "kept %d (7 empty tiles skipped)", kept);
    duch_tiler_close(t);

    /* --- downsampled (128 -> 32, average): fraction close to the truth --------------- */
    duch_tiler_options_init(&o);
    o.tile_size_px = 128;
    o.out_size = 32;
    o.min_valid = 0;
    t = tf_open("/vsimem/v_collar.tif", &o);
    while (duch_tiler_next(t, &tile) == DUCH_OK) {
        double want = overlap1(tile.x_off, tile.x_off + 128, 100, 512) *
                      overlap1(tile.y_off, tile.y_off + 128, 100, 512) / (128.0 * 128.0);
        CHECK(fabs(tile.valid - want) < 0.05, "downsampled tile %d,%d valid %g want %g", tile.col,
              tile.row, tile.valid, want);
    }
    duch_tiler_close(t);

    /* --- per-band nodata: a pixel is valid when all three bands are ------------------ */
    make_collar("/vsimem/v_perband.tif", 60, 1); /* band 3's collar is 92 px wide */
    duch_tiler_options_init(&o);
    o.tile_size_px = 128;
    o.out_size = 128;
    o.min_valid = 0;
    t = tf_open("/vsimem/v_perband.tif.vrt", &o);
    REQUIRE(duch_tiler_next(t, &tile) == DUCH_OK, "first tile");
    CHECK(fabs(tile.valid - (36.0 * 68.0) / (128.0 * 128.0)) < 1e-12, "per-band valid %g",
          tile.valid);
    duch_tiler_close(t);

    /* --- alpha band (RGBA): transparent where alpha is 0 ------------------------------- */
    {
        const double gt[6] = {300000, 0.5, 0, 5000000, 0, -0.5};
        char **opts = CSLSetNameValue(NULL, "ALPHA", "YES");
        GDALDatasetH ds = tf_create("/vsimem/v_rgba.tif", 256, 256, 4, GDT_Byte, "EPSG:32631", gt, opts);
        CSLDestroy(opts);
        unsigned char *a = malloc(256);
        for (int x = 0; x < 256; x++)
            a[x] = x < 192 ? 255 : 0;
        for (int y = 0; y < 256; y++)
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, 4), GF_Write, 0, y, 256, 1, a, 256, 1,
                                 GDT_Byte, 0, 0) == CE_None, "write");
        free(a);
        GDALClose(ds);
        duch_tiler_options_init(&o);
        o.tile_size_px = 128;
        o.out_size = 128;
        t = tf_open("/vsimem/v_rgba.tif", &o);
        const duch_scene_info *si = duch_tiler_info(t);
        CHECK(si->rgb_bands[0] == 1 && si->rgb_bands[2] == 3, "RGBA bands");
        kept = 0;
        while (duch_tiler_next(t, &tile) == DUCH_OK) {
            kept++;
            double want = tile.col == 0 ? 1.0 : 0.5;
            CHECK(fabs(tile.valid - want) < 1e-12, "alpha valid %g", tile.valid);
            if (tile.col == 1)
                CHECK(tile.rgb[3 * 100] == 0 && tile.rgb[3 * 10] != 0 + (tf_pattern(138, 0, 1) == 0),
                      "transparent pixels are 0");
        }
        CHECK(kept == 4, "kept %d", kept);
        duch_tiler_close(t);
    }

    /* --- internal mask band (per dataset) ------------------------------------------ */
    {
        const double gt[6] = {300000, 0.5, 0, 5000000, 0, -0.5};
        GDALDatasetH ds = tf_create("/vsimem/v_mask.tif", 256, 256, 3, GDT_Byte, "EPSG:32631", gt, NULL);
        REQUIRE(GDALCreateDatasetMaskBand(ds, GMF_PER_DATASET) == CE_None, "mask");
        GDALRasterBandH m = GDALGetMaskBand(GDALGetRasterBand(ds, 1));
        unsigned char *r = malloc(256);
        for (int y = 0; y < 256; y++) {
            for (int x = 0; x < 256; x++)
                r[x] = y < 64 ? 0 : 255;
            REQUIRE(GDALRasterIO(m, GF_Write, 0, y, 256, 1, r, 256, 1, GDT_Byte, 0, 0) == CE_None, "w");
        }
        free(r);
        GDALClose(ds);
        t = tf_open("/vsimem/v_mask.tif", &o);
        kept = 0;
        while (duch_tiler_next(t, &tile) == DUCH_OK) {
            kept++;
            CHECK(fabs(tile.valid - (tile.row == 0 ? 0.5 : 1.0)) < 1e-12, "mask valid %g", tile.valid);
        }
        CHECK(kept == 4, "kept %d", kept);
        duch_tiler_close(t);
    }
    return tf_finish("tiler_validity");
}
