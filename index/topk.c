/* topk.c: exact top-k by Hamming distance over packed codes.
 *
 * The codes are scanned in blocks of BLOCK with the kernel's filter: it returns only
 * the codes no farther than the worst of the k kept so far (a max-heap ordered by
 * (distance, id)), testing 8 codes per compare in the AVX-512 kernel, so once the heap
 * is full almost nothing but the scan itself is left. A subset of positions is gathered
 * block by block into a contiguous buffer first. */
#include "config.h"
#include "duch_index.h"
#include "duch_utf8.h"

#include <math.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#define BLOCK 2048

/* a before b in the result order */
static inline int hit_less(uint32_t da, int64_t ia, uint32_t db, int64_t ib)
{
    return da < db || (da == db && ia < ib);
}

typedef struct heap {
    duch_hit *h;    /* max-heap: h[0] is the worst kept hit */
    size_t n, k;
} heap;

static void heap_sift_down(heap *hp, size_t i)
{
    duch_hit *h = hp->h;
    size_t n = hp->n;
    duch_hit x = h[i];
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        duch_hit *best = &x;
        if (l < n && hit_less(best->distance, best->id, h[l].distance, h[l].id))
            w = l, best = &h[l];
        if (l + 1 < n && hit_less(best->distance, best->id, h[l + 1].distance, h[l + 1].id))
            w = l + 1, best = &h[l + 1];
        if (w == i)
            break;
        h[i] = h[w];
        i = w;
    }
    h[i] = x;
}

static void heap_push(heap *hp, duch_hit x)
{
    size_t i = hp->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hit_less(hp->h[p].distance, hp->h[p].id, x.distance, x.id))
            break;
        hp->h[i] = hp->h[p];
        i = p;
    }
    hp->h[i] = x;
}

static int hit_cmp(const void *a, const void *b)
{
    const duch_hit *x = a, *y = b;
    if (x->distance != y->distance)
        return x->distance < y->distance ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* offer the m candidates of one block: code base + pos[j] (or subset[pos[j]]) at
 * distance dist[j] */
static inline void offer_block(heap *hp, const uint32_t *pos, const uint16_t *dist, size_t m,
                               const int64_t *ids, size_t base, const size_t *subset)
{
    for (size_t j = 0; j < m; j++) {
        size_t p = subset ? subset[pos[j]] : base + pos[j];
        int64_t id = ids ? ids[p] : (int64_t)p;
        if (hp->n < hp->k) {
            duch_hit x = {id, dist[j], p};
            heap_push(hp, x);
            continue;
        }
        if (!hit_less(dist[j], id, hp->h[0].distance, hp->h[0].id))
            continue;
        hp->h[0].distance = dist[j];
        hp->h[0].id = id;
        hp->h[0].pos = p;
        heap_sift_down(hp, 0);
    }
}

/* The largest distance that can still enter the heap. When the ids grow with the scan
 * order, a code at the worst kept distance comes after (and has a larger id than) the
 * worst kept hit, so it cannot enter: the filter may then stop one below. */
static inline unsigned threshold(const heap *hp, size_t nbytes, int ascending)
{
    if (hp->n < hp->k)
        return (unsigned)(8 * nbytes);
    unsigned w = hp->h[0].distance;
    return ascending && w > 0 ? w - 1 : w;
}

static int topk_impl(const duch_kernel *kernel, const unsigned char *codes, const int64_t *ids,
                     size_t n, size_t nbytes, const unsigned char *query,
                     const size_t *subset, size_t nsubset, size_t k,
                     duch_hit *hits, size_t *nhits, int ascending);

int duch_topk(const duch_kernel *kernel, const unsigned char *codes, const int64_t *ids,
              size_t n, size_t nbytes, const unsigned char *query,
              const size_t *subset, size_t nsubset, size_t k,
              duch_hit *hits, size_t *nhits)
{
    /* positions as ids grow with the scan when the subset (if any) is sorted */
    int ascending = ids == NULL;
    for (size_t i = 1; ascending && subset && i < nsubset; i++)
        if (subset[i] <= subset[i - 1])
            ascending = 0;
    return topk_impl(kernel, codes, ids, n, nbytes, query, subset, nsubset, k, hits, nhits,
                     ascending);
}

static int topk_impl(const duch_kernel *kernel, const unsigned char *codes, const int64_t *ids,
                     size_t n, size_t nbytes, const unsigned char *query,
                     const size_t *subset, size_t nsubset, size_t k,
                     duch_hit *hits, size_t *nhits, int ascending)
{
    if (nhits)
        *nhits = 0;
    if (!query || !hits || !nhits || k == 0 || nbytes == 0 || nbytes > DUCH_CODE_MAX_BITS / 8 ||
        (n > 0 && !codes))
        return DUCH_INVALID;
    if (!kernel)
        kernel = duch_kernel_best();
    size_t total = subset ? nsubset : n;
    heap hp = {hits, 0, k < total ? k : total};
    if (hp.k == 0)
        return DUCH_OK;

    uint16_t dist[BLOCK];
    uint32_t pos[BLOCK];
    if (!subset) {
        for (size_t base = 0; base < n; base += BLOCK) {
            size_t b = n - base < BLOCK ? n - base : BLOCK;
            size_t m = kernel->filter(codes + base * nbytes, b, nbytes, query,
                                      threshold(&hp, nbytes, ascending), pos, dist);
            offer_block(&hp, pos, dist, m, ids, base, NULL);
        }
    } else {
        unsigned char *buf = malloc((size_t)BLOCK * nbytes);
        if (!buf)
            return DUCH_NOMEM;
        for (size_t base = 0; base < nsubset; base += BLOCK) {
            size_t b = nsubset - base < BLOCK ? nsubset - base : BLOCK;
            for (size_t j = 0; j < b; j++) {
                if (subset[base + j] >= n) {
                    free(buf);
                    return DUCH_INVALID;
                }
                memcpy(buf + j * nbytes, codes + subset[base + j] * nbytes, nbytes);
            }
            size_t m = kernel->filter(buf, b, nbytes, query, threshold(&hp, nbytes, ascending),
                                      pos, dist);
            offer_block(&hp, pos, dist, m, ids, 0, subset + base);
        }
        free(buf);
    }
    qsort(hits, hp.n, sizeof *hits, hit_cmp);
    *nhits = hp.n;
    return DUCH_OK;
}

size_t duch_bbox_select(const double *mbr, size_t n, const double bbox[4], size_t *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const double *b = mbr + 4 * i;
        /* written so that a NaN makes the test fail */
        if (b[0] <= bbox[2] && b[2] >= bbox[0] && b[1] <= bbox[3] && b[3] >= bbox[1])
            out[m++] = i;
    }
    return m;
}

/* ---------------------------------------------------------------- duch_codes */

struct duch_codes {
    size_t nbytes, n, cap;
    int ascending;        /* ids strictly increase with the position */
    unsigned char *codes; /* 64-byte aligned */
    int64_t *ids;
};

int duch_codes_new(size_t nbytes, duch_codes **out)
{
    if (!out)
        return DUCH_INVALID;
    *out = NULL;
    if (nbytes == 0 || nbytes > DUCH_CODE_MAX_BITS / 8)
        return DUCH_INVALID;
    duch_codes *c = calloc(1, sizeof *c);
    if (!c)
        return DUCH_NOMEM;
    c->nbytes = nbytes;
    *out = c;
    return DUCH_OK;
}

void duch_codes_free(duch_codes *c)
{
    if (!c)
        return;
    free(c->codes);
    free(c->ids);
    free(c);
}

int duch_codes_reserve(duch_codes *c, size_t n)
{
    if (!c)
        return DUCH_INVALID;
    if (n <= c->cap)
        return DUCH_OK;
    if (n > SIZE_MAX / 2 / c->nbytes)
        return DUCH_NOMEM;
    size_t bytes = (n * c->nbytes + 63) / 64 * 64;
    unsigned char *codes = aligned_alloc(64, bytes);
    int64_t *ids = malloc(n * sizeof *ids);
    if (!codes || !ids) {
        free(codes);
        free(ids);
        return DUCH_NOMEM;
    }
    if (c->n) {
        memcpy(codes, c->codes, c->n * c->nbytes);
        memcpy(ids, c->ids, c->n * sizeof *ids);
    }
    free(c->codes);
    free(c->ids);
    c->codes = codes;
    c->ids = ids;
    c->cap = n;
    return DUCH_OK;
}

int duch_codes_append(duch_codes *c, int64_t id, const unsigned char *code)
{
    if (!c || !code)
        return DUCH_INVALID;
    if (c->n == c->cap) {
        int rc = duch_codes_reserve(c, c->cap < 1024 ? 1024 : c->cap + c->cap / 2);
        if (rc)
            return rc;
    }
    memcpy(c->codes + c->n * c->nbytes, code, c->nbytes);
    if (c->n == 0)
        c->ascending = 1;
    else if (id <= c->ids[c->n - 1])
        c->ascending = 0;
    c->ids[c->n++] = id;
    return DUCH_OK;
}

void duch_codes_clear(duch_codes *c)
{
    if (c)
        c->n = 0;
}

size_t duch_codes_count(const duch_codes *c) { return c ? c->n : 0; }
size_t duch_codes_nbytes(const duch_codes *c) { return c ? c->nbytes : 0; }
const unsigned char *duch_codes_data(const duch_codes *c) { return c ? c->codes : NULL; }
const int64_t *duch_codes_ids(const duch_codes *c) { return c ? c->ids : NULL; }

int duch_codes_search(const duch_codes *c, const unsigned char *query, size_t k,
                      const size_t *subset, size_t nsubset, duch_hit *hits, size_t *nhits)
{
    if (!c)
        return DUCH_INVALID;
    int ascending = c->ascending;
    for (size_t i = 1; ascending && subset && i < nsubset; i++)
        if (subset[i] <= subset[i - 1])
            ascending = 0;
    return topk_impl(NULL, c->codes, c->ids, c->n, c->nbytes, query, subset, nsubset, k, hits,
                     nhits, ascending);
}

/* ------------------------------------------------------------------ boxes */

int duch_bbox_check(const double bbox[4], char *err, size_t errlen)
{
    if (!bbox) {
        duch_snprintf(err, err ? errlen : 0, "no box given");
        return DUCH_INVALID;
    }
    for (int i = 0; i < 4; i++)
        if (!isfinite(bbox[i])) {
            duch_snprintf(err, err ? errlen : 0, "the box (minx, miny, maxx, maxy) must be 4 finite numbers");
            return DUCH_INVALID;
        }
    if (bbox[0] > bbox[2] || bbox[1] > bbox[3]) {
        duch_snprintf(err, err ? errlen : 0, "empty box %.17g,%.17g,%.17g,%.17g: need minx <= maxx and miny <= maxy",
            bbox[0], bbox[1], bbox[2], bbox[3]);
        return DUCH_INVALID;
    }
    if (bbox[0] < -180 || bbox[2] > 180 || bbox[1] < -90 || bbox[3] > 90) {
        duch_snprintf(err, err ? errlen : 0, "box %.17g,%.17g,%.17g,%.17g is outside longitude -180..180 / latitude"
            " -90..90 (the box is minx,miny,maxx,maxy in EPSG:4326 degrees)",
            bbox[0], bbox[1], bbox[2], bbox[3]);
        return DUCH_INVALID;
    }
    return DUCH_OK;
}

int duch_bbox_parse(const char *text, double bbox[4], char *err, size_t errlen)
{
    const char *p = text ? text : "";
    for (int i = 0; i < 4; i++) {
        char *end;
        while (*p == ' ' || *p == '\t')
            p++;
        bbox[i] = strtod(p, &end);
        if (end == p)
            goto bad;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (i < 3 && *p++ != ',')
            goto bad;
    }
    if (*p)
        goto bad;
    return duch_bbox_check(bbox, err, errlen);
bad:
    duch_snprintf(err, err ? errlen : 0, "box '%s' is not minx,miny,maxx,maxy (four numbers: longitude and latitude"
        " in EPSG:4326 degrees)", text ? text : "");
    return DUCH_INVALID;
}
