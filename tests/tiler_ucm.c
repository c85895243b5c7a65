/* tiler_ucm: on ../shared/data/scenes/ucm_mosaic.tif (6144x4096, 0.3048 m) the default
 * grid (78.03 m tiles) lines up with the 256x256 cells of ucm_mosaic.truth.csv: 384 tiles,
 * each at a cell's pixel offsets, pixels 1:1 with the file. Skips (77) without the data. */
#include <unistd.h>

#include "tiler_fixtures.h"

int main(void)
{
    const char *shared = getenv("DUCH_SHARED_DATA");
    char tif[1024], csv[1024];
    if (!shared)
        shared = "../shared/data";
    snprintf(tif, sizeof tif, "%s/scenes/ucm_mosaic.tif", shared);
    snprintf(csv, sizeof csv, "%s/scenes/ucm_mosaic.truth.csv", shared);
    if (access(tif, R_OK) != 0 || access(csv, R_OK) != 0) {
        printf("tiler_ucm: skipped, %s not found\n", tif);
        return 77;
    }
    tf_init();

    /* truth: row,col,pixel_x,pixel_y,... */
    static int cell_x[1000], cell_y[1000], seen[1000];
    int ncell = 0;
    FILE *f = fopen(csv, "r");
    REQUIRE(f, "open %s", csv);
    char line[4096];
    REQUIRE(fgets(line, sizeof line, f), "header");
    while (fgets(line, sizeof line, f) && ncell < 1000) {
        int r, c, px, py;
        if (sscanf(line, "%d,%d,%d,%d", &r, &c, &px, &py) == 4) {
            cell_x[ncell] = px;
            cell_y[ncell] = py;
            ncell++;
        }
    }
    fclose(f);
    CHECK(ncell == 384, "truth cells %d", ncell);

    duch_tiler_options o;
    duch_tiler_options_init(&o); /* tile_ground_m 78.03, out_size 256 */
    duch_tiler *t = tf_open(tif, &o);
    const duch_scene_info *si = duch_tiler_info(t);
    printf("ucm_mosaic: pixel %.10f m, tile %dx%d px, grid %dx%d, resampling %s, checksum %s\n",
           si->pixel_x_m, si->tile_w, si->tile_h, si->cols, si->rows, si->resampling, si->checksum);
    CHECK(si->tile_w == 256 && si->tile_h == 256, "tile %dx%d", si->tile_w, si->tile_h);
    CHECK(si->cols == 24 && si->rows == 16 && si->tiles == 384, "grid %dx%d", si->cols, si->rows);
    CHECK(si->epsg == 32610, "epsg %d", si->epsg);
    CHECK(duch_tiler_warning_count(t) == 0, "warning: %s", duch_tiler_warning(t, 0));

    GDALDatasetH ds = GDALOpen(tif, GA_ReadOnly);
    int bands[3] = {1, 2, 3};
    unsigned char *want = malloc(256 * 256 * 3);
    duch_tile tile;
    int n = 0, rc, checked = 0;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
        n++;
        int match = -1;
        for (int i = 0; i < ncell; i++)
            if (cell_x[i] == tile.x_off && cell_y[i] == tile.y_off)
                match = i;
        CHECK(match >= 0, "tile %d,%d at %d,%d is no truth cell", tile.col, tile.row, tile.x_off,
              tile.y_off);
        if (match >= 0)
            seen[match]++;
        CHECK(tile.width == 256 && tile.height == 256 && tile.valid == 1.0, "tile %d,%d", tile.col,
              tile.row);
        CHECK(tile.ring_points == 17 && tile.bbox[0] > -121 && tile.bbox[2] < -120, "footprint");
        if (n % 37 == 1) { /* some tiles against a direct read */
            REQUIRE(GDALDatasetRasterIO(ds, GF_Read, tile.x_off, tile.y_off, 256, 256, want, 256,
                                        256, GDT_Byte, 3, bands, 3, 256 * 3, 1) == CE_None, "read");
            CHECK(memcmp(want, tile.rgb, 256 * 256 * 3) == 0, "tile %d,%d pixels", tile.col, tile.row);
            checked++;
        }
    }
    CHECK(rc == DUCH_TILER_DONE, "rc %d %s", rc, duch_tiler_errmsg(t));
    CHECK(n == 384, "tiles %d", n);
    for (int i = 0; i < ncell; i++)
        CHECK(seen[i] == 1, "cell %d,%d seen %d times", cell_x[i], cell_y[i], seen[i]);
    duch_tiler_close(t);

    /* the model's input may be smaller (224): same grid, resampled from the tiles */
    o.out_size = 224;
    t = tf_open(tif, &o);
    si = duch_tiler_info(t);
    CHECK(si->cols == 24 && si->rows == 16 && strcmp(si->resampling, "average") == 0, "224 grid");
    n = 0;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK)
        n++;
    CHECK(rc == DUCH_TILER_DONE && n == 384, "224: %d tiles rc %d", n, rc);
    duch_tiler_close(t);
    free(want);
    GDALClose(ds);
    return tf_finish("tiler_ucm");
}
