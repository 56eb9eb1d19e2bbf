/*
 * The agent's session on the host (cli_host_session, for the front end in
 * ui.h): the servers, the hub over them and the planner, all in this
 * process. Inside μVM-1, microvm/guest/session.c's guest_session stands in
 * for it.
 */
#include "agent/agent.h"
#include "cli/cli.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHAT_START_GRACE_MS 10000u

struct host_session {
        struct cli_agent_host host;
        bool chat;
        struct ui_session *s;
        bool tools_changed; /* a server said so: the agent's tools are listed again */
        bool list_changed;  /* ... because of tools/list_changed (not a server joining) */
        size_t up;          /* servers started in the background that are up */
};

static void on_tools_changed(void *ctx, const char *server)
{
        struct host_session *h = ctx;
        h->tools_changed = h->list_changed = true;
        _cleanup_free_ char *shown = text_sanitize(server, 0);
        log_info("%s: its tools changed; the agent's list is renewed before the next prompt",
                 shown);
}

/* The tools of the servers that are up; those still starting, or given up on
 * (and said so), are left out quietly. */
static void ready_tools(struct host_session *h, struct agent_toolset *ts)
{
        const struct mcp_registry *reg = &h->host.srv.reg;
        for (size_t i = 0; i < reg->n; i++) {
                if (!reg->v[i].enabled || mcp_hub_start_error(h->host.srv.hub, reg->v[i].id))
                        continue;
                osvm_err e = {0};
                json_t *tools = mcp_hub_tools(h->host.srv.hub, reg->v[i].id, NULL, &e);
                if (tools)
                        agent_toolset_add(ts, reg->v[i].id, tools);
                else if (e.code != EAGAIN)
                        log_warn("%s: its tools are not available: %s", reg->v[i].id, e.msg);
        }
}

/* A server's start ended (the chat starts them in the background). */
static void on_joined(void *ctx, const char *id, const char *err, size_t ntools)
{
        struct host_session *h = ctx;
        _cleanup_free_ char *shown = text_sanitize(id, 0);
        if (err) {
                log_error("%s", err);
        } else {
                h->up++;
                if (h->s && h->s->agent) /* later than the prompt: a line of its own */
                        printf("(%s joined: %zu tool%s)\n", shown, ntools, ntools == 1 ? "" : "s");
        }
        h->tools_changed = true;
}

/* The agent's tools listed again from the hub (after tools/list_changed). */
static void renew_tools(struct host_session *h)
{
        h->tools_changed = false;
        struct agent_toolset ts = {0};
        ready_tools(h, &ts);
        size_t before = agent_tools(h->s->agent)->n;
        agent_set_tools(h->s->agent, &ts);
        size_t now = agent_tools(h->s->agent)->n;
        bool changed = h->list_changed;
        h->list_changed = false;
        if (now != before && changed)
                printf("(the servers' tools changed: %zu tools now)\n", now);
}

int cli_agent_host_open(struct cli_agent_host *h)
{
        memset(h, 0, sizeof(*h));
        int r = cli_servers_open(&h->srv, NULL);
        if (r)
                return r;
        mcp_hub_set_caller(h->srv.hub, "agent");
        osvm_err e = {0};
        if (agent_ai_config_load(&h->ai, &e) < 0 || !(h->planner = agent_planner_new(&h->ai, &e))) {
                log_error("%s", e.msg);
                agent_ai_config_free(&h->ai);
                cli_servers_close(&h->srv);
                return e.exit ? e.exit : OSVM_EXIT_CONFIG;
        }
        return 0;
}

void cli_agent_host_close(struct cli_agent_host *h)
{
        if (h->planner)
                h->planner->ops->free(h->planner);
        agent_ai_config_free(&h->ai);
        cli_servers_close(&h->srv);
        memset(h, 0, sizeof(*h));
}

static volatile sig_atomic_t resized;

/* The chat on the host: a server's questions are put to the person (ask.c). */
static json_t *ask_elicit(void *ctx, const char *server, json_t *params)
{
        (void)ctx;
        osvm_err e = {0};
        return ui_ask("elicit", server, params, &e);
}

static json_t *ask_sample(void *ctx, const char *server, json_t *params, osvm_err *e)
{
        (void)ctx;
        return ui_ask("sample", server, params, e);
}

static void ask_handlers(struct host_session *h)
{
        static struct mcp_handlers hd;
        ui_ask_init(&h->host.ai);
        hd = (struct mcp_handlers){
            .elicit = ask_elicit,
            .sample = ui_ask_samples() ? ask_sample : NULL,
            .tools_changed = on_tools_changed,
            .ctx = h,
        };
        mcp_hub_set_handlers(h->host.srv.hub, &hd);
}

static int session_open(struct ui_session *s, bool chat)
{
        struct host_session *h = xcalloc(1, sizeof(*h));
        int r = cli_agent_host_open(&h->host);
        if (r) {
                free(h);
                return r;
        }
        struct cli_servers *srv = &h->host.srv;
        struct agent_toolset ts = {0};
        if (chat) {
                /* before the servers start: what they may ask is declared then */
                ask_handlers(h);
                /* at a terminal, the prompt comes once every server is up, or a
                 * server is up and CHAT_START_GRACE_MS have passed (or all were
                 * given up on): one that is slow or hangs joins later, with a line.
                 * A script's chat waits for every server (each within its own
                 * init_timeout_ms): what its lines find is then the same each run. */
                mcp_hub_start_background(srv->hub);
                size_t pending;
                uint64_t grace = time_mono_ns() + CHAT_START_GRACE_MS * 1000000ull;
                bool tty = isatty(STDIN_FILENO);
                for (;;) {
                        mcp_hub_collect(srv->hub, on_joined, h, &pending);
                        if (!pending || (h->up && tty && time_mono_ns() >= grace))
                                break;
                        struct timespec ts20 = {0, 20000000};
                        nanosleep(&ts20, NULL);
                }
                ready_tools(h, &ts);
                h->tools_changed = false;
        } else {
                agent_toolset_from_hub(&ts, srv->hub, &srv->reg);
        }
        h->s = s;
        struct agent_runner run = agent_hub_runner(srv->hub);
        s->agent = agent_new(&run, &ts, h->host.planner, h->host.ai.max_rounds);
        h->host.planner = NULL; /* the agent's now */
        s->llm = h->host.ai.provider != NULL;
        s->kvm = srv->host.kvm_usable;
        s->model = h->host.ai.model;
        s->url = h->host.ai.url ? mcp_url_public(h->host.ai.url) : NULL;
        cli_isolation_words(&srv->host, s->isolation, sizeof(s->isolation));
        s->impl = h;
        h->chat = chat;
        if (chat) {
                ui_catch_resize(&resized);
                cli_start_vm_pool(&srv->host);
        }
        return 0;
}

static void session_close(struct ui_session *s)
{
        struct host_session *h = s->impl;
        if (!h)
                return;
        if (h->chat)
                vmm_shutdown();
        agent_free(s->agent);
        if (h->chat)
                ui_ask_free();
        free(s->url);
        cli_agent_host_close(&h->host);
        free(h);
        *s = (struct ui_session){.ops = s->ops};
}

static char *session_status(struct ui_session *s, struct ui_style st)
{
        (void)s;
        return ui_status_line(session_get(), time_mono_ns(), st);
}

static void session_where(struct ui_session *s, const char *server, const char *tool,
                          struct iso_decision *d)
{
        struct host_session *h = s->impl;
        mcp_hub_preview(h->host.srv.hub, server, tool, d);
}

static unsigned session_events(struct ui_session *s)
{
        struct host_session *h = s->impl;
        size_t pending;
        if (h)
                mcp_hub_collect(h->host.srv.hub, on_joined, h, &pending);
        if (h && h->tools_changed)
                renew_tools(h);
        unsigned ev = (ui_interrupted ? UI_EVENT_INTERRUPT : 0) | (resized ? UI_EVENT_RESIZE : 0);
        ui_interrupted = 0;
        resized = 0;
        return ev;
}

const struct ui_session_ops cli_host_session = {
    .open = session_open,
    .close = session_close,
    .status = session_status,
    .where = session_where,
    .events = session_events,
};
