/* archive_pg.c: the duch archive in PostgreSQL/PostGIS (docs/archive.md, "PostGIS").
 *
 * An archive named "PG:conninfo" (GDAL's convention: the rest is a libpq connection
 * string) is the tables of docs/archive.md in that database's search path, with PostGIS
 * geometries, bytea codes and the model stored inside. Many processes on many machines
 * write it at once:
 *
 *   - a scene is stored once: a unique index on (path, checksum) decides between two
 *     writers that insert the same scene (the second one waits for the first to commit,
 *     then finds it);
 *   - its writer holds a session advisory lock on the scene while it writes it, chunk
 *     after chunk. PostgreSQL drops that lock when the writer's connection ends, however
 *     it ends (kill -9, a crash, a lost machine once TCP keepalive gives up), so "is its
 *     writer still running?" is asked of the server: an incomplete scene whose lock can be
 *     taken is resumable at once, from any host;
 *   - each chunk is one transaction: COPY of its tiles, then the scene row.
 *
 * Search runs inside the server, in the duch extension (pg/duch.c): duch_knn over a
 * per-backend packed copy of the codes, read again when the statement trigger on tiles
 * has moved duch_tiles_version. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr */
#endif
#include "config.h"
#include "archive_pg.h"
#include "archive_internal.h"
#include "duch_utf8.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

/* Scene writers lock pg_advisory_lock(space, scene id), where space is the oid of the
 * archive's scenes table: archives in several schemas of one database do not collide. */
/* the transaction lock that serializes creating the schema */
#define PGA_SCHEMA_LOCK "SELECT pg_advisory_xact_lock(1685414760, -1)"

#define NOW_TEXT "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

struct pga {
    PGconn *conn;
    char *name;               /* "PG:..." with the password masked */
    int readonly;
    int bits;
    long lockspace;           /* the oid of scenes (see above) */
    int64_t scene_id;         /* scene of the open chunk, 0 when none */
    int64_t *claimed;         /* scenes whose advisory lock this session holds */
    size_t nclaimed, capclaimed;
    char token[192];
    /* the open chunk's tiles, sent with COPY at commit */
    char *copy;
    size_t copy_len, copy_cap;
    size_t chunk_n;
    duch_stored_model model;  /* handed out by get_model */
    char *meta_value;
    char msg[1024];
};

static int set_msg(pga *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void model_clear(pga *p);
static int set_msg(pga *p, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    duch_vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    return rc;
}

const char *pga_errmsg(const pga *p) { return p ? p->msg : "out of memory"; }
void pga_set_msg(pga *p, const char *msg) { snprintf(p->msg, sizeof p->msg, "%s", msg); }
const char *pga_name(const pga *p) { return p ? p->name : ""; }

/* libpq's message without its trailing newline */
static const char *pq_msg(pga *p, const PGresult *r)
{
    static __thread char buf[600];
    const char *m = r ? PQresultErrorMessage(r) : "";
    if (!m || !*m)
        m = PQerrorMessage(p->conn);
    snprintf(buf, sizeof buf, "%s", m ? m : "");
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return buf;
}

static int pq_fail(pga *p, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = DUCH_IO;
    if (state && !strcmp(state, "25006"))
        rc = DUCH_READONLY;
    else if (state && !strncmp(state, "53", 2))
        rc = DUCH_NOMEM;
    set_msg(p, rc, "%s: %s: %s", p->name, what, pq_msg(p, r));
    PQclear(r);
    return rc;
}

/* Run sql with text parameters; NULL (message set, *rc the status) on failure. */
static PGresult *run(pga *p, int *rc, const char *what, const char *sql, int n,
                     const char *const *vals)
{
    /* without parameters: PQexec, which also runs several statements */
    PGresult *r = n ? PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0) : PQexec(p->conn, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        *rc = DUCH_OK;
        return r;
    }
    *rc = pq_fail(p, r, what);
    return NULL;
}

static int exec0(pga *p, const char *what, const char *sql, int n, const char *const *vals)
{
    int rc;
    PGresult *r = run(p, &rc, what, sql, n, vals);
    PQclear(r);
    return rc;
}

static void rollback(pga *p)
{
    PQclear(PQexec(p->conn, "ROLLBACK"));
}

/* one int64 result (0 for NULL) */
static int query_i64(pga *p, const char *what, const char *sql, int n, const char *const *vals,
                     int64_t *out)
{
    int rc;
    PGresult *r = run(p, &rc, what, sql, n, vals);
    if (!r)
        return rc;
    *out = PQntuples(r) && !PQgetisnull(r, 0, 0) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return DUCH_OK;
}

/* ------------------------------------------------------------ the name */

/* "PG:dbname=x password=y" -> "PG:dbname=x password=***" */
char *duch_archive_display_name(const char *name)
{
    if (!name)
        return NULL;
    if (!duch_archive_is_pg(name))
        return strdup(name);
    char *s = strdup(name);
    if (!s)
        return NULL;
    char *q = strcasestr(s, "password");
    while (q) {
        char *e = q + 8;
        while (*e == ' ')
            e++;
        if (*e == '=') {
            e++;
            while (*e == ' ')
                e++;
            char *v = e;
            if (*v == '\'') {
                v++;
                while (*v && *v != '\'')
                    v += *v == '\\' && v[1] ? 2 : 1;
                if (*v)
                    v++;
            } else {
                while (*v && *v != ' ')
                    v++;
            }
            memmove(e + 3, v, strlen(v) + 1);
            memcpy(e, "***", 3);
            q = strcasestr(e + 3, "password");
        } else {
            q = strcasestr(e, "password");
        }
    }
    return s;
}

/* ------------------------------------------------------------ schema */

#define PGA_SCHEMA_SQL \
    "CREATE TABLE duch_metadata (key text PRIMARY KEY, value text NOT NULL);\n" \
    "CREATE TABLE duch_model (model_id text PRIMARY KEY,\n" \
    "  bits int NOT NULL CHECK (bits % 8 = 0 AND bits BETWEEN 16 AND 1024),\n" \
    "  size bigint NOT NULL, data bytea NOT NULL, stored_at text NOT NULL);\n" \
    "CREATE TABLE scenes (scene_id bigserial PRIMARY KEY, path text NOT NULL,\n" \
    "  width int NOT NULL, height int NOT NULL, bands int NOT NULL, crs_wkt text,\n" \
    "  gt0 float8, gt1 float8, gt2 float8, gt3 float8, gt4 float8, gt5 float8,\n" \
    "  checksum text, tile_size int, overlap int, tile_count int,\n" \
    "  complete int NOT NULL DEFAULT 0, indexed_at text NOT NULL, writer text, updated_at text,\n" \
    "  footprint geometry(Polygon, 4326));\n" \
    "CREATE UNIQUE INDEX scenes_identity ON scenes (path, (coalesce(checksum, '')));\n" \
    "CREATE INDEX scenes_footprint ON scenes USING gist (footprint);\n" \
    "CREATE TABLE tiles (tile_id bigserial PRIMARY KEY,\n" \
    "  scene_id bigint NOT NULL REFERENCES scenes ON DELETE CASCADE,\n" \
    "  x_off int NOT NULL, y_off int NOT NULL, width int NOT NULL, height int NOT NULL,\n" \
    "  code bytea NOT NULL, footprint geometry(Polygon, 4326));\n" \
    "CREATE INDEX tiles_scene ON tiles (scene_id);\n" \
    "CREATE INDEX tiles_footprint ON tiles USING gist (footprint);\n" \
    "CREATE TABLE duch_tiles_version (id int PRIMARY KEY CHECK (id = 0), version bigint NOT NULL);\n" \
    "INSERT INTO duch_tiles_version VALUES (0, 0);\n" \
    "CREATE FUNCTION duch_tiles_changed() RETURNS trigger LANGUAGE plpgsql AS\n" \
    "  $$BEGIN UPDATE duch_tiles_version SET version = version + 1 WHERE id = 0; RETURN NULL; END$$;\n" \
    "CREATE TRIGGER duch_tiles_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiles\n" \
    "  FOR EACH STATEMENT EXECUTE FUNCTION duch_tiles_changed();\n" \
    "CREATE TABLE duch_saved (name text PRIMARY KEY, query text, hits int NOT NULL,\n" \
    "  saved_at text NOT NULL);\n"

static int table_exists(pga *p, const char *name, int *yes)
{
    int rc;
    const char *v[1] = {name};
    PGresult *r = run(p, &rc, "reading the schema", "SELECT to_regclass($1) IS NOT NULL", 1, v);
    if (!r)
        return rc;
    *yes = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    return DUCH_OK;
}

/* Create the archive's tables when they are missing (under a transaction lock, so that
 * indexers starting together on an empty database make them once). */
static int create_schema(pga *p)
{
    int rc = exec0(p, "creating the archive", "BEGIN", 0, NULL);
    if (rc)
        return rc;
    int have = 0;
    if ((rc = exec0(p, "creating the archive", PGA_SCHEMA_LOCK, 0, NULL)) ||
        (rc = table_exists(p, "duch_metadata", &have)))
        goto fail;
    if (have)
        return exec0(p, "creating the archive", "COMMIT", 0, NULL);
    int tiles = 0;
    if ((rc = table_exists(p, "tiles", &tiles)))
        goto fail;
    if (tiles) {
        rc = set_msg(p, DUCH_INVALID, "%s: the database has a table \"tiles\" but no duch_metadata:"
                     " it is not a duch archive (use another database or schema)", p->name);
        goto fail;
    }
    PGresult *r = PQexec(p->conn, "CREATE EXTENSION IF NOT EXISTS postgis");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = set_msg(p, DUCH_NOTFOUND, "%s: PostGIS is needed and could not be enabled (%s); on "
                     "Debian: apt-get install postgresql-15-postgis-3, then CREATE EXTENSION "
                     "postgis as a superuser", p->name, pq_msg(p, r));
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    char created[200];
    snprintf(created, sizeof created, "duch %s", PACKAGE_VERSION);
    const char *v[2] = {created, NULL};
    char ver[16];
    snprintf(ver, sizeof ver, "%d", DUCH_ARCHIVE_SCHEMA_VERSION);
    v[1] = ver;
    if ((rc = exec0(p, "creating the archive", PGA_SCHEMA_SQL, 0, NULL)) ||
        (rc = exec0(p, "creating the archive",
                    "INSERT INTO duch_metadata VALUES ('schema_version', $2),"
                    " ('created_by', $1), ('created_at', " NOW_TEXT ")", 2, v)))
        goto fail;
    /* the search functions, where the server has them (an indexer does not need them) */
    PQclear(PQexec(p->conn, "SAVEPOINT duch_ext"));
    r = PQexec(p->conn, "CREATE EXTENSION IF NOT EXISTS duch");
    int ext_ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQclear(PQexec(p->conn, ext_ok ? "RELEASE SAVEPOINT duch_ext" : "ROLLBACK TO SAVEPOINT duch_ext"));
    return exec0(p, "creating the archive", "COMMIT", 0, NULL);
fail:
    rollback(p);
    return rc;
}

static int load_bits(pga *p)
{
    int64_t b = 0;
    int rc = query_i64(p, "reading the model", "SELECT bits FROM duch_model LIMIT 1", 0, NULL, &b);
    if (!rc)
        p->bits = (int)b;
    return rc;
}

int pga_open(const char *name, int flags, pga **out)
{
    pga *p = calloc(1, sizeof *p);
    *out = p;
    if (!p)
        return DUCH_NOMEM;
    p->name = duch_archive_display_name(name);
    if (!p->name)
        return set_msg(p, DUCH_NOMEM, "out of memory");
    p->readonly = (flags & DUCH_ARCHIVE_READONLY) != 0;
    const char *conninfo = name + 3;
    p->conn = PQconnectdb(conninfo);
    if (!p->conn)
        return set_msg(p, DUCH_NOMEM, "out of memory");
    if (PQstatus(p->conn) != CONNECTION_OK)
        return set_msg(p, DUCH_IO, "%s: cannot connect to PostgreSQL: %s", p->name,
                       pq_msg(p, NULL));
    PQclear(PQexec(p->conn, "SET client_min_messages = warning"));
    int rc, have = 0;
    if ((rc = table_exists(p, "duch_metadata", &have)))
        return rc;
    if (!have && !(flags & DUCH_ARCHIVE_CREATE)) {
        int tiles = 0;
        table_exists(p, "tiles", &tiles);
        return set_msg(p, tiles ? DUCH_INVALID : DUCH_NOTFOUND,
                       tiles ? "%s: not a duch archive (a tiles table but no duch_metadata)"
                             : "%s: no duch archive in this database (index a scene into it first)",
                       p->name);
    }
    if (!have && (rc = create_schema(p)))
        return rc;
    int64_t version = 0;
    if ((rc = query_i64(p, "reading the archive",
                        "SELECT value::int FROM duch_metadata WHERE key = 'schema_version'", 0, NULL,
                        &version)))
        return rc;
    if (version > DUCH_ARCHIVE_SCHEMA_VERSION)
        return set_msg(p, DUCH_VERSION, "%s: archive schema version %lld is newer than this duch "
                       "reads (%d): upgrade duch", p->name, (long long)version,
                       DUCH_ARCHIVE_SCHEMA_VERSION);
    if ((rc = load_bits(p)))
        return rc;
    int64_t space = 0;
    if ((rc = query_i64(p, "reading the archive", "SELECT to_regclass('scenes')::oid::int", 0, NULL,
                        &space)))
        return rc;
    p->lockspace = (long)space;
    if (p->readonly)
        PQclear(PQexec(p->conn, "SET default_transaction_read_only = on"));
    else
        duch_writer_token(p->token, sizeof p->token);
    p->msg[0] = 0;
    return DUCH_OK;
}

void pga_close(pga *p)
{
    if (!p)
        return;
    if (p->conn) {
        if (p->scene_id)
            rollback(p);
        PQfinish(p->conn); /* the server drops this session's advisory locks */
    }
    free(p->name);
    free(p->claimed);
    free(p->copy);
    model_clear(p);
    free(p->meta_value);
    free(p);
}

static int check_writable(pga *p, const char *what)
{
    if (p->readonly)
        return set_msg(p, DUCH_READONLY, "%s: %s was opened read-only", what, p->name);
    return DUCH_OK;
}

/* ------------------------------------------------------------ model */

/* p->model holds malloc'ed data here (duch_stored_model_clear is for engine.c's mmap'ed
 * copies) */
static void model_clear(pga *p)
{
    free(p->model.data);
    memset(&p->model, 0, sizeof p->model);
}

/* (duch_archive_set_model checked the arguments, as for every pga_ function) */
int pga_set_model(pga *p, const void *blob, size_t size, const char *id, int bits)
{
    int rc;
    if (p->scene_id)
        return set_msg(p, DUCH_INVALID, "set_model: a scene is being written");
    if ((rc = exec0(p, "set_model", "BEGIN", 0, NULL)))
        return rc;
    /* the same lock as the schema: two first indexers store one model */
    PGresult *r = NULL;
    if ((rc = exec0(p, "set_model", PGA_SCHEMA_LOCK, 0, NULL)) ||
        !(r = run(p, &rc, "set_model", "SELECT model_id FROM duch_model", 0, NULL)))
        goto fail;
    if (PQntuples(r) > 0) {
        const char *have = PQgetvalue(r, 0, 0);
        if (strcmp(have, id))
            rc = set_msg(p, DUCH_MISMATCH,
                         "%s holds codes of model %s; model %s does not match (use another archive)",
                         p->name, have, id);
        PQclear(r);
        if (rc)
            goto fail;
        p->bits = bits;
        return exec0(p, "set_model", "COMMIT", 0, NULL);
    }
    PQclear(r);
    char sbits[16], ssize[32], slen[16];
    snprintf(sbits, sizeof sbits, "%d", bits);
    snprintf(ssize, sizeof ssize, "%zu", size);
    snprintf(slen, sizeof slen, "%d", bits / 8);
    const char *vals[4] = {id, sbits, ssize, (const char *)blob};
    int lens[4] = {0, 0, 0, (int)size}, fmts[4] = {0, 0, 0, 1};
    r = PQexecParams(p->conn,
                     "INSERT INTO duch_model VALUES ($1, $2::int, $3::bigint, $4, " NOW_TEXT ")", 4,
                     NULL, vals, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pq_fail(p, r, "storing the model");
        goto fail;
    }
    PQclear(r);
    /* every code has bits/8 bytes: a constraint, so that check_codes reads no rows */
    char sql[200];
    snprintf(sql, sizeof sql, "ALTER TABLE tiles ADD CONSTRAINT tiles_code_len"
                              " CHECK (octet_length(code) = %d)", bits / 8);
    if ((rc = exec0(p, "set_model", sql, 0, NULL)) || (rc = exec0(p, "set_model", "COMMIT", 0, NULL)))
        goto fail;
    p->bits = bits;
    return DUCH_OK;
fail:
    rollback(p);
    return rc;
}

int pga_get_model(pga *p, const void **blob, size_t *size, const char **id, int *bits)
{
    model_clear(p);
    int with_data = blob || size, rc;
    PGresult *r = PQexecParams(p->conn,
                               with_data ? "SELECT model_id, bits, data FROM duch_model LIMIT 1"
                                         : "SELECT model_id, bits, NULL::bytea FROM duch_model LIMIT 1",
                               0, NULL, NULL, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pq_fail(p, r, "reading the model");
    if (PQntuples(r) == 0) {
        PQclear(r);
        return set_msg(p, DUCH_NOTFOUND, "%s holds no model yet", p->name);
    }
    snprintf(p->model.id, sizeof p->model.id, "%.*s", PQgetlength(r, 0, 0), PQgetvalue(r, 0, 0));
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, 0, 1);
    p->model.bits = (int)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
    rc = DUCH_OK;
    if (with_data) {
        p->model.size = (size_t)PQgetlength(r, 0, 2);
        p->model.data = malloc(p->model.size ? p->model.size : 1);
        if (!p->model.data)
            rc = set_msg(p, DUCH_NOMEM, "out of memory");
        else
            memcpy(p->model.data, PQgetvalue(r, 0, 2), p->model.size);
    }
    PQclear(r);
    if (rc)
        return rc;
    if (blob)
        *blob = p->model.data;
    if (size)
        *size = p->model.size;
    if (id)
        *id = p->model.id;
    if (bits)
        *bits = p->model.bits;
    return DUCH_OK;
}

int pga_bits(pga *p) { return p ? p->bits : 0; }

/* ------------------------------------------------------------ scenes */

static int claimed_at(const pga *p, int64_t id)
{
    for (size_t i = 0; i < p->nclaimed; i++)
        if (p->claimed[i] == id)
            return (int)i;
    return -1;
}

static int claim_add(pga *p, int64_t id)
{
    if (claimed_at(p, id) >= 0)
        return DUCH_OK;
    if (p->nclaimed == p->capclaimed) {
        size_t cap = p->capclaimed ? 2 * p->capclaimed : 16;
        int64_t *c = realloc(p->claimed, cap * sizeof *c);
        if (!c)
            return set_msg(p, DUCH_NOMEM, "out of memory");
        p->claimed = c;
        p->capclaimed = cap;
    }
    p->claimed[p->nclaimed++] = id;
    return DUCH_OK;
}

/* Take (try = 1: try) the scene's writer lock; 1 when held. */
static int scene_lock(pga *p, int64_t id, int try_only)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)(id % 2147483647));
    const char *v[1] = {key};
    char sql[120];
    snprintf(sql, sizeof sql, "SELECT %s(%ld, $1::int)",
             try_only ? "pg_try_advisory_lock" : "pg_advisory_lock", p->lockspace);
    int rc;
    PGresult *r = run(p, &rc, "locking the scene", sql, 1, v);
    if (!r)
        return 0;
    int held = try_only ? !strcmp(PQgetvalue(r, 0, 0), "t") : 1;
    PQclear(r);
    return held;
}

static void scene_unlock(pga *p, int64_t id)
{
    char sql[120];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%ld, %lld)", p->lockspace,
             (long long)(id % 2147483647));
    PQclear(PQexec(p->conn, sql));
    int i = claimed_at(p, id);
    if (i >= 0)
        p->claimed[i] = p->claimed[--p->nclaimed];
}

/* The state of scene (path, checksum). keep = 1: a resumable scene's lock stays held (and
 * claimed) by this session. */
static int scene_lookup(pga *p, const char *path, const char *checksum, duch_scene_status *out,
                        int keep)
{
    memset(out, 0, sizeof *out);
    out->state = DUCH_SCENE_ABSENT;
    const char *v[2] = {path, checksum};
    int rc;
    PGresult *r = run(p, &rc, "looking up the scene",
                      "SELECT scene_id, complete, tile_size, overlap, writer FROM scenes"
                      " WHERE path = $1 AND coalesce(checksum, '') = coalesce($2, '')"
                      " ORDER BY complete DESC, scene_id LIMIT 1", 2, v);
    if (!r)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return DUCH_OK;
    }
    out->scene_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    int complete = atoi(PQgetvalue(r, 0, 1));
    out->tile_size = atoi(PQgetvalue(r, 0, 2));
    out->overlap = atoi(PQgetvalue(r, 0, 3));
    if (!PQgetisnull(r, 0, 4))
        snprintf(out->writer, sizeof out->writer, "%s", PQgetvalue(r, 0, 4));
    PQclear(r);
    if (complete) {
        out->state = DUCH_SCENE_COMPLETE;
    } else if (claimed_at(p, out->scene_id) >= 0 && !keep) {
        out->state = DUCH_SCENE_BUSY; /* this very handle writes it */
    } else if (claimed_at(p, out->scene_id) >= 0 || scene_lock(p, out->scene_id, 1)) {
        out->state = DUCH_SCENE_RESUMABLE;
        if (!keep)
            scene_unlock(p, out->scene_id);
        else if ((rc = claim_add(p, out->scene_id)))
            return rc;
    } else {
        out->state = DUCH_SCENE_BUSY;
        if (!out->writer[0])
            snprintf(out->writer, sizeof out->writer, "a live PostgreSQL session");
    }
    if (out->state == DUCH_SCENE_COMPLETE)
        return DUCH_OK;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)out->scene_id);
    const char *w[1] = {sid};
    if (!(r = run(p, &rc, "looking up the scene",
                  "SELECT (SELECT count(*) FROM tiles WHERE scene_id = $1::bigint), x_off, y_off"
                  " FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT x_off, y_off FROM tiles"
                  " WHERE scene_id = $1::bigint ORDER BY tile_id DESC LIMIT 1) t ON true", 1, w)))
        return rc;
    out->tiles = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    if (out->tiles > 0) {
        out->last_x_off = atoi(PQgetvalue(r, 0, 1));
        out->last_y_off = atoi(PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return DUCH_OK;
}

int pga_scene_status(pga *p, const char *path, const char *checksum, duch_scene_status *out)
{
    return scene_lookup(p, path, checksum, out, 0);
}

int pga_find_scene(pga *p, const char *path, const char *checksum, int64_t *scene_id)
{
    const char *v[2] = {path, checksum};
    int64_t id = 0;
    int rc = query_i64(p, "find_scene",
                       "SELECT scene_id FROM scenes WHERE path = $1 AND complete = 1"
                       " AND ($2::text IS NULL OR checksum = $2) ORDER BY scene_id DESC LIMIT 1",
                       2, v, &id);
    if (rc)
        return rc;
    if (!id)
        return set_msg(p, DUCH_NOTFOUND, "%s: scene %s is not in the archive", p->name, path);
    *scene_id = id;
    return DUCH_OK;
}

static int scene_taken(pga *p, const char *path, const duch_scene_status *st)
{
    return duch_scene_taken_msg(p->msg, sizeof p->msg, p->name, path, st);
}

static int begin_checks(pga *p, const char *what)
{
    int rc = check_writable(p, what);
    if (rc)
        return rc;
    if (p->scene_id)
        return set_msg(p, DUCH_INVALID, "%s: scene %lld is still open (commit or roll it back first)",
                       what, (long long)p->scene_id);
    if ((rc = load_bits(p)))
        return rc;
    if (!p->bits)
        return set_msg(p, DUCH_INVALID, "%s: %s holds no model yet (store it with set_model first)",
                       what, p->name);
    return DUCH_OK;
}

/* EWKT of a closed ring in EPSG:4326, malloc'ed; NULL with *bad for a ring of fewer than 3
 * distinct finite points */
static char *ring_ewkt(const double *ring, int npoints, int *bad)
{
    *bad = 1;
    int n = duch_ring_points(ring, npoints);
    if (!n)
        return NULL;
    *bad = 0;
    size_t cap = 40 + (size_t)n * 52;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t len = (size_t)snprintf(s, cap, "SRID=4326;POLYGON((");
    for (int i = 0; i < n; i++) {
        int j = i < npoints ? i : 0;
        len += (size_t)snprintf(s + len, cap - len, "%s%.17g %.17g", i ? "," : "", ring[2 * j],
                                ring[2 * j + 1]);
    }
    snprintf(s + len, cap - len, "))");
    return s;
}

int pga_begin_scene(pga *p, const duch_scene_record *s, int64_t *scene_id)
{
    int rc = begin_checks(p, "begin_scene");
    if (rc)
        return rc;
    char *fp = NULL;
    int bad = 0;
    if (s->footprint && s->footprint_npoints &&
        !(fp = ring_ewkt(s->footprint, s->footprint_npoints, &bad)))
        return set_msg(p, DUCH_NOMEM, "out of memory");
    char num[11][32];
    snprintf(num[0], 32, "%d", s->width);
    snprintf(num[1], 32, "%d", s->height);
    snprintf(num[2], 32, "%d", s->bands);
    for (int i = 0; i < 6; i++)
        snprintf(num[3 + i], 32, "%.17g", s->geotransform[i]);
    snprintf(num[9], 32, "%d", s->tile_size);
    snprintf(num[10], 32, "%d", s->overlap);
    const char *v[16] = {s->path, num[0], num[1], num[2], s->crs_wkt, num[3], num[4], num[5],
                         num[6], num[7], num[8], s->checksum, num[9], num[10], fp, p->token};
    if ((rc = exec0(p, "begin_scene", "BEGIN", 0, NULL))) {
        free(fp);
        return rc;
    }
    /* A second writer of the same scene waits here on the unique index until the first
     * commits (then it inserts nothing) or rolls back (then it inserts). */
    PGresult *r = run(p, &rc, "inserting the scene",
                      "INSERT INTO scenes (path, width, height, bands, crs_wkt, gt0, gt1, gt2, gt3,"
                      " gt4, gt5, checksum, tile_size, overlap, complete, indexed_at, footprint,"
                      " writer, updated_at) VALUES ($1, $2::int, $3::int, $4::int, $5,"
                      " $6::float8, $7::float8, $8::float8, $9::float8, $10::float8, $11::float8,"
                      " $12, $13::int, $14::int, 0, " NOW_TEXT ", $15::geometry, $16, " NOW_TEXT ")"
                      " ON CONFLICT DO NOTHING RETURNING scene_id",
                      16, v);
    free(fp);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        rollback(p);
        duch_scene_status have;
        if (!(rc = scene_lookup(p, s->path, s->checksum, &have, 0)))
            rc = scene_taken(p, s->path, &have);
        return rc;
    }
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (!scene_lock(p, id, 0) || (rc = claim_add(p, id))) {
        rc = rc ? rc : DUCH_IO;
        goto fail;
    }
    p->scene_id = id;
    *scene_id = id;
    p->copy_len = p->chunk_n = 0;
    return DUCH_OK;
fail:
    rollback(p);
    return rc;
}

int pga_resume_scene(pga *p, const char *path, const char *checksum, const duch_scene_status *expect)
{
    int rc = begin_checks(p, "resume_scene");
    if (rc)
        return rc;
    if (!path || !expect || expect->state != DUCH_SCENE_RESUMABLE)
        return set_msg(p, DUCH_INVALID, "resume_scene: a resumable scene status is required");
    duch_scene_status have;
    if ((rc = scene_lookup(p, path, checksum, &have, 1)))
        return rc;
    if (have.state != DUCH_SCENE_RESUMABLE || have.scene_id != expect->scene_id ||
        have.tiles != expect->tiles) {
        if (have.state == DUCH_SCENE_RESUMABLE)
            scene_unlock(p, have.scene_id);
        return scene_taken(p, path, &have);
    }
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)have.scene_id);
    const char *v[2] = {p->token, sid};
    if ((rc = exec0(p, "resume_scene", "BEGIN", 0, NULL)) ||
        (rc = exec0(p, "resume_scene", "UPDATE scenes SET writer = $1, updated_at = " NOW_TEXT
                    " WHERE scene_id = $2::bigint", 2, v))) {
        rollback(p);
        scene_unlock(p, have.scene_id);
        return rc;
    }
    p->scene_id = have.scene_id;
    p->copy_len = p->chunk_n = 0;
    return DUCH_OK;
}

int pga_continue_scene(pga *p, int64_t scene_id)
{
    int rc = begin_checks(p, "continue_scene");
    if (rc)
        return rc;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)scene_id);
    const char *v[1] = {sid};
    int64_t ok = 0;
    if ((rc = exec0(p, "continue_scene", "BEGIN", 0, NULL)) ||
        (rc = query_i64(p, "continue_scene",
                        "SELECT count(*) FROM scenes WHERE scene_id = $1::bigint AND complete = 0",
                        1, v, &ok))) {
        rollback(p);
        return rc;
    }
    if (!ok || claimed_at(p, scene_id) < 0) {
        rollback(p);
        return set_msg(p, DUCH_EXISTS,
                       "%s: scene %lld is no longer this writer's (deleted, completed or taken "
                       "over by another writer)", p->name, (long long)scene_id);
    }
    p->scene_id = scene_id;
    p->copy_len = p->chunk_n = 0;
    return DUCH_OK;
}

/* append to the chunk's COPY text */
static int copy_put(pga *p, const char *s, size_t n)
{
    if (p->copy_len + n + 1 > p->copy_cap) {
        size_t cap = p->copy_cap ? p->copy_cap : 1 << 16;
        while (cap < p->copy_len + n + 1)
            cap *= 2;
        char *c = realloc(p->copy, cap);
        if (!c)
            return set_msg(p, DUCH_NOMEM, "out of memory");
        p->copy = c;
        p->copy_cap = cap;
    }
    memcpy(p->copy + p->copy_len, s, n);
    p->copy_len += n;
    return DUCH_OK;
}

/* Send the chunk's buffered tiles with one COPY (in the open transaction). */
static int copy_flush(pga *p, const char *what)
{
    if (!p->copy_len)
        return DUCH_OK;
    PGresult *r = PQexec(p->conn, "COPY tiles (scene_id, x_off, y_off, width, height, code,"
                                  " footprint) FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return pq_fail(p, r, what);
    PQclear(r);
    if (PQputCopyData(p->conn, p->copy, (int)p->copy_len) != 1 || PQputCopyEnd(p->conn, NULL) != 1)
        return set_msg(p, DUCH_IO, "%s: %s: %s", p->name, what, pq_msg(p, NULL));
    r = PQgetResult(p->conn);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? DUCH_OK : pq_fail(p, r, what);
    if (rc == DUCH_OK)
        PQclear(r);
    while ((r = PQgetResult(p->conn)))
        PQclear(r);
    p->copy_len = 0;
    return rc;
}

int pga_add_tile(pga *p, int64_t scene_id, int x_off, int y_off, int width, int height,
                 const unsigned char *code, const double *ring, int npoints, int64_t *tile_id)
{
    int rc;
    if (!p->scene_id || scene_id != p->scene_id)
        return set_msg(p, DUCH_INVALID, "add_tile: scene %lld is not the open scene",
                       (long long)scene_id);
    int bad = 0;
    char *fp = !ring && npoints == 0 ? NULL : ring_ewkt(ring, npoints, &bad);
    if (!fp && (ring || npoints != 0))
        return set_msg(p, DUCH_NOMEM, "out of memory");
    char head[160];
    int n = snprintf(head, sizeof head, "%lld\t%d\t%d\t%d\t%d\t\\\\x", (long long)scene_id, x_off,
                     y_off, width, height);
    rc = copy_put(p, head, (size_t)n);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; !rc && i < p->bits / 8; i++) {
        char h[2] = {hex[code[i] >> 4], hex[code[i] & 15]};
        rc = copy_put(p, h, 2);
    }
    if (!rc)
        rc = copy_put(p, "\t", 1);
    if (!rc)
        rc = fp ? copy_put(p, fp, strlen(fp)) : copy_put(p, "\\N", 2);
    if (!rc)
        rc = copy_put(p, "\n", 1);
    free(fp);
    if (rc)
        return rc;
    p->chunk_n++;
    if (tile_id) { /* asked for its id: send what is buffered now */
        if ((rc = copy_flush(p, "adding a tile")))
            return rc;
        int64_t id = 0;
        if ((rc = query_i64(p, "adding a tile", "SELECT lastval()", 0, NULL, &id)))
            return rc;
        *tile_id = id;
    }
    return DUCH_OK;
}

int pga_commit_chunk(pga *p, int last)
{
    if (!p->scene_id)
        return set_msg(p, DUCH_INVALID, "commit_chunk: no scene is open");
    int rc = DUCH_OK;
    if ((rc = copy_flush(p, "writing the tiles")))
        goto fail;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)p->scene_id);
    const char *v[1] = {sid};
    if ((rc = exec0(p, "commit_chunk",
                    last ? "UPDATE scenes SET complete = 1, writer = NULL, tile_count ="
                           " (SELECT count(*) FROM tiles WHERE scene_id = $1::bigint),"
                           " updated_at = " NOW_TEXT " WHERE scene_id = $1::bigint"
                         : "UPDATE scenes SET updated_at = " NOW_TEXT " WHERE scene_id = $1::bigint",
                    1, v)) ||
        (rc = exec0(p, "commit_chunk", "COMMIT", 0, NULL)))
        goto fail;
    if (last)
        scene_unlock(p, p->scene_id);
    p->scene_id = 0;
    p->copy_len = p->chunk_n = 0;
    return DUCH_OK;
fail:
    rollback(p);
    p->scene_id = 0;
    p->copy_len = p->chunk_n = 0;
    return rc;
}

int pga_rollback_scene(pga *p)
{
    if (!p->scene_id)
        return set_msg(p, DUCH_INVALID, "rollback_scene: no scene is open");
    p->scene_id = 0;
    p->copy_len = p->chunk_n = 0;
    return exec0(p, "rollback_scene", "ROLLBACK", 0, NULL);
}

int pga_release_scene(pga *p, int64_t scene_id)
{
    int rc = check_writable(p, "release_scene");
    if (rc)
        return rc;
    if (p->scene_id)
        return set_msg(p, DUCH_INVALID, "release_scene: scene %lld is still open",
                       (long long)p->scene_id);
    if (claimed_at(p, scene_id) < 0)
        return DUCH_OK;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)scene_id);
    const char *v[2] = {sid, p->token};
    rc = exec0(p, "release_scene", "UPDATE scenes SET writer = NULL WHERE scene_id = $1::bigint"
               " AND complete = 0 AND writer = $2", 2, v);
    scene_unlock(p, scene_id);
    return rc;
}

/* ------------------------------------------------------------ queries */

int pga_check_codes(pga *p)
{
    int rc = load_bits(p);
    if (rc)
        return rc;
    /* the constraint set_model adds, when it holds for every row, answers without a scan */
    char want[80];
    snprintf(want, sizeof want, "CHECK ((octet_length(code) = %d))", p->bits / 8);
    const char *v[1] = {want};
    int64_t ok = 0;
    if ((rc = query_i64(p, "checking the codes",
                        "SELECT count(*) FROM pg_constraint WHERE conrelid = to_regclass('tiles')"
                        " AND conname = 'tiles_code_len' AND convalidated"
                        " AND pg_get_constraintdef(oid) = $1", 1, v, &ok)))
        return rc;
    if (ok && p->bits)
        return DUCH_OK;
    char sbytes[16];
    snprintf(sbytes, sizeof sbytes, "%d", p->bits / 8);
    const char *w[1] = {sbytes};
    PGresult *r = run(p, &rc, "checking the codes",
                      "SELECT count(*), min(tile_id), (SELECT octet_length(code) FROM tiles"
                      " WHERE octet_length(code) <> $1::int ORDER BY tile_id LIMIT 1)"
                      " FROM tiles WHERE octet_length(code) <> $1::int", 1, w);
    if (!r)
        return rc;
    long long nbad = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    long long first = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    long long len = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    PQclear(r);
    if (nbad == 0)
        return DUCH_OK;
    return duch_codes_mismatch_msg(p->msg, sizeof p->msg, p->name, nbad, p->bits, first, len);
}

int pga_counts(pga *p, int done, int64_t *scenes, int64_t *tiles)
{
    char d[4];
    snprintf(d, sizeof d, "%d", done ? 1 : 0);
    const char *v[1] = {d};
    int rc;
    if (scenes && (rc = query_i64(p, "counts", "SELECT count(*) FROM scenes WHERE complete = $1::int",
                                  1, v, scenes)))
        return rc;
    if (tiles && (rc = query_i64(p, "counts",
                                 "SELECT count(*) FROM tiles WHERE scene_id IN"
                                 " (SELECT scene_id FROM scenes WHERE complete = $1::int)",
                                 1, v, tiles)))
        return rc;
    return DUCH_OK;
}

int pga_extent(pga *p, double extent[4])
{
    int rc;
    PGresult *r = run(p, &rc, "extent",
                      "SELECT min(ST_XMin(footprint)), min(ST_YMin(footprint)),"
                      " max(ST_XMax(footprint)), max(ST_YMax(footprint)) FROM tiles", 0, NULL);
    if (!r)
        return rc;
    if (PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return set_msg(p, DUCH_NOTFOUND, "%s has no tiles", p->name);
    }
    for (int i = 0; i < 4; i++)
        extent[i] = strtod(PQgetvalue(r, 0, i), NULL);
    PQclear(r);
    return DUCH_OK;
}

int pga_meta_get(pga *p, const char *key, const char **value)
{
    const char *v[1] = {key};
    int rc;
    PGresult *r = run(p, &rc, "meta_get", "SELECT value FROM duch_metadata WHERE key = $1", 1, v);
    if (!r)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return set_msg(p, DUCH_NOTFOUND, "%s: no metadata key '%s'", p->name, key);
    }
    free(p->meta_value);
    p->meta_value = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!p->meta_value)
        return set_msg(p, DUCH_NOMEM, "out of memory");
    *value = p->meta_value;
    return DUCH_OK;
}

int pga_meta_set(pga *p, const char *key, const char *value)
{
    int rc = check_writable(p, "meta_set");
    if (rc)
        return rc;
    const char *v[2] = {key, value};
    return value ? exec0(p, "meta_set", "INSERT INTO duch_metadata VALUES ($1, $2)"
                         " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", 2, v)
                 : exec0(p, "meta_set", "DELETE FROM duch_metadata WHERE key = $1", 1, v);
}

/* ------------------------------------------------------------ saved hits */

#define PGA_SAVED_COLUMNS "fid,rank,distance,confidence,tile_id,scene_id,scene,x_off,y_off,width,height,query,footprint"

int pga_save_hits(pga *p, const char *name, const char *query, const duch_saved_hit *hits, int n)
{
    int rc;
    if (p->scene_id)
        return set_msg(p, DUCH_INVALID, "save_hits: a scene is being written");
    /* PostgreSQL folds unquoted names to lower case: the table is the lower-case name */
    char lname[72];
    size_t i;
    for (i = 0; name[i] && i < sizeof lname - 1; i++)
        lname[i] = (char)tolower((unsigned char)name[i]);
    lname[i] = 0;
    const char *v[1] = {lname};
    PGresult *r = NULL;
    if ((rc = exec0(p, "save_hits", "BEGIN", 0, NULL)) ||
        (rc = exec0(p, "save_hits", "CREATE TABLE IF NOT EXISTS duch_saved (name text PRIMARY KEY,"
                    " query text, hits int NOT NULL, saved_at text NOT NULL)", 0, NULL)) ||
        !(r = run(p, &rc, "save_hits",
                  "SELECT c.relkind, (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
                  " WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped),"
                  " EXISTS (SELECT 1 FROM duch_saved WHERE lower(name) = $1)"
                  " FROM pg_class c WHERE c.oid = to_regclass(quote_ident($1))", 1, v)))
        goto fail;
    if (PQntuples(r) > 0) {
        int ours = !strcmp(PQgetvalue(r, 0, 0), "r") && !strcmp(PQgetvalue(r, 0, 1), PGA_SAVED_COLUMNS) &&
                   !strcmp(PQgetvalue(r, 0, 2), "t");
        char kind[8];
        snprintf(kind, sizeof kind, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        if (!ours) {
            rc = set_msg(p, DUCH_EXISTS, "%s: a %s named '%s' exists and was not saved by duch "
                         "query --save: not replacing it (choose another name)", p->name,
                         kind[0] == 'r' ? "table" : kind[0] == 'v' ? "view" : "relation", lname);
            goto fail;
        }
        char sql[160];
        snprintf(sql, sizeof sql, "DROP TABLE \"%s\"", lname);
        if ((rc = exec0(p, "replacing the saved result", sql, 0, NULL)))
            goto fail;
    } else {
        PQclear(r);
    }
    char sql[600];
    snprintf(sql, sizeof sql,
             "CREATE TABLE \"%s\" (fid serial PRIMARY KEY, rank int NOT NULL, distance int NOT NULL,"
             " confidence float8, tile_id bigint NOT NULL, scene_id bigint, scene text, x_off int,"
             " y_off int, width int, height int, query text, footprint geometry(Polygon, 4326));"
             "CREATE INDEX ON \"%s\" USING gist (footprint)", lname, lname);
    if ((rc = exec0(p, "creating the saved result", sql, 0, NULL)))
        goto fail;
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\" (rank, distance, confidence, tile_id, scene_id, scene, x_off,"
             " y_off, width, height, query, footprint) VALUES ($1::int, $2::int, $3::float8,"
             " $4::bigint, $5::bigint, $6, $7::int, $8::int, $9::int, $10::int, $11, $12::geometry)",
             lname);
    for (int h = 0; h < n; h++) {
        const duch_saved_hit *x = &hits[h];
        char num[10][32];
        snprintf(num[0], 32, "%d", x->rank);
        snprintf(num[1], 32, "%d", x->distance);
        snprintf(num[2], 32, "%.17g", x->confidence);
        snprintf(num[3], 32, "%lld", (long long)x->tile_id);
        snprintf(num[4], 32, "%lld", (long long)x->scene_id);
        snprintf(num[5], 32, "%d", x->x_off);
        snprintf(num[6], 32, "%d", x->y_off);
        snprintf(num[7], 32, "%d", x->width);
        snprintf(num[8], 32, "%d", x->height);
        int bad = 0;
        char *fp = x->footprint && x->footprint_npoints
                       ? ring_ewkt(x->footprint, x->footprint_npoints, &bad) : NULL;
        if (!fp && x->footprint && x->footprint_npoints) {
            rc = set_msg(p, DUCH_NOMEM, "out of memory");
            goto fail;
        }
        const char *w[12] = {num[0], num[1], x->confidence >= 0 ? num[2] : NULL, num[3], num[4],
                             x->scene, num[5], num[6], num[7], num[8], query, fp};
        rc = exec0(p, "storing a saved hit", sql, 12, w);
        free(fp);
        if (rc)
            goto fail;
    }
    char nh[16];
    snprintf(nh, sizeof nh, "%d", n);
    const char *w[3] = {lname, query, nh};
    if ((rc = exec0(p, "recording the saved result",
                    "INSERT INTO duch_saved VALUES ($1, $2, $3::int, " NOW_TEXT ") ON CONFLICT (name)"
                    " DO UPDATE SET query = EXCLUDED.query, hits = EXCLUDED.hits,"
                    " saved_at = EXCLUDED.saved_at", 3, w)) ||
        (rc = exec0(p, "committing the saved result", "COMMIT", 0, NULL)))
        goto fail;
    return DUCH_OK;
fail:
    rollback(p);
    return rc;
}

/* ------------------------------------------------------------ search */

int pga_search(pga *p, const unsigned char *query, size_t qlen, const double *bbox, size_t k,
               duch_hit *hits, size_t *nhits)
{
    *nhits = 0;
    if (p->bits && qlen != (size_t)p->bits / 8)
        return set_msg(p, DUCH_INVALID, "the query code has %zu bytes; this archive's codes have"
                       " %d (%d bits)", qlen, p->bits / 8, p->bits);
    if (k > 1000000)
        return set_msg(p, DUCH_INVALID, "k must be at most 1000000");
    int64_t have = 0;
    int rc = query_i64(p, "search", "SELECT count(*) FROM pg_extension WHERE extname = 'duch'", 0,
                       NULL, &have);
    if (rc)
        return rc;
    if (!have)
        return set_msg(p, DUCH_NOTFOUND, "%s: the database has no duch extension, which searches "
                       "inside PostgreSQL: install it on the server (make install, as root, puts it "
                       "where pg_config says) and run CREATE EXTENSION duch", p->name);
    char sk[24], box[4][32];
    snprintf(sk, sizeof sk, "%zu", k);
    const char *vals[6] = {(const char *)query, sk, box[0], box[1], box[2], box[3]};
    int lens[6] = {(int)qlen, 0, 0, 0, 0, 0}, fmts[6] = {1, 0, 0, 0, 0, 0};
    for (int i = 0; bbox && i < 4; i++)
        snprintf(box[i], sizeof box[i], "%.17g", bbox[i]);
    PGresult *r = PQexecParams(p->conn,
                               bbox ? "SELECT tile_id, distance FROM duch_knn($1::bytea, $2::int,"
                                      " $3::float8, $4::float8, $5::float8, $6::float8)"
                                    : "SELECT tile_id, distance FROM duch_knn($1::bytea, $2::int)",
                               bbox ? 6 : 2, NULL, vals, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        int mismatch = st && !strcmp(st, "22023"); /* the extension's "codes do not fit" */
        rc = pq_fail(p, r, "search");              /* (clears r, and st with it) */
        if (mismatch)
            rc = DUCH_MISMATCH;
        return rc;
    }
    size_t n = (size_t)PQntuples(r);
    for (size_t i = 0; i < n && i < k; i++) {
        hits[i].id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
        hits[i].distance = (uint32_t)atoi(PQgetvalue(r, (int)i, 1));
        hits[i].pos = i;
    }
    *nhits = n < k ? n : k;
    PQclear(r);
    return DUCH_OK;
}

int pga_search_info(pga *p, duch_engine_info *out)
{
    memset(out, 0, sizeof *out);
    int64_t n = 0;
    int rc = query_i64(p, "search info", "SELECT count(*) FROM tiles", 0, NULL, &n);
    if (rc)
        return rc;
    out->tiles = (size_t)n;
    out->code_bytes = n ? (size_t)p->bits / 8 : 0;
    out->from_blocks = 0;
    int64_t have = 0;
    query_i64(p, "search info", "SELECT count(*) FROM pg_extension WHERE extname = 'duch'", 0, NULL,
              &have);
    snprintf(out->why_rows, sizeof out->why_rows,
             have ? "inside PostgreSQL (the duch extension keeps the codes packed per session)"
                  : "the database has no duch extension (CREATE EXTENSION duch)");
    return DUCH_OK;
}

int pga_tile(pga *p, int64_t tile_id, duch_tile_record *out)
{
    memset(out, 0, sizeof *out);
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)tile_id);
    const char *v[1] = {sid};
    int rc;
    PGresult *r = run(p, &rc, "reading a tile",
                      "SELECT t.scene_id, s.path, t.x_off, t.y_off, t.width, t.height,"
                      " ST_AsBinary(t.footprint, 'NDR') FROM tiles t LEFT JOIN scenes s USING"
                      " (scene_id) WHERE t.tile_id = $1::bigint", 1, v);
    if (!r)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return set_msg(p, DUCH_NOTFOUND, "%s: no tile %lld", p->name, (long long)tile_id);
    }
    out->tile_id = tile_id;
    out->scene_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->scene = PQgetisnull(r, 0, 1) ? NULL : strdup(PQgetvalue(r, 0, 1));
    out->x_off = atoi(PQgetvalue(r, 0, 2));
    out->y_off = atoi(PQgetvalue(r, 0, 3));
    out->width = atoi(PQgetvalue(r, 0, 4));
    out->height = atoi(PQgetvalue(r, 0, 5));
    if (!PQgetisnull(r, 0, 6)) {
        size_t len = 0;
        unsigned char *wkb = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 6), &len);
        if (wkb) {
            out->footprint = duch_wkb_ring(wkb, len, &out->footprint_npoints);
            PQfreemem(wkb);
        }
    }
    rc = !PQgetisnull(r, 0, 1) && !out->scene ? set_msg(p, DUCH_NOMEM, "out of memory") : DUCH_OK;
    PQclear(r);
    if (rc)
        duch_tile_record_clear(out);
    return rc;
}

int pga_optimize(pga *p, int64_t *ntiles)
{
    int rc = check_writable(p, "optimize");
    if (rc)
        return rc;
    /* nothing is kept beside the rows here: the extension's cache follows
     * duch_tiles_version. Refresh the planner's statistics. */
    if ((rc = exec0(p, "optimize", "ANALYZE tiles", 0, NULL)) ||
        (rc = exec0(p, "optimize", "ANALYZE scenes", 0, NULL)))
        return rc;
    if (ntiles)
        return query_i64(p, "optimize", "SELECT count(*) FROM tiles", 0, NULL, ntiles);
    return DUCH_OK;
}

int pga_scenes(pga *p, duch_scene_grid **out, size_t *n)
{
    int rc;
    PGresult *r = run(p, &rc, "listing the scenes",
                      "SELECT scene_id, path, width, height, crs_wkt, gt0, gt1, gt2, gt3, gt4, gt5,"
                      " tile_size, overlap, complete::int, (SELECT count(*) FROM tiles t WHERE"
                      " t.scene_id = s.scene_id) FROM scenes s ORDER BY scene_id", 0, NULL);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    duch_scene_grid *g = calloc(rows ? (size_t)rows : 1, sizeof *g);
    if (!g) {
        PQclear(r);
        return set_msg(p, DUCH_NOMEM, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        duch_scene_grid *x = &g[i];
        x->scene_id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        x->path = strdup(PQgetvalue(r, i, 1));
        x->width = atoi(PQgetvalue(r, i, 2));
        x->height = atoi(PQgetvalue(r, i, 3));
        int has_crs = !PQgetisnull(r, i, 4) && *PQgetvalue(r, i, 4);
        x->crs_wkt = has_crs ? strdup(PQgetvalue(r, i, 4)) : NULL;
        x->has_geotransform = 1;
        for (int j = 0; j < 6; j++) {
            if (PQgetisnull(r, i, 5 + j))
                x->has_geotransform = 0;
            else
                x->geotransform[j] = strtod(PQgetvalue(r, i, 5 + j), NULL);
        }
        x->tile_size = atoi(PQgetvalue(r, i, 11));
        x->overlap = atoi(PQgetvalue(r, i, 12));
        x->complete = atoi(PQgetvalue(r, i, 13)) != 0;
        x->tiles = strtoll(PQgetvalue(r, i, 14), NULL, 10);
        if (!x->path || (has_crs && !x->crs_wkt)) {
            PQclear(r);
            duch_scene_grids_free(g, (size_t)rows);
            return set_msg(p, DUCH_NOMEM, "out of memory");
        }
    }
    PQclear(r);
    *out = g;
    *n = (size_t)rows;
    return DUCH_OK;
}

int pga_scene_tiles(pga *p, int64_t scene_id, int with_box, duch_tile_fn fn, void *arg)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)scene_id);
    const char *v[1] = {sid};
    int rc;
    PGresult *r = run(p, &rc, "reading a scene's tiles",
                      with_box ? "SELECT tile_id, x_off, y_off, width, height, code,"
                                 " ST_AsBinary(footprint, 'NDR') FROM tiles WHERE scene_id ="
                                 " $1::bigint ORDER BY tile_id"
                               : "SELECT tile_id, x_off, y_off, width, height, code FROM tiles"
                                 " WHERE scene_id = $1::bigint ORDER BY tile_id", 1, v);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    rc = 0;
    for (int i = 0; i < rows && !rc; i++) {
        size_t len = 0, wlen = 0;
        unsigned char *code = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 5), &len);
        unsigned char *wkb = with_box && !PQgetisnull(r, i, 6)
                                 ? PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 6), &wlen)
                                 : NULL;
        double box[4];
        int has_box = wkb && duch_wkb_box(wkb, wlen, box);
        if (!code)
            rc = set_msg(p, DUCH_NOMEM, "out of memory");
        else
            rc = fn(strtoll(PQgetvalue(r, i, 0), NULL, 10), atoi(PQgetvalue(r, i, 1)),
                    atoi(PQgetvalue(r, i, 2)), atoi(PQgetvalue(r, i, 3)), atoi(PQgetvalue(r, i, 4)),
                    code, len, has_box ? box : NULL, arg);
        PQfreemem(code);
        PQfreemem(wkb);
    }
    PQclear(r);
    return rc;
}
