/* tiler_footprint: tile and scene footprints in EPSG:4326 against an independent
 * OCTTransform of the same pixel positions (UTM, State Plane feet, EPSG:4326 across the
 * antimeridian, rotated and south-up geotransforms), ring shape rules, back-mapping. */
#include "tiler_fixtures.h"

/* Expected densified points of window (x, y, w, h): 4*dens points, any order. */
static void expected_points(const double *gt, OGRCoordinateTransformationH ct, int x, int y,
                            int w, int h, int dens, double *lon, double *lat)
{
    int k = 0;
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < dens; i++) {
            double f = (double)i / dens, px, py;
            switch (s) {
            case 0: px = x + f * w; py = y; break;
            case 1: px = x + w; py = y + f * h; break;
            case 2: px = x + w - f * w; py = y + h; break;
            default: px = x; py = y + h - f * h; break;
            }
            lon[k] = gt[0] + px * gt[1] + py * gt[2];
            lat[k] = gt[3] + px * gt[4] + py * gt[5];
            k++;
        }
    REQUIRE(OCTTransform(ct, k, lon, lat, NULL), "OCTTransform");
}

static double signed_area(const double *ring, int n)
{
    double a = 0;
    for (int i = 0; i + 1 < n; i++)
        a += ring[2 * i] * ring[2 * i + 3] - ring[2 * i + 2] * ring[2 * i + 1];
    return a / 2;
}

/* Check every tile of path; returns the number of tiles checked. */
static int check_scene(const char *path, const char *srs_def, const double *gt, int w, int h,
                       int tile_size, int dens, double *maxlon_seen)
{
    duch_tiler_options o;
    duch_tiler_options_init(&o);
    o.tile_size_px = tile_size;
    o.out_size = 32;
    o.densify = dens;
    o.min_valid = 0;
    duch_tiler *t = tf_open(path, &o);
    OGRSpatialReferenceH src = OSRNewSpatialReference(NULL), dst = OSRNewSpatialReference(NULL);
    OSRSetFromUserInput(src, srs_def);
    OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
    OSRImportFromEPSG(dst, 4326);
    OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src, dst);
    REQUIRE(ct, "ct");
    duch_tile tile;
    int n = 0, rc;
    double lon[4 * DUCH_TILER_MAX_DENSIFY], lat[4 * DUCH_TILER_MAX_DENSIFY];
    *maxlon_seen = -1e9;
    while ((rc = duch_tiler_next(t, &tile)) == DUCH_OK) {
        n++;
        int np = 4 * dens + 1;
        CHECK(tile.ring_points == np, "%s: %d ring points, want %d", path, tile.ring_points, np);
        if (tile.ring_points != np)
            continue;
        const double *r = tile.ring;
        CHECK(r[0] == r[2 * (np - 1)] && r[1] == r[2 * np - 1], "%s: ring not closed", path);
        CHECK(r[0] >= -180 && r[0] < 180, "%s: first lon %g", path, r[0]);
        CHECK(signed_area(r, np) > 0, "%s tile %d,%d: ring is not counter-clockwise", path,
              tile.col, tile.row);
        for (int i = 1; i < np; i++)
            CHECK(fabs(r[2 * i] - r[2 * i - 2]) < 180, "%s: ring jumps in longitude", path);
        expected_points(gt, ct, tile.x_off, tile.y_off, tile.width, tile.height, dens, lon, lat);
        for (int k = 0; k < 4 * dens; k++) {
            int found = 0;
            for (int i = 0; i < np - 1 && !found; i++)
                found = tf_lon_diff(r[2 * i], lon[k]) < 1e-9 && fabs(r[2 * i + 1] - lat[k]) < 1e-9;
            CHECK(found, "%s tile %d,%d: point %.10f %.10f not in the ring", path, tile.col,
                  tile.row, lon[k], lat[k]);
        }
        double bb[4] = {1e9, 1e9, -1e9, -1e9};
        for (int i = 0; i < np; i++) {
            bb[0] = fmin(bb[0], r[2 * i]);
            bb[1] = fmin(bb[1], r[2 * i + 1]);
            bb[2] = fmax(bb[2], r[2 * i]);
            bb[3] = fmax(bb[3], r[2 * i + 1]);
        }
        CHECK(memcmp(bb, tile.bbox, sizeof bb) == 0, "%s: bbox", path);
        if (bb[2] > *maxlon_seen)
            *maxlon_seen = bb[2];
        /* back-mapping: the tile's top-left corner */
        double gx, gy, lo, la;
        CHECK(duch_tiler_pixel_to_geo(t, tile.x_off, tile.y_off, &gx, &gy, &lo, &la) == DUCH_OK,
              "pixel_to_geo");
        CHECK(fabs(gx - (gt[0] + tile.x_off * gt[1] + tile.y_off * gt[2])) < 1e-6, "geo x");
        CHECK(tf_lon_diff(lo, lon[0]) < 1e-9 && fabs(la - lat[0]) < 1e-9, "pixel_to_geo lon/lat");
    }
    CHECK(rc == DUCH_TILER_DONE, "%s: rc %d %s", path, rc, duch_tiler_errmsg(t));
    /* the scene footprint contains the scene corners */
    const duch_scene_info *si = duch_tiler_info(t);
    CHECK(si->footprint_points == 4 * 32 + 1, "scene ring %d", si->footprint_points);
    expected_points(gt, ct, 0, 0, w, h, 1, lon, lat);
    for (int k = 0; k < 4; k++) {
        int found = 0;
        for (int i = 0; i < si->footprint_points && !found; i++)
            found = tf_lon_diff(si->footprint[2 * i], lon[k]) < 1e-9 &&
                    fabs(si->footprint[2 * i + 1] - lat[k]) < 1e-9;
        CHECK(found, "%s: scene corner %d not in the scene footprint", path, k);
    }
    /* any-window footprint API, same rule as the tiles */
    double ring[2 * DUCH_TILER_MAX_RING], bbox[4];
    CHECK(duch_tiler_footprint(t, 0, 0, w, h, 2, ring, bbox) == DUCH_OK, "footprint");
    CHECK(signed_area(ring, 9) > 0, "footprint orientation");
    CHECK(duch_tiler_footprint(t, 0, 0, 0, h, 2, ring, bbox) == DUCH_INVALID, "empty window");
    CHECK(duch_tiler_footprint(t, 0, 0, w, h, DUCH_TILER_MAX_DENSIFY + 1, ring, bbox) == DUCH_INVALID,
          "densify too large");
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(src);
    OSRDestroySpatialReference(dst);
    duch_tiler_close(t);
    return n;
}

int main(void)
{
    tf_init();
    double maxlon;

    const double gt_utm[6] = {720000, 0.3048, 0, 4130000, 0, -0.3048};
    tf_make("/vsimem/fp_utm.tif", 700, 500, 3, "EPSG:32610", gt_utm);
    CHECK(check_scene("/vsimem/fp_utm.tif", "EPSG:32610", gt_utm, 700, 500, 256, 4, &maxlon) == 6,
          "utm tiles");
    check_scene("/vsimem/fp_utm.tif", "EPSG:32610", gt_utm, 700, 500, 128, 1, &maxlon);
    check_scene("/vsimem/fp_utm.tif", "EPSG:32610", gt_utm, 700, 500, 300, 16, &maxlon);

    const double gt_ft[6] = {6000000, 2, 0, 2100000, 0, -2};
    tf_make("/vsimem/fp_ft.tif", 600, 400, 1, "EPSG:2227", gt_ft);
    CHECK(check_scene("/vsimem/fp_ft.tif", "EPSG:2227", gt_ft, 600, 400, 200, 4, &maxlon) == 6,
          "feet tiles");

    /* EPSG:4326, 179.2 .. 181.2 E: tiles across and beyond the antimeridian */
    const double gt_am[6] = {179.2, 0.001, 0, -16.0, 0, -0.001};
    tf_make("/vsimem/fp_am.tif", 2000, 600, 3, "EPSG:4326", gt_am);
    CHECK(check_scene("/vsimem/fp_am.tif", "EPSG:4326", gt_am, 2000, 600, 500, 4, &maxlon) == 8,
          "antimeridian tiles");
    CHECK(maxlon > 180 && maxlon < 181, "a tile crossing 180 keeps its ring continuous (max lon %g)",
          maxlon);
    {
        duch_tiler_options o;
        duch_tiler_options_init(&o);
        o.tile_size_px = 500;
        duch_tiler *t = tf_open("/vsimem/fp_am.tif", &o);
        const duch_scene_info *si = duch_tiler_info(t);
        CHECK(fabs(si->bbox[0] - 179.2) < 1e-9 && fabs(si->bbox[2] - 181.2) < 1e-9,
              "scene bbox %g..%g", si->bbox[0], si->bbox[2]);
        duch_tile tile;
        while (duch_tiler_next(t, &tile) == DUCH_OK)
            if (tile.col == 3) /* 180.7 .. 181.2: normalised to -179.3 .. -178.8 */
                CHECK(fabs(tile.bbox[0] + 179.3) < 1e-9 && fabs(tile.bbox[2] + 178.8) < 1e-9,
                      "tile beyond 180: %g..%g", tile.bbox[0], tile.bbox[2]);
        /* pixel size on the ground at latitude -16.3: 0.001 deg */
        CHECK(fabs(si->pixel_y_m - 110.6) < 0.5, "pixel_y_m %g", si->pixel_y_m);
        CHECK(fabs(si->pixel_x_m - 106.9) < 0.5, "pixel_x_m %g", si->pixel_x_m);
        duch_tiler_close(t);
    }

    /* rotated 30 degrees */
    double a = 30 * M_PI / 180, p = 0.5;
    const double gt_rot[6] = {500000, p * cos(a), p * sin(a), 4100000, p * sin(a), -p * cos(a)};
    tf_make("/vsimem/fp_rot.tif", 400, 300, 3, "EPSG:32633", gt_rot);
    CHECK(check_scene("/vsimem/fp_rot.tif", "EPSG:32633", gt_rot, 400, 300, 150, 4, &maxlon) == 6,
          "rotated tiles");

    /* south-up (positive row step): rings are still counter-clockwise */
    const double gt_su[6] = {500000, 1, 0, 4000000, 0, 1};
    tf_make("/vsimem/fp_su.tif", 300, 300, 3, "EPSG:32633", gt_su);
    check_scene("/vsimem/fp_su.tif", "EPSG:32633", gt_su, 300, 300, 150, 4, &maxlon);

    /* Web Mercator at 60 N: the ground pixel is about half the nominal one, and the grid
     * follows the ground (78.03 m tiles are ~156 nominal metres) */
    const double gt_merc[6] = {1000000, 1, 0, 8399737.89, 0, -1};
    tf_make("/vsimem/fp_merc.tif", 400, 400, 3, "EPSG:3857", gt_merc);
    check_scene("/vsimem/fp_merc.tif", "EPSG:3857", gt_merc, 400, 400, 100, 4, &maxlon);
    {
        duch_tiler_options o;
        duch_tiler_options_init(&o);
        duch_tiler *t = tf_open("/vsimem/fp_merc.tif", &o);
        const duch_scene_info *si = duch_tiler_info(t);
        CHECK(fabs(si->pixel_x_m - 0.5) < 0.01, "mercator pixel %g", si->pixel_x_m);
        CHECK(abs(si->tile_w - 156) <= 1, "mercator tile %d", si->tile_w);
        duch_tiler_close(t);
    }
    return tf_finish("tiler_footprint");
}
