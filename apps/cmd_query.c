/* cmd_query.c: duch query — rank an archive's tiles by Hamming distance to a text, an
 * image or a code, and print / save / draw the hits. */
#include "config.h"
#include "cli.h"
#include "duch_index.h"
#include "duch_pipeline.h"
#include "duch_tiler.h"

#include <ctype.h>
#include <errno.h>
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* below this confidence of the best hit, duch query says there is no good match */
#define DUCH_NO_GOOD_MATCH 0.5

static void usage(FILE *f)
{
    fprintf(f,
        "usage: duch query [options] ARCHIVE TEXT\n"
        "       duch query [options] ARCHIVE --image FILE [--window XOFF,YOFF,XSIZE,YSIZE]\n"
        "       duch query [options] ARCHIVE --code HEX\n"
        "\n"
        "Rank the tiles of ARCHIVE by Hamming distance to the code of a text query (or an\n"
        "image, or a code), with the model stored in the archive.\n"
        "\n"
        "options:\n"
        "  -k N              number of hits (default 10)\n"
        "  --bbox MINX,MINY,MAXX,MAXY  only tiles intersecting this lon/lat box (EPSG:4326)\n"
        "  --format FMT      text (default), csv or geojson\n"
        "  -o FILE           write the hits to FILE instead of standard output\n"
        "  --quicklook PNG   draw the hits' tiles as a contact sheet (rank order, left to\n"
        "                    right, top to bottom; rank, distance, confidence under each);\n"
        "                    with --heatmap or --regions, the heat map over the scene\n"
        "                    instead (downsampled to 1024 px, blue low to red high)\n"
        "  --heatmap TIF     write every tile's score as a georeferenced Float32 raster\n"
        "                    (Cloud-Optimized GeoTIFF) on the tile grid at its step; nodata\n"
        "                    -1 where no tile lies (docs/heatmap.md)\n"
        "  --scene S         the heat map / regions of one scene (scene_id or path) on its\n"
        "                    own grid and CRS; 'all': one of each per scene, named with its\n"
        "                    scene_id (heat.tif -> heat_3.tif); default: one raster over\n"
        "                    all the scenes\n"
        "  --combine HOW     cells that overlapping tiles share: mean (default) or max\n"
        "  --regions FILE    merge adjacent tiles scoring at least --region-min into\n"
        "                    polygons (.gpkg or .geojson, EPSG:4326): query, scene, tiles,\n"
        "                    best and mean score\n"
        "  --region-min S    the score for --regions (default 0.5 for a confidence, else\n"
        "                    the best score less 0.125)\n"
        "  --save NAME       also store the hits in the archive as table NAME with a\n"
        "                    registered POLYGON geometry (open it in QGIS as a layer)\n"
        "  --min-confidence C  only hits whose confidence is at least C (0..1)\n"
        "  -q, --quiet       no line on standard error about the words of TEXT that the\n"
        "                    model does not know and ignored, nor about a poor best hit\n"
        "  -h, --help        this help\n"
        "\n"
        "A text is searched for with the words of the model's vocabulary (duch info\n"
        "--vocabulary MODEL lists them); a word outside it that the model's alias table maps\n"
        "(plane -> airplane; phrases too: car park -> parking lot, trailer -> mobile home),\n"
        "or that is a spelling slip of a known word (airplnae) or of a long alias\n"
        "(neighbourhod), is taken for that word;\n"
        "other words are ignored. A line on standard error says what\n"
        "was mapped and ignored. The shipped model covers 16 UCM land-use classes (RGB\n"
        "aerial imagery, about 0.3-1.2 m per pixel) and knows 1307 words (the 290 of their\n"
        "captions and 1017 WordNet stand-ins) and 28185 aliases.\n"
        "\n"
        "The confidence of a hit of a text query (column conf) is the chance, 0 to 1, that\n"
        "it shows what the query asks for, as fitted on held-out images (docs/model.md,\n"
        "\"Confidence\"); it drops when few tiles come near the query. When the best hit's\n"
        "is below 0.5 a line on standard error says there is no good match.\n");
}

/* an option's number between 0 and 1; -1 after the message */
static int unit_option(const char *name, const char *arg, double *v)
{
    if (duch_cli_double(name, arg, v))
        return -1;
    if (!(*v >= 0 && *v <= 1)) {
        duch_cli_error("%s must be between 0 and 1, got '%s'", name, arg);
        return -1;
    }
    return 0;
}

static int parse_doubles(const char *s, double *v, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(s, &end);
        if (end == s)
            return -1;
        if (i < n - 1) {
            if (*end != ',')
                return -1;
            s = end + 1;
        } else if (*end)
            return -1;
    }
    return 0;
}

static void print_text(FILE *f, const duch_hits *h)
{
    fprintf(f, "%4s %5s %5s %9s  %-21s %s\n", "rank", "dist", "conf", "tile_id", "window", "scene");
    for (int i = 0; i < h->n; i++) {
        const duch_search_hit *x = &h->hits[i];
        char win[64], conf[16] = "    -";
        snprintf(win, sizeof win, "%d,%d %dx%d", x->x_off, x->y_off, x->width, x->height);
        if (x->confidence >= 0)
            snprintf(conf, sizeof conf, "%5.2f", x->confidence);
        fprintf(f, "%4d %5d %5s %9lld  %-21s %s\n", x->rank, x->distance, conf,
                (long long)x->tile_id, win, x->scene_path ? x->scene_path : "");
    }
}

/* The hits' fields as users see them in csv and geojson, in this order. */
static const struct {
    const char *name;
    OGRFieldType type;
} hit_fields[] = {
    {"rank", OFTInteger},       {"distance", OFTInteger}, {"confidence", OFTReal},
    {"tile_id", OFTInteger64},
    {"scene_id", OFTInteger64}, {"scene", OFTString},     {"x_off", OFTInteger},
    {"y_off", OFTInteger},      {"width", OFTInteger},    {"height", OFTInteger},
};
#define NHIT_FIELDS (int)(sizeof hit_fields / sizeof hit_fields[0])

/* A hit's footprint ring as an OGR polygon, or NULL when it has none. */
static OGRGeometryH ring_polygon(const duch_search_hit *x)
{
    if (!x->footprint || x->footprint_npoints < 4)
        return NULL;
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    OGRGeometryH poly = OGR_G_CreateGeometry(wkbPolygon);
    for (int i = 0; ring && i < x->footprint_npoints; i++)
        OGR_G_AddPoint_2D(ring, x->footprint[2 * i], x->footprint[2 * i + 1]);
    if (!ring || !poly || OGR_G_AddGeometryDirectly(poly, ring) != OGRERR_NONE) {
        OGR_G_DestroyGeometry(ring);
        OGR_G_DestroyGeometry(poly);
        return NULL;
    }
    return poly;
}

/* One feature of the hits layer: the fields, and the footprint as the geometry
 * (geojson) or as WKT in the field after them (csv). */
static int write_hit(OGRLayerH lyr, const duch_search_hit *x, int wkt_field)
{
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(lyr));
    if (!f)
        return -1;
    const long long v[NHIT_FIELDS] = {x->rank, x->distance, 0, (long long)x->tile_id,
                                      (long long)x->scene_id, 0, x->x_off, x->y_off,
                                      x->width, x->height};
    for (int i = 0; i < NHIT_FIELDS; i++) {
        if (hit_fields[i].type == OFTString)
            OGR_F_SetFieldString(f, i, x->scene_path ? x->scene_path : "");
        else if (hit_fields[i].type == OFTReal) {
            if (x->confidence >= 0)
                OGR_F_SetFieldDouble(f, i, x->confidence);
            else
                OGR_F_SetFieldNull(f, i);
        } else
            OGR_F_SetFieldInteger64(f, i, v[i]);
    }
    OGRGeometryH g = ring_polygon(x);
    if (g && wkt_field) {
        char *wkt = NULL;
        if (OGR_G_ExportToWkt(g, &wkt) == OGRERR_NONE)
            OGR_F_SetFieldString(f, NHIT_FIELDS, wkt);
        CPLFree(wkt);
        OGR_G_DestroyGeometry(g);
    } else if (g) {
        OGR_F_SetGeometryDirectly(f, g);
    }
    int rc = OGR_L_CreateFeature(lyr, f) == OGRERR_NONE ? 0 : -1;
    OGR_F_Destroy(f);
    return rc;
}

/* The hits as CSV or as RFC 7946 GeoJSON, written by OGR's drivers into path. CSV keeps
 * the columns of the hits layer in order, then the footprint as OGR's WKT in a column
 * footprint_wkt (GDAL 3.6's GEOMETRY=AS_WKT would put it first and name it WKT). */
static int write_hits_ogr_quiet(const duch_hits *h, int csv, const char *path);

/* ... with GDAL's messages kept for the caller's (CPLGetLastErrorMsg), not printed. */
static int write_hits_ogr(const duch_hits *h, int csv, const char *path)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    int rc = write_hits_ogr_quiet(h, csv, path);
    CPLPopErrorHandler();
    return rc;
}

static int write_hits_ogr_quiet(const duch_hits *h, int csv, const char *path)
{
    GDALDriverH drv = GDALGetDriverByName(csv ? "CSV" : "GeoJSON");
    if (!drv) {
        CPLError(CE_Failure, CPLE_AppDefined, "GDAL has no %s driver", csv ? "CSV" : "GeoJSON");
        return -1;
    }
    CPLErrorReset();
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds)
        return -1;
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    if (wgs84) {
        OSRImportFromEPSG(wgs84, 4326);
        OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    }
    char *csv_opts[] = {"STRING_QUOTING=IF_NEEDED", NULL}; /* numbers as numbers */
    char *json_opts[] = {"RFC7946=YES", NULL};
    OGRLayerH lyr = GDALDatasetCreateLayer(ds, "duch_hits", csv ? NULL : wgs84,
                                           csv ? wkbNone : wkbPolygon, csv ? csv_opts : json_opts);
    OSRRelease(wgs84);
    int rc = lyr ? 0 : -1;
    for (int i = 0; rc == 0 && i < NHIT_FIELDS + csv; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(i < NHIT_FIELDS ? hit_fields[i].name : "footprint_wkt",
                                          i < NHIT_FIELDS ? hit_fields[i].type : OFTString);
        rc = OGR_L_CreateField(lyr, fd, TRUE) == OGRERR_NONE ? 0 : -1;
        OGR_Fld_Destroy(fd);
    }
    for (int i = 0; rc == 0 && i < h->n; i++)
        rc = write_hit(lyr, &h->hits[i], csv);
    GDALClose(ds); /* void in GDAL 3.6: a failed flush shows as an error raised */
    if (CPLGetLastErrorType() >= CE_Failure)
        rc = -1;
    return rc;
}

/* Write the hits in fmt to outpath (NULL, "-" or /dev/stdout: standard output). A file is
 * written under a name beside it and renamed over it, so that an error leaves no half
 * result behind (and OGR's CSV driver sees a .csv name: another makes it a folder). */
static int write_hits(const duch_hits *h, const char *fmt, const char *outpath)
{
    int to_stdout = !outpath || !strcmp(outpath, "-") || !strcmp(outpath, "/dev/stdout");
    if (!strcmp(fmt, "text")) {
        FILE *f = to_stdout ? stdout : fopen(outpath, "w");
        if (!f) {
            duch_cli_error("cannot write %s: %s", outpath, strerror(errno));
            return -1;
        }
        print_text(f, h);
        if (f != stdout && fclose(f) != 0) {
            duch_cli_error("error writing %s", outpath);
            return -1;
        }
        return 0;
    }
    int csv = !strcmp(fmt, "csv");
    if (to_stdout) {
        fflush(stdout);
        if (write_hits_ogr(h, csv, "/vsistdout/")) {
            duch_cli_error("writing the hits as %s: %s", fmt, CPLGetLastErrorMsg());
            return -1;
        }
        return 0;
    }
    size_t len = strlen(outpath) + 48;
    char *tmp = malloc(len);
    if (!tmp) {
        duch_cli_error("out of memory");
        return -1;
    }
    if (duch_cli_not_regular(outpath)) { /* a device or a pipe: the file is made in the
                                            temporary folder */
        const char *td = getenv("TMPDIR");
        free(tmp);
        len = strlen(td && *td ? td : "/tmp") + 64;
        if (!(tmp = malloc(len))) {
            duch_cli_error("out of memory");
            return -1;
        }
        snprintf(tmp, len, "%s/duch_hits.%ld.%s", td && *td ? td : "/tmp", (long)getpid(),
                 csv ? "csv" : "geojson");
    } else {
        snprintf(tmp, len, "%s.part%ld.%s", outpath, (long)getpid(), csv ? "csv" : "geojson");
    }
    int rc = write_hits_ogr(h, csv, tmp);
    if (rc)
        duch_cli_error("cannot write %s: %s", outpath, CPLGetLastErrorMsg());
    else if (duch_cli_place_file(tmp, outpath) != 0)
        rc = -1;
    if (rc)
        VSIUnlink(tmp);
    free(tmp);
    return rc;
}

/* The contact sheet's labels: a 5x7 pixel font of the characters they use, one row per
 * byte (bit 4 is the left column). */
static const struct {
    char c;
    unsigned char row[7];
} glyphs[] = {
    {'0', {14, 17, 19, 21, 25, 17, 14}}, {'1', {4, 12, 4, 4, 4, 4, 14}},
    {'2', {14, 17, 1, 2, 4, 8, 31}},     {'3', {31, 2, 4, 2, 1, 17, 14}},
    {'4', {2, 6, 10, 18, 31, 2, 2}},     {'5', {31, 16, 30, 1, 1, 17, 14}},
    {'6', {6, 8, 16, 30, 17, 17, 14}},   {'7', {31, 1, 2, 4, 8, 8, 8}},
    {'8', {14, 17, 17, 14, 17, 17, 14}}, {'9', {14, 17, 17, 15, 1, 2, 12}},
    {'#', {10, 10, 31, 10, 31, 10, 10}}, {'d', {1, 1, 13, 19, 17, 17, 15}},
    {'=', {0, 0, 31, 0, 31, 0, 0}},      {'.', {0, 0, 0, 0, 0, 12, 12}},
    {'c', {0, 0, 14, 16, 16, 17, 14}},
};

/* text in black at (x, y) of the W-wide RGB image, each font pixel `scale` px */
static void draw_label(unsigned char *img, int W, int H, int x, int y, int scale, const char *text)
{
    for (; *text; text++, x += 6 * scale) {
        const unsigned char *rows = NULL;
        for (size_t g = 0; g < sizeof glyphs / sizeof *glyphs; g++)
            if (glyphs[g].c == *text)
                rows = glyphs[g].row;
        for (int r = 0; rows && r < 7 * scale; r++)
            for (int c = 0; c < 5 * scale; c++)
                if ((rows[r / scale] >> (4 - c / scale)) & 1 && x + c < W && y + r < H)
                    memset(img + ((size_t)(y + r) * W + x + c) * 3, 0, 3);
    }
}

/* Contact sheet: the hits' source windows, `cell` px each, `cols` across, each labelled
 * with its rank, Hamming distance and confidence when it has one ("#1 d=6 c=0.88"), as
 * PNG. */
static int quicklook(const duch_hits *h, const char *png)
{
    const int cell = 160, gap = 4, label = 20, cols = h->n < 5 ? (h->n > 0 ? h->n : 1) : 5;
    int rows = (h->n + cols - 1) / cols;
    if (rows < 1)
        rows = 1;
    int W = cols * cell + (cols + 1) * gap, H = rows * (cell + label) + (rows + 1) * gap;
    unsigned char *img = malloc((size_t)W * H * 3);
    unsigned char *rgb = malloc((size_t)cell * cell * 3);
    if (!img || !rgb) {
        free(img);
        free(rgb);
        duch_cli_error("out of memory");
        return -1;
    }
    memset(img, 255, (size_t)W * H * 3);
    for (int i = 0; i < h->n; i++) {
        const duch_search_hit *x = &h->hits[i];
        duch_tiler_options to;
        duch_tiler_options_init(&to);
        to.allow_pixel = 1;
        to.out_size = cell;
        duch_tiler *t = NULL;
        memset(rgb, 128, (size_t)cell * cell * 3);
        if (x->scene_path && duch_tiler_open(x->scene_path, &to, &t) == DUCH_OK) {
            if (duch_tiler_read_window(t, x->x_off, x->y_off, x->width, x->height, cell, cell,
                                       rgb, NULL) != DUCH_OK)
                fprintf(stderr, "duch: quicklook: %s\n", duch_tiler_errmsg(t));
        } else
            fprintf(stderr, "duch: quicklook: cannot read %s: %s\n",
                    x->scene_path ? x->scene_path : "?", duch_tiler_errmsg(t));
        duch_tiler_close(t);
        int ox = gap + (i % cols) * (cell + gap), oy = gap + (i / cols) * (cell + label + gap);
        for (int y = 0; y < cell; y++)
            memcpy(img + ((size_t)(oy + y) * W + ox) * 3, rgb + (size_t)y * cell * 3,
                   (size_t)cell * 3);
        char text[48];
        if (x->confidence >= 0)
            snprintf(text, sizeof text, "#%d d=%d c=%.2f", x->rank, x->distance, x->confidence);
        else
            snprintf(text, sizeof text, "#%d d=%d", x->rank, x->distance);
        /* 12 px per character; a label too long for its cell is drawn at half size */
        int big = (int)strlen(text) * 12 <= cell - 4;
        draw_label(img, W, H, ox + 2, oy + cell + (big ? 3 : 6), big ? 2 : 1, text);
    }
    free(rgb);
    GDALDriverH mem = GDALGetDriverByName("MEM"), pngd = GDALGetDriverByName("PNG");
    int rc = -1;
    if (mem && pngd) {
        GDALDatasetH ds = GDALCreate(mem, "", W, H, 3, GDT_Byte, NULL);
        if (ds) {
            int bandmap[3] = {1, 2, 3};
            if (GDALDatasetRasterIO(ds, GF_Write, 0, 0, W, H, img, W, H, GDT_Byte, 3, bandmap,
                                    3, (GSpacing)W * 3, 1) == CE_None) {
                GDALDatasetH out = GDALCreateCopy(pngd, png, ds, FALSE, NULL, NULL, NULL);
                if (out) {
                    GDALClose(out);
                    rc = 0;
                }
            }
            GDALClose(ds);
        }
    }
    free(img);
    if (rc)
        duch_cli_error("cannot write quicklook %s: %s", png, CPLGetLastErrorMsg());
    return rc;
}

/* Store the hits as table NAME (duch_archive_save_hits: only a result duch saved
 * itself is replaced). */
static int save_hits(const char *archive, const char *name, const duch_hits *h, const char *query)
{
    duch_archive *a = NULL;
    int rc = duch_archive_open(archive, DUCH_ARCHIVE_READWRITE, &a);
    duch_saved_hit *rows = rc == DUCH_OK ? calloc(h->n ? h->n : 1, sizeof *rows) : NULL;
    if (rc == DUCH_OK && !rows)
        rc = DUCH_NOMEM;
    for (int i = 0; rows && i < h->n; i++) {
        const duch_search_hit *x = &h->hits[i];
        rows[i] = (duch_saved_hit){x->rank, x->distance, x->tile_id, x->scene_id, x->scene_path,
                                   x->x_off, x->y_off, x->width, x->height, x->footprint,
                                   x->footprint_npoints, x->confidence};
    }
    if (rows)
        rc = duch_archive_save_hits(a, name, query, rows, h->n);
    if (rc != DUCH_OK)
        duch_cli_error("--save %s: %s", name,
                       rc == DUCH_NOMEM || !a ? "out of memory" : duch_archive_errmsg(a));
    free(rows);
    duch_archive_close(a);
    return rc == DUCH_OK ? 0 : -1;
}

/* The outputs of one heat map (the union, one scene, or one scene of --scene all) */
static int heat_write(const duch_heat *heat, const char *what, const char *tif,
                      const char *regions, double region_min, const char *png, int quiet)
{
    char err[4096];
    const duch_heat_info *in = duch_heat_get_info(heat);
    int rc = 0, nreg = 0;
    if (tif && duch_heat_write_raster(heat, tif, what, err, sizeof err) != DUCH_OK) {
        duch_cli_error("--heatmap: %s", err);
        rc = -1;
    } else if (tif && !quiet)
        fprintf(stderr, "duch: heat map %s: %d x %d cells of %s, %lld tiles of %d scene%s\n", tif,
                in->width, in->height, in->is_confidence ? "confidence" : "similarity", in->tiles,
                in->scenes, in->scenes == 1 ? "" : "s");
    if (rc == 0 && regions &&
        duch_heat_write_regions(heat, regions, what, region_min, &nreg, err, sizeof err) != DUCH_OK) {
        duch_cli_error("--regions: %s", err);
        rc = -1;
    } else if (rc == 0 && regions && !quiet)
        fprintf(stderr, "duch: %d region%s in %s\n", nreg, nreg == 1 ? "" : "s", regions);
    if (rc == 0 && png && duch_heat_write_overlay(heat, png, 0, err, sizeof err) != DUCH_OK) {
        duch_cli_error("--quicklook: %s", err);
        rc = -1;
    }
    return rc;
}

/* name with "_ID" before its extension (heat.tif -> heat_3.tif), malloc'ed */
static char *per_scene_name(const char *name, long long id)
{
    if (!name)
        return NULL;
    const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - name) : strlen(name);
    size_t n = strlen(name) + 32;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%.*s_%lld%s", (int)stem, name, id, name + stem);
    return s;
}

/* --heatmap, --regions and the heat map's --quicklook: every tile scored once; with
 * --scene all, the outputs of each scene apart, named with its scene_id */
static int heat_outputs(const char *archive, const duch_search_query *q,
                        const duch_heat_options *ho, const char *tif, const char *regions,
                        double region_min, const char *png, int quiet)
{
    duch_heat *heat = NULL;
    char err[4096];
    const char *what = q->text ? q->text : q->image_path ? q->image_path : "code";
    if (duch_heat_make(archive, q, ho, &heat, err, sizeof err) != DUCH_OK) {
        duch_cli_error("heat map: %s", err);
        return -1;
    }
    int rc = 0;
    if (!ho->scene || strcmp(ho->scene, "all"))
        rc = heat_write(heat, what, tif, regions, region_min, png, quiet);
    for (size_t i = 0; ho->scene && !strcmp(ho->scene, "all") && rc == 0 &&
                       i < duch_heat_scene_count(heat); i++) {
        duch_heat *one = NULL;
        if (duch_heat_scene(heat, i, &one, err, sizeof err) != DUCH_OK) {
            duch_cli_error("heat map: %s", err);
            rc = -1;
            break;
        }
        long long id = (long long)duch_heat_get_info(one)->scene_id;
        char *t = per_scene_name(tif, id), *r = per_scene_name(regions, id),
             *p = per_scene_name(png, id);
        if ((tif && !t) || (regions && !r) || (png && !p)) {
            duch_cli_error("out of memory");
            rc = -1;
        } else
            rc = heat_write(one, what, t, r, region_min, p, quiet);
        free(t);
        free(r);
        free(p);
        duch_heat_free(one);
    }
    duch_heat_free(heat);
    return rc;
}

int duch_cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bbox", required_argument, NULL, 'b'},   {"format", required_argument, NULL, 'f'},
        {"image", required_argument, NULL, 'i'},  {"window", required_argument, NULL, 'w'},
        {"code", required_argument, NULL, 'c'},   {"quicklook", required_argument, NULL, 'Q'},
        {"save", required_argument, NULL, 's'},   {"help", no_argument, NULL, 'h'},
        {"quiet", no_argument, NULL, 'q'},        {"min-confidence", required_argument, NULL, 'm'},
        {"heatmap", required_argument, NULL, 'H'}, {"scene", required_argument, NULL, 'S'},
        {"regions", required_argument, NULL, 'R'}, {"region-min", required_argument, NULL, 'r'},
        {"combine", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0}};
    const char *heatmap = NULL, *regions = NULL;
    double region_min = -1;
    duch_heat_options ho;
    duch_heat_options_init(&ho);
    double min_conf = -1;
    int quiet = 0;
    duch_search_query q;
    memset(&q, 0, sizeof q);
    q.k = 10;
    const char *fmt = "text", *outpath = NULL, *png = NULL, *save = NULL, *hex = NULL;
    char why[300];
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:o:hq", longopts, NULL)) != -1) {
        switch (c) {
        case 'q': quiet = 1; break;
        case 'k':
            if (duch_cli_int("-k", optarg, 1, 1000000, &v)) return 2;
            q.k = (int)v;
            break;
        case 'b':
            if (duch_bbox_parse(optarg, q.bbox, why, sizeof why) != DUCH_OK) {
                duch_cli_error("--bbox: %s", why);
                return 2;
            }
            q.has_bbox = 1;
            break;
        case 'f':
            if (strcmp(optarg, "text") && strcmp(optarg, "csv") && strcmp(optarg, "geojson")) {
                duch_cli_error("--format must be text, csv or geojson, got '%s'", optarg);
                return 2;
            }
            fmt = optarg;
            break;
        case 'o': outpath = optarg; break;
        case 'i': q.image_path = optarg; break;
        case 'w': {
            double w[4];
            if (parse_doubles(optarg, w, 4) || w[0] < 0 || w[1] < 0 || w[2] < 1 || w[3] < 1) {
                duch_cli_error("--window needs XOFF,YOFF,XSIZE,YSIZE in pixels, got '%s'", optarg);
                return 2;
            }
            q.image_xoff = (int)w[0]; q.image_yoff = (int)w[1];
            q.image_xsize = (int)w[2]; q.image_ysize = (int)w[3];
            break;
        }
        case 'c': hex = optarg; break;
        case 'Q': png = optarg; break;
        case 's':
            if (!duch_archive_save_name_valid(optarg)) {
                duch_cli_error("--save needs a table name of letters, digits and '_' that is "
                               "not one of the archive's own tables, got '%s'", optarg);
                return 2;
            }
            save = optarg;
            break;
        case 'm':
            if (unit_option("--min-confidence", optarg, &min_conf)) return 2;
            break;
        case 'H': heatmap = optarg; break;
        case 'S': ho.scene = optarg; break;
        case 'R': regions = optarg; break;
        case 'r':
            if (unit_option("--region-min", optarg, &region_min)) return 2;
            break;
        case 'C':
            if (strcmp(optarg, "mean") && strcmp(optarg, "max")) {
                duch_cli_error("--combine must be mean or max, got '%s'", optarg);
                return 2;
            }
            ho.combine_max = !strcmp(optarg, "max");
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int nargs = argc - optind;
    if (nargs < 1 || (q.image_path || hex ? nargs != 1 : nargs != 2) ||
        (q.image_path && hex)) {
        usage(stderr);
        return 2;
    }
    const char *archive = argv[optind];
    if ((ho.scene || region_min >= 0 || ho.combine_max) && !heatmap && !regions) {
        duch_cli_error("--scene, --combine and --region-min go with --heatmap or --regions");
        return 2;
    }
    if (regions && !strstr(regions, ".gpkg") && !strstr(regions, ".geojson") &&
        !strstr(regions, ".json")) {
        duch_cli_error("--regions writes a .gpkg or a .geojson file, got '%s'", regions);
        return 2;
    }
    if (hex) {
        size_t len = strlen(hex);
        if (len % 2 || len / 2 > sizeof code || len == 0) {
            duch_cli_error("--code needs an even number of hex digits (up to %zu bytes)", sizeof code);
            return 2;
        }
        for (size_t i = 0; i < len / 2; i++) {
            unsigned x;
            if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
                sscanf(hex + 2 * i, "%2x", &x) != 1) {
                duch_cli_error("--code: '%s' is not hexadecimal", hex);
                return 2;
            }
            code[i] = (unsigned char)x;
        }
        q.code = code;
        q.code_len = len / 2;
    } else if (!q.image_path)
        q.text = argv[optind + 1];
    duch_hits *h = NULL;
    char err[4096];
    if (duch_search(archive, &q, &h, err, sizeof err) != DUCH_OK) {
        duch_cli_error("%s", err);
        return 1;
    }
    if (h->text_summary && !quiet)
        fprintf(stderr, "duch: %s\n", h->text_summary);
    if (min_conf >= 0 && !h->has_confidence) {
        duch_cli_error("--min-confidence: %s", q.text ? "the archive's model has no confidence fit "
                       "(duch calibrate adds one; the shipped model has it)"
                       : "confidence is for text queries only");
        duch_hits_free(h);
        return 2;
    }
    if (h->has_confidence && h->n > 0 && h->hits[0].confidence < DUCH_NO_GOOD_MATCH && !quiet)
        fprintf(stderr, "duch: no good match: the best hit's confidence is %.2f (below %.1f); the "
                "archive may not hold what was asked for\n", h->hits[0].confidence,
                DUCH_NO_GOOD_MATCH);
    if (min_conf >= 0) { /* hits are in rank order; confidence falls with the distance */
        int keep = 0;
        for (int i = 0; i < h->n; i++)
            if (h->hits[i].confidence >= min_conf)
                h->hits[keep++] = h->hits[i];
            else {
                free(h->hits[i].scene_path);
                free(h->hits[i].footprint);
            }
        h->n = keep;
    }
    int rc = 0;
    if (write_hits(h, fmt, outpath)) {
        duch_hits_free(h);
        return 1;
    }
    if ((heatmap || regions) && heat_outputs(archive, &q, &ho, heatmap, regions, region_min, png,
                                             quiet))
        rc = 1;
    else if (png && !heatmap && !regions && quicklook(h, png))
        rc = 1;
    if (save && save_hits(archive, save, h,
                          q.text ? q.text : q.image_path ? q.image_path : hex))
        rc = 1;
    duch_hits_free(h);
    return rc;
}
