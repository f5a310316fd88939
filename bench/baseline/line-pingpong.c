/*
 * line-pingpong.c: the round trip of one cache line between two CPUs, what W7 (an MSI sender on one
 * CPU, the receiving vCPU's thread on another) pays up to once for every interrupt it moves: the
 * sender's write takes the IRR line from the receiver, the receiver's read takes it back
 * (docs/performance.md, "Twenty-sixth session"). Under a VM the two CPUs are the host's to place, so
 * the round trip is the host's too (437-490 ns on the 2-core Zen 5 of that session, while one W7
 * attempt read 130 ns an interrupt where the others read 450-720).
 *
 *   gcc -O2 -std=gnu11 -pthread -o line-pingpong line-pingpong.c && ./line-pingpong [A] [B] [TRIPS] [RUNS]
 *
 * A thread pinned to CPU A writes an odd count into a 64-byte line and waits for the next even one,
 * which a thread pinned to CPU B writes back. A and B default to the first two CPUs this process may
 * run on, the two W7CrossThread pins its receiver and first sender to. Prints
 *
 *   pingpong-A-B ns/round-trip min=X median=M max=Y [r1 r2 ...]
 *
 * over RUNS timed runs of TRIPS round trips each (defaults 200000 and 5).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { MaxRuns = 1000 };

static _Alignas(64) volatile long line[8];
static long trips;
static int cpu_b;

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (err != 0) {
        fprintf(stderr, "line-pingpong: cannot pin to CPU %d (error %d)\n", cpu, err);
        exit(2);
    }
}

static void *answer(void *arg)
{
    long runs = (long)arg;
    pin(cpu_b);
    for (long r = 0; r < runs; r++)
        for (long i = 1; i <= trips; i++) {
            while (line[0] != 2 * i - 1)
                ;
            line[0] = 2 * i;
        }
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The n-th (0-based) CPU this process may run on, or -1 when it may run on fewer. */
static int allowed_cpu(int n)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set) && n-- == 0)
            return cpu;
    return -1;
}

int main(int argc, char **argv)
{
    int cpu_a = argc > 1 ? atoi(argv[1]) : allowed_cpu(0);
    cpu_b = argc > 2 ? atoi(argv[2]) : allowed_cpu(1);
    if (cpu_a < 0 || cpu_b < 0) {
        fprintf(stderr, "line-pingpong: needs two CPUs (this process may run on fewer)\n");
        return 2;
    }
    trips = argc > 3 ? atol(argv[3]) : 200000;
    long runs = argc > 4 ? atol(argv[4]) : 5;
    if (cpu_a == cpu_b || trips < 1 || runs < 1 || runs > MaxRuns) {
        /* on one CPU the two threads would take turns a scheduler slice at a time */
        fprintf(stderr, "usage: line-pingpong [A] [B, not A] [TRIPS >= 1] [RUNS 1-%d]\n", MaxRuns);
        return 2;
    }

    pin(cpu_a);
    pthread_t other;
    /* one extra untimed run first, so that both threads are running and the line is warm */
    if (pthread_create(&other, NULL, answer, (void *)(runs + 1)) != 0) {
        fprintf(stderr, "line-pingpong: cannot start the second thread\n");
        return 2;
    }

    double ns[MaxRuns];
    for (long r = -1; r < runs; r++) {
        /* the answering thread waits for 1 again, after its last answer of the run before */
        line[0] = 0;
        double t0 = now_ns();
        for (long i = 1; i <= trips; i++) {
            line[0] = 2 * i - 1;
            while (line[0] != 2 * i)
                ;
        }
        double t = (now_ns() - t0) / (double)trips;
        if (r >= 0)
            ns[r] = t;
    }
    pthread_join(other, NULL);

    double sorted[MaxRuns];
    for (long r = 0; r < runs; r++)
        sorted[r] = ns[r];
    qsort(sorted, (size_t)runs, sizeof sorted[0], by_value);
    printf("pingpong-%d-%d ns/round-trip min=%.1f median=%.1f max=%.1f [", cpu_a, cpu_b, sorted[0],
           sorted[runs / 2], sorted[runs - 1]);
    for (long r = 0; r < runs; r++)
        printf(r ? " %.1f" : "%.1f", ns[r]);
    printf("]\n");
    return 0;
}
