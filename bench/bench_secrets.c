/*
 * A sandboxed server's secret on the wire: one HTTPS GET with the secret's
 * placeholder in its Authorization header, through osvm's proxy (CONNECT,
 * TLS ended with the session CA, the placeholder put right, TLS begun again
 * to the host and verified, the use recorded in the audit log), against the
 * same GET with the real token straight to the same local HTTPS endpoint.
 * Each request on a fresh connection (the worst case: both handshakes each
 * time), then on one kept-alive connection; alternating rounds; p50/p90 and
 * the difference of medians (target: at most +2 ms).
 *
 * The endpoint is a TLS server of this program's (OpenSSL, one thread a
 * connection, each answer one write), so that what is measured is osvm's
 * part, not a slow peer's.
 *
 * usage: bench_secrets CERT KEY CA_FILE [ROUNDS]   (bench/secrets.sh makes
 *        the CA and the endpoint's certificate for 127.0.0.1)
 */
#include "mcp/mcp.h"
#include "mcp/tls.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_stats.h"

#define PH "osvm_secret_0123456789abcdef0123456789abcdef"

/* ---- the endpoint ---- */

static SSL_CTX *srv_ctx;

static void *conn_main(void *arg)
{
        int fd = (int)(intptr_t)arg;
        SSL *ssl = SSL_new(srv_ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
                char buf[16384];
                size_t have = 0;
                for (;;) {
                        int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - have));
                        if (n <= 0)
                                break;
                        have += (size_t)n;
                        char *end = memmem(buf, have, "\r\n\r\n", 4);
                        if (!end)
                                continue;
                        static const char ok[] =
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: 11\r\n\r\n{\"ok\":true}";
                        if (SSL_write(ssl, ok, sizeof(ok) - 1) <= 0)
                                break;
                        size_t used = (size_t)(end - buf) + 4; /* GETs: no body */
                        memmove(buf, buf + used, have - used);
                        have -= used;
                }
        }
        SSL_free(ssl);
        close(fd);
        return NULL;
}

static void *endpoint_main(void *arg)
{
        int lfd = (int)(intptr_t)arg;
        for (;;) {
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0)
                        return NULL;
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                pthread_t t;
                if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) == 0)
                        pthread_detach(t);
                else
                        close(fd);
        }
}

static int loopback_listener(unsigned *port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(sin);
        if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 128) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &l) < 0)
                exit(1);
        *port = ntohs(sin.sin_port);
        return fd;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
        (void)p;
        (void)u;
        return s * n;
}

static CURL *handle(const char *url, const char *proxy, const char *ca, struct curl_slist *h)
{
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L); /* only guards a hang */
        curl_easy_setopt(c, CURLOPT_PRIVATE, proxy ? "v" : "d");
        if (proxy)
                curl_easy_setopt(c, CURLOPT_PROXY, proxy);
        else
                curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        return c;
}

static uint64_t phase[2][3][4096];
static size_t nphase[2];

static uint64_t one(CURL *c)
{
        uint64_t t0 = time_mono_ns();
        CURLcode r = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (r != CURLE_OK || code != 200) {
                fprintf(stderr, "bench_secrets: a request failed: %s (HTTP %ld)\n",
                        curl_easy_strerror(r), code);
                exit(1);
        }
        uint64_t dt = time_mono_ns() - t0;
        char *priv = NULL;
        curl_easy_getinfo(c, CURLINFO_PRIVATE, &priv);
        int k = priv && *priv == 'v';
        if (nphase[k] < 4096) {
                curl_off_t a = 0, b = 0, s = 0;
                curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &a);
                curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &b);
                curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &s);
                phase[k][0][nphase[k]] = (uint64_t)a * 1000;
                phase[k][1][nphase[k]] = (uint64_t)b * 1000;
                phase[k][2][nphase[k]++] = (uint64_t)s * 1000;
        }
        return dt;
}

int main(int argc, char **argv)
{
        if (argc < 4) {
                fprintf(stderr, "usage: bench_secrets CERT KEY CA_FILE [ROUNDS]\n");
                return 2;
        }
        srv_ctx = SSL_CTX_new(TLS_server_method());
        if (SSL_CTX_use_certificate_file(srv_ctx, argv[1], SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_use_PrivateKey_file(srv_ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
                fprintf(stderr, "bench_secrets: the endpoint's certificate or key\n");
                return 1;
        }
        unsigned port;
        int elfd = loopback_listener(&port);
        pthread_t ep;
        pthread_create(&ep, NULL, endpoint_main, (void *)(intptr_t)elfd);
        pthread_detach(ep);
        const char *cafile = argv[3];
        size_t rounds = argc > 4 ? (size_t)atoi(argv[4]) : 200;
        setenv(MCP_UPSTREAM_CA_ENV, cafile, 1);
        char dir[] = "/tmp/osvm-bench-secrets-XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        char *audit = xasprintf("%s/audit.jsonl", dir);
        setenv("OSVM_AUDIT_FILE", audit, 1);
        setenv("XDG_STATE_HOME", dir, 1);

        char host[32];
        snprintf(host, sizeof(host), "127.0.0.1:%u", port);
        char *v[] = {host, NULL}, *hv[] = {"Authorization", NULL};
        struct iso_strlist allow = {1, v}, headers = {1, hv};
        struct mcp_proxy_secret sec = {"tok", PH, "ghp_bench_real_token", &allow, &headers, false};
        unsigned pport;
        int lfd = loopback_listener(&pport);
        osvm_err e = {0};
        struct mcp_proxy *p = mcp_proxy_start_secrets("bench", lfd, &allow, &sec, 1, &e);
        const char *cadir = p ? mcp_tls_session_dir(&e) : NULL;
        if (!cadir) {
                fprintf(stderr, "bench_secrets: %s\n", e.msg);
                return 1;
        }
        char *session_ca = xasprintf("%s/ca.pem", cadir);
        char *proxy = xasprintf("http://127.0.0.1:%u", pport);
        char *url = xasprintf("https://127.0.0.1:%u/users/bench", port);
        struct curl_slist *hp = curl_slist_append(NULL, "Authorization: Bearer " PH);
        struct curl_slist *hd =
            curl_slist_append(NULL, "Authorization: Bearer ghp_bench_real_token");

        curl_global_init(CURL_GLOBAL_DEFAULT);
        uint64_t *via = xcalloc(rounds, sizeof(uint64_t)),
                 *direct = xcalloc(rounds, sizeof(uint64_t));
        /* 0: a fresh connection, full handshakes; 1: a fresh connection, the client
         * resuming its TLS session (as Node's fetch does); 2: one kept-alive connection */
        for (int keep = 0; keep < 3; keep++) {
                CURL *cv = handle(url, proxy, session_ca, hp), *cd = handle(url, NULL, cafile, hd);
                if (keep < 2) {
                        curl_easy_setopt(cv, CURLOPT_FORBID_REUSE, 1L);
                        curl_easy_setopt(cd, CURLOPT_FORBID_REUSE, 1L);
                }
                if (keep == 0) {
                        curl_easy_setopt(cv, CURLOPT_SSL_SESSIONID_CACHE, 0L);
                        curl_easy_setopt(cd, CURLOPT_SSL_SESSIONID_CACHE, 0L);
                }
                one(cv); /* warm: the host's certificate made, connections open */
                one(cd);
                for (size_t i = 0; i < rounds; i++) {
                        if (i % 2) {
                                via[i] = one(cv);
                                direct[i] = one(cd);
                        } else {
                                direct[i] = one(cd);
                                via[i] = one(cv);
                        }
                }
                curl_easy_cleanup(cv);
                curl_easy_cleanup(cd);
                if (!keep)
                        printf("  a fresh connection, p50 of each phase (ms): tcp+CONNECT %.3f / "
                               "%.3f, "
                               "TLS done %.3f / %.3f, first byte %.3f / %.3f (via / direct)\n",
                               bench_pct_ms(phase[1][0], nphase[1], .5),
                               bench_pct_ms(phase[0][0], nphase[0], .5),
                               bench_pct_ms(phase[1][1], nphase[1], .5),
                               bench_pct_ms(phase[0][1], nphase[0], .5),
                               bench_pct_ms(phase[1][2], nphase[1], .5),
                               bench_pct_ms(phase[0][2], nphase[0], .5));
                nphase[0] = nphase[1] = 0;
                double v50 = bench_pct_ms(via, rounds, 0.5), v90 = bench_pct_ms(via, rounds, 0.9);
                double d50 = bench_pct_ms(direct, rounds, 0.5),
                       d90 = bench_pct_ms(direct, rounds, 0.9);
                printf("%-28s via proxy p50 %.3f ms p90 %.3f ms | direct p50 %.3f ms p90 %.3f ms | "
                       "ratio p50 %.2fx, overhead %+.3f ms (target <= +2 ms)\n",
                       keep == 2   ? "GET, one kept-alive conn:"
                       : keep == 1 ? "GET, fresh, TLS resumed:"
                                   : "GET, a fresh connection:",
                       v50, v90, d50, d90, d50 > 0 ? v50 / d50 : 0.0, v50 - d50);
        }
        unsigned allowed, refused;
        mcp_proxy_counts(p, &allowed, &refused);
        printf("(%zu rounds each; proxy: %u connections allowed, %u refused; every use recorded "
               "in the audit log)\n",
               rounds, allowed, refused);
        mcp_proxy_stop(p);
        curl_slist_free_all(hp);
        curl_slist_free_all(hd);
        curl_global_cleanup();
        unlink(audit);
        unlink(xasprintf("%s.lock", audit));
        return 0;
}
