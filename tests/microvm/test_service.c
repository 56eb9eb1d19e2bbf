/*
 * μVM-1's host-call service without a VM: the test holds the agent's end of
 * the channel. The config and hello answers carry no credential of a URL, and
 * an agent that writes host calls without reading the answers loses its
 * channel instead of holding the service; a preview decision is not counted.
 */
#include "testutil.h"

#include "microvm/microvm.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A bound that only guards a hang: the fixed service closes the channel
 * after its stall (300 ms here). */
#define HANG_GUARD_MS 60000

static char dir[64];
static struct mcp_registry reg;
static volatile sig_atomic_t interrupted, resized;

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "service") < 0)
                return -1;
        setenv("OSVM_HOME", dir, 1);
        char *audit = xasprintf("%s/audit.jsonl", dir); /* the calls' records, here */
        setenv("OSVM_AUDIT_FILE", audit, 1);
        free(audit);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unsetenv("OSVM_HOME");
        return tu_rmrf(dir);
}

static struct microvm_service *start_as(struct microvm_host *h, int sv[2],
                                        const struct mcp_registry *r, struct mcp_hub *hub,
                                        bool chat)
{
        memset(h, 0, sizeof(*h));
        h->reg = r;
        h->hub = hub;
        h->ask = chat;
        h->interrupted = &interrupted;
        h->resized = &resized;
        h->send_stall_ms = 300;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        osvm_err e = {0};
        struct microvm_service *s = microvm_service_start(sv[0], h, &e);
        assert_non_null(s);
        return s;
}

static struct microvm_service *start_with(struct microvm_host *h, int sv[2],
                                          const struct mcp_registry *r, struct mcp_hub *hub)
{
        return start_as(h, sv, r, hub, false);
}

static struct microvm_service *start(struct microvm_host *h, int sv[2])
{
        return start_with(h, sv, &reg, NULL);
}

static void stop(struct microvm_service *s, int sv[2])
{
        close(sv[1]);
        microvm_service_finish(s, NULL, NULL);
        close(sv[0]);
}

/* One line from the service (parsed). */
static json_t *read_answer(int fd)
{
        strbuf b = {0};
        char c;
        while (read(fd, &c, 1) == 1 && c != '\n')
                sb_addn(&b, &c, 1);
        json_t *ans = json_loadb(b.s ? b.s : "", b.len, 0, NULL);
        sb_free(&b);
        assert_non_null(ans);
        return ans;
}

/* One request, one answer line (parsed). */
static json_t *ask(int fd, const char *req)
{
        assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        return read_answer(fd);
}

/* The next line that is not a tick (a pending line without a question). */
static json_t *next_not_tick(int fd)
{
        for (;;) {
                json_t *l = read_answer(fd);
                if (!json_is_true(json_object_get(l, "pending")) || json_object_get(l, "ask"))
                        return l;
                json_decref(l);
        }
}

/* The next line that is not a pending one; *egress (when not NULL) gets a
 * pending line's "egress" (NULL where none came). */
static json_t *answer_after(int fd, json_t **egress)
{
        *egress = NULL;
        for (;;) {
                json_t *l = read_answer(fd);
                if (!json_is_true(json_object_get(l, "pending")))
                        return l;
                json_t *e = json_object_get(l, "egress");
                if (e) {
                        json_decref(*egress);
                        *egress = json_incref(e);
                }
                json_decref(l);
        }
}

/*
 * req is refused with an answer that holds want, and the channel goes on
 * (an answer that could not be made left it unanswered and open: the agent
 * waited for ever; the alarm only turns that into a failure).
 */
static void expect_refused_and_open(int fd, const char *req, const char *want)
{
        alarm(HANG_GUARD_MS / 1000);
        json_t *ans = ask(fd, req);
        assert_false(json_is_true(json_object_get(ans, "ok")));
        assert_non_null(strstr(json_string_value(json_object_get(ans, "error")), want));
        json_decref(ans);
        ans = ask(fd, "{\"op\": \"events\"}\n");
        alarm(0);
        assert_true(json_is_true(json_object_get(ans, "ok")));
        json_decref(ans);
}

static void test_config_without_credentials(void **state)
{
        (void)state;
        char *path = xasprintf("%s/isolation_config.json", dir);
        const char *text =
            "{\"mcp_servers\": {"
            " \"osvm-mcp\": {\"rpc_url\": "
            "\"https://osvm:s3cr3tpw@rpc.example.com:8443/v2/TOKEN42?api-key=SECRET7#frag\"},"
            " \"plain\": {\"rpc_url\": \"http://127.0.0.1:8899\"},"
            " \"odd\": {\"rpc_url\": \"gopher://osvm:s3cr3tpw@h/TOKEN42\"},"
            " \"none\": {}}}";
        assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600, NULL), 0);
        free(path);
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start(&h, sv);
        json_t *ans = ask(sv[1], "{\"op\": \"config\"}\n");
        char *shown = json_dumps(ans, JSON_COMPACT);
        print_message("%s\n", shown);
        assert_null(strstr(shown, "s3cr3tpw"));
        assert_null(strstr(shown, "TOKEN42"));
        assert_null(strstr(shown, "SECRET7"));
        assert_null(strstr(shown, "frag"));
        free(shown);
        json_t *srv = json_object_get(json_object_get(ans, "config"), "mcp_servers");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(srv, "osvm-mcp"), "rpc_url")),
            "https://rpc.example.com:8443/");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(srv, "plain"), "rpc_url")),
            "http://127.0.0.1:8899/");
        assert_null(json_object_get(json_object_get(srv, "odd"), "rpc_url"));
        assert_non_null(json_object_get(srv, "none"));
        json_decref(ans);
        stop(s, sv);
}

/* The handshake names the LLM endpoint, never a key in its URL. */
static void test_hello_without_credentials(void **state)
{
        (void)state;
        struct agent_ai_config ai = {
            .provider = "openai",
            .url = "https://user:pw123@llm.example.com/v1?key=SECRET9",
            .model = "m",
            .source = "OSVM_AI_URL",
        };
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start(&h, sv);
        h.ai = &ai;
        json_t *ans = ask(sv[1], "{\"op\": \"hello\", \"protocol\": 1}\n");
        char *shown = json_dumps(ans, JSON_COMPACT);
        print_message("%s\n", shown);
        assert_null(strstr(shown, "SECRET9"));
        assert_null(strstr(shown, "pw123"));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(ans, "planner"), "url")),
            "https://llm.example.com/");
        free(shown);
        json_decref(ans);
        stop(s, sv);
}

/* \u0000 is valid JSON: such a request is read (not "not a JSON object"),
 * and a name holding one is refused for what it is, not cut at the NUL. */
static void test_nul_in_request(void **state)
{
        (void)state;
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start(&h, sv);
        json_t *ans = ask(sv[1], "{\"op\": \"tool.decide\", \"server\": \"osvm-mcp\\u0000x\", "
                                 "\"tool\": \"get_slot\"}\n");
        const char *err = json_string_value(json_object_get(ans, "error"));
        assert_non_null(err);
        assert_non_null(strstr(err, "tool.decide: the field \"server\" holds a NUL character"));
        json_decref(ans);
        /* a key with a NUL, read as U+FFFD where the message cuts it */
        expect_refused_and_open(
            sv[1],
            "{\"op\": \"hello\", \"_____________________________________________"
            "_______________pro\\u0000tocol\": 0}\n",
            "pro\\xef");
        stop(s, sv);
}

/* An agent that writes host calls and never reads: past the stall the
 * service closes the channel (POLLHUP on the agent's end) by itself. */
static void test_agent_that_does_not_read(void **state)
{
        (void)state;
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start(&h, sv);
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        long sent = tu_flood_until_hup(sv[1], "{\"op\":\"events\"}\n", HANG_GUARD_MS);
        print_message("%ld requests written before the service closed the channel\n", sent);
        assert_true(sent > 0);
        stop(s, sv);
}

/* A hub of one stdio server "srv" (argv) under the default config, on a host
 * without KVM; cfg, conf and r are the caller's and outlive the hub (which
 * borrows them, and the host, kept here). */
static struct mcp_hub *one_server_hub(struct iso_config *cfg, char **argv,
                                      struct mcp_server_conf *conf, struct mcp_registry *r)
{
        static char *env[] = {NULL};
        struct iso_diags d = {0};
        char *text = iso_config_default_text();
        assert_int_equal(iso_config_parse(text, strlen(text), "the default", cfg, &d), 0);
        free(text);
        iso_diags_free(&d);
        static struct iso_host host = {.kvm_usable = false};
        snprintf(host.kvm_problem, sizeof(host.kvm_problem), "no KVM in this test");
        *conf = (struct mcp_server_conf){.id = "srv",
                                         .name = "srv",
                                         .kind = MCP_KIND_STDIO,
                                         .argv = argv,
                                         .env = env,
                                         .enabled = true};
        *r = (struct mcp_registry){.n = 1, .v = conf};
        return mcp_hub_new(r, cfg, &host);
}

/* The chat's /tools asks where a tool would run with a preview: answered as
 * tool.decide is, but not counted as a fallback (the status line's '*' means
 * a call fell back); its flag must be a boolean. */
static void test_decide_preview(void **state)
{
        (void)state;
        struct iso_config cfg;
        char *argv[] = {"/bin/true", NULL};
        struct mcp_server_conf conf;
        struct mcp_registry r;
        struct mcp_hub *hub = one_server_hub(&cfg, argv, &conf, &r);
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start_with(&h, sv, &r, hub);
        session_reset(session_get(), time_mono_ns());

        json_t *ans = ask(sv[1], "{\"op\": \"tool.decide\", \"server\": \"srv\", \"tool\": \"t\", "
                                 "\"preview\": true}\n");
        json_t *dec = json_object_get(ans, "decision");
        assert_true(json_is_true(json_object_get(ans, "ok")));
        assert_string_equal(json_string_value(json_object_get(dec, "route")), "direct");
        assert_true(json_is_true(json_object_get(dec, "fell_back")));
        assert_int_equal(session_get()->fallbacks, 0); /* a preview is no call */
        json_decref(ans);

        ans = ask(sv[1], "{\"op\": \"tool.decide\", \"server\": \"srv\", \"tool\": \"t\"}\n");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(ans, "decision"), "route")),
            "direct");
        assert_int_equal(session_get()->fallbacks, 1); /* the decision for a call is counted */
        json_decref(ans);

        ans = ask(sv[1], "{\"op\": \"tool.decide\", \"server\": \"srv\", \"tool\": \"t\", "
                         "\"preview\": \"yes\"}\n");
        assert_false(json_is_true(json_object_get(ans, "ok")));
        assert_non_null(strstr(json_string_value(json_object_get(ans, "error")),
                               "the field \"preview\" has the wrong type"));
        json_decref(ans);
        stop(s, sv);
        mcp_hub_free(hub);
        iso_config_free(&cfg);
}

/*
 * The chat inside μVM-1: a server's question during the agent's tool call
 * goes to the agent, whose answer goes to the server; meanwhile the agent
 * may not start another call, and an answer to another question declines.
 */
static void test_question_put_to_the_agent(void **state)
{
        (void)state;
        struct iso_config cfg;
        char *argv[] = {"python3", "tests/mcp/hostile_server.py", "ask-evil", NULL};
        struct mcp_server_conf conf;
        struct mcp_registry r;
        struct mcp_hub *hub = one_server_hub(&cfg, argv, &conf, &r);
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start_as(&h, sv, &r, hub, true);
        const char *call = "{\"op\": \"tool.call\", \"server\": \"srv\", \"tool\": \"echo\", "
                           "\"arguments\": {\"message\": \"m\"}}\n";

        /* answered: the call completes */
        assert_int_equal(write(sv[1], call, strlen(call)), (ssize_t)strlen(call));
        json_t *l = next_not_tick(sv[1]);
        json_t *q = json_object_get(l, "ask");
        assert_non_null(q);
        assert_string_equal(json_string_value(json_object_get(q, "kind")), "elicit");
        assert_string_equal(json_string_value(json_object_get(q, "server")), "srv");
        assert_non_null(
            strstr(json_string_value(json_object_get(json_object_get(q, "params"), "message")),
                   "question"));
        json_int_t id = json_integer_value(json_object_get(q, "id"));
        json_decref(l);
        /* not another call while the question is open */
        json_t *ans = ask(sv[1], call);
        assert_false(json_is_true(json_object_get(ans, "ok")));
        assert_non_null(strstr(json_string_value(json_object_get(ans, "error")),
                               "not while a server's question is open"));
        json_decref(ans);
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"op\": \"answer\", \"id\": %lld, \"result\": {\"action\": \"accept\", "
                 "\"content\": {\"pin\": 1234}}}\n",
                 (long long)id);
        assert_int_equal(write(sv[1], line, strlen(line)), (ssize_t)strlen(line));
        json_t *egress;
        ans = answer_after(sv[1], &egress);
        assert_true(json_is_true(json_object_get(ans, "ok")));
        json_decref(ans);
        /* before the answer, what the call reached out to, for the agent's
         * trace: null, as a server on the host is not seen */
        assert_non_null(egress);
        assert_true(json_is_null(egress));
        json_decref(egress);

        /* an answer to another question: declined, and the call still completes */
        assert_int_equal(write(sv[1], call, strlen(call)), (ssize_t)strlen(call));
        l = next_not_tick(sv[1]);
        id = json_integer_value(json_object_get(json_object_get(l, "ask"), "id"));
        assert_true(id > 0);
        json_decref(l);
        snprintf(line, sizeof(line),
                 "{\"op\": \"answer\", \"id\": %lld, \"result\": {\"action\": \"accept\"}}\n",
                 (long long)id + 7);
        assert_int_equal(write(sv[1], line, strlen(line)), (ssize_t)strlen(line));
        ans = next_not_tick(sv[1]);
        assert_true(json_is_true(json_object_get(ans, "ok")));
        json_decref(ans);

        /* and an answer when no question is open is no host call */
        ans = ask(sv[1], "{\"op\": \"answer\", \"id\": 1, \"result\": {}}\n");
        assert_false(json_is_true(json_object_get(ans, "ok")));
        assert_non_null(strstr(json_string_value(json_object_get(ans, "error")),
                               "unknown host call \"answer\""));
        json_decref(ans);
        stop(s, sv);
        mcp_hub_free(hub);
        iso_config_free(&cfg);
}

static char *bad_status_line(bool utf8, bool color)
{
        (void)utf8, (void)color;
        return xstrdup("cut through a character: \xe2\x82");
}

/* An answer that cannot be made (here a status line that is not UTF-8) is
 * answered with an error, and the channel goes on. */
static void test_answer_that_cannot_be_made(void **state)
{
        (void)state;
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start(&h, sv);
        h.status_line = bad_status_line;
        expect_refused_and_open(sv[1], "{\"op\": \"status\"}\n",
                                "the answer to this host call could not be made");
        stop(s, sv);
}

/* The checks of a request line, with nothing served: what each op takes. */
struct request_case {
        const char *line;
        const char *why; /* in the error; NULL: accepted */
};

static void test_request_check(void **state)
{
        (void)state;
        struct mcp_server_conf conf[2] = {{.id = "srv", .enabled = true},
                                          {.id = "off", .enabled = false}};
        struct mcp_registry r = {.n = 2, .v = conf};
        const struct request_case cases[] = {
            {"{\"op\": \"hello\", \"protocol\": 1}", NULL},
            {"{\"op\": \"hello\", \"protocol\": 2}", "hello: protocol 2 is not 1"},
            {"{\"op\": \"hello\"}", "hello: the field \"protocol\" is missing"},
            {"{\"op\": \"tool.decide\", \"server\": \"srv\", \"tool\": \"t\"}", NULL},
            {"{\"op\": \"tool.decide\", \"server\": \"off\", \"tool\": \"t\"}",
             "tool.decide: no server \"off\" is registered"},
            {"{\"op\": \"tool.call\", \"server\": \"srv\", \"tool\": \"t\", \"arguments\": {}}",
             NULL},
            {"{\"op\": \"tool.call\", \"server\": \"srv\", \"tool\": \"t\", \"image\": \"/x\"}",
             "tool.call: unknown field \"image\""},
            {"{\"op\": \"tool.call\", \"server\": \"srv\", \"tool\": 1}",
             "tool.call: the field \"tool\" has the wrong type"},
            {"{\"op\": \"llm\", \"body\": \"{}\"}", NULL},
            {"{\"op\": \"status\", \"utf8\": true, \"color\": false}", NULL},
            {"{\"op\": \"status\", \"utf8\": 1}", "status: the field \"utf8\" has the wrong type"},
            {"{\"op\": \"events\"}", NULL},
            {"{\"op\": \"config\", \"path\": \"/etc/passwd\"}", "config: unknown field \"path\""},
            {"{\"op\": \"exec\"}", "unknown host call \"exec\""},
            {"{\"server\": \"srv\"}", "unknown host call \"(no op)\""},
            {"[1]", "a host call that is not a JSON object"},
            {"{\"op\": \"tool.decide\", \"server\": \"srv\\u0000\", \"tool\": \"t\"}",
             "the field \"server\" holds a NUL character"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char why[1024] = "";
                json_t *req = microvm_request_check(cases[i].line, strlen(cases[i].line), &r, why,
                                                    sizeof(why));
                print_message("%s -> %s\n", cases[i].line, req ? "accepted" : why);
                if (!cases[i].why) {
                        assert_non_null(req);
                        assert_true(json_is_object(req));
                } else {
                        assert_null(req);
                        assert_non_null(strstr(why, cases[i].why));
                }
                json_decref(req);
        }
        /* a name longer than 256 bytes */
        char line[512];
        snprintf(line, sizeof(line),
                 "{\"op\": \"tool.decide\", \"server\": \"srv\", \"tool\": \"%0300d\"}", 0);
        char why[1024];
        assert_null(microvm_request_check(line, strlen(line), &r, why, sizeof(why)));
        assert_non_null(strstr(why, "the field \"tool\" is longer than 256 bytes"));

        /* A name the message cuts at 64 bytes, through a character (or a NUL
         * in a key, read as U+FFFD): the message stays UTF-8, so that the
         * answer that carries it can be made (else the channel ended). */
        const char *cut[] = {
            "{\"op\": \"%.63s\\u00e9\"}",
            "{\"op\": \"events\", \"%.62s\\u20ac\": 1}",
            "{\"op\": \"hello\", \"%.60spro\\u0000tocol\": 0}",
            "{\"op\": \"tool.decide\", \"server\": \"%.63s\\ud83d\\ude00\", \"tool\": \"t\"}",
        };
        const char *pad = "_______________________________________________________________";
        for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
                snprintf(line, sizeof(line), cut[i], pad);
                assert_null(microvm_request_check(line, strlen(line), &r, why, sizeof(why)));
                print_message("%s -> %s\n", line, why);
                assert_true(text_valid_utf8(why, strlen(why)));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_config_without_credentials),
            cmocka_unit_test(test_hello_without_credentials),
            cmocka_unit_test(test_nul_in_request),
            cmocka_unit_test(test_agent_that_does_not_read),
            cmocka_unit_test(test_decide_preview),
            cmocka_unit_test(test_question_put_to_the_agent),
            cmocka_unit_test(test_request_check),
            cmocka_unit_test(test_answer_that_cannot_be_made),
        };
        return cmocka_run_group_tests_name("microvm/service", tests, setup, teardown);
}
