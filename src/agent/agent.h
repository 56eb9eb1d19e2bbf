/*
 * agent: prompt -> planner -> tool calls routed through the isolation
 * policy -> answer.
 *
 * A planner sees the conversation and the tools and decides, round by round,
 * which tools to call or what to answer. Planners: OpenAI-compatible chat
 * completions, Anthropic messages, and the offline planner (the built-in
 * default when no endpoint is configured).
 */
#ifndef OSVM_AGENT_H
#define OSVM_AGENT_H

#include "mcp/mcp.h"

/* ---- tools as the planners see them ---- */

/* Function names the LLM APIs accept: ^[a-zA-Z0-9_-]{1,64}$ plus a NUL. */
#define AGENT_API_NAME_MAX 65

struct agent_tool {
        char *server, *name;               /* the MCP names */
        char *description;                 /* may be NULL */
        json_t *input_schema;              /* an object; owned */
        char api_name[AGENT_API_NAME_MAX]; /* unique within the toolset */
};

struct agent_toolset {
        size_t n;
        struct agent_tool *v;
};

/*
 * Adds a server's tools (a tools/list array) to the set, giving each an API
 * name: SERVER__TOOL with every other character mapped to '_', shortened
 * with a hash suffix when too long or already taken, so that the mapping is
 * reversible through the set.
 */
void agent_toolset_add(struct agent_toolset *ts, const char *server, json_t *tools);
const struct agent_tool *agent_toolset_find_api(const struct agent_toolset *ts, const char *api);
const struct agent_tool *agent_toolset_find(const struct agent_toolset *ts, const char *server,
                                            const char *name);
void agent_toolset_free(struct agent_toolset *ts);

/* ---- the conversation, in a form each planner maps onto its API ---- */

struct agent_step;

struct agent_call {
        char *id; /* the planner's id for the call ("call_1", "toolu_...") */
        const struct agent_tool *tool;
        json_t *arguments; /* an object; owned */
};

enum agent_role { AGENT_USER, AGENT_ASSISTANT, AGENT_TOOL };

struct agent_msg {
        enum agent_role role;
        char *text;    /* user or assistant text; a tool result as text */
        size_t ncalls; /* assistant: the tool calls it made */
        struct agent_call *calls;
        char *call_id; /* tool: the call this answers */
        bool is_error; /* tool: the call failed or returned isError */
};

struct agent_convo {
        size_t n;
        struct agent_msg *v;
};

void agent_convo_add_user(struct agent_convo *c, const char *text);
/* The assistant's turn: the step's text and calls move into the conversation
 * (the step is left empty). */
void agent_convo_add_assistant(struct agent_convo *c, struct agent_step *s);
/* A tool result answering call_id (text is copied). */
void agent_convo_add_tool(struct agent_convo *c, const char *call_id, const char *text,
                          bool is_error);
void agent_convo_free(struct agent_convo *c);

/* What a planner decided in one round. */
struct agent_step {
        char *text;    /* the answer, or words said with the calls; may be NULL */
        size_t ncalls; /* 0: text is the final answer */
        struct agent_call *calls;
        bool needs_input; /* the answer is a question: arguments are missing */
};

void agent_step_free(struct agent_step *s);

/* ---- planners ---- */

struct agent_planner;

struct agent_planner_ops {
        const char *name; /* "openai", "anthropic", "offline" */
        /* Decides the next step; -1 with e set when the planner failed (e.g. HTTP 401). */
        int (*plan)(struct agent_planner *p, const struct agent_convo *c,
                    const struct agent_toolset *ts, struct agent_step *out, osvm_err *e);
        /*
         * The LLM planners: sends one request body to the endpoint the way
         * plan does (the key added, retries, bounds) and parses the reply.
         * The supervisor serves μVM-1's planner with it. NULL: no endpoint.
         */
        int (*post)(struct agent_planner *p, const char *body, json_t **reply, osvm_err *e);
        void (*free)(struct agent_planner *p);
};

struct agent_planner {
        const struct agent_planner_ops *ops;
        volatile sig_atomic_t *cancel; /* set by the agent: ends a request early */
};

/* Where the LLM is: OSVM_AI_URL, OSVM_AI_MODEL, OSVM_AI_KEY (or OPENAI_API_KEY /
 * ANTHROPIC_API_KEY), else ai.json beside the isolation config. */
struct agent_ai_config {
        char *provider; /* "openai" or "anthropic"; NULL: offline */
        char *url;      /* base URL, e.g. https://api.openai.com/v1 */
        char *model;
        char *key;            /* may be NULL (local servers) */
        uint32_t timeout_ms;  /* per request (default 60000) */
        unsigned max_retries; /* on 429 and 5xx (default 3) */
        unsigned max_rounds;  /* tool rounds per prompt (default 8) */
        char *source;         /* where it came from, for messages */
};

int agent_ai_config_load(struct agent_ai_config *c, osvm_err *e);
/* Where ai.json is (a new string). */
char *agent_ai_config_path(void);
void agent_ai_config_free(struct agent_ai_config *c);

struct agent_planner *agent_planner_openai(const struct agent_ai_config *c, osvm_err *e);
struct agent_planner *agent_planner_anthropic(const struct agent_ai_config *c, osvm_err *e);
struct agent_planner *agent_planner_offline(void);
/* The planner the configuration asks for (offline when none is configured). */
struct agent_planner *agent_planner_new(const struct agent_ai_config *c, osvm_err *e);

/* ---- the agent ---- */

struct agent;

/* Callbacks for a user interface; any may be NULL. */
struct agent_ui {
        void *ctx;
        void (*tool_start)(void *ctx, const struct agent_call *call, const struct iso_decision *d);
        /* egress: what the call reached out to (its audit record's array),
         * NULL where osvm could not see it */
        void (*tool_end)(void *ctx, const struct agent_call *call, json_t *result, bool ok,
                         double ms, json_t *egress);
        mcp_progress_fn progress;
};

/*
 * Where the agent's tool calls go: the hub on the host (agent_hub_runner),
 * or the supervisor when the agent runs inside μVM-1 (microvm/microvm.h).
 * Either way the decision is the host's: the agent only names the tool.
 */
struct agent_runner_ops {
        /* Where SERVER/TOOL would run and why, for the UI and the trace. */
        void (*decide)(void *ctx, const char *server, const char *tool, struct iso_decision *d);
        /* Runs the call; the CallToolResult, or NULL with e set when it failed. */
        json_t *(*run)(void *ctx, const struct iso_decision *d, json_t *arguments,
                       const struct mcp_call_opts *o, osvm_err *e);
};

struct agent_runner {
        const struct agent_runner_ops *ops;
        void *ctx;
};

/* Tool calls through the hub: mcp_hub_decide and mcp_hub_run. */
struct agent_runner agent_hub_runner(struct mcp_hub *hub);
/* The tools of the registry's enabled servers, as the hub lists them; a
 * server whose tools cannot be listed is left out with a warning. */
void agent_toolset_from_hub(struct agent_toolset *ts, struct mcp_hub *hub,
                            const struct mcp_registry *reg);

/* The agent over a runner and a toolset (moved into the agent, left empty)
 * with a planner, which it owns. */
struct agent *agent_new(const struct agent_runner *runner, struct agent_toolset *ts,
                        struct agent_planner *planner, unsigned max_rounds);
/*
 * Answers one prompt, continuing the conversation. Returns 0 with the answer
 * (free it), 1 when the answer is a question because a tool's required
 * arguments are missing (the next prompt may supply them), or -1 with e set. trace, when not NULL,
 * receives the whole turn as JSON: planner, each round's calls with server, tool, arguments, mode,
 * reasons, duration and result, and the answer. cancel ends the running
 * tool call (the turn then ends with an error that says so).
 */
int agent_ask(struct agent *a, const char *prompt, const struct agent_ui *ui,
              volatile sig_atomic_t *cancel, char **answer, json_t **trace, osvm_err *e);
/*
 * What a turn's tool calls mean for one-shot mode's exit code, from its
 * trace: each call has an "outcome" (ok, error: the tool reported one,
 * failed, refused: by the policy, cancelled), and "unrecovered_calls" lists
 * the tools whose last call in the turn did not succeed: a failure that a
 * later call of the same tool made good does not count. Returns
 * OSVM_EXIT_DENIED when one of them was refused, else OSVM_EXIT_FAILURE
 * when there is one, else 0 (docs/exit-codes.md).
 */
int agent_calls_exit(json_t *trace);
const struct agent_toolset *agent_tools(const struct agent *a);
/* Replaces the agent's tools (moved in, ts left empty), as after a server's
 * tools/list_changed; the conversation so far keeps its references. */
void agent_set_tools(struct agent *a, struct agent_toolset *ts);
const char *agent_planner_name(const struct agent *a);
void agent_free(struct agent *a);

#endif
