/*
 * Egress through the host: the allow-list, and host calls from a real tool
 * image in a VM and as a host process, against an HTTP server on loopback
 * that records what it received (tests/agent/llm_server.py).
 */
#include "testutil.h"

#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * A bound that only guards a hang: the fixed code closes a channel or ends
 * a call within its deadline or stall (a few hundred ms here).
 */
#define HANG_GUARD_MS 60000

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

/* One request line checked as the host-call thread checks it, with nothing sent. */
struct request_case {
        const char *line;
        const char *why; /* in the error; NULL: admitted */
        bool refused;    /* by the policy */
};

static void test_request_check(void **state)
{
        (void)state;
        char *entries[] = {"api.example.org:443"};
        struct iso_strlist list = {1, entries};
        struct mcp_egress_policy p = {
            .who = "t/t", .allow = &list, .rpc_url = "https://api.example.org/v1/KEY"};
        const struct request_case cases[] = {
            {"{\"op\": \"ftp\", \"method\": \"GET\", \"url\": \"https://api.example.org/\"}",
             "unknown op \"ftp\"", false},
            {"{\"op\": \"http\", \"method\": \"PUT\", \"url\": \"https://api.example.org/\"}",
             "method must be GET or POST", false},
            {"{\"op\": \"http\", \"method\": \"GET\"}", "no url", false},
            {"{\"op\": \"http\", \"method\": \"GET\", \"url\": \"https://api.example.org/\", "
             "\"headers\": []}",
             "headers must be an object", false},
            {"{\"op\": \"http\", \"method\": \"POST\", \"url\": \"https://api.example.org/\", "
             "\"body\": 1}",
             "body a string", false},
            {"{\"op\": \"http\", \"method\": \"GET\", \"url\": \"https://evil.example.com/\"}",
             "refused: evil.example.com:443 is not in t/t's network.allow", true},
            {"{\"op\": \"http\", \"method\": \"GET\", \"url\": \"file:///etc/passwd\"}",
             "not an http:// or https:// URL", true},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_t *req = json_loads(cases[i].line, 0, NULL);
                assert_non_null(req);
                struct mcp_egress_req r;
                char why[400];
                const char *bad = mcp_egress_request_check(&p, req, &r, why, sizeof(why));
                print_message("%s -> %s\n", cases[i].line, bad ? bad : "admitted");
                assert_non_null(bad);
                assert_non_null(strstr(bad, cases[i].why));
                assert_int_equal(r.refused, cases[i].refused);
                assert_int_equal(r.nheaders, 0);
                json_decref(req);
        }

        /* admitted: the headers that may be sent, and where the key goes */
        json_t *req = json_loads(
            "{\"op\": \"http\", \"method\": \"POST\", \"url\": \"https://API.example.org:443/\", "
            "\"body\": \"{\\\"a\\\":1}\", \"headers\": {\"Content-Type\": \"application/json\", "
            "\"Authorization\": \"Bearer mine\", \"Host\": \"evil\", \"Proxy-X\": \"1\", "
            "\"X-Split\": \"a\\r\\nInjected: 1\", \"Bad Name\": \"x\", \"\": \"x\", \"X-Num\": 1}}",
            0, NULL);
        assert_non_null(req);
        struct mcp_egress_req r;
        char why[400];
        assert_null(mcp_egress_request_check(&p, req, &r, why, sizeof(why)));
        assert_string_equal(r.method, "POST");
        assert_string_equal(r.body, "{\"a\":1}");
        assert_int_equal(r.body_len, 7);
        assert_int_equal(r.nheaders, 1);
        assert_string_equal(r.headers[0], "Content-Type: application/json");
        assert_true(r.to_rpc && r.to_rpc_endpoint);
        mcp_egress_req_free(&r);
        json_decref(req);

        /* the RPC origin with a path of its own: the key, but not the endpoint's URL */
        req = json_loads("{\"op\": \"http\", \"method\": \"GET\", "
                         "\"url\": \"https://api.example.org/other?x=1\"}",
                         0, NULL);
        assert_null(mcp_egress_request_check(&p, req, &r, why, sizeof(why)));
        assert_true(r.to_rpc && !r.to_rpc_endpoint);
        assert_null(r.body);
        mcp_egress_req_free(&r);
        json_decref(req);
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
                             "{\"status\": 200, \"body\": {\"result\": 44}}, "
                             "{\"status\": 200, \"body\": {\"result\": 45}}, "
                             "{\"status\": 200, \"body\": {\"result\": 46}}]";
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

/* Runs build/guests/IMAGE as the tool osvm-mcp/TOOL; NULL with e set when
 * the call failed. */
static json_t *run_tool(const char *image, const char *tool, json_t *args,
                        const struct mcp_call_opts *o, bool in_vm, osvm_err *e)
{
        char *cwd = getcwd(NULL, 0);
        char *text = xasprintf("{\"mcp_servers\": {\"osvm-mcp\": {\"tools\": {\"%s\": "
                               "{\"unikernel_image\": \"%s/build/guests/%s\"}}}}}",
                               tool, cwd, image);
        struct iso_config cfg;
        struct iso_diags d = {0};
        assert_int_equal(iso_config_parse(text, strlen(text), "t", &cfg, &d), 0);
        iso_diags_free(&d);
        struct iso_host host = {.kvm_usable = true};
        struct iso_decision dec;
        iso_decide(&cfg, "osvm-mcp", tool, &host, &dec);
        json_t *r = mcp_tool_run(&dec, tool, args, o, in_vm, e);
        iso_decision_free(&dec);
        iso_config_free(&cfg);
        free(text);
        free(cwd);
        return r;
}

static json_t *run(const char *url, bool in_vm)
{
        json_t *args = json_pack("{s:s, s:s}", "url", url, "body", "hello-rpc");
        osvm_err e = {0};
        json_t *r = run_tool("tool_fetch", "fetch", args, NULL, in_vm, &e);
        if (!r)
                fail_msg("%s", e.msg);
        json_decref(args);
        return r;
}

static const char *block(json_t *r, size_t i)
{
        return json_string_value(
            json_object_get(json_array_get(json_object_get(r, "content"), i), "text"));
}

/* The HTTP server and the tool are there (else the test skips, saying why). */
static bool have_peer(void)
{
        if (!port)
                print_message("SKIP: python3 or tests/agent/llm_server.py is missing\n");
        else if (access("build/guests/tool_fetch", R_OK) != 0)
                print_message("SKIP: build/guests/tool_fetch is not built\n");
        return port && access("build/guests/tool_fetch", R_OK) == 0;
}

static void test_host_calls(void **state)
{
        (void)state;
        char why[256];
        if (!have_peer())
                skip();
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

/* Each host call goes into the call's record (the audit log's "egress"):
 * where, allowed or refused and why; never more of the URL than
 * scheme://host:port/, which is all the log may hold. */
static void test_host_calls_recorded(void **state)
{
        (void)state;
        if (!have_peer())
                skip();
        char *rpc = xasprintf("http://127.0.0.1:%d/", port);
        setenv("OSVM_SOLANA_RPC", rpc, 1);
        json_t *rec = json_array();
        struct mcp_call_opts o = {.egress = rec};
        osvm_err e = {0};
        json_t *args = json_pack("{s:s, s:s}", "url", rpc, "body", "x");
        json_t *r = run_tool("tool_fetch", "fetch", args, &o, false, &e);
        assert_non_null(r);
        json_decref(r);
        json_decref(args);
        char *other = xasprintf("http://127.0.0.2:%d/secret/path?key=k", port);
        args = json_pack("{s:s, s:s}", "url", other, "body", "x");
        r = run_tool("tool_fetch", "fetch", args, &o, false, &e);
        assert_non_null(r);
        json_decref(r);
        json_decref(args);
        char *text = json_dumps(rec, JSON_COMPACT);
        print_message("  record: %s\n", text);
        assert_int_equal(json_array_size(rec), 2);
        json_t *a = json_array_get(rec, 0), *b = json_array_get(rec, 1);
        assert_string_equal(json_string_value(json_object_get(a, "url")), rpc);
        assert_true(json_is_true(json_object_get(a, "allowed")));
        assert_int_equal(json_integer_value(json_object_get(a, "status")), 200);
        assert_true(json_is_false(json_object_get(b, "allowed")));
        assert_non_null(strstr(json_string_value(json_object_get(b, "why")), "network.allow"));
        assert_null(strstr(text, "secret"));
        assert_null(strstr(text, "key=k"));
        free(text);
        free(other);
        free(rpc);
        json_decref(rec);
}

/* ---- a credential in the RPC URL ---- */

static void test_rpc_public(void **state)
{
        (void)state;
        const char *cases[][2] = {
            {"https://api.mainnet-beta.solana.com", "https://api.mainnet-beta.solana.com/"},
            {"https://rpc.example.com/?api-key=SECRET", "https://rpc.example.com/"},
            {"https://user:pass@rpc.example.com:8443/v2/TOKEN?x=1#f",
             "https://rpc.example.com:8443/"},
            {"http://127.0.0.1:8899", "http://127.0.0.1:8899/"},
            {"http://[::1]:8899/path", "http://[::1]:8899/"},
            {"HTTPS://Rpc.Example.com/TOKEN/", "https://Rpc.Example.com/"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *pub = mcp_url_public(cases[i][0]);
                print_message("%s -> %s\n", cases[i][0], pub ? pub : "(null)");
                assert_non_null(pub);
                assert_string_equal(pub, cases[i][1]);
                free(pub);
        }
        const char *bad[] = {"", "not a url", "file:///etc/passwd", "ftp://u:p@h/", NULL};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_null(mcp_url_public(bad[i]));
}

static bool has_secret(const char *s)
{
        return strstr(s, "SECRET") || strstr(s, "TOKEN") || strstr(s, "s3cr3tpw");
}

/*
 * OSVM_SOLANA_RPC with a user, a password, a token in the path and an
 * api-key in the query: the tool sees the endpoint without any of them, the
 * request it sends there reaches the server with all of them, and no answer
 * or error text the tool gets holds any.
 */
static void test_rpc_credentials(void **state)
{
        (void)state;
        char why[256];
        if (!have_peer())
                skip();
        char *record = xasprintf("%s/record.json", dir);
        json_t *before = json_load_file(record, 0, NULL);
        size_t seen = json_array_size(before);
        json_decref(before);
        bool kvm = vmm_probe(why, sizeof(why));
        char *rpc = xasprintf("http://osvm:s3cr3tpw@127.0.0.1:%d/v2/TOKEN42?api-key=SECRET7", port);
        char *pub = xasprintf("http://127.0.0.1:%d/", port);
        setenv("OSVM_SOLANA_RPC", rpc, 1);
        unsetenv("OSVM_SOLANA_RPC_KEY");
        for (int vm = kvm ? 1 : 0; vm >= 0; vm--) {
                print_message("%s\n", vm ? "in a VM" : "as a host process");
                json_t *r = run(pub, vm);
                const char *answer = block(r, 0), *env = block(r, 1);
                print_message("  answer: %s\n  %s\n", answer, env);
                assert_non_null(strstr(answer, "\"ok\":true"));
                char *want = xasprintf("OSVM_SOLANA_RPC=%s;", pub);
                assert_non_null(strstr(env, want));
                free(want);
                assert_false(has_secret(env));
                json_decref(r);
                seen++;
        }
        /* what reached the server: the RPC URL in full */
        json_t *reqs = json_load_file(record, 0, NULL);
        assert_int_equal(json_array_size(reqs), seen);
        json_t *last = json_array_get(reqs, seen - 1);
        assert_string_equal(json_string_value(json_object_get(last, "path")),
                            "/v2/TOKEN42?api-key=SECRET7");
        const char *auth =
            json_string_value(json_object_get(json_object_get(last, "headers"), "authorization"));
        assert_non_null(auth);
        assert_string_equal(auth, "Basic b3N2bTpzM2NyM3Rwdw=="); /* osvm:s3cr3tpw */
        json_decref(reqs);

        /* an endpoint that cannot be reached: the error says so, without them */
        char *dead = xasprintf("http://osvm:s3cr3tpw@127.0.0.1:1/v2/TOKEN42?api-key=SECRET7");
        setenv("OSVM_SOLANA_RPC", dead, 1);
        json_t *r = run("http://127.0.0.1:1/", false);
        print_message("  unreachable: %s\n", block(r, 0));
        assert_non_null(strstr(block(r, 0), "\"ok\":false"));
        assert_non_null(strstr(block(r, 0), "127.0.0.1"));
        assert_false(has_secret(block(r, 0)));
        assert_false(has_secret(block(r, 1)));
        json_decref(r);
        free(dead);
        unsetenv("OSVM_SOLANA_RPC");
        free(rpc);
        free(pub);
        free(record);
}

/* ---- a tool that does not read its answers ---- */

/* mcp_send_line waits for a peer that does not read no longer than its
 * stall or its deadline, and says which. */
static void test_send_line_bounded(void **state)
{
        (void)state;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        json_t *big = json_pack("{s:s}", "pad", "");
        char *pad = xmalloc(1u << 20);
        memset(pad, 'x', (1u << 20) - 1);
        pad[(1u << 20) - 1] = '\0';
        json_object_set_new(big, "pad", json_string(pad));
        free(pad);
        const char *why = NULL;
        assert_int_equal(mcp_send_line(sv[0], big, 0, 200, &why), MCP_E_TIMEOUT);
        print_message("stall: %s\n", why);
        assert_non_null(strstr(why, "not read"));
        assert_int_equal(mcp_send_line(sv[0], big, time_mono_ns() + 200000000ull, 0, &why),
                         MCP_E_TIMEOUT);
        print_message("deadline: %s\n", why);
        assert_non_null(strstr(why, "time is up"));
        close(sv[1]);
        assert_int_equal(mcp_send_line(sv[0], big, 0, 200, &why), MCP_E_CLOSED);
        assert_string_equal(why, "the peer is gone");
        close(sv[0]);
        /* a peer that reads: the line goes through whole */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        json_t *small = json_pack("{s:b}", "ok", 1);
        assert_int_equal(mcp_send_line(sv[0], small, 0, 0, NULL), 0);
        char got[32] = "";
        assert_int_equal(read(sv[1], got, sizeof(got) - 1), 12);
        assert_string_equal(got, "{\"ok\":true}\n");
        json_decref(small);
        json_decref(big);
        close(sv[0]);
        close(sv[1]);
}

/*
 * A tool that writes host calls and never reads the answers: the egress
 * thread does not wait on it past the call's deadline, and closes the
 * channel, saying why.
 */
static void test_egress_reader_that_does_not_read(void **state)
{
        (void)state;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        struct mcp_egress_policy p = {.who = "t/flood",
                                      .deadline_ns = time_mono_ns() + 300000000ull};
        osvm_err e = {0};
        struct mcp_egress *g = mcp_egress_start(sv[0], &p, &e);
        assert_non_null(g);
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        /* many requests a write, one answer a send: the answers fill the
         * channel long before the requests do */
        long sent = tu_flood_until_hup(sv[1], "{\"op\":\"x\"}\n", HANG_GUARD_MS);
        print_message("%ld requests written before the host closed the channel\n", sent);
        assert_true(sent > 0);
        mcp_egress_finish(g);
        close(sv[1]);
}

/* ---- Ctrl-C and names ---- */

static volatile sig_atomic_t cancel_flag;

/* A tool that never ends, stopped by the caller's cancel flag in either
 * mode: the call fails as cancelled (exit 130), not as a tool error. */
static void test_cancel(void **state)
{
        (void)state;
        char why[256];
        if (access("build/guests/loop", R_OK) != 0) {
                print_message("SKIP: build/guests/loop is not built\n");
                skip();
        }
        bool kvm = vmm_probe(why, sizeof(why));
        for (int vm = kvm ? 1 : 0; vm >= 0; vm--) {
                struct mcp_call_opts o = {.timeout_ms = HANG_GUARD_MS, .cancel = &cancel_flag};
                struct tu_later later;
                tu_later_start(&later, &cancel_flag, 100);
                osvm_err e = {0};
                json_t *r = run_tool("loop", "loop", NULL, &o, vm, &e);
                tu_later_join(&later);
                print_message("%s: %s\n", vm ? "in a VM" : "as a host process", e.msg);
                assert_null(r);
                assert_int_equal(e.code, MCP_E_CANCELLED);
                assert_int_equal(e.exit, 130);
                assert_non_null(strstr(e.msg, "cancelled"));
        }
        cancel_flag = 0;
}

static void test_unsafe_tool_name(void **state)
{
        (void)state;
        struct iso_decision dec = {0};
        dec.policy.server = xstrdup("osvm-mcp");
        dec.policy.tool = xstrdup("x/../../../tmp/evil");
        dec.policy.image = xstrdup("/bin/true");
        osvm_err e = {0};
        for (int vm = 0; vm < 2; vm++) {
                assert_null(mcp_tool_run(&dec, dec.policy.tool, NULL, NULL, vm, &e));
                print_message("%s\n", e.msg);
                assert_non_null(strstr(e.msg, "holds a '/'"));
        }
        iso_decision_free(&dec);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_allow_list),
            cmocka_unit_test(test_request_check),
            cmocka_unit_test(test_host_calls),
            cmocka_unit_test(test_host_calls_recorded),
            cmocka_unit_test(test_rpc_public),
            cmocka_unit_test(test_rpc_credentials),
            cmocka_unit_test(test_send_line_bounded),
            cmocka_unit_test(test_egress_reader_that_does_not_read),
            cmocka_unit_test(test_cancel),
            cmocka_unit_test(test_unsafe_tool_name),
        };
        return cmocka_run_group_tests_name("mcp/egress", tests, setup, teardown);
}
