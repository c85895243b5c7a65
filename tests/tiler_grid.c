/* tiler_grid: the tile grid (ground size -> pixels, overlap, edges, skipping), the pixels
 * handed out (1:1 and resampled, chunked vs per-tile reads), checksum, warnings, rewind. */
#include <unistd.h>

#include "tiler_fixtures.h"
#include "sha256.h"

static int nwarn;
static void count_warning(const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
    nwarn++;
}

/* Direct GDAL read of a window, for comparison with what the tiler hands out. */
static void direct_read(const char *path, int x, int y, int w, int h, int ow, int oh,
                        GDALRIOResampleAlg alg, unsigned char *rgb)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    REQUIRE(ds, "reopen %s", path);
    GDALRasterIOExtraArg ex;
    INIT_RASTERIO_EXTRA_ARG(ex);
    ex.eResampleAlg = alg;
    int bands[3] = {1, 2, 3};
    REQUIRE(GDALDatasetRasterIOEx(ds, GF_Read, x, y, w, h, rgb, ow, oh, GDT_Byte, 3, bands, 3,
                                  (GSpacing)3 * ow, 1, &ex) == CE_None, "direct read");
    GDALClose(ds);
}

/* Iterate all tiles and compare each with a direct per-tile read. Returns kept count. */
static int compare_all(const char *path, duch_tiler_options *o, GDALRIOResampleAlg alg)
{
    duch_tiler *t = tf_open(path, o);
    const duch_scene_info *si = duch_tiler_info(t);
    int os = si->out_size, n = 0, rc;
    unsigned char *want = malloc((size_t)os * os * 3);
    duch_tile tile;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
        n++;
        memset(want, 0, (size_t)os * os * 3);
        /* direct read into the top-left rgb_width x rgb_height */
        unsigned char *tmp = malloc((size_t)tile.rgb_width * tile.rgb_height * 3);
        direct_read(path, tile.x_off, tile.y_off, tile.width, tile.height, tile.rgb_width,
                    tile.rgb_height, alg, tmp);
        for (int y = 0; y < tile.rgb_height; y++)
            memcpy(want + (size_t)y * os * 3, tmp + (size_t)y * tile.rgb_width * 3,
                   (size_t)tile.rgb_width * 3);
        free(tmp);
        int diff = 0;
        for (size_t i = 0; i < (size_t)os * os * 3; i++)
            diff += want[i] != tile.rgb[i];
        CHECK(diff == 0, "%s tile %d,%d (tile %d, overlap %d, out %d): %d bytes differ", path,
              tile.col, tile.row, si->tile_w, si->overlap, os, diff);
    }
    CHECK(rc == DUCH_TILER_DONE, "rc %d %s", rc, duch_tiler_errmsg(t));
    free(want);
    duch_tiler_close(t);
    return n;
}

int main(void)
{
    tf_init();
    duch_tiler_options o;
    duch_tile tile;
    int rc;

    /* --- UTM, 0.3048 m pixels: 78.03 m -> exactly 256 px; 1000 x 600 px ----------- */
    const double gt_utm[6] = {500000, 0.3048, 0, 4100000, 0, -0.3048};
    const char *utm = "/vsimem/grid_utm.tif";
    tf_make(utm, 1000, 600, 3, "EPSG:32610", gt_utm);
    duch_tiler_options_init(&o);
    duch_tiler *t = tf_open(utm, &o);
    const duch_scene_info *si = duch_tiler_info(t);
    CHECK(si->tile_w == 256 && si->tile_h == 256, "tile %dx%d", si->tile_w, si->tile_h);
    CHECK(si->cols == 4 && si->rows == 3, "grid %dx%d", si->cols, si->rows);
    CHECK(si->tiles == 12, "tiles %lld", si->tiles);
    CHECK(si->epsg == 32610, "epsg %d", si->epsg);
    CHECK(fabs(si->pixel_x_m - 0.3048) < 1e-9, "pixel %g", si->pixel_x_m);
    CHECK(strcmp(si->resampling, "none") == 0, "resampling %s", si->resampling);
    CHECK(si->width == 1000 && si->height == 600 && si->band_count == 3, "size");
    CHECK(strlen(si->checksum) == 64, "checksum %s", si->checksum);
    CHECK(tf_has(si->crs_wkt, "UTM zone 10N"), "wkt");
    int x, y, w, h;
    CHECK(duch_tiler_tile_window(t, 3, 2, &x, &y, &w, &h) == DUCH_OK && x == 768 && y == 512 &&
              w == 232 && h == 88, "window %d,%d %dx%d", x, y, w, h);
    CHECK(duch_tiler_tile_window(t, 4, 0, &x, &y, &w, &h) == DUCH_INVALID, "col out of grid");
    /* rows 0-1 kept (col 3: 232/256 valid), row 2 skipped (88/256 < 0.5) */
    int kept = 0;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
        kept++;
        CHECK(tile.row < 2, "row %d kept", tile.row);
        CHECK(tile.x_off == tile.col * 256 && tile.y_off == tile.row * 256, "offsets");
        CHECK(tile.rgb_size == 256, "rgb size");
        double want = (double)tile.width * tile.height / (256.0 * 256.0);
        CHECK(fabs(tile.valid - want) < 1e-9, "valid %g want %g", tile.valid, want);
        CHECK(tile.rgb_width == tile.width && tile.rgb_height == tile.height, "1:1 rgb");
        /* pixels 1:1 with the pattern; padding black */
        int bad = 0;
        for (int yy = 0; yy < 256; yy++)
            for (int xx = 0; xx < 256; xx++)
                for (int b = 0; b < 3; b++) {
                    int v = tile.rgb[(yy * 256 + xx) * 3 + b];
                    int e = xx < tile.width && yy < tile.height
                                ? tf_pattern(tile.x_off + xx, tile.y_off + yy, b + 1)
                                : 0;
                    bad += v != e;
                }
        CHECK(bad == 0, "tile %d,%d: %d pixel values differ", tile.col, tile.row, bad);
        CHECK(tile.kept == kept && tile.skipped == 0, "counters %lld %lld", tile.kept, tile.skipped);
    }
    CHECK(rc == DUCH_TILER_DONE, "rc %d", rc);
    CHECK(kept == 8, "kept %d", kept);
    CHECK(duch_tiler_next(t, &tile) == DUCH_TILER_DONE, "done stays done");
    CHECK(duch_tiler_progress(t) == 1.0, "progress %g", duch_tiler_progress(t));
    CHECK(duch_tiler_rewind(t) == DUCH_OK && duch_tiler_progress(t) == 0, "rewind");
    CHECK(duch_tiler_next(t, &tile) == DUCH_OK && tile.col == 0 && tile.row == 0, "after rewind");
    duch_tiler_close(t);

    /* min_valid 0: every tile with a valid pixel is kept, row 2 too */
    o.min_valid = 0;
    t = tf_open(utm, &o);
    kept = 0;
    while (duch_tiler_next(t, &tile) == DUCH_OK)
        kept++;
    CHECK(kept == 12, "kept %d with min_valid 0", kept);
    duch_tiler_close(t);

    /* --- chunked reads match per-tile reads: 2048 px wide so rows are chunked ---- */
    const char *wide = "/vsimem/grid_wide.tif";
    tf_make(wide, 2100, 700, 3, "EPSG:32610", gt_utm);
    duch_tiler_options_init(&o);
    o.min_valid = 0;
    o.out_size = 128; /* 256 -> 128: average */
    CHECK(compare_all(wide, &o, GRIORA_Average) == 27, "kept");
    o.max_memory = 128 * 128 * 3 * 3; /* three tiles per chunk */
    CHECK(compare_all(wide, &o, GRIORA_Average) == 27, "kept");
    o.max_memory = 1; /* one tile per chunk */
    CHECK(compare_all(wide, &o, GRIORA_Average) == 27, "kept");
    /* overlap, step a whole number of output px: 256 - 64 = 192 -> 96 */
    duch_tiler_options_init(&o);
    o.min_valid = 0;
    o.out_size = 128;
    o.overlap_px = 64;
    t = tf_open(wide, &o);
    si = duch_tiler_info(t);
    CHECK(si->step_x == 192 && si->cols == 11 && si->rows == 4, "step %d grid %dx%d", si->step_x,
          si->cols, si->rows);
    duch_tiler_close(t);
    compare_all(wide, &o, GRIORA_Average);
    /* overlap 50: step 206 -> 103 at out 128; out 100 -> 80.47: one tile per chunk */
    o.overlap_px = 50;
    compare_all(wide, &o, GRIORA_Average);
    o.out_size = 100;
    compare_all(wide, &o, GRIORA_Average);
    /* upsampling, explicit tile size and resampling */
    duch_tiler_options_init(&o);
    o.tile_size_px = 100;
    o.out_size = 224;
    o.resampling = "bilinear";
    o.min_valid = 0;
    compare_all(wide, &o, GRIORA_Bilinear);
    o.resampling = "cubic";
    compare_all(wide, &o, GRIORA_Cubic);

    /* --- State Plane in US feet (EPSG:2227): 1 ftUS pixels -> 256 px, 0.5 ftUS -> 512 */
    const double gt_ft[6] = {6000000, 1, 0, 2000000, 0, -1};
    tf_make("/vsimem/grid_ft.tif", 600, 600, 3, "EPSG:2227", gt_ft);
    duch_tiler_options_init(&o);
    t = tf_open("/vsimem/grid_ft.tif", &o);
    si = duch_tiler_info(t);
    CHECK(fabs(si->pixel_x_m - 1200.0 / 3937.0) < 1e-9, "ftUS pixel %.9f", si->pixel_x_m);
    CHECK(si->tile_w == 256 && si->cols == 3, "tile %d cols %d", si->tile_w, si->cols);
    CHECK(si->epsg == 2227, "epsg %d", si->epsg);
    duch_tiler_close(t);
    const double gt_ft2[6] = {6000000, 0.5, 0, 2000000, 0, -0.5};
    tf_make("/vsimem/grid_ft2.tif", 600, 600, 1, "EPSG:2227", gt_ft2);
    t = tf_open("/vsimem/grid_ft2.tif", &o);
    si = duch_tiler_info(t);
    CHECK(si->tile_w == 512 && si->tile_h == 512, "tile %d", si->tile_w);
    CHECK(strcmp(si->resampling, "average") == 0, "resampling %s", si->resampling);
    duch_tiler_close(t);

    /* --- rotated geotransform: pixel size is the length of the pixel's sides -------- */
    double a = 30 * M_PI / 180, p = 0.3048;
    const double gt_rot[6] = {500000, p * cos(a), p * sin(a), 4100000, p * sin(a), -p * cos(a)};
    tf_make("/vsimem/grid_rot.tif", 520, 520, 3, "EPSG:32610", gt_rot);
    t = tf_open("/vsimem/grid_rot.tif", &o);
    si = duch_tiler_info(t);
    CHECK(fabs(si->pixel_x_m - p) < 1e-9 && fabs(si->pixel_y_m - p) < 1e-9, "rotated pixel %g %g",
          si->pixel_x_m, si->pixel_y_m);
    CHECK(si->tile_w == 256 && si->cols == 3, "rotated tile %d cols %d", si->tile_w, si->cols);
    duch_tiler_close(t);

    /* --- non-square pixels: 0.5 m x 1 m -> 156 x 78 px tiles ------------------------- */
    const double gt_ns[6] = {500000, 0.5, 0, 4100000, 0, -1};
    tf_make("/vsimem/grid_ns.tif", 400, 200, 3, "EPSG:32610", gt_ns);
    t = tf_open("/vsimem/grid_ns.tif", &o);
    si = duch_tiler_info(t);
    CHECK(si->tile_w == 156 && si->tile_h == 78, "tile %dx%d", si->tile_w, si->tile_h);
    CHECK(si->cols == 3 && si->rows == 3, "grid %dx%d", si->cols, si->rows);
    duch_tiler_close(t);

    /* --- coarse scene: 10 m pixels -> 7.8 px, raised to min_tile_px, warned ----------- */
    const double gt_coarse[6] = {500000, 10, 0, 4100000, 0, -10};
    tf_make("/vsimem/grid_coarse.tif", 300, 300, 3, "EPSG:32610", gt_coarse);
    duch_tiler_options_init(&o);
    o.on_warning = count_warning;
    nwarn = 0;
    t = tf_open("/vsimem/grid_coarse.tif", &o);
    si = duch_tiler_info(t);
    CHECK(si->tile_w == 32, "coarse tile %d", si->tile_w);
    CHECK(nwarn >= 1 && duch_tiler_warning_count(t) == nwarn, "warnings %d/%d", nwarn,
          duch_tiler_warning_count(t));
    int coarse = 0;
    for (int i = 0; i < duch_tiler_warning_count(t); i++)
        coarse |= tf_has(duch_tiler_warning(t, i), "coarser than the model");
    CHECK(coarse, "no 'coarser than the model' warning");
    CHECK(duch_tiler_warning(t, 99) == NULL, "warning out of range");
    duch_tiler_close(t);
    o.min_tile_px = 4;
    t = tf_open("/vsimem/grid_coarse.tif", &o);
    CHECK(duch_tiler_info(t)->tile_w == 8, "tile %d", duch_tiler_info(t)->tile_w);
    duch_tiler_close(t);
    /* an explicit tile size wins; a fine scene gives no warning */
    o.tile_size_px = 300;
    o.on_warning = NULL;
    t = tf_open("/vsimem/grid_coarse.tif", &o);
    CHECK(duch_tiler_info(t)->tile_w == 300 && duch_tiler_info(t)->tiles == 1, "tile");
    CHECK(duch_tiler_warning_count(t) == 0, "warnings %d", duch_tiler_warning_count(t));
    duch_tiler_close(t);

    /* --- a 0.1524 m scene: 512 px tiles read at half resolution from its overview --- */
    {
        const double gt_fine[6] = {500000, 0.1524, 0, 4100000, 0, -0.1524};
        tf_make("/vsimem/grid_fine.tif", 1024, 1024, 3, "EPSG:32610", gt_fine);
        GDALDatasetH ds = GDALOpen("/vsimem/grid_fine.tif", GA_Update);
        int lv = 2;
        REQUIRE(GDALBuildOverviews(ds, "AVERAGE", 1, &lv, 0, NULL, NULL, NULL) == CE_None, "ov");
        /* mark the overview: if the tiler reads it, every pixel is 77 */
        unsigned char *row = malloc(512);
        memset(row, 77, 512);
        for (int b = 1; b <= 3; b++) {
            GDALRasterBandH ov = GDALGetOverview(GDALGetRasterBand(ds, b), 0);
            for (int yy = 0; yy < 512; yy++)
                REQUIRE(GDALRasterIO(ov, GF_Write, 0, yy, 512, 1, row, 512, 1, GDT_Byte, 0, 0) ==
                            CE_None, "write");
        }
        free(row);
        GDALClose(ds);
        duch_tiler_options_init(&o);
        t = tf_open("/vsimem/grid_fine.tif", &o);
        si = duch_tiler_info(t);
        CHECK(si->tile_w == 512 && si->cols == 2 && si->rows == 2, "fine: tile %d grid %dx%d",
              si->tile_w, si->cols, si->rows);
        kept = 0;
        while (duch_tiler_next(t, &tile) == DUCH_OK) {
            kept++;
            int not77 = 0;
            for (int i = 0; i < 256 * 256 * 3; i++)
                not77 += tile.rgb[i] != 77;
            CHECK(not77 == 0, "tile %d,%d not read from the overview (%d values)", tile.col,
                  tile.row, not77);
        }
        CHECK(kept == 4, "fine: kept %d", kept);
        duch_tiler_close(t);
    }

    /* --- SHA-256 known answers (FIPS 180-4 examples) -------------------------------- */
    {
        const char *msg[2] = {"abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
        const char *want[2] = {
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"};
        for (int k = 0; k < 2; k++) {
            duch_sha256 sh;
            unsigned char d[32];
            char hex[65];
            duch_sha256_init(&sh);
            duch_sha256_update(&sh, msg[k], strlen(msg[k]));
            duch_sha256_final(&sh, d);
            for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
            CHECK(strcmp(hex, want[k]) == 0, "sha256(%s) = %s", msg[k], hex);
        }
    }

    /* --- checksum: independent of the path, changes with the pixels ---------------- */
    char dir[] = "/tmp/tiler_gridXXXXXX", disk[512];
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(disk, sizeof disk, "%s/copy.tif", dir);
    tf_make(disk, 1000, 600, 3, "EPSG:32610", gt_utm);
    duch_tiler_options_init(&o);
    duch_tiler *t1 = tf_open(utm, &o), *t2 = tf_open(disk, &o);
    CHECK(strcmp(duch_tiler_info(t1)->checksum, duch_tiler_info(t2)->checksum) == 0,
          "same scene, other path: %s vs %s", duch_tiler_info(t1)->checksum,
          duch_tiler_info(t2)->checksum);
    duch_tiler_close(t2);
    GDALDatasetH ds = GDALOpen(disk, GA_Update);
    unsigned char v = 1 + tf_pattern(0, 0, 2);
    CHECK(GDALRasterIO(GDALGetRasterBand(ds, 2), GF_Write, 0, 0, 1, 1, &v, 1, 1, GDT_Byte, 0, 0) ==
              CE_None, "write");
    GDALClose(ds);
    t2 = tf_open(disk, &o);
    CHECK(strcmp(duch_tiler_info(t1)->checksum, duch_tiler_info(t2)->checksum) != 0,
          "pixel change not seen");
    duch_tiler_close(t2);
    /* another geotransform: another checksum */
    const double gt_utm2[6] = {500001, 0.3048, 0, 4100000, 0, -0.3048};
    tf_make("/vsimem/grid_utm2.tif", 1000, 600, 3, "EPSG:32610", gt_utm2);
    t2 = tf_open("/vsimem/grid_utm2.tif", &o);
    CHECK(strcmp(duch_tiler_info(t1)->checksum, duch_tiler_info(t2)->checksum) != 0,
          "geotransform change not seen");
    duch_tiler_close(t2);
    duch_tiler_close(t1);
    unlink(disk);
    rmdir(dir);

    return tf_finish("tiler_grid");
}
