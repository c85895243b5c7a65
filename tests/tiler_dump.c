/* tiler_dump: print a scene's grid and tiles as the tiler sees them (test helper).
 *
 *   tiler_dump [--tile-size PX] [--overlap PX] [--out-size PX] [--min-valid F]
 *              [--bands B,B,B] [--densify N] [--allow-pixel] [--quiet] RASTER
 *
 * Output: "INFO key value" lines, then per kept tile
 *   TILE col row x_off y_off width height valid
 *   RING lon lat lon lat ...
 * and "DONE kept skipped". --quiet prints INFO and DONE only. Exit 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>

#include "duch_tiler.h"

static void on_warning(const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, "warning: %s\n", msg);
}

int main(int argc, char **argv)
{
    duch_tiler_options o;
    int quiet = 0;
    const char *path = NULL;
    duch_tiler_options_init(&o);
    o.on_warning = on_warning;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tile-size") && v)
            o.tile_size_px = atoi(argv[++i]);
        else if (!strcmp(a, "--overlap") && v)
            o.overlap_px = atoi(argv[++i]);
        else if (!strcmp(a, "--out-size") && v)
            o.out_size = atoi(argv[++i]);
        else if (!strcmp(a, "--min-valid") && v)
            o.min_valid = atof(argv[++i]);
        else if (!strcmp(a, "--densify") && v)
            o.densify = atoi(argv[++i]);
        else if (!strcmp(a, "--bands") && v) {
            o.band_count = sscanf(argv[++i], "%d,%d,%d", &o.bands[0], &o.bands[1], &o.bands[2]);
        } else if (!strcmp(a, "--allow-pixel"))
            o.allow_pixel = 1;
        else if (!strcmp(a, "--quiet"))
            quiet = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tiler_dump: unknown option %s\n", a);
            return 2;
        } else
            path = a;
    }
    if (!path) {
        fprintf(stderr, "usage: tiler_dump [options] RASTER\n");
        return 2;
    }
    GDALAllRegister();
    duch_tiler *t;
    int rc = duch_tiler_open(path, &o, &t);
    if (rc != DUCH_OK) {
        fprintf(stderr, "tiler_dump: %s\n", duch_tiler_errmsg(t));
        duch_tiler_close(t);
        return 1;
    }
    const duch_scene_info *si = duch_tiler_info(t);
    printf("INFO size %d %d %d %s %s\n", si->width, si->height, si->band_count, si->data_type,
           si->driver);
    printf("INFO crs EPSG:%d %s\n", si->epsg, si->crs_name);
    printf("INFO pixel_m %.6f %.6f\n", si->pixel_x_m, si->pixel_y_m);
    printf("INFO grid %d %d tile %d %d step %d %d out %d resampling %s\n", si->cols, si->rows,
           si->tile_w, si->tile_h, si->step_x, si->step_y, si->out_size, si->resampling);
    printf("INFO bands %d %d %d palette %d stretch %g..%g\n", si->rgb_bands[0], si->rgb_bands[1],
           si->rgb_bands[2], si->palette, si->stretch_min[0], si->stretch_max[0]);
    printf("INFO bbox %.6f %.6f %.6f %.6f\n", si->bbox[0], si->bbox[1], si->bbox[2], si->bbox[3]);
    printf("INFO checksum %s\n", si->checksum);
    duch_tile tile;
    long long kept = 0, skipped = 0;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
        kept = tile.kept;
        skipped = tile.skipped;
        if (quiet)
            continue;
        printf("TILE %d %d %d %d %d %d %.4f\nRING", tile.col, tile.row, tile.x_off, tile.y_off,
               tile.width, tile.height, tile.valid);
        for (int i = 0; i < tile.ring_points; i++)
            printf(" %.9f %.9f", tile.ring[2 * i], tile.ring[2 * i + 1]);
        printf("\n");
    }
    if (rc != DUCH_TILER_DONE) {
        fprintf(stderr, "tiler_dump: %s\n", duch_tiler_errmsg(t));
        duch_tiler_close(t);
        return 1;
    }
    /* skipped tiles after the last kept one */
    skipped = (long long)si->cols * si->rows - kept;
    printf("DONE %lld %lld\n", kept, skipped);
    duch_tiler_close(t);
    return 0;
}
