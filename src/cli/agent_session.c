/*
 * The agent's session on the host: the servers, the hub over them and the
 * planner, all in this process. (Inside μVM-1 microvm/guest/session.c stands
 * in for this file.)
 */
#include "agent/agent.h"
#include "cli/cli.h"
#include "vmm/vmm.h"

#include <signal.h>
#include <string.h>

struct host_session {
        struct cli_servers srv;
        struct agent_ai_config ai;
        bool chat;
};

static volatile sig_atomic_t resized;

static void on_resize(int sig)
{
        (void)sig;
        resized = 1;
}

int cli_agent_session_open(struct cli_agent_session *s, bool chat)
{
        memset(s, 0, sizeof(*s));
        struct host_session *h = xcalloc(1, sizeof(*h));
        int r = cli_servers_open(&h->srv, NULL);
        if (r) {
                free(h);
                return r;
        }
        osvm_err e = {0};
        struct agent_planner *planner = NULL;
        if (agent_ai_config_load(&h->ai, &e) < 0 || !(planner = agent_planner_new(&h->ai, &e))) {
                log_error("%s", e.msg);
                agent_ai_config_free(&h->ai);
                cli_servers_close(&h->srv);
                free(h);
                return e.exit ? e.exit : OSVM_EXIT_CONFIG;
        }
        struct agent_toolset ts = {0};
        agent_toolset_from_hub(&ts, h->srv.hub, &h->srv.reg);
        struct agent_runner run = agent_hub_runner(h->srv.hub);
        s->agent = agent_new(&run, &ts, planner, h->ai.max_rounds);
        s->llm = h->ai.provider != NULL;
        s->impl = h;
        h->chat = chat;
        if (chat) {
                struct sigaction sa = {.sa_handler = on_resize};
                sigemptyset(&sa.sa_mask);
                sigaction(SIGWINCH, &sa, NULL); /* no SA_RESTART: the prompt's read wakes */
                cli_start_vm_pool(&h->srv.host);
        }
        return 0;
}

void cli_agent_session_close(struct cli_agent_session *s)
{
        struct host_session *h = s->impl;
        if (!h)
                return;
        if (h->chat)
                vmm_shutdown();
        agent_free(s->agent);
        agent_ai_config_free(&h->ai);
        cli_servers_close(&h->srv);
        free(h);
        memset(s, 0, sizeof(*s));
}

char *cli_agent_session_status(struct cli_agent_session *s, struct status_style st)
{
        (void)s;
        return cli_status_line(session_get(), time_mono_ns(), st);
}

unsigned cli_agent_session_events(struct cli_agent_session *s)
{
        (void)s;
        unsigned ev =
            (cli_interrupted ? CLI_EVENT_INTERRUPT : 0) | (resized ? CLI_EVENT_RESIZE : 0);
        cli_interrupted = 0;
        resized = 0;
        return ev;
}
