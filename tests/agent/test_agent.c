/*
 * The agent: API names for tools, and the loop of rounds with a planner that
 * follows a script, against the real server-everything.
 */
#include "../mcp/peers.h"

#include "agent/agent.h"

#include <signal.h>
#include <string.h>

/* ---- API names ---- */

static bool api_valid(const char *s)
{
        size_t n = strlen(s);
        if (n < 1 || n > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
                        return false;
        return true;
}

static void test_api_names(void **state)
{
        (void)state;
        struct agent_toolset ts = {0};
        char longname[200];
        memset(longname, 'x', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        json_t *tools = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}, {}]", "name", "get-sum",
                                  "name", "dotted.name/with space", "name", longname, "name",
                                  "get_sum", "name", "\xce\xbc-tool");
        agent_toolset_add(&ts, "srv", tools);
        /* Another server with the same tool name: a different API name. */
        json_t *same = json_pack("[{s:s}]", "name", "get-sum");
        agent_toolset_add(&ts, "other", same);
        /* A server whose mapped name collides with another's. */
        json_t *collide = json_pack("[{s:s}]", "name", "sum");
        agent_toolset_add(&ts, "srv__get", collide);
        json_t *twin = json_pack("[{s:s}]", "name", "get__sum");
        agent_toolset_add(&ts, "srv", twin);
        json_decref(twin);

        assert_int_equal(ts.n, 8); /* the nameless one is skipped */
        assert_string_equal(ts.v[0].api_name, "srv__get-sum");
        assert_string_equal(ts.v[1].api_name, "srv__dotted_name_with_space");
        assert_string_equal(ts.v[5].api_name, "other__get-sum");
        for (size_t i = 0; i < ts.n; i++) {
                assert_true(api_valid(ts.v[i].api_name));
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(ts.v[i].api_name, ts.v[j].api_name);
                /* Reversible: the API name leads back to the same server and tool. */
                const struct agent_tool *t = agent_toolset_find_api(&ts, ts.v[i].api_name);
                assert_ptr_equal(t, &ts.v[i]);
        }
        assert_int_equal(strlen(ts.v[2].api_name), 64);
        /* A tool without an inputSchema gets an empty object schema. */
        assert_true(json_is_object(ts.v[0].input_schema));
        assert_null(agent_toolset_find_api(&ts, "nope"));
        assert_non_null(agent_toolset_find(&ts, "other", "get-sum"));
        json_decref(tools);
        json_decref(same);
        json_decref(collide);
        agent_toolset_free(&ts);
}

/* ---- the loop, with a planner that follows a script ---- */

struct scripted {
        struct agent_planner base;
        int round;
        const char *tools[3];    /* per round: "server/tool" to call, NULL: answer */
        const char *args[3];     /* JSON arguments */
        struct agent_convo seen; /* copies of what the planner was shown last */
        size_t seen_n;
        bool last_tool_error;
        char last_tool_text[512];
};

static int scripted_plan(struct agent_planner *p, const struct agent_convo *c,
                         const struct agent_toolset *ts, struct agent_step *out, osvm_err *e)
{
        struct scripted *s = (struct scripted *)p;
        (void)e;
        s->seen_n = c->n;
        const struct agent_msg *last = &c->v[c->n - 1];
        if (last->role == AGENT_TOOL) {
                s->last_tool_error = last->is_error;
                snprintf(s->last_tool_text, sizeof(s->last_tool_text), "%s", last->text);
        }
        int r = s->round++;
        if (r >= 3 || !s->tools[r]) {
                out->text = xasprintf("answer after %d rounds: %s", r, s->last_tool_text);
                return 0;
        }
        char server[64];
        const char *slash = strchr(s->tools[r], '/');
        snprintf(server, sizeof(server), "%.*s", (int)(slash - s->tools[r]), s->tools[r]);
        const struct agent_tool *t = agent_toolset_find(ts, server, slash + 1);
        assert_non_null(t);
        out->ncalls = 1;
        out->calls = xcalloc(1, sizeof(*out->calls));
        out->calls[0] =
            (struct agent_call){xasprintf("call-%d", r), t, json_loads(s->args[r], 0, NULL)};
        return 0;
}

static void scripted_free(struct agent_planner *p)
{
        free(p);
}

static const struct agent_planner_ops scripted_ops = {
    .name = "scripted", .plan = scripted_plan, .free = scripted_free};

static char dir[64];
static struct mcp_registry reg;
static struct iso_config cfg;
static struct iso_host host = {.kvm_usable = true};

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "agent") < 0)
                return -1;
        char *audit = xasprintf("%s/audit.jsonl", dir); /* the calls' records, here */
        setenv("OSVM_AUDIT_FILE", audit, 1);
        free(audit);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        return tu_rmrf(dir);
}

/* The hub over server-everything, under the isolation config isolation_json
 * (%s: a directory without images). */
static struct mcp_hub *open_hub_with(const char *isolation_json)
{
        char *path = xasprintf("%s/mcp_servers.json", dir);
        char *argv[] = {"node", (char *)everything_js(), "stdio", NULL};
        osvm_err e = {0};
        unlink(path);
        assert_int_equal(mcp_registry_add_stdio(path, "everything", argv, NULL, &e), 0);
        assert_int_equal(mcp_registry_load(path, &reg, &e), 0);
        free(path);
        char *text = xasprintf(isolation_json, dir);
        struct iso_diags d = {0};
        assert_int_equal(iso_config_parse(text, strlen(text), "t", &cfg, &d), 0);
        iso_diags_free(&d);
        free(text);
        return mcp_hub_new(&reg, &cfg, &host);
}

static struct mcp_hub *open_hub(void)
{
        return open_hub_with("{\"unikernel_dir\": \"%s\"}");
}

static void close_hub(struct mcp_hub *h)
{
        mcp_hub_free(h);
        mcp_registry_free(&reg);
        iso_config_free(&cfg);
}

/* The agent over the hub with the scripted planner. */
static struct agent *new_agent(struct mcp_hub *h, struct agent_planner *p, unsigned max_rounds)
{
        struct agent_toolset ts = {0};
        agent_toolset_from_hub(&ts, h, &reg);
        struct agent_runner run = agent_hub_runner(h);
        return agent_new(&run, &ts, p, max_rounds);
}

static void test_multi_round(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        struct mcp_hub *h = open_hub();
        struct scripted *s = xcalloc(1, sizeof(*s));
        s->base.ops = &scripted_ops;
        s->tools[0] = "everything/get-sum";
        s->args[0] = "{\"a\": 2, \"b\": 3}";
        s->tools[1] = "everything/echo";
        s->args[1] = "{\"message\": \"the sum was five\"}";
        osvm_err e = {0};
        struct agent *a = new_agent(h, &s->base, 0);
        assert_true(agent_tools(a)->n >= 13);
        char *answer = NULL;
        json_t *trace = NULL;
        int r = agent_ask(a, "add 2 and 3, then say so", NULL, NULL, &answer, &trace, &e);
        if (r != 0)
                fail_msg("%s", e.msg);
        assert_string_equal(answer, "answer after 2 rounds: Echo: the sum was five");
        /* user, assistant(call), tool, assistant(call), tool: five messages seen last. */
        assert_int_equal(s->seen_n, 5);
        json_t *rounds = json_object_get(trace, "rounds");
        assert_int_equal(json_array_size(rounds), 2);
        json_t *c0 = json_array_get(json_object_get(json_array_get(rounds, 0), "calls"), 0);
        assert_string_equal(json_string_value(json_object_get(c0, "server")), "everything");
        assert_string_equal(json_string_value(json_object_get(c0, "tool")), "get-sum");
        assert_string_equal(json_string_value(json_object_get(c0, "mode")), "direct");
        assert_true(json_is_true(json_object_get(c0, "fell_back")));
        assert_true(json_array_size(json_object_get(c0, "reasons")) >= 3);
        assert_true(json_real_value(json_object_get(c0, "duration_ms")) > 0);
        json_t *text = json_object_get(
            json_array_get(json_object_get(json_object_get(c0, "result"), "content"), 0), "text");
        assert_string_equal(json_string_value(text), "The sum of 2 and 3 is 5.");
        assert_string_equal(json_string_value(json_object_get(trace, "answer")), answer);
        assert_string_equal(json_string_value(json_object_get(trace, "planner")), "scripted");
        free(answer);
        json_decref(trace);

        /* A second prompt continues the same conversation. */
        s->round = 0;
        s->tools[0] = "everything/get-sum";
        s->args[0] = "{\"a\": \"two\"}"; /* the server reports the bad argument */
        s->tools[1] = NULL;
        r = agent_ask(a, "try something odd", NULL, NULL, &answer, NULL, &e);
        assert_int_equal(r, 0);
        assert_true(s->last_tool_error);
        assert_true(s->seen_n > 5);
        free(answer);
        agent_free(a);
        close_hub(h);
}

static void test_round_limit(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        struct mcp_hub *h = open_hub();
        struct scripted *s = xcalloc(1, sizeof(*s));
        s->base.ops = &scripted_ops;
        for (int i = 0; i < 3; i++) {
                s->tools[i] = "everything/echo";
                s->args[i] = "{\"message\": \"again\"}";
        }
        osvm_err e = {0};
        struct agent *a = new_agent(h, &s->base, 2);
        char *answer = NULL;
        json_t *trace = NULL;
        assert_int_equal(agent_ask(a, "loop", NULL, NULL, &answer, &trace, &e), -1);
        assert_null(answer);
        assert_non_null(strstr(e.msg, "no answer after 2 rounds"));
        assert_non_null(json_object_get(trace, "error"));
        json_decref(trace);
        agent_free(a);
        close_hub(h);
}

static void test_cancel_stops_the_turn(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        struct mcp_hub *h = open_hub();
        struct scripted *s = xcalloc(1, sizeof(*s));
        s->base.ops = &scripted_ops;
        s->tools[0] = "everything/trigger-long-running-operation";
        s->args[0] = "{\"duration\": 10, \"steps\": 10}";
        osvm_err e = {0};
        struct agent *a = new_agent(h, &s->base, 0);
        /* already set: the call stops at once (uncancelled, it would answer
         * after its 10 s, and agent_ask would succeed) */
        volatile sig_atomic_t cancel = 1;
        char *answer = NULL;
        assert_int_equal(agent_ask(a, "long", NULL, &cancel, &answer, NULL, &e), -1);
        assert_null(answer);
        assert_non_null(strstr(e.msg, "cancelled"));
        assert_int_equal(e.exit, OSVM_EXIT_INTERRUPTED);
        agent_free(a);
        close_hub(h);
}

/*
 * What a turn's calls mean for one-shot mode's exit code: a call that
 * failed, reported an error or was refused counts, unless a later call of
 * the same tool in the turn succeeded.
 */
struct outcome_case {
        const char *name;
        const char *tools[3], *args[3];
        const char *outcomes; /* each call's outcome, joined with spaces */
        int exit;
        const char *unrecovered; /* "server/tool:outcome" joined with spaces */
};

static void test_calls_exit(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        static const char *const ok_sum = "{\"a\": 2, \"b\": 3}", *bad_sum = "{\"a\": \"two\"}",
                                 *echo = "{\"message\": \"hi\"}";
        const struct outcome_case cases[] = {
            {"every call succeeds", {"everything/get-sum"}, {ok_sum}, "ok", 0, ""},
            {"an error the next round made good",
             {"everything/get-sum", "everything/get-sum"},
             {bad_sum, ok_sum},
             "error ok",
             0,
             ""},
            {"an error another tool did not make good",
             {"everything/get-sum", "everything/get-tiny-image"},
             {bad_sum, "{}"},
             "error ok",
             OSVM_EXIT_FAILURE,
             "everything/get-sum:error"},
            {"a success, then the same tool fails",
             {"everything/get-sum", "everything/get-sum"},
             {ok_sum, bad_sum},
             "ok error",
             OSVM_EXIT_FAILURE,
             "everything/get-sum:error"},
            {"a refusal",
             {"everything/echo", "everything/get-sum"},
             {echo, ok_sum},
             "refused ok",
             OSVM_EXIT_DENIED,
             "everything/echo:refused"},
            {"a refusal outranks a failure",
             {"everything/get-sum", "everything/echo"},
             {bad_sum, echo},
             "error refused",
             OSVM_EXIT_DENIED,
             "everything/get-sum:error everything/echo:refused"},
            {"no call at all", {NULL}, {NULL}, "", 0, ""},
        };
        /* echo is refused: unikernel mode, no image, fallback deny */
        struct mcp_hub *h = open_hub_with(
            "{\"unikernel_dir\": \"%s\", \"mcp_servers\": {\"everything\": {\"tools\": "
            "{\"echo\": {\"fallback\": \"deny\"}}}}}");
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct outcome_case *c = &cases[i];
                print_message("case \"%s\"\n", c->name);
                struct scripted *s = xcalloc(1, sizeof(*s));
                s->base.ops = &scripted_ops;
                memcpy(s->tools, c->tools, sizeof(s->tools));
                memcpy(s->args, c->args, sizeof(s->args));
                struct agent *a = new_agent(h, &s->base, 0);
                char *answer = NULL;
                json_t *trace = NULL;
                osvm_err e = {0};
                assert_int_equal(agent_ask(a, "go", NULL, NULL, &answer, &trace, &e), 0);
                strbuf got = {0};
                size_t k, m;
                json_t *round, *call;
                json_array_foreach(json_object_get(trace, "rounds"), k, round)
                {
                        json_array_foreach(json_object_get(round, "calls"), m, call)
                        {
                                sb_addf(&got, "%s%s", got.len ? " " : "",
                                        json_string_value(json_object_get(call, "outcome")));
                        }
                }
                assert_string_equal(got.s ? got.s : "", c->outcomes);
                sb_free(&got);
                json_array_foreach(json_object_get(trace, "unrecovered_calls"), k, call)
                {
                        sb_addf(&got, "%s%s/%s:%s", got.len ? " " : "",
                                json_string_value(json_object_get(call, "server")),
                                json_string_value(json_object_get(call, "tool")),
                                json_string_value(json_object_get(call, "outcome")));
                        assert_true(strlen(json_string_value(json_object_get(call, "error"))) > 0);
                }
                assert_string_equal(got.s ? got.s : "", c->unrecovered);
                sb_free(&got);
                assert_int_equal(agent_calls_exit(trace), c->exit);
                json_decref(trace);
                free(answer);
                agent_free(a);
        }
        close_hub(h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_api_names),   cmocka_unit_test(test_multi_round),
            cmocka_unit_test(test_round_limit), cmocka_unit_test(test_cancel_stops_the_turn),
            cmocka_unit_test(test_calls_exit),
        };
        return cmocka_run_group_tests_name("agent", tests, setup, teardown);
}
