/*
 * textenc.c: the text branch of a .duchm model without libtorch (see duch_textenc.h).
 *
 * The file is read by the one model-file reader (model/modelfile.c, which the libtorch
 * side uses too); this file builds the text network from it and mirrors
 * model/duch_torch.cpp's eval-mode forward pass step by step:
 *   tokenize  the one tokenizer (duch_token_next): ASCII letters lower-cased,
 *             letters/digits/well-formed multi-byte UTF-8 sequences form words,
 *             everything else separates; words not in the vocabulary are skipped; at
 *             most max_tokens known words (the header's architecture.max_tokens, 32 in
 *             files that lack it; ids 1..V; vocab[i] is id i+1, a repeated word takes
 *             its last id)
 *   TextNet   x = txt.emb.weight[id] (L x D); conv1d k=3 padding 1 (txt.conv.weight
 *             D x D x 3, txt.conv.bias); y = relu(conv(x)) + x; features = [mean over
 *             the L positions, max over them] (2D)
 *   HashHead  htxt.l1 (H x 2D) -> BatchNorm1d eval (running stats, epsilon the header's
 *             architecture.bn_eps, 1e-5 in files that lack it) -> relu ->
 *             htxt.l2 (K x H) -> tanh; bit j set when output j > 0
 * One text is one batch of L = its word count, as the libtorch path encodes a single
 * text, so no padding position enters the pooling.
 */
#include "config.h"
#include "duch_textenc.h"
#include "duch_modelfile.h"
#include "duch_utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TE_TEXT_ARCH "emb-conv1d-meanmax"

struct duch_textenc {
    char err[512];
    char id[20];
    int open;
    int has_confidence;             /* the header's confidence fit (docs/model.md) */
    duch_confidence confidence;
    int bits, dim, hidden, vocab_n; /* vocab_n: vocabulary entries, repeats included */
    int max_tokens;                 /* known words of a text the network sees */
    /* vocabulary: open-addressing hash table of words -> 1-based ids */
    char *words;                    /* all words back to back (each NUL-terminated) */
    size_t *word_off, *word_len;    /* per id - 1 */
    size_t max_word;                /* bytes of the longest word */
    int *slot_id;                   /* per slot: a 1-based id, 0 = empty */
    size_t nslots;
    /* aliases (the header's "aliases"): words outside the vocabulary taken for one in it */
    int alias_n;
    char *alias_words;              /* back to back, NUL-terminated */
    size_t *alias_off, *alias_len;
    int *alias_target;              /* per alias: the 1-based id it stands for; -1: blocked
                                       (target "": a word a query ignores, never a slip) */
    int *alias_slot;                /* per slot: a 1-based alias index, 0 = empty */
    size_t alias_nslots;
    /* the words a misspelt or inflected one may be near (duch_word_nearest): the
     * vocabulary, then the aliases, in file order; into words / alias_words */
    const char **cand;
    size_t *cand_len, ncand;
    /* weights */
    float *emb;                     /* (V+1) x D */
    float *conv_w;                  /* D x 3 x D: [o][k][i] (transposed from D x D x 3) */
    float *conv_b;                  /* D */
    float *l1_w, *l1_b;             /* H x 2D, H */
    float *bn_a, *bn_b;             /* per hidden unit: x * a + b (eval BatchNorm) */
    float *l2_w, *l2_b;             /* K x H, K */
    /* scratch */
    char *word;                     /* max_word + 2 bytes: the token being looked up */
    int *ids;                       /* max_tokens */
    float *xp;                      /* (max_tokens+2) x D, zero rows at both ends */
    float *y;                       /* max_tokens x D */
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

/* ------------------------------------------------------------------ vocabulary */

static uint64_t word_hash(const char *s, size_t n)
{
    return duch_fnv1a64(s, n, DUCH_FNV1A64_BASIS);
}

/* The words of the header's vocabulary into one buffer and a hash table; vocab[i] is
 * id i+1 and a repeated word keeps its last id, as the libtorch map does. */
static int vocab_build(duch_textenc *e, const duch_json *vocab)
{
    size_t n = vocab->n, total = 0;
    for (size_t i = 0; i < n; i++)
        total += vocab->items[i].len + 1;
    size_t ns = 16;
    while (ns < n * 2)
        ns *= 2;
    e->nslots = ns;
    e->words = malloc(total ? total : 1);
    e->word_off = malloc(n * sizeof *e->word_off);
    e->word_len = malloc(n * sizeof *e->word_len);
    e->slot_id = calloc(ns, sizeof *e->slot_id);
    if (!e->words || !e->word_off || !e->word_len || !e->slot_id)
        return 0;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const duch_json *w = &vocab->items[i];
        memcpy(e->words + off, w->str, w->len + 1);
        e->word_off[i] = off;
        e->word_len[i] = w->len;
        if (w->len > e->max_word)
            e->max_word = w->len;
        off += w->len + 1;
        size_t s = (size_t)word_hash(w->str, w->len) & (ns - 1);
        for (; e->slot_id[s]; s = (s + 1) & (ns - 1)) {
            size_t o = (size_t)e->slot_id[s] - 1;
            if (e->word_len[o] == w->len && !memcmp(e->words + e->word_off[o], w->str, w->len))
                break;
        }
        e->slot_id[s] = (int)i + 1;
    }
    e->word = malloc(e->max_word + 3); /* a word 2 bytes longer may still be near one */
    return e->word != NULL;
}

static int vocab_find(const duch_textenc *e, const char *w, size_t len);

/* The aliases into a hash table of their own; each target must be a vocabulary word. */
static int alias_build(duch_textenc *e, const duch_json *al)
{
    if (!al || al->n == 0)
        return DUCH_OK;
    size_t n = al->n, total = 0;
    for (size_t i = 0; i < n; i++)
        total += al->items[i].keylen + 1;
    size_t ns = 16;
    while (ns < n * 2)
        ns *= 2;
    e->alias_nslots = ns;
    e->alias_words = malloc(total);
    e->alias_off = malloc(n * sizeof *e->alias_off);
    e->alias_len = malloc(n * sizeof *e->alias_len);
    e->alias_target = malloc(n * sizeof *e->alias_target);
    e->alias_slot = calloc(ns, sizeof *e->alias_slot);
    if (!e->alias_words || !e->alias_off || !e->alias_len || !e->alias_target || !e->alias_slot)
        return set_err(e, DUCH_NOMEM, "out of memory");
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const duch_json *m = &al->items[i];
        int target = m->len ? vocab_find(e, m->str, m->len) : -1; /* "": blocked */
        if (!target)
            return set_err(e, DUCH_CORRUPT, "model header: alias '%s' stands for '%s', which is not"
                           " in the vocabulary", m->key, m->str);
        memcpy(e->alias_words + off, m->key, m->keylen + 1);
        e->alias_off[i] = off;
        e->alias_len[i] = m->keylen;
        e->alias_target[i] = target;
        off += m->keylen + 1;
        size_t s = (size_t)word_hash(m->key, m->keylen) & (ns - 1);
        for (; e->alias_slot[s]; s = (s + 1) & (ns - 1)) {
            size_t o = (size_t)e->alias_slot[s] - 1;
            if (e->alias_len[o] == m->keylen && !memcmp(e->alias_words + e->alias_off[o], m->key, m->keylen))
                break;
        }
        e->alias_slot[s] = (int)i + 1; /* a repeated alias keeps its last target */
    }
    e->alias_n = (int)n;
    return DUCH_OK;
}

/* the vocabulary id an alias stands for, -1 for a blocked word, or 0 (not an alias) */
static int alias_find(const duch_textenc *e, const char *w, size_t len)
{
    if (!e->alias_n)
        return 0;
    size_t s = (size_t)word_hash(w, len) & (e->alias_nslots - 1);
    for (; e->alias_slot[s]; s = (s + 1) & (e->alias_nslots - 1)) {
        size_t o = (size_t)e->alias_slot[s] - 1;
        if (e->alias_len[o] == len && !memcmp(e->alias_words + e->alias_off[o], w, len))
            return e->alias_target[o];
    }
    return 0;
}

static int vocab_find(const duch_textenc *e, const char *w, size_t len)
{
    size_t s = (size_t)word_hash(w, len) & (e->nslots - 1);
    for (; e->slot_id[s]; s = (s + 1) & (e->nslots - 1)) {
        size_t o = (size_t)e->slot_id[s] - 1;
        if (e->word_len[o] == len && !memcmp(e->words + e->word_off[o], w, len))
            return e->slot_id[s];
    }
    return 0;
}

/* The candidates of duch_word_nearest: the vocabulary words, in file order. */
static int cand_build(duch_textenc *e)
{
    size_t n = (size_t)e->vocab_n;
    e->cand = malloc((n ? n : 1) * sizeof *e->cand);
    e->cand_len = malloc((n ? n : 1) * sizeof *e->cand_len);
    if (!e->cand || !e->cand_len)
        return set_err(e, DUCH_NOMEM, "out of memory");
    for (int i = 0; i < e->vocab_n; i++) {
        e->cand[e->ncand] = e->words + e->word_off[i];
        e->cand_len[e->ncand++] = e->word_len[i];
    }
    return DUCH_OK;
}

/* The 1-based id of word w[0..len), as Model::word_of does: a vocabulary word, else an
 * alias (*how = 1; a blocked one gives 0), else the nearest vocabulary word within a
 * spelling slip (duch_word_nearest; *how = 2); 0 when none. */
static int word_id(const duch_textenc *e, const char *w, size_t len, int *how)
{
    *how = 0;
    if (len > e->max_word + 2)
        return 0;
    int id = len <= e->max_word ? vocab_find(e, w, len) : 0;
    if (id)
        return id;
    *how = 1;
    if (len <= e->max_word && (id = alias_find(e, w, len)))
        return id > 0 ? id : 0;
    *how = 2;
    int c = duch_word_nearest(w, len, e->cand, e->cand_len, e->ncand);
    return c < 0 ? 0 : vocab_find(e, e->cand[c], e->cand_len[c]);
}

/* The words of text (the one tokenizer, model/modelfile.c) looked up as Model::ids_of
 * does: the first max_tokens known words. Returns the number of ids in e->ids. */
static int text_ids(duch_textenc *e, const char *text)
{
    size_t n = strlen(text), pos = 0, len;
    int nid = 0, how;
    while (nid < e->max_tokens && duch_token_next(text, n, &pos, e->word, e->max_word + 2, &len)) {
        int id = word_id(e, e->word, len, &how);
        if (id)
            e->ids[nid++] = id;
    }
    return nid;
}

/* ------------------------------------------------------------------ open */

typedef struct tensor_spec {
    const char *name;
    int ndim;
    int64_t dims[3];
    float **dst; /* where to put a malloc'ed copy */
} tensor_spec;

/* Copy the text network's tensors out of the file, checking their shapes (the reader
 * checked the table; the image network's tensors are not needed here). */
static int take_tensors(duch_textenc *e, const duch_modelfile *mf, const tensor_spec *spec,
                        int nspec)
{
    for (int s = 0; s < nspec; s++) {
        const duch_modelfile_tensor *t = duch_modelfile_tensor_named(mf, spec[s].name);
        if (!t)
            return set_err(e, DUCH_CORRUPT, "model file lacks tensor '%s'", spec[s].name);
        if (t->ndim != spec[s].ndim)
            return set_err(e, DUCH_CORRUPT, "tensor '%s' has the wrong rank", spec[s].name);
        for (int k = 0; k < spec[s].ndim; k++)
            if (t->dims[k] != spec[s].dims[k])
                return set_err(e, DUCH_CORRUPT, "tensor '%s' has the wrong shape", spec[s].name);
        *spec[s].dst = malloc((size_t)t->count * 4 + 4);
        if (!*spec[s].dst)
            return set_err(e, DUCH_NOMEM, "out of memory");
        memcpy(*spec[s].dst, t->data, (size_t)t->count * 4);
    }
    return DUCH_OK;
}

/* The eval-mode network in the layout forward() reads: conv weight [o][i][k] ->
 * [o][k][i]; BatchNorm as x * a + b, the way ATen's CPU batch_norm folds it:
 * a = w / sqrt(var + eps), b = bias - mean * a (eps in float, as ATen adds it). */
static int fold_weights(duch_textenc *e, const float *conv_raw, const float *bn_w,
                        const float *bn_bias, const float *bn_mean, const float *bn_var, float eps)
{
    const int D = e->dim, H = e->hidden;
    e->conv_w = malloc((size_t)D * D * 3 * sizeof(float));
    e->bn_a = malloc((size_t)H * sizeof(float));
    e->bn_b = malloc((size_t)H * sizeof(float));
    if (!e->conv_w || !e->bn_a || !e->bn_b)
        return set_err(e, DUCH_NOMEM, "out of memory");
    for (int o = 0; o < D; o++)
        for (int i = 0; i < D; i++)
            for (int k = 0; k < 3; k++)
                e->conv_w[((size_t)o * 3 + k) * D + i] = conv_raw[((size_t)o * D + i) * 3 + k];
    for (int u = 0; u < H; u++) {
        float inv = 1.0f / sqrtf(bn_var[u] + eps);
        e->bn_a[u] = inv * bn_w[u];
        e->bn_b[u] = bn_bias[u] - bn_mean[u] * e->bn_a[u];
    }
    return DUCH_OK;
}

static int alloc_scratch(duch_textenc *e)
{
    const size_t L = (size_t)e->max_tokens, D = (size_t)e->dim;
    e->ids = malloc(L * sizeof *e->ids);
    e->xp = calloc((L + 2) * D, sizeof(float));
    e->y = malloc(L * D * sizeof(float));
    e->feat = malloc(2 * D * sizeof(float));
    e->h = malloc((size_t)e->hidden * sizeof(float));
    e->out = malloc((size_t)e->bits * sizeof(float));
    if (!e->ids || !e->xp || !e->y || !e->feat || !e->h || !e->out)
        return set_err(e, DUCH_NOMEM, "out of memory");
    return DUCH_OK;
}

/* The text network of a model file that the reader accepted. */
static int build(duch_textenc *e, const duch_modelfile *mf)
{
    if (strcmp(mf->text_arch, TE_TEXT_ARCH))
        return set_err(e, DUCH_INVALID, "text architecture '%s' not supported by the C encoder",
                       mf->text_arch[0] ? mf->text_arch : "?");
    e->bits = mf->bits;
    e->dim = mf->text_dim;
    e->hidden = mf->hidden;
    e->vocab_n = mf->vocab_n;
    e->max_tokens = mf->max_tokens;
    const int V = mf->vocab_n, D = e->dim, H = e->hidden, K = e->bits;
    float *conv_raw = NULL, *bn_w = NULL, *bn_bias = NULL, *bn_mean = NULL, *bn_var = NULL;
    const tensor_spec spec[] = {
        {"txt.emb.weight", 2, {V + 1, D, 0}, &e->emb},
        {"txt.conv.weight", 3, {D, D, 3}, &conv_raw},
        {"txt.conv.bias", 1, {D, 0, 0}, &e->conv_b},
        {"htxt.l1.weight", 2, {H, 2 * D, 0}, &e->l1_w},
        {"htxt.l1.bias", 1, {H, 0, 0}, &e->l1_b},
        {"htxt.bn.weight", 1, {H, 0, 0}, &bn_w},
        {"htxt.bn.bias", 1, {H, 0, 0}, &bn_bias},
        {"htxt.bn.running_mean", 1, {H, 0, 0}, &bn_mean},
        {"htxt.bn.running_var", 1, {H, 0, 0}, &bn_var},
        {"htxt.l2.weight", 2, {K, H, 0}, &e->l2_w},
        {"htxt.l2.bias", 1, {K, 0, 0}, &e->l2_b},
    };
    int rc = take_tensors(e, mf, spec, (int)(sizeof spec / sizeof spec[0]));
    if (rc == DUCH_OK)
        rc = fold_weights(e, conv_raw, bn_w, bn_bias, bn_mean, bn_var, (float)mf->bn_eps);
    if (rc == DUCH_OK)
        rc = alloc_scratch(e);
    if (rc == DUCH_OK && mf->aliases)
        for (size_t i = 0; i < mf->aliases->n; i++) /* the token buffer holds aliases too */
            if (mf->aliases->items[i].keylen > e->max_word)
                e->max_word = mf->aliases->items[i].keylen;
    if (rc == DUCH_OK && !vocab_build(e, mf->vocab))
        rc = set_err(e, DUCH_NOMEM, "out of memory");
    if (rc == DUCH_OK)
        rc = alias_build(e, mf->aliases);
    if (rc == DUCH_OK)
        rc = cand_build(e);
    free(conv_raw);
    free(bn_w);
    free(bn_bias);
    free(bn_mean);
    free(bn_var);
    return rc;
}

static int open_impl(duch_textenc *e, const unsigned char *d, size_t n)
{
    duch_modelfile mf;
    int rc = duch_modelfile_read(d, n, &mf, e->err, sizeof e->err);
    if (rc == DUCH_OK)
        rc = build(e, &mf);
    if (rc == DUCH_OK) {
        snprintf(e->id, sizeof e->id, "%016llx", (unsigned long long)mf.checksum);
        e->has_confidence = mf.has_confidence;
        e->confidence = mf.confidence;
        e->open = 1;
        e->err[0] = 0;
    }
    duch_modelfile_free(&mf);
    return rc;
}

static void release(duch_textenc *e)
{
    free(e->words);
    free(e->word_off);
    free(e->word_len);
    free(e->slot_id);
    free(e->alias_words);
    free(e->alias_off);
    free(e->alias_len);
    free(e->alias_target);
    free(e->alias_slot);
    free(e->cand);
    free(e->cand_len);
    free(e->word);
    free(e->ids);
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
    unsigned char *buf = NULL;
    size_t n = 0;
    int en = 0;
    int rc = duch_file_read(path, &buf, &n, &en);
    if (rc != DUCH_OK) {
        duch_textenc *e = *out = calloc(1, sizeof *e);
        rc = !e ? DUCH_NOMEM
             : rc == DUCH_NOMEM ? set_err(e, DUCH_NOMEM, "out of memory")
             : en ? set_err(e, rc, "cannot open %s: %s", path, strerror(en))
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

int duch_textenc_crowd_rank(const duch_textenc *e)
{
    return e && e->open && e->has_confidence ? e->confidence.crowd_rank : 0;
}

double duch_textenc_confidence(const duch_textenc *e, int d, int d1, int dcrowd)
{
    if (!duch_textenc_crowd_rank(e))
        return -1.0;
    return duch_confidence_value(&e->confidence, e->bits, d, d1, dcrowd);
}

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
    int L = text_ids(e, text);
    if (L == 0) {
        size_t n = strlen(text);
        if (n > 60)
            return set_err(e, DUCH_INVALID,
                           "no word of \"%.*s...\" is in the model's vocabulary (%d words, %d"
                           " aliases; duch info --vocabulary lists them)",
                           (int)duch_utf8_prefix(text, 57), text, e->vocab_n, e->alias_n);
        return set_err(e, DUCH_INVALID,
                       "no word of \"%s\" is in the model's vocabulary (%d words, %d aliases;"
                       " duch info --vocabulary lists them)", text, e->vocab_n, e->alias_n);
    }
    forward(e, e->ids, L);
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

/* ------------------------------------------------------------------ explain */

int duch_textenc_vocab_size(const duch_textenc *e) { return e && e->open ? e->vocab_n : 0; }

const char *duch_textenc_vocab_word(const duch_textenc *e, int i)
{
    if (!e || !e->open || i < 0 || i >= e->vocab_n)
        return NULL;
    return e->words + e->word_off[i];
}

/* a growing string */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* a JSON string of a word (the tokenizer's words hold no quote, backslash or control
 * character; escaped anyway) */
static void sb_word(sbuf *b, const char *w, size_t n)
{
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, w + i, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* The words of text split into the used ones (the vocabulary words the network sees:
 * known words and the targets of mapped ones), the mapped ones (alias -> vocabulary word)
 * and the ignored ones; lists as JSON (json = 1: "a", "b" / "x": "y") or plain words
 * (json = 0: a, b / x -> y). */
static int split_words(duch_textenc *e, const char *text, int json, sbuf *used, sbuf *mapped,
                       sbuf *ignored, int *nused, int *nmap, int *nign)
{
    size_t n = strlen(text), pos = 0, len;
    char *word = malloc(n + 1);
    if (!word)
        return set_err(e, DUCH_NOMEM, "out of memory");
    *nused = *nmap = *nign = 0;
    while (duch_token_next(text, n, &pos, word, n, &len)) {
        int alias = 0, id = *nused < e->max_tokens ? word_id(e, word, len, &alias) : 0;
        if (!id) {
            if ((*nign)++)
                sb_put(ignored, ", ", 2);
            (json ? sb_word : sb_put)(ignored, word, len);
            continue;
        }
        const char *target = e->words + e->word_off[id - 1];
        size_t tlen = e->word_len[id - 1];
        if ((*nused)++)
            sb_put(used, ", ", 2);
        (json ? sb_word : sb_put)(used, target, tlen);
        if (alias) {
            if ((*nmap)++)
                sb_put(mapped, ", ", 2);
            (json ? sb_word : sb_put)(mapped, word, len);
            sb_put(mapped, json ? ": " : " -> ", json ? 2 : 4);
            (json ? sb_word : sb_put)(mapped, target, tlen);
        }
    }
    free(word);
    return used->oom || mapped->oom || ignored->oom ? set_err(e, DUCH_NOMEM, "out of memory")
                                                    : DUCH_OK;
}

int duch_textenc_explain(duch_textenc *e, const char *text, char **json)
{
    if (json)
        *json = NULL;
    if (!e)
        return DUCH_INVALID;
    if (!e->open)
        return set_err(e, DUCH_INVALID, "the text encoder is not open");
    if (!text || !json)
        return set_err(e, DUCH_INVALID, "explain: NULL argument");
    sbuf used = {0}, mapped = {0}, ignored = {0}, out = {0};
    int nu, nm, ni, rc = split_words(e, text, 1, &used, &mapped, &ignored, &nu, &nm, &ni);
    if (rc == DUCH_OK) {
        sb_put(&out, "{\"used\": [", 10);
        if (used.p)
            sb_put(&out, used.p, used.n);
        sb_put(&out, "], \"mapped\": {", 14);
        if (mapped.p)
            sb_put(&out, mapped.p, mapped.n);
        sb_put(&out, "}, \"ignored\": [", 15);
        if (ignored.p)
            sb_put(&out, ignored.p, ignored.n);
        sb_put(&out, "]}", 2);
        if (out.oom)
            rc = set_err(e, DUCH_NOMEM, "out of memory");
    }
    free(used.p);
    free(mapped.p);
    free(ignored.p);
    if (rc) {
        free(out.p);
        return rc;
    }
    *json = out.p;
    return DUCH_OK;
}

int duch_textenc_summary(duch_textenc *e, const char *text, char **line)
{
    if (line)
        *line = NULL;
    if (!e)
        return DUCH_INVALID;
    if (!e->open)
        return set_err(e, DUCH_INVALID, "the text encoder is not open");
    if (!text || !line)
        return set_err(e, DUCH_INVALID, "summary: NULL argument");
    sbuf used = {0}, mapped = {0}, ignored = {0}, out = {0};
    int nu, nm, ni, rc = split_words(e, text, 0, &used, &mapped, &ignored, &nu, &nm, &ni);
    if (rc == DUCH_OK && (ni > 0 || nm > 0)) {
        char num[64];
        if (nm) {
            sb_put(&out, "the model read ", 15);
            sb_put(&out, mapped.p, mapped.n);
        }
        if (ni) {
            sb_put(&out, nm ? "; it ignored " : "the model ignored ", nm ? 13 : 18);
            sb_put(&out, ignored.p, ignored.n);
            snprintf(num, sizeof num, " (not among its %d words)", e->vocab_n);
            sb_put(&out, num, strlen(num));
        }
        sb_put(&out, "; it searched for: ", 19);
        if (nu)
            sb_put(&out, used.p, used.n);
        else
            sb_put(&out, "(nothing)", 9);
        if (out.oom) {
            free(out.p);
            out.p = NULL;
            rc = set_err(e, DUCH_NOMEM, "out of memory");
        }
        *line = out.p;
    }
    free(used.p);
    free(mapped.p);
    free(ignored.p);
    return rc;
}
