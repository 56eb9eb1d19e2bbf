/* osvm: the command's entry point, global options and subcommand table. */
#include "cli/cli.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static int run_help(int argc, char **argv);

static const struct cli_cmd cmd_help = {
    .name = "help",
    .summary = "show help for osvm or one subcommand",
    .help = "usage: osvm help [SUBCOMMAND]\n",
    .run = run_help,
};

static const struct cli_cmd *const commands[] = {
    &cli_cmd_isolation, &cli_cmd_mcp, &cli_cmd_status, &cli_cmd_unikernel, &cmd_help,
};

static const struct cli_cmd *find_command(const char *name)
{
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i]->name, name) == 0 ||
                    (commands[i]->alias && strcmp(commands[i]->alias, name) == 0))
                        return commands[i];
        return NULL;
}

static void print_main_help(FILE *f)
{
        fprintf(f,
                "osvm %s: an AI agent whose every tool call runs in its own VM\n"
                "\n"
                "usage: osvm [OPTIONS]                 show the isolation policy and status\n"
                "       osvm [OPTIONS] COMMAND [ARGS]\n"
                "\n"
                "Commands:\n",
                OSVM_VERSION);
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
        fprintf(f, "\n"
                   "Options:\n"
                   "  -v, --verbose   more log output (repeat for debug)\n"
                   "  -q, --quiet     errors only\n"
                   "  -h, --help      this help\n"
                   "  -V, --version   the version\n"
                   "\n"
                   "Environment: OSVM_HOME (config directory), OSVM_LOG (error, warn, info,\n"
                   "debug), NO_COLOR. Logs also go to $XDG_STATE_HOME/osvm/logs.\n"
                   "'osvm help COMMAND' tells more about a command.\n");
}

static int run_help(int argc, char **argv)
{
        if (argc < 2) {
                print_main_help(stdout);
                return OSVM_EXIT_OK;
        }
        if (argc > 2)
                return cli_usage_error(&cmd_help, "give one subcommand");
        const struct cli_cmd *cmd = find_command(argv[1]);
        if (!cmd) {
                fprintf(stderr, "osvm: no such command \"%s\"; 'osvm --help' lists them\n",
                        argv[1]);
                return OSVM_EXIT_USAGE;
        }
        cli_print_help(cmd);
        return OSVM_EXIT_OK;
}

/* With no command: the effective policy and the status line (the agent comes later). */
static int run_default(void)
{
        struct iso_config cfg;
        int r = cli_load_config(&cfg);
        if (r)
                return r;
        printf("osvm %s\nIsolation config: %s\nDefault mode: %s; images in %s\n\n", OSVM_VERSION,
               cfg.path, iso_mode_name(cfg.default_mode), cfg.unikernel_dir);
        for (size_t s = 0; s < cfg.nservers; s++) {
                for (size_t t = 0; t < cfg.servers[s].ntools; t++) {
                        struct iso_policy p;
                        iso_policy_resolve(&cfg, cfg.servers[s].name, cfg.servers[s].tools[t].name,
                                           &p);
                        printf("  %-40s %-9s %s\n", cfg.servers[s].tools[t].name,
                               iso_mode_name(p.mode), p.image);
                        iso_policy_free(&p);
                }
        }
        char *line = cli_status_line(session_get(), time_mono_ns(), cli_status_style());
        printf("\n%s\n", line);
        free(line);
        iso_config_free(&cfg);
        return OSVM_EXIT_OK;
}

int main(int argc, char **argv)
{
        setlocale(LC_ALL, "");
        session_reset(session_get(), time_mono_ns());
        log_init();

        int i = 1;
        int verbosity = 0;
        for (; i < argc && argv[i][0] == '-'; i++) {
                const char *a = argv[i];
                if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        print_main_help(stdout);
                        return OSVM_EXIT_OK;
                } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
                        printf("osvm %s\n", OSVM_VERSION);
                        return OSVM_EXIT_OK;
                } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
                        verbosity++;
                } else if (!strcmp(a, "-vv")) {
                        verbosity += 2;
                } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
                        verbosity = -1;
                } else if (!strcmp(a, "--")) {
                        i++;
                        break;
                } else {
                        fprintf(stderr, "osvm: unknown option \"%s\"; 'osvm --help' lists them\n",
                                a);
                        return OSVM_EXIT_USAGE;
                }
        }
        if (verbosity < 0)
                log_set_level(LOG_ERROR);
        else if (verbosity > 0) {
                int lvl = (int)log_get_level() + verbosity;
                log_set_level(lvl > LOG_DEBUG ? LOG_DEBUG : (enum log_level)lvl);
        }
        char *state = paths_state_dir();
        char *logs = xasprintf("%s/logs", state);
        log_set_file_dir(logs);
        free(logs);
        free(state);

        int r;
        if (i == argc) {
                r = run_default();
        } else {
                const struct cli_cmd *cmd = find_command(argv[i]);
                if (!cmd) {
                        fprintf(stderr, "osvm: no such command \"%s\"; 'osvm --help' lists them\n",
                                argv[i]);
                        r = OSVM_EXIT_USAGE;
                } else if (cmd != &cmd_help && cli_wants_help(argc - i, argv + i)) {
                        cli_print_help(cmd);
                        r = OSVM_EXIT_OK;
                } else {
                        r = cmd->run(argc - i, argv + i);
                }
        }
        log_close();
        return r;
}
