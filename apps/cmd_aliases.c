/* cmd_aliases.c: duch aliases MODEL -o OUT — a copy of a model with an alias table from
 * WordNet, so that queries in words outside its vocabulary ("plane", "farmland", "jets")
 * are searched for as the vocabulary word WordNet relates them to (model/wn_aliases.c). */
#include "config.h"
#include "cli.h"
#include "duch_modelfile.h"
#include "duch_textenc.h"
#include "duch_wn_aliases.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: duch aliases [--senses N] [--data DIR [--splits LIST]] [-v] MODEL -o OUT\n"
        "\n"
        "Write a copy of MODEL whose header holds an alias table built from WordNet: words\n"
        "outside the vocabulary taken for a vocabulary word - its inflections, the other\n"
        "words of its first N senses (synonyms), the words of their direct hyponyms\n"
        "(more specific kinds) and hypernyms (broader kinds), and the other WordNet nouns\n"
        "of visible things whose first sense, parts or gloss name it (\"seashore\" ->\n"
        "\"sea\", \"airstrip\" -> \"runway\"). WordNet's phrases count too: the captions'\n"
        "own (\"trailer\" -> \"mobile home\"), their synonyms (\"car park\" -> \"parking\n"
        "lot\") and the others (\"landing strip\" -> \"runway\"). A caption word found only\n"
        "inside a caption phrase is read alone as WordNet reads it (\"homes\" -> \"houses\").\n"
        "Only caption words claim the more specific kinds; a WordNet stand-in (a\n"
        "vocabulary word training added) claims its synonyms and broader kinds only.\n"
        "A caption word used before nouns (\"white\", \"medium\") keeps only the senses\n"
        "that name a quality or an activity (\"navy\" -> \"blue\"), not a person or a\n"
        "thing; senses WordNet glosses as offensive are never taken. A caption noun\n"
        "used rarely (\"junction\") is read as a frequent caption word WordNet relates it\n"
        "to (\"intersection\").\n"
        "A table MODEL has already is replaced. The weights are the same; the copy has a\n"
        "new model id.\n"
        "Queries need no WordNet: the table is in the file.\n"
        "\n"
        "options:\n"
        "  -o FILE       the new model (required)\n"
        "  --senses N    senses of each vocabulary word to follow (default 2, 1..10)\n"
        "  --data DIR    read the training captions (DIR/captions.json) for which\n"
        "                vocabulary words are caption words, for their phrases, modifiers,\n"
        "                rare words and the words found only inside a phrase; by default\n"
        "                MODEL's header says (duch train writes them; a model without\n"
        "                them: every word a caption word, no phrases, no modifiers).\n"
        "                Stored in the copy.\n"
        "  --splits LIST the splits MODEL was trained on (with --data; default train;\n"
        "                as duch train)\n"
        "  -v            print every alias (word -> vocabulary word; \"(blocked)\": a\n"
        "                WordNet word a query ignores rather than take for a slip)\n"
        "  -h, --help    this help\n");
}

/* a growing list of strings */
typedef struct text_list {
    char **s;
    size_t n, cap;
    int oom;
} text_list;

static void text_list_add(text_list *l, const char *s)
{
    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 256;
        char **p = realloc(l->s, c * sizeof *p);
        if (!p) {
            l->oom = 1;
            return;
        }
        l->s = p, l->cap = c;
    }
    if (!(l->s[l->n] = strdup(s)))
        l->oom = 1;
    else
        l->n++;
}

static void text_list_free(text_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
}

/* *o (size *on) with member key = value (duch_modelfile_with_member), in place */
static int with_member(unsigned char **o, size_t *on, const char *key, const char *value, char *err,
                       size_t errlen)
{
    unsigned char *o2 = NULL;
    size_t on2 = 0;
    int rc = duch_modelfile_with_member(*o, *on, key, value, &o2, &on2, err, errlen);
    if (rc == DUCH_OK) {
        free(*o);
        *o = o2, *on = on2;
    }
    return rc;
}

/* with_member for key: the array of the words vocab[v] (v < nc) whose flags have flag;
 * nothing when none has */
static int with_flagged(unsigned char **o, size_t *on, const char *key, const char *const *vocab, int nc,
                        const unsigned char *flags, int flag, char *err, size_t errlen)
{
    size_t len = 3;
    int any = 0;
    for (int v = 0; v < nc; v++)
        if (flags[v] & flag)
            len += strlen(vocab[v]) + 3, any = 1;
    if (!any)
        return DUCH_OK;
    char *arr = malloc(len);
    if (!arr) {
        snprintf(err, errlen, "out of memory");
        return DUCH_NOMEM;
    }
    char *p = arr;
    *p++ = '[';
    for (int v = 0, first = 1; v < nc; v++)
        if (flags[v] & flag) { /* vocabulary words: lower-case letters and digits, no escapes */
            p += sprintf(p, "%s\"%s\"", first ? "" : ",", vocab[v]);
            first = 0;
        }
    strcpy(p, "]");
    int rc = with_member(o, on, key, arr, err, errlen);
    free(arr);
    return rc;
}

static int split_bit(const char *s)
{
    return !strcmp(s, "train") ? 1 : !strcmp(s, "query") ? 2 : !strcmp(s, "retrieval") ? 4 : 0;
}

/* From the captions of the splits (mask) of dir/captions.json, as duch train reads them
 * (the one tokenizer): *ncaption, how many of the vocabulary's first words are their
 * words (training puts the captions' words first, most frequent first; the rest are
 * WordNet stand-ins), and their word pairs and triples (the phrase candidates) into ph.
 * 0, or 1 after an error message. */
static int caption_text(const char *dir, int mask, const char *const *vocab, int nv, int *ncaption,
                        text_list *ph)
{
    const duch_json *imgs;
    duch_json *root = duch_cli_captions(dir, &imgs);
    if (!root)
        return 1;
    unsigned char *seen = calloc((size_t)nv + 1, 1);
    int status = seen ? 0 : 1, nimg = 0;
    for (size_t i = 0; !status && i < imgs->n; i++) {
        const duch_json *im = &imgs->items[i];
        if (!(split_bit(duch_json_str_or(im, "split", "")) & mask))
            continue;
        nimg++;
        const duch_json *sents = duch_json_get(im, "sentences");
        for (size_t k = 0; sents && sents->type == DUCH_JSON_ARR && k < sents->n; k++) {
            const char *raw = duch_json_str_or(&sents->items[k], "raw", NULL);
            if (!raw)
                continue;
            size_t n = strlen(raw), pos = 0, len;
            char w[3][64], buf[200];
            int nw = 0;
            while (duch_token_next(raw, n, &pos, w[nw % 3], sizeof w[0], &len)) {
                if (len >= sizeof w[0]) {
                    nw = 0; /* a word too long for a phrase: it breaks the run */
                    continue;
                }
                w[nw % 3][len] = 0;
                for (int v = 0; v < nv; v++) /* a vocabulary word of the captions */
                    if (!seen[v] && !strcmp(vocab[v], w[nw % 3]))
                        seen[v] = 1;
                nw++;
                if (nw >= 2) {
                    snprintf(buf, sizeof buf, "%s %s", w[(nw - 2) % 3], w[(nw - 1) % 3]);
                    text_list_add(ph, buf);
                }
                if (nw >= 3) {
                    snprintf(buf, sizeof buf, "%s %s %s", w[(nw - 3) % 3], w[(nw - 2) % 3], w[(nw - 1) % 3]);
                    text_list_add(ph, buf);
                }
            }
        }
    }
    duch_json_free(root);
    if (!status && (ph->oom || !seen)) {
        duch_cli_error("out of memory");
        status = 1;
    }
    int k = 0;
    while (!status && k < nv && seen[k])
        k++;
    for (int v = k; !status && v < nv; v++)
        if (seen[v]) {
            duch_cli_error("%s/captions.json: the captions of these splits (%d images) are not the"
                           " model's training captions: \"%s\" is one of their words but not among the"
                           " model's first %d (its caption words); give the splits it was trained on"
                           " (--splits)", dir, nimg, vocab[v], k);
            status = 1;
        }
    if (!status && k == 0) {
        duch_cli_error("%s/captions.json: no image of these splits has a caption in the model's words",
                       dir);
        status = 1;
    }
    free(seen);
    *ncaption = k;
    return status;
}

int duch_cmd_aliases(int argc, char **argv)
{
    static const struct option lo[] = {{"senses", 1, 0, 's'}, {"data", 1, 0, 'd'},
                                       {"splits", 1, 0, 'S'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *outpath = NULL, *datadir = NULL, *splits = NULL;
    long senses = 2;
    int splitmask = 1;
    int verbose = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:vh", lo, NULL)) != -1) {
        switch (c) {
        case 'o': outpath = optarg; break;
        case 'v': verbose = 1; break;
        case 's':
            if (duch_cli_int("--senses", optarg, 1, 10, &senses)) return 2;
            break;
        case 'd': datadir = optarg; break;
        case 'S':
            if (duch_cli_splits(optarg, &splitmask)) return 2;
            splits = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (splits && !datadir) {
        duch_cli_error("--splits needs --data DIR");
        return 2;
    }
    if (optind != argc - 1 || !outpath) {
        duch_cli_error("aliases needs one MODEL and -o OUT (see duch aliases --help)");
        return 2;
    }
    const char *path = argv[optind];
    size_t n = 0;
    unsigned char *data = NULL;
    int en = 0;
    if (duch_file_read(path, &data, &n, &en) != DUCH_OK) {
        duch_cli_error("cannot read %s: %s", path, en ? strerror(en) : "read error or out of memory");
        return 1;
    }
    duch_textenc *te = NULL;
    int rc = duch_textenc_open_blob(data, n, &te);
    if (rc != DUCH_OK) {
        duch_cli_error("%s: %s", path, te ? duch_textenc_errmsg(te) : "out of memory");
        duch_textenc_close(te);
        free(data);
        return 1;
    }
    int nv = duch_textenc_vocab_size(te);
    const char **vocab = malloc((size_t)nv * sizeof *vocab);
    for (int i = 0; vocab && i < nv; i++)
        vocab[i] = duch_textenc_vocab_word(te, i);
    int ncaption = 0, from_header = 0;
    text_list ph = {0}, bound = {0}, mods = {0}, rare = {0};
    if (datadir) {
        if (caption_text(datadir, splitmask, vocab, nv, &ncaption, &ph)) {
            text_list_free(&ph);
            free(vocab);
            duch_textenc_close(te);
            free(data);
            return 1;
        }
    } else { /* the header's, when training wrote them */
        duch_modelfile mf;
        char e2[256];
        if (duch_modelfile_read(data, n, &mf, e2, sizeof e2) == DUCH_OK) {
            ncaption = mf.caption_words;
            for (size_t i = 0; mf.phrases && i < mf.phrases->n; i++)
                text_list_add(&ph, mf.phrases->items[i].str);
            /* the words bound to a phrase: the table's aliases that are vocabulary words
             * (duch_wn_aliases keeps those of the keys given) */
            for (size_t i = 0; mf.aliases && i < mf.aliases->n; i++)
                if (mf.aliases->items[i].len)
                    text_list_add(&bound, mf.aliases->items[i].key);
            for (size_t i = 0; mf.modifiers && i < mf.modifiers->n; i++)
                text_list_add(&mods, mf.modifiers->items[i].str);
            for (size_t i = 0; mf.rare_words && i < mf.rare_words->n; i++)
                text_list_add(&rare, mf.rare_words->items[i].str);
            from_header = 1;
            duch_modelfile_free(&mf);
        }
    }
    duch_wn_alias *al = NULL;
    int nal = 0;
    char err[512];
    char **kept = NULL;
    int nkept = 0;
    static const char *const none[1] = {NULL};
    /* the caption words used as modifiers and the rare ones: counted from the captions'
     * pairs, or the header's */
    int nc = ncaption > 0 && ncaption <= nv ? ncaption : nv;
    unsigned char *mod = calloc((size_t)nv + 1, 1);
    rc = vocab && mod && !ph.oom && !bound.oom && !mods.oom && !rare.oom ? DUCH_OK : DUCH_NOMEM;
    if (rc == DUCH_OK && !from_header)
        rc = duch_wn_modifiers(vocab, nc, (const char *const *)ph.s, (int)ph.n, mod, err, sizeof err);
    for (size_t i = 0; rc == DUCH_OK && i < mods.n; i++)
        for (int v = 0; v < nc; v++)
            if (!strcmp(vocab[v], mods.s[i]))
                mod[v] |= DUCH_WN_MODIFIER;
    for (size_t i = 0; rc == DUCH_OK && i < rare.n; i++)
        for (int v = 0; v < nc; v++)
            if (!strcmp(vocab[v], rare.s[i]))
                mod[v] |= DUCH_WN_RARE;
    if (rc == DUCH_OK)
        rc = duch_wn_aliases(vocab, nv, ncaption, (const char *const *)ph.s, (int)ph.n,
                             from_header ? (bound.s ? (const char *const *)bound.s : none) : NULL,
                             (int)bound.n, mod, (int)senses, &al, &nal, &kept, &nkept, err, sizeof err);
    if (rc == DUCH_NOMEM)
        snprintf(err, sizeof err, "out of memory");
    char *json = NULL;
    size_t jlen = 2;
    for (int i = 0; rc == DUCH_OK && i < nal; i++)
        jlen += strlen(al[i].word) + strlen(al[i].target) + 6;
    if (rc == DUCH_OK && (json = malloc(jlen + 1))) {
        char *p = json;
        *p++ = '{';
        for (int i = 0; i < nal; i++) { /* lower-case ASCII letters and spaces: no escapes */
            p += sprintf(p, "%s\"%s\":\"%s\"", i ? "," : "", al[i].word, al[i].target);
            if (verbose)
                printf("%s -> %s\n", al[i].word, *al[i].target ? al[i].target : "(blocked)");
        }
        *p++ = '}';
        *p = 0;
    } else if (rc == DUCH_OK) {
        rc = DUCH_NOMEM;
        snprintf(err, sizeof err, "out of memory");
    }
    unsigned char *o = NULL;
    size_t on = 0;
    if (rc == DUCH_OK)
        rc = duch_modelfile_with_member(data, n, "aliases", json, &o, &on, err, sizeof err);
    if (rc == DUCH_OK && ncaption > 0) { /* and what it was built with */
        char num[32];
        snprintf(num, sizeof num, "%d", ncaption);
        rc = with_member(&o, &on, "caption_words", num, err, sizeof err);
    }
    if (rc == DUCH_OK && nkept > 0) {
        size_t len = 3;
        for (int i = 0; i < nkept; i++)
            len += strlen(kept[i]) + 3;
        char *arr = malloc(len);
        if (!arr) {
            rc = DUCH_NOMEM;
            snprintf(err, sizeof err, "out of memory");
        } else {
            char *p = arr;
            *p++ = '[';
            for (int i = 0; i < nkept; i++) /* lower-case ASCII letters and spaces */
                p += sprintf(p, "%s\"%s\"", i ? "," : "", kept[i]);
            strcpy(p, "]");
            rc = with_member(&o, &on, "phrases", arr, err, sizeof err);
            free(arr);
        }
    }
    if (rc == DUCH_OK)
        rc = with_flagged(&o, &on, "modifiers", vocab, nc, mod, DUCH_WN_MODIFIER, err, sizeof err);
    if (rc == DUCH_OK)
        rc = with_flagged(&o, &on, "rare_words", vocab, nc, mod, DUCH_WN_RARE, err, sizeof err);
    int status = 1;
    if (rc != DUCH_OK) {
        duch_cli_error("%s: %s", path, err);
    } else {
        if (duch_cli_write_file(outpath, o, on) == 0) {
            fprintf(stderr, "duch: %s: %d words (%d from the captions), %d phrases, %d aliases from"
                    " WordNet (%ld senses)\n", outpath, nv, ncaption > 0 ? ncaption : nv, nkept, nal, senses);
            status = 0;
        }
    }
    free(o);
    free(json);
    duch_wn_aliases_free(al, nal);
    duch_wn_phrases_free(kept, nkept);
    text_list_free(&ph);
    text_list_free(&bound);
    text_list_free(&mods);
    text_list_free(&rare);
    free(mod);
    free(vocab);
    duch_textenc_close(te);
    free(data);
    return status;
}
