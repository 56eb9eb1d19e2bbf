/*
 * The tools as planners see them, with names the LLM APIs accept, and the
 * conversation and step values shared by the planners.
 */
#include "agent/agent.h"

#include <ctype.h>
#include <string.h>

/* FNV-1a, for short stable suffixes. */
static uint32_t fnv1a(const char *a, const char *b)
{
        uint32_t h = 2166136261u;
        for (const char *s = a; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        h = (h ^ '/') * 16777619u;
        for (const char *s = b; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h;
}

static bool api_char(char c)
{
        return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static bool api_taken(const struct agent_toolset *ts, const char *name)
{
        return agent_toolset_find_api(ts, name) != NULL;
}

/* SERVER__TOOL mapped onto ^[a-zA-Z0-9_-]{1,64}$, unique within ts. */
static void api_name(const struct agent_toolset *ts, const char *server, const char *tool,
                     char out[AGENT_API_NAME_MAX])
{
        char full[512];
        snprintf(full, sizeof(full), "%s__%s", server, tool);
        for (char *p = full; *p; p++)
                if (!api_char(*p))
                        *p = '_';
        size_t len = strlen(full);
        if (len < AGENT_API_NAME_MAX && !api_taken(ts, full)) {
                memcpy(out, full, len + 1);
                return;
        }
        /* Too long or taken: keep a prefix and add a hash of the real names. */
        uint32_t h = fnv1a(server, tool);
        for (unsigned salt = 0;; salt++) {
                snprintf(out, AGENT_API_NAME_MAX, "%.55s_%08x", full, h + salt);
                if (!api_taken(ts, out))
                        return;
        }
}

void agent_toolset_add(struct agent_toolset *ts, const char *server, json_t *tools)
{
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
                const char *name = json_string_value(json_object_get(t, "name"));
                if (!name || !*name)
                        continue;
                json_t *schema = json_object_get(t, "inputSchema");
                const char *desc = json_string_value(json_object_get(t, "description"));
                ts->v = xrealloc(ts->v, (ts->n + 1) * sizeof(*ts->v));
                struct agent_tool *at = &ts->v[ts->n];
                *at = (struct agent_tool){
                    .server = xstrdup(server),
                    .name = xstrdup(name),
                    .description = desc ? xstrdup(desc) : NULL,
                    .input_schema = json_is_object(schema)
                                        ? json_deep_copy(schema)
                                        : json_pack("{s:s, s:{}}", "type", "object", "properties"),
                };
                api_name(ts, server, name, at->api_name);
                ts->n++;
        }
}

const struct agent_tool *agent_toolset_find_api(const struct agent_toolset *ts, const char *api)
{
        for (size_t i = 0; i < ts->n; i++)
                if (strcmp(ts->v[i].api_name, api) == 0)
                        return &ts->v[i];
        return NULL;
}

const struct agent_tool *agent_toolset_find(const struct agent_toolset *ts, const char *server,
                                            const char *name)
{
        for (size_t i = 0; i < ts->n; i++)
                if (strcmp(ts->v[i].server, server) == 0 && strcmp(ts->v[i].name, name) == 0)
                        return &ts->v[i];
        return NULL;
}

void agent_toolset_free(struct agent_toolset *ts)
{
        for (size_t i = 0; i < ts->n; i++) {
                free(ts->v[i].server);
                free(ts->v[i].name);
                free(ts->v[i].description);
                json_decref(ts->v[i].input_schema);
        }
        free(ts->v);
        memset(ts, 0, sizeof(*ts));
}

/* ---- conversation and steps ---- */

static void free_calls(struct agent_call *calls, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(calls[i].id);
                json_decref(calls[i].arguments);
        }
        free(calls);
}

void agent_convo_add_user(struct agent_convo *c, const char *text)
{
        c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
        c->v[c->n++] = (struct agent_msg){.role = AGENT_USER, .text = xstrdup(text)};
}

static struct agent_msg *convo_push(struct agent_convo *c, enum agent_role role)
{
        c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
        struct agent_msg *m = &c->v[c->n++];
        *m = (struct agent_msg){.role = role};
        return m;
}

void agent_convo_add_assistant(struct agent_convo *c, struct agent_step *s)
{
        struct agent_msg *m = convo_push(c, AGENT_ASSISTANT);
        m->text = s->text;
        m->ncalls = s->ncalls;
        m->calls = s->calls;
        *s = (struct agent_step){0};
}

void agent_convo_add_tool(struct agent_convo *c, const char *call_id, const char *text,
                          bool is_error)
{
        struct agent_msg *m = convo_push(c, AGENT_TOOL);
        m->text = xstrdup(text);
        m->call_id = xstrdup(call_id);
        m->is_error = is_error;
}

void agent_convo_free(struct agent_convo *c)
{
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].text);
                free(c->v[i].call_id);
                free_calls(c->v[i].calls, c->v[i].ncalls);
        }
        free(c->v);
        memset(c, 0, sizeof(*c));
}

void agent_step_free(struct agent_step *s)
{
        free(s->text);
        free_calls(s->calls, s->ncalls);
        memset(s, 0, sizeof(*s));
}
