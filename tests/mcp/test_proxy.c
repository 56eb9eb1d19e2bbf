/*
 * The sandbox's egress proxy: the allow-list as it checks it, and the proxy
 * itself on loopback (HTTP CONNECT, plain HTTP, SOCKS5) against a real
 * listener of the test's own.
 */
#include "testutil.h"

#include "mcp/mcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_allow_list(void **state)
{
        (void)state;
        char *v[] = {"api.example.com", "*.cdn.test:443", "10.1.2.3:8080", "[::1]:9000", NULL};
        struct iso_strlist allow = {4, v};
        assert_null(mcp_proxy_check(&allow, "api.example.com", 443));
        assert_null(mcp_proxy_check(&allow, "API.Example.COM", 80));
        assert_non_null(mcp_proxy_check(&allow, "example.com", 443));
        assert_non_null(mcp_proxy_check(&allow, "evilapi.example.com", 443));
        assert_null(mcp_proxy_check(&allow, "a.cdn.test", 443));
        assert_non_null(mcp_proxy_check(&allow, "a.cdn.test", 80)); /* the port counts */
        assert_non_null(mcp_proxy_check(&allow, "cdn.test", 443));  /* not the domain itself */
        assert_non_null(mcp_proxy_check(&allow, "xcdn.test", 443)); /* nor a lookalike */
        assert_null(mcp_proxy_check(&allow, "10.1.2.3", 8080));     /* an IP, as listed */
        assert_non_null(mcp_proxy_check(&allow, "10.1.2.3", 80));
        assert_null(mcp_proxy_check(&allow, "::1", 9000));
        assert_null(mcp_proxy_check(&allow, "[::1]", 9000));
        assert_non_null(mcp_proxy_check(&allow, "", 443));
        assert_non_null(mcp_proxy_check(&allow, "api.example.com", 0));
        struct iso_strlist none = {0, NULL};
        assert_string_equal(mcp_proxy_check(&none, "api.example.com", 443),
                            "its network allow-list is empty");
        /* a wildcard never admits an IP address */
        char *w[] = {"*.0.0.1", NULL};
        struct iso_strlist wild = {1, w};
        assert_non_null(mcp_proxy_check(&wild, "127.0.0.1", 80));
}

/* A one-shot upstream: answers "pong" to whatever it reads. */
struct upstream {
        int lfd;
        unsigned port;
        pthread_t t;
        char got[512];
};

static void *upstream_main(void *arg)
{
        struct upstream *u = arg;
        int fd = accept(u->lfd, NULL, NULL);
        if (fd < 0)
                return NULL;
        ssize_t n = recv(fd, u->got, sizeof(u->got) - 1, 0);
        if (n > 0)
                u->got[n] = '\0';
        (void)!send(fd, "pong", 4, MSG_NOSIGNAL);
        close(fd);
        return NULL;
}

/* Reads until the peer closes (a bound of 60 s only guards a hang). */
static void read_all(int fd, char *buf, size_t n)
{
        size_t got = 0;
        while (got + 1 < n) {
                struct pollfd p = {fd, POLLIN, 0};
                if (poll(&p, 1, 60000) <= 0)
                        break;
                ssize_t r = recv(fd, buf + got, n - 1 - got, 0);
                if (r <= 0)
                        break;
                got += (size_t)r;
        }
        buf[got] = '\0';
}

/* Sends req to the proxy on its own connection; its whole answer into buf. */
static void ask(unsigned port, const char *req, size_t len, char *buf, size_t n)
{
        int fd = tu_dial_loopback(port);
        assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
        read_all(fd, buf, n);
        close(fd);
}

static void test_proxy(void **state)
{
        (void)state;
        struct upstream u = {0};
        u.lfd = tu_listen_loopback(&u.port);
        pthread_create(&u.t, NULL, upstream_main, &u);
        char entry[32];
        snprintf(entry, sizeof(entry), "127.0.0.1:%u", u.port);
        char *v[] = {entry, "nowhere.invalid:443", NULL};
        struct iso_strlist allow = {2, v};
        unsigned pport;
        osvm_err e = {0};
        struct mcp_proxy *p = mcp_proxy_start("t", tu_listen_loopback(&pport), &allow, &e);
        assert_non_null(p);
        char buf[2048], req[256];
        /* a call runs: each destination asked for goes into its egress */
        json_t *egress = json_array();
        mcp_proxy_set_call(p, "1-1", "fetch", egress);

        /* refused: a host off the list, with the remedy in the answer */
        const char *bad = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n";
        ask(pport, bad, strlen(bad), buf, sizeof(buf));
        assert_non_null(strstr(buf, "HTTP/1.1 403"));
        assert_non_null(strstr(buf, "osvm isolation set t network.allow=example.com:443"));

        /* refused: localhost is a name for this host, not the listed IP */
        snprintf(req, sizeof(req), "GET http://localhost:%u/ HTTP/1.1\r\nHost: x\r\n\r\n", u.port);
        ask(pport, req, strlen(req), buf, sizeof(buf));
        assert_non_null(strstr(buf, "HTTP/1.1 403"));

        /* allowed but unreachable (.invalid never resolves): said so, with no remedy that
         * would not help */
        const char *gone = "CONNECT nowhere.invalid:443 HTTP/1.1\r\nHost: nowhere.invalid\r\n\r\n";
        ask(pport, gone, strlen(gone), buf, sizeof(buf));
        assert_non_null(strstr(buf, "HTTP/1.1 502"));
        assert_non_null(strstr(buf, "osvm could not reach nowhere.invalid:443"));
        assert_null(strstr(buf, "To allow it"));

        /* not a request the proxy relays: no remedy either */
        const char *odd = "GET /relative HTTP/1.1\r\nHost: x\r\n\r\n";
        ask(pport, odd, strlen(odd), buf, sizeof(buf));
        assert_non_null(strstr(buf, "HTTP/1.1 400"));
        assert_null(strstr(buf, "To allow it"));

        /* refused: SOCKS5 to a host off the list (reply 2) */
        int fd = tu_dial_loopback(pport);
        assert_int_equal(send(fd, "\x05\x01\x00", 3, 0), 3);
        unsigned char s5[64] = {5, 1, 0, 3, 11};
        memcpy(s5 + 5, "example.com", 11);
        s5[16] = 0, s5[17] = 80;
        assert_int_equal(send(fd, s5, 18, 0), 18);
        read_all(fd, buf, sizeof(buf));
        close(fd);
        assert_int_equal((unsigned char)buf[0], 5); /* the greeting's answer */
        assert_int_equal((unsigned char)buf[3], 2); /* then: not allowed */

        /* allowed: a plain HTTP request in absolute form goes on in origin form */
        snprintf(req, sizeof(req),
                 "GET http://127.0.0.1:%u/path?q=1 HTTP/1.1\r\nHost: x\r\nProxy-Authorization: "
                 "secret\r\n\r\n",
                 u.port);
        ask(pport, req, strlen(req), buf, sizeof(buf));
        assert_string_equal(buf, "pong");
        pthread_join(u.t, NULL);
        assert_non_null(strstr(u.got, "GET /path?q=1 HTTP/1.1\r\n"));
        assert_null(strstr(u.got, "Proxy-Authorization")); /* the proxy's own headers stay */
        unsigned allowed, refused;
        mcp_proxy_counts(p, &allowed, &refused);
        assert_int_equal(allowed, 1);
        assert_int_equal(refused, 4); /* and the one that could not be reached */

        /* the call's egress: each attempt with a destination, in order (the
         * relative GET named none) */
        mcp_proxy_set_call(p, NULL, NULL, NULL);
        struct {
                const char *host;
                unsigned port;
                const char *method;
                bool allowed;
                const char *why; /* a part of it; NULL: none */
        } want[] = {
            {"example.com", 443, "CONNECT", false, "not on its network allow-list"},
            {"localhost", u.port, "HTTP", false, "not on its network allow-list"},
            {"nowhere.invalid", 443, "CONNECT", true, ""},
            {"example.com", 80, "SOCKS5", false, "not on its network allow-list"},
            {"127.0.0.1", u.port, "HTTP", true, NULL},
        };
        assert_int_equal(json_array_size(egress), sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                json_t *n = json_array_get(egress, i);
                char *shown = json_dumps(n, JSON_COMPACT);
                print_message("egress %zu: %s\n", i, shown);
                free(shown);
                assert_string_equal(json_string_value(json_object_get(n, "host")), want[i].host);
                assert_int_equal(json_integer_value(json_object_get(n, "port")), want[i].port);
                assert_string_equal(json_string_value(json_object_get(n, "method")),
                                    want[i].method);
                assert_int_equal(json_is_true(json_object_get(n, "allowed")), want[i].allowed);
                const char *why = json_string_value(json_object_get(n, "why"));
                if (want[i].why)
                        assert_non_null(why && strstr(why, want[i].why));
                else
                        assert_null(why);
        }
        /* no call runs: nothing more is added */
        ask(pport, bad, strlen(bad), buf, sizeof(buf));
        assert_int_equal(json_array_size(egress), sizeof(want) / sizeof(want[0]));
        json_decref(egress);
        mcp_proxy_stop(p);
        close(u.lfd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_allow_list),
            cmocka_unit_test(test_proxy),
        };
        return cmocka_run_group_tests_name("mcp/proxy", tests, NULL, NULL);
}
