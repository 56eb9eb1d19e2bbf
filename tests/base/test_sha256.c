/* SHA-256 against the FIPS 180-4 / NIST CAVP test vectors, over both
 * implementations: the CPU's SHA instructions (where this machine has them;
 * the group's setup picks) and the portable code. */
#include "testutil.h"

#include "base/base.h"

#include <string.h>

static void check(const char *msg, size_t n, const char *want)
{
        char hex[SHA256_HEX_LEN + 1];
        sha256_hex(msg, n, hex);
        assert_string_equal(hex, want);
}

static void test_vectors(void **state)
{
        (void)state;
        check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        check(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                           "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
        check(four, strlen(four),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', fed in pieces that straddle the 64-byte blocks. */
static void test_million_a(void **state)
{
        (void)state;
        char chunk[1001];
        memset(chunk, 'a', sizeof(chunk));
        struct sha256 s;
        sha256_init(&s);
        for (int i = 0; i < 1000; i++)
                sha256_update(&s, chunk, i % 2 ? 999 : 1001);
        uint8_t d[SHA256_LEN];
        sha256_final(&s, d);
        static const uint8_t want[SHA256_LEN] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92,
                                                 0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
                                                 0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e,
                                                 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
        assert_memory_equal(d, want, SHA256_LEN);
}

/* Every length across the padding boundary (55, 56, 63, 64 bytes) agrees
 * whether given at once or a byte at a time. */
static void test_split(void **state)
{
        (void)state;
        char msg[200];
        for (size_t i = 0; i < sizeof(msg); i++)
                msg[i] = (char)(i * 7);
        for (size_t n = 0; n < sizeof(msg); n++) {
                uint8_t a[SHA256_LEN], b[SHA256_LEN];
                struct sha256 s;
                sha256_init(&s);
                sha256_update(&s, msg, n);
                sha256_final(&s, a);
                sha256_init(&s);
                for (size_t i = 0; i < n; i++)
                        sha256_update(&s, msg + i, 1);
                sha256_final(&s, b);
                assert_memory_equal(a, b, SHA256_LEN);
        }
}

/* Long inputs at every alignment, whole and in uneven pieces: the CPU's
 * instructions and the portable code give the same digest. */
static void test_implementations_agree(void **state)
{
        (void)state;
        if (!sha256_accelerated())
                skip(); /* only the portable code on this CPU */
        enum { MAX = 4096 + 200 };
        uint8_t *msg = malloc(MAX + 16);
        assert_non_null(msg);
        uint32_t x = 12345;
        for (size_t i = 0; i < MAX + 16; i++) {
                x = x * 1103515245u + 12345u;
                msg[i] = (uint8_t)(x >> 16);
        }
        static const size_t lens[] = {0,   1,   55,  56,   63,   64,   65,
                                      127, 128, 129, 1000, 1024, 4096, MAX};
        for (size_t off = 0; off < 16; off++)
                for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
                        uint8_t d[2][SHA256_LEN], piecewise[SHA256_LEN];
                        for (int portable = 0; portable < 2; portable++) {
                                sha256_force_portable(portable);
                                struct sha256 s;
                                sha256_init(&s);
                                sha256_update(&s, msg + off, lens[k]);
                                sha256_final(&s, d[portable]);
                        }
                        sha256_force_portable(false);
                        struct sha256 s;
                        sha256_init(&s);
                        for (size_t i = 0, step = 1; i < lens[k]; i += step, step = step * 3 % 97)
                                sha256_update(&s, msg + off + i,
                                              step < lens[k] - i ? step : lens[k] - i);
                        sha256_final(&s, piecewise);
                        assert_memory_equal(d[0], d[1], SHA256_LEN);
                        assert_memory_equal(d[0], piecewise, SHA256_LEN);
                }
        free(msg);
}

static int cpu(void **state)
{
        (void)state;
        sha256_force_portable(false);
        return 0;
}

static int portable(void **state)
{
        (void)state;
        sha256_force_portable(true);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vectors),
            cmocka_unit_test(test_million_a),
            cmocka_unit_test(test_split),
        };
        const struct CMUnitTest both[] = {
            cmocka_unit_test(test_implementations_agree),
        };
        print_message("SHA-256: the CPU's instructions are %s\n",
                      sha256_accelerated() ? "there" : "not there (the portable code twice)");
        int failed = cmocka_run_group_tests_name("the CPU's instructions", tests, cpu, NULL);
        failed += cmocka_run_group_tests_name("the portable code", tests, portable, NULL);
        return failed + cmocka_run_group_tests_name("both", both, NULL, NULL);
}
