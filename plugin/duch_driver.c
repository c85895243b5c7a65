/*
 * duch_driver.c: the C core of gdal_DUCH.so, the GDAL driver of duch archives.
 *
 * HOW IT WORKS
 *
 * Writing (a raster driver with CreateCopy only):
 *
 *   gdal_translate -of DUCH scene.tif DUCH:archive.sqlite -co MODEL=m.duchm -co TILE_SIZE=256
 *
 * GDAL hands the driver the opened source; the driver indexes the source's FILE
 * (GDALGetDescription) with duch_ingest(): the archive is created when missing and
 * appended to otherwise, a scene already in it is skipped. GDAL's progress function is
 * passed down; returning 0 from it ends the run with CPLE_UserInterrupt, the archive keeps
 * every scene committed before (one transaction per scene).
 *
 * Every creation option is checked (duch_gdal_parse_creation_options, BANDS against the
 * source's band count) before anything is read or created.
 *
 * An existing archive is never lost to a plain destination name. GDALDriver::CreateCopy()
 * deletes an existing destination before the driver runs (QuietDelete, unless
 * APPEND_SUBDATASET=YES), through whichever driver identifies the file. So Identify also
 * claims a plain path that is a duch archive -- only in identify-only calls
 * (GDALIdentifyDriver, which QuietDelete uses: no raster/vector flag in the open info),
 * never while GDALOpenEx opens a file, so `ogrinfo archive.sqlite` stays with the SQLite
 * driver and opening other files costs nothing -- and the driver's Delete refuses it with
 * the one message of duch_gdal_refuse_existing(); CreateCopy then refuses the plain name
 * without repeating it. Appending: DUCH:archive.sqlite or -co APPEND_SUBDATASET=YES.
 *
 * Reading (a vector driver, read-only):
 *
 *   ogrinfo DUCH:archive.sqlite -oo QUERY="river" -oo K=10 -oo BBOX=-123,37,-122,38
 *   ogr2ogr -f GeoJSON hits.geojson DUCH:archive.sqlite -oo IMAGE=example.tif
 *
 * Opening runs duch_search() once; the single layer "hits" holds the K best tiles, best
 * first, as EPSG:4326 polygons with rank, distance, confidence and where the tile is in its scene.
 * Only names with the DUCH: prefix are opened: archive.sqlite itself stays a SpatiaLite
 * file for GDAL's SQLite driver.
 *
 * The model library (libtorch) is never linked: libduch dlopens it on the first ingest
 * or search, so loading this plugin costs GDAL programs next to nothing.
 */
/* GDAL's VSIStatBufL is struct stat64, which glibc declares with this only. */
#ifndef _LARGEFILE64_SOURCE
#define _LARGEFILE64_SOURCE 1
#endif
#include "config.h"
#include "duch_driver.h"
#include "duch_index.h" /* duch_bbox_parse, duch_archive_identify */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpl_conv.h"
#include "cpl_error.h"
#include "cpl_string.h"
#include "cpl_vsi.h"
#include "ogr_srs_api.h"


/* ------------------------------------------------------------------ option lists */

const char duch_gdal_creation_option_list[] =
    "<CreationOptionList>"
    "  <Option name='MODEL' type='string' description='DUCH model file (.duchm). "
    "New archive: default the installed default model. Existing archive: default the "
    "model stored in it; another model is an error'/>"
    "  <Option name='TILE_SIZE' type='int' min='0' default='0' description='Tile side in "
    "source pixels; 0 = from the model&apos;s ground footprint and the scene&apos;s "
    "resolution'/>"
    "  <Option name='OVERLAP' type='int' min='0' default='0' description='Overlap of "
    "neighbouring tiles in source pixels (less than TILE_SIZE)'/>"
    "  <Option name='BANDS' type='string' description='Three comma-separated 1-based "
    "source bands mapped to R,G,B (e.g. 4,3,2), or one band shown as grey (e.g. 1); "
    "default automatic'/>"
    "  <Option name='MIN_VALID' type='float' min='0' max='1' default='0.5' "
    "description='Minimum fraction of valid (non-nodata) pixels for a tile to be "
    "indexed'/>"
    "  <Option name='ALLOW_PIXEL' type='boolean' default='NO' description='Index a "
    "raster without georeferencing (pixel coordinates, no footprint in EPSG:4326)'/>"
    "  <Option name='THREADS' type='int' min='0' default='0' description='Threads of "
    "the model; 0 = all cores'/>"
    "  <Option name='APPEND_SUBDATASET' type='boolean' default='NO' description='YES: "
    "add the scene to an existing archive named by a plain file name (without it an "
    "existing archive is refused, never replaced); naming the destination "
    "DUCH:archive.sqlite appends as well'/>"
    "</CreationOptionList>";

const char duch_gdal_open_option_list[] =
    "<OpenOptionList>"
    "  <Option name='QUERY' type='string' description='Text query, e.g. "
    "&quot;dense residential area&quot; (QUERY or IMAGE is required)'/>"
    "  <Option name='IMAGE' type='string' description='Raster file to query by "
    "example (QUERY or IMAGE is required)'/>"
    "  <Option name='K' type='int' min='1' max='1000000' default='10' "
    "description='Number of hits'/>"
    "  <Option name='BBOX' type='string' description='minx,miny,maxx,maxy in EPSG:4326 "
    "(longitude, latitude): only tiles intersecting it'/>"
    "  <Option name='SCENE' type='string' description='Raster (heat map) only: the "
    "heat map of this scene (scene_id or path) on its own grid; default: one raster over "
    "all scenes'/>"
    "  <Option name='COMBINE' type='string-select' default='mean' description='Raster "
    "(heat map) only: how cells that overlapping tiles share are scored'>"
    "    <Value>mean</Value><Value>max</Value></Option>"
    "</OpenOptionList>";

/* ------------------------------------------------------------------ helpers */

/* The boundary mapping: duch status -> CPLErrorNum. */
static CPLErrorNum cpl_errnum(int status)
{
    switch (status) {
    case DUCH_NOMEM: return CPLE_OutOfMemory;
    case DUCH_IO: return CPLE_FileIO;
    case DUCH_INVALID: return CPLE_IllegalArg;
    case DUCH_NOTFOUND: return CPLE_OpenFailed;
    case DUCH_INTERRUPTED: return CPLE_UserInterrupt;
    case DUCH_READONLY: return CPLE_NoWriteAccess;
    case DUCH_VERSION: return CPLE_NotSupported;
    default: return CPLE_AppDefined;
    }
}

/* s past leading blanks, or NULL when that leaves nothing */
static const char *skip_blanks(const char *s)
{
    while (s && *s == ' ')
        s++;
    return s && *s ? s : NULL;
}

/* Strict integer: optional sign, digits, nothing else (blanks around it allowed). */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    if (!(s = skip_blanks(s)))
        return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || skip_blanks(end) || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out)
{
    if (!(s = skip_blanks(s)))
        return 0;
    char *end = NULL;
    double v = CPLStrtod(s, &end);
    if (end == s || skip_blanks(end) || v != v)
        return 0;
    *out = v;
    return 1;
}

static int int_option(CSLConstList opts, const char *name, long lo, long hi, long def,
                      long *out)
{
    const char *v = CSLFetchNameValue(opts, name);
    if (!v) {
        *out = def;
        return 1;
    }
    if (!parse_long(v, lo, hi, out)) {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "DUCH: %s=%s is not an integer in [%ld, %ld]", name, v, lo, hi);
        return 0;
    }
    return 1;
}

/* Strict boolean: YES/NO, TRUE/FALSE, ON/OFF, 1/0 (any case). CPLTestBool would take
 * anything else as true. */
static int bool_option(CSLConstList opts, const char *name, int def, int *out)
{
    const char *v = CSLFetchNameValue(opts, name);
    if (!v) {
        *out = def;
        return 1;
    }
    if (EQUAL(v, "YES") || EQUAL(v, "TRUE") || EQUAL(v, "ON") || EQUAL(v, "1")) {
        *out = 1;
        return 1;
    }
    if (EQUAL(v, "NO") || EQUAL(v, "FALSE") || EQUAL(v, "OFF") || EQUAL(v, "0")) {
        *out = 0;
        return 1;
    }
    CPLError(CE_Failure, CPLE_IllegalArg,
             "DUCH: %s=%s is not a boolean (YES/NO, TRUE/FALSE, ON/OFF, 1/0)", name, v);
    return 0;
}

/* ------------------------------------------------------------------ names */

int duch_gdal_identify(const char *name)
{
    return name && STARTS_WITH_CI(name, DUCH_GDAL_PREFIX);
}

const char *duch_gdal_archive_path(const char *name)
{
    return duch_gdal_identify(name) ? name + strlen(DUCH_GDAL_PREFIX) : name;
}

/* ------------------------------------------------------------------ existing archives */

static const char sqlite_magic[16] = "SQLite format 3"; /* with its NUL: 16 bytes */

int duch_gdal_is_archive(const char *path, const unsigned char *header, int nheader)
{
    if (!path || !*path || STARTS_WITH_CI(path, "/vsi"))
        return 0;
    unsigned char buf[16];
    if (!header || nheader < 16) {
        VSILFILE *f = VSIFOpenL(path, "rb");
        if (!f)
            return 0;
        size_t got = VSIFReadL(buf, 1, sizeof buf, f);
        VSIFCloseL(f);
        if (got != sizeof buf)
            return 0;
        header = buf;
    }
    if (memcmp(header, sqlite_magic, sizeof sqlite_magic) != 0)
        return 0;
    VSIStatBufL st;
    if (VSIStatL(path, &st) != 0 || !VSI_ISREG(st.st_mode))
        return 0;

    return duch_archive_identify(path) == 1;
}

/* The one piece of state: which path this thread has refused last (a path longer than
 * the buffer is never remembered, so it is said each time). gdal_translate asks to
 * delete its destination twice (GDALTranslate(), then GDALDriver::CreateCopy(), errors
 * reset in between), and CreateCopy refuses it a third time; the user is told once.
 * duch_gdal_refusal_done() ends the episode. */
static _Thread_local char refused_path[1024];

void duch_gdal_refuse_existing(const char *path)
{
    char *msg = CPLStrdup(CPLSPrintf(
        "DUCH: '%s' is an existing duch archive, which the DUCH driver never deletes or "
        "replaces. To add scenes to it, name the destination DUCH:%s or give "
        "-co APPEND_SUBDATASET=YES; to start a new archive, choose another name or "
        "remove the file yourself", path, path));
    if (refused_path[0] && !strcmp(refused_path, path)) {
        /* Said already: keep it as the last error (what API callers read), quietly. */
        CPLErrorSetState(CE_Failure, CPLE_NotSupported, msg);
        CPLDebug("DUCH", "refused '%s' again", path);
    } else {
        CPLError(CE_Failure, CPLE_NotSupported, "%s", msg);
        size_t n = strlen(path);
        if (n < sizeof refused_path)
            memcpy(refused_path, path, n + 1);
        else
            refused_path[0] = '\0';
    }
    CPLFree(msg);
}

void duch_gdal_refusal_done(void)
{
    refused_path[0] = '\0';
}

/* ------------------------------------------------------------------ reading */

int duch_gdal_parse_open_options(CSLConstList opts, duch_search_query *q)
{
    memset(q, 0, sizeof *q);
    const char *text = CSLFetchNameValue(opts, "QUERY");
    const char *image = CSLFetchNameValue(opts, "IMAGE");
    if (text && !*text)
        text = NULL;
    if (image && !*image)
        image = NULL;
    if (!text && !image) {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "DUCH: nothing to search: give the open option QUERY=text or IMAGE=raster "
                 "(e.g. ogrinfo DUCH:archive.sqlite -oo QUERY=\"river\")");
        return 0;
    }
    if (text && image) {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "DUCH: the open options QUERY and IMAGE exclude each other: give one");
        return 0;
    }
    q->text = text;
    q->image_path = image;

    long k;
    if (!int_option(opts, "K", 1, 1000000, 10, &k))
        return 0;
    q->k = (int)k;

    const char *bbox = CSLFetchNameValue(opts, "BBOX");
    if (bbox) {
        char why[300];
        if (duch_bbox_parse(bbox, q->bbox, why, sizeof why) != DUCH_OK) {
            CPLError(CE_Failure, CPLE_IllegalArg, "DUCH: BBOX=%s: %s", bbox, why);
            return 0;
        }
        q->has_bbox = 1;
    }
    return 1;
}

/* the archive (a file, or PG:) and the query's image exist: 1, or 0 after CPLError */
static int check_inputs(const char *archive, const duch_search_query *q)
{
    VSIStatBufL st;
    int pg = duch_archive_is_pg(archive); /* DUCH:PG:...: a PostGIS archive, no file */
    if (!pg && (!*archive || VSIStatL(archive, &st) != 0)) {
        CPLError(CE_Failure, CPLE_OpenFailed, "DUCH: archive '%s' does not exist", archive);
        return 0;
    }
    if (!pg && !VSI_ISREG(st.st_mode)) {
        CPLError(CE_Failure, CPLE_OpenFailed, "DUCH: archive '%s' is not a file", archive);
        return 0;
    }
    if (q->image_path && VSIStatL(q->image_path, &st) != 0) {
        CPLError(CE_Failure, CPLE_OpenFailed, "DUCH: IMAGE '%s' does not exist",
                 q->image_path);
        return 0;
    }
    return 1;
}

duch_hits *duch_gdal_search(const char *archive, const duch_search_query *q)
{
    if (!check_inputs(archive, q))
        return NULL;
    duch_hits *hits = NULL;
    char err[1024] = "";
    int rc = duch_search(archive, q, &hits, err, sizeof err);
    if (rc != DUCH_OK) {
        duch_hits_free(hits);
        CPLError(CE_Failure, cpl_errnum(rc), "DUCH: search in '%s' failed: %s", archive,
                 *err ? err : "unknown error");
        return NULL;
    }
    return hits;
}

void *duch_gdal_heat(const char *archive, const duch_search_query *q, CSLConstList opts)
{
    if (!check_inputs(archive, q))
        return NULL;
    duch_heat_options o;
    duch_heat_options_init(&o);
    o.scene = CSLFetchNameValue(opts, "SCENE");
    if (o.scene && !strcmp(o.scene, "all")) {
        CPLError(CE_Failure, CPLE_IllegalArg, "DUCH: SCENE=all is duch query's (a raster per "
                 "scene); the driver opens one raster: give a scene_id or a path, or no SCENE");
        return NULL;
    }
    const char *combine = CSLFetchNameValue(opts, "COMBINE");
    if (combine && strcasecmp(combine, "mean") && strcasecmp(combine, "max")) {
        CPLError(CE_Failure, CPLE_IllegalArg, "DUCH: COMBINE must be mean or max, got '%s'",
                 combine);
        return NULL;
    }
    o.combine_max = combine && !strcasecmp(combine, "max");
    duch_heat *h = NULL;
    char err[1024] = "";
    int rc = duch_heat_make(archive, q, &o, &h, err, sizeof err);
    void *ds = rc == DUCH_OK ? duch_heat_dataset(h, q->text ? q->text : q->image_path, err,
                                                 sizeof err) : NULL;
    if (!ds)
        CPLError(CE_Failure, cpl_errnum(rc == DUCH_OK ? DUCH_NOMEM : rc),
                 "DUCH: heat map of '%s' failed: %s", archive, *err ? err : "unknown error");
    duch_heat_free(h);
    return ds;
}

OGRFeatureDefnH duch_gdal_hits_defn(const char *layer_name, OGRSpatialReferenceH srs)
{
    static const struct { const char *name; OGRFieldType type; int width; } fields[] = {
        {"rank", OFTInteger, 0},     {"distance", OFTInteger, 0},
        {"confidence", OFTReal, 0},  {"tile_id", OFTInteger64, 0}, {"scene_id", OFTInteger64, 0},
        {"scene_path", OFTString, 0}, {"x_off", OFTInteger, 0},
        {"y_off", OFTInteger, 0},    {"width", OFTInteger, 0},
        {"height", OFTInteger, 0},
    };
    OGRFeatureDefnH defn = OGR_FD_Create(layer_name);
    OGR_FD_Reference(defn);
    OGR_FD_SetGeomType(defn, wkbPolygon);
    OGR_GFld_SetSpatialRef(OGR_FD_GetGeomFieldDefn(defn, 0), srs);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        OGRFieldDefnH f = OGR_Fld_Create(fields[i].name, fields[i].type);
        OGR_FD_AddFieldDefn(defn, f);
        OGR_Fld_Destroy(f);
    }
    return defn;
}

OGRFeatureH duch_gdal_hit_feature(OGRFeatureDefnH defn, OGRSpatialReferenceH srs,
                                  const duch_search_hit *hit)
{
    OGRFeatureH f = OGR_F_Create(defn);
    if (!f) {
        CPLError(CE_Failure, CPLE_OutOfMemory, "DUCH: out of memory");
        return NULL;
    }
    OGR_F_SetFID(f, hit->rank);
    OGR_F_SetFieldInteger(f, 0, hit->rank);
    OGR_F_SetFieldInteger(f, 1, hit->distance);
    if (hit->confidence >= 0) /* a text query on a model with a confidence fit */
        OGR_F_SetFieldDouble(f, 2, hit->confidence);
    else
        OGR_F_SetFieldNull(f, 2);
    OGR_F_SetFieldInteger64(f, 3, hit->tile_id);
    OGR_F_SetFieldInteger64(f, 4, hit->scene_id);
    if (hit->scene_path)
        OGR_F_SetFieldString(f, 5, hit->scene_path);
    OGR_F_SetFieldInteger(f, 6, hit->x_off);
    OGR_F_SetFieldInteger(f, 7, hit->y_off);
    OGR_F_SetFieldInteger(f, 8, hit->width);
    OGR_F_SetFieldInteger(f, 9, hit->height);
    if (hit->footprint && hit->footprint_npoints >= 4) {
        OGRGeometryH g = OGR_G_CreateGeometry(wkbPolygon);
        OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
        for (int i = 0; i < hit->footprint_npoints; i++)
            OGR_G_AddPoint_2D(ring, hit->footprint[2 * i], hit->footprint[2 * i + 1]);
        OGR_G_AddGeometryDirectly(g, ring);
        OGR_G_AssignSpatialReference(g, srs);
        OGR_F_SetGeometryDirectly(f, g);
    }
    return f;
}

/* ------------------------------------------------------------------ writing */

int duch_gdal_check_source(const char *description, const char *driver_name)
{
    const char *hint = "DUCH indexes a raster file: give gdal_translate the scene's file "
                       "name and no option that changes the raster (-b, -srcwin, -outsize, "
                       "-ot, -scale...); choose bands with -co BANDS=...";
    VSIStatBufL st;
    if (!description || !*description) {
        CPLError(CE_Failure, CPLE_NotSupported,
                 "DUCH: the source dataset (driver %s) has no file on disk. %s",
                 driver_name && *driver_name ? driver_name : "unknown", hint);
        return 0;
    }
    if (STARTS_WITH_CI(description, "/vsimem/")) {
        CPLError(CE_Failure, CPLE_NotSupported,
                 "DUCH: the source '%s' is an in-memory file, which an archive cannot "
                 "refer to. %s", description, hint);
        return 0;
    }
    if (VSIStatL(description, &st) != 0 || !VSI_ISREG(st.st_mode)) {
        CPLError(CE_Failure, CPLE_NotSupported,
                 "DUCH: the source '%s' (driver %s) is not a file on disk. %s", description,
                 driver_name && *driver_name ? driver_name : "unknown", hint);
        return 0;
    }
    return 1;
}

/* BANDS=4,3,2 -> c->bands / c->nbands, each in [1, src_bands] (when src_bands > 0).
 * 0 after CPLError. */
static int parse_bands(const char *s, int src_bands, duch_gdal_creation *c)
{
    char **parts = CSLTokenizeString2(s, ",", CSLT_STRIPLEADSPACES | CSLT_STRIPENDSPACES |
                                      CSLT_ALLOWEMPTYTOKENS);
    int count = CSLCount(parts);
    int ok = count == 1 || count == 3;
    for (int i = 0; ok && i < count; i++) {
        long b;
        ok = parse_long(parts[i], 1, 65535, &b);
        if (ok)
            c->bands[i] = (int)b;
    }
    CSLDestroy(parts);
    if (!ok) {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "DUCH: BANDS=%s is not one or three 1-based band numbers, comma-separated "
                 "(R,G,B like 4,3,2, or one band as grey like 1)", s);
        return 0;
    }
    for (int i = 0; src_bands > 0 && i < count; i++)
        if (c->bands[i] > src_bands) {
            CPLError(CE_Failure, CPLE_IllegalArg,
                     "DUCH: BANDS=%s names band %d, but the scene has %d band%s", s,
                     c->bands[i], src_bands, src_bands == 1 ? "" : "s");
            return 0;
        }
    c->nbands = count;
    return 1;
}

int duch_gdal_parse_creation_options(CSLConstList co, int src_bands, duch_gdal_creation *c)
{
    memset(c, 0, sizeof *c);
    c->min_valid = -1; /* the pipeline's default */

    const char *model = CSLFetchNameValue(co, "MODEL");
    if (model) {
        VSIStatBufL st;
        if (!*model) {
            CPLError(CE_Failure, CPLE_IllegalArg,
                     "DUCH: MODEL= is empty: name a .duchm file, or leave the option out "
                     "for the default (new archive) or stored (existing archive) model");
            return 0;
        }
        if (VSIStatL(model, &st) != 0) {
            CPLError(CE_Failure, CPLE_OpenFailed, "DUCH: MODEL '%s' does not exist", model);
            return 0;
        }
        if (!VSI_ISREG(st.st_mode)) {
            CPLError(CE_Failure, CPLE_OpenFailed, "DUCH: MODEL '%s' is not a file", model);
            return 0;
        }
        c->model = model;
    }

    long tile_size, overlap, threads;
    if (!int_option(co, "TILE_SIZE", 0, 1L << 20, 0, &tile_size) ||
        !int_option(co, "OVERLAP", 0, 1L << 20, 0, &overlap) ||
        !int_option(co, "THREADS", 0, 4096, 0, &threads))
        return 0;
    if (tile_size > 0 && overlap >= tile_size) {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "DUCH: OVERLAP=%ld must be less than TILE_SIZE=%ld", overlap, tile_size);
        return 0;
    }
    c->tile_size = (int)tile_size;
    c->overlap = (int)overlap;
    c->threads = (int)threads;

    const char *mv = CSLFetchNameValue(co, "MIN_VALID");
    if (mv) {
        double v;
        if (!parse_double(mv, &v) || v < 0 || v > 1) {
            CPLError(CE_Failure, CPLE_IllegalArg,
                     "DUCH: MIN_VALID=%s is not a fraction in [0, 1]", mv);
            return 0;
        }
        c->min_valid = v;
    }
    if (!bool_option(co, "ALLOW_PIXEL", 0, &c->allow_pixel) ||
        !bool_option(co, "APPEND_SUBDATASET", 0, &c->append))
        return 0;

    const char *bs = CSLFetchNameValue(co, "BANDS");
    if (bs && !parse_bands(bs, src_bands, c))
        return 0;
    return 1;
}

/* What the pipeline reports while it runs. Its callbacks only record: they run on a
 * worker thread with the pipeline's lock held, where the tiler may have a GDAL error
 * handler installed that routes every CPLError (ours too) back into the same warning
 * callback. Everything is reported with CPLError/CPLDebug after duch_ingest() returns. */
struct ingest_ctx {
    GDALProgressFunc progress;
    void *progress_arg;
    int scene_status;
    int skipped;
    long long tiles;
    char scene_msg[1024];
    char **warnings;         /* CSL list, at most MAX_WARNINGS */
    int warnings_dropped;
};
#define MAX_WARNINGS 50

static int ingest_progress(double frac, const char *msg, void *arg)
{
    struct ingest_ctx *c = arg;
    return c->progress(frac, msg, c->progress_arg) ? 1 : 0;
}

static void ingest_on_scene(const char *scene, int status, int skipped, long long tiles,
                            const char *msg, void *arg)
{
    struct ingest_ctx *c = arg;
    c->scene_status = status;
    c->skipped = skipped;
    c->tiles = tiles;
    if (status != DUCH_OK)
        CPLStrlcpy(c->scene_msg, msg ? msg : "", sizeof c->scene_msg);
}

static void ingest_on_warning(const char *scene, const char *msg, void *arg)
{
    struct ingest_ctx *c = arg;
    if (CSLCount(c->warnings) < MAX_WARNINGS)
        c->warnings = CSLAddString(c->warnings, msg ? msg : "");
    else
        c->warnings_dropped++;
}

static void report_ingest(const struct ingest_ctx *c, const char *scene)
{
    for (char **w = c->warnings; w && *w; w++)
        CPLError(CE_Warning, CPLE_AppDefined, "DUCH: %s: %s", scene, *w);
    if (c->warnings_dropped)
        CPLError(CE_Warning, CPLE_AppDefined, "DUCH: %s: %d more warnings", scene,
                 c->warnings_dropped);
    if (c->scene_status == DUCH_OK && c->skipped)
        CPLDebug("DUCH", "%s: already in the archive (same path and checksum), skipped",
                 scene);
    else if (c->scene_status == DUCH_OK)
        CPLDebug("DUCH", "%s: %lld tiles indexed", scene, c->tiles);
}

int duch_gdal_ingest(const char *archive, const char *scene, const duch_gdal_creation *c,
                     GDALProgressFunc progress, void *progress_arg, duch_ingest_stats *stats)
{
    if (!archive || !*archive) {
        CPLError(CE_Failure, CPLE_IllegalArg, "DUCH: no archive file name");
        return 0;
    }
    duch_ingest_options o;
    duch_ingest_options_init(&o);
    o.model_path = c->model;
    o.tile_size = c->tile_size;
    o.overlap = c->overlap;
    o.threads = c->threads;
    if (c->min_valid >= 0)
        o.min_valid = c->min_valid;
    o.allow_pixel = c->allow_pixel;
    o.bands = c->nbands ? c->bands : NULL;
    o.nbands = c->nbands;
    o.jobs = 1;

    struct ingest_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.progress = progress ? progress : GDALDummyProgress;
    ctx.progress_arg = progress_arg;
    ctx.scene_status = DUCH_OK;
    o.on_scene = ingest_on_scene;
    o.on_warning = ingest_on_warning;
    o.cb_arg = &ctx;

    duch_ingest_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    char err[1024] = "";
    const char *const scenes[1] = {scene};
    int rc = duch_ingest(archive, scenes, 1, &o, ingest_progress, &ctx, stats, err,
                         sizeof err);
    report_ingest(&ctx, scene);
    CSLDestroy(ctx.warnings);

    if (rc == DUCH_INTERRUPTED) {
        CPLError(CE_Failure, CPLE_UserInterrupt, "User terminated CreateCopy()");
        return 0;
    }
    if (rc != DUCH_OK) {
        /* One scene: its own message says more than the run's summary. */
        const char *msg = ctx.scene_status != DUCH_OK && *ctx.scene_msg ? ctx.scene_msg
                          : *err ? err : "unknown error";
        int st = ctx.scene_status != DUCH_OK ? ctx.scene_status : rc;
        /* the library names the option in its own words: say which creation option */
        const char *hint = strstr(msg, "(allow_pixel)") ? " (creation option ALLOW_PIXEL=YES)" : "";
        CPLError(CE_Failure, cpl_errnum(st), "DUCH: indexing '%s' into '%s' failed: %s%s",
                 scene, archive, msg, hint);
        return 0;
    }
    ctx.progress(1.0, NULL, ctx.progress_arg);
    return 1;
}
