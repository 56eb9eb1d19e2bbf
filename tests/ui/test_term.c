/* Text for the terminal: display columns, lines cut to a width, JSON without
 * controls, a call's egress in words. */
#include "testutil.h"

#include "ui/ui.h"

#include <fcntl.h>
#include <locale.h>
#include <string.h>

struct fit_case {
        const char *name;
        const char *in;
        size_t cols;
        bool utf8;
        const char *want;
};

static const struct fit_case fits[] = {
    {"fits: as it is", "abc", 3, true, "abc"},
    {"ASCII cut, ellipsis", "abcdef", 4, true, "abc\xe2\x80\xa6"},
    {"ASCII cut, ... without UTF-8", "abcdef", 5, false, "ab..."},
    {"no room even for ...", "abcdef", 2, false, "ab"},
    {"nothing", "abc", 0, true, ""},
    /* 日本語: three characters, two columns each */
    {"wide characters fit", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 6, true,
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
    {"wide characters cut whole", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 5, true,
     "\xe6\x97\xa5\xe6\x9c\xac\xe2\x80\xa6"},
    {"a wide character never half", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4, true,
     "\xe6\x97\xa5\xe2\x80\xa6"},
    /* é as e and a combining acute: one column */
    {"combining characters take no column",
     "e\xcc\x81"
     "e\xcc\x81"
     "e\xcc\x81",
     3, true,
     "e\xcc\x81"
     "e\xcc\x81"
     "e\xcc\x81"},
    {"combining characters stay with their base",
     "e\xcc\x81"
     "e\xcc\x81"
     "e\xcc\x81x",
     3, true,
     "e\xcc\x81"
     "e\xcc\x81\xe2\x80\xa6"},
    {"two-byte characters are one column", "\xce\xbc\xce\xbc\xce\xbc\xce\xbc", 3, true,
     "\xce\xbc\xce\xbc\xe2\x80\xa6"},
    {"a byte that is not UTF-8 is one column",
     "a\xff"
     "bcd",
     3, true, "a\xff\xe2\x80\xa6"},
};

static void test_fit(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(fits) / sizeof(fits[0]); i++) {
                const struct fit_case *c = &fits[i];
                print_message("case \"%s\"\n", c->name);
                char *got = ui_fit_columns(c->in, c->cols, c->utf8);
                assert_string_equal(got, c->want);
                assert_true(ui_text_columns(got) <= c->cols);
                free(got);
        }
}

static void test_columns(void **state)
{
        (void)state;
        assert_int_equal(ui_text_columns(""), 0);
        assert_int_equal(ui_text_columns("abc"), 3);
        assert_int_equal(ui_text_columns("\xe6\x97\xa5\xe6\x9c\xac"), 4);
        assert_int_equal(ui_text_columns("e\xcc\x81"), 1);
        assert_int_equal(ui_text_columns("\xf0\x9f\x98\x80"), 2); /* an emoji */
}

static void test_term_columns(void **state)
{
        (void)state;
        int fd = open("/dev/null", O_RDONLY);
        assert_true(fd >= 0);
        unsetenv("COLUMNS");
        assert_int_equal(ui_term_columns(fd), 0);
        setenv("COLUMNS", "42", 1);
        assert_int_equal(ui_term_columns(fd), 42);
        setenv("COLUMNS", "42x", 1);
        assert_int_equal(ui_term_columns(fd), 0);
        setenv("COLUMNS", "0", 1);
        assert_int_equal(ui_term_columns(fd), 0);
        unsetenv("COLUMNS");
        close(fd);
}

/* ui_print_json: a C1 control, a bidi override and DEL in a string become
 * \u escapes; other text stays UTF-8; the document decodes to the same value. */
static void test_json_without_controls(void **state)
{
        (void)state;
        char path[] = "/tmp/osvm-json-XXXXXX";
        int out = mkstemp(path);
        assert_true(out >= 0);
        json_t *v = json_pack("{s:s}", "k\xc2\x9b",
                              "\xce\xbcVM \xc2\x9b"
                              "31m \xe2\x80\xae rlo \x7f del \x1b esc");
        fflush(stdout);
        int saved = dup(1);
        dup2(out, 1);
        ui_print_json(v);
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        close(out);
        char *text;
        assert_int_equal(fs_read_file(path, 1 << 20, &text, NULL, NULL), 0);
        unlink(path);
        assert_non_null(strstr(text, "\"k\\u009b\""));
        assert_non_null(strstr(text, "\xce\xbcVM \\u009b31m \\u202e rlo \\u007f del \\u001B esc"));
        json_t *back = json_loads(text, 0, NULL);
        assert_true(json_equal(back, v));
        json_decref(back);
        json_decref(v);
        free(text);
}

/* A call's egress for a person: three destinations at most, the blocked
 * ones marked (or those alone), what a record holds sanitized. */
static void test_egress_words(void **state)
{
        (void)state;
        json_t *e = json_loads(
            "[{\"url\": \"https://rpc.example:443/\", \"allowed\": true, \"status\": 200},"
            " {\"host\": \"a.example\", \"port\": 443, \"allowed\": false, \"why\": \"off\"},"
            " {\"host\": \"b.example\", \"port\": 80, \"allowed\": true, \"why\": \"no route\"},"
            " {\"host\": \"::1\", \"port\": 8080, \"allowed\": false},"
            " {\"host\": \"x\\u001b[2Jy\", \"port\": 1, \"allowed\": false}]",
            0, NULL);
        assert_non_null(e);
        char *all = ui_egress_words(e, false);
        assert_string_equal(all, "https://rpc.example:443/, a.example:443 refused, b.example:80 "
                                 "failed, and 2 more");
        free(all);
        char *blocked = ui_egress_words(e, true);
        assert_string_equal(blocked, "a.example:443 refused, b.example:80 failed, [::1]:8080 "
                                     "refused, and 1 more");
        free(blocked);
        /* the last one alone: no control character reaches the terminal */
        json_t *last = json_pack("[O]", json_array_get(e, 4));
        char *one = ui_egress_words(last, true);
        assert_null(strchr(one, '\x1b'));
        assert_non_null(strstr(one, ":1 refused"));
        free(one);
        json_decref(last);
        char *none = ui_egress_words(json_array_get(e, 9), true);
        assert_string_equal(none, "");
        free(none);
        json_decref(e);
}

int main(void)
{
        setlocale(LC_ALL, "C.UTF-8");
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fit),          cmocka_unit_test(test_columns),
            cmocka_unit_test(test_term_columns), cmocka_unit_test(test_json_without_controls),
            cmocka_unit_test(test_egress_words),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
