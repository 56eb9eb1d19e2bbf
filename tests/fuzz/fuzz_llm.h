/*
 * What the two LLM reply targets share (fuzz_agent_llm_openai.c,
 * fuzz_agent_llm_anthropic.c): a small tool set, the reply read from the
 * input as llm_post_json reads a 2xx body, and the checks every parsed step
 * must pass.
 */
#ifndef OSVM_FUZZ_LLM_H
#define OSVM_FUZZ_LLM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* everything__echo, everything__add and fs__read_file, made once */
static const struct agent_toolset *fuzz_llm_tools(void)
{
        static struct agent_toolset ts;
        if (ts.n)
                return &ts;
        log_set_level(LOG_ERROR);
        json_t *ev = json_loads(
            "[{\"name\":\"echo\",\"description\":\"Echoes back the input string\","
            "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"message\":{\"type\":"
            "\"string\"}},\"required\":[\"message\"]}},"
            "{\"name\":\"add\",\"description\":\"Adds two numbers\",\"inputSchema\":{\"type\":"
            "\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}},"
            "\"required\":[\"a\",\"b\"]}}]",
            0, NULL);
        json_t *fs = json_loads("[{\"name\":\"read_file\",\"inputSchema\":{\"type\":\"object\","
                                "\"properties\":{\"path\":{\"type\":\"string\"}}}}]",
                                0, NULL);
        agent_toolset_add(&ts, "everything", ev);
        agent_toolset_add(&ts, "fs", fs);
        json_decref(ev);
        json_decref(fs);
        if (ts.n != 3)
                abort();
        return &ts;
}

/*
 * Parses the input as a reply body and reads it with parse. A step read
 * has text or calls; each call names a tool of the set, has an id of
 * printable ASCII within its bound, and a JSON object of arguments; text
 * holds no NUL byte. A refused reply says why.
 */
static void fuzz_llm_reply(const uint8_t *data, size_t size, llm_parse_fn parse)
{
        const struct agent_toolset *ts = fuzz_llm_tools();
        json_error_t je;
        json_t *reply = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &je);
        if (!reply)
                return;
        struct agent_step out;
        memset(&out, 0, sizeof(out));
        osvm_err e = {0};
        if (parse(reply, ts, &out, &e) < 0) {
                if (!e.msg[0])
                        abort(); /* a refusal names its cause */
                llm_step_clear(&out);
                json_decref(reply);
                return;
        }
        if (out.ncalls == 0 && (!out.text || !*out.text))
                abort(); /* neither text nor calls is refused */
        if (out.ncalls > LLM_MAX_CALLS || (out.ncalls && !out.calls))
                abort();
        for (size_t i = 0; i < out.ncalls; i++) {
                const struct agent_call *c = &out.calls[i];
                if (!c->tool || c->tool < ts->v || c->tool >= ts->v + ts->n)
                        abort(); /* a tool of the set */
                if (!c->tool->api_name[0])
                        abort();
                if (!json_is_object(c->arguments))
                        abort(); /* arguments are an object */
                size_t n = c->id ? strlen(c->id) : 0;
                if (n == 0 || n > LLM_MAX_CALL_ID)
                        abort();
                for (size_t k = 0; k < n; k++)
                        if ((unsigned char)c->id[k] < 0x21 || (unsigned char)c->id[k] >= 0x7f)
                                abort(); /* an id is printable ASCII */
                char *dump = json_dumps(c->arguments, JSON_COMPACT);
                if (!dump)
                        abort(); /* and the arguments can be sent on */
                free(dump);
        }
        llm_step_clear(&out);
        json_decref(reply);
}

#endif
