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
    int *alias_first, *alias_nids;  /* per alias: the 1-based ids it stands for, in
                                       alias_ids (a phrase target "mobile home" has two);
                                       none: blocked (target "": a word a query ignores,
                                       never a slip) */
    int *alias_ids;
    size_t alias_words_max;         /* the most words of an alias key ("car park": 2) */
    int *alias_slot;                /* per slot: a 1-based alias index, 0 = empty */
    size_t alias_nslots;
    /* the words a misspelt or inflected one may be near (duch_word_nearest): the
     * vocabulary, in file order; into words */
    const char **cand;
    size_t *cand_len, ncand;
    /* the aliases a long misspelt word may be near (duch_alias_nearest): the single-word
     * aliases that stand for a word, in file order; into alias_words */
    const char **acand;
    size_t *acand_len, nacand;
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
    int *split_ids;                 /* max_tokens: the ids of a word split in parts */
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

/* The aliases into a hash table of their own; a key is a word or a phrase (words joined
 * by single spaces), a target a vocabulary word or a phrase of them. */
static int alias_build(duch_textenc *e, const duch_json *al)
{
    if (!al || al->n == 0)
        return DUCH_OK;
    size_t n = al->n, total = 0, nids = 0;
    for (size_t i = 0; i < n; i++) {
        total += al->items[i].keylen + 1;
        nids += al->items[i].len ? 1 : 0;
        for (size_t k = 0; k < al->items[i].len; k++)
            nids += al->items[i].str[k] == ' ';
    }
    size_t ns = 16;
    while (ns < n * 2)
        ns *= 2;
    e->alias_nslots = ns;
    e->alias_words = malloc(total);
    e->alias_off = malloc(n * sizeof *e->alias_off);
    e->alias_len = malloc(n * sizeof *e->alias_len);
    e->alias_first = malloc(n * sizeof *e->alias_first);
    e->alias_nids = malloc(n * sizeof *e->alias_nids);
    e->alias_ids = malloc((nids ? nids : 1) * sizeof *e->alias_ids);
    e->alias_slot = calloc(ns, sizeof *e->alias_slot);
    if (!e->alias_words || !e->alias_off || !e->alias_len || !e->alias_first || !e->alias_nids ||
        !e->alias_ids || !e->alias_slot)
        return set_err(e, DUCH_NOMEM, "out of memory");
    size_t off = 0, at = 0;
    e->alias_words_max = 1;
    for (size_t i = 0; i < n; i++) {
        const duch_json *m = &al->items[i];
        e->alias_first[i] = (int)at;
        e->alias_nids[i] = 0; /* "": blocked */
        for (size_t a = 0; a < m->len;) {
            size_t b = a;
            while (b < m->len && m->str[b] != ' ')
                b++;
            int target = b > a ? vocab_find(e, m->str + a, b - a) : 0;
            if (!target)
                return set_err(e, DUCH_CORRUPT, "model header: alias '%s' stands for '%s', which is"
                               " not in the vocabulary", m->key, m->str);
            e->alias_ids[at++] = target;
            e->alias_nids[i]++;
            a = b + 1;
        }
        size_t words = 1;
        for (size_t k = 0; k < m->keylen; k++)
            words += m->key[k] == ' ';
        if (words > e->alias_words_max)
            e->alias_words_max = words;
        memcpy(e->alias_words + off, m->key, m->keylen + 1);
        e->alias_off[i] = off;
        e->alias_len[i] = m->keylen;
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
    e->acand = malloc(n * sizeof *e->acand);
    e->acand_len = malloc(n * sizeof *e->acand_len);
    if (!e->acand || !e->acand_len)
        return set_err(e, DUCH_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (e->alias_nids[i] && !memchr(e->alias_words + e->alias_off[i], ' ', e->alias_len[i])) {
            e->acand[e->nacand] = e->alias_words + e->alias_off[i];
            e->acand_len[e->nacand++] = e->alias_len[i];
        }
    return DUCH_OK;
}

/* the 1-based index of alias w[0..len) (a word or a phrase), or 0 (not an alias) */
static int alias_find(const duch_textenc *e, const char *w, size_t len)
{
    if (!e->alias_n)
        return 0;
    size_t s = (size_t)word_hash(w, len) & (e->alias_nslots - 1);
    for (; e->alias_slot[s]; s = (s + 1) & (e->alias_nslots - 1)) {
        size_t o = (size_t)e->alias_slot[s] - 1;
        if (e->alias_len[o] == len && !memcmp(e->alias_words + e->alias_off[o], w, len))
            return (int)o + 1;
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

static int text_ids_into(const duch_textenc *e, const char *text, int *ids, int cap);

/* duch_word_split's known: an alias with a target or a vocabulary word */
static int word_known(void *ctx, const char *w, size_t len)
{
    const duch_textenc *e = ctx;
    if (len > e->max_word)
        return 0;
    int a = alias_find(e, w, len);
    return a ? e->alias_nids[a - 1] > 0 : vocab_find(e, w, len) > 0;
}

/* the ids of w[0..len) as known words run together (duch_word_split), read as a text,
 * into e->split_ids (*ids points there); their count, 0 when it does not split */
static int split_word_ids(const duch_textenc *e, const char *w, size_t len, const int **ids)
{
    char parts[2 * DUCH_WORD_NEAREST_MAX + 4];
    if (!duch_word_split(w, len, word_known, (void *)e, parts, sizeof parts))
        return 0;
    int n = text_ids_into(e, parts, e->split_ids, e->max_tokens);
    *ids = e->split_ids;
    return n > 0 ? n : 0;
}

/* The 1-based ids of word w[0..len), as Model::word_of gives them: an alias (*how = 1; its
 * target's ids, none for a blocked word), else a vocabulary word (one id, in *one), else
 * the nearest vocabulary word within a spelling slip (duch_word_nearest; *how = 2), else
 * known words run together (duch_word_split, read as a text; *how = 2); the count, 0 when
 * none. */
static int word_ids(const duch_textenc *e, const char *w, size_t len, int *one, const int **ids,
                    int *how)
{
    *how = 1;
    *ids = one;
    if (len > e->max_word + 2) {
        *how = 2;
        return split_word_ids(e, w, len, ids);
    }
    /* an alias first: a word of a vocabulary phrase alone may be one ("homes" -> "houses",
     * while "mobile homes" is read as a phrase key before it) */
    int a = len <= e->max_word ? alias_find(e, w, len) : 0;
    if (a) {
        *ids = e->alias_ids + e->alias_first[a - 1];
        return e->alias_nids[a - 1];
    }
    *how = 0;
    if ((*one = len <= e->max_word ? vocab_find(e, w, len) : 0))
        return 1;
    *how = 2;
    int c = duch_word_nearest(w, len, e->cand, e->cand_len, e->ncand);
    *one = c < 0 ? 0 : vocab_find(e, e->cand[c], e->cand_len[c]);
    if (*one)
        return 1;
    c = duch_alias_nearest(w, len, e->acand, e->acand_len, e->nacand);
    a = c < 0 ? 0 : alias_find(e, e->acand[c], e->acand_len[c]);
    if (!a)
        return split_word_ids(e, w, len, ids);
    *ids = e->alias_ids + e->alias_first[a - 1]; /* its last target, as Model::word_of */
    return e->alias_nids[a - 1];
}

/* The words of a text (the one tokenizer, model/modelfile.c), whole, joined by single
 * spaces in buf ("car park"), so that a phrase of words i..j is one piece of it. */
typedef struct tokens {
    char *buf;
    size_t *off, *len, n;
} tokens;

static int tokens_of(const char *text, tokens *t)
{
    size_t n = strlen(text), pos = 0, len, at = 0;
    t->n = 0;
    t->buf = malloc(2 * n + 2);
    t->off = malloc((n / 2 + 1) * sizeof *t->off);
    t->len = malloc((n / 2 + 1) * sizeof *t->len);
    if (!t->buf || !t->off || !t->len)
        return DUCH_NOMEM;
    while (duch_token_next(text, n, &pos, t->buf + at, n, &len)) {
        t->off[t->n] = at;
        t->len[t->n++] = len;
        at += len;
        t->buf[at++] = ' ';
    }
    t->buf[at] = 0;
    return DUCH_OK;
}

static void tokens_free(tokens *t)
{
    free(t->buf);
    free(t->off);
    free(t->len);
}

/* The unit of words at word i, as Model::ids_of reads it: the alias phrase of the most
 * words first ("car park"), else word i alone. Its text is buf[off[i]..+*keylen); its
 * ids *ids (the count returned; *one holds a single one), *how as word_ids. Returns the
 * words used (1..). */
static size_t unit_at(const duch_textenc *e, const tokens *t, size_t i, size_t *keylen, int *one,
                      const int **ids, int *nids, int *how)
{
    size_t most = e->alias_words_max < t->n - i ? e->alias_words_max : t->n - i;
    for (size_t k = most; k >= 2; k--) {
        size_t len = t->off[i + k - 1] + t->len[i + k - 1] - t->off[i];
        int a = len <= e->max_word ? alias_find(e, t->buf + t->off[i], len) : 0;
        if (a) {
            *keylen = len;
            *ids = e->alias_ids + e->alias_first[a - 1];
            *nids = e->alias_nids[a - 1];
            *how = 1;
            return k;
        }
    }
    *keylen = t->len[i];
    *nids = word_ids(e, t->buf + t->off[i], t->len[i], one, ids, how);
    return 1;
}

/* The ids of text as Model::ids_of gives them, the first cap of them, into out: their
 * count, or -1 when out of memory. */
static int text_ids_into(const duch_textenc *e, const char *text, int *out, int cap)
{
    tokens t;
    int nid = 0;
    if (tokens_of(text, &t) != DUCH_OK) {
        tokens_free(&t);
        return -1;
    }
    for (size_t i = 0; i < t.n && nid < cap;) {
        size_t keylen;
        int one, nids, how;
        const int *ids;
        i += unit_at(e, &t, i, &keylen, &one, &ids, &nids, &how);
        for (int k = 0; k < nids && nid < cap; k++)
            out[nid++] = ids[k];
    }
    tokens_free(&t);
    return nid;
}

/* The ids of text as Model::ids_of gives them: the first max_tokens, in e->ids. */
static int text_ids(duch_textenc *e, const char *text)
{
    return text_ids_into(e, text, e->ids, e->max_tokens);
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
    e->split_ids = malloc(L * sizeof *e->split_ids);
    e->xp = calloc((L + 2) * D, sizeof(float));
    e->y = malloc(L * D * sizeof(float));
    e->feat = malloc(2 * D * sizeof(float));
    e->h = malloc((size_t)e->hidden * sizeof(float));
    e->out = malloc((size_t)e->bits * sizeof(float));
    if (!e->ids || !e->split_ids || !e->xp || !e->y || !e->feat || !e->h || !e->out)
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
    free(e->alias_first);
    free(e->alias_nids);
    free(e->alias_ids);
    free(e->alias_slot);
    free(e->cand);
    free(e->cand_len);
    free(e->acand);
    free(e->acand_len);
    free(e->word);
    free(e->ids);
    free(e->split_ids);
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
    if (L < 0)
        return set_err(e, DUCH_NOMEM, "out of memory");
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

/* the text w[0..len) is the vocabulary words ids[0..n) joined by single spaces */
static int same_words(const duch_textenc *e, const char *w, size_t len, const int *ids, int n)
{
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        size_t l = e->word_len[ids[k] - 1];
        if (k && (at >= len || w[at++] != ' '))
            return 0;
        if (at + l > len || memcmp(w + at, e->words + e->word_off[ids[k] - 1], l))
            return 0;
        at += l;
    }
    return n > 0 && at == len;
}

/* The words of text split into the used ones (the vocabulary words the network sees:
 * known words and the targets of mapped ones), the mapped ones (alias -> vocabulary word)
 * and the ignored ones; lists as JSON (json = 1: "a", "b" / "x": "y") or plain words
 * (json = 0: a, b / x -> y). */
static int split_words(duch_textenc *e, const char *text, int json, sbuf *used, sbuf *mapped,
                       sbuf *ignored, int *nused, int *nmap, int *nign)
{
    tokens t;
    *nused = *nmap = *nign = 0;
    if (tokens_of(text, &t) != DUCH_OK) {
        tokens_free(&t);
        return set_err(e, DUCH_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < t.n;) {
        const char *word = t.buf + t.off[i];
        size_t len;
        int one, nids = 0, alias = 0;
        const int *ids = &one;
        i += *nused < e->max_tokens ? unit_at(e, &t, i, &len, &one, &ids, &nids, &alias)
                                    : (len = t.len[i], 1);
        if (!nids) {
            if ((*nign)++)
                sb_put(ignored, ", ", 2);
            (json ? sb_word : sb_put)(ignored, word, len);
            continue;
        }
        if (alias && same_words(e, word, len, ids, nids))
            alias = 0; /* a phrase kept as its own words ("mobile home") */
        if (alias) {
            if ((*nmap)++)
                sb_put(mapped, ", ", 2);
            (json ? sb_word : sb_put)(mapped, word, len);
            sb_put(mapped, json ? ": " : " -> ", json ? 2 : 4);
        }
        if (alias && json)
            sb_put(mapped, "\"", 1);
        for (int k = 0; k < nids; k++) {
            const char *target = e->words + e->word_off[ids[k] - 1];
            size_t tlen = e->word_len[ids[k] - 1];
            if (*nused < e->max_tokens) {
                if ((*nused)++)
                    sb_put(used, ", ", 2);
                (json ? sb_word : sb_put)(used, target, tlen);
            }
            if (alias) {
                if (k)
                    sb_put(mapped, " ", 1);
                sb_put(mapped, target, tlen); /* vocabulary words need no escape */
            }
        }
        if (alias && json)
            sb_put(mapped, "\"", 1);
    }
    tokens_free(&t);
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
