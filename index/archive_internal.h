/* archive_internal.h: for index/'s own tests only (not installed, hidden in libduch).
 * Outside index/ nothing speaks SQL to an archive: use duch_index.h. */
#ifndef DUCH_ARCHIVE_INTERNAL_H
#define DUCH_ARCHIVE_INTERNAL_H

#include "duch_index.h"

/* The archive's SQLite connection (owned by a). */
__attribute__((visibility("hidden"))) struct sqlite3 *duch_archive_db(duch_archive *a);

#endif
