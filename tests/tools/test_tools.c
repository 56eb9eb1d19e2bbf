/*
 * The osvm-mcp tool pack's shared code (src/tools/common.c): base58, the
 * argument checks of every tool, the SOL string, the host-call answer and the
 * JSON-RPC response parsers, the results and the advertised definitions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/tools.h"

#define ADDR "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"
#define SYS  "11111111111111111111111111111111"
#define SIG                                                                                        \
        "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZk"    \
        "QUW"

/* An integer value, failing the test when v is none. */
static long long ival(const struct jv *v)
{
        int64_t i = 0;
        assert_int_equal(jv_i64(v, &i), 0);
        return i;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", b[i]);
        out[2 * n] = '\0';
}

/* ---- base58 ---- */

static void test_b58_valid(void **state)
{
        (void)state;
        static const struct {
                const char *in, *hex;
        } cases[] = {
            {"1", "00"},
            {"11", "0000"},
            {"2", "01"},
            {"z", "39"},
            {"21", "3a"},
            {"5Q", "ff"},
            {"1112", "00000001"},
            {SYS, "0000000000000000000000000000000000000000000000000000000000000000"},
            {"1111111111111111111111111111111z",
             "0000000000000000000000000000000000000000000000000000000000000039"},
            {"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
             "06ddf6e1d765a193d9cbe146ceeb79ac1cb485ed5f5b37913a8cf5857eff00a9"},
            {ADDR, "321cfa5add185e8893a5fd88013ec4d7e122ded46354cadff50d956395e75b60"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t out[TOOLS_B58_MAX];
                char err[200], h[2 * TOOLS_B58_MAX + 1];
                size_t len = 99;
                int r = tools_b58_decode(cases[i].in, out, sizeof(out), &len, err, sizeof(err));
                if (r != 0)
                        fail_msg("%s: %s", cases[i].in, err);
                hex(out, len, h);
                assert_string_equal(h, cases[i].hex);
        }
}

static void test_b58_invalid(void **state)
{
        (void)state;
        static const struct {
                const char *in, *err;
        } cases[] = {
            {"", "empty"},
            {"0", "character '0' at position 1 is not in the base58 alphabet"},
            {"abO", "character 'O' at position 3"},
            {"abI", "character 'I' at position 3"},
            {"abl", "character 'l' at position 3"},
            {"ab+c", "character '+' at position 3"},
            {"ab c", "byte 0x20 at position 3"},
            {"\xc3\xa9", "byte 0xc3 at position 1"},
            {"222222222222222222222222222222222222222222222222222222222222222222222222222222222222"
             "2222222",
             "too long (91 characters)"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t out[TOOLS_B58_MAX];
                char err[200] = "";
                size_t len;
                assert_int_equal(
                    tools_b58_decode(cases[i].in, out, sizeof(out), &len, err, sizeof(err)), -1);
                if (!strstr(err, cases[i].err))
                        fail_msg("'%s': expected '%s' in '%s'", cases[i].in, cases[i].err, err);
        }
        /* more bytes than the caller has room for */
        uint8_t small[4];
        char err[200];
        size_t len;
        assert_int_equal(tools_b58_decode("zzzzzzz", small, sizeof(small), &len, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "decodes to 6 bytes, more than 4"));
        assert_int_equal(tools_b58_decode("11111", small, sizeof(small), &len, err, sizeof(err)),
                         -1);
}

/* A plain encoder, for the round trip only. */
static void b58_encode(const uint8_t *b, size_t n, char *out)
{
        static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        uint8_t digits[128] = {0};
        size_t nd = 0, zeros = 0;
        while (zeros < n && b[zeros] == 0)
                zeros++;
        for (size_t i = zeros; i < n; i++) {
                unsigned carry = b[i];
                for (size_t j = 0; j < nd; j++) {
                        carry += (unsigned)digits[j] << 8;
                        digits[j] = (uint8_t)(carry % 58);
                        carry /= 58;
                }
                while (carry) {
                        digits[nd++] = (uint8_t)(carry % 58);
                        carry /= 58;
                }
        }
        size_t k = 0;
        for (size_t i = 0; i < zeros; i++)
                out[k++] = '1';
        for (size_t i = 0; i < nd; i++)
                out[k++] = alphabet[digits[nd - 1 - i]];
        out[k] = '\0';
}

static void test_b58_round_trip(void **state)
{
        (void)state;
        srand(58);
        for (int round = 0; round < 2000; round++) {
                uint8_t in[64], out[TOOLS_B58_MAX];
                size_t n = round % 2 ? 64 : 32, lead = (size_t)rand() % 5, len;
                for (size_t i = 0; i < n; i++)
                        in[i] = i < lead ? 0 : (uint8_t)rand();
                char text[128], err[200];
                b58_encode(in, n, text);
                assert_int_equal(tools_b58_decode(text, out, sizeof(out), &len, err, sizeof(err)),
                                 0);
                assert_int_equal(len, n);
                assert_memory_equal(in, out, n);
                assert_int_equal(tools_check_b58("v", text, n, err, sizeof(err)), 0);
        }
}

static void test_b58_lengths(void **state)
{
        (void)state;
        char err[TOOLS_ERR_MAX];
        assert_int_equal(tools_check_b58("address", ADDR, TOOLS_ADDRESS_LEN, err, sizeof(err)), 0);
        assert_int_equal(tools_check_b58("address", SYS, TOOLS_ADDRESS_LEN, err, sizeof(err)), 0);
        assert_int_equal(tools_check_b58("signature", SIG, TOOLS_SIGNATURE_LEN, err, sizeof(err)),
                         0);
        /* 31 bytes (43 twos), 33 bytes (a leading one more), a signature as an address */
        assert_int_equal(tools_check_b58("address", "2222222222222222222222222222222222222222222",
                                         TOOLS_ADDRESS_LEN, err, sizeof(err)),
                         -1);
        assert_string_equal(err, "address: '2222222222222222222222222222222222222222222' "
                                 "decodes to 31 bytes; an address is 32 bytes of base58");
        assert_int_equal(tools_check_b58("address", "1" ADDR, TOOLS_ADDRESS_LEN, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "decodes to 33 bytes"));
        assert_int_equal(tools_check_b58("address", SIG, TOOLS_ADDRESS_LEN, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "decodes to 64 bytes"));
        assert_int_equal(tools_check_b58("signature", ADDR, TOOLS_SIGNATURE_LEN, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "decodes to 32 bytes; a signature is 64 bytes"));
        /* a long hostile value is cut in the message */
        char longv[400];
        memset(longv, 'x', sizeof(longv) - 1);
        longv[sizeof(longv) - 1] = '\0';
        longv[0] = '0';
        assert_int_equal(tools_check_b58("address", longv, TOOLS_ADDRESS_LEN, err, sizeof(err)),
                         -1);
        assert_true(strlen(err) < 200);
        assert_non_null(strstr(err, "...' is not base58: too long (399 characters)"));
}

/* ---- argument checks, per tool ---- */

static void test_args_table(void **state)
{
        (void)state;
        static const struct {
                const char *tool, *args, *err; /* err NULL: accepted */
        } cases[] = {
            {"get_balance", "{\"address\": \"" ADDR "\"}", NULL},
            {"get_balance", "{\"address\": \"" SYS "\"}", NULL},
            {"get_balance", "{}", "missing argument 'address': Account address"},
            {"get_balance", "{\"address\": null}", "missing argument 'address'"},
            {"get_balance", "{\"address\": 7}", "address must be a string (base58)"},
            {"get_balance", "{\"address\": \"0x12\"}", "character '0' at position 1"},
            {"get_balance", "{\"address\": \"" SIG "\"}", "decodes to 64 bytes"},
            {"get_balance", "{\"address\": \"" ADDR "\", \"x\": 1}",
             "unknown argument 'x' (get_balance takes address)"},
            {"get_account_info", "{\"address\": \"" ADDR "\"}", NULL},
            {"get_account_info", "{\"address\": \"" ADDR "\", \"encoding\": \"jsonParsed\"}", NULL},
            {"get_account_info", "{\"address\": \"" ADDR "\", \"encoding\": null}", NULL},
            {"get_account_info", "{\"address\": \"" ADDR "\", \"encoding\": \"hex\"}",
             "encoding must be one of base64, base58, base64+zstd, jsonParsed (not 'hex')"},
            {"get_transaction", "{\"signature\": \"" SIG "\"}", NULL},
            {"get_transaction", "{\"signature\": \"" SIG "\", \"commitment\": \"finalized\"}",
             NULL},
            {"get_transaction", "{\"signature\": \"" SIG "\", \"commitment\": \"processed\"}",
             "commitment must be one of confirmed, finalized (not 'processed')"},
            {"get_transaction", "{\"signature\": \"" ADDR "\"}",
             "signature: '" ADDR "' decodes to 32 bytes; a signature is 64 bytes"},
            {"get_signatures_for_address", "{\"address\": \"" ADDR "\"}", NULL},
            {"get_signatures_for_address",
             "{\"address\": \"" ADDR "\", \"limit\": 1, \"before\": \"" SIG "\"}", NULL},
            {"get_signatures_for_address", "{\"address\": \"" ADDR "\", \"limit\": 1000}", NULL},
            {"get_signatures_for_address", "{\"address\": \"" ADDR "\", \"limit\": 0}",
             "limit must be an integer from 1 to 1000 (not 0)"},
            {"get_signatures_for_address", "{\"address\": \"" ADDR "\", \"limit\": 1001}",
             "limit must be an integer from 1 to 1000 (not 1001)"},
            {"get_signatures_for_address", "{\"address\": \"" ADDR "\", \"limit\": 10.0}",
             "limit must be an integer from 1 to 1000"},
            {"get_signatures_for_address", "{\"address\": \"" ADDR "\", \"limit\": \"10\"}",
             "limit must be an integer"},
            {"get_signatures_for_address", "{\"address\": \"" ADDR "\", \"before\": \"" ADDR "\"}",
             "before: '" ADDR "' decodes to 32 bytes"},
            {"get_slot", "{}", NULL},
            {"get_slot", "{\"commitment\": \"processed\"}", NULL},
            {"get_slot", "{\"commitment\": \"Finalized\"}",
             "commitment must be one of processed, confirmed, finalized (not 'Finalized')"},
            {"get_slot", "{\"commitment\": 1}", "commitment must be one of"},
            {"get_block_height", "{\"commitment\": \"confirmed\"}", NULL},
            {"get_block_height", "{\"limit\": 3}",
             "unknown argument 'limit' (get_block_height takes commitment)"},
            {"get_epoch_info", "{}", NULL},
            {"get_version", "{}", NULL},
            {"get_version", "{\"commitment\": \"confirmed\"}",
             "unknown argument 'commitment' (get_version takes no arguments)"},
            {"get_token_accounts_by_owner", "{\"owner\": \"" ADDR "\"}", NULL},
            {"get_token_accounts_by_owner", "{\"owner\": \"" ADDR "\", \"mint\": \"" SYS "\"}",
             NULL},
            {"get_token_accounts_by_owner",
             "{\"owner\": \"" ADDR "\", \"program_id\": \"" SYS "\"}", NULL},
            {"get_token_accounts_by_owner",
             "{\"owner\": \"" ADDR "\", \"mint\": \"" SYS "\", \"program_id\": \"" SYS "\"}",
             "give mint or program_id, not both"},
            {"get_token_accounts_by_owner",
             "{\"owner\": \"" ADDR "\", \"mint\": null, \"program_id\": \"" SYS "\"}", NULL},
            {"get_token_accounts_by_owner", "{\"owner\": \"" ADDR "\", \"mint\": \"abc\"}",
             "mint: 'abc' decodes to 3 bytes"},
            {"get_token_accounts_by_owner", "{\"address\": \"" ADDR "\"}",
             "unknown argument 'address' (get_token_accounts_by_owner takes owner, mint, "
             "program_id)"},
            {"get_latest_blockhash", "{\"commitment\": \"finalized\"}", NULL},
            {"solana_rpc_call", "{\"method\": \"getBalance\", \"params\": [\"" ADDR "\"]}", NULL},
            {"solana_rpc_call", "{\"method\": \"getHealth\"}", NULL},
            {"solana_rpc_call", "{\"method\": \"getProgramAccounts\", \"params\": []}", NULL},
            {"solana_rpc_call", "{\"method\": \"sendTransaction\", \"params\": [\"x\"]}",
             "method: 'sendTransaction' is not an allowed read-only method"},
            {"solana_rpc_call", "{\"method\": \"requestAirdrop\"}",
             "'requestAirdrop' is not an allowed"},
            {"solana_rpc_call", "{\"method\": \"getBalance\", \"params\": {}}",
             "params must be a JSON array"},
            {"solana_rpc_call", "{\"params\": []}", "missing argument 'method'"},
            {"solana_rpc_call", "[]", "the arguments must be a JSON object"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct tools_def *d = tools_find(cases[i].tool);
                assert_non_null(d);
                struct jv_error je;
                struct jv *args = jv_parse(cases[i].args, strlen(cases[i].args), NULL, &je);
                if (!args)
                        fail_msg("case %zu: %s", i, je.text);
                char err[TOOLS_ERR_MAX] = "";
                int r = tools_check_args(d, args, err, sizeof(err));
                jv_free(args);
                if (!cases[i].err && r != 0)
                        fail_msg("%s %s: refused: %s", cases[i].tool, cases[i].args, err);
                if (cases[i].err && (r != -1 || !strstr(err, cases[i].err)))
                        fail_msg("%s %s: expected '%s', got %d '%s'", cases[i].tool, cases[i].args,
                                 cases[i].err, r, err);
        }
}

static void test_parse_request(void **state)
{
        (void)state;
        const struct tools_def *d = tools_find("get_slot");
        char err[TOOLS_ERR_MAX];
        const char *ok[] = {
            "{\"name\": \"get_slot\", \"arguments\": {}}\n",
            "{\"name\": \"get_slot\"}",
            "{\"name\": \"get_slot\", \"arguments\": null, \"_meta\": {\"progressToken\": 1}}",
        };
        for (size_t i = 0; i < 3; i++) {
                struct jv *a = tools_parse_request(d, ok[i], strlen(ok[i]), err, sizeof(err));
                if (!a)
                        fail_msg("%s: %s", ok[i], err);
                assert_true(jv_is_object(a));
                jv_free(a);
        }
        static const struct {
                const char *req, *err;
        } bad[] = {
            {"", "the request is not JSON"},
            {"{\"name\": \"get_slot\",", "the request is not JSON"},
            {"[1]", "the request is not a JSON object"},
            {"{\"arguments\": {}}", "names no tool"},
            {"{\"name\": \"get_balance\", \"arguments\": {}}",
             "this image serves the tool get_slot, the request names 'get_balance'"},
            {"{\"name\": \"get_slot\", \"arguments\": {\"commitment\": \"x\"}}",
             "invalid arguments for get_slot: commitment must be one of"},
            {"{\"name\": \"get_slot\", \"arguments\": 3}", "the arguments must be a JSON object"},
            {"{\"name\": \"get_slot\", \"name\": \"get_slot\"}", "duplicate object key"},
            {"{\"name\": \"get_slot\"} {}", "the request is not JSON"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct jv *a =
                    tools_parse_request(d, bad[i].req, strlen(bad[i].req), err, sizeof(err));
                if (a || !strstr(err, bad[i].err))
                        fail_msg("'%s': expected '%s', got '%s'", bad[i].req, bad[i].err,
                                 a ? "(accepted)" : err);
        }
}

/* ---- lamports to SOL ---- */

static void test_sol_string(void **state)
{
        (void)state;
        static const struct {
                uint64_t lamports;
                const char *sol;
        } cases[] = {
            {0, "0"},
            {1, "0.000000001"},
            {10, "0.00000001"},
            {2039280, "0.00203928"},
            {123456789, "0.123456789"},
            {1000000000, "1"},
            {1500000000, "1.5"},
            {1000000001, "1.000000001"},
            {999999999999999999ULL, "999999999.999999999"},
            {UINT64_MAX, "18446744073.709551615"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[32];
                tools_sol_string(cases[i].lamports, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].sol);
        }
}

/* ---- the host's answer ---- */

static void test_host_answer(void **state)
{
        (void)state;
        struct tools_http h;
        char err[TOOLS_ERR_MAX];
        const char *ok = "{\"ok\": true, \"status\": 200, \"content_type\": \"application/json\", "
                         "\"body\": \"{\\\"a\\\": 1}\"}";
        assert_int_equal(tools_parse_host_answer(ok, strlen(ok), &h, err, sizeof(err)), 0);
        assert_int_equal(h.status, 200);
        assert_string_equal(h.body, "{\"a\": 1}");
        assert_int_equal(h.body_len, 8);
        free(h.body);
        const char *nobody = "{\"ok\": true, \"status\": 204}";
        assert_int_equal(tools_parse_host_answer(nobody, strlen(nobody), &h, err, sizeof(err)), 0);
        assert_int_equal(h.body_len, 0);
        assert_string_equal(h.body, "");
        free(h.body);
        static const struct {
                const char *line, *err;
        } bad[] = {
            {"{\"ok\": false, \"error\": \"refused: a.example:443 is not in the tool's "
             "network.allow\"}",
             "the host call failed: refused: a.example:443 is not in the tool's network.allow"},
            {"{\"ok\": false}", "the host call failed: (the host gave no reason)"},
            {"{\"ok\": \"yes\", \"status\": 200}", "not a host-call answer"},
            {"{\"status\": 200}", "not a host-call answer"},
            {"[true]", "not a host-call answer"},
            {"{\"ok\": true, \"status\": \"200\"}", "has no HTTP status"},
            {"{\"ok\": true, \"status\": 99}", "has no HTTP status"},
            {"{\"ok\": true, \"status\": 200, \"body\": 5}", "a body that is not a string"},
            {"garbage\x01\x02", "the host's answer is not JSON"},
            {"{\"ok\": true, \"status\": 200, \"body\": \"a\\u0000b\"}", "not JSON"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r =
                    tools_parse_host_answer(bad[i].line, strlen(bad[i].line), &h, err, sizeof(err));
                if (r != -1 || !strstr(err, bad[i].err))
                        fail_msg("'%s': expected '%s', got '%s'", bad[i].line, bad[i].err, err);
                assert_null(h.body);
        }
}

/* ---- the JSON-RPC response ---- */

static void test_rpc_response(void **state)
{
        (void)state;
        char err[TOOLS_ERR_MAX];
        struct jv *e;
        const char *ok = "{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": {\"context\": {\"slot\": "
                         "5}, \"value\": 42}}";
        struct jv *r = tools_parse_rpc(ok, strlen(ok), 200, &e, err, sizeof(err));
        assert_non_null(r);
        assert_null(e);
        assert_int_equal(ival(jv_get(r, "value")), 42);
        assert_int_equal(tools_context_slot(r), 5);
        jv_free(r);
        const char *null = "{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": null}";
        r = tools_parse_rpc(null, strlen(null), 200, &e, err, sizeof(err));
        assert_true(jv_is_null(r));
        jv_free(r);
        const char *noid = "{\"jsonrpc\": \"2.0\", \"result\": 3}";
        r = tools_parse_rpc(noid, strlen(noid), 200, &e, err, sizeof(err));
        assert_int_equal(ival(r), 3);
        jv_free(r);

        const char *rpcerr = "{\"jsonrpc\": \"2.0\", \"id\": 1, \"error\": {\"code\": -32602, "
                             "\"message\": \"Invalid param: WrongSize\"}}";
        assert_null(tools_parse_rpc(rpcerr, strlen(rpcerr), 200, &e, err, sizeof(err)));
        assert_string_equal(err, "RPC error -32602: Invalid param: WrongSize");
        assert_non_null(e);
        assert_int_equal(ival(jv_get(e, "code")), -32602);
        jv_free(e);
        const char *e429 = "{\"jsonrpc\": \"2.0\", \"id\": null, \"error\": {\"code\": 429, "
                           "\"message\": \"Too many requests\"}}";
        assert_null(tools_parse_rpc(e429, strlen(e429), 429, &e, err, sizeof(err)));
        assert_string_equal(err, "RPC error 429: Too many requests (HTTP status 429)");
        jv_free(e);

        static const struct {
                const char *body;
                long status;
                const char *err;
        } bad[] = {
            {"", 200, "the RPC endpoint sent an empty answer"},
            {"", 502, "the RPC endpoint sent an empty answer (HTTP status 502)"},
            {"<html>Bad Gateway</html>", 200,
             "the RPC endpoint's answer is not JSON ('[' or '{' expected near '<'): "
             "<html>Bad Gateway</html>"},
            {"<html>Bad Gateway</html>", 502,
             "the RPC endpoint answered HTTP status 502: <html>Bad Gateway</html>"},
            {"{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": 1", 200, "not JSON"},
            {"{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": 1}{}", 200, "not JSON"},
            {"{\"result\": 1, \"result\": 2}", 200, "duplicate object key"},
            {"[{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": 1}]", 200, "not a JSON-RPC response"},
            {"{\"jsonrpc\": \"2.0\", \"id\": 1}", 200, "neither a result nor an error"},
            {"{\"jsonrpc\": \"2.0\", \"id\": 2, \"result\": 1}", 200, "answered another request"},
            {"{\"jsonrpc\": \"2.0\", \"id\": \"1\", \"result\": 1}", 200,
             "answered another request"},
            {"{\"jsonrpc\": \"2.0\", \"id\": 1, \"error\": \"boom\"}", 200,
             "malformed JSON-RPC error"},
            {"{\"jsonrpc\": \"2.0\", \"id\": 1, \"error\": {\"code\": \"x\", \"message\": "
             "\"m\"}}",
             200, "malformed JSON-RPC error"},
            {"{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": 1}", 500,
             "the RPC endpoint answered HTTP status 500"},
            {"{\"result\": 1e999999}", 200, "not JSON"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                r = tools_parse_rpc(bad[i].body, strlen(bad[i].body), bad[i].status, &e, err,
                                    sizeof(err));
                if (r || e || !strstr(err, bad[i].err))
                        fail_msg("'%s' (%ld): expected '%s', got '%s'", bad[i].body, bad[i].status,
                                 bad[i].err, r ? "(a result)" : err);
        }
        /* A long garbage body is quoted short and printable. */
        char big[4096];
        memset(big, '\x07', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        big[0] = 'x';
        assert_null(tools_parse_rpc(big, strlen(big), 200, &e, err, sizeof(err)));
        assert_true(strlen(err) < 300);
        assert_non_null(strstr(err, ": x???"));
        assert_non_null(strstr(err, "..."));
}

static void test_big_ints(void **state)
{
        (void)state;
        static const struct {
                const char *in, *out; /* out NULL: unchanged */
        } cases[] = {
            {"{\"rentEpoch\":18446744073709551615}", "{\"rentEpoch\":\"18446744073709551615\"}"},
            {"[9223372036854775807,-9223372036854775808]", NULL},
            {"[9223372036854775808,-9223372036854775809]",
             "[\"9223372036854775808\",\"-9223372036854775809\"]"},
            {"[1.8446744073709551615e19,18446744073709551615.5]", NULL},
            {"{\"s\":\"18446744073709551615\",\"q\":\"a\\\"18446744073709551615\"}", NULL},
            {"[123456789012345678901234567890]", "[\"123456789012345678901234567890\"]"},
            {"{\"a\":[{\"b\":[99999999999999999999]}]}",
             "{\"a\":[{\"b\":[\"99999999999999999999\"]}]}"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct jv_error je;
                struct jv *v = jv_parse(cases[i].in, strlen(cases[i].in), NULL, &je);
                if (!v)
                        fail_msg("'%s': %s", cases[i].in, je.text);
                size_t n = jv_big_ints_as_strings(v);
                char *out = jv_dump(v, JV_COMPACT, NULL);
                assert_string_equal(out, cases[i].out ? cases[i].out : cases[i].in);
                assert_true((n != 0) == (cases[i].out != NULL));
                free(out);
                jv_free(v);
        }
        /* a whole response: the account's rentEpoch becomes a string, the rest stays */
        const char *body =
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"context\":{\"slot\":3},\"value\":{"
            "\"lamports\":1000000000000000000,\"rentEpoch\":18446744073709551615}}}";
        struct jv *e;
        char err[TOOLS_ERR_MAX];
        struct jv *r = tools_parse_rpc(body, strlen(body), 200, &e, err, sizeof(err));
        assert_non_null(r);
        struct jv *v = jv_get(r, "value");
        assert_int_equal(ival(jv_get(v, "lamports")), 1000000000000000000LL);
        assert_string_equal(jv_str(jv_get(v, "rentEpoch")), "18446744073709551615");
        jv_free(r);
}

static void test_rpc_request(void **state)
{
        (void)state;
        char *s = tools_rpc_request("getBalance", tools_string_params(ADDR));
        assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getBalance\","
                               "\"params\":[\"" ADDR "\"]}");
        free(s);
        s = tools_rpc_request("getVersion", NULL);
        assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getVersion\"}");
        free(s);
}

/* ---- results ---- */

static void test_result(void **state)
{
        (void)state;
        struct jv *r = tools_result("Balance of X: 1 lamports (0.000000001 SOL)",
                                    jv_obj("lamports", jv_int(1), NULL), false, false);
        char *s = jv_dump(r, JV_COMPACT, NULL);
        assert_string_equal(s, "{\"content\":[{\"type\":\"text\",\"text\":\"Balance of X: 1 "
                               "lamports (0.000000001 SOL)\"}],\"structuredContent\":{"
                               "\"lamports\":1},\"isError\":false}");
        free(s);
        jv_free(r);

        struct jv *data = jv_array();
        jv_push(data, jv_int(1));
        r = tools_result("Account X:", jv_obj("data", data, NULL), true, false);
        assert_string_equal(jv_str(jv_get(jv_at(jv_get(r, "content"), 0), "text")),
                            "Account X:\n{\"data\":[1]}");
        jv_free(r);

        r = tools_result("bad \xff byte", NULL, false, true);
        s = jv_dump(r, JV_COMPACT, NULL);
        assert_string_equal(s, "{\"content\":[{\"type\":\"text\",\"text\":\"bad ? byte\"}],"
                               "\"isError\":true}");
        free(s);
        jv_free(r);
}

static void test_tool_fail_and_ok(void **state)
{
        (void)state;
        struct tool t = {.def = tools_find("get_slot"), .host_fd = -1};
        assert_int_equal(tools_fail(&t, jv_obj("code", jv_int(7), NULL), "getSlot: %s", "boom"),
                         -1);
        assert_true(jv_is_true(jv_get(t.result, "isError")));
        assert_int_equal(ival(jv_get(jv_get(t.result, "structuredContent"), "code")), 7);
        /* a later result replaces the earlier one */
        assert_int_equal(
            tools_ok(&t, jv_obj("slot", jv_int(9), NULL), false, "Current slot: %d", 9), 0);
        assert_true(jv_is_false(jv_get(t.result, "isError")));
        jv_free(t.result);
        /* no fd 3: the RPC call fails in words, before looking at the environment */
        t.result = NULL;
        assert_null(tools_rpc(&t, "getSlot", jv_array()));
        const char *text = jv_str(jv_get(jv_at(jv_get(t.result, "content"), 0), "text"));
        assert_non_null(strstr(text, "the host channel is missing"));
        jv_free(t.result);
}

static void test_u64(void **state)
{
        (void)state;
        uint64_t v = 0;
        struct jv *j = jv_int(5);
        assert_int_equal(tools_u64(j, &v), 0);
        assert_int_equal(v, 5);
        jv_free(j);
        j = jv_int(-1);
        assert_int_equal(tools_u64(j, &v), -1);
        jv_free(j);
        j = jv_uint(UINT64_MAX);
        assert_int_equal(tools_u64(j, &v), 0);
        assert_true(v == UINT64_MAX);
        jv_free(j);
        j = jv_parse("[5.0, 18446744073709551616]", 26, NULL, &(struct jv_error){0});
        assert_int_equal(tools_u64(jv_at(j, 0), &v), -1);
        assert_int_equal(tools_u64(jv_at(j, 1), &v), -1);
        jv_free(j);
        assert_int_equal(tools_u64(NULL, &v), -1);
        assert_int_equal(tools_context_slot(NULL), 0);
}

/* ---- the definitions ---- */

static void test_definitions(void **state)
{
        (void)state;
        static const char *const names[] = {
            "get_balance",
            "get_account_info",
            "get_transaction",
            "get_signatures_for_address",
            "get_slot",
            "get_block_height",
            "get_epoch_info",
            "get_version",
            "get_token_accounts_by_owner",
            "get_latest_blockhash",
            "solana_rpc_call",
        };
        assert_int_equal(tools_ndefs, sizeof(names) / sizeof(names[0]));
        struct jv *list = tools_list_json();
        assert_int_equal(jv_size(list), tools_ndefs);
        for (size_t i = 0; i < tools_ndefs; i++) {
                const struct tools_def *d = tools_find(names[i]);
                assert_non_null(d);
                struct jv *t = jv_at(list, i);
                struct jv *schema = jv_get(t, "inputSchema");
                assert_string_equal(jv_str(jv_get(t, "name")), d->name);
                assert_true(strlen(jv_str(jv_get(t, "description"))) > 10);
                assert_string_equal(jv_str(jv_get(schema, "type")), "object");
                assert_true(jv_is_false(jv_get(schema, "additionalProperties")));
                size_t nargs = 0;
                for (const struct tools_arg *a = d->args; a->name; a++, nargs++)
                        assert_non_null(jv_get(jv_get(schema, "properties"), a->name));
                assert_int_equal(jv_size(jv_get(schema, "properties")), nargs);
                struct jv *one = tools_def_json(d);
                char *a = jv_dump(one, JV_COMPACT, NULL), *b = jv_dump(t, JV_COMPACT, NULL);
                assert_string_equal(a, b);
                free(a);
                free(b);
                jv_free(one);
        }
        assert_null(tools_find("sendTransaction"));
        assert_null(tools_find(NULL));
        /* get_balance requires its address; token accounts exclude two filters */
        struct jv *gb = tools_def_json(tools_find("get_balance"));
        assert_string_equal(jv_str(jv_at(jv_get(jv_get(gb, "inputSchema"), "required"), 0)),
                            "address");
        jv_free(gb);
        struct jv *ta = tools_def_json(tools_find("get_token_accounts_by_owner"));
        assert_non_null(jv_get(jv_get(ta, "inputSchema"), "not"));
        jv_free(ta);
        jv_free(list);
}

static void test_allow_list(void **state)
{
        (void)state;
        static const char *const yes[] = {
            "getBalance",
            "getAccountInfo",
            "getTransaction",
            "getSlot",
            "getBlockHeight",
            "getEpochInfo",
            "getVersion",
            "getLatestBlockhash",
            "getSignaturesForAddress",
            "getTokenAccountsByOwner",
            "getMultipleAccounts",
            "getProgramAccounts",
            "getHealth",
            "getGenesisHash",
            "getMinimumBalanceForRentExemption",
            "getFeeForMessage",
            "getBlock",
            "getBlockTime",
            "getSupply",
            "getTokenAccountBalance",
            "getTokenSupply",
        };
        static const char *const no[] = {
            "sendTransaction",    "requestAirdrop", "simulateTransaction",
            "getbalance",         "getBalance ",    "",
            "sendRawTransaction",
        };
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
                if (!tools_rpc_method_allowed(yes[i]))
                        fail_msg("%s should be allowed", yes[i]);
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
                if (tools_rpc_method_allowed(no[i]))
                        fail_msg("%s should not be allowed", no[i]);
        assert_false(tools_rpc_method_allowed(NULL));
        /* the advertised enum is the allow-list itself */
        struct jv *d = tools_def_json(tools_find("solana_rpc_call"));
        struct jv *en =
            jv_get(jv_get(jv_get(jv_get(d, "inputSchema"), "properties"), "method"), "enum");
        size_t n = 0;
        while (tools_rpc_allowed[n])
                n++;
        assert_int_equal(jv_size(en), n);
        jv_free(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_b58_valid),        cmocka_unit_test(test_b58_invalid),
            cmocka_unit_test(test_b58_round_trip),   cmocka_unit_test(test_b58_lengths),
            cmocka_unit_test(test_args_table),       cmocka_unit_test(test_parse_request),
            cmocka_unit_test(test_sol_string),       cmocka_unit_test(test_host_answer),
            cmocka_unit_test(test_rpc_response),     cmocka_unit_test(test_rpc_request),
            cmocka_unit_test(test_big_ints),         cmocka_unit_test(test_result),
            cmocka_unit_test(test_tool_fail_and_ok), cmocka_unit_test(test_u64),
            cmocka_unit_test(test_definitions),      cmocka_unit_test(test_allow_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
