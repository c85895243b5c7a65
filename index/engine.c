/* engine.c: the one exact search over an archive's tiles, and the packed code blocks
 * it reads them from.
 *
 * This file is compiled twice: into libduch (against the linked SQLite) and into the
 * SQLite extension mod_duch.so with DUCH_SQLITE_EXTENSION defined (every sqlite3_*
 * call then goes through the host's sqlite3_api table). So `duch query`, the DUCH:
 * layer and SQL's duch_knn all run this code, on their own connection.
 *
 * THE BLOCKS.  Reading codes through SQLite costs ~170 ns a row (0.3-0.6 s per million
 * rows), so the codes are also kept packed, beside the rows:
 *   duch_code_blocks(block_id INTEGER PRIMARY KEY, first_tile INTEGER, ntiles INTEGER,
 *                    code_bytes INTEGER, codes BLOB, tile_ids BLOB)
 *     ntiles codes of code_bytes each, of tiles in ascending tile_id; tile_ids is NULL
 *     when those are first_tile, first_tile+1, ..., else ntiles little-endian int64.
 *   duch_box_blocks(block_id INTEGER PRIMARY KEY, minx, miny, maxx, maxy REAL,
 *                   boxes BLOB)
 *     per tile of that block the exact bounding box of its footprint, 4 little-endian
 *     doubles (minx, miny, maxx, maxy), NaN when it has none; minx..maxy is the box of
 *     them all (NULL when no tile has a footprint), so that a box query reads only the
 *     boxes of the blocks it touches.
 *   duch_blocks_version(id = 0, tiles INTEGER, blocks INTEGER)
 *     triggers on tiles (insert, update, delete: duch_tiles_changed_*) add 1 to tiles
 *     for every changed row; blocks is the value of tiles at which the blocks were
 *     last complete. The blocks are used only while tiles = blocks and the three
 *     triggers exist; otherwise the search reads the rows (exact, slower) until
 *     `duch optimize` rebuilds the blocks.
 * Every duch writer appends one block per committed chunk, in the chunk's transaction
 * (duch_blocks_append), so an archive that only duch writes never goes stale.
 *
 * THE SEARCH.  duch_engine keeps the codes of one connection in one packed array,
 * filled on first use from the blocks (one sequential pass) or the rows, and refilled
 * when the database changed: the key is the file's data version (commits of other
 * connections), this connection's total changes and the schema cookie. Top-k is
 * index/topk.c, exact: ascending distance, ties by ascending tile_id. With a box, a
 * tile matches when the exact bounding box of its footprint intersects the box (edges
 * touching count); the boxes are loaded on the first box query. */
#include "config.h"

#ifdef DUCH_SQLITE_EXTENSION
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "duch_index.h"
#include "archive_internal.h"
#include "duch_utf8.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the code blocks store little-endian int64 and doubles; add byte swaps for this platform"
#endif

#define REBUILD_BLOCK 65536 /* tiles per block written by duch_blocks_rebuild */

#define BLOCKS_SQL                                                                         \
    "CREATE TABLE IF NOT EXISTS duch_code_blocks (\n"                                      \
    "  block_id INTEGER PRIMARY KEY,\n"                                                    \
    "  first_tile INTEGER NOT NULL,\n"                                                     \
    "  ntiles INTEGER NOT NULL CHECK (ntiles > 0),\n"                                      \
    "  code_bytes INTEGER NOT NULL,\n"                                                     \
    "  codes BLOB NOT NULL,\n"                                                             \
    "  tile_ids BLOB);\n"                                                                  \
    "CREATE TABLE IF NOT EXISTS duch_box_blocks (\n"                                       \
    "  block_id INTEGER PRIMARY KEY,\n"                                                    \
    "  minx REAL, miny REAL, maxx REAL, maxy REAL,\n"                                      \
    "  boxes BLOB NOT NULL);\n"                                                            \
    "CREATE TABLE IF NOT EXISTS duch_blocks_version (\n"                                   \
    "  id INTEGER PRIMARY KEY CHECK (id = 0),\n"                                           \
    "  tiles INTEGER NOT NULL,\n"                                                          \
    "  blocks INTEGER NOT NULL);\n"                                                        \
    "INSERT OR IGNORE INTO duch_blocks_version(id, tiles, blocks) VALUES (0, 1, 0);\n"     \
    "CREATE TRIGGER IF NOT EXISTS duch_tiles_changed_insert AFTER INSERT ON tiles\n"       \
    "  BEGIN UPDATE duch_blocks_version SET tiles = tiles + 1; END;\n"                     \
    "CREATE TRIGGER IF NOT EXISTS duch_tiles_changed_update AFTER UPDATE ON tiles\n"       \
    "  BEGIN UPDATE duch_blocks_version SET tiles = tiles + 1; END;\n"                     \
    "CREATE TRIGGER IF NOT EXISTS duch_tiles_changed_delete AFTER DELETE ON tiles\n"       \
    "  BEGIN UPDATE duch_blocks_version SET tiles = tiles + 1; END;\n"

static void fmt(char *err, size_t errlen, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *err, size_t errlen, const char *f, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, f);
    duch_vsnprintf(err, errlen, f, ap);
    va_end(ap);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ geometry boxes */

static double read_f64(const unsigned char *p, int little)
{
    unsigned char t[8];
    memcpy(t, p, 8);
    if (!little)
        for (int j = 0; j < 4; j++) {
            unsigned char x = t[j];
            t[j] = t[7 - j];
            t[7 - j] = x;
        }
    double v;
    memcpy(&v, t, 8);
    return v;
}

int duch_geometry_blob_box(const void *blob, size_t n, double box[4])
{
    const unsigned char *b = blob;
    if (!b)
        return 0;
    /* SpatiaLite: START 0x00, endian, srid, MBR (4 doubles), 0x7C, ..., END 0xFE */
    if (n >= 45 && b[0] == 0x00 && (b[1] == 0x00 || b[1] == 0x01) && b[38] == 0x7C &&
        b[n - 1] == 0xFE) {
        int little = b[1] == 0x01;
        for (int i = 0; i < 4; i++)
            box[i] = read_f64(b + 6 + 8 * i, little);
        return 1;
    }
    /* GeoPackage: "GP", version, flags (envelope kind in bits 1-3), srid, envelope
     * (minx, maxx, miny, maxy, ...) */
    if (n >= 8 + 32 && b[0] == 'G' && b[1] == 'P') {
        int flags = b[3];
        int env = (flags >> 1) & 7;
        int little = flags & 1;
        if (env < 1 || env > 4 || (flags & 0x10))
            return 0; /* no envelope, or an empty geometry */
        double e[4];
        for (int i = 0; i < 4; i++)
            e[i] = read_f64(b + 8 + 8 * i, little);
        box[0] = e[0], box[1] = e[2], box[2] = e[1], box[3] = e[3];
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static int st_rc(sqlite3 *db)
{
    int ec = sqlite3_errcode(db) & 0xff;
    if (ec == SQLITE_NOMEM)
        return DUCH_NOMEM;
    if (ec == SQLITE_CORRUPT || ec == SQLITE_NOTADB)
        return DUCH_CORRUPT;
    if (ec == SQLITE_READONLY)
        return DUCH_READONLY;
    return DUCH_IO;
}

int duch_db_has_object(sqlite3 *db, const char *type, const char *name)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM main.sqlite_master WHERE type = ?1 AND name = ?2",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}
#define has_object duch_db_has_object

/* 1 when the blocks are installed and complete (tiles = blocks, triggers in place),
 * 0 when not (why in err), -1 on an SQL error. */
static int blocks_current(sqlite3 *db, char *err, size_t errlen)
{
    if (!has_object(db, "table", "duch_blocks_version") || !has_object(db, "table", "duch_code_blocks") ||
        !has_object(db, "table", "duch_box_blocks")) {
        fmt(err, errlen, "the archive has no packed code blocks (run duch optimize)");
        return 0;
    }
    if (!has_object(db, "trigger", "duch_tiles_changed_insert") ||
        !has_object(db, "trigger", "duch_tiles_changed_update") ||
        !has_object(db, "trigger", "duch_tiles_changed_delete")) {
        fmt(err, errlen, "the triggers that keep the code blocks current are missing (run duch optimize)");
        return 0;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT tiles, blocks FROM main.duch_blocks_version WHERE id = 0",
                           -1, &st, NULL) != SQLITE_OK) {
        fmt(err, errlen, "reading duch_blocks_version: %s", sqlite3_errmsg(db));
        return -1;
    }
    int r = sqlite3_step(st), cur = 0;
    if (r == SQLITE_ROW) {
        cur = sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
              sqlite3_column_int64(st, 0) == sqlite3_column_int64(st, 1);
        if (!cur)
            fmt(err, errlen, "the tiles were changed since the code blocks were written (run duch"
                " optimize)");
    } else if (r == SQLITE_DONE) {
        fmt(err, errlen, "duch_blocks_version is empty (run duch optimize)");
    } else {
        fmt(err, errlen, "reading duch_blocks_version: %s", sqlite3_errmsg(db));
        cur = -1;
    }
    sqlite3_finalize(st);
    return cur;
}

/* ------------------------------------------------------------------- writing */

int duch_blocks_install(struct sqlite3 *db, char *err, size_t errlen)
{
    if (sqlite3_exec(db, BLOCKS_SQL, NULL, NULL, NULL) != SQLITE_OK) {
        fmt(err, errlen, "creating the code block tables: %s", sqlite3_errmsg(db));
        return st_rc(db);
    }
    return DUCH_OK;
}

int duch_blocks_is_current(struct sqlite3 *db, char *why, size_t whylen)
{
    char buf[256];
    if (!why || !whylen)
        why = buf, whylen = sizeof buf;
    why[0] = 0;
    return blocks_current(db, why, whylen) == 1;
}

/* insert one block (codes of n tiles with ascending ids, boxes may be NULL = none) */
static int insert_block(sqlite3 *db, const int64_t *ids, const unsigned char *codes,
                        const double *boxes, size_t n, size_t nbytes, char *err, size_t errlen)
{
    int contiguous = 1;
    for (size_t i = 1; i < n && contiguous; i++)
        contiguous = ids[i] == ids[0] + (int64_t)i;
    sqlite3_stmt *st = NULL;
    int rc = DUCH_OK;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO main.duch_code_blocks(first_tile, ntiles, code_bytes, codes,"
                           " tile_ids) VALUES (?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, ids[0]);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)nbytes);
    sqlite3_bind_blob64(st, 4, codes, (sqlite3_uint64)n * nbytes, SQLITE_STATIC);
    if (contiguous)
        sqlite3_bind_null(st, 5);
    else
        sqlite3_bind_blob64(st, 5, ids, (sqlite3_uint64)n * 8, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_int64 block = sqlite3_last_insert_rowid(db);
    double *nan_boxes = NULL;
    if (!boxes) {
        nan_boxes = malloc(n * 4 * sizeof *nan_boxes);
        if (!nan_boxes) {
            fmt(err, errlen, "out of memory");
            return DUCH_NOMEM;
        }
        for (size_t i = 0; i < 4 * n; i++)
            nan_boxes[i] = NAN;
        boxes = nan_boxes;
    }
    if (sqlite3_prepare_v2(db, "INSERT INTO main.duch_box_blocks(block_id, minx, miny, maxx, maxy,"
                           " boxes) VALUES (?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK) {
        free(nan_boxes);
        goto fail;
    }
    sqlite3_bind_int64(st, 1, block);
    double ext[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (size_t i = 0; i < n; i++) {
        const double *b = boxes + 4 * i;
        if (!(b[0] <= b[2] && b[1] <= b[3]))
            continue; /* NaN: no footprint */
        if (b[0] < ext[0]) ext[0] = b[0];
        if (b[1] < ext[1]) ext[1] = b[1];
        if (b[2] > ext[2]) ext[2] = b[2];
        if (b[3] > ext[3]) ext[3] = b[3];
    }
    for (int j = 0; j < 4; j++)
        if (ext[0] <= ext[2])
            sqlite3_bind_double(st, 2 + j, ext[j]);
        else
            sqlite3_bind_null(st, 2 + j);
    sqlite3_bind_blob64(st, 6, boxes, (sqlite3_uint64)n * 32, SQLITE_STATIC);
    int r = sqlite3_step(st);
    free(nan_boxes);
    if (r != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    return rc;
fail:
    fmt(err, errlen, "writing a code block: %s", sqlite3_errmsg(db));
    rc = st_rc(db);
    sqlite3_finalize(st);
    return rc;
}

int duch_blocks_append(struct sqlite3 *db, int was_current, const int64_t *ids,
                       const unsigned char *codes, const double *boxes, size_t n, size_t nbytes,
                       char *err, size_t errlen)
{
    if (!was_current)
        return DUCH_OK; /* stale already: the rows serve until duch optimize */
    if (n == 0)
        return sqlite3_exec(db, "UPDATE main.duch_blocks_version SET blocks = tiles", NULL, NULL,
                            NULL) == SQLITE_OK ? DUCH_OK
                                               : (fmt(err, errlen, "%s", sqlite3_errmsg(db)), st_rc(db));
    if (!ids || !codes || nbytes == 0)
        return DUCH_INVALID;
    for (size_t i = 1; i < n; i++)
        if (ids[i] <= ids[i - 1]) {
            fmt(err, errlen, "code block: tile ids not ascending");
            return DUCH_INVALID;
        }
    int rc = insert_block(db, ids, codes, boxes, n, nbytes, err, errlen);
    if (rc)
        return rc;
    if (sqlite3_exec(db, "UPDATE main.duch_blocks_version SET blocks = tiles", NULL, NULL, NULL) !=
        SQLITE_OK) {
        fmt(err, errlen, "updating duch_blocks_version: %s", sqlite3_errmsg(db));
        return st_rc(db);
    }
    return DUCH_OK;
}

int duch_blocks_rebuild(struct sqlite3 *db, duch_progress_fn progress, void *arg,
                        int64_t *ntiles_out, char *err, size_t errlen)
{
    if (ntiles_out)
        *ntiles_out = 0;
    /* made anew, so that tables of another shape (changed by hand) are replaced too */
    if (sqlite3_exec(db, "DROP TABLE IF EXISTS main.duch_code_blocks;"
                         " DROP TABLE IF EXISTS main.duch_box_blocks;", NULL, NULL, NULL) != SQLITE_OK) {
        fmt(err, errlen, "dropping the old code blocks: %s", sqlite3_errmsg(db));
        return st_rc(db);
    }
    int rc = duch_blocks_install(db, err, errlen);
    if (rc)
        return rc;
    int64_t total = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM main.tiles", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    int has_fp = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('tiles') WHERE name = 'footprint'",
                           -1, &st, NULL) == SQLITE_OK)
        has_fp = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           has_fp ? "SELECT tile_id, code, footprint FROM main.tiles ORDER BY tile_id"
                                  : "SELECT tile_id, code, NULL FROM main.tiles ORDER BY tile_id",
                           -1, &st, NULL) != SQLITE_OK) {
        fmt(err, errlen, "reading tiles (it needs tile_id INTEGER and code BLOB): %s",
            sqlite3_errmsg(db));
        return DUCH_INVALID;
    }
    size_t nbytes = 0, n = 0;
    int64_t *ids = malloc(REBUILD_BLOCK * sizeof *ids);
    double *boxes = malloc(REBUILD_BLOCK * 4 * sizeof *boxes);
    unsigned char *codes = malloc(REBUILD_BLOCK * (size_t)(DUCH_CODE_MAX_BITS / 8));
    int64_t done = 0, last_id = 0;
    if (!ids || !boxes || !codes) {
        fmt(err, errlen, "out of memory");
        rc = DUCH_NOMEM;
        goto finish;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int ct = sqlite3_column_type(st, 1);
        if (ct == SQLITE_NULL)
            continue; /* no code: not searchable, as in the row path */
        if (sqlite3_column_type(st, 0) != SQLITE_INTEGER) {
            fmt(err, errlen, "tiles.tile_id must be an INTEGER");
            rc = DUCH_INVALID;
            goto finish;
        }
        int64_t id = sqlite3_column_int64(st, 0);
        if (done > 0 && id <= last_id) {
            fmt(err, errlen, "tiles.tile_id %lld is not unique", (long long)id);
            rc = DUCH_INVALID;
            goto finish;
        }
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if (ct != SQLITE_BLOB) {
            fmt(err, errlen, "tiles.code of tile_id %lld is not a BLOB", (long long)id);
            rc = DUCH_MISMATCH;
            goto finish;
        }
        if (!nbytes) {
            if (len < DUCH_CODE_MIN_BITS / 8 || len > DUCH_CODE_MAX_BITS / 8) {
                fmt(err, errlen, "tiles.code of tile_id %lld has %zu bytes; codes are %d to %d bytes",
                    (long long)id, len, DUCH_CODE_MIN_BITS / 8, DUCH_CODE_MAX_BITS / 8);
                rc = DUCH_MISMATCH;
                goto finish;
            }
            nbytes = len;
        } else if (len != nbytes) {
            fmt(err, errlen, "tiles.code has codes of %zu and %zu bytes (tile_id %lld): all codes"
                " must have one length", nbytes, len, (long long)id);
            rc = DUCH_MISMATCH;
            goto finish;
        }
        ids[n] = id;
        memcpy(codes + n * nbytes, sqlite3_column_blob(st, 1), nbytes);
        double *b = boxes + 4 * n;
        if (!duch_geometry_blob_box(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), b))
            b[0] = b[1] = b[2] = b[3] = NAN;
        n++;
        done++;
        last_id = id;
        if (n == REBUILD_BLOCK) {
            if ((rc = insert_block(db, ids, codes, boxes, n, nbytes, err, errlen)))
                goto finish;
            n = 0;
            if (progress && !progress(total ? (double)done / total : 1.0, "packing codes", arg)) {
                fmt(err, errlen, "interrupted");
                rc = DUCH_INTERRUPTED;
                goto finish;
            }
        }
    }
    if (r != SQLITE_DONE) {
        fmt(err, errlen, "reading tiles: %s", sqlite3_errmsg(db));
        rc = st_rc(db);
        goto finish;
    }
    if (n && (rc = insert_block(db, ids, codes, boxes, n, nbytes, err, errlen)))
        goto finish;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(db, "UPDATE main.duch_blocks_version SET blocks = tiles", NULL, NULL, NULL) !=
        SQLITE_OK) {
        fmt(err, errlen, "updating duch_blocks_version: %s", sqlite3_errmsg(db));
        rc = st_rc(db);
        goto finish;
    }
    if (progress)
        progress(1.0, "packing codes", arg);
    if (ntiles_out)
        *ntiles_out = done;
    rc = DUCH_OK;
finish:
    sqlite3_finalize(st);
    free(ids);
    free(boxes);
    free(codes);
    return rc;
}

/* -------------------------------------------------------------------- engine */

typedef struct segment {
    size_t pos, n;          /* positions pos..pos+n-1 of the packed array */
    int64_t first_id;       /* ids first_id.. when ids is NULL */
    int64_t *ids;           /* else n explicit ids */
    sqlite3_int64 block_id; /* the block it came from */
    double ext[4];          /* the box of its tiles' boxes; NaN when none has one */
    int boxes_loaded;       /* its boxes are in engine.boxes */
} segment;

struct duch_engine {
    sqlite3 *db;
    int valid, provisional;
    unsigned int data_version;
    sqlite3_int64 changes;
    int schema;
    int from_blocks;
    size_t n, nbytes;
    unsigned char *codes;   /* n * nbytes, 64-byte aligned (block path: mapped, codes_map;
                               row path: the data of rows) */
    size_t codes_map;       /* bytes mapped for codes, 0 in the row path */
    duch_codes *rows;       /* row path: (tile_id, code) in rowid order */
    int64_t *ids;           /* row path: the ids of rows (NULL in the block path) */
    int64_t *rowids;        /* row path: rowids when they differ from the ids */
    segment *segs;          /* block path */
    size_t nseg;
    double *boxes;          /* 4 per code (mapped, boxes_map bytes); rows: all loaded on the
                               first box query; blocks: a block's when a box touches it */
    size_t boxes_map;
    size_t *subset;         /* scratch for box queries */
    double load_s;
    char why_rows[256];
    char msg[768];
};

/* Large arrays are mapped, not malloc'ed: pages come in 2 MiB huge pages where the
 * kernel allows (a fresh 80 MB array faults 40 times instead of 20 000), and the pages
 * of a box array that no query touches cost nothing. */
static void *big_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= (2u << 20))
        madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

static void big_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : 1);
}

static int eset(duch_engine *e, int rc, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int eset(duch_engine *e, int rc, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    duch_vsnprintf(e->msg, sizeof e->msg, f, ap);
    va_end(ap);
    return rc;
}

static void engine_clear(duch_engine *e)
{
    if (e->codes_map)
        big_free(e->codes, e->codes_map);
    duch_codes_free(e->rows); /* row path: codes and ids point into it */
    e->rows = NULL;
    free(e->rowids);
    for (size_t i = 0; i < e->nseg; i++)
        free(e->segs[i].ids);
    free(e->segs);
    big_free(e->boxes, e->boxes_map);
    free(e->subset);
    e->codes = NULL;
    e->codes_map = e->boxes_map = 0;
    e->ids = e->rowids = NULL;
    e->segs = NULL;
    e->boxes = NULL;
    e->subset = NULL;
    e->nseg = e->n = e->nbytes = 0;
    e->valid = e->from_blocks = 0;
}

int duch_engine_new(struct sqlite3 *db, duch_engine **out)
{
    if (!out)
        return DUCH_INVALID;
    *out = NULL;
    if (!db)
        return DUCH_INVALID;
    duch_engine *e = calloc(1, sizeof *e);
    if (!e)
        return DUCH_NOMEM;
    e->db = db;
    *out = e;
    return DUCH_OK;
}

void duch_engine_free(duch_engine *e)
{
    if (!e)
        return;
    engine_clear(e);
    free(e);
}

const char *duch_engine_errmsg(const duch_engine *e)
{
    return !e ? "out of memory" : e->msg[0] ? e->msg : "no error";
}

static int engine_key(duch_engine *e, unsigned int *dv, sqlite3_int64 *changes, int *schema)
{
    *dv = 0;
    if (sqlite3_file_control(e->db, "main", SQLITE_FCNTL_DATA_VERSION, dv) != SQLITE_OK)
        *dv = 0;
    *changes = sqlite3_total_changes64(e->db);
    sqlite3_stmt *st = NULL;
    int rc = DUCH_OK;
    if (sqlite3_prepare_v2(e->db, "PRAGMA main.schema_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        *schema = sqlite3_column_int(st, 0);
    else
        rc = eset(e, st_rc(e->db), "%s", sqlite3_errmsg(e->db));
    sqlite3_finalize(st);
    return rc;
}

/* the codes from the blocks; DUCH_NOTFOUND (why in e->why_rows) when they cannot serve.
 * The block list comes first (without the codes), then each block's codes are read
 * with incremental BLOB I/O straight into the packed array: one sequential pass. */
static int load_blocks(duch_engine *e)
{
    sqlite3_stmt *st = NULL;
    sqlite3_blob *blob = NULL;
    int rc = DUCH_OK;
    size_t n = 0, nbytes = 0, cap = 0;
    const char *bad = NULL;
    if (sqlite3_prepare_v2(e->db, "SELECT c.block_id, c.first_tile, c.ntiles, c.code_bytes,"
                           " length(c.codes), c.tile_ids, b.minx, b.miny, b.maxx, b.maxy"
                           " FROM main.duch_code_blocks c LEFT JOIN main.duch_box_blocks b"
                           " USING (block_id) ORDER BY c.block_id", -1, &st, NULL) != SQLITE_OK) {
        /* tables of another shape (an older duch, or changed by hand): the rows serve */
        fmt(e->why_rows, sizeof e->why_rows, "the code block tables are not as this duch writes"
            " them (%s; run duch optimize)", sqlite3_errmsg(e->db));
        sqlite3_finalize(st);
        return DUCH_NOTFOUND;
    }
    int64_t last = INT64_MIN;
    int r = SQLITE_DONE;
    while (!bad && (r = sqlite3_step(st)) == SQLITE_ROW) {
        size_t bn = (size_t)sqlite3_column_int64(st, 2);
        size_t cb = (size_t)sqlite3_column_int64(st, 3);
        int64_t first = sqlite3_column_int64(st, 1);
        if (!nbytes)
            nbytes = cb;
        if (bn == 0 || bn > (1u << 24) || cb != nbytes || cb < DUCH_CODE_MIN_BITS / 8 ||
            cb > DUCH_CODE_MAX_BITS / 8 || (size_t)sqlite3_column_int64(st, 4) != bn * nbytes) {
            bad = "a code block does not hold the codes it says, or codes of another length";
            break;
        }
        if (e->nseg == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            segment *ns = realloc(e->segs, ncap * sizeof *ns);
            if (!ns) {
                sqlite3_finalize(st);
                return eset(e, DUCH_NOMEM, "out of memory");
            }
            e->segs = ns;
            cap = ncap;
        }
        segment *sg = &e->segs[e->nseg++];
        memset(sg, 0, sizeof *sg);
        sg->pos = n;
        sg->n = bn;
        sg->first_id = first;
        sg->block_id = sqlite3_column_int64(st, 0);
        for (int j = 0; j < 4; j++)
            sg->ext[j] = sqlite3_column_type(st, 6 + j) == SQLITE_NULL ? NAN
                                                                     : sqlite3_column_double(st, 6 + j);
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            size_t ilen = (size_t)sqlite3_column_bytes(st, 5);
            if (ilen != bn * 8) {
                bad = "a code block's tile ids do not match its codes";
                break;
            }
            if (!(sg->ids = malloc(ilen))) {
                sqlite3_finalize(st);
                return eset(e, DUCH_NOMEM, "out of memory");
            }
            memcpy(sg->ids, sqlite3_column_blob(st, 5), ilen);
            for (size_t i = 0; i < bn && !bad; i++)
                if (sg->ids[i] <= (i ? sg->ids[i - 1] : last))
                    bad = "the code blocks' tile ids are not ascending";
            last = sg->ids[bn - 1];
        } else {
            if (first <= last || first > INT64_MAX - (int64_t)bn)
                bad = "the code blocks' tile ids are not ascending";
            last = first + (int64_t)bn - 1;
        }
        n += bn;
    }
    if (!bad && r != SQLITE_DONE) {
        rc = eset(e, st_rc(e->db), "reading duch_code_blocks: %s", sqlite3_errmsg(e->db));
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    if (bad) {
        fmt(e->why_rows, sizeof e->why_rows, "%s (run duch optimize)", bad);
        return DUCH_NOTFOUND;
    }
    e->codes_map = (n * nbytes + 63) / 64 * 64 + 64;
    e->codes = big_alloc(e->codes_map);
    if (!e->codes) {
        e->codes_map = 0;
        return eset(e, DUCH_NOMEM, "out of memory (%zu codes)", n);
    }
    for (size_t i = 0; i < e->nseg; i++) {
        segment *sg = &e->segs[i];
        int orc = blob ? sqlite3_blob_reopen(blob, sg->block_id)
                       : sqlite3_blob_open(e->db, "main", "duch_code_blocks", "codes", sg->block_id,
                                           0, &blob);
        if (orc != SQLITE_OK || sqlite3_blob_bytes(blob) != (int)(sg->n * nbytes) ||
            sqlite3_blob_read(blob, e->codes + sg->pos * nbytes, (int)(sg->n * nbytes), 0) !=
                SQLITE_OK) {
            rc = eset(e, st_rc(e->db), "reading code block %lld: %s", (long long)sg->block_id,
                      sqlite3_errmsg(e->db));
            sqlite3_blob_close(blob);
            return rc;
        }
    }
    sqlite3_blob_close(blob);
    e->n = n;
    e->nbytes = nbytes;
    e->from_blocks = 1;
    return DUCH_OK;
}

/* the codes from the rows of tiles, in rowid order (or tile_id order for a view or a
 * WITHOUT ROWID table) */
static int load_rows(duch_engine *e)
{
    sqlite3_stmt *st = NULL;
    int rc = DUCH_OK;
    size_t cap = 0, nbytes = 0, n = 0;
    int same_ids = 1;
    if (sqlite3_prepare_v2(e->db, "SELECT rowid, tile_id, code FROM main.tiles ORDER BY rowid", -1,
                           &st, NULL) != SQLITE_OK) {
        const char *m = sqlite3_errmsg(e->db);
        if (strstr(m, "no such table"))
            return eset(e, DUCH_NOTFOUND, "no table named tiles in the main database (it needs"
                        " tiles(tile_id INTEGER, code BLOB))");
        sqlite3_finalize(st);
        st = NULL;
        if (sqlite3_prepare_v2(e->db, "SELECT tile_id, tile_id, code FROM main.tiles ORDER BY tile_id",
                               -1, &st, NULL) != SQLITE_OK)
            return eset(e, DUCH_INVALID, "main.tiles needs columns tile_id INTEGER and code BLOB: %s",
                        sqlite3_errmsg(e->db));
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int ct = sqlite3_column_type(st, 2);
        if (ct == SQLITE_NULL)
            continue; /* a tile without a code is not searchable */
        if (sqlite3_column_type(st, 1) != SQLITE_INTEGER) {
            rc = eset(e, DUCH_INVALID, "tiles.tile_id must be an INTEGER (row %lld has a %s)",
                      (long long)sqlite3_column_int64(st, 0),
                      sqlite3_column_type(st, 1) == SQLITE_NULL ? "NULL" : "non-integer");
            goto finish;
        }
        int64_t id = sqlite3_column_int64(st, 1);
        if (ct != SQLITE_BLOB) {
            rc = eset(e, DUCH_MISMATCH, "tiles.code must be a BLOB (tile_id %lld has a %s)",
                      (long long)id, ct == SQLITE_TEXT ? "TEXT" : "number");
            goto finish;
        }
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (!nbytes) {
            if (len < DUCH_CODE_MIN_BITS / 8 || len > DUCH_CODE_MAX_BITS / 8) {
                rc = eset(e, DUCH_MISMATCH, "tiles.code of tile_id %lld has %d bytes; codes are"
                          " %d to %d bytes (%d..%d bits)", (long long)id, (int)len,
                          DUCH_CODE_MIN_BITS / 8, DUCH_CODE_MAX_BITS / 8, DUCH_CODE_MIN_BITS,
                          DUCH_CODE_MAX_BITS);
                goto finish;
            }
            nbytes = len;
        } else if (len != nbytes) {
            rc = eset(e, DUCH_MISMATCH, "tiles.code has codes of %d and %d bytes (tile_id %lld):"
                      " all codes of a table must have one length", (int)nbytes, (int)len,
                      (long long)id);
            goto finish;
        }
        if (!e->rows && duch_codes_new(nbytes, &e->rows) != DUCH_OK) {
            rc = eset(e, DUCH_NOMEM, "out of memory");
            goto finish;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            int64_t *rowids = realloc(e->rowids, ncap * sizeof *rowids);
            if (!rowids) {
                rc = eset(e, DUCH_NOMEM, "out of memory (%zu codes)", ncap);
                goto finish;
            }
            e->rowids = rowids;
            cap = ncap;
        }
        if (duch_codes_append(e->rows, id, sqlite3_column_blob(st, 2)) != DUCH_OK) {
            rc = eset(e, DUCH_NOMEM, "out of memory (%zu codes)", n + 1);
            goto finish;
        }
        e->rowids[n] = sqlite3_column_int64(st, 0);
        if (e->rowids[n] != id)
            same_ids = 0;
        n++;
    }
    if (r != SQLITE_DONE)
        rc = eset(e, st_rc(e->db), "reading tiles: %s", sqlite3_errmsg(e->db));
finish:
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (same_ids) {
        free(e->rowids);
        e->rowids = NULL;
    }
    e->n = n;
    e->nbytes = nbytes;
    e->codes = (unsigned char *)duch_codes_data(e->rows);
    e->ids = (int64_t *)duch_codes_ids(e->rows);
    return DUCH_OK;
}

/* (Re)load the codes when the database changed since they were loaded. */
/* One statement left stepped holds a read transaction: while it lives, everything a
 * search reads (the key, the codes, the boxes of the blocks a box touches) comes from one
 * snapshot of the file, whatever other connections commit meanwhile (an optimize drops
 * and renumbers the blocks). Finalize it with sqlite3_finalize. */
static int hold_snapshot(duch_engine *e, sqlite3_stmt **anchor)
{
    *anchor = NULL;
    if (sqlite3_prepare_v2(e->db, "SELECT count(*) FROM main.sqlite_master", -1, anchor, NULL) !=
            SQLITE_OK ||
        sqlite3_step(*anchor) != SQLITE_ROW) {
        int rc = eset(e, st_rc(e->db), "%s", sqlite3_errmsg(e->db));
        sqlite3_finalize(*anchor);
        *anchor = NULL;
        return rc;
    }
    return DUCH_OK;
}

/* call with a snapshot held (hold_snapshot) */
static int engine_load(duch_engine *e)
{
    unsigned int dv;
    sqlite3_int64 changes;
    int schema = 0;
    int rc = engine_key(e, &dv, &changes, &schema);
    if (rc || (e->valid && !e->provisional && e->data_version == dv && e->changes == changes &&
               e->schema == schema))
        return rc;
    double t0 = mono_s();
    engine_clear(e);
    e->why_rows[0] = 0;
    int cur = blocks_current(e->db, e->why_rows, sizeof e->why_rows);
    rc = cur == 1 ? load_blocks(e) : DUCH_NOTFOUND;
    if (rc == DUCH_NOTFOUND) {
        engine_clear(e);
        rc = load_rows(e);
    }
    if (rc) {
        engine_clear(e);
        return rc;
    }
    e->data_version = dv;
    e->changes = changes;
    e->schema = schema;
    e->provisional = sqlite3_txn_state(e->db, "main") == SQLITE_TXN_WRITE;
    e->valid = 1;
    e->load_s = mono_s() - t0;
    return DUCH_OK;
}

/* position of rowid key in the row-path arrays, or -1 */
static ptrdiff_t row_find(const duch_engine *e, int64_t key)
{
    const int64_t *keys = e->rowids ? e->rowids : e->ids;
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->n && keys[lo] == key ? (ptrdiff_t)lo : -1;
}

static int boxes_array(duch_engine *e)
{
    if (e->boxes)
        return DUCH_OK;
    e->boxes_map = (e->n ? e->n : 1) * 4 * sizeof *e->boxes;
    e->boxes = big_alloc(e->boxes_map);
    if (!e->boxes) {
        e->boxes_map = 0;
        return eset(e, DUCH_NOMEM, "out of memory (%zu boxes)", e->n);
    }
    return DUCH_OK;
}

/* the boxes of one block, read when a query box first touches its extent */
static int load_segment_boxes(duch_engine *e, segment *sg, sqlite3_blob **blob)
{
    int orc = *blob ? sqlite3_blob_reopen(*blob, sg->block_id)
                    : sqlite3_blob_open(e->db, "main", "duch_box_blocks", "boxes", sg->block_id, 0,
                                        blob);
    if (orc != SQLITE_OK || sqlite3_blob_bytes(*blob) != (int)(sg->n * 32))
        return eset(e, DUCH_CORRUPT, "the box block of code block %lld is missing or of the wrong"
                    " size (run duch optimize)", (long long)sg->block_id);
    if (sqlite3_blob_read(*blob, e->boxes + 4 * sg->pos, (int)(sg->n * 32), 0) != SQLITE_OK)
        return eset(e, st_rc(e->db), "reading box block %lld: %s", (long long)sg->block_id,
                    sqlite3_errmsg(e->db));
    sg->boxes_loaded = 1;
    return DUCH_OK;
}

/* row path: every footprint's box, read once */
static int load_row_boxes(duch_engine *e)
{
    int rc = boxes_array(e);
    if (rc)
        return rc;
    for (size_t i = 0; i < 4 * e->n; i++)
        e->boxes[i] = NAN;
    sqlite3_stmt *st = NULL;
    int r;
    if (sqlite3_prepare_v2(e->db, "SELECT rowid, footprint FROM main.tiles", -1, &st, NULL) !=
        SQLITE_OK) {
        sqlite3_finalize(st);
        st = NULL;
        if (sqlite3_prepare_v2(e->db, "SELECT tile_id, footprint FROM main.tiles", -1, &st, NULL) !=
            SQLITE_OK) {
            rc = eset(e, DUCH_INVALID, "a bounding box needs a footprint column in tiles: %s",
                      sqlite3_errmsg(e->db));
            goto finish;
        }
    }
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        ptrdiff_t pos = row_find(e, sqlite3_column_int64(st, 0));
        if (pos < 0 || sqlite3_column_type(st, 1) != SQLITE_BLOB)
            continue;
        double box[4];
        if (duch_geometry_blob_box(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
                                   box))
            memcpy(e->boxes + 4 * pos, box, sizeof box);
    }
    if (r != SQLITE_DONE)
        rc = eset(e, st_rc(e->db), "reading footprints: %s", sqlite3_errmsg(e->db));
finish:
    sqlite3_finalize(st);
    if (rc) {
        big_free(e->boxes, e->boxes_map);
        e->boxes = NULL;
        e->boxes_map = 0;
    }
    return rc;
}

/* positions (ascending) of the tiles whose box intersects bbox, into e->subset */
static int select_box(duch_engine *e, const double bbox[4], size_t *nsel)
{
    *nsel = 0;
    if (!e->subset && !(e->subset = malloc((e->n ? e->n : 1) * sizeof *e->subset)))
        return eset(e, DUCH_NOMEM, "out of memory");
    if (!e->from_blocks) {
        int rc = e->boxes ? DUCH_OK : load_row_boxes(e);
        if (rc)
            return rc;
        *nsel = duch_bbox_select(e->boxes, e->n, bbox, e->subset);
        return DUCH_OK;
    }
    int rc = boxes_array(e);
    if (rc)
        return rc;
    sqlite3_blob *blob = NULL;
    size_t m = 0;
    for (size_t i = 0; i < e->nseg; i++) {
        segment *sg = &e->segs[i];
        const double *x = sg->ext;
        /* written so that a NaN extent (no footprints) never matches */
        if (!(x[0] <= bbox[2] && x[2] >= bbox[0] && x[1] <= bbox[3] && x[3] >= bbox[1]))
            continue;
        if (!sg->boxes_loaded && (rc = load_segment_boxes(e, sg, &blob)))
            break;
        size_t k = duch_bbox_select(e->boxes + 4 * sg->pos, sg->n, bbox, e->subset + m);
        for (size_t j = 0; j < k; j++)
            e->subset[m + j] += sg->pos;
        m += k;
    }
    sqlite3_blob_close(blob);
    *nsel = m;
    return rc;
}

static int64_t tile_id_at(const duch_engine *e, size_t pos)
{
    size_t lo = 0, hi = e->nseg;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->segs[mid].pos <= pos)
            lo = mid;
        else
            hi = mid;
    }
    const segment *s = &e->segs[lo];
    return s->ids ? s->ids[pos - s->pos] : s->first_id + (int64_t)(pos - s->pos);
}

static int search_loaded(duch_engine *e, const unsigned char *query, size_t qlen,
                         const double *bbox, size_t k, duch_hit *hits, size_t *nhits);

int duch_engine_search(duch_engine *e, const unsigned char *query, size_t qlen,
                       const double *bbox, size_t k, duch_hit *hits, size_t *nhits)
{
    if (nhits)
        *nhits = 0;
    if (!e)
        return DUCH_INVALID;
    e->msg[0] = 0;
    if (!query || !hits || !nhits || k == 0)
        return eset(e, DUCH_INVALID, "duch_engine_search: NULL argument or k = 0");
    if (qlen < DUCH_CODE_MIN_BITS / 8 || qlen > DUCH_CODE_MAX_BITS / 8)
        return eset(e, DUCH_INVALID, "the query code has %zu bytes; codes are %d to %d bytes", qlen,
                    DUCH_CODE_MIN_BITS / 8, DUCH_CODE_MAX_BITS / 8);
    if (bbox) {
        char why[300];
        if (duch_bbox_check(bbox, why, sizeof why))
            return eset(e, DUCH_INVALID, "%s", why);
    }
    sqlite3_stmt *anchor = NULL;
    int rc = hold_snapshot(e, &anchor);
    if (!rc)
        rc = engine_load(e);
    if (!rc)
        rc = search_loaded(e, query, qlen, bbox, k, hits, nhits);
    sqlite3_finalize(anchor);
    return rc;
}

static int search_loaded(duch_engine *e, const unsigned char *query, size_t qlen,
                         const double *bbox, size_t k, duch_hit *hits, size_t *nhits)
{
    int rc;
    if (e->n == 0)
        return DUCH_OK;
    if (qlen != e->nbytes)
        return eset(e, DUCH_MISMATCH, "the query code has %zu bytes but the tiles have %zu-byte"
                    " codes", qlen, e->nbytes);
    const size_t *subset = NULL;
    size_t nsubset = 0;
    if (bbox) {
        if ((rc = select_box(e, bbox, &nsubset)))
            return rc;
        subset = e->subset;
        if (nsubset == 0)
            return DUCH_OK;
    }
    /* block path: positions ascend with tile ids, so searching by position breaks ties
     * by tile id; the row path passes its ids */
    rc = duch_topk(NULL, e->codes, e->from_blocks ? NULL : e->ids, e->n, e->nbytes, query,
                   subset, nsubset, k, hits, nhits);
    if (rc)
        return eset(e, rc, "top-k search failed (status %d)", rc);
    if (e->from_blocks)
        for (size_t i = 0; i < *nhits; i++)
            hits[i].id = tile_id_at(e, hits[i].pos);
    return DUCH_OK;
}

int duch_engine_stats(duch_engine *e, duch_engine_info *out)
{
    if (!e || !out)
        return DUCH_INVALID;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *anchor = NULL;
    int rc = hold_snapshot(e, &anchor);
    if (!rc)
        rc = engine_load(e);
    sqlite3_finalize(anchor);
    if (rc)
        return rc;
    out->tiles = e->n;
    out->code_bytes = e->nbytes;
    out->from_blocks = e->from_blocks;
    out->load_seconds = e->load_s;
    snprintf(out->why_rows, sizeof out->why_rows, "%s", e->from_blocks ? "" : e->why_rows);
    return DUCH_OK;
}

/* ------------------------------------------------------------ stored model */

void duch_stored_model_clear(duch_stored_model *m)
{
    if (!m)
        return;
    big_free(m->data, m->map_bytes);
    memset(m, 0, sizeof *m);
}

int duch_db_stored_model(struct sqlite3 *db, int with_data, duch_stored_model *out, char *err,
                         size_t errlen)
{
    if (!out)
        return DUCH_INVALID;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT model_id, bits, rowid, length(data) FROM main.duch_model"
                           " LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
        fmt(err, errlen, "this database is not a duch archive: it has no duch_model table holding"
            " the model that made its codes");
        sqlite3_finalize(st);
        return DUCH_NOTFOUND;
    }
    int r = sqlite3_step(st), rc = DUCH_OK;
    if (r != SQLITE_ROW) {
        if (r == SQLITE_DONE) {
            fmt(err, errlen, "the archive holds no model (index a scene with duch index first)");
            rc = DUCH_NOTFOUND;
        } else {
            fmt(err, errlen, "reading duch_model: %s", sqlite3_errmsg(db));
            rc = st_rc(db);
        }
        goto finish;
    }
    const char *id = (const char *)sqlite3_column_text(st, 0);
    fmt(out->id, sizeof out->id, "%s", id ? id : "");
    out->bits = sqlite3_column_int(st, 1);
    if (!with_data)
        goto finish;
    /* straight from the file into a mapped buffer (huge pages where the kernel allows):
     * a model is megabytes, and every query process reads it */
    out->size = (size_t)sqlite3_column_int64(st, 3);
    out->map_bytes = out->size ? out->size : 1;
    out->data = big_alloc(out->map_bytes);
    if (!out->data) {
        out->map_bytes = 0;
        fmt(err, errlen, "out of memory (a model of %zu bytes)", out->size);
        rc = DUCH_NOMEM;
        goto finish;
    }
    sqlite3_blob *b = NULL;
    if (out->size && (sqlite3_blob_open(db, "main", "duch_model", "data", sqlite3_column_int64(st, 2),
                                        0, &b) != SQLITE_OK ||
                      sqlite3_blob_read(b, out->data, (int)out->size, 0) != SQLITE_OK)) {
        fmt(err, errlen, "reading duch_model: %s", sqlite3_errmsg(db));
        rc = st_rc(db);
    }
    sqlite3_blob_close(b);
finish:
    sqlite3_finalize(st);
    if (rc)
        duch_stored_model_clear(out);
    return rc;
}
