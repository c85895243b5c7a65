/* ingest.c: scene -> tiler -> model -> archive (duch_ingest). See duch_pipeline.h.
 *
 * Indexing with -j N: N worker threads each take the next scene, open their own tiler
 * (GDAL handle) and model handle, and tile and encode it, keeping only the windows,
 * codes and footprints of the current chunk in memory (~300 bytes a tile, no pixels).
 * Every chunk (1024 tiles, or 30 s of encoding) is written under the archive lock in
 * its own transaction; the scene is marked complete with its last chunk, so a small
 * scene is one transaction. An interrupted scene (progress returned 0, SIGINT in the
 * CLI) keeps its committed chunks and is released; a killed one keeps them too, and
 * the next run resumes after its last stored tile (duch_tiler_skip_past). Whether a
 * scene is in the archive already is asked before tiling and asked again under the
 * write lock (duch_archive_begin_scene), so a scene is stored once whatever runs at the
 * same time. A new archive is created at the first write: a run that writes nothing
 * (every scene failed) leaves no file. */
#include "config.h"
#include "duch_utf8.h"
#include "duch_pipeline.h"
#include "pipeline_internal.h"
#include "duch_index.h"
#include "duch_tiler.h"
#include "duch_textenc.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#define DEFAULT_BATCH 32
#define DEFAULT_CHUNK 1024   /* tiles per committed chunk of a scene */
#define CHUNK_SECONDS 30.0   /* ... or at most this much encoding time */

/* ============================================================== indexing */

void duch_ingest_options_init(duch_ingest_options *o)
{
    memset(o, 0, sizeof *o);
    o->min_valid = 0.5;
    o->jobs = 1;
}

typedef struct tile_rec {
    int x_off, y_off, width, height;
    int npoints;
    double *ring;            /* 2 * npoints doubles, or NULL */
} tile_rec;

typedef struct ingest_run {
    const duch_model_api *api;
    const duch_ingest_options *opt;
    const char *archive_path;
    const char *const *scenes;
    int nscenes;
    const unsigned char *model_blob;
    size_t model_size;
    char model_id[64];
    int bits;
    double tile_ground_m;
    int input_size;
    int model_threads;
    int chunk;                /* tiles per committed chunk */
    duch_progress_fn progress;
    void *progress_arg;

    /* Callbacks (progress, on_scene, on_warning) run one at a time under cb_lock, which
     * guards nothing else, and never with lock held: a slow callback does not stop the
     * other workers' writes. cb_lock is taken before lock, never after. It is recursive:
     * a callback may raise a GDAL error that the tiler's error handler turns into a
     * warning callback on the same thread. */
    pthread_mutex_t cb_lock;
    double reported;          /* the last fraction passed to progress (under cb_lock) */

    pthread_mutex_t lock;     /* guards everything below and the archive */
    duch_archive *archive;    /* NULL until the first chunk is written (a run that
                                 writes nothing creates nothing) */
    int next_scene;
    double *scene_frac;       /* per scene progress 0..1 */
    int cancelled;
    int fatal;                /* a fatal status (archive write failure) */
    char fatal_msg[1024];
    duch_ingest_stats stats;
} ingest_run;

/* Tell the caller how far the run is; called without lock. Returns 0 when the run is
 * to stop (cancelled now or before, or a fatal error). */
static int report_progress(ingest_run *r)
{
    pthread_mutex_lock(&r->cb_lock);
    pthread_mutex_lock(&r->lock);
    double sum = 0;
    for (int i = 0; i < r->nscenes; i++)
        sum += r->scene_frac[i];
    int go_on = !r->cancelled && !r->fatal;
    pthread_mutex_unlock(&r->lock);
    double frac = sum / r->nscenes;
    if (frac < r->reported) /* never backwards */
        frac = r->reported;
    if (go_on && r->progress) {
        r->reported = frac;
        if (!r->progress(frac, NULL, r->progress_arg)) {
            go_on = 0;
            pthread_mutex_lock(&r->lock);
            r->cancelled = 1;
            pthread_mutex_unlock(&r->lock);
        }
    }
    pthread_mutex_unlock(&r->cb_lock);
    return go_on;
}

static void warn_cb(const char *msg, void *arg)
{
    void **ctx = arg;
    ingest_run *r = ctx[0];
    const char *scene = ctx[1];
    if (r->opt->on_warning) {
        pthread_mutex_lock(&r->cb_lock);
        r->opt->on_warning(scene, msg, r->opt->cb_arg);
        pthread_mutex_unlock(&r->cb_lock);
    }
}

static void scene_done(ingest_run *r, const char *scene, int status, int skipped,
                       long long tiles, const char *msg)
{
    if (r->opt->on_scene) {
        pthread_mutex_lock(&r->cb_lock);
        r->opt->on_scene(scene, status, skipped, tiles, msg, r->opt->cb_arg);
        pthread_mutex_unlock(&r->cb_lock);
    }
}

/* Canonical name of a scene: an absolute path for local files, else as given. */
static char *scene_key(const char *path)
{
    if (strncmp(path, "/vsi", 4) != 0) {
        char *rp = realpath(path, NULL);
        if (rp)
            return rp;
    }
    return strdup(path);
}

/* Open (creating) the archive at the first write; the lock is held. */
static int ensure_archive_locked(ingest_run *r, char *msg, size_t msglen)
{
    if (r->archive)
        return DUCH_OK;
    duch_archive *a = NULL;
    int rc = duch_archive_open(r->archive_path, DUCH_ARCHIVE_READWRITE | DUCH_ARCHIVE_CREATE, &a);
    if (rc == DUCH_OK)
        rc = duch_archive_set_model(a, r->model_blob, r->model_size, r->model_id, r->bits);
    if (rc == DUCH_OK) /* another process may have made it meanwhile */
        rc = duch_archive_check_codes(a);
    if (rc != DUCH_OK) {
        pl_set_err(msg, msglen, "%s", a ? duch_archive_errmsg(a) : "out of memory");
        duch_archive_close(a);
        r->fatal = rc;
        duch_snprintf(r->fatal_msg, sizeof r->fatal_msg, "%s", msg);
        return rc;
    }
    r->archive = a;
    return DUCH_OK;
}

/* One scene being written. */
typedef struct scene_writer {
    duch_scene_record rec;
    int64_t scene_id;         /* 0 until its first chunk is written */
    int resume;               /* take over expect at the first chunk */
    duch_scene_status expect;
} scene_writer;

/* Write n encoded tiles as one chunk (last: the scene is complete). Returns DUCH_OK;
 * DUCH_EXISTS (msg says why) when the first chunk finds the scene taken by another
 * writer, or a later one finds it no longer ours; or a fatal write error. */
static int write_chunk(ingest_run *r, scene_writer *w, const tile_rec *recs,
                       const unsigned char *codes, size_t n, int last, char *msg, size_t msglen)
{
    size_t code_bytes = (size_t)r->bits / 8;
    pthread_mutex_lock(&r->lock);
    double tw = pl_now();
    int rc = ensure_archive_locked(r, msg, msglen);
    duch_archive *a = r->archive;
    if (rc != DUCH_OK)
        goto finish;
    if (w->scene_id == 0 && w->resume) {
        rc = duch_archive_resume_scene(a, w->rec.path, w->rec.checksum, &w->expect);
        if (rc == DUCH_OK)
            w->scene_id = w->expect.scene_id;
    } else if (w->scene_id == 0) {
        rc = duch_archive_begin_scene(a, &w->rec, &w->scene_id);
    } else {
        rc = duch_archive_continue_scene(a, w->scene_id);
    }
    if (rc == DUCH_EXISTS) {
        pl_set_err(msg, msglen, "%s", duch_archive_errmsg(a));
        goto finish;
    }
    for (size_t i = 0; rc == DUCH_OK && i < n; i++)
        rc = duch_archive_add_tile(a, w->scene_id, recs[i].x_off, recs[i].y_off, recs[i].width,
                                   recs[i].height, codes + i * code_bytes, recs[i].ring,
                                   recs[i].npoints, NULL);
    if (rc == DUCH_OK)
        rc = duch_archive_commit_chunk(a, last);
    if (rc != DUCH_OK) {
        pl_set_err(msg, msglen, "writing to the archive: %s", duch_archive_errmsg(a));
        duch_archive_rollback_scene(a); /* when a chunk is still open */
        if (w->scene_id)
            duch_archive_release_scene(a, w->scene_id);
        r->fatal = rc;
        duch_snprintf(r->fatal_msg, sizeof r->fatal_msg, "%s", msg);
    }
finish:
    r->stats.t_write += pl_now() - tw;
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* One scene being indexed by one worker: its tiler, its writer, and the current chunk
 * (windows, footprints and codes; the pixels of the batch not encoded yet are in
 * batch_rgb, the worker's). */
typedef struct scene_job {
    ingest_run *r;
    int si;                   /* index in r->scenes */
    duch_model *model;
    unsigned char *batch_rgb; /* batch tiles of input_size^2 RGB */
    char *msg;
    size_t msglen;
    void *wctx[2];            /* warn_cb's argument: run, scene */
    char *key;                /* scene_key() */
    duch_tiler *t;
    scene_writer w;

    int batch;
    size_t tile_bytes, code_bytes;
    tile_rec *recs;           /* chunk + 1 */
    unsigned char *codes;     /* code_bytes each */
    const unsigned char **ptrs;
    int *ws, *hs;
    size_t n;                 /* tiles of the current chunk, the last inbatch not encoded */
    int inbatch;
    long long written, skipped_tiles;
    double t_read, t_enc;
} scene_job;

static void free_rings(tile_rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(recs[i].ring);
        recs[i].ring = NULL;
    }
}

/* Open the scene's tiler with the run's options, and fill in its scene record. */
static int open_scene(scene_job *j)
{
    ingest_run *r = j->r;
    const duch_ingest_options *opt = r->opt;
    const char *path = r->scenes[j->si];
    duch_tiler_options to;
    duch_tiler_options_init(&to);
    to.tile_ground_m = r->tile_ground_m;
    to.tile_size_px = opt->tile_size;
    to.overlap_px = opt->overlap;
    if (opt->bands && opt->nbands > 0) {
        if (opt->nbands != 1 && opt->nbands != 3) {
            pl_set_err(j->msg, j->msglen, "%d bands given: give 1 band (gray) or 3 (R,G,B)",
                       opt->nbands);
            return DUCH_INVALID;
        }
        for (int i = 0; i < opt->nbands; i++)
            to.bands[i] = opt->bands[i];
        to.band_count = opt->nbands;
    }
    to.min_valid = opt->min_valid;
    to.allow_pixel = opt->allow_pixel;
    to.out_size = r->input_size;
    to.on_warning = warn_cb;
    to.warning_arg = j->wctx;
    int rc = duch_tiler_open(path, &to, &j->t);
    if (rc != DUCH_OK) {
        pl_set_err(j->msg, j->msglen, "%s", duch_tiler_errmsg(j->t));
        return rc;
    }
    const duch_scene_info *info = duch_tiler_info(j->t);
    duch_scene_record *rec = &j->w.rec;
    rec->path = j->key;
    rec->width = info->width;
    rec->height = info->height;
    rec->bands = info->band_count;
    rec->crs_wkt = info->crs_wkt && *info->crs_wkt ? info->crs_wkt : NULL;
    memcpy(rec->geotransform, info->geotransform, sizeof rec->geotransform);
    rec->checksum = info->checksum;
    rec->footprint = info->footprint_points ? info->footprint : NULL;
    rec->footprint_npoints = info->footprint_points;
    rec->tile_size = info->tile_w;
    rec->overlap = info->overlap;
    return DUCH_OK;
}

/* Is the scene in the archive already? Sets *skipped (complete, or another writer has
 * it: msg says so), or prepares the writer to resume an interrupted run's scene after
 * its last stored tile (*resumed). Checked again under the write lock at the first
 * chunk. */
static int check_stored(scene_job *j, int *skipped, int *resumed)
{
    ingest_run *r = j->r;
    const duch_scene_info *info = duch_tiler_info(j->t);
    duch_scene_status st;
    memset(&st, 0, sizeof st);
    pthread_mutex_lock(&r->lock);
    int rc = r->archive ? duch_archive_scene_status(r->archive, j->key, info->checksum, &st)
                        : DUCH_OK;
    if (rc != DUCH_OK)
        pl_set_err(j->msg, j->msglen, "%s", duch_archive_errmsg(r->archive));
    pthread_mutex_unlock(&r->lock);
    if (rc != DUCH_OK)
        return rc;
    if (st.state == DUCH_SCENE_COMPLETE || st.state == DUCH_SCENE_BUSY) {
        *skipped = 1;
        if (st.state == DUCH_SCENE_BUSY)
            pl_set_err(j->msg, j->msglen, "being indexed by another writer (%s), skipped",
                       st.writer);
        return DUCH_OK;
    }
    if (st.state != DUCH_SCENE_RESUMABLE)
        return DUCH_OK;
    if (st.tile_size != info->tile_w || st.overlap != info->overlap) {
        pl_set_err(j->msg, j->msglen,
                   "an interrupted run began this scene (scene %lld in the archive) with "
                   "%d px tiles and %d px overlap, this run asks for %d and %d: resume it "
                   "with the same tile size and overlap",
                   (long long)st.scene_id, st.tile_size, st.overlap, info->tile_w,
                   info->overlap);
        return DUCH_MISMATCH;
    }
    j->w.resume = 1;
    j->w.expect = st;
    *resumed = 1;
    if (st.tiles > 0 && (rc = duch_tiler_skip_past(j->t, st.last_x_off, st.last_y_off)))
        pl_set_err(j->msg, j->msglen, "resuming after tile (%d, %d): %s", st.last_x_off,
                   st.last_y_off, duch_tiler_errmsg(j->t));
    return rc;
}

static int alloc_chunk(scene_job *j)
{
    ingest_run *r = j->r;
    size_t cap = (size_t)r->chunk + 1;
    j->batch = r->opt->batch > 0 ? r->opt->batch : DEFAULT_BATCH;
    j->code_bytes = (size_t)r->bits / 8;
    j->tile_bytes = (size_t)r->input_size * r->input_size * 3;
    j->recs = calloc(cap, sizeof *j->recs);
    j->codes = malloc(cap * j->code_bytes);
    j->ptrs = malloc(sizeof *j->ptrs * j->batch);
    j->ws = malloc(sizeof *j->ws * j->batch);
    j->hs = malloc(sizeof *j->hs * j->batch);
    if (!j->recs || !j->codes || !j->ptrs || !j->ws || !j->hs) {
        pl_set_err(j->msg, j->msglen, "out of memory");
        return DUCH_NOMEM;
    }
    return DUCH_OK;
}

static void free_chunk(scene_job *j)
{
    if (j->recs)
        free_rings(j->recs, j->n);
    free(j->recs);
    free(j->codes);
    free(j->ptrs);
    free(j->ws);
    free(j->hs);
}

/* Keep a tile read into the batch (its pixels are in batch_rgb already). */
static int keep_tile(scene_job *j, const duch_tile *tile)
{
    j->skipped_tiles = tile->skipped;
    tile_rec *tr = &j->recs[j->n++];
    tr->x_off = tile->x_off;
    tr->y_off = tile->y_off;
    tr->width = tile->width;
    tr->height = tile->height;
    tr->npoints = tile->ring_points;
    tr->ring = NULL;
    j->inbatch++;
    if (tile->ring_points > 0) {
        size_t bytes = sizeof(double) * 2 * tile->ring_points;
        if (!(tr->ring = malloc(bytes))) {
            pl_set_err(j->msg, j->msglen, "out of memory");
            return DUCH_NOMEM;
        }
        memcpy(tr->ring, tile->ring, bytes);
    }
    return DUCH_OK;
}

/* Encode the tiles of the batch into the chunk's codes. */
static int encode_batch(scene_job *j)
{
    ingest_run *r = j->r;
    for (int i = 0; i < j->inbatch; i++) {
        j->ptrs[i] = j->batch_rgb + (size_t)i * j->tile_bytes;
        j->ws[i] = j->hs[i] = r->input_size;
    }
    double te = pl_now();
    int rc = r->api->encode_images(j->model, j->inbatch, j->ptrs, j->ws, j->hs,
                                   j->codes + (j->n - j->inbatch) * j->code_bytes);
    j->t_enc += pl_now() - te;
    if (rc != DUCH_OK) {
        pl_set_err(j->msg, j->msglen, "encoding tiles: %s", r->api->errmsg(j->model));
        return rc;
    }
    j->inbatch = 0;
    return DUCH_OK;
}

/* Commit the first n tiles of the chunk (all of them unless stopping early). */
static int commit(scene_job *j, size_t n, int last)
{
    int rc = write_chunk(j->r, &j->w, j->recs, j->codes, n, last, j->msg, j->msglen);
    if (rc == DUCH_OK)
        j->written += (long long)n;
    return rc;
}

/* Read, encode and write the scene's tiles to its end, chunk by chunk. */
static int tile_scene(scene_job *j)
{
    ingest_run *r = j->r;
    double last_report = 0, chunk_start = pl_now();
    for (;;) {
        duch_tile tile;
        double ta = pl_now();
        int trc = duch_tiler_next_into(j->t, &tile,
                                       j->batch_rgb + (size_t)j->inbatch * j->tile_bytes);
        j->t_read += pl_now() - ta;
        int rc = DUCH_OK;
        if (trc != DUCH_OK && trc != DUCH_TILER_DONE) {
            pl_set_err(j->msg, j->msglen, "%s", duch_tiler_errmsg(j->t));
            return trc;
        }
        if (trc == DUCH_OK && (rc = keep_tile(j, &tile)) != DUCH_OK)
            return rc;
        if (j->inbatch > 0 && (j->inbatch == j->batch || trc == DUCH_TILER_DONE ||
                               j->n >= (size_t)r->chunk) &&
            (rc = encode_batch(j)) != DUCH_OK)
            return rc;
        if (trc == DUCH_TILER_DONE)
            return commit(j, j->n, 1);
        double now = pl_now();
        /* A chunk is due when full, or after CHUNK_SECONDS; a claimed scene commits then
         * even with no new tile (long nodata stretches), which refreshes updated_at, the
         * heartbeat writers on other hosts go by. */
        if (j->inbatch == 0 && (j->n >= (size_t)r->chunk ||
                                ((j->n > 0 || j->w.scene_id) && now - chunk_start > CHUNK_SECONDS))) {
            if ((rc = commit(j, j->n, 0)) != DUCH_OK)
                return rc;
            free_rings(j->recs, j->n);
            j->n = 0;
            chunk_start = now;
        }
        if (now - last_report > 0.1) {
            last_report = now;
            pthread_mutex_lock(&r->lock);
            r->scene_frac[j->si] = 0.98 * duch_tiler_progress(j->t);
            pthread_mutex_unlock(&r->lock);
            if (!report_progress(r)) {
                /* Stop cleanly: keep what is encoded (the tiles read but not encoded yet
                 * are read again by the rerun), and leave the scene to be resumed. */
                pthread_mutex_lock(&r->lock);
                int fatal = r->fatal;
                pthread_mutex_unlock(&r->lock);
                size_t done = j->n - (size_t)j->inbatch;
                if (!fatal && done > 0)
                    commit(j, done, 0);
                pl_set_err(j->msg, j->msglen, "interrupted");
                return DUCH_INTERRUPTED;
            }
        }
    }
}

/* Index one scene, in chunks. Returns DUCH_OK, or a status with msg; *skipped when it
 * was in the archive already (msg then says how, or is empty). */
static int ingest_scene(ingest_run *r, int si, duch_model *model, unsigned char *batch_rgb,
                        char *msg, size_t msglen, int *skipped, int *resumed, long long *ntiles,
                        long long *nskipped_tiles)
{
    *skipped = 0;
    *resumed = 0;
    *ntiles = 0;
    *nskipped_tiles = 0;
    msg[0] = '\0';
    scene_job j = {.r = r, .si = si, .model = model, .batch_rgb = batch_rgb, .msg = msg,
                   .msglen = msglen, .wctx = {r, (void *)r->scenes[si]},
                   .key = scene_key(r->scenes[si])};
    int rc = DUCH_NOMEM;
    if (!j.key)
        pl_set_err(msg, msglen, "out of memory");
    else if ((rc = open_scene(&j)) == DUCH_OK && (rc = check_stored(&j, skipped, resumed)) == DUCH_OK &&
             !*skipped && (rc = alloc_chunk(&j)) == DUCH_OK)
        rc = tile_scene(&j);

    if (rc == DUCH_EXISTS && j.w.scene_id == 0) {
        *skipped = 1; /* another writer got there first; msg says who */
        rc = DUCH_OK;
    } else if (rc != DUCH_OK && j.w.scene_id) {
        /* interrupted or failed after some chunks: let the next run resume at once */
        pthread_mutex_lock(&r->lock);
        if (!r->fatal)
            duch_archive_release_scene(r->archive, j.w.scene_id);
        pthread_mutex_unlock(&r->lock);
    }
    if (rc == DUCH_OK && !*skipped)
        *nskipped_tiles = j.skipped_tiles;
    *ntiles = j.written;
    pthread_mutex_lock(&r->lock);
    r->stats.t_read += j.t_read;
    r->stats.t_encode += j.t_enc;
    pthread_mutex_unlock(&r->lock);
    free_chunk(&j);
    duch_tiler_close(j.t);
    free(j.key);
    return rc;
}

static void *ingest_worker(void *arg)
{
    ingest_run *r = arg;
    duch_model *model = NULL;
    char msg[2048] = "";
    int batch = r->opt->batch > 0 ? r->opt->batch : DEFAULT_BATCH;
    unsigned char *batch_rgb =
        malloc((size_t)batch * r->input_size * r->input_size * 3);
    int mrc = batch_rgb ? pl_model_from_blob(r->api, r->model_blob, r->model_size,
                                          "the archive's model", &model, msg, sizeof msg)
                        : DUCH_NOMEM;
    if (mrc == DUCH_OK)
        r->api->set_threads(model, r->model_threads);
    for (;;) {
        pthread_mutex_lock(&r->lock);
        if (r->cancelled || r->fatal || r->next_scene >= r->nscenes) {
            pthread_mutex_unlock(&r->lock);
            break;
        }
        int si = r->next_scene++;
        pthread_mutex_unlock(&r->lock);

        int skipped = 0, resumed = 0, rc;
        long long tiles = 0, tskip = 0;
        if (mrc != DUCH_OK)
            rc = mrc;
        else
            rc = ingest_scene(r, si, model, batch_rgb, msg, sizeof msg, &skipped, &resumed,
                              &tiles, &tskip);

        pthread_mutex_lock(&r->lock);
        r->scene_frac[si] = 1.0;
        if (rc == DUCH_INTERRUPTED) {
            r->stats.tiles += tiles; /* committed before the stop */
        } else if (rc == DUCH_OK && skipped) {
            r->stats.scenes_skipped++;
        } else if (rc == DUCH_OK) {
            r->stats.scenes_done++;
            r->stats.scenes_resumed += resumed;
            r->stats.tiles += tiles;
            r->stats.tiles_skipped += tskip;
        } else {
            r->stats.scenes_failed++;
        }
        pthread_mutex_unlock(&r->lock);
        if (rc != DUCH_INTERRUPTED)
            scene_done(r, r->scenes[si], rc, skipped, tiles, rc == DUCH_OK && !msg[0] ? NULL : msg);
        report_progress(r);
    }
    r->api->close(model);
    free(batch_rgb);
    return NULL;
}

/* The model for this run, as malloc'ed bytes (*data, *size; free them): the archive's
 * own when it has one (a given path must then hold the same model), else the file at
 * model_path or the installed default. When the archive exists but holds no model yet,
 * it is stored there. a may be NULL (no archive yet). */
static int ingest_model(const duch_model_api *api, duch_archive *a, const char *model_path,
                        unsigned char **data, size_t *size, char *err, size_t errlen)
{
    const void *stored = NULL;
    size_t stored_size = 0;
    const char *stored_id = NULL;
    int stored_bits = 0;
    int rc = a ? duch_archive_get_model(a, &stored, &stored_size, &stored_id, &stored_bits)
               : DUCH_NOTFOUND;
    if (rc != DUCH_OK && rc != DUCH_NOTFOUND) {
        pl_set_err(err, errlen, "%s", duch_archive_errmsg(a));
        return rc;
    }
    if (rc == DUCH_OK && !model_path) {
        *data = malloc(stored_size ? stored_size : 1);
        if (!*data) {
            pl_set_err(err, errlen, "out of memory");
            return DUCH_NOMEM;
        }
        memcpy(*data, stored, stored_size);
        *size = stored_size;
        return DUCH_OK;
    }
    int have_stored = rc == DUCH_OK;
    char *stored_copy = have_stored ? strdup(stored_id) : NULL;
    const char *path = model_path ? model_path : duch_default_model_path();
    unsigned char *buf = NULL;
    size_t n = 0;
    rc = pl_read_file(path, &buf, &n, err, errlen);
    if (rc != DUCH_OK) {
        if (!model_path && rc == DUCH_NOTFOUND)
            pl_set_err(err, errlen,
                    "the default model %s is missing (give a model file, or set "
                    "DUCH_DEFAULT_MODEL)", path);
        free(stored_copy);
        return rc;
    }
    duch_model *m = NULL;
    char what[1100];
    snprintf(what, sizeof what, "model %s", path);
    rc = pl_model_from_blob(api, buf, n, what, &m, err, errlen);
    if (rc == DUCH_OK) {
        const char *id = api->id(m);
        if (have_stored && strcmp(id, stored_copy) != 0) {
            pl_set_err(err, errlen,
                    "model %s (id %s) does not match the model this archive was made with "
                    "(id %s): codes of different models cannot be compared; use a new "
                    "archive, or no model file (the archive's own)", path, id, stored_copy);
            rc = DUCH_MISMATCH;
        } else if (a && !have_stored) {
            rc = duch_archive_set_model(a, buf, n, id, api->bits(m));
            if (rc != DUCH_OK)
                pl_set_err(err, errlen, "%s", duch_archive_errmsg(a));
        }
    }
    api->close(m);
    free(stored_copy);
    if (rc != DUCH_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *size = n;
    return DUCH_OK;
}

int duch_ingest(const char *archive, const char *const *scenes, int nscenes,
                const duch_ingest_options *opt_in, duch_progress_fn progress, void *progress_arg,
                duch_ingest_stats *stats, char *err, size_t errlen)
{
    duch_ingest_options defaults;
    const duch_ingest_options *opt = opt_in;
    if (!opt) {
        duch_ingest_options_init(&defaults);
        opt = &defaults;
    }
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (err && errlen)
        err[0] = '\0';
    if (!archive || !*archive || nscenes < 0 || (nscenes > 0 && !scenes)) {
        pl_set_err(err, errlen, "duch_ingest: an archive path and a scene list are needed");
        return DUCH_INVALID;
    }
    if (!(opt->min_valid >= 0 && opt->min_valid <= 1)) {
        pl_set_err(err, errlen, "the minimum valid fraction (min_valid) must be between 0 and 1, got %g", opt->min_valid);
        return DUCH_INVALID;
    }
    if (opt->tile_size < 0 || opt->overlap < 0 ||
        (opt->tile_size > 0 && opt->overlap >= opt->tile_size)) {
        pl_set_err(err, errlen, "the overlap must be >= 0 and smaller than the tile size");
        return DUCH_INVALID;
    }
    if (opt->chunk_tiles < 0) {
        pl_set_err(err, errlen, "the chunk size (chunk_tiles) must not be negative, got %d", opt->chunk_tiles);
        return DUCH_INVALID;
    }
    double t_start = pl_now();
    const duch_model_api *api = pl_model_api(err, errlen);
    if (!api)
        return DUCH_NOTFOUND;
    /* An existing archive is opened now (its model, its codes' check); a new one is made
     * at the first write, so that a run that writes nothing leaves nothing behind. */
    duch_archive *a = NULL;
    int rc = DUCH_OK;
    /* A PostGIS archive "exists" when its database holds the tables (DUCH_NOTFOUND: it does
     * not yet; a server that cannot be reached is DUCH_IO and stops the run here). */
    int pg = duch_archive_is_pg(archive);
    if (pg || access(archive, F_OK) == 0) {
        rc = duch_archive_open(archive, DUCH_ARCHIVE_READWRITE | (pg ? 0 : DUCH_ARCHIVE_CREATE), &a);
        if (rc == DUCH_OK)
            rc = duch_archive_check_codes(a);
        if (pg && rc == DUCH_NOTFOUND) { /* made at the first write, as a new file is */
            duch_archive_close(a);
            a = NULL;
            rc = DUCH_OK;
        } else if (rc != DUCH_OK) {
            pl_set_err(err, errlen, "%s", a ? duch_archive_errmsg(a) : "out of memory");
            duch_archive_close(a);
            return rc;
        }
    } else if ((rc = duch_archive_check_creatable(archive, err, errlen))) {
        return rc; /* checked before any work: the archive is created at the first write */
    }
    unsigned char *model_copy = NULL;
    size_t blob_size = 0;
    rc = ingest_model(api, a, opt->model_path, &model_copy, &blob_size, err, errlen);
    if (rc != DUCH_OK) {
        duch_archive_close(a);
        return rc;
    }
    duch_model *probe = NULL;
    rc = pl_model_from_blob(api, model_copy, blob_size, a ? "the archive's model" : "the model",
                         &probe, err, errlen);
    if (rc == DUCH_OK && a && duch_archive_bits(a) != api->bits(probe)) {
        pl_set_err(err, errlen, "%s: the archive records %d-bit codes but its stored model makes "
                "%d-bit codes: the archive is damaged", archive, duch_archive_bits(a),
                api->bits(probe));
        rc = DUCH_MISMATCH;
    }
    if (rc != DUCH_OK) {
        api->close(probe);
        free(model_copy);
        duch_archive_close(a);
        return rc;
    }

    ingest_run r;
    memset(&r, 0, sizeof r);
    r.api = api;
    r.opt = opt;
    r.archive_path = archive;
    r.scenes = scenes;
    r.nscenes = nscenes;
    r.model_blob = model_copy;
    r.model_size = blob_size;
    snprintf(r.model_id, sizeof r.model_id, "%s", api->id(probe));
    r.bits = api->bits(probe);
    r.tile_ground_m = api->tile_ground_m(probe);
    r.input_size = api->input_size(probe);
    r.chunk = opt->chunk_tiles > 0 ? opt->chunk_tiles : DEFAULT_CHUNK;
    api->close(probe);
    int jobs = opt->jobs < 1 ? 1 : opt->jobs;
    if (jobs > nscenes)
        jobs = nscenes > 0 ? nscenes : 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    r.model_threads = opt->threads > 0 ? opt->threads : (int)((ncpu + jobs - 1) / jobs);
    if (r.model_threads < 1)
        r.model_threads = 1;
    r.archive = a;
    r.progress = progress;
    r.progress_arg = progress_arg;
    r.scene_frac = calloc(nscenes > 0 ? nscenes : 1, sizeof(double));
    pthread_mutexattr_t attr; /* cb_lock is recursive: see ingest_run */
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&r.cb_lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_init(&r.lock, NULL);
    if (!r.scene_frac) {
        rc = DUCH_NOMEM;
        pl_set_err(err, errlen, "out of memory");
    } else if (nscenes > 0) {
        pthread_t *th = calloc(jobs, sizeof *th);
        int started = 0;
        if (th)
            for (; started < jobs; started++)
                if (pthread_create(&th[started], NULL, ingest_worker, &r) != 0)
                    break;
        if (started == 0)
            ingest_worker(&r);
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        free(th);
        if (r.fatal) {
            rc = r.fatal;
            pl_set_err(err, errlen, "%s", r.fatal_msg);
        } else if (r.cancelled) {
            rc = DUCH_INTERRUPTED;
            pl_set_err(err, errlen, "interrupted: what was encoded so far is in the archive; "
                                 "run the same command again to resume");
        } else if (r.stats.scenes_failed) {
            rc = DUCH_ERROR;
            pl_set_err(err, errlen, "%d of %d scenes failed", r.stats.scenes_failed, nscenes);
        }
        if (progress && rc == DUCH_OK)
            progress(1.0, NULL, progress_arg);
    }
    r.stats.seconds = pl_now() - t_start;
    if (stats)
        *stats = r.stats;
    pthread_mutex_destroy(&r.lock);
    pthread_mutex_destroy(&r.cb_lock);
    free(r.scene_frac);
    free(model_copy);
    duch_archive_close(r.archive);
    return rc;
}

