/*
 * The Anthropic planner: the messages API with tools.
 *
 * Request: {model, max_tokens, system, messages, tools}; assistant turns are
 * content blocks (text, tool_use{id,name,input}), and tool results go back
 * as a user message of tool_result{tool_use_id,content,is_error} blocks,
 * consecutive results (and a user's words after them) merged into one user
 * message, as the API wants roles to alternate. The reply's content[] blocks
 * and stop_reason are checked before they are believed.
 */
#include "agent/llm.h"

#include <errno.h>
#include <string.h>

#define ANTHROPIC_DEFAULT_URL "https://api.anthropic.com/v1"
#define ANTHROPIC_PATH        "/messages"
#define ANTHROPIC_VERSION     "2023-06-01"

static json_t *tool_json(const struct agent_tool *t)
{
        json_t *j = json_pack("{s:s}", "name", t->api_name);
        if (t->description)
                json_object_set_new(j, "description", json_string(t->description));
        json_object_set_new(j, "input_schema",
                            json_is_object(t->input_schema)
                                ? json_incref(t->input_schema)
                                : json_pack("{s:s,s:{}}", "type", "object", "properties"));
        return j;
}

static json_t *text_block(const char *text)
{
        return json_pack("{s:s,s:o}", "type", "text", "text", json_string(text));
}

/* Appends j (NULL when json_pack met a string that is not UTF-8); false on NULL. */
static bool add(json_t *blocks, json_t *j)
{
        return j && json_array_append_new(blocks, j) == 0;
}

/* The blocks of one message of the conversation; NULL with e set when one cannot be made. */
static json_t *blocks_of(const struct agent_msg *m, osvm_err *e)
{
        json_t *blocks = json_array();
        bool ok = true;
        switch (m->role) {
        case AGENT_USER:
                ok = add(blocks, text_block(m->text ? m->text : ""));
                break;
        case AGENT_ASSISTANT:
                if (m->text && *m->text)
                        ok = add(blocks, text_block(m->text));
                for (size_t k = 0; ok && k < m->ncalls; k++) {
                        const struct agent_call *call = &m->calls[k];
                        if (!call->tool || !call->id) {
                                json_decref(blocks);
                                err_set(e, EINVAL,
                                        "a tool call in the conversation has no tool or id");
                                return NULL;
                        }
                        json_t *input =
                            call->arguments ? json_incref(call->arguments) : json_object();
                        ok = add(blocks,
                                 json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", call->id,
                                           "name", call->tool->api_name, "input", input));
                }
                /* the API refuses an empty assistant turn */
                if (ok && json_array_size(blocks) == 0)
                        ok = add(blocks, text_block("(no answer)"));
                break;
        case AGENT_TOOL:
                ok = add(blocks,
                         json_pack("{s:s,s:s,s:o,s:b}", "type", "tool_result", "tool_use_id",
                                   m->call_id ? m->call_id : "", "content",
                                   json_string(m->text ? m->text : ""), "is_error", m->is_error));
                break;
        }
        if (!ok) {
                json_decref(blocks);
                err_set(e, EINVAL, "a message of the conversation is not valid UTF-8");
                return NULL;
        }
        return blocks;
}

static json_t *request_json(const struct llm_planner *lp, const struct agent_convo *c,
                            const struct agent_toolset *ts, osvm_err *e)
{
        json_t *msgs = json_array();
        const char *last_role = NULL;
        json_t *last = NULL; /* content of the last message, to merge into */
        for (size_t i = 0; c && i < c->n; i++) {
                const struct agent_msg *m = &c->v[i];
                const char *role = m->role == AGENT_ASSISTANT ? "assistant" : "user";
                json_t *blocks = blocks_of(m, e);
                if (!blocks) {
                        json_decref(msgs);
                        return NULL;
                }
                if (last_role && strcmp(last_role, role) == 0) {
                        json_array_extend(last, blocks);
                        json_decref(blocks);
                        continue;
                }
                json_array_append_new(msgs,
                                      json_pack("{s:s,s:o}", "role", role, "content", blocks));
                last = blocks;
                last_role = role;
        }
        json_t *req = json_pack("{s:s,s:i,s:s,s:o}", "model", lp->model, "max_tokens",
                                LLM_MAX_TOKENS, "system", llm_system_prompt, "messages", msgs);
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

int llm_anthropic_parse_reply(json_t *reply, const struct agent_toolset *ts, struct agent_step *out,
                              osvm_err *e)
{
        if (!json_is_object(reply))
                return err_set(e, EPROTO, "the reply is not a JSON object");
        json_t *content = json_object_get(reply, "content");
        if (!json_is_array(content))
                return err_set(e, EPROTO, "the reply has no content array");
        const char *stop = json_string_value(json_object_get(reply, "stop_reason"));
        size_t n = json_array_size(content), ncalls = 0;
        size_t i;
        json_t *b;
        json_array_foreach(content, i, b)
        {
                const char *type = json_string_value(json_object_get(b, "type"));
                if (type && strcmp(type, "tool_use") == 0)
                        ncalls++;
        }
        if (ncalls > LLM_MAX_CALLS)
                return err_set(e, EPROTO, "the reply asks for %zu tool calls (at most %d)", ncalls,
                               LLM_MAX_CALLS);
        if (ncalls)
                out->calls = xcalloc(ncalls, sizeof(*out->calls));
        strbuf text = {0};
        for (i = 0; i < n; i++) {
                b = json_array_get(content, i);
                const char *type = json_string_value(json_object_get(b, "type"));
                if (!json_is_object(b) || !type) {
                        sb_free(&text);
                        return err_set(e, EPROTO, "content[%zu] of the reply has no type", i);
                }
                if (strcmp(type, "text") == 0) {
                        json_t *t = json_object_get(b, "text");
                        if (!json_is_string(t)) {
                                sb_free(&text);
                                return err_set(e, EPROTO, "content[%zu]: a text block without text",
                                               i);
                        }
                        if (text.len && json_string_length(t))
                                sb_add(&text, "\n");
                        llm_add_text(&text, t);
                } else if (strcmp(type, "tool_use") == 0) {
                        const struct agent_tool *tool =
                            llm_resolve_tool(ts, json_object_get(b, "name"), e);
                        if (!tool || llm_check_call_id(json_object_get(b, "id"), e) < 0) {
                                sb_free(&text);
                                return -1;
                        }
                        json_t *input = json_object_get(b, "input");
                        if (input && !json_is_object(input)) {
                                sb_free(&text);
                                return err_set(e, EPROTO,
                                               "the input the model gave tool %s is not an object",
                                               tool->api_name);
                        }
                        struct agent_call *call = &out->calls[out->ncalls++];
                        call->id = xstrdup(json_string_value(json_object_get(b, "id")));
                        call->tool = tool;
                        call->arguments = input ? json_deep_copy(input) : json_object();
                }
                /* thinking and other blocks are not part of the answer */
        }
        out->text = text.s ? sb_steal(&text) : NULL;
        if (out->ncalls == 0 && (!out->text || !*out->text)) {
                char *s = llm_printable(stop ? stop : "none", 64);
                err_set(e, EPROTO,
                        "the model returned neither text nor tool calls "
                        "(stop_reason %s)",
                        s);
                free(s);
                return -1;
        }
        if (stop && strcmp(stop, "max_tokens") == 0)
                log_warn("anthropic: the answer was cut off at max_tokens");
        return 0;
}

static int anthropic_plan(struct agent_planner *p, const struct agent_convo *c,
                          const struct agent_toolset *ts, struct agent_step *out, osvm_err *e)
{
        struct llm_planner *lp = (struct llm_planner *)p;
        memset(out, 0, sizeof(*out));
        json_t *req = request_json(lp, c, ts, e);
        if (!req)
                return err_wrap(e, "anthropic");
        return llm_round(lp, req, llm_anthropic_parse_reply, ts, out, e);
}

static const struct agent_planner_ops anthropic_ops = {
    .name = "anthropic",
    .plan = anthropic_plan,
    .post = llm_post_body,
    .free = llm_planner_free,
};

struct agent_planner *agent_planner_anthropic(const struct agent_ai_config *c, osvm_err *e)
{
        struct llm_planner *lp = xmalloc(sizeof(*lp));
        if (llm_planner_init(lp, c, "anthropic", ANTHROPIC_DEFAULT_URL, ANTHROPIC_PATH, e) < 0) {
                llm_planner_fini(lp);
                free(lp);
                return NULL;
        }
        lp->p.ops = &anthropic_ops;
        lp->key_fmt = "x-api-key: %s";
        lp->extra_header = "anthropic-version: " ANTHROPIC_VERSION;
        return &lp->p;
}
