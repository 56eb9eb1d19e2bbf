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
        json_t *params = tools_arg(t, "params");
        json_t *res = tools_rpc(t, method, params ? json_incref(params) : NULL);
        if (!res)
                return -1;
        char *js = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
        int r = tools_ok(t, json_pack("{s:s, s:o}", "method", method, "result", res), false,
                         "%s: %s", method, js ? js : "(the result cannot be shown)");
        free(js);
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "solana_rpc_call", run);
}
