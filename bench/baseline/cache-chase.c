/*
 * cache-chase.c: what one dependent load costs in a buffer of a given size, read over and over, to
 * see the shared last-level cache under this VM change from second to second (docs/performance.md,
 * "Twenty-fourth session"). w1-floor.c's loop lives in registers and the L1 and cannot see it.
 *
 *   gcc -O2 -std=gnu11 -o cache-chase cache-chase.c && ./cache-chase [MIB] [LOADS] [RUNS]
 *
 * The buffer (MIB mebibytes, default 8: inside a quiet L3, far outside the L2) holds one pointer per
 * 64-byte line, linked in a random cycle so that the prefetchers cannot guess the next line and
 * each load waits for the one before it. Prints
 *
 *   chase-MIB ns/load min=A median=M max=B [r1 r2 ...]
 *
 * over RUNS timed runs of LOADS loads each (defaults 1000000 and 5), after one untimed pass over
 * the whole cycle. On the Zen 5 of the twenty-fourth session 8 MiB read 18-20 ns a load while the
 * L3 was quiet and 40-120 ns for seconds at a time while it was not, with the floor unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { Line = 64, MaxRuns = 1000 };

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* xorshift64: the shuffle's randomness, fixed seed, so every run links the same cycle. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? atol(argv[1]) : 8;
    long loads = argc > 2 ? atol(argv[2]) : 1000000;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (mib < 1 || mib > 4096 || loads < 1 || runs < 1 || runs > MaxRuns) {
        fprintf(stderr, "usage: cache-chase [MIB 1..4096] [LOADS >= 1] [RUNS 1..%d]\n", MaxRuns);
        return 2;
    }

    size_t lines = (size_t)mib * 1024 * 1024 / Line;
    size_t *order = malloc(lines * sizeof *order);
    char *buffer = aligned_alloc(4096, lines * Line);
    if (order == NULL || buffer == NULL) {
        fprintf(stderr, "cache-chase: cannot allocate %ld MiB\n", mib);
        return 1;
    }

    /* A random cyclic order of the lines (Fisher-Yates), then each line points at the next. */
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < lines; i++)
        order[i] = i;
    for (size_t i = lines - 1; i > 0; i--) {
        size_t j = (size_t)(next_random(&seed) % (i + 1));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < lines; i++)
        *(char **)(buffer + order[i] * Line) = buffer + order[(i + 1) % lines] * Line;

    char *p = buffer + order[0] * Line;
    for (size_t i = 0; i < lines; i++) /* untimed: fault the pages in, fill the caches */
        p = *(char **)p;

    double ns[MaxRuns];
    for (int r = 0; r < runs; r++) {
        double start = now_ns();
        for (long i = 0; i < loads; i++)
            p = *(char **)p;
        ns[r] = (now_ns() - start) / (double)loads;
    }

    printf("chase-%ld ns/load", mib);
    double sorted[MaxRuns];
    for (int r = 0; r < runs; r++)
        sorted[r] = ns[r];
    qsort(sorted, (size_t)runs, sizeof sorted[0], by_value);
    printf(" min=%.2f median=%.2f max=%.2f [", sorted[0], sorted[runs / 2], sorted[runs - 1]);
    for (int r = 0; r < runs; r++)
        printf("%s%.2f", r ? " " : "", ns[r]);
    /* The last pointer is printed so that the compiler must keep every load. */
    printf("] end=%p\n", (void *)p);
    free(order);
    free(buffer);
    return 0;
}
