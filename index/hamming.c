/* hamming.c: Hamming distance kernels with run-time CPU dispatch.
 *
 * Every kernel has the duch_scan_fn shape: distances from one query to n packed codes.
 * "portable" is plain C (SWAR popcount) and is the reference the tests compare the
 * others with. The fast kernels are compiled with target attributes, so the library
 * itself needs no special -m flags, and are only called after a CPU check:
 *   popcnt  the POPCNT instruction on 64-bit words
 *   avx2    4 x 64-bit codes per 256-bit register, nibble-table popcount + VPSADBW
 *   avx512  8 x 64-bit codes per 512-bit register, VPOPCNTQ (AVX-512 VPOPCNTDQ),
 *           byte-masked loads (AVX-512BW) for lengths that are not a multiple of 64
 * Each fast kernel has special paths for 8/16/32-byte codes and a generic per-code
 * path for any other length. */
#include "config.h"
#include "duch_index.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define DUCH_X86 1
#include <immintrin.h>
#endif

int duch_code_bits_valid(int bits)
{
    return bits >= DUCH_CODE_MIN_BITS && bits <= DUCH_CODE_MAX_BITS && bits % 8 == 0;
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* the last 1..7 bytes of a code, zero-extended */
static inline uint64_t load_tail(const unsigned char *p, size_t len)
{
    uint64_t v = 0;
    memcpy(&v, p, len);
    return v;
}

/* ---------------------------------------------------------------- portable */

static inline unsigned pop64_portable(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

static void scan_portable(const unsigned char *codes, size_t n, size_t nbytes,
                          const unsigned char *q, uint16_t *dist)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char *c = codes + i * nbytes;
        unsigned d = 0;
        size_t j = 0;
        for (; j + 8 <= nbytes; j += 8)
            d += pop64_portable(load64(c + j) ^ load64(q + j));
        if (j < nbytes)
            d += pop64_portable(load_tail(c + j, nbytes - j) ^ load_tail(q + j, nbytes - j));
        dist[i] = (uint16_t)d;
    }
}

static int avail_portable(void) { return 1; }

/* filter = scan into a small buffer + compare; for the portable kernel and for the
 * lengths a fast kernel has no fused path for */
static inline size_t filter_via_scan(duch_scan_fn scan, const unsigned char *codes, size_t n,
                                     size_t nbytes, const unsigned char *q, unsigned max_dist,
                                     uint32_t *pos, uint16_t *dist)
{
    uint16_t buf[256];
    size_t m = 0;
    for (size_t base = 0; base < n; base += 256) {
        size_t b = n - base < 256 ? n - base : 256;
        scan(codes + base * nbytes, b, nbytes, q, buf);
        for (size_t j = 0; j < b; j++)
            if (buf[j] <= max_dist) {
                pos[m] = (uint32_t)(base + j);
                dist[m++] = buf[j];
            }
    }
    return m;
}

static size_t filter_portable(const unsigned char *codes, size_t n, size_t nbytes,
                              const unsigned char *q, unsigned max_dist, uint32_t *pos,
                              uint16_t *dist)
{
    return filter_via_scan(scan_portable, codes, n, nbytes, q, max_dist, pos, dist);
}

#ifdef DUCH_X86
/* ---------------------------------------------------------------- popcnt */

#define TARGET_POPCNT __attribute__((target("popcnt")))

TARGET_POPCNT static inline unsigned dist_popcnt(const unsigned char *c, const unsigned char *q,
                                                 size_t nbytes)
{
    unsigned d = 0;
    size_t j = 0;
    for (; j + 8 <= nbytes; j += 8)
        d += (unsigned)__builtin_popcountll(load64(c + j) ^ load64(q + j));
    if (j < nbytes)
        d += (unsigned)__builtin_popcountll(load_tail(c + j, nbytes - j) ^
                                            load_tail(q + j, nbytes - j));
    return d;
}

TARGET_POPCNT static void scan_popcnt(const unsigned char *codes, size_t n, size_t nbytes,
                                      const unsigned char *q, uint16_t *dist)
{
    if (nbytes == 8) {
        uint64_t q0 = load64(q);
        for (size_t i = 0; i < n; i++)
            dist[i] = (uint16_t)__builtin_popcountll(load64(codes + 8 * i) ^ q0);
    } else if (nbytes == 16) {
        uint64_t q0 = load64(q), q1 = load64(q + 8);
        for (size_t i = 0; i < n; i++) {
            const unsigned char *c = codes + 16 * i;
            dist[i] = (uint16_t)(__builtin_popcountll(load64(c) ^ q0) +
                                 __builtin_popcountll(load64(c + 8) ^ q1));
        }
    } else {
        for (size_t i = 0; i < n; i++)
            dist[i] = (uint16_t)dist_popcnt(codes + i * nbytes, q, nbytes);
    }
}

TARGET_POPCNT static size_t filter_popcnt(const unsigned char *codes, size_t n, size_t nbytes,
                                         const unsigned char *q, unsigned max_dist,
                                         uint32_t *pos, uint16_t *dist)
{
    if (nbytes != 8)
        return filter_via_scan(scan_popcnt, codes, n, nbytes, q, max_dist, pos, dist);
    uint64_t q0 = load64(q);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)__builtin_popcountll(load64(codes + 8 * i) ^ q0);
        if (d <= max_dist) {
            pos[m] = (uint32_t)i;
            dist[m++] = (uint16_t)d;
        }
    }
    return m;
}

static int avail_popcnt(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt") != 0;
}

/* ---------------------------------------------------------------- avx2 */

#define TARGET_AVX2 __attribute__((target("avx2,popcnt")))

/* per-64-bit-lane popcount of v (4 sums, each <= 64) */
TARGET_AVX2 static inline __m256i pop256_epi64(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
    return _mm256_sad_epu8(cnt, _mm256_setzero_si256());
}

/* 16 distances from four vectors of 4 x 64-bit sums, in order s0 s1 s2 s3 */
TARGET_AVX2 static inline void store16_epi64(uint16_t *out, __m256i s0, __m256i s1,
                                             __m256i s2, __m256i s3)
{
    __m256i a = _mm256_packus_epi32(s0, s1); /* lanes: d0 . d1 . d4 . d5 . | d2 . d3 . d6 . d7 . */
    __m256i b = _mm256_packus_epi32(s2, s3);
    __m256i c = _mm256_packus_epi32(a, b);   /* d0 d1 d4 d5 d8 d9 d12 d13 | d2 d3 d6 d7 ... */
    c = _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)out, c);
}

TARGET_AVX2 static void scan_avx2(const unsigned char *codes, size_t n, size_t nbytes,
                                  const unsigned char *q, uint16_t *dist)
{
    size_t i = 0;
    if (nbytes == 8) {
        __m256i qv = _mm256_set1_epi64x((long long)load64(q));
        for (; i + 16 <= n; i += 16) {
            const unsigned char *c = codes + 8 * i;
            __m256i s0 = pop256_epi64(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)c), qv));
            __m256i s1 = pop256_epi64(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(c + 32)), qv));
            __m256i s2 = pop256_epi64(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(c + 64)), qv));
            __m256i s3 = pop256_epi64(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(c + 96)), qv));
            store16_epi64(dist + i, s0, s1, s2, s3);
        }
    } else if (nbytes == 16) {
        __m256i qv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q));
        for (; i + 16 <= n; i += 16) {
            const unsigned char *c = codes + 16 * i;
            __m256i s[4];
            for (int g = 0; g < 4; g++) {
                /* 4 codes = 2 vectors; pairwise sums of the 64-bit halves */
                __m256i x = pop256_epi64(_mm256_xor_si256(
                    _mm256_loadu_si256((const __m256i *)(c + 64 * g)), qv));
                __m256i y = pop256_epi64(_mm256_xor_si256(
                    _mm256_loadu_si256((const __m256i *)(c + 64 * g + 32)), qv));
                /* x: a0 a1 b0 b1, y: c0 c1 d0 d1 -> a b c d */
                __m256i xs = _mm256_add_epi64(x, _mm256_srli_si256(x, 8)); /* a . b . */
                __m256i ys = _mm256_add_epi64(y, _mm256_srli_si256(y, 8)); /* c . d . */
                __m256i u = _mm256_unpacklo_epi64(xs, ys);                 /* a c | b d */
                s[g] = _mm256_permute4x64_epi64(u, 0xD8);                  /* a b c d */
            }
            store16_epi64(dist + i, s[0], s[1], s[2], s[3]);
        }
    } else if (nbytes % 32 == 0) {
        for (; i < n; i++) {
            const unsigned char *c = codes + i * nbytes;
            __m256i acc = _mm256_setzero_si256();
            for (size_t j = 0; j < nbytes; j += 32)
                acc = _mm256_add_epi64(acc, pop256_epi64(_mm256_xor_si256(
                    _mm256_loadu_si256((const __m256i *)(c + j)),
                    _mm256_loadu_si256((const __m256i *)(q + j)))));
            __m128i h = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            dist[i] = (uint16_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
        }
    } else if (nbytes > 32) {
        for (; i < n; i++) {
            const unsigned char *c = codes + i * nbytes;
            __m256i acc = _mm256_setzero_si256();
            size_t j = 0;
            for (; j + 32 <= nbytes; j += 32)
                acc = _mm256_add_epi64(acc, pop256_epi64(_mm256_xor_si256(
                    _mm256_loadu_si256((const __m256i *)(c + j)),
                    _mm256_loadu_si256((const __m256i *)(q + j)))));
            __m128i h = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            unsigned d = (unsigned)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
            dist[i] = (uint16_t)(d + dist_popcnt(c + j, q + j, nbytes - j));
        }
    }
    /* the remainder of the special paths, and short odd lengths */
    for (; i < n; i++)
        dist[i] = (uint16_t)dist_popcnt(codes + i * nbytes, q, nbytes);
}

TARGET_AVX2 static size_t filter_avx2(const unsigned char *codes, size_t n, size_t nbytes,
                                     const unsigned char *q, unsigned max_dist,
                                     uint32_t *pos, uint16_t *dist)
{
    if (nbytes != 8)
        return filter_via_scan(scan_avx2, codes, n, nbytes, q, max_dist, pos, dist);
    const __m256i qv = _mm256_set1_epi64x((long long)load64(q));
    const __m256i thr = _mm256_set1_epi64x((long long)max_dist);
    size_t m = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        const unsigned char *c = codes + 8 * i;
        __m256i s0 = pop256_epi64(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)c), qv));
        __m256i s1 = pop256_epi64(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(c + 32)), qv));
        /* bit j set when code i+j is too far */
        unsigned far = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(s0, thr))) |
                       (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(s1, thr))) << 4;
        unsigned near = ~far & 0xff;
        if (near) {
            uint64_t d[8];
            _mm256_storeu_si256((__m256i *)d, s0);
            _mm256_storeu_si256((__m256i *)(d + 4), s1);
            while (near) {
                int j = __builtin_ctz(near);
                near &= near - 1;
                pos[m] = (uint32_t)(i + (size_t)j);
                dist[m++] = (uint16_t)d[j];
            }
        }
    }
    for (; i < n; i++) {
        unsigned d = (unsigned)__builtin_popcountll(load64(codes + 8 * i) ^ load64(q));
        if (d <= max_dist) {
            pos[m] = (uint32_t)i;
            dist[m++] = (uint16_t)d;
        }
    }
    return m;
}

static int avail_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
}

/* ---------------------------------------------------------------- avx512 */

#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt")))

TARGET_AVX512 static void scan_avx512(const unsigned char *codes, size_t n, size_t nbytes,
                                      const unsigned char *q, uint16_t *dist)
{
    size_t i = 0;
    if (nbytes == 8) {
        __m512i qv = _mm512_set1_epi64((long long)load64(q));
        for (; i + 32 <= n; i += 32) {
            const unsigned char *c = codes + 8 * i;
            __m512i p0 = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(c), qv));
            __m512i p1 = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(c + 64), qv));
            __m512i p2 = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(c + 128), qv));
            __m512i p3 = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(c + 192), qv));
            _mm_storeu_si128((__m128i *)(dist + i), _mm512_cvtepi64_epi16(p0));
            _mm_storeu_si128((__m128i *)(dist + i + 8), _mm512_cvtepi64_epi16(p1));
            _mm_storeu_si128((__m128i *)(dist + i + 16), _mm512_cvtepi64_epi16(p2));
            _mm_storeu_si128((__m128i *)(dist + i + 24), _mm512_cvtepi64_epi16(p3));
        }
        for (; i + 8 <= n; i += 8) {
            __m512i p = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(codes + 8 * i), qv));
            _mm_storeu_si128((__m128i *)(dist + i), _mm512_cvtepi64_epi16(p));
        }
    } else if (nbytes == 16 || nbytes == 32) {
        /* 4 (or 2) codes per vector: sum the 64-bit lane counts of each code */
        __m512i qv = nbytes == 16
                         ? _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)q))
                         : _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)q));
        const size_t per = 64 / nbytes;
        for (; i + 2 * per <= n; i += 2 * per) {
            const unsigned char *c = codes + i * nbytes;
            __m512i p0 = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(c), qv));
            __m512i p1 = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(c + 64), qv));
            /* pairwise sums: even lanes hold the sum of lanes 2m and 2m+1 */
            __m512i s0 = _mm512_add_epi64(p0, _mm512_bsrli_epi128(p0, 8));
            __m512i s1 = _mm512_add_epi64(p1, _mm512_bsrli_epi128(p1, 8));
            if (nbytes == 32) {
                /* lane 0 and lane 4 of s hold a 128-bit half each: add halves */
                s0 = _mm512_add_epi64(s0, _mm512_shuffle_i64x2(s0, s0, 0xB1));
                s1 = _mm512_add_epi64(s1, _mm512_shuffle_i64x2(s1, s1, 0xB1));
                /* codes at lanes 0 and 4 */
                __m512i v0 = _mm512_maskz_compress_epi64(0x11, s0);
                __m512i v1 = _mm512_maskz_compress_epi64(0x11, s1);
                __m512i v = _mm512_mask_expand_epi64(v0, 0x0C, v1); /* lanes 0..3 */
                __m128i d = _mm512_cvtepi64_epi16(v);
                uint64_t four = (uint64_t)_mm_cvtsi128_si64(d);
                memcpy(dist + i, &four, 8);
            } else {
                __m512i v0 = _mm512_maskz_compress_epi64(0x55, s0);
                __m512i v1 = _mm512_maskz_compress_epi64(0x55, s1);
                __m512i v = _mm512_mask_expand_epi64(v0, 0xF0, v1); /* lanes 0..7 */
                _mm_storeu_si128((__m128i *)(dist + i), _mm512_cvtepi64_epi16(v));
            }
        }
    } else if (nbytes >= 24) {
        /* any other length: whole code in 64-byte chunks, masked tail */
        const size_t full = nbytes / 64 * 64;
        const __mmask64 tail = nbytes % 64 ? (~0ULL >> (64 - nbytes % 64)) : 0;
        for (; i < n; i++) {
            const unsigned char *c = codes + i * nbytes;
            __m512i acc = _mm512_setzero_si512();
            for (size_t j = 0; j < full; j += 64)
                acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(
                    _mm512_loadu_si512(c + j), _mm512_loadu_si512(q + j))));
            if (tail)
                acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(
                    _mm512_maskz_loadu_epi8(tail, c + full), _mm512_maskz_loadu_epi8(tail, q + full))));
            dist[i] = (uint16_t)_mm512_reduce_add_epi64(acc);
        }
    }
    for (; i < n; i++)
        dist[i] = (uint16_t)dist_popcnt(codes + i * nbytes, q, nbytes);
}

TARGET_AVX512 static size_t filter_avx512(const unsigned char *codes, size_t n, size_t nbytes,
                                         const unsigned char *q, unsigned max_dist,
                                         uint32_t *pos, uint16_t *dist)
{
    if (nbytes != 8)
        return filter_via_scan(scan_avx512, codes, n, nbytes, q, max_dist, pos, dist);
    const __m512i qv = _mm512_set1_epi64((long long)load64(q));
    const __m512i thr = _mm512_set1_epi64((long long)max_dist);
    size_t m = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        const unsigned char *c = codes + 8 * i;
        __m512i p0 = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(c), qv));
        __m512i p1 = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(c + 64), qv));
        unsigned near = (unsigned)_mm512_cmple_epu64_mask(p0, thr) |
                        (unsigned)_mm512_cmple_epu64_mask(p1, thr) << 8;
        if (near) {
            uint64_t d[16];
            _mm512_storeu_si512(d, p0);
            _mm512_storeu_si512(d + 8, p1);
            while (near) {
                int j = __builtin_ctz(near);
                near &= near - 1;
                pos[m] = (uint32_t)(i + (size_t)j);
                dist[m++] = (uint16_t)d[j];
            }
        }
    }
    for (; i < n; i++) {
        unsigned d = (unsigned)__builtin_popcountll(load64(codes + 8 * i) ^ load64(q));
        if (d <= max_dist) {
            pos[m] = (uint32_t)i;
            dist[m++] = (uint16_t)d;
        }
    }
    return m;
}

static int avail_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("popcnt");
}
#endif /* DUCH_X86 */

/* ---------------------------------------------------------------- dispatch */

static const duch_kernel kernel_table[] = {
    {"portable", "none", avail_portable, scan_portable, filter_portable},
#ifdef DUCH_X86
    {"popcnt", "POPCNT", avail_popcnt, scan_popcnt, filter_popcnt},
    {"avx2", "AVX2, POPCNT", avail_avx2, scan_avx2, filter_avx2},
    {"avx512", "AVX-512F, AVX-512BW, AVX-512 VPOPCNTDQ", avail_avx512, scan_avx512, filter_avx512},
#endif
};

const duch_kernel *duch_kernels(size_t *count)
{
    if (count)
        *count = sizeof kernel_table / sizeof kernel_table[0];
    return kernel_table;
}

const duch_kernel *duch_kernel_best(void)
{
    /* The table is ordered slowest to fastest; the CPU checks are cheap and pure, so
     * no cached (mutable global) state is needed. */
    size_t n = sizeof kernel_table / sizeof kernel_table[0];
    for (size_t i = n; i-- > 1;)
        if (kernel_table[i].available())
            return &kernel_table[i];
    return &kernel_table[0];
}

const duch_kernel *duch_kernel_find(const char *name)
{
    if (!name)
        return NULL;
    size_t n = sizeof kernel_table / sizeof kernel_table[0];
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kernel_table[i].name, name))
            return kernel_table[i].available() ? &kernel_table[i] : NULL;
    return NULL;
}

unsigned duch_hamming(const unsigned char *a, const unsigned char *b, size_t nbytes)
{
#ifdef DUCH_X86
    if (avail_popcnt())
        return dist_popcnt(a, b, nbytes);
#endif
    uint16_t d;
    if (nbytes > 0xffff / 8) { /* longer than any code: no uint16 overflow, plain loop */
        unsigned long s = 0;
        size_t j = 0;
        for (; j + 8 <= nbytes; j += 8)
            s += pop64_portable(load64(a + j) ^ load64(b + j));
        if (j < nbytes)
            s += pop64_portable(load_tail(a + j, nbytes - j) ^ load_tail(b + j, nbytes - j));
        return (unsigned)s;
    }
    scan_portable(a, 1, nbytes, b, &d);
    return d;
}
