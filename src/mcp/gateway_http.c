/*
 * The gateway over Streamable HTTP (protocol 2025-11-25), with libmicrohttpd:
 * `osvm mcp serve --http [ADDR:]PORT`. docs/gateway.md.
 *
 * One endpoint, /mcp. Every request needs the bearer token; a Host or Origin
 * that is not this server's own is refused (403), against DNS rebinding.
 * POST carries one JSON-RPC message: a request is answered with an SSE
 * stream (a priming event, its progress, its response), a notification or a
 * response with 202. initialize makes a session (Mcp-Session-Id); every
 * later request names it (400 without, 404 for one that is gone). GET opens
 * the session's stream for what belongs to no request (list_changed), or,
 * with Last-Event-ID, resumes the stream that event was on, replaying what
 * came after it. DELETE ends the session and cancels its calls.
 *
 * libmicrohttpd runs a thread per connection, so an SSE stream's reader
 * waits for its next event in that thread.
 */
#include "mcp/mcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define HTTP_PATH         "/mcp"
#define HTTP_SESSIONS_MAX 64u
#define HTTP_EVENTS_KEPT  256u   /* of one stream, for resumption */
#define HTTP_STREAMS_KEPT 64u    /* finished streams of a session kept for resumption */
#define HTTP_KEEPALIVE_MS 10000u /* an SSE comment after this long without an event */
#define HTTP_RETRY_MS     1000u

struct event {
        struct event *next;
        uint64_t seq;
        char *data; /* compact JSON */
};

struct stream {
        struct stream *next;
        unsigned no;
        json_t *request_id; /* NULL: the session's own stream (GET) */
        struct event *head, *tail;
        unsigned nevents;
        uint64_t next_seq;
        bool done;       /* the response is in: the stream ends after it */
        bool attached;   /* a connection reads it */
        unsigned reader; /* which: a resume takes the stream over from a dropped one */
};

struct http_session {
        struct http_session *next;
        struct gw_http *srv;
        char id[40];
        struct mcp_gw_session *gw;
        struct stream *streams;
        unsigned next_stream;
        unsigned refs;     /* readers attached, requests being handled */
        unsigned handling; /* requests inside mcp_gw_handle: gw is not ended under them */
        bool closed;
};

struct gw_http {
        struct mcp_gateway *g;
        struct MHD_Daemon *d;
        char *token;
        char host[64]; /* the address bound, as text */
        bool loopback;
        unsigned port;
        size_t max_message;
        pthread_mutex_t mu; /* every session, stream and event */
        pthread_cond_t cv;  /* an event was added, or a session closed */
        struct http_session *sessions;
        unsigned nsessions;
        bool stopping;
};

/* ---- streams and events (under srv->mu) ---- */

static struct stream *stream_new(struct http_session *s, json_t *request_id)
{
        struct stream *st = xcalloc(1, sizeof(*st));
        st->no = ++s->next_stream;
        st->request_id = request_id ? json_incref(request_id) : NULL;
        st->next_seq = 1;
        st->next = s->streams;
        s->streams = st;
        /* finished streams beyond the ones kept for resumption go */
        unsigned kept = 0;
        for (struct stream **p = &s->streams; *p;) {
                struct stream *x = *p;
                if (x->done && !x->attached && ++kept > HTTP_STREAMS_KEPT) {
                        *p = x->next;
                        for (struct event *e = x->head, *n; e; e = n) {
                                n = e->next;
                                free(e->data);
                                free(e);
                        }
                        json_decref(x->request_id);
                        free(x);
                        continue;
                }
                p = &x->next;
        }
        return st;
}

static void stream_add(struct stream *st, const char *data)
{
        struct event *e = xcalloc(1, sizeof(*e));
        e->seq = st->next_seq++;
        e->data = xstrdup(data);
        if (st->tail)
                st->tail->next = e;
        else
                st->head = e;
        st->tail = e;
        if (++st->nevents > HTTP_EVENTS_KEPT) {
                struct event *old = st->head;
                st->head = old->next;
                free(old->data);
                free(old);
                st->nevents--;
        }
}

static struct stream *find_stream(struct http_session *s, json_t *request_id, unsigned no)
{
        for (struct stream *st = s->streams; st; st = st->next) {
                if (no && st->no == no)
                        return st;
                if (!no && !request_id && !st->request_id)
                        return st;
                if (!no && request_id && st->request_id && !st->done &&
                    json_equal(st->request_id, request_id))
                        return st;
        }
        return NULL;
}

/* The gateway's messages to the client: into the stream of the request they
 * belong to, else the session's own. */
static void http_send(void *ctx, json_t *msg, json_t *request_id)
{
        struct http_session *s = ctx;
        struct gw_http *srv = s->srv;
        char *text = json_dumps(msg, JSON_COMPACT);
        if (!text)
                return;
        pthread_mutex_lock(&srv->mu);
        struct stream *st = request_id ? find_stream(s, request_id, 0) : NULL;
        if (!st)
                st = find_stream(s, NULL, 0);
        if (!st)
                st = stream_new(s, NULL);
        stream_add(st, text);
        json_t *id = json_object_get(msg, "id");
        if (st->request_id && id && json_equal(id, st->request_id) &&
            (json_object_get(msg, "result") || json_object_get(msg, "error")))
                st->done = true;
        pthread_cond_broadcast(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
        free(text);
}

static struct http_session *find_session(struct gw_http *srv, const char *id)
{
        for (struct http_session *s = srv->sessions; s; s = s->next)
                if (!s->closed && id && !strcmp(s->id, id))
                        return s;
        return NULL;
}

static void session_free(struct http_session *s)
{
        for (struct stream *st = s->streams, *n; st; st = n) {
                n = st->next;
                for (struct event *e = st->head, *en; e; e = en) {
                        en = e->next;
                        free(e->data);
                        free(e);
                }
                json_decref(st->request_id);
                free(st);
        }
        free(s);
}

/* Drops a reference; a closed session with none left goes, once its gateway
 * session has been taken to be ended (by DELETE or the server's stop, which
 * frees what it finds left). Under srv->mu. */
static void session_unref(struct http_session *s)
{
        struct gw_http *srv = s->srv;
        if (--s->refs || !s->closed || s->gw)
                return;
        for (struct http_session **p = &srv->sessions; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        session_free(s);
}

/* Takes a session's gateway session away, to end it, once no request is
 * inside it (new ones find none and are told the session is gone). Under
 * srv->mu, which it may let go of while it waits. */
static struct mcp_gw_session *take_gw(struct http_session *s)
{
        struct mcp_gw_session *gw = s->gw;
        s->gw = NULL;
        while (s->handling)
                pthread_cond_wait(&s->srv->cv, &s->srv->mu);
        return gw;
}

/* ---- SSE readers ---- */

struct reader {
        struct http_session *s;
        struct stream *st;
        uint64_t sent; /* the last event's seq sent on this connection */
        strbuf pending;
        size_t off;
        bool primed;
        unsigned no; /* st->reader when this one took it */
};

static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max)
{
        (void)pos;
        struct reader *r = cls;
        struct gw_http *srv = r->s->srv;
        if (r->off >= r->pending.len) {
                r->pending.len = 0;
                r->off = 0;
                if (r->pending.s)
                        r->pending.s[0] = '\0';
                pthread_mutex_lock(&srv->mu);
                for (;;) {
                        if (!r->primed) {
                                /* an id to resume from before anything else, and the wait */
                                sb_addf(&r->pending, "id: %u-%llu\nretry: %u\ndata: \n\n",
                                        r->st->no, (unsigned long long)r->sent, HTTP_RETRY_MS);
                                r->primed = true;
                                break;
                        }
                        struct event *e = r->st->head;
                        while (e && e->seq <= r->sent)
                                e = e->next;
                        if (e) {
                                sb_addf(&r->pending, "id: %u-%llu\ndata: %s\n\n", r->st->no,
                                        (unsigned long long)e->seq, e->data);
                                r->sent = e->seq;
                                break;
                        }
                        if (r->st->done || r->s->closed || srv->stopping ||
                            r->st->reader != r->no) {
                                pthread_mutex_unlock(&srv->mu);
                                return MHD_CONTENT_READER_END_OF_STREAM;
                        }
                        struct timespec ts =
                            time_after(CLOCK_REALTIME, HTTP_KEEPALIVE_MS * 1000000ull);
                        if (pthread_cond_timedwait(&srv->cv, &srv->mu, &ts) == ETIMEDOUT) {
                                /* a comment: a client that went away shows as a failed write */
                                sb_add(&r->pending, ": keepalive\n\n");
                                break;
                        }
                }
                pthread_mutex_unlock(&srv->mu);
        }
        size_t n = r->pending.len - r->off < max ? r->pending.len - r->off : max;
        memcpy(buf, r->pending.s + r->off, n);
        r->off += n;
        return (ssize_t)n;
}

static void reader_free(void *cls)
{
        struct reader *r = cls;
        struct gw_http *srv = r->s->srv;
        pthread_mutex_lock(&srv->mu);
        if (r->st->reader == r->no)
                r->st->attached = false;
        session_unref(r->s);
        pthread_mutex_unlock(&srv->mu);
        sb_free(&r->pending);
        free(r);
}

/* An SSE response reading st from after event `after`. Under srv->mu. */
static struct MHD_Response *sse_response(struct http_session *s, struct stream *st, uint64_t after)
{
        struct reader *r = xcalloc(1, sizeof(*r));
        r->s = s;
        r->st = st;
        r->sent = after;
        st->attached = true;
        r->no = ++st->reader;
        pthread_cond_broadcast(&s->srv->cv); /* a reader it replaces ends */
        s->refs++;
        struct MHD_Response *resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, read_events, r, reader_free);
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "Mcp-Session-Id", s->id);
        return resp;
}

/* ---- requests ---- */

struct upload {
        strbuf body;
        bool too_big;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
            body ? strlen(body) : 0, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
        if (type)
                MHD_add_response_header(r, "Content-Type", type);
        if (status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
        enum MHD_Result ok = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, json_t *id, int code,
                                   const char *text)
{
        json_t *m = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                              id ? id : json_null(), "error", "code", code, "message", text);
        char *body = json_dumps(m, JSON_COMPACT);
        json_decref(m);
        enum MHD_Result r = reply(c, status, "application/json", body);
        free(body);
        return r;
}

/* host[:port], with the port this server listens on or none */
static bool host_is(const char *v, const char *host, unsigned port)
{
        size_t n = strlen(host);
        if (strncasecmp(v, host, n) != 0)
                return false;
        if (!v[n])
                return true;
        char p[16];
        snprintf(p, sizeof(p), ":%u", port);
        return !strcmp(v + n, p);
}

static bool our_host(struct gw_http *srv, const char *v)
{
        if (!srv->loopback)
                return host_is(v, srv->host, srv->port) || !srv->host[0];
        return host_is(v, "127.0.0.1", srv->port) || host_is(v, "localhost", srv->port) ||
               host_is(v, "[::1]", srv->port);
}

/* Why a request may not be served (the status and words), or 0. */
static unsigned refused(struct gw_http *srv, struct MHD_Connection *c, const char **why)
{
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        if (!host || !our_host(srv, host)) {
                *why = "Forbidden: the Host header is not this server (DNS rebinding?)";
                return MHD_HTTP_FORBIDDEN;
        }
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        if (origin) {
                const char *p = strstr(origin, "://");
                if (!p || (strncmp(origin, "http://", 7) && strncmp(origin, "https://", 8)) ||
                    !our_host(srv, p + 3)) {
                        *why = "Forbidden: the Origin is not this server";
                        return MHD_HTTP_FORBIDDEN;
                }
        }
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        bool ok = !srv->token; /* --no-auth, on loopback only */
        if (srv->token && auth && !strncasecmp(auth, "Bearer ", 7)) {
                const char *t = auth + 7;
                size_t n = strlen(t), m = strlen(srv->token);
                unsigned diff = n != m;
                for (size_t i = 0; i < m; i++) /* in constant time */
                        diff |= (unsigned)(unsigned char)srv->token[i] ^
                                (unsigned)(unsigned char)(i < n ? t[i] : 0);
                ok = !diff;
        }
        if (!ok) {
                *why = "Unauthorized: a bearer token is needed (osvm mcp serve --http prints it)";
                return MHD_HTTP_UNAUTHORIZED;
        }
        return 0;
}

static bool accepts(struct MHD_Connection *c, const char *type)
{
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        return a && (strstr(a, type) || strstr(a, "*/*"));
}

static enum MHD_Result post(struct gw_http *srv, struct MHD_Connection *c, struct upload *u)
{
        char msg[160];
        if (u->too_big) {
                snprintf(msg, sizeof(msg),
                         "Invalid Request: a message over %zu bytes, the limit, was refused",
                         srv->max_message);
                return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL, -32600, msg);
        }
        if (!accepts(c, "application/json") || !accepts(c, "text/event-stream"))
                return reply_error(c, MHD_HTTP_NOT_ACCEPTABLE, NULL, -32600,
                                   "Not Acceptable: Accept must name application/json and "
                                   "text/event-stream");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16) != 0)
                return reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL, -32600,
                                   "Unsupported Media Type: the body must be application/json");
        json_error_t jerr;
        json_t *m = mcp_json_loadb(u->body.s ? u->body.s : "", u->body.len,
                                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!m) {
                _cleanup_free_ char *t = text_sanitize(jerr.text, 0);
                snprintf(msg, sizeof(msg), "Parse error: %.*s", text_cut(t, 120), t);
                return reply_error(c, MHD_HTTP_BAD_REQUEST, NULL, -32700, msg);
        }
        if (!json_is_object(m)) {
                bool batch = json_is_array(m);
                json_decref(m);
                return reply_error(c, MHD_HTTP_BAD_REQUEST, NULL, -32600,
                                   batch ? "Invalid Request: batches are not supported (MCP "
                                           "2025-11-25 has none); send one message at a time"
                                         : "Invalid Request: a message must be a JSON object");
        }
        json_t *id = json_object_get(m, "id");
        if (id && !json_is_string(id) && !json_is_integer(id)) {
                /* not a request: its error could go on no stream of it */
                json_decref(m);
                return reply_error(c, MHD_HTTP_BAD_REQUEST, NULL, -32600,
                                   "Invalid Request: an id must be a string or an integer");
        }
        const char *method = json_string_value(json_object_get(m, "method"));
        bool is_init = method && !strcmp(method, "initialize");
        bool is_request = method && id;
        const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
        enum MHD_Result ret;
        /* A new session is whole (its gateway session made) before it is
         * listed: one that DELETE or the server's stop finds is one they can end. */
        struct http_session *fresh = NULL;
        if (is_init) {
                fresh = xcalloc(1, sizeof(*fresh));
                fresh->srv = srv;
                mcp_gw_session_id(fresh->id, sizeof(fresh->id));
                fresh->gw = mcp_gw_session_new(srv->g, http_send, fresh, fresh->id);
        }
        pthread_mutex_lock(&srv->mu);
        struct http_session *s = NULL;
        if (is_init) {
                if (srv->nsessions >= HTTP_SESSIONS_MAX || srv->stopping) {
                        bool stopping = srv->stopping;
                        pthread_mutex_unlock(&srv->mu);
                        mcp_gw_session_close(fresh->gw, true);
                        session_free(fresh);
                        ret = reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, id, -32000,
                                          stopping ? "the gateway is stopping"
                                                   : "too many sessions; end one (DELETE) first");
                        json_decref(m); /* id is m's */
                        return ret;
                }
                s = fresh;
                s->next = srv->sessions;
                srv->sessions = s;
                srv->nsessions++;
        } else if (!sid) {
                pthread_mutex_unlock(&srv->mu);
                ret = reply_error(c, MHD_HTTP_BAD_REQUEST, id, -32600,
                                  "Bad Request: no Mcp-Session-Id (initialize first)");
                json_decref(m); /* id is m's */
                return ret;
        } else if (!(s = find_session(srv, sid))) {
                pthread_mutex_unlock(&srv->mu);
                ret = reply_error(c, MHD_HTTP_NOT_FOUND, id, -32001,
                                  "Session not found: initialize again");
                json_decref(m); /* id is m's */
                return ret;
        }
        if (is_request && find_stream(s, id, 0)) {
                pthread_mutex_unlock(&srv->mu);
                ret = reply_error(c, MHD_HTTP_BAD_REQUEST, id, -32600,
                                  "Invalid Request: id is in use by a request still running");
                json_decref(m); /* id is m's */
                return ret;
        }
        struct mcp_gw_session *gw = s->gw;
        if (!gw) { /* being ended (DELETE, or the server's stop) */
                pthread_mutex_unlock(&srv->mu);
                ret = reply_error(c, MHD_HTTP_NOT_FOUND, id, -32001,
                                  "Session not found: initialize again");
                json_decref(m); /* id is m's */
                return ret;
        }
        struct stream *st = is_request ? stream_new(s, id) : NULL;
        s->refs++;
        s->handling++;
        pthread_mutex_unlock(&srv->mu);
        mcp_gw_handle(gw, m);
        json_decref(m);
        pthread_mutex_lock(&srv->mu);
        if (--s->handling == 0)
                pthread_cond_broadcast(&srv->cv);
        if (st) {
                struct MHD_Response *r = sse_response(s, st, 0);
                ret = MHD_queue_response(c, MHD_HTTP_OK, r);
                MHD_destroy_response(r);
        } else {
                ret = MHD_NO;
        }
        session_unref(s);
        pthread_mutex_unlock(&srv->mu);
        return st ? ret : reply(c, MHD_HTTP_ACCEPTED, NULL, NULL);
}

static enum MHD_Result get(struct gw_http *srv, struct MHD_Connection *c)
{
        if (!accepts(c, "text/event-stream"))
                return reply_error(c, MHD_HTTP_NOT_ACCEPTABLE, NULL, -32600,
                                   "Not Acceptable: GET opens an event stream (Accept: "
                                   "text/event-stream)");
        const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
        const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
        pthread_mutex_lock(&srv->mu);
        struct http_session *s = find_session(srv, sid);
        if (!s) {
                pthread_mutex_unlock(&srv->mu);
                return reply_error(
                    c, sid ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST, NULL, sid ? -32001 : -32600,
                    sid ? "Session not found: initialize again" : "Bad Request: no Mcp-Session-Id");
        }
        unsigned no = 0;
        unsigned long long after = 0;
        struct stream *st = NULL;
        if (last && sscanf(last, "%u-%llu", &no, &after) == 2)
                st = find_stream(s, NULL, no);
        if (!st) {
                after = 0;
                st = find_stream(s, NULL, 0);
                if (st && st->attached) {
                        pthread_mutex_unlock(&srv->mu);
                        return reply_error(c, MHD_HTTP_CONFLICT, NULL, -32600,
                                           "Conflict: the session's stream is open already");
                }
                if (!st)
                        st = stream_new(s, NULL);
                /* what was sent on it before is not sent again */
                after = st->tail ? st->tail->seq : 0;
        }
        /* a resumed stream is taken over from the connection that dropped:
         * that one may not have noticed yet */
        struct MHD_Response *r = sse_response(s, st, after);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        pthread_mutex_unlock(&srv->mu);
        return ret;
}

static enum MHD_Result delete_session(struct gw_http *srv, struct MHD_Connection *c)
{
        const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
        pthread_mutex_lock(&srv->mu);
        struct http_session *s = find_session(srv, sid);
        if (!s) {
                pthread_mutex_unlock(&srv->mu);
                return reply_error(c, MHD_HTTP_NOT_FOUND, NULL, -32001, "Session not found");
        }
        s->closed = true;
        srv->nsessions--;
        s->refs++;
        pthread_cond_broadcast(&srv->cv);
        struct mcp_gw_session *gw = take_gw(s);
        pthread_mutex_unlock(&srv->mu);
        mcp_gw_session_close(gw, true); /* its calls cancelled and waited for */
        pthread_mutex_lock(&srv->mu);
        session_unref(s);
        pthread_mutex_unlock(&srv->mu);
        return reply(c, MHD_HTTP_OK, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
        (void)version;
        struct gw_http *srv = cls;
        struct upload *u = *con_cls;
        if (!u) {
                const char *why = NULL;
                unsigned status = strcmp(url, HTTP_PATH) ? MHD_HTTP_NOT_FOUND : 0;
                if (status)
                        why = "Not Found: the MCP endpoint is " HTTP_PATH;
                else
                        status = refused(srv, c, &why);
                if (status)
                        return reply_error(c, status, NULL, -32600, why);
                *con_cls = xcalloc(1, sizeof(struct upload));
                return MHD_YES;
        }
        if (*upload_size) {
                if (!u->too_big && u->body.len + *upload_size > srv->max_message) {
                        u->too_big = true;
                        sb_free(&u->body);
                }
                if (!u->too_big)
                        sb_addn(&u->body, upload_data, *upload_size);
                *upload_size = 0;
                return MHD_YES;
        }
        if (!strcmp(method, "POST"))
                return post(srv, c, u);
        if (!strcmp(method, "GET"))
                return get(srv, c);
        if (!strcmp(method, "DELETE"))
                return delete_session(srv, c);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Allow", "GET, POST, DELETE");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
        (void)cls;
        (void)c;
        (void)code;
        struct upload *u = *con_cls;
        if (u) {
                sb_free(&u->body);
                free(u);
        }
        *con_cls = NULL;
}

struct mcp_gw_http *mcp_gw_http_start(struct mcp_gateway *g, const char *addr, unsigned port,
                                      const char *token, osvm_err *e)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        if (!addr || !*addr)
                addr = "127.0.0.1";
        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
                _cleanup_free_ char *shown = text_sanitize(addr, 0);
                err_set(e, EINVAL, "--http: \"%s\" is not an IPv4 address", shown);
                e->exit = OSVM_EXIT_USAGE;
                return NULL;
        }
        bool loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
        if (!token && !loopback) {
                err_set(e, EINVAL, "--no-auth is for loopback only; %s is not", addr);
                e->exit = OSVM_EXIT_USAGE;
                return NULL;
        }
        struct gw_http *srv = xcalloc(1, sizeof(*srv));
        srv->g = g;
        srv->token = token ? xstrdup(token) : NULL;
        srv->loopback = loopback;
        snprintf(srv->host, sizeof(srv->host), "%s", addr);
        srv->max_message = MCP_DEFAULT_MAX_MESSAGE;
        pthread_mutex_init(&srv->mu, NULL);
        pthread_cond_init(&srv->cv, NULL);
        srv->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                      MHD_USE_POLL | MHD_USE_ERROR_LOG,
                                  0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &sa,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_done, srv,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_END);
        if (!srv->d) {
                err_set(e, errno ? errno : EADDRINUSE, "--http: cannot listen on %s:%u: %s", addr,
                        port, strerror(errno ? errno : EADDRINUSE));
                mcp_gw_http_stop((struct mcp_gw_http *)srv);
                return NULL;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
        srv->port = info ? info->port : port;
        return (struct mcp_gw_http *)srv;
}

unsigned mcp_gw_http_port(const struct mcp_gw_http *h)
{
        return ((const struct gw_http *)h)->port;
}

void mcp_gw_http_stop(struct mcp_gw_http *h)
{
        struct gw_http *srv = (struct gw_http *)h;
        if (!srv)
                return;
        pthread_mutex_lock(&srv->mu);
        srv->stopping = true;
        for (struct http_session *s = srv->sessions; s; s = s->next)
                s->closed = true;
        pthread_cond_broadcast(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
        /* every session's calls cancelled and waited for */
        for (;;) {
                pthread_mutex_lock(&srv->mu);
                struct http_session *s = srv->sessions;
                while (s && !s->gw)
                        s = s->next;
                struct mcp_gw_session *gw = s ? take_gw(s) : NULL;
                pthread_mutex_unlock(&srv->mu);
                if (!gw)
                        break;
                mcp_gw_session_close(gw, true);
        }
        if (srv->d)
                MHD_stop_daemon(srv->d);
        for (struct http_session *s = srv->sessions, *n; s; s = n) {
                n = s->next;
                session_free(s); /* (each one's gateway session was ended above) */
        }
        pthread_mutex_destroy(&srv->mu);
        pthread_cond_destroy(&srv->cv);
        free(srv->token);
        free(srv);
}
