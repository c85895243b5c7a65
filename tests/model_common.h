/* model_common.h: what the model tests share: the model library through dlopen
 * (DUCH_MODEL_LIB, as the build tree sets it), checks, and reading files. */
#ifndef DUCH_MODEL_COMMON_H
#define DUCH_MODEL_COMMON_H
#include "duch_model.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int model_failures;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            model_failures++;                                                    \
        }                                                                        \
    } while (0)

/* The bytes of a file (NUL-terminated one past *n, for text), NULL if unreadable. */
static inline unsigned char *model_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *b = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[len] = 0;
        *n = (size_t)len;
    }
    return b;
}

static inline void *model_lib_handle(void)
{
    static void *h;
    if (h)
        return h;
    const char *path = getenv("DUCH_MODEL_LIB");
    if (!path || !*path) {
        fprintf(stderr, "DUCH_MODEL_LIB is not set (run through make check)\n");
        exit(77);
    }
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        exit(1);
    }
    return h;
}

static inline const duch_model_api *model_api(void)
{
    const duch_model_api *(*get)(void) =
        (const duch_model_api *(*)(void))dlsym(model_lib_handle(), "duch_model_api_v1");
    if (!get) {
        fprintf(stderr, "no duch_model_api_v1 in the model library\n");
        exit(1);
    }
    const duch_model_api *api = get();
    if (!api || api->abi_version != DUCH_MODEL_ABI_VERSION) {
        fprintf(stderr, "model library ABI mismatch\n");
        exit(1);
    }
    return api;
}

#endif
