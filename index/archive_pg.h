/* archive_pg.h: the PostGIS form of the archive (index/archive_pg.c), behind the
 * duch_archive_* functions of duch_index.h: an archive named "PG:conninfo" is this one.
 * Internal to index/ (hidden in libduch). Every function mirrors the duch_archive_* one of
 * the same name (see duch_index.h); messages go to the handle (pga_errmsg). */
#ifndef DUCH_ARCHIVE_PG_H
#define DUCH_ARCHIVE_PG_H

#include "duch_index.h"

#define PGA_HIDDEN __attribute__((visibility("hidden")))

typedef struct pga pga;

PGA_HIDDEN int pga_open(const char *name, int flags, pga **out);
PGA_HIDDEN void pga_close(pga *p);
PGA_HIDDEN const char *pga_errmsg(const pga *p);
PGA_HIDDEN void pga_set_msg(pga *p, const char *msg);
/* the archive's name with any password masked, for messages */
PGA_HIDDEN const char *pga_name(const pga *p);
PGA_HIDDEN int pga_set_model(pga *p, const void *blob, size_t size, const char *id, int bits);
PGA_HIDDEN int pga_get_model(pga *p, const void **blob, size_t *size, const char **id, int *bits);
PGA_HIDDEN int pga_bits(pga *p);
PGA_HIDDEN int pga_find_scene(pga *p, const char *path, const char *checksum, int64_t *scene_id);
PGA_HIDDEN int pga_scene_status(pga *p, const char *path, const char *checksum,
                                duch_scene_status *out);
PGA_HIDDEN int pga_begin_scene(pga *p, const duch_scene_record *s, int64_t *scene_id);
PGA_HIDDEN int pga_resume_scene(pga *p, const char *path, const char *checksum,
                                const duch_scene_status *expect);
PGA_HIDDEN int pga_continue_scene(pga *p, int64_t scene_id);
PGA_HIDDEN int pga_add_tile(pga *p, int64_t scene_id, int x_off, int y_off, int width, int height,
                            const unsigned char *code, const double *ring, int npoints,
                            int64_t *tile_id);
PGA_HIDDEN int pga_commit_chunk(pga *p, int last);
PGA_HIDDEN int pga_rollback_scene(pga *p);
PGA_HIDDEN int pga_release_scene(pga *p, int64_t scene_id);
PGA_HIDDEN int pga_check_codes(pga *p);
PGA_HIDDEN int pga_counts(pga *p, int done, int64_t *scenes, int64_t *tiles);
PGA_HIDDEN int pga_extent(pga *p, double extent[4]);
PGA_HIDDEN int pga_save_hits(pga *p, const char *name, const char *query,
                             const duch_saved_hit *hits, int n);
PGA_HIDDEN int pga_meta_get(pga *p, const char *key, const char **value);
PGA_HIDDEN int pga_meta_set(pga *p, const char *key, const char *value);
PGA_HIDDEN int pga_search(pga *p, const unsigned char *query, size_t qlen, const double *bbox,
                          size_t k, duch_hit *hits, size_t *nhits);
PGA_HIDDEN int pga_search_info(pga *p, duch_engine_info *out);
PGA_HIDDEN int pga_tile(pga *p, int64_t tile_id, duch_tile_record *out);
PGA_HIDDEN int pga_optimize(pga *p, int64_t *ntiles);
PGA_HIDDEN int pga_scenes(pga *p, duch_scene_grid **out, size_t *n);
PGA_HIDDEN int pga_scene_tiles(pga *p, int64_t scene_id, int with_box, duch_tile_fn fn, void *arg);

#endif
