/*
 * textenc.c: the text branch of a .duchm model without libtorch (see duch_textenc.h).
 *
 * It mirrors model/duch_torch.cpp and model/duch_data.cpp step by step:
 *   file      "DUCHMODL" | u32 version | u32 0 | u64 payload length P | payload |
 *             u64 FNV-1a 64 of every byte before it (version 2: the standard offset basis
 *             14695981039346656037; version 1: 1469598103934665603, a digit short);
 *             payload: u32 header length | header
 *             JSON | u32 tensor count | per tensor: u32 name length | name | u32 ndim |
 *             i64 dims | float32 data (little-endian, row-major)
 *   tokenize  ASCII letters lower-cased, letters/digits/well-formed multi-byte UTF-8
 *             sequences form words, everything else separates; words not in the
 *             vocabulary are skipped; at most 32 known words (ids 1..V; vocab[i] is id
 *             i+1, a repeated word takes its last id)
 *   TextNet   x = txt.emb.weight[id] (L x D); conv1d k=3 padding 1 (txt.conv.weight
 *             D x D x 3, txt.conv.bias); y = relu(conv(x)) + x; features = [mean over
 *             the L positions, max over them] (2D)
 *   HashHead  htxt.l1 (H x 2D) -> BatchNorm1d eval (running stats, eps 1e-5) -> relu ->
 *             htxt.l2 (K x H) -> tanh; bit j set when output j > 0
 * One text is one batch of L = its word count, as the libtorch path encodes a single
 * text, so no padding position enters the pooling.
 */
#include "config.h"
#include "duch_textenc.h"
#include "duch_utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TE_FORMAT_VERSION 2u
/* FNV-1a 64 offset bases: the standard one (format 2 on), and the one format 1 files
 * were written with (a digit short of it); the model id is the stored checksum */
#define TE_FNV_BASIS 14695981039346656037ULL
#define TE_FNV_BASIS_V1 1469598103934665603ULL
#define TE_MAX_TOKENS 32
#define TE_BN_EPS 1e-5f
#define TE_TEXT_ARCH "emb-conv1d-meanmax"

struct duch_textenc {
    char err[512];
    char id[20];
    int open;
    int bits, dim, hidden, vocab_n; /* vocab_n: vocabulary entries, repeats included */
    /* vocabulary: open-addressing hash table of words -> 1-based ids */
    char *words;                    /* all words, NUL-terminated, back to back */
    size_t *slot_off;               /* per slot: offset in words + 1, 0 = empty */
    int *slot_id;
    size_t nslots;
    /* weights */
    float *emb;                     /* (V+1) x D */
    float *conv_w;                  /* D x 3 x D: [o][k][i] (transposed from D x D x 3) */
    float *conv_b;                  /* D */
    float *l1_w, *l1_b;             /* H x 2D, H */
    float *bn_a, *bn_b;             /* per hidden unit: x * a + b (eval BatchNorm) */
    float *l2_w, *l2_b;             /* K x H, K */
    /* scratch */
    float *xp;                      /* (MAX+2) x D, zero rows at both ends */
    float *y;                       /* MAX x D */
    float *feat;                    /* 2D */
    float *h;                       /* H */
    float *out;                     /* K */
};

static int set_err(duch_textenc *e, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    duch_vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return rc;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ------------------------------------------------------------------ JSON (header) */

/* A reader of the few header fields the text branch needs; it accepts the same JSON as
 * duch_data.cpp's parser (and rejects what it rejects), first occurrence of a key wins. */
typedef struct jp {
    const char *p, *end, *begin;
    char err[96];
    int depth;
} jp;

static int jp_fail(jp *j, const char *what)
{
    if (!j->err[0])
        snprintf(j->err, sizeof j->err, "%s at byte %ld", what, (long)(j->p - j->begin));
    return 0;
}

static void jp_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

typedef struct sbuf {
    char *d;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *s, const char *src, size_t n)
{
    if (!s || s->oom)
        return;
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (s->n + n + 1 > cap)
            cap *= 2;
        char *d = realloc(s->d, cap);
        if (!d) {
            s->oom = 1;
            return;
        }
        s->d = d;
        s->cap = cap;
    }
    memcpy(s->d + s->n, src, n);
    s->n += n;
    s->d[s->n] = 0;
}

static void sb_utf8(sbuf *s, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_put(s, b, n);
}

static int jp_hex4(jp *j, unsigned *v)
{
    if (j->end - j->p < 4)
        return jp_fail(j, "truncated \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (unsigned)(c - 'A' + 10);
        else
            return jp_fail(j, "bad \\u escape");
    }
    return 1;
}

/* A string into s (NULL: validate and skip). */
static int jp_string(jp *j, sbuf *s)
{
    if (j->p >= j->end || *j->p != '"')
        return jp_fail(j, "expected a string");
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20)
            return jp_fail(j, "control character in string");
        if (c != '\\') {
            const char *run = j->p;
            while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
                j->p++;
            sb_put(s, run, (size_t)(j->p - run));
            continue;
        }
        if (++j->p >= j->end)
            break;
        char e = *j->p++, o;
        switch (e) {
        case '"': o = '"'; break;
        case '\\': o = '\\'; break;
        case '/': o = '/'; break;
        case 'b': o = '\b'; break;
        case 'f': o = '\f'; break;
        case 'n': o = '\n'; break;
        case 'r': o = '\r'; break;
        case 't': o = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            if (!jp_hex4(j, &cp))
                return 0;
            if (cp >= 0xD800 && cp < 0xDC00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u') {
                j->p += 2;
                unsigned lo = 0;
                if (!jp_hex4(j, &lo))
                    return 0;
                if (lo >= 0xDC00 && lo < 0xE000)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    cp = 0xFFFD;
            } else if (cp >= 0xD800 && cp < 0xE000)
                cp = 0xFFFD;
            sb_utf8(s, cp);
            continue;
        }
        default:
            return jp_fail(j, "bad escape in string");
        }
        sb_put(s, &o, 1);
    }
    if (j->p >= j->end)
        return jp_fail(j, "unterminated string");
    j->p++;
    return 1;
}

enum { JT_NULL, JT_BOOL, JT_NUM, JT_STR, JT_ARR, JT_OBJ };

/* Callback for the members of an object / elements of an array being parsed: returns
 * 1 if it consumed the value (at j->p, after white space), 0 to let the parser skip it,
 * -1 on failure. */
typedef int (*jp_member_fn)(jp *j, const char *key, void *arg);

static int jp_value(jp *j, int *type, double *num, sbuf *str, jp_member_fn fn, void *arg);

static int jp_container(jp *j, int obj, jp_member_fn fn, void *arg)
{
    j->p++;
    jp_ws(j);
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
        j->p++;
        return 1;
    }
    sbuf key = {0};
    int ok = 1;
    for (;;) {
        jp_ws(j);
        if (obj) {
            key.n = 0;
            if (!jp_string(j, &key)) {
                ok = 0;
                break;
            }
            if (key.oom) {
                ok = jp_fail(j, "out of memory");
                break;
            }
            if (key.d)
                key.d[key.n] = 0;
            jp_ws(j);
            if (j->p >= j->end || *j->p != ':') {
                ok = jp_fail(j, "expected ':'");
                break;
            }
            j->p++;
        }
        jp_ws(j);
        int used = 0;
        if (fn && j->p < j->end) {
            used = fn(j, obj ? (key.d ? key.d : "") : NULL, arg);
            if (used < 0) {
                ok = 0;
                break;
            }
        }
        if (!used) {
            int t;
            if (!jp_value(j, &t, NULL, NULL, NULL, NULL)) {
                ok = 0;
                break;
            }
        }
        jp_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
            break;
        }
        ok = jp_fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    free(key.d);
    return ok;
}

/* Parse any value; numbers into *num, strings into str (either may be NULL); the
 * members of an object or array go through fn. */
static int jp_value(jp *j, int *type, double *num, sbuf *str, jp_member_fn fn, void *arg)
{
    jp_ws(j);
    if (j->p >= j->end)
        return jp_fail(j, "unexpected end of input");
    if (++j->depth > 200)
        return jp_fail(j, "nesting too deep");
    int ok = 1;
    char c = *j->p;
    if (c == '{' || c == '[') {
        *type = c == '{' ? JT_OBJ : JT_ARR;
        ok = jp_container(j, c == '{', fn, arg);
    } else if (c == '"') {
        *type = JT_STR;
        ok = jp_string(j, str);
    } else if (c == 't' && j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) {
        *type = JT_BOOL;
        j->p += 4;
    } else if (c == 'f' && j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) {
        *type = JT_BOOL;
        j->p += 5;
    } else if (c == 'n' && j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
        *type = JT_NULL;
        j->p += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = j->p;
        while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9')) && *j->p)
            j->p++;
        char tmp[64], *e;
        size_t n = (size_t)(j->p - s);
        if (n >= sizeof tmp)
            return jp_fail(j, "bad number");
        memcpy(tmp, s, n);
        tmp[n] = 0;
        double v = strtod(tmp, &e);
        if (*e)
            return jp_fail(j, "bad number");
        *type = JT_NUM;
        if (num)
            *num = v;
    } else
        return jp_fail(j, "unexpected character");
    j->depth--;
    return ok;
}

/* what the header gives */
typedef struct hdr {
    int has_arch, has_vocab, arch_is_obj, vocab_is_arr;
    int seen_bits, seen_input, seen_tgm, seen_text, seen_dim, seen_hidden, seen_width,
        seen_blocks;
    double bits, input_size, tile_ground_m, text_dim, hidden, width, blocks;
    sbuf text;          /* architecture.text */
    sbuf words;         /* vocabulary, NUL-separated */
    int nwords, nonstr; /* entries; a non-string entry seen */
} hdr;

static int take_num(jp *j, int *seen, double *dst)
{
    int t;
    double v = 0;
    if (*seen)
        return 0; /* a repeated key: the first one counts */
    *seen = 1;
    if (!jp_value(j, &t, &v, NULL, NULL, NULL))
        return -1;
    if (t == JT_NUM)
        *dst = v;
    return 1;
}

static int arch_member(jp *j, const char *key, void *arg)
{
    hdr *h = arg;
    if (!strcmp(key, "text_dim"))
        return take_num(j, &h->seen_dim, &h->text_dim);
    if (!strcmp(key, "hidden"))
        return take_num(j, &h->seen_hidden, &h->hidden);
    if (!strcmp(key, "width"))
        return take_num(j, &h->seen_width, &h->width);
    if (!strcmp(key, "blocks"))
        return take_num(j, &h->seen_blocks, &h->blocks);
    if (!strcmp(key, "text") && !h->seen_text) {
        int t;
        h->seen_text = 1;
        sbuf s = {0};
        if (!jp_value(j, &t, NULL, &s, NULL, NULL)) {
            free(s.d);
            return -1;
        }
        if (t == JT_STR && !s.oom) {
            sb_put(&h->text, s.d ? s.d : "", s.n);
            if (!h->text.d)
                sb_put(&h->text, "", 0);
        }
        free(s.d);
        return 1;
    }
    return 0;
}

static int vocab_elem(jp *j, const char *key, void *arg)
{
    hdr *h = arg;
    int t;
    size_t at = h->words.n;
    if (!jp_value(j, &t, NULL, &h->words, NULL, NULL))
        return -1;
    if (t != JT_STR)
        h->nonstr = 1;
    else {
        sb_put(&h->words, "", 1); /* the separating NUL */
        h->nwords++;
    }
    (void)at;
    return 1;
}

static int top_member(jp *j, const char *key, void *arg)
{
    hdr *h = arg;
    int t;
    if (!strcmp(key, "bits"))
        return take_num(j, &h->seen_bits, &h->bits);
    if (!strcmp(key, "input_size"))
        return take_num(j, &h->seen_input, &h->input_size);
    if (!strcmp(key, "tile_ground_m"))
        return take_num(j, &h->seen_tgm, &h->tile_ground_m);
    if (!strcmp(key, "architecture") && !h->has_arch) {
        h->has_arch = 1;
        h->arch_is_obj = *j->p == '{';
        return jp_value(j, &t, NULL, NULL, h->arch_is_obj ? arch_member : NULL, h) ? 1 : -1;
    }
    if (!strcmp(key, "vocab") && !h->has_vocab) {
        h->has_vocab = 1;
        h->vocab_is_arr = *j->p == '[';
        return jp_value(j, &t, NULL, NULL, h->vocab_is_arr ? vocab_elem : NULL, h) ? 1 : -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ vocabulary */

static uint64_t word_hash(const char *s, size_t n)
{
    return fnv1a64((const unsigned char *)s, n, TE_FNV_BASIS);
}

static int vocab_build(duch_textenc *e, char *words, size_t wlen, int n)
{
    e->words = words;
    size_t ns = 16;
    while (ns < (size_t)n * 2)
        ns *= 2;
    e->nslots = ns;
    e->slot_off = calloc(ns, sizeof *e->slot_off);
    e->slot_id = calloc(ns, sizeof *e->slot_id);
    if (!e->slot_off || !e->slot_id)
        return 0;
    size_t off = 0;
    for (int id = 1; id <= n && off < wlen; id++) {
        const char *w = words + off;
        size_t len = strlen(w);
        size_t s = (size_t)word_hash(w, len) & (ns - 1);
        while (e->slot_off[s] && strcmp(words + e->slot_off[s] - 1, w))
            s = (s + 1) & (ns - 1);
        e->slot_off[s] = off + 1;
        e->slot_id[s] = id; /* a repeated word keeps its last id, as the libtorch map does */
        off += len + 1;
    }
    return 1;
}

static int vocab_find(const duch_textenc *e, const char *w, size_t len)
{
    size_t s = (size_t)word_hash(w, len) & (e->nslots - 1);
    while (e->slot_off[s]) {
        const char *c = e->words + e->slot_off[s] - 1;
        if (!strncmp(c, w, len) && c[len] == 0)
            return e->slot_id[s];
        s = (s + 1) & (e->nslots - 1);
    }
    return 0;
}

/* Tokenize as duch_data.cpp's tokenize() and look the words up as Model::ids_of does:
 * at most TE_MAX_TOKENS known words. Returns the number of ids. */
static int text_ids(const duch_textenc *e, const char *text, int *ids)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), i = 0;
    char cur[1024];
    size_t cl = 0;
    int nid = 0, overflow = 0;
#define FLUSH()                                                        \
    do {                                                               \
        if (cl && !overflow && nid < TE_MAX_TOKENS) {                  \
            int id_ = vocab_find(e, cur, cl);                          \
            if (id_)                                                   \
                ids[nid++] = id_;                                      \
        }                                                              \
        cl = 0;                                                        \
        overflow = 0;                                                  \
    } while (0)
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            char add = 0;
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                add = (char)c;
            else if (c >= 'A' && c <= 'Z')
                add = (char)(c - 'A' + 'a');
            if (add) {
                if (cl < sizeof cur - 1)
                    cur[cl++] = add;
                else
                    overflow = 1; /* longer than any vocabulary word can be here */
            } else
                FLUSH();
            i++;
            continue;
        }
        int len = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        int ok = len > 0 && i + (size_t)len <= n;
        for (int k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xC0) == 0x80;
        if (!ok) {
            FLUSH();
            i++;
            continue;
        }
        if (cl + (size_t)len < sizeof cur)
            memcpy(cur + cl, s + i, (size_t)len), cl += (size_t)len;
        else
            overflow = 1;
        i += (size_t)len;
    }
    FLUSH();
#undef FLUSH
    return nid;
}

/* ------------------------------------------------------------------ open */

/* Every weight must be a finite number: a NaN or an infinity (a diverged training, a
 * damaged or hand-edited file whose checksum was redone) would give garbage codes
 * without a word. Checked on the bit pattern, so no compiler flag can fold it away. */
static int check_finite(duch_textenc *e, const char *name, uint32_t nl, const unsigned char *p,
                        uint64_t cnt)
{
    for (uint64_t i = 0; i < cnt; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        if ((u & 0x7F800000u) == 0x7F800000u) {
            int shown = (int)duch_utf8_prefix(name, nl < 128 ? nl : 128);
            return set_err(e, DUCH_CORRUPT,
                           "model file tensor '%.*s' holds %s at element %llu: the model is"
                           " unusable (its training diverged or the file was altered)",
                           shown, name, (u & 0x007FFFFFu) ? "NaN" : "an infinite value",
                           (unsigned long long)i);
        }
    }
    return DUCH_OK;
}

typedef struct tensor_spec {
    const char *name;
    int ndim;
    int64_t dims[3];
    float **dst;  /* where to put a malloc'ed copy */
    int seen;
} tensor_spec;

static int open_impl(duch_textenc *e, const unsigned char *d, size_t n)
{
    static const char MAGIC[8] = {'D', 'U', 'C', 'H', 'M', 'O', 'D', 'L'};
    if (n < 8 || memcmp(d, MAGIC, 8)) {
        if (n < 8 && !memcmp(d, MAGIC, n))
            return set_err(e, DUCH_CORRUPT, "truncated model file (%zu bytes)", n);
        return set_err(e, DUCH_CORRUPT, "not a duch model file (bad magic)");
    }
    if (n < 24)
        return set_err(e, DUCH_CORRUPT, "truncated model file (%zu bytes, header needs 24)", n);
    uint32_t ver;
    uint64_t plen;
    memcpy(&ver, d + 8, 4);
    memcpy(&plen, d + 16, 8);
    if (ver > TE_FORMAT_VERSION)
        return set_err(e, DUCH_VERSION,
                       "model file format version %u is newer than this library reads (%u);"
                       " upgrade duch", (unsigned)ver, TE_FORMAT_VERSION);
    if (ver == 0)
        return set_err(e, DUCH_CORRUPT, "model file format version 0 is invalid");
    if (plen > n || n - 24 - 8 < plen || n < 32)
        return set_err(e, DUCH_CORRUPT, "truncated model file: %zu bytes, expected %llu", n,
                       (unsigned long long)(plen + 32));
    if (n != 24 + plen + 8)
        return set_err(e, DUCH_CORRUPT, "model file has %llu unexpected trailing bytes",
                       (unsigned long long)(n - 32 - plen));
    uint64_t want;
    memcpy(&want, d + 24 + plen, 8);
    if (fnv1a64(d, 24 + plen, ver == 1 ? TE_FNV_BASIS_V1 : TE_FNV_BASIS) != want)
        return set_err(e, DUCH_CORRUPT, "model file checksum mismatch (file is corrupt)");
    const unsigned char *p = d + 24, *end = d + 24 + plen;
#define NEED(k)                                                                        \
    do {                                                                               \
        if ((size_t)(end - p) < (size_t)(k))                                           \
            return set_err(e, DUCH_CORRUPT, "model file payload is inconsistent");     \
    } while (0)
    uint32_t hlen;
    NEED(4);
    memcpy(&hlen, p, 4);
    p += 4;
    NEED(hlen);
    hdr h;
    memset(&h, 0, sizeof h);
    jp j = {(const char *)p, (const char *)p + hlen, (const char *)p, {0}, 0};
    int t, ok = jp_value(&j, &t, NULL, NULL, NULL, NULL);
    if (ok) {
        /* parse again, now collecting (the first pass validated the whole text) */
        jp j2 = {(const char *)p, (const char *)p + hlen, (const char *)p, {0}, 0};
        ok = jp_value(&j2, &t, NULL, NULL, t == JT_OBJ ? top_member : NULL, &h);
        if (!ok)
            memcpy(j.err, j2.err, sizeof j.err);
        else {
            jp_ws(&j2);
            if (j2.p != j2.end) {
                jp_fail(&j2, "trailing characters");
                memcpy(j.err, j2.err, sizeof j.err);
                ok = 0;
            }
        }
    }
    int rc = DUCH_OK;
    if (!ok) {
        rc = set_err(e, DUCH_CORRUPT, "model header: %s", j.err);
        goto finish;
    }
    if (h.words.oom || h.text.oom) {
        rc = set_err(e, DUCH_NOMEM, "out of memory");
        goto finish;
    }
    p += hlen;
    if (!h.has_arch || !h.has_vocab || !h.vocab_is_arr) {
        rc = set_err(e, DUCH_CORRUPT, "model header lacks architecture or vocab");
        goto finish;
    }
    int bits = (int)h.bits, input = (int)h.input_size, width = (int)h.width,
        blocks = (int)h.blocks, dim = (int)h.text_dim, hidden = (int)h.hidden;
    if (bits < 8 || bits > 1024 || bits % 8 || input < 8 || input > 1024 || width < 1 ||
        width > 512 || blocks < 1 || blocks > 8 || dim < 1 || dim > 4096 || hidden < 1 ||
        hidden > 16384 || !(h.tile_ground_m >= 0)) {
        rc = set_err(e, DUCH_CORRUPT, "model header has out-of-range architecture values");
        goto finish;
    }
    if (!h.text.d || strcmp(h.text.d, TE_TEXT_ARCH)) {
        rc = set_err(e, DUCH_INVALID, "text architecture '%s' not supported by the C encoder",
                     h.text.d ? h.text.d : "?");
        goto finish;
    }
    if (h.nonstr) {
        rc = set_err(e, DUCH_CORRUPT, "model vocabulary holds a non-string");
        goto finish;
    }
    if (h.nwords == 0) {
        rc = set_err(e, DUCH_CORRUPT, "model vocabulary is empty");
        goto finish;
    }
    e->bits = bits;
    e->dim = dim;
    e->hidden = hidden;
    e->vocab_n = h.nwords;
    int V = h.nwords, D = dim, H = hidden, K = bits;
    float *conv_raw = NULL, *bn_w = NULL, *bn_bias = NULL, *bn_mean = NULL, *bn_var = NULL;
    tensor_spec spec[] = {
        {"txt.emb.weight", 2, {V + 1, D, 0}, &e->emb, 0},
        {"txt.conv.weight", 3, {D, D, 3}, &conv_raw, 0},
        {"txt.conv.bias", 1, {D, 0, 0}, &e->conv_b, 0},
        {"htxt.l1.weight", 2, {H, 2 * D, 0}, &e->l1_w, 0},
        {"htxt.l1.bias", 1, {H, 0, 0}, &e->l1_b, 0},
        {"htxt.bn.weight", 1, {H, 0, 0}, &bn_w, 0},
        {"htxt.bn.bias", 1, {H, 0, 0}, &bn_bias, 0},
        {"htxt.bn.running_mean", 1, {H, 0, 0}, &bn_mean, 0},
        {"htxt.bn.running_var", 1, {H, 0, 0}, &bn_var, 0},
        {"htxt.l2.weight", 2, {K, H, 0}, &e->l2_w, 0},
        {"htxt.l2.bias", 1, {K, 0, 0}, &e->l2_b, 0},
    };
    const int nspec = (int)(sizeof spec / sizeof spec[0]);
    uint32_t nt;
    if ((size_t)(end - p) < 4) {
        rc = set_err(e, DUCH_CORRUPT, "model file payload is inconsistent");
        goto tensors_done;
    }
    memcpy(&nt, p, 4);
    p += 4;
    for (uint32_t i = 0; i < nt && rc == DUCH_OK; i++) {
        uint32_t nl, nd;
        if ((size_t)(end - p) < 4 || (memcpy(&nl, p, 4), (size_t)(end - p - 4) < nl)) {
            rc = set_err(e, DUCH_CORRUPT, "model file payload is inconsistent");
            break;
        }
        const char *name = (const char *)p + 4;
        p += 4 + nl;
        if ((size_t)(end - p) < 4) {
            rc = set_err(e, DUCH_CORRUPT, "model file payload is inconsistent");
            break;
        }
        memcpy(&nd, p, 4);
        p += 4;
        if (nd > 8 || (size_t)(end - p) < (size_t)nd * 8) {
            rc = set_err(e, DUCH_CORRUPT, "model file payload is inconsistent");
            break;
        }
        int64_t dims[8];
        uint64_t cnt = 1;
        for (uint32_t k = 0; k < nd; k++) {
            memcpy(&dims[k], p + 8 * k, 8);
            if (dims[k] < 0 || (dims[k] > 0 && cnt > UINT64_MAX / 4 / (uint64_t)dims[k])) {
                cnt = UINT64_MAX;
                break;
            }
            cnt *= (uint64_t)dims[k];
        }
        p += (size_t)nd * 8;
        if (cnt == UINT64_MAX || (uint64_t)(end - p) / 4 < cnt) {
            rc = set_err(e, DUCH_CORRUPT, "model file payload is inconsistent");
            break;
        }
        for (int s = 0; s < nspec; s++) {
            if (strlen(spec[s].name) != nl || memcmp(spec[s].name, name, nl))
                continue;
            if (spec[s].seen) {
                rc = set_err(e, DUCH_CORRUPT, "model file has tensor '%s' twice", spec[s].name);
                break;
            }
            spec[s].seen = 1;
            if ((int)nd != spec[s].ndim) {
                rc = set_err(e, DUCH_CORRUPT, "tensor '%s' has the wrong rank", spec[s].name);
                break;
            }
            for (int k = 0; k < spec[s].ndim; k++)
                if (dims[k] != spec[s].dims[k]) {
                    rc = set_err(e, DUCH_CORRUPT, "tensor '%s' has the wrong shape", spec[s].name);
                    break;
                }
            if (rc)
                break;
            *spec[s].dst = malloc((size_t)cnt * 4 + 4);
            if (!*spec[s].dst) {
                rc = set_err(e, DUCH_NOMEM, "out of memory");
                break;
            }
            memcpy(*spec[s].dst, p, (size_t)cnt * 4);
        }
        if (rc == DUCH_OK)
            rc = check_finite(e, name, nl, p, cnt);
        p += (size_t)cnt * 4;
    }
    if (rc == DUCH_OK && p != end)
        rc = set_err(e, DUCH_CORRUPT, "model file payload has trailing bytes");
    for (int s = 0; s < nspec && rc == DUCH_OK; s++)
        if (!spec[s].seen)
            rc = set_err(e, DUCH_CORRUPT, "model file lacks tensor '%s'", spec[s].name);
    if (rc == DUCH_OK) {
        /* conv weight [o][i][k] -> [o][k][i]; BatchNorm eval as x * a + b, the way
         * ATen's CPU batch_norm folds it: a = w / sqrt(var + eps), b = bias - mean * a */
        e->conv_w = malloc((size_t)D * D * 3 * sizeof(float));
        e->bn_a = malloc((size_t)H * sizeof(float));
        e->bn_b = malloc((size_t)H * sizeof(float));
        e->xp = calloc((size_t)(TE_MAX_TOKENS + 2) * D, sizeof(float));
        e->y = malloc((size_t)TE_MAX_TOKENS * D * sizeof(float));
        e->feat = malloc((size_t)2 * D * sizeof(float));
        e->h = malloc((size_t)H * sizeof(float));
        e->out = malloc((size_t)K * sizeof(float));
        if (!e->conv_w || !e->bn_a || !e->bn_b || !e->xp || !e->y || !e->feat || !e->h ||
            !e->out)
            rc = set_err(e, DUCH_NOMEM, "out of memory");
    }
    if (rc == DUCH_OK) {
        for (int o = 0; o < D; o++)
            for (int i = 0; i < D; i++)
                for (int k = 0; k < 3; k++)
                    e->conv_w[((size_t)o * 3 + k) * D + i] = conv_raw[((size_t)o * D + i) * 3 + k];
        for (int u = 0; u < H; u++) {
            float inv = 1.0f / sqrtf(bn_var[u] + TE_BN_EPS);
            e->bn_a[u] = inv * bn_w[u];
            e->bn_b[u] = bn_bias[u] - bn_mean[u] * e->bn_a[u];
        }
        char *words = h.words.d;
        h.words.d = NULL;
        if (!vocab_build(e, words, h.words.n, V))
            rc = set_err(e, DUCH_NOMEM, "out of memory");
    }
    if (rc == DUCH_OK) {
        snprintf(e->id, sizeof e->id, "%016llx", (unsigned long long)want);
        e->open = 1;
        e->err[0] = 0;
    }
tensors_done:
    free(conv_raw);
    free(bn_w);
    free(bn_bias);
    free(bn_mean);
    free(bn_var);
finish:
    free(h.words.d);
    free(h.text.d);
    return rc;
#undef NEED
}

static void release(duch_textenc *e)
{
    free(e->words);
    free(e->slot_off);
    free(e->slot_id);
    free(e->emb);
    free(e->conv_w);
    free(e->conv_b);
    free(e->l1_w);
    free(e->l1_b);
    free(e->bn_a);
    free(e->bn_b);
    free(e->l2_w);
    free(e->l2_b);
    free(e->xp);
    free(e->y);
    free(e->feat);
    free(e->h);
    free(e->out);
    char err[sizeof e->err];
    memcpy(err, e->err, sizeof err);
    memset(e, 0, sizeof *e);
    memcpy(e->err, err, sizeof err);
}

int duch_textenc_open_blob(const void *data, size_t size, duch_textenc **out)
{
    if (!out)
        return DUCH_INVALID;
    duch_textenc *e = *out = calloc(1, sizeof *e);
    if (!e)
        return DUCH_NOMEM;
    if (!data)
        return set_err(e, DUCH_INVALID, "open_blob: NULL data");
    int rc = open_impl(e, data, size);
    if (rc != DUCH_OK)
        release(e);
    return rc;
}

int duch_textenc_open(const char *path, duch_textenc **out)
{
    if (!out)
        return DUCH_INVALID;
    if (!path) {
        duch_textenc *e = *out = calloc(1, sizeof *e);
        return e ? set_err(e, DUCH_INVALID, "open: NULL path") : DUCH_NOMEM;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        int en = errno;
        duch_textenc *e = *out = calloc(1, sizeof *e);
        if (!e)
            return DUCH_NOMEM;
        return set_err(e, en == ENOENT ? DUCH_NOTFOUND : DUCH_IO, "cannot open %s: %s", path,
                       strerror(en));
    }
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            unsigned char *b = realloc(buf, nc);
            if (!b) {
                bad = 2;
                break;
            }
            buf = b;
            cap = nc;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (!bad && ferror(f))
        bad = 1;
    fclose(f);
    int rc;
    if (bad) {
        duch_textenc *e = *out = calloc(1, sizeof *e);
        rc = !e ? DUCH_NOMEM
             : bad == 2 ? set_err(e, DUCH_NOMEM, "out of memory")
                        : set_err(e, DUCH_IO, "error reading %s", path);
    } else {
        rc = duch_textenc_open_blob(buf ? (const void *)buf : "", n, out);
        if (rc != DUCH_OK && *out) {
            char tmp[sizeof (*out)->err];
            size_t pl = strlen(path);
            if (pl > sizeof tmp / 2)
                pl = duch_utf8_prefix(path, sizeof tmp / 2);
            duch_snprintf(tmp, sizeof tmp, "%.*s: %s", (int)pl, path, (*out)->err);
            memcpy((*out)->err, tmp, sizeof tmp);
        }
    }
    free(buf);
    return rc;
}

void duch_textenc_close(duch_textenc *e)
{
    if (!e)
        return;
    release(e);
    free(e);
}

const char *duch_textenc_errmsg(const duch_textenc *e)
{
    if (!e)
        return "no text encoder handle (out of memory?)";
    return e->err[0] ? e->err : "no error";
}

int duch_textenc_bits(const duch_textenc *e) { return e && e->open ? e->bits : 0; }

const char *duch_textenc_id(const duch_textenc *e) { return e && e->open ? e->id : ""; }

/* ------------------------------------------------------------------ forward */

static void forward(duch_textenc *e, const int *ids, int L)
{
    const int D = e->dim, H = e->hidden, K = e->bits;
    float *xp = e->xp; /* row 0 and row L+1 stay zero: the conv's padding */
    memset(xp, 0, (size_t)(L + 2) * D * sizeof(float));
    for (int t = 0; t < L; t++)
        memcpy(xp + (size_t)(t + 1) * D, e->emb + (size_t)ids[t] * D, (size_t)D * sizeof(float));
    /* y[t][o] = relu(conv) + x */
    for (int o = 0; o < D; o++) {
        const float *w = e->conv_w + (size_t)o * 3 * D;
        for (int t = 0; t < L; t++) {
            float acc = 0;
            for (int k = 0; k < 3; k++) {
                const float *x = xp + (size_t)(t + k) * D, *wk = w + (size_t)k * D;
                for (int i = 0; i < D; i++)
                    acc += wk[i] * x[i];
            }
            float c = acc + e->conv_b[o];
            e->y[(size_t)t * D + o] = (c > 0 ? c : 0) + xp[(size_t)(t + 1) * D + o];
        }
    }
    /* masked mean and max over the L positions (all real: no padding) */
    float fl = (float)L;
    for (int o = 0; o < D; o++) {
        float s = 0, m = e->y[o];
        for (int t = 0; t < L; t++) {
            float v = e->y[(size_t)t * D + o];
            s += v;
            if (v > m)
                m = v;
        }
        e->feat[o] = s / fl;
        e->feat[D + o] = m;
    }
    /* hashing head */
    for (int u = 0; u < H; u++) {
        const float *w = e->l1_w + (size_t)u * 2 * D;
        float acc = 0;
        for (int i = 0; i < 2 * D; i++)
            acc += w[i] * e->feat[i];
        float v = (acc + e->l1_b[u]) * e->bn_a[u] + e->bn_b[u];
        e->h[u] = v > 0 ? v : 0;
    }
    for (int k = 0; k < K; k++) {
        const float *w = e->l2_w + (size_t)k * H;
        float acc = 0;
        for (int u = 0; u < H; u++)
            acc += w[u] * e->h[u];
        e->out[k] = tanhf(acc + e->l2_b[k]);
    }
}

int duch_textenc_encode_values(duch_textenc *e, const char *text, unsigned char *code,
                               float *values)
{
    if (!e)
        return DUCH_INVALID;
    if (!e->open)
        return set_err(e, DUCH_INVALID, "the text encoder is not open");
    if (!text)
        return set_err(e, DUCH_INVALID, "encode: NULL text");
    int ids[TE_MAX_TOKENS];
    int L = text_ids(e, text, ids);
    if (L == 0) {
        size_t n = strlen(text);
        if (n > 60)
            return set_err(e, DUCH_INVALID,
                           "no word of \"%.*s...\" is in the model's vocabulary (%d words from"
                           " its training captions)", (int)duch_utf8_prefix(text, 57), text,
                           e->vocab_n);
        return set_err(e, DUCH_INVALID,
                       "no word of \"%s\" is in the model's vocabulary (%d words from its"
                       " training captions)", text, e->vocab_n);
    }
    forward(e, ids, L);
    if (code) {
        memset(code, 0, (size_t)e->bits / 8);
        for (int j = 0; j < e->bits; j++)
            if (e->out[j] > 0)
                code[j / 8] |= (unsigned char)(1u << (j % 8));
    }
    if (values)
        memcpy(values, e->out, (size_t)e->bits * sizeof(float));
    e->err[0] = 0;
    return DUCH_OK;
}

int duch_textenc_encode(duch_textenc *e, const char *text, unsigned char *code)
{
    if (e && !code)
        return set_err(e, DUCH_INVALID, "encode: NULL code");
    return duch_textenc_encode_values(e, text, code, NULL);
}
