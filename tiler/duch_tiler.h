/*
 * duch_tiler.h: cut a georeferenced raster into 8-bit RGB tiles with EPSG:4326
 * footprints, streaming, in bounded memory (GDAL and PROJ inside).
 *
 * HOW IT IS USED
 *
 *   duch_tiler_options o;
 *   duch_tiler_options_init(&o);
 *   o.out_size = api->input_size(model);          // side of the RGB tiles handed out
 *   o.tile_ground_m = api->tile_ground_m(model);  // ground side of one tile (78.03 m UCM)
 *   duch_tiler *t;
 *   if (duch_tiler_open("scene.tif", &o, &t) != DUCH_OK) {
 *       fprintf(stderr, "%s\n", duch_tiler_errmsg(t));
 *       duch_tiler_close(t);
 *       return;
 *   }
 *   const duch_scene_info *si = duch_tiler_info(t);   // CRS, geotransform, grid, checksum
 *   duch_tile tile;
 *   int rc;
 *   while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
 *       // tile.rgb: out_size x out_size x 3 bytes, tile.ring: footprint lon/lat
 *   }
 *   if (rc != DUCH_TILER_DONE) fprintf(stderr, "%s\n", duch_tiler_errmsg(t));
 *   duch_tiler_close(t);
 *
 * The rules (grid, bands, stretch, validity, footprints, memory) are in docs/tiler.md.
 *
 * ERRORS follow sqlite3_open: duch_tiler_open always sets *out (NULL only when out of
 * memory); on failure the handle holds the message and must still be closed. Every
 * function returns a DUCH_* status (enum duch_status, model/duch_model.h) except where
 * said. GDAL errors raised during a call are captured into the message, never printed;
 * GDAL warnings become tiler warnings.
 *
 * THREADS: a tiler is used by one thread at a time; open one tiler per worker thread
 * (each has its own GDAL dataset handle and PROJ transformation). Different tilers may
 * run concurrently. Call GDALAllRegister() once before starting threads (duch_tiler_open
 * calls it when no driver is registered yet).
 *
 * OWNERSHIP: strings and arrays returned by the tiler are owned by it. Those of
 * duch_tiler_info() and duch_tiler_warning() live until duch_tiler_close();
 * duch_tiler_errmsg() until the next call on the handle; duch_tile.rgb from
 * duch_tiler_next() until the next duch_tiler_next*() or close.
 *
 * This header compiles as plain C99.
 */
#ifndef DUCH_TILER_H
#define DUCH_TILER_H

#include <stddef.h>

#include "duch_common.h" /* enum duch_status, duch_progress_fn */

#ifdef __cplusplus
extern "C" {
#endif

/* duch_tiler_next*() return value when every tile has been visited. Not an error, and
 * outside enum duch_status (like SQLITE_DONE). */
#define DUCH_TILER_DONE 100

/* Most footprint points a tile carries: 4 * DUCH_TILER_MAX_DENSIFY + 1 (closed ring). */
#define DUCH_TILER_MAX_DENSIFY 16
#define DUCH_TILER_MAX_RING (4 * DUCH_TILER_MAX_DENSIFY + 1)

typedef struct duch_tiler duch_tiler;

/* Called with each warning as it is raised (during duch_tiler_open too). msg is valid
 * during the call only. */
typedef void (*duch_tiler_warning_fn)(const char *msg, void *arg);

typedef struct duch_tiler_options {
    /* --- grid --- */
    double tile_ground_m;  /* ground side of a tile in metres (default 78.03, the UCM
                              training image); the model file records it */
    int tile_size_px;      /* > 0: tile side in source pixels, overrides tile_ground_m
                              (--tile-size); default 0 */
    int overlap_px;        /* overlap of neighbouring tiles in source pixels (--overlap),
                              0 <= overlap < tile side; default 0 */
    int min_tile_px;       /* floor on a tile side derived from tile_ground_m, so a very
                              coarse scene is not cut into 1-pixel tiles; default 32 */
    /* --- bands --- */
    int bands[3];          /* 1-based band numbers (--bands 3,2,1) */
    int band_count;        /* 0 = automatic (docs/tiler.md), 1 = one band replicated to
                              gray RGB, 3 = bands[0..2] as R,G,B; default 0 */
    double stretch_low;    /* percentiles of the stretch of non-Byte data (default 2, 98) */
    double stretch_high;
    /* --- validity --- */
    double min_valid;      /* tiles whose valid fraction is below this are skipped and
                              counted (--min-valid); default 0.5. A tile with no valid pixel
                              is always skipped. */
    int allow_pixel;       /* accept rasters without geotransform + CRS (or GCP-only):
                              tiles then have no footprint (--allow-pixel); default 0 */
    /* --- output --- */
    int out_size;          /* side in pixels of the RGB tiles handed out (the model's
                              input size); default 256 */
    const char *resampling;/* NULL (default) = automatic: none when the tile is read 1:1,
                              "average" when downsampling, "bilinear" when upsampling.
                              Else one of nearest, bilinear, cubic, cubicspline, lanczos,
                              average, mode, gauss. Copied at open. */
    int densify;           /* footprint points per tile side, 1..DUCH_TILER_MAX_DENSIFY
                              (default 4: ring of 17 points incl. closure) */
    /* --- resources and messages --- */
    size_t max_memory;     /* bytes for the strip buffers (default 64 MiB); see
                              duch_tiler_buffer_bytes() for the bound */
    double coarse_warn;    /* warn when tiles are upsampled by more than this factor,
                              i.e. the scene is much coarser than the model (default 2) */
    duch_tiler_warning_fn on_warning; /* may be NULL; warnings are also kept, see
                                         duch_tiler_warning() */
    void *warning_arg;
} duch_tiler_options;

/* Fill o with the defaults above. */
void duch_tiler_options_init(duch_tiler_options *o);

/* What the tiler knows about the scene and its grid. Owned by the tiler. */
typedef struct duch_scene_info {
    /* the raster */
    int width, height;        /* pixels */
    int band_count;           /* bands in the file */
    const char *data_type;    /* GDAL name of band 1's type: "Byte", "UInt16", ... */
    const char *driver;       /* GDAL driver short name */
    int georeferenced;        /* 1: geotransform + CRS; 0: pixel mode (allow_pixel) */
    double geotransform[6];   /* GDAL convention: Xgeo = gt0 + col*gt1 + row*gt2,
                                 Ygeo = gt3 + col*gt4 + row*gt5 (col, row in pixels from
                                 the top-left corner); identity in pixel mode */
    const char *crs_wkt;      /* the scene's CRS as WKT2 (2019), "" in pixel mode */
    int epsg;                 /* EPSG code of the CRS when it has one, else 0 */
    const char *crs_name;     /* e.g. "WGS 84 / UTM zone 10N", "" in pixel mode */
    double pixel_x_m;         /* ground size of a pixel along a row / a column in metres */
    double pixel_y_m;         /* (0 when unknown: pixel mode) */
    char checksum[65];        /* scene identity: hex SHA-256 of size, types, nodata,
                                 geotransform, CRS and sampled pixels; independent of the
                                 path, the overviews, and the file's mtime (docs/tiler.md) */
    /* the scene's footprint in EPSG:4326 (lon, lat), densified, closed; 0 points in
       pixel mode */
    int footprint_points;
    double footprint[2 * (4 * 32 + 1)];
    double bbox[4];           /* min lon, min lat, max lon, max lat of the footprint */
    /* bands and scaling */
    int rgb_bands[3];         /* 1-based bands used as R, G, B (equal for gray) */
    int palette;              /* 1 when one palette band is expanded through its colour table */
    int stretched[3];         /* 1 when that band is stretched (non-Byte) */
    double stretch_min[3];    /* value mapped to 0 */
    double stretch_max[3];    /* value mapped to 255 */
    /* the grid (source pixels) */
    int tile_w, tile_h;       /* tile size (equal unless pixels are not square) */
    int step_x, step_y;       /* tile_w - overlap, tile_h - overlap */
    int overlap;
    int cols, rows;           /* tiles across and down; tile (c, r) starts at
                                 (c*step_x, r*step_y) and is clipped at the raster edge */
    long long tiles;          /* cols * rows */
    int out_size;             /* side of the RGB tiles handed out */
    const char *resampling;   /* the resampling used */
} duch_scene_info;

/* One tile. Everything but rgb is held by value, so tiles can be kept in an array (for
 * batching) while the tiler goes on. */
typedef struct duch_tile {
    long long index;          /* row * cols + col */
    int col, row;
    int x_off, y_off;         /* source window, pixels */
    int width, height;        /* clipped at the raster's right and bottom edges */
    const unsigned char *rgb; /* out_size * out_size * 3 bytes, RGBRGB..., row-major. An
                                 edge tile keeps the ground scale: its data fill the top-left
                                 rgb_width x rgb_height pixels and the rest is 0 (black).
                                 Invalid pixels (nodata, alpha, mask, NaN or +-Inf in a
                                 floating-point band) are 0. */
    int rgb_size;             /* = out_size: row stride is 3 * rgb_size bytes */
    int rgb_width, rgb_height;
    double valid;             /* valid fraction of the whole (unclipped) tile, 0..1 */
    int ring_points;          /* points in ring (closed: first == last); 0 in pixel mode */
    double ring[2 * DUCH_TILER_MAX_RING]; /* lon0, lat0, lon1, lat1, ... EPSG:4326 in
                                 traditional GIS order (longitude first). Continuous across
                                 the antimeridian: the first point is in [-180, 180) and
                                 the others may pass 180 or -180 (docs/tiler.md) */
    double bbox[4];           /* min lon, min lat, max lon, max lat of ring */
    /* counters, as of this tile */
    long long visited;        /* grid cells looked at so far, this one included */
    long long kept;           /* tiles returned so far, this one included */
    long long skipped;        /* tiles skipped so far as below min_valid */
} duch_tile;

/* Open a scene: any GDAL-readable raster, local path or /vsi... . Reads the metadata,
 * chooses bands, computes the stretch (non-Byte data) and the checksum; reads no tile yet.
 * opt may be NULL (defaults). *out is always set (NULL only when out of memory); on
 * failure it holds the message. A local path that exists but is not a regular file (FIFO,
 * socket, device, directory; symlinks are followed) is refused before GDAL sees it, so a
 * FIFO cannot block the open; paths starting with /vsi and GDAL connection strings that
 * are no local file are left to GDAL. Returns DUCH_OK, DUCH_NOTFOUND / DUCH_IO (cannot
 * open), DUCH_INVALID (bad option, not a regular file, refused raster: no geotransform,
 * GCP-only), DUCH_NOMEM. */
int duch_tiler_open(const char *path, const duch_tiler_options *opt, duch_tiler **out);

/* Same, on a raster the caller already has open: dataset is a GDALDatasetH (void * keeps
 * this header free of GDAL's). For the GDAL driver, whose CreateCopy gets a dataset that
 * may exist only in memory (a VRT made by gdal_translate -b/-srcwin...). The dataset stays
 * the caller's: duch_tiler_close() does not close it, it must outlive the tiler, and no
 * one else may use it while the tiler does. */
int duch_tiler_open_gdal(void *dataset, const duch_tiler_options *opt, duch_tiler **out);

/* Close the dataset (unless borrowed) and free everything. Accepts NULL. */
void duch_tiler_close(duch_tiler *t);

/* Last error message ("" when none). Never NULL, even for t == NULL ("out of memory"). */
const char *duch_tiler_errmsg(const duch_tiler *t);

/* Warnings raised so far (open included): count, and the i-th as text. */
int duch_tiler_warning_count(const duch_tiler *t);
const char *duch_tiler_warning(const duch_tiler *t, int i);

/* Scene and grid description; NULL if the open failed before it was known. */
const duch_scene_info *duch_tiler_info(const duch_tiler *t);

/* The next tile whose valid fraction reaches min_valid, in row-of-tiles order (left to
 * right, then top to bottom). Returns DUCH_OK with *tile filled, DUCH_TILER_DONE when the
 * grid is exhausted, or an error (read failure: the message says which window). tile->rgb
 * points into the tiler's buffer, valid until the next call. */
int duch_tiler_next(duch_tiler *t, duch_tile *tile);

/* Same, but the RGB pixels go to the caller's rgb (out_size * out_size * 3 bytes), and
 * tile->rgb points there. */
int duch_tiler_next_into(duch_tiler *t, duch_tile *tile, unsigned char *rgb);

/* Start the iteration again from the first tile (counters reset, a skip_past undone). */
int duch_tiler_rewind(duch_tiler *t);

/* Resume after the tile at source offset (x_off, y_off) (its duch_tile.x_off/y_off, e.g.
 * the last tile an interrupted run committed): the next duch_tiler_next*() returns the
 * first tile after it in grid order that a fresh tiler would return, and then the same
 * tiles as that run, byte for byte (same windows, pixels, valid fraction, footprint, index,
 * col, row; the chunks of the resumed row are cut as in a full run). Nothing is read by
 * this call, and the rows of tiles before the resumed one are never read. Counters:
 * tile.visited and duch_tiler_progress() count the grid cells up to and including
 * (x_off, y_off) as visited (progress starts at (index + 1) / tiles); tile.kept and
 * tile.skipped count only the tiles visited after the call (the tiles before the cut are
 * not looked at, so whether they were kept is unknown). Skipping past the last tile leaves
 * nothing: the next call returns DUCH_TILER_DONE. May be called only after open or
 * duch_tiler_rewind() and before the first duch_tiler_next*() (a second call before it
 * replaces the first); otherwise, or when (x_off, y_off) is not the offset of a grid cell
 * (multiples of step_x, step_y inside cols x rows), DUCH_INVALID with a message, and the
 * position is unchanged. Memory is bounded as in a full run. */
int duch_tiler_skip_past(duch_tiler *t, int x_off, int y_off);

/* Fraction of the grid visited so far, 0..1. */
double duch_tiler_progress(const duch_tiler *t);

/* Bytes held by the strip buffers now, and the bound they never exceed:
 * max(max_memory, the buffers of one tile). GDAL's own block cache (GDAL_CACHEMAX,
 * process-wide) comes on top. Either pointer may be NULL. */
void duch_tiler_buffer_bytes(const duch_tiler *t, size_t *now, size_t *bound);

/* Source window of grid cell (col, row), clipped at the raster's edges. */
int duch_tiler_tile_window(const duch_tiler *t, int col, int row, int *x_off, int *y_off,
                           int *width, int *height);

/* Footprint of any source-pixel window (fractional allowed) as a closed ring of
 * 4 * densify + 1 lon/lat points (densify 1..DUCH_TILER_MAX_DENSIFY), same rules as the
 * tiles'. ring gets 2 * (4 * densify + 1) doubles; bbox (may be NULL) 4. DUCH_INVALID in
 * pixel mode. */
int duch_tiler_footprint(duch_tiler *t, double x_off, double y_off, double width,
                         double height, int densify, double *ring, double *bbox);

/* Pixel (col, row) -> scene CRS coordinates (through the geotransform) and -> lon/lat
 * EPSG:4326. Either output pair may be NULL. DUCH_INVALID for lon/lat in pixel mode. */
int duch_tiler_pixel_to_geo(duch_tiler *t, double col, double row, double *x, double *y,
                            double *lon, double *lat);

/* Read any window of the scene as out_w x out_h 8-bit RGB (interleaved, row-major) with
 * the tiler's bands, stretch, resampling and validity rules; for query by example (the
 * window is stretched to out_w x out_h as given: keep the aspect if it matters). valid
 * (may be NULL) gets the valid fraction. DUCH_INVALID with a clear message for an empty
 * window, one not inside the raster, and a window without any valid pixel (all nodata,
 * NaN, transparent or masked: the message says "no valid pixel"; rgb is then all 0 and
 * *valid 0, and must not be used as a query). Does not disturb the iteration. */
int duch_tiler_read_window(duch_tiler *t, int x_off, int y_off, int width, int height,
                           int out_w, int out_h, unsigned char *rgb, double *valid);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_TILER_H */
