/* bench/first_query.c: the first query of a new connection against a warm one, with the
 * packed code blocks and with the rows (the path every query took before them), through
 * the archive API (what `duch query` and the DUCH: layer run), through SQL (duch_knn in
 * sqlite3 with mod_duch), and a whole `duch query` process. Not part of make check: see
 * bench/first_query.sh. */
#include "config.h"
#include "duch_index.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static void random_code(unsigned char *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        c[i] = (unsigned char)rng;
    }
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "first_query: %s: %s\n", what, msg);
    exit(1);
}

/* blocks_on 0: mark the blocks stale (as other SQL would), 1: current again */
static void set_blocks(const char *path, int on)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    const char *sql = on ? "UPDATE duch_blocks_version SET blocks = tiles"
                         : "UPDATE duch_blocks_version SET blocks = tiles - 1";
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die("duch_blocks_version", sqlite3_errmsg(db));
    sqlite3_close(db);
}

typedef struct result {
    double first, warm, first_box, warm_box; /* medians, seconds */
    size_t tiles;
    int from_blocks;
    int64_t hits[10];
} result;

/* on an open archive: the time of the next query (the first, when a is new), then of
 * 20 more (warm) */
static void one_connection(duch_archive *a, const double *box, double *first, double *warm)
{
    unsigned char q[8];
    duch_hit hits[10];
    size_t nh;
    for (int j = 0; j <= 20; j++) {
        random_code(q, sizeof q);
        double t0 = now();
        if (duch_archive_search(a, q, sizeof q, box, 10, hits, &nh) != DUCH_OK)
            die("search", duch_archive_errmsg(a));
        *(j == 0 ? first : &warm[j - 1]) = now() - t0;
    }
}

/* runs new connections through the archive API; warm: 20 queries each */
static void bench_archive(const char *path, int runs, const double *box, result *r)
{
    double *f = calloc(runs, sizeof *f), *w = calloc(runs * 20, sizeof *w);
    double *fb = calloc(runs, sizeof *fb), *wb = calloc(runs * 20, sizeof *wb);
    unsigned char q[8];
    duch_hit hits[10];
    size_t nh;
    for (int i = 0; i < runs; i++) {
        duch_archive *a = NULL;
        if (duch_archive_open(path, DUCH_ARCHIVE_READONLY, &a) != DUCH_OK)
            die(path, duch_archive_errmsg(a));
        one_connection(a, NULL, &f[i], w + i * 20);
        one_connection(a, box, &fb[i], wb + i * 20);
        duch_engine_info info;
        duch_archive_search_info(a, &info);
        r->tiles = info.tiles;
        r->from_blocks = info.from_blocks;
        duch_archive_close(a);
    }
    /* the same fixed query on both paths, for the agreement check */
    duch_archive *a = NULL;
    duch_archive_open(path, DUCH_ARCHIVE_READONLY, &a);
    memset(q, 0x5a, sizeof q);
    duch_archive_search(a, q, sizeof q, NULL, 10, hits, &nh);
    for (size_t i = 0; i < 10; i++)
        r->hits[i] = i < nh ? hits[i].id : -1;
    duch_archive_close(a);
    r->first = median(f, runs);
    r->warm = median(w, runs * 20);
    r->first_box = median(fb, runs);
    r->warm_box = median(wb, runs * 20);
    free(f), free(w), free(fb), free(wb);
}

/* duch_knn in a plain sqlite3 connection with mod_duch loaded */
static void bench_sql(const char *path, const char *mod, int runs, double *first, double *warm)
{
    double *f = calloc(runs, sizeof *f), *w = calloc(runs * 20, sizeof *w);
    unsigned char q[8];
    for (int i = 0; i < runs; i++) {
        sqlite3 *db = NULL;
        char *err = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
            die(path, sqlite3_errmsg(db));
        sqlite3_enable_load_extension(db, 1);
        if (sqlite3_load_extension(db, mod, NULL, &err) != SQLITE_OK)
            die(mod, err ? err : "load failed");
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT tile_id, distance FROM duch_knn(?, 10)", -1, &st, NULL) !=
            SQLITE_OK)
            die("prepare", sqlite3_errmsg(db));
        for (int j = 0; j <= 20; j++) {
            random_code(q, sizeof q);
            double t0 = now();
            sqlite3_bind_blob(st, 1, q, sizeof q, SQLITE_STATIC);
            int rc;
            while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                ;
            if (rc != SQLITE_DONE)
                die("duch_knn", sqlite3_errmsg(db));
            sqlite3_reset(st);
            double t = now() - t0;
            if (j == 0)
                f[i] = t;
            else
                w[i * 20 + j - 1] = t;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    *first = median(f, runs);
    *warm = median(w, runs * 20);
    free(f), free(w);
}

/* wall time and peak RSS (KiB) of `duch query ARCHIVE TEXT -k 10` */
static void bench_process(const char *duch, const char *path, const char *text, int runs,
                          double *wall, long *rss)
{
    double *t = calloc(runs, sizeof *t);
    long maxrss = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0)
                dup2(fd, 1);
            execl(duch, duch, "query", path, text, "-k", "10", (char *)NULL);
            _exit(127);
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("duch query", "failed");
        t[i] = now() - t0;
        if (ru.ru_maxrss > maxrss)
            maxrss = ru.ru_maxrss;
    }
    *wall = median(t, runs);
    *rss = maxrss;
    free(t);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *mod = NULL, *duch = NULL;
    int runs = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--archive"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "--mod-duch"))
            mod = argv[i + 1];
        else if (!strcmp(argv[i], "--duch"))
            duch = argv[i + 1];
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
    }
    if (!path || runs < 1) {
        fprintf(stderr, "usage: first_query --archive A [--mod-duch SO] [--duch BIN] [--runs N]\n");
        return 2;
    }
    /* a box over about 1% of the synthetic grid, cutting through tiles */
    const double box[4] = {-99.90005, 30.10005, -99.50005, 30.35005};
    result blocks, rows;
    memset(&blocks, 0, sizeof blocks);
    memset(&rows, 0, sizeof rows);
    set_blocks(path, 1);
    bench_archive(path, 1, box, &blocks); /* warm the page cache */
    bench_archive(path, runs, box, &blocks);
    set_blocks(path, 0);
    bench_archive(path, 1, box, &rows);
    bench_archive(path, runs, box, &rows);
    set_blocks(path, 1);
    if (!blocks.from_blocks || rows.from_blocks)
        die("setup", "the blocks were not used as intended");
    int same = !memcmp(blocks.hits, rows.hits, sizeof blocks.hits);
    printf("archive: %s, %zu tiles, 64-bit codes; medians of %d new connections, warm = 20"
           " queries each, k = 10\n", path, blocks.tiles, runs);
    printf("%-44s %10s %10s\n", "", "blocks", "rows");
    printf("%-44s %8.1f ms %8.1f ms\n", "first query of a connection", blocks.first * 1e3,
           rows.first * 1e3);
    printf("%-44s %8.2f ms %8.2f ms\n", "warm query", blocks.warm * 1e3, rows.warm * 1e3);
    printf("%-44s %8.1f ms %8.1f ms\n", "first box query (boxes loaded)", blocks.first_box * 1e3,
           rows.first_box * 1e3);
    printf("%-44s %8.2f ms %8.2f ms\n", "warm box query", blocks.warm_box * 1e3,
           rows.warm_box * 1e3);
    printf("first query, blocks vs rows (today's path before blocks): %.1fx faster\n",
           rows.first / blocks.first);
    double limit = 20 * blocks.warm + 0.005;
    printf("first / warm with blocks: %.1fx (target: first <= 20 x warm + 5 ms = %.1f ms: %s)\n",
           blocks.first / blocks.warm, limit * 1e3, blocks.first <= limit ? "met" : "NOT met");
    printf("same top 10 on both paths: %s\n", same ? "yes" : "NO");
    if (mod) {
        double f, w;
        bench_sql(path, mod, runs, &f, &w);
        printf("duch_knn in sqlite3 + mod_duch: first %.1f ms, warm %.2f ms (%.1fx)\n", f * 1e3,
               w * 1e3, f / w);
    }
    if (duch) {
        double wall;
        long rss;
        bench_process(duch, path, "dense residential area", runs, &wall, &rss);
        printf("duch query process (text, k 10): median %.3f s, peak RSS %.0f MB (target <= 0.3 s)\n",
               wall, rss / 1024.0);
        set_blocks(path, 0);
        bench_process(duch, path, "dense residential area", runs < 3 ? runs : 3, &wall, &rss);
        set_blocks(path, 1);
        printf("duch query process, rows path:            median %.3f s, peak RSS %.0f MB\n", wall,
               rss / 1024.0);
    }
    return same ? 0 : 1;
}
