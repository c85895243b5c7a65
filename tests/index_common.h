/* index_common.h: what the C tests of index/ share (not installed). */
#ifndef DUCH_INDEX_TEST_COMMON_H
#define DUCH_INDEX_TEST_COMMON_H

#include <stdint.h>
#include <stdio.h>

/* CHECK(cond, printf args...): count and report a failure, go on */
static int failures;
#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            failures++;                                               \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                             \
            fputc('\n', stderr);                                      \
        }                                                             \
    } while (0)

/* xorshift64: the same random sequence on every run */
static uint64_t test_rng = 0x9E3779B97F4A7C15ULL;
static inline uint64_t test_rand(void)
{
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return test_rng;
}

#endif
