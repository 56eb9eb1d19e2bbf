/*
 * The message dispatch of `osvm mcp serve` (src/mcp/gateway.c): what a
 * client sends the gateway, either one JSON message a line on stdin (read by
 * src/mcp/lines.c) or each message the body of a POST to the Streamable HTTP
 * endpoint (src/mcp/gateway_http.c, served on loopback, once for the whole
 * run), the session id of the answer to initialize sent with the later ones.
 * The gateway fronts an empty registry: no server is started, and every
 * tool, prompt or resource named is unknown.
 *
 * Input: a selector byte (bit 0: HTTP, else stdio), then the client's lines.
 * Checked beyond "no crash, no leak, no hang": every message the gateway
 * writes (a line; an SSE event or the body of an HTTP answer) is a JSON-RPC
 * 2.0 response (an id and exactly one of result or error, an error with an
 * integer code and a message free of control characters) or notification;
 * a response's id is null or one the client sent; over stdio every
 * well-formed request that was not cancelled gets an answer; over HTTP a
 * POST is answered (the stream of a request ends) within 30 s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <curl/curl.h>

#include "isolation/isolation.h"
#include "mcp/mcp.h"
#include "mcp/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mcp_gateway *gw;

static struct mcp_gateway *gateway(void)
{
        static struct mcp_registry reg;
        static struct iso_config cfg;
        static struct iso_host host;
        if (gw)
                return gw;
        log_set_level(LOG_ERROR);
        struct iso_diags d = {0};
        if (iso_config_parse("{}", 2, "fuzz", &cfg, &d) < 0)
                abort();
        iso_diags_free(&d);
        struct mcp_hub *hub = mcp_hub_new(&reg, &cfg, &host);
        osvm_err e = {0};
        gw = mcp_gateway_new(hub, &reg, NULL, NULL, 0, &e);
        if (!gw)
                abort();
        return gw;
}

/* Is this message a request the gateway must answer (mcp_gw_handle's rules)? */
static bool answerable(json_t *m)
{
        json_t *id = json_object_get(m, "id"), *mj = json_object_get(m, "method");
        json_t *params = json_object_get(m, "params");
        const char *jv = json_string_value(json_object_get(m, "jsonrpc"));
        return jv && !strcmp(jv, "2.0") && (json_is_string(id) || json_is_integer(id)) &&
               json_is_string(mj) && strlen(json_string_value(mj)) == json_string_length(mj) &&
               (!params || json_is_object(params));
}

/* The index of a value equal to v in the array a, or -1. */
static long find(json_t *a, json_t *v)
{
        for (size_t i = 0; i < json_array_size(a); i++)
                if (json_equal(json_array_get(a, i), v))
                        return (long)i;
        return -1;
}

static bool clean_text(const char *s)
{
        for (; *s; s++)
                if (((unsigned char)*s < 0x20 && *s != '\n') || *s == 0x7f)
                        return false;
        return true;
}

struct expect {
        json_t *sent_ids; /* every id the client sent */
        json_t *owed;     /* the requests owed an answer, by id */
};

static void check_message(json_t *m, struct expect *x)
{
        if (!json_is_object(m))
                abort(); /* a JSON object */
        const char *jv = json_string_value(json_object_get(m, "jsonrpc"));
        if (!jv || strcmp(jv, "2.0"))
                abort();
        json_t *id = json_object_get(m, "id");
        json_t *res = json_object_get(m, "result"), *err = json_object_get(m, "error");
        if (json_object_get(m, "method")) {
                if (id || res || err)
                        abort(); /* the gateway asks its clients nothing */
                return;
        }
        if (!id || !res == !err)
                abort(); /* a response: an id, a result or an error */
        if (err) {
                const char *msg = json_string_value(json_object_get(err, "message"));
                if (!json_is_integer(json_object_get(err, "code")) || !msg || !clean_text(msg))
                        abort();
        }
        if (!json_is_null(id) && find(x->sent_ids, id) < 0)
                abort(); /* an id the client sent */
        long k = find(x->owed, id);
        if (k >= 0)
                json_array_remove(x->owed, (size_t)k);
}

static void check_lines(const char *out, size_t n, struct expect *x)
{
        size_t i = 0;
        while (i < n) {
                const char *nl = memchr(out + i, '\n', n - i);
                if (!nl)
                        abort(); /* every message ends its line */
                size_t len = (size_t)(nl - (out + i));
                json_t *m = json_loadb(out + i, len, JSON_ALLOW_NUL, NULL);
                check_message(m, x);
                json_decref(m);
                i += len + 1;
        }
}

/* ---- stdio ---- */

static void over_stdio(struct mcp_gateway *g, const uint8_t *data, size_t size, struct expect *x)
{
        int in = memfd_create("fuzz-in", MFD_CLOEXEC), out = memfd_create("fuzz-out", MFD_CLOEXEC);
        if (in < 0 || out < 0 || write(in, data, size) != (ssize_t)size ||
            lseek(in, 0, SEEK_SET) != 0)
                abort();
        if (mcp_gateway_serve_stdio(g, in, out) != 0)
                abort();
        off_t n = lseek(out, 0, SEEK_END);
        char *text = malloc((size_t)n + 1);
        if (pread(out, text, (size_t)n, 0) != n)
                abort();
        check_lines(text, (size_t)n, x);
        free(text);
        close(in);
        close(out);
}

/* ---- Streamable HTTP ---- */

static CURL *curl;
static char url[64];
static json_t *sessions; /* the ids of the sessions this input made */

struct answer {
        strbuf body;
        char sid[64];
        bool sse;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
        sb_addn(&((struct answer *)ctx)->body, p, size * n);
        return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
        struct answer *a = ctx;
        size_t len = size * n;
        if (len > 15 && !strncasecmp(p, "Mcp-Session-Id:", 15)) {
                size_t k = 15;
                while (k < len && p[k] == ' ')
                        k++;
                size_t end = len;
                while (end > k && (p[end - 1] == '\r' || p[end - 1] == '\n'))
                        end--;
                snprintf(a->sid, sizeof(a->sid), "%.*s", (int)(end - k), p + k);
        }
        if (len > 13 && !strncasecmp(p, "Content-Type:", 13) &&
            memmem(p, len, "text/event-stream", 17))
                a->sse = true;
        return len;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
        (void)event;
        json_t *m = json_loadb(data, len, JSON_ALLOW_NUL, NULL);
        check_message(m, ctx);
        json_decref(m);
        return 0;
}

static void http_start(struct mcp_gateway *g)
{
        if (curl)
                return;
        osvm_err e = {0};
        struct mcp_gw_http *h = mcp_gw_http_start(g, "127.0.0.1", 0, NULL, &e);
        if (!h)
                abort();
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", mcp_gw_http_port(h));
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl = curl_easy_init();
        sessions = json_array();
}

/* One request to the endpoint; its answer checked. */
static void http_one(const char *method, const char *body, size_t len, char *sid, size_t sidn,
                     struct expect *x)
{
        struct answer a = {0};
        struct curl_slist *hdrs = NULL;
        hdrs = curl_slist_append(hdrs, "Accept: application/json, text/event-stream");
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        char h[128];
        if (sid[0]) {
                snprintf(h, sizeof(h), "Mcp-Session-Id: %s", sid);
                hdrs = curl_slist_append(hdrs, h);
        }
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
        }
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(curl, CURLOPT_VERBOSE, getenv("FUZZ_VERBOSE") ? 1L : 0L);
        CURLcode rc = curl_easy_perform(curl);
        if (rc != CURLE_OK) {
                fprintf(stderr, "fuzz: %s %.*s: %s\n", method, (int)(len < 200 ? len : 200),
                        body ? body : "", curl_easy_strerror(rc));
                abort(); /* answered, and a request's stream ended */
        }
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (a.sse) {
                struct sse_parser p;
                sse_init(&p, 1u << 24);
                osvm_err e = {0};
                if (sse_feed(&p, a.body.s ? a.body.s : "", a.body.len, on_event, x, &e) < 0)
                        abort();
                sse_free(&p);
        } else if (a.body.len) {
                json_t *m = json_loadb(a.body.s, a.body.len, JSON_ALLOW_NUL, NULL);
                check_message(m, x);
                json_decref(m);
        } else if (status != 202 && strcmp(method, "DELETE")) {
                fprintf(stderr, "fuzz: %s %.*s: status %ld without a body\n", method,
                        (int)(len < 200 ? len : 200), body ? body : "", status);
                abort(); /* an answer without a body accepts a notification or response */
        }
        if (a.sid[0] && strcmp(a.sid, sid)) {
                /* a new session: the later requests name it; each is ended after the input */
                snprintf(sid, sidn, "%s", a.sid);
                json_array_append_new(sessions, json_string(a.sid));
        }
        curl_slist_free_all(hdrs);
        sb_free(&a.body);
}

static void over_http(struct mcp_gateway *g, const uint8_t *data, size_t size, struct expect *x)
{
        http_start(g);
        char sid[64] = "";
        const char *s = (const char *)data;
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(s + i, '\n', size - i);
                size_t len = nl ? (size_t)(nl - (s + i)) : size - i;
                size_t t = len;
                while (t && (s[i + t - 1] == '\r' || s[i + t - 1] == ' '))
                        t--;
                if (t)
                        http_one("POST", s + i, t, sid, sizeof(sid), x);
                i += len + 1;
        }
        for (size_t i = 0; i < json_array_size(sessions); i++) {
                snprintf(sid, sizeof(sid), "%s", json_string_value(json_array_get(sessions, i)));
                http_one("DELETE", NULL, 0, sid, sizeof(sid), x);
        }
        json_array_clear(sessions);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        struct mcp_gateway *g = gateway();
        bool http = data[0] & 1;
        data++, size--;

        /* What was sent (ids), and the requests owed an answer. */
        struct expect x = {json_array(), json_array()};
        json_t *cancelled = json_array();
        const char *s = (const char *)data;
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(s + i, '\n', size - i);
                if (!nl && !http)
                        break; /* an unterminated last line is not read */
                size_t len = nl ? (size_t)(nl - (s + i)) : size - i;
                size_t t = len;
                while (t && (s[i + t - 1] == '\r' || s[i + t - 1] == ' '))
                        t--;
                json_t *m =
                    t ? mcp_json_loadb(s + i, t, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL)
                      : NULL;
                json_t *id = json_object_get(m, "id");
                if (id)
                        json_array_append(x.sent_ids, id);
                if (json_is_object(m) && answerable(m))
                        json_array_append(x.owed, id);
                const char *method = json_string_value(json_object_get(m, "method"));
                if (method && !strcmp(method, "notifications/cancelled")) {
                        json_t *rid = json_object_get(json_object_get(m, "params"), "requestId");
                        if (rid)
                                json_array_append(cancelled, rid);
                }
                json_decref(m);
                i += len + 1;
        }

        if (http)
                over_http(g, data, size, &x);
        else
                over_stdio(g, data, size, &x);
        if (!http) /* over HTTP, a request before initialize is refused with no id */
                for (size_t k = 0; k < json_array_size(x.owed); k++)
                        if (find(cancelled, json_array_get(x.owed, k)) < 0)
                                abort(); /* a request nobody cancelled went unanswered */
        json_decref(x.sent_ids);
        json_decref(x.owed);
        json_decref(cancelled);
        return 0;
}
