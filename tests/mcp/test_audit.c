/*
 * The audit record of a call: the part known before the answer, made while
 * the server works (mcp_audit_prepare), gives the same line as a record made
 * whole after the answer; hostile text stays sanitized, escaped and ASCII;
 * the keys keep their order; verify accepts the chain.
 */
#include "testutil.h"

#include "mcp/mcp.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], path[128];

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "audit") < 0)
                return -1;
        snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
        setenv("OSVM_AUDIT_FILE", path, 1);
        unsetenv("OSVM_AUDIT");
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        return tu_rmrf(dir);
}

/* An empty log, and a decision whose texts are hostile: escapes, a newline,
 * quotes, a backslash, a character that is not ASCII and bytes that are not
 * UTF-8. */
static void fresh(struct iso_decision *d, const char *route)
{
        unlink(path);
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s}, {s:s}]}", "server", "ev\"\\", "tool",
                              "e\x1b[31mcho", "route", route, "platform", "process", "reasons",
                              "text", "plain reason", "text",
                              "a \"quoted\" \\ reason\nwith a newline, \x1b[2J, \x07 and \xc3\xa9");
        osvm_err e = {0};
        assert_int_equal(iso_decision_from_json(j, d, &e), 0);
        json_decref(j);
        /* (jansson takes only UTF-8: the bytes that are not come in here) */
        free(d->reasons[0].text);
        d->reasons[0].text = xstrdup("bad \xff\xfe bytes \x01");
}

static void free_lines(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static char **lines_of(size_t *n)
{
        char *log = NULL;
        size_t len = 0;
        assert_int_equal(fs_read_file(path, 1 << 20, &log, &len, NULL), 0);
        char **v = NULL;
        *n = 0;
        for (char *s = log, *nl; (nl = strchr(s, '\n')); s = nl + 1) {
                v = realloc(v, (*n + 1) * sizeof(*v));
                v[(*n)++] = strndup(s, (size_t)(nl - s));
        }
        free(log);
        return v;
}

/* Every byte printable ASCII; the line valid JSON. */
static json_t *check_line(const char *line)
{
        for (const unsigned char *p = (const unsigned char *)line; *p; p++)
                if (*p < 0x20 || *p > 0x7e)
                        fail_msg("a byte 0x%02x in the record: %s", *p, line);
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!j)
                fail_msg("not JSON (%s): %s", jerr.text, line);
        return j;
}

static void without_variable_fields(json_t *j)
{
        static const char *const vary[] = {"seq", "time", "prev", "hash"};
        for (size_t i = 0; i < 4; i++) {
                assert_non_null(json_object_get(j, vary[i]));
                json_object_del(j, vary[i]);
        }
}

static void check_chain(size_t want)
{
        strbuf report = {0};
        size_t records = 0;
        osvm_err e = {0};
        int problems = mcp_audit_verify(path, &report, &records, &e);
        if (problems != 0)
                fail_msg("verify: %d problems: %s%s", problems, e.msg, report.s ? report.s : "");
        assert_int_equal(records, want);
        sb_free(&report);
}

static void test_prepared_is_the_same_record(void **state)
{
        (void)state;
        struct iso_decision d;
        fresh(&d, "unikernel");
        json_t *args = json_pack("{s:s, s:i}", "message", "h\xc3\xa9llo \"x\"\n", "n", 3);
        json_t *result = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text", "ok");
        json_t *egress =
            json_pack("[{s:s, s:b}]", "host", "https://example.com:443/", "allowed", true);
        struct mcp_audit_call a = {
            .caller = "gateway cl\x1bient session 1", .dec = &d, .args = args, .call_id = "7-1"};
        mcp_audit_prepare(&a);
        assert_non_null(a.known);
        char *known = a.known;
        mcp_audit_prepare(&a); /* a second time does nothing */
        assert_ptr_equal(a.known, known);
        a.result = result;
        a.duration_ns = 1234567;
        a.egress = egress;
        mcp_audit_record(&a);
        assert_null(a.known);
        struct mcp_audit_call b = {.caller = "gateway cl\x1bient session 1",
                                   .dec = &d,
                                   .args = args,
                                   .result = result,
                                   .duration_ns = 1234567,
                                   .egress = egress,
                                   .call_id = "7-1"};
        mcp_audit_record(&b);
        assert_null(b.known);

        size_t n = 0;
        char **lines = lines_of(&n);
        assert_int_equal(n, 2);
        json_t *x = check_line(lines[0]), *y = check_line(lines[1]);
        /* the keys in their fixed order */
        static const char *const order[] = {
            "seq",         "time",        "caller", "pid",        "server",    "tool",    "call_id",
            "args_sha256", "bytes_in",    "route",  "platform",   "fell_back", "reasons", "status",
            "bytes_out",   "duration_us", "egress", "limits_hit", "prev",      "hash"};
        const char *at = lines[0];
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
                char key[32];
                snprintf(key, sizeof(key), "\"%s\":", order[i]);
                const char *k = strstr(at, key);
                if (!k)
                        fail_msg("%s missing or out of order in %s", key, lines[0]);
                at = k + strlen(key);
        }
        assert_int_equal(json_integer_value(json_object_get(x, "seq")), 0);
        assert_int_equal(json_integer_value(json_object_get(y, "seq")), 1);
        assert_string_equal(json_string_value(json_object_get(x, "status")), "ok");
        assert_int_equal(json_integer_value(json_object_get(x, "duration_us")), 1234);
        assert_int_equal(json_integer_value(json_object_get(x, "bytes_out")),
                         json_dumpb(result, NULL, 0, JSON_COMPACT));
        assert_true(json_equal(json_object_get(x, "egress"), egress));
        assert_string_equal(json_string_value(json_object_get(x, "server")), "ev\"\\");
        without_variable_fields(x);
        without_variable_fields(y);
        assert_true(json_equal(x, y));
        /* and, but for those four fields, the same bytes */
        char *tx = json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER),
             *ty = json_dumps(y, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_string_equal(tx, ty);
        free(tx);
        free(ty);
        json_decref(x);
        json_decref(y);
        check_chain(2);
        free_lines(lines, n);
        json_decref(args);
        json_decref(result);
        json_decref(egress);
        iso_decision_free(&d);
}

/* A failed call: its error sanitized, a timeout's limit named. */
static void test_failed_call(void **state)
{
        (void)state;
        struct iso_decision d;
        fresh(&d, "direct");
        osvm_err err = {0};
        err_set(&err, MCP_E_TIMEOUT, "timed out \"after\" \x1b[1m 5 ms\n\xff");
        struct mcp_audit_call a = {.caller = NULL, .dec = &d, .err = &err, .duration_ns = 5000000};
        mcp_audit_prepare(&a);
        mcp_audit_record(&a);
        err.code = EIO;
        struct mcp_audit_call b = {.caller = "agent", .dec = &d, .err = &err};
        mcp_audit_record(&b);
        size_t n = 0;
        char **lines = lines_of(&n);
        assert_int_equal(n, 2);
        json_t *x = check_line(lines[0]), *y = check_line(lines[1]);
        assert_string_equal(json_string_value(json_object_get(x, "status")), "timeout");
        assert_true(json_is_null(json_object_get(x, "caller")));
        assert_null(json_object_get(x, "platform")); /* only for a tool in a VM */
        const char *msg = json_string_value(json_object_get(x, "error"));
        assert_non_null(msg);
        assert_non_null(strstr(msg, "timed out \"after\""));
        assert_null(strchr(msg, '\x1b'));
        assert_null(strchr(msg, '\n'));
        json_t *limits = json_object_get(x, "limits_hit");
        assert_int_equal(json_array_size(limits), 1);
        assert_string_equal(json_string_value(json_array_get(limits, 0)), "timeout_ms");
        assert_true(json_is_null(json_object_get(x, "egress")));
        assert_int_equal(json_integer_value(json_object_get(x, "bytes_out")), 0);
        assert_string_equal(json_string_value(json_object_get(y, "status")), "error");
        assert_int_equal(json_array_size(json_object_get(y, "limits_hit")), 0);
        json_decref(x);
        json_decref(y);
        check_chain(2);
        free_lines(lines, n);
        iso_decision_free(&d);
}

/* A decision for SERVER/TOOL with one reason. */
static void decision(struct iso_decision *d, const char *server, const char *tool,
                     const char *route, const char *reason)
{
        json_t *j = json_pack("{s:s, s:s, s:s, s:[{s:s}]}", "server", server, "tool", tool, "route",
                              route, "reasons", "text", reason);
        osvm_err e = {0};
        assert_int_equal(iso_decision_from_json(j, d, &e), 0);
        json_decref(j);
}

/* The fields kept from one call to the next are those of the call's own
 * caller and decision: calls that differ in any of them, one after the
 * other, each have their own; a call_id that is not the hub's is escaped. */
static void test_calls_differ(void **state)
{
        (void)state;
        struct iso_decision d[4];
        fresh(&d[0], "direct");
        iso_decision_free(&d[0]);
        decision(&d[0], "a", "t", "direct", "reason one");
        decision(&d[1], "a", "t", "direct", "reason two");
        decision(&d[2], "a", "u", "unikernel", "reason one");
        decision(&d[3], "b", "t", "direct", "reason one");
        static const struct {
                int dec;
                const char *caller, *call_id, *reason, *tool;
        } calls[] = {
            {0, "x", "1-1", "reason one", "t"},    {0, "x", "1-2", "reason one", "t"},
            {1, "x", "1-3", "reason two", "t"},    {1, "y", "1-4", "reason two", "t"},
            {1, NULL, "q\"\n", "reason two", "t"}, {2, NULL, NULL, "reason one", "u"},
            {3, NULL, "1-7", "reason one", "t"},   {0, "x", "1-8", "reason one", "t"},
        };
        size_t ncalls = sizeof(calls) / sizeof(calls[0]);
        json_t *result = json_pack("{s:[]}", "content");
        for (size_t i = 0; i < ncalls; i++) {
                struct mcp_audit_call a = {.caller = calls[i].caller,
                                           .dec = &d[calls[i].dec],
                                           .result = result,
                                           .call_id = calls[i].call_id};
                mcp_audit_prepare(&a);
                mcp_audit_record(&a);
        }
        size_t n = 0;
        char **lines = lines_of(&n);
        assert_int_equal(n, ncalls);
        for (size_t i = 0; i < n; i++) {
                json_t *x = check_line(lines[i]);
                const char *caller = json_string_value(json_object_get(x, "caller"));
                if (calls[i].caller)
                        assert_string_equal(caller, calls[i].caller);
                else
                        assert_true(json_is_null(json_object_get(x, "caller")));
                const char *id = json_string_value(json_object_get(x, "call_id"));
                if (calls[i].call_id)
                        assert_non_null(id);
                else
                        assert_null(json_object_get(x, "call_id"));
                if (calls[i].call_id && !strchr(calls[i].call_id, '\n'))
                        assert_string_equal(id, calls[i].call_id);
                else if (calls[i].call_id)
                        assert_null(strchr(id, '\n')); /* sanitized */
                assert_string_equal(json_string_value(json_object_get(x, "server")),
                                    calls[i].dec == 3 ? "b" : "a");
                assert_string_equal(json_string_value(json_object_get(x, "tool")), calls[i].tool);
                assert_string_equal(
                    json_string_value(json_array_get(json_object_get(x, "reasons"), 0)),
                    calls[i].reason);
                assert_int_equal(json_integer_value(json_object_get(x, "pid")), getpid());
                assert_int_equal(json_object_get(x, "platform") != NULL, calls[i].dec == 2);
                json_decref(x);
        }
        free_lines(lines, n);
        check_chain(ncalls);

        /* a child's records carry its own pid */
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                struct mcp_audit_call a = {.caller = "x", .dec = &d[0], .result = result};
                mcp_audit_record(&a);
                _exit(0);
        }
        int st;
        assert_int_equal(waitpid(child, &st, 0), child);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        lines = lines_of(&n);
        assert_int_equal(n, ncalls + 1);
        json_t *x = check_line(lines[n - 1]);
        assert_int_equal(json_integer_value(json_object_get(x, "pid")), child);
        json_decref(x);
        free_lines(lines, n);
        check_chain(ncalls + 1);
        json_decref(result);
        for (size_t i = 0; i < 4; i++)
                iso_decision_free(&d[i]);
}

/* OSVM_AUDIT=0: nothing prepared, nothing written. */
static void test_off(void **state)
{
        (void)state;
        setenv("OSVM_AUDIT", "0", 1);
        struct iso_decision d;
        fresh(&d, "direct");
        json_t *result = json_pack("{s:[]}", "content");
        struct mcp_audit_call a = {.caller = "agent", .dec = &d, .result = result};
        mcp_audit_prepare(&a);
        assert_null(a.known);
        mcp_audit_record(&a);
        unsetenv("OSVM_AUDIT");
        assert_int_equal(access(path, F_OK), -1);
        json_decref(result);
        iso_decision_free(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_prepared_is_the_same_record),
            cmocka_unit_test(test_failed_call),
            cmocka_unit_test(test_calls_differ),
            cmocka_unit_test(test_off),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
