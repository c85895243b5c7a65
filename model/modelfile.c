/*
 * modelfile.c: the one .duchm reader, the tokenizer and FNV-1a 64 (see duch_modelfile.h).
 *
 * duch_modelfile_read works in three steps, one function each: the frame (magic,
 * version, lengths, checksum), the header JSON (read_header) and the tensor table
 * (read_tensors). Everything it refuses is DUCH_CORRUPT unless the version is newer.
 */
#include "config.h"
#include "duch_modelfile.h"
#include "duch_utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ FNV-1a 64 */

uint64_t duch_fnv1a64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ------------------------------------------------------------------ tokenizer */

/* bytes of the well-formed UTF-8 sequence at s[0..n), 0 if malformed */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
               : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

int duch_token_next(const char *text, size_t n, size_t *pos, char *word, size_t cap,
                    size_t *len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = *pos, l = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k = 1;
        char add = 0;
        if (c < 0x80) {
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                add = (char)c;
            else if (c >= 'A' && c <= 'Z')
                add = (char)(c - 'A' + 'a');
        } else
            k = utf8_seq(s + i, n - i);
        if (!add && (c < 0x80 || k == 0)) { /* a separator */
            i++;
            if (l)
                break;
            continue;
        }
        for (size_t m = 0; m < k; m++, l++)
            if (l < cap)
                word[l] = add ? add : (char)s[i + m];
        i += k;
    }
    *pos = i;
    *len = l;
    return l > 0;
}

/* ------------------------------------------------------------------ misspellings */

/* Optimal string alignment distance of a[0..na) and b[0..nb) (insertions, deletions,
 * substitutions and swaps of two adjacent bytes, each 1), or maxd + 1 once it is known
 * to exceed maxd. Words here are at most DUCH_WORD_NEAREST_MAX bytes. */
static int osa_distance(const char *a, size_t na, const char *b, size_t nb, int maxd)
{
    int d0[DUCH_WORD_NEAREST_MAX + 1], d1[DUCH_WORD_NEAREST_MAX + 1], d2[DUCH_WORD_NEAREST_MAX + 1];
    int *pp = d0, *p = d1, *c = d2; /* rows i-2, i-1, i */
    for (size_t j = 0; j <= nb; j++)
        p[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        c[0] = (int)i;
        int best = c[0];
        for (size_t j = 1; j <= nb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = p[j - 1] + cost;
            if (p[j] + 1 < v)
                v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
            if (v < best)
                best = v;
        }
        if (best > maxd)
            return maxd + 1;
        int *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[nb] > maxd ? maxd + 1 : p[nb];
}

static int nearest_within(const char *w, size_t len, const char *const *cand, const size_t *clen,
                          size_t n, int maxd)
{
    if (len < DUCH_WORD_NEAREST_MIN || len > DUCH_WORD_NEAREST_MAX)
        return -1;
    int best = -1, bestd = maxd + 1;
    for (size_t i = 0; i < n && bestd > 1; i++) {
        size_t m = clen[i];
        if (m < DUCH_WORD_NEAREST_MIN || m > DUCH_WORD_NEAREST_MAX ||
            (m > len ? m - len : len - m) > (size_t)maxd)
            continue;
        int d = osa_distance(w, len, cand[i], m, bestd - 1);
        if (d < bestd)
            bestd = d, best = (int)i;
    }
    return best;
}

int duch_word_nearest(const char *w, size_t len, const char *const *cand, const size_t *clen,
                      size_t n)
{
    return nearest_within(w, len, cand, clen, n, len >= 8 ? 2 : 1);
}

int duch_alias_nearest(const char *w, size_t len, const char *const *cand, const size_t *clen,
                       size_t n)
{
    return len < DUCH_ALIAS_SLIP_MIN ? -1 : nearest_within(w, len, cand, clen, n, 1);
}

static int split_in(const char *w, size_t len, int (*known)(void *, const char *, size_t), void *ctx,
                    int parts, char *out, size_t cap)
{
    for (size_t k = len - DUCH_SPLIT_PART_MIN; k >= DUCH_SPLIT_PART_MIN && k < len; k--) {
        if (k + 2 > cap || !known(ctx, w, k))
            continue;
        memcpy(out, w, k);
        out[k] = ' ';
        size_t rest = len - k;
        if (known(ctx, w + k, rest) && k + 1 + rest < cap) {
            memcpy(out + k + 1, w + k, rest);
            out[k + 1 + rest] = 0;
            return 1;
        }
        if (parts > 2 && rest >= 2 * DUCH_SPLIT_PART_MIN &&
            split_in(w + k, rest, known, ctx, parts - 1, out + k + 1, cap - k - 1))
            return 1;
    }
    return 0;
}

int duch_word_split(const char *w, size_t len, int (*known)(void *, const char *, size_t), void *ctx,
                    char *out, size_t cap)
{
    if (len < 2 * DUCH_SPLIT_PART_MIN || len > DUCH_WORD_NEAREST_MAX)
        return 0;
    return split_in(w, len, known, ctx, 3, out, cap);
}

/* ------------------------------------------------------------------ reader */

typedef struct reader {
    const unsigned char *p, *end;
    char *err;
    size_t errlen;
} reader;

static int set_err(reader *r, int rc, const char *fmt, ...)
{
    if (r->err && r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        duch_vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int inconsistent(reader *r)
{
    return set_err(r, DUCH_CORRUPT, "model file payload is inconsistent");
}

static int get32(reader *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return 0;
    memcpy(v, r->p, 4);
    r->p += 4;
    return 1;
}

/* magic, version, lengths, checksum; on success r spans the payload */
static int read_frame(reader *r, const unsigned char *d, size_t n, duch_modelfile *mf)
{
    static const char MAGIC[8] = {'D', 'U', 'C', 'H', 'M', 'O', 'D', 'L'};
    if (n < 8 || memcmp(d, MAGIC, 8)) {
        if (n < 8 && !memcmp(d, MAGIC, n))
            return set_err(r, DUCH_CORRUPT, "truncated model file (%zu bytes)", n);
        return set_err(r, DUCH_CORRUPT, "not a duch model file (bad magic)");
    }
    if (n < 24)
        return set_err(r, DUCH_CORRUPT, "truncated model file (%zu bytes, header needs 24)", n);
    uint32_t ver;
    uint64_t plen;
    memcpy(&ver, d + 8, 4);
    memcpy(&plen, d + 16, 8);
    if (ver > DUCH_MODELFILE_VERSION)
        return set_err(r, DUCH_VERSION,
                       "model file format version %u is newer than this library reads (%u);"
                       " upgrade duch", (unsigned)ver, DUCH_MODELFILE_VERSION);
    if (ver == 0)
        return set_err(r, DUCH_CORRUPT, "model file format version 0 is invalid");
    if (n < 32 || plen > n - 32)
        return set_err(r, DUCH_CORRUPT, "truncated model file: %zu bytes, expected %llu", n,
                       (unsigned long long)plen + 32);
    if (n != 24 + plen + 8)
        return set_err(r, DUCH_CORRUPT, "model file has %llu unexpected trailing bytes",
                       (unsigned long long)(n - 32 - plen));
    uint64_t want;
    memcpy(&want, d + 24 + plen, 8);
    uint64_t basis = ver == 1 ? DUCH_FNV1A64_BASIS_V1 : DUCH_FNV1A64_BASIS;
    if (duch_fnv1a64(d, 24 + plen, basis) != want)
        return set_err(r, DUCH_CORRUPT, "model file checksum mismatch (file is corrupt)");
    mf->version = ver;
    mf->checksum = want;
    mf->size = n;
    r->p = d + 24;
    r->end = d + 24 + plen;
    return DUCH_OK;
}

/* an integer header field in [lo, hi] (fractions truncated, as (int) does) */
static int int_in(double v, int lo, int hi, int *out)
{
    if (!(v >= lo && v < (double)hi + 1))
        return 0;
    *out = (int)v;
    return 1;
}

/* the optional member key of header h, an array of at most max non-empty strings
 * ("phrases", "modifiers", ...): *out is it, or NULL when h has none; DUCH_CORRUPT, saying
 * what the array holds (kind) and what one item is, for anything else */
static int string_array(reader *r, const duch_json *h, const char *key, size_t max, const char *kind,
                        const char *item, const duch_json **out)
{
    const duch_json *a = duch_json_get(h, key);
    *out = NULL;
    if (!a)
        return DUCH_OK;
    if (a->type != DUCH_JSON_ARR || a->n > max)
        return set_err(r, DUCH_CORRUPT, "model header: %s must be an array of %s", key, kind);
    for (size_t i = 0; i < a->n; i++)
        if (a->items[i].type != DUCH_JSON_STR || !a->items[i].len)
            return set_err(r, DUCH_CORRUPT, "model header: %s %zu is not a string", item, i + 1);
    *out = a;
    return DUCH_OK;
}

/* the header JSON and the fields both encoders need */
static int read_header(reader *r, duch_modelfile *mf)
{
    uint32_t hlen;
    if (!get32(r, &hlen) || (size_t)(r->end - r->p) < hlen)
        return inconsistent(r);
    char jerr[160];
    int rc = duch_json_parse((const char *)r->p, hlen, &mf->header, jerr, sizeof jerr);
    if (rc == DUCH_NOMEM)
        return set_err(r, rc, "out of memory");
    if (rc)
        return set_err(r, DUCH_CORRUPT, "model header: %s", jerr);
    r->p += hlen;
    const duch_json *h = mf->header;
    const duch_json *ar = duch_json_get(h, "architecture");
    const duch_json *vo = duch_json_get(h, "vocab");
    if (!ar || !vo || vo->type != DUCH_JSON_ARR)
        return set_err(r, DUCH_CORRUPT, "model header lacks architecture or vocab");
    mf->tile_ground_m = duch_json_num_or(h, "tile_ground_m", 0);
    if (!int_in(duch_json_num_or(h, "bits", 0), 8, 1024, &mf->bits) || mf->bits % 8 ||
        !int_in(duch_json_num_or(h, "input_size", 0), 8, 1024, &mf->input_size) ||
        !int_in(duch_json_num_or(ar, "width", 0), 1, 512, &mf->width) ||
        !int_in(duch_json_num_or(ar, "blocks", 0), 1, 8, &mf->blocks) ||
        !int_in(duch_json_num_or(ar, "text_dim", 0), 1, 4096, &mf->text_dim) ||
        !int_in(duch_json_num_or(ar, "hidden", 0), 1, 16384, &mf->hidden) ||
        !(mf->tile_ground_m >= 0 && isfinite(mf->tile_ground_m)))
        return set_err(r, DUCH_CORRUPT, "model header has out-of-range architecture values");
    /* fields that files of format 1 and 2 may lack: the values they were trained with */
    const duch_json *mt = duch_json_get(ar, "max_tokens"), *eps = duch_json_get(ar, "bn_eps");
    mf->max_tokens = DUCH_MODELFILE_MAX_TOKENS_DEFAULT;
    mf->bn_eps = DUCH_MODELFILE_BN_EPS_DEFAULT;
    if (mt && (mt->type != DUCH_JSON_NUM ||
               !int_in(mt->num, 1, DUCH_MODELFILE_MAX_TOKENS_LIMIT, &mf->max_tokens) ||
               mt->num != mf->max_tokens))
        return set_err(r, DUCH_CORRUPT, "model header: max_tokens must be an integer from 1 to %d",
                       DUCH_MODELFILE_MAX_TOKENS_LIMIT);
    if (eps) {
        if (eps->type != DUCH_JSON_NUM || !(eps->num > 0 && eps->num < 1))
            return set_err(r, DUCH_CORRUPT, "model header: bn_eps must be a number in (0, 1)");
        mf->bn_eps = eps->num;
    }
    mf->image_arch = duch_json_str_or(ar, "image", "");
    mf->text_arch = duch_json_str_or(ar, "text", "");
    for (size_t i = 0; i < vo->n; i++)
        if (vo->items[i].type != DUCH_JSON_STR)
            return set_err(r, DUCH_CORRUPT, "model vocabulary holds a non-string");
    if (vo->n == 0)
        return set_err(r, DUCH_CORRUPT, "model vocabulary is empty");
    if (vo->n > 1u << 28)
        return set_err(r, DUCH_CORRUPT, "model vocabulary is too large");
    mf->vocab = vo;
    mf->vocab_n = (int)vo->n;
    const duch_json *al = duch_json_get(h, "aliases");
    mf->aliases = NULL;
    if (al) {
        if (al->type != DUCH_JSON_OBJ)
            return set_err(r, DUCH_CORRUPT, "model header: aliases must be an object of"
                           " word: vocabulary word");
        for (size_t i = 0; i < al->n; i++)
            if (al->items[i].type != DUCH_JSON_STR || !al->items[i].keylen) /* "": blocked */
                return set_err(r, DUCH_CORRUPT, "model header: alias %zu is not a word and the"
                               " vocabulary word it stands for", i + 1);
        if (al->n > 1u << 24)
            return set_err(r, DUCH_CORRUPT, "model header: too many aliases");
        mf->aliases = al;
    }
    const duch_json *tr = duch_json_get(h, "training");
    mf->training = tr && tr->type == DUCH_JSON_OBJ ? tr : NULL;
    const duch_json *cw = duch_json_get(h, "caption_words");
    mf->caption_words = 0;
    if (cw) {
        if (cw->type != DUCH_JSON_NUM || !(cw->num >= 1 && cw->num <= vo->n) || cw->num != (int)cw->num)
            return set_err(r, DUCH_CORRUPT, "model header: caption_words must be a count of"
                           " vocabulary words");
        mf->caption_words = (int)cw->num;
    }
    int arc;
    if ((arc = string_array(r, h, "phrases", 1u << 20, "phrases", "phrase", &mf->phrases)) ||
        (arc = string_array(r, h, "modifiers", vo->n, "vocabulary words", "modifier", &mf->modifiers)) ||
        (arc = string_array(r, h, "rare_words", vo->n, "vocabulary words", "rare word", &mf->rare_words)))
        return arc;
    const duch_json *cf = duch_json_get(h, "confidence");
    mf->has_confidence = 0;
    if (cf) {
        int crc = duch_confidence_parse(cf, &mf->confidence, r->err, r->errlen);
        if (crc != DUCH_OK)
            return crc;
        mf->has_confidence = 1;
    }
    return DUCH_OK;
}

/* Every weight must be a finite number: a NaN or an infinity (a diverged training, a
 * damaged or hand-edited file whose checksum was redone) would give garbage codes
 * without a word. Checked on the bit pattern, so no compiler flag can fold it away. */
static int check_finite(reader *r, const duch_modelfile_tensor *t)
{
    for (uint64_t i = 0; i < t->count; i++) {
        uint32_t u;
        memcpy(&u, t->data + 4 * i, 4);
        if ((u & 0x7F800000u) == 0x7F800000u) {
            size_t nl = t->name_len < 128 ? t->name_len : 128;
            int shown = (int)duch_utf8_prefix(t->name, nl);
            return set_err(r, DUCH_CORRUPT,
                           "model file tensor '%.*s' holds %s at element %llu: the model is"
                           " unusable (its training diverged or the file was altered)",
                           shown, t->name, (u & 0x007FFFFFu) ? "NaN" : "an infinite value",
                           (unsigned long long)i);
        }
    }
    return DUCH_OK;
}

/* one tensor record at r->p */
static int read_tensor(reader *r, duch_modelfile_tensor *t)
{
    uint32_t nl, nd;
    if (!get32(r, &nl) || (size_t)(r->end - r->p) < nl)
        return inconsistent(r);
    t->name = (const char *)r->p;
    t->name_len = nl;
    r->p += nl;
    if (!get32(r, &nd) || nd > 8 || (size_t)(r->end - r->p) / 8 < nd)
        return inconsistent(r);
    t->ndim = (int)nd;
    uint64_t cnt = 1;
    for (uint32_t k = 0; k < nd; k++) {
        memcpy(&t->dims[k], r->p + 8 * k, 8);
        if (t->dims[k] < 0)
            return inconsistent(r);
        if (t->dims[k] > 0 && cnt > UINT64_MAX / 4 / (uint64_t)t->dims[k])
            return inconsistent(r);
        cnt *= (uint64_t)t->dims[k];
    }
    r->p += (size_t)nd * 8;
    if ((uint64_t)(r->end - r->p) / 4 < cnt)
        return inconsistent(r);
    t->count = cnt;
    t->data = r->p;
    r->p += (size_t)cnt * 4;
    return DUCH_OK;
}

/* a name seen twice: an open-addressing set of tensor indices keyed by FNV of the name */
static int find_repeat(reader *r, const duch_modelfile *mf)
{
    size_t ns = 16;
    while (ns < mf->ntensors * 2)
        ns *= 2;
    size_t *slot = calloc(ns, sizeof *slot); /* index + 1, 0 = empty */
    if (!slot)
        return set_err(r, DUCH_NOMEM, "out of memory");
    int rc = DUCH_OK;
    for (size_t i = 0; i < mf->ntensors && rc == DUCH_OK; i++) {
        const duch_modelfile_tensor *t = &mf->tensors[i];
        size_t s = (size_t)duch_fnv1a64(t->name, t->name_len, DUCH_FNV1A64_BASIS) & (ns - 1);
        for (; slot[s]; s = (s + 1) & (ns - 1)) {
            const duch_modelfile_tensor *o = &mf->tensors[slot[s] - 1];
            if (o->name_len == t->name_len && !memcmp(o->name, t->name, t->name_len)) {
                int shown = (int)duch_utf8_prefix(t->name, t->name_len < 128 ? t->name_len : 128);
                rc = set_err(r, DUCH_CORRUPT, "model file has tensor '%.*s' twice", shown, t->name);
                break;
            }
        }
        slot[s] = i + 1;
    }
    free(slot);
    return rc;
}

static int read_tensors(reader *r, duch_modelfile *mf)
{
    uint32_t nt;
    if (!get32(r, &nt))
        return inconsistent(r);
    /* a record takes at least 8 bytes: the count cannot promise more than that */
    if (nt > (size_t)(r->end - r->p) / 8)
        return inconsistent(r);
    mf->tensors = calloc(nt ? nt : 1, sizeof *mf->tensors);
    if (!mf->tensors)
        return set_err(r, DUCH_NOMEM, "out of memory");
    for (uint32_t i = 0; i < nt; i++) {
        int rc = read_tensor(r, &mf->tensors[i]);
        if (rc)
            return rc;
        mf->ntensors = i + 1;
        if ((rc = check_finite(r, &mf->tensors[i])))
            return rc;
    }
    if (r->p != r->end)
        return set_err(r, DUCH_CORRUPT, "model file payload has trailing bytes");
    return find_repeat(r, mf);
}

int duch_modelfile_read(const void *data, size_t size, duch_modelfile *mf, char *err,
                        size_t errlen)
{
    reader r = {NULL, NULL, err, errlen};
    if (err && errlen)
        err[0] = 0;
    if (!mf)
        return set_err(&r, DUCH_INVALID, "model file: NULL result");
    memset(mf, 0, sizeof *mf);
    if (!data)
        return set_err(&r, DUCH_INVALID, "model file: NULL data");
    int rc = read_frame(&r, data, size, mf);
    if (rc == DUCH_OK)
        rc = read_header(&r, mf);
    if (rc == DUCH_OK)
        rc = read_tensors(&r, mf);
    return rc;
}

void duch_modelfile_free(duch_modelfile *mf)
{
    if (!mf)
        return;
    duch_json_free(mf->header);
    free(mf->tensors);
    memset(mf, 0, sizeof *mf);
}

const duch_modelfile_tensor *duch_modelfile_tensor_named(const duch_modelfile *mf,
                                                         const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; mf && i < mf->ntensors; i++)
        if (mf->tensors[i].name_len == nl && !memcmp(mf->tensors[i].name, name, nl))
            return &mf->tensors[i];
    return NULL;
}

/* ------------------------------------------------- a header member anew */

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

int duch_modelfile_with_member(const void *data, size_t size, const char *key_name,
                               const char *value_json, unsigned char **out, size_t *outsize,
                               char *err, size_t errlen)
{
    *out = NULL;
    *outsize = 0;
    duch_modelfile mf;
    int rc = duch_modelfile_read(data, size, &mf, err, errlen);
    if (rc != DUCH_OK)
        return rc;
    const duch_json *old = duch_json_get(mf.header, key_name);
    int had = old != NULL;
    size_t old_at = had ? old->at : 0, old_end = had ? old->end : 0;
    uint32_t version = mf.version;
    duch_modelfile_free(&mf);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the model file is little-endian; add byte swaps for this platform"
#endif
    const unsigned char *b = data;
    uint32_t hlen0;
    memcpy(&hlen0, b + 24, 4);
    const char *h = (const char *)b + 28;
    size_t hlen = hlen0;
    char *stripped = NULL; /* the header without its old member */
    if (had) { /* cut out the old member "key": value and the comma before it */
        size_t start = old_at;
        while (start > 0 && (h[start - 1] == ' ' || h[start - 1] == ','))
            start--;
        if (old_end > hlen || !(stripped = malloc(hlen))) {
            snprintf(err, errlen, old_end > hlen ? "the model header is corrupt" : "out of memory");
            return old_end > hlen ? DUCH_CORRUPT : DUCH_NOMEM;
        }
        memcpy(stripped, h, start);
        memcpy(stripped + start, h + old_end, hlen - old_end);
        h = stripped;
        hlen -= old_end - start;
    }
    size_t close = hlen; /* the header's closing brace */
    while (close > 0 && h[close - 1] != '}')
        close--;
    if (close == 0) {
        free(stripped);
        snprintf(err, errlen, "the model header is not a JSON object");
        return DUCH_CORRUPT;
    }
    close--;
    size_t alen = strlen(value_json), klen = strlen(key_name);
    char *key = malloc(klen + 5);
    if (!key) {
        free(stripped);
        snprintf(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    snprintf(key, klen + 5, ",\"%s\":", key_name);
    size_t nh = close + strlen(key) + alen + (hlen - close);
    size_t rest = size - 8 - (28 + (size_t)hlen0); /* the tensors, up to the checksum */
    size_t total = 28 + nh + rest + 8;
    unsigned char *o = malloc(total);
    if (!o) {
        free(stripped);
        free(key);
        snprintf(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    memcpy(o, b, 16);                                  /* magic, version, 0 */
    put_u64(o + 16, (uint64_t)(4 + nh + rest));        /* payload length */
    put_u32(o + 24, (uint32_t)nh);
    unsigned char *p = o + 28;
    memcpy(p, h, close), p += close;
    memcpy(p, key, strlen(key)), p += strlen(key);
    free(key);
    memcpy(p, value_json, alen), p += alen;
    memcpy(p, h + close, hlen - close), p += hlen - close;
    memcpy(p, b + 28 + hlen0, rest), p += rest;
    free(stripped);
    put_u64(p, duch_fnv1a64(o, (size_t)(p - o),
                            version >= 2 ? DUCH_FNV1A64_BASIS : DUCH_FNV1A64_BASIS_V1));
    /* the result must read back, the new member included */
    rc = duch_modelfile_read(o, total, &mf, err, errlen);
    if (rc == DUCH_OK && !duch_json_get(mf.header, key_name)) {
        snprintf(err, errlen, "the model header's %s did not read back", key_name);
        rc = DUCH_ERROR;
    }
    if (rc == DUCH_OK)
        duch_modelfile_free(&mf);
    if (rc != DUCH_OK) {
        free(o);
        return rc;
    }
    *out = o;
    *outsize = total;
    return DUCH_OK;
}

/* ------------------------------------------------------------ whole files */

int duch_file_read(const char *path, unsigned char **data, size_t *size, int *err_no)
{
    *data = NULL;
    *size = 0;
    *err_no = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err_no = errno;
        return *err_no == ENOENT ? DUCH_NOTFOUND : DUCH_IO;
    }
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = DUCH_OK;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            unsigned char *b = realloc(buf, nc);
            if (!b) {
                rc = DUCH_NOMEM;
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
    if (rc == DUCH_OK && ferror(f))
        rc = DUCH_IO; /* a read error: *err_no stays 0 */
    fclose(f);
    if (rc != DUCH_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *size = n;
    return DUCH_OK;
}
