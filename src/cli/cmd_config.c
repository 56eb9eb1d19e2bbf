/* `osvm config paths`: where osvm keeps its files and finds its images. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

void cli_paths_get(struct cli_paths *p)
{
        memset(p, 0, sizeof(*p));
        p->config_dir = paths_config_dir();
        p->isolation = iso_config_path();
        p->registry = mcp_registry_path();
        p->ai = agent_ai_config_path();
        p->state_dir = paths_state_dir();
        p->logs = xasprintf("%s/logs", p->state_dir);
        p->agent_dir = xasprintf("%s/agent", p->state_dir);
        struct iso_host h;
        cli_probe_host(&h);
        if (h.builtin_images[0])
                p->images = xstrdup(h.builtin_images);
        p->agent_image = microvm_agent_image(p->agent_image_why, sizeof(p->agent_image_why));
}

void cli_paths_free(struct cli_paths *p)
{
        free(p->config_dir);
        free(p->isolation);
        free(p->registry);
        free(p->ai);
        free(p->state_dir);
        free(p->logs);
        free(p->agent_dir);
        free(p->images);
        free(p->agent_image);
        memset(p, 0, sizeof(*p));
}

/* The paths as a table: key (JSON), label (text), value, and what NULL means. */
struct row {
        const char *key, *label, *value, *none;
};

static size_t rows_of(const struct cli_paths *p, struct row *rows)
{
        const struct row all[] = {
            {"config_dir", "config directory", p->config_dir, NULL},
            {"isolation_config", "isolation config", p->isolation, NULL},
            {"registry", "MCP servers", p->registry, NULL},
            {"ai_config", "LLM settings", p->ai, NULL},
            {"state_dir", "state directory", p->state_dir, NULL},
            {"logs", "logs", p->logs, NULL},
            {"agent_dir", "the agent's directory", p->agent_dir, NULL},
            {"images", "images", p->images, "none found"},
            {"agent_image", "the agent's image", p->agent_image, "none found"},
        };
        memcpy(rows, all, sizeof(all));
        return sizeof(all) / sizeof(all[0]);
}

json_t *cli_paths_json(const struct cli_paths *p)
{
        struct row rows[16];
        size_t n = rows_of(p, rows);
        json_t *o = json_object();
        for (size_t i = 0; i < n; i++)
                json_object_set_new(o, rows[i].key,
                                    rows[i].value ? json_string(rows[i].value) : json_null());
        return o;
}

static int paths(int argc, char **argv)
{
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") != 0)
                        return cli_usage_error(&cli_cmd_config,
                                               "usage: osvm config paths [--json]");
                json = true;
        }
        struct cli_paths p;
        cli_paths_get(&p);
        if (json) {
                json_t *o = cli_paths_json(&p);
                ui_print_json(o);
                json_decref(o);
        } else {
                struct row rows[16];
                size_t n = rows_of(&p, rows);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *v = text_sanitize(rows[i].value, 0);
                        printf("%-22s %s\n", rows[i].label, rows[i].value ? v : rows[i].none);
                }
        }
        cli_paths_free(&p);
        return OSVM_EXIT_OK;
}

static int run_config(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {{"paths", paths}};
        return cli_run_verb(&cli_cmd_config, verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}

const struct cli_cmd cli_cmd_config = {
    .name = "config",
    .summary = "show where osvm keeps its files",
    .help = "usage: osvm config paths [--json]\n"
            "\n"
            "  paths      the files and directories osvm uses: the config directory\n"
            "             ($OSVM_HOME, else $XDG_CONFIG_HOME/osvm, else ~/.config/osvm),\n"
            "             the isolation config, the MCP servers (mcp_servers.json), the\n"
            "             LLM settings (ai.json), the state directory, the logs, the\n"
            "             agent's own directory (its history), and where osvm's images\n"
            "             are (the osvm-mcp tool pack, μVM-1's osvm-agent.img)\n"
            "\n"
            "  --json     the same as a JSON object\n"
            "\n"
            "'osvm doctor' checks each of them.\n",
    .run = run_config,
};
