/*
 * The MCP client: the lifecycle (initialize / initialized), requests with
 * progress, timeouts and cancellation, and the server's own requests
 * (ping, roots/list) answered while we wait. Transport-independent.
 */
#include "mcp/transport.h"

#include <errno.h>
#include <string.h>

#define CLIENT_NAME     "osvm"
#define INIT_TIMEOUT_MS 30000u
#define CANCEL_FLUSH_MS 500u
#define ABANDONED_KEPT  16 /* ids of requests given up on, whose late answers are expected */
#define TOOLS_WARNED    8  /* refused tools named one by one; the rest are counted */

/* The protocol versions osvm speaks, newest first. */
static const char *const versions[] = {MCP_PROTOCOL_VERSION, "2025-06-18", "2025-03-26",
                                       "2024-11-05", NULL};

struct mcp_client {
        struct mcp_transport *t;
        char *name;
        struct mcp_endpoint ep; /* for messages; strings borrowed from the caller */
        json_int_t next_id;
        bool alive;

        /* The one request in flight. */
        json_int_t pending_id;
        bool pending_done;
        json_t *pending_result, *pending_error;
        mcp_progress_fn on_progress;
        void *progress_ctx;
        unsigned pending_strays; /* responses to no request, while this one waited */

        /* Responses that matched no request: said once, then counted. */
        json_int_t abandoned[ABANDONED_KEPT];
        unsigned nabandoned;
        unsigned strays;
        char stray_id[48];       /* the last one's id, printable */
        bool reply_failed;       /* an answer to the server could not be sent (said once) */
        bool tools_changed;      /* notifications/tools/list_changed came since last asked */
        mcp_notify_fn on_notify; /* the server's other notifications, for a gateway */
        void *notify_ctx;

        json_t *init_result;
        struct mcp_server_info info;
        json_t *roots;
        struct mcp_handlers handlers;
        unsigned asks;            /* elicitation/sampling requests during this request */
        unsigned server_requests; /* server requests of any kind during this request */
        bool flood_said;
};

/* ---- parsing what peers send ---- */

/*
 * Gives every object key that holds a \u0000 escape \uFFFD instead, in place
 * (the same length): s is JSON text that jansson refused for such a key.
 */
static void nul_keys_replaced(char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '"')
                        continue;
                size_t start = ++i;
                bool nul = false;
                for (; i < n && s[i] != '"'; i++)
                        if (s[i] == '\\' && i + 1 < n) {
                                nul |= i + 5 < n && memcmp(s + i + 1, "u0000", 5) == 0;
                                i++;
                        }
                size_t k = i + 1;
                while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
                        k++;
                if (!nul || k >= n || s[k] != ':')
                        continue;
                for (size_t j = start; j < i; j++)
                        if (s[j] == '\\') {
                                if (j + 5 < n && memcmp(s + j + 1, "u0000", 5) == 0)
                                        memcpy(s + j + 2, "FFFD", 4);
                                j++;
                        }
        }
}

int mcp_err_cancelled(osvm_err *e, const char *fmt, ...)
{
        if (!e)
                return -1;
        e->exit = OSVM_EXIT_INTERRUPTED;
        va_list ap;
        va_start(ap, fmt);
        err_setv(e, MCP_E_CANCELLED, fmt, ap);
        va_end(ap);
        return -1;
}

json_t *mcp_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
        json_error_t je;
        json_t *j = json_loadb(buf, len, flags | JSON_ALLOW_NUL, &je);
        if (!j && json_error_code(&je) == json_error_null_byte_in_key) {
                char *copy = xmalloc(len + 1);
                memcpy(copy, buf, len);
                nul_keys_replaced(copy, len);
                j = json_loadb(copy, len, flags | JSON_ALLOW_NUL, &je);
                free(copy);
        }
        if (err)
                *err = je;
        return j;
}

/* ---- messages from the server ---- */

static void reply(struct mcp_client *c, json_t *id, json_t *result, json_t *error)
{
        json_t *msg = json_pack("{s:s, s:O}", "jsonrpc", "2.0", "id", id);
        if (error)
                json_object_set_new(msg, "error", error);
        else
                json_object_set_new(msg, "result", result);
        osvm_err e = {0};
        struct mcp_wait w = {.deadline_ns = time_mono_ns() + 5000000000ull};
        if (c->t->ops->send(c->t, msg, &w, &e) < 0) {
                log_msg(c->reply_failed ? LOG_DEBUG : LOG_WARN,
                        "%s: could not answer the server: %s", c->name, e.msg);
                c->reply_failed = true;
        }
        json_decref(msg);
}

/* ---- elicitation (form and URL mode, SEP-1034 defaults) ---- */

/* Is v one of the choices of an enum, or of a oneOf / anyOf of consts? */
static bool among_choices(json_t *ps, json_t *v, bool *has_choices)
{
        json_t *en = json_object_get(ps, "enum");
        json_t *of = json_object_get(ps, "oneOf");
        if (!of)
                of = json_object_get(ps, "anyOf");
        size_t i;
        json_t *x;
        *has_choices = json_is_array(en) || json_is_array(of);
        json_array_foreach(en, i, x) if (json_equal(x, v)) return true;
        json_array_foreach(of, i, x) if (json_equal(json_object_get(x, "const"), v)) return true;
        return !*has_choices;
}

/* Does v fit the property schema ps (a primitive, or an array of choices)? */
static bool value_fits(json_t *ps, json_t *v)
{
        const char *type = json_string_value(json_object_get(ps, "type"));
        bool choices;
        if (type && !strcmp(type, "array")) { /* multi-select (SEP-1330) */
                if (!json_is_array(v))
                        return false;
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x) if (!among_choices(json_object_get(ps, "items"), x,
                                                               &choices)) return false;
                return true;
        }
        if (!among_choices(ps, v, &choices))
                return false;
        if (!type)
                return choices;
        if (!strcmp(type, "string"))
                return json_is_string(v);
        if (!strcmp(type, "integer"))
                return json_is_integer(v);
        if (!strcmp(type, "number"))
                return json_is_number(v);
        if (!strcmp(type, "boolean"))
                return json_is_boolean(v);
        return false;
}

json_t *mcp_elicit_fill(json_t *schema, json_t *content, const char **why)
{
        json_t *props = json_object_get(schema, "properties");
        json_t *out = json_object();
        const char *key;
        json_t *ps;
        json_object_foreach(props, key, ps)
        {
                json_t *v = json_object_get(content, key);
                if (!v)
                        v = json_object_get(ps, "default");
                if (!v)
                        continue;
                if (!value_fits(ps, v)) {
                        *why = "a value does not fit the type or the choices the schema gives";
                        json_decref(out);
                        return NULL;
                }
                json_object_set(out, key, v);
        }
        size_t i;
        json_t *req;
        json_array_foreach(json_object_get(schema, "required"), i, req)
        {
                if (json_is_string(req) && !json_object_get(out, json_string_value(req))) {
                        *why = "a required field has no value";
                        json_decref(out);
                        return NULL;
                }
        }
        return out;
}

static json_t *action(const char *a)
{
        return json_pack("{s:s}", "action", a);
}

/* The ElicitResult to send for an elicitation/create request. */
static json_t *elicit(struct mcp_client *c, json_t *params)
{
        const char *mode = json_string_value(json_object_get(params, "mode"));
        if (!c->handlers.elicit) {
                log_info("%s: the server asked a question (elicitation); declined: nobody to "
                         "ask in this mode",
                         c->name);
                return action("decline");
        }
        if (++c->asks > MCP_ASKS_PER_REQUEST) {
                if (c->asks == MCP_ASKS_PER_REQUEST + 1)
                        log_warn("%s: the server asked more than %u questions during one "
                                 "request; the rest are declined",
                                 c->name, MCP_ASKS_PER_REQUEST);
                return action("decline");
        }
        json_t *r = c->handlers.elicit(c->handlers.ctx, c->name, params);
        const char *a = json_string_value(json_object_get(r, "action"));
        if (!a || (strcmp(a, "accept") && strcmp(a, "cancel"))) {
                json_decref(r);
                return action("decline");
        }
        if (strcmp(a, "accept") || (mode && strcmp(mode, "form"))) {
                json_object_del(r, "content"); /* cancel, or a URL-mode consent */
                return r;
        }
        const char *why = NULL;
        json_t *filled = mcp_elicit_fill(json_object_get(params, "requestedSchema"),
                                         json_object_get(r, "content"), &why);
        json_decref(r);
        if (!filled) {
                log_warn("%s: the answer to the server's question was not sent (%s); declined",
                         c->name, why);
                return action("decline");
        }
        return json_pack("{s:s, s:o}", "action", "accept", "content", filled);
}

static void on_server_request(struct mcp_client *c, const char *method, json_t *id, json_t *params)
{
        if (++c->server_requests > MCP_SERVER_REQUESTS_PER_REQUEST) {
                if (!c->flood_said)
                        log_warn("%s: the server sent more than %u requests of its own during one "
                                 "request; the rest get an error",
                                 c->name, MCP_SERVER_REQUESTS_PER_REQUEST);
                c->flood_said = true;
                reply(c, id, NULL,
                      json_pack("{s:i, s:s}", "code", -32000, "message",
                                "too many requests from the server"));
                return;
        }
        if (strcmp(method, "ping") == 0) {
                reply(c, id, json_object(), NULL);
        } else if (strcmp(method, "roots/list") == 0 && c->roots) {
                reply(c, id, json_pack("{s:O}", "roots", c->roots), NULL);
        } else if (strcmp(method, "elicitation/create") == 0 && json_is_object(params)) {
                reply(c, id, elicit(c, params), NULL);
        } else if (strcmp(method, "sampling/createMessage") == 0 && c->handlers.sample &&
                   json_is_object(params)) {
                osvm_err e = {0};
                json_t *r = ++c->asks > MCP_ASKS_PER_REQUEST
                                ? (err_set(&e, -1, "too many sampling requests"), NULL)
                                : c->handlers.sample(c->handlers.ctx, c->name, params, &e);
                if (r)
                        reply(c, id, r, NULL);
                else
                        reply(c, id, NULL,
                              json_pack("{s:i, s:s}", "code", -1, "message",
                                        e.msg[0] ? e.msg : "the sampling request was declined"));
        } else if (strcmp(method, "sampling/createMessage") == 0) {
                log_info("%s: the server asked for an LLM completion (sampling); declined in "
                         "this mode",
                         c->name);
                reply(c, id, NULL,
                      json_pack("{s:i, s:s}", "code", -1, "message",
                                "sampling is declined outside osvm's chat"));
        } else {
                log_debug("%s: answered the server's %s with method-not-found", c->name, method);
                reply(c, id, NULL,
                      json_pack("{s:i, s:s}", "code", MCP_RPC_METHOD_NOT_FOUND, "message",
                                "Method not found"));
        }
}

static void on_notification(struct mcp_client *c, const char *method, json_t *params)
{
        if (strcmp(method, "notifications/progress") == 0) {
                /* Only for the request in flight: drop late or foreign tokens. */
                json_t *token = json_object_get(params, "progressToken");
                if (!c->on_progress || c->pending_done || !json_is_integer(token) ||
                    json_integer_value(token) != c->pending_id)
                        return;
                json_t *p = json_object_get(params, "progress");
                json_t *total = json_object_get(params, "total");
                if (!json_is_number(p))
                        return;
                struct mcp_progress pr = {
                    .progress = json_number_value(p),
                    .total = json_is_number(total) ? json_number_value(total) : -1,
                    .message = json_string_value(json_object_get(params, "message")),
                };
                c->on_progress(c->progress_ctx, &pr);
        } else if (c->on_notify && strcmp(method, "notifications/progress") != 0 &&
                   strcmp(method, "notifications/tools/list_changed") != 0 &&
                   strcmp(method, "notifications/cancelled") != 0) {
                c->on_notify(c->notify_ctx, method, params);
        } else if (strcmp(method, "notifications/message") == 0) {
                json_t *data = json_object_get(params, "data");
                char *text = json_is_string(data) ? NULL : json_dumps(data, JSON_COMPACT);
                log_debug("%s: server log: %s", c->name,
                          json_is_string(data) ? json_string_value(data)
                          : text               ? text
                                               : "");
                free(text);
        } else if (strcmp(method, "notifications/tools/list_changed") == 0) {
                log_debug("%s: its tool list changed", c->name);
                c->tools_changed = true; /* the hub lists them again (mcp_take_tools_changed) */
        } else {
                log_debug("%s: notification %s", c->name, method);
        }
}

/* A string's value, or NULL when v is not a string or holds a NUL byte. */
static const char *str_clean(json_t *v)
{
        const char *s = json_string_value(v);
        return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* Was id given up on (timed out, cancelled)? Then its answer may still come. */
static bool abandoned(const struct mcp_client *c, json_t *id)
{
        if (!json_is_integer(id))
                return false;
        unsigned n = c->nabandoned < ABANDONED_KEPT ? c->nabandoned : ABANDONED_KEPT;
        for (unsigned i = 0; i < n; i++)
                if (c->abandoned[i] == json_integer_value(id))
                        return true;
        return false;
}

/*
 * A response whose id matches no request osvm has outstanding: the server
 * broke JSON-RPC (a wrong id, an answer sent twice). It is dropped; the user
 * hears of it once, and the call that waits meanwhile says so if it fails.
 */
static void on_stray(struct mcp_client *c, json_t *id)
{
        if (abandoned(c, id)) {
                log_debug("%s: dropped the late answer to request %lld, given up on", c->name,
                          (long long)json_integer_value(id));
                return;
        }
        char *raw = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
        strbuf b = {0};
        sb_add_sanitized(&b, raw ? raw : "?", raw ? strnlen(raw, 40) : 1, 0);
        snprintf(c->stray_id, sizeof(c->stray_id), "%s", b.s);
        sb_free(&b);
        free(raw);
        c->strays++;
        if (!c->pending_done)
                c->pending_strays++;
        log_msg(
            c->strays == 1 ? LOG_WARN : LOG_DEBUG,
            "%s: the server sent a response (id %s) that matched no request osvm was waiting for; "
            "ignored%s",
            c->name, c->stray_id,
            c->strays == 1 ? " (further ones are logged at debug level)" : "");
}

static void on_message(void *ctx, json_t *msg)
{
        struct mcp_client *c = ctx;
        json_t *id = json_object_get(msg, "id");
        json_t *mj = json_object_get(msg, "method");
        /* a method that is not a clean string is one we do not know */
        const char *method = mj ? (str_clean(mj) ? str_clean(mj) : "") : NULL;
        if (method && id) {
                on_server_request(c, method, id, json_object_get(msg, "params"));
        } else if (method) {
                on_notification(c, method, json_object_get(msg, "params"));
        } else if (id) {
                if (!json_is_integer(id) || json_integer_value(id) != c->pending_id ||
                    c->pending_done) {
                        on_stray(c, id);
                        return;
                }
                json_t *result = json_object_get(msg, "result");
                json_t *error = json_object_get(msg, "error");
                if (error) {
                        c->pending_error = json_incref(error);
                } else if (result) {
                        c->pending_result = json_incref(result);
                } else {
                        c->pending_error = json_pack("{s:i, s:s}", "code", -32603, "message",
                                                     "response with neither result nor error");
                }
                c->pending_done = true;
        } else {
                log_debug("%s: dropped a message that is neither request, notification nor "
                          "response",
                          c->name);
        }
}

/* ---- requests ---- */

static uint32_t timeout_of(const struct mcp_call_opts *o, uint32_t dflt)
{
        return o && o->timeout_ms ? o->timeout_ms : dflt;
}

static void send_cancelled(struct mcp_client *c, json_int_t id, const char *reason)
{
        json_t *n = json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0", "method",
                              "notifications/cancelled", "params", "requestId", (json_int_t)id,
                              "reason", reason);
        osvm_err e = {0};
        struct mcp_wait w = {.deadline_ns = time_mono_ns() + CANCEL_FLUSH_MS * 1000000ull};
        if (c->t->ops->send(c->t, n, &w, &e) < 0)
                log_debug("%s: could not send the cancellation: %s", c->name, e.msg);
        json_decref(n);
}

/* The error a JSON-RPC error object stands for. */
static void rpc_error(struct mcp_client *c, const char *method, json_t *err, osvm_err *e)
{
        json_t *code = json_object_get(err, "code");
        const char *msg = json_string_value(json_object_get(err, "message"));
        if (!msg)
                msg = "(no message)";
        err_set(e, json_is_integer(code) ? (int)json_integer_value(code) : -32603,
                "%s: %s failed: error %lld: %.*s", c->name, method,
                json_is_integer(code) ? (long long)json_integer_value(code) : -32603LL,
                text_cut(msg, 300), msg);
}

/*
 * Sends a request and waits for its response. Returns the result (a new
 * reference) or NULL with e set. params is stolen.
 */
static json_t *request_once(struct mcp_client *c, const char *method, json_t *params,
                            const struct mcp_call_opts *o, uint32_t dflt_timeout, osvm_err *e)
{
        if (!mcp_running(c)) {
                bool just_found = c->alive;
                c->alive = false;
                json_decref(params);
                err_set(e, MCP_E_CLOSED, "%s: the server is not running", c->name);
                /* Found gone only now (it exited at start): the transport says how
                 * it ended, a stdio server's status and last lines of stderr. */
                osvm_err why = {0};
                struct mcp_wait w = {.deadline_ns = time_mono_ns() + 1000000000ull,
                                     .cancel = o ? o->cancel : NULL};
                while (just_found && c->t->ops->poll(c->t, &w, &why) == 0)
                        ;
                if (why.code == MCP_E_CLOSED)
                        *e = why;
                return NULL;
        }
        json_int_t id = c->next_id++;
        if (!params)
                params = json_object();
        if (o && o->on_progress)
                json_object_set_new(params, "_meta", json_pack("{s:I}", "progressToken", id));
        json_t *msg = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method",
                                method, "params", params);
        c->pending_id = id;
        c->pending_done = false;
        c->pending_result = c->pending_error = NULL;
        c->pending_strays = 0;
        c->asks = c->server_requests = 0;
        c->on_progress = o ? o->on_progress : NULL;
        c->progress_ctx = o ? o->progress_ctx : NULL;

        struct mcp_wait w = {
            .deadline_ns = time_mono_ns() + timeout_of(o, dflt_timeout) * 1000000ull,
            .cancel = o ? o->cancel : NULL,
            .done = &c->pending_done,
            .watch = o ? o->watch : NULL,
        };
        if (!c->t->ops->watches)
                mcp_watch_fire(w.watch);
        int r = c->t->ops->send(c->t, msg, &w, e);
        json_decref(msg);
        if (r == 0 && o && o->on_sent)
                o->on_sent(o->sent_ctx);
        while (r == 0 && !c->pending_done)
                r = c->t->ops->poll(c->t, &w, e);
        c->on_progress = NULL;

        if (!c->pending_done) {
                c->pending_done = true; /* late answers and progress are dropped */
                c->abandoned[c->nabandoned++ % ABANDONED_KEPT] = id;
                if (e->code == MCP_E_TIMEOUT || e->code == MCP_E_CANCELLED) {
                        bool timed_out = e->code == MCP_E_TIMEOUT;
                        send_cancelled(c, id, timed_out ? "timed out" : "cancelled by the user");
                        err_set(e, e->code, "%s: %s %s", c->name, method,
                                timed_out ? "timed out" : "was cancelled");
                        if (timed_out)
                                snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg),
                                         " after %u ms", timeout_of(o, dflt_timeout));
                        if (c->pending_strays)
                                snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg),
                                         " (meanwhile the server sent %u response%s that matched "
                                         "no request, such as id %s: it may answer with wrong ids)",
                                         c->pending_strays, c->pending_strays == 1 ? "" : "s",
                                         c->stray_id);
                } else {
                        if (e->code == MCP_E_CLOSED || e->code == MCP_E_PROTOCOL)
                                c->alive = false;
                        err_wrap(e, "%s", method);
                }
                return NULL;
        }
        if (c->pending_error) {
                rpc_error(c, method, c->pending_error, e);
                json_decref(c->pending_error);
                c->pending_error = NULL;
                return NULL;
        }
        json_t *result = c->pending_result;
        c->pending_result = NULL;
        return result;
}

static int initialize(struct mcp_client *c, const struct mcp_call_opts *o, osvm_err *e);

/* request_once, and once more after initializing again when an HTTP server lost the session. */
static json_t *request(struct mcp_client *c, const char *method, json_t *params,
                       const struct mcp_call_opts *o, uint32_t dflt_timeout, osvm_err *e)
{
        bool may_retry = strcmp(method, "initialize") != 0;
        /* (request_once adds only "_meta" to params, which a second try sets anew) */
        json_t *again = may_retry && params ? json_incref(params) : NULL;
        json_t *r = request_once(c, method, params, o, dflt_timeout, e);
        if (!r && may_retry && e->code == MCP_E_SESSION) {
                log_info("%s: the server lost the session; initializing again", c->name);
                if (initialize(c, o, e) == 0)
                        return request_once(c, method, again, o, dflt_timeout, e);
        }
        json_decref(again);
        return r;
}

static int notify(struct mcp_client *c, const char *method, osvm_err *e)
{
        json_t *n = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
        struct mcp_wait w = {.deadline_ns = time_mono_ns() + 5000000000ull};
        int r = c->t->ops->send(c->t, n, &w, e);
        json_decref(n);
        return r;
}

/* ---- the public API ---- */

void mcp_watch_fire(struct mcp_watch *w)
{
        if (!w || w->fd < 0)
                return;
        w->fd = -1;
        w->ready(w->ctx);
}

static const char *str_or(json_t *v, const char *dflt)
{
        return json_is_string(v) ? json_string_value(v) : dflt;
}

/* The version the server answered, when osvm speaks it (the spec: the client must check). */
static const char *known_version(json_t *v)
{
        const char *s = str_clean(v);
        for (size_t i = 0; s && versions[i]; i++)
                if (strcmp(s, versions[i]) == 0)
                        return versions[i];
        return NULL;
}

static int initialize(struct mcp_client *c, const struct mcp_call_opts *o, osvm_err *e)
{
        json_t *caps = json_object();
        if (c->roots)
                json_object_set_new(caps, "roots", json_pack("{s:b}", "listChanged", 0));
        /* Elicitation is declared even without a handler: a question is then
         * declined in words the server can pass on, not left unasked. */
        json_object_set_new(caps, "elicitation", json_pack("{s:{}, s:{}}", "form", "url"));
        if (c->handlers.sample)
                json_object_set_new(caps, "sampling", json_object());
        json_t *params = json_pack("{s:s, s:o, s:{s:s, s:s}}", "protocolVersion",
                                   MCP_PROTOCOL_VERSION, "capabilities", caps, "clientInfo", "name",
                                   CLIENT_NAME, "version", OSVM_VERSION);
        json_t *res = request(c, "initialize", params, o, INIT_TIMEOUT_MS, e);
        if (!res)
                return -1;
        json_t *pv = json_object_get(res, "protocolVersion");
        if (!json_is_object(res) || !json_is_string(pv)) {
                json_decref(res);
                return err_set(e, MCP_E_PROTOCOL,
                               "%s: the initialize result has no protocolVersion", c->name);
        }
        /* It goes into a header of every later HTTP request: only a version we know does. */
        const char *version = known_version(pv);
        if (!version) {
                strbuf b = {0};
                size_t n = json_string_length(pv);
                sb_add_sanitized(&b, json_string_value(pv), n < 64 ? n : 64, 0);
                err_set(e, MCP_E_PROTOCOL,
                        "%s: the server answered protocol version \"%s\"%s, which osvm does not "
                        "speak (it speaks %s, %s, %s and %s)",
                        c->name, b.s, n > 64 ? "..." : "", versions[0], versions[1], versions[2],
                        versions[3]);
                sb_free(&b);
                json_decref(res);
                return -1;
        }
        json_decref(c->init_result); /* a second initialize replaces the first */
        c->init_result = res;
        json_t *si = json_object_get(res, "serverInfo");
        c->info.name = str_or(json_object_get(si, "name"), "?");
        c->info.version = str_or(json_object_get(si, "version"), "?");
        c->info.protocol_version = version;
        c->info.instructions = str_or(json_object_get(res, "instructions"), NULL);
        c->info.capabilities = json_object_get(res, "capabilities");
        if (strcmp(version, MCP_PROTOCOL_VERSION) != 0)
                log_info("%s: the server speaks protocol %s (we asked for %s)", c->name, version,
                         MCP_PROTOCOL_VERSION);
        snprintf(c->t->protocol_version, sizeof(c->t->protocol_version), "%s", version);
        return notify(c, "notifications/initialized", e);
}

struct mcp_client *mcp_connect(const struct mcp_endpoint *ep, const struct mcp_call_opts *o,
                               osvm_err *e)
{
        struct mcp_transport *t =
            ep->url ? mcp_http_open(ep->name, ep->url, ep->headers, ep->max_message, ep->oauth, e)
                    : mcp_stdio_open(ep->name, ep->argv, ep->env, ep->cwd, ep->sandbox,
                                     ep->max_message, o ? o->cancel : NULL, e);
        if (!t)
                return NULL;
        return mcp_client_over(t, ep, o, e);
}

struct mcp_client *mcp_client_over(struct mcp_transport *t, const struct mcp_endpoint *ep,
                                   const struct mcp_call_opts *o, osvm_err *e)
{
        struct mcp_client *c = xcalloc(1, sizeof(*c));
        c->t = t;
        c->name = xstrdup(ep->name);
        c->ep = *ep;
        c->next_id = 1;
        c->alive = true;
        c->roots = ep->roots ? json_incref(ep->roots) : NULL;
        if (ep->handlers)
                c->handlers = *ep->handlers;
        t->on_message = on_message;
        t->ctx = c;
        if (initialize(c, o, e) < 0) {
                err_wrap(e, "connecting to MCP server %s", ep->name);
                mcp_close(c);
                return NULL;
        }
        log_debug("%s: connected over %s to %s %s (protocol %s)", c->name, t->ops->name,
                  c->info.name, c->info.version, c->info.protocol_version);
        return c;
}

/* Why a tool from tools/list cannot be offered, or NULL; seen holds the names kept so far. */
static const char *tool_problem(json_t *tool, json_t *seen, strbuf *shown, char *buf, size_t cap)
{
        if (!json_is_object(tool))
                return "it is not an object";
        json_t *name = json_object_get(tool, "name");
        if (!json_is_string(name))
                return "it has no name";
        const char *s = json_string_value(name);
        size_t n = json_string_length(name);
        sb_add_sanitized(shown, s, n < 80 ? n : 80, 0);
        if (n > 80)
                sb_add(shown, "...");
        if (n == 0)
                return "its name is empty";
        if (n > MCP_TOOL_NAME_MAX) {
                snprintf(buf, cap, "its name is longer than %u bytes", MCP_TOOL_NAME_MAX);
                return buf;
        }
        /* safe: what the one sanitizer shows unchanged */
        strbuf check = {0};
        sb_add_sanitized(&check, s, n, 0);
        bool safe = check.len == n && memcmp(check.s, s, n) == 0;
        sb_free(&check);
        if (!safe)
                return "its name holds control characters, bidirectional controls or bytes that "
                       "are not UTF-8";
        if (json_object_get(seen, s))
                return "the server lists this name twice (the first is kept)";
        return NULL;
}

/* Keeps the tools of one page that may be offered; -1 with e set past a cap. */
static int take_page(struct mcp_client *c, json_t *tools, json_t *all, json_t *seen, size_t *bytes,
                     unsigned *refused, osvm_err *e)
{
        size_t i;
        json_t *tool;
        json_array_foreach(tools, i, tool)
        {
                strbuf shown = {0};
                char buf[64];
                const char *why = tool_problem(tool, seen, &shown, buf, sizeof(buf));
                if (why) {
                        if (++*refused <= TOOLS_WARNED)
                                log_warn("%s: refused the tool \"%s\": %s", c->name,
                                         shown.s ? shown.s : "", why);
                        sb_free(&shown);
                        continue;
                }
                sb_free(&shown);
                if (json_array_size(all) >= MCP_TOOLS_MAX)
                        return err_set(e, MCP_E_TOO_LARGE,
                                       "%s: tools/list: the server lists more than %u tools, the "
                                       "cap; refused",
                                       c->name, MCP_TOOLS_MAX);
                *bytes += json_dumpb(tool, NULL, 0, JSON_COMPACT);
                if (*bytes > MCP_TOOLS_MAX_BYTES)
                        return err_set(e, MCP_E_TOO_LARGE,
                                       "%s: tools/list: the server's tool definitions pass %u MiB, "
                                       "the cap; refused",
                                       c->name, MCP_TOOLS_MAX_BYTES >> 20);
                json_object_set(seen, json_string_value(json_object_get(tool, "name")),
                                json_true());
                json_array_append(all, tool);
        }
        return 0;
}

json_t *mcp_list_tools(struct mcp_client *c, const struct mcp_call_opts *o, osvm_err *e)
{
        json_t *all = json_array(), *seen = json_object();
        json_t *cursor = NULL; /* the server's, kept as it is (it may hold any byte) */
        size_t bytes = 0;
        unsigned refused = 0;
        for (unsigned page = 0;; page++) {
                if (page == MCP_TOOLS_MAX_PAGES) {
                        err_set(e, MCP_E_PROTOCOL,
                                "%s: tools/list: still no last page after %u pages, the cap; "
                                "refused",
                                c->name, MCP_TOOLS_MAX_PAGES);
                        goto fail;
                }
                json_t *params = cursor ? json_pack("{s:o}", "cursor", cursor) : NULL;
                cursor = NULL;
                json_t *res = request(c, "tools/list", params, o, MCP_DEFAULT_TIMEOUT_MS, e);
                if (!res)
                        goto fail;
                json_t *tools = json_object_get(res, "tools");
                if (!json_is_array(tools)) {
                        json_decref(res);
                        err_set(e, MCP_E_PROTOCOL, "%s: tools/list result has no tools array",
                                c->name);
                        goto fail;
                }
                if (take_page(c, tools, all, seen, &bytes, &refused, e) < 0) {
                        json_decref(res);
                        goto fail;
                }
                json_t *next = json_object_get(res, "nextCursor");
                if (json_is_string(next))
                        cursor = json_copy(next);
                json_decref(res);
                if (!cursor)
                        break;
        }
        if (refused > TOOLS_WARNED)
                log_warn("%s: ... and %u more tools refused", c->name, refused - TOOLS_WARNED);
        json_decref(seen);
        return all;
fail:
        json_decref(cursor);
        json_decref(seen);
        json_decref(all);
        return NULL;
}

json_t *mcp_call_tool(struct mcp_client *c, const char *tool, json_t *args,
                      const struct mcp_call_opts *o, osvm_err *e)
{
        json_t *params = json_pack("{s:s}", "name", tool);
        if (args)
                json_object_set(params, "arguments", args);
        json_t *res = request(c, "tools/call", params, o, MCP_DEFAULT_TIMEOUT_MS, e);
        if (res && (!json_is_object(res) || !json_is_array(json_object_get(res, "content")))) {
                json_decref(res);
                err_set(e, MCP_E_PROTOCOL, "%s: the result of tools/call %s has no content array",
                        c->name, tool);
                return NULL;
        }
        return res;
}

json_t *mcp_request(struct mcp_client *c, const char *method, json_t *params,
                    const struct mcp_call_opts *o, osvm_err *e)
{
        json_t *p = params ? json_deep_copy(params) : NULL;
        if (p && !json_is_object(p)) {
                json_decref(p);
                p = NULL;
        }
        if (p)
                json_object_del(p, "_meta"); /* the client sets its own progress token */
        return request(c, method, p, o, MCP_DEFAULT_TIMEOUT_MS, e);
}

int mcp_ping(struct mcp_client *c, const struct mcp_call_opts *o, osvm_err *e)
{
        json_t *res = request(c, "ping", NULL, o, 10000, e);
        json_decref(res);
        return res ? 0 : -1;
}

const struct mcp_server_info *mcp_info(const struct mcp_client *c)
{
        return &c->info;
}

void mcp_set_notify(struct mcp_client *c, mcp_notify_fn fn, void *ctx)
{
        c->on_notify = fn;
        c->notify_ctx = ctx;
}

bool mcp_take_tools_changed(struct mcp_client *c)
{
        bool changed = c->tools_changed;
        c->tools_changed = false;
        return changed;
}

bool mcp_client_set_call(struct mcp_client *c, const char *call_id, const char *tool,
                         json_t *egress)
{
        return c->t->ops->set_call && c->t->ops->set_call(c->t, call_id, tool, egress);
}

bool mcp_alive(const struct mcp_client *c)
{
        return c->alive && (!c->t->ops->alive || c->t->ops->alive(c->t, true));
}

bool mcp_running(const struct mcp_client *c)
{
        return c->alive && (!c->t->ops->alive || c->t->ops->alive(c->t, false));
}

void mcp_close(struct mcp_client *c)
{
        if (!c)
                return;
        c->t->ops->close(c->t);
        json_decref(c->init_result);
        json_decref(c->roots);
        free(c->name);
        free(c);
}
