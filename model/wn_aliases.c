/* wn_aliases.c: an alias table for a model's vocabulary from WordNet (Princeton WordNet
 * 3.0 through its own C library, libwordnet: morphstr, findtheinfo_ds). See
 * duch_wn_aliases.h. Used when a model is made (duch aliases); a query never needs
 * WordNet: the table is stored in the model file.
 *
 * For each vocabulary word v, in this order (the first claim of a word wins, so closer
 * relations win over farther ones):
 *   1. its inflections: the base form (morphstr: "trees" -> "tree") and plurals that
 *      WordNet's morphology maps back to v ("house" -> "houses");
 *  1b. for a caption word that is a closed compound of two WordNet nouns, its first
 *      part when that is a visible thing ("farm" -> "farmland", "crop" -> "cropland");
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
 *   6. the other nouns and adjectives of WordNet: taken for a vocabulary word that their
 *      first sense relates them to (claim_far: a word of the sense, of a synset it points
 *      to, a caption word that is a part of a site: "airstrip" -> "runway", or a noun of
 *      its gloss: "seashore" -> "sea", "skyscraper" -> "buildings"), else left unknown;
 *      WordNet's noun phrases too ("landing strip" -> "runway"), when their last word is
 *      no vocabulary word or noun form of one, and not through their gloss;
 *   7. the other long words of WordNet that a query would take for a slip of an alias
 *      (duch_alias_nearest): blocked, as in pass 5;
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
#include <strings.h>
#include <wn.h>

typedef struct table {
    char **from, **to;
    size_t n, cap;
    char **keys; /* open addressing over from[] and the vocabulary: strings, NULL = empty */
    int *rank;   /* per slot: the vocabulary index of the word the key stands for, -1: blocked */
    unsigned char *noun; /* per slot: a vocabulary word, or an alias claimed as a noun form of
                            one (pass 1's noun inflections, pass 1b's compounds) */
    int noun_pass;       /* claims now set noun[] */
    int attr_only;       /* claim_related follows a modifier's senses only (modifier_sense) */
    int *at;             /* per slot: 1 + the index in from[] of the alias, 0: a vocabulary word */
    unsigned char *close; /* per slot: a vocabulary word, or an alias of passes 1 to 4 (its
                             inflections, synonyms, kinds), not of the looser 5 and 6 */
    int close_pass;       /* claims now set close[] */
    char **vocab;
    size_t nslots;
    int oom;
    int phrases; /* claim_synset also claims WordNet's phrases ("car park") */
    int ncaption; /* the vocabulary's first ncaption words are the captions' */
    int verbs;   /* claim_synset claims a verb synset: its words that are nouns too are
                    left to the noun passes ("block" is not "obstruct" in a query) */
} table;

static size_t slot_of(const table *t, const char *w)
{
    size_t s = (size_t)duch_fnv1a64(w, strlen(w), DUCH_FNV1A64_BASIS) & (t->nslots - 1);
    while (t->keys[s] && strcmp(t->keys[s], w))
        s = (s + 1) & (t->nslots - 1);
    return s;
}

static int taken(const table *t, const char *w) { return t->keys[slot_of(t, w)] != NULL; }

/* an alias key: a plain word, or a phrase of 2 or 3 plain words joined by single spaces */
static int plain_key(const char *w)
{
    if (!w || !*w || strlen(w) >= 40)
        return 0;
    int words = 1;
    for (const char *p = w; *p; p++) {
        if (*p == ' ') {
            if (p == w || !p[1] || p[1] == ' ' || ++words > 3)
                return 0;
        } else if (*p < 'a' || *p > 'z') {
            return 0;
        }
    }
    return 1;
}

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

/* entry w -> target appended to from[] / to[] as it is (no slot: pass 8 appends keys the
 * table holds already, vocabulary words, which both encoders read as this alias first);
 * its key, or NULL (t->oom) */
static char *append_entry(table *t, const char *w, const char *target)
{
    if (t->oom || t->n == t->cap) {
        t->oom = 1; /* sized for the worst case up front: does not happen */
        return NULL;
    }
    char *f = strdup(w), *g = strdup(target);
    if (!f || !g) {
        free(f), free(g);
        t->oom = 1;
        return NULL;
    }
    t->from[t->n] = f;
    t->to[t->n] = g;
    t->n++;
    return f;
}

static void claim(table *t, const char *w, const char *target)
{
    if (t->oom || !plain_key(w) || taken(t, w) || !strcmp(w, target))
        return;
    if (is_function_word(w))
        target = ""; /* "near", "like", "can": never a content word, not a slip either */
    if (2 * (t->n + 1) >= t->nslots / 2) {
        t->oom = 1; /* sized for the worst case up front: does not happen */
        return;
    }
    char *f = append_entry(t, w, target);
    if (!f)
        return;
    /* a phrase target ("mobile home") is no single word a later pass could resolve to */
    size_t ts = *target && !strchr(target, ' ') ? slot_of(t, target) : 0;
    int r = *target && !strchr(target, ' ') && t->keys[ts] ? t->rank[ts] : -1;
    size_t s = slot_of(t, f);
    t->keys[s] = f;
    t->rank[s] = r;
    t->noun[s] = (unsigned char)t->noun_pass;
    t->at[s] = (int)t->n;
    t->close[s] = (unsigned char)t->close_pass;
}

/* w and its plurals that WordNet's noun morphology takes back to w (of a phrase: its last
 * word's, "car park" -> "car parks") */
static void claim_forms(table *t, const char *w, const char *target)
{
    claim(t, w, target);
    const char *sp = strrchr(w, ' ');
    const char *last = sp ? sp + 1 : w;
    int head = (int)(last - w);
    size_t n = strlen(last);
    if (n < 2 || strlen(w) > 36)
        return;
    char p[48];
    const char *suffix[] = {"s", "es"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s%s", last, suffix[i]);
        char *m = morphstr(p, NOUN);
        if (m && !strcmp(m, last)) {
            snprintf(p, sizeof p, "%.*s%s%s", head, w, last, suffix[i]);
            claim(t, p, target);
        }
    }
    if (last[n - 1] == 'y') {
        snprintf(p, sizeof p, "%.*sies", (int)(n - 1), last);
        char *m = morphstr(p, NOUN);
        if (m && !strcmp(m, last)) {
            snprintf(p, sizeof p, "%.*s%.*sies", head, w, (int)(n - 1), last);
            claim(t, p, target);
        }
    }
}

/* a sense WordNet's gloss marks as a slur or an obscenity ("(ethnic slur) extremely
 * offensive name for ...", "a derogatory term for ..."): never an alias or a stand-in, so
 * that no query reports one as "mapped" to a caption word */
static int offensive_gloss(const char *defn)
{
    static const char *const mark[] = {"slur", "offensive", "derogatory", "disparaging",
                                       "obscene", "vulgar"};
    for (size_t i = 0; defn && i < sizeof mark / sizeof *mark; i++)
        if (strstr(defn, mark[i]))
            return 1;
    return 0;
}

/* the words of a synset; WordNet's phrases ("car_park") as keys of words joined by
 * spaces only while t->phrases is set (a vocabulary phrase claims), else skipped */
static void claim_synset(table *t, SynsetPtr s, const char *target)
{
    if (s && offensive_gloss(s->defn))
        return;
    for (int i = 0; s && i < s->wcount; i++) {
        char w[64];
        snprintf(w, sizeof w, "%s", s->words[i]);
        for (char *c = w; *c; c++) {
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
            else if (*c == '_')
                *c = t->phrases ? ' ' : '#';
        }
        if (t->verbs && in_wn(s->words[i], NOUN))
            continue;
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
    "someone", "somebody", "something", "anyone", "anybody", "anything", "everyone",
    "everybody", "everything", "nobody", "nothing",
};

static int is_function_word(const char *w)
{
    for (size_t i = 0; i < sizeof function_words / sizeof function_words[0]; i++)
        if (!strcmp(w, function_words[i]))
            return 1;
    return 0;
}

/* w's base form for part of speech pos (WordNet's morphology: "houses" -> "house"), or w
 * itself, into base (cap bytes) */
static void base_form(const char *w, int pos, char *base, size_t cap)
{
    char *m = morphstr((char *)w, pos);
    snprintf(base, cap, "%s", m ? m : w);
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

/* Each entry of WordNet's index file of part of speech pos, in file order, as the
 * library parses it (parse_index), to fn; fn's first nonzero return stops the walk and is
 * returned. */
typedef int (*index_fn)(IndexPtr ix, int pos, void *arg);
static int index_each(int pos, index_fn fn, void *arg)
{
    FILE *f = indexfps[pos];
    if (!f || fseek(f, 0, SEEK_SET))
        return 0;
    char line[8192];
    for (;;) {
        long off = ftell(f);
        if (!fgets(line, sizeof line, f))
            return 0;
        if (line[0] == ' ')
            continue; /* the licence at the top */
        IndexPtr ix = parse_index(off, pos, line);
        if (!ix)
            continue;
        int rc = fn(ix, pos, arg);
        free_index(ix);
        if (rc)
            return rc;
    }
}

/* words collected from WordNet's index by passes 5 and 6, each with its part of speech
 * and a number (pass 5: the index of its lemma; pass 6: its first sense) */
typedef struct wordlist {
    char **word;
    int *wpos;
    long *val;
    size_t n, cap;
} wordlist;

static int wordlist_push(wordlist *l, const char *w, int pos, long val)
{
    if (l->n == l->cap) {
        size_t c2 = l->cap ? 2 * l->cap : 4096;
        char **w2 = realloc(l->word, c2 * sizeof *w2);
        if (w2)
            l->word = w2;
        int *p2 = w2 ? realloc(l->wpos, c2 * sizeof *p2) : NULL;
        if (p2)
            l->wpos = p2;
        long *v2 = p2 ? realloc(l->val, c2 * sizeof *v2) : NULL;
        if (!v2)
            return DUCH_NOMEM;
        l->val = v2, l->cap = c2;
    }
    l->wpos[l->n] = pos;
    l->val[l->n] = val;
    return (l->word[l->n++] = strdup(w)) ? 0 : DUCH_NOMEM;
}

static void wordlist_free(wordlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->word[i]);
    free(l->word), free(l->wpos), free(l->val);
}

/* the words pass 5 collects */
typedef struct near_words {
    table *t;
    char **vcopy;
    size_t *vlen;
    int nvocab;
    wordlist l; /* val: the index of the word's lemma, -1: not collected */
} near_words;

static int near_collect(IndexPtr ix, int pos, void *arg)
{
    near_words *c = arg;
    char forms[2][72];
    int nf = 0;
    if (plain_word(ix->wd) && strlen(ix->wd) < 64) {
        snprintf(forms[nf++], sizeof forms[0], "%s", ix->wd);
        if (pos == NOUN)
            snprintf(forms[nf++], sizeof forms[0], "%ss", ix->wd);
    }
    for (int k = 0; k < nf; k++) {
        const char *w = forms[k];
        if (taken(c->t, w) ||
            duch_word_nearest(w, strlen(w), (const char *const *)c->vcopy, c->vlen, (size_t)c->nvocab) < 0)
            continue;
        size_t n = c->l.n;
        long lemma = k == 0 ? (long)n : -1; /* a plural: its lemma is forms[0] */
        if (k == 1 && n > 0 && c->l.word[n - 1] &&
            !strncmp(c->l.word[n - 1], w, strlen(c->l.word[n - 1])) && c->l.val[n - 1] == (long)n - 1)
            lemma = (long)n - 1;
        if (wordlist_push(&c->l, w, pos, lemma))
            return DUCH_NOMEM;
    }
    return 0;
}

static int regular_plural(const char *n, char *out, size_t cap);

/* Pass 5: every single word in WordNet's index files, and the regular plural of each
 * noun, that is neither a vocabulary word nor an alias but lies within duch_word_nearest's
 * reach of a vocabulary word: taken for the word its first senses relate it to
 * (slip_target), else claimed with the empty target: blocked. Collected first: the checks
 * must not see the words this pass adds. */
static int claim_blocked(table *t, char **vcopy, int nvocab, int senses)
{
    near_words c = {.t = t, .vcopy = vcopy, .nvocab = nvocab,
                    .vlen = malloc((size_t)(nvocab ? nvocab : 1) * sizeof(size_t))};
    int rc = c.vlen ? DUCH_OK : DUCH_NOMEM;
    for (int i = 0; c.vlen && i < nvocab; i++)
        c.vlen[i] = strlen(vcopy[i]);
    static const int parts[] = {NOUN, VERB, ADJ, ADV};
    for (int p = 0; p < 4 && rc == DUCH_OK; p++)
        rc = index_each(parts[p], near_collect, &c);
    char **word = c.l.word;
    int *wpos = c.l.wpos;
    long *lemma = c.l.val;
    size_t n = c.l.n;
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
    }
    /* the regular plural of a noun taken for a word, as that word ("dock" -> "docked":
     * "docks" too), when no word of its own claims it */
    for (size_t i = 0; i < n; i++) {
        char pl[72];
        if (rc == DUCH_OK && word[i] && target[i] >= 0 && wpos[i] == NOUN && lemma[i] == (long)i &&
            regular_plural(word[i], pl, 64) && !in_wn(pl, NOUN))
            claim(t, pl, vcopy[target[i]]);
    }
    free(target);
    wordlist_free(&c.l);
    free(c.vlen);
    return t->oom ? DUCH_NOMEM : rc;
}

/* nouns that name a kind of anything ("a kind of", "part of", "a form of"): a gloss's
 * genus says nothing of what a word looks like when it is one of these */
static int is_classifier(const char *w)
{
    static const char *const c[] = {"kind", "kinds", "sort", "sorts", "type", "types", "part",
                                    "parts", "form", "forms", "group", "groups", "grouping",
                                    "category", "class", "material", "materials", "thing",
                                    "things", "object", "objects", "whole", "unit", "units",
                                    "instrumentality", "instrumentation", "member", "members", "piece",
                                    "pieces", "variety", "portion", "stuff"};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++)
        if (!strcmp(w, c[i]))
            return 1;
    return 0;
}

/* the regular plural of noun n ("dock" -> "docks", "marsh" -> "marshes", "city" ->
 * "cities") into out; 0: n too short or out too small */
static int regular_plural(const char *n, char *out, size_t cap)
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
    return 1;
}

/* Pass 6 takes a word for a vocabulary word only, or for one by its regular plural: an
 * alias of the earlier passes is one step from its word already, and a second step drifts
 * ("central" -> "cardinal") */
/* plural 0: w or its regular singular only; 1: then a vocabulary word that is w's plural */
static int resolve_vocab_as(const table *t, const char *w, int plural)
{
    char l[64];
    snprintf(l, sizeof l, "%s", w);
    for (char *c = l; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    for (int k = 0; k <= 2; k++) {
        size_t n = strlen(l);
        if (k > 0 && (n < (size_t)k + 3 || l[n - 1] != 's' || (k == 2 && l[n - 2] != 'e')))
            break;
        if (k > 0)
            l[n - 1] = 0, k == 2 ? l[n - 2] = 0 : 0;
        size_t s = slot_of(t, l);
        int r = t->keys[s] ? t->rank[s] : -1;
        if (r >= 0 && !strcmp(t->vocab[r], l) && strlen(l) >= 3 && !is_function_word(l) &&
            !is_classifier(l))
            return r;
        snprintf(l, sizeof l, "%s", w);
        for (char *c = l; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    }
    /* a vocabulary word that is w's regular plural ("boat" -> "boats": the captions
     * speak of boats, WordNet's glosses of "a boat") */
    char pl[72];
    if (plural && strlen(l) >= 3 && !is_function_word(l) && !is_classifier(l) &&
        regular_plural(l, pl, sizeof pl)) {
        size_t s = slot_of(t, pl);
        int r = t->keys[s] ? t->rank[s] : -1;
        if (r >= 0 && !strcmp(t->vocab[r], pl) && !is_function_word(pl) && !is_classifier(pl))
            return r;
    }
    return -1;
}

static int resolve_vocab(const table *t, const char *w) { return resolve_vocab_as(t, w, 1); }

/* the first of the synset's words that is a vocabulary word or its plural; a plural
 * only when no word is one ("shrub, bush": "bush" before "shrubs") */
static int resolve_vocab_synset(const table *t, SynsetPtr s)
{
    for (int plural = 0; plural <= 1; plural++)
        for (int i = 0; s && i < s->wcount; i++) {
            int r = resolve_vocab_as(t, s->words[i], plural);
            if (r >= 0)
                return r;
        }
    return -1;
}

/* Pass 6 reads WordNet's index and data files once each, in order (parse_index,
 * parse_synset): a lookup per word (morphstr, findtheinfo_ds) costs file seeks, and pass 6
 * looks at every noun and adjective. */

/* a set of words: open addressing, strings owned */
typedef struct wordset {
    char **keys;
    long *val; /* per slot: the word's first sense (a synset offset) */
    size_t nslots, n;
} wordset;

static size_t wordset_slot(const wordset *w, const char *s)
{
    size_t i = (size_t)duch_fnv1a64(s, strlen(s), DUCH_FNV1A64_BASIS) & (w->nslots - 1);
    while (w->keys[i] && strcmp(w->keys[i], s))
        i = (i + 1) & (w->nslots - 1);
    return i;
}

static int wordset_has(const wordset *w, const char *s)
{
    return w->nslots && w->keys[wordset_slot(w, s)] != NULL;
}

static int wordset_add(wordset *w, const char *s, long val)
{
    if (2 * (w->n + 1) > w->nslots) {
        size_t ns = w->nslots ? 2 * w->nslots : 1u << 16;
        wordset g = {calloc(ns, sizeof(char *)), calloc(ns, sizeof(long)), ns, w->n};
        if (!g.keys || !g.val) {
            free(g.keys), free(g.val);
            return -1;
        }
        for (size_t i = 0; i < w->nslots; i++)
            if (w->keys[i]) {
                size_t j = wordset_slot(&g, w->keys[i]);
                g.keys[j] = w->keys[i], g.val[j] = w->val[i];
            }
        free(w->keys), free(w->val);
        *w = g;
    }
    size_t i = wordset_slot(w, s);
    if (w->keys[i])
        return 0;
    if (!(w->keys[i] = strdup(s)))
        return -1;
    w->val[i] = val;
    w->n++;
    return 0;
}

static void wordset_free(wordset *w)
{
    for (size_t i = 0; i < w->nslots; i++)
        free(w->keys[i]);
    free(w->keys), free(w->val);
}

/* the first sense of noun w, or of its regular singular ("yachts" -> "yacht", "boxes" ->
 * "box"); -1: not a WordNet noun */
static long noun_sense(const wordset *nouns, char *w, size_t n)
{
    if (!nouns->nslots)
        return -1;
    size_t i = wordset_slot(nouns, w);
    if (nouns->keys[i])
        return nouns->val[i];
    long found = -1;
    for (int k = 1; k <= 2 && found < 0 && n > (size_t)k + 2; k++)
        if (w[n - 1] == 's' && (k == 1 || w[n - 2] == 'e')) {
            char c = w[n - k];
            w[n - k] = 0;
            i = wordset_slot(nouns, w);
            if (nouns->keys[i])
                found = nouns->val[i];
            w[n - k] = c;
        }
    return found;
}

#define GLOSS_NOUNS 3
/* The first GLOSS_NOUNS nouns of a gloss (its definition, before any example), in order:
 * the genus of a definition comes first ("marina: a fancy dock for small yachts"). Each
 * as the vocabulary index it stands for (>= 0), or as its first sense (-2 - offset). Words
 * WordNet also lists as adjectives are skipped ("central", "commercial"). */
static int gloss_nouns(const table *t, const wordset *nouns, const wordset *adjs, const char *defn,
                       long *cand)
{
    const char *p = defn;
    int nc = 0;
    if (!p)
        return 0;
    if (*p == '(')
        p++;
    while (*p && *p != ';' && *p != '"' && *p != ')' && nc < GLOSS_NOUNS) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
            p++;
            continue;
        }
        char w[64];
        size_t n = 0;
        for (; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'); p++)
            if (n + 1 < sizeof w)
                w[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        w[n] = 0;
        if (n < 3 || is_function_word(w) || wordset_has(adjs, w))
            continue;
        long sense = noun_sense(nouns, w, n);
        if (sense < 0)
            continue;
        int r = resolve_vocab(t, w);
        cand[nc++] = r >= 0 ? r : -2 - sense;
    }
    return nc;
}

typedef struct far_syn {
    long off;
    int r0;           /* resolve_synset of its words, -1 */
    long gloss[GLOSS_NOUNS]; /* gloss_nouns */
    int ngloss;
    int seen;         /* a noun sense of a thing that imagery shows (visible_lexfile) */
    size_t ptr, nptr; /* its pointers of the kinds far_target follows, in far.p* */
} far_syn;

typedef struct far {
    long site[4]; /* the first senses of "facility", "geographical area", "tract", "area" */
    far_syn *s[NUMPARTS + 1];
    size_t n[NUMPARTS + 1], cap[NUMPARTS + 1];
    long *poff;
    int *ppos, *ptyp;
    size_t pn, pcap;
    int oom;
} far;

static far_syn *far_find(const far *F, int pos, long off)
{
    if (pos < 1 || pos > NUMPARTS)
        return NULL;
    size_t lo = 0, hi = F->n[pos];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (F->s[pos][mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < F->n[pos] && F->s[pos][lo].off == off ? &F->s[pos][lo] : NULL;
}

/* x is a kind of site (far.site) within `depth` hypernym levels: seen from above by its
 * parts, where a thing such as a bus is seen whole (its part "roof" is no stand-in) */
static int far_site(const far *F, const far_syn *x, int depth)
{
    for (int i = 0; i < 4; i++)
        if (x->off == F->site[i])
            return 1;
    for (size_t j = x->ptr; depth > 0 && j < x->ptr + x->nptr; j++) {
        const far_syn *h = F->ptyp[j] == HYPERPTR ? far_find(F, F->ppos[j], F->poff[j]) : NULL;
        if (h && far_site(F, h, depth - 1))
            return 1;
    }
    return 0;
}

/* What synset x stands for: another of its words, else a word of a synset it points to
 * (derivation, pertainym, similar adjective; a part of a thing that is a caption word:
 * "airstrip" has part "runway": a site is seen by its parts; a direct hypernym), else a
 * noun of its gloss
 * ("seashore: the shore of a sea"), else a word two hypernym levels up, else the words or
 * hypernyms of a gloss noun's first sense; each must be known. -1: none. */
static int far_target(const far *F, const far_syn *x, int ncaption, int gloss)
{
    if (x->r0 >= 0)
        return x->r0;
    static const int kinds[] = {DERIVATION, PERTPTR, SIMPTR, HASPARTPTR, HYPERPTR};
    for (int k = 0; k < (x->seen ? 5 : 3); k++)
        for (size_t j = x->ptr; j < x->ptr + x->nptr; j++) {
            const far_syn *y = F->ptyp[j] == kinds[k] ? far_find(F, F->ppos[j], F->poff[j]) : NULL;
            if (y && y->r0 >= 0 && (y->seen || k != 0 || x->seen) &&
                (kinds[k] != HASPARTPTR || (y->seen && y->r0 < ncaption && far_site(F, x, 8))))
                return y->r0;
        }
    if (!x->seen || !gloss)
        return -1; /* an adjective: its derivation, pertainym or similar adjective only; a
                      phrase: no gloss ("tank farm: an area where..." is no "area") */
    for (int i = 0; i < x->ngloss; i++) /* a gloss noun */
        if (x->gloss[i] >= 0)
            return (int)x->gloss[i];
    for (size_t j = x->ptr; j < x->ptr + x->nptr; j++) {
        const far_syn *y = F->ptyp[j] == HYPERPTR ? far_find(F, F->ppos[j], F->poff[j]) : NULL;
        for (size_t k = y ? y->ptr : 0; y && k < y->ptr + y->nptr; k++) {
            const far_syn *h = F->ptyp[k] == HYPERPTR ? far_find(F, F->ppos[k], F->poff[k]) : NULL;
            if (h && h->r0 >= 0)
                return h->r0;
        }
    }
    for (int i = 0; i < x->ngloss; i++) { /* the words or hypernyms of a gloss noun's sense */
        const far_syn *y = far_find(F, NOUN, -2 - x->gloss[i]);
        if (!y || y == x)
            continue;
        if (y->r0 >= 0)
            return y->r0;
        for (size_t j = y->ptr; j < y->ptr + y->nptr; j++) {
            const far_syn *h = F->ptyp[j] == HYPERPTR ? far_find(F, F->ppos[j], F->poff[j]) : NULL;
            if (h && h->r0 >= 0)
                return h->r0;
        }
    }
    return -1;
}

static int far_push_ptr(far *F, long off, int pos, int typ)
{
    if (F->pn == F->pcap) {
        size_t c2 = F->pcap ? 2 * F->pcap : 16384;
        long *o2 = realloc(F->poff, c2 * sizeof *o2);
        if (o2)
            F->poff = o2;
        int *p2 = o2 ? realloc(F->ppos, c2 * sizeof *p2) : NULL;
        if (p2)
            F->ppos = p2;
        int *t2 = p2 ? realloc(F->ptyp, c2 * sizeof *t2) : NULL;
        if (!t2)
            return F->oom = 1, -1;
        F->ptyp = t2, F->pcap = c2;
    }
    F->poff[F->pn] = off, F->ppos[F->pn] = pos, F->ptyp[F->pn] = typ;
    F->pn++;
    return 0;
}

/* WordNet's lexicographer files of noun senses that aerial imagery can show: artifacts,
 * locations, natural objects, plants, substances, shapes ("noun.artifact", ...). A word
 * whose first sense is a person, an act, a feeling or a time ("hatter", "meanwhile") is
 * not taken for a word of the captions by pass 6. */
static int visible_lexfile(int fnum)
{
    static const char *const seen[] = {"noun.artifact", "noun.location", "noun.object",
                                       "noun.plant", "noun.substance", "noun.shape"};
    if (fnum < 0 || fnum > 44 || !lexfiles[fnum]) /* lexnames(5WN): 45 files in WordNet 3.0 */
        return 0;
    for (size_t i = 0; i < sizeof seen / sizeof *seen; i++)
        if (!strcmp(lexfiles[fnum], seen[i]))
            return 1;
    return 0;
}

/* every synset of part of speech pos, in file order, into F */
static void far_read(far *F, const table *t, const wordset *nouns, const wordset *adjs, int pos)
{
    FILE *f = datafps[pos];
    if (!f || fseek(f, 0, SEEK_SET))
        return;
    char line[512];
    while (!F->oom) {
        long off = ftell(f);
        int c = fgetc(f);
        if (c == EOF)
            break;
        if (c == ' ') { /* the licence at the top */
            while (fgets(line, sizeof line, f) && !strchr(line, '\n'))
                ;
            continue;
        }
        if (fseek(f, off, SEEK_SET))
            break;
        SynsetPtr s = parse_synset(f, pos, NULL);
        if (!s)
            break;
        if (F->n[pos] == F->cap[pos]) {
            size_t c2 = F->cap[pos] ? 2 * F->cap[pos] : 4096;
            far_syn *s2 = realloc(F->s[pos], c2 * sizeof *s2);
            if (!s2) {
                F->oom = 1;
                free_synset(s);
                break;
            }
            F->s[pos] = s2, F->cap[pos] = c2;
        }
        far_syn *x = &F->s[pos][F->n[pos]++];
        x->off = s->hereiam;
        x->r0 = resolve_vocab_synset(t, s);
        int open = pos == NOUN || pos == ADJ;
        /* a proper name ("Algeria", "Ontario": WordNet writes it capitalised) is one place,
         * not a kind of thing the imagery shows */
        x->seen = pos == NOUN && visible_lexfile(s->fnum) && s->wcount > 0 && s->words[0][0] &&
                  !(s->words[0][0] >= 'A' && s->words[0][0] <= 'Z') && !offensive_gloss(s->defn);
        x->ngloss = x->seen ? gloss_nouns(t, nouns, adjs, s->defn, x->gloss) : 0;
        x->ptr = F->pn;
        x->nptr = 0;
        for (int j = 0; open && j < s->ptrcount && !F->oom; j++) {
            int k = s->ptrtyp[j];
            if ((k == DERIVATION || k == PERTPTR || k == SIMPTR || k == HYPERPTR ||
                 (k == HASPARTPTR && pos == NOUN)) &&
                !far_push_ptr(F, s->ptroff[j], s->ppos[j], k))
                x->nptr++;
        }
        free_synset(s);
    }
}

typedef struct far_words {
    table *t;
    wordset nouns, adjs;
    wordlist l; /* val: the word's first sense */
} far_words;

/* WordNet's noun phrase w ("landing_strip") as a key ("landing strip") in out: of 2 or 3
 * plain words whose last word is neither a vocabulary word nor a noun form of one (the
 * model reads those word by word, as its captions taught it: "tennis court", "tank farm"
 * -> "tank" "farmland"; a phrase is known by its hypernym, which is broader: "area") */
static int far_phrase(const table *t, const char *w, char *out, size_t cap)
{
    if (!strchr(w, '_') || strlen(w) >= cap || strlen(w) >= 40)
        return 0;
    snprintf(out, cap, "%s", w);
    for (char *c = out; *c; c++)
        if (*c == '_')
            *c = ' ';
    if (!plain_key(out))
        return 0;
    size_t sl = slot_of(t, strrchr(out, ' ') + 1);
    return !(t->keys[sl] && t->noun[sl]);
}

static int far_collect(IndexPtr ix, int pos, void *arg)
{
    far_words *c = arg;
    char key[48];
    if (pos == NOUN && ix->off_cnt > 0 && far_phrase(c->t, ix->wd, key, sizeof key))
        return taken(c->t, key) ? 0 : wordlist_push(&c->l, key, pos, (long)ix->offset[0]);
    if (!plain_word(ix->wd) || strlen(ix->wd) < 3 || ix->off_cnt <= 0)
        return 0;
    if (wordset_add(pos == NOUN ? &c->nouns : &c->adjs, ix->wd, (long)ix->offset[0]))
        return DUCH_NOMEM;
    if (taken(c->t, ix->wd) || is_function_word(ix->wd))
        return 0;
    return wordlist_push(&c->l, ix->wd, pos, (long)ix->offset[0]);
}

/* Pass 6: the nouns and adjectives of WordNet that no earlier pass claimed (and a noun's
 * regular plural), taken for what their first sense stands for (far_target); the rest
 * stay unknown. The targets are found before any claim, as in pass 5. */
static int claim_far(table *t)
{
    far F = {0};
    far_words c = {.t = t};
    static const char *const sites[] = {"facility", "geographical_area", "tract", "area"};
    for (int i = 0; i < 4; i++) {
        IndexPtr ix = index_lookup((char *)sites[i], NOUN);
        F.site[i] = ix && ix->off_cnt > 0 ? (long)ix->offset[0] : -1;
        if (ix)
            free_index(ix);
    }
    int rc = DUCH_OK;
    static const int parts[] = {NOUN, ADJ};
    for (int p = 0; p < 2 && rc == DUCH_OK; p++)
        rc = index_each(parts[p], far_collect, &c);
    wordset nouns = c.nouns, adjs = c.adjs;
    char **word = c.l.word;
    long *first = c.l.val;
    int *wpos = c.l.wpos;
    size_t n = c.l.n;
    static const int all[] = {NOUN, VERB, ADJ, ADV};
    for (int p = 0; p < 4 && rc == DUCH_OK; p++)
        far_read(&F, t, &nouns, &adjs, all[p]);
    if (F.oom)
        rc = DUCH_NOMEM;
    int *target = rc == DUCH_OK ? malloc((n ? n : 1) * sizeof *target) : NULL;
    if (!target)
        rc = DUCH_NOMEM;
    for (size_t i = 0; rc == DUCH_OK && i < n; i++) {
        const far_syn *x = far_find(&F, wpos[i], first[i]);
        target[i] = x ? far_target(&F, x, t->ncaption, !strchr(word[i], ' ')) : -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == DUCH_OK && target[i] >= 0) {
            const char *to = t->vocab[target[i]];
            char pl[72];
            if (strchr(word[i], ' '))
                claim_forms(t, word[i], to); /* "landing strips", no "ace of diamondses" */
            else
                claim(t, word[i], to);
            if (wpos[i] == NOUN && !strchr(word[i], ' ') && regular_plural(word[i], pl, 64))
                claim(t, pl, to);
        }
    }
    free(target);
    wordlist_free(&c.l);
    for (int p = 0; p <= NUMPARTS; p++)
        free(F.s[p]);
    free(F.poff), free(F.ppos), free(F.ptyp);
    wordset_free(&nouns);
    wordset_free(&adjs);
    return t->oom ? DUCH_NOMEM : rc;
}

/* What the table reads a word of synset s as: the first word of s that is a vocabulary
 * word or an alias of passes 1 to 4 that stands for one (a looser alias would make two
 * loose steps; with tight set, a noun form of one only: "farm" -> "farmland"); its target
 * text, or NULL. Not a proper name ("Aristotelian"). */
static const char *synset_reading(const table *t, SynsetPtr s, int tight)
{
    for (int i = 0; s && i < s->wcount; i++) {
        char w[64];
        snprintf(w, sizeof w, "%s", s->words[i]);
        for (char *c = w; *c; c++)
            *c = *c == '_' ? ' ' : (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
        size_t sl = slot_of(t, w);
        if (!t->keys[sl] || !(tight ? t->noun[sl] : t->close[sl]) || is_function_word(w) ||
            (s->words[i][0] >= 'A' && s->words[i][0] <= 'Z'))
            continue;
        const char *to = t->at[sl] ? t->to[t->at[sl] - 1] : t->keys[sl];
        if (*to)
            return to;
    }
    return NULL;
}

typedef struct pert_words {
    table *t;
    wordlist l; /* val: the first sense */
} pert_words;

static int pert_collect(IndexPtr ix, int pos, void *arg)
{
    pert_words *c = arg;
    (void)pos;
    if (!plain_word(ix->wd) || strlen(ix->wd) < 3 || ix->off_cnt <= 0 || taken(c->t, ix->wd) ||
        is_function_word(ix->wd))
        return 0;
    for (int k = 0; k < ix->off_cnt && k < 2; k++)
        if (wordlist_push(&c->l, ix->wd, ADJ, (long)ix->offset[k]))
            return DUCH_NOMEM;
    return 0;
}

/* Pass 6b: an adjective that no pass claimed, by the noun one of its first two senses
 * pertains to (WordNet's pertainym: "suburban" -> "suburb", "rural" -> "rural area",
 * "agricultural" -> "farming"), as the table reads that noun when it is a visible thing
 * (visible_lexfile; not "testicular" -> "testis"), else as it reads a word derived from
 * the noun that is a vocabulary word or a noun form of one ("farming" -> "farm" ->
 * "farmland"). The targets are found before any claim, as in passes 5 and 6. */
static int claim_pertainyms(table *t)
{
    pert_words c = {.t = t};
    int rc = index_each(ADJ, pert_collect, &c);
    char **target = rc == DUCH_OK ? calloc(c.l.n ? c.l.n : 1, sizeof *target) : NULL;
    if (!target)
        rc = DUCH_NOMEM;
    for (size_t i = 0; rc == DUCH_OK && i < c.l.n; i++) {
        if (i > 0 && !strcmp(c.l.word[i - 1], c.l.word[i]) && target[i - 1])
            continue; /* its first sense gave one */
        SynsetPtr s = read_synset(ADJ, c.l.val[i], NULL);
        const char *to = NULL;
        for (int j = 0; s && j < s->ptrcount && !to; j++) {
            if (s->ptrtyp[j] != PERTPTR || s->ppos[j] != NOUN)
                continue;
            SynsetPtr n = read_synset(NOUN, s->ptroff[j], NULL);
            if (n && visible_lexfile(n->fnum))
                to = synset_reading(t, n, 0);
            for (int k = 0; n && k < n->ptrcount && !to; k++) {
                if (n->ptrtyp[k] != DERIVATION)
                    continue;
                SynsetPtr d = read_synset(n->ppos[k], n->ptroff[k], NULL);
                to = synset_reading(t, d, 1);
                if (d)
                    free_synset(d);
            }
            if (n)
                free_synset(n);
        }
        if (s)
            free_synset(s);
        if (to && !(target[i] = strdup(to)))
            rc = DUCH_NOMEM;
    }
    for (size_t i = 0; rc == DUCH_OK && i < c.l.n; i++)
        if (target[i])
            claim(t, c.l.word[i], target[i]);
    for (size_t i = 0; target && i < c.l.n; i++)
        free(target[i]);
    free(target);
    wordlist_free(&c.l);
    return t->oom ? DUCH_NOMEM : rc;
}

/* the words pass 7 collects: WordNet's single words that a query would take for a slip
 * of an alias */
typedef struct slip_words {
    table *t;
    const char **cand;
    size_t *clen, n;
    wordlist l;
} slip_words;

static int slip_collect(IndexPtr ix, int pos, void *arg)
{
    slip_words *c = arg;
    size_t n = strlen(ix->wd);
    if (n < DUCH_ALIAS_SLIP_MIN || !plain_word(ix->wd) || taken(c->t, ix->wd) ||
        duch_alias_nearest(ix->wd, n, c->cand, c->clen, c->n) < 0)
        return 0;
    return wordlist_push(&c->l, ix->wd, pos, 0);
}

/* Pass 7: the single words of WordNet, not yet claimed, within duch_alias_nearest's reach
 * of an alias: blocked, so that a query ignores them ("carpenter" is no slip of an alias
 * one letter away). The candidates are the table's aliases as the encoders see them. */
static int claim_alias_slips(table *t)
{
    slip_words c = {.t = t};
    c.cand = malloc((t->n ? t->n : 1) * sizeof *c.cand);
    c.clen = malloc((t->n ? t->n : 1) * sizeof *c.clen);
    int rc = c.cand && c.clen ? DUCH_OK : DUCH_NOMEM;
    for (size_t i = 0; rc == DUCH_OK && i < t->n; i++)
        if (*t->to[i] && !strchr(t->from[i], ' ') && strlen(t->from[i]) + 1 >= DUCH_ALIAS_SLIP_MIN) {
            c.cand[c.n] = t->from[i];
            c.clen[c.n++] = strlen(t->from[i]);
        }
    static const int parts[] = {NOUN, VERB, ADJ, ADV};
    for (int p = 0; p < 4 && rc == DUCH_OK; p++)
        rc = index_each(parts[p], slip_collect, &c);
    for (size_t i = 0; rc == DUCH_OK && i < c.l.n; i++)
        claim(t, c.l.word[i], "");
    wordlist_free(&c.l);
    free(c.cand), free(c.clen);
    return t->oom ? DUCH_NOMEM : rc;
}

/* The vocabulary's phrases: the word pairs and triples of the captions that are WordNet
 * noun phrases ("mobile homes" -> "mobile_home", "parking lot") whose words are caption
 * words (the first not a closed-class word) and whose first sense is a thing imagery shows
 * (visible_lexfile; not a proper name). They are claimed for like caption words, as phrase
 * targets ("trailer" -> "mobile home", "car park" -> "parking lot"). */
static int caption_word(const table *t, int ncaption, const char *w, size_t n)
{
    char part[40];
    if (n == 0 || n >= sizeof part)
        return 0;
    memcpy(part, w, n);
    part[n] = 0;
    size_t s = slot_of(t, part);
    int r = t->keys[s] ? t->rank[s] : -1;
    return r >= 0 && r < ncaption && !strcmp(t->vocab[r], part);
}

/* phrase "a b" of the captions as WordNet's noun phrase "a_b" (its base form: "mobile
 * homes" -> "mobile_home") into out, when it is one of the vocabulary's phrases */
static int caption_phrase(const table *t, int ncaption, const char *phrase, char *out, size_t cap)
{
    char w[48];
    if (strlen(phrase) >= sizeof w - 1)
        return 0;
    snprintf(w, sizeof w, "%s", phrase);
    for (char *c = w; *c; c++)
        if (*c == ' ')
            *c = '_';
    IndexPtr ix = index_lookup(w, NOUN);
    if (!ix) {
        char *m = morphstr(w, NOUN);
        if (!m || strlen(m) >= sizeof w)
            return 0;
        snprintf(w, sizeof w, "%s", m);
        ix = index_lookup(w, NOUN);
    }
    if (!ix)
        return 0;
    long first = ix->off_cnt > 0 ? (long)ix->offset[0] : -1;
    free_index(ix);
    int parts = 0;
    char head[40] = "";
    for (const char *p = w; *p;) {
        size_t n = strcspn(p, "_");
        if (++parts > 3 || !caption_word(t, ncaption, p, n))
            return 0;
        if (parts == 1)
            snprintf(head, sizeof head, "%.*s", (int)n, p);
        p += n;
        if (*p == '_')
            p++;
    }
    /* "parking lot" ("lot" is a closed-class word too), not "lots of cars" */
    if (parts < 2 || first < 0 || is_function_word(head))
        return 0;
    SynsetPtr s = read_synset(NOUN, first, NULL);
    int ok = s && visible_lexfile(s->fnum) && s->wcount > 0 &&
             !(s->words[0][0] >= 'A' && s->words[0][0] <= 'Z');
    if (s)
        free_synset(s);
    if (ok)
        snprintf(out, cap, "%s", w);
    return ok;
}

/* the first noun sense of w is a visible thing (visible_lexfile), not a proper name */
static int visible_noun(const char *w)
{
    IndexPtr ix = index_lookup((char *)w, NOUN);
    if (!ix)
        return 0;
    long first = ix->off_cnt > 0 ? (long)ix->offset[0] : -1;
    free_index(ix);
    SynsetPtr s = first >= 0 ? read_synset(NOUN, first, NULL) : NULL;
    int ok = s && visible_lexfile(s->fnum) && s->wcount > 0 &&
             !(s->words[0][0] >= 'A' && s->words[0][0] <= 'Z');
    if (s)
        free_synset(s);
    return ok;
}

/* Pass 1b: a caption word that is a closed compound of two WordNet nouns ("farmland" =
 * "farm" + "land", "cropland", which WordNet lacks) claims its first part, when that is a noun of a visible
 * thing: a user who types the modifier ("farm", "crops") means the compound the captions
 * say. The head ("land") is a broader kind and is not claimed. */
static void claim_compounds(table *t, int ncaption)
{
    for (int i = 0; i < ncaption && !t->oom; i++) {
        const char *v = t->vocab[i];
        size_t n = strlen(v);
        if (n < 6 || n >= 40 || is_function_word(v))
            continue;
        char base[64];
        base_form(v, NOUN, base, sizeof base);
        /* a noun, or a compound WordNet lacks ("cropland"); not a verb, adjective or
         * adverb form ("withered" is not "withe" + "red") */
        IndexPtr vx = index_lookup(base, NOUN);
        int noun = vx != NULL;
        if (vx)
            free_index(vx);
        int other = 0;
        static const int others[] = {VERB, ADJ, ADV};
        for (int p = 0; p < 3 && !noun && !other; p++) {
            char *mo = morphstr((char *)v, others[p]);
            IndexPtr ox = index_lookup(mo ? mo : (char *)v, others[p]);
            other = ox != NULL;
            if (ox)
                free_index(ox);
        }
        if (other)
            continue;
        for (size_t k = 3; k + 3 <= strlen(base); k++) {
            char a[40], b[40];
            snprintf(a, sizeof a, "%.*s", (int)k, base);
            snprintf(b, sizeof b, "%s", base + k);
            IndexPtr bx = index_lookup(b, NOUN);
            if (!bx)
                continue;
            free_index(bx);
            if (!taken(t, a) && !is_function_word(a) && visible_noun(a))
                claim_forms(t, a, v);
        }
    }
}

/* "mobile_home" -> "mobile home" */
static void phrase_text(const char *w, char *out, size_t cap)
{
    snprintf(out, cap, "%s", w);
    for (char *c = out; *c; c++)
        if (*c == '_')
            *c = ' ';
}

/* a word (base form) of one of the vocabulary's phrases (WordNet's form, "mobile_home") */
static int phrase_part(char *const *phw, size_t nph, const char *base)
{
    size_t n = strlen(base);
    for (size_t i = 0; i < nph; i++)
        for (const char *a = phw[i]; *a;) {
            const char *b = strchr(a, '_');
            size_t m = b ? (size_t)(b - a) : strlen(a);
            if (m == n && !strncmp(a, base, n))
                return 1;
            a = b ? b + 1 : a + m;
        }
    return 0;
}

/* the noun sense of base (its base form) that is the sense of a vocabulary phrase it ends
 * ("tank" of "storage tank": WordNet lists "storage tank" among the words of that sense,
 * the second, whose first is an army tank), or 0 */
static int phrase_sense(char *const *phw, size_t nph, const char *base)
{
    size_t n = strlen(base);
    for (size_t i = 0; i < nph; i++) {
        size_t m = strlen(phw[i]);
        if (m <= n + 1 || strcmp(phw[i] + m - n, base) || phw[i][m - n - 1] != '_')
            continue;
        SynsetPtr ss = findtheinfo_ds((char *)base, NOUN, SYNS, ALLSENSES);
        int k = 0, found = 0;
        for (SynsetPtr x = ss; x && !found; x = x->nextss) {
            k++;
            for (int j = 0; j < x->wcount && !found; j++)
                found = !strcasecmp(x->words[j], phw[i]);
        }
        if (ss)
            free_syns(ss);
        if (found)
            return k;
    }
    return 0;
}

/* the caption words bound to a vocabulary phrase, from the captions' word pairs (one per
 * occurrence): of a word's occurrences as the first (second) word of a pair, 9 in 10 or
 * more are in pairs that are vocabulary phrases, of 10 at least. asked: each distinct
 * candidate, val 1 when it is one (caption_phrase, asked once when the phrases were read) */
static int bound_words(table *t, const char *const *phrases, int nphrases, const wordset *asked,
                       int ncaption, unsigned char *bnd)
{
    long *cnt = calloc((size_t)ncaption * 4, sizeof *cnt); /* per word: all 1st, in 1st, all 2nd, in 2nd */
    if (!cnt)
        return DUCH_NOMEM;
    for (int i = 0; i < nphrases; i++) {
        const char *p = phrases[i], *sp = p ? strchr(p, ' ') : NULL;
        if (!sp || strchr(sp + 1, ' ') || (size_t)(sp - p) >= 40 || strlen(sp + 1) >= 40)
            continue; /* pairs only */
        char a[40], b[40];
        snprintf(a, sizeof a, "%.*s", (int)(sp - p), p);
        snprintf(b, sizeof b, "%s", sp + 1);
        int in = wordset_has(asked, p) && asked->val[wordset_slot(asked, p)];
        for (int side = 0; side < 2; side++) {
            size_t sl = slot_of(t, side ? b : a);
            int r = t->keys[sl] ? t->rank[sl] : -1;
            if (r < 0 || r >= ncaption || strcmp(t->vocab[r], side ? b : a))
                continue;
            cnt[4 * r + 2 * side]++;
            cnt[4 * r + 2 * side + 1] += in;
        }
    }
    for (int r = 0; r < ncaption; r++)
        for (int side = 0; side < 2; side++) {
            long all = cnt[4 * r + 2 * side], in = cnt[4 * r + 2 * side + 1];
            if (all >= 10 && 10 * in >= 9 * all)
                bnd[r] = 1;
        }
    free(cnt);
    return DUCH_OK;
}

/* WordNet's word x (lower-cased into lower, 64 bytes) in a caption word's number (plural
 * or not) into form (72 bytes): 1 when it is a plain word other than base and that form is
 * a caption word */
static int caption_form(const table *t, int ncaption, const char *x, const char *base, int plural,
                        char *lower, char *form)
{
    snprintf(lower, 64, "%s", x);
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    if (!plain_word(lower) || !strcmp(lower, base))
        return 0;
    if (plural ? !regular_plural(lower, form, 64) : !snprintf(form, 72, "%s", lower))
        return 0;
    return caption_word(t, ncaption, form, strlen(form));
}

/* Pass 8: a caption word bound to a vocabulary phrase (nearly all its occurrences are in
 * it: "home", "homes" of "mobile home"; not "area", free in 3 of 10) learnt its meaning
 * inside the phrase; standing alone in a query it means what
 * WordNet says. When one of its first two noun senses or their direct hyponyms holds a
 * caption word of its number that is no word of a vocabulary phrase ("home" -> dwelling
 * -> "house"), the word alone is taken for that one, and the phrase, as a key of its
 * own words, keeps them ("mobile home" -> "mobile home"). */
static void claim_phrase_parts(table *t, char *const *phw, size_t nph, int ncaption,
                               const unsigned char *bound)
{
    for (int i = 0; i < ncaption && !t->oom; i++) {
        const char *v = t->vocab[i];
        char base[64], to[72] = "";
        if (!bound[i] || is_function_word(v) || strlen(v) >= 48)
            continue;
        base_form(v, NOUN, base, sizeof base);
        if (!phrase_part(phw, nph, base))
            continue;
        int plural = strcmp(base, v) != 0;
        for (int sense = 1; sense <= 2 && !*to; sense++) {
            SynsetPtr ss = findtheinfo_ds(base, NOUN, HYPOPTR, sense);
            for (SynsetPtr s = ss; s && !*to; s = s->nextss)
                for (SynsetPtr h = s; h && !*to; h = h == s ? s->ptrlist : h->nextss)
                    for (int k = 0; k < h->wcount && !*to; k++) {
                        char x[64], form[72];
                        if (caption_form(t, ncaption, h->words[k], base, plural, x, form) &&
                            !phrase_part(phw, nph, x))
                            snprintf(to, sizeof to, "%s", form);
                    }
            if (ss)
                free_syns(ss);
        }
        if (!*to)
            continue;
        append_entry(t, v, to);
        for (size_t k = 0; k < nph && !t->oom; k++) { /* its phrases keep their words */
            char key[48];
            phrase_text(phw[k], key, sizeof key);
            int has = phrase_part(phw + k, 1, base), dup = 0;
            for (size_t j = 0; j < t->n && !dup; j++)
                dup = !strcmp(t->from[j], key);
            if (has && !dup && !taken(t, key))
                append_entry(t, key, key);
        }
    }
}

/* a target of pass 9 for a rare caption word (its number: plural or not): the form of
 * WordNet's word x in that number, when it is a caption word other than base that is
 * neither rare nor a modifier nor a closed-class word; to gets it */
static int rare_target(const table *t, int ncaption, const unsigned char *role, const char *x,
                       const char *base, int plural, char *to, size_t tolen)
{
    char w[64], form[72];
    if (!caption_form(t, ncaption, x, base, plural, w, form) || is_function_word(form))
        return 0;
    int r = t->rank[slot_of(t, form)];
    if (role[r] & (DUCH_WN_RARE | DUCH_WN_MODIFIER))
        return 0;
    snprintf(to, tolen, "%s", form);
    return 1;
}

/* the first rare_target among the words of synset s, or (rel: a pointer type) of the
 * synsets it points to by rel, `depth` steps (1 or 2) */
static int rare_target_in(const table *t, int ncaption, const unsigned char *role, SynsetPtr s,
                          int rel, int depth, const char *base, int plural, char *to, size_t tolen)
{
    if (depth == 0) {
        for (int k = 0; k < s->wcount; k++)
            if (rare_target(t, ncaption, role, s->words[k], base, plural, to, tolen))
                return 1;
        return 0;
    }
    int found = 0;
    for (int k = 0; k < s->ptrcount && !found; k++) {
        if (s->ptrtyp[k] != rel || s->ppos[k] != NOUN)
            continue;
        SynsetPtr h = read_synset(NOUN, s->ptroff[k], "");
        if (h)
            found = rare_target_in(t, ncaption, role, h, rel, depth - 1, base, plural, to, tolen);
        if (h)
            free_synset(h);
    }
    return found;
}

/* Pass 9: a caption noun of a visible thing that the captions use rarely (DUCH_WN_RARE:
 * "junction", "highway", a few times in thousands of captions) learnt little of its own;
 * alone in a query it is read as the first frequent caption word WordNet relates it to:
 * of its first two noun senses in turn, the words of the sense, of its direct hyponyms,
 * then of its hypernyms one and two levels up ("junction" -> hyponym "intersection",
 * "highway" -> hypernym "road"), in its number. Not a modifier, nor a word of one of the
 * vocabulary's phrases (pass 8 reads those). Like pass 8, the key is a vocabulary word,
 * which both encoders read as this alias first. */
static void claim_rare_nouns(table *t, char *const *phw, size_t nph, int ncaption,
                             const unsigned char *role)
{
    for (int i = 0; i < ncaption && !t->oom; i++) {
        const char *v = t->vocab[i];
        if (!(role[i] & DUCH_WN_RARE) || (role[i] & DUCH_WN_MODIFIER) || is_function_word(v) ||
            strlen(v) >= 48)
            continue;
        char base[64], to[72] = "";
        base_form(v, NOUN, base, sizeof base);
        if (!visible_noun(base) || phrase_part(phw, nph, base))
            continue;
        int plural = strcmp(base, v) != 0;
        IndexPtr ix = index_lookup(base, NOUN);
        for (int sense = 0; ix && sense < 2 && sense < ix->off_cnt && !*to; sense++) {
            SynsetPtr s = read_synset(NOUN, ix->offset[sense], "");
            if (!s)
                continue;
            if (!rare_target_in(t, ncaption, role, s, HYPOPTR, 0, base, plural, to, sizeof to) &&
                !rare_target_in(t, ncaption, role, s, HYPOPTR, 1, base, plural, to, sizeof to) &&
                !rare_target_in(t, ncaption, role, s, HYPERPTR, 1, base, plural, to, sizeof to))
                rare_target_in(t, ncaption, role, s, HYPERPTR, 2, base, plural, to, sizeof to);
            free_synset(s);
        }
        if (ix)
            free_index(ix);
        if (*to)
            append_entry(t, v, to);
    }
}

/* pass 2: the words of sense `sense` of word (part of speech pos) for target; pass 3:
 * the words of its direct hyponyms */
#define LEX_NOUN_ACT 4       /* WordNet's lexicographer file noun.act: "swimming" */
#define LEX_NOUN_ATTRIBUTE 7 /* noun.attribute: colours, shapes */

/* a noun sense a modifier keeps: the quality it names ("navy" -> "blue") or the activity
 * ("swimming" of "swimming pool" -> "diving"); not a person ("white", "straight", "regular")
 * nor a thing ("medium" as film, "round" as ammunition) */
static int modifier_sense(const SynsetPtr s)
{
    return s->fnum == LEX_NOUN_ATTRIBUTE || s->fnum == LEX_NOUN_ACT;
}

static void claim_related(table *t, const char *word, int pos, int sense, int pass, const char *target)
{
    SynsetPtr ss = findtheinfo_ds((char *)word, pos, HYPOPTR, sense);
    for (SynsetPtr s = ss; s; s = s->nextss) {
        if (t->attr_only && !modifier_sense(s))
            continue;
        if (pass == 2)
            claim_synset(t, s, target);
        else
            for (SynsetPtr h = s->ptrlist; h; h = h->nextss)
                claim_synset(t, h, target);
    }
    if (ss)
        free_syns(ss);
}

int duch_wn_modifiers(const char *const *vocab, int ncaption, const char *const *pairs, int npairs,
                      unsigned char *modifier, char *err, size_t errlen)
{
    memset(modifier, 0, (size_t)(ncaption > 0 ? ncaption : 0));
    if (wninit() != 0) {
        snprintf(err, errlen, "WordNet's database cannot be opened (Debian: apt-get install"
                 " wordnet-base; WNHOME or WNSEARCHDIR say where it is)");
        return DUCH_NOTFOUND;
    }
    wordset idx = {0};
    /* per word: as the first word of a pair, of those before a content word, as the second */
    long *cnt = calloc((size_t)(ncaption > 0 ? ncaption : 1) * 3, sizeof *cnt);
    int rc = cnt ? DUCH_OK : DUCH_NOMEM;
    for (int i = 0; rc == DUCH_OK && i < ncaption; i++)
        if (wordset_add(&idx, vocab[i], i))
            rc = DUCH_NOMEM;
    for (int i = 0; rc == DUCH_OK && i < npairs; i++) {
        const char *p = pairs[i], *sp = p ? strchr(p, ' ') : NULL;
        if (!sp || strchr(sp + 1, ' ') || sp - p >= 64)
            continue; /* pairs only */
        char a[64];
        snprintf(a, sizeof a, "%.*s", (int)(sp - p), p);
        if (wordset_has(&idx, sp + 1))
            cnt[3 * idx.val[wordset_slot(&idx, sp + 1)] + 2]++;
        if (!wordset_has(&idx, a))
            continue;
        long r = idx.val[wordset_slot(&idx, a)];
        cnt[3 * r]++;
        cnt[3 * r + 1] += !is_function_word(sp + 1);
    }
    for (int r = 0; rc == DUCH_OK && r < ncaption; r++) {
        char w[64];
        snprintf(w, sizeof w, "%s", vocab[r]);
        long all = cnt[3 * r], before = cnt[3 * r + 1], second = cnt[3 * r + 2];
        if (is_function_word(w))
            continue;
        if (all >= 10 && 10 * before >= 9 * all && (in_wn(w, ADJ) || morphstr(w, ADJ)) &&
            (in_wn(w, NOUN) || morphstr(w, NOUN)))
            modifier[r] |= DUCH_WN_MODIFIER;
        if (all < 10 && second < 10)
            modifier[r] |= DUCH_WN_RARE;
    }
    free(cnt);
    wordset_free(&idx);
    if (rc == DUCH_NOMEM)
        snprintf(err, errlen, "out of memory finding the captions' modifiers");
    return rc;
}

int duch_wn_aliases(const char *const *vocab, int nvocab, int ncaption, const char *const *phrases,
                    int nphrases, const char *const *bound, int nbound, const unsigned char *modifier,
                    int senses, duch_wn_alias **out,
                    int *nout, char ***kept, int *nkept, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    if (kept)
        *kept = NULL, *nkept = 0;
    if (wninit() != 0) {
        snprintf(err, errlen, "WordNet's database cannot be opened (Debian: apt-get install"
                 " wordnet-base; WNHOME or WNSEARCHDIR say where it is)");
        return DUCH_NOTFOUND;
    }
    table t = {0};
    char **phw = NULL; /* the vocabulary's phrases in WordNet's form, "mobile_home" */
    int *hsense = NULL; /* per caption word: the noun sense its phrase holds, or 0 */
    wordset asked = {0}; /* the distinct phrase candidates; val: one of the phrases */
    size_t nph = 0;
    t.cap = 400000;
    t.nslots = 1u << 21;
    t.from = malloc(t.cap * sizeof *t.from);
    t.to = malloc(t.cap * sizeof *t.to);
    t.keys = calloc(t.nslots, sizeof *t.keys);
    t.rank = calloc(t.nslots, sizeof *t.rank);
    t.noun = calloc(t.nslots, 1);
    t.at = calloc(t.nslots, sizeof *t.at);
    t.close = calloc(t.nslots, 1);
    char **vcopy = calloc((size_t)nvocab, sizeof *vcopy);
    int rc = DUCH_OK;
    if (!t.from || !t.to || !t.keys || !t.rank || !t.noun || !t.at || !t.close || !vcopy) {
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
        t.noun[s] = 1;
        t.close[s] = 1;
        t.vocab = vcopy;
    }
    static const int pos_order[] = {NOUN, ADJ, VERB};
    if (ncaption <= 0 || ncaption > nvocab)
        ncaption = nvocab;
    t.ncaption = ncaption;
    t.close_pass = 1; /* passes 1 to 4 */
    /* 1. inflections */
    for (int i = 0; i < nvocab; i++)
        for (int p = 0; p < 3; p++) {
            char *m = morphstr(vcopy[i], pos_order[p]), base[64];
            /* a copy: morphstr's buffer does not survive claim_forms' own calls to it
             * (then "docked" -> "dock" claimed no "docks") */
            snprintf(base, sizeof base, "%s", m ? m : "");
            t.noun_pass = p == 0;
            if (m && strcmp(base, vcopy[i]))
                claim_forms(&t, base, vcopy[i]);
            if (p == 0)
                claim_forms(&t, vcopy[i], vcopy[i]); /* its own plurals */
            t.noun_pass = 0;
        }
    /* the vocabulary's phrases, claimed for after its words in passes 2 to 4 */
    phw = calloc((size_t)(nphrases > 0 ? nphrases : 1), sizeof *phw);
    if (!phw) {
        rc = DUCH_NOMEM;
        goto finish;
    }
    for (int i = 0; i < nphrases; i++) {
        char w[48];
        int dup = 0;
        if (!phrases[i] || wordset_has(&asked, phrases[i]))
            continue; /* one per occurrence is given: WordNet is asked once a candidate */
        int ok = caption_phrase(&t, ncaption, phrases[i], w, sizeof w);
        if (wordset_add(&asked, phrases[i], ok)) {
            rc = DUCH_NOMEM;
            goto finish;
        }
        if (!ok)
            continue;
        for (size_t k = 0; k < nph && !dup; k++)
            dup = !strcmp(phw[k], w);
        if (!dup && !(phw[nph++] = strdup(w))) {
            rc = DUCH_NOMEM;
            goto finish;
        }
    }
    /* a caption noun that ends a vocabulary phrase follows the phrase's sense alone in
     * passes 2 to 4 ("vehicle" is no "tank" in "storage tanks") */
    hsense = calloc((size_t)ncaption, sizeof *hsense);
    if (!hsense) {
        rc = DUCH_NOMEM;
        goto finish;
    }
    for (int i = 0; i < ncaption; i++) {
        char base[64];
        base_form(vcopy[i], NOUN, base, sizeof base);
        hsense[i] = phrase_sense(phw, nph, base);
    }
    /* 1b. the first part of a caption word that is a closed compound ("farm" -> "farmland") */
    t.noun_pass = 1;
    claim_compounds(&t, ncaption);
    t.noun_pass = 0;
    /* 2. synonyms of the first senses, 3. direct hyponyms of the noun senses (of caption
     * words only: a stand-in is one loose step from a caption word already, and the kinds
     * of its senses drift: the hyponyms of "person", a stand-in of "white"); then the same
     * for the vocabulary's phrases, whose synonyms and kinds may be phrases ("parking lot"
     * -> "car park") */
    for (int pass = 2; pass <= 3; pass++)
        for (int sense = 1; sense <= senses; sense++) {
            for (int i = 0; i < nvocab; i++)
                for (int p = 0; p < (pass == 2 ? 3 : 1) && !is_function_word(vcopy[i]) &&
                                (pass == 2 || i < ncaption); p++) {
                    int hs = p == 0 && i < ncaption ? hsense[i] : 0;
                    if (hs && sense > 1)
                        continue;
                    char base[64];
                    base_form(vcopy[i], pos_order[p], base, sizeof base);
                    t.verbs = pos_order[p] == VERB;
                    /* a modifier's nouns are its colours ("navy" -> "blue"), not a white
                     * person or "medium" as a film */
                    t.attr_only = p == 0 && i < ncaption && modifier && (modifier[i] & DUCH_WN_MODIFIER);
                    claim_related(&t, base, pos_order[p], hs ? hs : sense, pass, vcopy[i]);
                    t.verbs = t.attr_only = 0;
                }
            t.phrases = 1;
            for (size_t i = 0; i < nph; i++) {
                char target[48];
                phrase_text(phw[i], target, sizeof target);
                claim_related(&t, phw[i], NOUN, sense, pass, target);
            }
            t.phrases = 0;
        }
    /* 4. the words of the hypernyms of the first noun sense, up to three levels up
     * (more general kinds: "airplane" -> "heavier-than-air craft" -> "aircraft"); a user
     * who types the general word over this imagery means the kinds the model knows.
     * Nearer levels first, and at each level the more frequent vocabulary word, then the
     * phrases ("mobile home" -> "trailer"). */
    for (int level = 1; level <= 3; level++) {
        for (int i = 0; i < nvocab; i++) {
            if (is_function_word(vcopy[i]))
                continue; /* "there" is a noun too, but no target for "location" */
            char base[64];
            base_form(vcopy[i], NOUN, base, sizeof base);
            SynsetPtr ss = findtheinfo_ds(base, NOUN, HYPERPTR, i < ncaption && hsense[i] ? hsense[i] : 1);
            if (ss && i < ncaption && modifier && (modifier[i] & DUCH_WN_MODIFIER) && !modifier_sense(ss)) {
                free_syns(ss); /* "medium": no broader kinds of a vehicle */
                ss = NULL;
            }
            if (ss)
                claim_hypernyms(&t, ss, level, vcopy[i]);
            if (ss)
                free_syns(ss);
        }
        t.phrases = 1;
        for (size_t i = 0; i < nph; i++) {
            char target[48];
            phrase_text(phw[i], target, sizeof target);
            SynsetPtr ss = findtheinfo_ds(phw[i], NOUN, HYPERPTR, 1);
            if (ss)
                claim_hypernyms(&t, ss, level, target);
            if (ss)
                free_syns(ss);
        }
        t.phrases = 0;
    }
    t.close_pass = 0;
    /* 5. the other words WordNet lists that a spelling slip would take for a vocabulary
     * word ("farm" is not a slip of "firm"): blocked, so a query ignores them */
    if (!t.oom)
        rc = claim_blocked(&t, vcopy, nvocab, senses);
    /* 6. the other nouns and adjectives, through their first sense and its gloss */
    if (!t.oom && rc == DUCH_OK)
        rc = claim_far(&t);
    /* 6b. adjectives by the noun they pertain to, as the table reads that noun */
    if (!t.oom && rc == DUCH_OK)
        rc = claim_pertainyms(&t);
    /* 7. the other long words WordNet lists that a query would take for a slip of an
     * alias (duch_alias_nearest): blocked, as in pass 5 */
    if (!t.oom && rc == DUCH_OK)
        rc = claim_alias_slips(&t);
    /* 8. the words bound to the vocabulary's phrases, alone */
    if (!t.oom && rc == DUCH_OK) {
        unsigned char *bnd = calloc((size_t)nvocab, 1);
        if (!bnd)
            rc = DUCH_NOMEM;
        else if (bound) {
            for (int i = 0; i < nbound; i++) {
                size_t sl = bound[i] ? slot_of(&t, bound[i]) : 0;
                int r = bound[i] && t.keys[sl] ? t.rank[sl] : -1;
                if (r >= 0 && !strcmp(t.vocab[r], bound[i]))
                    bnd[r] = 1;
            }
        } else {
            rc = bound_words(&t, phrases, nphrases, &asked, ncaption, bnd);
        }
        if (rc == DUCH_OK)
            claim_phrase_parts(&t, phw, nph, ncaption, bnd);
        free(bnd);
    }
    /* 9. rare caption nouns, alone, as a frequent caption word WordNet relates them to */
    if (!t.oom && rc == DUCH_OK && modifier)
        claim_rare_nouns(&t, phw, nph, ncaption, modifier);
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
    if (kept) { /* the vocabulary's phrases, "mobile home" */
        for (size_t i = 0; i < nph; i++)
            for (char *c = phw[i]; *c; c++)
                if (*c == '_')
                    *c = ' ';
        *kept = phw, *nkept = (int)nph;
        phw = NULL, nph = 0;
    }
    t.n = 0; /* handed over */
finish:
    for (size_t i = 0; i < nph; i++)
        free(phw[i]);
    free(phw);
    free(hsense);
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
    free(t.noun);
    free(t.at);
    free(t.close);
    wordset_free(&asked);
    return rc;
}

void duch_wn_phrases_free(char **p, int n)
{
    for (int i = 0; p && i < n; i++)
        free(p[i]);
    free(p);
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
    if (!regular_plural(n, out, cap))
        return 0;
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
    if (s && offensive_gloss(s->defn))
        return;
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
