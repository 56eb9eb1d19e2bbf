/*
 * The host side of μVM-1's host calls: one thread reads the agent's
 * requests (one JSON object a line) from fd 3's other end and answers each
 * with one line. The agent is untrusted: every request is checked as a
 * system call is (its op known, its fields exactly the op's, with the right
 * types and bounds, its rate limited); a bad one is answered with an error
 * that names what was wrong, and the session goes on.
 *
 * The agent names tools; where and how they run is the policy's decision,
 * taken here. The LLM key is added here. Nothing the agent sends can name
 * a host file, a URL or a policy.
 */
#include "microvm/microvm.h"
#include "isolation/isolation.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_BYTES 256          /* a server or tool name */
#define TICK_NS        100000000ull /* a pending line while a tool runs */
#define CONFIG_MAX     (1u << 20)
#define STR_(x)        #x
#define STR(x)         STR_(x)

struct microvm_service {
        int fd;
        struct microvm_host *h;
        int prepared;  /* what h->prepare returned: not 0, nothing is served */
        json_t *tools; /* the handshake's list of tools */
        uint64_t started_ns;
        pthread_t thread;
        pthread_mutex_t send_lock; /* the ticker and progress share the socket */
        bool closed;               /* under send_lock: an answer could not be sent */
        unsigned calls, refused;
        unsigned flooded; /* refused by the rate limit since the last call served */
        double tokens;    /* the rate limit's bucket */
        /* the decision tool.decide made last, which the tool.call that
         * follows for the same tool uses (decided, and said, once) */
        struct iso_decision last;
        bool have_last;
        uint64_t last_ns;
        /* a server's questions, put to the agent while its tool call runs */
        struct mcp_handlers ask_handlers;
        pthread_mutex_t ask_lock; /* one question at a time; guards in_call, asks */
        bool in_call;             /* the agent waits for a tool.call's answer */
        unsigned asks;            /* the last question's id */
        atomic_bool asking;       /* the ticker is quiet while the person answers */
};

/* ---- answers ---- */

/*
 * Sends one line. An agent that does not read its answers cannot hold the
 * service: past the stall the channel is closed (the agent's reads end, its
 * writes fail) and said once.
 */
static bool send_json(struct microvm_service *s, json_t *v)
{
        pthread_mutex_lock(&s->send_lock);
        bool ok = false;
        if (v && !s->closed) {
                unsigned stall = s->h->send_stall_ms ? s->h->send_stall_ms : MCP_SEND_STALL_MS;
                int r = mcp_send_line(s->fd, v, 0, stall, NULL);
                ok = r == 0;
                if (!ok) {
                        s->closed = true;
                        if (r == MCP_E_TIMEOUT)
                                log_warn("%s: the agent read nothing of an answer for %u ms; "
                                         "its host-call channel is closed",
                                         microvm_name(s->h), stall);
                        else if (r != MCP_E_CLOSED)
                                log_warn("%s: an answer could not be sent; the host-call "
                                         "channel is closed",
                                         microvm_name(s->h));
                        shutdown(s->fd, SHUT_RDWR);
                }
        }
        pthread_mutex_unlock(&s->send_lock);
        json_decref(v);
        return ok;
}

static json_t *fail(struct microvm_service *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *fail(struct microvm_service *s, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        s->refused++;
        log_warn("%s: refused a host call: %s", microvm_name(s->h), msg);
        return json_pack("{s:b, s:s}", "ok", false, "error", msg);
}

/* ---- checking a request ---- */

/*
 * The request's fields must be the op's: each name in allowed, each of its
 * type. Returns true when they are, else false with the error in why.
 */
struct field {
        const char *name;
        json_type type; /* JSON_TRUE stands for a boolean */
        bool required;
};

/*
 * At most 64 bytes of a name the agent sent, for a message: sanitized, so
 * that a cut through a character (or a control in it) cannot spoil the
 * message, which the answer carries as a JSON string and the log shows.
 */
#define SHOWN_MAX 64
static const char *shown(const char *s, char *buf, size_t n)
{
        strbuf b = {0};
        size_t len = strlen(s);
        sb_add_sanitized(&b, s, len < SHOWN_MAX ? len : SHOWN_MAX, 0);
        snprintf(buf, n, "%s", b.s ? b.s : "");
        sb_free(&b);
        return buf;
}

static bool fields_ok(json_t *req, const char *op, const struct field *f, size_t n, char *why,
                      size_t wn)
{
        const char *key;
        json_t *v;
        json_object_foreach(req, key, v)
        {
                if (!strcmp(key, "op"))
                        continue;
                size_t i = 0;
                while (i < n && strcmp(f[i].name, key) != 0)
                        i++;
                if (i == n) {
                        char buf[4 * SHOWN_MAX + 1];
                        snprintf(why, wn,
                                 "%s: unknown field \"%s\" (the agent names what it wants; "
                                 "the host decides how)",
                                 op, shown(key, buf, sizeof(buf)));
                        return false;
                }
                bool ok = f[i].type == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == f[i].type;
                if (!ok) {
                        snprintf(why, wn, "%s: the field \"%s\" has the wrong type", op, key);
                        return false;
                }
                if (f[i].type == JSON_STRING &&
                    strlen(json_string_value(v)) != json_string_length(v)) {
                        snprintf(why, wn, "%s: the field \"%s\" holds a NUL character", op, key);
                        return false;
                }
                if (f[i].type == JSON_STRING && strcmp(key, "body") != 0 &&
                    json_string_length(v) > NAME_MAX_BYTES) {
                        snprintf(why, wn, "%s: the field \"%s\" is longer than %d bytes", op, key,
                                 NAME_MAX_BYTES);
                        return false;
                }
        }
        for (size_t i = 0; i < n; i++)
                if (f[i].required && !json_object_get(req, f[i].name)) {
                        snprintf(why, wn, "%s: the field \"%s\" is missing", op, f[i].name);
                        return false;
                }
        return true;
}

/* The server must be one the registry has enabled. */
static bool server_ok(const struct mcp_registry *reg, const char *op, const char *server, char *why,
                      size_t wn)
{
        for (size_t i = 0; i < reg->n; i++)
                if (reg->v[i].enabled && !strcmp(reg->v[i].id, server))
                        return true;
        char buf[4 * SHOWN_MAX + 1];
        snprintf(why, wn, "%s: no server \"%s\" is registered", op,
                 shown(server, buf, sizeof(buf)));
        return false;
}

/* ---- the ops ---- */

static json_t *op_hello(struct microvm_service *s, json_t *req)
{
        (void)req;
        const struct agent_ai_config *ai = s->h->ai;
        /* the endpoint as the agent may see it: a key in the URL stays here */
        char *url = ai->url ? mcp_url_public(ai->url) : NULL;
        json_t *planner =
            json_pack("{s:s?, s:s?, s:s?, s:i, s:i, s:i, s:s?}", "provider", ai->provider, "url",
                      url, "model", ai->model, "timeout_ms", (json_int_t)ai->timeout_ms,
                      "max_retries", (json_int_t)ai->max_retries, "max_rounds",
                      (json_int_t)ai->max_rounds, "source", ai->source);
        free(url);
        return json_pack("{s:b, s:i, s:b, s:s, s:o, s:O, s:s, s:s?, s:s}", "ok", true, "protocol",
                         (json_int_t)MICROVM_PROTOCOL, "microvm", true, "version", OSVM_VERSION,
                         "planner", planner, "tools", s->tools, "log_level",
                         log_level_name(log_get_level()), "isolation", s->h->isolation,
                         "agent_platform", s->h->process ? "process" : "kvm");
}

static json_t *op_decide(struct microvm_service *s, json_t *req)
{
        const char *server = json_string_value(json_object_get(req, "server"));
        if (json_is_true(json_object_get(req, "preview"))) {
                /* a listing (the chat's /tools): not logged, not counted, not kept for a call */
                struct iso_decision d;
                mcp_hub_preview(s->h->hub, server, json_string_value(json_object_get(req, "tool")),
                                &d);
                json_t *ans =
                    json_pack("{s:b, s:o}", "ok", true, "decision", iso_decision_json(&d));
                iso_decision_free(&d);
                return ans;
        }
        if (s->have_last)
                iso_decision_free(&s->last);
        mcp_hub_decide(s->h->hub, server, json_string_value(json_object_get(req, "tool")),
                       &s->last);
        s->have_last = true;
        return json_pack("{s:b, s:o}", "ok", true, "decision", iso_decision_json(&s->last));
}

/* While a tool runs: its progress and a tick every 100 ms, as pending lines. */
struct ticker {
        struct microvm_service *s;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;
};

static void *tick(void *arg)
{
        struct ticker *t = arg;
        pthread_mutex_lock(&t->lock);
        while (!t->stop) {
                struct timespec until = time_after(CLOCK_REALTIME, TICK_NS);
                if (pthread_cond_timedwait(&t->cond, &t->lock, &until) == ETIMEDOUT && !t->stop &&
                    !atomic_load(&t->s->asking))
                        send_json(t->s, json_pack("{s:b}", "pending", true));
        }
        pthread_mutex_unlock(&t->lock);
        return NULL;
}

static void on_progress(void *ctx, const struct mcp_progress *p)
{
        struct microvm_service *s = ctx;
        if (p)
                send_json(s, json_pack("{s:b, s:{s:f, s:f, s:s?}}", "pending", true, "progress",
                                       "progress", p->progress, "total", p->total, "message",
                                       p->message));
}

static json_t *op_call(struct microvm_service *s, json_t *req)
{
        const char *server = json_string_value(json_object_get(req, "server"));
        const char *tool = json_string_value(json_object_get(req, "tool"));
        struct iso_decision d;
        if (s->have_last && !strcmp(s->last.policy.server, server) &&
            !strcmp(s->last.policy.tool, tool)) {
                d = s->last; /* the host's own, moments ago */
                s->have_last = false;
        } else {
                mcp_hub_decide(s->h->hub, server, tool, &d);
        }
        struct ticker t = {
            .s = s, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        pthread_t th;
        bool ticking = pthread_create(&th, NULL, tick, &t) == 0;
        json_t *egress = json_array();
        bool seen = false;
        struct mcp_call_opts o = {.cancel = s->h->interrupted,
                                  .on_progress = on_progress,
                                  .progress_ctx = s,
                                  .egress = egress,
                                  .egress_seen = &seen};
        osvm_err e = {0};
        pthread_mutex_lock(&s->ask_lock);
        s->in_call = true;
        pthread_mutex_unlock(&s->ask_lock);
        json_t *result = mcp_hub_run(s->h->hub, &d, json_object_get(req, "arguments"), &o, &e);
        pthread_mutex_lock(&s->ask_lock);
        s->in_call = false;
        pthread_mutex_unlock(&s->ask_lock);
        if (ticking) {
                pthread_mutex_lock(&t.lock);
                t.stop = true;
                pthread_cond_signal(&t.cond);
                pthread_mutex_unlock(&t.lock);
                pthread_join(th, NULL);
        }
        iso_decision_free(&d);
        /* what the call reached out to, for the agent's trace (null: not seen) */
        send_json(s, json_pack("{s:b, s:o}", "pending", true, "egress",
                               seen ? json_incref(egress) : json_null()));
        json_decref(egress);
        if (result)
                return json_pack("{s:b, s:o}", "ok", true, "result", result);
        bool cancelled = e.code == MCP_E_CANCELLED || *s->h->interrupted;
        /* the exit code tells the agent a refusal by the policy from a failure */
        return json_pack("{s:b, s:s, s:b, s:i}", "ok", false, "error", e.msg, "cancelled",
                         cancelled, "exit", (json_int_t)e.exit);
}

static json_t *op_llm(struct microvm_service *s, json_t *req)
{
        struct agent_planner *p = s->h->planner;
        if (!p->ops->post)
                return fail(s, "llm: no LLM is configured (the %s planner runs in the agent)",
                            p->ops->name);
        const char *body = json_string_value(json_object_get(req, "body"));
        json_t *parsed = json_loads(body, JSON_ALLOW_NUL, NULL);
        bool object = json_is_object(parsed);
        json_decref(parsed);
        if (!object)
                return fail(s, "llm: the body is not a JSON object");
        p->cancel = s->h->interrupted;
        json_t *reply = NULL;
        osvm_err e = {0};
        if (p->ops->post(p, body, &reply, &e) < 0)
                return json_pack("{s:b, s:s, s:i}", "ok", false, "error", e.msg, "exit",
                                 (json_int_t)e.exit);
        return json_pack("{s:b, s:o}", "ok", true, "reply", reply);
}

static json_t *op_status(struct microvm_service *s, json_t *req)
{
        char *line = s->h->status_line(json_is_true(json_object_get(req, "utf8")),
                                       json_is_true(json_object_get(req, "color")));
        json_t *ans = json_pack("{s:b, s:s}", "ok", true, "line", line);
        free(line);
        return ans;
}

static json_t *op_events(struct microvm_service *s, json_t *req)
{
        (void)req;
        bool intr = *s->h->interrupted, resize = *s->h->resized;
        *s->h->interrupted = 0;
        *s->h->resized = 0;
        return json_pack("{s:b, s:b, s:b}", "ok", true, "interrupt", intr, "resize", resize);
}

/* Each server's rpc_url as the agent may see it: the endpoint without what
 * may be a credential (mcp_url_public); one that is not a URL is left out. */
static void config_strip_rpc(json_t *cfg)
{
        const char *name;
        json_t *srv;
        json_object_foreach(json_object_get(cfg, "mcp_servers"), name, srv)
        {
                json_t *url = json_object_get(srv, "rpc_url");
                if (!url)
                        continue;
                char *pub = mcp_url_public(json_string_value(url));
                if (pub)
                        json_object_set_new(srv, "rpc_url", json_string(pub));
                else
                        json_object_del(srv, "rpc_url");
                free(pub);
        }
}

static json_t *op_config(struct microvm_service *s, json_t *req)
{
        (void)req;
        char *path = iso_config_path();
        char *text = NULL;
        size_t len = 0;
        osvm_err e = {0};
        json_t *cfg = NULL;
        if (fs_read_file(path, CONFIG_MAX, &text, &len, &e) == 0)
                cfg = json_loadb(text, len, 0, NULL);
        if (text)
                explicit_bzero(text, len);
        free(text);
        config_strip_rpc(cfg);
        json_t *ans = cfg ? json_pack("{s:b, s:o}", "ok", true, "config", cfg)
                          : fail(s, "config: cannot read the isolation config");
        free(path);
        return ans;
}

/* ---- a server's questions, put to the agent (the chat) ----
 *
 * While the agent waits for a tool.call's answer, a server of that call may
 * ask the person something (elicitation) or ask for the LLM (sampling). The
 * supervisor sends the request to the agent as a pending line
 * {"pending": true, "ask": {"id", "kind", "server", "params"}}; the agent
 * asks the person on its terminal and answers {"op": "answer", "id",
 * "result" | "error"}. Meanwhile it may make the host calls asking needs
 * (llm for sampling; status, events), nothing else. The service thread is in
 * the tool call then, so the answer is read here; the wait ends with the
 * answer, MICROVM_ASK_WAIT_MS, Ctrl-C or the agent's end.
 */

static json_t *handle(struct microvm_service *s, const char *line, size_t len);

/* One line of the agent's during a question, not the answer: served when
 * asking needs it, else refused. */
static void serve_while_asking(struct microvm_service *s, json_t *req, const char *line, size_t len)
{
        const char *op = json_string_value(json_object_get(req, "op"));
        static const char *const allowed[] = {"llm", "status", "events"};
        for (size_t i = 0; op && i < sizeof(allowed) / sizeof(allowed[0]); i++)
                if (!strcmp(op, allowed[i])) {
                        send_json(s, handle(s, line, len));
                        return;
                }
        char buf[4 * SHOWN_MAX + 1];
        send_json(s, fail(s, "%s: not while a server's question is open (answer it first)",
                          op ? shown(op, buf, sizeof(buf)) : "a host call without an op"));
}

/* The agent's answer to question id: its result, or NULL with e set. */
static json_t *take_answer(struct microvm_service *s, json_t *req, unsigned id, osvm_err *e)
{
        static const struct field f[] = {{"id", JSON_INTEGER, true},
                                         {"result", JSON_OBJECT, false},
                                         {"error", JSON_STRING, false}};
        char why[512];
        if (!fields_ok(req, "answer", f, 3, why, sizeof(why))) {
                s->refused++;
                err_set(e, EPROTO, "the agent's answer: %s", why);
                return NULL;
        }
        if (json_integer_value(json_object_get(req, "id")) != (json_int_t)id) {
                err_set(e, EPROTO, "the agent answered another question than the one open");
                return NULL;
        }
        json_t *result = json_object_get(req, "result");
        if (!result) {
                const char *msg = json_string_value(json_object_get(req, "error"));
                char buf[4 * SHOWN_MAX + 1];
                err_set(e, -1, "%s", msg ? shown(msg, buf, sizeof(buf)) : "declined");
                return NULL;
        }
        return json_incref(result);
}

/* Reads the agent's lines until the answer to question id. */
static json_t *await_answer(struct microvm_service *s, unsigned id, osvm_err *e)
{
        uint64_t deadline = time_mono_ns() + (uint64_t)MICROVM_ASK_WAIT_MS * 1000000ull;
        strbuf in = {0};
        json_t *result = NULL;
        for (;;) {
                char *nl = in.len ? memchr(in.s, '\n', in.len) : NULL;
                if (nl) {
                        size_t n = (size_t)(nl - in.s);
                        json_error_t je;
                        json_t *req = mcp_json_loadb(in.s, n, 0, &je);
                        const char *op = json_string_value(json_object_get(req, "op"));
                        bool answer = json_is_object(req) && op && !strcmp(op, "answer");
                        if (answer)
                                result = take_answer(s, req, id, e);
                        else if (json_is_object(req))
                                serve_while_asking(s, req, in.s, n);
                        else
                                send_json(s, fail(s, "a host call that is not a JSON object"));
                        json_decref(req);
                        memmove(in.s, nl + 1, in.len - n - 1);
                        in.len -= n + 1;
                        if (answer)
                                break;
                        continue;
                }
                if (in.len > MICROVM_REQUEST_MAX) {
                        err_set(e, EPROTO, "the agent sent a line over %u bytes",
                                MICROVM_REQUEST_MAX);
                        break;
                }
                uint64_t now = time_mono_ns();
                if (now >= deadline) {
                        err_set(e, ETIMEDOUT, "nobody answered within %u s",
                                MICROVM_ASK_WAIT_MS / 1000);
                        break;
                }
                if (*s->h->interrupted) {
                        err_set(e, MCP_E_CANCELLED, "cancelled (Ctrl-C)");
                        break;
                }
                struct pollfd p = {.fd = s->fd, .events = POLLIN};
                int r = poll(&p, 1, 100);
                if (r < 0 && errno != EINTR) {
                        err_sys(e, "waiting for the agent's answer");
                        break;
                }
                if (r <= 0)
                        continue;
                char buf[4096];
                ssize_t k = read(s->fd, buf, sizeof(buf));
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k <= 0) {
                        err_set(e, EPIPE, "the agent ended before it answered");
                        break;
                }
                sb_addn(&in, buf, (size_t)k);
        }
        if (in.len)
                log_warn("%s: %zu bytes after its answer to a server's question were dropped",
                         microvm_name(s->h), in.len);
        sb_free(&in);
        return result;
}

static json_t *ask_agent(struct microvm_service *s, const char *kind, const char *server,
                         json_t *params, osvm_err *e)
{
        pthread_mutex_lock(&s->ask_lock);
        if (!s->in_call) {
                pthread_mutex_unlock(&s->ask_lock);
                err_set(e, -1, "no tool call of the agent's runs: nobody to ask");
                return NULL;
        }
        unsigned id = ++s->asks;
        atomic_store(&s->asking, true);
        json_t *result = NULL;
        json_t *ask = json_pack("{s:b, s:{s:i, s:s, s:s, s:O}}", "pending", true, "ask", "id",
                                (json_int_t)id, "kind", kind, "server", server, "params", params);
        if (!ask)
                err_set(e, ENOMEM, "the question cannot be encoded");
        else if (!send_json(s, ask))
                err_set(e, EPIPE, "the agent's channel is closed");
        else
                result = await_answer(s, id, e);
        atomic_store(&s->asking, false);
        pthread_mutex_unlock(&s->ask_lock);
        return result;
}

static json_t *ask_elicit(void *ctx, const char *server, json_t *params)
{
        struct microvm_service *s = ctx;
        osvm_err e = {0};
        json_t *r = ask_agent(s, "elicit", server, params, &e);
        if (!r)
                log_warn("%s: a question of %s's is declined: %s", microvm_name(s->h), server,
                         e.msg);
        return r;
}

static json_t *ask_sample(void *ctx, const char *server, json_t *params, osvm_err *e)
{
        return ask_agent(ctx, "sample", server, params, e);
}

static const struct field hello_fields[] = {{"protocol", JSON_INTEGER, true}};
static const struct field decide_fields[] = {
    {"server", JSON_STRING, true}, {"tool", JSON_STRING, true}, {"preview", JSON_TRUE, false}};
static const struct field call_fields[] = {
    {"server", JSON_STRING, true}, {"tool", JSON_STRING, true}, {"arguments", JSON_OBJECT, false}};
static const struct field llm_fields[] = {{"body", JSON_STRING, true}};
static const struct field status_fields[] = {{"utf8", JSON_TRUE, false},
                                             {"color", JSON_TRUE, false}};

#define FIELDS(f) f, sizeof(f) / sizeof(f[0])
static const struct op {
        const char *name;
        const struct field *fields;
        size_t nfields;
        bool server; /* its "server" must be one the registry has enabled */
        json_t *(*run)(struct microvm_service *s, json_t *req);
} ops[] = {
    {"hello", FIELDS(hello_fields), false, op_hello},
    {"tool.decide", FIELDS(decide_fields), true, op_decide},
    {"tool.call", FIELDS(call_fields), true, op_call},
    {"llm", FIELDS(llm_fields), false, op_llm},
    {"status", FIELDS(status_fields), false, op_status},
    {"events", NULL, 0, false, op_events},
    {"config", NULL, 0, false, op_config},
};

static const struct op *op_find(const char *name)
{
        for (size_t i = 0; name && i < sizeof(ops) / sizeof(ops[0]); i++)
                if (!strcmp(name, ops[i].name))
                        return &ops[i];
        return NULL;
}

json_t *microvm_request_check(const char *line, size_t len, const struct mcp_registry *reg,
                              char *why, size_t n)
{
        json_error_t je;
        json_t *req = mcp_json_loadb(line, len, 0, &je); /* \u0000 is valid JSON */
        if (!json_is_object(req)) {
                json_decref(req);
                snprintf(why, n, "a host call that is not a JSON object");
                return NULL;
        }
        const char *name = json_string_value(json_object_get(req, "op"));
        const struct op *op = op_find(name);
        bool ok = false;
        char buf[4 * SHOWN_MAX + 1];
        if (!op)
                snprintf(why, n, "unknown host call \"%s\"",
                         name ? shown(name, buf, sizeof(buf)) : "(no op)");
        else if (fields_ok(req, op->name, op->fields, op->nfields, why, n) &&
                 (!op->server ||
                  server_ok(reg, op->name, json_string_value(json_object_get(req, "server")), why,
                            n)))
                ok = true;
        if (ok && !strcmp(op->name, "hello")) {
                json_int_t proto = json_integer_value(json_object_get(req, "protocol"));
                ok = proto == MICROVM_PROTOCOL;
                if (!ok)
                        snprintf(why, n, "hello: protocol %lld is not %d, the supervisor's",
                                 (long long)proto, MICROVM_PROTOCOL);
        }
        if (!ok) {
                json_decref(req);
                return NULL;
        }
        return req;
}

/* A token bucket: MICROVM_CALLS_PER_SEC, bursts up to MICROVM_CALLS_BURST. */
static bool rate_ok(struct microvm_service *s)
{
        uint64_t now = time_mono_ns();
        s->tokens += (double)(now - s->last_ns) / 1e9 * MICROVM_CALLS_PER_SEC;
        if (s->tokens > MICROVM_CALLS_BURST)
                s->tokens = MICROVM_CALLS_BURST;
        s->last_ns = now;
        if (s->tokens < 1)
                return false;
        s->tokens -= 1;
        return true;
}

static json_t *handle(struct microvm_service *s, const char *line, size_t len)
{
        s->calls++;
        if (s->prepared)
                return json_pack("{s:b, s:s, s:i}", "ok", false, "error",
                                 "the supervisor could not open the servers and the planner "
                                 "(it said why)",
                                 "exit", (json_int_t)s->prepared);
        if (!rate_ok(s)) {
                /* said once a flood, not once a call: the log is not to flood too */
                if (s->flooded++ == 0)
                        log_warn("%s: the agent makes more than %d host calls a second; the "
                                 "calls past that are refused",
                                 microvm_name(s->h), MICROVM_CALLS_PER_SEC);
                s->refused++;
                return json_pack(
                    "{s:b, s:s}", "ok", false, "error",
                    "too many host calls: at most " STR(
                        MICROVM_CALLS_PER_SEC) " a second (bursts of " STR(MICROVM_CALLS_BURST) ")");
        }
        if (s->flooded) {
                log_warn("%s: %u host calls were refused by the rate limit", microvm_name(s->h),
                         s->flooded);
                s->flooded = 0;
        }
        char why[1024];
        json_t *req = microvm_request_check(line, len, s->h->reg, why, sizeof(why));
        if (!req)
                return fail(s, "%s", why);
        const struct op *op = op_find(json_string_value(json_object_get(req, "op")));
        log_debug("%s: host call %s at %.1f ms", microvm_name(s->h), op->name,
                  (double)(time_mono_ns() - s->started_ns) / 1e6);
        json_t *ans = op->run(s, req);
        json_decref(req);
        return ans;
}

/* ---- the thread ---- */

/* Every enabled server's tools, for the handshake: [{server, tools}]. The
 * servers start (and a server that cannot is said) here, while the agent boots. */
static json_t *list_tools(const struct microvm_host *h)
{
        json_t *tools = json_array();
        for (size_t i = 0; i < h->reg->n; i++) {
                const char *id = h->reg->v[i].id;
                if (!h->reg->v[i].enabled)
                        continue;
                osvm_err e = {0};
                json_t *t = mcp_hub_tools(h->hub, id, NULL, &e);
                if (!t) {
                        log_warn("%s: its tools are not available: %s", id, e.msg);
                        continue;
                }
                json_array_append_new(tools, json_pack("{s:s, s:O}", "server", id, "tools", t));
        }
        return tools;
}

/* One request line (NULL: one over the limit, answered as such), one answer. */
static bool on_request(void *ctx, char *line, size_t len)
{
        struct microvm_service *s = ctx;
        json_t *ans =
            line ? handle(s, line, len) : fail(s, "a host call over %u bytes", MICROVM_REQUEST_MAX);
        /* An answer that could not be made (text from a server or a tool that
         * is not UTF-8, say) is still an answer: else the agent waits for ever. */
        if (!ans)
                ans = fail(s, "the answer to this host call could not be made");
        return send_json(s, ans);
}

static void *serve(void *arg)
{
        struct microvm_service *s = arg;
        if (s->h->prepare) {
                uint64_t t0 = time_mono_ns();
                s->prepared = s->h->prepare(s->h, s->h->prepare_ctx);
                log_debug("%s: servers and planner ready in %.1f ms", microvm_name(s->h),
                          (double)(time_mono_ns() - t0) / 1e6);
        }
        if (!s->prepared && s->h->ask) {
                /* before the servers start: what they may ask is declared then */
                s->ask_handlers = (struct mcp_handlers){
                    .elicit = ask_elicit,
                    .sample = s->h->planner && s->h->planner->ops->post ? ask_sample : NULL,
                    .ctx = s,
                };
                mcp_hub_set_handlers(s->h->hub, &s->ask_handlers);
        }
        if (!s->prepared)
                s->tools = list_tools(s->h);
        mcp_read_lines(s->fd, MICROVM_REQUEST_MAX, on_request, s);
        return NULL;
}

struct microvm_service *microvm_service_start(int fd, struct microvm_host *h, osvm_err *e)
{
        struct microvm_service *s = xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->h = h;
        s->tokens = MICROVM_CALLS_BURST;
        s->last_ns = s->started_ns = time_mono_ns();
        pthread_mutex_init(&s->send_lock, NULL);
        pthread_mutex_init(&s->ask_lock, NULL);
        atomic_init(&s->asking, false);
        int r = pthread_create(&s->thread, NULL, serve, s);
        if (r != 0) {
                errno = r;
                err_sys(e, "starting the host-call thread");
                pthread_mutex_destroy(&s->send_lock);
                pthread_mutex_destroy(&s->ask_lock);
                free(s);
                return NULL;
        }
        return s;
}

unsigned microvm_service_finish(struct microvm_service *s, unsigned *refused, int *prepared)
{
        shutdown(s->fd, SHUT_RDWR); /* the agent is gone: end a read that waits */
        pthread_join(s->thread, NULL);
        if (s->have_last)
                iso_decision_free(&s->last);
        json_decref(s->tools);
        unsigned calls = s->calls;
        if (refused)
                *refused = s->refused;
        if (prepared)
                *prepared = s->prepared;
        if (s->h->ask && !s->prepared)
                mcp_hub_set_handlers(s->h->hub, NULL); /* they name this service */
        pthread_mutex_destroy(&s->send_lock);
        pthread_mutex_destroy(&s->ask_lock);
        free(s);
        return calls;
}
