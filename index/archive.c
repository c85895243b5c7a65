/* archive.c: the duch archive, one SpatiaLite file (schema: docs/archive.md).
 *
 * The connection gets SpatiaLite through its C API (spatialite_alloc_connection +
 * spatialite_init_ex), which the spatial index triggers need when tiles are written.
 * Footprints are written as SpatiaLite BLOB geometries built here, so no WKT goes
 * through the parser. A scene is one write transaction (BEGIN IMMEDIATE at
 * begin_scene, COMMIT at commit_scene): a crash mid-scene leaves nothing of it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr */
#endif
#include "config.h"
#include "duch_utf8.h"
#include "duch_index.h"
#include "archive_internal.h"
#include "archive_pg.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <spatialite.h>

struct duch_archive {
    pga *pg;                  /* a PostGIS archive ("PG:..."): everything goes there */
    sqlite3 *db;
    void *splite;             /* spatialite connection cache */
    char *path;
    int readonly;
    int bits;                 /* from the stored model, 0 when none */
    int64_t scene_id;         /* scene of the open write transaction, 0 when none */
    int has_writer;           /* scenes has the writer / updated_at columns */
    int version;              /* schema version of the file */
    int splite_on;            /* spatialite_init_ex done on db */
    char token[192];          /* this handle's writer token (see writer_token) */
    sqlite3_stmt *ins_tile;
    /* the open chunk's tiles, for its code block (duch_blocks_append) */
    int blocks_current;       /* the blocks held every tile when the chunk began */
    size_t chunk_n, chunk_cap;
    int64_t *chunk_ids;
    unsigned char *chunk_codes;
    double *chunk_boxes;
    duch_engine *engine;      /* search (duch_archive_search), made on first use */
    /* memory handed out by the getters */
    duch_stored_model model;  /* handed out by get_model */
    char *meta_value;
    char msg[1024];
};

/* The byte length of a tile's code, -1 when it is not a BLOB; indexed, so that codes
 * that do not fit the model are found without reading the table (check_codes). The
 * query must spell the expression exactly so. */
#define CODE_LEN_EXPR "(CASE typeof(code) WHEN 'blob' THEN length(code) ELSE -1 END)"
#define CODE_LEN_INDEX_SQL "CREATE INDEX IF NOT EXISTS tiles_code_len ON tiles(" CODE_LEN_EXPR ");\n"

#define SCHEMA_SQL \
    "CREATE TABLE duch_metadata (\n" \
    "  key TEXT PRIMARY KEY NOT NULL,\n" \
    "  value TEXT NOT NULL);\n" \
    "CREATE TABLE duch_model (\n" \
    "  model_id TEXT PRIMARY KEY NOT NULL,\n" \
    "  bits INTEGER NOT NULL CHECK (bits % 8 = 0 AND bits BETWEEN 16 AND 1024),\n" \
    "  size INTEGER NOT NULL,\n" \
    "  data BLOB NOT NULL,\n" \
    "  stored_at TEXT NOT NULL);\n" \
    "CREATE TABLE scenes (\n" \
    "  scene_id INTEGER PRIMARY KEY,\n" \
    "  path TEXT NOT NULL,\n" \
    "  width INTEGER NOT NULL,\n" \
    "  height INTEGER NOT NULL,\n" \
    "  bands INTEGER NOT NULL,\n" \
    "  crs_wkt TEXT,\n" \
    "  gt0 REAL, gt1 REAL, gt2 REAL, gt3 REAL, gt4 REAL, gt5 REAL,\n" \
    "  checksum TEXT,\n" \
    "  tile_size INTEGER,\n" \
    "  overlap INTEGER,\n" \
    "  tile_count INTEGER,\n" \
    "  complete INTEGER NOT NULL DEFAULT 0,\n" \
    "  indexed_at TEXT NOT NULL,\n" \
    "  writer TEXT,\n" \
    "  updated_at TEXT);\n" \
    "CREATE INDEX scenes_path ON scenes(path);\n" \
    "CREATE TABLE tiles (\n" \
    "  tile_id INTEGER PRIMARY KEY,\n" \
    "  scene_id INTEGER NOT NULL REFERENCES scenes(scene_id),\n" \
    "  x_off INTEGER NOT NULL,\n" \
    "  y_off INTEGER NOT NULL,\n" \
    "  width INTEGER NOT NULL,\n" \
    "  height INTEGER NOT NULL,\n" \
    "  code BLOB NOT NULL);\n" \
    "CREATE INDEX tiles_scene ON tiles(scene_id);\n" \
    CODE_LEN_INDEX_SQL

static int set_msg(duch_archive *a, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int query_int64(duch_archive *a, const char *sql, int64_t *out);
static void need_spatialite(duch_archive *a);

static int set_msg(duch_archive *a, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    duch_vsnprintf(a->msg, sizeof a->msg, fmt, ap); /* never cut inside a character */
    va_end(ap);
    if (a->pg)
        pga_set_msg(a->pg, a->msg); /* duch_archive_errmsg reads the PostGIS handle's */
    return rc;
}

static int sql_fail(duch_archive *a, const char *what)
{
    int ec = sqlite3_errcode(a->db);
    int rc = DUCH_IO;
    if (ec == SQLITE_NOMEM)
        rc = DUCH_NOMEM;
    else if (ec == SQLITE_CORRUPT || ec == SQLITE_NOTADB)
        rc = DUCH_CORRUPT;
    else if (ec == SQLITE_READONLY)
        rc = DUCH_READONLY;
    return set_msg(a, rc, "%s: %s: %s", a->path, what, sqlite3_errmsg(a->db));
}

static int exec(duch_archive *a, const char *sql, const char *what)
{
    if (sqlite3_exec(a->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(a, what);
    return DUCH_OK;
}

int duch_archive_is_pg(const char *name)
{
    return name && !strncasecmp(name, "PG:", 3);
}

const char *duch_archive_errmsg(const duch_archive *a)
{
    if (a && a->pg)
        return pga_errmsg(a->pg);
    if (!a)
        return "out of memory";
    return a->msg[0] ? a->msg : "no error";
}

const char *duch_archive_path(const duch_archive *a) { return a ? a->path : NULL; }

/* directory part of path (malloc'ed) */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    char *d = strndup(path, (size_t)(slash - path));
    return d;
}

/* 1 when the file or folder has at least one write permission bit (or cannot be
 * stat'ed: let the open report that). */
static int has_write_bit(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 1;
    return (sb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) != 0;
}

int duch_archive_check_creatable(const char *path, char *err, size_t errlen)
{
    if (duch_archive_is_pg(path))
        return DUCH_OK; /* the server says at the first write */
    char *dir = path ? dir_of(path) : NULL;
    struct stat sb;
    int rc = DUCH_OK;
    if (!dir) {
        duch_snprintf(err, errlen, "%s", path ? "out of memory" : "no archive path given");
        return path ? DUCH_NOMEM : DUCH_INVALID;
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        duch_snprintf(err, errlen, "%s: cannot create the archive: folder %s does not exist", path, dir);
        rc = DUCH_NOTFOUND;
    } else if (access(dir, W_OK) != 0 || !has_write_bit(dir)) {
        duch_snprintf(err, errlen, "%s: cannot create the archive: folder %s is not writable", path, dir);
        rc = DUCH_READONLY;
    }
    free(dir);
    return rc;
}

/* number of tables in the file; -1 with the SQLite error on failure */
static int count_tables(duch_archive *a)
{
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_prepare_v2(a->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* 1 when the schema holds an object of that type ('table', 'index') and name */
static int schema_has(duch_archive *a, const char *type, const char *name)
{
    return duch_db_has_object(a->db, type, name);
}

static int table_exists(duch_archive *a, const char *name) { return schema_has(a, "table", name); }

static int create_schema(duch_archive *a)
{
    int rc;
    /* 64 KiB pages: the first query of a connection reads the packed code blocks in
     * 64 KiB reads instead of 4 KiB ones (80 MB of codes: ~1 200 reads, not 20 000).
     * Only an empty file takes it; an existing one keeps its page size. */
    if ((rc = exec(a, "PRAGMA page_size=65536", "setting the page size")))
        return rc;
    if ((rc = exec(a, "PRAGMA journal_mode=WAL", "setting WAL mode")))
        return rc;
    if ((rc = exec(a, "BEGIN IMMEDIATE", "starting the schema transaction")))
        return rc;
    /* Another process may have created the schema while we waited for the lock. */
    int ntables = count_tables(a);
    if (ntables != 0) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return ntables < 0 ? sql_fail(a, "reading") : DUCH_EXISTS;
    }
    /* SpatiaLite metadata (EPSG:4326 and its relatives only), then our tables */
    if ((rc = exec(a, "SELECT InitSpatialMetaData(0, 'WGS84_ONLY')", "InitSpatialMetaData")) ||
        (rc = exec(a, SCHEMA_SQL, "creating the archive tables")) ||
        (rc = exec(a,
                   "SELECT AddGeometryColumn('scenes', 'footprint', 4326, 'POLYGON', 'XY');"
                   "SELECT AddGeometryColumn('tiles', 'footprint', 4326, 'POLYGON', 'XY');"
                   "SELECT CreateSpatialIndex('scenes', 'footprint');"
                   "SELECT CreateSpatialIndex('tiles', 'footprint');",
                   "adding the footprint columns")))
        goto fail;
    if (!table_exists(a, "idx_tiles_footprint") || !table_exists(a, "geometry_columns")) {
        rc = set_msg(a, DUCH_ERROR, "%s: SpatiaLite did not create the footprint columns", a->path);
        goto fail;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO duch_metadata(key, value) VALUES"
             " ('schema_version', '%d'),"
             " ('created_by', 'duch " PACKAGE_VERSION "'),"
             " ('created_at', strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now'))",
             DUCH_ARCHIVE_SCHEMA_VERSION);
    if ((rc = exec(a, sql, "writing the metadata")))
        goto fail;
    char berr[512];
    if ((rc = duch_blocks_install(a->db, berr, sizeof berr))) {
        set_msg(a, rc, "%s: %s", a->path, berr);
        goto fail;
    }
    if ((rc = exec(a, "UPDATE duch_blocks_version SET blocks = tiles", "creating the code blocks")))
        goto fail;
    if ((rc = exec(a, "COMMIT", "committing the schema")))
        goto fail;
    return DUCH_OK;
fail:
    sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* read the stored model's bits into a->bits */
static int load_bits(duch_archive *a)
{
    sqlite3_stmt *st = NULL;
    a->bits = 0;
    if (sqlite3_prepare_v2(a->db, "SELECT bits FROM duch_model LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "reading duch_model");
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        a->bits = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return sql_fail(a, "reading duch_model");
    return DUCH_OK;
}

static int check_archive(duch_archive *a, int flags)
{
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(a->db,
                               "SELECT value FROM duch_metadata WHERE key = 'schema_version'",
                               -1, &st, NULL);
    if (r != SQLITE_OK) {
        int ec = sqlite3_errcode(a->db);
        if (ec == SQLITE_NOTADB)
            return set_msg(a, DUCH_INVALID, "%s is not a duch archive (not an SQLite database)",
                           a->path);
        if (ec == SQLITE_CORRUPT)
            return sql_fail(a, "reading");
        if (ec == SQLITE_CANTOPEN || ec == SQLITE_IOERR || ec == SQLITE_BUSY)
            return sql_fail(a, "opening");
        int ntables = count_tables(a);
        if (ntables < 0)
            return sql_fail(a, "reading");
        if (ntables == 0 && (flags & DUCH_ARCHIVE_CREATE)) {
            int crc = create_schema(a);
            if (crc != DUCH_EXISTS)
                return crc;
            /* created by another process meanwhile: check what it made */
            return check_archive(a, flags & ~DUCH_ARCHIVE_CREATE);
        }
        return set_msg(a, DUCH_INVALID,
                       "%s is not a duch archive (an SQLite database without a duch_metadata table)",
                       a->path);
    }
    r = sqlite3_step(st);
    long version = -1;
    if (r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        char *end;
        errno = 0;
        version = v ? strtol(v, &end, 10) : -1;
        if (!v || end == v || *end || errno)
            version = -1;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return sql_fail(a, "reading duch_metadata");
    if (version < 1)
        return set_msg(a, DUCH_CORRUPT,
                       "%s: damaged duch archive (no valid schema_version in duch_metadata)", a->path);
    if (version > DUCH_ARCHIVE_SCHEMA_VERSION)
        return set_msg(a, DUCH_VERSION,
                       "%s has archive schema version %ld, newer than this duch (" PACKAGE_VERSION
                       ") reads (%d): upgrade duch",
                       a->path, version, DUCH_ARCHIVE_SCHEMA_VERSION);
    if (!table_exists(a, "tiles") || !table_exists(a, "scenes") || !table_exists(a, "duch_model"))
        return set_msg(a, DUCH_CORRUPT, "%s: damaged duch archive (tables missing)", a->path);
    a->version = (int)version;
    return load_bits(a);
}

static int column_exists(duch_archive *a, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    char *sql = sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q) WHERE name = %Q", table, column);
    if (sql && sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) == SQLITE_OK)
        found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return found;
}

/* ---------------------------------------------------------------- writers
 *
 * A scene that is being written carries its writer's token in scenes.writer until its
 * last chunk commits (or the writer stops cleanly and releases it). The token names the
 * process: "host boot-id pid start-time". Another writer that finds the token decides
 * whether that process still runs: on the same host and boot it asks the kernel (the pid
 * exists and started at that time); on another host it trusts scenes.updated_at, which
 * every chunk commit refreshes, for STALE_WRITER_S seconds. */
#define STALE_WRITER_S 900

/* start time of process pid in clock ticks since boot (field 22 of /proc/PID/stat), 0
 * when unknown */
static unsigned long long proc_start(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    unsigned long long v = 0;
    /* after ") ": field 3 (state) ... field 22 (starttime) */
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (field == 22)
        v = strtoull(p, NULL, 10);
    return v;
}

static void boot_id(char *out, size_t n)
{
    snprintf(out, n, "-");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return;
    char b[64];
    if (fgets(b, sizeof b, f)) {
        b[strcspn(b, "\r\n")] = 0;
        if (*b)
            snprintf(out, n, "%.36s", b);
    }
    fclose(f);
}

void duch_writer_token(char *out, size_t n)
{
    char host[128] = "localhost", boot[40];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *p = host; *p; p++)
        if (*p == ' ')
            *p = '_';
    boot_id(boot, sizeof boot);
    long pid = (long)getpid();
    snprintf(out, n, "%s %s %ld %llu", host, boot, pid, proc_start(pid));
}

/* 1 when the writer of token may still be running (stale: updated_at is older than
 * STALE_WRITER_S). */
static int writer_alive(const char *token, int stale)
{
    char host[128], boot[40], myhost[128] = "", myboot[40];
    long pid;
    unsigned long long start;
    if (!token || sscanf(token, "%127s %39s %ld %llu", host, boot, &pid, &start) != 4)
        return !stale; /* not ours to interpret */
    if (gethostname(myhost, sizeof myhost) != 0)
        snprintf(myhost, sizeof myhost, "localhost");
    myhost[sizeof myhost - 1] = 0;
    for (char *p = myhost; *p; p++)
        if (*p == ' ')
            *p = '_';
    if (strcmp(host, myhost) != 0)
        return !stale;
    boot_id(myboot, sizeof myboot);
    if (strcmp(boot, myboot) != 0)
        return 0; /* the host rebooted since */
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 0;
    return proc_start(pid) == start;
}

/* 1 when the file is in WAL mode already (switching needs an exclusive lock) */
static int is_wal(duch_archive *a)
{
    sqlite3_stmt *st = NULL;
    int wal = 0;
    if (sqlite3_prepare_v2(a->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(st, 0);
        wal = m && !sqlite3_stricmp(m, "wal");
    }
    sqlite3_finalize(st);
    return wal;
}

static void need_spatialite(duch_archive *a)
{
    if (!a->splite)
        a->splite = spatialite_alloc_connection(); /* ~30 ms: GEOS, PROJ, ... */
    if (!a->splite_on && a->db && a->splite) {
        spatialite_init_ex(a->db, a->splite, 0);
        a->splite_on = 1;
    }
}

static int open_db(duch_archive *a, const char *uri_or_path, int oflags)
{
    if (a->db) {
        sqlite3_close(a->db);
        a->db = NULL;
    }
    int r = sqlite3_open_v2(uri_or_path, &a->db, oflags, NULL);
    if (r != SQLITE_OK) {
        int rc = r == SQLITE_NOMEM ? DUCH_NOMEM : DUCH_IO;
        return set_msg(a, rc, "%s: cannot open: %s", a->path,
                       a->db ? sqlite3_errmsg(a->db) : sqlite3_errstr(r));
    }
    sqlite3_extended_result_codes(a->db, 0);
    sqlite3_busy_timeout(a->db, 10000);
    a->splite_on = 0;
    /* A writer needs SpatiaLite's SQL functions (the spatial index triggers call them);
     * a reader only where it asks for them (need_spatialite): registering them costs
     * more than a whole search. */
    if (!(oflags & SQLITE_OPEN_READONLY))
        need_spatialite(a);
    return DUCH_OK;
}

/* Schema 1 -> 2: the packed code blocks, written from the rows (one pass over the
 * tiles), in one transaction: an interrupted upgrade leaves a version-1 archive. */
static int upgrade_to_v2(duch_archive *a)
{
    int rc = exec(a, "BEGIN IMMEDIATE", "upgrading the archive to schema 2");
    if (rc)
        return rc;
    char berr[512];
    int64_t n = 0;
    if ((rc = duch_blocks_rebuild(a->db, NULL, NULL, &n, berr, sizeof berr))) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return set_msg(a, rc, "%s: upgrading the archive to schema 2: %s", a->path, berr);
    }
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE duch_metadata SET value = '%d' WHERE key = 'schema_version'",
             DUCH_ARCHIVE_SCHEMA_VERSION);
    if ((rc = exec(a, sql, "upgrading the archive to schema 2")) ||
        (rc = exec(a, "COMMIT", "upgrading the archive to schema 2"))) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    a->version = DUCH_ARCHIVE_SCHEMA_VERSION;
    return DUCH_OK;
}

/* "file:" URI of a path for sqlite3_open_v2(SQLITE_OPEN_URI), with ?immutable=1.
 * sqlite3_free() it; NULL when out of memory. */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *esc = sqlite3_malloc64(3 * (sqlite3_uint64)n + 1);
    if (!esc)
        return NULL;
    char *e = esc;
    for (const char *p = path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#') {
            static const char hex[] = "0123456789ABCDEF";
            *e++ = '%';
            *e++ = hex[(unsigned char)*p >> 4];
            *e++ = hex[(unsigned char)*p & 15];
        } else {
            *e++ = *p;
        }
    }
    *e = 0;
    /* "file:///abs" (empty authority), "file:rel" */
    char *uri = sqlite3_mprintf("file:%s%s?immutable=1", path[0] == '/' ? "//" : "", esc);
    sqlite3_free(esc);
    return uri;
}

int duch_archive_identify(const char *path)
{
    if (duch_archive_is_pg(path))
        return 0; /* not a file: the GDAL driver takes DUCH:PG:... by its prefix */
    struct stat sb;
    if (!path || !*path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    /* With a -wal file someone may be writing: a normal read-only connection (the -wal
     * and -shm files exist already). Without one the main file is complete and nobody
     * is writing it: read it as immutable, which takes no lock and creates no file
     * (a read-only connection to a WAL database would leave -wal and -shm behind). */
    char *wal = sqlite3_mprintf("%s-wal", path);
    if (!wal)
        return -1;
    int has_wal = stat(wal, &sb) == 0;
    sqlite3_free(wal);
    char *uri = has_wal ? NULL : immutable_uri(path);
    if (!has_wal && !uri)
        return -1;
    sqlite3 *db = NULL;
    int r = sqlite3_open_v2(has_wal ? path : uri, &db,
                            SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | (has_wal ? 0 : SQLITE_OPEN_URI),
                            NULL);
    sqlite3_free(uri);
    int yes = 0;
    if (r == SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        yes = duch_db_has_object(db, "table", "duch_metadata");
    }
    sqlite3_close(db);
    return yes;
}

int duch_archive_open(const char *path, int flags, duch_archive **out)
{
    if (!out)
        return DUCH_INVALID;
    duch_archive *a = calloc(1, sizeof *a);
    *out = a;
    if (!a)
        return DUCH_NOMEM;
    if (!path || !*path) {
        a->path = strdup("");
        return set_msg(a, DUCH_INVALID, "no archive path given");
    }
    a->path = strdup(path);
    if (!a->path)
        return set_msg(a, DUCH_NOMEM, "out of memory");
    int ro = (flags & DUCH_ARCHIVE_READONLY) != 0, rw = (flags & DUCH_ARCHIVE_READWRITE) != 0;
    if (ro == rw || (ro && (flags & DUCH_ARCHIVE_CREATE)) ||
        (flags & ~(DUCH_ARCHIVE_READONLY | DUCH_ARCHIVE_READWRITE | DUCH_ARCHIVE_CREATE)))
        return set_msg(a, DUCH_INVALID,
                       "duch_archive_open: flags must be READONLY, READWRITE or READWRITE|CREATE");
    a->readonly = ro;
    if (duch_archive_is_pg(path)) {
        int prc = pga_open(path, flags, &a->pg);
        if (!a->pg)
            return set_msg(a, DUCH_NOMEM, "out of memory");
        char *shown = strdup(pga_name(a->pg)); /* the password masked */
        if (shown) {
            free(a->path);
            a->path = shown;
        }
        return prc;
    }

    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (!exists && !(flags & DUCH_ARCHIVE_CREATE))
        return set_msg(a, DUCH_NOTFOUND, "%s: no such archive (%s)", path, strerror(errno));
    if (exists && S_ISDIR(sb.st_mode))
        return set_msg(a, DUCH_INVALID, "%s is a directory, not a duch archive", path);
    char *dir = dir_of(path);
    if (!dir)
        return set_msg(a, DUCH_NOMEM, "out of memory");
    /* access() says yes to root whatever the mode bits: a file or folder without any
     * write bit is read-only here too (chmod 444 means "do not write", also in a
     * container that runs as root). */
    int dir_writable = access(dir, W_OK) == 0 && has_write_bit(dir);
    if (rw) {
        if (exists && (access(path, W_OK) != 0 || !has_write_bit(path))) {
            const char *why = access(path, W_OK) != 0 ? strerror(errno) : "no write permission bit";
            free(dir);
            return set_msg(a, DUCH_READONLY,
                           "%s: cannot open for writing: the file is read-only (%s)", path, why);
        }
        if (!dir_writable) {
            int rc = set_msg(a, DUCH_READONLY,
                             "%s: cannot open for writing: directory %s is not writable "
                             "(SQLite needs to create its -wal file there)", path, dir);
            free(dir);
            return rc;
        }
    }
    free(dir);

    int oflags = ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (flags & DUCH_ARCHIVE_CREATE)
        oflags |= SQLITE_OPEN_CREATE;
    int rc = open_db(a, path, oflags | SQLITE_OPEN_NOMUTEX);
    if (rc)
        return rc;
    if (rw && sqlite3_db_readonly(a->db, "main") == 1)
        return set_msg(a, DUCH_READONLY, "%s: cannot open for writing: the file is read-only", path);
    rc = check_archive(a, flags);
    if (rc && rc != DUCH_VERSION && ro && !dir_writable) {
        /* a WAL file in a read-only directory: SQLite cannot create the -shm file.
         * Nobody can be writing it then, so read it as immutable. */
        char *uri = immutable_uri(path);
        if (!uri)
            return set_msg(a, DUCH_NOMEM, "out of memory");
        a->msg[0] = 0;
        rc = open_db(a, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
        sqlite3_free(uri);
        if (!rc)
            rc = check_archive(a, flags);
    }
    if (rc)
        return rc;
    if (rw && !is_wal(a) && (rc = exec(a, "PRAGMA journal_mode=WAL", "setting WAL mode")))
        return rc;
    a->has_writer = column_exists(a, "scenes", "writer");
    if (rw && (!a->has_writer || !schema_has(a, "index", "tiles_code_len"))) {
        /* An archive of an earlier duch: add the columns that chunked, resumable scene
         * writing needs and the code length index (older readers ignore both; the index
         * costs one pass over the tiles, about 1.4 s per million, once). */
        if ((rc = exec(a, "BEGIN IMMEDIATE", "upgrading the archive")))
            return rc;
        if (!column_exists(a, "scenes", "writer") &&
            (rc = exec(a, "ALTER TABLE scenes ADD COLUMN writer TEXT;"
                          "ALTER TABLE scenes ADD COLUMN updated_at TEXT;",
                       "upgrading the scenes table"))) {
            sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if ((rc = exec(a, CODE_LEN_INDEX_SQL, "indexing the code lengths"))) {
            sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if ((rc = exec(a, "COMMIT", "upgrading the archive"))) {
            sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        a->has_writer = 1;
    }
    if (rw && a->version < DUCH_ARCHIVE_SCHEMA_VERSION && (rc = upgrade_to_v2(a)))
        return rc;
    if (rw)
        duch_writer_token(a->token, sizeof a->token);
    a->msg[0] = 0;
    return DUCH_OK;
}

void duch_archive_close(duch_archive *a)
{
    if (!a)
        return;
    pga_close(a->pg);
    sqlite3_finalize(a->ins_tile);
    duch_engine_free(a->engine);
    free(a->chunk_ids);
    free(a->chunk_codes);
    free(a->chunk_boxes);
    if (a->db) {
        if (a->scene_id)
            sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(a->db);
    }
    if (a->splite)
        spatialite_cleanup_ex(a->splite);
    free(a->path);
    duch_stored_model_clear(&a->model);
    free(a->meta_value);
    free(a);
}

static int check_writable(duch_archive *a, const char *what)
{
    if (!a->db && !a->pg)
        return set_msg(a, DUCH_INVALID, "%s: the archive is not open", what);
    if (a->readonly)
        return set_msg(a, DUCH_READONLY, "%s: %s was opened read-only", what, a->path);
    return DUCH_OK;
}

/* ---------------------------------------------------------------- model */


int duch_archive_set_model(duch_archive *a, const void *blob, size_t size, const char *id,
                           int bits)
{
    if (!a)
        return DUCH_INVALID;
    int rc = check_writable(a, "set_model");
    if (rc)
        return rc;
    if (!blob || !size || !id || !*id)
        return set_msg(a, DUCH_INVALID, "set_model: a model blob and id are required");
    if (!duch_code_bits_valid(bits))
        return set_msg(a, DUCH_INVALID,
                       "set_model: %d bits is not a supported code length (multiple of 8, %d..%d)",
                       bits, DUCH_CODE_MIN_BITS, DUCH_CODE_MAX_BITS);
    if (a->pg)
        return pga_set_model(a->pg, blob, size, id, bits);
    if (a->scene_id)
        return set_msg(a, DUCH_INVALID, "set_model: a scene is being written");
    if ((rc = exec(a, "BEGIN IMMEDIATE", "set_model")))
        return rc;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db, "SELECT model_id FROM duch_model", -1, &st, NULL) != SQLITE_OK) {
        rc = sql_fail(a, "set_model");
        goto finish;
    }
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        const char *have = (const char *)sqlite3_column_text(st, 0);
        if (have && !strcmp(have, id))
            rc = DUCH_OK;
        else
            rc = set_msg(a, DUCH_MISMATCH,
                         "%s holds codes of model %s; model %s does not match (use another archive)",
                         a->path, have ? have : "(null)", id);
        goto finish;
    }
    if (r != SQLITE_DONE) {
        rc = sql_fail(a, "set_model");
        goto finish;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "INSERT INTO duch_model(model_id, bits, size, data, stored_at)"
                           " VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sql_fail(a, "set_model");
        goto finish;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, bits);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)size);
    sqlite3_bind_blob64(st, 4, blob, size, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = sql_fail(a, "storing the model");
        goto finish;
    }
    rc = DUCH_OK;
finish:
    sqlite3_finalize(st);
    if (rc == DUCH_OK) {
        if ((rc = exec(a, "COMMIT", "set_model")) == DUCH_OK)
            a->bits = bits;
    }
    if (rc)
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int duch_archive_get_model(duch_archive *a, const void **blob, size_t *size, const char **id,
                           int *bits)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_get_model(a->pg, blob, size, id, bits);
    if (!a->db)
        return set_msg(a, DUCH_INVALID, "get_model: the archive is not open");
    duch_stored_model_clear(&a->model);
    char why[600];
    int rc = duch_db_stored_model(a->db, blob || size, &a->model, why, sizeof why);
    if (rc == DUCH_NOTFOUND && duch_db_has_object(a->db, "table", "duch_model"))
        return set_msg(a, DUCH_NOTFOUND, "%s holds no model yet", a->path);
    if (rc)
        return set_msg(a, rc, "%s: %s", a->path, why);
    if (blob)
        *blob = a->model.data;
    if (size)
        *size = a->model.size;
    if (id)
        *id = a->model.id;
    if (bits)
        *bits = a->model.bits;
    return DUCH_OK;
}

int duch_archive_bits(duch_archive *a) { return !a ? 0 : a->pg ? pga_bits(a->pg) : a->bits; }

/* ---------------------------------------------------------------- geometry */

/* A SpatiaLite BLOB-Geometry POLYGON, SRID 4326, one ring (closed here). Returns a
 * sqlite3_malloc'ed buffer or NULL (invalid ring: *bad = 1; no memory: *bad = 0). */
/* A SpatiaLite POLYGON BLOB (EPSG:4326) of one ring, made by SpatiaLite
 * (gaiaToSpatiaLiteBlobWkb); free() it. NULL with *bad = 1 for a ring of fewer than 3
 * distinct finite points, with *bad = 0 when out of memory. */
static unsigned char *polygon_blob(const double *ring, int npoints, int *nbytes, int *bad)
{
    *bad = 1;
    int n = duch_ring_points(ring, npoints);
    if (!n)
        return NULL;
    *bad = 0;
    gaiaGeomCollPtr g = gaiaAllocGeomColl();
    if (!g)
        return NULL;
    g->Srid = 4326;
    g->DeclaredType = GAIA_POLYGON;
    gaiaPolygonPtr pg = gaiaAddPolygonToGeomColl(g, n, 0);
    for (int i = 0; i < n; i++) {
        int j = i < npoints ? i : 0;
        gaiaSetPoint(pg->Exterior->Coords, i, ring[2 * j], ring[2 * j + 1]);
    }
    gaiaMbrGeometry(g);
    unsigned char *blob = NULL;
    int size = 0;
    gaiaToSpatiaLiteBlobWkb(g, &blob, &size);
    gaiaFreeGeomColl(g);
    *nbytes = size;
    return blob;
}

/* The exterior ring of a SpatiaLite POLYGON BLOB as lon/lat pairs (malloc'ed, closed),
 * or NULL with *npoints 0 when the BLOB is not a polygon. */
static double *blob_ring(const void *blob, int size, int *npoints)
{
    *npoints = 0;
    if (!blob || size <= 0)
        return NULL;
    gaiaGeomCollPtr g = gaiaFromSpatiaLiteBlobWkb(blob, (unsigned int)size);
    if (!g)
        return NULL;
    double *out = NULL;
    gaiaPolygonPtr pg = g->FirstPolygon;
    if (pg && pg->Exterior && pg->Exterior->Points > 0) {
        gaiaRingPtr r = pg->Exterior;
        out = malloc((size_t)r->Points * 2 * sizeof *out);
        if (out) {
            for (int i = 0; i < r->Points; i++) {
                double x, y;
                if (r->DimensionModel == GAIA_XY_Z || r->DimensionModel == GAIA_XY_M) {
                    x = r->Coords[3 * i];
                    y = r->Coords[3 * i + 1];
                } else if (r->DimensionModel == GAIA_XY_Z_M) {
                    x = r->Coords[4 * i];
                    y = r->Coords[4 * i + 1];
                } else {
                    gaiaGetPoint(r->Coords, i, &x, &y);
                }
                out[2 * i] = x;
                out[2 * i + 1] = y;
            }
            *npoints = r->Points;
        }
    }
    gaiaFreeGeomColl(g);
    return out;
}

/* ---------------------------------------------------------------- scenes */

int duch_archive_find_scene(duch_archive *a, const char *path, const char *checksum,
                            int64_t *scene_id)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_find_scene(a->pg, path, checksum, scene_id);
    if (!a->db || !path || !scene_id)
        return set_msg(a, DUCH_INVALID, "find_scene: path and scene_id are required");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT scene_id FROM scenes WHERE path = ?1 AND complete = 1"
                           " AND (?2 IS NULL OR checksum = ?2) ORDER BY scene_id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "find_scene");
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    if (checksum)
        sqlite3_bind_text(st, 2, checksum, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        *scene_id = sqlite3_column_int64(st, 0);
        rc = DUCH_OK;
    } else if (r == SQLITE_DONE) {
        rc = set_msg(a, DUCH_NOTFOUND, "%s: scene %s is not in the archive", a->path, path);
    } else {
        rc = sql_fail(a, "find_scene");
    }
    sqlite3_finalize(st);
    return rc;
}

/* The state of the scene (path, checksum) as this connection sees it now. */
static int scene_lookup(duch_archive *a, const char *path, const char *checksum,
                        duch_scene_status *out)
{
    memset(out, 0, sizeof *out);
    out->state = DUCH_SCENE_ABSENT;
    sqlite3_stmt *st = NULL;
    /* a complete row wins; then the oldest incomplete one */
    const char *sql = a->has_writer
        ? "SELECT scene_id, complete, tile_size, overlap, writer,"
          " coalesce((julianday('now') - julianday(updated_at)) * 86400 > ?3, 1)"
          " FROM scenes WHERE path = ?1 AND checksum IS ?2"
          " ORDER BY complete DESC, scene_id LIMIT 1"
        : "SELECT scene_id, complete, tile_size, overlap, NULL, 1"
          " FROM scenes WHERE path = ?1 AND checksum IS ?2 AND ?3 IS NOT NULL"
          " ORDER BY complete DESC, scene_id LIMIT 1";
    if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "looking up the scene");
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    if (checksum)
        sqlite3_bind_text(st, 2, checksum, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, STALE_WRITER_S);
    int r = sqlite3_step(st), rc = DUCH_OK;
    if (r == SQLITE_ROW) {
        out->scene_id = sqlite3_column_int64(st, 0);
        int complete = sqlite3_column_int(st, 1);
        out->tile_size = sqlite3_column_int(st, 2);
        out->overlap = sqlite3_column_int(st, 3);
        const char *w = (const char *)sqlite3_column_text(st, 4);
        int stale = sqlite3_column_int(st, 5);
        if (w)
            snprintf(out->writer, sizeof out->writer, "%s", w);
        if (complete)
            out->state = DUCH_SCENE_COMPLETE;
        else if (w && writer_alive(w, stale))
            out->state = DUCH_SCENE_BUSY;
        else
            out->state = DUCH_SCENE_RESUMABLE;
    } else if (r != SQLITE_DONE) {
        rc = sql_fail(a, "looking up the scene");
    }
    sqlite3_finalize(st);
    if (rc || out->state == DUCH_SCENE_ABSENT)
        return rc;
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM tiles WHERE scene_id = %lld", (long long)out->scene_id);
    int64_t n = 0;
    if ((rc = query_int64(a, q, &n)))
        return rc;
    out->tiles = n;
    if (n > 0) {
        snprintf(q, sizeof q, "SELECT x_off, y_off FROM tiles WHERE scene_id = %lld"
                              " ORDER BY tile_id DESC LIMIT 1", (long long)out->scene_id);
        if (sqlite3_prepare_v2(a->db, q, -1, &st, NULL) != SQLITE_OK)
            return sql_fail(a, "looking up the scene");
        if (sqlite3_step(st) == SQLITE_ROW) {
            out->last_x_off = sqlite3_column_int(st, 0);
            out->last_y_off = sqlite3_column_int(st, 1);
        }
        sqlite3_finalize(st);
    }
    return DUCH_OK;
}

int duch_archive_scene_status(duch_archive *a, const char *path, const char *checksum,
                              duch_scene_status *out)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_scene_status(a->pg, path, checksum, out);
    if (!a->db || !path || !out)
        return set_msg(a, DUCH_INVALID, "scene_status: path and out are required");
    return scene_lookup(a, path, checksum, out);
}

/* The message of a scene that someone else has: set_msg'ed, DUCH_EXISTS. */
int duch_scene_taken_msg(char *msg, size_t n, const char *archive, const char *path,
                         const duch_scene_status *st)
{
    if (st->state == DUCH_SCENE_COMPLETE)
        duch_snprintf(msg, n, "%s is already indexed in %s (scene %lld)", path, archive,
                      (long long)st->scene_id);
    else if (st->state == DUCH_SCENE_BUSY)
        duch_snprintf(msg, n, "%s is being indexed into %s by another writer (%s)", path, archive,
                      st->writer);
    else
        duch_snprintf(msg, n, "%s: scene %lld changed while it was prepared (%lld tiles stored); "
                      "run again", path, (long long)st->scene_id, (long long)st->tiles);
    return DUCH_EXISTS;
}

static int scene_taken(duch_archive *a, const char *path, const duch_scene_status *st)
{
    return duch_scene_taken_msg(a->msg, sizeof a->msg, a->path, path, st);
}

/* A chunk's write transaction began: note whether the code blocks hold every tile now
 * (then this chunk's block keeps them so) and empty the chunk's tile buffer. */
static void chunk_begin(duch_archive *a)
{
    a->blocks_current = duch_blocks_is_current(a->db, NULL, 0);
    a->chunk_n = 0;
}

static int chunk_add(duch_archive *a, int64_t id, const unsigned char *code, const double *ring,
                     int npoints)
{
    size_t nbytes = (size_t)a->bits / 8;
    if (a->chunk_n == a->chunk_cap) {
        size_t cap = a->chunk_cap ? a->chunk_cap * 2 : 1024;
        int64_t *ids = realloc(a->chunk_ids, cap * sizeof *ids);
        if (ids)
            a->chunk_ids = ids;
        unsigned char *codes = realloc(a->chunk_codes, cap * (DUCH_CODE_MAX_BITS / 8));
        if (codes)
            a->chunk_codes = codes;
        double *boxes = realloc(a->chunk_boxes, cap * 4 * sizeof *boxes);
        if (boxes)
            a->chunk_boxes = boxes;
        if (!ids || !codes || !boxes)
            return set_msg(a, DUCH_NOMEM, "out of memory");
        a->chunk_cap = cap;
    }
    size_t i = a->chunk_n++;
    a->chunk_ids[i] = id;
    memcpy(a->chunk_codes + i * nbytes, code, nbytes);
    double *b = a->chunk_boxes + 4 * i;
    b[0] = b[1] = b[2] = b[3] = NAN;
    for (int j = 0; ring && j < npoints; j++) {
        double x = ring[2 * j], y = ring[2 * j + 1];
        if (j == 0 || x < b[0]) b[0] = x;
        if (j == 0 || y < b[1]) b[1] = y;
        if (j == 0 || x > b[2]) b[2] = x;
        if (j == 0 || y > b[3]) b[3] = y;
    }
    return DUCH_OK;
}

/* BEGIN IMMEDIATE, with a clear message when another process holds the lock too long. */
static int begin_write(duch_archive *a, const char *what)
{
    if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
        return DUCH_OK;
    if (sqlite3_errcode(a->db) == SQLITE_BUSY)
        return set_msg(a, DUCH_IO, "%s: another process is writing the archive (database is locked)",
                       a->path);
    return sql_fail(a, what);
}

static int begin_checks(duch_archive *a, const char *what)
{
    int rc = check_writable(a, what);
    if (rc)
        return rc;
    if (a->scene_id)
        return set_msg(a, DUCH_INVALID, "%s: scene %lld is still open (commit or roll it back first)",
                       what, (long long)a->scene_id);
    if ((rc = load_bits(a)))
        return rc;
    if (!a->bits)
        return set_msg(a, DUCH_INVALID,
                       "%s: %s holds no model yet (store it with set_model first)", what, a->path);
    return DUCH_OK;
}

int duch_archive_begin_scene(duch_archive *a, const duch_scene_record *s, int64_t *scene_id)
{
    if (!a)
        return DUCH_INVALID;
    if (!s || !s->path || !*s->path || !scene_id)
        return set_msg(a, DUCH_INVALID, "begin_scene: a scene record with a path is required");
    if (s->width <= 0 || s->height <= 0 || s->bands <= 0)
        return set_msg(a, DUCH_INVALID, "begin_scene: %s: bad raster size %dx%dx%d", s->path,
                       s->width, s->height, s->bands);
    if (s->footprint_npoints && !duch_ring_points(s->footprint, s->footprint_npoints))
        return set_msg(a, DUCH_INVALID,
                       "begin_scene: %s: footprint needs at least 3 distinct finite points", s->path);
    if (a->pg)
        return pga_begin_scene(a->pg, s, scene_id);
    int rc = begin_checks(a, "begin_scene");
    if (rc)
        return rc;
    unsigned char *fp = NULL;
    int fplen = 0, bad = 0;
    if (s->footprint && s->footprint_npoints) {
        fp = polygon_blob(s->footprint, s->footprint_npoints, &fplen, &bad);
        if (!fp)
            return bad ? set_msg(a, DUCH_INVALID,
                                 "begin_scene: %s: footprint needs at least 3 distinct finite points",
                                 s->path)
                       : set_msg(a, DUCH_NOMEM, "out of memory");
    }
    if ((rc = begin_write(a, "begin_scene"))) {
        free(fp);
        return rc;
    }
    /* The "already indexed" rule, checked under the write lock: whatever else writes at
     * the same time, a scene (path and checksum) is stored once. */
    duch_scene_status have;
    sqlite3_stmt *st = NULL;
    if ((rc = scene_lookup(a, s->path, s->checksum, &have)))
        goto finish;
    if (have.state != DUCH_SCENE_ABSENT) {
        rc = scene_taken(a, s->path, &have);
        goto finish;
    }
    if (sqlite3_prepare_v2(a->db,
                           "INSERT INTO scenes(path, width, height, bands, crs_wkt, gt0, gt1, gt2,"
                           " gt3, gt4, gt5, checksum, tile_size, overlap, complete, indexed_at,"
                           " footprint, writer, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,"
                           " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?,"
                           " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sql_fail(a, "begin_scene");
        goto finish;
    }
    sqlite3_bind_text(st, 1, s->path, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, s->width);
    sqlite3_bind_int(st, 3, s->height);
    sqlite3_bind_int(st, 4, s->bands);
    if (s->crs_wkt)
        sqlite3_bind_text(st, 5, s->crs_wkt, -1, SQLITE_STATIC);
    for (int i = 0; i < 6; i++)
        sqlite3_bind_double(st, 6 + i, s->geotransform[i]);
    if (s->checksum)
        sqlite3_bind_text(st, 12, s->checksum, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 13, s->tile_size);
    sqlite3_bind_int(st, 14, s->overlap);
    if (fp)
        sqlite3_bind_blob(st, 15, fp, fplen, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, a->token, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = sql_fail(a, "inserting the scene");
        goto finish;
    }
    a->scene_id = sqlite3_last_insert_rowid(a->db);
    *scene_id = a->scene_id;
    chunk_begin(a);
    rc = DUCH_OK;
finish:
    sqlite3_finalize(st);
    free(fp);
    if (rc)
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int duch_archive_resume_scene(duch_archive *a, const char *path, const char *checksum,
                              const duch_scene_status *expect)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_resume_scene(a->pg, path, checksum, expect);
    int rc = begin_checks(a, "resume_scene");
    if (rc)
        return rc;
    if (!path || !expect || expect->state != DUCH_SCENE_RESUMABLE)
        return set_msg(a, DUCH_INVALID, "resume_scene: a resumable scene status is required");
    if ((rc = begin_write(a, "resume_scene")))
        return rc;
    duch_scene_status have;
    if ((rc = scene_lookup(a, path, checksum, &have)))
        goto finish;
    if (have.state != DUCH_SCENE_RESUMABLE || have.scene_id != expect->scene_id ||
        have.tiles != expect->tiles) {
        rc = scene_taken(a, path, &have);
        goto finish;
    }
    char *sql = sqlite3_mprintf("UPDATE scenes SET writer = %Q,"
                                " updated_at = strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now')"
                                " WHERE scene_id = %lld", a->token, (long long)have.scene_id);
    rc = sql ? exec(a, sql, "resume_scene") : set_msg(a, DUCH_NOMEM, "out of memory");
    sqlite3_free(sql);
    if (!rc) {
        a->scene_id = have.scene_id;
        chunk_begin(a);
    }
finish:
    if (rc)
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* 1 when this handle's token is the writer of an incomplete scene_id (in the open
 * transaction); else sets the message and returns 0 */
static int own_scene(duch_archive *a, int64_t scene_id)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(a->db, "SELECT writer IS ?2 AND complete = 0 FROM scenes WHERE scene_id = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, scene_id);
        sqlite3_bind_text(st, 2, a->token, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    }
    sqlite3_finalize(st);
    if (!ok)
        set_msg(a, DUCH_EXISTS,
                "%s: scene %lld is no longer this writer's (deleted, completed or taken over "
                "by another writer)", a->path, (long long)scene_id);
    return ok;
}

int duch_archive_continue_scene(duch_archive *a, int64_t scene_id)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_continue_scene(a->pg, scene_id);
    int rc = begin_checks(a, "continue_scene");
    if (rc)
        return rc;
    if ((rc = begin_write(a, "continue_scene")))
        return rc;
    if (!own_scene(a, scene_id)) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return DUCH_EXISTS;
    }
    a->scene_id = scene_id;
    chunk_begin(a);
    return DUCH_OK;
}

int duch_archive_add_tile(duch_archive *a, int64_t scene_id, int x_off, int y_off, int width,
                          int height, const unsigned char *code, const double *ring, int npoints,
                          int64_t *tile_id)
{
    if (!a)
        return DUCH_INVALID;
    int rc = check_writable(a, "add_tile");
    if (rc)
        return rc;
    if (!code)
        return set_msg(a, DUCH_INVALID, "add_tile: no code");
    if (width <= 0 || height <= 0 || x_off < 0 || y_off < 0)
        return set_msg(a, DUCH_INVALID, "add_tile: bad window %d,%d %dx%d", x_off, y_off, width,
                       height);
    /* No ring at all (a scene indexed with --allow-pixel): a NULL footprint. */
    if ((ring || npoints != 0) && !duch_ring_points(ring, npoints))
        return set_msg(a, DUCH_INVALID,
                       "add_tile: footprint needs at least 3 distinct finite lon/lat points");
    if (a->pg)
        return pga_add_tile(a->pg, scene_id, x_off, y_off, width, height, code, ring, npoints, tile_id);
    if (!a->scene_id || scene_id != a->scene_id)
        return set_msg(a, DUCH_INVALID, "add_tile: scene %lld is not the open scene",
                       (long long)scene_id);
    int fplen = 0, bad = 0;
    unsigned char *fp = !ring && npoints == 0 ? NULL : polygon_blob(ring, npoints, &fplen, &bad);
    if (!fp && (ring || npoints != 0))
        return set_msg(a, DUCH_NOMEM, "out of memory");
    if (!a->ins_tile &&
        sqlite3_prepare_v2(a->db,
                           "INSERT INTO tiles(scene_id, x_off, y_off, width, height, code, footprint)"
                           " VALUES (?,?,?,?,?,?,?)",
                           -1, &a->ins_tile, NULL) != SQLITE_OK) {
        free(fp);
        return sql_fail(a, "add_tile");
    }
    sqlite3_stmt *st = a->ins_tile;
    sqlite3_bind_int64(st, 1, scene_id);
    sqlite3_bind_int(st, 2, x_off);
    sqlite3_bind_int(st, 3, y_off);
    sqlite3_bind_int(st, 4, width);
    sqlite3_bind_int(st, 5, height);
    sqlite3_bind_blob(st, 6, code, a->bits / 8, SQLITE_STATIC);
    if (fp)
        sqlite3_bind_blob(st, 7, fp, fplen, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    int r = sqlite3_step(st);
    rc = r == SQLITE_DONE ? DUCH_OK : sql_fail(a, "inserting a tile");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(fp);
    if (rc == DUCH_OK) {
        int64_t id = sqlite3_last_insert_rowid(a->db);
        if (tile_id)
            *tile_id = id;
        rc = chunk_add(a, id, code, ring, npoints);
    }
    return rc;
}

int duch_archive_commit_chunk(duch_archive *a, int last)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_commit_chunk(a->pg, last);
    if (!a->scene_id)
        return set_msg(a, DUCH_INVALID, "commit_chunk: no scene is open");
    char sql[400];
    if (last)
        snprintf(sql, sizeof sql,
                 "UPDATE scenes SET complete = 1, writer = NULL,"
                 " tile_count = (SELECT count(*) FROM tiles WHERE scene_id = %lld),"
                 " updated_at = strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now') WHERE scene_id = %lld",
                 (long long)a->scene_id, (long long)a->scene_id);
    else
        snprintf(sql, sizeof sql,
                 "UPDATE scenes SET updated_at = strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now')"
                 " WHERE scene_id = %lld", (long long)a->scene_id);
    int rc = exec(a, sql, "commit_chunk");
    char berr[512];
    if (!rc && (rc = duch_blocks_append(a->db, a->blocks_current, a->chunk_ids, a->chunk_codes,
                                        a->chunk_boxes, a->chunk_n, (size_t)a->bits / 8, berr,
                                        sizeof berr)))
        set_msg(a, rc, "%s: commit_chunk: %s", a->path, berr);
    a->chunk_n = 0;
    if (!rc)
        rc = exec(a, "COMMIT", "commit_chunk");
    if (rc)
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    a->scene_id = 0;
    return rc;
}

int duch_archive_commit_scene(duch_archive *a) { return duch_archive_commit_chunk(a, 1); }

int duch_archive_rollback_scene(duch_archive *a)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_rollback_scene(a->pg);
    if (!a->scene_id)
        return set_msg(a, DUCH_INVALID, "rollback_scene: no scene is open");
    a->scene_id = 0;
    return exec(a, "ROLLBACK", "rollback_scene");
}

int duch_archive_release_scene(duch_archive *a, int64_t scene_id)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_release_scene(a->pg, scene_id);
    int rc = check_writable(a, "release_scene");
    if (rc)
        return rc;
    if (a->scene_id)
        return set_msg(a, DUCH_INVALID, "release_scene: scene %lld is still open",
                       (long long)a->scene_id);
    char *sql = sqlite3_mprintf("UPDATE scenes SET writer = NULL WHERE scene_id = %lld"
                                " AND complete = 0 AND writer IS %Q", (long long)scene_id, a->token);
    rc = sql ? exec(a, sql, "release_scene") : set_msg(a, DUCH_NOMEM, "out of memory");
    sqlite3_free(sql);
    return rc;
}

/* ---------------------------------------------------------------- queries */

static int query_int64(duch_archive *a, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "counting");
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? DUCH_OK : sql_fail(a, "counting");
}

/* Scenes with complete = done and their tiles (either pointer may be NULL). */
static int scene_counts(duch_archive *a, int done, int64_t *scenes, int64_t *tiles)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_counts(a->pg, done, scenes, tiles);
    if (!a->db)
        return set_msg(a, DUCH_INVALID, "counts: the archive is not open");
    char sql[200];
    int rc;
    if (scenes) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM scenes WHERE complete = %d", done);
        if ((rc = query_int64(a, sql, scenes)))
            return rc;
    }
    if (tiles) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM tiles WHERE scene_id IN"
                                  " (SELECT scene_id FROM scenes WHERE complete = %d)", done);
        if ((rc = query_int64(a, sql, tiles)))
            return rc;
    }
    return DUCH_OK;
}

int duch_archive_counts(duch_archive *a, int64_t *scenes, int64_t *tiles)
{
    return scene_counts(a, 1, scenes, tiles);
}

int duch_archive_incomplete(duch_archive *a, int64_t *scenes, int64_t *tiles)
{
    return scene_counts(a, 0, scenes, tiles);
}

int duch_archive_extent(duch_archive *a, double extent[4])
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return extent ? pga_extent(a->pg, extent) : DUCH_INVALID;
    if (!a->db || !extent)
        return set_msg(a, DUCH_INVALID, "extent: bad arguments");
    sqlite3_stmt *st = NULL;
    need_spatialite(a);
    /* MbrMinX & co read the BLOB header: exact, unlike the float R*Tree */
    if (sqlite3_prepare_v2(a->db,
                           "SELECT min(MbrMinX(footprint)), min(MbrMinY(footprint)),"
                           " max(MbrMaxX(footprint)), max(MbrMaxY(footprint)) FROM tiles",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "extent");
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        for (int i = 0; i < 4; i++)
            extent[i] = sqlite3_column_double(st, i);
        rc = DUCH_OK;
    } else if (r == SQLITE_ROW) {
        rc = set_msg(a, DUCH_NOTFOUND, "%s has no tiles", a->path);
    } else {
        rc = sql_fail(a, "extent");
    }
    sqlite3_finalize(st);
    return rc;
}

int duch_archive_check_codes(duch_archive *a)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_check_codes(a->pg);
    if (!a->db)
        return set_msg(a, DUCH_INVALID, "check_codes: the archive is not open");
    int rc = load_bits(a);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT count(*), min(tile_id) FROM tiles"
                           " WHERE " CODE_LEN_EXPR " < ?1 OR " CODE_LEN_EXPR " > ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "checking the codes");
    sqlite3_bind_int(st, 1, a->bits / 8);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = sql_fail(a, "checking the codes");
        sqlite3_finalize(st);
        return rc;
    }
    int64_t nbad = sqlite3_column_int64(st, 0), first = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    if (nbad == 0)
        return DUCH_OK;
    int64_t len = -1;
    char q[160];
    snprintf(q, sizeof q, "SELECT length(code) FROM tiles WHERE tile_id = %lld", (long long)first);
    query_int64(a, q, &len);
    return duch_codes_mismatch_msg(a->msg, sizeof a->msg, a->path, (long long)nbad, a->bits,
                                   (long long)first, (long long)len);
}

int duch_codes_mismatch_msg(char *msg, size_t n, const char *archive, long long nbad, int bits,
                            long long first, long long len)
{
    if (!bits)
        duch_snprintf(msg, n, "%s holds %lld tiles but no model (duch_model is empty): the archive "
                      "is damaged", archive, nbad);
    else
        duch_snprintf(msg, n, "%s: %lld tile codes do not fit the archive's model (%d bits = %d "
                      "bytes), e.g. tile %lld has %lld bytes: the archive was changed by other SQL "
                      "or mixed from archives of different models; duch will not search or extend "
                      "it", archive, nbad, bits, bits / 8, first, len);
    return DUCH_MISMATCH;
}

/* ---------------------------------------------------------------- saved hits */

int duch_archive_save_name_valid(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_') || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return 0;
    static const char *reserved[] = {"tiles", "scenes", "geometry_columns", "spatial_ref_sys",
                                     "sqlite_sequence", "SpatialIndex", "ElementaryGeometries",
                                     "KNN", "KNN2", NULL};
    for (int i = 0; reserved[i]; i++)
        if (!strcasecmp(s, reserved[i]))
            return 0;
    if (!strncasecmp(s, "idx_", 4) || !strncasecmp(s, "sqlite_", 7) ||
        !strncasecmp(s, "duch_", 5) || strcasestr(s, "geometry_columns") ||
        strcasestr(s, "spatial") || strcasestr(s, "sql_statements_log") ||
        strcasestr(s, "data_licenses") || strcasestr(s, "ref_sys"))
        return 0;
    return 1;
}

/* A saved-hits table's columns; its geometry is "footprint", as in tiles and scenes
 * (duch before 2026-12 named it "geometry": such a table is still replaced) */
#define SAVED_COLUMNS "fid,rank,distance,confidence,tile_id,scene_id,scene,x_off,y_off,width,height,query,footprint"
/* saved before the confidence column (2026-12), and before that with "geometry" */
#define SAVED_COLUMNS_V1 "fid,rank,distance,tile_id,scene_id,scene,x_off,y_off,width,height,query,footprint"
#define SAVED_COLUMNS_OLD "fid,rank,distance,tile_id,scene_id,scene,x_off,y_off,width,height,query,geometry"

/* 1 when table name has exactly the columns of a saved-hits table (or of one saved before
 * the confidence column), 2: of one with the old geometry name */
static int saved_shape(duch_archive *a, const char *name)
{
    sqlite3_stmt *st = NULL;
    char cols[512] = "";
    size_t used = 0;
    char *sql = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) ORDER BY cid", name);
    if (sql && sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW && used < sizeof cols - 80) {
            const char *c = (const char *)sqlite3_column_text(st, 0);
            used += (size_t)snprintf(cols + used, sizeof cols - used, "%s%s", used ? "," : "",
                                     c ? c : "");
        }
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return !strcasecmp(cols, SAVED_COLUMNS) || !strcasecmp(cols, SAVED_COLUMNS_V1) ? 1
           : !strcasecmp(cols, SAVED_COLUMNS_OLD)                                 ? 2
                                                                                   : 0;
}

int duch_archive_save_hits(duch_archive *a, const char *name, const char *query,
                           const duch_saved_hit *hits, int n)
{
    if (!a)
        return DUCH_INVALID;
    int rc = check_writable(a, "save_hits");
    if (rc)
        return rc;
    if (n < 0 || (n > 0 && !hits))
        return set_msg(a, DUCH_INVALID, "save_hits: bad arguments");
    if (!duch_archive_save_name_valid(name))
        return set_msg(a, DUCH_INVALID,
                       "--save needs a table name of letters, digits and '_' that is not one of "
                       "the archive's own tables or the database's, got '%s'", name ? name : "");
    for (int i = 0; i < n; i++)
        if (hits[i].footprint && hits[i].footprint_npoints &&
            !duch_ring_points(hits[i].footprint, hits[i].footprint_npoints))
            return set_msg(a, DUCH_INVALID, "save_hits: hit %d has a bad footprint", hits[i].rank);
    if (a->pg)
        return pga_save_hits(a->pg, name, query, hits, n);
    if (a->scene_id)
        return set_msg(a, DUCH_INVALID, "save_hits: a scene is being written");
    if ((rc = begin_write(a, "save_hits")))
        return rc;
    char *sql = NULL;
    sqlite3_stmt *st = NULL;
    const char *what = "save_hits";
    if ((rc = exec(a, "CREATE TABLE IF NOT EXISTS duch_saved (name TEXT PRIMARY KEY NOT NULL"
                      " COLLATE NOCASE, query TEXT, hits INTEGER NOT NULL, saved_at TEXT NOT NULL)",
                   "recording saved results")))
        goto finish;
    /* What is there under that name (SQLite names are case-insensitive)? */
    int exists = 0, recorded = 0;
    char type[16] = "", actual[128] = "";
    if (sqlite3_prepare_v2(a->db, "SELECT type, name FROM sqlite_master WHERE name = ?1 COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sql_fail(a, what);
        goto finish;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        exists = 1;
        snprintf(type, sizeof type, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(actual, sizeof actual, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM duch_saved WHERE name = ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = sql_fail(a, what);
        goto finish;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    recorded = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    st = NULL;
    int shape = exists && recorded && !strcmp(type, "table") ? saved_shape(a, actual) : 0;
    const char *gc = shape == 2 ? "geometry" : "footprint"; /* its geometry column */
    if (exists && !shape) {
        rc = set_msg(a, DUCH_EXISTS,
                     "%s: a %s named '%s' exists and was not saved by duch query --save: "
                     "not replacing it (choose another name)", a->path, type, actual);
        goto finish;
    }
    if (exists) {
        /* SpatiaLite complains on stderr when asked to discard what is not registered */
        int registered = 0;
        sql = sqlite3_mprintf("SELECT 1 FROM geometry_columns WHERE f_table_name = lower(%Q)"
                              " AND f_geometry_column = %Q", actual, gc);
        if (sql && sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) == SQLITE_OK)
            registered = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        st = NULL;
        sqlite3_free(sql);
        sql = registered ? sqlite3_mprintf("SELECT DisableSpatialIndex(%Q, %Q);"
                                           "SELECT DiscardGeometryColumn(%Q, %Q);"
                                           "DROP TABLE IF EXISTS \"idx_%w_%w\";"
                                           "DROP TABLE \"%w\";", actual, gc, actual, gc, actual,
                                           gc, actual)
                         : sqlite3_mprintf("DROP TABLE \"%w\";", actual);
        if (!sql || (rc = exec(a, sql, "replacing the saved result")))
            goto finish;
        sqlite3_free(sql);
        sql = NULL;
    }
    sql = sqlite3_mprintf("CREATE TABLE \"%w\" (fid INTEGER PRIMARY KEY, rank INTEGER NOT NULL,"
                          " distance INTEGER NOT NULL, confidence REAL, tile_id INTEGER NOT NULL,"
                          " scene_id INTEGER, scene TEXT, x_off INTEGER, y_off INTEGER,"
                          " width INTEGER, height INTEGER, query TEXT);"
                          "SELECT AddGeometryColumn(%Q, 'footprint', 4326, 'POLYGON', 'XY');",
                          name, name);
    if (!sql || (rc = exec(a, sql, "creating the saved result")))
        goto finish;
    sqlite3_free(sql);
    sql = sqlite3_mprintf("INSERT INTO \"%w\" (rank, distance, tile_id, scene_id, scene, x_off,"
                          " y_off, width, height, query, footprint, confidence) VALUES"
                          " (?,?,?,?,?,?,?,?,?,?,?,?)", name);
    if (!sql || sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = sql ? sql_fail(a, what) : set_msg(a, DUCH_NOMEM, "out of memory");
        goto finish;
    }
    for (int i = 0; i < n; i++) {
        const duch_saved_hit *x = &hits[i];
        sqlite3_bind_int(st, 1, x->rank);
        sqlite3_bind_int(st, 2, x->distance);
        sqlite3_bind_int64(st, 3, x->tile_id);
        sqlite3_bind_int64(st, 4, x->scene_id);
        sqlite3_bind_text(st, 5, x->scene, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, x->x_off);
        sqlite3_bind_int(st, 7, x->y_off);
        sqlite3_bind_int(st, 8, x->width);
        sqlite3_bind_int(st, 9, x->height);
        sqlite3_bind_text(st, 10, query, -1, SQLITE_STATIC);
        if (x->confidence >= 0)
            sqlite3_bind_double(st, 12, x->confidence);
        else
            sqlite3_bind_null(st, 12);
        int fplen = 0, bad = 0;
        unsigned char *fp = x->footprint && x->footprint_npoints
                                ? polygon_blob(x->footprint, x->footprint_npoints, &fplen, &bad)
                                : NULL;
        if (fp)
            sqlite3_bind_blob(st, 11, fp, fplen, free);
        else
            sqlite3_bind_null(st, 11);
        if (!fp && x->footprint && x->footprint_npoints) {
            rc = bad ? set_msg(a, DUCH_INVALID, "save_hits: hit %d has a bad footprint", x->rank)
                     : set_msg(a, DUCH_NOMEM, "out of memory");
            goto finish;
        }
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = sql_fail(a, "storing a saved hit");
            goto finish;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT CreateSpatialIndex(%Q, 'footprint');"
                          "INSERT OR REPLACE INTO duch_saved(name, query, hits, saved_at) VALUES"
                          " (%Q, %Q, %d, strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now'));",
                          name, name, query, n);
    if (!sql || (rc = exec(a, sql, "recording the saved result")))
        goto finish;
    rc = exec(a, "COMMIT", "committing the saved result");
finish:
    if (!sql && !rc)
        rc = set_msg(a, DUCH_NOMEM, "out of memory");
    if (rc)
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return rc;
}

int duch_archive_meta_get(duch_archive *a, const char *key, const char **value)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return key && value ? pga_meta_get(a->pg, key, value) : DUCH_INVALID;
    if (!a->db || !key || !value)
        return set_msg(a, DUCH_INVALID, "meta_get: key and value are required");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db, "SELECT value FROM duch_metadata WHERE key = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return sql_fail(a, "meta_get");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        free(a->meta_value);
        const char *v = (const char *)sqlite3_column_text(st, 0);
        a->meta_value = strdup(v ? v : "");
        rc = a->meta_value ? DUCH_OK : set_msg(a, DUCH_NOMEM, "out of memory");
        if (!rc)
            *value = a->meta_value;
    } else if (r == SQLITE_DONE) {
        rc = set_msg(a, DUCH_NOTFOUND, "%s: no metadata key '%s'", a->path, key);
    } else {
        rc = sql_fail(a, "meta_get");
    }
    sqlite3_finalize(st);
    return rc;
}

int duch_archive_meta_set(duch_archive *a, const char *key, const char *value)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return key && *key && strcmp(key, "schema_version") ? pga_meta_set(a->pg, key, value) : DUCH_INVALID;
    int rc = check_writable(a, "meta_set");
    if (rc)
        return rc;
    if (!key || !*key)
        return set_msg(a, DUCH_INVALID, "meta_set: a key is required");
    if (!strcmp(key, "schema_version"))
        return set_msg(a, DUCH_INVALID, "meta_set: schema_version is managed by duch");
    sqlite3_stmt *st = NULL;
    const char *sql = value ? "INSERT OR REPLACE INTO duch_metadata(key, value) VALUES (?, ?)"
                            : "DELETE FROM duch_metadata WHERE key = ?";
    if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "meta_set");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? DUCH_OK : sql_fail(a, "meta_set");
    sqlite3_finalize(st);
    return rc;
}

struct sqlite3 *duch_archive_db(duch_archive *a) { return a ? a->db : NULL; }

/* ---------------------------------------------------------------- search */

static int engine_of(duch_archive *a, duch_engine **out)
{
    if (!a->engine && duch_engine_new(a->db, &a->engine) != DUCH_OK)
        return set_msg(a, DUCH_NOMEM, "out of memory");
    *out = a->engine;
    return DUCH_OK;
}

int duch_archive_search(duch_archive *a, const unsigned char *query, size_t qlen,
                        const double *bbox, size_t k, duch_hit *hits, size_t *nhits)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return hits && nhits ? pga_search(a->pg, query, qlen, bbox, k, hits, nhits) : DUCH_INVALID;
    if (nhits)
        *nhits = 0;
    if (!a->db)
        return set_msg(a, DUCH_INVALID, "search: the archive is not open");
    if (a->bits && qlen != (size_t)a->bits / 8)
        return set_msg(a, DUCH_INVALID, "the query code has %zu bytes; this archive's codes have"
                       " %d (%d bits)", qlen, a->bits / 8, a->bits);
    duch_engine *e = NULL;
    int rc = engine_of(a, &e);
    if (rc)
        return rc;
    rc = duch_engine_search(e, query, qlen, bbox, k, hits, nhits);
    if (rc == DUCH_MISMATCH && duch_archive_check_codes(a) == DUCH_MISMATCH)
        return rc; /* check_codes names the wrong tile and how many are wrong */
    if (rc)
        return set_msg(a, rc, "%s: %s", a->path, duch_engine_errmsg(e));
    return DUCH_OK;
}

int duch_archive_search_info(duch_archive *a, duch_engine_info *out)
{
    if (!a || !out)
        return DUCH_INVALID;
    if (a->pg)
        return pga_search_info(a->pg, out);
    duch_engine *e = NULL;
    int rc = engine_of(a, &e);
    if (!rc && (rc = duch_engine_stats(e, out)))
        set_msg(a, rc, "%s: %s", a->path, duch_engine_errmsg(e));
    return rc;
}

int duch_archive_tile(duch_archive *a, int64_t tile_id, duch_tile_record *out)
{
    if (!a || !out)
        return DUCH_INVALID;
    if (a->pg)
        return pga_tile(a->pg, tile_id, out);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT t.scene_id, s.path, t.x_off, t.y_off, t.width, t.height,"
                           " t.footprint FROM tiles t LEFT JOIN scenes s USING (scene_id)"
                           " WHERE t.tile_id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "reading a tile");
    sqlite3_bind_int64(st, 1, tile_id);
    int r = sqlite3_step(st), rc = DUCH_OK;
    if (r == SQLITE_ROW) {
        out->tile_id = tile_id;
        out->scene_id = sqlite3_column_int64(st, 0);
        const char *p = (const char *)sqlite3_column_text(st, 1);
        out->scene = p ? strdup(p) : NULL;
        out->x_off = sqlite3_column_int(st, 2);
        out->y_off = sqlite3_column_int(st, 3);
        out->width = sqlite3_column_int(st, 4);
        out->height = sqlite3_column_int(st, 5);
        out->footprint = blob_ring(sqlite3_column_blob(st, 6), sqlite3_column_bytes(st, 6),
                                   &out->footprint_npoints);
        if (p && !out->scene)
            rc = set_msg(a, DUCH_NOMEM, "out of memory");
    } else if (r == SQLITE_DONE) {
        rc = set_msg(a, DUCH_NOTFOUND, "%s: no tile %lld", a->path, (long long)tile_id);
    } else {
        rc = sql_fail(a, "reading a tile");
    }
    sqlite3_finalize(st);
    if (rc)
        duch_tile_record_clear(out);
    return rc;
}

void duch_tile_record_clear(duch_tile_record *t)
{
    if (!t)
        return;
    free(t->scene);
    free(t->footprint);
    memset(t, 0, sizeof *t);
}

void duch_scene_grids_free(duch_scene_grid *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].path);
        free(s[i].crs_wkt);
    }
    free(s);
}

int duch_archive_scenes(duch_archive *a, duch_scene_grid **out, size_t *n)
{
    if (!a || !out || !n)
        return DUCH_INVALID;
    *out = NULL;
    *n = 0;
    if (a->pg)
        return pga_scenes(a->pg, out, n);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT scene_id, path, width, height, crs_wkt, gt0, gt1, gt2, gt3, gt4,"
                           " gt5, tile_size, overlap, complete, (SELECT count(*) FROM tiles t"
                           " WHERE t.scene_id = s.scene_id) FROM scenes s ORDER BY scene_id",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "listing the scenes");
    int rc = DUCH_OK, r;
    size_t room = 0;
    duch_scene_grid *g = NULL;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == room) {
            room = room ? 2 * room : 16;
            duch_scene_grid *m = realloc(g, room * sizeof *g);
            if (!m) {
                rc = set_msg(a, DUCH_NOMEM, "out of memory");
                break;
            }
            g = m;
        }
        duch_scene_grid *x = &g[(*n)++];
        memset(x, 0, sizeof *x);
        x->scene_id = sqlite3_column_int64(st, 0);
        const char *p = (const char *)sqlite3_column_text(st, 1);
        const char *w = (const char *)sqlite3_column_text(st, 4);
        x->path = strdup(p ? p : "");
        x->crs_wkt = w && *w ? strdup(w) : NULL;
        x->width = sqlite3_column_int(st, 2);
        x->height = sqlite3_column_int(st, 3);
        x->has_geotransform = 1;
        for (int i = 0; i < 6; i++) {
            if (sqlite3_column_type(st, 5 + i) == SQLITE_NULL)
                x->has_geotransform = 0;
            x->geotransform[i] = sqlite3_column_double(st, 5 + i);
        }
        x->tile_size = sqlite3_column_int(st, 11);
        x->overlap = sqlite3_column_int(st, 12);
        x->complete = sqlite3_column_int(st, 13) != 0;
        x->tiles = sqlite3_column_int64(st, 14);
        if (!x->path || (w && *w && !x->crs_wkt)) {
            rc = set_msg(a, DUCH_NOMEM, "out of memory");
            break;
        }
    }
    if (rc == DUCH_OK && r != SQLITE_DONE)
        rc = sql_fail(a, "listing the scenes");
    sqlite3_finalize(st);
    if (rc) {
        duch_scene_grids_free(g, *n);
        *n = 0;
        g = NULL;
    }
    *out = g;
    return rc;
}

int duch_archive_scene_tiles(duch_archive *a, int64_t scene_id, int with_box, duch_tile_fn fn,
                             void *arg)
{
    if (!a || !fn)
        return DUCH_INVALID;
    if (a->pg)
        return pga_scene_tiles(a->pg, scene_id, with_box, fn, arg);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db,
                           with_box ? "SELECT tile_id, x_off, y_off, width, height, code, footprint"
                                      " FROM tiles WHERE scene_id = ? ORDER BY tile_id"
                                    : "SELECT tile_id, x_off, y_off, width, height, code"
                                      " FROM tiles WHERE scene_id = ? ORDER BY tile_id",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(a, "reading a scene's tiles");
    sqlite3_bind_int64(st, 1, scene_id);
    int r, rc = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        double box[4];
        const void *fp = with_box ? sqlite3_column_blob(st, 6) : NULL;
        int has_box = fp && duch_geometry_blob_box(fp, (size_t)sqlite3_column_bytes(st, 6), box);
        rc = fn(sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
                sqlite3_column_int(st, 3), sqlite3_column_int(st, 4), sqlite3_column_blob(st, 5),
                (size_t)sqlite3_column_bytes(st, 5), has_box ? box : NULL, arg);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = sql_fail(a, "reading a scene's tiles");
    sqlite3_finalize(st);
    return rc;
}

int duch_archive_optimize(duch_archive *a, duch_progress_fn progress, void *arg, int64_t *ntiles)
{
    if (!a)
        return DUCH_INVALID;
    if (a->pg)
        return pga_optimize(a->pg, ntiles);
    int rc = check_writable(a, "optimize");
    if (rc)
        return rc;
    if (a->scene_id)
        return set_msg(a, DUCH_INVALID, "optimize: scene %lld is still open", (long long)a->scene_id);
    if ((rc = begin_write(a, "optimize")))
        return rc;
    char berr[512];
    if ((rc = duch_blocks_rebuild(a->db, progress, arg, ntiles, berr, sizeof berr))) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return set_msg(a, rc, "%s: optimize: %s", a->path, berr);
    }
    if ((rc = exec(a, "COMMIT", "optimize"))) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return DUCH_OK;
}

int duch_archive_blocks_current(duch_archive *a)
{
    if (a && a->pg)
        return 1; /* PostgreSQL keeps no blocks: the extension's cache is always current */
    if (!a || !a->db)
        return 0;
    char why[256];
    if (duch_blocks_is_current(a->db, why, sizeof why))
        return 1;
    set_msg(a, DUCH_ERROR, "%s", why);
    return 0;
}
