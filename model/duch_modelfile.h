/*
 * duch_modelfile.h: the one reader of .duchm model files, the one tokenizer and the one
 * FNV-1a 64 (model/modelfile.c, plain C, internal: not installed). The C text encoder
 * (model/textenc.c: libduch, mod_duch) and the libtorch side (model/duch_torch.cpp, which
 * also writes the files) both read model files through it, so they accept and refuse
 * the same bytes with the same messages.
 *
 * The file (little-endian; docs/model.md):
 *   "DUCHMODL" | u32 format version | u32 0 | u64 payload length P | payload |
 *   u64 FNV-1a 64 of every byte before it (format 2: the standard offset basis,
 *   format 1: DUCH_FNV1A64_BASIS_V1, a digit short of it)
 *   payload: u32 header length | header JSON | u32 tensor count |
 *            per tensor: u32 name length | name | u32 ndim | i64 dims | float32 data
 *
 *   duch_modelfile mf;
 *   char err[256];
 *   int rc = duch_modelfile_read(data, size, &mf, err, sizeof err);
 *   if (rc == DUCH_OK) { ... mf.bits, mf.vocab, duch_modelfile_tensor(&mf, "txt.emb.weight") }
 *   duch_modelfile_free(&mf);        // also after a failure
 *
 * What the reader checks: magic, version (DUCH_VERSION when newer than
 * DUCH_MODELFILE_VERSION), lengths, checksum, the header JSON, the architecture numbers
 * in range, a non-empty vocabulary of strings, max_tokens and bn_eps in range, and the
 * tensor table: well formed, no name twice, dimensions whose product fits the payload,
 * every weight finite, no trailing bytes. What it leaves to the caller: the
 * architecture names and which tensors with which shapes a network needs.
 */
#ifndef DUCH_MODELFILE_H
#define DUCH_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "duch_common.h"
#include "duch_json.h" /* DUCH_INTERNAL */

#ifdef __cplusplus
extern "C" {
#endif

/* the newest format this library reads and writes */
#define DUCH_MODELFILE_VERSION 2u

/* FNV-1a 64 offset bases: the standard one (model files of format 2 on) and the one
 * format 1 files were written with, a digit short of it (they keep loading: the model
 * id is the stored checksum, and archives hold it). */
#define DUCH_FNV1A64_BASIS 14695981039346656037ULL
#define DUCH_FNV1A64_BASIS_V1 1469598103934665603ULL

/* FNV-1a 64 of data[0..n), starting from basis h (DUCH_FNV1A64_BASIS for the standard
 * hash; pass a previous result to hash in pieces). */
DUCH_INTERNAL uint64_t duch_fnv1a64(const void *data, size_t n, uint64_t h);

/* Values for header fields that files written before they existed lack: what every
 * model of format 1 and 2 was trained with. */
#define DUCH_MODELFILE_MAX_TOKENS_DEFAULT 32 /* known words of a text the network sees */
#define DUCH_MODELFILE_BN_EPS_DEFAULT 1e-5   /* BatchNorm epsilon (libtorch's default) */
#define DUCH_MODELFILE_MAX_TOKENS_LIMIT 1024 /* the most a header may give */

/* The tokenizer of captions (training) and query texts (both encoders). ASCII letters
 * are lower-cased; letters, digits and well-formed multi-byte UTF-8 sequences (lead byte
 * C2-F4, then continuation bytes) form words; every other byte (space, punctuation,
 * control characters, malformed UTF-8) separates them.
 *
 *   size_t pos = 0, len;
 *   while (duch_token_next(text, n, &pos, word, cap, &len)) ... word[0..min(len,cap))
 *
 * Returns 1 with the next word's full length in *len (> 0; at most n) and its first
 * min(*len, cap) bytes in word (not NUL-terminated), or 0 at the end. A word is never
 * longer than the text, so cap = n gets every word whole. */
DUCH_INTERNAL int duch_token_next(const char *text, size_t n, size_t *pos, char *word,
                                  size_t cap, size_t *len);

/* Misspellings and inflections the vocabulary lacks ("airplnae", "tenniscourts"): the
 * candidate (cand[i], clen[i] bytes; a model's vocabulary words, in file order) nearest to w[0..len) by optimal string alignment distance (insertion,
 * deletion, substitution, swap of adjacent bytes), within 1 edit for words of 4 to 7
 * bytes and 2 edits from 8 bytes on; neither word may be shorter than
 * DUCH_WORD_NEAREST_MIN or longer than DUCH_WORD_NEAREST_MAX bytes. The smaller distance
 * wins, then the earlier candidate (vocabularies are stored most frequent first).
 * Returns the index, or -1. Both text encoders call it for a word that is neither in the
 * vocabulary nor an alias, so they map the same words. */
#define DUCH_WORD_NEAREST_MIN 4
#define DUCH_WORD_NEAREST_MAX 40
DUCH_INTERNAL int duch_word_nearest(const char *w, size_t len, const char *const *cand,
                                    const size_t *clen, size_t n);
/* The second chance of a word of DUCH_ALIAS_SLIP_MIN bytes or more that is no slip of a
 * vocabulary word: the alias (cand: a model's single-word aliases that stand for a word,
 * in file order) within 1 edit ("neighbourhod" -> "neighbourhood" -> the alias's target);
 * a long word 1 edit from another is a slip of it, not a different word. -1: none. */
#define DUCH_ALIAS_SLIP_MIN 9
DUCH_INTERNAL int duch_alias_nearest(const char *w, size_t len, const char *const *cand,
                                     const size_t *clen, size_t n);
/* The last chance of a word that is neither known nor a slip: two or three known words
 * run together ("parkinglot", "carpark", "mobilehomepark", as users type class names and
 * compounds). known(ctx, s, n) says whether s[0..n) is a word the model reads (a
 * vocabulary word or an alias with a target). The longest first part of
 * DUCH_SPLIT_PART_MIN bytes or more that is known and leaves a known rest, or a rest that
 * splits in two the same way. out (cap bytes) gets the parts joined by single spaces
 * ("car park"), which the encoders then read as any text (phrase aliases first: "car
 * park" -> "parking lot"). 1 when split, else 0. */
#define DUCH_SPLIT_PART_MIN 3
DUCH_INTERNAL int duch_word_split(const char *w, size_t len, int (*known)(void *, const char *, size_t),
                                  void *ctx, char *out, size_t cap);

/* The confidence of a hit (model/confidence.c; docs/model.md, "Confidence"): the chance
 * that a hit of a text query shows what the query asks for, from two distances the
 * search knows anyway:
 *   confidence = 1 / (1 + exp(-(w0 + w1 * d / bits + w2 * (d_crowd - d_1) / bits)))
 * d: the hit's Hamming distance; d_1: the best hit's; d_crowd: the distance of the
 * crowd_rank-th nearest candidate tile (the farthest candidate when there are fewer): a
 * concept the archive holds brings a crowd of near tiles, one it lacks a few stray ones.
 * A model file may hold the fit as its header member
 *   "confidence": {"crowd_rank": 4, "w": [w0, w1, w2], ...the fit's record...}
 * (`duch calibrate` writes it). */
#define DUCH_CONFIDENCE_MAX_RANK 1000
typedef struct duch_confidence {
    int crowd_rank;             /* 1..DUCH_CONFIDENCE_MAX_RANK */
    double w[3];
} duch_confidence;
/* Read a "confidence" member (c may be NULL: DUCH_CORRUPT). DUCH_OK or DUCH_CORRUPT with
 * the reason in err. */
DUCH_INTERNAL int duch_confidence_parse(const duch_json *c, duch_confidence *out, char *err,
                                        size_t errlen);
/* The features (1, d/bits, (dcrowd - d1)/bits) and the confidence, 0..1. */
DUCH_INTERNAL void duch_confidence_features(int bits, int d, int d1, int dcrowd, double x[3]);
DUCH_INTERNAL double duch_confidence_value(const duch_confidence *c, int bits, int d, int d1,
                                           int dcrowd);
/* Logistic regression of y[i] (0/1) on the rows x[3i..3i+2] by Newton's method: w gets
 * the fit. DUCH_OK; DUCH_INVALID (n < 3), DUCH_ERROR (no finite fit). */
DUCH_INTERNAL int duch_confidence_fit(const double *x, const unsigned char *y, size_t n,
                                      double w[3]);

typedef struct duch_modelfile_tensor {
    const char *name;           /* into the file's bytes; not NUL-terminated */
    size_t name_len;
    int ndim;                   /* 0..8 */
    int64_t dims[8];
    uint64_t count;             /* product of the dims */
    const unsigned char *data;  /* count float32, little-endian, unaligned: memcpy */
} duch_modelfile_tensor;

typedef struct duch_modelfile {
    uint32_t version;           /* format version of the file */
    uint64_t checksum;          /* the stored checksum: the model id */
    size_t size;                /* bytes of the whole file */
    duch_json *header;          /* the whole header */
    /* from the header (validated) */
    int bits, input_size;
    double tile_ground_m;
    const char *image_arch, *text_arch; /* architecture.image / .text ("" if absent) */
    int width, blocks, text_dim, hidden;
    int max_tokens;             /* architecture.max_tokens (default 32) */
    double bn_eps;              /* architecture.bn_eps (default 1e-5) */
    const duch_json *vocab;     /* the array of words (strings); id of vocab->items[i] is i+1 */
    int vocab_n;
    const duch_json *aliases;   /* optional object {"word": "vocabulary word", ...}: words
                                   outside the vocabulary taken for one inside it; "" as
                                   the target blocks a word (ignored, never a slip) (members
                                   are strings; the encoders check the targets); NULL when
                                   the file has none */
    const duch_json *training;  /* the training record (object), or NULL */
    int caption_words;          /* optional "caption_words": vocab[0..caption_words) are
                                   the training captions' words, the rest WordNet
                                   stand-ins; 0 when the file does not say */
    const duch_json *phrases;   /* optional array of strings: the captions' WordNet noun
                                   phrases ("mobile home"), alias targets; NULL: none */
    const duch_json *modifiers; /* optional array of strings: the caption words the captions
                                   use as modifiers ("white lines"), whose noun senses the
                                   alias table leaves out; NULL: none */
    const duch_json *rare_words; /* optional array of strings: the caption words the
                                   captions use rarely ("junction"), read as a frequent
                                   one by the alias table; NULL: none */
    int has_confidence;         /* the header has a valid "confidence" member */
    duch_confidence confidence; /* it (has_confidence) */
    /* the tensors, in file order */
    duch_modelfile_tensor *tensors;
    size_t ntensors;
} duch_modelfile;

/* Read a model file held in memory (data must outlive mf: tensors point into it).
 * Returns DUCH_OK, DUCH_CORRUPT, DUCH_VERSION, DUCH_INVALID (NULL arguments) or
 * DUCH_NOMEM, with the message in err. mf is always initialised: free it. */
DUCH_INTERNAL int duch_modelfile_read(const void *data, size_t size, duch_modelfile *mf,
                                      char *err, size_t errlen);

DUCH_INTERNAL void duch_modelfile_free(duch_modelfile *mf);

/* The tensor named name, or NULL. */
DUCH_INTERNAL const duch_modelfile_tensor *duch_modelfile_tensor_named(const duch_modelfile *mf,
                                                                       const char *name);

/* A copy of a model file (data, size bytes) whose header has value_json (JSON text) as
 * its member key (an old member of that name is replaced): the alias table ("aliases",
 * duch aliases) or the confidence fit ("confidence", duch calibrate). Payload length and
 * checksum are made anew, and the copy is read back (with the reader's checks of that
 * member) before it is returned. *out is malloc'ed. DUCH_OK, DUCH_CORRUPT, DUCH_NOMEM or
 * the reader's status. */
DUCH_INTERNAL int duch_modelfile_with_member(const void *data, size_t size, const char *key,
                                             const char *value_json, unsigned char **out,
                                             size_t *outsize, char *err, size_t errlen);

/* The whole file at path, malloc'ed (*data may be NULL for an empty file). DUCH_OK,
 * DUCH_NOTFOUND or DUCH_IO when it cannot be opened (*err_no: fopen's errno), DUCH_IO with
 * *err_no 0 when reading failed, DUCH_NOMEM. The one file
 * reader of model files (the text encoder, the pipeline, duch aliases). */
DUCH_INTERNAL int duch_file_read(const char *path, unsigned char **data, size_t *size,
                                 int *err_no);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_MODELFILE_H */
