/*
 * The agent runtime's side of μVM-1 (built into osvm-agent.img only): the
 * host-call client on fd 3. Single-threaded, as the engine gives no threads.
 */
#ifndef OSVM_MICROVM_GUEST_H
#define OSVM_MICROVM_GUEST_H

#include "mcp/mcp.h"
#include "microvm/microvm.h"
#include "ui/ui.h"

/* The host-call channel: the guest's fd 3. */
#define GUEST_HOST_FD 3

/*
 * Sends req (stolen) and reads lines until the answer: a pending line (a
 * running tool's progress or tick) goes to on_pending when given. Returns
 * the answer, or NULL with e set when the channel failed or the answer
 * says ok: false (e->msg is its error; *answer, when not NULL, receives the
 * failed answer too).
 */
json_t *guest_call(json_t *req, void (*on_pending)(void *ctx, json_t *line), void *ctx,
                   osvm_err *e);

/*
 * Who answers a server's request that the supervisor puts to the agent
 * while one of its tool calls runs (a pending line with "ask": an
 * elicitation or a sampling request; docs/microvm.md): returns the result
 * to give the server, or NULL with e set (declined). Not set (one-shot
 * mode), every such request is declined.
 */
typedef json_t *(*guest_asker)(const char *kind, const char *server, json_t *params, osvm_err *e);
void guest_set_asker(guest_asker ask);

/* The agent's session inside μVM-1 (session.c), for the front end: the
 * handshake gives it the tools and the planner's settings without the key;
 * tool calls, the LLM, the status line and terminal events are host calls. */
extern const struct ui_session_ops guest_session;

#endif
