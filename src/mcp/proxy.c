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
 *
 * A server with secrets (mcp_proxy_start_secrets) has their placeholders in
 * its environment: plain HTTP requests are read, and so are the tunnels to
 * a host a secret is bound to (TLS ended with the session's CA, tls.c); a
 * placeholder is put right only where its binding allows, else refused.
 */
#include "mcp/tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#define PROXY_WRITE_MS   60000              /* for the other side to take what is sent */
#define PROXY_BODY_MAX   (4u * 1024 * 1024) /* a request body osvm reads (for secrets) */

struct mcp_proxy {
        char *server;
        int lfd, stopfd;
        struct iso_strlist allow; /* copies */
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        unsigned live; /* connection threads running */
        atomic_uint allowed, refused;
        struct mcp_proxy_secret *sec; /* copies */
        size_t nsec;
        atomic_bool stop; /* set by mcp_proxy_stop, which then wakes the thread by stopfd */
        /* under mu: the tool call the server runs now, for the records ("": none),
         * and the array its audit record's egress is (NULL: none) */
        char call_id[32], tool[128];
        json_t *egress;
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

/*
 * OSVM_PROXY_RESOLVE="HOST:PORT=ADDR:PORT[,...]": host:port is reached at the
 * IP address addr:port instead of through the resolver (as curl --resolve;
 * for tests and diagnosis). False when it names none; else addr and *port set.
 */
static bool resolve_override(const char *host, unsigned *port, char *addr, size_t an)
{
        const char *v = getenv(MCP_PROXY_RESOLVE_ENV);
        char want[320];
        snprintf(want, sizeof(want), "%s:%u=", host, *port);
        size_t wl = strlen(want);
        for (const char *e = v; e && *e;) {
                const char *end = strchr(e, ',');
                size_t n = end ? (size_t)(end - e) : strlen(e);
                const char *colon = n > wl ? memrchr(e + wl, ':', n - wl) : NULL;
                if (colon && !strncasecmp(e, want, wl) && (size_t)(colon - e - wl) < an) {
                        memcpy(addr, e + wl, (size_t)(colon - e - wl));
                        addr[colon - e - wl] = '\0';
                        long np = strtol(colon + 1, NULL, 10);
                        if (np >= 1 && np <= 65535 && is_ip_literal(addr)) {
                                *port = (unsigned)np;
                                return true;
                        }
                }
                e = end ? end + 1 : NULL;
        }
        return false;
}

/* Connects to host:port (resolved here); -1 with why. */
static int dial(struct mcp_proxy *p, const char *host, unsigned port, bool literal_ok,
                const char **why)
{
        char addr[64];
        if (resolve_override(host, &port, addr, sizeof(addr))) {
                host = addr;
                literal_ok = true;
        }
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
                int fl = 0, one = 1;
                fcntl(fd, F_SETFL, fl); /* blocking again; the relay polls */
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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

/* An attempt: allowed (why NULL; its bytes), refused by the allow-list (policy), or
 * failed though allowed, or not one the proxy relays (the host does not resolve or
 * answer, not a CONNECT): no remedy to offer then. */
static void log_attempt(struct mcp_proxy *p, const char *kind, const char *host, unsigned port,
                        const char *why, bool policy, uint64_t out, uint64_t in)
{
        char *h = text_sanitize(host, 0);
        bool v6 = is_ip_literal(host) && strchr(host, ':');
        if (why && policy)
                log_warn("%s: network: refused %s to %s%s%s:%u: %s. To allow it: osvm isolation "
                         "set %s network.allow=%s%s%s:%u (the list is replaced: name every host)",
                         p->server, kind, v6 ? "[" : "", h, v6 ? "]" : "", port, why, p->server,
                         v6 ? "[" : "", h, v6 ? "]" : "", port);
        else if (why)
                log_warn("%s: network: %s to %s%s%s:%u failed: %s", p->server, kind, v6 ? "[" : "",
                         h, v6 ? "]" : "", port, why);
        else
                log_info("%s: network: %s to %s:%u allowed; %llu bytes out, %llu in", p->server,
                         kind, h, port, (unsigned long long)out, (unsigned long long)in);
        free(h);
}

/* An attempt in the egress of the call the server runs now (when one runs):
 * where, how, whether the allow-list let it through, and, when it was
 * refused or could not be reached, why. At most MCP_EGRESS_NOTES_MAX a call. */
static void note_attempt(struct mcp_proxy *p, const char *kind, const char *host, unsigned port,
                         bool allowed, const char *why)
{
        pthread_mutex_lock(&p->mu);
        if (p->egress && json_array_size(p->egress) < MCP_EGRESS_NOTES_MAX) {
                json_t *n = json_pack("{s:o, s:i, s:s, s:b}", "host",
                                      mcp_audit_text(host, MCP_AUDIT_NOTE_MAX), "port", (int)port,
                                      "method", kind, "allowed", allowed);
                if (n && why)
                        json_object_set_new(n, "why", mcp_audit_text(why, MCP_AUDIT_NOTE_MAX));
                json_array_append_new(p->egress, n);
        }
        pthread_mutex_unlock(&p->mu);
}

/* Checks, dials and (on success) returns the upstream fd; -1 with the refusal in *why. */
static int open_upstream(struct mcp_proxy *p, const char *kind, const char *host, unsigned port,
                         const char **why, bool *policy)
{
        *why = mcp_proxy_check(&p->allow, host, port);
        *policy = *why != NULL;
        int fd = *why ? -1 : dial(p, host, port, is_ip_literal(host), why);
        /* counted and noted when decided; logged with its bytes when it ends */
        atomic_fetch_add(fd < 0 ? &p->refused : &p->allowed, 1);
        note_attempt(p, kind, host, port, !*policy, fd < 0 ? *why : NULL);
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

/* ---- secrets: the placeholder swapped for the value, for the bound hosts only ---- */

/* A connection's end: a socket, or TLS over it (non-blocking either way). */
struct end {
        int fd;
        SSL *ssl;
};

/* >0 bytes, 0 at its end, -EAGAIN when nothing is there now, else -errno. */
static ssize_t end_read(struct end *x, void *buf, size_t n)
{
        if (n > INT_MAX)
                n = INT_MAX;
        if (!x->ssl) {
                ssize_t r = recv(x->fd, buf, n, MSG_DONTWAIT);
                if (r < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN
                                                                                         : -errno;
                return r;
        }
        ERR_clear_error();
        int r = SSL_read(x->ssl, buf, (int)n);
        if (r > 0)
                return r;
        int err = SSL_get_error(x->ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
                return -EAGAIN;
        ERR_clear_error();
        return err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ? 0 : -EIO;
}

static bool end_pending(const struct end *x)
{
        return x->ssl && SSL_has_pending(x->ssl);
}

static bool end_write_all(struct mcp_proxy *p, struct end *x, const void *buf, size_t n,
                          uint64_t until)
{
        const char *b = buf;
        while (n) {
                short ev = POLLOUT;
                if (!x->ssl) {
                        ssize_t w = send(x->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (w > 0) {
                                b += w;
                                n -= (size_t)w;
                                continue;
                        }
                        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                                return false;
                } else {
                        ERR_clear_error();
                        int w = SSL_write(x->ssl, b, n > INT_MAX ? INT_MAX : (int)n);
                        if (w > 0) {
                                b += w;
                                n -= (size_t)w;
                                continue;
                        }
                        int err = SSL_get_error(x->ssl, w);
                        if (err == SSL_ERROR_WANT_READ)
                                ev = POLLIN;
                        else if (err != SSL_ERROR_WANT_WRITE)
                                return false;
                }
                if (wait_fd(p, x->fd, ev, until) < 0)
                        return false;
        }
        return true;
}

static void set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The answer osvm gives in place of the host's; the connection then ends. */
static void answer(struct mcp_proxy *p, struct end *x, int code, const char *text)
{
        strbuf r = {0};
        sb_addf(&r,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                "Connection: close\r\n\r\n%s\n",
                code,
                code == 403   ? "Forbidden"
                : code == 413 ? "Content Too Large"
                : code == 501 ? "Not Implemented"
                : code == 502 ? "Bad Gateway"
                              : "Bad Request",
                strlen(text) + 1, text);
        end_write_all(p, x, r.s, r.len, time_mono_ns() + PROXY_WRITE_MS * 1000000ull);
        sb_free(&r);
}

static bool secret_bound(const struct mcp_proxy_secret *s, const char *host, unsigned port)
{
        for (size_t i = 0; i < s->hosts->n; i++)
                if (mcp_allow_entry_admits(s->hosts->v[i], host, port))
                        return true;
        return false;
}

static bool proxy_bound(const struct mcp_proxy *p, const char *host, unsigned port)
{
        for (size_t i = 0; i < p->nsec; i++)
                if (secret_bound(&p->sec[i], host, port))
                        return true;
        return false;
}

/* The first placeholder in s[0..n): its secret (index in *idx) and offset, or NULL. */
static const struct mcp_proxy_secret *find_placeholder(const struct mcp_proxy *p, const char *s,
                                                       size_t n, size_t *at, size_t *idx)
{
        const struct mcp_proxy_secret *best = NULL;
        for (size_t i = 0; i < p->nsec; i++) {
                const char *f = memmem(s, n, p->sec[i].placeholder, strlen(p->sec[i].placeholder));
                if (f && (!best || (size_t)(f - s) < *at)) {
                        best = &p->sec[i];
                        *at = (size_t)(f - s);
                        *idx = i;
                }
        }
        return best;
}

enum place { IN_URL, IN_HEADER, IN_BODY };

void mcp_proxy_set_call(struct mcp_proxy *p, const char *call_id, const char *tool, json_t *egress)
{
        pthread_mutex_lock(&p->mu);
        snprintf(p->call_id, sizeof(p->call_id), "%s", call_id ? call_id : "");
        snprintf(p->tool, sizeof(p->tool), "%s", call_id && tool ? tool : "");
        json_decref(p->egress);
        p->egress = call_id ? json_incref(egress) : NULL;
        pthread_mutex_unlock(&p->mu);
}

/* A secret's record in the audit log, with the call the server runs now. */
static void record_secret(struct mcp_proxy *p, struct mcp_audit_secret *r)
{
        char call_id[sizeof(p->call_id)], tool[sizeof(p->tool)];
        pthread_mutex_lock(&p->mu);
        memcpy(call_id, p->call_id, sizeof(call_id));
        memcpy(tool, p->tool, sizeof(tool));
        pthread_mutex_unlock(&p->mu);
        r->call_id = call_id[0] ? call_id : NULL;
        r->tool = call_id[0] ? tool : NULL;
        mcp_audit_secret(r);
}

/* A refusal: said in the log, recorded in the audit log, answered with 403. */
static void leak(struct mcp_proxy *p, struct end *cl, const struct mcp_proxy_secret *s,
                 const char *host, unsigned port, const char *where, const char *why)
{
        _cleanup_free_ char *h = text_sanitize(host, 0);
        _cleanup_free_ char *w = text_sanitize(where, 0);
        log_warn("%s: secret: refused a request to %s:%u: it carries the placeholder of secret %s "
                 "in %s, %s (an attempted leak; recorded in the audit log)",
                 p->server, h, port, s->name, w, why);
        record_secret(p, &(struct mcp_audit_secret){p->server, s->name, host, port, true, where,
                                                    why, NULL, NULL});
        atomic_fetch_add(&p->refused, 1);
        if (cl) {
                _cleanup_free_ char *t =
                    xasprintf("osvm refused this request of MCP server \"%s\" to %s:%u: it carries "
                              "the placeholder of secret %s in %s, %s.",
                              p->server, h, port, s->name, w, why);
                answer(p, cl, 403, t);
        }
}

/*
 * Appends src[0..n) to out with each placeholder in it put right for a
 * request to host:port in place (header: the header's name). false when one
 * may not be sent there: refused (leak) and answered.
 */
static bool swap(struct mcp_proxy *p, struct end *cl, const char *src, size_t n, const char *host,
                 unsigned port, enum place place, const char *header, size_t hlen, strbuf *out,
                 uint64_t *used)
{
        for (;;) {
                size_t at = 0, idx = 0;
                const struct mcp_proxy_secret *s = find_placeholder(p, src, n, &at, &idx);
                if (!s) {
                        sb_addn(out, src, n);
                        return true;
                }
                char where[200];
                snprintf(where, sizeof(where), "%s%.*s",
                         place == IN_URL    ? "the URL"
                         : place == IN_BODY ? "the body"
                         : header           ? "header "
                                            : "a header's name",
                         place == IN_HEADER && header ? (int)(hlen > 128 ? 128 : hlen) : 0,
                         place == IN_HEADER && header ? header : "");
                const char *why = NULL;
                if (!secret_bound(s, host, port))
                        why = "a host it is not bound to";
                else if (place == IN_URL || (place == IN_HEADER && !header))
                        why = "where it is never put in (only headers, and a body that allows it)";
                else if (place == IN_BODY && !s->body)
                        why = "where its binding does not allow it (headers only; /body allows "
                              "the body)";
                else if (place == IN_HEADER && s->headers->n) {
                        why = "a header its binding does not name";
                        for (size_t i = 0; i < s->headers->n && why; i++)
                                if (strlen(s->headers->v[i]) == hlen &&
                                    !strncasecmp(s->headers->v[i], header, hlen))
                                        why = NULL;
                }
                if (why) {
                        leak(p, cl, s, host, port, where, why);
                        return false;
                }
                sb_addn(out, src, at);
                sb_add(out, s->value);
                *used |= 1ull << idx;
                src += at + strlen(s->placeholder);
                n -= at + strlen(s->placeholder);
        }
}

enum parse { P_MORE, P_DONE, P_BAD };

/* A request's body framing from its head; P_BAD with code and why. */
struct framing {
        bool chunked, has_len, expect;
        size_t len;
        int code;
        const char *why;
};

static bool header_is(const char *line, size_t nlen, const char *name)
{
        return strlen(name) == nlen && !strncasecmp(line, name, nlen);
}

/* Checks the head's lines (head_len bytes, ending in the empty line) and reads the framing. */
static enum parse check_head(const char *buf, size_t head_len, struct framing *f)
{
        *f = (struct framing){.code = 400};
        for (size_t i = 0; i + 4 < head_len; i++) {
                bool bare_lf = buf[i + 1] == '\n' && buf[i] != '\r';
                bool bare_cr = buf[i] == '\r' && buf[i + 1] != '\n';
                if (bare_lf || bare_cr || buf[i] == '\0') {
                        f->why = "a bare CR or LF, or a NUL, in the request's head";
                        return P_BAD;
                }
        }
        const char *line = memchr(buf, '\n', head_len) + 1, *end = buf + head_len - 2;
        while (line < end) {
                const char *eol = memmem(line, (size_t)(end - line) + 2, "\r\n", 2);
                const char *colon = memchr(line, ':', (size_t)(eol - line));
                size_t nlen = colon ? (size_t)(colon - line) : 0;
                for (size_t k = 0; k < nlen && colon; k++)
                        if (!text_token_char(line[k]))
                                colon = NULL;
                if (!colon || nlen == 0) {
                        f->why = "a header line that is not NAME: VALUE (or a folded one)";
                        return P_BAD;
                }
                const char *v = colon + 1;
                while (v < eol && (*v == ' ' || *v == '\t'))
                        v++;
                size_t vlen = (size_t)(eol - v);
                while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                        vlen--;
                if (header_is(line, nlen, "content-length")) {
                        size_t n = 0;
                        if (vlen == 0 || vlen > 12) {
                                f->why = "a Content-Length that is not a number";
                                return P_BAD;
                        }
                        for (size_t k = 0; k < vlen; k++) {
                                if (v[k] < '0' || v[k] > '9') {
                                        f->why = "a Content-Length that is not a number";
                                        return P_BAD;
                                }
                                n = n * 10 + (size_t)(v[k] - '0');
                        }
                        if (f->has_len && n != f->len) {
                                f->why = "two different Content-Lengths";
                                return P_BAD;
                        }
                        f->has_len = true;
                        f->len = n;
                } else if (header_is(line, nlen, "expect")) {
                        f->expect = vlen == 12 && !strncasecmp(v, "100-continue", 12);
                } else if (header_is(line, nlen, "transfer-encoding")) {
                        if (vlen != 7 || strncasecmp(v, "chunked", 7) || f->chunked) {
                                f->code = 501;
                                f->why = "a Transfer-Encoding other than chunked";
                                return P_BAD;
                        }
                        f->chunked = true;
                }
                line = eol + 2;
        }
        if (f->chunked && f->has_len) {
                f->why = "both Content-Length and Transfer-Encoding";
                return P_BAD;
        }
        if (f->has_len && f->len > PROXY_BODY_MAX) {
                f->code = 413;
                f->why = "a body larger than osvm reads for a request that may carry a secret";
                return P_BAD;
        }
        return P_DONE;
}

/* A chunked body from b[0..n): P_DONE with its bytes in body and its length
 * on the wire in *used; P_MORE; P_BAD with why. */
static enum parse dechunk(const char *b, size_t n, strbuf *body, size_t *used, int *code,
                          const char **why)
{
        size_t pos = 0, total = 0;
        for (;;) {
                const char *eol = memmem(b + pos, n - pos, "\r\n", 2);
                if (!eol)
                        return n - pos > 1024 ? (*why = "a chunk's size line is too long", P_BAD)
                                              : P_MORE;
                size_t size = 0, k = pos, digits = 0;
                for (; b + k < eol && isxdigit((unsigned char)b[k]); k++, digits++)
                        size =
                            size * 16 + (size_t)(isdigit((unsigned char)b[k])
                                                     ? b[k] - '0'
                                                     : (tolower((unsigned char)b[k]) - 'a' + 10));
                if (digits == 0 || digits > 8 || (b + k < eol && b[k] != ';')) {
                        *why = "a malformed chunk size";
                        return P_BAD;
                }
                pos = (size_t)(eol - b) + 2;
                if (size == 0) {
                        /* trailers, to the empty line: dropped */
                        for (;;) {
                                const char *t = memmem(b + pos, n - pos, "\r\n", 2);
                                if (!t)
                                        return n - pos > PROXY_HEAD_MAX
                                                   ? (*why = "trailers too large", P_BAD)
                                                   : P_MORE;
                                bool empty = t == b + pos;
                                pos = (size_t)(t - b) + 2;
                                if (empty) {
                                        *used = pos;
                                        return P_DONE;
                                }
                        }
                }
                total += size;
                if (total > PROXY_BODY_MAX) {
                        *code = 413;
                        *why = "a body larger than osvm reads for a request that may carry a "
                               "secret";
                        return P_BAD;
                }
                if (n - pos < size + 2)
                        return P_MORE;
                if (b[pos + size] != '\r' || b[pos + size + 1] != '\n') {
                        *why = "a chunk without its CRLF";
                        return P_BAD;
                }
                if (body)
                        sb_addn(body, b + pos, size);
                pos += size + 2;
        }
}

/* What take_request makes of one request. */
struct req_out {
        strbuf data;        /* the request to send upstream */
        uint64_t used;      /* the secrets put in a header (bits) */
        uint64_t used_body; /* in the body */
        bool upgrade;       /* the connection becomes something else after it */
        bool expect;        /* its head asks for 100 Continue before its body */
};

/*
 * One request from buf[0..have) for host:port: its head checked, its
 * placeholders swapped or refused. Returns the bytes it took (the request in
 * o->data), 0 when more is needed, -1 when it was refused or malformed (the
 * client has been answered). plain: an absolute-form request of a plain HTTP
 * proxy connection (made origin-form, Proxy-* dropped, Connection: close).
 */
static ssize_t take_request(struct mcp_proxy *p, struct end *cl, const char *buf, size_t have,
                            const char *host, unsigned port, bool plain, struct req_out *o)
{
        size_t look = have < PROXY_HEAD_MAX ? have : PROXY_HEAD_MAX;
        const char *hend = memmem(buf, look, "\r\n\r\n", 4);
        if (!hend) {
                if (have >= PROXY_HEAD_MAX) {
                        answer(p, cl, 400, "osvm: the request's head is too large.");
                        return -1;
                }
                return 0;
        }
        size_t head_len = (size_t)(hend - buf) + 4;
        struct framing f;
        if (check_head(buf, head_len, &f) == P_BAD) {
                _cleanup_free_ char *t = xasprintf("osvm: a malformed request: %s.", f.why);
                answer(p, cl, f.code, t);
                return -1;
        }
        o->expect = f.expect;
        size_t used;
        strbuf body = {0};
        if (f.chunked) {
                const char *why = NULL;
                int code = 400;
                enum parse r = dechunk(buf + head_len, have - head_len, NULL, &used, &code, &why);
                if (r == P_MORE)
                        return 0;
                if (r == P_BAD) {
                        _cleanup_free_ char *t = xasprintf("osvm: a malformed request: %s.", why);
                        answer(p, cl, code, t);
                        return -1;
                }
                dechunk(buf + head_len, have - head_len, &body, &used, &code, &why);
        } else {
                used = f.has_len ? f.len : 0;
                if (have - head_len < used)
                        return 0;
                sb_addn(&body, buf + head_len, used);
        }
        used += head_len;

        /* the request line */
        const char *eol = memmem(buf, head_len, "\r\n", 2);
        const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        if (!sp1 || !sp2 || sp1 == buf) {
                answer(p, cl, 400, "osvm: not an HTTP request.");
                sb_free(&body);
                return -1;
        }
        strbuf line = {0};
        const char *target = sp1 + 1;
        if (plain) {
                /* http://authority/path -> /path */
                const char *auth = target + 7;
                const char *slash = memchr(auth, '/', (size_t)(sp2 - auth));
                sb_addn(&line, buf, (size_t)(sp1 - buf) + 1);
                if (slash)
                        sb_addn(&line, slash, (size_t)(sp2 - slash));
                else
                        sb_add(&line, "/");
                sb_addn(&line, sp2, (size_t)(eol - sp2));
        } else {
                sb_addn(&line, buf, (size_t)(eol - buf));
        }
        bool ok = swap(p, cl, line.s, line.len, host, port, IN_URL, NULL, 0, &o->data, &o->used);
        sb_free(&line);

        /* the headers */
        bool conn_upgrade = false, has_upgrade = false;
        for (const char *h = eol + 2; ok && h < hend + 2;) {
                const char *e = memmem(h, (size_t)(hend + 2 - h), "\r\n", 2);
                const char *colon = memchr(h, ':', (size_t)(e - h));
                size_t nlen = (size_t)(colon - h);
                if (header_is(h, nlen, "content-length") ||
                    header_is(h, nlen, "transfer-encoding") || header_is(h, nlen, "expect") ||
                    (plain && (!strncasecmp(h, "proxy-", 6) || header_is(h, nlen, "connection") ||
                               header_is(h, nlen, "keep-alive")))) {
                        h = e + 2;
                        continue;
                }
                if (header_is(h, nlen, "upgrade"))
                        has_upgrade = true;
                if (header_is(h, nlen, "connection") &&
                    memmem(colon, (size_t)(e - colon), "pgrade", 6))
                        conn_upgrade = true;
                sb_add(&o->data, "\r\n");
                ok = swap(p, cl, h, nlen, host, port, IN_HEADER, NULL, 0, &o->data, &o->used) &&
                     swap(p, cl, colon, (size_t)(e - colon), host, port, IN_HEADER, h, nlen,
                          &o->data, &o->used);
                h = e + 2;
        }
        strbuf nb = {0};
        ok = ok && swap(p, cl, body.s ? body.s : "", body.len, host, port, IN_BODY, NULL, 0, &nb,
                        &o->used_body);
        if (ok) {
                if (f.has_len || f.chunked || nb.len)
                        sb_addf(&o->data, "\r\nContent-Length: %zu", nb.len);
                if (plain)
                        sb_add(&o->data, "\r\nConnection: close");
                sb_add(&o->data, "\r\n\r\n");
                sb_addn(&o->data, nb.s ? nb.s : "", nb.len);
        }
        if (body.s)
                explicit_bzero(body.s, body.len);
        sb_free(&body);
        if (nb.s)
                explicit_bzero(nb.s, nb.len);
        sb_free(&nb);
        o->upgrade = has_upgrade && conn_upgrade && !plain;
        return ok ? (ssize_t)used : -1;
}

/* Each secret put in: logged and recorded (the value never). */
static void record_uses(struct mcp_proxy *p, uint64_t hdr, uint64_t body, const char *host,
                        unsigned port)
{
        uint64_t used = hdr | body;
        for (size_t i = 0; i < p->nsec && used; i++) {
                if (!(used & (1ull << i)))
                        continue;
                used &= ~(1ull << i);
                bool in_h = hdr & (1ull << i), in_b = body & (1ull << i);
                const char *where = in_h && in_b ? "headers and the body"
                                    : in_h       ? "a header"
                                                 : "the body";
                _cleanup_free_ char *h = text_sanitize(host, 0);
                log_info("%s: secret %s sent to %s:%u, in %s", p->server, p->sec[i].name, h, port,
                         where);
                record_secret(p, &(struct mcp_audit_secret){p->server, p->sec[i].name, host, port,
                                                            false, where, NULL, NULL, NULL});
        }
}

/*
 * Relays one connection whose requests osvm reads: each request (client to
 * host) is checked and its placeholders swapped; what the host sends comes
 * back as it is. plain: a plain HTTP proxy request (one a connection).
 */
static void inspect(struct mcp_proxy *p, struct end *cl, struct end *up, const char *host,
                    unsigned port, bool plain, const char *first, size_t nfirst, uint64_t *out,
                    uint64_t *in)
{
        size_t cap = PROXY_HEAD_MAX > nfirst ? PROXY_HEAD_MAX : nfirst, have = nfirst;
        const size_t max = PROXY_HEAD_MAX + PROXY_BODY_MAX + PROXY_BODY_MAX / 8;
        char *buf = xmalloc(cap);
        char *rbuf = xmalloc(PROXY_RELAY_BUF);
        memcpy(buf, first, nfirst);
        bool raw = false, cl_open = true, done_one = false, stop = false, continued = false;
        uint64_t until = 0;
        while (!stop) {
                while (have && !raw && !done_one) {
                        uint64_t now = time_mono_ns();
                        if (!until)
                                until = now + PROXY_HEAD_MS * 1000000ull;
                        struct req_out o = {0};
                        ssize_t n = take_request(p, cl, buf, have, host, port, plain, &o);
                        if (n == 0 && o.expect && !continued) {
                                /* the body is read here before anything goes on: ask for it */
                                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                                continued = true;
                                if (!end_write_all(p, cl, cont, sizeof(cont) - 1,
                                                   now + PROXY_WRITE_MS * 1000000ull))
                                        n = -1;
                        }
                        if (n <= 0) {
                                sb_free(&o.data);
                                stop = n < 0 || !cl_open;
                                break;
                        }
                        bool ok = end_write_all(p, up, o.data.s, o.data.len,
                                                now + PROXY_WRITE_MS * 1000000ull);
                        *out += o.data.len;
                        explicit_bzero(o.data.s, o.data.len);
                        sb_free(&o.data);
                        if (!ok) {
                                stop = true;
                                break;
                        }
                        record_uses(p, o.used, o.used_body, host, port);
                        memmove(buf, buf + n, have - (size_t)n);
                        have -= (size_t)n;
                        until = 0;
                        continued = false;
                        raw = o.upgrade;
                        done_one = plain;
                }
                if (stop)
                        break;
                if (raw && have) {
                        if (!end_write_all(p, up, buf, have,
                                           time_mono_ns() + PROXY_WRITE_MS * 1000000ull))
                                break;
                        *out += have;
                        have = 0;
                }
                if (done_one)
                        have = 0; /* one request a plain connection: the rest is not sent */
                int timeout = -1;
                if (end_pending(cl) || end_pending(up)) {
                        timeout = 0;
                } else if (until) {
                        uint64_t now = time_mono_ns();
                        if (now >= until) {
                                answer(p, cl, 400, "osvm: the request did not arrive in time.");
                                break;
                        }
                        timeout = (int)((until - now) / 1000000) + 1;
                }
                struct pollfd pf[3] = {{cl_open ? cl->fd : -1, POLLIN, 0},
                                       {up->fd, POLLIN, 0},
                                       {p->stopfd, POLLIN, 0}};
                int r = poll(pf, 3, timeout);
                if (r < 0 && errno != EINTR)
                        break;
                if (pf[2].revents)
                        break;
                if (pf[1].revents || end_pending(up)) {
                        for (;;) {
                                ssize_t n = end_read(up, rbuf, PROXY_RELAY_BUF);
                                if (n == -EAGAIN)
                                        break;
                                if (n <= 0 ||
                                    !end_write_all(p, cl, rbuf, (size_t)n,
                                                   time_mono_ns() + PROXY_WRITE_MS * 1000000ull)) {
                                        stop = true;
                                        break;
                                }
                                *in += (uint64_t)n;
                        }
                }
                if (!stop && cl_open && (pf[0].revents || end_pending(cl))) {
                        if (have == cap && cap < max) {
                                cap = cap * 2 < max ? cap * 2 : max;
                                buf = xrealloc(buf, cap);
                        }
                        if (have == cap) {
                                answer(p, cl, 413,
                                       "osvm: a request larger than osvm reads for a host a "
                                       "secret may be sent to.");
                                break;
                        }
                        ssize_t n = end_read(cl, buf + have, cap - have);
                        if (n > 0)
                                have += (size_t)n;
                        else if (n != -EAGAIN)
                                cl_open = false;
                        if (!cl_open && !have)
                                break;
                }
        }
        explicit_bzero(buf, cap);
        free(buf);
        free(rbuf);
}

/* Reads the client's request head (and drops it) before osvm answers in the
 * host's place: a socket closed with unread bytes would reset the answer. */
static void take_head(struct mcp_proxy *p, struct end *cl, uint64_t until)
{
        char buf[PROXY_HEAD_MAX];
        size_t have = 0;
        while (have < sizeof(buf) && !memmem(buf, have, "\r\n\r\n", 4)) {
                ssize_t n = end_read(cl, buf + have, sizeof(buf) - have);
                if (n > 0)
                        have += (size_t)n;
                else if (n != -EAGAIN ||
                         (!end_pending(cl) && wait_fd(p, cl->fd, POLLIN, until) < 0))
                        break;
        }
}

/* One step of a handshake: 1 done, 0 when it waits for *ev on its socket, -1 failed. */
static int hs_step(SSL *ssl, bool server, short *ev)
{
        ERR_clear_error();
        int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
        if (r == 1)
                return 1;
        int err = SSL_get_error(ssl, r);
        *ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        return *ev ? 0 : -1;
}

static void tls_end(SSL *ssl)
{
        if (!ssl)
                return;
        ERR_clear_error();
        SSL_shutdown(ssl); /* best effort: non-blocking */
        SSL_free(ssl);
        ERR_clear_error();
}

/*
 * A tunnel (CONNECT or SOCKS5) of a server with secrets, once the client was
 * told it is open. Whoever speaks first decides: the host (a protocol that
 * greets) or TLS to a host no secret is bound to: relayed untouched; TLS to a
 * bound host: ended here (the session CA's certificate for host) and begun
 * again to the host (verified); plain HTTP: read. Each request read is
 * inspected (placeholders put in, or refused).
 */
static void open_tunnel(struct mcp_proxy *p, int cfd, int ufd, const char *host, unsigned port,
                        uint64_t *out, uint64_t *in)
{
        bool bound = proxy_bound(p, host, port);
        struct end cl = {cfd, NULL}, up = {ufd, NULL};
        _cleanup_free_ char *h = text_sanitize(host, 0);
        char eb[256];
        SSL_CTX *sctx = NULL;
        /* to a bound host the handshake with it begins now, beside the server's */
        int us = 1;
        short uev = POLLIN;
        if (bound) {
                osvm_err e = {0};
                sctx = mcp_tls_server_ctx(host, &e);
                SSL_CTX *cctx = sctx ? mcp_tls_client_ctx(&e) : NULL;
                if (!cctx) {
                        log_warn("%s: secret: no TLS for %s:%u: %s", p->server, h, port, e.msg);
                        return;
                }
                set_nonblock(ufd);
                up.ssl = SSL_new(cctx);
                if (!up.ssl || SSL_set_fd(up.ssl, ufd) != 1 ||
                    !mcp_tls_expect_host(up.ssl, host, port))
                        goto out;
                us = hs_step(up.ssl, false, &uev);
        }
        uint64_t uuntil = time_mono_ns() + PROXY_CONNECT_MS * 1000000ull;
        for (;;) {
                struct pollfd pf[3] = {{cfd, POLLIN, 0},
                                       {!bound || us == 0 ? ufd : -1, uev, 0},
                                       {p->stopfd, POLLIN, 0}};
                /* an idle tunnel waits, as relay() does; a handshake begun, until its deadline */
                uint64_t now = time_mono_ns();
                int r =
                    poll(pf, 3,
                         bound && us == 0 ? (now < uuntil ? (int)((uuntil - now) / 1000000) + 1 : 0)
                                          : -1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 || pf[2].revents)
                        goto out;
                if (pf[1].revents && !bound) {
                        relay(p, cfd, ufd, out, in); /* the host speaks first */
                        return;
                }
                if (pf[1].revents || (bound && us == 0 && r == 0))
                        us = r == 0 ? -1 : hs_step(up.ssl, false, &uev);
                if (pf[0].revents)
                        break;
        }
        unsigned char first = 0;
        if (recv(cfd, &first, 1, MSG_PEEK) != 1)
                goto out;
        if (first == 0x16 && !bound) {
                relay(p, cfd, ufd, out, in);
                return;
        }
        set_nonblock(cfd);
        set_nonblock(ufd);
        int plain_fd = -1;
        if (first != 0x16 && bound) {
                /* plain HTTP in a tunnel to a bound host: its TLS begun for nothing */
                SSL_free(up.ssl);
                up.ssl = NULL;
                shutdown(ufd, SHUT_RDWR);
                const char *why;
                if ((plain_fd = dial(p, host, port, is_ip_literal(host), &why)) < 0)
                        goto out;
                set_nonblock(plain_fd);
                up.fd = plain_fd;
        } else if (first == 0x16) {
                cl.ssl = SSL_new(sctx);
                if (!cl.ssl || SSL_set_fd(cl.ssl, cfd) != 1)
                        goto out;
                uint64_t until = time_mono_ns() + PROXY_HEAD_MS * 1000000ull;
                short cev = POLLIN;
                int cs = hs_step(cl.ssl, true, &cev);
                while (cs == 0 || us == 0) {
                        uint64_t now = time_mono_ns();
                        uint64_t end = cs == 0 ? until : uuntil;
                        if (now >= end || (us == 0 && now >= uuntil)) {
                                if (cs == 0)
                                        cs = -1;
                                else
                                        us = -1;
                                continue;
                        }
                        struct pollfd pf[3] = {{cs == 0 ? cfd : -1, cev, 0},
                                               {us == 0 ? ufd : -1, uev, 0},
                                               {p->stopfd, POLLIN, 0}};
                        int r = poll(pf, 3, (int)((end - now) / 1000000) + 1);
                        if (r < 0 && errno != EINTR)
                                goto out;
                        if (pf[2].revents)
                                goto out;
                        if (cs == 0 && pf[0].revents)
                                cs = hs_step(cl.ssl, true, &cev);
                        if (us == 0 && pf[1].revents)
                                us = hs_step(up.ssl, false, &uev);
                        if (cs < 0)
                                break;
                }
                if (cs < 0) {
                        log_warn("%s: secret: the server's TLS to %s:%u did not begin: %s "
                                 "(does it trust the session CA?)",
                                 p->server, h, port, mcp_tls_error(eb, sizeof(eb)));
                        goto out;
                }
                if (us < 0) {
                        long v = SSL_get_verify_result(up.ssl);
                        const char *why = v != X509_V_OK ? X509_verify_cert_error_string(v)
                                                         : mcp_tls_error(eb, sizeof(eb));
                        log_warn("%s: secret: TLS to %s:%u failed: %s; nothing was sent", p->server,
                                 h, port, why);
                        _cleanup_free_ char *t = xasprintf(
                            "osvm: TLS to %s:%u failed: %s; nothing was sent.", h, port, why);
                        take_head(p, &cl, time_mono_ns() + PROXY_HEAD_MS * 1000000ull);
                        answer(p, &cl, 502, t);
                        goto out;
                }
        }
        inspect(p, &cl, &up, host, port, false, "", 0, out, in);
        if (plain_fd >= 0)
                close(plain_fd);
out:
        tls_end(cl.ssl);
        tls_end(up.ssl);
}

/* A head refused before it reached a host: a placeholder in it is an attempted leak too. */
static void leak_in_refused(struct mcp_proxy *p, const char *buf, size_t n, const char *host,
                            unsigned port)
{
        size_t at = 0, idx = 0;
        const struct mcp_proxy_secret *s = find_placeholder(p, buf, n, &at, &idx);
        if (s)
                leak(p, NULL, s, host, port, "a request refused by the allow-list",
                     "a host it is not bound to");
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
                log_attempt(p, "SOCKS5", "(not a CONNECT)", 1, "only CONNECT is relayed", false, 0,
                            0);
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
        bool policy;
        int up = open_upstream(p, "SOCKS5", host, port, &why, &policy);
        if (up < 0) {
                leak_in_refused(p, (const char *)buf, have, host, port);
                send_all(fd, policy ? refused : failed, 10);
                log_attempt(p, "SOCKS5", host, port, why, policy, 0, 0);
                return;
        }
        uint64_t out = 0, in = 0;
        if (send_all(fd, ok, 10)) {
                if (have == need && p->nsec) {
                        open_tunnel(p, fd, up, host, port, &out, &in);
                } else {
                        if (have > need && send_all(up, buf + need, have - need))
                                out += have - need;
                        relay(p, fd, up, &out, &in);
                }
        }
        close(up);
        log_attempt(p, "SOCKS5", host, port, NULL, false, out, in);
}

static void http_refuse(int fd, int code, const char *server, const char *host, unsigned port,
                        const char *why)
{
        char *h = text_sanitize(host, 0);
        strbuf body = {0};
        if (code == 403)
                sb_addf(&body,
                        "osvm refused the connection of MCP server \"%s\" to %s:%u: %s.\n"
                        "To allow it: osvm isolation set %s network.allow=%s:%u\n",
                        server, h, port, why, server, h, port);
        else if (code == 502)
                sb_addf(&body, "osvm could not reach %s:%u for MCP server \"%s\": %s.\n", h, port,
                        server, why);
        else
                sb_addf(&body, "osvm refused the request of MCP server \"%s\": %s.\n", server, why);
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
        bool policy;
        int up = open_upstream(p, kind, host, port, &why, &policy);
        if (up < 0) {
                leak_in_refused(p, buf, have, host, port);
                http_refuse(fd, policy ? 403 : 502, p->server, host, port, why);
                log_attempt(p, kind, host, port, why, policy, 0, 0);
                return;
        }
        uint64_t out = 0, in = 0;
        bool ok;
        if (connect && have == head_len && p->nsec) {
                static const char est[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
                if (send_all(fd, est, sizeof(est) - 1))
                        open_tunnel(p, fd, up, host, port, &out, &in);
                ok = false;
        } else if (!connect && p->nsec) {
                struct end cl = {fd, NULL}, ue = {up, NULL};
                set_nonblock(fd);
                set_nonblock(up);
                inspect(p, &cl, &ue, host, port, true, buf, have, &out, &in);
                ok = false;
        } else if (connect) {
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
        log_attempt(p, kind, host, port, NULL, false, out, in);
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
                int one = 1; /* a relay: each write goes at once */
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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

static struct iso_strlist *strlist_copy(const struct iso_strlist *l)
{
        struct iso_strlist *c = xcalloc(1, sizeof(*c));
        c->v = xcalloc(l->n + 1, sizeof(char *));
        for (size_t i = 0; i < l->n; i++)
                c->v[c->n++] = xstrdup(l->v[i]);
        return c;
}

static void strlist_drop(const struct iso_strlist *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        free((void *)l);
}

struct mcp_proxy *mcp_proxy_start(const char *server, int lfd, const struct iso_strlist *allow,
                                  osvm_err *e)
{
        return mcp_proxy_start_secrets(server, lfd, allow, NULL, 0, e);
}

struct mcp_proxy *mcp_proxy_start_secrets(const char *server, int lfd,
                                          const struct iso_strlist *allow,
                                          const struct mcp_proxy_secret *secrets, size_t n,
                                          osvm_err *e)
{
        struct mcp_proxy *p = xcalloc(1, sizeof(*p));
        if (n > MCP_PROXY_SECRETS_MAX)
                n = MCP_PROXY_SECRETS_MAX;
        p->sec = n ? xcalloc(n, sizeof(*p->sec)) : NULL;
        for (size_t i = 0; i < n; i++) {
                const struct mcp_proxy_secret *s = &secrets[i];
                if (strlen(s->placeholder) < 16)
                        continue; /* a placeholder is long and random, never found by chance */
                p->sec[p->nsec++] = (struct mcp_proxy_secret){
                    xstrdup(s->name),       xstrdup(s->placeholder),  xstrdup(s->value),
                    strlist_copy(s->hosts), strlist_copy(s->headers), s->body};
        }
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
        for (size_t i = 0; i < p->nsec; i++) {
                struct mcp_proxy_secret *s = &p->sec[i];
                explicit_bzero((char *)s->value, strlen(s->value));
                free((char *)s->name);
                free((char *)s->placeholder);
                free((char *)s->value);
                strlist_drop(s->hosts);
                strlist_drop(s->headers);
        }
        free(p->sec);
        json_decref(p->egress);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p->server);
        free(p);
}
