/* tiler_validity: valid fraction from nodata (a collar), alpha, per-band nodata, an
 * internal mask, and NaN / +-Inf samples of float bands; --min-valid skipping and counting;
 * invalid pixels handed out as 0; the stretch ignores NaN; read_window refuses a window
 * with no valid pixel. */
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 256 x 256 x 3 Float32 scene, no nodata unless nodata_rows > 0 (then -9999 in the top
 * nodata_rows rows). Value: NaN where x < nan_cols; +Inf at row 200, x 200..209 and -Inf
 * at x 210..219 when inf; else float_value(x, y, b). */
static float float_value(int x, int y, int b)
{
    return (float)(1000.0 + 3.5 * tf_pattern(x, y, b) + 0.25 * x);
}

static void make_float(const char *path, int nan_cols, int inf, int nodata_rows)
{
    const double gt[6] = {300000, 0.5, 0, 5000000, 0, -0.5};
    GDALDatasetH ds = tf_create(path, 256, 256, 3, GDT_Float32, "EPSG:32631", gt, NULL);
    float *row = malloc(256 * sizeof *row);
    for (int b = 1; b <= 3; b++) {
        if (nodata_rows > 0)
            GDALSetRasterNoDataValue(GDALGetRasterBand(ds, b), -9999);
        for (int y = 0; y < 256; y++) {
            for (int x = 0; x < 256; x++) {
                float v = float_value(x, y, b);
                if (x < nan_cols)
                    v = NAN;
                else if (inf && y == 200 && x >= 200 && x < 210)
                    v = INFINITY;
                else if (inf && y == 200 && x >= 210 && x < 220)
                    v = -INFINITY;
                else if (y < nodata_rows)
                    v = -9999;
                row[x] = v;
            }
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, 256, 1, row, 256, 1,
                                 GDT_Float32, 0, 0) == CE_None, "write");
        }
    }
    free(row);
    GDALClose(ds);
}

/* The stretch's percentile of band b's valid values of a make_float scene (all pixels
 * are sampled: the scene is small). */
static double float_percentile(int nan_cols, int nodata_rows, int b, double pct)
{
    double *v = malloc(256 * 256 * sizeof *v);
    size_t k = 0;
    for (int y = nodata_rows; y < 256; y++)
        for (int x = nan_cols; x < 256; x++)
            if (!(y == 200 && x >= 200 && x < 220))
                v[k++] = float_value(x, y, b);
    qsort(v, k, sizeof *v, cmp_double);
    double r = v[(size_t)floor(pct / 100.0 * (double)(k - 1) + 0.5)];
    free(v);
    return r;
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

    /* --- NaN and +-Inf in float bands are invalid, like nodata -------------------------- */
    {
        /* all NaN, no nodata: no tile, even with min_valid 0; no stretch from NaN */
        make_float("/vsimem/v_nan_all.tif", 256, 0, 0);
        duch_tiler_options_init(&o);
        o.tile_size_px = 128;
        o.out_size = 128;
        o.min_valid = 0;
        t = tf_open("/vsimem/v_nan_all.tif", &o);
        const duch_scene_info *si = duch_tiler_info(t);
        CHECK(isfinite(si->stretch_min[0]) && isfinite(si->stretch_max[0]), "all-NaN stretch %g..%g",
              si->stretch_min[0], si->stretch_max[0]);
        rc = duch_tiler_next(t, &tile);
        CHECK(rc == DUCH_TILER_DONE, "all-NaN scene: rc %d, tile %d,%d valid %g", rc, tile.col,
              tile.row, rc == DUCH_OK ? tile.valid : -1);
        CHECK(duch_tiler_progress(t) == 1.0, "all visited");
        /* query by example on it: no valid pixel */
        unsigned char q[64 * 64 * 3];
        double qv = -1;
        rc = duch_tiler_read_window(t, 0, 0, 256, 256, 64, 64, q, &qv);
        CHECK(rc == DUCH_INVALID, "read_window on all NaN: rc %d", rc);
        CHECK(tf_has(duch_tiler_errmsg(t), "no valid pixel"), "message '%s'", duch_tiler_errmsg(t));
        CHECK(qv == 0, "valid %g", qv);
        duch_tiler_close(t);

        /* NaN in x < 96, +Inf and -Inf in 20 pixels of row 200 */
        make_float("/vsimem/v_nan_half.tif", 96, 1, 0);
        duch_tiler_options_init(&o);
        o.tile_size_px = 128;
        o.out_size = 128;
        t = tf_open("/vsimem/v_nan_half.tif", &o);
        si = duch_tiler_info(t);
        for (int b = 0; b < 3; b++) {
            double lo = float_percentile(96, 0, b + 1, 2), hi = float_percentile(96, 0, b + 1, 98);
            CHECK(si->stretched[b] && si->stretch_min[b] == lo && si->stretch_max[b] == hi,
                  "band %d stretch %.9g..%.9g, want %.9g..%.9g (NaN/Inf ignored)", b + 1,
                  si->stretch_min[b], si->stretch_max[b], lo, hi);
        }
        kept = 0;
        while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
            kept++;
            double want = tile.col == 0 ? 0.25 : tile.row == 1 ? 1 - 20.0 / (128 * 128) : 1.0;
            CHECK(tile.col == 1, "tile %d,%d (valid %g) kept below min_valid", tile.col, tile.row,
                  tile.valid);
            CHECK(fabs(tile.valid - want) < 1e-12, "tile %d,%d valid %.12g want %.12g", tile.col,
                  tile.row, tile.valid, want);
            int wrong = 0;
            for (int y = 0; y < 128; y++)
                for (int x = 0; x < 128; x++) {
                    int gx = tile.x_off + x, gy = tile.y_off + y;
                    const unsigned char *p = tile.rgb + 3 * (y * 128 + x);
                    if (gy == 200 && gx >= 200 && gx < 220) {
                        wrong += p[0] || p[1] || p[2];
                        continue;
                    }
                    double v = (float_value(gx, gy, 1) - si->stretch_min[0]) * 255.0 /
                                   (si->stretch_max[0] - si->stretch_min[0]) + 0.5;
                    int e = v <= 0 ? 0 : v >= 255 ? 255 : (int)v;
                    wrong += abs(p[0] - e) > 1;
                }
            CHECK(wrong == 0, "tile %d,%d: %d pixels wrong (Inf must be 0)", tile.col, tile.row,
                  wrong);
        }
        CHECK(rc == DUCH_TILER_DONE && kept == 2, "kept %d, rc %d", kept, rc);
        CHECK(tile.skipped == 2, "skipped %lld", tile.skipped);
        duch_tiler_close(t);

        /* min_valid 0.2 keeps the NaN-edged tiles, at 0.25, their NaN pixels black */
        o.min_valid = 0.2;
        t = tf_open("/vsimem/v_nan_half.tif", &o);
        kept = 0;
        while (duch_tiler_next(t, &tile) == DUCH_OK) {
            kept++;
            if (tile.col == 0) {
                CHECK(fabs(tile.valid - 0.25) < 1e-12, "NaN tile valid %g", tile.valid);
                CHECK(tile.rgb[3 * 95] == 0 && tile.rgb[3 * 95 + 1] == 0, "NaN pixel not black");
            }
        }
        CHECK(kept == 4, "kept %d with min_valid 0.2", kept);
        duch_tiler_close(t);

        /* downsampled 128 -> 32 (average): the NaN edge lies on output pixels, so exact */
        o.out_size = 32;
        o.min_valid = 0;
        t = tf_open("/vsimem/v_nan_half.tif", &o);
        kept = 0;
        while (duch_tiler_next(t, &tile) == DUCH_OK) {
            kept++;
            if (tile.col == 0)
                CHECK(fabs(tile.valid - 0.25) < 1e-12, "downsampled NaN tile valid %g", tile.valid);
        }
        CHECK(kept == 4, "kept %d downsampled", kept);
        duch_tiler_close(t);

        /* NaN and a nodata value together: both invalid (nodata in the top 64 rows) */
        make_float("/vsimem/v_nan_nd.tif", 96, 0, 64);
        duch_tiler_options_init(&o);
        o.tile_size_px = 128;
        o.out_size = 128;
        o.min_valid = 0;
        t = tf_open("/vsimem/v_nan_nd.tif", &o);
        si = duch_tiler_info(t);
        CHECK(si->stretch_min[0] == float_percentile(96, 64, 1, 2), "stretch with nodata and NaN");
        REQUIRE(duch_tiler_next(t, &tile) == DUCH_OK, "first tile");
        CHECK(tile.col == 0 && tile.row == 0 && fabs(tile.valid - 0.25 * 0.5) < 1e-12,
              "tile %d,%d valid %g want 0.125", tile.col, tile.row, tile.valid);
        /* query by example: a window all NaN, one all nodata, one partly valid */
        rc = duch_tiler_read_window(t, 0, 100, 96, 100, 32, 32, q, &qv);
        CHECK(rc == DUCH_INVALID && tf_has(duch_tiler_errmsg(t), "no valid pixel"),
              "NaN window: rc %d '%s'", rc, duch_tiler_errmsg(t));
        rc = duch_tiler_read_window(t, 100, 0, 150, 64, 32, 32, q, &qv);
        CHECK(rc == DUCH_INVALID && tf_has(duch_tiler_errmsg(t), "no valid pixel"),
              "nodata window: rc %d '%s'", rc, duch_tiler_errmsg(t));
        rc = duch_tiler_read_window(t, 64, 32, 64, 64, 64, 64, q, &qv);
        CHECK(rc == DUCH_OK && fabs(qv - 0.25) < 1e-12, "partly valid window: rc %d valid %g %s",
              rc, qv, duch_tiler_errmsg(t));
        duch_tiler_close(t);
    }

    /* --- read_window: no valid pixel under nodata (Byte) or alpha 0 ------------------- */
    {
        unsigned char q[32 * 32 * 3];
        double qv = -1;
        duch_tiler_options_init(&o);
        o.tile_size_px = 128;
        o.out_size = 128;
        t = tf_open("/vsimem/v_collar.tif", &o);
        rc = duch_tiler_read_window(t, 0, 0, 100, 512, 32, 32, q, &qv);
        CHECK(rc == DUCH_INVALID && tf_has(duch_tiler_errmsg(t), "no valid pixel"),
              "nodata collar window: rc %d '%s'", rc, duch_tiler_errmsg(t));
        rc = duch_tiler_read_window(t, 90, 90, 20, 20, 32, 32, q, &qv);
        CHECK(rc == DUCH_OK && qv > 0.2 && qv < 0.3, "partly valid: rc %d valid %g", rc, qv);
        duch_tiler_close(t);
        t = tf_open("/vsimem/v_rgba.tif", &o);
        rc = duch_tiler_read_window(t, 192, 0, 64, 256, 32, 32, q, &qv);
        CHECK(rc == DUCH_INVALID && tf_has(duch_tiler_errmsg(t), "no valid pixel"),
              "transparent window: rc %d '%s'", rc, duch_tiler_errmsg(t));
        rc = duch_tiler_read_window(t, 0, 0, 192, 256, 32, 32, q, &qv);
        CHECK(rc == DUCH_OK && qv == 1, "opaque window: rc %d valid %g", rc, qv);
        duch_tiler_close(t);
    }
    return tf_finish("tiler_validity");
}
