/*
 * mcp: the Model Context Protocol client (protocol 2025-11-25, stdio and
 * Streamable HTTP), the server registry (mcp_servers.json) and tool calls
 * routed through the isolation policy.
 */
#ifndef OSVM_MCP_H
#define OSVM_MCP_H

#include "base/base.h"

#include <jansson.h>
#include <signal.h>

#define MCP_PROTOCOL_VERSION    "2025-11-25"
#define MCP_DEFAULT_MAX_MESSAGE (16u * 1024 * 1024)
#define MCP_DEFAULT_TIMEOUT_MS  60000u

/* ---- the client: one connection to one server ---- */

struct mcp_client;

/* A progress notification for the running request. */
struct mcp_progress {
        double progress, total; /* total < 0 when the server gave none */
        const char *message;    /* may be NULL */
};
typedef void (*mcp_progress_fn)(void *ctx, const struct mcp_progress *p);

/* Options of one request. */
struct mcp_call_opts {
        uint32_t timeout_ms;           /* 0: MCP_DEFAULT_TIMEOUT_MS */
        volatile sig_atomic_t *cancel; /* may be NULL; non-zero cancels the request */
        mcp_progress_fn on_progress;   /* may be NULL */
        void *progress_ctx;
};

/* What the server said of itself in its initialize result. */
struct mcp_server_info {
        const char *name, *version;
        const char *protocol_version;
        const char *instructions; /* may be NULL */
        json_t *capabilities;     /* borrowed */
};

/* Where a server is and how to start or reach it. */
struct mcp_endpoint {
        const char *name;     /* the registry's name for it, for messages */
        char *const *argv;    /* stdio: the command and its arguments; NULL for HTTP */
        char *const *env;     /* stdio: extra K=V entries; may be NULL */
        const char *url;      /* Streamable HTTP: the endpoint URL; NULL for stdio */
        char *const *headers; /* HTTP: extra "Name: value" headers; may be NULL */
        json_t *roots;        /* may be NULL: the roots to declare and answer roots/list with */
        size_t max_message;   /* 0: MCP_DEFAULT_MAX_MESSAGE */
};

/* Starts or reaches the server and runs initialize / initialized. */
struct mcp_client *mcp_connect(const struct mcp_endpoint *ep, const struct mcp_call_opts *opts,
                               osvm_err *e);
/* All tools, every page of tools/list fetched; a new reference to an array. */
json_t *mcp_list_tools(struct mcp_client *c, const struct mcp_call_opts *opts, osvm_err *e);
/*
 * Calls a tool; args may be NULL. Returns the CallToolResult (a new
 * reference; check its "isError"), or NULL with e set when the call failed
 * at the protocol level (a JSON-RPC error, a timeout, a dead server, ...).
 */
json_t *mcp_call_tool(struct mcp_client *c, const char *tool, json_t *args,
                      const struct mcp_call_opts *opts, osvm_err *e);
int mcp_ping(struct mcp_client *c, const struct mcp_call_opts *opts, osvm_err *e);
const struct mcp_server_info *mcp_info(const struct mcp_client *c);
/* False once the server has gone away; the registry restarts it on next use. */
bool mcp_alive(const struct mcp_client *c);
/* Shuts the connection down as the spec says (stdio: close stdin, wait, TERM, KILL). */
void mcp_close(struct mcp_client *c);

/* JSON-RPC error codes carried in osvm_err.code when the server answers with an error. */
#define MCP_RPC_METHOD_NOT_FOUND (-32601)
#define MCP_RPC_INVALID_PARAMS   (-32602)

#endif
