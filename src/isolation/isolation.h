/*
 * isolation: the isolation policy (isolation_config.json) and the routing
 * decision that says where one tool call runs and why.
 *
 * The config keeps the original osvm field names. Extensions inherited
 * config -> server -> tool: "fallback", "timeout_ms", "network": {"allow"},
 * and a server's "execution_mode" (between the top level's
 * "default_execution_mode" and the tool's own).
 * docs/isolation-config.md describes every field.
 */
#ifndef OSVM_ISOLATION_H
#define OSVM_ISOLATION_H

#include "base/base.h"

#include <jansson.h>

#define ISO_CONFIG_FILE      "isolation_config.json"
#define ISO_CONFIG_MAX_BYTES (4u * 1024 * 1024)

/* Built-in defaults for what no level of the config sets. */
#define ISO_DEFAULT_UNIKERNEL_DIR "/var/osvm/unikernels"
#define ISO_DEFAULT_MEMORY_MB     128u
#define ISO_DEFAULT_VCPUS         1u
#define ISO_DEFAULT_TIMEOUT_MS    30000u

enum iso_mode { ISO_MODE_UNSET = 0, ISO_MODE_UNIKERNEL, ISO_MODE_MICROVM, ISO_MODE_DIRECT };
/* Where a unikernel runs (the top-level "platform"): a KVM VM, or a trapped
 * process (the engine's process platform); auto: KVM where usable. The
 * same order as the engine's enum vmm_platform. */
enum iso_platform { ISO_PLATFORM_AUTO = 0, ISO_PLATFORM_KVM, ISO_PLATFORM_PROCESS };
enum iso_fallback { ISO_FALLBACK_UNSET = 0, ISO_FALLBACK_DIRECT, ISO_FALLBACK_DENY };

const char *iso_mode_name(enum iso_mode m);         /* "unikernel", ... */
const char *iso_fallback_name(enum iso_fallback f); /* "direct", "deny" */
const char *iso_platform_name(enum iso_platform p); /* "auto", "kvm", "process" */

struct iso_mount {
        char *host_path; /* absolute, ~ expanded */
        char *vm_path;   /* absolute inside the VM */
        bool readonly;   /* true unless the mount says "readonly": false */
};

struct iso_mounts {
        size_t n;
        struct iso_mount *v;
};

struct iso_strlist {
        size_t n;
        char **v;
};

/* The inherited extensions as one level of the config sets them. */
struct iso_ext {
        enum iso_fallback fallback; /* UNSET: inherit */
        bool has_timeout;
        uint32_t timeout_ms;
        bool has_network;
        struct iso_strlist network_allow; /* "host" or "host:port" entries */
};

struct iso_tool {
        char *name;
        enum iso_mode execution_mode; /* UNSET: the config's default mode */
        char *unikernel_image;        /* NULL: <unikernel_dir>/<server>-<tool>.img */
        struct iso_mounts mounts;
        uint32_t memory_mb; /* 0: default */
        uint32_t vcpus;     /* 0: default */
        struct iso_ext ext;
};

/*
 * A secret bound to a server ("secrets": ["ENV=NAME@HOST[,HOST...][/HEADER[,HEADER...]][/body]"]):
 * the server's variable ENV holds a placeholder; osvm's proxy puts the value
 * of osvm's secret NAME in its place on requests to HOSTS (network.allow
 * syntax) only, in the named headers (none named: any header), and in the
 * body only with /body. docs/mcp-sandbox.md#secrets.
 */
struct iso_secret_bind {
        char *env, *secret;
        struct iso_strlist hosts, headers;
        bool body;
};
struct iso_secret_binds {
        size_t n;
        struct iso_secret_bind *v;
};
/* Parses a binding; NULL when it is one (out filled: free with
 * iso_secret_bind_free), else what is wrong in words (out untouched). */
const char *iso_secret_bind_parse(const char *spec, struct iso_secret_bind *out);
void iso_secret_bind_free(struct iso_secret_bind *b);

struct iso_server {
        char *name;
        enum iso_mode execution_mode; /* UNSET: the config's default mode */
        char *microvm_id;             /* may be NULL */
        bool use_microvm;
        uint32_t vm_memory_mb, vm_vcpus; /* microvm_config */
        uint32_t vm_max_procs;           /* microvm_config.max_processes; 0: default */
        int sandbox;                     /* "sandbox": 1 true, 0 false, -1 not set */
        char *server_command;            /* may be NULL */
        char *rpc_url;                   /* osvm-mcp: the Solana RPC endpoint; may be NULL */
        struct iso_mounts microvm_mounts;
        struct iso_secret_binds secrets; /* "secrets" */
        size_t ntools;
        struct iso_tool *tools;
        struct iso_ext ext;
};

struct iso_config {
        char *path; /* the file it came from, or a label */
        enum iso_mode default_mode;
        char *unikernel_dir;
        bool use_builtin_images; /* look for osvm's own images too (default true) */
        enum iso_platform platform;
        size_t nservers;
        struct iso_server *servers;
        struct iso_ext ext;
};

/* ---- diagnostics: what loading a config found ---- */

enum iso_sev { ISO_WARNING, ISO_ERROR };

struct iso_diag {
        enum iso_sev sev;
        char *text; /* "FILE: error: PATH: message" or "FILE:LINE:COL: error: ..." */
};

struct iso_diags {
        size_t n, nerrors;
        struct iso_diag *v;
};

void iso_diags_free(struct iso_diags *d);

/* ---- loading ---- */

/* Where the config lives: <config dir>/isolation_config.json. */
char *iso_config_path(void);

/*
 * Parses config text. Returns 0 when it has no errors (warnings may be in
 * d), -1 otherwise; on -1 cfg is left empty and must not be used.
 * name labels the diagnostics (the file's path).
 */
int iso_config_parse(const char *text, size_t len, const char *name, struct iso_config *cfg,
                     struct iso_diags *d);
/* Reads and parses a file; a file that cannot be read is an error in d. */
int iso_config_load(const char *path, struct iso_config *cfg, struct iso_diags *d);
/*
 * Loads the user's config from iso_config_path(), first writing the default
 * file when there is none (atomically, mode 0600; never over an existing file).
 */
int iso_config_open(struct iso_config *cfg, struct iso_diags *d);
void iso_config_free(struct iso_config *cfg);

/* The text of the default config file. */
char *iso_config_default_text(void);
/* The tools of the built-in osvm-mcp server. */
extern const char *const iso_osvm_mcp_tools[];

const struct iso_server *iso_config_server(const struct iso_config *cfg, const char *name);
const struct iso_tool *iso_server_tool(const struct iso_server *srv, const char *name);

/*
 * Splits "SERVER/TOOL" (or "SERVER" when tool_optional) into fresh strings;
 * -1 with a message in e when malformed.
 */
int iso_split_target(const char *target, bool tool_optional, char **server, char **tool,
                     osvm_err *e);

/* ---- the effective policy of one tool: inheritance resolved ---- */

/* Which level a value came from. */
enum iso_src { ISO_SRC_DEFAULT = 0, ISO_SRC_CONFIG, ISO_SRC_SERVER, ISO_SRC_TOOL };
const char *iso_src_name(enum iso_src s);

struct iso_policy {
        char *server, *tool;
        bool server_known, tool_known;
        enum iso_mode mode;
        enum iso_src mode_src;
        char *image; /* absolute path of the tool image; "" when the names are not
                      * safe for a file name (iso_names_problem) */
        enum iso_src image_src;
        uint32_t memory_mb, vcpus, timeout_ms;
        enum iso_src memory_src, vcpus_src, timeout_src;
        enum iso_fallback fallback;
        enum iso_src fallback_src;
        enum iso_platform platform; /* the config's (top level only) */
        enum iso_src platform_src;
        const struct iso_strlist *network_allow; /* borrowed from the config; never NULL */
        enum iso_src network_src;
        const struct iso_mounts *mounts; /* borrowed from the config; never NULL */
        const char *microvm_id;          /* borrowed; NULL when none */
        const char *rpc_url; /* the server's Solana RPC endpoint; borrowed, may be NULL */
};

void iso_policy_resolve(const struct iso_config *cfg, const char *server, const char *tool,
                        struct iso_policy *p);
/* The tool name that stands for every tool of a server that the config does
 * not list (`isolation show SERVER` of a server with no tools in the file):
 * its default image is shown as <unikernel_dir>/SERVER-<tool>.img. */
#define ISO_ANY_TOOL "*"

/*
 * Server and tool names come from MCP servers, LLMs and agents. They become
 * part of a path (the default image <unikernel_dir>/<server>-<tool>.img, the
 * built-in images) and a tool image's argv only when both are safe: 1 to
 * ISO_NAME_MAX bytes of letters, digits, '_', '.' and '-' (the characters
 * MCP recommends for tool names), not "." or "..", not starting with '-',
 * and "<server>-<tool>.img" at most 255 bytes. Returns NULL when they are,
 * else what is wrong (the name sanitized), in buf.
 */
#define ISO_NAME_MAX 128
const char *iso_names_problem(const char *server, const char *tool, char *buf, size_t n);
void iso_policy_free(struct iso_policy *p);

struct iso_decision;

/* Human-readable and JSON forms of a policy (for `isolation show`). d, when
 * not NULL, is the decision for it on this host: the route is shown, and
 * each limit the route cannot enforce is marked so (iso_route_enforced). */
char *iso_policy_text(const struct iso_policy *p, const struct iso_decision *d);
json_t *iso_policy_json(const struct iso_policy *p, const struct iso_decision *d);

/* ---- the server sandbox: what a server's policy asks of it ---- */

#define ISO_SERVER_MEMORY_MB  1024u /* a sandboxed server's memory, unless microvm_config says */
#define ISO_SERVER_MAX_PROCS  64u   /* its processes and threads */
#define ISO_SERVER_TMP_MAX_MB 256u  /* its private /tmp, at most (half its memory below that) */

struct iso_sandbox {
        bool wanted;     /* the server runs confined */
        const char *why; /* what asks for it ("sandbox: true", "use_microvm: true", ...) or why
                          * not; static text */
        const struct iso_mounts *mounts; /* microvm_mounts; borrowed, never NULL */
        const struct iso_strlist *allow; /* network.allow (inherited); borrowed, never NULL */
        enum iso_src allow_src;
        const struct iso_secret_binds *secrets; /* "secrets"; borrowed, never NULL */
        uint32_t memory_mb, max_procs;
        uint32_t vcpus;             /* microvm_config.vcpus: CPUs' worth of time; 0: not limited */
        enum iso_fallback fallback; /* when no sandbox can be made here */
};

/*
 * Whether SERVER runs confined and with what: "sandbox": true, or
 * "use_microvm": true, or the server or one of its tools in "microvm" mode
 * asks for it ("sandbox": false says no, whatever the rest says). A server
 * the file does not name runs on the host, as before.
 */
void iso_server_sandbox(const struct iso_config *cfg, const char *server, struct iso_sandbox *sb);

/* ---- the routing decision ---- */

/* What the host can do, as probed by the caller. */
struct iso_host {
        bool kvm_usable;
        char kvm_problem[256]; /* why not, when !kvm_usable */
        /* The process platform (a trapped process per call): probed where KVM
         * is not usable or the config asks for it. */
        bool process_probed, process_usable;
        char process_what[256]; /* what it runs with, or why it cannot run */
        bool microvm_usable;    /* a Linux microVM engine is available */
        char microvm_problem[256];
        /* The sandbox of an MCP server osvm starts (src/mcp/confine.c) on
         * this host: its tier, "sandbox" (all of it) or "reduced" (Landlock
         * and seccomp without namespaces), or "" where none can be made,
         * sandbox_problem then saying why. */
        char sandbox_tier[16];
        char sandbox_problem[400];
        /* Where osvm's own tool images are (the build tree or the installed
         * pack), looked at when unikernel_dir lacks a tool's default image;
         * "" for none. */
        char builtin_images[512];
};

/* What osvm knows of a server beyond its policy (its registry entry):
 * whether its process is osvm's to confine. */
struct iso_reach {
        bool remote;   /* reached by URL: it runs where it is, not on this host */
        bool own_pack; /* osvm's own tool pack, which holds each call to the policy itself */
};

/* The built-in image of SERVER/TOOL under host->builtin_images, if there is
 * one (a new string), else NULL. */
char *iso_builtin_image(const struct iso_host *host, const char *server, const char *tool);

enum iso_route { ISO_ROUTE_UNIKERNEL, ISO_ROUTE_MICROVM, ISO_ROUTE_DIRECT, ISO_ROUTE_DENY };
const char *iso_route_name(enum iso_route r);

/* What of a policy a route holds the call to. A VM holds it to all of it;
 * direct runs the call in its MCP server's own process, where osvm holds
 * only its time (the request is cancelled when timeout_ms passes). */
struct iso_enforced {
        bool memory, vcpus, timeout, network, mounts;
};
struct iso_enforced iso_route_enforced(enum iso_route r);
/* The same as {"memory_mb", "vcpus", "timeout_ms", "network", "mounts"}: booleans. */
json_t *iso_enforced_json(enum iso_route r);

struct iso_reason {
        enum log_level level;
        char *text;
};

struct iso_decision {
        struct iso_policy policy;
        enum iso_route route;
        /* ISO_ROUTE_UNIKERNEL: where it runs (KVM or PROCESS; never AUTO) */
        enum iso_platform platform;
        bool fell_back; /* the route is not the mode configured */
        bool sandboxed; /* ISO_ROUTE_DIRECT: to a server that runs confined (its sandbox) */
        /* ISO_ROUTE_DIRECT: where the server runs: "sandbox" or "reduced" (its
         * sandbox's tier), "host" (started by osvm, unconfined) or "remote"
         * (reached by URL); NULL for the other routes. Static text. */
        const char *tier;
        size_t nreasons;
        struct iso_reason *reasons;
};

/*
 * Decides where SERVER/TOOL runs under cfg on this host: the mode, the image,
 * the limits and the ordered reasons. Only checks; starts nothing.
 */
void iso_decide(const struct iso_config *cfg, const char *server, const char *tool,
                const struct iso_host *host, struct iso_decision *d);
/* The same for a server osvm knows more of (reach: NULL for a stdio server
 * osvm starts): a call the policy would send to the server's sandbox goes
 * to its fallback instead where the server cannot have one. */
void iso_decide_reach(const struct iso_config *cfg, const char *server, const char *tool,
                      const struct iso_host *host, const struct iso_reach *reach,
                      struct iso_decision *d);
void iso_decision_free(struct iso_decision *d);
/* "INFO: ...\nWARN: ...\n", one line a reason. */
char *iso_decision_trace(const struct iso_decision *d);
json_t *iso_decision_json(const struct iso_decision *d);
/* The decision iso_decision_json made, read back (server, tool, route,
 * fell_back, reasons; not the policy): for the agent inside μVM-1, which
 * is told the host's decisions. -1 with e set when j is not one. */
int iso_decision_from_json(json_t *j, struct iso_decision *d, osvm_err *e);
/* Where the call runs, in a word or two, for a person: "unikernel" (a VM),
 * "unikernel, trapped process" (the process platform: not a VM), "sandbox"
 * (on its server, which runs confined), "direct" (on its server, on the
 * host), "remote" (on its server, reached by URL), "deny". */
const char *iso_decision_where(const struct iso_decision *d);

/* ---- editing ---- */

/*
 * Sets KEY=VALUE on a level of the config file at path: target "SERVER/TOOL",
 * "SERVER", or NULL for the top level. Keeps every other field, unknown ones
 * too; refuses (and writes nothing) when the result would not validate.
 * An empty VALUE removes the field, so that it is inherited again.
 */
int iso_config_set(const char *path, const char *target, const char *const *assignments, size_t n,
                   struct iso_diags *d, osvm_err *e);
/*
 * Removes a server's entry (its whole policy) from the config file at path:
 * 1 when there was one, 0 when the file names no such server, -1 with e set.
 */
int iso_config_remove_server(const char *path, const char *server, struct iso_diags *d,
                             osvm_err *e);

#endif
