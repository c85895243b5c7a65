/* wn_aliases.c: an alias table for a model's vocabulary from WordNet (Princeton WordNet
 * 3.0 through its own C library, libwordnet: morphstr, findtheinfo_ds). See
 * duch_wn_aliases.h. Used when a model is made (duch aliases); a query never needs
 * WordNet: the table is stored in the model file.
 *
 * For each vocabulary word v, in this order (the first claim of a word wins, so closer
 * relations win over farther ones):
 *   1. its inflections: the base form (morphstr: "trees" -> "tree") and plurals that
 *      WordNet's morphology maps back to v ("house" -> "houses");
 *   2. the other words of v's first senses (synonyms: "airplane" -> "plane",
 *      "aeroplane"), noun senses first, then adjectives and verbs;
 *   3. the words of the direct hyponyms of those noun senses (more specific kinds:
 *      "airplane" -> "jet", "biplane");
 *   4. the words of the hypernyms of the first noun sense, one to three levels up
 *      (more general kinds: "airplane" -> "aircraft");
 *   5. the other words of WordNet that a query would take for a spelling slip of a
 *      vocabulary word: taken for what their first senses relate them to ("sandy" ->
 *      "sand", "marina" -> "dock"), else blocked (target "": "farm" is not "firm"), so
 *      a query ignores them;
 * each with its plural. Only words the query tokenizer can produce are kept (lower-case
 * ASCII letters), and never a vocabulary word itself. Closed-class vocabulary words
 * ("there", "a") are the target of their own inflections only, and closed-class words
 * outside the vocabulary ("near", "like") are blocked, whatever WordNet relates them to.
 *
 * duch_wn_lexicon: what training needs from WordNet (duch train; the model library links
 * libwordnet for it): each caption word's kind (function word, noun, other content word)
 * and the WordNet words that may stand in for it in an augmented caption. */
#include "config.h"
#include "duch_wn_aliases.h"
#include "duch_modelfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wn.h>

typedef struct table {
    char **from, **to;
    size_t n, cap;
    char **keys; /* open addressing over from[] and the vocabulary: strings, NULL = empty */
    int *rank;   /* per slot: the vocabulary index of the word the key stands for, -1: blocked */
    char **vocab;
    size_t nslots;
    int oom;
} table;

static size_t slot_of(const table *t, const char *w)
{
    size_t s = (size_t)duch_fnv1a64(w, strlen(w), DUCH_FNV1A64_BASIS) & (t->nslots - 1);
    while (t->keys[s] && strcmp(t->keys[s], w))
        s = (s + 1) & (t->nslots - 1);
    return s;
}

static int taken(const table *t, const char *w) { return t->keys[slot_of(t, w)] != NULL; }

static int plain_word(const char *w)
{
    if (!w || !*w)
        return 0;
    for (const char *p = w; *p; p++)
        if (*p < 'a' || *p > 'z')
            return 0;
    return strlen(w) < 40;
}

static int is_function_word(const char *w);

static void claim(table *t, const char *w, const char *target)
{
    if (t->oom || !plain_word(w) || taken(t, w))
        return;
    if (is_function_word(w))
        target = ""; /* "near", "like", "can": never a content word, not a slip either */
    if (2 * (t->n + 1) >= t->nslots / 2 || t->n == t->cap) {
        t->oom = 1; /* sized for the worst case up front: does not happen */
        return;
    }
    char *f = strdup(w), *g = strdup(target);
    if (!f || !g) {
        free(f), free(g);
        t->oom = 1;
        return;
    }
    t->from[t->n] = f;
    t->to[t->n] = g;
    t->n++;
    int r = *target ? t->rank[slot_of(t, target)] : -1;
    size_t s = slot_of(t, f);
    t->keys[s] = f;
    t->rank[s] = r;
}

/* w and its plurals that WordNet's noun morphology takes back to w */
static void claim_forms(table *t, const char *w, const char *target)
{
    claim(t, w, target);
    size_t n = strlen(w);
    if (n < 2 || n > 36)
        return;
    char p[48];
    const char *suffix[] = {"s", "es"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s%s", w, suffix[i]);
        char *m = morphstr(p, NOUN);
        if (m && !strcmp(m, w))
            claim(t, p, target);
    }
    if (w[n - 1] == 'y') {
        snprintf(p, sizeof p, "%.*sies", (int)(n - 1), w);
        char *m = morphstr(p, NOUN);
        if (m && !strcmp(m, w))
            claim(t, p, target);
    }
}

/* the words of a synset (WordNet writes phrases with '_': they are skipped) */
static void claim_synset(table *t, SynsetPtr s, const char *target)
{
    for (int i = 0; s && i < s->wcount; i++) {
        char w[64];
        snprintf(w, sizeof w, "%s", s->words[i]);
        for (char *c = w; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        claim_forms(t, w, target);
    }
}

/* English closed-class words (determiners, pronouns, prepositions, conjunctions,
 * auxiliaries, quantifiers) and numerals: never a keyword on their own. WordNet lists
 * some of them under other parts of speech ("a", "in", "are"), so it cannot tell. */
static const char *const function_words[] = {
    "a", "an", "the", "this", "that", "these", "those", "some", "any", "each", "every",
    "all", "both", "either", "neither", "no", "not", "many", "much", "more", "most", "few",
    "fewer", "little", "less", "lots", "lot", "several", "plenty", "other", "another",
    "such", "own", "same", "one", "two", "three", "four", "five", "six", "seven", "eight",
    "nine", "ten", "of", "in", "on", "at", "by", "with", "without", "within", "to", "from",
    "into", "onto", "over", "under", "above", "below", "near", "nearby", "next", "beside",
    "besides", "between", "among", "amid", "around", "along", "alongside", "across",
    "through", "behind", "beyond", "inside", "outside", "up", "down", "off", "out", "for",
    "about", "against", "toward", "towards", "via", "like", "as", "and", "or", "but", "nor",
    "so", "yet", "than", "then", "while", "where", "when", "which", "who", "whom", "whose",
    "what", "there", "here", "it", "its", "they", "them", "their", "we", "our", "you",
    "your", "he", "she", "his", "her", "i", "me", "my", "is", "are", "was", "were", "be",
    "been", "being", "am", "has", "have", "had", "having", "do", "does", "did", "can",
    "could", "will", "would", "shall", "should", "may", "might", "must", "very", "too",
    "also", "just", "only", "quite", "rather", "well", "even", "still", "almost", "else",
};

static int is_function_word(const char *w)
{
    for (size_t i = 0; i < sizeof function_words / sizeof function_words[0]; i++)
        if (!strcmp(w, function_words[i]))
            return 1;
    return 0;
}

/* the words of the noun hypernyms of synset s that are `level` levels above it (WordNet's
 * library gives one level per search: the pointers are followed with read_synset) */
static void claim_hypernyms(table *t, SynsetPtr s, int level, const char *target)
{
    for (int k = 0; k < s->ptrcount && !t->oom; k++) {
        if (s->ptrtyp[k] != HYPERPTR || s->ppos[k] != NOUN)
            continue;
        SynsetPtr h = read_synset(NOUN, s->ptroff[k], "");
        if (!h)
            continue;
        if (level == 1)
            claim_synset(t, h, target);
        else
            claim_hypernyms(t, h, level - 1, target);
        free_synset(h);
    }
}

/* the vocabulary index of what word w stands for (a vocabulary word or an alias), or -1 */
static int resolve(const table *t, const char *w)
{
    char l[64];
    snprintf(l, sizeof l, "%s", w);
    for (char *c = l; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    size_t s = slot_of(t, l);
    return t->keys[s] ? t->rank[s] : -1;
}

/* the first word of synset s that stands for a content word of the vocabulary (not a
 * closed-class word or a single letter), as resolve() */
static int resolve_synset(const table *t, SynsetPtr s)
{
    for (int i = 0; s && i < s->wcount; i++) {
        int r = resolve(t, s->words[i]);
        if (r >= 0 && strlen(t->vocab[r]) >= 3 && !is_function_word(t->vocab[r]))
            return r;
    }
    return -1;
}

/* What a WordNet word near a vocabulary word stands for by its first `senses` senses of
 * part of speech pos: another word of a sense, else a word the sense points to (derivation:
 * "sandy" -> "sand"; pertainym; hypernym: "marina" -> "dock"; similar adjective) that is
 * known. -1: none (it is blocked). */
static int slip_target(const table *t, const char *w, int pos, int senses)
{
    int r = -1;
    for (int sense = 1; r < 0 && sense <= senses; sense++) {
        SynsetPtr ss = findtheinfo_ds((char *)w, pos, pos == ADJ ? SIMPTR : HYPERPTR, sense);
        if (!ss)
            break;
        r = resolve_synset(t, ss);
        static const int kinds[] = {DERIVATION, PERTPTR, HYPERPTR, SIMPTR};
        for (int k = 0; r < 0 && k < 4; k++)
            for (int j = 0; r < 0 && j < ss->ptrcount; j++) {
                if (ss->ptrtyp[j] != kinds[k])
                    continue;
                SynsetPtr h = read_synset(ss->ppos[j], ss->ptroff[j], "");
                r = resolve_synset(t, h);
                if (h)
                    free_synset(h);
            }
        free_syns(ss);
    }
    return r;
}

/* Pass 5: every single word in WordNet's index files (read line by line; each entry
 * parsed by the library's parse_index), and the regular plural of each noun, that is
 * neither a vocabulary word nor an alias but lies within duch_word_nearest's reach of a
 * vocabulary word: taken for the word its first senses relate it to (slip_target), else
 * claimed with the empty target: blocked. Collected first: the checks must not see the
 * words this pass adds. */
static int claim_blocked(table *t, char **vcopy, int nvocab, int senses)
{
    size_t *vlen = malloc((size_t)(nvocab ? nvocab : 1) * sizeof *vlen);
    char **word = NULL;
    int *wpos = NULL, *lemma = NULL; /* per word: part of speech; index of its lemma */
    size_t n = 0, cap = 0;
    int rc = vlen ? DUCH_OK : DUCH_NOMEM;
    for (int i = 0; vlen && i < nvocab; i++)
        vlen[i] = strlen(vcopy[i]);
    static const int parts[] = {NOUN, VERB, ADJ, ADV};
    for (int p = 0; p < 4 && rc == DUCH_OK; p++) {
        FILE *f = indexfps[parts[p]];
        if (!f || fseek(f, 0, SEEK_SET))
            continue;
        char line[8192];
        for (;;) {
            long off = ftell(f);
            if (!fgets(line, sizeof line, f))
                break;
            if (line[0] == ' ')
                continue; /* the licence at the top */
            IndexPtr ix = parse_index(off, parts[p], line);
            if (!ix)
                continue;
            char forms[2][72];
            int nf = 0;
            if (plain_word(ix->wd) && strlen(ix->wd) < 64) {
                snprintf(forms[nf++], sizeof forms[0], "%s", ix->wd);
                if (parts[p] == NOUN)
                    snprintf(forms[nf++], sizeof forms[0], "%ss", ix->wd);
            }
            free_index(ix);
            for (int k = 0; k < nf && rc == DUCH_OK; k++) {
                const char *w = forms[k];
                if (taken(t, w) ||
                    duch_word_nearest(w, strlen(w), (const char *const *)vcopy, vlen, (size_t)nvocab) < 0)
                    continue;
                if (n == cap) {
                    size_t c2 = cap ? 2 * cap : 4096;
                    char **w2 = realloc(word, c2 * sizeof *w2);
                    if (w2)
                        word = w2;
                    int *p2 = w2 ? realloc(wpos, c2 * sizeof *p2) : NULL;
                    if (p2)
                        wpos = p2;
                    int *l2 = p2 ? realloc(lemma, c2 * sizeof *l2) : NULL;
                    if (!l2) {
                        rc = DUCH_NOMEM;
                        break;
                    }
                    lemma = l2;
                    cap = c2;
                }
                wpos[n] = parts[p];
                lemma[n] = k == 0 ? (int)n : -1; /* a plural: its lemma is forms[0] */
                if (k == 1 && n > 0 && word[n - 1] && !strncmp(word[n - 1], w, strlen(word[n - 1])) &&
                    lemma[n - 1] == (int)n - 1)
                    lemma[n] = (int)n - 1;
                if (!(word[n++] = strdup(w)))
                    rc = DUCH_NOMEM;
            }
        }
    }
    /* the targets, before any claim (a claim must not serve as a target) */
    int *target = rc == DUCH_OK ? malloc((n ? n : 1) * sizeof *target) : NULL;
    if (!target)
        rc = DUCH_NOMEM;
    for (size_t i = 0; rc == DUCH_OK && i < n; i++) {
        char lem[72];
        /* a plural whose lemma was not collected (it is known): strip the "s" */
        snprintf(lem, sizeof lem, "%s", lemma[i] >= 0 ? word[lemma[i]] : word[i]);
        if (lemma[i] < 0 && strlen(lem) > 1)
            lem[strlen(lem) - 1] = 0;
        target[i] = lemma[i] >= 0 && (size_t)lemma[i] < i ? target[lemma[i]] : slip_target(t, lem, wpos[i], senses);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == DUCH_OK && word[i])
            claim(t, word[i], target[i] >= 0 ? vcopy[target[i]] : "");
        free(word[i]);
    }
    free(target);
    free(word);
    free(wpos);
    free(lemma);
    free(vlen);
    return t->oom ? DUCH_NOMEM : rc;
}

int duch_wn_aliases(const char *const *vocab, int nvocab, int senses, duch_wn_alias **out,
                    int *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    if (wninit() != 0) {
        snprintf(err, errlen, "WordNet's database cannot be opened (Debian: apt-get install"
                 " wordnet-base; WNHOME or WNSEARCHDIR say where it is)");
        return DUCH_NOTFOUND;
    }
    table t = {0};
    t.cap = 400000;
    t.nslots = 1u << 21;
    t.from = malloc(t.cap * sizeof *t.from);
    t.to = malloc(t.cap * sizeof *t.to);
    t.keys = calloc(t.nslots, sizeof *t.keys);
    t.rank = calloc(t.nslots, sizeof *t.rank);
    char **vcopy = calloc((size_t)nvocab, sizeof *vcopy);
    int rc = DUCH_OK;
    if (!t.from || !t.to || !t.keys || !t.rank || !vcopy) {
        rc = DUCH_NOMEM;
        goto finish;
    }
    for (int i = 0; i < nvocab; i++) { /* the vocabulary words are never aliases */
        if (!(vcopy[i] = strdup(vocab[i]))) {
            rc = DUCH_NOMEM;
            goto finish;
        }
        size_t s = slot_of(&t, vcopy[i]);
        t.keys[s] = vcopy[i];
        t.rank[s] = i;
        t.vocab = vcopy;
    }
    static const int pos_order[] = {NOUN, ADJ, VERB};
    /* 1. inflections */
    for (int i = 0; i < nvocab; i++)
        for (int p = 0; p < 3; p++) {
            char *m = morphstr(vcopy[i], pos_order[p]);
            if (m && strcmp(m, vcopy[i]))
                claim_forms(&t, m, vcopy[i]);
            if (p == 0)
                claim_forms(&t, vcopy[i], vcopy[i]); /* its own plurals */
        }
    /* 2. synonyms of the first senses, 3. direct hyponyms of the noun senses */
    for (int pass = 2; pass <= 3; pass++)
        for (int sense = 1; sense <= senses; sense++)
            for (int i = 0; i < nvocab; i++)
                for (int p = 0; p < (pass == 2 ? 3 : 1) && !is_function_word(vcopy[i]); p++) {
                    char *m = morphstr(vcopy[i], pos_order[p]);
                    char base[64];
                    snprintf(base, sizeof base, "%s", m ? m : vcopy[i]);
                    SynsetPtr ss = findtheinfo_ds(base, pos_order[p], HYPOPTR, sense);
                    for (SynsetPtr s = ss; s; s = s->nextss) {
                        if (pass == 2)
                            claim_synset(&t, s, vcopy[i]);
                        else
                            for (SynsetPtr h = s->ptrlist; h; h = h->nextss)
                                claim_synset(&t, h, vcopy[i]);
                    }
                    if (ss)
                        free_syns(ss);
                }
    /* 4. the words of the hypernyms of the first noun sense, up to three levels up
     * (more general kinds: "airplane" -> "heavier-than-air craft" -> "aircraft"); a user
     * who types the general word over this imagery means the kinds the model knows.
     * Nearer levels first, and at each level the more frequent vocabulary word. */
    for (int level = 1; level <= 3; level++)
        for (int i = 0; i < nvocab; i++) {
            if (is_function_word(vcopy[i]))
                continue; /* "there" is a noun too, but no target for "location" */
            char *m = morphstr(vcopy[i], NOUN);
            char base[64];
            snprintf(base, sizeof base, "%s", m ? m : vcopy[i]);
            SynsetPtr ss = findtheinfo_ds(base, NOUN, HYPERPTR, 1);
            if (ss)
                claim_hypernyms(&t, ss, level, vcopy[i]);
            if (ss)
                free_syns(ss);
        }
    /* 5. the other words WordNet lists that a spelling slip would take for a vocabulary
     * word ("farm" is not a slip of "firm"): blocked, so a query ignores them */
    if (!t.oom)
        rc = claim_blocked(&t, vcopy, nvocab, senses);
    if (t.oom)
        rc = DUCH_NOMEM;
    if (rc != DUCH_OK)
        goto finish;
    duch_wn_alias *a = malloc((t.n ? t.n : 1) * sizeof *a);
    if (!a) {
        rc = DUCH_NOMEM;
        goto finish;
    }
    for (size_t i = 0; i < t.n; i++) {
        a[i].word = t.from[i];
        a[i].target = t.to[i];
    }
    *out = a;
    *nout = (int)t.n;
    t.n = 0; /* handed over */
finish:
    if (rc == DUCH_NOMEM)
        snprintf(err, errlen, "out of memory building the alias table");
    for (size_t i = 0; i < t.n; i++)
        free(t.from[i]), free(t.to[i]);
    for (int i = 0; vcopy && i < nvocab; i++)
        free(vcopy[i]);
    free(vcopy);
    free(t.from);
    free(t.to);
    free(t.keys);
    free(t.rank);
    return rc;
}

void duch_wn_aliases_free(duch_wn_alias *a, int n)
{
    for (int i = 0; a && i < n; i++)
        free(a[i].word), free(a[i].target);
    free(a);
}

/* ------------------------------------------------------------------ training lexicon */

/* a regular English plural of noun n that WordNet's morphology takes back to n, or 0 */
static int plural_of(const char *n, char *out, size_t cap)
{
    size_t l = strlen(n);
    if (l < 2 || l + 3 >= cap)
        return 0;
    char last = n[l - 1], prev = n[l - 2];
    if (last == 'y' && !strchr("aeiou", prev))
        snprintf(out, cap, "%.*sies", (int)(l - 1), n);
    else if (strchr("sxz", last) || (last == 'h' && (prev == 'c' || prev == 's')))
        snprintf(out, cap, "%ses", n);
    else
        snprintf(out, cap, "%ss", n);
    char *m = morphstr(out, NOUN);
    return m && !strcmp(m, n);
}

typedef struct pairs {
    duch_wn_alias *a;
    int n, cap, oom;
} pairs;

static void pair_add(pairs *p, const char *w, const char *alt)
{
    if (p->oom || !strcmp(w, alt) || !plain_word(alt))
        return;
    for (int i = p->n - 1; i >= 0 && !strcmp(p->a[i].word, w); i--)
        if (!strcmp(p->a[i].target, alt))
            return; /* already there */
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 1024;
        duch_wn_alias *b = realloc(p->a, (size_t)cap * sizeof *b);
        if (!b) {
            p->oom = 1;
            return;
        }
        p->a = b;
        p->cap = cap;
    }
    char *f = strdup(w), *g = strdup(alt);
    if (!f || !g) {
        free(f), free(g);
        p->oom = 1;
        return;
    }
    p->a[p->n].word = f;
    p->a[p->n].target = g;
    p->n++;
}

/* the single-word members of synset s, lower-cased, in the plural when plural is set
 * (when WordNet confirms it; else as they are), as stand-ins for w */
static void pair_synset(pairs *p, const char *w, SynsetPtr s, int plural)
{
    for (int i = 0; s && i < s->wcount; i++) {
        char a[64], pl[72];
        snprintf(a, sizeof a, "%s", s->words[i]);
        for (char *c = a; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        if (!plain_word(a) || is_function_word(a))
            continue;
        pair_add(p, w, plural && plural_of(a, pl, sizeof pl) ? pl : a);
    }
}

int duch_wn_lexicon(const char *const *vocab, int nvocab, int senses, duch_wn_alias **subst,
                    int *nsubst, unsigned char *kind, char *err, size_t errlen)
{
    *subst = NULL;
    *nsubst = 0;
    if (wninit() != 0) {
        snprintf(err, errlen, "WordNet's database cannot be opened (Debian: apt-get install"
                 " wordnet-base; WNHOME or WNSEARCHDIR say where it is)");
        return DUCH_NOTFOUND;
    }
    pairs p = {0};
    for (int i = 0; i < nvocab && !p.oom; i++) {
        char w[64], base[64], pl[72];
        kind[i] = DUCH_WN_FUNCTION;
        if (!plain_word(vocab[i]) || strlen(vocab[i]) >= sizeof w - 8 || is_function_word(vocab[i]))
            continue;
        snprintf(w, sizeof w, "%s", vocab[i]);
        char *m = morphstr(w, NOUN);
        int noun = m || in_wn(w, NOUN);
        snprintf(base, sizeof base, "%s", m ? m : w);
        if (noun) {
            kind[i] = DUCH_WN_NOUN;
            int plural = strcmp(base, w) != 0;
            /* the other number of the same noun */
            if (plural)
                pair_add(&p, w, base);
            else if (plural_of(base, pl, sizeof pl))
                pair_add(&p, w, pl);
            for (int sense = 1; sense <= senses; sense++) {
                SynsetPtr ss = findtheinfo_ds(base, NOUN, HYPERPTR, sense);
                for (SynsetPtr s = ss; s; s = s->nextss) {
                    pair_synset(&p, w, s, plural);              /* synonyms */
                    if (sense == 1)
                        for (SynsetPtr h = s->ptrlist; h; h = h->nextss)
                            pair_synset(&p, w, h, plural);      /* direct hypernyms */
                }
                if (ss)
                    free_syns(ss);
            }
        }
        m = morphstr(w, ADJ);
        if (m || in_wn(w, ADJ)) {
            if (!noun)
                kind[i] = DUCH_WN_CONTENT;
            if (!m || !strcmp(m, w)) /* comparatives stay as they are */
                for (int sense = 1; sense <= senses; sense++) {
                    SynsetPtr ss = findtheinfo_ds(w, ADJ, SIMPTR, sense);
                    for (SynsetPtr s = ss; s; s = s->nextss) {
                        pair_synset(&p, w, s, 0);                   /* synonyms */
                        if (sense == 1)
                            for (SynsetPtr h = s->ptrlist; h; h = h->nextss)
                                pair_synset(&p, w, h, 0);           /* similar adjectives */
                    }
                    if (ss)
                        free_syns(ss);
                }
        }
        if (kind[i] == DUCH_WN_FUNCTION && (morphstr(w, VERB) || in_wn(w, VERB) ||
                                            morphstr(w, ADV) || in_wn(w, ADV)))
            kind[i] = DUCH_WN_CONTENT;
    }
    if (p.oom) {
        duch_wn_aliases_free(p.a, p.n);
        snprintf(err, errlen, "out of memory building the training lexicon");
        return DUCH_NOMEM;
    }
    *subst = p.a;
    *nsubst = p.n;
    return DUCH_OK;
}
