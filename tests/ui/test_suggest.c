/* Did-you-mean: the edit distance and the nearest name, as tables. */
#include "testutil.h"

#include "ui/ui.h"

#include <string.h>

static void test_distance(void **state)
{
        (void)state;
        static const struct {
                const char *a, *b;
                size_t d;
        } cases[] = {
            {"", "", 0},         {"mcp", "mcp", 0},      {"mpc", "mcp", 1}, /* a transposition */
            {"lsit", "list", 1}, {"mc", "mcp", 1},       {"mcpp", "mcp", 1},
            {"mxp", "mcp", 1},   {"status", "stats", 1}, {"docter", "doctor", 1},
            {"abc", "", 3},      {"", "help", 4},        {"kitten", "sitting", 3},
            {"ca", "abc", 3}, /* optimal string alignment: no edit after a transposition */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t d = ui_edit_distance(cases[i].a, cases[i].b);
                if (d != cases[i].d)
                        fail_msg("%s -> %s: %zu, wanted %zu", cases[i].a, cases[i].b, d,
                                 cases[i].d);
                assert_int_equal(ui_edit_distance(cases[i].b, cases[i].a), d);
        }
        char big[200];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(ui_edit_distance(big, "a"), SIZE_MAX); /* too long to be a typo */
}

static void test_nearest(void **state)
{
        (void)state;
        static const char *const cmds[] = {"isolation", "mcp",    "status",     "unikernel", "uk",
                                           "doctor",    "config", "completion", "help"};
        static const struct {
                const char *word, *want; /* want NULL: no suggestion */
        } cases[] = {
            {"mpc", "mcp"},
            {"mc", "mcp"},
            {"stauts", "status"},
            {"docter", "doctor"},
            {"hlep", "help"},
            {"isolaton", "isolation"},
            {"iso", "isolation"}, /* the one name it begins */
            {"comp", "completion"},
            {"co", NULL}, /* begins two names: config and completion */
            {"u", NULL},  /* too short to begin anything for sure */
            {"xyz", NULL},
            {"", NULL},
            {"banana", NULL},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *got = ui_nearest(cases[i].word, cmds, sizeof(cmds) / sizeof(cmds[0]));
                if (!cases[i].want ? got != NULL : !got || strcmp(got, cases[i].want) != 0)
                        fail_msg("\"%s\": got %s, wanted %s", cases[i].word, got ? got : "none",
                                 cases[i].want ? cases[i].want : "none");
        }
        static const char *const verbs[] = {"add", "remove", "list", "import", "tools", "call"};
        assert_string_equal(ui_nearest("lsit", verbs, 6), "list");
        assert_string_equal(ui_nearest("tool", verbs, 6), "tools");
        assert_string_equal(ui_nearest("cal", verbs, 6), "call");
        assert_null(ui_nearest("serve", verbs, 6));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_distance),
            cmocka_unit_test(test_nearest),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
