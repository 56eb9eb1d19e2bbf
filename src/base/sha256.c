/*
 * SHA-256 (FIPS 180-4), for the audit log's hashes: of a call's arguments
 * and of each record, chained to the one before it.
 *
 * Two implementations of the compression function: the CPU's SHA extensions
 * (x86-64 SHA-NI), chosen at the first use when CPUID says they are there,
 * and portable C, the fallback. Both are run by the tests
 * (sha256_force_portable).
 */
#include "base/base.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, unsigned n)
{
        return (x >> n) | (x << (32 - n));
}

/* One block, portable C. */
static void block(uint32_t h[8], const uint8_t *p)
{
        uint32_t w[64];
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 =
                    k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                k = g;
                g = f;
                f = e;
                e = d + t1;
                d = c;
                c = b;
                b = a;
                a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += k;
}

static void blocks_c(uint32_t h[8], const uint8_t *p, size_t n)
{
        for (; n; n--, p += 64)
                block(h, p);
}

#if defined(__x86_64__)
/*
 * n blocks with the SHA extensions. sha256rnds2 keeps the state as two
 * vectors, ABEF and CDGH, and does two rounds with the two words of W+K in
 * its third operand's low half; sha256msg1 and sha256msg2 extend the message
 * schedule four words at a time: W[t..t+3] = msg2(msg1(W[t-16..t-13],
 * W[t-12..t-9]) + W[t-7..t-4], W[t-4..t-1]).
 */
__attribute__((target("sha,sse4.1"))) static void blocks_ni(uint32_t h[8], const uint8_t *p,
                                                            size_t n)
{
        /* big-endian words in, in order */
        const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
        __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
        __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
        __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
        __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
        __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
        __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);
        for (; n; n--, p += 64) {
                __m128i abef0 = abef, cdgh0 = cdgh, m[4];
                for (int i = 0; i < 16; i++) {
                        if (i < 4) {
                                m[i] = _mm_shuffle_epi8(
                                    _mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
                        } else {
                                __m128i w = _mm_sha256msg1_epu32(m[i % 4], m[(i + 1) % 4]);
                                w = _mm_add_epi32(
                                    w, _mm_alignr_epi8(m[(i + 3) % 4], m[(i + 2) % 4], 4));
                                m[i % 4] = _mm_sha256msg2_epu32(w, m[(i + 3) % 4]);
                        }
                        __m128i wk =
                            _mm_add_epi32(m[i % 4], _mm_loadu_si128((const __m128i *)&K[4 * i]));
                        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
                        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
                }
                abef = _mm_add_epi32(abef, abef0);
                cdgh = _mm_add_epi32(cdgh, cdgh0);
        }
        __m128i feba = _mm_shuffle_epi32(abef, 0x1b);
        __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
        _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xf0));
        _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* SHA (CPUID.7.0:EBX), SSSE3 and SSE4.1 (CPUID.1:ECX), which blocks_ni uses. */
static bool cpu_has_sha(void)
{
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
                return false;
        return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#endif

typedef void (*blocks_fn)(uint32_t h[8], const uint8_t *p, size_t n);
static blocks_fn chosen;     /* the CPU's or the portable one; NULL: not yet chosen */
static bool portable_forced; /* sha256_force_portable */

static blocks_fn cpu_blocks(void)
{
#if defined(__x86_64__)
        if (cpu_has_sha())
                return blocks_ni;
#endif
        return blocks_c;
}

/* (any thread may choose: each chooses the same) */
static blocks_fn blocks(void)
{
        blocks_fn f = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
        if (!f) {
                f = cpu_blocks();
                __atomic_store_n(&chosen, f, __ATOMIC_RELAXED);
        }
        return __atomic_load_n(&portable_forced, __ATOMIC_RELAXED) ? blocks_c : f;
}

bool sha256_accelerated(void)
{
        return cpu_blocks() != blocks_c;
}

void sha256_force_portable(bool on)
{
        __atomic_store_n(&portable_forced, on, __ATOMIC_RELAXED);
}

void sha256_init(struct sha256 *s)
{
        static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        memcpy(s->h, h0, sizeof(h0));
        s->len = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t n)
{
        if (!n)
                return;
        const uint8_t *p = data;
        blocks_fn f = blocks();
        size_t used = (size_t)(s->len % 64);
        s->len += n;
        if (used) {
                size_t take = 64 - used < n ? 64 - used : n;
                memcpy(s->buf + used, p, take);
                p += take;
                n -= take;
                if (used + take < 64)
                        return;
                f(s->h, s->buf, 1);
        }
        /* whole blocks straight from data, the rest kept */
        if (n >= 64)
                f(s->h, p, n / 64);
        memcpy(s->buf, p + n / 64 * 64, n % 64);
}

void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN])
{
        uint64_t bits = s->len * 8;
        static const uint8_t pad[64] = {0x80};
        size_t used = (size_t)(s->len % 64);
        sha256_update(s, pad, used < 56 ? 56 - used : 120 - used);
        uint8_t len[8];
        for (int i = 0; i < 8; i++)
                len[i] = (uint8_t)(bits >> (56 - 8 * i));
        sha256_update(s, len, 8);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (uint8_t)(s->h[i] >> 24);
                out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
                out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
                out[4 * i + 3] = (uint8_t)s->h[i];
        }
}

void sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1])
{
        struct sha256 s;
        uint8_t d[SHA256_LEN];
        sha256_init(&s);
        sha256_update(&s, data, n);
        sha256_final(&s, d);
        for (int i = 0; i < SHA256_LEN; i++) {
                out[2 * i] = "0123456789abcdef"[d[i] >> 4];
                out[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
        }
        out[SHA256_HEX_LEN] = '\0';
}
