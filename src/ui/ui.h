/*
 * ui: what the person at the terminal sees and types. The chat and one-shot
 * mode (agent.c) with the chat's own commands (commands.c), the status line
 * (status.c), a server's questions put to the person (ask.c), and text made
 * for a terminal (term.c, suggest.c).
 *
 * Two programs run it: `osvm` on the host (src/cli/) and the agent inside
 * μVM-1 (src/microvm/guest/). Each gives the front end a session of its own
 * (struct ui_session_ops): on the host the servers, the hub and the planner
 * in that process; inside μVM-1 the same, asked of the supervisor.
 */
#ifndef OSVM_UI_H
#define OSVM_UI_H

#include "agent/agent.h"
#include "base/base.h"
#include "isolation/isolation.h"

#include <signal.h>

/* ---- the status line (status.c) ---- */

struct ui_style {
        bool utf8;  /* μ and • where true; u and - where false */
        bool color; /* ANSI colours */
};
/* The status line from the session at time now_ns. */
char *ui_status_line(const struct osvm_session *s, uint64_t now_ns, struct ui_style st);
/* The style for stdout: the locale's charset, NO_COLOR and whether it is a terminal. */
struct ui_style ui_style_stdout(void);

/* ---- the agent's session, and the front end over it (agent.c) ---- */

struct ui_session;

/* What the chat and one-shot mode run on. */
struct ui_session_ops {
        /* Opens the session; chat: for many prompts (VMs made ahead, resizes
         * noticed). Returns 0 or an exit code, having said why. */
        int (*open)(struct ui_session *s, bool chat);
        void (*close)(struct ui_session *s);
        /* The status line now. */
        char *(*status)(struct ui_session *s, struct ui_style st);
        /* Where SERVER/TOOL would run, as the host decides it: nothing runs,
         * nothing is logged or counted (the chat's /tools). */
        void (*where)(struct ui_session *s, const char *server, const char *tool,
                      struct iso_decision *d);
        /* What happened to the terminal since the last call (cleared by it):
         * UI_EVENT_* bits. */
        unsigned (*events)(struct ui_session *s);
};
#define UI_EVENT_INTERRUPT 1u /* Ctrl-C */
#define UI_EVENT_RESIZE    2u /* a new window size */

struct ui_session {
        const struct ui_session_ops *ops;
        struct agent *agent;
        bool llm;            /* an LLM is configured (else the offline planner) */
        bool kvm;            /* KVM is usable: tool calls can run in VMs of their own */
        bool microvm;        /* inside μVM-1, as the handshake said */
        bool agent_process;  /* μVM-1 is a trapped process (the process platform), not a VM */
        char isolation[192]; /* where tool calls run, for the banner */
        const char *model;   /* the planner's model; NULL: none */
        char *url;           /* its endpoint without what may be a credential; NULL: none */
        void *impl;          /* the implementation's own */
};

/* The agent on a session of ops: one prompt (--json: the whole trace), or
 * the chat. Return exit codes. */
int ui_oneshot(const struct ui_session_ops *ops, const char *prompt, bool json);
int ui_chat(const struct ui_session_ops *ops);

/*
 * The chat's own commands (commands.c): a line that starts with '/' and a
 * word (/help, /tools [SERVER], /status, /exit). Returns UI_CHAT_PROMPT
 * when line is a prompt for the agent, else runs the command.
 */
enum ui_chat_result { UI_CHAT_PROMPT, UI_CHAT_DONE, UI_CHAT_LEAVE };
enum ui_chat_result ui_chat_command(struct ui_session *s, const char *line);

/* ---- a server's questions (ask.c) ----
 *
 * What a server asks of the person in the chat, on the host and inside μVM-1
 * alike: ui_ask_init makes the sampler for ai (kept, borrowed; none without
 * an LLM: ui_ask_samples says so); ui_ask puts one request to the person,
 * kind "elicit" (the ElicitResult) or "sample" (the CreateMessageResult
 * through the LLM, or NULL with e set: declined).
 */
void ui_ask_init(const struct agent_ai_config *ai);
bool ui_ask_samples(void);
json_t *ui_ask(const char *kind, const char *server, json_t *params, osvm_err *e);
void ui_ask_free(void);

/* ---- the terminal (term.c) ---- */

/* Set by SIGINT once ui_catch_interrupt() ran: pass it as a cancel flag. */
extern volatile sig_atomic_t ui_interrupted;
/* Makes Ctrl-C set ui_interrupted instead of ending the process. */
void ui_catch_interrupt(void);
/* Makes a new window size (SIGWINCH) set *flag. */
void ui_catch_resize(volatile sig_atomic_t *flag);

/* Prints a JSON value to stdout, indented, with a newline; C1 controls,
 * bidirectional overrides and DEL in its strings as \u escapes. */
void ui_print_json(json_t *v);

/* The width of the terminal on fd in columns ($COLUMNS when fd is not a
 * terminal), or 0 when unknown. */
unsigned ui_term_columns(int fd);
/* How many columns s (UTF-8, sanitized) takes on a terminal: wide
 * characters two, combining ones none. */
size_t ui_text_columns(const char *s);
/* s cut to at most cols columns, not inside a character, ending in an
 * ellipsis ("…", or "..." when !utf8) when cut. A new string. */
char *ui_fit_columns(const char *s, size_t cols, bool utf8);
/* What a call's egress (an audit record's array) names, for a person: up to
 * three destinations, "refused" or "failed" after those that did not go
 * through (blocked_only: those alone), sanitized; "" for none. */
char *ui_egress_words(json_t *egress, bool blocked_only);

/* ---- did-you-mean (suggest.c) ---- */

/* The edit distance with transpositions; SIZE_MAX past 64 bytes. */
size_t ui_edit_distance(const char *a, const char *b);
/* The name nearest to word: one edit away (two for words of four bytes or
 * more, none for one byte), else the one name word begins; NULL when none
 * is near. */
const char *ui_nearest(const char *word, const char *const *names, size_t n);

#endif
