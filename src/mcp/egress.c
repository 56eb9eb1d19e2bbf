/*
 * Egress: the host side of the host-call channel (docs/tool-images.md).
 * A tool, in a VM or a host process, writes one JSON request a line on its
 * fd 3; this thread checks it against the tool's network policy, adds the
 * credentials the tool must never see, performs it with libcurl under size
 * and time limits, and writes one JSON answer a line.
 */
#include "mcp/mcp.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX     (1u << 20) /* a request line, body included */
#define BODY_MAX        (4u << 20) /* an answer's body */
#define CALL_TIMEOUT_MS 10000u
#define CALLS_MAX       16u

struct mcp_egress {
        int fd;
        struct mcp_egress_policy p;
        char *who, *rpc_url, *rpc_key;
        pthread_t thread;
        unsigned calls, refused;
        atomic_bool stop; /* the tool's call ended: a request in flight ends too */
};

/* A host call, for the call's audit record: where (scheme://host:port/ only:
 * the rest of a URL may hold a credential), allowed or refused, and why. */
static void note(struct mcp_egress *g, const char *url, const char *method, bool allowed,
                 long status, const char *why)
{
        if (!g->p.record || json_array_size(g->p.record) >= MCP_EGRESS_NOTES_MAX)
                return;
        char *pub = mcp_url_public(url);
        json_t *n = json_pack("{s:s, s:s, s:b}", "url", pub ? pub : "(not a URL)", "method", method,
                              "allowed", allowed);
        free(pub);
        if (status)
                json_object_set_new(n, "status", json_integer(status));
        if (why)
                json_object_set_new(n, "why", mcp_audit_text(why, MCP_AUDIT_NOTE_MAX));
        json_array_append_new(g->p.record, n);
}

/* ---- the policy ---- */

struct url_parts {
        char scheme[8];
        char host[256];
        long port;
};

static bool url_parse(const char *url, struct url_parts *u)
{
        CURLU *h = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL;
        bool ok = h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
                  curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                  curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
                  curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
                  strlen(scheme) < sizeof(u->scheme) && strlen(host) < sizeof(u->host);
        if (ok) {
                snprintf(u->scheme, sizeof(u->scheme), "%s", scheme);
                snprintf(u->host, sizeof(u->host), "%s", host);
                u->port = strtol(port, NULL, 10);
                ok = !strcasecmp(u->scheme, "http") || !strcasecmp(u->scheme, "https");
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(h);
        return ok;
}

/* host without the brackets of an IPv6 literal, into out. */
static void bare_host(const char *host, size_t len, char *out, size_t n)
{
        if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
                host++;
                len -= 2;
        }
        snprintf(out, n, "%.*s", (int)len, host);
}

bool mcp_allow_entry_admits(const char *entry, const char *host, long port)
{
        char eh[300], h[300];
        long ep = -1;
        const char *colon = entry[0] == '[' ? strstr(entry, "]:") : strrchr(entry, ':');
        if (colon) {
                size_t n = (size_t)(colon - entry) + (entry[0] == '[' ? 1 : 0);
                bare_host(entry, n, eh, sizeof(eh));
                ep = strtol(colon + (entry[0] == '[' ? 2 : 1), NULL, 10);
        } else {
                bare_host(entry, strlen(entry), eh, sizeof(eh));
        }
        bare_host(host, strlen(host), h, sizeof(h));
        if (ep >= 0 && ep != port)
                return false;
        if (eh[0] == '*' && eh[1] == '.') {
                /* a subdomain, never the domain itself, never an IP address */
                unsigned char ip[16];
                size_t hl = strlen(h), sl = strlen(eh + 1);
                return inet_pton(AF_INET, h, ip) != 1 && inet_pton(AF_INET6, h, ip) != 1 &&
                       hl > sl && !strcasecmp(h + hl - sl, eh + 1);
        }
        return !strcasecmp(eh, h);
}

const char *mcp_egress_check(const struct mcp_egress_policy *p, const char *url, char *buf,
                             size_t n)
{
        struct url_parts u;
        if (!url_parse(url, &u))
                return "refused: not an http:// or https:// URL";
        if (p->allow && !p->allow_is_default) {
                for (size_t i = 0; i < p->allow->n; i++)
                        if (mcp_allow_entry_admits(p->allow->v[i], u.host, u.port))
                                return NULL;
        } else {
                struct url_parts rpc;
                if (p->rpc_url && url_parse(p->rpc_url, &rpc) && !strcasecmp(rpc.host, u.host) &&
                    rpc.port == u.port)
                        return NULL;
        }
        snprintf(buf, n, "refused: %s:%ld is not in %s's network.allow%s", u.host, u.port,
                 p->who ? p->who : "the tool",
                 p->allow_is_default ? " (by default only the Solana RPC endpoint)" : "");
        return buf;
}

/* Is url the RPC endpoint (same scheme, host and port)? Credentials go only there. */
static bool is_rpc(const struct mcp_egress_policy *p, const char *url)
{
        struct url_parts a, b;
        return p->rpc_url && url_parse(url, &a) && url_parse(p->rpc_url, &b) &&
               !strcasecmp(a.scheme, b.scheme) && !strcasecmp(a.host, b.host) && a.port == b.port;
}

/* Is url the endpoint the tool was given (mcp_url_public: the RPC origin and
 * "/", nothing else)? Its requests there go to the RPC URL in full. */
static bool is_rpc_endpoint(const struct mcp_egress_policy *p, const char *url)
{
        if (!is_rpc(p, url))
                return false;
        CURLU *h = curl_url();
        char *path = NULL, *part = NULL;
        bool bare = h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
                    curl_url_get(h, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
                    (!path[0] || !strcmp(path, "/"));
        static const CURLUPart extra[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_QUERY,
                                          CURLUPART_FRAGMENT};
        for (size_t i = 0; bare && i < sizeof(extra) / sizeof(extra[0]); i++) {
                bare = curl_url_get(h, extra[i], &part, 0) != CURLUE_OK;
                curl_free(part);
                part = NULL;
        }
        curl_free(path);
        curl_url_cleanup(h);
        return bare;
}

/* The parts of the RPC URL that may be a credential (user, password, path,
 * query, fragment; three bytes or more), for scrub(). */
#define SECRETS_MAX 5
static size_t rpc_secrets(const char *rpc_url, char **out)
{
        static const CURLUPart parts[SECRETS_MAX] = {CURLUPART_USER, CURLUPART_PASSWORD,
                                                     CURLUPART_PATH, CURLUPART_QUERY,
                                                     CURLUPART_FRAGMENT};
        CURLU *h = curl_url();
        size_t n = 0;
        if (h && rpc_url && curl_url_set(h, CURLUPART_URL, rpc_url, 0) == CURLUE_OK)
                for (size_t i = 0; i < SECRETS_MAX; i++) {
                        char *v = NULL;
                        if (curl_url_get(h, parts[i], &v, 0) == CURLUE_OK && strlen(v) >= 3 &&
                            strcmp(v, "/") != 0)
                                out[n++] = xstrdup(v);
                        curl_free(v);
                }
        curl_url_cleanup(h);
        return n;
}

/* Replaces every secret in text (NUL-terminated, of size n <= CURL_ERROR_SIZE)
 * with "[hidden]". */
static void scrub(char *text, size_t n, char *const *secrets, size_t nsecrets)
{
        static const char mark[] = "[hidden]";
        for (size_t i = 0; i < nsecrets; i++) {
                char *from = text, *hit;
                while ((hit = strstr(from, secrets[i]))) {
                        char tail[CURL_ERROR_SIZE];
                        snprintf(tail, sizeof(tail), "%s", hit + strlen(secrets[i]));
                        size_t room = n - (size_t)(hit - text);
                        snprintf(hit, room, "%s%s", mark, tail);
                        if (room <= sizeof(mark) - 1)
                                break;
                        from = hit + sizeof(mark) - 1;
                }
        }
}

/* ---- one request ---- */

struct body {
        strbuf b;
        bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
        struct body *bd = ctx;
        size_t len = size * n;
        if (bd->b.len + len > BODY_MAX) {
                bd->too_big = true;
                return 0; /* aborts the transfer */
        }
        /* The body may hold NUL bytes: append by length. */
        bd->b.s = xrealloc(bd->b.s, bd->b.len + len + 1);
        memcpy(bd->b.s + bd->b.len, data, len);
        bd->b.len += len;
        bd->b.s[bd->b.len] = '\0';
        return len;
}

static bool header_forbidden(const char *name)
{
        static const char *const names[] = {"host",   "content-length",    "authorization",
                                            "cookie", "transfer-encoding", "connection",
                                            NULL};
        for (size_t i = 0; names[i]; i++)
                if (!strcasecmp(name, names[i]))
                        return true;
        return strncasecmp(name, "proxy-", 6) == 0;
}

/* libcurl's progress callback: non-zero aborts the transfer (the call was
 * cancelled, or has ended). */
static int on_xfer(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow)
{
        (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
        struct mcp_egress *g = ctx;
        return atomic_load(&g->stop) || (g->p.cancel && *g->p.cancel);
}

static json_t *fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *fail(const char *fmt, ...)
{
        char text[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        return json_pack("{s:b, s:s}", "ok", 0, "error", text);
}

void mcp_egress_req_free(struct mcp_egress_req *r)
{
        for (size_t i = 0; i < r->nheaders; i++)
                free(r->headers[i]);
        free(r->headers);
        r->headers = NULL;
        r->nheaders = 0;
}

const char *mcp_egress_request_check(const struct mcp_egress_policy *p, json_t *req,
                                     struct mcp_egress_req *r, char *buf, size_t n)
{
        memset(r, 0, sizeof(*r));
        const char *op = json_string_value(json_object_get(req, "op"));
        const char *method = json_string_value(json_object_get(req, "method"));
        const char *url = json_string_value(json_object_get(req, "url"));
        json_t *headers = json_object_get(req, "headers");
        json_t *body = json_object_get(req, "body");
        if (!op || strcmp(op, "http")) {
                snprintf(buf, n, "unknown op \"%s\"; version 1 has \"http\"", op ? op : "");
                return buf;
        }
        if (!method || (strcmp(method, "GET") && strcmp(method, "POST")))
                return "method must be GET or POST";
        if (!url)
                return "no url";
        if ((headers && !json_is_object(headers)) || (body && !json_is_string(body)))
                return "headers must be an object and body a string";
        r->method = method;
        r->url = url;
        const char *refused = mcp_egress_check(p, url, buf, n);
        if (refused) {
                r->refused = true;
                return refused;
        }
        r->body = body ? json_string_value(body) : NULL;
        r->body_len = body ? json_string_length(body) : 0;
        const char *k;
        json_t *v;
        json_object_foreach(headers, k, v)
        {
                const char *val = json_string_value(v);
                if (!val || !*k || strpbrk(k, "\r\n: ") || strpbrk(val, "\r\n") ||
                    header_forbidden(k))
                        continue;
                r->headers = xrealloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
                r->headers[r->nheaders++] = xasprintf("%s: %s", k, val);
        }
        r->to_rpc = is_rpc(p, url);
        r->to_rpc_endpoint = r->to_rpc && is_rpc_endpoint(p, url);
        return NULL;
}

static json_t *perform(struct mcp_egress *g, json_t *req)
{
        char why[400];
        struct mcp_egress_req r;
        const char *bad = mcp_egress_request_check(&g->p, req, &r, why, sizeof(why));
        if (bad) {
                if (r.refused) {
                        g->refused++;
                        log_warn("egress: %s: %s", g->who, bad);
                        note(g, r.url, r.method, false, 0, bad);
                }
                return fail("%s", bad);
        }
        const char *url = r.url, *method = r.method;
        uint64_t now = time_mono_ns();
        if ((g->p.deadline_ns && now >= g->p.deadline_ns) || on_xfer(g, 0, 0, 0, 0)) {
                bool late = g->p.deadline_ns && now >= g->p.deadline_ns;
                mcp_egress_req_free(&r);
                return fail("%s", late ? "the call's time is up" : "the call was cancelled");
        }
        long timeout = CALL_TIMEOUT_MS;
        if (g->p.deadline_ns && (g->p.deadline_ns - now) / 1000000 < (uint64_t)timeout)
                timeout = (long)((g->p.deadline_ns - now) / 1000000) + 1;

        CURL *c = curl_easy_init();
        if (!c) {
                mcp_egress_req_free(&r);
                return fail("the host could not start a request");
        }
        struct curl_slist *hl = NULL;
        for (size_t i = 0; i < r.nheaders; i++)
                hl = curl_slist_append(hl, r.headers[i]);
        /* the endpoint the tool was given: the RPC URL in full, credentials and all */
        const char *target = r.to_rpc_endpoint ? g->rpc_url : url;
        char *auth = NULL;
        if (g->rpc_key && r.to_rpc) {
                auth = xasprintf("Authorization: Bearer %s", g->rpc_key);
                hl = curl_slist_append(hl, auth);
        }
        struct body bd = {0};
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, target);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &bd);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "osvm/" OSVM_VERSION);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, g);
        if (!strcmp(method, "POST")) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)r.body_len);
                curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, r.body ? r.body : "");
        }
        uint64_t t0 = time_mono_ns();
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        char *ctype = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
        json_t *answer;
        /* what the tool and the log may read says nothing of the credentials */
        char *secrets[SECRETS_MAX];
        size_t nsecrets = target != url ? rpc_secrets(target, secrets) : 0;
        scrub(errbuf, sizeof(errbuf), secrets, nsecrets);
        for (size_t i = 0; i < nsecrets; i++)
                free(secrets[i]);
        if (bd.too_big)
                answer = fail("the answer is larger than %u bytes", BODY_MAX);
        else if (rc == CURLE_ABORTED_BY_CALLBACK)
                answer = fail("the call was cancelled");
        else if (rc == CURLE_OPERATION_TIMEDOUT)
                answer = fail("no answer from %s within %ld ms", url, timeout);
        else if (rc != CURLE_OK)
                answer =
                    fail("cannot reach %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        else if (!text_valid_utf8(bd.b.s ? bd.b.s : "", bd.b.len))
                answer = fail("the answer from %s is not UTF-8 text", url);
        else
                answer =
                    json_pack("{s:b, s:i, s:s?, s:s#}", "ok", 1, "status", (int)status,
                              "content_type", ctype, "body", bd.b.s ? bd.b.s : "", (int)bd.b.len);
        note(g, url, method, true, status,
             json_is_true(json_object_get(answer, "ok"))
                 ? NULL
                 : json_string_value(json_object_get(answer, "error")));
        log_info("egress: %s %s %s -> %ld (%zu bytes, %.0f ms)%s", g->who, method, url, status,
                 bd.b.len, (double)(time_mono_ns() - t0) / 1e6,
                 json_is_true(json_object_get(answer, "ok")) ? "" : " failed");
        sb_free(&bd.b);
        curl_slist_free_all(hl);
        mcp_egress_req_free(&r);
        if (auth) {
                explicit_bzero(auth, strlen(auth));
                free(auth);
        }
        curl_easy_cleanup(c);
        return answer;
}

/* ---- the channel ---- */

static bool on_request(void *ctx, char *line, size_t len)
{
        struct mcp_egress *g = ctx;
        if (!line) {
                log_warn("egress: %s: a host call over %u bytes; the channel is closed", g->who,
                         REQUEST_MAX);
                return false;
        }
        json_t *req = json_loadb(line, len, 0, NULL);
        if (!json_is_object(req)) {
                json_decref(req);
                log_warn("egress: %s: a host call that is not a JSON object; the channel is closed",
                         g->who);
                return false;
        }
        json_t *ans = ++g->calls > CALLS_MAX
                          ? fail("at most %u host calls per tool call", CALLS_MAX)
                          : perform(g, req);
        json_decref(req);
        const char *why;
        int r = mcp_send_line(g->fd, ans, g->p.deadline_ns, 0, &why);
        json_decref(ans);
        if (r && r != MCP_E_CLOSED)
                log_warn("egress: %s: %s; the channel is closed", g->who, why);
        return r == 0;
}

static void *serve(void *arg)
{
        struct mcp_egress *g = arg;
        mcp_read_lines(g->fd, REQUEST_MAX, on_request, g);
        shutdown(g->fd, SHUT_RDWR);
        return NULL;
}

static void init_curl(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct mcp_egress *mcp_egress_start(int fd, const struct mcp_egress_policy *p, osvm_err *e)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, init_curl);
        struct mcp_egress *g = xcalloc(1, sizeof(*g));
        g->fd = fd;
        g->p = *p;
        g->who = xstrdup(p->who ? p->who : "tool");
        g->rpc_url = p->rpc_url ? xstrdup(p->rpc_url) : NULL;
        g->rpc_key = p->rpc_key ? xstrdup(p->rpc_key) : NULL;
        g->p.who = g->who;
        g->p.rpc_url = g->rpc_url;
        g->p.rpc_key = NULL; /* only g->rpc_key holds it */
        int r = pthread_create(&g->thread, NULL, serve, g);
        if (r != 0) {
                errno = r;
                err_sys(e, "starting the host-call thread");
                free(g->who);
                free(g->rpc_url);
                free(g->rpc_key);
                free(g);
                close(fd);
                return NULL;
        }
        return g;
}

unsigned mcp_egress_finish(struct mcp_egress *g)
{
        if (!g)
                return 0;
        /* the tool is gone: end a read that waits and a request in flight */
        atomic_store(&g->stop, true);
        shutdown(g->fd, SHUT_RDWR);
        pthread_join(g->thread, NULL);
        close(g->fd);
        unsigned calls = g->calls;
        free(g->who);
        free(g->rpc_url);
        if (g->rpc_key) {
                explicit_bzero(g->rpc_key, strlen(g->rpc_key));
                free(g->rpc_key);
        }
        free(g);
        return calls;
}
