/*
 * cli: the `osvm` command: argument parsing, the subcommands, and the host's
 * side of the agent (its session, μVM-1 or not). What the person sees of the
 * agent is ui.h's.
 */
#ifndef OSVM_CLI_H
#define OSVM_CLI_H

#include "base/base.h"
#include "isolation/isolation.h"
#include "agent/agent.h"
#include "mcp/mcp.h"
#include "microvm/microvm.h"
#include "ui/ui.h"

/* A subcommand: argv[0] is its name; returns the process exit code. */
struct cli_cmd {
        const char *name;
        const char *alias;   /* another name, or NULL */
        const char *summary; /* one line for `osvm --help` */
        const char *help;    /* the whole text for `osvm help NAME` */
        int (*run)(int argc, char **argv);
};

extern const struct cli_cmd cli_cmd_isolation;
extern const struct cli_cmd cli_cmd_status;
extern const struct cli_cmd cli_cmd_mcp;
extern const struct cli_cmd cli_cmd_unikernel;
extern const struct cli_cmd cli_cmd_doctor;
extern const struct cli_cmd cli_cmd_config;
extern const struct cli_cmd cli_cmd_completion;
extern const struct cli_cmd cli_cmd_audit;
extern const struct cli_cmd cli_cmd_secret;

/* The command table (main.c), in the order `osvm --help` lists it: *n commands. */
const struct cli_cmd *const *cli_commands(size_t *n);

/* The agent's session on the host (agent_session.c): the servers, the hub
 * and the planner, opened in this process. */
extern const struct ui_session_ops cli_host_session;

/* A verb of a command with verbs (`osvm isolation show`). */
struct cli_verb {
        const char *name;
        int (*run)(int argc, char **argv); /* argv[0] is the verb */
};

/* Runs the verb argv[1] names, or reports a usage error listing the verbs. */
int cli_run_verb(const struct cli_cmd *cmd, const struct cli_verb *verbs, size_t n, int argc,
                 char **argv);

/* Prints a command's help to stdout. */
void cli_print_help(const struct cli_cmd *cmd);
/* True when argv holds -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);
/* Reports a usage error naming the command; returns OSVM_EXIT_USAGE. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints diagnostics to stderr (warnings unless -q) and to the log file. */
void cli_report_diags(const struct iso_diags *d);

/*
 * Loads the user's isolation config (creating the default on first run),
 * logging its diagnostics. On errors, says that no tool will run and returns
 * OSVM_EXIT_CONFIG; else 0. Registers its servers in the session.
 */
int cli_load_config(struct iso_config *cfg);

/* Sets the status line's egress state from the policy of SERVER (its network.allow,
 * by default the Solana RPC endpoint alone). */
void cli_note_egress(const struct iso_config *cfg, const char *server);

/* For long-lived runs (the chat, `mcp serve`): VMs made ahead of the calls.
 * vmm_shutdown() ends it. */
void cli_start_vm_pool(const struct iso_host *h);

/* Loads the server registry, reporting a failure; returns 0 or an exit code. */
int cli_load_registry(struct mcp_registry *reg);

/* Every server osvm knows, for the commands that show them: the isolation
 * config's, in its order, then the registry's (the built-in osvm-mcp among
 * them) that the config does not name. A registry that cannot be read is
 * warned about and left out. */
struct cli_known_server {
        const char *name; /* borrowed from the config or the registry */
        bool in_config, registered, builtin;
        const struct mcp_server_conf *conf; /* its registry entry; NULL: none */
};
struct cli_known {
        struct mcp_registry reg;
        size_t n;
        struct cli_known_server *v;
};
void cli_known_open(struct cli_known *k, const struct iso_config *cfg, const struct iso_host *h);
void cli_known_close(struct cli_known *k);
/* iso_decide for SERVER/TOOL, with what its registry entry conf (NULL: none)
 * tells of whether its process is osvm's to confine. */
void cli_decide(const struct iso_config *cfg, const char *server,
                const struct mcp_server_conf *conf, const char *tool, const struct iso_host *host,
                struct iso_decision *d);

/* The servers, ready to call: the isolation config, the registry (with the
 * built-in pack), what the host can do, and the hub over them. */
struct cli_servers {
        struct iso_config cfg;
        struct mcp_registry reg;
        struct iso_host host;
        struct mcp_hub *hub;
};

#define CLI_ADHOC_ID MCP_ADHOC_ID

/* Opens them; *server, when it is a URL, is reached without registering it,
 * under the id "adhoc" (and *server becomes that id). Returns 0 or an exit code. */
int cli_servers_open(struct cli_servers *s, const char **server);
void cli_servers_close(struct cli_servers *s);

/* What this host can do, for routing decisions. */
void cli_probe_host(struct iso_host *h);
/* Where the tool calls of the loaded config run on host h, in words for the
 * chat's banner: "every tool call runs in its own VM", "... in its own
 * trapped process (the process platform: no KVM here)", or without either. */
void cli_isolation_words(const struct iso_host *h, char *out, size_t n);

/* What the agent works with on the host: the servers, the LLM settings and
 * the planner they ask for. Returns 0 or an exit code, having said why. */
struct cli_agent_host {
        struct cli_servers srv;
        struct agent_ai_config ai;
        struct agent_planner *planner;
};
int cli_agent_host_open(struct cli_agent_host *h);
void cli_agent_host_close(struct cli_agent_host *h);

/*
 * The agent, chat (prompt NULL) or one-shot: inside μVM-1 unless mode says
 * otherwise or the host cannot (then directly, saying why in one line; or,
 * with MICROVM_REQUIRED, not at all).
 */
int cli_agent(const char *prompt, bool json, enum microvm_mode mode);

/* The files and directories osvm uses (cmd_config.c), each a new string. */
struct cli_paths {
        char *config_dir;  /* $OSVM_HOME, else $XDG_CONFIG_HOME/osvm, else ~/.config/osvm */
        char *isolation;   /* the isolation config */
        char *registry;    /* the MCP server registry */
        char *ai;          /* the LLM settings (ai.json) */
        char *state_dir;   /* $XDG_STATE_HOME/osvm, else ~/.local/state/osvm */
        char *logs;        /* osvm's log files */
        char *agent_dir;   /* the agent's own directory: its history and logs */
        char *images;      /* osvm's own images (the tool pack, μVM-1's); NULL: none */
        char *agent_image; /* μVM-1's image; NULL: none, and agent_image_why says why */
        char agent_image_why[512];
};
void cli_paths_get(struct cli_paths *p);
void cli_paths_free(struct cli_paths *p);
/* The same as a JSON object: {config_dir, isolation_config, ...}, null for none. */
json_t *cli_paths_json(const struct cli_paths *p);

#endif
