/* `osvm status`: the status line. */
#include "cli/cli.h"
#include "mcp/mcp.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* One server of `status --json`: its state, where it is known, and the
 * policy its tools get when the config does not list them one by one. */
static json_t *server_json(const struct iso_config *cfg, const struct iso_host *host,
                           const struct cli_known *known, const struct session_server *ss,
                           const char *state)
{
        const struct cli_known_server *ks = NULL;
        for (size_t k = 0; k < known->n && !ks; k++)
                if (!strcmp(known->v[k].name, ss->name))
                        ks = &known->v[k];
        bool registered = ks && ks->registered;
        const struct iso_server *srv = iso_config_server(cfg, ss->name);
        struct iso_policy p;
        struct iso_decision d;
        iso_policy_resolve(cfg, ss->name, ISO_ANY_TOOL, &p);
        cli_decide(cfg, ss->name, ks ? ks->conf : NULL, ISO_ANY_TOOL, host, &d);
        json_t *j = json_pack(
            "{s:s, s:s, s:s, s:b, s:b, s:s, s:i, s:o}", "name", ss->name, "where", ss->where,
            "state", state, "registered", registered, "in_config", srv != NULL, "policy_source",
            srv ? "isolation_config.json" : "defaults, not in isolation_config.json",
            "tools_in_config", srv ? (int)srv->ntools : 0, "policy", iso_policy_json(&p, &d));
        iso_decision_free(&d);
        iso_policy_free(&p);
        return j;
}

static int run_status(int argc, char **argv)
{
        static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
        bool json = false;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, "+j", opts, NULL)) != -1) {
                if (c != 'j')
                        return cli_usage_error(&cli_cmd_status, "unknown option");
                json = true;
        }
        if (optind < argc)
                return cli_usage_error(&cli_cmd_status, "unexpected argument \"%s\"", argv[optind]);

        struct iso_config cfg;
        int r = cli_load_config(&cfg);
        if (r)
                return r;
        /* The built-in tool pack reaches the network through the host: say so. */
        struct iso_host host;
        cli_probe_host(&host);
        json_t *pack = mcp_builtin_tools(&host, "osvm-mcp");
        if (pack)
                cli_note_egress(&cfg, "osvm-mcp");
        json_decref(pack);
        /* Every server osvm would start: the registry's too, not only the config's. */
        struct cli_known known;
        cli_known_open(&known, &cfg, &host);
        for (size_t i = 0; i < known.n; i++) {
                const struct cli_known_server *ks = &known.v[i];
                if (ks->conf && ks->conf->kind == MCP_KIND_HTTP) /* not osvm's to confine */
                        session_set_server(session_get(), ks->name, "remote",
                                           SESSION_SERVER_CONFIGURED);
                else if (!ks->in_config)
                        session_set_server(session_get(), ks->name, "host",
                                           SESSION_SERVER_CONFIGURED);
        }
        const struct osvm_session *s = session_get();
        uint64_t now = time_mono_ns();
        if (!json) {
                char *line = ui_status_line(s, now, ui_style_stdout());
                printf("%s\n", line);
                free(line);
        } else {
                static const char *const states[] = {"configured", "up", "down"};
                static const char *const nets[] = {"unknown", "off", "allow"};
                json_t *servers = json_array();
                for (size_t i = 0; i < s->nservers; i++)
                        json_array_append_new(servers,
                                              server_json(&cfg, &host, &known, &s->servers[i],
                                                          states[s->servers[i].state]));
                char *line = ui_status_line(s, now, (struct ui_style){true, false});
                json_t *v =
                    json_pack("{s:i, s:i, s:i, s:o, s:{s:s, s:i}, s:I, s:s}", "live_microvms",
                              (int)s->live_microvms, "unikernels_run", (int)s->unikernels_run,
                              "fallbacks", (int)s->fallbacks, "servers", servers, "net", "state",
                              nets[s->net], "allow", (int)s->net_allow_count, "uptime_s",
                              (json_int_t)((now - s->start_ns) / 1000000000u), "line", line);
                json_object_set_new(v, "live_agent_processes", json_integer(s->live_agent_procs));
                json_object_set_new(v, "unikernel_processes_run",
                                    json_integer(s->unikernel_procs_run));
                ui_print_json(v);
                json_decref(v);
                free(line);
        }
        cli_known_close(&known);
        iso_config_free(&cfg);
        return OSVM_EXIT_OK;
}

const struct cli_cmd cli_cmd_status = {
    .name = "status",
    .summary = "print the status line",
    .help = "usage: osvm status [--json]\n"
            "\n"
            "Prints the status line:\n"
            "  OSVM: 0\xce\xbcVMs 0uK \xe2\x80\xa2 osvm-mcp(\xce\xbcVM-1:cfg) \xe2\x80\xa2 "
            "net:unknown \xe2\x80\xa2 up:0s\n"
            "\n"
            "  N\xce\xbcVMs        microVMs this process owns that are alive now\n"
            "  NuK          unikernels run in this session; * when a call fell back\n"
            "  N\xce\xbcPs NuKp   the same on the process platform (no KVM here): the agent\n"
            "               and tool images run as trapped processes, not VMs (shown\n"
            "               while one lives or once one ran)\n"
            "  SERVER(VM:S) each MCP server of the isolation config or the registry, the\n"
            "               VM it runs in (\"host\" when none) and its state: cfg\n"
            "               (configured), up, down\n"
            "  net:         egress: unknown, off, or allow(N hosts)\n"
            "  up:          time since this osvm started\n"
            "\n"
            "ASCII (uVMs, -) where the locale is not UTF-8; no colour when NO_COLOR is set.\n"
            "\n"
            "  --json    the same figures as a JSON object, each server with its policy\n"
            "\n"
            "'osvm isolation show SERVER' prints a server's policy, tool by tool.\n",
    .run = run_status,
};
