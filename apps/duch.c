/* duch.c: the duch command line, a table of subcommands. */
#include "config.h"
#include "cli.h"

#include <gdal.h>
#include <stdio.h>
#include <string.h>

/* Subcommands live in apps/cmd_*.c; each one is listed here once it works. */
/* DUCH-CMD-DECLS (one line per subcommand below this marker) */
int duch_cmd_train(int argc, char **argv);
int duch_cmd_eval(int argc, char **argv);
int duch_cmd_encode(int argc, char **argv);
int duch_cmd_info(int argc, char **argv);
int duch_cmd_index(int argc, char **argv);
int duch_cmd_query(int argc, char **argv);
int duch_cmd_optimize(int argc, char **argv);
int duch_cmd_aliases(int argc, char **argv);
int duch_cmd_calibrate(int argc, char **argv);

static const struct {
    const char *name;
    duch_cmd_fn fn;
    const char *summary;
} commands[] = {
    /* DUCH-CMD-TABLE (one line per subcommand below this marker) */
    {"train", duch_cmd_train, "train a DUCH model from image-caption pairs"},
    {"eval", duch_cmd_eval, "mAP@20 of a model on a captioned data set (the paper's protocol)"},
    {"encode", duch_cmd_encode, "print the hash codes of texts or images"},
    {"info", duch_cmd_info, "describe a model file or an archive"},
    {"index", duch_cmd_index, "tile scenes and add their codes to an archive"},
    {"query", duch_cmd_query, "rank an archive's tiles by distance to a text or image"},
    {"optimize", duch_cmd_optimize, "rebuild an archive's packed code blocks (fast first query)"},
    {"aliases", duch_cmd_aliases, "add a WordNet alias table to a model (words it does not know)"},
    {"calibrate", duch_cmd_calibrate, "fit the confidence of hits on held-out pairs, into a model"},
    {NULL, NULL, NULL}};

static void usage(FILE *f)
{
    fprintf(f, "usage: duch [--help] [--version] COMMAND [ARGS]\n\n"
               "Text-to-tile search over archives of georeferenced imagery (DUCH hashing).\n\n"
               "Commands:\n");
    for (int i = 0; commands[i].name; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'duch COMMAND --help' describes each command. See also man duch.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("duch %s (GDAL %s)\n", PACKAGE_VERSION, GDALVersionInfo("RELEASE_NAME"));
        return 0;
    }
    for (int i = 0; commands[i].name; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            GDALAllRegister();
            int rc = commands[i].fn(argc - 1, argv + 1);
            GDALDestroyDriverManager();
            return rc;
        }
    duch_cli_error("unknown command '%s' (see duch --help)", argv[1]);
    return 2;
}
