/* index_engine: the one search engine (index/engine.c) against a brute force, on an
 * archive written through the API in several chunks and scenes (tiles without a
 * footprint too): random queries, k and boxes (cutting tiles, touching their edges,
 * points), on the packed code blocks, on the rows (blocks stale after SQL), after
 * optimize with gaps in the tile ids (explicit tile_ids blocks), and a reader that
 * keeps its engine while a writer commits chunks (it must see every commit). */
#include "config.h"
#include "duch_index.h"
#include "index_common.h"
#include "archive_internal.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define NB 8 /* 64-bit codes */
static const unsigned char model_blob[] = "not a real model, only bytes";
static uint64_t rnd(void) { return test_rand(); }

typedef struct tile {
    int64_t id;
    unsigned char code[NB];
    double box[4]; /* NaN: no footprint */
    int live;
} tile;
static tile tiles[6000];
static int ntiles;

/* write a scene of n tiles on a grid of 0.01-degree squares at row `row`, in chunks of
 * `chunk`; every 7th tile without a footprint when nofp */
static void write_scene(duch_archive *a, const char *path, int n, int chunk, int row, int nofp)
{
    duch_scene_record s = {path, 4096, 4096, 3, NULL, {0, 1, 0, 0, 0, -1}, path, NULL, 0, 256, 0};
    int64_t sid = 0;
    CHECK(duch_archive_begin_scene(a, &s, &sid) == DUCH_OK, "begin %s: %s", path, duch_archive_errmsg(a));
    for (int i = 0; i < n; i++) {
        if (i > 0 && i % chunk == 0) {
            CHECK(duch_archive_commit_chunk(a, 0) == DUCH_OK, "chunk: %s", duch_archive_errmsg(a));
            CHECK(duch_archive_continue_scene(a, sid) == DUCH_OK, "continue: %s", duch_archive_errmsg(a));
        }
        tile *t = &tiles[ntiles];
        for (int j = 0; j < NB; j++)
            t->code[j] = (unsigned char)rnd();
        double lon = 10 + 0.01 * (i % 50), lat = 40 + 0.01 * (row + i / 50);
        double ring[8] = {lon, lat, lon + 0.01, lat, lon + 0.01, lat + 0.01, lon, lat + 0.01};
        int none = nofp && i % 7 == 3;
        if (none)
            t->box[0] = t->box[1] = t->box[2] = t->box[3] = NAN;
        else
            t->box[0] = lon, t->box[1] = lat, t->box[2] = lon + 0.01, t->box[3] = lat + 0.01;
        CHECK(duch_archive_add_tile(a, sid, (i % 50) * 256, (i / 50) * 256, 256, 256, t->code,
                                    none ? NULL : ring, none ? 0 : 4, &t->id) == DUCH_OK,
              "add_tile: %s", duch_archive_errmsg(a));
        t->live = 1;
        ntiles++;
    }
    CHECK(duch_archive_commit_chunk(a, 1) == DUCH_OK, "last chunk: %s", duch_archive_errmsg(a));
}

static unsigned ham(const unsigned char *a, const unsigned char *b)
{
    unsigned d = 0;
    for (int j = 0; j < NB; j++)
        d += (unsigned)__builtin_popcount(a[j] ^ b[j]);
    return d;
}

static int cmp_hit(const void *x, const void *y)
{
    const duch_hit *a = x, *b = y;
    if (a->distance != b->distance)
        return a->distance < b->distance ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static size_t brute(const unsigned char *q, const double *box, size_t k, duch_hit *out)
{
    static duch_hit all[6000];
    size_t n = 0;
    for (int i = 0; i < ntiles; i++) {
        const tile *t = &tiles[i];
        if (!t->live)
            continue;
        if (box && !(t->box[0] <= box[2] && t->box[2] >= box[0] && t->box[1] <= box[3] &&
                     t->box[3] >= box[1]))
            continue;
        all[n].id = t->id;
        all[n].distance = ham(q, t->code);
        n++;
    }
    qsort(all, n, sizeof *all, cmp_hit);
    if (n > k)
        n = k;
    memcpy(out, all, n * sizeof *out);
    return n;
}

/* random queries and boxes: the archive's search equals the brute force */
static void agree(duch_archive *a, const char *phase, int want_blocks)
{
    duch_engine_info info;
    CHECK(duch_archive_search_info(a, &info) == DUCH_OK, "%s: info: %s", phase, duch_archive_errmsg(a));
    CHECK(info.from_blocks == want_blocks, "%s: from_blocks %d (%s)", phase, info.from_blocks,
          info.why_rows);
    int live = 0;
    for (int i = 0; i < ntiles; i++)
        live += tiles[i].live;
    CHECK((int)info.tiles == live, "%s: engine holds %zu tiles, %d live", phase, info.tiles, live);
    static duch_hit got[600], want[600];
    for (int it = 0; it < 60; it++) {
        unsigned char q[NB];
        for (int j = 0; j < NB; j++)
            q[j] = (unsigned char)rnd();
        if (it % 5 == 0)
            memcpy(q, tiles[rnd() % ntiles].code, NB); /* exact matches and ties */
        size_t k = 1 + rnd() % (it % 3 ? 40 : 600);
        double box[4], *bp = NULL;
        int kind = it % 6;
        if (kind) {
            const tile *t = &tiles[rnd() % ntiles];
            double x = isnan(t->box[0]) ? 10.2 : t->box[0], y = isnan(t->box[1]) ? 40.2 : t->box[1];
            if (kind == 1) { /* cuts through tiles */
                box[0] = x + 0.003, box[1] = y + 0.004, box[2] = x + 0.047, box[3] = y + 0.021;
            } else if (kind == 2) { /* touches an edge: minx = the tile's maxx */
                box[0] = x + 0.01, box[1] = y + 0.005, box[2] = x + 0.015, box[3] = y + 0.006;
            } else if (kind == 3) { /* one ulp past it */
                box[0] = nextafter(x + 0.01, INFINITY), box[1] = y + 0.005, box[2] = x + 0.015,
                box[3] = y + 0.006;
            } else if (kind == 4) { /* a point */
                box[0] = box[2] = x + 0.005, box[1] = box[3] = y + 0.005;
            } else { /* large */
                box[0] = 9, box[1] = 39, box[2] = 10.25, box[3] = 41;
            }
            bp = box;
        }
        size_t ng = 0;
        int rc = duch_archive_search(a, q, NB, bp, k, got, &ng);
        CHECK(rc == DUCH_OK, "%s: search: %s", phase, duch_archive_errmsg(a));
        size_t nw = brute(q, bp, k, want);
        int same = ng == nw;
        for (size_t i = 0; same && i < ng; i++)
            same = got[i].id == want[i].id && got[i].distance == want[i].distance;
        CHECK(same, "%s: query %d (box kind %d, k %zu): %zu hits, brute force %zu; first %lld/%u vs %lld/%u",
              phase, it, kind, k, ng, nw, ng ? (long long)got[0].id : -1LL, ng ? got[0].distance : 0,
              nw ? (long long)want[0].id : -1LL, nw ? want[0].distance : 0);
    }
}

static void exec_sql(duch_archive *a, const char *sql)
{
    char *err = NULL;
    CHECK(sqlite3_exec(duch_archive_db(a), sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql,
          err ? err : "?");
    sqlite3_free(err);
}

int main(void)
{
    char dir[] = "/tmp/duch_engine.XXXXXX";
    if (!mkdtemp(dir))
        return 99;
    char path[128];
    snprintf(path, sizeof path, "%s/a.sqlite", dir);
    duch_archive *a = NULL;
    CHECK(duch_archive_open(path, DUCH_ARCHIVE_READWRITE | DUCH_ARCHIVE_CREATE, &a) == DUCH_OK, "create");
    CHECK(duch_archive_set_model(a, model_blob, sizeof model_blob, "m", 64) == DUCH_OK, "model");
    /* a reader that keeps its engine from before the first tile */
    duch_archive *r = NULL;
    CHECK(duch_archive_open(path, DUCH_ARCHIVE_READONLY, &r) == DUCH_OK, "reader");
    duch_hit h[4];
    size_t nh = 9;
    unsigned char q0[NB] = {0};
    CHECK(duch_archive_search(r, q0, NB, NULL, 4, h, &nh) == DUCH_OK && nh == 0, "empty archive");
    write_scene(a, "/s1.tif", 1500, 256, 0, 0);
    CHECK(duch_archive_blocks_current(a), "blocks after scene 1: %s", duch_archive_errmsg(a));
    agree(r, "reader after scene 1", 1);
    write_scene(a, "/s2.tif", 1300, 1000, 40, 1); /* tiles without footprints too */
    write_scene(a, "/s3.tif", 37, 1024, 80, 0);
    agree(r, "reader after 3 scenes", 1);
    agree(a, "writer's handle, blocks", 1);
    sqlite3 *db = duch_archive_db(a);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM duch_code_blocks", -1, &st, NULL);
    sqlite3_step(st);
    int nblocks = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    CHECK(nblocks == 6 + 2 + 1, "blocks: %d, expected one per chunk (9)", nblocks);

    /* other SQL deletes tiles in the middle: blocks stale, rows serve */
    exec_sql(a, "DELETE FROM tiles WHERE tile_id % 5 = 2 AND tile_id < 2000");
    for (int i = 0; i < ntiles; i++)
        if (tiles[i].id % 5 == 2 && tiles[i].id < 2000)
            tiles[i].live = 0;
    CHECK(!duch_archive_blocks_current(a), "blocks current after a DELETE");
    agree(r, "reader, rows after DELETE", 0);
    /* optimize: blocks with gaps in the ids (explicit tile_ids) */
    int64_t packed = 0;
    CHECK(duch_archive_optimize(a, NULL, NULL, &packed) == DUCH_OK, "optimize: %s", duch_archive_errmsg(a));
    sqlite3_prepare_v2(db, "SELECT count(*) FROM duch_code_blocks WHERE tile_ids IS NOT NULL", -1, &st, NULL);
    sqlite3_step(st);
    CHECK(sqlite3_column_int(st, 0) >= 1, "optimize wrote no block with explicit tile ids");
    sqlite3_finalize(st);
    agree(r, "reader, blocks after optimize", 1);
    /* a chunk appended to current blocks keeps them current */
    write_scene(a, "/s4.tif", 300, 128, 90, 0);
    CHECK(duch_archive_blocks_current(a), "blocks after scene 4: %s", duch_archive_errmsg(a));
    agree(r, "reader after scene 4", 1);
    /* a rolled-back chunk leaves neither rows nor a block */
    duch_scene_record s = {"/s5.tif", 10, 10, 3, NULL, {0, 1, 0, 0, 0, -1}, "s5", NULL, 0, 256, 0};
    int64_t sid;
    CHECK(duch_archive_begin_scene(a, &s, &sid) == DUCH_OK, "begin s5");
    unsigned char c[NB] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(duch_archive_add_tile(a, sid, 0, 0, 10, 10, c, NULL, 0, NULL) == DUCH_OK, "add s5");
    CHECK(duch_archive_rollback_scene(a) == DUCH_OK, "rollback s5");
    CHECK(duch_archive_blocks_current(a), "blocks after a rollback");
    agree(r, "reader after a rollback", 1);
    /* the query must have the archive's length; bad boxes are refused */
    CHECK(duch_archive_search(r, c, 4, NULL, 3, h, &nh) == DUCH_INVALID, "4-byte query");
    double bad[4] = {1, 1, 0, 2};
    CHECK(duch_archive_search(r, c, NB, bad, 3, h, &nh) == DUCH_INVALID &&
              strstr(duch_archive_errmsg(r), "empty box"), "empty box: %s", duch_archive_errmsg(r));
    double nan_box[4] = {NAN, 1, 2, 3};
    CHECK(duch_archive_search(r, c, NB, nan_box, 3, h, &nh) == DUCH_INVALID, "NaN box");
    double parsed[4];
    CHECK(duch_bbox_parse(" 1, 2 ,3,4", parsed, NULL, 0) == DUCH_OK && parsed[3] == 4, "parse");
    char why[200];
    CHECK(duch_bbox_parse("1,2,3", parsed, why, sizeof why) == DUCH_INVALID && strstr(why, "is not minx"),
          "parse 3 numbers: %s", why);
    CHECK(duch_bbox_parse("1,2,3,4,5", parsed, why, sizeof why) == DUCH_INVALID, "parse 5 numbers");
    CHECK(duch_bbox_parse("0,0,200,1", parsed, why, sizeof why) == DUCH_INVALID && strstr(why, "outside"),
          "parse outside: %s", why);
    duch_archive_close(r);
    duch_archive_close(a);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!failures && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (failures)
        fprintf(stderr, "%d failures; files kept in %s\n", failures, dir);
    else
        printf("ok: engine = brute force on blocks, rows, after optimize and while a writer commits\n");
    return failures ? 1 : 0;
}
