/*
 * The offline planner's argument extraction (src/agent/extract.c) and the
 * planner around it (src/agent/offline.c): a request text against a tool's
 * input schema, both of which come from elsewhere (the user, an MCP server).
 *
 * Input: a selector byte (the fill options), a tool's input schema (JSON)
 * up to the first NUL byte, then the request text. Checked beyond "no
 * crash, no leak": every argument extracted for a property has the JSON
 * type the property's schema gives (one of them, when "type" is a list;
 * an array's items the type "items" gives), and a tool call the planner
 * makes has every required argument.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/offline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does v have the JSON type named t? */
static bool type_is(const char *t, const json_t *v)
{
        if (!strcmp(t, "string"))
                return json_is_string(v);
        if (!strcmp(t, "number"))
                return json_is_number(v);
        if (!strcmp(t, "integer"))
                return json_is_integer(v);
        if (!strcmp(t, "boolean"))
                return json_is_boolean(v);
        if (!strcmp(t, "array"))
                return json_is_array(v);
        if (!strcmp(t, "object"))
                return json_is_object(v);
        if (!strcmp(t, "null"))
                return json_is_null(v);
        return true; /* a type the extractor does not know: anything */
}

/* Does v fit the types the property schema ps gives? */
static bool fits(const json_t *ps, const json_t *v)
{
        const json_t *t = json_object_get(ps, "type");
        bool ok = true;
        if (json_is_string(t)) {
                ok = type_is(json_string_value(t), v);
        } else if (json_is_array(t) && json_array_size(t)) {
                size_t i;
                const json_t *x;
                ok = false;
                json_array_foreach(t, i, x)
                {
                        ok |= !json_is_string(x) || type_is(json_string_value(x), v);
                }
        }
        if (!ok)
                return false;
        if (json_is_array(v) && json_is_object(json_object_get(ps, "items"))) {
                size_t i;
                const json_t *x;
                json_array_foreach(v, i, x)
                {
                        if (!fits(json_object_get(ps, "items"), x))
                                return false;
                }
        }
        return true;
}

static void check_args(const json_t *schema, const json_t *args)
{
        const json_t *props = json_object_get(schema, "properties");
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)args, key, v)
        {
                const json_t *ps = json_object_get(props, key);
                if (!ps)
                        abort();    /* only the schema's properties are filled */
                if (!fits(ps, v)) { /* with a value of the property's type */
                        char *sv = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                        char *sp = json_dumps(ps, JSON_COMPACT);
                        fprintf(stderr, "property %s (%s) got %s\n", key, sp, sv);
                        abort();
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        log_set_level(LOG_ERROR);
        const char *s = (const char *)data + 1;
        size_t n = size - 1;
        const char *nul = memchr(s, '\0', n);
        size_t slen = nul ? (size_t)(nul - s) : n;
        json_t *schema = json_loadb(s, slen, 0, NULL);
        if (!json_is_object(schema)) {
                json_decref(schema);
                return 0;
        }
        size_t rlen = nul ? n - slen - 1 : 0;
        char *request = malloc(rlen + 1);
        memcpy(request, nul ? nul + 1 : "", rlen);
        request[rlen] = '\0';

        /* the extraction alone, with the options the selector gives */
        struct off_req r;
        off_req_parse(&r, request);
        for (size_t i = 0; i < r.n; i++)
                if (r.v[i].start > r.v[i].end || r.v[i].end > strlen(request) ||
                    (i && r.v[i].start < r.v[i - 1].end))
                        abort(); /* tokens in order, within the request */
        struct off_fill f = {.rest_from = data[0] & 8 ? SIZE_MAX : data[0] & 7,
                             .whole_answer = data[0] & 16};
        json_t *args = json_object();
        off_extract(&r, schema, args, &f);
        check_args(schema, args);
        json_t *missing = off_missing(schema, args);
        json_decref(missing);
        json_decref(args);
        off_req_free(&r);

        /* the planner, with this tool as the only one */
        const char *title = json_string_value(json_object_get(schema, "title"));
        json_t *tools = json_pack("[{s:s, s:O}]", "name", title && *title ? title : "run",
                                  "inputSchema", schema);
        struct agent_toolset ts = {0};
        if (tools)
                agent_toolset_add(&ts, "srv", tools);
        json_decref(tools);
        struct agent_convo c = {0};
        agent_convo_add_user(&c, request);
        struct agent_planner *p = agent_planner_offline();
        struct agent_step step = {0};
        osvm_err e = {0};
        if (p->ops->plan(p, &c, &ts, &step, &e) == 0) {
                for (size_t i = 0; i < step.ncalls; i++) {
                        const struct agent_call *call = &step.calls[i];
                        if (!call->tool || !json_is_object(call->arguments))
                                abort();
                        check_args(call->tool->input_schema, call->arguments);
                        json_t *m = off_missing(call->tool->input_schema, call->arguments);
                        if (json_array_size(m))
                                abort(); /* a call has every required argument */
                        json_decref(m);
                }
        }
        agent_step_free(&step);
        p->ops->free(p);
        agent_convo_free(&c);
        agent_toolset_free(&ts);
        json_decref(schema);
        free(request);
        return 0;
}
