/* confidence.c: the confidence of a hit (docs/model.md, "Confidence"): what a model's
 * header member "confidence" means, how it is read, applied and fitted. One copy of the
 * arithmetic for every front end (duch_knn, duch query, the DUCH: layer, saved hits) and
 * for `duch calibrate`, which fits it. See duch_modelfile.h. */
#include "config.h"
#include "duch_modelfile.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int finite_num(const duch_json *v)
{
    return v && v->type == DUCH_JSON_NUM && isfinite(v->num);
}

int duch_confidence_parse(const duch_json *c, duch_confidence *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const duch_json *r = duch_json_get(c, "crowd_rank"), *w = duch_json_get(c, "w");
    if (!c || c->type != DUCH_JSON_OBJ || !finite_num(r) || r->num != floor(r->num) ||
        r->num < 1 || r->num > DUCH_CONFIDENCE_MAX_RANK || !w || w->type != DUCH_JSON_ARR ||
        w->n != 3 || !finite_num(&w->items[0]) || !finite_num(&w->items[1]) ||
        !finite_num(&w->items[2])) {
        if (err && errlen)
            snprintf(err, errlen, "model header: confidence must be {\"crowd_rank\": 1..%d,"
                 " \"w\": [3 finite numbers], ...}", DUCH_CONFIDENCE_MAX_RANK);
        return DUCH_CORRUPT;
    }
    out->crowd_rank = (int)r->num;
    for (int i = 0; i < 3; i++)
        out->w[i] = w->items[i].num;
    return DUCH_OK;
}

void duch_confidence_features(int bits, int d, int d1, int dcrowd, double x[3])
{
    x[0] = 1.0;
    x[1] = (double)d / bits;
    x[2] = (double)(dcrowd - d1) / bits;
}

double duch_confidence_value(const duch_confidence *c, int bits, int d, int d1, int dcrowd)
{
    double x[3];
    duch_confidence_features(bits, d, d1, dcrowd, x);
    double z = c->w[0] * x[0] + c->w[1] * x[1] + c->w[2] * x[2];
    return 1.0 / (1.0 + exp(-z));
}

/* 3x3 solve by Gaussian elimination with partial pivoting; 0 when singular */
static int solve3(double a[3][3], double b[3], double x[3])
{
    for (int c = 0; c < 3; c++) {
        int p = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(a[r][c]) > fabs(a[p][c]))
                p = r;
        if (fabs(a[p][c]) < 1e-300)
            return 0;
        for (int k = 0; k < 3; k++) {
            double t = a[c][k];
            a[c][k] = a[p][k];
            a[p][k] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (int r = c + 1; r < 3; r++) {
            double f = a[r][c] / a[c][c];
            for (int k = c; k < 3; k++)
                a[r][k] -= f * a[c][k];
            b[r] -= f * b[c];
        }
    }
    for (int r = 2; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < 3; k++)
            s -= a[r][k] * x[k];
        x[r] = s / a[r][r];
    }
    return 1;
}

int duch_confidence_fit(const double *x, const unsigned char *y, size_t n, double w[3])
{
    w[0] = w[1] = w[2] = 0.0;
    if (n < 3)
        return DUCH_INVALID;
    /* Newton's method on the log-likelihood, with a tiny ridge (1e-6) so that separable
     * data stays finite */
    for (int it = 0; it < 50; it++) {
        double h[3][3] = {{1e-6, 0, 0}, {0, 1e-6, 0}, {0, 0, 1e-6}}, g[3] = {0, 0, 0};
        for (size_t i = 0; i < n; i++) {
            const double *xi = x + 3 * i;
            double z = w[0] * xi[0] + w[1] * xi[1] + w[2] * xi[2];
            double p = 1.0 / (1.0 + exp(-z)), v = p * (1.0 - p);
            for (int a = 0; a < 3; a++) {
                g[a] += ((double)y[i] - p) * xi[a] - 1e-6 * w[a];
                for (int b = 0; b < 3; b++)
                    h[a][b] += v * xi[a] * xi[b];
            }
        }
        double step[3];
        if (!solve3(h, g, step))
            return DUCH_ERROR;
        double big = 0;
        for (int a = 0; a < 3; a++) {
            w[a] += step[a];
            if (fabs(step[a]) > big)
                big = fabs(step[a]);
        }
        if (!isfinite(w[0] + w[1] + w[2]))
            return DUCH_ERROR;
        if (big < 1e-9)
            break;
    }
    return DUCH_OK;
}
