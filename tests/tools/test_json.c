/*
 * The tool pack's JSON (src/tools/json.c): what it accepts and how it writes
 * it back, what it refuses and why, its limits, the builders and lookups.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/json.h"

/* Parses n bytes of s; the compact text back, or NULL with the error in e. */
static char *round_trip(const char *s, size_t n, struct jv_error *e)
{
        struct jv *v = jv_parse(s, n, NULL, e);
        char *out = v ? jv_dump(v, JV_COMPACT, NULL) : NULL;
        if (v)
                assert_non_null(out);
        jv_free(v);
        return out;
}

/* ---- valid documents: parsed, then written compact ---- */

static void test_valid(void **state)
{
        (void)state;
        static const struct {
                const char *in, *out; /* out NULL: the same as in */
        } cases[] = {
            {"{}", NULL},
            {"[]", NULL},
            {" \t\r\n[ 1 , 2 ]\n ", "[1,2]"},
            {"[true,false,null]", NULL},
            {"{\"a\":{\"b\":[{}, []]}}", "{\"a\":{\"b\":[{},[]]}}"},
            {"{\"b\":1,\"a\":2}", NULL}, /* the order kept */
            /* numbers: their text kept, whatever their size */
            {"[0,-0,1,-1,10,1.5,-0.25,1e3,1E-3,2.5e+10,123.456e-7]", NULL},
            {"[18446744073709551615,18446744073709551616,-9223372036854775809]", NULL},
            {"[123456789012345678901234567890123456789012345678901234567890]", NULL},
            {"[1e308,-1e308,1e-400]", NULL},
            /* strings: every escape; written back with the short escapes */
            {"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\\\"\\\\/\\b\\f\\n\\r\\t\"]"},
            {"[\"\\u0041\\u00e9\\u20AC\"]", "[\"A\xc3\xa9\xe2\x82\xac\"]"},
            {"[\"\\u0001\\u001f\\u007f\"]", "[\"\\u0001\\u001F\x7f\"]"},
            /* a surrogate pair: U+1F600, and the highest, U+10FFFF */
            {"[\"\\ud83d\\ude00\"]", "[\"\xf0\x9f\x98\x80\"]"},
            {"[\"\\uDBFF\\uDFFF\"]", "[\"\xf4\x8f\xbf\xbf\"]"},
            /* raw UTF-8 kept as it is */
            {"[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"]", NULL},
            {"{\"\xc3\xa9\":\"\\u2028\"}", "{\"\xc3\xa9\":\"\xe2\x80\xa8\"}"},
            {"[\"\"]", NULL},
            {"{\"\":1}", NULL},
            {"[\"a\\\\\"]", NULL},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct jv_error e;
                char *out = round_trip(cases[i].in, strlen(cases[i].in), &e);
                if (!out)
                        fail_msg("'%s' refused: %s", cases[i].in, e.text);
                assert_string_equal(out, cases[i].out ? cases[i].out : cases[i].in);
                free(out);
        }
}

/* ---- invalid documents: refused, the error saying why ---- */

static void test_invalid(void **state)
{
        (void)state;
        static const struct {
                const char *in, *err;
        } cases[] = {
            /* the top level */
            {"", "'[' or '{' expected near end of input"},
            {"   ", "'[' or '{' expected near end of input"},
            {"<html>", "'[' or '{' expected near '<'"},
            {"1", "'[' or '{' expected near '1'"},
            {"\"s\"", "'[' or '{' expected near '\"'"},
            {"null", "'[' or '{' expected"},
            {"{} {}", "end of input expected near '{'"},
            {"[]x", "end of input expected near 'x'"},
            {"[]\x01", "end of input expected near byte 0x01"},
            /* truncated input */
            {"[", "premature end of input"},
            {"[1", "premature end of input, ',' or ']' expected"},
            {"[1,", "premature end of input, a value expected"},
            {"{", "premature end of input, a string key or '}' expected"},
            {"{\"a\"", "premature end of input, ':' expected"},
            {"{\"a\":", "premature end of input, a value expected"},
            {"{\"a\":1,", "premature end of input, a string key expected"},
            {"[\"abc", "unterminated string"},
            {"[\"abc\\", "unterminated string"},
            {"[\"abc\\\"]", "unterminated string"},
            {"[tru", "invalid token near 't'"},
            {"[-", "invalid number"},
            /* structure */
            {"[1,]", "invalid token near ']'"},
            {"[1 2]", "',' or ']' expected near '2'"},
            {"{\"a\" 1}", "':' expected near '1'"},
            {"{1:2}", "a string key or '}' expected near '1'"},
            {"{\"a\":1,}", "a string key expected near '}'"},
            {"{'a':1}", "a string key or '}' expected near '''"},
            {"[True]", "invalid token near 'T'"},
            {"[nul]", "invalid token near 'n'"},
            {"[NaN]", "invalid token near 'N'"},
            {"[Infinity]", "invalid token near 'I'"},
            {"[/* c */]", "invalid token near '/'"},
            /* numbers */
            {"[01]", "a leading zero"},
            {"[-01]", "a leading zero"},
            {"[+1]", "invalid token near '+'"},
            {"[.5]", "invalid token near '.'"},
            {"[1.]", "no digit after '.'"},
            {"[1.e5]", "no digit after '.'"},
            {"[1e]", "no digit in the exponent"},
            {"[1e+]", "no digit in the exponent"},
            {"[0x10]", "',' or ']' expected near 'x'"},
            {"[1e999999]", "real number overflow"},
            {"[-1e400]", "real number overflow"},
            /* strings */
            {"[\"a\nb\"]", "control character 0x0a in a string"},
            {"[\"a\tb\"]", "control character 0x09 in a string"},
            {"[\"\\x41\"]", "invalid escape '\\x'"},
            {"[\"\\U0041\"]", "invalid escape '\\U'"},
            {"[\"\\u00\"]", "invalid \\u escape"},
            {"[\"\\u00g0\"]", "invalid \\u escape"},
            {"[\"\\u0000\"]", "\\u0000 is not allowed"},
            {"[\"\\ud83d\"]", "lone high surrogate \\uD83D"},
            {"[\"\\ud83dx\"]", "lone high surrogate"},
            {"[\"\\ud83d\\u0041\"]", "lone high surrogate"},
            {"[\"\\ud83d\\ud83d\"]", "lone high surrogate"},
            {"[\"\\ude00\"]", "lone low surrogate \\uDE00"},
            {"[\"\\ude00\\ud83d\"]", "lone low surrogate"},
            /* UTF-8 */
            {"[\"\x80\"]", "invalid UTF-8 (byte 0x80)"},
            {"[\"\xc3\"]", "invalid UTF-8 (byte 0xc3)"},
            {"[\"\xc3\x28\"]", "invalid UTF-8"},
            {"[\"\xc0\xaf\"]", "invalid UTF-8 (byte 0xc0)"},         /* overlong '/' */
            {"[\"\xe0\x80\xaf\"]", "invalid UTF-8 (byte 0xe0)"},     /* overlong */
            {"[\"\xed\xa0\x80\"]", "invalid UTF-8 (byte 0xed)"},     /* a surrogate */
            {"[\"\xf4\x90\x80\x80\"]", "invalid UTF-8 (byte 0xf4)"}, /* past U+10FFFF */
            {"[\"\xf5\x80\x80\x80\"]", "invalid UTF-8 (byte 0xf5)"},
            {"[\"\xff\"]", "invalid UTF-8 (byte 0xff)"},
            {"[\"\xe2\x82\"]", "invalid UTF-8"},
            {"{\"\xff\":1}", "invalid UTF-8"},
            /* duplicate keys: refused, in small and large objects */
            {"{\"a\":1,\"a\":2}", "duplicate object key 'a'"},
            {"{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", "duplicate object key 'c'"},
            {"{\"k1\":1,\"k2\":1,\"k3\":1,\"k4\":1,\"k5\":1,\"k6\":1,\"k7\":1,\"k8\":1,"
             "\"k9\":1,\"k3\":1}",
             "duplicate object key 'k3'"},
            {"{\"\\u0061\":1,\"a\":2}", "duplicate object key 'a'"}, /* after unescaping */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct jv_error e;
                char *out = round_trip(cases[i].in, strlen(cases[i].in), &e);
                if (out)
                        fail_msg("'%s' accepted as %s", cases[i].in, out);
                if (!strstr(e.text, cases[i].err))
                        fail_msg("'%s': expected '%s', got '%s'", cases[i].in, cases[i].err,
                                 e.text);
        }
}

/* A NUL byte inside the text is not JSON either. */
static void test_nul_byte(void **state)
{
        (void)state;
        struct jv_error e;
        assert_null(round_trip("[\"a\0b\"]", 7, &e));
        assert_non_null(strstr(e.text, "control character 0x00"));
        assert_null(round_trip("[1]\0", 4, &e));
        assert_non_null(strstr(e.text, "end of input expected near byte 0x00"));
}

/* Where the error is: line, column (bytes) and offset. */
static void test_error_position(void **state)
{
        (void)state;
        struct jv_error e;
        const char *s = "{\n  \"a\": [1,\n    2 3]\n}";
        assert_null(jv_parse(s, strlen(s), NULL, &e));
        assert_string_equal(e.text, "',' or ']' expected near '3'");
        assert_int_equal(e.line, 3);
        assert_int_equal(e.column, 7);
        assert_int_equal(e.offset, (size_t)(strchr(s, '3') - s));
}

/* ---- limits ---- */

static char *nested(size_t depth)
{
        char *s = malloc(2 * depth + 1);
        assert_non_null(s);
        for (size_t i = 0; i < depth; i++) {
                s[i] = '[';
                s[2 * depth - 1 - i] = ']';
        }
        s[2 * depth] = '\0';
        return s;
}

static void test_limits(void **state)
{
        (void)state;
        struct jv_error e;
        /* depth: the default, and a smaller one */
        char *ok = nested(JV_DEPTH_MAX), *deep = nested(JV_DEPTH_MAX + 1);
        struct jv *v = jv_parse(ok, strlen(ok), NULL, &e);
        assert_non_null(v);
        jv_free(v);
        assert_null(jv_parse(deep, strlen(deep), NULL, &e));
        assert_non_null(strstr(e.text, "nested deeper than 128 levels"));
        free(ok);
        free(deep);
        /* a hostile depth does not reach the stack */
        char *huge = nested(1000000);
        assert_null(jv_parse(huge, strlen(huge), NULL, &e));
        assert_non_null(strstr(e.text, "nested deeper"));
        free(huge);
        struct jv_limits lim = {.depth = 2, .bytes = 64, .values = 5};
        v = jv_parse("[[1]]", 5, &lim, &e);
        assert_non_null(v);
        jv_free(v);
        assert_null(jv_parse("[[[1]]]", 7, &lim, &e));
        assert_string_equal(e.text, "nested deeper than 2 levels");
        assert_null(jv_parse("{\"a\":{\"b\":{}}}", 14, &lim, &e));
        /* values: five, not six (keys not counted) */
        v = jv_parse("[1,2,3,4]", 9, &lim, &e);
        assert_non_null(v);
        jv_free(v);
        assert_null(jv_parse("[1,2,3,4,5]", 11, &lim, &e));
        assert_string_equal(e.text, "more than 5 values");
        v = jv_parse("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 25, &lim, &e);
        assert_non_null(v);
        jv_free(v);
        /* bytes */
        char big[65];
        memset(big, ' ', sizeof(big));
        big[0] = '[';
        big[63] = ']';
        v = jv_parse(big, 64, &lim, &e);
        assert_non_null(v);
        jv_free(v);
        assert_null(jv_parse(big, 65, &lim, &e));
        assert_string_equal(e.text, "the document is larger than 64 bytes");
}

/* ---- reading ---- */

static void test_lookups(void **state)
{
        (void)state;
        struct jv_error e;
        const char *s = "{\"s\":\"x\\u00e9\",\"i\":-42,\"u\":18446744073709551615,\"r\":1.5,"
                        "\"big\":18446744073709551616,\"t\":true,\"f\":false,\"n\":null,"
                        "\"a\":[1,{\"k\":\"v\"}],\"o\":{\"p\":{\"q\":7}}}";
        struct jv *v = jv_parse(s, strlen(s), NULL, &e);
        assert_non_null(v);
        assert_true(jv_is_object(v));
        assert_int_equal(jv_size(v), 10);
        assert_string_equal(jv_key_at(v, 0), "s");
        assert_null(jv_key_at(v, 10));
        assert_string_equal(jv_str(jv_get(v, "s")), "x\xc3\xa9");
        assert_int_equal(jv_strlen(jv_get(v, "s")), 3);
        int64_t i;
        uint64_t u;
        assert_int_equal(jv_i64(jv_get(v, "i"), &i), 0);
        assert_int_equal(i, -42);
        assert_int_equal(jv_u64(jv_get(v, "i"), &u), -1);
        assert_int_equal(jv_u64(jv_get(v, "u"), &u), 0);
        assert_true(u == UINT64_MAX);
        assert_int_equal(jv_i64(jv_get(v, "u"), &i), -1);
        assert_int_equal(jv_u64(jv_get(v, "big"), &u), -1);
        assert_string_equal(jv_number_text(jv_get(v, "big")), "18446744073709551616");
        assert_true(jv_is_number(jv_get(v, "r")));
        assert_false(jv_is_integer(jv_get(v, "r")));
        assert_int_equal(jv_i64(jv_get(v, "r"), &i), -1);
        assert_true(jv_is_true(jv_get(v, "t")) && jv_is_bool(jv_get(v, "t")));
        assert_true(jv_is_false(jv_get(v, "f")) && jv_is_bool(jv_get(v, "f")));
        assert_true(jv_is_null(jv_get(v, "n")));
        assert_false(jv_is_null(jv_get(v, "missing"))); /* absent is not null */
        assert_int_equal(jv_type(jv_get(v, "missing")), JV_NULL);
        assert_string_equal(jv_str(jv_get(jv_at(jv_get(v, "a"), 1), "k")), "v");
        assert_null(jv_at(jv_get(v, "a"), 2));
        assert_int_equal(jv_i64(jv_dig(v, "o", "p", "q", NULL), &i), 0);
        assert_int_equal(i, 7);
        assert_null(jv_dig(v, "o", "x", "q", NULL));
        assert_null(jv_dig(v, "s", "p", NULL)); /* not an object on the way */
        /* the wrong type reads as nothing, never as a crash */
        assert_null(jv_str(jv_get(v, "i")));
        assert_null(jv_get(jv_get(v, "a"), "k"));
        assert_int_equal(jv_size(jv_get(v, "s")), 0);
        assert_null(jv_get(NULL, "s"));
        assert_null(jv_at(NULL, 0));
        assert_null(jv_str(NULL));
        assert_int_equal(jv_i64(NULL, &i), -1);
        /* references: a member outlives its parent */
        struct jv *o = jv_ref(jv_get(v, "o"));
        jv_free(v);
        assert_int_equal(jv_i64(jv_dig(o, "p", "q", NULL), &i), 0);
        jv_free(o);
        jv_free(NULL);
}

/* ---- building and writing ---- */

static void test_build(void **state)
{
        (void)state;
        struct jv *arr = jv_array();
        jv_push(arr, jv_int(-5));
        jv_push(arr, jv_uint(UINT64_MAX));
        jv_push(arr, jv_bool(true));
        jv_push(arr, jv_null());
        jv_push(arr, jv_stringn("ab", 1));
        jv_push(arr, jv_object());
        struct jv *o =
            jv_obj("s", jv_string("q\"\\\n\x01/\xc3\xa9"), "a", arr, "e", jv_array(), NULL);
        jv_set(o, "s", jv_string("replaced")); /* a key set twice keeps its place */
        size_t len;
        char *s = jv_dump(o, JV_COMPACT, &len);
        assert_string_equal(
            s, "{\"s\":\"replaced\",\"a\":[-5,18446744073709551615,true,null,\"a\",{}],\"e\":[]}");
        assert_int_equal(len, strlen(s));
        free(s);
        s = jv_dump(o, JV_INDENT, NULL);
        assert_string_equal(s, "{\n  \"s\": \"replaced\",\n  \"a\": [\n    -5,\n"
                               "    18446744073709551615,\n    true,\n    null,\n    \"a\",\n"
                               "    {}\n  ],\n  \"e\": []\n}");
        free(s);
        jv_free(o);
        /* the escaper: quotes, backslashes and control characters; UTF-8 as it is */
        struct jv *str = jv_string("q\"\\\n\x01\x1f/\x7f\xc3\xa9");
        s = jv_dump(str, JV_COMPACT, NULL);
        assert_string_equal(s, "\"q\\\"\\\\\\n\\u0001\\u001F/\x7f\xc3\xa9\"");
        free(s);
        jv_free(str);
}

static void test_build_failures(void **state)
{
        (void)state;
        /* invalid UTF-8 or a NUL makes no string */
        assert_null(jv_string("bad \xff"));
        assert_null(jv_string("\xed\xa0\x80"));
        assert_null(jv_stringn("a\0b", 3));
        assert_null(jv_string(NULL));
        /* a failed member marks its container: the whole tree is not written */
        struct jv *o = jv_obj("ok", jv_int(1), "bad", jv_string("\xff"), NULL);
        assert_non_null(o);
        assert_null(jv_dump(o, JV_COMPACT, NULL));
        struct jv *outer = jv_obj("inner", o, NULL);
        assert_null(jv_dump(outer, JV_COMPACT, NULL));
        jv_free(outer);
        struct jv *a = jv_array();
        assert_int_equal(jv_push(a, NULL), -1);
        assert_null(jv_dump(a, JV_COMPACT, NULL));
        jv_free(a);
        o = jv_object();
        assert_int_equal(jv_set(o, "\xff", jv_int(1)), -1);
        assert_null(jv_dump(o, JV_COMPACT, NULL));
        jv_free(o);
        /* the wrong container, or none: the value is freed, nothing leaks */
        a = jv_array();
        assert_int_equal(jv_set(a, "k", jv_int(1)), -1);
        jv_free(a);
        assert_int_equal(jv_push(NULL, jv_int(1)), -1);
        assert_int_equal(jv_set(NULL, "k", jv_int(1)), -1);
        assert_null(jv_dump(NULL, JV_COMPACT, NULL));
}

/* Whatever the bytes, the parser answers (a tree or an error); ASan watches. */
static void test_garbage(void **state)
{
        (void)state;
        static const char alphabet[] =
            "{}[]\":,\\u0123456789abcdefABCDEF-+.eEtrunlsf \n\x80\xc3\xff";
        char buf[64];
        uint32_t x = 12345;
        for (int round = 0; round < 20000; round++) {
                size_t n = 1 + (size_t)(round % (int)sizeof(buf));
                for (size_t i = 0; i < n; i++) {
                        x = x * 1103515245u + 12345u;
                        buf[i] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
                }
                buf[0] = round % 2 ? '[' : '{';
                struct jv_error e;
                struct jv *v = jv_parse(buf, n, NULL, &e);
                if (v) {
                        char *s = jv_dump(v, JV_COMPACT, NULL);
                        assert_non_null(s);
                        /* what it writes, it reads back the same */
                        char *again = round_trip(s, strlen(s), &e);
                        assert_non_null(again);
                        assert_string_equal(s, again);
                        free(again);
                        free(s);
                } else {
                        assert_true(e.text[0] != '\0');
                        assert_true(e.offset <= n);
                }
                jv_free(v);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_valid),    cmocka_unit_test(test_invalid),
            cmocka_unit_test(test_nul_byte), cmocka_unit_test(test_error_position),
            cmocka_unit_test(test_limits),   cmocka_unit_test(test_lookups),
            cmocka_unit_test(test_build),    cmocka_unit_test(test_build_failures),
            cmocka_unit_test(test_garbage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
