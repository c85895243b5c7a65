/*
 * duch_pg.c: the duch PostgreSQL extension (CREATE EXTENSION duch).
 *
 * The functions of mod_duch (sql/mod_duch.c) inside PostgreSQL, on the PostGIS archive
 * that `duch index PG:...` writes (docs/archive.md, "PostGIS"):
 *
 *   SELECT duch_version();
 *   SELECT duch_hamming('\x0f00'::bytea, '\x0301'::bytea);                  -- 3
 *   SELECT duch_text_code('dense residential area');                         -- bytea
 *   SELECT duch_text_explain('a golf course');                               -- json
 *   SELECT * FROM duch_knn('river', 10);                  -- tile_id, distance, confidence
 *   SELECT * FROM duch_knn('river', 10, -122.5, 37.6, -122.3, 37.8);         -- lon/lat box
 *   SELECT * FROM duch_knn('river', 10, ST_MakeEnvelope(-123, 37, -122, 38, 4326));
 *   SELECT * FROM duch_knn((SELECT code FROM tiles WHERE tile_id = 7), 5);   -- by example
 *
 * The same answers as mod_duch on the same rows: exact top-k by Hamming distance, ties by
 * ascending tile_id (index/topk.c, compiled in), a tile in a box when the exact bounding
 * box of its footprint intersects it (edges touching count), and for a text query the
 * confidence of docs/model.md from the archive's stored model, whose text branch runs in
 * the C text encoder (model/textenc.c, compiled in: no libtorch in the server).
 *
 * SPEED. Reading a row costs PostgreSQL about a microsecond; a 64-bit popcount costs a
 * few nanoseconds. So each backend keeps the codes of `tiles` packed in memory
 * (index/topk.c's duch_codes, plus 4 doubles of footprint box per tile), read on the
 * first duch_knn of the session in one pass, and read again only when the statement
 * trigger on tiles (made with the archive) has moved duch_tiles_version since, or the
 * search path names another tiles table. Without that table (rows copied in by other
 * tools) every call reads the rows again: exact, at row speed.
 *
 * ERRORS. Bad input is an SQL error that says what is wrong: a NULL query or k, k out of
 * 1..1000000, half a box, a box outside lon/lat, a code of another length than the
 * archive's (SQLSTATE 22023), a text with no known word, a missing model.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include <math.h>

#include "duch_index.h"
#include "archive_internal.h" /* duch_wkb_box */
#include "duch_textenc.h"

PG_MODULE_MAGIC;

#define DUCH_KNN_MAX_K 1000000

/* The session's packed copy of tiles, and the text encoder of the stored model. */
typedef struct duch_pg_cache {
    int valid;
    Oid tiles_oid;             /* the tiles table it was read from */
    int64 version;             /* duch_tiles_version when read; -1: no version table */
    duch_codes *codes;         /* ids and codes */
    double *boxes;             /* 4 per tile; NaN when no footprint */
    size_t boxcap;
    size_t nbytes;
    char model_id[128];
    duch_textenc *te;
} duch_pg_cache;

static duch_pg_cache cache;

PG_FUNCTION_INFO_V1(pg_duch_version);
PG_FUNCTION_INFO_V1(pg_duch_hamming);
PG_FUNCTION_INFO_V1(pg_duch_text_code);
PG_FUNCTION_INFO_V1(pg_duch_text_explain);
PG_FUNCTION_INFO_V1(pg_duch_knn);
PG_FUNCTION_INFO_V1(pg_duch_cache_info);

Datum pg_duch_version(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(cstring_to_text(DUCH_PG_VERSION));
}

Datum pg_duch_hamming(PG_FUNCTION_ARGS)
{
    bytea *a = PG_GETARG_BYTEA_PP(0), *b = PG_GETARG_BYTEA_PP(1);
    int na = VARSIZE_ANY_EXHDR(a), nb = VARSIZE_ANY_EXHDR(b);
    if (na != nb)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("duch_hamming: codes of different lengths (%d and %d bytes)", na, nb)));
    PG_RETURN_INT32(na ? (int32)duch_hamming((const unsigned char *)VARDATA_ANY(a),
                                             (const unsigned char *)VARDATA_ANY(b), (size_t)na)
                       : 0);
}

/* ------------------------------------------------------------ SPI helpers */

static void spi_connect(void)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "duch: SPI_connect failed");
}

/* Run sql through a plan prepared once per session (*plan; SPI_keepplan): the small
 * queries of every call cost no parsing or planning. Inside SPI. */
static int run_kept(SPIPlanPtr *plan, const char *sql)
{
    if (!*plan) {
        SPIPlanPtr p = SPI_prepare(sql, 0, NULL);
        if (!p)
            elog(ERROR, "duch: preparing \"%s\" failed", sql);
        SPI_keepplan(p);
        *plan = p;
    }
    return SPI_execute_plan(*plan, NULL, NULL, true, 1);
}

/* What this statement's search path resolves the archive's tables to (InvalidOid: none). */
typedef struct archive_oids {
    Oid tiles, version, model;
} archive_oids;

static archive_oids relation_oids(void)
{
    static SPIPlanPtr plan;
    archive_oids o = {InvalidOid, InvalidOid, InvalidOid};
    if (run_kept(&plan, "SELECT to_regclass('tiles')::oid, to_regclass('duch_tiles_version')::oid,"
                        " to_regclass('duch_model')::oid") != SPI_OK_SELECT || SPI_processed != 1)
        return o;
    Oid *out[3] = {&o.tiles, &o.version, &o.model};
    for (int i = 0; i < 3; i++) {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);
        *out[i] = isnull ? InvalidOid : DatumGetObjectId(d);
    }
    return o;
}

/* ------------------------------------------------------------ the model */

/* The text encoder of the stored model (opened again when its id changed). Inside SPI. */
static duch_textenc *stored_textenc(const char *fn)
{
    static SPIPlanPtr plan_id;
    if (relation_oids().model == InvalidOid)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("%s: no duch_model table here: this database (search path) holds no"
                               " duch archive; index scenes with duch index PG:...", fn)));
    if (run_kept(&plan_id, "SELECT model_id FROM duch_model LIMIT 1") != SPI_OK_SELECT)
        elog(ERROR, "%s: reading duch_model failed", fn);
    if (SPI_processed == 0)
        ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
                        errmsg("%s: the archive holds no model yet (nothing indexed)", fn)));
    char *id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    if (cache.te && id && !strcmp(id, cache.model_id))
        return cache.te;
    if (SPI_execute("SELECT data FROM duch_model LIMIT 1", true, 1) != SPI_OK_SELECT ||
        SPI_processed != 1)
        elog(ERROR, "%s: reading duch_model failed", fn);
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("%s: the stored model is NULL", fn)));
    bytea *blob = DatumGetByteaPP(d);
    duch_textenc_close(cache.te);
    cache.te = NULL;
    cache.model_id[0] = 0;
    duch_textenc *te = NULL;
    int rc = duch_textenc_open_blob(VARDATA_ANY(blob), VARSIZE_ANY_EXHDR(blob), &te);
    if (rc != DUCH_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", te ? duch_textenc_errmsg(te) : "out of memory");
        duch_textenc_close(te);
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("%s: the archive's model: %s", fn, msg)));
    }
    cache.te = te;
    snprintf(cache.model_id, sizeof cache.model_id, "%s", id ? id : "");
    return te;
}

/* Encode text into code (room for DUCH_CODE_MAX_BITS / 8); the code length. Inside SPI. */
static size_t encode_text(const char *fn, const char *text, unsigned char *code, duch_textenc **te_out)
{
    duch_textenc *te = stored_textenc(fn);
    if (duch_textenc_encode(te, text, code) != DUCH_OK)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: %s", fn, duch_textenc_errmsg(te))));
    if (te_out)
        *te_out = te;
    return (size_t)duch_textenc_bits(te) / 8;
}

Datum pg_duch_text_code(PG_FUNCTION_ARGS)
{
    char *qtext = text_to_cstring(PG_GETARG_TEXT_PP(0));
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
    spi_connect();
    size_t n = encode_text("duch_text_code", qtext, code, NULL);
    SPI_finish();
    bytea *out = palloc(VARHDRSZ + n);
    SET_VARSIZE(out, VARHDRSZ + n);
    memcpy(VARDATA(out), code, n);
    PG_RETURN_BYTEA_P(out);
}

Datum pg_duch_text_explain(PG_FUNCTION_ARGS)
{
    char *qtext = text_to_cstring(PG_GETARG_TEXT_PP(0));
    spi_connect();
    duch_textenc *te = stored_textenc("duch_text_explain");
    char *json = NULL;
    if (duch_textenc_explain(te, qtext, &json) != DUCH_OK)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("duch_text_explain: %s", duch_textenc_errmsg(te))));
    SPI_finish();
    text *out = cstring_to_text(json);
    free(json);
    PG_RETURN_TEXT_P(out); /* declared json: its text form */
}

/* ------------------------------------------------------------ the packed codes */

static void cache_fail(const char *fmt, const char *detail)
{
    cache.valid = 0;
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg(fmt, detail)));
}

/* Make the cache hold the rows of tiles as this statement sees them. Inside SPI. */
static void cache_refresh(void)
{
    static SPIPlanPtr plan_version;
    archive_oids oids = relation_oids();
    Oid tiles = oids.tiles;
    if (tiles == InvalidOid)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("duch_knn: no tiles table here: this database (search path) holds "
                               "no duch archive")));
    int64 version = -1;
    if (oids.version != InvalidOid &&
        run_kept(&plan_version, "SELECT version FROM duch_tiles_version WHERE id = 0") == SPI_OK_SELECT &&
        SPI_processed == 1) {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        if (!isnull)
            version = DatumGetInt64(d);
    }
    if (cache.valid && cache.tiles_oid == tiles && version >= 0 && cache.version == version)
        return;
    /* read every row: codes packed, each footprint's exact box */
    cache.valid = 0;
    if (cache.codes)
        duch_codes_clear(cache.codes);
    cache.nbytes = 0;
    size_t n = 0;
    Portal portal = SPI_cursor_open_with_args(
        "duch_knn_load", "SELECT tile_id, code, ST_AsBinary(footprint, 'NDR') FROM tiles", 0, NULL,
        NULL, NULL, true, CURSOR_OPT_NO_SCROLL);
    for (;;) {
        SPI_cursor_fetch(portal, true, 10000);
        if (SPI_processed == 0)
            break;
        SPITupleTable *tt = SPI_tuptable;
        for (uint64 i = 0; i < SPI_processed; i++) {
            bool isnull;
            Datum d = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull);
            if (isnull)
                continue; /* a tile without a code is not searched */
            int64 id = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
            bytea *code = DatumGetByteaPP(d);
            size_t len = VARSIZE_ANY_EXHDR(code);
            if (!cache.nbytes) {
                if (len < DUCH_CODE_MIN_BITS / 8 || len > DUCH_CODE_MAX_BITS / 8) {
                    char b[64];
                    snprintf(b, sizeof b, "%lld has %zu bytes", (long long)id, len);
                    SPI_cursor_close(portal);
                    cache_fail("duch_knn: tile %s: not a code length duch makes", b);
                }
                cache.nbytes = len;
                if (cache.codes && duch_codes_nbytes(cache.codes) != len) {
                    duch_codes_free(cache.codes);
                    cache.codes = NULL;
                }
                if (!cache.codes && duch_codes_new(len, &cache.codes) != DUCH_OK)
                    ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("duch_knn: out of memory")));
            } else if (len != cache.nbytes) {
                char b[96];
                snprintf(b, sizeof b, "tile %lld has %zu bytes, others %zu", (long long)id, len,
                         cache.nbytes);
                SPI_cursor_close(portal);
                cache_fail("duch_knn: codes of mixed lengths in tiles (%s): the archive was changed "
                           "by other SQL", b);
            }
            if (n == cache.boxcap) {
                size_t cap = cache.boxcap ? cache.boxcap * 2 : 65536;
                double *nb = realloc(cache.boxes, cap * 4 * sizeof *nb);
                if (!nb)
                    ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("duch_knn: out of memory")));
                cache.boxes = nb;
                cache.boxcap = cap;
            }
            if (duch_codes_append(cache.codes, id, (const unsigned char *)VARDATA_ANY(code)) != DUCH_OK)
                ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("duch_knn: out of memory")));
            double *box = cache.boxes + 4 * n;
            box[0] = box[1] = box[2] = box[3] = NAN;
            d = SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull);
            if (!isnull) {
                bytea *wkb = DatumGetByteaPP(d);
                if (!duch_wkb_box((const unsigned char *)VARDATA_ANY(wkb), VARSIZE_ANY_EXHDR(wkb), box))
                    box[0] = box[1] = box[2] = box[3] = NAN;
            }
            n++;
        }
        SPI_freetuptable(SPI_tuptable);
        CHECK_FOR_INTERRUPTS();
    }
    SPI_cursor_close(portal);
    cache.tiles_oid = tiles;
    cache.version = version;
    cache.valid = 1;
}

/* duch_knn(query bytea | text, k int, minx, miny, maxx, maxy float8 DEFAULT NULL)
 *   RETURNS TABLE (tile_id bigint, distance int, confidence float8)
 * The geometry form is SQL over this one (duch--*.sql). */
Datum pg_duch_knn(PG_FUNCTION_ARGS)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("duch_knn: the query is NULL (give a text or a code bytea)")));
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("duch_knn: k must be an integer between 1 and %d", DUCH_KNN_MAX_K)));
    int32 k = PG_GETARG_INT32(1);
    if (k < 1 || k > DUCH_KNN_MAX_K)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("duch_knn: k must be between 1 and %d, got %d", DUCH_KNN_MAX_K, k)));
    int nbox = 0;
    double box[4];
    for (int j = 0; j < 4; j++)
        if (PG_NARGS() > 2 + j && !PG_ARGISNULL(2 + j)) {
            box[j] = PG_GETARG_FLOAT8(2 + j);
            nbox++;
        }
    if (nbox != 0 && nbox != 4)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("duch_knn: the box (minx, miny, maxx, maxy) must be 4 finite numbers;"
                               " %d of them are NULL", 4 - nbox)));
    char why[300];
    if (nbox == 4 && duch_bbox_check(box, why, sizeof why) != DUCH_OK)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("duch_knn: %s", why)));
    Oid qtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
    unsigned char qbuf[DUCH_CODE_MAX_BITS / 8];
    const unsigned char *query;
    size_t qlen;
    duch_textenc *te = NULL;

    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    spi_connect();
    if (qtype == BYTEAOID) {
        bytea *q = PG_GETARG_BYTEA_PP(0);
        qlen = VARSIZE_ANY_EXHDR(q);
        if (qlen < DUCH_CODE_MIN_BITS / 8 || qlen > DUCH_CODE_MAX_BITS / 8)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("duch_knn: the query code has %zu bytes; codes are %d to %d bytes",
                                   qlen, DUCH_CODE_MIN_BITS / 8, DUCH_CODE_MAX_BITS / 8)));
        memcpy(qbuf, VARDATA_ANY(q), qlen);
    } else {
        char *qtext = text_to_cstring(PG_GETARG_TEXT_PP(0));
        qlen = encode_text("duch_knn", qtext, qbuf, &te);
    }
    query = qbuf;
    cache_refresh();
    size_t n = cache.valid && cache.codes ? duch_codes_count(cache.codes) : 0;
    if (n && qlen != cache.nbytes)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("duch_knn: the query code has %zu bytes; this archive's codes have %zu"
                               " (%zu bits)", qlen, cache.nbytes, cache.nbytes * 8)));
    int crowd = te ? duch_textenc_crowd_rank(te) : 0;
    size_t room = (size_t)k < (size_t)crowd ? (size_t)crowd : (size_t)k, nhits = 0;
    duch_hit *hits = palloc(room * sizeof *hits);
    if (n) {
        size_t *subset = NULL, nsub = 0;
        if (nbox == 4) {
            subset = palloc(n * sizeof *subset);
            nsub = duch_bbox_select(cache.boxes, n, box, subset);
        }
        if (nbox != 4 || nsub > 0) {
            if (duch_codes_search(cache.codes, query, room, subset, nsub, hits, &nhits) != DUCH_OK)
                ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("duch_knn: out of memory")));
        }
    }
    int d1 = nhits ? (int)hits[0].distance : 0;
    int dcrowd = crowd && nhits ? (int)hits[((size_t)crowd < nhits ? (size_t)crowd : nhits) - 1].distance : 0;
    for (size_t i = 0; i < nhits && i < (size_t)k; i++) {
        Datum values[3];
        bool nulls[3] = {false, false, false};
        values[0] = Int64GetDatum(hits[i].id);
        values[1] = Int32GetDatum((int32)hits[i].distance);
        if (crowd)
            values[2] = Float8GetDatum(duch_textenc_confidence(te, (int)hits[i].distance, d1, dcrowd));
        else {
            values[2] = (Datum)0;
            nulls[2] = true;
        }
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    SPI_finish();
    return (Datum)0;
}

/* duch_cache_info(): what this session holds (json text) */
Datum pg_duch_cache_info(PG_FUNCTION_ARGS)
{
    char buf[256];
    snprintf(buf, sizeof buf, "{\"valid\": %s, \"tiles\": %zu, \"code_bytes\": %zu, \"version\": %lld}",
             cache.valid ? "true" : "false",
             cache.valid && cache.codes ? duch_codes_count(cache.codes) : (size_t)0, cache.nbytes,
             (long long)cache.version);
    PG_RETURN_TEXT_P(cstring_to_text(buf));
}
