/*
 * The hub: the registered servers' clients for the whole run, and each tool
 * call routed by the isolation policy.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct hub_server {
        const struct mcp_server_conf *conf;
        struct mcp_client *client;
        json_t *tools;              /* cached tools/list */
        struct iso_sandbox sandbox; /* what its policy asks of its confinement */
};

struct mcp_hub {
        const struct iso_config *cfg;
        const struct iso_host *host;
        size_t n;
        struct hub_server *v;
};

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
        h->v = xcalloc(reg->n + 1, sizeof(*h->v));
        for (size_t i = 0; i < reg->n; i++) {
                h->v[i].conf = &reg->v[i];
                iso_server_sandbox(cfg, reg->v[i].id, &h->v[i].sandbox);
                /* osvm's own pack holds each call to the policy itself */
                if (reg->v[i].own_pack || reg->v[i].kind != MCP_KIND_STDIO)
                        h->v[i].sandbox.wanted = false;
                session_set_server(session_get(), reg->v[i].id, where(&h->v[i]),
                                   SESSION_SERVER_CONFIGURED);
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

struct mcp_client *mcp_hub_client(struct mcp_hub *h, const char *id, const struct mcp_call_opts *o,
                                  osvm_err *e)
{
        struct hub_server *s = find(h, id, e);
        if (!s)
                return NULL;
        if (s->client && mcp_alive(s->client))
                return s->client;
        if (s->client) {
                log_warn("%s: the server is gone; starting it again", id);
                mcp_close(s->client);
                s->client = NULL;
                json_decref(s->tools);
                s->tools = NULL;
        }
        struct mcp_endpoint ep;
        mcp_server_endpoint(s->conf, &ep);
        if (s->sandbox.wanted)
                ep.sandbox = &s->sandbox;
        s->client = mcp_connect(&ep, o, e);
        session_set_server(session_get(), id, where(s),
                           s->client ? SESSION_SERVER_UP : SESSION_SERVER_DOWN);
        return s->client;
}

json_t *mcp_hub_tools(struct mcp_hub *h, const char *id, const struct mcp_call_opts *o, osvm_err *e)
{
        struct mcp_client *c = mcp_hub_client(h, id, o, e);
        if (!c)
                return NULL;
        struct hub_server *s = find(h, id, e);
        if (!s->tools)
                s->tools = mcp_list_tools(c, o, e);
        return s->tools;
}

static void note_down_if_dead(struct mcp_hub *h, const char *id)
{
        for (size_t i = 0; i < h->n; i++)
                if (strcmp(h->v[i].conf->id, id) == 0 && h->v[i].client &&
                    !mcp_alive(h->v[i].client))
                        session_set_server(session_get(), id, where(&h->v[i]), SESSION_SERVER_DOWN);
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
        for (size_t i = 0; i < h->n; i++) {
                mcp_close(h->v[i].client);
                json_decref(h->v[i].tools);
        }
        free(h->v);
        free(h);
}
