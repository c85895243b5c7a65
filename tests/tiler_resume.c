/* tiler_resume: duch_tiler_skip_past(). For every cell of several grids (1:1, downsampled
 * in chunks, with overlap, a step that is not a whole number of output pixels, upsampled,
 * a stretched UInt16 scene, nodata so that some tiles are skipped), the tiles after a skip
 * are the tail of a full run, byte for byte, with the documented counters; bad positions
 * and late calls are refused; and the rows of tiles before the cut are never read (the
 * reads go through a small /vsiwatch/ file system that records each byte range read). */
#include "tiler_fixtures.h"

#include <cpl_vsi.h>

/* ---- /vsiwatch/X: the file /X, with every read recorded while `watching` ---------- */

#define MAX_READS 100000
static int watching;
static int nreads;
static vsi_l_offset read_off[MAX_READS], read_len[MAX_READS];

static const char *watch_target(const char *name, char *buf, size_t n)
{
    /* GDAL passes the name without the prefix; accept it with one too */
    if (strncmp(name, "/vsiwatch/", 10) == 0)
        name += 10;
    snprintf(buf, n, "/%s", name);
    return buf;
}

static int w_stat(void *ud, const char *name, VSIStatBufL *st, int flags)
{
    char b[1024];
    (void)ud;
    return VSIStatExL(watch_target(name, b, sizeof b), st, flags);
}

static void *w_open(void *ud, const char *name, const char *access)
{
    char b[1024];
    (void)ud;
    if (strchr(access, 'w') || strchr(access, 'a') || strchr(access, '+'))
        return NULL;
    return VSIFOpenL(watch_target(name, b, sizeof b), "rb");
}

static vsi_l_offset w_tell(void *f) { return VSIFTellL(f); }
static int w_seek(void *f, vsi_l_offset off, int whence) { return VSIFSeekL(f, off, whence); }
static int w_eof(void *f) { return VSIFEofL(f); }
static int w_close(void *f) { return VSIFCloseL(f); }

static size_t w_read(void *f, void *buf, size_t size, size_t count)
{
    vsi_l_offset off = VSIFTellL(f);
    size_t got = VSIFReadL(buf, size, count, f);
    if (watching && nreads < MAX_READS && got > 0) {
        read_off[nreads] = off;
        read_len[nreads] = (vsi_l_offset)got * size;
        nreads++;
    }
    return got;
}

static void install_watch(void)
{
    VSIFilesystemPluginCallbacksStruct *cb = VSIAllocFilesystemPluginCallbacksStruct();
    cb->stat = w_stat;
    cb->open = w_open;
    cb->tell = w_tell;
    cb->seek = w_seek;
    cb->read = w_read;
    cb->eof = w_eof;
    cb->close = w_close;
    REQUIRE(VSIInstallPluginHandler("/vsiwatch/", cb) == 0, "install /vsiwatch/");
    VSIFreeFilesystemPluginCallbacksStruct(cb);
}

/* ---- fixtures ------------------------------------------------------------------- */

/* 700 x 520 RGB Byte, 0.5 m UTM, one strip per row (so a read says which rows it
 * touches), value 7 = nodata in a block at the top left and a band across row 3. */
static void make_scene(const char *path)
{
    const double gt[6] = {300000, 0.5, 0, 5000000, 0, -0.5};
    char **opts = CSLSetNameValue(NULL, "BLOCKYSIZE", "1");
    GDALDatasetH ds = tf_create(path, 700, 520, 3, GDT_Byte, "EPSG:32631", gt, opts);
    CSLDestroy(opts);
    unsigned char *row = malloc(700);
    for (int b = 1; b <= 3; b++) {
        GDALSetRasterNoDataValue(GDALGetRasterBand(ds, b), 7);
        for (int y = 0; y < 520; y++) {
            for (int x = 0; x < 700; x++) {
                int v = tf_pattern(x, y, b);
                if (v == 7)
                    v = 8;
                if ((x < 300 && y < 200) || (y >= 390 && y < 500 && x > 150))
                    v = 7;
                row[x] = (unsigned char)v;
            }
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, 700, 1, row, 700, 1,
                                 GDT_Byte, 0, 0) == CE_None, "write");
        }
    }
    free(row);
    GDALClose(ds);
}

/* 600 x 400 UInt16 (stretched), a ramp, nodata 0 in the left 90 columns. */
static void make_u16(const char *path)
{
    const double gt[6] = {300000, 0.5, 0, 5000000, 0, -0.5};
    GDALDatasetH ds = tf_create(path, 600, 400, 3, GDT_UInt16, "EPSG:32631", gt, NULL);
    unsigned short *row = malloc(600 * sizeof *row);
    for (int b = 1; b <= 3; b++) {
        GDALSetRasterNoDataValue(GDALGetRasterBand(ds, b), 0);
        for (int y = 0; y < 400; y++) {
            for (int x = 0; x < 600; x++)
                row[x] = (unsigned short)(x < 90 ? 0 : 1000 + 37 * tf_pattern(x, y, b));
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, 600, 1, row, 600, 1,
                                 GDT_UInt16, 0, 0) == CE_None, "write");
        }
    }
    free(row);
    GDALClose(ds);
}

/* ---- a full run, kept in memory --------------------------------------------------- */

typedef struct {
    int n;
    duch_tile *tile;
    unsigned char *rgb; /* n * os * os * 3 */
    int os;
    long long cells;
} run;

static void full_run(const char *path, const duch_tiler_options *o, run *r)
{
    duch_tiler *t = tf_open(path, o);
    const duch_scene_info *si = duch_tiler_info(t);
    size_t sz = (size_t)si->out_size * si->out_size * 3;
    r->os = si->out_size;
    r->cells = si->tiles;
    r->tile = malloc((size_t)si->tiles * sizeof *r->tile);
    r->rgb = malloc((size_t)si->tiles * sz);
    r->n = 0;
    int rc;
    while ((rc = duch_tiler_next_into(t, &r->tile[r->n], r->rgb + (size_t)r->n * sz)) == DUCH_OK)
        r->n++;
    REQUIRE(rc == DUCH_TILER_DONE, "full run of %s: %s", path, duch_tiler_errmsg(t));
    duch_tiler_close(t);
}

static void free_run(run *r)
{
    free(r->tile);
    free(r->rgb);
}

/* Skip past cell (col, row) and compare what follows with the tail of the full run. */
static void check_cut(const char *path, const duch_tiler_options *o, const run *full, int col,
                      int row, const char *what)
{
    duch_tiler *t = tf_open(path, o);
    const duch_scene_info *si = duch_tiler_info(t);
    int x, y;
    REQUIRE(duch_tiler_tile_window(t, col, row, &x, &y, NULL, NULL) == DUCH_OK, "window");
    int rc = duch_tiler_skip_past(t, x, y);
    REQUIRE(rc == DUCH_OK, "%s: skip_past %d,%d: rc %d %s", what, x, y, rc, duch_tiler_errmsg(t));
    long long cut = (long long)row * si->cols + col;
    CHECK(fabs(duch_tiler_progress(t) - (double)(cut + 1) / si->tiles) < 1e-12,
          "%s cut %lld: progress %g", what, cut, duch_tiler_progress(t));
    int j = 0;
    long long kept_before = 0;
    while (j < full->n && full->tile[j].index <= cut)
        j++;
    kept_before = j;
    long long skipped_before = cut + 1 - kept_before;
    size_t sz = (size_t)full->os * full->os * 3;
    duch_tile tile;
    int bad = 0;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
        if (j >= full->n) {
            bad++;
            CHECK(0, "%s cut %lld: extra tile %lld", what, cut, tile.index);
            break;
        }
        const duch_tile *w = &full->tile[j];
        int same = tile.index == w->index && tile.col == w->col && tile.row == w->row &&
                   tile.x_off == w->x_off && tile.y_off == w->y_off &&
                   tile.width == w->width && tile.height == w->height &&
                   tile.rgb_size == w->rgb_size && tile.rgb_width == w->rgb_width &&
                   tile.rgb_height == w->rgb_height && tile.valid == w->valid &&
                   tile.ring_points == w->ring_points &&
                   memcmp(tile.ring, w->ring, 2 * sizeof(double) * (size_t)w->ring_points) == 0 &&
                   memcmp(tile.bbox, w->bbox, sizeof tile.bbox) == 0 &&
                   tile.visited == w->visited && tile.kept == w->kept - kept_before &&
                   tile.skipped == w->skipped - skipped_before;
        int pix = memcmp(tile.rgb, full->rgb + (size_t)j * sz, sz) == 0;
        if (!same || !pix) {
            bad++;
            CHECK(same && pix,
                  "%s cut %lld (cell %d,%d): tile %lld (want %lld) %s%s; kept %lld/%lld "
                  "skipped %lld/%lld visited %lld/%lld valid %.17g/%.17g",
                  what, cut, col, row, tile.index, w->index, same ? "" : "fields differ ",
                  pix ? "" : "pixels differ", tile.kept, w->kept - kept_before, tile.skipped,
                  w->skipped - skipped_before, tile.visited, w->visited, tile.valid, w->valid);
            if (bad > 3)
                break;
        }
        j++;
    }
    if (!bad) {
        CHECK(rc == DUCH_TILER_DONE, "%s cut %lld: rc %d %s", what, cut, rc, duch_tiler_errmsg(t));
        CHECK(j == full->n, "%s cut %lld: %d of %d tiles after the cut", what, cut, j, full->n);
        CHECK(duch_tiler_progress(t) == 1.0, "%s: progress at the end %g", what,
              duch_tiler_progress(t));
    }
    size_t now, bound;
    duch_tiler_buffer_bytes(t, &now, &bound);
    CHECK(now <= bound, "%s: buffers %zu above the bound %zu", what, now, bound);
    /* rewind undoes the skip: the full run again */
    REQUIRE(duch_tiler_rewind(t) == DUCH_OK, "rewind");
    int n = 0;
    while (duch_tiler_next(t, &tile) == DUCH_OK)
        n++;
    CHECK(n == full->n, "%s: %d tiles after rewind, want %d", what, n, full->n);
    duch_tiler_close(t);
}

/* Every cell of the grid as a cut point. Returns the cells. */
static int check_all_cuts(const char *path, const duch_tiler_options *o, const char *what)
{
    run full;
    full_run(path, o, &full);
    duch_tiler *t = tf_open(path, o);
    const duch_scene_info *si = duch_tiler_info(t);
    int cols = si->cols, rows = si->rows;
    duch_tiler_close(t);
    CHECK(full.n > 2 && full.n < full.cells, "%s: %d kept of %lld (want some skipped)", what,
          full.n, full.cells);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            check_cut(path, o, &full, c, r, what);
    free_run(&full);
    return cols * rows;
}

int main(void)
{
    tf_init();
    install_watch();
    duch_tiler_options o;
    duch_tiler *t;
    duch_tile tile;
    const char *scene = "/vsimem/r_scene.tif";
    make_scene(scene);

    /* 1:1, 128 px tiles: 6 x 5, the last column and row clipped */
    duch_tiler_options_init(&o);
    o.tile_size_px = 128;
    o.out_size = 128;
    o.min_valid = 0.3;
    CHECK(check_all_cuts(scene, &o, "1:1") == 30, "grid 1:1");
    /* downsampled (average) in chunks of a few tiles */
    o.out_size = 64;
    o.max_memory = 64 * 3 * 64 * 4; /* about 3 tiles of planes: rows cut in chunks */
    check_all_cuts(scene, &o, "chunked");
    /* overlap: step 96 px = 48 output px, chunks of several tiles */
    o.overlap_px = 32;
    check_all_cuts(scene, &o, "overlap 32");
    o.max_memory = (size_t)64 << 20; /* a whole row per chunk */
    check_all_cuts(scene, &o, "overlap 32, whole rows");
    /* step 101 px = 50.5 output px: one tile per chunk */
    o.overlap_px = 27;
    check_all_cuts(scene, &o, "overlap 27");
    /* upsampled (bilinear) 100 -> 128 */
    duch_tiler_options_init(&o);
    o.tile_size_px = 100;
    o.out_size = 128;
    o.max_memory = 128 * 4 * 128 * 5;
    check_all_cuts(scene, &o, "upsampled");
    /* a stretched UInt16 scene */
    make_u16("/vsimem/r_u16.tif");
    duch_tiler_options_init(&o);
    o.tile_size_px = 100;
    o.out_size = 50;
    o.min_valid = 0.2;
    check_all_cuts("/vsimem/r_u16.tif", &o, "UInt16");

    /* refused: not a grid position, negative, outside the grid, after next(); the
     * position stays where it was */
    duch_tiler_options_init(&o);
    o.tile_size_px = 128;
    o.out_size = 128;
    o.overlap_px = 28; /* step 100 */
    t = tf_open(scene, &o);
    const duch_scene_info *si = duch_tiler_info(t);
    CHECK(si->step_x == 100 && si->cols == 7 && si->rows == 5, "grid %d %d %d", si->step_x,
          si->cols, si->rows);
    CHECK(duch_tiler_skip_past(NULL, 0, 0) == DUCH_INVALID, "NULL");
    int bad_pos[][2] = {{1, 0}, {0, 99}, {128, 0}, {-100, 0}, {0, -100}, {700, 0}, {0, 500}};
    for (size_t i = 0; i < sizeof bad_pos / sizeof bad_pos[0]; i++) {
        int rc = duch_tiler_skip_past(t, bad_pos[i][0], bad_pos[i][1]);
        CHECK(rc == DUCH_INVALID, "skip_past %d,%d: rc %d", bad_pos[i][0], bad_pos[i][1], rc);
        CHECK(tf_has(duch_tiler_errmsg(t), "not the offset of a tile"), "message '%s'",
              duch_tiler_errmsg(t));
    }
    CHECK(duch_tiler_progress(t) == 0, "progress unchanged by refused skips");
    REQUIRE(duch_tiler_next(t, &tile) == DUCH_OK, "first tile");
    CHECK(tile.index == 0 || tile.visited == tile.index + 1, "refused skips moved nothing");
    CHECK(duch_tiler_skip_past(t, 200, 100) == DUCH_INVALID, "skip after next");
    CHECK(tf_has(duch_tiler_errmsg(t), "before the first"), "message '%s'", duch_tiler_errmsg(t));
    /* after rewind it is allowed again; a second skip replaces the first; past the last
     * tile nothing is left */
    REQUIRE(duch_tiler_rewind(t) == DUCH_OK, "rewind");
    CHECK(duch_tiler_skip_past(t, 200, 100) == DUCH_OK, "skip after rewind: %s", duch_tiler_errmsg(t));
    CHECK(duch_tiler_skip_past(t, 600, 400) == DUCH_OK, "skip to the last tile");
    CHECK(duch_tiler_progress(t) == 1.0, "progress %g", duch_tiler_progress(t));
    CHECK(duch_tiler_next(t, &tile) == DUCH_TILER_DONE, "nothing after the last tile");
    duch_tiler_close(t);

    /* the rows of tiles before the cut are never read: through /vsiwatch/, the reads after
     * the skip touch no strip above the resumed row. Control: a run from the start does. */
    {
        const char *wpath = "/vsiwatch/vsimem/r_scene.tif";
        GDALDatasetH ds = GDALOpen(scene, GA_ReadOnly);
        REQUIRE(ds, "open scene");
        GDALRasterBandH b1 = GDALGetRasterBand(ds, 1);
        vsi_l_offset strip_lo[520], strip_hi[520];
        for (int y = 0; y < 520; y++) {
            char key[64];
            snprintf(key, sizeof key, "BLOCK_OFFSET_0_%d", y);
            const char *off = GDALGetMetadataItem(b1, key, "TIFF");
            snprintf(key, sizeof key, "BLOCK_SIZE_0_%d", y);
            const char *len = GDALGetMetadataItem(b1, key, "TIFF");
            REQUIRE(off && len, "strip %d offset", y);
            strip_lo[y] = strtoull(off, NULL, 10);
            strip_hi[y] = strip_lo[y] + strtoull(len, NULL, 10);
        }
        GDALClose(ds);
        duch_tiler_options_init(&o);
        o.tile_size_px = 128;
        o.out_size = 64;
        o.min_valid = 0;
        for (int pass = 0; pass < 2; pass++) {
            GDALFlushCacheBlock(); /* nothing of an earlier pass in GDAL's block cache */
            while (GDALFlushCacheBlock())
                ;
            t = tf_open(wpath, &o);
            int cut_row = 2, before = 2 * 128; /* rows of pixels of tile rows 0..1 */
            if (pass == 1)
                REQUIRE(duch_tiler_skip_past(t, 2 * 128, cut_row * 128) == DUCH_OK, "skip");
            nreads = 0;
            watching = 1;
            int n = 0;
            while (duch_tiler_next(t, &tile) == DUCH_OK)
                n++;
            watching = 0;
            int touched = 0;
            for (int i = 0; i < nreads; i++)
                for (int y = 0; y < before; y++)
                    if (read_off[i] < strip_hi[y] && read_off[i] + read_len[i] > strip_lo[y])
                        touched++;
            if (pass == 0)
                CHECK(touched > 0, "control: a full run reads the top rows (%d reads)", nreads);
            else
                CHECK(touched == 0 && n > 0,
                      "after skip_past to row %d, %d reads touched strips above it (%d tiles)",
                      cut_row, touched, n);
            duch_tiler_close(t);
        }
    }
    return tf_finish("tiler_resume");
}
