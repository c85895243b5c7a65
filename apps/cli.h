/* cli.h: what the duch subcommands share (apps/ only, not installed). */
#ifndef DUCH_CLI_H
#define DUCH_CLI_H
#include "duch_model.h"
#include "duch_json.h"

#include <stdio.h>

/* Every subcommand: int duch_cmd_NAME(int argc, char **argv), argv[0] = "NAME".
 * Returns the process exit status: 0 ok, 1 failure, 2 usage error. */
typedef int (*duch_cmd_fn)(int argc, char **argv);

/* Print "duch: " + message + newline to stderr. */
void duch_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress for long work: GDAL's terminal bar when stderr is a terminal and
 * DUCH_QUIET is unset, else NULL (no output). Pass with NULL as its argument. */
duch_progress_fn duch_cli_progress(void);
/* Before a message on stderr: end the line the progress bar is drawing, if any (so that
 * messages neither run into the bar nor stand between blank lines). */
void duch_cli_end_bar_line(void);
/* Parse an int / double option value; on error print a message naming opt, return -1. */
int duch_cli_int(const char *opt, const char *val, long lo, long hi, long *out);
int duch_cli_double(const char *opt, const char *val, double *out);
/* Write s as a JSON string (quoted, escaped); NULL writes "". */
void duch_cli_json_str(FILE *f, const char *s);
/* Write n bytes to path whole or not at all: into a file beside it, flushed to disk, then
 * renamed over it (path may be the file the data was read from). A path that is a device
 * or a pipe (/dev/null, /dev/stdout) is written to, never replaced. Prints the error and
 * returns -1 on failure, leaving path as it was. */
int duch_cli_write_file(const char *path, const void *data, size_t n);
/* path exists and is no regular file (a device, a pipe, a folder): written into, never
 * renamed over or read back */
int duch_cli_not_regular(const char *path);
/* Put the finished file tmp at path: renamed over it, or, when path is a device or a pipe,
 * copied into it and removed. Prints the error and returns -1 on failure (tmp is left). */
int duch_cli_place_file(const char *tmp, const char *path);
/* The model table, loaded on first call; prints the loader's error and returns NULL. */
const duch_model_api *duch_cli_model_api(void);

/* duch info on an archive (apps/cmd_info_archive.c); returns the exit status. */
int duch_info_archive(const char *path);

/* --splits LIST: "train", "query", "retrieval" (a comma list of them) or "all" as a mask
 * (1, 2, 4); -1 after an error message */
int duch_cli_splits(const char *s, int *mask);

/* DIR/captions.json parsed (free with duch_json_free) and its "images" array in *images;
 * NULL after an error message */
duch_json *duch_cli_captions(const char *dir, const duch_json **images);

#endif
