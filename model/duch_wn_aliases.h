/* duch_wn_aliases.h: an alias table from WordNet for a model's vocabulary (model/
 * wn_aliases.c; internal, not installed; links libwordnet). Words outside the vocabulary
 * that WordNet relates to a vocabulary word (its inflections, the synonyms of its first
 * senses, the direct hyponyms and the hypernyms of its first noun senses, WordNet words
 * a slip would take for it, and nouns of visible things whose first sense or gloss names
 * it; see wn_aliases.c), each taken for that word. */
#ifndef DUCH_WN_ALIASES_H
#define DUCH_WN_ALIASES_H
#include <stddef.h>
#include "duch_common.h"
#include "duch_json.h" /* DUCH_INTERNAL: hidden in each library that compiles it */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct duch_wn_alias {
    char *word;   /* lower-case ASCII letters, not a vocabulary word; or a phrase of 2 or 3
                     such words joined by single spaces ("car park") */
    char *target; /* the vocabulary word it stands for, or a phrase of vocabulary words
                     ("mobile home"); "" for a blocked word */
} duch_wn_alias;

/* The aliases of vocab[0..nvocab) over its first `senses` senses; vocab[0..ncaption) are
 * the caption words, the rest WordNet stand-ins (ncaption <= 0: all are caption words).
 * phrases[0..nphrases): the captions' word pairs and triples ("mobile homes", words joined
 * by single spaces; NULL, 0: none); those that are WordNet noun phrases of caption words
 * are targets too ("trailer" -> "mobile home"), and *kept / *nkept (when kept is not
 * NULL; free with duch_wn_phrases_free) get them in their base form ("mobile home").
 * Given once per occurrence in the captions, the pairs also say which caption words
 * occur (nearly: 9 in 10) only inside one of those phrases ("home", "homes" of "mobile
 * home"): bound words, which alone are read as WordNet reads them ("homes" ->
 * "houses"), when bound is NULL; else bound[0..nbound) are the bound words (a table
 * rebuilt from a model's header: its aliases that are vocabulary words).
 * modifier (NULL: none; else ncaption flags, duch_wn_modifiers): DUCH_WN_MODIFIER for
 * the caption words the captions use as modifiers, whose noun senses claim only a
 * quality or an activity ("white": not a white person; "medium": not a vehicle);
 * DUCH_WN_RARE for the rare ones, which alone are read as a frequent caption word that
 * WordNet relates them to ("junction" -> "intersection").
 * *out (free with duch_wn_aliases_free) and *nout. DUCH_OK, DUCH_NOTFOUND (no WordNet
 * database, err says what to install), DUCH_NOMEM. */
DUCH_INTERNAL int duch_wn_aliases(const char *const *vocab, int nvocab, int ncaption,
                    const char *const *phrases, int nphrases, const char *const *bound,
                    int nbound, const unsigned char *modifier, int senses, duch_wn_alias **out, int *nout, char ***kept,
                    int *nkept, char *err, size_t errlen);
DUCH_INTERNAL void duch_wn_phrases_free(char **p, int n);
DUCH_INTERNAL void duch_wn_aliases_free(duch_wn_alias *a, int n);

/* The kinds of caption words (duch_wn_lexicon's kind[]) */
#define DUCH_WN_FUNCTION 0 /* a closed-class word ("the", "with", "many"), a numeral, or
                              a word WordNet does not know */
#define DUCH_WN_NOUN 1     /* WordNet knows it as a noun (in any number) */
#define DUCH_WN_CONTENT 2  /* an adjective, verb or adverb only */

/* The roles of caption words, from the captions' word pairs (flags of duch_wn_modifiers) */
#define DUCH_WN_MODIFIER 1 /* used before nouns ("white lines") */
#define DUCH_WN_RARE 2     /* too rare to have learnt a meaning of its own ("junction") */

/* The caption words vocab[0..ncaption) that the captions use as modifiers
 * (DUCH_WN_MODIFIER): WordNet lists them as adjectives and nouns, and 9 in 10 or more of
 * their occurrences as the first word of a caption pair (10 at least) come before a
 * content word ("white lines", "medium residential", "green plants"); and the rare ones
 * (DUCH_WN_RARE): content words that are the first word of fewer than 10 caption pairs
 * and the second of fewer than 10 (about fewer than 10 occurrences). pairs[0..npairs):
 * the captions' word pairs, one per occurrence (triples among them are skipped).
 * modifier[0..ncaption) gets the flags of each, else 0. DUCH_OK, DUCH_NOTFOUND (no
 * WordNet database), DUCH_NOMEM. */
DUCH_INTERNAL int duch_wn_modifiers(const char *const *vocab, int ncaption, const char *const *pairs,
                    int npairs, unsigned char *modifier, char *err, size_t errlen);

/* For training (duch train): kind[i] (nvocab entries, the caller's) of each caption word
 * and the substitutes (*subst, *nsubst; free with duch_wn_aliases_free) of each: pairs
 * (word = the caption word, target = a WordNet word that may replace it in an augmented
 * caption). A noun's substitutes are its other number ("trees" <-> "tree"), the
 * synonyms of its first `senses` noun senses and the words of the direct hypernyms of
 * its first sense, in the caption word's number; an adjective's are the synonyms and
 * similar adjectives of its first senses. Pairs of one word are adjacent. Modifiers
 * (duch_wn_modifiers) keep their noun stand-ins here: training them as adjectives only was
 * measured no better (docs/model.md). DUCH_OK, DUCH_NOTFOUND (no WordNet database),
 * DUCH_NOMEM. */
DUCH_INTERNAL int duch_wn_lexicon(const char *const *vocab, int nvocab, int senses, duch_wn_alias **subst,
                    int *nsubst, unsigned char *kind, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
