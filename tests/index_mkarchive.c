/* index_mkarchive: fixtures for the shell tests of index/ and sql/ (not a test itself).
 *
 *   index_mkarchive create ARCHIVE NTILES BITS        random codes, a stand-in model blob
 *   index_mkarchive create ARCHIVE NTILES - MODEL     the model's codes of synthetic tiles
 *   index_mkarchive train DIR [SENSES]                a tiny model: DIR/tiny.duchm (and
 *                                                     DIR/images, DIR/captions.json)
 *   index_mkarchive textcode MODEL TEXT               hex code of TEXT (model library)
 *   index_mkarchive info ARCHIVE                      duch_info_archive() (duch info)
 *
 * Tiles form a grid of 0.01 degree squares, 10 per row, from lon 10, lat 50; the first
 * half belongs to scene /data/scene_A.tif, the rest to /data/scene_B.tif. With a model,
 * tile i shows synthetic class i % 3 (red stripes, green checker, blue water). */
#include "config.h"
#include "duch_index.h"
#include "duch_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <jpeglib.h> /* after stdio.h: it uses FILE */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int duch_info_archive(const char *path); /* apps/cmd_info_archive.c */

/* apps/cli.c's, without its GDAL dependency */
void duch_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("duch: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define SIDE 32
static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void pixels(int cls, int idx, unsigned char *p)
{
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            unsigned char *q = p + (y * SIDE + x) * 3;
            int n = (int)(rnd() % 40);
            if (cls == 0) {
                int on = ((y + idx) / 4) % 2;
                q[0] = (unsigned char)(on ? 200 + n / 2 : 60 + n), q[1] = (unsigned char)(40 + n),
                q[2] = (unsigned char)(40 + n);
            } else if (cls == 1) {
                int on = (((x + idx) / 5) + (y / 5)) % 2;
                q[0] = (unsigned char)(30 + n), q[1] = (unsigned char)((on ? 210 : 90) - n / 2),
                q[2] = (unsigned char)(30 + n);
            } else {
                q[0] = (unsigned char)(20 + n), q[1] = (unsigned char)(60 + x + n),
                q[2] = (unsigned char)(150 + y + n / 2);
            }
        }
}

static const duch_model_api *api_or_die(void)
{
    char err[2048];
    const duch_model_api *api = duch_model_load(err, sizeof err);
    if (!api) {
        fprintf(stderr, "%s\n", err);
        exit(77);
    }
    return api;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static int create(const char *path, int ntiles, int bits, const char *model_path)
{
    const duch_model_api *api = NULL;
    duch_model *m = NULL;
    unsigned char *blob;
    size_t size;
    const char *id = "stand-in-model";
    static const char stand_in[] = "not a model: random codes for tests";
    if (model_path) {
        api = api_or_die();
        if (!(blob = slurp(model_path, &size)) || api->open_blob(blob, size, &m) != DUCH_OK) {
            fprintf(stderr, "cannot open model %s: %s\n", model_path, m ? api->errmsg(m) : "unreadable");
            return 1;
        }
        id = api->id(m);
        bits = api->bits(m);
    } else {
        blob = malloc(sizeof stand_in);
        memcpy(blob, stand_in, sizeof stand_in);
        size = sizeof stand_in;
    }
    duch_archive *a = NULL;
    int rc = duch_archive_open(path, DUCH_ARCHIVE_READWRITE | DUCH_ARCHIVE_CREATE, &a);
    if (!rc)
        rc = duch_archive_set_model(a, blob, size, id, bits);
    for (int s = 0; s < 2 && !rc; s++) {
        int first = s == 0 ? 0 : ntiles / 2, last = s == 0 ? ntiles / 2 : ntiles;
        double fp[8] = {10, 50 + first / 10 * 0.01, 10.1, 50 + first / 10 * 0.01, 10.1,
                        50 + (last + 9) / 10 * 0.01, 10, 50 + (last + 9) / 10 * 0.01};
        duch_scene_record sc = {s == 0 ? "/data/scene_A.tif" : "/data/scene_B.tif",
                                2560, 256 * ((last - first + 9) / 10 + 1), 3, "WGS 84",
                                {10, 1e-5, 0, 50, 0, -1e-5}, s == 0 ? "aaaa" : "bbbb", fp, 4, 256, 0};
        int64_t sid;
        rc = duch_archive_begin_scene(a, &sc, &sid);
        for (int i = first; i < last && !rc; i++) {
            unsigned char code[DUCH_CODE_MAX_BITS / 8];
            if (m) {
                static unsigned char rgb[SIDE * SIDE * 3];
                pixels(i % 3, i, rgb);
                const unsigned char *pp[1] = {rgb};
                int w = SIDE, h = SIDE;
                if (api->encode_images(m, 1, pp, &w, &h, code) != DUCH_OK) {
                    fprintf(stderr, "encode: %s\n", api->errmsg(m));
                    return 1;
                }
            } else {
                for (int j = 0; j < bits / 8; j++)
                    code[j] = (unsigned char)rnd();
            }
            double x = 10 + (i % 10) * 0.01, y = 50 + (i / 10) * 0.01;
            double ring[8] = {x, y, x + 0.01, y, x + 0.01, y + 0.01, x, y + 0.01};
            rc = duch_archive_add_tile(a, sid, (i % 10) * 256, (i / 10 - first / 10) * 256, 256,
                                       256, code, ring, 4, NULL);
        }
        if (!rc)
            rc = duch_archive_commit_scene(a);
    }
    if (rc)
        fprintf(stderr, "%s\n", duch_archive_errmsg(a));
    duch_archive_close(a);
    if (m)
        api->close(m);
    free(blob);
    return rc ? 1 : 0;
}

static int write_jpeg(const char *path, const unsigned char *rgb)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = SIDE;
    c.image_height = SIDE;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * SIDE * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f);
}

static int train(const char *dir, int wordnet_senses)
{
    static const char *caps[3][3] = {
        {"red stripes on a field", "a field of red stripes", "many red stripes"},
        {"a green checkerboard", "green squares in a grid", "many green squares"},
        {"blue water", "a calm blue lake", "the lake is blue"}};
    static const char *names[3] = {"stripes", "checker", "water"};
    const duch_model_api *api = api_or_die();
    char path[1024];
    snprintf(path, sizeof path, "%s/images", dir);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/captions.json", dir);
    FILE *cj = fopen(path, "w");
    if (!cj)
        return 1;
    fprintf(cj, "{\"images\":[\n");
    for (int id = 0; id < 24; id++) {
        static unsigned char rgb[SIDE * SIDE * 3];
        int c = id % 3;
        pixels(c, id, rgb);
        snprintf(path, sizeof path, "%s/images/%d.jpg", dir, id);
        if (write_jpeg(path, rgb))
            return 1;
        const char *split = id < 6 ? "query" : id < 12 ? "retrieval" : "train";
        fprintf(cj, "%s{\"filename\":\"%d.jpg\",\"imgid\":%d,\"class\":\"%s\",\"split\":\"%s\","
                    "\"sentences\":[", id ? "," : "", id, id, names[c], split);
        for (int s = 0; s < 3; s++)
            fprintf(cj, "%s{\"raw\":\"%s\",\"tokens\":[]}", s ? "," : "", caps[c][(s + id) % 3]);
        fprintf(cj, "]}\n");
    }
    fprintf(cj, "]}\n");
    fclose(cj);
    char out[1024], err[512];
    snprintf(out, sizeof out, "%s/tiny.duchm", dir);
    duch_train_options o;
    api->train_options_init(&o);
    o.data_dir = dir;
    o.output = out;
    o.bits = 16;
    o.splits = 7;
    o.epochs = 3;
    o.batch_size = 12;
    o.input_size = 16;
    o.width = 4;
    o.text_dim = 8;
    o.threads = 2;
    o.seed = 3;
    o.tile_ground_m = 10;
    o.wordnet_senses = wordnet_senses; /* 0: the tiny model knows its captions' words only */
    if (api->train(&o, NULL, NULL, err, sizeof err) != DUCH_OK) {
        fprintf(stderr, "train: %s\n", err);
        return 1;
    }
    return 0;
}

static int textcode(const char *model, const char *text)
{
    const duch_model_api *api = api_or_die();
    duch_model *m = NULL;
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
    const char *t[1] = {text};
    if (api->open(model, &m) != DUCH_OK || api->encode_texts(m, 1, t, code) != DUCH_OK) {
        fprintf(stderr, "%s\n", m ? api->errmsg(m) : "out of memory");
        api->close(m);
        return 1;
    }
    for (int i = 0; i < api->bits(m) / 8; i++)
        printf("%02X", code[i]);
    printf("\n");
    api->close(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "create"))
        return create(argv[2], atoi(argv[3]), strcmp(argv[4], "-") ? atoi(argv[4]) : 0,
                      argc > 5 ? argv[5] : NULL);
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "train"))
        return train(argv[2], argc == 4 ? atoi(argv[3]) : 0);
    if (argc == 4 && !strcmp(argv[1], "textcode"))
        return textcode(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "info"))
        return duch_info_archive(argv[2]);
    fprintf(stderr, "usage: index_mkarchive create ARCHIVE NTILES BITS|- [MODEL] | train DIR [SENSES] |"
                    " textcode MODEL TEXT | info ARCHIVE\n");
    return 2;
}
