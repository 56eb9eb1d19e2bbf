/*
 * Percentiles of timings, for the benchmarks that print p50/p90/p99 of
 * samples in nanoseconds (the sample at the rank p of the sorted array,
 * rounded down).
 */
#ifndef OSVM_BENCH_STATS_H
#define OSVM_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int bench_cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* The p-th percentile (0..1) of v[0..n), in nanoseconds; sorts v. */
static inline uint64_t bench_pct(uint64_t *v, size_t n, double p)
{
        qsort(v, n, sizeof(*v), bench_cmp_u64);
        return v[(size_t)(p * (double)(n - 1))];
}

/* The same in milliseconds. */
static inline double bench_pct_ms(uint64_t *v, size_t n, double p)
{
        return (double)bench_pct(v, n, p) / 1e6;
}

#endif
