/*
 * The MCP client against a hostile server (tests/mcp/hostile_server.py), over
 * stdio and over Streamable HTTP on loopback: header injection through what
 * the server hands us, strings holding \u0000, responses with the wrong id,
 * endless and huge tool lists, a server that does not read its input, and
 * tool names that are empty, repeated or unsafe.
 */
#include "testutil.h"

#include "mcp/mcp.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOSTILE "tests/mcp/hostile_server.py"
/* Only guards against a hang: a call the fix ends at once would otherwise wait this long. */
#define HANG_GUARD_MS 120000u

/* ---- the server ---- */

static struct mcp_client *open_stdio(const char *mode, size_t max_message, osvm_err *e)
{
        static char *argv[4];
        argv[0] = "python3";
        argv[1] = HOSTILE;
        argv[2] = (char *)mode;
        argv[3] = NULL;
        struct mcp_endpoint ep = {.name = "hostile", .argv = argv, .max_message = max_message};
        return mcp_connect(&ep, NULL, e);
}

static struct mcp_client *must_open_stdio(const char *mode, size_t max_message)
{
        osvm_err e = {0};
        struct mcp_client *c = open_stdio(mode, max_message, &e);
        if (!c)
                fail_msg("%s: %s", mode, e.msg);
        return c;
}

struct http_srv {
        pid_t pid;
        char dir[64];
        char record[128];
        char url[64];
};

static void http_start(struct http_srv *s, const char *mode)
{
        memset(s, 0, sizeof(*s));
        assert_int_equal(tu_tempdir(s->dir, sizeof(s->dir), "hostile"), 0);
        snprintf(s->record, sizeof(s->record), "%s/record", s->dir);
        char *argv[] = {"python3", HOSTILE, (char *)mode, "--http", "--record", s->record, NULL};
        int port;
        s->pid = tu_spawn_port(argv, &port);
        if (s->pid < 0)
                fail_msg("the hostile server did not start");
        snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/mcp", port);
}

/* Every request the server received, as {method, path, headers: [[name, value]...]}. */
static json_t *http_requests(const struct http_srv *s)
{
        json_t *all = json_array();
        char *text = NULL;
        size_t len = 0;
        if (fs_read_file(s->record, 1 << 20, &text, &len, NULL) < 0)
                return all;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                json_array_append_new(all, json_loads(line, 0, NULL));
        free(text);
        return all;
}

/* The value of header name (any case) in request i, or NULL. */
static const char *req_header(json_t *reqs, size_t i, const char *name)
{
        json_t *h = json_object_get(json_array_get(reqs, i), "headers");
        size_t k;
        json_t *pair;
        json_array_foreach(h, k, pair)
        {
                if (strcasecmp(json_string_value(json_array_get(pair, 0)), name) == 0)
                        return json_string_value(json_array_get(pair, 1));
        }
        return NULL;
}

static void http_stop(struct http_srv *s)
{
        if (s->pid > 0) {
                kill(s->pid, SIGTERM);
                waitpid(s->pid, NULL, 0);
                s->pid = 0;
        }
        tu_rmrf(s->dir);
}

static struct mcp_client *open_http(const struct http_srv *s, osvm_err *e)
{
        struct mcp_endpoint ep = {.name = "hostile", .url = s->url};
        return mcp_connect(&ep, NULL, e);
}

static struct mcp_client *must_open_http(const struct http_srv *s)
{
        osvm_err e = {0};
        struct mcp_client *c = open_http(s, &e);
        if (!c)
                fail_msg("%s", e.msg);
        return c;
}

/* ---- what osvm logs meanwhile ---- */

struct capture {
        int saved;
        char path[64];
};

static void capture_start(struct capture *c)
{
        snprintf(c->path, sizeof(c->path), "/tmp/osvm-hostile-log-XXXXXX");
        int fd = mkstemp(c->path);
        assert_true(fd >= 0);
        fflush(stderr);
        c->saved = dup(2);
        dup2(fd, 2);
        close(fd);
}

/* Stops capturing; returns what was logged (free it). */
static char *capture_end(struct capture *c)
{
        fflush(stderr);
        dup2(c->saved, 2);
        close(c->saved);
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(fs_read_file(c->path, 1 << 20, &text, &len, NULL), 0);
        unlink(c->path);
        fprintf(stderr, "%s", text); /* still shown */
        return text;
}

static int count(const char *hay, const char *needle)
{
        int n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static const char *text_at(json_t *result, size_t i, size_t *len)
{
        json_t *t = json_object_get(json_array_get(json_object_get(result, "content"), i), "text");
        *len = json_string_length(t);
        return json_string_value(t);
}

static json_t *call_echo(struct mcp_client *c, const char *message, uint32_t timeout_ms,
                         osvm_err *e)
{
        json_t *args = json_pack("{s:s}", "message", message);
        struct mcp_call_opts o = {.timeout_ms = timeout_ms};
        json_t *r = mcp_call_tool(c, "echo", args, &o, e);
        json_decref(args);
        return r;
}

/* ---- a. what the server says goes into no header unchecked ---- */

static void test_version_unknown(void **state)
{
        (void)state;
        osvm_err e = {0};
        assert_null(open_stdio("version-unknown", 0, &e));
        print_message("  %s\n", e.msg);
        assert_int_equal(e.code, MCP_E_PROTOCOL);
        assert_non_null(strstr(e.msg, "hostile"));
        assert_non_null(strstr(e.msg, "1999-12-31"));
        assert_non_null(strstr(e.msg, MCP_PROTOCOL_VERSION));
}

static void test_version_with_nul(void **state)
{
        (void)state;
        /* valid JSON: read at once (not a malformed line), and refused as no version we speak */
        osvm_err e = {0};
        assert_null(open_stdio("version-nul", 0, &e));
        print_message("  %s\n", e.msg);
        assert_int_equal(e.code, MCP_E_PROTOCOL);
        assert_non_null(strstr(e.msg, "protocol version"));
}

static void test_version_crlf_http(void **state)
{
        (void)state;
        struct http_srv s;
        http_start(&s, "version-crlf");
        osvm_err e = {0};
        struct mcp_client *c = open_http(&s, &e);
        if (c) {
                mcp_list_tools(c, NULL, &e);
                mcp_close(c);
                fail_msg("a protocol version holding CR LF was accepted");
        }
        print_message("  %s\n", e.msg);
        assert_int_equal(e.code, MCP_E_PROTOCOL);
        assert_non_null(strstr(e.msg, "hostile"));
        assert_non_null(strstr(e.msg, "^M")); /* shown, not obeyed */
        json_t *reqs = http_requests(&s);
        for (size_t i = 0; i < json_array_size(reqs); i++) {
                assert_null(req_header(reqs, i, "X-Injected"));
                assert_null(req_header(reqs, i, "MCP-Protocol-Version"));
        }
        json_decref(reqs);
        http_stop(&s);
}

static void test_session_id_with_control_http(void **state)
{
        (void)state;
        struct http_srv s;
        http_start(&s, "session-ctrl");
        osvm_err e = {0};
        struct mcp_client *c = open_http(&s, &e);
        assert_null(c);
        print_message("  %s\n", e.msg);
        assert_non_null(strstr(e.msg, "Mcp-Session-Id"));
        json_t *reqs = http_requests(&s);
        for (size_t i = 0; i < json_array_size(reqs); i++)
                assert_null(req_header(reqs, i, "Mcp-Session-Id"));
        json_decref(reqs);
        http_stop(&s);
}

static void test_event_id_with_control_http(void **state)
{
        (void)state;
        struct http_srv s;
        http_start(&s, "event-id-ctrl");
        osvm_err e = {0};
        struct mcp_client *c = must_open_http(&s);
        /* the stream ends before the answer; resuming would send its id back */
        assert_null(call_echo(c, "hi", HANG_GUARD_MS, &e));
        print_message("  %s\n", e.msg);
        assert_int_equal(e.code, MCP_E_PROTOCOL);
        assert_non_null(strstr(e.msg, "event id"));
        mcp_close(c);
        json_t *reqs = http_requests(&s);
        for (size_t i = 0; i < json_array_size(reqs); i++)
                assert_null(req_header(reqs, i, "Last-Event-ID"));
        json_decref(reqs);
        http_stop(&s);
}

/* ---- b. strings holding \u0000 are valid JSON ---- */

static void check_nul_text(struct mcp_client *c)
{
        osvm_err e = {0};
        json_t *tools = mcp_list_tools(c, NULL, &e);
        if (!tools)
                fail_msg("%s", e.msg);
        assert_int_equal(json_array_size(tools), 1);
        json_t *desc = json_object_get(json_array_get(tools, 0), "description");
        assert_int_equal(json_string_length(desc), 11); /* "desc\0hidden" */
        json_decref(tools);
        json_t *r = call_echo(c, "x", HANG_GUARD_MS, &e);
        if (!r)
                fail_msg("%s", e.msg);
        size_t len;
        const char *t = text_at(r, 0, &len);
        assert_int_equal(len, 12);
        assert_memory_equal(t, "before\0after", 12);
        t = text_at(r, 1, &len);
        assert_int_equal(len, 7);
        json_decref(r);
}

static void test_nul_in_strings_stdio(void **state)
{
        (void)state;
        struct mcp_client *c = must_open_stdio("nul-text", 0);
        check_nul_text(c);
        mcp_close(c);
}

static void test_nul_in_strings_http(void **state)
{
        (void)state;
        struct http_srv s;
        http_start(&s, "nul-text");
        struct mcp_client *c = must_open_http(&s);
        check_nul_text(c);
        mcp_close(c);
        http_stop(&s);
}

static void test_nul_in_a_key(void **state)
{
        (void)state;
        /* jansson cannot keep a key holding NUL: it gets U+FFFD; values keep theirs */
        osvm_err e = {0};
        struct mcp_client *c = must_open_stdio("nul-key", 0);
        json_t *r = call_echo(c, "x", HANG_GUARD_MS, &e);
        if (!r)
                fail_msg("%s", e.msg);
        json_t *sc = json_object_get(r, "structuredContent");
        assert_true(json_is_integer(json_object_get(sc, "a\xEF\xBF\xBD"
                                                        "b")));
        assert_int_equal(json_string_length(json_object_get(sc, "plain")), 3);
        json_decref(r);
        mcp_close(c);
}

/* ---- c. responses with the wrong id ---- */

static void test_wrong_id_stdio(void **state)
{
        (void)state;
        osvm_err e = {0};
        struct mcp_client *c = must_open_stdio("wrong-id", 0);
        struct capture cap;
        capture_start(&cap);
        /* over stdio the right answer could still come: the call waits, and says why it failed
         * (3 s each: room for the wrong answer to arrive even on a loaded machine) */
        json_t *r = call_echo(c, "one", 3000, &e);
        json_t *r2 = call_echo(c, "two", 3000, &e);
        char *log = capture_end(&cap);
        assert_null(r);
        assert_null(r2);
        print_message("  %s\n", e.msg);
        assert_int_equal(e.code, MCP_E_TIMEOUT);
        assert_non_null(strstr(e.msg, "matched no request"));
        /* the user hears about it once */
        assert_int_equal(count(log, "matched no request"), 1);
        assert_non_null(strstr(log, "hostile"));
        free(log);
        assert_int_equal(mcp_ping(c, NULL, &e), 0);
        mcp_close(c);
}

static void test_wrong_id_http(void **state)
{
        (void)state;
        struct http_srv s;
        http_start(&s, "wrong-id");
        osvm_err e = {0};
        struct mcp_client *c = must_open_http(&s);
        /* the POST's JSON body was the one answer: the right one can never come */
        assert_null(call_echo(c, "hi", HANG_GUARD_MS, &e));
        print_message("  %s\n", e.msg);
        assert_int_equal(e.code, MCP_E_PROTOCOL);
        assert_non_null(strstr(e.msg, "hostile"));
        assert_non_null(strstr(e.msg, "1002"));
        mcp_close(c);
        http_stop(&s);
}

static void test_late_answer_is_quiet(void **state)
{
        (void)state;
        osvm_err e = {0};
        struct mcp_client *c = must_open_stdio("late", 0);
        struct capture cap;
        capture_start(&cap);
        json_t *r = call_echo(c, "first", 300, &e);
        int code = e.code;
        json_t *r2 = call_echo(c, "second", HANG_GUARD_MS, &e);
        char *log = capture_end(&cap);
        assert_null(r);
        assert_int_equal(code, MCP_E_TIMEOUT);
        if (!r2)
                fail_msg("%s", e.msg);
        size_t len;
        assert_string_equal(text_at(r2, 0, &len), "second");
        json_decref(r2);
        /* the answer to a call we gave up on is expected, not a protocol error */
        assert_null(strstr(log, "matched no request"));
        free(log);
        mcp_close(c);
}

static void test_answered_twice(void **state)
{
        (void)state;
        osvm_err e = {0};
        struct mcp_client *c = must_open_stdio("twice", 0);
        struct capture cap;
        capture_start(&cap);
        json_t *r = call_echo(c, "a", HANG_GUARD_MS, &e);
        json_t *r2 = call_echo(c, "b", HANG_GUARD_MS, &e);
        int ping = mcp_ping(c, NULL, &e);
        char *log = capture_end(&cap);
        assert_non_null(r);
        assert_non_null(r2);
        size_t len;
        assert_string_equal(text_at(r2, 0, &len), "b"); /* not "again a" */
        assert_int_equal(ping, 0);
        assert_int_equal(count(log, "matched no request"), 1);
        free(log);
        json_decref(r);
        json_decref(r2);
        mcp_close(c);
}

/* ---- d. bounded memory ---- */

static void expect_list_fails(const char *mode, int code, const char *want)
{
        osvm_err e = {0};
        struct mcp_client *c = open_stdio(mode, 0, &e);
        if (!c)
                fail_msg("%s", e.msg);
        assert_null(mcp_list_tools(c, NULL, &e));
        print_message("  %s\n", e.msg);
        assert_int_equal(e.code, code);
        assert_non_null(strstr(e.msg, "hostile"));
        assert_non_null(strstr(e.msg, want));
        mcp_close(c);
}

static void test_tools_list_caps(void **state)
{
        (void)state;
        expect_list_fails("pages", MCP_E_TOO_LARGE, "MiB");
        expect_list_fails("many-tools", MCP_E_TOO_LARGE, "4096 tools");
        expect_list_fails("endless", MCP_E_PROTOCOL, "256 pages");
}

static void test_server_that_does_not_read(void **state)
{
        (void)state;
        osvm_err e = {0};
        struct mcp_client *c = must_open_stdio("no-read", 65536);
        /* it floods pings and never reads the answers: they are not queued without bound */
        assert_null(call_echo(c, "hi", HANG_GUARD_MS, &e));
        print_message("  %s\n", e.msg);
        assert_int_equal(e.code, MCP_E_PROTOCOL);
        assert_non_null(strstr(e.msg, "hostile"));
        assert_non_null(strstr(e.msg, "65536 bytes"));
        assert_false(mcp_alive(c));
        mcp_close(c);
}

/* ---- e. tool names ---- */

static void test_bad_tool_names(void **state)
{
        (void)state;
        osvm_err e = {0};
        struct mcp_client *c = must_open_stdio("bad-names", 0);
        struct capture cap;
        capture_start(&cap);
        json_t *tools = mcp_list_tools(c, NULL, &e);
        char *log = capture_end(&cap);
        if (!tools)
                fail_msg("%s", e.msg);
        assert_int_equal(json_array_size(tools), 2);
        json_t *t0 = json_array_get(tools, 0);
        assert_string_equal(json_string_value(json_object_get(t0, "name")), "good");
        assert_string_equal(json_string_value(json_object_get(t0, "description")),
                            "Echoes its message"); /* the first of the two */
        assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 1), "name")),
                            "also-good");
        /* each refusal is said, the names shown and not obeyed */
        assert_non_null(strstr(log, "twice"));
        assert_non_null(strstr(log, "empty"));
        assert_non_null(strstr(log, "clear^[[2J"));
        assert_null(strchr(log, '\x1b'));
        assert_null(strchr(log, '\x07'));
        assert_null(strstr(log, "\xe2\x80\xae")); /* U+202E */
        assert_non_null(strstr(log, "and 3 more"));
        free(log);
        json_decref(tools);
        mcp_close(c);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        if (access(HOSTILE, R_OK) != 0 || system("python3 -c pass 2>/dev/null") != 0) {
                printf("SKIP: python3 or %s missing (run from the repository root)\n", HOSTILE);
                return 0;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_version_unknown),
            cmocka_unit_test(test_version_with_nul),
            cmocka_unit_test(test_version_crlf_http),
            cmocka_unit_test(test_session_id_with_control_http),
            cmocka_unit_test(test_event_id_with_control_http),
            cmocka_unit_test(test_nul_in_strings_stdio),
            cmocka_unit_test(test_nul_in_strings_http),
            cmocka_unit_test(test_nul_in_a_key),
            cmocka_unit_test(test_wrong_id_stdio),
            cmocka_unit_test(test_wrong_id_http),
            cmocka_unit_test(test_late_answer_is_quiet),
            cmocka_unit_test(test_answered_twice),
            cmocka_unit_test(test_tools_list_caps),
            cmocka_unit_test(test_server_that_does_not_read),
            cmocka_unit_test(test_bad_tool_names),
        };
        return cmocka_run_group_tests_name("mcp/hostile", tests, NULL, NULL);
}
