/* tiler_scenes: every raster in ../shared/data/scenes tiles without error, with the
 * defaults the indexer uses (out_size 224 here). Skips (77) without the data. */
#include <dirent.h>
#include <strings.h>
#include <time.h>

#include "tiler_fixtures.h"

int main(void)
{
    const char *shared = getenv("DUCH_SHARED_DATA");
    char dir[1024];
    if (!shared)
        shared = "../shared/data";
    snprintf(dir, sizeof dir, "%s/scenes", shared);
    DIR *d = opendir(dir);
    if (!d) {
        printf("tiler_scenes: skipped, %s not found\n", dir);
        return 77;
    }
    tf_init();
    struct dirent *e;
    int nscenes = 0;
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcasecmp(dot, ".tif") && strcasecmp(dot, ".tiff") && strcasecmp(dot, ".vrt") &&
                     strcasecmp(dot, ".jp2") && strcasecmp(dot, ".img")))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        duch_tiler_options o;
        duch_tiler_options_init(&o);
        o.out_size = 224;
        clock_t c0 = clock();
        duch_tiler *t = NULL;
        int rc = duch_tiler_open(path, &o, &t);
        CHECK(rc == DUCH_OK, "%s: %s", e->d_name, duch_tiler_errmsg(t));
        if (rc != DUCH_OK) {
            duch_tiler_close(t);
            continue;
        }
        const duch_scene_info *si = duch_tiler_info(t);
        duch_tile tile;
        long long kept = 0, rings_ok = 0;
        while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
            kept++;
            rings_ok += tile.ring_points == 17 && tile.bbox[1] >= -90 && tile.bbox[3] <= 90 &&
                        tile.valid >= 0.5;
        }
        CHECK(rc == DUCH_TILER_DONE, "%s: rc %d %s", e->d_name, rc, duch_tiler_errmsg(t));
        CHECK(kept > 0, "%s: no tile", e->d_name);
        CHECK(rings_ok == kept, "%s: %lld of %lld tiles with a bad footprint", e->d_name,
              kept - rings_ok, kept);
        CHECK(si->footprint_points > 0, "%s: no scene footprint", e->d_name);
        printf("%-20s %5dx%-5d EPSG:%-5d pixel %9.4g m  tile %4d px  grid %2dx%-2d  kept %4lld  "
               "skipped %4lld  %.2f s  warnings %d\n",
               e->d_name, si->width, si->height, si->epsg, si->pixel_x_m, si->tile_w, si->cols,
               si->rows, kept, si->tiles - kept, (double)(clock() - c0) / CLOCKS_PER_SEC,
               duch_tiler_warning_count(t));
        duch_tiler_close(t);
        nscenes++;
    }
    closedir(d);
    CHECK(nscenes > 0, "no raster in %s", dir);
    return tf_finish("tiler_scenes");
}
