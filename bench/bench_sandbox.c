/*
 * The MCP server sandbox against the same work without it, in one run,
 * alternating rounds, side by side (bench/README.md):
 *   spawn    the sandbox alone: /bin/true started confined (namespaces, root,
 *            filters, cgroups, the proxy) and reaped, against posix_spawn
 *   start    spawn + initialize of a stdio server (tests/mcp/sandbox_server.py
 *            on /usr/bin/python3), sandboxed and direct: p50/p90 and the
 *            difference of medians (target: at most +10 ms)
 *   echo     one tools/call round trip to that server, sandboxed and direct:
 *            p50/p90 and the ratio of medians (target: at most 1.05x)
 *   fetch    an HTTP GET of a loopback server through the sandbox's proxy
 *            and straight to it: p50/p90 and the difference of medians
 *            (target: at most +1 ms)
 *
 * usage: bench_sandbox [ROUNDS]   (run from the source tree)
 */
#include "mcp/mcp.h"
#include "mcp/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_stats.h"

#define SERVER "tests/mcp/sandbox_server.py"

static void row(const char *what, uint64_t *a, uint64_t *b, size_t n, bool ratio)
{
        double a50 = bench_pct_ms(a, n, 0.5), a90 = bench_pct_ms(a, n, 0.9);
        double b50 = bench_pct_ms(b, n, 0.5), b90 = bench_pct_ms(b, n, 0.9);
        if (ratio)
                printf("%-7s sandboxed p50 %8.3f ms p90 %8.3f | direct p50 %8.3f ms p90 %8.3f | "
                       "ratio %.3fx\n",
                       what, a50, a90, b50, b90, a50 / b50);
        else
                printf("%-7s sandboxed p50 %8.3f ms p90 %8.3f | direct p50 %8.3f ms p90 %8.3f | "
                       "+%.3f ms (%.2fx)\n",
                       what, a50, a90, b50, b90, a50 - b50, a50 / b50);
}

/* ---- a loopback HTTP server: "hello" to every request, then close ---- */

static int http_lfd;

static void *http_main(void *arg)
{
        (void)arg;
        for (;;) {
                int fd = accept(http_lfd, NULL, NULL);
                if (fd < 0)
                        return NULL;
                char buf[4096];
                size_t got = 0;
                while (got < sizeof(buf) - 1) {
                        ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
                        if (r <= 0)
                                break;
                        got += (size_t)r;
                        buf[got] = '\0';
                        if (strstr(buf, "\r\n\r\n"))
                                break;
                }
                static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: "
                                          "close\r\n\r\nhello";
                (void)!send(fd, ans, sizeof(ans) - 1, MSG_NOSIGNAL);
                close(fd);
        }
}

static int listen_lo(unsigned *port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(sin);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &l) < 0) {
                perror("listen");
                exit(1);
        }
        *port = ntohs(sin.sin_port);
        return fd;
}

/* One GET: to port (through a proxy when absolute), the whole answer read. */
static uint64_t get(unsigned port, const char *req)
{
        uint64_t t0 = time_mono_ns();
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
                perror("get");
                exit(1);
        }
        char buf[512];
        size_t got = 0;
        ssize_t r;
        while ((r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
                got += (size_t)r;
        buf[got] = '\0';
        close(fd);
        if (!strstr(buf, "hello")) {
                fprintf(stderr, "fetch: no answer: %s\n", buf);
                exit(1);
        }
        return time_mono_ns() - t0;
}

int main(int argc, char **argv)
{
        size_t rounds = argc > 1 ? (size_t)atol(argv[1]) : 30;
        if (rounds < 3 || rounds > 100000)
                return 2;
        log_set_level(LOG_ERROR);
        char why[400];
        enum mcp_tier tier = mcp_sandbox_tier(why, sizeof(why));
        printf("sandbox tier here: %s%s%s\n", mcp_tier_name(tier), why[0] ? ": " : "", why);
        if (tier == MCP_TIER_HOST)
                return 1;
        struct iso_mounts mounts = {0};
        struct iso_strlist allow = {0};
        struct iso_sandbox sb = {.wanted = true,
                                 .why = "bench",
                                 .mounts = &mounts,
                                 .allow = &allow,
                                 .memory_mb = ISO_SERVER_MEMORY_MB,
                                 .max_procs = ISO_SERVER_MAX_PROCS,
                                 .fallback = ISO_FALLBACK_DENY};
        osvm_err e = {0};
        /* the sandbox alone: /bin/true, confined and not */
        uint64_t *sp_s = xcalloc(rounds * 4, 8), *sp_d = xcalloc(rounds * 4, 8);
        extern char **environ;
        for (size_t i = 0; i < rounds * 4 + 3; i++) {
                char *targv[] = {"/bin/true", NULL};
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                int fds[3] = {null, null, null};
                uint64_t t0 = time_mono_ns();
                pid_t pid;
                struct mcp_confined *c;
                if (mcp_confine_spawn("bench", &sb, targv, NULL, fds, NULL, &pid, &c, &e) != 1) {
                        fprintf(stderr, "%s\n", e.msg);
                        return 1;
                }
                waitpid(pid, NULL, 0);
                mcp_confined_end(c);
                uint64_t t1 = time_mono_ns();
                if (posix_spawn(&pid, "/bin/true", NULL, NULL, targv, environ) != 0)
                        return 1;
                waitpid(pid, NULL, 0);
                uint64_t t2 = time_mono_ns();
                close(null);
                if (i >= 3)
                        sp_s[i - 3] = t1 - t0, sp_d[i - 3] = t2 - t1;
        }
        row("spawn", sp_s, sp_d, rounds * 4, false);
        free(sp_s), free(sp_d);

        char *sargv[] = {"/usr/bin/python3", SERVER, NULL};
        uint64_t *st_s = xcalloc(rounds, 8), *st_d = xcalloc(rounds, 8);
        /* start-up: spawn + initialize, alternating */
        for (size_t i = 0; i < rounds + 2; i++) {
                for (int s = 0; s < 2; s++) {
                        struct mcp_endpoint ep = {
                            .name = "bench", .argv = sargv, .sandbox = s ? NULL : &sb};
                        uint64_t t0 = time_mono_ns();
                        struct mcp_client *c = mcp_connect(&ep, NULL, &e);
                        uint64_t t = time_mono_ns() - t0;
                        if (!c) {
                                fprintf(stderr, "%s\n", e.msg);
                                return 1;
                        }
                        mcp_close(c);
                        if (i >= 2)
                                (s ? st_d : st_s)[i - 2] = t;
                }
        }
        row("start", st_s, st_d, rounds, false);

        /* echo round trips on one connection each, alternating calls */
        size_t calls = rounds * 20;
        uint64_t *ec_s = xcalloc(calls, 8), *ec_d = xcalloc(calls, 8);
        struct mcp_endpoint eps = {.name = "bench", .argv = sargv, .sandbox = &sb};
        struct mcp_endpoint epd = {.name = "bench", .argv = sargv};
        struct mcp_client *cs = mcp_connect(&eps, NULL, &e), *cd = mcp_connect(&epd, NULL, &e);
        if (!cs || !cd) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
        }
        json_t *args = json_pack("{s:s}", "text", "hello from the benchmark");
        for (size_t i = 0; i < calls + 20; i++)
                for (int s = 0; s < 2; s++) {
                        uint64_t t0 = time_mono_ns();
                        json_t *r = mcp_call_tool(s ? cd : cs, "echo", args, NULL, &e);
                        uint64_t t = time_mono_ns() - t0;
                        if (!r) {
                                fprintf(stderr, "%s\n", e.msg);
                                return 1;
                        }
                        json_decref(r);
                        if (i >= 20)
                                (s ? ec_d : ec_s)[i - 20] = t;
                }
        json_decref(args);
        mcp_close(cs);
        mcp_close(cd);
        row("echo", ec_s, ec_d, calls, true);

        /* HTTP through the proxy and straight, alternating */
        unsigned hport, pport;
        http_lfd = listen_lo(&hport);
        pthread_t ht;
        pthread_create(&ht, NULL, http_main, NULL);
        char entry[32], direct[128], proxied[160];
        snprintf(entry, sizeof(entry), "127.0.0.1:%u", hport);
        char *v[] = {entry, NULL};
        struct iso_strlist pallow = {1, v};
        struct mcp_proxy *p = mcp_proxy_start("bench", listen_lo(&pport), &pallow, &e);
        if (!p) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
        }
        snprintf(direct, sizeof(direct), "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        snprintf(proxied, sizeof(proxied),
                 "GET http://127.0.0.1:%u/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", hport);
        uint64_t *f_s = xcalloc(calls, 8), *f_d = xcalloc(calls, 8);
        for (size_t i = 0; i < calls + 20; i++) {
                uint64_t a = get(pport, proxied), b = get(hport, direct);
                if (i >= 20)
                        f_s[i - 20] = a, f_d[i - 20] = b;
        }
        row("fetch", f_s, f_d, calls, false);
        mcp_proxy_stop(p);
        shutdown(http_lfd, SHUT_RDWR);
        close(http_lfd);
        pthread_join(ht, NULL);
        free(st_s), free(st_d), free(ec_s), free(ec_d), free(f_s), free(f_d);
        return 0;
}
