/* pipeline_api: the ingest and search API of libduch (duch_pipeline.h) as a C program
 * calls it. duch_ingest() of two small GeoTIFFs made here into a new archive with the
 * test model (DUCH_DEFAULT_MODEL): stats, on_scene and progress calls (one at a time,
 * monotonic, ending at 1); the rerun skips both; a cancelled run resumes; bad options and
 * scenes fail with messages in the library's words (no CLI flags). duch_search() by text,
 * by code and by image, with and without a box: hits in ascending distance with ranks
 * 1..n, the scene paths, closed footprint rings in lon/lat; bad queries (k = 0, an empty
 * box, two kinds of query, none) are DUCH_INVALID with a message. */
#define _GNU_SOURCE
#include <ftw.h>
#include <limits.h>
#include <unistd.h>

#include "tiler_fixtures.h"
#include "duch_pipeline.h"

static char dir[PATH_MAX], s1[PATH_MAX + 16], s2[PATH_MAX + 16], real1[PATH_MAX],
    real2[PATH_MAX];

/* ---------------------------------------------------------------- callbacks */

typedef struct calls {
    int scenes, scene_ok, scene_skipped, scene_failed;
    long long scene_tiles;
    char last_msg[1024];
    int last_status;
    int progress, backwards, out_of_range, cancel_at;
    double last_frac;
    int inside, overlapped; /* a callback entered while another runs */
} calls;

static void enter(calls *c)
{
    if (__atomic_fetch_add(&c->inside, 1, __ATOMIC_SEQ_CST) != 0)
        __atomic_store_n(&c->overlapped, 1, __ATOMIC_SEQ_CST);
}

static void leave(calls *c)
{
    __atomic_fetch_sub(&c->inside, 1, __ATOMIC_SEQ_CST);
}

static void on_scene(const char *scene, int status, int skipped, long long tiles,
                     const char *msg, void *arg)
{
    calls *c = arg;
    enter(c);
    usleep(2000); /* long enough for an overlapping call to show */
    c->scenes++;
    c->last_status = status;
    snprintf(c->last_msg, sizeof c->last_msg, "%s", msg ? msg : "");
    if (status != DUCH_OK)
        c->scene_failed++;
    else if (skipped)
        c->scene_skipped++;
    else
        c->scene_ok++;
    c->scene_tiles += tiles;
    CHECK(scene && *scene, "on_scene without a scene name");
    CHECK(!skipped || status == DUCH_OK, "a skipped scene with status %d", status);
    leave(c);
}

static int progress(double frac, const char *msg, void *arg)
{
    calls *c = arg;
    enter(c);
    usleep(500);
    c->progress++;
    if (frac < c->last_frac)
        c->backwards++;
    if (!(frac >= 0 && frac <= 1))
        c->out_of_range++;
    c->last_frac = frac;
    int go_on = !(c->cancel_at && c->progress >= c->cancel_at);
    leave(c);
    (void)msg;
    return go_on;
}

static int ingest(const char *archive, const char *const *scenes, int n,
                  duch_ingest_options *o, calls *c, duch_ingest_stats *st, char *err,
                  size_t errlen)
{
    memset(c, 0, sizeof *c);
    o->on_scene = on_scene;
    o->cb_arg = c;
    return duch_ingest(archive, scenes, n, o, progress, c, st, err, errlen);
}

/* ---------------------------------------------------------------- checks of hits */

/* Ranks 1..n, distances ascending and within the code length, scenes ours, rings closed
 * lon/lat polygons near the fixtures (UTM 10N, near 123 W 38 N). */
static void check_hits(const duch_hits *h, const char *what)
{
    CHECK(h->bits > 0 && h->bits % 8 == 0 && h->model_id && *h->model_id, "%s: bits %d", what,
          h->bits);
    for (int i = 0; i < h->n; i++) {
        const duch_search_hit *x = &h->hits[i];
        CHECK(x->rank == i + 1, "%s: hit %d has rank %d", what, i, x->rank);
        CHECK(x->distance >= 0 && x->distance <= h->bits, "%s: distance %d", what, x->distance);
        CHECK(i == 0 || x->distance >= h->hits[i - 1].distance, "%s: distance %d after %d", what,
              x->distance, h->hits[i - 1].distance);
        CHECK(x->scene_path && (!strcmp(x->scene_path, real1) || !strcmp(x->scene_path, real2)),
              "%s: scene %s", what, x->scene_path ? x->scene_path : "(null)");
        CHECK(x->width > 0 && x->height > 0 && x->x_off >= 0 && x->y_off >= 0, "%s: window", what);
        int n = x->footprint_npoints;
        CHECK(x->footprint && n >= 5, "%s: ring of %d points", what, n);
        if (x->footprint && n >= 5) {
            CHECK(x->footprint[0] == x->footprint[2 * (n - 1)] &&
                      x->footprint[1] == x->footprint[2 * (n - 1) + 1],
                  "%s: ring not closed", what);
            for (int p = 0; p < n; p++)
                CHECK(x->footprint[2 * p] > -123.1 && x->footprint[2 * p] < -122.8 &&
                          x->footprint[2 * p + 1] > 37.9 && x->footprint[2 * p + 1] < 38.0,
                      "%s: ring point %g,%g is not near the scenes", what, x->footprint[2 * p],
                      x->footprint[2 * p + 1]);
        }
    }
}

static int search(const char *archive, duch_search_query *q, duch_hits **h, char *err,
                  size_t errlen)
{
    *h = NULL;
    return duch_search(archive, q, h, err, errlen);
}

static int count_scene(const duch_hits *h, const char *real)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        n += !strcmp(h->hits[i].scene_path, real);
    return n;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    const char *model = getenv("DUCH_DEFAULT_MODEL");
    if (!model || access(model, R_OK) != 0) {
        printf("SKIP: no model at DUCH_DEFAULT_MODEL='%s'\n", model ? model : "");
        return 77;
    }
    tf_init();
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/duch_pipeline_api.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir), "mkdtemp %s", dir);
    /* Two UTM 10N scenes at 0.3 m, textured (tf_pattern): 780 x 520 px and 520 x 520 px.
     * s2 repeats s1's top-left pixels 3 km east. */
    const double gt1[6] = {500000, 0.3, 0, 4200000, 0, -0.3};
    const double gt2[6] = {503000, 0.3, 0, 4200000, 0, -0.3};
    snprintf(s1, sizeof s1, "%s/s1.tif", dir);
    snprintf(s2, sizeof s2, "%s/s2.tif", dir);
    tf_make(s1, 780, 520, 3, "EPSG:32610", gt1);
    tf_make(s2, 520, 520, 3, "EPSG:32610", gt2);
    REQUIRE(realpath(s1, real1) && realpath(s2, real2), "realpath");
    char archive[PATH_MAX + 32], err[4096];
    snprintf(archive, sizeof archive, "%s/a.sqlite", dir);
    const char *scenes[] = {s1, s2};
    duch_ingest_options o;
    duch_ingest_stats st;
    calls c;

    /* ------------------------------------------------ ingest: a new archive, 2 workers */
    duch_ingest_options_init(&o);
    CHECK(o.min_valid == 0.5 && o.jobs == 1 && !o.model_path, "duch_ingest_options_init");
    o.jobs = 2;
    int rc = ingest(archive, scenes, 2, &o, &c, &st, err, sizeof err);
    REQUIRE(rc == DUCH_OK, "duch_ingest: %d: %s", rc, err);
    CHECK(st.scenes_done == 2 && st.scenes_skipped == 0 && st.scenes_failed == 0 &&
              st.scenes_resumed == 0, "stats: %d done, %d skipped, %d failed, %d resumed",
          st.scenes_done, st.scenes_skipped, st.scenes_failed, st.scenes_resumed);
    CHECK(st.tiles > 0 && st.tiles == c.scene_tiles, "stats: %lld tiles, on_scene said %lld",
          st.tiles, c.scene_tiles);
    CHECK(st.seconds > 0 && st.t_encode > 0 && st.t_write > 0, "stats: times %g %g %g",
          st.seconds, st.t_encode, st.t_write);
    CHECK(c.scenes == 2 && c.scene_ok == 2, "on_scene: %d calls, %d ok", c.scenes, c.scene_ok);
    CHECK(c.progress >= 2 && c.backwards == 0 && c.out_of_range == 0 && c.last_frac == 1.0,
          "progress: %d calls, %d backwards, %d out of range, last %g", c.progress, c.backwards,
          c.out_of_range, c.last_frac);
    CHECK(!c.overlapped, "two callbacks ran at the same time");
    long long total = st.tiles;

    /* ------------------------------------------------ the rerun skips both */
    duch_ingest_options_init(&o);
    rc = ingest(archive, scenes, 2, &o, &c, &st, err, sizeof err);
    CHECK(rc == DUCH_OK, "rerun: %d: %s", rc, err);
    CHECK(st.scenes_done == 0 && st.scenes_skipped == 2 && st.tiles == 0,
          "rerun: %d done, %d skipped, %lld tiles", st.scenes_done, st.scenes_skipped, st.tiles);
    CHECK(c.scenes == 2 && c.scene_skipped == 2 && c.scene_tiles == 0 && !c.last_msg[0],
          "rerun on_scene: %d calls, %d skipped, msg '%s'", c.scenes, c.scene_skipped,
          c.last_msg);

    /* ------------------------------------------------ search by text */
    duch_search_query q;
    duch_hits *h = NULL;
    memset(&q, 0, sizeof q);
    q.text = "a parking lot with many cars";
    q.k = 1000;
    rc = search(archive, &q, &h, err, sizeof err);
    REQUIRE(rc == DUCH_OK, "search text: %d: %s", rc, err);
    CHECK(h->n == total, "search text: %d hits of %lld tiles", h->n, total);
    check_hits(h, "text");
    int n1 = count_scene(h, real1), n2 = count_scene(h, real2);
    CHECK(n1 > 0 && n2 > 0 && n1 + n2 == h->n && n1 > n2, "hits per scene %d, %d", n1, n2);
    /* s1's box from its tiles' rings, for the box queries below */
    double box1[4] = {1e9, 1e9, -1e9, -1e9};
    for (int i = 0; i < h->n; i++) {
        const duch_search_hit *x = &h->hits[i];
        for (int p = 0; strcmp(x->scene_path, real1) == 0 && p < x->footprint_npoints; p++) {
            box1[0] = fmin(box1[0], x->footprint[2 * p]);
            box1[1] = fmin(box1[1], x->footprint[2 * p + 1]);
            box1[2] = fmax(box1[2], x->footprint[2 * p]);
            box1[3] = fmax(box1[3], x->footprint[2 * p + 1]);
        }
    }
    int bits = h->bits;
    duch_hits_free(h);
    q.k = 3;
    rc = search(archive, &q, &h, err, sizeof err);
    CHECK(rc == DUCH_OK && h && h->n == 3, "search text k=3: %d, %d hits", rc, h ? h->n : -1);
    duch_hits_free(h);

    /* ------------------------------------------------ search by code */
    unsigned char zeros[64] = {0}, ones[64];
    memset(ones, 0xff, sizeof ones);
    memset(&q, 0, sizeof q);
    q.code = zeros;
    q.code_len = (size_t)bits / 8;
    q.k = 1000;
    duch_hits *hz = NULL, *ho = NULL;
    rc = search(archive, &q, &hz, err, sizeof err);
    REQUIRE(rc == DUCH_OK, "search code 0: %d: %s", rc, err);
    q.code = ones;
    rc = search(archive, &q, &ho, err, sizeof err);
    REQUIRE(rc == DUCH_OK, "search code 1: %d: %s", rc, err);
    check_hits(hz, "code 0");
    check_hits(ho, "code 1");
    CHECK(hz->n == total && ho->n == total, "search code: %d and %d hits", hz->n, ho->n);
    /* the distance to all ones is the code length minus the distance to all zeros */
    for (int i = 0; i < hz->n; i++) {
        int found = 0;
        for (int j = 0; j < ho->n; j++)
            if (ho->hits[j].tile_id == hz->hits[i].tile_id) {
                found = 1;
                CHECK(ho->hits[j].distance == bits - hz->hits[i].distance,
                      "tile %lld: %d from ones, %d from zeros, %d bits",
                      (long long)hz->hits[i].tile_id, ho->hits[j].distance,
                      hz->hits[i].distance, bits);
            }
        CHECK(found, "tile %lld not found from ones", (long long)hz->hits[i].tile_id);
    }
    duch_hits_free(hz);
    duch_hits_free(ho);
    q.code = zeros;
    q.code_len = (size_t)bits / 8 + 1;
    rc = search(archive, &q, &h, err, sizeof err);
    CHECK(rc == DUCH_INVALID && h == NULL && tf_has(err, "bytes"), "code of the wrong length: %d: %s",
          rc, err);

    /* ------------------------------------------------ search by image: s1's first tile
     * is in both scenes (the same pixels), at distance 0 */
    memset(&q, 0, sizeof q);
    q.image_path = s1;
    q.k = 2;
    const duch_search_hit *first = NULL;
    rc = search(archive, &q, &h, err, sizeof err);
    REQUIRE(rc == DUCH_OK, "search image: %d: %s", rc, err);
    check_hits(h, "image");
    CHECK(h->n == 2, "search image: %d hits", h->n);
    duch_hits_free(h);
    /* the top-left tile's window, as the archive has it */
    memset(&q, 0, sizeof q);
    q.text = "a parking lot with many cars";
    q.k = 1000;
    REQUIRE(search(archive, &q, &h, err, sizeof err) == DUCH_OK, "search: %s", err);
    for (int i = 0; i < h->n; i++)
        if (h->hits[i].x_off == 0 && h->hits[i].y_off == 0 && !strcmp(h->hits[i].scene_path, real1))
            first = &h->hits[i];
    REQUIRE(first, "no tile at 0,0 of s1");
    memset(&q, 0, sizeof q);
    q.image_path = s1;
    q.image_xsize = first->width;
    q.image_ysize = first->height;
    q.k = 2;
    duch_hits *hi = NULL;
    rc = search(archive, &q, &hi, err, sizeof err);
    duch_hits_free(h);
    REQUIRE(rc == DUCH_OK, "search image window: %d: %s", rc, err);
    check_hits(hi, "image window");
    CHECK(hi->n == 2 && hi->hits[0].distance == 0 && hi->hits[1].distance == 0 &&
              hi->hits[0].x_off == 0 && hi->hits[0].y_off == 0 && hi->hits[1].x_off == 0 &&
              hi->hits[1].y_off == 0 && strcmp(hi->hits[0].scene_path, hi->hits[1].scene_path),
          "search image window: the top-left tiles of both scenes at distance 0 expected");
    duch_hits_free(hi);

    /* ------------------------------------------------ search with a box */
    memset(&q, 0, sizeof q);
    q.text = "a parking lot with many cars";
    q.k = 1000;
    q.has_bbox = 1;
    memcpy(q.bbox, box1, sizeof box1);
    rc = search(archive, &q, &h, err, sizeof err);
    REQUIRE(rc == DUCH_OK, "search box: %d: %s", rc, err);
    check_hits(h, "box");
    CHECK(h->n == n1 && count_scene(h, real1) == n1, "box of s1: %d hits, %d from s1, %d expected",
          h->n, count_scene(h, real1), n1);
    duch_hits_free(h);
    const double far[4] = {10, 10, 11, 11};
    memcpy(q.bbox, far, sizeof far);
    rc = search(archive, &q, &h, err, sizeof err);
    CHECK(rc == DUCH_OK && h && h->n == 0, "a box far away: %d, %d hits", rc, h ? h->n : -1);
    duch_hits_free(h);

    /* ------------------------------------------------ bad queries */
    memset(&q, 0, sizeof q);
    q.text = "a river";
    q.k = 0;
    rc = search(archive, &q, &h, err, sizeof err);
    CHECK(rc == DUCH_INVALID && !h && tf_has(err, "k must be"), "k = 0: %d: %s", rc, err);
    q.k = 5;
    q.has_bbox = 1;
    const double empty[4] = {-122.9, 37.9, -123.0, 38.0};
    memcpy(q.bbox, empty, sizeof empty);
    rc = search(archive, &q, &h, err, sizeof err);
    CHECK(rc == DUCH_INVALID && !h && tf_has(err, "empty box"), "empty box: %d: %s", rc, err);
    q.has_bbox = 0;
    q.code = zeros;
    q.code_len = (size_t)bits / 8;
    rc = search(archive, &q, &h, err, sizeof err);
    CHECK(rc == DUCH_INVALID && !h && tf_has(err, "one of"), "text and code: %d: %s", rc, err);
    q.code = NULL;
    q.text = NULL;
    rc = search(archive, &q, &h, err, sizeof err);
    CHECK(rc == DUCH_INVALID && !h && tf_has(err, "one of"), "no query: %d: %s", rc, err);
    q.text = "   ";
    rc = search(archive, &q, &h, err, sizeof err);
    CHECK(rc == DUCH_INVALID && !h && tf_has(err, "empty"), "blank text: %d: %s", rc, err);
    char missing[PATH_MAX + 32];
    snprintf(missing, sizeof missing, "%s/missing.sqlite", dir);
    q.text = "a river";
    rc = search(missing, &q, &h, err, sizeof err);
    CHECK(rc != DUCH_OK && !h && tf_has(err, "missing.sqlite"), "missing archive: %d: %s", rc, err);
    CHECK(access(missing, F_OK) != 0, "a search created %s", missing);
    CHECK(duch_search(archive, NULL, &h, err, sizeof err) == DUCH_INVALID, "NULL query");
    duch_hits_free(NULL);

    /* ------------------------------------------------ bad ingests: library words */
    char b[PATH_MAX + 32];
    snprintf(b, sizeof b, "%s/b.sqlite", dir);
    duch_ingest_options_init(&o);
    o.min_valid = 2;
    rc = ingest(b, scenes, 1, &o, &c, &st, err, sizeof err);
    CHECK(rc == DUCH_INVALID && tf_has(err, "min_valid") && !tf_has(err, "--"),
          "min_valid 2: %d: %s", rc, err);
    duch_ingest_options_init(&o);
    o.tile_size = 100;
    o.overlap = 100;
    rc = ingest(b, scenes, 1, &o, &c, &st, err, sizeof err);
    CHECK(rc == DUCH_INVALID && tf_has(err, "overlap") && !tf_has(err, "--"), "overlap: %d: %s",
          rc, err);
    duch_ingest_options_init(&o);
    const int two_bands[2] = {1, 2};
    o.bands = two_bands;
    o.nbands = 2;
    rc = ingest(b, scenes, 1, &o, &c, &st, err, sizeof err);
    CHECK(rc == DUCH_ERROR && st.scenes_failed == 1 && c.scene_failed == 1 &&
              c.last_status == DUCH_INVALID && tf_has(c.last_msg, "give 1 band") &&
              !tf_has(c.last_msg, "--"), "2 bands: %d, on_scene %d: %s", rc, c.last_status,
          c.last_msg);
    /* a raster without georeferencing: refused in words a GDAL user reads too */
    char plain[PATH_MAX + 32];
    snprintf(plain, sizeof plain, "%s/plain.tif", dir);
    tf_make(plain, 300, 300, 3, NULL, NULL);
    const char *plain_scene[] = {plain};
    duch_ingest_options_init(&o);
    rc = ingest(b, plain_scene, 1, &o, &c, &st, err, sizeof err);
    CHECK(rc == DUCH_ERROR && c.last_status == DUCH_INVALID && tf_has(c.last_msg, "(allow_pixel)") &&
              !tf_has(c.last_msg, "--"), "no geotransform: %d, on_scene %d: %s", rc,
          c.last_status, c.last_msg);
    CHECK(access(b, F_OK) != 0, "runs that wrote nothing left %s behind", b);
    o.model_path = plain;
    rc = ingest(b, scenes, 1, &o, &c, &st, err, sizeof err);
    CHECK(rc != DUCH_OK && tf_has(err, "plain.tif") && access(b, F_OK) != 0,
          "a model that is not one: %d: %s", rc, err);

    /* ------------------------------------------------ cancel, then resume */
    duch_ingest_options_init(&o);
    o.chunk_tiles = 1;
    o.batch = 1;
    memset(&c, 0, sizeof c);
    o.on_scene = on_scene;
    o.cb_arg = &c;
    c.cancel_at = 1; /* the first call, after s1's first tile (a chunk of 1) is written */
    rc = duch_ingest(b, scenes, 2, &o, progress, &c, &st, err, sizeof err);
    CHECK(rc == DUCH_INTERRUPTED && tf_has(err, "interrupted"), "cancel: %d: %s", rc, err);
    CHECK(c.progress == 1 && st.tiles == 1 && c.scenes == 0, "cancel: %d progress calls "
          "(returned 0 at the first), %lld tiles written, %d on_scene calls", c.progress,
          st.tiles, c.scenes);
    long long before = st.tiles;
    duch_ingest_options_init(&o);
    rc = ingest(b, scenes, 2, &o, &c, &st, err, sizeof err);
    CHECK(rc == DUCH_OK && before > 0 && before + st.tiles == total &&
              st.scenes_done == 2 && st.scenes_resumed == 1,
          "resume: %d, %lld + %lld tiles of %lld, %d done, %d skipped, %d resumed (%s)", rc,
          before, st.tiles, total, st.scenes_done, st.scenes_skipped, st.scenes_resumed, err);
    /* the same tiles and codes as the run that was not stopped */
    memset(&q, 0, sizeof q);
    q.code = zeros;
    q.code_len = (size_t)bits / 8;
    q.k = 1000;
    REQUIRE(search(archive, &q, &hz, err, sizeof err) == DUCH_OK, "search a: %s", err);
    REQUIRE(search(b, &q, &ho, err, sizeof err) == DUCH_OK, "search b: %s", err);
    CHECK(hz->n == ho->n, "resumed archive: %d tiles, %d in the clean one", ho->n, hz->n);
    for (int i = 0; i < hz->n && i < ho->n; i++) {
        int found = 0;
        for (int j = 0; j < ho->n && !found; j++)
            found = !strcmp(hz->hits[i].scene_path, ho->hits[j].scene_path) &&
                    hz->hits[i].x_off == ho->hits[j].x_off &&
                    hz->hits[i].y_off == ho->hits[j].y_off &&
                    hz->hits[i].distance == ho->hits[j].distance;
        CHECK(found, "tile %s %d,%d of the clean run is not in the resumed archive",
              hz->hits[i].scene_path, hz->hits[i].x_off, hz->hits[i].y_off);
    }
    duch_hits_free(hz);
    duch_hits_free(ho);

    printf("%lld tiles (%d of s1, %d of s2), %d-bit codes; the cancelled run kept %lld\n", total,
           n1, n2, bits, before);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return tf_finish("pipeline_api");
}
