/* tiler_threads: one tiler per thread. Four threads each tile the same scene (a GeoTIFF
 * on disk, nodata collar, 16-bit so the stretch runs too) at the same time; every thread
 * must see exactly what a single thread sees. */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "tiler_fixtures.h"
#include "sha256.h" /* tiler/: the tiler's own hash */

#define NTHREADS 4

static char path[512];

struct result {
    unsigned char digest[32]; /* SHA-256 (the tiler's) of everything the thread read */
    long long kept;
    int rc;
};

static void *run(void *arg)
{
    struct result *r = arg;
    duch_tiler_options o;
    duch_tiler_options_init(&o);
    o.tile_size_px = 100;
    o.out_size = 64;
    duch_tiler *t = NULL;
    r->rc = duch_tiler_open(path, &o, &t);
    if (r->rc != DUCH_OK) {
        fprintf(stderr, "open: %s\n", duch_tiler_errmsg(t));
        duch_tiler_close(t);
        return NULL;
    }
    duch_tile tile;
    duch_sha256 h;
    duch_sha256_init(&h);
    duch_sha256_update(&h, duch_tiler_info(t)->checksum, 64);
    while ((r->rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
        r->kept++;
        duch_sha256_update(&h, tile.rgb, 64 * 64 * 3);
        duch_sha256_update(&h, tile.ring, sizeof(double) * 2 * tile.ring_points);
        duch_sha256_update(&h, &tile.valid, sizeof tile.valid);
    }
    duch_sha256_final(&h, r->digest);
    duch_tiler_close(t);
    return NULL;
}

int main(void)
{
    tf_init();
    char dir[] = "/tmp/tiler_thrXXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof path, "%s/scene.tif", dir);
    const double gt[6] = {600000, 0.3, 0, 4500000, 0, -0.3};
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    co = CSLSetNameValue(co, "COMPRESS", "DEFLATE");
    GDALDatasetH ds = tf_create(path, 1500, 1100, 3, GDT_UInt16, "EPSG:32617", gt, co);
    CSLDestroy(co);
    unsigned short *row = malloc(sizeof *row * 1500);
    for (int b = 1; b <= 3; b++) {
        GDALSetRasterNoDataValue(GDALGetRasterBand(ds, b), 0);
        for (int y = 0; y < 1100; y++) {
            for (int x = 0; x < 1500; x++)
                row[x] = x < 130 || y > 1000 ? 0 : (unsigned short)(1 + tf_pattern(x, y, b) * 37);
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, 1500, 1, row, 1500, 1,
                                 GDT_UInt16, 0, 0) == CE_None, "write");
        }
    }
    free(row);
    GDALClose(ds);

    struct result one = {0, 0, 0}, r[NTHREADS];
    run(&one);
    CHECK(one.rc == DUCH_TILER_DONE && one.kept > 50, "single: rc %d kept %lld", one.rc, one.kept);
    pthread_t th[NTHREADS];
    memset(r, 0, sizeof r);
    for (int i = 0; i < NTHREADS; i++)
        REQUIRE(pthread_create(&th[i], NULL, run, &r[i]) == 0, "thread");
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(r[i].rc == DUCH_TILER_DONE, "thread %d rc %d", i, r[i].rc);
        CHECK(r[i].kept == one.kept && !memcmp(r[i].digest, one.digest, sizeof one.digest),
              "thread %d saw %lld tiles (digest %02x%02x...), single thread %lld (%02x%02x...)", i,
              r[i].kept, r[i].digest[0], r[i].digest[1], one.kept, one.digest[0], one.digest[1]);
    }
    unlink(path);
    rmdir(dir);
    return tf_finish("tiler_threads");
}
