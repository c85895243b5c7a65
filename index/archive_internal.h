/* archive_internal.h: shared inside index/ and with index/'s own tests (not installed,
 * hidden in libduch). Outside index/ nothing speaks SQL to an archive: use duch_index.h. */
#ifndef DUCH_ARCHIVE_INTERNAL_H
#define DUCH_ARCHIVE_INTERNAL_H

#include "duch_index.h"

/* The archive's SQLite connection (owned by a). */
__attribute__((visibility("hidden"))) struct sqlite3 *duch_archive_db(duch_archive *a);

/* 1 when main's schema holds an object of that type ('table', 'index', 'trigger') and
 * name (index/engine.c). */
__attribute__((visibility("hidden"))) int duch_db_has_object(struct sqlite3 *db, const char *type,
                                                             const char *name);

#endif
