/*
 * The hub: calls routed by the isolation policy, servers restarted after
 * they die, the session's counts.
 */
#include "peers.h"

#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], pidfile[128];
static struct mcp_registry reg;
static struct iso_config cfg;
static struct iso_host host = {.kvm_usable = true};

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "hub") < 0)
                return -1;
        snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
        char *audit = xasprintf("%s/audit.jsonl", dir);
        setenv("OSVM_AUDIT_FILE", audit, 1); /* the tests' calls are recorded here */
        free(audit);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        return tu_rmrf(dir);
}

/* Waits until the hub's child pid has ended and can be reaped, as the hub
 * will see it (waitid with WNOWAIT leaves it to the hub to reap), however
 * loaded the machine: the bound of 120 s only guards against a hang. (A
 * zombie in /proc is not enough: node's other threads may still be ending.) */
static void wait_dead(pid_t pid)
{
        for (int i = 0; i < 12000; i++) {
                siginfo_t si = {0};
                if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                    si.si_pid == pid)
                        return;
                usleep(10000);
        }
        fail_msg("process %d has not ended 120 s after SIGKILL", (int)pid);
}

/* Kills the server the hub started last (its pid in pidfile) and waits until it
 * has ended; returns its pid. */
static pid_t kill_server(void)
{
        char *text = NULL;
        assert_int_equal(fs_read_file(pidfile, 32, &text, NULL, NULL), 0);
        pid_t pid = (pid_t)atoi(text);
        free(text);
        assert_int_equal(kill(pid, SIGKILL), 0);
        wait_dead(pid);
        return pid;
}

/* Registers "ev", server-everything started by the shell script, under the
 * isolation config isolation_json (with %s for the image directory). */
static void load_script(const char *isolation_json, const char *script)
{
        char *path = xasprintf("%s/mcp_servers.json", dir);
        char *argv[] = {"sh", "-c", (char *)script, NULL};
        osvm_err e = {0};
        unlink(path);
        assert_int_equal(mcp_registry_add_stdio(path, "ev", argv, NULL, &e), 0);
        assert_int_equal(mcp_registry_load(path, &reg, &e), 0);
        struct iso_diags d = {0};
        char *text = xasprintf(isolation_json, dir);
        assert_int_equal(iso_config_parse(text, strlen(text), "t", &cfg, &d), 0);
        iso_diags_free(&d);
        free(text);
        free(path);
}

static void load(const char *isolation_json)
{
        char *script = xasprintf("echo $$ > %s; exec node %s stdio", pidfile, everything_js());
        load_script(isolation_json, script);
        free(script);
}

static void unload(void)
{
        mcp_registry_free(&reg);
        iso_config_free(&cfg);
}

static json_t *echo(struct mcp_hub *h, const char *msg, struct iso_decision *dec, osvm_err *e)
{
        json_t *args = json_pack("{s:s}", "message", msg);
        json_t *r = mcp_hub_call(h, "ev", "echo", args, NULL, dec, e);
        json_decref(args);
        return r;
}

static void test_restart_after_death(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        load("{\"unikernel_dir\": \"%s\"}");
        session_reset(session_get(), time_mono_ns());
        struct mcp_hub *h = mcp_hub_new(&reg, &cfg, &host);
        osvm_err e = {0};
        struct iso_decision dec;
        json_t *r = echo(h, "one", &dec, &e);
        if (!r)
                fail_msg("%s", e.msg);
        assert_int_equal(dec.route, ISO_ROUTE_DIRECT);
        assert_true(dec.fell_back); /* no image: fell back as the default policy says */
        iso_decision_free(&dec);
        json_decref(r);
        assert_int_equal(session_get()->fallbacks, 1);
        assert_int_equal(session_get()->servers[0].state, SESSION_SERVER_UP);

        /* The server dies between calls: the next call starts it again. */
        pid_t first = kill_server();
        char *pid = NULL;
        r = echo(h, "two", &dec, &e);
        if (!r)
                fail_msg("%s", e.msg);
        json_t *c0 = json_array_get(json_object_get(r, "content"), 0);
        assert_string_equal(json_string_value(json_object_get(c0, "text")), "Echo: two");
        iso_decision_free(&dec);
        json_decref(r);
        assert_int_equal(fs_read_file(pidfile, 32, &pid, NULL, NULL), 0);
        pid_t second = (pid_t)atoi(pid);
        assert_int_not_equal(second, first);
        free(pid);
        assert_int_equal(session_get()->fallbacks, 2);

        /* Killed a moment before the call, not yet reapable (node's threads
         * still ending): the hub sees it dying and starts it again too. */
        assert_int_equal(kill(second, SIGKILL), 0);
        r = echo(h, "three", &dec, &e);
        if (!r)
                fail_msg("%s", e.msg);
        c0 = json_array_get(json_object_get(r, "content"), 0);
        assert_string_equal(json_string_value(json_object_get(c0, "text")), "Echo: three");
        iso_decision_free(&dec);
        json_decref(r);
        assert_int_equal(fs_read_file(pidfile, 32, &pid, NULL, NULL), 0);
        assert_int_not_equal((pid_t)atoi(pid), second);
        free(pid);
        mcp_hub_free(h);
        unload();
}

/* A server started again lists the same tools: the hub, which keeps every
 * list it handed out until it goes (callers hold them borrowed), keeps that
 * one once, not once a restart: a long-lived hub (the gateway, the chat)
 * fronting a server that dies now and then does not grow. */
static void test_restart_keeps_one_tool_list(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        load("{\"unikernel_dir\": \"%s\"}");
        struct mcp_hub *h = mcp_hub_new(&reg, &cfg, &host);
        osvm_err e = {0};
        json_t *first = mcp_hub_tools(h, "ev", NULL, &e);
        if (!first)
                fail_msg("%s", e.msg);
        assert_true(json_array_size(first) > 0);
        unsigned gen = mcp_hub_tools_gen(h);
        for (int i = 0; i < 3; i++) {
                kill_server();
                struct iso_decision dec;
                json_t *r = echo(h, "again", &dec, &e); /* starts it again */
                if (!r)
                        fail_msg("%s", e.msg);
                json_decref(r);
                iso_decision_free(&dec);
                assert_true(mcp_hub_tools_gen(h) != gen); /* a restart counts as a change */
                gen = mcp_hub_tools_gen(h);
                json_t *now = mcp_hub_tools(h, "ev", NULL, &e);
                if (!now)
                        fail_msg("%s", e.msg);
                assert_true(json_equal(now, first));
                assert_ptr_equal(now, first); /* the same list, kept once */
        }
        mcp_hub_free(h);
        unload();
}

static void test_deny_runs_nothing(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        load("{\"unikernel_dir\": \"%s\", \"fallback\": \"deny\"}");
        unlink(pidfile);
        struct mcp_hub *h = mcp_hub_new(&reg, &cfg, &host);
        osvm_err e = {0};
        struct iso_decision dec;
        json_t *r = echo(h, "no", &dec, &e);
        assert_null(r);
        assert_int_equal(dec.route, ISO_ROUTE_DENY);
        assert_int_equal(e.exit, OSVM_EXIT_DENIED);
        /* the refusal in the decision's own words, with its remedy, once */
        assert_non_null(strstr(e.msg, "Refusing to run ev/echo: its fallback policy is \"deny\""));
        assert_non_null(strstr(e.msg, "osvm isolation set ev/echo fallback=direct"));
        assert_null(strstr(e.msg, "refused: Refusing"));
        /* The server was never started. */
        assert_int_not_equal(access(pidfile, F_OK), 0);
        iso_decision_free(&dec);
        mcp_hub_free(h);
        unload();
}

/*
 * The policy's timeout_ms holds for calls that run on the server, direct or
 * fallen back, as it does in a VM: the call ends with a timeout that says so
 * and the server is told to cancel it. The server's input is copied to a
 * file (tee) to see the notification arrive.
 */
static void test_policy_timeout_direct(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        static const char *const policies[] = {
            /* unikernel mode without an image: falls back */
            "{\"unikernel_dir\": \"%s\", \"timeout_ms\": 300}",
            /* direct mode, the limit on the server */
            "{\"unikernel_dir\": \"%s\", \"mcp_servers\": {\"ev\": {\"execution_mode\": "
            "\"direct\", \"timeout_ms\": 300}}}",
        };
        for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
                char *input = xasprintf("%s/input-%zu.log", dir, i);
                char *script = xasprintf("tee -a %s | exec node %s stdio", input, everything_js());
                load_script(policies[i], script);
                osvm_err e = {0};

                struct mcp_hub *h = mcp_hub_new(&reg, &cfg, &host);
                /* the server starts first: its start is not the call's time */
                json_t *d = mcp_hub_describe(h, "ev", NULL, &e);
                assert_non_null(d);
                json_decref(d);
                struct iso_decision dec;
                json_t *args = json_pack("{s:i, s:i}", "duration", 3, "steps", 3);
                json_t *r =
                    mcp_hub_call(h, "ev", "trigger-long-running-operation", args, NULL, &dec, &e);
                print_message("policy %zu: %s\n", i, r ? "the call finished" : e.msg);
                assert_null(r);
                assert_int_equal(dec.route, ISO_ROUTE_DIRECT);
                assert_int_equal(e.code, MCP_E_TIMEOUT);
                assert_non_null(strstr(e.msg, "timed out after 300 ms"));
                assert_non_null(strstr(e.msg, "timeout_ms"));
                /* Told to cancel. The bound only guards a hang: 60 s, generous. */
                bool told = false;
                for (int k = 0; k < 600 && !told; k++) {
                        char *log = NULL;
                        if (fs_read_file(input, 1 << 20, &log, NULL, NULL) == 0)
                                told = strstr(log, "notifications/cancelled") != NULL;
                        free(log);
                        if (!told)
                                usleep(100000);
                }
                assert_true(told);
                json_decref(args);
                iso_decision_free(&dec);
                mcp_hub_free(h);
                unload();
                free(script);
                free(input);
        }
}

static void test_unknown_and_disabled(void **state)
{
        (void)state;
        load("{\"unikernel_dir\": \"%s\"}");
        reg.v[0].enabled = false;
        struct mcp_hub *h = mcp_hub_new(&reg, &cfg, &host);
        osvm_err e = {0};
        assert_null(mcp_hub_describe(h, "nobody", NULL, &e));
        assert_non_null(strstr(e.msg, "no MCP server \"nobody\""));
        assert_null(mcp_hub_describe(h, "ev", NULL, &e));
        assert_non_null(strstr(e.msg, "disabled"));
        mcp_hub_free(h);
        unload();
}

struct image_case {
        const char *name;
        const char *image; /* below build/guests */
        uint32_t timeout_ms;
        bool is_error;
        const char *want; /* in the first text block */
};

/* Tools routed to unikernels: the tool-image protocol end to end, in real VMs. */
static void test_unikernel_route(void **state)
{
        (void)state;
        /* in a VM where KVM is usable, else in a trapped process (the process platform) */
        char why[256];
        struct iso_host saved = host;
        host.kvm_usable = vmm_probe(host.kvm_problem, sizeof(host.kvm_problem));
        if (!host.kvm_usable) {
                host.process_probed = true;
                host.process_usable = vmm_platform_probe(VMM_PLATFORM_PROCESS, host.process_what,
                                                         sizeof(host.process_what));
                if (!host.process_usable) {
                        snprintf(why, sizeof(why), "%s; the process platform: %s", host.kvm_problem,
                                 host.process_what);
                        host = saved;
                        print_message("SKIP: %s\n", why);
                        skip();
                }
                print_message("(on the process platform: %s)\n", host.kvm_problem);
        }
        if (access("build/guests/tool_echo", R_OK) != 0) {
                host = saved;
                print_message("SKIP: build/guests/tool_echo is not built (make vmm-guests)\n");
                skip();
        }
        const struct image_case cases[] = {
            {"a tool image answers", "tool_echo", 0, false, "Echo from a unikernel: hello VM"},
            {"output that is no CallToolResult", "hello", 0, true,
             "without a CallToolResult on stdout"},
            {"an endless loop passes the time limit", "loop", 300, true, "time limit of 300 ms"},
            {"a fault is reported in words", "noncanon", 0, true,
             "was stopped (fault: general protection fault"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct image_case *c = &cases[i];
                print_message("case \"%s\"\n", c->name);
                char *cwd = getcwd(NULL, 0);
                char *json = xasprintf("{\"unikernel_dir\": \"%%s\", \"fallback\": \"deny\", "
                                       "\"mcp_servers\": {\"ev\": {\"tools\": {\"echo\": "
                                       "{\"unikernel_image\": \"%s/build/guests/%s\"%s}}}}}",
                                       cwd, c->image, c->timeout_ms ? ", \"timeout_ms\": 300" : "");
                load(json);
                free(json);
                free(cwd);
                session_reset(session_get(), time_mono_ns());
                unlink(pidfile);
                struct mcp_hub *h = mcp_hub_new(&reg, &cfg, &host);
                osvm_err e = {0};
                struct iso_decision dec;
                json_t *r = echo(h, "hello VM", &dec, &e);
                if (!r)
                        fail_msg("%s", e.msg);
                assert_int_equal(dec.route, ISO_ROUTE_UNIKERNEL);
                json_t *c0 = json_array_get(json_object_get(r, "content"), 0);
                const char *text = json_string_value(json_object_get(c0, "text"));
                print_message("  -> %s\n", text);
                assert_non_null(strstr(text, c->want));
                assert_int_equal(json_is_true(json_object_get(r, "isError")), c->is_error);
                /* counted as what ran it: a VM, or a trapped process */
                assert_int_equal(session_get()->unikernels_run, host.kvm_usable ? 1 : 0);
                assert_int_equal(session_get()->unikernel_procs_run, host.kvm_usable ? 0 : 1);
                assert_int_equal(session_get()->fallbacks, 0);
                /* The MCP server itself was never started for it. */
                assert_int_not_equal(access(pidfile, F_OK), 0);
                json_decref(r);
                iso_decision_free(&dec);
                mcp_hub_free(h);
                unload();
        }
        host = saved;
}

struct long_call {
        struct mcp_hub *h;
        volatile sig_atomic_t cancel;
        volatile int done;     /* 1: returned */
        volatile int progress; /* progress notifications seen */
        json_t *result;
        osvm_err e;
};

static void on_progress(void *ctx, const struct mcp_progress *p)
{
        (void)p;
        struct long_call *lc = ctx;
        __atomic_add_fetch(&lc->progress, 1, __ATOMIC_SEQ_CST);
}

static void *long_call(void *arg)
{
        struct long_call *lc = arg;
        json_t *args = json_pack("{s:i, s:i}", "duration", 60, "steps", 60);
        struct iso_decision dec;
        struct mcp_call_opts o = {.cancel = &lc->cancel,
                                  .caller = "test long",
                                  .on_progress = on_progress,
                                  .progress_ctx = lc};
        lc->result =
            mcp_hub_call(lc->h, "ev", "trigger-long-running-operation", args, &o, &dec, &lc->e);
        __atomic_store_n(&lc->done, 1, __ATOMIC_SEQ_CST);
        iso_decision_free(&dec);
        json_decref(args);
        return NULL;
}

/*
 * Calls from two threads to one server: a second call does not wait behind
 * a long one (it takes a second connection), cancelling the long one ends
 * it, and both are in the audit log, whose chain verify accepts.
 */
static void test_concurrent_calls(void **state)
{
        (void)state;
        REQUIRE_PEER(everything_js());
        load("{\"unikernel_dir\": \"%s\", \"timeout_ms\": 120000}");
        char *audit = xasprintf("%s/audit.jsonl", dir);
        unlink(audit);
        struct mcp_hub *h = mcp_hub_new(&reg, &cfg, &host);
        mcp_hub_set_caller(h, "test");
        struct long_call lc = {.h = h};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, long_call, &lc), 0);
        /* The long call runs once its first progress came (the bound of 60 s
         * only guards a hang); then the echo must come back while it (60 s)
         * still runs. */
        for (int i = 0; i < 6000 && !__atomic_load_n(&lc.progress, __ATOMIC_SEQ_CST); i++)
                usleep(10000);
        assert_true(__atomic_load_n(&lc.progress, __ATOMIC_SEQ_CST) > 0);
        osvm_err e = {0};
        struct iso_decision dec;
        json_t *r = echo(h, "meanwhile", &dec, &e);
        if (!r)
                fail_msg("%s", e.msg);
        assert_false(__atomic_load_n(&lc.done, __ATOMIC_SEQ_CST));
        json_decref(r);
        iso_decision_free(&dec);
        lc.cancel = 1;
        pthread_join(t, NULL);
        assert_null(lc.result);
        assert_int_equal(lc.e.code, MCP_E_CANCELLED);

        strbuf report = {0};
        size_t records = 0;
        assert_int_equal(mcp_audit_verify(audit, &report, &records, &e), 0);
        assert_int_equal(records, 2);
        char *log = NULL;
        assert_int_equal(fs_read_file(audit, 1 << 20, &log, NULL, NULL), 0);
        assert_non_null(strstr(log, "\"caller\":\"test\""));
        assert_non_null(strstr(log, "\"caller\":\"test long\""));
        assert_non_null(strstr(log, "\"status\":\"cancelled\""));
        free(log);
        sb_free(&report);
        mcp_hub_free(h);
        unload();
        free(audit);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_restart_after_death),
            cmocka_unit_test(test_restart_keeps_one_tool_list),
            cmocka_unit_test(test_deny_runs_nothing),
            cmocka_unit_test(test_policy_timeout_direct),
            cmocka_unit_test(test_unknown_and_disabled),
            cmocka_unit_test(test_concurrent_calls),
            cmocka_unit_test(test_unikernel_route),
        };
        return cmocka_run_group_tests_name("mcp/hub", tests, setup, teardown);
}
