/*
 * OAuth 2.1 authorization for Streamable HTTP servers (MCP 2025-11-25):
 * protected resource metadata (RFC 9728) from WWW-Authenticate or the
 * well-known URIs, authorization server metadata (RFC 8414, OpenID
 * discovery), a client from the registry, a client ID metadata document or
 * dynamic registration (RFC 7591), PKCE S256, the resource parameter
 * (RFC 8707), scopes and step-up, refresh, and the browser step with a
 * loopback redirect.
 *
 * Everything the servers send is untrusted: documents are bounded, every
 * URL is checked (https, or http on loopback), the protected resource must
 * be the server osvm talks to, the authorization server must be the issuer
 * it names. The access token goes to the MCP server's URL alone (the
 * transport adds it there) and is never logged; tokens are kept 0600, one
 * file per server, under the state directory.
 */
#include "mcp/transport.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define OAUTH_DOC_MAX      (256u * 1024) /* a metadata document or token response */
#define OAUTH_HTTP_MS      30000u        /* one request to a metadata or token endpoint */
#define OAUTH_BROWSER_MS   300000u       /* the person's sign-in, when no deadline is nearer */
#define OAUTH_CALLBACK_MAX 8192u         /* the redirect's request head */
#define OAUTH_MAX_SCOPE    1024u
#define OAUTH_TOKEN_MAX    8192u
#define OAUTH_DIR          "mcp-auth"

struct mcp_oauth {
        char *server; /* for messages */
        char *url;    /* the MCP server's URL */
        struct mcp_oauth_conf conf;
        char *store;    /* the token file; NULL: memory only */
        json_t *state;  /* {resource, issuer, client_id, client_secret, auth_method,
                         * access_token, refresh_token, expires_at, scope, token_endpoint} */
        char *header;   /* "Bearer ..." of the current token */
        unsigned flows; /* authorizations in this run */
};

/* ---- small helpers ---- */

static void b64url(const unsigned char *in, size_t n, char *out)
{
        static const char tab[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned)in[i] << 16;
                if (i + 1 < n)
                        v |= (unsigned)in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                out[o++] = tab[(v >> 18) & 63];
                out[o++] = tab[(v >> 12) & 63];
                if (i + 1 < n)
                        out[o++] = tab[(v >> 6) & 63];
                if (i + 2 < n)
                        out[o++] = tab[v & 63];
        }
        out[o] = '\0';
}

static void b64(const char *in, strbuf *b)
{
        static const char tab[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = strlen(in);
        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned)(unsigned char)in[i] << 16;
                if (i + 1 < n)
                        v |= (unsigned)(unsigned char)in[i + 1] << 8;
                if (i + 2 < n)
                        v |= (unsigned char)in[i + 2];
                char q[5] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                             i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '=',
                             0};
                sb_add(b, q);
        }
}

/* n random bytes as base64url (n <= 64; out holds 4 * n / 3 + 2 bytes). */
static int random_b64url(size_t n, char *out, osvm_err *e)
{
        unsigned char r[64];
        size_t got = 0;
        while (got < n) {
                ssize_t k = getrandom(r + got, n - got, 0);
                if (k < 0 && errno != EINTR)
                        return err_sys(e, "getrandom");
                if (k > 0)
                        got += (size_t)k;
        }
        b64url(r, n, out);
        return 0;
}

/* A string's value when it is a clean one (no NUL, fit for a header), else NULL. */
static const char *jstr(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        const char *s = json_string_value(v);
        return s && strlen(s) == json_string_length(v) && text_header_value_ok(s) ? s : NULL;
}

static void form_add(strbuf *b, const char *k, const char *v)
{
        char *ek = curl_easy_escape(NULL, k, 0), *ev = curl_easy_escape(NULL, v, 0);
        sb_addf(b, "%s%s=%s", b->len ? "&" : "", ek ? ek : "", ev ? ev : "");
        curl_free(ek);
        curl_free(ev);
}

/* The parts of a URL osvm compares (all lower-case but the path); false when it is none. */
struct url_parts {
        char scheme[8], host[256], port[8], path[1024];
};

static bool url_split(const char *url, struct url_parts *p)
{
        memset(p, 0, sizeof(*p));
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
        bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK;
        ok = ok && (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https")) &&
             strlen(host) < sizeof(p->host) && strlen(path) < sizeof(p->path) &&
             strlen(port) < sizeof(p->port);
        if (ok) {
                for (size_t i = 0; scheme[i] && i < sizeof(p->scheme) - 1; i++)
                        p->scheme[i] = (char)(scheme[i] | 0x20);
                for (size_t i = 0; host[i]; i++)
                        p->host[i] =
                            (host[i] >= 'A' && host[i] <= 'Z') ? (char)(host[i] | 0x20) : host[i];
                snprintf(p->port, sizeof(p->port), "%s", port);
                snprintf(p->path, sizeof(p->path), "%s", path);
                /* no trailing slash: "https://a/" and "https://a" are the same resource */
                size_t n = strlen(p->path);
                while (n > 0 && p->path[n - 1] == '/')
                        p->path[--n] = '\0';
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_free(path);
        curl_url_cleanup(u);
        return ok;
}

static bool is_loopback(const char *host)
{
        return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "[::1]") ||
               !strcmp(host, "::1");
}

static bool same_origin(const struct url_parts *a, const struct url_parts *b)
{
        return !strcmp(a->scheme, b->scheme) && !strcmp(a->host, b->host) &&
               !strcmp(a->port, b->port);
}

/* Why url may not be used for authorization (https, or http on loopback), or NULL. */
static const char *url_problem(const char *url, struct url_parts *p)
{
        if (!url || !url_split(url, p))
                return "it is not an http:// or https:// URL";
        if (strcmp(p->scheme, "https") && !is_loopback(p->host))
                return "it is not https (plain http is allowed on loopback only)";
        return NULL;
}

/* A URL from a server, short and printable, for a message (a new string). */
static char *shown(const char *url)
{
        strbuf b = {0};
        size_t n = url ? strlen(url) : 0;
        sb_add_sanitized(&b, url ? url : "(none)", n < 160 ? n : 160, 0);
        if (n > 160)
                sb_add(&b, "...");
        return sb_steal(&b);
}

/* ---- requests to metadata and token endpoints ---- */

struct fetch {
        strbuf body;
        bool too_large;
        const struct mcp_wait *w;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
        struct fetch *f = ud;
        size_t len = size * n;
        if (f->body.len + len > OAUTH_DOC_MAX) {
                f->too_large = true;
                return 0;
        }
        sb_addn(&f->body, p, len);
        return len;
}

static int on_xfer(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
        (void)a, (void)b, (void)c, (void)d;
        const struct fetch *f = ud;
        return f->w && f->w->cancel && *f->w->cancel;
}

/*
 * GET url (form NULL) or POST form (a form, or JSON when json). Returns the
 * HTTP status with the body parsed as JSON in *out (NULL when it is not
 * JSON), or -1 with e set. Redirects are not followed.
 */
static long request_as(struct mcp_oauth *o, const char *url, const char *form, bool json,
                       const char *basic, json_t **out, const struct mcp_wait *w, osvm_err *e)
{
        *out = NULL;
        CURL *c = curl_easy_init();
        if (!c)
                return err_set(e, ENOMEM, "%s: cannot create a curl handle", o->server);
        struct fetch f = {.w = w};
        struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
        if (form)
                h = curl_slist_append(h, json ? "Content-Type: application/json"
                                              : "Content-Type: application/x-www-form-urlencoded");
        strbuf auth = {0};
        if (basic) {
                sb_add(&auth, "Authorization: Basic ");
                b64(basic, &auth);
                h = curl_slist_append(h, auth.s);
        }
        uint64_t now = time_mono_ns();
        uint64_t ms = OAUTH_HTTP_MS;
        if (w && w->deadline_ns && w->deadline_ns > now && (w->deadline_ns - now) / 1000000 < ms)
                ms = (w->deadline_ns - now) / 1000000 + 1;
        else if (w && w->deadline_ns && w->deadline_ns <= now)
                ms = 1;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ms);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &f);
        if (form)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        sb_free(&auth);
        curl_easy_cleanup(c);
        _cleanup_free_ char *where = shown(url);
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
                sb_free(&f.body);
                return mcp_err_cancelled(e, "%s: authorization cancelled", o->server);
        }
        if (f.too_large) {
                sb_free(&f.body);
                return err_set(e, MCP_E_TOO_LARGE, "%s: %s: the answer is larger than %u KiB",
                               o->server, where, OAUTH_DOC_MAX / 1024);
        }
        if (rc != CURLE_OK) {
                sb_free(&f.body);
                return err_set(e, rc == CURLE_OPERATION_TIMEDOUT ? MCP_E_TIMEOUT : EIO,
                               "%s: %s: %s", o->server, where, curl_easy_strerror(rc));
        }
        if (f.body.len)
                *out = mcp_json_loadb(f.body.s, f.body.len, 0, NULL);
        sb_free(&f.body);
        return status;
}

static long request(struct mcp_oauth *o, const char *url, const char *form, const char *basic,
                    json_t **out, const struct mcp_wait *w, osvm_err *e)
{
        return request_as(o, url, form, false, basic, out, w, e);
}

/* GET a JSON object document; NULL (e untouched) when it is not there or not one. */
static json_t *get_doc(struct mcp_oauth *o, const char *url, const struct mcp_wait *w, bool *failed,
                       osvm_err *e)
{
        json_t *doc;
        long st = request(o, url, NULL, NULL, &doc, w, e);
        if (st < 0) {
                *failed = true;
                return NULL;
        }
        if (st != 200 || !json_is_object(doc)) {
                _cleanup_free_ char *where = shown(url);
                log_debug("%s: no metadata at %s (HTTP %ld%s)", o->server, where, st,
                          st == 200 ? ", not a JSON object" : "");
                json_decref(doc);
                return NULL;
        }
        return doc;
}

/* ---- the token store ---- */

static void state_save(struct mcp_oauth *o)
{
        if (!o->store)
                return;
        osvm_err e = {0};
        _cleanup_free_ char *dir = fs_dirname(o->store);
        char *text = json_dumps(o->state, JSON_INDENT(2));
        if (fs_mkdir_p(dir, 0700, &e) == 0 && text)
                fs_write_atomic(o->store, text, strlen(text), 0600, &e);
        free(text);
        if (e.msg[0])
                log_warn("%s: the token could not be kept: %s", o->server, e.msg);
}

static void set_header(struct mcp_oauth *o)
{
        free(o->header);
        o->header = NULL;
        const char *tok = jstr(o->state, "access_token");
        if (tok)
                o->header = xasprintf("Bearer %s", tok);
}

static char *store_path(const char *id)
{
        _cleanup_free_ char *dir = paths_state_dir();
        /* ids hold no '/' (the registry checks): the name stays in the directory */
        return xasprintf("%s/%s/%s.json", dir, OAUTH_DIR, id);
}

struct mcp_oauth *mcp_oauth_new(const char *server, const char *url,
                                const struct mcp_oauth_conf *conf)
{
        struct mcp_oauth *o = xcalloc(1, sizeof(*o));
        o->server = xstrdup(server);
        o->url = xstrdup(url);
        if (conf)
                o->conf = *conf;
        o->state = NULL;
        if (conf && conf->store_id && !strchr(conf->store_id, '/')) {
                o->store = store_path(conf->store_id);
                char *text = NULL;
                size_t len;
                osvm_err e = {0};
                struct stat st;
                if (stat(o->store, &st) == 0 &&
                    fs_read_file(o->store, OAUTH_DOC_MAX, &text, &len, &e) == 0) {
                        o->state = json_loadb(text, len, 0, NULL);
                        free(text);
                }
                /* a token of another resource (the URL changed) is not sent here */
                const char *res = jstr(o->state, "server_url");
                if (o->state && (!json_is_object(o->state) || !res || strcmp(res, url))) {
                        json_decref(o->state);
                        o->state = NULL;
                }
        }
        if (!o->state)
                o->state = json_object();
        set_header(o);
        return o;
}

void mcp_oauth_free(struct mcp_oauth *o)
{
        if (!o)
                return;
        json_decref(o->state);
        free(o->header);
        free(o->store);
        free(o->server);
        free(o->url);
        free(o);
}

const char *mcp_oauth_header(const struct mcp_oauth *o)
{
        return o ? o->header : NULL;
}

int mcp_oauth_logout(const char *id, bool *had, osvm_err *e)
{
        *had = false;
        if (strchr(id, '/'))
                return err_set(e, EINVAL, "\"%s\" is not a server id", id);
        _cleanup_free_ char *p = store_path(id);
        if (unlink(p) == 0) {
                *had = true;
                return 0;
        }
        return errno == ENOENT ? 0 : err_sys(e, "removing %s", p);
}

/* ---- WWW-Authenticate ---- */

static bool isalnum_c(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The value of one auth-param of a Bearer challenge, into out (empty when absent). */
static void www_param(const char *www, const char *name, char *out, size_t cap)
{
        out[0] = '\0';
        size_t n = strlen(name);
        for (const char *p = www; p && *p; p++) {
                if (strncasecmp(p, name, n) != 0 || (p > www && (isalnum_c(p[-1]) || p[-1] == '_')))
                        continue;
                const char *q = p + n;
                while (*q == ' ')
                        q++;
                if (*q != '=')
                        continue;
                q++;
                while (*q == ' ')
                        q++;
                size_t o = 0;
                if (*q == '"') {
                        for (q++; *q && *q != '"' && o + 1 < cap; q++) {
                                if (*q == '\\' && q[1])
                                        q++;
                                out[o++] = *q;
                        }
                } else {
                        for (; *q && *q != ',' && *q != ' ' && o + 1 < cap; q++)
                                out[o++] = *q;
                }
                out[o] = '\0';
                return;
        }
}

/* ---- discovery ---- */

/*
 * The protected resource metadata: from the challenge's resource_metadata,
 * else the well-known URIs (path-based first). Its resource must be the
 * server osvm talks to. NULL with *failed false: the server publishes none
 * (a server of the 2025-03-26 revision).
 */
static json_t *discover_prm(struct mcp_oauth *o, const char *www, const struct mcp_wait *w,
                            bool *failed, osvm_err *e)
{
        struct url_parts mcp, p;
        url_split(o->url, &mcp);
        char rm[2048];
        www_param(www, "resource_metadata", rm, sizeof(rm));
        json_t *doc = NULL;
        if (rm[0]) {
                const char *why = url_problem(rm, &p);
                if (why) {
                        _cleanup_free_ char *s = shown(rm);
                        *failed = true;
                        err_set(e, MCP_E_PROTOCOL,
                                "%s: the server's resource_metadata URL (%s) cannot be used: %s",
                                o->server, s, why);
                        return NULL;
                }
                doc = get_doc(o, rm, w, failed, e);
        } else {
                char *cands[2] = {NULL, NULL};
                char origin[300];
                snprintf(origin, sizeof(origin), "%s://%s:%s", mcp.scheme, mcp.host, mcp.port);
                if (mcp.path[0])
                        cands[0] = xasprintf("%s/.well-known/oauth-protected-resource%s", origin,
                                             mcp.path);
                cands[1] = xasprintf("%s/.well-known/oauth-protected-resource", origin);
                for (int i = 0; i < 2 && !doc && !*failed; i++)
                        if (cands[i])
                                doc = get_doc(o, cands[i], w, failed, e);
                free(cands[0]);
                free(cands[1]);
        }
        if (!doc)
                return NULL;
        /* RFC 9728 3.3: the resource is the server osvm asked, or what holds it */
        const char *res = jstr(doc, "resource");
        struct url_parts rp;
        bool match = res && url_split(res, &rp) && same_origin(&rp, &mcp) &&
                     !strncmp(mcp.path, rp.path, strlen(rp.path)) &&
                     (mcp.path[strlen(rp.path)] == '\0' || mcp.path[strlen(rp.path)] == '/');
        if (!match) {
                _cleanup_free_ char *s = shown(res), *m = mcp_url_public(o->url);
                *failed = true;
                err_set(e, MCP_E_PROTOCOL,
                        "%s: the protected resource metadata names the resource %s, not this "
                        "server (%s); refused: a token for it would not be a token for this server",
                        o->server, s, m ? m : "its URL");
                json_decref(doc);
                return NULL;
        }
        return doc;
}

/* The authorization server's metadata (RFC 8414 and OpenID discovery, in the spec's order). */
static json_t *discover_as(struct mcp_oauth *o, const char *issuer, bool legacy,
                           const struct mcp_wait *w, osvm_err *e)
{
        struct url_parts p;
        const char *why = url_problem(issuer, &p);
        _cleanup_free_ char *is = shown(issuer);
        if (why) {
                err_set(e, MCP_E_PROTOCOL, "%s: the authorization server %s cannot be used: %s",
                        o->server, is, why);
                return NULL;
        }
        char origin[300];
        snprintf(origin, sizeof(origin), "%s://%s:%s", p.scheme, p.host, p.port);
        char *c[3] = {0};
        if (p.path[0]) {
                c[0] = xasprintf("%s/.well-known/oauth-authorization-server%s", origin, p.path);
                c[1] = xasprintf("%s/.well-known/openid-configuration%s", origin, p.path);
                c[2] = xasprintf("%s%s/.well-known/openid-configuration", origin, p.path);
        } else {
                c[0] = xasprintf("%s/.well-known/oauth-authorization-server", origin);
                c[1] = xasprintf("%s/.well-known/openid-configuration", origin);
        }
        json_t *doc = NULL;
        bool failed = false;
        for (int i = 0; i < 3 && !doc && !failed; i++)
                if (c[i])
                        doc = get_doc(o, c[i], w, &failed, e);
        for (int i = 0; i < 3; i++)
                free(c[i]);
        if (!doc)
                return NULL;
        /* RFC 8414 3.3: the issuer must be the server asked (a server of the 2025-03-26
         * revision, found at the MCP server's origin, at least of that origin) */
        struct url_parts ip;
        const char *iss = jstr(doc, "issuer");
        if (!iss || !url_split(iss, &ip) || !same_origin(&ip, &p) ||
            (!legacy && strcmp(ip.path, p.path))) {
                _cleanup_free_ char *s = shown(iss);
                err_set(e, MCP_E_PROTOCOL,
                        "%s: the authorization server metadata of %s names the issuer %s; "
                        "refused (RFC 8414: they must be the same)",
                        o->server, is, s);
                json_decref(doc);
                return NULL;
        }
        return doc;
}

/* An endpoint from the metadata, checked (https, or http on loopback); NULL with e set. */
static const char *endpoint(struct mcp_oauth *o, json_t *as, const char *key, bool need,
                            osvm_err *e)
{
        const char *u = jstr(as, key);
        struct url_parts p;
        if (!u) {
                if (need)
                        err_set(e, MCP_E_PROTOCOL,
                                "%s: the authorization server's metadata has no %s", o->server,
                                key);
                return NULL;
        }
        const char *why = url_problem(u, &p);
        if (why) {
                _cleanup_free_ char *s = shown(u);
                err_set(e, MCP_E_PROTOCOL,
                        "%s: the authorization server's %s (%s) cannot be used: %s", o->server, key,
                        s, why);
                return NULL;
        }
        return u;
}

static bool list_has(json_t *arr, const char *s)
{
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) if (json_is_string(v) &&
                                          !strcmp(json_string_value(v), s)) return true;
        return false;
}

/* ---- the loopback redirect ---- */

struct listener {
        int fd;
        int port;
};

static int listen_loopback(struct listener *l, osvm_err *e)
{
        l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (l->fd < 0)
                return err_sys(e, "socket");
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t n = sizeof(a);
        if (bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l->fd, 8) < 0 ||
            getsockname(l->fd, (struct sockaddr *)&a, &n) < 0) {
                err_sys(e, "listening on loopback for the sign-in's redirect");
                close(l->fd);
                return -1;
        }
        l->port = ntohs(a.sin_port);
        return 0;
}

/* A query parameter of the request target, decoded, into a new string (NULL when absent). */
static char *query_param(const char *target, const char *name)
{
        const char *q = strchr(target, '?');
        size_t n = strlen(name);
        for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
                const char *k = p + 1;
                if (strncmp(k, name, n) || k[n] != '=')
                        continue;
                const char *v = k + n + 1;
                size_t len = strcspn(v, "& #");
                int outlen = 0;
                char *d = curl_easy_unescape(NULL, v, (int)len, &outlen);
                char *r = NULL;
                if (d && (size_t)outlen == strlen(d)) {
                        for (char *x = d; *x; x++)
                                if (*x == '+')
                                        *x = ' ';
                        r = xstrdup(d);
                }
                curl_free(d);
                return r;
        }
        return NULL;
}

static void answer_page(int fd, int status, const char *text)
{
        char buf[512];
        int n = snprintf(buf, sizeof(buf),
                         "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                         status, status == 200 ? "OK" : "Not Found", strlen(text), text);
        if (n > 0 && write(fd, buf, (size_t)n) < 0)
                log_debug("the sign-in's redirect: could not answer the browser");
}

/*
 * Waits for the browser's redirect to /callback; returns the code (a new
 * string) or NULL with e set. The state must be ours.
 */
static char *await_code(struct mcp_oauth *o, struct listener *l, const char *state,
                        const struct mcp_wait *w, osvm_err *e)
{
        /* the person's time, not the server's: the request's deadline starts again after */
        uint64_t end = time_mono_ns() + (uint64_t)OAUTH_BROWSER_MS * 1000000u;
        for (;;) {
                if (w && w->cancel && *w->cancel) {
                        mcp_err_cancelled(e, "%s: sign-in cancelled", o->server);
                        return NULL;
                }
                uint64_t now = time_mono_ns();
                if (now >= end) {
                        err_set(e, MCP_E_TIMEOUT,
                                "%s: the sign-in did not come back (no redirect to "
                                "http://127.0.0.1:%d/callback in time)",
                                o->server, l->port);
                        return NULL;
                }
                struct pollfd p = {l->fd, POLLIN, 0};
                uint64_t left = (end - now) / 1000000 + 1;
                int r = poll(&p, 1, left < 100 ? (int)left : 100);
                if (r <= 0)
                        continue;
                int c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                /* the request head, bounded, read for at most 10 s */
                char req[OAUTH_CALLBACK_MAX + 1];
                size_t got = 0;
                uint64_t rend = time_mono_ns() + 10000000000ull;
                while (got < OAUTH_CALLBACK_MAX && !memmem(req, got, "\r\n\r\n", 4) &&
                       time_mono_ns() < rend) {
                        struct pollfd cp = {c, POLLIN, 0};
                        if (poll(&cp, 1, 100) <= 0)
                                continue;
                        ssize_t k = read(c, req + got, OAUTH_CALLBACK_MAX - got);
                        if (k <= 0)
                                break;
                        got += (size_t)k;
                }
                req[got] = '\0';
                char target[OAUTH_CALLBACK_MAX];
                if (sscanf(req, "GET %8191s HTTP/", target) != 1 ||
                    strncmp(target, "/callback", 9) || (target[9] && target[9] != '?')) {
                        answer_page(c, 404, "not found\n");
                        close(c);
                        continue;
                }
                char *st = query_param(target, "state"), *code = query_param(target, "code");
                char *err = query_param(target, "error");
                if (!st || strcmp(st, state)) {
                        /* not our sign-in (or a forged one): ignored */
                        answer_page(c, 404, "this is not the sign-in osvm is waiting for\n");
                        close(c);
                        free(st), free(code), free(err);
                        continue;
                }
                free(st);
                if (err || !code) {
                        answer_page(c, 200, "osvm: the sign-in failed; see the terminal.\n");
                        close(c);
                        char *desc = text_sanitize(err ? err : "no code", 0);
                        err_set(e, EACCES, "%s: the authorization server refused the sign-in: %s",
                                o->server, desc);
                        free(desc), free(err), free(code);
                        return NULL;
                }
                answer_page(c, 200, "osvm: signed in. You can close this window.\n");
                close(c);
                free(err);
                return code;
        }
}

/* Runs $BROWSER (or xdg-open with a display) on url, not waiting for it. */
static void open_browser(const char *url)
{
        const char *b = getenv("BROWSER");
        const char *cmd;
        char *script = NULL;
        if (b && *b) {
                /* the URL is an argument, never shell text: "$1" */
                script = strstr(b, "%s") ? NULL : xasprintf("%s \"$1\"", b);
                if (!script) {
                        strbuf s = {0};
                        for (const char *p = b; *p; p++) {
                                if (p[0] == '%' && p[1] == 's')
                                        sb_add(&s, "\"$1\""), p++;
                                else
                                        sb_addn(&s, p, 1);
                        }
                        script = sb_steal(&s);
                }
                cmd = script;
        } else if (getenv("DISPLAY") || getenv("WAYLAND_DISPLAY")) {
                cmd = "xdg-open \"$1\"";
        } else {
                return;
        }
        /* in the background of a shell that ends at once: nobody waits for a browser */
        char *bg = xasprintf("( %s ) </dev/null >/dev/null &", cmd);
        char *argv[] = {"sh", "-c", bg, "osvm-browser", (char *)url, NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        if (posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ) != 0)
                log_warn("could not start the browser; open the URL yourself");
        else
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        posix_spawn_file_actions_destroy(&fa);
        free(bg);
        free(script);
}

/* ---- tokens ---- */

/*
 * A credential file of the user's (a private key, an ID token): a regular
 * file others cannot read, at most max bytes; a new string, or NULL with e
 * set naming the file and what is wrong.
 */
static char *read_secret_file(struct mcp_oauth *o, const char *what, const char *path, size_t max,
                              size_t *len, osvm_err *e)
{
        struct stat st;
        _cleanup_free_ char *shown_path = text_sanitize(path, 0);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                err_set(e, errno, "%s: %s %s: %s", o->server, what, shown_path, strerror(errno));
                return NULL;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
                close(fd);
                err_set(e, EACCES,
                        "%s: %s %s: not a regular file that only its owner may read (chmod 600 "
                        "it); refused",
                        o->server, what, shown_path);
                return NULL;
        }
        char *text = NULL;
        int r = fs_read_fd(fd, path, max, &text, len, e);
        close(fd);
        if (r < 0) {
                err_wrap(e, "%s: %s %s", o->server, what, shown_path);
                return NULL;
        }
        return text;
}

/*
 * The client's assertion for private_key_jwt (RFC 7523 section 2.2, SEP-1046):
 * a JWT of iss = sub = the client ID, aud = the authorization server's
 * issuer, five minutes of life and a random jti, signed with the client's
 * key: ES256 for an EC P-256 key, RS256 for an RSA key of 2048 bits or more.
 */
static char *client_assertion(struct mcp_oauth *o, osvm_err *e)
{
        const char *id = jstr(o->state, "client_id"), *aud = jstr(o->state, "issuer");
        size_t n = 0;
        char *pem =
            read_secret_file(o, "the client key", o->conf.client_key_file, 64 * 1024, &n, e);
        if (!pem)
                return NULL;
        BIO *bio = BIO_new_mem_buf(pem, (int)n);
        EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        explicit_bzero(pem, n);
        free(pem);
        const char *alg = NULL;
        if (key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_get_bits(key) == 256)
                alg = "ES256";
        else if (key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) >= 2048)
                alg = "RS256";
        if (!alg || !id || !aud) {
                EVP_PKEY_free(key);
                err_set(e, EINVAL,
                        "%s: the client key is %s; osvm signs with an EC P-256 key (ES256) or an "
                        "RSA key of 2048 bits or more (RS256), in PEM",
                        o->server, key ? "of another kind" : "not a PEM private key");
                return NULL;
        }
        char jti[32];
        if (random_b64url(16, jti, e) < 0) {
                EVP_PKEY_free(key);
                return NULL;
        }
        json_int_t now = (json_int_t)time(NULL);
        json_t *hdr = json_pack("{s:s, s:s}", "alg", alg, "typ", "JWT");
        json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", id, "sub", id, "aud",
                                   aud, "iat", now, "exp", now + 300, "jti", jti);
        char *h = json_dumps(hdr, JSON_COMPACT), *c = json_dumps(claims, JSON_COMPACT);
        json_decref(hdr);
        json_decref(claims);
        strbuf in = {0};
        char *part = xmalloc(strlen(h) * 4 / 3 + strlen(c) * 4 / 3 + 8);
        b64url((const unsigned char *)h, strlen(h), part);
        sb_add(&in, part);
        sb_add(&in, ".");
        b64url((const unsigned char *)c, strlen(c), part);
        sb_add(&in, part);
        free(part);
        free(h);
        free(c);
        unsigned char *sig = NULL, raw[64];
        size_t siglen = 0;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        bool ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
                  EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)in.s, in.len) == 1 &&
                  (sig = xmalloc(siglen)) &&
                  EVP_DigestSign(md, sig, &siglen, (const unsigned char *)in.s, in.len) == 1;
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(key);
        if (ok && alg[0] == 'E') {
                /* JWS wants R and S, 32 bytes each, where OpenSSL gives DER */
                const unsigned char *p = sig;
                ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
                const BIGNUM *r, *sv;
                ok = es != NULL;
                if (ok) {
                        ECDSA_SIG_get0(es, &r, &sv);
                        ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(sv, raw + 32, 32) == 32;
                }
                ECDSA_SIG_free(es);
                if (ok) {
                        memcpy(sig, raw, 64); /* a DER ECDSA-P256 signature is longer than 64 */
                        siglen = 64;
                }
        }
        if (!ok) {
                free(sig);
                sb_free(&in);
                err_set(e, EINVAL, "%s: signing the client assertion with the client key failed",
                        o->server);
                return NULL;
        }
        char *b = xmalloc(siglen * 4 / 3 + 4);
        b64url(sig, siglen, b);
        sb_addf(&in, ".%s", b);
        free(b);
        free(sig);
        return sb_steal(&in);
}

/* The client's authentication at the token endpoint, added to the form or as
 * Basic; -1 with e set when it cannot be made (a key that does not sign). */
static int client_auth(struct mcp_oauth *o, strbuf *form, char **basic, osvm_err *e)
{
        const char *id = jstr(o->state, "client_id"), *secret = jstr(o->state, "client_secret");
        const char *method = jstr(o->state, "auth_method");
        *basic = NULL;
        if (method && !strcmp(method, "private_key_jwt")) {
                char *jwt = client_assertion(o, e);
                if (!jwt)
                        return -1;
                form_add(form, "client_id", id ? id : "");
                form_add(form, "client_assertion_type",
                         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
                form_add(form, "client_assertion", jwt);
                free(jwt);
        } else if (secret && (!method || !strcmp(method, "client_secret_basic"))) {
                char *ei = curl_easy_escape(NULL, id, 0), *es = curl_easy_escape(NULL, secret, 0);
                *basic = xasprintf("%s:%s", ei, es); /* RFC 6749 2.3.1: form-encoded first */
                curl_free(ei);
                curl_free(es);
        } else {
                form_add(form, "client_id", id ? id : "");
                if (secret && method && !strcmp(method, "client_secret_post"))
                        form_add(form, "client_secret", secret);
        }
        return 0;
}

/* Takes a token response; 0, or -1 with e set naming what was wrong. */
static int take_tokens(struct mcp_oauth *o, long status, json_t *r, const char *what, osvm_err *e)
{
        const char *at = jstr(r, "access_token");
        const char *tt = jstr(r, "token_type");
        if (status != 200 || !at) {
                const char *err = json_is_object(r) ? jstr(r, "error") : NULL;
                const char *desc = json_is_object(r) ? jstr(r, "error_description") : NULL;
                _cleanup_free_ char *se = text_sanitize(err ? err : "", 0);
                _cleanup_free_ char *sd = text_sanitize(desc ? desc : "", 0);
                if (status == 200)
                        return err_set(e, MCP_E_PROTOCOL,
                                       "%s: %s: the token endpoint answered without an "
                                       "access_token%s; refused",
                                       o->server, what,
                                       json_is_object(r) ? "" : " (not a JSON object)");
                return err_set(e, EACCES, "%s: %s: the token endpoint refused: HTTP %ld%s%s%s%s",
                               o->server, what, status, err ? ": " : "", se, desc ? ": " : "", sd);
        }
        if (strlen(at) > OAUTH_TOKEN_MAX)
                return err_set(e, MCP_E_PROTOCOL,
                               "%s: %s: the access token is longer than %u bytes", o->server, what,
                               OAUTH_TOKEN_MAX);
        if (tt && strcasecmp(tt, "bearer"))
                return err_set(e, MCP_E_PROTOCOL,
                               "%s: %s: the token is of a type osvm does not use (not Bearer)",
                               o->server, what);
        json_object_set_new(o->state, "access_token", json_string(at));
        const char *rt = jstr(r, "refresh_token");
        if (rt && strlen(rt) <= OAUTH_TOKEN_MAX)
                json_object_set_new(o->state, "refresh_token", json_string(rt));
        json_t *exp = json_object_get(r, "expires_in");
        if (json_is_integer(exp) && json_integer_value(exp) > 0)
                json_object_set_new(o->state, "expires_at",
                                    json_integer((json_int_t)time(NULL) + json_integer_value(exp)));
        else
                json_object_del(o->state, "expires_at");
        const char *sc = jstr(r, "scope");
        if (sc && strlen(sc) <= OAUTH_MAX_SCOPE)
                json_object_set_new(o->state, "scope", json_string(sc));
        set_header(o);
        state_save(o);
        return 0;
}

static long token_request(struct mcp_oauth *o, strbuf *form, json_t **r, const struct mcp_wait *w,
                          osvm_err *e)
{
        char *basic;
        *r = NULL;
        if (client_auth(o, form, &basic, e) < 0)
                return -1;
        const char *res = jstr(o->state, "resource");
        if (res)
                form_add(form, "resource", res);
        long st = request(o, jstr(o->state, "token_endpoint"), form->s, basic, r, w, e);
        free(basic);
        return st;
}

#define JWT_BEARER_GRANT "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define ID_JAG_TYPE      "urn:ietf:params:oauth:token-type:id-jag"

/*
 * Enterprise-managed authorization (SEP-990, "cross-app access"): the person
 * signed in to their organization's identity provider, which gave an ID
 * token (conf.id_token_file). The IdP's token endpoint exchanges it (RFC
 * 8693) for an identity assertion grant (ID-JAG) whose audience is this
 * authorization server and whose resource is this server; the authorization
 * server takes that as a JWT bearer grant (RFC 7523) from the registered
 * client, and gives the access token. No browser, no consent screen.
 */
static int identity_assertion_grant(struct mcp_oauth *o, const char *issuer, const char *scope,
                                    const struct mcp_wait *w, osvm_err *e)
{
        struct url_parts p;
        const char *why = url_problem(o->conf.idp_token_endpoint, &p);
        if (why) {
                _cleanup_free_ char *u = shown(o->conf.idp_token_endpoint);
                return err_set(e, EINVAL, "%s: the identity provider's token endpoint (%s): %s",
                               o->server, u, why);
        }
        size_t n = 0;
        char *idt =
            read_secret_file(o, "the ID token", o->conf.id_token_file, OAUTH_TOKEN_MAX, &n, e);
        if (!idt)
                return -1;
        while (n && strchr(" \t\r\n", idt[n - 1])) /* a file's last newline */
                idt[--n] = '\0';
        const char *res = jstr(o->state, "resource");
        strbuf f = {0};
        form_add(&f, "grant_type", "urn:ietf:params:oauth:grant-type:token-exchange");
        form_add(&f, "requested_token_type", ID_JAG_TYPE);
        form_add(&f, "audience", issuer);
        if (res)
                form_add(&f, "resource", res);
        if (scope)
                form_add(&f, "scope", scope);
        form_add(&f, "subject_token", idt);
        form_add(&f, "subject_token_type", "urn:ietf:params:oauth:token-type:id_token");
        if (o->conf.idp_client_id)
                form_add(&f, "client_id", o->conf.idp_client_id);
        explicit_bzero(idt, n);
        free(idt);
        json_t *r = NULL;
        long st = request(o, o->conf.idp_token_endpoint, f.s, NULL, &r, w, e);
        explicit_bzero(f.s, f.len);
        sb_free(&f);
        if (st < 0)
                return -1;
        const char *jag = jstr(r, "access_token"), *type = jstr(r, "issued_token_type");
        if (st != 200 || !jag || !type || strcmp(type, ID_JAG_TYPE) ||
            strlen(jag) > OAUTH_TOKEN_MAX) {
                const char *err = json_is_object(r) ? jstr(r, "error") : NULL;
                _cleanup_free_ char *se = text_sanitize(err ? err : "", 0);
                err_set(e, EACCES,
                        "%s: the identity provider did not exchange the ID token for an identity "
                        "assertion grant (HTTP %ld%s%s)",
                        o->server, st, err ? ": " : "", se);
                json_decref(r);
                return -1;
        }
        strbuf g = {0};
        form_add(&g, "grant_type", JWT_BEARER_GRANT);
        form_add(&g, "assertion", jag);
        json_decref(r);
        if (scope)
                form_add(&g, "scope", scope);
        st = token_request(o, &g, &r, w, e);
        explicit_bzero(g.s, g.len);
        sb_free(&g);
        int rc = st < 0 ? -1 : take_tokens(o, st, r, "the identity assertion grant", e);
        json_decref(r);
        return rc;
}

static int refresh(struct mcp_oauth *o, const struct mcp_wait *w, osvm_err *e)
{
        const char *rt = jstr(o->state, "refresh_token");
        if (!rt || !jstr(o->state, "token_endpoint"))
                return err_set(e, ENOENT, "no refresh token");
        strbuf form = {0};
        form_add(&form, "grant_type", "refresh_token");
        form_add(&form, "refresh_token", rt);
        json_t *r;
        long st = token_request(o, &form, &r, w, e);
        sb_free(&form);
        int rc = st < 0 ? -1 : take_tokens(o, st, r, "refreshing the token", e);
        json_decref(r);
        if (rc < 0) /* a refresh token that failed is not tried again */
                json_object_del(o->state, "refresh_token");
        return rc;
}

/* The scopes to ask for: the challenge's, else the resource's, else the configured ones. */
static char *choose_scope(struct mcp_oauth *o, const char *www, json_t *prm, json_t *as)
{
        char sc[OAUTH_MAX_SCOPE];
        www_param(www, "scope", sc, sizeof(sc));
        strbuf b = {0};
        if (sc[0]) {
                sb_add(&b, sc);
                /* step-up: keep what the token had as well */
                const char *had = jstr(o->state, "scope");
                char *copy = had ? xstrdup(had) : NULL, *save = NULL;
                for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t;
                     t = strtok_r(NULL, " ", &save)) {
                        char pad[OAUTH_MAX_SCOPE + 2];
                        snprintf(pad, sizeof(pad), " %s ", t);
                        char have[OAUTH_MAX_SCOPE + 2];
                        snprintf(have, sizeof(have), " %s ", b.s);
                        if (!strstr(have, pad) && b.len + strlen(t) + 1 < OAUTH_MAX_SCOPE)
                                sb_addf(&b, " %s", t);
                }
                free(copy);
        } else if (json_array_size(json_object_get(prm, "scopes_supported"))) {
                size_t i;
                json_t *v;
                json_array_foreach(json_object_get(prm, "scopes_supported"), i, v)
                {
                        const char *t = json_string_value(v);
                        if (t && text_header_value_ok(t) && !strchr(t, ' ') &&
                            b.len + strlen(t) + 1 < OAUTH_MAX_SCOPE)
                                sb_addf(&b, "%s%s", b.len ? " " : "", t);
                }
        } else if (o->conf.scope) {
                sb_add(&b, o->conf.scope);
        }
        /* a refresh token outlives this run: ask for one where the server offers it */
        if (b.len && list_has(json_object_get(as, "scopes_supported"), "offline_access") &&
            !strstr(b.s, "offline_access"))
                sb_add(&b, " offline_access");
        return b.len ? sb_steal(&b) : NULL;
}

/* A client: the registry's, a client ID metadata document, or dynamic registration. */
static int get_client(struct mcp_oauth *o, json_t *as, const char *issuer, const char *redirect,
                      const struct mcp_wait *w, osvm_err *e)
{
        json_t *methods = json_object_get(as, "token_endpoint_auth_methods_supported");
        if (o->conf.client_id) {
                json_object_set_new(o->state, "client_id", json_string(o->conf.client_id));
                if (o->conf.client_secret)
                        json_object_set_new(o->state, "client_secret",
                                            json_string(o->conf.client_secret));
                else
                        json_object_del(o->state, "client_secret");
                const char *m =
                    o->conf.client_key_file &&
                            (list_has(methods, "private_key_jwt") || !o->conf.client_secret)
                        ? "private_key_jwt"
                    : !o->conf.client_secret ? "none"
                    : !json_array_size(methods) || list_has(methods, "client_secret_basic")
                        ? "client_secret_basic"
                        : "client_secret_post";
                json_object_set_new(o->state, "issuer", json_string(issuer));
                json_object_set_new(o->state, "auth_method", json_string(m));
                return 0;
        }
        /* a client registered with this issuer before is used again */
        const char *was = jstr(o->state, "issuer");
        if (jstr(o->state, "client_id") && was && !strcmp(was, issuer))
                return 0;
        if (o->conf.client_metadata_url &&
            json_is_true(json_object_get(as, "client_id_metadata_document_supported"))) {
                json_object_set_new(o->state, "client_id",
                                    json_string(o->conf.client_metadata_url));
                json_object_del(o->state, "client_secret");
                json_object_set_new(o->state, "auth_method", json_string("none"));
                return 0;
        }
        const char *reg = endpoint(o, as, "registration_endpoint", false, e);
        if (!reg) {
                if (e->msg[0])
                        return -1;
                return err_set(e, EACCES,
                               "%s: the authorization server offers no dynamic client "
                               "registration; register osvm with it and give the client id "
                               "(osvm mcp add %s --url URL --client-id ID [--client-secret S])",
                               o->server, o->conf.store_id ? o->conf.store_id : "NAME");
        }
        json_t *body =
            json_pack("{s:s, s:[s], s:[s,s], s:[s], s:s}", "client_name", "osvm", "redirect_uris",
                      redirect, "grant_types", "authorization_code", "refresh_token",
                      "response_types", "code", "token_endpoint_auth_method", "none");
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        json_t *r;
        long st = request_as(o, reg, text, true, NULL, &r, w, e);
        free(text);
        if (st < 0)
                return -1;
        if ((st != 200 && st != 201) || !jstr(r, "client_id")) {
                _cleanup_free_ char *where = shown(reg);
                json_decref(r);
                return err_set(e, EACCES,
                               "%s: registering osvm as a client at %s failed (HTTP %ld%s)",
                               o->server, where, st,
                               st == 200 || st == 201 ? ", no client_id in the answer" : "");
        }
        json_object_set_new(o->state, "client_id", json_string(jstr(r, "client_id")));
        if (jstr(r, "client_secret"))
                json_object_set_new(o->state, "client_secret",
                                    json_string(jstr(r, "client_secret")));
        else
                json_object_del(o->state, "client_secret");
        const char *m = jstr(r, "token_endpoint_auth_method");
        if (!m)
                m = !jstr(r, "client_secret") ? "none"
                    : !json_array_size(methods) || list_has(methods, "client_secret_basic")
                        ? "client_secret_basic"
                        : "client_secret_post";
        json_object_set_new(o->state, "auth_method", json_string(m));
        json_decref(r);
        return 0;
}

/* The whole flow: discovery, a client, the browser step (or client credentials), the token. */
static int authorize(struct mcp_oauth *o, const char *www, const struct mcp_wait *w, osvm_err *e)
{
        bool failed = false;
        json_t *prm = discover_prm(o, www, w, &failed, e);
        if (failed)
                return -1;
        char issuer[2048];
        const char *res = NULL;
        if (prm) {
                json_t *as = json_object_get(prm, "authorization_servers");
                const char *first = json_string_value(json_array_get(as, 0));
                if (!first) {
                        json_decref(prm);
                        return err_set(e, MCP_E_PROTOCOL,
                                       "%s: the protected resource metadata names no "
                                       "authorization server",
                                       o->server);
                }
                snprintf(issuer, sizeof(issuer), "%s", first);
                res = jstr(prm, "resource");
        } else {
                /* the 2025-03-26 revision: the server's origin is the authorization server */
                struct url_parts p;
                url_split(o->url, &p);
                snprintf(issuer, sizeof(issuer), "%s://%s:%s", p.scheme, p.host, p.port);
        }
        json_t *as = discover_as(o, issuer, !prm, w, e);
        if (!as && e->msg[0]) {
                json_decref(prm);
                return -1;
        }
        if (!as) {
                if (prm) {
                        _cleanup_free_ char *s = shown(issuer);
                        json_decref(prm);
                        return err_set(e, MCP_E_PROTOCOL,
                                       "%s: the authorization server %s publishes no metadata",
                                       o->server, s);
                }
                /* the 2025-03-26 fallback: the default endpoints at the server's origin */
                as = json_pack("{s:s, s:s, s:s, s:s}", "issuer", issuer, "authorization_endpoint",
                               "/authorize", "token_endpoint", "/token", "registration_endpoint",
                               "/register");
                const char *keys[] = {"authorization_endpoint", "token_endpoint",
                                      "registration_endpoint"};
                for (int i = 0; i < 3; i++)
                        json_object_set_new(
                            as, keys[i],
                            json_sprintf("%s%s", issuer,
                                         json_string_value(json_object_get(as, keys[i]))));
        }
        int rc = -1;
        char *scope = choose_scope(o, www, prm, as);
        char *code = NULL;
        struct listener l = {.fd = -1};
        char verifier[64], challenge[64], state[32];
        const char *tok_ep = endpoint(o, as, "token_endpoint", true, e);
        if (!tok_ep)
                goto out;
        json_object_set_new(o->state, "token_endpoint", json_string(tok_ep));
        json_object_set_new(o->state, "server_url", json_string(o->url));
        if (res)
                json_object_set_new(o->state, "resource", json_string(res));
        else
                json_object_del(o->state, "resource");

        json_t *grants = json_object_get(as, "grant_types_supported");
        if (o->conf.client_id && o->conf.id_token_file && o->conf.idp_token_endpoint &&
            list_has(grants, JWT_BEARER_GRANT)) {
                /* enterprise-managed: the IdP vouches for the person, no browser */
                if (get_client(o, as, issuer, "", w, e) == 0)
                        rc = identity_assertion_grant(o, issuer, scope, w, e);
                goto out;
        }
        if (o->conf.client_id && (o->conf.client_secret || o->conf.client_key_file) &&
            json_array_size(grants) && list_has(grants, "client_credentials") &&
            !list_has(grants, "authorization_code")) {
                /* a machine client: no person, no browser */
                if (get_client(o, as, issuer, "", w, e) < 0)
                        goto out;
                strbuf form = {0};
                form_add(&form, "grant_type", "client_credentials");
                if (scope)
                        form_add(&form, "scope", scope);
                json_t *r;
                long st = token_request(o, &form, &r, w, e);
                sb_free(&form);
                rc = st < 0 ? -1 : take_tokens(o, st, r, "client credentials", e);
                json_decref(r);
                goto out;
        }

        const char *auth_ep = endpoint(o, as, "authorization_endpoint", true, e);
        if (!auth_ep)
                goto out;
        if (o->conf.no_browser) {
                err_set(e, EACCES,
                        "%s: the server needs you to sign in, which this mode cannot ask for; run "
                        "'osvm mcp login %s' first",
                        o->server, o->conf.store_id ? o->conf.store_id : "NAME");
                goto out;
        }
        json_t *pkce = json_object_get(as, "code_challenge_methods_supported");
        if (json_is_array(pkce) && !list_has(pkce, "S256")) {
                err_set(e, MCP_E_PROTOCOL,
                        "%s: the authorization server does not support PKCE with S256, which the "
                        "MCP specification requires; refused",
                        o->server);
                goto out;
        }
        if (listen_loopback(&l, e) < 0)
                goto out;
        char redirect[64];
        snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%d/callback", l.port);
        if (get_client(o, as, issuer, redirect, w, e) < 0)
                goto out;
        json_object_set_new(o->state, "issuer", json_string(issuer));
        if (random_b64url(32, verifier, e) < 0 || random_b64url(16, state, e) < 0)
                goto out;
        struct sha256 h;
        uint8_t digest[SHA256_LEN];
        sha256_init(&h);
        sha256_update(&h, verifier, strlen(verifier));
        sha256_final(&h, digest);
        b64url(digest, sizeof(digest), challenge);

        strbuf q = {0};
        form_add(&q, "response_type", "code");
        form_add(&q, "client_id", jstr(o->state, "client_id"));
        form_add(&q, "redirect_uri", redirect);
        form_add(&q, "code_challenge", challenge);
        form_add(&q, "code_challenge_method", "S256");
        form_add(&q, "state", state);
        if (scope)
                form_add(&q, "scope", scope);
        if (res)
                form_add(&q, "resource", res);
        char *url = xasprintf("%s%c%s", auth_ep, strchr(auth_ep, '?') ? '&' : '?', q.s);
        sb_free(&q);
        char *su = text_sanitize(url, 0);
        fprintf(stderr,
                "osvm: %s needs you to sign in. Open this URL in a browser (on this machine: "
                "it comes back to 127.0.0.1):\n  %s\n",
                o->server, su);
        free(su);
        open_browser(url);
        free(url);
        code = await_code(o, &l, state, w, e);
        if (!code)
                goto out;
        strbuf form = {0};
        form_add(&form, "grant_type", "authorization_code");
        form_add(&form, "code", code);
        form_add(&form, "redirect_uri", redirect);
        form_add(&form, "code_verifier", verifier);
        json_t *r;
        long st = token_request(o, &form, &r, w, e);
        sb_free(&form);
        rc = st < 0 ? -1 : take_tokens(o, st, r, "exchanging the sign-in's code", e);
        json_decref(r);
        if (rc == 0)
                log_info("%s: signed in", o->server);
out:
        if (l.fd >= 0)
                close(l.fd);
        free(code);
        free(scope);
        json_decref(as);
        json_decref(prm);
        return rc;
}

#define OAUTH_MAX_FLOWS 3 /* authorizations per run: a server that keeps refusing is not obeyed */

int mcp_oauth_challenge(struct mcp_oauth *o, long status, const char *www, bool retried,
                        const struct mcp_wait *w, osvm_err *e)
{
        err_clear(e);
        char err[64];
        www_param(www, "error", err, sizeof(err));
        bool step_up = status == 403 && !strcmp(err, "insufficient_scope");
        if (status == 403 && !step_up)
                return err_set(e, EACCES, "%s: the server refused access (HTTP 403)", o->server);
        /* an expired or revoked token: refresh first, when it was not just refreshed */
        if (!step_up && !retried && jstr(o->state, "refresh_token")) {
                osvm_err re = {0};
                if (refresh(o, w, &re) == 0)
                        return 0;
                if (re.code == MCP_E_CANCELLED) {
                        *e = re;
                        return -1;
                }
                log_info("%s: refreshing the token failed (%s); signing in again", o->server,
                         re.msg);
        }
        if (++o->flows > OAUTH_MAX_FLOWS)
                return err_set(
                    e, EACCES,
                    "%s: the server still refuses after %d authorizations (HTTP %ld%s%s); "
                    "giving up",
                    o->server, OAUTH_MAX_FLOWS, status, err[0] ? ", " : "", err);
        /* the old token is of no use now */
        json_object_del(o->state, "access_token");
        set_header(o);
        return authorize(o, www, w, e);
}
