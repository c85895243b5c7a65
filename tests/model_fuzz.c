/* model_fuzz: a bounded, deterministic fuzz test of model parsing.
 *
 * mod_duch parses whatever model BLOB the database holds, so the C text encoder
 * (duch_textenc_open_blob), the one model-file reader (duch_modelfile_read) and the JSON
 * reader under them must refuse any damaged file with an error status, never crash,
 * read out of bounds or leak (run it under ASan or valgrind to see the last two).
 *
 * It builds a small valid model in memory (a text network of text_dim 3, hidden 4, 8
 * bits, a 6-word vocabulary; an image network of width 1 that the C encoder skips and
 * the libtorch reader needs), checks that it opens and encodes, that the header's
 * max_tokens and bn_eps are read (and their defaults when absent, as in format 1 and 2
 * files), that a format 1 file (old checksum basis) opens, and that empty and NULL
 * blobs are refused. Then it feeds ~30000 mutations: truncations (every length through
 * the header and the first tensors, then every 13th), bit flips (with the checksum left
 * stale, and redone so the damage reaches the header and tensor parsers), random byte
 * runs, huge and negative length and dimension fields, and hostile headers (deep
 * nesting, huge numbers, bad escapes, wrong types). Each open must give DUCH_OK (then
 * encoding works) or an error status with a message. A fixed seed; about 2 s (the bit
 * flips and byte runs stop after 4 s, for valgrind).
 *
 * With DUCH_FUZZ_LIBTORCH=1 (and DUCH_MODEL_LIB, as make check sets it) a share of the
 * blobs also goes through the libtorch reader (api->open_blob). That is off by default
 * so that the test stays fast and clean under ASan and valgrind, which libtorch is not. */
#include "duch_modelfile.h"
#include "duch_textenc.h"
#include "model_common.h"

#include <stdint.h>
#include <time.h>

/* ---- a growing byte buffer ---- */
typedef struct bytes {
    unsigned char *d;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->d = realloc(b->d, b->cap);
        if (!b->d) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put64(bytes *b, uint64_t v) { put(b, &v, 8); }

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *VOCAB = "[\"dense\",\"residential\",\"area\",\"r\\u00edo\",\"area\",\"x\"]";
enum { V = 6, D = 3, H = 4, K = 8 };

/* The tensors of the whole network (width 1, blocks 1), as the libtorch side names
 * them: the image branch (which the C encoder skips), then the text branch. */
enum { MAX_TENSORS = 96 };
typedef struct tspec {
    char name[40];
    int nd;
    int64_t dims[4];
} tspec;

static void add_t(tspec *ts, int *n, const char *name, int nd, int64_t a, int64_t b, int64_t c,
                  int64_t d)
{
    tspec *t = &ts[(*n)++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->nd = nd;
    t->dims[0] = a, t->dims[1] = b, t->dims[2] = c, t->dims[3] = d;
}

/* a BatchNorm of c channels: weight, bias and the running statistics */
static void add_bn(tspec *ts, int *n, const char *prefix, int64_t c)
{
    static const char *parts[] = {"weight", "bias", "running_mean", "running_var"};
    char name[40];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, parts[i]);
        add_t(ts, n, name, 1, c, 0, 0, 0);
    }
}

static int all_tensors(tspec *ts)
{
    int n = 0;
    char name[40];
    add_t(ts, &n, "img.stem.weight", 4, 1, 3, 3, 3);
    add_bn(ts, &n, "img.bn", 1);
    for (int s = 0; s < 4; s++) {
        int64_t in = s ? 1 << (s - 1) : 1, out = 1 << s;
        snprintf(name, sizeof name, "img.stages.%d.c1.weight", s);
        add_t(ts, &n, name, 4, out, in, 3, 3);
        snprintf(name, sizeof name, "img.stages.%d.b1", s);
        add_bn(ts, &n, name, out);
        snprintf(name, sizeof name, "img.stages.%d.c2.weight", s);
        add_t(ts, &n, name, 4, out, out, 3, 3);
        snprintf(name, sizeof name, "img.stages.%d.b2", s);
        add_bn(ts, &n, name, out);
        snprintf(name, sizeof name, "img.stages.%d.down.weight", s);
        add_t(ts, &n, name, 4, out, in, 1, 1);
        snprintf(name, sizeof name, "img.stages.%d.bd", s);
        add_bn(ts, &n, name, out);
    }
    add_t(ts, &n, "himg.l1.weight", 2, H, 8, 0, 0);
    add_t(ts, &n, "himg.l1.bias", 1, H, 0, 0, 0);
    add_bn(ts, &n, "himg.bn", H);
    add_t(ts, &n, "himg.l2.weight", 2, K, H, 0, 0);
    add_t(ts, &n, "himg.l2.bias", 1, K, 0, 0, 0);
    add_t(ts, &n, "txt.emb.weight", 2, V + 1, D, 0, 0);
    add_t(ts, &n, "txt.conv.weight", 3, D, D, 3, 0);
    add_t(ts, &n, "txt.conv.bias", 1, D, 0, 0, 0);
    add_t(ts, &n, "htxt.l1.weight", 2, H, 2 * D, 0, 0);
    add_t(ts, &n, "htxt.l1.bias", 1, H, 0, 0, 0);
    add_bn(ts, &n, "htxt.bn", H);
    add_t(ts, &n, "htxt.l2.weight", 2, K, H, 0, 0);
    add_t(ts, &n, "htxt.l2.bias", 1, K, 0, 0, 0);
    return n;
}

/* offsets of interesting fields in the last built model */
typedef struct layout {
    size_t hlen_at, header_at, header_len, nt_at;
    size_t tensor_at[MAX_TENSORS]; /* each tensor record's name-length field */
    int ntensors;
} layout;

/* A model file with header fields arch_extra (inserted in "architecture") and the
 * text network's tensors; version 1 or 2 (the checksum basis follows). */
static bytes build_model(uint32_t version, const char *arch_extra, layout *lo)
{
    char hdr[2048];
    snprintf(hdr, sizeof hdr,
             "{\"format\":\"duchm\",\"format_version\":%u,\"bits\":%d,\"input_size\":16,"
             "\"tile_ground_m\":12.5,\"architecture\":{\"image\":\"resnet-basic\",\"width\":1,"
             "\"blocks\":1,\"text\":\"emb-conv1d-meanmax\",\"text_dim\":%d,\"hidden\":%d%s},"
             "\"training\":{\"seed\":1,\"note\":\"fuzz \\\"fixture\\\"\",\"ok\":true,\"x\":null},"
             "\"vocab_size\":%d,\"vocab\":%s}",
             (unsigned)version, K, D, H, arch_extra, V, VOCAB);
    tspec ts[MAX_TENSORS];
    int nt = all_tensors(ts);

    bytes p = {0};
    lo->hlen_at = 24;
    put32(&p, (uint32_t)strlen(hdr));
    lo->header_at = 24 + p.n;
    lo->header_len = strlen(hdr);
    put(&p, hdr, strlen(hdr));
    lo->nt_at = 24 + p.n;
    put32(&p, (uint32_t)nt);
    uint64_t s = 12345; /* weights: their own generator, the same in every build */
    for (int i = 0; i < nt; i++) {
        lo->tensor_at[i] = 24 + p.n;
        put32(&p, (uint32_t)strlen(ts[i].name));
        put(&p, ts[i].name, strlen(ts[i].name));
        put32(&p, (uint32_t)ts[i].nd);
        uint64_t cnt = 1;
        for (int k = 0; k < ts[i].nd; k++) {
            put64(&p, (uint64_t)ts[i].dims[k]);
            cnt *= (uint64_t)ts[i].dims[k];
        }
        int var = strstr(ts[i].name, "running_var") != NULL;
        for (uint64_t j = 0; j < cnt; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            float f = (float)((double)(s >> 40) / (double)(1 << 24)) - 0.5f; /* [-0.5, 0.5) */
            if (var)
                f = f + 0.6f; /* a variance: positive */
            put(&p, &f, 4);
        }
    }
    lo->ntensors = nt;
    bytes b = {0};
    put(&b, "DUCHMODL", 8);
    put32(&b, version);
    put32(&b, 0);
    put64(&b, p.n);
    put(&b, p.d, p.n);
    free(p.d);
    put64(&b, duch_fnv1a64(b.d, b.n, version == 1 ? DUCH_FNV1A64_BASIS_V1 : DUCH_FNV1A64_BASIS));
    return b;
}

static void reseal(unsigned char *d, size_t n)
{
    if (n < 40)
        return;
    uint32_t ver;
    memcpy(&ver, d + 8, 4);
    uint64_t h = duch_fnv1a64(d, n - 8, ver == 1 ? DUCH_FNV1A64_BASIS_V1 : DUCH_FNV1A64_BASIS);
    memcpy(d + n - 8, &h, 8);
}

/* ---- the parsers on one blob ---- */
static long n_calls, n_ok, n_err;
static const duch_model_api *torch_api; /* NULL: the libtorch reader is not tried */
static long torch_calls;

static int valid_status(int rc)
{
    return rc == DUCH_OK || rc == DUCH_CORRUPT || rc == DUCH_VERSION || rc == DUCH_INVALID ||
           rc == DUCH_NOMEM;
}

/* Every parser on an exact-size heap copy of d (so ASan sees a read past its end).
 * Returns the text encoder's status. */
static int try_blob(const unsigned char *d, size_t n, int with_torch)
{
    unsigned char *c = malloc(n ? n : 1);
    if (n)
        memcpy(c, d, n);
    n_calls++;
    duch_textenc *e = NULL;
    int rc = duch_textenc_open_blob(c, n, &e);
    CHECK(valid_status(rc));
    CHECK(e != NULL);
    if (e) {
        const char *msg = duch_textenc_errmsg(e);
        CHECK(msg && *msg);
        if (rc == DUCH_OK) {
            n_ok++;
            int bits = duch_textenc_bits(e);
            CHECK(bits >= 8 && bits <= 1024 && bits % 8 == 0);
            CHECK(strlen(duch_textenc_id(e)) == 16);
            unsigned char code[128];
            int r1 = duch_textenc_encode(e, "Dense residential AREA, río x x x", code);
            int r2 = duch_textenc_encode(e, "", code);
            CHECK(r1 == DUCH_OK || r1 == DUCH_INVALID);
            CHECK(r2 == DUCH_INVALID);
        } else {
            n_err++;
            CHECK(duch_textenc_bits(e) == 0);
            CHECK(strcmp(msg, "no error") != 0);
        }
    }
    duch_textenc_close(e);
    duch_modelfile mf;
    char err[256];
    int mrc = duch_modelfile_read(c, n, &mf, err, sizeof err);
    CHECK(valid_status(mrc));
    CHECK(mrc == DUCH_OK || err[0]);
    if (mrc == DUCH_OK) {
        CHECK(mf.vocab_n > 0 && mf.max_tokens >= 1 && mf.bn_eps > 0);
        for (size_t i = 0; i < mf.ntensors; i++) /* every tensor lies inside the blob */
            CHECK(mf.tensors[i].data >= c &&
                  mf.tensors[i].data + 4 * mf.tensors[i].count <= c + n);
    }
    /* the encoder opens only what the reader accepts */
    CHECK(rc != DUCH_OK || mrc == DUCH_OK);
    duch_modelfile_free(&mf);
    if (with_torch && torch_api) {
        duch_model *m = NULL;
        int trc = torch_api->open_blob(c, n, &m);
        CHECK(valid_status(trc));
        CHECK(m != NULL && torch_api->errmsg(m) != NULL);
        torch_api->close(m);
        torch_calls++;
    }
    free(c);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the valid fixture: what must work ---- */
static void check_fixture(const bytes *b)
{
    duch_textenc *e = NULL;
    int rc = duch_textenc_open_blob(b->d, b->n, &e);
    CHECK(rc == DUCH_OK);
    if (rc)
        fprintf(stderr, "the valid fixture does not open: %s\n", duch_textenc_errmsg(e));
    CHECK(duch_textenc_bits(e) == K);
    unsigned char code[1];
    CHECK(duch_textenc_encode(e, "dense area", code) == DUCH_OK);
    CHECK(duch_textenc_encode(e, "nothing known", code) == DUCH_INVALID);
    duch_textenc_close(e);
    if (torch_api) { /* the libtorch reader opens it too, and gives the same text code */
        duch_model *m = NULL;
        unsigned char tcode[1] = {0};
        const char *text = "dense area";
        CHECK(torch_api->open_blob(b->d, b->n, &m) == DUCH_OK);
        CHECK(torch_api->encode_texts(m, 1, &text, tcode) == DUCH_OK);
        CHECK(tcode[0] == code[0]);
        printf("libtorch: %s; text code %02x, C encoder %02x\n", torch_api->errmsg(m), tcode[0],
               code[0]);
        torch_api->close(m);
    }
    duch_modelfile mf;
    char err[256];
    CHECK(duch_modelfile_read(b->d, b->n, &mf, err, sizeof err) == DUCH_OK);
    CHECK(mf.bits == K && mf.text_dim == D && mf.hidden == H && mf.vocab_n == V);
    CHECK(mf.ntensors == 84 && mf.training != NULL);
    CHECK(duch_modelfile_tensor_named(&mf, "txt.emb.weight") != NULL);
    CHECK(duch_modelfile_tensor_named(&mf, "txt.emb") == NULL);
    duch_modelfile_free(&mf);
}

/* max_tokens and bn_eps: read from the header, defaults when absent */
static void check_fields(void)
{
    layout lo;
    duch_modelfile mf;
    char err[256];
    bytes old = build_model(2, "", &lo); /* a file as written before the fields existed */
    CHECK(duch_modelfile_read(old.d, old.n, &mf, err, sizeof err) == DUCH_OK);
    CHECK(mf.max_tokens == 32 && mf.bn_eps == 1e-5);
    duch_modelfile_free(&mf);
    bytes v1 = build_model(1, "", &lo); /* format 1: the old checksum basis */
    CHECK(duch_modelfile_read(v1.d, v1.n, &mf, err, sizeof err) == DUCH_OK);
    CHECK(mf.version == 1);
    duch_modelfile_free(&mf);
    duch_textenc *e = NULL;
    CHECK(duch_textenc_open_blob(v1.d, v1.n, &e) == DUCH_OK);
    duch_textenc_close(e);
    /* the same bytes with a version-2 checksum basis are corrupt */
    v1.d[8] = 2;
    CHECK(duch_textenc_open_blob(v1.d, v1.n, &e) == DUCH_CORRUPT);
    CHECK(strstr(duch_textenc_errmsg(e), "checksum") != NULL);
    duch_textenc_close(e);

    /* max_tokens 2: only the first two known words count */
    bytes t2 = build_model(2, ",\"max_tokens\":2", &lo), t32 = build_model(2, ",\"max_tokens\":32", &lo);
    duch_textenc *a = NULL, *b = NULL;
    CHECK(duch_textenc_open_blob(t2.d, t2.n, &a) == DUCH_OK);
    CHECK(duch_textenc_open_blob(t32.d, t32.n, &b) == DUCH_OK);
    float va[K], vb[K], vc[K], vd[K];
    CHECK(duch_textenc_encode_values(a, "dense residential area", NULL, va) == DUCH_OK);
    CHECK(duch_textenc_encode_values(b, "dense unknown residential", NULL, vb) == DUCH_OK);
    CHECK(!memcmp(va, vb, sizeof va)); /* both see "dense residential" */
    CHECK(duch_textenc_encode_values(b, "dense residential area", NULL, vc) == DUCH_OK);
    CHECK(memcmp(va, vc, sizeof va) != 0); /* 32 tokens see "area" too */
    CHECK(duch_textenc_encode_values(a, "dense residential area", NULL, vd) == DUCH_OK);
    duch_textenc_close(a);
    duch_textenc_close(b);
    /* an explicit 1e-5 is the default; another epsilon changes the outputs */
    bytes e5 = build_model(2, ",\"bn_eps\":1e-05", &lo), e1 = build_model(2, ",\"bn_eps\":0.5", &lo);
    CHECK(duch_textenc_open_blob(e5.d, e5.n, &a) == DUCH_OK);
    CHECK(duch_textenc_open_blob(e1.d, e1.n, &b) == DUCH_OK);
    CHECK(duch_textenc_open_blob(old.d, old.n, &e) == DUCH_OK);
    CHECK(duch_textenc_encode_values(a, "area x", NULL, va) == DUCH_OK);
    CHECK(duch_textenc_encode_values(b, "area x", NULL, vb) == DUCH_OK);
    CHECK(duch_textenc_encode_values(e, "area x", NULL, vc) == DUCH_OK);
    CHECK(!memcmp(va, vc, sizeof va));
    CHECK(memcmp(va, vb, sizeof va) != 0);
    duch_textenc_close(a);
    duch_textenc_close(b);
    duch_textenc_close(e);
    /* out-of-range values are refused, by name */
    static const char *bad[] = {",\"max_tokens\":0", ",\"max_tokens\":1025", ",\"max_tokens\":2.5",
                                ",\"max_tokens\":\"32\"", ",\"bn_eps\":0", ",\"bn_eps\":-1e-5",
                                ",\"bn_eps\":1", ",\"bn_eps\":1e999", ",\"bn_eps\":null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bytes x = build_model(2, bad[i], &lo);
        CHECK(duch_textenc_open_blob(x.d, x.n, &e) == DUCH_CORRUPT);
        CHECK(strstr(duch_textenc_errmsg(e), strstr(bad[i], "max") ? "max_tokens" : "bn_eps"));
        duch_textenc_close(e);
        free(x.d);
    }
    free(old.d);
    free(v1.d);
    free(t2.d);
    free(t32.d);
    free(e5.d);
    free(e1.d);
}

/* ---- mutations ---- */
static void mutate_all(const bytes *base, const layout *lo, double deadline)
{
    size_t n = base->n;
    unsigned char *m = malloc(n + 64);
    long before = n_calls;

    /* every truncation through the header and the first tensors, then every 13th length
     * and the last 64 (and the full length + a few stray bytes) */
    size_t dense = lo->header_at + lo->header_len + 256;
    for (size_t len = 0; len < n; len += len < dense || len + 64 >= n ? 1 : 13) {
        int rc = try_blob(base->d, len, len % 16 == 0);
        CHECK(rc != DUCH_OK);
    }
    memcpy(m, base->d, n);
    memset(m + n, 0, 64);
    for (size_t extra = 1; extra <= 64; extra *= 2)
        CHECK(try_blob(m, n + extra, 1) == DUCH_CORRUPT);
    printf("truncations and trailing bytes: %ld blobs\n", n_calls - before);

    /* single bit flips, checksum stale (all refused) and redone (parsed deeper) */
    before = n_calls;
    for (int i = 0; i < 12000 && now_s() < deadline; i++) {
        memcpy(m, base->d, n);
        size_t at = (size_t)(rnd() % n);
        m[at] ^= (unsigned char)(1u << (rnd() % 8));
        if (i % 2 == 0) {
            int rc = try_blob(m, n, 0); /* a flip in the checksum itself also fails it */
            CHECK(rc == DUCH_CORRUPT || (rc == DUCH_VERSION && at >= 8 && at < 12));
        } else {
            reseal(m, n);
            try_blob(m, n, i % 8 == 1);
        }
    }
    printf("bit flips: %ld blobs\n", n_calls - before);

    /* random byte runs, resealed; half of them inside the header JSON */
    before = n_calls;
    for (int i = 0; i < 12000 && now_s() < deadline; i++) {
        memcpy(m, base->d, n);
        size_t len = 1 + (size_t)(rnd() % 16);
        size_t at = i % 2 ? lo->header_at + (size_t)(rnd() % lo->header_len)
                          : 8 + (size_t)(rnd() % (n - 16));
        for (size_t k = 0; k < len && at + k < n - 8; k++)
            m[at + k] = i % 3 == 0 ? (unsigned char)"{}[]\",:\\u0-e9 tfn"[rnd() % 18] : (unsigned char)rnd();
        reseal(m, n);
        try_blob(m, n, i % 8 == 0);
    }
    printf("byte runs: %ld blobs\n", n_calls - before);

    /* huge, zero and negative length, count and dimension fields, resealed */
    before = n_calls;
    static const uint64_t vals[] = {0, 1, 2, 7, 8, 9, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                                    0xFFFFFFFF, 0x100000000ULL, 0x7FFFFFFFFFFFFFFFULL,
                                    0x8000000000000000ULL, 0xFFFFFFFFFFFFFFFFULL,
                                    0x4000000000000000ULL, 0x2000000001ULL};
    size_t fields[4 + 4 * MAX_TENSORS];
    int sizes[4 + 4 * MAX_TENSORS], nf = 0;
    fields[nf] = 16, sizes[nf++] = 8;          /* payload length */
    fields[nf] = 8, sizes[nf++] = 4;           /* format version */
    fields[nf] = lo->hlen_at, sizes[nf++] = 4; /* header length */
    fields[nf] = lo->nt_at, sizes[nf++] = 4;   /* tensor count */
    for (int t = 0; t < lo->ntensors; t++) {
        uint32_t nl;
        memcpy(&nl, base->d + lo->tensor_at[t], 4);
        fields[nf] = lo->tensor_at[t], sizes[nf++] = 4;              /* name length */
        fields[nf] = lo->tensor_at[t] + 4 + nl, sizes[nf++] = 4;     /* ndim */
        fields[nf] = lo->tensor_at[t] + 8 + nl, sizes[nf++] = 8;     /* first dim */
        fields[nf] = lo->tensor_at[t] + 16 + nl, sizes[nf++] = 8;     /* second dim */
    }
    for (int f = 0; f < nf; f++)
        for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++)
            for (int seal = f < 4 ? 0 : 1; seal < 2; seal++) { /* stale: the frame's fields */
                memcpy(m, base->d, n);
                memcpy(m + fields[f], &vals[v], (size_t)sizes[f]);
                if (seal)
                    reseal(m, n);
                try_blob(m, n, seal && v % 3 == 0);
            }
    printf("length and dimension fields: %ld blobs\n", n_calls - before);
    free(m);
}

/* ---- hostile headers: the whole file valid but for its JSON ---- */
static bytes with_header(const bytes *base, const layout *lo, const char *hdr, size_t hl)
{
    bytes b = {0};
    put(&b, base->d, 24);
    put32(&b, (uint32_t)hl);
    put(&b, hdr, hl);
    size_t tail = lo->header_at + lo->header_len;
    put(&b, base->d + tail, base->n - 8 - tail);
    uint64_t plen = b.n - 24;
    memcpy(b.d + 16, &plen, 8);
    put64(&b, 0);
    reseal(b.d, b.n);
    return b;
}

static void hostile_headers(const bytes *base, const layout *lo)
{
    long before = n_calls;
    char *h = malloc(70000);
    const char *orig = (const char *)base->d + lo->header_at;
    size_t ol = lo->header_len;
    /* nesting: 150 levels parse (and lack the fields), 250 are too deep */
    for (int depth = 150; depth <= 250; depth += 100) {
        size_t k = 0;
        for (int i = 0; i < depth; i++)
            h[k++] = '[';
        for (int i = 0; i < depth; i++)
            h[k++] = ']';
        bytes b = with_header(base, lo, h, k);
        CHECK(try_blob(b.d, b.n, 1) == DUCH_CORRUPT);
        free(b.d);
        char err[128];
        duch_json *j = NULL;
        int rc = duch_json_parse(h, k, &j, err, sizeof err);
        CHECK(depth < 200 ? rc == DUCH_OK : (rc == DUCH_CORRUPT && strstr(err, "too deep")));
        duch_json_free(j);
    }
    /* a 60000-deep nesting must not exhaust the stack */
    memset(h, '[', 60000);
    {
        bytes b = with_header(base, lo, h, 60000);
        CHECK(try_blob(b.d, b.n, 1) == DUCH_CORRUPT);
        free(b.d);
    }
    /* field values: replace the value of "bits" (right after "\"bits\":") */
    static const char *vals[] = {"1e308", "-1e308", "1e999", "-0", "8.9", "NaN", "\"8\"", "[8]",
                                 "{}", "null", "true", "1e-999", "00008", "+8", "8e", "-",
                                 "123456789012345678901234567890123456789012345678901234567890"
                                 "12345678901234567890123456789012345678901234567890",
                                 "\"\\ud800\"", "\"\\u00\"", "\"\\x\"", "\"\x01\"", "\"unterminated"};
    const char *bits_at = strstr(orig, "\"bits\":");
    CHECK(bits_at != NULL);
    size_t pre = (size_t)(bits_at - orig) + 7, post = pre;
    while (post < ol && orig[post] >= '0' && orig[post] <= '9')
        post++;
    for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
        size_t vl = strlen(vals[v]), k = 0;
        memcpy(h, orig, pre), k = pre;
        memcpy(h + k, vals[v], vl), k += vl;
        memcpy(h + k, orig + post, ol - post), k += ol - post;
        bytes b = with_header(base, lo, h, k);
        int rc = try_blob(b.d, b.n, 1);
        CHECK(rc == (v == 4 || v == 12 ? DUCH_OK : DUCH_CORRUPT)); /* 8.9 and 00008 read as 8 */
        free(b.d);
    }
    /* prefixes of the header JSON (each a syntax error), and the vocabulary as other types */
    for (size_t k = 0; k < ol; k += 7) {
        bytes b = with_header(base, lo, orig, k);
        CHECK(try_blob(b.d, b.n, 0) == DUCH_CORRUPT);
        free(b.d);
    }
    static const char *vocabs[] = {"[]", "{}", "\"dense\"", "[1,2]", "[\"a\",null]", "[\"\\u0000\"]"};
    const char *vo = strstr(orig, "\"vocab\":");
    CHECK(vo != NULL);
    size_t vpre = (size_t)(vo - orig) + 8;
    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++) {
        size_t vl = strlen(vocabs[v]), k = 0;
        memcpy(h, orig, vpre), k = vpre;
        memcpy(h + k, vocabs[v], vl), k += vl;
        h[k++] = '}';
        bytes b = with_header(base, lo, h, k);
        CHECK(try_blob(b.d, b.n, 1) == DUCH_CORRUPT); /* wrong type, or the embedding's shape */
        free(b.d);
    }
    free(h);
    printf("hostile headers: %ld blobs\n", n_calls - before);
}

int main(void)
{
    double t0 = now_s();
    /* the libtorch reader too, when the model library is there and loads */
    const char *lib = getenv("DUCH_MODEL_LIB"), *want = getenv("DUCH_FUZZ_LIBTORCH");
    void *dl = want && !strcmp(want, "1") && lib && *lib ? dlopen(lib, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (dl) {
        const duch_model_api *(*get)(void) =
            (const duch_model_api *(*)(void))dlsym(dl, "duch_model_api_v1");
        torch_api = get ? get() : NULL;
        if (torch_api && torch_api->abi_version != DUCH_MODEL_ABI_VERSION)
            torch_api = NULL;
    }
    printf("libtorch reader: %s\n", torch_api ? "included"
                                     : "not tried (set DUCH_FUZZ_LIBTORCH=1 with DUCH_MODEL_LIB)");

    /* the refusals every reader must make */
    duch_textenc *e = NULL;
    CHECK(duch_textenc_open_blob("", 0, &e) == DUCH_CORRUPT);
    CHECK(strstr(duch_textenc_errmsg(e), "truncated") != NULL);
    duch_textenc_close(e);
    CHECK(duch_textenc_open_blob(NULL, 0, &e) == DUCH_INVALID);
    duch_textenc_close(e);
    CHECK(duch_textenc_open_blob("x", 1, NULL) == DUCH_INVALID);
    duch_modelfile mf;
    CHECK(duch_modelfile_read("", 0, &mf, NULL, 0) == DUCH_CORRUPT);
    duch_modelfile_free(&mf);
    CHECK(duch_modelfile_read(NULL, 5, &mf, NULL, 0) == DUCH_INVALID);
    duch_modelfile_free(&mf);

    layout lo;
    bytes base = build_model(2, ",\"max_tokens\":4,\"bn_eps\":1e-05", &lo);
    printf("fixture: %zu bytes, header %zu bytes, %d tensors\n", base.n, lo.header_len,
           lo.ntensors);
    check_fixture(&base);
    check_fields();
    CHECK(try_blob(base.d, base.n, 1) == DUCH_OK);

    mutate_all(&base, &lo, t0 + 4.0); /* flips and runs stop there (valgrind) */
    hostile_headers(&base, &lo);
    free(base.d);

    printf("%ld blobs in %.1f s: %ld opened, %ld refused; %ld through libtorch\n", n_calls,
           now_s() - t0, n_ok, n_err, torch_calls);
    CHECK(n_err > 0 && n_ok > 0);
    if (dl)
        dlclose(dl);
    if (model_failures) {
        fprintf(stderr, "%d check(s) failed\n", model_failures);
        return 1;
    }
    printf("ok: every damaged model refused with a status, no crash\n");
    return 0;
}
