/*
 * The Streamable HTTP transport (MCP 2025-11-25) on libcurl's multi
 * interface.
 *
 * Every message is a POST; the server answers 202 (notifications and
 * responses), one JSON message, or an SSE stream that carries progress and
 * server requests before the response. A GET stream carries what the server
 * sends on its own, and resumes a POST's stream that dropped (Last-Event-ID).
 * All transfers live in one multi handle, so a GET stream stays open across
 * calls and is read while a POST runs. Received messages are queued by the
 * curl callbacks and delivered to on_message outside them, so on_message
 * may send (answer a server request) without re-entering libcurl.
 *
 * The server is untrusted: bodies, events, header values and error excerpts
 * are all bounded.
 */
#include "mcp/sse.h"
#include "mcp/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#define HTTP_STEP_MS          50    /* longest wait between checks of cancel */
#define HTTP_DEFAULT_RETRY_MS 1000  /* wait before a resume when the server gave none */
#define HTTP_MAX_RETRY_MS     30000 /* cap on the server's retry */
#define HTTP_MAX_RESUMES      5     /* resumes in a row that bring nothing new */
#define HTTP_LISTEN_BACKOFF   5000  /* ms before reopening a GET stream that failed */
#define HTTP_CONNECT_MS       30000
#define HTTP_EXCERPT          200 /* bytes of an error body quoted */
#define HTTP_ERR_BODY_MAX     4096
#define HTTP_DISCARD_MAX      65536 /* body of a 202 we read before giving up on it */
#define HTTP_MAX_SESSION_ID   256
#define HTTP_CLOSE_MS         2000 /* how long close() waits for the DELETE */
#define HTTP_MAX_BAD_LOGGED   10   /* malformed events logged per transport */

enum stream_kind { ST_POST, ST_RESUME, ST_LISTEN, ST_DELETE };
enum body_mode { BODY_UNKNOWN, BODY_SSE, BODY_JSON, BODY_ERROR, BODY_DISCARD };

struct http;

struct stream {
        struct http *h;
        struct stream *next;
        enum stream_kind kind;
        CURL *easy;
        struct curl_slist *hdrs;
        char *body;        /* POST: the message */
        json_t *req_id;    /* POST of a request: its id (a JSON body must be its response) */
        bool with_session; /* the request carried a session id */
        char errbuf[CURL_ERROR_SIZE];

        /* the response */
        char ctype[128];
        char www[1024]; /* WWW-Authenticate (the first Bearer challenge) */
        char session[HTTP_MAX_SESSION_ID + 1];
        bool session_bad;
        curl_off_t clen; /* -1: not given */
        enum body_mode mode;
        struct sse_parser sse;
        struct sse_buf buf; /* JSON body or error excerpt */
        uint64_t delivered; /* messages queued from this stream */
        bool failed;        /* err holds why */
        bool aborted_ok;    /* we stopped reading on purpose (error body read enough) */
        osvm_err err;
        bool finished;
        CURLcode result;
};

struct http {
        struct mcp_transport t;
        char *url;
        char *shown;              /* url in messages: mcp_url_public, never a credential */
        struct curl_slist *extra; /* configured headers */
        struct mcp_oauth *oauth;  /* NULL when a configured header authorizes */
        char session[HTTP_MAX_SESSION_ID + 1];
        CURLM *multi;
        struct stream *streams; /* every transfer in the multi handle */
        json_t *queue;          /* received, not yet delivered */
        bool delivering;        /* inside on_message */
        unsigned bad_logged;

        struct stream *listen; /* the GET stream for server-initiated messages */
        bool get_refused;      /* the server answered GET with 405 */
        uint64_t listen_at;    /* no new GET stream before this time */
        char listen_id[SSE_MAX_ID + 1];

        bool resume_pending; /* a POST's stream dropped before its answer */
        uint64_t resume_at;
        char resume_id[SSE_MAX_ID + 1];
        unsigned resumes; /* in a row without a new message */
        long retry_ms;    /* the server's last retry, capped; or the default */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
        curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t ms_ns(uint64_t ms)
{
        return ms * 1000000u;
}

/* ---- receiving ---- */

/* Replaces what a terminal could take as a control sequence: the server's words are untrusted. */
static void printable(char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                        *s = '?';
}

static void buf_add(struct sse_buf *b, const char *s, size_t n)
{
        if (b->cap - b->len < n + 1) {
                size_t cap = b->cap ? b->cap : 1024;
                while (cap - b->len < n + 1)
                        cap *= 2;
                b->p = xrealloc(b->p, cap);
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

/* Queues one message for delivery and returns it (borrowed); logs and drops what is not a
 * JSON object (NULL). */
static json_t *enqueue(struct stream *s, const char *data, size_t len)
{
        struct http *h = s->h;
        json_error_t je;
        json_t *m = mcp_json_loadb(data, len, 0, &je);
        if (!m || !json_is_object(m)) {
                printable(je.text);
                if (h->bad_logged++ < HTTP_MAX_BAD_LOGGED)
                        log_warn("mcp %s: skipping a message that is %s%s", h->t.server_name,
                                 m ? "not a JSON object" : "not valid JSON: ", m ? "" : je.text);
                json_decref(m);
                return NULL;
        }
        json_array_append_new(h->queue, m);
        s->delivered++;
        return m;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
        struct stream *s = ctx;
        if (strcmp(event, "message") != 0) {
                char name[SSE_MAX_EVENT_NAME];
                snprintf(name, sizeof(name), "%s", event);
                printable(name);
                log_debug("mcp %s: ignoring an SSE event of type \"%s\"", s->h->t.server_name,
                          name);
                return 0;
        }
        enqueue(s, data, len);
        return 0;
}

static int too_large(osvm_err *e, const struct http *h, const char *what)
{
        return err_set(e, MCP_E_TOO_LARGE,
                       "%s: refused %s larger than the limit of %zu bytes (max_message)",
                       h->t.server_name, what, h->t.max_message);
}

static bool ctype_is(const char *ctype, const char *want)
{
        size_t n = strlen(want);
        return strncasecmp(ctype, want, n) == 0 &&
               (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* Decides at the first body byte how to read the body. */
static void choose_mode(struct stream *s)
{
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status >= 300)
                s->mode = BODY_ERROR;
        else if (status == 202 || status == 204)
                s->mode = BODY_DISCARD;
        else if (ctype_is(s->ctype, "text/event-stream"))
                s->mode = BODY_SSE;
        else if (ctype_is(s->ctype, "application/json"))
                s->mode = BODY_JSON;
        else {
                s->failed = true;
                err_set(&s->err, MCP_E_PROTOCOL,
                        "%s: the server answered with Content-Type \"%.*s\", neither JSON nor "
                        "an event stream",
                        s->h->t.server_name, text_cut(s->ctype[0] ? s->ctype : "(none)", 64),
                        s->ctype[0] ? s->ctype : "(none)");
        }
        if (s->mode == BODY_JSON && s->clen >= 0 && (uint64_t)s->clen > s->h->t.max_message) {
                s->failed = true;
                too_large(&s->err, s->h, "a JSON response");
        }
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
        struct stream *s = ud;
        size_t n = size * nmemb;
        if (s->failed)
                return 0;
        if (s->mode == BODY_UNKNOWN)
                choose_mode(s);
        if (s->failed)
                return 0;
        switch (s->mode) {
        case BODY_SSE:
                if (sse_feed(&s->sse, ptr, n, on_event, s, &s->err) < 0) {
                        s->failed = true;
                        if (s->err.code == SSE_E_TOO_LARGE)
                                too_large(&s->err, s->h, "an event");
                        else
                                err_set(&s->err, MCP_E_PROTOCOL, "%s: %s", s->h->t.server_name,
                                        s->err.msg);
                        return 0;
                }
                return n;
        case BODY_JSON:
                if (s->buf.len > s->h->t.max_message || n > s->h->t.max_message - s->buf.len) {
                        s->failed = true;
                        too_large(&s->err, s->h, "a JSON response");
                        return 0;
                }
                buf_add(&s->buf, ptr, n);
                return n;
        case BODY_ERROR: {
                size_t room = HTTP_ERR_BODY_MAX - s->buf.len;
                buf_add(&s->buf, ptr, n < room ? n : room);
                if (s->buf.len >= HTTP_ERR_BODY_MAX) {
                        s->aborted_ok = true;
                        return 0;
                }
                return n;
        }
        case BODY_DISCARD:
                s->buf.len += n; /* counted, not kept */
                if (s->buf.len > HTTP_DISCARD_MAX) {
                        s->aborted_ok = true;
                        return 0;
                }
                return n;
        case BODY_UNKNOWN:
                break;
        }
        return 0;
}

static void copy_trimmed(char *dst, size_t cap, const char *v, size_t n, bool *too_long)
{
        while (n > 0 &&
               (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
        while (n > 0 && (*v == ' ' || *v == '\t'))
                v++, n--;
        if (too_long)
                *too_long = n >= cap;
        if (n >= cap)
                n = cap - 1;
        memcpy(dst, v, n);
        dst[n] = '\0';
}

static bool header_is(const char *line, size_t n, const char *name, const char **v, size_t *vn)
{
        size_t k = strlen(name);
        if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
                return false;
        *v = line + k + 1;
        *vn = n - k - 1;
        return true;
}

static bool session_id_ok(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < 0x21 || *s > 0x7e)
                        return false;
        return true;
}

/*
 * The end of a response's headers: a session id that the server assigns
 * (on initialize) is taken now, before any message of the body is delivered,
 * so that answers sent from on_message already carry it.
 */
static void headers_done(struct stream *s)
{
        struct http *h = s->h;
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status >= 300 || s->failed)
                return;
        if (s->session_bad) {
                s->failed = true;
                err_set(&s->err, MCP_E_PROTOCOL, "%s: the server sent an invalid Mcp-Session-Id",
                        h->t.server_name);
        } else if (s->session[0] && !h->session[0]) {
                snprintf(h->session, sizeof(h->session), "%s", s->session);
        }
}

/* libcurl bounds one header line (100 KiB); each value we keep is bounded again here. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
        struct stream *s = ud;
        size_t n = size * nmemb;
        const char *v;
        size_t vn;
        if (n <= 2 && (n == 0 || line[0] == '\r' || line[0] == '\n')) {
                headers_done(s);
        } else if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
                /* a new response (after a 1xx): forget the previous one's headers */
                s->ctype[0] = s->session[0] = s->www[0] = '\0';
                s->session_bad = false;
                s->clen = -1;
        } else if (header_is(line, n, "content-type", &v, &vn)) {
                copy_trimmed(s->ctype, sizeof(s->ctype), v, vn, NULL);
                printable(s->ctype);
        } else if (header_is(line, n, "www-authenticate", &v, &vn)) {
                if (!s->www[0])
                        copy_trimmed(s->www, sizeof(s->www), v, vn, NULL);
        } else if (header_is(line, n, "mcp-session-id", &v, &vn)) {
                bool too_long;
                copy_trimmed(s->session, sizeof(s->session), v, vn, &too_long);
                s->session_bad = too_long || !session_id_ok(s->session);
        } else if (header_is(line, n, "content-length", &v, &vn)) {
                char num[32];
                bool too_long;
                copy_trimmed(num, sizeof(num), v, vn, &too_long);
                char *end;
                errno = 0;
                long long c = strtoll(num, &end, 10);
                s->clen = (!too_long && !errno && end != num && !*end && c >= 0) ? c : -1;
        }
        return n;
}

/* ---- transfers ---- */

static void stream_free(struct stream *s)
{
        if (!s)
                return;
        struct http *h = s->h;
        for (struct stream **pp = &h->streams; *pp; pp = &(*pp)->next)
                if (*pp == s) {
                        *pp = s->next;
                        break;
                }
        if (h->listen == s)
                h->listen = NULL;
        if (s->easy) {
                curl_multi_remove_handle(h->multi, s->easy);
                curl_easy_cleanup(s->easy);
        }
        curl_slist_free_all(s->hdrs);
        json_decref(s->req_id);
        sse_free(&s->sse);
        free(s->buf.p);
        free(s->body);
        free(s);
}

const char *mcp_header_problem(const char *line)
{
        const char *colon = strchr(line, ':');
        if (!colon)
                return "it is not of the form Name: value";
        char name[256];
        size_t n = (size_t)(colon - line);
        if (n >= sizeof(name))
                return "its name is too long";
        memcpy(name, line, n);
        name[n] = '\0';
        if (!text_header_name_ok(name))
                return "its name is empty or holds a character a header name may not hold";
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
                v++;
        if (!text_header_value_ok(v))
                return "its value holds a control character (a line break, NUL, ...)";
        return NULL;
}

static struct curl_slist *add_line(struct curl_slist *l, const char *line)
{
        struct curl_slist *n = curl_slist_append(l, line);
        if (!n)
                xoom("curl's header list");
        return n;
}

/*
 * Adds "name: value" after checking it: nothing reaches a header unchecked.
 * from says where the value came from, for the error; a value that came
 * from the server is quoted (made printable), a configured one is not (it
 * may be a secret).
 */
static bool add_header(struct curl_slist **l, const char *name, const char *value, const char *from,
                       bool quote, const struct http *h, osvm_err *e)
{
        char *line = xasprintf("%s: %s", name, value);
        const char *why = mcp_header_problem(line);
        if (why) {
                char *shown = quote ? text_sanitize(value, 0) : NULL;
                err_set(e, quote ? MCP_E_PROTOCOL : EINVAL,
                        "%s: refusing to send the header %s%s%s%s from %s: %s; nothing was sent",
                        h->t.server_name, name, shown ? " (\"" : "", shown ? shown : "",
                        shown ? "\")" : "", from, why);
                free(shown);
                free(line);
                return false;
        }
        *l = add_line(*l, line);
        free(line);
        return true;
}

/* Starts a transfer: POST of body (taken), GET (Last-Event-ID when last_id), DELETE. */
static struct stream *stream_start(struct http *h, enum stream_kind kind, char *body,
                                   const char *last_id, osvm_err *e)
{
        struct stream *s = xcalloc(1, sizeof(*s));
        s->h = h;
        s->kind = kind;
        s->body = body;
        s->clen = -1;
        sse_init(&s->sse, h->t.max_message);
        s->easy = curl_easy_init();
        if (!s->easy) {
                stream_free(s);
                err_set(e, ENOMEM, "%s: cannot create a curl handle", h->t.server_name);
                return NULL;
        }
        CURL *c = s->easy;
        struct curl_slist **l = &s->hdrs;
        if (kind == ST_POST) {
                *l = add_line(*l, "Content-Type: application/json");
                *l = add_line(*l, "Accept: application/json, text/event-stream");
                *l = add_line(*l, "Expect:");
        } else if (kind == ST_RESUME || kind == ST_LISTEN) {
                *l = add_line(*l, "Accept: text/event-stream");
        }
        bool ok = true;
        if ((kind == ST_RESUME || kind == ST_LISTEN) && last_id && *last_id)
                ok = add_header(l, "Last-Event-ID", last_id, "the server's event id", true, h, e);
        if (ok && h->session[0]) {
                ok = add_header(l, "Mcp-Session-Id", h->session, "the server's session id", true, h,
                                e);
                s->with_session = true;
        }
        if (ok && h->t.protocol_version[0])
                ok = add_header(l, "MCP-Protocol-Version", h->t.protocol_version,
                                "the negotiated protocol version", true, h, e);
        /* the token goes to the server's own URL alone: this one, never redirected */
        if (ok && mcp_oauth_header(h->oauth))
                ok = add_header(l, "Authorization", mcp_oauth_header(h->oauth), "the OAuth token",
                                false, h, e);
        for (struct curl_slist *x = h->extra; ok && x; x = x->next) {
                const char *why = mcp_header_problem(x->data);
                if (why) {
                        err_set(e, EINVAL, "%s: a configured header: %s; nothing was sent",
                                h->t.server_name, why);
                        ok = false;
                } else {
                        *l = add_line(*l, x->data);
                }
        }
        if (!ok) {
                stream_free(s);
                return NULL;
        }

        curl_easy_setopt(c, CURLOPT_URL, h->url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)HTTP_CONNECT_MS);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->hdrs);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
        curl_easy_setopt(c, CURLOPT_PRIVATE, s);
        if (kind == ST_POST) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(s->body));
        } else if (kind == ST_DELETE) {
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        }
        s->next = h->streams;
        h->streams = s;
        CURLMcode mc = curl_multi_add_handle(h->multi, c);
        if (mc != CURLM_OK) {
                curl_easy_cleanup(s->easy);
                s->easy = NULL;
                stream_free(s);
                err_set(e, EIO, "%s: cannot start a request: %s", h->t.server_name,
                        curl_multi_strerror(mc));
                return NULL;
        }
        return s;
}

/*
 * Hands queued messages to the client, in the order they came. Not
 * re-entered: when on_message sends (answers a server request), that send
 * leaves what arrives meanwhile in the queue for the outer loop to deliver.
 */
static void deliver(struct http *h)
{
        if (h->delivering)
                return;
        h->delivering = true;
        while (json_array_size(h->queue) > 0) {
                json_t *m = json_incref(json_array_get(h->queue, 0));
                json_array_remove(h->queue, 0);
                h->t.on_message(h->t.ctx, m);
                json_decref(m);
        }
        h->delivering = false;
}

/* A short, printable excerpt of an error body. */
static void excerpt(const struct sse_buf *b, char *out, size_t cap)
{
        size_t o = 0;
        bool space = false;
        for (size_t i = 0; i < b->len && o + 4 < cap && i < HTTP_EXCERPT; i++) {
                unsigned char c = (unsigned char)b->p[i];
                if (c < 0x20) {
                        space = o > 0;
                        continue;
                }
                if (space)
                        out[o++] = ' ';
                space = false;
                out[o++] = c < 0x7f ? (char)c : '?';
        }
        if (b->len > HTTP_EXCERPT && o + 4 < cap)
                out[o++] = '.', out[o++] = '.', out[o++] = '.';
        out[o] = '\0';
}

static bool mentions_session(const struct sse_buf *b)
{
        return b->p && strcasestr(b->p, "session") != NULL;
}

static int http_status_error(struct stream *s, long status, osvm_err *e)
{
        struct http *h = s->h;
        char ex[HTTP_EXCERPT + 8];
        excerpt(&s->buf, ex, sizeof(ex));
        const char *what = s->kind == ST_POST ? "POST" : s->kind == ST_DELETE ? "DELETE" : "GET";
        if (s->with_session && (status == 404 || (status == 400 && mentions_session(&s->buf)))) {
                err_set(e, MCP_E_SESSION,
                        "%s: the server no longer knows session %s (HTTP %ld%s%s); initialize "
                        "again",
                        h->t.server_name, h->session, status, ex[0] ? ": " : "", ex);
                /* the next initialize starts a new session; the old one's streams are gone */
                h->session[0] = h->listen_id[0] = '\0';
                h->resume_pending = false;
                if (h->listen && h->listen != s)
                        stream_free(h->listen);
                return -1;
        }
        return err_set(e, status >= 500 ? EIO : EPROTO, "%s: %s %s: HTTP %ld%s%s", h->t.server_name,
                       what, h->shown, status, ex[0] ? ": " : "", ex);
}

static int curl_error(struct stream *s, osvm_err *e)
{
        struct http *h = s->h;
        const char *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result);
        switch (s->result) {
        case CURLE_COULDNT_CONNECT:
                return err_set(e, ECONNREFUSED, "%s: cannot connect to %s: %s", h->t.server_name,
                               h->shown, why);
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return err_set(e, EHOSTUNREACH, "%s: cannot resolve the host of %s: %s",
                               h->t.server_name, h->shown, why);
        case CURLE_OPERATION_TIMEDOUT:
                return err_set(e, ETIMEDOUT, "%s: %s: %s", h->t.server_name, h->shown, why);
        default:
                return err_set(e, EIO, "%s: %s: %s", h->t.server_name, h->shown, why);
        }
}

static bool is_response_to(json_t *m, json_t *id)
{
        return m && !json_object_get(m, "method") && json_equal(json_object_get(m, "id"), id);
}

/* The id of a message, printable and short, into buf. */
static const char *id_words(json_t *id, char *buf, size_t n)
{
        char *raw = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        snprintf(buf, n, "%.40s", raw ? raw : "(none)");
        printable(buf);
        free(raw);
        return buf;
}

/*
 * A request's POST was answered with one JSON message that is not its
 * response: the response can no longer come (a JSON body is the one answer),
 * so the wait ends now.
 */
static int not_the_answer(struct stream *s, json_t *m, osvm_err *e)
{
        char want[48], got[48];
        id_words(s->req_id, want, sizeof(want));
        if (m && !json_object_get(m, "method") && json_object_get(m, "id"))
                return err_set(e, MCP_E_PROTOCOL,
                               "%s: the server answered request %s with the response to id %s; "
                               "the right answer can no longer come",
                               s->h->t.server_name, want,
                               id_words(json_object_get(m, "id"), got, sizeof(got)));
        return err_set(e, MCP_E_PROTOCOL,
                       "%s: the server answered request %s with %s, not its response; the answer "
                       "can no longer come",
                       s->h->t.server_name, want,
                       m ? "another message" : "a body that is not a JSON-RPC message");
}

/*
 * Concludes a finished POST or resume stream: the status, the session id,
 * the JSON body. A stream that ended before the awaited answer is marked for
 * resumption when it carried event ids, else it is an error.
 */
static int stream_conclude(struct stream *s, const struct mcp_wait *w, bool watch_done, osvm_err *e)
{
        struct http *h = s->h;
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        if (s->failed) {
                if (e)
                        *e = s->err;
                return -1;
        }
        if (status == 0)
                return curl_error(s, e);
        if (status < 200 || status >= 300)
                return http_status_error(s, status, e);
        if (s->mode == BODY_JSON) {
                if (s->result != CURLE_OK)
                        return curl_error(s, e);
                json_t *m = enqueue(s, s->buf.p ? s->buf.p : "", s->buf.len);
                if (s->req_id && !is_response_to(m, s->req_id))
                        return not_the_answer(s, m, e);
                return 0;
        }
        if (s->mode != BODY_SSE)
                return 0;
        /* An SSE stream ended, cleanly or not. */
        if (s->result != CURLE_OK)
                log_debug("mcp %s: event stream dropped: %s", h->t.server_name,
                          s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result));
        if (!watch_done || *w->done)
                return 0;
        if (s->delivered > 0)
                h->resumes = 0;
        /* a resumed stream that brought no new id resumes from the same place again */
        const char *id = s->sse.id_seen && s->sse.last_id[0] ? s->sse.last_id
                         : s->kind == ST_RESUME              ? h->resume_id
                                                             : NULL;
        if (id && !text_header_value_ok(id)) {
                char *shown = text_sanitize(id, 0);
                err_set(e, MCP_E_PROTOCOL,
                        "%s: the server's event stream ended before the answer, and its event id "
                        "(\"%s\") holds control characters: it cannot go back in a "
                        "Last-Event-ID header to resume",
                        h->t.server_name, shown);
                free(shown);
                return -1;
        }
        if (id) {
                if (++h->resumes > HTTP_MAX_RESUMES)
                        return err_set(e, MCP_E_CLOSED,
                                       "%s: the server's event stream keeps ending without an "
                                       "answer (%d resumes)",
                                       h->t.server_name, HTTP_MAX_RESUMES);
                if (s->sse.retry_ms >= 0)
                        h->retry_ms = s->sse.retry_ms < HTTP_MAX_RETRY_MS ? s->sse.retry_ms
                                                                          : HTTP_MAX_RETRY_MS;
                h->resume_pending = true;
                h->resume_at = time_mono_ns() + ms_ns((uint64_t)h->retry_ms);
                if (id != h->resume_id)
                        snprintf(h->resume_id, sizeof(h->resume_id), "%s", id);
                return 0;
        }
        return err_set(e, MCP_E_CLOSED,
                       "%s: the server ended the event stream before answering (and gave no "
                       "event ids to resume from)",
                       h->t.server_name);
}

/* The GET stream ended: decide when (whether) to open another. */
static void listen_ended(struct http *h, struct stream *s)
{
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        uint64_t now = time_mono_ns();
        if (s->sse.id_seen && text_header_value_ok(s->sse.last_id))
                snprintf(h->listen_id, sizeof(h->listen_id), "%s", s->sse.last_id);
        else if (s->sse.id_seen)
                h->listen_id[0] = '\0'; /* not fit for a header: the next stream starts afresh */
        if (status == 405) {
                h->get_refused = true;
                log_debug("mcp %s: the server offers no GET stream (405)", h->t.server_name);
        } else if (status == 200 && s->mode == BODY_SSE && !s->failed) {
                long retry = s->sse.retry_ms >= 0 ? s->sse.retry_ms : HTTP_DEFAULT_RETRY_MS;
                h->listen_at =
                    now + ms_ns((uint64_t)(retry < HTTP_MAX_RETRY_MS ? retry : HTTP_MAX_RETRY_MS));
        } else {
                log_debug("mcp %s: GET stream ended (HTTP %ld%s%s)", h->t.server_name, status,
                          s->failed ? ": " : "", s->failed ? s->err.msg : "");
                h->listen_at = now + ms_ns(HTTP_LISTEN_BACKOFF);
        }
        stream_free(s);
}

enum { RUN_DONE = 0, RUN_WAKE = 1 };

/*
 * Drives every transfer and delivers what arrives until own finishes
 * (RUN_DONE, with own concluded), *w->done is set (RUN_DONE), wake_ns
 * passes or the GET stream ends (RUN_WAKE), or the wait ends (-1).
 */
static int run(struct http *h, struct stream *own, const struct mcp_wait *w, bool watch_done,
               uint64_t wake_ns, osvm_err *e)
{
        for (;;) {
                deliver(h);
                if (own && own->finished) {
                        int rc = stream_conclude(own, w, watch_done, e);
                        deliver(h);
                        return rc < 0 ? -1 : RUN_DONE;
                }
                if (watch_done && *w->done)
                        return RUN_DONE;
                if (w->cancel && *w->cancel)
                        return mcp_err_cancelled(e, "%s: cancelled", h->t.server_name);
                uint64_t now = time_mono_ns();
                if (w->deadline_ns && now >= w->deadline_ns)
                        return err_set(e, MCP_E_TIMEOUT, "%s: no answer before the deadline",
                                       h->t.server_name);
                if (wake_ns && now >= wake_ns)
                        return RUN_WAKE;

                int running;
                CURLMcode mc = curl_multi_perform(h->multi, &running);
                if (mc != CURLM_OK)
                        return err_set(e, EIO, "%s: %s", h->t.server_name, curl_multi_strerror(mc));
                /* (queued messages wait for the outer loop while on_message runs) */
                bool changed = !h->delivering && json_array_size(h->queue) > 0;
                bool listen_gone = false;
                CURLMsg *msg;
                int left;
                while ((msg = curl_multi_info_read(h->multi, &left))) {
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        char *priv = NULL;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
                        struct stream *s = (struct stream *)priv;
                        if (!s)
                                continue;
                        s->finished = true;
                        s->result = msg->data.result;
                        if (s->aborted_ok && s->result == CURLE_WRITE_ERROR)
                                s->result = CURLE_OK;
                        changed = true;
                        if (s == h->listen) {
                                listen_ended(h, s);
                                listen_gone = true;
                        }
                }
                if (listen_gone && !own)
                        return RUN_WAKE;
                if (changed)
                        continue;

                uint64_t until = now + ms_ns(HTTP_STEP_MS);
                if (w->deadline_ns && w->deadline_ns < until)
                        until = w->deadline_ns;
                if (wake_ns && wake_ns < until)
                        until = wake_ns;
                int ms = until > now ? (int)((until - now + 999999) / 1000000) : 0;
                mc = curl_multi_poll(h->multi, NULL, 0, ms, NULL);
                if (mc != CURLM_OK)
                        return err_set(e, EIO, "%s: %s", h->t.server_name, curl_multi_strerror(mc));
        }
}

/* ---- the operations ---- */

/* scheme://host:port of url, lower-case, into out; false when it is not a URL. */
static bool origin_of(const char *url, char *out, size_t n)
{
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL;
        bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
        if (ok) {
                snprintf(out, n, "%s://%s:%s", scheme, host, port);
                for (char *p = out; *p; p++)
                        if (*p >= 'A' && *p <= 'Z')
                                *p = (char)(*p | 0x20);
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return ok;
}

#define HTTP_MAX_REDIRECTS 5

/*
 * The server answered a POST with a redirect to location: followed when it
 * stays on the server's origin (the connection keeps the new URL), refused,
 * naming the location, when it leads elsewhere: the configured headers and
 * the token are the server's, and go to no other origin.
 */
static int redirect(struct http *h, long status, const char *location, unsigned n, osvm_err *e)
{
        char from[600], to[600];
        _cleanup_free_ char *shown = text_sanitize(location, 0);
        if (strlen(shown) > 200)
                strcpy(shown + 197, "...");
        if (!origin_of(h->url, from, sizeof(from)) || !origin_of(location, to, sizeof(to)) ||
            strcmp(from, to))
                return err_set(e, EPROTO,
                               "%s: the server redirected (HTTP %ld) to %s, another origin; not "
                               "followed (its headers and token are for %s alone)",
                               h->t.server_name, status, shown, h->shown);
        if (n > HTTP_MAX_REDIRECTS)
                return err_set(e, EPROTO, "%s: more than %d redirects in a row; the last to %s",
                               h->t.server_name, HTTP_MAX_REDIRECTS, shown);
        if (status != 307 && status != 308)
                return err_set(e, EPROTO,
                               "%s: the server redirected a POST with HTTP %ld (to %s), which "
                               "would turn it into a GET; only 307 and 308 keep it",
                               h->t.server_name, status, shown);
        log_info("%s: the server moved to %s (HTTP %ld)", h->t.server_name, shown, status);
        free(h->url);
        h->url = xstrdup(location);
        return 0;
}

/*
 * Opens the GET stream when none is open and may be (after initialize,
 * unless the server refused it or asked to wait): what the server sends on
 * its own arrives there while a POST runs, not only between requests.
 */
static int listen_maybe(struct http *h, osvm_err *e)
{
        if (h->listen || h->get_refused || !h->t.protocol_version[0] ||
            time_mono_ns() < h->listen_at)
                return 0;
        h->listen = stream_start(h, ST_LISTEN, NULL, h->listen_id, e);
        return h->listen ? 0 : -1;
}

static int http_send(struct mcp_transport *t, json_t *msg, const struct mcp_wait *w, osvm_err *e)
{
        struct http *h = (struct http *)t;
        static const struct mcp_wait forever;
        if (!w)
                w = &forever;
        if (!msg)
                return err_set(e, EINVAL, "%s: no message to send", t->server_name);
        char *body = json_dumps(msg, JSON_COMPACT);
        if (!body)
                return err_set(e, EINVAL, "%s: the message cannot be encoded", t->server_name);
        bool watch_done = w->done && !*w->done;
        if (json_object_get(msg, "method") && json_object_get(msg, "id")) {
                /* a new request: the client no longer waits for an earlier one */
                h->resume_pending = false;
                h->resumes = 0;
        }
        if (json_object_get(msg, "method") && json_object_get(msg, "id") &&
            listen_maybe(h, e) < 0) {
                free(body);
                return -1;
        }
        bool fresh_token = false;
        unsigned redirects = 0;
        struct mcp_wait later;
        for (;;) {
                struct stream *s = stream_start(h, ST_POST, xstrdup(body), NULL, e);
                if (!s) {
                        free(body);
                        return -1;
                }
                if (json_object_get(msg, "method") && json_object_get(msg, "id"))
                        s->req_id = json_incref(json_object_get(msg, "id"));
                int rc = run(h, s, w, watch_done, 0, e);
                long status = 0;
                char *location = NULL;
                if (rc < 0) {
                        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
                        if (status >= 300 && status < 400) {
                                char *loc = NULL;
                                curl_easy_getinfo(s->easy, CURLINFO_REDIRECT_URL, &loc);
                                location = loc ? xstrdup(loc) : NULL;
                        }
                }
                char www[sizeof(s->www)];
                snprintf(www, sizeof(www), "%s", s->www);
                stream_free(s); /* stops reading a stream we no longer need */
                if (location) {
                        int r = redirect(h, status, location, ++redirects, e);
                        free(location);
                        if (r == 0)
                                continue; /* the same message, to the new place */
                        free(body);
                        return -1;
                }
                /* 401: no (valid) token; 403 insufficient_scope: a token of more scopes */
                bool step_up = status == 403 && strcasestr(www, "insufficient_scope");
                if (rc < 0 && (status == 401 || step_up) && h->oauth) {
                        osvm_err ae = {0};
                        uint64_t t0 = time_mono_ns();
                        if (mcp_oauth_challenge(h->oauth, status, www, fresh_token, w, &ae) == 0) {
                                fresh_token = true;
                                /* the sign-in was the person's time: the request's deadline
                                 * counts on from where it was */
                                later = *w;
                                if (later.deadline_ns)
                                        later.deadline_ns += time_mono_ns() - t0;
                                w = &later;
                                continue; /* the same message again, with the new token */
                        }
                        if (e)
                                *e = ae;
                }
                free(body);
                return rc < 0 ? -1 : 0;
        }
}

/*
 * A resume failed at the HTTP level (a 409 while the server has not yet
 * noticed the drop, a refused connection while it restarts): try again
 * after retry ms, a bounded number of times.
 */
static bool resume_again(struct http *h, const osvm_err *re)
{
        if (re->code == MCP_E_TIMEOUT || re->code == MCP_E_CANCELLED || re->code == MCP_E_SESSION ||
            re->code == MCP_E_TOO_LARGE || re->code == MCP_E_CLOSED || h->resume_pending ||
            h->resumes >= HTTP_MAX_RESUMES)
                return false;
        h->resumes++;
        log_debug("mcp %s: resuming failed (%s); trying again", h->t.server_name, re->msg);
        h->resume_pending = true;
        h->resume_at = time_mono_ns() + ms_ns((uint64_t)h->retry_ms);
        return true;
}

static int http_poll(struct mcp_transport *t, const struct mcp_wait *w, osvm_err *e)
{
        struct http *h = (struct http *)t;
        static const struct mcp_wait forever;
        if (!w)
                w = &forever;
        bool watch_done = w->done && !*w->done;
        for (;;) {
                deliver(h);
                if (watch_done && *w->done)
                        return 0;
                if (h->resume_pending) {
                        int rc = run(h, NULL, w, watch_done, h->resume_at, e);
                        if (rc < 0)
                                return -1;
                        if (rc == RUN_DONE)
                                return 0;
                        if (time_mono_ns() < h->resume_at)
                                continue;
                        h->resume_pending = false;
                        log_debug("mcp %s: resuming the event stream after id %s", t->server_name,
                                  h->resume_id);
                        struct stream *s = stream_start(h, ST_RESUME, NULL, h->resume_id, e);
                        if (!s)
                                return -1;
                        osvm_err re = {0};
                        rc = run(h, s, w, watch_done, 0, &re);
                        stream_free(s);
                        if (rc < 0 && resume_again(h, &re))
                                continue;
                        if (rc < 0) {
                                if (e)
                                        *e = re;
                                return -1;
                        }
                        continue;
                }
                if (listen_maybe(h, e) < 0)
                        return -1;
                uint64_t now = time_mono_ns();
                bool later =
                    !h->listen && !h->get_refused && t->protocol_version[0] && h->listen_at > now;
                uint64_t wake = later ? h->listen_at : 0;
                int rc = run(h, NULL, w, watch_done, wake, e);
                if (rc < 0)
                        return -1;
                if (rc == RUN_DONE)
                        return 0;
        }
}

static void http_close(struct mcp_transport *t)
{
        struct http *h = (struct http *)t;
        if (!h)
                return;
        while (h->streams)
                stream_free(h->streams);
        if (h->session[0]) {
                osvm_err e = {0};
                struct stream *s = stream_start(h, ST_DELETE, NULL, NULL, &e);
                if (s) {
                        struct mcp_wait w = {.deadline_ns = time_mono_ns() + ms_ns(HTTP_CLOSE_MS)};
                        long status = 0;
                        int rc = run(h, s, &w, false, 0, &e);
                        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
                        if (rc < 0 && status != 405)
                                log_debug("mcp %s: ending the session: %s", t->server_name, e.msg);
                        stream_free(s);
                }
        }
        mcp_oauth_free(h->oauth);
        json_array_clear(h->queue);
        json_decref(h->queue);
        curl_multi_cleanup(h->multi);
        curl_slist_free_all(h->extra);
        free(h->url);
        free(h->shown);
        free(h);
}

static const struct mcp_transport_ops http_ops = {
    .name = "http",
    .send = http_send,
    .poll = http_poll,
    .close = http_close,
};

bool mcp_url_is_http(const char *url)
{
        return url && (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8));
}

struct mcp_transport *mcp_http_open(const char *name, const char *url, char *const *headers,
                                    size_t max_message, const struct mcp_oauth_conf *oauth,
                                    osvm_err *e)
{
        if (!mcp_url_is_http(url)) {
                /* never the value itself: a URL may hold a credential */
                err_set(e, EINVAL, "%s: its URL is not an http:// or https:// one", name);
                return NULL;
        }
        pthread_once(&curl_once, curl_init);
        if (curl_init_rc != CURLE_OK) {
                err_set(e, EIO, "%s: cannot initialise libcurl: %s", name,
                        curl_easy_strerror(curl_init_rc));
                return NULL;
        }
        struct http *h = xcalloc(1, sizeof(*h));
        h->t.ops = &http_ops;
        h->t.max_message = max_message ? max_message : MCP_DEFAULT_MAX_MESSAGE;
        snprintf(h->t.server_name, sizeof(h->t.server_name), "%s", name);
        h->url = xstrdup(url);
        h->shown = mcp_url_public(url);
        if (!h->shown)
                h->shown = xstrdup("its URL");
        h->retry_ms = HTTP_DEFAULT_RETRY_MS;
        h->queue = json_array();
        h->multi = curl_multi_init();
        if (!h->queue || !h->multi) {
                err_set(e, ENOMEM, "%s: cannot set up the HTTP client", name);
                http_close(&h->t);
                return NULL;
        }
        for (size_t i = 0; headers && headers[i]; i++) {
                const char *hd = headers[i];
                const char *why = mcp_header_problem(hd);
                if (why) {
                        /* the name only: the value may be a secret */
                        size_t n = strcspn(hd, ":");
                        strbuf shown = {0};
                        sb_add_sanitized(&shown, hd, n < 64 ? n : 64, 0);
                        err_set(e, EINVAL, "%s: the header \"%s\" cannot be sent: %s", name,
                                shown.s, why);
                        sb_free(&shown);
                        http_close(&h->t);
                        return NULL;
                }
                const char *v;
                size_t vn;
                if (header_is(hd, strlen(hd), "mcp-session-id", &v, &vn)) {
                        /* joins an existing session instead of starting one */
                        bool too_long;
                        copy_trimmed(h->session, sizeof(h->session), v, vn, &too_long);
                        if (too_long || !session_id_ok(h->session)) {
                                err_set(e, EINVAL, "%s: the Mcp-Session-Id header is not valid",
                                        name);
                                h->session[0] = '\0';
                                http_close(&h->t);
                                return NULL;
                        }
                        continue;
                }
                struct curl_slist *n = curl_slist_append(h->extra, hd);
                if (!n) {
                        err_set(e, ENOMEM, "%s: out of memory", name);
                        http_close(&h->t);
                        return NULL;
                }
                h->extra = n;
        }
        /* a configured Authorization header (a static token) is the server's authorization */
        bool configured = false;
        for (struct curl_slist *x = h->extra; x; x = x->next)
                configured |= strncasecmp(x->data, "authorization:", 14) == 0;
        if (!configured)
                h->oauth = mcp_oauth_new(name, url, oauth);
        return &h->t;
}
