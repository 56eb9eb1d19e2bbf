/* The SSE parser: table tests, every input also fed split at every byte. */
#include "testutil.h"

#include "mcp/sse.h"

#include <string.h>

/* Events rendered as "type=data;" with newlines in data shown as '|'. */
struct rec {
        char out[4096];
        size_t n;
        int stop_after; /* 0: never stop */
        int seen;
};

static int record(void *ctx, const char *event, const char *data, size_t len)
{
        struct rec *r = ctx;
        assert_int_equal(strlen(data), len); /* NUL-terminated at len */
        r->n += (size_t)snprintf(r->out + r->n, sizeof(r->out) - r->n, "%s=", event);
        for (size_t i = 0; i < len && r->n + 2 < sizeof(r->out); i++)
                r->out[r->n++] = data[i] == '\n' ? '|' : data[i];
        r->n += (size_t)snprintf(r->out + r->n, sizeof(r->out) - r->n, ";");
        r->seen++;
        return r->stop_after && r->seen >= r->stop_after;
}

struct sse_case {
        const char *name;
        const char *in;
        const char *want;    /* the events */
        const char *last_id; /* NULL: do not check */
        long retry;          /* -2: do not check */
};

static const struct sse_case cases[] = {
    {"one event", "data: {}\n\n", "message={};", "", -1},
    {"no space after colon", "data:{\"a\":1}\n\n", "message={\"a\":1};", NULL, -2},
    {"only one leading space is removed", "data:  x\n\n", "message= x;", NULL, -2},
    {"multi-line data joins with LF", "data: a\ndata: b\ndata:\ndata: c\n\n", "message=a|b||c;",
     NULL, -2},
    {"CRLF line ends", "data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n", "message=a|b;message=c;", NULL,
     -2},
    {"CR alone ends lines", "data: a\rdata: b\r\rdata: c\r\r", "message=a|b;message=c;", NULL, -2},
    {"comments are skipped", ": hello\ndata: a\n:\n: keep-alive\n\n", "message=a;", NULL, -2},
    {"priming event without data is not dispatched", "id: p1\ndata: \n\nid: e2\ndata: x\n\n",
     "message=x;", "e2", -2},
    {"id-only event sets the last id", "id: 42\n\n", "", "42", -1},
    {"id with NUL is ignored", "id: 1\n\nid: a\0b\n\n", "", "1", -2},
    {"retry digits", "retry: 2500\n\n", "", NULL, 2500},
    {"retry not digits ignored", "retry: 25x\nretry: -1\nretry:\n\n", "", NULL, -1},
    {"retry huge capped", "retry: 99999999999999999999999\n\n", "", NULL, SSE_MAX_RETRY_MS},
    {"event type", "event: message\ndata: a\n\nevent: ping\ndata: b\n\n", "message=a;ping=b;", NULL,
     -2},
    {"event type resets after dispatch", "event: x\ndata: a\n\ndata: b\n\n", "x=a;message=b;", NULL,
     -2},
    {"unknown fields ignored", "foo: bar\nnocolon\ndata: a\n\n", "message=a;", NULL, -2},
    {"field without colon: data with empty value", "data\ndata: x\n\n", "message=|x;", NULL, -2},
    {"unterminated event is not dispatched", "data: a\n\ndata: b\n", "message=a;", NULL, -2},
    {"byte order mark at start",
     "\xEF\xBB\xBF"
     "data: a\n\n",
     "message=a;", NULL, -2},
    {"real server-everything stream",
     "id: db1b\ndata: \n\nevent: message\nid: ead6\ndata: "
     "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1}\n\n",
     "message={\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1};", "ead6", -1},
};

/* The input length: the table's strings may hold NUL, so count to the end marker. */
static size_t case_len(const struct sse_case *c)
{
        if (strcmp(c->name, "id with NUL is ignored") == 0)
                return 16; /* "id: 1\n\nid: a\0b\n\n" */
        return strlen(c->in);
}

static void run_case(const struct sse_case *c, size_t split)
{
        struct sse_parser p;
        struct rec r = {0};
        osvm_err e = {0};
        size_t n = case_len(c);
        sse_init(&p, 1024);
        if (split > n)
                split = n;
        assert_int_equal(sse_feed(&p, c->in, split, record, &r, &e), 0);
        assert_int_equal(sse_feed(&p, c->in + split, n - split, record, &r, &e), 0);
        r.out[r.n] = '\0';
        if (strcmp(r.out, c->want) != 0)
                fail_msg("%s (split at %zu): got \"%s\", want \"%s\"", c->name, split, r.out,
                         c->want);
        if (c->last_id && strcmp(p.last_id, c->last_id) != 0)
                fail_msg("%s: last id \"%s\", want \"%s\"", c->name, p.last_id, c->last_id);
        if (c->retry != -2 && p.retry_ms != c->retry)
                fail_msg("%s: retry %ld, want %ld", c->name, p.retry_ms, c->retry);
        sse_free(&p);
}

static void test_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                for (size_t split = 0; split <= case_len(&cases[i]); split++)
                        run_case(&cases[i], split);
}

static void test_byte_at_a_time(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct sse_case *c = &cases[i];
                struct sse_parser p;
                struct rec r = {0};
                osvm_err e = {0};
                sse_init(&p, 1024);
                for (size_t k = 0; k < case_len(c); k++)
                        assert_int_equal(sse_feed(&p, c->in + k, 1, record, &r, &e), 0);
                r.out[r.n] = '\0';
                if (strcmp(r.out, c->want) != 0)
                        fail_msg("%s byte by byte: got \"%s\"", c->name, r.out);
                sse_free(&p);
        }
}

static void test_id_survives_events(void **state)
{
        (void)state;
        struct sse_parser p;
        struct rec r = {0};
        osvm_err e = {0};
        sse_init(&p, 1024);
        const char *in = "id: 7\ndata: a\n\ndata: b\n\n";
        assert_int_equal(sse_feed(&p, in, strlen(in), record, &r, &e), 0);
        assert_string_equal(p.last_id, "7"); /* an event without id keeps the last one */
        assert_true(p.id_seen);
        assert_int_equal(p.events, 2);
        sse_free(&p);
}

static void test_oversized_event_refused(void **state)
{
        (void)state;
        /* data joined over several lines passes the cap */
        struct sse_parser p;
        struct rec r = {0};
        osvm_err e = {0};
        sse_init(&p, 10);
        const char *in = "data: 12345\ndata: 6789\n\n"; /* 5+1+4 = 10: fits */
        assert_int_equal(sse_feed(&p, in, strlen(in), record, &r, &e), 0);
        assert_int_equal(r.seen, 1);
        in = "data: 12345\ndata: 67890\n";
        assert_int_equal(sse_feed(&p, in, strlen(in), record, &r, &e), -1);
        assert_int_equal(e.code, SSE_E_TOO_LARGE);
        assert_non_null(strstr(e.msg, "10 bytes"));
        sse_free(&p);

        /* one endless line, fed in chunks: refused once past the cap, not buffered whole */
        sse_init(&p, 1000);
        err_clear(&e);
        char chunk[256];
        memset(chunk, 'x', sizeof(chunk));
        memcpy(chunk, "data: ", 6);
        int rc = 0;
        size_t fed = 0;
        for (int i = 0; i < 100 && rc == 0; i++, fed += sizeof(chunk))
                rc = sse_feed(&p, chunk, sizeof(chunk), record, &r, &e);
        assert_int_equal(rc, -1);
        assert_int_equal(e.code, SSE_E_TOO_LARGE);
        assert_true(fed <= 1000 + 64 + sizeof(chunk));
        assert_true(p.line.cap <= 4096);
        sse_free(&p);

        /* a long comment line is bounded too */
        sse_init(&p, 100);
        err_clear(&e);
        char big[400];
        memset(big, ':', sizeof(big));
        assert_int_equal(sse_feed(&p, big, sizeof(big), record, &r, &e), -1);
        assert_int_equal(e.code, SSE_E_TOO_LARGE);
        sse_free(&p);
}

static void test_callback_stops(void **state)
{
        (void)state;
        struct sse_parser p;
        struct rec r = {.stop_after = 1};
        osvm_err e = {0};
        sse_init(&p, 100);
        const char *in = "data: a\n\ndata: b\n\n";
        assert_int_equal(sse_feed(&p, in, strlen(in), record, &r, &e), -1);
        assert_int_equal(e.code, SSE_E_CALLBACK);
        assert_int_equal(r.seen, 1);
        sse_free(&p);
}

static void test_reset_keeps_id(void **state)
{
        (void)state;
        struct sse_parser p;
        struct rec r = {0};
        osvm_err e = {0};
        sse_init(&p, 100);
        const char *in = "retry: 10\nid: 5\n\ndata: half";
        assert_int_equal(sse_feed(&p, in, strlen(in), record, &r, &e), 0);
        sse_reset_stream(&p);
        in = "data: new\n\n";
        assert_int_equal(sse_feed(&p, in, strlen(in), record, &r, &e), 0);
        r.out[r.n] = '\0';
        assert_string_equal(r.out, "message=new;");
        assert_string_equal(p.last_id, "5");
        assert_int_equal(p.retry_ms, 10);
        sse_free(&p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_byte_at_a_time),
            cmocka_unit_test(test_id_survives_events),
            cmocka_unit_test(test_oversized_event_refused),
            cmocka_unit_test(test_callback_stops),
            cmocka_unit_test(test_reset_keeps_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
