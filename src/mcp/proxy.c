/*
 * The egress proxy of a confined MCP server: the only way out of its
 * sandbox. One listener (the loopback port inside the sandbox, bridged to
 * osvm, or a loopback port of the host in the reduced tier) speaks HTTP
 * (CONNECT, and plain requests in absolute form) and SOCKS5 (CONNECT), told
 * apart by the first byte. Every destination is checked against the
 * server's network.allow; names resolve here, never in the sandbox; an IP
 * address is reached only when the list names it as such; a name that
 * resolves to this host (loopback, unspecified) is refused. Every attempt
 * is logged with server, host, port and bytes.
 */
#include "mcp/mcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_CONNS_MAX  64    /* connections at once; more wait in the backlog */
#define PROXY_HEAD_MAX   16384 /* a request's head, or a SOCKS5 request */
#define PROXY_HEAD_MS    30000 /* to send it */
#define PROXY_CONNECT_MS 15000 /* to reach the destination */
#define PROXY_RELAY_BUF  65536

struct mcp_proxy {
        char *server;
        int lfd, stopfd;
        struct iso_strlist allow; /* copies */
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        unsigned live; /* connection threads running */
        atomic_uint allowed, refused;
        atomic_bool stop; /* set by mcp_proxy_stop, which then wakes the thread by stopfd */
};

/* How often the accepting thread looks at stop, should stopfd not wake it. */
#define PROXY_STOP_POLL_MS 250

struct conn {
        struct mcp_proxy *p;
        int fd;
};

/* ---- the allow-list ---- */

static bool is_ip_literal(const char *host)
{
        unsigned char buf[16];
        return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

const char *mcp_proxy_check(const struct iso_strlist *allow, const char *host, unsigned port)
{
        if (!host[0] || port == 0 || port > 65535)
                return "not a destination";
        for (size_t i = 0; i < allow->n; i++)
                if (mcp_allow_entry_admits(allow->v[i], host, port))
                        return NULL;
        return allow->n ? "not on its network allow-list" : "its network allow-list is empty";
}

/* An address of this host itself: only reachable when listed as an IP literal. */
static bool addr_is_local(const struct sockaddr *sa)
{
        if (sa->sa_family == AF_INET) {
                uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
                return (a >> 24) == 127 || a == 0;
        }
        if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
                if (IN6_IS_ADDR_V4MAPPED(a)) {
                        uint32_t v4 = ntohl(((const uint32_t *)a->s6_addr)[3]);
                        return (v4 >> 24) == 127 || v4 == 0;
                }
                return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a);
        }
        return true;
}

/* ---- io with the stop fd and a deadline ---- */

static int wait_fd(struct mcp_proxy *p, int fd, short ev, uint64_t until)
{
        for (;;) {
                uint64_t now = time_mono_ns();
                if (now >= until)
                        return -ETIMEDOUT;
                struct pollfd pf[2] = {{fd, ev, 0}, {p->stopfd, POLLIN, 0}};
                uint64_t ms = (until - now) / 1000000 + 1;
                int r = poll(pf, 2, ms < PROXY_STOP_POLL_MS ? (int)ms : PROXY_STOP_POLL_MS);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (pf[1].revents || atomic_load(&p->stop))
                        return -ECANCELED;
                if (pf[0].revents)
                        return 0;
        }
}

static bool send_all(int fd, const void *buf, size_t n)
{
        const char *b = buf;
        while (n) {
                ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return false;
                b += w;
                n -= (size_t)w;
        }
        return true;
}

/* Connects to host:port (resolved here); -1 with why. */
static int dial(struct mcp_proxy *p, const char *host, unsigned port, bool literal_ok,
                const char **why)
{
        char ps[8];
        snprintf(ps, sizeof(ps), "%u", port);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
        struct addrinfo *res = NULL;
        if (getaddrinfo(host, ps, &hints, &res) != 0 || !res) {
                *why = "the name does not resolve";
                return -1;
        }
        int fd = -1;
        *why = "the destination cannot be reached";
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                if (!literal_ok && addr_is_local(ai->ai_addr)) {
                        *why = "the name resolves to this host (list its IP address to allow it)";
                        continue;
                }
                fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        continue;
                int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
                if (r < 0 && errno == EINPROGRESS &&
                    wait_fd(p, fd, POLLOUT, time_mono_ns() + PROXY_CONNECT_MS * 1000000ull) == 0) {
                        int err = 0;
                        socklen_t l = sizeof(err);
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
                        r = err ? -1 : 0;
                }
                if (r == 0)
                        break;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd >= 0) {
                int fl = 0;
                fcntl(fd, F_SETFL, fl); /* blocking again; the relay polls */
        }
        return fd;
}

/* Both ways until either side closes (or the proxy stops); bytes counted. */
static void relay(struct mcp_proxy *p, int a, int b, uint64_t *out, uint64_t *in)
{
        char *buf = xmalloc(PROXY_RELAY_BUF);
        bool a_open = true, b_open = true;
        while (a_open || b_open) {
                struct pollfd pf[3] = {{a_open ? a : -1, POLLIN, 0},
                                       {b_open ? b : -1, POLLIN, 0},
                                       {p->stopfd, POLLIN, 0}};
                int r = poll(pf, 3, -1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 || pf[2].revents)
                        break;
                for (int i = 0; i < 2; i++) {
                        if (!pf[i].revents)
                                continue;
                        int from = i ? b : a, to = i ? a : b;
                        ssize_t n = recv(from, buf, PROXY_RELAY_BUF, 0);
                        if (n <= 0 || !send_all(to, buf, (size_t)n)) {
                                /* half-close: the other way may still have bytes to carry */
                                shutdown(to, SHUT_WR);
                                if (i)
                                        b_open = false;
                                else
                                        a_open = false;
                                if (n > 0)
                                        a_open = b_open = false;
                                continue;
                        }
                        *(i ? in : out) += (uint64_t)n;
                }
        }
        free(buf);
}

/* ---- one connection ---- */

static void log_attempt(struct mcp_proxy *p, const char *kind, const char *host, unsigned port,
                        const char *refusal, uint64_t out, uint64_t in)
{
        char *h = text_sanitize(host, 0);
        if (refusal) {
                bool ip = is_ip_literal(host);
                log_warn("%s: network: refused %s to %s%s%s:%u: %s. To allow it: osvm isolation "
                         "set %s network.allow=%s%s%s:%u (the list is replaced: name every host)",
                         p->server, kind, ip && strchr(host, ':') ? "[" : "", h,
                         ip && strchr(host, ':') ? "]" : "", port, refusal, p->server,
                         ip && strchr(host, ':') ? "[" : "", h, ip && strchr(host, ':') ? "]" : "",
                         port);
        } else {
                log_info("%s: network: %s to %s:%u allowed; %llu bytes out, %llu in", p->server,
                         kind, h, port, (unsigned long long)out, (unsigned long long)in);
        }
        free(h);
}

/* Checks, dials and (on success) returns the upstream fd; -1 with the refusal in *why. */
static int open_upstream(struct mcp_proxy *p, const char *host, unsigned port, const char **why)
{
        *why = mcp_proxy_check(&p->allow, host, port);
        int fd = *why ? -1 : dial(p, host, port, is_ip_literal(host), why);
        /* counted when decided; logged with its bytes when it ends */
        atomic_fetch_add(fd < 0 ? &p->refused : &p->allowed, 1);
        return fd;
}

/* Reads what fd has next into buf (PROXY_HEAD_MAX at most); false at its end, an error or the
 * deadline. */
static bool read_more(struct mcp_proxy *p, int fd, unsigned char *buf, size_t *have, uint64_t until)
{
        if (*have >= PROXY_HEAD_MAX || wait_fd(p, fd, POLLIN, until) < 0)
                return false;
        ssize_t n = recv(fd, buf + *have, PROXY_HEAD_MAX - *have, 0);
        if (n <= 0)
                return false;
        *have += (size_t)n;
        return true;
}

static void socks5(struct mcp_proxy *p, int fd, unsigned char *buf, size_t have, uint64_t until)
{
        /* greeting: 05 n methods...; answer 05 00 (no authentication) */
        while (have < 2 || have < 2u + buf[1])
                if (!read_more(p, fd, buf, &have, until))
                        return;
        size_t used = 2u + buf[1];
        if (!send_all(fd, "\x05\x00", 2))
                return;
        memmove(buf, buf + used, have - used);
        have -= used;
        /* request: 05 01 00 atyp addr port */
        size_t need = 5;
        for (;;) {
                if (have >= 5) {
                        need = buf[3] == 1 ? 10 : buf[3] == 4 ? 22 : buf[3] == 3 ? 7u + buf[4] : 5;
                        if (have >= need)
                                break;
                }
                if (!read_more(p, fd, buf, &have, until))
                        return;
        }
        static const unsigned char refused[10] = {5, 2, 0, 1, 0, 0, 0, 0, 0, 0};
        static const unsigned char failed[10] = {5, 4, 0, 1, 0, 0, 0, 0, 0, 0};
        static const unsigned char ok[10] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
        char host[300];
        if (buf[0] != 5 || buf[1] != 1 || (buf[3] != 1 && buf[3] != 3 && buf[3] != 4)) {
                static const unsigned char unsupported[10] = {5, 7, 0, 1, 0, 0, 0, 0, 0, 0};
                send_all(fd, unsupported, 10);
                log_attempt(p, "SOCKS5", "(not a CONNECT)", 1, "only CONNECT is relayed", 0, 0);
                return;
        }
        if (buf[3] == 1)
                inet_ntop(AF_INET, buf + 4, host, sizeof(host));
        else if (buf[3] == 4)
                inet_ntop(AF_INET6, buf + 4, host, sizeof(host));
        else {
                memcpy(host, buf + 5, buf[4]);
                host[buf[4]] = '\0';
                if (strlen(host) != buf[4]) {
                        send_all(fd, refused, 10);
                        return;
                }
        }
        unsigned port = (unsigned)buf[need - 2] << 8 | buf[need - 1];
        const char *why;
        int up = open_upstream(p, host, port, &why);
        if (up < 0) {
                send_all(fd, mcp_proxy_check(&p->allow, host, port) ? refused : failed, 10);
                log_attempt(p, "SOCKS5", host, port, why, 0, 0);
                return;
        }
        uint64_t out = 0, in = 0;
        if (send_all(fd, ok, 10)) {
                if (have > need && send_all(up, buf + need, have - need))
                        out += have - need;
                relay(p, fd, up, &out, &in);
        }
        close(up);
        log_attempt(p, "SOCKS5", host, port, NULL, out, in);
}

static void http_refuse(int fd, int code, const char *server, const char *host, unsigned port,
                        const char *why)
{
        char *h = text_sanitize(host, 0);
        strbuf body = {0};
        sb_addf(&body,
                "osvm refused the connection of MCP server \"%s\" to %s:%u: %s.\n"
                "To allow it: osvm isolation set %s network.allow=%s:%u\n",
                server, h, port, why, server, h, port);
        strbuf r = {0};
        sb_addf(&r,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                "Connection: close\r\n\r\n%s",
                code,
                code == 403   ? "Forbidden"
                : code == 502 ? "Bad Gateway"
                              : "Bad Request",
                body.len, body.s);
        send_all(fd, r.s, r.len);
        sb_free(&r);
        sb_free(&body);
        free(h);
}

/* "host:port" or "[v6]:port" into host and port; false when malformed. */
static bool split_authority(const char *a, size_t len, char *host, size_t hn, unsigned *port,
                            unsigned dflt)
{
        const char *end = a + len, *hs = a, *he, *colon = NULL;
        if (len && a[0] == '[') {
                const char *close = memchr(a, ']', len);
                if (!close)
                        return false;
                hs = a + 1;
                he = close;
                if (close + 1 < end) {
                        if (close[1] != ':')
                                return false;
                        colon = close + 1;
                }
        } else {
                colon = memchr(a, ':', len);
                he = colon ? colon : end;
        }
        if (he <= hs || (size_t)(he - hs) >= hn)
                return false;
        memcpy(host, hs, (size_t)(he - hs));
        host[he - hs] = '\0';
        for (const char *c = host; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == '/' || *c == '@' || *c == '\\')
                        return false;
        *port = dflt;
        if (colon) {
                long v = 0;
                const char *c = colon + 1;
                if (c == end)
                        return false;
                for (; c < end; c++) {
                        if (*c < '0' || *c > '9' || v > 65535)
                                return false;
                        v = v * 10 + (*c - '0');
                }
                *port = (unsigned)v;
        }
        return *port >= 1 && *port <= 65535;
}

static void http(struct mcp_proxy *p, int fd, char *buf, size_t have, uint64_t until)
{
        char *end;
        for (;;) {
                buf[have] = '\0';
                if ((end = strstr(buf, "\r\n\r\n")) != NULL)
                        break;
                if (have >= PROXY_HEAD_MAX - 1) {
                        http_refuse(fd, 400, p->server, "?", 0, "the request's head is too large");
                        return;
                }
                if (wait_fd(p, fd, POLLIN, until) < 0)
                        return;
                ssize_t n = recv(fd, buf + have, PROXY_HEAD_MAX - 1 - have, 0);
                if (n <= 0)
                        return;
                have += (size_t)n;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        char *sp1 = strchr(buf, ' '), *eol = strstr(buf, "\r\n");
        char *sp2 = sp1 && sp1 < eol ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        if (!sp1 || !sp2) {
                http_refuse(fd, 400, p->server, "?", 0, "not an HTTP request");
                return;
        }
        char host[300];
        unsigned port;
        const char *target = sp1 + 1;
        size_t tlen = (size_t)(sp2 - target);
        bool connect = (size_t)(sp1 - buf) == 7 && !strncmp(buf, "CONNECT", 7);
        const char *kind = connect ? "CONNECT" : "HTTP";
        const char *path = NULL;
        if (connect) {
                if (!split_authority(target, tlen, host, sizeof(host), &port, 0)) {
                        http_refuse(fd, 400, p->server, "?", 0, "a CONNECT without host:port");
                        return;
                }
        } else {
                /* absolute form only: http://authority/path */
                if (tlen < 8 || strncasecmp(target, "http://", 7) != 0) {
                        http_refuse(fd, 400, p->server, "?", 0,
                                    "only absolute http:// requests and CONNECT are relayed");
                        return;
                }
                const char *auth = target + 7;
                const char *slash = memchr(auth, '/', (size_t)(sp2 - auth));
                const char *aend = slash ? slash : sp2;
                if (memchr(auth, '@', (size_t)(aend - auth)) ||
                    !split_authority(auth, (size_t)(aend - auth), host, sizeof(host), &port, 80)) {
                        http_refuse(fd, 400, p->server, "?", 0, "a malformed URL");
                        return;
                }
                path = slash;
        }
        const char *why;
        int up = open_upstream(p, host, port, &why);
        if (up < 0) {
                bool policy = mcp_proxy_check(&p->allow, host, port) != NULL;
                http_refuse(fd, policy ? 403 : 502, p->server, host, port, why);
                log_attempt(p, kind, host, port, why, 0, 0);
                return;
        }
        uint64_t out = 0, in = 0;
        bool ok;
        if (connect) {
                static const char est[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
                ok = send_all(fd, est, sizeof(est) - 1);
                if (ok && have > head_len) {
                        ok = send_all(up, buf + head_len, have - head_len);
                        out += have - head_len;
                }
        } else {
                /* origin form upstream; the proxy's own headers dropped */
                strbuf h = {0};
                sb_addf(&h, "%.*s %s%.*s", (int)(sp1 - buf), buf, path ? "" : "/",
                        path ? (int)(sp2 - path) : 0, path ? path : "");
                sb_addf(&h, "%.*s", (int)(eol - sp2), sp2);
                for (char *line = eol + 2; line < end + 2;) {
                        char *next = strstr(line, "\r\n");
                        if (!next)
                                break;
                        if (strncasecmp(line, "proxy-", 6) != 0)
                                sb_addf(&h, "\r\n%.*s", (int)(next - line), line);
                        line = next + 2;
                }
                sb_add(&h, "\r\n\r\n");
                ok = send_all(up, h.s, h.len) &&
                     (have == head_len || send_all(up, buf + head_len, have - head_len));
                out += h.len + (have - head_len);
                sb_free(&h);
        }
        if (ok)
                relay(p, fd, up, &out, &in);
        close(up);
        log_attempt(p, kind, host, port, NULL, out, in);
}

static void *conn_main(void *arg)
{
        struct conn *c = arg;
        struct mcp_proxy *p = c->p;
        char *buf = xmalloc(PROXY_HEAD_MAX + 1);
        uint64_t until = time_mono_ns() + PROXY_HEAD_MS * 1000000ull;
        if (wait_fd(p, c->fd, POLLIN, until) == 0) {
                ssize_t n = recv(c->fd, buf, PROXY_HEAD_MAX, 0);
                if (n > 0 && (unsigned char)buf[0] == 5)
                        socks5(p, c->fd, (unsigned char *)buf, (size_t)n, until);
                else if (n > 0)
                        http(p, c->fd, buf, (size_t)n, until);
        }
        free(buf);
        close(c->fd);
        free(c);
        pthread_mutex_lock(&p->mu);
        p->live--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return NULL;
}

static void *accept_main(void *arg)
{
        struct mcp_proxy *p = arg;
        for (;;) {
                struct pollfd pf[2] = {{p->lfd, POLLIN, 0}, {p->stopfd, POLLIN, 0}};
                if (poll(pf, 2, PROXY_STOP_POLL_MS) < 0 && errno != EINTR)
                        break;
                if (pf[1].revents || atomic_load(&p->stop))
                        break;
                if (!pf[0].revents)
                        continue;
                pthread_mutex_lock(&p->mu);
                bool room = p->live < PROXY_CONNS_MAX;
                pthread_mutex_unlock(&p->mu);
                if (!room) {
                        /* the backlog holds the rest until a connection ends */
                        struct pollfd s = {p->stopfd, POLLIN, 0};
                        poll(&s, 1, 50);
                        continue;
                }
                int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                struct conn *c = xcalloc(1, sizeof(*c));
                c->p = p;
                c->fd = fd;
                pthread_attr_t at;
                pthread_attr_init(&at);
                pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
                pthread_mutex_lock(&p->mu);
                p->live++;
                pthread_mutex_unlock(&p->mu);
                pthread_t t;
                if (pthread_create(&t, &at, conn_main, c) != 0) {
                        close(fd);
                        free(c);
                        pthread_mutex_lock(&p->mu);
                        p->live--;
                        pthread_mutex_unlock(&p->mu);
                }
                pthread_attr_destroy(&at);
        }
        return NULL;
}

struct mcp_proxy *mcp_proxy_start(const char *server, int lfd, const struct iso_strlist *allow,
                                  osvm_err *e)
{
        struct mcp_proxy *p = xcalloc(1, sizeof(*p));
        p->server = xstrdup(server);
        p->lfd = lfd;
        p->allow.n = allow->n;
        p->allow.v = xcalloc(allow->n + 1, sizeof(char *));
        for (size_t i = 0; i < allow->n; i++)
                p->allow.v[i] = xstrdup(allow->v[i]);
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->stopfd = eventfd(0, EFD_CLOEXEC);
        if (p->stopfd < 0 || pthread_create(&p->thread, NULL, accept_main, p) != 0) {
                err_sys(e, "%s: starting the network proxy", server);
                if (p->stopfd >= 0)
                        close(p->stopfd);
                p->stopfd = -1;
                p->thread = 0;
                mcp_proxy_stop(p);
                return NULL;
        }
        return p;
}

void mcp_proxy_counts(const struct mcp_proxy *p, unsigned *allowed, unsigned *refused)
{
        *allowed = atomic_load(&((struct mcp_proxy *)p)->allowed);
        *refused = atomic_load(&((struct mcp_proxy *)p)->refused);
}

void mcp_proxy_stop(struct mcp_proxy *p)
{
        if (!p)
                return;
        atomic_store(&p->stop, true);
        if (p->stopfd >= 0) {
                uint64_t one = 1;
                if (write(p->stopfd, &one, sizeof(one)) < 0)
                        log_debug("%s: stopping the proxy: %s", p->server, strerror(errno));
        }
        if (p->thread)
                pthread_join(p->thread, NULL);
        pthread_mutex_lock(&p->mu);
        while (p->live)
                pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        if (p->stopfd >= 0)
                close(p->stopfd);
        if (p->lfd >= 0)
                close(p->lfd);
        for (size_t i = 0; i < p->allow.n; i++)
                free(p->allow.v[i]);
        free(p->allow.v);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p->server);
        free(p);
}
