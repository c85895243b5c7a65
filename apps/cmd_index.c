/* cmd_index.c: duch index — tile scenes, encode the tiles, store them in an archive. */
#include "config.h"
#include "cli.h"
#include "duch_index.h" /* duch_archive_display_name */
#include "duch_pipeline.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: duch index [options] ARCHIVE SCENE... (or @FILELIST)\n"
        "\n"
        "Cut each scene into tiles, encode them with the model and store codes and\n"
        "footprints in ARCHIVE (a SpatiaLite file, created when missing). Scenes already\n"
        "in the archive are skipped, and a scene that an interrupted run began is resumed\n"
        "after its last stored tile: run the same command again. Long scenes are committed\n"
        "in chunks; SIGINT (Ctrl-C) or SIGTERM stops after the current chunk, a second\n"
        "one at once (the archive stays consistent either way).\n"
        "@FILELIST reads scene paths from a file, one per line ('#' starts a comment).\n"
        "\n"
        "options:\n"
        "  --model FILE      model for a new archive (default: the installed default model);\n"
        "                    an existing archive keeps its own and refuses another\n"
        "  --tile-size PX    tile side in source pixels (default: the model's ground footprint)\n"
        "  --overlap PX      overlap of neighbouring tiles in source pixels (default 0)\n"
        "  --bands LIST      bands to use as R,G,B (e.g. 3,2,1) or one band (e.g. 1)\n"
        "  --min-valid F     skip tiles with less than this valid fraction (default 0.5)\n"
        "  --allow-pixel     index rasters without georeferencing (tiles get no footprint)\n"
        "  -j, --jobs N      scenes indexed at the same time (default 1)\n"
        "  --threads N       threads for the model (default: all cores / jobs)\n"
        "  --batch N         tiles per encoding batch (default 32)\n"
        "  --chunk N         commit a scene every N tiles (default 1024; at least every 30 s)\n"
        "  -q, --quiet       no progress bar, summary or warnings (errors still print)\n"
        "  -h, --help        this help\n");
}

typedef struct {
    int quiet;
    duch_progress_fn bar;    /* the terminal progress bar, or NULL */
} index_ctx;

/* SIGINT / SIGTERM: the first asks the run to stop after the current chunk (the progress
 * callback returns 0), the second kills at once (default action restored). */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
    static const char m[] = "\nduch: stopping after the current chunk (again to stop at once)\n";
    ssize_t w = write(STDERR_FILENO, m, sizeof m - 1);
    (void)w;
    signal(sig, SIG_DFL);
}

static int index_progress(double frac, const char *msg, void *arg)
{
    const index_ctx *c = arg;
    if (stop_signal)
        return 0;
    return c->bar ? c->bar(frac, msg, NULL) : 1;
}

/* The library names options in neutral words; say which flag of duch index that is. */
static const char *flag_hint(int status, const char *msg)
{
    if (!msg)
        return "";
    if (status == DUCH_INVALID && strstr(msg, "(allow_pixel)"))
        return " (duch index --allow-pixel)";
    if (status == DUCH_MISMATCH && strstr(msg, "same tile size and overlap"))
        return " (give the same --tile-size and --overlap as the run that began it)";
    return "";
}

static void on_scene(const char *scene, int status, int skipped, long long tiles,
                     const char *msg, void *arg)
{
    index_ctx *c = arg;
    duch_cli_end_bar_line();
    if (status != DUCH_OK)
        fprintf(stderr, "duch: %s: %s%s\n", scene, msg ? msg : "failed", flag_hint(status, msg));
    else if (!c->quiet && skipped)
        fprintf(stderr, "duch: %s: %s\n", scene, msg ? msg : "already indexed, skipped");
    (void)tiles;
}

/* -q: no warnings either (a failed scene still says why) */
static void on_warning(const char *scene, const char *msg, void *arg)
{
    const index_ctx *c = arg;
    if (c->quiet)
        return;
    duch_cli_end_bar_line();
    fprintf(stderr, "duch: warning: %s: %s\n", scene, msg);
}

/* Append the lines of @file to the list. */
static int read_list(const char *file, char ***list, int *n, int *cap)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        duch_cli_error("cannot read scene list %s", file);
        return -1;
    }
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            char **nl = realloc(*list, sizeof **list * *cap);
            if (!nl) {
                fclose(f);
                return -1;
            }
            *list = nl;
        }
        (*list)[(*n)++] = strdup(s);
    }
    fclose(f);
    return 0;
}

int duch_cmd_index(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},   {"tile-size", required_argument, NULL, 't'},
        {"overlap", required_argument, NULL, 'o'}, {"bands", required_argument, NULL, 'b'},
        {"min-valid", required_argument, NULL, 'v'}, {"allow-pixel", no_argument, NULL, 'p'},
        {"jobs", required_argument, NULL, 'j'},    {"threads", required_argument, NULL, 'T'},
        {"batch", required_argument, NULL, 'B'},   {"quiet", no_argument, NULL, 'q'},
        {"chunk", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    duch_ingest_options o;
    duch_ingest_options_init(&o);
    index_ctx ctx = {0};
    int bands[3], nb = 0;
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model_path = optarg; break;
        case 't':
            if (duch_cli_int("--tile-size", optarg, 8, 1 << 20, &v)) return 2;
            o.tile_size = (int)v;
            break;
        case 'o':
            if (duch_cli_int("--overlap", optarg, 0, 1 << 20, &v)) return 2;
            o.overlap = (int)v;
            break;
        case 'b': {
            char *s = optarg, *end;
            nb = 0;
            while (*s) {
                long b = strtol(s, &end, 10);
                if (end == s || b < 1 || b > 65535 || nb == 3 || (*end && *end != ',')) {
                    duch_cli_error("--bands needs 1 or 3 band numbers like 3,2,1, got '%s'", optarg);
                    return 2;
                }
                bands[nb++] = (int)b;
                s = *end ? end + 1 : end;
            }
            if (nb != 1 && nb != 3) {
                duch_cli_error("--bands needs 1 or 3 band numbers like 3,2,1, got '%s'", optarg);
                return 2;
            }
            o.bands = bands;
            o.nbands = nb;
            break;
        }
        case 'v':
            if (duch_cli_double("--min-valid", optarg, &o.min_valid)) return 2;
            if (o.min_valid < 0 || o.min_valid > 1) {
                duch_cli_error("--min-valid must be between 0 and 1");
                return 2;
            }
            break;
        case 'p': o.allow_pixel = 1; break;
        case 'j':
            if (duch_cli_int("-j", optarg, 1, 256, &v)) return 2;
            o.jobs = (int)v;
            break;
        case 'T':
            if (duch_cli_int("--threads", optarg, 1, 1024, &v)) return 2;
            o.threads = (int)v;
            break;
        case 'B':
            if (duch_cli_int("--batch", optarg, 1, 4096, &v)) return 2;
            o.batch = (int)v;
            break;
        case 'C':
            if (duch_cli_int("--chunk", optarg, 1, 1 << 24, &v)) return 2;
            o.chunk_tiles = (int)v;
            break;
        case 'q': ctx.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind < 2) {
        usage(stderr);
        return 2;
    }
    const char *archive = argv[optind++];
    char **scenes = NULL;
    int n = 0, cap = 0, rc = 1;
    for (int i = optind; i < argc; i++) {
        if (argv[i][0] == '@') {
            if (read_list(argv[i] + 1, &scenes, &n, &cap))
                goto finish;
        } else {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                char **nl = realloc(scenes, sizeof *scenes * cap);
                if (!nl)
                    goto finish;
                scenes = nl;
            }
            scenes[n++] = strdup(argv[i]);
        }
    }
    if (n == 0) {
        duch_cli_error("no scene to index");
        rc = 2;
        goto finish;
    }
    o.on_scene = on_scene;
    o.on_warning = on_warning;
    o.cb_arg = &ctx;
    duch_ingest_stats st;
    char err[4096];
    ctx.bar = ctx.quiet ? NULL : duch_cli_progress();
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int irc = duch_ingest(archive, (const char *const *)scenes, n, &o, index_progress, &ctx,
                          &st, err, sizeof err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    duch_cli_end_bar_line();
    if (!ctx.quiet) {
        double busy = st.t_read + st.t_encode + st.t_write;
        char *shown = duch_archive_display_name(archive); /* a password masked */
        fprintf(stderr,
                "%s: %d scenes indexed, %d already there, %d failed; %lld tiles written, "
                "%lld skipped (below --min-valid); %.1f s, %.1f tiles/s",
                shown ? shown : archive, st.scenes_done, st.scenes_skipped, st.scenes_failed, st.tiles,
                st.tiles_skipped, st.seconds, st.seconds > 0 ? st.tiles / st.seconds : 0.0);
        free(shown);
        if (st.scenes_resumed)
            fprintf(stderr, "; %d resumed", st.scenes_resumed);
        if (busy > 0)
            fprintf(stderr, " (read %.0f%%, encode %.0f%%, write %.0f%%)",
                    100 * st.t_read / busy, 100 * st.t_encode / busy, 100 * st.t_write / busy);
        fputc('\n', stderr);
    }
    if (irc != DUCH_OK && !(irc == DUCH_ERROR && st.scenes_failed > 0))
        duch_cli_error("%s", err);
    rc = irc == DUCH_OK ? 0 : 1;
    if (irc == DUCH_INTERRUPTED && stop_signal)
        rc = 128 + stop_signal; /* as the shell reports a death by that signal */
finish:
    for (int i = 0; i < n; i++)
        free(scenes[i]);
    free(scenes);
    return rc;
}
