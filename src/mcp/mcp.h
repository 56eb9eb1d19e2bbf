/*
 * mcp: the Model Context Protocol client (protocol 2025-11-25, stdio and
 * Streamable HTTP), the server registry (mcp_servers.json) and tool calls
 * routed through the isolation policy.
 */
#ifndef OSVM_MCP_H
#define OSVM_MCP_H

#include "base/base.h"
#include "isolation/isolation.h"

#include <jansson.h>
#include <signal.h>

#define MCP_PROTOCOL_VERSION    "2025-11-25"
#define MCP_DEFAULT_MAX_MESSAGE (16u * 1024 * 1024)
#define MCP_DEFAULT_TIMEOUT_MS  60000u
#define MCP_INIT_TIMEOUT_MS     30000u /* a server's initialize, unless init_timeout_ms says */

/* What one server's tools/list may add up to, over all its pages. */
#define MCP_TOOLS_MAX       4096u              /* tools */
#define MCP_TOOLS_MAX_BYTES (8u * 1024 * 1024) /* their definitions, as compact JSON */
#define MCP_TOOLS_MAX_PAGES 256u
#define MCP_TOOL_NAME_MAX   256u /* bytes of a tool name */

/* Errors in osvm_err.code besides errno values and JSON-RPC error codes. */
enum {
        MCP_E_TIMEOUT = -1000, /* the deadline passed */
        MCP_E_CANCELLED,       /* *cancel was set (exit OSVM_EXIT_INTERRUPTED: mcp_err_cancelled) */
        MCP_E_CLOSED,          /* the server went away (exited, closed its stream) */
        MCP_E_SESSION,         /* HTTP: the session is gone (404); initialize again */
        MCP_E_TOO_LARGE,       /* a message over the size cap was refused */
        MCP_E_PROTOCOL,        /* the server broke the protocol beyond repair */
};

/* Sets e to MCP_E_CANCELLED with the exit code of a Ctrl-C (130); returns -1. */
int mcp_err_cancelled(osvm_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the client: one connection to one server ---- */

struct mcp_client;

/* A progress notification for the running request. */
struct mcp_progress {
        double progress, total; /* total < 0 when the server gave none */
        const char *message;    /* may be NULL */
};
typedef void (*mcp_progress_fn)(void *ctx, const struct mcp_progress *p);

/* Options of one request. */
/*
 * A file descriptor the calling thread minds for someone else while a call
 * waits (the gateway's stdin, whose reading the call's thread holds). Where
 * the call waits on a server that lets it be watched (stdio), the wait also
 * wakes when fd is readable; anywhere else, before it waits, it is fired:
 * ready(ctx) is called once, on the calling thread, and fd set to -1.
 */
struct mcp_watch {
        int fd; /* -1: not armed (fired, or never) */
        void (*ready)(void *ctx);
        void *ctx;
};

/* Fires w when it is armed (w may be NULL). */
void mcp_watch_fire(struct mcp_watch *w);

struct mcp_call_opts {
        uint32_t timeout_ms;           /* 0: MCP_DEFAULT_TIMEOUT_MS */
        volatile sig_atomic_t *cancel; /* may be NULL; non-zero cancels the request */
        mcp_progress_fn on_progress;   /* may be NULL */
        void *progress_ctx;
        const char *caller;  /* for the audit record: who asked (NULL: the hub's caller) */
        json_t *egress;      /* may be NULL: an array each host call of a tool in a VM, or each
                              * destination a confined server asks its proxy for, is added to */
        bool *egress_seen;   /* may be NULL: set by the hub's run, true where egress holds
                              * all the call reached out to (osvm is its way out), false
                              * where osvm cannot see it (a server on the host, by URL) */
        const char *call_id; /* set by the hub: names the call in the audit log */
        /* may be NULL: called when a request made with these options has been
         * written, while the server works on it (the hub prepares the call's
         * audit record there); it may be called more than once */
        void (*on_sent)(void *ctx);
        void *sent_ctx;
        struct mcp_watch *watch; /* may be NULL */
};

/* What the server said of itself in its initialize result. */
struct mcp_server_info {
        const char *name, *version;
        const char *protocol_version;
        const char *instructions; /* may be NULL */
        json_t *capabilities;     /* borrowed */
};

/*
 * How the client answers what a server asks of it (its own requests).
 * Every member may be NULL: a request without a handler is declined
 * (elicitation, sampling) and the capability is not declared.
 *
 * elicit: an elicitation/create request (params as the server sent them,
 * untrusted: sanitize before showing). Returns the ElicitResult to send
 * ({"action": "accept"|"decline"|"cancel", "content": {...}}), a new
 * reference; NULL declines. The client applies the schema's defaults to an
 * accepted form (SEP-1034) and checks the content against the schema.
 * sample: a sampling/createMessage request; returns the CreateMessageResult
 * or NULL with e set (sent as an error). tools_changed: for the hub
 * (mcp_hub_set_handlers) alone: a server said its tool list changed
 * (notifications/tools/list_changed) and the hub has listed them again.
 */
struct mcp_handlers {
        json_t *(*elicit)(void *ctx, const char *server, json_t *params);
        json_t *(*sample)(void *ctx, const char *server, json_t *params, osvm_err *e);
        void (*tools_changed)(void *ctx, const char *server);
        void *ctx;
};

/*
 * OAuth 2.1 for a Streamable HTTP server (docs/mcp.md, "Authorization").
 * Nothing here is needed for a server that asks for no authorization.
 */
struct mcp_oauth_conf {
        const char *store_id;      /* names the token file; NULL: tokens kept in memory only */
        const char *client_id;     /* pre-registered client; NULL: registered dynamically */
        const char *client_secret; /* with client_id; may be NULL (a public client) */
        const char *scope;         /* asked for when the server names none; may be NULL */
        const char *client_metadata_url; /* a client ID metadata document to use; may be NULL */
        /* private_key_jwt (RFC 7523, SEP-1046): the client's PEM private key (EC P-256
         * or RSA), 0600, that signs its assertion at the token endpoint; may be NULL */
        const char *client_key_file;
        /* enterprise-managed authorization (SEP-990): the person's ID token from their
         * organization's identity provider (a file, 0600), exchanged at the IdP's token
         * endpoint for an identity assertion grant for this server; may be NULL */
        const char *id_token_file;
        const char *idp_token_endpoint;
        const char *idp_client_id; /* osvm's client at the IdP; may be NULL */
        bool no_browser;           /* never run the browser step: fail instead */
};

/* At most this many elicitation or sampling requests of a server are put
 * to the handler per request of ours; more are declined (a flood). */
#define MCP_ASKS_PER_REQUEST 8u
/* Server requests of any kind answered per request of ours; more get an error. */
#define MCP_SERVER_REQUESTS_PER_REQUEST 10000u

/* Where a server is and how to start or reach it. */
struct mcp_endpoint {
        const char *name;     /* the registry's name for it, for messages */
        char *const *argv;    /* stdio: the command and its arguments; NULL for HTTP */
        char *const *env;     /* stdio: extra K=V entries; may be NULL */
        const char *cwd;      /* stdio: the server's working directory; NULL: osvm's */
        const char *url;      /* Streamable HTTP: the endpoint URL; NULL for stdio */
        char *const *headers; /* HTTP: extra "Name: value" headers; may be NULL */
        json_t *roots;        /* may be NULL: the roots to declare and answer roots/list with */
        /* stdio: the server runs confined under this (mcp_sandbox_tier says how);
         * NULL: on the host, as the user runs it */
        const struct iso_sandbox *sandbox;
        size_t max_message;                  /* 0: MCP_DEFAULT_MAX_MESSAGE */
        const struct mcp_handlers *handlers; /* may be NULL; borrowed for the connection */
        const struct mcp_oauth_conf *oauth;  /* HTTP: may be NULL; borrowed */
};

/*
 * The form an elicitation's requestedSchema asks for, with what the person
 * (or a policy) gave in content (may be NULL): a new object with every
 * property's schema default filled in where content has none (SEP-1034).
 * Returns NULL with why set (a static string) when content does not fit the
 * schema: a required field missing, a value of the wrong type, a value
 * outside an enum.
 */
json_t *mcp_elicit_fill(json_t *schema, json_t *content, const char **why);

/*
 * Starts or reaches the server and runs initialize / initialized. A server
 * that answers with a protocol version osvm does not speak is refused.
 */
struct mcp_client *mcp_connect(const struct mcp_endpoint *ep, const struct mcp_call_opts *opts,
                               osvm_err *e);
/*
 * All tools, every page of tools/list fetched; a new reference to an array.
 * Tools without a name, with an empty or unsafe name (control characters,
 * bidirectional controls, bytes that are not UTF-8, longer than
 * MCP_TOOL_NAME_MAX) and repeats of a name are left out with a warning. More
 * than MCP_TOOLS_MAX tools, MCP_TOOLS_MAX_BYTES or MCP_TOOLS_MAX_PAGES
 * pages is an error (MCP_E_TOO_LARGE, MCP_E_PROTOCOL for the pages).
 */
json_t *mcp_list_tools(struct mcp_client *c, const struct mcp_call_opts *opts, osvm_err *e);
/*
 * Calls a tool; args may be NULL. Returns the CallToolResult (a new
 * reference; check its "isError"), or NULL with e set when the call failed
 * at the protocol level (a JSON-RPC error, a timeout, a dead server, ...).
 */
json_t *mcp_call_tool(struct mcp_client *c, const char *tool, json_t *args,
                      const struct mcp_call_opts *opts, osvm_err *e);
int mcp_ping(struct mcp_client *c, const struct mcp_call_opts *opts, osvm_err *e);
/* Any request (params borrowed, its _meta replaced): the result or NULL with e set. */
json_t *mcp_request(struct mcp_client *c, const char *method, json_t *params,
                    const struct mcp_call_opts *opts, osvm_err *e);
const struct mcp_server_info *mcp_info(const struct mcp_client *c);
/* The server's notifications besides progress, tools/list_changed and
 * cancelled (notifications/message, resources/updated, ...), as they are
 * read (while a request waits); params may be NULL. */
typedef void (*mcp_notify_fn)(void *ctx, const char *method, json_t *params);
void mcp_set_notify(struct mcp_client *c, mcp_notify_fn fn, void *ctx);
/* Whether notifications/tools/list_changed came since the last time this was asked
 * (it is read while a request waits). */
bool mcp_take_tools_changed(struct mcp_client *c);
/* False once the server has gone away or is on its way out (killed, exiting);
 * the hub then starts it again before it is sent a request. */
bool mcp_alive(const struct mcp_client *c);
/* False once the server is known to have gone away (it exited, its pipes
 * closed): mcp_alive without the look at /proc, for a request right after it. */
bool mcp_running(const struct mcp_client *c);
/* The tool call the server runs now (NULLs: none), for its sandbox's records,
 * with the array its egress goes into (mcp_proxy_set_call). True when the
 * server's network use is seen: it runs confined, its only way out osvm's
 * proxy; false when it is not (on the host, or reached by URL). */
bool mcp_client_set_call(struct mcp_client *c, const char *call_id, const char *tool,
                         json_t *egress);
/* Shuts the connection down as the spec says (stdio: close stdin, wait, TERM, KILL). */
void mcp_close(struct mcp_client *c);

/* ---- the registry: mcp_servers.json beside the isolation config ----
 *
 * The original osvm's format: a map from server id to {name, url,
 * transport_type ("stdio" | "http"), auth, enabled, extra_config, github_url,
 * local_path}, where a stdio server's url is its command line. osvm adds
 * "command" + "args" (the exact argv), "env" and "headers". Unknown fields
 * are kept and warned about. docs/mcp.md describes it.
 */
#define MCP_REGISTRY_FILE "mcp_servers.json"

enum mcp_kind { MCP_KIND_STDIO, MCP_KIND_HTTP };

struct mcp_server_conf {
        char *id;   /* the registry key, used on the command line */
        char *name; /* display name */
        enum mcp_kind kind;
        char **argv;    /* stdio: NULL-terminated */
        char **env;     /* stdio: NULL-terminated K=V */
        char *cwd;      /* stdio: its working directory; may be NULL */
        char *url;      /* http */
        char **headers; /* http: NULL-terminated "Name: value" (auth included) */
        bool enabled;
        uint32_t init_timeout_ms; /* how long initialize may take; 0: MCP_INIT_TIMEOUT_MS */
        bool elicit_defaults;     /* "elicitation": "defaults": outside the chat, a server's
                                   * question is answered with the schema's defaults */
        /* "oauth": a pre-registered client, the scopes, a client ID metadata document */
        char *oauth_client_id, *oauth_client_secret, *oauth_scope, *oauth_client_metadata_url;
        char *oauth_client_key_file, *oauth_id_token_file, *oauth_idp_token_endpoint,
            *oauth_idp_client_id;
        bool own_pack; /* osvm's own pack (`osvm mcp serve`), which holds each call to the
                        * policy itself: its timeout answers as a tool error */
};

struct mcp_registry {
        char *path;
        size_t n;
        struct mcp_server_conf *v;
};

char *mcp_registry_path(void);
/* Loads the registry; a missing file is an empty registry. */
int mcp_registry_load(const char *path, struct mcp_registry *reg, osvm_err *e);
void mcp_registry_free(struct mcp_registry *reg);
const struct mcp_server_conf *mcp_registry_find(const struct mcp_registry *reg, const char *id);
/* The endpoint to connect to a server; strings borrowed from s. */
void mcp_server_endpoint(const struct mcp_server_conf *s, struct mcp_endpoint *ep);
/* Whether a server's process is osvm's to confine, for the routing decision
 * (iso_decide_reach): not one reached by URL, nor osvm's own pack. */
void mcp_server_reach(const struct mcp_server_conf *s, struct iso_reach *r);

/* Whether url is an http:// or https:// one (the scheme in any case): what
 * a Streamable HTTP server is reached by. */
bool mcp_url_is_http(const char *url);

/* A stdio server's command: the file it names (a path as given, else the
 * first executable match on $PATH, as a new string), or NULL when none. */
char *mcp_command_find(const char *cmd);
/* How to install cmd (node, npx, python3, uvx, ...) into buf, when it is an
 * interpreter MCP servers are commonly started with; false otherwise. */
bool mcp_command_install_hint(const char *cmd, char *buf, size_t n);
/* The same for an interpreter that text (a server's stderr) says is missing. */
bool mcp_command_missing_in(const char *text, char *buf, size_t n);

/* Edits, each atomic and keeping every other field: */
int mcp_registry_add_stdio(const char *path, const char *id, char *const *argv, char *const *env,
                           osvm_err *e);
int mcp_registry_add_http(const char *path, const char *id, const char *url, char *const *headers,
                          osvm_err *e);
/* Forgets the OAuth tokens and client kept for server id (`osvm mcp logout`);
 * *had says whether there were any. */
int mcp_oauth_logout(const char *id, bool *had, osvm_err *e);
/* Sets (or with value NULL removes) one field of a server's entry. */
int mcp_registry_set(const char *path, const char *id, const char *field, json_t *value,
                     osvm_err *e);
int mcp_registry_remove(const char *path, const char *id, osvm_err *e);
/* Imports {"mcpServers": {NAME: {command, args, env} | {url, headers}}}; existing
 * ids are kept and reported as skipped. */
int mcp_registry_import(const char *path, const char *file, size_t *added, size_t *skipped,
                        osvm_err *e);

/* ---- the hub: registered servers, kept running for the whole run ----
 *
 * Every call asks the isolation policy first: "direct" goes to the server,
 * "unikernel" runs the tool's image in a fresh VM, "deny" refuses. A server
 * that died is started again on its next call. Every call is recorded in the
 * audit log. The hub may be used from several threads at once: each server
 * has up to MCP_HUB_CONNS connections, one a request in flight.
 */
#define MCP_HUB_CONNS 4u
struct mcp_hub;

struct mcp_hub *mcp_hub_new(const struct mcp_registry *reg, const struct iso_config *cfg,
                            const struct iso_host *host);
/* Adds a server (a registry read again; conf must live as long as the hub),
 * or takes the new conf of one it has (its running connections stay); counts
 * as a change of tools (mcp_hub_tools_gen). */
void mcp_hub_add_server(struct mcp_hub *h, const struct mcp_server_conf *conf);
/* Where the servers' own notifications go (mcp_set_notify), with the server's id. */
typedef void (*mcp_hub_notify_fn)(void *ctx, const char *id, const char *method, json_t *params);
void mcp_hub_set_notify(struct mcp_hub *h, mcp_hub_notify_fn fn, void *ctx);
/* Who the audit records of calls that name no caller say asked ("agent", ...). */
void mcp_hub_set_caller(struct mcp_hub *h, const char *caller);
/* What a registered server said of itself, connecting as needed: a new
 * object {name, version, capabilities, instructions?}. */
json_t *mcp_hub_describe(struct mcp_hub *h, const char *id, const struct mcp_call_opts *o,
                         osvm_err *e);
/*
 * Starts the servers (only, or every enabled one) at once, each in a thread
 * of its own, and lists their tools; each has its own init_timeout_ms, and
 * one that does not answer delays none of the others. Returns how many are
 * up. A server that failed is not tried again in this run: every request to it
 * gives its error (mcp_hub_start_error says it, or NULL).
 */
size_t mcp_hub_start(struct mcp_hub *h, const char *only, const struct mcp_call_opts *o);
const char *mcp_hub_start_error(const struct mcp_hub *h, const char *id);
/*
 * The same without waiting (the chat): every enabled server starts in the
 * background; mcp_hub_collect takes in those whose start ended since the
 * last call, calling fn for each (err NULL when it is up, with its number of
 * tools), and says how many are still starting. Until it is taken in, a
 * server is "still starting" to every request to it. Freeing the hub ends the
 * start-ups that still run.
 */
typedef void (*mcp_joined_fn)(void *ctx, const char *id, const char *err, size_t ntools);
void mcp_hub_start_background(struct mcp_hub *h);
/* What ends a start-up whose caller gave no cancel flag of its own (Ctrl-C's). */
void mcp_hub_set_cancel(struct mcp_hub *h, volatile sig_atomic_t *cancel);
size_t mcp_hub_collect(struct mcp_hub *h, mcp_joined_fn fn, void *ctx, size_t *pending);
/* How the hub's servers' own requests are answered; NULL: the defaults
 * (questions declined unless the server's "elicitation" policy says
 * "defaults", sampling declined). Call before the servers start. */
void mcp_hub_set_handlers(struct mcp_hub *h, const struct mcp_handlers *hd);
/* The id the command line gives a server named by its URL (not kept). */
#define MCP_ADHOC_ID "adhoc"
/* The server's tools (cached, listed again after notifications/tools/list_changed;
 * a borrowed array valid until the hub is freed). */
json_t *mcp_hub_tools(struct mcp_hub *h, const char *id, const struct mcp_call_opts *o,
                      osvm_err *e);
/* Bumped each time a server's tools changed (it sent tools/list_changed, or
 * was started again): mcp_hub_tools then lists them afresh. */
unsigned mcp_hub_tools_gen(struct mcp_hub *h);
/* Pings each server's idle connection (when it has one): a server tells of
 * changed tools only while a request of osvm's waits. */
void mcp_hub_poll(struct mcp_hub *h);
/* Any other request to a server, straight (resources, prompts, completion,
 * logging): the result, a new reference, or NULL with e set. params borrowed. */
json_t *mcp_hub_request(struct mcp_hub *h, const char *id, const char *method, json_t *params,
                        const struct mcp_call_opts *o, osvm_err *e);
/*
 * Calls SERVER/TOOL wherever the policy routes it. dec receives the decision
 * (free it with iso_decision_free). Returns the CallToolResult or NULL with e
 * set (exit OSVM_EXIT_DENIED when the policy refused).
 */
json_t *mcp_hub_call(struct mcp_hub *h, const char *id, const char *tool, json_t *args,
                     const struct mcp_call_opts *o, struct iso_decision *dec, osvm_err *e);
/* mcp_hub_call in two steps, for a caller that shows the decision before the call runs. */
void mcp_hub_decide(struct mcp_hub *h, const char *id, const char *tool, struct iso_decision *dec);
/* The same decision for a listing, not a call: its reasons are not logged
 * and a fallback is not counted. */
void mcp_hub_preview(struct mcp_hub *h, const char *id, const char *tool, struct iso_decision *dec);
json_t *mcp_hub_run(struct mcp_hub *h, const struct iso_decision *dec, json_t *args,
                    const struct mcp_call_opts *o, osvm_err *e);
void mcp_hub_free(struct mcp_hub *h);

/*
 * Runs a tool image in a fresh VM under the decision's policy: the
 * tool-image protocol (docs/tool-images.md). The request {"name",
 * "arguments"} goes to the guest's stdin; its stdout must be one
 * CallToolResult. A guest that fails, faults or passes a limit yields a
 * CallToolResult with isError and the reason; NULL with e only when the VM
 * could not run at all.
 */
json_t *mcp_image_call(const struct iso_decision *d, const char *tool, json_t *args,
                       const struct mcp_call_opts *o, osvm_err *e);
/* A CallToolResult of one text block (at most 2 KiB of it). */
json_t *mcp_text_result(bool is_error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same protocol with the program run in a VM (in_vm) or as a host process. */
json_t *mcp_tool_run(const struct iso_decision *d, const char *tool, json_t *args,
                     const struct mcp_call_opts *o, bool in_vm, osvm_err *e);
/* The Solana RPC endpoint for a policy: $OSVM_SOLANA_RPC, the server's rpc_url, or mainnet-beta.
 * The host's alone: it may hold a credential. */
const char *mcp_solana_rpc(const struct iso_policy *p);
/*
 * A URL as anything but the host's own request may see it (a tool, the
 * agent, an error text, the log): scheme://host[:port]/, a new string (NULL
 * when url is not an http:// or https:// URL). The user, password, path,
 * query and fragment stay with the host, since any of them may hold a
 * credential (user:pass@, ?api-key=, a provider's token in the path); the
 * host sends a tool's requests to exactly this endpoint on to the RPC URL in
 * full.
 */
char *mcp_url_public(const char *url);

/* ---- the gateway: `osvm mcp serve`, every registered server behind one (gateway.c) ----
 *
 * Tools and prompts are named SERVER__NAME, resource URIs osvm-gw://SERVER/URI;
 * each tool call goes through the hub (the isolation policy, the audit log).
 */
struct mcp_gateway;
struct mcp_gw_session;
/* Sends one message to a session's client; request_id is the request it
 * belongs to (a response, its progress), NULL for others. msg is borrowed. */
typedef void (*mcp_gw_send_fn)(void *ctx, json_t *msg, json_t *request_id);
/* Fronts the servers named in only (NULL: every enabled one), reaching each
 * once, in parallel, for its capabilities and tools (one that cannot be
 * reached is warned about and tried again on use), and of their tools those
 * whose qualified name matches a glob of tools (NULL: all; copied). NULL
 * with e set when a name is not registered or disabled. */
struct mcp_gateway *mcp_gateway_new(struct mcp_hub *hub, const struct mcp_registry *reg,
                                    char *const *only, char *const *tools, size_t max_message,
                                    osvm_err *e);
const char *mcp_gateway_instructions(const struct mcp_gateway *g);
void mcp_gateway_free(struct mcp_gateway *g);
struct mcp_gw_session *mcp_gw_session_new(struct mcp_gateway *g, mcp_gw_send_fn send, void *ctx,
                                          const char *id);
/* One message from the client (answers go through send, maybe from another
 * thread). False when it was refused (not a JSON-RPC 2.0 object, a batch). */
bool mcp_gw_handle(struct mcp_gw_session *s, json_t *msg);
/* A new session id: 32 random hex digits. */
void mcp_gw_session_id(char *buf, size_t n);
/* Waits for what the session still runs (cancelled first when cancel: the
 * client is gone), then frees the session. */
void mcp_gw_session_close(struct mcp_gw_session *s, bool cancel);
/* Serves one client over in/out (one JSON message a line) until in ends. */
int mcp_gateway_serve_stdio(struct mcp_gateway *g, int in, int out);
/* Serves Streamable HTTP at http://ADDR:PORT/mcp (ADDR NULL: 127.0.0.1; PORT 0:
 * any free one) in threads of its own, each request needing the bearer token
 * (NULL: none, on loopback only) (gateway_http.c). NULL with e set when it
 * cannot listen. */
struct mcp_gw_http;
struct mcp_gw_http *mcp_gw_http_start(struct mcp_gateway *g, const char *addr, unsigned port,
                                      const char *token, osvm_err *e);
unsigned mcp_gw_http_port(const struct mcp_gw_http *h);
/* Ends every session (their calls cancelled and waited for) and stops. */
void mcp_gw_http_stop(struct mcp_gw_http *h);

/* ---- the audit log: one hash-chained JSON line a call (audit.c, docs/audit.md) ---- */

struct mcp_audit_call {
        const char *caller;             /* "gateway CLIENT session ID", "agent", "osvm mcp call" */
        const struct iso_decision *dec; /* server, tool, route, platform, reasons */
        json_t *args;                   /* may be NULL */
        json_t *result;                 /* the CallToolResult; NULL when the call failed */
        const osvm_err *err;            /* why it failed, when result is NULL */
        uint64_t duration_ns;
        json_t *egress;      /* the tool's host calls (mcp_egress_policy.record); NULL: not seen */
        const char *call_id; /* "PID-N": the call, as a secret's records name it; may be NULL */
        char *known;         /* what is known before the answer, serialized (mcp_audit_prepare) */
};
/* A secret's use by the proxy of a sandboxed server: "event": "secret", never the value. */
struct mcp_audit_secret {
        const char *server, *secret, *host;
        unsigned port;
        bool refused;      /* an attempted leak; else the value was put in */
        const char *where; /* "header Authorization", "the URL", "the body", ... */
        const char *why;   /* a refusal's reason; NULL when put in */
        /* the tool call the server was running (its call record's call_id, and
         * the tool); NULL: none known (a request made between calls) */
        const char *call_id, *tool;
};
void mcp_audit_secret(const struct mcp_audit_secret *s);
/* $OSVM_AUDIT_FILE, else $XDG_STATE_HOME/osvm/audit.jsonl; a new string. */
char *mcp_audit_path(void);
/* A text for a record: s sanitized (one line, no control characters), its
 * first max bytes; a new JSON string (null for NULL). */
json_t *mcp_audit_text(const char *s, size_t max);
#define MCP_AUDIT_NOTE_MAX   300u /* a text in an egress entry (host, why) */
#define MCP_EGRESS_NOTES_MAX 32u  /* the egress entries a call's record holds */
/* Serializes the part of the call's record known before its answer (who,
 * what, the arguments' hash, the route and its reasons) into a->known, so
 * that after the answer only its outcome is left to write: the hub does it
 * while the server works on the call. Once; a second call does nothing. */
void mcp_audit_prepare(struct mcp_audit_call *a);
/* Appends the call's record (the hub does, for every call) and frees
 * a->known. Never fails the call: a record that cannot be written is said
 * once, as a warning. */
void mcp_audit_record(struct mcp_audit_call *a);
/* Checks the chain of path and its rotated files, oldest first. Returns the
 * number of problems (each a line of report naming the file, the line and
 * what is wrong), or -1 with e set when the log cannot be read. */
int mcp_audit_verify(const char *path, strbuf *report, size_t *records, osvm_err *e);

/* ---- osvm's own tool pack, served as an MCP server ---- */

/* The tools/list array of a built-in pack (<builtin_images>/NAME.tools.json), or NULL. */
json_t *mcp_builtin_tools(const struct iso_host *host, const char *name);
/* Serves the pack NAME over in/out (stdio) until end of input: `osvm mcp serve NAME`. */
int mcp_serve(const char *name, const struct iso_config *cfg, const struct iso_host *host, int in,
              int out, osvm_err *e);
/* Adds the built-in osvm-mcp server to the registry (unless it names one of its own):
 * this very program, `osvm mcp serve osvm-mcp`. Returns true when it did. */
bool mcp_registry_add_builtin(struct mcp_registry *reg, const struct iso_host *host);

/* ---- egress: the host side of a tool's host-call channel (fd 3) ---- */

struct mcp_egress_policy {
        const char *who;                 /* "server/tool", for messages */
        const struct iso_strlist *allow; /* the tool's network.allow */
        bool allow_is_default;           /* no list set anywhere: the RPC endpoint only */
        const char *rpc_url;             /* the Solana RPC endpoint in full; may be NULL */
        const char *rpc_key;             /* added as a bearer token for rpc_url only */
        uint64_t deadline_ns;            /* the call's end; 0: none */
        volatile sig_atomic_t *cancel;   /* the call's cancel flag; may be NULL */
        json_t *record; /* may be NULL: {url, method, allowed, status | why} added a host call */
};

struct mcp_egress;
/* Serves host calls on fd (the host's end of a socket pair; taken over) in a
 * thread of its own, until the tool's end closes. */
struct mcp_egress *mcp_egress_start(int fd, const struct mcp_egress_policy *p, osvm_err *e);
/* Ends the service and frees it; returns the number of host calls served. */
unsigned mcp_egress_finish(struct mcp_egress *g);
/* NULL when url may be reached under p; else the refusal in words (in buf). */
const char *mcp_egress_check(const struct mcp_egress_policy *p, const char *url, char *buf,
                             size_t n);

/* One host-call request as checked, before anything is sent. */
struct mcp_egress_req {
        const char *method, *url; /* borrowed from the request */
        const char *body;         /* borrowed; NULL when none */
        size_t body_len;          /* it may hold NUL bytes */
        char **headers;           /* "Name: value" lines that may be sent */
        size_t nheaders;
        bool refused;         /* by the policy (a refusal for the audit record), not malformed */
        bool to_rpc;          /* to the RPC endpoint's origin: the key goes with it */
        bool to_rpc_endpoint; /* to the endpoint itself: sent to rpc_url in full */
};
/*
 * Checks one host-call request (a JSON object) against p, with no side
 * effect: op "http", method GET or POST, a url p admits, headers an object
 * and body a string. The headers that may be sent are those with a name and
 * no line break, and none that osvm sets itself or that carry a credential.
 * NULL with r filled (free it with mcp_egress_req_free), or what was wrong
 * (in buf, or static text), r holding nothing to free.
 */
const char *mcp_egress_request_check(const struct mcp_egress_policy *p, json_t *req,
                                     struct mcp_egress_req *r, char *buf, size_t n);
void mcp_egress_req_free(struct mcp_egress_req *r);

/* ---- the server sandbox (confine.c) and its egress proxy (proxy.c) ----
 *
 * A server whose policy asks for confinement (iso_server_sandbox) runs in
 * the best tier this host gives: "sandbox" (new user, mount, pid, net, ipc
 * and uts namespaces, an empty root with read-only binds, seccomp, Landlock,
 * rlimits, cgroups), or "reduced" (no namespaces: Landlock, seccomp,
 * rlimits, cgroups). With neither, the server's fallback decides, loudly.
 * Its only way out is osvm's proxy. docs/mcp-sandbox.md says what each
 * tier holds.
 */
enum mcp_tier { MCP_TIER_HOST = 0, MCP_TIER_SANDBOX, MCP_TIER_REDUCED };
const char *mcp_tier_name(enum mcp_tier t); /* "host", "sandbox", "reduced" */
/* Where server s runs, in a word (`mcp list`, the status line): "remote" for
 * one reached by URL, else the name of tier t, the one its process gets. */
const char *mcp_server_where(const struct mcp_server_conf *s, enum mcp_tier t);
/* The tier a confined server gets on this host; why, when it is not the full one. */
enum mcp_tier mcp_sandbox_tier(char *why, size_t n);
/* What a server's sandbox holds it to on this host, as one line of words
 * (sanitized) or as JSON: tier, mounts, network allow-list, limits. */
char *mcp_sandbox_text(const struct iso_sandbox *sb, enum mcp_tier tier);
json_t *mcp_sandbox_json(const struct iso_sandbox *sb, enum mcp_tier tier);
/* What a sandboxed server is shown of a file its command line names (its
 * script, a package's entry): the folder above the outermost node_modules
 * it is in, else its own folder; where that is too broad to show a server
 * (the home or above it, a folder holding osvm's own files, /tmp...), the
 * node_modules folder alone, else the file alone, and *narrowed is set. A
 * new string, or NULL when file is no regular file. */
char *mcp_sandbox_package(const char *file, bool *narrowed);
/* OSVM_SANDBOX_NO_LANDLOCK=1: behave as a host without Landlock (tests). */
#define MCP_NO_LANDLOCK_ENV "OSVM_SANDBOX_NO_LANDLOCK"

/* Does a network.allow entry ("host", "host:port", "*.domain[:port]", an IP
 * address, "[v6]:port") admit host:port? (host with or without brackets) */
bool mcp_allow_entry_admits(const char *entry, const char *host, long port);
/* NULL when the allow-list lets a server reach host:port, else why not. */
const char *mcp_proxy_check(const struct iso_strlist *allow, const char *host, unsigned port);
struct mcp_proxy;
/* Serves the proxy on the listening socket lfd (taken over) for server. */
struct mcp_proxy *mcp_proxy_start(const char *server, int lfd, const struct iso_strlist *allow,
                                  osvm_err *e);
/*
 * A secret the proxy puts in place of its placeholder: in the headers (all,
 * or those named) and, with body, the body of requests to hosts (network.allow
 * syntax) only; the placeholder anywhere else is refused (403) and recorded
 * as an attempted leak. HTTPS to those hosts is opened with the session's CA
 * (tls.h); to other hosts it is tunnelled untouched.
 */
struct mcp_proxy_secret {
        const char *name, *placeholder, *value;
        const struct iso_strlist *hosts, *headers; /* headers empty: any */
        bool body;
};
#define MCP_PROXY_SECRETS_MAX 64
/* "HOST:PORT=ADDR:PORT[,...]": the proxy reaches HOST:PORT at ADDR:PORT (an IP
 * address) instead of resolving it; for tests and diagnosis, as curl --resolve. */
#define MCP_PROXY_RESOLVE_ENV "OSVM_PROXY_RESOLVE"
/* mcp_proxy_start with secrets (copied; n at most MCP_PROXY_SECRETS_MAX). */
struct mcp_proxy *mcp_proxy_start_secrets(const char *server, int lfd,
                                          const struct iso_strlist *allow,
                                          const struct mcp_proxy_secret *secrets, size_t n,
                                          osvm_err *e);
void mcp_proxy_counts(const struct mcp_proxy *p, unsigned *allowed, unsigned *refused);
/* The tool call the server runs now (NULLs: none), named in the records of
 * its secrets' uses; a server runs one call at a time. Each destination the
 * server asks for while it runs is added to egress (may be NULL), the call's
 * audit record's: {host, port, method, allowed} and, refused or not reached,
 * why. */
void mcp_proxy_set_call(struct mcp_proxy *p, const char *call_id, const char *tool, json_t *egress);
void mcp_proxy_stop(struct mcp_proxy *p);

/* ---- secrets (secret.c): used by a sandboxed server, never held by it ---- */

#define MCP_SECRET_VALUE_MAX 8192u
/* 1 to 64 of [A-Za-z0-9_.-]. */
bool mcp_secret_name_ok(const char *name);
/* NULL when v (len bytes) may be a secret's value (it goes in a header), else why not. */
const char *mcp_secret_value_problem(const char *v, size_t len);
/* $OSVM_SECRETS_FILE, else <state dir>/secrets.json; a new string. */
char *mcp_secret_store_path(void);
/* Which store holds them, in words (for `osvm secret list`); a new string. */
char *mcp_secret_store_text(void);
int mcp_secret_set(const char *name, const char *value, size_t len, osvm_err *e);
int mcp_secret_rm(const char *name, osvm_err *e);
/* The value (a new string: explicit_bzero it before free), or NULL with e. */
char *mcp_secret_get(const char *name, osvm_err *e);
/* The names (out->v NULL-terminated, each and the array to free), or -1 with e. */
int mcp_secret_names(struct iso_strlist *out, osvm_err *e);
/* A random per-session placeholder ("osvm_secret_" and 32 hex digits); a new string. */
char *mcp_secret_placeholder(void);

/* JSON-RPC error codes carried in osvm_err.code when the server answers with an error. */
#define MCP_RPC_METHOD_NOT_FOUND (-32601)
#define MCP_RPC_INVALID_PARAMS   (-32602)

/* ---- what peers send ---- */

/*
 * Parses one JSON message from a peer (a server, a tool): valid JSON
 * is taken whole, strings holding \u0000 included (read their length with
 * json_string_length; json_string_value stops at the NUL). An object key
 * holding \u0000, which jansson cannot keep, gets U+FFFD in its place.
 * flags are jansson's decoding flags (JSON_ALLOW_NUL is always added).
 */
json_t *mcp_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);
/*
 * Checks a header line "Name: value" before it is sent: the name with
 * text_header_name_ok, the value (past the blanks after the colon) with
 * text_header_value_ok. NULL when it may be sent, else what is wrong.
 */
const char *mcp_header_problem(const char *line);

/* ---- channels of one JSON message a line (lines.c) ---- */

/*
 * Lines bounded in length cut out of a byte stream, a chunk at a time: the
 * one splitter of every reader of one message a line. line holds the line
 * so far (its bytes, NUL-terminated; s may be NULL while it is empty).
 */
struct mcp_line_cut {
        strbuf line;
        size_t max;    /* the longest line taken, without its newline */
        bool skipping; /* the rest of a line over max is dropped */
        bool taken;    /* line holds a whole line, emptied on the next call */
};
enum mcp_cut {
        MCP_CUT_MORE,     /* all of the chunk was taken; no line ended in it */
        MCP_CUT_LINE,     /* a whole line is in c->line (its s never NULL) */
        MCP_CUT_TOO_LONG, /* a line went past max: the rest of it is dropped */
};
/* Takes data[0..n) up to the end of one line at most (*used: how much). */
enum mcp_cut mcp_line_cut(struct mcp_line_cut *c, const char *data, size_t n, size_t *used);

/* One line, NUL-terminated, without its newline; line NULL: the line went
 * past the limit (its rest is skipped). Returns false to stop reading. */
typedef bool (*mcp_line_fn)(void *ctx, char *line, size_t len);
/* Reads fd to its end (or a read error, or until on_line says stop),
 * handing on_line each line of at most max bytes. */
void mcp_read_lines(int fd, size_t max, mcp_line_fn on_line, void *ctx);
/*
 * Writes msg as one line of compact JSON to a socket (no SIGPIPE), for
 * host-call channels. A peer that does not read cannot hold the sender: it
 * waits for room until deadline_ns (0: none) and while the peer takes
 * something at least every stall_ms (0: MCP_SEND_STALL_MS). Returns 0 when
 * the line was sent whole, else MCP_E_CLOSED (the peer is gone) or
 * MCP_E_TIMEOUT (it did not read in time) with *why (may be NULL) saying so
 * in words; the caller then closes the channel.
 */
#define MCP_SEND_STALL_MS 10000u
int mcp_send_line(int fd, json_t *msg, uint64_t deadline_ns, uint32_t stall_ms, const char **why);

#endif
