/* model_map: duch_map_at_k (the mAP@k of DUCH's evaluation code) on hand-computed cases. */
#include "model_common.h"
#include "duch_model_internal.h"

#include <math.h>

typedef double (*map_fn)(const unsigned char *, const int *, int, const unsigned char *, const int *,
                         int, int, int);

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

int main(void)
{
    map_fn map = (map_fn)dlsym(model_lib_handle(), "duch_map_at_k");
    if (!map) {
        fprintf(stderr, "no duch_map_at_k in the model library\n");
        return 1;
    }
    /* 8-bit codes: distance to 0x00 is the popcount. */
    unsigned char q0[] = {0x00};
    int ql0[] = {0};
    /* ranked: r3 (d0, class 1), r0 (d1, class 0), r1 (d2, class 1), r2 (d3, class 0):
     * relevant at ranks 2 and 4 -> AP = (1/2 + 2/4) / 2 = 0.5 */
    unsigned char r[] = {0x01, 0x03, 0x07, 0x00};
    int rl[] = {0, 1, 0, 1};
    CHECK(NEAR(map(q0, ql0, 1, r, rl, 4, 8, 20), 0.5));
    /* k = 1: only the first relevant item counts: 1/2 */
    CHECK(NEAR(map(q0, ql0, 1, r, rl, 4, 8, 1), 0.5));

    /* perfect ranking -> 1 */
    unsigned char rp[] = {0x00, 0x01, 0xff};
    int rlp[] = {0, 0, 1};
    CHECK(NEAR(map(q0, ql0, 1, rp, rlp, 3, 8, 20), 1.0));

    /* ties are broken by retrieval order (stable): r0 and r1 both at distance 1, r0 first:
     * relevant (r1) at rank 2 -> 0.5 */
    unsigned char rt[] = {0x01, 0x02};
    int rlt[] = {1, 0};
    CHECK(NEAR(map(q0, ql0, 1, rt, rlt, 2, 8, 20), 0.5));

    /* a query with no relevant item scores 0 and stays in the mean: (0.5 + 0) / 2 */
    unsigned char q2[] = {0x00, 0x00};
    int ql2[] = {0, 7};
    CHECK(NEAR(map(q2, ql2, 2, r, rl, 4, 8, 20), 0.25));

    /* relevant at ranks 1, 3, 5 and k = 2: total = min(k, 3) = 2 relevant items,
     * AP = (1/1 + 2/3) / 2 */
    unsigned char r5[] = {0x00, 0x01, 0x03, 0x07, 0x0f};
    int rl5[] = {0, 1, 0, 1, 0};
    CHECK(NEAR(map(q0, ql0, 1, r5, rl5, 5, 8, 2), (1.0 + 2.0 / 3) / 2));
    /* k = 20: all three: (1 + 2/3 + 3/5) / 3 */
    CHECK(NEAR(map(q0, ql0, 1, r5, rl5, 5, 8, 20), (1.0 + 2.0 / 3 + 3.0 / 5) / 3));

    /* 16-bit codes, bits in the second byte count too: query 0x0000; r0 = 0x0100 (d1,
     * class 1), r1 = 0x0000 (d0, class 0) -> relevant first -> 1 */
    unsigned char q16[] = {0x00, 0x00};
    unsigned char r16[] = {0x00, 0x01, 0x00, 0x00};
    int rl16[] = {1, 0};
    CHECK(NEAR(map(q16, ql0, 1, r16, rl16, 2, 16, 20), 1.0));

    /* bad arguments */
    CHECK(map(q0, ql0, 1, r, rl, 4, 7, 20) < 0);
    CHECK(map(q0, ql0, 0, r, rl, 4, 8, 20) < 0);
    CHECK(map(q0, ql0, 1, r, rl, 4, 8, 0) < 0);

    if (model_failures)
        return 1;
    printf("ok: mAP@k hand-computed cases\n");
    return 0;
}
