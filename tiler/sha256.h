/* sha256.h: SHA-256 (FIPS 180-4) for scene checksums. Internal to tiler/. */
#ifndef DUCH_SHA256_H
#define DUCH_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct duch_sha256 {
    uint32_t h[8];
    uint64_t len;           /* bytes hashed so far */
    unsigned char buf[64];
    size_t fill;
} duch_sha256;

#define DUCH_HIDDEN __attribute__((visibility("hidden")))
DUCH_HIDDEN void duch_sha256_init(duch_sha256 *s);
DUCH_HIDDEN void duch_sha256_update(duch_sha256 *s, const void *data, size_t n);
DUCH_HIDDEN void duch_sha256_final(duch_sha256 *s, unsigned char digest[32]);

#endif
