/*
 * The OpenAI-compatible planner: chat completions with tools (OpenAI,
 * Ollama's /v1, vLLM, llama.cpp server).
 *
 * Request: {model, messages, tools}; the system prompt is the first message,
 * assistant turns carry tool_calls whose arguments are a JSON string, and
 * each result goes back as {role:"tool", tool_call_id, content}. The reply's
 * choices[0].message holds content and/or tool_calls; every field is
 * checked before it is believed.
 */
#include "agent/llm.h"

#include <errno.h>
#include <string.h>

#define OPENAI_DEFAULT_URL "https://api.openai.com/v1"
#define OPENAI_PATH        "/chat/completions"

static json_t *tool_json(const struct agent_tool *t)
{
        json_t *fn = json_pack("{s:s}", "name", t->api_name);
        if (t->description)
                json_object_set_new(fn, "description", json_string(t->description));
        json_object_set_new(fn, "parameters",
                            json_is_object(t->input_schema)
                                ? json_incref(t->input_schema)
                                : json_pack("{s:s,s:{}}", "type", "object", "properties"));
        return json_pack("{s:s,s:o}", "type", "function", "function", fn);
}

static int call_json(const struct agent_call *call, json_t **out, osvm_err *e)
{
        if (!call->tool || !call->id)
                return err_set(e, EINVAL, "a tool call in the conversation has no tool or id");
        char *args = call->arguments ? json_dumps(call->arguments, JSON_COMPACT) : NULL;
        *out = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", call->id, "type", "function", "function",
                         "name", call->tool->api_name, "arguments", args ? args : "{}");
        free(args);
        if (!*out)
                return err_set(e, EINVAL, "a tool call in the conversation is not valid UTF-8");
        return 0;
}

/* The content of a tool message: the result's text, marked when the call failed. */
static json_t *tool_content(const struct agent_msg *m)
{
        const char *t = m->text ? m->text : "";
        if (!m->is_error)
                return json_string(t);
        char *s = xasprintf("ERROR: %s", t);
        json_t *j = json_string(s);
        free(s);
        return j;
}

static json_t *request_json(const struct llm_planner *lp, const struct agent_convo *c,
                            const struct agent_toolset *ts, osvm_err *e)
{
        json_t *msgs = json_array();
        json_array_append_new(
            msgs, json_pack("{s:s,s:s}", "role", "system", "content", llm_system_prompt));
        for (size_t i = 0; c && i < c->n; i++) {
                const struct agent_msg *m = &c->v[i];
                json_t *j = NULL;
                switch (m->role) {
                case AGENT_USER:
                        j = json_pack("{s:s,s:o}", "role", "user", "content",
                                      json_string(m->text ? m->text : ""));
                        break;
                case AGENT_ASSISTANT:
                        j = json_pack("{s:s,s:o}", "role", "assistant", "content",
                                      m->text ? json_string(m->text) : json_null());
                        if (j && m->ncalls) {
                                json_t *calls = json_array();
                                for (size_t k = 0; k < m->ncalls; k++) {
                                        json_t *cj;
                                        if (call_json(&m->calls[k], &cj, e) < 0) {
                                                json_decref(calls);
                                                json_decref(j);
                                                json_decref(msgs);
                                                return NULL;
                                        }
                                        json_array_append_new(calls, cj);
                                }
                                json_object_set_new(j, "tool_calls", calls);
                        }
                        break;
                case AGENT_TOOL:
                        j = json_pack("{s:s,s:s,s:o}", "role", "tool", "tool_call_id",
                                      m->call_id ? m->call_id : "", "content", tool_content(m));
                        break;
                }
                if (!j) {
                        json_decref(msgs);
                        err_set(e, EINVAL, "message %zu of the conversation is not valid UTF-8",
                                i + 1);
                        return NULL;
                }
                json_array_append_new(msgs, j);
        }
        json_t *req = json_pack("{s:s,s:o}", "model", lp->model, "messages", msgs);
        if (!req) {
                err_set(e, EINVAL, "the model name is not valid UTF-8");
                return NULL;
        }
        if (ts && ts->n) {
                json_t *tools = json_array();
                for (size_t i = 0; i < ts->n; i++)
                        json_array_append_new(tools, tool_json(&ts->v[i]));
                json_object_set_new(req, "tools", tools);
        }
        return req;
}

/* content: a string, null, or (some servers) an array of {type:"text",text} parts. */
static int content_text(json_t *content, char **out, osvm_err *e)
{
        *out = NULL;
        if (!content || json_is_null(content))
                return 0;
        if (json_is_string(content)) {
                strbuf b = {0};
                llm_add_text(&b, content);
                *out = sb_steal(&b);
                return 0;
        }
        if (!json_is_array(content))
                return err_set(e, EPROTO, "message.content is neither text nor null");
        strbuf b = {0};
        size_t i;
        json_t *part;
        json_array_foreach(content, i, part)
        {
                json_t *t = json_object_get(part, "text");
                if (json_is_string(t))
                        llm_add_text(&b, t);
        }
        *out = b.s ? sb_steal(&b) : NULL;
        return 0;
}

static int parse_call(json_t *tc, const struct agent_toolset *ts, struct agent_call *call,
                      osvm_err *e)
{
        json_t *fn = json_object_get(tc, "function");
        if (!json_is_object(tc) || !json_is_object(fn))
                return err_set(e, EPROTO, "a tool call in the reply has no function object");
        const struct agent_tool *tool = llm_resolve_tool(ts, json_object_get(fn, "name"), e);
        if (!tool)
                return -1;
        if (llm_check_call_id(json_object_get(tc, "id"), e) < 0)
                return err_wrap(e, "tool %s", tool->api_name);
        json_t *args = json_object_get(fn, "arguments"), *parsed = NULL;
        if (json_is_string(args)) {
                const char *s = json_string_value(args);
                size_t n = json_string_length(args);
                while (n && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
                        s++, n--;
                if (n == 0) {
                        parsed = json_object();
                } else {
                        json_error_t je;
                        parsed = json_loadb(s, n, JSON_ALLOW_NUL, &je);
                        if (!parsed)
                                return err_set(e, EPROTO,
                                               "the arguments the model gave tool %s are not "
                                               "valid JSON: %s",
                                               tool->api_name, je.text);
                }
        } else if (json_is_object(args)) {
                parsed = json_incref(args); /* some servers send the object itself */
        } else if (!args || json_is_null(args)) {
                parsed = json_object();
        } else {
                return err_set(e, EPROTO,
                               "the arguments the model gave tool %s are neither a JSON string "
                               "nor an object",
                               tool->api_name);
        }
        if (!json_is_object(parsed)) {
                json_decref(parsed);
                return err_set(e, EPROTO, "the arguments the model gave tool %s are not an object",
                               tool->api_name);
        }
        call->id = xstrdup(json_string_value(json_object_get(tc, "id")));
        call->tool = tool;
        call->arguments = parsed;
        return 0;
}

int llm_openai_parse_reply(json_t *reply, const struct agent_toolset *ts, struct agent_step *out,
                           osvm_err *e)
{
        json_t *choices = json_object_get(reply, "choices");
        if (!json_is_array(choices) || json_array_size(choices) == 0)
                return err_set(e, EPROTO, "the reply has no choices");
        json_t *choice = json_array_get(choices, 0);
        json_t *msg = json_object_get(choice, "message");
        if (!json_is_object(msg))
                return err_set(e, EPROTO, "the reply's choices[0] has no message object");
        const char *finish = json_string_value(json_object_get(choice, "finish_reason"));

        if (content_text(json_object_get(msg, "content"), &out->text, e) < 0)
                return -1;
        json_t *tcs = json_object_get(msg, "tool_calls");
        if (tcs && !json_is_null(tcs)) {
                if (!json_is_array(tcs))
                        return err_set(e, EPROTO, "message.tool_calls is not an array");
                size_t n = json_array_size(tcs);
                if (n > LLM_MAX_CALLS)
                        return err_set(e, EPROTO, "the reply asks for %zu tool calls (at most %d)",
                                       n, LLM_MAX_CALLS);
                if (n) {
                        out->calls = xcalloc(n, sizeof(*out->calls));
                        for (size_t i = 0; i < n; i++) {
                                if (parse_call(json_array_get(tcs, i), ts, &out->calls[i], e) < 0)
                                        return -1;
                                out->ncalls++;
                        }
                }
        }
        if (out->ncalls == 0 && (!out->text || !*out->text)) {
                char *f = llm_printable(finish ? finish : "none", 64);
                err_set(e, EPROTO,
                        "the model returned neither text nor tool calls "
                        "(finish_reason %s)",
                        f);
                free(f);
                return -1;
        }
        if (finish && strcmp(finish, "length") == 0)
                log_warn("openai: the answer was cut off at the model's token limit");
        return 0;
}

static int openai_plan(struct agent_planner *p, const struct agent_convo *c,
                       const struct agent_toolset *ts, struct agent_step *out, osvm_err *e)
{
        struct llm_planner *lp = (struct llm_planner *)p;
        memset(out, 0, sizeof(*out));
        json_t *req = request_json(lp, c, ts, e);
        if (!req)
                return err_wrap(e, "openai");
        return llm_round(lp, req, llm_openai_parse_reply, ts, out, e);
}

static const struct agent_planner_ops openai_ops = {
    .name = "openai",
    .plan = openai_plan,
    .post = llm_post_body,
    .free = llm_planner_free,
};

struct agent_planner *agent_planner_openai(const struct agent_ai_config *c, osvm_err *e)
{
        struct llm_planner *lp = xmalloc(sizeof(*lp));
        if (llm_planner_init(lp, c, "openai", OPENAI_DEFAULT_URL, OPENAI_PATH, e) < 0) {
                llm_planner_fini(lp);
                free(lp);
                return NULL;
        }
        lp->p.ops = &openai_ops;
        lp->key_fmt = "Authorization: Bearer %s";
        return &lp->p;
}
