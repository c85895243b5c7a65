/* model_train: train a tiny DUCH model for a few epochs on tiny generated data (JPEGs
 * written with libjpeg, captions.json), then check: the loss falls; save/load/open_blob
 * give identical codes; encoding is deterministic; the tokenizer ignores case and
 * punctuation; unknown words are an error that says so; damaged, truncated and
 * future-version files fail with DUCH_CORRUPT / DUCH_VERSION; eval runs. */
#include "model_common.h"

#include <jpeglib.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define NCLS 3
#define PER 8
#define SIDE 40

static const char *caps[NCLS][5] = {
    {"Red stripes on a field.", "a field of red stripes", "red lines across the field",
     "many red stripes", "the field has red stripes"},
    {"A green checkerboard.", "green squares in a grid", "a grid of green squares",
     "green checker pattern", "many green squares"},
    {"Blue water with a gradient.", "a blue lake", "blue water surface", "the lake is blue",
     "calm blue water"}};

static unsigned rng_state = 12345;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) & 0x7fff;
}

static void make_pixels(int cls, int idx, unsigned char *p)
{
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            unsigned char *q = p + (y * SIDE + x) * 3;
            int n = (int)(rnd() % 40);
            if (cls == 0) { /* red stripes */
                int on = ((y + idx) / 4) % 2;
                q[0] = (unsigned char)(on ? 200 + n / 2 : 60 + n);
                q[1] = (unsigned char)(40 + n);
                q[2] = (unsigned char)(40 + n);
            } else if (cls == 1) { /* green checker */
                int on = (((x + idx) / 5) + (y / 5)) % 2;
                q[0] = (unsigned char)(30 + n);
                q[1] = (unsigned char)(on ? 210 : 90) - n / 2;
                q[2] = (unsigned char)(30 + n);
            } else { /* blue gradient */
                q[0] = (unsigned char)(20 + n);
                q[1] = (unsigned char)(60 + x + n);
                q[2] = (unsigned char)(150 + y + n / 2);
            }
        }
}

static int write_jpeg(const char *path, const unsigned char *rgb, int w, int h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f);
}

static int spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(b, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static unsigned char pixels[NCLS * PER][SIDE * SIDE * 3];

/* Encode all test images; returns codes (malloc). */
static unsigned char *encode_all(const duch_model_api *api, duch_model *m)
{
    int n = NCLS * PER, nb = api->bits(m) / 8;
    const unsigned char *ptr[NCLS * PER];
    int ws[NCLS * PER], hs[NCLS * PER];
    for (int i = 0; i < n; i++) {
        ptr[i] = pixels[i];
        ws[i] = hs[i] = SIDE;
    }
    unsigned char *codes = malloc((size_t)(n + 2) * nb);
    CHECK(api->encode_images(m, n, ptr, ws, hs, codes) == DUCH_OK);
    const char *texts[2] = {"red stripes", "blue water"};
    CHECK(api->encode_texts(m, 2, texts, codes + (size_t)n * nb) == DUCH_OK);
    return codes;
}

/* model_train --encode MODEL THREADS OUT: a fresh process (libtorch's thread count is
 * fixed by a process's first call) that encodes the test images with THREADS threads
 * and writes the codes to OUT. */
static int encode_child(const char *model, int threads, const char *out)
{
    const duch_model_api *api = model_api();
    for (int c = 0, id = 0; c < NCLS; c++)
        for (int i = 0; i < PER; i++, id++)
            make_pixels(c, i, pixels[id]);
    duch_model *m = NULL;
    if (api->open(model, &m) != DUCH_OK) {
        fprintf(stderr, "%s\n", api->errmsg(m));
        return 1;
    }
    api->set_threads(m, threads);
    unsigned char *codes = encode_all(api, m);
    int rc = spit(out, codes, (size_t)(NCLS * PER + 2) * (api->bits(m) / 8));
    free(codes);
    api->close(m);
    return rc || model_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--encode"))
        return encode_child(argv[2], atoi(argv[3]), argv[4]);
    const duch_model_api *api = model_api();
    char dir[] = "/tmp/duch_model_train.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/images", dir);
    if (mkdir(path, 0755)) {
        perror("mkdir");
        return 1;
    }
    snprintf(path, sizeof path, "%s/captions.json", dir);
    FILE *cj = fopen(path, "w");
    fprintf(cj, "{\"dataset\":\"tiny\",\"images\":[\n");
    static const char *cls_names[NCLS] = {"stripes", "checker", "water"};
    for (int c = 0, id = 0; c < NCLS; c++)
        for (int i = 0; i < PER; i++, id++) {
            make_pixels(c, i, pixels[id]);
            snprintf(path, sizeof path, "%s/images/%d.jpg", dir, id);
            if (write_jpeg(path, pixels[id], SIDE, SIDE)) {
                fprintf(stderr, "cannot write %s\n", path);
                return 1;
            }
            const char *split = i < 2 ? "query" : i < 5 ? "retrieval" : "train";
            fprintf(cj, "%s{\"filename\":\"%d.jpg\",\"imgid\":%d,\"class\":\"%s\",\"split\":\"%s\","
                        "\"sentences\":[", id ? "," : "", id, id, cls_names[c], split);
            for (int s = 0; s < 5; s++)
                fprintf(cj, "%s{\"raw\":\"%s\",\"tokens\":[]}", s ? "," : "", caps[c][(s + i) % 5]);
            fprintf(cj, "]}\n");
        }
    fprintf(cj, "]}\n");
    fclose(cj);

    /* ---- train a tiny model ---- */
    char model[600];
    snprintf(model, sizeof model, "%s/tiny.duchm", dir);
    duch_train_options o;
    api->train_options_init(&o);
    double losses[12];
    o.data_dir = dir;
    o.output = model;
    o.bits = 16;
    o.splits = 7;
    o.epochs = 12;
    o.batch_size = 12;
    o.input_size = 16;
    o.width = 4;
    o.text_dim = 8;
    o.lr = 5e-3;
    o.threads = 2;
    o.seed = 7;
    o.tile_ground_m = 12.5;
    o.epoch_loss = losses;
    char err[512];
    int rc = api->train(&o, NULL, NULL, err, sizeof err);
    if (rc != DUCH_OK) {
        fprintf(stderr, "train failed (%d): %s\n", rc, err);
        return 1;
    }
    /* code lengths an archive cannot store are refused before anything is read or
     * trained: a data folder that does not exist gives DUCH_INVALID, not DUCH_IO */
    {
        static const int badbits[] = {8, 12, 0, 1032};
        for (int i = 0; i < 4; i++) {
            duch_train_options b;
            api->train_options_init(&b);
            char missing[600], out8[600];
            snprintf(missing, sizeof missing, "%s/no-such-data", dir);
            snprintf(out8, sizeof out8, "%s/b8.duchm", dir);
            b.data_dir = missing;
            b.output = out8;
            b.bits = badbits[i];
            char e8[512] = "";
            CHECK(api->train(&b, NULL, NULL, e8, sizeof e8) == DUCH_INVALID);
            CHECK(strstr(e8, "bits") && strstr(e8, "16"));
            CHECK(access(out8, F_OK) != 0);
            if (i == 0)
                printf("train --bits 8: %s\n", e8);
        }
    }

    double first = (losses[0] + losses[1]) / 2, last = (losses[10] + losses[11]) / 2;
    printf("loss: first epochs %.4f, last epochs %.4f\n", first, last);
    CHECK(isfinite(first) && isfinite(last));
    CHECK(last < first * 0.95);

    /* ---- open, codes, round trips ---- */
    duch_model *m = NULL, *m2 = NULL, *mb = NULL;
    CHECK(api->open(model, &m) == DUCH_OK);
    CHECK(api->bits(m) == 16);
    CHECK(api->input_size(m) == 16);
    CHECK(fabs(api->tile_ground_m(m) - 12.5) < 1e-9);
    CHECK(strlen(api->id(m)) == 16);
    api->set_threads(m, 2);
    unsigned char *c1 = encode_all(api, m);
    unsigned char *c1b = encode_all(api, m); /* deterministic */
    size_t ncb = (size_t)(NCLS * PER + 2) * 2;
    CHECK(!memcmp(c1, c1b, ncb));
    CHECK(api->open(model, &m2) == DUCH_OK);
    unsigned char *c2 = encode_all(api, m2);
    CHECK(!memcmp(c1, c2, ncb));
    size_t flen = 0;
    unsigned char *blob = model_slurp(model, &flen);
    CHECK(blob != NULL);
    CHECK(api->open_blob(blob, flen, &mb) == DUCH_OK);
    unsigned char *c3 = encode_all(api, mb);
    CHECK(!memcmp(c1, c3, ncb));
    CHECK(!strcmp(api->id(m), api->id(mb)));
    /* a later set_threads does not resize libtorch's pool (fixed at the first call,
     * training here: 2 threads), and the codes stay the same */
    api->set_threads(mb, 1);
    unsigned char *c4 = encode_all(api, mb);
    CHECK(!memcmp(c1, c4, ncb));
    /* one thread gives the same codes as two: each count in a process of its own */
    for (int t = 1; t <= 2; t++) {
        char out[600];
        snprintf(out, sizeof out, "%s/codes%d", dir, t);
        snprintf(cmd, sizeof cmd, "'%s' --encode '%s' %d '%s'", argv[0], model, t, out);
        CHECK(system(cmd) == 0);
        size_t cn = 0;
        unsigned char *cc = model_slurp(out, &cn);
        CHECK(cc && cn == ncb && !memcmp(c1, cc, ncb));
        free(cc);
    }

    /* image codes are not all the same (a collapsed model would be) */
    int distinct = 0;
    for (int i = 1; i < NCLS * PER; i++)
        distinct += memcmp(c1, c1 + i * 2, 2) != 0;
    CHECK(distinct > 0);

    /* any tile size is accepted */
    {
        static unsigned char big[100 * 70 * 3];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (unsigned char)(i * 7);
        const unsigned char *pp[1] = {big};
        int w = 100, h = 70;
        unsigned char code[2];
        CHECK(api->encode_images(m, 1, pp, &w, &h, code) == DUCH_OK);
        int zero = 0;
        CHECK(api->encode_images(m, 1, pp, &zero, &h, code) == DUCH_INVALID);
    }

    /* tokenizer: case and punctuation do not matter; unknown words are ignored */
    {
        const char *t[3] = {"red stripes", "RED, Stripes!", "red zzzunknown stripes"};
        unsigned char codes[6];
        CHECK(api->encode_texts(m, 3, t, codes) == DUCH_OK);
        CHECK(!memcmp(codes, codes + 2, 2));
        CHECK(!memcmp(codes, codes + 4, 2));
        const char *bad[2] = {"red stripes", "qwerty xyzzy"};
        CHECK(api->encode_texts(m, 2, bad, codes) == DUCH_INVALID);
        CHECK(strstr(api->errmsg(m), "vocabulary") != NULL);
        CHECK(strstr(api->errmsg(m), "qwerty xyzzy") != NULL);
        const char *utf[1] = {"r\xc3\xa9seau \xff red"}; /* UTF-8 word + a stray byte */
        CHECK(api->encode_texts(m, 1, utf, codes) == DUCH_OK);
    }

    /* info */
    char *info = api->info_json(m);
    CHECK(info && strstr(info, "\"bits\":16") && strstr(info, "\"format_version\":2") &&
          strstr(info, "\"vocab_size\""));
    free(info);

    /* eval on the tiny query/retrieval splits */
    duch_eval_result er;
    CHECK(api->eval(m, dir, &er, NULL, NULL) == DUCH_OK);
    CHECK(er.bits == 16 && er.queries == NCLS * 2 && er.retrieval == NCLS * 3);
    CHECK(er.map20_i2t >= 0 && er.map20_i2t <= 1 && er.map20_t2i >= 0 && er.map20_t2i <= 1);
    printf("tiny eval: i2t %.3f t2i %.3f i2i %.3f t2t %.3f\n", er.map20_i2t, er.map20_t2i,
           er.map20_i2i, er.map20_t2t);

    /* ---- damaged files ---- */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/bad.duchm", dir);
    duch_model *mx = NULL;
    /* truncated */
    spit(bad, blob, flen / 2);
    CHECK(api->open(bad, &mx) == DUCH_CORRUPT);
    CHECK(strstr(api->errmsg(mx), "truncated") != NULL);
    api->close(mx);
    spit(bad, blob, 12);
    CHECK(api->open(bad, &mx) == DUCH_CORRUPT);
    api->close(mx);
    /* one flipped byte in the weights */
    blob[flen / 2] ^= 0x10;
    spit(bad, blob, flen);
    CHECK(api->open(bad, &mx) == DUCH_CORRUPT);
    CHECK(strstr(api->errmsg(mx), "checksum") != NULL);
    api->close(mx);
    blob[flen / 2] ^= 0x10;
    /* future format version (checked before the checksum) */
    blob[8] = 99;
    spit(bad, blob, flen);
    CHECK(api->open(bad, &mx) == DUCH_VERSION);
    CHECK(strstr(api->errmsg(mx), "99") != NULL);
    api->close(mx);
    CHECK(api->open_blob(blob, flen, &mx) == DUCH_VERSION);
    api->close(mx);
    blob[8] = 2; /* the format version a new file has */
    /* not a model at all */
    CHECK(api->open_blob("SQLite format 3\0 and more bytes here", 36, &mx) == DUCH_CORRUPT);
    CHECK(strstr(api->errmsg(mx), "not a duch model") != NULL);
    api->close(mx);
    /* missing file */
    snprintf(bad, sizeof bad, "%s/missing.duchm", dir);
    CHECK(api->open(bad, &mx) == DUCH_NOTFOUND);
    api->close(mx);
    /* the undamaged bytes still open */
    CHECK(api->open_blob(blob, flen, &mx) == DUCH_OK);
    api->close(mx);
    api->close(NULL);

    api->close(m);
    api->close(m2);
    api->close(mb);
    free(c1), free(c1b), free(c2), free(c3), free(c4), free(blob);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (model_failures)
        return 1;
    printf("ok: tiny model trains, round-trips and rejects damaged files\n");
    return 0;
}
