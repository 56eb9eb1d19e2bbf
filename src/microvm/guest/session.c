/*
 * The agent's session inside μVM-1 (guest_session, for the front end in
 * ui.h), served by the supervisor. The handshake says the agent is inside
 * μVM-1 and gives it the tools and the planner's settings without the key;
 * tool calls, the LLM, the status line and terminal events are host calls.
 */
#include "agent/agent.h"
#include "microvm/guest/guest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct guest_state {
        struct agent_ai_config ai;
};

/* ---- tool calls ---- */

/* The host's decision for SERVER/TOOL; a preview is not logged or counted on
 * the host (the chat's /tools). Refused, without reasons, when there is none. */
static void ask_decision(const char *server, const char *tool, bool preview, struct iso_decision *d)
{
        osvm_err e = {0};
        json_t *req =
            json_pack("{s:s, s:s, s:s}", "op", "tool.decide", "server", server, "tool", tool);
        if (preview)
                json_object_set_new(req, "preview", json_true());
        json_t *ans = guest_call(req, NULL, NULL, &e);
        if (!ans || iso_decision_from_json(json_object_get(ans, "decision"), d, &e) < 0) {
                /* nothing runs on a decision the host did not make */
                memset(d, 0, sizeof(*d));
                d->route = ISO_ROUTE_DENY;
                d->policy.server = xstrdup(server);
                d->policy.tool = xstrdup(tool);
                log_msg(preview ? LOG_DEBUG : LOG_WARN,
                        "%s/%s: no decision from the supervisor: %s", server, tool, e.msg);
        }
        json_decref(ans);
}

static void guest_decide(void *ctx, const char *server, const char *tool, struct iso_decision *d)
{
        (void)ctx;
        ask_decision(server, tool, false, d);
}

struct pending {
        const struct mcp_call_opts *o;
};

/* What the call reached out to, as the host saw it (null: not seen): into
 * the caller's egress, as many entries as a record holds. */
static void take_egress(const struct mcp_call_opts *o, json_t *egress)
{
        if (o->egress_seen)
                *o->egress_seen = json_is_array(egress);
        size_t i;
        json_t *v;
        json_array_foreach(egress, i, v)
        {
                if (!o->egress || json_array_size(o->egress) >= MCP_EGRESS_NOTES_MAX)
                        break;
                if (json_is_object(v))
                        json_array_append(o->egress, v);
        }
}

static void on_pending(void *ctx, json_t *line)
{
        const struct mcp_call_opts *o = ((struct pending *)ctx)->o;
        json_t *egress = json_object_get(line, "egress");
        if (egress) {
                take_egress(o, egress);
                return;
        }
        if (!o->on_progress)
                return;
        json_t *p = json_object_get(line, "progress");
        if (!json_is_object(p)) {
                o->on_progress(o->progress_ctx, NULL); /* a tick: time passes */
                return;
        }
        struct mcp_progress pr = {
            .progress = json_number_value(json_object_get(p, "progress")),
            .total = json_number_value(json_object_get(p, "total")),
            .message = json_string_value(json_object_get(p, "message")),
        };
        o->on_progress(o->progress_ctx, &pr);
}

static json_t *guest_run(void *ctx, const struct iso_decision *d, json_t *arguments,
                         const struct mcp_call_opts *o, osvm_err *e)
{
        (void)ctx;
        json_t *req = json_pack("{s:s, s:s, s:s}", "op", "tool.call", "server", d->policy.server,
                                "tool", d->policy.tool);
        if (arguments)
                json_object_set(req, "arguments", arguments);
        struct pending p = {o};
        json_t *ans = guest_call(req, on_pending, &p, e);
        if (!ans) {
                if (e->code == MCP_E_CANCELLED && o->cancel)
                        *o->cancel = 1;
                return NULL;
        }
        json_t *result = json_incref(json_object_get(ans, "result"));
        json_decref(ans);
        if (!json_is_object(result)) {
                json_decref(result);
                err_set(e, EPROTO, "the supervisor's answer has no result");
                return NULL;
        }
        return result;
}

/* ---- the session ---- */

static char *dup_or_null(json_t *v)
{
        const char *s = json_string_value(v);
        return s ? xstrdup(s) : NULL;
}

static int session_open(struct ui_session *s, bool chat)
{
        osvm_err e = {0};
        json_t *hello = guest_call(
            json_pack("{s:s, s:i}", "op", "hello", "protocol", (json_int_t)MICROVM_PROTOCOL), NULL,
            NULL, &e);
        if (!hello || !json_is_true(json_object_get(hello, "microvm"))) {
                log_error("no handshake with the supervisor: %s", e.msg);
                json_decref(hello);
                return OSVM_EXIT_FAILURE;
        }
        struct guest_state *g = xcalloc(1, sizeof(*g));
        json_t *p = json_object_get(hello, "planner");
        g->ai.provider = dup_or_null(json_object_get(p, "provider"));
        g->ai.url = dup_or_null(json_object_get(p, "url"));
        g->ai.model = dup_or_null(json_object_get(p, "model"));
        g->ai.source = dup_or_null(json_object_get(p, "source"));
        g->ai.timeout_ms = (uint32_t)json_integer_value(json_object_get(p, "timeout_ms"));
        g->ai.max_retries = (unsigned)json_integer_value(json_object_get(p, "max_retries"));
        g->ai.max_rounds = (unsigned)json_integer_value(json_object_get(p, "max_rounds"));
        /* g->ai.key stays NULL: the supervisor adds it to each request */
        struct agent_planner *planner = agent_planner_new(&g->ai, &e);
        if (!planner) {
                log_error("%s", e.msg);
                json_decref(hello);
                agent_ai_config_free(&g->ai);
                free(g);
                return OSVM_EXIT_CONFIG;
        }
        struct agent_toolset ts = {0};
        size_t i;
        json_t *srv;
        json_array_foreach(json_object_get(hello, "tools"), i, srv)
        {
                const char *name = json_string_value(json_object_get(srv, "server"));
                json_t *tools = json_object_get(srv, "tools");
                if (name && json_is_array(tools))
                        agent_toolset_add(&ts, name, tools);
        }
        const char *iso = json_string_value(json_object_get(hello, "isolation"));
        snprintf(s->isolation, sizeof(s->isolation), "%s",
                 iso ? iso : "every tool call runs isolated");
        const char *where = json_string_value(json_object_get(hello, "agent_platform"));
        s->agent_process = where && !strcmp(where, "process");
        json_decref(hello);
        static const struct agent_runner_ops ops = {.decide = guest_decide, .run = guest_run};
        struct agent_runner run = {.ops = &ops, .ctx = g};
        s->agent = agent_new(&run, &ts, planner, g->ai.max_rounds);
        s->llm = g->ai.provider != NULL;
        s->kvm = !s->agent_process; /* μVM-1 is a VM where KVM is, else a trapped process */
        s->microvm = true;
        s->model = g->ai.model;
        s->url = g->ai.url ? xstrdup(g->ai.url) : NULL; /* as public as the handshake gave it */
        s->impl = g;
        if (chat) {
                /* a server's questions, which the supervisor puts to the chat */
                ui_ask_init(&g->ai);
                guest_set_asker(ui_ask);
        }
        return 0;
}

static void session_close(struct ui_session *s)
{
        struct guest_state *g = s->impl;
        if (!g)
                return;
        agent_free(s->agent);
        guest_set_asker(NULL);
        ui_ask_free();
        free(s->url);
        agent_ai_config_free(&g->ai);
        free(g);
        *s = (struct ui_session){.ops = s->ops};
}

static char *session_status(struct ui_session *s, struct ui_style st)
{
        (void)s;
        osvm_err e = {0};
        json_t *ans = guest_call(
            json_pack("{s:s, s:b, s:b}", "op", "status", "utf8", st.utf8, "color", st.color), NULL,
            NULL, &e);
        const char *line = json_string_value(json_object_get(ans, "line"));
        /* the supervisor's own line (its colours included), or why there is none */
        char *out = line ? xstrdup(line) : text_sanitize(e.msg, 0);
        json_decref(ans);
        return out;
}

static void session_where(struct ui_session *s, const char *server, const char *tool,
                          struct iso_decision *d)
{
        (void)s;
        ask_decision(server, tool, true, d);
}

static unsigned session_events(struct ui_session *s)
{
        (void)s;
        osvm_err e = {0};
        json_t *ans = guest_call(json_pack("{s:s}", "op", "events"), NULL, NULL, &e);
        unsigned ev = (json_is_true(json_object_get(ans, "interrupt")) ? UI_EVENT_INTERRUPT : 0) |
                      (json_is_true(json_object_get(ans, "resize")) ? UI_EVENT_RESIZE : 0);
        json_decref(ans);
        return ev;
}

const struct ui_session_ops guest_session = {
    .open = session_open,
    .close = session_close,
    .status = session_status,
    .where = session_where,
    .events = session_events,
};
