/* cmd_optimize.c: duch optimize ARCHIVE — rebuild the packed code blocks that make the
 * first query of a connection fast (docs/archive.md, "Packed code blocks"). */
#include "config.h"
#include "cli.h"
#include "duch_index.h"

#include <getopt.h>
#include <stdio.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: duch optimize [-q] ARCHIVE\n"
        "\n"
        "Rebuild the packed code blocks that the archive keeps beside its tiles, so that the\n"
        "first query of every new connection (each duch query, ogr2ogr or QGIS layer) reads\n"
        "the codes in one sequential pass. duch index keeps the blocks current by itself;\n"
        "run this after the tiles were changed by other SQL (sqlite3, QGIS editing, ogr2ogr\n"
        "-update): until then queries stay exact but read every tile row. duch info ARCHIVE\n"
        "says which is the case. One write transaction: an interrupted run changes nothing.\n"
        "\n"
        "options:\n"
        "  -q, --quiet  no progress or summary\n"
        "  -h, --help   this help\n");
}

int duch_cmd_optimize(int argc, char **argv)
{
    static const struct option lo[] = {{"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'q': quiet = 1; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        duch_cli_error("optimize needs exactly one archive (see duch optimize --help)");
        return 2;
    }
    const char *path = argv[optind];
    duch_archive *a = NULL;
    int rc = duch_archive_open(path, DUCH_ARCHIVE_READWRITE, &a);
    if (rc != DUCH_OK) {
        duch_cli_error("%s", duch_archive_errmsg(a));
        duch_archive_close(a);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t n = 0;
    rc = duch_archive_optimize(a, quiet ? NULL : duch_cli_progress(), NULL, &n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != DUCH_OK) {
        duch_cli_error("%s", duch_archive_errmsg(a));
        duch_archive_close(a);
        return 1;
    }
    if (!quiet)
        fprintf(stderr, duch_archive_is_pg(path)
                            ? "duch: %s: analyzed the tables of %lld tiles in %.2f s (PostgreSQL keeps no code blocks)\n"
                            : "duch: %s: packed %lld tile codes in %.2f s\n",
                duch_archive_path(a), (long long)n,
                (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    duch_archive_close(a);
    return 0;
}
