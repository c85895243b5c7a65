/* cmd_info_archive.c: the archive part of `duch info ARCHIVE` (apps/cmd_info.c calls it). */
#include "config.h"
#include "cli.h"
#include "duch_index.h"

#include <stdio.h>

/* Print a summary of the archive at path (declared in cli.h): schema version, creator,
 * model, scenes, tiles, code length and extent. Returns the exit status: 0, or 1 with a
 * message on stderr. */
int duch_info_archive(const char *path)
{
    duch_archive *a = NULL;
    int rc = duch_archive_open(path, DUCH_ARCHIVE_READONLY, &a);
    if (rc != DUCH_OK) {
        duch_cli_error("%s", duch_archive_errmsg(a));
        duch_archive_close(a);
        return 1;
    }
    int status = 1;
    const char *v = NULL;
    printf("archive:        %s\n", duch_archive_path(a)); /* a password masked */
    if (duch_archive_meta_get(a, "schema_version", &v) == DUCH_OK)
        printf("schema version: %s\n", v);
    if (duch_archive_meta_get(a, "created_by", &v) == DUCH_OK) {
        printf("created by:     %s", v);
        if (duch_archive_meta_get(a, "created_at", &v) == DUCH_OK)
            printf(", %s", v);
        printf("\n");
    }
    const char *id = NULL;
    size_t size = 0;
    int bits = 0;
    rc = duch_archive_get_model(a, NULL, &size, &id, &bits);
    if (rc == DUCH_OK)
        printf("model:          %s (%d-bit codes, %zu bytes stored)\n", id, bits, size);
    else if (rc == DUCH_NOTFOUND)
        printf("model:          none yet\n");
    else
        goto fail;
    int64_t scenes = 0, tiles = 0;
    if (duch_archive_counts(a, &scenes, &tiles) != DUCH_OK)
        goto fail;
    printf("scenes:         %lld\n", (long long)scenes);
    printf("tiles:          %lld\n", (long long)tiles);
    int64_t iscenes = 0, itiles = 0;
    if (duch_archive_incomplete(a, &iscenes, &itiles) != DUCH_OK)
        goto fail;
    if (iscenes)
        printf("incomplete:     %lld scenes, %lld tiles so far (being indexed, or interrupted: "
               "run the same duch index again to resume)\n", (long long)iscenes, (long long)itiles);
    int damaged = bits && duch_archive_check_codes(a) != DUCH_OK;
    if (damaged)
        printf("codes:          DAMAGED: %s\n", duch_archive_errmsg(a));
    if (bits)
        printf("bits:           %d\n", bits);
    duch_engine_info ei;
    if (duch_archive_is_pg(path)) {
        if (duch_archive_search_info(a, &ei) == DUCH_OK)
            printf("search:         %s\n", ei.why_rows);
    } else if (duch_archive_blocks_current(a))
        printf("search:         packed code blocks, current (fast first query)\n");
    else
        printf("search:         reads the rows: %s\n", duch_archive_errmsg(a));
    double ext[4];
    rc = duch_archive_extent(a, ext);
    if (rc == DUCH_OK)
        printf("extent:         %.6f %.6f %.6f %.6f (min lon, min lat, max lon, max lat; EPSG:4326)\n",
               ext[0], ext[1], ext[2], ext[3]);
    else if (rc == DUCH_NOTFOUND)
        printf("extent:         none (no tiles)\n");
    else
        goto fail;
    status = damaged ? 1 : 0;
    goto finish;
fail:
    duch_cli_error("%s", duch_archive_errmsg(a));
finish:
    duch_archive_close(a);
    return status;
}
