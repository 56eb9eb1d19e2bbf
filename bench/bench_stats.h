/*
 * Percentiles of timings, for the benchmarks that print p50/p90/p99 of
 * samples in nanoseconds (the sample at the rank p of the sorted array,
 * rounded down), and medians (the sample at n / 2 of the sorted array).
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

/* The median of v[0..n), n > 0: v[n / 2] once sorted; sorts v. */
static inline uint64_t bench_median_u64(uint64_t *v, size_t n)
{
        qsort(v, n, sizeof(*v), bench_cmp_u64);
        return v[n / 2];
}

static inline int bench_cmp_f64(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* The same of doubles (ratios, rates). */
static inline double bench_median_f64(double *v, size_t n)
{
        qsort(v, n, sizeof(*v), bench_cmp_f64);
        return v[n / 2];
}

#endif
