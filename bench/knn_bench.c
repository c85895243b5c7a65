/* knn_bench: exact top-k over random 64-bit codes.
 *
 * SCOPE. (1) The raw Hamming kernels of index/ (every one this CPU runs, next to the
 * portable one and to a plain read of the same memory), and the packed-array top-k.
 * (2) duch_knn(code, k) through SQL (mod_duch.so) against the baseline sqlite-vec
 * (vec0.so, a vec0 table of bit[64] and `MATCH ... AND k = 10`), on the same codes, in
 * one connection and one run; both must give the same distances. Warm numbers: each
 * side answers one query before the timed ones (duch_knn fills its per-connection cache
 * then; that first call is reported separately).
 *
 * usage: knn_bench --mod-duch PATH --vec0 PATH [--dir DIR] [--sizes N,N..] [--queries Q]
 *                  [--k K] [--kernels-only]
 * bench/knn.sh finds the paths and installs sqlite-vec. */
#include "config.h"
#include "duch_index.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* read every 64-bit word (the memory-bandwidth reference of a scan) */
static uint64_t __attribute__((noinline)) read_all(const uint64_t *p, size_t n)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    for (; i < n; i++)
        s0 += p[i];
    return s0 + s1 + s2 + s3;
}

static void bench_kernels(size_t n)
{
    unsigned char *codes = aligned_alloc(64, n * 8);
    uint16_t *dist = malloc(n * sizeof *dist);
    if (!codes || !dist) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v = rnd();
        memcpy(codes + 8 * i, &v, 8);
    }
    unsigned char q[8];
    uint64_t qv = rnd();
    memcpy(q, &qv, 8);

    printf("\n== kernels: one scan of %zu 64-bit codes (%.0f MB), one core\n", n, n * 8 / 1e6);
    printf("scan: all n distances written out; top-10: duch_topk with that kernel's fused\n"
           "filter (only codes that can enter the top-k come out)\n");
    printf("%-10s %10s %14s %9s %10s %12s %14s %10s\n", "kernel", "ms/scan", "codes/s", "GB/s",
           "x portable", "top-10 ms", "top-10 codes/s", "x portable");
    /* the memory reference */
    volatile uint64_t sink = 0;
    int reps = n >= 5000000 ? 5 : 30;
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        sink += read_all((const uint64_t *)codes, n);
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    printf("%-10s %10.3f %14.3g %9.1f %10s   (plain read of the same memory)\n", "(read)",
           best * 1e3, n / best, n * 8 / best / 1e9, "-");
    size_t nk;
    const duch_kernel *k = duch_kernels(&nk);
    double portable = 0, portable_topk = 0;
    for (size_t i = 0; i < nk; i++) {
        if (!k[i].available()) {
            printf("%-10s not available on this CPU (needs %s)\n", k[i].name, k[i].needs);
            continue;
        }
        k[i].scan(codes, n, 8, q, dist); /* warm */
        best = 1e9;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            k[i].scan(codes, n, 8, q, dist);
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        double best_topk = 1e9;
        duch_hit hits[10];
        size_t nh;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            duch_topk(&k[i], codes, NULL, n, 8, q, NULL, 0, 10, hits, &nh);
            double t = now() - t0;
            if (t < best_topk)
                best_topk = t;
        }
        if (i == 0) {
            portable = best;
            portable_topk = best_topk;
        }
        printf("%-10s %10.3f %14.3g %9.1f %10.1f %12.3f %14.3g %10.1f\n", k[i].name, best * 1e3,
               n / best, n * 8 / best / 1e9, portable / best, best_topk * 1e3, n / best_topk,
               portable_topk / best_topk);
    }
    (void)sink;
    free(codes);
    free(dist);
}

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "SQL error: %s\n  in: %s\n", err, sql);
        sqlite3_free(err);
        return 1;
    }
    return 0;
}

static int load(sqlite3 *db, const char *path)
{
    char *err = NULL;
    if (sqlite3_load_extension(db, path, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, err);
        sqlite3_free(err);
        return 1;
    }
    return 0;
}

/* make DIR/knn_N.sqlite: tiles(tile_id, code) and vec0 table vec(code bit[64]) with the
 * same random codes (rowid = tile_id) */
static int make_db(const char *path, size_t n, const char *vec0)
{
    sqlite3 *db = NULL;
    int rc = 1;
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        goto finish;
    sqlite3_enable_load_extension(db, 1);
    if (load(db, vec0) ||
        exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;"
                 "CREATE TABLE tiles(tile_id INTEGER PRIMARY KEY, code BLOB NOT NULL);"
                 "CREATE VIRTUAL TABLE vec USING vec0(code bit[64]);"))
        goto finish;
    sqlite3_stmt *a = NULL, *b = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO tiles VALUES (?, ?)", -1, &a, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO vec(rowid, code) VALUES (?, vec_bit(?))", -1, &b, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        goto finish;
    }
    uint64_t seed = rng_state;
    rng_state = 0x9E3779B97F4A7C15ULL ^ n;
    double t0 = now();
    for (size_t i = 1; i <= n; i++) {
        uint64_t v = rnd();
        sqlite3_bind_int64(a, 1, (sqlite3_int64)i);
        sqlite3_bind_blob(a, 2, &v, 8, SQLITE_STATIC);
        sqlite3_bind_int64(b, 1, (sqlite3_int64)i);
        sqlite3_bind_blob(b, 2, &v, 8, SQLITE_STATIC);
        if (sqlite3_step(a) != SQLITE_DONE || sqlite3_step(b) != SQLITE_DONE) {
            fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
            goto finish;
        }
        sqlite3_reset(a);
        sqlite3_reset(b);
        if (i % 1000000 == 0) {
            fprintf(stderr, "  %zu rows, %.0f s\n", i, now() - t0);
        }
    }
    rng_state = seed;
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    if (exec(db, "CREATE TABLE bench_done(n); COMMIT;"))
        goto finish;
    rc = 0;
finish:
    sqlite3_close(db);
    return rc;
}

static int db_ready(const char *path)
{
    sqlite3 *db = NULL;
    int ok = 0;
    if (access(path, F_OK) == 0 && sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        ok = sqlite3_prepare_v2(db, "SELECT 1 FROM bench_done", -1, &st, NULL) == SQLITE_OK;
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

/* run one query; writes up to k distances, returns the row count or -1 */
static int run_query(sqlite3_stmt *st, const unsigned char *q, int k, int *dist)
{
    sqlite3_bind_blob(st, 1, q, 8, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, k);
    int n = 0, r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (n < k)
            dist[n] = (int)(sqlite3_column_double(st, 1) + 0.5);
        n++;
    }
    sqlite3_reset(st);
    return r == SQLITE_DONE ? n : -1;
}

static int bench_sql(const char *dir, size_t n, int nq, int k, const char *mod_duch, const char *vec0)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/knn_%zu.sqlite", dir, n);
    if (!db_ready(path)) {
        fprintf(stderr, "making %s (%zu rows in tiles and in vec0; once)\n", path, n);
        if (make_db(path, n, vec0))
            return 1;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *qd = NULL, *qv = NULL;
    int rc = 1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto finish;
    sqlite3_enable_load_extension(db, 1);
    if (load(db, mod_duch) || load(db, vec0))
        goto finish;
    if (sqlite3_prepare_v2(db, "SELECT tile_id, distance FROM duch_knn(?1, ?2)", -1, &qd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT rowid, distance FROM vec WHERE code MATCH vec_bit(?1) AND k = ?2",
                           -1, &qv, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        goto finish;
    }
    unsigned char (*queries)[8] = malloc((size_t)nq * 8);
    double *td = malloc((size_t)nq * sizeof *td), *tv = malloc((size_t)nq * sizeof *tv);
    int *dd = malloc((size_t)k * sizeof *dd), *dv = malloc((size_t)k * sizeof *dv);
    for (int i = 0; i < nq; i++) {
        uint64_t v = rnd();
        memcpy(queries[i], &v, 8);
    }
    double t0 = now();
    int rows = run_query(qd, queries[0], k, dd);
    double first_duch = now() - t0;
    t0 = now();
    run_query(qv, queries[0], k, dv);
    double first_vec = now() - t0;
    if (rows != k) {
        fprintf(stderr, "duch_knn returned %d rows: %s\n", rows, sqlite3_errmsg(db));
        goto finish;
    }
    int mismatches = 0;
    for (int i = 0; i < nq; i++) {
        t0 = now();
        int a = run_query(qd, queries[i], k, dd);
        td[i] = now() - t0;
        t0 = now();
        int b = run_query(qv, queries[i], k, dv);
        tv[i] = now() - t0;
        if (a != k || b != k || memcmp(dd, dv, (size_t)k * sizeof *dd)) {
            if (!mismatches)
                fprintf(stderr, "query %d: distances differ (duch %d rows, sqlite-vec %d rows)\n", i, a, b);
            mismatches++;
        }
    }
    qsort(td, (size_t)nq, sizeof *td, cmp_double);
    qsort(tv, (size_t)nq, sizeof *tv, cmp_double);
    double sd = 0, sv = 0;
    for (int i = 0; i < nq; i++)
        sd += td[i], sv += tv[i];
    printf("\n== SQL top-%d over %zu random 64-bit codes, %d warm queries, one connection\n", k, n, nq);
    printf("%-34s %10s %10s %10s %10s\n", "", "min ms", "median ms", "mean ms", "first ms");
    printf("%-34s %10.3f %10.3f %10.3f %10.1f\n", "duch_knn(code, k)", td[0] * 1e3,
           td[nq / 2] * 1e3, sd / nq * 1e3, first_duch * 1e3);
    printf("%-34s %10.3f %10.3f %10.3f %10.1f\n", "sqlite-vec vec0 bit[64] MATCH", tv[0] * 1e3,
           tv[nq / 2] * 1e3, sv / nq * 1e3, first_vec * 1e3);
    printf("sqlite-vec / duch_knn (median): %.1fx   same distances: %s\n", tv[nq / 2] / td[nq / 2],
           mismatches ? "NO" : "yes, every query");
    free(queries);
    free(td);
    free(tv);
    free(dd);
    free(dv);
    rc = mismatches ? 2 : 0;
finish:
    sqlite3_finalize(qd);
    sqlite3_finalize(qv);
    sqlite3_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    const char *mod_duch = NULL, *vec0 = NULL, *dir = ".", *sizes = "1000000,10000000";
    int nq = 50, k = 10, kernels_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mod-duch") && i + 1 < argc)
            mod_duch = argv[++i];
        else if (!strcmp(argv[i], "--vec0") && i + 1 < argc)
            vec0 = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
            sizes = argv[++i];
        else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            nq = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc)
            k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kernels-only"))
            kernels_only = 1;
        else {
            fprintf(stderr, "usage: knn_bench --mod-duch PATH --vec0 PATH [--dir DIR] [--sizes N,N]"
                            " [--queries Q] [--k K] [--kernels-only]\n");
            return 2;
        }
    }
    if (nq < 1 || k < 1 || (!kernels_only && (!mod_duch || !vec0))) {
        fprintf(stderr, "knn_bench: --mod-duch and --vec0 are required (bench/knn.sh finds them)\n");
        return 2;
    }
    printf("SQLite %s; best kernel: %s\n", sqlite3_libversion(), duch_kernel_best()->name);
    int rc = 0;
    char *list = strdup(sizes);
    for (char *s = strtok(list, ","); s; s = strtok(NULL, ",")) {
        size_t n = strtoull(s, NULL, 10);
        if (n < (size_t)k)
            continue;
        bench_kernels(n);
        if (!kernels_only) {
            int r = bench_sql(dir, n, nq, k, mod_duch, vec0);
            if (r)
                rc = r;
        }
    }
    free(list);
    return rc;
}
