/* loader.c: dlopen libduch_model.so on first use (part of libduch, no libtorch).
 *
 * GDAL loads every plugin at every start and libtorch costs ~0.8 s to load, so the
 * plugin, the SQLite extension and the CLI reach the model only through this. */
#include "config.h"
#include "duch_model.h"
#include "duch_utf8.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DUCH_LIBDIR
#define DUCH_LIBDIR "/usr/local/lib"
#endif
#ifndef DUCH_PKGDATADIR
#define DUCH_PKGDATADIR "/usr/local/share/duch"
#endif

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static const duch_model_api *loaded_api;

static const duch_model_api *try_open(const char *path, char *tried, size_t triedlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        size_t used = strlen(tried);
        if (used < triedlen)
            duch_snprintf(tried + used, triedlen - used, "\n  %s: %s", path, dlerror());
        return NULL;
    }
    const duch_model_api *(*get)(void) =
        (const duch_model_api *(*)(void))dlsym(h, "duch_model_api_v1");
    if (!get) {
        size_t used = strlen(tried);
        if (used < triedlen)
            duch_snprintf(tried + used, triedlen - used,
                     "\n  %s: no symbol duch_model_api_v1 (not a duch model library)", path);
        dlclose(h);
        return NULL;
    }
    const duch_model_api *api = get();
    if (!api || api->abi_version != DUCH_MODEL_ABI_VERSION) {
        size_t used = strlen(tried);
        if (used < triedlen)
            duch_snprintf(tried + used, triedlen - used, "\n  %s: ABI version %d, expected %d",
                     path, api ? api->abi_version : -1, DUCH_MODEL_ABI_VERSION);
        dlclose(h);
        return NULL;
    }
    return api; /* the library stays loaded for the life of the process */
}

const duch_model_api *duch_model_load(char *err, size_t errlen)
{
    pthread_mutex_lock(&load_lock);
    const duch_model_api *api = loaded_api;
    if (!api) {
        char tried[2048] = "";
        const char *env = getenv("DUCH_MODEL_LIB");
        if (env && *env)
            api = try_open(env, tried, sizeof tried);
        else {
            api = try_open(DUCH_LIBDIR "/libduch_model.so", tried, sizeof tried);
            if (!api)
                api = try_open("libduch_model.so", tried, sizeof tried);
        }
        loaded_api = api;
        if (!api && err && errlen)
            duch_snprintf(err, errlen, "cannot load the duch model library (libduch_model.so);"
                     " set DUCH_MODEL_LIB to its path. Tried:%s", tried);
    }
    pthread_mutex_unlock(&load_lock);
    return api;
}

const char *duch_default_model_path(void)
{
    const char *env = getenv("DUCH_DEFAULT_MODEL");
    if (env && *env)
        return env;
    return DUCH_PKGDATADIR "/models/default.duchm";
}
