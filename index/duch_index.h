/*
 * duch_index.h: packed binary codes, Hamming kernels, exact top-k, and the archive.
 *
 * Codes.  A code of K bits (K a multiple of 8, DUCH_CODE_MIN_BITS..DUCH_CODE_MAX_BITS)
 * is K/8 bytes; bit j is (code[j/8] >> (j%8)) & 1, as the model writes it. A set of n
 * codes of one length is "packed": n * nbytes contiguous bytes, code i at i * nbytes.
 *
 * Kernels.  A kernel computes the Hamming distances between one query and n packed
 * codes. duch_kernels() lists them: "portable" (plain C, always available) first, then
 * the fast ones ("popcnt", "avx2", "avx512") that need a CPU feature, checked at run
 * time. duch_kernel_best() is the fastest one this CPU runs.
 *
 * Top-k.  duch_topk() returns the k codes nearest to a query, exactly: ascending
 * distance, ties broken by ascending id. It can be restricted to a subset of positions
 * (e.g. those whose footprint box intersects a query box, see duch_bbox_select()).
 * duch_codes is a growable packed array of (id, code) with the same search.
 *
 * Archive.  One SpatiaLite file holding scenes, tiles (one code BLOB and one EPSG:4326
 * footprint per tile, with a spatial index), the model that made the codes, and a
 * metadata table (schema: docs/archive.md). duch_archive_open() refuses files that are
 * not archives or have a newer schema version. Writes go one scene per transaction:
 * the rows of a scene appear only at duch_archive_commit_scene(). The file is in WAL
 * mode: readers and one writer can work at the same time.
 *
 * Errors follow sqlite3: int status codes (enum duch_status, duch_model.h) and, for an
 * archive, a message owned by the handle (duch_archive_errmsg). Functions without a
 * handle return DUCH_INVALID for bad arguments and DUCH_NOMEM when out of memory.
 *
 * This header compiles as plain C99.
 */
#ifndef DUCH_INDEX_H
#define DUCH_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "duch_common.h" /* enum duch_status, duch_progress_fn */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ codes */

#define DUCH_CODE_MIN_BITS 16
#define DUCH_CODE_MAX_BITS 1024

/* 1 when bits is a supported code length (a multiple of 8 in 16..1024), else 0. */
int duch_code_bits_valid(int bits);

/* ---------------------------------------------------------------- kernels */

/* dist[i] = Hamming distance between query and codes + i * nbytes, for i < n.
 * nbytes: 1..DUCH_CODE_MAX_BITS/8 (any value; the fast kernels have special paths for
 * 8, 16, 32 and multiples of 32/64). No alignment required. */
typedef void (*duch_scan_fn)(const unsigned char *codes, size_t n, size_t nbytes,
                             const unsigned char *query, uint16_t *dist);

/* The codes within max_dist of query: for i < n (n <= 65536) with distance <= max_dist,
 * writes i to pos[] and the distance to dist[] (in ascending i) and returns their count.
 * pos and dist need room for n. The fused form of scan + compare that top-k uses: the
 * fast kernels test 4 or 8 codes at once and write nothing for codes that are too far. */
typedef size_t (*duch_filter_fn)(const unsigned char *codes, size_t n, size_t nbytes,
                                 const unsigned char *query, unsigned max_dist,
                                 uint32_t *pos, uint16_t *dist);

typedef struct duch_kernel {
    const char *name;          /* "portable", "popcnt", "avx2", "avx512" */
    const char *needs;         /* the CPU features it needs, for messages */
    int (*available)(void);    /* 1 when this CPU (and OS) can run it */
    duch_scan_fn scan;
    duch_filter_fn filter;
} duch_kernel;

/* The kernel table (static storage, do not free); *count gets its length. Entry 0 is
 * "portable". Entries whose available() returns 0 must not be called. */
const duch_kernel *duch_kernels(size_t *count);
/* The fastest available kernel (never NULL). */
const duch_kernel *duch_kernel_best(void);
/* The kernel of that name if it exists and is available, else NULL. */
const duch_kernel *duch_kernel_find(const char *name);
/* Hamming distance of two codes of nbytes bytes, with the best kernel. */
unsigned duch_hamming(const unsigned char *a, const unsigned char *b, size_t nbytes);

/* ------------------------------------------------------------------ top-k */

typedef struct duch_hit {
    int64_t id;                /* ids[pos], or pos when ids is NULL */
    uint32_t distance;
    size_t pos;                /* position of the code in the packed array */
} duch_hit;

/* Exact top-k of query over n packed codes (codes: n * nbytes bytes, ids: n ids or
 * NULL for "id = position"). When subset is not NULL only the positions
 * subset[0..nsubset) are searched (they must be < n; any order; duplicates are the
 * caller's fault). hits must hold min(k, candidates) entries; *nhits gets their number.
 * Hits are sorted by ascending distance, then ascending id. kernel NULL = best.
 * Returns DUCH_OK, DUCH_INVALID (nbytes out of range, k == 0, NULL pointers) or
 * DUCH_NOMEM. Memory: a few KiB plus k entries. */
int duch_topk(const duch_kernel *kernel, const unsigned char *codes, const int64_t *ids,
              size_t n, size_t nbytes, const unsigned char *query,
              const size_t *subset, size_t nsubset, size_t k,
              duch_hit *hits, size_t *nhits);

/* Positions i < n whose box mbr[4i..4i+3] = (minx, miny, maxx, maxy) intersects
 * bbox = (minx, miny, maxx, maxy) (edges touching count), written in ascending order to
 * out (room for n). Boxes with a NaN never match. Returns the count. */
size_t duch_bbox_select(const double *mbr, size_t n, const double bbox[4], size_t *out);

/* A growable packed array of (id, code), all codes nbytes long. */
typedef struct duch_codes duch_codes;

/* New empty array for codes of nbytes bytes (1..128). Free with duch_codes_free(). */
int duch_codes_new(size_t nbytes, duch_codes **out);
void duch_codes_free(duch_codes *c);                  /* accepts NULL */
int duch_codes_reserve(duch_codes *c, size_t n);      /* room for n codes in all */
int duch_codes_append(duch_codes *c, int64_t id, const unsigned char *code);
void duch_codes_clear(duch_codes *c);                 /* count = 0, memory kept */
size_t duch_codes_count(const duch_codes *c);
size_t duch_codes_nbytes(const duch_codes *c);
/* The packed codes (count * nbytes bytes, 64-byte aligned) and ids; owned by c, valid
 * until the next append/reserve/clear/free. */
const unsigned char *duch_codes_data(const duch_codes *c);
const int64_t *duch_codes_ids(const duch_codes *c);
/* duch_topk() over the array with the best kernel. */
int duch_codes_search(const duch_codes *c, const unsigned char *query, size_t k,
                      const size_t *subset, size_t nsubset,
                      duch_hit *hits, size_t *nhits);

/* ----------------------------------------------------------- search engine */

struct sqlite3;

/* The one exact search (index/engine.c) over the table tiles(tile_id INTEGER, code BLOB
 * [, footprint geometry]) of a connection's main database: an archive, or any SQLite
 * file with such a table. `duch query`, the DUCH: layer and SQL's duch_knn all use it.
 *
 * It keeps the codes in memory, read on first use from the packed code blocks (one
 * sequential pass; docs/archive.md) when they are current, else from the rows, and read
 * again when the database changed (other connections' commits, this connection's
 * changes, the schema). Results are exact: ascending Hamming distance, ties by ascending
 * tile_id. With a box (minx, miny, maxx, maxy in the footprints' CRS, EPSG:4326 for an
 * archive; checked by duch_bbox_check), only tiles whose footprint's exact bounding box
 * intersects it (edges touching count) are candidates; tiles without a footprint never
 * are. Tiles without a code (NULL) are not searched. The engine does not own db; free it
 * before closing db. */
typedef struct duch_engine duch_engine;

int duch_engine_new(struct sqlite3 *db, duch_engine **out);
void duch_engine_free(duch_engine *e);                 /* accepts NULL */
/* Message of the last failed call; never NULL; owned by e. */
const char *duch_engine_errmsg(const duch_engine *e);
/* The k nearest tiles to query (qlen bytes); bbox NULL for no box. hits has room for k;
 * hits[i].id is the tile_id. DUCH_OK, DUCH_INVALID (bad arguments or box),
 * DUCH_MISMATCH (codes of another length than the query, or of mixed lengths),
 * DUCH_NOTFOUND (no tiles table), DUCH_NOMEM, DUCH_IO. */
int duch_engine_search(duch_engine *e, const unsigned char *query, size_t qlen,
                       const double *bbox, size_t k, duch_hit *hits, size_t *nhits);

typedef struct duch_engine_info {
    size_t tiles;              /* searchable tiles */
    size_t code_bytes;         /* 0 when there are none */
    int from_blocks;           /* 1: read from the packed code blocks, 0: from the rows */
    double load_seconds;       /* time of the last (re)load */
    char why_rows[256];        /* from_blocks 0: why the blocks could not serve */
} duch_engine_info;
/* Load if needed and describe what the engine holds. */
int duch_engine_stats(duch_engine *e, duch_engine_info *out);

/* A query box (minx, miny, maxx, maxy; EPSG:4326 degrees): 4 finite numbers with
 * minx <= maxx and miny <= maxy (a line or a point is a box too), inside longitude
 * -180..180 and latitude -90..90. DUCH_OK, or DUCH_INVALID with the reason in err
 * (errlen bytes). parse reads "minx,miny,maxx,maxy" (spaces allowed) and checks it. Every
 * front end (duch query --bbox, the DUCH: layer's BBOX, duch_knn) checks boxes so. */
int duch_bbox_check(const double bbox[4], char *err, size_t errlen);
int duch_bbox_parse(const char *text, double bbox[4], char *err, size_t errlen);

/* The bounding box of a geometry BLOB (SpatiaLite's format, or GeoPackage with an
 * envelope): 1 and box = minx, miny, maxx, maxy; 0 when it is none of those. */
int duch_geometry_blob_box(const void *blob, size_t n, double box[4]);

/* Packed code blocks (the tables duch_code_blocks, duch_box_blocks, duch_blocks_version
 * and the triggers on tiles that keep the version; docs/archive.md). They need a
 * write transaction of the caller's, except install, which may run alone.
 *   install: create what is missing (new blocks start stale: tiles != blocks).
 *   is_current: 1 when the blocks are installed and hold every tile; else 0 and why
 *     (why may be NULL).
 *   append: add one block of n tiles (ascending ids, codes n * nbytes bytes, boxes 4
 *     per tile or NULL) written in this transaction; was_current is is_current() as it
 *     was before the transaction changed tiles: when 0, nothing is written (the blocks
 *     stay stale until rebuilt).
 *   rebuild: write the blocks again from the rows, in tile_id order; progress may be
 *     NULL; *ntiles gets the tiles packed. */
int duch_blocks_install(struct sqlite3 *db, char *err, size_t errlen);
int duch_blocks_is_current(struct sqlite3 *db, char *why, size_t whylen);
int duch_blocks_append(struct sqlite3 *db, int was_current, const int64_t *ids,
                       const unsigned char *codes, const double *boxes, size_t n, size_t nbytes,
                       char *err, size_t errlen);
int duch_blocks_rebuild(struct sqlite3 *db, duch_progress_fn progress, void *arg,
                        int64_t *ntiles, char *err, size_t errlen);

/* The model stored in a connection's duch_model table (an archive's; docs/archive.md).
 * with_data 0 reads its id and bits only. DUCH_OK; DUCH_NOTFOUND (no duch_model table,
 * or no model yet: err says which); DUCH_IO, DUCH_NOMEM. Free with
 * duch_stored_model_clear. */
typedef struct duch_stored_model {
    char id[128];
    int bits;
    void *data;            /* the .duchm file (with_data), size bytes; owned */
    size_t size;
    size_t map_bytes;      /* internal */
} duch_stored_model;
int duch_db_stored_model(struct sqlite3 *db, int with_data, duch_stored_model *out, char *err,
                         size_t errlen);
void duch_stored_model_clear(duch_stored_model *m);

/* ---------------------------------------------------------------- archive */

#define DUCH_ARCHIVE_SCHEMA_VERSION 2

/* duch_archive_open flags */
#define DUCH_ARCHIVE_READONLY  0x1   /* open an existing archive for reading */
#define DUCH_ARCHIVE_READWRITE 0x2   /* open an existing archive for writing */
#define DUCH_ARCHIVE_CREATE    0x4   /* with READWRITE: create the file (or initialise an
                                        empty one) when it is not an archive yet */

typedef struct duch_archive duch_archive;

/* Open (or create) an archive. Like sqlite3_open, *out is set to a handle even on
 * failure (NULL only when out of memory): read its message with duch_archive_errmsg()
 * and close it with duch_archive_close(). Returns
 *   DUCH_OK; DUCH_NOTFOUND (no such file, without CREATE); DUCH_INVALID (not an
 *   archive: not SQLite, or SQLite without the duch tables; or bad flags);
 *   DUCH_VERSION (schema newer than DUCH_ARCHIVE_SCHEMA_VERSION); DUCH_READONLY
 *   (READWRITE asked for a file or folder that cannot be written); DUCH_IO, DUCH_CORRUPT.
 * The connection has SpatiaLite initialised (spatialite_init_ex) for its own use. */
int duch_archive_open(const char *path, int flags, duch_archive **out);
/* 1 when name is a PostGIS archive, "PG:" and a libpq connection string (GDAL's
 * convention, e.g. PG:"dbname=duch host=/run/postgresql"); else 0. Such an archive is the
 * same tables in PostgreSQL (docs/archive.md, "PostGIS"), and every duch_archive_*
 * function works on it. */
int duch_archive_is_pg(const char *name);
/* name as messages should show it: a PG: string with its password replaced by ***, any
 * other name as it is. malloc'ed (free() it); NULL when out of memory. */
char *duch_archive_display_name(const char *name);
/* 1 when path is a regular SQLite file holding a duch archive (its duch_metadata table),
 * 0 when not, -1 when out of memory. Takes no lock and creates no file (a file without a
 * -wal file is read as immutable). For "is this mine?" checks (the GDAL driver). */
int duch_archive_identify(const char *path);
/* Whether an archive could be created at path: its folder exists and can be written
 * (also by root: a folder without any write bit counts as read-only). DUCH_OK,
 * DUCH_NOTFOUND or DUCH_READONLY with a message in err (errlen bytes). Creates nothing. */
int duch_archive_check_creatable(const char *path, char *err, size_t errlen);
/* Close; rolls back a scene that was begun and not committed. Accepts NULL. */
void duch_archive_close(duch_archive *a);
/* Message of the last failed call; never NULL; owned by a, valid until the next call. */
const char *duch_archive_errmsg(const duch_archive *a);
/* The path given to duch_archive_open (owned by a). */
const char *duch_archive_path(const duch_archive *a);

/* Store the model that makes this archive's codes: blob (size bytes, a .duchm file),
 * its id (model checksum) and its code length in bits. On an archive that has no model
 * yet, stores it. When a model with the same id is stored, does nothing (DUCH_OK).
 * When another model is stored: DUCH_MISMATCH (message names both ids). */
int duch_archive_set_model(duch_archive *a, const void *blob, size_t size,
                           const char *id, int bits);
/* The stored model: blob and size (either may be NULL to skip), id, bits. Memory owned
 * by a, valid until the next duch_archive_get_model() or close. DUCH_NOTFOUND when the
 * archive has no model yet. */
int duch_archive_get_model(duch_archive *a, const void **blob, size_t *size,
                           const char **id, int *bits);
/* Code length in bits of the archive (from its model), 0 when there is no model. */
int duch_archive_bits(duch_archive *a);

/* Find a completely indexed scene by path, and by checksum when checksum is not NULL.
 * DUCH_OK and *scene_id, or DUCH_NOTFOUND. */
int duch_archive_find_scene(duch_archive *a, const char *path, const char *checksum,
                            int64_t *scene_id);

typedef struct duch_scene_record {
    const char *path;             /* required */
    int width, height, bands;     /* raster size in pixels, band count */
    const char *crs_wkt;          /* may be NULL */
    double geotransform[6];       /* GDAL geotransform of the source */
    const char *checksum;         /* may be NULL */
    const double *footprint;      /* lon/lat pairs (EPSG:4326), npoints of them, closed
                                     or not; NULL/0 for none */
    int footprint_npoints;
    int tile_size, overlap;       /* tile grid in source pixels */
} duch_scene_record;

/* Writing scenes.
 *
 * A scene is identified by its path and checksum, and stored once. It is written in one
 * or more chunks, each one write transaction: begin_scene (first chunk) or
 * continue_scene / resume_scene (later ones), add_tile..., commit_chunk. Until its last
 * chunk commits, the scene row has complete = 0 and names its writer (scenes.writer, a
 * token of host, boot and process); the tiles of committed chunks are in `tiles`. A
 * writer that stops cleanly before the end calls release_scene, so that the next run
 * resumes it; a writer killed outright leaves its token, and the next writer resumes the
 * scene once it sees that process gone (same host: asked of the kernel; another host:
 * no chunk committed for 15 minutes). A small scene is one chunk: its rows appear at
 * once or not at all. */

typedef enum duch_scene_state {
    DUCH_SCENE_ABSENT = 0,     /* not in the archive */
    DUCH_SCENE_COMPLETE = 1,   /* indexed completely */
    DUCH_SCENE_BUSY = 2,       /* incomplete, and its writer still runs */
    DUCH_SCENE_RESUMABLE = 3   /* incomplete, its writer stopped or died: resume after its
                                  last stored tile */
} duch_scene_state;

typedef struct duch_scene_status {
    duch_scene_state state;
    int64_t scene_id;          /* not ABSENT */
    int64_t tiles;             /* tiles stored so far */
    int last_x_off, last_y_off;/* window origin of the last stored tile (tiles > 0) */
    int tile_size, overlap;    /* the grid it was begun with */
    char writer[192];          /* the writer's token, "" when none */
} duch_scene_status;

/* What the archive holds of scene (path, checksum); checksum NULL matches a NULL
 * checksum only. */
int duch_archive_scene_status(duch_archive *a, const char *path, const char *checksum,
                              duch_scene_status *out);

/* Begin a new scene: opens a write transaction, inserts the scene row (incomplete,
 * claimed by this handle) and writes its id to *scene_id. Under the write lock the
 * scene is looked up again: when it is in the archive already (complete, being written,
 * or resumable) nothing is written and DUCH_EXISTS says which. Only one open chunk at a
 * time per handle. Requires a stored model (the code length). DUCH_READONLY on a
 * read-only handle; DUCH_IO with SQLite's message when the write lock cannot be had. */
int duch_archive_begin_scene(duch_archive *a, const duch_scene_record *s, int64_t *scene_id);
/* Take over a RESUMABLE scene (expect: from duch_archive_scene_status) and open a write
 * transaction for its next chunk; DUCH_EXISTS when, under the write lock, it is no
 * longer as expect says (another writer got there first). */
int duch_archive_resume_scene(duch_archive *a, const char *path, const char *checksum,
                              const duch_scene_status *expect);
/* Open a write transaction for the next chunk of a scene this handle claimed;
 * DUCH_EXISTS when it is no longer this handle's (completed, deleted, taken over). */
int duch_archive_continue_scene(duch_archive *a, int64_t scene_id);
/* Add a tile of the open chunk's scene: window (x_off, y_off, width, height) in source
 * pixels, its code (bits/8 bytes of the archive's model) and footprint ring (npoints
 * lon/lat pairs, closed or not, at least 3 distinct points; ring NULL with npoints 0
 * stores a NULL footprint, for scenes indexed without georeferencing). *tile_id may be
 * NULL. Tiles are to be added in the tiler's order (resume continues after the last). */
int duch_archive_add_tile(duch_archive *a, int64_t scene_id, int x_off, int y_off,
                          int width, int height, const unsigned char *code,
                          const double *ring, int npoints, int64_t *tile_id);
/* Commit the open chunk; last = 1 also marks the scene complete (tile_count set, writer
 * cleared). commit_scene is commit_chunk(a, 1). rollback_scene drops the open chunk
 * (the chunks committed before stay, still claimed: release them). */
int duch_archive_commit_chunk(duch_archive *a, int last);
int duch_archive_commit_scene(duch_archive *a);
int duch_archive_rollback_scene(duch_archive *a);
/* Give up the claim on an incomplete scene this handle wrote (no chunk open), so that
 * the next run resumes it at once. */
int duch_archive_release_scene(duch_archive *a, int64_t scene_id);

/* Check that every stored code has the length of the stored model (bits/8 bytes).
 * DUCH_OK; DUCH_MISMATCH with a message naming a wrong tile, its length and how many
 * are wrong. Uses the index tiles_code_len (docs/archive.md): no pass over the tiles. */
int duch_archive_check_codes(duch_archive *a);

/* Complete scenes and their tiles (any argument may be NULL). */
int duch_archive_counts(duch_archive *a, int64_t *scenes, int64_t *tiles);
/* Scenes that are not complete (being written, or left by an interrupted run to be
 * resumed) and the tiles stored for them so far (any argument may be NULL). */
int duch_archive_incomplete(duch_archive *a, int64_t *scenes, int64_t *tiles);
/* Bounding box (minx, miny, maxx, maxy, lon/lat) of all tile footprints;
 * DUCH_NOTFOUND when there are none. */
int duch_archive_extent(duch_archive *a, double extent[4]);

/* Saved results (`duch query --save NAME`): table NAME holds one row per hit (fid, rank,
 * distance, confidence, tile_id, scene_id, scene, x_off, y_off, width, height, query, and a
 * registered POLYGON geometry `footprint` with a spatial index), and duch_saved records
 * that duch made it (name, query, hits, saved_at). Saving under a name replaces only a
 * table that duch saved itself: any other table, view or index of that name (in any
 * case) is refused with DUCH_EXISTS, and so are names that are not plain identifiers
 * (letters, digits, '_', not starting with a digit) or that belong to the archive or
 * SpatiaLite. One transaction. */
typedef struct duch_saved_hit {
    int rank, distance;
    int64_t tile_id, scene_id;
    const char *scene;            /* scene path; may be NULL */
    int x_off, y_off, width, height;
    const double *footprint;      /* ring of lon/lat pairs (EPSG:4326); NULL when none */
    int footprint_npoints;
    double confidence;            /* 0..1; < 0 stores NULL (no confidence) */
} duch_saved_hit;

int duch_archive_save_hits(duch_archive *a, const char *name, const char *query,
                           const duch_saved_hit *hits, int n);
/* 1 when name may be given to duch_archive_save_hits (the rule above), else 0. */
int duch_archive_save_name_valid(const char *name);

/* Search: the k tiles nearest to query (qlen = bits/8 bytes), bbox NULL or a lon/lat
 * box; the engine above on this handle's connection (codes kept between calls, read
 * again when the archive changed). hits has room for k; hits[i].id is the tile_id.
 * DUCH_MISMATCH when stored codes do not fit the model (the message names a tile). */
int duch_archive_search(duch_archive *a, const unsigned char *query, size_t qlen,
                        const double *bbox, size_t k, duch_hit *hits, size_t *nhits);
/* What the search holds (loads it when needed). */
int duch_archive_search_info(duch_archive *a, duch_engine_info *out);

/* One tile: its scene, window and footprint ring. Free with duch_tile_record_clear. */
typedef struct duch_tile_record {
    int64_t tile_id, scene_id;
    char *scene;                  /* scene path (malloc'ed), NULL when unknown */
    int x_off, y_off, width, height;
    double *footprint;            /* closed ring of lon/lat pairs (malloc'ed), NULL if none */
    int footprint_npoints;
} duch_tile_record;
/* DUCH_OK, or DUCH_NOTFOUND when there is no such tile. */
int duch_archive_tile(duch_archive *a, int64_t tile_id, duch_tile_record *out);
void duch_tile_record_clear(duch_tile_record *t);

/* Scenes and the grid of their tiles (heat maps): one row per scene that has a row in
 * `scenes`, complete or not, in scene_id order. */
typedef struct duch_scene_grid {
    int64_t scene_id;
    char *path;                   /* malloc'ed */
    int width, height;            /* raster size in pixels */
    char *crs_wkt;                /* malloc'ed; NULL when the scene has no CRS */
    int has_geotransform;         /* 0: indexed without georeferencing (--allow-pixel) */
    double geotransform[6];
    int tile_size, overlap;       /* the tile grid in source pixels */
    int complete;
    int64_t tiles;                /* tiles stored */
} duch_scene_grid;
int duch_archive_scenes(duch_archive *a, duch_scene_grid **out, size_t *n);
void duch_scene_grids_free(duch_scene_grid *s, size_t n); /* accepts NULL */

/* Call fn for each stored tile of scene_id, in tile_id order: its window, code (bits/8
 * bytes) and, when with_box, the lon/lat box of its footprint (NULL when it has none).
 * fn returns 0 to go on; anything else stops the walk and is returned. */
typedef int (*duch_tile_fn)(int64_t tile_id, int x_off, int y_off, int width, int height,
                            const unsigned char *code, size_t code_len, const double *box,
                            void *arg);
int duch_archive_scene_tiles(duch_archive *a, int64_t scene_id, int with_box, duch_tile_fn fn,
                             void *arg);

/* Rebuild the packed code blocks from the rows (`duch optimize`), in one write
 * transaction; after tiles were changed by other SQL, the search reads the rows until
 * this runs. progress may be NULL. *ntiles (may be NULL) gets the tiles packed. */
int duch_archive_optimize(duch_archive *a, duch_progress_fn progress, void *arg,
                          int64_t *ntiles);
/* 1 when the packed code blocks hold every tile (the fast first query), else 0 with the
 * reason as the handle's message (duch_archive_errmsg). */
int duch_archive_blocks_current(duch_archive *a);

/* Metadata (key/value text). get: *value owned by a, valid until the next call on a;
 * DUCH_NOTFOUND when the key is absent. set: insert or replace (value NULL deletes). */
int duch_archive_meta_get(duch_archive *a, const char *key, const char **value);
int duch_archive_meta_set(duch_archive *a, const char *key, const char *value);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_INDEX_H */
