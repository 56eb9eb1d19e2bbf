/*
 * The hub: the registered servers' clients for the whole run, and each tool
 * call routed by the isolation policy and recorded in the audit log.
 *
 * Thread-safe: a client carries one request at a time, so each server has up
 * to HUB_CONNS connections, and a call takes one that is free (connecting
 * another while all are busy) for as long as it runs. The gateway serves its
 * clients' requests concurrently this way; the agent and `osvm mcp call`
 * use the first connection alone.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define HUB_WAIT_STEP_MS 50u /* longest wait for a free connection between checks of cancel */

struct hub_conn {
        struct mcp_client *client;
        bool busy;
};

struct hub_server {
        struct mcp_hub *h;
        const struct mcp_server_conf *conf;
        struct hub_conn conn[MCP_HUB_CONNS];
        json_t *tools;              /* cached tools/list; NULL until listed or after it changed */
        struct iso_sandbox sandbox; /* what its policy asks of its confinement */
};

struct mcp_hub {
        const struct iso_config *cfg;
        const struct iso_host *host;
        size_t n, cap;
        struct hub_server **v; /* each its own allocation: servers may be added as it runs */
        pthread_mutex_t mu;
        pthread_cond_t freed;
        json_t *retired;    /* tool lists replaced: borrowed by callers until the hub goes */
        unsigned tools_gen; /* bumped whenever a server's tools changed */
        char *caller;       /* the audit record's caller when a call names none */
        mcp_hub_notify_fn on_notify;
        void *notify_ctx;
};

/* What its policy asks of server s's confinement: osvm's own pack holds each
 * call to the policy itself, and a remote server is not ours to confine. */
static void set_sandbox(const struct mcp_hub *h, struct hub_server *s)
{
        iso_server_sandbox(h->cfg, s->conf->id, &s->sandbox);
        if (s->conf->own_pack || s->conf->kind != MCP_KIND_STDIO)
                s->sandbox.wanted = false;
}

/* Where the status line says a server runs. */
static const char *where(const struct hub_server *s)
{
        char why[400];
        return s->sandbox.wanted ? mcp_tier_name(mcp_sandbox_tier(why, sizeof(why))) : "host";
}

struct mcp_hub *mcp_hub_new(const struct mcp_registry *reg, const struct iso_config *cfg,
                            const struct iso_host *host)
{
        struct mcp_hub *h = xcalloc(1, sizeof(*h));
        h->cfg = cfg;
        h->host = host;
        h->n = reg->n;
        h->cap = reg->n + 1;
        h->v = xcalloc(h->cap, sizeof(*h->v));
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->freed, NULL);
        h->retired = json_array();
        h->caller = xstrdup("osvm");
        for (size_t i = 0; i < reg->n; i++) {
                h->v[i] = xcalloc(1, sizeof(**h->v));
                h->v[i]->h = h;
                h->v[i]->conf = &reg->v[i];
                set_sandbox(h, h->v[i]);
                session_set_server(session_get(), reg->v[i].id, where(h->v[i]),
                                   SESSION_SERVER_CONFIGURED);
        }
        return h;
}

void mcp_hub_set_notify(struct mcp_hub *h, mcp_hub_notify_fn fn, void *ctx)
{
        pthread_mutex_lock(&h->mu);
        h->on_notify = fn;
        h->notify_ctx = ctx;
        pthread_mutex_unlock(&h->mu);
}

static void server_notified(void *ctx, const char *method, json_t *params)
{
        struct hub_server *s = ctx;
        struct mcp_hub *h = s->h;
        pthread_mutex_lock(&h->mu);
        mcp_hub_notify_fn fn = h->on_notify;
        void *fctx = h->notify_ctx;
        pthread_mutex_unlock(&h->mu);
        if (fn)
                fn(fctx, s->conf->id, method, params);
        else
                log_debug("%s: notification %s", s->conf->id, method);
}

void mcp_hub_set_caller(struct mcp_hub *h, const char *caller)
{
        free(h->caller);
        h->caller = xstrdup(caller);
}

static struct hub_server *find(struct mcp_hub *h, const char *id, osvm_err *e)
{
        struct hub_server *s = NULL;
        pthread_mutex_lock(&h->mu);
        for (size_t i = 0; i < h->n && !s; i++)
                if (strcmp(h->v[i]->conf->id, id) == 0)
                        s = h->v[i];
        bool enabled = s && s->conf->enabled;
        pthread_mutex_unlock(&h->mu);
        if (s && !enabled) {
                err_set(e, EPERM, "server \"%s\" is disabled in the registry", id);
                return NULL;
        }
        if (s)
                return s;
        err_set(e, ENOENT, "no MCP server \"%s\" is registered ('osvm mcp list' shows them)", id);
        e->exit = OSVM_EXIT_USAGE;
        return NULL;
}

/* A tool list that changed: dropped from the cache, kept until the hub goes
 * (callers hold it borrowed), and the generation bumped. Under h->mu. */
static void tools_changed_locked(struct mcp_hub *h, struct hub_server *s)
{
        if (s->tools)
                json_array_append_new(h->retired, s->tools);
        s->tools = NULL;
        h->tools_gen++;
        log_debug("%s: its tools changed", s->conf->id);
}

/*
 * Takes a connection of server s for one request: a free live one, else a
 * new one in a free slot, else waits for one to be given back (until the
 * deadline of o or its cancel flag). NULL with e set when none can be had.
 */
static struct hub_conn *acquire(struct mcp_hub *h, struct hub_server *s,
                                const struct mcp_call_opts *o, osvm_err *e)
{
        uint64_t deadline =
            time_mono_ns() +
            (uint64_t)(o && o->timeout_ms ? o->timeout_ms : MCP_DEFAULT_TIMEOUT_MS) * 1000000ull;
        const char *id = s->conf->id;
        pthread_mutex_lock(&h->mu);
        for (;;) {
                struct hub_conn *slot = NULL;
                for (size_t i = 0; i < MCP_HUB_CONNS; i++) {
                        struct hub_conn *c = &s->conn[i];
                        if (c->busy)
                                continue;
                        if (c->client && mcp_alive(c->client)) {
                                c->busy = true;
                                pthread_mutex_unlock(&h->mu);
                                return c;
                        }
                        if (!slot)
                                slot = c;
                }
                if (slot) {
                        slot->busy = true;
                        struct mcp_client *dead = slot->client;
                        slot->client = NULL;
                        if (dead)
                                tools_changed_locked(h, s); /* a restarted server may list others */
                        pthread_mutex_unlock(&h->mu);
                        if (dead) {
                                log_warn("%s: the server is gone; starting it again", id);
                                mcp_close(dead);
                        }
                        struct mcp_endpoint ep;
                        mcp_server_endpoint(s->conf, &ep);
                        if (s->sandbox.wanted)
                                ep.sandbox = &s->sandbox;
                        struct mcp_client *c = mcp_connect(&ep, o, e);
                        if (c)
                                mcp_set_notify(c, server_notified, s);
                        session_set_server(session_get(), id, where(s),
                                           c ? SESSION_SERVER_UP : SESSION_SERVER_DOWN);
                        pthread_mutex_lock(&h->mu);
                        slot->client = c;
                        if (!c) {
                                slot->busy = false;
                                pthread_cond_broadcast(&h->freed);
                                pthread_mutex_unlock(&h->mu);
                                return NULL;
                        }
                        pthread_mutex_unlock(&h->mu);
                        return slot;
                }
                uint64_t now = time_mono_ns();
                if (o && o->cancel && *o->cancel) {
                        pthread_mutex_unlock(&h->mu);
                        mcp_err_cancelled(e, "%s: cancelled while waiting for a connection", id);
                        return NULL;
                }
                if (now >= deadline) {
                        pthread_mutex_unlock(&h->mu);
                        err_set(e, MCP_E_TIMEOUT,
                                "%s: timed out waiting for a connection (all %u are busy)", id,
                                MCP_HUB_CONNS);
                        return NULL;
                }
                uint64_t until = now + HUB_WAIT_STEP_MS * 1000000ull;
                if (until > deadline)
                        until = deadline;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t abs =
                    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (until - now);
                ts.tv_sec = (time_t)(abs / 1000000000ull);
                ts.tv_nsec = (long)(abs % 1000000000ull);
                pthread_cond_timedwait(&h->freed, &h->mu, &ts);
        }
}

/* Gives a connection back. When the server said its tools changed meanwhile,
 * they are listed again on it first, and the cache replaced (and the
 * generation bumped) only when they differ: a server that announces its
 * tools on every new connection changes nothing. */
static void release(struct mcp_hub *h, struct hub_server *s, struct hub_conn *c)
{
        if (c->client && mcp_take_tools_changed(c->client)) {
                osvm_err e = {0};
                struct mcp_call_opts o = {.timeout_ms = 10000};
                json_t *now = mcp_list_tools(c->client, &o, &e);
                pthread_mutex_lock(&h->mu);
                if (!now || !s->tools || !json_equal(now, s->tools)) {
                        tools_changed_locked(h, s);
                        if (now)
                                s->tools = json_incref(now);
                }
                pthread_mutex_unlock(&h->mu);
                json_decref(now);
        }
        pthread_mutex_lock(&h->mu);
        if (c->client && !mcp_alive(c->client))
                session_set_server(session_get(), s->conf->id, where(s), SESSION_SERVER_DOWN);
        c->busy = false;
        pthread_cond_broadcast(&h->freed);
        pthread_mutex_unlock(&h->mu);
}

json_t *mcp_hub_tools(struct mcp_hub *h, const char *id, const struct mcp_call_opts *o, osvm_err *e)
{
        struct hub_server *s = find(h, id, e);
        if (!s)
                return NULL;
        pthread_mutex_lock(&h->mu);
        json_t *tools = s->tools;
        pthread_mutex_unlock(&h->mu);
        if (tools)
                return tools;
        struct hub_conn *c = acquire(h, s, o, e);
        if (!c)
                return NULL;
        (void)mcp_take_tools_changed(c->client); /* what it lists now is the news */
        tools = mcp_list_tools(c->client, o, e);
        pthread_mutex_lock(&h->mu);
        if (tools && s->tools) { /* listed meanwhile by another caller: theirs stays */
                json_array_append_new(h->retired, tools);
                tools = s->tools;
        } else if (tools) {
                s->tools = tools;
        }
        pthread_mutex_unlock(&h->mu);
        release(h, s, c);
        return tools;
}

void mcp_hub_add_server(struct mcp_hub *h, const struct mcp_server_conf *conf)
{
        pthread_mutex_lock(&h->mu);
        struct hub_server *s = NULL;
        for (size_t i = 0; i < h->n && !s; i++)
                if (strcmp(h->v[i]->conf->id, conf->id) == 0)
                        s = h->v[i];
        if (s) {
                s->conf = conf;    /* its connections stay as they are */
                set_sandbox(h, s); /* for connections made from now on */
        } else {
                if (h->n + 1 >= h->cap) {
                        h->cap = 2 * h->cap + 4;
                        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
                }
                s = h->v[h->n++] = xcalloc(1, sizeof(**h->v));
                s->h = h;
                s->conf = conf;
                set_sandbox(h, s);
        }
        h->tools_gen++;
        const char *w = where(s);
        pthread_mutex_unlock(&h->mu);
        session_set_server(session_get(), conf->id, w, SESSION_SERVER_CONFIGURED);
}

unsigned mcp_hub_tools_gen(struct mcp_hub *h)
{
        pthread_mutex_lock(&h->mu);
        unsigned g = h->tools_gen;
        pthread_mutex_unlock(&h->mu);
        return g;
}

void mcp_hub_poll(struct mcp_hub *h)
{
        pthread_mutex_lock(&h->mu);
        size_t n = h->n;
        pthread_mutex_unlock(&h->mu);
        for (size_t i = 0; i < n; i++) {
                pthread_mutex_lock(&h->mu);
                struct hub_server *s = h->v[i];
                pthread_mutex_unlock(&h->mu);
                struct hub_conn *c = NULL;
                pthread_mutex_lock(&h->mu);
                for (size_t k = 0; k < MCP_HUB_CONNS && !c; k++)
                        if (!s->conn[k].busy && s->conn[k].client && mcp_alive(s->conn[k].client)) {
                                c = &s->conn[k];
                                c->busy = true;
                        }
                pthread_mutex_unlock(&h->mu);
                if (!c)
                        continue;
                osvm_err e = {0};
                struct mcp_call_opts o = {.timeout_ms = 5000};
                if (mcp_ping(c->client, &o, &e) < 0)
                        log_debug("%s: ping: %s", s->conf->id, e.msg);
                release(h, s, c);
        }
}

json_t *mcp_hub_request(struct mcp_hub *h, const char *id, const char *method, json_t *params,
                        const struct mcp_call_opts *o, osvm_err *e)
{
        struct hub_server *s = find(h, id, e);
        if (!s)
                return NULL;
        struct hub_conn *c = acquire(h, s, o, e);
        if (!c)
                return NULL;
        json_t *r = mcp_request(c->client, method, params, o, e);
        release(h, s, c);
        return r;
}

json_t *mcp_hub_describe(struct mcp_hub *h, const char *id, const struct mcp_call_opts *o,
                         osvm_err *e)
{
        struct hub_server *s = find(h, id, e);
        if (!s)
                return NULL;
        struct hub_conn *c = acquire(h, s, o, e);
        if (!c)
                return NULL;
        const struct mcp_server_info *info = mcp_info(c->client);
        json_t *d =
            json_pack("{s:s, s:s, s:O}", "name", info->name, "version", info->version,
                      "capabilities", info->capabilities ? info->capabilities : json_object());
        if (info->instructions)
                json_object_set_new(d, "instructions", json_string(info->instructions));
        json_t *copy = json_deep_copy(d);
        json_decref(d);
        release(h, s, c);
        return copy;
}

void mcp_hub_preview(struct mcp_hub *h, const char *id, const char *tool, struct iso_decision *dec)
{
        iso_decide(h->cfg, id, tool, h->host, dec);
}

void mcp_hub_decide(struct mcp_hub *h, const char *id, const char *tool, struct iso_decision *dec)
{
        mcp_hub_preview(h, id, tool, dec);
        /* The reasons at their own levels: with OSVM_LOG=info, the whole trace. */
        for (size_t i = 0; i < dec->nreasons; i++)
                log_msg(dec->reasons[i].level, "%s", dec->reasons[i].text);
        if (dec->fell_back)
                session_note_fallback(session_get());
}

static json_t *run(struct mcp_hub *h, const struct iso_decision *dec, json_t *args,
                   const struct mcp_call_opts *o, osvm_err *e)
{
        const char *id = dec->policy.server, *tool = dec->policy.tool;
        switch (dec->route) {
        case ISO_ROUTE_DENY:
                /* the decision's last reason is the refusal, whole: who, why, the remedy */
                err_set(e, EPERM, "%s", dec->reasons[dec->nreasons - 1].text);
                e->exit = OSVM_EXIT_DENIED;
                return NULL;
        case ISO_ROUTE_UNIKERNEL:
                return mcp_image_call(dec, tool, args, o, e);
        case ISO_ROUTE_MICROVM: /* the decision never picks it while no engine exists */
        case ISO_ROUTE_DIRECT:
                break;
        }
        struct hub_server *hs = find(h, id, e);
        if (!hs)
                return NULL;
        /*
         * The policy's timeout_ms holds on the server too, as it does in a VM
         * (the caller's own limit when that is shorter). It counts from the
         * request; starting the server is not the call's time. When it passes
         * the server is told to cancel (notifications/cancelled) and any late
         * answer is dropped. osvm's own pack holds its calls to the policy
         * itself, and says so in its answer: it is left to.
         */
        struct mcp_call_opts co = o ? *o : (struct mcp_call_opts){0};
        uint32_t limit = dec->policy.timeout_ms;
        bool policy_limit =
            limit && !hs->conf->own_pack && (!co.timeout_ms || limit <= co.timeout_ms);
        struct hub_conn *c = acquire(h, hs, o, e);
        if (!c)
                return NULL;
        if (policy_limit)
                co.timeout_ms = limit;
        json_t *r = mcp_call_tool(c->client, tool, args, &co, e);
        release(h, hs, c);
        if (!r && e->code == MCP_E_TIMEOUT && policy_limit) {
                char from[32] = "the default";
                if (dec->policy.timeout_src != ISO_SRC_DEFAULT)
                        snprintf(from, sizeof(from), "set at the %s level",
                                 iso_src_name(dec->policy.timeout_src));
                err_set(e, MCP_E_TIMEOUT,
                        "%s/%s timed out after %u ms, the limit of its policy (timeout_ms, %s); "
                        "the server was told to cancel the call",
                        id, tool, limit, from);
        }
        return r;
}

json_t *mcp_hub_run(struct mcp_hub *h, const struct iso_decision *dec, json_t *args,
                    const struct mcp_call_opts *o, osvm_err *e)
{
        uint64_t t0 = time_mono_ns();
        /* what a tool in a VM reaches, through the host, goes into its record */
        struct mcp_call_opts ro = o ? *o : (struct mcp_call_opts){0};
        json_t *egress = dec->route == ISO_ROUTE_UNIKERNEL ? json_array() : NULL;
        if (egress && !ro.egress)
                ro.egress = egress;
        json_t *r = run(h, dec, args, &ro, e);
        struct mcp_audit_call a = {
            .caller = o && o->caller ? o->caller : h->caller,
            .dec = dec,
            .args = args,
            .result = r,
            .err = r ? NULL : e,
            .duration_ns = time_mono_ns() - t0,
            .egress = ro.egress,
        };
        mcp_audit_record(&a);
        json_decref(egress);
        return r;
}

json_t *mcp_hub_call(struct mcp_hub *h, const char *id, const char *tool, json_t *args,
                     const struct mcp_call_opts *o, struct iso_decision *dec, osvm_err *e)
{
        mcp_hub_decide(h, id, tool, dec);
        return mcp_hub_run(h, dec, args, o, e);
}

void mcp_hub_free(struct mcp_hub *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < h->n; i++) {
                for (size_t k = 0; k < MCP_HUB_CONNS; k++)
                        mcp_close(h->v[i]->conn[k].client);
                json_decref(h->v[i]->tools);
                free(h->v[i]);
        }
        json_decref(h->retired);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->freed);
        free(h->caller);
        free(h->v);
        free(h);
}
