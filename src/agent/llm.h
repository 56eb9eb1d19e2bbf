/*
 * What the two LLM planners (openai.c, anthropic.c) share: one JSON POST with
 * a timeout, retries with backoff, bounded replies and cancellation
 * (llm_http.c), the planner's copy of the configuration, and the checks that
 * every field of a reply gets before it is believed.
 */
#ifndef OSVM_AGENT_LLM_H
#define OSVM_AGENT_LLM_H

#include "agent/agent.h"

#define LLM_DEFAULT_TIMEOUT_MS    60000
#define LLM_DEFAULT_RETRY_BASE_MS 500   /* first wait after a 429 or 5xx; OSVM_AI_RETRY_BASE_MS */
#define LLM_MAX_RETRY_WAIT_MS     30000 /* cap on a backoff step and on Retry-After */
#define LLM_MAX_REPLY_BYTES       (8u << 20)
#define LLM_MAX_CALLS             64  /* tool calls in one reply */
#define LLM_MAX_CALL_ID           256 /* bytes of a call id */
#define LLM_MAX_TOKENS            4096

/* One request: url is the full endpoint; headers are "Name: value" lines. */
struct llm_request {
        const char *url;
        const char *const *headers; /* NULL-terminated; may be NULL */
        const char *body;           /* JSON */
        uint32_t timeout_ms;        /* per attempt */
        unsigned max_retries;       /* on 429 and 5xx */
        unsigned retry_base_ms;     /* doubled on each retry */
        volatile sig_atomic_t *cancel;
        bool keyless; /* no API key was configured: a 401 says so */
};

/*
 * POSTs the body and parses the 2xx reply as JSON. Retries 429 and 5xx with
 * exponential backoff (Retry-After honoured up to LLM_MAX_RETRY_WAIT_MS).
 * Fails with a message that names the cause: the key refused (401/403), the
 * endpoint unreachable, the timeout, the status, a reply too large or not
 * JSON, cancellation (e->exit OSVM_EXIT_INTERRUPTED). *attempts, when not
 * NULL, receives the number of requests sent.
 */
int llm_post_json(const struct llm_request *r, json_t **reply, unsigned *attempts, osvm_err *e);

/* The planner state both APIs use. */
struct llm_planner {
        struct agent_planner p;
        char *endpoint; /* base URL + the API's path */
        char *model, *key;
        const char *key_fmt;      /* how the key is sent: "Authorization: Bearer %s" */
        const char *extra_header; /* one more header the API wants, or NULL */
        uint32_t timeout_ms;
        unsigned max_retries, retry_base_ms;
};

/* Fills lp from the configuration (the endpoint is url, or def_url, + path). */
int llm_planner_init(struct llm_planner *lp, const struct agent_ai_config *c, const char *what,
                     const char *def_url, const char *path, osvm_err *e);
void llm_planner_fini(struct llm_planner *lp);
/* The planner_ops free of both APIs. */
void llm_planner_free(struct agent_planner *p);

/* How one API reads its reply into a step. */
typedef int (*llm_parse_fn)(json_t *reply, const struct agent_toolset *ts, struct agent_step *out,
                            osvm_err *e);

/*
 * How each API's reply is read (openai.c: a chat completion; anthropic.c: a
 * message): out (zeroed by the caller) gets the text and the tool calls, each
 * naming a tool of ts with a JSON object of arguments; -1 with e naming what
 * was wrong, and what out holds then is freed with llm_step_clear.
 */
int llm_openai_parse_reply(json_t *reply, const struct agent_toolset *ts, struct agent_step *out,
                           osvm_err *e);
int llm_anthropic_parse_reply(json_t *reply, const struct agent_toolset *ts, struct agent_step *out,
                              osvm_err *e);

/* The planner_ops post of both APIs: the body to the endpoint, with the key. */
int llm_post_body(struct agent_planner *p, const char *body, json_t **reply, osvm_err *e);

/*
 * One round of either API: posts req (stolen) with llm_post_body and reads
 * the reply with parse. Errors begin with the API's name.
 */
int llm_round(struct llm_planner *lp, json_t *req, llm_parse_fn parse,
              const struct agent_toolset *ts, struct agent_step *out, osvm_err *e);

/* The system prompt both planners send. */
extern const char llm_system_prompt[];

/* ---- reply checking ---- */

/* Appends the text of a JSON string whole, each NUL byte it holds as U+FFFD. */
void llm_add_text(strbuf *b, json_t *s);
/* A copy of s with control and non-ASCII bytes replaced, cut at max bytes: for messages. */
char *llm_printable(const char *s, size_t max);
/* The tool an API name in a reply names; NULL with e set naming it when unknown. */
const struct agent_tool *llm_resolve_tool(const struct agent_toolset *ts, json_t *name,
                                          osvm_err *e);
/* Checks a call id from a reply: a non-empty string of printable ASCII, bounded. */
int llm_check_call_id(json_t *id, osvm_err *e);
/* Frees what a step holds (the planners' own cleanup on failure). */
void llm_step_clear(struct agent_step *s);

#endif
