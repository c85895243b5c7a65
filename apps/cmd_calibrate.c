/* cmd_calibrate.c: duch calibrate MODEL --data DIR -o OUT — fit the confidence of a hit
 * (model/confidence.c; docs/model.md, "Confidence") on held-out caption-image pairs and
 * store it in a copy of MODEL.
 *
 * The split's images are read through the tiler (as an archive's tiles are) and encoded
 * by the fitting model; every caption of them is a text query (the C text encoder, as at
 * query time). Each query ranks the split's images twice: all of them (its concept is
 * present) and all but those of its own class (absent). The top 10 hits of both rankings
 * are the rows of a logistic regression of "the hit has the query's class" on the hit's
 * distance and the crowd (the distance of the R-th hit minus the first's). R is chosen
 * from 2..8 by how well the top hit's confidence tells present from absent (AUROC). */
#include "config.h"
#include "cli.h"
#include "duch_index.h"
#include "duch_json.h"
#include "duch_modelfile.h"
#include "duch_textenc.h"
#include "duch_tiler.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP 10        /* hits per ranking in the fit: what a query shows first */
#define RANK_MIN 2
#define RANK_MAX 8
#define MAX_VARIANTS 8
/* the present rankings of each query: how many images of its class each keeps (0 = all) */
#define PRESENT_DEFAULT "0"

/* "1,2,0" -> keep[], the count; -1 when malformed */
static int parse_present(const char *s, int keep[MAX_VARIANTS])
{
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 1000 || n == MAX_VARIANTS || (*end && *end != ','))
            return -1;
        keep[n++] = (int)v;
        s = *end ? end + 1 : end;
        if (*end && !*s)
            return -1;
    }
    return n ? n : -1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: duch calibrate [--split NAME] [--with HELDOUT] [--reliability FILE] [-q]\n"
        "                      MODEL --data DIR -o OUT\n"
        "\n"
        "Write a copy of MODEL that holds a confidence fit: the chance, 0 to 1, that a hit\n"
        "of a text query shows what the query asks for (docs/model.md, \"Confidence\").\n"
        "It is fitted on the images and captions of one split of DIR (captions.json and\n"
        "images/, as for duch train), which the fitting model must not have trained on.\n"
        "Every caption asks the split's images with its own class present and removed;\n"
        "the class labels say which hits are right (the weights never see them).\n"
        "\n"
        "options:\n"
        "  --data DIR          captions.json and images/ (required)\n"
        "  -o FILE             the new model (required)\n"
        "  --split NAME        the held-out split to fit on (default query)\n"
        "  --with HELDOUT      fit with this model instead (the same recipe trained without\n"
        "                      the split: for a MODEL trained on every split); it must make\n"
        "                      codes of MODEL's length\n"
        "  --reliability FILE  write the fit's reliability table (TSV: bin, hits,\n"
        "                      mean confidence, observed precision)\n"
        "  --present LIST      the present rankings of each caption: how many images of\n"
        "                      its class each leaves in, 0 = all (default " PRESENT_DEFAULT ");\n"
        "                      each comes with an absent one\n"
        "  -q                  no progress, no summary\n"
        "  -h, --help          this help\n");
}

typedef struct item {
    int cls;            /* index into the class names */
    unsigned char *code;
} item;

typedef struct query {
    int cls;
    unsigned char code[DUCH_CODE_MAX_BITS / 8];
} query;

/* one ranking of a query: distances and rightness, best first */
typedef struct ranking {
    int present;        /* the query's class is in the ranked set (some or all of it) */
    int n;
    int d[TOP > RANK_MAX ? TOP : RANK_MAX];
    unsigned char right[TOP > RANK_MAX ? TOP : RANK_MAX];
} ranking;

typedef struct cand { int d, i; } cand;
static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->d != y->d ? (x->d < y->d ? -1 : 1) : (x->i > y->i) - (x->i < y->i);
}

static double auroc(const double *pos, int np, const double *neg, int nn)
{
    double w = 0;
    for (int i = 0; i < np; i++)
        for (int j = 0; j < nn; j++)
            w += pos[i] > neg[j] ? 1.0 : pos[i] == neg[j] ? 0.5 : 0.0;
    return np && nn ? w / ((double)np * nn) : 0.5;
}

/* AUROC of score[q] (one per ranking), rankings with the query's class present against
 * those without it; tmp holds nr doubles. */
static double auroc_present(const ranking *rk, int nr, const double *score, double *tmp)
{
    int np = 0, nn = nr;
    for (int q = 0; q < nr; q++) /* present first, absent from the end */
        tmp[rk[q].present ? np++ : --nn] = score[q];
    return auroc(tmp, np, tmp + nn, nr - nn);
}

static int dcrowd(const ranking *r, int rank)
{
    return r->d[(rank <= r->n ? rank : r->n) - 1];
}

/* Fit at crowd rank R over the nr rankings; AUROC of the top hit's confidence, rankings
 * where the query's class is present against those where it is absent. */
static int fit_rank(const ranking *rk, int nr, int bits, int R, double w[3], double *au)
{
    size_t rows = 0;
    for (int q = 0; q < nr; q++)
        rows += (size_t)(rk[q].n < TOP ? rk[q].n : TOP);
    double *x = malloc(rows * 3 * sizeof *x);
    unsigned char *y = malloc(rows);
    double *top = malloc((size_t)nr * 2 * sizeof *top);
    if (!x || !y || !top) {
        free(x), free(y), free(top);
        return DUCH_NOMEM;
    }
    size_t k = 0;
    for (int q = 0; q < nr; q++)
        for (int i = 0; i < rk[q].n && i < TOP; i++, k++) {
            duch_confidence_features(bits, rk[q].d[i], rk[q].d[0], dcrowd(&rk[q], R), x + 3 * k);
            y[k] = rk[q].right[i];
        }
    int rc = duch_confidence_fit(x, y, rows, w);
    if (rc == DUCH_OK) {
        duch_confidence c = {R, {w[0], w[1], w[2]}};
        for (int q = 0; q < nr; q++)
            top[q] = duch_confidence_value(&c, bits, rk[q].d[0], rk[q].d[0], dcrowd(&rk[q], R));
        *au = auroc_present(rk, nr, top, top + nr);
    }
    free(x), free(y), free(top);
    return rc;
}

static int reliability(const ranking *rk, int nr, int bits, const duch_confidence *c, FILE *f)
{
    int n[10] = {0};
    double sc[10] = {0}, sr[10] = {0};
    for (int q = 0; q < nr; q++)
        for (int i = 0; i < rk[q].n && i < TOP; i++) {
            double v = duch_confidence_value(c, bits, rk[q].d[i], rk[q].d[0], dcrowd(&rk[q], c->crowd_rank));
            int b = v >= 1.0 ? 9 : (int)(v * 10);
            n[b]++, sc[b] += v, sr[b] += rk[q].right[i];
        }
    fprintf(f, "bin\thits\tmean_confidence\tobserved_precision\n");
    for (int b = 0; b < 10; b++)
        if (n[b])
            fprintf(f, "%.1f-%.1f\t%d\t%.3f\t%.3f\n", b / 10.0, (b + 1) / 10.0, n[b], sc[b] / n[b],
                    sr[b] / n[b]);
    return 0;
}

/* the split's images and captions, encoded with api/m and te */
static int load_split(const char *dir, const char *split, const duch_model_api *api,
                      duch_model *m, duch_textenc *te, int quiet, item **items_out, int *nitems,
                      query **queries_out, int *nq, int *refused, char ***classes, int *ncls)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/captions.json", dir);
    const duch_json *imgs;
    duch_json *root = duch_cli_captions(dir, &imgs);
    if (!root)
        return 1;
    int bits = api->bits(m), nb = bits / 8, in = api->input_size(m);
    item *items = calloc(imgs->n ? imgs->n : 1, sizeof *items);
    query *qs = calloc(imgs->n * 8 + 1, sizeof *qs);
    char **cls = calloc(imgs->n + 1, sizeof *cls);
    unsigned char *rgb = malloc((size_t)in * in * 3);
    int ni = 0, nqs = 0, nc = 0, status = 0, inspl = 0;
    *refused = 0;
    for (size_t i = 0; i < imgs->n; i++)
        inspl += !strcmp(duch_json_str_or(&imgs->items[i], "split", ""), split);
    duch_progress_fn prog = quiet ? NULL : duch_cli_progress();
    for (size_t i = 0; items && qs && cls && rgb && i < imgs->n && !status; i++) {
        const duch_json *im = &imgs->items[i];
        if (strcmp(duch_json_str_or(im, "split", ""), split))
            continue;
        const char *fn = duch_json_str_or(im, "filename", NULL), *cn = duch_json_str_or(im, "class", NULL);
        const duch_json *sents = duch_json_get(im, "sentences");
        if (!fn || !cn || !sents || sents->type != DUCH_JSON_ARR) {
            duch_cli_error("%s: image %zu lacks filename, class or sentences", path, i + 1);
            status = 1;
            break;
        }
        int c = 0;
        while (c < nc && strcmp(cls[c], cn))
            c++;
        if (c == nc)
            cls[nc++] = strdup(cn);
        snprintf(path, sizeof path, "%s/images/%s", dir, fn);
        duch_tiler_options to;
        duch_tiler_options_init(&to);
        to.allow_pixel = 1;
        to.out_size = in;
        to.tile_ground_m = api->tile_ground_m(m);
        duch_tiler *t = NULL;
        int rc = duch_tiler_open(path, &to, &t);
        if (rc == DUCH_OK) {
            const duch_scene_info *si = duch_tiler_info(t);
            rc = duch_tiler_read_window(t, 0, 0, si->width, si->height, in, in, rgb, NULL);
        }
        if (rc != DUCH_OK) {
            duch_cli_error("%s: %s", path, t ? duch_tiler_errmsg(t) : "out of memory");
            duch_tiler_close(t);
            status = 1;
            break;
        }
        duch_tiler_close(t);
        item *it = &items[ni++];
        it->cls = c;
        it->code = malloc((size_t)nb);
        const unsigned char *p[1] = {rgb};
        int w1[1] = {in}, h1[1] = {in};
        if (!it->code || api->encode_images(m, 1, p, w1, h1, it->code) != DUCH_OK) {
            duch_cli_error("%s: %s", path, it->code ? api->errmsg(m) : "out of memory");
            status = 1;
            break;
        }
        for (size_t s = 0; s < sents->n && s < 8; s++) {
            const char *raw = duch_json_str_or(&sents->items[s], "raw", NULL);
            if (!raw)
                continue;
            if (duch_textenc_encode(te, raw, qs[nqs].code) != DUCH_OK) {
                (*refused)++;
                continue;
            }
            qs[nqs++].cls = c;
        }
        if (prog)
            prog((double)ni / inspl, NULL, NULL);
    }
    if (!status && (!items || !qs || !cls || !rgb)) {
        duch_cli_error("out of memory");
        status = 1;
    }
    if (!status && ni == 0) {
        duch_cli_error("%s: no image of split \"%s\"", path, split);
        status = 1;
    }
    free(rgb);
    duch_json_free(root);
    *items_out = items, *nitems = ni, *queries_out = qs, *nq = nqs, *classes = cls, *ncls = nc;
    return status;
}

int duch_cmd_calibrate(int argc, char **argv)
{
    static const struct option lo[] = {{"data", 1, 0, 'd'}, {"split", 1, 0, 's'}, {"with", 1, 0, 'w'},
                                       {"reliability", 1, 0, 'r'}, {"present", 1, 0, 'p'},
                                       {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *outpath = NULL, *data = NULL, *split = "query", *with = NULL, *relpath = NULL;
    const char *present = PRESENT_DEFAULT;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        switch (c) {
        case 'o': outpath = optarg; break;
        case 'd': data = optarg; break;
        case 's': split = optarg; break;
        case 'w': with = optarg; break;
        case 'r': relpath = optarg; break;
        case 'p': present = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !outpath || !data) {
        duch_cli_error("calibrate needs one MODEL, --data DIR and -o OUT (see duch calibrate --help)");
        return 2;
    }
    int keep[MAX_VARIANTS], nkeep = parse_present(present, keep);
    if (nkeep < 0) {
        duch_cli_error("--present must be 1 to %d comma-separated counts of images kept, 0 = all "
                       "(e.g. 1,2,0), got '%s'", MAX_VARIANTS, present);
        return 2;
    }
    const char *path = argv[optind], *fitpath = with ? with : path;
    size_t n = 0;
    unsigned char *blob = NULL;
    int en = 0;
    if (duch_file_read(path, &blob, &n, &en) != DUCH_OK) {
        duch_cli_error("cannot read %s: %s", path, en ? strerror(en) : "read error or out of memory");
        return 1;
    }
    duch_textenc *mte = NULL, *te = NULL;
    int status = 1;
    const duch_model_api *api = NULL;
    duch_model *m = NULL;
    item *items = NULL;
    query *qs = NULL;
    char **cls = NULL;
    ranking *rk = NULL;
    int ni = 0, nq = 0, nc = 0, refused = 0;
    if (duch_textenc_open_blob(blob, n, &mte) != DUCH_OK) {
        duch_cli_error("%s: %s", path, mte ? duch_textenc_errmsg(mte) : "out of memory");
        goto done;
    }
    if (duch_textenc_open(fitpath, &te) != DUCH_OK) {
        duch_cli_error("%s: %s", fitpath, te ? duch_textenc_errmsg(te) : "out of memory");
        goto done;
    }
    int bits = duch_textenc_bits(mte);
    if (duch_textenc_bits(te) != bits) {
        duch_cli_error("%s makes %d-bit codes, %s %d-bit ones: a fit is for one code length",
                       fitpath, duch_textenc_bits(te), path, bits);
        goto done;
    }
    if (!(api = duch_cli_model_api()))
        goto done;
    if (api->open(fitpath, &m) != DUCH_OK) {
        duch_cli_error("%s: %s", fitpath, m ? api->errmsg(m) : "out of memory");
        goto done;
    }
    api->set_threads(m, 0);
    if (load_split(data, split, api, m, te, quiet, &items, &ni, &qs, &nq, &refused, &cls, &nc))
        goto done;
    if (nq < 10 || nc < 2) {
        duch_cli_error("split \"%s\" has %d captions the model reads and %d classes: too few to fit",
                       split, nq, nc);
        goto done;
    }
    /* The rankings of every query: one per --present count, each with that many images of
     * the query's class left in (which ones turns with the query), and as many where the
     * class is absent, so that present and absent weigh the same in the fit. */
    int nv = 2 * nkeep, nr = nq * nv;
    rk = calloc((size_t)nr, sizeof *rk);
    cand *cd = malloc((size_t)ni * sizeof *cd);
    int *pos = malloc((size_t)ni * sizeof *pos), *csize = calloc((size_t)nc, sizeof *csize);
    if (!rk || !cd || !pos || !csize) {
        free(cd), free(pos), free(csize);
        duch_cli_error("out of memory");
        goto done;
    }
    for (int i = 0; i < ni; i++)
        pos[i] = csize[items[i].cls]++;
    for (int q = 0; q < nq; q++) {
        for (int i = 0; i < ni; i++)
            cd[i] = (cand){(int)duch_hamming(qs[q].code, items[i].code, (size_t)bits / 8), i};
        qsort(cd, (size_t)ni, sizeof *cd, cand_cmp);
        int m = csize[qs[q].cls];
        for (int v = 0; v < nv; v++) {
            ranking *r = &rk[q * nv + v];
            int cap = (int)(sizeof r->d / sizeof r->d[0]);
            int kept = v < nkeep ? (keep[v] && keep[v] < m ? keep[v] : m) : 0;
            r->present = kept > 0;
            for (int i = 0; i < ni && r->n < cap; i++) {
                int right = items[cd[i].i].cls == qs[q].cls;
                if (right && (pos[cd[i].i] + q) % m >= kept) /* this image is left out */
                    continue;
                r->d[r->n] = cd[i].d;
                r->right[r->n++] = (unsigned char)right;
            }
        }
    }
    free(cd), free(pos), free(csize);
    /* baseline: the raw top-1 distance */
    double *top = malloc((size_t)nr * 2 * sizeof *top);
    if (!top) {
        duch_cli_error("out of memory");
        goto done;
    }
    for (int q = 0; q < nr; q++)
        top[q] = -rk[q].d[0];
    double raw = auroc_present(rk, nr, top, top + nr);
    free(top);
    int best = 0;
    double bw[3] = {0, 0, 0}, bau = -1;
    for (int R = RANK_MIN; R <= RANK_MAX; R++) {
        double w[3], au = 0;
        if (fit_rank(rk, nr, bits, R, w, &au) != DUCH_OK)
            continue;
        if (!quiet)
            printf("crowd rank %d: w = (%.4f, %.4f, %.4f), present/absent AUROC %.4f\n", R, w[0], w[1],
                   w[2], au);
        if (au > bau)
            bau = au, best = R, memcpy(bw, w, sizeof bw);
    }
    if (!best) {
        duch_cli_error("the fit did not converge on split \"%s\"", split);
        goto done;
    }
    duch_confidence conf = {best, {bw[0], bw[1], bw[2]}};
    if (!quiet) {
        printf("split %s: %d images, %d classes, %d captions (%d refused); raw top-1 distance "
               "AUROC %.4f\n", split, ni, nc, nq, refused, raw);
        printf("chosen: crowd rank %d, AUROC %.4f\n", best, bau);
        reliability(rk, nr, bits, &conf, stdout);
    }
    if (relpath) {
        FILE *f = fopen(relpath, "w");
        if (!f || reliability(rk, nr, bits, &conf, f) || fclose(f) != 0) {
            duch_cli_error("cannot write %s: %s", relpath, strerror(errno));
            goto done;
        }
    }
    /* the split name as a JSON string (it came from the command line) */
    char sj[256];
    size_t k = 0;
    for (const char *s = split; *s && k + 7 < sizeof sj; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sj[k++] = '\\', sj[k++] = (char)ch;
        else if (ch < 0x20)
            k += (size_t)snprintf(sj + k, sizeof sj - k, "\\u%04x", ch);
        else
            sj[k++] = (char)ch;
    }
    sj[k] = 0;
    char pj[128] = "";
    for (int v = 0; v < nkeep; v++)
        snprintf(pj + strlen(pj), sizeof pj - strlen(pj), "%s%d", v ? "," : "", keep[v]);
    char json[1600];
    snprintf(json, sizeof json,
             "{\"crowd_rank\":%d,\"w\":[%.17g,%.17g,%.17g],\"split\":\"%s\",\"images\":%d,"
             "\"queries\":%d,\"present\":[%s],\"auroc\":%.4f,\"raw_auroc\":%.4f,"
             "\"fitted_with\":\"%s\"}",
             best, bw[0], bw[1], bw[2], sj, ni, nq, pj, bau, raw, duch_textenc_id(te));
    unsigned char *o = NULL;
    size_t on = 0;
    char err[512];
    if (duch_modelfile_with_member(blob, n, "confidence", json, &o, &on, err, sizeof err) != DUCH_OK) {
        duch_cli_error("%s: %s", path, err);
        goto done;
    }
    if (duch_cli_write_file(outpath, o, on)) {
        free(o);
        goto done;
    }
    free(o);
    if (!quiet)
        fprintf(stderr, "duch: %s: confidence fitted on %d captions of split %s (crowd rank %d)\n",
                outpath, nq, split, best);
    status = 0;
done:
    free(rk);
    for (int i = 0; items && i < ni; i++)
        free(items[i].code);
    free(items);
    free(qs);
    for (int i = 0; cls && i < nc; i++)
        free(cls[i]);
    free(cls);
    if (api && m)
        api->close(m);
    duch_textenc_close(te);
    duch_textenc_close(mte);
    free(blob);
    return status;
}
