/* index_archive: create, reopen, refuse non-archives and newer schemas, write scenes in
 * transactions (rollback, kill -9 mid-scene), read while writing (WAL), bad input. */
#include "config.h"
#include "duch_index.h"
#include "index_common.h"
#include "archive_internal.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


static char dir[64];
static char *path_in(const char *name)
{
    static char buf[8][256];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static const unsigned char model_blob[] = "not a real model, only bytes";

/* a tile footprint: a 0.01 degree square at (lon, lat), open ring */
static void square(double lon, double lat, double ring[8])
{
    double r[8] = {lon, lat, lon + 0.01, lat, lon + 0.01, lat + 0.01, lon, lat + 0.01};
    memcpy(ring, r, sizeof r);
}

static int write_scene(duch_archive *a, const char *path, const char *sum, int ntiles,
                       int64_t *sid)
{
    double fp[8];
    square(10, 50, fp);
    duch_scene_record s = {path, 1024, 768, 3, "GEOGCS[\"WGS 84\"]", {10, 0.001, 0, 50.77, 0, -0.001},
                           sum, fp, 4, 256, 0};
    int rc = duch_archive_begin_scene(a, &s, sid);
    if (rc)
        return rc;
    for (int i = 0; i < ntiles; i++) {
        unsigned char code[8];
        for (int j = 0; j < 8; j++)
            code[j] = (unsigned char)(i * 31 + j);
        double ring[8];
        square(10 + 0.01 * i, 50, ring);
        if ((rc = duch_archive_add_tile(a, *sid, 256 * i, 0, 256, 256, code, ring, 4, NULL)))
            return rc;
    }
    return DUCH_OK;
}

static int64_t count_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        else
            fprintf(stderr, "count_sql: %s\n", sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static void test_create_and_write(void)
{
    const char *p = path_in("a.sqlite");
    duch_archive *a = NULL;
    int rc = duch_archive_open(p, DUCH_ARCHIVE_READWRITE | DUCH_ARCHIVE_CREATE, &a);
    CHECK(rc == DUCH_OK, "create: %s", duch_archive_errmsg(a));
    const char *v = NULL;
    CHECK(duch_archive_meta_get(a, "schema_version", &v) == DUCH_OK && v && !strcmp(v, "2"),
          "schema_version");
    CHECK(duch_archive_meta_get(a, "nope", &v) == DUCH_NOTFOUND, "missing key");
    CHECK(duch_archive_meta_set(a, "note", "hello") == DUCH_OK, "meta_set");
    CHECK(duch_archive_meta_set(a, "schema_version", "3") == DUCH_INVALID, "schema_version is protected");
    CHECK(duch_archive_bits(a) == 0, "no model yet");
    const char *id;
    CHECK(duch_archive_get_model(a, NULL, NULL, &id, NULL) == DUCH_NOTFOUND, "get_model empty");
    int64_t sid;
    CHECK(write_scene(a, "/data/x.tif", "abc", 1, &sid) == DUCH_INVALID, "begin_scene without a model");
    CHECK(strstr(duch_archive_errmsg(a), "no model"), "message: %s", duch_archive_errmsg(a));
    CHECK(duch_archive_set_model(a, model_blob, sizeof model_blob, "m1", 60) == DUCH_INVALID, "bits 60");
    CHECK(duch_archive_set_model(a, model_blob, sizeof model_blob, "m1", 64) == DUCH_OK,
          "set_model: %s", duch_archive_errmsg(a));
    CHECK(duch_archive_set_model(a, model_blob, sizeof model_blob, "m1", 64) == DUCH_OK, "same model again");
    CHECK(duch_archive_set_model(a, model_blob, sizeof model_blob, "m2", 64) == DUCH_MISMATCH,
          "other model");
    CHECK(strstr(duch_archive_errmsg(a), "m1") && strstr(duch_archive_errmsg(a), "m2"), "mismatch message: %s",
          duch_archive_errmsg(a));
    const void *blob;
    size_t size;
    int bits;
    CHECK(duch_archive_get_model(a, &blob, &size, &id, &bits) == DUCH_OK && size == sizeof model_blob &&
          !memcmp(blob, model_blob, size) && !strcmp(id, "m1") && bits == 64, "get_model");

    /* scene 1 committed */
    CHECK(write_scene(a, "/data/x.tif", "abc", 5, &sid) == DUCH_OK, "scene 1: %s", duch_archive_errmsg(a));
    int64_t dummy;
    CHECK(duch_archive_find_scene(a, "/data/x.tif", NULL, &dummy) == DUCH_NOTFOUND,
          "a scene that is not committed is not complete");
    CHECK(duch_archive_commit_scene(a) == DUCH_OK, "commit: %s", duch_archive_errmsg(a));
    int64_t found = 0;
    CHECK(duch_archive_find_scene(a, "/data/x.tif", "abc", &found) == DUCH_OK && found == sid, "find_scene");
    CHECK(duch_archive_find_scene(a, "/data/x.tif", "other", &found) == DUCH_NOTFOUND, "checksum differs");
    CHECK(duch_archive_find_scene(a, "/data/y.tif", NULL, &found) == DUCH_NOTFOUND, "unknown path");

    /* scene 2 rolled back */
    CHECK(write_scene(a, "/data/y.tif", "def", 3, &sid) == DUCH_OK, "scene 2");
    CHECK(duch_archive_rollback_scene(a) == DUCH_OK, "rollback");
    CHECK(duch_archive_rollback_scene(a) == DUCH_INVALID, "rollback without scene");
    CHECK(duch_archive_commit_scene(a) == DUCH_INVALID, "commit without scene");
    int64_t ns = -1, nt = -1;
    CHECK(duch_archive_counts(a, &ns, &nt) == DUCH_OK && ns == 1 && nt == 5, "counts %lld %lld",
          (long long)ns, (long long)nt);

    /* bad input to add_tile */
    CHECK(write_scene(a, "/data/z.tif", NULL, 0, &sid) == DUCH_OK, "scene 3");
    double ring[8];
    unsigned char code[8] = {0};
    square(1, 2, ring);
    CHECK(duch_archive_add_tile(a, sid + 1, 0, 0, 10, 10, code, ring, 4, NULL) == DUCH_INVALID, "wrong scene");
    CHECK(duch_archive_add_tile(a, sid, 0, 0, 10, 10, code, ring, 2, NULL) == DUCH_INVALID, "2 points");
    CHECK(duch_archive_add_tile(a, sid, 0, 0, 10, 10, code, NULL, 4, NULL) == DUCH_INVALID, "no ring");
    CHECK(duch_archive_add_tile(a, sid, 0, 0, 0, 10, code, ring, 4, NULL) == DUCH_INVALID, "zero width");
    CHECK(duch_archive_add_tile(a, sid, 0, 0, 10, 10, NULL, ring, 4, NULL) == DUCH_INVALID, "no code");
    double nan_ring[8];
    memcpy(nan_ring, ring, sizeof ring);
    nan_ring[3] = 0.0 / 0.0;
    CHECK(duch_archive_add_tile(a, sid, 0, 0, 10, 10, code, nan_ring, 4, NULL) == DUCH_INVALID, "NaN");
    double closed[10];
    memcpy(closed, ring, sizeof ring);
    closed[8] = ring[0];
    closed[9] = ring[1];
    int64_t tid = 0;
    CHECK(duch_archive_add_tile(a, sid, 0, 0, 10, 10, code, closed, 5, &tid) == DUCH_OK && tid > 0,
          "closed ring: %s", duch_archive_errmsg(a));
    duch_scene_record s2 = {"/data/w.tif", 1, 1, 1, NULL, {0}, NULL, NULL, 0, 256, 0};
    CHECK(duch_archive_begin_scene(a, &s2, &sid) == DUCH_INVALID, "two scenes at once");
    CHECK(duch_archive_set_model(a, model_blob, sizeof model_blob, "m1", 64) == DUCH_INVALID, "set_model mid-scene");
    CHECK(duch_archive_commit_scene(a) == DUCH_OK, "commit 3");

    /* footprints are real geometries with a spatial index (SpatiaLite functions are on) */
    sqlite3 *db = duch_archive_db(a);
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db, "SELECT AsText(footprint), IsValid(footprint), SRID(footprint) FROM tiles"
                                 " WHERE tile_id = ?", -1, &st, NULL) == SQLITE_OK, "prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, tid);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *wkt = (const char *)sqlite3_column_text(st, 0);
        CHECK(wkt && !strcmp(wkt, "POLYGON((1 2, 1.01 2, 1.01 2.01, 1 2.01, 1 2))"), "wkt %s", wkt ? wkt : "NULL");
        CHECK(sqlite3_column_int(st, 1) == 1 && sqlite3_column_int(st, 2) == 4326, "valid, 4326");
    } else
        CHECK(0, "no tile row");
    sqlite3_finalize(st);
    double ext[4];
    CHECK(duch_archive_extent(a, ext) == DUCH_OK && ext[0] == 1 && ext[1] == 2 && ext[3] == 50.01,
          "extent %g %g %g %g", ext[0], ext[1], ext[2], ext[3]);
    duch_archive_close(a);
    CHECK(count_sql(p, "SELECT count(*) FROM idx_tiles_footprint") == 6, "spatial index rows");
    CHECK(count_sql(p, "SELECT count(*) FROM idx_tiles_footprint WHERE xmin <= 1.005 AND xmax >= 1.005"
                       " AND ymin <= 2.005 AND ymax >= 2.005") == 1, "spatial index query");
    CHECK(count_sql(p, "SELECT count(*) FROM scenes WHERE footprint IS NOT NULL AND complete = 1") == 2,
          "scene footprints");
    CHECK(count_sql(p, "SELECT tile_count FROM scenes WHERE path = '/data/x.tif'") == 5, "tile_count");

    /* reopen read-only */
    CHECK(duch_archive_open(p, DUCH_ARCHIVE_READONLY, &a) == DUCH_OK, "reopen: %s", duch_archive_errmsg(a));
    CHECK(duch_archive_bits(a) == 64, "bits after reopen");
    CHECK(duch_archive_meta_get(a, "note", &v) == DUCH_OK && !strcmp(v, "hello"), "meta persisted");
    CHECK(write_scene(a, "/data/q.tif", NULL, 1, &sid) == DUCH_READONLY, "write on read-only handle");
    CHECK(duch_archive_meta_set(a, "k", "v") == DUCH_READONLY, "meta_set read-only");
    duch_archive_close(a);
}

static void test_kill_mid_scene(void)
{
    const char *p = path_in("a.sqlite");
    int64_t before = count_sql(p, "SELECT count(*) FROM tiles");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        duch_archive *a = NULL;
        int64_t sid;
        if (duch_archive_open(p, DUCH_ARCHIVE_READWRITE, &a) == DUCH_OK &&
            write_scene(a, "/data/killed.tif", "k", 2000, &sid) == DUCH_OK)
            raise(SIGKILL);
        _exit(3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child was not killed (status %d)", status);
    CHECK(count_sql(p, "SELECT count(*) FROM tiles") == before, "tiles of a killed scene are visible");
    CHECK(count_sql(p, "SELECT count(*) FROM scenes WHERE path = '/data/killed.tif'") == 0,
          "killed scene is visible");
    duch_archive *a = NULL;
    int64_t sid;
    CHECK(duch_archive_open(p, DUCH_ARCHIVE_READWRITE, &a) == DUCH_OK, "reopen after kill: %s",
          duch_archive_errmsg(a));
    CHECK(write_scene(a, "/data/after.tif", "k", 2, &sid) == DUCH_OK && duch_archive_commit_scene(a) == DUCH_OK,
          "write after kill: %s", duch_archive_errmsg(a));
    duch_archive_close(a);
    CHECK(count_sql(p, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'") == 1,
          "integrity after kill");
}

static void test_reader_during_write(void)
{
    const char *p = path_in("a.sqlite");
    duch_archive *r = NULL, *w = NULL;
    CHECK(duch_archive_open(p, DUCH_ARCHIVE_READONLY, &r) == DUCH_OK, "reader");
    CHECK(duch_archive_open(p, DUCH_ARCHIVE_READWRITE, &w) == DUCH_OK, "writer");
    int64_t n0, n1, sid;
    CHECK(duch_archive_counts(r, NULL, &n0) == DUCH_OK, "count");
    /* the reader holds a read transaction while the writer writes and commits */
    sqlite3 *db = duch_archive_db(r);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    CHECK(duch_archive_counts(r, NULL, &n1) == DUCH_OK && n1 == n0, "count in txn");
    CHECK(write_scene(w, "/data/wal.tif", NULL, 4, &sid) == DUCH_OK, "write while reading: %s",
          duch_archive_errmsg(w));
    CHECK(duch_archive_counts(r, NULL, &n1) == DUCH_OK && n1 == n0, "reader sees uncommitted rows");
    CHECK(duch_archive_commit_scene(w) == DUCH_OK, "commit while a reader reads: %s", duch_archive_errmsg(w));
    CHECK(duch_archive_counts(r, NULL, &n1) == DUCH_OK && n1 == n0, "snapshot changed");
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    CHECK(duch_archive_counts(r, NULL, &n1) == DUCH_OK && n1 == n0 + 4, "reader sees the commit");
    /* a second writer waits, then gives up with a clear message while the first holds a scene */
    duch_archive *w2 = NULL;
    CHECK(duch_archive_open(p, DUCH_ARCHIVE_READWRITE, &w2) == DUCH_OK, "writer 2");
    sqlite3_busy_timeout(duch_archive_db(w2), 50);
    CHECK(write_scene(w, "/data/wal2.tif", NULL, 1, &sid) == DUCH_OK, "scene");
    CHECK(write_scene(w2, "/data/wal3.tif", NULL, 1, &sid) == DUCH_IO, "second writer must wait");
    duch_archive *w3 = NULL; /* opening for writing while a scene is being written works */
    CHECK(duch_archive_open(p, DUCH_ARCHIVE_READWRITE, &w3) == DUCH_OK, "open during a write: %s",
          duch_archive_errmsg(w3));
    duch_archive_close(w3);
    CHECK(strstr(duch_archive_errmsg(w2), "locked"), "busy message: %s", duch_archive_errmsg(w2));
    duch_archive_close(w); /* rolls back the open scene */
    duch_archive_close(w2);
    duch_archive_close(r);
    CHECK(count_sql(p, "SELECT count(*) FROM scenes WHERE path = '/data/wal2.tif'") == 0, "close rolls back");
    CHECK(count_sql(p, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1,
          "WAL mode");
}

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static void test_refuse(void)
{
    duch_archive *a = NULL;
    CHECK(duch_archive_open(path_in("missing.sqlite"), DUCH_ARCHIVE_READONLY, &a) == DUCH_NOTFOUND,
          "missing file");
    CHECK(strstr(duch_archive_errmsg(a), "no such archive"), "msg: %s", duch_archive_errmsg(a));
    duch_archive_close(a);
    CHECK(access(path_in("missing.sqlite"), F_OK) != 0, "opening must not create the file");

    write_file(path_in("text.txt"), "this is not a database, it is a text file long enough "
                                    "to have a header of a hundred bytes or so..........................");
    CHECK(duch_archive_open(path_in("text.txt"), DUCH_ARCHIVE_READONLY, &a) == DUCH_INVALID, "text file");
    CHECK(strstr(duch_archive_errmsg(a), "not a duch archive"), "msg: %s", duch_archive_errmsg(a));
    duch_archive_close(a);
    CHECK(duch_archive_open(path_in("text.txt"), DUCH_ARCHIVE_READWRITE | DUCH_ARCHIVE_CREATE, &a) == DUCH_INVALID,
          "create over a text file");
    duch_archive_close(a);

    sqlite3 *db;
    sqlite3_open(path_in("other.sqlite"), &db);
    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(duch_archive_open(path_in("other.sqlite"), DUCH_ARCHIVE_READWRITE | DUCH_ARCHIVE_CREATE, &a) == DUCH_INVALID,
          "create over another database");
    CHECK(strstr(duch_archive_errmsg(a), "not a duch archive"), "msg: %s", duch_archive_errmsg(a));
    duch_archive_close(a);

    /* newer schema */
    CHECK(duch_archive_open(path_in("new.sqlite"), DUCH_ARCHIVE_READWRITE | DUCH_ARCHIVE_CREATE, &a) == DUCH_OK, "create");
    duch_archive_close(a);
    sqlite3_open(path_in("new.sqlite"), &db);
    sqlite3_exec(db, "UPDATE duch_metadata SET value = '99' WHERE key = 'schema_version'", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(duch_archive_open(path_in("new.sqlite"), DUCH_ARCHIVE_READONLY, &a) == DUCH_VERSION, "newer schema");
    CHECK(strstr(duch_archive_errmsg(a), "version 99"), "msg: %s", duch_archive_errmsg(a));
    duch_archive_close(a);

    /* bad flags, directory, NULL path */
    CHECK(duch_archive_open(path_in("a.sqlite"), 0, &a) == DUCH_INVALID, "no flags");
    duch_archive_close(a);
    CHECK(duch_archive_open(path_in("a.sqlite"), DUCH_ARCHIVE_READONLY | DUCH_ARCHIVE_CREATE, &a) == DUCH_INVALID,
          "readonly+create");
    duch_archive_close(a);
    CHECK(duch_archive_open(dir, DUCH_ARCHIVE_READONLY, &a) == DUCH_INVALID, "directory");
    duch_archive_close(a);
    CHECK(duch_archive_open(NULL, DUCH_ARCHIVE_READONLY, &a) == DUCH_INVALID, "NULL path");
    duch_archive_close(a);
    CHECK(duch_archive_open("x", DUCH_ARCHIVE_READONLY, NULL) == DUCH_INVALID, "NULL out");
    duch_archive_close(NULL);
    CHECK(duch_archive_counts(NULL, NULL, NULL) == DUCH_INVALID, "NULL handle");
    CHECK(strcmp(duch_archive_errmsg(NULL), "") != 0, "errmsg(NULL)");

    /* read-only file (and folder): as root, check it as user nobody in a child */
    chmod(path_in("new.sqlite"), 0444);
    sqlite3_open(path_in("new.sqlite"), &db); /* set the schema version back */
    sqlite3_exec(db, "UPDATE duch_metadata SET value = '1' WHERE key = 'schema_version'", NULL, NULL, NULL);
    sqlite3_close(db);
    chmod(dir, 0755);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && setuid(65534) != 0)
            _exit(77);
        int bad = 0;
        if (duch_archive_open(path_in("new.sqlite"), DUCH_ARCHIVE_READWRITE, &a) != DUCH_READONLY ||
            !strstr(duch_archive_errmsg(a), "read-only")) {
            fprintf(stderr, "FAIL: read-only file opened for writing: %s\n", duch_archive_errmsg(a));
            bad = 1;
        }
        duch_archive_close(a);
        int64_t nt = -1;
        if (duch_archive_open(path_in("new.sqlite"), DUCH_ARCHIVE_READONLY, &a) != DUCH_OK ||
            duch_archive_counts(a, NULL, &nt) != DUCH_OK || nt != 0) {
            fprintf(stderr, "FAIL: read-only archive in a read-only folder: %s\n", duch_archive_errmsg(a));
            bad = 1;
        }
        duch_archive_close(a);
        _exit(bad);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        printf("could not become another user: read-only file case not checked\n");
    else
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "read-only cases (status %d)", status);
    chmod(dir, 0700);
    chmod(path_in("new.sqlite"), 0644);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/duch_archive.XXXXXX", tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_create_and_write();
    test_kill_mid_scene();
    test_reader_during_write();
    test_refuse();
    if (!failures) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
        printf("index_archive: ok\n");
    } else {
        fprintf(stderr, "%d failures; files kept in %s\n", failures, dir);
    }
    return failures ? 1 : 0;
}
