/* cmd_info.c: duch info FILE — describe a model file (.duchm) or an archive.
 * Archives (SQLite files) are described by duch_info_archive() in cmd_info_archive.c. */
#include "config.h"
#include "cli.h"
#include "duch_modelfile.h"
#include "duch_index.h"
#include "duch_json.h" /* model/json.c: reading info_json */
#include "duch_textenc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: duch info [--json | --vocabulary] MODEL|ARCHIVE\n"
        "\n"
        "Describe a model file (.duchm: format version, id, code bits, CNN input size, ground\n"
        "width of a training image, vocabulary size, architecture, training hyper-parameters)\n"
        "or an archive (SQLite file).\n"
        "\n"
        "options:\n"
        "  --json       for a model, print its description as one JSON object\n"
        "  --vocabulary print the words the model knows (of an archive: its stored model),\n"
        "               one per line; a query's other words are ignored\n"
        "  -h, --help   this help\n");
}

/* duch info --vocabulary: the words of a model (or of an archive's stored model), one per
 * line, through the C text encoder (no libtorch). */
static int print_vocabulary(const char *path, int is_archive)
{
    duch_textenc *te = NULL;
    int rc;
    if (is_archive) {
        duch_archive *a = NULL;
        const void *blob = NULL;
        size_t size = 0;
        rc = duch_archive_open(path, DUCH_ARCHIVE_READONLY, &a);
        if (rc == DUCH_OK)
            rc = duch_archive_get_model(a, &blob, &size, NULL, NULL);
        if (rc != DUCH_OK) {
            duch_cli_error("%s", duch_archive_errmsg(a));
            duch_archive_close(a);
            return 1;
        }
        rc = duch_textenc_open_blob(blob, size, &te);
        duch_archive_close(a);
    } else {
        rc = duch_textenc_open(path, &te);
    }
    if (rc != DUCH_OK) {
        duch_cli_error("%s: %s", path, te ? duch_textenc_errmsg(te) : "out of memory");
        duch_textenc_close(te);
        return 1;
    }
    for (int i = 0; i < duch_textenc_vocab_size(te); i++)
        printf("%s\n", duch_textenc_vocab_word(te, i));
    duch_textenc_close(te);
    return 0;
}

int duch_cmd_info(int argc, char **argv)
{
    static const struct option lo[] = {{"json", 0, 0, 'j'}, {"vocabulary", 0, 0, 'v'},
                                       {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, vocabulary = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'j': json = 1; break;
        case 'v': vocabulary = 1; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        duch_cli_error("info needs exactly one file (see duch info --help)");
        return 2;
    }
    const char *path = argv[optind];
    int is_archive = duch_archive_is_pg(path); /* PG:... names a PostGIS archive */
    if (!is_archive) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            duch_cli_error("cannot open %s", path);
            return 1;
        }
        char head[16] = {0};
        size_t got = fread(head, 1, sizeof head, f);
        fclose(f);
        is_archive = got == 16 && !memcmp(head, "SQLite format 3", 16);
    }
    if (vocabulary)
        return print_vocabulary(path, is_archive);
    if (is_archive)
        return duch_info_archive(path);
    const duch_model_api *api = duch_cli_model_api();
    if (!api)
        return 1;
    duch_model *m = NULL;
    int rc = api->open(path, &m);
    if (rc != DUCH_OK) {
        duch_cli_error("%s", m ? api->errmsg(m) : "out of memory");
        api->close(m);
        return 1;
    }
    char *js = api->info_json(m);
    if (!js) {
        duch_cli_error("%s", api->errmsg(m));
        api->close(m);
        return 1;
    }
    if (json)
        printf("%s\n", js);
    else {
        printf("file           %s\n", path);
        printf("kind           duch model (.duchm)\n");
        printf("id             %s\n", api->id(m));
        printf("bits           %d\n", api->bits(m));
        printf("input size     %d px\n", api->input_size(m));
        printf("tile ground    %.2f m (ground width of one training image)\n", api->tile_ground_m(m));
        duch_json *root = NULL;
        if (duch_json_parse(js, strlen(js), &root, NULL, 0) == DUCH_OK)
            printf("words          %.0f known, %.0f aliases (duch info --vocabulary lists the known"
                   " ones)\n", duch_json_num_or(root, "vocab_size", 0),
                   duch_json_num_or(root, "aliases", 0));
        duch_json_free(root);
        /* the confidence fit (docs/model.md, "Confidence"): in the header, read here */
        unsigned char *data = NULL;
        size_t n = 0;
        int en = 0;
        duch_modelfile mf;
        char err[256];
        if (duch_file_read(path, &data, &n, &en) == DUCH_OK &&
            duch_modelfile_read(data, n, &mf, err, sizeof err) == DUCH_OK) {
            const duch_json *c = duch_json_get(mf.header, "confidence");
            if (mf.has_confidence)
                printf("confidence     fitted: crowd rank %d, on split %s (%.0f queries, AUROC present/"
                       "absent %.4f) with model %s\n", mf.confidence.crowd_rank,
                       duch_json_str_or(c, "split", "?"), duch_json_num_or(c, "queries", 0),
                       duch_json_num_or(c, "auroc", 0), duch_json_str_or(c, "fitted_with", "?"));
            else
                printf("confidence     none (duch calibrate fits one)\n");
            duch_modelfile_free(&mf);
        }
        free(data);
        printf("details        %s\n", js);
    }
    free(js);
    api->close(m);
    return 0;
}
