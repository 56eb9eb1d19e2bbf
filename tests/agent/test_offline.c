/*
 * The offline planner, as tables: requests against the real tool lists of
 * server-everything and server-filesystem (tests/agent/fixtures, saved from
 * tools/list) and a small Solana fixture, checked for the tool chosen and
 * the exact arguments; questions for missing arguments and their answers;
 * the answer built from a tool's result; requests no tool fits.
 */
#include "testutil.h"

#include "agent/agent.h"
#include "agent/offline.h"

#include <string.h>

/* ---- conversations and tool sets built by hand ---- */

static struct agent_toolset tools;

static void ts_add(struct agent_toolset *ts, const char *server, const char *file)
{
        json_error_t je;
        json_t *list = json_load_file(file, 0, &je);
        if (!list)
                fail_msg("%s: %s (run from the repository's top directory)", file, je.text);
        size_t i;
        json_t *t;
        json_array_foreach(list, i, t)
        {
                ts->v = xrealloc(ts->v, (ts->n + 1) * sizeof(*ts->v));
                struct agent_tool *at = &ts->v[ts->n++];
                *at = (struct agent_tool){
                    .server = xstrdup(server),
                    .name = xstrdup(json_string_value(json_object_get(t, "name"))),
                    .input_schema = json_incref(json_object_get(t, "inputSchema")),
                };
                const char *d = json_string_value(json_object_get(t, "description"));
                at->description = d ? xstrdup(d) : NULL;
                snprintf(at->api_name, sizeof(at->api_name), "%s__%s", server, at->name);
        }
        json_decref(list);
}

static void plan(struct agent_convo *c, const struct agent_toolset *ts, struct agent_step *s)
{
        struct agent_planner *p = agent_planner_offline();
        assert_string_equal(p->ops->name, "offline");
        osvm_err e = {0};
        assert_int_equal(p->ops->plan(p, c, ts, s, &e), 0);
        p->ops->free(p);
        assert_non_null(s->text);
        print_message("  -> %s\n", s->text);
        assert_true(strstr(s->text, "(offline planner)") == s->text);
}

/* One request in a fresh conversation. */
static void plan_one(const char *request, struct agent_convo *c, struct agent_step *s)
{
        *c = (struct agent_convo){0};
        agent_convo_add_user(c, request);
        plan(c, &tools, s);
}

static void assert_call(const struct agent_step *s, const char *server, const char *tool,
                        const char *args_json)
{
        assert_int_equal(s->ncalls, 1);
        assert_false(s->needs_input);
        assert_non_null(s->calls[0].tool);
        assert_string_equal(s->calls[0].tool->server, server);
        assert_string_equal(s->calls[0].tool->name, tool);
        assert_true(s->calls[0].tool >= tools.v && s->calls[0].tool < tools.v + tools.n);
        json_error_t je;
        json_t *want = json_loads(args_json, 0, &je);
        if (!want)
                fail_msg("bad expected JSON %s: %s", args_json, je.text);
        char *got = json_dumps(s->calls[0].arguments, JSON_COMPACT | JSON_SORT_KEYS);
        if (!json_equal(want, s->calls[0].arguments))
                fail_msg("arguments %s, want %s", got, args_json);
        free(got);
        json_decref(want);
}

static int setup(void **state)
{
        (void)state;
        ts_add(&tools, "everything", "tests/agent/fixtures/everything.json");
        ts_add(&tools, "filesystem", "tests/agent/fixtures/filesystem.json");
        ts_add(&tools, "solana", "tests/agent/fixtures/solana.json");
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        agent_toolset_free(&tools);
        return 0;
}

/* ---- requests that make a call ---- */

#define ADDR "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
#define SIG                                                                                        \
        "4HxKByB8vHF8pGdUzn6Bhf2959NQC5abfGSF13o8Ndv39kQMkqmcC1C6byRJVV5d8w2rLvwCZmdfj8Qr1tk3LvYq"

struct call_case {
        const char *request;
        const char *server, *tool;
        const char *args;
};

static void test_calls(void **state)
{
        (void)state;
        const struct call_case cases[] = {
            /* the five of the issue */
            {"echo hello world", "everything", "echo", "{\"message\": \"hello world\"}"},
            {"add 2 and 3", "everything", "get-sum", "{\"a\": 2, \"b\": 3}"},
            {"list the files in /tmp", "filesystem", "list_directory", "{\"path\": \"/tmp\"}"},
            {"read the file /etc/hostname", "filesystem", "read_text_file",
             "{\"path\": \"/etc/hostname\"}"},
            /* paraphrases */
            {"what is 2 plus 3", "everything", "get-sum", "{\"a\": 2, \"b\": 3}"},
            {"What is 2 plus 3?", "everything", "get-sum", "{\"a\": 2, \"b\": 3}"},
            {"2 + 3", "everything", "get-sum", "{\"a\": 2, \"b\": 3}"},
            {"calculate the sum of 7 and 8", "everything", "get-sum", "{\"a\": 7, \"b\": 8}"},
            {"sum of 2.5 and 4", "everything", "get-sum", "{\"a\": 2.5, \"b\": 4}"},
            {"add -7 and 0.25", "everything", "get-sum", "{\"a\": -7, \"b\": 0.25}"},
            {"please repeat back: nice to meet you", "everything", "echo",
             "{\"message\": \"nice to meet you\"}"},
            {"can you echo this: hi", "everything", "echo", "{\"message\": \"hi\"}"},
            {"say 'good morning'", "everything", "echo", "{\"message\": \"good morning\"}"},
            {"echo \"hello,   quoted world\"", "everything", "echo",
             "{\"message\": \"hello,   quoted world\"}"},
            {"list /tmp", "filesystem", "list_directory", "{\"path\": \"/tmp\"}"},
            {"print Hello, World!", "everything", "echo", "{\"message\": \"Hello, World!\"}"},
            {"read the last 3 lines of /var/log/syslog", "filesystem", "read_text_file",
             "{\"path\": \"/var/log/syslog\", \"tail\": 3}"},
            {"read multiple files /a.txt /b.txt", "filesystem", "read_multiple_files",
             "{\"paths\": [\"/a.txt\", \"/b.txt\"]}"},
            {"get annotated message of type success with image yes", "everything",
             "get-annotated-message", "{\"messageType\": \"success\", \"includeImage\": true}"},
            {"ls /var/log", "filesystem", "list_directory", "{\"path\": \"/var/log\"}"},
            {"show me what's in the folder ./src", "filesystem", "list_directory",
             "{\"path\": \"./src\"}"},
            {"cat ~/notes.txt", "filesystem", "read_text_file", "{\"path\": \"~/notes.txt\"}"},
            {"read the first 5 lines of /etc/passwd", "filesystem", "read_text_file",
             "{\"path\": \"/etc/passwd\", \"head\": 5}"},
            {"get file info for /etc/passwd", "filesystem", "get_file_info",
             "{\"path\": \"/etc/passwd\"}"},
            {"show the directory tree of /usr/share", "filesystem", "directory_tree",
             "{\"path\": \"/usr/share\"}"},
            {"create a directory /tmp/new", "filesystem", "create_directory",
             "{\"path\": \"/tmp/new\"}"},
            {"move /tmp/a.txt to /tmp/b.txt", "filesystem", "move_file",
             "{\"source\": \"/tmp/a.txt\", \"destination\": \"/tmp/b.txt\"}"},
            {"search for *.c in /work", "filesystem", "search_files",
             "{\"path\": \"/work\", \"pattern\": \"*.c\"}"},
            {"find *.log under /var/log", "filesystem", "search_files",
             "{\"path\": \"/var/log\", \"pattern\": \"*.log\"}"},
            {"rename /tmp/a to /tmp/b", "filesystem", "move_file",
             "{\"source\": \"/tmp/a\", \"destination\": \"/tmp/b\"}"},
            {"list the directory /tmp with sizes", "filesystem", "list_directory_with_sizes",
             "{\"path\": \"/tmp\"}"},
            {"read README.md", "filesystem", "read_text_file", "{\"path\": \"README.md\"}"},
            {"show environment variables", "everything", "get-env", "{}"},
            {"research quantum computing", "everything", "simulate-research-query",
             "{\"topic\": \"quantum computing\"}"},
            {"echo x=1 and /tmp", "everything", "echo", "{\"message\": \"x=1 and /tmp\"}"},
            {"which directories are allowed", "filesystem", "list_allowed_directories", "{}"},
            /* quoted strings and key=value */
            {"write 'hello there' to /tmp/greeting.txt", "filesystem", "write_file",
             "{\"path\": \"/tmp/greeting.txt\", \"content\": \"hello there\"}"},
            {"write hello world to the file /tmp/x.txt", "filesystem", "write_file",
             "{\"path\": \"/tmp/x.txt\", \"content\": \"hello world\"}"},
            {"save content=\"a b c\" path=/tmp/x.txt", "filesystem", "write_file",
             "{\"path\": \"/tmp/x.txt\", \"content\": \"a b c\"}"},
            {"get-sum a=10 b=-2.5", "everything", "get-sum", "{\"a\": 10, \"b\": -2.5}"},
            {"add b=1 and a=4", "everything", "get-sum", "{\"a\": 4, \"b\": 1}"},
            {"list_directory path=/tmp", "filesystem", "list_directory", "{\"path\": \"/tmp\"}"},
            {"echo message=\"from a key\" please", "everything", "echo",
             "{\"message\": \"from a key\"}"},
            /* numbers by their neighbours, enums by word */
            {"trigger a long running operation for 5 seconds with 2 steps", "everything",
             "trigger-long-running-operation", "{\"duration\": 5, \"steps\": 2}"},
            {"get structured content for New York", "everything", "get-structured-content",
             "{\"location\": \"New York\"}"},
            {"get block 123456 finalized", "solana", "get_block",
             "{\"slot\": 123456, \"commitment\": \"finalized\"}"},
            {"get block 77 with rewards yes", "solana", "get_block",
             "{\"slot\": 77, \"rewards\": true}"},
            /* Solana addresses and signatures */
            {"what is the balance of " ADDR, "solana", "get_balance",
             "{\"address\": \"" ADDR "\"}"},
            {"what is the balance of 11111111111111111111111111111111", "solana", "get_balance",
             "{\"address\": \"11111111111111111111111111111111\"}"},
            {"show the transaction " SIG, "solana", "get_transaction",
             "{\"signature\": \"" SIG "\"}"},
            /* URLs */
            {"gzip https://example.com/a.txt", "everything", "gzip-file-as-resource",
             "{\"data\": \"https://example.com/a.txt\"}"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct call_case *k = &cases[i];
                print_message("case \"%s\"\n", k->request);
                struct agent_convo c;
                struct agent_step s;
                plan_one(k->request, &c, &s);
                assert_call(&s, k->server, k->tool, k->args);
                assert_string_equal(s.calls[0].id, "offline-1");
                agent_step_free(&s);
                agent_convo_free(&c);
        }
}

/* ---- missing arguments: the question, then the answer ---- */

struct ask_case {
        const char *request;
        const char *tool;
        const char *mentions[3]; /* the question names these */
        const char *reply;
        const char *server, *call, *args; /* the call after the reply (NULL: asked again) */
};

static void test_questions(void **state)
{
        (void)state;
        const struct ask_case cases[] = {
            {"echo",
             "echo",
             {"message", "Message to echo"},
             "hi there",
             "everything",
             "echo",
             "{\"message\": \"hi there\"}"},
            {"add 2",
             "get-sum",
             {"b", "Second number"},
             "3",
             "everything",
             "get-sum",
             "{\"a\": 2, \"b\": 3}"},
            {"add two numbers",
             "get-sum",
             {"a", "b", "First number"},
             "4 and 5.5",
             "everything",
             "get-sum",
             "{\"a\": 4, \"b\": 5.5}"},
            {"list the files",
             "list_directory",
             {"path"},
             "/tmp",
             "filesystem",
             "list_directory",
             "{\"path\": \"/tmp\"}"},
            {"write to /tmp/x.txt",
             "write_file",
             {"content"},
             "some text, with a comma",
             "filesystem",
             "write_file",
             "{\"path\": \"/tmp/x.txt\", \"content\": \"some text, with a comma\"}"},
            {"write a file",
             "write_file",
             {"path", "content"},
             "/tmp/y.txt hello",
             "filesystem",
             "write_file",
             "{\"path\": \"/tmp/y.txt\", \"content\": \"hello\"}"},
            {"what is the balance",
             "get_balance",
             {"address", "Solana account address"},
             "it is " ADDR,
             "solana",
             "get_balance",
             "{\"address\": \"" ADDR "\"}"},
            {"what is the balance", "get_balance", {"address"}, "not an address", NULL, NULL, NULL},
            {"add 1", "get-sum", {"b"}, "b=8", "everything", "get-sum", "{\"a\": 1, \"b\": 8}"},
            /* a new request instead of an answer */
            {"echo",
             "echo",
             {"message"},
             "list the files in /tmp",
             "filesystem",
             "list_directory",
             "{\"path\": \"/tmp\"}"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct ask_case *k = &cases[i];
                print_message("case \"%s\" then \"%s\"\n", k->request, k->reply);
                struct agent_convo c;
                struct agent_step s;
                plan_one(k->request, &c, &s);
                assert_true(s.needs_input);
                assert_int_equal(s.ncalls, 0);
                assert_non_null(strstr(s.text, k->tool));
                for (size_t m = 0; m < 3 && k->mentions[m]; m++)
                        assert_non_null(strstr(s.text, k->mentions[m]));
                agent_convo_add_assistant(&c, &s);
                agent_convo_add_user(&c, k->reply);
                plan(&c, &tools, &s);
                if (k->server) {
                        assert_call(&s, k->server, k->call, k->args);
                } else {
                        assert_true(s.needs_input);
                        assert_non_null(strstr(s.text, k->tool));
                }
                agent_step_free(&s);
                agent_convo_free(&c);
        }
}

/* Asked twice: both answers count, with the original request. */
static void test_question_twice(void **state)
{
        (void)state;
        struct agent_convo c;
        struct agent_step s;
        plan_one("move /tmp/a", &c, &s);
        assert_true(s.needs_input);
        assert_non_null(strstr(s.text, "destination"));
        agent_convo_add_assistant(&c, &s);
        agent_convo_add_user(&c, "hmm");
        plan(&c, &tools, &s);
        /* a lone missing string takes the whole answer */
        assert_call(&s, "filesystem", "move_file",
                    "{\"source\": \"/tmp/a\", \"destination\": \"hmm\"}");
        agent_step_free(&s);
        agent_convo_free(&c);

        plan_one("get block", &c, &s);
        assert_true(s.needs_input);
        assert_non_null(strstr(s.text, "slot"));
        agent_convo_add_assistant(&c, &s);
        agent_convo_add_user(&c, "the latest");
        plan(&c, &tools, &s);
        assert_true(s.needs_input);
        agent_convo_add_assistant(&c, &s);
        agent_convo_add_user(&c, "42");
        plan(&c, &tools, &s);
        assert_call(&s, "solana", "get_block", "{\"slot\": 42}");
        agent_step_free(&s);
        agent_convo_free(&c);
}

static void test_cancel(void **state)
{
        (void)state;
        struct agent_convo c;
        struct agent_step s;
        plan_one("echo", &c, &s);
        agent_convo_add_assistant(&c, &s);
        agent_convo_add_user(&c, "never mind");
        plan(&c, &tools, &s);
        assert_int_equal(s.ncalls, 0);
        assert_false(s.needs_input);
        assert_non_null(strstr(s.text, "Cancelled"));
        agent_step_free(&s);
        agent_convo_free(&c);
}

/* ---- answers from results ---- */

static void test_results(void **state)
{
        (void)state;
        struct agent_convo c;
        struct agent_step s;
        plan_one("echo hello world", &c, &s);
        assert_string_equal(s.calls[0].id, "offline-1");
        agent_convo_add_assistant(&c, &s);
        agent_convo_add_tool(&c, "offline-1", "Echo: hello world\n", false);
        plan(&c, &tools, &s);
        assert_int_equal(s.ncalls, 0);
        assert_false(s.needs_input);
        assert_string_equal(s.text, "(offline planner) Ran everything/echo:\nEcho: hello world");
        agent_convo_add_assistant(&c, &s);

        /* the next request in the same conversation: a new id */
        agent_convo_add_user(&c, "read /nope");
        plan(&c, &tools, &s);
        assert_call(&s, "filesystem", "read_text_file", "{\"path\": \"/nope\"}");
        assert_string_equal(s.calls[0].id, "offline-2");
        agent_convo_add_assistant(&c, &s);
        agent_convo_add_tool(&c, "offline-2", "Error: ENOENT: no such file or directory", true);
        plan(&c, &tools, &s);
        assert_int_equal(s.ncalls, 0);
        assert_string_equal(s.text, "(offline planner) filesystem/read_text_file failed:\n"
                                    "Error: ENOENT: no such file or directory");
        agent_step_free(&s);

        /* empty and long outputs */
        c.v[c.n - 1].is_error = false;
        free(c.v[c.n - 1].text);
        c.v[c.n - 1].text = xstrdup("  \n ");
        plan(&c, &tools, &s);
        assert_non_null(strstr(s.text, "(no output)"));
        agent_step_free(&s);
        free(c.v[c.n - 1].text);
        c.v[c.n - 1].text = xmalloc(10001);
        memset(c.v[c.n - 1].text, 'x', 10000);
        c.v[c.n - 1].text[10000] = 0;
        plan(&c, &tools, &s);
        assert_true(strlen(s.text) < 4200);
        assert_non_null(strstr(s.text, "6000 more bytes not shown"));
        agent_step_free(&s);
        agent_convo_free(&c);
}

/* A request of one piece, then another repeated past n bytes. */
static char *repeated(const char *head, const char *piece, size_t n)
{
        strbuf b = {0};
        sb_add(&b, head);
        while (b.len < n)
                sb_add(&b, piece);
        return sb_steal(&b);
}

/* Long and odd requests: no crash, and the answer they should get (the time
 * they take against their length is bench/bench_offline's, not a test's). */
static void test_hostile(void **state)
{
        (void)state;
        const char *pieces[] = {"the ",   "a=1 ",   "/tmp/x ",  "'unterminated ",
                                "\"q\" ", "-3.5 ",  "echo ",    "ü ",
                                "=== ",   ADDR " ", "key=\"v ", "https://x/ "};
        strbuf b = {0};
        for (size_t i = 0; b.len < 200000; i++)
                sb_add(&b, pieces[(i * 7 + i / 5) % (sizeof(pieces) / sizeof(pieces[0]))]);
        struct {
                const char *request;
                const char *want; /* in the answer */
                size_t ncalls;
        } cases[] = {
            /* 200 KB: the answer quotes its start only */
            {b.s, "No tool fits \"the ü /tmp/x " ADDR " \"q\" the", 0},
            {"", "What should I do?", 0},
            {"   ", "What should I do?", 0},
            {"'", "No tool fits \"'\"", 0},
            {"\"", "No tool fits \"\"\"", 0},
            {"=", "No tool fits \"=\"", 0},
            {"a=", "No tool fits \"a=\"", 0},
            {"=b", "(offline planner)", 0},
            {"...", "No tool fits \"...\"", 0},
            {"~", "No tool fits \"~\"", 0},
            /* a path whose last name is empty: nothing read past its end (found by
             * tests/fuzz/fuzz_agent_extract) */
            {"/", "(offline planner)", 0},
            {"what is in /", "(offline planner)", 0},
            {"-", "No tool fits \"-\"", 0},
            {"echo \"", "Calling everything/echo {\"message\":\"\\\"\"}", 1},
            /* not a number: only 2 is, and b is asked for */
            {"add 1e309 and 2", "To run everything/get-sum I need this argument:\n  - b:", 0},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct agent_convo c;
                struct agent_step s;
                plan_one(cases[i].request, &c, &s);
                if (!strstr(s.text, cases[i].want))
                        fail_msg("case %zu: \"%s\" not in the answer", i, cases[i].want);
                assert_int_equal(s.ncalls, cases[i].ncalls);
                assert_true(strlen(s.text) < 2000);
                agent_step_free(&s);
                agent_convo_free(&c);
        }
        sb_free(&b);

        /* 200 KB of one piece repeated: each filler of arguments over all of it */
        struct {
                const char *head, *piece, *tool, *args;
        } long_calls[] = {
            {"get annotated message of type ", "error ", "get-annotated-message",
             "{\"messageType\": \"error\"}"},
            {"add ", "1 2 ", "get-sum", "{\"a\": 1, \"b\": 2}"},
            {"echo ", "((((", "echo", NULL},
            {"echo ", "'x ", "echo", "{\"message\": \"x \"}"},
            {"echo ", "-alpha-file", "echo", NULL},
        };
        for (size_t i = 0; i < sizeof(long_calls) / sizeof(long_calls[0]); i++) {
                char *req = repeated(long_calls[i].head, long_calls[i].piece, 200000);
                struct agent_convo c;
                struct agent_step s;
                plan_one(req, &c, &s);
                assert_int_equal(s.ncalls, 1);
                assert_string_equal(s.calls[0].tool->name, long_calls[i].tool);
                if (long_calls[i].args)
                        assert_call(&s, s.calls[0].tool->server, long_calls[i].tool,
                                    long_calls[i].args);
                agent_step_free(&s);
                agent_convo_free(&c);
                free(req);
        }

        /* a conversation that does not end with a user message or a result */
        struct agent_convo c = {0};
        struct agent_step s;
        plan(&c, &tools, &s);
        assert_int_equal(s.ncalls, 0);
        agent_step_free(&s);
        {
                struct agent_step hi = {.text = xstrdup("hi")};
                agent_convo_add_assistant(&c, &hi);
        }
        plan(&c, &tools, &s);
        assert_int_equal(s.ncalls, 0);
        agent_step_free(&s);
        /* a result for a call nobody made */
        agent_convo_add_tool(&c, "call_9", "out", false);
        plan(&c, &tools, &s);
        assert_non_null(strstr(s.text, "call_9"));
        agent_step_free(&s);
        agent_convo_free(&c);
}

/* ---- the schema's types ---- */

/* A list's items have the type the schema's items give, or the list is not
 * taken: [1,2,"x"] for an array of integers is no argument; nor is a choice
 * of an enum that does not have the property's type (both found by
 * tests/fuzz/fuzz_agent_extract). */
static void test_item_types(void **state)
{
        (void)state;
        json_t *schema = json_loads(
            "{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\",\"items\":"
            "{\"type\":\"integer\"}},\"names\":{\"type\":\"array\",\"items\":{\"type\":"
            "\"string\"}},\"n\":{\"type\":[\"null\"]},\"m\":{\"type\":\"null\"}}}",
            0, NULL);
        assert_non_null(schema);
        struct {
                const char *request, *want;
        } cases[] = {
            {"tags=1,2,3", "{\"tags\":[1,2,3]}"},
            {"tags=1,2,x", "{}"},
            {"tags=1,2.5", "{}"},
            {"tags='[4,5]'", "{\"tags\":[4,5]}"},
            {"tags='[4,\"a\"]'", "{}"},
            {"names=a,b", "{\"names\":[\"a\",\"b\"]}"},
            {"names='[\"a\",1]'", "{}"},
            /* a property of type null takes null alone (found by fuzz_agent_extract) */
            {"n=7", "{}"},
            {"m=7 n=null", "{\"n\":null}"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct off_req r;
                off_req_parse(&r, cases[i].request);
                json_t *args = json_object();
                off_extract(&r, schema, args, NULL);
                json_t *want = json_loads(cases[i].want, 0, NULL);
                char *got = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
                if (!json_equal(args, want))
                        fail_msg("\"%s\": arguments %s, want %s", cases[i].request, got,
                                 cases[i].want);
                free(got);
                json_decref(want);
                json_decref(args);
                off_req_free(&r);
        }
        json_decref(schema);

        /* a choice of the enum that is not of the property's type is not taken */
        schema = json_loads("{\"type\":\"object\",\"properties\":{\"verbose\":{\"type\":"
                            "\"boolean\",\"enum\":[\"debug\",\"info\"]}}}",
                            0, NULL);
        assert_non_null(schema);
        struct off_req r;
        off_req_parse(&r, "run it at debug");
        json_t *args = json_object();
        off_extract(&r, schema, args, NULL);
        assert_int_equal(json_object_size(args), 0);
        json_decref(args);
        off_req_free(&r);
        json_decref(schema);
}

/* ---- nothing fits ---- */

static void test_no_tool(void **state)
{
        (void)state;
        const char *requests[] = {"bake me a cake", "what's the weather like tomorrow", "hello"};
        for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
                print_message("case \"%s\"\n", requests[i]);
                struct agent_convo c;
                struct agent_step s;
                plan_one(requests[i], &c, &s);
                assert_int_equal(s.ncalls, 0);
                assert_false(s.needs_input);
                assert_non_null(strstr(s.text, "No tool fits"));
                assert_non_null(strstr(s.text, requests[i]));
                assert_non_null(strstr(s.text, "everything/echo"));
                agent_step_free(&s);
                agent_convo_free(&c);
        }

        struct agent_toolset empty = {0};
        struct agent_convo c = {0};
        struct agent_step s;
        agent_convo_add_user(&c, "echo hi");
        plan(&c, &empty, &s);
        assert_int_equal(s.ncalls, 0);
        assert_non_null(strstr(s.text, "No tools are available"));
        agent_step_free(&s);
        agent_convo_free(&c);
}

int main(void)
{
        log_init(); /* OSVM_LOG=debug shows the scores */
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_calls),          cmocka_unit_test(test_questions),
            cmocka_unit_test(test_question_twice), cmocka_unit_test(test_cancel),
            cmocka_unit_test(test_results),        cmocka_unit_test(test_hostile),
            cmocka_unit_test(test_no_tool),        cmocka_unit_test(test_item_types),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
