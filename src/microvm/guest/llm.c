/*
 * The LLM inside μVM-1: the agent has no network and no key, so the one
 * POST of agent/llm.h is a host call. The supervisor sends the body to the
 * endpoint it was configured with, adds the key, retries, and returns the
 * parsed reply; the url and headers the planner put in the request are not
 * sent (they hold no key here anyway).
 */
#include "agent/llm.h"
#include "microvm/guest/guest.h"

#include <errno.h>

int llm_post_json(const struct llm_request *r, json_t **reply, unsigned *attempts, osvm_err *e)
{
        if (attempts)
                *attempts = 1;
        json_t *ans =
            guest_call(json_pack("{s:s, s:s}", "op", "llm", "body", r->body), NULL, NULL, e);
        if (!ans)
                return -1;
        *reply = json_incref(json_object_get(ans, "reply"));
        json_decref(ans);
        if (!*reply)
                return err_set(e, EPROTO, "the supervisor's answer has no reply");
        return 0;
}

/* agent/llm.c names the endpoint by its origin in an error (mcp_url_public:
 * libcurl's URL parser, on the host). Inside μVM-1 the supervisor holds the
 * endpoint and sends the request; the planner's URL is not the one used, so
 * the agent names none ("the LLM endpoint"). */
char *mcp_url_public(const char *url)
{
        (void)url;
        return NULL;
}
