/*
 * Secrets: the store (0600, names only listed), the bindings' syntax, and the
 * proxy putting a placeholder right on loopback against listeners of the
 * test's own: the value for the bound host only, where its binding allows,
 * and hostile requests (smuggling, sizes) refused. TLS is covered end to end
 * by tests/mcp/secrets.sh.
 */
#include "testutil.h"

#include "mcp/mcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define PH    "osvm_secret_0123456789abcdef0123456789abcdef"
#define VALUE "REAL-VALUE-of-the-token"

static void test_bindings(void **state)
{
        (void)state;
        struct iso_secret_bind b;
        assert_null(iso_secret_bind_parse("GH=github@api.github.com", &b));
        assert_string_equal(b.env, "GH");
        assert_string_equal(b.secret, "github");
        assert_int_equal(b.hosts.n, 1);
        assert_int_equal(b.headers.n, 0);
        assert_false(b.body);
        iso_secret_bind_free(&b);
        assert_null(iso_secret_bind_parse(
            "K=key@a.example.com,*.b.example.com:8443,[::1]:9/Authorization,X-Key/body", &b));
        assert_int_equal(b.hosts.n, 3);
        assert_string_equal(b.hosts.v[2], "[::1]:9");
        assert_int_equal(b.headers.n, 2);
        assert_string_equal(b.headers.v[1], "X-Key");
        assert_true(b.body);
        iso_secret_bind_free(&b);
        static const char *const bad[] = {
            "GH",                      /* no =NAME@HOST */
            "GH=github",               /* no host */
            "1GH=github@h.example",    /* a variable's name */
            "G-H=github@h.example",    /* a variable's name */
            "GH=git hub@h.example",    /* a secret's name */
            "GH=github@",              /* an empty host */
            "GH=github@h.example,",    /* an empty host */
            "GH=github@bad host",      /* not a host */
            "GH=github@h.example:0",   /* a port */
            "GH=github@h.example/A:B", /* a header's name */
            "GH=github@h.example/A/B", /* two header lists */
            "GH=github@h.example/body/body",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&b, 0x5a, sizeof(b));
                const char *why = iso_secret_bind_parse(bad[i], &b);
                if (!why)
                        fail_msg("accepted: %s", bad[i]);
        }
}

static void test_store(void **state)
{
        (void)state;
        char dir[128];
        assert_int_equal(tu_tempdir(dir, sizeof(dir), "secrets"), 0);
        char *file = xasprintf("%s/sub/secrets.json", dir);
        setenv("OSVM_SECRETS_FILE", file, 1);
        osvm_err e = {0};
        assert_int_equal(mcp_secret_set("gh", VALUE, strlen(VALUE), &e), 0);
        assert_int_equal(mcp_secret_set("other.one", "v2", 2, &e), 0);
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        char *v = mcp_secret_get("gh", &e);
        assert_non_null(v);
        assert_string_equal(v, VALUE);
        free(v);
        struct iso_strlist names;
        assert_int_equal(mcp_secret_names(&names, &e), 0);
        assert_int_equal(names.n, 2);
        for (size_t i = 0; i < names.n; i++)
                free(names.v[i]);
        free(names.v);
        /* values that cannot go in a header, and names that are not names */
        assert_int_equal(mcp_secret_set("gh", "a\r\nX-Evil: 1", 13, &e), -1);
        assert_int_equal(mcp_secret_set("gh", "", 0, &e), -1);
        assert_int_equal(mcp_secret_set("../gh", "v", 1, &e), -1);
        assert_int_equal(mcp_secret_rm("gh", &e), 0);
        assert_null(mcp_secret_get("gh", &e));
        assert_int_equal(mcp_secret_rm("gh", &e), -1);
        /* a store others may read is not used */
        assert_int_equal(chmod(file, 0644), 0);
        assert_null(mcp_secret_get("other.one", &e));
        assert_non_null(strstr(e.msg, "may be read by others"));
        /* placeholders: random, of one form */
        char *a = mcp_secret_placeholder(), *b = mcp_secret_placeholder();
        assert_int_equal(strlen(a), strlen(PH));
        assert_string_not_equal(a, b);
        assert_int_equal(strncmp(a, "osvm_secret_", 12), 0);
        free(a);
        free(b);
        unsetenv("OSVM_SECRETS_FILE");
        free(file);
        tu_rmrf(dir);
}

/* ---- the proxy ---- */

/* An upstream that keeps what each connection sent (up to a request's end)
 * and answers 200 "pong", closing. */
struct upstream {
        int lfd;
        unsigned port;
        pthread_t t;
        pthread_mutex_t mu;
        char got[1 << 16];
        size_t len;
        unsigned conns;
};

static void *upstream_main(void *arg)
{
        struct upstream *u = arg;
        for (;;) {
                int fd = accept(u->lfd, NULL, NULL);
                if (fd < 0)
                        return NULL;
                char buf[1 << 15];
                size_t n = 0;
                for (;;) {
                        struct pollfd p = {fd, POLLIN, 0};
                        if (poll(&p, 1, 60000) <= 0) /* (only guards a hang) */
                                break;
                        ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
                        if (r <= 0)
                                break;
                        n += (size_t)r;
                        buf[n] = '\0';
                        char *end = strstr(buf, "\r\n\r\n");
                        if (!end)
                                continue;
                        char *cl = strcasestr(buf, "\r\nContent-Length: ");
                        size_t want =
                            (size_t)(end - buf) + 4 + (cl ? strtoul(cl + 18, NULL, 10) : 0);
                        if (n >= want)
                                break;
                }
                pthread_mutex_lock(&u->mu);
                if (u->len + n < sizeof(u->got)) {
                        memcpy(u->got + u->len, buf, n);
                        u->len += n;
                        u->got[u->len] = '\0';
                }
                u->conns++;
                pthread_mutex_unlock(&u->mu);
                if (n) {
                        static const char ok[] =
                            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\npong";
                        (void)!send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
                }
                close(fd);
        }
}

/* Sends req (n bytes) through the proxy and reads the answer to its end. */
static char *exchange(unsigned pport, const char *req, size_t n)
{
        int fd = tu_dial_loopback(pport);
        size_t sent = 0;
        while (sent < n) {
                ssize_t w = send(fd, req + sent, n - sent, MSG_NOSIGNAL);
                if (w <= 0)
                        break; /* the proxy may answer and close before all is sent */
                sent += (size_t)w;
        }
        static char buf[8192];
        size_t got = 0;
        while (got + 1 < sizeof(buf)) {
                struct pollfd p = {fd, POLLIN, 0};
                if (poll(&p, 1, 60000) <= 0) /* (only guards a hang) */
                        break;
                ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
                if (r <= 0)
                        break;
                got += (size_t)r;
        }
        buf[got] = '\0';
        close(fd);
        return buf;
}

static void upstream_start(struct upstream *u)
{
        memset(u, 0, sizeof(*u));
        pthread_mutex_init(&u->mu, NULL);
        u->lfd = tu_listen_loopback(&u->port);
        pthread_create(&u->t, NULL, upstream_main, u);
}

static void upstream_stop(struct upstream *u)
{
        shutdown(u->lfd, SHUT_RDWR);
        pthread_join(u->t, NULL);
        close(u->lfd);
        pthread_mutex_destroy(&u->mu);
}

static bool got_has(struct upstream *u, const char *s)
{
        pthread_mutex_lock(&u->mu);
        bool r = memmem(u->got, u->len, s, strlen(s)) != NULL; /* (a ClientHello holds NULs) */
        pthread_mutex_unlock(&u->mu);
        return r;
}

static void got_clear(struct upstream *u)
{
        pthread_mutex_lock(&u->mu);
        u->len = 0;
        u->got[0] = '\0';
        pthread_mutex_unlock(&u->mu);
}

static void test_proxy_secrets(void **state)
{
        (void)state;
        char dir[128];
        assert_int_equal(tu_tempdir(dir, sizeof(dir), "secrets-audit"), 0);
        char *audit = xasprintf("%s/audit.jsonl", dir);
        setenv("OSVM_AUDIT_FILE", audit, 1);
        struct upstream bound, other;
        upstream_start(&bound);
        upstream_start(&other);
        char a1[32], a2[32];
        snprintf(a1, sizeof(a1), "127.0.0.1:%u", bound.port);
        snprintf(a2, sizeof(a2), "127.0.0.1:%u", other.port);
        char *v[] = {a1, a2, NULL};
        struct iso_strlist allow = {2, v};
        char *hv[] = {a1, NULL}, *nv[] = {"Authorization", NULL};
        struct iso_strlist hosts = {1, hv}, headers = {1, nv}, any = {0, NULL};
        struct mcp_proxy_secret sec[2] = {
            {"tok", PH, VALUE, &hosts, &headers, false},
            {"bodytok", "osvm_secret_ffffffffffffffffffffffffffffffff", "BODYVALUE", &hosts, &any,
             true},
        };
        unsigned pport;
        osvm_err e = {0};
        struct mcp_proxy *p =
            mcp_proxy_start_secrets("t", tu_listen_loopback(&pport), &allow, sec, 2, &e);
        assert_non_null(p);
        char req[512];
        char *r;

        /* the bound host, in the header the binding names: the value goes, the answer comes */
        snprintf(req, sizeof(req),
                 "GET http://%s/u HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " PH "\r\n\r\n", a1);
        r = exchange(pport, req, strlen(req));
        assert_non_null(strstr(r, "pong"));
        assert_true(got_has(&bound, "Authorization: Bearer " VALUE "\r\n"));
        assert_false(got_has(&bound, PH));
        assert_true(got_has(&bound, "Connection: close"));
        got_clear(&bound);

        /* CONNECT then plain HTTP in the tunnel, keep-alive: each request put right */
        snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", a1, a1);
        {
                int fd = tu_dial_loopback(pport);
                assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
                char buf[256];
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
                assert_true(n > 0);
                buf[n] = '\0';
                assert_non_null(strstr(buf, "200"));
                const char *in = "GET /t HTTP/1.1\r\nHost: x\r\nAuthorization: " PH "\r\n\r\n";
                assert_int_equal(send(fd, in, strlen(in), 0), (ssize_t)strlen(in));
                size_t got = 0;
                while (got < sizeof(buf) - 1) {
                        struct pollfd pf = {fd, POLLIN, 0};
                        if (poll(&pf, 1, 60000) <= 0)
                                break;
                        n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
                        if (n <= 0)
                                break;
                        got += (size_t)n;
                }
                buf[got] = '\0';
                close(fd);
                assert_non_null(strstr(buf, "pong"));
                assert_true(got_has(&bound, "Authorization: " VALUE "\r\n"));
        }
        got_clear(&bound);

        /* refused: another header, the URL, the body (headers only), another host */
        static const char *const refusals[] = {
            "GET http://%s/u HTTP/1.1\r\nX-Other: " PH "\r\n\r\n",
            "GET http://%s/u?t=" PH " HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST http://%s/u HTTP/1.1\r\nContent-Length: 52\r\n\r\n{\"t\":\"" PH "\"}",
            "GET http://%s/u HTTP/1.1\r\n" PH ": x\r\n\r\n",
        };
        for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
                snprintf(req, sizeof(req), refusals[i], a1);
                r = exchange(pport, req, strlen(req));
                if (!strstr(r, "HTTP/1.1 403"))
                        fail_msg("not refused (%zu): %s", i, r);
                assert_non_null(strstr(r, "secret tok"));
                assert_false(got_has(&bound, PH));
                assert_false(got_has(&bound, VALUE));
        }
        snprintf(req, sizeof(req), "GET http://%s/u HTTP/1.1\r\nAuthorization: " PH "\r\n\r\n", a2);
        r = exchange(pport, req, strlen(req));
        assert_non_null(strstr(r, "HTTP/1.1 403"));
        assert_non_null(strstr(r, "a host it is not bound to"));
        assert_false(got_has(&other, PH));
        assert_false(got_has(&other, VALUE));
        /* a host off the allow-list: refused there, and recorded as a leak too */
        static const char off_list[] =
            "GET http://10.9.9.9/u HTTP/1.1\r\nAuthorization: " PH "\r\n\r\n";
        r = exchange(pport, off_list, sizeof(off_list) - 1);
        assert_non_null(strstr(r, "HTTP/1.1 403"));

        /* the body, where the binding allows it: split across chunks, put right, re-framed */
        snprintf(req, sizeof(req),
                 "POST http://%s/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "10\r\n{\"k\":\"osvm_secre\r\n"
                 "24\r\nt_ffffffffffffffffffffffffffffffff\"}\r\n0\r\n\r\n",
                 a1);
        r = exchange(pport, req, strlen(req));
        assert_non_null(strstr(r, "pong"));
        assert_true(got_has(&bound, "Content-Length: 17\r\n"));
        assert_true(got_has(&bound, "{\"k\":\"BODYVALUE\"}"));
        assert_false(got_has(&bound, "Transfer-Encoding"));
        got_clear(&bound);

        /* Expect: 100-continue: osvm asks for the body itself (it reads it before sending) */
        {
                int fd = tu_dial_loopback(pport);
                snprintf(req, sizeof(req),
                         "PUT http://%s/e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: "
                         "52\r\n\r\n",
                         a1);
                assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
                char buf[512];
                struct pollfd pf = {fd, POLLIN, 0};
                assert_int_equal(poll(&pf, 1, 60000), 1); /* (only guards a hang) */
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
                assert_true(n > 0);
                buf[n] = '\0';
                assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
                const char *body = "{\"t\":\"osvm_secret_ffffffffffffffffffffffffffffffff\"}";
                assert_int_equal(send(fd, body, strlen(body), 0), (ssize_t)strlen(body));
                size_t got = 0;
                while (got < sizeof(buf) - 1 && poll(&pf, 1, 60000) == 1 &&
                       (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
                        got += (size_t)n;
                buf[got] = '\0';
                close(fd);
                assert_non_null(strstr(buf, "pong"));
                assert_true(got_has(&bound, "{\"t\":\"BODYVALUE\"}"));
                assert_false(got_has(&bound, "Expect"));
        }
        got_clear(&bound);

        /* hostile framing: refused before anything goes on */
        static const struct {
                const char *req, *answer;
        } hostile[] = {
            {"POST http://%s/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\n",
             "HTTP/1.1 400"},
            {"POST http://%s/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
             "HTTP/1.1 400"},
            {"POST http://%s/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
             "HTTP/1.1 501"},
            {"POST http://%s/ HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", "HTTP/1.1 413"},
            {"POST http://%s/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400"},
            {"GET http://%s/ HTTP/1.1\r\nX: a\nAuthorization: " PH "\r\n\r\n", "HTTP/1.1 400"},
            {"GET http://%s/ HTTP/1.1\r\n folded: x\r\n\r\n", "HTTP/1.1 400"},
            {"POST http://%s/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             "HTTP/1.1 400"},
        };
        for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
                snprintf(req, sizeof(req), hostile[i].req, a1);
                r = exchange(pport, req, strlen(req));
                if (!strstr(r, hostile[i].answer))
                        fail_msg("case %zu: %s", i, r);
                assert_int_equal(bound.len, 0);
        }
        /* a head past the limit */
        size_t big = 20000;
        char *huge = xmalloc(big + 64);
        int k = snprintf(huge, 64, "GET http://%s/ HTTP/1.1\r\nX: ", a1);
        memset(huge + k, 'a', big - (size_t)k);
        r = exchange(pport, huge, big);
        assert_non_null(strstr(r, "HTTP/1.1 400"));
        assert_non_null(strstr(r, "too large"));
        free(huge);
        assert_int_equal(bound.len, 0);

        unsigned allowed, refused;
        mcp_proxy_counts(p, &allowed, &refused);
        assert_true(refused >= 6);
        mcp_proxy_stop(p);
        upstream_stop(&bound);
        upstream_stop(&other);

        /* the audit log: each use and each refusal, never the value */
        char *log = NULL;
        size_t len = 0;
        assert_int_equal(fs_read_file(audit, 1 << 20, &log, &len, &e), 0);
        assert_non_null(strstr(log, "\"event\":\"secret\""));
        assert_non_null(strstr(log, "\"status\":\"substituted\""));
        assert_non_null(strstr(log, "\"status\":\"refused\",\"where\":\"the URL\""));
        assert_non_null(strstr(log, "\"secret\":\"bodytok\""));
        assert_non_null(strstr(log, "\"host\":\"10.9.9.9\""));
        assert_null(strstr(log, VALUE));
        assert_null(strstr(log, "BODYVALUE"));
        strbuf rep = {0};
        size_t records;
        assert_int_equal(mcp_audit_verify(audit, &rep, &records, &e), 0);
        sb_free(&rep);
        free(log);
        unsetenv("OSVM_AUDIT_FILE");
        free(audit);
        tu_rmrf(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bindings),
            cmocka_unit_test(test_store),
            cmocka_unit_test(test_proxy_secrets),
        };
        return cmocka_run_group_tests_name("mcp/secrets", tests, NULL, NULL);
}
