/*
 * Egress through the host: the allow-list, and host calls from a real tool
 * image in a VM and as a host process, against an HTTP server on loopback
 * that records what it received (tests/agent/llm_server.py).
 */
#include "testutil.h"

#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct check_case {
        const char *allow; /* comma-separated; NULL: the default (RPC endpoint only) */
        const char *url;
        bool ok;
};

static void test_allow_list(void **state)
{
        (void)state;
        const struct check_case cases[] = {
            {NULL, "https://rpc.example.com/", true},
            {NULL, "https://rpc.example.com:443/x", true},
            {NULL, "http://rpc.example.com/", false}, /* port 80, not 443 */
            {NULL, "https://evil.example.com/", false},
            {NULL, "file:///etc/passwd", false},
            {NULL, "gopher://rpc.example.com/", false},
            {"api.example.org", "https://api.example.org:8443/", true},
            {"api.example.org:443", "https://api.example.org:8443/", false},
            {"api.example.org:443", "https://API.example.org/", true},
            {"*.example.org", "https://a.b.example.org/", true},
            {"*.example.org", "https://example.org/", false},
            {"*.example.org", "https://badexample.org/", false},
            {"127.0.0.1:8899", "http://127.0.0.1:8899/", true},
            {"127.0.0.1:8899", "http://127.0.0.2:8899/", false},
            {"[::1]:8899", "http://[::1]:8899/", true},
            {"", "https://rpc.example.com/", false}, /* an empty list allows nothing */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct check_case *c = &cases[i];
                char *entries[4] = {0};
                char buf[256];
                snprintf(buf, sizeof(buf), "%s", c->allow ? c->allow : "");
                size_t n = 0;
                for (char *s = strtok(buf, ","); s && n < 4; s = strtok(NULL, ","))
                        entries[n++] = s;
                struct iso_strlist list = {n, entries};
                struct mcp_egress_policy p = {.who = "t/t",
                                              .allow = &list,
                                              .allow_is_default = c->allow == NULL,
                                              .rpc_url = "https://rpc.example.com"};
                char why[256];
                const char *r = mcp_egress_check(&p, c->url, why, sizeof(why));
                print_message("allow [%s] url %s -> %s\n", c->allow ? c->allow : "default", c->url,
                              r ? r : "allowed");
                assert_int_equal(r == NULL, c->ok);
                if (r)
                        assert_non_null(strstr(r, "refused"));
        }
}

/* ---- host calls from a tool ---- */

static char dir[64];
static pid_t server = -1;
static int port;

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "egress") < 0)
                return -1;
        char *script = xasprintf("%s/script.json", dir);
        const char *canned = "[{\"status\": 200, \"body\": {\"jsonrpc\": \"2.0\", \"id\": 1, "
                             "\"result\": 42}}, {\"status\": 200, \"body\": {\"result\": 43}}, "
                             "{\"status\": 200, \"body\": {\"result\": 44}}]";
        fs_write_atomic(script, canned, strlen(canned), 0600, NULL);
        char *record = xasprintf("%s/record.json", dir);
        int pfd[2];
        if (pipe(pfd) < 0)
                return -1;
        server = fork();
        if (server == 0) {
                dup2(pfd[1], 1);
                execlp("python3", "python3", "tests/agent/llm_server.py", "--script", script,
                       "--record", record, (char *)NULL);
                _exit(127);
        }
        close(pfd[1]);
        char line[64] = "";
        FILE *f = fdopen(pfd[0], "r");
        if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "PORT %d", &port) != 1)
                port = 0;
        if (f)
                fclose(f);
        free(script);
        free(record);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        if (server > 0) {
                kill(server, SIGTERM);
                waitpid(server, NULL, 0);
        }
        return tu_rmrf(dir);
}

static json_t *run(const char *url, bool in_vm)
{
        char *cwd = getcwd(NULL, 0);
        char *text = xasprintf("{\"mcp_servers\": {\"osvm-mcp\": {\"tools\": {\"fetch\": "
                               "{\"unikernel_image\": \"%s/build/guests/tool_fetch\"}}}}}",
                               cwd);
        struct iso_config cfg;
        struct iso_diags d = {0};
        assert_int_equal(iso_config_parse(text, strlen(text), "t", &cfg, &d), 0);
        iso_diags_free(&d);
        struct iso_host host = {.kvm_usable = true};
        struct iso_decision dec;
        iso_decide(&cfg, "osvm-mcp", "fetch", &host, &dec);
        json_t *args = json_pack("{s:s, s:s}", "url", url, "body", "hello-rpc");
        osvm_err e = {0};
        json_t *r = mcp_tool_run(&dec, "fetch", args, NULL, in_vm, &e);
        if (!r)
                fail_msg("%s", e.msg);
        json_decref(args);
        iso_decision_free(&dec);
        iso_config_free(&cfg);
        free(text);
        free(cwd);
        return r;
}

static const char *block(json_t *r, size_t i)
{
        return json_string_value(
            json_object_get(json_array_get(json_object_get(r, "content"), i), "text"));
}

static void test_host_calls(void **state)
{
        (void)state;
        char why[256];
        if (!port) {
                print_message("SKIP: python3 or tests/agent/llm_server.py is missing\n");
                skip();
        }
        if (access("build/guests/tool_fetch", R_OK) != 0) {
                print_message("SKIP: build/guests/tool_fetch is not built\n");
                skip();
        }
        bool kvm = vmm_probe(why, sizeof(why));
        if (!kvm)
                print_message("note: no VM runs (%s); direct mode only\n", why);
        char *rpc = xasprintf("http://127.0.0.1:%d/", port);
        setenv("OSVM_SOLANA_RPC", rpc, 1);
        setenv("OSVM_SOLANA_RPC_KEY", "s3cret-key", 1);
        for (int vm = kvm ? 1 : 0; vm >= 0; vm--) {
                print_message("%s\n", vm ? "in a VM" : "as a host process");
                json_t *r = run(rpc, vm);
                const char *answer = block(r, 0), *env = block(r, 1);
                print_message("  answer: %s\n  %s\n", answer, env);
                assert_non_null(strstr(answer, "\"ok\":true"));
                assert_non_null(strstr(answer, "\"status\":200"));
                assert_non_null(strstr(answer, "result"));
                /* The tool saw the endpoint, never the key. */
                assert_non_null(strstr(env, "OSVM_SOLANA_RPC=http://127.0.0.1"));
                assert_null(strstr(env, "s3cret"));
                assert_null(strstr(env, "KEY"));
                json_decref(r);

                /* Not the RPC endpoint and not allowed: refused, nothing sent. */
                char *other = xasprintf("http://127.0.0.2:%d/", port);
                r = run(other, vm);
                assert_non_null(strstr(block(r, 0), "refused"));
                assert_non_null(strstr(block(r, 0), "not in osvm-mcp/fetch's network.allow"));
                json_decref(r);
                free(other);
        }
        /* What reached the server: the host's credential, not the tool's forged one. */
        char *record = xasprintf("%s/record.json", dir);
        json_t *reqs = json_load_file(record, 0, NULL);
        assert_true(json_array_size(reqs) == (kvm ? 2u : 1u));
        size_t i;
        json_t *req;
        json_array_foreach(reqs, i, req)
        {
                json_t *h = json_object_get(req, "headers");
                assert_string_equal(json_string_value(json_object_get(h, "authorization")),
                                    "Bearer s3cret-key");
                assert_string_equal(json_string_value(json_object_get(req, "body")), "hello-rpc");
        }
        json_decref(reqs);
        free(record);
        free(rpc);
        unsetenv("OSVM_SOLANA_RPC_KEY");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_allow_list),
            cmocka_unit_test(test_host_calls),
        };
        return cmocka_run_group_tests_name("mcp/egress", tests, setup, teardown);
}
