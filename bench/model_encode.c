/* model_encode: image-branch encode throughput (tiles/s) of a .duchm model.
 *
 * Scope: api->encode_images on 256x256 RGB tiles (the UCM tile size; they are
 * resampled to the model's input size inside, as in production), NTILES per call, in
 * rounds that alternate the baseline (1 thread) and the measured setting (THREADS
 * threads), so drifts in machine load hit both alike. The model library sets libtorch's
 * thread count once per process, so every measurement runs in a child process of its
 * own (fork after the model is open; the child warms up, times one call and reports
 * through a pipe). Prints the median tiles/s of each and the ratio. The model library
 * comes from $DUCH_MODEL_LIB.
 *
 *   model_encode MODEL [THREADS] [NTILES] [ROUNDS]     (default 2, 256, 5)
 */
#include "duch_model.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: model_encode MODEL [THREADS] [NTILES] [ROUNDS]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, n = argc > 3 ? atoi(argv[3]) : 256;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    const char *lib = getenv("DUCH_MODEL_LIB");
    void *h = dlopen(lib && *lib ? lib : "libduch_model.so", RTLD_NOW);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    const duch_model_api *(*get)(void) = (const duch_model_api *(*)(void))dlsym(h, "duch_model_api_v1");
    const duch_model_api *api = get ? get() : NULL;
    duch_model *m = NULL;
    if (!api || api->open(argv[1], &m) != DUCH_OK) {
        fprintf(stderr, "cannot open %s: %s\n", argv[1], api ? api->errmsg(m) : "no API");
        return 1;
    }
    int side = 256, nb = api->bits(m) / 8;
    unsigned char *pix = malloc((size_t)n * side * side * 3);
    const unsigned char **ptr = malloc(n * sizeof *ptr);
    int *ws = malloc(n * sizeof *ws), *hs = malloc(n * sizeof *hs);
    unsigned char *codes = malloc((size_t)n * nb);
    unsigned s = 1;
    for (size_t i = 0; i < (size_t)n * side * side * 3; i++) {
        s = s * 1103515245u + 12345u;
        pix[i] = (unsigned char)(((i / 3) % side) + (s >> 24) / 4);
    }
    for (int i = 0; i < n; i++) {
        ptr[i] = pix + (size_t)i * side * side * 3;
        ws[i] = hs[i] = side;
    }
    double *base = malloc(rounds * sizeof *base), *meas = malloc(rounds * sizeof *meas);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int fd[2];
            if (pipe(fd) != 0)
                return 1;
            pid_t pid = fork();
            if (pid == 0) {
                close(fd[0]);
                api->set_threads(m, k == 0 ? 1 : threads);
                api->encode_images(m, n < 32 ? n : 32, ptr, ws, hs, codes); /* warm-up */
                double t0 = now();
                double rate = api->encode_images(m, n, ptr, ws, hs, codes) == DUCH_OK
                                  ? n / (now() - t0) : -1;
                if (rate < 0)
                    fprintf(stderr, "encode: %s\n", api->errmsg(m));
                _exit(write(fd[1], &rate, sizeof rate) == sizeof rate && rate > 0 ? 0 : 1);
            }
            close(fd[1]);
            double rate = -1;
            if (pid < 0 || read(fd[0], &rate, sizeof rate) != sizeof rate || rate <= 0)
                return 1;
            close(fd[0]);
            waitpid(pid, NULL, 0);
            (k == 0 ? base : meas)[r] = rate;
        }
    }
    qsort(base, rounds, sizeof *base, cmp);
    qsort(meas, rounds, sizeof *meas, cmp);
    printf("model %s: %d bits, input %d px, %d tiles of %dx%d per call, %d rounds\n", argv[1],
           api->bits(m), api->input_size(m), n, side, side, rounds);
    printf("baseline 1 thread : %8.1f tiles/s (median)\n", base[rounds / 2]);
    printf("%2d threads        : %8.1f tiles/s (median)\n", threads, meas[rounds / 2]);
    printf("ratio             : %8.2fx\n", meas[rounds / 2] / base[rounds / 2]);
    api->close(m);
    free(pix), free(ptr), free(ws), free(hs), free(codes), free(base), free(meas);
    return 0;
}
