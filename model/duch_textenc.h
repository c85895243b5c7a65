/*
 * duch_textenc.h: the text branch of a .duchm model in plain C (no libtorch).
 *
 * Loading libtorch costs 0.8-2 s per process; the text half of a DUCH model is a few
 * small layers, so a text query does not need it. This encoder reads the same .duchm
 * file (model/duch_torch.cpp writes it, docs/model.md describes it), runs the text
 * network in eval mode and packs the codes exactly as duch_model_api->encode_texts
 * does: the same tokenizer, the same vocabulary look-up (at most 32 known words,
 * unknown words skipped), the same messages. The arithmetic is float32 like libtorch's,
 * in a plain loop order, so a bit can differ only where the network output is within
 * float rounding (~1e-6) of 0.
 *
 *   duch_textenc *e = NULL;
 *   int rc = duch_textenc_open_blob(data, size, &e);     // a copy of the file in memory
 *   if (rc == DUCH_INVALID) ... text architecture not implemented here: use libtorch
 *   else if (rc) ... duch_textenc_errmsg(e) (corrupt, truncated, newer version)
 *   rc = duch_textenc_encode(e, "dense residential area", code); // bits/8 bytes
 *   duch_textenc_close(e);
 *
 * Error handling follows sqlite3_open: _open sets *out to a handle even on failure
 * (unless out of memory), which holds the message and must be closed.
 * A handle is not safe for concurrent calls from several threads (it has scratch
 * buffers); use one per thread. Strings returned by errmsg/id are owned by the handle
 * and valid until the next call on it. Compiles as plain C99.
 */
#ifndef DUCH_TEXTENC_H
#define DUCH_TEXTENC_H

#include <stddef.h>

#include "duch_common.h" /* enum duch_status, duch_progress_fn */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct duch_textenc duch_textenc;

/* Open the text encoder of a .duchm file held in memory (data is only read during the
 * call; the handle keeps its own copy of what it needs). Returns DUCH_OK;
 * DUCH_CORRUPT (bad magic, truncated, checksum mismatch, inconsistent payload),
 * DUCH_VERSION (a newer file format), DUCH_INVALID (NULL arguments, or a text
 * architecture this encoder does not implement: callers then fall back on libtorch),
 * DUCH_NOMEM. */
int duch_textenc_open_blob(const void *data, size_t size, duch_textenc **out);

/* Same, from a file (DUCH_NOTFOUND / DUCH_IO when it cannot be read). */
int duch_textenc_open(const char *path, duch_textenc **out);

void duch_textenc_close(duch_textenc *e); /* accepts NULL */

/* The last error of the handle; never NULL. */
const char *duch_textenc_errmsg(const duch_textenc *e);

/* Code length K in bits (0 if the handle is not open). */
int duch_textenc_bits(const duch_textenc *e);

/* The model id: the file checksum as 16 hex digits, as duch_model_api->id gives. */
const char *duch_textenc_id(const duch_textenc *e);

/* The confidence of a hit of a text query (docs/model.md, "Confidence"), from the model's
 * fit (`duch calibrate`): crowd_rank is 0 when the model has none, else the rank R whose
 * distance the fit needs. confidence takes the hit's distance d, the best hit's d1 and
 * the distance of the R-th nearest candidate (the farthest one when there are fewer),
 * and returns 0..1, or -1 without a fit. */
int duch_textenc_crowd_rank(const duch_textenc *e);
double duch_textenc_confidence(const duch_textenc *e, int d, int d1, int dcrowd);

/* Encode one UTF-8 text into code (bits/8 bytes; bit j of the code is
 * (code[j/8] >> (j%8)) & 1, set when output j > 0). A text with no word of the
 * vocabulary (an empty text included) is DUCH_INVALID with the same message as the
 * libtorch path: no word of "..." is in the model's vocabulary (N words from its
 * training captions). */
int duch_textenc_encode(duch_textenc *e, const char *text, unsigned char *code);

/* Same, but also (or only) write the K network outputs (after tanh) into values when
 * values is not NULL; code may be NULL. For tests: how close to 0 an output was. */
int duch_textenc_encode_values(duch_textenc *e, const char *text, unsigned char *code,
                               float *values);

/* What the encoder makes of a text, as one JSON object (malloc'ed; free() it):
 *   {"used": ["dense", "residential"], "mapped": {}, "ignored": ["golf"]}
 * in text order: used, the words of the vocabulary the network sees (the first
 * max_tokens of them); ignored, every other word (not in the vocabulary, or past
 * max_tokens); mapped, words taken for a vocabulary word (from word to the word it
 * stands for; empty while the model has no such table). A text of no word gives empty
 * lists. DUCH_OK, DUCH_INVALID, DUCH_NOMEM. */
int duch_textenc_explain(duch_textenc *e, const char *text, char **json);

/* The same for people: *line gets one sentence (malloc'ed) naming the ignored words and
 * what was searched for, or NULL when every word was used. */
int duch_textenc_summary(duch_textenc *e, const char *text, char **line);

/* The vocabulary: its number of entries, and entry i (0-based; NULL out of range),
 * owned by e. */
int duch_textenc_vocab_size(const duch_textenc *e);
const char *duch_textenc_vocab_word(const duch_textenc *e, int i);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_TEXTENC_H */
