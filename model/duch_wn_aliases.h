/* duch_wn_aliases.h: an alias table from WordNet for a model's vocabulary (model/
 * wn_aliases.c; internal, not installed; links libwordnet). Words outside the vocabulary
 * that WordNet relates to a vocabulary word (its inflections, the synonyms of its first
 * senses, the direct hyponyms of its first noun senses), each taken for that word. */
#ifndef DUCH_WN_ALIASES_H
#define DUCH_WN_ALIASES_H
#include <stddef.h>
#include "duch_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct duch_wn_alias {
    char *word;   /* lower-case ASCII letters, not a vocabulary word */
    char *target; /* the vocabulary word it stands for */
} duch_wn_alias;

/* The aliases of vocab[0..nvocab) over its first `senses` senses; *out (free with
 * duch_wn_aliases_free) and *nout. DUCH_OK, DUCH_NOTFOUND (no WordNet database, err says
 * what to install), DUCH_NOMEM. */
int duch_wn_aliases(const char *const *vocab, int nvocab, int senses, duch_wn_alias **out,
                    int *nout, char *err, size_t errlen);
void duch_wn_aliases_free(duch_wn_alias *a, int n);

#ifdef __cplusplus
}
#endif
#endif
