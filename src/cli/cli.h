/*
 * cli: the `osvm` command: argument parsing, subcommands, the status line.
 */
#ifndef OSVM_CLI_H
#define OSVM_CLI_H

#include "base/base.h"
#include "isolation/isolation.h"
#include "agent/agent.h"
#include "mcp/mcp.h"
#include "microvm/microvm.h"

#include <signal.h>

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

/* The status line from the session at time now_ns. */
struct status_style {
        bool utf8;  /* μ and • where true; u and - where false */
        bool color; /* ANSI colours */
};
char *cli_status_line(const struct osvm_session *s, uint64_t now_ns, struct status_style st);
/* The style for stdout: the locale's charset, NO_COLOR and whether it is a terminal. */
struct status_style cli_status_style(void);

/* The agent: one prompt (-p, optionally --json), or the chat. Return exit codes. */
int cli_agent_oneshot(const char *prompt, bool json);
int cli_agent_chat(void);

/*
 * What the chat and one-shot mode run on. On the host (agent_session.c): the
 * servers, the hub and the planner, opened in this process. Inside μVM-1
 * (microvm/guest/session.c): the same, asked of the supervisor through host
 * calls. Whichever is linked in is the one the front end uses.
 */
struct cli_agent_session {
        struct agent *agent;
        bool llm;            /* an LLM is configured (else the offline planner) */
        bool kvm;            /* KVM is usable: tool calls can run in VMs of their own */
        bool microvm;        /* inside μVM-1, as the handshake said */
        bool agent_process;  /* μVM-1 is a trapped process (the process platform), not a VM */
        char isolation[192]; /* where tool calls run, for the banner (cli_isolation_words) */
        const char *model;   /* the planner's model; NULL: none */
        char *url;           /* its endpoint without what may be a credential; NULL: none */
        void *impl;          /* the implementation's own */
};

/* Opens the session; chat: for many prompts (VMs made ahead, resizes
 * noticed). Returns 0 or an exit code, having said why. */
int cli_agent_session_open(struct cli_agent_session *s, bool chat);
void cli_agent_session_close(struct cli_agent_session *s);
/* The status line now. */
char *cli_agent_session_status(struct cli_agent_session *s, struct status_style st);

/* Where SERVER/TOOL would run, as the host decides it: nothing runs, nothing
 * is logged or counted (the chat's /tools). */
void cli_agent_session_where(struct cli_agent_session *s, const char *server, const char *tool,
                             struct iso_decision *d);

/* What happened to the terminal since the last call (cleared by it). */
#define CLI_EVENT_INTERRUPT 1u /* Ctrl-C */
#define CLI_EVENT_RESIZE    2u /* a new window size */
unsigned cli_agent_session_events(struct cli_agent_session *s);

/* Set by SIGINT once cli_catch_interrupt() ran: pass it as a cancel flag. */
extern volatile sig_atomic_t cli_interrupted;
/* Makes Ctrl-C set cli_interrupted instead of ending the process. */
void cli_catch_interrupt(void);
/* Makes a new window size (SIGWINCH) set *flag. */
void cli_catch_resize(volatile sig_atomic_t *flag);

/*
 * The chat's own commands (chat.c): a line that starts with '/' and a
 * word (/help, /tools [SERVER], /status, /exit). Returns CLI_CHAT_PROMPT
 * when line is a prompt for the agent, else runs the command.
 */
enum cli_chat_result { CLI_CHAT_PROMPT, CLI_CHAT_DONE, CLI_CHAT_LEAVE };
enum cli_chat_result cli_chat_command(struct cli_agent_session *s, const char *line);

/* ---- did-you-mean (suggest.c) ---- */

/* The edit distance with transpositions; SIZE_MAX past 64 bytes. */
size_t cli_edit_distance(const char *a, const char *b);
/* The name nearest to word: one edit away (two for words of four bytes or
 * more, none for one byte), else the one name word begins; NULL when none
 * is near. */
const char *cli_nearest(const char *word, const char *const *names, size_t n);

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
/* What a server asks of the person in the chat (ask.c), on the host and
 * inside μVM-1 alike: cli_ask_init makes the sampler for ai (kept,
 * borrowed; none without an LLM: cli_ask_samples says so); cli_ask puts one
 * request to the person, kind "elicit" (the ElicitResult) or "sample" (the
 * CreateMessageResult through the LLM, or NULL with e set: declined). */
void cli_ask_init(const struct agent_ai_config *ai);
bool cli_ask_samples(void);
json_t *cli_ask(const char *kind, const char *server, json_t *params, osvm_err *e);
void cli_ask_free(void);
void cli_agent_host_close(struct cli_agent_host *h);

/*
 * The agent, chat (prompt NULL) or one-shot: inside μVM-1 unless mode says
 * otherwise or the host cannot (then directly, saying why in one line; or,
 * with MICROVM_REQUIRED, not at all).
 */
int cli_agent(const char *prompt, bool json, enum microvm_mode mode);

/* Prints a JSON value to stdout, indented, with a newline; C1 controls,
 * bidirectional overrides and DEL in its strings as \u escapes. */
void cli_print_json(json_t *v);

/* The width of the terminal on fd in columns ($COLUMNS when fd is not a
 * terminal), or 0 when unknown. */
unsigned cli_term_columns(int fd);
/* How many columns s (UTF-8, sanitized) takes on a terminal: wide
 * characters two, combining ones none. */
size_t cli_text_columns(const char *s);
/* s cut to at most cols columns, not inside a character, ending in an
 * ellipsis ("…", or "..." when !utf8) when cut. A new string. */
char *cli_fit_columns(const char *s, size_t cols, bool utf8);
/* What a call's egress (an audit record's array) names, for a person: up to
 * three destinations, "refused" or "failed" after those that did not go
 * through (blocked_only: those alone), sanitized; "" for none. */
char *cli_egress_words(json_t *egress, bool blocked_only);
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
