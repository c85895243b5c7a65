/*
** mod_duch.c: the duch SQLite extension (lib/mod_duch.so).
**
** HOW IT WORKS
**
** Load it next to SpatiaLite, in any SQLite program:
**
**   sqlite3 archive.sqlite
**   sqlite> .load mod_spatialite
**   sqlite> .load mod_duch
**   sqlite> SELECT duch_version();                          -- '0.1.0'
**   sqlite> SELECT duch_hamming(x'0f00', x'0301');          -- 3
**
** or in GDAL: OGR_SQLITE_LOAD_EXTENSIONS=/usr/local/lib/mod_duch.so ogrinfo ...
**
** duch_knn is an eponymous table-valued function: the exact k nearest tiles by Hamming
** distance, ascending distance, ties by ascending tile_id.
**
**   SELECT tile_id, distance FROM duch_knn(x'0123456789abcdef', 10);
**   SELECT tile_id, distance FROM duch_knn('dense residential area', 20);
**   SELECT k.tile_id, k.distance, s.path, AsText(t.footprint)
**     FROM duch_knn('river', 20, -122.5, 37.6, -122.3, 37.8) AS k   -- lon/lat box
**     JOIN tiles t USING (tile_id) JOIN scenes s USING (scene_id);
**   SELECT * FROM duch_knn(duch_image_code('/data/scene.tif', 0, 0, 256, 256), 5,
**                          BuildMbr(-123, 37, -122, 38, 4326));      -- box of a geometry
**
** It reads the table "tiles" of the main database: tile_id INTEGER, code BLOB, and
** (for the box form) footprint, a SpatiaLite or GeoPackage geometry BLOB. Nothing else
** of the archive is needed, so it runs on plain tables too:
**
**   CREATE TABLE tiles(tile_id INTEGER PRIMARY KEY, code BLOB);
**
** SPEED. duch_knn runs the one search engine of index/engine.c (compiled into this
** extension against the host's sqlite3_api), the same that `duch query` and the DUCH:
** layer run: the first call of a connection loads every code into one packed array,
** from the archive's packed code blocks when they are current (one sequential pass),
** else from the rows; later calls scan that array with the fastest Hamming kernel and a
** heap top-k (index/topk.c), until the database changes. A tile matches a box when the
** exact bounding box of its footprint intersects it. duch_optimize() rebuilds the
** blocks after other SQL changed the tiles.
**
** TEXT AND IMAGES. A text query, duch_text_code(text) and duch_image_code(path, ...)
** need the model that made the codes: the one stored in the archive's duch_model table.
** Texts go through the C text encoder (model/textenc.c, compiled into this extension:
** the text half of the network is small, and loading libtorch costs 0.8-2 s per
** connection), the only text inference path: it is opened from the stored BLOB on the
** first text query and kept per connection while the model id stays the same; a model
** it cannot open is an error that says why. Images go to the model library (libtorch
** inside), dlopen'ed on first use through duch_model_load() (model/duch_model.h,
** $DUCH_MODEL_LIB overrides where it is); the model is opened from the stored BLOB,
** kept per connection while its id stays the same, and freed when the connection
** closes. duch_image_code reads rasters with the tiler of libduch.so (GDAL inside),
** dlopen'ed on its first call ($DUCH_LIB overrides where). So loading this extension
** loads neither libtorch nor GDAL, and a text query loads neither either.
**
** STATE. All state hangs off the connection: one struct duch_conn, shared by the
** functions and the module through their user data, freed by the last destructor
** (reference counted). No global mutable state.
**
** ERRORS. Bad input is an SQL error that says what is wrong, never a crash: a NULL or
** non-BLOB code, codes of different lengths, k out of 1..DUCH_KNN_MAX_K, a missing tiles
** table, a box with min > max, an unknown word, a missing model library...
*/
#include "config.h"

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duch_index.h"
#include "duch_model.h"
#include "duch_textenc.h"
#include "duch_tiler.h" /* types only: the functions are reached through dlopen */
#include "duch_utf8.h"

#ifndef DUCH_LIBDIR
#define DUCH_LIBDIR "/usr/local/lib"
#endif

#define DUCH_KNN_MAX_K 1000000

/* ------------------------------------------------------------------ state */

/* The tiler lives in libduch.so (GDAL and PROJ inside). It is dlopen'ed on the first
 * duch_image_code() call, so loading this extension does not load GDAL (libgdal also
 * exports an sqlite3_extension_init that SQLite would find before ours). */
typedef struct duch_tiler_fns {
    int loaded;
    void (*options_init)(duch_tiler_options *o);
    int (*open)(const char *path, const duch_tiler_options *opt, duch_tiler **out);
    void (*close)(duch_tiler *t);
    const char *(*errmsg)(const duch_tiler *t);
    const duch_scene_info *(*info)(const duch_tiler *t);
    int (*read_window)(duch_tiler *t, int x_off, int y_off, int width, int height, int out_w,
                       int out_h, unsigned char *rgb, double *valid);
} duch_tiler_fns;

typedef struct duch_conn {
    sqlite3 *db;
    int refs;
    duch_engine *engine;         /* the search over main.tiles (index/engine.c) */
    const duch_model_api *api;   /* model library, loaded on first use */
    duch_model *model;           /* the archive's model, opened on first use */
    char *model_id;
    int model_bits;
    duch_textenc *tenc;          /* the C text encoder of the archive's model */
    char *tenc_id;               /* the model id it was opened for */
    duch_tiler_fns tiler;        /* libduch's tiler, for duch_image_code */
} duch_conn;

static void conn_unref(void *p)
{
    duch_conn *dc = p;
    if (!dc || --dc->refs > 0)
        return;
    duch_engine_free(dc->engine);
    if (dc->model && dc->api)
        dc->api->close(dc->model);
    sqlite3_free(dc->model_id);
    duch_textenc_close(dc->tenc);
    sqlite3_free(dc->tenc_id);
    sqlite3_free(dc);
}

/* ------------------------------------------------------------------ helpers */

/* sqlite3_malloc'ed printf, or NULL */
#define MPRINTF sqlite3_mprintf

/* The TEXT argument v as a C string. A text with a NUL character inside would be cut
 * there without a word by everything that takes a C string, so it is an error: NULL
 * with *rc SQLITE_ERROR and *err set (*rc SQLITE_NOMEM and *err NULL when SQLite
 * cannot convert the value). what names the argument ("the text", "the path"). */
static const char *text_arg(sqlite3_value *v, const char *fn, const char *what, int *rc,
                            char **err)
{
    const char *t = (const char *)sqlite3_value_text(v);
    if (!t) {
        *rc = SQLITE_NOMEM;
        *err = NULL;
        return NULL;
    }
    size_t n = (size_t)sqlite3_value_bytes(v), len = strlen(t);
    if (len != n) {
        *err = MPRINTF("%s: %s contains a NUL character (at byte %lld of %lld)", fn, what,
                       (long long)len, (long long)n);
        *rc = *err ? SQLITE_ERROR : SQLITE_NOMEM;
        return NULL;
    }
    *rc = SQLITE_OK;
    return t;
}

/* ------------------------------------------------------------------ the model */

/* The stored model (index/: duch_db_stored_model); SQLITE_OK, or an error with
 * "fn: why" in *err. */
static int stored_model(duch_conn *dc, const char *fn, int with_data, duch_stored_model *m,
                        char **err)
{
    char why[600];
    int rc = duch_db_stored_model(dc->db, with_data, m, why, sizeof why);
    if (rc == DUCH_OK)
        return SQLITE_OK;
    *err = MPRINTF("%s: %s", fn, why);
    return rc == DUCH_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
}

/* Open (or reuse) the model stored in the archive. */
static int conn_model(duch_conn *dc, const char *fn, char **err)
{
    duch_stored_model sm;
    int rc = stored_model(dc, fn, 0, &sm, err);
    if (rc)
        return rc;
    if (dc->model && dc->model_id && !strcmp(dc->model_id, sm.id))
        return SQLITE_OK; /* same model as last time */
    if (!dc->api) {
        char msg[2048];
        dc->api = duch_model_load(msg, sizeof msg);
        if (!dc->api) {
            *err = MPRINTF("%s: %s", fn, msg);
            return SQLITE_ERROR;
        }
    }
    if (dc->model)
        dc->api->close(dc->model);
    dc->model = NULL;
    sqlite3_free(dc->model_id);
    dc->model_id = NULL;
    if ((rc = stored_model(dc, fn, 1, &sm, err)))
        return rc;
    duch_model *m = NULL;
    int mrc = dc->api->open_blob(sm.data, sm.size, &m);
    if (mrc != DUCH_OK) {
        *err = MPRINTF("%s: the archive's model %s cannot be opened: %s", fn, sm.id,
                       m ? dc->api->errmsg(m) : "out of memory");
        if (m)
            dc->api->close(m);
        duch_stored_model_clear(&sm);
        return SQLITE_ERROR;
    }
    const char *mid = dc->api->id(m);
    if (dc->api->bits(m) != sm.bits || !mid || strcmp(mid, sm.id)) {
        *err = MPRINTF("%s: the archive's model does not match its record: duch_model says id %s,"
                       " %d bits; the stored file is id %s, %d bits", fn, sm.id, sm.bits,
                       mid ? mid : "?", dc->api->bits(m));
        dc->api->close(m);
        duch_stored_model_clear(&sm);
        return SQLITE_ERROR;
    }
    /* One query is one text or one image: a single thread is fastest (two threads
     * cost ~30x more in OpenMP hand-offs on a busy 2-core machine: 29 ms against
     * 0.6 ms a text). */
    dc->api->set_threads(m, 1);
    dc->model = m;
    dc->model_id = MPRINTF("%s", sm.id);
    dc->model_bits = sm.bits;
    duch_stored_model_clear(&sm);
    return dc->model_id ? SQLITE_OK : SQLITE_NOMEM;
}

/* Open (or reuse) the C text encoder of the model stored in the archive: the only text
 * inference path (it reads every architecture the model library writes). */
static int conn_textenc(duch_conn *dc, const char *fn, char **err)
{
    duch_stored_model sm;
    int rc = stored_model(dc, fn, 0, &sm, err);
    if (rc)
        return rc;
    if (dc->tenc && !strcmp(sm.id, dc->tenc_id))
        return SQLITE_OK; /* the usual case: the same model as last time */
    duch_textenc_close(dc->tenc);
    dc->tenc = NULL;
    sqlite3_free(dc->tenc_id);
    dc->tenc_id = NULL;
    if ((rc = stored_model(dc, fn, 1, &sm, err)))
        return rc;
    duch_textenc *e = NULL;
    int trc = duch_textenc_open_blob(sm.data, sm.size, &e);
    if (trc != DUCH_OK) {
        *err = MPRINTF("%s: the archive's model %s cannot be opened: %s", fn, sm.id,
                       e ? duch_textenc_errmsg(e) : "out of memory");
        duch_textenc_close(e);
        duch_stored_model_clear(&sm);
        return trc == DUCH_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    if (duch_textenc_bits(e) != sm.bits || strcmp(duch_textenc_id(e), sm.id)) {
        *err = MPRINTF("%s: the archive's model does not match its record: duch_model says id %s,"
                       " %d bits; the stored file is id %s, %d bits", fn, sm.id, sm.bits,
                       duch_textenc_id(e), duch_textenc_bits(e));
        duch_textenc_close(e);
        duch_stored_model_clear(&sm);
        return SQLITE_ERROR;
    }
    dc->tenc_id = MPRINTF("%s", sm.id);
    duch_stored_model_clear(&sm);
    if (!dc->tenc_id) {
        duch_textenc_close(e);
        return SQLITE_NOMEM;
    }
    dc->tenc = e;
    return SQLITE_OK;
}

/* Encode a text with the archive's model into code (room for 128 bytes). */
static int encode_text(duch_conn *dc, const char *fn, const char *text, unsigned char *code,
                       size_t *nbytes, char **err)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (!*p) {
        *err = MPRINTF("%s: the text query is empty", fn);
        return SQLITE_ERROR;
    }
    int rc = conn_textenc(dc, fn, err);
    if (rc)
        return rc;
    if (duch_textenc_encode(dc->tenc, text, code) != DUCH_OK) {
        *err = MPRINTF("%s: %s", fn, duch_textenc_errmsg(dc->tenc));
        return SQLITE_ERROR;
    }
    *nbytes = (size_t)duch_textenc_bits(dc->tenc) / 8;
    return SQLITE_OK;
}

/* ------------------------------------------------------------------ SQL functions */

/* duch_version() */
static void duch_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, PACKAGE_VERSION, -1, SQLITE_STATIC);
}

/* duch_hamming(a, b): bits that differ; NULL when either is NULL */
static void duch_hamming_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int ta = sqlite3_value_type(argv[0]), tb = sqlite3_value_type(argv[1]);
    if (ta == SQLITE_NULL || tb == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    if (ta != SQLITE_BLOB || tb != SQLITE_BLOB) {
        sqlite3_result_error(ctx, "duch_hamming: arguments must be BLOB codes"
                                  " (use x'..' literals or the tiles.code column)", -1);
        return;
    }
    const unsigned char *a = sqlite3_value_blob(argv[0]), *b = sqlite3_value_blob(argv[1]);
    int na = sqlite3_value_bytes(argv[0]), nb = sqlite3_value_bytes(argv[1]);
    if (na != nb) {
        char *m = MPRINTF("duch_hamming: codes of different lengths (%d and %d bytes)", na, nb);
        sqlite3_result_error(ctx, m ? m : "duch_hamming: codes of different lengths", -1);
        sqlite3_free(m);
        return;
    }
    sqlite3_result_int(ctx, na ? (int)duch_hamming(a, b, (size_t)na) : 0);
}

/* The TEXT argument of fn(text): NULL when the result is set already (NULL for a NULL
 * argument, an error for a non-text one); else the text, or NULL with *rc and *err as
 * text_arg sets them. */
static const char *text_argument(sqlite3_context *ctx, sqlite3_value *v, const char *fn,
                                 int *done, int *rc, char **err)
{
    int t = sqlite3_value_type(v);
    *done = 1;
    if (t == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return NULL;
    }
    if (t != SQLITE_TEXT) {
        char *m = MPRINTF("%s: the argument must be TEXT", fn);
        sqlite3_result_error(ctx, m ? m : fn, -1);
        sqlite3_free(m);
        return NULL;
    }
    *done = 0;
    return text_arg(v, fn, "the text", rc, err);
}

/* duch_text_code(text): the code of a text under the archive's model */
static void duch_text_code_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    duch_conn *dc = sqlite3_user_data(ctx);
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
    size_t nbytes = 0;
    char *err = NULL;
    int rc = SQLITE_OK, done;
    const char *text = text_argument(ctx, argv[0], "duch_text_code", &done, &rc, &err);
    if (done)
        return;
    if (text)
        rc = encode_text(dc, "duch_text_code", text, code, &nbytes, &err);
    if (rc == SQLITE_OK)
        sqlite3_result_blob(ctx, code, (int)nbytes, SQLITE_TRANSIENT);
    else if (rc == SQLITE_NOMEM)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_error(ctx, err ? err : "duch_text_code: failed", -1);
    sqlite3_free(err);
}

/* duch_text_explain(text): what the archive's model makes of a text, as JSON
 * {"used": [...], "mapped": {...}, "ignored": [...]} (model/duch_textenc.h) */
static void duch_text_explain_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    duch_conn *dc = sqlite3_user_data(ctx);
    char *err = NULL, *json = NULL;
    int rc = SQLITE_OK, done;
    const char *text = text_argument(ctx, argv[0], "duch_text_explain", &done, &rc, &err);
    if (done)
        return;
    if (text)
        rc = conn_textenc(dc, "duch_text_explain", &err);
    if (text && rc == SQLITE_OK) {
        int trc = duch_textenc_explain(dc->tenc, text, &json);
        if (trc != DUCH_OK) {
            rc = trc == DUCH_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
            err = MPRINTF("duch_text_explain: %s", duch_textenc_errmsg(dc->tenc));
        }
    }
    if (rc == SQLITE_OK)
        sqlite3_result_text(ctx, json, -1, free);
    else if (rc == SQLITE_NOMEM)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_error(ctx, err ? err : "duch_text_explain: failed", -1);
    if (rc != SQLITE_OK)
        free(json);
    sqlite3_free(err);
}

/* dlopen libduch.so ($DUCH_LIB, then LIBDIR, then the loader's path) for the tiler */
static int load_tiler(duch_conn *dc, char **err)
{
    duch_tiler_fns *f = &dc->tiler;
    if (f->loaded)
        return SQLITE_OK;
    const char *env = getenv("DUCH_LIB");
    const char *paths[3] = {env && *env ? env : NULL, DUCH_LIBDIR "/libduch.so.0", "libduch.so.0"};
    char tried[1024] = "";
    size_t used = 0;
    void *h = NULL;
    for (int i = env && *env ? 0 : 1; i < (env && *env ? 1 : 3) && !h; i++) {
        h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!h && used < sizeof tried) {
            const char *e = dlerror();
            used += (size_t)duch_snprintf(tried + used, sizeof tried - used, "; %s", e ? e : paths[i]);
        }
    }
    if (!h) {
        *err = MPRINTF("duch_image_code: cannot load libduch (it reads rasters with GDAL); set"
                       " DUCH_LIB to its path. Tried%s", tried);
        return SQLITE_ERROR;
    }
    /* the library stays loaded for the life of the process, like GDAL itself */
    *(void **)&f->options_init = dlsym(h, "duch_tiler_options_init");
    *(void **)&f->open = dlsym(h, "duch_tiler_open");
    *(void **)&f->close = dlsym(h, "duch_tiler_close");
    *(void **)&f->errmsg = dlsym(h, "duch_tiler_errmsg");
    *(void **)&f->info = dlsym(h, "duch_tiler_info");
    *(void **)&f->read_window = dlsym(h, "duch_tiler_read_window");
    if (!f->options_init || !f->open || !f->close || !f->errmsg || !f->info || !f->read_window) {
        *err = MPRINTF("duch_image_code: the libduch found lacks the tiler functions");
        return SQLITE_ERROR;
    }
    f->loaded = 1;
    return SQLITE_OK;
}

/* duch_image_code(path [, xoff, yoff, xsize, ysize]): the code of a raster window (the
 * whole raster by default), read with the tiler's band and 8-bit rules */
static void duch_image_code_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    duch_conn *dc = sqlite3_user_data(ctx);
    char *err = NULL;
    duch_tiler *t = NULL;
    unsigned char *rgb = NULL;
    if (argc != 1 && argc != 5) {
        sqlite3_result_error(ctx, "duch_image_code: use duch_image_code(path) or"
                                  " duch_image_code(path, xoff, yoff, xsize, ysize)", -1);
        return;
    }
    for (int i = 0; i < argc; i++)
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sqlite3_result_null(ctx);
            return;
        }
    if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
        sqlite3_result_error(ctx, "duch_image_code: the path must be TEXT", -1);
        return;
    }
    int win[4] = {0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) != SQLITE_INTEGER) {
            sqlite3_result_error(ctx, "duch_image_code: xoff, yoff, xsize, ysize must be integers", -1);
            return;
        }
        sqlite3_int64 v = sqlite3_value_int64(argv[i]);
        if (v < 0 || v > 0x7fffffff || (i >= 3 && v == 0)) {
            char *m = MPRINTF("duch_image_code: %s = %lld is out of range",
                              (const char *[]){"", "xoff", "yoff", "xsize", "ysize"}[i], (long long)v);
            sqlite3_result_error(ctx, m ? m : "duch_image_code: window out of range", -1);
            sqlite3_free(m);
            return;
        }
        win[i - 1] = (int)v;
    }
    int rc;
    const char *path = text_arg(argv[0], "duch_image_code", "the path", &rc, &err);
    if (!path)
        goto finish;
    rc = conn_model(dc, "duch_image_code", &err);
    if (rc || (rc = load_tiler(dc, &err)))
        goto finish;
    const duch_tiler_fns *tf = &dc->tiler;
    int side = dc->api->input_size(dc->model);
    duch_tiler_options o;
    tf->options_init(&o);
    o.out_size = side > 0 ? side : 256;
    o.allow_pixel = 1; /* a query image needs no georeferencing */
    if (tf->open(path, &o, &t) != DUCH_OK) {
        err = MPRINTF("duch_image_code: %s", t ? tf->errmsg(t) : "out of memory");
        rc = SQLITE_ERROR;
        goto finish;
    }
    const duch_scene_info *si = tf->info(t);
    if (argc == 1) {
        win[2] = si->width;
        win[3] = si->height;
    }
    rgb = sqlite3_malloc64((size_t)o.out_size * o.out_size * 3);
    if (!rgb) {
        rc = SQLITE_NOMEM;
        goto finish;
    }
    if (tf->read_window(t, win[0], win[1], win[2], win[3], o.out_size, o.out_size, rgb,
                        NULL) != DUCH_OK) {
        err = MPRINTF("duch_image_code: %s", tf->errmsg(t));
        rc = SQLITE_ERROR;
        goto finish;
    }
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
    const unsigned char *const imgs[1] = {rgb};
    int w = o.out_size, h = o.out_size;
    if (dc->api->encode_images(dc->model, 1, imgs, &w, &h, code) != DUCH_OK) {
        err = MPRINTF("duch_image_code: %s", dc->api->errmsg(dc->model));
        rc = SQLITE_ERROR;
        goto finish;
    }
    sqlite3_result_blob(ctx, code, dc->model_bits / 8, SQLITE_TRANSIENT);
    rc = SQLITE_OK;
finish:
    if (rc == SQLITE_NOMEM)
        sqlite3_result_error_nomem(ctx);
    else if (rc)
        sqlite3_result_error(ctx, err ? err : "duch_image_code: failed", -1);
    sqlite3_free(err);
    sqlite3_free(rgb);
    if (t)
        dc->tiler.close(t);
}

/* duch_optimize(): rebuild the packed code blocks of main.tiles (the same as `duch
 * optimize ARCHIVE`), in one transaction; returns the number of tiles packed. */
static void duch_optimize_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3 *db = sqlite3_context_db_handle(ctx);
    if (sqlite3_db_readonly(db, "main") == 1) {
        sqlite3_result_error(ctx, "duch_optimize: the database is read-only", -1);
        return;
    }
    if (sqlite3_exec(db, "SAVEPOINT duch_optimize", NULL, NULL, NULL) != SQLITE_OK) {
        char *m = MPRINTF("duch_optimize: %s", sqlite3_errmsg(db));
        sqlite3_result_error(ctx, m ? m : "duch_optimize: out of memory", -1);
        sqlite3_free(m);
        return;
    }
    char why[600];
    int64_t n = 0;
    int rc = duch_blocks_rebuild(db, NULL, NULL, &n, why, sizeof why);
    if (rc == DUCH_OK && sqlite3_exec(db, "RELEASE duch_optimize", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "committing: %s", sqlite3_errmsg(db));
        rc = DUCH_IO;
    }
    if (rc != DUCH_OK) {
        sqlite3_exec(db, "ROLLBACK TO duch_optimize; RELEASE duch_optimize", NULL, NULL, NULL);
        char *m = MPRINTF("duch_optimize: %s", why);
        sqlite3_result_error(ctx, m ? m : "duch_optimize: out of memory", -1);
        sqlite3_free(m);
        return;
    }
    sqlite3_result_int64(ctx, n);
}

/* ------------------------------------------------------------------ duch_knn */

enum {
    KNN_TILE_ID, KNN_DISTANCE, KNN_CONFIDENCE,
    KNN_QUERY, KNN_K, KNN_A1, KNN_A2, KNN_A3, KNN_A4, /* hidden arguments */
    KNN_NCOL
};

typedef struct knn_vtab {
    sqlite3_vtab base;
    duch_conn *dc;
} knn_vtab;

typedef struct knn_cursor {
    sqlite3_vtab_cursor base;
    duch_hit *hits;
    size_t n, i;
    double *conf;       /* per hit, 0..1 (a text query and a model with a fit), else NULL */
} knn_cursor;

static int knnConnect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err)
{
    (void)argc;
    (void)argv;
    (void)err;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(tile_id INTEGER, distance INTEGER,"
                                      " confidence REAL, query HIDDEN, k HIDDEN, minx HIDDEN, miny HIDDEN,"
                                      " maxx HIDDEN, maxy HIDDEN)");
    if (rc != SQLITE_OK)
        return rc;
    knn_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->dc = aux;
    *out = &v->base;
    return SQLITE_OK;
}

static int knnDisconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

/* idxNum: bit i set when hidden argument i (0 = query .. 5 = maxy) is given; the
 * arguments arrive in that order. */
static int knnBestIndex(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    (void)vt;
    int slot[6] = {-1, -1, -1, -1, -1, -1};
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn < KNN_QUERY)
            continue;
        if (c->op != SQLITE_INDEX_CONSTRAINT_EQ)
            continue;
        if (!c->usable)
            return SQLITE_CONSTRAINT; /* ask for a plan where the argument is known */
        slot[c->iColumn - KNN_QUERY] = i;
    }
    int idx = 0, argn = 0;
    for (int j = 0; j < 6; j++)
        if (slot[j] >= 0) {
            idx |= 1 << j;
            info->aConstraintUsage[slot[j]].argvIndex = ++argn;
            info->aConstraintUsage[slot[j]].omit = 1;
        }
    info->idxNum = idx;
    info->estimatedCost = (idx & 4) ? 1000.0 : 10000.0;
    info->estimatedRows = 10;
    /* rows come sorted by distance, then tile_id */
    if (info->nOrderBy >= 1 && info->nOrderBy <= 2 && info->aOrderBy[0].iColumn == KNN_DISTANCE &&
        !info->aOrderBy[0].desc &&
        (info->nOrderBy == 1 ||
         (info->aOrderBy[1].iColumn == KNN_TILE_ID && !info->aOrderBy[1].desc)))
        info->orderByConsumed = 1;
    return SQLITE_OK;
}

static int knnOpen(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    (void)vt;
    knn_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int knnClose(sqlite3_vtab_cursor *cur)
{
    knn_cursor *c = (knn_cursor *)cur;
    sqlite3_free(c->hits);
    sqlite3_free(c->conf);
    sqlite3_free(c);
    return SQLITE_OK;
}

static int knn_number(sqlite3_value *v, double *out)
{
    int t = sqlite3_value_type(v);
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT)
        return 0;
    *out = sqlite3_value_double(v);
    return isfinite(*out);
}

/* the body of duch_knn(query, k [, minx, miny, maxx, maxy | , geometry]) */
static int knnFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv)
{
    (void)idxStr;
    knn_cursor *c = (knn_cursor *)cur;
    knn_vtab *vt = (knn_vtab *)cur->pVtab;
    duch_conn *dc = vt->dc;
    char *err = NULL;
    int rc = SQLITE_OK;
    sqlite3_value *arg[6] = {0};
    unsigned char qbuf[DUCH_CODE_MAX_BITS / 8];
    const unsigned char *query = NULL;
    size_t qlen = 0;
    double box[4];
    int use_box = 0;

    sqlite3_free(c->hits);
    sqlite3_free(c->conf);
    c->hits = NULL;
    c->conf = NULL;
    c->n = c->i = 0;
    int crowd = 0; /* a text query's crowd rank (its model's confidence fit), else 0 */
    for (int j = 0, a = 0; j < 6; j++)
        if (idxNum & (1 << j))
            arg[j] = a < argc ? argv[a++] : NULL;
    int box_args = (idxNum >> 2) & 15;
    if (!arg[0] || !arg[1] || (box_args != 0 && box_args != 1 && box_args != 15)) {
        err = MPRINTF("duch_knn: use duch_knn(query, k), duch_knn(query, k, minx, miny, maxx, maxy)"
                      " or duch_knn(query, k, geometry); query is a code BLOB or a text");
        rc = SQLITE_ERROR;
        goto finish;
    }
    /* k */
    if (sqlite3_value_type(arg[1]) != SQLITE_INTEGER) {
        err = MPRINTF("duch_knn: k must be an integer between 1 and %d", DUCH_KNN_MAX_K);
        rc = SQLITE_ERROR;
        goto finish;
    }
    sqlite3_int64 k = sqlite3_value_int64(arg[1]);
    if (k < 1 || k > DUCH_KNN_MAX_K) {
        err = MPRINTF("duch_knn: k must be between 1 and %d, got %lld", DUCH_KNN_MAX_K, (long long)k);
        rc = SQLITE_ERROR;
        goto finish;
    }
    /* the box */
    if (box_args == 15) {
        for (int j = 0; j < 4; j++)
            if (!knn_number(arg[2 + j], &box[j])) {
                err = MPRINTF("duch_knn: the box (minx, miny, maxx, maxy) must be 4 finite numbers;"
                              " argument %d is not", j + 3);
                rc = SQLITE_ERROR;
                goto finish;
            }
        use_box = 1;
    } else if (box_args == 1) {
        if (sqlite3_value_type(arg[2]) != SQLITE_BLOB ||
            !duch_geometry_blob_box(sqlite3_value_blob(arg[2]),
                                    (size_t)sqlite3_value_bytes(arg[2]), box)) {
            err = MPRINTF("duch_knn: the third argument must be a geometry (a SpatiaLite or"
                          " GeoPackage BLOB, e.g. BuildMbr(minx, miny, maxx, maxy, 4326)),"
                          " or give minx, miny, maxx, maxy");
            rc = SQLITE_ERROR;
            goto finish;
        }
        use_box = 1;
    }
    char why[300];
    if (use_box && duch_bbox_check(box, why, sizeof why) != DUCH_OK) {
        err = MPRINTF("duch_knn: %s", why);
        rc = SQLITE_ERROR;
        goto finish;
    }
    /* the query */
    int qt = sqlite3_value_type(arg[0]);
    if (qt == SQLITE_BLOB) {
        query = sqlite3_value_blob(arg[0]);
        qlen = (size_t)sqlite3_value_bytes(arg[0]);
        if (qlen < DUCH_CODE_MIN_BITS / 8 || qlen > DUCH_CODE_MAX_BITS / 8) {
            err = MPRINTF("duch_knn: the query code has %d bytes; codes are %d to %d bytes", (int)qlen,
                          DUCH_CODE_MIN_BITS / 8, DUCH_CODE_MAX_BITS / 8);
            rc = SQLITE_ERROR;
            goto finish;
        }
    } else if (qt == SQLITE_TEXT) {
        const char *text = text_arg(arg[0], "duch_knn", "the text query", &rc, &err);
        if (!text || (rc = encode_text(dc, "duch_knn", text, qbuf, &qlen, &err)))
            goto finish;
        query = qbuf;
        crowd = duch_textenc_crowd_rank(dc->tenc);
    } else {
        err = MPRINTF("duch_knn: the query must be a code BLOB or a text, not %s",
                      qt == SQLITE_NULL ? "NULL" : "a number");
        rc = SQLITE_ERROR;
        goto finish;
    }
    /* the search: index/engine.c, the one engine (blocks or rows, exact) */
    if (!dc->engine && duch_engine_new(dc->db, &dc->engine) != DUCH_OK) {
        rc = SQLITE_NOMEM;
        goto finish;
    }
    /* the confidence needs the crowd rank's distance too */
    size_t room = (size_t)k < (size_t)crowd ? (size_t)crowd : (size_t)k;
    c->hits = sqlite3_malloc64(room * sizeof *c->hits);
    if (!c->hits) {
        rc = SQLITE_NOMEM;
        goto finish;
    }
    int drc = duch_engine_search(dc->engine, query, qlen, use_box ? box : NULL, room, c->hits,
                                 &c->n);
    if (drc != DUCH_OK) {
        rc = drc == DUCH_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
        err = MPRINTF("duch_knn: %s", duch_engine_errmsg(dc->engine));
    } else if (crowd && c->n) {
        if (!(c->conf = sqlite3_malloc64(c->n * sizeof *c->conf))) {
            rc = SQLITE_NOMEM;
            goto finish;
        }
        int d1 = (int)c->hits[0].distance;
        int dc_ = (int)c->hits[((size_t)crowd < c->n ? (size_t)crowd : c->n) - 1].distance;
        for (size_t i = 0; i < c->n; i++)
            c->conf[i] = duch_textenc_confidence(dc->tenc, (int)c->hits[i].distance, d1, dc_);
    }
    if (c->n > (size_t)k)
        c->n = (size_t)k;
finish:
    if (rc != SQLITE_OK) {
        sqlite3_free(c->hits);
        sqlite3_free(c->conf);
        c->hits = NULL;
        c->conf = NULL;
        c->n = 0;
        if (err) {
            sqlite3_free(vt->base.zErrMsg);
            vt->base.zErrMsg = err;
        }
    }
    return rc;
}

static int knnNext(sqlite3_vtab_cursor *cur)
{
    ((knn_cursor *)cur)->i++;
    return SQLITE_OK;
}

static int knnEof(sqlite3_vtab_cursor *cur)
{
    knn_cursor *c = (knn_cursor *)cur;
    return c->i >= c->n;
}

static int knnColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    knn_cursor *c = (knn_cursor *)cur;
    if (col == KNN_TILE_ID)
        sqlite3_result_int64(ctx, c->hits[c->i].id);
    else if (col == KNN_DISTANCE)
        sqlite3_result_int(ctx, (int)c->hits[c->i].distance);
    else if (col == KNN_CONFIDENCE && c->conf)
        sqlite3_result_double(ctx, c->conf[c->i]);
    else
        sqlite3_result_null(ctx); /* hidden arguments are not echoed */
    return SQLITE_OK;
}

static int knnRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    *rowid = (sqlite3_int64)((knn_cursor *)cur)->i + 1;
    return SQLITE_OK;
}

static sqlite3_module knn_module = {
    0,             /* iVersion */
    NULL,          /* xCreate: NULL makes it eponymous-only */
    knnConnect,
    knnBestIndex,
    knnDisconnect,
    NULL,          /* xDestroy */
    knnOpen,
    knnClose,
    knnFilter,
    knnNext,
    knnEof,
    knnColumn,
    knnRowid,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

/* ------------------------------------------------------------------ registration */

static const struct {
    const char *name;
    int nargs;
    int flags;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
} functions[] = {
    {"duch_version", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, duch_version_func},
    {"duch_hamming", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, duch_hamming_func},
    /* these read the archive's model and load a library (and a file): direct use only */
    {"duch_text_code", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, duch_text_code_func},
    {"duch_text_explain", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, duch_text_explain_func},
    {"duch_image_code", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, duch_image_code_func},
    {"duch_image_code", 5, SQLITE_UTF8 | SQLITE_DIRECTONLY, duch_image_code_func},
    {"duch_optimize", 0, SQLITE_UTF8 | SQLITE_DIRECTONLY, duch_optimize_func},
};

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_modduch_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
    SQLITE_EXTENSION_INIT2(api);
    if (sqlite3_libversion_number() < 3038000) {
        *err = sqlite3_mprintf("mod_duch needs SQLite 3.38 or newer (this is %s)",
                               sqlite3_libversion());
        return SQLITE_ERROR;
    }
    duch_conn *dc = sqlite3_malloc(sizeof *dc);
    if (!dc)
        return SQLITE_NOMEM;
    memset(dc, 0, sizeof *dc);
    dc->db = db;
    dc->refs = 1; /* held by the module */
    int rc = sqlite3_create_module_v2(db, "duch_knn", &knn_module, dc, conn_unref);
    if (rc != SQLITE_OK) {
        /* create_module_v2 calls the destructor on failure */
        *err = sqlite3_mprintf("mod_duch: cannot register duch_knn: %s", sqlite3_errmsg(db));
        return rc;
    }
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        dc->refs++;
        rc = sqlite3_create_function_v2(db, functions[i].name, functions[i].nargs,
                                        functions[i].flags, dc, functions[i].fn, NULL, NULL,
                                        conn_unref);
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("mod_duch: cannot register %s: %s", functions[i].name,
                                   sqlite3_errmsg(db));
            return rc;
        }
    }
    return SQLITE_OK;
}
