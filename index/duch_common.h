/*
 * duch_common.h: the types every duch module shares: status codes and the progress
 * callback. Every public duch header includes it; it includes nothing but <stddef.h>.
 *
 * This header compiles as plain C99 and C++.
 */
#ifndef DUCH_COMMON_H
#define DUCH_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes shared by every duch module. */
enum duch_status {
    DUCH_OK = 0,
    DUCH_ERROR = 1,        /* generic failure; see the message */
    DUCH_NOMEM = 2,        /* out of memory */
    DUCH_IO = 3,           /* file could not be read or written */
    DUCH_CORRUPT = 4,      /* file is damaged, truncated, or fails its checksum */
    DUCH_VERSION = 5,      /* file written by a newer, unknown format version */
    DUCH_INVALID = 6,      /* bad argument */
    DUCH_NOTFOUND = 7,     /* missing file, table, model, library... */
    DUCH_INTERRUPTED = 8,  /* a progress callback returned 0 */
    DUCH_MISMATCH = 9,     /* e.g. a model that does not match an archive */
    DUCH_READONLY = 10,    /* write attempted on a read-only file */
    DUCH_EXISTS = 11       /* already there: e.g. a scene indexed, or being indexed, by
                              another writer */
};

/* Progress callback, the same shape as GDALProgressFunc: frac in [0,1], message may be
 * NULL; return 0 to cancel (the operation then returns DUCH_INTERRUPTED). */
typedef int (*duch_progress_fn)(double frac, const char *msg, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_COMMON_H */
