/* tiler_errors: rasters refused (no geotransform, GCP-only, no CRS) and accepted with
 * allow_pixel, missing and unreadable files, files that are not regular (FIFO, directory,
 * socket, device), bad options, read_window bounds, NULL
 * handling, and that GDAL errors land in the message rather than on stderr. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tiler_fixtures.h"
#include <gdal_utils.h>

static int expect_fail(const char *path, const duch_tiler_options *o, int want_rc,
                       const char *want_msg)
{
    duch_tiler *t = NULL;
    int rc = duch_tiler_open(path, o, &t);
    CHECK(t != NULL, "handle set on failure");
    CHECK(rc == want_rc, "%s: rc %d want %d (%s)", path, rc, want_rc, duch_tiler_errmsg(t));
    CHECK(tf_has(duch_tiler_errmsg(t), want_msg), "%s: message '%s' lacks '%s'", path,
          duch_tiler_errmsg(t), want_msg);
    CHECK(duch_tiler_info(t) == NULL, "no info after a failed open");
    duch_tile tile;
    CHECK(duch_tiler_next(t, &tile) == DUCH_INVALID, "next on a failed handle");
    duch_tiler_close(t);
    return rc;
}

int main(void)
{
    tf_init();
    duch_tiler_options o;
    duch_tiler *t;
    duch_tile tile;
    const double gt[6] = {500000, 0.3048, 0, 4100000, 0, -0.3048};

    /* NULL handling */
    duch_tiler_close(NULL);
    CHECK(duch_tiler_errmsg(NULL) != NULL, "errmsg(NULL)");
    CHECK(duch_tiler_info(NULL) == NULL && duch_tiler_warning_count(NULL) == 0, "NULL getters");
    CHECK(duch_tiler_next(NULL, &tile) == DUCH_INVALID, "next(NULL)");

    /* no geotransform: refused, clear message; accepted with allow_pixel */
    tf_make("/vsimem/e_nogt.tif", 300, 200, 3, NULL, NULL);
    duch_tiler_options_init(&o);
    expect_fail("/vsimem/e_nogt.tif", &o, DUCH_INVALID, "no geotransform");
    expect_fail("/vsimem/e_nogt.tif", &o, DUCH_INVALID, "without footprints, in pixel space (allow_pixel)");
    {   /* a library message names options, never a command line's flags */
        duch_tiler *tt = NULL;
        duch_tiler_open("/vsimem/e_nogt.tif", &o, &tt);
        CHECK(!tf_has(duch_tiler_errmsg(tt), "--"), "a CLI flag in '%s'", duch_tiler_errmsg(tt));
        duch_tiler_close(tt);
    }
    o.allow_pixel = 1;
    o.out_size = 100;
    t = tf_open("/vsimem/e_nogt.tif", &o);
    const duch_scene_info *si = duch_tiler_info(t);
    CHECK(si->georeferenced == 0 && si->crs_wkt[0] == 0 && si->epsg == 0, "pixel mode");
    CHECK(si->tile_w == 100 && si->cols == 3 && si->rows == 2, "pixel-mode grid: tile = out_size");
    CHECK(si->footprint_points == 0 && si->pixel_x_m == 0, "no footprint");
    CHECK(duch_tiler_warning_count(t) >= 1, "pixel-mode warning");
    int n = 0;
    while (duch_tiler_next(t, &tile) == DUCH_OK) {
        n++;
        CHECK(tile.ring_points == 0, "ring in pixel mode");
    }
    CHECK(n == 6, "pixel-mode tiles %d", n);
    double ring[2 * DUCH_TILER_MAX_RING], lon, x;
    CHECK(duch_tiler_footprint(t, 0, 0, 10, 10, 1, ring, NULL) == DUCH_INVALID, "footprint");
    CHECK(tf_has(duch_tiler_errmsg(t), "not georeferenced"), "%s", duch_tiler_errmsg(t));
    CHECK(duch_tiler_pixel_to_geo(t, 1, 2, &x, NULL, NULL, NULL) == DUCH_OK && x == 1, "pixel x");
    CHECK(duch_tiler_pixel_to_geo(t, 1, 2, NULL, NULL, &lon, NULL) == DUCH_INVALID, "no lon");
    duch_tiler_close(t);

    /* GCPs only: refused, says so */
    {
        GDALDatasetH ds = tf_create("/vsimem/e_gcp.tif", 200, 200, 1, GDT_Byte, NULL, NULL, NULL);
        GDAL_GCP g[3];
        GDALInitGCPs(3, g);
        double px[3] = {0, 200, 0}, py[3] = {0, 0, 200};
        for (int i = 0; i < 3; i++) {
            g[i].dfGCPPixel = px[i];
            g[i].dfGCPLine = py[i];
            g[i].dfGCPX = 10 + px[i] * 1e-5;
            g[i].dfGCPY = 50 - py[i] * 1e-5;
        }
        OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
        OSRImportFromEPSG(s, 4326);
        REQUIRE(GDALSetGCPs2(ds, 3, g, s) == CE_None, "gcps");
        OSRDestroySpatialReference(s);
        GDALDeinitGCPs(3, g);
        GDALClose(ds);
        duch_tiler_options_init(&o);
        expect_fail("/vsimem/e_gcp.tif", &o, DUCH_INVALID, "ground control points (3 GCPs)");
        o.allow_pixel = 1;
        t = tf_open("/vsimem/e_gcp.tif", &o);
        CHECK(duch_tiler_info(t)->georeferenced == 0, "GCP raster in pixel mode");
        duch_tiler_close(t);
    }

    /* geotransform without CRS */
    tf_make("/vsimem/e_nocrs.tif", 100, 100, 1, NULL, gt);
    duch_tiler_options_init(&o);
    expect_fail("/vsimem/e_nocrs.tif", &o, DUCH_INVALID, "no coordinate reference system");

    /* a local (engineering) CRS: no way to EPSG:4326 */
    {
        const double gtl[6] = {0, 1, 0, 0, 0, -1};
        tf_make("/vsimem/e_local.tif", 300, 300, 1, "LOCAL_CS[\"site grid\",UNIT[\"metre\",1]]", gtl);
        duch_tiler_options_init(&o);
        expect_fail("/vsimem/e_local.tif", &o, DUCH_INVALID, "EPSG:4326");
        o.allow_pixel = 1;
        t = tf_open("/vsimem/e_local.tif", &o);
        CHECK(duch_tiler_info(t)->georeferenced == 0 && duch_tiler_warning_count(t) >= 1,
              "local CRS in pixel mode");
        CHECK(duch_tiler_next(t, &tile) == DUCH_OK && tile.ring_points == 0, "local CRS tile");
        duch_tiler_close(t);
    }

    /* missing file, not a raster, a directory */
    expect_fail("/nonexistent/dir/scene.tif", &o, DUCH_NOTFOUND, "/nonexistent/dir/scene.tif");
    expect_fail("/vsimem/missing.tif", &o, DUCH_NOTFOUND, "no such file");
    {
        VSILFILE *f = VSIFOpenL("/vsimem/e_text.tif", "wb");
        VSIFWriteL("hello, not a tiff\n", 1, 18, f);
        VSIFCloseL(f);
    }
    expect_fail("/vsimem/e_text.tif", &o, DUCH_IO, "/vsimem/e_text.tif");
    expect_fail("", &o, DUCH_INVALID, "no raster path");

    /* bad options */
    tf_make("/vsimem/e_ok.tif", 600, 500, 3, "EPSG:32610", gt);
/* each option out of range alone, on top of the defaults */
#define BAD_OPTION(assign, msg)                                                           \
    do {                                                                                  \
        duch_tiler_options_init(&o);                                                      \
        assign;                                                                           \
        expect_fail("/vsimem/e_ok.tif", &o, DUCH_INVALID, msg);                           \
    } while (0)
    BAD_OPTION(o.band_count = 2, "1 band (gray) or 3");
    BAD_OPTION(o.overlap_px = 256, "overlap 256 px must be smaller");
    BAD_OPTION((o.tile_size_px = 100, o.overlap_px = 100), "overlap 100 px must be smaller");
    BAD_OPTION(o.out_size = 0, "output tile size");
    BAD_OPTION(o.resampling = "sinc", "unknown resampling 'sinc'");
    BAD_OPTION(o.min_valid = 1.5, "min_valid");
    BAD_OPTION((o.stretch_low = 50, o.stretch_high = 10), "stretch percentiles");
    BAD_OPTION(o.densify = 0, "densify");
    BAD_OPTION(o.tile_ground_m = -1, "ground size");
#undef BAD_OPTION

    /* opt NULL = defaults; resampling string is copied */
    t = NULL;
    CHECK(duch_tiler_open("/vsimem/e_ok.tif", NULL, &t) == DUCH_OK, "NULL options");
    CHECK(duch_tiler_info(t)->tile_w == 256 && duch_tiler_info(t)->out_size == 256, "defaults");
    duch_tiler_close(t);
    {
        char name[16] = "cubic";
        duch_tiler_options_init(&o);
        o.resampling = name;
        o.out_size = 64;
        t = tf_open("/vsimem/e_ok.tif", &o);
        strcpy(name, "garbage");
        CHECK(strcmp(duch_tiler_info(t)->resampling, "cubic") == 0, "resampling copied");
        CHECK(duch_tiler_next(t, &tile) == DUCH_OK, "read with cubic");
        duch_tiler_close(t);
    }

    /* open_gdal: a dataset held by the caller (an in-memory VRT with bands 3,2,1), not
     * closed by the tiler */
    {
        GDALDatasetH src = GDALOpen("/vsimem/e_ok.tif", GA_ReadOnly);
        char **args = CSLAddString(NULL, "-of");
        args = CSLAddString(args, "VRT");
        args = CSLAddString(args, "-b"); args = CSLAddString(args, "3");
        args = CSLAddString(args, "-b"); args = CSLAddString(args, "2");
        args = CSLAddString(args, "-b"); args = CSLAddString(args, "1");
        GDALTranslateOptions *to = GDALTranslateOptionsNew(args, NULL);
        GDALDatasetH vrt = GDALTranslate("", src, to, NULL);
        GDALTranslateOptionsFree(to);
        CSLDestroy(args);
        REQUIRE(vrt, "in-memory VRT");
        duch_tiler_options_init(&o);
        o.tile_size_px = 64;
        o.out_size = 64;
        t = NULL;
        CHECK(duch_tiler_open_gdal(vrt, &o, &t) == DUCH_OK, "open_gdal: %s", duch_tiler_errmsg(t));
        /* the VRT's band 1 is the Blue band: colour interpretation puts it back last */
        CHECK(duch_tiler_info(t)->rgb_bands[0] == 3, "VRT band of Red %d",
              duch_tiler_info(t)->rgb_bands[0]);
        CHECK(duch_tiler_next(t, &tile) == DUCH_OK && tile.rgb[0] == tf_pattern(0, 0, 1) && tile.rgb[2] == tf_pattern(0, 0, 3),
              "open_gdal pixels");
        duch_tiler_close(t);
        o.band_count = 3; /* VRT bands 1,2,3 = file bands 3,2,1 */
        o.bands[0] = 1; o.bands[1] = 2; o.bands[2] = 3;
        CHECK(duch_tiler_open_gdal(vrt, &o, &t) == DUCH_OK, "open_gdal: %s", duch_tiler_errmsg(t));
        CHECK(duch_tiler_next(t, &tile) == DUCH_OK && tile.rgb[0] == tf_pattern(0, 0, 3) &&
                  tile.rgb[2] == tf_pattern(0, 0, 1), "open_gdal --bands 1,2,3 of the VRT");
        duch_tiler_close(t);
        CHECK(GDALGetRasterXSize(vrt) == 600, "dataset still open after close");
        GDALClose(vrt);
        GDALClose(src);
        CHECK(duch_tiler_open_gdal(NULL, &o, &t) == DUCH_INVALID, "NULL dataset");
        duch_tiler_close(t);
    }

    /* read_window: inside works and matches the tile; outside is refused */
    duch_tiler_options_init(&o);
    t = tf_open("/vsimem/e_ok.tif", &o);
    unsigned char *rgb = malloc(256 * 256 * 3);
    double valid = -1;
    CHECK(duch_tiler_read_window(t, 256, 0, 256, 256, 256, 256, rgb, &valid) == DUCH_OK, "%s",
          duch_tiler_errmsg(t));
    CHECK(valid == 1.0, "valid %g", valid);
    CHECK(duch_tiler_next(t, &tile) == DUCH_OK && duch_tiler_next(t, &tile) == DUCH_OK &&
              tile.col == 1 && memcmp(tile.rgb, rgb, 256 * 256 * 3) == 0,
          "read_window == tile (1, 0)");
    CHECK(duch_tiler_read_window(t, 0, 0, 600, 500, 64, 48, rgb, NULL) == DUCH_OK, "whole scene");
    CHECK(duch_tiler_read_window(t, 500, 0, 101, 10, 8, 8, rgb, NULL) == DUCH_INVALID, "off right");
    CHECK(tf_has(duch_tiler_errmsg(t), "not inside the raster (600x500"), "%s", duch_tiler_errmsg(t));
    CHECK(duch_tiler_read_window(t, -1, 0, 10, 10, 8, 8, rgb, NULL) == DUCH_INVALID, "negative");
    CHECK(duch_tiler_read_window(t, 0, 495, 10, 10, 8, 8, rgb, NULL) == DUCH_INVALID, "off bottom");
    CHECK(duch_tiler_read_window(t, 0, 0, 0, 10, 8, 8, rgb, NULL) == DUCH_INVALID, "empty");
    CHECK(duch_tiler_read_window(t, 0, 0, 10, 10, 0, 8, rgb, NULL) == DUCH_INVALID, "empty out");
    /* the iteration goes on where it was */
    CHECK(duch_tiler_next(t, &tile) == DUCH_OK && tile.col == 0 && tile.row == 1,
          "iteration after read_window: %d,%d", tile.col, tile.row);
    free(rgb);
    duch_tiler_close(t);

    /* a read failure mid-way is an error with a message naming the window: corrupt the
     * compressed data of block (1, 1), which the checksum's samples do not touch */
    {
        char dir[] = "/tmp/tiler_errXXXXXX", path[512];
        REQUIRE(mkdtemp(dir), "mkdtemp");
        snprintf(path, sizeof path, "%s/corrupt.tif", dir);
        char **co = CSLSetNameValue(CSLSetNameValue(NULL, "TILED", "YES"), "COMPRESS", "DEFLATE");
        GDALDatasetH ds = tf_create(path, 2048, 2048, 3, GDT_Byte, "EPSG:32610", gt, co);
        CSLDestroy(co);
        GDALClose(ds);
        ds = GDALOpen(path, GA_ReadOnly);
        const char *off = GDALGetMetadataItem(GDALGetRasterBand(ds, 1), "BLOCK_OFFSET_1_1", "TIFF");
        const char *size = GDALGetMetadataItem(GDALGetRasterBand(ds, 1), "BLOCK_SIZE_1_1", "TIFF");
        REQUIRE(off && size, "block offset");
        long long o0 = atoll(off), n0 = atoll(size);
        GDALClose(ds);
        FILE *f = fopen(path, "r+b");
        REQUIRE(f && fseek(f, (long)(o0 + n0 / 4), SEEK_SET) == 0, "seek");
        for (int i = 0; i < n0 / 2; i++)
            fputc(0xA5 ^ (i * 31), f);
        fclose(f);
        duch_tiler_options_init(&o);
        t = tf_open(path, &o);
        int rc, rows_done = 0;
        while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK)
            rows_done = tile.row + 1;
        CHECK(rc == DUCH_IO, "rc %d after corruption", rc);
        CHECK(rows_done == 1, "stopped after row %d", rows_done);
        CHECK(tf_has(duch_tiler_errmsg(t), "window 0,256"), "message: %s", duch_tiler_errmsg(t));
        printf("read error message: %s\n", duch_tiler_errmsg(t));
        duch_tiler_close(t);
        unlink(path);
        rmdir(dir);
    }

    /* files that are not regular are refused before GDAL opens them: a FIFO would block
     * GDALOpen forever (the alarm makes a regression fail instead of hang), a directory, a
     * socket and a character device are no scene. A symlink to a raster and /vsimem/
     * paths still open; a missing path is still "no such file". */
    {
        char dir[] = "/tmp/tiler_errXXXXXX", fifo[512], sock[100], link[512], tif[512];
        REQUIRE(mkdtemp(dir), "mkdtemp");
        snprintf(fifo, sizeof fifo, "%s/scene.tif", dir);
        snprintf(sock, sizeof sock, "%s/sock.tif", dir);
        snprintf(link, sizeof link, "%s/link.tif", dir);
        snprintf(tif, sizeof tif, "%s/real.tif", dir);
        REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo");
        int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
        REQUIRE(sfd >= 0 && bind(sfd, (struct sockaddr *)&sa, sizeof sa) == 0, "socket");
        tf_make(tif, 300, 200, 3, "EPSG:32610", gt);
        REQUIRE(symlink(tif, link) == 0, "symlink");
        duch_tiler_options_init(&o);
        alarm(20);
        expect_fail(fifo, &o, DUCH_INVALID, "is a FIFO (named pipe), not a regular file");
        expect_fail(dir, &o, DUCH_INVALID, "is a directory, not a regular file");
        expect_fail(sock, &o, DUCH_INVALID, "is a socket, not a regular file");
        expect_fail("/dev/null", &o, DUCH_INVALID, "is a character device, not a regular file");
        alarm(0);
        t = tf_open(link, &o);
        CHECK(duch_tiler_info(t)->width == 300, "symlink to a raster");
        duch_tiler_close(t);
        tf_make("/vsimem/e_plain.tif", 300, 200, 3, "EPSG:32610", gt);
        t = tf_open("/vsimem/e_plain.tif", &o);
        duch_tiler_close(t);
        char missing[512];
        snprintf(missing, sizeof missing, "%s/missing.tif", dir);
        expect_fail(missing, &o, DUCH_NOTFOUND, "no such file");
        close(sfd);
        unlink(sock);
        unlink(fifo);
        unlink(link);
        unlink(tif);
        rmdir(dir);
    }
    return tf_finish("tiler_errors");
}
