/* model_textenc: the pure-C text encoder (model/textenc.c) against the libtorch one.
 *
 * For the shipped model ($DUCH_DEFAULT_MODEL, or argv[1]) and for a copy of it whose text weights
 * are randomly rescaled (checksum recomputed), every caption of
 * $DUCH_SHARED_DATA/ucm/captions.json (when present) and a few thousand synthetic texts
 * (random word mixes, capitals, punctuation, UTF-8, unknown words, more than 32 words,
 * malformed bytes) are encoded one at a time by both; the codes must be identical
 * except for bits whose C output is within 1e-4 of 0 (counted, and at most 1 in 2000),
 * and texts without a known word must fail the same way with the same message.
 * Also: corrupt, truncated, newer-version and unknown-architecture files. */
#include "duch_modelfile.h"
#include "duch_textenc.h"
#include "model_common.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* the checksum redone (the one FNV-1a 64, with the basis of the file's version) */
static void reseal(unsigned char *d, size_t n)
{
    uint32_t ver;
    memcpy(&ver, d + 8, 4);
    uint64_t h = duch_fnv1a64(d, n - 8, ver == 1 ? DUCH_FNV1A64_BASIS_V1 : DUCH_FNV1A64_BASIS);
    memcpy(d + n - 8, &h, 8);
}

/* ---- texts ---- */
typedef struct texts {
    char **s;
    int n, cap;
} texts;

static void add_text(texts *t, const char *s, size_t len)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->s = realloc(t->s, (size_t)t->cap * sizeof *t->s);
    }
    char *c = malloc(len + 1);
    memcpy(c, s, len);
    c[len] = 0;
    t->s[t->n++] = c;
}

/* every sentences[].raw string of captions.json, read with the one JSON reader */
static void load_captions(texts *t, const char *path)
{
    size_t n;
    char *d = (char *)model_slurp(path, &n);
    if (!d)
        return;
    duch_json *root = NULL;
    char err[160];
    if (duch_json_parse(d, n, &root, err, sizeof err) != DUCH_OK) {
        fprintf(stderr, "%s: %s\n", path, err);
        model_failures++;
    }
    const duch_json *imgs = duch_json_get(root, "images");
    for (size_t i = 0; imgs && imgs->type == DUCH_JSON_ARR && i < imgs->n; i++) {
        const duch_json *ss = duch_json_get(&imgs->items[i], "sentences");
        for (size_t k = 0; ss && ss->type == DUCH_JSON_ARR && k < ss->n; k++) {
            const duch_json *raw = duch_json_get(&ss->items[k], "raw");
            if (raw && raw->type == DUCH_JSON_STR)
                add_text(t, raw->str, raw->len);
        }
    }
    duch_json_free(root);
    free(d);
}

static uint64_t rng_state = 88172645463325252ULL;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* words of the captions (split on spaces), for synthetic mixes */
static void synth(texts *t, const texts *caps, int count)
{
    static const char *odd[] = {"café", "Straße", "водa", "日本", "naïve", "🙂", "xyzzy",
                                "qwertyuiop", "123", "4lane", "\xff", "\xc3", "\xe2\x82",
                                "A", "THE", "Trees", "--", "...", ",", "!", "\t", "\n"};
    const int nodd = (int)(sizeof odd / sizeof odd[0]);
    static const char *seps[] = {" ", "  ", ",", ", ", ".", "-", "_", "/", "'", "\t", "é"};
    const int nseps = (int)(sizeof seps / sizeof seps[0]);
    char *words[4096];
    int nw = 0;
    for (int i = 0; i < caps->n && nw < 4096; i += 7) {
        char tmp[2048];
        snprintf(tmp, sizeof tmp, "%s", caps->s[i]);
        for (char *w = strtok(tmp, " "); w && nw < 4096; w = strtok(NULL, " "))
            words[nw++] = strdup(w);
    }
    if (nw == 0) {
        static const char *basic[] = {"a", "the", "with", "trees", "river", "buildings",
                                      "dense", "residential", "area", "road", "cars", "green"};
        for (int i = 0; i < 12; i++)
            words[nw++] = strdup(basic[i]);
    }
    for (int c = 0; c < count; c++) {
        char buf[4096];
        size_t k = 0;
        int len = 1 + (int)(rnd() % (c % 10 == 0 ? 60 : 12));
        for (int i = 0; i < len; i++) {
            const char *w = rnd() % 6 == 0 ? odd[rnd() % nodd] : words[rnd() % nw];
            const char *sep = i ? seps[rnd() % nseps] : "";
            size_t wl = strlen(w), sl = strlen(sep);
            if (k + wl + sl + 1 >= sizeof buf)
                break;
            memcpy(buf + k, sep, sl);
            k += sl;
            for (size_t j = 0; j < wl; j++) {
                char ch = w[j];
                if (rnd() % 9 == 0 && ch >= 'a' && ch <= 'z')
                    ch = (char)(ch - 'a' + 'A');
                buf[k++] = ch;
            }
        }
        add_text(t, buf, k);
    }
    for (int i = 0; i < nw; i++)
        free(words[i]);
}

typedef struct counts {
    long texts, ok, errors, bits, near_mismatch, hard_mismatch, near_zero;
} counts;

/* both encoders over every text, one at a time */
static void compare(const duch_model_api *api, duch_model *m, duch_textenc *e, const texts *t,
                    counts *c)
{
    int K = duch_textenc_bits(e), nb = K / 8;
    unsigned char a[128], b[128];
    float v[1024];
    for (int i = 0; i < t->n; i++) {
        const char *txt[1] = {t->s[i]};
        int r1 = duch_textenc_encode_values(e, t->s[i], a, v);
        int r2 = api->encode_texts(m, 1, txt, b);
        c->texts++;
        if (r1 != r2) {
            fprintf(stderr, "text %d \"%s\": C encoder %d (%s), libtorch %d (%s)\n", i, t->s[i],
                    r1, duch_textenc_errmsg(e), r2, api->errmsg(m));
            model_failures++;
            continue;
        }
        if (r1 != DUCH_OK) {
            c->errors++;
            if (strcmp(duch_textenc_errmsg(e), api->errmsg(m))) {
                fprintf(stderr, "text %d: messages differ:\n  C:        %s\n  libtorch: %s\n",
                        i, duch_textenc_errmsg(e), api->errmsg(m));
                model_failures++;
            }
            continue;
        }
        c->ok++;
        for (int j = 0; j < K; j++) {
            c->bits++;
            if (fabsf(v[j]) < 1e-4f)
                c->near_zero++;
            int x = (a[j / 8] >> (j % 8)) & 1, y = (b[j / 8] >> (j % 8)) & 1;
            if (x == y)
                continue;
            if (fabsf(v[j]) < 1e-4f)
                c->near_mismatch++;
            else {
                c->hard_mismatch++;
                if (c->hard_mismatch < 10)
                    fprintf(stderr, "text %d \"%s\": bit %d differs, C output %.7g\n", i,
                            t->s[i], j, v[j]);
            }
        }
        (void)nb;
    }
}

static int run_model(const duch_model_api *api, const char *label, const unsigned char *blob,
                     size_t n, const texts *t, const char *sample)
{
    int before = model_failures;
    double t0 = now_s();
    duch_textenc *e = NULL;
    int rc = duch_textenc_open_blob(blob, n, &e);
    double t1 = now_s();
    if (rc != DUCH_OK) {
        fprintf(stderr, "%s: C encoder open: %s\n", label, duch_textenc_errmsg(e));
        duch_textenc_close(e);
        model_failures++;
        return 1;
    }
    unsigned char code[128];
    CHECK(duch_textenc_encode(e, sample, code) == DUCH_OK);
    double t2 = now_s();
    duch_model *m = NULL;
    CHECK(api->open_blob(blob, n, &m) == DUCH_OK);
    api->set_threads(m, 1);
    const char *q[1] = {sample};
    unsigned char code2[128];
    CHECK(api->encode_texts(m, 1, q, code2) == DUCH_OK);
    double t3 = now_s();
    CHECK(duch_textenc_bits(e) == api->bits(m));
    CHECK(!strcmp(duch_textenc_id(e), api->id(m)));
    CHECK(!memcmp(code, code2, (size_t)api->bits(m) / 8));
    printf("%s: id %s, %d bits; C encoder open %.2f ms + first text %.3f ms; "
           "libtorch model open + first text %.1f ms (library already loaded)\n",
           label, duch_textenc_id(e), duch_textenc_bits(e), (t1 - t0) * 1e3, (t2 - t1) * 1e3,
           (t3 - t2) * 1e3);

    counts c;
    memset(&c, 0, sizeof c);
    double t4 = now_s();
    compare(api, m, e, t, &c);
    double t5 = now_s();
    /* separate timings of the two encoders over all texts */
    int nt = t->n < 1000 ? t->n : 1000;
    double tc = now_s();
    for (int i = 0; i < nt; i++)
        duch_textenc_encode(e, t->s[i], code);
    double tc1 = now_s();
    for (int i = 0; i < nt; i++) {
        const char *x[1] = {t->s[i]};
        api->encode_texts(m, 1, x, code2);
    }
    double tc2 = now_s();
    printf("%s: %ld texts (%ld encoded, %ld refused by both), %ld bits compared: %ld differ "
           "with |output| < 1e-4, %ld differ otherwise; %ld outputs within 1e-4 of 0 "
           "(compare %.2f s)\n",
           label, c.texts, c.ok, c.errors, c.bits, c.near_mismatch, c.hard_mismatch, c.near_zero,
           t5 - t4);
    printf("%s: per text (first %d): C encoder %.1f us, libtorch %.1f us (one thread)\n", label,
           nt, (tc1 - tc) / nt * 1e6, (tc2 - tc1) / nt * 1e6);
    CHECK(c.hard_mismatch == 0);
    CHECK(c.near_mismatch * 2000 <= c.bits);
    CHECK(c.ok > c.texts / 2);
    CHECK(c.errors > 0);
    api->close(m);
    duch_textenc_close(e);
    return model_failures != before;
}

int main(int argc, char **argv)
{
    /* model_textenc [MODEL [CAPTIONS_JSON]]: another model (tests/model_textenc_tiny.sh
     * passes one trained at test time) and its captions */
    const char *path = argc > 1 ? argv[1] : getenv("DUCH_DEFAULT_MODEL");
    size_t n = 0;
    unsigned char *blob = path ? model_slurp(path, &n) : NULL;
    if (!blob) {
        fprintf(stderr, "no model at DUCH_DEFAULT_MODEL (%s): skipped\n", path ? path : "unset");
        return 77;
    }
    /* ---- file checks (no libtorch needed) ---- */
    duch_textenc *e = NULL;
    CHECK(duch_textenc_open(path, &e) == DUCH_OK);
    CHECK(duch_textenc_bits(e) > 0 && strlen(duch_textenc_id(e)) == 16);
    duch_textenc_close(e);
    duch_textenc_close(NULL);
    e = NULL;
    CHECK(duch_textenc_open("/nonexistent/x.duchm", &e) == DUCH_NOTFOUND);
    CHECK(strstr(duch_textenc_errmsg(e), "/nonexistent/x.duchm") != NULL);
    duch_textenc_close(e);
    unsigned char *bad = malloc(n);
    memcpy(bad, blob, n);
    bad[n / 2] ^= 0x40;
    CHECK(duch_textenc_open_blob(bad, n, &e) == DUCH_CORRUPT);
    CHECK(strstr(duch_textenc_errmsg(e), "checksum") != NULL);
    CHECK(duch_textenc_bits(e) == 0);
    unsigned char tmp[16];
    CHECK(duch_textenc_encode(e, "trees", tmp) == DUCH_INVALID);
    duch_textenc_close(e);
    CHECK(duch_textenc_open_blob(blob, n - 100, &e) == DUCH_CORRUPT);
    CHECK(strstr(duch_textenc_errmsg(e), "truncated") != NULL);
    duch_textenc_close(e);
    CHECK(duch_textenc_open_blob(blob, 5, &e) == DUCH_CORRUPT);
    duch_textenc_close(e);
    CHECK(duch_textenc_open_blob("GIF89a.............................", 36, &e) == DUCH_CORRUPT);
    CHECK(strstr(duch_textenc_errmsg(e), "bad magic") != NULL);
    duch_textenc_close(e);
    memcpy(bad, blob, n);
    bad[8] = 3; /* format version 3 (this library reads 1 and 2) */
    CHECK(duch_textenc_open_blob(bad, n, &e) == DUCH_VERSION);
    CHECK(strstr(duch_textenc_errmsg(e), "newer") != NULL);
    duch_textenc_close(e);
    /* an unknown text architecture, with a valid checksum: DUCH_INVALID */
    memcpy(bad, blob, n);
    unsigned char *arch = NULL;
    for (size_t i = 24; i + 18 < n && i < 24 + 4 + 100000; i++)
        if (!memcmp(bad + i, "emb-conv1d-meanmax", 18)) {
            arch = bad + i;
            break;
        }
    CHECK(arch != NULL);
    if (arch) {
        memcpy(arch, "emb-lstm-meanmax00", 18);
        reseal(bad, n);
        CHECK(duch_textenc_open_blob(bad, n, &e) == DUCH_INVALID);
        CHECK(strstr(duch_textenc_errmsg(e), "text architecture 'emb-lstm-meanmax00' not supported"
                                             " by the C encoder") != NULL);
        duch_textenc_close(e);
    }
    CHECK(duch_textenc_open_blob(NULL, 0, &e) == DUCH_INVALID);
    duch_textenc_close(e);

    /* ---- against libtorch ---- */
    double l0 = now_s();
    const duch_model_api *api = model_api();
    double l1 = now_s();
    printf("libtorch model library dlopen: %.0f ms\n", (l1 - l0) * 1e3);

    texts t = {0};
    const char *shared = getenv("DUCH_SHARED_DATA");
    if (argc > 2)
        load_captions(&t, argv[2]);
    else if (shared) {
        char cp[1024];
        snprintf(cp, sizeof cp, "%s/ucm/captions.json", shared);
        load_captions(&t, cp);
    }
    int ncap = t.n;
    static const char *fixed[] = {
        "", " ", "   \t\n", "xyzzy", "xyzzy plugh", "!!!", "café", "\xff\xfe",
        "Dense Residential AREA", "dense,residential;area", "trees-river_road", "TREES",
        "a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a",
        "buildings \xc3 trees \xe2\x82 river \xf0\x9f\x99\x82 road",
        "this is a text that is much longer than sixty bytes and holds no known wordz qqq",
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        "many cars are parked in the parking lot next to some green trees and a road"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        add_text(&t, fixed[i], strlen(fixed[i]));
    synth(&t, &t, 3000);
    printf("%d captions from captions.json, %d other texts\n", ncap, t.n - ncap);

    const char *sample = ncap ? t.s[0] : "many cars are parked in the parking lot next to some"
                                         " green trees and a road";
    run_model(api, argc > 1 ? "model" : "default model", blob, n, &t, sample);

    /* the same network with rescaled text weights: other outputs, other near-zero cases */
    memcpy(bad, blob, n);
    {
        const unsigned char *p = bad + 24;
        uint32_t hl;
        memcpy(&hl, p, 4);
        p += 4 + hl;
        uint32_t nt;
        memcpy(&nt, p, 4);
        p += 4;
        for (uint32_t i = 0; i < nt; i++) {
            uint32_t nl, nd;
            memcpy(&nl, p, 4);
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)nl, (const char *)p + 4);
            p += 4 + nl;
            memcpy(&nd, p, 4);
            p += 4;
            uint64_t cnt = 1;
            for (uint32_t k = 0; k < nd; k++) {
                int64_t dim;
                memcpy(&dim, p + 8 * k, 8);
                cnt *= (uint64_t)dim;
            }
            p += 8 * nd;
            int scale = !strcmp(name, "txt.emb.weight") || !strcmp(name, "txt.conv.weight") ||
                        !strcmp(name, "htxt.l1.weight") || !strcmp(name, "htxt.l2.weight") ||
                        !strcmp(name, "htxt.l2.bias") || !strcmp(name, "htxt.bn.running_mean");
            for (uint64_t k = 0; scale && k < cnt; k++) {
                float f;
                memcpy(&f, p + 4 * k, 4);
                f *= 0.5f + (float)(rnd() % 1000) / 1000.0f;
                memcpy((unsigned char *)p + 4 * k, &f, 4);
            }
            p += 4 * cnt;
        }
        reseal(bad, n);
    }
    run_model(api, "rescaled model", bad, n, &t, sample);

    for (int i = 0; i < t.n; i++)
        free(t.s[i]);
    free(t.s);
    free(bad);
    free(blob);
    if (model_failures)
        fprintf(stderr, "%d check(s) failed\n", model_failures);
    return model_failures ? 1 : 0;
}
