/* pipeline_kill: duch_ingest() that dies by SIGKILL inside a chunk's transaction, the fault
 * tests/cli_index_chunks.sh and tests/cli_index_resume.sh inject to prove that a killed run
 * leaves a consistent archive and that the rerun resumes.
 *
 *   pipeline_kill N [-q] [-j JOBS] [--chunk TILES] [--model FILE] ARCHIVE SCENE...
 *
 * The fault comes from this side, not from the library: every SQLite connection the
 * process opens gets an update hook (sqlite3_auto_extension), and the insert of the
 * (N+1)th row into the archive's `tiles` table raises SIGKILL, with that row written but
 * its transaction not committed. So N tiles have been written before (some of them
 * committed, whole chunks only, is what the callers check). A run that ends without
 * being killed exits 1 ("not killed"); the caller expects exit status 137. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duch_pipeline.h"

static long long kill_after = -1;
static long long inserted = 0;

static void on_update(void *arg, int op, const char *db, const char *table, sqlite3_int64 rowid)
{
    (void)arg;
    (void)rowid;
    if (op == SQLITE_INSERT && !strcmp(db, "main") && !strcmp(table, "tiles") &&
        ++inserted > kill_after)
        raise(SIGKILL);
}

static int hook_connection(sqlite3 *db, char **errmsg, const void *api)
{
    (void)errmsg;
    (void)api;
    sqlite3_update_hook(db, on_update, NULL);
    return SQLITE_OK;
}

static void on_scene(const char *scene, int status, int skipped, long long tiles,
                     const char *msg, void *arg)
{
    if (status != DUCH_OK || !*(int *)arg)
        fprintf(stderr, "pipeline_kill: %s: status %d, skipped %d, %lld tiles%s%s\n", scene,
                status, skipped, tiles, msg ? ": " : "", msg ? msg : "");
}

static int usage(void)
{
    fprintf(stderr, "usage: pipeline_kill N [-q] [-j JOBS] [--chunk TILES] [--model FILE] "
                    "ARCHIVE SCENE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    char *end;
    kill_after = strtoll(argv[1], &end, 10);
    if (*end || kill_after < 0)
        return usage();
    duch_ingest_options o;
    duch_ingest_options_init(&o);
    int quiet = 0, i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-q"))
            quiet = 1;
        else if (!strcmp(argv[i], "-j") && i + 1 < argc)
            o.jobs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
            o.chunk_tiles = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            o.model_path = argv[++i];
        else
            return usage();
    }
    if (argc - i < 2)
        return usage();
    o.on_scene = on_scene;
    o.cb_arg = &quiet;
    if (sqlite3_auto_extension((void (*)(void))hook_connection) != SQLITE_OK) {
        fprintf(stderr, "pipeline_kill: sqlite3_auto_extension failed\n");
        return 1;
    }
    duch_ingest_stats st;
    char err[2048];
    int rc = duch_ingest(argv[i], (const char *const *)argv + i + 1, argc - i - 1, &o, NULL,
                         NULL, &st, err, sizeof err);
    fprintf(stderr, "pipeline_kill: not killed after %lld tile inserts (status %d%s%s; %lld "
                    "tiles written)\n", inserted, rc, *err ? ": " : "", err, st.tiles);
    return 1;
}
