/* model_format: the .duchm checksum and the refusal of non-finite weights, in both
 * readers (the C text encoder, model/textenc.c, and the libtorch library through
 * duch_model_load).
 *
 *   model_format MODEL OUTDIR
 *
 * Checks that MODEL's trailing checksum is FNV-1a 64 of every byte before it, with the
 * standard offset basis for format version 2 and the old one for version 1 (the
 * library's FNV-1a, checked against the published test vectors first); that both
 * readers open MODEL; that a finite change to a weight with the checksum redone still
 * opens (so the rewrite below is right); and that NaN or an infinity in a text tensor
 * or an image tensor is refused by both with a message naming the tensor. Writes
 * OUTDIR/nan.duchm and OUTDIR/inf.duchm (valid files but for the weight) for the
 * command-line part of tests/model_format.sh. */
#include "config.h"
#include "duch_modelfile.h"
#include "duch_textenc.h"
#include "model_common.h"

#include <math.h>
#include <stdint.h>

/* the one FNV-1a 64 (model/modelfile.c); tests/model_format.sh checks the file's
 * checksum with an independent one in Python too */
#define fnv(p, n, h) duch_fnv1a64((p), (n), (h))
#define STD_BASIS DUCH_FNV1A64_BASIS /* 14695981039346656037 = 0xcbf29ce484222325 */
#define V1_BASIS DUCH_FNV1A64_BASIS_V1

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Offset of float element idx of tensor name in the file, or 0 when absent. */
static size_t tensor_float(const unsigned char *d, size_t n, const char *name, uint64_t idx)
{
    size_t p = 24 + 4 + rd32(d + 24), end = n - 8;
    uint32_t nt = rd32(d + p);
    p += 4;
    for (uint32_t i = 0; i < nt && p < end; i++) {
        uint32_t nl = rd32(d + p);
        int match = nl == strlen(name) && !memcmp(d + p + 4, name, nl);
        p += 4 + nl;
        uint32_t nd = rd32(d + p);
        p += 4;
        uint64_t cnt = 1;
        for (uint32_t k = 0; k < nd; k++)
            cnt *= rd64(d + p + 8 * k);
        p += 8 * (size_t)nd;
        if (match)
            return idx < cnt ? p + 4 * idx : 0;
        p += 4 * cnt;
    }
    return 0;
}

static void reseal(unsigned char *d, size_t n)
{
    uint64_t h = fnv(d, n - 8, rd32(d + 8) == 1 ? V1_BASIS : STD_BASIS);
    memcpy(d + n - 8, &h, 8);
}

static int write_file(const char *path, const unsigned char *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(d, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Both readers on d: expect success (want == NULL) or DUCH_CORRUPT with a message
 * holding want and want2. */
static void both(const duch_model_api *api, const unsigned char *d, size_t n, const char *want,
                 const char *want2, const char *label)
{
    duch_textenc *e = NULL;
    int rc = duch_textenc_open_blob(d, n, &e);
    const char *msg = duch_textenc_errmsg(e);
    if (want) {
        CHECK(rc == DUCH_CORRUPT);
        CHECK(strstr(msg, want) && strstr(msg, want2));
    } else
        CHECK(rc == DUCH_OK);
    printf("%s, C text encoder: %s\n", label, rc ? msg : "opens");
    duch_textenc_close(e);
    duch_model *m = NULL;
    rc = api->open_blob(d, n, &m);
    msg = api->errmsg(m);
    if (want) {
        CHECK(rc == DUCH_CORRUPT);
        CHECK(strstr(msg, want) && strstr(msg, want2));
    } else
        CHECK(rc == DUCH_OK);
    printf("%s, libtorch: %s\n", label, rc ? msg : "opens");
    api->close(m);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: model_format MODEL OUTDIR\n");
        return 2;
    }
    /* FNV-1a 64 test vectors (Fowler/Noll/Vo): "" and "a", "foobar" */
    CHECK(fnv((const unsigned char *)"", 0, STD_BASIS) == 0xcbf29ce484222325ULL);
    CHECK(fnv((const unsigned char *)"a", 1, STD_BASIS) == 0xaf63dc4c8601ec8cULL);
    CHECK(fnv((const unsigned char *)"foobar", 6, STD_BASIS) == 0x85944171f73967e8ULL);

    char err[2048];
    const duch_model_api *api = duch_model_load(err, sizeof err);
    if (!api) {
        fprintf(stderr, "%s\n", err);
        return 77;
    }
    size_t n = 0;
    unsigned char *d = model_slurp(argv[1], &n);
    if (!d || n < 40) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    uint32_t ver = rd32(d + 8);
    uint64_t stored = rd64(d + n - 8);
    printf("%s: format version %u, checksum %016llx\n", argv[1], (unsigned)ver,
           (unsigned long long)stored);
    CHECK(ver == 1 || ver == 2);
    CHECK(stored == fnv(d, n - 8, ver == 1 ? V1_BASIS : STD_BASIS));
    if (ver >= 2) /* the old basis must not match a new file by accident */
        CHECK(stored != fnv(d, n - 8, V1_BASIS));

    /* the file as it is opens in both, and its id is the stored checksum */
    both(api, d, n, NULL, NULL, "as shipped");
    duch_textenc *e = NULL;
    char idhex[20];
    snprintf(idhex, sizeof idhex, "%016llx", (unsigned long long)stored);
    if (duch_textenc_open_blob(d, n, &e) == DUCH_OK)
        CHECK(!strcmp(duch_textenc_id(e), idhex));
    duch_textenc_close(e);
    duch_model *m = NULL;
    if (api->open_blob(d, n, &m) == DUCH_OK)
        CHECK(!strcmp(api->id(m), idhex));
    api->close(m);

    size_t txt = tensor_float(d, n, "txt.conv.weight", 5);
    size_t img = tensor_float(d, n, "img.stem.weight", 3);
    CHECK(txt && img);
    if (!txt || !img) {
        free(d);
        return 1;
    }
    unsigned char *c = malloc(n);
    float f;
    /* a finite change, resealed: opens (the rewrite below makes otherwise valid files) */
    memcpy(c, d, n);
    f = 0.25f;
    memcpy(c + txt, &f, 4);
    reseal(c, n);
    both(api, c, n, NULL, NULL, "finite weight changed");
    /* the same change without resealing: the checksum catches it */
    memcpy(c + n - 8, d + n - 8, 8);
    both(api, c, n, "checksum", "", "finite weight changed, old checksum");

    char path[4096];
    static const struct {
        const char *tensor, *file, *word;
        int inf, neg;
    } cases[] = {{"txt.conv.weight", "nan.duchm", "NaN", 0, 0},
                 {"txt.conv.weight", "inf.duchm", "infinite", 1, 0},
                 {"txt.conv.weight", NULL, "infinite", 1, 1},
                 {"img.stem.weight", NULL, "NaN", 0, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(c, d, n);
        f = cases[k].inf ? (cases[k].neg ? -INFINITY : INFINITY) : NAN;
        memcpy(c + (cases[k].tensor[0] == 't' ? txt : img), &f, 4);
        reseal(c, n);
        char label[96];
        snprintf(label, sizeof label, "%s%s in %s", cases[k].neg ? "-" : "", cases[k].word,
                 cases[k].tensor);
        both(api, c, n, cases[k].tensor, cases[k].word, label);
        if (cases[k].file) {
            snprintf(path, sizeof path, "%s/%s", argv[2], cases[k].file);
            CHECK(write_file(path, c, n) == 0);
        }
    }
    free(c);
    free(d);
    if (model_failures) {
        fprintf(stderr, "%d check(s) failed\n", model_failures);
        return 1;
    }
    printf("ok: checksum, versions and non-finite weights\n");
    return 0;
}
