/*
 * The agent's tools and tool calls on the host: straight through the hub.
 * (Inside μVM-1 the supervisor does the same on the agent's behalf.)
 */
#include "agent/agent.h"

static void hub_decide(void *ctx, const char *server, const char *tool, struct iso_decision *d)
{
        mcp_hub_decide(ctx, server, tool, d);
}

static json_t *hub_run(void *ctx, const struct iso_decision *d, json_t *arguments,
                       const struct mcp_call_opts *o, osvm_err *e)
{
        return mcp_hub_run(ctx, d, arguments, o, e);
}

struct agent_runner agent_hub_runner(struct mcp_hub *hub)
{
        static const struct agent_runner_ops ops = {.decide = hub_decide, .run = hub_run};
        return (struct agent_runner){.ops = &ops, .ctx = hub};
}

void agent_toolset_from_hub(struct agent_toolset *ts, struct mcp_hub *hub,
                            const struct mcp_registry *reg)
{
        /* all at once: one server that hangs delays none of the others */
        mcp_hub_start(hub, NULL, NULL);
        for (size_t i = 0; i < reg->n; i++) {
                if (!reg->v[i].enabled)
                        continue;
                osvm_err te = {0};
                json_t *tools = mcp_hub_tools(hub, reg->v[i].id, NULL, &te);
                if (!tools) {
                        log_warn("%s: its tools are not available: %s", reg->v[i].id, te.msg);
                        continue;
                }
                agent_toolset_add(ts, reg->v[i].id, tools);
        }
}
