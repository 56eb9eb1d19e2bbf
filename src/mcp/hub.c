/*
 * The hub: the registered servers' clients for the whole run, and each tool
 * call routed by the isolation policy and recorded in the audit log.
 *
 * Thread-safe: a client carries one request at a time, so each server has up
 * to HUB_CONNS connections, and a call takes one that is free (connecting
 * another while all are busy) for as long as it runs. The gateway serves its
 * clients' requests concurrently this way; the agent and `osvm mcp call`
 * use the first connection alone.
 *
 * The servers start in parallel (mcp_hub_start; in the background for the
 * chat): a thread of its own makes each server's first connection and lists
 * its tools, so that one slow to initialize delays none of the others.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HUB_WAIT_STEP_MS 50u /* longest wait for a free connection between checks of cancel */
#define HUB_LOGGED_MAX   64u /* tools whose decision logged last is kept (logged_already) */

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
        struct mcp_oauth_conf oauth;
        struct mcp_handlers handlers; /* the hub's, with the server's policy */
        bool start_failed;            /* its start-up gave up on it: not tried again this run */
        osvm_err start_err;
        /* the start-up's thread (mcp_hub_start, mcp_hub_start_background) */
        bool starting;   /* a thread runs (or ran and was not taken in yet) */
        bool background; /* ... started by mcp_hub_start_background */
        bool threadless; /* ... ran in turn, no thread to be had */
        bool start_done; /* set by the thread as it ends (atomically) */
        struct mcp_call_opts start_opts;
        struct mcp_client *started;
        json_t *started_tools;
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
        struct mcp_handlers handlers;  /* set by mcp_hub_set_handlers */
        volatile sig_atomic_t stop;    /* ends the start-ups in the background */
        volatile sig_atomic_t *cancel; /* mcp_hub_set_cancel's: ends a start-up */
        pthread_cond_t park;           /* a start-up ended */
        pthread_t *threads;            /* the start-ups' threads, joined when the hub goes */
        size_t nthreads, capthreads;
        /* the decisions logged last, by "server\0tool": each one's reasons, joined */
        struct {
                char *key, *text;
        } logged[HUB_LOGGED_MAX];
        size_t logged_next; /* the slot a new one takes when none is free */
};

/* The answer to a question outside the chat: "defaults" accepts the schema's defaults. */
static json_t *elicit_by_policy(void *ctx, const char *server, json_t *params)
{
        struct hub_server *s = ctx;
        struct mcp_hub *h = s->h;
        pthread_mutex_lock(&h->mu);
        struct mcp_handlers hd = h->handlers;
        bool defaults = s->conf->elicit_defaults;
        pthread_mutex_unlock(&h->mu);
        if (hd.elicit)
                return hd.elicit(hd.ctx, server, params);
        const char *mode = json_string_value(json_object_get(params, "mode"));
        if (defaults && (!mode || !strcmp(mode, "form"))) {
                log_info("%s: the server asked a question; answered with its defaults "
                         "(\"elicitation\": \"defaults\")",
                         server);
                return json_pack("{s:s, s:{}}", "action", "accept", "content");
        }
        log_warn("%s: the server asked a question (elicitation); declined: nobody is asked "
                 "outside the chat (\"elicitation\": \"defaults\" in mcp_servers.json answers "
                 "with the defaults)",
                 server);
        return json_pack("{s:s}", "action", "decline");
}

static json_t *sample_via_hub(void *ctx, const char *server, json_t *params, osvm_err *e)
{
        struct mcp_hub *h = ((struct hub_server *)ctx)->h;
        pthread_mutex_lock(&h->mu);
        struct mcp_handlers hd = h->handlers;
        pthread_mutex_unlock(&h->mu);
        if (!hd.sample) {
                err_set(e, EPERM, "%s: sampling is not offered here", server);
                return NULL;
        }
        return hd.sample(hd.ctx, server, params, e);
}

/* What server s's connections are made with, from its conf: the confinement
 * its policy asks for (osvm's own pack holds each call to the policy itself,
 * and a remote server is not ours to confine), its handlers and its OAuth
 * settings. Under h->mu, or before the hub is shared. */
static void set_conf(const struct mcp_hub *h, struct hub_server *s)
{
        iso_server_sandbox(h->cfg, s->conf->id, &s->sandbox);
        if (s->conf->own_pack || s->conf->kind != MCP_KIND_STDIO)
                s->sandbox.wanted = false;
        s->handlers = (struct mcp_handlers){
            .elicit = elicit_by_policy,
            .sample = h->handlers.sample ? sample_via_hub : NULL,
            .ctx = s,
        };
        s->oauth = (struct mcp_oauth_conf){
            .store_id = strcmp(s->conf->id, MCP_ADHOC_ID) ? s->conf->id : NULL,
            .client_id = s->conf->oauth_client_id,
            .client_secret = s->conf->oauth_client_secret,
            .scope = s->conf->oauth_scope,
            .client_metadata_url = s->conf->oauth_client_metadata_url,
            .client_key_file = s->conf->oauth_client_key_file,
            .id_token_file = s->conf->oauth_id_token_file,
            .idp_token_endpoint = s->conf->oauth_idp_token_endpoint,
            .idp_client_id = s->conf->oauth_idp_client_id,
        };
}

/* Where the status line says a server runs. */
static const char *where(const struct hub_server *s)
{
        char why[400];
        return mcp_server_where(s->conf, s->sandbox.wanted ? mcp_sandbox_tier(why, sizeof(why))
                                                           : MCP_TIER_HOST);
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
        pthread_cond_init(&h->park, NULL);
        h->retired = json_array();
        h->caller = xstrdup("osvm");
        for (size_t i = 0; i < reg->n; i++) {
                h->v[i] = xcalloc(1, sizeof(**h->v));
                h->v[i]->h = h;
                h->v[i]->conf = &reg->v[i];
                set_conf(h, h->v[i]);
                session_set_server(session_get(), reg->v[i].id, where(h->v[i]),
                                   SESSION_SERVER_CONFIGURED);
        }
        return h;
}

void mcp_hub_set_handlers(struct mcp_hub *h, const struct mcp_handlers *hd)
{
        pthread_mutex_lock(&h->mu);
        h->handlers = hd ? *hd : (struct mcp_handlers){0};
        for (size_t i = 0; i < h->n; i++)
                h->v[i]->handlers.sample = h->handlers.sample ? sample_via_hub : NULL;
        pthread_mutex_unlock(&h->mu);
}

void mcp_hub_set_cancel(struct mcp_hub *h, volatile sig_atomic_t *cancel)
{
        pthread_mutex_lock(&h->mu);
        h->cancel = cancel;
        pthread_mutex_unlock(&h->mu);
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

/* The server of that id, or NULL. Under h->mu. */
static struct hub_server *named(const struct mcp_hub *h, const char *id)
{
        for (size_t i = 0; i < h->n; i++)
                if (strcmp(h->v[i]->conf->id, id) == 0)
                        return h->v[i];
        return NULL;
}

static struct hub_server *find(struct mcp_hub *h, const char *id, osvm_err *e)
{
        pthread_mutex_lock(&h->mu);
        struct hub_server *s = named(h, id);
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

/* A tool list no longer cached (its reference taken over), kept until the
 * hub goes since callers hold it borrowed: once, however often it is
 * retired. Under h->mu. */
static void retire_locked(struct mcp_hub *h, json_t *tools)
{
        size_t i;
        json_t *old;
        json_array_foreach(h->retired, i, old)
        {
                if (old == tools) {
                        json_decref(tools);
                        return;
                }
        }
        json_array_append_new(h->retired, tools);
}

/* A list just listed (its reference taken over), or an equal one the hub
 * holds already: a server started again lists what it listed before, and a
 * long-lived hub must not keep one more copy each time it dies. Under h->mu. */
static json_t *known_tools_locked(struct mcp_hub *h, json_t *tools)
{
        size_t i;
        json_t *old;
        json_array_foreach(h->retired, i, old)
        {
                if (json_equal(old, tools)) {
                        json_decref(tools);
                        return json_incref(old);
                }
        }
        return tools;
}

/* A tool list that changed: dropped from the cache, kept until the hub goes
 * (callers hold it borrowed), and the generation bumped. Under h->mu. */
static void tools_changed_locked(struct mcp_hub *h, struct hub_server *s)
{
        if (s->tools)
                retire_locked(h, s->tools);
        s->tools = NULL;
        h->tools_gen++;
        log_debug("%s: its tools changed", s->conf->id);
}

/* A new connection to server s: initialize within its init_timeout_ms. */
static struct mcp_client *connect_server(struct hub_server *s, const struct mcp_call_opts *o,
                                         osvm_err *e)
{
        struct mcp_hub *h = s->h;
        struct mcp_endpoint ep;
        struct mcp_call_opts io = o ? *o : (struct mcp_call_opts){0};
        pthread_mutex_lock(&h->mu);
        mcp_server_endpoint(s->conf, &ep);
        ep.handlers = &s->handlers;
        ep.oauth = &s->oauth;
        if (s->sandbox.wanted)
                ep.sandbox = &s->sandbox;
        if (!io.cancel)
                io.cancel = h->cancel;
        uint32_t init_ms = s->conf->init_timeout_ms;
        pthread_mutex_unlock(&h->mu);
        if (io.cancel && *io.cancel) {
                mcp_err_cancelled(e, "%s: not started: cancelled", s->conf->id);
                return NULL;
        }
        io.timeout_ms = init_ms ? init_ms : MCP_INIT_TIMEOUT_MS;
        struct mcp_client *c = mcp_connect(&ep, &io, e);
        if (!c && e->code == MCP_E_TIMEOUT)
                err_set(e, MCP_E_TIMEOUT,
                        "%s: no answer to initialize within %u ms (init_timeout_ms%s); skipped",
                        s->conf->id, io.timeout_ms,
                        init_ms ? " in mcp_servers.json" : ", the default");
        if (c)
                mcp_set_notify(c, server_notified, s);
        return c;
}

/*
 * Takes a connection of server s for one request: a free live one, else a
 * new one in a free slot, else waits for one to be given back (until the
 * deadline of o or its cancel flag). NULL with e set when none can be had:
 * also while its start-up runs, and after one that gave up on it.
 */
static struct hub_conn *acquire(struct mcp_hub *h, struct hub_server *s,
                                const struct mcp_call_opts *o, osvm_err *e)
{
        uint64_t deadline =
            time_mono_ns() +
            (uint64_t)(o && o->timeout_ms ? o->timeout_ms : MCP_DEFAULT_TIMEOUT_MS) * 1000000ull;
        const char *id = s->conf->id;
        pthread_mutex_lock(&h->mu);
        if (s->starting) {
                pthread_mutex_unlock(&h->mu);
                err_set(e, EAGAIN, "%s: the server is still starting", id);
                return NULL;
        }
        if (s->start_failed) {
                *e = s->start_err;
                pthread_mutex_unlock(&h->mu);
                return NULL;
        }
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
                        mcp_watch_fire(o ? o->watch : NULL); /* a start is a wait of its own */
                        if (dead) {
                                log_warn("%s: the server is gone; starting it again", id);
                                mcp_close(dead);
                        }
                        struct mcp_client *c = connect_server(s, o, e);
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
                if (o && o->watch && o->watch->fd >= 0) {
                        pthread_mutex_unlock(&h->mu);
                        mcp_watch_fire(o->watch);
                        pthread_mutex_lock(&h->mu);
                        continue;
                }
                uint64_t until = now + HUB_WAIT_STEP_MS * 1000000ull;
                if (until > deadline)
                        until = deadline;
                struct timespec ts = time_after(CLOCK_MONOTONIC, until - now);
                pthread_cond_timedwait(&h->freed, &h->mu, &ts);
        }
}

/* Gives a connection back. When the server said its tools changed meanwhile,
 * they are listed again on it first, and the cache replaced (the generation
 * bumped, the hub's tools_changed handler called) only when they differ: a
 * server that announces its tools on every new connection changes nothing.
 * A server found gone is marked down in the session, unless the call was
 * answered (it was there a moment ago; a tool call's answer is on its way
 * to the caller, and the check is made again where a connection is chosen).
 * The listing is a wait that minds no fd: watch is fired first. */
static void release_conn(struct mcp_hub *h, struct hub_server *s, struct hub_conn *c, bool answered,
                         struct mcp_watch *watch)
{
        if (c->client && mcp_take_tools_changed(c->client)) {
                mcp_watch_fire(watch);
                osvm_err e = {0};
                struct mcp_call_opts o = {.timeout_ms = 10000};
                json_t *now = mcp_list_tools(c->client, &o, &e);
                pthread_mutex_lock(&h->mu);
                bool changed = !now || !s->tools || !json_equal(now, s->tools);
                if (changed) {
                        tools_changed_locked(h, s);
                        if (now)
                                s->tools = known_tools_locked(h, json_incref(now));
                }
                struct mcp_handlers hd = h->handlers;
                pthread_mutex_unlock(&h->mu);
                json_decref(now);
                if (changed && hd.tools_changed)
                        hd.tools_changed(hd.ctx, s->conf->id);
        }
        pthread_mutex_lock(&h->mu);
        if (c->client && !answered && !mcp_running(c->client))
                session_set_server(session_get(), s->conf->id, where(s), SESSION_SERVER_DOWN);
        c->busy = false;
        pthread_cond_broadcast(&h->freed);
        pthread_mutex_unlock(&h->mu);
}

static void release(struct mcp_hub *h, struct hub_server *s, struct hub_conn *c)
{
        release_conn(h, s, c, false, NULL);
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
        if (tools && s->tools) {    /* listed meanwhile by another caller: theirs stays */
                json_decref(tools); /* not handed out: nobody holds it */
                tools = s->tools;
        } else if (tools) {
                s->tools = tools = known_tools_locked(h, tools);
        }
        pthread_mutex_unlock(&h->mu);
        release(h, s, c);
        return tools;
}

void mcp_hub_add_server(struct mcp_hub *h, const struct mcp_server_conf *conf)
{
        pthread_mutex_lock(&h->mu);
        struct hub_server *s = named(h, conf->id);
        if (s) {
                s->conf = conf; /* its connections stay as they are */
                set_conf(h, s); /* for connections made from now on */
        } else {
                if (h->n + 1 >= h->cap) {
                        h->cap = 2 * h->cap + 4;
                        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
                }
                s = h->v[h->n++] = xcalloc(1, sizeof(**h->v));
                s->h = h;
                s->conf = conf;
                set_conf(h, s);
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

/* ---- the parallel start-up ---- */

/* Server i, or NULL past the end (servers may be added as the hub runs). */
static struct hub_server *server_at(struct mcp_hub *h, size_t i)
{
        pthread_mutex_lock(&h->mu);
        struct hub_server *s = i < h->n ? h->v[i] : NULL;
        pthread_mutex_unlock(&h->mu);
        return s;
}

static bool has_live_locked(const struct hub_server *s)
{
        for (size_t k = 0; k < MCP_HUB_CONNS; k++)
                if (s->conn[k].client && mcp_alive(s->conn[k].client))
                        return true;
        return false;
}

/* One server's start-up: initialize, then its tools. It touches only the
 * start_ fields and started*, which nobody reads before start_done. */
static void start_server(struct hub_server *s)
{
        s->started = connect_server(s, &s->start_opts, &s->start_err);
        if (s->started) {
                s->started_tools = mcp_list_tools(s->started, &s->start_opts, &s->start_err);
                if (!s->started_tools)
                        err_wrap(&s->start_err, "%s: listing its tools", s->conf->id);
        }
        pthread_mutex_lock(&s->h->mu);
        __atomic_store_n(&s->start_done, true, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&s->h->park);
        pthread_mutex_unlock(&s->h->mu);
}

/* The start-up in a thread of its own (a confined server outlives it: the
 * sandbox makes such children from a thread that lives as long as osvm). */
static void *start_one(void *arg)
{
        start_server(arg);
        return NULL;
}

/* Starts the threads (background: for mcp_hub_collect); returns how many.
 * cancel ends them early (may be NULL). */
static size_t launch(struct mcp_hub *h, const char *only, volatile sig_atomic_t *cancel,
                     bool background)
{
        size_t n = 0;
        struct hub_server *s;
        for (size_t i = 0; (s = server_at(h, i)); i++) {
                pthread_mutex_lock(&h->mu);
                bool go = !(only ? strcmp(s->conf->id, only) != 0 : !s->conf->enabled) &&
                          !has_live_locked(s) && !s->start_failed && !s->starting;
                if (go) {
                        s->start_opts = (struct mcp_call_opts){.cancel = cancel};
                        err_clear(&s->start_err);
                        s->started = NULL;
                        s->started_tools = NULL;
                        __atomic_store_n(&s->start_done, false, __ATOMIC_RELEASE);
                        s->starting = true;
                        s->background = background;
                        s->threadless = false;
                }
                pthread_mutex_unlock(&h->mu);
                if (!go)
                        continue;
                pthread_t t;
                if (pthread_create(&t, NULL, start_one, s) != 0) {
                        s->threadless = true;
                        start_server(s); /* no thread to be had: in turn */
                } else {
                        pthread_mutex_lock(&h->mu);
                        if (h->nthreads == h->capthreads) {
                                h->capthreads = 2 * h->capthreads + 4;
                                h->threads =
                                    xrealloc(h->threads, h->capthreads * sizeof(*h->threads));
                        }
                        h->threads[h->nthreads++] = t;
                        pthread_mutex_unlock(&h->mu);
                }
                n++;
        }
        return n;
}

/* Takes in one server whose start ended (waiting for it): up (true) or given up on. */
static bool take_in(struct mcp_hub *h, struct hub_server *s)
{
        pthread_mutex_lock(&h->mu);
        while (!__atomic_load_n(&s->start_done, __ATOMIC_ACQUIRE))
                pthread_cond_wait(&h->park, &h->mu);
        struct mcp_client *c = s->started, *dead = NULL;
        json_t *tools = s->started_tools;
        bool up = c && tools;
        s->starting = s->background = s->threadless = false;
        struct hub_conn *slot = NULL;
        for (size_t k = 0; k < MCP_HUB_CONNS && up && !slot; k++)
                if (!s->conn[k].busy)
                        slot = &s->conn[k];
        if (up && slot) {
                dead = slot->client;
                slot->client = c;
                c = NULL;
                if (s->tools)
                        retire_locked(h, s->tools);
                s->tools = known_tools_locked(h, tools);
                tools = NULL;
                h->tools_gen++;
        } else if (!up) {
                /* Ctrl-C is not the server's fault: it may be tried again */
                s->start_failed = s->start_err.code != MCP_E_CANCELLED;
        }
        s->started = NULL;
        s->started_tools = NULL;
        bool live = has_live_locked(s);
        pthread_cond_broadcast(&h->freed);
        pthread_mutex_unlock(&h->mu);
        mcp_close(dead);
        mcp_close(c); /* not up, or no slot to hold it */
        json_decref(tools);
        session_set_server(session_get(), s->conf->id, where(s),
                           live ? SESSION_SERVER_UP : SESSION_SERVER_DOWN);
        return up;
}

size_t mcp_hub_start(struct mcp_hub *h, const char *only, const struct mcp_call_opts *o)
{
        pthread_mutex_lock(&h->mu);
        volatile sig_atomic_t *cancel = o && o->cancel ? o->cancel : h->cancel;
        pthread_mutex_unlock(&h->mu);
        launch(h, only, cancel, false);
        size_t up = 0;
        struct hub_server *s;
        for (size_t i = 0; (s = server_at(h, i)); i++) {
                pthread_mutex_lock(&h->mu);
                bool mine = s->starting && !s->background && (!only || !strcmp(s->conf->id, only));
                pthread_mutex_unlock(&h->mu);
                if (mine)
                        up += take_in(h, s);
        }
        return up;
}

void mcp_hub_start_background(struct mcp_hub *h)
{
        launch(h, NULL, &h->stop, true);
}

size_t mcp_hub_collect(struct mcp_hub *h, mcp_joined_fn fn, void *ctx, size_t *pending)
{
        size_t ended = 0;
        *pending = 0;
        struct hub_server *s;
        for (size_t i = 0; (s = server_at(h, i)); i++) {
                pthread_mutex_lock(&h->mu);
                bool mine = s->starting && s->background;
                pthread_mutex_unlock(&h->mu);
                if (!mine)
                        continue;
                if (!__atomic_load_n(&s->start_done, __ATOMIC_ACQUIRE)) {
                        (*pending)++;
                        continue;
                }
                bool up = take_in(h, s);
                ended++;
                if (!fn)
                        continue;
                pthread_mutex_lock(&h->mu);
                size_t ntools = up ? json_array_size(s->tools) : 0;
                osvm_err err = s->start_err;
                pthread_mutex_unlock(&h->mu);
                fn(ctx, s->conf->id, up ? NULL : err.msg, ntools);
        }
        return ended;
}

const char *mcp_hub_start_error(const struct mcp_hub *h, const char *id)
{
        struct mcp_hub *mh = (struct mcp_hub *)h; /* its lock, not its state */
        pthread_mutex_lock(&mh->mu);
        const struct hub_server *s = named(h, id);
        const char *msg = s && s->start_failed ? s->start_err.msg : NULL;
        pthread_mutex_unlock(&mh->mu);
        return msg;
}

void mcp_hub_preview(struct mcp_hub *h, const char *id, const char *tool, struct iso_decision *dec)
{
        struct iso_reach reach;
        pthread_mutex_lock(&h->mu);
        const struct hub_server *s = named(h, id);
        if (s)
                mcp_server_reach(s->conf, &reach);
        pthread_mutex_unlock(&h->mu);
        iso_decide_reach(h->cfg, id, tool, h->host, s ? &reach : NULL, dec);
}

/* Whether text, as logged_already keeps it ("LEVEL TEXT\n" a reason), holds
 * dec's reasons. */
static bool same_reasons(const char *text, const struct iso_decision *dec)
{
        const char *p = text;
        for (size_t i = 0; i < dec->nreasons; i++) {
                const char *r = dec->reasons[i].text;
                size_t n = strlen(r);
                if (p[0] != (char)('0' + dec->reasons[i].level) || p[1] != ' ' ||
                    strncmp(p + 2, r, n) != 0 || p[2 + n] != '\n')
                        return false;
                p += n + 3;
        }
        return *p == '\0';
}

/*
 * Whether dec's reasons are the ones logged last for its tool (and when not,
 * they are kept as such). A process that calls a tool many times (the
 * gateway, a chat) logs its decision once, and again only when its words
 * change: each call's reasons are in its audit record.
 */
static bool logged_already(struct mcp_hub *h, const char *id, const char *tool,
                           const struct iso_decision *dec)
{
        pthread_mutex_lock(&h->mu);
        /* its own slot, else the first free one, else the oldest taken */
        size_t at = 0;
        bool mine = false;
        while (at < HUB_LOGGED_MAX && h->logged[at].key) {
                const char *k = h->logged[at].key; /* "server\0tool" */
                mine = !strcmp(k, id) && !strcmp(k + strlen(k) + 1, tool);
                if (mine)
                        break;
                at++;
        }
        if (at == HUB_LOGGED_MAX) {
                at = h->logged_next;
                h->logged_next = (h->logged_next + 1) % HUB_LOGGED_MAX;
        }
        /* compared where they are: a call's own copy is made only when they changed */
        bool same = mine && same_reasons(h->logged[at].text, dec);
        if (!same) {
                strbuf key = {0}, text = {0};
                sb_add(&key, id);
                sb_addn(&key, "", 1);
                sb_add(&key, tool);
                for (size_t i = 0; i < dec->nreasons; i++) {
                        sb_addf(&text, "%d ", (int)dec->reasons[i].level);
                        sb_add(&text, dec->reasons[i].text);
                        sb_addn(&text, "\n", 1);
                }
                free(h->logged[at].key);
                free(h->logged[at].text);
                h->logged[at].key = sb_steal(&key);
                h->logged[at].text = sb_steal(&text);
        }
        pthread_mutex_unlock(&h->mu);
        return same;
}

void mcp_hub_decide(struct mcp_hub *h, const char *id, const char *tool, struct iso_decision *dec)
{
        mcp_hub_preview(h, id, tool, dec);
        if (dec->fell_back)
                session_note_fallback(session_get());
        /* with OSVM_LOG=info (or debug) every call's trace is shown */
        if (log_get_level() < LOG_INFO && logged_already(h, id, tool, dec))
                return;
        /* The reasons at their own levels: with OSVM_LOG=info, the whole trace. */
        log_batch_begin();
        for (size_t i = 0; i < dec->nreasons; i++)
                log_msg(dec->reasons[i].level, "%s", dec->reasons[i].text);
        log_batch_end();
}

/* Runs the call where dec says; *seen set when the server's egress was seen
 * (it runs confined: what it asked the proxy for is in o->egress). */
static json_t *run(struct mcp_hub *h, const struct iso_decision *dec, json_t *args,
                   const struct mcp_call_opts *o, bool *seen, osvm_err *e)
{
        const char *id = dec->policy.server, *tool = dec->policy.tool;
        switch (dec->route) {
        case ISO_ROUTE_DENY:
                /* the decision's last reason is the refusal, whole: who, why, the remedy */
                err_set(e, EPERM, "%s", dec->reasons[dec->nreasons - 1].text);
                e->exit = OSVM_EXIT_DENIED;
                return NULL;
        case ISO_ROUTE_UNIKERNEL:
                mcp_watch_fire(o ? o->watch : NULL); /* a VM's run minds no fd */
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
        /* (starting a server is not the request that on_sent waits for) */
        struct mcp_call_opts ao = co;
        ao.on_sent = NULL;
        struct hub_conn *c = acquire(h, hs, &ao, e);
        if (!c)
                return NULL;
        if (policy_limit)
                co.timeout_ms = limit;
        *seen = mcp_client_set_call(c->client, co.call_id, tool, co.egress);
        json_t *r = mcp_call_tool(c->client, tool, args, &co, e);
        mcp_client_set_call(c->client, NULL, NULL, NULL);
        release_conn(h, hs, c, r != NULL, co.watch);
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

static void prepare_record(void *ctx)
{
        mcp_audit_prepare(ctx);
}

json_t *mcp_hub_run(struct mcp_hub *h, const struct iso_decision *dec, json_t *args,
                    const struct mcp_call_opts *o, osvm_err *e)
{
        uint64_t t0 = time_mono_ns();
        /* what a tool in a VM reaches through the host, or a confined server
         * through its proxy, goes into its record; a server on the host is
         * not seen (its record's egress is null) */
        struct mcp_call_opts ro = o ? *o : (struct mcp_call_opts){0};
        json_t *egress = dec->route == ISO_ROUTE_UNIKERNEL || dec->route == ISO_ROUTE_DIRECT
                             ? json_array()
                             : NULL;
        if (egress && !ro.egress)
                ro.egress = egress;
        bool seen = dec->route == ISO_ROUTE_UNIKERNEL;
        /* names the call in its record and in its server's secrets' records */
        static atomic_uint calls;
        char call_id[32];
        snprintf(call_id, sizeof(call_id), "%d-%u", self_pid(), atomic_fetch_add(&calls, 1) + 1);
        ro.call_id = call_id;
        struct mcp_audit_call a = {
            .caller = o && o->caller ? o->caller : h->caller,
            .dec = dec,
            .args = args,
            .call_id = call_id,
        };
        /* the record's part known before the answer is made while the server works */
        ro.on_sent = prepare_record;
        ro.sent_ctx = &a;
        json_t *r = run(h, dec, args, &ro, &seen, e);
        a.result = r;
        a.err = r ? NULL : e;
        a.duration_ns = time_mono_ns() - t0;
        a.egress = seen ? ro.egress : NULL;
        if (o && o->egress_seen)
                *o->egress_seen = seen;
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
        h->stop = 1; /* start-ups still running end now */
        for (size_t i = 0; i < h->n; i++)
                if (h->v[i]->starting)
                        take_in(h, h->v[i]);
        for (size_t i = 0; i < h->n; i++)
                for (size_t k = 0; k < MCP_HUB_CONNS; k++)
                        mcp_close(h->v[i]->conn[k].client);
        for (size_t i = 0; i < h->nthreads; i++)
                pthread_join(h->threads[i], NULL);
        free(h->threads);
        pthread_cond_destroy(&h->park);
        for (size_t i = 0; i < h->n; i++) {
                json_decref(h->v[i]->tools);
                free(h->v[i]);
        }
        json_decref(h->retired);
        for (size_t i = 0; i < HUB_LOGGED_MAX; i++) {
                free(h->logged[i].key);
                free(h->logged[i].text);
        }
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->freed);
        free(h->caller);
        free(h->v);
        free(h);
}
