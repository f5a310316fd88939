/*
 * w1-floor.c: the least work one W1 fixed-cycle can cost on one local APIC, in plain C with no
 * emulator around it. bench/compare.sh builds it with gcc -O2 and divides each W1 figure by it.
 *
 *   gcc -O2 -std=gnu11 -o w1-floor w1-floor.c && ./w1-floor [CYCLES] [RUNS] [inline|call|locked]
 *
 * One cycle, with TPR 0, the APIC enabled and the vector stepping through 0x20..0xff:
 *   post     IRR |= bit(v)
 *   pending  highest IRR vector, deliverable when its class (bits 7:4) is above PPR's class
 *   ack      IRR -> ISR for that vector, PPR = max(TPR, class(v))
 *   eoi      clear the highest ISR vector, PPR from TPR and the next highest ISR vector
 *
 * The 256-bit registers are four 64-bit words scanned from the top with a count-leading-zeros.
 * Two shapes are timed: "inline" (the four steps fused into the loop, with a compiler barrier per
 * cycle so the state goes through memory as it would between guest exits) and "noinline" (each step
 * an out-of-line call, the shape of an emulator's API). A third, "locked", is context rather than a
 * floor: the inline shape with the IRR set and cleared by locked read-modify-writes, as every
 * emulator that lets any thread deliver does (bhyve vlapic.c: atomic_set_int in
 * vlapic_set_intr_ready, atomic_clear_int in vlapic_intr_accepted; KVM lapic.c: set_bit and
 * clear_bit through kvm_lapic_set_vector and kvm_lapic_clear_vector). Each prints
 *
 *   floor-NAME ns/cycle median=M min=A max=B [r1 r2 ...]
 *
 * over RUNS timed runs of CYCLES cycles (defaults 50000000 and 5), after a warm-up run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	uint64_t irr[4], isr[4];
	uint32_t tpr, ppr;
} lapic_t;

static lapic_t the_apic;
static volatile uint64_t keep_alive;

static void fail(const char *why)
{
	fprintf(stderr, "w1-floor: %s\n", why);
	exit(1);
}

#define CLASS(x) ((uint32_t)(x) & 0xf0u)

static inline __attribute__((always_inline)) int top_vector(const uint64_t w[4])
{
	if (w[3]) return 192 + 63 - __builtin_clzll(w[3]);
	if (w[2]) return 128 + 63 - __builtin_clzll(w[2]);
	if (w[1]) return 64 + 63 - __builtin_clzll(w[1]);
	if (w[0]) return 63 - __builtin_clzll(w[0]);
	return -1;
}

static inline __attribute__((always_inline)) void do_post(lapic_t *a, int v)
{
	a->irr[v >> 6] |= UINT64_C(1) << (v & 63);
}

/* Another thread may set an IRR bit at any time: set and clear with locked instructions. */
static inline __attribute__((always_inline)) void do_post_locked(lapic_t *a, int v)
{
	__atomic_fetch_or(&a->irr[v >> 6], UINT64_C(1) << (v & 63), __ATOMIC_SEQ_CST);
}

static inline __attribute__((always_inline)) int do_pending(const lapic_t *a)
{
	int v = top_vector(a->irr);
	return v >= 0 && CLASS(v) > CLASS(a->ppr) ? v : -1;
}

static inline __attribute__((always_inline)) void do_ack(lapic_t *a, int v)
{
	uint64_t bit = UINT64_C(1) << (v & 63);
	a->irr[v >> 6] &= ~bit;
	a->isr[v >> 6] |= bit;
	/* v was deliverable: it is now the highest vector in service. */
	a->ppr = CLASS(a->tpr) >= CLASS(v) ? a->tpr : CLASS(v);
}

static inline __attribute__((always_inline)) void do_ack_locked(lapic_t *a, int v)
{
	uint64_t bit = UINT64_C(1) << (v & 63);
	__atomic_fetch_and(&a->irr[v >> 6], ~bit, __ATOMIC_SEQ_CST);
	a->isr[v >> 6] |= bit;
	a->ppr = CLASS(a->tpr) >= CLASS(v) ? a->tpr : CLASS(v);
}

static inline __attribute__((always_inline)) void do_eoi(lapic_t *a)
{
	int v = top_vector(a->isr);
	if (v >= 0)
		a->isr[v >> 6] &= ~(UINT64_C(1) << (v & 63));
	int next = top_vector(a->isr);
	uint32_t isr_class = next < 0 ? 0 : CLASS(next);
	a->ppr = CLASS(a->tpr) >= isr_class ? a->tpr : isr_class;
}

/* The same steps behind a call boundary. */
__attribute__((noinline)) void api_post(lapic_t *a, int v) { do_post(a, v); }
__attribute__((noinline)) int api_pending(const lapic_t *a) { return do_pending(a); }
__attribute__((noinline)) void api_ack(lapic_t *a, int v) { do_ack(a, v); }
__attribute__((noinline)) void api_eoi(lapic_t *a) { do_eoi(a); }

static __attribute__((noinline)) void run_inline(uint64_t cycles)
{
	lapic_t *a = &the_apic;
	uint64_t sum = 0;
	int v = 0x20;
	for (uint64_t i = 0; i < cycles; i++) {
		do_post(a, v);
		int p = do_pending(a);
		if (p != v)
			fail("inline: the posted vector is not the pending one");
		do_ack(a, p);
		do_eoi(a);
		sum += (uint64_t)p;
		__asm__ volatile("" : : "r"(a) : "memory");
		v = v == 0xff ? 0x20 : v + 1;
	}
	keep_alive += sum;
}

/* run_inline with the locked steps. Written out rather than shared with run_inline, so that the
 * floor's own code stays what every earlier session measured. */
static __attribute__((noinline)) void run_locked(uint64_t cycles)
{
	lapic_t *a = &the_apic;
	uint64_t sum = 0;
	int v = 0x20;
	for (uint64_t i = 0; i < cycles; i++) {
		do_post_locked(a, v);
		int p = do_pending(a);
		if (p != v)
			fail("locked: the posted vector is not the pending one");
		do_ack_locked(a, p);
		do_eoi(a);
		sum += (uint64_t)p;
		__asm__ volatile("" : : "r"(a) : "memory");
		v = v == 0xff ? 0x20 : v + 1;
	}
	keep_alive += sum;
}

static __attribute__((noinline)) void run_call(uint64_t cycles)
{
	lapic_t *a = &the_apic;
	uint64_t sum = 0;
	int v = 0x20;
	for (uint64_t i = 0; i < cycles; i++) {
		api_post(a, v);
		int p = api_pending(a);
		if (p != v)
			fail("noinline: the posted vector is not the pending one");
		api_ack(a, p);
		api_eoi(a);
		sum += (uint64_t)p;
		v = v == 0xff ? 0x20 : v + 1;
	}
	keep_alive += sum;
}

static double elapsed_ns(struct timespec t0, struct timespec t1)
{
	return (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
}

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static void time_variant(const char *name, void (*body)(uint64_t), uint64_t cycles, int runs)
{
	double per_cycle[64], sorted[64];
	body(cycles / 10 + 1); /* warm-up */
	for (int r = 0; r < runs; r++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		body(cycles);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		per_cycle[r] = elapsed_ns(t0, t1) / (double)cycles;
	}
	/* Every cycle ends with the APIC idle: a check that the loop did the whole cycle. */
	for (int i = 0; i < 4; i++)
		if (the_apic.irr[i] | the_apic.isr[i])
			fail("IRR or ISR not empty after the runs");
	if (the_apic.ppr != 0)
		fail("PPR not 0 after the runs");
	memcpy(sorted, per_cycle, sizeof(double) * (size_t)runs);
	qsort(sorted, (size_t)runs, sizeof(double), by_value);
	printf("floor-%s ns/cycle median=%.2f min=%.2f max=%.2f [", name, sorted[runs / 2], sorted[0], sorted[runs - 1]);
	for (int r = 0; r < runs; r++)
		printf(r ? " %.2f" : "%.2f", per_cycle[r]);
	printf("]\n");
}

int main(int argc, char **argv)
{
	uint64_t cycles = argc > 1 ? strtoull(argv[1], NULL, 0) : UINT64_C(50000000);
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	const char *which = argc > 3 ? argv[3] : "";
	if (cycles == 0)
		fail("CYCLES must be at least 1");
	if (runs < 1 || runs > 64)
		fail("RUNS must be 1..64");
	if (which[0] == '\0' || which[0] == 'i')
		time_variant("inline", run_inline, cycles, runs);
	if (which[0] == '\0' || which[0] == 'c')
		time_variant("noinline", run_call, cycles, runs);
	if (which[0] == '\0' || which[0] == 'l')
		time_variant("locked", run_locked, cycles, runs);
	return 0;
}
