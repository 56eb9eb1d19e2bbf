/*
 * solana_rpc_call {method, params?}: one read-only JSON-RPC method, from the
 * allow-list in common.c (the argument check refuses every other method).
 */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *method = tools_arg_str(t, "method");
        if (!tools_rpc_method_allowed(method)) /* checked already; never forward one */
                return tools_fail(t, NULL, "%s is not an allowed method", method);
        struct jv *params = tools_arg(t, "params");
        struct jv *res = tools_rpc(t, method, params ? jv_ref(params) : NULL);
        if (!res)
                return -1;
        char *js = jv_dump(res, JV_COMPACT, NULL);
        int r = tools_ok(t, jv_obj("method", jv_string(method), "result", res, NULL), false,
                         "%s: %s", method, js ? js : "(the result cannot be shown)");
        free(js);
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "solana_rpc_call", run);
}
