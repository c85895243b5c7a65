/* cmd_query.c: duch query — rank an archive's tiles by Hamming distance to a text, an
 * image or a code, and print / save / draw the hits. */
#include "config.h"
#include "cli.h"
#include "duch_index.h"
#include "duch_pipeline.h"
#include "duch_tiler.h"

#include <ctype.h>
#include <gdal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        "                    right, top to bottom)\n"
        "  --save NAME       also store the hits in the archive as table NAME with a\n"
        "                    registered POLYGON geometry (open it in QGIS as a layer)\n"
        "  -h, --help        this help\n");
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

/* A footprint ring as GeoJSON coordinates (null when none). */
static void ring_geojson(FILE *f, const double *ring, int n)
{
    if (!ring || n < 4) {
        fputs("null", f);
        return;
    }
    fputs("{\"type\":\"Polygon\",\"coordinates\":[[", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s[%.17g,%.17g]", i ? "," : "", ring[2 * i], ring[2 * i + 1]);
    fputs("]]}", f);
}

/* A footprint ring as WKT, quoted for CSV ("" when none). */
static void ring_wkt_csv(FILE *f, const double *ring, int n)
{
    fputc('"', f);
    if (ring && n >= 4) {
        fputs("POLYGON((", f);
        for (int i = 0; i < n; i++)
            fprintf(f, "%s%.17g %.17g", i ? "," : "", ring[2 * i], ring[2 * i + 1]);
        fputs("))", f);
    }
    fputc('"', f);
}

static void csv_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void print_hits(FILE *f, const duch_hits *h, const char *fmt)
{
    if (!strcmp(fmt, "csv")) {
        fprintf(f, "rank,distance,tile_id,scene_id,scene,x_off,y_off,width,height,footprint_wkt\n");
        for (int i = 0; i < h->n; i++) {
            const duch_search_hit *x = &h->hits[i];
            fprintf(f, "%d,%d,%lld,%lld,", x->rank, x->distance, (long long)x->tile_id,
                    (long long)x->scene_id);
            csv_str(f, x->scene_path);
            fprintf(f, ",%d,%d,%d,%d,", x->x_off, x->y_off, x->width, x->height);
            ring_wkt_csv(f, x->footprint, x->footprint_npoints);
            fputc('\n', f);
        }
    } else if (!strcmp(fmt, "geojson")) {
        fprintf(f, "{\"type\":\"FeatureCollection\",\"name\":\"duch_hits\",\"features\":[\n");
        for (int i = 0; i < h->n; i++) {
            const duch_search_hit *x = &h->hits[i];
            fprintf(f, "{\"type\":\"Feature\",\"properties\":{\"rank\":%d,\"distance\":%d,"
                       "\"tile_id\":%lld,\"scene_id\":%lld,\"scene\":",
                    x->rank, x->distance, (long long)x->tile_id, (long long)x->scene_id);
            duch_cli_json_str(f, x->scene_path);
            fprintf(f, ",\"x_off\":%d,\"y_off\":%d,\"width\":%d,\"height\":%d},\"geometry\":",
                    x->x_off, x->y_off, x->width, x->height);
            ring_geojson(f, x->footprint, x->footprint_npoints);
            fprintf(f, "}%s\n", i + 1 < h->n ? "," : "");
        }
        fprintf(f, "]}\n");
    } else {
        fprintf(f, "%4s %5s %9s  %-21s %s\n", "rank", "dist", "tile_id", "window", "scene");
        for (int i = 0; i < h->n; i++) {
            const duch_search_hit *x = &h->hits[i];
            char win[64];
            snprintf(win, sizeof win, "%d,%d %dx%d", x->x_off, x->y_off, x->width, x->height);
            fprintf(f, "%4d %5d %9lld  %-21s %s\n", x->rank, x->distance,
                    (long long)x->tile_id, win, x->scene_path ? x->scene_path : "");
        }
    }
}

/* Contact sheet: the hits' source windows, `cell` px each, `cols` across, as PNG. */
static int quicklook(const duch_hits *h, const char *png)
{
    const int cell = 160, gap = 4, cols = h->n < 5 ? (h->n > 0 ? h->n : 1) : 5;
    int rows = (h->n + cols - 1) / cols;
    if (rows < 1)
        rows = 1;
    int W = cols * cell + (cols + 1) * gap, H = rows * cell + (rows + 1) * gap;
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
        int ox = gap + (i % cols) * (cell + gap), oy = gap + (i / cols) * (cell + gap);
        for (int y = 0; y < cell; y++)
            memcpy(img + ((size_t)(oy + y) * W + ox) * 3, rgb + (size_t)y * cell * 3,
                   (size_t)cell * 3);
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
                                   x->footprint_npoints};
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

int duch_cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bbox", required_argument, NULL, 'b'},   {"format", required_argument, NULL, 'f'},
        {"image", required_argument, NULL, 'i'},  {"window", required_argument, NULL, 'w'},
        {"code", required_argument, NULL, 'c'},   {"quicklook", required_argument, NULL, 'Q'},
        {"save", required_argument, NULL, 's'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    duch_search_query q;
    memset(&q, 0, sizeof q);
    q.k = 10;
    const char *fmt = "text", *outpath = NULL, *png = NULL, *save = NULL, *hex = NULL;
    char why[300];
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:o:h", longopts, NULL)) != -1) {
        switch (c) {
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
    int rc = 0;
    FILE *f = stdout;
    if (outpath && !(f = fopen(outpath, "w"))) {
        duch_cli_error("cannot write %s", outpath);
        duch_hits_free(h);
        return 1;
    }
    print_hits(f, h, fmt);
    if (f != stdout && fclose(f) != 0) {
        duch_cli_error("error writing %s", outpath);
        rc = 1;
    }
    if (png && quicklook(h, png))
        rc = 1;
    if (save && save_hits(archive, save, h,
                          q.text ? q.text : q.image_path ? q.image_path : hex))
        rc = 1;
    duch_hits_free(h);
    return rc;
}
