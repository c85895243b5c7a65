/* wkb.c: the exterior ring of a WKB polygon, and its exact bounding box.
 *
 * PostGIS hands geometries out as WKB (ST_AsBinary), in double precision; its own
 * bounding boxes (box2d, the GiST keys) are float-rounded, so the PostgreSQL side of duch
 * (index/archive_pg.c, the extension in pg/) reads the points and takes their minimum and
 * maximum, as SpatiaLite's MbrMinX & co do for the SQLite archive. */
#include "config.h"
#include "archive_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const unsigned char *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static double rdf64(const unsigned char *p, int le)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = le ? p[i] : p[7 - i];
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | b[i];
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* The first ring of a 2D WKB POLYGON (ISO or EWKB type with the SRID flag): points at
 * *pts (in wkb), count *n. 0 when it is not one. */
static int wkb_ring_at(const unsigned char *w, size_t size, const unsigned char **pts, uint32_t *n,
                       int *le)
{
    if (!w || size < 9)
        return 0;
    *le = w[0] == 1;
    if (w[0] > 1)
        return 0;
    uint32_t type = rd32(w + 1, *le);
    size_t off = 5;
    if (type & 0x20000000u) { /* EWKB SRID */
        off += 4;
        type &= ~0x20000000u;
    }
    if (type != 3 || size < off + 8)
        return 0;
    uint32_t rings = rd32(w + off, *le);
    if (rings < 1)
        return 0;
    *n = rd32(w + off + 4, *le);
    off += 8;
    if (*n > (size - off) / 16)
        return 0;
    *pts = w + off;
    return 1;
}

double *duch_wkb_ring(const unsigned char *wkb, size_t size, int *npoints)
{
    *npoints = 0;
    const unsigned char *p;
    uint32_t n;
    int le;
    if (!wkb_ring_at(wkb, size, &p, &n, &le) || n == 0 || n > 1000000)
        return NULL;
    double *out = malloc((size_t)n * 2 * sizeof *out);
    if (!out)
        return NULL;
    for (uint32_t i = 0; i < 2 * n; i++)
        out[i] = rdf64(p + 8 * (size_t)i, le);
    *npoints = (int)n;
    return out;
}

int duch_wkb_box(const unsigned char *wkb, size_t size, double box[4])
{
    const unsigned char *p;
    uint32_t n;
    int le;
    if (!wkb_ring_at(wkb, size, &p, &n, &le) || n == 0)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        double x = rdf64(p + 16 * (size_t)i, le), y = rdf64(p + 16 * (size_t)i + 8, le);
        if (!isfinite(x) || !isfinite(y))
            return 0;
        if (i == 0 || x < box[0]) box[0] = x;
        if (i == 0 || y < box[1]) box[1] = y;
        if (i == 0 || x > box[2]) box[2] = x;
        if (i == 0 || y > box[3]) box[3] = y;
    }
    return 1;
}

int duch_ring_points(const double *ring, int npoints)
{
    if (!ring || npoints < 3 || npoints > 1000000)
        return 0;
    for (int i = 0; i < 2 * npoints; i++)
        if (!isfinite(ring[i]))
            return 0;
    int closed = ring[0] == ring[2 * (npoints - 1)] && ring[1] == ring[2 * (npoints - 1) + 1];
    int n = closed ? npoints : npoints + 1;
    return n < 4 ? 0 : n;
}
