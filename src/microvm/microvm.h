/*
 * microvm: μVM-1, the agent inside a VM of its own.
 *
 * `osvm` on the host is the supervisor: it owns /dev/kvm, the isolation
 * policy, the MCP servers, the network and the secrets. It starts the agent
 * runtime (a static build of the agent, the image osvm-agent.img) under the
 * engine with the user's terminal forwarded, and serves the agent's host
 * calls on its fd 3: one JSON request a line, one JSON answer a line
 * (docs/microvm.md lists them). The agent has no KVM, no network, no
 * secrets and no files but its own state directory; everything else it asks
 * for, and every request is checked like a system call.
 *
 * The guest side (microvm/guest/) is built into the image only.
 */
#ifndef OSVM_MICROVM_H
#define OSVM_MICROVM_H

#include "agent/agent.h"
#include "base/base.h"
#include "mcp/mcp.h"

#include <signal.h>

/* The host-call protocol's version, which the handshake names. */
#define MICROVM_PROTOCOL 1
/* The largest request line (an LLM request carries the conversation). */
#define MICROVM_REQUEST_MAX (16u << 20)
/* How long a server's question put to the agent may wait for the person. */
#define MICROVM_ASK_WAIT_MS (10u * 60 * 1000)
/* Host calls a second the agent may make, and the burst above that. */
#define MICROVM_CALLS_PER_SEC 50
#define MICROVM_CALLS_BURST   200
/* Where the agent's state directory is inside μVM-1. */
#define MICROVM_STATE_DIR "/state"
/* Guest memory of μVM-1. */
#define MICROVM_MEMORY_MB 128u
/* The image's file name, beside the built-in tool images. */
#define MICROVM_AGENT_IMAGE "osvm-agent.img"

/* How the agent is to run. */
enum microvm_mode {
        MICROVM_AUTO,     /* inside μVM-1 where the host can; else directly, saying why */
        MICROVM_OFF,      /* directly (--no-microvm, OSVM_SKIP_MICROVM=1) */
        MICROVM_REQUIRED, /* inside μVM-1 or not at all (--require-isolation) */
};

/* The agent's command line inside μVM-1, as main() parsed it. */
struct microvm_agent_args {
        const char *prompt; /* -p; NULL: the chat */
        bool json;
        enum log_level log_level;
};

/* What the supervisor serves the agent with, all owned by the caller. */
struct microvm_host {
        /*
         * Run first on the service thread, while the VM starts (the two
         * overlap): sets hub, reg, ai and planner below, or returns an exit
         * code having said why. NULL: they are set already.
         */
        int (*prepare)(struct microvm_host *h, void *ctx);
        void *prepare_ctx;
        struct mcp_hub *hub;
        const struct mcp_registry *reg;
        const struct agent_ai_config *ai;
        struct agent_planner *planner;      /* posts the agent's LLM requests */
        volatile sig_atomic_t *interrupted; /* set on Ctrl-C */
        volatile sig_atomic_t *resized;     /* set on a new window size */
        char *(*status_line)(bool utf8, bool color);
        const char *image;          /* the agent's image */
        const char *state_dir;      /* the agent's own directory on the host */
        const char *const *ro_dirs; /* host directories the agent reads at the same
                                     * paths: terminal descriptions, locales */
        unsigned send_stall_ms;     /* an agent that reads nothing of an answer this long
                                     * loses its channel; 0: MCP_SEND_STALL_MS */
        /* The agent runs on the engine's process platform (a trapped process,
         * not a VM: no KVM here, or the config's platform is "process"). */
        bool process;
        const char *isolation; /* where its tool calls run, in words (set by prepare) */
        /* The agent is the chat: a server's elicitation and sampling requests
         * during the agent's tool call are put to it (docs/microvm.md); else
         * they are answered as outside the chat. */
        bool ask;
};

/* What the agent's confinement is called in messages: "μVM-1", or "the
 * agent's process" on the process platform (never a VM there). */
const char *microvm_name(const struct microvm_host *h);

/*
 * Runs the agent inside μVM-1 with h's servers and planner, and supervises
 * it to its end: the terminal forwarded and restored on every way out, the
 * host calls served. Returns the agent's exit code, or an exit code with
 * the failure said.
 */
int microvm_agent_run(struct microvm_host *h, const struct microvm_agent_args *a);

/* Where the agent's image is (a new string): $OSVM_AGENT_IMAGE, else
 * osvm-agent.img among osvm's own images; NULL with why set. */
char *microvm_agent_image(char *why, size_t n);

/* ---- the host-call service (service.c) ---- */

struct microvm_service;

/* Serves the agent's host calls on fd (the supervisor's end of a socket
 * pair) in a thread of its own, until the agent's end closes. */
struct microvm_service *microvm_service_start(int fd, struct microvm_host *h, osvm_err *e);
/* Waits for the thread (once the agent ended) and frees it; returns the
 * number of calls it served, and through refused how many it refused;
 * *prepared receives what h->prepare returned. */
unsigned microvm_service_finish(struct microvm_service *s, unsigned *refused, int *prepared);
/*
 * One request line of the agent's host calls, checked as a system call is,
 * with no side effect: a JSON object (\u0000 allowed), its op one of the
 * protocol's, its fields exactly the op's, each of its type (a string
 * without NUL and, but for llm's body, at most 256 bytes), its server one
 * that reg has enabled, hello's protocol this one. Returns the request (the
 * caller's) or NULL with what was wrong in why.
 */
json_t *microvm_request_check(const char *line, size_t len, const struct mcp_registry *reg,
                              char *why, size_t n);

#endif
