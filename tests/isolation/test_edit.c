/* `isolation set`: edits that keep what they do not touch, and refuse bad results. */
#include "testutil.h"

#include "isolation/isolation.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[96];

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(path, sizeof(path), "edit") < 0)
                return -1;
        strcat(path, "/isolation_config.json");
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        *strrchr(path, '/') = '\0';
        return tu_rmrf(path);
}

static void put(const char *text)
{
        assert_int_equal(fs_write_atomic(path, text, strlen(text), 0640, NULL), 0);
}

static char *get(void)
{
        char *text = NULL;
        assert_int_equal(fs_read_file(path, 1 << 20, &text, NULL, NULL), 0);
        return text;
}

static json_t *get_json(void)
{
        json_t *v = json_load_file(path, 0, NULL);
        assert_non_null(v);
        return v;
}

/* What an edit said into msg: the error, and its first diagnostic; then r. */
static int said(int r, const osvm_err *e, struct iso_diags *d, char *msg, size_t msglen)
{
        snprintf(msg, msglen, "%s%s%s", e->msg, d->n ? " | " : "", d->n ? d->v[0].text : "");
        iso_diags_free(d);
        return r;
}

static int set(const char *target, const char *a1, const char *a2, char *msg, size_t msglen)
{
        const char *as[2] = {a1, a2};
        struct iso_diags d = {0};
        osvm_err e = {0};
        int r = iso_config_set(path, target, as, a2 ? 2 : 1, &d, &e);
        return said(r, &e, &d, msg, msglen);
}

static void test_keeps_unknown_and_sets(void **state)
{
        (void)state;
        char msg[2048];
        put("{\"x_custom\": {\"keep\": [1, 2]}, \"mcp_servers\": {\"s\": {\"note\": \"mine\", "
            "\"tools\": {\"t\": {\"execution_mode\": \"direct\"}}}}}");
        assert_int_equal(
            set("s/t", "fallback=deny", "network.allow=a.example:443, b.example", msg, sizeof(msg)),
            0);
        json_t *v = get_json();
        assert_int_equal(json_array_size(json_object_get(json_object_get(v, "x_custom"), "keep")),
                         2);
        json_t *s = json_object_get(json_object_get(v, "mcp_servers"), "s");
        assert_string_equal(json_string_value(json_object_get(s, "note")), "mine");
        json_t *t = json_object_get(json_object_get(s, "tools"), "t");
        assert_string_equal(json_string_value(json_object_get(t, "execution_mode")), "direct");
        assert_string_equal(json_string_value(json_object_get(t, "fallback")), "deny");
        json_t *allow = json_object_get(json_object_get(t, "network"), "allow");
        assert_int_equal(json_array_size(allow), 2);
        assert_string_equal(json_string_value(json_array_get(allow, 1)), "b.example");
        json_decref(v);

        /* The file keeps its mode. */
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
}

static void test_creates_levels_and_removes(void **state)
{
        (void)state;
        char msg[2048];
        put("{}");
        assert_int_equal(
            set("new/tool", "mounts=/srv:/data,/tmp:/scratch:rw", NULL, msg, sizeof(msg)), 0);
        assert_int_equal(
            set("new", "microvm_config.memory_mb=512", "use_microvm=yes", msg, sizeof(msg)), 0);
        assert_int_equal(set(NULL, "timeout_ms=5000", NULL, msg, sizeof(msg)), 0);
        /* A server's execution_mode, for every tool of it that sets none. */
        assert_int_equal(set("new", "execution_mode=direct", NULL, msg, sizeof(msg)), 0);
        json_t *v = get_json();
        json_t *s = json_object_get(json_object_get(v, "mcp_servers"), "new");
        json_t *m = json_object_get(json_object_get(json_object_get(s, "tools"), "tool"), "mounts");
        assert_int_equal(json_array_size(m), 2);
        assert_true(json_is_true(json_object_get(json_array_get(m, 0), "readonly")));
        assert_true(json_is_false(json_object_get(json_array_get(m, 1), "readonly")));
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(s, "microvm_config"), "memory_mb")),
            512);
        assert_true(json_is_true(json_object_get(s, "use_microvm")));
        assert_int_equal(json_integer_value(json_object_get(v, "timeout_ms")), 5000);
        assert_string_equal(json_string_value(json_object_get(s, "execution_mode")), "direct");
        json_decref(v);

        assert_int_equal(set(NULL, "timeout_ms=", NULL, msg, sizeof(msg)), 0);
        v = get_json();
        assert_null(json_object_get(v, "timeout_ms"));
        json_decref(v);
}

struct refuse_case {
        const char *target, *assignment, *want;
};

static void test_refusals_leave_the_file_alone(void **state)
{
        (void)state;
        const char *orig = "{\n  \"mcp_servers\": {\"s\": {\"tools\": {\"t\": {}}}}\n}\n";
        const struct refuse_case cases[] = {
            {"s/t", "execution_mode=direkt",
             "mcp_servers.s.tools.t.execution_mode: \"direkt\" is not a valid value"},
            {"s/t", "memory_mb=lots", "memory_mb: expected an integer"},
            {"s/t", "memory_mb=0", "memory_mb: 0 is out of range"},
            {"s/t", "vcpus=99999999999", "vcpus: expected an integer"},
            {"s/t", "colour=blue", "unknown key \"colour\""},
            {"s/t", "noequals", "is not KEY=VALUE"},
            {"s/t", "=x", "is not KEY=VALUE"},
            {"s/t", "network.allow=bad host", "host name"},
            {"s/t", "mounts=/only", "is not HOST_PATH:VM_PATH"},
            {"s/t", "mounts=[1", "not valid JSON"},
            {"s", "execution_mode=direkt",
             "mcp_servers.s.execution_mode: \"direkt\" is not a valid value"},
            {"s", "use_microvm=perhaps", "expected true or false"},
            {NULL, "tools=x", "unknown key"},
            {"/t", "fallback=deny", "is not SERVER/TOOL"},
            /* a key with an empty part names nothing */
            {NULL, ".=deny", "\".\" is not a key: a part of it is empty"},
            {NULL, "network..allow=a.example", "is not a key: a part of it is empty"},
            {"s", "fallback.=deny", "is not a key: a part of it is empty"},
            /* what is not UTF-8 cannot be a JSON name or string */
            {"\xff-", "fallback=deny", "the target is not valid UTF-8"},
            {"s/t\xfe", "fallback=deny", "the target is not valid UTF-8"},
            {"s", "execution_mode=direct\xff", "execution_mode: the value is not valid UTF-8"},
            {"s", "network.allow=a.example, b\xc0\xaf", "the value is not valid UTF-8"},
            {"s", "microvm_mounts=/tmp:/d\xff:ro", "the value is not valid UTF-8"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char msg[2048];
                put(orig);
                int r = set(cases[i].target, cases[i].assignment, NULL, msg, sizeof(msg));
                print_message("%s %s -> %s\n", cases[i].target ? cases[i].target : "(top)",
                              cases[i].assignment, msg);
                assert_int_equal(r, -1);
                assert_non_null(strstr(msg, cases[i].want));
                char *now = get();
                assert_string_equal(now, orig);
                free(now);
        }
}

static void test_broken_file_is_not_edited(void **state)
{
        (void)state;
        char msg[2048];
        put("{ not json");
        assert_int_equal(set("s/t", "fallback=deny", NULL, msg, sizeof(msg)), -1);
        assert_non_null(strstr(msg, "cannot be edited until it parses"));
        char *now = get();
        assert_string_equal(now, "{ not json");
        free(now);
}

static int remove_server(const char *server, char *msg, size_t msglen)
{
        struct iso_diags d = {0};
        osvm_err e = {0};
        int r = iso_config_remove_server(path, server, &d, &e);
        return said(r, &e, &d, msg, msglen);
}

static void test_remove_server(void **state)
{
        (void)state;
        char msg[2048];
        const char *orig = "{\"x_custom\": 1, \"mcp_servers\": {\"a\": {\"sandbox\": true, "
                           "\"secrets\": [\"T=tok@api.example.com\"]}, \"b\": {\"note\": 2}}}";
        put(orig);
        /* a name the file does not hold: 0, the file as it was */
        assert_int_equal(remove_server("c", msg, sizeof(msg)), 0);
        char *now = get();
        assert_string_equal(now, orig);
        free(now);
        /* the server's whole entry goes; the rest stays */
        assert_int_equal(remove_server("a", msg, sizeof(msg)), 1);
        json_t *v = get_json();
        json_t *servers = json_object_get(v, "mcp_servers");
        assert_null(json_object_get(servers, "a"));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(servers, "b"), "note")),
                         2);
        assert_int_equal(json_integer_value(json_object_get(v, "x_custom")), 1);
        json_decref(v);
        assert_int_equal(remove_server("a", msg, sizeof(msg)), 0);
        /* no servers at all */
        put("{\"fallback\": \"deny\"}");
        assert_int_equal(remove_server("a", msg, sizeof(msg)), 0);
        /* a file that does not parse is left alone */
        put("{ not json");
        assert_int_equal(remove_server("a", msg, sizeof(msg)), -1);
        assert_non_null(strstr(msg, "cannot be edited until it parses"));
        now = get();
        assert_string_equal(now, "{ not json");
        free(now);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_keeps_unknown_and_sets),
            cmocka_unit_test(test_creates_levels_and_removes),
            cmocka_unit_test(test_refusals_leave_the_file_alone),
            cmocka_unit_test(test_broken_file_is_not_edited),
            cmocka_unit_test(test_remove_server),
        };
        return cmocka_run_group_tests_name("isolation/edit", tests, setup, teardown);
}
