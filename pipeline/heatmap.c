/* heatmap.c: where in the scenes a query matches (duch_heat_*, duch_pipeline.h;
 * docs/heatmap.md).
 *
 * Each tile of the archive is scored once (its Hamming distance to the query, through the
 * same score table for all: the confidence of a text query, else 1 - d / bits), and the
 * scores are laid out on each scene's own tile grid at the step (tile - overlap source
 * pixels per cell; a cell is covered by the tiles that hold its centre). One scene is
 * written on that grid in its own CRS; several are warped by GDAL onto one grid over
 * their union (their common CRS, else EPSG:4326) at the finest step, the higher score
 * winning where scenes overlap. Regions are the hit tiles of a scene merged by GEOS
 * (OGR_G_UnionCascaded) in the scene's pixel space, where adjacent windows share exact
 * edges, then mapped to the scene's CRS and to EPSG:4326. */
#include "config.h"
#include "duch_pipeline.h"
#include "pipeline_internal.h"
#include "duch_index.h"
#include "duch_textenc.h"
#include "duch_tiler.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_MAX_CELLS 100000000LL

typedef struct heat_tile {
    int x, y, w, h;
    float s;
} heat_tile;

typedef struct scene_heat {
    duch_scene_grid g;
    int step, cols, rows;
    float *cells;     /* cols * rows, DUCH_HEAT_NODATA where no tile */
    heat_tile *t;     /* the scored tiles, for regions */
    size_t nt, room;
} scene_heat;

struct duch_heat {
    duch_heat_info info;
    char *crs_wkt, *model_id, *explain, *summary;
    float *values;    /* info.width * info.height; NULL when per_scene */
    scene_heat *s;
    size_t ns;
    int combine_max;
    int per_scene;    /* options scene "all": no raster of its own, see duch_heat_scene */
};

void duch_heat_options_init(duch_heat_options *o)
{
    memset(o, 0, sizeof *o);
}

const duch_heat_info *duch_heat_get_info(const duch_heat *h)
{
    return h ? &h->info : NULL;
}

static void scene_heat_clear(scene_heat *sh)
{
    free(sh->g.path);
    free(sh->g.crs_wkt);
    free(sh->cells);
    free(sh->t);
    memset(sh, 0, sizeof *sh);
}

void duch_heat_free(duch_heat *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->ns; i++)
        scene_heat_clear(&h->s[i]);
    free(h->s);
    free(h->values);
    free(h->crs_wkt);
    free(h->model_id);
    free(h->explain);
    free(h->summary);
    free(h);
}

/* ------------------------------------------------------------ scoring */

typedef struct scan_ctx {
    const unsigned char *code;
    size_t nbytes;
    const float *score;       /* [0..bits] */
    const double *bbox;       /* NULL = all */
    scene_heat *sh;
    float *sum;               /* cols * rows */
    unsigned short *count;
    int combine_max;
    char *err;
    size_t errlen;
    int64_t bad_tile;
    size_t bad_len;
} scan_ctx;

/* the centre of cell c of n cells of `step` over `size` pixels (the last may be partial) */
static double cell_centre(int c, int step, int size)
{
    int lo = c * step, hi = lo + step < size ? lo + step : size;
    return 0.5 * (lo + hi);
}

static int scan_tile(int64_t tile_id, int x, int y, int w, int h, const unsigned char *code,
                     size_t code_len, const double *box, void *arg)
{
    scan_ctx *c = arg;
    if (code_len != c->nbytes) {
        c->bad_tile = tile_id;
        c->bad_len = code_len;
        return DUCH_MISMATCH;
    }
    if (c->bbox && (!box || box[0] > c->bbox[2] || box[2] < c->bbox[0] || box[1] > c->bbox[3] ||
                    box[3] < c->bbox[1]))
        return 0;
    scene_heat *sh = c->sh;
    float s = c->score[duch_hamming(code, c->code, c->nbytes)];
    if (sh->nt == sh->room) {
        size_t room = sh->room ? 2 * sh->room : 1024;
        heat_tile *m = realloc(sh->t, room * sizeof *m);
        if (!m)
            return DUCH_NOMEM;
        sh->t = m;
        sh->room = room;
    }
    sh->t[sh->nt++] = (heat_tile){x, y, w, h, s};
    int st = sh->step;
    for (int r = y / st; r <= (y + h - 1) / st && r < sh->rows; r++) {
        double cy = cell_centre(r, st, sh->g.height);
        if (r < 0 || cy < y || cy >= y + h)
            continue;
        for (int q = x / st; q <= (x + w - 1) / st && q < sh->cols; q++) {
            double cx = cell_centre(q, st, sh->g.width);
            if (q < 0 || cx < x || cx >= x + w)
                continue;
            size_t i = (size_t)r * sh->cols + q;
            if (c->combine_max) {
                if (!c->count[i] || s > c->sum[i])
                    c->sum[i] = s;
                c->count[i] = 1;
            } else if (c->count[i] < 65535) {
                c->sum[i] += s;
                c->count[i]++;
            }
        }
    }
    return 0;
}

/* score one scene's tiles onto its grid */
static int score_scene(duch_archive *a, scan_ctx *c, long long max_cells)
{
    scene_heat *sh = c->sh;
    const duch_scene_grid *g = &sh->g;
    sh->step = g->tile_size - g->overlap;
    if (g->tile_size < 1 || sh->step < 1 || g->width < 1 || g->height < 1) {
        pl_set_err(c->err, c->errlen, "scene %lld (%s) has no usable tile grid (tile %d px, "
                   "overlap %d px)", (long long)g->scene_id, g->path, g->tile_size, g->overlap);
        return DUCH_CORRUPT;
    }
    sh->cols = (g->width + sh->step - 1) / sh->step;
    sh->rows = (g->height + sh->step - 1) / sh->step;
    if ((long long)sh->cols * sh->rows > max_cells) {
        pl_set_err(c->err, c->errlen, "the heat map of scene %s would have %d x %d cells, more "
                   "than %lld", g->path, sh->cols, sh->rows, max_cells);
        return DUCH_INVALID;
    }
    size_t n = (size_t)sh->cols * sh->rows;
    c->sum = calloc(n, sizeof *c->sum);
    c->count = calloc(n, sizeof *c->count);
    sh->cells = malloc(n * sizeof *sh->cells);
    if (!c->sum || !c->count || !sh->cells) {
        free(c->sum);
        free(c->count);
        pl_set_err(c->err, c->errlen, "out of memory");
        return DUCH_NOMEM;
    }
    int rc = duch_archive_scene_tiles(a, g->scene_id, c->bbox != NULL, scan_tile, c);
    for (size_t i = 0; rc == DUCH_OK && i < n; i++)
        sh->cells[i] = !c->count[i] ? (float)DUCH_HEAT_NODATA
                       : c->combine_max ? c->sum[i] : c->sum[i] / c->count[i];
    free(c->sum);
    free(c->count);
    c->sum = NULL;
    c->count = NULL;
    if (rc == DUCH_MISMATCH)
        pl_set_err(c->err, c->errlen, "%s: tile %lld has a %zu-byte code; the archive's model "
                   "makes %zu-byte codes", duch_archive_path(a), (long long)c->bad_tile,
                   c->bad_len, c->nbytes);
    else if (rc == DUCH_NOMEM)
        pl_set_err(c->err, c->errlen, "out of memory");
    else if (rc != DUCH_OK)
        pl_set_err(c->err, c->errlen, "%s", duch_archive_errmsg(a));
    return rc;
}

/* 1 when s is a scene_id (all digits) */
static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* The scenes to draw: o->scene, or all with tiles. Moves them out of list. */
static int pick_scenes(duch_heat *h, duch_scene_grid *list, size_t n, const char *want,
                       const char *archive, char *err, size_t errlen)
{
    h->s = calloc(n ? n : 1, sizeof *h->s);
    if (!h->s) {
        pl_set_err(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int match = !want ? list[i].tiles > 0
                    : all_digits(want) ? list[i].scene_id == strtoll(want, NULL, 10)
                                       : !strcmp(list[i].path, want);
        if (!match && want && !all_digits(want)) { /* the same file by another name */
            char *r1 = realpath(want, NULL), *r2 = realpath(list[i].path, NULL);
            match = r1 && r2 && !strcmp(r1, r2);
            free(r1);
            free(r2);
        }
        if (match) {
            h->s[h->ns++].g = list[i];
            memset(&list[i], 0, sizeof list[i]);
        }
    }
    if (h->ns == 0) {
        if (want)
            pl_set_err(err, errlen, "%s holds no scene '%s' (give a scene_id or a path as "
                       "duch info lists them)", archive, want);
        else
            pl_set_err(err, errlen, "%s holds no tiles", archive);
        return DUCH_NOTFOUND;
    }
    if (want && h->s[0].g.tiles == 0) {
        pl_set_err(err, errlen, "scene '%s' has no tiles in %s", want, archive);
        return DUCH_NOTFOUND;
    }
    return DUCH_OK;
}

/* ------------------------------------------------------------ grids */

static OGRSpatialReferenceH srs_from_wkt(const char *wkt)
{
    OGRSpatialReferenceH s = wkt ? OSRNewSpatialReference(NULL) : NULL;
    if (s && OSRSetFromUserInput(s, wkt) != OGRERR_NONE) {
        if (s)
            OSRRelease(s);
        return NULL;
    }
    if (s)
        OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    return s;
}

static OGRSpatialReferenceH srs_wgs84(void)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    if (s) {
        OSRImportFromEPSG(s, 4326);
        OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    }
    return s;
}

/* A scene's grid of cells as an in-memory GDAL raster (Float32, nodata). */
static GDALDatasetH cells_dataset(const float *v, int w, int h, const double gt[6],
                                  const char *crs_wkt)
{
    GDALDriverH mem = GDALGetDriverByName("MEM");
    GDALDatasetH ds = mem ? GDALCreate(mem, "", w, h, 1, GDT_Float32, NULL) : NULL;
    if (!ds)
        return NULL;
    GDALRasterBandH b = GDALGetRasterBand(ds, 1);
    GDALSetGeoTransform(ds, (double *)gt);
    if (crs_wkt)
        GDALSetProjection(ds, crs_wkt);
    GDALSetRasterNoDataValue(b, DUCH_HEAT_NODATA);
    if (v && GDALRasterIO(b, GF_Write, 0, 0, w, h, (void *)v, w, h, GDT_Float32, 0, 0) != CE_None) {
        GDALClose(ds);
        return NULL;
    }
    if (!v)
        GDALFillRaster(b, DUCH_HEAT_NODATA, 0);
    return ds;
}

static void scene_cell_gt(const scene_heat *sh, double gt[6])
{
    static const double px[6] = {0, 1, 0, 0, 0, 1};
    const double *s = sh->g.has_geotransform ? sh->g.geotransform : px;
    gt[0] = s[0];
    gt[1] = s[1] * sh->step;
    gt[2] = s[2] * sh->step;
    gt[3] = s[3];
    gt[4] = s[4] * sh->step;
    gt[5] = s[5] * sh->step;
}

/* The union of several scenes: their common CRS (else EPSG:4326), the finest step, each
 * scene warped (nearest) into its window of the grid, the higher score kept. */
static int union_grid(duch_heat *h, long long max_cells, char *err, size_t errlen)
{
    OGRSpatialReferenceH out = NULL, first = NULL;
    int rc = DUCH_OK, same = 1;
    for (size_t i = 0; i < h->ns; i++) {
        if (!h->s[i].g.has_geotransform || !h->s[i].g.crs_wkt) {
            pl_set_err(err, errlen, "scene %lld (%s) has no georeferencing: a heat map over "
                       "several scenes needs it (give --scene %lld)", (long long)h->s[i].g.scene_id,
                       h->s[i].g.path, (long long)h->s[i].g.scene_id);
            return DUCH_INVALID;
        }
    }
    first = srs_from_wkt(h->s[0].g.crs_wkt);
    for (size_t i = 1; first && i < h->ns && same; i++) {
        OGRSpatialReferenceH s = srs_from_wkt(h->s[i].g.crs_wkt);
        same = s && OSRIsSame(first, s);
        if (s)
            OSRRelease(s);
    }
    out = first && same ? first : srs_wgs84();
    if (first && out != first)
        OSRRelease(first);
    if (!out) {
        pl_set_err(err, errlen, "cannot read the scenes' CRS");
        return DUCH_INVALID;
    }
    double ext[4] = {HUGE_VAL, HUGE_VAL, -HUGE_VAL, -HUGE_VAL}, rx = HUGE_VAL, ry = HUGE_VAL;
    double (*b)[4] = calloc(h->ns, sizeof *b);
    if (!b) {
        OSRRelease(out);
        pl_set_err(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    for (size_t i = 0; rc == DUCH_OK && i < h->ns; i++) {
        scene_heat *sh = &h->s[i];
        const double *g = sh->g.geotransform;
        double xs[4], ys[4];
        for (int k = 0; k < 4; k++) {
            double px = (k & 1) ? sh->g.width : 0, py = (k & 2) ? sh->g.height : 0;
            xs[k] = g[0] + px * g[1] + py * g[2];
            ys[k] = g[3] + px * g[4] + py * g[5];
        }
        double bb[4] = {xs[0], ys[0], xs[0], ys[0]};
        for (int k = 1; k < 4; k++) {
            bb[0] = fmin(bb[0], xs[k]); bb[1] = fmin(bb[1], ys[k]);
            bb[2] = fmax(bb[2], xs[k]); bb[3] = fmax(bb[3], ys[k]);
        }
        if (!same) {
            OGRSpatialReferenceH s = srs_from_wkt(sh->g.crs_wkt);
            OGRCoordinateTransformationH ct = s ? OCTNewCoordinateTransformation(s, out) : NULL;
            if (!ct || !OCTTransformBounds(ct, bb[0], bb[1], bb[2], bb[3], &bb[0], &bb[1], &bb[2],
                                           &bb[3], 21)) {
                pl_set_err(err, errlen, "scene %s: cannot transform its extent to EPSG:4326",
                           sh->g.path);
                rc = DUCH_INVALID;
            }
            if (ct)
                OCTDestroyCoordinateTransformation(ct);
            if (s)
                OSRRelease(s);
        }
        memcpy(b[i], bb, sizeof bb);
        rx = fmin(rx, (bb[2] - bb[0]) * sh->step / sh->g.width);
        ry = fmin(ry, (bb[3] - bb[1]) * sh->step / sh->g.height);
        ext[0] = fmin(ext[0], bb[0]); ext[1] = fmin(ext[1], bb[1]);
        ext[2] = fmax(ext[2], bb[2]); ext[3] = fmax(ext[3], bb[3]);
    }
    double cw = rc == DUCH_OK ? ceil((ext[2] - ext[0]) / rx - 1e-6) : 0;
    double ch = rc == DUCH_OK ? ceil((ext[3] - ext[1]) / ry - 1e-6) : 0;
    if (rc == DUCH_OK && (!(cw >= 1 && ch >= 1) || cw * ch > (double)max_cells || cw > INT32_MAX / 2 ||
                          ch > INT32_MAX / 2)) {
        pl_set_err(err, errlen, "a heat map over the %zu scenes' union would have %.0f x %.0f "
                   "cells (more than %lld): give --scene all (a raster per scene), --scene S, or --bbox", h->ns, cw, ch,
                   max_cells);
        rc = DUCH_INVALID;
    }
    if (rc == DUCH_OK) {
        h->info.width = (int)cw;
        h->info.height = (int)ch;
        double gt[6] = {ext[0], rx, 0, ext[3], 0, -ry};
        memcpy(h->info.geotransform, gt, sizeof gt);
        char *wkt = NULL;
        OSRExportToWkt(out, &wkt);
        h->crs_wkt = wkt ? strdup(wkt) : NULL;
        CPLFree(wkt);
        size_t n = (size_t)cw * (size_t)ch;
        h->values = malloc(n * sizeof *h->values);
        if (!h->values || !h->crs_wkt) {
            pl_set_err(err, errlen, "out of memory");
            rc = DUCH_NOMEM;
        }
        for (size_t i = 0; rc == DUCH_OK && i < n; i++)
            h->values[i] = (float)DUCH_HEAT_NODATA;
    }
    for (size_t i = 0; rc == DUCH_OK && i < h->ns; i++) {
        scene_heat *sh = &h->s[i];
        const double *gt = h->info.geotransform;
        int x0 = (int)floor((b[i][0] - gt[0]) / gt[1] + 1e-6), x1 = (int)ceil((b[i][2] - gt[0]) / gt[1] - 1e-6);
        int y0 = (int)floor((gt[3] - b[i][3]) / -gt[5] + 1e-6), y1 = (int)ceil((gt[3] - b[i][1]) / -gt[5] - 1e-6);
        x0 = x0 < 0 ? 0 : x0;
        y0 = y0 < 0 ? 0 : y0;
        x1 = x1 > h->info.width ? h->info.width : x1;
        y1 = y1 > h->info.height ? h->info.height : y1;
        if (x1 <= x0 || y1 <= y0)
            continue;
        double sgt[6], wgt[6] = {gt[0] + x0 * gt[1], gt[1], 0, gt[3] + y0 * gt[5], 0, gt[5]};
        scene_cell_gt(sh, sgt);
        GDALDatasetH src = cells_dataset(sh->cells, sh->cols, sh->rows, sgt, sh->g.crs_wkt);
        GDALDatasetH dst = cells_dataset(NULL, x1 - x0, y1 - y0, wgt, h->crs_wkt);
        char *argv[] = {"-r", "near", "-srcnodata", "-1", "-dstnodata", "-1", "-q", NULL};
        GDALWarpAppOptions *wo = GDALWarpAppOptionsNew(argv, NULL);
        int usage = 0;
        CPLErrorReset();
        GDALDatasetH got = src && dst && wo ? GDALWarp(NULL, dst, 1, &src, wo, &usage) : NULL;
        GDALWarpAppOptionsFree(wo);
        float *win = got ? malloc((size_t)(x1 - x0) * (y1 - y0) * sizeof *win) : NULL;
        if (!got || !win ||
            GDALRasterIO(GDALGetRasterBand(dst, 1), GF_Read, 0, 0, x1 - x0, y1 - y0, win, x1 - x0,
                         y1 - y0, GDT_Float32, 0, 0) != CE_None) {
            pl_set_err(err, errlen, "warping scene %s onto the heat map: %s", sh->g.path,
                       CPLGetLastErrorMsg());
            rc = DUCH_IO;
        }
        for (int y = 0; rc == DUCH_OK && y < y1 - y0; y++)
            for (int x = 0; x < x1 - x0; x++) {
                float v = win[(size_t)y * (x1 - x0) + x];
                float *o = &h->values[(size_t)(y0 + y) * h->info.width + x0 + x];
                if (v >= 0 && v > *o)
                    *o = v;
            }
        free(win);
        if (src)
            GDALClose(src);
        if (dst)
            GDALClose(dst);
    }
    free(b);
    if (out)
        OSRRelease(out);
    return rc;
}

/* h->s[0] on its own grid, in its CRS */
static int one_scene_grid(duch_heat *h, char *err, size_t errlen)
{
    scene_heat *sh = &h->s[0];
    size_t n = (size_t)sh->cols * sh->rows;
    h->info.width = sh->cols;
    h->info.height = sh->rows;
    scene_cell_gt(sh, h->info.geotransform);
    h->crs_wkt = sh->g.crs_wkt ? strdup(sh->g.crs_wkt) : NULL;
    h->values = malloc(n * sizeof *h->values);
    if (!h->values || (sh->g.crs_wkt && !h->crs_wkt)) {
        pl_set_err(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    memcpy(h->values, sh->cells, n * sizeof *h->values);
    h->info.crs_wkt = h->crs_wkt;
    h->info.step = sh->step;
    h->info.scene = sh->g.path;
    h->info.scene_id = sh->g.scene_id;
    return DUCH_OK;
}

size_t duch_heat_scene_count(const duch_heat *h)
{
    return h ? h->ns : 0;
}

static char *dup_or_null(const char *s, int *nomem)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *nomem = 1;
    return d;
}

int duch_heat_scene(const duch_heat *h, size_t i, duch_heat **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!h || !out || i >= h->ns) {
        pl_set_err(err, errlen, "duch_heat_scene: no scene %zu", i);
        return DUCH_INVALID;
    }
    const scene_heat *from = &h->s[i];
    duch_heat *o = calloc(1, sizeof *o);
    scene_heat *sh = o ? calloc(1, sizeof *sh) : NULL;
    size_t n = (size_t)from->cols * from->rows;
    int nomem = !o || !sh;
    if (!nomem) {
        o->s = sh;
        o->ns = 1;
        *sh = *from;
        sh->g.path = dup_or_null(from->g.path, &nomem);
        sh->g.crs_wkt = dup_or_null(from->g.crs_wkt, &nomem);
        sh->cells = malloc(n * sizeof *sh->cells);
        sh->t = malloc((from->nt ? from->nt : 1) * sizeof *sh->t);
        sh->room = from->nt;
        nomem |= !sh->cells || !sh->t;
        o->model_id = dup_or_null(h->model_id, &nomem);
        o->explain = dup_or_null(h->explain, &nomem);
        o->summary = dup_or_null(h->summary, &nomem);
    }
    if (nomem) {
        if (o && !o->s)
            free(sh);
        duch_heat_free(o);
        pl_set_err(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    memcpy(sh->cells, from->cells, n * sizeof *sh->cells);
    memcpy(sh->t, from->t, from->nt * sizeof *sh->t);
    o->combine_max = h->combine_max;
    o->info = h->info;
    o->info.model_id = o->model_id;
    o->info.text_explain = o->explain;
    o->info.text_summary = o->summary;
    o->info.scenes = 1;
    o->info.tiles = (long long)sh->nt;
    o->info.best = DUCH_HEAT_NODATA;
    for (size_t j = 0; j < sh->nt; j++)
        if (sh->t[j].s > o->info.best)
            o->info.best = sh->t[j].s;
    int rc = one_scene_grid(o, err, errlen);
    if (rc == DUCH_OK)
        *out = o;
    else
        duch_heat_free(o);
    return rc;
}

int duch_heat_make(const char *archive, const duch_search_query *q0, const duch_heat_options *o,
                   duch_heat **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!archive || !q0 || !out) {
        pl_set_err(err, errlen, "duch_heat_make: NULL argument");
        return DUCH_INVALID;
    }
    duch_heat_options dflt;
    if (!o) {
        duch_heat_options_init(&dflt);
        o = &dflt;
    }
    long long max_cells = o->max_cells > 0 ? o->max_cells : DEFAULT_MAX_CELLS;
    int all = o->scene && !strcmp(o->scene, "all");
    duch_search_query q = *q0;
    if (q.k < 1)
        q.k = 1;
    int rc = pl_check_query(&q, err, errlen);
    if (rc != DUCH_OK)
        return rc;
    duch_heat *h = calloc(1, sizeof *h);
    duch_archive *a = NULL;
    duch_textenc *te = NULL;
    duch_scene_grid *list = NULL;
    size_t nlist = 0;
    duch_hit *hits = NULL;
    if (!h) {
        pl_set_err(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    h->combine_max = o->combine_max;
    rc = duch_archive_open(archive, DUCH_ARCHIVE_READONLY, &a);
    if (rc != DUCH_OK) {
        pl_set_err(err, errlen, "%s", a ? duch_archive_errmsg(a) : "out of memory");
        goto finish;
    }
    int bits = duch_archive_bits(a);
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
    if ((rc = pl_query_code(a, &q, bits, code, &h->model_id, &h->explain, &h->summary, &te, err,
                            errlen)) != DUCH_OK)
        goto finish;
    /* the score of each distance: the confidence against the query's background (the
     * best hit and the crowd rank's distance, as duch_search), else the similarity */
    float score[DUCH_CODE_MAX_BITS + 1];
    int crowd = te ? duch_textenc_crowd_rank(te) : 0;
    size_t room = crowd > 0 ? (size_t)crowd : 1, nhits = 0;
    if (!(hits = calloc(room, sizeof *hits))) {
        rc = DUCH_NOMEM;
        pl_set_err(err, errlen, "out of memory");
        goto finish;
    }
    rc = duch_archive_search(a, code, (size_t)bits / 8, q.has_bbox ? q.bbox : NULL, room, hits,
                             &nhits);
    if (rc != DUCH_OK) {
        pl_set_err(err, errlen, "%s", duch_archive_errmsg(a));
        goto finish;
    }
    if (nhits == 0) {
        rc = DUCH_NOTFOUND;
        pl_set_err(err, errlen, q.has_bbox ? "no tile of %s lies in the box" : "%s holds no tiles",
                   duch_archive_path(a));
        goto finish;
    }
    int d1 = (int)hits[0].distance, dc = (int)hits[(room < nhits ? room : nhits) - 1].distance;
    h->info.is_confidence = crowd > 0;
    for (int d = 0; d <= bits; d++)
        score[d] = crowd > 0 ? (float)duch_textenc_confidence(te, d, d1, dc)
                             : (float)(1.0 - (double)d / bits);
    if ((rc = duch_archive_scenes(a, &list, &nlist)) != DUCH_OK) {
        pl_set_err(err, errlen, "%s", duch_archive_errmsg(a));
        goto finish;
    }
    if ((rc = pick_scenes(h, list, nlist, all ? NULL : o->scene, duch_archive_path(a), err, errlen)))
        goto finish;
    scan_ctx c = {.code = code, .nbytes = (size_t)bits / 8, .score = score,
                  .bbox = q.has_bbox ? q.bbox : NULL, .combine_max = o->combine_max,
                  .err = err, .errlen = errlen};
    size_t keep = 0;
    for (size_t i = 0; i < h->ns; i++) {
        c.sh = &h->s[i];
        if ((rc = score_scene(a, &c, max_cells)) != DUCH_OK)
            goto finish;
        h->info.tiles += (long long)h->s[i].nt;
        if (h->s[i].nt || (o->scene && !all)) /* scenes outside the box are not drawn */
            h->s[keep++] = h->s[i];
        else
            scene_heat_clear(&h->s[i]);
    }
    h->ns = keep;
    h->info.scenes = (int)keep;
    h->info.best = DUCH_HEAT_NODATA;
    for (size_t i = 0; i < h->ns; i++)
        for (size_t j = 0; j < h->s[i].nt; j++)
            if (h->s[i].t[j].s > h->info.best)
                h->info.best = h->s[i].t[j].s;
    h->info.bits = bits;
    h->info.model_id = h->model_id;
    h->info.text_explain = h->explain;
    h->info.text_summary = h->summary;
    h->per_scene = all;
    if (!all) /* "all": each scene apart, through duch_heat_scene */
        rc = h->ns == 1 ? one_scene_grid(h, err, errlen) : union_grid(h, max_cells, err, errlen);
    h->info.crs_wkt = h->crs_wkt;
finish:
    duch_scene_grids_free(list, nlist);
    free(hits);
    duch_textenc_close(te);
    duch_archive_close(a);
    if (rc == DUCH_OK)
        *out = h;
    else
        duch_heat_free(h);
    return rc;
}

/* ------------------------------------------------------------ the raster */

void *duch_heat_dataset(const duch_heat *h, const char *query, char *err, size_t errlen)
{
    if (!h || h->per_scene) {
        pl_set_err(err, errlen, h ? "a heat map of every scene apart has no raster of its own: "
                                    "take each scene's with duch_heat_scene"
                                  : "duch_heat_dataset: NULL argument");
        return NULL;
    }
    GDALDatasetH ds = cells_dataset(h->values, h->info.width, h->info.height,
                                    h->info.geotransform, h->crs_wkt);
    if (!ds) {
        pl_set_err(err, errlen, "cannot make the heat map raster: %s", CPLGetLastErrorMsg());
        return NULL;
    }
    GDALRasterBandH b = GDALGetRasterBand(ds, 1);
    const char *what = h->info.is_confidence ? "confidence" : "similarity";
    GDALSetDescription(b, what);
    GDALSetMetadataItem(ds, "DUCH_SCORE", what, NULL);
    GDALSetMetadataItem(ds, "DUCH_SCORE_MEANING",
                        h->info.is_confidence
                            ? "the chance, 0 to 1, that a tile shows what the query asks for "
                              "(docs/model.md, Confidence)"
                            : "1 - Hamming distance / bits of the tile's code to the query's",
                        NULL);
    GDALSetMetadataItem(ds, "DUCH_COMBINE", h->combine_max ? "max" : "mean", NULL);
    if (query)
        GDALSetMetadataItem(ds, "DUCH_QUERY", query, NULL);
    if (h->model_id)
        GDALSetMetadataItem(ds, "DUCH_MODEL_ID", h->model_id, NULL);
    if (h->explain)
        GDALSetMetadataItem(ds, "DUCH_QUERY_WORDS", h->explain, NULL);
    GDALSetMetadataItem(ds, "DUCH_SCENES", CPLSPrintf("%d", h->info.scenes), NULL);
    GDALSetMetadataItem(ds, "DUCH_TILES", CPLSPrintf("%lld", h->info.tiles), NULL);
    if (h->info.scene)
        GDALSetMetadataItem(ds, "DUCH_SCENE", h->info.scene, NULL);
    if (h->info.step)
        GDALSetMetadataItem(ds, "DUCH_STEP_PX", CPLSPrintf("%d", h->info.step), NULL);
    GDALComputeRasterStatistics(b, FALSE, NULL, NULL, NULL, NULL, NULL, NULL);
    return ds;
}

/* path's folder and a private name there ending in ext */
static char *part_name(const char *path, const char *ext)
{
    size_t n = strlen(path) + 64;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s.part%ld%s", path, (long)getpid(), ext);
    return s;
}

int duch_heat_write_raster(const duch_heat *h, const char *path, const char *query, char *err,
                           size_t errlen)
{
    GDALDatasetH mem = duch_heat_dataset(h, query, err, errlen);
    if (!mem)
        return DUCH_NOMEM;
    GDALDriverH cog = GDALGetDriverByName("COG"), gtiff = GDALGetDriverByName("GTiff");
    char *tmp = part_name(path, ".tif");
    char *cog_opts[] = {"COMPRESS=DEFLATE", "PREDICTOR=YES", "OVERVIEWS=NONE", NULL};
    char *tif_opts[] = {"TILED=YES", "COMPRESS=DEFLATE", NULL};
    int rc = DUCH_OK;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    GDALDatasetH o = tmp && (cog || gtiff) ? GDALCreateCopy(cog ? cog : gtiff, tmp, mem, FALSE,
                                                            cog ? cog_opts : tif_opts, NULL, NULL)
                                           : NULL;
    if (o)
        GDALClose(o);
    CPLPopErrorHandler();
    if (!o || CPLGetLastErrorType() >= CE_Failure) {
        pl_set_err(err, errlen, "cannot write %s: %s", path,
                   !tmp ? "out of memory" : !(cog || gtiff) ? "GDAL has no GeoTIFF driver"
                                                           : CPLGetLastErrorMsg());
        rc = DUCH_IO;
    } else if (rename(tmp, path) != 0) {
        pl_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = DUCH_IO;
    }
    if (rc && tmp)
        VSIUnlink(tmp);
    free(tmp);
    GDALClose(mem);
    return rc;
}

/* ------------------------------------------------------------ regions */

/* every point of a polygon from scene pixels to the scene's CRS */
static void pixels_to_crs(OGRGeometryH poly, const double gt[6])
{
    for (int r = 0; r < OGR_G_GetGeometryCount(poly); r++) {
        OGRGeometryH ring = OGR_G_GetGeometryRef(poly, r);
        for (int i = 0; i < OGR_G_GetPointCount(ring); i++) {
            double px = OGR_G_GetX(ring, i), py = OGR_G_GetY(ring, i);
            OGR_G_SetPoint_2D(ring, i, gt[0] + px * gt[1] + py * gt[2], gt[3] + px * gt[4] + py * gt[5]);
        }
    }
}

static OGRGeometryH rect(double x0, double y0, double x1, double y1)
{
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing), p = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddPoint_2D(ring, x0, y0);
    OGR_G_AddPoint_2D(ring, x1, y0);
    OGR_G_AddPoint_2D(ring, x1, y1);
    OGR_G_AddPoint_2D(ring, x0, y1);
    OGR_G_AddPoint_2D(ring, x0, y0);
    OGR_G_AddGeometryDirectly(p, ring);
    return p;
}

static const char *vector_driver(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strcasecmp(dot, ".gpkg"))
        return "GPKG";
    if (dot && (!strcasecmp(dot, ".geojson") || !strcasecmp(dot, ".json")))
        return "GeoJSON";
    return NULL;
}

/* one scene's regions as features of lyr */
static int scene_regions(const scene_heat *sh, OGRLayerH lyr, OGRSpatialReferenceH wgs84,
                         const char *query, double min_score, int *nreg, char *err, size_t errlen)
{
    OGRGeometryH multi = OGR_G_CreateGeometry(wkbMultiPolygon);
    size_t n = 0;
    for (size_t i = 0; i < sh->nt; i++)
        if (sh->t[i].s >= min_score) {
            const heat_tile *t = &sh->t[i];
            OGR_G_AddGeometryDirectly(multi, rect(t->x, t->y, t->x + t->w, t->y + t->h));
            n++;
        }
    if (!n) {
        OGR_G_DestroyGeometry(multi);
        return DUCH_OK;
    }
    OGRGeometryH u = OGR_G_UnionCascaded(multi);
    OGR_G_DestroyGeometry(multi);
    if (!u) {
        pl_set_err(err, errlen, "merging the tiles of %s: %s", sh->g.path, CPLGetLastErrorMsg());
        return DUCH_ERROR;
    }
    OGRSpatialReferenceH s = srs_from_wkt(sh->g.crs_wkt);
    OGRCoordinateTransformationH ct = s ? OCTNewCoordinateTransformation(s, wgs84) : NULL;
    int rc = ct ? DUCH_OK : DUCH_INVALID;
    if (!ct)
        pl_set_err(err, errlen, "scene %s: cannot transform its CRS to EPSG:4326", sh->g.path);
    int parts = wkbFlatten(OGR_G_GetGeometryType(u)) == wkbPolygon ? 1 : OGR_G_GetGeometryCount(u);
    for (int p = 0; rc == DUCH_OK && p < parts; p++) {
        OGRGeometryH part = OGR_G_Clone(parts == 1 && wkbFlatten(OGR_G_GetGeometryType(u)) == wkbPolygon
                                            ? u : OGR_G_GetGeometryRef(u, p));
        OGREnvelope env;
        OGR_G_GetEnvelope(part, &env);
        int count = 0;
        double best = -1, sum = 0;
        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
        for (size_t i = 0; i < sh->nt; i++) {
            const heat_tile *t = &sh->t[i];
            double cx = t->x + 0.5 * t->w, cy = t->y + 0.5 * t->h;
            if (t->s < min_score || cx < env.MinX || cx > env.MaxX || cy < env.MinY || cy > env.MaxY)
                continue;
            OGR_G_SetPoint_2D(pt, 0, cx, cy);
            if (!OGR_G_Intersects(part, pt))
                continue;
            count++;
            sum += t->s;
            best = t->s > best ? t->s : best;
        }
        OGR_G_DestroyGeometry(pt);
        OGR_G_Segmentize(part, sh->step); /* so that the reprojection follows curved edges */
        pixels_to_crs(part, sh->g.geotransform);
        OGR_G_AssignSpatialReference(part, s);
        if (OGR_G_Transform(part, ct) != OGRERR_NONE) {
            pl_set_err(err, errlen, "scene %s: cannot transform a region to EPSG:4326", sh->g.path);
            rc = DUCH_INVALID;
        }
        OGRFeatureH f = rc == DUCH_OK ? OGR_F_Create(OGR_L_GetLayerDefn(lyr)) : NULL;
        if (f) {
            OGR_G_AssignSpatialReference(part, wgs84);
            OGR_F_SetFieldString(f, 0, query ? query : "");
            OGR_F_SetFieldInteger64(f, 1, sh->g.scene_id);
            OGR_F_SetFieldString(f, 2, sh->g.path);
            OGR_F_SetFieldInteger(f, 3, count);
            OGR_F_SetFieldDouble(f, 4, best);
            OGR_F_SetFieldDouble(f, 5, count ? sum / count : 0);
            OGR_F_SetGeometryDirectly(f, part);
            part = NULL;
            if (OGR_L_CreateFeature(lyr, f) != OGRERR_NONE) {
                pl_set_err(err, errlen, "writing a region: %s", CPLGetLastErrorMsg());
                rc = DUCH_IO;
            }
            OGR_F_Destroy(f);
            (*nreg)++;
        }
        OGR_G_DestroyGeometry(part);
    }
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (s)
        OSRRelease(s);
    OGR_G_DestroyGeometry(u);
    return rc;
}

int duch_heat_write_regions(const duch_heat *h, const char *path, const char *query,
                            double min_score, int *nregions, char *err, size_t errlen)
{
    if (nregions)
        *nregions = 0;
    const char *dname = path ? vector_driver(path) : NULL;
    if (!h || !dname) {
        pl_set_err(err, errlen, "regions are written as .gpkg (GeoPackage) or .geojson, not '%s'",
                   path ? path : "");
        return DUCH_INVALID;
    }
    if (min_score < 0)
        min_score = h->info.is_confidence ? 0.5 : h->info.best - 0.125;
    int georef = 0;
    for (size_t i = 0; i < h->ns; i++)
        georef += h->s[i].g.has_geotransform && h->s[i].g.crs_wkt;
    if (!georef) {
        pl_set_err(err, errlen, "regions need a georeferenced scene; this one was indexed "
                   "without georeferencing");
        return DUCH_INVALID;
    }
    GDALDriverH drv = GDALGetDriverByName(dname);
    char *tmp = part_name(path, !strcmp(dname, "GPKG") ? ".gpkg" : ".geojson");
    OGRSpatialReferenceH wgs84 = srs_wgs84();
    int rc = DUCH_OK, nreg = 0;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    GDALDatasetH ds = drv && tmp ? GDALCreate(drv, tmp, 0, 0, 0, GDT_Unknown, NULL) : NULL;
    char *json_opts[] = {"RFC7946=YES", NULL};
    OGRLayerH lyr = ds ? GDALDatasetCreateLayer(ds, "regions", wgs84, wkbPolygon,
                                                !strcmp(dname, "GeoJSON") ? json_opts : NULL)
                       : NULL;
    static const struct { const char *name; OGRFieldType type; } fields[] = {
        {"query", OFTString}, {"scene_id", OFTInteger64}, {"scene", OFTString},
        {"tiles", OFTInteger}, {"best", OFTReal}, {"mean", OFTReal}};
    for (size_t i = 0; lyr && i < sizeof fields / sizeof *fields; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[i].name, fields[i].type);
        if (OGR_L_CreateField(lyr, fd, TRUE) != OGRERR_NONE)
            lyr = NULL;
        OGR_Fld_Destroy(fd);
    }
    if (!lyr) {
        pl_set_err(err, errlen, "cannot write %s: %s", path, CPLGetLastErrorMsg());
        rc = DUCH_IO;
    }
    if (rc == DUCH_OK && OGR_L_StartTransaction(lyr) != OGRERR_NONE)
        rc = DUCH_IO;
    for (size_t i = 0; rc == DUCH_OK && i < h->ns; i++)
        if (h->s[i].g.has_geotransform && h->s[i].g.crs_wkt)
            rc = scene_regions(&h->s[i], lyr, wgs84, query, min_score, &nreg, err, errlen);
    if (lyr && OGR_L_CommitTransaction(lyr) != OGRERR_NONE && rc == DUCH_OK) {
        pl_set_err(err, errlen, "cannot write %s: %s", path, CPLGetLastErrorMsg());
        rc = DUCH_IO;
    }
    if (ds)
        GDALClose(ds);
    if (rc == DUCH_OK && CPLGetLastErrorType() >= CE_Failure) {
        pl_set_err(err, errlen, "cannot write %s: %s", path, CPLGetLastErrorMsg());
        rc = DUCH_IO;
    }
    CPLPopErrorHandler();
    if (rc == DUCH_OK && rename(tmp, path) != 0) {
        pl_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = DUCH_IO;
    }
    if (rc && tmp)
        VSIUnlink(tmp);
    free(tmp);
    if (wgs84)
        OSRRelease(wgs84);
    if (nregions)
        *nregions = nreg;
    return rc;
}

/* ------------------------------------------------------------ the picture */

/* score 0..1 -> a colour: blue, cyan, green, yellow, red */
static void ramp(double v, unsigned char rgb[3])
{
    static const unsigned char stops[5][3] = {
        {20, 40, 160}, {0, 170, 230}, {40, 200, 60}, {250, 210, 0}, {230, 20, 20}};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double f = v * 4;
    int i = f >= 4 ? 3 : (int)f;
    double t = f - i;
    for (int k = 0; k < 3; k++)
        rgb[k] = (unsigned char)lround(stops[i][k] * (1 - t) + stops[i + 1][k] * t);
}

int duch_heat_write_overlay(const duch_heat *h, const char *png, int max_side, char *err,
                            size_t errlen)
{
    if (!h || !png || h->per_scene) {
        pl_set_err(err, errlen, "duch_heat_write_overlay: NULL argument, or a heat map of every "
                   "scene apart (take each with duch_heat_scene)");
        return DUCH_INVALID;
    }
    if (max_side <= 0)
        max_side = 1024;
    /* the canvas: the heat map's extent, the longer side max_side px */
    int gw = h->info.width, gh = h->info.height;
    double sx = h->info.step ? (double)h->s[0].g.width / gw : 1, sy = h->info.step ? (double)h->s[0].g.height / gh : 1;
    double fw = gw * sx, fh = gh * sy, f = (fw > fh ? fw : fh) > max_side ? max_side / (fw > fh ? fw : fh) : 1;
    if (!h->info.step) /* a union: the cells themselves, enlarged to max_side */
        f = (double)max_side / (gw > gh ? gw : gh);
    int W = (int)lround(fw * f), H = (int)lround(fh * f);
    W = W < 1 ? 1 : W;
    H = H < 1 ? 1 : H;
    unsigned char *img = malloc((size_t)W * H * 3);
    if (!img) {
        pl_set_err(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    memset(img, 96, (size_t)W * H * 3);
    /* the scenes underneath, where they are on the heat map's grid unrotated */
    const double *cg = h->info.geotransform;
    OGRSpatialReferenceH out = h->crs_wkt ? srs_from_wkt(h->crs_wkt) : NULL;
    for (size_t i = 0; i < h->ns; i++) {
        const scene_heat *sh = &h->s[i];
        const double *g = sh->g.geotransform;
        double x0, y0, x1, y1; /* the scene's corners in canvas pixels */
        if (h->info.step) {
            x0 = y0 = 0;
            x1 = W;
            y1 = H;
        } else {
            OGRSpatialReferenceH s = srs_from_wkt(sh->g.crs_wkt);
            int same = s && out && OSRIsSame(s, out) && g[2] == 0 && g[4] == 0 && cg[2] == 0 && cg[4] == 0;
            if (s)
                OSRRelease(s);
            if (!same)
                continue;
            x0 = (g[0] - cg[0]) / cg[1] * W / gw;
            x1 = (g[0] + sh->g.width * g[1] - cg[0]) / cg[1] * W / gw;
            y0 = (g[3] - cg[3]) / cg[5] * H / gh;
            y1 = (g[3] + sh->g.height * g[5] - cg[3]) / cg[5] * H / gh;
        }
        int ix0 = (int)lround(x0), iy0 = (int)lround(y0), iw = (int)lround(x1) - ix0, ih = (int)lround(y1) - iy0;
        if (iw < 1 || ih < 1)
            continue;
        duch_tiler_options to;
        duch_tiler_options_init(&to);
        to.allow_pixel = 1;
        duch_tiler *t = NULL;
        unsigned char *rgb = malloc((size_t)iw * ih * 3);
        if (rgb && duch_tiler_open(sh->g.path, &to, &t) == DUCH_OK &&
            duch_tiler_read_window(t, 0, 0, sh->g.width, sh->g.height, iw, ih, rgb, NULL) == DUCH_OK) {
            for (int y = 0; y < ih; y++)
                for (int x = 0; x < iw; x++)
                    if (ix0 + x >= 0 && ix0 + x < W && iy0 + y >= 0 && iy0 + y < H)
                        memcpy(img + ((size_t)(iy0 + y) * W + ix0 + x) * 3, rgb + ((size_t)y * iw + x) * 3, 3);
        }
        duch_tiler_close(t);
        free(rgb);
    }
    if (out)
        OSRRelease(out);
    /* the scores over it: nodata darkened, a score tinted the more the higher it is */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int cx = (int)((double)x * gw / W), cy = (int)((double)y * gh / H);
            cx = cx >= gw ? gw - 1 : cx;
            cy = cy >= gh ? gh - 1 : cy;
            float v = h->values[(size_t)cy * gw + cx];
            unsigned char *p = img + ((size_t)y * W + x) * 3, c[3];
            if (v < 0) {
                for (int k = 0; k < 3; k++)
                    p[k] = (unsigned char)(p[k] / 3);
                continue;
            }
            ramp(v, c);
            double a = 0.1 + 0.5 * (v > 1 ? 1 : v);
            for (int k = 0; k < 3; k++)
                p[k] = (unsigned char)lround(p[k] * (1 - a) + c[k] * a);
        }
    GDALDriverH mem = GDALGetDriverByName("MEM"), pngd = GDALGetDriverByName("PNG");
    int rc = DUCH_IO;
    CPLErrorReset();
    if (mem && pngd) {
        GDALDatasetH ds = GDALCreate(mem, "", W, H, 3, GDT_Byte, NULL);
        int bandmap[3] = {1, 2, 3};
        if (ds && GDALDatasetRasterIO(ds, GF_Write, 0, 0, W, H, img, W, H, GDT_Byte, 3, bandmap, 3,
                                      (GSpacing)W * 3, 1) == CE_None) {
            GDALDatasetH o = GDALCreateCopy(pngd, png, ds, FALSE, NULL, NULL, NULL);
            if (o) {
                GDALClose(o);
                rc = DUCH_OK;
            }
        }
        if (ds)
            GDALClose(ds);
    }
    free(img);
    if (rc)
        pl_set_err(err, errlen, "cannot write %s: %s", png, CPLGetLastErrorMsg());
    return rc;
}
