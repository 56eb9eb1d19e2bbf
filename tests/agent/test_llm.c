/*
 * The LLM planners against a scripted endpoint (tests/agent/llm_server.py)
 * on loopback: what osvm sends (tools, messages, ids, arguments, headers)
 * and what it makes of the replies, errors included.
 */
#include "testutil.h"

#include "agent/agent.h"
#include "agent/llm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVER_PY "tests/agent/llm_server.py"
/* A time limit that only guards against a hang, generous for a loaded
 * machine under the sanitizers: no test here depends on how fast a reply
 * comes, only on what comes. */
#define HANG_MS 120000

/* ---- the scripted server ---- */

struct srv {
        pid_t pid;
        int port;
        char dir[64];
        char record[128];
        char url[160]; /* http://127.0.0.1:PORT/v1 */
};

static void srv_start(struct srv *s, const char *script)
{
        memset(s, 0, sizeof(*s));
        assert_int_equal(tu_tempdir(s->dir, sizeof(s->dir), "llm"), 0);
        char path[128];
        snprintf(path, sizeof(path), "%s/script.json", s->dir);
        snprintf(s->record, sizeof(s->record), "%s/record.json", s->dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(script, f);
        fclose(f);

        char *argv[] = {"python3", SERVER_PY, "--script", path, "--record", s->record, NULL};
        s->pid = tu_spawn_port(argv, &s->port);
        if (s->pid < 0)
                fail_msg("the scripted server did not start");
        snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/v1", s->port);
}

static void srv_stop(struct srv *s)
{
        if (s->pid > 0) {
                kill(s->pid, SIGTERM);
                waitpid(s->pid, NULL, 0);
                s->pid = 0;
        }
        tu_rmrf(s->dir);
}

/* What the server received, oldest first. */
static json_t *srv_requests(const struct srv *s)
{
        json_t *j = json_load_file(s->record, 0, NULL);
        return j ? j : json_array();
}

static size_t srv_count(const struct srv *s)
{
        json_t *j = srv_requests(s);
        size_t n = json_array_size(j);
        json_decref(j);
        return n;
}

/* ---- tools and conversations built by hand ---- */

static void ts_add(struct agent_toolset *ts, const char *api, const char *server, const char *name,
                   const char *desc, const char *schema)
{
        ts->v = realloc(ts->v, (ts->n + 1) * sizeof(*ts->v));
        assert_non_null(ts->v);
        struct agent_tool *t = &ts->v[ts->n++];
        memset(t, 0, sizeof(*t));
        t->server = strdup(server);
        t->name = strdup(name);
        t->description = desc ? strdup(desc) : NULL;
        t->input_schema = json_loads(schema, 0, NULL);
        assert_non_null(t->input_schema);
        snprintf(t->api_name, sizeof(t->api_name), "%s", api);
}

static void make_tools(struct agent_toolset *ts)
{
        ts_add(ts, "everything__add", "everything", "add", "Adds two numbers",
               "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
               "\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"b\"]}");
        ts_add(ts, "fs__read_file", "fs", "read.file", NULL,
               "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}");
}

static struct agent_planner *planner(const char *provider, const char *url, const char *key,
                                     uint32_t timeout_ms, unsigned retries)
{
        struct agent_ai_config c = {
            .provider = (char *)provider,
            .url = (char *)url,
            .model = (char *)"test-model",
            .key = (char *)key,
            .timeout_ms = timeout_ms,
            .max_retries = retries,
        };
        osvm_err e = {0};
        struct agent_planner *p = strcmp(provider, "openai") == 0 ? agent_planner_openai(&c, &e)
                                                                  : agent_planner_anthropic(&c, &e);
        if (!p)
                fail_msg("planner: %s", e.msg);
        assert_string_equal(p->ops->name, provider);
        return p;
}

static bool json_eq_str(json_t *j, const char *text)
{
        json_t *want = json_loads(text, 0, NULL);
        assert_non_null(want);
        bool eq = json_equal(j, want);
        if (!eq) {
                char *got = json_dumps(j, JSON_COMPACT);
                print_message("  got:  %s\n  want: %s\n", got, text);
                free(got);
        }
        json_decref(want);
        return eq;
}

static json_t *req_body(json_t *reqs, size_t i)
{
        return json_object_get(json_array_get(reqs, i), "body");
}

static const char *req_header(json_t *reqs, size_t i, const char *name)
{
        return json_string_value(
            json_object_get(json_object_get(json_array_get(reqs, i), "headers"), name));
}

/* ---- OpenAI-compatible ---- */

static const char openai_two_rounds[] =
    "[{\"status\":200,\"body\":{\"id\":\"c1\",\"choices\":[{\"index\":0,\"finish_reason\":"
    "\"tool_calls\",\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"everything__add\","
    "\"arguments\":\"{\\\"a\\\": 2, \\\"b\\\": 3}\"}},"
    "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"fs__read_file\","
    "\"arguments\":\"{\\\"path\\\":\\\"/etc/hostname\\\"}\"}}]}}]}},"
    " {\"status\":200,\"body\":{\"choices\":[{\"index\":0,\"finish_reason\":\"stop\","
    "\"message\":{\"role\":\"assistant\",\"content\":\"2 + 3 = 5.\"}}]}}]";

static void test_openai_rounds(void **state)
{
        (void)state;
        struct srv s;
        srv_start(&s, openai_two_rounds);
        char url[200];
        snprintf(url, sizeof(url), "%s/", s.url); /* a trailing slash is not doubled */
        struct agent_planner *p = planner("openai", url, "sk-test", HANG_MS, 0);
        struct agent_toolset ts = {0};
        make_tools(&ts);
        struct agent_convo c = {0};
        agent_convo_add_user(&c, "add 2 and 3, and read /etc/hostname");

        osvm_err e = {0};
        struct agent_step st;
        if (p->ops->plan(p, &c, &ts, &st, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(st.ncalls, 2);
        assert_null(st.text);
        assert_string_equal(st.calls[0].id, "call_1");
        assert_ptr_equal(st.calls[0].tool, &ts.v[0]);
        assert_true(json_eq_str(st.calls[0].arguments, "{\"a\":2,\"b\":3}"));
        assert_string_equal(st.calls[1].id, "call_2");
        assert_ptr_equal(st.calls[1].tool, &ts.v[1]);
        assert_string_equal(st.calls[1].tool->name, "read.file");
        assert_true(json_eq_str(st.calls[1].arguments, "{\"path\":\"/etc/hostname\"}"));

        agent_convo_add_assistant(&c, &st);
        agent_convo_add_tool(&c, "call_1", "5", false);
        agent_convo_add_tool(&c, "call_2", "no such file", true);
        if (p->ops->plan(p, &c, &ts, &st, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(st.ncalls, 0);
        assert_string_equal(st.text, "2 + 3 = 5.");
        assert_false(st.needs_input);
        llm_step_clear(&st);

        json_t *reqs = srv_requests(&s);
        assert_int_equal(json_array_size(reqs), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "path")),
                            "/v1/chat/completions");
        assert_string_equal(req_header(reqs, 0, "authorization"), "Bearer sk-test");
        assert_string_equal(req_header(reqs, 0, "content-type"), "application/json");
        json_t *b0 = req_body(reqs, 0);
        assert_string_equal(json_string_value(json_object_get(b0, "model")), "test-model");
        assert_true(json_eq_str(
            json_object_get(b0, "tools"),
            "[{\"type\":\"function\",\"function\":{\"name\":\"everything__add\","
            "\"description\":\"Adds two numbers\",\"parameters\":{\"type\":\"object\","
            "\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}},"
            "\"required\":[\"a\",\"b\"]}}},"
            "{\"type\":\"function\",\"function\":{\"name\":\"fs__read_file\",\"parameters\":"
            "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}}}]"));
        json_t *m0 = json_object_get(b0, "messages");
        assert_int_equal(json_array_size(m0), 2);
        json_t *sys = json_array_get(m0, 0);
        assert_string_equal(json_string_value(json_object_get(sys, "role")), "system");
        assert_non_null(strstr(json_string_value(json_object_get(sys, "content")), "osvm"));
        assert_non_null(strstr(json_string_value(json_object_get(sys, "content")), "isolated"));
        assert_true(json_eq_str(json_array_get(m0, 1),
                                "{\"role\":\"user\",\"content\":\"add 2 and 3, and read "
                                "/etc/hostname\"}"));

        /* round two: the calls echoed back with their ids, then one tool message per result */
        json_t *m1 = json_object_get(req_body(reqs, 1), "messages");
        assert_int_equal(json_array_size(m1), 5);
        json_t *asst = json_array_get(m1, 2);
        assert_string_equal(json_string_value(json_object_get(asst, "role")), "assistant");
        assert_true(json_is_null(json_object_get(asst, "content")));
        json_t *tcs = json_object_get(asst, "tool_calls");
        assert_int_equal(json_array_size(tcs), 2);
        const char *ids[] = {"call_1", "call_2"}, *names[] = {"everything__add", "fs__read_file"};
        const char *args[] = {"{\"a\":2,\"b\":3}", "{\"path\":\"/etc/hostname\"}"};
        for (size_t i = 0; i < 2; i++) {
                json_t *tc = json_array_get(tcs, i), *fn = json_object_get(tc, "function");
                assert_string_equal(json_string_value(json_object_get(tc, "id")), ids[i]);
                assert_string_equal(json_string_value(json_object_get(tc, "type")), "function");
                assert_string_equal(json_string_value(json_object_get(fn, "name")), names[i]);
                /* arguments go back as a JSON string */
                const char *a = json_string_value(json_object_get(fn, "arguments"));
                assert_non_null(a);
                json_t *aj = json_loads(a, 0, NULL);
                assert_true(json_eq_str(aj, args[i]));
                json_decref(aj);
        }
        assert_true(
            json_eq_str(json_array_get(m1, 3),
                        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"5\"}"));
        json_t *t2 = json_array_get(m1, 4);
        assert_string_equal(json_string_value(json_object_get(t2, "tool_call_id")), "call_2");
        assert_non_null(strstr(json_string_value(json_object_get(t2, "content")), "no such file"));
        assert_non_null(strstr(json_string_value(json_object_get(t2, "content")), "ERROR"));
        json_decref(reqs);

        agent_convo_free(&c);
        agent_toolset_free(&ts);
        p->ops->free(p);
        srv_stop(&s);
}

/* No key: no Authorization header; no tools: no tools array; the full endpoint as the URL. */
static void test_openai_no_key(void **state)
{
        (void)state;
        struct srv s;
        srv_start(&s, "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"content\":["
                      "{\"type\":\"text\",\"text\":\"hello\"}]},\"finish_reason\":\"stop\"}]}}]");
        char url[200];
        snprintf(url, sizeof(url), "%s/chat/completions", s.url);
        struct agent_planner *p = planner("openai", url, NULL, HANG_MS, 0);
        struct agent_toolset ts = {0};
        struct agent_convo c = {0};
        agent_convo_add_user(&c, "hi");
        osvm_err e = {0};
        struct agent_step st;
        if (p->ops->plan(p, &c, &ts, &st, &e) < 0)
                fail_msg("%s", e.msg);
        assert_string_equal(st.text, "hello");
        llm_step_clear(&st);
        json_t *reqs = srv_requests(&s);
        assert_int_equal(json_array_size(reqs), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "path")),
                            "/v1/chat/completions");
        assert_null(req_header(reqs, 0, "authorization"));
        assert_null(json_object_get(req_body(reqs, 0), "tools"));
        json_decref(reqs);
        agent_convo_free(&c);
        p->ops->free(p);
        srv_stop(&s);
}

/* ---- Anthropic ---- */

static const char anthropic_two_rounds[] =
    "[{\"status\":200,\"body\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"stop_reason\":\"tool_use\",\"content\":["
    "{\"type\":\"text\",\"text\":\"Let me add them.\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"everything__add\","
    "\"input\":{\"a\":2,\"b\":3}},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"fs__read_file\","
    "\"input\":{\"path\":\"/nope\"}}]}},"
    " {\"status\":200,\"body\":{\"type\":\"message\",\"stop_reason\":\"end_turn\","
    "\"content\":[{\"type\":\"text\",\"text\":\"The sum is 5.\"}]}}]";

static void test_anthropic_rounds(void **state)
{
        (void)state;
        struct srv s;
        srv_start(&s, anthropic_two_rounds);
        struct agent_planner *p = planner("anthropic", s.url, "ant-key", HANG_MS, 0);
        struct agent_toolset ts = {0};
        make_tools(&ts);
        struct agent_convo c = {0};
        agent_convo_add_user(&c, "add 2 and 3");

        osvm_err e = {0};
        struct agent_step st;
        if (p->ops->plan(p, &c, &ts, &st, &e) < 0)
                fail_msg("%s", e.msg);
        assert_string_equal(st.text, "Let me add them.");
        assert_int_equal(st.ncalls, 2);
        assert_string_equal(st.calls[0].id, "toolu_01");
        assert_ptr_equal(st.calls[0].tool, &ts.v[0]);
        assert_true(json_eq_str(st.calls[0].arguments, "{\"a\":2,\"b\":3}"));
        assert_string_equal(st.calls[1].id, "toolu_02");
        assert_ptr_equal(st.calls[1].tool, &ts.v[1]);

        agent_convo_add_assistant(&c, &st);
        agent_convo_add_tool(&c, "toolu_01", "5", false);
        agent_convo_add_tool(&c, "toolu_02", "ENOENT: /nope", true);
        if (p->ops->plan(p, &c, &ts, &st, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(st.ncalls, 0);
        assert_string_equal(st.text, "The sum is 5.");
        llm_step_clear(&st);

        json_t *reqs = srv_requests(&s);
        assert_int_equal(json_array_size(reqs), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "path")),
                            "/v1/messages");
        assert_string_equal(req_header(reqs, 0, "x-api-key"), "ant-key");
        assert_string_equal(req_header(reqs, 0, "anthropic-version"), "2023-06-01");
        assert_string_equal(req_header(reqs, 0, "content-type"), "application/json");
        assert_null(req_header(reqs, 0, "authorization"));
        json_t *b0 = req_body(reqs, 0);
        assert_string_equal(json_string_value(json_object_get(b0, "model")), "test-model");
        assert_true(json_integer_value(json_object_get(b0, "max_tokens")) > 0);
        assert_non_null(strstr(json_string_value(json_object_get(b0, "system")), "osvm"));
        assert_true(json_eq_str(
            json_object_get(b0, "tools"),
            "[{\"name\":\"everything__add\",\"description\":\"Adds two numbers\","
            "\"input_schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
            "\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"b\"]}},"
            "{\"name\":\"fs__read_file\",\"input_schema\":{\"type\":\"object\",\"properties\":"
            "{\"path\":{\"type\":\"string\"}}}}]"));
        assert_true(json_eq_str(json_object_get(b0, "messages"),
                                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                                "\"text\":\"add 2 and 3\"}]}]"));
        /* round two: the assistant's blocks echoed, the results merged into one user message */
        assert_true(json_eq_str(
            json_object_get(req_body(reqs, 1), "messages"),
            "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"add 2 and 3\"}]},"
            "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Let me add "
            "them.\"},{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"everything__add\","
            "\"input\":{\"a\":2,\"b\":3}},{\"type\":\"tool_use\",\"id\":\"toolu_02\","
            "\"name\":\"fs__read_file\",\"input\":{\"path\":\"/nope\"}}]},"
            "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
            "\"toolu_01\",\"content\":\"5\",\"is_error\":false},{\"type\":\"tool_result\","
            "\"tool_use_id\":\"toolu_02\",\"content\":\"ENOENT: /nope\",\"is_error\":true}]}]"));
        assert_non_null(json_object_get(req_body(reqs, 1), "system"));
        json_decref(reqs);

        agent_convo_free(&c);
        agent_toolset_free(&ts);
        p->ops->free(p);
        srv_stop(&s);
}

/* ---- errors ---- */

/* Runs one round against a script; returns the planner's result, e filled. */
static int run_once(const char *provider, const char *script, uint32_t timeout_ms, unsigned retries,
                    osvm_err *e, size_t *nreq)
{
        struct srv s;
        srv_start(&s, script);
        struct agent_planner *p = planner(provider, s.url, "k", timeout_ms, retries);
        struct agent_toolset ts = {0};
        make_tools(&ts);
        struct agent_convo c = {0};
        agent_convo_add_user(&c, "go");
        struct agent_step st;
        err_clear(e);
        int rc = p->ops->plan(p, &c, &ts, &st, e);
        if (rc == 0)
                llm_step_clear(&st);
        else
                assert_true(st.ncalls == 0 && st.text == NULL);
        *nreq = srv_count(&s);
        agent_convo_free(&c);
        agent_toolset_free(&ts);
        p->ops->free(p);
        srv_stop(&s);
        return rc;
}

static void expect_err(const char *provider, const char *script, uint32_t timeout_ms,
                       unsigned retries, const char *want1, const char *want2, size_t want_req)
{
        osvm_err e = {0};
        size_t n;
        int rc = run_once(provider, script, timeout_ms, retries, &e, &n);
        print_message("  %s: %s\n", provider, e.msg);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(e.msg, want1));
        if (want2)
                assert_non_null(strstr(e.msg, want2));
        assert_int_equal(n, want_req);
}

static void test_401_no_retry(void **state)
{
        (void)state;
        const char *s = "[{\"status\":401,\"body\":{\"error\":{\"message\":\"Incorrect API key "
                        "provided\",\"type\":\"invalid_request_error\"}}},"
                        "{\"status\":200,\"body\":{}}]";
        expect_err("openai", s, HANG_MS, 3, "the API key was refused", "Incorrect API key", 1);
        expect_err("anthropic",
                   "[{\"status\":403,\"body\":{\"type\":\"error\",\"error\":{\"type\":"
                   "\"permission_error\",\"message\":\"no access\"}}}]",
                   HANG_MS, 3, "the API key was refused (HTTP 403", "no access", 1);
}

static void test_401_without_key(void **state)
{
        (void)state;
        struct srv s;
        srv_start(&s, "[{\"status\":401,\"body\":{\"error\":{\"message\":\"missing key\"}}}]");
        struct agent_planner *p = planner("openai", s.url, NULL, HANG_MS, 3);
        struct agent_convo c = {0};
        agent_convo_add_user(&c, "go");
        struct agent_step st;
        osvm_err e = {0};
        assert_int_equal(p->ops->plan(p, &c, NULL, &st, &e), -1);
        print_message("  %s\n", e.msg);
        assert_non_null(strstr(e.msg, "wants an API key and none is configured"));
        assert_non_null(strstr(e.msg, "OSVM_AI_KEY"));
        assert_int_equal(srv_count(&s), 1);
        agent_convo_free(&c);
        p->ops->free(p);
        srv_stop(&s);
}

static void test_reply_too_large(void **state)
{
        (void)state;
        char script[256];
        snprintf(script, sizeof(script),
                 "[{\"status\":200,\"pad_bytes\":%u,\"body\":{\"choices\":[{\"message\":"
                 "{\"content\":\"x\"}}]}}]",
                 LLM_MAX_REPLY_BYTES);
        /* HANG_MS, not a tighter limit: the time the 8 MiB take to arrive
         * (a loaded machine, the sanitizers' copies) is not what is tested */
        expect_err("openai", script, HANG_MS, 3, "larger than", NULL, 1);
}

static void test_429_retried(void **state)
{
        (void)state;
        osvm_err e = {0};
        size_t n;
        /* Retry-After honoured (0 s), then the answer */
        assert_int_equal(
            run_once("openai",
                     "[{\"status\":429,\"headers\":{\"Retry-After\":\"0\"},\"body\":{\"error\":"
                     "{\"message\":\"slow down\"}}},{\"status\":200,\"body\":{\"choices\":[{"
                     "\"message\":{\"content\":\"ok\"}}]}}]",
                     HANG_MS, 3, &e, &n),
            0);
        assert_int_equal(n, 2);
        /* 503 without Retry-After: the backoff (OSVM_AI_RETRY_BASE_MS) */
        assert_int_equal(
            run_once("anthropic",
                     "[{\"status\":503,\"body\":\"overloaded\"},{\"status\":529,\"body\":{}},"
                     "{\"status\":200,\"body\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],"
                     "\"stop_reason\":\"end_turn\"}}]",
                     HANG_MS, 3, &e, &n),
            0);
        assert_int_equal(n, 3);
}

static void test_500_gives_up(void **state)
{
        (void)state;
        expect_err("openai",
                   "[{\"status\":500,\"body\":\"boom\"},{\"status\":500,\"body\":\"boom\"},"
                   "{\"status\":500,\"body\":\"boom\"},{\"status\":200,\"body\":{}}]",
                   HANG_MS, 2, "HTTP 500 3 times", "boom", 3);
        /* other 4xx: no retry, the status and the server's words */
        expect_err("openai", "[{\"status\":400,\"body\":{\"error\":{\"message\":\"bad model\"}}}]",
                   HANG_MS, 3, "HTTP 400", "bad model", 1);
}

static int free_port(void)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0)
                return -1;
        close(fd);
        return ntohs(a.sin_port);
}

static void test_unreachable(void **state)
{
        (void)state;
        int port = free_port();
        assert_true(port > 0);
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", port);
        const char *providers[] = {"openai", "anthropic"};
        for (size_t i = 0; i < 2; i++) {
                struct agent_planner *p = planner(providers[i], url, NULL, HANG_MS, 3);
                struct agent_convo c = {0};
                agent_convo_add_user(&c, "go");
                struct agent_step st;
                osvm_err e = {0};
                assert_int_equal(p->ops->plan(p, &c, NULL, &st, &e), -1);
                print_message("  %s\n", e.msg);
                assert_non_null(strstr(e.msg, "cannot reach http://127.0.0.1:"));
                assert_non_null(strstr(e.msg, providers[i]));
                agent_convo_free(&c);
                p->ops->free(p);
        }
}

struct bad_reply {
        const char *provider;
        const char *script;
        const char *want1, *want2;
};

static const struct bad_reply bad_replies[] = {
    {"openai", "[{\"status\":200,\"body\":\"{not json\"}]", "not valid JSON", NULL},
    {"anthropic", "[{\"status\":200,\"body\":\"\"}]", "not valid JSON", NULL},
    {"openai", "[{\"status\":200,\"body\":[1,2]}]", "no choices", NULL},
    {"openai", "[{\"status\":200,\"body\":{\"choices\":[{\"message\":\"hi\"}]}}]",
     "no message object", NULL},
    {"openai",
     "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"function\",\"function\":{\"name\":\"nope__tool\",\"arguments\":\"{}\"}}]}}]}}]",
     "does not exist", "\"nope__tool\""},
    {"openai",
     "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"function\",\"function\":{\"name\":\"everything__add\",\"arguments\":"
     "\"{\\\"a\\\":\"}}]}}]}}]",
     "everything__add", "not valid JSON"},
    {"openai",
     "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"function\",\"function\":{\"name\":\"everything__add\",\"arguments\":"
     "\"[1]\"}}]}}]}}]",
     "everything__add", "not an object"},
    {"openai",
     "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"tool_calls\":[{"
     "\"type\":\"function\",\"function\":{\"name\":\"everything__add\",\"arguments\":"
     "\"{}\"}}]}}]}}]",
     "no id", NULL},
    {"openai", "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"tool_calls\":7}}]}}]",
     "tool_calls is not an array", NULL},
    {"openai",
     "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"content\":null},"
     "\"finish_reason\":\"length\"}]}}]",
     "neither text nor tool calls", "length"},
    {"anthropic",
     "[{\"status\":200,\"body\":{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
     "\"name\":\"evil\\u001b[2J\",\"input\":{}}]}}]",
     "does not exist", "\"evil?[2J\""},
    {"anthropic",
     "[{\"status\":200,\"body\":{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
     "\"name\":\"everything__add\",\"input\":\"a=1\"}]}}]",
     "everything__add", "not an object"},
    {"anthropic", "[{\"status\":200,\"body\":{\"type\":\"message\"}}]", "no content array", NULL},
    {"anthropic", "[{\"status\":200,\"body\":{\"content\":[{\"text\":\"x\"}]}}]", "no type", NULL},
    {"anthropic", "[{\"status\":200,\"body\":{\"content\":[],\"stop_reason\":\"max_tokens\"}}]",
     "neither text nor tool calls", "max_tokens"},
};

static void test_bad_replies(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(bad_replies) / sizeof(bad_replies[0]); i++) {
                const struct bad_reply *b = &bad_replies[i];
                print_message("case %zu\n", i);
                expect_err(b->provider, b->script, HANG_MS, 0, b->want1, b->want2, 1);
        }
}

static void test_timeout(void **state)
{
        (void)state;
        /* the answer comes long after the timeout (the server holds it 10
         * minutes), and a timeout is not retried: a retry would get the
         * quick answer that follows in the script, and succeed */
        osvm_err e = {0};
        size_t n;
        assert_int_equal(
            run_once("openai",
                     "[{\"status\":200,\"delay_ms\":600000,\"body\":{\"choices\":[{\"message\":"
                     "{\"content\":\"late\"}}]}},"
                     "{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"content\":"
                     "\"retried\"}}]}}]",
                     300, 3, &e, &n),
            -1);
        print_message("  %s\n", e.msg);
        assert_non_null(strstr(e.msg, "timeout of 300 ms"));
        /* one request, or none yet read by a server slower than 300 ms */
        assert_true(n <= 1);
}

static volatile sig_atomic_t cancel_flag;

static void *cancel_later(void *arg)
{
        (void)arg;
        struct timespec ts = {.tv_nsec = 200 * 1000000L};
        nanosleep(&ts, NULL);
        cancel_flag = 1;
        return NULL;
}

static void test_cancel(void **state)
{
        (void)state;
        struct srv s;
        /* only the cancel can end the call early: the answer would come in
         * 10 minutes, the planner's timeout in HANG_MS (and say "timeout") */
        srv_start(&s, "[{\"status\":200,\"delay_ms\":600000,\"body\":{}}]");
        struct agent_planner *p = planner("anthropic", s.url, NULL, HANG_MS, 3);
        cancel_flag = 0;
        p->cancel = &cancel_flag;
        struct agent_convo c = {0};
        agent_convo_add_user(&c, "go");
        struct agent_step st;
        osvm_err e = {0};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, cancel_later, NULL), 0);
        assert_int_equal(p->ops->plan(p, &c, NULL, &st, &e), -1);
        pthread_join(th, NULL);
        print_message("  %s\n", e.msg);
        assert_non_null(strstr(e.msg, "cancelled"));
        assert_int_equal(e.exit, OSVM_EXIT_INTERRUPTED);
        agent_convo_free(&c);
        p->ops->free(p);
        srv_stop(&s);
}

static void test_config_errors(void **state)
{
        (void)state;
        osvm_err e = {0};
        struct agent_ai_config c = {.provider = (char *)"openai", .url = (char *)"http://x/v1"};
        assert_null(agent_planner_openai(&c, &e));
        assert_non_null(strstr(e.msg, "no model"));
        c.model = (char *)"m";
        c.url = (char *)"ftp://u:SECRET4@x";
        c.source = (char *)"OSVM_AI_URL";
        err_clear(&e);
        assert_null(agent_planner_anthropic(&c, &e));
        assert_non_null(strstr(e.msg, "the URL is not an http:// or https:// one (OSVM_AI_URL)"));
        assert_null(strstr(e.msg, "SECRET4"));
}

/* ---- what goes into a header ---- */

static void test_key_with_crlf(void **state)
{
        (void)state;
        const char *providers[] = {"openai", "anthropic"};
        for (size_t i = 0; i < 2; i++) {
                struct srv s;
                srv_start(&s, "[{\"status\":200,\"body\":{}}]");
                struct agent_ai_config c = {
                    .provider = (char *)providers[i],
                    .url = s.url,
                    .model = (char *)"m",
                    .key = (char *)"sk-test\r\nX-Injected: yes",
                };
                osvm_err e = {0};
                struct agent_planner *p =
                    i == 0 ? agent_planner_openai(&c, &e) : agent_planner_anthropic(&c, &e);
                if (p) {
                        struct agent_convo cv = {0};
                        agent_convo_add_user(&cv, "go");
                        struct agent_step st;
                        if (p->ops->plan(p, &cv, NULL, &st, &e) == 0)
                                llm_step_clear(&st);
                        agent_convo_free(&cv);
                        p->ops->free(p);
                        json_t *reqs = srv_requests(&s);
                        bool injected = req_header(reqs, 0, "x-injected") != NULL;
                        json_decref(reqs);
                        srv_stop(&s);
                        fail_msg("%s: a key holding CR LF was taken%s", providers[i],
                                 injected ? " and injected a header" : "");
                }
                print_message("  %s: %s\n", providers[i], e.msg);
                assert_non_null(strstr(e.msg, "API key"));
                assert_non_null(strstr(e.msg, "control character"));
                assert_null(strstr(e.msg, "sk-test"));
                assert_int_equal(srv_count(&s), 0);
                srv_stop(&s);
        }
}

static void test_headers_checked_before_sending(void **state)
{
        (void)state;
        struct srv s;
        srv_start(&s, "[{\"status\":200,\"body\":{}}]");
        static const char *const bad[] = {"X-Key: a\x01secret", "X-Key: a\nX-Injected: 1",
                                          "Bad Name: v", "NoColon"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *hdrs[] = {"X-Fine: ok", bad[i], NULL};
                struct llm_request r = {.url = s.url, .headers = hdrs, .body = "{}"};
                json_t *reply = NULL;
                osvm_err e = {0};
                assert_int_equal(llm_post_json(&r, &reply, NULL, &e), -1);
                print_message("  %s\n", e.msg);
                assert_null(reply);
                assert_non_null(strstr(e.msg, "nothing was sent"));
                assert_null(strstr(e.msg, "secret"));
                assert_null(strchr(e.msg, '\n'));
        }
        assert_int_equal(srv_count(&s), 0);
        srv_stop(&s);
}

/* Loads the configuration with only the given OSVM_AI_* / *_API_KEY variables set. */
static int load_config(const char *home, const char *const *vars, struct agent_ai_config *c,
                       osvm_err *e)
{
        static const char *const all[] = {
            "OSVM_AI_PROVIDER", "OSVM_AI_URL",       "OSVM_AI_MODEL", "OSVM_AI_KEY",
            "OPENAI_API_KEY",   "ANTHROPIC_API_KEY", "MY_KEY",        NULL};
        for (size_t i = 0; all[i]; i++)
                unsetenv(all[i]);
        for (size_t i = 0; vars && vars[i]; i += 2)
                setenv(vars[i], vars[i + 1], 1);
        setenv("OSVM_HOME", home, 1);
        err_clear(e);
        int rc = agent_ai_config_load(c, e);
        print_message("  -> %s\n", e->msg);
        return rc;
}

static void test_key_checked_where_configured(void **state)
{
        (void)state;
        char home[64];
        assert_int_equal(tu_tempdir(home, sizeof(home), "llmcfg"), 0);
        char *ai = xasprintf("%s/ai.json", home);
        struct agent_ai_config c;
        osvm_err e = {0};

        const char *env1[] = {"OSVM_AI_PROVIDER", "openai", "OSVM_AI_KEY", "k1\nX-Injected: 1",
                              NULL};
        assert_int_equal(load_config(home, env1, &c, &e), -1);
        assert_non_null(strstr(e.msg, "OSVM_AI_KEY"));
        assert_int_equal(e.exit, OSVM_EXIT_CONFIG);
        agent_ai_config_free(&c);

        /* a URL that is not http(s) is named by where it came from, never quoted */
        const char *env0[] = {"OSVM_AI_PROVIDER", "openai", "OSVM_AI_URL", "ftp://u:SECRET5@x/",
                              NULL};
        assert_int_equal(load_config(home, env0, &c, &e), -1);
        assert_non_null(strstr(e.msg, "the LLM URL is not http:// or https://"));
        assert_null(strstr(e.msg, "SECRET5"));
        agent_ai_config_free(&c);

        const char *env2[] = {"OPENAI_API_KEY", "k2\r\n", NULL};
        assert_int_equal(load_config(home, env2, &c, &e), -1);
        assert_non_null(strstr(e.msg, "OPENAI_API_KEY"));
        agent_ai_config_free(&c);

        const char *file1 = "{\"provider\":\"openai\",\"api_key\":\"k3\\u0007\"}";
        assert_int_equal(fs_write_atomic(ai, file1, strlen(file1), 0600, NULL), 0);
        assert_int_equal(load_config(home, NULL, &c, &e), -1);
        assert_non_null(strstr(e.msg, "ai.json: api_key"));
        assert_int_equal(e.exit, OSVM_EXIT_CONFIG);
        agent_ai_config_free(&c);

        const char *file2 = "{\"provider\":\"anthropic\",\"api_key_env\":\"MY_KEY\"}";
        assert_int_equal(fs_write_atomic(ai, file2, strlen(file2), 0600, NULL), 0);
        const char *env3[] = {"MY_KEY", "k4\rX: y", NULL};
        assert_int_equal(load_config(home, env3, &c, &e), -1);
        assert_non_null(strstr(e.msg, "MY_KEY (named by api_key_env"));
        agent_ai_config_free(&c);

        /* the message never shows the key; a good key loads */
        assert_null(strstr(e.msg, "k4"));
        const char *env4[] = {"MY_KEY", "sk-good", NULL};
        assert_int_equal(load_config(home, env4, &c, &e), 0);
        assert_string_equal(c.key, "sk-good");
        agent_ai_config_free(&c);

        unsetenv("MY_KEY");
        unsetenv("OSVM_HOME");
        free(ai);
        tu_rmrf(home);
}

/* ---- replies holding \u0000 (valid JSON) ---- */

/* The reply parsers called directly on a reply (no endpoint): both APIs read
 * the same two calls, and refuse a call to a tool that is not in the set. */
static void test_parse_reply_direct(void **state)
{
        (void)state;
        struct agent_toolset ts = {0};
        make_tools(&ts);
        struct {
                llm_parse_fn parse;
                const char *reply;
        } cases[] = {
            {llm_openai_parse_reply,
             "{\"choices\":[{\"message\":{\"content\":\"Adding.\",\"tool_calls\":["
             "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
             "\"everything__add\",\"arguments\":\"{\\\"a\\\":2,\\\"b\\\":3}\"}},"
             "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
             "\"fs__read_file\",\"arguments\":{\"path\":\"/x\"}}}]}}]}"},
            {llm_anthropic_parse_reply,
             "{\"content\":[{\"type\":\"text\",\"text\":\"Adding.\"},{\"type\":\"tool_use\","
             "\"id\":\"call_1\",\"name\":\"everything__add\",\"input\":{\"a\":2,\"b\":3}},"
             "{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"fs__read_file\",\"input\":"
             "{\"path\":\"/x\"}}]}"},
        };
        for (size_t i = 0; i < 2; i++) {
                json_t *reply = json_loads(cases[i].reply, 0, NULL);
                assert_non_null(reply);
                struct agent_step out = {0};
                osvm_err e = {0};
                assert_int_equal(cases[i].parse(reply, &ts, &out, &e), 0);
                assert_string_equal(out.text, "Adding.");
                assert_int_equal(out.ncalls, 2);
                assert_ptr_equal(out.calls[0].tool, &ts.v[0]);
                assert_string_equal(out.calls[0].id, "call_1");
                json_t *want = json_pack("{s:i, s:i}", "a", 2, "b", 3);
                assert_true(json_equal(out.calls[0].arguments, want));
                json_decref(want);
                assert_ptr_equal(out.calls[1].tool, &ts.v[1]);
                llm_step_clear(&out);
                json_decref(reply);
        }
        json_t *bad = json_loads("{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
                                 "\"name\":\"nope\",\"input\":{}}]}",
                                 0, NULL);
        struct agent_step out = {0};
        osvm_err e = {0};
        assert_int_equal(llm_anthropic_parse_reply(bad, &ts, &out, &e), -1);
        assert_non_null(strstr(e.msg, "does not exist"));
        llm_step_clear(&out);
        json_decref(bad);
        agent_toolset_free(&ts);
}

static void test_nul_in_replies(void **state)
{
        (void)state;
        osvm_err e = {0};
        size_t n;
        /* text: read whole, the NUL shown as U+FFFD */
        struct srv s;
        srv_start(&s, "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"content\":"
                      "\"a\\u0000b\"},\"finish_reason\":\"stop\"}]}},"
                      "{\"status\":200,\"body\":{\"content\":[{\"type\":\"text\",\"text\":"
                      "\"x\\u0000y\"}],\"stop_reason\":\"end_turn\"}}]");
        const char *providers[] = {"openai", "anthropic"};
        const char *want[] = {"a\xEF\xBF\xBD"
                              "b",
                              "x\xEF\xBF\xBD"
                              "y"};
        for (size_t i = 0; i < 2; i++) {
                struct agent_planner *p = planner(providers[i], s.url, "k", HANG_MS, 0);
                struct agent_convo c = {0};
                agent_convo_add_user(&c, "go");
                struct agent_step st;
                if (p->ops->plan(p, &c, NULL, &st, &e) < 0)
                        fail_msg("%s: %s", providers[i], e.msg);
                assert_string_equal(st.text, want[i]);
                llm_step_clear(&st);
                agent_convo_free(&c);
                p->ops->free(p);
        }
        srv_stop(&s);

        /* arguments keep their NUL (they go to the tool as JSON) */
        srv_start(&s, "[{\"status\":200,\"body\":{\"choices\":[{\"message\":{\"tool_calls\":[{"
                      "\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
                      "\"fs__read_file\",\"arguments\":\"{\\\"path\\\":\\\"/a\\\\u0000b\\\"}\"}}]},"
                      "\"finish_reason\":\"tool_calls\"}]}}]");
        struct agent_planner *p = planner("openai", s.url, "k", HANG_MS, 0);
        struct agent_toolset ts = {0};
        make_tools(&ts);
        struct agent_convo c = {0};
        agent_convo_add_user(&c, "go");
        struct agent_step st;
        if (p->ops->plan(p, &c, &ts, &st, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(st.ncalls, 1);
        assert_int_equal(json_string_length(json_object_get(st.calls[0].arguments, "path")), 4);
        llm_step_clear(&st);
        agent_convo_free(&c);
        agent_toolset_free(&ts);
        p->ops->free(p);
        srv_stop(&s);

        /* a tool name or call id holding NUL names nothing */
        assert_int_equal(
            run_once("anthropic",
                     "[{\"status\":200,\"body\":{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
                     "\"name\":\"everything__add\\u0000x\",\"input\":{}}]}}]",
                     HANG_MS, 0, &e, &n),
            -1);
        assert_non_null(strstr(e.msg, "NUL"));
        assert_int_equal(
            run_once("anthropic",
                     "[{\"status\":200,\"body\":{\"content\":[{\"type\":\"tool_use\",\"id\":"
                     "\"t\\u0000x\",\"name\":\"everything__add\",\"input\":{}}]}}]",
                     HANG_MS, 0, &e, &n),
            -1);
        assert_non_null(strstr(e.msg, "NUL"));
}

int main(void)
{
        setenv("OSVM_AI_RETRY_BASE_MS", "10", 1);
        if (access(SERVER_PY, R_OK) != 0 || system("python3 -c pass 2>/dev/null") != 0) {
                printf("SKIP: python3 or %s missing (run from the repository root)\n", SERVER_PY);
                return 0;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_openai_rounds),
            cmocka_unit_test(test_openai_no_key),
            cmocka_unit_test(test_anthropic_rounds),
            cmocka_unit_test(test_401_no_retry),
            cmocka_unit_test(test_401_without_key),
            cmocka_unit_test(test_reply_too_large),
            cmocka_unit_test(test_429_retried),
            cmocka_unit_test(test_500_gives_up),
            cmocka_unit_test(test_unreachable),
            cmocka_unit_test(test_bad_replies),
            cmocka_unit_test(test_timeout),
            cmocka_unit_test(test_cancel),
            cmocka_unit_test(test_config_errors),
            cmocka_unit_test(test_key_with_crlf),
            cmocka_unit_test(test_headers_checked_before_sending),
            cmocka_unit_test(test_key_checked_where_configured),
            cmocka_unit_test(test_nul_in_replies),
            cmocka_unit_test(test_parse_reply_direct),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
