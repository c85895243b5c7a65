/* index_hamming: every Hamming kernel against the portable one, and exact top-k
 * against a brute-force sort, on random data of every supported code length. */
#include "config.h"
#include "duch_index.h"
#include "index_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static uint64_t next(void) { return test_rand(); }

static void fill(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)next();
}

static unsigned ref_dist(const unsigned char *a, const unsigned char *b, size_t nbytes)
{
    unsigned d = 0;
    for (size_t i = 0; i < nbytes; i++)
        for (int j = 0; j < 8; j++)
            d += ((a[i] ^ b[i]) >> j) & 1;
    return d;
}

static void test_kernels(void)
{
    size_t nk;
    const duch_kernel *k = duch_kernels(&nk);
    CHECK(nk >= 1 && !strcmp(k[0].name, "portable"), "kernel 0 is not portable");
    printf("best kernel: %s\n", duch_kernel_best()->name);
    /* sizes that hit the unrolled loops, their remainders and tiny arrays */
    const size_t ns[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1031};
    size_t maxn = 1031;
    unsigned char *codes = malloc(maxn * 128 + 1), q[129];
    uint16_t *ref = malloc(maxn * sizeof *ref), *got = malloc((maxn + 1) * sizeof *got);
    for (size_t nbytes = 1; nbytes <= DUCH_CODE_MAX_BITS / 8; nbytes++) {
        fill(codes, maxn * nbytes);
        fill(q, nbytes);
        /* extreme codes: equal to the query and its complement */
        memcpy(codes, q, nbytes);
        for (size_t j = 0; j < nbytes; j++)
            codes[nbytes + j] = (unsigned char)~q[j];
        k[0].scan(codes, maxn, nbytes, q, ref);
        for (size_t i = 0; i < maxn; i++)
            if (ref[i] != ref_dist(codes + i * nbytes, q, nbytes)) {
                CHECK(0, "portable wrong at nbytes %zu i %zu", nbytes, i);
                break;
            }
        CHECK(ref[0] == 0 && ref[1] == 8 * nbytes, "portable extremes at nbytes %zu", nbytes);
        CHECK(duch_hamming(codes + 5 * nbytes, q, nbytes) == ref[5], "duch_hamming nbytes %zu", nbytes);
        for (size_t ki = 1; ki < nk; ki++) {
            if (!k[ki].available()) {
                if (nbytes == 1)
                    printf("kernel %s: not available on this CPU (needs %s), skipped\n",
                           k[ki].name, k[ki].needs);
                continue;
            }
            for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
                size_t n = ns[t];
                got[n] = 0xBEEF; /* must not be written */
                /* unaligned start too */
                const unsigned char *base = codes;
                k[ki].scan(base, n, nbytes, q, got);
                CHECK(got[n] == 0xBEEF, "kernel %s wrote past n=%zu (nbytes %zu)", k[ki].name, n, nbytes);
                for (size_t i = 0; i < n; i++)
                    if (got[i] != ref[i]) {
                        CHECK(0, "kernel %s nbytes %zu n %zu: dist[%zu] = %u, portable %u",
                              k[ki].name, nbytes, n, i, got[i], ref[i]);
                        break;
                    }
            }
            /* the fused filter: exactly the codes within max_dist, in order */
            {
                static uint32_t pos[1031];
                static uint16_t fd[1031];
                unsigned tries[3] = {0, (unsigned)(4 * nbytes), (unsigned)(8 * nbytes)};
                for (int t = 0; t < 3; t++) {
                    unsigned thr = tries[t];
                    size_t m = k[ki].filter(codes, maxn, nbytes, q, thr, pos, fd), want = 0, bad = 0;
                    for (size_t i = 0; i < maxn; i++)
                        if (ref[i] <= thr) {
                            if (want >= m || pos[want] != i || fd[want] != ref[i])
                                bad = 1;
                            want++;
                        }
                    CHECK(!bad && m == want, "filter %s nbytes %zu max_dist %u: %zu codes, want %zu",
                          k[ki].name, nbytes, thr, m, want);
                }
            }
            /* odd address */
            memmove(codes + 1, codes, maxn * nbytes);
            k[ki].scan(codes + 1, maxn, nbytes, q, got);
            int same = !memcmp(got, ref, maxn * sizeof *ref);
            CHECK(same, "kernel %s nbytes %zu unaligned input", k[ki].name, nbytes);
            memmove(codes, codes + 1, maxn * nbytes);
        }
    }
    for (size_t ki = 0; ki < nk; ki++)
        if (k[ki].available())
            CHECK(duch_kernel_find(k[ki].name) == &k[ki], "find %s", k[ki].name);
    CHECK(duch_kernel_find("nope") == NULL, "find unknown kernel");
    free(codes);
    free(ref);
    free(got);
}

typedef struct { uint32_t d; int64_t id; size_t pos; } ref_hit;
static int ref_cmp(const void *a, const void *b)
{
    const ref_hit *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void test_topk(void)
{
    size_t nk;
    const duch_kernel *kt = duch_kernels(&nk);
    const size_t nbytes_list[] = {2, 3, 8, 16, 24, 32, 128};
    const size_t n = 5000;
    unsigned char *codes = malloc(n * 128), q[128];
    int64_t *ids = malloc(n * sizeof *ids);
    ref_hit *all = malloc(n * sizeof *all);
    duch_hit *hits = malloc(n * sizeof *hits);
    size_t *subset = malloc(n * sizeof *subset);
    for (size_t b = 0; b < sizeof nbytes_list / sizeof nbytes_list[0]; b++) {
        size_t nbytes = nbytes_list[b];
        fill(codes, n * nbytes);
        fill(q, nbytes);
        /* ids: a permutation with gaps, so ties must be ordered by id, not position */
        for (size_t i = 0; i < n; i++)
            ids[i] = (int64_t)((i * 7919) % n) * 3 - 100;
        /* subset: every third position, in descending order */
        size_t ns = 0;
        for (size_t i = n; i-- > 0;)
            if (i % 3 == 1)
                subset[ns++] = i;
        for (int use_subset = 0; use_subset < 2; use_subset++) {
            size_t m = use_subset ? ns : n;
            for (size_t i = 0; i < m; i++) {
                size_t pos = use_subset ? subset[i] : i;
                all[i].d = ref_dist(codes + pos * nbytes, q, nbytes);
                all[i].id = ids[pos];
                all[i].pos = pos;
            }
            qsort(all, m, sizeof *all, ref_cmp);
            const size_t ks[] = {1, 10, 100, 4999, 5000, 7000};
            for (size_t ki = 0; ki < nk; ki++) {
                if (!kt[ki].available())
                    continue;
                for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
                    size_t nh = 12345;
                    int rc = duch_topk(&kt[ki], codes, ids, n, nbytes, q,
                                       use_subset ? subset : NULL, ns, ks[t], hits, &nh);
                    size_t want = ks[t] < m ? ks[t] : m;
                    CHECK(rc == DUCH_OK && nh == want, "topk rc %d nh %zu want %zu", rc, nh, want);
                    for (size_t i = 0; i < nh && i < want; i++)
                        if (hits[i].distance != all[i].d || hits[i].id != all[i].id ||
                            hits[i].pos != all[i].pos) {
                            CHECK(0, "topk %s nbytes %zu k %zu subset %d: hit %zu (%u,%lld) want (%u,%lld)",
                                  kt[ki].name, nbytes, ks[t], use_subset, i, hits[i].distance,
                                  (long long)hits[i].id, all[i].d, (long long)all[i].id);
                            break;
                        }
                }
            }
        }
    }
    /* ids NULL: id = position */
    size_t nh;
    fill(codes, 100 * 8);
    CHECK(duch_topk(NULL, codes, NULL, 100, 8, codes + 8 * 42, NULL, 0, 1, hits, &nh) == DUCH_OK &&
          nh == 1 && hits[0].id == 42 && hits[0].distance == 0, "ids NULL");
    /* bad arguments */
    CHECK(duch_topk(NULL, codes, NULL, 100, 8, q, NULL, 0, 0, hits, &nh) == DUCH_INVALID, "k=0");
    CHECK(duch_topk(NULL, codes, NULL, 100, 0, q, NULL, 0, 1, hits, &nh) == DUCH_INVALID, "nbytes 0");
    CHECK(duch_topk(NULL, codes, NULL, 100, 129, q, NULL, 0, 1, hits, &nh) == DUCH_INVALID, "nbytes 129");
    CHECK(duch_topk(NULL, codes, NULL, 100, 8, NULL, NULL, 0, 1, hits, &nh) == DUCH_INVALID, "no query");
    subset[0] = 100;
    CHECK(duch_topk(NULL, codes, NULL, 100, 8, q, subset, 1, 1, hits, &nh) == DUCH_INVALID, "subset out of range");
    CHECK(duch_topk(NULL, NULL, NULL, 0, 8, q, NULL, 0, 5, hits, &nh) == DUCH_OK && nh == 0, "empty");
    free(codes);
    free(ids);
    free(all);
    free(hits);
    free(subset);
}

static void test_bbox_codes(void)
{
    double mbr[] = {0, 0, 1, 1,   2, 2, 3, 3,   1, 1, 2, 2,   0.0 / 0.0, 0, 1, 1};
    double box[4] = {1, 1, 1.5, 1.5};
    size_t out[4];
    size_t m = duch_bbox_select(mbr, 4, box, out);
    CHECK(m == 2 && out[0] == 0 && out[1] == 2, "bbox_select m=%zu", m);

    duch_codes *c = NULL;
    CHECK(duch_codes_new(0, &c) == DUCH_INVALID && !c, "codes_new 0");
    CHECK(duch_codes_new(8, &c) == DUCH_OK && c, "codes_new");
    unsigned char code[8];
    for (int i = 0; i < 3000; i++) {
        fill(code, 8);
        code[0] = (unsigned char)i;
        CHECK(duch_codes_append(c, 1000 + i, code) == DUCH_OK, "append");
    }
    CHECK(duch_codes_count(c) == 3000 && duch_codes_nbytes(c) == 8, "count");
    CHECK(((uintptr_t)duch_codes_data(c) & 63) == 0, "alignment");
    duch_hit h[5];
    size_t nh;
    memcpy(code, duch_codes_data(c) + 8 * 1234, 8);
    CHECK(duch_codes_search(c, code, 5, NULL, 0, h, &nh) == DUCH_OK && nh == 5 && h[0].id == 2234 &&
          h[0].distance == 0, "codes_search");
    duch_codes_clear(c);
    CHECK(duch_codes_count(c) == 0, "clear");
    CHECK(duch_codes_search(c, code, 5, NULL, 0, h, &nh) == DUCH_OK && nh == 0, "search empty");
    duch_codes_free(c);

    /* 2-byte codes (many ties) with ascending ids, whole and through sorted / unsorted
     * subsets, against a brute-force sort */
    CHECK(duch_codes_new(2, &c) == DUCH_OK, "codes_new 2");
    enum { N2 = 20000 };
    static unsigned char all2[N2 * 2];
    static size_t sub[N2];
    static duch_hit got[300];
    static ref_hit want[N2];
    fill(all2, sizeof all2);
    for (int i = 0; i < N2; i++)
        duch_codes_append(c, 5 * i + 7, all2 + 2 * i);
    size_t nsub = 0;
    for (int i = 0; i < N2; i += 3)
        sub[nsub++] = (size_t)i;
    for (int round = 0; round < 6; round++) {
        unsigned char q2[2];
        fill(q2, 2);
        int use_sub = round % 3; /* 0: all, 1: sorted subset, 2: reversed subset */
        if (use_sub == 2)
            for (size_t i = 0; i < nsub / 2; i++) {
                size_t t = sub[i];
                sub[i] = sub[nsub - 1 - i];
                sub[nsub - 1 - i] = t;
            }
        size_t m = use_sub ? nsub : N2;
        for (size_t i = 0; i < m; i++) {
            size_t p = use_sub ? sub[i] : i;
            want[i].d = ref_dist(all2 + 2 * p, q2, 2);
            want[i].id = 5 * (int64_t)p + 7;
        }
        qsort(want, m, sizeof *want, ref_cmp);
        size_t kk = round < 3 ? 300 : 17;
        CHECK(duch_codes_search(c, q2, kk, use_sub ? sub : NULL, nsub, got, &nh) == DUCH_OK && nh == kk,
              "ties search");
        for (size_t i = 0; i < nh; i++)
            if (got[i].distance != want[i].d || got[i].id != want[i].id) {
                CHECK(0, "ties round %d: hit %zu (%u,%lld) want (%u,%lld)", round, i, got[i].distance,
                      (long long)got[i].id, want[i].d, (long long)want[i].id);
                break;
            }
        if (use_sub == 2) /* back to sorted */
            for (size_t i = 0; i < nsub / 2; i++) {
                size_t t = sub[i];
                sub[i] = sub[nsub - 1 - i];
                sub[nsub - 1 - i] = t;
            }
    }
    duch_codes_free(c);
    duch_codes_free(NULL);
    CHECK(duch_code_bits_valid(16) && duch_code_bits_valid(1024) && duch_code_bits_valid(24) &&
          !duch_code_bits_valid(8) && !duch_code_bits_valid(1032) && !duch_code_bits_valid(65),
          "bits_valid");
}

int main(void)
{
    test_kernels();
    test_topk();
    test_bbox_codes();
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    else
        printf("index_hamming: all kernels agree with the portable one\n");
    return failures ? 1 : 0;
}
