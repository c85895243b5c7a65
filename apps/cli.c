/* cli.c: helpers shared by the duch subcommands. */
#include "config.h"
#include "cli.h"
#include "duch_modelfile.h"

#include <cpl_progress.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void duch_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("duch: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int bar_open; /* the bar has drawn part of a line (GDALTermProgress ends it at 1.0) */

static int term_progress(double frac, const char *msg, void *arg)
{
    (void)arg;
    int r = GDALTermProgress(frac, msg, NULL);
    bar_open = frac < 1.0;
    return r;
}

void duch_cli_end_bar_line(void)
{
    if (bar_open) {
        fputc('\n', stderr);
        bar_open = 0;
    }
}

duch_progress_fn duch_cli_progress(void)
{
    const char *q = getenv("DUCH_QUIET");
    if ((q && *q) || !isatty(STDERR_FILENO))
        return NULL;
    return term_progress;
}

int duch_cli_int(const char *opt, const char *val, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = val ? strtol(val, &end, 10) : 0;
    if (!val || *val == '\0' || *end != '\0' || errno) {
        duch_cli_error("%s needs an integer, got '%s'", opt, val ? val : "");
        return -1;
    }
    if (v < lo || v > hi) {
        duch_cli_error("%s must be between %ld and %ld, got %ld", opt, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int duch_cli_double(const char *opt, const char *val, double *out)
{
    char *end;
    errno = 0;
    double v = val ? strtod(val, &end) : 0;
    if (!val || *val == '\0' || *end != '\0' || errno) {
        duch_cli_error("%s needs a number, got '%s'", opt, val ? val : "");
        return -1;
    }
    *out = v;
    return 0;
}

const duch_model_api *duch_cli_model_api(void)
{
    char err[2600];
    const duch_model_api *api = duch_model_load(err, sizeof err);
    if (!api)
        duch_cli_error("%s", err);
    return api;
}

void duch_cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int duch_cli_write_file(const char *path, const void *data, size_t n)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            duch_cli_error("cannot write %s: it is a folder", path);
            return -1;
        }
        /* a device or a pipe (/dev/null, /dev/stdout): written to, never replaced */
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(data, 1, n, f) == n && fflush(f) == 0;
        int en = errno;
        if (f && fclose(f) != 0 && ok)
            ok = 0, en = errno;
        if (!ok)
            duch_cli_error("cannot write %s: %s", path, strerror(en ? en : EIO));
        return ok ? 0 : -1;
    }
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp) {
        duch_cli_error("cannot write %s: out of memory", path);
        return -1;
    }
    snprintf(tmp, len, "%s.part%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int en = errno;
    if (f && fclose(f) != 0 && ok)
        ok = 0, en = errno;
    if (ok && rename(tmp, path) != 0)
        ok = 0, en = errno;
    if (!ok) {
        duch_cli_error("cannot write %s: %s", path, strerror(en ? en : EIO));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

int duch_cli_not_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

int duch_cli_place_file(const char *tmp, const char *path)
{
    if (!duch_cli_not_regular(path)) {
        if (rename(tmp, path) != 0) {
            duch_cli_error("cannot write %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    unsigned char *data = NULL;
    size_t n = 0;
    int en = 0;
    if (duch_file_read(tmp, &data, &n, &en) != DUCH_OK) {
        duch_cli_error("cannot read %s: %s", tmp, en ? strerror(en) : "read error");
        return -1;
    }
    int rc = duch_cli_write_file(path, data, n);
    free(data);
    if (rc == 0)
        unlink(tmp);
    return rc;
}

/* --splits LIST: train, query, retrieval (a comma list) or all, as a mask (1, 2, 4) */
int duch_cli_splits(const char *s, int *mask)
{
    if (!strcmp(s, "all")) {
        *mask = 7;
        return 0;
    }
    *mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "train"))
            *mask |= 1;
        else if (!strcmp(t, "query"))
            *mask |= 2;
        else if (!strcmp(t, "retrieval"))
            *mask |= 4;
        else {
            duch_cli_error("--splits: unknown split '%s' (train, query, retrieval or all)", t);
            return -1;
        }
    }
    if (!*mask) {
        duch_cli_error("--splits: no split named");
        return -1;
    }
    return 0;
}

duch_json *duch_cli_captions(const char *dir, const duch_json **images)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/captions.json", dir);
    unsigned char *text = NULL;
    size_t tn = 0;
    int en = 0;
    if (duch_file_read(path, &text, &tn, &en) != DUCH_OK) {
        duch_cli_error("cannot read %s: %s", path, en ? strerror(en) : "read error");
        return NULL;
    }
    duch_json *root = NULL;
    char err[256];
    int rc = duch_json_parse((const char *)text, tn, &root, err, sizeof err);
    free(text);
    if (rc != DUCH_OK) {
        duch_cli_error("%s: %s", path, err);
        return NULL;
    }
    *images = duch_json_get(root, "images");
    if (!*images || (*images)->type != DUCH_JSON_ARR) {
        duch_cli_error("%s: no \"images\" array", path);
        duch_json_free(root);
        return NULL;
    }
    return root;
}
