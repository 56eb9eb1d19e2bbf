/*
 * MCP transports: how JSON-RPC messages move between the client and one
 * server. Private to src/mcp/; the client (client.c) drives a transport
 * through these operations and never knows which one it has.
 */
#ifndef OSVM_MCP_TRANSPORT_H
#define OSVM_MCP_TRANSPORT_H

#include "mcp/mcp.h"

#include <signal.h>

/* How long to wait, and what ends the wait early. */
struct mcp_wait {
        uint64_t deadline_ns;          /* time_mono_ns() value; 0: no deadline */
        volatile sig_atomic_t *cancel; /* may be NULL; non-zero ends the wait */
        const bool *done;              /* may be NULL; set by on_message when satisfied */
        struct mcp_watch *watch;       /* may be NULL; minded by transports that watch */
};

struct mcp_transport;

struct mcp_transport_ops {
        const char *name; /* "stdio" or "http" */
        bool watches;     /* its waits mind mcp_wait.watch (else it is fired first) */
        /*
         * Sends one message (a request, response or notification). HTTP also
         * reads what the server answers on that POST (JSON or an SSE stream),
         * delivering each message through on_message, until the stream ends,
         * w->done is set, the deadline passes or *w->cancel is set.
         */
        int (*send)(struct mcp_transport *t, json_t *msg, const struct mcp_wait *w, osvm_err *e);
        /*
         * Waits for messages until w->done is set or the wait ends, delivering
         * each through on_message. Returns 0, or -1 with e->code one of the
         * MCP_E_* values or an errno.
         */
        int (*poll)(struct mcp_transport *t, const struct mcp_wait *w, osvm_err *e);
        /* May be NULL: false once the server is known to be gone (stdio: it
         * exited). thorough: also when it is on its way out (stdio: killed,
         * exiting), which costs a look at /proc. */
        bool (*alive)(struct mcp_transport *t, bool thorough);
        /* Shuts down as the spec says and frees the transport. */
        void (*close)(struct mcp_transport *t);
        /* May be NULL: the tool call the server runs now (NULLs: none), for
         * the records its sandbox's proxy makes (mcp_proxy_set_call); true
         * when that proxy is its only way out. */
        bool (*set_call)(struct mcp_transport *t, const char *call_id, const char *tool,
                         json_t *egress);
};

struct mcp_transport {
        const struct mcp_transport_ops *ops;
        /* Set by the client: called for every well-formed message received. */
        void (*on_message)(void *ctx, json_t *msg);
        void *ctx;
        size_t max_message; /* bytes; larger messages are refused */
        /* Set by the client after initialize; HTTP sends it as MCP-Protocol-Version. */
        char protocol_version[32];
        char server_name[128]; /* for messages */
};

/*
 * A client over a transport already open (mcp_connect opens one for the
 * endpoint): sets t's on_message, initializes, and owns t from then on (it
 * is closed on failure). ep's strings are borrowed, as mcp_connect's are.
 */
struct mcp_client *mcp_client_over(struct mcp_transport *t, const struct mcp_endpoint *ep,
                                   const struct mcp_call_opts *o, osvm_err *e);

/*
 * The reader of a stdio server's output (stdio.c): bytes in chunks of any
 * size, split into lines, each line of JSON object delivered to
 * t->on_message. A line longer than t->max_message is dropped (too_large is
 * set for the caller to say so); a line that is not a JSON object is
 * skipped and counted (malformed_run: how many in a row).
 */
struct mcp_line_reader {
        struct mcp_transport *t;
        struct mcp_line_cut cut; /* its max: t->max_message */
        bool too_large;          /* an oversized line was dropped: tell the caller */
        unsigned malformed, malformed_run;
};
void mcp_line_reader_take(struct mcp_line_reader *r, const char *data, size_t n);
void mcp_line_reader_free(struct mcp_line_reader *r);

/* ---- OAuth (oauth.c) for the HTTP transport ---- */

struct mcp_oauth;
/* The authorization state of one server at url: its kept token, if any. */
struct mcp_oauth *mcp_oauth_new(const char *server, const char *url,
                                const struct mcp_oauth_conf *conf);
void mcp_oauth_free(struct mcp_oauth *o);
/* "Bearer TOKEN" to send to the server's URL (and nowhere else), or NULL. */
const char *mcp_oauth_header(const struct mcp_oauth *o);
/*
 * The server answered 401 (or 403) with the WWW-Authenticate header www
 * (may be ""): refreshes the token, or walks the whole flow (discovery, a
 * client, the browser step, the token), stepping up the scopes on
 * insufficient_scope. retried: the refused request already carried a token
 * just obtained. 0 when there is a new token to retry with, else -1 with e.
 */
int mcp_oauth_challenge(struct mcp_oauth *o, long status, const char *www, bool retried,
                        const struct mcp_wait *w, osvm_err *e);

/* Starts CMD ARGS... with the given extra environment (K=V entries), in cwd
 * (NULL: ours); confined under sb when not NULL (then cwd does not apply).
 * cancel (may be NULL) ends a confined server's first-start fetch step. */
struct mcp_transport *mcp_stdio_open(const char *name, char *const *argv, char *const *env,
                                     const char *cwd, const struct iso_sandbox *sb,
                                     size_t max_message, volatile sig_atomic_t *cancel,
                                     osvm_err *e);

/* A confined server's host side: its proxy, cgroups and private files. */
struct mcp_confined;
/*
 * Starts argv confined under sb with stdio[] as its fds 0-2: *pid is the
 * child, *out its host side (end it with mcp_confined_end once the child is
 * reaped). Returns 1 when it started confined, 0 when no sandbox can be made
 * here and the fallback lets the server run on the host (said loudly; the
 * caller starts it so), -1 with e (MCP_E_CANCELLED where *cancel was set
 * during an npx or uvx server's first-start fetch step, which it ends).
 */
int mcp_confine_spawn(const char *name, const struct iso_sandbox *sb, char *const *argv,
                      char *const *env, const int stdio[3], volatile sig_atomic_t *cancel,
                      pid_t *pid, struct mcp_confined **out, osvm_err *e);
void mcp_confined_end(struct mcp_confined *c);
/* The tool call the confined server runs now, for its proxy's records; true
 * when there is a proxy (c may be NULL: a server on the host). */
bool mcp_confined_set_call(struct mcp_confined *c, const char *call_id, const char *tool,
                           json_t *egress);
/* Connects to a Streamable HTTP endpoint (nothing is sent until the first send). */
struct mcp_transport *mcp_http_open(const char *name, const char *url, char *const *headers,
                                    size_t max_message, const struct mcp_oauth_conf *oauth,
                                    osvm_err *e);

#endif
