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
    &cli_cmd_isolation, &cli_cmd_mcp,        &cli_cmd_status, &cli_cmd_unikernel, &cli_cmd_doctor,
    &cli_cmd_config,    &cli_cmd_completion, &cli_cmd_audit,  &cli_cmd_secret,    &cmd_help,
};

const struct cli_cmd *const *cli_commands(size_t *n)
{
        *n = sizeof(commands) / sizeof(commands[0]);
        return commands;
}

static const struct cli_cmd *find_command(const char *name)
{
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i]->name, name) == 0 ||
                    (commands[i]->alias && strcmp(commands[i]->alias, name) == 0))
                        return commands[i];
        return NULL;
}

/* Says that name is no command, and which one it may have meant. */
static int unknown_command(const char *name)
{
        const char *names[2 * sizeof(commands) / sizeof(commands[0])];
        size_t n = 0;
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                names[n++] = commands[i]->name;
                if (commands[i]->alias)
                        names[n++] = commands[i]->alias;
        }
        const char *near = ui_nearest(name, names, n);
        _cleanup_free_ char *shown = text_sanitize(name, 0);
        if (near)
                fprintf(stderr, "osvm: no such command \"%s\"; did you mean \"%s\"?\n", shown,
                        near);
        else
                fprintf(stderr, "osvm: no such command \"%s\"; 'osvm --help' lists them\n", shown);
        return OSVM_EXIT_USAGE;
}

static void print_main_help(FILE *f)
{
        fprintf(f,
                "osvm %s: an AI agent whose every tool call runs in its own VM\n"
                "\n"
                "usage: osvm [OPTIONS]                     the agent's chat\n"
                "       osvm [OPTIONS] -p PROMPT [--json]  the agent answers PROMPT and exits\n"
                "       osvm [OPTIONS] COMMAND [ARGS]\n"
                "\n"
                "Commands:\n",
                OSVM_VERSION);
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
        fprintf(f, "\n"
                   "Options:\n"
                   "  -p, --prompt P  answer P and exit (0 answered; 6 when arguments are\n"
                   "                  missing; 1 on failure; 130 when cancelled)\n"
                   "      --json      with -p: print the whole trace as JSON (plan, each call\n"
                   "                  with server, tool, arguments, mode, reasons, duration,\n"
                   "                  result; the answer)\n"
                   "      --no-microvm\n"
                   "                  run the agent directly in this process, not inside\n"
                   "                  μVM-1 (also OSVM_SKIP_MICROVM=1); tools still run in\n"
                   "                  their own VMs\n"
                   "      --require-isolation\n"
                   "                  refuse to run when the agent cannot run inside μVM-1\n"
                   "  -v, --verbose   more log output (repeat for debug)\n"
                   "  -q, --quiet     errors only\n"
                   "  -h, --help      this help\n"
                   "  -V, --version   the version\n"
                   "\n"
                   "The agent plans with the LLM that OSVM_AI_URL, OSVM_AI_MODEL and OSVM_AI_KEY\n"
                   "(or OPENAI_API_KEY / ANTHROPIC_API_KEY, or ai.json beside the isolation\n"
                   "config) name, else with the built-in offline planner. Its tools come from\n"
                   "the servers 'osvm mcp add' registers; each call runs where the isolation\n"
                   "policy says ('osvm isolation explain SERVER/TOOL').\n"
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
        if (!cmd)
                return unknown_command(argv[1]);
        cli_print_help(cmd);
        return OSVM_EXIT_OK;
}

int main(int argc, char **argv)
{
        setlocale(LC_ALL, "");
        session_reset(session_get(), time_mono_ns());
        log_init();

        int i = 1;
        int verbosity = 0;
        const char *prompt = NULL;
        bool json = false;
        const char *skip = getenv("OSVM_SKIP_MICROVM");
        enum microvm_mode mode = skip && !strcmp(skip, "1") ? MICROVM_OFF : MICROVM_AUTO;
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
                } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
                        if (++i == argc) {
                                fprintf(stderr, "osvm: %s needs a prompt\n", a);
                                return OSVM_EXIT_USAGE;
                        }
                        prompt = argv[i];
                } else if (!strcmp(a, "--json")) {
                        json = true;
                } else if (!strcmp(a, "--no-microvm")) {
                        mode = MICROVM_OFF;
                } else if (!strcmp(a, "--require-isolation")) {
                        mode = MICROVM_REQUIRED;
                } else if (!strcmp(a, "--")) {
                        i++;
                        break;
                } else {
                        _cleanup_free_ char *opt = text_sanitize(a, 0);
                        fprintf(stderr, "osvm: unknown option \"%s\"; 'osvm --help' lists them\n",
                                opt);
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
        if (i == argc && prompt) {
                r = cli_agent(prompt, json, mode);
        } else if (prompt || json) {
                fprintf(stderr, "osvm: -p and --json go without a command ('osvm -p PROMPT')\n");
                r = OSVM_EXIT_USAGE;
        } else if (i == argc) {
                r = cli_agent(NULL, false, mode);
        } else {
                const struct cli_cmd *cmd = find_command(argv[i]);
                if (!cmd) {
                        r = unknown_command(argv[i]);
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
