/* tiler_bands: which bands become R, G, B (colour interpretation, first three, --bands,
 * one band replicated, palette), and the percentile stretch of non-Byte data
 * (16-bit 4-band, Float32 with NaN). */
#include "tiler_fixtures.h"

static void set_ci(GDALDatasetH ds, int b, GDALColorInterp ci)
{
    GDALSetRasterColorInterpretation(GDALGetRasterBand(ds, b), ci);
}

/* First tile, 1:1 (tile = out = 64 px). */
static void first_tile(const char *path, duch_tiler_options *o, duch_tiler **tp, duch_tile *tile)
{
    o->tile_size_px = 64;
    o->out_size = 64;
    *tp = tf_open(path, o);
    int rc = duch_tiler_next(*tp, tile);
    REQUIRE(rc == DUCH_OK, "%s: first tile: rc %d %s", path, rc, duch_tiler_errmsg(*tp));
}

int main(void)
{
    tf_init();
    const double gt[6] = {500000, 1, 0, 4100000, 0, -1};
    duch_tiler_options o;
    duch_tiler *t;
    duch_tile tile;

    /* --- colour interpretation: bands stored B, G, R -> rgb_bands 3, 2, 1 ------------ */
    GDALDatasetH ds = tf_create("/vsimem/b_bgr.tif", 128, 128, 3, GDT_Byte, "EPSG:32633", gt, NULL);
    set_ci(ds, 1, GCI_BlueBand);
    set_ci(ds, 2, GCI_GreenBand);
    set_ci(ds, 3, GCI_RedBand);
    GDALClose(ds);
    duch_tiler_options_init(&o);
    first_tile("/vsimem/b_bgr.tif", &o, &t, &tile);
    const duch_scene_info *si = duch_tiler_info(t);
    CHECK(si->rgb_bands[0] == 3 && si->rgb_bands[1] == 2 && si->rgb_bands[2] == 1,
          "bands %d %d %d", si->rgb_bands[0], si->rgb_bands[1], si->rgb_bands[2]);
    CHECK(tile.rgb[0] == tf_pattern(0, 0, 3) && tile.rgb[1] == tf_pattern(0, 0, 2) &&
              tile.rgb[2] == tf_pattern(0, 0, 1), "pixel order");
    CHECK(!si->stretched[0] && !si->stretched[1] && !si->stretched[2], "Byte is not stretched");
    duch_tiler_close(t);

    /* --- --bands 2,3,1 overrides ------------------------------------------------------ */
    duch_tiler_options_init(&o);
    o.band_count = 3;
    o.bands[0] = 2; o.bands[1] = 3; o.bands[2] = 1;
    first_tile("/vsimem/b_bgr.tif", &o, &t, &tile);
    CHECK(tile.rgb[3 * 5] == tf_pattern(5, 0, 2) && tile.rgb[3 * 5 + 1] == tf_pattern(5, 0, 3) &&
              tile.rgb[3 * 5 + 2] == tf_pattern(5, 0, 1), "--bands 2,3,1");
    duch_tiler_close(t);
    o.bands[2] = 4; /* no band 4 */
    CHECK(duch_tiler_open("/vsimem/b_bgr.tif", &o, &t) == DUCH_INVALID, "band 4 of 3");
    CHECK(tf_has(duch_tiler_errmsg(t), "band 4") && tf_has(duch_tiler_errmsg(t), "3 bands"), "%s",
          duch_tiler_errmsg(t));
    duch_tiler_close(t);

    /* --- one band: replicated to gray; --bands 2 picks one band of three ------------- */
    tf_make("/vsimem/b_gray.tif", 100, 100, 1, "EPSG:32633", gt);
    duch_tiler_options_init(&o);
    first_tile("/vsimem/b_gray.tif", &o, &t, &tile);
    si = duch_tiler_info(t);
    CHECK(si->rgb_bands[0] == 1 && si->rgb_bands[1] == 1 && si->rgb_bands[2] == 1, "gray bands");
    int bad = 0;
    for (int i = 0; i < 64 * 64; i++) {
        int x = i % 64, y = i / 64, v = tf_pattern(x, y, 1);
        bad += tile.rgb[3 * i] != v || tile.rgb[3 * i + 1] != v || tile.rgb[3 * i + 2] != v;
    }
    CHECK(bad == 0, "gray replicated: %d pixels differ", bad);
    duch_tiler_close(t);
    duch_tiler_options_init(&o);
    o.band_count = 1;
    o.bands[0] = 2;
    first_tile("/vsimem/b_bgr.tif", &o, &t, &tile);
    CHECK(tile.rgb[3 * 70] == tf_pattern(6, 1, 2) && tile.rgb[3 * 70 + 2] == tf_pattern(6, 1, 2),
          "--bands 2");
    duch_tiler_close(t);

    /* --- no colour interpretation, 5 bands: the first three -------------------------- */
    ds = tf_create("/vsimem/b_five.tif", 64, 64, 5, GDT_Byte, "EPSG:32633", gt, NULL);
    for (int b = 1; b <= 5; b++)
        set_ci(ds, b, GCI_Undefined);
    GDALClose(ds);
    duch_tiler_options_init(&o);
    first_tile("/vsimem/b_five.tif", &o, &t, &tile);
    si = duch_tiler_info(t);
    CHECK(si->rgb_bands[0] == 1 && si->rgb_bands[1] == 2 && si->rgb_bands[2] == 3, "first three");
    duch_tiler_close(t);

    /* --- palette: expanded through the colour table (nearest resampling) ------------- */
    ds = tf_create("/vsimem/b_pal.tif", 64, 64, 1, GDT_Byte, "EPSG:32633", gt, NULL);
    GDALColorTableH ct = GDALCreateColorTable(GPI_RGB);
    for (int i = 0; i < 256; i++) {
        GDALColorEntry e = {(short)i, (short)(255 - i), 7, 255};
        GDALSetColorEntry(ct, i, &e);
    }
    GDALSetRasterColorTable(GDALGetRasterBand(ds, 1), ct);
    GDALDestroyColorTable(ct);
    set_ci(ds, 1, GCI_PaletteIndex);
    GDALClose(ds);
    duch_tiler_options_init(&o);
    first_tile("/vsimem/b_pal.tif", &o, &t, &tile);
    si = duch_tiler_info(t);
    CHECK(si->palette == 1 && strcmp(si->resampling, "nearest") == 0, "palette %d %s", si->palette,
          si->resampling);
    int v = tf_pattern(9, 3, 1);
    const unsigned char *px = tile.rgb + 3 * (3 * 64 + 9);
    CHECK(px[0] == v && px[1] == 255 - v && px[2] == 7, "palette pixel %d %d %d for %d", px[0],
          px[1], px[2], v);
    duch_tiler_close(t);

    /* --- 16-bit, 4 bands, no colour interpretation: stretch 2..98 % per band ---------- */
    int W = 300, H = 200;
    ds = tf_create("/vsimem/b_u16.tif", W, H, 4, GDT_UInt16, "EPSG:32633", gt, NULL);
    unsigned short *row = malloc(sizeof *row * W);
    for (int b = 1; b <= 4; b++) {
        set_ci(ds, b, GCI_Undefined);
        for (int y = 0; y < H; y++) {
            /* band b: values b*1000 + 0..9999 spread uniformly over the scene */
            for (int x = 0; x < W; x++)
                row[x] = (unsigned short)(b * 1000 + ((y * W + x) * 7919) % 10000);
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, W, 1, row, W, 1,
                                 GDT_UInt16, 0, 0) == CE_None, "write");
        }
    }
    free(row);
    GDALClose(ds);
    duch_tiler_options_init(&o);
    o.min_valid = 0;
    first_tile("/vsimem/b_u16.tif", &o, &t, &tile);
    si = duch_tiler_info(t);
    CHECK(strcmp(si->data_type, "UInt16") == 0, "type %s", si->data_type);
    CHECK(si->rgb_bands[0] == 1 && si->rgb_bands[2] == 3, "u16 bands");
    for (int i = 0; i < 3; i++) {
        double lo = (i + 1) * 1000 + 200, hi = (i + 1) * 1000 + 9800;
        CHECK(si->stretched[i], "band %d not stretched", i + 1);
        CHECK(fabs(si->stretch_min[i] - lo) < 30 && fabs(si->stretch_max[i] - hi) < 30,
              "band %d stretch %g..%g, want ~%g..%g", i + 1, si->stretch_min[i],
              si->stretch_max[i], lo, hi);
    }
    /* every pixel maps by (v - min) * 255 / (max - min), rounded and clamped */
    bad = 0;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            for (int b = 0; b < 3; b++) {
                double val = (b + 1) * 1000 + ((y * W + x) * 7919) % 10000;
                double f = (val - si->stretch_min[b]) * 255.0 / (si->stretch_max[b] - si->stretch_min[b]);
                int e = f <= 0 ? 0 : f >= 255 ? 255 : (int)(f + 0.5);
                int got = tile.rgb[(y * 64 + x) * 3 + b];
                bad += abs(got - e) > 1;
            }
    CHECK(bad == 0, "u16 stretch: %d values off", bad);
    /* the stretch covers the range: some 0s and 255s, and mid values */
    int n0 = 0, n255 = 0;
    duch_tiler_rewind(t);
    while (duch_tiler_next(t, &tile) == DUCH_OK)
        for (int i = 0; i < 64 * 64 * 3; i++) {
            n0 += tile.rgb[i] == 0;
            n255 += tile.rgb[i] == 255;
        }
    CHECK(n0 > 0 && n255 > 0, "clipped tails %d %d", n0, n255);
    duch_tiler_close(t);
    /* --bands 4,3,2 on 16-bit */
    duch_tiler_options_init(&o);
    o.band_count = 3;
    o.bands[0] = 4; o.bands[1] = 3; o.bands[2] = 2;
    first_tile("/vsimem/b_u16.tif", &o, &t, &tile);
    si = duch_tiler_info(t);
    CHECK(fabs(si->stretch_min[0] - 4200) < 30, "band 4 stretch min %g", si->stretch_min[0]);
    duch_tiler_close(t);
    /* 16-bit with an alpha band 4: RGB are 1..3, alpha is the mask */
    ds = GDALOpen("/vsimem/b_u16.tif", GA_Update);
    set_ci(ds, 4, GCI_AlphaBand);
    {   /* opaque on the left 128 columns, transparent on the right */
        unsigned short *a = malloc(sizeof *a * W);
        for (int x = 0; x < W; x++)
            a[x] = x < 128 ? 65535 : 0;
        for (int y = 0; y < H; y++)
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, 4), GF_Write, 0, y, W, 1, a, W, 1,
                                 GDT_UInt16, 0, 0) == CE_None, "write");
        free(a);
    }
    GDALClose(ds);
    duch_tiler_options_init(&o);
    first_tile("/vsimem/b_u16.tif", &o, &t, &tile);
    si = duch_tiler_info(t);
    CHECK(si->rgb_bands[2] == 3, "alpha not used as colour");
    int kept = 1;
    while (duch_tiler_next(t, &tile) == DUCH_OK) {
        kept++;
        CHECK(tile.col < 2, "transparent tile %d,%d kept", tile.col, tile.row);
    }
    CHECK(kept == 2 * 3, "kept %d", kept); /* cols 0-1 of 5, rows 0-2 (row 3 is 8 px high) */
    duch_tiler_close(t);

    /* --- a large 16-bit band without overviews: sampled by full-resolution windows;
     * with overviews: from the decimated read. Both near the true 2 % / 98 %. -------- */
    {
        int BW = 3000, BH = 2000;
        ds = tf_create("/vsimem/b_big16.tif", BW, BH, 1, GDT_UInt16, "EPSG:32633", gt, NULL);
        unsigned short *r16 = malloc(sizeof *r16 * BW);
        for (int y = 0; y < BH; y++) {
            for (int x = 0; x < BW; x++)
                r16[x] = (unsigned short)(((long)y * BW + x) * 7919 % 10000);
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, y, BW, 1, r16, BW, 1,
                                 GDT_UInt16, 0, 0) == CE_None, "write");
        }
        free(r16);
        GDALClose(ds);
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) {
                ds = GDALOpen("/vsimem/b_big16.tif", GA_Update);
                int lv[2] = {2, 4};
                REQUIRE(GDALBuildOverviews(ds, "NEAREST", 2, lv, 0, NULL, NULL, NULL) == CE_None,
                        "overviews");
                GDALClose(ds);
            }
            duch_tiler_options_init(&o);
            t = tf_open("/vsimem/b_big16.tif", &o);
            si = duch_tiler_info(t);
            CHECK(fabs(si->stretch_min[0] - 200) < 40 && fabs(si->stretch_max[0] - 9800) < 40,
                  "%s: stretch %g..%g", pass ? "overviews" : "windows", si->stretch_min[0],
                  si->stretch_max[0]);
            duch_tiler_close(t);
        }
    }

    /* --- Float32 with NaN, one band: stretched, NaN -> 0 ------------------------------ */
    ds = tf_create("/vsimem/b_f32.tif", 64, 64, 1, GDT_Float32, "EPSG:32633", gt, NULL);
    float *f = malloc(sizeof *f * 64 * 64);
    for (int i = 0; i < 64 * 64; i++)
        f[i] = i % 10 == 0 ? NAN : (float)(i % 64) / 63.0f;
    REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, 0, 64, 64, f, 64, 64, GDT_Float32,
                         0, 0) == CE_None, "write");
    free(f);
    GDALClose(ds);
    duch_tiler_options_init(&o);
    o.stretch_low = 0;
    o.stretch_high = 100;
    first_tile("/vsimem/b_f32.tif", &o, &t, &tile);
    si = duch_tiler_info(t);
    CHECK(si->stretch_min[0] == 0 && fabs(si->stretch_max[0] - 1) < 1e-6, "f32 stretch %g..%g",
          si->stretch_min[0], si->stretch_max[0]);
    CHECK(tile.rgb[0] == 0 && tile.rgb[3 * 63] == 255, "f32 ends %d %d", tile.rgb[0],
          tile.rgb[3 * 63]);
    CHECK(tile.rgb[3 * 1] == (int)(255.0 / 63 + 0.5), "f32 value %d", tile.rgb[3]);
    CHECK(tile.rgb[3 * 10] == 0, "NaN -> 0");
    duch_tiler_close(t);

    return tf_finish("tiler_bands");
}
