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
        "usage: duch aliases [--senses N] [-v] MODEL -o OUT\n"
        "\n"
        "Write a copy of MODEL whose header holds an alias table built from WordNet: words\n"
        "outside the vocabulary taken for a vocabulary word - its inflections, the other\n"
        "words of its first N senses (synonyms), the words of their direct hyponyms\n"
        "(more specific kinds) and hypernyms (broader kinds), and the other WordNet nouns\n"
        "of visible things whose first sense or gloss names it (\"seashore\" -> \"sea\").\n"
        "A table MODEL has already is replaced. The weights are the same; the copy has a\n"
        "new model id.\n"
        "Queries need no WordNet: the table is in the file.\n"
        "\n"
        "options:\n"
        "  -o FILE       the new model (required)\n"
        "  --senses N    senses of each vocabulary word to follow (default 2, 1..10)\n"
        "  -v            print every alias (word -> vocabulary word; \"(blocked)\": a\n"
        "                WordNet word a query ignores rather than take for a slip)\n"
        "  -h, --help    this help\n");
}

int duch_cmd_aliases(int argc, char **argv)
{
    static const struct option lo[] = {{"senses", 1, 0, 's'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *outpath = NULL;
    long senses = 2;
    int verbose = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:vh", lo, NULL)) != -1) {
        switch (c) {
        case 'o': outpath = optarg; break;
        case 'v': verbose = 1; break;
        case 's':
            if (duch_cli_int("--senses", optarg, 1, 10, &senses)) return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
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
    duch_wn_alias *al = NULL;
    int nal = 0;
    char err[512];
    rc = vocab ? duch_wn_aliases(vocab, nv, (int)senses, &al, &nal, err, sizeof err) : DUCH_NOMEM;
    char *json = NULL;
    size_t jlen = 2;
    for (int i = 0; rc == DUCH_OK && i < nal; i++)
        jlen += strlen(al[i].word) + strlen(al[i].target) + 6;
    if (rc == DUCH_OK && (json = malloc(jlen + 1))) {
        char *p = json;
        *p++ = '{';
        for (int i = 0; i < nal; i++) { /* words are lower-case ASCII letters: no escapes */
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
    int status = 1;
    if (rc != DUCH_OK) {
        duch_cli_error("%s: %s", path, err);
    } else {
        if (duch_cli_write_file(outpath, o, on) == 0) {
            fprintf(stderr, "duch: %s: %d words, %d aliases from WordNet (%ld senses)\n", outpath, nv,
                    nal, senses);
            status = 0;
        }
    }
    free(o);
    free(json);
    duch_wn_aliases_free(al, nal);
    free(vocab);
    duch_textenc_close(te);
    free(data);
    return status;
}
