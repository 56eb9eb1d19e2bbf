/* The server registry, mcp_servers.json: formats, checks and edits. */
#include "testutil.h"

#include "mcp/mcp.h"

#include <string.h>

static char dir[64];
static char path[128];

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "registry") < 0)
                return -1;
        snprintf(path, sizeof(path), "%s/mcp_servers.json", dir);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        return tu_rmrf(dir);
}

static void put(const char *text)
{
        assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600, NULL), 0);
}

static void test_original_format(void **state)
{
        (void)state;
        put("{\"osvm-mcp\": {\"name\": \"OpenSVM MCP\", \"url\": \"/opt/osvm-mcp/build/index.js\","
            " \"transport_type\": \"stdio\", \"auth\": null, \"enabled\": true, \"extra_config\": "
            "{},"
            " \"github_url\": \"https://example.org/osvm-mcp\", \"local_path\": \"/opt/osvm-mcp\"},"
            " \"dune\": {\"name\": \"Dune\", \"url\": \"node /opt/dune/server.js --quiet\","
            " \"transport_type\": \"stdio\", \"auth\": null, \"enabled\": false, \"extra_config\": "
            "{},"
            " \"github_url\": null, \"local_path\": null},"
            " \"remote\": {\"name\": \"Remote\", \"url\": \"https://mcp.example.com/mcp\","
            " \"transport_type\": \"http\", \"auth\": {\"auth_type\": \"bearer\", \"token\": "
            "\"t0k\"},"
            " \"enabled\": true, \"extra_config\": {}, \"github_url\": null, \"local_path\": "
            "null}}");
        struct mcp_registry reg;
        osvm_err e = {0};
        assert_int_equal(mcp_registry_load(path, &reg, &e), 0);
        assert_int_equal(reg.n, 3);

        const struct mcp_server_conf *s = mcp_registry_find(&reg, "osvm-mcp");
        assert_non_null(s);
        assert_int_equal(s->kind, MCP_KIND_STDIO);
        assert_string_equal(s->argv[0], "node");
        assert_string_equal(s->argv[1], "/opt/osvm-mcp/build/index.js");
        assert_null(s->argv[2]);
        assert_string_equal(s->name, "OpenSVM MCP");

        s = mcp_registry_find(&reg, "dune");
        assert_false(s->enabled);
        assert_string_equal(s->argv[2], "--quiet");

        s = mcp_registry_find(&reg, "remote");
        assert_int_equal(s->kind, MCP_KIND_HTTP);
        assert_string_equal(s->url, "https://mcp.example.com/mcp");
        assert_string_equal(s->headers[0], "Authorization: Bearer t0k");

        struct mcp_endpoint ep;
        mcp_server_endpoint(s, &ep);
        assert_string_equal(ep.url, s->url);
        assert_null(ep.argv);
        mcp_registry_free(&reg);
}

static void test_missing_file_is_empty(void **state)
{
        (void)state;
        struct mcp_registry reg;
        osvm_err e = {0};
        char *p = xasprintf("%s/none.json", dir);
        assert_int_equal(mcp_registry_load(p, &reg, &e), 0);
        assert_int_equal(reg.n, 0);
        mcp_registry_free(&reg);
        free(p);
}

struct bad_case {
        const char *text, *want;
};

static void test_bad_entries(void **state)
{
        (void)state;
        const struct bad_case cases[] = {
            {"[]", "top level must be an object"},
            {"{\"a\": 1}", "a: expected an object"},
            {"{\"bad id\": {\"command\": \"x\"}}", "server id \"bad id\""},
            {"{\"a\": {\"command\": 5}}", "a.command: expected a string"},
            {"{\"a\": {\"command\": \"x\", \"args\": \"y\"}}", "a.args: expected an array"},
            {"{\"a\": {\"command\": \"x\", \"args\": [1]}}", "a.args[0]: expected a string"},
            {"{\"a\": {\"command\": \"x\", \"env\": {\"K\": 1}}}", "a.env.K: expected a string"},
            {"{\"a\": {\"transport_type\": \"websocket\", \"url\": \"ws://x\"}}",
             "\"websocket\" is not supported"},
            {"{\"a\": {\"transport_type\": \"http\", \"url\": \"ftp://x\"}}",
             "needs an http:// or https:// URL"},
            /* every header name and value is checked when the registry is loaded */
            {"{\"a\": {\"url\": \"https://x\", \"headers\": {\"X\": \"a\\r\\nEvil: 1\"}}}",
             "a.headers.X: the value holds a control character"},
            {"{\"a\": {\"url\": \"https://x\", \"headers\": {\"X\": \"a\\u0001\"}}}",
             "a.headers.X: the value holds a control character"},
            {"{\"a\": {\"url\": \"https://x\", \"headers\": {\"X\": \"a\\u007f\"}}}",
             "a.headers.X: the value holds a control character"},
            {"{\"a\": {\"url\": \"https://x\", \"headers\": {\"X\": 1}}}",
             "a.headers.X: expected a string"},
            {"{\"a\": {\"url\": \"https://x\", \"headers\": {\"X Y\": \"v\"}}}",
             "a.headers.X Y: the name is not a valid header name"},
            {"{\"a\": {\"url\": \"https://x\", \"headers\": {\"X\\u001b[2J\": \"v\"}}}",
             "a.headers.X^[[2J: the name"},
            {"{\"a\": {\"url\": \"https://x\", \"headers\": {\"\": \"v\"}}}",
             "a.headers.: the name"},
            {"{\"a\": {\"url\": \"https://x\", \"auth\": {\"auth_type\": \"bearer\", "
             "\"token\": \"t\\r\\nX-Injected: 1\"}}}",
             "a.auth.token: the value holds a control character"},
            {"{\"a\": {\"url\": \"https://x\", \"auth\": {\"auth_type\": \"api_key\", "
             "\"token\": \"t\\u0007\"}}}",
             "a.auth.token: the value holds a control character"},
            {"{\"a\": {\"enabled\": \"yes\", \"command\": \"x\"}}", "a.enabled"},
            {"{\"a\": {\"name\": \"no command\"}}", "needs \"command\""},
            {"{\"a\": {\"command\": \"\"}}", "needs \"command\""},
            {"{\"a\": {}, \"a\": {}}", "invalid JSON"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                put(cases[i].text);
                struct mcp_registry reg;
                osvm_err e = {0};
                int r = mcp_registry_load(path, &reg, &e);
                print_message("%s -> %s\n", cases[i].text, e.msg);
                assert_int_equal(r, -1);
                assert_null(strchr(e.msg, '\x1b'));
                assert_non_null(strstr(e.msg, cases[i].want));
                assert_non_null(strstr(e.msg, "mcp_servers.json"));
                assert_int_equal(e.exit, OSVM_EXIT_CONFIG);
        }
}

static void test_edits_keep_other_fields(void **state)
{
        (void)state;
        put("{\"old\": {\"command\": \"x\", \"my_note\": \"keep me\"}}");
        osvm_err e = {0};
        char *argv[] = {"node", "server.js", "--root", "/a b", NULL};
        char *env[] = {"TOKEN=abc", NULL};
        assert_int_equal(mcp_registry_add_stdio(path, "new", argv, env, &e), 0);
        char *headers[] = {"Authorization: Bearer x", NULL};
        assert_int_equal(mcp_registry_add_http(path, "web", "http://127.0.0.1:9/mcp", headers, &e),
                         0);
        /* An id that exists is refused. */
        assert_int_equal(mcp_registry_add_stdio(path, "new", argv, NULL, &e), -1);
        assert_non_null(strstr(e.msg, "already registered"));

        json_t *doc = json_load_file(path, 0, NULL);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(doc, "old"), "my_note")), "keep me");
        json_t *n = json_object_get(doc, "new");
        assert_string_equal(json_string_value(json_object_get(n, "transport_type")), "stdio");
        assert_string_equal(json_string_value(json_object_get(n, "url")),
                            "node server.js --root '/a b'");
        assert_int_equal(json_array_size(json_object_get(n, "args")), 3);
        assert_string_equal(json_string_value(json_object_get(json_object_get(n, "env"), "TOKEN")),
                            "abc");
        json_decref(doc);

        struct mcp_registry reg;
        assert_int_equal(mcp_registry_load(path, &reg, &e), 0);
        const struct mcp_server_conf *s = mcp_registry_find(&reg, "new");
        assert_string_equal(s->argv[3], "/a b");
        assert_string_equal(s->env[0], "TOKEN=abc");
        s = mcp_registry_find(&reg, "web");
        assert_string_equal(s->headers[0], "Authorization: Bearer x");
        mcp_registry_free(&reg);

        assert_int_equal(mcp_registry_remove(path, "new", &e), 0);
        assert_int_equal(mcp_registry_remove(path, "new", &e), -1);
        assert_non_null(strstr(e.msg, "no server \"new\""));
}

static void test_bad_edits(void **state)
{
        (void)state;
        put("{}");
        osvm_err e = {0};
        char *argv[] = {"x", NULL};
        char *bad_env[] = {"NOEQUALS", NULL};
        assert_int_equal(mcp_registry_add_stdio(path, "a", argv, bad_env, &e), -1);
        assert_int_equal(e.exit, OSVM_EXIT_USAGE);
        err_clear(&e);
        assert_int_equal(mcp_registry_add_stdio(path, "a/b", argv, NULL, &e), -1);
        assert_non_null(strstr(e.msg, "may hold only"));
        err_clear(&e);
        /* osvm mcp add checks every --header: name and value */
        static const char *const bad_hdrs[] = {"X-Evil: a\r\nInjected: 1",
                                               "X-Evil: a\x01",
                                               "X-Evil: a\nb",
                                               "Bad Name: v",
                                               "NoColon",
                                               ": v"};
        for (size_t i = 0; i < sizeof(bad_hdrs) / sizeof(bad_hdrs[0]); i++) {
                char *hd[] = {(char *)bad_hdrs[i], NULL};
                err_clear(&e);
                if (mcp_registry_add_http(path, "h", "http://x", hd, &e) != -1)
                        fail_msg("--header \"%s\" was accepted", bad_hdrs[i]);
                print_message("%s\n", e.msg);
                assert_non_null(strstr(e.msg, "--header"));
                assert_int_equal(e.exit, OSVM_EXIT_USAGE);
                assert_null(strchr(e.msg, '\r'));
                assert_null(strchr(e.msg, '\x01'));
        }
        err_clear(&e);
        assert_int_equal(mcp_registry_add_http(path, "h", "ftp://x", NULL, &e), -1);
        assert_non_null(strstr(e.msg, "http://"));
        char *text = NULL;
        assert_int_equal(fs_read_file(path, 100, &text, NULL, NULL), 0);
        assert_string_equal(text, "{}");
        free(text);
}

static void test_import(void **state)
{
        (void)state;
        put("{\"keep\": {\"command\": \"x\"}}");
        char *src = xasprintf("%s/claude.json", dir);
        const char *text =
            "{\"mcpServers\": {"
            " \"fs\": {\"command\": \"npx\", \"args\": [\"-y\", \"server-filesystem\", \"/tmp\"],"
            "        \"env\": {\"A\": \"1\"}},"
            " \"web\": {\"type\": \"http\", \"url\": \"https://example.com/mcp\"},"
            " \"keep\": {\"command\": \"other\"},"
            " \"bad name\": {\"command\": \"x\"},"
            " \"empty\": {}}}";
        assert_int_equal(fs_write_atomic(src, text, strlen(text), 0600, NULL), 0);
        size_t added, skipped;
        osvm_err e = {0};
        assert_int_equal(mcp_registry_import(path, src, &added, &skipped, &e), 0);
        assert_int_equal(added, 2);
        assert_int_equal(skipped, 3);
        struct mcp_registry reg;
        assert_int_equal(mcp_registry_load(path, &reg, &e), 0);
        assert_int_equal(reg.n, 3);
        assert_string_equal(mcp_registry_find(&reg, "keep")->argv[0], "x"); /* untouched */
        const struct mcp_server_conf *fs = mcp_registry_find(&reg, "fs");
        assert_string_equal(fs->argv[0], "npx");
        assert_string_equal(fs->argv[3], "/tmp");
        assert_string_equal(fs->env[0], "A=1");
        assert_int_equal(mcp_registry_find(&reg, "web")->kind, MCP_KIND_HTTP);
        mcp_registry_free(&reg);

        /* imported headers are checked as the registry's own are */
        const char *evil = "{\"mcpServers\": {\"evil\": {\"url\": \"https://x/mcp\", "
                           "\"headers\": {\"X\": \"a\\u0001b\"}}}}";
        assert_int_equal(fs_write_atomic(src, evil, strlen(evil), 0600, NULL), 0);
        assert_int_equal(mcp_registry_import(path, src, &added, &skipped, &e), -1);
        assert_non_null(strstr(e.msg, "evil.headers.X"));
        assert_int_equal(mcp_registry_load(path, &reg, &e), 0);
        assert_null(mcp_registry_find(&reg, "evil"));
        mcp_registry_free(&reg);

        const char *notmcp = "{\"other\": {}}";
        assert_int_equal(fs_write_atomic(src, notmcp, strlen(notmcp), 0600, NULL), 0);
        assert_int_equal(mcp_registry_import(path, src, &added, &skipped, &e), -1);
        assert_non_null(strstr(e.msg, "no \"mcpServers\""));

        /* VS Code's format; disabled, cwd and env kept; the legacy SSE transport said so */
        const char *vscode =
            "{\"inputs\": [], \"servers\": {"
            " \"off\": {\"type\": \"stdio\", \"command\": \"node\", \"args\": [\"s.js\"],"
            "         \"cwd\": \"/srv/mcp\", \"env\": {\"K\": \"v\"}, \"disabled\": true},"
            " \"old\": {\"type\": \"sse\", \"url\": \"https://example.com/sse\"},"
            " \"vs\": {\"type\": \"http\", \"url\": \"https://example.com/mcp\"}}}";
        assert_int_equal(fs_write_atomic(src, vscode, strlen(vscode), 0600, NULL), 0);
        assert_int_equal(mcp_registry_import(path, src, &added, &skipped, &e), 0);
        assert_int_equal(added, 2);
        assert_int_equal(skipped, 1);
        assert_int_equal(mcp_registry_load(path, &reg, &e), 0);
        const struct mcp_server_conf *off = mcp_registry_find(&reg, "off");
        assert_non_null(off);
        assert_false(off->enabled);
        assert_string_equal(off->cwd, "/srv/mcp");
        assert_string_equal(off->env[0], "K=v");
        assert_null(mcp_registry_find(&reg, "old"));
        assert_int_equal(mcp_registry_find(&reg, "vs")->kind, MCP_KIND_HTTP);
        mcp_registry_free(&reg);
        free(src);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_original_format), cmocka_unit_test(test_missing_file_is_empty),
            cmocka_unit_test(test_bad_entries),     cmocka_unit_test(test_edits_keep_other_fields),
            cmocka_unit_test(test_bad_edits),       cmocka_unit_test(test_import),
        };
        return cmocka_run_group_tests_name("mcp/registry", tests, setup, teardown);
}
