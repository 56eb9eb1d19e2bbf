/*
 * MCP server mode: osvm's own tool pack (osvm-mcp) served over stdio as a
 * standard MCP server (protocol 2025-11-25), each call still routed by the
 * isolation policy: a fresh VM per call, or the tool as a host process when
 * the policy falls back.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define SERVE_LINE_MAX (16u << 20)

struct server {
        const char *name;
        const struct iso_config *cfg;
        const struct iso_host *host;
        json_t *tools;
        int out;
};

static void send_msg(struct server *s, json_t *msg)
{
        char *text = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        if (!text)
                return;
        size_t len = strlen(text);
        text[len] = '\n';
        for (size_t off = 0; off <= len;) {
                ssize_t w = write(s->out, text + off, len + 1 - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        free(text);
}

static void answer(struct server *s, json_t *id, json_t *result)
{
        send_msg(s, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static void error(struct server *s, json_t *id, int code, const char *text)
{
        send_msg(s, json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                              id ? id : json_null(), "error", "code", code, "message", text));
}

static json_t *call(struct server *s, json_t *params)
{
        const char *tool = json_string_value(json_object_get(params, "name"));
        json_t *args = json_object_get(params, "arguments");
        bool known = false;
        size_t i;
        json_t *t;
        json_array_foreach(s->tools, i, t)
        {
                known |= tool && !strcmp(json_string_value(json_object_get(t, "name")), tool);
        }
        if (!known)
                return mcp_text_result(true, "Unknown tool: %s", tool ? tool : "(none)");
        if (args && !json_is_object(args))
                return mcp_text_result(true, "%s: the arguments must be an object", tool);
        struct iso_decision d;
        static const struct iso_reach pack = {.own_pack = true};
        iso_decide_reach(s->cfg, s->name, tool, s->host, &pack, &d);
        for (size_t k = 0; k < d.nreasons; k++)
                log_msg(d.reasons[k].level == LOG_INFO ? LOG_DEBUG : d.reasons[k].level, "%s",
                        d.reasons[k].text);
        json_t *r = NULL;
        osvm_err e = {0};
        if (d.route == ISO_ROUTE_DENY) {
                r = mcp_text_result(true, "%s/%s refused by the isolation policy: %s", s->name,
                                    tool, d.reasons[d.nreasons - 1].text);
        } else if (d.route == ISO_ROUTE_UNIKERNEL) {
                r = mcp_tool_run(&d, tool, args, NULL, true, &e);
        } else {
                /* Direct: the same program as a host process, from where it is built. */
                char *bin = iso_builtin_image(s->host, s->name, tool);
                if (bin || access(d.policy.image, X_OK) == 0) {
                        if (bin) {
                                free(d.policy.image);
                                d.policy.image = bin;
                        }
                        r = mcp_tool_run(&d, tool, args, NULL, false, &e);
                } else {
                        r = mcp_text_result(true,
                                            "%s/%s: its program is not built ('make') or "
                                            "installed ('make install')",
                                            s->name, tool);
                }
        }
        if (!r)
                r = mcp_text_result(true, "%s", e.msg);
        iso_decision_free(&d);
        return r;
}

static void dispatch(struct server *s, json_t *msg)
{
        json_t *id = json_object_get(msg, "id");
        const char *method = json_string_value(json_object_get(msg, "method"));
        json_t *params = json_object_get(msg, "params");
        if (!method)
                return; /* a response or a stray message: nothing asked of us */
        if (!id)
                return; /* a notification: initialized, cancelled, ... */
        if (!strcmp(method, "initialize")) {
                const char *want = json_string_value(json_object_get(params, "protocolVersion"));
                const char *v = want && (!strcmp(want, "2025-11-25") ||
                                         !strcmp(want, "2025-06-18") || !strcmp(want, "2025-03-26"))
                                    ? want
                                    : MCP_PROTOCOL_VERSION;
                /* where the calls run here, truly: a VM only where KVM is */
                const char *where = s->host->kvm_usable ? "Each call runs in its own VM"
                                    : s->host->process_usable
                                        ? "Each call runs in its own trapped process (no "
                                          "KVM here: the process platform, not a VM)"
                                        : "Each call runs where osvm's isolation policy "
                                          "allows (no KVM here: as a host process, or "
                                          "refused)";
                char *ins = xasprintf("Solana tools. %s; the network is reached only through "
                                      "osvm, which holds any credentials.",
                                      where);
                answer(s, id,
                       json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion", v,
                                 "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
                                 s->name, "version", OSVM_VERSION, "instructions", ins));
                free(ins);
        } else if (!strcmp(method, "ping")) {
                answer(s, id, json_object());
        } else if (!strcmp(method, "tools/list")) {
                answer(s, id, json_pack("{s:O}", "tools", s->tools));
        } else if (!strcmp(method, "tools/call")) {
                if (!json_is_object(params))
                        error(s, id, MCP_RPC_INVALID_PARAMS, "tools/call needs params");
                else
                        answer(s, id, call(s, params));
        } else {
                error(s, id, MCP_RPC_METHOD_NOT_FOUND, "Method not found");
        }
}

json_t *mcp_builtin_tools(const struct iso_host *host, const char *name)
{
        if (!host->builtin_images[0] || strchr(name, '/'))
                return NULL;
        char *path = xasprintf("%s/%s.tools.json", host->builtin_images, name);
        json_t *tools = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
        free(path);
        if (!json_is_array(tools)) {
                json_decref(tools);
                return NULL;
        }
        return tools;
}

static bool on_message(void *ctx, char *line, size_t len)
{
        struct server *s = ctx;
        if (!line) {
                log_warn("%s: a message over %u bytes was dropped", s->name, SERVE_LINE_MAX);
                return true;
        }
        if (len) {
                json_error_t jerr;
                json_t *msg = mcp_json_loadb(line, len, 0, &jerr);
                if (json_is_object(msg))
                        dispatch(s, msg);
                else
                        error(s, NULL, -32700, "Parse error");
                json_decref(msg);
        }
        return true;
}

int mcp_serve(const char *name, const struct iso_config *cfg, const struct iso_host *host, int in,
              int out, osvm_err *e)
{
        struct server s = {name, cfg, host, mcp_builtin_tools(host, name), out};
        if (!s.tools)
                return err_set(e, ENOENT, "no built-in tool pack \"%s\" (is it built?)", name);
        mcp_read_lines(in, SERVE_LINE_MAX, on_message, &s);
        json_decref(s.tools);
        return 0;
}
