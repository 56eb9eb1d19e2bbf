/*
 * Elicitation answers: the schema's defaults filled in (SEP-1034) and every
 * answer checked against the schema before it is sent.
 */
#include "mcp/mcp.h"
#include "testutil.h"

#include <string.h>

static json_t *schema(void)
{
        return json_loads(
            "{\"type\": \"object\", \"properties\": {"
            " \"name\": {\"type\": \"string\", \"default\": \"John Doe\"},"
            " \"age\": {\"type\": \"integer\", \"default\": 30},"
            " \"score\": {\"type\": \"number\", \"default\": 95.5},"
            " \"status\": {\"type\": \"string\", \"enum\": [\"active\", \"inactive\"],"
            "            \"default\": \"active\"},"
            " \"hero\": {\"type\": \"string\", \"oneOf\": [{\"const\": \"h1\", \"title\": \"A\"}]},"
            " \"tags\": {\"type\": \"array\", \"items\": {\"enum\": [\"x\", \"y\"]}},"
            " \"ok\": {\"type\": \"boolean\", \"default\": true},"
            " \"note\": {\"type\": \"string\"}},"
            " \"required\": [\"name\"]}",
            0, NULL);
}

static void test_defaults_fill_what_is_left_out(void **state)
{
        (void)state;
        json_t *s = schema();
        json_t *given = json_pack("{s:s, s:i}", "name", "Ada", "age", 36);
        const char *why = NULL;
        json_t *out = mcp_elicit_fill(s, given, &why);
        assert_non_null(out);
        assert_string_equal(json_string_value(json_object_get(out, "name")), "Ada");
        assert_int_equal(json_integer_value(json_object_get(out, "age")), 36);
        assert_true(json_real_value(json_object_get(out, "score")) == 95.5);
        assert_string_equal(json_string_value(json_object_get(out, "status")), "active");
        assert_true(json_is_true(json_object_get(out, "ok")));
        /* no default, not given: left out */
        assert_null(json_object_get(out, "note"));
        json_decref(out);

        /* empty content: every default (the conformance scenario's case) */
        out = mcp_elicit_fill(s, NULL, &why);
        assert_non_null(out);
        assert_string_equal(json_string_value(json_object_get(out, "name")), "John Doe");
        assert_int_equal(json_object_size(out), 5);
        json_decref(out);
        json_decref(given);
        json_decref(s);
}

static void test_answers_that_do_not_fit_are_refused(void **state)
{
        (void)state;
        json_t *s = schema();
        static const char *const bad[] = {
            "{\"age\": \"thirty\"}",      /* a string for an integer */
            "{\"age\": 1.5}",             /* a real for an integer */
            "{\"status\": \"gone\"}",     /* outside the enum */
            "{\"hero\": \"h9\"}",         /* outside oneOf */
            "{\"tags\": [\"x\", \"z\"]}", /* an item outside the choices */
            "{\"tags\": \"x\"}",          /* not an array */
            "{\"ok\": \"yes\"}",          /* a string for a boolean */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                json_t *c = json_loads(bad[i], 0, NULL);
                const char *why = NULL;
                json_t *out = mcp_elicit_fill(s, c, &why);
                if (out)
                        fail_msg("accepted %s", bad[i]);
                assert_non_null(why);
                json_decref(c);
        }
        /* a required field without a value or a default */
        json_object_del(json_object_get(json_object_get(s, "properties"), "name"), "default");
        const char *why = NULL;
        assert_null(mcp_elicit_fill(s, NULL, &why));
        assert_string_equal(why, "a required field has no value");
        /* the choices it gives are taken */
        json_t *c = json_loads("{\"name\": \"n\", \"hero\": \"h1\", \"tags\": [\"y\"]}", 0, NULL);
        json_t *out = mcp_elicit_fill(s, c, &why);
        assert_non_null(out);
        json_decref(out);
        json_decref(c);
        json_decref(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults_fill_what_is_left_out),
            cmocka_unit_test(test_answers_that_do_not_fit_are_refused),
        };
        return cmocka_run_group_tests_name("mcp/elicit", tests, NULL, NULL);
}
