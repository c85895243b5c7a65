/*
 * duch_model.h: the DUCH networks behind a C ABI (libduch_model.so, libtorch inside).
 *
 * The model library is never linked by the GDAL plugin nor the SQLite extension:
 * GDAL loads every plugin at every start, and libtorch adds ~0.8 s to each. Callers
 * get the whole API as one table of function pointers:
 *
 *   - linked directly:  const duch_model_api *api = duch_model_api_v1();
 *   - through dlopen:   const duch_model_api *api = duch_model_load(err, sizeof err);
 *                       (duch_model_load lives in libduch, see below)
 *
 * Error handling follows sqlite3_open: an _open call always sets *out to a handle
 * (unless out of memory); on failure the handle holds the message (api->errmsg) and
 * must still be closed. Every function returns a DUCH_* status; no C++ exception
 * crosses this boundary.
 *
 * Ownership: strings returned by errmsg/id are owned by the handle, valid until the
 * next call on it. info_json returns a malloc()ed string: free it with free().
 *
 * This header compiles as plain C99.
 */
#ifndef DUCH_MODEL_H
#define DUCH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "duch_common.h" /* enum duch_status, duch_progress_fn */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct duch_model duch_model;

/* Options of duch train. Fill with api->train_options_init() first, then override. */
typedef struct duch_train_options {
    const char *data_dir;    /* holds captions.json and images/ */
    const char *output;      /* .duchm path to write */
    int bits;                /* K: multiple of 8, 8..1024 (paper: 16/32/64/128) */
    int splits;              /* bit mask of splits to train on: 1=train 2=query 4=retrieval */
    int epochs;
    int batch_size;
    int input_size;          /* image side in pixels the CNN sees */
    int width;               /* CNN base channel width */
    int text_dim;            /* text embedding width */
    double lr;
    double weight_decay;
    double temperature;      /* NT-Xent tau */
    double w_inter;          /* inter-modal NT-Xent (image <-> caption) */
    double w_intra_img;      /* intra-modal NT-Xent, two augmented image views */
    double w_intra_txt;      /* intra-modal NT-Xent, two augmented captions */
    double w_adv;            /* adversarial term */
    double w_quant;          /* quantization ||B - h||^2 */
    double w_balance;        /* bit balance */
    uint64_t seed;
    int threads;             /* 0 = all cores; fixed by the process's first call (set_threads) */
    int verbose;
    double tile_ground_m;    /* ground width of one training image (UCM: 78.03 m) */
    int max_images;          /* 0 = all; for tests */
    /* Added after ABI version 1's first fields (keep at the end): */
    double crop_min;         /* smallest random crop, as a fraction of the image area */
    double *epoch_loss;      /* optional out: mean total loss of each epoch (epochs entries),
                                owned by the caller; NULL to skip */
    int checkpoint_every;    /* > 0: also write output after every N epochs (0 = only at the end) */
    /* WordNet at training time (model/wn_aliases.c; docs/model.md, "Words"): */
    int wordnet_senses;      /* senses of each caption word to follow (2); 0 = no WordNet:
                                no stand-ins, no keyword kinds, no alias table */
    double p_subst;          /* chance that a caption word with WordNet stand-ins is replaced
                                by one of them in an augmented caption (0.2) */
    double p_keywords;       /* chance that an augmented caption is a keyword query made of
                                its words instead: a single noun, or 2-3 content words (0.5) */
    double p_pool;           /* chance that a keyword query takes its words from all of the
                                image's captions instead of one (0) */
    double p_insert;         /* chance that an augmented caption gets one content word of
                                another training caption inserted, a stray word (0) */
} duch_train_options;

typedef struct duch_eval_result {
    int bits;
    int queries;             /* images in the query split */
    int retrieval;           /* images in the retrieval split */
    double map20_i2t;        /* image query -> caption retrieval, mAP@20 */
    double map20_t2i;        /* caption query -> image retrieval, mAP@20 */
    double map20_i2i;        /* image -> image (extra) */
    double map20_t2t;        /* caption -> caption (extra) */
} duch_eval_result;

typedef struct duch_model_api {
    int abi_version;         /* DUCH_MODEL_ABI_VERSION */

    /* Open a .duchm file / an in-memory copy of one (as stored in an archive). */
    int (*open)(const char *path, duch_model **out);
    int (*open_blob)(const void *data, size_t size, duch_model **out);
    void (*close)(duch_model *m);                       /* accepts NULL */
    const char *(*errmsg)(const duch_model *m);         /* never NULL */

    int (*bits)(const duch_model *m);
    int (*input_size)(const duch_model *m);             /* CNN input side, px */
    double (*tile_ground_m)(const duch_model *m);       /* ground width of a training image, m */
    const char *(*id)(const duch_model *m);             /* hex checksum of the weights + vocab */
    /* Threads of libtorch's intra-op pool (0 = all cores). That pool is one per process
     * and cannot be resized safely while other threads encode, so the count is set once:
     * by the process's first encode_images / encode_texts / eval / train call, to the
     * count that call's handle (or o->threads) asks for. Set it before the first call;
     * later changes, and other handles' counts, do not resize the pool. */
    int (*set_threads)(duch_model *m, int n);

    /* Encode n RGB tiles (8-bit interleaved RGBRGB..., row-major, widths[i] x heights[i],
     * any size: resampled to input_size) into packed codes: codes gets n * bits/8 bytes,
     * bit j of a code is (codes[j/8] >> (j%8)) & 1, set when the hash output is > 0.
     * Deterministic. */
    int (*encode_images)(duch_model *m, int n, const unsigned char *const *rgb,
                         const int *widths, const int *heights, unsigned char *codes);
    /* Encode n UTF-8 texts. A text with no word of the vocabulary is DUCH_INVALID
     * (message says which). */
    int (*encode_texts)(duch_model *m, int n, const char *const *texts, unsigned char *codes);

    /* JSON object describing the model (format version, bits, architecture, vocab size,
     * hyper-parameters, id). Free with free(). NULL on failure. */
    char *(*info_json)(duch_model *m);

    void (*train_options_init)(duch_train_options *o);
    /* Train from scratch and write o->output. err gets a message on failure. */
    int (*train)(const duch_train_options *o, duch_progress_fn progress, void *arg,
                 char *err, size_t errlen);
    /* The paper's protocol on data_dir: query split vs retrieval split, first caption
     * per image, same-class relevance, mAP@20. */
    int (*eval)(duch_model *m, const char *data_dir, duch_eval_result *out,
                duch_progress_fn progress, void *arg);
} duch_model_api;

#define DUCH_MODEL_ABI_VERSION 1

/* Exported by libduch_model.so. */
const duch_model_api *duch_model_api_v1(void);

/* In libduch (no libtorch): dlopen the model library on first use and return its table.
 * Looks at $DUCH_MODEL_LIB, then LIBDIR/libduch_model.so, then the loader's search path.
 * Thread-safe; the library stays loaded. On failure returns NULL and writes a message
 * into err (which names the paths tried). */
const duch_model_api *duch_model_load(char *err, size_t errlen);

/* Path of the installed default model (DUCH_DEFAULT_MODEL env var overrides). Static
 * string or getenv() result; do not free. */
const char *duch_default_model_path(void);

#ifdef __cplusplus
}
#endif
#endif /* DUCH_MODEL_H */
