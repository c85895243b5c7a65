/*
 * duch_model_internal.h: private pieces of libduch_model.so shared by its two
 * translation units (duch_data.cpp: no libtorch; duch_torch.cpp: the networks).
 * The JSON reader, the model-file reader, the tokenizer and FNV-1a are the plain-C ones
 * (model/json.c, model/modelfile.c) that the C text encoder uses too.
 *
 * Only duch_map_at_k() is also exported with C linkage, so that tests can check
 * the metric on hand-computed cases (through dlsym on the model library).
 */
#ifndef DUCH_MODEL_INTERNAL_H
#define DUCH_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "duch_json.h"
#include "duch_modelfile.h" /* the model-file reader, the tokenizer, FNV-1a 64 */

#ifdef __cplusplus
extern "C" {
#endif

/* mAP@k as DUCH (and JDSH/DJSRH, whose evaluation code it reuses) computes it.
 * Codes are packed (bits/8 bytes each). For each query: rank the retrieval set by
 * Hamming distance (ties broken by retrieval index, i.e. a stable sort); tsum = number
 * of relevant items (same label) in the whole retrieval set; a query with tsum = 0
 * counts as 0 (it stays in the denominator); total = min(k, tsum); AP = mean over
 * i = 1..total of i / rank_i, where rank_i is the 1-based rank of the i-th relevant
 * item in the full ranking. The result is the mean AP over the nq queries.
 * Returns -1 on bad arguments. */
double duch_map_at_k(const unsigned char *qcodes, const int *qlabels, int nq,
                     const unsigned char *rcodes, const int *rlabels, int nr, int bits, int k);

#ifdef __cplusplus
}

#include <string>
#include <vector>

namespace duch {

/* ---- JSON: the reader is model/json.c (duch_json.h); the writer escapes strings ---- */
std::string json_escape(const std::string &s); /* with the quotes */

/* ---- captions.json ---- */
struct Item {
    std::string filename;
    std::string cls;   /* evaluation only; training never reads it */
    std::string split; /* train / query / retrieval / ... */
    std::vector<std::string> sentences; /* raw captions */
};
bool load_captions(const std::string &path, std::vector<Item> &items, std::string &err);

/* ---- images ---- */
/* Decode a JPEG file into 8-bit RGB. */
bool jpeg_decode(const std::string &path, std::vector<unsigned char> &rgb, int &w, int &h,
                 std::string &err);
/* Resample interleaved RGB (w x h) to out (side x side, planar float CHW, values
 * (v - 127.5) / 64) by area averaging (box filter over the source footprint of each
 * output pixel; bilinear-like when upsampling). This is the one resampler used by
 * training, evaluation and the encode API, so they all see the same pixels. */
void resample_rgb_planar(const unsigned char *rgb, int w, int h, int side, float *out);
/* Same, but to interleaved-free planar uint8 (CHW), for the training cache. */
void resample_rgb_u8(const unsigned char *rgb, int w, int h, int side, unsigned char *out);

/* ---- text ---- */
/* The words of text by the one tokenizer (duch_token_next, model/modelfile.c). */
std::vector<std::string> tokenize(const std::string &text);

/* ---- WordNet at training time (model/wn_aliases.c) ---- */
/* What the caption augmentation knows of each word: vocab grows by the WordNet words
 * that may stand in for a caption word (they get trained embeddings); subs[i] are the
 * 0-based indices of the stand-ins of vocab[i]; kind[i] is DUCH_WN_FUNCTION / _NOUN /
 * _CONTENT (a stand-in takes the kind of the first word it stands in for). */
struct Lexicon {
    std::vector<std::vector<int>> subs;
    std::vector<unsigned char> kind;
    size_t caption_words = 0; /* vocab entries that came from the captions */
};
/* Extends vocab (the caption words) with their WordNet stand-ins over `senses` senses. */
bool caption_lexicon(std::vector<std::string> &vocab, int senses, Lexicon &lx, std::string &err);
/* The alias table of a vocabulary (duch_wn_aliases): words outside it -> a word in it. */
bool wordnet_aliases(const std::vector<std::string> &vocab, int ncaption,
                     const std::vector<std::string> &phrases, const std::vector<unsigned char> &modifier,
                     int senses,
                     std::vector<std::pair<std::string, std::string>> &out,
                     std::vector<std::string> &kept, std::string &err);

/* The caption words vocab[0..ncaption) used as modifiers (duch_wn_modifiers), from the
 * captions' word pairs (one per occurrence): one flag each. */
bool caption_modifiers(const std::vector<std::string> &vocab, int ncaption,
                       const std::vector<std::string> &pairs, std::vector<unsigned char> &modifier,
                       std::string &err);

} /* namespace duch */
#endif /* __cplusplus */

#endif
