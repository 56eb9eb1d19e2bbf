/*
 * The hub: the registered servers' clients for the whole run, and each tool
 * call routed by the isolation policy.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct hub_server {
        const struct mcp_server_conf *conf;
        struct mcp_client *client;
        json_t *tools; /* cached tools/list */
        struct mcp_oauth_conf oauth;
        struct mcp_handlers handlers; /* the hub's, with the server's policy */
        struct mcp_hub *hub;
        bool start_failed; /* mcp_hub_start gave up on it: not tried again this run */
        osvm_err start_err;
        /* the start-up's thread (mcp_hub_start, mcp_hub_start_background) */
        bool starting;   /* a thread runs (or ran and was not taken in yet) */
        bool background; /* ... started by mcp_hub_start_background */
        bool threadless; /* ... ran in turn, no thread to be had */
        bool start_done; /* set by the thread as it ends (atomically) */
        pthread_t thread;
        struct mcp_call_opts start_opts;
        struct mcp_client *started;
        json_t *started_tools;
};

struct mcp_hub {
        const struct iso_config *cfg;
        const struct iso_host *host;
        size_t n;
        struct hub_server *v;
        struct mcp_handlers handlers;  /* set by mcp_hub_set_handlers */
        json_t *retired;               /* tool lists replaced after list_changed */
        volatile sig_atomic_t stop;    /* ends the start-ups in the background */
        volatile sig_atomic_t *cancel; /* mcp_hub_set_cancel's: ends a start-up */
};

void mcp_hub_set_cancel(struct mcp_hub *h, volatile sig_atomic_t *cancel)
{
        h->cancel = cancel;
}

/* The answer to a question outside the chat: "defaults" accepts the schema's defaults. */
static json_t *elicit_by_policy(void *ctx, const char *server, json_t *params)
{
        struct hub_server *s = ctx;
        struct mcp_hub *h = s->hub;
        if (h->handlers.elicit)
                return h->handlers.elicit(h->handlers.ctx, server, params);
        const char *mode = json_string_value(json_object_get(params, "mode"));
        if (s->conf->elicit_defaults && (!mode || !strcmp(mode, "form"))) {
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
        struct mcp_hub *h = ((struct hub_server *)ctx)->hub;
        return h->handlers.sample(h->handlers.ctx, server, params, e);
}

static void tools_changed(void *ctx, const char *server)
{
        struct hub_server *s = ctx;
        /* the next mcp_hub_tools lists them again (mcp_tools_stale) */
        if (s->hub->handlers.tools_changed)
                s->hub->handlers.tools_changed(s->hub->handlers.ctx, server);
}

void mcp_hub_set_handlers(struct mcp_hub *h, const struct mcp_handlers *hd)
{
        h->handlers = hd ? *hd : (struct mcp_handlers){0};
        for (size_t i = 0; i < h->n; i++)
                h->v[i].handlers.sample = h->handlers.sample ? sample_via_hub : NULL;
}

struct mcp_hub *mcp_hub_new(const struct mcp_registry *reg, const struct iso_config *cfg,
                            const struct iso_host *host)
{
        struct mcp_hub *h = xcalloc(1, sizeof(*h));
        h->cfg = cfg;
        h->host = host;
        h->retired = json_array();
        h->n = reg->n;
        h->v = xcalloc(reg->n + 1, sizeof(*h->v));
        for (size_t i = 0; i < reg->n; i++) {
                struct hub_server *s = &h->v[i];
                s->conf = &reg->v[i];
                s->hub = h;
                s->handlers = (struct mcp_handlers){
                    .elicit = elicit_by_policy, .tools_changed = tools_changed, .ctx = s};
                s->oauth = (struct mcp_oauth_conf){
                    .store_id = strcmp(reg->v[i].id, MCP_ADHOC_ID) ? reg->v[i].id : NULL,
                    .client_id = reg->v[i].oauth_client_id,
                    .client_secret = reg->v[i].oauth_client_secret,
                    .scope = reg->v[i].oauth_scope,
                    .client_metadata_url = reg->v[i].oauth_client_metadata_url,
                };
                session_set_server(session_get(), reg->v[i].id, "host", SESSION_SERVER_CONFIGURED);
        }
        return h;
}

static struct hub_server *find(struct mcp_hub *h, const char *id, osvm_err *e)
{
        for (size_t i = 0; i < h->n; i++)
                if (strcmp(h->v[i].conf->id, id) == 0) {
                        if (!h->v[i].conf->enabled) {
                                err_set(e, EPERM, "server \"%s\" is disabled in the registry", id);
                                return NULL;
                        }
                        return &h->v[i];
                }
        err_set(e, ENOENT, "no MCP server \"%s\" is registered ('osvm mcp list' shows them)", id);
        e->exit = OSVM_EXIT_USAGE;
        return NULL;
}

static struct mcp_client *connect_server(struct hub_server *s, const struct mcp_call_opts *o,
                                         osvm_err *e)
{
        struct mcp_endpoint ep;
        mcp_server_endpoint(s->conf, &ep);
        ep.handlers = &s->handlers;
        ep.oauth = &s->oauth;
        struct mcp_call_opts io = o ? *o : (struct mcp_call_opts){0};
        if (!io.cancel)
                io.cancel = s->hub->cancel;
        if (io.cancel && *io.cancel) {
                mcp_err_cancelled(e, "%s: not started: cancelled", s->conf->id);
                return NULL;
        }
        io.timeout_ms = s->conf->init_timeout_ms ? s->conf->init_timeout_ms : MCP_INIT_TIMEOUT_MS;
        struct mcp_client *c = mcp_connect(&ep, &io, e);
        if (!c && e->code == MCP_E_TIMEOUT)
                err_set(e, MCP_E_TIMEOUT,
                        "%s: no answer to initialize within %u ms (init_timeout_ms%s); skipped",
                        s->conf->id, io.timeout_ms,
                        s->conf->init_timeout_ms ? " in mcp_servers.json" : ", the default");
        return c;
}

struct mcp_client *mcp_hub_client(struct mcp_hub *h, const char *id, const struct mcp_call_opts *o,
                                  osvm_err *e)
{
        struct hub_server *s = find(h, id, e);
        if (!s)
                return NULL;
        if (s->start_failed && !s->client) {
                *e = s->start_err;
                return NULL;
        }
        if (s->starting) {
                err_set(e, EAGAIN, "%s: the server is still starting", id);
                return NULL;
        }
        if (s->client && mcp_alive(s->client))
                return s->client;
        if (s->client) {
                log_warn("%s: the server is gone; starting it again", id);
                mcp_close(s->client);
                s->client = NULL;
                if (s->tools)
                        json_array_append_new(h->retired, s->tools);
                s->tools = NULL;
        }
        s->client = connect_server(s, o, e);
        session_set_server(session_get(), id, "host",
                           s->client ? SESSION_SERVER_UP : SESSION_SERVER_DOWN);
        return s->client;
}

json_t *mcp_hub_tools(struct mcp_hub *h, const char *id, const struct mcp_call_opts *o, osvm_err *e)
{
        struct mcp_client *c = mcp_hub_client(h, id, o, e);
        if (!c)
                return NULL;
        struct hub_server *s = find(h, id, e);
        if (s->tools && mcp_tools_stale(c)) {
                /* callers may still hold the old list: it lives as long as the hub */
                json_array_append_new(h->retired, s->tools);
                s->tools = NULL;
        }
        if (!s->tools)
                s->tools = mcp_list_tools(c, o, e);
        return s->tools;
}

/* One server's start-up, in a thread of its own: initialize, then its tools. */
static void *start_one(void *arg)
{
        struct hub_server *s = arg;
        s->started = connect_server(s, &s->start_opts, &s->start_err);
        if (s->started) {
                s->started_tools = mcp_list_tools(s->started, &s->start_opts, &s->start_err);
                if (!s->started_tools)
                        err_wrap(&s->start_err, "%s: listing its tools", s->conf->id);
        }
        __atomic_store_n(&s->start_done, true, __ATOMIC_RELEASE);
        return NULL;
}

/* Starts the threads; returns how many. cancel ends them early (may be NULL). */
static size_t launch(struct mcp_hub *h, const char *only, volatile sig_atomic_t *cancel)
{
        size_t n = 0;
        for (size_t i = 0; i < h->n; i++) {
                struct hub_server *s = &h->v[i];
                if ((only && strcmp(s->conf->id, only)) || (!only && !s->conf->enabled) ||
                    (s->client && mcp_alive(s->client)) || s->start_failed || s->starting)
                        continue;
                s->start_opts = (struct mcp_call_opts){.cancel = cancel};
                err_clear(&s->start_err);
                s->started = NULL;
                s->started_tools = NULL;
                s->start_done = false;
                s->starting = true;
                if (pthread_create(&s->thread, NULL, start_one, s) != 0) {
                        start_one(s); /* no thread to be had: in turn */
                        s->threadless = true;
                }
                n++;
        }
        return n;
}

/* Takes in one server whose start ended: up (true) or given up on. */
static bool take_in(struct mcp_hub *h, struct hub_server *s)
{
        if (!s->threadless)
                pthread_join(s->thread, NULL);
        s->starting = s->threadless = false;
        bool up = s->started && s->started_tools;
        if (up) {
                mcp_close(s->client);
                s->client = s->started;
                if (s->tools)
                        json_array_append_new(h->retired, s->tools);
                s->tools = s->started_tools;
        } else {
                mcp_close(s->started);
                /* Ctrl-C is not the server's fault: it may be tried again */
                s->start_failed = s->start_err.code != MCP_E_CANCELLED;
        }
        s->started = NULL;
        s->started_tools = NULL;
        session_set_server(session_get(), s->conf->id, "host",
                           s->client ? SESSION_SERVER_UP : SESSION_SERVER_DOWN);
        return up;
}

size_t mcp_hub_start(struct mcp_hub *h, const char *only, const struct mcp_call_opts *o)
{
        launch(h, only, o && o->cancel ? o->cancel : h->cancel);
        size_t up = 0;
        for (size_t i = 0; i < h->n; i++) {
                struct hub_server *s = &h->v[i];
                if (s->starting && (!only || !strcmp(s->conf->id, only)) && !s->background)
                        up += take_in(h, s);
        }
        return up;
}

void mcp_hub_start_background(struct mcp_hub *h)
{
        launch(h, NULL, &h->stop);
        for (size_t i = 0; i < h->n; i++)
                if (h->v[i].starting)
                        h->v[i].background = true;
}

size_t mcp_hub_collect(struct mcp_hub *h, mcp_joined_fn fn, void *ctx, size_t *pending)
{
        size_t ended = 0;
        *pending = 0;
        for (size_t i = 0; i < h->n; i++) {
                struct hub_server *s = &h->v[i];
                if (!s->starting || !s->background)
                        continue;
                if (!__atomic_load_n(&s->start_done, __ATOMIC_ACQUIRE)) {
                        (*pending)++;
                        continue;
                }
                s->background = false;
                bool up = take_in(h, s);
                ended++;
                if (fn)
                        fn(ctx, s->conf->id, up ? NULL : s->start_err.msg,
                           up ? json_array_size(s->tools) : 0);
        }
        return ended;
}

const char *mcp_hub_start_error(const struct mcp_hub *h, const char *id)
{
        for (size_t i = 0; i < h->n; i++)
                if (!strcmp(h->v[i].conf->id, id) && h->v[i].start_failed)
                        return h->v[i].start_err.msg;
        return NULL;
}

static void note_down_if_dead(struct mcp_hub *h, const char *id)
{
        for (size_t i = 0; i < h->n; i++)
                if (strcmp(h->v[i].conf->id, id) == 0 && h->v[i].client &&
                    !mcp_alive(h->v[i].client))
                        session_set_server(session_get(), id, "host", SESSION_SERVER_DOWN);
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

json_t *mcp_hub_run(struct mcp_hub *h, const struct iso_decision *dec, json_t *args,
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
        struct mcp_client *c = mcp_hub_client(h, id, o, e);
        if (!c)
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
        const struct hub_server *hs = find(h, id, e);
        bool policy_limit =
            limit && !hs->conf->own_pack && (!co.timeout_ms || limit <= co.timeout_ms);
        if (policy_limit)
                co.timeout_ms = limit;
        json_t *r = mcp_call_tool(c, tool, args, &co, e);
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
        if (!r)
                note_down_if_dead(h, id);
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
                if (h->v[i].starting)
                        take_in(h, &h->v[i]);
        for (size_t i = 0; i < h->n; i++) {
                mcp_close(h->v[i].client);
                json_decref(h->v[i].tools);
        }
        json_decref(h->retired);
        free(h->v);
        free(h);
}
