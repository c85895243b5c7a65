/*
 * tiler.c: scene -> grid of 8-bit RGB tiles with EPSG:4326 footprints (duch_tiler.h).
 *
 * HOW IT WORKS
 *
 * Open: GDALOpenEx the raster, refuse it unless it has a geotransform and a CRS (or
 * allow_pixel), measure the ground size of a pixel, derive the grid (tile side =
 * tile_ground_m / pixel size, rounded), choose the bands, compute the percentile stretch
 * of non-Byte bands from a decimated read (GDAL serves it from an overview when there is
 * one), hash the scene into its checksum, and size the strip buffers from max_memory.
 *
 * Iterate: tiles are visited row of tiles by row of tiles. A "chunk" is a run of
 * neighbouring tiles of one row read with a single GDALRasterIOEx per band, straight at
 * the output resolution (out_size / tile side) with the resampling algorithm, so GDAL
 * reads from overviews when downsampling. A whole row of tiles is one chunk when it fits
 * max_memory; else the row is cut into chunks of as many tiles as fit. Tiles are cut from
 * the chunk at integer offsets, so a chunk holds several tiles only when the tile step is
 * a whole number of output pixels (always true without overlap); otherwise, and for the
 * clipped tile at the right edge, a chunk is one tile. Masks (nodata, alpha, mask band)
 * are read the same way and give the valid fraction.
 *
 * Every public entry point pushes a GDAL error handler (thread-local) that records GDAL
 * failures into the tiler's message and turns GDAL warnings into tiler warnings.
 */
#define _GNU_SOURCE 1 /* struct stat64 behind VSIStatBufL */
#include "duch_tiler.h"
#include "duch_utf8.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <ogr_srs_api.h>
#include <geodesic.h> /* PROJ */

#include "sha256.h"

#define MAX_WARNINGS 64
#define SCENE_DENSIFY 32
#define STRETCH_SAMPLE 512  /* long side of the decimated read for the stretch */
#define CHECKSUM_WIN 32     /* side of the 3x3 pixel windows hashed into the checksum */

enum mask_mode { MASK_NONE, MASK_DATASET, MASK_PER_BAND };

struct duch_tiler {
    GDALDatasetH ds;
    int borrowed;              /* ds belongs to the caller (duch_tiler_open_gdal) */
    duch_tiler_options o;
    char *resampling_copy;
    duch_scene_info info;
    char *crs_wkt;
    char *crs_name;
    char driver[64];
    char data_type[32];
    char resampling_name[16];
    OGRSpatialReferenceH srs, wgs84;
    OGRCoordinateTransformationH ct;

    /* bands */
    int nread;                 /* bands read: 1 (gray, palette) or 3 */
    GDALRasterBandH band[3];
    int stretch[3];
    int nan_check[3];          /* floating-point band: NaN and +-Inf samples are invalid */
    int any_nan;               /* some nan_check: a mask buffer is kept even without masks */
    double smin[3], sscale[3]; /* byte = (v - smin) * sscale */
    int palette;
    unsigned char lut[256][3];
    int mask_mode;
    GDALRasterBandH maskband[3];
    int nmask;
    GDALRIOResampleAlg alg;

    /* grid */
    int W, H;
    int tile_w, tile_h, step_x, step_y, cols, rows;
    int out_size;
    int step_out_x;            /* step in output pixels, when exact */
    int chunk_tiles;           /* max tiles per chunk */

    /* buffers */
    unsigned char *plane[3];
    unsigned char *mask, *mtmp;
    float *ftmp;
    size_t plane_px;           /* pixels each buffer holds */
    unsigned char *rgb;
    size_t bytes_now, bytes_bound;

    /* iteration */
    int row, col;
    int chunk_row, chunk_c0, chunk_c1, chunk_ow, chunk_oh, chunk_loaded;
    long long visited, kept, skipped;
    int started;               /* a duch_tiler_next*() call ran since open or rewind */
    int footprint_warned;

    /* messages */
    char err[1024];
    char gdal_err[512];
    char *warn[MAX_WARNINGS];
    int nwarn;
};

/* ------------------------------------------------------------------ messages */

static void set_err(duch_tiler *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(duch_tiler *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    duch_vsnprintf(t->err, sizeof t->err, fmt, ap); /* never cut inside a character */
    va_end(ap);
}

/* Append ": <last GDAL error>" when there is one. */
static void add_gdal_reason(duch_tiler *t)
{
    if (t->gdal_err[0]) {
        size_t n = strlen(t->err);
        snprintf(t->err + n, sizeof t->err - n, ": %s", t->gdal_err);
    }
}

static void add_warning(duch_tiler *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(duch_tiler *t, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    duch_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (int i = 0; i < t->nwarn; i++)
        if (strcmp(t->warn[i], buf) == 0)
            return; /* once each */
    if (t->nwarn < MAX_WARNINGS) {
        char *s = strdup(buf);
        if (s)
            t->warn[t->nwarn++] = s;
    }
    if (t->o.on_warning)
        t->o.on_warning(buf, t->o.warning_arg);
}

static void CPL_STDCALL cpl_handler(CPLErr cls, CPLErrorNum no, const char *msg)
{
    duch_tiler *t = CPLGetErrorHandlerUserData();
    (void)no;
    if (!t || !msg)
        return;
    if (cls == CE_Warning)
        add_warning(t, "GDAL: %s", msg);
    else if (cls == CE_Failure || cls == CE_Fatal)
        snprintf(t->gdal_err, sizeof t->gdal_err, "%s", msg);
}

static void enter(duch_tiler *t)
{
    t->err[0] = 0;
    t->gdal_err[0] = 0;
    CPLPushErrorHandlerEx(cpl_handler, t);
    CPLSetCurrentErrorHandlerCatchDebug(FALSE); /* CPL_DEBUG output goes where it went */
}

static int leave(duch_tiler *t, int rc)
{
    CPLPopErrorHandler();
    return rc;
}

/* ------------------------------------------------------------------ options */

void duch_tiler_options_init(duch_tiler_options *o)
{
    memset(o, 0, sizeof *o);
    o->tile_ground_m = 78.03;
    o->min_tile_px = 32;
    o->stretch_low = 2.0;
    o->stretch_high = 98.0;
    o->min_valid = 0.5;
    o->out_size = 256;
    o->densify = 4;
    o->max_memory = (size_t)64 << 20;
    o->coarse_warn = 2.0;
}

static const struct {
    const char *name;
    GDALRIOResampleAlg alg;
} resampling_names[] = {
    {"nearest", GRIORA_NearestNeighbour}, {"bilinear", GRIORA_Bilinear},
    {"cubic", GRIORA_Cubic},              {"cubicspline", GRIORA_CubicSpline},
    {"lanczos", GRIORA_Lanczos},          {"average", GRIORA_Average},
    {"mode", GRIORA_Mode},                {"gauss", GRIORA_Gauss},
};

static int check_options(duch_tiler *t)
{
    const duch_tiler_options *o = &t->o;
    if (o->tile_size_px < 0 || o->tile_size_px > 1000000)
        return set_err(t, "tile size %d px is out of range (0 = from the ground size, else 1..1000000)",
                       o->tile_size_px), DUCH_INVALID;
    if (o->tile_size_px == 0 && !(o->tile_ground_m > 0 && isfinite(o->tile_ground_m)))
        return set_err(t, "tile ground size %g m must be positive", o->tile_ground_m), DUCH_INVALID;
    if (o->overlap_px < 0)
        return set_err(t, "overlap %d px must not be negative", o->overlap_px), DUCH_INVALID;
    if (o->min_tile_px < 1)
        return set_err(t, "min_tile_px %d must be at least 1", o->min_tile_px), DUCH_INVALID;
    if (o->band_count != 0 && o->band_count != 1 && o->band_count != 3)
        return set_err(t, "%d bands given: give 1 band (gray) or 3 (R,G,B)", o->band_count),
               DUCH_INVALID;
    if (!(o->stretch_low >= 0 && o->stretch_low < o->stretch_high && o->stretch_high <= 100))
        return set_err(t, "stretch percentiles %g..%g: need 0 <= low < high <= 100",
                       o->stretch_low, o->stretch_high), DUCH_INVALID;
    if (!(o->min_valid >= 0 && o->min_valid <= 1))
        return set_err(t, "min_valid %g must be within 0..1", o->min_valid), DUCH_INVALID;
    if (o->out_size < 1 || o->out_size > 16384)
        return set_err(t, "output tile size %d px is out of range 1..16384", o->out_size),
               DUCH_INVALID;
    if (o->densify < 1 || o->densify > DUCH_TILER_MAX_DENSIFY)
        return set_err(t, "densify %d is out of range 1..%d", o->densify, DUCH_TILER_MAX_DENSIFY),
               DUCH_INVALID;
    if (o->resampling) {
        size_t i;
        for (i = 0; i < sizeof resampling_names / sizeof resampling_names[0]; i++)
            if (strcasecmp(o->resampling, resampling_names[i].name) == 0)
                break;
        if (i == sizeof resampling_names / sizeof resampling_names[0])
            return set_err(t, "unknown resampling '%s' (nearest, bilinear, cubic, cubicspline, "
                              "lanczos, average, mode, gauss)", o->resampling), DUCH_INVALID;
    }
    return DUCH_OK;
}

/* ------------------------------------------------------------------ footprints */

/* Ground distance (m) on the WGS 84 ellipsoid from (lon, lat) to (lon + dlon, lat + dlat),
 * degrees: PROJ's geodesic inverse problem. */
static double ground_dist(double lon, double lat, double dlon, double dlat)
{
    struct geod_geodesic g;
    geod_init(&g, 6378137.0, 1.0 / 298.257223563);
    double s12 = 0;
    geod_inverse(&g, lat, lon, lat + dlat, lon + dlon, &s12, NULL, NULL);
    return s12;
}

static void pix2geo(const double *gt, double c, double r, double *x, double *y)
{
    *x = gt[0] + c * gt[1] + r * gt[2];
    *y = gt[3] + c * gt[4] + r * gt[5];
}

/* n points (x[i], y[i] scene CRS) -> lon/lat in place. 0 when every point transformed. */
static int to_lonlat(duch_tiler *t, int n, double *x, double *y)
{
    int *ok = calloc((size_t)n, sizeof *ok);
    int bad = 0;
    if (!ok)
        return -1;
    if (!OCTTransformEx(t->ct, n, x, y, NULL, ok))
        bad = 1;
    for (int i = 0; i < n && !bad; i++)
        if (!ok[i] || !isfinite(x[i]) || !isfinite(y[i]))
            bad = 1;
    free(ok);
    return bad ? -1 : 0;
}

/* Make the ring continuous in longitude (first point in [-180, 180)), counter-clockwise,
 * and compute its bbox. */
static void finish_ring(int n, double *ring, double *bbox)
{
    if (ring[0] < -180.0 || ring[0] >= 180.0) {
        double lon0 = fmod(ring[0] + 180.0, 360.0);
        if (lon0 < 0)
            lon0 += 360.0;
        ring[0] = lon0 - 180.0;
    }
    for (int i = 1; i < n; i++) {
        double prev = ring[2 * (i - 1)], *lon = &ring[2 * i];
        while (*lon - prev > 180.0)
            *lon -= 360.0;
        while (*lon - prev < -180.0)
            *lon += 360.0;
    }
    ring[2 * (n - 1)] = ring[0]; /* closed exactly */
    ring[2 * (n - 1) + 1] = ring[1];
    double area = 0;
    for (int i = 0; i + 1 < n; i++)
        area += ring[2 * i] * ring[2 * i + 3] - ring[2 * i + 2] * ring[2 * i + 1];
    if (area < 0) { /* clockwise: reverse */
        for (int i = 0, j = n - 1; i < j; i++, j--) {
            double a = ring[2 * i], b = ring[2 * i + 1];
            ring[2 * i] = ring[2 * j];
            ring[2 * i + 1] = ring[2 * j + 1];
            ring[2 * j] = a;
            ring[2 * j + 1] = b;
        }
    }
    if (bbox) {
        bbox[0] = bbox[2] = ring[0];
        bbox[1] = bbox[3] = ring[1];
        for (int i = 1; i < n; i++) {
            bbox[0] = fmin(bbox[0], ring[2 * i]);
            bbox[2] = fmax(bbox[2], ring[2 * i]);
            bbox[1] = fmin(bbox[1], ring[2 * i + 1]);
            bbox[3] = fmax(bbox[3], ring[2 * i + 1]);
        }
    }
}

/* Ring of 4*dens+1 points around the pixel window: top-left, down the left side, along
 * the bottom, up the right side, along the top, closed. Returns the point count or -1. */
static int window_ring(duch_tiler *t, double x0, double y0, double w, double h, int dens,
                       double *ring, double *bbox)
{
    int n = 4 * dens + 1;
    double xs[4 * 32 + 1], ys[4 * 32 + 1];
    for (int i = 0; i < dens; i++) {
        double f = (double)i / dens;
        double c[4][2] = {{x0, y0 + f * h},
                          {x0 + f * w, y0 + h},
                          {x0 + w, y0 + h - f * h},
                          {x0 + w - f * w, y0}};
        for (int s = 0; s < 4; s++)
            pix2geo(t->info.geotransform, c[s][0], c[s][1], &xs[s * dens + i], &ys[s * dens + i]);
    }
    xs[n - 1] = xs[0];
    ys[n - 1] = ys[0];
    if (to_lonlat(t, n, xs, ys) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        ring[2 * i] = xs[i];
        ring[2 * i + 1] = ys[i];
    }
    finish_ring(n, ring, bbox);
    return n;
}

int duch_tiler_footprint(duch_tiler *t, double x_off, double y_off, double width,
                         double height, int densify, double *ring, double *bbox)
{
    if (!t || !ring)
        return DUCH_INVALID;
    enter(t);
    if (!t->info.georeferenced) {
        set_err(t, "the scene is not georeferenced (opened with allow_pixel): no footprint");
        return leave(t, DUCH_INVALID);
    }
    if (densify < 1 || densify > DUCH_TILER_MAX_DENSIFY || !(width > 0) || !(height > 0)) {
        set_err(t, "footprint: need width, height > 0 and densify 1..%d", DUCH_TILER_MAX_DENSIFY);
        return leave(t, DUCH_INVALID);
    }
    if (window_ring(t, x_off, y_off, width, height, densify, ring, bbox) < 0) {
        set_err(t, "footprint of window %g,%g %gx%g cannot be transformed to EPSG:4326", x_off,
                y_off, width, height);
        add_gdal_reason(t);
        return leave(t, DUCH_ERROR);
    }
    return leave(t, DUCH_OK);
}

int duch_tiler_pixel_to_geo(duch_tiler *t, double col, double row, double *x, double *y,
                            double *lon, double *lat)
{
    double gx, gy;
    if (!t)
        return DUCH_INVALID;
    enter(t);
    pix2geo(t->info.geotransform, col, row, &gx, &gy);
    if (x)
        *x = gx;
    if (y)
        *y = gy;
    if (lon || lat) {
        if (!t->info.georeferenced) {
            set_err(t, "the scene is not georeferenced (opened with allow_pixel): no lon/lat");
            return leave(t, DUCH_INVALID);
        }
        if (to_lonlat(t, 1, &gx, &gy) != 0) {
            set_err(t, "pixel %g,%g cannot be transformed to EPSG:4326", col, row);
            add_gdal_reason(t);
            return leave(t, DUCH_ERROR);
        }
        if (lon)
            *lon = gx;
        if (lat)
            *lat = gy;
    }
    return leave(t, DUCH_OK);
}

/* ------------------------------------------------------------------ open: georeferencing */

/* Free the scene's CRS and its transformation to EPSG:4326 (none: pixel mode). */
static void drop_transform(duch_tiler *t)
{
    if (t->ct)
        OCTDestroyCoordinateTransformation(t->ct);
    if (t->srs)
        OSRDestroySpatialReference(t->srs);
    if (t->wgs84)
        OSRDestroySpatialReference(t->wgs84);
    t->ct = NULL;
    t->srs = t->wgs84 = NULL;
}

/* allow_pixel: tile in pixel space, no footprints. Keeps a usable geotransform for
 * duch_tiler_pixel_to_geo. */
static int pixel_mode(duch_tiler *t, int keep_gt)
{
    double *gt = t->info.geotransform;
    if (!keep_gt) {
        gt[0] = 0; gt[1] = 1; gt[2] = 0; gt[3] = 0; gt[4] = 0; gt[5] = 1;
    }
    drop_transform(t);
    free(t->crs_wkt);
    free(t->crs_name);
    t->info.georeferenced = 0;
    t->info.epsg = 0;
    t->info.pixel_x_m = t->info.pixel_y_m = 0;
    t->info.footprint_points = 0;
    t->crs_wkt = strdup("");
    t->crs_name = strdup("");
    return t->crs_wkt && t->crs_name ? DUCH_OK : DUCH_NOMEM;
}

static int setup_georef(duch_tiler *t)
{
    double *gt = t->info.geotransform;
    int has_gt = GDALGetGeoTransform(t->ds, gt) == CE_None;
    OGRSpatialReferenceH dsrs = GDALGetSpatialRef(t->ds);
    int ngcp = GDALGetGCPCount(t->ds);
    const char *why = NULL;
    char whybuf[160];

    if (!has_gt && ngcp > 0) {
        snprintf(whybuf, sizeof whybuf,
                 "has only ground control points (%d GCPs), no geotransform: warp it first "
                 "(gdalwarp)", ngcp);
        why = whybuf;
    } else if (!has_gt) {
        why = "has no geotransform (not georeferenced)";
    } else if (!dsrs) {
        why = "has a geotransform but no coordinate reference system";
    } else if (gt[1] * gt[5] - gt[2] * gt[4] == 0) {
        why = "has a degenerate geotransform";
    }
    if (why) {
        if (!t->o.allow_pixel) {
            set_err(t, "%s %s; it can only be tiled without footprints, in pixel space (allow_pixel)",
                    GDALGetDescription(t->ds), why);
            return DUCH_INVALID;
        }
        return pixel_mode(t, has_gt && gt[1] * gt[5] - gt[2] * gt[4] != 0);
    }

    t->info.georeferenced = 1;
    t->srs = OSRClone(dsrs);
    t->wgs84 = OSRNewSpatialReference(NULL);
    if (!t->srs || !t->wgs84)
        return DUCH_NOMEM;
    OSRSetAxisMappingStrategy(t->srs, OAMS_TRADITIONAL_GIS_ORDER);
    OSRImportFromEPSG(t->wgs84, 4326);
    OSRSetAxisMappingStrategy(t->wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    t->ct = OCTNewCoordinateTransformation(t->srs, t->wgs84);
    if (!t->ct) {
        if (t->o.allow_pixel) {
            add_warning(t, "no transformation from the scene's CRS to EPSG:4326: tiled in "
                           "pixel space, without footprints");
            return pixel_mode(t, 1);
        }
        set_err(t, "%s: no transformation from its CRS to EPSG:4326; it can only be tiled "
                   "without footprints, in pixel space (allow_pixel)", GDALGetDescription(t->ds));
        add_gdal_reason(t);
        return DUCH_INVALID;
    }

    char *wkt = NULL;
    const char *wkt_opts[] = {"FORMAT=WKT2_2019", NULL};
    if (OSRExportToWktEx(t->srs, &wkt, wkt_opts) != OGRERR_NONE || !wkt) {
        CPLFree(wkt);
        wkt = NULL;
        OSRExportToWkt(t->srs, &wkt);
    }
    t->crs_wkt = strdup(wkt ? wkt : "");
    CPLFree(wkt);
    t->crs_name = strdup(OSRGetName(t->srs) ? OSRGetName(t->srs) : "");
    if (!t->crs_wkt || !t->crs_name)
        return DUCH_NOMEM;
    const char *auth = OSRGetAuthorityName(t->srs, NULL);
    const char *code = OSRGetAuthorityCode(t->srs, NULL);
    if (auth && code && strcasecmp(auth, "EPSG") == 0)
        t->info.epsg = atoi(code);

    /* ground size of a pixel */
    double cx = t->W / 2.0, cy = t->H / 2.0, X[3], Y[3];
    pix2geo(gt, cx, cy, &X[0], &Y[0]);
    pix2geo(gt, cx + 1, cy, &X[1], &Y[1]);
    pix2geo(gt, cx, cy + 1, &X[2], &Y[2]);
    double mx = 0, my = 0;
    if (to_lonlat(t, 3, X, Y) == 0) {
        double dl1 = X[1] - X[0], dl2 = X[2] - X[0];
        dl1 -= 360.0 * round(dl1 / 360.0);
        dl2 -= 360.0 * round(dl2 / 360.0);
        mx = ground_dist(X[0], Y[0], dl1, Y[1] - Y[0]);
        my = ground_dist(X[0], Y[0], dl2, Y[2] - Y[0]);
    }
    if (OSRIsProjected(t->srs) || (!OSRIsGeographic(t->srs) && OSRGetLinearUnits(t->srs, NULL) > 0)) {
        double u = OSRGetLinearUnits(t->srs, NULL);
        double nx = hypot(gt[1], gt[4]) * u, ny = hypot(gt[2], gt[5]) * u;
        /* Nominal size in the CRS's unit, unless the projection's scale at the centre
         * departs from it by more than 1 % (Mercator-like): then the measured size. */
        if (mx > 0 && my > 0 && (fabs(mx / nx - 1) > 0.01 || fabs(my / ny - 1) > 0.01)) {
            t->info.pixel_x_m = mx;
            t->info.pixel_y_m = my;
        } else {
            t->info.pixel_x_m = nx;
            t->info.pixel_y_m = ny;
        }
    } else {
        t->info.pixel_x_m = mx;
        t->info.pixel_y_m = my;
    }
    if (!(t->info.pixel_x_m > 0) || !(t->info.pixel_y_m > 0) || !isfinite(t->info.pixel_x_m) ||
        !isfinite(t->info.pixel_y_m)) {
        if (t->o.allow_pixel) {
            add_warning(t, "the scene centre cannot be mapped to EPSG:4326: tiled in pixel "
                           "space, without footprints");
            return pixel_mode(t, 1);
        }
        set_err(t, "%s: cannot measure the ground size of a pixel at the scene centre (it "
                   "does not map to EPSG:4326); it can only be tiled without footprints, in "
                   "pixel space (allow_pixel)", GDALGetDescription(t->ds));
        add_gdal_reason(t);
        return DUCH_INVALID;
    }

    /* scene footprint */
    int n = window_ring(t, 0, 0, t->W, t->H, SCENE_DENSIFY, t->info.footprint, t->info.bbox);
    if (n < 0) {
        add_warning(t, "the scene's outline cannot be transformed to EPSG:4326 everywhere; "
                       "no scene footprint");
        n = 0;
    }
    t->info.footprint_points = n;
    return DUCH_OK;
}

/* ------------------------------------------------------------------ open: grid */

static void setup_grid(duch_tiler *t)
{
    const duch_tiler_options *o = &t->o;
    if (o->tile_size_px > 0) {
        t->tile_w = t->tile_h = o->tile_size_px;
    } else if (t->info.georeferenced) {
        double fw = o->tile_ground_m / t->info.pixel_x_m, fh = o->tile_ground_m / t->info.pixel_y_m;
        /* 1e-6 keeps 78.03 / 0.3048 (= 256.0039) and friends on their integer */
        t->tile_w = fw < 1e9 ? (int)floor(fw + 0.5 + 1e-6) : 1000000000;
        t->tile_h = fh < 1e9 ? (int)floor(fh + 0.5 + 1e-6) : 1000000000;
        if (t->tile_w < o->min_tile_px || t->tile_h < o->min_tile_px) {
            add_warning(t,
                        "scene pixels of %.4g x %.4g m give %.3g x %.3g px tiles for %.4g m; "
                        "raised to the minimum of %d px",
                        t->info.pixel_x_m, t->info.pixel_y_m, fw, fh, o->tile_ground_m,
                        o->min_tile_px);
            if (t->tile_w < o->min_tile_px)
                t->tile_w = o->min_tile_px;
            if (t->tile_h < o->min_tile_px)
                t->tile_h = o->min_tile_px;
        }
    } else {
        t->tile_w = t->tile_h = o->out_size;
        add_warning(t, "the ground size of a pixel is unknown (not georeferenced): tiles of %d px",
                    o->out_size);
    }
    int ov = o->overlap_px;
    t->step_x = t->tile_w - ov;
    t->step_y = t->tile_h - ov;
    if (t->step_x < 1 || t->step_y < 1)
        return; /* the caller refuses it */
    t->cols = t->W <= t->tile_w ? 1 : (t->W - t->tile_w + t->step_x - 1) / t->step_x + 1;
    t->rows = t->H <= t->tile_h ? 1 : (t->H - t->tile_h + t->step_y - 1) / t->step_y + 1;
    t->out_size = o->out_size;

    double up = fmax((double)o->out_size / t->tile_w, (double)o->out_size / t->tile_h);
    if (o->coarse_warn > 0 && up > o->coarse_warn) {
        if (t->info.georeferenced)
            add_warning(t,
                        "scene much coarser than the model: %.4g m pixels, a tile is %d x %d "
                        "source px (%.4g x %.4g m) upsampled %.1fx to %d px",
                        t->info.pixel_x_m, t->tile_w, t->tile_h, t->tile_w * t->info.pixel_x_m,
                        t->tile_h * t->info.pixel_y_m, up, o->out_size);
        else
            add_warning(t, "tiles of %d x %d px are upsampled %.1fx to %d px", t->tile_w,
                        t->tile_h, up, o->out_size);
    }
}

/* ------------------------------------------------------------------ open: bands */

static int setup_bands(duch_tiler *t)
{
    const duch_tiler_options *o = &t->o;
    int nb = GDALGetRasterCount(t->ds);
    int sel[3] = {1, 1, 1}, n = 0;

    if (o->band_count) {
        for (int i = 0; i < o->band_count; i++) {
            if (o->bands[i] < 1 || o->bands[i] > nb) {
                set_err(t, "band %d does not exist: %s has %d band%s", o->bands[i],
                        GDALGetDescription(t->ds), nb, nb == 1 ? "" : "s");
                return DUCH_INVALID;
            }
            sel[i] = o->bands[i];
        }
        n = o->band_count;
    } else {
        int r = 0, g = 0, b = 0, plain[3], np = 0;
        for (int i = 1; i <= nb; i++) {
            GDALColorInterp ci = GDALGetRasterColorInterpretation(GDALGetRasterBand(t->ds, i));
            if (ci == GCI_RedBand && !r)
                r = i;
            else if (ci == GCI_GreenBand && !g)
                g = i;
            else if (ci == GCI_BlueBand && !b)
                b = i;
            if (ci != GCI_AlphaBand && np < 3)
                plain[np++] = i;
        }
        if (r && g && b) {
            sel[0] = r; sel[1] = g; sel[2] = b;
            n = 3;
        } else if (np >= 3) {
            memcpy(sel, plain, sizeof sel);
            n = 3;
        } else {
            sel[0] = np ? plain[0] : 1;
            n = 1;
        }
    }
    if (n == 1) {
        sel[1] = sel[2] = sel[0];
        GDALRasterBandH b = GDALGetRasterBand(t->ds, sel[0]);
        GDALColorTableH ct = GDALGetRasterColorTable(b);
        if (ct && GDALGetRasterColorInterpretation(b) == GCI_PaletteIndex &&
            GDALGetRasterDataType(b) == GDT_Byte) {
            t->palette = 1;
            int ne = GDALGetColorEntryCount(ct);
            for (int i = 0; i < 256; i++) {
                GDALColorEntry e = {0, 0, 0, 0};
                if (i < ne)
                    GDALGetColorEntryAsRGB(ct, i, &e);
                t->lut[i][0] = (unsigned char)e.c1;
                t->lut[i][1] = (unsigned char)e.c2;
                t->lut[i][2] = (unsigned char)e.c3;
            }
        }
    }
    memcpy(t->info.rgb_bands, sel, sizeof sel);
    t->info.palette = t->palette;
    t->nread = n == 1 ? 1 : 3;
    for (int i = 0; i < t->nread; i++) {
        t->band[i] = GDALGetRasterBand(t->ds, sel[i]);
        t->stretch[i] = !t->palette && GDALGetRasterDataType(t->band[i]) != GDT_Byte;
    }
    for (int i = 0; i < 3; i++)
        t->info.stretched[i] = t->stretch[i < t->nread ? i : 0];
    for (int i = 0; i < t->nread; i++) {
        /* (a floating-point band is never Byte, so it is stretched: read as Float32) */
        t->nan_check[i] = t->stretch[i] && GDALDataTypeIsFloating(GDALGetRasterDataType(t->band[i]));
        t->any_nan |= t->nan_check[i];
    }

    /* masks: none when every band is all-valid; one when the mask is per dataset (alpha,
     * internal mask); else each band's own (nodata) */
    int all_valid = 1, per_ds = 0;
    for (int i = 0; i < t->nread; i++) {
        int f = GDALGetMaskFlags(t->band[i]);
        if (!(f & GMF_ALL_VALID))
            all_valid = 0;
        if (f & GMF_PER_DATASET)
            per_ds = 1;
    }
    if (all_valid) {
        t->mask_mode = MASK_NONE;
    } else if (per_ds || t->nread == 1) {
        t->mask_mode = MASK_DATASET;
        t->nmask = 1;
        for (int i = 0; i < t->nread; i++)
            if (!(GDALGetMaskFlags(t->band[i]) & GMF_ALL_VALID)) {
                t->maskband[0] = GDALGetMaskBand(t->band[i]);
                break;
            }
    } else {
        t->mask_mode = MASK_PER_BAND;
        for (int i = 0; i < t->nread; i++)
            if (!(GDALGetMaskFlags(t->band[i]) & GMF_ALL_VALID))
                t->maskband[t->nmask++] = GDALGetMaskBand(t->band[i]);
    }
    snprintf(t->data_type, sizeof t->data_type, "%s",
             GDALGetDataTypeName(GDALGetRasterDataType(GDALGetRasterBand(t->ds, 1))));
    return DUCH_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile stretch of band i, from a sample of its values: a decimated read of at
 * most STRETCH_SAMPLE px on the long side when the band has overviews (GDAL serves it from
 * one) or is small; else, so as not to decode the whole scene at open, a grid of
 * STRETCH_GRID x STRETCH_GRID windows of STRETCH_WIN full-resolution pixels. */
#define STRETCH_GRID 8
#define STRETCH_WIN 64
static int setup_stretch(duch_tiler *t, int i)
{
    int windows = GDALGetOverviewCount(t->band[i]) == 0 && (double)t->W * t->H > 4.0 * 1024 * 1024;
    int sw = t->W, sh = t->H;
    if (windows) {
        sw = sh = STRETCH_GRID * STRETCH_WIN;
    } else {
        double f = fmax(t->W, t->H) / STRETCH_SAMPLE;
        if (f > 1) {
            sw = (int)ceil(t->W / f);
            sh = (int)ceil(t->H / f);
        }
    }
    size_t n = (size_t)sw * sh;
    double *v = malloc(n * sizeof *v);
    unsigned char *m = malloc(n);
    if (!v || !m) {
        free(v);
        free(m);
        return DUCH_NOMEM;
    }
    GDALRasterIOExtraArg ex;
    INIT_RASTERIO_EXTRA_ARG(ex);
    ex.eResampleAlg = GRIORA_NearestNeighbour;
    GDALRasterBandH mb = GDALGetMaskBand(t->band[i]);
    int bad = 0;
    if (!windows) {
        bad = GDALRasterIOEx(t->band[i], GF_Read, 0, 0, t->W, t->H, v, sw, sh, GDT_Float64, 0, 0,
                             &ex) != CE_None ||
              GDALRasterIOEx(mb, GF_Read, 0, 0, t->W, t->H, m, sw, sh, GDT_Byte, 0, 0, &ex) != CE_None;
    } else {
        /* (W, H > 2048 here, so the windows fit) */
        for (int gy = 0; gy < STRETCH_GRID && !bad; gy++)
            for (int gx = 0; gx < STRETCH_GRID && !bad; gx++) {
                int x = (int)((int64_t)(t->W - STRETCH_WIN) * (2 * gx + 1) / (2 * STRETCH_GRID));
                int y = (int)((int64_t)(t->H - STRETCH_WIN) * (2 * gy + 1) / (2 * STRETCH_GRID));
                size_t off = ((size_t)gy * STRETCH_GRID + gx) * STRETCH_WIN * STRETCH_WIN;
                bad = GDALRasterIO(t->band[i], GF_Read, x, y, STRETCH_WIN, STRETCH_WIN, v + off,
                                   STRETCH_WIN, STRETCH_WIN, GDT_Float64, 0, 0) != CE_None ||
                      GDALRasterIO(mb, GF_Read, x, y, STRETCH_WIN, STRETCH_WIN, m + off,
                                   STRETCH_WIN, STRETCH_WIN, GDT_Byte, 0, 0) != CE_None;
            }
    }
    if (bad) {
        free(v);
        free(m);
        set_err(t, "%s: reading band %d for its stretch failed", GDALGetDescription(t->ds),
                t->info.rgb_bands[i]);
        add_gdal_reason(t);
        return DUCH_IO;
    }
    size_t k = 0;
    for (size_t j = 0; j < n; j++)
        if (m[j] >= 128 && isfinite(v[j]))
            v[k++] = v[j];
    free(m);
    double lo = 0, hi = 255;
    if (k > 0) {
        qsort(v, k, sizeof *v, cmp_double);
        lo = v[(size_t)floor(t->o.stretch_low / 100.0 * (double)(k - 1) + 0.5)];
        hi = v[(size_t)floor(t->o.stretch_high / 100.0 * (double)(k - 1) + 0.5)];
    } else {
        add_warning(t, "band %d has no valid pixel in its overview sample", t->info.rgb_bands[i]);
    }
    free(v);
    if (!(hi > lo))
        hi = lo + 1;
    t->smin[i] = lo;
    t->sscale[i] = 255.0 / (hi - lo);
    t->info.stretch_min[i] = lo;
    t->info.stretch_max[i] = hi;
    return DUCH_OK;
}

/* ------------------------------------------------------------------ open: checksum */

static void h_i64(duch_sha256 *s, int64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    duch_sha256_update(s, b, 8);
}

static void h_f64(duch_sha256 *s, double d)
{
    int64_t v;
    if (d == 0)
        d = 0; /* -0 == 0 */
    memcpy(&v, &d, 8);
    h_i64(s, v);
}

static void h_str(duch_sha256 *s, const char *str)
{
    h_i64(s, (int64_t)strlen(str));
    duch_sha256_update(s, str, strlen(str));
}

static int setup_checksum(duch_tiler *t)
{
    duch_sha256 s;
    int nb = GDALGetRasterCount(t->ds);
    duch_sha256_init(&s);
    h_str(&s, "duch-scene-v1");
    h_i64(&s, t->W);
    h_i64(&s, t->H);
    h_i64(&s, nb);
    for (int b = 1; b <= nb; b++) {
        GDALRasterBandH band = GDALGetRasterBand(t->ds, b);
        int has = 0;
        double nd = GDALGetRasterNoDataValue(band, &has);
        h_i64(&s, GDALGetRasterDataType(band));
        h_i64(&s, has);
        h_f64(&s, has ? nd : 0);
    }
    h_i64(&s, t->info.georeferenced);
    if (t->info.georeferenced) {
        for (int i = 0; i < 6; i++)
            h_f64(&s, t->info.geotransform[i]);
        if (t->info.epsg) {
            char buf[32];
            snprintf(buf, sizeof buf, "EPSG:%d", t->info.epsg);
            h_str(&s, buf);
        } else {
            char *wkt1 = NULL;
            OSRExportToWkt(t->srs, &wkt1);
            h_str(&s, wkt1 ? wkt1 : "");
            CPLFree(wkt1);
        }
    }
    /* pixels: 3x3 windows of full-resolution pixels of every band, spread over the scene */
    int ww = t->W < CHECKSUM_WIN ? t->W : CHECKSUM_WIN, wh = t->H < CHECKSUM_WIN ? t->H : CHECKSUM_WIN;
    double *buf = malloc((size_t)ww * wh * sizeof *buf);
    if (!buf)
        return DUCH_NOMEM;
    for (int b = 1; b <= nb; b++) {
        GDALRasterBandH band = GDALGetRasterBand(t->ds, b);
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 3; i++) {
                int x = (int)((int64_t)(t->W - ww) * i / 2), y = (int)((int64_t)(t->H - wh) * j / 2);
                if (GDALRasterIO(band, GF_Read, x, y, ww, wh, buf, ww, wh, GDT_Float64, 0, 0) !=
                    CE_None) {
                    free(buf);
                    set_err(t, "%s: reading band %d at %d,%d failed", GDALGetDescription(t->ds), b,
                            x, y);
                    add_gdal_reason(t);
                    return DUCH_IO;
                }
                for (int k = 0; k < ww * wh; k++)
                    h_f64(&s, isnan(buf[k]) ? NAN : buf[k]);
            }
    }
    free(buf);
    unsigned char d[32];
    duch_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        snprintf(t->info.checksum + 2 * i, 3, "%02x", d[i]);
    return DUCH_OK;
}

/* ------------------------------------------------------------------ open: buffers */

static int setup_buffers(duch_tiler *t)
{
    int os = t->out_size;
    size_t per_px = (size_t)(t->palette ? 3 : t->nread) +
                    (size_t)(t->mask_mode || t->any_nan ? 1 : 0) +
                    (t->mask_mode == MASK_PER_BAND ? 1 : 0);
    int any_stretch = t->stretch[0] || t->stretch[1] || t->stretch[2];
    if (any_stretch)
        per_px += sizeof(float);

    /* tiles per chunk: several only when the step is a whole number of output pixels */
    long long num = (long long)t->step_x * os;
    int exact = num % t->tile_w == 0;
    t->step_out_x = exact ? (int)(num / t->tile_w) : 0;
    int k = 1;
    if (exact && t->step_out_x > 0 && t->cols > 1) {
        size_t max_w = t->o.max_memory / ((size_t)os * per_px);
        if (max_w > (size_t)os)
            k = 1 + (int)((max_w - (size_t)os) / (size_t)t->step_out_x);
        if (k > t->cols)
            k = t->cols;
        if (k < 1)
            k = 1;
        /* a row cut in several chunks: end chunks on a block boundary when that costs at
         * most half the chunk */
        int bw = 0, bh = 0;
        GDALGetBlockSize(t->band[0], &bw, &bh);
        if (k < t->cols && bw > 0) {
            for (int k2 = k; k2 >= 1 && 2 * k2 >= k; k2--)
                if ((long long)k2 * t->step_x % bw == 0) {
                    k = k2;
                    break;
                }
        }
    }
    t->chunk_tiles = k;
    size_t cw = k > 1 ? (size_t)(k - 1) * t->step_out_x + os : (size_t)os;
    t->plane_px = cw * os;
    int np = t->palette ? 3 : t->nread;
    for (int i = 0; i < np; i++)
        if (!(t->plane[i] = malloc(t->plane_px)))
            return DUCH_NOMEM;
    if ((t->mask_mode || t->any_nan) && !(t->mask = malloc(t->plane_px)))
        return DUCH_NOMEM;
    if (t->mask_mode == MASK_PER_BAND && !(t->mtmp = malloc(t->plane_px)))
        return DUCH_NOMEM;
    if (any_stretch && !(t->ftmp = malloc(t->plane_px * sizeof(float))))
        return DUCH_NOMEM;
    if (!(t->rgb = malloc((size_t)os * os * 3)))
        return DUCH_NOMEM;
    t->bytes_now = t->plane_px * per_px + (size_t)os * os * 3;
    size_t one_tile = (size_t)os * os * (per_px + 3);
    t->bytes_bound = (t->o.max_memory > one_tile ? t->o.max_memory : one_tile) + (size_t)os * os * 3;
    return DUCH_OK;
}

/* ------------------------------------------------------------------ open / close */

/* Everything after the dataset is open (t->ds set). */
static int setup(duch_tiler *t, const char *name)
{
    int rc;
    t->W = GDALGetRasterXSize(t->ds);
    t->H = GDALGetRasterYSize(t->ds);
    if (GDALGetRasterCount(t->ds) < 1 || t->W < 1 || t->H < 1) {
        char **sub = GDALGetMetadata(t->ds, "SUBDATASETS");
        int nsub = CSLCount(sub) / 2;
        if (nsub > 0)
            set_err(t, "%s has no raster band of its own but %d subdatasets; tile one of them, "
                       "e.g. %s", name, nsub, CPLParseNameValue(sub[0], NULL));
        else
            set_err(t, "%s has no raster band", name);
        return DUCH_INVALID;
    }
    snprintf(t->driver, sizeof t->driver, "%s", GDALGetDriverShortName(GDALGetDatasetDriver(t->ds)));

    if ((rc = setup_georef(t)) != DUCH_OK)
        return rc;
    if (t->o.tile_size_px > 0 && t->o.overlap_px >= t->o.tile_size_px) {
        set_err(t, "overlap %d px must be smaller than the tile (%d px)", t->o.overlap_px,
                t->o.tile_size_px);
        return DUCH_INVALID;
    }
    setup_grid(t);
    if (t->step_x < 1 || t->step_y < 1) {
        set_err(t, "overlap %d px must be smaller than the tile (%d x %d px)", t->o.overlap_px,
                t->tile_w, t->tile_h);
        return DUCH_INVALID;
    }
    if ((rc = setup_bands(t)) != DUCH_OK)
        return rc;
    for (int i = 0; i < t->nread; i++)
        if (t->stretch[i] && (rc = setup_stretch(t, i)) != DUCH_OK)
            return rc;
    for (int i = t->nread; i < 3; i++) {
        t->info.stretch_min[i] = t->info.stretch_min[0];
        t->info.stretch_max[i] = t->info.stretch_max[0];
    }
    if ((rc = setup_checksum(t)) != DUCH_OK)
        return rc;

    /* resampling */
    if (t->palette) {
        t->alg = GRIORA_NearestNeighbour;
        snprintf(t->resampling_name, sizeof t->resampling_name, "nearest");
        if (t->o.resampling && strcasecmp(t->o.resampling, "nearest") != 0)
            add_warning(t, "palette band: resampling '%s' replaced by nearest", t->o.resampling);
    } else if (t->o.resampling) {
        for (size_t i = 0; i < sizeof resampling_names / sizeof resampling_names[0]; i++)
            if (strcasecmp(t->o.resampling, resampling_names[i].name) == 0) {
                t->alg = resampling_names[i].alg;
                snprintf(t->resampling_name, sizeof t->resampling_name, "%s",
                         resampling_names[i].name);
            }
    } else if (t->tile_w == t->out_size && t->tile_h == t->out_size) {
        t->alg = GRIORA_NearestNeighbour;
        snprintf(t->resampling_name, sizeof t->resampling_name, "none");
    } else if (t->tile_w >= t->out_size && t->tile_h >= t->out_size) {
        t->alg = GRIORA_Average;
        snprintf(t->resampling_name, sizeof t->resampling_name, "average");
    } else {
        t->alg = GRIORA_Bilinear;
        snprintf(t->resampling_name, sizeof t->resampling_name, "bilinear");
    }

    if ((rc = setup_buffers(t)) != DUCH_OK) {
        set_err(t, "out of memory for the strip buffers");
        return rc;
    }

    duch_scene_info *si = &t->info;
    si->width = t->W;
    si->height = t->H;
    si->band_count = GDALGetRasterCount(t->ds);
    si->data_type = t->data_type;
    si->driver = t->driver;
    si->crs_wkt = t->crs_wkt;
    si->crs_name = t->crs_name;
    si->tile_w = t->tile_w;
    si->tile_h = t->tile_h;
    si->step_x = t->step_x;
    si->step_y = t->step_y;
    si->overlap = t->o.overlap_px;
    si->cols = t->cols;
    si->rows = t->rows;
    si->tiles = (long long)t->cols * t->rows;
    si->out_size = t->out_size;
    si->resampling = t->resampling_name;
    return DUCH_OK;
}


static duch_tiler *new_tiler(const duch_tiler_options *opt)
{
    duch_tiler *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (opt)
        t->o = *opt;
    else
        duch_tiler_options_init(&t->o);
    return t;
}

/* Copy what the options point to and check them. */
static int take_options(duch_tiler *t)
{
    if (t->o.resampling) {
        if (!(t->resampling_copy = strdup(t->o.resampling)))
            return DUCH_NOMEM;
        t->o.resampling = t->resampling_copy;
    }
    return check_options(t);
}

/* Both ways to open: a new handle (*out, even on failure), its options checked, then
 * body with GDAL's errors captured into the handle's message. */
static int open_with(const duch_tiler_options *opt, duch_tiler **out,
                     int (*body)(duch_tiler *, const void *), const void *arg)
{
    duch_tiler *t = new_tiler(opt);
    *out = t;
    if (!t)
        return DUCH_NOMEM;
    enter(t);
    int rc = take_options(t);
    if (rc == DUCH_OK)
        rc = body(t, arg);
    return leave(t, rc);
}

/* The opening of a raster path, under enter(): see duch_tiler_open. */
static int open_path(duch_tiler *t, const void *arg)
{
    const char *path = arg;
    if (!path || !*path) {
        set_err(t, "no raster path given");
        return DUCH_INVALID;
    }
    /* Only regular files: GDAL would block forever reading a FIFO (or a terminal), and a
     * device or a directory is no scene. GDAL virtual paths (/vsi...) and connection
     * strings that are no local file (stat fails) are left to GDAL. */
    struct stat st;
    if (strncmp(path, "/vsi", 4) != 0 && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        const char *what = S_ISDIR(st.st_mode)    ? "a directory"
                           : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                                                  : "not a regular file";
        set_err(t, "%s is %s, not a regular file: give a raster file%s", path, what,
                S_ISDIR(st.st_mode) ? " (for a dataset stored as a folder, the file inside "
                                      "it or a GDAL connection string such as ZARR:\"dir\")"
                                    : "");
        return DUCH_INVALID;
    }
    if (GDALGetDriverCount() == 0)
        GDALAllRegister();

    t->ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, NULL,
                       NULL, NULL);
    if (!t->ds) {
        VSIStatBufL st;
        int exists = VSIStatExL(path, &st, VSI_STAT_EXISTS_FLAG) == 0;
        set_err(t, exists ? "%s: not a raster GDAL can read" : "%s: no such file", path);
        if (exists)
            add_gdal_reason(t);
        return exists ? DUCH_IO : DUCH_NOTFOUND;
    }
    return setup(t, path);
}

/* The taking of a caller's dataset, under enter(): see duch_tiler_open_gdal. */
static int open_dataset(duch_tiler *t, const void *dataset)
{
    if (!dataset) {
        set_err(t, "no GDAL dataset given");
        return DUCH_INVALID;
    }
    t->ds = (GDALDatasetH)dataset;
    t->borrowed = 1;
    const char *name = GDALGetDescription(t->ds);
    return setup(t, name && *name ? name : "(dataset)");
}

int duch_tiler_open(const char *path, const duch_tiler_options *opt, duch_tiler **out)
{
    return open_with(opt, out, open_path, path);
}

int duch_tiler_open_gdal(void *dataset, const duch_tiler_options *opt, duch_tiler **out)
{
    return open_with(opt, out, open_dataset, dataset);
}

void duch_tiler_close(duch_tiler *t)
{
    if (!t)
        return;
    if (t->ds && !t->borrowed) {
        CPLPushErrorHandler(CPLQuietErrorHandler);
        GDALClose(t->ds);
        CPLPopErrorHandler();
    }
    drop_transform(t);
    for (int i = 0; i < 3; i++)
        free(t->plane[i]);
    free(t->mask);
    free(t->mtmp);
    free(t->ftmp);
    free(t->rgb);
    free(t->crs_wkt);
    free(t->crs_name);
    free(t->resampling_copy);
    for (int i = 0; i < t->nwarn; i++)
        free(t->warn[i]);
    free(t);
}

const char *duch_tiler_errmsg(const duch_tiler *t)
{
    return t ? t->err : "out of memory";
}

int duch_tiler_warning_count(const duch_tiler *t)
{
    return t ? t->nwarn : 0;
}

const char *duch_tiler_warning(const duch_tiler *t, int i)
{
    return t && i >= 0 && i < t->nwarn ? t->warn[i] : NULL;
}

const duch_scene_info *duch_tiler_info(const duch_tiler *t)
{
    return t && t->rgb ? &t->info : NULL;
}

void duch_tiler_buffer_bytes(const duch_tiler *t, size_t *now, size_t *bound)
{
    if (now)
        *now = t ? t->bytes_now : 0;
    if (bound)
        *bound = t ? t->bytes_bound : 0;
}

double duch_tiler_progress(const duch_tiler *t)
{
    if (!t || !t->rgb)
        return 0;
    long long n = (long long)t->cols * t->rows;
    return n ? (double)t->visited / (double)n : 1.0;
}

int duch_tiler_tile_window(const duch_tiler *t, int col, int row, int *x_off, int *y_off,
                           int *width, int *height)
{
    if (!t || !t->rgb || col < 0 || row < 0 || col >= t->cols || row >= t->rows)
        return DUCH_INVALID;
    int x = col * t->step_x, y = row * t->step_y;
    if (x_off)
        *x_off = x;
    if (y_off)
        *y_off = y;
    if (width)
        *width = x + t->tile_w <= t->W ? t->tile_w : t->W - x;
    if (height)
        *height = y + t->tile_h <= t->H ? t->tile_h : t->H - y;
    return DUCH_OK;
}

int duch_tiler_rewind(duch_tiler *t)
{
    if (!t || !t->rgb)
        return DUCH_INVALID;
    t->row = t->col = 0;
    t->chunk_loaded = 0;
    t->visited = t->kept = t->skipped = 0;
    t->started = 0;
    t->err[0] = 0;
    return DUCH_OK;
}

int duch_tiler_skip_past(duch_tiler *t, int x_off, int y_off)
{
    if (!t || !t->rgb)
        return DUCH_INVALID;
    t->err[0] = 0;
    if (t->started) {
        set_err(t, "duch_tiler_skip_past: tiles were already read; call it before the first "
                   "duch_tiler_next*() (or after duch_tiler_rewind())");
        return DUCH_INVALID;
    }
    if (x_off < 0 || y_off < 0 || x_off % t->step_x != 0 || y_off % t->step_y != 0 ||
        x_off / t->step_x >= t->cols || y_off / t->step_y >= t->rows) {
        set_err(t, "duch_tiler_skip_past: %d,%d is not the offset of a tile of the grid (tiles "
                   "start at multiples of %d,%d; %d x %d tiles)",
                x_off, y_off, t->step_x, t->step_y, t->cols, t->rows);
        return DUCH_INVALID;
    }
    int col = x_off / t->step_x, row = y_off / t->step_y;
    t->row = row;
    t->col = col + 1;
    if (t->col == t->cols) {
        t->col = 0;
        t->row++;
    }
    t->chunk_loaded = 0;
    t->visited = (long long)row * t->cols + col + 1;
    t->kept = t->skipped = 0;
    return DUCH_OK;
}

/* ------------------------------------------------------------------ reading */

/* Read source window (x0, y0, w, h) into ow x oh planes: p[0..2] (p[1], p[2] unused for
 * gray) and the combined mask m (NULL when every pixel is valid): the minimum of the masks
 * read (nodata, alpha, mask band), 0 where a floating-point band's sample is NaN or
 * +-Inf. */
static int read_planes(duch_tiler *t, int x0, int y0, int w, int h, int ow, int oh,
                       unsigned char **p, unsigned char *m, unsigned char *mtmp, float *ftmp)
{
    GDALRasterIOExtraArg ex;
    INIT_RASTERIO_EXTRA_ARG(ex);
    ex.eResampleAlg = t->alg;
    size_t n = (size_t)ow * oh;
    if (m && t->nmask == 0)
        memset(m, 255, n); /* no mask band: valid unless a sample is not finite */
    for (int i = 0; m && i < t->nmask; i++) {
        unsigned char *dst = i == 0 ? m : mtmp;
        if (GDALRasterIOEx(t->maskband[i], GF_Read, x0, y0, w, h, dst, ow, oh, GDT_Byte, 0, 0,
                           &ex) != CE_None) {
            set_err(t, "%s: reading the mask, window %d,%d %dx%d failed",
                    GDALGetDescription(t->ds), x0, y0, w, h);
            add_gdal_reason(t);
            return DUCH_IO;
        }
        if (i > 0)
            for (size_t k = 0; k < n; k++)
                if (mtmp[k] < m[k])
                    m[k] = mtmp[k];
    }
    for (int i = 0; i < t->nread; i++) {
        CPLErr e;
        if (t->stretch[i]) {
            e = GDALRasterIOEx(t->band[i], GF_Read, x0, y0, w, h, ftmp, ow, oh, GDT_Float32, 0, 0, &ex);
            if (e == CE_None) {
                double lo = t->smin[i], sc = t->sscale[i];
                unsigned char *q = p[i];
                for (size_t k = 0; k < n; k++) {
                    double v = (ftmp[k] - lo) * sc + 0.5;
                    q[k] = !(v > 0) ? 0 : v >= 255 ? 255 : (unsigned char)v;
                }
                if (t->nan_check[i] && m)
                    for (size_t k = 0; k < n; k++)
                        if (!isfinite(ftmp[k]))
                            m[k] = 0;
            }
        } else {
            e = GDALRasterIOEx(t->band[i], GF_Read, x0, y0, w, h, p[i], ow, oh, GDT_Byte, 0, 0, &ex);
        }
        if (e != CE_None) {
            set_err(t, "%s: reading band %d, window %d,%d %dx%d failed",
                    GDALGetDescription(t->ds), t->info.rgb_bands[i], x0, y0, w, h);
            add_gdal_reason(t);
            return DUCH_IO;
        }
    }
    if (t->palette) {
        for (size_t k = 0; k < n; k++) {
            const unsigned char *c = t->lut[p[0][k]];
            p[1][k] = c[1];
            p[2][k] = c[2];
            p[0][k] = c[0];
        }
    }
    return DUCH_OK;
}

/* Interleave the (sx, sy) w x h region of planes with row stride `stride` into rgb (row
 * stride 3 * rstride); invalid pixels become 0. Returns the summed validity (0..w*h). */
static double assemble(const duch_tiler *t, unsigned char *const *p, const unsigned char *m,
                       int stride, int sx, int w, int h, unsigned char *rgb, int rstride)
{
    const unsigned char *r = p[0], *g = t->nread == 3 || t->palette ? p[1] : p[0],
                        *b = t->nread == 3 || t->palette ? p[2] : p[0];
    double sum = 0;
    for (int y = 0; y < h; y++) {
        size_t s = (size_t)y * stride + sx;
        unsigned char *o = rgb + (size_t)y * rstride * 3;
        if (!m) {
            for (int x = 0; x < w; x++) {
                o[3 * x] = r[s + x];
                o[3 * x + 1] = g[s + x];
                o[3 * x + 2] = b[s + x];
            }
            sum += w;
            continue;
        }
        unsigned long row_sum = 0;
        for (int x = 0; x < w; x++) {
            unsigned char mv = m[s + x];
            row_sum += mv;
            if (mv >= 128) {
                o[3 * x] = r[s + x];
                o[3 * x + 1] = g[s + x];
                o[3 * x + 2] = b[s + x];
            } else {
                o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = 0;
            }
        }
        sum += row_sum / 255.0;
    }
    return sum;
}

static int out_len(int src, int tile, int os)
{
    if (src >= tile)
        return os;
    long v = lround((double)src * os / tile);
    return v < 1 ? 1 : v > os ? os : (int)v;
}

/* End (exclusive) of the chunk of a row that starts at column c0. */
static int chunk_end(const duch_tiler *t, int c0)
{
    int c1 = c0 + t->chunk_tiles;
    if (c1 > t->cols)
        c1 = t->cols;
    /* the clipped last tile of a row is read on its own */
    if (c1 - c0 > 1 && (c1 - 1) * t->step_x + t->tile_w > t->W)
        c1--;
    return c1;
}

/* Start of the chunk that holds column col in a run from the row's first tile: chunks
 * are always cut the same way, so a run resumed mid-row (duch_tiler_skip_past) reads
 * exactly the windows, and so the pixels, of a run from the start. */
static int chunk_start(const duch_tiler *t, int col)
{
    int c0 = t->chunk_tiles > 1 ? col / t->chunk_tiles * t->chunk_tiles : col;
    if (chunk_end(t, c0) <= col) /* only the clipped last tile: on its own */
        c0 = col;
    return c0;
}

static int load_chunk(duch_tiler *t, int row, int c0)
{
    int c1 = chunk_end(t, c0);
    int x0 = c0 * t->step_x, y0 = row * t->step_y;
    int x1 = (c1 - 1) * t->step_x + t->tile_w, y1 = y0 + t->tile_h;
    if (x1 > t->W)
        x1 = t->W;
    if (y1 > t->H)
        y1 = t->H;
    int ow = c1 - c0 > 1 ? (c1 - c0 - 1) * t->step_out_x + t->out_size
                         : out_len(x1 - x0, t->tile_w, t->out_size);
    int oh = out_len(y1 - y0, t->tile_h, t->out_size);
    t->chunk_loaded = 0;
    int rc = read_planes(t, x0, y0, x1 - x0, y1 - y0, ow, oh, t->plane, t->mask, t->mtmp, t->ftmp);
    if (rc != DUCH_OK)
        return rc;
    t->chunk_row = row;
    t->chunk_c0 = c0;
    t->chunk_c1 = c1;
    t->chunk_ow = ow;
    t->chunk_oh = oh;
    t->chunk_loaded = 1;
    return DUCH_OK;
}

static int next_tile(duch_tiler *t, duch_tile *tile, unsigned char *rgb)
{
    int os = t->out_size;
    while (t->row < t->rows) {
        int row = t->row, col = t->col;
        if (!t->chunk_loaded || t->chunk_row != row || col < t->chunk_c0 || col >= t->chunk_c1) {
            int rc = load_chunk(t, row, chunk_start(t, col));
            if (rc != DUCH_OK)
                return rc;
        }
        if (++t->col == t->cols) {
            t->col = 0;
            t->row++;
        }
        t->visited++;

        int x_off, y_off, w, h;
        duch_tiler_tile_window(t, col, row, &x_off, &y_off, &w, &h);
        int sx = t->chunk_c1 - t->chunk_c0 > 1 ? (col - t->chunk_c0) * t->step_out_x : 0;
        int rw = t->chunk_c1 - t->chunk_c0 > 1 ? os : t->chunk_ow, rh = t->chunk_oh;
        memset(rgb, 0, (size_t)os * os * 3);
        double sum = assemble(t, t->plane, t->mask, t->chunk_ow, sx, rw, rh, rgb, os);
        double valid = sum / ((double)os * os);
        if (valid <= 0 || valid < t->o.min_valid) {
            t->skipped++;
            continue;
        }
        t->kept++;
        tile->index = (long long)row * t->cols + col;
        tile->col = col;
        tile->row = row;
        tile->x_off = x_off;
        tile->y_off = y_off;
        tile->width = w;
        tile->height = h;
        tile->rgb = rgb;
        tile->rgb_size = os;
        tile->rgb_width = rw;
        tile->rgb_height = rh;
        tile->valid = valid > 1 ? 1 : valid;
        tile->ring_points = 0;
        memset(tile->bbox, 0, sizeof tile->bbox);
        if (t->info.georeferenced) {
            int n = window_ring(t, x_off, y_off, w, h, t->o.densify, tile->ring, tile->bbox);
            if (n < 0) {
                if (!t->footprint_warned)
                    add_warning(t, "some tile footprints cannot be transformed to EPSG:4326 "
                                   "(first: tile %d,%d); they have none", col, row);
                t->footprint_warned = 1;
                n = 0;
            }
            tile->ring_points = n;
        }
        tile->visited = t->visited;
        tile->kept = t->kept;
        tile->skipped = t->skipped;
        return DUCH_OK;
    }
    return DUCH_TILER_DONE;
}

int duch_tiler_next(duch_tiler *t, duch_tile *tile)
{
    if (!t || !tile || !t->rgb)
        return DUCH_INVALID;
    enter(t);
    t->started = 1;
    return leave(t, next_tile(t, tile, t->rgb));
}

int duch_tiler_next_into(duch_tiler *t, duch_tile *tile, unsigned char *rgb)
{
    if (!t || !tile || !rgb || !t->rgb)
        return DUCH_INVALID;
    enter(t);
    t->started = 1;
    return leave(t, next_tile(t, tile, rgb));
}

int duch_tiler_read_window(duch_tiler *t, int x_off, int y_off, int width, int height,
                           int out_w, int out_h, unsigned char *rgb, double *valid)
{
    if (!t || !t->rgb || !rgb)
        return DUCH_INVALID;
    enter(t);
    if (width < 1 || height < 1 || out_w < 1 || out_h < 1) {
        set_err(t, "window %dx%d -> %dx%d: sizes must be positive", width, height, out_w, out_h);
        return leave(t, DUCH_INVALID);
    }
    if (x_off < 0 || y_off < 0 || (long long)x_off + width > t->W ||
        (long long)y_off + height > t->H) {
        set_err(t, "window %d,%d %dx%d is not inside the raster (%dx%d pixels)", x_off, y_off,
                width, height, t->W, t->H);
        return leave(t, DUCH_INVALID);
    }
    size_t n = (size_t)out_w * out_h;
    unsigned char *p[3] = {NULL, NULL, NULL}, *m = NULL, *mt = NULL;
    float *f = NULL;
    int rc = DUCH_NOMEM;
    int np = t->palette ? 3 : t->nread;
    for (int i = 0; i < np; i++)
        if (!(p[i] = malloc(n)))
            goto finish;
    if ((t->mask_mode || t->any_nan) && !(m = malloc(n)))
        goto finish;
    if (t->mask_mode == MASK_PER_BAND && !(mt = malloc(n)))
        goto finish;
    if ((t->stretch[0] || t->stretch[1] || t->stretch[2]) && !(f = malloc(n * sizeof *f)))
        goto finish;
    GDALRIOResampleAlg keep = t->alg;
    if (!t->palette && !t->o.resampling)
        t->alg = width == out_w && height == out_h ? GRIORA_NearestNeighbour
                 : width >= out_w && height >= out_h ? GRIORA_Average
                                                     : GRIORA_Bilinear;
    rc = read_planes(t, x_off, y_off, width, height, out_w, out_h, p, m, mt, f);
    t->alg = keep;
    if (rc == DUCH_OK) {
        double sum = assemble(t, p, m, out_w, 0, out_w, out_h, rgb, out_w);
        if (valid)
            *valid = sum / (double)n;
        if (!(sum > 0)) {
            set_err(t, "window %d,%d %dx%d has no valid pixel (nodata, NaN, transparent or "
                       "masked everywhere)", x_off, y_off, width, height);
            rc = DUCH_INVALID;
        }
    }
finish:
    if (rc == DUCH_NOMEM)
        set_err(t, "out of memory reading a %dx%d window", out_w, out_h);
    for (int i = 0; i < 3; i++)
        free(p[i]);
    free(m);
    free(mt);
    free(f);
    return leave(t, rc);
}
