/*
 * The MCP client over stdio against the real reference servers
 * (@modelcontextprotocol/server-everything and server-filesystem from npm).
 */
#include "peers.h"

#include "mcp/mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Not in mcp.h: the transport's error codes, which the tests check. */
#include "mcp/transport.h"

static struct mcp_client *connect_everything(json_t *roots, size_t max_message, osvm_err *e)
{
        char *argv[] = {"node", (char *)everything_js(), "stdio", NULL};
        struct mcp_endpoint ep = {
            .name = "everything", .argv = argv, .roots = roots, .max_message = max_message};
        return mcp_connect(&ep, NULL, e);
}

static const char *text_of(json_t *result)
{
        json_t *c0 = json_array_get(json_object_get(result, "content"), 0);
        return json_string_value(json_object_get(c0, "text"));
}

static void test_lifecycle_and_tools(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        osvm_err e = {0};
        struct mcp_client *c = connect_everything(NULL, 0, &e);
        if (!c)
                fail_msg("%s", e.msg);
        const struct mcp_server_info *info = mcp_info(c);
        assert_string_equal(info->protocol_version, MCP_PROTOCOL_VERSION);
        assert_non_null(strstr(info->name, "everything"));
        assert_non_null(json_object_get(info->capabilities, "tools"));

        json_t *tools = mcp_list_tools(c, NULL, &e);
        if (!tools)
                fail_msg("%s", e.msg);
        bool echo = false, sum = false;
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
                echo |= strcmp(json_string_value(json_object_get(t, "name")), "echo") == 0;
                sum |= strcmp(json_string_value(json_object_get(t, "name")), "get-sum") == 0;
        }
        assert_true(json_array_size(tools) >= 13);
        assert_true(echo && sum);
        json_decref(tools);

        json_t *args = json_pack("{s:s}", "message", "hello world");
        json_t *r = mcp_call_tool(c, "echo", args, NULL, &e);
        json_decref(args);
        if (!r)
                fail_msg("%s", e.msg);
        assert_non_null(strstr(text_of(r), "hello world"));
        assert_false(json_is_true(json_object_get(r, "isError")));
        json_decref(r);

        args = json_pack("{s:i, s:i}", "a", 2, "b", 3);
        r = mcp_call_tool(c, "get-sum", args, NULL, &e);
        json_decref(args);
        assert_non_null(r);
        assert_non_null(strstr(text_of(r), "5"));
        json_decref(r);

        assert_int_equal(mcp_ping(c, NULL, &e), 0);
        mcp_close(c);
}

static void test_unknown_tool_and_bad_args(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        osvm_err e = {0};
        struct mcp_client *c = connect_everything(NULL, 0, &e);
        assert_non_null(c);
        /* Either error channel is an error: isError in a result, or a JSON-RPC error. */
        json_t *r = mcp_call_tool(c, "no-such-tool", NULL, NULL, &e);
        if (r) {
                assert_true(json_is_true(json_object_get(r, "isError")));
                json_decref(r);
        } else {
                assert_non_null(strstr(e.msg, "no-such-tool") ? e.msg : strstr(e.msg, "error"));
        }
        json_t *args = json_pack("{s:s, s:i}", "a", "two", "b", 3);
        r = mcp_call_tool(c, "get-sum", args, NULL, &e);
        json_decref(args);
        assert_true(!r || json_is_true(json_object_get(r, "isError")));
        json_decref(r);
        /* The connection goes on. */
        assert_int_equal(mcp_ping(c, NULL, &e), 0);
        mcp_close(c);
}

struct progress_log {
        int n;
        double last, total;
        int sent, progress_when_sent; /* on_sent's calls; n at the last */
};

static void on_progress(void *ctx, const struct mcp_progress *p)
{
        struct progress_log *l = ctx;
        l->n++;
        l->last = p->progress;
        l->total = p->total;
}

/* on_sent: when the request was written, how much progress had come (none
 * can come before). */
static void on_sent(void *ctx)
{
        struct progress_log *l = ctx;
        l->sent++;
        l->progress_when_sent = l->n;
}

/* Progress is forwarded, and on_sent is called once the request is written,
 * before any answer. */
static void test_progress(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        osvm_err e = {0};
        struct mcp_client *c = connect_everything(NULL, 0, &e);
        assert_non_null(c);
        struct progress_log log = {0};
        struct mcp_call_opts o = {
            .on_progress = on_progress, .progress_ctx = &log, .on_sent = on_sent, .sent_ctx = &log};
        json_t *args = json_pack("{s:f, s:i}", "duration", 0.6, "steps", 3);
        json_t *r = mcp_call_tool(c, "trigger-long-running-operation", args, &o, &e);
        json_decref(args);
        if (!r)
                fail_msg("%s", e.msg);
        assert_int_equal(log.n, 3);
        assert_true(log.last == 3 && log.total == 3);
        assert_int_equal(log.sent, 1);
        assert_int_equal(log.progress_when_sent, 0);
        json_decref(r);
        mcp_close(c);
}

struct later {
        volatile sig_atomic_t *flag;
        pid_t pid;
        int ms;
};

static void *set_later(void *arg)
{
        struct later *l = arg;
        nanosleep(&(struct timespec){l->ms / 1000, (l->ms % 1000) * 1000000L}, NULL);
        if (l->flag)
                *l->flag = 1;
        if (l->pid)
                kill(l->pid, SIGKILL);
        return NULL;
}

static void test_cancel_and_timeout(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        osvm_err e = {0};
        struct mcp_client *c = connect_everything(NULL, 0, &e);
        assert_non_null(c);
        volatile sig_atomic_t cancel = 0;
        struct later l = {.flag = &cancel, .ms = 300};
        pthread_t th;
        pthread_create(&th, NULL, set_later, &l);
        struct progress_log log = {0};
        struct mcp_call_opts o = {
            .cancel = &cancel, .on_progress = on_progress, .progress_ctx = &log};
        /* a minute long: only the cancel (or the timeout below) ends the wait early,
         * whatever the machine's speed */
        json_t *args = json_pack("{s:i, s:i}", "duration", 60, "steps", 600);
        json_t *r = mcp_call_tool(c, "trigger-long-running-operation", args, &o, &e);
        pthread_join(th, NULL);
        assert_null(r);
        assert_int_equal(e.code, MCP_E_CANCELLED);
        assert_non_null(strstr(e.msg, "cancelled"));

        /* Late progress for the cancelled call is dropped; the connection goes on. */
        int seen = log.n;
        json_t *echo = json_pack("{s:s}", "message", "after");
        r = mcp_call_tool(c, "echo", echo, NULL, &e);
        assert_non_null(r);
        assert_non_null(strstr(text_of(r), "after"));
        json_decref(r);
        assert_int_equal(log.n, seen);

        struct mcp_call_opts quick = {.timeout_ms = 300};
        r = mcp_call_tool(c, "trigger-long-running-operation", args, &quick, &e);
        assert_null(r);
        assert_int_equal(e.code, MCP_E_TIMEOUT);
        assert_non_null(strstr(e.msg, "timed out after 300 ms"));
        r = mcp_call_tool(c, "echo", echo, NULL, &e);
        assert_non_null(r);
        json_decref(r);
        json_decref(echo);
        json_decref(args);
        mcp_close(c);
}

static void test_server_killed_mid_call(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        char pidfile[] = "/tmp/osvm-mcp-pid-XXXXXX";
        int fd = mkstemp(pidfile);
        assert_true(fd >= 0);
        close(fd);
        char *script = xasprintf("echo $$ > %s; exec node %s stdio", pidfile, everything_js());
        char *argv[] = {"sh", "-c", script, NULL};
        struct mcp_endpoint ep = {.name = "doomed", .argv = argv};
        osvm_err e = {0};
        struct mcp_client *c = mcp_connect(&ep, NULL, &e);
        assert_non_null(c);
        char *text = NULL;
        assert_int_equal(fs_read_file(pidfile, 64, &text, NULL, NULL), 0);
        struct later l = {.pid = (pid_t)atoi(text), .ms = 300};
        free(text);
        pthread_t th;
        pthread_create(&th, NULL, set_later, &l);
        /* a minute long: the kill comes first, whatever the machine's speed */
        json_t *args = json_pack("{s:i, s:i}", "duration", 60, "steps", 5);
        json_t *r = mcp_call_tool(c, "trigger-long-running-operation", args, NULL, &e);
        pthread_join(th, NULL);
        json_decref(args);
        assert_null(r);
        assert_int_equal(e.code, MCP_E_CLOSED);
        assert_non_null(strstr(e.msg, "killed by signal 9"));
        assert_false(mcp_alive(c));
        /* Further calls fail at once with a clear error. */
        r = mcp_call_tool(c, "echo", NULL, NULL, &e);
        assert_null(r);
        assert_non_null(strstr(e.msg, "not running"));
        mcp_close(c);
        unlink(pidfile);
        free(script);
}

static void test_garbage_lines_are_skipped(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        /* Garbage on the server's stdout before the real server speaks. */
        char *script = xasprintf("printf 'garbage\\n{not json\\n[1,2]\\n\\n'; exec node %s stdio",
                                 everything_js());
        char *argv[] = {"sh", "-c", script, NULL};
        struct mcp_endpoint ep = {.name = "noisy", .argv = argv};
        osvm_err e = {0};
        struct mcp_client *c = mcp_connect(&ep, NULL, &e);
        if (!c)
                fail_msg("%s", e.msg);
        assert_int_equal(mcp_ping(c, NULL, &e), 0);
        mcp_close(c);
        free(script);
}

static void test_oversized_message_refused(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        osvm_err e = {0};
        struct mcp_client *c = connect_everything(NULL, 4096, &e);
        if (!c)
                fail_msg("%s", e.msg);
        /* A 10 KB echo comes back larger than the 4 KiB cap. */
        char big[10001];
        memset(big, 'x', 10000);
        big[10000] = '\0';
        json_t *args = json_pack("{s:s}", "message", big);
        json_t *r = mcp_call_tool(c, "echo", args, NULL, &e);
        json_decref(args);
        assert_null(r);
        assert_int_equal(e.code, MCP_E_TOO_LARGE);
        assert_non_null(strstr(e.msg, "larger than 4096 bytes"));
        /* The connection survives it. */
        args = json_pack("{s:s}", "message", "small");
        r = mcp_call_tool(c, "echo", args, NULL, &e);
        json_decref(args);
        if (!r)
                fail_msg("%s", e.msg);
        json_decref(r);
        mcp_close(c);
}

/* ---- a client over a transport given to it, reading through the line reader ---- */

/* A server's output, handed to the client a few bytes at a time. */
struct script_transport {
        struct mcp_transport base;
        struct mcp_line_reader rd;
        const char *out;
        size_t off;
        json_t *sent; /* what the client sent */
};

static int script_send(struct mcp_transport *t, json_t *msg, const struct mcp_wait *w, osvm_err *e)
{
        (void)w, (void)e;
        json_array_append(((struct script_transport *)t)->sent, msg);
        return 0;
}

static int script_poll(struct mcp_transport *t, const struct mcp_wait *w, osvm_err *e)
{
        (void)w;
        struct script_transport *s = (struct script_transport *)t;
        if (s->rd.too_large) {
                s->rd.too_large = false;
                return err_set(e, MCP_E_TOO_LARGE, "too large");
        }
        size_t n = strlen(s->out + s->off);
        if (!n)
                return err_set(e, MCP_E_CLOSED, "the script ended");
        n = n < 3 ? n : 3; /* lines split across reads */
        mcp_line_reader_take(&s->rd, s->out + s->off, n);
        s->off += n;
        return 0;
}

static void script_close(struct mcp_transport *t)
{
        mcp_line_reader_free(&((struct script_transport *)t)->rd);
}

static const struct mcp_transport_ops script_ops = {
    .name = "script", .send = script_send, .poll = script_poll, .close = script_close};

/* What the splitter made of a stream: each line, "<too long>" for a refusal. */
static char *cut_all(const char *stream, size_t n, size_t chunk, size_t max)
{
        struct mcp_line_cut c = {.max = max};
        strbuf out = {0};
        for (size_t off = 0; off < n;) {
                size_t k = n - off < chunk ? n - off : chunk, used;
                enum mcp_cut r = mcp_line_cut(&c, stream + off, k, &used);
                assert_true(used <= k);
                assert_true(used > 0 || k == 0);
                off += used;
                if (r == MCP_CUT_TOO_LONG)
                        sb_add(&out, "<too long>|");
                if (r == MCP_CUT_LINE) {
                        sb_addn(&out, c.line.s ? c.line.s : "", c.line.len);
                        sb_add(&out, "|");
                }
        }
        sb_free(&c.line);
        return sb_steal(&out);
}

/* The one splitter of every reader of a line a message (mcp_line_cut): the
 * same lines and refusals whatever the stream is cut into. */
static void test_line_cut(void **state)
{
        (void)state;
        static const char stream[] = "one\n\n12345678\n123456789\nabc\n"
                                     "too long by far\nx\n0123456789012\nlast";
        const char *want = "one||12345678|<too long>|abc|<too long>|x|<too long>|";
        for (size_t chunk = 1; chunk <= sizeof(stream); chunk++) {
                char *got = cut_all(stream, sizeof(stream) - 1, chunk, 8);
                if (strcmp(got, want) != 0)
                        fail_msg("chunks of %zu: %s, not %s", chunk, got, want);
                free(got);
        }
}

static void test_client_over_line_reader(void **state)
{
        (void)state;
        struct script_transport s = {
            .base = {.ops = &script_ops, .max_message = 200, .server_name = "script"},
            .out = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":"
                   "\"2025-11-25\",\"capabilities\":{},\"serverInfo\":{\"name\":\"s\"}}}\r\n"
                   "not json\n"
                   "{\"jsonrpc\":\"2.0\",\"id\":\"p1\",\"method\":\"ping\"}\n"
                   "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[{\"type\":"
                   "\"text\",\"text\":\"hi\"}]}}\n"
                   "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxx"
                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}\n",
            .sent = json_array(),
        };
        s.rd.t = &s.base;
        struct mcp_endpoint ep = {.name = "script"};
        osvm_err e = {0};
        struct mcp_client *c = mcp_client_over(&s.base, &ep, NULL, &e);
        if (!c)
                fail_msg("%s", e.msg);
        assert_string_equal(mcp_info(c)->name, "s");
        json_t *r = mcp_call_tool(c, "echo", NULL, NULL, &e);
        if (!r)
                fail_msg("%s", e.msg);
        json_decref(r);
        assert_int_equal(s.rd.malformed, 1); /* "not json" skipped */
        /* initialize, initialized, tools/call, and the ping answered with its id */
        assert_int_equal(json_array_size(s.sent), 4);
        json_t *pong = json_array_get(s.sent, 3);
        assert_string_equal(json_string_value(json_object_get(pong, "id")), "p1");
        assert_true(json_is_object(json_object_get(pong, "result")));
        /* a line over max_message is refused, not delivered */
        assert_int_equal(mcp_ping(c, NULL, &e), -1);
        assert_int_equal(e.code, MCP_E_TOO_LARGE);
        mcp_close(c);
        json_decref(s.sent);
}

static void test_roots_request_answered(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        json_t *roots = json_pack("[{s:s, s:s}]", "uri", "file:///srv/osvm-root", "name", "data");
        osvm_err e = {0};
        struct mcp_client *c = connect_everything(roots, 0, &e);
        if (!c)
                fail_msg("%s", e.msg);
        /* With roots declared, the server asks roots/list (id 0 among them) and exposes a
         * tool that reports what it got. */
        json_t *tools = mcp_list_tools(c, NULL, &e);
        assert_non_null(tools);
        const char *roots_tool = NULL;
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
                const char *n = json_string_value(json_object_get(t, "name"));
                if (strstr(n, "roots"))
                        roots_tool = n;
        }
        assert_non_null(roots_tool);
        json_t *r = mcp_call_tool(c, roots_tool, NULL, NULL, &e);
        if (!r)
                fail_msg("%s", e.msg);
        char *dump = json_dumps(r, 0);
        print_message("%s\n", dump);
        assert_non_null(strstr(dump, "file:///srv/osvm-root"));
        free(dump);
        json_decref(r);
        json_decref(tools);
        mcp_close(c);
        json_decref(roots);
}

static void test_filesystem_server(void **state)
{
        (void)state;
        REQUIRE_PEER(filesystem_js());
        char dir[64];
        assert_int_equal(tu_tempdir(dir, sizeof(dir), "fs"), 0);
        char *file = xasprintf("%s/hello.txt", dir);
        assert_int_equal(fs_write_atomic(file, "hi there\n", 9, 0600, NULL), 0);
        char *argv[] = {"node", (char *)filesystem_js(), dir, NULL};
        struct mcp_endpoint ep = {.name = "fs", .argv = argv};
        osvm_err e = {0};
        struct mcp_client *c = mcp_connect(&ep, NULL, &e);
        if (!c)
                fail_msg("%s", e.msg);
        json_t *tools = mcp_list_tools(c, NULL, &e);
        assert_non_null(tools);
        assert_true(json_array_size(tools) >= 10);
        json_decref(tools);

        json_t *args = json_pack("{s:s}", "path", file);
        json_t *r = mcp_call_tool(c, "read_text_file", args, NULL, &e);
        json_decref(args);
        if (!r)
                fail_msg("%s", e.msg);
        assert_string_equal(text_of(r), "hi there\n");
        json_decref(r);

        args = json_pack("{s:s}", "path", dir);
        r = mcp_call_tool(c, "list_directory", args, NULL, &e);
        json_decref(args);
        assert_non_null(r);
        assert_non_null(strstr(text_of(r), "hello.txt"));
        json_decref(r);

        args = json_pack("{s:s}", "path", "/etc/hostname");
        r = mcp_call_tool(c, "read_text_file", args, NULL, &e);
        json_decref(args);
        assert_non_null(r);
        assert_true(json_is_true(json_object_get(r, "isError")));
        json_decref(r);
        mcp_close(c);
        tu_rmrf(dir);
        free(file);
}

static void test_missing_command(void **state)
{
        (void)state;
        char *argv[] = {"/nonexistent/osvm-server", NULL};
        struct mcp_endpoint ep = {.name = "ghost", .argv = argv};
        osvm_err e = {0};
        assert_null(mcp_connect(&ep, NULL, &e));
        assert_non_null(strstr(e.msg, "ghost"));
        assert_non_null(strstr(e.msg, "No such file"));
}

/* A server that exits at start: how it ended and the last lines of its
 * stderr, bounded and sanitized, are in the error. */
static void test_exit_at_start_shows_stderr(void **state)
{
        (void)state;
        char *argv[] = {"sh", "-c",
                        "for i in 1 2 3 4 5 6 7 8 9; do echo \"early line $i\" >&2; done; "
                        "head -c 100000 /dev/zero | tr '\\0' x >&2; echo >&2; "
                        "printf 'Error: \\033]0;pwned\\007 cannot find module \\033[2J\\n' >&2; "
                        "printf 'no newline at the end' >&2; exit 3",
                        NULL};
        struct mcp_endpoint ep = {.name = "crashy", .argv = argv};
        osvm_err e = {0};
        assert_null(mcp_connect(&ep, NULL, &e));
        print_message("%s\n", e.msg);
        assert_int_equal(e.code, MCP_E_CLOSED);
        assert_non_null(strstr(e.msg, "crashy: the server exited with status 3"));
        assert_non_null(strstr(e.msg, "of its stderr:"));
        /* the newest lines, in order, each on a line of its own */
        char *err = strstr(e.msg, "\n  Error: ^[]0;pwned^G cannot find module ^[[2J\n");
        assert_non_null(err);
        assert_non_null(strstr(err, "\n  no newline at the end"));
        assert_non_null(strstr(e.msg, "\n  early line 9\n"));
        /* bounded: older lines left out, a long line cut */
        assert_null(strstr(e.msg, "early line 1\n"));
        assert_non_null(strstr(e.msg, "xxx...\n"));
        assert_null(strstr(
            e.msg,
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            "xxx"
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        /* nothing that a terminal would obey */
        assert_null(strchr(e.msg, '\033'));
        assert_null(strchr(e.msg, '\007'));
}

/* A missing interpreter says how to install it: when it is the command
 * itself, and when the server's script finds it missing. */
static void test_missing_interpreter(void **state)
{
        (void)state;
        char *path = xstrdup(getenv("PATH"));
        setenv("PATH", "/nonexistent-osvm-test", 1);
        char *npx[] = {"npx", "-y", "@modelcontextprotocol/server-everything", NULL};
        struct mcp_endpoint ep = {.name = "ev", .argv = npx};
        osvm_err e = {0};
        assert_null(mcp_connect(&ep, NULL, &e));
        setenv("PATH", path, 1);
        print_message("%s\n", e.msg);
        assert_non_null(strstr(e.msg, "starting npx: No such file or directory"));
        assert_non_null(strstr(e.msg, "npx is not installed: on Debian, 'apt-get install npm'"));

        char *py[] = {"sh", "-c", "PATH=/nonexistent-osvm-test exec /usr/bin/env python3 server.py",
                      NULL};
        ep = (struct mcp_endpoint){.name = "py", .argv = py};
        assert_null(mcp_connect(&ep, NULL, &e));
        print_message("%s\n", e.msg);
        assert_non_null(strstr(e.msg, "exited with status 127"));
        assert_non_null(strstr(e.msg, "python3"));
        assert_non_null(
            strstr(e.msg, "python3 is not installed: on Debian, 'apt-get install python3'"));

        char *uvx[] = {"sh", "-c", "PATH=/nonexistent-osvm-test; uvx mcp-server-fetch", NULL};
        ep = (struct mcp_endpoint){.name = "fetch", .argv = uvx};
        assert_null(mcp_connect(&ep, NULL, &e));
        print_message("%s\n", e.msg);
        assert_non_null(strstr(e.msg, "uvx is not installed, and Debian has no package of it"));

        /* a command that is no interpreter gets no hint */
        char *other[] = {"sh", "-c", "echo 'osvm-test-tool: not found' >&2; exit 1", NULL};
        ep = (struct mcp_endpoint){.name = "other", .argv = other};
        assert_null(mcp_connect(&ep, NULL, &e));
        assert_null(strstr(e.msg, "is not installed"));
        free(path);
}

static void test_command_find(void **state)
{
        (void)state;
        char *sh = mcp_command_find("sh");
        assert_non_null(sh);
        assert_true(sh[0] == '/' && strstr(sh, "/sh"));
        free(sh);
        assert_null(mcp_command_find("osvm-no-such-command-anywhere"));
        assert_null(mcp_command_find("/nonexistent/server"));
        char *plain = xasprintf("/tmp/osvm-plain-%d", (int)getpid());
        assert_int_equal(fs_write_atomic(plain, "x", 1, 0644, NULL), 0);
        assert_null(mcp_command_find(plain)); /* not executable */
        unlink(plain);
        free(plain);
        char *abs = mcp_command_find("/bin/sh");
        assert_string_equal(abs, "/bin/sh");
        free(abs);
        char hint[256];
        assert_true(mcp_command_install_hint("/usr/local/bin/node", hint, sizeof(hint)));
        assert_string_equal(hint, "node is not installed: on Debian, 'apt-get install nodejs'");
        assert_false(mcp_command_install_hint("osvm-server", hint, sizeof(hint)));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_lifecycle_and_tools),
            cmocka_unit_test(test_unknown_tool_and_bad_args),
            cmocka_unit_test(test_progress),
            cmocka_unit_test(test_cancel_and_timeout),
            cmocka_unit_test(test_server_killed_mid_call),
            cmocka_unit_test(test_garbage_lines_are_skipped),
            cmocka_unit_test(test_oversized_message_refused),
            cmocka_unit_test(test_roots_request_answered),
            cmocka_unit_test(test_filesystem_server),
            cmocka_unit_test(test_missing_command),
            cmocka_unit_test(test_exit_at_start_shows_stderr),
            cmocka_unit_test(test_missing_interpreter),
            cmocka_unit_test(test_command_find),
            cmocka_unit_test(test_client_over_line_reader),
            cmocka_unit_test(test_line_cut),
        };
        return cmocka_run_group_tests_name("mcp/stdio", tests, NULL, NULL);
}
