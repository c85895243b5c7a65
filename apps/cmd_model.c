/* cmd_model.c: duch train, duch eval and duch encode — the model commands.
 * The model library is reached through duch_cli_model_api() (dlopen), never linked. */
#include "config.h"
#include "cli.h"
#include "duch_index.h"

#include <gdal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ helpers */


/* Epoch lines of the trainer (and of eval) go to stderr unless DUCH_QUIET is set. */
static int line_progress(double frac, const char *msg, void *arg)
{
    (void)frac;
    (void)arg;
    if (msg) {
        fprintf(stderr, "%s\n", msg);
        fflush(stderr);
    }
    return 1;
}

static duch_progress_fn quiet_or(duch_progress_fn fn)
{
    const char *q = getenv("DUCH_QUIET");
    return (q && *q) ? NULL : fn;
}

static int open_model(const duch_model_api *api, const char *path, duch_model **m)
{
    if (!path)
        path = duch_default_model_path();
    int rc = api->open(path, m);
    if (rc != DUCH_OK) {
        duch_cli_error("%s", *m ? api->errmsg(*m) : "out of memory");
        api->close(*m);
        *m = NULL;
        return -1;
    }
    return 0;
}

static void print_hex(const unsigned char *code, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        printf("%02x", code[i]);
    putchar('\n');
}

/* ------------------------------------------------------------------ train */

static void train_usage(FILE *f, const duch_train_options *d)
{
    fprintf(f,
        "usage: duch train --data DIR --bits K -o MODEL [options]\n"
        "\n"
        "Train a DUCH model from scratch on image-caption pairs (unsupervised: class labels\n"
        "are never read). DIR holds captions.json (Karpathy-style) and images/ (JPEG).\n"
        "Progress (epoch, losses, time left) goes to standard error.\n"
        "\n"
        "options (default):\n"
        "  --data DIR           training data (required)\n"
        "  --bits K             code length, a multiple of 8 from 16 to 1024 (%d)\n"
        "  -o, --output MODEL   .duchm file to write (required)\n"
        "  --splits LIST        splits to train on: train, all, or a comma list of\n"
        "                       train,query,retrieval (train)\n"
        "  --epochs N           (%d)\n"
        "  --batch-size N       (%d)\n"
        "  --input-size PX      side of the CNN input; tiles are resampled to it (%d)\n"
        "  --width N            CNN base width: stages have N, 2N, 4N, 8N channels (%d)\n"
        "  --text-dim N         word embedding width (%d)\n"
        "  --lr X               AdamW learning rate, cosine schedule (%g)\n"
        "  --weight-decay X     (%g)\n"
        "  --temperature X      NT-Xent temperature (%g)\n"
        "  --w-inter X          weight of the inter-modal NT-Xent (%g)\n"
        "  --w-intra-img X      weight of the image-view NT-Xent (%g)\n"
        "  --w-intra-txt X      weight of the caption-view NT-Xent (%g)\n"
        "  --w-adv X            weight of the adversarial term (%g)\n"
        "  --w-quant X          weight of the quantization term (%g)\n"
        "  --w-balance X        weight of the bit balance term (%g)\n"
        "  --crop-min X         smallest random crop, fraction of the image area (%g)\n"
        "  --ground-m X         ground width of one training image in metres (%g)\n"
        "  --seed N             random seed; the same seed and threads give the same model (%llu)\n"
        "  --threads N          0 = all cores (%d)\n"
        "  --max-images N       use only the first N images of the splits (0 = all)\n"
        "  --checkpoint-every N also write MODEL after every N epochs (0 = only at the end)\n"
        "  --wordnet-senses N   WordNet senses of each caption word to follow for caption\n"
        "                       stand-ins, keyword views and the model's alias table;\n"
        "                       0 = no WordNet (%d)\n"
        "  --p-subst X          chance a caption word is swapped for a WordNet stand-in (%g)\n"
        "  --p-keywords X       chance a training caption is cut to keywords: one noun or\n"
        "                       2-3 content words, as users type queries (%g)\n"
        "  --p-pool X           chance a keyword view takes its words from all of the\n"
        "                       image's captions, not one (%g)\n"
        "  --p-insert X         chance a training caption gets a stray content word of\n"
        "                       another caption inserted (%g)\n"
        "  -h, --help           this help\n",
        d->bits, d->epochs, d->batch_size, d->input_size, d->width, d->text_dim, d->lr,
        d->weight_decay, d->temperature, d->w_inter, d->w_intra_img, d->w_intra_txt, d->w_adv,
        d->w_quant, d->w_balance, d->crop_min, d->tile_ground_m, (unsigned long long)d->seed,
        d->threads, d->wordnet_senses, d->p_subst, d->p_keywords, d->p_pool, d->p_insert);
}

enum {
    OPT_DATA = 256, OPT_BITS, OPT_SPLITS, OPT_EPOCHS, OPT_BATCH, OPT_INPUT, OPT_WIDTH, OPT_TEXTDIM,
    OPT_LR, OPT_WD, OPT_TEMP, OPT_WINTER, OPT_WII, OPT_WTT, OPT_WADV, OPT_WQ, OPT_WB, OPT_CROP,
    OPT_GROUND, OPT_SEED, OPT_THREADS, OPT_MAXIMG, OPT_MODEL, OPT_JSON, OPT_TEXT, OPT_CKPT,
    OPT_WNSENSES, OPT_PSUBST, OPT_PKEY, OPT_PPOOL, OPT_PINS
};

int duch_cmd_train(int argc, char **argv)
{
    static const struct option lo[] = {
        {"data", 1, 0, OPT_DATA}, {"bits", 1, 0, OPT_BITS}, {"output", 1, 0, 'o'},
        {"splits", 1, 0, OPT_SPLITS}, {"epochs", 1, 0, OPT_EPOCHS}, {"batch-size", 1, 0, OPT_BATCH},
        {"input-size", 1, 0, OPT_INPUT}, {"width", 1, 0, OPT_WIDTH}, {"text-dim", 1, 0, OPT_TEXTDIM},
        {"lr", 1, 0, OPT_LR}, {"weight-decay", 1, 0, OPT_WD}, {"temperature", 1, 0, OPT_TEMP},
        {"w-inter", 1, 0, OPT_WINTER}, {"w-intra-img", 1, 0, OPT_WII}, {"w-intra-txt", 1, 0, OPT_WTT},
        {"w-adv", 1, 0, OPT_WADV}, {"w-quant", 1, 0, OPT_WQ}, {"w-balance", 1, 0, OPT_WB},
        {"crop-min", 1, 0, OPT_CROP}, {"ground-m", 1, 0, OPT_GROUND}, {"seed", 1, 0, OPT_SEED},
        {"threads", 1, 0, OPT_THREADS}, {"max-images", 1, 0, OPT_MAXIMG}, {"checkpoint-every", 1, 0, OPT_CKPT},
        {"wordnet-senses", 1, 0, OPT_WNSENSES}, {"p-subst", 1, 0, OPT_PSUBST}, {"p-keywords", 1, 0, OPT_PKEY},
        {"p-pool", 1, 0, OPT_PPOOL}, {"p-insert", 1, 0, OPT_PINS}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    /* Defaults are printed by --help, so the library is needed first. */
    const duch_model_api *api = duch_cli_model_api();
    if (!api)
        return 1;
    duch_train_options o;
    api->train_options_init(&o);
    long v;
    double d;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': train_usage(stdout, &o); return 0;
        case OPT_DATA: o.data_dir = optarg; break;
        case 'o': o.output = optarg; break;
        case OPT_SPLITS: if (duch_cli_splits(optarg, &o.splits)) return 2; break;
#define INTOPT(ID, NAME, LO, HI, FIELD) \
        case ID: if (duch_cli_int(NAME, optarg, LO, HI, &v)) return 2; o.FIELD = (int)v; break;
        INTOPT(OPT_BITS, "--bits", DUCH_CODE_MIN_BITS, DUCH_CODE_MAX_BITS, bits)
        INTOPT(OPT_EPOCHS, "--epochs", 1, 100000, epochs)
        INTOPT(OPT_BATCH, "--batch-size", 2, 4096, batch_size)
        INTOPT(OPT_INPUT, "--input-size", 16, 512, input_size)
        INTOPT(OPT_WIDTH, "--width", 1, 256, width)
        INTOPT(OPT_TEXTDIM, "--text-dim", 4, 4096, text_dim)
        INTOPT(OPT_THREADS, "--threads", 0, 1024, threads)
        INTOPT(OPT_MAXIMG, "--max-images", 0, 100000000, max_images)
        INTOPT(OPT_CKPT, "--checkpoint-every", 0, 100000, checkpoint_every)
        INTOPT(OPT_WNSENSES, "--wordnet-senses", 0, 10, wordnet_senses)
#undef INTOPT
#define DBLOPT(ID, NAME, FIELD) \
        case ID: if (duch_cli_double(NAME, optarg, &d)) return 2; o.FIELD = d; break;
        DBLOPT(OPT_LR, "--lr", lr)
        DBLOPT(OPT_WD, "--weight-decay", weight_decay)
        DBLOPT(OPT_TEMP, "--temperature", temperature)
        DBLOPT(OPT_WINTER, "--w-inter", w_inter)
        DBLOPT(OPT_WII, "--w-intra-img", w_intra_img)
        DBLOPT(OPT_WTT, "--w-intra-txt", w_intra_txt)
        DBLOPT(OPT_WADV, "--w-adv", w_adv)
        DBLOPT(OPT_WQ, "--w-quant", w_quant)
        DBLOPT(OPT_WB, "--w-balance", w_balance)
        DBLOPT(OPT_CROP, "--crop-min", crop_min)
        DBLOPT(OPT_GROUND, "--ground-m", tile_ground_m)
        DBLOPT(OPT_PSUBST, "--p-subst", p_subst)
        DBLOPT(OPT_PKEY, "--p-keywords", p_keywords)
        DBLOPT(OPT_PPOOL, "--p-pool", p_pool)
        DBLOPT(OPT_PINS, "--p-insert", p_insert)
#undef DBLOPT
        case OPT_SEED:
            if (duch_cli_int("--seed", optarg, 0, 0x7fffffffL, &v))
                return 2;
            o.seed = (uint64_t)v;
            break;
        default: train_usage(stderr, &o); return 2;
        }
    }
    if (optind < argc) {
        duch_cli_error("train: unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!o.data_dir || !o.output) {
        duch_cli_error("train needs --data DIR and -o MODEL (see duch train --help)");
        return 2;
    }
    /* the code lengths duch index accepts: refuse here, before any training */
    if (!duch_code_bits_valid(o.bits)) {
        duch_cli_error("--bits must be a multiple of 8 from %d to %d (the code lengths an"
                       " archive stores), got %d", DUCH_CODE_MIN_BITS, DUCH_CODE_MAX_BITS, o.bits);
        return 2;
    }
    if (o.w_inter < 0 || o.w_intra_img < 0 || o.w_intra_txt < 0 || o.w_adv < 0 || o.w_quant < 0 ||
        o.w_balance < 0) {
        duch_cli_error("loss weights must not be negative");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[1024];
    int rc = api->train(&o, quiet_or(line_progress), NULL, err, sizeof err);
    if (rc != DUCH_OK) {
        duch_cli_error("train: %s", err);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (duch_cli_not_regular(o.output)) { /* a device or a pipe: not read back */
        fprintf(stderr, "wrote %s in %.0f s\n", o.output,
                (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
    }
    duch_model *m = NULL;
    if (open_model(api, o.output, &m))
        return 1;
    fprintf(stderr, "wrote %s (%d bits, id %s) in %.0f s\n", o.output, api->bits(m), api->id(m),
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    api->close(m);
    return 0;
}

/* ------------------------------------------------------------------ eval */

static void eval_usage(FILE *f)
{
    fprintf(f,
        "usage: duch eval [--model MODEL] --data DIR [--json] [--threads N]\n"
        "\n"
        "The DUCH paper's protocol: encode the 'query' and 'retrieval' splits of DIR\n"
        "(captions.json + images/), rank the retrieval set by Hamming distance to each query,\n"
        "and report mAP@20 with same-class relevance, the first caption of each image as its\n"
        "text: image->text and text->image (and image->image, text->text).\n"
        "\n"
        "options:\n"
        "  --model MODEL   .duchm file (default: the installed default model)\n"
        "  --data DIR      evaluation data (required)\n"
        "  --json          print one JSON object\n"
        "  --threads N     0 = all cores (default)\n"
        "  -h, --help      this help\n");
}

int duch_cmd_eval(int argc, char **argv)
{
    static const struct option lo[] = {{"model", 1, 0, OPT_MODEL}, {"data", 1, 0, OPT_DATA},
                                       {"json", 0, 0, OPT_JSON}, {"threads", 1, 0, OPT_THREADS},
                                       {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL, *data = NULL;
    int json = 0, c;
    long threads = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': eval_usage(stdout); return 0;
        case OPT_MODEL: model = optarg; break;
        case OPT_DATA: data = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_THREADS: if (duch_cli_int("--threads", optarg, 0, 1024, &threads)) return 2; break;
        default: eval_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        duch_cli_error("eval: unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!data) {
        duch_cli_error("eval needs --data DIR (see duch eval --help)");
        return 2;
    }
    const duch_model_api *api = duch_cli_model_api();
    if (!api)
        return 1;
    duch_model *m = NULL;
    if (open_model(api, model, &m))
        return 1;
    api->set_threads(m, (int)threads);
    duch_eval_result r;
    int rc = api->eval(m, data, &r, quiet_or(duch_cli_progress()), NULL);
    if (rc != DUCH_OK) {
        duch_cli_error("eval: %s", api->errmsg(m));
        api->close(m);
        return 1;
    }
    if (json) {
        printf("{\"model\":");
        duch_cli_json_str(stdout, model ? model : duch_default_model_path());
        printf(",\"id\":\"%s\",\"bits\":%d,\"queries\":%d,\"retrieval\":%d,"
               "\"map20_i2t\":%.6f,\"map20_t2i\":%.6f,\"map20_i2i\":%.6f,\"map20_t2t\":%.6f}\n",
               api->id(m), r.bits, r.queries, r.retrieval, r.map20_i2t, r.map20_t2i, r.map20_i2i,
               r.map20_t2t);
    } else {
        printf("model      %s (%d bits, id %s)\n", model ? model : duch_default_model_path(), r.bits,
               api->id(m));
        printf("queries    %d\nretrieval  %d\n", r.queries, r.retrieval);
        printf("mAP@20 image->text   %.4f\n", r.map20_i2t);
        printf("mAP@20 text->image   %.4f\n", r.map20_t2i);
        printf("mAP@20 image->image  %.4f\n", r.map20_i2i);
        printf("mAP@20 text->text    %.4f\n", r.map20_t2t);
    }
    api->close(m);
    return 0;
}

/* ------------------------------------------------------------------ encode */

static void encode_usage(FILE *f)
{
    fprintf(f,
        "usage: duch encode [--model MODEL] --text TEXT [--text TEXT]...\n"
        "       duch encode [--model MODEL] IMAGE...\n"
        "\n"
        "Print the hash code of each text or image (any raster GDAL reads; the first three\n"
        "bands as RGB, one band as grey), in order, one lower-case hex string per line:\n"
        "byte i of the packed code first, bit j of the code in byte j/8 at bit j%%8.\n"
        "\n"
        "options:\n"
        "  --model MODEL   .duchm file (default: the installed default model)\n"
        "  --text TEXT     a text query (repeat for more)\n"
        "  --threads N     0 = all cores (default)\n"
        "  -h, --help      this help\n");
}

/* Read a raster as 8-bit RGB (bands 1-3, or band 1 three times). */
static unsigned char *read_rgb(const char *path, int *w, int *h)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) {
        duch_cli_error("cannot open image %s", path);
        return NULL;
    }
    int nb = GDALGetRasterCount(ds);
    *w = GDALGetRasterXSize(ds);
    *h = GDALGetRasterYSize(ds);
    if (nb < 1 || *w < 1 || *h < 1) {
        duch_cli_error("%s has no pixels", path);
        GDALClose(ds);
        return NULL;
    }
    size_t n = (size_t)*w * *h;
    unsigned char *rgb = malloc(n * 3);
    if (!rgb) {
        duch_cli_error("out of memory reading %s", path);
        GDALClose(ds);
        return NULL;
    }
    int bands[3] = {1, nb >= 3 ? 2 : 1, nb >= 3 ? 3 : 1};
    CPLErr e = GDALDatasetRasterIO(ds, GF_Read, 0, 0, *w, *h, rgb, *w, *h, GDT_Byte, 3, bands, 3,
                                   (GSpacing)*w * 3, 1);
    GDALClose(ds);
    if (e != CE_None) {
        duch_cli_error("cannot read the pixels of %s", path);
        free(rgb);
        return NULL;
    }
    return rgb;
}

int duch_cmd_encode(int argc, char **argv)
{
    static const struct option lo[] = {{"model", 1, 0, OPT_MODEL}, {"text", 1, 0, OPT_TEXT},
                                       {"threads", 1, 0, OPT_THREADS}, {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *model = NULL;
    const char **texts = calloc((size_t)argc + 1, sizeof *texts);
    int ntexts = 0, c, status = 1;
    long threads = 0;
    if (!texts) {
        duch_cli_error("out of memory");
        return 1;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': encode_usage(stdout); free(texts); return 0;
        case OPT_MODEL: model = optarg; break;
        case OPT_TEXT: texts[ntexts++] = optarg; break;
        case OPT_THREADS:
            if (duch_cli_int("--threads", optarg, 0, 1024, &threads)) {
                free(texts);
                return 2;
            }
            break;
        default: encode_usage(stderr); free(texts); return 2;
        }
    }
    int nimages = argc - optind;
    if ((ntexts == 0) == (nimages == 0)) {
        duch_cli_error(ntexts ? "encode takes --text or image files, not both"
                              : "encode needs --text TEXT or IMAGE files (see duch encode --help)");
        free(texts);
        return 2;
    }
    const duch_model_api *api = duch_cli_model_api();
    duch_model *m = NULL;
    if (!api || open_model(api, model, &m)) {
        free(texts);
        return 1;
    }
    api->set_threads(m, (int)threads);
    int nbytes = api->bits(m) / 8;
    int n = ntexts ? ntexts : nimages;
    unsigned char *codes = malloc((size_t)n * nbytes);
    unsigned char **pix = calloc((size_t)n, sizeof *pix);
    int *ws = calloc((size_t)n, sizeof *ws), *hs = calloc((size_t)n, sizeof *hs);
    if (!codes || !pix || !ws || !hs) {
        duch_cli_error("out of memory");
        goto finish;
    }
    int rc;
    if (ntexts)
        rc = api->encode_texts(m, n, texts, codes);
    else {
        for (int i = 0; i < n; i++)
            if (!(pix[i] = read_rgb(argv[optind + i], &ws[i], &hs[i])))
                goto finish;
        rc = api->encode_images(m, n, (const unsigned char *const *)pix, ws, hs, codes);
    }
    if (rc != DUCH_OK) {
        duch_cli_error("encode: %s", api->errmsg(m));
        goto finish;
    }
    for (int i = 0; i < n; i++)
        print_hex(codes + (size_t)i * nbytes, nbytes);
    status = 0;
finish:
    if (pix)
        for (int i = 0; i < n; i++)
            free(pix[i]);
    free(pix);
    free(ws);
    free(hs);
    free(codes);
    free(texts);
    api->close(m);
    return status;
}
